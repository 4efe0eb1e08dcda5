/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPD tries on rte_acl. rte_acl wants rule values in host order and reads
 * the input in network order, as l3fwd-acl does. For IPv6 the flow key
 * is the input: its layout (flowkey.h) gives the field offsets below.
 *
 * For IPv4 the input is a copy of the key with the two addresses
 * interleaved byte by byte (struct acl_in4), so the trie tests src[0],
 * dst[0], src[1], dst[1], ... A trie that tests the whole source first
 * has to copy every rule with a short source prefix into the branch of
 * every longer source under it, before it looks at the destination;
 * interleaved, the high bytes of both addresses, which nearly every rule
 * names, split the rules early. For 100k random IPv4 policies (bench
 * BM_spd_build) rte_acl's run-time tables shrank from 325 MB to 51 MB,
 * the build took 30-40 % less time and classifying 20-25 % less
 * (bench/RESULTS.md, "SPD: IPv4 addresses interleaved"). IPv6 keeps its
 * 4-byte words: interleaved by byte or by word it built no faster
 * (BM_spd_build6), and the byte-wise copy made classifying 10-20 %
 * slower.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_malloc.h>

#include "dataplane/spd.h"

#define SPD_BURST 64 /* most keys one spd_classify call takes */

/* The rte_acl input of an IPv4 key (acl_in4()). */
struct acl_in4 {
	uint8_t proto;
	uint8_t pad[3];
	uint8_t addr[8]; /* src[0], dst[0], src[1], dst[1], ... */
	uint16_t sport, dport; /* network order */
};

enum {
	F4_PROTO,
	F4_ADDR0, F4_ADDR1, F4_ADDR2, F4_ADDR3, F4_ADDR4, F4_ADDR5, F4_ADDR6, F4_ADDR7,
	F4_SPORT, F4_DPORT,
	F4_NUM
};
enum {
	F6_PROTO,
	F6_SRC0, F6_SRC1, F6_SRC2, F6_SRC3,
	F6_DST0, F6_DST1, F6_DST2, F6_DST3,
	F6_SPORT, F6_DPORT,
	F6_NUM
};

RTE_ACL_RULE_DEF(spd_rule4, F4_NUM);
RTE_ACL_RULE_DEF(spd_rule6, F6_NUM);

/*
 * A rule of a family with few rules (SPD_LINEAR_MAX), matched by a scan
 * in rank order instead of a trie, as VPP matches small SPDs. It holds
 * what rte_acl would compare, field for field: the protocol under its
 * bit mask, the addresses as 32-bit words under prefix masks, the ports
 * as host-order ranges read from the key. So the scan and the trie agree
 * on every key (tests/unit/test_spd.c checks that), later fragments
 * (ports read as 0) included.
 */
struct spd_lin {
	uint32_t val[8], mask[8]; /* src words, then dst words (IPv4: one each) */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint8_t proto, proto_mask;
	uint32_t userdata;
};

struct spd {
	struct rte_acl_ctx *acl[2]; /* [0] IPv4, [1] IPv6; NULL when empty */
	struct spd_lin *lin[2];     /* or, for few rules, these by rank */
	uint8_t n_lin[2];
	uint32_t n;
};

#define KOFF(f) ((uint32_t)offsetof(struct flow_key, f))

#define IOFF(f) ((uint32_t)offsetof(struct acl_in4, f))

/* One field per address byte, under the byte's part of the prefix mask;
 * four to an rte_acl input word. */
static const struct rte_acl_field_def defs4[F4_NUM] = {
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_PROTO, 0, IOFF(proto) },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR0, 1, IOFF(addr) },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR1, 1, IOFF(addr) + 1 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR2, 1, IOFF(addr) + 2 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR3, 1, IOFF(addr) + 3 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR4, 2, IOFF(addr) + 4 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR5, 2, IOFF(addr) + 5 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR6, 2, IOFF(addr) + 6 },
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_ADDR7, 2, IOFF(addr) + 7 },
	{ RTE_ACL_FIELD_TYPE_RANGE, 2, F4_SPORT, 3, IOFF(sport) },
	{ RTE_ACL_FIELD_TYPE_RANGE, 2, F4_DPORT, 3, IOFF(dport) },
};

