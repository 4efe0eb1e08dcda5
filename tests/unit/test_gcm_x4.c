/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite "gcm_x4": the four-lane AES-GCM of crypto/gcm_x4.c (AVX-512)
 * and crypto/gcm_x4_avx2.c against IPsec-MB's single-buffer calls on
 * random keys, nonces, AAD and lengths (every length each takes, lanes of
 * different keys and lengths, idle lanes), both directions; their check
 * of IPsec-MB's key layouts; and, for the AVX2 code's four-byte moves,
 * data, AAD and ICVs that end where memory does. Each code is tested where
 * the CPU runs it, against an IPsec-MB manager of the matching path (its
 * AVX2 path on an AVX-512 CPU too).
 * The suite "crypto" runs the RFC vectors through the engine, which sends
 * short GCM packets this way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <intel-ipsec-mb.h>

#include "crypto/crypto.h"
#include "crypto/gcm_x4.h"
#include "unit.h"

#define GUARD 32

/* One code under test: its IPsec-MB manager, and whether it runs here. */
struct isa {
	enum gcm_x4_isa isa;
	const char *name;
	IMB_MGR *mgr;
	int usable; /* 1: CPU and key layout fit; 0: its tests skip */
};

static struct isa isa512 = { GCM_X4_AVX512, "AVX-512", NULL, 0 };
static struct isa isa2 = { GCM_X4_AVX2, "AVX2", NULL, 0 };

static uint64_t rng = 0x243f6a8885a308d3ull;

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

static void
key_pre(const struct isa *c, unsigned int key_len, const uint8_t *key, struct gcm_key_data *kd)
{
	if (key_len == 16)
		IMB_AES128_GCM_PRE(c->mgr, key, kd);
	else
		IMB_AES256_GCM_PRE(c->mgr, key, kd);
}

/* @p c usable: the CPU runs it, and its manager's keys are in its layout. */
static void
isa_init(struct isa *c)
{
	struct gcm_key_data kd;
	uint8_t key[32] = { 1 };

	c->usable = 0;
	if (gcm_x4_cpu() < c->isa) {
		printf("\n  gcm_x4: %s skipped: this CPU lacks %s\n", c->name,
		       c->isa == GCM_X4_AVX512 ? "AVX-512 BW/VL, VAES or VPCLMULQDQ" :
						 "AVX2, VAES or VPCLMULQDQ");
		return;
	}
	c->mgr = alloc_mb_mgr(0);
	if (c->mgr == NULL)
		return;
	if (c->isa == GCM_X4_AVX2)
		init_mb_mgr_avx2(c->mgr);
	else
		init_mb_mgr_auto(c->mgr, NULL);
	key_pre(c, 16, key, &kd);
	if (!gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, 16)) {
		printf("\n  gcm_x4: %s skipped: IPsec-MB (%s) keeps GCM keys in another layout\n",
		       c->name, c->mgr->used_arch == IMB_ARCH_AVX512 ? "avx512" : "not avx512");
		return;
	}
	c->usable = 1;
}

static int
suite_init(void)
{
	isa_init(&isa512);
	isa_init(&isa2);
	return 0;
}

static int
suite_fini(void)
{
	if (isa512.mgr != NULL)
		free_mb_mgr(isa512.mgr);
	if (isa2.mgr != NULL)
		free_mb_mgr(isa2.mgr);
	isa512.mgr = isa2.mgr = NULL;
	return 0;
}

/* Flip bit @p bit of byte @p i of @p kd. */
static void
flip(struct gcm_key_data *kd, size_t i, unsigned int bit)
{
	((uint8_t *)kd)[i] ^= (uint8_t)(1u << bit);
}

/* The layout check: IPsec-MB's own key data passes, for both key sizes
 * and random keys; a changed power or round key fails; the other code's
 * layout fails. */
