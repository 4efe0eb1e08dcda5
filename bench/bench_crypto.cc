// SPDX-License-Identifier: BSD-3-Clause
//
// Micro-benchmarks of the crypto engine (Google Benchmark), bursts of 32
// packets at 64, 512 and 1420 payload bytes (CBC rounds up to 1424):
//   BM_espd_encrypt / BM_espd_decrypt: crypto_*_burst through crypto.h;
//   BM_raw_direct: the single-buffer IPsec-MB AEAD calls, one per packet;
//   BM_raw_burst: the IPsec-MB job burst API, no framing at all.
// Raw direct against raw burst decides, per algorithm, which path
// crypto_mb.c uses (MB_GCM_USE_JOBS, MB_CHACHA_USE_JOBS).
//   BM_engine_burst/engine:E/burst:B: AES-GCM-128 encrypt, 64 B, bursts
//   of B through crypto_encrypt_burst on the built-in engine (E 0) or the
//   cryptodev engine over a crypto_aesni_mb vdev (E 1, the same IPsec-MB
//   underneath): the fixed cost of a burst against the cost of an op.
//
// Decrypt runs over the same buffers again and again: after the first
// pass the ICV no longer matches, which costs exactly the same (the whole
// tag is always computed and compared in constant time).
//
// Counters: items/s = packets/s, bytes/s = payload bytes/s.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>

#include <rte_bus_vdev.h>

extern "C" {
#include "crypto/crypto.h"
}

namespace {

constexpr unsigned kBurst = 32;
constexpr unsigned kHdr = 8;
constexpr unsigned kBufLen = 2048;

struct Algo {
	const char *name;
	crypto_cipher cipher;
	crypto_auth auth;
	uint16_t key_len; // with the salt for AEADs
	uint16_t icv_len;
};

const Algo kAlgos[] = {
	{ "aes128-gcm", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 20, 16 },
	{ "aes256-gcm", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 36, 16 },
	{ "chacha20-poly1305", CRYPTO_CIPHER_CHACHA20_POLY1305,
	  CRYPTO_AUTH_NONE, 36, 16 },
	{ "aes128-cbc-hmac-sha1-96", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA1, 16, 12 },
	{ "aes128-cbc-hmac-sha256-128", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA256, 16, 16 },
	{ "aes256-cbc-hmac-sha256-128", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA256, 32, 16 },
	{ "aes256-cbc-hmac-sha384-192", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA384, 32, 24 },
	{ "aes256-cbc-hmac-sha512-256", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA512, 32, 32 },
	{ "null-hmac-sha256-128", CRYPTO_CIPHER_NULL, CRYPTO_AUTH_HMAC_SHA256,
	  0, 16 },
};
constexpr int kNumAlgos = sizeof(kAlgos) / sizeof(kAlgos[0]);
constexpr int kAeads = 3; // the first three: raw direct exists for these

uint32_t
payload_len(const Algo &a, uint32_t size)
{
	// RFC 3602 2.4: whole blocks.
	return a.cipher == CRYPTO_CIPHER_AES_CBC ? (size + 15) & ~15u : size;
}

struct alignas(64) Buf {
	uint8_t b[kBufLen];
};

// Key material; same bytes for espd and raw runs.
uint8_t kKey[64];
uint8_t kAuthKey[32];

void
fill_keys()
{
	for (unsigned i = 0; i < sizeof(kKey); i++)
		kKey[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < sizeof(kAuthKey); i++)
		kAuthKey[i] = (uint8_t)(i * 13 + 5);
}

void
set_counters(benchmark::State &st, uint32_t len)
{
	st.SetItemsProcessed((int64_t)st.iterations() * kBurst);
	st.SetBytesProcessed((int64_t)st.iterations() * kBurst * len);
	st.SetLabel(kAlgos[st.range(0)].name);
}

// ---- espd API ------------------------------------------------------------

struct EspdRun {
	crypto_engine *eng = nullptr;
	crypto_session sess;
	std::vector<Buf> bufs = std::vector<Buf>(kBurst);
	uint8_t aad[kBurst][12];
	crypto_op ops[kBurst];
	uint32_t len = 0;

