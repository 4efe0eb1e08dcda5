/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Objects of one size carved from large blocks (a slab): no allocator
 * header and no size rounding per object, which at a million SAs is the
 * difference between 1 472 and 1 600 bytes of DPDK heap per record, or
 * 224 and 240 bytes of libc heap per control record.
 *
 * Where the blocks come from is the caller's (struct slab_ops): rte_malloc
 * for the data plane's SA records (control/publish.c), malloc for the
 * model's records (slab_libc_ops). The slab itself is plain C, so the
 * model and --check use it without EAL.
 *
 * - Blocks grow from a few objects to about SLAB_BLOCK_BYTES, so a small
 *   gateway does not reserve a megabyte per size for its first SA.
 * - An object is carved from its block only when first handed out, so a
 *   block's untouched tail costs no resident memory.
 * - A block whose objects are all free is given back, except one kept in
 *   reserve, so churn around a block boundary does not allocate and free
 *   a block each time.
 * - At most @c max objects are out at once (0: no bound).
 *
 * Objects come back as they were left, not zeroed: whoever frees one
 * wipes what it held (keys) first. A free object's first pointer-sized
 * word links it into its block's free list.
 *
 * Not thread-safe: one thread (the control plane) allocates and frees.
 * Readers on other threads (workers under RCU) never touch the slab
 * itself, only the objects.
 */
#ifndef ESPD_SLAB_H
#define ESPD_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_BLOCK_BYTES (1u << 20) /**< a full-grown block, about */
#define SLAB_FIRST_OBJS 8           /**< objects in the first block */

/** Where a slab's blocks come from. */
struct slab_ops {
	/** @p size bytes aligned to @p align (a power of two), or NULL. */
	void *(*alloc)(void *arg, size_t size, size_t align);
	void (*free)(void *arg, void *block);
};

/** Blocks from malloc (aligned_alloc past malloc's own alignment). */
extern const struct slab_ops slab_libc_ops;

struct slab_block;

struct slab {
	size_t size;            /**< bytes per object, a multiple of align */
	size_t align;           /**< of every object, a power of two */
	size_t hdr;             /**< bytes of a block before its first object */
	uint32_t next_objs;     /**< objects in the next block made */
	uint32_t max_objs;      /**< objects in a full-grown block */
	uint32_t max;           /**< objects out at once at most; 0: no bound */
	uint32_t n_used;        /**< objects out now */
	struct slab_block **blocks; /**< every block, by address */
	uint32_t n_blocks, cap_blocks;
	struct slab_block *partial; /**< blocks with a free object, some in use */
	struct slab_block *spare;   /**< a block with none in use, or NULL */
	const struct slab_ops *ops;
	void *arg;
};

/**
 * An empty slab of @p size-byte objects aligned to @p align (a power of
 * two, at least a pointer's alignment), at most @p max out at once (0: no
 * bound), with blocks from @p ops (@p arg passed on). Nothing is
 * allocated yet. @return 0, or -EINVAL for a size or alignment it cannot
 * serve.
 */
int slab_init(struct slab *s, size_t size, size_t align, uint32_t max,
	      const struct slab_ops *ops, void *arg);

/**
 * An object, its contents undefined. @return NULL with errno ENOSPC when
 * @c max objects are out, or ENOMEM when no block could be had.
 */
void *slab_alloc(struct slab *s);

/**
 * Give @p obj back (wipe what it held first). A block left with no
 * object in use is freed, or kept as the spare. @return 0, or -EINVAL
 * (nothing done) when @p obj is not an object of this slab.
 */
int slab_free(struct slab *s, void *obj);

/** Free every block, objects still out included. The slab is empty and
 *  usable again. */
void slab_fini(struct slab *s);

/** Objects out now. */
static inline uint32_t
slab_in_use(const struct slab *s)
{
	return s->n_used;
}

/** Blocks held now (spare included). */
static inline uint32_t
slab_blocks(const struct slab *s)
{
	return s->n_blocks;
}

#endif /* ESPD_SLAB_H */
