/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Objects of one size from large blocks (see slab.h). Each block starts
 * with its own header: its free list and counts. The slab keeps its
 * blocks in an array sorted by address, so slab_free() finds an object's
 * block by binary search (a million GCM records fill about 1 400 blocks:
 * 11 steps), and a list of the blocks that have a free object, which
 * slab_alloc() takes from.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "control/grow.h"
#include "control/slab.h"

struct slab_block {
	struct slab_block *next, *prev; /* on s->partial, when listed */
	void *free;      /* freed objects, linked through their first word */
	uint32_t n;      /* objects the block holds */
	uint32_t used;   /* objects out */
	uint32_t fresh;  /* objects [fresh, n) were never handed out */
	bool listed;     /* on s->partial */
};

static void *
libc_alloc(void *arg, size_t size, size_t align)
{
	(void)arg;
	if (align <= alignof(max_align_t))
		return malloc(size);
	/* aligned_alloc wants a multiple of the alignment. */
	return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

static void
libc_free(void *arg, void *block)
{
	(void)arg;
	free(block);
}

const struct slab_ops slab_libc_ops = {
	.alloc = libc_alloc,
	.free = libc_free,
};

static size_t
round_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}

int
slab_init(struct slab *s, size_t size, size_t align, uint32_t max,
	  const struct slab_ops *ops, void *arg)
{
	memset(s, 0, sizeof(*s));
	if (align < alignof(void *) || (align & (align - 1)) != 0 ||
	    size == 0 || size > SLAB_BLOCK_BYTES || ops == NULL)
		return -EINVAL;
	/* Every object must hold the free list's link. */
	s->size = round_up(size < sizeof(void *) ? sizeof(void *) : size, align);
	s->align = align;
	s->hdr = round_up(sizeof(struct slab_block), align);
	s->max_objs = (uint32_t)(SLAB_BLOCK_BYTES / s->size);
	if (s->max_objs == 0)
		s->max_objs = 1;
	s->next_objs = s->max_objs < SLAB_FIRST_OBJS ? s->max_objs : SLAB_FIRST_OBJS;
	s->max = max;
	s->ops = ops;
	s->arg = arg;
	return 0;
}

static char *
first_obj(const struct slab *s, const struct slab_block *b)
{
	return (char *)b + s->hdr;
}

static void
list_push(struct slab *s, struct slab_block *b)
{
	b->prev = NULL;
	b->next = s->partial;
	if (s->partial != NULL)
		s->partial->prev = b;
	s->partial = b;
	b->listed = true;
}

static void
list_unlink(struct slab *s, struct slab_block *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->partial = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	b->next = b->prev = NULL;
	b->listed = false;
}

/* Where block @p b goes (or is) in the sorted array: the number of
 * blocks below it. */
static uint32_t
block_rank(const struct slab *s, const void *b)
{
	uint32_t lo = 0, hi = s->n_blocks;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)s->blocks[mid] < (uintptr_t)b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct slab_block *
block_new(struct slab *s)
{
	struct slab_block *b;
	uint32_t at;

	if (GROW(s->blocks, s->n_blocks, s->cap_blocks) < 0)
		return NULL;
	b = s->ops->alloc(s->arg, s->hdr + (size_t)s->next_objs * s->size, s->align);
	if (b == NULL)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->n = s->next_objs;
	at = block_rank(s, b);
	memmove(&s->blocks[at + 1], &s->blocks[at], (s->n_blocks - at) * sizeof(*s->blocks));
	s->blocks[at] = b;
	s->n_blocks++;
	/* Grow geometrically: few blocks for many objects, a small one
	 * for a few. */
	s->next_objs = s->next_objs > s->max_objs / 2 ? s->max_objs : s->next_objs * 2;
	return b;
}

static void
block_drop(struct slab *s, struct slab_block *b)
{
	uint32_t at = block_rank(s, b);

	memmove(&s->blocks[at], &s->blocks[at + 1], (s->n_blocks - at - 1) * sizeof(*s->blocks));
	s->n_blocks--;
	s->ops->free(s->arg, b);
}

void *
slab_alloc(struct slab *s)
{
	struct slab_block *b = s->partial;
	void *obj;

	if (s->max != 0 && s->n_used >= s->max) {
		errno = ENOSPC;
		return NULL;
	}
	if (b == NULL) {
		b = s->spare != NULL ? s->spare : block_new(s);
		if (b == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		s->spare = NULL;
		list_push(s, b);
	}
	if (b->free != NULL) {
		obj = b->free;
		memcpy(&b->free, obj, sizeof(b->free));
	} else {
		obj = first_obj(s, b) + (size_t)b->fresh++ * s->size;
	}
	b->used++;
	s->n_used++;
	if (b->free == NULL && b->fresh == b->n)
		list_unlink(s, b);
	return obj;
}

/* The block that handed out @p obj, or NULL if none did. */
static struct slab_block *
block_of(const struct slab *s, const void *obj)
{
	uint32_t at = block_rank(s, obj);
	const struct slab_block *b;
	size_t off;

	/* The block starts below the object: the last one below it. */
	if (at == 0)
		return NULL;
	b = s->blocks[at - 1];
	if ((uintptr_t)obj < (uintptr_t)first_obj(s, b))
		return NULL;
	off = (uintptr_t)obj - (uintptr_t)first_obj(s, b);
	if (off % s->size != 0 || off / s->size >= b->fresh || b->used == 0)
		return NULL;
	return (struct slab_block *)b;
}

int
slab_free(struct slab *s, void *obj)
{
	struct slab_block *b = block_of(s, obj);

	if (b == NULL)
		return -EINVAL;
	memcpy(obj, &b->free, sizeof(b->free));
	b->free = obj;
	b->used--;
	s->n_used--;
	if (b->used > 0) {
		if (!b->listed)
			list_push(s, b);
		return 0;
	}
	if (b->listed)
		list_unlink(s, b);
	if (s->spare == NULL)
		s->spare = b;
	else
		block_drop(s, b);
	return 0;
}

void
slab_fini(struct slab *s)
{
	uint32_t i;

	for (i = 0; i < s->n_blocks; i++)
		s->ops->free(s->arg, s->blocks[i]);
	free(s->blocks);
	s->blocks = NULL;
	s->n_blocks = s->cap_blocks = 0;
	s->partial = s->spare = NULL;
	s->n_used = 0;
	s->next_objs = s->max_objs < SLAB_FIRST_OBJS ? s->max_objs : SLAB_FIRST_OBJS;
}