/* The rte_acl input of IPv4 key @p k. */
static inline const uint8_t *
acl_in4(struct acl_in4 *in, const struct flow_key *k)
{
	unsigned int i;

	in->proto = k->proto;
	memset(in->pad, 0, sizeof(in->pad)); /* read with the protocol */
	for (i = 0; i < 4; i++) {
		in->addr[2 * i] = k->src[i];
		in->addr[2 * i + 1] = k->dst[i];
	}
	in->sport = k->sport;
	in->dport = k->dport;
	return (const uint8_t *)in;
}

static const struct rte_acl_field_def defs6[F6_NUM] = {
	{ RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_PROTO, 0, KOFF(proto) },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC0, 1, KOFF(src) },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC1, 2, KOFF(src) + 4 },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC2, 3, KOFF(src) + 8 },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC3, 4, KOFF(src) + 12 },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST0, 5, KOFF(dst) },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST1, 6, KOFF(dst) + 4 },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST2, 7, KOFF(dst) + 8 },
	{ RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST3, 8, KOFF(dst) + 12 },
	{ RTE_ACL_FIELD_TYPE_RANGE, 2, F6_SPORT, 9, KOFF(sport) },
	{ RTE_ACL_FIELD_TYPE_RANGE, 2, F6_DPORT, 9, KOFF(dport) },
};

static uint32_t
be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Mask length of 32-bit word @p w of a prefix of @p len bits. */
static uint32_t
word_len(uint8_t len, unsigned int w)
{
	int l = (int)len - (int)w * 32;

	return l <= 0 ? 0 : l >= 32 ? 32 : (uint32_t)l;
}

static void
fill_common(struct rte_acl_field *f_proto, struct rte_acl_field *f_sport,
	    struct rte_acl_field *f_dport, const struct spd_sel *s)
{
	f_proto->value.u8 = s->proto < 0 ? 0 : (uint8_t)s->proto;
	f_proto->mask_range.u8 = s->proto < 0 ? 0 : 0xff;
	f_sport->value.u16 = s->sport_lo;
	f_sport->mask_range.u16 = s->sport_hi;
	f_dport->value.u16 = s->dport_lo;
	f_dport->mask_range.u16 = s->dport_hi;
}

static uint32_t
family_count(const struct spd_rule *rules, uint32_t n, int family)
{
	uint32_t i, count = 0;

	for (i = 0; i < n; i++)
		count += rules[i].sel->family == family;
	return count;
}

/* Can rte_acl (and so the scan, which answers as it does) take @p r? */
static inline bool
rule_ok(const struct spd_rule *r)
{
	return r->rank < RTE_ACL_MAX_PRIORITY && r->userdata != 0;
}

/* Prefix mask of word @p w for a prefix of @p len bits. */
static uint32_t
word_mask(uint8_t len, unsigned int w)
{
	uint32_t l = word_len(len, w);

	return l == 0 ? 0 : 0xffffffffu << (32 - l);
}

/* The family's @p count rules as a scan (struct spd_lin), by rank. */
static int
build_linear(struct spd *spd, const struct spd_rule *rules, uint32_t n, int family,
	     uint32_t count)
{
	const bool v6 = family == 6;
	const unsigned int words = v6 ? 4 : 1;
	struct spd_lin *lin = calloc(count, sizeof(*lin));
	uint32_t rank[SPD_LINEAR_MAX];
	uint32_t i, j, k = 0;
	unsigned int w;

	if (lin == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct spd_sel *s = rules[i].sel;
		struct spd_lin r;

		if (s->family != family)
			continue;
		if (!rule_ok(&rules[i])) {
			free(lin);
			return -EINVAL;
		}
		memset(&r, 0, sizeof(r));
		r.proto_mask = s->proto < 0 ? 0 : 0xff;
		r.proto = s->proto < 0 ? 0 : (uint8_t)s->proto;
		for (w = 0; w < words; w++) {
			r.mask[w] = word_mask(v6 ? s->src_len : RTE_MIN(s->src_len, 32), w);
			r.val[w] = be32_at(s->src + 4 * w) & r.mask[w];
			r.mask[4 + w] = word_mask(v6 ? s->dst_len : RTE_MIN(s->dst_len, 32), w);
			r.val[4 + w] = be32_at(s->dst + 4 * w) & r.mask[4 + w];
		}
		r.sport_lo = s->sport_lo;
		r.sport_hi = s->sport_hi;
		r.dport_lo = s->dport_lo;
		r.dport_hi = s->dport_hi;
		r.userdata = rules[i].userdata;
		/* Insert by rank (lower first); a tie keeps the given order. */
		for (j = k; j > 0 && rank[j - 1] > rules[i].rank; j--) {
			lin[j] = lin[j - 1];
			rank[j] = rank[j - 1];
		}
		lin[j] = r;
		rank[j] = rules[i].rank;
		k++;
	}
	spd->lin[v6] = lin;
	spd->n_lin[v6] = (uint8_t)count;
	return 0;
}

