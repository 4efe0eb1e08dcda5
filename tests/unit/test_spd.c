/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "spd": the rte_acl SPD — prefixes, protocols, port ranges, IPv6,
 * rank order (priority, then age) — and the flow keys it reads.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "config/config.h"
#include "control/model.h"
#include "control/publish.h"
#include "dataplane/pkt.h"
#include "dataplane/spd.h"
#include "unit.h"

/* The builder under test: spd_build() (a scan for these few rules) in
 * suite "spd", spd_build_trie() (rte_acl) in suite "spd-trie". */
static struct spd *(*bld)(const struct spd_rule *, uint32_t, int, int *) = spd_build;

static int
trie_init(void)
{
	bld = spd_build_trie;
	return 0;
}

static int
trie_fini(void)
{
	bld = spd_build;
	return 0;
}

static struct spd_sel
sel4(const char *src, uint8_t slen, const char *dst, uint8_t dlen, int proto,
     uint16_t dlo, uint16_t dhi)
{
	struct spd_sel s = { .family = 4, .src_len = slen, .dst_len = dlen,
			     .proto = (int16_t)proto, .sport_hi = 0xffff,
			     .dport_lo = dlo, .dport_hi = dhi };

	inet_pton(AF_INET, src, s.src);
	inet_pton(AF_INET, dst, s.dst);
	return s;
}

static struct flow_key
key4(const char *src, const char *dst, uint8_t proto, uint16_t sport,
     uint16_t dport)
{
	struct flow_key k = { .proto = proto, .family = 4 };

	inet_pton(AF_INET, src, k.src);
	inet_pton(AF_INET, dst, k.dst);
	k.sport = htons(sport);
	k.dport = htons(dport);
	return k;
}

static uint32_t
classify1(const struct spd *spd, const struct flow_key *k)
{
	const struct flow_key *kp[1] = { k };
	uint32_t res[1];

	spd_classify(spd, kp, res, 1);
	return res[0];
}

