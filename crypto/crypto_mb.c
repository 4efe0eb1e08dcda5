/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Intel IPsec-MB backend. Everything a packet needs is computed once
 * per SA into crypto_session.priv: AES key schedules, GCM hash-key powers,
 * HMAC inner/outer digests. Per burst, AES-CBC and NULL with HMAC go
 * through the multi-buffer job API (IMB_SUBMIT_BURST_NOCHECK after our
 * own checks, so a bad op never reaches the library), and so does
 * ChaCha20-Poly1305; AES-GCM uses the direct single-buffer calls. Both
 * choices come from bench/bench_crypto.cc (see MB_GCM_USE_JOBS below).
 *
 * On decrypt the ICV is computed together with the decryption (one pass)
 * and compared afterwards in constant time; a packet whose ICV fails is
 * dropped by the caller, so its half-decrypted payload is never used.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>

#include "crypto/crypto.h"
#include "crypto/crypto_priv.h"
#include "crypto/chacha_x16.h"
#include "crypto/gcm_x4.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x) __builtin_expect(!!(x), 1)
#endif

/*
 * Direct AEAD calls or jobs, as measured by bench_micro (BM_raw_direct
 * against BM_raw_burst, 64/512/1420 bytes, bursts of 32, AVX-512): GCM is
 * single-buffer in the job API too, so the direct call saves the job
 * bookkeeping (5-25% faster); ChaCha20-Poly1305 is multi-buffer behind
 * the job API, which wins by 15-60%. Override with -D to compare.
 */
#ifndef MB_GCM_USE_JOBS
#define MB_GCM_USE_JOBS 0
#endif
#ifndef MB_CHACHA_USE_JOBS
#define MB_CHACHA_USE_JOBS 1
#endif

/* Short packets of a session, many at a time: gcm_x4.c, chacha_x16.c. */
enum mb_lanes {
	MB_LANES_NONE,
	MB_LANES_GCM128,
	MB_LANES_GCM256,
	MB_LANES_CHACHA,
};

enum mb_path {
	MB_PATH_JOB,    /**< multi-buffer job API */
	MB_PATH_GCM,    /**< IMB_AES*_GCM_ENC/DEC */
	MB_PATH_CHACHA, /**< IMB_CHACHA20_POLY1305_* */
};

#define AES_SCHED_LEN (15 * 16) /* AES-256: 14 rounds + 1 */
#define HMAC_STATE_MAX 64       /* SHA-512 state, what ONE_BLOCK writes */
#define HMAC_BLOCK_MAX 128

/* The per-session choices, in crypto_session.eng (the public line). */
struct mb_hdr {
	uint8_t path;        /**< enum mb_path */
	uint8_t tag_direct;  /**< encrypt: the library writes icv_len bytes */
	uint8_t job_tag_len; /**< tag length asked of the library */
	uint8_t key_bytes;   /**< cipher key length for jobs */
	uint8_t lanes;       /**< enum mb_lanes: where short packets may go */
	uint8_t lanes_words; /**< only payloads of whole 4-byte words */
	uint16_t lanes_max;  /**< the longest payload that goes there */
	uint32_t cipher_mode; /**< IMB_CIPHER_MODE */
	uint32_t hash_alg;    /**< IMB_HASH_ALG */
};

/* The precomputed keys, in crypto_session.priv: only the member of the
 * session's algorithm is allocated (crypto_mb_priv_size()). */
union mb_keys {
	struct gcm_key_data gcm;
	struct {
		alignas(16) uint8_t enc[AES_SCHED_LEN];
		alignas(16) uint8_t dec[AES_SCHED_LEN];
		alignas(16) uint8_t ipad[HMAC_STATE_MAX];
		alignas(16) uint8_t opad[HMAC_STATE_MAX];
	} cbc;
	struct {
		alignas(16) uint8_t ipad[HMAC_STATE_MAX];
		alignas(16) uint8_t opad[HMAC_STATE_MAX];
	} hmac; /**< NULL cipher + HMAC */
	alignas(16) uint8_t chacha[32]; /**< at priv's start: chacha_x16_ops() */
};

_Static_assert(sizeof(struct mb_hdr) <= sizeof(((struct crypto_session *)0)->eng),
	       "the IPsec-MB choices fit crypto_session.eng");
_Static_assert(sizeof(union mb_keys) <= CRYPTO_SESSION_PRIV,
	       "IPsec-MB session state must fit crypto_session.priv");
_Static_assert(alignof(union mb_keys) <= 64,
	       "crypto_session.priv is only 64-byte aligned");
_Static_assert(CRYPTO_CHUNK <= IMB_MAX_BURST_SIZE,
	       "a chunk must fit one IPsec-MB burst");

/* Session init only: the control plane is single-threaded. */
static IMB_MGR *ctl_mgr;

static inline const struct mb_hdr *
mb_hdr(const struct crypto_session *s)
{
	return (const struct mb_hdr *)s->eng;
}

static inline const union mb_keys *
mb_keys(const struct crypto_session *s)
{
	return (const union mb_keys *)s->priv;
}

