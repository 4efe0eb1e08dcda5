/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the control plane's hash tables (control/hmap.c): the
 * set of objects found by the keys they hold (struct hset) through
 * growth, deletions that shift runs back, reservations and walks, and
 * the map (struct hmap) it shares its probing with.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "control/hmap.h"
#include "unit.h"

/* An object with its key inside, as struct model_flow. */
struct obj {
	uint32_t n;
	char key[12];
};

static const void *
key_inside(const void *o, void *buf)
{
	(void)buf;
	return ((const struct obj *)o)->key;
}

/* A key made from the object, as struct model_sa's (dst, spi). */
static const void *
key_made(const void *o, void *buf)
{
	uint64_t k = ((const struct obj *)o)->n * 0x9e3779b97f4a7c15ull;

	memcpy(buf, &k, sizeof(k));
	return buf;
}

static void
obj_key(char key[12], uint32_t n)
{
	memset(key, 0, 12);
	snprintf(key, 12, "k%u", n);
}

enum { N = 20000 };

static struct obj *
objs_new(void)
{
	struct obj *o = calloc(N, sizeof(*o));
	uint32_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	for (i = 0; i < N; i++) {
		o[i].n = i;
		obj_key(o[i].key, i);
	}
	return o;
}

/* Every object found by its key, nothing else; deletions in a scattered
 * order (each shifts its run back) lose no other. */
static void
test_set_find_del(void)
{
	struct obj *o = objs_new();
	struct hset h;
	char key[12];
	uint32_t i;

	CU_ASSERT_EQUAL_FATAL(hset_init(&h, sizeof(key), key_inside), 0);
	obj_key(key, 1);
	CU_ASSERT_PTR_NULL(hset_find(&h, key));
	CU_ASSERT_PTR_NULL(hset_del(&h, key));
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(hset_add(&h, &o[i]), 0);
	CU_ASSERT_EQUAL(hset_count(&h), N);
	CU_ASSERT(h.n * 4 <= h.cap * 3);
	for (i = 0; i < N; i++) {
		obj_key(key, i);
		CU_ASSERT_PTR_EQUAL(hset_find(&h, key), &o[i]);
	}
	obj_key(key, N);
	CU_ASSERT_PTR_NULL(hset_find(&h, key));
	/* Two of every three go, in a scattered order. */
	for (i = 0; i < N; i++) {
		uint32_t j = (i * 7919u) % N;

		if (j % 3 == 0)
			continue;
		obj_key(key, j);
		CU_ASSERT_PTR_EQUAL(hset_del(&h, key), &o[j]);
		CU_ASSERT_PTR_NULL(hset_find(&h, key));
	}
	CU_ASSERT_EQUAL(hset_count(&h), (N + 2) / 3);
	for (i = 0; i < N; i++) {
		obj_key(key, i);
		CU_ASSERT_PTR_EQUAL(hset_find(&h, key), i % 3 == 0 ? &o[i] : NULL);
	}
	hset_free(&h);
	CU_ASSERT_EQUAL(hset_count(&h), 0);
	CU_ASSERT_PTR_NULL(hset_find(&h, key));
	free(o);
}

/* Keys made into the caller's buffer; a walk sees each object once. */
static void
test_set_made_keys_walk(void)
{
	struct obj *o = objs_new();
	uint8_t *seen = calloc(N, 1);
	struct hset h;
	size_t it = 0;
	void *v;
	uint32_t i, n = 0;
	uint64_t k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_EQUAL_FATAL(hset_init(&h, sizeof(k), key_made), 0);
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(hset_add(&h, &o[i]), 0);
	for (i = 0; i < N; i += 97) {
		k = i * 0x9e3779b97f4a7c15ull;
		CU_ASSERT_PTR_EQUAL(hset_find(&h, &k), &o[i]);
	}
	while (hset_next(&h, &it, &v)) {
		struct obj *x = v;

		CU_ASSERT_EQUAL(seen[x->n], 0);
		seen[x->n] = 1;
		n++;
	}
	CU_ASSERT_EQUAL(n, N);
	hset_free(&h);
	free(seen);
	free(o);
}

/* After a reservation, that many adds cannot fail: the table does not
 * grow under them. */
static void
test_set_reserve(void)
{
	struct obj *o = objs_new();
	struct hset h;
	size_t cap;
	uint32_t i;

	CU_ASSERT_EQUAL_FATAL(hset_init(&h, 12, key_inside), 0);
	for (i = 0; i < 100; i++)
		CU_ASSERT_EQUAL_FATAL(hset_add(&h, &o[i]), 0);
	CU_ASSERT_EQUAL_FATAL(hset_reserve(&h, 5000), 0);
	/* Past what any size can hold: refused (its doubling wrapped to 0
	 * and looped for ever). */
	CU_ASSERT_EQUAL(hset_reserve(&h, SIZE_MAX / 4 - 1000), -ENOMEM);
	cap = h.cap;
	CU_ASSERT(cap * 3 >= 5100 * 4);
	for (; i < 5100; i++)
		CU_ASSERT_EQUAL_FATAL(hset_add(&h, &o[i]), 0);
	CU_ASSERT_EQUAL(h.cap, cap);
	CU_ASSERT_EQUAL(hset_reserve(&h, SIZE_MAX / 2), -ENOMEM);
	CU_ASSERT_EQUAL(h.cap, cap);
	CU_ASSERT_EQUAL(hset_count(&h), 5100);
	hset_free(&h);
	free(o);
}

static void
test_set_init_refuses(void)
{
	struct hset h;

	CU_ASSERT_EQUAL(hset_init(&h, 0, key_inside), -EINVAL);
	CU_ASSERT_EQUAL(hset_init(&h, HSET_KEY_MAX + 1, key_inside), -EINVAL);
	CU_ASSERT_EQUAL(hset_init(&h, 8, NULL), -EINVAL);
	CU_ASSERT_EQUAL(hset_init(&h, HSET_KEY_MAX, key_inside), 0);
}

/* The map: values replaced in place, deletions shift runs back. */
static void
test_map(void)
{
	struct hmap m;
	uint32_t i, k;
	void **v;

	hmap_init(&m, sizeof(k));
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(hmap_put(&m, &i, (void *)(uintptr_t)(i + 1)), 0);
	k = 5;
	CU_ASSERT_EQUAL(hmap_put(&m, &k, (void *)(uintptr_t)77), 0);
	CU_ASSERT_EQUAL(hmap_count(&m), N);
	for (i = 0; i < N; i += 2)
		CU_ASSERT(hmap_del(&m, &i));
	for (i = 0; i < N; i++) {
		v = hmap_find(&m, &i);
		CU_ASSERT(i % 2 == 0 ? v == NULL :
			  v != NULL && (uintptr_t)*v == (i == 5 ? 77 : i + 1));
	}
	hmap_free(&m);
}

int
test_hmap_register(void)
{
	CU_pSuite s = CU_add_suite("hmap", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "set: find, scattered deletes", test_set_find_del) == NULL ||
	    CU_add_test(s, "set: keys made, walk", test_set_made_keys_walk) == NULL ||
	    CU_add_test(s, "set: reserve", test_set_reserve) == NULL ||
	    CU_add_test(s, "set: sizes it refuses", test_set_init_refuses) == NULL ||
	    CU_add_test(s, "map: replace, delete", test_map) == NULL)
		return CU_get_error();
	return 0;
}