	bool
	init(const Algo &a, uint32_t size)
	{
		crypto_algo_params p = {};

		fill_keys();
		eng = crypto_engine_create(CRYPTO_ENGINE_MB);
		if (eng == nullptr)
			return false;
		p.cipher = a.cipher;
		p.auth = a.auth;
		p.cipher_key = a.key_len ? kKey : nullptr;
		p.cipher_key_len = a.key_len;
		if (a.auth != CRYPTO_AUTH_NONE) {
			p.auth_key = kAuthKey;
			p.auth_key_len = sizeof(kAuthKey);
		}
		p.icv_len = a.icv_len;
		if (crypto_session_init(&sess, CRYPTO_ENGINE_MB, &p) != 0)
			return false;
		len = payload_len(a, size);
		for (unsigned i = 0; i < kBurst; i++) {
			uint8_t *d = bufs[i].b;
			uint32_t off = kHdr + sess.iv_len;

			memset(d, (int)i, kBufLen);
			memcpy(aad[i], d, kHdr);
			crypto_op &op = ops[i];
			op = crypto_op{};
			op.sess = &sess;
			op.data = d;
			op.cipher_off = off;
			op.cipher_len = len;
			op.auth_len = off + len;
			op.iv = sess.iv_len ? d + kHdr : nullptr;
			op.icv = d + off + len;
			if (sess.is_aead) {
				op.aad = aad[i];
				op.aad_len = 8;
			}
		}
		return true;
	}

	~EspdRun()
	{
		crypto_session_wipe(&sess);
		crypto_engine_free(eng);
	}
};

void
BM_espd_encrypt(benchmark::State &st)
{
	const Algo &a = kAlgos[st.range(0)];
	EspdRun r;

	if (!r.init(a, (uint32_t)st.range(1))) {
		st.SkipWithError("espd setup failed");
		return;
	}
	for (auto _ : st) {
		uint16_t ok = crypto_encrypt_burst(r.eng, r.ops, kBurst);
		benchmark::DoNotOptimize(ok);
	}
	set_counters(st, r.len);
}

void
BM_espd_decrypt(benchmark::State &st)
{
	const Algo &a = kAlgos[st.range(0)];
	EspdRun r;

	if (!r.init(a, (uint32_t)st.range(1))) {
		st.SkipWithError("espd setup failed");
		return;
	}
	if (crypto_encrypt_burst(r.eng, r.ops, kBurst) != kBurst) {
		st.SkipWithError("espd encrypt failed");
		return;
	}
	for (auto _ : st) {
		uint16_t ok = crypto_decrypt_burst(r.eng, r.ops, kBurst);
		benchmark::DoNotOptimize(ok);
	}
	set_counters(st, r.len);
}

// ---- raw IPsec-MB ----------------------------------------------------------

struct RawRun {
	IMB_MGR *mgr = nullptr;
	gcm_key_data *gcm = nullptr;
	alignas(16) uint8_t enc[16 * 15];
	alignas(16) uint8_t dec[16 * 15];
	alignas(16) uint8_t ipad[64];
	alignas(16) uint8_t opad[64];
	alignas(16) uint8_t nonce[kBurst][16];
	alignas(16) uint8_t tag[kBurst][64];
	uint8_t aad[8] = {};
	std::vector<Buf> bufs = std::vector<Buf>(kBurst);
	uint32_t len = 0;
	const Algo *a = nullptr;

