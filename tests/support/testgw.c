/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test gateway (see testgw.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "config/config.h"
#include "dataplane/frag.h"
#include "tests/support/testgw.h"

struct testgw *
testgw_new(const char *conf, enum crypto_engine_kind kind)
{
	struct cfg_load ld = { .errs = stderr, .apply = model_apply };
	struct testgw *g = calloc(1, sizeof(*g));
	FILE *f;

	if (g == NULL || model_init(&g->model, kind, 1024) < 0) {
		free(g);
		return NULL;
	}
	g->pub.ports_offline = true;
	g->pub.pool_size = 1023;
	g->pub.pool_no_cache = true;
	if (pub_prepare(&g->pub, &g->model, 1024) < 0 ||
	    (g->ev = events_new(&g->pub)) == NULL)
		goto err;
	f = fmemopen((void *)conf, strlen(conf), "r");
	ld.arg = &g->model;
	if (f == NULL)
		goto err;
	if (cfg_load_stream(f, "test.conf", &ld) < 0) {
		fclose(f);
		goto err;
	}
	fclose(f);
	if (pub_start(&g->pub) < 0 || g->pub.n_workers != 1 || pub_publish(&g->pub) < 0)
		goto err;
	return g;

err:
	testgw_free(g);
	return NULL;
}

void
testgw_free(struct testgw *g)
{
	if (g == NULL)
		return;
	events_free(g->ev);
	model_free(&g->model);
	pub_stop(&g->pub);
	free(g);
}

void
testgw_drain(struct testgw *g, void (*sent)(uint16_t port, const struct rte_mbuf *m))
{
	testgw_drain_ctx(g->pub.workers[0], sent);
}

void
testgw_drain_ctx(struct gw_worker *w, void (*sent)(uint16_t port, const struct rte_mbuf *m))
{
	struct gw_event ev;
	struct gw_exc exc;
	uint16_t p, i;

	/* What an asynchronous engine still has goes out first. */
	gw_esp_collect(w, w->shared->tables, true);
	for (p = 0; p < GW_PORTS_MAX; p++) {
		for (i = 0; i < w->tx[p].n; i++) {
			if (sent != NULL)
				sent(p, w->tx[p].pkts[i]);
			rte_pktmbuf_free(w->tx[p].pkts[i]);
		}
		w->tx[p].n = 0;
	}
	while (rte_ring_dequeue_elem(w->exc, &exc, sizeof(exc)) == 0)
		rte_pktmbuf_free(exc.m);
	while (rte_ring_dequeue_elem(w->events, &ev, sizeof(ev)) == 0)
		;
	/* Fragments still waiting for their packet. */
	if (w->frag != NULL)
		(void)frag_in_maintain(w->frag, UINT64_MAX);
}

int
testgw_apply(struct testgw *g, const char *line, struct cfg_error *err)
{
	struct cfg_cmd cmd;
	int rc = cfg_parse_line(line, &cmd, err);

	if (rc == 0)
		rc = model_apply(&g->model, &cmd, "-", 0, err);
	cfg_cmd_clear(&cmd);
	return rc;
}
