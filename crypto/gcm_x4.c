/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-GCM (NIST SP 800-38D, as ESP uses it: RFC 4106) for short packets,
 * four at a time, one packet in each 128-bit lane of an AVX-512 register.
 *
 * IPsec-MB's VAES code is single-buffer: at 64 bytes a packet pays for
 * its own J0 block, its own GHASH reduction and the call around them,
 * about 60 cycles for 4 blocks of payload, while the AES units and the
 * carry-less multiplier sit mostly idle. Here each AES round and each
 * multiply works on four packets at once (VAES and VPCLMULQDQ treat the
 * four lanes of a zmm register independently), and each packet's GHASH
 * takes one reduction: every block is multiplied by the power of H it
 * would reach in Horner's rule (X = sum B_i H^(m-i+1)), the 256-bit
 * products summed unreduced.
 *
 * The keys are IPsec-MB's own (struct gcm_key_data, filled by
 * IMB_AES*_GCM_PRE): the AES round keys, then, in its VAES layout, the
 * powers H^n << 1 mod P, byte-reflected, at 16 * (63 - n). Nothing is
 * added to a session; gcm_x4_key_ok() checks that layout per session by
 * computing H and its powers here, so another IPsec-MB code path or
 * version only turns this path off. The check serves gcm_x4_avx2.c too,
 * with its layout, and so runs on any x86-64 with AES-NI and PCLMULQDQ.
 *
 * GHASH follows IPsec-MB's GHASH_MUL (gcm_defines.asm): blocks are
 * byte-reflected, multiplied by the shifted key with four carry-less
 * multiplies, and reduced in two phases by POLY2.
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

/* Up to eight AES encryptions of four lanes each, round-major, so the
 * chains overlap. @p k: how many of s[0..7] are in use (a constant
 * where it is inlined, so the idle ones cost nothing). */
GX_TARGET static inline __attribute__((always_inline)) void
aes_up_to8(__m512i s[8], unsigned int k, const __m512i rk[15], unsigned int nr)
{
	__m512i v[8];
	unsigned int r, i;

	for (i = 0; i < k; i++)
		v[i] = _mm512_xor_si512(s[i], rk[0]);
	for (r = 1; r < nr; r++)
		for (i = 0; i < k; i++)
			v[i] = _mm512_aesenc_epi128(v[i], rk[r]);
	for (i = 0; i < k; i++)
		s[i] = _mm512_aesenclast_epi128(v[i], rk[nr]);
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

GX_TARGET unsigned int
gcm_x4_avx512(const struct gcm_x4_op o[4], unsigned int key_len, bool enc)
{
	const __m512i rev = _mm512_set4_epi32(0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f);
	const unsigned int nr = key_len == 16 ? 10 : 14;
	__m512i rk[15], ks[1 + GCM_X4_BLOCKS], j0, x;
	struct gx_acc acc;
	unsigned int nb[4], maxb = 0, p, b, r, nks;
	bool one_key, uni;
	__mmask16 im[4];
	__mmask64 m64;
	__m128i t[4];

	for (p = 0; p < 4; p++) {
		nb[p] = (o[p].len + 15) / 16;
		maxb = nb[p] > maxb ? nb[p] : maxb;
	}
	/* One SA (a burst of one tunnel), and, with uni, packets of one
	 * block count: every lane then takes the same power of H at each
	 * step, one broadcast load. */
	one_key = o[0].kd == o[1].kd && o[0].kd == o[2].kd && o[0].kd == o[3].kd;
	uni = one_key && nb[0] == nb[1] && nb[0] == nb[2] && nb[0] == nb[3];

	/* Round keys: one SA's broadcast, else each lane its own. */
	if (one_key) {
		for (r = 0; r <= nr; r++)
			rk[r] = bcast(o[0].kd + 16 * r);
	} else {
		for (r = 0; r <= nr; r++)
			rk[r] = lanes(o[0].kd + 16 * r, o[1].kd + 16 * r, o[2].kd + 16 * r,
				      o[3].kd + 16 * r);
	}

	/* Key stream: ks[0] = E(J0) for the tag, ks[1 + b] for block b
	 * (counter J0 + 1 + b; at most 17, so only the last byte moves). */
	j0 = lanes_x(gcm_x4_j0(&o[0]), gcm_x4_j0(&o[1]), gcm_x4_j0(&o[2]), gcm_x4_j0(&o[3]));
	nks = 1 + maxb;
	for (b = 0; b < nks; b++)
		ks[b] = _mm512_add_epi32(j0, _mm512_set4_epi32((int)(b << 24), 0, 0, 0));
	/* One case a count, so that each inlined aes_up_to8() has a
	 * constant k and keeps its chains in registers. */
	for (b = 0; b < nks; b += 8) {
		switch (nks - b) {
		case 1:
			aes_up_to8(&ks[b], 1, rk, nr);
			break;
		case 2:
			aes_up_to8(&ks[b], 2, rk, nr);
			break;
		case 3:
			aes_up_to8(&ks[b], 3, rk, nr);
			break;
		case 4:
			aes_up_to8(&ks[b], 4, rk, nr);
			break;
		case 5:
			aes_up_to8(&ks[b], 5, rk, nr);
			break;
		case 6:
			aes_up_to8(&ks[b], 6, rk, nr);
			break;
		case 7:
			aes_up_to8(&ks[b], 7, rk, nr);
			break;
		default:
			aes_up_to8(&ks[b], 8, rk, nr);
			break;
		}
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

	/* The lengths block, in bits (already in reflected order): H^1. */
	x = lanes_x(_mm_set_epi64x((long long)o[0].aad_len * 8, (long long)o[0].len * 8),
		    _mm_set_epi64x((long long)o[1].aad_len * 8, (long long)o[1].len * 8),
		    _mm_set_epi64x((long long)o[2].aad_len * 8, (long long)o[2].len * 8),
		    _mm_set_epi64x((long long)o[3].aad_len * 8, (long long)o[3].len * 8));
	mul_acc(&acc, x, one_key ? bcast(hkey(o[0].kd, 1)) :
			       lanes(hkey(o[0].kd, 1), hkey(o[1].kd, 1), hkey(o[2].kd, 1),
				     hkey(o[3].kd, 1)));

	/* Tag = E(J0) ^ GHASH; its first icv_len bytes are the ICV. */
	x = _mm512_xor_si512(_mm512_shuffle_epi8(reduce(&acc), rev), ks[0]);
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
