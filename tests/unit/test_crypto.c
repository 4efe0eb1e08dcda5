/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite "crypto": known-answer tests from the RFCs, through the
 * public crypto.h API only, then round trips, tamper, bad lengths and bad
 * parameters on both engines.
 *
 * Sources of the vectors:
 *  - AES-GCM: draft-mcgrew-gcm-test-01 section 4 (ESP packets with 8- and
 *    12-byte AAD, as RFC 4106 carries them). The GCM specification's test
 *    cases 3/15 have no AAD and 4/16 a 20-byte AAD, neither of which an
 *    ESP AAD (8 or 12 bytes) can express.
 *  - ChaCha20-Poly1305: RFC 8439 (RFC 7539) section 2.8.2.
 *  - HMAC-SHA-1: RFC 2202 section 3; HMAC-SHA-2: RFC 4231 section 4.
 *  - AES-CBC: RFC 3602 section 4, cases 1-4.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/chacha_x16.h"
#include "crypto/crypto.h"
#include "crypto/gcm_x4.h"
#include "unit.h"

#define BUF_MAX 2048
#define ESP_HDR 8

static struct crypto_engine *eng_mb;
static struct crypto_engine *eng_null;

static struct crypto_engine *
engine_of(enum crypto_engine_kind kind)
{
	return kind == CRYPTO_ENGINE_MB ? eng_mb : eng_null;
}

static int
suite_init(void)
{
	eng_mb = crypto_engine_create(CRYPTO_ENGINE_MB);
	eng_null = crypto_engine_create(CRYPTO_ENGINE_NULL);
	return eng_mb == NULL || eng_null == NULL;
}

static int
suite_fini(void)
{
	crypto_engine_free(eng_mb);
	crypto_engine_free(eng_null);
	eng_mb = eng_null = NULL;
	return 0;
}

static size_t
hex(const char *s, uint8_t *out)
{
	return unit_hex(s, out, BUF_MAX);
}

static void
test_version(void)
{
	const char *d = crypto_engine_describe(eng_mb);

	CU_ASSERT_PTR_NOT_NULL_FATAL(crypto_version());
	CU_ASSERT_STRING_EQUAL(crypto_version(), "intel-ipsec-mb 1.3.0");
	CU_ASSERT(strncmp(d, "ipsec-mb 1.3.0 ", 15) == 0);
	CU_ASSERT(strstr(d, "sse") || strstr(d, "avx"));
	/* espd's own short-packet paths, where this CPU runs them */
	CU_ASSERT_EQUAL(strstr(d, " +chacha-x16") != NULL, chacha_x16_allowed());
	CU_ASSERT_EQUAL(strstr(d, " +gcm-x4-avx2") != NULL, gcm_x4_cpu() == GCM_X4_AVX2);
	CU_ASSERT_EQUAL(strstr(d, " +gcm-x4") != NULL, gcm_x4_cpu() != GCM_X4_NONE);
	CU_ASSERT_STRING_EQUAL(crypto_engine_describe(eng_null), "null");
}

/* ---- AEAD known answers ------------------------------------------------ */

struct aead_kat {
	const char *name;
	enum crypto_cipher cipher;
	const char *key;   /* key || salt */
	const char *iv;    /* explicit IV, 8 bytes */
	const char *aad;
	const char *pt;
	const char *ct;
	const char *tag;
};

static const struct aead_kat aead_kats[] = {
	{ "gcm-test-01 #1 aes128 aad12", CRYPTO_CIPHER_AES_GCM,
	  "4c80cdefbb5d10da906ac73c3613a634" "2e443b68",
	  "4956ed7e3b244cfe", "000043218765432100000000",
	  "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
	  "00000000045f736970045f756470037369700963796265726369747902646b00"
	  "0021000101020201",
	  "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
	  "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
	  "61bc17d768fd9732",
	  "459018148f6cbe722fd04796562dfdb4" },
	{ "gcm-test-01 #2 aes128 aad8", CRYPTO_CIPHER_AES_GCM,
	  "feffe9928665731c6d6a8f9467308308" "cafebabe",
	  "facedbaddecaf888", "0000a5f80000000a",
	  "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
	  "0001000000000000037369700963796265726369747902646b00000100010001",
	  "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c"
	  "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
	  "83b70d3aa8bc6ee4c309e9d85a41ad4a" },
	{ "gcm-test-01 #3 aes256 aad8", CRYPTO_CIPHER_AES_GCM,
	  "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
	  "11223344",
	  "0102030405060708", "4a2cbfe300000002",
	  "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
	  "7002400020bf0000020405b40101040201020201",
	  "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
	  "748a637985771d347f0545659f14e99def842d8e",
	  "b335f4eecfdbf831824b4c4915956c96" },
	{ "gcm-test-01 #4 aes128 zero key", CRYPTO_CIPHER_AES_GCM,
	  "00000000000000000000000000000000" "00000000",
	  "0000000000000000", "0000000000000001",
	  "4500003c99c500008001cb7a40679318010101010800075c0200440061626364"
	  "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
	  "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284"
	  "456476492719ffb64de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3",
	  "f821d496eeb096e98ad2b69e4799c71d" },
	{ "gcm-test-01 #8 aes128 aad12", CRYPTO_CIPHER_AES_GCM,
	  "abbccddef00112233445566778899aab" "decaf888",
	  "cafedebaceface74", "000001000000000000000001",
	  "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
	  "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
	  "9b6266c04722b14923010101",
	  "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f"
	  "9190feebaf2cb01984e65863965d7472b79da345e0e780191f0d2f0e0f496c22"
	  "6f2127b27db35724e7845d68",
	  "651f57e65f354f75ff17015769623436" },
	{ "gcm-test-01 #9 aes256 aad12", CRYPTO_CIPHER_AES_GCM,
	  "abbccddef00112233445566778899aababbccddef00112233445566778899aab"
	  "73616c74",
	  "616e640169766563", "17405e67156f3126dd0db99b",
	  "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
	  "50101f646d540001",
	  "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57f"
	  "f4d3a31ce673119e",
	  "451626c2415771e3b7eebca614c89b35" },
	{ "gcm-test-01 #12 aes128 4-byte payload", CRYPTO_CIPHER_AES_GCM,
	  "7d773d00c144c525ac619d18c84a3f47" "d9664267",
	  "43457e9182443bc6", "335467aeffffffff",
	  "01020201", "437f866b",
	  "cb3f699fe9b0822bac961c4504bef270" },
	{ "gcm-test-01 #14 aes256 aad12", CRYPTO_CIPHER_AES_GCM,
	  "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961"
	  "7475726e",
	  "333021696765746d", "796b6963ffffffffffffffff",
	  "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
	  "65666768696a6b6c6d6e6f707172737401020201",
	  "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a86"
	  "4cd3d78ca4ae68a32b42458fb57dbe821dcc63b9",
	  "d0937ba2945f669368661a329fb4c053" },
	{ "rfc8439 2.8.2 chacha20-poly1305", CRYPTO_CIPHER_CHACHA20_POLY1305,
	  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	  "07000000",
	  "4041424344454647", "50515253c0c1c2c3c4c5c6c7",
	  /* "Ladies and Gentlemen of the class of '99: If I could offer you
	   * only one tip for the future, sunscreen would be it." */
	  "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
	  "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
	  "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
	  "637265656e20776f756c642062652069742e",
	  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	  "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	  "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	  "3ff4def08e4b7a9de576d26586cec64b6116",
	  "1ae10b594f09e26a7e902ecbd0600691" },
};

