/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's larval table (hold.h): open addressing, linear probing,
 * backward-shift deletion (no tombstones, so a long-lived worker never
 * degrades), and a free list of packet links.
 */
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "dataplane/hold.h"

#define MASK (GW_HOLD_SLOTS - 1)

_Static_assert((GW_HOLD_SLOTS & MASK) == 0, "slots: a power of two");

struct gw_hold *
gw_hold_new(int socket)
{
	struct gw_hold *h = rte_zmalloc_socket("gw_hold", sizeof(*h), RTE_CACHE_LINE_SIZE,
					       socket);
	uint32_t i;

	if (h == NULL)
		return NULL;
	/* Touch every page now: rte_zmalloc() may hand out memory it knows
	 * is zero without writing it, and the first touch of 2.7 MB of
	 * fresh pages on the fast path cost a worker ~10 ms of page faults
	 * (with --no-huge), long enough to overflow its RX ring. */
	memset(h, 0, sizeof(*h));
	for (i = 0; i < GW_HOLD_PKTS; i++)
		h->next[i] = i + 1 < GW_HOLD_PKTS ? i + 1 : GW_HOLD_NONE;
	h->free_pkt = 0;
	return h;
}

void
gw_hold_free(struct gw_hold *h)
{
	rte_free(h);
}

uint32_t
gw_hold_hash(const struct gw_flow_key *fk)
{
	/* Keys are 4-byte aligned; rte_hash_crc() loads 8 bytes at a time
	 * through a cast, so hash an aligned copy. */
	uint64_t k[sizeof(*fk) / 8];
	uint32_t h = 0;
	unsigned int i;

	memcpy(k, fk, sizeof(k));
	for (i = 0; i < RTE_DIM(k); i++)
		h = rte_hash_crc_8byte(k[i], h);
	return h;
}

/* Every key sits within PROBE_MAX slots of its home (gw_hold_add()
 * refuses it further out; backward-shift deletion only moves keys
 * closer): flows crafted so that their CRCs share a home (a host behind
 * a pfp policy can find thousands offline) cost a bounded walk. */
#define PROBE_MAX 64

struct gw_hold_entry *
gw_hold_find(struct gw_hold *h, const struct gw_flow_key *fk, uint32_t hash)
{
	uint32_t i, n;

	for (i = hash & MASK, n = 0; n < PROBE_MAX; i = (i + 1) & MASK, n++) {
		struct gw_hold_entry *e = &h->slot[i];

		if (!e->used)
			return NULL;
		if (e->hash == hash && memcmp(&e->key, fk, sizeof(*fk)) == 0)
			return e;
	}
	return NULL;
}

int
gw_hold_add(struct gw_hold *h, const struct gw_flow_key *fk, uint32_t hash,
	    uint8_t pfp, struct rte_mbuf *m, const struct flow_key *pkt,
	    uint32_t per_key, uint32_t total, uint64_t now,
	    struct gw_hold_entry **entry, bool *created)
{
	struct gw_hold_entry *e = NULL;
	uint32_t i, l, n;

	*created = false;
	*entry = NULL;
	for (i = hash & MASK, n = 0;; i = (i + 1) & MASK, n++) {
		if (n == PROBE_MAX)
			return -1; /* no room near its home */
		e = &h->slot[i];
		if (!e->used)
			break;
		if (e->hash == hash && memcmp(&e->key, fk, sizeof(*fk)) == 0)
			break;
	}
	if (!e->used) {
		/* Half the slots at most: probe runs stay short. */
		if (h->n_keys >= GW_HOLD_KEYS)
			return -1;
		memset(e, 0, sizeof(*e));
		e->key = *fk;
		e->hash = hash;
		e->pfp = pfp;
		e->used = 1;
		e->born_tsc = now;
		e->head = e->tail = GW_HOLD_NONE;
		e->pkt = *pkt;
		h->n_keys++;
		*created = true;
	}
	*entry = e;
	if (e->n >= per_key || h->n_pkts >= total || h->free_pkt == GW_HOLD_NONE)
		return -1;
	l = h->free_pkt;
	h->free_pkt = h->next[l];
	h->pkt[l] = m;
	h->next[l] = GW_HOLD_NONE;
	if (e->tail == GW_HOLD_NONE)
		e->head = l;
	else
		h->next[e->tail] = l;
	e->tail = l;
	e->n++;
	h->n_pkts++;
	return 0;
}

uint16_t
gw_hold_take(struct gw_hold *h, struct gw_hold_entry *e, struct rte_mbuf *out[],
	     uint16_t max)
{
	uint16_t k = 0;

	while (k < max && e->head != GW_HOLD_NONE) {
		uint32_t l = e->head;

		out[k++] = h->pkt[l];
		h->pkt[l] = NULL;
		e->head = h->next[l];
		h->next[l] = h->free_pkt;
		h->free_pkt = l;
	}
	if (e->head == GW_HOLD_NONE)
		e->tail = GW_HOLD_NONE;
	e->n = (uint16_t)(e->n - k);
	h->n_pkts -= k;
	return k;
}

void
gw_hold_remove(struct gw_hold *h, struct gw_hold_entry *e)
{
	uint32_t hole = (uint32_t)(e - h->slot), i, home;

	/* Backward shift: move later members of the probe run into the hole
	 * when their home slot is not between the hole and where they sit. */
	for (i = (hole + 1) & MASK; h->slot[i].used; i = (i + 1) & MASK) {
		home = h->slot[i].hash & MASK;
		if (((i - home) & MASK) >= ((i - hole) & MASK)) {
			h->slot[hole] = h->slot[i];
			hole = i;
		}
	}
	memset(&h->slot[hole], 0, sizeof(h->slot[hole]));
	h->n_keys--;
}

uint32_t
gw_hold_drop(struct gw_hold *h, struct gw_hold_entry *e)
{
	struct rte_mbuf *m[32];
	uint32_t total = 0;
	uint16_t n, i;

	while ((n = gw_hold_take(h, e, m, 32)) > 0) {
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
		total += n;
	}
	gw_hold_remove(h, e);
	return total;
}
