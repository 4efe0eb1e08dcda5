/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite "gcm_x4": the four-lane AES-GCM of crypto/gcm_x4.c against
 * IPsec-MB's single-buffer calls on random keys, nonces, AAD and lengths
 * (every length 0..GCM_X4_MAX_LEN, lanes of different keys and lengths,
 * idle lanes), both directions; and its check of IPsec-MB's key layout.
 * The suite "crypto" runs the RFC vectors through the engine, which sends
 * short GCM packets this way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <intel-ipsec-mb.h>

#include "crypto/gcm_x4.h"
#include "unit.h"

#define GUARD 32

static IMB_MGR *mgr;
static int usable; /* 1: CPU and key layout fit; 0: the suite skips */

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
key_pre(unsigned int key_len, const uint8_t *key, struct gcm_key_data *kd)
{
	if (key_len == 16)
		IMB_AES128_GCM_PRE(mgr, key, kd);
	else
		IMB_AES256_GCM_PRE(mgr, key, kd);
}

static int
suite_init(void)
{
	struct gcm_key_data kd;
	uint8_t key[32] = { 1 };

	mgr = alloc_mb_mgr(0);
	if (mgr == NULL)
		return 1;
	init_mb_mgr_auto(mgr, NULL);
	usable = 0;
	if (!gcm_x4_cpu()) {
		printf("\n  gcm_x4: skipped: this CPU lacks AVX-512 BW/VL, VAES or VPCLMULQDQ\n");
		return 0;
	}
	key_pre(16, key, &kd);
	if (!gcm_x4_key_ok((const uint8_t *)&kd, 16)) {
		printf("\n  gcm_x4: skipped: IPsec-MB (%s) keeps GCM keys in another layout\n",
		       mgr->used_arch == IMB_ARCH_AVX512 ? "avx512" : "not avx512");
		return 0;
	}
	usable = 1;
	return 0;
}

static int
suite_fini(void)
{
	free_mb_mgr(mgr);
	mgr = NULL;
	return 0;
}

/* The layout check: IPsec-MB's own key data passes, for both key sizes
 * and random keys; a changed power or round key fails. */
static void
test_key_ok(void)
{
	struct gcm_key_data kd;
	uint8_t key[32];
	unsigned int i, key_len;

	if (!usable)
		return;
	for (i = 0; i < 50; i++) {
		key_len = i % 2 ? 32 : 16;
		fill(key, sizeof(key));
		key_pre(key_len, key, &kd);
		CU_ASSERT_TRUE(gcm_x4_key_ok((const uint8_t *)&kd, key_len));
		/* The wrong key size reads other round keys as its own. */
		CU_ASSERT_FALSE(gcm_x4_key_ok((const uint8_t *)&kd, key_len == 16 ? 32 : 16));
	}
	CU_ASSERT_FALSE(gcm_x4_key_ok((const uint8_t *)&kd, 24));
	/* H^3 (needed by a one-block packet's AAD) at 16 * (63 - 3). */
	((uint8_t *)&kd)[16 * 60 + 5] ^= 1;
	CU_ASSERT_FALSE(gcm_x4_key_ok((const uint8_t *)&kd, key_len));
	((uint8_t *)&kd)[16 * 60 + 5] ^= 1;
	CU_ASSERT_TRUE(gcm_x4_key_ok((const uint8_t *)&kd, key_len));
	/* H^18, the highest a 16-block packet reads. */
	((uint8_t *)&kd)[16 * 45] ^= 0x80;
	CU_ASSERT_FALSE(gcm_x4_key_ok((const uint8_t *)&kd, key_len));
	((uint8_t *)&kd)[16 * 45] ^= 0x80;
	/* The last round key. */
	((uint8_t *)&kd)[16 * (key_len == 16 ? 10 : 14)] ^= 1;
	CU_ASSERT_FALSE(gcm_x4_key_ok((const uint8_t *)&kd, key_len));
}

struct lane {
	uint8_t key[32], salt[4], iv[8], aad[16], nonce[12];
	uint8_t plain[GCM_X4_MAX_LEN];
	uint8_t ref[GCM_X4_MAX_LEN], ref_tag[16];
	uint8_t buf[GCM_X4_MAX_LEN + 2 * GUARD];
	uint8_t tag[16 + GUARD];
	uint32_t len, aad_len, icv_len;
};

static void
reference(const struct gcm_key_data *kd, unsigned int key_len, struct lane *l)
{
	struct gcm_context_data ctx;

	memcpy(l->nonce, l->salt, 4);
	memcpy(l->nonce + 4, l->iv, 8);
	if (key_len == 16)
		IMB_AES128_GCM_ENC(mgr, kd, &ctx, l->ref, l->plain, l->len, l->nonce, l->aad,
				   l->aad_len, l->ref_tag, 16);
	else
		IMB_AES256_GCM_ENC(mgr, kd, &ctx, l->ref, l->plain, l->len, l->nonce, l->aad,
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
against_ipsec_mb(unsigned int key_len, unsigned int rounds, int idle)
{
	static struct lane l[4];
	struct gcm_key_data kd[3];
	uint8_t keys[3][32];
	unsigned int r, p, k, bad = 0;

	for (k = 0; k < 3; k++) {
		fill(keys[k], sizeof(keys[k]));
		key_pre(key_len, keys[k], &kd[k]);
	}
	for (r = 0; r < rounds; r++) {
		struct gcm_x4_op op[4];
		unsigned int same = rnd() % 2; /* one key for all lanes */
		unsigned int same_nb = rnd() % 2; /* one block count */

		for (p = 0; p < 4; p++) {
			struct lane *x = &l[p];

			k = same ? 0 : rnd() % 3;
			if (p == 0)
				x->len = r % (GCM_X4_MAX_LEN + 1);
			else if (!same_nb)
				x->len = rnd() % (GCM_X4_MAX_LEN + 1);
			else if (l[0].len == 0)
				x->len = 0;
			else /* 1..16 bytes in lane 0's last block */
				x->len = (l[0].len - 1) / 16 * 16 + 1 + rnd() % 16;
			if (idle && p >= 2)
				x->len = 0;
			x->aad_len = rnd() % 2 ? 12 : 8;
			x->icv_len = 8 + 4 * (rnd() % 3); /* RFC 4106: 8, 12 or 16 */
			fill(x->salt, 4);
			fill(x->iv, 8);
			fill(x->aad, sizeof(x->aad));
			fill(x->plain, x->len);
			reference(&kd[k], key_len, x);
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
			bad += gcm_x4(op, key_len, true) != 0;
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
			bad += gcm_x4(op, key_len, false) != 0;
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
			fail = gcm_x4(op, key_len, false);
			bad += fail != want;
		}
		if (bad != 0) {
			printf("\n  gcm_x4: AES-%u round %u: lane lengths %u %u %u %u differ from IPsec-MB\n",
			       key_len * 8, r, l[0].len, l[1].len, l[2].len, l[3].len);
			break;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_aes128(void)
{
	if (usable)
		against_ipsec_mb(16, 1200, 0);
}

static void
test_aes256(void)
{
	if (usable)
		against_ipsec_mb(32, 600, 0);
}

static void
test_idle_lanes(void)
{
	if (usable)
		against_ipsec_mb(16, 300, 1);
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
	    CU_add_test(s, "idle_lanes", test_idle_lanes) == NULL)
		return CU_get_error();
	return 0;
}
