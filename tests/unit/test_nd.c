/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "nd": ARP and Neighbour Discovery frames. An ARP request byte for
 * byte and round trips; NS and NA built then parsed back; each validity
 * rule of RFC 4861 7.1.1 and 7.1.2 broken on its own; solicited-node
 * addresses from RFC 4291; every truncation of the inputs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/nd.h"
#include "unit.h"

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x5e, 0xaa, 0xbb, 0xcc };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ip_a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t ip_b[16] = { 0x20, 0x01, 0x0d, 0xb8, [13] = 0x12, 0x34, 0x56 };
static const uint8_t unspec[16];

/* An ARP request from 02:00:5e:10:20:30 / 192.0.2.1 for 192.0.2.2. */
static const char arp_hex[] =
	"ffffffffffff02005e1020300806"
	"0001080006040001" "02005e102030c0000201" "000000000000c0000202";

/* The ICMPv6 checksum, a byte at a time (independent of icmp6_cksum). */
static uint16_t
cksum6(const uint8_t *ip, uint32_t off, uint32_t len)
{
	uint32_t s = 0, i, l4 = len - off;

	for (i = 8; i < 40; i++)
		s += (i & 1) ? ip[i] : (uint32_t)ip[i] << 8;
	s += l4 + IPPROTO_ICMPV6;
	for (i = 0; i < l4; i++)
		s += (i & 1) ? ip[off + i] : (uint32_t)ip[off + i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void
fix6(uint8_t *ip, uint32_t off, uint32_t len)
{
	uint16_t c;

	ip[off + 2] = ip[off + 3] = 0;
	c = (uint16_t)~cksum6(ip, off, len);
	ip[off + 2] = (uint8_t)(c >> 8);
	ip[off + 3] = (uint8_t)c;
}

static struct rte_mbuf *
mbuf_of(const uint8_t *p, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_FATAL(rte_pktmbuf_append(m, (uint16_t)len) != NULL);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), p, len);
	return m;
}

static void
test_arp(void)
{
	uint8_t want[64], spa[4] = { 192, 0, 2, 1 }, tpa[4] = { 192, 0, 2, 2 }, zero[6] = { 0 };
	size_t n = unit_hex(arp_hex, want, sizeof(want));
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());
	struct arp_info a;

	CU_ASSERT_EQUAL_FATAL(arp_build(m, 1, bcast, mac_a, spa, zero, tpa), 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), n);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m, uint8_t *), want, n), 0);
	CU_ASSERT_EQUAL_FATAL(arp_parse(m, &a), 0);
	CU_ASSERT_EQUAL(a.op, 1);
	CU_ASSERT_EQUAL(memcmp(a.sha, mac_a, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a.spa, spa, 4), 0);
	CU_ASSERT_EQUAL(memcmp(a.tha, zero, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a.tpa, tpa, 4), 0);
	/* Not empty any more. */
	CU_ASSERT_EQUAL(arp_build(m, 1, bcast, mac_a, spa, zero, tpa), -EINVAL);
	rte_pktmbuf_free(m);

	/* A reply, with Ethernet padding to 60 bytes. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(arp_build(m, 2, mac_a, mac_b, tpa, mac_a, spa), 0);
	memset(rte_pktmbuf_append(m, 18), 0, 18);
	CU_ASSERT_EQUAL_FATAL(arp_parse(m, &a), 0);
	CU_ASSERT_EQUAL(a.op, 2);
	CU_ASSERT_EQUAL(memcmp(a.sha, mac_b, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a.tha, mac_a, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a.spa, tpa, 4), 0);
	rte_pktmbuf_free(m);

	/* No room. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	m->data_off = (uint16_t)(m->buf_len - 41);
	CU_ASSERT_EQUAL(arp_build(m, 1, bcast, mac_a, spa, zero, tpa), -ENOSPC);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_arp_bad(void)
{
	/* Byte to spoil, and what to put there: type, htype, ptype, hlen,
	 * plen, op. */
	static const struct { uint8_t off, val; } spoil[] = {
		{ 13, 0x00 }, { 15, 6 }, { 16, 0x86 }, { 18, 8 }, { 19, 16 }, { 21, 3 }, { 21, 0 },
	};
	uint8_t f[64];
	size_t n = unit_hex(arp_hex, f, sizeof(f)), i;
	struct arp_info a;
	struct rte_mbuf *m;
	uint32_t l;

	for (i = 0; i < RTE_DIM(spoil); i++) {
		uint8_t g[64];

		memcpy(g, f, n);
		g[spoil[i].off] = spoil[i].val;
		m = mbuf_of(g, (uint32_t)n);
		CU_ASSERT_EQUAL(arp_parse(m, &a), -1);
		rte_pktmbuf_free(m);
	}
	for (l = 0; l < n; l++) {
		m = mbuf_of(f, l);
		CU_ASSERT_EQUAL(arp_parse(m, &a), -1);
		rte_pktmbuf_free(m);
	}
	CHECK_NO_LEAK();
}

