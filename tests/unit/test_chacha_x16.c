/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite "chacha_x16": the sixteen-block ChaCha20-Poly1305 of
 * crypto/chacha_x16.c against RFC 8439's AEAD vector (2.8.2) and its
 * Poly1305 vectors for the final reduction's edge cases (A.3), and against
 * IPsec-MB on random keys, nonces, AAD and lengths (every length
 * 0..CHACHA_X16_MAX_LEN, chunks of 1..32 ops of several keys, so that the
 * last group of sixteen blocks is partly idle), both directions, with the
 * bytes around each packet and ICV left alone; packets that end at an
 * unmapped page; and the engine, which sends short ChaCha20 ops this way
 * and longer ones to IPsec-MB, in one burst with AES-GCM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <intel-ipsec-mb.h>

#include "crypto/chacha_x16.h"
#include "crypto/crypto.h"
#include "unit.h"

#define GUARD 32
#define MAXL CHACHA_X16_MAX_LEN

static IMB_MGR *mgr;
static int usable; /* 1: the CPU runs it; 0: the suite skips */

static uint64_t rng = 0x13198a2e03707344ull;

static uint32_t
rnd(void)
{
	return unit_rnd(&rng);
}

static void
fill(uint8_t *p, size_t n)
{
	unit_fill(&rng, p, n);
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
	uint8_t buf[MAXL + 3 * GUARD]; /* the packet at buf + off */
	uint8_t tag[16 + GUARD];
	uint32_t len, aad_len, icv_len, off;
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
			x->aad_len = (const uint32_t[]){ 8, 12, 0, 16 }[rnd() % 4];
			x->icv_len = 16 - 4 * (rnd() % 3);
			fill(x->salt, 4);
			fill(x->iv, 8);
			fill(x->aad, sizeof(x->aad));
			fill(x->plain, x->len);
			reference(keys[k], x);
			x->off = GUARD + rnd() % GUARD;
			fill(x->buf, sizeof(x->buf));
			memcpy(x->buf + x->off, x->plain, x->len);
			fill(x->tag, sizeof(x->tag));
			op[p] = (struct chacha_x16_op){
				.key = keys[k], .salt = x->salt, .iv = x->iv,
				.data = x->buf + x->off, .len = x->len, .aad_len = x->aad_len,
				.aad = x->aad, .icv = x->tag, .icv_len = x->icv_len,
			};
			memcpy(before[p], x->buf + x->off - GUARD, GUARD);
			memcpy(before[p] + GUARD, x->buf + x->off + x->len, GUARD);
			memcpy(before[p] + 2 * GUARD, x->tag + x->icv_len, GUARD);
		}
		bad += chacha_x16(op, n, true) != 0;
		for (p = 0; p < n; p++) {
			struct pkt *x = &l[p];

			bad += memcmp(before[p], x->buf + x->off - GUARD, GUARD) != 0;
			bad += memcmp(before[p] + GUARD, x->buf + x->off + x->len, GUARD) != 0;
			bad += memcmp(before[p] + 2 * GUARD, x->tag + x->icv_len, GUARD) != 0;
			bad += memcmp(x->buf + x->off, x->ref, x->len) != 0;
			bad += memcmp(x->tag, x->ref_tag, x->icv_len) != 0;
		}
		bad += chacha_x16(op, n, false) != 0;
		for (p = 0; p < n; p++) {
			struct pkt *x = &l[p];

			bad += memcmp(before[p], x->buf + x->off - GUARD, GUARD) != 0;
			bad += memcmp(before[p] + GUARD, x->buf + x->off + x->len, GUARD) != 0;
			bad += memcmp(x->buf + x->off, x->plain, x->len) != 0;
		}
		/* One changed ICV bit: that packet alone fails (and is still
		 * decrypted, as the engine's caller drops it). */
		p = rnd() % n;
		l[p].tag[rnd() % l[p].icv_len] ^= (uint8_t)(1u << (rnd() % 8));
		want = 1u << p;
		for (k = 0; k < n; k++)
			memcpy(l[k].buf + l[k].off, l[k].ref, l[k].len);
		fail = chacha_x16(op, n, false);
		bad += fail != want;
		bad += memcmp(l[p].buf + l[p].off, l[p].plain, l[p].len) != 0;
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
		against_ipsec_mb(MAXL + 1 + 31);
}

/* RFC 8439 A.3 #5-#11, the ones of whole blocks: h at or just past
 * 2^130 - 5, and the carries of the reduction (checked against a big-integer
 * Poly1305 too). Each: r's first byte (its byte 8 for #10, #11), s all
 * 0xff or 0, the message, the tag's first bytes (the rest 0 or 0xff). */