size_t
crypto_mb_priv_size(const struct crypto_algo_params *p)
{
	switch (p->cipher) {
	case CRYPTO_CIPHER_AES_GCM:
		return sizeof(struct gcm_key_data);
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		return sizeof(((union mb_keys *)0)->chacha);
	case CRYPTO_CIPHER_AES_CBC:
		return sizeof(((union mb_keys *)0)->cbc);
	case CRYPTO_CIPHER_NULL:
		return sizeof(((union mb_keys *)0)->hmac);
	default:
		return sizeof(union mb_keys);
	}
}

/* The manager's layout is ABI: the library must be the one compiled for. */
static int
mgr_new(IMB_MGR **out)
{
	IMB_ARCH arch;
	IMB_MGR *m;

	if (imb_get_version() >> 8 != IMB_VERSION_NUM >> 8)
		return -ENOTSUP;
	m = alloc_mb_mgr(0);
	if (m == NULL)
		return -ENOMEM;
	init_mb_mgr_auto(m, &arch);
	if (imb_get_errno(m) != 0 || m->used_arch == IMB_ARCH_NONE ||
	    m->used_arch == IMB_ARCH_NOAESNI) {
		/* GCM and the AES schedules below want AES-NI. */
		free_mb_mgr(m);
		return -ENOTSUP;
	}
	*out = m;
	return 0;
}

const char *
crypto_mb_version(void)
{
	static char buf[40];

	if (buf[0] == '\0')
		snprintf(buf, sizeof(buf), "intel-ipsec-mb %s",
			 imb_get_version_str());
	return buf;
}

static const char *
arch_name(uint32_t arch)
{
	switch (arch) {
	case IMB_ARCH_NOAESNI:
		return "no-aesni";
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX512:
		return "avx512";
	default:
		return "unknown";
	}
}

static enum gcm_x4_isa x4_isa(void);

int
crypto_mb_engine_init(struct crypto_engine *e)
{
	int rc;

	rc = mgr_new(&e->mgr);
	if (rc < 0)
		return rc;
	/* With espd's own short-packet paths where they run (x4_isa(),
	 * chacha_x16_allowed()), so that `stats` says which code a packet
	 * takes. */
	snprintf(e->desc, sizeof(e->desc), "ipsec-mb %s %s%s%s",
		 imb_get_version_str(), arch_name(e->mgr->used_arch),
		 x4_isa() == GCM_X4_AVX512 ? " +gcm-x4" :
		 x4_isa() == GCM_X4_AVX2   ? " +gcm-x4-avx2" : "",
		 chacha_x16_allowed() ? " +chacha-x16" : "");
	return 0;
}

void
crypto_mb_engine_fini(struct crypto_engine *e)
{
	if (e->mgr != NULL)
		free_mb_mgr(e->mgr);
	e->mgr = NULL;
}

/*
 * RFC 2104 2: K' = K, or H(K) when longer than a block, zero-padded; the
 * job API takes the compression state after one block of K' ^ ipad and
 * K' ^ opad, in the form IMB_SHA*_ONE_BLOCK writes it.
 */
static void
hmac_precompute(IMB_MGR *m, enum crypto_auth a, const uint8_t *key,
		uint16_t klen, uint8_t *ipad, uint8_t *opad)
{
	alignas(16) uint8_t ib[HMAC_BLOCK_MAX];
	alignas(16) uint8_t ob[HMAC_BLOCK_MAX];
	alignas(16) uint8_t hk[64];
	unsigned int block = (a == CRYPTO_AUTH_HMAC_SHA384 ||
			      a == CRYPTO_AUTH_HMAC_SHA512) ? 128 : 64;
	unsigned int i;

	if (klen > block) {
		switch (a) {
		case CRYPTO_AUTH_HMAC_SHA1:
			IMB_SHA1(m, key, klen, hk);
			break;
		case CRYPTO_AUTH_HMAC_SHA256:
			IMB_SHA256(m, key, klen, hk);
			break;
		case CRYPTO_AUTH_HMAC_SHA384:
			IMB_SHA384(m, key, klen, hk);
			break;
		default:
			IMB_SHA512(m, key, klen, hk);
			break;
		}
		key = hk;
		klen = (uint16_t)crypto_auth_digest_len(a);
	}
	memset(ib, 0x36, block);
	memset(ob, 0x5c, block);
	for (i = 0; i < klen; i++) {
		ib[i] ^= key[i];
		ob[i] ^= key[i];
	}
	switch (a) {
	case CRYPTO_AUTH_HMAC_SHA1:
		IMB_SHA1_ONE_BLOCK(m, ib, ipad);
		IMB_SHA1_ONE_BLOCK(m, ob, opad);
		break;
	case CRYPTO_AUTH_HMAC_SHA256:
		IMB_SHA256_ONE_BLOCK(m, ib, ipad);
		IMB_SHA256_ONE_BLOCK(m, ob, opad);
		break;
	case CRYPTO_AUTH_HMAC_SHA384:
		IMB_SHA384_ONE_BLOCK(m, ib, ipad);
		IMB_SHA384_ONE_BLOCK(m, ob, opad);
		break;
	default:
		IMB_SHA512_ONE_BLOCK(m, ib, ipad);
		IMB_SHA512_ONE_BLOCK(m, ob, opad);
		break;
	}
	explicit_bzero(ib, sizeof(ib));
	explicit_bzero(ob, sizeof(ob));
	explicit_bzero(hk, sizeof(hk));
}

