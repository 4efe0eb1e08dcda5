/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy (SPD) commands: `policy add` and `policy del` (list and flush
 * take nothing: cfg_parse() in parse.c), with the template and the PFP
 * list of `policy add`. The selector's words mix with the policy's own in
 * any order, as `ip xfrm policy` takes them: one table per command, read
 * by opt_parse().
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/parse_priv.h"

/* Once-only options of policy add and del, above the selector's bits. */
#define P_DIR      (1u << 5)
#define P_PRIORITY (1u << 6)
#define P_ACTION   (1u << 7)
#define P_INDEX    (1u << 8)
#define P_PFP      (1u << 9)

/* Those of a tmpl, a table of its own. */
#define T_SRC   (1u << 0)
#define T_DST   (1u << 1)
#define T_PROTO (1u << 2)
#define T_SPI   (1u << 3)
#define T_REQID (1u << 4)
#define T_MODE  (1u << 5)
#define T_LEVEL (1u << 6)

/* ---- pfp -------------------------------------------------------------- */

/* The names, in the order of their bits (enum pfp_field). */
_Static_assert(PFP_SRC == 1u << 0 && PFP_DST == 1u << 1 && PFP_PROTO == 1u << 2 &&
	       PFP_SPORT == 1u << 3 && PFP_DPORT == 1u << 4, "pfp names match bits");

/* pfp FIELD[,FIELD...] */
static int
parse_pfp(struct cur *c, uint32_t *pfp)
{
	static const char *const fields[] = { "src", "dst", "proto", "sport",
					      "dport", NULL };
	const char *w = NULL, *p;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	for (p = w;; p++) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char f[8];
		int k = -1;

		if (n == 0)
			return cfg_error_set(c->err, c->i - 1,
					     "empty field in pfp list '%s'", Q(w));
		if (n < sizeof(f)) {
			memcpy(f, p, n);
			f[n] = '\0';
			k = word_index(fields, f);
		}
		if (k < 0) {
			/* Through word_quote(), like every word shown: a
			 * field glued to key text must not show it. One
			 * character past what is shown, so it says "...". */
			char shown[WORD_SHOWN + 2];
			size_t m = n < sizeof(shown) - 1 ? n : sizeof(shown) - 1;

			memcpy(shown, p, m);
			shown[m] = '\0';
			return cfg_error_set(c->err, c->i - 1,
					     "unknown pfp field '%s' (expected src, dst, proto, "
					     "sport or dport)", Q(shown));
		}
		if (*pfp & (1u << k))
			return cfg_error_set(c->err, c->i - 1,
					     "duplicate pfp field '%s'", fields[k]);
		*pfp |= 1u << k;
		if (end == NULL)
			break;
		p = end;
	}
	return 0;
}

/* ---- tmpl ------------------------------------------------------------- */

static int
tm_src(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_tmpl *)arg)->src);
}

static int
tm_dst(struct cur *c, void *arg)
{
	return get_ip(c, &((struct cfg_tmpl *)arg)->dst);
}

static int
tm_spi(struct cur *c, void *arg)
{
	struct cfg_tmpl *t = arg;

	t->has_spi = true;
	return get_spi(c, true, &t->spi);
}

static int
tm_reqid(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &((struct cfg_tmpl *)arg)->reqid);
}

static int
tm_mode(struct cur *c, void *arg)
{
	return get_mode(c, &((struct cfg_tmpl *)arg)->mode);
}

static int
tm_level(struct cur *c, void *arg)
{
	static const char *const levels[] = { "required", "use", NULL };

	return get_choice(c, levels, "required or use", &((struct cfg_tmpl *)arg)->level);
}

static const struct opt tmpl_opts[] = {
	{ "src", T_SRC, tm_src },
	{ "dst", T_DST, tm_dst },
	{ "proto", T_PROTO, opt_proto_esp },
	{ "spi", T_SPI, tm_spi },
	{ "reqid", T_REQID, tm_reqid },
	{ "mode", T_MODE, tm_mode },
	{ "level", T_LEVEL, tm_level },
	{ NULL, 0, NULL },
};

/* tmpl [src IP dst IP] [proto esp] [spi SPI] [reqid N] [mode M] [level L],
 * its words running as a sel's do: up to a word that is not one of them,
 * or one already given. */
static int
parse_tmpl(struct cur *c, struct cfg_tmpl *t)
{
	struct opt_seen seen = { 0 };
	int ret, at_tmpl = c->i - 1;
	uint32_t ends;

	ret = opt_parse(c, tmpl_opts, t, &seen, true);
	if (ret < 0)
		return ret;
	ends = seen.bits & (T_SRC | T_DST);
	if (ends == (T_SRC | T_DST)) {
		t->has_src_dst = true;
		if (t->src.af != t->dst.af)
			return cfg_error_set(c->err, opt_at(&seen, T_DST) + 1,
					     "src and dst of tmpl differ in address family");
	} else if (ends != 0) {
		return cfg_error_set(c->err, at_tmpl,
				     "tmpl needs both 'src' and 'dst', or neither");
	} else if (t->mode == CFG_MODE_TUNNEL) {
		return cfg_error_set(c->err, at_tmpl,
				     "tmpl in tunnel mode needs 'src' and 'dst'");
	}
	return 0;
}

/* ---- policy add ------------------------------------------------------- */

struct policy_arg {
	struct sel_arg sel;     /* first: SEL_OPTS' handlers read it */
	struct cfg_policy *p;
	int at_tmpl;
};

