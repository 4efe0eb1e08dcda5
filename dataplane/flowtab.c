/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow table (flowtab.h): open addressing over 64-byte slots, linear
 * probing, one writer. A slot goes EMPTY -> USED -> DEAD (deleted, its key
 * kept for readers still comparing it) -> FREE (after the grace period:
 * reusable, but probes go on past it) -> USED ... A FREE run that ends in
 * an EMPTY slot becomes EMPTY again, so that deletes do not lengthen the
 * probes of misses for ever.
 *
 * Invariant: between a USED slot and its key's home every slot is not
 * EMPTY. An insert fills the first FREE or EMPTY slot from the home, and
 * only a FREE slot followed by an EMPTY one turns EMPTY, so no probe that
 * could still reach a key is cut short. That holds at every instant, so a
 * reader walking the slots one by one finds every key present throughout.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "dataplane/flowtab.h"

enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_DEAD, SLOT_FREE };

struct flowtab_slot {
	struct gw_flow_key key;
	void *data;
	uint32_t hash;
	uint32_t state; /* written last (release), read first (acquire) */
};

_Static_assert(sizeof(struct flowtab_slot) == RTE_CACHE_LINE_SIZE, "a slot is one line");

struct flowtab {
	struct flowtab_slot *slot;
	uint32_t n_slots;
	uint32_t count;
};

static inline uint32_t
key_hash(const struct gw_flow_key *k)
{
	return rte_hash_crc(k, sizeof(*k), 0);
}

/* The home slot of @p h: the 32-bit hash scaled to the table (no power of
 * two needed, so the table is sized to what it holds). */
static inline uint32_t
home(const struct flowtab *t, uint32_t h)
{
	return (uint32_t)(((uint64_t)h * t->n_slots) >> 32);
}

static inline uint32_t
next(const struct flowtab *t, uint32_t i)
{
	return ++i == t->n_slots ? 0 : i;
}

static inline uint64_t
word(const struct gw_flow_key *k, unsigned int i)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)k + 8 * i, sizeof(v));
	return v;
}

/* Two flow keys alike, in six 8-byte compares straight from memory (the
 * two arrays of an earlier version went through the stack). */
static inline bool
key_eq(const struct gw_flow_key *a, const struct gw_flow_key *b)
{
	_Static_assert(sizeof(*a) == 48, "six words");
	return ((word(a, 0) ^ word(b, 0)) | (word(a, 1) ^ word(b, 1)) |
		(word(a, 2) ^ word(b, 2)) | (word(a, 3) ^ word(b, 3)) |
		(word(a, 4) ^ word(b, 4)) | (word(a, 5) ^ word(b, 5))) == 0;
}

static inline uint32_t
probe_max(const struct flowtab *t)
{
	return RTE_MIN((uint32_t)FLOWTAB_PROBE_MAX, t->n_slots);
}

struct flowtab *
flowtab_create(const char *name, uint32_t entries, int socket)
{
	struct flowtab *t = rte_zmalloc_socket(name, sizeof(*t), RTE_CACHE_LINE_SIZE, socket);

	if (t == NULL)
		return NULL;
	/* A fifth spare: the control plane asks for a quarter more than
	 * --max-sas already, so a full table is at most 64 % taken, where
	 * linear probing's runs stay short (a hit looks at 2 slots on
	 * average, mostly on the one line; an insert or a miss at 4). As
	 * many bytes as rte_hash took for the same entries. */
	t->n_slots = RTE_MAX(entries + entries / 4, 64u);
	t->slot = rte_zmalloc_socket(name, (size_t)t->n_slots * sizeof(*t->slot),
				     RTE_CACHE_LINE_SIZE, socket);
	if (t->slot == NULL) {
		rte_free(t);
		rte_errno = ENOMEM;
		return NULL;
	}
	return t;
}

void
flowtab_free(struct flowtab *t)
{
	if (t == NULL)
		return;
	rte_free(t->slot);
	rte_free(t);
}

uint32_t
flowtab_count(const struct flowtab *t)
{
	return t->count;
}

