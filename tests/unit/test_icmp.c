/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "icmp": ICMP errors and echo replies. A Time Exceeded byte for
 * byte (checksums worked out by hand, with Python), the quoting limits of
 * RFC 1812 and RFC 4443, the cases where no error may be sent, echo
 * replies in place, and every truncation of the inputs (in heap buffers
 * of the exact length, so that ASan sees any read past the end).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/icmp.h"
#include "unit.h"

/* A UDP datagram 192.168.1.10 -> 198.51.100.7, port 1234 -> 33434, TTL 1,
 * 8 bytes "espd-ttl": the probe a traceroute sends. */
static const char probe_hex[] =
	"45000024123400000111bba8c0a8010ac6336407"
	"04d2829a00100000657370642d74746c";

/* Its Time Exceeded from 192.0.2.1 (checksums computed with Python). */
static const char ttl_hex[] =
	"45c00040000000004001f649c0000201c0a8010a"
	"0b00f5ca00000000"
	"45000024123400000111bba8c0a8010ac6336407"
	"04d2829a00100000657370642d74746c";

static const uint8_t src4[16] = { 192, 0, 2, 1 };
static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0xfe };

/* The one's complement sum, a byte at a time: independent of DPDK's. */
static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* True when the ICMPv6 message at ip + off (the rest of the packet)
 * checks out against the pseudo-header. */
static bool
icmp6_ok(const uint8_t *ip, uint32_t off, uint32_t len)
{
	uint8_t ph[8] = { 0, 0, (uint8_t)((len - off) >> 8), (uint8_t)(len - off),
			  0, 0, 0, IPPROTO_ICMPV6 };
	uint32_t s = sum16(ip + 8, 32, 0);

	s = sum16(ph, 8, s);
	s = sum16(ip + off, len - off, s);
	return fold(s) == 0xffff;
}

