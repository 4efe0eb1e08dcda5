// SPDX-License-Identifier: BSD-3-Clause
//
// Micro-benchmarks of the crypto engine (Google Benchmark), bursts of 32
// packets at 64, 512 and 1420 payload bytes (CBC rounds up to 1424):
//   BM_espd_encrypt / BM_espd_decrypt: crypto_*_burst through crypto.h;
//   BM_raw_direct: the single-buffer IPsec-MB AEAD calls, one per packet;
//   BM_raw_burst: the IPsec-MB job burst API, no framing at all.
//   BM_espd_encrypt_sas/sas:S/size:Z: AES-GCM-128 encrypt through
//   crypto.h, op i of a burst on session i % S, each session its own key:
//   what a burst of different SAs costs against one SA.
// Raw direct against raw burst decides, per algorithm, which path
// crypto_mb.c uses (MB_GCM_USE_JOBS, MB_CHACHA_USE_JOBS).
//   BM_engine_burst/engine:E/burst:B: AES-GCM-128 encrypt, 64 B, bursts
//   of B through crypto_encrypt_burst on the built-in engine (E 0) or the
//   cryptodev engine over a crypto_aesni_mb vdev (E 1, the same IPsec-MB
//   underneath): the fixed cost of a burst against the cost of an op.
//   BM_engine_async/engine:E/size:S/batch:B: AES-GCM-128 encrypt, S
//   bytes, B ops per iteration, each op over its own rte_mbuf. E 0: the
//   built-in engine inline (crypto_encrypt_burst of B). E 1: the cryptodev
//   engine over crypto_aesni_mb, asynchronous: submit B, collect what is
//   done, up to 2*B in flight. E 2: the same loop on a crypto_null vdev
//   through the raw cryptodev API (espd's sessions cannot say NULL/NULL):
//   what a worker pays to hand an op to a device that does the crypto
//   elsewhere (op alloc, fill, enqueue, dequeue, free), against E 0.
//   Items are ops; for E 1 and 2 the ops collected inside the timed loop
//   (the drain after it is not timed).
//
// Decrypt runs over the same buffers again and again: after the first
// pass the ICV no longer matches, which costs exactly the same (the whole
// tag is always computed and compared in constant time).
//
// Counters: items/s = packets/s, bytes/s = payload bytes/s.
// rte_cryptodev_sym_session_pool_create() (BM_engine_async's crypto_null
// session) is still experimental in 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>

#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

extern "C" {
#include "crypto/crypto.h"
}

