/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fuzz targets' gateway: see fuzz_gw.h. It mirrors gw_prepare +
 * gw_start + gw_publish (control/gateway.c) except that no port is set
 * up: the worker is driven by hand and its TX buffers emptied by
 * fuzz_gw_drain().
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
#include "control/acquire.h"
#include "control/gateway.h"
#include "dataplane/replay.h"
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
	/* Two lcores: gw_prepare wants one worker lcore (never launched). */
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

static struct gw_worker *
worker_new(struct gw_runtime *rt, enum crypto_engine_kind kind, unsigned int id)
{
	struct gw_worker *w = rte_zmalloc("fuzz_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	char name[RTE_RING_NAMESIZE];

	if (w == NULL)
		abort();
	w->lcore_id = 1;
	w->qsbr_id = 0;
	w->shared = &rt->shared;
	w->esp.engine = crypto_engine_create(kind);
	w->tsc_hz = rte_get_tsc_hz();
	snprintf(name, sizeof(name), "fpunt%u", id);
	w->punt = rte_ring_create(name, 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "fev%u", id);
	w->events = rte_ring_create_elem(name, sizeof(struct gw_event), 4096,
					 SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "frel%u", id);
	w->release = rte_ring_create_elem(name, sizeof(struct gw_release_elem), 4096,
					  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->esp.engine == NULL || w->punt == NULL || w->events == NULL ||
	    w->release == NULL)
		abort();
	return w;
}

struct gw_runtime *
fuzz_gw_new(const char *conf, enum crypto_engine_kind kind)
{
	static unsigned int seq;
	struct cfg_load ld = { .errs = stderr };
	struct gw_runtime *rt = calloc(1, sizeof(*rt));
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int p;
	FILE *f;

	if (rt == NULL || gw_prepare(rt, 1024) < 0 || acq_init(rt) < 0)
		abort();
	rt->model.engine = kind; /* before any SA is made */
	f = fmemopen((void *)conf, strlen(conf), "r");
	ld.apply = model_apply;
	ld.arg = &rt->model;
	if (f == NULL || cfg_load_stream(f, "fuzz.conf", &ld) < 0)
		abort();
	fclose(f);
	for (p = 0; p < GW_PORTS_MAX; p++)
		if (rt->model.has_port[p] && rt->model.ports[p].has_mac)
			memcpy(rt->macs[p].addr_bytes, rt->model.ports[p].mac, 6);
	/* No cache: rte_mempool_in_use_count() is then exact. */
	snprintf(name, sizeof(name), "fuzz_mbufs%u", seq);
	rt->pool = rte_pktmbuf_pool_create(name, 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	if (rt->pool == NULL)
		abort();
	rt->workers[0] = worker_new(rt, kind, seq++);
	if (rt->n_workers != 1 || gw_publish(rt) < 0)
		abort();
	return rt;
}

void
fuzz_gw_drain(struct gw_runtime *rt, void (*sent)(uint16_t port, const struct rte_mbuf *m))
{
	struct gw_worker *w = rt->workers[0];
	struct gw_event ev;
	struct gw_release_elem rel;
	void *m;
	uint16_t p, i;

	for (p = 0; p < GW_PORTS_MAX; p++) {
		for (i = 0; i < w->tx[p].n; i++) {
			if (sent != NULL)
				sent(p, w->tx[p].pkts[i]);
			rte_pktmbuf_free(w->tx[p].pkts[i]);
		}
		w->tx[p].n = 0;
	}
	while (rte_ring_dequeue(w->punt, &m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue_elem(w->events, &ev, sizeof(ev)) == 0)
		if (ev.type == GW_EV_MISS)
			rte_pktmbuf_free(ev.m);
	while (rte_ring_dequeue_elem(w->release, &rel, sizeof(rel)) == 0)
		rte_pktmbuf_free(rel.m);
}

void
fuzz_gw_reset_sas(struct gw_runtime *rt)
{
	struct gw_worker *w = rt->workers[0];
	uint32_t i;

	for (i = 0; i < rt->model.n_sas; i++) {
		struct model_sa *s = rt->model.sas[i];
		struct gw_sa *sa = s->gw;

		memset(&sa->esp.stats, 0, sizeof(sa->esp.stats));
		sa->expired = sa->soft_sent = sa->hard_sent = 0;
		sa->esp.exhausted = 0;
		sa->esp.seq = (uint64_t)s->cfg.replay_oseq_hi << 32 | s->cfg.replay_oseq;
		if (sa->esp.replay != NULL)
			replay_window_init(sa->esp.replay, sa->esp.replay->size,
					   (uint64_t)s->cfg.replay_seq_hi << 32 |
					   s->cfg.replay_seq);
	}
	memset(w->spi_seen, 0, sizeof(w->spi_seen));
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