/*
 * One rte_acl context per family, however many rules: every key then
 * walks one trie. Splitting a large family into several contexts (by
 * protocol, port shape, prefix length or address bits; built on threads)
 * was measured for 100k rules and rejected (bench/RESULTS.md, "SPD with
 * 100k policies"): rte_acl builds that set as a single trie, with no
 * split and rebuild to save, so groups only save the work of merging them
 * (15-30 % CPU), while classify got 40-70 % slower: each key walks every
 * context, or, routed to one by address, in bursts too small for
 * rte_acl's widest SIMD path.
 */
static struct rte_acl_ctx *
build_family(const struct spd_rule *rules, uint32_t n, int family,
	     int socket, int *err)
{
	static atomic_uint seq;
	const bool v6 = family == 6;
	struct rte_acl_config cfg = { .num_categories = 1 };
	struct rte_acl_param prm = { .socket_id = socket };
	struct rte_acl_ctx *ctx;
	char name[RTE_ACL_NAMESIZE];
	uint32_t i, count = family_count(rules, n, family);
	int rc;

	if (count == 0)
		return NULL;

	snprintf(name, sizeof(name), "spd%u_%u", (unsigned int)family,
		 atomic_fetch_add(&seq, 1));
	prm.name = name;
	prm.rule_size = v6 ? RTE_ACL_RULE_SZ(F6_NUM) : RTE_ACL_RULE_SZ(F4_NUM);
	prm.max_rule_num = count;
	ctx = rte_acl_create(&prm);
	if (ctx == NULL) {
		*err = -ENOMEM;
		return NULL;
	}

	for (i = 0; i < n; i++) {
		const struct spd_sel *s = rules[i].sel;
		struct spd_rule6 r6;
		struct spd_rule4 r4;
		struct rte_acl_rule_data *d;
		unsigned int w;

		if (s->family != family)
			continue;
		if (!rule_ok(&rules[i])) {
			*err = -EINVAL;
			goto fail;
		}
		if (v6) {
			memset(&r6, 0, sizeof(r6));
			d = &r6.data;
			fill_common(&r6.field[F6_PROTO], &r6.field[F6_SPORT],
				    &r6.field[F6_DPORT], s);
			for (w = 0; w < 4; w++) {
				r6.field[F6_SRC0 + w].value.u32 = be32_at(s->src + 4 * w);
				r6.field[F6_SRC0 + w].mask_range.u32 = word_len(s->src_len, w);
				r6.field[F6_DST0 + w].value.u32 = be32_at(s->dst + 4 * w);
				r6.field[F6_DST0 + w].mask_range.u32 = word_len(s->dst_len, w);
			}
		} else {
			const uint32_t smask = word_mask(s->src_len, 0);
			const uint32_t dmask = word_mask(s->dst_len, 0);

			memset(&r4, 0, sizeof(r4));
			d = &r4.data;
			fill_common(&r4.field[F4_PROTO], &r4.field[F4_SPORT],
				    &r4.field[F4_DPORT], s);
			for (w = 0; w < 4; w++) {
				/* Byte w of each prefix mask. */
				uint8_t sm = (uint8_t)(smask >> (24 - 8 * w));
				uint8_t dm = (uint8_t)(dmask >> (24 - 8 * w));

				r4.field[F4_ADDR0 + 2 * w].value.u8 = s->src[w] & sm;
				r4.field[F4_ADDR0 + 2 * w].mask_range.u8 = sm;
				r4.field[F4_ADDR0 + 2 * w + 1].value.u8 = s->dst[w] & dm;
				r4.field[F4_ADDR0 + 2 * w + 1].mask_range.u8 = dm;
			}
		}
		d->category_mask = 1;
		/* rte_acl prefers the higher priority: invert the rank. */
		d->priority = (int32_t)(RTE_ACL_MAX_PRIORITY - rules[i].rank);
		d->userdata = rules[i].userdata;
		rc = rte_acl_add_rules(ctx, (const struct rte_acl_rule *)(v6 ?
				       (void *)&r6 : (void *)&r4), 1);
		if (rc < 0) {
			*err = rc;
			goto fail;
		}
	}

	cfg.num_fields = v6 ? F6_NUM : F4_NUM;
	memcpy(cfg.defs, v6 ? defs6 : defs4,
	       cfg.num_fields * sizeof(struct rte_acl_field_def));
	rc = rte_acl_build(ctx, &cfg);
	if (rc < 0) {
		*err = rc;
		goto fail;
	}
	return ctx;
fail:
	rte_acl_free(ctx);
	return NULL;
}

