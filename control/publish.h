/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Publishing and ports: what the workers see of the model, and the
 * machinery that runs them.
 *
 * - Ports, the mbuf pool, the workers and their rings (ports.c).
 * - The data plane's SA records (struct gw_sa), made, replaced and
 *   retired as the model says through struct model_ops, into the
 *   lock-free SAD and flow table, and freed after an RCU grace period
 *   (publish.c).
 * - Policies, routes, neighbours and ports compiled into struct gw_tables
 *   and swapped in whole under RCU (tables.c).
 * - The counters: summed over lcores, less the `stats reset` baseline.
 *
 * Layer: above the model, below stats, events, the socket, commands and
 * the loop. Control plane (lcore 0) only, except where noted.
 */
#ifndef ESPD_PUBLISH_H
#define ESPD_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "control/model.h"
#include "control/slab.h"
#include "control/tap.h"
#include "dataplane/counters.h"
#include "dataplane/worker.h"

struct neigh_table;
struct xdp_port;

/** Sizes of SA record, by cache lines: a slab for each (publish.c). */
#define PUB_REC_SIZES (sizeof(struct gw_sa) / RTE_CACHE_LINE_SIZE + 1)

/** What waits for its RCU grace period: a data-plane SA record, or
 *  the key slot of a key deleted from the SAD or the flow table. */
struct pub_dead {
	uint64_t token;
	struct gw_sa *gw;     /**< the record, or NULL for a key slot */
	struct rte_hash *h;   /**< a key slot's table */
	struct flowtab *ft;   /**< or the flow table's */
	int32_t pos;          /**< a key slot's position in it */
};

struct pub {
	/* Set before pub_start() to change what it brings up: */
	/** Tests and fuzzers: the model's ports exist in the tables only
	 *  (MACs from the config), and no ethdev is touched. */
	bool ports_offline;
	unsigned int pool_size;   /**< mbufs in the pool (0: the default) */
	const char *xdp_obj;      /**< xdp-steer's program (NULL: the default) */
	bool pool_no_cache;       /**< exact rte_mempool_in_use_count() */

	struct gw_model *model;
	unsigned int seq;         /**< makes this pub's DPDK object names unique */
	struct gw_shared shared;
	struct gw_worker *workers[RTE_MAX_LCORE];
	unsigned int n_workers;
	/** lcore 0's own worker context, never launched: the exception
	 *  path sends the gateway's own packets through it (its own TX
	 *  queues, crypto engine, counters and rings). */
	struct gw_worker *w0;
	struct tap taps[GW_PORTS_MAX];    /**< fd -1: the port has none */
	struct neigh_table *neigh;        /**< control/neigh.h */
	struct xdp_port *xdp[GW_PORTS_MAX]; /**< xdp-steer ports (control/xdp.h) */
	struct rte_mempool *pool;
	struct rte_mempool *big_pool;     /**< reassembled packets > one mbuf */
	struct rte_ether_addr macs[GW_PORTS_MAX];
	uint16_t nb_txq[GW_PORTS_MAX];
	bool port_started[GW_PORTS_MAX];
	/** A closed port's last imissed + rx_nombuf (pub_ports_close()). */
	uint64_t port_dev_drop[GW_PORTS_MAX];
	/** The `set out-sa` mode (enum cfg_out_sa) the outbound records
	 *  were last made in: out_sa_remake() runs when the model's differs. */
	uint8_t out_sa;
	/** Counters of lcore 0 itself: the events and socket layers count
	 *  into these (ACQUIRE, events, monitors). */
	struct espd_counters ctl_cnt;
	/** How many ACQUIREs wait for an SA (the events layer keeps it). */
	uint32_t acquire_pending;
	struct espd_counters base;    /**< totals at the last `stats reset` */
	struct gw_port_stats port_base[GW_PORTS_MAX];
	/** The SA records (struct gw_sa), from a slab per size (their
	 *  crypto sessions are cut to their algorithms), made as needed. */
	struct slab recs[PUB_REC_SIZES];
	/** Records out, retired ones included, and how many may be: twice
	 *  --max-sas, room for every SA to be rekeyed within one grace
	 *  period (past it, making one waits a grace period out). */
	uint32_t n_recs, max_recs;
	struct pub_dead *dead;
	uint32_t n_dead, cap_dead;
	uint32_t *natt_refs;          /**< inbound SAs per local encap port (more
				       *   than 65535 may share one) */
	uint64_t tsc_hz;              /**< for use times: TSC ticks a second as
				       *   DPDK says, until measured ... */
	uint64_t tsc0;                /**< ... from this TSC reading ... */
	uint64_t mono0_ns;            /**< ... at this CLOCK_MONOTONIC time */
};