static void
test_solicited_node(void)
{
	/* RFC 4291 2.7.1's example: 4037::01:800:200e:8c6c. */
	static const uint8_t rfc[16] = { 0x40, 0x37, [9] = 0x01, 0x08, 0x00, 0x20, 0x0e, 0x8c, 0x6c };
	static const uint8_t rfc_sn[16] = { 0xff, 0x02, [11] = 0x01, 0xff, 0x0e, 0x8c, 0x6c };
	static const uint8_t a_sn[16] = { 0xff, 0x02, [11] = 0x01, 0xff, 0x00, 0x00, 0x01 };
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	uint8_t sn[16], mac[6];

	nd_solicited_node(rfc, sn, mac);
	CU_ASSERT_EQUAL(memcmp(sn, rfc_sn, 16), 0);
	CU_ASSERT_EQUAL(memcmp(mac, "\x33\x33\xff\x0e\x8c\x6c", 6), 0);
	nd_solicited_node(ip_a, sn, mac);
	CU_ASSERT_EQUAL(memcmp(sn, a_sn, 16), 0);
	CU_ASSERT_EQUAL(memcmp(mac, "\x33\x33\xff\x00\x00\x01", 6), 0);
	nd_mcast_mac(all_nodes, mac);
	CU_ASSERT_EQUAL(memcmp(mac, "\x33\x33\x00\x00\x00\x01", 6), 0);
}

/* Copy the frame in @p m out (Ethernet header to @p eth, the IPv6 packet
 * to @p ip) and free it. @return the IPv6 packet's length. */
static uint32_t
frame_ip(struct rte_mbuf *m, uint8_t *ip, uint8_t *eth)
{
	uint32_t len = rte_pktmbuf_data_len(m) - 14;

	memcpy(eth, rte_pktmbuf_mtod(m, uint8_t *), 14);
	memcpy(ip, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), len);
	rte_pktmbuf_free(m);
	return len;
}

