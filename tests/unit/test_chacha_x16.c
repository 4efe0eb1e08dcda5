/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite "chacha_x16": the sixteen-block ChaCha20-Poly1305 of
 * crypto/chacha_x16.c against RFC 8439's AEAD vector (2.8.2) and against
 * IPsec-MB's calls on random keys, nonces, AAD and lengths (every length
 * 0..CHACHA_X16_MAX_LEN, chunks of 1..32 ops of several keys, so that the
 * last group of sixteen blocks is partly idle), both directions, with the
 * bytes around each packet and ICV left alone. The suite "crypto" runs
 * the RFC 7634 vectors through the engine, which sends short ChaCha20
 * packets this way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <intel-ipsec-mb.h>

#include "crypto/chacha_x16.h"
#include "unit.h"

#define GUARD 32
#define MAXL CHACHA_X16_MAX_LEN

static IMB_MGR *mgr;
static int usable; /* 1: the CPU runs it; 0: the suite skips */

static uint64_t rng = 0x13198a2e03707344ull;

static uint32_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void
fill(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

static int
suite_init(void)
{
	mgr = alloc_mb_mgr(0);
	if (mgr == NULL)
		return 1;
	init_mb_mgr_auto(mgr, NULL);
	usable = chacha_x16_cpu();
	if (!usable)
		printf("\n  chacha_x16: skipped: this CPU lacks AVX-512 F/BW/VL/IFMA or BMI2\n");
	return 0;
}

static int
suite_fini(void)
{
	free_mb_mgr(mgr);
	mgr = NULL;
	return 0;
}

/* RFC 8439 2.8.2: 114 bytes, 12 bytes of AAD, nonce 07000000 || 40..47
 * (salt 07000000, IV 4041424344454647 in RFC 7634's terms). */
static void
test_rfc8439(void)
{
	static const char text[] = "Ladies and Gentlemen of the class of '99: If I could "
				   "offer you only one tip for the future, sunscreen would be it.";
	static const uint8_t aad[12] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
					 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7 };
	static const uint8_t salt[4] = { 0x07, 0, 0, 0 };
	static const uint8_t iv[8] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47 };
	static const uint8_t ct_head[16] = { 0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb,
					     0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2 };
	static const uint8_t ct_tail[2] = { 0x61, 0x16 };
	static const uint8_t tag[16] = { 0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
					 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91 };
	uint8_t key[32], buf[114], icv[16];
	struct chacha_x16_op op;
	unsigned int i;

	if (!usable)
		return;
	CU_ASSERT_EQUAL_FATAL(sizeof(text) - 1, sizeof(buf));
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	memcpy(buf, text, sizeof(buf));
	op = (struct chacha_x16_op){ .key = key, .salt = salt, .iv = iv, .data = buf,
				     .len = sizeof(buf), .aad_len = sizeof(aad), .aad = aad,
				     .icv = icv, .icv_len = 16 };
	CU_ASSERT_EQUAL(chacha_x16(&op, 1, true), 0);
	CU_ASSERT_EQUAL(memcmp(buf, ct_head, 16), 0);
	CU_ASSERT_EQUAL(memcmp(buf + 112, ct_tail, 2), 0);
	CU_ASSERT_EQUAL(memcmp(icv, tag, 16), 0);
	CU_ASSERT_EQUAL(chacha_x16(&op, 1, false), 0);
	CU_ASSERT_EQUAL(memcmp(buf, text, sizeof(buf)), 0);
	icv[15] ^= 0x40;
	CU_ASSERT_EQUAL(chacha_x16(&op, 1, false), 1);
}

struct pkt {
	uint8_t salt[4], iv[8], aad[16], nonce[12];
	uint8_t plain[MAXL];
	uint8_t ref[MAXL], ref_tag[16];
	uint8_t buf[MAXL + 2 * GUARD];
	uint8_t tag[16 + GUARD];
	uint32_t len, aad_len, icv_len;
};

static void
reference(const uint8_t *key, struct pkt *x)
{
	struct chacha20_poly1305_context_data ctx;

	memcpy(x->nonce, x->salt, 4);
	memcpy(x->nonce + 4, x->iv, 8);
	IMB_CHACHA20_POLY1305_INIT(mgr, key, &ctx, x->nonce, x->aad, x->aad_len);
	IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, key, &ctx, x->ref, x->plain, x->len);
	IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, x->ref_tag, 16);
}

