/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM (NIST SP 800-38D, as ESP uses it: RFC 4106), four packets at a
 * time, on AVX-512 with VAES and VPCLMULQDQ.
 *
 * IPsec-MB's VAES code is single-buffer: each packet pays for its own
 * J0 block, its own last GHASH reductions and the call around them
 * (about 80 of its 210 TSC cycles at 1420 bytes on Zen 5, about 60 of 70
 * at 64 bytes), and a short packet leaves the AES units and the
 * carry-less multiplier mostly idle. Here the four packets share that.
 *
 * Payloads of up to six blocks (x4_short()) go one packet to each
 * 128-bit lane of a register, so each AES round and each multiply works
 * on one block of every packet, and each packet's GHASH takes one
 * reduction: every block is multiplied by the power of H it would reach
 * in Horner's rule (X = sum B_i H^(m-i+1)), the 256-bit products summed
 * unreduced. Longer ones (x4_long()) go four consecutive blocks of one
 * packet to a register, as IPsec-MB's own loop has them, and the four
 * packets' registers side by side.
 *
 * The keys are IPsec-MB's own (struct gcm_key_data, filled by
 * IMB_AES*_GCM_PRE): the AES round keys, then, in its VAES layout, the
 * powers H^n << 1 mod P, byte-reflected, at 16 * (63 - n), H^48 first.
 * Nothing is added to a session; gcm_x4_key_ok() checks that layout per
 * session by computing H and its powers here, so another IPsec-MB code
 * path or version only turns this path off. The check serves
 * gcm_x4_avx2.c too, with its layout, and so runs on any x86-64 with
 * AES-NI and PCLMULQDQ.
 *
 * GHASH follows IPsec-MB's GHASH_MUL (gcm_defines.asm): blocks are
 * byte-reflected, multiplied by the shifted key with four carry-less
 * multiplies (x4_long(): Karatsuba's three), and reduced in two phases
 * by POLY2.
 */
#include <string.h>

#include <cpuid.h>
#include <immintrin.h>

#include "crypto/gcm_x4.h"

#define GX_TARGET                                                              \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,vaes,"         \
			       "vpclmulqdq,aes,pclmul,sse4.1,ssse3")))
/* The key check: no wider than the oldest CPU it may run on. */
#define GK_TARGET __attribute__((target("aes,pclmul,sse4.1,ssse3")))

/* H^n << 1 mod P in IPsec-MB's VAES key data (gcm_keys_vaes_avx512.asm). */
static inline const uint8_t *
hkey(const uint8_t *kd, unsigned int n)
{
	return kd + gcm_x4_hkey_off(GCM_X4_AVX512, n);
}

/* Bytes 0 .. n-1 of a 16-byte block (n may exceed 16). */
static inline __mmask16
bytes_mask(uint32_t n)
{
	return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* By CPUID and XGETBV, not __builtin_cpu_supports(): clang before 16
 * knows neither "vaes" nor "vpclmulqdq" there. */
enum gcm_x4_isa
gcm_x4_cpu(void)
{
	/* leaf 1 ECX: PCLMULQDQ 1, AES 25, OSXSAVE 27, AVX 28. leaf 7 EBX:
	 * AVX2 5, AVX512F 16, DQ 17, BW 30, VL 31; ECX: VAES 9,
	 * VPCLMULQDQ 10. */
	const unsigned int ecx1 = 1u << 1 | 1u << 25 | 1u << 27 | 1u << 28;
	const unsigned int ebx7 = 1u << 5, ecx7 = 1u << 9 | 1u << 10;
	const unsigned int ebx7_512 = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31;
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || (c & ecx1) != ecx1)
		return GCM_X4_NONE;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (b & ebx7) != ebx7 ||
	    (c & ecx7) != ecx7)
		return GCM_X4_NONE;
	/* The OS saves SSE and AVX state; for AVX-512 also the opmasks and
	 * all 32 zmm registers. */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	if ((lo & 0x6) != 0x6)
		return GCM_X4_NONE;
	if ((b & ebx7_512) == ebx7_512 && (lo & 0xe6) == 0xe6)
		return GCM_X4_AVX512;
	return GCM_X4_AVX2;
}

/* ---- one lane (the key check) ------------------------------------------ */

/* a * b, both byte-reflected, b shifted (H << 1 mod P): GHASH_MUL. */
GK_TARGET static __m128i
ghash_mul1(__m128i a, __m128i b)
{
	const __m128i poly2 = _mm_set_epi64x((long long)0xC200000000000000ull, 0x00000001C2000000ll);
	__m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
	__m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
				    _mm_clmulepi64_si128(a, b, 0x10));
	__m128i t;

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	t = _mm_slli_si128(_mm_clmulepi64_si128(poly2, lo, 0x01), 8);
	lo = _mm_xor_si128(lo, t);
	t = _mm_srli_si128(_mm_clmulepi64_si128(poly2, lo, 0x00), 4);
	lo = _mm_slli_si128(_mm_clmulepi64_si128(poly2, lo, 0x10), 4);
	return _mm_xor_si128(_mm_xor_si128(lo, t), hi);
}