static struct spd *
build(const struct spd_rule *rules, uint32_t n, int socket, bool trie, int *err)
{
	struct spd *spd;
	uint32_t count;
	int fam;

	*err = 0;
	if (n > SPD_RULES_MAX) {
		*err = -E2BIG;
		return NULL;
	}
	spd = calloc(1, sizeof(*spd));
	if (spd == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	spd->n = n;
	for (fam = 0; fam < 2; fam++) {
		count = family_count(rules, n, fam ? 6 : 4);
		if (!trie && count != 0 && count <= SPD_LINEAR_MAX)
			*err = build_linear(spd, rules, n, fam ? 6 : 4, count);
		else
			spd->acl[fam] = build_family(rules, n, fam ? 6 : 4, socket, err);
		if (*err != 0) {
			spd_free(spd);
			return NULL;
		}
	}
	return spd;
}

struct spd *
spd_build(const struct spd_rule *rules, uint32_t n, int socket, int *err)
{
	return build(rules, n, socket, false, err);
}

struct spd *
spd_build_trie(const struct spd_rule *rules, uint32_t n, int socket, int *err)
{
	return build(rules, n, socket, true, err);
}

void
spd_free(struct spd *spd)
{
	if (spd == NULL)
		return;
	rte_acl_free(spd->acl[0]);
	rte_acl_free(spd->acl[1]);
	free(spd->lin[0]);
	free(spd->lin[1]);
	free(spd);
}

int
spd_set_classify(struct spd *spd, int alg)
{
	int f, rc;

	for (f = 0; spd != NULL && f < 2; f++) {
		if (spd->acl[f] == NULL)
			continue;
		rc = rte_acl_set_ctx_classify(spd->acl[f], (enum rte_acl_classify_alg)alg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint32_t
spd_count(const struct spd *spd)
{
	return spd == NULL ? 0 : spd->n;
}

/* Does rule @p r take protocol @p proto and host-order ports @p sp, @p dp? */
static inline bool
lin_l4_ok(const struct spd_lin *r, uint8_t proto, uint16_t sp, uint16_t dp)
{
	return (proto & r->proto_mask) == r->proto &&
	       sp >= r->sport_lo && sp <= r->sport_hi &&
	       dp >= r->dport_lo && dp <= r->dport_hi;
}

/* The first of @p nr rules (by rank) that the IPv4 key @p k matches, as
 * rte_acl would find it; 0 for none. */
static inline uint32_t
lin_match4(const struct spd_lin *r, unsigned int nr, const struct flow_key *k)
{
	const uint32_t src = be32_at(k->src), dst = be32_at(k->dst);
	const uint16_t sp = rte_be_to_cpu_16(k->sport), dp = rte_be_to_cpu_16(k->dport);
	unsigned int i;

	for (i = 0; i < nr; i++, r++) {
		if ((((src & r->mask[0]) ^ r->val[0]) | ((dst & r->mask[4]) ^ r->val[4])) == 0 &&
		    lin_l4_ok(r, k->proto, sp, dp))
			return r->userdata;
	}
	return 0;
}

/* lin_match4() for an IPv6 key. */
static uint32_t
lin_match6(const struct spd_lin *r, unsigned int nr, const struct flow_key *k)
{
	uint32_t kw[8];
	uint16_t sp = rte_be_to_cpu_16(k->sport), dp = rte_be_to_cpu_16(k->dport);
	unsigned int i, w;

	for (w = 0; w < 4; w++) {
		kw[w] = be32_at(k->src + 4 * w);
		kw[4 + w] = be32_at(k->dst + 4 * w);
	}
	for (i = 0; i < nr; i++, r++) {
		uint32_t diff = 0;

		for (w = 0; w < 8; w++)
			diff |= (kw[w] & r->mask[w]) ^ r->val[w];
		if (diff == 0 && lin_l4_ok(r, k->proto, sp, dp))
			return r->userdata;
	}
	return 0;
}

/*
 * On a page of its own: the linker lays the data plane out from this
 * file on (spd.c, hold.c, flowtab.c, worker.c, out.c, in.c, route.c,
 * esp_out.c, esp_in.c, then the crypto engines), so the per-packet
 * functions keep their place within a page whatever the control plane
 * and the slow data-plane files before them (icmp.c, nd.c, frag.c) grow
 * or shrink. That place decides which instruction-cache sets and
 * predictor entries the hot loops share with the shared DPDK drivers:
 * 896 more bytes of control code once moved 64-byte rates by 2 %
 * (bench/RESULTS.md).
 */
__attribute__((aligned(4096))) void
spd_classify(const struct spd *spd, const struct flow_key *keys[],
	     uint32_t results[], uint16_t n)
{
	const uint8_t *in[2][SPD_BURST];
	struct acl_in4 in4[SPD_BURST];
	uint32_t out[SPD_BURST];
	uint16_t idx[2][SPD_BURST];
	uint16_t cnt[2] = { 0, 0 };
	uint16_t i;
	int f;

	RTE_ASSERT(n <= SPD_BURST);
	for (i = 0; i < n; i++) {
		results[i] = 0;
		if (spd == NULL)
			continue;
		f = keys[i]->family == 6;
		if (spd->lin[f] != NULL) {
			results[i] = f ? lin_match6(spd->lin[1], spd->n_lin[1], keys[i]) :
					 lin_match4(spd->lin[0], spd->n_lin[0], keys[i]);
			continue;
		}
		if (spd->acl[f] == NULL)
			continue;
		in[f][cnt[f]] = f ? (const uint8_t *)keys[i] : acl_in4(&in4[i], keys[i]);
		idx[f][cnt[f]++] = i;
	}
	for (f = 0; f < 2; f++) {
		if (cnt[f] == 0)
			continue;
		rte_acl_classify(spd->acl[f], in[f], out, cnt[f], 1);
		for (i = 0; i < cnt[f]; i++)
			results[idx[f][i]] = out[i];
	}
}

static int
prefix_match(const uint8_t *a, const uint8_t *p, uint8_t len)
{
	uint8_t full = len / 8, rem = len % 8;

	if (memcmp(a, p, full) != 0)
		return 0;
	return rem == 0 || ((a[full] ^ p[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

int
spd_sel_match(const struct spd_sel *s, const struct flow_key *k)
{
	uint16_t sp, dp;

	if (s->family != k->family || !prefix_match(k->src, s->src, s->src_len) ||
	    !prefix_match(k->dst, s->dst, s->dst_len))
		return 0;
	if (s->proto >= 0 && s->proto != k->proto)
		return 0;
	/* A fragment has no ports (pkt_flow_key()): it matches on the rest
	 * (RFC 4301 7.1, ports OPAQUE). */
	if (k->frag)
		return 1;
	sp = rte_be_to_cpu_16(k->sport);
	dp = rte_be_to_cpu_16(k->dport);
	return sp >= s->sport_lo && sp <= s->sport_hi &&
	       dp >= s->dport_lo && dp <= s->dport_hi;
}
