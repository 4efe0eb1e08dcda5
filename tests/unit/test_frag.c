/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "frag": fragmentation and reassembly on librte_ip_frag. A 3000-byte
 * datagram cut at MTU 1400 and checked field by field; IPv4 and IPv6 put
 * back together in order, out of order, with duplicates, with a piece
 * missing (then timed out), with overlaps, too many pieces, a full table,
 * malformed fragments, every truncation. Each case ends with both mbuf
 * pools back at their baseline: nothing leaks, nothing is freed twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/counters.h"
#include "dataplane/frag.h"
#include "unit.h"

#define BIG 3000
#define TTL_MS 1000

static struct rte_mempool *big_pool;
static unsigned int base_unit, base_big;
static uint64_t now;

static void
check_no_leak(void)
{
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(unit_mbuf_pool()), base_unit);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(big_pool), base_big);
}

/* Far enough on for any packet in the table to have timed out. */
static uint64_t
later(void)
{
	return now + rte_get_tsc_hz() * (TTL_MS / 1000 + 1) + 1;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static bool
cksum4_ok(const uint8_t *ip)
{
	uint32_t s = 0, i, hl = (ip[0] & 0x0f) * 4u;

	for (i = 0; i < hl; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	return fold(s) == 0xffff;
}

static void
fix4(uint8_t *ip)
{
	uint32_t s = 0, i, hl = (ip[0] & 0x0f) * 4u;

	ip[10] = ip[11] = 0;
	for (i = 0; i < hl; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	s = (uint16_t)~fold(s);
	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
}

/* A UDP datagram of @p total bytes, IPv4 (ID @p id, no DF) or IPv6. */
static void
datagram(uint8_t *b, int family, uint32_t total, uint16_t id)
{
	uint32_t i, hl = family == 4 ? 20 : 40;

	memset(b, 0, hl + 8);
	for (i = hl + 8; i < total; i++)
		b[i] = (uint8_t)(i * 13 + id);
	if (family == 4) {
		b[0] = 0x45;
		b[2] = (uint8_t)(total >> 8);
		b[3] = (uint8_t)total;
		b[4] = (uint8_t)(id >> 8);
		b[5] = (uint8_t)id;
		b[8] = 64;
		b[9] = IPPROTO_UDP;
		memcpy(b + 12, (const uint8_t[]){ 203, 0, 113, 1, 198, 51, 100, 2 }, 8);
		fix4(b);
	} else {
		b[0] = 0x60;
		b[4] = (uint8_t)((total - 40) >> 8);
		b[5] = (uint8_t)(total - 40);
		b[6] = IPPROTO_UDP;
		b[7] = 64;
		b[8] = 0x20; b[9] = 0x01; b[10] = 0x0d; b[11] = 0xb8; b[23] = 1;
		b[24] = 0x20; b[25] = 0x01; b[26] = 0x0d; b[27] = 0xb8; b[39] = 2;
	}
	b[hl + 4] = (uint8_t)((total - hl) >> 8);
	b[hl + 5] = (uint8_t)(total - hl);
}

/* An mbuf holding @p p, from the unit pool, or from big_pool when it
 * does not fit 2 KB. */
static struct rte_mbuf *
mbuf_of(const uint8_t *p, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(len > RTE_MBUF_DEFAULT_DATAROOM ?
					       big_pool : unit_mbuf_pool());

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_FATAL(rte_pktmbuf_append(m, (uint16_t)len) != NULL);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), p, len);
	return m;
}

/* The IPv4 fragment of datagram @p d (20-byte header) holding bytes
 * [ofs, ofs + len) of its payload. */
static struct rte_mbuf *
frag4(const uint8_t *d, uint32_t ofs, uint32_t len, bool mf)
{
	uint8_t b[2048];

	memcpy(b, d, 20);
	memcpy(b + 20, d + 20 + ofs, len);
	b[2] = (uint8_t)((20 + len) >> 8);
	b[3] = (uint8_t)(20 + len);
	b[6] = (uint8_t)((mf ? 0x20 : 0) | (ofs / 8) >> 8);
	b[7] = (uint8_t)(ofs / 8);
	fix4(b);
	return mbuf_of(b, 20 + len);
}

/* The IPv6 fragment of datagram @p d (no extension headers) holding
 * bytes [ofs, ofs + len) of its payload, fragment header right after
 * the IPv6 header. */
static struct rte_mbuf *
frag6(const uint8_t *d, uint32_t ofs, uint32_t len, bool m, uint32_t id)
{
	uint8_t b[2048];

	memcpy(b, d, 40);
	b[4] = (uint8_t)((8 + len) >> 8);
	b[5] = (uint8_t)(8 + len);
	b[6] = IPPROTO_FRAGMENT;
	b[40] = d[6];
	b[41] = 0;
	b[42] = (uint8_t)(ofs >> 8);
	b[43] = (uint8_t)((ofs & 0xf8) | (m ? 1 : 0));
	b[44] = (uint8_t)(id >> 24);
	b[45] = (uint8_t)(id >> 16);
	b[46] = (uint8_t)(id >> 8);
	b[47] = (uint8_t)id;
	memcpy(b + 48, d + 40 + ofs, len);
	return mbuf_of(b, 48 + len);
}

static void
test_out(void)
{
	static uint8_t d[BIG];
	struct rte_mbuf *m, *out[8];
	static const uint16_t want_len[] = { 1396, 1396, 248 };
	uint32_t got = 0, i;
	int n;

	datagram(d, 4, BIG, 0x4242);
	m = mbuf_of(d, BIG);
	m->port = 3;
	n = frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, RTE_DIM(out));
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (i = 0; i < 3; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(out[i], const uint8_t *);
		uint32_t len = p[2] << 8 | p[3];

		CU_ASSERT_EQUAL(out[i]->nb_segs, 1);
		CU_ASSERT_EQUAL(rte_pktmbuf_data_len(out[i]), len);
		CU_ASSERT_EQUAL(len, want_len[i]);
		CU_ASSERT_TRUE(len <= 1400);
		CU_ASSERT_TRUE(cksum4_ok(p));
		CU_ASSERT_EQUAL(p[4] << 8 | p[5], 0x4242);
		/* MF on all but the last; offsets 0, 172, 344 (x 8 bytes). */
		CU_ASSERT_EQUAL(!!(p[6] & 0x20), i < 2);
		CU_ASSERT_EQUAL(((p[6] & 0x1f) << 8 | p[7]) * 8u, got);
		CU_ASSERT_EQUAL(memcmp(p + 12, d + 12, 8), 0);
		CU_ASSERT_EQUAL(p[9], IPPROTO_UDP);
		/* The payloads, end to end, are the original's. */
		CU_ASSERT_EQUAL(memcmp(p + 20, d + 20 + got, len - 20), 0);
		CU_ASSERT_EQUAL(out[i]->l3_len, 20);
		CU_ASSERT_EQUAL(out[i]->port, 3);
		got += len - 20;
	}
	CU_ASSERT_EQUAL(got, BIG - 20);
	for (i = 0; i < 3; i++)
		rte_pktmbuf_free(out[i]);
	check_no_leak(); /* and the original was freed */
}