static void
test_poly1305_rfc(void)
{
	static const struct {
		uint8_t r0, r8, s_ff, nblocks;
		const char *msg;
		uint8_t tag0, tag8, rest;
	} v[] = {
		{ 2, 0, 0, 1, "ffffffffffffffffffffffffffffffff", 0x03, 0, 0 },
		{ 2, 0, 1, 1, "02000000000000000000000000000000", 0x03, 0, 0 },
		{ 1, 0, 0, 3, "ffffffffffffffffffffffffffffffff"
			      "f0ffffffffffffffffffffffffffffff"
			      "11000000000000000000000000000000", 0x05, 0, 0 },
		{ 1, 0, 0, 3, "ffffffffffffffffffffffffffffffff"
			      "fbfefefefefefefefefefefefefefefe"
			      "01010101010101010101010101010101", 0x00, 0, 0 },
		{ 2, 0, 0, 1, "fdffffffffffffffffffffffffffffff", 0xfa, 0xff, 0xff },
		{ 1, 4, 0, 4, "e33594d7505e43b90000000000000000"
			      "3394d7505e4379cd0100000000000000"
			      "00000000000000000000000000000000"
			      "01000000000000000000000000000000", 0x14, 0x55, 0 },
		{ 1, 4, 0, 3, "e33594d7505e43b90000000000000000"
			      "3394d7505e4379cd0100000000000000"
			      "00000000000000000000000000000000", 0x13, 0, 0 },
	};
	unsigned int i;

	if (!usable)
		return;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t key[32] = { 0 }, msg[64], tag[16], want[16];

		key[0] = v[i].r0;
		key[8] = v[i].r8;
		memset(key + 16, v[i].s_ff ? 0xff : 0, 16);
		CU_ASSERT_EQUAL_FATAL(unit_hex(v[i].msg, msg, sizeof(msg)), 16u * v[i].nblocks);
		memset(want, v[i].rest, 16);
		want[0] = v[i].tag0;
		want[8] = v[i].tag8 ? v[i].tag8 : want[8];
		chacha_x16_poly1305(key, msg, v[i].nblocks, tag);
		if (memcmp(tag, want, 16) != 0)
			printf("\n  chacha_x16: RFC 8439 A.3 vector %u: wrong tag\n", i + 5);
		CU_ASSERT_EQUAL(memcmp(tag, want, 16), 0);
	}
}

/* Poly1305 of whole blocks against IPsec-MB's (a job of IMB_AUTH_POLY1305
 * over the same bytes): random keys and messages, and the largest r the
 * clamp leaves with messages of all 0xff (the limbs' upper bounds). */
static void
test_poly1305_against_ipsec_mb(void)
{
	static uint8_t msg[16 * (2 + MAXL / 16)];
	unsigned int r, bad = 0;

	if (!usable)
		return;
	for (r = 0; r < 400; r++) {
		unsigned int nb = 1 + rnd() % (2 + MAXL / 16);
		uint8_t key[32], tag[16], ref[16];
		IMB_JOB *job;

		fill(key, sizeof(key));
		fill(msg, 16 * nb);
		if (r % 4 == 0)
			memset(key, 0xff, 16);
		if (r % 8 == 0)
			memset(msg, 0xff, 16 * nb);
		job = IMB_GET_NEXT_JOB(mgr);
		memset(job, 0, sizeof(*job));
		job->cipher_mode = IMB_CIPHER_NULL;
		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
		job->hash_alg = IMB_AUTH_POLY1305;
		job->u.POLY1305._key = key;
		job->src = msg;
		job->msg_len_to_hash_in_bytes = 16 * nb;
		job->auth_tag_output = ref;
		job->auth_tag_output_len_in_bytes = 16;
		job = IMB_SUBMIT_JOB(mgr);
		while (job == NULL)
			job = IMB_FLUSH_JOB(mgr);
		CU_ASSERT_EQUAL_FATAL(job->status, IMB_STATUS_COMPLETED);
		chacha_x16_poly1305(key, msg, nb, tag);
		bad += memcmp(tag, ref, 16) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Packets, AAD and ICVs that end where an unmapped page begins: nothing
 * reads past them (every length 0..MAXL, both directions). */
static void
test_page_edge(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map, *end, key[32], salt[4], iv[8], aad[16], ref_tag[16], nonce[12];
	static uint8_t plain[MAXL], ref[MAXL];
	unsigned int len, bad = 0;

	if (!usable)
		return;
	map = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_EQUAL_FATAL(mprotect(map + 2 * pg, (size_t)pg, PROT_NONE), 0);
	end = map + 2 * pg;
	fill(key, sizeof(key));
	fill(salt, sizeof(salt));
	fill(iv, sizeof(iv));
	fill(aad, sizeof(aad));
	for (len = 0; len <= MAXL; len++) {
		struct chacha20_poly1305_context_data ctx;
		/* data, then (in the page before) AAD and ICV, each at its end */
		uint8_t *data = end - len, *a = map + pg - 12, *icv = map + pg - 28;
		struct chacha_x16_op op = { .key = key, .salt = salt, .iv = iv, .data = data,
					    .len = len, .aad_len = 12, .aad = a, .icv = icv,
					    .icv_len = 16 };

		fill(plain, len);
		memcpy(data, plain, len);
		memcpy(a, aad, 12);
		memcpy(nonce, salt, 4);
		memcpy(nonce + 4, iv, 8);
		IMB_CHACHA20_POLY1305_INIT(mgr, key, &ctx, nonce, aad, 12);
		IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, key, &ctx, ref, plain, len);
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, ref_tag, 16);
		bad += chacha_x16(&op, 1, true) != 0;
		bad += memcmp(data, ref, len) != 0 || memcmp(icv, ref_tag, 16) != 0;
		bad += chacha_x16(&op, 1, false) != 0;
		bad += memcmp(data, plain, len) != 0;
	}
	munmap(map, (size_t)(3 * pg));
	CU_ASSERT_EQUAL(bad, 0);
}

