/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports, workers, RCU publishing and the control loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "control/acquire.h"
#include "control/ctl.h"
#include "control/format.h"
#include "control/gateway.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_MBUFS 16383
#define POOL_CACHE 256
#define PUNT_RING 256
#define EVENT_RING 4096
#define RELEASE_RING 4096

static volatile sig_atomic_t stop_requested;
static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_runtime *tel_rt; /* for the telemetry callbacks */

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int
port_setup(struct gw_runtime *rt, uint16_t port, const struct cfg_port *cp)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint16_t q, nb_tx;
	int rc;

	if (!rte_eth_dev_is_valid_port(port)) {
		fprintf(stderr, "espd: port %u: no such DPDK port (%u probed)\n",
			port, rte_eth_dev_count_avail());
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(port, &info);
	if (rc < 0)
		return rc;
	if (cp->queues > info.max_rx_queues) {
		fprintf(stderr, "espd: port %u: %u queues asked, the device offers %u\n",
			port, cp->queues, info.max_rx_queues);
		return -EINVAL;
	}
	if (cp->queues > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP);
	}
	/* One TX queue per sending lcore where the device has them; else
	 * the workers share queues under a lock. */
	nb_tx = (uint16_t)RTE_MIN(rt->n_workers, (unsigned int)info.max_tx_queues);
	if (nb_tx == 0)
		nb_tx = 1;
	rt->nb_txq[port] = nb_tx;
	rt->shared.tx_shared[port] = nb_tx < rt->n_workers;
	rte_spinlock_init(&rt->shared.tx_lock[port]);

	rc = rte_eth_dev_configure(port, cp->queues, nb_tx, &conf);
	if (rc < 0) {
		fprintf(stderr, "espd: port %u: configure: %s\n", port, strerror(-rc));
		return rc;
	}
	if (cp->mtu != 0) {
		rc = rte_eth_dev_set_mtu(port, cp->mtu);
		if (rc < 0)
			fprintf(stderr, "espd: port %u: mtu %u not set: %s\n", port,
				cp->mtu, strerror(-rc));
	}
	for (q = 0; q < cp->queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, RX_DESC,
					    rte_eth_dev_socket_id(port), NULL, rt->pool);
		if (rc < 0) {
			fprintf(stderr, "espd: port %u: rx queue %u: %s\n", port, q,
				strerror(-rc));
			return rc;
		}
	}
	for (q = 0; q < nb_tx; q++) {
		rc = rte_eth_tx_queue_setup(port, q, TX_DESC,
					    rte_eth_dev_socket_id(port), NULL);
		if (rc < 0) {
			fprintf(stderr, "espd: port %u: tx queue %u: %s\n", port, q,
				strerror(-rc));
			return rc;
		}
	}
	if (cp->has_mac) {
		memcpy(rt->macs[port].addr_bytes, cp->mac, RTE_ETHER_ADDR_LEN);
		/* Not every vdev can change its address; ours is what we
		 * write into frames either way. */
		(void)rte_eth_dev_default_mac_addr_set(port, &rt->macs[port]);
	} else {
		rte_eth_macaddr_get(port, &rt->macs[port]);
	}
	rc = rte_eth_dev_start(port);
	if (rc < 0) {
		fprintf(stderr, "espd: port %u: start: %s\n", port, strerror(-rc));
		return rc;
	}
	rt->port_started[port] = true;
	(void)rte_eth_promiscuous_enable(port);
	return 0;
}

static int
workers_setup(struct gw_runtime *rt)
{
	unsigned int lcore, i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct gw_worker *w = rte_zmalloc_socket("gw_worker", sizeof(*w),
							 RTE_CACHE_LINE_SIZE,
							 rte_lcore_to_socket_id(lcore));
		char name[RTE_RING_NAMESIZE];

		if (w == NULL)
			return -ENOMEM;
		rt->workers[i] = w;
		w->lcore_id = lcore;
		w->qsbr_id = i;
		w->shared = &rt->shared;
		w->esp.engine = crypto_engine_create(rt->model.engine);
		if (w->esp.engine == NULL) {
			fprintf(stderr, "espd: lcore %u: crypto engine: %s\n", lcore,
				strerror(errno));
			return -ENOMEM;
		}
		w->tsc_hz = rte_get_tsc_hz();
		snprintf(name, sizeof(name), "punt%u", lcore);
		w->punt = rte_ring_create(name, PUNT_RING, rte_lcore_to_socket_id(lcore),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "ev%u", lcore);
		w->events = rte_ring_create_elem(name, sizeof(struct gw_event), EVENT_RING,
						 rte_lcore_to_socket_id(lcore),
						 RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "rel%u", lcore);
		w->release = rte_ring_create_elem(name, sizeof(struct gw_release_elem),
						  RELEASE_RING, rte_lcore_to_socket_id(lcore),
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->punt == NULL || w->events == NULL || w->release == NULL)
			return -ENOMEM;
		i++;
	}
	return 0;
}

