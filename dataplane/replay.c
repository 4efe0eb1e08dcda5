/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dataplane/replay.h"

static uint32_t
window_blocks(uint32_t size)
{
	/* RFC 6479: one spare block beyond the window, so the block being
	 * filled at the right edge never aliases the left edge. */
	uint32_t need = (size + 63) / 64 + 1;
	uint32_t n = 1;

	while (n < need)
		n <<= 1;
	return n;
}

size_t
replay_window_bytes(uint32_t size)
{
	return sizeof(struct replay_window) +
	       window_blocks(size) * sizeof(uint64_t);
}

void
replay_window_init(struct replay_window *w, uint32_t size, uint64_t top)
{
	uint32_t n = window_blocks(size);

	w->top = top;
	w->size = size;
	w->blk_mask = n - 1;
	memset(w->bits, 0, n * sizeof(uint64_t));
}

bool
replay_update(struct replay_window *w, uint64_t seq)
{
	uint64_t nbits = (uint64_t)(w->blk_mask + 1) * 64;
	uint64_t bit;

	if (!replay_check(w, seq))
		return false;
	if (seq > w->top) {
		/* Clear the blocks the window slides over, at most all. */
		uint64_t from = (w->top >> 6) + 1;
		uint64_t to = seq >> 6;

		if (to >= from) {
			if (to - from > w->blk_mask)
				from = to - w->blk_mask;
			for (; from <= to; from++)
				w->bits[from & w->blk_mask] = 0;
		}
		w->top = seq;
	}
	bit = seq & (nbits - 1);
	w->bits[bit >> 6] |= 1ull << (bit & 63);
	return true;
}
