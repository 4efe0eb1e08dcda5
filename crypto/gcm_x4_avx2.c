/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM four packets at a time, on CPUs with 256-bit VAES and
 * VPCLMULQDQ but no AVX-512 (AMD Zen 3, Intel Alder Lake): gcm_x4.c's
 * method with two packets in each ymm register, lanes 0-1 in one and
 * lanes 2-3 in the other.
 *
 * IPsec-MB's AVX2 code is single-buffer and works on 128-bit registers:
 * a 64-byte packet pays for its own J0 block, its own GHASH reduction
 * and the call around them, and on Zen 3 each 128-bit PCLMULQDQ takes as
 * long as a 256-bit one. Here every AES round and every carry-less
 * multiply works on two packets. Payloads of up to six blocks
 * (x4_short()) hash every block with the power of H that Horner's rule
 * gives it and reduce once a packet, as gcm_x4.c does; longer ones
 * (x4_long()) hash eight blocks a reduction.
 *
 * The keys are IPsec-MB's own (struct gcm_key_data from IMB_AES*_GCM_PRE
 * on its AVX2 path): the round keys, then H^8 .. H^1 << 1 mod P,
 * byte-reflected, from offset 240 (gcm_x4_hkey_off()). gcm_x4_key_ok()
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
 * 2 * (1 + GCM_X4_AVX2_SHORT)), round-major, so that all chains overlap;
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

/* One pair's unreduced GHASH sum: hi, lo and Karatsuba's middle
 * (x.hi ^ x.lo) (h.hi ^ h.lo), from which reduce() takes hi and lo. */
struct gy_acc {
	__m256i hi, lo, mid;
};

/* One of the three products x h adds to a pair's sum: @p part 0 hi, 1
 * lo, 2 the middle (@p hk: h's halves XORed, kara()). Three multiplies,
 * not four: on Zen 3 a carry-less multiply costs more than the shuffles
 * and XORs that replace it (8 % less time at 68 bytes, 2-10 % at 1424). */
GY_TARGET static inline __attribute__((always_inline)) void
mul_part(struct gy_acc *a, __m256i x, __m256i h, __m256i hk, unsigned int part)
{
	if (part == 0)
		a->hi = _mm256_xor_si256(a->hi, _mm256_clmulepi64_epi128(x, h, 0x11));
	else if (part == 1)
		a->lo = _mm256_xor_si256(a->lo, _mm256_clmulepi64_epi128(x, h, 0x00));
	else
		a->mid = _mm256_xor_si256(a->mid, _mm256_clmulepi64_epi128(
			_mm256_xor_si256(x, _mm256_shuffle_epi32(x, 0x4e)), hk, 0x00));
}

/* A power of H's halves XORed, for mul_part(). */
GY_TARGET static inline __m256i
kara(__m256i h)
{
	return _mm256_xor_si256(h, _mm256_shuffle_epi32(h, 0x4e));
}

GY_TARGET static inline __attribute__((always_inline)) void
mul_acc(struct gy_acc *a, __m256i x, __m256i h)
{
	const __m256i hk = kara(h);

	mul_part(a, x, h, hk, 0);
	mul_part(a, x, h, hk, 1);
	mul_part(a, x, h, hk, 2);
}