static void
test_out_options_and_padding(void)
{
	static uint8_t d[1600];
	struct rte_mbuf *m, *out[4];
	const uint8_t *p;
	int n, i;

	/* A 24-byte header: router alert (copied, RFC 2113), then link
	 * padding past the IP length that must not be sent. */
	datagram(d + 4, 4, 1000, 7);
	memmove(d, d + 4, 20);
	d[0] = 0x46;
	d[2] = (uint8_t)(1004 >> 8);
	d[3] = (uint8_t)1004;
	memcpy(d + 20, "\x94\x04\x00\x00", 4);
	fix4(d);
	memset(d + 1004, 0xee, 20);
	m = mbuf_of(d, 1024);
	n = frag_ipv4_out(m, 576, unit_mbuf_pool(), out, RTE_DIM(out));
	CU_ASSERT_EQUAL_FATAL(n, 2);
	for (i = 0; i < n; i++) {
		p = rte_pktmbuf_mtod(out[i], const uint8_t *);
		CU_ASSERT_EQUAL(p[0], 0x46);
		CU_ASSERT_EQUAL(memcmp(p + 20, "\x94\x04\x00\x00", 4), 0);
		CU_ASSERT_TRUE(cksum4_ok(p));
	}
	p = rte_pktmbuf_mtod(out[1], const uint8_t *);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(out[1]), 1004 - 552);
	CU_ASSERT_EQUAL(memcmp(p + 24, d + 24 + 552, 1004 - 24 - 552), 0);
	for (i = 0; i < n; i++)
		rte_pktmbuf_free(out[i]);
	check_no_leak();
}

