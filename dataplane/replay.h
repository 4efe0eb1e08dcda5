/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Inbound anti-replay window (RFC 4303 3.4.3) kept as an RFC 6479 ring of
 * 64-bit blocks, so sliding the window costs one cleared block per 64
 * sequence numbers instead of a shift of the whole bitmap. With ESN the
 * high 32 bits are inferred as RFC 4303 appendix A describes.
 *
 * A window belongs to one lcore (the SA's owner): no locking.
 */
#ifndef ESPD_REPLAY_H
#define ESPD_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLAY_WINDOW_MAX 4096u /**< largest window we accept */

struct replay_window {
	uint64_t top;       /**< highest sequence number accepted (full 64 bits) */
	uint32_t size;      /**< W: how far behind top a number is still new */
	uint32_t blk_mask;  /**< number of bitmap blocks - 1 (a power of two) */
	uint64_t bits[];    /**< bit (seq mod nbits) set once seq was accepted */
};

/** Bytes needed for a window of @p size (0 < size <= REPLAY_WINDOW_MAX). */
size_t replay_window_bytes(uint32_t size);

/**
 * Set up @p w (replay_window_bytes(size) bytes) with @p top as the highest
 * number seen and an empty bitmap: as in Linux's replay-seq, numbers at or
 * just below top inside the window are then still accepted once each.
 */
void replay_window_init(struct replay_window *w, uint32_t size, uint64_t top);

/**
 * Full 64-bit sequence number for a received low half (RFC 4303 appendix
 * A). @return false when no epoch can hold it (below epoch 0).
 */
static inline bool
replay_esn_infer(const struct replay_window *w, uint32_t seq_lo,
		 uint64_t *seq)
{
	uint32_t tl = (uint32_t)w->top;
	uint32_t th = (uint32_t)(w->top >> 32);
	uint32_t bottom = tl - (w->size - 1); /* mod 2^32 */

	if (tl >= w->size - 1) {
		/* Case A: the window lies inside one epoch. */
		if (seq_lo < bottom) {
			if (th == UINT32_MAX)
				return false;
			th++;
		}
	} else if (seq_lo >= bottom) {
		/* Case B: the window straddles 2^32; this is the old epoch. */
		if (th == 0)
			return false;
		th--;
	}
	*seq = (uint64_t)th << 32 | seq_lo;
	return true;
}

/**
 * RFC 4303 3.4.3 first check, before the ICV: is @p seq new and inside
 * (or right of) the window? Does not change the window.
 */
static inline bool
replay_check(const struct replay_window *w, uint64_t seq)
{
	uint64_t bit;

	if (seq == 0)
		return false; /* never sent: counters start at 1 */
	if (seq > w->top)
		return true;
	if (w->top - seq >= w->size)
		return false;
	bit = seq & ((uint64_t)(w->blk_mask + 1) * 64 - 1);
	return !(w->bits[bit >> 6] & (1ull << (bit & 63)));
}

/**
 * Check again and record @p seq, after its ICV verified (so a forged
 * packet never moves the window). @return false for a replay, which can
 * happen when a burst carries the same number twice.
 */
bool replay_update(struct replay_window *w, uint64_t seq);

#endif /* ESPD_REPLAY_H */
