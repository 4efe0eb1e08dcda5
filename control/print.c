/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The printer (see print.h). JSON values are built as Jansson nodes and
 * dumped compact, except in a streamed container, whose ASCII strings,
 * integers and booleans go straight into the buffer in the same form;
 * text goes straight into the buffer.
 *
 * Jansson's integers are signed 64-bit, and an ESN SA's sequence number
 * can pass 2^63. Such a value is kept as a string tagged with a leading
 * 0x01 byte, which pr_dump() writes back as a bare number (no text of
 * ours can hold that byte: the grammar refuses control characters).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/print.h"

#define U64_TAG '\x01'
#define U64_TAG_JSON "\"\\u0001"

#define PR_STREAM_DEPTH 2 /* the root and its children are streamed */

void
pr_init(struct pr *pr, bool json)
{
	memset(pr, 0, sizeof(*pr));
	pr->json = json;
}

void
pr_fini(struct pr *pr)
{
	while (pr->depth > 0)
		json_decref(pr->stack[--pr->depth].node);
	json_decref(pr->root);
	sb_free(&pr->out);
}

/* Dump @p v, writing tagged u64 strings as numbers. */
void
pr_dump(struct sbuf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	const char *p, *tag;

	if (s == NULL) {
		b->oom = true;
		return;
	}
	for (p = s; (tag = strstr(p, U64_TAG_JSON)) != NULL;) {
		const char *digits = tag + strlen(U64_TAG_JSON);
		const char *end = strchr(digits, '"');

		if (end == NULL)
			break;
		sb_put(b, p, (size_t)(tag - p));
		sb_put(b, digits, (size_t)(end - digits));
		p = end + 1;
	}
	sb_put(b, p, strlen(p));
	free(s);
}

bool
pr_json_u64(const json_t *v, uint64_t *out)
{
	const char *s;

	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return json_integer_value(v) >= 0;
	}
	s = json_string_value(v);
	if (s == NULL || s[0] != U64_TAG)
		return false;
	*out = strtoull(s + 1, NULL, 10);
	return true;
}

/*
 * @p v as a JSON string, written as json_dumps() would (compact, UTF-8
 * kept, no escaped '/'), without building a node. @return false, having
 * written nothing, for a byte outside ASCII: Jansson checks the UTF-8.
 */
static bool
put_json_string(struct sbuf *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	const char *run;

	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p >= 0x80)
			return false;
	sb_put(b, "\"", 1);
	for (run = v, p = (const unsigned char *)v; *p != '\0'; p++) {
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
		size_t n = 2;

		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		sb_put(b, run, (size_t)((const char *)p - run));
		run = (const char *)p + 1;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			n = 6;
		}
		sb_put(b, esc, n);
	}
	sb_put(b, run, (size_t)((const char *)p - run));
	sb_put(b, "\"", 1);
	return true;
}

/* In a streamed container: the separator and, in an object, "key":. */
static void
stream_member(struct pr *pr, struct pr_level *l, const char *key)
{
	if (l->members++ > 0)
		sb_put(&pr->out, ",", 1);
	if (l->is_obj) {
		if (!put_json_string(&pr->out, key != NULL ? key : "?")) {
			json_t *k = json_string(key);

			pr_dump(&pr->out, k);
			json_decref(k);
		}
		sb_put(&pr->out, ":", 1);
	}
}

/* The open container is streamed: a scalar can go straight out. */
static bool
streaming(const struct pr *pr)
{
	return pr->depth > 0 && pr->stack[pr->depth - 1].node == NULL;
}

/* A finished value @p v (reference taken) into the open container, or
 * as the root. */
static void
attach(struct pr *pr, const char *key, json_t *v)
{
	struct pr_level *l;

	if (v == NULL) {
		pr->out.oom = true;
		return;
	}
	if (pr->depth == 0) {
		if (pr->keep_root) {
			json_decref(pr->root);
			pr->root = v;
		} else {
			pr_dump(&pr->out, v);
			json_decref(v);
		}
		return;
	}
	l = &pr->stack[pr->depth - 1];
	if (l->node == NULL) {
		stream_member(pr, l, key);
		pr_dump(&pr->out, v);
		json_decref(v);
	} else if (json_is_array(l->node)) {
		json_array_append_new(l->node, v);
	} else {
		json_object_set_new(l->node, key != NULL ? key : "?", v);
	}
}