GK_TARGET bool
gcm_x4_key_ok(enum gcm_x4_isa isa, const uint8_t *kd, unsigned int key_len)
{
	const __m128i rev = _mm_set_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f);
	unsigned int nr = key_len == 16 ? 10 : key_len == 32 ? 14 : 0, r, n;
	__m128i h, p;
	uint64_t lo, hi, carry;

	if (nr == 0 || isa == GCM_X4_NONE)
		return false;
	/* H = E(K, 0^128), with the round keys where gcm_x4() reads them. */
	h = _mm_loadu_si128((const __m128i *)kd);
	for (r = 1; r < nr; r++)
		h = _mm_aesenc_si128(h, _mm_loadu_si128((const __m128i *)(kd + 16 * r)));
	h = _mm_aesenclast_si128(h, _mm_loadu_si128((const __m128i *)(kd + 16 * nr)));
	/* Reflected, then << 1 mod P (IPsec-MB's "HashKey<<1 mod poly"). */
	h = _mm_shuffle_epi8(h, rev);
	lo = (uint64_t)_mm_cvtsi128_si64(h);
	hi = (uint64_t)_mm_extract_epi64(h, 1);
	carry = hi >> 63;
	hi = hi << 1 | lo >> 63;
	lo <<= 1;
	if (carry) {
		hi ^= 0xC200000000000000ull;
		lo ^= 1;
	}
	h = _mm_set_epi64x((long long)hi, (long long)lo);
	/* The AVX-512 code reads H^1 .. H^(blocks + 2) (the AAD, the
	 * payload, the lengths); the AVX2 code H^1 .. H^8. */
	for (p = h, n = 1; n <= gcm_x4_powers(isa); n++) {
		if (memcmp(&p, kd + gcm_x4_hkey_off(isa, n), 16) != 0)
			return false;
		p = ghash_mul1(p, h);
	}
	return true;
}

/* ---- four lanes -------------------------------------------------------- */

/* The 128-bit values at a, b, c, d as lanes 0-3. */
GX_TARGET static inline __m512i
lanes(const void *a, const void *b, const void *c, const void *d)
{
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)a));

	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)b), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)c), 2);
	return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)d), 3);
}

/* The 128-bit value at a in every lane. */
GX_TARGET static inline __m512i
bcast(const void *a)
{
	return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a));
}

GX_TARGET static inline __m512i
lanes_x(__m128i a, __m128i b, __m128i c, __m128i d)
{
	__m512i v = _mm512_castsi128_si512(a);

	v = _mm512_inserti32x4(v, b, 1);
	v = _mm512_inserti32x4(v, c, 2);
	return _mm512_inserti32x4(v, d, 3);
}

/* Up to 1 + X4_SHORT_BLOCKS AES encryptions of four lanes each,
 * round-major, so the chains overlap. @p k: how many of s[] are in use
 * (a constant where it is inlined, so the idle ones cost nothing). */
GX_TARGET static inline __attribute__((always_inline)) void
aes_k(__m512i s[], unsigned int k, const __m512i rk[15], unsigned int nr)
{
	unsigned int r, i;

	for (i = 0; i < k; i++)
		s[i] = _mm512_xor_si512(s[i], rk[0]);
	for (r = 1; r < nr; r++)
		for (i = 0; i < k; i++)
			s[i] = _mm512_aesenc_epi128(s[i], rk[r]);
	for (i = 0; i < k; i++)
		s[i] = _mm512_aesenclast_epi128(s[i], rk[nr]);
}

/* Round keys: one SA's broadcast, else lane p packet p's. */
GX_TARGET static inline void
round_keys(const struct gcm_x4_op o[4], bool one_key, unsigned int nr, __m512i rk[15])
{
	unsigned int r;

	for (r = 0; r <= nr; r++)
		rk[r] = one_key ? bcast(o[0].kd + 16 * r) :
				  lanes(o[0].kd + 16 * r, o[1].kd + 16 * r, o[2].kd + 16 * r,
					o[3].kd + 16 * r);
}

/* The unreduced GHASH sum of the four lanes: hi, lo and the middle. */
struct gx_acc {
	__m512i hi, lo, mid;
};

GX_TARGET static inline __attribute__((always_inline)) void
mul_acc(struct gx_acc *a, __m512i x, __m512i h)
{
	a->hi = _mm512_xor_si512(a->hi, _mm512_clmulepi64_epi128(x, h, 0x11));
	a->lo = _mm512_xor_si512(a->lo, _mm512_clmulepi64_epi128(x, h, 0x00));
	a->mid = _mm512_ternarylogic_epi64(a->mid, _mm512_clmulepi64_epi128(x, h, 0x01),
					   _mm512_clmulepi64_epi128(x, h, 0x10), 0x96);
}