/*
 * The engine: one burst of ChaCha20-Poly1305 ops of two SAs around the
 * longest payload the engine gives chacha_x16() (1536) and past it, and AES-GCM ops
 * (short ones through gcm_x4, long ones through IPsec-MB) between them.
 * Each ChaCha20 op against IPsec-MB's calls; everything decrypts back;
 * one bad ICV fails that op alone.
 */
static void
test_engine_burst(void)
{
	static const uint32_t lens[] = { 4, 64, 68, 636, 1424, 1536, 1540, 1900, 16, 128 };
	enum { N = 2 * sizeof(lens) / sizeof(lens[0]) };
	static uint8_t buf[N][2048], plain[N][2048], icv[N][16], ref[2048];
	struct crypto_session cs[2], gs;
	struct crypto_op ops[N];
	struct crypto_engine *e;
	uint8_t ck[2][36], gk[20], rtag[16], nonce[12];
	unsigned int i, bad = 0;

	if (!usable)
		return;
	e = crypto_engine_create(CRYPTO_ENGINE_MB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	for (i = 0; i < 2; i++) {
		struct crypto_algo_params p = { .cipher = CRYPTO_CIPHER_CHACHA20_POLY1305,
						.cipher_key = ck[i], .cipher_key_len = 36,
						.icv_len = 16 };

		fill(ck[i], sizeof(ck[i]));
		CU_ASSERT_EQUAL_FATAL(crypto_session_init(&cs[i], CRYPTO_ENGINE_MB, &p), 0);
	}
	{
		struct crypto_algo_params p = { .cipher = CRYPTO_CIPHER_AES_GCM,
						.cipher_key = gk, .cipher_key_len = 20,
						.icv_len = 16 };

		fill(gk, sizeof(gk));
		CU_ASSERT_EQUAL_FATAL(crypto_session_init(&gs, CRYPTO_ENGINE_MB, &p), 0);
	}
	/* op i: ESP header (8) || IV (8) || payload; odd ops are GCM */
	for (i = 0; i < N; i++) {
		uint32_t len = lens[i / 2];

		fill(buf[i], 16 + len);
		memcpy(plain[i], buf[i], 16 + len);
		ops[i] = (struct crypto_op){ .sess = i % 2 ? &gs : &cs[i / 2 % 2], .data = buf[i],
					     .cipher_off = 16, .cipher_len = len, .iv = buf[i] + 8,
					     .aad = buf[i], .aad_len = 8, .icv = icv[i] };
	}
	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, N), N);
	for (i = 0; i < N; i += 2) {
		struct chacha20_poly1305_context_data ctx;
		const uint8_t *k = ck[i / 2 % 2];
		uint32_t len = ops[i].cipher_len;

		memcpy(nonce, k + 32, 4);
		memcpy(nonce + 4, plain[i] + 8, 8);
		IMB_CHACHA20_POLY1305_INIT(mgr, k, &ctx, nonce, plain[i], 8);
		IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, k, &ctx, ref, plain[i] + 16, len);
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, rtag, 16);
		if (memcmp(buf[i] + 16, ref, len) != 0 || memcmp(icv[i], rtag, 16) != 0) {
			printf("\n  chacha_x16: the engine's ChaCha20 op of %u bytes differs "
			       "from IPsec-MB\n", len);
			bad++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	icv[10][3] ^= 0x10; /* the ChaCha20 op of 1536 bytes */
	CU_ASSERT_EQUAL(crypto_decrypt_burst(e, ops, N), N - 1);
	for (i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(ops[i].status, i == 10 ? CRYPTO_ICV_FAIL : CRYPTO_OK);
		CU_ASSERT_EQUAL(memcmp(buf[i] + 16, plain[i] + 16, ops[i].cipher_len), 0);
	}
	crypto_session_wipe(&cs[0]);
	crypto_session_wipe(&cs[1]);
	crypto_session_wipe(&gs);
	crypto_engine_free(e);
}

int
test_chacha_x16_register(void)
{
	CU_pSuite s = CU_add_suite("chacha_x16", suite_init, suite_fini);

	if (s == NULL)
		return CU_get_error();
	if (CU_add_test(s, "rfc8439", test_rfc8439) == NULL ||
	    CU_add_test(s, "against_ipsec_mb", test_against_ipsec_mb) == NULL ||
	    CU_add_test(s, "poly1305_rfc", test_poly1305_rfc) == NULL ||
	    CU_add_test(s, "poly1305_against_ipsec_mb", test_poly1305_against_ipsec_mb) == NULL ||
	    CU_add_test(s, "page_edge", test_page_edge) == NULL ||
	    CU_add_test(s, "engine_burst", test_engine_burst) == NULL)
		return CU_get_error();
	return 0;
}
