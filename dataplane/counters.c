/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>

#include "counters.h"

static const char *const counter_names[CNT__MAX] = {
#define _(name) [CNT_##name] = #name,
	foreach_espd_counter(_)
#undef _
};

const char *
espd_counter_name(enum espd_counter c)
{
	if ((unsigned int)c >= CNT__MAX)
		return NULL;
	return counter_names[c];
}
