/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM for short packets, four at a time, on CPUs with 256-bit VAES and
 * VPCLMULQDQ but no AVX-512 (AMD Zen 3, Intel Alder Lake): gcm_x4.c's
 * method with two packets in each ymm register, lanes 0-1 in one and
 * lanes 2-3 in the other.
 *
 * IPsec-MB's AVX2 code is single-buffer: a 64-byte packet pays for its
 * own J0 block, its own GHASH reduction and the call around them, and its
 * AES rounds run one packet's dependent blocks. Here every AES round and
 * every carry-less multiply works on two packets, two registers are in
 * flight per block, and each packet's GHASH takes one reduction (every
 * block multiplied by the power of H that Horner's rule would give it,
 * the products summed unreduced, as in gcm_x4.c).
 *
 * The keys are IPsec-MB's own (struct gcm_key_data from IMB_AES*_GCM_PRE
 * on its AVX2 path): the round keys, then H^8 .. H^1 << 1 mod P,
 * byte-reflected, from offset 240 (gcm_x4_hkey_off()); eight powers
 * cover the AAD, six payload blocks and the lengths. gcm_x4_key_ok()
 * checks that layout per session.
 *
 * Without AVX-512's byte masks, a lane's last partial block is moved four
 * bytes at a time (ESP pads its payload to four bytes: RFC 4303 2.4), by
 * masked loads, which never fault on the bytes they skip, and by 8- and
 * 4-byte stores.
 */
#include <string.h>

#include <immintrin.h>

#include "crypto/gcm_x4.h"

#define GY_TARGET __attribute__((target("avx2,vaes,vpclmulqdq,aes,pclmul,sse4.1,ssse3")))

/* Two lanes a register, two registers. */
#define GY_PAIRS 2
/* Loops over the pairs unrolled, so that each pair's sums stay in
 * registers (in an array indexed by the loop, they went through memory:
 * a store-forwarding chain per block). */
#define GY_UNROLL _Pragma("GCC unroll 2")

/* H^n in the AVX2 key data. */
static inline const uint8_t *
hkey(const uint8_t *kd, unsigned int n)
{
	return kd + gcm_x4_hkey_off(GCM_X4_AVX2, n);
}

/* Lanes 0-3 of each dword of a 16-byte block that the first n bytes hold
 * (n a multiple of 4; 16 and over: all). */
GY_TARGET static inline __m128i
dword_mask(uint32_t n)
{
	return _mm_cmpgt_epi32(_mm_set1_epi32((int)(n >= 16 ? 4 : n / 4)), _mm_set_epi32(3, 2, 1, 0));
}

/* The first n bytes at p (n a multiple of 4), zero after them; nothing
 * past them is read. */
GY_TARGET static inline __m128i
load_part(const uint8_t *p, uint32_t n)
{
	if (n >= 16)
		return _mm_loadu_si128((const __m128i *)p);
	return _mm_maskload_epi32((const int *)p, dword_mask(n));
}

/* The first n bytes of v to p (n a multiple of 4, at most 16). */
GY_TARGET static inline void
store_part(uint8_t *p, __m128i v, uint32_t n)
{
	uint32_t w;

	if (n >= 16) {
		_mm_storeu_si128((__m128i *)p, v);
		return;
	}
	if (n & 8) {
		_mm_storel_epi64((__m128i *)p, v);
		v = _mm_srli_si128(v, 8);
		p += 8;
	}
	if (n & 4) {
		w = (uint32_t)_mm_cvtsi128_si32(v);
		memcpy(p, &w, 4);
	}
}

GY_TARGET static inline __m256i
pair_x(__m128i a, __m128i b)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
}

/* The 128-bit values at a and b as lanes 0-1. */
GY_TARGET static inline __m256i
pair(const void *a, const void *b)
{
	return pair_x(_mm_loadu_si128((const __m128i *)a), _mm_loadu_si128((const __m128i *)b));
}

GY_TARGET static inline __m256i
bcast(const void *a)
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)a));
}

/* k AES encryptions of two lanes each (k even, at most
 * 2 * (1 + GCM_X4_AVX2_BLOCKS)), round-major, so that all chains overlap;
 * chain i takes the round keys rk[i % 2] (its pair's). @p k: a constant
 * where it is inlined, which keeps the chains in registers. */
GY_TARGET static inline __attribute__((always_inline)) void
aes_k(__m256i s[], unsigned int k, const __m256i *const rk[GY_PAIRS], unsigned int nr)
{
	unsigned int r, i;

	for (i = 0; i < k; i++)
		s[i] = _mm256_xor_si256(s[i], rk[i % 2][0]);
	for (r = 1; r < nr; r++)
		for (i = 0; i < k; i++)
			s[i] = _mm256_aesenc_epi128(s[i], rk[i % 2][r]);
	for (i = 0; i < k; i++)
		s[i] = _mm256_aesenclast_epi128(s[i], rk[i % 2][nr]);
}

/* One pair's unreduced GHASH sum: hi, lo and the middle. */
struct gy_acc {
	__m256i hi, lo, mid;
};

