/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the slab (control/slab.c): objects handed out distinct
 * and aligned, freed ones reused, the bound, blocks given back when their
 * objects are, foreign pointers refused, and what happens when no block
 * can be had. Blocks come from a counting allocator, so a leak or a
 * double free of a block shows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "control/slab.h"
#include "unit.h"

/* Blocks from malloc, counted; refuses once @c fail is set. */
struct counting {
	int live;
	int made;
	bool fail;
};

static void *
count_alloc(void *arg, size_t size, size_t align)
{
	struct counting *c = arg;
	void *p;

	if (c->fail)
		return NULL;
	p = slab_libc_ops.alloc(NULL, size, align);
	if (p != NULL) {
		c->live++;
		c->made++;
	}
	return p;
}

static void
count_free(void *arg, void *block)
{
	struct counting *c = arg;

	c->live--;
	slab_libc_ops.free(NULL, block);
}

static const struct slab_ops counting_ops = {
	.alloc = count_alloc,
	.free = count_free,
};

/* Distinct, aligned, writable whole; a freed object comes back first. */
static void
test_alloc_free_reuse(void)
{
	struct counting cnt = { 0 };
	enum { N = 300 };
	uint8_t *o[N], *again;
	struct slab s;
	int i, j;

	CU_ASSERT_EQUAL_FATAL(slab_init(&s, 1000, 64, 0, &counting_ops, &cnt), 0);
	CU_ASSERT_EQUAL(s.size, 1024); /* rounded up to the alignment */
	for (i = 0; i < N; i++) {
		o[i] = slab_alloc(&s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o[i]);
		CU_ASSERT_EQUAL((uintptr_t)o[i] % 64, 0);
		memset(o[i], i & 0xff, 1000);
	}
	CU_ASSERT_EQUAL(slab_in_use(&s), N);
	for (i = 0; i < N; i++)
		for (j = 0; j < 1000; j += 111)
			CU_ASSERT_EQUAL(o[i][j], i & 0xff); /* no overlap */
	/* Blocks grow: far fewer than objects, but more than one. */
	CU_ASSERT(slab_blocks(&s) > 1 && slab_blocks(&s) < 10);
	CU_ASSERT_EQUAL(cnt.live, (int)slab_blocks(&s));

	CU_ASSERT_EQUAL(slab_free(&s, o[17]), 0);
	again = slab_alloc(&s);
	CU_ASSERT_PTR_EQUAL(again, o[17]);
	CU_ASSERT_EQUAL(slab_in_use(&s), N);
	slab_fini(&s);
	CU_ASSERT_EQUAL(cnt.live, 0);
	CU_ASSERT_EQUAL(slab_in_use(&s), 0);
	/* Usable again after fini. */
	CU_ASSERT_PTR_NOT_NULL(slab_alloc(&s));
	slab_fini(&s);
	CU_ASSERT_EQUAL(cnt.live, 0);
}