static void
fix_cksum4(uint8_t *ip)
{
	uint32_t hl = (ip[0] & 0x0f) * 4u;
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~fold(sum16(ip, hl, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

/* A UDP datagram of @p total bytes, IPv4 or IPv6, patterned payload. */
static uint32_t
udp_packet(uint8_t *buf, int family, uint32_t total)
{
	uint32_t i, hl = family == 4 ? 20 : 40;

	memset(buf, 0, hl + 8);
	for (i = hl + 8; i < total; i++)
		buf[i] = (uint8_t)(i * 7);
	if (family == 4) {
		buf[0] = 0x45;
		buf[2] = (uint8_t)(total >> 8);
		buf[3] = (uint8_t)total;
		buf[8] = 64;
		buf[9] = IPPROTO_UDP;
		memcpy(buf + 12, (const uint8_t[]){ 10, 1, 0, 2, 10, 2, 0, 2 }, 8);
		fix_cksum4(buf);
	} else {
		buf[0] = 0x60;
		buf[4] = (uint8_t)((total - 40) >> 8);
		buf[5] = (uint8_t)(total - 40);
		buf[6] = IPPROTO_UDP;
		buf[7] = 64;
		buf[8] = 0x20; buf[9] = 0x01; buf[10] = 0x0d; buf[11] = 0xb8;
		buf[23] = 2;
		buf[24] = 0x20; buf[25] = 0x01; buf[26] = 0x0d; buf[27] = 0xb8;
		buf[28] = 1;
		buf[39] = 2;
	}
	buf[hl + 4] = (uint8_t)((total - hl) >> 8);
	buf[hl + 5] = (uint8_t)(total - hl);
	return total;
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
test_ttl_known_answer(void)
{
	uint8_t probe[64], want[128];
	size_t np = unit_hex(probe_hex, probe, sizeof(probe));
	size_t nw = unit_hex(ttl_hex, want, sizeof(want));
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());
	const uint8_t *p;

	CU_ASSERT_EQUAL_FATAL(np, 36);
	CU_ASSERT_TRUE(icmp_error_allowed(probe, (uint32_t)np));
	CU_ASSERT_EQUAL_FATAL(icmp_error_build(m, probe, (uint32_t)np, ICMP_ERR_TTL, 0, src4), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), nw);
	CU_ASSERT_EQUAL(memcmp(p, want, nw), 0);
	CU_ASSERT_EQUAL(fold(sum16(p, 20, 0)), 0xffff);
	CU_ASSERT_EQUAL(fold(sum16(p + 20, nw - 20, 0)), 0xffff);
	CU_ASSERT_EQUAL(m->l3_len, 20);
	rte_pktmbuf_free(m);

	/* Link padding past the IP length is not quoted. */
	memset(probe + np, 0xee, 10);
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL(icmp_error_build(m, probe, (uint32_t)np + 10, ICMP_ERR_TTL, 0, src4), 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), nw);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m, const uint8_t *), want, nw), 0);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_v4_kinds_and_limit(void)
{
	static uint8_t orig[1500];
	struct rte_mbuf *m;
	const uint8_t *p;

	udp_packet(orig, 4, sizeof(orig));
	/* Fragmentation Needed: type 3 code 4, next-hop MTU (RFC 1191). */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(icmp_error_build(m, orig, sizeof(orig), ICMP_ERR_FRAG_NEEDED,
					       1400, src4), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	/* RFC 1812 4.3.2.3: 576 bytes at most, 548 of them quoted. */
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 576);
	CU_ASSERT_EQUAL(p[2] << 8 | p[3], 576);
	CU_ASSERT_EQUAL(p[6], 0);        /* DF clear, ID 0 */
	CU_ASSERT_EQUAL(p[4] | p[5], 0);
	CU_ASSERT_EQUAL(p[8], 64);
	CU_ASSERT_EQUAL(memcmp(p + 16, orig + 12, 4), 0);
	CU_ASSERT_EQUAL(p[20], 3);
	CU_ASSERT_EQUAL(p[21], 4);
	CU_ASSERT_EQUAL(p[24] | p[25], 0);
	CU_ASSERT_EQUAL(p[26] << 8 | p[27], 1400);
	CU_ASSERT_EQUAL(memcmp(p + 28, orig, 548), 0);
	CU_ASSERT_EQUAL(fold(sum16(p, 20, 0)), 0xffff);
	CU_ASSERT_EQUAL(fold(sum16(p + 20, 556, 0)), 0xffff);
	rte_pktmbuf_free(m);

	/* Host unreachable: type 3 code 1, no MTU. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(icmp_error_build(m, orig, sizeof(orig), ICMP_ERR_UNREACH_HOST,
					       1400, src4), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT_EQUAL(p[20], 3);
	CU_ASSERT_EQUAL(p[21], 1);
	CU_ASSERT_EQUAL(p[26] | p[27], 0);
	CU_ASSERT_EQUAL(fold(sum16(p + 20, 556, 0)), 0xffff);
	rte_pktmbuf_free(m);

	/* No room, a non-empty mbuf, an unknown kind. */
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	m->data_off = (uint16_t)(m->buf_len - 100);
	CU_ASSERT_EQUAL(icmp_error_build(m, orig, sizeof(orig), ICMP_ERR_TTL, 0, src4), -ENOSPC);
	CU_ASSERT_EQUAL(icmp_error_build(m, orig, 36, ICMP_ERR_TTL, 0, src4), 0);
	CU_ASSERT_EQUAL(icmp_error_build(m, orig, 36, ICMP_ERR_TTL, 0, src4), -EINVAL);
	rte_pktmbuf_free(m);
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL(icmp_error_build(m, orig, 36, (enum icmp_err_kind)7, 0, src4), -EINVAL);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_v6_ptb(void)
{
	static uint8_t orig[1500];
	struct rte_mbuf *m;
	const uint8_t *p;
	static const struct { enum icmp_err_kind k; uint8_t type, code; } kinds[] = {
		{ ICMP_ERR_TTL, 3, 0 },
		{ ICMP_ERR_UNREACH_HOST, 1, 3 },
	};
	size_t i;

	udp_packet(orig, 6, sizeof(orig));
	m = rte_pktmbuf_alloc(unit_mbuf_pool());
	CU_ASSERT_EQUAL_FATAL(icmp_error_build(m, orig, sizeof(orig), ICMP_ERR_FRAG_NEEDED,
					       1280, src6), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	/* RFC 4443 2.4(c): 1280 bytes at most, 1232 of them quoted. */
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 1280);
	CU_ASSERT_EQUAL(p[0], 0x60);
	CU_ASSERT_EQUAL(p[4] << 8 | p[5], 1240);
	CU_ASSERT_EQUAL(p[6], IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(p[7], 64);
	CU_ASSERT_EQUAL(memcmp(p + 8, src6, 16), 0);
	CU_ASSERT_EQUAL(memcmp(p + 24, orig + 8, 16), 0);
	CU_ASSERT_EQUAL(p[40], 2);
	CU_ASSERT_EQUAL(p[41], 0);
	CU_ASSERT_EQUAL(memcmp(p + 44, "\x00\x00\x05\x00", 4), 0);
	CU_ASSERT_EQUAL(memcmp(p + 48, orig, 1232), 0);
	CU_ASSERT_TRUE(icmp6_ok(p, 40, 1280));
	CU_ASSERT_EQUAL(m->l3_len, 40);
	rte_pktmbuf_free(m);

	for (i = 0; i < RTE_DIM(kinds); i++) {
		m = rte_pktmbuf_alloc(unit_mbuf_pool());
		CU_ASSERT_EQUAL_FATAL(icmp_error_build(m, orig, 100, kinds[i].k, 1280, src6), 0);
		p = rte_pktmbuf_mtod(m, const uint8_t *);
		/* Quoted: the 100 bytes there are, though the header says 1500. */
		CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 148);
		CU_ASSERT_EQUAL(p[40], kinds[i].type);
		CU_ASSERT_EQUAL(p[41], kinds[i].code);
		CU_ASSERT_EQUAL(p[44] | p[45] | p[46] | p[47], 0);
		CU_ASSERT_TRUE(icmp6_ok(p, 40, 148));
		rte_pktmbuf_free(m);
	}
	CHECK_NO_LEAK();
}

/* icmp_error_allowed() and icmp_error_build() agree that no error goes. */
static void
refused(const uint8_t *p, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());

	CU_ASSERT_FALSE(icmp_error_allowed(p, len));
	CU_ASSERT_EQUAL(icmp_error_build(m, p, len, ICMP_ERR_TTL, 0, src4), -EINVAL);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 0);
	rte_pktmbuf_free(m);
}

