/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's hash map and set (see hmap.h). Linear probing keeps
 * a lookup to one or two cache lines; deletion shifts the following run
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

/* ---- struct hset ------------------------------------------------------ */

/* 0x80 marks the slot used; the low 7 bits are the hash's top ones (the
 * slot index comes from its low ones). */
static uint8_t
tag_of(uint64_t hv)
{
	return (uint8_t)(0x80 | (hv >> 57));
}

static uint64_t
obj_hash(const struct hset *h, const void *obj)
{
	uint64_t buf[HSET_KEY_MAX / 8];

	return hash(h->key(obj, buf), h->key_len);
}

int
hset_init(struct hset *h, size_t key_len, hset_key_fn key)
{
	memset(h, 0, sizeof(*h));
	if (key_len == 0 || key_len > HSET_KEY_MAX || key == NULL)
		return -EINVAL;
	h->key_len = key_len;
	h->key = key;
	return 0;
}

void
hset_free(struct hset *h)
{
	free(h->tags);
	free(h->objs);
	h->tags = NULL;
	h->objs = NULL;
	h->cap = h->n = 0;
}

/* The slot holding the object with @p key (hash @p hv), or the empty slot
 * where it would go. */
static size_t
set_probe(const struct hset *h, const void *key, uint64_t hv)
{
	uint64_t buf[HSET_KEY_MAX / 8];
	size_t mask = h->cap - 1, i = hv & mask;
	uint8_t tag = tag_of(hv);

	for (; h->tags[i] != 0; i = (i + 1) & mask)
		if (h->tags[i] == tag &&
		    memcmp(h->key(h->objs[i], buf), key, h->key_len) == 0)
			break;
	return i;
}

void *
hset_find(const struct hset *h, const void *key)
{
	size_t i;

	if (h->n == 0)
		return NULL;
	i = set_probe(h, key, hash(key, h->key_len));
	return h->tags[i] != 0 ? h->objs[i] : NULL;
}

/* Put @p obj (hash @p hv) in the first free slot of its run: the caller
 * knows its key is not there. */
static void
set_place(struct hset *h, void *obj, uint64_t hv)
{
	size_t mask = h->cap - 1, i = hv & mask;

	while (h->tags[i] != 0)
		i = (i + 1) & mask;
	h->tags[i] = tag_of(hv);
	h->objs[i] = obj;
	h->n++;
}

static int
set_resize(struct hset *h, size_t cap)
{
	struct hset nh = *h;
	size_t i;

	nh.cap = cap;
	nh.n = 0;
	nh.tags = calloc(cap, 1);
	nh.objs = malloc(cap * sizeof(*nh.objs));
	if (nh.tags == NULL || nh.objs == NULL) {
		free(nh.tags);
		free(nh.objs);
		return -ENOMEM;
	}
	for (i = 0; i < h->cap; i++)
		if (h->tags[i] != 0)
			set_place(&nh, h->objs[i], obj_hash(h, h->objs[i]));
	free(h->tags);
	free(h->objs);
	*h = nh;
	return 0;
}

int
hset_reserve(struct hset *h, size_t more)
{
	size_t cap = h->cap ? h->cap : 64;

	if (more > SIZE_MAX / LOAD_DEN - h->n - 1)
		return -ENOMEM;
	/* At most 3/4 full, as struct hmap. */
	while ((h->n + more) * LOAD_DEN > cap * LOAD_NUM) {
		if (cap > SIZE_MAX / 2 / sizeof(void *))
			return -ENOMEM;
		cap *= 2;
	}
	return cap == h->cap ? 0 : set_resize(h, cap);
}

int
hset_add(struct hset *h, void *obj)
{
	int rc = hset_reserve(h, 1);

	if (rc == 0)
		set_place(h, obj, obj_hash(h, obj));
	return rc;
}

void *
hset_del(struct hset *h, const void *key)
{
	size_t mask, i, j;
	void *obj;

	if (h->n == 0)
		return NULL;
	mask = h->cap - 1;
	i = set_probe(h, key, hash(key, h->key_len));
	if (h->tags[i] == 0)
		return NULL;
	obj = h->objs[i];
	/* As hmap_del: shift back what the hole at i would hide. */
	for (j = (i + 1) & mask; h->tags[j] != 0; j = (j + 1) & mask) {
		size_t home = obj_hash(h, h->objs[j]) & mask;

		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		h->tags[i] = h->tags[j];
		h->objs[i] = h->objs[j];
		i = j;
	}
	h->tags[i] = 0;
	h->n--;
	return obj;
}

bool
hset_next(const struct hset *h, size_t *i, void **obj)
{
	for (; *i < h->cap; (*i)++) {
		if (h->tags[*i] != 0) {
			*obj = h->objs[*i];
			(*i)++;
			return true;
		}
	}
	return false;
}