// bench_main.cc: EAL is up (mbufs, vdevs).
extern bool bench_eal_up;

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
	// Session i % nsess for op i, each under its own key (nsess of
	// kBurst: every packet of a burst a different SA).
	std::vector<crypto_session> sessions = std::vector<crypto_session>(kBurst);
	unsigned nsess = 0;
	std::vector<Buf> bufs = std::vector<Buf>(kBurst);
	uint8_t aad[kBurst][12];
	crypto_op ops[kBurst];
	uint32_t len = 0;

	bool
	init(const Algo &a, uint32_t size, unsigned n_sess = 1)
	{
		crypto_algo_params p = {};
		uint8_t key[sizeof(kKey)];

		fill_keys();
		eng = crypto_engine_create(CRYPTO_ENGINE_MB);
		if (eng == nullptr)
			return false;
		memcpy(key, kKey, sizeof(key));
		p.cipher = a.cipher;
		p.auth = a.auth;
		p.cipher_key = a.key_len ? key : nullptr;
		p.cipher_key_len = a.key_len;
		if (a.auth != CRYPTO_AUTH_NONE) {
			p.auth_key = kAuthKey;
			p.auth_key_len = sizeof(kAuthKey);
		}
		p.icv_len = a.icv_len;
		for (; nsess < n_sess; nsess++) {
			key[0] = (uint8_t)(kKey[0] + nsess);
			if (crypto_session_init(&sessions[nsess], CRYPTO_ENGINE_MB, &p) != 0)
				return false;
		}
		len = payload_len(a, size);
		const crypto_session &sess = sessions[0]; // all alike but the key
		for (unsigned i = 0; i < kBurst; i++) {
			uint8_t *d = bufs[i].b;
			uint32_t off = kHdr + sess.iv_len;

			memset(d, (int)i, kBufLen);
			memcpy(aad[i], d, kHdr);
			crypto_op &op = ops[i];
			op = crypto_op{};
			op.sess = &sessions[i % nsess];
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
		for (unsigned i = 0; i < nsess; i++)
			crypto_session_wipe(&sessions[i]);
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

// AES-GCM-128 encrypt of bursts of 32 where every op has its own SA
// (sas:32) against one SA for all (sas:1): what distinct keys cost.
void
BM_espd_encrypt_sas(benchmark::State &st)
{
	EspdRun r;

	if (!r.init(kAlgos[0], (uint32_t)st.range(1), (unsigned)st.range(0))) {
		st.SkipWithError("espd setup failed");
		return;
	}
	for (auto _ : st) {
		uint16_t ok = crypto_encrypt_burst(r.eng, r.ops, kBurst);
		benchmark::DoNotOptimize(ok);
	}
	st.SetItemsProcessed((int64_t)st.iterations() * kBurst);
	st.SetBytesProcessed((int64_t)st.iterations() * kBurst * r.len);
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

// The AEADs again at the sizes around where the engine's four-lane
// AES-GCM (crypto/gcm_x4.c) and sixteen-block ChaCha20-Poly1305
// (crypto/chacha_x16.c) hand over to IPsec-MB's calls.
void
aead_short(benchmark::internal::Benchmark *b)
{
	b->ArgNames({ "algo", "size" });
	for (int a = 0; a < kAeads; a++)
		for (int64_t z : { 128, 192, 256, 320, 768, 1016, 1528, 1600 })
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

// ---- asynchronous engines ------------------------------------------------

constexpr unsigned kBatchMax = 128;
constexpr unsigned kSlots = 2 * kBatchMax; // up to 2*B ops in flight
constexpr uint32_t kSpinMax = 1u << 24;    // polls without progress: stalled

// The packets of BM_engine_async, once per process: the cdev engine takes
// each op's IOVA from its mbuf, so every engine gets real mbufs.
rte_mempool *
async_mbuf_pool()
{
	static rte_mempool *mp;

	if (mp == nullptr && bench_eal_up)
		mp = rte_pktmbuf_pool_create("bench_async", 2 * kSlots - 1, 0, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE,
					     (int)rte_socket_id());
	return mp;
}

// 2*B slots, one mbuf each: ESP header, IV, S payload bytes, ICV. The
// ops of slots [h*B, h*B + B) are half h of the pipeline.
struct AsyncSlots {
	rte_mbuf *m[kSlots] = {};
	crypto_op ops[kSlots];
	crypto_op *ptr[kSlots];
	uint8_t aad[kSlots][8];
	unsigned n = 0;

	bool
	init(const crypto_session *sess, unsigned nslots, uint32_t size)
	{
		rte_mempool *mp = async_mbuf_pool();
		uint32_t len = kHdr + 8 + size + 16;

		if (mp == nullptr)
			return false;
		for (; n < nslots; n++) {
			rte_mbuf *mb = rte_pktmbuf_alloc(mp);
			uint8_t *d;

			if (mb == nullptr)
				return false;
			m[n] = mb;
			d = (uint8_t *)rte_pktmbuf_append(mb, (uint16_t)len);
			if (d == nullptr)
				return false;
			memset(d, (int)n, len);
			memcpy(aad[n], d, kHdr);
			ops[n] = crypto_op{};
			ops[n].sess = sess;
			ops[n].data = d;
			ops[n].cipher_off = kHdr + 8;
			ops[n].cipher_len = size;
			ops[n].auth_len = kHdr + 8 + size;
			ops[n].iv = d + kHdr;
			ops[n].icv = d + kHdr + 8 + size;
			ops[n].aad = aad[n];
			ops[n].aad_len = 8;
			ops[n].mbuf = mb;
			ptr[n] = &ops[n];
		}
		return true;
	}

	~AsyncSlots()
	{
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
	}
};

// Everything the engine has done now, without waiting; counts failures.
unsigned
collect_done(crypto_engine *e, uint64_t &bad)
{
	crypto_op *out[64];
	unsigned total = 0;
	uint16_t got;

	do {
		got = crypto_collect_burst(e, out, 64);
		for (uint16_t i = 0; i < got; i++)
			bad += out[i]->status != CRYPTO_OK;
		total += got;
	} while (got == 64);
	return total;
}

// Collect until at most @p left ops are in flight; false when stalled.
bool
collect_until(crypto_engine *e, unsigned left, uint64_t &done, uint64_t &bad)
{
	uint32_t spins = 0;

	while (crypto_inflight(e) > left) {
		unsigned got = collect_done(e, bad);

		done += got;
		if (got == 0 && ++spins > kSpinMax)
			return false;
	}
	return true;
}

// A NULL-cipher, NULL-auth session on a crypto_null vdev, through the raw
// cryptodev API, once per process: crypto_null offers nothing else, and
// espd's sessions refuse NULL/NULL (RFC 4303 3.2), so the engine cannot
// drive it.
struct NullDev {
	int state = 0; // 0 not tried, 1 up, -1 failed
	const char *err = nullptr;
	uint8_t id = 0;
	rte_mempool *sess_pool = nullptr;
	rte_mempool *op_pool = nullptr;
	void *sess = nullptr;
};

// Behind the symmetric op: the nonce and AAD a real device reads, written
// as espd's cdev engine writes them for GCM, so the fill costs the same.
constexpr uint32_t kNullPrivOff = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);
constexpr uint32_t kNullPrivLen = 32; // nonce 16, AAD 16

bool
null_fail(NullDev &d, const char *err)
{
	d.err = err;
	d.state = -1;
	return false;
}

bool
null_dev_ready(NullDev &d)
{
	const char *name = "crypto_null_bench";
	rte_cryptodev_config conf = {};
	rte_cryptodev_qp_conf qc = {};
	rte_crypto_sym_xform x[2] = {};
	int id;

	if (d.state != 0)
		return d.state == 1;
	if (!bench_eal_up)
		return null_fail(d, "EAL is not up");
	if (rte_vdev_init(name, "") != 0 || (id = rte_cryptodev_get_dev_id(name)) < 0)
		return null_fail(d, "no crypto_null vdev");
	d.id = (uint8_t)id;
	conf.socket_id = (int)rte_socket_id();
	conf.nb_queue_pairs = 1;
	if (rte_cryptodev_configure(d.id, &conf) < 0)
		return null_fail(d, "crypto_null: configure");
	d.sess_pool = rte_cryptodev_sym_session_pool_create("bench_null_s", 4,
		rte_cryptodev_sym_get_private_session_size(d.id), 0, 0,
		(int)rte_socket_id());
	if (d.sess_pool == nullptr)
		return null_fail(d, "crypto_null: session pool");
	qc.nb_descriptors = 2048; // as crypto_cdev_open's default
	qc.mp_session = d.sess_pool;
	if (rte_cryptodev_queue_pair_setup(d.id, 0, &qc, (int)rte_socket_id()) < 0)
		return null_fail(d, "crypto_null: queue pair");
	// As crypto_cdev_open sizes its pool, with a 64-op lcore cache.
	d.op_pool = rte_crypto_op_pool_create("bench_null_op",
		RTE_CRYPTO_OP_TYPE_SYMMETRIC, 2 * kSlots + 2 * 64 * 2, 64,
		kNullPrivLen, (int)rte_socket_id());
	if (d.op_pool == nullptr)
		return null_fail(d, "crypto_null: op pool");
	if (rte_cryptodev_start(d.id) < 0)
		return null_fail(d, "crypto_null: start");
	// Cipher then auth, as an AEAD op would carry both ranges.
	x[0].type = RTE_CRYPTO_SYM_XFORM_CIPHER;
	x[0].cipher.op = RTE_CRYPTO_CIPHER_OP_ENCRYPT;
	x[0].cipher.algo = RTE_CRYPTO_CIPHER_NULL;
	x[0].next = &x[1];
	x[1].type = RTE_CRYPTO_SYM_XFORM_AUTH;
	x[1].auth.op = RTE_CRYPTO_AUTH_OP_GENERATE;
	x[1].auth.algo = RTE_CRYPTO_AUTH_NULL;
	d.sess = rte_cryptodev_sym_session_create(d.id, x, d.sess_pool);
	if (d.sess == nullptr)
		return null_fail(d, "crypto_null: NULL/NULL session");
	d.state = 1;
	return true;
}

// One op for @p op's packet, filled as the cdev engine fills a GCM op.
inline void
null_fill(const NullDev &d, rte_crypto_op *cop, const crypto_op &op)
{
	uint8_t *pv = (uint8_t *)cop + kNullPrivOff;
	rte_crypto_sym_op *sym = cop->sym;

	memcpy(pv, kKey + 16, 4); // salt || explicit IV
	memcpy(pv + 4, op.iv, 8);
	memcpy(pv + 16, op.aad, 8);
	sym->m_src = (rte_mbuf *)op.mbuf;
	sym->m_dst = nullptr;
	sym->cipher.data.offset = op.cipher_off;
	sym->cipher.data.length = op.cipher_len;
	sym->auth.data.offset = 0;
	sym->auth.data.length = op.auth_len;
	sym->auth.digest.data = pv + 16;
	sym->auth.digest.phys_addr = rte_crypto_op_ctophys_offset(cop, kNullPrivOff + 16);
	rte_crypto_op_attach_sym_session(cop, d.sess);
}

// Dequeue what the device has done, check and free it.
unsigned
null_collect(const NullDev &d, uint64_t &bad)
{
	rte_crypto_op *out[64];
	unsigned total = 0;
	uint16_t got;

	do {
		got = rte_cryptodev_dequeue_burst(d.id, 0, out, 64);
		for (uint16_t i = 0; i < got; i++)
			bad += out[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS;
		if (got != 0)
			rte_mempool_put_bulk(d.op_pool, (void **)out, got);
		total += got;
	} while (got == 64);
	return total;
}

void
async_sync(benchmark::State &st, crypto_engine *e, AsyncSlots &s, unsigned b)
{
	uint64_t bad = 0;

	for (auto _ : st) {
		uint16_t ok = crypto_encrypt_burst(e, s.ops, (uint16_t)b);

		bad += b - ok;
	}
	if (bad != 0)
		st.SkipWithError("built-in engine: ops failed");
	st.SetItemsProcessed((int64_t)st.iterations() * b);
}

// Submit half h while the other half may still be out; before half h goes
// again, its ops have come back (collect keeps the order).
void
async_cdev(benchmark::State &st, crypto_engine *e, AsyncSlots &s, unsigned b)
{
	uint64_t done = 0, bad = 0, drained = 0;
	unsigned h = 0;
	bool stalled = false;

	for (auto _ : st) {
		crypto_op **batch = s.ptr + h * b;
		unsigned sent = 0;
		uint32_t spins = 0;

		if (!collect_until(e, b, done, bad)) {
			stalled = true;
			break;
		}
		while (sent < b) {
			unsigned k = crypto_submit_burst(e, batch + sent,
							 (uint16_t)(b - sent), true);
			unsigned got;

			sent += k;
			if (sent == b)
				break;
			// Queue full: make room.
			got = collect_done(e, bad);
			done += got;
			if (k == 0 && got == 0 && ++spins > kSpinMax)
				break;
		}
		if (sent < b) {
			stalled = true;
			break;
		}
		done += collect_done(e, bad);
		h ^= 1;
	}
	// Drain, untimed and uncounted: items are the ops collected inside
	// the timed loop.
	if (!collect_until(e, 0, drained, bad))
		stalled = true;
	if (stalled)
		st.SkipWithError("cryptodev engine stalled");
	else if (bad != 0)
		st.SkipWithError("cryptodev engine: ops failed");
	st.SetItemsProcessed((int64_t)done);
}

// The same pipeline on the raw API: alloc, fill, enqueue, dequeue, free.
void
async_null(benchmark::State &st, const NullDev &d, AsyncSlots &s, unsigned b)
{
	rte_crypto_op *cops[kBatchMax];
	uint64_t done = 0, bad = 0;
	unsigned inflight = 0, h = 0;
	const char *err = nullptr;

	for (auto _ : st) {
		unsigned sent = 0;
		uint32_t spins = 0;

		while (inflight > b) {
			unsigned got = null_collect(d, bad);

			inflight -= got;
			done += got;
			if (got == 0 && ++spins > kSpinMax)
				break;
		}
		if (inflight > b) {
			err = "crypto_null stalled";
			break;
		}
		if (rte_crypto_op_bulk_alloc(d.op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
					     cops, (uint16_t)b) == 0) {
			err = "crypto_null: no ops free";
			break;
		}
		for (unsigned i = 0; i < b; i++)
			null_fill(d, cops[i], s.ops[h * b + i]);
		while (sent < b) {
			unsigned k = rte_cryptodev_enqueue_burst(d.id, 0, cops + sent,
								 (uint16_t)(b - sent));
			unsigned got;

			sent += k;
			inflight += k;
			if (sent == b)
				break;
			got = null_collect(d, bad);
			inflight -= got;
			done += got;
			if (k == 0 && got == 0 && ++spins > kSpinMax)
				break;
		}
		if (sent < b) {
			rte_mempool_put_bulk(d.op_pool, (void **)(cops + sent), b - sent);
			err = "crypto_null stalled";
			break;
		}
		{
			unsigned got = null_collect(d, bad);

			inflight -= got;
			done += got;
		}
		h ^= 1;
	}
	for (uint32_t spins = 0; inflight > 0 && spins <= kSpinMax;) {
		unsigned got = null_collect(d, bad);

		inflight -= got;
		if (got == 0)
			spins++;
	}
	if (err == nullptr && inflight != 0)
		err = "crypto_null stalled";
	if (err == nullptr && bad != 0)
		err = "crypto_null: ops failed";
	if (err != nullptr)
		st.SkipWithError(err);
	st.SetItemsProcessed((int64_t)done);
}

void
BM_engine_async(benchmark::State &st)
{
	static const char *const kLabel[] = { "built-in inline",
		"cryptodev aesni_mb async", "crypto_null raw async (handoff only)" };
	const int eng_kind = (int)st.range(0);
	const uint32_t size = (uint32_t)st.range(1);
	const unsigned b = (unsigned)st.range(2);
	const enum crypto_engine_kind kind = eng_kind == 1 ? CRYPTO_ENGINE_CDEV :
							    CRYPTO_ENGINE_MB;
	static NullDev nd;
	crypto_algo_params p = {};
	crypto_session sess;
	crypto_engine *eng = nullptr;
	AsyncSlots s;

	st.SetLabel(kLabel[eng_kind]);
	if (!bench_eal_up || async_mbuf_pool() == nullptr) {
		st.SkipWithError("no EAL or mbuf pool");
		return;
	}
	fill_keys();
	if (eng_kind == 2) {
		if (!null_dev_ready(nd)) {
			st.SkipWithError(nd.err);
			return;
		}
		if (!s.init(nullptr, 2 * b, size)) {
			st.SkipWithError("mbufs");
			return;
		}
		async_null(st, nd, s, b);
		return;
	}
	if (eng_kind == 1 && !cdev_ready()) {
		st.SkipWithError("no crypto_aesni_mb vdev");
		return;
	}
	p.cipher = CRYPTO_CIPHER_AES_GCM;
	p.cipher_key = kKey;
	p.cipher_key_len = 20;
	p.icv_len = 16;
	eng = crypto_engine_create(kind);
	if (eng == nullptr || crypto_session_init(&sess, kind, &p) != 0) {
		crypto_engine_free(eng);
		st.SkipWithError("engine or session");
		return;
	}
	if (!s.init(&sess, eng_kind == 1 ? 2 * b : b, size))
		st.SkipWithError("mbufs");
	else if (eng_kind == 1)
		async_cdev(st, eng, s, b);
	else
		async_sync(st, eng, s, b);
	crypto_engine_free(eng); // waits for anything still out
	crypto_session_wipe(&sess);
}

} // namespace

BENCHMARK(BM_engine_burst)
	->ArgNames({ "engine", "burst" })
	->ArgsProduct({ { 0, 1 }, { 1, 2, 4, 8, 16, 32, 64 } });
BENCHMARK(BM_engine_async)
	->ArgNames({ "engine", "size", "batch" })
	->ArgsProduct({ { 0, 1, 2 }, { 64, 512, 1420 },
			{ 1, 4, 8, 16, 32, 64, 128 } });
BENCHMARK(BM_espd_encrypt)->Apply(all_algos);
BENCHMARK(BM_espd_decrypt)->Apply(all_algos);
BENCHMARK(BM_raw_direct)->Apply(aead_algos);
BENCHMARK(BM_espd_encrypt)->Apply(aead_short);
BENCHMARK(BM_espd_decrypt)->Apply(aead_short);
BENCHMARK(BM_raw_direct)->Apply(aead_short);
BENCHMARK(BM_raw_burst)->Apply(all_algos);
BENCHMARK(BM_espd_encrypt_sas)
	->ArgNames({ "sas", "size" })
	->ArgsProduct({ { 1, 32 }, { 64, 128, 512 } });

// main() is in bench_main.cc: it brings EAL up first, for bench_esp.cc.
