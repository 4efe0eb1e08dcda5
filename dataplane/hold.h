/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A worker's own larval table (DESIGN.md "Packet paths" 5): the packets
 * of each flow key that found no SA yet, held in arrival order until the
 * worker's lookup first hits the SA that a key manager installed, or the
 * control plane says the ACQUIRE expired. Packets never leave the lcore
 * that received them; only a notice per new key goes to lcore 0, which
 * raises one ACQUIRE per key across workers.
 *
 * One writer (the owning lcore), no locks, no atomics. Open addressing
 * with linear probing and backward-shift deletion over GW_HOLD_SLOTS
 * slots; held mbufs sit in a per-table array of links, so a key holds
 * any number of packets up to the caps without allocating.
 */
#ifndef ESPD_HOLD_H
#define ESPD_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dataplane/flowkey.h"

#define GW_HOLD_SLOTS 16384              /**< power of two */
#define GW_HOLD_KEYS (GW_HOLD_SLOTS / 2)   /**< keys held at once, per worker */
#define GW_HOLD_PKTS 65536               /**< packets held at once, per worker */
#define GW_HOLD_NONE UINT32_MAX

struct gw_hold_entry {
	struct gw_flow_key key;
	uint64_t born_tsc;  /**< first packet, or the last re-announce */
	uint32_t head, tail; /**< packet links (GW_HOLD_NONE: none) */
	uint32_t hash;
	uint16_t n;         /**< packets held */
	uint8_t used;
	uint8_t announced;  /**< the MISS notice is on the control plane's ring */
	uint8_t pfp;        /**< the policy's PFP fields */
	uint8_t pad[7];
	struct flow_key pkt; /**< the first packet's fields, for the ACQUIRE */
};

struct gw_hold {
	uint32_t n_keys;
	uint32_t n_pkts;
	uint32_t free_pkt;  /**< head of the free list of packet links */
	uint64_t scan_tsc;  /**< last maintenance step */
	uint32_t scan_pos;  /**< next slot the maintenance scan looks at */
	struct rte_mbuf *pkt[GW_HOLD_PKTS];
	uint32_t next[GW_HOLD_PKTS];
	struct gw_hold_entry slot[GW_HOLD_SLOTS];
};

/** A new, empty table on NUMA socket @p socket (rte_zmalloc); NULL on ENOMEM. */
struct gw_hold *gw_hold_new(int socket);

/** Free the table; its packets must have been taken or dropped. */
void gw_hold_free(struct gw_hold *h);

/** The hash gw_hold_find() and gw_hold_add() take (CRC32 of the key). */
uint32_t gw_hold_hash(const struct gw_flow_key *fk);

/** The entry of @p fk, or NULL. */
struct gw_hold_entry *gw_hold_find(struct gw_hold *h, const struct gw_flow_key *fk,
				   uint32_t hash);

/**
 * Append @p m (whose fields are @p pkt) to the entry of @p fk, making the
 * entry when it is new (*created set). @return 0 when held; -1 when not
 * (the caller drops @p m): the entry holds @p per_key packets already, the
 * table holds @p total, or (*entry NULL) no key slot is left. An entry is
 * made even when its packet is not held (acquire-queue 0: ACQUIRE, no
 * holding), so that the key is announced once.
 */
int gw_hold_add(struct gw_hold *h, const struct gw_flow_key *fk, uint32_t hash,
		uint8_t pfp, struct rte_mbuf *m, const struct flow_key *pkt,
		uint32_t per_key, uint32_t total, uint64_t now,
		struct gw_hold_entry **entry, bool *created);

/** Take up to @p max of @p e's packets, oldest first. @return how many. */
uint16_t gw_hold_take(struct gw_hold *h, struct gw_hold_entry *e,
		      struct rte_mbuf *out[], uint16_t max);

/** Remove entry @p e, which must be empty. Entries after it in the probe
 *  run may move: a caller walking the slots re-reads the current one. */
void gw_hold_remove(struct gw_hold *h, struct gw_hold_entry *e);

/** Free every packet of @p e and remove it. @return packets freed. */
uint32_t gw_hold_drop(struct gw_hold *h, struct gw_hold_entry *e);

#endif /* ESPD_HOLD_H */
