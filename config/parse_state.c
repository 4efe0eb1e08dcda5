/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state (SA) commands: `state add` and `state update`, `state del`
 * and `state get`, `state allocspi` (list, flush and count take nothing:
 * cfg_parse() in parse.c). Their options come in any order, as
 * `ip xfrm state` takes them: one table per command, read by opt_parse().
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "config/config.h"
#include "config/parse_priv.h"

/*
 * Once-only options. State add and update use the CFG_SA_HAS_* bit of
 * each option cfg_state.has reports, and allocspi those of reqid, seq and
 * mode; these are for the rest.
 */
#define O_SRC       (1u << 16)
#define O_DST       (1u << 17)
#define O_PROTO     (1u << 18)
#define O_SPI       (1u << 19)
#define O_AEAD      (1u << 20)
#define O_ENC       (1u << 21)
#define O_AUTH      (1u << 22)
#define O_SHOW_KEYS (1u << 23)
#define O_MIN       (1u << 24)
#define O_MAX       (1u << 25)

/* The once-only options cfg_state.has reports (flag and limit may repeat
 * and set theirs themselves; CFG_SA_HAS_ALGO is worked out after). */
#define SA_HAS_ONCE (CFG_SA_HAS_DIR | CFG_SA_HAS_REQID | CFG_SA_HAS_SEQ | \
		     CFG_SA_HAS_MODE | CFG_SA_HAS_WINDOW | CFG_SA_HAS_RSEQ | \
		     CFG_SA_HAS_ROSEQ | CFG_SA_HAS_RSEQ_HI | CFG_SA_HAS_ROSEQ_HI | \
		     CFG_SA_HAS_ENCAP | CFG_SA_HAS_SEL)

/* After the loop: src, dst, proto esp (and spi when @p spi) were given,
 * src and dst of one family. */
static int
sa_id_finish(struct cur *c, const struct opt_seen *seen, bool spi,
	     const struct cfg_addr *src, const struct cfg_addr *dst)
{
	if (!(seen->bits & O_SRC))
		return cur_missing(c, "src");
	if (!(seen->bits & O_DST))
		return cur_missing(c, "dst");
	if (!(seen->bits & O_PROTO))
		return cur_missing(c, "proto esp");
	if (spi && !(seen->bits & O_SPI))
		return cur_missing(c, "spi");
	if (src->af != dst->af)
		return cfg_error_set(c->err, opt_at(seen, O_DST) + 1,
				     "src and dst of %s differ in address family", c->what);
	return 0;
}

/* ---- state add, state update ------------------------------------------ */

static const char *const flag_names[] = { "esn", "noecn", "decap-dscp",
					  "dont-encap-dscp", NULL };
static const char *const limit_names[] = { "byte-soft", "byte-hard",
					   "packet-soft", "packet-hard",
					   "time-soft", "time-hard", NULL };

/* flag NAME [NAME...]: `flag esn flag noecn` and `flag esn noecn` both. */
static int
parse_flags(struct cur *c, uint32_t *flags)
{
	const char *w = NULL;
	int k, ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	k = word_index(flag_names, w);
	if (k < 0)
		return cfg_error_set(c->err, c->i - 1,
				     "unknown flag '%s' (expected esn, noecn, decap-dscp "
				     "or dont-encap-dscp)", Q(w));
	*flags |= 1u << k;
	while ((k = word_index(flag_names, cur_peek(c))) >= 0) {
		*flags |= 1u << k;
		c->i++;
	}
	return 0;
}

/* limit KIND N [KIND N...] */
static int
parse_limits(struct cur *c, struct cfg_state *s)
{
	const char *w = NULL;
	int k, ret;

	for (;;) {
		ret = cur_value(c, &w);
		if (ret < 0)
			return ret;
		k = word_index(limit_names, w);
		if (k < 0)
			return cfg_error_set(c->err, c->i - 1,
					     "unknown limit '%s' (expected byte-soft, byte-hard, "
					     "packet-soft, packet-hard, time-soft or time-hard)",
					     Q(w));
		if (s->limit_set & (1u << k))
			return cur_dup(c);
		ret = get_num(c, 0, UINT64_MAX, &s->limit[k]);
		if (ret < 0)
			return ret;
		s->limit_set |= 1u << k;
		if (word_index(limit_names, cur_peek(c)) < 0)
			return 0;
	}
}