/* The four lanes' sums reduced mod P (still byte-reflected). */
GX_TARGET static inline __m512i
reduce(const struct gx_acc *a)
{
	const __m512i poly2 = _mm512_set4_epi64((long long)0xC200000000000000ull,
						0x00000001C2000000ll,
						(long long)0xC200000000000000ull,
						0x00000001C2000000ll);
	__m512i lo = _mm512_xor_si512(a->lo, _mm512_bslli_epi128(a->mid, 8));
	__m512i hi = _mm512_xor_si512(a->hi, _mm512_bsrli_epi128(a->mid, 8));
	__m512i t;

	t = _mm512_bslli_epi128(_mm512_clmulepi64_epi128(poly2, lo, 0x01), 8);
	lo = _mm512_xor_si512(lo, t);
	t = _mm512_bsrli_epi128(_mm512_clmulepi64_epi128(poly2, lo, 0x00), 4);
	lo = _mm512_bslli_epi128(_mm512_clmulepi64_epi128(poly2, lo, 0x10), 4);
	return _mm512_ternarylogic_epi64(lo, t, hi, 0x96);
}

/* Tag = E(J0) ^ GHASH (@p x: the four lanes' sums, reduced, byte-
 * reflected); each lane's first icv_len bytes are its ICV, written
 * (@p enc) or compared in constant time. @return the bad-ICV bits. */
GX_TARGET static inline unsigned int
tags(const struct gcm_x4_op o[4], __m512i x, __m512i ej0, bool enc)
{
	const __m512i rev = _mm512_set4_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f);
	__mmask16 im[4];
	__mmask64 m64;
	__m128i t[4];
	unsigned int p;

	x = _mm512_xor_si512(_mm512_shuffle_epi8(x, rev), ej0);
	for (p = 0; p < 4; p++)
		im[p] = bytes_mask(o[p].icv_len);
	if (enc) {
		_mm_mask_storeu_epi8(o[0].icv, im[0], _mm512_extracti32x4_epi32(x, 0));
		_mm_mask_storeu_epi8(o[1].icv, im[1], _mm512_extracti32x4_epi32(x, 1));
		_mm_mask_storeu_epi8(o[2].icv, im[2], _mm512_extracti32x4_epi32(x, 2));
		_mm_mask_storeu_epi8(o[3].icv, im[3], _mm512_extracti32x4_epi32(x, 3));
		return 0;
	}
	/* Every byte of every lane compared, then one answer a lane. */
	for (p = 0; p < 4; p++)
		t[p] = _mm_maskz_loadu_epi8(im[p], o[p].icv);
	m64 = _mm512_mask_cmpneq_epi8_mask((__mmask64)im[0] | (__mmask64)im[1] << 16 |
					   (__mmask64)im[2] << 32 | (__mmask64)im[3] << 48,
					   x, lanes_x(t[0], t[1], t[2], t[3]));
	return (unsigned int)((m64 & 0xffff) != 0) | (unsigned int)((m64 >> 16 & 0xffff) != 0) << 1 |
	       (unsigned int)((m64 >> 32 & 0xffff) != 0) << 2 |
	       (unsigned int)((m64 >> 48 & 0xffff) != 0) << 3;
}

/* The lengths blocks, in bits (already in reflected order). */
GX_TARGET static inline __m512i
lengths(const struct gcm_x4_op o[4])
{
	return lanes_x(_mm_set_epi64x((long long)o[0].aad_len * 8, (long long)o[0].len * 8),
		       _mm_set_epi64x((long long)o[1].aad_len * 8, (long long)o[1].len * 8),
		       _mm_set_epi64x((long long)o[2].aad_len * 8, (long long)o[2].len * 8),
		       _mm_set_epi64x((long long)o[3].aad_len * 8, (long long)o[3].len * 8));
}

/*
 * Payloads of up to X4_SHORT_BLOCKS blocks: one block of each packet a
 * register. Where it stops winning against x4_long(), a scratch program
 * on Zen 5 (one SA, -O3): 34 against 42 TSC cycles a packet at 68
 * bytes, 40 against 41 at 96, 43 against 41 at 112.
 */
#define X4_SHORT_BLOCKS (GCM_X4_SHORT_LEN / 16)

