/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The tables workers read: SPD tries, policies, SAD, routes, neighbours,
 * ports, the gateway's own addresses. The control plane builds a whole new struct gw_tables for every
 * change and publishes it with one pointer store; workers load the pointer
 * once per burst and report quiescent once per loop, so the old one is
 * freed only after an rte_rcu_qsbr grace period (STYLE.md habit 7).
 *
 * SAs (struct gw_sa) live outside the tables and survive rebuilds, so
 * sequence numbers, replay windows and counters carry over.
 */
#ifndef ESPD_TABLES_H
#define ESPD_TABLES_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "dataplane/esp.h"
#include "dataplane/flowkey.h"
#include "dataplane/spd.h"

#define GW_PORTS_MAX 16

enum gw_role {
	GW_ROLE_PROTECTED,
	GW_ROLE_UNPROTECTED,
};

enum gw_action {
	GW_BYPASS,
	GW_DISCARD,
	GW_PROTECT,
};

/**
 * An SA as the gateway keeps it. What a worker checks for every packet
 * (the flags, the selector) fills the cache line right before the ESP
 * fast-path record, so a flow's packets touch two adjacent lines before
 * the crypto session. The rest (per burst or rarer) comes first. The ESP
 * record comes last, so its crypto session can be cut to its algorithm's
 * size: a record is gw_sa_size() bytes, not sizeof. Recover it from its
 * ESP record with gw_sa_of().
 */
struct gw_sa {
	alignas(RTE_CACHE_LINE_SIZE) uint64_t use_tsc; /**< TSC of the last burst it carried (0: never) */
	/** Tunnel: the MTU of the port its dst leaves by (low 32 bits) and
	 *  the gen of the tables it is for (high 32), one word so that
	 *  lcores sharing the SA read the two together. */
	uint64_t path_mtu;
	struct esp_addr src, dst;
	/** Byte and packet limits (0: none), checked by the workers; time
	 *  limits are the control plane's. */
	uint64_t soft_bytes, hard_bytes, soft_pkts, hard_pkts;
	/* Control plane only, in what would be padding: */
	struct esp_sa_stats stats_base; /**< esp.stats at the last `stats reset` */
	uint32_t rec_size;   /**< bytes the record was given (gw_sa_size()) */
	/** Its replay window went on to its successor (record_replace):
	 *  not this record's to free. */
	uint8_t replay_lent;
	/** Its counters went on to its successor, as they were then
	 *  (stats_base holds that): what it counted since is the SA's too
	 *  (stats_carry()). */
	uint8_t stats_lent;
	/** Tunnel: a path MTU a router reported for its ESP (Packet Too
	 *  Big, RFC 8201), below the port's; 0: none. Set and cleared by
	 *  lcore 0 (exc.c), which then zeroes path_mtu; read only when
	 *  path_mtu is worked out again (out.c sa_room()). */
	uint16_t pmtu;

	alignas(RTE_CACHE_LINE_SIZE) uint8_t dead; /**< unpublished: freed after grace */
	uint8_t expired;     /**< hard limit reached: drop, do not use */
	uint8_t soft_sent, hard_sent; /**< expire events raised (by any lcore) */
	uint8_t has_sel;
	uint8_t has_limits;
	/** The worker context (index + 1) that alone sends through it, or
	 *  decrypts for it (inbound), set once by the first worker to find
	 *  it (0: none yet; gw_sa_own()). Others hand it their packets
	 *  (worker.h), so its sequence numbers, replay window and counters
	 *  are plain stores. */
	uint16_t owner;
	uint32_t reqid;
	uint32_t id;         /**< control-plane handle */
	struct spd_sel sel;  /**< traffic the SA carries */
	struct esp_sa esp;   /**< last: its crypto session may be cut short */
};

_Static_assert(offsetof(struct gw_sa, dead) == 2 * RTE_CACHE_LINE_SIZE,
	       "the cold fields of gw_sa fit its first two lines");
_Static_assert(offsetof(struct gw_sa, esp) - offsetof(struct gw_sa, dead) ==
	       RTE_CACHE_LINE_SIZE,
	       "the per-packet fields of gw_sa fit the line before its ESP record");
_Static_assert(offsetof(struct gw_sa, esp) + sizeof(struct esp_sa) ==
	       sizeof(struct gw_sa), "the ESP record ends gw_sa");

/** Bytes a gw_sa whose ESP record is @p esp_size bytes (esp_sa_size()) needs. */
static inline size_t
gw_sa_size(size_t esp_size)
{
	return offsetof(struct gw_sa, esp) + esp_size;
}

static inline struct gw_sa *
gw_sa_of(struct esp_sa *esp)
{
	return container_of(esp, struct gw_sa, esp);
}

/* Is record @p sa fit to carry a flow's packets? (It may be on its way
 * out, spent by a hard limit, or out of sequence numbers.) One load of
 * dead, which lcore 0 sets at any time: a caller's answer stays the
 * answer. Workers and lcore 0 ask alike. */