/* encap espinudp SPORT DPORT OA, or (@p none_ok: state migrate) encap
 * none, which sets *none. */
static int
parse_encap(struct cur *c, bool none_ok, bool *none, uint16_t *sport,
	    uint16_t *dport, struct cfg_addr *oa)
{
	const char *w = NULL;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	if (none_ok && strcmp(w, "none") == 0) {
		*none = true;
		return 0;
	}
	if (strcmp(w, "espinudp") != 0)
		return cfg_error_set(c->err, c->i - 1,
				     none_ok ? "unsupported encap '%s' (espinudp or none)" :
					       "unsupported encap '%s' (only espinudp)", Q(w));
	ret = get_num16(c, 1, 65535, sport);
	if (ret == 0)
		ret = get_num16(c, 1, 65535, dport);
	/* The original address of RFC 3948 transport-mode checksum fix-ups:
	 * `ip xfrm` wants one, usually 0.0.0.0; any address is kept as is. */
	if (ret == 0)
		ret = get_ip(c, oa);
	return ret;
}

struct state_arg {
	struct cfg_state *s;
	struct opt_seen seen; /* aead excludes enc and auth-trunc */
};

static struct cfg_state *
st(void *arg)
{
	return ((struct state_arg *)arg)->s;
}

static int
st_src(struct cur *c, void *arg)
{
	return get_ip(c, &st(arg)->src);
}

static int
st_dst(struct cur *c, void *arg)
{
	return get_ip(c, &st(arg)->dst);
}

static int
st_spi(struct cur *c, void *arg)
{
	return get_spi(c, true, &st(arg)->spi);
}

static int
aead_combined(struct cur *c)
{
	return cfg_error_set(c->err, c->i - 1,
			     "'aead' cannot be combined with 'enc' or 'auth-trunc'");
}

static int
st_aead(struct cur *c, void *arg)
{
	struct state_arg *a = arg;

	if (a->seen.bits & (O_ENC | O_AUTH))
		return aead_combined(c);
	return algo_aead(c, &a->s->algo);
}

static int
st_enc(struct cur *c, void *arg)
{
	struct state_arg *a = arg;

	if (a->seen.bits & O_AEAD)
		return aead_combined(c);
	return algo_enc(c, &a->s->algo);
}

static int
st_auth_trunc(struct cur *c, void *arg)
{
	struct state_arg *a = arg;

	if (a->seen.bits & O_AEAD)
		return aead_combined(c);
	return algo_auth_trunc(c, &a->s->algo);
}

/* `auth` (untruncated) is ip xfrm's; say what to write instead. */
static int
st_auth(struct cur *c, void *arg)
{
	(void)arg;
	return cfg_error_set(c->err, c->i - 1,
			     "use 'auth-trunc NAME KEY BITS' instead of 'auth'");
}

static int
st_dir(struct cur *c, void *arg)
{
	return get_dir(c, false, &st(arg)->dir);
}

static int
st_reqid(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->reqid);
}

static int
st_seq(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->seq);
}

static int
st_mode(struct cur *c, void *arg)
{
	return get_mode(c, &st(arg)->mode);
}

static int
st_window(struct cur *c, void *arg)
{
	return get_num32(c, 0, CFG_REPLAY_WINDOW_MAX, &st(arg)->replay_window);
}

static int
st_rseq(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->replay_seq);
}

static int
st_roseq(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->replay_oseq);
}

static int
st_rseq_hi(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->replay_seq_hi);
}

static int
st_roseq_hi(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &st(arg)->replay_oseq_hi);
}

static int
st_encap(struct cur *c, void *arg)
{
	struct cfg_state *s = st(arg);

	return parse_encap(c, false, NULL, &s->encap_sport, &s->encap_dport,
			   &s->encap_oa);
}

static const struct opt sel_opts[] = {
	SEL_OPTS,
	{ NULL, 0, NULL },
};

