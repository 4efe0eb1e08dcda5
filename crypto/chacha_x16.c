/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ChaCha20-Poly1305 (RFC 8439 2.8, as ESP uses it: RFC 7634) for short
 * packets: the ChaCha20 blocks of a whole chunk of packets sixteen at a
 * time, one block in each 32-bit lane of sixteen AVX-512 registers.
 *
 * IPsec-MB 1.3's AVX-512 code is built for long messages: below about
 * 256 bytes it still pays for sixteen blocks of key stream a packet, and
 * its job API around the Poly1305 costs more. bench_micro, bursts of 32,
 * 80-byte payloads: about 480 cycles a packet, 340 of them ChaCha20. A
 * 64-byte packet needs three blocks: block 0 for the Poly1305 key
 * (RFC 8439 2.6), blocks 1 and 2 for its payload. Here every block of
 * every packet of the chunk is a task; the tasks go through the rounds
 * sixteen at a time (the layout of RFC 8439's reference "vectorised"
 * implementations, each register holding one word of sixteen states), and
 * the key streams come back out by a 16x16 transpose. Poly1305 then runs
 * per packet on 64-bit limbs (as OpenSSL's poly1305.c without SIMD).
 */
#include <stdlib.h>
#include <string.h>

#include <cpuid.h>
#include <immintrin.h>

#include "crypto/chacha_x16.h"
#include "crypto/crypto_priv.h"

#define CX_TARGET __attribute__((target("avx512f,avx512bw,bmi2")))

#define CX_BLOCKS (1 + CHACHA_X16_MAX_LEN / 64) /* Poly1305 key + payload */
#define CX_TASKS (CHACHA_X16_MAX_OPS * CX_BLOCKS)

_Static_assert(CHACHA_X16_MAX_LEN % 64 == 0, "whole blocks");
_Static_assert(CHACHA_X16_MAX_OPS <= 32, "the result is a 32-bit mask");

/* By CPUID and XGETBV, as gcm_x4_cpu(). */
bool
chacha_x16_cpu(void)
{
	/* leaf 7 EBX: BMI2 8, AVX512F 16, AVX512BW 30; leaf 1 ECX: OSXSAVE 27. */
	const unsigned int ebx7 = 1u << 8 | 1u << 16 | 1u << 30;
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & 1u << 27))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (b & ebx7) != ebx7)
		return false;
	/* The OS saves SSE, AVX, the opmasks and all 32 zmm registers. */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return (lo & 0xe6) == 0xe6;
}

bool
chacha_x16_allowed(void)
{
	static int allowed = -1;

	if (allowed < 0) {
		const char *v = getenv("ESPD_CHACHA_X16");

		allowed = chacha_x16_cpu() && !(v != NULL && strcmp(v, "0") == 0);
	}
	return allowed;
}

/* ---- ChaCha20, sixteen blocks ------------------------------------------ */

/* Rows to columns: r[i] word j becomes r[j] word i. Two rounds of
 * unpacks within 128-bit lanes, then two of 128-bit lane shuffles. */
CX_TARGET static inline __attribute__((always_inline)) void
transpose16(__m512i r[16])
{
	__m512i t[16], u[16];
	unsigned int i;

#pragma GCC unroll 16
	for (i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	/* u[4g + c], 128-bit lane L: column 4L + c of rows 4g .. 4g+3 */
#pragma GCC unroll 16
	for (i = 0; i < 16; i += 4) {
		u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
		u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
		u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
		u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
	}
#pragma GCC unroll 4
	for (i = 0; i < 4; i++) {
		__m512i v0 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0x88);
		__m512i v1 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0xdd);
		__m512i w0 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0x88);
		__m512i w1 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0xdd);

		r[i] = _mm512_shuffle_i32x4(v0, w0, 0x88);
		r[i + 4] = _mm512_shuffle_i32x4(v1, w1, 0x88);
		r[i + 8] = _mm512_shuffle_i32x4(v0, w0, 0xdd);
		r[i + 12] = _mm512_shuffle_i32x4(v1, w1, 0xdd);
	}
}

/* RFC 8439 2.1 */
#define QR(a, b, c, d)                                                         \
	do {                                                                   \
		a = _mm512_add_epi32(a, b);                                    \
		d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);              \
		c = _mm512_add_epi32(c, d);                                    \
		b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);              \
		a = _mm512_add_epi32(a, b);                                    \
		d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);               \
		c = _mm512_add_epi32(c, d);                                    \
		b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);               \
	} while (0)

/* The 64-byte ChaCha20 blocks (RFC 8439 2.3) of the sixteen initial
 * states in @p st, in place: state i in, its key stream out. */