static void
test_out_refused(void)
{
	static uint8_t d[BIG];
	struct rte_mbuf *m, *out[8];
	uint8_t *p;

	datagram(d, 4, BIG, 1);
	m = mbuf_of(d, BIG);
	p = rte_pktmbuf_mtod(m, uint8_t *);

	/* Each refusal leaves m as it was, and the caller's. */
	p[6] = 0x40; /* DF */
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, 8), -EINVAL);
	p[6] = 0;
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 3000, unit_mbuf_pool(), out, 8), -EINVAL); /* fits */
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 60, unit_mbuf_pool(), out, 8), -EINVAL);   /* < 68 */
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, 2), -ENOSPC);
	p[2] = 0x0f; /* total length past the buffer */
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, 8), -EINVAL);
	p[2] = (uint8_t)(BIG >> 8);
	p[0] = 0x60;
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, 8), -EINVAL);
	p[0] = 0x45;
	p[6] = 0x1f; /* an offset that would end past 65535 */
	p[7] = 0xff;
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 1400, unit_mbuf_pool(), out, 8), -EINVAL);
	p[6] = p[7] = 0;
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), BIG);
	CU_ASSERT_EQUAL(memcmp(p, d, BIG), 0);
	CU_ASSERT_EQUAL(rte_mbuf_refcnt_read(m), 1);
	rte_pktmbuf_free(m);

	/* MTU above what a pool buffer holds: smaller fragments, one
	 * segment each. */
	m = mbuf_of(d, BIG);
	CU_ASSERT_EQUAL(frag_ipv4_out(m, 2900, unit_mbuf_pool(), out, 8), 2);
	CU_ASSERT_EQUAL(out[0]->nb_segs, 1);
	CU_ASSERT_TRUE(rte_pktmbuf_data_len(out[0]) <= RTE_MBUF_DEFAULT_DATAROOM);
	rte_pktmbuf_free(out[0]);
	rte_pktmbuf_free(out[1]);
	check_no_leak();
}

/* Offer @p m; expect NULL with reason @p why. */
static void
offer_none(struct frag_in *f, struct rte_mbuf *m, uint16_t why)
{
	uint16_t w = 0xffff;

	CU_ASSERT_PTR_NULL(frag_in_add(f, m, now, big_pool, &w));
	CU_ASSERT_EQUAL(w, why);
}

/* Offer @p m; expect the whole datagram @p d (@p len bytes) back. */
static void
offer_last(struct frag_in *f, struct rte_mbuf *m, const uint8_t *d, uint32_t len)
{
	uint16_t w = 0xffff;
	struct rte_mbuf *r = frag_in_add(f, m, now, big_pool, &w);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(w, 0);
	CU_ASSERT_EQUAL(r->nb_segs, 1);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(r), len);
	CU_ASSERT_EQUAL(r->pkt_len, len);
	CU_ASSERT_EQUAL(r->l2_len, 0);
	CU_ASSERT_EQUAL(r->l3_len, (d[0] >> 4) == 4 ? 20 : 40);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(r, uint8_t *), d, len), 0);
	rte_pktmbuf_free(r);
}

/* The three fragments of a BIG-byte IPv4 datagram, cut by frag_ipv4_out. */
static void
cut4(const uint8_t *d, struct rte_mbuf *out[3])
{
	CU_ASSERT_EQUAL_FATAL(frag_ipv4_out(mbuf_of(d, BIG), 1400, unit_mbuf_pool(), out, 3), 3);
}