static void
test_v4_rules(void)
{
	struct spd_sel s[4] = {
		sel4("10.0.0.0", 8, "10.1.0.0", 16, -1, 0, 0xffff),
		sel4("10.0.0.0", 8, "10.1.2.0", 24, IPPROTO_TCP, 5000, 5100),
		sel4("0.0.0.0", 0, "0.0.0.0", 0, -1, 0, 0xffff),
		sel4("10.9.9.9", 32, "10.1.2.3", 32, IPPROTO_UDP, 53, 53),
	};
	/* rank: lower wins; the catch-all comes last. */
	struct spd_rule r[4] = {
		{ &s[0], 2, 100 }, { &s[1], 1, 200 }, { &s[2], 3, 300 }, { &s[3], 0, 400 },
	};
	struct spd *spd;
	struct flow_key k;
	int err;

	spd = bld(r, 4, SOCKET_ID_ANY, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(spd);
	CU_ASSERT_EQUAL(spd_count(spd), 4);

	k = key4("10.2.3.4", "10.1.2.9", IPPROTO_TCP, 1234, 5050);
	CU_ASSERT_EQUAL(classify1(spd, &k), 200);       /* narrower, better rank */
	k = key4("10.2.3.4", "10.1.2.9", IPPROTO_TCP, 1234, 5101);
	CU_ASSERT_EQUAL(classify1(spd, &k), 100);       /* out of the port range */
	k = key4("10.2.3.4", "10.1.2.9", IPPROTO_UDP, 1234, 5050);
	CU_ASSERT_EQUAL(classify1(spd, &k), 100);       /* wrong protocol */
	k = key4("10.9.9.9", "10.1.2.3", IPPROTO_UDP, 9, 53);
	CU_ASSERT_EQUAL(classify1(spd, &k), 400);
	k = key4("192.0.2.1", "198.51.100.1", IPPROTO_ICMP, 8, 0);
	CU_ASSERT_EQUAL(classify1(spd, &k), 300);       /* catch-all */
	spd_free(spd);

	/* Without the catch-all, unmatched traffic gets 0. */
	spd = bld(r, 2, SOCKET_ID_ANY, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(spd);
	k = key4("192.0.2.1", "198.51.100.1", IPPROTO_ICMP, 8, 0);
	CU_ASSERT_EQUAL(classify1(spd, &k), 0);
	spd_free(spd);
	CU_ASSERT_EQUAL(classify1(NULL, &k), 0);
}

static void
test_rank_ties(void)
{
	/* Same selector, same priority: the control plane ranks the older
	 * first; the SPD must honour ranks exactly, whatever the order. */
	struct spd_sel a = sel4("10.0.0.0", 8, "10.0.0.0", 8, -1, 0, 0xffff);
	struct spd_rule r[2] = { { &a, 5, 2 }, { &a, 4, 1 } };
	struct flow_key k = key4("10.1.1.1", "10.2.2.2", IPPROTO_UDP, 1, 2);
	struct spd *spd;
	int err;

	spd = bld(r, 2, SOCKET_ID_ANY, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(spd);
	CU_ASSERT_EQUAL(classify1(spd, &k), 1);
	spd_free(spd);
}

static void
test_v6_and_mixed(void)
{
	struct spd_sel s6 = { .family = 6, .src_len = 32, .dst_len = 64, .proto = -1,
			      .sport_hi = 0xffff, .dport_hi = 0xffff };
	struct spd_sel s4 = sel4("0.0.0.0", 0, "0.0.0.0", 0, -1, 0, 0xffff);
	struct spd_rule r[2] = { { &s6, 0, 6 }, { &s4, 1, 4 } };
	struct flow_key k6 = { .proto = IPPROTO_TCP, .family = 6 };
	struct flow_key k4 = key4("1.2.3.4", "5.6.7.8", IPPROTO_TCP, 1, 2);
	const struct flow_key *kp[3];
	uint32_t res[3];
	struct spd *spd;
	int err;

	inet_pton(AF_INET6, "2001:db8::", s6.src);
	inet_pton(AF_INET6, "2001:db8:1:2::", s6.dst);
	inet_pton(AF_INET6, "2001:db8:ffff::1", k6.src);
	inet_pton(AF_INET6, "2001:db8:1:2::99", k6.dst);
	spd = bld(r, 2, SOCKET_ID_ANY, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(spd);
	kp[0] = &k6;
	kp[1] = &k4;
	kp[2] = &k6;
	spd_classify(spd, kp, res, 3);
	CU_ASSERT_EQUAL(res[0], 6);
	CU_ASSERT_EQUAL(res[1], 4);
	CU_ASSERT_EQUAL(res[2], 6);
	inet_pton(AF_INET6, "2001:db8:1:3::99", k6.dst);
	CU_ASSERT_EQUAL(classify1(spd, &k6), 0);        /* outside the /64 */
	CU_ASSERT_TRUE(spd_sel_match(&s6, &(struct flow_key){ 0 }) == 0);
	spd_free(spd);
}

static void
test_sel_match_and_keys(void)
{
	struct spd_sel s = sel4("192.168.1.0", 24, "192.168.2.20", 32, IPPROTO_UDP, 5001, 5001);
	uint8_t pkt[64] = { 0 };
	struct flow_key k;

	/* An IPv4/UDP header by hand. */
	pkt[0] = 0x45;
	pkt[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "192.168.1.10", pkt + 12);
	inet_pton(AF_INET, "192.168.2.20", pkt + 16);
	pkt[20] = 0x9c;
	pkt[21] = 0x40; /* sport 40000 */
	pkt[22] = 0x13;
	pkt[23] = 0x89; /* dport 5001 */
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(ntohs(k.sport), 40000);
	CU_ASSERT_EQUAL(ntohs(k.dport), 5001);
	CU_ASSERT_TRUE(spd_sel_match(&s, &k));
	k.dport = htons(5002);
	CU_ASSERT_FALSE(spd_sel_match(&s, &k));
	/* A non-first fragment has no ports. */
	pkt[6] = 0x00;
	pkt[7] = 0x10;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(k.sport, 0);
	CU_ASSERT_EQUAL(k.frag, 1);
	/* ...and passes the SA's selector on addresses and protocol (the
	 * ports are OPAQUE), but not on another protocol. */
	CU_ASSERT_TRUE(spd_sel_match(&s, &k));
	k.proto = IPPROTO_TCP;
	CU_ASSERT_FALSE(spd_sel_match(&s, &k));
	/* The first fragment (MF only) has none either, so the whole
	 * datagram meets one policy, as in Linux. */
	pkt[6] = 0x20;
	pkt[7] = 0x00;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(k.frag, 1);
	CU_ASSERT_EQUAL(k.sport, 0);
	CU_ASSERT_TRUE(spd_sel_match(&s, &k));
	pkt[6] = 0;
	/* DCCP and UDP-Lite have ports where UDP has them. */
	pkt[9] = 33;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(ntohs(k.sport), 40000);
	CU_ASSERT_EQUAL(ntohs(k.dport), 5001);
	pkt[9] = 136;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(ntohs(k.dport), 5001);
	pkt[9] = IPPROTO_UDP;
	/* Bad IHL. */
	pkt[0] = 0x43;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), -1);
	/* Not IP at all. */
	pkt[0] = 0x20;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), -1);

	/* IPv6 with destination options before TCP to port 22: 7 headers
	 * are walked to the TCP header; 8, more than espd walks, make a
	 * malformed packet, never one of the first header's protocol with
	 * no ports, which a port policy would miss. */
	{
		uint8_t p6[40 + 8 * 8 + 20] = { 0 };
		unsigned int n, i;

		for (n = 7; n <= 8; n++) {
			memset(p6, 0, sizeof(p6));
			p6[0] = 0x60;
			p6[4] = 0, p6[5] = (uint8_t)(n * 8 + 20);
			p6[6] = IPPROTO_DSTOPTS;
			for (i = 0; i < n; i++)
				p6[40 + 8 * i] = i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_TCP;
			p6[40 + 8 * n + 3] = 22; /* dport 22 */
			if (n == 7) {
				CU_ASSERT_EQUAL(pkt_flow_key(p6, 40 + 8 * n + 20, &k), 0);
				CU_ASSERT(k.proto == IPPROTO_TCP && ntohs(k.dport) == 22);
			} else {
				CU_ASSERT_EQUAL(pkt_flow_key(p6, 40 + 8 * n + 20, &k), -1);
			}
		}
	}
}