GX_TARGET static unsigned int
x4_short(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	const __m512i rev = _mm512_set4_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f);
	const unsigned int nr = key_len == 16 ? 10 : 14;
	__m512i rk[15], ks[1 + X4_SHORT_BLOCKS], j0, x;
	struct gx_acc acc;
	unsigned int nb[4], maxb = 0, p, b, nks;
	bool one_key, uni;
	__mmask64 m64;
	__m128i t[4];

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		maxb = nb[p] > maxb ? nb[p] : maxb;
	}
	/* One SA (a burst of one tunnel), and, with uni, packets of one
	 * block count: every lane then takes the same power of H at each
	 * step, one broadcast load. */
	one_key = gcm_x4_one_key(o);
	uni = one_key && nb[0] == nb[1] && nb[0] == nb[2] && nb[0] == nb[3];

	round_keys(o, one_key, nr, rk);

	/* Key stream: ks[0] = E(J0) for the tag, ks[1 + b] for block b
	 * (counter J0 + 1 + b: only the last byte moves). */
	j0 = lanes_x(gcm_x4_j0(&o[0]), gcm_x4_j0(&o[1]), gcm_x4_j0(&o[2]), gcm_x4_j0(&o[3]));
	nks = 1 + maxb;
	for (b = 0; b < nks; b++)
		ks[b] = _mm512_add_epi32(j0, _mm512_set4_epi32((int)(b << 24), 0, 0, 0));
	/* One case a count, so that each inlined aes_k() has a constant k
	 * and keeps its chains in registers. */
	switch (nks) {
	case 1:
		aes_k(ks, 1, rk, nr);
		break;
	case 2:
		aes_k(ks, 2, rk, nr);
		break;
	case 3:
		aes_k(ks, 3, rk, nr);
		break;
	case 4:
		aes_k(ks, 4, rk, nr);
		break;
	case 5:
		aes_k(ks, 5, rk, nr);
		break;
	case 6:
		aes_k(ks, 6, rk, nr);
		break;
	default:
		aes_k(ks, 7, rk, nr);
		break;
	}

	acc.hi = acc.lo = acc.mid = _mm512_setzero_si512();

	/* The AAD, zero-padded: the first block, so H^(blocks + 2). */
	for (p = 0; p < 4; p++)
		t[p] = _mm_maskz_loadu_epi8(bytes_mask(o[p].aad_len), o[p].aad);
	x = _mm512_shuffle_epi8(lanes_x(t[0], t[1], t[2], t[3]), rev);
	mul_acc(&acc, x, uni ? bcast(hkey(o[0].kd, nb[0] + 2)) :
			       lanes(hkey(o[0].kd, nb[0] + 2), hkey(o[1].kd, nb[1] + 2),
				     hkey(o[2].kd, nb[2] + 2), hkey(o[3].kd, nb[3] + 2)));

	/* The payload: cipher, then GHASH of the ciphertext (bytes past a
	 * lane's end zero). Block b of a lane's nb is block b + 2 of its
	 * nb + 2 (AAD first, lengths last), so it takes H^(nb - b + 1). */
	for (b = 0; b < maxb; b++) {
		__mmask16 m[4];
		__m512i d, c, out;

		for (p = 0; p < 4; p++) {
			uint32_t off = 16 * b;

			m[p] = off < o[p].len ? bytes_mask(o[p].len - off) : 0;
			t[p] = _mm_maskz_loadu_epi8(m[p], o[p].data + (m[p] ? off : 0));
		}
		m64 = (__mmask64)m[0] | (__mmask64)m[1] << 16 | (__mmask64)m[2] << 32 |
		      (__mmask64)m[3] << 48;
		d = lanes_x(t[0], t[1], t[2], t[3]);
		out = _mm512_maskz_mov_epi8(m64, _mm512_xor_si512(d, ks[1 + b]));
		c = enc ? out : d;
		if (m[0])
			_mm_mask_storeu_epi8(o[0].data + 16 * b, m[0], _mm512_extracti32x4_epi32(out, 0));
		if (m[1])
			_mm_mask_storeu_epi8(o[1].data + 16 * b, m[1], _mm512_extracti32x4_epi32(out, 1));
		if (m[2])
			_mm_mask_storeu_epi8(o[2].data + 16 * b, m[2], _mm512_extracti32x4_epi32(out, 2));
		if (m[3])
			_mm_mask_storeu_epi8(o[3].data + 16 * b, m[3], _mm512_extracti32x4_epi32(out, 3));
		/* A lane past its end multiplies zero by any power: H^1. */
		mul_acc(&acc, _mm512_shuffle_epi8(c, rev),
			uni ? bcast(hkey(o[0].kd, nb[0] - b + 1)) :
			lanes(hkey(o[0].kd, b < nb[0] ? nb[0] - b + 1 : 1),
			      hkey(o[1].kd, b < nb[1] ? nb[1] - b + 1 : 1),
			      hkey(o[2].kd, b < nb[2] ? nb[2] - b + 1 : 1),
			      hkey(o[3].kd, b < nb[3] ? nb[3] - b + 1 : 1)));
	}

	/* The lengths block: H^1. */
	mul_acc(&acc, lengths(o), one_key ? bcast(hkey(o[0].kd, 1)) :
			       lanes(hkey(o[0].kd, 1), hkey(o[1].kd, 1), hkey(o[2].kd, 1),
				     hkey(o[3].kd, 1)));
	return tags(o, reduce(&acc), ks[0], enc);
}

