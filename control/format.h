/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Text (ip xfrm style, for people) and JSON (DESIGN.md "Machine-readable
 * formats", for tools) renderings of SAs, policies, counters and events,
 * into a growing string buffer.
 */
#ifndef ESPD_FORMAT_H
#define ESPD_FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/model.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;  /**< an append failed: the text is cut short */
};

void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *b);

/** Protocol name where one exists (tcp, udp, icmp, ipv6-icmp, esp...). */
const char *fmt_proto(uint8_t proto, char *buf, size_t size);

/** An address of @p family (4/6) from network-order bytes. */
const char *fmt_ip(int family, const uint8_t *a, char *buf, size_t size);

/** An SA: text or JSON object (keys only with @p show_keys). */
void fmt_sa(struct sbuf *b, const struct model_sa *s, bool json, bool show_keys);

/** A policy: text or JSON object. */
void fmt_policy(struct sbuf *b, const struct model_pol *p, bool json);

#endif /* ESPD_FORMAT_H */
