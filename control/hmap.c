/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's hash map (see hmap.h). Linear probing keeps a
 * lookup to one or two cache lines; deletion shifts the following run
 * back (Knuth 6.4, algorithm R), so lookups never wade through
 * tombstones after heavy churn (PFP flows come and go by the thousand).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/hmap.h"

#define LOAD_NUM 3 /* grow past 3/4 full */
#define LOAD_DEN 4

static uint64_t
hash(const uint8_t *k, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return h;
}

void
hmap_init(struct hmap *h, size_t key_len)
{
	memset(h, 0, sizeof(*h));
	h->key_len = key_len;
}

void
hmap_free(struct hmap *h)
{
	size_t key_len = h->key_len;

	free(h->used);
	free(h->keys);
	free(h->vals);
	hmap_init(h, key_len);
}

static uint8_t *
key_at(const struct hmap *h, size_t i)
{
	return h->keys + i * h->key_len;
}

/* The slot holding @p key, or the empty slot where it would go. */
static size_t
probe(const struct hmap *h, const void *key)
{
	size_t mask = h->cap - 1;
	size_t i = hash(key, h->key_len) & mask;

	while (h->used[i] && memcmp(key_at(h, i), key, h->key_len) != 0)
		i = (i + 1) & mask;
	return i;
}

void **
hmap_find(const struct hmap *h, const void *key)
{
	size_t i;

	if (h->n == 0)
		return NULL;
	i = probe(h, key);
	return h->used[i] ? &h->vals[i] : NULL;
}

static int
grow(struct hmap *h)
{
	struct hmap nh = { .key_len = h->key_len };
	size_t i;

	nh.cap = h->cap ? h->cap * 2 : 64;
	nh.used = calloc(nh.cap, 1);
	nh.keys = malloc(nh.cap * nh.key_len);
	nh.vals = malloc(nh.cap * sizeof(*nh.vals));
	if (nh.used == NULL || nh.keys == NULL || nh.vals == NULL) {
		free(nh.used);
		free(nh.keys);
		free(nh.vals);
		return -ENOMEM;
	}
	for (i = 0; i < h->cap; i++) {
		size_t j;

		if (!h->used[i])
			continue;
		j = probe(&nh, key_at(h, i));
		nh.used[j] = 1;
		memcpy(key_at(&nh, j), key_at(h, i), nh.key_len);
		nh.vals[j] = h->vals[i];
		nh.n++;
	}
	free(h->used);
	free(h->keys);
	free(h->vals);
	*h = nh;
	return 0;
}

int
hmap_put(struct hmap *h, const void *key, void *val)
{
	size_t i;

	if ((h->n + 1) * LOAD_DEN > h->cap * LOAD_NUM && grow(h) < 0)
		return -ENOMEM;
	i = probe(h, key);
	if (!h->used[i]) {
		h->used[i] = 1;
		memcpy(key_at(h, i), key, h->key_len);
		h->n++;
	}
	h->vals[i] = val;
	return 0;
}

bool
hmap_del(struct hmap *h, const void *key)
{
	size_t mask, i, j;

	if (h->n == 0)
		return false;
	mask = h->cap - 1;
	i = probe(h, key);
	if (!h->used[i])
		return false;
	/* Shift back every entry of the run that would no longer be
	 * reachable through the hole at i. */
	for (j = (i + 1) & mask; h->used[j]; j = (j + 1) & mask) {
		size_t home = hash(key_at(h, j), h->key_len) & mask;

		/* Does home lie cyclically in (i, j]? Then it stays. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		memcpy(key_at(h, i), key_at(h, j), h->key_len);
		h->vals[i] = h->vals[j];
		i = j;
	}
	h->used[i] = 0;
	h->n--;
	return true;
}

bool
hmap_next(const struct hmap *h, size_t *i, const void **key, void **val)
{
	for (; *i < h->cap; (*i)++) {
		if (h->used[*i]) {
			*key = key_at(h, *i);
			*val = h->vals[*i];
			(*i)++;
			return true;
		}
	}
	return false;
}