static void
test_not_allowed_v4(void)
{
	static const uint8_t errors[] = { 3, 4, 5, 11, 12 };
	static const uint8_t queries[] = { 0, 8, 13, 14 };
	static const uint8_t bad_dst[][4] = {
		{ 255, 255, 255, 255 }, { 224, 0, 0, 1 }, { 239, 1, 2, 3 },
	};
	static const uint8_t bad_src[][4] = {
		{ 0, 0, 0, 0 }, { 127, 0, 0, 1 }, { 224, 0, 0, 5 }, { 240, 0, 0, 1 },
		{ 255, 255, 255, 255 },
	};
	uint8_t b[64], c[80];
	size_t i;

	udp_packet(b, 4, 48);
	CU_ASSERT_TRUE(icmp_error_allowed(b, 48));

	/* About an ICMP error: never; about an echo and other queries: yes. */
	b[9] = IPPROTO_ICMP;
	fix_cksum4(b);
	for (i = 0; i < RTE_DIM(errors); i++) {
		b[20] = errors[i];
		refused(b, 48);
	}
	for (i = 0; i < RTE_DIM(queries); i++) {
		b[20] = queries[i];
		CU_ASSERT_TRUE(icmp_error_allowed(b, 48));
	}
	refused(b, 20); /* ICMP, but its type is not there */

	/* The same under AH (12 bytes + a 12-byte ICV: Payload Len 4). */
	udp_packet(c, 4, 72);
	c[9] = IPPROTO_AH;
	fix_cksum4(c);
	memset(c + 20, 0, 24);
	c[20] = IPPROTO_ICMP;
	c[21] = 4;
	for (i = 0; i < RTE_DIM(errors); i++) {
		c[44] = errors[i];
		refused(c, 72);
	}
	c[44] = 8;
	CU_ASSERT_TRUE(icmp_error_allowed(c, 72));
	c[20] = IPPROTO_UDP;
	c[44] = 3;
	CU_ASSERT_TRUE(icmp_error_allowed(c, 72)); /* UDP under AH */

	/* A first fragment may have one, a later fragment may not. */
	udp_packet(b, 4, 48);
	b[6] = 0x20; /* MF */
	CU_ASSERT_TRUE(icmp_error_allowed(b, 48));
	b[6] = 0x20;
	b[7] = 185;
	refused(b, 48);
	b[6] = 0;
	refused(b, 48); /* the last one */

	/* Broadcast, multicast destinations; sources that are no host. */
	for (i = 0; i < RTE_DIM(bad_dst); i++) {
		udp_packet(c, 4, 48);
		memcpy(c + 16, bad_dst[i], 4);
		refused(c, 48);
	}
	for (i = 0; i < RTE_DIM(bad_src); i++) {
		udp_packet(c, 4, 48);
		memcpy(c + 12, bad_src[i], 4);
		refused(c, 48);
	}

	/* Malformed: header length below 20 or past the buffer, total
	 * length below the header, not IP. */
	udp_packet(c, 4, 48);
	c[0] = 0x44;
	refused(c, 48);
	c[0] = 0x4f;
	refused(c, 48);
	udp_packet(c, 4, 48);
	c[2] = 0;
	c[3] = 19;
	refused(c, 48);
	c[0] = 0x55;
	refused(c, 48);
	CHECK_NO_LEAK();
}

