/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The algorithm options of `state add` and `state update` (aead, enc,
 * auth-trunc): the names `ip xfrm` and the kernel's crypto API accept, the
 * keys (0x hex, never quoted back: they are secret) and the ICV lengths
 * each allows; and the mapping of a parsed algorithm onto the crypto
 * engine.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "config/config.h"
#include "config/parse_priv.h"

/* ---- Names ------------------------------------------------------------ */

const char *
cfg_cipher_name(enum crypto_cipher ci)
{
	switch (ci) {
	case CRYPTO_CIPHER_NULL:
		return "cipher_null";
	case CRYPTO_CIPHER_AES_CBC:
		return "cbc(aes)";
	case CRYPTO_CIPHER_AES_GCM:
		return "rfc4106(gcm(aes))";
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		return "rfc7539esp(chacha20,poly1305)";
	}
	return "?";
}

const char *
cfg_auth_name(enum crypto_auth a)
{
	switch (a) {
	case CRYPTO_AUTH_NONE:
		return "none";
	case CRYPTO_AUTH_HMAC_SHA1:
		return "hmac(sha1)";
	case CRYPTO_AUTH_HMAC_SHA256:
		return "hmac(sha256)";
	case CRYPTO_AUTH_HMAC_SHA384:
		return "hmac(sha384)";
	case CRYPTO_AUTH_HMAC_SHA512:
		return "hmac(sha512)";
	}
	return "?";
}

const char *
cfg_algo_name(uint8_t cipher, uint8_t auth, char *buf, size_t size)
{
	if (auth == CRYPTO_AUTH_NONE)
		snprintf(buf, size, "%s", cfg_cipher_name(cipher));
	else
		snprintf(buf, size, "%s+%s", cfg_cipher_name(cipher), cfg_auth_name(auth));
	return buf;
}

/* ---- Parsing ---------------------------------------------------------- */

/* Names `ip xfrm` and the kernel's crypto API accept for each. */
struct algo_name {
	const char *name;
	uint8_t id;              /* enum crypto_cipher or crypto_auth */
};

static const struct algo_name aead_names[] = {
	{ "rfc4106(gcm(aes))", CRYPTO_CIPHER_AES_GCM },
	{ "rfc7539esp(chacha20,poly1305)", CRYPTO_CIPHER_CHACHA20_POLY1305 },
}, enc_names[] = {
	{ "cbc(aes)", CRYPTO_CIPHER_AES_CBC }, { "aes", CRYPTO_CIPHER_AES_CBC },
	{ "cipher_null", CRYPTO_CIPHER_NULL },
	{ "ecb(cipher_null)", CRYPTO_CIPHER_NULL },
}, auth_names[] = {
	{ "hmac(sha1)", CRYPTO_AUTH_HMAC_SHA1 }, { "sha1", CRYPTO_AUTH_HMAC_SHA1 },
	{ "hmac(sha256)", CRYPTO_AUTH_HMAC_SHA256 },
	{ "sha256", CRYPTO_AUTH_HMAC_SHA256 },
	{ "hmac(sha384)", CRYPTO_AUTH_HMAC_SHA384 },
	{ "sha384", CRYPTO_AUTH_HMAC_SHA384 },
	{ "hmac(sha512)", CRYPTO_AUTH_HMAC_SHA512 },
	{ "sha512", CRYPTO_AUTH_HMAC_SHA512 },
};

#define GET_NAME(c, tab, out, what, expect) \
	get_name(c, tab, sizeof(tab) / sizeof(tab[0]), out, what, expect)

/* NAME, the word after aead, enc or auth-trunc, among @p n in @p tab. */
static int
get_name(struct cur *c, const struct algo_name *tab, size_t n, uint8_t *out,
	 const char *what, const char *expect)
{
	const char *w = NULL;
	size_t k;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	for (k = 0; k < n; k++) {
		if (strcmp(tab[k].name, w) == 0) {
			*out = tab[k].id;
			return 0;
		}
	}
	return cfg_error_set(c->err, c->i - 1, "unknown %s '%s' (expected %s)",
			     what, Q(w), expect);
}

/*
 * KEY: 0x followed by an even number of hex digits, or "" (an empty key,
 * for cipher_null). The word is never quoted back: it is secret.
 */
static int
get_key(struct cur *c, const char *algo, uint8_t *key, uint16_t *len)
{
	const char *w = NULL;
	size_t n, k;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	if (w[0] == '\0') {
		*len = 0;
		return 0;
	}
	if (w[0] != '0' || (w[1] != 'x' && w[1] != 'X'))
		goto err_hex;
	w += 2;
	n = strlen(w);
	if (n % 2 != 0)
		goto err_hex;
	if (n / 2 > CFG_KEY_MAX)
		return cfg_error_set(c->err, c->i - 1,
				     "key for %s is too long (%zu bytes, at most %d)",
				     algo, n / 2, CFG_KEY_MAX);
	for (k = 0; k < n; k++) {
		char ch = w[k];
		uint8_t d;

		if (ch >= '0' && ch <= '9')
			d = (uint8_t)(ch - '0');
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			d = (uint8_t)((ch | 0x20) - 'a' + 10);
		else
			goto err_hex;
		if (k % 2 == 0)
			key[k / 2] = (uint8_t)(d << 4);
		else
			key[k / 2] |= d;
	}
	*len = (uint16_t)(n / 2);
	return 0;
err_hex:
	explicit_bzero(key, CFG_KEY_MAX);
	return cfg_error_set(c->err, c->i - 1,
			     "key for %s must be 0x followed by an even number of hex digits",
			     algo);
}