static void
test_ns_round_trip(void)
{
	uint8_t ip[128], eth[14], sn[16], smac[6];
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());
	struct nd_info n;
	uint32_t len;

	/* Address resolution: to the solicited-node group. */
	CU_ASSERT_EQUAL_FATAL(nd_build_ns(m, mac_a, ip_a, ip_b, NULL, NULL), 0);
	len = frame_ip(m, ip, eth);
	nd_solicited_node(ip_b, sn, smac);
	CU_ASSERT_EQUAL(len, 72);
	CU_ASSERT_EQUAL(memcmp(eth, smac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(eth + 6, mac_a, 6), 0);
	CU_ASSERT_EQUAL(eth[12] << 8 | eth[13], 0x86dd);
	CU_ASSERT_EQUAL(ip[0], 0x60);
	CU_ASSERT_EQUAL(ip[4] << 8 | ip[5], 32);
	CU_ASSERT_EQUAL(ip[6], IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(ip[7], 255);
	CU_ASSERT_EQUAL(memcmp(ip + 24, sn, 16), 0);
	CU_ASSERT_EQUAL(ip[40], 135);
	CU_ASSERT_EQUAL(cksum6(ip, 40, len), 0xffff);
	CU_ASSERT_EQUAL(memcmp(ip + 64, "\x01\x01", 2), 0);
	CU_ASSERT_EQUAL(memcmp(ip + 66, mac_a, 6), 0);
	CU_ASSERT_TRUE(nd_is_nd(ip, len));
	CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
	CU_ASSERT_EQUAL(n.type, ND_NS);
	CU_ASSERT_EQUAL(memcmp(n.src, ip_a, 16), 0);
	CU_ASSERT_EQUAL(memcmp(n.dst, sn, 16), 0);
	CU_ASSERT_EQUAL(memcmp(n.target, ip_b, 16), 0);
	CU_ASSERT_TRUE(n.has_lladdr);
	CU_ASSERT_EQUAL(memcmp(n.lladdr, mac_a, 6), 0);

	/* Unicast probe. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(nd_build_ns(m, mac_a, ip_a, ip_b, ip_b, mac_b), 0);
	len = frame_ip(m, ip, eth);
	CU_ASSERT_EQUAL(memcmp(eth, mac_b, 6), 0);
	CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
	CU_ASSERT_EQUAL(memcmp(n.dst, ip_b, 16), 0);

	/* DAD, from ::: no source link-layer option (RFC 4861 4.3). */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(nd_build_ns(m, mac_a, unspec, ip_b, NULL, NULL), 0);
	len = frame_ip(m, ip, eth);
	CU_ASSERT_EQUAL(len, 64);
	CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
	CU_ASSERT_FALSE(n.has_lladdr);

	/* A unicast destination needs its MAC. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL(nd_build_ns(m, mac_a, ip_a, ip_b, ip_b, NULL), -EINVAL);
	CU_ASSERT_EQUAL(nd_build_ns(m, mac_a, ip_a, ip_b, sn, NULL), 0);
	CU_ASSERT_EQUAL(nd_build_ns(m, mac_a, ip_a, ip_b, sn, NULL), -EINVAL); /* not empty */
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m, uint8_t *), smac, 6), 0);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_na_round_trip(void)
{
	uint8_t ip[128], eth[14];
	struct rte_mbuf *m;
	struct nd_info n;
	uint32_t len;
	int flags;

	for (flags = 0; flags < 8; flags++) {
		m = rte_pktmbuf_alloc(unit_mbuf_pool());
		CU_ASSERT_EQUAL_FATAL(nd_build_na(m, mac_a, ip_a, ip_b, mac_b, ip_a, flags & 1,
						  flags & 2, flags & 4), 0);
		len = frame_ip(m, ip, eth);
		CU_ASSERT_EQUAL(len, 72);
		CU_ASSERT_EQUAL(memcmp(eth, mac_b, 6), 0);
		CU_ASSERT_EQUAL(ip[7], 255);
		CU_ASSERT_EQUAL(ip[40], 136);
		CU_ASSERT_EQUAL(ip[44], (flags & 1 ? 0x80 : 0) | (flags & 2 ? 0x40 : 0) |
					(flags & 4 ? 0x20 : 0));
		CU_ASSERT_EQUAL(cksum6(ip, 40, len), 0xffff);
		CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
		CU_ASSERT_EQUAL(n.type, ND_NA);
		CU_ASSERT_EQUAL(n.router, !!(flags & 1));
		CU_ASSERT_EQUAL(n.solicited, !!(flags & 2));
		CU_ASSERT_EQUAL(n.override, !!(flags & 4));
		CU_ASSERT_EQUAL(memcmp(n.target, ip_a, 16), 0);
		CU_ASSERT_TRUE(n.has_lladdr);
		CU_ASSERT_EQUAL(memcmp(n.lladdr, mac_a, 6), 0);
		CU_ASSERT_EQUAL(ip[64], 2); /* target link-layer option */
	}

	/* Unsolicited, to all nodes: S is cleared (RFC 4861 7.1.2). */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(nd_build_na(m, mac_a, ip_a, NULL, NULL, ip_a, false, true, true), 0);
	len = frame_ip(m, ip, eth);
	CU_ASSERT_EQUAL(memcmp(eth, "\x33\x33\x00\x00\x00\x01", 6), 0);
	CU_ASSERT_EQUAL(memcmp(ip + 24, "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16), 0);
	CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
	CU_ASSERT_FALSE(n.solicited);
	CU_ASSERT_TRUE(n.override);

	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL(nd_build_na(m, mac_a, ip_a, ip_b, NULL, ip_a, false, true, true), -EINVAL);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

/* A valid NS (with source link-layer option) or NA in @p ip. */
static uint32_t
valid(uint8_t *ip, bool ns)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());
	uint8_t eth[14];

	if (ns) {
		CU_ASSERT_EQUAL(nd_build_ns(m, mac_a, ip_a, ip_b, NULL, NULL), 0);
	} else {
		CU_ASSERT_EQUAL(nd_build_na(m, mac_b, ip_b, ip_a, mac_a, ip_b, false, true, true), 0);
	}
	return frame_ip(m, ip, eth);
}

static void
test_validity_rules(void)
{
	uint8_t ip[256];
	struct nd_info n;
	uint32_t len;

	/* Each rule of RFC 4861 7.1.1 / 7.1.2 broken alone. */
	len = valid(ip, true);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), 0);
	ip[7] = 254; /* hop limit: forwarded */
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[41] = 1; /* code */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[60] ^= 1; /* checksum */
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	len = 40 + 20; /* ICMPv6 length below 24 */
	ip[5] = 20;
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[48] = 0xff; /* target multicast */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[65] = 0; /* option of length 0 */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[65] = 2; /* option past the end */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	ip[5] += 1; /* one byte after the option: a truncated option */
	ip[len++] = 0;
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, true);
	memset(ip + 8, 0, 16); /* from ::, with a source link-layer option */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);
	ip[5] -= 8; /* ...without: good */
	len -= 8;
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), 0);
	ip[36] = 0xfe; /* ...but to no solicited-node group */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	len = valid(ip, false);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), 0);
	ip[24] = 0xff; /* NA to multicast with S set */
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);
	ip[44] &= (uint8_t)~0x40;
	fix6(ip, 40, len);
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), 0);

	/* Other ND messages are ND, but not an NS or NA. */
	len = valid(ip, true);
	ip[40] = 134;
	fix6(ip, 40, len);
	CU_ASSERT_TRUE(nd_is_nd(ip, len));
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);
	ip[40] = 128;
	fix6(ip, 40, len);
	CU_ASSERT_FALSE(nd_is_nd(ip, len));

	/* Unknown options are skipped; a hop-by-hop header is walked. */
	len = valid(ip, false);
	memmove(ip + 48, ip + 40, len - 40);
	memset(ip + 40, 0, 8);
	ip[6] = IPPROTO_HOPOPTS;
	ip[40] = IPPROTO_ICMPV6;
	ip[42] = 1;
	ip[43] = 4;
	len += 8;
	ip[5] += 8;
	memset(ip + len, 0, 16);
	ip[len] = 14; /* nonce option, 16 bytes */
	ip[len + 1] = 2;
	len += 16;
	ip[5] += 16;
	fix6(ip, 48, len);
	CU_ASSERT_TRUE(nd_is_nd(ip, len));
	CU_ASSERT_EQUAL_FATAL(nd_parse(ip, len, &n), 0);
	CU_ASSERT_EQUAL(memcmp(n.lladdr, mac_b, 6), 0);

	/* A fragment is never ND (RFC 6980). */
	ip[6] = IPPROTO_FRAGMENT;
	CU_ASSERT_FALSE(nd_is_nd(ip, len));
	CU_ASSERT_EQUAL(nd_parse(ip, len, &n), -1);

	/* Bytes past the payload length are not read as options. */
	len = valid(ip, false);
	memset(ip + len, 0, 8);
	CU_ASSERT_EQUAL(nd_parse(ip, len + 8, &n), 0);
	CHECK_NO_LEAK();
}

