/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A growing text buffer, for answers and events on the control plane. An
 * append that cannot grow the buffer marks it oom instead of failing
 * half-way, so callers check once at the end. No DPDK.
 */
#ifndef ESPD_SBUF_H
#define ESPD_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;  /**< an append failed: the text is cut short */
};

void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Append @p n bytes of @p s. */
void sb_put(struct sbuf *b, const char *s, size_t n);

void sb_free(struct sbuf *b);

#endif /* ESPD_SBUF_H */
