/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports, the mbuf pool and the workers: what pub_start() brings up from
 * the model's `port` lines and the EAL's lcores.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "control/publish.h"
#include "control/xdp.h"
#include "dataplane/frag.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_MBUFS 16383
#define POOL_CACHE 256
#define EXC_RING 1024
#define BIG_MBUFS 127           /* reassembled packets beyond one mbuf */
#define BIG_DATAROOM UINT16_MAX /* the most an mbuf can hold */
#define FRAG_FLOWS 4096         /* packets in reassembly per worker, at most */
#define FRAG_TTL_MS 2000        /* ... each for at most this long */
#define EVENT_RING 4096
/* Room for a release or drop of every key a worker can hold at once
 * (lcore 0 answers a burst of ACQUIREs faster than the worker empties
 * the ring; a lost release waited for the worker's slow scan). */
#define CMD_RING (2 * GW_HOLD_KEYS)
#define HANDOFF_RING 2048

/* Configure @p port, set its queues up and start it (port_setup()). */
static int
port_bring_up(struct pub *p, uint16_t port, const struct cfg_port *cp,
	      const struct rte_eth_dev_info *info, bool rx_intr)
{
	struct rte_eth_conf conf = { 0 };
	uint16_t q, nb_tx;
	int rc;

	if (cp->queues > 1 && info->flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info->flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP);
	}
	conf.intr_conf.rxq = rx_intr;
	/* The NIC's IPv4 header check, where it has one (ip4_cksum_bad()). */
	conf.rxmode.offloads |= info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	/* One TX queue per sending lcore (the workers and lcore 0's
	 * exception path) where the device has them; else they share
	 * queues under a lock. net_tap wants as many TX queues as RX. */
	nb_tx = (uint16_t)RTE_MIN(p->n_workers + 1, (unsigned int)info->max_tx_queues);
	if (strcmp(info->driver_name, "net_tap") == 0)
		nb_tx = cp->queues;
	if (nb_tx == 0)
		nb_tx = 1;
	p->nb_txq[port] = nb_tx;
	p->shared.tx_shared[port] = nb_tx < p->n_workers + 1;
	rte_spinlock_init(&p->shared.tx_lock[port]);

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
	/* Before the queues: net_af_xdp makes its sockets there, and
	 * libxdp puts them into the XSK map of the program it finds. */
	if (cp->xdp_steer) {
		rc = xdp_port_attach(p, port, cp, p->xdp_obj);
		if (rc < 0)
			return rc;
	}
	for (q = 0; q < cp->queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, RX_DESC,
					    rte_eth_dev_socket_id(port), NULL, p->pool);
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
		memcpy(p->macs[port].addr_bytes, cp->mac, RTE_ETHER_ADDR_LEN);
		/* Not every vdev can change its address; ours is what we
		 * write into frames either way. */
		(void)rte_eth_dev_default_mac_addr_set(port, &p->macs[port]);
	} else {
		rte_eth_macaddr_get(port, &p->macs[port]);
	}
	rc = rte_eth_dev_start(port);
	if (rc < 0) {
		fprintf(stderr, "espd: port %u: start: %s\n", port, strerror(-rc));
		return rc;
	}
	p->port_started[port] = true;
	(void)rte_eth_promiscuous_enable(port);
	return 0;
}

/* Has every RX queue of @p port an interrupt a worker can wait on? The
 * ethdev and EAL log an error for each "no" (net_af_packet, net_pcap and
 * net_ring have none), which is not one here: they are hushed. */
static bool
port_rx_intr(uint16_t port, uint16_t queues)
{
	uint32_t level = rte_log_get_global_level();
	bool all = true;
	uint16_t q;

	rte_log_set_global_level(RTE_LOG_EMERG);
	for (q = 0; q < queues && all; q++)
		all = rte_eth_dev_rx_intr_ctl_q_get_fd(port, q) >= 0;
	rte_log_set_global_level(level);
	return all;
}

/*
 * Bring @p port up. With `set worker-idle adaptive` in the configuration
 * it asks for RX queue interrupts, so idle workers sleep until a packet
 * comes (worker.c, idle()); a device that refuses them is brought up
 * again without. Not on `xdp-steer` ports: net_af_xdp has none, and its
 * sockets are made once.
 */
