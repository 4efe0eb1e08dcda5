/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ChaCha20-Poly1305 for packets of up to 1536 bytes, sixteen ChaCha20
 * blocks at a time (crypto_mb.c's fast path; see chacha_x16.c). Internal
 * to crypto/.
 */
#ifndef ESPD_CRYPTO_CHACHA_X16_H
#define ESPD_CRYPTO_CHACHA_X16_H

#include <stdbool.h>
#include <stdint.h>

#define CHACHA_X16_MAX_LEN 1536 /**< most payload bytes an op may have (its
				   *   stack grows with it) */
#define CHACHA_X16_MAX_OPS 32  /**< most ops a call takes */

/** One packet (RFC 7634: ESP's ChaCha20-Poly1305, RFC 8439 2.8). The
 *  cipher runs in place over data[0 .. len). */
struct chacha_x16_op {
	const uint8_t *key;  /**< 32 bytes */
	const uint8_t *salt; /**< 4 bytes: nonce = salt || iv (RFC 7634 2) */
	const uint8_t *iv;   /**< 8 bytes */
	uint8_t *data;
	uint32_t len;        /**< at most CHACHA_X16_MAX_LEN */
	uint32_t aad_len;    /**< at most 16 */
	const uint8_t *aad;
	uint8_t *icv;        /**< the tag's first icv_len bytes: written (encrypt)
			      *   or checked (decrypt) */
	uint32_t icv_len;    /**< at most 16 */
};

struct crypto_op;

/** Does this CPU have what chacha_x16() runs on (AVX-512 F, BW, VL and
 *  IFMA, BMI2)? */
bool chacha_x16_cpu(void);

/** May the IPsec-MB engine send short packets to chacha_x16()? Where
 *  chacha_x16_cpu() is true, unless ESPD_CHACHA_X16=0 (to compare with
 *  IPsec-MB's calls alone). */
bool chacha_x16_allowed(void);

/**
 * Encrypt (@p enc) or decrypt the @p n (at most CHACHA_X16_MAX_OPS) ops of
 * @p op: encrypting writes each op's ICV, decrypting checks it (in
 * constant time; the op is decrypted either way). Call only where
 * chacha_x16_cpu() is true.
 * @return decrypting, bit i set where op i's ICV did not verify; 0
 * encrypting.
 */
uint32_t chacha_x16(const struct chacha_x16_op *op, unsigned int n, bool enc);

/**
 * For tests: Poly1305 (RFC 8439 2.5) under the one-time @p key (r, then
 * s) of @p nblocks (at most 2 + CHACHA_X16_MAX_LEN / 16) whole 16-byte
 * blocks of @p msg, by the code chacha_x16() uses. Call only where
 * chacha_x16_cpu() is true.
 */
void chacha_x16_poly1305(const uint8_t key[32], const uint8_t *msg, unsigned int nblocks,
			 uint8_t tag[16]);

/**
 * The valid ChaCha20-Poly1305 ops @p idx[0 .. n) (n at most
 * CHACHA_X16_MAX_OPS) of @p ops, of IPsec-MB engine sessions (whose priv
 * starts with the 32-byte key), through chacha_x16(); sets each op's
 * status. @return how many verified.
 */
uint16_t chacha_x16_ops(struct crypto_op *ops, const uint8_t idx[], unsigned int n,
			bool enc);

#endif