static void
test_in_v4(void)
{
	static const int orders[][3] = {
		{ 0, 1, 2 }, { 2, 0, 1 }, { 1, 2, 0 }, { 2, 1, 0 },
	};
	static uint8_t d[BIG];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *out[3];
	size_t k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 4, BIG, 99);
	/* In order and out of order; 3000 bytes do not fit the first
	 * fragment's 2 KB buffer: one segment from big_pool. */
	for (k = 0; k < RTE_DIM(orders); k++) {
		cut4(d, out);
		offer_none(f, out[orders[k][0]], 0);
		offer_none(f, out[orders[k][1]], 0);
		offer_last(f, out[orders[k][2]], d, BIG);
	}
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 0);
	check_no_leak();

	/* Small enough for the first fragment's buffer: put together in
	 * place. */
	datagram(d, 4, 1000, 100);
	offer_none(f, frag4(d, 504, 476, false), 0);
	offer_last(f, frag4(d, 0, 504, true), d, 1000);
	check_no_leak();

	/* A fragment offered among others' fragments. */
	{
		static uint8_t e[BIG];
		struct rte_mbuf *o2[3];

		datagram(e, 4, BIG, 101);
		datagram(d, 4, BIG, 102);
		cut4(d, out);
		cut4(e, o2);
		offer_none(f, out[0], 0);
		offer_none(f, o2[2], 0);
		offer_none(f, out[1], 0);
		offer_none(f, o2[0], 0);
		offer_last(f, o2[1], e, BIG);
		offer_last(f, out[2], d, BIG);
	}
	frag_in_free(f);
	check_no_leak();
}

/*
 * Our own ESP over IPv6 cut for a 1280-byte path (RFC 8200 4.5): 2960
 * bytes of payload in 1232 + 1232 + 496, one ID, M on all but the last,
 * offsets in 8-byte units; put back together, the packet as it was. What
 * fits, has an extension header, or wants more fragments than allowed
 * is refused, the packet still the caller's.
 */
static void
test_out_v6(void)
{
	static uint8_t d[BIG];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	static const uint32_t want[3] = { 1232, 1232, 496 };
	struct rte_mbuf *out[3], *m;
	unsigned int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 6, BIG, 0);
	d[6] = IPPROTO_ESP;
	CU_ASSERT_EQUAL_FATAL(frag_ipv6_out(mbuf_of(d, BIG), 1280, 0x01020304,
					    unit_mbuf_pool(), out, 3), 3);
	for (i = 0; i < 3; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(out[i], const uint8_t *);
		uint32_t off = i * 1232;

		CU_ASSERT_EQUAL(out[i]->pkt_len, 48 + want[i]);
		CU_ASSERT(out[i]->pkt_len <= 1280);
		CU_ASSERT_EQUAL(p[6], IPPROTO_FRAGMENT);
		CU_ASSERT_EQUAL(p[4] << 8 | p[5], 8 + want[i]);
		CU_ASSERT_EQUAL(memcmp(p + 7, d + 7, 33), 0); /* hop limit, addresses */
		CU_ASSERT_EQUAL(p[40], IPPROTO_ESP);
		CU_ASSERT_EQUAL(p[42] << 8 | p[43], off | (i < 2));
		CU_ASSERT_EQUAL(p[44] << 24 | p[45] << 16 | p[46] << 8 | p[47], 0x01020304);
		CU_ASSERT_EQUAL(memcmp(p + 48, d + 40 + off, want[i]), 0);
		CU_ASSERT_EQUAL(out[i]->l3_len, 48);
	}
	offer_none(f, out[2], 0);
	offer_none(f, out[0], 0);
	offer_last(f, out[1], d, BIG);

	/* Refused: fits; an MTU below 1280; too many fragments; an
	 * extension header first. */
	m = mbuf_of(d, BIG);
	CU_ASSERT_EQUAL(frag_ipv6_out(m, 3000, 1, unit_mbuf_pool(), out, 3), -EINVAL);
	CU_ASSERT_EQUAL(frag_ipv6_out(m, 1279, 1, unit_mbuf_pool(), out, 3), -EINVAL);
	CU_ASSERT_EQUAL(frag_ipv6_out(m, 1280, 1, unit_mbuf_pool(), out, 2), -ENOSPC);
	rte_pktmbuf_mtod(m, uint8_t *)[6] = IPPROTO_HOPOPTS;
	CU_ASSERT_EQUAL(frag_ipv6_out(m, 1280, 1, unit_mbuf_pool(), out, 3), -EINVAL);
	CU_ASSERT_EQUAL(m->pkt_len, BIG);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 0);
	frag_in_free(f);
	check_no_leak();
}

