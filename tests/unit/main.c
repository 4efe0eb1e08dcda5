/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit runner for every module's suite. EAL is brought up once, without
 * hugepages, PCI or ports, so suites can use real mbufs and mempools.
 *
 *   test_unit [-s SUITE]    run everything, or one suite by name
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "config/config.h"
#include "tests/support/testgw.h"
#include "unit.h"

static struct rte_mempool *pool;

struct rte_mempool *
unit_mbuf_pool(void)
{
	return pool;
}

static unsigned int pool_mark;

void
unit_pool_mark(void)
{
	pool_mark = rte_mempool_in_use_count(pool);
}

int
unit_pool_leaked(void)
{
	return (int)rte_mempool_in_use_count(pool) - (int)pool_mark;
}

void
unit_gw_apply(struct testgw *g, const char *line)
{
	struct cfg_error err = { 0 };
	int rc = testgw_apply(g, line, &err);

	if (rc != 0)
		fprintf(stderr, "\n  '%s': %s\n", line, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

uint32_t
unit_rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

void
unit_fill(uint64_t *s, uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)unit_rnd(s);
}

size_t
unit_hex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex != '\0'; hex++) {
		int v;

		if (isspace((unsigned char)*hex))
			continue;
		if (!isxdigit((unsigned char)*hex))
			abort();
		v = isdigit((unsigned char)*hex) ? *hex - '0' :
			tolower((unsigned char)*hex) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == max)
			abort();
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		abort();
	return n;
}

int
main(int argc, char **argv)
{
	char prefix[64];
	const char *only = NULL;
	unsigned int failed;
	int opt;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt == 's')
			only = optarg;
		else {
			fprintf(stderr, "usage: %s [-s SUITE]\n", argv[0]);
			return 2;
		}
	}

	snprintf(prefix, sizeof(prefix), "--file-prefix=unit%d", (int)getpid());
	/* Two lcores: the events and commands suites build a gateway,
	 * which wants a worker lcore (never launched). */
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "-l", "0,1",
			     "-m", "512", prefix, "--log-level=lib.eal:error",
			     "--no-telemetry", NULL };
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1,
			 eal_argv) < 0) {
		fprintf(stderr, "test_unit: rte_eal_init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("unit", 1023, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "test_unit: mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (test_crypto_register() || test_gcm_x4_register() || test_chacha_x16_register() || test_config_register() ||
	    test_replay_register() || test_esp_register() ||
	    test_spd_register() || test_hmap_register() ||
	    test_slab_register() || test_print_register() || test_flowtab_register() ||
	    test_model_register() ||
	    test_icmp_register() || test_nd_register() ||
	    test_frag_register() || test_mss_register() ||
	    test_steer_register() ||
	    test_events_register() || test_cmd_register() ||
	    test_exc_register() || test_stages_register() ||
	    test_esp_cdev_register()) {
		fprintf(stderr, "test_unit: %s\n", CU_get_error_msg());
		return 1;
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (only != NULL) {
		CU_pSuite s = CU_get_suite(only);

		if (s == NULL) {
			fprintf(stderr, "test_unit: no suite '%s'\n", only);
			return 2;
		}
		CU_basic_run_suite(s);
	} else {
		CU_basic_run_tests();
	}
	/* Every failure record: failed assertions, and suites whose init or
	 * cleanup failed (a suite that never ran, or one that left a
	 * session behind), which CUnit counts in neither of the others. */
	failed = CU_get_number_of_failure_records();
	CU_cleanup_registry();
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return failed ? 1 : 0;
}