/* IPv6 fragments key as the protocol they carry, with no ports and frag
 * set, the first one too. */
static void
test_v6_fragment_keys(void)
{
	struct spd_sel s = { 0 };
	uint8_t pkt[40 + 8 + 8 + 8] = { 0 };
	struct flow_key k;

	s.family = 6;
	s.proto = IPPROTO_UDP;
	s.src_len = s.dst_len = 0;
	s.sport_lo = s.sport_hi = 40000;
	s.dport_lo = s.dport_hi = 5001;
	pkt[0] = 0x60;
	pkt[6] = IPPROTO_DSTOPTS; /* an extension header before the fragment */
	inet_pton(AF_INET6, "2001:db8:1::10", pkt + 8);
	inet_pton(AF_INET6, "2001:db8:2::20", pkt + 24);
	pkt[40] = IPPROTO_FRAGMENT;
	pkt[41] = 0; /* 8 bytes */
	pkt[48] = IPPROTO_UDP;
	pkt[51] = 1; /* offset 0, M */
	pkt[56] = 0x9c;
	pkt[57] = 0x40;
	pkt[58] = 0x13;
	pkt[59] = 0x89;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(k.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(k.frag, 1);
	CU_ASSERT_EQUAL(k.sport, 0);
	CU_ASSERT_EQUAL(k.dport, 0);
	CU_ASSERT_TRUE(spd_sel_match(&s, &k));
	pkt[50] = 0x05; /* offset 160 bytes, last */
	pkt[51] = 0x00;
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, sizeof(pkt), &k), 0);
	CU_ASSERT_EQUAL(k.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(k.frag, 1);
	CU_ASSERT_EQUAL(k.sport, 0);
	CU_ASSERT_TRUE(spd_sel_match(&s, &k));
	/* A fragment header cut short keys as the fragment header itself. */
	CU_ASSERT_EQUAL(pkt_flow_key(pkt, 52, &k), 0);
	CU_ASSERT_EQUAL(k.proto, IPPROTO_FRAGMENT);
}