static void
test_in_v6(void)
{
	static uint8_t d[BIG];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *r;
	uint8_t b[400], *p;
	uint16_t w;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 6, BIG, 0);
	/* 2960 bytes of payload: 1232 + 1232 + 496. */
	offer_none(f, frag6(d, 0, 1232, true, 7), 0);
	offer_none(f, frag6(d, 1232, 1232, true, 7), 0);
	offer_last(f, frag6(d, 2464, 496, false, 7), d, BIG);

	offer_none(f, frag6(d, 2464, 496, false, 8), 0);
	offer_none(f, frag6(d, 0, 1232, true, 8), 0);
	offer_last(f, frag6(d, 1232, 1232, true, 8), d, BIG);

	offer_none(f, frag6(d, 1232, 1232, true, 9), 0);
	offer_none(f, frag6(d, 2464, 496, false, 9), 0);
	offer_last(f, frag6(d, 0, 1232, true, 9), d, BIG);

	/* Small: in place. */
	datagram(d, 6, 600, 0);
	offer_none(f, frag6(d, 0, 280, true, 10), 0);
	offer_last(f, frag6(d, 280, 280, false, 10), d, 600);

	/* An atomic fragment (RFC 6946) is a whole packet at once. */
	r = frag6(d, 0, 560, false, 11);
	CU_ASSERT_TRUE(frag_is_fragment(rte_pktmbuf_mtod(r, uint8_t *), 608));
	offer_last(f, r, d, 600);

	/* A fragment header after a hop-by-hop header: DPDK 22.11 cannot,
	 * so it is dropped, and counted. */
	r = frag6(d, 0, 280, true, 12);
	memcpy(b, rte_pktmbuf_mtod(r, uint8_t *), 40);
	memset(b + 40, 0, 8);
	memcpy(b + 48, rte_pktmbuf_mtod_offset(r, uint8_t *, 40), 288);
	rte_pktmbuf_free(r);
	b[5] += 8;
	b[6] = IPPROTO_HOPOPTS;
	b[40] = IPPROTO_FRAGMENT;
	b[42] = 1; /* PadN */
	b[43] = 4;
	r = mbuf_of(b, 336);
	p = rte_pktmbuf_mtod(r, uint8_t *);
	CU_ASSERT_TRUE(frag_is_fragment(p, rte_pktmbuf_data_len(r)));
	offer_none(f, r, CNT_ReassemblyFailed);

	/* Not a fragment: back as it was. */
	r = mbuf_of(d, 600);
	CU_ASSERT_PTR_EQUAL(frag_in_add(f, r, now, big_pool, &w), r);
	CU_ASSERT_EQUAL(w, 0);
	rte_pktmbuf_free(r);

	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 0);
	frag_in_free(f);
	check_no_leak();
}

static void
test_duplicates(void)
{
	static uint8_t d[BIG];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *out[3], *dup[3];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 4, BIG, 5);

	/* The first fragment twice: the library drops the packet at once
	 * (both copies); the rest start a packet that never completes. */
	cut4(d, out);
	cut4(d, dup);
	rte_pktmbuf_free(dup[1]);
	rte_pktmbuf_free(dup[2]);
	offer_none(f, out[0], 0);
	offer_none(f, dup[0], CNT_ReassemblyFailed);
	offer_none(f, out[1], 0);
	offer_none(f, out[2], 0);
	/* Counted: the first copy of the first fragment, then at the
	 * timeout the other two. */
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 1);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 2);
	check_no_leak();

	/* A middle fragment twice: the byte count overshoots when the last
	 * one comes, and all four go. */
	cut4(d, out);
	cut4(d, dup);
	rte_pktmbuf_free(dup[0]);
	rte_pktmbuf_free(dup[2]);
	offer_none(f, out[0], 0);
	offer_none(f, out[1], 0);
	offer_none(f, dup[1], 0);
	offer_none(f, out[2], CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 3);
	check_no_leak();

	/* The same for IPv6, the last fragment twice. */
	datagram(d, 6, BIG, 0);
	offer_none(f, frag6(d, 2464, 496, false, 3), 0);
	offer_none(f, frag6(d, 2464, 496, false, 3), CNT_ReassemblyFailed);
	offer_none(f, frag6(d, 0, 1232, true, 3), 0);
	offer_none(f, frag6(d, 1232, 1232, true, 3), 0);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 3);
	frag_in_free(f);
	check_no_leak();
}

