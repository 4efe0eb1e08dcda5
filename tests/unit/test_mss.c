/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "mss": TCP MSS clamping. SYN and SYN-ACK clamped with the
 * checksum checked by recomputing it whole (an MSS at an even and at an
 * odd offset), everything that must be left alone, IPv6 behind a
 * hop-by-hop header, malformed options, and every truncation.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_ip.h>

#include "dataplane/mss.h"
#include "unit.h"

#define SYN 0x02
#define ACK 0x10

/* MSS 1460, NOP, NOP, SACK permitted, NOP, window scale 7. */
static const uint8_t opts_even[12] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 };
/* NOP, MSS 1460 (its value at an odd offset), NOP, NOP, NOP. */
static const uint8_t opts_odd[8] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 1 };
/* NOP, NOP, SACK permitted, NOP, window scale: no MSS. */
static const uint8_t opts_none[8] = { 1, 1, 4, 2, 1, 3, 3, 7 };

/* The TCP checksum over the pseudo-header (RFC 9293 3.1, RFC 8200 8.1),
 * a byte at a time: 0xffff when right. */
static uint16_t
tcp_sum(const uint8_t *ip, uint32_t off, uint32_t len)
{
	bool v6 = (ip[0] >> 4) == 6;
	uint32_t s = 0, i, l4 = len - off;

	for (i = v6 ? 8 : 12; i < (v6 ? 40u : 20u); i++)
		s += (i & 1) ? ip[i] : (uint32_t)ip[i] << 8;
	s += l4 + IPPROTO_TCP;
	for (i = 0; i < l4; i++)
		s += (i & 1) ? ip[off + i] : (uint32_t)ip[off + i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * A TCP segment with @p flags and the options @p opt (a multiple of 4
 * bytes) and 10 bytes of data, over IPv4 or IPv6 (with a hop-by-hop
 * header when @p hbh). @return its length; *off the TCP header's offset.
 */
static uint32_t
segment(uint8_t *b, int family, bool hbh, uint8_t flags, const uint8_t *opt,
	uint32_t optlen, uint32_t *off)
{
	uint32_t hl = family == 4 ? 20 : 40 + (hbh ? 8 : 0), len, i;
	uint8_t *t = b + hl;
	uint16_t c;

	len = hl + 20 + optlen + 10;
	memset(b, 0, len);
	if (family == 4) {
		b[0] = 0x45;
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
		b[8] = 64;
		b[9] = IPPROTO_TCP;
		memcpy(b + 12, (const uint8_t[]){ 10, 0, 0, 1, 10, 0, 1, 1 }, 8);
	} else {
		b[0] = 0x60;
		b[4] = (uint8_t)((len - 40) >> 8);
		b[5] = (uint8_t)(len - 40);
		b[6] = hbh ? IPPROTO_HOPOPTS : IPPROTO_TCP;
		b[7] = 64;
		b[8] = 0x20; b[9] = 0x01; b[10] = 0x0d; b[11] = 0xb8; b[23] = 1;
		b[24] = 0x20; b[25] = 0x01; b[26] = 0x0d; b[27] = 0xb8; b[39] = 2;
		if (hbh) {
			b[40] = IPPROTO_TCP;
			b[42] = 1; /* PadN */
			b[43] = 4;
		}
	}
	t[0] = 0xc3; t[1] = 0x50; t[2] = 0x01; t[3] = 0xbb;
	t[4] = 0x11; t[5] = 0x22; t[6] = 0x33; t[7] = 0x44;
	t[12] = (uint8_t)((20 + optlen) / 4) << 4;
	t[13] = flags;
	t[14] = 0xfa; t[15] = 0xf0;
	if (optlen > 0)
		memcpy(t + 20, opt, optlen);
	for (i = 0; i < 10; i++)
		t[20 + optlen + i] = (uint8_t)(0x61 + i);
	c = (uint16_t)~tcp_sum(b, hl, len);
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	*off = hl;
	return len;
}

static void
test_clamp_v4(void)
{
	uint8_t b[128], before[128];
	uint32_t len, off;

	/* SYN, MSS 1460 -> 1360. */
	len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
	CU_ASSERT_EQUAL_FATAL(tcp_sum(b, off, len), 0xffff);
	memcpy(before, b, len);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1360), 1);
	CU_ASSERT_EQUAL(b[off + 22] << 8 | b[off + 23], 1360);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);
	/* Only the MSS and the checksum changed. */
	CU_ASSERT_EQUAL(memcmp(b, before, off + 16), 0);
	CU_ASSERT_EQUAL(memcmp(b + off + 18, before + off + 18, 4), 0);
	CU_ASSERT_EQUAL(memcmp(b + off + 24, before + off + 24, len - off - 24), 0);
	/* Already clamped: no change. */
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1360), 0);

	/* SYN-ACK too. */
	len = segment(b, 4, false, SYN | ACK, opts_even, sizeof(opts_even), &off);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1360), 1);
	CU_ASSERT_EQUAL(b[off + 22] << 8 | b[off + 23], 1360);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);

	/* The MSS value at an odd offset: the checksum update is swapped. */
	len = segment(b, 4, false, SYN, opts_odd, sizeof(opts_odd), &off);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1300), 1);
	CU_ASSERT_EQUAL(b[off + 23] << 8 | b[off + 24], 1300);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);

	/* Many values, both offsets: the checksum is always right. */
	{
		uint32_t mss;

		for (mss = 1; mss < 1460; mss += 37) {
			len = segment(b, 4, false, SYN, opts_odd, sizeof(opts_odd), &off);
			CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, (uint16_t)mss), 1);
			CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);
			len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
			CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, (uint16_t)mss), 1);
			CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);
		}
	}

	/* Link padding past the IP length is not read as TCP. */
	len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
	memset(b + len, 0xee, 6);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len + 6, 1360), 1);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);
}