static void
key_ok(const struct isa *c)
{
	const enum gcm_x4_isa other = c->isa == GCM_X4_AVX2 ? GCM_X4_AVX512 : GCM_X4_AVX2;
	const unsigned int top = gcm_x4_powers(c->isa);
	struct gcm_key_data kd;
	uint8_t key[32];
	unsigned int i, key_len;

	if (!c->usable)
		return;
	for (i = 0; i < 50; i++) {
		key_len = i % 2 ? 32 : 16;
		fill(key, sizeof(key));
		key_pre(c, key_len, key, &kd);
		CU_ASSERT_TRUE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len));
		CU_ASSERT_FALSE(gcm_x4_key_ok(other, (const uint8_t *)&kd, key_len));
		/* The wrong key size reads other round keys as its own. */
		CU_ASSERT_FALSE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len == 16 ? 32 : 16));
	}
	CU_ASSERT_FALSE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, 24));
	CU_ASSERT_FALSE(gcm_x4_key_ok(GCM_X4_NONE, (const uint8_t *)&kd, key_len));
	/* H^3 (needed by a one-block packet's AAD). */
	flip(&kd, gcm_x4_hkey_off(c->isa, 3) + 5, 0);
	CU_ASSERT_FALSE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len));
	flip(&kd, gcm_x4_hkey_off(c->isa, 3) + 5, 0);
	CU_ASSERT_TRUE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len));
	/* The highest power the code reads. */
	flip(&kd, gcm_x4_hkey_off(c->isa, top), 7);
	CU_ASSERT_FALSE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len));
	flip(&kd, gcm_x4_hkey_off(c->isa, top), 7);
	/* The last round key. */
	flip(&kd, 16 * (key_len == 16 ? 10 : 14), 0);
	CU_ASSERT_FALSE(gcm_x4_key_ok(c->isa, (const uint8_t *)&kd, key_len));
}

static void
test_key_ok(void)
{
	key_ok(&isa512);
}

static void
test_key_ok_avx2(void)
{
	key_ok(&isa2);
}

/* The longest payload either code takes. */
#define LANE_MAX GCM_X4_MAX_LEN

struct lane {
	uint8_t key[32], salt[4], iv[8], aad[16], nonce[12];
	uint8_t plain[LANE_MAX];
	uint8_t ref[LANE_MAX], ref_tag[16];
	uint8_t buf[LANE_MAX + 2 * GUARD];
	uint8_t tag[16 + GUARD];
	uint32_t len, aad_len, icv_len;
};

static void
reference(const struct isa *c, const struct gcm_key_data *kd, unsigned int key_len, struct lane *l)
{
	struct gcm_context_data ctx;

	memcpy(l->nonce, l->salt, 4);
	memcpy(l->nonce + 4, l->iv, 8);
	if (key_len == 16)
		IMB_AES128_GCM_ENC(c->mgr, kd, &ctx, l->ref, l->plain, l->len, l->nonce, l->aad,
				   l->aad_len, l->ref_tag, 16);
	else
		IMB_AES256_GCM_ENC(c->mgr, kd, &ctx, l->ref, l->plain, l->len, l->nonce, l->aad,
				   l->aad_len, l->ref_tag, 16);
}

/*
 * @p rounds groups of four lanes, each lane one of three keys of one size
 * (or, every other group, all one key) and a random length, or (half the
 * time) a length of lane 0's block count (one key and one block count is
 * gcm_x4()'s broadcast path; several keys with one block count take the
 * same power of H at each step, each from its own key) (every length 0..max is covered by @p rounds >=
 * 257 with len = round % 257 in lane 0), encrypted and decrypted in place
 * and compared with IPsec-MB, the bytes around each lane untouched. With
 * @p idle, lanes 2 and 3 are idle (as the engine's last group of a burst
 * may be).
 */
