/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CPU check of a build with -Dmarch=VALUE: every instruction-set
 * extension the compiler was allowed to use (meson lists them from the
 * compiler's own macros into ESPD_MARCH_CHECKS) must be on this CPU, or
 * espd stops with one line instead of dying of SIGILL somewhere later.
 *
 * This file alone is built without -march (control/meson.build), and the
 * check runs as a constructor, before main() and any other code of ours
 * compiled for the wider instruction set.
 */
#include <stdio.h>
#include <unistd.h>

#include "espd_version.h"

#ifndef ESPD_MARCH_CHECKS
#define ESPD_MARCH_CHECKS
#endif

__attribute__((constructor(101))) static void
espd_cpu_check(void)
{
	const char *missing[64];
	unsigned int n = 0, i;

	__builtin_cpu_init();
#define C(feat)                                               \
	if (!__builtin_cpu_supports(feat) && n < sizeof(missing) / sizeof(missing[0])) \
		missing[n++] = feat;
	ESPD_MARCH_CHECKS
#undef C
	if (n == 0)
		return;
	fprintf(stderr, "espd: built for -march=%s, but this CPU lacks", ESPD_MARCH);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", missing[i]);
	fprintf(stderr, ": rebuild with -Dmarch= (the default) or a -Dmarch this CPU has\n");
	_exit(1);
}