static void
test_not_allowed_v6(void)
{
	uint8_t b[128], h[128];
	int t;

	udp_packet(b, 6, 100);
	CU_ASSERT_TRUE(icmp_error_allowed(b, 100));

	/* ICMPv6 errors are types below 128 (RFC 4443 2.1). */
	b[6] = IPPROTO_ICMPV6;
	for (t = 0; t < 256; t++) {
		b[40] = (uint8_t)t;
		CU_ASSERT_EQUAL(icmp_error_allowed(b, 100), t >= 128 && t != 137 /* Redirect */);
	}
	b[40] = 1;
	refused(b, 100);
	refused(b, 40);

	/* The same behind a hop-by-hop header (8 bytes: PadN of 4), and
	 * behind AH (Payload Len 4: 24 bytes). */
	for (t = 0; t < 2; t++) {
		uint32_t el = t == 0 ? 8 : 24;

		memcpy(h, b, 40);
		h[6] = t == 0 ? IPPROTO_HOPOPTS : IPPROTO_AH;
		memset(h + 40, 0, el);
		h[40] = IPPROTO_ICMPV6;
		h[41] = t == 0 ? 0 : 4;
		h[42] = t == 0 ? 1 : 0;
		h[43] = t == 0 ? 4 : 0;
		memcpy(h + 40 + el, b + 40, 40);
		h[40 + el] = 1;
		refused(h, 80 + el);
		h[40 + el] = 128;
		CU_ASSERT_TRUE(icmp_error_allowed(h, 80 + el));
		refused(h, 40 + el - 1); /* the extension header cut short */
	}

	/* Fragments: the first may have an error, the others not. */
	udp_packet(b, 6, 100);
	memmove(b + 48, b + 40, 52);
	b[6] = IPPROTO_FRAGMENT;
	memset(b + 40, 0, 8);
	b[40] = IPPROTO_UDP;
	b[43] = 1; /* M */
	CU_ASSERT_TRUE(icmp_error_allowed(b, 100));
	b[42] = 0x05;
	b[43] = 0x48;
	refused(b, 100);
	refused(b, 44); /* a fragment header cut short */

	/* Multicast destination; unspecified or multicast source. */
	udp_packet(b, 6, 100);
	b[24] = 0xff;
	refused(b, 100);
	udp_packet(b, 6, 100);
	memset(b + 8, 0, 16);
	refused(b, 100);
	b[8] = 0xff;
	refused(b, 100);
	CHECK_NO_LEAK();
}