/* At the bound, ENOSPC until one comes back. */
static void
test_bound(void)
{
	struct counting cnt = { 0 };
	struct slab s;
	void *o[5], *x;
	int i;

	CU_ASSERT_EQUAL_FATAL(slab_init(&s, 64, 8, 5, &counting_ops, &cnt), 0);
	for (i = 0; i < 5; i++) {
		o[i] = slab_alloc(&s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o[i]);
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(slab_alloc(&s));
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT_EQUAL(slab_in_use(&s), 5);
	CU_ASSERT_EQUAL(slab_free(&s, o[2]), 0);
	x = slab_alloc(&s);
	CU_ASSERT_PTR_EQUAL(x, o[2]);
	CU_ASSERT_PTR_NULL(slab_alloc(&s));
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(slab_free(&s, o[i]), 0);
	CU_ASSERT_EQUAL(slab_in_use(&s), 0);
	slab_fini(&s);
	CU_ASSERT_EQUAL(cnt.live, 0);
}

/* Blocks whose objects all came back are given back, but one. */
static void
test_blocks_given_back(void)
{
	struct counting cnt = { 0 };
	enum { N = 5000 };
	void **o = calloc(N, sizeof(*o));
	struct slab s;
	int i, made;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL_FATAL(slab_init(&s, 512, 64, 0, &counting_ops, &cnt), 0);
	for (i = 0; i < N; i++) {
		o[i] = slab_alloc(&s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o[i]);
	}
	CU_ASSERT(cnt.live > 3);
	/* Every other one back: every block still has one in use. */
	for (i = 0; i < N; i += 2)
		CU_ASSERT_EQUAL(slab_free(&s, o[i]), 0);
	CU_ASSERT_EQUAL(cnt.live, (int)slab_blocks(&s));
	CU_ASSERT_EQUAL(slab_in_use(&s), N / 2);
	/* Refilled from the holes, not from new blocks. */
	made = cnt.made;
	for (i = 0; i < N; i += 2) {
		o[i] = slab_alloc(&s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o[i]);
	}
	CU_ASSERT_EQUAL(cnt.made, made);
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL(slab_free(&s, o[i]), 0);
	CU_ASSERT_EQUAL(slab_in_use(&s), 0);
	CU_ASSERT_EQUAL(cnt.live, 1); /* the spare */
	CU_ASSERT_EQUAL(slab_blocks(&s), 1);
	/* The spare serves the next one. */
	made = cnt.made;
	o[0] = slab_alloc(&s);
	CU_ASSERT_PTR_NOT_NULL(o[0]);
	CU_ASSERT_EQUAL(cnt.made, made);
	slab_fini(&s);
	CU_ASSERT_EQUAL(cnt.live, 0);
	free(o);
}

/* What is not one of its objects is refused, and changes nothing. */
static void
test_foreign(void)
{
	struct counting cnt = { 0 };
	struct slab s, t;
	uint8_t *a, *b, *c;
	int local;

	CU_ASSERT_EQUAL_FATAL(slab_init(&s, 96, 32, 0, &counting_ops, &cnt), 0);
	CU_ASSERT_EQUAL_FATAL(slab_init(&t, 96, 32, 0, &counting_ops, &cnt), 0);
	CU_ASSERT_EQUAL(slab_free(&s, &local), -EINVAL); /* no block yet */
	a = slab_alloc(&s);
	b = slab_alloc(&s);
	c = slab_alloc(&t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(slab_free(&s, c), -EINVAL);     /* another slab's */
	CU_ASSERT_EQUAL(slab_free(&s, a + 8), -EINVAL); /* inside an object */
	CU_ASSERT_EQUAL(slab_free(&s, b + 96), -EINVAL); /* never handed out */
	CU_ASSERT_EQUAL(slab_free(&s, &local), -EINVAL);
	CU_ASSERT_EQUAL(slab_in_use(&s), 2);
	CU_ASSERT_EQUAL(slab_free(&s, a), 0);
	CU_ASSERT_EQUAL(slab_free(&s, b), 0);
	/* Both back: the block is the spare, and a second free is refused. */
	CU_ASSERT_EQUAL(slab_free(&s, b), -EINVAL);
	CU_ASSERT_EQUAL(slab_in_use(&s), 0);
	CU_ASSERT_EQUAL(slab_free(&t, c), 0);
	slab_fini(&s);
	slab_fini(&t);
	CU_ASSERT_EQUAL(cnt.live, 0);
}

/* No block to be had: ENOMEM, nothing half-done; later it works. */
static void
test_no_memory(void)
{
	struct counting cnt = { .fail = true };
	struct slab s;
	void *o;

	CU_ASSERT_EQUAL_FATAL(slab_init(&s, 200, 8, 0, &counting_ops, &cnt), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(slab_alloc(&s));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	CU_ASSERT_EQUAL(slab_in_use(&s), 0);
	CU_ASSERT_EQUAL(slab_blocks(&s), 0);
	cnt.fail = false;
	o = slab_alloc(&s);
	CU_ASSERT_PTR_NOT_NULL(o);
	CU_ASSERT_EQUAL(slab_free(&s, o), 0);
	slab_fini(&s);
	CU_ASSERT_EQUAL(cnt.live, 0);
}

static void
test_init_refuses(void)
{
	struct slab s;

	CU_ASSERT_EQUAL(slab_init(&s, 64, 48, 0, &slab_libc_ops, NULL), -EINVAL);
	CU_ASSERT_EQUAL(slab_init(&s, 64, 2, 0, &slab_libc_ops, NULL), -EINVAL);
	CU_ASSERT_EQUAL(slab_init(&s, 0, 8, 0, &slab_libc_ops, NULL), -EINVAL);
	CU_ASSERT_EQUAL(slab_init(&s, SLAB_BLOCK_BYTES + 1, 8, 0, &slab_libc_ops, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(slab_init(&s, 64, 8, 0, NULL, NULL), -EINVAL);
	/* Smaller than the free list's link: room for it all the same. */
	CU_ASSERT_EQUAL(slab_init(&s, 1, 8, 0, &slab_libc_ops, NULL), 0);
	CU_ASSERT_EQUAL(s.size, 8);
	slab_fini(&s);
}

int
test_slab_register(void)
{
	CU_pSuite s = CU_add_suite("slab", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "alloc, free, reuse", test_alloc_free_reuse) == NULL ||
	    CU_add_test(s, "at most max out", test_bound) == NULL ||
	    CU_add_test(s, "empty blocks given back, one kept", test_blocks_given_back) == NULL ||
	    CU_add_test(s, "foreign pointers refused", test_foreign) == NULL ||
	    CU_add_test(s, "no block to be had", test_no_memory) == NULL ||
	    CU_add_test(s, "sizes and alignments it refuses", test_init_refuses) == NULL)
		return CU_get_error();
	return 0;
}