/* A cipher KEY into a->cipher_key, which holds the longest valid one:
 * a longer key keeps its length, so the caller's check names it. */
static int
get_cipher_key(struct cur *c, const char *algo, struct cfg_algo *a)
{
	uint8_t key[CFG_KEY_MAX];
	int ret = get_key(c, algo, key, &a->cipher_key_len);

	if (ret == 0)
		memcpy(a->cipher_key, key, a->cipher_key_len < CFG_CIPHER_KEY_MAX ?
		       a->cipher_key_len : CFG_CIPHER_KEY_MAX);
	explicit_bzero(key, sizeof(key));
	return ret;
}

static int
get_icv(struct cur *c, const char *algo, const uint16_t bits_ok[],
	const char *ok_text, uint16_t *icv_len)
{
	uint32_t bits = 0;
	size_t k;
	int ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, c->i - 1,
				     "missing the ICV length in bits (%s) after the key of %s",
				     ok_text, algo);
	ret = get_num32(c, 0, UINT32_MAX, &bits);
	if (ret < 0)
		return ret;
	for (k = 0; bits_ok[k] != 0; k++) {
		if (bits == bits_ok[k]) {
			*icv_len = (uint16_t)(bits / 8);
			return 0;
		}
	}
	return cfg_error_set(c->err, c->i - 1,
			     "ICV for %s must be %s bits, got %" PRIu32, algo,
			     ok_text, bits);
}

/* aead NAME KEY ICV-BITS */
int
algo_aead(struct cur *c, struct cfg_algo *a)
{
	static const uint16_t gcm_icv[] = { 64, 96, 128, 0 };
	static const uint16_t chacha_icv[] = { 128, 0 };
	const char *name;
	int ret = GET_NAME(c, aead_names, &a->cipher, "AEAD",
			   "rfc4106(gcm(aes)) or rfc7539esp(chacha20,poly1305)");

	if (ret < 0)
		return ret;
	a->auth = CRYPTO_AUTH_NONE;
	name = cfg_cipher_name(a->cipher);
	ret = get_cipher_key(c, name, a);
	if (ret < 0)
		return ret;
	if (a->cipher == CRYPTO_CIPHER_AES_GCM) {
		/* AES-128 or AES-256 key, then the 4-byte salt (RFC 4106 8.1) */
		if (a->cipher_key_len != 20 && a->cipher_key_len != 36)
			return cfg_error_set(c->err, c->i - 1,
					     "key for %s must be 20 or 36 bytes, got %u",
					     name, a->cipher_key_len);
		ret = get_icv(c, name, gcm_icv, "64, 96 or 128", &a->icv_len);
	} else {
		/* 256-bit key, then the 4-byte salt (RFC 7634 2) */
		if (a->cipher_key_len != 36)
			return cfg_error_set(c->err, c->i - 1,
					     "key for %s must be 36 bytes, got %u",
					     name, a->cipher_key_len);
		ret = get_icv(c, name, chacha_icv, "128", &a->icv_len);
	}
	return ret;
}

/* enc NAME KEY */
int
algo_enc(struct cur *c, struct cfg_algo *a)
{
	const char *name;
	int ret = GET_NAME(c, enc_names, &a->cipher, "cipher",
			   "cbc(aes) or cipher_null");

	if (ret < 0)
		return ret;
	name = cfg_cipher_name(a->cipher);
	ret = get_cipher_key(c, name, a);
	if (ret < 0)
		return ret;
	if (a->cipher == CRYPTO_CIPHER_NULL && a->cipher_key_len != 0)
		return cfg_error_set(c->err, c->i - 1,
				     "key for cipher_null must be empty (\"\"), got %u bytes",
				     a->cipher_key_len);
	if (a->cipher == CRYPTO_CIPHER_AES_CBC && a->cipher_key_len != 16 &&
	    a->cipher_key_len != 32)
		return cfg_error_set(c->err, c->i - 1,
				     "key for cbc(aes) must be 16 or 32 bytes, got %u",
				     a->cipher_key_len);
	return 0;
}

/* auth-trunc NAME KEY ICV-BITS: the RFC's truncation, or the full digest
 * (known-answer tests use it). */
int
algo_auth_trunc(struct cur *c, struct cfg_algo *a)
{
	static const uint16_t sha1[] = { 96, 160, 0 }, sha256[] = { 128, 256, 0 },
			      sha384[] = { 192, 384, 0 }, sha512[] = { 256, 512, 0 };
	const uint16_t *ok;
	const char *name, *ok_text;
	int ret = GET_NAME(c, auth_names, &a->auth, "integrity algorithm",
			   "hmac(sha1), hmac(sha256), hmac(sha384) or hmac(sha512)");

	if (ret < 0)
		return ret;
	name = cfg_auth_name(a->auth);
	ret = get_key(c, name, a->auth_key, &a->auth_key_len);
	if (ret < 0)
		return ret;
	if (a->auth_key_len == 0)
		return cfg_error_set(c->err, c->i - 1,
				     "key for %s must be 1 to %d bytes, got 0", name,
				     CFG_KEY_MAX);
	switch (a->auth) {
	case CRYPTO_AUTH_HMAC_SHA1:
		ok = sha1, ok_text = "96 or 160";
		break;
	case CRYPTO_AUTH_HMAC_SHA256:
		ok = sha256, ok_text = "128 or 256";
		break;
	case CRYPTO_AUTH_HMAC_SHA384:
		ok = sha384, ok_text = "192 or 384";
		break;
	default:
		ok = sha512, ok_text = "256 or 512";
		break;
	}
	return get_icv(c, name, ok, ok_text, &a->icv_len);
}