int
flowtab_add(struct flowtab *t, const struct gw_flow_key *key, void *data)
{
	uint32_t h = key_hash(key), i = home(t, h), p, max = probe_max(t);
	struct flowtab_slot *s, *put = NULL;

	for (p = 0; p < max; p++, i = next(t, i)) {
		s = &t->slot[i];
		if (s->state == SLOT_USED && s->hash == h && key_eq(&s->key, key)) {
			/* Make before break: readers see the old SA or this. */
			__atomic_store_n(&s->data, data, __ATOMIC_RELEASE);
			return 0;
		}
		if (put == NULL && (s->state == SLOT_FREE || s->state == SLOT_EMPTY))
			put = s;
		if (s->state == SLOT_EMPTY)
			break;
	}
	if (put == NULL)
		return -ENOSPC;
	put->key = *key;
	put->hash = h;
	put->data = data;
	__atomic_store_n(&put->state, SLOT_USED, __ATOMIC_RELEASE);
	t->count++;
	return 0;
}

int32_t
flowtab_del(struct flowtab *t, const struct gw_flow_key *key)
{
	uint32_t h = key_hash(key), i = home(t, h), p, max = probe_max(t);

	for (p = 0; p < max; p++, i = next(t, i)) {
		struct flowtab_slot *s = &t->slot[i];

		if (s->state == SLOT_EMPTY)
			break;
		if (s->state == SLOT_USED && s->hash == h && key_eq(&s->key, key)) {
			__atomic_store_n(&s->state, SLOT_DEAD, __ATOMIC_RELEASE);
			t->count--;
			return (int32_t)i;
		}
	}
	return -ENOENT;
}

void
flowtab_free_pos(struct flowtab *t, int32_t pos)
{
	uint32_t i = (uint32_t)pos;

	if (pos < 0 || i >= t->n_slots || t->slot[i].state != SLOT_DEAD)
		return;
	__atomic_store_n(&t->slot[i].state, SLOT_FREE, __ATOMIC_RELAXED);
	if (t->slot[next(t, i)].state != SLOT_EMPTY)
		return;
	/* The FREE run before an EMPTY slot ends no probe that a key needs. */
	while (t->slot[i].state == SLOT_FREE) {
		__atomic_store_n(&t->slot[i].state, SLOT_EMPTY, __ATOMIC_RELAXED);
		i = i == 0 ? t->n_slots - 1 : i - 1;
	}
}

/* The probe of one key from slot @p i on. */
static inline int
probe(const struct flowtab *t, const struct gw_flow_key *key, uint32_t h, uint32_t i,
      void **data)
{
	uint32_t p, max = probe_max(t);

	for (p = 0; p < max; p++, i = next(t, i)) {
		const struct flowtab_slot *s = &t->slot[i];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT_EMPTY)
			break;
		if (st == SLOT_USED && s->hash == h && key_eq(&s->key, key)) {
			*data = __atomic_load_n(&s->data, __ATOMIC_ACQUIRE);
			return 0;
		}
	}
	return -ENOENT;
}

int
flowtab_lookup(const struct flowtab *t, const struct gw_flow_key *key, void **data)
{
	uint32_t h = key_hash(key);

	return probe(t, key, h, home(t, h), data);
}

void
flowtab_lookup_bulk(const struct flowtab *t, const struct gw_flow_key *const keys[],
		    uint32_t n, uint64_t *hits, void *data[])
{
	uint32_t h[64], at[64], i;
	uint64_t m = 0;

	RTE_ASSERT(n <= 64);
	/* Every home slot and the one after it on their way first (a hit
	 * probes 1.9 slots on average when the table is 64 % full): one page
	 * walk and two lines a key, all of them overlapped. */
	for (i = 0; i < n && i < 4; i++)
		rte_prefetch0(keys[i]);
	for (i = 0; i < n; i++) {
		if (i + 4 < n)
			rte_prefetch0(keys[i + 4]);
		h[i] = key_hash(keys[i]);
		at[i] = home(t, h[i]);
		rte_prefetch0(&t->slot[at[i]]);
		rte_prefetch0(&t->slot[next(t, at[i])]);
	}
	for (i = 0; i < n; i++)
		if (probe(t, keys[i], h[i], at[i], &data[i]) == 0)
			m |= 1ull << i;
	*hits = m;
}
