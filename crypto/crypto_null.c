/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null engine, for tests: the cipher is the identity (data and IV are
 * left alone) and the ICV is a keyed FNV-1a-64 checksum, expanded to the
 * ICV length. It is not cryptography; it exists so framing and replay
 * tests are deterministic and readable while still failing on any changed
 * byte that a real ICV covers.
 *
 * Coverage follows the real algorithms: for an HMAC session the ICV covers
 * data[0 .. auth_len) (RFC 4303 3.3.4); for an AEAD it covers the salt,
 * the explicit IV, the AAD and the ciphertext, since a wrong nonce breaks
 * a real AEAD tag too (RFC 4106 3, RFC 7634 2).
 */
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_priv.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

struct null_priv {
	uint64_t seed; /**< FNV-1a state after the keys */
};

_Static_assert(sizeof(struct null_priv) <= CRYPTO_SESSION_PRIV,
	       "null session state must fit crypto_session.priv");

static uint64_t
fnv1a(uint64_t h, const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* splitmix64's finaliser: a bijection, so distinct states stay distinct. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void
expand(uint64_t h, uint8_t *out, unsigned int len)
{
	unsigned int k, j;

	for (k = 0; k < len; k += 8) {
		uint64_t v = mix64(h + (k / 8 + 1) * 0x9e3779b97f4a7c15ull);

		for (j = 0; j < 8 && k + j < len; j++)
			out[k + j] = (uint8_t)(v >> (8 * j));
	}
}

size_t
crypto_null_priv_size(const struct crypto_algo_params *p)
{
	(void)p;
	return sizeof(struct null_priv);
}

int
crypto_null_session_init(struct crypto_session *s,
			 const struct crypto_algo_params *p)
{
	struct null_priv *np = (struct null_priv *)s->priv;
	uint8_t hdr[6];
	uint64_t h;

	/* Lengths first, so key "ab"+"c" differs from "a"+"bc". */
	hdr[0] = (uint8_t)p->cipher;
	hdr[1] = (uint8_t)p->auth;
	hdr[2] = (uint8_t)(p->cipher_key_len >> 8);
	hdr[3] = (uint8_t)p->cipher_key_len;
	hdr[4] = (uint8_t)(p->auth_key_len >> 8);
	hdr[5] = (uint8_t)p->auth_key_len;
	h = fnv1a(FNV64_OFFSET, hdr, sizeof(hdr));
	if (p->cipher_key_len != 0)
		h = fnv1a(h, p->cipher_key, p->cipher_key_len);
	if (p->auth_key_len != 0)
		h = fnv1a(h, p->auth_key, p->auth_key_len);
	np->seed = h;
	return 0;
}

static void
null_icv(const struct crypto_op *op, uint8_t *out)
{
	const struct crypto_session *s = op->sess;
	const struct null_priv *np = (const struct null_priv *)s->priv;
	uint64_t h = np->seed;

	if (s->is_aead) {
		h = fnv1a(h, s->salt, sizeof(s->salt));
		h = fnv1a(h, op->iv, s->iv_len);
		h = fnv1a(h, op->aad, op->aad_len);
		h = fnv1a(h, op->data + op->cipher_off, op->cipher_len);
	} else {
		h = fnv1a(h, op->data, op->auth_len);
	}
	expand(h, out, s->icv_len);
}

uint16_t
crypto_null_burst(struct crypto_engine *e, struct crypto_op *ops, uint16_t n,
		  bool enc)
{
	uint8_t tag[CRYPTO_ICV_MAX];
	uint16_t i, ok = 0;

	for (i = 0; i < n; i++) {
		struct crypto_op *op = &ops[i];

		if (!crypto_op_valid(op, e->kind)) {
			op->status = CRYPTO_ERROR;
			continue;
		}
		/* The whole input is read before the ICV is written, so an
		 * ICV over the ESN high bits (RFC 4303 3.3.2.1) is safe. */
		null_icv(op, tag);
		if (op->sess->icv_len == 0) {
			/* encryption only: no ICV */
		} else if (enc) {
			memcpy(op->icv, tag, op->sess->icv_len);
		} else if (crypto_icv_cmp(tag, op->icv, op->sess->icv_len)) {
			op->status = CRYPTO_ICV_FAIL;
			continue;
		}
		op->status = CRYPTO_OK;
		ok++;
	}
	return ok;
}
