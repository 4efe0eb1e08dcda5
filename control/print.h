/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Text and JSON from one description, as iproute2's print_*(PRINT_ANY,
 * key, fmt, value) does: each call names the JSON key and the text format
 * of one value, and the printer writes whichever the client asked for.
 * JSON is built with Jansson (strings escaped, numbers exact) and written
 * compact, keys in the order given.
 *
 * The root container and the containers right inside it are streamed:
 * what they hold is written out as each member completes, and only the
 * members themselves (an SA, a selector) are built as Jansson trees. So
 * `state list -j` or `stats -j` over a million SAs never holds a million
 * JSON objects.
 *
 * Layer: stats/rendering (with view.h). No DPDK.
 */
#ifndef ESPD_PRINT_H
#define ESPD_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/sbuf.h"

#define PR_DEPTH 8

/** Which output a call is for. */
enum pr_kind {
	PR_ANY,  /**< both: the value in text (with fmt) and in JSON (key) */
	PR_TEXT, /**< text only */
	PR_JSON, /**< JSON only */
};

/** One open container: streamed (written as it goes, node NULL) or a
 *  Jansson node being filled. */
struct pr_level {
	json_t *node;
	bool is_obj;
	unsigned int members;    /**< written so far (streamed) */
};

struct pr {
	bool json;
	bool keep_root;          /**< build everything; pr_take_json() */
	struct sbuf out;         /**< what has been written */
	struct pr_level stack[PR_DEPTH];
	const char *pending_key[PR_DEPTH]; /**< each open level's own key */
	unsigned int depth;
	json_t *root;            /**< with keep_root: the finished root */
};

/** A printer for text or JSON. Release with pr_fini(). */
void pr_init(struct pr *pr, bool json);
void pr_fini(struct pr *pr);

/** Open / close an object (@p key in an object, NULL in an array or at
 *  the root). Text output gets nothing: text layout is the caller's. */
void pr_obj_open(struct pr *pr, const char *key);
void pr_obj_close(struct pr *pr);
void pr_arr_open(struct pr *pr, const char *key);
void pr_arr_close(struct pr *pr);

/** A string value: text `fmt` with %s, JSON key: "v". */
void pr_str(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt,
	    const char *v);
/** An unsigned number (exact up to 2^64 - 1 in JSON too). */
void pr_uint(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt,
	     uint64_t v);
/** A boolean: JSON true/false; text `fmt` with %s given "true"/"false". */
void pr_bool(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt,
	     bool v);
/** A real number (JSON) printed with @p fmt in text. */
void pr_real(struct pr *pr, enum pr_kind kind, const char *key, const char *fmt,
	     double v);
/** JSON null under @p key (nothing in text). */
void pr_null(struct pr *pr, const char *key);
/** Text only, printf-style. */
void pr_text(struct pr *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** With keep_root: the root object or array, owned by the caller. */
json_t *pr_take_json(struct pr *pr);

/** Append @p v compact to @p b (u64 beyond json_int_t written exactly). */
void pr_dump(struct sbuf *b, const json_t *v);

/** A u64 stored by pr_uint(): true with *out for such a value. */
bool pr_json_u64(const json_t *v, uint64_t *out);

/* ---- words shared by every view ------------------------------------- */

/** Protocol name where one exists (tcp, udp, icmp, ipv6-icmp, esp...),
 *  else the number in @p buf. */
const char *pr_proto_name(uint8_t proto, char *buf, size_t size);

/** An address of @p family (4/6) from network-order bytes. */
const char *pr_ip(int family, const uint8_t *a, char *buf, size_t size);

/** A protocol under "proto": its name (JSON string) or number. */
void pr_proto(struct pr *pr, enum pr_kind kind, const char *fmt, uint8_t proto);

#endif /* ESPD_PRINT_H */