/* ---- longer payloads ----------------------------------------------------- */

/*
 * Past X4_SHORT_BLOCKS a register holds four consecutive blocks of one
 * packet, as in IPsec-MB's own loop, and the four packets' registers go
 * through each round and multiply side by side: its sixteen blocks a
 * step taken from four packets. What the four share is what a packet
 * pays once: E(J0), the last reductions, the tag, the call. The
 * multiplies are Karatsuba's three, not four: on Zen 5 a 512-bit
 * carry-less multiply takes two cycles, and sixteen of them a step are
 * what bounds IPsec-MB's loop (bench/RESULTS.md, twenty-first session).
 *
 * Packet p's GHASH input (the AAD, nb[p] payload blocks; the lengths
 * block comes last, on its own) is right-aligned on the steps: its st[p]
 * steps end at the last, m - 1, and its first starts with dl[p] = 4 st[p]
 * - nb[p] - 1 blocks of nothing, then the AAD. So lane l of step s holds,
 * for every packet, the block that takes H^(e(s) + 3 - l), which one
 * 64-byte load of IPsec-MB's powers (they run down from H^48) gives.
 * Steps are reduced in groups of X4_GROUP: the last group's powers end
 * at H^2 (the lengths block takes H^1), the others' at H^1, and a
 * group's reduced sum is XORed into the next group's first block
 * (Horner's rule). Blocks before a packet's AAD are zero and add
 * nothing.
 *
 * The key stream is made two steps ahead of its use, so that its rounds
 * run under the two steps' multiplies (5 % less time at 1420 bytes than
 * one step ahead). Under one SA, a packet's four blocks a register, the
 * round keys broadcast. Under several, transposed: register j holds
 * block j of each packet's step, lane p packet p's, so that a round's
 * keys are one register (lane p packet p's key) and not four broadcasts;
 * four 128-bit shuffles a register then put each packet's blocks
 * together (10 % less time at 1420 bytes under four SAs, 3 % more under
 * one, where it is not done).
 */
#define X4_GROUP 11
_Static_assert(4 * X4_GROUP + 1 <= GCM_X4_AVX512_POWERS, "a group's powers are in the key data");
/* Loops over the packets unrolled, so that their registers stay
 * registers. */
#define GX_UNROLL4 _Pragma("GCC unroll 4")

/* H^(e + 3) .. H^e in lanes 0 .. 3. */
GX_TARGET static inline __m512i
hkey4(const uint8_t *kd, unsigned int e)
{
	return _mm512_loadu_si512(hkey(kd, e + 3));
}

/* A power's halves XORed (in each lane's low half), for mul_part(). */
GX_TARGET static inline __m512i
kara(__m512i h)
{
	return _mm512_xor_si512(h, _mm512_shuffle_epi32(h, 0x4e));
}

/* One of the three products x h adds to a sum: @p part 0 hi, 1 lo, 2
 * (x.hi ^ x.lo) (h.hi ^ h.lo) (@p hk = kara(h)), which XORed with hi
 * and lo is the middle product (x4_long() does that a group). */
GX_TARGET static inline __attribute__((always_inline)) void
mul_part(struct gx_acc *a, __m512i x, __m512i h, __m512i hk, unsigned int part)
{
	if (part == 0)
		a->hi = _mm512_xor_si512(a->hi, _mm512_clmulepi64_epi128(x, h, 0x11));
	else if (part == 1)
		a->lo = _mm512_xor_si512(a->lo, _mm512_clmulepi64_epi128(x, h, 0x00));
	else
		a->mid = _mm512_xor_si512(a->mid, _mm512_clmulepi64_epi128(kara(x), hk, 0x00));
}

/* Bytes lo .. hi - 1 of 64 (each clamped to 0 .. 64). */
static inline __mmask64
range_mask(int64_t lo, int64_t hi)
{
	lo = lo < 0 ? 0 : lo;
	hi = hi > 64 ? 64 : hi;
	if (hi <= lo)
		return 0;
	return (~0ull >> (64 - hi)) & (~0ull << lo);
}

/* a's four lanes XORed into lane 0, b's into lane 1, c's 2, d's 3. */
GX_TARGET static inline __m512i
fold4(__m512i a, __m512i b, __m512i c, __m512i d)
{
	__m512i x = _mm512_xor_si512(_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xee));
	__m512i y = _mm512_xor_si512(_mm512_shuffle_i64x2(c, d, 0x44), _mm512_shuffle_i64x2(c, d, 0xee));

	return _mm512_xor_si512(_mm512_shuffle_i64x2(x, y, 0x88), _mm512_shuffle_i64x2(x, y, 0xdd));
}

