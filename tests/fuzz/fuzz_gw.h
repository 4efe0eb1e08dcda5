/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What the fuzz targets share: EAL brought up once (no hugepages, no PCI,
 * in memory), and the test gateway (tests/support/testgw.h), built by the
 * control library as espd builds its own, with offline ports.
 */
#ifndef ESPD_FUZZ_GW_H
#define ESPD_FUZZ_GW_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "tests/support/testgw.h"

/** Bring EAL up (once; aborts on failure). */
void fuzz_eal_init(const char *argv0);

/** testgw_new() that aborts on failure: a harness that cannot start is
 *  a bug. */
struct testgw *fuzz_gw_new(const char *conf, enum crypto_engine_kind kind);

/** Put every SA's sequence numbers, replay window, counters and expiry
 *  flags back where the configuration left them, so each input starts
 *  from the same state. */
void fuzz_gw_reset_sas(struct testgw *g);

/** Abort unless @p pool's in-use count is @p baseline (leak check). */
void fuzz_check_pool(const struct rte_mempool *pool, unsigned int baseline,
		     const char *where);

#endif /* ESPD_FUZZ_GW_H */