/**
 * Before the configuration is read: the RCU variable for every worker
 * lcore, the lock-free SAD and flow table for @p max_sas SAs, and the
 * model's ops (so SAs in the file are published as they come). @p m must
 * be initialised and empty. @return 0 or -errno, with the reason on
 * stderr.
 */
int pub_prepare(struct pub *p, struct gw_model *m, uint32_t max_sas);

/**
 * Bring up every configured port (queues, RSS, TX queues per sending
 * lcore where the device has enough) and one worker per lcore other than
 * the main one. @return 0 or -errno, with the reason on stderr.
 */
int pub_start(struct pub *p);

/**
 * Compile what the model marks dirty into new tables and publish them;
 * the old ones are freed after an RCU grace period. @return 0 or -errno.
 */
int pub_publish(struct pub *p);

/** Free the SA records whose grace period has passed. @return how many
 *  still wait. */
uint32_t pub_reclaim(struct pub *p);

/** How far past an outbound record's last sequence number its successor
 *  starts (it replaces it under the same keys after a migrate), for an
 *  SA serving @p n_flows flows: more than the workers can send through
 *  the old record while it is being replaced, so no number goes out
 *  twice (under the same keys and IV mask the IV would repeat). */
uint64_t pub_seq_margin(const struct pub *p, uint16_t n_flows);

/** Free a worker context (its engine and rings). */
void pub_worker_free(struct gw_worker *w);

/** Stop ports, free tables, workers, SA records (keys wiped). The model
 *  must be freed first (its SAs come back through sa_destroy). */
void pub_stop(struct pub *p);

/** Launch every worker on its lcore. */
void pub_launch(struct pub *p);

/** Tell the workers to stop, and wait until they have flushed TX. */
void pub_halt(struct pub *p);

/** Stop and close the ports (pub_stop() does it too): the mbufs their
 *  RX rings held go back to the pool. After pub_halt(). */
void pub_ports_close(struct pub *p);

/** The worker contexts: the launched workers, then lcore 0's (w0). */
static inline unsigned int
pub_n_contexts(const struct pub *p)
{
	return p->n_workers + (p->w0 != NULL);
}

static inline struct gw_worker *
pub_context(const struct pub *p, unsigned int i)
{
	return i < p->n_workers ? p->workers[i] : p->w0;
}

/** Packets received on all ports so far (for --exit-idle). */
uint64_t pub_rx_total(const struct pub *p);

/* ---- counters ---------------------------------------------------------- */

/** Sum every lcore's counters (less the `stats reset` baseline). */
void pub_counters(const struct pub *p, uint64_t out[CNT__MAX]);

/** Per-port counters (less the baseline). */
void pub_port_counters(const struct pub *p, unsigned int port,
		       struct gw_port_stats *s);

/** `stats reset`: the totals so far become the new zero. SAs' `current`
 *  counters never go back. */
void pub_counters_reset(struct pub *p);

/** SA @p s's counters since it was added (`current`, never reset). */
void pub_sa_totals(const struct model_sa *s, struct sa_counters *c);

/** SA @p s's counters since the last `stats reset` (what `stats` shows). */
void pub_sa_counters(const struct model_sa *s, struct sa_counters *c);

/** The "last sequence number" of an SA: sent (out) or highest seen (in). */
uint64_t pub_sa_seq(const struct model_sa *s);

/** When SA @p s last carried a packet, in wall-clock ns (0: never). */
uint64_t pub_sa_use_ns(const struct pub *p, const struct model_sa *s);

/* ---- tables (tables.c) -------------------------------------------------- */

/**
 * Compile the model's policies, routes, neighbours and ports into tables
 * for the workers. Port MACs come from @p macs. What m->dirty does not
 * name is taken over from @p old (which keeps working for readers until
 * it is freed: shared parts are freed with the last table that owns
 * them). @return NULL with *err = -errno.
 */
struct gw_tables *tables_build(const struct gw_model *m, struct gw_tables *old,
			       const struct rte_ether_addr macs[GW_PORTS_MAX],
			       int socket, int *err);

/** Free tables built by tables_build. */
void tables_free(struct gw_tables *t);

/** The data plane's address from a configured one. */
void pub_esp_addr(struct esp_addr *out, const struct cfg_addr *in);

/** The data plane's selector from a configured one. */
void pub_spd_sel(struct spd_sel *o, const struct cfg_sel *s);

#endif /* ESPD_PUBLISH_H */
