/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control plane's model: every port, route, neighbour, SA and policy
 * as configured, in plain structs. Commands (from the file or the socket)
 * change the model.
 *
 * - SAs are published as they come into the lock-free SAD and flow table
 *   (struct gw_shared); removed ones are marked dead, unpublished, and
 *   freed after an RCU grace period (model_reclaim).
 * - Policies, routes, neighbours and ports are compiled by model_build()
 *   into a fresh struct gw_tables, published whole.
 *
 * Control plane (lcore 0) only: not thread-safe.
 */
#ifndef ESPD_MODEL_H
#define ESPD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "dataplane/tables.h"

struct gw_shared;

/* What changed since the tables were last built. */
#define MODEL_DIRTY_SPD    (1u << 0) /* policies */
#define MODEL_DIRTY_ROUTES (1u << 1) /* ports, routes, neighbours */

struct model_sa {
	struct gw_sa *gw;      /**< the worker-visible record */
	uint8_t dir;           /**< enum esp_dir */
	uint32_t slot;         /**< position in gw_model.sas */
	uint64_t gen;          /**< age: a larger gen is newer */
	uint64_t add_time;     /**< seconds (CLOCK_MONOTONIC) */
	struct cfg_state cfg;  /**< as configured, keys wiped */
	/** Outbound: the flow-table keys this SA can serve (it is in use
	 *  for those where the flow table points at it). */
	struct gw_flow_key *keys;
	uint16_t n_keys, cap_keys;
	struct esp_sa_stats base; /**< counters at the last `stats reset` */
};

/** The SA's counters since the last `stats reset`. */
static inline struct esp_sa_stats
model_sa_stats(const struct model_sa *s)
{
	const struct esp_sa_stats *a = &s->gw->esp.stats;
	struct esp_sa_stats r = {
		.packets = a->packets - s->base.packets,
		.bytes = a->bytes - s->base.bytes,
		.replay_drops = a->replay_drops - s->base.replay_drops,
		.icv_failures = a->icv_failures - s->base.icv_failures,
	};

	return r;
}

struct model_pol {
	struct cfg_policy cfg;
	uint32_t seq;          /**< age: ties in priority go to the older */
};

/** An unpublished SA waiting for its RCU grace period. */
struct model_dead {
	struct gw_sa *gw;
	uint64_t token;
};

/**
 * What the ACQUIRE machinery needs to hear from the model. flow_pre is
 * called before flow key @p fk is pointed at an SA, so packets held for
 * that flow are queued for release before any worker can see the SA (their
 * order is kept). acquire_key gives the flow key of the pending ACQUIRE
 * numbered @p seq (for `state add ... seq N`).
 */
struct model_hooks {
	void (*flow_pre)(void *arg, const struct gw_flow_key *fk);
	bool (*acquire_key)(void *arg, uint32_t seq, struct gw_flow_key *fk);
	void *arg;
};

struct gw_model {
	enum crypto_engine_kind engine;
	struct model_hooks hooks;
	uint64_t pfp_flows;    /**< PFP flow keys ever installed (PfpFlows) */
	struct gw_shared *sh;  /**< the lock-free SAD and flow table */
	struct rte_hash *sa_by_id; /**< (dst, spi) -> struct model_sa * */
	struct rte_hash *cand; /**< flow key -> how many SAs could serve it */
	uint16_t *natt_refs;   /**< inbound SAs per local encap port */
	bool has_port[GW_PORTS_MAX];
	struct cfg_port ports[GW_PORTS_MAX];
	struct cfg_route *routes;
	uint32_t n_routes, cap_routes;
	struct cfg_neigh *neighs;
	uint32_t n_neighs, cap_neighs;
	struct model_sa **sas;
	uint32_t n_sas, cap_sas, max_sas;
	struct model_pol *pols;
	uint32_t n_pols, cap_pols;
	struct model_dead *dead;
	uint32_t n_dead, cap_dead;
	uint64_t next_gen;
	uint32_t next_pol_seq, next_index, next_sa_id;
	uint32_t acquire_expires, acquire_queue, acquire_queue_total;
	uint8_t dirty;         /**< MODEL_DIRTY_*: what the tables lack */
};

/**
 * Set up an empty model of at most @p max_sas SAs, whose SAs go into @p
 * sh's hashes (which must exist, with their RCU variable).
 * @return 0 or -ENOMEM.
 */
int model_init(struct gw_model *m, enum crypto_engine_kind engine,
	       struct gw_shared *sh, uint32_t max_sas);

/** Free everything, SAs included (keys wiped). Workers must be stopped. */
void model_free(struct gw_model *m);

/** A cfg_apply_fn: apply one command to the model (@p arg). */
int model_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
		unsigned int line, struct cfg_error *err);

/** Find an SA by (dst, spi). */
struct model_sa *model_sa_find(const struct gw_model *m,
			       const struct cfg_addr *dst, uint32_t spi);

/** Unpublish the SA; it is freed (keys wiped) after the grace period. */
void model_sa_remove(struct gw_model *m, struct model_sa *s);

/** Free the SAs whose grace period has passed. @return how many wait. */
uint32_t model_reclaim(struct gw_model *m);

/** The policy with index @p index, or NULL. */
const struct model_pol *model_policy(const struct gw_model *m, uint32_t index);

/** Does outbound SA @p s satisfy template @p t? */
bool model_sa_satisfies(const struct model_sa *s, const struct cfg_tmpl *t);

/**
 * The flow-table key under which policy @p p would use SA @p s. A PFP
 * policy needs the SA's selector to name one value for each PFP field
 * (a host address, a protocol, a port). @return false when it does not.
 */
bool model_flow_key(const struct model_pol *p, const struct model_sa *s,
		    struct gw_flow_key *fk);

/**
 * Compile the policies, routes, neighbours and ports into tables for the
 * workers. Port MACs come from @p macs. What m->dirty does not name is
 * taken over from @p old (which keeps working for readers until it is
 * freed: shared parts are freed with the last table that owns them).
 * @return NULL with *err = -errno.
 */
struct gw_tables *model_build(const struct gw_model *m, struct gw_tables *old,
			      const struct rte_ether_addr macs[GW_PORTS_MAX],
			      int socket, int *err);

/** Free tables built by model_build. */
void gw_tables_free(struct gw_tables *t);

/** ESP address from a config address. */
void model_esp_addr(struct esp_addr *out, const struct cfg_addr *in);

/** Selector for the fast path from a config selector. */
void model_sel(struct spd_sel *o, const struct cfg_sel *s);

/** Same address (family and bytes)? */
bool model_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b);

#endif /* ESPD_MODEL_H */
