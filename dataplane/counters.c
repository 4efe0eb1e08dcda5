/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>

#include "counters.h"

static const char *const counter_names[CNT__MAX] = {
#define _(name) [CNT_##name] = #name,
	foreach_espd_counter(_)
#undef _
};

/*
 * The first function of the data plane in espd's text (the linker pulls
 * this file first, for the control plane's stats), on a page of its own:
 * so the data plane's functions keep their place within a page whatever
 * the control plane before them grows or shrinks. That place decides
 * which instruction-cache sets and branch-predictor entries the hot
 * loops share with the shared DPDK drivers; moving it changed 64-byte
 * rates by 2-4 % with no change to the data plane (bench/RESULTS.md).
 */
__attribute__((aligned(4096))) const char *
espd_counter_name(enum espd_counter c)
{
	if ((unsigned int)c >= CNT__MAX)
		return NULL;
	return counter_names[c];
}