/* The job API writes only the IPsec-truncated or the full digest. */
static void
hmac_job_shape(struct mb_hdr *mp, enum crypto_auth a, unsigned int icv_len)
{
	static const struct {
		uint32_t alg;
		uint8_t trunc;
		uint8_t full;
	} t[] = {
		[CRYPTO_AUTH_HMAC_SHA1] = { IMB_AUTH_HMAC_SHA_1, 12, 20 },
		[CRYPTO_AUTH_HMAC_SHA256] = { IMB_AUTH_HMAC_SHA_256, 16, 32 },
		[CRYPTO_AUTH_HMAC_SHA384] = { IMB_AUTH_HMAC_SHA_384, 24, 48 },
		[CRYPTO_AUTH_HMAC_SHA512] = { IMB_AUTH_HMAC_SHA_512, 32, 64 },
	};

	mp->hash_alg = t[a].alg;
	if (icv_len == t[a].trunc || icv_len == t[a].full) {
		mp->tag_direct = 1;
		mp->job_tag_len = (uint8_t)icv_len;
	} else {
		mp->tag_direct = 0;
		mp->job_tag_len = t[a].full;
	}
}

/*
 * What of the GCM key data every packet reads (crypto_session.hot_head,
 * hot_tail): the AES round keys, then the GHASH key powers a short
 * packet needs. The VAES code keeps 48 powers with H^1 last
 * (gcm_keys_vaes_avx512.asm: HashKey_n at 16 * (63 - n)), so a packet of
 * up to 7 blocks reads the last 128 bytes; the SSE/AVX/AVX2 code keeps
 * its 8 (and their Karatsuba halves) right after the round keys.
 */
static void
gcm_hot(struct crypto_session *s)
{
	const uint64_t vaes = IMB_FEATURE_VAES | IMB_FEATURE_VPCLMULQDQ;
	uint16_t rounds = s->key_len == 16 ? 11 * 16 : 15 * 16;

	if (ctl_mgr->used_arch == IMB_ARCH_AVX512 && (ctl_mgr->features & vaes) == vaes) {
		s->hot_head = rounds;
		s->hot_tail = 128;
	} else {
		size_t h = offsetof(struct gcm_key_data, ghash_keys) +
			   sizeof(((struct gcm_key_data *)0)->ghash_keys.sse_avx);

		s->hot_head = (uint16_t)(h < s->priv_len ? h : s->priv_len);
		s->hot_tail = 0;
	}
}

/*
 * The longest payload sent through gcm_x4() on AVX-512, and the longest
 * a group of four under several SAs takes there (longer, the four go to
 * IPsec-MB one by one): where each stops winning. Through the engine on
 * a Zen 5 (bench_micro BM_espd_encrypt/decrypt against ESPD_GCM_X4=0,
 * bursts of 32, one SA): 0.89-0.94x the time at 512 bytes, 0.99-1.01x
 * at 1420, and the gateway at 1420 B 0.93-0.97x the packets a
 * CPU-second (bench/RESULTS.md, twenty-first session). A scratch program
 * timing gcm_x4_avx512() alone against IPsec-MB's calls, four SAs:
 * 0.82x at 516 bytes, 0.93-0.98x at 768 to 1200; the engine's
 * BM_espd_encrypt_sas/sas:32 at 512 bytes 1.15x, so only short groups
 * of several SAs stay.
 */
#define MB_X4_MAX_LEN 1024
#define MB_X4_MIXED_MAX_LEN 256

/*
 * The longest payload sent through chacha_x16(). bench_micro
 * BM_espd_decrypt/algo:2 against ESPD_CHACHA_X16=0, bursts of 32: 0.22x
 * the time at 64 bytes, 0.30x at 128, 0.40x at 256, 0.60x at 512, 0.84x
 * at 768, 0.67x at 1016 (where IPsec-MB starts a second batch of sixteen
 * blocks), 0.90x at 1420, 0.88x at 1528. Past this, jumbo frames, its
 * stack (about 52 KB a slice of sixteen packets) would grow with them.
 */
#define MB_X16_MAX_LEN 1536

_Static_assert(MB_X16_MAX_LEN <= CHACHA_X16_MAX_LEN, "chacha_x16 takes them");
_Static_assert(offsetof(union mb_keys, chacha) == 0, "chacha_x16_ops() reads the key there");
_Static_assert(CRYPTO_CHUNK <= CHACHA_X16_MAX_OPS, "chacha_x16 takes a chunk");

/*
 * Which gcm_x4() may GCM sessions use? The best the CPU runs, unless
 * ESPD_GCM_X4=0 (to compare with IPsec-MB's single-buffer calls alone).
 */
static enum gcm_x4_isa
x4_isa(void)
{
	static int isa = -1;

	if (isa < 0)
		isa = crypto_env_off("ESPD_GCM_X4") ? GCM_X4_NONE : gcm_x4_cpu();
	return (enum gcm_x4_isa)isa;
}

