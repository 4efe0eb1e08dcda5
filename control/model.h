/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control plane's model: every port, route, neighbour, SA, policy and
 * SPI reservation as configured, in plain structs and plain C indexes. No
 * DPDK: `espd --check` applies a file to this same model, so the file and
 * a running espd cannot disagree about what is valid.
 *
 * Layer: the bottom of control/ (above it: publish, stats, events,
 * socket, commands, loop). It calls nothing above it. What must happen in
 * the data plane when the model changes (an SA published into the SAD, a
 * flow key pointed at an SA) goes through struct model_ops, which the
 * publish layer fills; without ops (--check, unit tests) the model only
 * keeps its books. The ACQUIRE machinery hears of new flows through
 * struct model_hooks the same way.
 *
 * Control plane (lcore 0) only: not thread-safe.
 */
#ifndef ESPD_MODEL_H
#define ESPD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "control/hmap.h"
#include "control/slab.h"
#include "crypto/crypto.h"
#include "dataplane/flowkey.h"

/* What changed since the tables were last built. */
#define MODEL_DIRTY_SPD    (1u << 0) /* policies */
#define MODEL_DIRTY_ROUTES (1u << 1) /* ports, routes, neighbours */

#define MODEL_RESERVED_MAX 65536 /**< SPIs held by allocspi at once */

/** An SA's counters (what `stats` shows, less the reset baseline). */
struct sa_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t replay_drops;
	uint64_t icv_failures;
};

/** What few SAs have, kept out of line (struct model_sa_cfg.x): limits,
 *  the sequence numbers to start from, an HMAC key. */
struct model_sa_extra {
	uint64_t limit[CFG_LIMIT_COUNT_];
	uint32_t limit_set;       /**< bit i: limit[i] was given */
	uint32_t replay_seq, replay_seq_hi;
	uint32_t replay_oseq, replay_oseq_hi;
	uint16_t auth_key_len;
	uint8_t auth_key[];       /**< auth_key_len bytes */
};

/** An SA's algorithm, with its cipher key (AEAD: and salt) in place. */
struct model_algo {
	uint8_t cipher;           /**< enum crypto_cipher */
	uint8_t auth;             /**< enum crypto_auth (NONE for AEADs) */
	uint8_t cipher_key_len;
	uint8_t icv_len;          /**< bytes */
	uint8_t cipher_key[CFG_CIPHER_KEY_MAX];
};

/**
 * An SA as configured (`state add`, then `update` and `migrate`): struct
 * cfg_state less what the parse alone needs (the algorithm's name follows
 * from its ids, cfg_algo_name(); the encapsulation's OA is never used),
 * with the parts most SAs lack out of line in @c x (NULL when the SA has
 * none of them). model_sa_state() gives the whole cfg_state back.
 */
struct model_sa_cfg {
	struct model_sa_extra *x;
	struct cfg_addr src, dst;
	uint32_t spi;
	uint32_t reqid;
	uint32_t seq;             /**< the ACQUIRE this SA answered */
	uint16_t has;             /**< CFG_SA_HAS_* */
	uint16_t replay_window;
	uint16_t encap_sport, encap_dport;
	uint8_t mode;             /**< enum cfg_mode */
	uint8_t flags;            /**< CFG_SA_F_* */
	struct cfg_sel sel;
	struct model_algo algo;
};

struct model_sa;

/** One flow-table key, kept once for the model: the SAs that can serve
 *  it point at it, and the flow index finds it by its key. */
struct model_flow {
	struct gw_flow_key key;
	struct model_sa *sa;      /**< the SA the key leads to, or NULL */
	uint32_t cand;            /**< SAs that list it (could serve it) */
};

