/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Shared pieces of the CUnit runner: one registration function per suite
 * (one suite per module, mirroring the tree) and the test mbuf pool.
 */
#ifndef ESPD_TEST_UNIT_H
#define ESPD_TEST_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

struct rte_mempool;

/** Each returns 0, or a CUnit error code when registration failed. */
int test_crypto_register(void);
int test_gcm_x4_register(void);
int test_chacha_x16_register(void);
int test_config_register(void);
int test_replay_register(void);
int test_esp_register(void);
/** The ESP suite again on DPDK cryptodevs (esp-cdev-*); after EAL. */
int test_esp_cdev_register(void);
int test_spd_register(void);
int test_model_register(void);
int test_hmap_register(void);
int test_slab_register(void);
int test_print_register(void);
int test_flowtab_register(void);
int test_events_register(void);
int test_cmd_register(void);
int test_exc_register(void);
int test_icmp_register(void);
int test_nd_register(void);
int test_frag_register(void);
int test_mss_register(void);
int test_stages_register(void);
int test_steer_register(void);

struct testgw;

/** Apply one command line to the test gateway's model; a refusal fails
 *  the test (fatally), its reason on stderr. */
void unit_gw_apply(struct testgw *g, const char *line);

/** Mbuf pool for the tests (EAL is up before any suite runs). */
struct rte_mempool *unit_mbuf_pool(void);

/** Note how many mbufs of unit_mbuf_pool() are in use (a suite's init
 *  does); unit_pool_leaked() is how many more are in use now. */
void unit_pool_mark(void);
int unit_pool_leaked(void);

/** Every mbuf a test took from unit_mbuf_pool() went back. */
#define CHECK_NO_LEAK() CU_ASSERT_EQUAL(unit_pool_leaked(), 0)

/** Hex string ("00ff..", spaces allowed) to bytes. Returns byte count. */
size_t unit_hex(const char *hex, uint8_t *out, size_t max);

/** The next of a reproducible pseudo-random sequence (xorshift64*) whose
 *  state is @p *s (any value but 0 to start). */
uint32_t unit_rnd(uint64_t *s);

/** @p n bytes of unit_rnd(@p s) at @p p. */
void unit_fill(uint64_t *s, uint8_t *p, size_t n);

#endif