static void
against_ipsec_mb(const struct isa *c, unsigned int key_len, unsigned int rounds, int idle)
{
	/* The AVX2 code takes whole 4-byte words: lengths step by 4. */
	const unsigned int step = c->isa == GCM_X4_AVX2 ? 4 : 1;
	const unsigned int lens = GCM_X4_MAX_LEN / step + 1;
	static struct lane l[4];
	struct gcm_key_data kd[3];
	uint8_t keys[3][32];
	unsigned int r, p, k, bad = 0;

	for (k = 0; k < 3; k++) {
		fill(keys[k], sizeof(keys[k]));
		key_pre(c, key_len, keys[k], &kd[k]);
	}
	for (r = 0; r < rounds; r++) {
		struct gcm_x4_op op[4];
		unsigned int same = rnd() % 2; /* one key for all lanes */
		unsigned int same_nb = rnd() % 2; /* one block count */

		for (p = 0; p < 4; p++) {
			struct lane *x = &l[p];

			k = same ? 0 : rnd() % 3;
			if (p == 0)
				x->len = r % lens * step;
			else if (!same_nb)
				x->len = rnd() % lens * step;
			else if (l[0].len == 0)
				x->len = 0;
			else /* 1..16 bytes (step..16) in lane 0's last block */
				x->len = (l[0].len - 1) / 16 * 16 + step + rnd() % (16 / step) * step;
			if (idle && p >= 2)
				x->len = 0;
			x->aad_len = rnd() % 2 ? 12 : 8;
			x->icv_len = 8 + 4 * (rnd() % 3); /* RFC 4106: 8, 12 or 16 */
			fill(x->salt, 4);
			fill(x->iv, 8);
			fill(x->aad, sizeof(x->aad));
			fill(x->plain, x->len);
			reference(c, &kd[k], key_len, x);
			fill(x->buf, sizeof(x->buf));
			memcpy(x->buf + GUARD, x->plain, x->len);
			fill(x->tag, sizeof(x->tag));
			op[p] = (struct gcm_x4_op){
				.kd = (const uint8_t *)&kd[k], .data = x->buf + GUARD,
				.len = x->len, .aad_len = idle && p >= 2 ? 0 : x->aad_len,
				.aad = x->aad, .salt = x->salt, .iv = x->iv, .icv = x->tag,
				.icv_len = idle && p >= 2 ? 0 : x->icv_len,
			};
		}
		/* Keep the guards to compare after. */
		{
			uint8_t before[4][2 * GUARD], tag_after[4][GUARD];
			unsigned int fail, want = 0;

			for (p = 0; p < 4; p++) {
				memcpy(before[p], l[p].buf, GUARD);
				memcpy(before[p] + GUARD, l[p].buf + GUARD + l[p].len, GUARD);
				memcpy(tag_after[p], l[p].tag + op[p].icv_len, GUARD);
			}
			bad += gcm_x4(c->isa, op, key_len, true) != 0;
			for (p = 0; p < 4; p++) {
				struct lane *x = &l[p];

				/* Nothing outside a lane's data and ICV changes
				 * (an idle lane's: nothing at all). */
				bad += memcmp(before[p], x->buf, GUARD) != 0;
				bad += memcmp(before[p] + GUARD, x->buf + GUARD + x->len, GUARD) != 0;
				bad += memcmp(tag_after[p], x->tag + op[p].icv_len, GUARD) != 0;
				if (idle && p >= 2)
					continue;
				bad += memcmp(x->buf + GUARD, x->ref, x->len) != 0;
				bad += memcmp(x->tag, x->ref_tag, x->icv_len) != 0;
			}
			/* Decrypt: the plaintext back and every ICV verified;
			 * then, with one lane's ICV changed (a byte inside it),
			 * that lane alone fails. */
			bad += gcm_x4(c->isa, op, key_len, false) != 0;
			for (p = 0; p < 4; p++) {
				struct lane *x = &l[p];

				bad += memcmp(before[p], x->buf, GUARD) != 0;
				bad += memcmp(before[p] + GUARD, x->buf + GUARD + x->len, GUARD) != 0;
				if (idle && p >= 2)
					continue;
				bad += memcmp(x->buf + GUARD, x->plain, x->len) != 0;
			}
			p = rnd() % (idle ? 2 : 4);
			l[p].tag[rnd() % l[p].icv_len] ^= (uint8_t)(1u << (rnd() % 8));
			want = 1u << p;
			for (k = 0; k < 4; k++)
				memcpy(l[k].buf + GUARD, l[k].ref, l[k].len);
			fail = gcm_x4(c->isa, op, key_len, false);
			bad += fail != want;
		}
		if (bad != 0) {
			printf("\n  gcm_x4: %s AES-%u round %u: lane lengths %u %u %u %u differ from IPsec-MB\n",
			       c->name, key_len * 8, r, l[0].len, l[1].len, l[2].len, l[3].len);
			break;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_aes128(void)
{
	if (isa512.usable)
		against_ipsec_mb(&isa512, 16, GCM_X4_MAX_LEN + 1, 0);
}

static void
test_aes256(void)
{
	if (isa512.usable)
		against_ipsec_mb(&isa512, 32, 600, 0);
}

static void
test_idle_lanes(void)
{
	if (isa512.usable)
		against_ipsec_mb(&isa512, 16, 300, 1);
}

static void
test_aes128_avx2(void)
{
	if (isa2.usable)
		against_ipsec_mb(&isa2, 16, 1200, 0);
}

static void
test_aes256_avx2(void)
{
	if (isa2.usable)
		against_ipsec_mb(&isa2, 32, 600, 0);
}

static void
test_idle_lanes_avx2(void)
{
	if (isa2.usable)
		against_ipsec_mb(&isa2, 16, 300, 1);
}

/*
 * The partial moves: every lane's payload, AAD and ICV end where an
 * unreadable page begins (a masked load that touched a byte past them
 * would fault), then start right after one (the AVX-512 code's first
 * step loads from before the payload, masked), for every length @p c
 * takes, encrypted against IPsec-MB and decrypted back.
 */
static void
page_edges(const struct isa *c)
{
	const unsigned int step = c->isa == GCM_X4_AVX2 ? 4 : 1;
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct gcm_key_data kd;
	struct lane ref;
	uint8_t key[16], *m;
	unsigned int len, p, at_start, bad = 0;

	if (!c->usable)
		return;
	/* Four lanes of eight pages each: none | data | none | AAD | none |
	 * ICV | none | none. */
	m = mmap(NULL, 32 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	for (p = 0; p < 32; p++)
		if (p % 2 == 0 || p % 8 == 7)
			CU_ASSERT_FATAL(mprotect(m + p * pg, pg, PROT_NONE) == 0);
	fill(key, sizeof(key));
	key_pre(c, 16, key, &kd);
	for (at_start = 0; at_start < 2; at_start++) {
		for (len = 0; len <= GCM_X4_MAX_LEN; len += step) {
			struct gcm_x4_op op[4];

			ref.len = len;
			ref.aad_len = len % 8 ? 12 : 8;
			ref.icv_len = 8 + 4 * (len / 4 % 3);
			fill(ref.salt, 4);
			fill(ref.iv, 8);
			fill(ref.aad, ref.aad_len);
			fill(ref.plain, len);
			reference(c, &kd, 16, &ref);
			for (p = 0; p < 4; p++) {
				uint8_t *lane = m + 8 * p * pg;

				op[p] = (struct gcm_x4_op){
					.kd = (const uint8_t *)&kd,
					.data = lane + (at_start ? pg : 2 * pg - len), .len = len,
					.aad = lane + (at_start ? 3 * pg : 4 * pg - ref.aad_len),
					.aad_len = ref.aad_len, .salt = ref.salt, .iv = ref.iv,
					.icv = lane + (at_start ? 5 * pg : 6 * pg - ref.icv_len),
					.icv_len = ref.icv_len,
				};
				memcpy(op[p].data, ref.plain, len);
				memcpy((uint8_t *)op[p].aad, ref.aad, ref.aad_len);
			}
			bad += gcm_x4(c->isa, op, 16, true) != 0;
			for (p = 0; p < 4; p++) {
				bad += memcmp(op[p].data, ref.ref, len) != 0;
				bad += memcmp(op[p].icv, ref.ref_tag, ref.icv_len) != 0;
			}
			bad += gcm_x4(c->isa, op, 16, false) != 0;
			for (p = 0; p < 4; p++)
				bad += memcmp(op[p].data, ref.plain, len) != 0;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	munmap(m, 32 * pg);
}

static void
test_page_edges(void)
{
	page_edges(&isa512);
}

static void
test_page_edges_avx2(void)
{
	page_edges(&isa2);
}

/*
 * The engine (crypto_mb.c), which sorts a burst's GCM ops by length and
 * sends those that fit to gcm_x4() four at a time, the rest to IPsec-MB:
 * a burst of mixed lengths (every fourth not a multiple of 4, some over
 * 4 KB), three sessions (two of one key size, so that a group of four
 * mixes SAs) and both AAD lengths, against IPsec-MB op by op;
 * then decrypted with every fifth ICV changed, which fails those ops
 * alone; then encrypted with one op malformed.
 */
static bool
tampered(unsigned int i)
{
	return i % 5 == 2;
}

static void
test_engine_burst(void)
{
	enum { N = 48, ROOM = 9100 };
	static uint8_t buf[N][ROOM], plain[N][ROOM], ref[N][ROOM], aad[N][12];
	static const uint32_t odd[] = { 61, 4068, 4100, 9000, 1, 70 };
	struct crypto_engine *e = crypto_engine_create(CRYPTO_ENGINE_MB);
	IMB_MGR *m = alloc_mb_mgr(0);
	struct crypto_session sess[3];
	struct crypto_op ops[N];
	uint8_t key[3][36], ref_tag[N][16];
	unsigned int i, k, bad = 0, fail = 0, ntampered = 0, bad_op;

	CU_ASSERT_FATAL(e != NULL && m != NULL);
	init_mb_mgr_auto(m, NULL);
	/* Two AES-128 SAs, so that groups of four mix them, and one
	 * AES-256. */
	for (k = 0; k < 3; k++) {
		struct crypto_algo_params p = {
			.cipher = CRYPTO_CIPHER_AES_GCM, .cipher_key = key[k],
			.cipher_key_len = k == 1 ? 36 : 20, .icv_len = k == 1 ? 12 : 16,
		};

		fill(key[k], sizeof(key[k]));
		CU_ASSERT_EQUAL_FATAL(crypto_session_init(&sess[k], CRYPTO_ENGINE_MB, &p), 0);
	}
	for (i = 0; i < N; i++) {
		const unsigned int sk = i % 3 == 0 ? 1 : i % 2 ? 2 : 0;
		const struct crypto_session *s = &sess[sk];
		struct gcm_key_data kd;
		struct gcm_context_data ctx;
		/* A quarter short (x4_short(), grouped as they come on
		 * AVX-512), a quarter odd, the rest to 4064 bytes. */
		uint32_t len = i % 4 == 3   ? odd[i / 4 % 6] :
			       i % 4 == 1 ? 4 * (1 + rnd() % 24) :
					    4 * (1 + rnd() % 1016);
		uint8_t nonce[12];

		fill(plain[i], len + 8);
		fill(aad[i], sizeof(aad[i]));
		memcpy(buf[i], plain[i], len + 8);
		ops[i] = (struct crypto_op){
			.sess = s, .data = buf[i], .cipher_off = 8, .cipher_len = len,
			.iv = buf[i], .aad = aad[i], .aad_len = i % 5 ? 8 : 12,
			.icv = buf[i] + 8 + len,
		};
		/* The reference: the session's key and salt (Linux's form). */
		memcpy(nonce, key[sk] + s->key_len, 4);
		memcpy(nonce + 4, buf[i], 8);
		if (s->key_len == 16) {
			IMB_AES128_GCM_PRE(m, key[sk], &kd);
			IMB_AES128_GCM_ENC(m, &kd, &ctx, ref[i], plain[i] + 8, len, nonce, aad[i],
					   ops[i].aad_len, ref_tag[i], 16);
		} else {
			IMB_AES256_GCM_PRE(m, key[1], &kd);
			IMB_AES256_GCM_ENC(m, &kd, &ctx, ref[i], plain[i] + 8, len, nonce, aad[i],
					   ops[i].aad_len, ref_tag[i], 16);
		}
	}
	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, N), N);
	for (i = 0; i < N; i++) {
		bad += ops[i].status != CRYPTO_OK;
		bad += memcmp(buf[i] + 8, ref[i], ops[i].cipher_len) != 0;
		bad += memcmp(ops[i].icv, ref_tag[i], ops[i].sess->icv_len) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Every fifth ICV broken: each lane of a group, and ops alone,
	 * answer for themselves. */
	for (i = 0; i < N; i++)
		if (tampered(i)) {
			ops[i].icv[rnd() % ops[i].sess->icv_len] ^= 0x10;
			ntampered++;
		}
	CU_ASSERT_EQUAL(crypto_decrypt_burst(e, ops, N), N - ntampered);
	for (i = 0; i < N; i++) {
		fail += (ops[i].status != CRYPTO_OK) != tampered(i);
		fail += memcmp(buf[i] + 8, plain[i] + 8, ops[i].cipher_len) != 0;
	}
	CU_ASSERT_EQUAL(fail, 0);
	/* A malformed op among them (AAD neither 8 nor 12 bytes) is an
	 * error, untouched; the others still go. */
	bad_op = 7;
	ops[bad_op].aad_len = 9;
	memcpy(ref[bad_op], buf[bad_op], ops[bad_op].cipher_len + 8);
	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, N), N - 1);
	CU_ASSERT_EQUAL(ops[bad_op].status, CRYPTO_ERROR);
	CU_ASSERT_EQUAL(memcmp(ref[bad_op], buf[bad_op], ops[bad_op].cipher_len + 8), 0);
	for (i = 0, bad = 0; i < N; i++)
		bad += i != bad_op && ops[i].status != CRYPTO_OK;
	CU_ASSERT_EQUAL(bad, 0);
	for (k = 0; k < 3; k++)
		crypto_session_wipe(&sess[k]);
	free_mb_mgr(m);
	crypto_engine_free(e);
}

int
test_gcm_x4_register(void)
{
	CU_pSuite s = CU_add_suite("gcm_x4", suite_init, suite_fini);

	if (s == NULL)
		return CU_get_error();
	if (CU_add_test(s, "key_ok", test_key_ok) == NULL ||
	    CU_add_test(s, "aes128", test_aes128) == NULL ||
	    CU_add_test(s, "aes256", test_aes256) == NULL ||
	    CU_add_test(s, "idle_lanes", test_idle_lanes) == NULL ||
	    CU_add_test(s, "key_ok_avx2", test_key_ok_avx2) == NULL ||
	    CU_add_test(s, "aes128_avx2", test_aes128_avx2) == NULL ||
	    CU_add_test(s, "aes256_avx2", test_aes256_avx2) == NULL ||
	    CU_add_test(s, "idle_lanes_avx2", test_idle_lanes_avx2) == NULL ||
	    CU_add_test(s, "page_edges", test_page_edges) == NULL ||
	    CU_add_test(s, "page_edges_avx2", test_page_edges_avx2) == NULL ||
	    CU_add_test(s, "engine_burst", test_engine_burst) == NULL)
		return CU_get_error();
	return 0;
}