int
crypto_mb_session_init(struct crypto_session *s,
		       const struct crypto_algo_params *p)
{
	struct mb_hdr *mp = (struct mb_hdr *)s->eng;
	union mb_keys *k = (union mb_keys *)s->priv;
	int rc;

	if (ctl_mgr == NULL) {
		rc = mgr_new(&ctl_mgr);
		if (rc < 0)
			return rc;
	}

	/*
	 * The control manager picks the same code path as every lcore's
	 * (init_mb_mgr_auto on one machine), which matters for GCM: the
	 * layout of the hash-key powers differs between SSE/AVX and VAES.
	 */
	switch (p->cipher) {
	case CRYPTO_CIPHER_AES_GCM:
		mp->path = MB_GCM_USE_JOBS ? MB_PATH_JOB : MB_PATH_GCM;
		mp->cipher_mode = IMB_CIPHER_GCM;
		mp->hash_alg = IMB_AUTH_AES_GMAC;
		mp->key_bytes = s->key_len;
		mp->tag_direct = 1;
		mp->job_tag_len = s->icv_len;
		if (s->key_len == 16)
			IMB_AES128_GCM_PRE(ctl_mgr, p->cipher_key, &k->gcm);
		else
			IMB_AES256_GCM_PRE(ctl_mgr, p->cipher_key, &k->gcm);
		gcm_hot(s);
		/* The AVX2 code moves whole 4-byte words: ESP's AAD (8 or
		 * 12 bytes) and ICVs (8, 12, 16) are; lanes_op() checks
		 * each payload. */
		if (x4_isa() != GCM_X4_NONE && s->icv_len % 4 == 0 &&
		    gcm_x4_key_ok(x4_isa(), (const uint8_t *)&k->gcm, s->key_len)) {
			mp->lanes = s->key_len == 16 ? MB_LANES_GCM128 : MB_LANES_GCM256;
			/* The AVX2 code (Zen 3) takes every length it can, of
			 * both key sizes (bench_micro BM_espd_encrypt/decrypt
			 * against ESPD_GCM_X4=0, bursts of 32, min of 18-30
			 * runs): AES-128 in 0.59-0.62x the time at 64 bytes,
			 * 0.67-0.76x at 512 and 1420; AES-256 in 0.55-0.57x
			 * and 0.58-0.72x. AES-256 past six blocks went there
			 * only once the long path's key stream was stitched
			 * with its multiplies: before, 0.93-1.11x. */
			mp->lanes_max = x4_isa() == GCM_X4_AVX512 ? MB_X4_MAX_LEN : GCM_X4_MAX_LEN;
			mp->lanes_words = x4_isa() == GCM_X4_AVX2;
		}
		break;
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		mp->path = MB_CHACHA_USE_JOBS ? MB_PATH_JOB : MB_PATH_CHACHA;
		mp->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
		mp->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
		mp->key_bytes = 32;
		mp->tag_direct = 1;
		mp->job_tag_len = s->icv_len;
		memcpy(k->chacha, p->cipher_key, 32);
		if (chacha_x16_allowed()) {
			mp->lanes = MB_LANES_CHACHA;
			mp->lanes_max = MB_X16_MAX_LEN;
		}
		break;
	case CRYPTO_CIPHER_AES_CBC:
	case CRYPTO_CIPHER_NULL:
		mp->path = MB_PATH_JOB;
		if (p->cipher == CRYPTO_CIPHER_AES_CBC) {
			mp->cipher_mode = IMB_CIPHER_CBC;
			mp->key_bytes = s->key_len;
			if (s->key_len == 16)
				IMB_AES_KEYEXP_128(ctl_mgr, p->cipher_key,
						   k->cbc.enc, k->cbc.dec);
			else
				IMB_AES_KEYEXP_256(ctl_mgr, p->cipher_key,
						   k->cbc.enc, k->cbc.dec);
		} else {
			mp->cipher_mode = IMB_CIPHER_NULL;
			mp->key_bytes = 16;
		}
		if (p->auth == CRYPTO_AUTH_NONE) {
			/* Encryption only (RFC 3602's test packets). */
			mp->hash_alg = IMB_AUTH_NULL;
			mp->tag_direct = 1;
			mp->job_tag_len = 0;
			break;
		}
		hmac_job_shape(mp, p->auth, s->icv_len);
		if (p->cipher == CRYPTO_CIPHER_AES_CBC)
			hmac_precompute(ctl_mgr, p->auth, p->auth_key,
					p->auth_key_len, k->cbc.ipad,
					k->cbc.opad);
		else
			hmac_precompute(ctl_mgr, p->auth, p->auth_key,
					p->auth_key_len, k->hmac.ipad,
					k->hmac.opad);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* RFC 4106 4, RFC 7634 2: nonce = salt || explicit IV, in one 16-byte
 * store: the library's load of the 12 bytes right after it forwards
 * from it, where after two smaller stores it waits until they reach the
 * cache (about 12 ns). */
static inline uint8_t *
aead_nonce(struct crypto_engine *e, unsigned int slot,
	   const struct crypto_op *op)
{
	uint8_t *nonce = e->nonce[slot];

	_mm_store_si128((__m128i *)nonce, gcm_x4_salt_iv(op->sess->salt, op->iv, 0));
	return nonce;
}

static inline int
aead_finish(struct crypto_op *op, const uint8_t *tag, bool enc)
{
	if (!enc && crypto_icv_cmp(tag, op->icv, op->sess->icv_len)) {
		op->status = CRYPTO_ICV_FAIL;
		return 0;
	}
	op->status = CRYPTO_OK;
	return 1;
}

static int
gcm_one(struct crypto_engine *e, unsigned int slot, struct crypto_op *op,
	bool enc)
{
	const struct crypto_session *s = op->sess;
	const struct gcm_key_data *k = &mb_keys(s)->gcm;
	struct gcm_context_data ctx;
	const uint8_t *nonce = e->nonce[slot]; /* built by mb_chunk */
	uint8_t *p = op->data + op->cipher_off;
	uint8_t *tag = enc ? op->icv : e->tag[slot];
	IMB_MGR *m = e->mgr;

	if (enc && s->key_len == 16)
		IMB_AES128_GCM_ENC(m, k, &ctx, p, p, op->cipher_len, nonce,
				   op->aad, op->aad_len, tag, s->icv_len);
	else if (enc)
		IMB_AES256_GCM_ENC(m, k, &ctx, p, p, op->cipher_len, nonce,
				   op->aad, op->aad_len, tag, s->icv_len);
	else if (s->key_len == 16)
		IMB_AES128_GCM_DEC(m, k, &ctx, p, p, op->cipher_len, nonce,
				   op->aad, op->aad_len, tag, s->icv_len);
	else
		IMB_AES256_GCM_DEC(m, k, &ctx, p, p, op->cipher_len, nonce,
				   op->aad, op->aad_len, tag, s->icv_len);
	return aead_finish(op, tag, enc);
}

static int
chacha_one(struct crypto_engine *e, unsigned int slot, struct crypto_op *op,
	   bool enc)
{
	const uint8_t *k = mb_keys(op->sess)->chacha;
	struct chacha20_poly1305_context_data ctx;
	const uint8_t *nonce = e->nonce[slot]; /* built by mb_chunk */
	uint8_t *p = op->data + op->cipher_off;
	uint8_t *tag = enc ? op->icv : e->tag[slot];
	IMB_MGR *m = e->mgr;

	IMB_CHACHA20_POLY1305_INIT(m, k, &ctx, nonce, op->aad, op->aad_len);
	if (enc) {
		IMB_CHACHA20_POLY1305_ENC_UPDATE(m, k, &ctx, p, p,
						 op->cipher_len);
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(m, &ctx, tag, 16);
	} else {
		IMB_CHACHA20_POLY1305_DEC_UPDATE(m, k, &ctx, p, p,
						 op->cipher_len);
		IMB_CHACHA20_POLY1305_DEC_FINALIZE(m, &ctx, tag, 16);
	}
	return aead_finish(op, tag, enc);
}

/* True when the IV sits right before the ciphertext, as ESP lays it out. */
static inline bool
iv_adjacent(const struct crypto_op *op)
{
	return op->cipher_off >= 16 &&
	       op->iv + 16 == op->data + op->cipher_off;
}

/*
 * NIST SP 800-38A appendix C: IV' = E_K(IV), done here as one CBC block
 * under a zero IV. Only for the rare op whose IV is not adjacent to its
 * ciphertext; the common case folds this block into the packet's job.
 */
static void
cbc_iv_encrypt(struct crypto_engine *e, const struct crypto_session *s,
	       uint8_t *iv)
{
	const struct mb_hdr *mp = mb_hdr(s);
	IMB_JOB job;

	memset(&job, 0, sizeof(job));
	job.cipher_mode = IMB_CIPHER_CBC;
	job.cipher_direction = IMB_DIR_ENCRYPT;
	job.chain_order = IMB_ORDER_CIPHER_HASH;
	job.hash_alg = IMB_AUTH_NULL;
	job.enc_keys = mb_keys(s)->cbc.enc;
	job.dec_keys = mb_keys(s)->cbc.dec;
	job.key_len_in_bytes = mp->key_bytes;
	job.src = iv;
	job.dst = iv;
	job.msg_len_to_cipher_in_bytes = 16;
	job.iv = e->zero_iv;
	job.iv_len_in_bytes = 16;
	IMB_SUBMIT_CIPHER_BURST_NOCHECK(e->mgr, &job, 1, IMB_CIPHER_CBC,
					IMB_DIR_ENCRYPT,
					(IMB_KEY_SIZE_BYTES)mp->key_bytes);
}

static void
fill_job(struct crypto_engine *e, IMB_JOB *job, unsigned int slot,
	 struct crypto_op *op, bool enc)
{
	const struct mb_hdr *mp = mb_hdr(op->sess);
	const union mb_keys *k = mb_keys(op->sess);

	job->user_data = op;
	job->user_data2 = (void *)(uintptr_t)slot;
	job->cipher_mode = (IMB_CIPHER_MODE)mp->cipher_mode;
	job->hash_alg = (IMB_HASH_ALG)mp->hash_alg;
	job->key_len_in_bytes = mp->key_bytes;
	job->src = op->data;
	job->dst = op->data + op->cipher_off;
	job->cipher_start_src_offset_in_bytes = op->cipher_off;
	job->msg_len_to_cipher_in_bytes = op->cipher_len;
	/* RFC 4303 3.3.2, 3.4.4: encrypt then MAC; check MAC, decrypt. */
	if (enc) {
		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
	} else {
		job->cipher_direction = IMB_DIR_DECRYPT;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
	}
	job->auth_tag_output = (enc && mp->tag_direct) ? op->icv :
			       e->tag[slot];
	job->auth_tag_output_len_in_bytes = mp->job_tag_len;

	switch (mp->cipher_mode) {
	case IMB_CIPHER_GCM:
		job->enc_keys = &k->gcm;
		job->dec_keys = &k->gcm;
		job->iv = e->nonce[slot]; /* built by mb_chunk */
		job->iv_len_in_bytes = CRYPTO_NONCE_LEN;
		job->u.GCM.aad = op->aad;
		job->u.GCM.aad_len_in_bytes = op->aad_len;
		job->hash_start_src_offset_in_bytes = op->cipher_off;
		job->msg_len_to_hash_in_bytes = op->cipher_len;
		return;
	case IMB_CIPHER_CHACHA20_POLY1305:
		job->enc_keys = k->chacha;
		job->dec_keys = k->chacha;
		job->iv = e->nonce[slot]; /* built by mb_chunk */
		job->iv_len_in_bytes = CRYPTO_NONCE_LEN;
		job->u.CHACHA20_POLY1305.aad = op->aad;
		job->u.CHACHA20_POLY1305.aad_len_in_bytes = op->aad_len;
		job->hash_start_src_offset_in_bytes = op->cipher_off;
		job->msg_len_to_hash_in_bytes = op->cipher_len;
		return;
	default:
		break;
	}

	/*
	 * HMAC over data[0 .. auth_len). The tag is written only once the
	 * outer hash is done, so on encrypt it may overlap the ESN high bits
	 * the caller put at the end of the covered range (RFC 4303 2.2.1).
	 */
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes =
		mp->hash_alg == IMB_AUTH_NULL ? 0 : op->auth_len;
	if (mp->cipher_mode == IMB_CIPHER_NULL) {
		/* Only the HMAC states are allocated (crypto_mb_priv_size);
		 * the NULL cipher reads no key. */
		job->enc_keys = k;
		job->dec_keys = k;
		job->u.HMAC._hashed_auth_key_xor_ipad = k->hmac.ipad;
		job->u.HMAC._hashed_auth_key_xor_opad = k->hmac.opad;
		job->iv = NULL;
		job->iv_len_in_bytes = 0;
		return;
	}
	job->enc_keys = k->cbc.enc;
	job->dec_keys = k->cbc.dec;
	job->u.HMAC._hashed_auth_key_xor_ipad = k->cbc.ipad;
	job->u.HMAC._hashed_auth_key_xor_opad = k->cbc.opad;
	job->iv_len_in_bytes = 16;
	if (enc && iv_adjacent(op)) {
		/*
		 * CBC under a zero IV over IV || plaintext gives E_K(IV) ||
		 * CBC_{E_K(IV)}(plaintext): the SP 800-38A IV and the
		 * ciphertext in one pass, written where ESP wants them.
		 */
		job->iv = e->zero_iv;
		job->dst = op->iv;
		job->cipher_start_src_offset_in_bytes = op->cipher_off - 16;
		job->msg_len_to_cipher_in_bytes = op->cipher_len + 16;
	} else {
		/* Decrypt, or encrypt after cbc_iv_encrypt() already ran. */
		job->iv = op->iv;
	}
}

static int
job_finish(struct crypto_engine *e, const IMB_JOB *job, bool enc)
{
	struct crypto_op *op = job->user_data;
	unsigned int slot = (unsigned int)(uintptr_t)job->user_data2;
	const struct crypto_session *s = op->sess;

	if (unlikely(job->status != IMB_STATUS_COMPLETED)) {
		op->status = CRYPTO_ERROR;
		return 0;
	}
	if (s->icv_len == 0) {
		/* encryption only: nothing to write or check */
	} else if (enc) {
		if (!mb_hdr(s)->tag_direct)
			memcpy(op->icv, e->tag[slot], s->icv_len);
	} else if (crypto_icv_cmp(e->tag[slot], op->icv, s->icv_len)) {
		op->status = CRYPTO_ICV_FAIL;
		return 0;
	}
	op->status = CRYPTO_OK;
	return 1;
}


/* Does @p op (valid) go through gcm_x4() or chacha_x16()? (Both build
 * their own nonces.) */
static inline bool
lanes_op(const struct crypto_op *op)
{
	const struct mb_hdr *mp = mb_hdr(op->sess);

	/* crypto_op_valid() already held the AAD to 8 or 12 bytes. */
	return mp->lanes != MB_LANES_NONE && op->cipher_len <= mp->lanes_max &&
	       (!mp->lanes_words || (op->cipher_len & 3) == 0);
}

/*
 * Put @p idx[0 .. n) in order of payload length (insertion sort: a
 * burst of one size is one pass). gcm_x4() costs about four of its
 * group's longest payload, so like lengths go together.
 */
static void
by_length(const struct crypto_op *ops, uint8_t idx[], unsigned int n)
{
	unsigned int i, j;

	for (i = 1; i < n; i++) {
		uint8_t x = idx[i];

		for (j = i; j > 0 && ops[idx[j - 1]].cipher_len > ops[x].cipher_len; j--)
			idx[j] = idx[j - 1];
		idx[j] = x;
	}
}

/* Are the @p n ops @p idx[] of @p ops all under one SA? */
static inline bool
one_sa(const struct crypto_op *ops, const uint8_t idx[], unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (ops[idx[i]].sess != ops[idx[0]].sess)
			return false;
	return true;
}

/* The @p n AES-GCM ops @p idx[] of @p ops through IPsec-MB one by one.
 * @return how many verified. */
static uint16_t
gcm_group_one(struct crypto_engine *e, struct crypto_op *ops, const uint8_t idx[],
	      unsigned int n, bool enc)
{
	unsigned int i;
	uint16_t ok = 0;

	for (i = 0; i < n; i++) {
		aead_nonce(e, idx[i], &ops[idx[i]]);
		ok += gcm_one(e, idx[i], &ops[idx[i]], enc);
	}
	return ok;
}

/* Up to four AES-GCM ops of one key size on their way to gcm_x4(). */
struct x4_group {
	struct gcm_x4_op l[4];
	uint8_t idx[4]; /**< lane p is ops[idx[p]] */
	unsigned int k; /**< lanes in use */
};

/* Add @p ops[i] to @p q (not full). */
static inline void
x4_add(struct x4_group *q, const struct crypto_op *ops, unsigned int i)
{
	const struct crypto_op *op = &ops[i];
	const struct crypto_session *s = op->sess;
	struct gcm_x4_op *l = &q->l[q->k];

	l->kd = (const uint8_t *)&mb_keys(s)->gcm;
	l->data = op->data + op->cipher_off;
	l->len = op->cipher_len;
	l->aad = op->aad;
	l->aad_len = op->aad_len;
	l->salt = s->salt;
	l->iv = op->iv;
	l->icv = op->icv;
	l->icv_len = s->icv_len;
	q->idx[q->k++] = (uint8_t)i;
}

/* @p q's ops (one to four, keys of @p key_len bytes) through gcm_x4(),
 * which writes or checks their ICVs; the lanes past them idle. Empties
 * @p q. @return how many verified. */
static uint16_t
x4_run(struct crypto_op *ops, struct x4_group *q, unsigned int key_len, bool enc)
{
	static uint8_t idle[16]; /* an idle lane's pointers: never read or written */
	unsigned int p, bad;
	uint16_t ok = 0;

	for (p = q->k; p < 4; p++) {
		q->l[p] = q->l[0];
		q->l[p].len = q->l[p].aad_len = q->l[p].icv_len = 0;
		q->l[p].data = q->l[p].icv = idle;
		q->l[p].aad = idle;
	}
	bad = gcm_x4(x4_isa(), q->l, key_len, enc);
	for (p = 0; p < q->k; p++) {
		struct crypto_op *op = &ops[q->idx[p]];

		op->status = bad & (1u << p) ? CRYPTO_ICV_FAIL : CRYPTO_OK;
		ok += !(bad & (1u << p));
	}
	q->k = 0;
	return ok;
}

/*
 * The AES-GCM ops @p idx[0 .. n) of @p ops for gcm_x4() that mb_chunk()
 * did not group as they came (all with keys of @p key_len bytes: on
 * AVX-512 the long ones, on AVX2 all), in order of length, four at a
 * time; a last group of fewer has idle lanes. @return how many verified.
 */
static uint16_t
gcm_x4_ops(struct crypto_engine *e, struct crypto_op *ops, uint8_t idx[], unsigned int n,
	   unsigned int key_len, bool enc)
{
	struct x4_group q; /* (its lanes are written before they are read) */
	const bool avx512 = x4_isa() == GCM_X4_AVX512;
	unsigned int g, p, k;
	uint16_t ok = 0;

	q.k = 0;
	by_length(ops, idx, n);
	for (g = 0; g < n; g += k) {
		k = n - g < 4 ? n - g : 4;
		/* On AVX-512 (x4_long()) they go to IPsec-MB one by one
		 * where the four would not win: fewer than four, lengths
		 * apart (the shortest under 3/4 of the longest), or several
		 * SAs past MB_X4_MIXED_MAX_LEN. */
		if (avx512) {
			uint32_t shortest = ops[idx[g]].cipher_len;
			uint32_t longest = ops[idx[g + k - 1]].cipher_len;

			if (k < 4 || 4 * shortest < 3 * longest ||
			    (longest > MB_X4_MIXED_MAX_LEN && !one_sa(ops, &idx[g], k))) {
				ok += gcm_group_one(e, ops, &idx[g], k, enc);
				continue;
			}
		}
		for (p = 0; p < k; p++)
			x4_add(&q, ops, idx[g + p]);
		ok += x4_run(ops, &q, key_len, enc);
	}
	return ok;
}

static uint16_t
mb_chunk(struct crypto_engine *e, struct crypto_op *ops, unsigned int n,
	 bool enc)
{
	IMB_JOB *jobs[CRYPTO_CHUNK];
	uint8_t slot[CRYPTO_CHUNK];
	uint8_t x128[CRYPTO_CHUNK], x256[CRYPTO_CHUNK]; /* other GCM ops for the lanes, by key size */
	uint8_t xc[CRYPTO_CHUNK]; /* short ChaCha20-Poly1305 ops */
	struct x4_group q[2]; /* AES-128, AES-256 (lanes written before read) */
	enum { OP_BAD, OP_ONE, OP_LANES } route[CRYPTO_CHUNK]; /* OP_ONE: alone or as a job */
	const bool short_now = x4_isa() == GCM_X4_AVX512;
	unsigned int i, nj = 0, done, n128 = 0, n256 = 0, nc = 0, nlanes = 0;
	uint16_t ok = 0;

	q[0].k = q[1].k = 0;
	/* Validate, sort out the GCM and ChaCha20-Poly1305 ops for the
	 * lanes (gcm_x4() and chacha_x16() build their nonces), and build
	 * every other AEAD nonce (aead_nonce()). On AVX-512 the short GCM
	 * ops go four at a time as they come (x4_short() takes any mix of
	 * them): no list, no second pass. */
	for (i = 0; i < n; i++) {
		struct crypto_op *op = &ops[i];

		route[i] = crypto_op_valid(op, CRYPTO_ENGINE_MB) ? OP_ONE : OP_BAD;
		if (unlikely(route[i] == OP_BAD))
			continue;
		if (lanes_op(op)) {
			unsigned int lanes = mb_hdr(op->sess)->lanes;

			route[i] = OP_LANES;
			nlanes++;
			if (lanes == MB_LANES_CHACHA) {
				xc[nc++] = (uint8_t)i;
			} else if (short_now && op->cipher_len <= GCM_X4_SHORT_LEN) {
				struct x4_group *g = &q[lanes == MB_LANES_GCM256];

				x4_add(g, ops, i);
				if (g->k == 4)
					ok += x4_run(ops, g, lanes == MB_LANES_GCM256 ? 32 : 16, enc);
			} else if (lanes == MB_LANES_GCM128) {
				x128[n128++] = (uint8_t)i;
			} else {
				x256[n256++] = (uint8_t)i;
			}
		} else if (op->sess->is_aead) {
			aead_nonce(e, i, op);
		}
	}
	if (q[0].k != 0)
		ok += x4_run(ops, &q[0], 16, enc);
	if (q[1].k != 0)
		ok += x4_run(ops, &q[1], 32, enc);
	/* A chunk all for the lanes (one SA's short packets) has none. */
	for (i = nlanes == n ? n : 0; i < n; i++) {
		struct crypto_op *op = &ops[i];
		const struct mb_hdr *mp;

		if (route[i] != OP_ONE) {
			if (unlikely(route[i] == OP_BAD))
				op->status = CRYPTO_ERROR;
			continue;
		}
		mp = mb_hdr(op->sess);
		switch (mp->path) {
		case MB_PATH_GCM:
			ok += gcm_one(e, i, op, enc);
			break;
		case MB_PATH_CHACHA:
			ok += chacha_one(e, i, op, enc);
			break;
		default:
			if (enc && mp->cipher_mode == IMB_CIPHER_CBC &&
			    unlikely(!iv_adjacent(op)))
				cbc_iv_encrypt(e, op->sess, op->iv);
			/* Stays an error if the library never hands it back. */
			op->status = CRYPTO_ERROR;
			slot[nj++] = (uint8_t)i;
			break;
		}
	}
	if (n128 != 0)
		ok += gcm_x4_ops(e, ops, x128, n128, 16, enc);
	if (n256 != 0)
		ok += gcm_x4_ops(e, ops, x256, n256, 32, enc);
	if (nc != 0)
		ok += chacha_x16_ops(ops, xc, nc, enc);
	if (nj == 0)
		return ok;

	/* The queue is drained after every chunk, so all nj slots are free. */
	if (unlikely(IMB_GET_NEXT_BURST(e->mgr, nj, jobs) < nj))
		return ok;
	for (i = 0; i < nj; i++)
		fill_job(e, jobs[i], slot[i], &ops[slot[i]], enc);
	done = IMB_SUBMIT_BURST_NOCHECK(e->mgr, nj, jobs);
	if (done < nj)
		done += IMB_FLUSH_BURST(e->mgr, nj - done, jobs + done);
	for (i = 0; i < done; i++)
		ok += job_finish(e, jobs[i], enc);
	return ok;
}

uint16_t
crypto_mb_burst(struct crypto_engine *e, struct crypto_op *ops, uint16_t n,
		bool enc)
{
	return crypto_by_chunks(mb_chunk, CRYPTO_CHUNK, e, ops, n, enc);
}