GY_TARGET static inline __attribute__((always_inline)) void
mul_acc(struct gy_acc *a, __m256i x, __m256i h)
{
	a->hi = _mm256_xor_si256(a->hi, _mm256_clmulepi64_epi128(x, h, 0x11));
	a->lo = _mm256_xor_si256(a->lo, _mm256_clmulepi64_epi128(x, h, 0x00));
	a->mid = _mm256_xor_si256(a->mid, _mm256_xor_si256(_mm256_clmulepi64_epi128(x, h, 0x01),
							   _mm256_clmulepi64_epi128(x, h, 0x10)));
}

/* A pair's sums reduced mod P (still byte-reflected). */
GY_TARGET static inline __m256i
reduce(const struct gy_acc *a)
{
	const __m256i poly2 = _mm256_set_epi64x((long long)0xC200000000000000ull, 0x00000001C2000000ll,
						(long long)0xC200000000000000ull, 0x00000001C2000000ll);
	__m256i lo = _mm256_xor_si256(a->lo, _mm256_bslli_epi128(a->mid, 8));
	__m256i hi = _mm256_xor_si256(a->hi, _mm256_bsrli_epi128(a->mid, 8));
	__m256i t;

	t = _mm256_bslli_epi128(_mm256_clmulepi64_epi128(poly2, lo, 0x01), 8);
	lo = _mm256_xor_si256(lo, t);
	t = _mm256_bsrli_epi128(_mm256_clmulepi64_epi128(poly2, lo, 0x00), 4);
	lo = _mm256_bslli_epi128(_mm256_clmulepi64_epi128(poly2, lo, 0x10), 4);
	return _mm256_xor_si256(_mm256_xor_si256(lo, t), hi);
}

/* Pair h's hash-key powers: H^n0 for lane 2h, H^n1 for lane 2h + 1. */
GY_TARGET static inline __m256i
hkeys(const struct gcm_x4_op *o, unsigned int h, unsigned int n0, unsigned int n1)
{
	return pair(hkey(o[2 * h].kd, n0), hkey(o[2 * h + 1].kd, n1));
}