struct model_sa {
	void *dp;              /**< the data plane's record (publish layer) */
	/** Outbound: the flows this SA can serve (it is in use for those
	 *  whose model_flow.sa is this SA), as model_sa_flows() lists them.
	 *  A per-flow SA has one, kept in place of the array pointer. */
	union {
		struct model_flow *one;    /* cap_flows <= 1 */
		struct model_flow **many;  /* cap_flows > 1 */
	} fl;
	uint64_t gen;          /**< age: a larger gen is newer */
	uint64_t add_ns;       /**< CLOCK_MONOTONIC: time limits count from it */
	uint64_t add_real_ns;  /**< CLOCK_REALTIME: current.add_time */
	uint32_t slot;         /**< position in gw_model.sas */
	uint32_t id;           /**< handle that events name it by; kept by update */
	uint32_t limit_gen;    /**< bumped when the limits change */
	uint16_t n_flows, cap_flows;
	uint8_t dir;           /**< CFG_DIR_IN or CFG_DIR_OUT, never NONE */
	/** A soft EXPIRE was raised since the limits were last set: one a
	 *  lifetime, whichever soft limit (time, bytes, packets) and
	 *  whichever record of the SA reached it. */
	bool soft_raised;
	/** As configured. The keys stay (`state get ... show-keys`) until
	 *  the SA is freed, when they are wiped. */
	struct model_sa_cfg cfg;
};

/** The flows outbound SA @p s can serve: s->n_flows of them. */
static inline struct model_flow *const *
model_sa_flows(const struct model_sa *s)
{
	return s->cap_flows <= 1 ? &s->fl.one : s->fl.many;
}

/** Limit @p i (enum cfg_limit) of @p c in *v, if it was given and is
 *  not 0: as in `ip xfrm`, a limit of 0 is none. */
static inline bool
model_sa_limit(const struct model_sa_cfg *c, unsigned int i, uint64_t *v)
{
	if (c->x == NULL || !(c->x->limit_set & (1u << i)) || c->x->limit[i] == 0)
		return false;
	*v = c->x->limit[i];
	return true;
}

/**
 * SA @p s as a whole struct cfg_state, keys included
 * (dir: the SA's). @p out holds keys: explicit_bzero() it after use.
 */
void model_sa_state(const struct model_sa *s, struct cfg_state *out);

/** SA @p s's algorithm with its keys (`state get ... show-keys`): wipe
 *  @p out after use. */
void model_sa_algo(const struct model_sa *s, struct cfg_algo *out);

struct model_pol {
	struct cfg_policy cfg;
	uint32_t seq;          /**< age: ties in priority go to the older */
};

/**
 * What the data plane does when the model changes (the publish layer's).
 * Every hook may be NULL, except that sa_create and sa_destroy come as a
 * pair. Return -errno to refuse a change; the model then undoes it.
 */
struct model_ops {
	/** Build the data plane's record of @p s (s->dp) from s->cfg. */
	int (*sa_create)(void *arg, struct model_sa *s);
	/** New keys in s->cfg: build a new record that carries the old
	 *  one's counters and sequence state over, and put it everywhere
	 *  the old one was (SAD, flow table) before retiring the old.
	 *  @p same_keys: the update named the keys the SA had; the new
	 *  record keeps the old IV mask then, as sa_migrate's does, since
	 *  its sequence goes on under those keys. */
	int (*sa_rekey)(void *arg, struct model_sa *s, bool same_keys);
	/** New outer addresses or UDP encapsulation in s->cfg (`state
	 *  migrate`; @p old is the cfg before): a new record with the same
	 *  keys and IV mask that carries the counters, sequence and replay
	 *  state over, put everywhere the old one was before it is retired,
	 *  as sa_rekey does. */
	int (*sa_migrate)(void *arg, struct model_sa *s, const struct model_sa_cfg *old);
	/** New byte/packet limits in s->cfg, applied in place. */
	void (*sa_limits)(void *arg, struct model_sa *s);
	/** @p s is no longer published anywhere: free its record once no
	 *  worker can hold it (RCU), wiping the keys. */
	void (*sa_destroy)(void *arg, struct model_sa *s);
	/** Inbound SA into / out of the SAD (by SPI). */
	int (*sad_add)(void *arg, struct model_sa *s);
	void (*sad_del)(void *arg, struct model_sa *s);
	/** Flow key @p fk now leads to outbound SA @p s / to nothing. */
	int (*flow_set)(void *arg, const struct gw_flow_key *fk, struct model_sa *s);
	void (*flow_del)(void *arg, const struct gw_flow_key *fk);
	/** May @p s take over a flow (not hard-expired in the data plane)? */
	bool (*sa_usable)(void *arg, const struct model_sa *s);
	/** A static neighbour added (@p add) or any neighbour deleted (the
	 *  data plane also has the learned ones). -ENOENT: no such. */
	int (*neigh)(void *arg, const struct cfg_neigh *n, bool add);
	/** `neigh flush`: the learned neighbours go. */
	void (*neigh_flush)(void *arg);
	/** A `set` changed what the data plane reads. */
	void (*settings)(void *arg);
};