/* Lane p of v[j] to lane j of v[p] (a 4 x 4 transpose of blocks). */
GX_TARGET static inline __attribute__((always_inline)) void
transpose4(__m512i v[4])
{
	__m512i t0 = _mm512_shuffle_i64x2(v[0], v[1], 0x44);
	__m512i t1 = _mm512_shuffle_i64x2(v[0], v[1], 0xee);
	__m512i t2 = _mm512_shuffle_i64x2(v[2], v[3], 0x44);
	__m512i t3 = _mm512_shuffle_i64x2(v[2], v[3], 0xee);

	v[0] = _mm512_shuffle_i64x2(t0, t2, 0x88);
	v[1] = _mm512_shuffle_i64x2(t0, t2, 0xdd);
	v[2] = _mm512_shuffle_i64x2(t1, t3, 0x88);
	v[3] = _mm512_shuffle_i64x2(t1, t3, 0xdd);
}

/* The state of x4_long() that its steps share. */
struct gx_long {
	struct gx_acc acc[4];
	/* The counters of the next step whose key stream is made: under
	 * one SA ctr[p] packet p's four, under several ctr[j] block j of
	 * each, lane p packet p's; ks: each packet's key stream for this
	 * step, ks2 for the next. */
	__m512i ctr[4], ks[4], ks2[4];
	/* Where packet p's bytes of step s start: adr[p] + 64 s, which is
	 * byte 64 s - off[p] of its payload. */
	uintptr_t adr[4];
	int64_t off[4];
	unsigned int dl[4], first[4];
};

/* Round r's key: one SA's, broadcast from its key data in the loop (@p
 * kd0 opaque, so that the compiler does not hoist the eleven or fifteen:
 * registers go to the sums instead), or several SAs' @p rk[r] (lane p
 * packet p's). */
GX_TARGET static inline __attribute__((always_inline)) __m512i
rkey(const __m512i rk[15], const uint8_t *kd0, unsigned int r, const bool one_key)
{
	return one_key ? bcast(kd0 + 16 * r) : rk[r];
}

/* The first two steps' key streams. */
GX_TARGET static inline __attribute__((always_inline)) void
x4_ks(struct gx_long *x, const __m512i rk[15], const uint8_t *kd0, const unsigned int nr,
      const bool one_key)
{
	const __m512i four = _mm512_set4_epi32(4 << 24, 0, 0, 0);
	__m512i c[4];
	unsigned int j, r, t;

	for (t = 0; t < 2; t++) {
		GX_UNROLL4
		for (j = 0; j < 4; j++) {
			c[j] = _mm512_xor_si512(x->ctr[j], rkey(rk, kd0, 0, one_key));
			x->ctr[j] = _mm512_add_epi32(x->ctr[j], four);
		}
		_Pragma("GCC unroll 13")
		for (r = 1; r < nr; r++) {
			GX_UNROLL4
			for (j = 0; j < 4; j++)
				c[j] = _mm512_aesenc_epi128(c[j], rkey(rk, kd0, r, one_key));
		}
		GX_UNROLL4
		for (j = 0; j < 4; j++)
			c[j] = _mm512_aesenclast_epi128(c[j], rkey(rk, kd0, nr, one_key));
		if (!one_key)
			transpose4(c);
		GX_UNROLL4
		for (j = 0; j < 4; j++) {
			x->ks[j] = x->ks2[j];
			x->ks2[j] = c[j];
		}
	}
}

/*
 * Step s of x4_long(): the four packets' blocks ciphered with x->ks and
 * GHASH of what it takes, with the powers H^(e + 3) .. H^e; @p y (the
 * sums before, reduced, one packet a lane) XORed into each packet's
 * first block (@p fold). Under the multiplies, the key stream of step
 * s + 2. @p full: every packet's 64 bytes are payload.
 */