/*
 * @p rounds chunks of 1..32 packets, each under one of three keys, of
 * random length (op 0's length is round % (MAXL + 1), so 257 rounds or
 * more cover every length), encrypted and decrypted in place and compared
 * with IPsec-MB; then one packet's ICV is changed and it alone fails.
 */
static void
against_ipsec_mb(unsigned int rounds)
{
	static struct pkt l[CHACHA_X16_MAX_OPS];
	struct chacha_x16_op op[CHACHA_X16_MAX_OPS];
	uint8_t keys[3][32];
	unsigned int r, p, k, n, bad = 0;

	for (k = 0; k < 3; k++)
		fill(keys[k], sizeof(keys[k]));
	for (r = 0; r < rounds && bad == 0; r++) {
		static uint8_t before[CHACHA_X16_MAX_OPS][3 * GUARD];
		uint32_t fail, want;

		n = 1 + (r < 64 ? r % CHACHA_X16_MAX_OPS : rnd() % CHACHA_X16_MAX_OPS);
		for (p = 0; p < n; p++) {
			struct pkt *x = &l[p];

			k = rnd() % 3;
			x->len = p == 0 ? r % (MAXL + 1) : rnd() % (MAXL + 1);
			x->aad_len = rnd() % 2 ? 12 : 8;
			x->icv_len = 16 - 4 * (rnd() % 3);
			fill(x->salt, 4);
			fill(x->iv, 8);
			fill(x->aad, sizeof(x->aad));
			fill(x->plain, x->len);
			reference(keys[k], x);
			fill(x->buf, sizeof(x->buf));
			memcpy(x->buf + GUARD, x->plain, x->len);
			fill(x->tag, sizeof(x->tag));
			op[p] = (struct chacha_x16_op){
				.key = keys[k], .salt = x->salt, .iv = x->iv,
				.data = x->buf + GUARD, .len = x->len, .aad_len = x->aad_len,
				.aad = x->aad, .icv = x->tag, .icv_len = x->icv_len,
			};
			memcpy(before[p], x->buf, GUARD);
			memcpy(before[p] + GUARD, x->buf + GUARD + x->len, GUARD);
			memcpy(before[p] + 2 * GUARD, x->tag + x->icv_len, GUARD);
		}
		bad += chacha_x16(op, n, true) != 0;
		for (p = 0; p < n; p++) {
			struct pkt *x = &l[p];

			bad += memcmp(before[p], x->buf, GUARD) != 0;
			bad += memcmp(before[p] + GUARD, x->buf + GUARD + x->len, GUARD) != 0;
			bad += memcmp(before[p] + 2 * GUARD, x->tag + x->icv_len, GUARD) != 0;
			bad += memcmp(x->buf + GUARD, x->ref, x->len) != 0;
			bad += memcmp(x->tag, x->ref_tag, x->icv_len) != 0;
		}
		bad += chacha_x16(op, n, false) != 0;
		for (p = 0; p < n; p++) {
			struct pkt *x = &l[p];

			bad += memcmp(before[p], x->buf, GUARD) != 0;
			bad += memcmp(before[p] + GUARD, x->buf + GUARD + x->len, GUARD) != 0;
			bad += memcmp(x->buf + GUARD, x->plain, x->len) != 0;
		}
		/* One changed ICV bit: that packet alone fails (and is still
		 * decrypted, as the engine's caller drops it). */
		p = rnd() % n;
		l[p].tag[rnd() % l[p].icv_len] ^= (uint8_t)(1u << (rnd() % 8));
		want = 1u << p;
		for (k = 0; k < n; k++)
			memcpy(l[k].buf + GUARD, l[k].ref, l[k].len);
		fail = chacha_x16(op, n, false);
		bad += fail != want;
		bad += memcmp(l[p].buf + GUARD, l[p].plain, l[p].len) != 0;
		if (bad != 0)
			printf("\n  chacha_x16: round %u (%u ops, op 0 of %u bytes) differs from "
			       "IPsec-MB\n", r, n, l[0].len);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_against_ipsec_mb(void)
{
	if (usable)
		against_ipsec_mb(600);
}

int
test_chacha_x16_register(void)
{
	CU_pSuite s = CU_add_suite("chacha_x16", suite_init, suite_fini);

	if (s == NULL)
		return CU_get_error();
	if (CU_add_test(s, "rfc8439", test_rfc8439) == NULL ||
	    CU_add_test(s, "against_ipsec_mb", test_against_ipsec_mb) == NULL)
		return CU_get_error();
	return 0;
}