/* Run one AEAD vector with the given ICV length (a prefix of the tag). */
static void
aead_kat_run(const struct aead_kat *v, unsigned int icv_len)
{
	static uint8_t key[64], iv[8], aad[16], pt[BUF_MAX], ct[BUF_MAX],
		tag[16], pkt[BUF_MAX];
	struct crypto_algo_params p = { 0 };
	struct crypto_session s;
	struct crypto_op op = { 0 };
	size_t klen, alen, len;

	klen = hex(v->key, key);
	CU_ASSERT_EQUAL_FATAL(hex(v->iv, iv), 8);
	alen = hex(v->aad, aad);
	len = hex(v->pt, pt);
	CU_ASSERT_EQUAL_FATAL(hex(v->ct, ct), len);
	CU_ASSERT_EQUAL_FATAL(hex(v->tag, tag), 16);

	p.cipher = v->cipher;
	p.auth = CRYPTO_AUTH_NONE;
	p.cipher_key = key;
	p.cipher_key_len = (uint16_t)klen;
	p.icv_len = (uint16_t)icv_len;
	CU_ASSERT_EQUAL_FATAL(crypto_session_init(&s, CRYPTO_ENGINE_MB, &p),
			      0);
	CU_ASSERT_EQUAL(s.iv_len, 8);
	CU_ASSERT_EQUAL(s.is_aead, 1);
	CU_ASSERT_EQUAL(s.key_len, klen - 4);
	CU_ASSERT(memcmp(s.salt, key + klen - 4, 4) == 0);

	/* ESP: SPI || seq || IV || ciphertext || ICV (RFC 4106 3). */
	memset(pkt, 0xee, sizeof(pkt));
	memcpy(pkt, aad, ESP_HDR);
	memcpy(pkt + ESP_HDR, iv, 8);
	memcpy(pkt + ESP_HDR + 8, pt, len);
	op.sess = &s;
	op.data = pkt;
	op.cipher_off = ESP_HDR + 8;
	op.cipher_len = (uint32_t)len;
	op.iv = pkt + ESP_HDR;
	op.aad = aad;
	op.aad_len = (uint32_t)alen;
	op.icv = pkt + ESP_HDR + 8 + len;
	op.status = 0xff;

	CU_ASSERT_EQUAL(crypto_encrypt_burst(eng_mb, &op, 1), 1);
	CU_ASSERT_EQUAL(op.status, CRYPTO_OK);
	CU_ASSERT(memcmp(pkt + ESP_HDR + 8, ct, len) == 0);
	CU_ASSERT(memcmp(op.icv, tag, icv_len) == 0);
	CU_ASSERT(memcmp(pkt + ESP_HDR, iv, 8) == 0);
	CU_ASSERT_EQUAL(pkt[ESP_HDR + 8 + len + icv_len], 0xee);

	CU_ASSERT_EQUAL(crypto_decrypt_burst(eng_mb, &op, 1), 1);
	CU_ASSERT_EQUAL(op.status, CRYPTO_OK);
	CU_ASSERT(memcmp(pkt + ESP_HDR + 8, pt, len) == 0);
	crypto_session_wipe(&s);
}

static void
test_aead_kat(void)
{
	size_t i;

	for (i = 0; i < sizeof(aead_kats) / sizeof(aead_kats[0]); i++)
		aead_kat_run(&aead_kats[i], 16);
	/* RFC 4106 3: the 8- and 12-byte ICVs are the tag's first bytes. */
	aead_kat_run(&aead_kats[0], 12);
	aead_kat_run(&aead_kats[0], 8);
	aead_kat_run(&aead_kats[2], 12);
	aead_kat_run(&aead_kats[2], 8);
}

/* ---- HMAC known answers ------------------------------------------------ */

struct hmac_kat {
	enum crypto_auth auth;
	int tc;              /* RFC test case, selects key and data */
	unsigned int icv_len;
	const char *digest;  /* at least icv_len bytes */
};

/* Keys and data shared by RFC 2202 and RFC 4231 (cases 6-7 differ). */
static size_t
hmac_case(enum crypto_auth a, int tc, uint8_t *key, uint8_t *data)
{
	static const char *const msg[] = {
		[1] = "Hi There",
		[2] = "what do ya want for nothing?",
		[5] = "Test With Truncation",
		[6] = "Test Using Larger Than Block-Size Key - Hash Key First",
	};
	static const char m7_2202[] = "Test Using Larger Than Block-Size "
		"Key and Larger Than One Block-Size Data";
	static const char m7_4231[] = "This is a test using a larger than "
		"block-size key and a larger than block-size data. The key "
		"needs to be hashed before being used by the HMAC algorithm.";
	size_t klen = 20, i;
	const char *m = NULL;

	switch (tc) {
	case 1:
		memset(key, 0x0b, 20);
		break;
	case 2:
		memcpy(key, "Jefe", 4);
		klen = 4;
		break;
	case 3:
		memset(key, 0xaa, 20);
		memset(data, 0xdd, 50);
		return klen | 50 << 16;
	case 4:
		for (i = 0; i < 25; i++)
			key[i] = (uint8_t)(i + 1);
		memset(data, 0xcd, 50);
		return 25 | 50 << 16;
	case 5:
		memset(key, 0x0c, 20);
		break;
	default:
		klen = a == CRYPTO_AUTH_HMAC_SHA1 ? 80 : 131;
		memset(key, 0xaa, klen);
		if (tc == 7)
			m = a == CRYPTO_AUTH_HMAC_SHA1 ? m7_2202 : m7_4231;
		break;
	}
	if (m == NULL)
		m = msg[tc];
	memcpy(data, m, strlen(m));
	return klen | strlen(m) << 16;
}