static void
open_container(struct pr *pr, const char *key, bool is_obj)
{
	struct pr_level *l;
	bool stream;

	if (!pr->json)
		return;
	if (pr->depth == PR_DEPTH) {
		pr->out.oom = true;
		return;
	}
	stream = !pr->keep_root && pr->depth < PR_STREAM_DEPTH &&
		 (pr->depth == 0 || pr->stack[pr->depth - 1].node == NULL);
	l = &pr->stack[pr->depth];
	l->is_obj = is_obj;
	l->members = 0;
	if (stream) {
		if (pr->depth > 0)
			stream_member(pr, &pr->stack[pr->depth - 1], key);
		sb_put(&pr->out, is_obj ? "{" : "[", 1);
		l->node = NULL;
	} else {
		l->node = is_obj ? json_object() : json_array();
		if (l->node == NULL) {
			pr->out.oom = true;
			return;
		}
		/* The parent holds a reference from now on (if a tree); the
		 * stack keeps one to fill it. A child of a streamed level is
		 * written when it closes. */
		if (pr->depth > 0 && pr->stack[pr->depth - 1].node != NULL) {
			json_incref(l->node);
			attach(pr, key, l->node);
		}
	}
	pr->depth++;
	pr->pending_key[pr->depth - 1] = key;
}

static void
close_container(struct pr *pr)
{
	struct pr_level *l;

	if (!pr->json || pr->depth == 0)
		return;
	l = &pr->stack[--pr->depth];
	if (l->node == NULL) {
		sb_put(&pr->out, l->is_obj ? "}" : "]", 1);
		return;
	}
	if (pr->depth == 0 || pr->stack[pr->depth - 1].node == NULL) {
		/* A tree whose parent is streamed (or the root): give it. */
		attach(pr, pr->pending_key[pr->depth], l->node);
	} else {
		json_decref(l->node); /* the parent tree holds it */
	}
	l->node = NULL;
}

void
pr_obj_open(struct pr *pr, const char *key)
{
	open_container(pr, key, true);
}

void
pr_obj_close(struct pr *pr)
{
	close_container(pr);
}

void
pr_arr_open(struct pr *pr, const char *key)
{
	open_container(pr, key, false);
}

void
pr_arr_close(struct pr *pr)
{
	close_container(pr);
}

static bool
wants(const struct pr *pr, enum pr_kind kind)
{
	return kind == PR_ANY || (kind == PR_JSON) == pr->json;
}

/*
 * Is @p fmt one of the common formats, "words %s" or "words %" PRIu64
 * (conversion @p conv last, nothing else to convert)? Then *lit is the
 * length of its words, and the caller writes them and the value without
 * printf: a burst of events is thousands of lines.
 */
static bool
fmt_simple(const char *fmt, const char *conv, size_t *lit)
{
	const char *pct = strchr(fmt, '%');

	if (pct == NULL || strcmp(pct + 1, conv) != 0)
		return false;
	*lit = (size_t)(pct - fmt);
	return true;
}

/* @p v in decimal, as "%" PRIu64 writes it. */
static void
put_u64(struct sbuf *b, uint64_t v)
{
	char d[24], *p = d + sizeof(d);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	sb_put(b, p, (size_t)(d + sizeof(d) - p));
}

