/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ChaCha20-Poly1305 (RFC 8439 2.8, as ESP uses it: RFC 7634) for packets
 * of up to 1536 bytes: the ChaCha20 blocks of sixteen packets at a time
 * go through the rounds sixteen blocks at a time, one block in each
 * 32-bit lane of sixteen AVX-512 registers.
 *
 * IPsec-MB 1.3's AVX-512 code is built for long messages: a short packet
 * still pays for sixteen blocks of key stream, and its Poly1305 for
 * setting up a long message. bench_micro, bursts of 32, 80-byte payloads:
 * about 480 cycles a packet, 340 of them ChaCha20. A 64-byte packet needs
 * three blocks: block 0 for the Poly1305 key (RFC 8439 2.6), blocks 1 and
 * 2 for its payload. Here every block of every packet of a slice of
 * sixteen is a task; the tasks go through the rounds sixteen at a time
 * (each register holds one word of sixteen states), and the key streams
 * come back out by a 16x16 transpose. Then one pass over each packet XORs
 * the key stream and lays out its Poly1305 blocks, and Poly1305 runs on
 * the sixteen packets with AVX-512 IFMA, eight to a register, the two
 * registers' worth side by side (px_blocks()). Up to about 1 KB that beats
 * IPsec-MB by most of its fixed cost; at 1420 bytes, by 10 %, where its
 * long-message Poly1305 is one multiply chain a packet and this is
 * sixteen.
 */
#include <string.h>

#include <cpuid.h>
#include <immintrin.h>

#include <rte_branch_prediction.h>

#include "crypto/chacha_x16.h"
#include "crypto/crypto_priv.h"

#define CX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512ifma,bmi2")))

#define CX_BLOCKS (1 + CHACHA_X16_MAX_LEN / 64) /* Poly1305 key + payload */
#define CX_TASKS (16 * CX_BLOCKS) /* cx_slice(): sixteen ops */

_Static_assert(CHACHA_X16_MAX_LEN % 64 == 0, "whole blocks");
_Static_assert(CHACHA_X16_MAX_OPS <= 32, "the result is a 32-bit mask");