/* A pair's sums reduced mod P (still byte-reflected). */
GY_TARGET static inline __m256i
reduce(const struct gy_acc *a)
{
	const __m256i poly2 = _mm256_set_epi64x((long long)0xC200000000000000ull, 0x00000001C2000000ll,
						(long long)0xC200000000000000ull, 0x00000001C2000000ll);
	__m256i mid = _mm256_xor_si256(a->mid, _mm256_xor_si256(a->hi, a->lo));
	__m256i lo = _mm256_xor_si256(a->lo, _mm256_bslli_epi128(mid, 8));
	__m256i hi = _mm256_xor_si256(a->hi, _mm256_bsrli_epi128(mid, 8));
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

/* Round keys: one SA's broadcast, both pairs reading them (rk[1] = rk0);
 * else each lane its own. */
GY_TARGET static inline __attribute__((always_inline)) void
round_keys(const struct gcm_x4_op o[4], bool one_key, unsigned int nr, __m256i rk0[15],
	   __m256i rk1[15], const __m256i *rk[GY_PAIRS])
{
	unsigned int r;

	rk[0] = rk0;
	rk[1] = rk1;
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
}

/* Pair h's tags (X: its GHASH, reduced, reflected; ej0: E(J0)): written
 * (@p enc) or compared in constant time. @return the pair's bad-ICV
 * bits, at lanes 2h and 2h + 1. */
GY_TARGET static inline __attribute__((always_inline)) unsigned int
tags(const struct gcm_x4_op *o, unsigned int h, __m256i x, __m256i rev, __m256i ej0, bool enc)
{
	const struct gcm_x4_op *a = &o[2 * h];
	__m128i t0, t1;

	x = _mm256_xor_si256(_mm256_shuffle_epi8(x, rev), ej0);
	t0 = _mm256_castsi256_si128(x);
	t1 = _mm256_extracti128_si256(x, 1);
	if (enc) {
		store_part(a[0].icv, t0, a[0].icv_len);
		store_part(a[1].icv, t1, a[1].icv_len);
		return 0;
	}
	/* Every byte of the ICV compared, then one answer a lane. */
	t0 = _mm_and_si128(_mm_xor_si128(t0, load_part(a[0].icv, a[0].icv_len)),
			   dword_mask(a[0].icv_len));
	t1 = _mm_and_si128(_mm_xor_si128(t1, load_part(a[1].icv, a[1].icv_len)),
			   dword_mask(a[1].icv_len));
	return (unsigned int)!_mm_testz_si128(t0, t0) << (2 * h) |
	       (unsigned int)!_mm_testz_si128(t1, t1) << (2 * h + 1);
}

/* Payloads of up to GCM_X4_AVX2_SHORT blocks: every block hashed with
 * the power Horner's rule gives it, one reduction a packet. */
GY_TARGET static unsigned int
x4_short(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	const __m256i rev = _mm256_broadcastsi128_si256(
		_mm_set_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f));
	const unsigned int nr = key_len == 16 ? 10 : 14;
	__m256i rk0[15], rk1[15], ks[2 * (1 + GCM_X4_AVX2_SHORT)];
	const __m256i *rk[GY_PAIRS];
	struct gy_acc acc[GY_PAIRS];
	unsigned int nb[4], maxb = 0, full = GCM_X4_AVX2_SHORT, p, b, h, nks, bad = 0;
	bool one_key, uni;

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		maxb = nb[p] > maxb ? nb[p] : maxb;
		full = o[p].len / 16 < full ? o[p].len / 16 : full;
	}
	one_key = gcm_x4_one_key(o);
	uni = one_key && nb[0] == nb[1] && nb[0] == nb[2] && nb[0] == nb[3];

	round_keys(o, one_key, nr, rk0, rk1, rk);

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

		mul_acc(&acc[h], x, one_key ? bcast(hkey(o[0].kd, 1)) : hkeys(o, h, 1, 1));
		bad |= tags(o, h, reduce(&acc[h]), rev, ks[h], enc);
	}
	return bad;
}

/* ---- longer payloads ----------------------------------------------------- */

/*
 * Lane block j of @p a (0 the AAD, 1 .. nb the payload, nb + 1 the
 * lengths, anything else zero), byte order as in memory, with @p ks the
 * key stream for payload block j. A payload block is ciphered in place;
 * what GHASH takes is returned.
 */
GY_TARGET static inline __m128i
lane_block(const struct gcm_x4_op *a, int j, unsigned int nb, __m128i ks, __m128i rev, bool enc)
{
	uint32_t off, n;
	__m128i d, out;

	if (j <= 0)
		return j == 0 ? load_part(a->aad, a->aad_len) : _mm_setzero_si128();
	if ((unsigned int)j > nb)
		return (unsigned int)j == nb + 1 ?
			_mm_shuffle_epi8(_mm_set_epi64x((long long)a->aad_len * 8,
							(long long)a->len * 8), rev) :
			_mm_setzero_si128();
	off = 16 * ((uint32_t)j - 1);
	n = a->len - off;
	d = load_part(a->data + off, n);
	out = _mm_and_si128(_mm_xor_si128(d, ks), dword_mask(n));
	store_part(a->data + off, out, n);
	return enc ? out : d;
}

/*
 * Payloads of any length to GCM_X4_MAX_LEN, eight blocks a
 * reduction (Horner's rule a group at a time, as IPsec-MB does, so
 * H^1 .. H^8 suffice).
 *
 * Lane p's blocks (the AAD, nb[p] of payload, the lengths: m[p] = nb[p] +
 * 2) are right-aligned on steps s = 0 .. M - 1, M the longest: block j at
 * step s = j + d[p], d[p] = M - m[p], and before it zero, which adds
 * nothing. So every lane's lengths block is at the last step, and step s
 * takes H^e(s), e(s) = (M - 1 - s) % 8 + 1, for all lanes alike: a group
 * of steps runs down to e = 1 and is reduced; the next group's first
 * block is XORed with that sum. Lane p's counter at step s is J0 + s -
 * d[p], one add a step for the pair.
 *
 * A step's key stream is made KS_AHEAD steps before its use, so that its
 * two AES chains run under the GHASH of the steps between, and in
 * program order the two chains take their rounds in turn with the
 * step's multiplies between them ("stitched", as IPsec-MB's assembly
 * is). Out-of-order hardware would find that work by itself only in a
 * window long enough for an 11-round chain. On Zen 3, whose window the
 * core's other thread halves when it runs, the stitched order took 5-9 %
 * less time than the chains one after the other on a quiet host and
 * 15-20 % on a busy one (bench/RESULTS.md, twentieth session).
 */
