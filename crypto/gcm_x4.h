/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM for short packets, four at a time (crypto_mb.c's fast path; see
 * gcm_x4.c). Internal to crypto/.
 */
#ifndef ESPD_CRYPTO_GCM_X4_H
#define ESPD_CRYPTO_GCM_X4_H

#include <stdbool.h>
#include <stdint.h>

#define GCM_X4_BLOCKS 16                   /**< most payload blocks a lane takes */
#define GCM_X4_MAX_LEN (16 * GCM_X4_BLOCKS) /**< so, most payload bytes */

/** One packet, one lane. The cipher runs in place over data[0 .. len). */
struct gcm_x4_op {
	const uint8_t *kd;   /**< IPsec-MB's struct gcm_key_data (VAES layout) */
	uint8_t *data;
	uint32_t len;        /**< at most GCM_X4_MAX_LEN; 0: an idle lane */
	uint32_t aad_len;    /**< at most 16 */
	const uint8_t *aad;
	const uint8_t *salt; /**< 4 bytes: nonce = salt || iv (RFC 4106 4) */
	const uint8_t *iv;   /**< 8 bytes */
	uint8_t *icv;        /**< the tag's first icv_len bytes: written (encrypt)
			      *   or checked (decrypt) */
	uint32_t icv_len;    /**< at most 16; 0 for an idle lane */
};

/** Does this CPU have what gcm_x4() runs on (AVX-512 F/BW/VL, VAES,
 *  VPCLMULQDQ)? */
bool gcm_x4_cpu(void);

/**
 * Can gcm_x4() use the key data @p kd of an AES key of @p key_len bytes
 * (16 or 32)? True when the round keys and the hash-key powers a packet of
 * up to GCM_X4_BLOCKS blocks needs sit where IPsec-MB's VAES code keeps
 * them (HashKey_n at 16 * (63 - n)): checked by computing them here.
 * Call only where gcm_x4_cpu() is true.
 */
bool gcm_x4_key_ok(const uint8_t *kd, unsigned int key_len);

/**
 * Encrypt (@p enc) or decrypt the four lanes of @p op, all with keys of
 * @p key_len bytes: encrypting writes each lane's ICV, decrypting checks
 * it (in constant time; the lane is decrypted either way). An idle lane
 * (len, aad_len and icv_len 0) still needs valid kd, salt and iv
 * pointers; nothing else of it is read or written. Call only where
 * gcm_x4_cpu() is true and gcm_x4_key_ok() was for every lane's kd.
 * @return decrypting, bit p set where lane p's ICV did not verify; 0
 * encrypting.
 */
unsigned int gcm_x4(const struct gcm_x4_op op[4], unsigned int key_len, bool enc);

#endif