/* Spread (port, queue) pairs round-robin over the workers. */
static int
assign_queues(struct gw_runtime *rt)
{
	unsigned int next = 0, p, i;
	uint16_t q;

	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!rt->model.has_port[p])
			continue;
		for (q = 0; q < rt->model.ports[p].queues; q++) {
			struct gw_worker *w = rt->workers[next++ % rt->n_workers];

			if (w->n_rxq == GW_RXQ_MAX) {
				fprintf(stderr, "espd: more than %u queues on one worker\n",
					GW_RXQ_MAX);
				return -E2BIG;
			}
			w->rxq[w->n_rxq].port = (uint16_t)p;
			w->rxq[w->n_rxq].queue = q;
			w->n_rxq++;
		}
		for (i = 0; i < rt->n_workers; i++)
			rt->workers[i]->txq[p] = (uint16_t)(i % rt->nb_txq[p]);
	}
	return 0;
}

static struct rte_hash *
lf_hash(const char *name, uint32_t entries, uint32_t key_len,
	struct rte_rcu_qsbr *qsbr)
{
	struct rte_hash_parameters prm = {
		.name = name,
		.entries = entries,
		.key_len = key_len,
		/* CRC32 instructions, much cheaper than jhash on the 48-byte
		 * flow key that workers hash for every packet (bench/RESULTS.md,
		 * gateway section). */
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		/* One writer (lcore 0), lock-free readers (workers). */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash_rcu_config rcu = {
		.v = qsbr,
		.mode = RTE_HASH_QSBR_MODE_DQ,
	};
	struct rte_hash *h = rte_hash_create(&prm);