static void
test_bad_rules(void)
{
	struct spd_sel a = sel4("10.0.0.0", 8, "10.0.0.0", 8, -1, 0, 0xffff);
	struct spd_rule r[1] = { { &a, 0, 0 } }; /* userdata 0 is reserved */
	int err = 0;

	CU_ASSERT_PTR_NULL(bld(r, 1, SOCKET_ID_ANY, &err));
	CU_ASSERT_EQUAL(err, -EINVAL);
	r[0].userdata = 1;
	r[0].rank = 1u << 30; /* past rte_acl's priorities */
	CU_ASSERT_PTR_NULL(bld(r, 1, SOCKET_ID_ANY, &err));
	CU_ASSERT_EQUAL(err, -EINVAL);
}

static uint32_t rnd_state = 12345;

static uint32_t
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* A random selector of @p family: short and long prefixes around a few
 * base addresses, any/TCP/UDP, full, narrow or single-port ranges. */
static void
rnd_sel(struct spd_sel *s, int family)
{
	static const uint8_t lens4[] = { 0, 8, 16, 24, 27, 32 };
	static const uint8_t lens6[] = { 0, 16, 48, 64, 100, 128 };
	unsigned int i, alen = family == 6 ? 16 : 4;

	memset(s, 0, sizeof(*s));
	s->family = (uint8_t)family;
	for (i = 0; i < alen; i++) {
		s->src[i] = (uint8_t)(i < 2 ? 10 : rnd() % 4);
		s->dst[i] = (uint8_t)(i < 2 ? 20 : rnd() % 4);
	}
	s->src_len = family == 6 ? lens6[rnd() % 6] : lens4[rnd() % 6];
	s->dst_len = family == 6 ? lens6[rnd() % 6] : lens4[rnd() % 6];
	s->proto = (int16_t)((int[]){ -1, IPPROTO_TCP, IPPROTO_UDP })[rnd() % 3];
	s->sport_hi = 0xffff;
	s->dport_hi = 0xffff;
	switch (rnd() % 3) {
	case 1:
		s->dport_lo = (uint16_t)(rnd() % 8);
		s->dport_hi = (uint16_t)(s->dport_lo + rnd() % 4);
		break;
	case 2:
		s->sport_lo = s->sport_hi = (uint16_t)(rnd() % 4);
		break;
	default:
		break;
	}
}

/*
 * The scan and the trie give the same answer: 300 random SPDs of 1 to
 * SPD_LINEAR_MAX rules per family (both families, ranks shuffled), 300
 * keys each near their selectors, later fragments (ports 0) included.
 */
