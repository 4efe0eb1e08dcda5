/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Plain hash tables for what only the control plane reads, both with open
 * addressing, linear probing and backward-shift deletion (no tombstones),
 * grown by doubling. No DPDK: the model and --check use them without EAL.
 *
 * - struct hmap: fixed-size keys copied in, one pointer-sized value each.
 * - struct hset: pointers to objects that hold their own key, found by
 *   it. The key is not copied: an index of a million records costs a
 *   pointer and a tag byte per slot, not a second copy of each key.
 *
 * Not thread-safe. Pointers returned by hmap_find() stay valid until the
 * next hmap_put() or hmap_del().
 */
#ifndef ESPD_HMAP_H
#define ESPD_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap {
	size_t key_len;
	size_t cap;      /**< slots, a power of two (0 before the first put) */
	size_t n;        /**< entries */
	uint8_t *used;   /**< one byte per slot */
	uint8_t *keys;   /**< cap * key_len bytes */
	void **vals;
};

/** An empty map of @p key_len-byte keys (nothing allocated yet). */
void hmap_init(struct hmap *h, size_t key_len);

/** Free everything; the map is empty and usable again. */
void hmap_free(struct hmap *h);

/** The value slot of @p key, or NULL when absent. */
void **hmap_find(const struct hmap *h, const void *key);

/** Insert @p key or replace its value. @return 0 or -ENOMEM. */
int hmap_put(struct hmap *h, const void *key, void *val);

/** Remove @p key. @return whether it was there. */
bool hmap_del(struct hmap *h, const void *key);

/** Entries in the map. */
static inline size_t
hmap_count(const struct hmap *h)
{
	return h->n;
}

/** Walk: for (i = 0; hmap_next(h, &i, &k, &v); ) — no changes meanwhile. */
bool hmap_next(const struct hmap *h, size_t *i, const void **key, void **val);

/* ---- sets of objects keyed by their contents ---------------------------- */

#define HSET_KEY_MAX 64 /**< bytes of the longest key */

/**
 * The key of object @p obj: a pointer into it, or @p buf (HSET_KEY_MAX
 * bytes) filled in and returned.
 */
typedef const void *(*hset_key_fn)(const void *obj, void *buf);

struct hset {
	size_t key_len;
	hset_key_fn key;
	size_t cap;      /**< slots, a power of two (0 before the first add) */
	size_t n;        /**< objects */
	/** One byte per slot: 0 empty, else 0x80 and 7 bits of the hash, so
	 *  most probes of a lookup skip an object without reading it. */
	uint8_t *tags;
	void **objs;
};

/**
 * An empty set of objects whose @p key_len-byte keys @p key gives
 * (nothing allocated yet). @return 0, or -EINVAL when @p key_len is 0 or
 * above HSET_KEY_MAX.
 */
int hset_init(struct hset *h, size_t key_len, hset_key_fn key);

/** Free the table (not the objects); the set is empty and usable again. */
void hset_free(struct hset *h);

/** The object whose key is @p key, or NULL. */
void *hset_find(const struct hset *h, const void *key);

/**
 * Room for @p more further objects, so that the next @p more hset_add()
 * calls cannot fail. @return 0 or -ENOMEM.
 */
int hset_reserve(struct hset *h, size_t more);

/**
 * Add @p obj. No object with its key may be in the set already, and its
 * key must not change while it is in. @return 0 or -ENOMEM.
 */
int hset_add(struct hset *h, void *obj);

/** Remove the object whose key is @p key. @return it, or NULL. */
void *hset_del(struct hset *h, const void *key);

/** Objects in the set. */
static inline size_t
hset_count(const struct hset *h)
{
	return h->n;
}

/** Walk: for (i = 0; hset_next(h, &i, &obj); ) — no changes meanwhile. */
bool hset_next(const struct hset *h, size_t *i, void **obj);

#endif /* ESPD_HMAP_H */