static int
port_setup(struct pub *p, uint16_t port, const struct cfg_port *cp)
{
	bool rx_intr = p->model->worker_idle == CFG_IDLE_ADAPTIVE && !cp->xdp_steer;
	struct rte_eth_dev_info info;
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
	rc = port_bring_up(p, port, cp, &info, rx_intr);
	if (rc < 0 && rx_intr) {
		fprintf(stderr, "espd: port %u: again without RX queue interrupts\n", port);
		rx_intr = false;
		rc = port_bring_up(p, port, cp, &info, false);
	}
	if (rc < 0)
		return rc;
	p->shared.rx_intr[port] = rx_intr && port_rx_intr(port, cp->queues);
	return 0;
}

/* A worker context for @p lcore: its crypto engine and its rings to and
 * from the control plane. */
/*
 * Packets a worker may hold in reassembly. Each pins up to
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG - 1 mbufs of the RX pool for FRAG_TTL_MS,
 * and anyone can send fragments to the gateway's addresses: together the
 * contexts pin at most a quarter of the pool, and fragments past that
 * are refused (ReassemblyFailed) rather than starving every RX ring.
 */
static uint32_t
frag_flows(const struct pub *p)
{
	uint32_t n = p->pool_size /
		     (4u * (p->n_workers + 1u) * (RTE_LIBRTE_IP_FRAG_MAX_FRAG - 1u));

	return RTE_MAX(RTE_MIN(n, (uint32_t)FRAG_FLOWS), 16u);
}

static struct gw_worker *
worker_new(struct pub *p, unsigned int lcore, unsigned int id)
{
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct gw_worker *w = rte_zmalloc_socket("gw_worker", sizeof(*w),
						 RTE_CACHE_LINE_SIZE, socket);
	char name[RTE_RING_NAMESIZE];
	bool async;

	if (w == NULL)
		return NULL;
	w->lcore_id = lcore;
	w->qsbr_id = id;
	w->wake.fd = -1;
	w->shared = &p->shared;
	w->tsc_hz = rte_get_tsc_hz();
	w->pool = p->pool;
	w->big_pool = p->big_pool;
	w->frag = frag_in_create(frag_flows(p), FRAG_TTL_MS, socket);
	w->esp.engine = crypto_engine_create(p->model->engine);
	w->esp.ip_id = (uint16_t)rte_rand();
	w->frag6_id = (uint32_t)rte_rand();
	/* On a cryptodev a worker submits and collects later (DESIGN.md
	 * "Workers and crypto engines"); lcore 0's own few packets, and
	 * the inline engines, stay synchronous. */
	async = p->model->engine == CRYPTO_ENGINE_CDEV && id < p->n_workers;
	if (async)
		(void)esp_ctx_async_init(&w->esp, ESP_PENDING_MAX, socket);
	snprintf(name, sizeof(name), "exc%u_%u", p->seq, id);
	w->exc = rte_ring_create_elem(name, sizeof(struct gw_exc), EXC_RING, socket,
				      RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "ev%u_%u", p->seq, id);
	w->events = rte_ring_create_elem(name, sizeof(struct gw_event), EVENT_RING,
					 socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "cmd%u_%u", p->seq, id);
	w->cmd = rte_ring_create_elem(name, sizeof(struct gw_hold_cmd), CMD_RING, socket,
				      RING_F_SP_ENQ | RING_F_SC_DEQ);
	w->hold = gw_hold_new(socket);
	snprintf(name, sizeof(name), "hof%u_%u", p->seq, id);
	/* Many producers (any lcore), one consumer (the owner). */
	w->handoff = rte_ring_create_elem(name, sizeof(struct gw_handoff), HANDOFF_RING,
					  socket, RING_F_SC_DEQ);
	if (id < RTE_DIM(p->shared.handoff))
		p->shared.handoff[id] = w->handoff;
	/* A worker waiting on RX queue interrupts wakes for handoffs too. */
	if (id < p->n_workers && id < RTE_DIM(p->shared.wake)) {
		w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->wake.fd >= 0)
			p->shared.wake[id] = &w->wake;
	}
	if (w->esp.engine == NULL)
		fprintf(stderr, "espd: lcore %u: crypto engine: %s\n", lcore, strerror(errno));
	if (w->esp.engine == NULL || (async && w->esp.async == NULL) ||
	    w->exc == NULL || w->events == NULL ||
	    w->cmd == NULL || w->hold == NULL || w->handoff == NULL || w->frag == NULL) {
		pub_worker_free(w);
		return NULL;
	}
	return w;
}

void
pub_worker_free(struct gw_worker *w)
{
	if (w == NULL)
		return;
	esp_ctx_async_free(&w->esp);
	crypto_engine_free(w->esp.engine);
	frag_in_free(w->frag);
	rte_ring_free(w->exc);
	rte_ring_free(w->events);
	rte_ring_free(w->cmd);
	rte_ring_free(w->handoff);
	gw_hold_free(w->hold);
	if (w->wake.fd >= 0)
		close(w->wake.fd);
	rte_free(w);
}