GX_TARGET static inline __attribute__((always_inline)) void
x4_step(struct gx_long *x, const struct gcm_x4_op o[4], const __m512i rk[15], unsigned int s,
	unsigned int e, __m512i y, const bool fold, const unsigned int nr, const bool enc,
	const bool one_key, const bool full)
{
	const __m512i rev = _mm512_set4_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f);
	const __m512i four = _mm512_set4_epi32(4 << 24, 0, 0, 0);
	const uint8_t *kd0 = o[0].kd;
	__m512i c[4], v[4], in[4], h1, hk1;
	__mmask64 km[4];
	uint8_t *a[4];
	unsigned int p, r, j;

	__asm__("" : "+r"(kd0));
	h1 = hkey4(kd0, e);
	hk1 = kara(h1);
	/* All four loads before the first store: a store to one packet
	 * and a later load from another 4 KB apart look alike to the core
	 * (their low twelve address bits), and the load may wait. */
	GX_UNROLL4
	for (p = 0; p < 4; p++) {
		a[p] = (uint8_t *)(x->adr[p] + 64 * (uintptr_t)s);
		if (full) {
			in[p] = _mm512_loadu_si512(a[p]);
		} else {
			int64_t b = 64 * (int64_t)s - x->off[p];

			km[p] = range_mask(-b, o[p].len - b);
			in[p] = _mm512_maskz_loadu_epi8(km[p], a[p]);
		}
	}
	GX_UNROLL4
	for (p = 0; p < 4; p++) {
		__m512i out;

		if (full) {
			out = _mm512_xor_si512(in[p], x->ks[p]);
			_mm512_storeu_si512(a[p], out);
		} else {
			out = _mm512_maskz_mov_epi8(km[p], _mm512_xor_si512(in[p], x->ks[p]));
			_mm512_mask_storeu_epi8(a[p], km[p], out);
		}
		v[p] = enc ? out : in[p];
		/* The AAD: lane dl[p] of the packet's first step. */
		if (!full && s == x->first[p])
			v[p] = _mm512_mask_broadcast_i32x4(
				v[p], (__mmask16)(0xf << (4 * x->dl[p])),
				_mm_maskz_loadu_epi8(bytes_mask(o[p].aad_len), o[p].aad));
		v[p] = _mm512_shuffle_epi8(v[p], rev);
		if (fold)
			v[p] = _mm512_xor_si512(v[p], _mm512_maskz_permutexvar_epi64(
							      0x03, _mm512_set_epi64(0, 0, 0, 0, 0, 0, 2 * p + 1, 2 * p), y));
	}
	/* Step s + 2's key stream, the twelve multiplies spread over its
	 * rounds (in program order; the core overlaps them either way, but
	 * less of it when the rounds come first). */
	GX_UNROLL4
	for (j = 0; j < 4; j++) {
		c[j] = _mm512_xor_si512(x->ctr[j], rkey(rk, kd0, 0, one_key));
		x->ctr[j] = _mm512_add_epi32(x->ctr[j], four);
	}
	_Pragma("GCC unroll 13")
	for (r = 1; r < nr; r++) {
		GX_UNROLL4
		for (j = 0; j < 4; j++)
			c[j] = _mm512_aesenc_epi128(c[j], rkey(rk, kd0, r, one_key));
		for (j = (r - 1) * 12 / (nr - 1); j < r * 12 / (nr - 1); j++) {
			/* Several SAs' powers are loaded where used: four
			 * kept would take registers from the sums. */
			__m512i h = one_key ? h1 : hkey4(o[j / 3].kd, e);

			mul_part(&x->acc[j / 3], v[j / 3], h, one_key ? hk1 : kara(h), j % 3);
		}
	}
	GX_UNROLL4
	for (j = 0; j < 4; j++)
		c[j] = _mm512_aesenclast_epi128(c[j], rkey(rk, kd0, nr, one_key));
	if (!one_key)
		transpose4(c);
	GX_UNROLL4
	for (p = 0; p < 4; p++) {
		x->ks[p] = x->ks2[p];
		x->ks2[p] = c[p];
	}
}