	bool
	init(const Algo &al, uint32_t size)
	{
		a = &al;
		fill_keys();
		mgr = alloc_mb_mgr(0);
		if (mgr == nullptr)
			return false;
		init_mb_mgr_auto(mgr, nullptr);
		gcm = (gcm_key_data *)aligned_alloc(64, sizeof(*gcm));
		if (gcm == nullptr)
			return false;
		len = payload_len(al, size);
		for (unsigned i = 0; i < kBurst; i++) {
			memset(bufs[i].b, (int)i, kBufLen);
			memset(nonce[i], (int)i, 12);
		}
		if (al.cipher == CRYPTO_CIPHER_AES_GCM) {
			if (al.key_len == 20)
				IMB_AES128_GCM_PRE(mgr, kKey, gcm);
			else
				IMB_AES256_GCM_PRE(mgr, kKey, gcm);
		} else if (al.cipher == CRYPTO_CIPHER_AES_CBC) {
			if (al.key_len == 16)
				IMB_AES_KEYEXP_128(mgr, kKey, enc, dec);
			else
				IMB_AES_KEYEXP_256(mgr, kKey, enc, dec);
		}
		if (al.auth != CRYPTO_AUTH_NONE)
			hmac_pads();
		return true;
	}

	// Key of 32 bytes, shorter than every block: RFC 2104 2 pads it.
	void
	hmac_pads()
	{
		alignas(16) uint8_t ib[128], ob[128];
		unsigned block = (a->auth == CRYPTO_AUTH_HMAC_SHA384 ||
				  a->auth == CRYPTO_AUTH_HMAC_SHA512) ? 128 : 64;

		memset(ib, 0x36, block);
		memset(ob, 0x5c, block);
		for (unsigned i = 0; i < sizeof(kAuthKey); i++) {
			ib[i] ^= kAuthKey[i];
			ob[i] ^= kAuthKey[i];
		}
		switch (a->auth) {
		case CRYPTO_AUTH_HMAC_SHA1:
			IMB_SHA1_ONE_BLOCK(mgr, ib, ipad);
			IMB_SHA1_ONE_BLOCK(mgr, ob, opad);
			break;
		case CRYPTO_AUTH_HMAC_SHA256:
			IMB_SHA256_ONE_BLOCK(mgr, ib, ipad);
			IMB_SHA256_ONE_BLOCK(mgr, ob, opad);
			break;
		case CRYPTO_AUTH_HMAC_SHA384:
			IMB_SHA384_ONE_BLOCK(mgr, ib, ipad);
			IMB_SHA384_ONE_BLOCK(mgr, ob, opad);
			break;
		default:
			IMB_SHA512_ONE_BLOCK(mgr, ib, ipad);
			IMB_SHA512_ONE_BLOCK(mgr, ob, opad);
			break;
		}
	}