static void
test_truncated(void)
{
	uint8_t ip[128];
	struct nd_info n;
	uint32_t len, l;
	int ns;

	for (ns = 0; ns < 2; ns++) {
		len = valid(ip, ns);
		for (l = 0; l <= len; l++) {
			uint8_t *b = malloc(l ? l : 1);

			CU_ASSERT_FATAL(b != NULL);
			memcpy(b, ip, l);
			CU_ASSERT_EQUAL(nd_parse(b, l, &n), l == len ? 0 : -1);
			CU_ASSERT_EQUAL(nd_is_nd(b, l), l == len);
			free(b);
		}
	}

	/* Random bytes that look like IPv6 ICMPv6. */
	{
		uint32_t seed = 777, i, k;

		for (i = 0; i < 20000; i++) {
			uint8_t *b;

			seed = seed * 1103515245u + 12345u;
			l = (seed >> 16) % 100;
			b = malloc(l ? l : 1);
			CU_ASSERT_FATAL(b != NULL);
			for (k = 0; k < l; k++) {
				seed = seed * 1103515245u + 12345u;
				b[k] = (uint8_t)(seed >> 16);
			}
			if (l > 7) {
				b[0] = 0x60;
				b[6] = (i & 1) ? IPPROTO_ICMPV6 : b[6];
				b[7] = 255;
			}
			if (l > 40)
				b[40] = (uint8_t)(133 + i % 5);
			(void)nd_parse(b, l, &n);
			(void)nd_is_nd(b, l);
			free(b);
		}
	}
	CHECK_NO_LEAK();
}

static int
suite_init(void)
{
	unit_pool_mark();
	return 0;
}

int
test_nd_register(void)
{
	CU_pSuite s = CU_add_suite("nd", suite_init, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "ARP request byte for byte, reply round trip", test_arp) ||
	    !CU_add_test(s, "ARP: each field wrong, every truncation", test_arp_bad) ||
	    !CU_add_test(s, "solicited-node addresses and MACs", test_solicited_node) ||
	    !CU_add_test(s, "NS built and parsed back", test_ns_round_trip) ||
	    !CU_add_test(s, "NA built and parsed back", test_na_round_trip) ||
	    !CU_add_test(s, "RFC 4861 7.1 validity, rule by rule", test_validity_rules) ||
	    !CU_add_test(s, "truncated at every length, random input", test_truncated))
		return CU_get_error();
	return 0;
}