/**
 * What the ACQUIRE machinery needs to hear from the model. flow_ready is
 * called once flow key @p fk points at an SA that workers can see, so the
 * workers holding packets for it are told to send them (a worker also
 * sends them, first, as soon as its own lookup finds the SA, so their
 * order is kept either way). acquire_key gives the flow key of the pending ACQUIRE
 * numbered @p seq (for `state add ... seq N`).
 */
struct model_hooks {
	void (*flow_ready)(void *arg, const struct gw_flow_key *fk);
	bool (*acquire_key)(void *arg, uint32_t seq, struct gw_flow_key *fk);
	void *arg;
};

struct model_timer; /* model.c: the time-limit heap */

/** What struct gw_model.pol_sels keys a policy by: its dir and selector,
 *  every byte set (model.c pol_sel_key()). */
struct pol_sel_key {
	uint8_t dir, proto, af, src_len, dst_len, has; /**< has: 1 sport, 2 dport */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint8_t src[16], dst[16];
};

struct gw_model {
	enum crypto_engine_kind engine;
	const struct model_ops *ops;
	void *ops_arg;
	struct model_hooks hooks;
	uint64_t (*now_ns)(void); /**< CLOCK_MONOTONIC, replaceable by tests */
	uint64_t pfp_flows;    /**< PFP flow keys ever installed (PfpFlows) */
	bool has_port[CFG_PORTS_MAX];
	struct cfg_port ports[CFG_PORTS_MAX];
	struct cfg_route *routes;
	uint32_t n_routes, cap_routes;
	struct cfg_neigh *neighs;
	uint32_t n_neighs, cap_neighs;
	struct model_sa **sas;
	uint32_t n_sas, cap_sas, max_sas;
	struct slab sa_slab;   /**< the struct model_sa records */
	struct model_pol *pols;
	uint32_t n_pols, cap_pols;
	struct hset sa_by_id;  /**< struct model_sa by (dst, spi) */
	struct hset spi_in;    /**< inbound struct model_sa by SPI */
	struct hset flows;     /**< struct model_flow by gw_flow_key */
	struct slab flow_slab; /**< the struct model_flow records */
	struct hmap reserved;  /**< SPI -> struct model_reservation * */
	struct hmap pol_sels;  /**< a policy's dir and selector -> 1 (one each) */
	struct model_timer *timers; /**< a min-heap of time limits */
	uint32_t n_timers, cap_timers;
	uint64_t next_gen;
	uint32_t next_pol_seq, next_index, next_sa_id;
	uint32_t pol_index_max; /**< no policy has a larger index */
	uint32_t acquire_expires, acquire_queue, acquire_queue_total;
	uint32_t allocspi_expires;
	uint8_t worker_idle;        /**< enum cfg_worker_idle */
	uint32_t tcp_mss_clamp;     /**< 0 off, CFG_MSS_AUTO, or an MSS */
	uint32_t icmp_ratelimit;    /**< ICMP errors a second, 0: no limit */
	uint32_t neigh_reachable;   /**< seconds a learned neighbour is trusted */
	uint8_t out_sa;             /**< enum cfg_out_sa */
	bool icmp_unreachable;      /**< `set icmp-unreachable on` */
	uint64_t rand_state;   /**< allocspi's generator */
	uint8_t dirty;         /**< MODEL_DIRTY_*: what the tables lack */
};

