/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The running gateway as the control plane (lcore 0) sees it: ports,
 * workers, the published tables, the main loop and the counters.
 */
#ifndef ESPD_GATEWAY_H
#define ESPD_GATEWAY_H

#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "control/model.h"
#include "dataplane/counters.h"
#include "dataplane/worker.h"

struct acq;
struct ctl;

struct gw_runtime {
	struct gw_model model;
	struct gw_shared shared;
	struct gw_worker *workers[RTE_MAX_LCORE];
	unsigned int n_workers;
	struct rte_mempool *pool;
	struct rte_ether_addr macs[GW_PORTS_MAX];
	uint16_t nb_txq[GW_PORTS_MAX];
	bool port_started[GW_PORTS_MAX];
	long exit_idle_ms;
	struct espd_counters ctl_cnt; /**< lcore 0's own (ACQUIRE, events) */
	struct espd_counters base;    /**< totals at the last `stats reset` */
	struct gw_port_stats port_base[GW_PORTS_MAX];
	struct acq *acq;
	struct ctl *ctl;
};

/** Sum every lcore's counters (less the `stats reset` baseline). */
void gw_counters(const struct gw_runtime *rt, uint64_t out[CNT__MAX]);

/** Per-port counters (less the baseline). */
void gw_port_counters(const struct gw_runtime *rt, unsigned int port,
		      struct gw_port_stats *s);

/** `stats reset`: the totals so far become the new zero. */
void gw_counters_reset(struct gw_runtime *rt);

/**
 * Before the configuration is read: the RCU variable for every worker
 * lcore, the lock-free SAD and flow table for @p max_sas SAs, and the
 * model. @return 0 or -errno, with the reason on stderr.
 */
int gw_prepare(struct gw_runtime *rt, uint32_t max_sas);

/**
 * Bring up every configured port (queues, RSS, TX queues per sending
 * lcore where the device has enough) and one worker per lcore other than
 * the main one. @return 0 or -errno, with the reason on stderr.
 */
int gw_start(struct gw_runtime *rt);

/**
 * Compile the model and publish the result to the workers; the old
 * tables are freed after an RCU grace period. @return 0 or -errno.
 */
int gw_publish(struct gw_runtime *rt);

/**
 * Launch the workers and run the control loop until SIGINT/SIGTERM, or
 * until no port has received anything for exit_idle_ms (when > 0).
 * Returns once workers have stopped and flushed their TX buffers.
 */
void gw_run(struct gw_runtime *rt);

struct sbuf;

/** Every counter (global, per port, per SA): DESIGN.md's JSON, or text. */
void gw_stats_format(const struct gw_runtime *rt, struct sbuf *b, bool json);

/** gw_stats_format's JSON into a file (--stats-json). */
void gw_stats_json(const struct gw_runtime *rt, FILE *f);

/** Stop ports, free tables, SAs (keys wiped) and workers. */
void gw_stop(struct gw_runtime *rt);

#endif /* ESPD_GATEWAY_H */