/* sel src P dst P [proto P [sport N[-M]] [dport N[-M]] | [type N] [code N]]:
 * the selector's own words run until a word that is not one, or one it
 * already has (so a `src` after `sel src A dst B` is the SA's). Ports take
 * ranges as a policy's do: a key manager passes traffic selectors such as
 * 1024-2048 (IKEv2 TS ranges) straight through, and an ACQUIRE's `sel`
 * names the policy's range for a field that is not PFP. */
static int
st_sel(struct cur *c, void *arg)
{
	struct cfg_state *s = st(arg);
	struct sel_arg sa = { .sel = &s->sel, .range = true };
	struct opt_seen seen = { 0 };
	int ret = opt_parse(c, sel_opts, &sa, &seen, true);

	return ret < 0 ? ret : sel_finish(c, &seen, &sa, "sel");
}

static int
st_flag(struct cur *c, void *arg)
{
	st(arg)->has |= CFG_SA_HAS_FLAGS;
	return parse_flags(c, &st(arg)->flags);
}

static int
st_limit(struct cur *c, void *arg)
{
	st(arg)->has |= CFG_SA_HAS_LIMIT;
	return parse_limits(c, st(arg));
}

static const struct opt state_opts[] = {
	{ "src", O_SRC, st_src },
	{ "dst", O_DST, st_dst },
	{ "proto", O_PROTO, opt_proto_esp },
	{ "spi", O_SPI, st_spi },
	{ "aead", O_AEAD, st_aead },
	{ "enc", O_ENC, st_enc },
	{ "auth-trunc", O_AUTH, st_auth_trunc },
	{ "auth", 0, st_auth },
	{ "dir", CFG_SA_HAS_DIR, st_dir },
	{ "reqid", CFG_SA_HAS_REQID, st_reqid },
	{ "seq", CFG_SA_HAS_SEQ, st_seq },
	{ "mode", CFG_SA_HAS_MODE, st_mode },
	{ "replay-window", CFG_SA_HAS_WINDOW, st_window },
	{ "replay-seq", CFG_SA_HAS_RSEQ, st_rseq },
	{ "replay-oseq", CFG_SA_HAS_ROSEQ, st_roseq },
	{ "replay-seq-hi", CFG_SA_HAS_RSEQ_HI, st_rseq_hi },
	{ "replay-oseq-hi", CFG_SA_HAS_ROSEQ_HI, st_roseq_hi },
	{ "encap", CFG_SA_HAS_ENCAP, st_encap },
	{ "sel", CFG_SA_HAS_SEL, st_sel },
	{ "flag", 0, st_flag },
	{ "limit", 0, st_limit },
	{ NULL, 0, NULL },
};

int
parse_state(struct cur *c, struct cfg_state *s, bool update)
{
	struct state_arg a = { .s = s };
	uint32_t seen;
	int ret;

	s->mode = CFG_MODE_TUNNEL;
	s->replay_window = CFG_REPLAY_WINDOW_DEFAULT;
	ret = opt_parse(c, state_opts, &a, &a.seen, false);
	if (ret < 0)
		return ret;
	seen = a.seen.bits;
	s->has |= seen & SA_HAS_ONCE;

	ret = sa_id_finish(c, &a.seen, true, &s->src, &s->dst);
	if (ret < 0)
		return ret;
	if ((seen & O_ENC) && !(seen & O_AUTH))
		return cfg_error_set(c->err, opt_at(&a.seen, O_ENC),
				     "'enc' needs 'auth-trunc' (ESP without integrity is not supported)");
	if ((seen & O_AUTH) && !(seen & O_ENC))
		return cfg_error_set(c->err, opt_at(&a.seen, O_AUTH),
				     "'auth-trunc' needs 'enc' (use enc cipher_null \"\" for integrity only)");
	if (seen & (O_AEAD | O_ENC)) {
		s->has |= CFG_SA_HAS_ALGO;
	} else if (!update) {
		return cfg_error_set(c->err, -1,
				     "missing algorithm for %s (aead, or enc with auth-trunc)",
				     c->what);
	}
	if ((s->has & (CFG_SA_HAS_RSEQ_HI | CFG_SA_HAS_ROSEQ_HI)) &&
	    !(s->flags & CFG_SA_F_ESN))
		return cfg_error_set(c->err, -1,
				     "'replay-seq-hi' and 'replay-oseq-hi' need flag esn");
	if (s->has & CFG_SA_HAS_SEL) {
		if (s->mode == CFG_MODE_TRANSPORT && s->sel.src.af != s->src.af)
			return cfg_error_set(c->err, -1,
					     "a transport-mode SA's sel must be of its own address family");
	} else {
		/* No sel: any traffic, of the SA's family (a tunnel SA given a
		 * sel may carry the other family). */
		s->sel.src.af = s->sel.dst.af = s->src.af;
		s->sel.sport_hi = s->sel.dport_hi = 65535;
	}
	return 0;
}