GY_TARGET unsigned int
gcm_x4_avx2(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	const __m256i rev = _mm256_broadcastsi128_si256(
		_mm_set_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f));
	const unsigned int nr = key_len == 16 ? 10 : 14;
	__m256i rk0[15], rk1[15], ks[2 * (1 + GCM_X4_AVX2_BLOCKS)];
	const __m256i *rk[GY_PAIRS] = { rk0, rk1 };
	struct gy_acc acc[GY_PAIRS];
	unsigned int nb[4], maxb = 0, full = GCM_X4_AVX2_BLOCKS, p, b, r, h, nks, bad = 0;
	bool one_key, uni;

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		maxb = nb[p] > maxb ? nb[p] : maxb;
		full = o[p].len / 16 < full ? o[p].len / 16 : full;
	}
	one_key = o[0].kd == o[1].kd && o[0].kd == o[2].kd && o[0].kd == o[3].kd;
	uni = one_key && nb[0] == nb[1] && nb[0] == nb[2] && nb[0] == nb[3];

	/* Round keys: one SA's broadcast, both pairs reading them; else
	 * each lane its own. */
	if (one_key) {
		for (r = 0; r <= nr; r++)
			rk0[r] = bcast(o[0].kd + 16 * r);
		rk[1] = rk0;
	} else {
		for (r = 0; r <= nr; r++) {
			rk0[r] = pair(o[0].kd + 16 * r, o[1].kd + 16 * r);
			rk1[r] = pair(o[2].kd + 16 * r, o[3].kd + 16 * r);
		}
	}

	/* Key stream: ks[2b + h] is pair h's block b, b = 0 E(J0) for the
	 * tag, b = 1 + i for payload block i (counter J0 + 1 + i; at most 7,
	 * so only the last byte moves). */
	nks = 2 * (1 + maxb);
	ks[0] = pair_x(gcm_x4_j0(&o[0]), gcm_x4_j0(&o[1]));
	ks[1] = pair_x(gcm_x4_j0(&o[2]), gcm_x4_j0(&o[3]));
	for (b = 2; b < nks; b++)
		ks[b] = _mm256_add_epi32(ks[b % 2],
					 _mm256_set_epi32((int)(b / 2 << 24), 0, 0, 0,
							  (int)(b / 2 << 24), 0, 0, 0));
	/* One case a count: each inlined aes_k() has a constant k. */
	switch (nks) {
	case 2:
		aes_k(ks, 2, rk, nr);
		break;
	case 4:
		aes_k(ks, 4, rk, nr);
		break;
	case 6:
		aes_k(ks, 6, rk, nr);
		break;
	case 8:
		aes_k(ks, 8, rk, nr);
		break;
	case 10:
		aes_k(ks, 10, rk, nr);
		break;
	case 12:
		aes_k(ks, 12, rk, nr);
		break;
	default:
		aes_k(ks, 14, rk, nr);
		break;
	}

	/* The AAD, zero-padded: the first block, so H^(blocks + 2). */
	GY_UNROLL
	for (h = 0; h < GY_PAIRS; h++) {
		const struct gcm_x4_op *a = &o[2 * h];
		__m256i x = _mm256_shuffle_epi8(pair_x(load_part(a[0].aad, a[0].aad_len),
						       load_part(a[1].aad, a[1].aad_len)),
						rev);

		acc[h].hi = acc[h].lo = acc[h].mid = _mm256_setzero_si256();
		mul_acc(&acc[h], x, uni ? bcast(hkey(o[0].kd, nb[0] + 2)) :
					  hkeys(o, h, nb[2 * h] + 2, nb[2 * h + 1] + 2));
	}

	/* The payload: cipher, then GHASH of the ciphertext (bytes past a
	 * lane's end zero). Block b of a lane's nb is block b + 2 of its
	 * nb + 2 (AAD first, lengths last), so it takes H^(nb - b + 1); a
	 * lane past its end multiplies zero by H^1. First the blocks every
	 * lane fills, whole; then the rest, by the word. */
	for (b = 0; b < full; b++) {
		GY_UNROLL
		for (h = 0; h < GY_PAIRS; h++) {
			const struct gcm_x4_op *a = &o[2 * h];
			__m256i d, c, out;

			d = pair(a[0].data + 16 * b, a[1].data + 16 * b);
			out = _mm256_xor_si256(d, ks[2 * (1 + b) + h]);
			c = enc ? out : d;
			_mm_storeu_si128((__m128i *)(a[0].data + 16 * b), _mm256_castsi256_si128(out));
			_mm_storeu_si128((__m128i *)(a[1].data + 16 * b), _mm256_extracti128_si256(out, 1));
			mul_acc(&acc[h], _mm256_shuffle_epi8(c, rev),
				uni ? bcast(hkey(o[0].kd, nb[0] - b + 1)) :
				hkeys(o, h, nb[2 * h] - b + 1, nb[2 * h + 1] - b + 1));
		}
	}
	for (; b < maxb; b++) {
		GY_UNROLL
		for (h = 0; h < GY_PAIRS; h++) {
			const struct gcm_x4_op *a = &o[2 * h];
			uint32_t off = 16 * b;
			uint32_t n0 = off < a[0].len ? a[0].len - off : 0;
			uint32_t n1 = off < a[1].len ? a[1].len - off : 0;
			__m256i d, c, out;

			d = pair_x(load_part(a[0].data + (n0 ? off : 0), n0),
				   load_part(a[1].data + (n1 ? off : 0), n1));
			out = _mm256_and_si256(_mm256_xor_si256(d, ks[2 * (1 + b) + h]),
					       pair_x(dword_mask(n0), dword_mask(n1)));
			c = enc ? out : d;
			if (n0)
				store_part(a[0].data + off, _mm256_castsi256_si128(out), n0);
			if (n1)
				store_part(a[1].data + off, _mm256_extracti128_si256(out, 1), n1);
			mul_acc(&acc[h], _mm256_shuffle_epi8(c, rev),
				uni ? bcast(hkey(o[0].kd, nb[0] - b + 1)) :
				hkeys(o, h, b < nb[2 * h] ? nb[2 * h] - b + 1 : 1,
				      b < nb[2 * h + 1] ? nb[2 * h + 1] - b + 1 : 1));
		}
	}

	/* The lengths block, in bits (already in reflected order): H^1; then
	 * tag = E(J0) ^ GHASH, of which the ICV is the first icv_len bytes. */
	GY_UNROLL
	for (h = 0; h < GY_PAIRS; h++) {
		const struct gcm_x4_op *a = &o[2 * h];
		__m256i x = pair_x(_mm_set_epi64x((long long)a[0].aad_len * 8, (long long)a[0].len * 8),
				   _mm_set_epi64x((long long)a[1].aad_len * 8, (long long)a[1].len * 8));
		__m128i t0, t1;

		mul_acc(&acc[h], x, one_key ? bcast(hkey(o[0].kd, 1)) : hkeys(o, h, 1, 1));
		x = _mm256_xor_si256(_mm256_shuffle_epi8(reduce(&acc[h]), rev), ks[h]);
		t0 = _mm256_castsi256_si128(x);
		t1 = _mm256_extracti128_si256(x, 1);
		if (enc) {
			store_part(a[0].icv, t0, a[0].icv_len);
			store_part(a[1].icv, t1, a[1].icv_len);
			continue;
		}
		/* Every byte of the ICV compared, then one answer a lane. */
		t0 = _mm_and_si128(_mm_xor_si128(t0, load_part(a[0].icv, a[0].icv_len)),
				   dword_mask(a[0].icv_len));
		t1 = _mm_and_si128(_mm_xor_si128(t1, load_part(a[1].icv, a[1].icv_len)),
				   dword_mask(a[1].icv_len));
		bad |= (unsigned int)!_mm_testz_si128(t0, t0) << (2 * h);
		bad |= (unsigned int)!_mm_testz_si128(t1, t1) << (2 * h + 1);
	}
	return bad;
}