void
pr_str(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt, const char *v)
{
	size_t lit;

	if (!wants(pr, kind))
		return;
	if (!pr->json) {
		if (v != NULL && fmt_simple(fmt, "s", &lit)) {
			sb_put(&pr->out, fmt, lit);
			sb_put(&pr->out, v, strlen(v));
		} else {
			sb_printf(&pr->out, fmt, v);
		}
	} else if (streaming(pr) && v != NULL) {
		struct pr_level *l = &pr->stack[pr->depth - 1];
		size_t at = pr->out.len;
		unsigned int members = l->members;

		stream_member(pr, l, key);
		if (!put_json_string(&pr->out, v)) {
			/* Not ASCII: Jansson checks it (and may refuse it). */
			pr->out.len = at;
			if (pr->out.p != NULL)
				pr->out.p[at] = '\0';
			l->members = members;
			attach(pr, key, json_string(v));
		}
	} else {
		attach(pr, key, json_string(v));
	}
}

void
pr_uint(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt, uint64_t v)
{
	size_t lit;

	if (!wants(pr, kind))
		return;
	if (!pr->json) {
		if (fmt_simple(fmt, PRIu64, &lit)) {
			sb_put(&pr->out, fmt, lit);
			put_u64(&pr->out, v);
		} else {
			sb_printf(&pr->out, fmt, v);
		}
	} else if (streaming(pr)) {
		stream_member(pr, &pr->stack[pr->depth - 1], key);
		put_u64(&pr->out, v);
	} else if (v <= (uint64_t)INT64_MAX) {
		attach(pr, key, json_integer((json_int_t)v));
	} else {
		char tagged[32];

		snprintf(tagged, sizeof(tagged), "%c%" PRIu64, U64_TAG, v);
		attach(pr, key, json_string(tagged));
	}
}

void
pr_bool(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt, bool v)
{
	if (!wants(pr, kind))
		return;
	if (pr->json && streaming(pr)) {
		stream_member(pr, &pr->stack[pr->depth - 1], key);
		sb_put(&pr->out, v ? "true" : "false", v ? 4 : 5);
	} else if (pr->json)
		attach(pr, key, json_boolean(v));
	else
		sb_printf(&pr->out, fmt, v ? "true" : "false");
}

void
pr_real(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt, double v)
{
	if (!wants(pr, kind))
		return;
	if (pr->json)
		attach(pr, key, json_real(v));
	else
		sb_printf(&pr->out, fmt, v);
}

void
pr_null(struct pr *pr, const char *key)
{
	if (pr->json)
		attach(pr, key, json_null());
}

void
pr_text(struct pr *pr, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	if (pr->json)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		pr->out.oom = true;
	} else if ((size_t)n < sizeof(small)) {
		sb_put(&pr->out, small, (size_t)n);
	} else {
		char *big = malloc((size_t)n + 1);

		if (big == NULL) {
			pr->out.oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sb_put(&pr->out, big, (size_t)n);
		free(big);
	}
}

json_t *
pr_take_json(struct pr *pr)
{
	json_t *r = pr->root;

	pr->root = NULL;
	return r;
}

const char *
pr_proto_name(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_GRE: return "gre";
	/* Every name the parser takes (config/parse_util.c) comes back. */
	case IPPROTO_DCCP: return "dccp";
	case IPPROTO_UDPLITE: return "udplite";
	default:
		snprintf(buf, size, "%u", proto);
		return buf;
	}
}

const char *
pr_ip(int family, const uint8_t *a, char *buf, size_t size)
{
	/* IPv4 by hand: glibc's inet_ntop() formats it with sprintf(). */
	if (family != 6 && size >= INET_ADDRSTRLEN) {
		char *p = buf;
		int i;

		for (i = 0; i < 4; i++) {
			unsigned int b = a[i];

			if (b >= 100)
				*p++ = (char)('0' + b / 100);
			if (b >= 10)
				*p++ = (char)('0' + b / 10 % 10);
			*p++ = (char)('0' + b % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

void
pr_proto(struct pr *pr, enum pr_kind kind, const char *fmt, uint8_t proto)
{
	char nb[8];
	const char *name = pr_proto_name(proto, nb, sizeof(nb));

	/* DESIGN.md: a name where one exists, a number otherwise. */
	if (name != nb)
		pr_str(pr, kind, "proto", fmt, name);
	else if (pr->json && wants(pr, kind))
		attach(pr, "proto", json_integer(proto));
	else if (wants(pr, kind))
		sb_printf(&pr->out, fmt, name);
}