/* @p b is left exactly as it was with result @p want. */
static void
untouched(uint8_t *b, uint32_t len, uint16_t mss, int want)
{
	uint8_t before[256];

	memcpy(before, b, len);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, mss), want);
	CU_ASSERT_EQUAL(memcmp(b, before, len), 0);
}

static void
test_left_alone(void)
{
	uint8_t b[128];
	uint32_t len, off;

	/* Not a SYN. */
	len = segment(b, 4, false, ACK, opts_even, sizeof(opts_even), &off);
	untouched(b, len, 1360, 0);
	/* A SYN without MSS: none is added. */
	len = segment(b, 4, false, SYN, opts_none, sizeof(opts_none), &off);
	untouched(b, len, 1360, 0);
	len = segment(b, 4, false, SYN, NULL, 0, &off);
	untouched(b, len, 1360, 0);
	/* MSS already smaller, or equal. */
	len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
	untouched(b, len, 1460, 0);
	untouched(b, len, 9000, 0);
	/* Not TCP. */
	b[9] = IPPROTO_UDP;
	untouched(b, len, 1360, 0);
	/* A fragment (MF, or an offset). */
	b[9] = IPPROTO_TCP;
	b[6] = 0x20;
	untouched(b, len, 1360, 0);
	b[6] = 0;
	b[7] = 1;
	untouched(b, len, 1360, 0);
	/* IPv6 fragment. */
	len = segment(b, 6, true, SYN, opts_even, sizeof(opts_even), &off);
	b[6] = IPPROTO_FRAGMENT;
	untouched(b, len, 1360, 0);
	/* An EOL ends the options: an MSS after it does not count. */
	{
		static const uint8_t eol[8] = { 1, 0, 2, 4, 0x05, 0xb4, 0, 0 };

		len = segment(b, 4, false, SYN, eol, sizeof(eol), &off);
		untouched(b, len, 1360, 0);
	}
}

static void
test_clamp_v6(void)
{
	uint8_t b[128];
	uint32_t len, off;

	len = segment(b, 6, false, SYN, opts_even, sizeof(opts_even), &off);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1220), 1);
	CU_ASSERT_EQUAL(b[off + 22] << 8 | b[off + 23], 1220);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);

	len = segment(b, 6, true, SYN | ACK, opts_odd, sizeof(opts_odd), &off);
	CU_ASSERT_EQUAL(off, 48);
	CU_ASSERT_EQUAL_FATAL(tcp_sum(b, off, len), 0xffff);
	CU_ASSERT_EQUAL(tcp_mss_clamp(b, len, 1220), 1);
	CU_ASSERT_EQUAL(b[off + 23] << 8 | b[off + 24], 1220);
	CU_ASSERT_EQUAL(tcp_sum(b, off, len), 0xffff);
}