static const struct hmac_kat hmac_kats[] = {
	/* RFC 2202 3 */
	{ CRYPTO_AUTH_HMAC_SHA1, 1, 20, "b617318655057264e28bc0b6fb378c8ef146be00" },
	{ CRYPTO_AUTH_HMAC_SHA1, 2, 20, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
	{ CRYPTO_AUTH_HMAC_SHA1, 3, 20, "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
	{ CRYPTO_AUTH_HMAC_SHA1, 4, 20, "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
	{ CRYPTO_AUTH_HMAC_SHA1, 5, 20, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
	{ CRYPTO_AUTH_HMAC_SHA1, 5, 12, "4c1a03424b55e07fe7f27be1" },
	{ CRYPTO_AUTH_HMAC_SHA1, 6, 20, "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
	{ CRYPTO_AUTH_HMAC_SHA1, 7, 20, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" },
	/* RFC 4231 4.2-4.8 */
	{ CRYPTO_AUTH_HMAC_SHA256, 1, 32, "b0344c61d8db38535ca8afceaf0bf12b"
	  "881dc200c9833da726e9376c2e32cff7" },
	{ CRYPTO_AUTH_HMAC_SHA256, 2, 32, "5bdcc146bf60754e6a042426089575c7"
	  "5a003f089d2739839dec58b964ec3843" },
	{ CRYPTO_AUTH_HMAC_SHA256, 3, 32, "773ea91e36800e46854db8ebd09181a7"
	  "2959098b3ef8c122d9635514ced565fe" },
	{ CRYPTO_AUTH_HMAC_SHA256, 4, 32, "82558a389a443c0ea4cc819899f2083a"
	  "85f0faa3e578f8077a2e3ff46729665b" },
	{ CRYPTO_AUTH_HMAC_SHA256, 5, 16, "a3b6167473100ee06e0c796c2955552b" },
	{ CRYPTO_AUTH_HMAC_SHA256, 6, 32, "60e431591ee0b67f0d8a26aacbf5b77f"
	  "8e0bc6213728c5140546040f0ee37f54" },
	{ CRYPTO_AUTH_HMAC_SHA256, 7, 32, "9b09ffa71b942fcb27635fbcd5b0e944"
	  "bfdc63644f0713938a7f51535c3a35e2" },
	{ CRYPTO_AUTH_HMAC_SHA384, 1, 48, "afd03944d84895626b0825f4ab46907f"
	  "15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6" },
	{ CRYPTO_AUTH_HMAC_SHA384, 2, 48, "af45d2e376484031617f78d2b58a6b1b"
	  "9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649" },
	{ CRYPTO_AUTH_HMAC_SHA384, 3, 48, "88062608d3e6ad8a0aa2ace014c8a86f"
	  "0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27" },
	{ CRYPTO_AUTH_HMAC_SHA384, 4, 48, "3e8a69b7783c25851933ab6290af6ca7"
	  "7a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb" },
	{ CRYPTO_AUTH_HMAC_SHA384, 5, 16, "3abf34c3503b2a23a46efc619baef897" },
	{ CRYPTO_AUTH_HMAC_SHA384, 6, 48, "4ece084485813e9088d2c63a041bc5b4"
	  "4f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952" },
	{ CRYPTO_AUTH_HMAC_SHA384, 7, 48, "6617178e941f020d351e2f254e8fd32c"
	  "602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e" },
	{ CRYPTO_AUTH_HMAC_SHA512, 1, 64, "87aa7cdea5ef619d4ff0b4241a1d6cb0"
	  "2379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4"
	  "be9d914eeb61f1702e696c203a126854" },
	{ CRYPTO_AUTH_HMAC_SHA512, 2, 64, "164b7a7bfcf819e2e395fbe73b56e0a3"
	  "87bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fd"
	  "caeab1a34d4a6b4b636e070a38bce737" },
	{ CRYPTO_AUTH_HMAC_SHA512, 3, 64, "fa73b0089d56a284efb0f0756c890be9"
	  "b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807"
	  "b946a337bee8942674278859e13292fb" },
	{ CRYPTO_AUTH_HMAC_SHA512, 4, 64, "b0ba465637458c6990e5a8c5f61d4af7"
	  "e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063"
	  "a5f19741120c4f2de2adebeb10a298dd" },
	{ CRYPTO_AUTH_HMAC_SHA512, 5, 16, "415fad6271580a531d4179bc891d87a6" },
	{ CRYPTO_AUTH_HMAC_SHA512, 6, 64, "80b24263c7c1a3ebb71493c1dd7be8b4"
	  "9b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e52"
	  "95e64f73f63f0aec8b915a985d786598" },
	{ CRYPTO_AUTH_HMAC_SHA512, 7, 64, "e37b6a775dc87dbaa4dfa9f96e5e3ffd"
	  "debd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15"
	  "134676fb6de0446065c97440fa8c6a58" },
};

static int
hmac_session(struct crypto_session *s, enum crypto_engine_kind kind,
	     enum crypto_auth a, const uint8_t *key, size_t klen,
	     unsigned int icv_len)
{
	struct crypto_algo_params p = { 0 };

	p.cipher = CRYPTO_CIPHER_NULL;
	p.auth = a;
	p.auth_key = key;
	p.auth_key_len = (uint16_t)klen;
	p.icv_len = (uint16_t)icv_len;
	return crypto_session_init(s, kind, &p);
}

/* ICV of data[0 .. len) under NULL cipher + HMAC, into out. */
static int
hmac_compute(enum crypto_auth a, const uint8_t *key, size_t klen,
	     unsigned int icv_len, uint8_t *data, size_t len, uint8_t *out)
{
	struct crypto_session s;
	struct crypto_op op = { 0 };
	int ok;

	if (hmac_session(&s, CRYPTO_ENGINE_MB, a, key, klen, icv_len) != 0)
		return 0;
	op.sess = &s;
	op.data = data;
	op.auth_len = (uint32_t)len;
	op.icv = out;
	ok = crypto_encrypt_burst(eng_mb, &op, 1) == 1;
	crypto_session_wipe(&s);
	return ok;
}

static void
test_hmac_kat(void)
{
	static uint8_t key[256], data[256], want[64], icv[CRYPTO_ICV_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(hmac_kats) / sizeof(hmac_kats[0]); i++) {
		const struct hmac_kat *v = &hmac_kats[i];
		struct crypto_session s;
		struct crypto_op op = { 0 };
		size_t r = hmac_case(v->auth, v->tc, key, data);
		size_t klen = r & 0xffff, len = r >> 16;

		CU_ASSERT_FATAL(hex(v->digest, want) >= v->icv_len);
		CU_ASSERT_EQUAL_FATAL(hmac_session(&s, CRYPTO_ENGINE_MB,
						   v->auth, key, klen,
						   v->icv_len), 0);
		CU_ASSERT_EQUAL(s.iv_len, 0);
		CU_ASSERT_EQUAL(s.icv_len, v->icv_len);
		memset(icv, 0xee, sizeof(icv));
		op.sess = &s;
		op.data = data;
		op.auth_len = (uint32_t)len;
		op.icv = icv;
		CU_ASSERT_EQUAL(crypto_encrypt_burst(eng_mb, &op, 1), 1);
		CU_ASSERT_EQUAL(op.status, CRYPTO_OK);
		if (memcmp(icv, want, v->icv_len) != 0) {
			fprintf(stderr, "hmac auth %d case %d icv %u: mismatch\n",
				v->auth, v->tc, v->icv_len);
			CU_FAIL("HMAC known answer");
		}
		CU_ASSERT_EQUAL(icv[v->icv_len], 0xee);

		/* Verify side: the RFC digest passes, one flipped bit fails. */
		memcpy(icv, want, v->icv_len);
		CU_ASSERT_EQUAL(crypto_decrypt_burst(eng_mb, &op, 1), 1);
		CU_ASSERT_EQUAL(op.status, CRYPTO_OK);
		icv[v->icv_len - 1] ^= 0x01;
		CU_ASSERT_EQUAL(crypto_decrypt_burst(eng_mb, &op, 1), 0);
		CU_ASSERT_EQUAL(op.status, CRYPTO_ICV_FAIL);
		crypto_session_wipe(&s);
	}
}

/* ---- AES-CBC known answers (RFC 3602 4) ------------------------------- */

struct cbc_kat {
	const char *key, *iv, *pt, *ct;
};

static const struct cbc_kat cbc_kats[] = {
	{ "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
	  /* "Single block msg" */
	  "53696e676c6520626c6f636b206d7367",
	  "e353779c1079aeb82708942dbe77181a" },
	{ "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1" },
	{ "6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
	  /* "This is a 48-byte message (exactly 3 AES blocks)" */
	  "5468697320697320612034382d62797465206d657373616765202865786163746c"
	  "7920332041455320626c6f636b7329",
	  "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5"
	  "021c19216bad525c8579695d83ba2684" },
	{ "56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
	  "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	  "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
	  "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
	  "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55" },
};

static const uint8_t cbc_auth_key[20] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};

static int
cbc_session(struct crypto_session *s, enum crypto_engine_kind kind,
	    const uint8_t *key, size_t klen)
{
	struct crypto_algo_params p = { 0 };

	p.cipher = CRYPTO_CIPHER_AES_CBC;
	p.auth = CRYPTO_AUTH_HMAC_SHA256;
	p.cipher_key = key;
	p.cipher_key_len = (uint16_t)klen;
	p.auth_key = cbc_auth_key;
	p.auth_key_len = sizeof(cbc_auth_key);
	p.icv_len = 16;
	return crypto_session_init(s, kind, &p);
}

/* Decrypt hdr || iv || ct with a valid HMAC-SHA-256-128; 1 if OK. */
static int
cbc_decrypt(const struct crypto_session *s, uint8_t *pkt, size_t len)
{
	struct crypto_op op = { 0 };
	uint8_t icv[16];

	if (!hmac_compute(CRYPTO_AUTH_HMAC_SHA256, cbc_auth_key,
			  sizeof(cbc_auth_key), 16, pkt, ESP_HDR + 16 + len,
			  icv))
		return 0;
	op.sess = s;
	op.data = pkt;
	op.cipher_off = ESP_HDR + 16;
	op.cipher_len = (uint32_t)len;
	op.auth_len = (uint32_t)(ESP_HDR + 16 + len);
	op.iv = pkt + ESP_HDR;
	op.icv = icv;
	return crypto_decrypt_burst(eng_mb, &op, 1) == 1 &&
	       op.status == CRYPTO_OK;
}

static void
test_cbc_kat(void)
{
	static uint8_t key[16], iv[16], pt[64], ct[64], pkt[BUF_MAX],
		pkt2[BUF_MAX], sep_iv[16], blk[ESP_HDR + 32];
	size_t i, len;

	for (i = 0; i < sizeof(cbc_kats) / sizeof(cbc_kats[0]); i++) {
		const struct cbc_kat *v = &cbc_kats[i];
		struct crypto_session s;
		struct crypto_op op = { 0 };
		uint8_t icv[16], icv2[16];

		CU_ASSERT_EQUAL_FATAL(hex(v->key, key), 16);
		CU_ASSERT_EQUAL_FATAL(hex(v->iv, iv), 16);
		len = hex(v->pt, pt);
		CU_ASSERT_EQUAL_FATAL(hex(v->ct, ct), len);
		CU_ASSERT_EQUAL_FATAL(cbc_session(&s, CRYPTO_ENGINE_MB, key,
						  16), 0);
		CU_ASSERT_EQUAL(s.iv_len, 16);
		CU_ASSERT_EQUAL(s.block_size, 16);

		/* Decrypt: the RFC ciphertext and IV give the plaintext. */
		memset(pkt, 0x11, ESP_HDR);
		memcpy(pkt + ESP_HDR, iv, 16);
		memcpy(pkt + ESP_HDR + 16, ct, len);
		CU_ASSERT(cbc_decrypt(&s, pkt, len));
		CU_ASSERT(memcmp(pkt + ESP_HDR + 16, pt, len) == 0);

		/* Encrypt: IV' = E_K(IV), then CBC under IV'. */
		memset(pkt, 0x11, ESP_HDR);
		memcpy(pkt + ESP_HDR, iv, 16);
		memcpy(pkt + ESP_HDR + 16, pt, len);
		op.sess = &s;
		op.data = pkt;
		op.cipher_off = ESP_HDR + 16;
		op.cipher_len = (uint32_t)len;
		op.auth_len = (uint32_t)(ESP_HDR + 16 + len);
		op.iv = pkt + ESP_HDR;
		op.icv = icv;
		CU_ASSERT_EQUAL(crypto_encrypt_burst(eng_mb, &op, 1), 1);
		CU_ASSERT(memcmp(pkt + ESP_HDR, iv, 16) != 0);
		/* D_K(IV') under a zero IV must give back the IV we passed. */
		memset(blk, 0x22, ESP_HDR);
		memset(blk + ESP_HDR, 0, 16);
		memcpy(blk + ESP_HDR + 16, pkt + ESP_HDR, 16);
		CU_ASSERT(cbc_decrypt(&s, blk, 16));
		CU_ASSERT(memcmp(blk + ESP_HDR + 16, iv, 16) == 0);
		/* The ICV is HMAC over hdr || IV' || ciphertext. */
		CU_ASSERT(hmac_compute(CRYPTO_AUTH_HMAC_SHA256, cbc_auth_key,
				       sizeof(cbc_auth_key), 16, pkt,
				       ESP_HDR + 16 + len, icv2));
		CU_ASSERT(memcmp(icv, icv2, 16) == 0);

		/* Same, with the IV away from the ciphertext: same bytes. */
		memset(pkt2, 0x11, ESP_HDR);
		memset(pkt2 + ESP_HDR, 0, 16);
		memcpy(pkt2 + ESP_HDR + 16, pt, len);
		memcpy(sep_iv, iv, 16);
		op.data = pkt2;
		op.iv = sep_iv;
		op.icv = icv2;
		CU_ASSERT_EQUAL(crypto_encrypt_burst(eng_mb, &op, 1), 1);
		CU_ASSERT(memcmp(sep_iv, pkt + ESP_HDR, 16) == 0);
		CU_ASSERT(memcmp(pkt2 + ESP_HDR + 16, pkt + ESP_HDR + 16,
				 len) == 0);

		/* And the packet decrypts back to the plaintext. */
		CU_ASSERT(cbc_decrypt(&s, pkt, len));
		CU_ASSERT(memcmp(pkt + ESP_HDR + 16, pt, len) == 0);
		crypto_session_wipe(&s);
	}
}

/* ---- Round trips, tamper, mixed bursts on both engines ---------------- */

struct algo {
	const char *name;
	enum crypto_cipher cipher;
	enum crypto_auth auth;
	uint16_t key_len; /* with salt for AEADs */
	uint16_t icv_len;
};

static const struct algo algos[] = {
	{ "aes128-gcm16", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 20, 16 },
	{ "aes128-gcm8", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 20, 8 },
	{ "aes256-gcm16", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 36, 16 },
	{ "aes256-gcm12", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 36, 12 },
	{ "chacha20-poly1305", CRYPTO_CIPHER_CHACHA20_POLY1305,
	  CRYPTO_AUTH_NONE, 36, 16 },
	{ "aes128-cbc-sha1-96", CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA1,
	  16, 12 },
	{ "aes128-cbc-sha256-128", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA256, 16, 16 },
	{ "aes256-cbc-sha256-128", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA256, 32, 16 },
	{ "aes256-cbc-sha384-192", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA384, 32, 24 },
	{ "aes256-cbc-sha512-256", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA512, 32, 32 },
	{ "aes128-cbc-sha512-20", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA512, 16, 20 },
	{ "null-sha256-128", CRYPTO_CIPHER_NULL, CRYPTO_AUTH_HMAC_SHA256, 0,
	  16 },
	{ "null-sha1-96", CRYPTO_CIPHER_NULL, CRYPTO_AUTH_HMAC_SHA1, 0, 12 },
};
#define N_ALGOS (sizeof(algos) / sizeof(algos[0]))

/* The parameters algo_session() builds; ck[36] and ak[64] hold the keys. */
static struct crypto_algo_params
algo_params_of(const struct algo *a, uint8_t seed, uint8_t *ck, uint8_t *ak)
{
	struct crypto_algo_params p = { 0 };
	unsigned int i;

	for (i = 0; i < 36; i++)
		ck[i] = (uint8_t)(seed * 7 + i);
	for (i = 0; i < 64; i++)
		ak[i] = (uint8_t)(seed * 13 + 3 * i);
	p.cipher = a->cipher;
	p.auth = a->auth;
	p.cipher_key = a->key_len ? ck : NULL;
	p.cipher_key_len = a->key_len;
	if (a->auth != CRYPTO_AUTH_NONE) {
		p.auth_key = ak;
		p.auth_key_len = 32;
	}
	p.icv_len = a->icv_len;
	return p;
}

static int
algo_session(struct crypto_session *s, enum crypto_engine_kind kind,
	     const struct algo *a, uint8_t seed)
{
	uint8_t ck[36], ak[64];
	struct crypto_algo_params p = algo_params_of(a, seed, ck, ak);

	return crypto_session_init(s, kind, &p);
}

/*
 * One ESP-shaped packet: hdr(8) || IV || payload || [ESN hi] || ICV.
 * With ESN, an HMAC covers the ESN high bits placed where the ICV goes
 * (RFC 4303 2.2.1, 3.3.2.1); an AEAD takes them in a 12-byte AAD.
 */
struct pkt {
	uint8_t buf[BUF_MAX];
	uint8_t aad[12];
	uint8_t rx_icv[CRYPTO_ICV_MAX];
	uint8_t plain[BUF_MAX];
	uint32_t len; /* payload */
	bool esn;
};

static void
pkt_build(struct pkt *k, struct crypto_op *op, const struct crypto_session *s,
	  uint32_t len, bool esn, uint8_t seed)
{
	uint32_t i, off = ESP_HDR + s->iv_len;

	memset(op, 0, sizeof(*op));
	memset(k->buf, 0xee, sizeof(k->buf));
	for (i = 0; i < ESP_HDR + s->iv_len + len; i++)
		k->buf[i] = (uint8_t)(seed + i * 31);
	memcpy(k->plain, k->buf, off + len);
	k->len = len;
	k->esn = esn;
	memcpy(k->aad, k->buf, ESP_HDR);
	memset(k->aad + ESP_HDR, 0xa5, 4);
	op->sess = s;
	op->data = k->buf;
	op->cipher_off = off;
	op->cipher_len = len;
	op->auth_len = off + len;
	op->iv = s->iv_len ? k->buf + ESP_HDR : NULL;
	op->icv = k->buf + off + len;
	if (s->is_aead) {
		/* RFC 4106 5: SPI || ESN hi || seq lo with ESN. */
		if (esn) {
			memcpy(k->aad, k->buf, 4);
			memset(k->aad + 4, 0xa5, 4);
			memcpy(k->aad + 8, k->buf + 4, 4);
		}
		op->aad = k->aad;
		op->aad_len = esn ? 12 : 8;
	} else if (esn) {
		memset(k->buf + off + len, 0xa5, 4);
		op->auth_len += 4;
	}
}

/* Receiver side: move the ICV aside and put the ESN high bits back. */
static void
pkt_to_rx(struct pkt *k, struct crypto_op *op)
{
	const struct crypto_session *s = op->sess;
	uint32_t icv_at = ESP_HDR + s->iv_len + k->len;

	memcpy(k->rx_icv, k->buf + icv_at, s->icv_len);
	if (!s->is_aead && k->esn)
		memset(k->buf + icv_at, 0xa5, 4);
	op->icv = k->rx_icv;
}

static const uint32_t sizes[] = { 16, 48, 64, 512, 1424 };
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void
roundtrip(enum crypto_engine_kind kind)
{
	static struct pkt pk[N_ALGOS * N_SIZES * 2];
	static struct crypto_op ops[N_ALGOS * N_SIZES * 2];
	struct crypto_session sess[N_ALGOS];
	struct crypto_engine *e = engine_of(kind);
	unsigned int a, z, esn, n = 0, i;

	for (a = 0; a < N_ALGOS; a++)
		CU_ASSERT_EQUAL_FATAL(algo_session(&sess[a], kind, &algos[a],
						   (uint8_t)a), 0);
	/* One burst mixing every session, size and ESN mode: > 2 chunks. */
	for (z = 0; z < N_SIZES; z++)
		for (esn = 0; esn < 2; esn++)
			for (a = 0; a < N_ALGOS; a++, n++)
				pkt_build(&pk[n], &ops[n], &sess[a], sizes[z],
					  esn, (uint8_t)n);

	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, (uint16_t)n), n);
	for (i = 0; i < n; i++) {
		const struct crypto_session *s = ops[i].sess;
		uint32_t off = ESP_HDR + s->iv_len;
		bool same = memcmp(pk[i].buf, pk[i].plain, off + pk[i].len) ==
			    0;

		CU_ASSERT_EQUAL(ops[i].status, CRYPTO_OK);
		/* Null engine: identity. Real ciphers change the payload. */
		if (kind == CRYPTO_ENGINE_NULL ||
		    s->cipher == CRYPTO_CIPHER_NULL) {
			CU_ASSERT(same);
		} else {
			CU_ASSERT(!same);
		}
		CU_ASSERT(memcmp(pk[i].buf, pk[i].plain, ESP_HDR) == 0);
		/* Nothing written past the ICV. */
		CU_ASSERT_EQUAL(pk[i].buf[off + pk[i].len + s->icv_len], 0xee);
		pkt_to_rx(&pk[i], &ops[i]);
	}
	CU_ASSERT_EQUAL(crypto_decrypt_burst(e, ops, (uint16_t)n), n);
	for (i = 0; i < n; i++) {
		const struct crypto_session *s = ops[i].sess;
		uint32_t off = ESP_HDR + s->iv_len;

		CU_ASSERT_EQUAL(ops[i].status, CRYPTO_OK);
		CU_ASSERT(memcmp(pk[i].buf + off, pk[i].plain + off,
				 pk[i].len) == 0);
	}
	for (a = 0; a < N_ALGOS; a++)
		crypto_session_wipe(&sess[a]);
}

static void
test_roundtrip_mb(void)
{
	roundtrip(CRYPTO_ENGINE_MB);
}

static void
test_roundtrip_null(void)
{
	roundtrip(CRYPTO_ENGINE_NULL);
}

/* Which byte to corrupt after encryption. */
enum tamper { T_HDR, T_IV, T_CT_FIRST, T_CT_LAST, T_ICV, T_AAD, T_ESN, T_MAX };

static void
tamper(enum crypto_engine_kind kind)
{
	static struct pkt pk;
	struct crypto_engine *e = engine_of(kind);
	unsigned int a, t;

	for (a = 0; a < N_ALGOS; a++) {
		struct crypto_session s;

		CU_ASSERT_EQUAL_FATAL(algo_session(&s, kind, &algos[a],
						   (uint8_t)a), 0);
		for (t = 0; t < T_MAX; t++) {
			struct crypto_op op;
			uint32_t off = ESP_HDR + s.iv_len;
			bool esn = t == T_ESN;

			/* The AEAD header is covered through the AAD. */
			if ((t == T_HDR && s.is_aead) ||
			    (t == T_AAD && !s.is_aead) ||
			    (t == T_IV && s.iv_len == 0))
				continue;
			pkt_build(&pk, &op, &s, 64, esn, (uint8_t)(a + t));
			CU_ASSERT_EQUAL(crypto_encrypt_burst(e, &op, 1), 1);
			pkt_to_rx(&pk, &op);
			switch (t) {
			case T_HDR:
				pk.buf[3] ^= 0x80;
				break;
			case T_IV:
				pk.buf[ESP_HDR + 1] ^= 0x01;
				break;
			case T_CT_FIRST:
				pk.buf[off] ^= 0x01;
				break;
			case T_CT_LAST:
				pk.buf[off + 63] ^= 0x40;
				break;
			case T_ICV:
				pk.rx_icv[s.icv_len - 1] ^= 0x01;
				break;
			case T_AAD:
				pk.aad[7] ^= 0x01;
				break;
			case T_ESN:
				/* A wrong ESN guess must fail the ICV. */
				if (s.is_aead)
					pk.aad[5] ^= 0x01;
				else
					pk.buf[off + 64 + 1] ^= 0x01;
				break;
			}
			CU_ASSERT_EQUAL(crypto_decrypt_burst(e, &op, 1), 0);
			if (op.status != CRYPTO_ICV_FAIL) {
				fprintf(stderr, "%s tamper %u: status %u\n",
					algos[a].name, t, op.status);
				CU_FAIL("tampered packet passed");
			}
		}
		crypto_session_wipe(&s);
	}
}

static void
test_tamper_mb(void)
{
	tamper(CRYPTO_ENGINE_MB);
}

static void
test_tamper_null(void)
{
	tamper(CRYPTO_ENGINE_NULL);
}

/* ---- Bad lengths and parameters ---------------------------------------- */

static void
bad_lengths(enum crypto_engine_kind kind)
{
	static struct pkt pk[12];
	struct crypto_op ops[12];
	struct crypto_session gcm, cbc, nul, other;
	struct crypto_engine *e = engine_of(kind);
	enum crypto_engine_kind okind = kind == CRYPTO_ENGINE_MB ?
		CRYPTO_ENGINE_NULL : CRYPTO_ENGINE_MB;
	unsigned int i;

	CU_ASSERT_EQUAL_FATAL(algo_session(&gcm, kind, &algos[0], 1), 0);
	CU_ASSERT_EQUAL_FATAL(algo_session(&cbc, kind, &algos[6], 2), 0);
	CU_ASSERT_EQUAL_FATAL(algo_session(&nul, kind, &algos[11], 3), 0);
	CU_ASSERT_EQUAL_FATAL(algo_session(&other, okind, &algos[0], 4), 0);

	pkt_build(&pk[0], &ops[0], &cbc, 64, false, 0);   /* good */
	pkt_build(&pk[1], &ops[1], &cbc, 64, false, 1);
	ops[1].cipher_len = 63;                           /* not a block */
	pkt_build(&pk[2], &ops[2], &gcm, 64, false, 2);   /* good */
	pkt_build(&pk[3], &ops[3], &gcm, 64, false, 3);
	ops[3].aad_len = 10;                              /* not 8/12 */
	pkt_build(&pk[4], &ops[4], &cbc, 64, false, 4);
	ops[4].auth_len = ops[4].cipher_off + 32;         /* short of ct */
	pkt_build(&pk[5], &ops[5], &cbc, 64, false, 5);
	ops[5].cipher_len = 0;                            /* empty CBC */
	pkt_build(&pk[6], &ops[6], &other, 64, false, 6); /* wrong engine */
	pkt_build(&pk[7], &ops[7], &gcm, 64, false, 7);
	ops[7].sess = NULL;
	pkt_build(&pk[8], &ops[8], &nul, 64, false, 8);
	ops[8].auth_len = 0;
	pkt_build(&pk[9], &ops[9], &gcm, 64, false, 9);
	ops[9].cipher_len = 0xfffffff0u;                  /* huge */
	pkt_build(&pk[10], &ops[10], &cbc, 64, false, 10);
	ops[10].icv = NULL;
	pkt_build(&pk[11], &ops[11], &nul, 64, false, 11); /* good */

	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, 12), 3);
	for (i = 0; i < 12; i++) {
		int good = i == 0 || i == 2 || i == 11;

		CU_ASSERT_EQUAL(ops[i].status, good ? CRYPTO_OK :
			       CRYPTO_ERROR);
		/* A refused op is left untouched. */
		if (!good && ops[i].sess != NULL && i != 9)
			CU_ASSERT(memcmp(pk[i].buf, pk[i].plain,
					 ops[i].cipher_off) == 0);
	}
	/* In place, the good ones verify against the ICV just written. */
	CU_ASSERT_EQUAL(crypto_decrypt_burst(e, ops, 12), 3);
	for (i = 0; i < 12; i++) {
		int good = i == 0 || i == 2 || i == 11;

		CU_ASSERT_EQUAL(ops[i].status, good ? CRYPTO_OK :
			       CRYPTO_ERROR);
		if (good)
			CU_ASSERT(memcmp(pk[i].buf + ops[i].cipher_off,
					 pk[i].plain + ops[i].cipher_off,
					 64) == 0);
	}
	CU_ASSERT_EQUAL(crypto_encrypt_burst(e, ops, 0), 0);

	crypto_session_wipe(&gcm);
	crypto_session_wipe(&cbc);
	crypto_session_wipe(&nul);
	crypto_session_wipe(&other);
}

static void
test_bad_lengths_mb(void)
{
	bad_lengths(CRYPTO_ENGINE_MB);
}

static void
test_bad_lengths_null(void)
{
	bad_lengths(CRYPTO_ENGINE_NULL);
}

static void
test_bad_params(void)
{
	static const uint8_t k[64];
	static const struct crypto_algo_params bad[] = {
		/* GCM without salt, AES-192, short ICV, with an HMAC */
		{ CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, k, 16, NULL, 0, 16 },
		{ CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, k, 28, NULL, 0, 16 },
		{ CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, k, 20, NULL, 0, 4 },
		{ CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, k, 20, NULL, 0, 32 },
		{ CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_HMAC_SHA256, k, 20, k, 32,
		  16 },
		/* ChaCha20: 12-byte ICV, no salt */
		{ CRYPTO_CIPHER_CHACHA20_POLY1305, CRYPTO_AUTH_NONE, k, 36, NULL,
		  0, 12 },
		{ CRYPTO_CIPHER_CHACHA20_POLY1305, CRYPTO_AUTH_NONE, k, 32, NULL,
		  0, 16 },
		/* CBC: AES-192, no HMAC, ICV 0, ICV longer than the digest */
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA1, k, 24, k, 20, 12 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_NONE, k, 16, NULL, 0, 16 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA256, k, 16, k, 32,
		  0 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA1, k, 16, k, 20, 21 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA512, k, 32, k, 64,
		  65 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA256, NULL, 16, k,
		  32, 16 },
		{ CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA256, k, 16, NULL,
		  32, 16 },
		/* NULL + NULL (RFC 4303 3.2), NULL cipher with a key */
		{ CRYPTO_CIPHER_NULL, CRYPTO_AUTH_NONE, NULL, 0, NULL, 0, 0 },
		{ CRYPTO_CIPHER_NULL, CRYPTO_AUTH_HMAC_SHA256, k, 16, k, 32, 16 },
		/* Values outside the enums */
		{ (enum crypto_cipher)42, CRYPTO_AUTH_HMAC_SHA256, k, 16, k, 32,
		  16 },
		{ CRYPTO_CIPHER_AES_CBC, (enum crypto_auth)42, k, 16, k, 32, 16 },
	};
	struct crypto_algo_params good = { CRYPTO_CIPHER_AES_CBC,
		CRYPTO_AUTH_HMAC_SHA256, k, 16, k, 32, 16 };
	struct crypto_session s;
	size_t i;
	int kind;

	for (kind = CRYPTO_ENGINE_MB; kind <= CRYPTO_ENGINE_NULL; kind++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int rc = crypto_session_init(&s, kind, &bad[i]);

			if (rc != -EINVAL) {
				fprintf(stderr, "bad params %zu kind %d: %d\n",
					i, kind, rc);
				CU_FAIL("bad parameters accepted");
			}
		}
		CU_ASSERT_EQUAL(crypto_session_init(&s, kind, NULL), -EINVAL);
		CU_ASSERT_EQUAL(crypto_session_init(&s, kind, &good), 0);
		crypto_session_wipe(&s);
	}
	CU_ASSERT_EQUAL(crypto_session_init(&s, (enum crypto_engine_kind)7,
					    &good), -EINVAL);
	CU_ASSERT_EQUAL(crypto_session_init(NULL, CRYPTO_ENGINE_MB, &good),
			-EINVAL);
	CU_ASSERT_PTR_NULL(crypto_engine_create((enum crypto_engine_kind)7));
}