static struct cfg_policy *
pol(void *arg)
{
	return ((struct policy_arg *)arg)->p;
}

static int
po_dir(struct cur *c, void *arg)
{
	return get_dir(c, true, &pol(arg)->dir);
}

static int
po_priority(struct cur *c, void *arg)
{
	return get_num32(c, 0, UINT32_MAX, &pol(arg)->priority);
}

static int
po_action(struct cur *c, void *arg)
{
	static const char *const actions[] = { "allow", "block", NULL };

	return get_choice(c, actions, "allow or block", &pol(arg)->action);
}

static int
po_index(struct cur *c, void *arg)
{
	pol(arg)->has_index = true;
	return get_num32(c, 0, UINT32_MAX, &pol(arg)->index);
}

/* Once only, but with a message of its own (so not once-only in the
 * table). */
static int
po_tmpl(struct cur *c, void *arg)
{
	struct policy_arg *a = arg;

	if (a->p->has_tmpl)
		return cfg_error_set(c->err, c->i - 1, "only one 'tmpl' per policy");
	a->p->has_tmpl = true;
	a->at_tmpl = c->i - 1;
	return parse_tmpl(c, &a->p->tmpl);
}

static int
po_pfp(struct cur *c, void *arg)
{
	return parse_pfp(c, &pol(arg)->pfp);
}

static const struct opt policy_opts[] = {
	SEL_OPTS,
	{ "dir", P_DIR, po_dir },
	{ "priority", P_PRIORITY, po_priority },
	{ "action", P_ACTION, po_action },
	{ "index", P_INDEX, po_index },
	{ "tmpl", 0, po_tmpl },
	{ "pfp", P_PFP, po_pfp },
	{ NULL, 0, NULL },
};

/* policy add SELECTOR dir D [priority N] [action A] [index N] [tmpl ...]
 *            [pfp FIELDS] */
int
parse_policy(struct cur *c, struct cfg_policy *p)
{
	struct policy_arg a = { .sel = { .sel = &p->sel, .range = true }, .p = p };
	struct opt_seen seen = { 0 };
	int ret;

	ret = opt_parse(c, policy_opts, &a, &seen, false);
	if (ret == 0)
		ret = sel_finish(c, &seen, &a.sel, c->what);
	if (ret < 0)
		return ret;
	if (!(seen.bits & P_DIR))
		return cur_missing(c, "dir");
	if (p->has_tmpl && p->action == CFG_ACTION_BLOCK)
		return cfg_error_set(c->err, a.at_tmpl,
				     "a policy with action block cannot have a 'tmpl'");
	if ((seen.bits & P_PFP) && !p->has_tmpl)
		return cfg_error_set(c->err, opt_at(&seen, P_PFP), "'pfp' needs a 'tmpl'");
	/* An ACQUIRE's sel holds ports only where its proto has them: with
	 * the policy's proto any, the SA it asks for could not name the
	 * flow, and the ACQUIRE would come back for ever. */
	if ((p->pfp & (PFP_SPORT | PFP_DPORT)) && !(p->pfp & PFP_PROTO) &&
	    cfg_l4_of(p->sel.proto) == CFG_L4_NONE)
		return cfg_error_set(c->err, opt_at(&seen, P_PFP),
				     "'pfp sport' and 'pfp dport' need a 'proto' with ports "
				     "(tcp, udp, sctp, dccp, udplite; icmp type and code), or 'pfp proto'");
	if (p->has_tmpl && p->tmpl.mode == CFG_MODE_TRANSPORT &&
	    p->tmpl.has_src_dst && p->tmpl.src.af != p->sel.src.af)
		return cfg_error_set(c->err, a.at_tmpl,
				     "a transport-mode tmpl must be of the selector's address family");
	return 0;
}

/* ---- policy del ------------------------------------------------------- */

struct policy_del_arg {
	struct sel_arg sel;     /* first: SEL_OPTS' handlers read it */
	struct cfg_policy_del *d;
};

static int
pd_dir(struct cur *c, void *arg)
{
	return get_dir(c, true, &((struct policy_del_arg *)arg)->d->dir);
}

static int
pd_index(struct cur *c, void *arg)
{
	struct cfg_policy_del *d = ((struct policy_del_arg *)arg)->d;

	d->by_index = true;
	return get_num32(c, 0, UINT32_MAX, &d->index);
}

static const struct opt policy_del_opts[] = {
	SEL_OPTS,
	{ "dir", P_DIR, pd_dir },
	{ "index", P_INDEX, pd_index },
	{ NULL, 0, NULL },
};

/* policy del index N [dir D] | policy del SELECTOR dir D */
int
parse_policy_del(struct cur *c, struct cfg_policy_del *d)
{
	struct policy_del_arg a = { .sel = { .sel = &d->sel, .range = true }, .d = d };
	struct opt_seen seen = { 0 };
	int ret;

	ret = opt_parse(c, policy_del_opts, &a, &seen, false);
	if (ret < 0)
		return ret;
	if (d->by_index) {
		if (seen.bits & OPT_SEL_ALL)
			return cfg_error_set(c->err, opt_at(&seen, P_INDEX),
					     "'index' cannot be combined with a selector");
		return 0;
	}
	if (!(seen.bits & OPT_SEL_ALL))
		return cfg_error_set(c->err, -1,
				     "missing 'index' or selector for policy del");
	ret = sel_finish(c, &seen, &a.sel, c->what);
	if (ret == 0 && !(seen.bits & P_DIR))
		return cur_missing(c, "dir");
	return ret;
}