static void
test_missing_and_timeout(void)
{
	static uint8_t d[BIG];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *out[3];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 4, BIG, 6);
	cut4(d, out);
	rte_pktmbuf_free(out[1]);
	offer_none(f, out[0], 0);
	offer_none(f, out[2], 0);
	/* Held until its time runs out. */
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(unit_mbuf_pool()), base_unit + 2);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 2);
	check_no_leak();

	datagram(d, 6, BIG, 0);
	offer_none(f, frag6(d, 0, 1232, true, 4), 0);
	offer_none(f, frag6(d, 2464, 496, false, 4), 0);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 2);
	check_no_leak();

	/* A late fragment after the timeout starts over, and times out too. */
	offer_none(f, frag6(d, 1232, 1232, true, 4), 0);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later() + later()), 1);

	/* frag_in_free() frees what is held. */
	offer_none(f, frag6(d, 0, 1232, true, 5), 0);
	datagram(d, 4, 100, 16);
	offer_none(f, frag4(d, 0, 8, true), 0);
	frag_in_free(f);
	check_no_leak();
}

static void
test_overlap(void)
{
	static uint8_t d[256];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 4, 20 + 32, 8);
	/* [0,16) [8,24) [24,32): too many bytes once the last is in. */
	offer_none(f, frag4(d, 0, 16, true), 0);
	offer_none(f, frag4(d, 8, 16, true), 0);
	offer_none(f, frag4(d, 24, 8, false), CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 2);
	check_no_leak();

	/* [0,16) [8,16) [24,32): the right count, but a hole. */
	offer_none(f, frag4(d, 0, 16, true), 0);
	offer_none(f, frag4(d, 8, 8, true), 0);
	offer_none(f, frag4(d, 24, 8, false), CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 2);
	check_no_leak();

	/* Overlapping the end: [0,16) [16,32) then [8,24) after the packet
	 * was done starts a new one that times out. */
	offer_none(f, frag4(d, 0, 16, true), 0);
	offer_last(f, frag4(d, 16, 16, false), d, 52);
	offer_none(f, frag4(d, 8, 16, true), 0);
	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 1);
	check_no_leak();

	/* IPv6: an overlap drops the whole packet (RFC 5722). */
	datagram(d, 6, 40 + 32, 0);
	offer_none(f, frag6(d, 0, 16, true, 1), 0);
	offer_none(f, frag6(d, 8, 16, true, 1), 0);
	offer_none(f, frag6(d, 24, 8, false, 1), CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 2);
	frag_in_free(f);
	check_no_leak();
}

static void
test_too_many_and_full(void)
{
	static uint8_t d[256];
	struct frag_in *f = frag_in_create(2, TTL_MS, SOCKET_ID_ANY);
	uint32_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	/* RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1 fragments of 8 bytes: the one
	 * past the limit drops the packet. */
	datagram(d, 4, 20 + 8 * (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1), 9);
	offer_none(f, frag4(d, 0, 8, true), 0);
	for (i = 1; i < RTE_LIBRTE_IP_FRAG_MAX_FRAG - 1; i++)
		offer_none(f, frag4(d, 8 * i, 8, true), 0);
	offer_none(f, frag4(d, 8 * i, 8, true), CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), RTE_LIBRTE_IP_FRAG_MAX_FRAG - 1);
	check_no_leak();

	/* Two packets at once at most: the third is refused. */
	datagram(d, 4, 100, 10);
	offer_none(f, frag4(d, 0, 40, true), 0);
	datagram(d, 4, 100, 11);
	offer_none(f, frag4(d, 0, 40, true), 0);
	datagram(d, 4, 100, 12);
	offer_none(f, frag4(d, 0, 40, true), CNT_ReassemblyFailed);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 0);
	/* Once the others have timed out there is room again. */
	now = later();
	offer_none(f, frag4(d, 0, 40, true), 0);
	offer_last(f, frag4(d, 40, 40, false), d, 100);
	CU_ASSERT_EQUAL(frag_in_maintain(f, now), 2);
	frag_in_free(f);
	check_no_leak();
}