	// One AEAD packet with the single-buffer API.
	void
	direct(unsigned i)
	{
		uint8_t *p = bufs[i].b + kHdr + 8;

		if (a->cipher == CRYPTO_CIPHER_AES_GCM) {
			gcm_context_data ctx;

			if (a->key_len == 20)
				IMB_AES128_GCM_ENC(mgr, gcm, &ctx, p, p, len,
						   nonce[i], aad, 8, tag[i], 16);
			else
				IMB_AES256_GCM_ENC(mgr, gcm, &ctx, p, p, len,
						   nonce[i], aad, 8, tag[i], 16);
		} else {
			chacha20_poly1305_context_data ctx;

			IMB_CHACHA20_POLY1305_INIT(mgr, kKey, &ctx, nonce[i],
						   aad, 8);
			IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, kKey, &ctx, p, p,
							 len);
			IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, tag[i],
							   16);
		}
	}

	void
	fill(IMB_JOB *job, unsigned i)
	{
		uint8_t *d = bufs[i].b;

		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		job->src = d;
		job->auth_tag_output = tag[i];
		job->auth_tag_output_len_in_bytes = a->icv_len;
		switch (a->cipher) {
		case CRYPTO_CIPHER_AES_GCM:
			job->cipher_mode = IMB_CIPHER_GCM;
			job->hash_alg = IMB_AUTH_AES_GMAC;
			job->enc_keys = job->dec_keys = gcm;
			job->key_len_in_bytes = a->key_len - 4;
			job->iv = nonce[i];
			job->iv_len_in_bytes = 12;
			job->u.GCM.aad = aad;
			job->u.GCM.aad_len_in_bytes = 8;
			job->dst = d + kHdr + 8;
			job->cipher_start_src_offset_in_bytes = kHdr + 8;
			job->msg_len_to_cipher_in_bytes = len;
			job->hash_start_src_offset_in_bytes = kHdr + 8;
			job->msg_len_to_hash_in_bytes = len;
			return;
		case CRYPTO_CIPHER_CHACHA20_POLY1305:
			job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
			job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
			job->enc_keys = job->dec_keys = kKey;
			job->key_len_in_bytes = 32;
			job->iv = nonce[i];
			job->iv_len_in_bytes = 12;
			job->u.CHACHA20_POLY1305.aad = aad;
			job->u.CHACHA20_POLY1305.aad_len_in_bytes = 8;
			job->dst = d + kHdr + 8;
			job->cipher_start_src_offset_in_bytes = kHdr + 8;
			job->msg_len_to_cipher_in_bytes = len;
			job->hash_start_src_offset_in_bytes = kHdr + 8;
			job->msg_len_to_hash_in_bytes = len;
			return;
		default:
			break;
		}
		switch (a->auth) {
		case CRYPTO_AUTH_HMAC_SHA1:
			job->hash_alg = IMB_AUTH_HMAC_SHA_1;
			break;
		case CRYPTO_AUTH_HMAC_SHA256:
			job->hash_alg = IMB_AUTH_HMAC_SHA_256;
			break;
		case CRYPTO_AUTH_HMAC_SHA384:
			job->hash_alg = IMB_AUTH_HMAC_SHA_384;
			break;
		default:
			job->hash_alg = IMB_AUTH_HMAC_SHA_512;
			break;
		}
		job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
		job->u.HMAC._hashed_auth_key_xor_opad = opad;
		job->hash_start_src_offset_in_bytes = 0;
		if (a->cipher == CRYPTO_CIPHER_NULL) {
			job->cipher_mode = IMB_CIPHER_NULL;
			job->key_len_in_bytes = 16;
			job->dst = d + kHdr;
			job->cipher_start_src_offset_in_bytes = kHdr;
			job->msg_len_to_cipher_in_bytes = len;
			job->msg_len_to_hash_in_bytes = kHdr + len;
			job->iv = nullptr;
			job->iv_len_in_bytes = 0;
			return;
		}
		job->cipher_mode = IMB_CIPHER_CBC;
		job->enc_keys = enc;
		job->dec_keys = dec;
		job->key_len_in_bytes = a->key_len;
		job->iv = d + kHdr;
		job->iv_len_in_bytes = 16;
		job->dst = d + kHdr + 16;
		job->cipher_start_src_offset_in_bytes = kHdr + 16;
		job->msg_len_to_cipher_in_bytes = len;
		job->msg_len_to_hash_in_bytes = kHdr + 16 + len;
	}

	bool
	burst()
	{
		IMB_JOB *jobs[kBurst];
		uint32_t n, done;

		n = IMB_GET_NEXT_BURST(mgr, kBurst, jobs);
		if (n < kBurst)
			return false;
		for (unsigned i = 0; i < kBurst; i++)
			fill(jobs[i], i);
		done = IMB_SUBMIT_BURST_NOCHECK(mgr, kBurst, jobs);
		if (done < kBurst)
			done += IMB_FLUSH_BURST(mgr, kBurst - done, jobs + done);
		return done == kBurst && jobs[0]->status == IMB_STATUS_COMPLETED;
	}

	~RawRun()
	{
		free(gcm);
		if (mgr != nullptr)
			free_mb_mgr(mgr);
	}
};

void
BM_raw_direct(benchmark::State &st)
{
	RawRun r;

	if (!r.init(kAlgos[st.range(0)], (uint32_t)st.range(1))) {
		st.SkipWithError("raw setup failed");
		return;
	}
	for (auto _ : st) {
		for (unsigned i = 0; i < kBurst; i++)
			r.direct(i);
		benchmark::ClobberMemory();
	}
	set_counters(st, r.len);
}