/* ---- state del, state get --------------------------------------------- */

static int
id_src(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_state_id *)arg)->src);
}

static int
id_dst(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_state_id *)arg)->dst);
}

/* Any SPI, so that a stray SA can still be named. */
static int
id_spi(struct cur *c, void *arg)
{
	return get_spi(c, false, &((struct cfg_state_id *)arg)->spi);
}

static int
id_show_keys(struct cur *c, void *arg)
{
	(void)c;
	((struct cfg_state_id *)arg)->show_keys = true;
	return 0;
}

static const struct opt state_del_opts[] = {
	{ "src", O_SRC, id_src },
	{ "dst", O_DST, id_dst },
	{ "proto", O_PROTO, opt_proto_esp },
	{ "spi", O_SPI, id_spi },
	{ NULL, 0, NULL },
}, state_get_opts[] = {
	{ "src", O_SRC, id_src },
	{ "dst", O_DST, id_dst },
	{ "proto", O_PROTO, opt_proto_esp },
	{ "spi", O_SPI, id_spi },
	{ "show-keys", O_SHOW_KEYS, id_show_keys },
	{ NULL, 0, NULL },
};

/* state del|get src IP dst IP proto esp spi SPI [show-keys] */
int
parse_state_id(struct cur *c, struct cfg_state_id *id, bool get)
{
	struct opt_seen seen = { 0 };
	int ret = opt_parse(c, get ? state_get_opts : state_del_opts, id, &seen,
			    false);

	return ret < 0 ? ret : sa_id_finish(c, &seen, true, &id->src, &id->dst);
}

/* ---- state migrate ---------------------------------------------------- */

#define O_NEW_SRC (1u << 26)
#define O_NEW_DST (1u << 27)
#define O_ENCAP   (1u << 28)

static struct cfg_migrate *
mg(void *arg)
{
	return arg;
}

static int
mg_src(struct cur *c, void *arg)
{
	return get_ip(c, &mg(arg)->src);
}

static int
mg_dst(struct cur *c, void *arg)
{
	return get_ip(c, &mg(arg)->dst);
}

/* Any SPI, as del and get take: the SA exists or the model says not. */
static int
mg_spi(struct cur *c, void *arg)
{
	return get_spi(c, false, &mg(arg)->spi);
}

static int
mg_new_src(struct cur *c, void *arg)
{
	mg(arg)->has_new_src = true;
	return get_ip(c, &mg(arg)->new_src);
}

static int
mg_new_dst(struct cur *c, void *arg)
{
	mg(arg)->has_new_dst = true;
	return get_ip(c, &mg(arg)->new_dst);
}

static int
mg_encap(struct cur *c, void *arg)
{
	struct cfg_migrate *m = mg(arg);
	bool none = false;
	int ret = parse_encap(c, true, &none, &m->encap_sport, &m->encap_dport,
			      &m->encap_oa);

	m->encap = none ? CFG_MIGRATE_ENCAP_NONE : CFG_MIGRATE_ENCAP_UDP;
	return ret;
}