/* By CPUID and XGETBV, as gcm_x4_cpu(). */
bool
chacha_x16_cpu(void)
{
	/* leaf 7 EBX: BMI2 8, AVX512F 16, AVX512_IFMA 21, AVX512BW 30,
	 * AVX512VL 31; leaf 1 ECX: OSXSAVE 27. */
	const unsigned int ebx7 = 1u << 8 | 1u << 16 | 1u << 21 | 1u << 30 | 1u << 31;
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

	if (allowed < 0)
		allowed = chacha_x16_cpu() && !crypto_env_off("ESPD_CHACHA_X16");
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

/* ---- Poly1305 (RFC 8439 2.5), eight packets to a register --------------- */

/*
 * Each 64-bit lane of a zmm register holds one packet's accumulator h in
 * three limbs of 44, 44 and 42 bits (radix 2^44), as do r and the
 * message blocks. AVX-512 IFMA multiplies 52-bit limbs: vpmadd52luq adds
 * bits 0..51 of each product, vpmadd52huq bits 52..103. With
 * s1 = 20 r1 and s2 = 20 r2 (2^132 = 4 * 2^130 = 20 mod 2^130 - 5):
 *   d0 = h0 r0 + h1 s2 + h2 s1
 *   d1 = h0 r1 + h1 r0 + h2 s2
 *   d2 = h0 r2 + h1 r1 + h2 r0
 * then one pass of carries leaves every limb under 2^52 for the next
 * block (the bounds are at px_step()).
 */

#define M44 ((1ull << 44) - 1)
#define M42 ((1ull << 42) - 1)
#define PX_BLOCKS (2 + CHACHA_X16_MAX_LEN / 16 + 3) /* AAD, payload, lengths; px_fill() */
#define PX_LANES 16 /* two zmm registers' worth: px_blocks() */

static inline uint64_t
le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * Encrypt or decrypt op @p o in place by its key stream @p ks, and lay
 * out its Poly1305 input in lane @p l of @p b (RFC 8439 2.8: AAD and
 * ciphertext each zero-padded to 16 bytes, then both lengths), one 16-byte
 * block per row, in the same pass over the packet. @return how many
 * blocks.
 */
CX_TARGET static inline __attribute__((always_inline)) unsigned int
px_fill(uint8_t (*b)[PX_LANES][16], unsigned int l, const struct chacha_x16_op *o,
	const uint8_t *ks, bool enc)
{
	unsigned int j = 0, off;

	if (o->aad_len != 0)
		_mm_store_si128((__m128i *)b[j++][l],
				_mm_maskz_loadu_epi8((__mmask16)_bzhi_u32(0xffff, o->aad_len),
						     o->aad));
	for (off = 0; off < o->len; off += 64) {
		/* (bzhi reads only the low 8 bits of its index: at most 64) */
		uint32_t n = o->len - off < 64 ? o->len - off : 64;
		__mmask64 k = _bzhi_u64(~0ull, n);
		__m512i d = _mm512_maskz_loadu_epi8(k, o->data + off);
		__m512i x = _mm512_xor_si512(d, _mm512_load_si512(ks + off));
		__m512i c = enc ? _mm512_maskz_mov_epi8(k, x) : d; /* the ciphertext */

		_mm512_mask_storeu_epi8(o->data + off, k, x);
		/* Bytes past the end are zero; rows past the last block are
		 * written over by the next, or only ever give what
		 * px_blocks() drops. */
		_mm_store_si128((__m128i *)b[j][l], _mm512_castsi512_si128(c));
		_mm_store_si128((__m128i *)b[j + 1][l], _mm512_extracti32x4_epi32(c, 1));
		_mm_store_si128((__m128i *)b[j + 2][l], _mm512_extracti32x4_epi32(c, 2));
		_mm_store_si128((__m128i *)b[j + 3][l], _mm512_extracti32x4_epi32(c, 3));
		j += (n + 15) / 16;
	}
	_mm_store_si128((__m128i *)b[j++][l],
			_mm_set_epi64x((long long)o->len, (long long)o->aad_len));
	return j;
}

/*
 * h = (h + m + 2^128) r, partly reduced, for the eight lanes' blocks
 * @p blk (lane l at blk + 16 l). Bounds, entering: h0, h1 < 2^44 + 2^9,
 * h2 < 2^42; r0, r1 < 2^44, r2 < 2^36 (clamped), s1 < 2^49, s2 < 2^41.
 * So every IFMA input is under 2^52, each product under 2^92, each d
 * under 2^94: the low sums under 2^54, the high ones under 2^42.
 */
CX_TARGET static inline __attribute__((always_inline)) void
px_step(__m512i *h0, __m512i *h1, __m512i *h2, const uint8_t *blk, __m512i r0,
	__m512i r1, __m512i r2, __m512i s1, __m512i s2)
{
	const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
	const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
	const __m512i m44 = _mm512_set1_epi64((long long)M44);
	const __m512i z = _mm512_setzero_si512();
	__m512i a = _mm512_load_si512(blk), c = _mm512_load_si512(blk + 64);
	__m512i lo = _mm512_permutex2var_epi64(a, even, c);
	__m512i hi = _mm512_permutex2var_epi64(a, odd, c);
	__m512i x0, x1, x2, l0, l1, l2, g0, g1, g2, t1, t2, cy, n0;

	/* h + m, the block's bit 128 set */
	x0 = _mm512_add_epi64(*h0, _mm512_and_si512(lo, m44));
	x1 = _mm512_add_epi64(*h1, _mm512_and_si512(
		_mm512_or_si512(_mm512_srli_epi64(lo, 44), _mm512_slli_epi64(hi, 20)), m44));
	x2 = _mm512_add_epi64(*h2, _mm512_or_si512(_mm512_srli_epi64(hi, 24),
						   _mm512_set1_epi64(1ll << 40)));

	l0 = _mm512_madd52lo_epu64(z, x0, r0);
	l1 = _mm512_madd52lo_epu64(z, x0, r1);
	l2 = _mm512_madd52lo_epu64(z, x0, r2);
	g0 = _mm512_madd52hi_epu64(z, x0, r0);
	g1 = _mm512_madd52hi_epu64(z, x0, r1);
	g2 = _mm512_madd52hi_epu64(z, x0, r2);
	l0 = _mm512_madd52lo_epu64(l0, x1, s2);
	l1 = _mm512_madd52lo_epu64(l1, x1, r0);
	l2 = _mm512_madd52lo_epu64(l2, x1, r1);
	g0 = _mm512_madd52hi_epu64(g0, x1, s2);
	g1 = _mm512_madd52hi_epu64(g1, x1, r0);
	g2 = _mm512_madd52hi_epu64(g2, x1, r1);
	l0 = _mm512_madd52lo_epu64(l0, x2, s1);
	l1 = _mm512_madd52lo_epu64(l1, x2, s2);
	l2 = _mm512_madd52lo_epu64(l2, x2, r0);
	g0 = _mm512_madd52hi_epu64(g0, x2, s1);
	g1 = _mm512_madd52hi_epu64(g1, x2, s2);
	g2 = _mm512_madd52hi_epu64(g2, x2, r0);

	/* d0 = l0 + g0 2^52: g0 << 8 goes to limb 1 (2^44), g1 << 8 to
	 * limb 2; g2 sits at 2^140 = 2^10 2^130, and limb 2 above 42 bits
	 * at 2^130: both times 5 into limb 0. */
	t1 = _mm512_add_epi64(_mm512_add_epi64(l1, _mm512_srli_epi64(l0, 44)),
			      _mm512_slli_epi64(g0, 8));
	t2 = _mm512_add_epi64(_mm512_add_epi64(l2, _mm512_srli_epi64(t1, 44)),
			      _mm512_slli_epi64(g1, 8));
	cy = _mm512_add_epi64(_mm512_srli_epi64(t2, 42), _mm512_slli_epi64(g2, 10));
	n0 = _mm512_add_epi64(_mm512_and_si512(l0, m44),
			      _mm512_add_epi64(cy, _mm512_slli_epi64(cy, 2)));
	*h1 = _mm512_add_epi64(_mm512_and_si512(t1, m44), _mm512_srli_epi64(n0, 44));
	*h0 = _mm512_and_si512(n0, m44);
	*h2 = _mm512_and_si512(t2, _mm512_set1_epi64((long long)M42));
}

/* tag = (h mod 2^130 - 5) + s mod 2^128, h in radix 2^44 below 2^52 a limb */
static inline void
px_tag(uint64_t h0, uint64_t h1, uint64_t h2, const uint8_t s[16], uint8_t tag[16])
{
	uint64_t g0, g1, g2, mask, c;
	unsigned __int128 t;

	/* carry through, then fold 2^130 once: h < 2^130 + 5 2^14 */
	h1 += h0 >> 44;
	h0 &= M44;
	h2 += h1 >> 44;
	h1 &= M44;
	c = h2 >> 42;
	h2 &= M42;
	h0 += c * 5;
	h1 += h0 >> 44;
	h0 &= M44;
	h2 += h1 >> 44;
	h1 &= M44;
	/* radix 2^64 */
	g0 = h0 | h1 << 44;
	g1 = h1 >> 20 | h2 << 24;
	g2 = h2 >> 40;
	h0 = g0;
	h1 = g1;
	h2 = g2;
	/* h + 5 reaches 2^130 where h >= p: then h - p = (h + 5) mod 2^130 */
	g0 = (uint64_t)(t = (unsigned __int128)h0 + 5);
	g1 = (uint64_t)(t = (unsigned __int128)h1 + (uint64_t)(t >> 64));
	g2 = h2 + (uint64_t)(t >> 64);
	mask = 0 - (g2 >> 2);
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h0 = (uint64_t)(t = (unsigned __int128)h0 + le64(s));
	h1 = (uint64_t)((unsigned __int128)h1 + le64(s + 8) + (uint64_t)(t >> 64));
	memcpy(tag, &h0, 8);
	memcpy(tag + 8, &h1, 8);
}

/* One group of eight lanes: its key limbs, accumulator and block counts. */
struct px_group {
	__m512i r0, r1, r2, s1, s2, h0, h1, h2, nb;
};

CX_TARGET static inline __attribute__((always_inline)) void
px_group_init(struct px_group *g, const uint64_t r[3][PX_LANES], const uint64_t s[2][PX_LANES],
	      const uint64_t nb[PX_LANES], unsigned int first)
{
	g->r0 = _mm512_load_si512(r[0] + first);
	g->r1 = _mm512_load_si512(r[1] + first);
	g->r2 = _mm512_load_si512(r[2] + first);
	g->s1 = _mm512_load_si512(s[0] + first);
	g->s2 = _mm512_load_si512(s[1] + first);
	g->nb = _mm512_load_si512(nb + first);
	g->h0 = g->h1 = g->h2 = _mm512_setzero_si512();
}

/* Block @p j of the group's lanes, whose rows start at @p blk. A lane past
 * its last block (or idle) keeps its h: what its unwritten row gives is
 * dropped. */
CX_TARGET static inline __attribute__((always_inline)) void
px_group_step(struct px_group *g, const uint8_t *blk, unsigned int j)
{
	__mmask8 live = _mm512_cmpgt_epu64_mask(g->nb, _mm512_set1_epi64(j));
	__m512i n0 = g->h0, n1 = g->h1, n2 = g->h2;

	px_step(&n0, &n1, &n2, blk, g->r0, g->r1, g->r2, g->s1, g->s2);
	g->h0 = _mm512_mask_mov_epi64(g->h0, live, n0);
	g->h1 = _mm512_mask_mov_epi64(g->h1, live, n1);
	g->h2 = _mm512_mask_mov_epi64(g->h2, live, n2);
}

CX_TARGET static inline __attribute__((always_inline)) void
px_group_store(const struct px_group *g, uint64_t h[3][PX_LANES], unsigned int first)
{
	_mm512_store_si512(h[0] + first, g->h0);
	_mm512_store_si512(h[1] + first, g->h1);
	_mm512_store_si512(h[2] + first, g->h2);
}

/*
 * The Poly1305 tags of @p n (1..16) lanes of @p b, lane l of nb[l] blocks
 * under the one-time key at pk[l] (RFC 8439 2.6: r, clamped, then s).
 * Each block's multiply waits for the one before (about 25 cycles of
 * latency for eight lanes), so two groups of eight go side by side.
 */
CX_TARGET static inline __attribute__((always_inline)) void
px_blocks(uint8_t (*b)[PX_LANES][16], const uint64_t nb[PX_LANES], const uint8_t *const pk[],
	  unsigned int n, uint8_t tag[][16])
{
	alignas(64) uint64_t r[3][PX_LANES], s[2][PX_LANES], h[3][PX_LANES];
	struct px_group g0, g1;
	unsigned int l, j, most = 0;

	for (l = 0; l < PX_LANES; l++) {
		uint64_t k0 = 0, k1 = 0;

		if (l < n) {
			k0 = le64(pk[l]) & 0x0ffffffc0fffffffull;
			k1 = le64(pk[l] + 8) & 0x0ffffffc0ffffffcull;
			most = nb[l] > most ? (unsigned int)nb[l] : most;
		}
		r[0][l] = k0 & M44;
		r[1][l] = (k0 >> 44 | k1 << 20) & M44;
		r[2][l] = k1 >> 24;
		s[0][l] = 20 * r[1][l];
		s[1][l] = 20 * r[2][l];
	}
	px_group_init(&g0, r, s, nb, 0);
	if (n <= 8) {
		for (j = 0; j < most; j++)
			px_group_step(&g0, b[j][0], j);
	} else {
		px_group_init(&g1, r, s, nb, 8);
		for (j = 0; j < most; j++) {
			px_group_step(&g0, b[j][0], j);
			px_group_step(&g1, b[j][8], j);
		}
		px_group_store(&g1, h, 8);
	}
	px_group_store(&g0, h, 0);
	for (l = 0; l < n; l++)
		px_tag(h[0][l], h[1][l], h[2][l], pk[l] + 16, tag[l]);
}

/* Encrypt or decrypt @p n (1..16) ops and compute their tags, op i under
 * the key stream at ks[i]: the one-time Poly1305 key, then the
 * payload's. */
CX_TARGET static void
poly_x16(const struct chacha_x16_op *op, unsigned int n, const uint8_t *const ks[],
	 uint8_t tag[][16], bool enc)
{
	alignas(64) uint8_t b[PX_BLOCKS][PX_LANES][16];
	alignas(64) uint64_t nb[PX_LANES] = { 0 };
	unsigned int l;

	for (l = 0; l < n; l++)
		nb[l] = px_fill(b, l, &op[l], ks[l] + 64, enc);
	px_blocks(b, nb, ks, n, tag);
}

CX_TARGET void
chacha_x16_poly1305(const uint8_t key[32], const uint8_t *msg, unsigned int nblocks,
		    uint8_t tag[16])
{
	alignas(64) uint8_t b[PX_BLOCKS][PX_LANES][16];
	alignas(64) uint64_t nb[PX_LANES] = { 0 };
	unsigned int j;

	for (j = 0; j < nblocks && j < PX_BLOCKS; j++)
		memcpy(b[j][0], msg + 16 * j, 16);
	nb[0] = j;
	px_blocks(b, nb, &key, 1, (uint8_t (*)[16])tag);
}

/* ---- the chunk ---------------------------------------------------------- */

/* chacha_x16() for @p n (1..PX_LANES) ops: its key streams and Poly1305
 * rows for sixteen packets of up to CHACHA_X16_MAX_LEN bytes are about
 * 50 KB, for a whole chunk twice that. */
CX_TARGET static uint32_t
cx_slice(const struct chacha_x16_op *op, unsigned int n, bool enc)
{
	/* The initial states, then (in place) the key streams: op i's
	 * Poly1305 key block, then its payload blocks, from ks[i]. */
	alignas(64) uint8_t st[CX_TASKS + 15][64];
	alignas(16) uint8_t tag[PX_LANES][16];
	const uint8_t *ks[PX_LANES];
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
		ks[i] = st[t];
		for (j = 0; j <= (o->len + 63) / 64; j++)
			_mm512_store_si512(st[t++], _mm512_mask_set1_epi32(base, 1u << 12, (int)j));
	}
	/* A last group of fewer than sixteen: its idle lanes repeat a state. */
	for (j = t; j % 16 != 0; j++)
		memcpy(st[j], st[0], 64);
	for (j = 0; j < t; j += 16)
		chacha_blocks16(st[j]);

	poly_x16(op, n, ks, tag, enc);
	for (i = 0; i < n; i++) {
		const struct chacha_x16_op *o = &op[i];

		if (enc && likely(o->icv_len == 16)) /* RFC 7634 2: always, in ESP */
			_mm_storeu_si128((__m128i *)o->icv, _mm_load_si128((const __m128i *)tag[i]));
		else if (enc)
			memcpy(o->icv, tag[i], o->icv_len);
		else if (crypto_icv_cmp(tag[i], o->icv, o->icv_len))
			bad |= 1u << i;
	}
	return bad;
}

CX_TARGET __attribute__((noinline)) uint32_t
chacha_x16(const struct chacha_x16_op *op, unsigned int n, bool enc)
{
	uint32_t bad = 0;
	unsigned int i;

	for (i = 0; i < n; i += PX_LANES)
		bad |= cx_slice(op + i, n - i < PX_LANES ? n - i : PX_LANES, enc) << i;
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