	/* Deleted slots are reused only after every reader moved on. */
	if (h != NULL && rte_hash_rcu_qsbr_add(h, &rcu) != 0) {
		rte_hash_free(h);
		return NULL;
	}
	return h;
}

int
gw_prepare(struct gw_runtime *rt, uint32_t max_sas)
{
	unsigned int n = rte_lcore_count() - 1;
	size_t sz;

	if (n == 0) {
		fprintf(stderr, "espd: no worker lcore: give EAL at least two lcores (-l 0,1)\n");
		return -EINVAL;
	}
	rt->n_workers = n;
	sz = rte_rcu_qsbr_get_memsize(n);
	rt->shared.qsbr = rte_zmalloc("qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (rt->shared.qsbr == NULL || rte_rcu_qsbr_init(rt->shared.qsbr, n) != 0)
		goto err_nomem;
	/* Hashes keep a quarter spare: rte_hash fills its buckets only so
	 * far before an insert fails. */
	rt->shared.sad_in = lf_hash("espd_sad", max_sas + max_sas / 4 + 64,
				    sizeof(uint32_t), rt->shared.qsbr);
	rt->shared.flows = lf_hash("espd_flows", max_sas + max_sas / 4 + 64,
				   sizeof(struct gw_flow_key), rt->shared.qsbr);
	if (rt->shared.sad_in == NULL || rt->shared.flows == NULL)
		goto err_nomem;
	if (model_init(&rt->model, CRYPTO_ENGINE_MB, &rt->shared, max_sas) < 0)
		goto err_nomem;
	return 0;

err_nomem:
	fprintf(stderr, "espd: out of memory for %u SAs (try a smaller --max-sas or more -m)\n",
		max_sas);
	return -ENOMEM;
}

int
gw_start(struct gw_runtime *rt)
{
	unsigned int p;
	int rc;

	rt->pool = rte_pktmbuf_pool_create("espd_mbufs", POOL_MBUFS, POOL_CACHE,
					   0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   (int)rte_socket_id());
	if (rt->pool == NULL) {
		fprintf(stderr, "espd: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = workers_setup(rt);
	if (rc < 0)
		return rc;
	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!rt->model.has_port[p])
			continue;
		rc = port_setup(rt, (uint16_t)p, &rt->model.ports[p]);
		if (rc < 0)
			return rc;
	}
	return assign_queues(rt);
}

int
gw_publish(struct gw_runtime *rt)
{
	struct gw_tables *old, *t;
	int rc;

	t = model_build(&rt->model, rt->shared.tables, rt->macs,
			(int)rte_socket_id(), &rc);
	if (t == NULL) {
		fprintf(stderr, "espd: building tables: %s\n", strerror(-rc));
		return rc;
	}
	rt->model.dirty = 0;
	old = __atomic_exchange_n(&rt->shared.tables, t, __ATOMIC_RELEASE);
	if (old != NULL) {
		/* Every worker has passed a quiescent point since the
		 * store: nobody can hold the old pointer any more. */
		rte_rcu_qsbr_synchronize(rt->shared.qsbr, RTE_QSBR_THRID_INVALID);
		gw_tables_free(old);
	}
	return 0;
}

static uint64_t
total_rx(const struct gw_runtime *rt)
{
	uint64_t sum = 0;
	unsigned int i, p;

	for (i = 0; i < rt->n_workers; i++)
		for (p = 0; p < GW_PORTS_MAX; p++)
			sum += rt->workers[i]->port[p].rx;
	return sum;
}

static void
drain_release(struct gw_runtime *rt)
{
	struct gw_release_elem r[32];
	unsigned int i, n, j;

	for (i = 0; i < rt->n_workers; i++) {
		while ((n = rte_ring_dequeue_burst_elem(rt->workers[i]->release, r,
							sizeof(r[0]), 32, NULL)) > 0) {
			for (j = 0; j < n; j++)
				rte_pktmbuf_free(r[j].m);
			rt->ctl_cnt.c[CNT_AcquireHeldDropped] += n;
		}
	}
}

static void
drain_punts(struct gw_runtime *rt)
{
	struct rte_mbuf *m[32];
	unsigned int i, n, j;

	/* IKE belongs to a key manager; until the control socket can hand
	 * it over, the packets are counted (IkePunted) and released here. */
	for (i = 0; i < rt->n_workers; i++) {
		while ((n = rte_ring_dequeue_burst(rt->workers[i]->punt,
						   (void **)m, 32, NULL)) > 0)
			for (j = 0; j < n; j++)
				rte_pktmbuf_free(m[j]);
	}
}

void
gw_counters(const struct gw_runtime *rt, uint64_t out[CNT__MAX])
{
	unsigned int i, c;

	for (c = 0; c < CNT__MAX; c++)
		out[c] = rt->ctl_cnt.c[c] - rt->base.c[c];
	for (i = 0; i < rt->n_workers; i++)
		if (rt->workers[i] != NULL)
			for (c = 0; c < CNT__MAX; c++)
				out[c] += rt->workers[i]->cnt.c[c];
}

static void
port_raw(const struct gw_runtime *rt, unsigned int p, struct gw_port_stats *s)
{
	struct rte_eth_stats es;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < rt->n_workers; i++) {
		if (rt->workers[i] == NULL)
			continue;
		s->rx += rt->workers[i]->port[p].rx;
		s->tx += rt->workers[i]->port[p].tx;
		s->drop += rt->workers[i]->port[p].drop;
	}
	if (rt->port_started[p] && rte_eth_stats_get((uint16_t)p, &es) == 0)
		s->drop += es.imissed + es.rx_nombuf;
}

void
gw_port_counters(const struct gw_runtime *rt, unsigned int p, struct gw_port_stats *s)
{
	port_raw(rt, p, s);
	s->rx -= rt->port_base[p].rx;
	s->tx -= rt->port_base[p].tx;
	s->drop -= rt->port_base[p].drop;
}

void
gw_counters_reset(struct gw_runtime *rt)
{
	uint64_t now[CNT__MAX];
	unsigned int c, p;
	uint32_t i;

	/* Workers own their counters: instead of writing into them, the
	 * totals so far become the baseline that reads subtract. */
	gw_counters(rt, now);
	for (c = 0; c < CNT__MAX; c++)
		rt->base.c[c] += now[c];
	for (p = 0; p < GW_PORTS_MAX; p++)
		port_raw(rt, p, &rt->port_base[p]);
	for (i = 0; i < rt->model.n_sas; i++)
		rt->model.sas[i]->base = rt->model.sas[i]->gw->esp.stats;
}

/* The "last sequence number" of an SA: sent (out) or highest seen (in). */
static uint64_t
sa_seq(const struct gw_sa *sa)
{
	if (sa->esp.dir == ESP_DIR_OUT)
		return esp_sa_last_seq(&sa->esp);
	return sa->esp.replay != NULL ? sa->esp.replay->top : 0;
}

/* Telemetry runs on its own thread: take the model lock, and return the
 * runtime (lock held) or NULL (lock released) once espd is stopping. */
static struct gw_runtime *
tel_enter(void)
{
	pthread_mutex_lock(&model_lock);
	if (tel_rt == NULL)
		pthread_mutex_unlock(&model_lock);
	return tel_rt;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t c[CNT__MAX];
	unsigned int i;

	(void)cmd;
	(void)params;
	if (tel_enter() == NULL)
		return -1;
	gw_counters(tel_rt, c);
	pthread_mutex_unlock(&model_lock);
	rte_tel_data_start_dict(d);
	for (i = 0; i < CNT__MAX; i++)
		rte_tel_data_add_dict_u64(d, espd_counter_name(i), c[i]);
	return 0;
}

static int
tel_sa_list(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct gw_model *m;
	uint32_t i;

	(void)cmd;
	(void)params;
	if (tel_enter() == NULL)
		return -1;
	m = &tel_rt->model;
	rte_tel_data_start_dict(d);
	/* A telemetry reply holds a bounded number of entries. */
	for (i = 0; i < m->n_sas && i < 256; i++) {
		const struct gw_sa *sa = m->sas[i]->gw;
		struct esp_sa_stats st = model_sa_stats(m->sas[i]);
		struct rte_tel_data *s = rte_tel_data_alloc();
		char spi[16];

		if (s == NULL)
			break;
		rte_tel_data_start_dict(s);
		rte_tel_data_add_dict_string(s, "dir", sa->esp.dir == ESP_DIR_OUT ? "out" : "in");
		rte_tel_data_add_dict_u64(s, "packets", st.packets);
		rte_tel_data_add_dict_u64(s, "bytes", st.bytes);
		rte_tel_data_add_dict_u64(s, "replay_drops", st.replay_drops);
		rte_tel_data_add_dict_u64(s, "icv_failures", st.icv_failures);
		rte_tel_data_add_dict_u64(s, "seq", sa_seq(sa));
		snprintf(spi, sizeof(spi), "0x%08x", m->sas[i]->cfg.spi);
		if (rte_tel_data_add_dict_container(d, spi, s, 0) != 0)
			rte_tel_data_free(s);
	}
	pthread_mutex_unlock(&model_lock);
	return 0;
}

void
gw_run(struct gw_runtime *rt)
{
	uint64_t last_rx = 0, idle_since;
	unsigned int i;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tel_rt = rt;
	rte_telemetry_register_cmd("/espd/stats", tel_stats,
				   "espd's global counters. Takes no parameters");
	rte_telemetry_register_cmd("/espd/sa/list", tel_sa_list,
				   "espd's SAs with their counters. Takes no parameters");

	for (i = 0; i < rt->n_workers; i++)
		rte_eal_remote_launch(gw_worker_main, rt->workers[i],
				      rt->workers[i]->lcore_id);

	idle_since = rte_get_timer_cycles();
	while (!stop_requested) {
		struct timespec ts = { 0, 1000 * 1000 };
		uint64_t rx, now;
		unsigned int work;

		/* The telemetry thread reads the model: change it only under
		 * the lock (workers never take it). */
		pthread_mutex_lock(&model_lock);
		drain_punts(rt);
		work = acq_poll(rt);
		work += ctl_poll(rt);
		pthread_mutex_unlock(&model_lock);
		/* Sleep only when idle: a key manager streaming requests or a
		 * burst of ACQUIREs keeps lcore 0 running. */
		if (work == 0)
			nanosleep(&ts, NULL);
		if (rt->exit_idle_ms <= 0)
			continue;
		rx = total_rx(rt);
		now = rte_get_timer_cycles();
		if (rx != last_rx) {
			last_rx = rx;
			idle_since = now;
		} else if ((now - idle_since) * 1000 / rte_get_timer_hz() >=
			   (uint64_t)rt->exit_idle_ms) {
			break;
		}
	}
	rt->shared.stop = true;
	rte_eal_mp_wait_lcore();
	drain_punts(rt);
	/* Held packets die with the gateway, counted (AcquireHeldDropped);
	 * so do released ones a stopped worker never sent. */
	acq_poll(rt);
	acq_fini(rt);
	drain_release(rt);
	pthread_mutex_lock(&model_lock);
	tel_rt = NULL;
	pthread_mutex_unlock(&model_lock);
}

void
gw_stats_format(const struct gw_runtime *rt, struct sbuf *b, bool json)
{
	const struct gw_model *m = &rt->model;
	uint64_t c[CNT__MAX];
	unsigned int i, p, first = 1;

	gw_counters(rt, c);
	if (!json) {
		for (i = 0; i < CNT__MAX; i++)
			sb_printf(b, "%-24s %" PRIu64 "\n", espd_counter_name(i), c[i]);
		for (p = 0; p < GW_PORTS_MAX; p++) {
			struct gw_port_stats s;

			if (!m->has_port[p])
				continue;
			gw_port_counters(rt, p, &s);
			sb_printf(b, "port %u rx %" PRIu64 " tx %" PRIu64 " drop %" PRIu64 "\n",
				  p, s.rx, s.tx, s.drop);
		}
		if (rt->pool != NULL)
			sb_printf(b, "mbufs in use %u of %u\n",
				  rte_mempool_in_use_count(rt->pool), rt->pool->size);
		for (i = 0; i < m->n_sas; i++) {
			struct esp_sa_stats st = model_sa_stats(m->sas[i]);

			sb_printf(b, "sa 0x%08x %s packets %" PRIu64 " bytes %" PRIu64
				  " replay_drops %" PRIu64 " icv_failures %" PRIu64 " seq %" PRIu64 "\n",
				  m->sas[i]->cfg.spi, m->sas[i]->dir == ESP_DIR_OUT ? "out" : "in",
				  st.packets, st.bytes, st.replay_drops, st.icv_failures,
				  sa_seq(m->sas[i]->gw));
		}
		return;
	}
	sb_printf(b, "{\"global\":{");
	for (i = 0; i < CNT__MAX; i++)
		sb_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", espd_counter_name(i), c[i]);
	sb_printf(b, "},\n\"ports\":[");
	for (p = 0; p < GW_PORTS_MAX; p++) {
		struct gw_port_stats s;

		if (!m->has_port[p])
			continue;
		gw_port_counters(rt, p, &s);
		sb_printf(b, "%s{\"id\":%u,\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
			  ",\"drop\":%" PRIu64 "}", first ? "" : ",", p, s.rx, s.tx, s.drop);
		first = 0;
	}
	sb_printf(b, "],\n\"mempool\":{\"size\":%u,\"in_use\":%u},\"acquire_pending\":%u",
		  rt->pool ? rt->pool->size : 0,
		  rt->pool ? rte_mempool_in_use_count(rt->pool) : 0, acq_pending(rt));
	sb_printf(b, ",\n\"sas\":[");
	for (i = 0; i < m->n_sas; i++) {
		const struct gw_sa *sa = m->sas[i]->gw;
		struct esp_sa_stats st = model_sa_stats(m->sas[i]);

		sb_printf(b, "%s\n{\"spi\":\"0x%08x\",\"dir\":\"%s\",\"packets\":%" PRIu64
			  ",\"bytes\":%" PRIu64 ",\"replay_drops\":%" PRIu64
			  ",\"icv_failures\":%" PRIu64 ",\"seq\":%" PRIu64 "}",
			  i ? "," : "", m->sas[i]->cfg.spi,
			  sa->esp.dir == ESP_DIR_OUT ? "out" : "in",
			  st.packets, st.bytes, st.replay_drops, st.icv_failures, sa_seq(sa));
	}
	sb_printf(b, "]}\n");
}

void
gw_stats_json(const struct gw_runtime *rt, FILE *f)
{
	struct sbuf b = { 0 };

	gw_stats_format(rt, &b, true);
	if (b.p != NULL)
		fwrite(b.p, 1, b.len, f);
	sb_free(&b);
}

void
gw_stop(struct gw_runtime *rt)
{
	unsigned int p, i;

	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!rt->port_started[p])
			continue;
		rte_eth_dev_stop((uint16_t)p);
		rte_eth_dev_close((uint16_t)p);
		rt->port_started[p] = false;
	}
	gw_tables_free(rt->shared.tables);
	rt->shared.tables = NULL;
	model_free(&rt->model);
	for (i = 0; i < rt->n_workers; i++) {
		struct gw_worker *w = rt->workers[i];

		if (w == NULL)
			continue;
		crypto_engine_free(w->esp.engine);
		rte_ring_free(w->punt);
		rte_ring_free(w->events);
		rte_ring_free(w->release);
		rte_free(w);
		rt->workers[i] = NULL;
	}
	rt->n_workers = 0;
	rte_hash_free(rt->shared.sad_in);
	rte_hash_free(rt->shared.flows);
	rte_free(rt->shared.qsbr);
	rte_mempool_free(rt->pool);
}
