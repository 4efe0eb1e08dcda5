/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The neighbour table (ARP, RFC 826; IPv6 ND, RFC 4861 7.3), kept by the
 * control plane and published to the workers as a lock-free hash of
 * struct gw_neigh (gw_shared.neigh).
 *
 * - `neigh add` entries are permanent and win over anything learned.
 * - A next hop a worker cannot resolve comes here with its packet: the
 *   entry is INCOMPLETE, up to NEIGH_QUEUE packets wait, a request goes
 *   out every second, NEIGH_TRIES times; an answer publishes the entry
 *   and sends the packets, silence drops them (NeighFailed).
 * - A learned entry is REACHABLE for `set neigh-reachable` seconds
 *   (default 30) after its last confirmation, then STALE. A stale entry
 *   stays in use; when traffic uses it, it is probed (unicast, NEIGH_TRIES
 *   times, a second apart) and goes back to REACHABLE on an answer or
 *   away on silence. An unused stale entry goes after another
 *   2 x neigh-reachable seconds.
 * - Requests and gratuitous announcements from others update what they
 *   name (a new entry starts STALE, as in Linux).
 *
 * Layer: publish (with publish.h). Control plane (lcore 0) only.
 */
#ifndef ESPD_NEIGH_H
#define ESPD_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "control/hmap.h"
#include "dataplane/tables.h"

#define NEIGH_QUEUE 3  /**< packets that wait for one resolution */
#define NEIGH_QUEUED_MAX 1024 /**< packets that wait, all neighbours together */
#define NEIGH_TRIES 3  /**< requests or probes before giving up */
#define NEIGH_MAX 65536

enum neigh_state {
	NEIGH_INCOMPLETE,
	NEIGH_REACHABLE,
	NEIGH_STALE,
	NEIGH_PROBE,
	NEIGH_PERMANENT,
	/** No answer to its requests or probes: listed (as Linux lists
	 *  FAILED) for neigh-reachable seconds, its packets dropped; the
	 *  next packet for it asks again. */
	NEIGH_FAILED,
};

struct neigh {
	struct gw_neigh_key key;
	uint8_t state;        /**< enum neigh_state */
	uint8_t tries;        /**< requests or probes sent in this state */
	uint8_t nq;
	struct rte_ether_addr mac;
	uint64_t confirmed_ns;
	uint64_t next_ns;     /**< the next retry, probe or state change */
	uint64_t stale_tsc;   /**< worker TSC when it went stale */
	struct gw_neigh *dp;  /**< what the workers see, or NULL */
	struct rte_mbuf *q[NEIGH_QUEUE];
};

struct pub;

/** How an answer or announcement reached us. */
enum neigh_how {
	NEIGH_ANSWER,   /**< a reply to us (ARP reply, solicited NA): confirmed */
	NEIGH_HEARD,    /**< a request for our address: the asker, stale */
	NEIGH_OVERHEARD, /**< anything else (a request for another, an
			  *   announcement, an unsolicited NA) */
};

/** Set up @p p's table (empty). @return 0 or -ENOMEM. */
int neigh_init(struct pub *p);

/** Free every entry and wait-queue (packets freed, counted). */
void neigh_fini(struct pub *p);

/** At exit, before the counters are written: drop (and count,
 *  NeighFailed) every packet still waiting for a neighbour. */
void neigh_drop_queued(struct pub *p);

/** `neigh add` (permanent) / `neigh del` of any entry / `neigh flush`
 *  of the learned ones. @return 0 or -errno (-ENOENT: no such entry). */
int neigh_static(struct pub *p, const struct gw_neigh_key *k,
		 const struct rte_ether_addr *mac);
int neigh_del(struct pub *p, const struct gw_neigh_key *k);
void neigh_flush(struct pub *p);

/**
 * @p k is at @p mac, as @p how tells. Only NEIGH_HEARD makes an entry
 * (RFC 826: a request for us; RFC 4861 7.2.3: an NS for us); the others
 * update one we have (7.2.5: an NA with no entry is dropped), so nobody
 * on the link fills the table by talking. Without @p override (an NA's
 * O flag clear), a MAC that differs from a complete entry's is not
 * taken, and a reachable entry only becomes stale (7.2.5).
 */
void neigh_learn(struct pub *p, const struct gw_neigh_key *k,
		 const struct rte_ether_addr *mac, enum neigh_how how, bool override);

/**
 * A solicited NA without a target link-layer option for @p k (RFC 4861
 * 7.2.5): the MAC we have is confirmed, a stale or probed entry is
 * reachable again. Linux leaves the option out of its answer to a
 * unicast NS, which is how a stale entry is probed. An incomplete
 * entry (no MAC yet) is left as it is.
 */
void neigh_confirm(struct pub *p, const struct gw_neigh_key *k);

/** A packet (L3, ready to go out of k->port) waits for @p k: it is queued
 *  and resolution starts, or it is dropped and counted. Takes @p m. */
void neigh_resolve(struct pub *p, const struct gw_neigh_key *k, struct rte_mbuf *m);

/** Retries, probes and ageing due at @p now_ns. @return work done. */
unsigned int neigh_timers(struct pub *p, uint64_t now_ns);

/** Walk every entry: for (i = 0; (n = neigh_next(p, &i)) != NULL; ) */
const struct neigh *neigh_next(const struct pub *p, size_t *i);

/** The name `ip neigh` gives @p state (permanent, reachable, ...). */
const char *neigh_state_name(uint8_t state);

#endif /* ESPD_NEIGH_H */