/** The monotonic clock the model uses by default, in nanoseconds. */
uint64_t model_clock_ns(void);

/**
 * Set up an empty model of at most @p max_sas SAs, for engine @p engine
 * (whose algorithms it accepts). @return 0 or -ENOMEM.
 */
int model_init(struct gw_model *m, enum crypto_engine_kind engine,
	       uint32_t max_sas);

/** Attach the data plane (may be called once, before any SA exists). */
void model_set_ops(struct gw_model *m, const struct model_ops *ops, void *arg);

/** Free everything, SAs included (their records through ops->sa_destroy,
 *  keys wiped). */
void model_free(struct gw_model *m);

/** A cfg_apply_fn: apply one command to the model (@p arg). */
int model_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
		unsigned int line, struct cfg_error *err);

/**
 * `state allocspi`: a random SPI in [min, max] that no SA and no other
 * reservation uses, held for allocspi-expires seconds for `state add` or
 * `state update`. @return 0 with *spi, or -errno with @p err.
 */
int model_allocspi(struct gw_model *m, const struct cfg_allocspi *a,
		   uint32_t *spi, struct cfg_error *err);

/** Find an SA by (dst, spi). */
struct model_sa *model_sa_find(const struct gw_model *m,
			       const struct cfg_addr *dst, uint32_t spi);

/** The SA with handle @p id at (dst, spi), or NULL (gone or replaced). */
struct model_sa *model_sa_by_handle(const struct gw_model *m,
				    const struct cfg_addr *dst, uint32_t spi,
				    uint32_t id);

/** Remove SA @p s (unpublished, its record freed after the grace period). */
void model_sa_remove(struct gw_model *m, struct model_sa *s);

/** The outbound SA flow key @p fk leads to, or NULL. */
struct model_sa *model_flow_sa(const struct gw_model *m,
			       const struct gw_flow_key *fk);

/**
 * The next SA whose time limit (soft or hard, *hard says which) has
 * passed at @p now_ns, or NULL. Each limit of an SA comes back once
 * (again after `state update` sets new limits).
 */
struct model_sa *model_time_due(struct gw_model *m, uint64_t now_ns, bool *hard);

/** The policy with index @p index, or NULL. */
const struct model_pol *model_policy(const struct gw_model *m, uint32_t index);

/** The policy `policy del` would remove, or NULL. */
const struct model_pol *model_policy_match(const struct gw_model *m,
					   const struct cfg_policy_del *d);

/** Does outbound SA @p s satisfy template @p t? */
bool model_sa_satisfies(const struct model_sa *s, const struct cfg_tmpl *t);

/**
 * The flow-table key under which policy @p p would use SA @p s. A PFP
 * policy needs the SA's selector to name one value for each PFP field
 * (a host address, a protocol, a port). @return false when it does not.
 */
bool model_flow_key(const struct model_pol *p, const struct model_sa *s,
		    struct gw_flow_key *fk);

/** The crypto engine's view of a configured algorithm (pointing at @p a's
 *  keys: @p a must outlive @p p's use). */
void model_algo_params(const struct cfg_algo *a, struct crypto_algo_params *p);

/** 4 or 6: the data plane's name for @p a's family (AF_INET[6]). */
static inline uint8_t
model_family(const struct cfg_addr *a)
{
	return a->af == AF_INET6 ? 6 : 4;
}

/** AF_INET[6] from the data plane's 4 or 6. */
static inline uint8_t
model_af(uint8_t family)
{
	return family == 6 ? AF_INET6 : AF_INET;
}

/** Bytes of @p a's address: 4 or 16. */
static inline size_t
model_addr_bytes(const struct cfg_addr *a)
{
	return a->af == AF_INET6 ? 16 : 4;
}

/** Same address (family and bytes)? */
bool model_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b);

/** The index in m->routes of the route for @p prefix (address and
 *  length), or -1. */
int model_route_find(const struct gw_model *m, const struct cfg_addr *prefix);

#endif /* ESPD_MODEL_H */