GX_TARGET static inline __attribute__((always_inline)) unsigned int
x4_long(const struct gcm_x4_op o[4], const unsigned int key_len, const bool enc,
	const bool one_key)
{
	const unsigned int nr = key_len == 16 ? 10 : 14;
	struct gx_long x;
	struct gx_acc f;
	__m512i rk[15], ej0, y;
	unsigned int nb[4], st[4], m = 0, p, s0, g, i, j;
	int lo = 0, hi;

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		st[p] = (nb[p] + 1 + 3) / 4;
		x.dl[p] = 4 * st[p] - nb[p] - 1;
		m = st[p] > m ? st[p] : m;
	}
	hi = (int)m - 1;
	round_keys(o, one_key, nr, rk);
	ej0 = lanes_x(gcm_x4_j0(&o[0]), gcm_x4_j0(&o[1]), gcm_x4_j0(&o[2]), gcm_x4_j0(&o[3]));
	for (j = 0; j < 4; j++)
		x.ctr[j] = ej0; /* several SAs: J0s, the offsets added below */
	aes_k(&ej0, 1, rk, nr);

	GX_UNROLL4
	for (p = 0; p < 4; p++) {
		uint32_t c;

		/* Packet p's AAD: lane dl[p] of its first step. */
		x.first[p] = m - st[p];
		x.off[p] = 16 * (4 * (int64_t)x.first[p] + x.dl[p] + 1);
		x.adr[p] = (uintptr_t)o[p].data - (uintptr_t)x.off[p];
		/* Steps where the packet's 64 bytes are all payload. */
		lo = (int)((x.off[p] + 63) / 64) > lo ? (int)((x.off[p] + 63) / 64) : lo;
		hi = (int)((o[p].len + x.off[p]) / 64) - 1 < hi ?
			     (int)((o[p].len + x.off[p]) / 64) - 1 : hi;
		/* Block j of step s is payload block 4 s + j - off / 16, whose
		 * counter is J0 + 1 + that (only the last byte moves, and
		 * only that of a block in the payload is read). */
		c = (uint32_t)(1 - x.off[p] / 16);
		if (one_key)
			x.ctr[p] = _mm512_add_epi32(_mm512_broadcast_i32x4(gcm_x4_j0(&o[p])),
						    _mm512_set_epi32((int)((c + 3) << 24), 0, 0, 0,
								     (int)((c + 2) << 24), 0, 0, 0,
								     (int)((c + 1) << 24), 0, 0, 0,
								     (int)(c << 24), 0, 0, 0));
		else
			for (j = 0; j < 4; j++)
				x.ctr[j] = _mm512_mask_add_epi32(x.ctr[j], (__mmask16)(0x8 << (4 * p)),
								 x.ctr[j], _mm512_set1_epi32((int)((c + j) << 24)));
		x.acc[p].hi = x.acc[p].lo = x.acc[p].mid = _mm512_setzero_si512();
	}
	x4_ks(&x, rk, o[0].kd, nr, one_key);
	y = _mm512_setzero_si512();

	for (s0 = 0; s0 < m; s0 += g) {
		const bool last = s0 + X4_GROUP >= m;

		g = s0 == 0 ? (m - 1) % X4_GROUP + 1 : X4_GROUP;
		for (i = 0; i < g; i++) {
			const unsigned int s = s0 + i;
			/* Lane 3's power: H^1 at a group's last step, H^2 at
			 * the last group's (the lengths block follows). */
			const unsigned int e = 4 * (g - 1 - i) + (last ? 2 : 1);

			if ((int)s < lo || (int)s > hi)
				x4_step(&x, o, rk, s, e, y, i == 0 && s0 > 0, nr, enc, one_key, false);
			else if (i == 0)
				x4_step(&x, o, rk, s, e, y, true, nr, enc, one_key, true);
			else
				x4_step(&x, o, rk, s, e, y, false, nr, enc, one_key, true);
		}
		f.hi = fold4(x.acc[0].hi, x.acc[1].hi, x.acc[2].hi, x.acc[3].hi);
		f.lo = fold4(x.acc[0].lo, x.acc[1].lo, x.acc[2].lo, x.acc[3].lo);
		f.mid = fold4(x.acc[0].mid, x.acc[1].mid, x.acc[2].mid, x.acc[3].mid);
		f.mid = _mm512_ternarylogic_epi64(f.mid, f.hi, f.lo, 0x96); /* Karatsuba's middle */
		GX_UNROLL4
		for (p = 0; p < 4; p++)
			x.acc[p].hi = x.acc[p].lo = x.acc[p].mid = _mm512_setzero_si512();
		if (last)
			mul_acc(&f, lengths(o), one_key ? bcast(hkey(o[0].kd, 1)) :
						   lanes(hkey(o[0].kd, 1), hkey(o[1].kd, 1),
							 hkey(o[2].kd, 1), hkey(o[3].kd, 1)));
		y = reduce(&f);
	}
	return tags(o, y, ej0, enc);
}

/* x4_long() once for each direction, key size and whether the four
 * share one SA, so that none tests them a block, the rounds are
 * unrolled and one SA's round keys come from its key data. */
GX_TARGET static unsigned int
x4_long_enc(const struct gcm_x4_op o[4], unsigned int key_len, bool one_key)
{
	if (key_len == 16)
		return one_key ? x4_long(o, 16, true, true) : x4_long(o, 16, true, false);
	return one_key ? x4_long(o, 32, true, true) : x4_long(o, 32, true, false);
}

GX_TARGET static unsigned int
x4_long_dec(const struct gcm_x4_op o[4], unsigned int key_len, bool one_key)
{
	if (key_len == 16)
		return one_key ? x4_long(o, 16, false, true) : x4_long(o, 16, false, false);
	return one_key ? x4_long(o, 32, false, true) : x4_long(o, 32, false, false);
}

GX_TARGET unsigned int
gcm_x4_avx512(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	uint32_t most = o[0].len, p;
	bool one_key;

	for (p = 1; p < 4; p++)
		most = o[p].len > most ? o[p].len : most;
	if (most <= GCM_X4_SHORT_LEN)
		return x4_short(o, key_len, enc);
	one_key = gcm_x4_one_key(o);
	return enc ? x4_long_enc(o, key_len, one_key) : x4_long_dec(o, key_len, one_key);
}