static int
workers_setup(struct pub *p)
{
	unsigned int lcore, i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		p->workers[i] = worker_new(p, lcore, i);
		if (p->workers[i] == NULL)
			return -ENOMEM;
		i++;
	}
	p->shared.n_workers = (uint16_t)p->n_workers;
	/* lcore 0's context: never registered with RCU, since lcore 0 is
	 * the one that retires what workers read. */
	p->w0 = worker_new(p, rte_get_main_lcore(), p->n_workers);
	return p->w0 != NULL ? 0 : -ENOMEM;
}

/* Spread (port, queue) pairs round-robin over the workers. */
static int
assign_queues(struct pub *p)
{
	const struct gw_model *m = p->model;
	unsigned int next = 0, port, i;
	uint16_t q;

	for (port = 0; port < GW_PORTS_MAX; port++) {
		if (!m->has_port[port])
			continue;
		for (q = 0; q < m->ports[port].queues; q++) {
			struct gw_worker *w = p->workers[next++ % p->n_workers];

			if (w->n_rxq == GW_RXQ_MAX) {
				fprintf(stderr, "espd: more than %u queues on one worker\n",
					GW_RXQ_MAX);
				return -E2BIG;
			}
			w->rxq[w->n_rxq].port = (uint16_t)port;
			w->rxq[w->n_rxq].queue = q;
			w->n_rxq++;
		}
		for (i = 0; i < pub_n_contexts(p); i++)
			pub_context(p, i)->txq[port] = (uint16_t)(i % p->nb_txq[port]);
	}
	return 0;
}

int
pub_start(struct pub *p)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int port;
	int rc;

	_Static_assert(GW_PORTS_MAX == CFG_PORTS_MAX, "one port numbering for both");
	/* By default, room too for what each worker may have pending in a
	 * cryptodev (esp_async.c), so a slow device cannot starve RX. */
	if (p->pool_size == 0)
		p->pool_size = POOL_MBUFS + (p->model->engine == CRYPTO_ENGINE_CDEV ?
					     p->n_workers * ESP_PENDING_MAX : 0);
	snprintf(name, sizeof(name), "espd_mbufs%u", p->seq);
	p->pool = rte_pktmbuf_pool_create(name, p->pool_size, p->pool_no_cache ? 0 : POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (p->pool == NULL) {
		fprintf(stderr, "espd: mbuf pool of %u: %s (try a smaller --mbufs or more memory)\n",
			p->pool_size, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "espd_big%u", p->seq);
	p->big_pool = rte_pktmbuf_pool_create(name, BIG_MBUFS, 0, 0, BIG_DATAROOM,
					      (int)rte_socket_id());
	if (p->big_pool == NULL) {
		fprintf(stderr, "espd: mbuf pool for reassembly: %s\n", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* Held packets (ACQUIRE) of all workers together: at most half the
	 * pool (a burst of 8000 new flows of two packets each, answered by a
	 * key manager that lags, holds about 5000); anyone behind a pfp
	 * policy can start flows, and RX keeps the rest, less what the
	 * reassembly tables (a quarter, frag_flows()) and the neighbour
	 * queues (an eighth) may pin. */
	p->shared.hold_cap = RTE_MIN(p->pool_size / (2u * RTE_MAX(p->n_workers, 1u)),
				     (uint32_t)GW_HOLD_PKTS);
	rc = workers_setup(p);
	if (rc < 0)
		return rc;
	for (port = 0; port < GW_PORTS_MAX; port++) {
		const struct cfg_port *cp = &p->model->ports[port];

		if (!p->model->has_port[port])
			continue;
		if (p->ports_offline) {
			memcpy(p->macs[port].addr_bytes, cp->mac, RTE_ETHER_ADDR_LEN);
			p->nb_txq[port] = 1;
			continue;
		}
		rc = port_setup(p, (uint16_t)port, cp);
		if (rc < 0)
			return rc;
		if (cp->has_tap) {
			/* The kernel's frames come into one pool mbuf each. */
			uint16_t room = RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM -
					RTE_ETHER_HDR_LEN;

			rc = tap_create(&p->taps[port], cp, p->macs[port].addr_bytes,
				      RTE_MIN(cp->mtu != 0 ? cp->mtu : RTE_ETHER_MTU, room));
			if (rc < 0)
				return rc;
		}
	}
	return assign_queues(p);
}