static inline bool
gw_sa_usable(const struct gw_sa *sa)
{
	return !__atomic_load_n(&sa->dead, __ATOMIC_RELAXED) && !sa->expired &&
	       !sa->esp.exhausted;
}

/** A policy's IPsec template (RFC 4301 SPD entry "protect"). */
struct gw_tmpl {
	struct esp_addr src, dst;
	uint32_t reqid;      /**< 0: any */
	rte_be32_t spi_be;   /**< 0: any */
	uint8_t mode;        /**< enum esp_mode */
	uint8_t level_use;   /**< level use: the SA is optional */
	uint8_t has_addrs;   /**< src and dst given (always, in tunnel mode) */
};

struct gw_policy {
	uint8_t action;      /**< enum gw_action */
	uint8_t dir;         /**< 0 in, 1 out, 2 fwd */
	uint8_t pfp;         /**< enum pfp_field bits that key the flow table */
	uint32_t index;
	struct gw_tmpl tmpl;
};

struct gw_nexthop {
	uint16_t port;
	uint8_t has_gw;
	/** Its port is unprotected: a decrypted packet routed here meets
	 *  the outbound SPD first (route.c, hub and spoke). */
	uint8_t relay;
	struct esp_addr gw;  /**< with has_gw; else the destination itself */
};

/** Neighbour key: port, family and address (zero-padded). */
struct gw_neigh_key {
	uint16_t port;
	uint8_t family;
	uint8_t pad;
	uint8_t addr[16];
};

/**
 * A resolved neighbour as the workers see it (struct gw_shared.neigh maps
 * a gw_neigh_key to one). The control plane makes, changes and retires it
 * (RCU); a worker only notes, now and then, that it used it, so that a
 * stale entry gets re-probed when traffic needs it (RFC 4861 7.3.3).
 */
struct gw_neigh {
	struct rte_ether_addr mac;
	uint8_t dead;        /**< unpublished: treat as absent */
	uint64_t used_tsc;   /**< last use (TSC), written now and then */
};

/** A worker writes used_tsc when it is older than 1/GW_NEIGH_USE_DIV of
 *  a second, so the shared line is written a few times a second at most. */
#define GW_NEIGH_USE_DIV 8

#define GW_PORT_ADDRS 8  /**< `addr` words on one port (CFG_PORT_ADDRS_MAX) */

struct gw_port {
	uint8_t configured;
	uint8_t role;        /**< enum gw_role */
	uint8_t n_addr;
	uint16_t mtu;        /**< largest IP packet it sends */
	struct rte_ether_addr mac;
	struct esp_addr addr[GW_PORT_ADDRS]; /**< the gateway's own */
};

#define GW_LOCAL_MAX (GW_PORTS_MAX * GW_PORT_ADDRS)

/**
 * What is rebuilt and swapped as a whole: policies, routes, ports. These
 * change rarely. SAs and neighbours change often (PFP, rekeys, ARP), so the
 * SAD, the flow table and the neighbour table are lock-free hashes updated
 * in place instead (struct gw_shared).
 */
struct gw_tables {
	struct spd *spd_out;       /**< dir out */
	struct spd *spd_in;        /**< dir in and fwd: every decrypted packet */
	struct gw_policy *pols;    /**< spd userdata u is pols[u - 1] */
	uint32_t n_pols;
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6;
	struct gw_nexthop *nh;
	uint32_t n_nh;
	struct gw_port ports[GW_PORTS_MAX];
	/** Every port's addresses, for the one question each packet asks:
	 *  is it for the gateway itself? (weak host model, as Linux) */
	uint32_t local4[GW_LOCAL_MAX];  /**< network order */
	uint8_t local6[GW_LOCAL_MAX][16];
	uint16_t n_local4, n_local6;
	uint32_t gen;              /**< a new number for every build (never 0) */
	/* Control plane only: whether these tables own their SPD and
	 * routes, or passed them on to a newer set. */
	bool own_spd, own_routes;
};

/** The next hop a packet to @p dst (family 4 or 6, network order) takes,
 *  or NULL when no route covers it. */
static inline const struct gw_nexthop *
gw_route_lookup(const struct gw_tables *t, uint8_t family, const void *dst)
{
	uint32_t idx, d;
	int rc;

	if (family == 4) {
		memcpy(&d, dst, 4);
		rc = t->lpm4 == NULL ? -1 : rte_lpm_lookup(t->lpm4, rte_be_to_cpu_32(d), &idx);
	} else {
		rc = t->lpm6 == NULL ? -1 : rte_lpm6_lookup(t->lpm6, dst, &idx);
	}
	return rc == 0 && idx < t->n_nh ? &t->nh[idx] : NULL;
}

#endif /* ESPD_TABLES_H */