static void
test_malformed(void)
{
	static uint8_t d[256];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *m;
	uint8_t *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	datagram(d, 4, 100, 13);
	/* MF and a length not a multiple of 8. */
	offer_none(f, frag4(d, 0, 20, true), CNT_ReassemblyFailed);
	/* Bad header checksum. */
	m = frag4(d, 0, 40, true);
	rte_pktmbuf_mtod(m, uint8_t *)[10] ^= 1;
	offer_none(f, m, CNT_ReassemblyFailed);
	/* Total length past the buffer. */
	m = frag4(d, 0, 40, true);
	rte_pktmbuf_trim(m, 1);
	offer_none(f, m, CNT_ReassemblyFailed);
	/* Ending past 65535 bytes. */
	m = frag4(d, 0, 40, true);
	p = rte_pktmbuf_mtod(m, uint8_t *);
	p[6] = 0x3f;
	p[7] = 0xff;
	fix4(p);
	offer_none(f, m, CNT_ReassemblyFailed);
	/* Header only, no data. */
	m = frag4(d, 0, 0, true);
	offer_none(f, m, CNT_ReassemblyFailed);
	/* Not IP. */
	m = frag4(d, 0, 40, true);
	rte_pktmbuf_mtod(m, uint8_t *)[0] = 0x55;
	offer_none(f, m, CNT_ReassemblyFailed);

	/* IPv6: M and a length not a multiple of 8, a payload length past
	 * the buffer, a fragment header with nothing after it, an end
	 * past 65535. */
	datagram(d, 6, 100, 0);
	offer_none(f, frag6(d, 0, 20, true, 1), CNT_ReassemblyFailed);
	m = frag6(d, 0, 40, true, 1);
	rte_pktmbuf_trim(m, 1);
	offer_none(f, m, CNT_ReassemblyFailed);
	offer_none(f, frag6(d, 0, 0, true, 1), CNT_ReassemblyFailed);
	m = frag6(d, 0, 40, true, 1);
	p = rte_pktmbuf_mtod(m, uint8_t *);
	p[42] = 0xff;
	p[43] = 0xf9;
	offer_none(f, m, CNT_ReassemblyFailed);

	/* Link padding after a good fragment is not data. */
	datagram(d, 4, 100, 14);
	m = frag4(d, 0, 40, true);
	memset(rte_pktmbuf_append(m, 6), 0xee, 6);
	offer_none(f, m, 0);
	offer_last(f, frag4(d, 40, 40, false), d, 100);

	CU_ASSERT_EQUAL(frag_in_maintain(f, later()), 0);
	frag_in_free(f);
	check_no_leak();
}

static void
test_truncated(void)
{
	static uint8_t d[256];
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	struct rte_mbuf *m;
	uint32_t l, len;
	int fam;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (fam = 4; fam <= 6; fam += 2) {
		datagram(d, fam, 100, 15);
		m = fam == 4 ? frag4(d, 0, 40, true) : frag6(d, 0, 40, true, 15);
		len = rte_pktmbuf_data_len(m);
		for (l = 0; l <= len; l++) {
			uint8_t *b = malloc(l ? l : 1);
			struct rte_mbuf *t;
			uint16_t w = 0xffff;

			CU_ASSERT_FATAL(b != NULL);
			memcpy(b, rte_pktmbuf_mtod(m, uint8_t *), l);
			CU_ASSERT_EQUAL(frag_is_fragment(b, l),
					l >= (fam == 4 ? 20u : 40u));
			free(b);
			/* Short of the IP length: dropped; whole: held. */
			t = mbuf_of(rte_pktmbuf_mtod(m, uint8_t *), l);
			CU_ASSERT_PTR_NULL(frag_in_add(f, t, now, big_pool, &w));
			CU_ASSERT_EQUAL(w, l < len ? CNT_ReassemblyFailed : 0);
		}
		rte_pktmbuf_free(m);
	}
	/* Random bytes. */
	{
		uint32_t seed = 4242, i, k;

		for (i = 0; i < 5000; i++) {
			uint8_t b[128];
			uint16_t w;

			seed = seed * 1103515245u + 12345u;
			l = (seed >> 16) % 128;
			for (k = 0; k < l; k++) {
				seed = seed * 1103515245u + 12345u;
				b[k] = (uint8_t)(seed >> 16);
			}
			if (l > 43) {
				b[0] = (i & 1) ? 0x60 : 0x45;
				if (i & 1)
					b[6] = IPPROTO_FRAGMENT;
				else
					b[6] |= 0x20;
			}
			m = mbuf_of(b, l);
			m = frag_in_add(f, m, now, big_pool, &w);
			rte_pktmbuf_free(m);
		}
	}
	frag_in_maintain(f, later());
	frag_in_free(f);
	check_no_leak();
}

/* The largest IPv4 datagrams (65 408 to 65 535 bytes) in eight 8 KB
 * fragments: put together in a 64 KB mbuf, whose headroom gives way
 * (it held only 65 407 bytes past the usual headroom before). */
