/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM four packets at a time (crypto_mb.c's fast path; see gcm_x4.c
 * for AVX-512 and gcm_x4_avx2.c for 256-bit VAES without it; payloads of
 * up to 4 KB).
 * Internal to crypto/.
 */
#ifndef ESPD_CRYPTO_GCM_X4_H
#define ESPD_CRYPTO_GCM_X4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

/* Both codes move only the last byte of the counter (J0 ends in 1; the
 * 254th block's counter is 255). */
#define GCM_X4_BLOCKS 254                   /**< most payload blocks a lane takes */
#define GCM_X4_MAX_LEN (16 * GCM_X4_BLOCKS) /**< so, most payload bytes */

/* The AVX-512 code reads H^1 .. H^48 (all IPsec-MB's VAES key data
 * holds), the AVX2 code H^1 .. H^8 (all its AVX2 key data holds: it
 * hashes eight blocks a reduction). */
#define GCM_X4_AVX512_POWERS 48
#define GCM_X4_AVX2_POWERS 8
/* On AVX-512, payloads of up to this many bytes go one packet to a
 * 128-bit lane, longer ones four blocks of one packet to a register. */
#define GCM_X4_SHORT_LEN 96
/* Payloads of up to this many blocks are hashed a reduction a packet (the
 * AAD, the blocks and the lengths each take a power of H); longer ones
 * eight blocks a reduction. */
#define GCM_X4_AVX2_SHORT (GCM_X4_AVX2_POWERS - 2)

/** Which code runs the four lanes. */
enum gcm_x4_isa {
	GCM_X4_NONE,
	GCM_X4_AVX2,   /**< AVX2, VAES and VPCLMULQDQ on 256 bits: two lanes a
			*   register; IPsec-MB's AVX2 ("avx_gen4") key layout;
			*   len, aad_len and icv_len multiples of 4 */
	GCM_X4_AVX512, /**< AVX-512 F/BW/VL/DQ, VAES, VPCLMULQDQ: four lanes a
			*   register; IPsec-MB's VAES key layout; any length
			*   to GCM_X4_MAX_LEN */
};

/** One packet, one lane. The cipher runs in place over data[0 .. len). */
struct gcm_x4_op {
	const uint8_t *kd;   /**< IPsec-MB's struct gcm_key_data */
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

/** Do the four lanes of @p o share one key (one SA, or idle lanes that
 *  copy lane 0's)? Then a round's keys are one broadcast. */
static inline bool
gcm_x4_one_key(const struct gcm_x4_op o[4])
{
	return o[0].kd == o[1].kd && o[0].kd == o[2].kd && o[0].kd == o[3].kd;
}

/** The best of the codes above this CPU runs (GCM_X4_NONE: neither). */
enum gcm_x4_isa gcm_x4_cpu(void);

/** The highest power of H @p isa reads. */
static inline unsigned int
gcm_x4_powers(enum gcm_x4_isa isa)
{
	return isa == GCM_X4_AVX512 ? GCM_X4_AVX512_POWERS : GCM_X4_AVX2_POWERS;
}

/** Where H^n << 1 mod P (byte-reflected) sits in the key data @p isa
 *  reads: IPsec-MB's VAES layout keeps 48 powers below offset 1008, its
 *  AVX2 layout 8 below 368, each the highest first. */
static inline size_t
gcm_x4_hkey_off(enum gcm_x4_isa isa, unsigned int n)
{
	return isa == GCM_X4_AVX512 ? 16 * (63 - n) : 16 * (23 - n);
}

/**
 * Can @p isa's code use the key data @p kd of an AES key of @p key_len
 * bytes (16 or 32)? True when the round keys and the hash-key powers up
 * to gcm_x4_powers() sit where gcm_x4_hkey_off() says
 * (IPsec-MB picks the layout by its own code path): checked by computing
 * them here. Call only where @p isa is no better than gcm_x4_cpu().
 */
bool gcm_x4_key_ok(enum gcm_x4_isa isa, const uint8_t *kd, unsigned int key_len);

/**
 * Encrypt (@p enc) or decrypt the four lanes of @p op, all with keys of
 * @p key_len bytes: encrypting writes each lane's ICV, decrypting checks
 * it (in constant time; the lane is decrypted either way). An idle lane
 * (len, aad_len and icv_len 0) still needs valid kd, salt and iv
 * pointers; nothing else of it is read or written. Call only where
 * gcm_x4_key_ok() was true for @p isa and every lane's kd, and the lanes
 * fit @p isa (above).
 * @return decrypting, bit p set where lane p's ICV did not verify; 0
 * encrypting.
 */
unsigned int gcm_x4_avx512(const struct gcm_x4_op op[4], unsigned int key_len, bool enc);
unsigned int gcm_x4_avx2(const struct gcm_x4_op op[4], unsigned int key_len, bool enc);

static inline unsigned int
gcm_x4(enum gcm_x4_isa isa, const struct gcm_x4_op op[4], unsigned int key_len, bool enc)
{
	return isa == GCM_X4_AVX512 ? gcm_x4_avx512(op, key_len, enc) :
				      gcm_x4_avx2(op, key_len, enc);
}

/* salt (4 bytes) || iv (8) || @p last (4, as stored), as a 128-bit
 * value built in registers: a 16-byte load right after smaller stores
 * would stall. With @p last 0, an AEAD nonce (RFC 4106 4, RFC 7634 2). */
static inline __m128i
gcm_x4_salt_iv(const uint8_t *salt, const uint8_t *iv, uint32_t last)
{
	uint32_t s, i0, i1;

	memcpy(&s, salt, 4);
	memcpy(&i0, iv, 4);
	memcpy(&i1, iv + 4, 4);
	return _mm_set_epi32((int)last, (int)i1, (int)i0, (int)s);
}

/* J0 = salt || iv || 0x00000001. */
static inline __m128i
gcm_x4_j0(const struct gcm_x4_op *o)
{
	return gcm_x4_salt_iv(o->salt, o->iv, 0x01000000);
}

#endif