#define KS_AHEAD 2
#define KS_RING 4 /* a power of two above KS_AHEAD */

GY_TARGET static inline __attribute__((always_inline)) unsigned int
x4_long(const struct gcm_x4_op o[4], unsigned int key_len, const bool enc)
{
	const __m256i rev = _mm256_broadcastsi128_si256(
		_mm_set_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f));
	const __m128i rev1 = _mm256_castsi256_si128(rev);
	const __m256i one = _mm256_set_epi32(1 << 24, 0, 0, 0, 1 << 24, 0, 0, 0);
	const unsigned int nr = key_len == 16 ? 10 : 14;
	__m256i rk0[15], rk1[15], ks[KS_RING][GY_PAIRS], ej0[GY_PAIRS], ctr[GY_PAIRS], x[GY_PAIRS];
	__m256i hp[GY_PAIRS][GCM_X4_AVX2_POWERS], hpk[GY_PAIRS][GCM_X4_AVX2_POWERS];
	const __m256i *rk[GY_PAIRS], *t[GY_PAIRS];
	struct gy_acc acc[GY_PAIRS];
	unsigned int nb[4], m = 0, p, h, i, g, s0, h1, bad = 0;
	/* Where lane p's payload block of step s starts: adr[p] + 16 s
	 * (kept in locals: stores through the data pointers would make the
	 * compiler reload anything in memory). */
	uintptr_t adr[4];
	int d[4], lo[GY_PAIRS], hi[GY_PAIRS];
	bool one_key;

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		m = nb[p] + 2 > m ? nb[p] + 2 : m;
	}
	one_key = gcm_x4_one_key(o);
	round_keys(o, one_key, nr, rk0, rk1, rk);
	/* The last ten rounds (AES-256's rounds 5 .. 14), the stitched ones. */
	t[0] = rk[0] + nr - 10;
	t[1] = rk[1] + nr - 10;
	/* Each pair's powers of H, paired and split for Karatsuba once a
	 * call, not at every step (6 % less time at 1424 bytes); one SA's
	 * once for both pairs (pair 1 reads hp[h1]). */
	h1 = one_key ? 0 : 1;
	for (h = 0; h <= h1; h++) {
		for (i = 0; i < GCM_X4_AVX2_POWERS; i++) {
			hp[h][i] = hkeys(o, h, i + 1, i + 1);
			hpk[h][i] = kara(hp[h][i]);
		}
	}

	GY_UNROLL
	for (h = 0; h < GY_PAIRS; h++) {
		const struct gcm_x4_op *a = &o[2 * h];
		__m128i j0a = gcm_x4_j0(&a[0]), j0b = gcm_x4_j0(&a[1]);
		int f0, f1;

		d[2 * h] = (int)(m - nb[2 * h] - 2);
		d[2 * h + 1] = (int)(m - nb[2 * h + 1] - 2);
		adr[2 * h] = (uintptr_t)a[0].data - 16 * (uintptr_t)(d[2 * h] + 1);
		adr[2 * h + 1] = (uintptr_t)a[1].data - 16 * (uintptr_t)(d[2 * h + 1] + 1);
		/* Steps where both lanes are in whole payload blocks. */
		f0 = d[2 * h] + (int)(a[0].len / 16);
		f1 = d[2 * h + 1] + (int)(a[1].len / 16);
		lo[h] = (d[2 * h] > d[2 * h + 1] ? d[2 * h] : d[2 * h + 1]) + 1;
		hi[h] = f0 < f1 ? f0 : f1;
		ej0[h] = pair_x(j0a, j0b);
		/* J0 - d: only the counter's top byte is read, at steps where
		 * it is J0 + 1 .. J0 + nb. */
		ctr[h] = _mm256_sub_epi32(
			ej0[h], pair_x(_mm_set_epi32((int)((uint32_t)d[2 * h] << 24), 0, 0, 0),
				       _mm_set_epi32((int)((uint32_t)d[2 * h + 1] << 24), 0, 0, 0)));
		acc[h].hi = acc[h].lo = acc[h].mid = x[h] = _mm256_setzero_si256();
	}
	aes_k(ej0, 2, rk, nr);

	/* The key stream KS_AHEAD steps ahead of its use, so that its AES
	 * chains run under the GHASH of the steps between. */
	for (i = 0; i < KS_AHEAD; i++) {
		GY_UNROLL
		for (h = 0; h < GY_PAIRS; h++) {
			ks[i % KS_RING][h] = ctr[h];
			ctr[h] = _mm256_add_epi32(ctr[h], one);
		}
		aes_k(ks[i % KS_RING], 2, rk, nr);
	}
	for (s0 = 0; s0 < m; s0 += g) {
		g = (m - 1 - s0) % 8 + 1;
		for (i = 0; i < g; i++) {
			const int s = (int)(s0 + i);
			const unsigned int e = g - i - 1; /* H^(e + 1) */
			__m256i c[GY_PAIRS], v[GY_PAIRS];
			unsigned int r;

			/* Step s + KS_AHEAD's counters into their chains. */
			GY_UNROLL
			for (h = 0; h < GY_PAIRS; h++) {
				c[h] = _mm256_xor_si256(ctr[h], rk[h][0]);
				ctr[h] = _mm256_add_epi32(ctr[h], one);
			}
			if (nr == 14) {
				for (r = 1; r <= 4; r++) {
					c[0] = _mm256_aesenc_epi128(c[0], rk[0][r]);
					c[1] = _mm256_aesenc_epi128(c[1], rk[1][r]);
				}
			}
			/* Step s's blocks ciphered, as GHASH takes them. */
			GY_UNROLL
			for (h = 0; h < GY_PAIRS; h++) {
				const __m256i k = ks[s % KS_RING][h];

				if (s >= lo[h] && s <= hi[h]) {
					uint8_t *p0 = (uint8_t *)(adr[2 * h] + 16 * (uintptr_t)s);
					uint8_t *p1 = (uint8_t *)(adr[2 * h + 1] + 16 * (uintptr_t)s);
					__m256i in = pair(p0, p1);
					__m256i out = _mm256_xor_si256(in, k);

					_mm_storeu_si128((__m128i *)p0, _mm256_castsi256_si128(out));
					_mm_storeu_si128((__m128i *)p1, _mm256_extracti128_si256(out, 1));
					v[h] = enc ? out : in;
				} else {
					v[h] = pair_x(lane_block(&o[2 * h], s - d[2 * h], nb[2 * h],
								 _mm256_castsi256_si128(k), rev1, enc),
						      lane_block(&o[2 * h + 1], s - d[2 * h + 1], nb[2 * h + 1],
								 _mm256_extracti128_si256(k, 1), rev1, enc));
				}
				v[h] = _mm256_shuffle_epi8(v[h], rev);
				if (i == 0)
					v[h] = _mm256_xor_si256(v[h], x[h]);
			}
			/* Stitched: a round of both chains, then one of the six
			 * multiplies (pair 0's three, then pair 1's). */
			_Pragma("GCC unroll 9")
			for (r = 1; r < 10; r++) {
				c[0] = _mm256_aesenc_epi128(c[0], t[0][r]);
				c[1] = _mm256_aesenc_epi128(c[1], t[1][r]);
				if (r <= 3)
					mul_part(&acc[0], v[0], hp[0][e], hpk[0][e], r - 1);
				else if (r <= 6)
					mul_part(&acc[1], v[1], hp[h1][e], hpk[h1][e], r - 4);
			}
			GY_UNROLL
			for (h = 0; h < GY_PAIRS; h++)
				ks[(s + KS_AHEAD) % KS_RING][h] = _mm256_aesenclast_epi128(c[h], t[h][10]);
		}
		GY_UNROLL
		for (h = 0; h < GY_PAIRS; h++) {
			x[h] = reduce(&acc[h]);
			acc[h].hi = acc[h].lo = acc[h].mid = _mm256_setzero_si256();
		}
	}
	GY_UNROLL
	for (h = 0; h < GY_PAIRS; h++)
		bad |= tags(o, h, x[h], rev, ej0[h], enc);
	return bad;
}

/* x4_long() once for each direction, so that neither tests it a block. */
GY_TARGET static unsigned int
x4_long_enc(const struct gcm_x4_op o[4], unsigned int key_len)
{
	return x4_long(o, key_len, true);
}

GY_TARGET static unsigned int
x4_long_dec(const struct gcm_x4_op o[4], unsigned int key_len)
{
	return x4_long(o, key_len, false);
}

GY_TARGET unsigned int
gcm_x4_avx2(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	uint32_t most = o[0].len, p;

	for (p = 1; p < 4; p++)
		most = o[p].len > most ? o[p].len : most;
	if (most <= 16 * GCM_X4_AVX2_SHORT)
		return x4_short(o, key_len, enc);
	return enc ? x4_long_enc(o, key_len) : x4_long_dec(o, key_len);
}
