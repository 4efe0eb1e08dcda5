/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "replay": the RFC 6479 window and RFC 4303 appendix A ESN
 * inference, edge by edge.
 */
#include <stdlib.h>

#include <CUnit/CUnit.h>

#include "dataplane/replay.h"
#include "unit.h"

static struct replay_window *
window_new(uint32_t size, uint64_t top)
{
	struct replay_window *w = malloc(replay_window_bytes(size));

	replay_window_init(w, size, top);
	return w;
}

static void
test_in_window(void)
{
	struct replay_window *w = window_new(64, 0);
	uint64_t s;

	CU_ASSERT_FALSE(replay_check(w, 0)); /* 0 is never sent */
	for (s = 1; s <= 100; s++)
		CU_ASSERT_TRUE(replay_update(w, s));
	CU_ASSERT_EQUAL(w->top, 100);
	/* Everything seen is now a replay. */
	for (s = 37; s <= 100; s++)
		CU_ASSERT_FALSE(replay_check(w, s));
	free(w);
}

static void
test_out_of_order(void)
{
	struct replay_window *w = window_new(64, 0);

	CU_ASSERT_TRUE(replay_update(w, 100));
	CU_ASSERT_TRUE(replay_check(w, 99));
	CU_ASSERT_TRUE(replay_update(w, 99));
	CU_ASSERT_FALSE(replay_update(w, 99));  /* duplicate */
	CU_ASSERT_TRUE(replay_update(w, 37));   /* left edge: 100 - 63 */
	CU_ASSERT_FALSE(replay_check(w, 36));   /* left of the window */
	CU_ASSERT_FALSE(replay_update(w, 36));
	CU_ASSERT_EQUAL(w->top, 100);
	free(w);
}

static void
test_far_right_jump(void)
{
	struct replay_window *w = window_new(128, 0);
	uint64_t s;

	for (s = 1; s <= 128; s++)
		CU_ASSERT_TRUE(replay_update(w, s));
	/* Jump far past every block: the whole bitmap must be cleared, so
	 * the numbers just left of the new top are new again... */
	CU_ASSERT_TRUE(replay_update(w, 1000000));
	for (s = 1000000 - 127; s < 1000000; s++)
		CU_ASSERT_TRUE(replay_check(w, s));
	/* ...and the old ones are far left of it. */
	CU_ASSERT_FALSE(replay_check(w, 128));
	/* A jump of exactly one block keeps what is still inside. */
	CU_ASSERT_TRUE(replay_update(w, 999990));
	CU_ASSERT_TRUE(replay_update(w, 1000064));
	CU_ASSERT_FALSE(replay_check(w, 999990)); /* still in, seen */
	CU_ASSERT_FALSE(replay_check(w, 1000064 - 128)); /* just left */
	CU_ASSERT_FALSE(replay_check(w, 1000000));
	CU_ASSERT_TRUE(replay_check(w, 1000001));
	free(w);
}

static void
test_large_window(void)
{
	struct replay_window *w = window_new(REPLAY_WINDOW_MAX, 0);
	uint64_t s;

	CU_ASSERT_TRUE(replay_update(w, 10000));
	/* Every number of the 4096 is accepted once, in any order. */
	for (s = 10000 - 1; s > 10000 - REPLAY_WINDOW_MAX; s -= 3)
		CU_ASSERT_TRUE(replay_update(w, s));
	for (s = 10000 - 1; s > 10000 - REPLAY_WINDOW_MAX; s -= 3)
		CU_ASSERT_FALSE(replay_check(w, s));
	CU_ASSERT_TRUE(replay_check(w, 10000 - REPLAY_WINDOW_MAX + 1));
	CU_ASSERT_FALSE(replay_check(w, 10000 - REPLAY_WINDOW_MAX));
	free(w);
}

static void
test_preset_top(void)
{
	/* replay-seq: top itself and numbers just below are accepted once. */
	struct replay_window *w = window_new(64, 500);

	CU_ASSERT_TRUE(replay_update(w, 500));
	CU_ASSERT_FALSE(replay_update(w, 500));
	CU_ASSERT_TRUE(replay_update(w, 450));
	CU_ASSERT_FALSE(replay_check(w, 436));
	free(w);
}

static void
test_esn_infer(void)
{
	struct replay_window *w = window_new(64, 0);
	uint64_t s;

	/* Case A inside epoch 0. */
	w->top = 1000;
	CU_ASSERT_TRUE(replay_esn_infer(w, 1001, &s));
	CU_ASSERT_EQUAL(s, 1001);
	CU_ASSERT_TRUE(replay_esn_infer(w, 940, &s));
	CU_ASSERT_EQUAL(s, 940);
	/* Below the window: taken as the next epoch (the ICV decides). */
	CU_ASSERT_TRUE(replay_esn_infer(w, 5, &s));
	CU_ASSERT_EQUAL(s, (1ull << 32) | 5);

	/* Epoch change at 2^32: top just below the wrap. */
	w->top = 0xfffffff0ull;
	CU_ASSERT_TRUE(replay_esn_infer(w, 3, &s));
	CU_ASSERT_EQUAL(s, (1ull << 32) | 3);
	CU_ASSERT_TRUE(replay_update(w, s));
	CU_ASSERT_EQUAL(w->top, (1ull << 32) | 3);
	/* Case B: the window straddles 2^32; late packets of epoch 0. */
	CU_ASSERT_TRUE(replay_esn_infer(w, 0xfffffff8u, &s));
	CU_ASSERT_EQUAL(s, 0xfffffff8ull);
	CU_ASSERT_TRUE(replay_update(w, s));
	CU_ASSERT_FALSE(replay_update(w, s));
	CU_ASSERT_TRUE(replay_update(w, 0xfffffff0ull)); /* unseen, in window */
	CU_ASSERT_FALSE(replay_check(w, 0xfffffff0ull));
	CU_ASSERT_TRUE(replay_esn_infer(w, 4, &s));
	CU_ASSERT_EQUAL(s, (1ull << 32) | 4);
	/* Case B in epoch 0 has no earlier epoch. */
	w->top = 10;
	CU_ASSERT_FALSE(replay_esn_infer(w, 0xfffffff0u, &s));
	/* And the last epoch has no later one. */
	w->top = ((uint64_t)UINT32_MAX << 32) | 1000;
	CU_ASSERT_FALSE(replay_esn_infer(w, 5, &s));
	free(w);
}

int
test_replay_register(void)
{
	CU_pSuite s = CU_add_suite("replay", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "in window, in order", test_in_window) ||
	    !CU_add_test(s, "out of order, duplicate, left edge", test_out_of_order) ||
	    !CU_add_test(s, "far right jump", test_far_right_jump) ||
	    !CU_add_test(s, "4096 window", test_large_window) ||
	    !CU_add_test(s, "preset top (replay-seq)", test_preset_top) ||
	    !CU_add_test(s, "ESN inference and epoch change", test_esn_infer))
		return CU_get_error();
	return 0;
}
