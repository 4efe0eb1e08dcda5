/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend-independent half of the crypto engine: parameter and length
 * checks (one copy, so the null engine refuses exactly what IPsec-MB
 * refuses), session wipe, and dispatch to a backend by engine kind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_priv.h"

_Static_assert(CRYPTO_ICV_MAX <= UINT8_MAX, "icv_len is a uint8_t");

unsigned int
crypto_auth_digest_len(enum crypto_auth a)
{
	switch (a) {
	case CRYPTO_AUTH_HMAC_SHA1:
		return 20;
	case CRYPTO_AUTH_HMAC_SHA256:
		return 32;
	case CRYPTO_AUTH_HMAC_SHA384:
		return 48;
	case CRYPTO_AUTH_HMAC_SHA512:
		return 64;
	default:
		return 0;
	}
}

static int
check_hmac(const struct crypto_algo_params *p)
{
	unsigned int dlen = crypto_auth_digest_len(p->auth);

	if (dlen == 0)
		return -EINVAL;
	/* RFC 2104 5: a truncated HMAC is a prefix of the full one. */
	if (p->icv_len == 0 || p->icv_len > dlen)
		return -EINVAL;
	if (p->auth_key == NULL && p->auth_key_len != 0)
		return -EINVAL;
	return 0;
}

