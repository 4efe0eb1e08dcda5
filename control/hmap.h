/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A plain hash map for what only the control plane reads: fixed-size keys
 * copied in, one pointer-sized value each. Open addressing with linear
 * probing and backward-shift deletion (no tombstones), grown by doubling.
 * No DPDK: the model and --check use it without EAL.
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

#endif /* ESPD_HMAP_H */