static void
test_malformed(void)
{
	static const uint8_t bad[][8] = {
		{ 2, 0, 0, 0, 0, 0, 0, 0 },     /* length 0 */
		{ 2, 1, 0, 0, 0, 0, 0, 0 },     /* length 1 */
		{ 1, 1, 1, 1, 1, 1, 8, 9 },     /* past the header */
		{ 1, 1, 1, 1, 1, 1, 1, 4 },     /* kind in the last byte, no length */
		{ 2, 3, 5, 1, 1, 1, 1, 1 },     /* MSS of length 3 */
		{ 2, 5, 5, 0xb4, 0, 1, 1, 1 },  /* MSS of length 5 */
		{ 8, 10, 0, 0, 0, 0, 0, 0 },    /* timestamp past the header */
	};
	uint8_t b[128];
	uint32_t len, off, i;

	for (i = 0; i < RTE_DIM(bad); i++) {
		len = segment(b, 4, false, SYN, bad[i], 8, &off);
		untouched(b, len, 1360, -1);
	}
	/* Data offset below 5, or past the packet. */
	len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
	b[off + 12] = 4 << 4;
	untouched(b, len, 1360, -1);
	b[off + 12] = 15 << 4;
	untouched(b, off + 40, 1360, -1);
	/* IP header length past the packet. */
	len = segment(b, 4, false, SYN, opts_even, sizeof(opts_even), &off);
	b[0] = 0x4f;
	untouched(b, 40, 1360, -1);
	/* An IPv6 extension header past the packet. */
	len = segment(b, 6, true, SYN, opts_even, sizeof(opts_even), &off);
	b[41] = 20;
	untouched(b, len, 1360, -1);
}

static void
test_truncated(void)
{
	uint8_t b[128];
	uint32_t len, off, l;
	int fam;

	for (fam = 4; fam <= 6; fam += 2) {
		len = segment(b, fam, fam == 6, SYN, opts_even, sizeof(opts_even), &off);
		for (l = 0; l <= len; l++) {
			uint8_t *c = malloc(l ? l : 1);
			int rc;

			CU_ASSERT_FATAL(c != NULL);
			memcpy(c, b, l);
			rc = tcp_mss_clamp(c, l, 1360);
			/* The options are whole from the end of the TCP
			 * header on; before that it is malformed. */
			CU_ASSERT_EQUAL(rc, l >= off + 32 ? 1 : -1);
			free(c);
		}
	}
	{
		uint32_t seed = 99, i, k;

		for (i = 0; i < 20000; i++) {
			uint8_t *c;

			seed = seed * 1103515245u + 12345u;
			l = (seed >> 16) % 100;
			c = malloc(l ? l : 1);
			CU_ASSERT_FATAL(c != NULL);
			for (k = 0; k < l; k++) {
				seed = seed * 1103515245u + 12345u;
				c[k] = (uint8_t)(seed >> 16);
			}
			if (l > 9) {
				c[0] = (i & 1) ? 0x60 : 0x45;
				c[(i & 1) ? 6 : 9] = IPPROTO_TCP;
			}
			if (l > 33 && !(i & 1))
				c[33] |= SYN;
			(void)tcp_mss_clamp(c, l, 1000);
			free(c);
		}
	}
}

int
test_mss_register(void)
{
	CU_pSuite s = CU_add_suite("mss", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "IPv4 SYN and SYN-ACK clamped", test_clamp_v4) ||
	    !CU_add_test(s, "what is left alone", test_left_alone) ||
	    !CU_add_test(s, "IPv6, with a hop-by-hop header", test_clamp_v6) ||
	    !CU_add_test(s, "malformed options", test_malformed) ||
	    !CU_add_test(s, "truncated at every length, random input", test_truncated))
		return CU_get_error();
	return 0;
}
