/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sbuf.h"

/* Room for @p more bytes and a NUL. */
static bool
reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->cap - b->len > more)
		return true;
	cap = b->cap ? b->cap * 2 : 1024;
	while (cap - b->len <= more)
		cap *= 2;
	/* Not realloc(): the old block may hold key text (show-keys), and
	 * is wiped before it goes back to the heap. */
	p = malloc(cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	if (b->p != NULL) {
		memcpy(p, b->p, b->len + 1);
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	size_t room = b->p != NULL && !b->oom ? b->cap - b->len : 0;
	va_list ap;
	int n;

	/* Straight into the room left, formatting again only if it was
	 * short. */
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (room > 0)
			b->p[b->len] = '\0';
		b->oom = true;
		return;
	}
	if ((size_t)n >= room) {
		if (!reserve(b, (size_t)n)) {
			if (room > 0)
				b->p[b->len] = '\0';
			return;
		}
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sb_free(struct sbuf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap); /* all of it: a cut-off format too */
	free(b->p);
	memset(b, 0, sizeof(*b));
}