static void
test_echo_v4(void)
{
	uint8_t req[128], want_data[32];
	struct rte_mbuf *m;
	const uint8_t *p;
	uint32_t i;

	/* An echo request with 4 bytes of options (NOPs) and link padding:
	 * 24 + 8 + 32 = 64 bytes, then 6 of padding. */
	memset(req, 0, sizeof(req));
	req[0] = 0x46;
	req[1] = 0x10;
	req[3] = 64;
	req[4] = 0xab;
	req[6] = 0x40;
	req[8] = 57;
	req[9] = IPPROTO_ICMP;
	memcpy(req + 12, (const uint8_t[]){ 10, 9, 8, 7, 10, 1, 1, 1 }, 8);
	memset(req + 20, 1, 4);
	req[24] = 8;
	req[28] = 0x12; req[29] = 0x34; req[30] = 0; req[31] = 7;
	for (i = 0; i < 32; i++)
		want_data[i] = req[32 + i] = (uint8_t)(0x40 + i);
	fix_cksum4(req);
	{
		uint16_t c = (uint16_t)~fold(sum16(req + 24, 40, 0));

		req[26] = (uint8_t)(c >> 8);
		req[27] = (uint8_t)c;
	}
	memset(req + 64, 0xee, 6);

	m = mbuf_of(req, 70);
	CU_ASSERT_EQUAL_FATAL(icmp_echo_reply(m), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 60);
	CU_ASSERT_EQUAL(p[0], 0x45);          /* options gone */
	CU_ASSERT_EQUAL(p[1], 0x10);
	CU_ASSERT_EQUAL(p[2] << 8 | p[3], 60);
	CU_ASSERT_EQUAL(p[8], 64);
	CU_ASSERT_EQUAL(p[9], IPPROTO_ICMP);
	CU_ASSERT_EQUAL(memcmp(p + 12, req + 16, 4), 0);
	CU_ASSERT_EQUAL(memcmp(p + 16, req + 12, 4), 0);
	CU_ASSERT_EQUAL(fold(sum16(p, 20, 0)), 0xffff);
	CU_ASSERT_EQUAL(p[20], 0);
	CU_ASSERT_EQUAL(p[21], 0);
	CU_ASSERT_EQUAL(memcmp(p + 24, req + 28, 4), 0); /* id, sequence */
	CU_ASSERT_EQUAL(memcmp(p + 28, want_data, 32), 0);
	CU_ASSERT_EQUAL(fold(sum16(p + 20, 40, 0)), 0xffff);
	CU_ASSERT_EQUAL(m->l3_len, 20);
	/* A reply is no request. */
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);

	/* Record Route (room for two, one taken) and Timestamp (flag 0,
	 * room for one): our address and a time added, as Linux echoes them;
	 * a full Timestamp counts an overflow. 19 bytes of options, padded
	 * to 20. */
	{
		static const uint8_t rr[11] = { 7, 11, 8, 10, 9, 8, 7 };
		static const uint8_t ts[8] = { 68, 8, 5, 0 };
		uint8_t q[128];
		int full;

		for (full = 0; full < 2; full++) {
			memset(q, 0, sizeof(q));
			q[0] = 0x4b; /* 44 bytes of header */
			q[3] = 44 + 8 + 32;
			q[8] = 57;
			q[9] = IPPROTO_ICMP;
			memcpy(q + 12, (const uint8_t[]){ 10, 9, 8, 7, 10, 1, 1, 1 }, 8);
			memcpy(q + 20, rr, sizeof(rr));
			memcpy(q + 31, ts, sizeof(ts));
			q[33] = full ? 9 : 5; /* the pointer past the end: full */
			q[39] = 1;           /* NOP, then EOL to 44 */
			q[44] = 8;
			for (i = 0; i < 32; i++)
				q[52 + i] = (uint8_t)(0x40 + i);
			fix_cksum4(q);
			{
				uint16_t c = (uint16_t)~fold(sum16(q + 44, 40, 0));

				q[46] = (uint8_t)(c >> 8);
				q[47] = (uint8_t)c;
			}
			m = mbuf_of(q, 84);
			CU_ASSERT_EQUAL_FATAL(icmp_echo_reply(m), 0);
			p = rte_pktmbuf_mtod(m, const uint8_t *);
			CU_ASSERT_EQUAL(p[0], 0x4a); /* 40: 20 + RR 11 + TS 8, padded */
			CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 40 + 8 + 32);
			CU_ASSERT_EQUAL(p[2] << 8 | p[3], 40 + 8 + 32);
			CU_ASSERT_EQUAL(fold(sum16(p, 40, 0)), 0xffff);
			CU_ASSERT_EQUAL(p[20], 7);
			CU_ASSERT_EQUAL(p[22], 12);                  /* pointer on */
			CU_ASSERT_EQUAL(memcmp(p + 23, (const uint8_t[]){ 10, 9, 8, 7 }, 4), 0);
			CU_ASSERT_EQUAL(memcmp(p + 27, q + 16, 4), 0); /* us */
			CU_ASSERT_EQUAL(p[31], 68);
			if (full) {
				CU_ASSERT_EQUAL(p[33], 9);
				CU_ASSERT_EQUAL(p[34], 0x10);        /* one overflow */
			} else {
				CU_ASSERT_EQUAL(p[33], 9);
				CU_ASSERT_EQUAL(p[34], 0);
				struct timespec now;
				uint32_t got = (uint32_t)p[35] << 24 | p[36] << 16 | p[37] << 8 | p[38];
				int64_t d;

				clock_gettime(CLOCK_REALTIME, &now);
				d = ((int64_t)((now.tv_sec % 86400) * 1000 + now.tv_nsec / 1000000) -
				     got + 86400000) % 86400000;
				CU_ASSERT(d < 5000); /* ms since midnight UT, just now */
			}
			CU_ASSERT_EQUAL(p[39], 0);                   /* EOL padding */
			CU_ASSERT_EQUAL(p[40], 0);                   /* echo reply */
			CU_ASSERT_EQUAL(memcmp(p + 48, q + 52, 32), 0);
			CU_ASSERT_EQUAL(fold(sum16(p + 40, 40, 0)), 0xffff);
			CU_ASSERT_EQUAL(m->l3_len, 40);
			rte_pktmbuf_free(m);
		}
		/* Malformed options (a length past the header): refused. */
		q[0] = 0x4b;
		memset(q + 20, 0, 24);
		q[20] = 7;
		q[21] = 30;
		q[22] = 4;
		q[2] = 0;
		q[3] = 44 + 8 + 32;
		fix_cksum4(q);
		m = mbuf_of(q, 84);
		CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
		rte_pktmbuf_free(m);
	}

	/* Refused: bad ICMP checksum, bad IP checksum, a fragment, code 1,
	 * to a broadcast address. */
	req[40] ^= 1;
	m = mbuf_of(req, 64);
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	req[40] ^= 1;
	req[8] = 58;
	m = mbuf_of(req, 64);
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	req[8] = 57;
	req[6] = 0x20;
	fix_cksum4(req);
	m = mbuf_of(req, 64);
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	req[6] = 0x40;
	memset(req + 16, 0xff, 4);
	fix_cksum4(req);
	m = mbuf_of(req, 64);
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_echo_v6(void)
{
	uint8_t req[128];
	struct rte_mbuf *m;
	const uint8_t *p;
	uint16_t c;
	uint32_t i;

	/* IPv6, a hop-by-hop header, echo request with 24 bytes of data:
	 * 40 + 8 + 32 = 80 bytes. */
	memset(req, 0, sizeof(req));
	req[0] = 0x60;
	req[5] = 40;
	req[6] = IPPROTO_HOPOPTS;
	req[7] = 33;
	req[8] = 0x20; req[9] = 0x01; req[10] = 0x0d; req[11] = 0xb8; req[23] = 0x99;
	memcpy(req + 24, src6, 16);
	req[40] = IPPROTO_ICMPV6;
	req[42] = 1;
	req[43] = 4;
	req[48] = 128;
	req[52] = 0xbe; req[53] = 0xef; req[55] = 3;
	for (i = 56; i < 80; i++)
		req[i] = (uint8_t)i;
	c = (uint16_t)~fold(sum16(req + 8, 32, sum16((const uint8_t[]){ 0, 0, 0, 32, 0, 0, 0, 58 },
						   8, sum16(req + 48, 32, 0))));
	req[50] = (uint8_t)(c >> 8);
	req[51] = (uint8_t)c;
	CU_ASSERT_TRUE_FATAL(icmp6_ok(req, 48, 80)); /* the test's own request is right */

	m = mbuf_of(req, 80);
	CU_ASSERT_EQUAL_FATAL(icmp_echo_reply(m), 0);
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 72);
	CU_ASSERT_EQUAL(p[4] << 8 | p[5], 32);
	CU_ASSERT_EQUAL(p[6], IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(p[7], 64);
	CU_ASSERT_EQUAL(memcmp(p + 8, src6, 16), 0);
	CU_ASSERT_EQUAL(memcmp(p + 24, req + 8, 16), 0);
	CU_ASSERT_EQUAL(p[40], 129);
	CU_ASSERT_EQUAL(memcmp(p + 44, req + 52, 28), 0);
	CU_ASSERT_TRUE(icmp6_ok(p, 40, 72));
	rte_pktmbuf_free(m);

	/* Bad checksum, to multicast, not a request. */
	req[60] ^= 0x80;
	m = mbuf_of(req, 80);
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	req[60] ^= 0x80;
	m = mbuf_of(req, 80);
	rte_pktmbuf_mtod(m, uint8_t *)[24] = 0xff;
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	m = mbuf_of(req, 80);
	rte_pktmbuf_mtod(m, uint8_t *)[48] = 129;
	CU_ASSERT_EQUAL(icmp_echo_reply(m), -1);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

/* Every prefix of @p p in a heap buffer of its exact length. */
static void
truncations(const uint8_t *p, uint32_t len, bool echo)
{
	uint32_t l;

	for (l = 0; l <= len; l++) {
		uint8_t *b = malloc(l ? l : 1);
		struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());

		CU_ASSERT_FATAL(b != NULL && m != NULL);
		memcpy(b, p, l);
		(void)icmp_error_allowed(b, l);
		(void)icmp_error_build(m, b, l, ICMP_ERR_FRAG_NEEDED, 1400,
				       (p[0] >> 4) == 6 ? src6 : src4);
		rte_pktmbuf_free(m);
		if (echo) {
			m = mbuf_of(b, l);
			CU_ASSERT_EQUAL(icmp_echo_reply(m), l < len ? -1 : 0);
			rte_pktmbuf_free(m);
		}
		free(b);
	}
}

