/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports, the mbuf pool and the workers: what pub_start() brings up from
 * the model's `port` lines and the EAL's lcores.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "control/publish.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_MBUFS 16383
#define POOL_CACHE 256
#define PUNT_RING 256
#define EVENT_RING 4096
#define RELEASE_RING 4096

static int
port_setup(struct pub *p, uint16_t port, const struct cfg_port *cp)
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
	nb_tx = (uint16_t)RTE_MIN(p->n_workers, (unsigned int)info.max_tx_queues);
	if (nb_tx == 0)
		nb_tx = 1;
	p->nb_txq[port] = nb_tx;
	p->shared.tx_shared[port] = nb_tx < p->n_workers;
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

static int
workers_setup(struct pub *p)
{
	unsigned int lcore, i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		int socket = (int)rte_lcore_to_socket_id(lcore);
		struct gw_worker *w = rte_zmalloc_socket("gw_worker", sizeof(*w),
							 RTE_CACHE_LINE_SIZE, socket);
		char name[RTE_RING_NAMESIZE];

		if (w == NULL)
			return -ENOMEM;
		p->workers[i] = w;
		w->lcore_id = lcore;
		w->qsbr_id = i;
		w->shared = &p->shared;
		w->esp.engine = crypto_engine_create(p->model->engine);
		if (w->esp.engine == NULL) {
			fprintf(stderr, "espd: lcore %u: crypto engine: %s\n", lcore,
				strerror(errno));
			return -ENOMEM;
		}
		w->tsc_hz = rte_get_tsc_hz();
		snprintf(name, sizeof(name), "punt%u_%u", p->seq, lcore);
		w->punt = rte_ring_create(name, PUNT_RING, socket,
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "ev%u_%u", p->seq, lcore);
		w->events = rte_ring_create_elem(name, sizeof(struct gw_event), EVENT_RING,
						 socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "rel%u_%u", p->seq, lcore);
		w->release = rte_ring_create_elem(name, sizeof(struct gw_release_elem),
						  RELEASE_RING, socket,
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->punt == NULL || w->events == NULL || w->release == NULL)
			return -ENOMEM;
		i++;
	}
	return 0;
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
		for (i = 0; i < p->n_workers; i++)
			p->workers[i]->txq[port] = (uint16_t)(i % p->nb_txq[port]);
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
	snprintf(name, sizeof(name), "espd_mbufs%u", p->seq);
	p->pool = rte_pktmbuf_pool_create(name, p->pool_size ? p->pool_size : POOL_MBUFS,
					  p->pool_no_cache ? 0 : POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (p->pool == NULL) {
		fprintf(stderr, "espd: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -ENOMEM;
	}
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
	}
	return assign_queues(p);
}