static void
test_wipe(void)
{
	static const uint8_t zero[sizeof(struct crypto_session)];
	struct crypto_session s;
	const uint8_t *b = (const uint8_t *)&s;
	unsigned int a;
	size_t n, i;
	int kind;

	for (kind = CRYPTO_ENGINE_MB; kind <= CRYPTO_ENGINE_NULL; kind++) {
		for (a = 0; a < N_ALGOS; a++) {
			memset(&s, 0x5a, sizeof(s));
			CU_ASSERT_EQUAL_FATAL(algo_session(&s, kind, &algos[a],
							   9), 0);
			n = offsetof(struct crypto_session, priv) + s.priv_len;
			CU_ASSERT(memcmp(&s, zero, n) != 0);
			crypto_session_wipe(&s);
			CU_ASSERT(memcmp(&s, zero, n) == 0);
			/* Nothing past the session's own size was written:
			 * a short allocation holds it (struct gw_sa). */
			for (i = n; i < sizeof(s) && b[i] == 0x5a; i++)
				;
			CU_ASSERT_EQUAL(i, sizeof(s));
		}
	}
}

/*
 * Sessions allocated to their algorithm's size (crypto_session_size(),
 * as the gateway's SA records are) give the same bytes as full-size ones,
 * both ways; under ASan (scripts/t_asan.sh) any read past the short
 * allocation fails. The sizes are what each algorithm needs, not more.
 */