int
crypto_session_params(struct crypto_session *s, enum crypto_engine_kind kind,
		      const struct crypto_algo_params *p)
{
	if (s == NULL || p == NULL)
		return -EINVAL;
	if (kind != CRYPTO_ENGINE_MB && kind != CRYPTO_ENGINE_NULL &&
	    kind != CRYPTO_ENGINE_CDEV)
		return -EINVAL;
	/* The public line only: priv may be allocated short. */
	memset(s, 0, offsetof(struct crypto_session, priv));
	if (p->cipher_key == NULL && p->cipher_key_len != 0)
		return -EINVAL;

	switch (p->cipher) {
	case CRYPTO_CIPHER_AES_GCM:
		/* RFC 4106 8.1: 16 or 32 key bytes, then the 4-byte salt. */
		if (p->cipher_key_len != 16 + 4 && p->cipher_key_len != 32 + 4)
			return -EINVAL;
		/* RFC 4106 3: ICV of 8, 12 or 16 bytes. */
		if (p->icv_len != 8 && p->icv_len != 12 && p->icv_len != 16)
			return -EINVAL;
		break;
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		/* RFC 7634 2, 4: 32 key bytes + 4 salt; a 16-byte tag. */
		if (p->cipher_key_len != 32 + 4 || p->icv_len != 16)
			return -EINVAL;
		break;
	case CRYPTO_CIPHER_AES_CBC:
		if (p->cipher_key_len != 16 && p->cipher_key_len != 32)
			return -EINVAL;
		/* Encryption-only ESP (RFC 4303 3.2 allows it, RFC 8221
		 * deprecates it): reachable from this API alone, for RFC
		 * 3602's ESP test packets; the command grammar never asks. */
		if (p->auth == CRYPTO_AUTH_NONE && p->icv_len == 0 &&
		    p->auth_key_len == 0)
			break;
		if (check_hmac(p) < 0)
			return -EINVAL;
		break;
	case CRYPTO_CIPHER_NULL:
		/* RFC 4303 3.2: NULL cipher needs an integrity algorithm. */
		if (p->cipher_key_len != 0 || check_hmac(p) < 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	s->engine = (uint8_t)kind;
	s->cipher = (uint8_t)p->cipher;
	s->auth = (uint8_t)p->auth;
	s->icv_len = (uint8_t)p->icv_len;
	s->block_size = 4;
	if (p->cipher == CRYPTO_CIPHER_AES_GCM ||
	    p->cipher == CRYPTO_CIPHER_CHACHA20_POLY1305) {
		if (p->auth != CRYPTO_AUTH_NONE || p->auth_key_len != 0)
			return -EINVAL;
		s->is_aead = 1;
		s->iv_len = 8;
		s->key_len = (uint8_t)(p->cipher_key_len - 4);
		memcpy(s->salt, p->cipher_key + s->key_len, sizeof(s->salt));
	} else if (p->cipher == CRYPTO_CIPHER_AES_CBC) {
		s->iv_len = 16;
		s->block_size = 16;
		s->key_len = (uint8_t)p->cipher_key_len;
	}
	return 0;
}

const char *
crypto_version(void)
{
	return crypto_mb_version();
}

int
crypto_algo_check(enum crypto_engine_kind kind, const struct crypto_algo_params *p)
{
	struct crypto_session s;
	int rc = crypto_session_params(&s, kind, p);

	if (rc == 0 && kind == CRYPTO_ENGINE_CDEV)
		rc = crypto_cdev_algo_check(&s, p);
	/* it holds the AEAD salt */
	explicit_bzero(&s, offsetof(struct crypto_session, priv));
	return rc;
}

size_t
crypto_session_priv_size(enum crypto_engine_kind kind,
			 const struct crypto_algo_params *p)
{
	struct crypto_session s;
	size_t n;

	if (crypto_session_params(&s, kind, p) < 0)
		return CRYPTO_SESSION_PRIV;
	explicit_bzero(&s, offsetof(struct crypto_session, priv)); /* the salt */
	/* The cryptodev keeps its keys in the device's own sessions; a
	 * pointer to them sits in crypto_session.eng. */
	n = kind == CRYPTO_ENGINE_MB ? crypto_mb_priv_size(p) :
	    kind == CRYPTO_ENGINE_CDEV ? 0 : crypto_null_priv_size(p);
	return (n + 63) & ~(size_t)63;
}

int
crypto_session_init(struct crypto_session *s, enum crypto_engine_kind kind,
		    const struct crypto_algo_params *p)
{
	int rc;

	rc = crypto_session_params(s, kind, p);
	if (rc < 0)
		goto err_wipe;
	s->priv_len = (uint16_t)crypto_session_priv_size(kind, p);
	s->hot_head = s->priv_len;
	s->hot_tail = 0;
	memset(s->priv, 0, s->priv_len);
	if (kind == CRYPTO_ENGINE_MB)
		rc = crypto_mb_session_init(s, p);
	else if (kind == CRYPTO_ENGINE_CDEV)
		rc = crypto_cdev_session_init(s, p);
	else
		rc = crypto_null_session_init(s, p);
	if (rc < 0)
		goto err_wipe;
	return 0;

err_wipe:
	if (s != NULL)
		crypto_session_wipe(s);
	return rc;
}

void
crypto_session_wipe(struct crypto_session *s)
{
	size_t n;

	if (s == NULL)
		return;
	if (s->engine == CRYPTO_ENGINE_CDEV)
		crypto_cdev_session_wipe(s);
	n = s->priv_len <= CRYPTO_SESSION_PRIV ? s->priv_len : CRYPTO_SESSION_PRIV;
	explicit_bzero(s, offsetof(struct crypto_session, priv) + n);
}

struct crypto_engine *
crypto_engine_create(enum crypto_engine_kind kind)
{
	struct crypto_engine *e;
	int rc;

	if (kind != CRYPTO_ENGINE_MB && kind != CRYPTO_ENGINE_NULL &&
	    kind != CRYPTO_ENGINE_CDEV) {
		errno = EINVAL;
		return NULL;
	}
	e = aligned_alloc(64, sizeof(*e));
	if (e == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (kind == CRYPTO_ENGINE_MB) {
		rc = crypto_mb_engine_init(e);
		if (rc < 0)
			goto err_free;
	} else if (kind == CRYPTO_ENGINE_CDEV) {
		rc = crypto_cdev_engine_init(e);
		if (rc < 0)
			goto err_free;
	} else {
		strcpy(e->desc, "null");
	}
	return e;

err_free:
	free(e);
	errno = -rc;
	return NULL;
}

void
crypto_engine_free(struct crypto_engine *e)
{
	if (e == NULL)
		return;
	if (e->kind == CRYPTO_ENGINE_MB)
		crypto_mb_engine_fini(e);
	else if (e->kind == CRYPTO_ENGINE_CDEV)
		crypto_cdev_engine_fini(e);
	/* The tag scratch may hold ICVs of keys about to be wiped. */
	explicit_bzero(e, sizeof(*e));
	free(e);
}

const char *
crypto_engine_describe(const struct crypto_engine *e)
{
	return e != NULL ? e->desc : "none";
}

void
crypto_engine_stats(const struct crypto_engine *e,
		    struct crypto_engine_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (e != NULL && e->kind == CRYPTO_ENGINE_CDEV)
		crypto_cdev_engine_stats(e, st);
}

uint16_t
crypto_encrypt_burst(struct crypto_engine *e, struct crypto_op *ops,
		     uint16_t n)
{
	if (n == 0)
		return 0;
	if (e->kind == CRYPTO_ENGINE_MB)
		return crypto_mb_burst(e, ops, n, true);
	if (e->kind == CRYPTO_ENGINE_CDEV)
		return crypto_cdev_burst(e, ops, n, true);
	return crypto_null_burst(e, ops, n, true);
}

uint16_t
crypto_decrypt_burst(struct crypto_engine *e, struct crypto_op *ops,
		     uint16_t n)
{
	if (n == 0)
		return 0;
	if (e->kind == CRYPTO_ENGINE_MB)
		return crypto_mb_burst(e, ops, n, false);
	if (e->kind == CRYPTO_ENGINE_CDEV)
		return crypto_cdev_burst(e, ops, n, false);
	return crypto_null_burst(e, ops, n, false);
}

/* The built-in engines compute at once; submit/collect only keep order,
 * so a caller has one code path for every engine. */
uint16_t
crypto_submit_burst(struct crypto_engine *e, struct crypto_op *ops[],
		    uint16_t n, bool enc)
{
	uint16_t i;

	if (e->kind == CRYPTO_ENGINE_CDEV)
		return crypto_cdev_submit(e, ops, n, enc);
	for (i = 0; i < n && e->atail - e->ahead < CRYPTO_AFIFO; i++) {
		if (enc)
			crypto_encrypt_burst(e, ops[i], 1);
		else
			crypto_decrypt_burst(e, ops[i], 1);
		e->afifo[e->atail++ % CRYPTO_AFIFO] = ops[i];
	}
	return i;
}

uint16_t
crypto_collect_burst(struct crypto_engine *e, struct crypto_op *done[],
		     uint16_t max)
{
	uint16_t n = 0;

	if (e->kind == CRYPTO_ENGINE_CDEV)
		return crypto_cdev_collect(e, done, max);
	while (n < max && e->ahead != e->atail)
		done[n++] = e->afifo[e->ahead++ % CRYPTO_AFIFO];
	return n;
}

unsigned int
crypto_inflight(const struct crypto_engine *e)
{
	if (e->kind == CRYPTO_ENGINE_CDEV)
		return crypto_cdev_inflight(e);
	return e->atail - e->ahead;
}