void
BM_raw_burst(benchmark::State &st)
{
	RawRun r;

	if (!r.init(kAlgos[st.range(0)], (uint32_t)st.range(1))) {
		st.SkipWithError("raw setup failed");
		return;
	}
	if (!r.burst()) {
		st.SkipWithError("raw burst failed");
		return;
	}
	for (auto _ : st) {
		bool ok = r.burst();
		benchmark::DoNotOptimize(ok);
	}
	set_counters(st, r.len);
}

void
all_algos(benchmark::internal::Benchmark *b)
{
	b->ArgNames({ "algo", "size" });
	for (int a = 0; a < kNumAlgos; a++)
		for (int64_t z : { 64, 512, 1420 })
			b->Args({ a, z });
}

void
aead_algos(benchmark::internal::Benchmark *b)
{
	b->ArgNames({ "algo", "size" });
	for (int a = 0; a < kAeads; a++)
		for (int64_t z : { 64, 512, 1420 })
			b->Args({ a, z });
}

// The cryptodev engine, once per process (bench_main brought EAL up).
bool
cdev_ready()
{
	static int state; // 0 not tried, 1 up, -1 failed

	if (state == 0)
		state = rte_vdev_init("crypto_aesni_mb_bench", "") == 0 &&
				crypto_cdev_open("crypto_aesni_mb_bench", 1, 0) == 0 ? 1 : -1;
	return state == 1;
}

void
BM_engine_burst(benchmark::State &st)
{
	const Algo &a = kAlgos[0]; // AES-GCM-128
	const bool cdev = st.range(0) != 0;
	const unsigned burst = (unsigned)st.range(1);
	const enum crypto_engine_kind kind = cdev ? CRYPTO_ENGINE_CDEV : CRYPTO_ENGINE_MB;
	crypto_algo_params p = {};
	std::vector<Buf> bufs(64);
	uint8_t aad[64][12];
	crypto_op ops[64];
	crypto_session sess;
	crypto_engine *eng;

	if (cdev && !cdev_ready()) {
		st.SkipWithError("no crypto_aesni_mb vdev");
		return;
	}
	fill_keys();
	p.cipher = a.cipher;
	p.cipher_key = kKey;
	p.cipher_key_len = a.key_len;
	p.icv_len = a.icv_len;
	eng = crypto_engine_create(kind);
	if (eng == nullptr || crypto_session_init(&sess, kind, &p) != 0) {
		crypto_engine_free(eng);
		st.SkipWithError("engine or session");
		return;
	}
	for (unsigned i = 0; i < burst; i++) {
		uint8_t *d = bufs[i].b;

		memset(d, (int)i, kBufLen);
		memcpy(aad[i], d, kHdr);
		ops[i] = crypto_op{};
		ops[i].sess = &sess;
		ops[i].data = d;
		ops[i].cipher_off = kHdr + 8;
		ops[i].cipher_len = 64;
		ops[i].auth_len = kHdr + 8 + 64;
		ops[i].iv = d + kHdr;
		ops[i].icv = d + kHdr + 8 + 64;
		ops[i].aad = aad[i];
		ops[i].aad_len = 8;
	}
	for (auto _ : st) {
		uint16_t ok = crypto_encrypt_burst(eng, ops, (uint16_t)burst);
		benchmark::DoNotOptimize(ok);
	}
	st.SetItemsProcessed((int64_t)st.iterations() * burst);
	st.SetLabel(cdev ? "cryptodev aesni_mb" : "built-in");
	crypto_session_wipe(&sess);
	crypto_engine_free(eng);
}

} // namespace

BENCHMARK(BM_engine_burst)
	->ArgNames({ "engine", "burst" })
	->ArgsProduct({ { 0, 1 }, { 1, 2, 4, 8, 16, 32, 64 } });
BENCHMARK(BM_espd_encrypt)->Apply(all_algos);
BENCHMARK(BM_espd_decrypt)->Apply(all_algos);
BENCHMARK(BM_raw_direct)->Apply(aead_algos);
BENCHMARK(BM_raw_burst)->Apply(all_algos);

// main() is in bench_main.cc: it brings EAL up first, for bench_esp.cc.