static void
test_short_sessions(void)
{
	static struct pkt full_pk, short_pk;
	struct crypto_op full_op, short_op;
	struct crypto_session full, *sh;
	uint8_t ck[36], ak[64];
	unsigned int a;
	int kind;

	for (kind = CRYPTO_ENGINE_MB; kind <= CRYPTO_ENGINE_NULL; kind++) {
		struct crypto_engine *e = engine_of((enum crypto_engine_kind)kind);

		for (a = 0; a < N_ALGOS; a++) {
			struct crypto_algo_params p =
				algo_params_of(&algos[a], (uint8_t)a, ck, ak);
			size_t psz = crypto_session_priv_size(kind, &p);
			size_t want;

			if (kind == CRYPTO_ENGINE_NULL)
				want = 64;
			else if (algos[a].cipher == CRYPTO_CIPHER_AES_GCM)
				want = 1024; /* struct gcm_key_data */
			else if (algos[a].cipher == CRYPTO_CIPHER_CHACHA20_POLY1305)
				want = 64;
			else if (algos[a].cipher == CRYPTO_CIPHER_AES_CBC)
				want = 640; /* two AES-256 schedules, two HMAC states */
			else
				want = 128; /* two HMAC states */
			CU_ASSERT_EQUAL(psz, want);
			CU_ASSERT_EQUAL(crypto_session_size(kind, &p),
					offsetof(struct crypto_session, priv) + psz);
			sh = aligned_alloc(64, crypto_session_size(kind, &p));
			CU_ASSERT_PTR_NOT_NULL_FATAL(sh);
			CU_ASSERT_EQUAL_FATAL(crypto_session_init(&full, kind, &p), 0);
			CU_ASSERT_EQUAL_FATAL(crypto_session_init(sh, kind, &p), 0);
			CU_ASSERT_EQUAL(sh->priv_len, psz);

			pkt_build(&full_pk, &full_op, &full, 1424, false, 77);
			pkt_build(&short_pk, &short_op, sh, 1424, false, 77);
			CU_ASSERT_EQUAL(crypto_encrypt_burst(e, &full_op, 1), 1);
			CU_ASSERT_EQUAL(crypto_encrypt_burst(e, &short_op, 1), 1);
			CU_ASSERT(memcmp(full_pk.buf, short_pk.buf,
					 sizeof(full_pk.buf)) == 0);
			pkt_to_rx(&short_pk, &short_op);
			CU_ASSERT_EQUAL(crypto_decrypt_burst(e, &short_op, 1), 1);
			/* The payload (CBC replaced the IV by E_K(IV)). */
			CU_ASSERT(memcmp(short_pk.buf + ESP_HDR + sh->iv_len,
					 short_pk.plain + ESP_HDR + sh->iv_len,
					 1424) == 0);
			crypto_session_wipe(&full);
			crypto_session_wipe(sh);
			free(sh);
		}
		/* Parameters init would refuse: room for anything. */
		{
			struct crypto_algo_params bad = { .cipher = (enum crypto_cipher)99 };

			CU_ASSERT_EQUAL(crypto_session_priv_size(kind, &bad),
					CRYPTO_SESSION_PRIV);
		}
	}
}

int
test_crypto_register(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "version", test_version },
		{ "aead_kat", test_aead_kat },
		{ "hmac_kat", test_hmac_kat },
		{ "cbc_kat", test_cbc_kat },
		{ "roundtrip_mb", test_roundtrip_mb },
		{ "roundtrip_null", test_roundtrip_null },
		{ "short_sessions", test_short_sessions },
		{ "tamper_mb", test_tamper_mb },
		{ "tamper_null", test_tamper_null },
		{ "bad_lengths_mb", test_bad_lengths_mb },
		{ "bad_lengths_null", test_bad_lengths_null },
		{ "bad_params", test_bad_params },
		{ "wipe", test_wipe },
	};
	CU_pSuite suite;
	size_t i;

	suite = CU_add_suite("crypto", suite_init, suite_fini);
	if (suite == NULL)
		return CU_get_error();
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			return CU_get_error();
	return 0;
}