static const struct opt migrate_opts[] = {
	{ "src", O_SRC, mg_src },
	{ "dst", O_DST, mg_dst },
	{ "proto", O_PROTO, opt_proto_esp },
	{ "spi", O_SPI, mg_spi },
	{ "new-src", O_NEW_SRC, mg_new_src },
	{ "new-dst", O_NEW_DST, mg_new_dst },
	{ "encap", O_ENCAP, mg_encap },
	{ NULL, 0, NULL },
};

/* state migrate src IP dst IP proto esp spi SPI [new-src IP] [new-dst IP]
 *               [encap espinudp SPORT DPORT OA | encap none] */
int
parse_migrate(struct cur *c, struct cfg_migrate *m)
{
	struct opt_seen seen = { 0 };
	int ret = opt_parse(c, migrate_opts, m, &seen, false);

	if (ret == 0)
		ret = sa_id_finish(c, &seen, true, &m->src, &m->dst);
	if (ret < 0)
		return ret;
	if (!(seen.bits & (O_NEW_SRC | O_NEW_DST | O_ENCAP)))
		return cfg_error_set(c->err, -1,
				     "state migrate needs 'new-src', 'new-dst' or 'encap'");
	/* One of them alone must be of the SA's family, which only the
	 * model knows; both together may move the SA to the other family. */
	if (m->has_new_src && m->has_new_dst && m->new_src.af != m->new_dst.af)
		return cfg_error_set(c->err, opt_at(&seen, O_NEW_DST) + 1,
				     "new-src and new-dst of state migrate differ in address family");
	return 0;
}

/* ---- state allocspi --------------------------------------------------- */

static int
al_src(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_allocspi *)arg)->src);
}

static int
al_dst(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_allocspi *)arg)->dst);
}

static int
al_reqid(struct cur *c, void *arg)
{
	struct cfg_allocspi *a = arg;

	a->has_reqid = true;
	return get_num32(c, 0, UINT32_MAX, &a->reqid);
}

static int
al_seq(struct cur *c, void *arg)
{
	struct cfg_allocspi *a = arg;

	a->has_seq = true;
	return get_num32(c, 0, UINT32_MAX, &a->seq);
}

static int
al_mode(struct cur *c, void *arg)
{
	struct cfg_allocspi *a = arg;

	a->has_mode = true;
	return get_mode(c, &a->mode);
}

static int
al_min(struct cur *c, void *arg)
{
	return get_spi(c, true, &((struct cfg_allocspi *)arg)->min);
}

static int
al_max(struct cur *c, void *arg)
{
	return get_spi(c, true, &((struct cfg_allocspi *)arg)->max);
}

static const struct opt allocspi_opts[] = {
	{ "src", O_SRC, al_src },
	{ "dst", O_DST, al_dst },
	{ "proto", O_PROTO, opt_proto_esp },
	{ "reqid", CFG_SA_HAS_REQID, al_reqid },
	{ "seq", CFG_SA_HAS_SEQ, al_seq },
	{ "mode", CFG_SA_HAS_MODE, al_mode },
	{ "min", O_MIN, al_min },
	{ "max", O_MAX, al_max },
	{ NULL, 0, NULL },
};

/* state allocspi src IP dst IP proto esp [reqid N] [seq N] [mode M]
 *                [min SPI max SPI] */
int
parse_allocspi(struct cur *c, struct cfg_allocspi *a)
{
	struct opt_seen seen = { 0 };
	int ret;

	a->min = 256;
	a->max = UINT32_MAX;
	ret = opt_parse(c, allocspi_opts, a, &seen, false);
	if (ret == 0)
		ret = sa_id_finish(c, &seen, false, &a->src, &a->dst);
	if (ret < 0)
		return ret;
	if ((seen.bits & O_MIN) && !(seen.bits & O_MAX))
		return cfg_error_set(c->err, opt_at(&seen, O_MIN), "'min' needs 'max'");
	if ((seen.bits & O_MAX) && !(seen.bits & O_MIN))
		return cfg_error_set(c->err, opt_at(&seen, O_MAX), "'max' needs 'min'");
	if (a->min > a->max)
		return cfg_error_set(c->err, opt_at(&seen, O_MIN),
				     "min SPI 0x%08" PRIx32 " is above max SPI 0x%08" PRIx32,
				     a->min, a->max);
	return 0;
}