static void
test_scan_vs_trie(void)
{
	struct spd_sel sel[2 * SPD_LINEAR_MAX];
	struct spd_rule r[2 * SPD_LINEAR_MAX];
	unsigned int t, i, j, n, bad = 0, hits = 0, keys = 0;
	int err;

	for (t = 0; t < 300; t++) {
		struct spd *scan, *trie;

		n = 1 + rnd() % (2 * SPD_LINEAR_MAX);
		for (i = 0; i < n; i++) {
			rnd_sel(&sel[i], (t + i) % 3 == 0 ? 6 : 4);
			r[i].sel = &sel[i];
			r[i].rank = rnd() % 1000 * 64 + i; /* distinct */
			r[i].userdata = i + 1;
		}
		/* One family may hold more than SPD_LINEAR_MAX: it is a trie
		 * in both; the other is still compared. */
		scan = spd_build(r, n, SOCKET_ID_ANY, &err);
		trie = spd_build_trie(r, n, SOCKET_ID_ANY, &err);
		CU_ASSERT_FATAL(scan != NULL && trie != NULL);
		for (j = 0; j < 300; j++) {
			const struct spd_sel *s = &sel[rnd() % n];
			struct flow_key k = { .family = s->family };
			const struct flow_key *kp[1] = { &k };
			uint32_t a, b;

			memcpy(k.src, s->src, sizeof(k.src));
			memcpy(k.dst, s->dst, sizeof(k.dst));
			/* Near the selector: flip a low bit now and then. */
			if (rnd() % 2)
				k.src[(s->family == 6 ? 15 : 3) - rnd() % 2] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 2)
				k.dst[(s->family == 6 ? 15 : 3) - rnd() % 2] ^= (uint8_t)(1u << (rnd() % 8));
			k.proto = (uint8_t)((int[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP })[rnd() % 3];
			if (rnd() % 8 == 0) {
				k.frag = 1; /* ports read as 0 */
			} else {
				k.sport = htons((uint16_t)(rnd() % 6));
				k.dport = htons((uint16_t)(rnd() % 12));
			}
			spd_classify(scan, kp, &a, 1);
			spd_classify(trie, kp, &b, 1);
			bad += a != b;
			hits += a != 0;
			keys++;
		}
		spd_free(scan);
		spd_free(trie);
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* The keys are near enough to match often, and not always. */
	CU_ASSERT(hits > keys / 5 && hits < keys);
}

/* A random selector of @p family for test_many_rules(): any prefix
 * length (byte boundaries and between), around two base addresses. */
static void
rnd_sel_any_len(struct spd_sel *s, int family)
{
	unsigned int i, alen = family == 6 ? 16 : 4;

	rnd_sel(s, family);
	for (i = 0; i < alen; i++) {
		s->src[i] = (uint8_t)(i == 0 ? 10 : rnd() % 3 == 0 ? rnd() : rnd() % 2);
		s->dst[i] = (uint8_t)(i == 0 ? 20 : rnd() % 3 == 0 ? rnd() : rnd() % 2);
	}
	s->src_len = (uint8_t)(rnd() % (8 * alen + 1));
	s->dst_len = (uint8_t)(rnd() % (8 * alen + 1));
}

/*
 * A large trie answers as a walk of the selectors in rank order does
 * (spd_sel_match()): 3000 rules of both families with every prefix
 * length, ranks shuffled, 20000 keys near them. The trie reads the
 * addresses interleaved byte by byte (spd.c): a byte mask or an
 * interleaving off by one shows up here.
 */
static void
test_many_rules(void)
{
	enum { N = 3000, KEYS = 20000 };
	struct spd_sel *sel = calloc(N, sizeof(*sel));
	struct spd_rule *r = calloc(N, sizeof(*r));
	unsigned int i, j, bad = 0, hits = 0;
	struct spd *trie;
	int err;

	CU_ASSERT_FATAL(sel != NULL && r != NULL);
	for (i = 0; i < N; i++) {
		rnd_sel_any_len(&sel[i], i % 3 == 0 ? 6 : 4);
		r[i].sel = &sel[i];
		r[i].rank = rnd() % 4096 * N + i; /* distinct, shuffled */
		r[i].userdata = i + 1;
	}
	trie = spd_build(r, N, SOCKET_ID_ANY, &err);
	CU_ASSERT_FATAL(trie != NULL);
	CU_ASSERT_EQUAL(spd_count(trie), N);
	for (j = 0; j < KEYS; j++) {
		const struct spd_sel *s = &sel[rnd() % N];
		unsigned int alen = s->family == 6 ? 16 : 4, b;
		struct flow_key k = { .family = s->family };
		uint32_t want = 0, best = UINT32_MAX, got;

		memcpy(k.src, s->src, alen);
		memcpy(k.dst, s->dst, alen);
		/* Near the selector: flip a bit or two anywhere. */
		for (b = rnd() % 3; b > 0; b--) {
			uint8_t *a = rnd() % 2 ? k.src : k.dst;

			a[rnd() % alen] ^= (uint8_t)(1u << (rnd() % 8));
		}
		k.proto = (uint8_t)((int[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP })[rnd() % 3];
		k.sport = htons((uint16_t)(rnd() % 6));
		k.dport = htons((uint16_t)(rnd() % 12));
		for (i = 0; i < N; i++) {
			if (r[i].rank < best && spd_sel_match(&sel[i], &k)) {
				best = r[i].rank;
				want = r[i].userdata;
			}
		}
		got = classify1(trie, &k);
		bad += got != want;
		hits += want != 0;
	}
	spd_free(trie);
	free(sel);
	free(r);
	CU_ASSERT_EQUAL(bad, 0);
	/* The keys match often, and not always. */
	CU_ASSERT(hits > KEYS / 5 && hits < KEYS);
}

static void
model_line(struct gw_model *m, const char *line)
{
	struct cfg_error err;
	struct cfg_cmd cmd;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = cfg_parse_line(line, &cmd, &err);
	if (rc == 0)
		rc = model_apply(m, &cmd, "-", 0, &err);
	cfg_cmd_clear(&cmd);
	if (rc != 0)
		fprintf(stderr, "\n  '%s': %s\n", line, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

/*
 * The control plane ranks policies by priority, then age (tables_build):
 * 400 policies of 8 priorities, added in random order, must come out of
 * the tables in (priority, age) order; and a younger policy of a better
 * priority beats an older one that the same packet matches.
 */
static void
test_model_ranks(void)
{
	static const struct rte_ether_addr macs[GW_PORTS_MAX];
	struct gw_model m;
	struct gw_tables *t;
	struct flow_key k = key4("10.1.2.3", "10.200.0.1", IPPROTO_UDP, 1, 2);
	char line[160];
	unsigned int i, bad = 0;
	int err;

	CU_ASSERT_EQUAL_FATAL(model_init(&m, CRYPTO_ENGINE_MB, 1u << 16), 0);
	model_line(&m, "port 0 role protected addr 192.168.1.1/24");
	model_line(&m, "port 1 role unprotected addr 172.16.1.5/24");
	model_line(&m, "policy add src 10.1.0.0/16 dst 10.200.0.0/16 dir out "
		   "priority 5 action block");
	for (i = 0; i < 400; i++) {
		snprintf(line, sizeof(line), "policy add src 10.%u.%u.0/24 dst "
			 "10.%u.0.0/16 dir out priority %u action block",
			 2 + i % 100, i / 100, 100 + i % 7, rnd() % 8);
		model_line(&m, line);
	}
	model_line(&m, "policy add src 10.1.2.0/24 dst 10.200.0.0/16 dir out "
		   "priority 4 action block");
	t = tables_build(&m, NULL, macs, SOCKET_ID_ANY, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(t->n_pols, 402);
	for (i = 1; i < t->n_pols; i++) {
		const struct model_pol *a = model_policy(&m, t->pols[i - 1].index);
		const struct model_pol *b = model_policy(&m, t->pols[i].index);

		CU_ASSERT_FATAL(a != NULL && b != NULL);
		bad += a->cfg.priority > b->cfg.priority ||
		       (a->cfg.priority == b->cfg.priority && a->seq >= b->seq);
	}
	CU_ASSERT_EQUAL(bad, 0);
	i = classify1(t->spd_out, &k);
	CU_ASSERT_FATAL(i != 0);
	CU_ASSERT_EQUAL(model_policy(&m, t->pols[i - 1].index)->cfg.priority, 4);
	tables_free(t);
	model_free(&m);
}

int
test_spd_register(void)
{
	CU_pSuite s = CU_add_suite("spd", NULL, NULL);
	CU_pSuite tr = CU_add_suite("spd-trie", trie_init, trie_fini);

	if (tr == NULL ||
	    !CU_add_test(tr, "IPv4 prefixes, protocol, port ranges, ranks", test_v4_rules) ||
	    !CU_add_test(tr, "rank ties", test_rank_ties) ||
	    !CU_add_test(tr, "IPv6 and both families in one burst", test_v6_and_mixed) ||
	    !CU_add_test(tr, "bad rules", test_bad_rules))
		return CU_get_error();
	if (s == NULL ||
	    !CU_add_test(s, "few rules: the scan answers as the trie does", test_scan_vs_trie) ||
	    !CU_add_test(s, "many rules: the trie answers as a walk in rank order",
			 test_many_rules) ||
	    !CU_add_test(s, "IPv4 prefixes, protocol, port ranges, ranks", test_v4_rules) ||
	    !CU_add_test(s, "rank ties", test_rank_ties) ||
	    !CU_add_test(s, "IPv6 and both families in one burst", test_v6_and_mixed) ||
	    !CU_add_test(s, "selectors and flow keys", test_sel_match_and_keys) ||
	    !CU_add_test(s, "IPv6 fragments' flow keys", test_v6_fragment_keys) ||
	    !CU_add_test(s, "bad rules", test_bad_rules) ||
	    !CU_add_test(s, "the model's ranks: priority, then age", test_model_ranks))
		return CU_get_error();
	return 0;
}
