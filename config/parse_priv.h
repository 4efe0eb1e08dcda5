/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to config/: what the parse*.c files share.
 *
 *  - the cursor over a command's words, and the error helpers that name
 *    the word an error is about (parse_util.c);
 *  - the value readers: numbers, addresses, prefixes, ports, protocols,
 *    SPIs, dir, mode (parse_util.c);
 *  - the option loop, the one idiom every command's options go through: a
 *    static const table per command of {word, once-only bit, handler}
 *    (parse_util.c);
 *  - the selector's options, shared by `state ... sel` and `policy`
 *    (parse_util.c);
 *  - the algorithm options of `state add` (parse_algo.c), and each
 *    object's command parsers, for cfg_parse() in parse.c (parse_state.c,
 *    parse_policy.c).
 *
 * A reader takes the word at c->i (the word after its keyword), moves past
 * it, and on error names it: "expected ... after 'KEYWORD', got 'WORD'".
 * Every one returns 0 or -EINVAL with c->err filled (cfg_error_set()).
 */
#ifndef ESPD_CONFIG_PARSE_PRIV_H
#define ESPD_CONFIG_PARSE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* ---- Words and the cursor --------------------------------------------- */

#define WORD_SHOWN 64 /* longest word quoted back in a message */

/* A word fit to quote in a message: cut short, control bytes as '?', and
 * anything that may be a key described instead of shown. */
struct quoted {
	char s[WORD_SHOWN + 4];
};

struct quoted word_quote(const char *w);

#define Q(w) (word_quote(w).s)

/* Decimal or 0x hex, no sign, no octal, at most @p max. */
bool word_u64(const char *w, uint64_t max, uint64_t *out);

/* ADDR or ADDR/LEN (when @p allow_len); host bits cleared when @p mask. */
bool word_addr(const char *w, bool allow_len, bool mask, struct cfg_addr *a);

/* Index of @p w in the NULL-terminated @p names, or -1 (also for NULL). */
int word_index(const char *const names[], const char *w);

/* The words of one command, and where parsing stands. */
struct cur {
	int argc;
	char *const *argv;
	int i;              /* the next word to read */
	struct cfg_error *err;
	const char *what;   /* "state add", for messages */
};

/* The next word, or NULL at the end. */
const char *cur_peek(const struct cur *c);

/* Take the value after keyword argv[c->i - 1]; "missing value" if none. */
int cur_value(struct cur *c, const char **v);

/* "duplicate 'KEYWORD' in CMD", about keyword argv[c->i - 1]. */
int cur_dup(struct cur *c);

/* "unexpected 'WORD' in CMD", about argv[c->i]. */
int cur_unexpected(struct cur *c);

/* "missing 'KW' for CMD", about the command as a whole. */
int cur_missing(struct cur *c, const char *kw);

/* ---- Values ------------------------------------------------------------ */

int get_num(struct cur *c, uint64_t min, uint64_t max, uint64_t *out);
int get_num32(struct cur *c, uint32_t min, uint32_t max, uint32_t *out);
int get_num16(struct cur *c, uint16_t min, uint16_t max, uint16_t *out);
int get_prefix(struct cur *c, struct cfg_addr *a);  /* masked */
int get_ip(struct cur *c, struct cfg_addr *a);      /* no /LEN */
int get_mac(struct cur *c, uint8_t mac[6]);
int get_proto(struct cur *c, uint8_t *proto);
/* N, or N-M when @p range. */
int get_ports(struct cur *c, bool range, uint16_t *lo, uint16_t *hi);
/* @p strict: 0 and 1..255 (RFC 4303 2.1) refused. */
int get_spi(struct cur *c, bool strict, uint32_t *spi);
/* One word among @p names (NULL-terminated); its index in @p out. */
int get_choice(struct cur *c, const char *const names[], const char *expect,
	       uint8_t *out);
/* in or out, or fwd too when @p fwd. */
int get_dir(struct cur *c, bool fwd, uint8_t *dir);
int get_mode(struct cur *c, uint8_t *mode);
/* `proto esp`, the only one. */
int get_esp(struct cur *c);

/* ---- Options ----------------------------------------------------------- */

/*
 * One option word of a command. The loop has moved past the word when
 * @c fn runs, so c->i is the first word of its value and c->i - 1 the
 * keyword. @c arg is what the command handed the loop.
 */