static void
test_truncated(void)
{
	uint8_t b[128];
	uint32_t i;

	udp_packet(b, 4, 60);
	truncations(b, 60, false);
	udp_packet(b, 6, 100);
	truncations(b, 100, false);

	/* Echo requests, checked at every length: only the whole is good. */
	memset(b, 0, sizeof(b));
	b[0] = 0x45;
	b[3] = 40;
	b[8] = 9;
	b[9] = IPPROTO_ICMP;
	b[12] = 10; b[15] = 1; b[16] = 10; b[19] = 2;
	b[20] = 8;
	for (i = 28; i < 40; i++)
		b[i] = (uint8_t)i;
	fix_cksum4(b);
	{
		uint16_t c = (uint16_t)~fold(sum16(b + 20, 20, 0));

		b[22] = (uint8_t)(c >> 8);
		b[23] = (uint8_t)c;
	}
	truncations(b, 40, true);
	CHECK_NO_LEAK();
}

/* Random bytes that look like IP: no crash, no read past the end. */
static void
test_random(void)
{
	uint32_t seed = 12345, i, l, k;

	for (i = 0; i < 20000; i++) {
		uint8_t *b;
		struct rte_mbuf *m;

		seed = seed * 1103515245u + 12345u;
		l = (seed >> 16) % 120;
		b = malloc(l ? l : 1);
		CU_ASSERT_FATAL(b != NULL);
		for (k = 0; k < l; k++) {
			seed = seed * 1103515245u + 12345u;
			b[k] = (uint8_t)(seed >> 16);
		}
		if (l > 0) /* v4 with any header length, or v6 */
			b[0] = (i & 1) ? 0x60 : (uint8_t)(0x40 | (b[0] & 0x0f));
		if (l > 9 && (i & 4))
			b[(i & 1) ? 6 : 9] = (i & 8) ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		m = rte_pktmbuf_alloc(unit_mbuf_pool());
		(void)icmp_error_build(m, b, l, (enum icmp_err_kind)(i % 3), 1280,
				       (i & 1) ? src6 : src4);
		rte_pktmbuf_free(m);
		m = mbuf_of(b, l);
		(void)icmp_echo_reply(m);
		rte_pktmbuf_free(m);
		free(b);
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
test_icmp_register(void)
{
	CU_pSuite s = CU_add_suite("icmp", suite_init, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "Time Exceeded byte for byte", test_ttl_known_answer) ||
	    !CU_add_test(s, "IPv4 kinds and the 576-byte limit", test_v4_kinds_and_limit) ||
	    !CU_add_test(s, "IPv6 Packet Too Big and the 1280-byte limit", test_v6_ptb) ||
	    !CU_add_test(s, "IPv4: no error about errors, fragments, broadcast", test_not_allowed_v4) ||
	    !CU_add_test(s, "IPv6: no error about errors, fragments, multicast", test_not_allowed_v6) ||
	    !CU_add_test(s, "IPv4 echo reply in place", test_echo_v4) ||
	    !CU_add_test(s, "IPv6 echo reply in place", test_echo_v6) ||
	    !CU_add_test(s, "truncated at every length", test_truncated) ||
	    !CU_add_test(s, "random input", test_random))
		return CU_get_error();
	return 0;
}
