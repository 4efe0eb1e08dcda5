/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A gateway for tests and fuzzers, built by the control library exactly
 * as espd builds one (model_init, pub_prepare, events_new, the
 * configuration through model_apply, pub_start, pub_publish), except that
 * its ports are offline (no ethdev): one worker (never launched) that the
 * caller drives by hand through gw_inbound/gw_outbound, and a mempool
 * without a cache so that its in-use count is exact (leak checks).
 *
 * EAL must be up with at least two lcores (pub_prepare wants a worker).
 */
#ifndef ESPD_TESTGW_H
#define ESPD_TESTGW_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "control/events.h"
#include "control/model.h"
#include "control/publish.h"
#include "crypto/crypto.h"

struct testgw {
	struct gw_model model;
	struct pub pub;
	struct events *ev;
};

/**
 * A gateway configured by @p conf (config-file text), with SAs on crypto
 * engine @p kind. @return NULL (reason on stderr) on failure.
 */
struct testgw *testgw_new(const char *conf, enum crypto_engine_kind kind);

/** Everything freed, as espd stops (held packets dropped and counted). */
void testgw_free(struct testgw *g);

/**
 * Take back every mbuf the worker still holds after a burst: buffered TX
 * (each one handed to @p sent, if not NULL, before it is freed), what it
 * handed to the exception path, and fragments waiting for their packet;
 * events are dropped. The packets it holds for ACQUIRE stay held (the
 * events layer drops them at events_free()).
 */
void testgw_drain(struct testgw *g, void (*sent)(uint16_t port, const struct rte_mbuf *m));

struct gw_worker;

/** The same for any worker context @p w (lcore 0's: g->pub.w0). */
void testgw_drain_ctx(struct gw_worker *w,
		      void (*sent)(uint16_t port, const struct rte_mbuf *m));

struct cfg_error;

/** One command line (config grammar) applied to @p g's model, as the
 *  socket applies it. @return 0, or non-zero with the reason in @p err. */
int testgw_apply(struct testgw *g, const char *line, struct cfg_error *err);

#endif /* ESPD_TESTGW_H */
