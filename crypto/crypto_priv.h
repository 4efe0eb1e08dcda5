/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Private to crypto/: the engine structure, the checks both backends
 * share, and the entry points of each backend. Not installed, and never
 * included from outside crypto/.
 */
#ifndef ESPD_CRYPTO_PRIV_H
#define ESPD_CRYPTO_PRIV_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "crypto/crypto.h"

/** Ops handed to the library at once; an IPsec-MB burst is at most 128. */
#define CRYPTO_CHUNK 32

/** Ops the built-in engines keep between submit and collect. */
#define CRYPTO_AFIFO 256

/** Longest byte range an op may cover; an mbuf segment is far shorter. */
#define CRYPTO_LEN_MAX 65535u

/** Bytes of the 12-byte AEAD nonce (RFC 4106 4, RFC 7634 2). */
#define CRYPTO_NONCE_LEN 12

struct IMB_MGR;
struct cdev_engine;

/**
 * One per lcore. The scratch arrays hold, for each op of the chunk in
 * flight, the computed tag (checked on decrypt, or copied when the
 * library cannot write a truncated ICV itself) and the AEAD nonce.
 */
struct crypto_engine {
	enum crypto_engine_kind kind;
	struct IMB_MGR *mgr; /**< CRYPTO_ENGINE_MB only */
	struct cdev_engine *cdev; /**< CRYPTO_ENGINE_CDEV only */
	/** The other engines' crypto_submit_burst(): done at once, kept here
	 *  in order until collected; [ahead, atail). */
	struct crypto_op *afifo[CRYPTO_AFIFO];
	uint32_t ahead, atail;
	char desc[48];
	alignas(64) uint8_t tag[CRYPTO_CHUNK][CRYPTO_ICV_MAX];
	alignas(16) uint8_t nonce[CRYPTO_CHUNK][16];
	alignas(16) uint8_t zero_iv[16];
};

/* crypto.c: shared by both backends so they accept exactly the same. */

/** Full digest size of an HMAC, 0 for CRYPTO_AUTH_NONE. */
unsigned int crypto_auth_digest_len(enum crypto_auth a);

/**
 * Validate @p p and fill the public fields of @p s (the line before
 * priv; priv is not touched, priv_len is 0).
 * @return 0 or -EINVAL.
 */
int crypto_session_params(struct crypto_session *s,
			  enum crypto_engine_kind kind,
			  const struct crypto_algo_params *p);

/* An HMAC op: the ICV covers data[0 .. auth_len), cipher range inside. */
static inline bool
hmac_op_valid(const struct crypto_op *op, uint64_t c_end)
{
	return op->auth_len != 0 && op->auth_len <= CRYPTO_LEN_MAX &&
	       c_end <= op->auth_len;
}

/** True if @p op is well formed for an engine of @p kind (inline: each
 * engine asks it of every op). */
static inline bool
crypto_op_valid(const struct crypto_op *op, enum crypto_engine_kind kind)
{
	const struct crypto_session *s = op->sess;
	uint64_t c_end;

	if (s == NULL || s->engine != kind || op->data == NULL ||
	    (op->icv == NULL && s->icv_len != 0))
		return false;
	c_end = (uint64_t)op->cipher_off + op->cipher_len;
	if (c_end > CRYPTO_LEN_MAX)
		return false;

	switch (s->cipher) {
	case CRYPTO_CIPHER_AES_GCM:
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		/* RFC 4106 5, RFC 7634 2.1: AAD is SPI || (ESN high ||) seq. */
		return op->iv != NULL && op->aad != NULL &&
		       (op->aad_len == 8 || op->aad_len == 12);
	case CRYPTO_CIPHER_AES_CBC:
		/* RFC 3602 2.4: whole blocks only; ESP never sends zero. */
		if (op->iv == NULL || op->cipher_len == 0 ||
		    op->cipher_len % 16 != 0)
			return false;
		return s->auth == CRYPTO_AUTH_NONE || hmac_op_valid(op, c_end);
	case CRYPTO_CIPHER_NULL:
		return hmac_op_valid(op, c_end);
	default:
		return false;
	}
}

/** Constant-time compare; 0 when equal. */
static inline int
crypto_icv_cmp(const uint8_t *a, const uint8_t *b, unsigned int len)
{
	uint64_t x, y, d = 0;
	unsigned int i = 0;

	/* Eight bytes at a time, no early exit: the time does not depend on
	 * where the ICVs differ. */
	for (; i + 8 <= len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	for (; i < len; i++)
		d |= (uint64_t)(a[i] ^ b[i]);
	return d != 0;
}

/** Did the user turn a fast path off with @p name=0 in the environment
 *  (ESPD_GCM_X4, ESPD_CHACHA_X16: to compare with IPsec-MB alone)? */
static inline bool
crypto_env_off(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "0") == 0;
}

/* crypto_mb.c */
/** Bytes of priv an IPsec-MB session of valid @p p uses (not rounded). */
size_t crypto_mb_priv_size(const struct crypto_algo_params *p);
int crypto_mb_session_init(struct crypto_session *s,
			   const struct crypto_algo_params *p);
int crypto_mb_engine_init(struct crypto_engine *e);
void crypto_mb_engine_fini(struct crypto_engine *e);
const char *crypto_mb_version(void);
uint16_t crypto_mb_burst(struct crypto_engine *e, struct crypto_op *ops,
			 uint16_t n, bool enc);

/* crypto_null.c */
size_t crypto_null_priv_size(const struct crypto_algo_params *p);
int crypto_null_session_init(struct crypto_session *s,
			     const struct crypto_algo_params *p);
uint16_t crypto_null_burst(struct crypto_engine *e, struct crypto_op *ops,
			   uint16_t n, bool enc);

/* crypto_cdev.c */
int crypto_cdev_algo_check(const struct crypto_session *s,
			   const struct crypto_algo_params *p);
int crypto_cdev_session_init(struct crypto_session *s,
			     const struct crypto_algo_params *p);
void crypto_cdev_session_wipe(struct crypto_session *s);
int crypto_cdev_engine_init(struct crypto_engine *e);
void crypto_cdev_engine_fini(struct crypto_engine *e);
void crypto_cdev_engine_stats(const struct crypto_engine *e,
			      struct crypto_engine_stats *st);
uint16_t crypto_cdev_burst(struct crypto_engine *e, struct crypto_op *ops,
			   uint16_t n, bool enc);
uint16_t crypto_cdev_submit(struct crypto_engine *e, struct crypto_op *ops[],
			    uint16_t n, bool enc);
uint16_t crypto_cdev_collect(struct crypto_engine *e, struct crypto_op *out[],
			     uint16_t max);
unsigned int crypto_cdev_inflight(const struct crypto_engine *e);

/** One backend's work on at most its chunk of ops; @return those OK. */
typedef uint16_t (*crypto_chunk_fn)(struct crypto_engine *e, struct crypto_op *ops,
				    unsigned int n, bool enc);

/* A burst of any length, @p chunk ops (the backend's scratch) at a time:
 * the one loop both backends' burst calls share. */
static inline uint16_t
crypto_by_chunks(crypto_chunk_fn fn, unsigned int chunk, struct crypto_engine *e,
		 struct crypto_op *ops, uint16_t n, bool enc)
{
	uint16_t ok = 0, base, m;

	for (base = 0; base < n; base += m) {
		m = (uint16_t)RTE_MIN((unsigned int)(n - base), chunk);
		ok += fn(e, ops + base, m, enc);
	}
	return ok;
}

#endif /* ESPD_CRYPTO_PRIV_H */
