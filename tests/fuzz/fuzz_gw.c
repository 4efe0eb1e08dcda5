/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fuzz targets' side of the test gateway (tests/support/testgw.c):
 * EAL with LeakSanitizer roots, and a reset between inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/lsan_interface.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_ring.h>

#include "config/config.h"
#include "dataplane/replay.h"
#include "dataplane/worker.h"
#include "tests/fuzz/fuzz_gw.h"

/*
 * LeakSanitizer does not scan DPDK's memory (mmap'd by EAL, not malloc'd),
 * so a malloc'd block whose only pointer lives in an rte_malloc'd struct
 * (the gw_tables' arrays, a worker's crypto engine) would look leaked.
 * Make DPDK's memory a root region instead: what it points to is live.
 */
static int
lsan_root(const struct rte_memseg_list *msl, const struct rte_memseg *ms, size_t len,
	  void *arg)
{
	(void)msl;
	(void)arg;
	__lsan_register_root_region(ms->addr, len);
	return 0;
}

void
fuzz_eal_init(const char *argv0)
{
	static int done;

	const char *pfx = getenv("FUZZ_EAL_PREFIX");
	char prefix[128];

	if (done)
		return;
	done = 1;
	/* --in-memory cannot go with --no-huge; a file prefix of our own
	 * keeps parallel runs apart (scripts/t_fuzz.sh removes its
	 * runtime directory afterwards). */
	if (pfx != NULL)
		snprintf(prefix, sizeof(prefix), "--file-prefix=%s", pfx);
	else
		snprintf(prefix, sizeof(prefix), "--file-prefix=fuzz%d", (int)getpid());
	/* Two lcores: pub_prepare wants one worker lcore (never launched). */
	char *eal_argv[] = { (char *)argv0, "--no-huge", "--no-pci", prefix,
			     "-l", "0,1", "-m", "256", "--no-telemetry",
			     "--log-level=*:error",
			     NULL };
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1,
			 eal_argv) < 0) {
		fprintf(stderr, "fuzz: rte_eal_init: %s\n", rte_strerror(rte_errno));
		abort();
	}
	rte_memseg_contig_walk(lsan_root, NULL);
}

struct testgw *
fuzz_gw_new(const char *conf, enum crypto_engine_kind kind)
{
	struct testgw *g = testgw_new(conf, kind);

	if (g == NULL)
		abort();
	return g;
}

void
fuzz_gw_reset_sas(struct testgw *g)
{
	struct gw_worker *w = g->pub.workers[0];
	uint32_t i;

	for (i = 0; i < g->model.n_sas; i++) {
		struct model_sa *s = g->model.sas[i];
		struct gw_sa *sa = s->dp;
		struct cfg_state c;

		model_sa_state(s, &c);
		memset(&sa->esp.stats, 0, sizeof(sa->esp.stats));
		sa->expired = sa->soft_sent = sa->hard_sent = 0;
		sa->esp.exhausted = 0;
		sa->esp.seq = (uint64_t)c.replay_oseq_hi << 32 | c.replay_oseq;
		if (sa->esp.replay != NULL)
			replay_window_init(sa->esp.replay, sa->esp.replay->size,
					   (uint64_t)c.replay_seq_hi << 32 | c.replay_seq);
		explicit_bzero(&c, sizeof(c));
	}
	memset(&w->spi_seen, 0, sizeof(w->spi_seen));
}

void
fuzz_check_pool(const struct rte_mempool *pool, unsigned int baseline, const char *where)
{
	unsigned int now = rte_mempool_in_use_count(pool);

	if (now != baseline) {
		fprintf(stderr, "fuzz: mbuf leak after %s: %u in use, %u before\n", where,
			now, baseline);
		abort();
	}
}