CX_TARGET static void
chacha_blocks16(uint8_t *st)
{
	__m512i x[16], s[16];
	unsigned int i;

#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		x[i] = _mm512_load_si512(st + 64 * i);
	transpose16(x);
#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		s[i] = x[i];
	for (i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		x[i] = _mm512_add_epi32(x[i], s[i]);
	transpose16(x);
#pragma GCC unroll 16
	for (i = 0; i < 16; i++)
		_mm512_store_si512(st + 64 * i, x[i]);
}

/* ---- Poly1305 (RFC 8439 2.5), 64-bit limbs ------------------------------ */

typedef unsigned __int128 u128;

struct poly {
	uint64_t r0, r1, s1; /* r clamped; s1 = r1 + r1 / 4 */
	uint64_t h0, h1, h2; /* h < 2^131 between blocks */
};

static inline uint64_t
le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

CX_TARGET static inline __attribute__((always_inline)) void
poly_init(struct poly *p, const uint8_t key[16])
{
	p->r0 = le64(key) & 0x0ffffffc0fffffffull;
	p->r1 = le64(key + 8) & 0x0ffffffc0ffffffcull;
	p->s1 = p->r1 + (p->r1 >> 2);
	p->h0 = p->h1 = p->h2 = 0;
}

/* h = (h + m + 2^128) * r, partly reduced mod 2^130 - 5. Every block ESP
 * feeds is 16 bytes (RFC 8439 2.8: AAD and ciphertext zero-padded). */
CX_TARGET static inline __attribute__((always_inline)) void
poly_block(struct poly *p, uint64_t m0, uint64_t m1)
{
	uint64_t h0, h1, h2, c;
	u128 d0, d1;

	h0 = (uint64_t)(d0 = (u128)p->h0 + m0);
	h1 = (uint64_t)(d1 = (u128)p->h1 + (uint64_t)(d0 >> 64) + m1);
	h2 = p->h2 + (uint64_t)(d1 >> 64) + 1;

	d0 = (u128)h0 * p->r0 + (u128)h1 * p->s1;
	d1 = (u128)h0 * p->r1 + (u128)h1 * p->r0 + (u128)(h2 * p->s1);
	h2 = h2 * p->r0;

	h0 = (uint64_t)d0;
	h1 = (uint64_t)(d1 += (uint64_t)(d0 >> 64));
	h2 += (uint64_t)(d1 >> 64);
	/* (h2:h1:h0 += (h2 >> 2) * 5) mod 2^130 */
	c = (h2 >> 2) + (h2 & ~3ull);
	h2 &= 3;
	h0 += c;
	c = h0 < c;
	h1 += c;
	h2 += h1 < c;
	p->h0 = h0;
	p->h1 = h1;
	p->h2 = h2;
}

/* Whole 16-byte blocks of @p b, then the last @p n % 16 zero-padded. */
CX_TARGET static inline __attribute__((always_inline)) void
poly_padded(struct poly *p, const uint8_t *b, uint32_t n)
{
	uint8_t last[16];

	for (; n >= 16; n -= 16, b += 16)
		poly_block(p, le64(b), le64(b + 8));
	if (n != 0) {
		memset(last, 0, sizeof(last));
		memcpy(last, b, n);
		poly_block(p, le64(last), le64(last + 8));
	}
}

/* tag = (h mod 2^130 - 5) + s mod 2^128 */
CX_TARGET static inline __attribute__((always_inline)) void
poly_tag(const struct poly *p, const uint8_t s[16], uint8_t tag[16])
{
	uint64_t g0, g1, g2, mask, h0 = p->h0, h1 = p->h1;
	u128 t;

	g0 = (uint64_t)(t = (u128)h0 + 5);
	g1 = (uint64_t)(t = (u128)h1 + (uint64_t)(t >> 64));
	g2 = p->h2 + (uint64_t)(t >> 64);
	/* h + 5 reaches 2^130: h >= p, so h - p = (h + 5) mod 2^130 */
	mask = 0 - (g2 >> 2);
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h0 = (uint64_t)(t = (u128)h0 + le64(s));
	h1 = (uint64_t)((u128)h1 + le64(s + 8) + (uint64_t)(t >> 64));
	memcpy(tag, &h0, 8);
	memcpy(tag + 8, &h1, 8);
}

/* RFC 8439 2.8: Poly1305 under @p key over aad | pad | ct | pad | lengths. */
CX_TARGET static inline __attribute__((always_inline)) void
aead_tag(const uint8_t key[32], const uint8_t *aad, uint32_t aad_len,
	 const uint8_t *ct, uint32_t len, uint8_t tag[16])
{
	struct poly p;

	poly_init(&p, key);
	poly_padded(&p, aad, aad_len);
	poly_padded(&p, ct, len);
	poly_block(&p, aad_len, len);
	poly_tag(&p, key + 16, tag);
}

/* data[0 .. len) ^= ks[0 .. len) */
CX_TARGET static inline __attribute__((always_inline)) void
xor_stream(uint8_t *data, const uint8_t *ks, uint32_t len)
{
	uint32_t off;

	for (off = 0; off < len; off += 64) {
		__mmask64 k = _bzhi_u64(~0ull, len - off < 64 ? len - off : 64);
		__m512i d = _mm512_maskz_loadu_epi8(k, data + off);

		d = _mm512_xor_si512(d, _mm512_load_si512(ks + off));
		_mm512_mask_storeu_epi8(data + off, k, d);
	}
}

/* ---- the chunk ---------------------------------------------------------- */

CX_TARGET __attribute__((noinline)) uint32_t
chacha_x16(const struct chacha_x16_op *op, unsigned int n, bool enc)
{
	/* The initial states, then (in place) the key streams: op i's
	 * Poly1305 key block, then its payload blocks, from first[i]. */
	alignas(64) uint8_t st[CX_TASKS + 15][64];
	uint16_t first[CHACHA_X16_MAX_OPS];
	const __m128i sigma = _mm_setr_epi32(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);
	unsigned int i, j, t = 0;
	uint32_t bad = 0;

	for (i = 0; i < n; i++) {
		const struct chacha_x16_op *o = &op[i];
		uint32_t salt;
		__m256i lo, hi;
		__m512i base;

		/* sigma | key | counter 0 | salt | iv (RFC 8439 2.3, RFC 7634 2) */
		memcpy(&salt, o->salt, 4);
		lo = _mm256_inserti128_si256(_mm256_castsi128_si256(sigma),
					     _mm_loadu_si128((const __m128i *)o->key), 1);
		hi = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(o->key + 16))),
			_mm_set_epi64x((long long)le64(o->iv), (long long)((uint64_t)salt << 32)), 1);
		base = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
		first[i] = (uint16_t)t;
		for (j = 0; j <= (o->len + 63) / 64; j++)
			_mm512_store_si512(st[t++], _mm512_mask_set1_epi32(base, 1u << 12, (int)j));
	}
	/* A last group of fewer than sixteen: its idle lanes repeat a state. */
	for (j = t; j % 16 != 0; j++)
		memcpy(st[j], st[0], 64);
	for (j = 0; j < t; j += 16)
		chacha_blocks16(st[j]);

	for (i = 0; i < n; i++) {
		const struct chacha_x16_op *o = &op[i];
		const uint8_t *pk = st[first[i]];
		alignas(16) uint8_t tag[16];

		if (enc) {
			xor_stream(o->data, st[first[i] + 1], o->len);
			aead_tag(pk, o->aad, o->aad_len, o->data, o->len, tag);
			memcpy(o->icv, tag, o->icv_len);
		} else {
			aead_tag(pk, o->aad, o->aad_len, o->data, o->len, tag);
			xor_stream(o->data, st[first[i] + 1], o->len);
			if (crypto_icv_cmp(tag, o->icv, o->icv_len))
				bad |= 1u << i;
		}
	}
	return bad;
}

/* Here, not in crypto_mb.c: the hot code ahead of gcm_x4() stays where it
 * was (bench/RESULTS.md, "Hot functions on cache lines"). */
uint16_t
chacha_x16_ops(struct crypto_op *ops, const uint8_t idx[], unsigned int n, bool enc)
{
	struct chacha_x16_op l[CHACHA_X16_MAX_OPS];
	unsigned int i;
	uint32_t bad;
	uint16_t ok = 0;

	if (n == 0)
		return 0;
	i = 0;
	do {
		const struct crypto_op *op = &ops[idx[i]];
		const struct crypto_session *s = op->sess;

		l[i] = (struct chacha_x16_op){
			.key = s->priv, .salt = s->salt, .iv = op->iv,
			.data = op->data + op->cipher_off, .len = op->cipher_len,
			.aad_len = op->aad_len, .aad = op->aad, .icv = op->icv,
			.icv_len = s->icv_len,
		};
	} while (++i < n);
	bad = chacha_x16(l, n, enc);
	for (i = 0; i < n; i++) {
		bool fail = bad & (1u << i);

		ops[idx[i]].status = fail ? CRYPTO_ICV_FAIL : CRYPTO_OK;
		ok += !fail;
	}
	return ok;
}
