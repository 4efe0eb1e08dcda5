/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The poll-mode worker: one per lcore other than the main one. It polls
 * its (port, queue) pairs, runs the outbound path on protected ports and
 * the inbound path on unprotected ones, and buffers TX per port, drained
 * when a buffer fills and on a TSC timer.
 *
 * All of a worker's state is in its own struct gw_worker (STYLE.md habit
 * 10); what it shares is read-only (the published tables) or a TX queue
 * lock, taken only on ports with fewer TX queues than sending lcores.
 */
#ifndef ESPD_WORKER_H
#define ESPD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "dataplane/counters.h"
#include "dataplane/esp.h"
#include "dataplane/tables.h"

#define GW_RX_BURST 32
#define GW_TX_BUF 64
#define GW_RXQ_MAX 32
#define GW_DRAIN_US 100

_Static_assert(GW_RX_BURST <= ESP_BURST_MAX, "an RX burst fits the ESP calls");

/** What every worker shares with the control plane. */
struct gw_shared {
	struct gw_tables *tables;  /**< published with a release store */
	struct rte_rcu_qsbr *qsbr;
	volatile bool stop;
	rte_spinlock_t tx_lock[GW_PORTS_MAX];
	bool tx_shared[GW_PORTS_MAX]; /**< fewer TX queues than senders */
};

struct gw_port_stats {
	uint64_t rx, tx, drop;
};

struct gw_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[GW_TX_BUF];
};

struct gw_worker {
	unsigned int lcore_id;
	unsigned int qsbr_id;
	struct gw_shared *shared;
	uint16_t n_rxq;
	struct { uint16_t port, queue; } rxq[GW_RXQ_MAX];
	uint16_t txq[GW_PORTS_MAX];  /**< this lcore's TX queue per port */
	struct rte_ring *punt;       /**< IKE packets for the control plane */
	uint64_t drain_tsc;
	struct esp_ctx esp;
	struct espd_counters cnt;
	struct gw_port_stats port[GW_PORTS_MAX];
	struct gw_txbuf tx[GW_PORTS_MAX];
} __rte_cache_aligned;

/** The lcore entry point (rte_eal_remote_launch); @p arg is the worker. */
int gw_worker_main(void *arg);

/**
 * Run one poll round (receive, process, maybe drain). Exposed so tests
 * and benchmarks can drive a worker without launching an lcore.
 */
void gw_worker_poll(struct gw_worker *w);

/** Send everything buffered (also at shutdown). */
void gw_worker_drain(struct gw_worker *w);

/**
 * The two packet paths on a burst of frames received on @p port, as the
 * poll loop calls them. Every mbuf is consumed: sent, buffered or freed
 * and counted.
 */
void gw_outbound(struct gw_worker *w, const struct gw_tables *t,
		 struct rte_mbuf *pkts[], uint16_t n);
void gw_inbound(struct gw_worker *w, const struct gw_tables *t,
		struct rte_mbuf *pkts[], uint16_t n);

#endif /* ESPD_WORKER_H */