struct opt {
	const char *word;
	uint32_t once;   /* a bit of opt_seen: twice is "duplicate 'WORD'"; 0 = may repeat */
	int (*fn)(struct cur *c, void *arg);
};

/* Which once-only options were given, and where. */
struct opt_seen {
	uint32_t bits;
	int at[32];      /* word index of each keyword, by bit number */
};

/*
 * Read options from c->i with @p tab (ended by a NULL word).
 * !@p nested: every word to the end must be an option; an unknown word is
 *   "unexpected 'WORD' in CMD", a once-only one given twice "duplicate".
 * @p nested (the words of a `sel` or a `tmpl`): stop, without an error, at
 *   a word that is not in @p tab or that was already given (so the `src`
 *   after `sel src A dst B` is the command's own).
 * @p seen is not cleared first.
 */
int opt_parse(struct cur *c, const struct opt *tab, void *arg,
	      struct opt_seen *seen, bool nested);

/* The word index of once-only option @p bit (given). */
int opt_at(const struct opt_seen *seen, uint32_t bit);

/* A handler for `proto esp`, in any table. */
int opt_proto_esp(struct cur *c, void *arg);

/* ---- Selectors --------------------------------------------------------- */

/* The selector's once-only bits: a table that has SEL_OPTS keeps them
 * free for these. */
#define OPT_SEL_SRC   (1u << 0)
#define OPT_SEL_DST   (1u << 1)
#define OPT_SEL_PROTO (1u << 2)
#define OPT_SEL_SPORT (1u << 3)
#define OPT_SEL_DPORT (1u << 4)
#define OPT_SEL_ALL   0x1fu

/* The arg of the selector handlers. A command whose table mixes SEL_OPTS
 * with its own options has a struct sel_arg as its arg's first member. */
struct sel_arg {
	struct cfg_sel *sel;
	bool range;      /* sport/dport take N-M (policies and SAs' sel), or N only */
	bool type, code; /* sport/dport were given as ICMP `type`/`code` */
};

int sel_src(struct cur *c, void *arg);
int sel_dst(struct cur *c, void *arg);
int sel_proto(struct cur *c, void *arg);
int sel_sport(struct cur *c, void *arg);
int sel_dport(struct cur *c, void *arg);
int sel_type(struct cur *c, void *arg);
int sel_code(struct cur *c, void *arg);

/* src P dst P [proto P] [sport N] [dport N], as table entries; for ICMP,
 * [type N] [code N] in the places of the ports. */
#define SEL_OPTS \
	{ "src", OPT_SEL_SRC, sel_src }, \
	{ "dst", OPT_SEL_DST, sel_dst }, \
	{ "proto", OPT_SEL_PROTO, sel_proto }, \
	{ "sport", OPT_SEL_SPORT, sel_sport }, \
	{ "dport", OPT_SEL_DPORT, sel_dport }, \
	{ "type", OPT_SEL_SPORT, sel_type }, \
	{ "code", OPT_SEL_DPORT, sel_code }

/* After the loop: src and dst given, of one family, ports only with a
 * protocol that has them (type and code only with ICMP); ports not given
 * become 0-65535. @p in names the selector in messages ("sel", "policy
 * add"). */
int sel_finish(struct cur *c, const struct opt_seen *seen, const struct sel_arg *a,
	       const char *in);

/* ---- Algorithms (parse_algo.c) ----------------------------------------- */

/* aead NAME KEY ICV-BITS */
int algo_aead(struct cur *c, struct cfg_algo *a);
/* enc NAME KEY */
int algo_enc(struct cur *c, struct cfg_algo *a);
/* auth-trunc NAME KEY ICV-BITS */
int algo_auth_trunc(struct cur *c, struct cfg_algo *a);

/* ---- Commands ---------------------------------------------------------- */

/* parse_state.c: state add/update, del/get, allocspi */
int parse_state(struct cur *c, struct cfg_state *s, bool update);
int parse_state_id(struct cur *c, struct cfg_state_id *id, bool get);
int parse_migrate(struct cur *c, struct cfg_migrate *mg);
int parse_allocspi(struct cur *c, struct cfg_allocspi *a);

/* parse_policy.c: policy add, del */
int parse_policy(struct cur *c, struct cfg_policy *p);
int parse_policy_del(struct cur *c, struct cfg_policy_del *d);

#endif /* ESPD_CONFIG_PARSE_PRIV_H */