static void
test_largest(void)
{
	static const uint32_t tots[] = { 65400, 65408, 65535 };
	static uint8_t d[65535], b[20 + 8192];
	struct rte_mempool *pool = rte_pktmbuf_pool_create("frag_8k", 9, 0, 0,
							   RTE_PKTMBUF_HEADROOM + 20 + 8192,
							   SOCKET_ID_ANY);
	struct frag_in *f = frag_in_create(64, TTL_MS, SOCKET_ID_ANY);
	unsigned int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (k = 0; k < RTE_DIM(tots); k++) {
		uint32_t tot = tots[k], ofs, len;
		struct rte_mbuf *r = NULL, *m;
		uint16_t why = 0;

		datagram(d, 4, tot, (uint16_t)(800 + k));
		for (ofs = 0; ofs < tot - 20; ofs += len) {
			len = RTE_MIN(8192u, tot - 20 - ofs);
			memcpy(b, d, 20);
			memcpy(b + 20, d + 20 + ofs, len);
			b[2] = (uint8_t)((20 + len) >> 8);
			b[3] = (uint8_t)(20 + len);
			b[6] = (uint8_t)((ofs + len < tot - 20 ? 0x20 : 0) | (ofs / 8) >> 8);
			b[7] = (uint8_t)(ofs / 8);
			fix4(b);
			m = rte_pktmbuf_alloc(pool);
			CU_ASSERT_PTR_NOT_NULL_FATAL(m);
			memcpy(rte_pktmbuf_append(m, (uint16_t)(20 + len)), b, 20 + len);
			r = frag_in_add(f, m, now, big_pool, &why);
		}
		CU_ASSERT_PTR_NOT_NULL(r);
		CU_ASSERT_EQUAL(why, 0);
		if (r != NULL) {
			CU_ASSERT_EQUAL(r->pkt_len, tot);
			CU_ASSERT_EQUAL(r->nb_segs, 1);
			CU_ASSERT(cksum4_ok(rte_pktmbuf_mtod(r, const uint8_t *)));
			CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(r, uint8_t *) + 20, d + 20, tot - 20),
					0);
			rte_pktmbuf_free(r);
		}
	}
	frag_in_maintain(f, later());
	frag_in_free(f);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), 0);
	rte_mempool_free(pool);
	check_no_leak();
}

static int
suite_init(void)
{
	/* Reassembled packets beyond a 2 KB buffer go here: a few mbufs of
	 * the largest data room an mbuf can have. */
	big_pool = rte_pktmbuf_pool_create("frag_big", 7, 0, 0, UINT16_MAX, SOCKET_ID_ANY);
	if (big_pool == NULL)
		return -1;
	base_unit = rte_mempool_in_use_count(unit_mbuf_pool());
	base_big = rte_mempool_in_use_count(big_pool);
	now = rte_rdtsc();
	return 0;
}

static int
suite_fini(void)
{
	rte_mempool_free(big_pool);
	return 0;
}

int
test_frag_register(void)
{
	CU_pSuite s = CU_add_suite("frag", suite_init, suite_fini);

	if (s == NULL ||
	    !CU_add_test(s, "3000 bytes cut at MTU 1400", test_out) ||
	    !CU_add_test(s, "copied options, link padding", test_out_options_and_padding) ||
	    !CU_add_test(s, "what is not fragmented", test_out_refused) ||
	    !CU_add_test(s, "IPv4 reassembly, in and out of order", test_in_v4) ||
	    !CU_add_test(s, "IPv6 reassembly, atomic fragments", test_in_v6) ||
	    !CU_add_test(s, "our ESP over IPv6 cut for a 1280-byte path", test_out_v6) ||
	    !CU_add_test(s, "duplicate fragments", test_duplicates) ||
	    !CU_add_test(s, "a missing fragment, timed out", test_missing_and_timeout) ||
	    !CU_add_test(s, "overlapping fragments", test_overlap) ||
	    !CU_add_test(s, "too many fragments, a full table", test_too_many_and_full) ||
	    !CU_add_test(s, "malformed fragments", test_malformed) ||
	    !CU_add_test(s, "truncated at every length, random input", test_truncated) ||
	    !CU_add_test(s, "the largest datagrams, 64 KB", test_largest))
		return CU_get_error();
	return 0;
}
