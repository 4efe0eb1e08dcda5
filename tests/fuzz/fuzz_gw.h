/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What the fuzz targets share: EAL brought up once (no hugepages, no PCI,
 * in memory), and a minimal gateway runtime built the way espd builds one
 * (gw_prepare, acq_init, the configuration through model_apply, then
 * gw_publish), but with no DPDK port started: one worker that the target
 * drives by hand through gw_inbound/gw_outbound, and a mempool without a
 * cache so that its in-use count is exact (the leak check).
 */
#ifndef ESPD_FUZZ_GW_H
#define ESPD_FUZZ_GW_H

#include <stdint.h>

#include "control/gateway.h"
#include "crypto/crypto.h"

/** Bring EAL up (once; aborts on failure). */
void fuzz_eal_init(const char *argv0);

/**
 * A runtime configured by @p conf (config-file text), with SAs on crypto
 * engine @p kind, one worker (rt->workers[0]) and rt->pool. Tables are
 * published. Aborts on any failure: a harness that cannot start is a bug.
 */
struct gw_runtime *fuzz_gw_new(const char *conf, enum crypto_engine_kind kind);

/**
 * Take back every mbuf the worker still holds after a burst: buffered TX
 * (each one handed to @p sent, if not NULL, before it is freed), IKE punts,
 * held packets in MISS events. Other events are dropped.
 */
void fuzz_gw_drain(struct gw_runtime *rt,
		   void (*sent)(uint16_t port, const struct rte_mbuf *m));

/** Put every SA's sequence numbers, replay window, counters and expiry
 *  flags back where the configuration left them, so each input starts
 *  from the same state. */
void fuzz_gw_reset_sas(struct gw_runtime *rt);

/** Abort unless @p pool's in-use count is @p baseline (leak check). */
void fuzz_check_pool(const struct rte_mempool *pool, unsigned int baseline,
		     const char *where);

#endif /* ESPD_FUZZ_GW_H */
