// SPDX-License-Identifier: BSD-3-Clause
//
// Micro-benchmarks of the ESP core (dataplane/esp.h) beside the bare
// IPsec-MB call it wraps, so the framing overhead shows as a ratio. Bursts
// of 32 IPv4 UDP packets of 64, 512 and 1420 bytes (the inner IP length),
// tunnel mode, IPv4 outer header, no ESN, no UDP encap:
//   BM_esp_encap:  reset 32 plain mbufs, then esp_out_process();
//   BM_esp_reset:  the reset alone (memcpy the packet back, data_off and
//                  lengths), to subtract from BM_esp_encap;
//   BM_esp_crypto: crypto_encrypt_burst() alone on the ops an encap laid
//                  out: the crypto layer's share of the overhead;
//   BM_esp_decap:  reset 32 mbufs from 32 prebuilt ESP packets, then
//                  esp_in_parse() on each and esp_in_process() (the
//                  inbound SA has no replay window, so repeats pass);
//   BM_esp_reset_in: that reset alone, to subtract from BM_esp_decap;
//   BM_raw_gcm128_enc: IMB_AES128_GCM_ENC on an IMB_MGR of our own over
//                  what the ESP payload would be (inner + trailer, 4-byte
//                  aligned), 8-byte AAD, one call per packet;
//   BM_raw_esp_enc: the same for the other algorithms, each on the path
//                  crypto_mb.c takes (GCM direct, ChaCha20 and CBC+HMAC as
//                  one job burst; CBC over IV || payload under a zero IV
//                  and HMAC over ESP header, IV and payload).
// Each (algorithm, size) group runs back to back, so the ratio
//   (encap - reset) / raw   in ns per packet
// compares numbers taken moments apart on the same core.
//
// Counters: items/s = packets/s; bytes/s = inner IP bytes/s.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>

extern "C" {
#include "crypto/crypto.h"
#include "dataplane/esp.h"
}

// Set by bench_main.cc once rte_eal_init has succeeded.
extern bool bench_eal_up;

namespace {

constexpr unsigned kBurst = 32;
constexpr unsigned kSlot = 2048; // bytes per raw buffer
constexpr unsigned kRawOff = 64; // raw payload offset: 64-byte aligned
constexpr uint32_t kSpi = 0x2000;

struct EspAlgo {
	const char *name;
	crypto_cipher cipher;
	crypto_auth auth;
	uint16_t key_len; // with the salt for AEADs
	uint16_t icv_len;
};

const EspAlgo kAlgos[] = {
	{ "aes128-gcm", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 20, 16 },
	{ "aes256-gcm", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 36, 16 },
	{ "chacha20-poly1305", CRYPTO_CIPHER_CHACHA20_POLY1305,
	  CRYPTO_AUTH_NONE, 36, 16 },
	{ "aes128-cbc-hmac-sha256-128", CRYPTO_CIPHER_AES_CBC,
	  CRYPTO_AUTH_HMAC_SHA256, 16, 16 },
};
constexpr int kNumAlgos = sizeof(kAlgos) / sizeof(kAlgos[0]);
const int64_t kSizes[] = { 64, 512, 1420 };

uint8_t kKey[36];
uint8_t kAuthKey[32];

void
fill_keys()
{
	for (unsigned i = 0; i < sizeof(kKey); i++)
		kKey[i] = (uint8_t)(i * 11 + 3);
	for (unsigned i = 0; i < sizeof(kAuthKey); i++)
		kAuthKey[i] = (uint8_t)(i * 5 + 17);
}

// RFC 4303 2.4: what the cipher sees, inner packet + pad + 2.
uint32_t
esp_payload_len(const EspAlgo &a, uint32_t inner)
{
	uint32_t align = a.cipher == CRYPTO_CIPHER_AES_CBC ? 16 : 4;

	return (inner + 2 + align - 1) & ~(align - 1);
}

void
set_counters(benchmark::State &st, const EspAlgo *a, uint32_t inner)
{
	st.SetItemsProcessed((int64_t)st.iterations() * kBurst);
	st.SetBytesProcessed((int64_t)st.iterations() * kBurst * inner);
	if (a != nullptr)
		st.SetLabel(a->name);
}

rte_mempool *
mbuf_pool()
{
	static rte_mempool *pool;

	if (pool == nullptr && bench_eal_up)
		pool = rte_pktmbuf_pool_create("bench_esp", 255, 0, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE,
					       SOCKET_ID_ANY);
	return pool;
}

// An IPv4 UDP datagram of @p len bytes in all.
std::vector<uint8_t>
plain_packet(uint16_t len)
{
	std::vector<uint8_t> b(len);
	auto *ip = reinterpret_cast<rte_ipv4_hdr *>(b.data());
	auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);

	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192, 168, 1, 10));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(192, 168, 2, 20));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(40001);
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len - sizeof(*ip)));
	for (size_t i = sizeof(*ip) + sizeof(*udp); i < len; i++)
		b[i] = (uint8_t)(i * 7);
	return b;
}

// Put a packet back as it was before the last pass: what every ESP
// iteration pays on top of the ESP call, and BM_esp_reset* measure.
inline void
mbuf_reset(rte_mbuf *m, const uint8_t *src, uint16_t len)
{
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->data_len = len;
	m->pkt_len = len;
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), src, len);
}

// ---- ESP ----------------------------------------------------------------

struct EspRun {
	esp_ctx *ctx = nullptr;
	esp_sa *out = nullptr;
	esp_sa *in = nullptr;
	bool out_ok = false, in_ok = false;
	rte_mbuf *m[kBurst] = {};
	rte_mbuf *pkts[kBurst];
	esp_sa *sas[kBurst];
	uint16_t why[kBurst];
	std::vector<uint8_t> plain;
	std::vector<std::vector<uint8_t>> esp; // prebuilt ESP packets
	const char *err = nullptr;

	bool
	fail(const char *why_str)
	{
		err = why_str;
		return false;
	}

	bool
	init(const EspAlgo &a, uint16_t size, bool decap)
	{
		esp_sa_conf c = {};

		if (!bench_eal_up || mbuf_pool() == nullptr)
			return fail("EAL or mbuf pool not up");
		fill_keys();
		plain = plain_packet(size);
		for (unsigned i = 0; i < kBurst; i++) {
			m[i] = rte_pktmbuf_alloc(mbuf_pool());
			if (m[i] == nullptr)
				return fail("mbuf alloc failed");
			mbuf_reset(m[i], plain.data(), size);
		}
		ctx = new esp_ctx();
		ctx->engine = crypto_engine_create(CRYPTO_ENGINE_MB);
		if (ctx->engine == nullptr)
			return fail("crypto engine failed");

		c.spi = kSpi;
		c.mode = ESP_MODE_TUNNEL;
		c.src.family = c.dst.family = 4;
		c.src.v4 = rte_cpu_to_be_32(RTE_IPV4(172, 16, 1, 5));
		c.dst.v4 = rte_cpu_to_be_32(RTE_IPV4(172, 16, 2, 5));
		c.replay_window = 0; // decap: repeats of one burst must pass
		c.algo.cipher = a.cipher;
		c.algo.auth = a.auth;
		c.algo.cipher_key = kKey;
		c.algo.cipher_key_len = a.key_len;
		if (a.auth != CRYPTO_AUTH_NONE) {
			c.algo.auth_key = kAuthKey;
			c.algo.auth_key_len = sizeof(kAuthKey);
		}
		c.algo.icv_len = a.icv_len;

		out = new esp_sa;
		c.dir = ESP_DIR_OUT;
		if (esp_sa_init(out, &c, CRYPTO_ENGINE_MB) != 0)
			return fail("outbound SA init failed");
		out_ok = true;
		if (!decap)
			return true;

		in = new esp_sa;
		c.dir = ESP_DIR_IN;
		if (esp_sa_init(in, &c, CRYPTO_ENGINE_MB) != 0)
			return fail("inbound SA init failed");
		in_ok = true;
		// 32 distinct packets, sequence numbers 1..32.
		if (encap() != kBurst)
			return fail("encap of the decap input failed");
		for (unsigned i = 0; i < kBurst; i++) {
			const uint8_t *p = rte_pktmbuf_mtod(m[i], uint8_t *);

			esp.emplace_back(p, p + m[i]->data_len);
		}
		// One trial pass: every packet must come back as it went in.
		if (decap_pass() != kBurst)
			return fail("decap of a prebuilt burst failed");
		for (unsigned i = 0; i < kBurst; i++)
			if (m[i]->data_len != size ||
			    memcmp(rte_pktmbuf_mtod(m[i], uint8_t *),
				   plain.data(), size) != 0)
				return fail("decap gave a different packet");
		return true;
	}

	void
	reset_plain()
	{
		uint16_t len = (uint16_t)plain.size();

		for (unsigned i = 0; i < kBurst; i++) {
			mbuf_reset(m[i], plain.data(), len);
			pkts[i] = m[i];
			sas[i] = out;
		}
	}

	void
	reset_esp()
	{
		for (unsigned i = 0; i < kBurst; i++) {
			mbuf_reset(m[i], esp[i].data(), (uint16_t)esp[i].size());
			pkts[i] = m[i];
			sas[i] = in;
		}
	}

	uint16_t
	encap()
	{
		reset_plain();
		// Far from the 2^32 limit, however long the run.
		if (unlikely(out->seq > (1u << 30)))
			out->seq = 0;
		return esp_out_process(ctx, pkts, sas, kBurst, why);
	}

	uint16_t
	decap_pass()
	{
		uint32_t spi;

		reset_esp();
		for (unsigned i = 0; i < kBurst; i++)
			if (unlikely(esp_in_parse(pkts[i], nullptr, &spi) !=
					     ESP_IN_ESP ||
				     spi != kSpi))
				return 0;
		return esp_in_process(ctx, pkts, sas, kBurst, why);
	}

	~EspRun()
	{
		for (unsigned i = 0; i < kBurst; i++)
			rte_pktmbuf_free(m[i]); // NULL is fine
		if (out_ok)
			esp_sa_fini(out);
		if (in_ok)
			esp_sa_fini(in);
		delete out;
		delete in;
		if (ctx != nullptr)
			crypto_engine_free(ctx->engine);
		delete ctx;
	}
};

void
BM_esp_encap(benchmark::State &st, int algo, uint16_t size)
{
	EspRun r;

	if (!r.init(kAlgos[algo], size, false)) {
		st.SkipWithError(r.err);
		return;
	}
	for (auto _ : st) {
		if (unlikely(r.encap() != kBurst)) {
			st.SkipWithError("esp_out_process dropped packets");
			break;
		}
	}
	set_counters(st, &kAlgos[algo], size);
}

void
BM_esp_reset(benchmark::State &st, uint16_t size)
{
	EspRun r;

	if (!r.init(kAlgos[0], size, false)) {
		st.SkipWithError(r.err);
		return;
	}
	for (auto _ : st) {
		r.reset_plain();
		benchmark::DoNotOptimize(r.pkts);
		benchmark::ClobberMemory();
	}
	set_counters(st, nullptr, size);
}

// The crypto layer alone (crypto_encrypt_burst) on the ops one encap
// leaves behind: the same layout, keys and nonces, no framing. Splits
// (encap - reset) / raw into crypto layer and dataplane framing.
void
BM_esp_crypto(benchmark::State &st, int algo, uint16_t size)
{
	EspRun r;

	if (!r.init(kAlgos[algo], size, false)) {
		st.SkipWithError(r.err);
		return;
	}
	if (r.encap() != kBurst) {
		st.SkipWithError("esp_out_process dropped packets");
		return;
	}
	for (auto _ : st) {
		uint16_t ok = crypto_encrypt_burst(r.ctx->engine, r.ctx->ops,
						   kBurst);
		benchmark::DoNotOptimize(ok);
	}
	set_counters(st, &kAlgos[algo], size);
}

void
BM_esp_decap(benchmark::State &st, int algo, uint16_t size)
{
	EspRun r;

	if (!r.init(kAlgos[algo], size, true)) {
		st.SkipWithError(r.err);
		return;
	}
	for (auto _ : st) {
		if (unlikely(r.decap_pass() != kBurst)) {
			st.SkipWithError("esp_in_process dropped packets");
			break;
		}
	}
	set_counters(st, &kAlgos[algo], size);
}

void
BM_esp_reset_in(benchmark::State &st, int algo, uint16_t size)
{
	EspRun r;

	if (!r.init(kAlgos[algo], size, true)) {
		st.SkipWithError(r.err);
		return;
	}
	for (auto _ : st) {
		r.reset_esp();
		benchmark::DoNotOptimize(r.pkts);
		benchmark::ClobberMemory();
	}
	set_counters(st, &kAlgos[algo], size);
}

// ---- raw IPsec-MB, no framing ---------------------------------------------

struct alignas(64) Buf {
	uint8_t b[kSlot];
};

struct RawRun {
	IMB_MGR *mgr = nullptr;
	gcm_key_data *gcm = nullptr;
	const EspAlgo *a = nullptr;
	alignas(16) uint8_t enc[16 * 15];
	alignas(16) uint8_t dec[16 * 15];
	alignas(16) uint8_t ipad[64];
	alignas(16) uint8_t opad[64];
	alignas(16) uint8_t zero_iv[16] = {};
	alignas(16) uint8_t nonce[kBurst][16];
	alignas(16) uint8_t tag[kBurst][16];
	uint8_t aad[kBurst][8];
	alignas(64) gcm_key_data gcm_key;
	// In the same block as the rest, so the distances between buffers,
	// nonces and tags (and any 4K aliasing among them) are the same in
	// every run.
	Buf bufs[kBurst];
	uint32_t len = 0; // ESP payload bytes

	bool
	init(const EspAlgo &al, uint32_t inner)
	{
		a = &al;
		fill_keys();
		mgr = alloc_mb_mgr(0);
		if (mgr == nullptr)
			return false;
		init_mb_mgr_auto(mgr, nullptr);
		gcm = &gcm_key;
		len = esp_payload_len(al, inner);
		for (unsigned i = 0; i < kBurst; i++) {
			memset(bufs[i].b, (int)i, kSlot);
			memset(nonce[i], (int)i, 12);
			memset(aad[i], (int)i, 8);
		}
		if (al.cipher == CRYPTO_CIPHER_AES_GCM) {
			if (al.key_len == 20)
				IMB_AES128_GCM_PRE(mgr, kKey, gcm);
			else
				IMB_AES256_GCM_PRE(mgr, kKey, gcm);
		} else if (al.cipher == CRYPTO_CIPHER_AES_CBC) {
			alignas(16) uint8_t ib[64], ob[64];

			IMB_AES_KEYEXP_128(mgr, kKey, enc, dec);
			// RFC 2104 2: a 32-byte key, padded to the block.
			memset(ib, 0x36, sizeof(ib));
			memset(ob, 0x5c, sizeof(ob));
			for (unsigned i = 0; i < sizeof(kAuthKey); i++) {
				ib[i] ^= kAuthKey[i];
				ob[i] ^= kAuthKey[i];
			}
			IMB_SHA256_ONE_BLOCK(mgr, ib, ipad);
			IMB_SHA256_ONE_BLOCK(mgr, ob, opad);
		}
		return true;
	}

	// Buffer layout as in an mbuf: ESP header (8), IV (8 or 16), payload.
	void
	fill(IMB_JOB *job, unsigned i)
	{
		uint8_t *d = bufs[i].b + kRawOff;

		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		job->auth_tag_output = tag[i];
		job->auth_tag_output_len_in_bytes = 16;
		if (a->cipher == CRYPTO_CIPHER_CHACHA20_POLY1305) {
			job->src = d - 16;
			job->dst = d;
			job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
			job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
			job->enc_keys = job->dec_keys = kKey;
			job->key_len_in_bytes = 32;
			job->iv = nonce[i];
			job->iv_len_in_bytes = 12;
			job->u.CHACHA20_POLY1305.aad = aad[i];
			job->u.CHACHA20_POLY1305.aad_len_in_bytes = 8;
			job->cipher_start_src_offset_in_bytes = 16;
			job->msg_len_to_cipher_in_bytes = len;
			job->hash_start_src_offset_in_bytes = 16;
			job->msg_len_to_hash_in_bytes = len;
			return;
		}
		// CBC: zero IV over IV || payload, as crypto_mb.c does it.
		job->src = d - 24;
		job->dst = d - 16;
		job->cipher_mode = IMB_CIPHER_CBC;
		job->hash_alg = IMB_AUTH_HMAC_SHA_256;
		job->enc_keys = enc;
		job->dec_keys = dec;
		job->key_len_in_bytes = 16;
		job->iv = zero_iv;
		job->iv_len_in_bytes = 16;
		job->cipher_start_src_offset_in_bytes = 8;
		job->msg_len_to_cipher_in_bytes = 16 + len;
		job->hash_start_src_offset_in_bytes = 0;
		job->msg_len_to_hash_in_bytes = 8 + 16 + len;
		job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
		job->u.HMAC._hashed_auth_key_xor_opad = opad;
	}

	bool
	burst()
	{
		IMB_JOB *jobs[kBurst];
		uint32_t done;

		if (IMB_GET_NEXT_BURST(mgr, kBurst, jobs) < kBurst)
			return false;
		for (unsigned i = 0; i < kBurst; i++)
			fill(jobs[i], i);
		done = IMB_SUBMIT_BURST_NOCHECK(mgr, kBurst, jobs);
		if (done < kBurst)
			done += IMB_FLUSH_BURST(mgr, kBurst - done, jobs + done);
		return done == kBurst && jobs[0]->status == IMB_STATUS_COMPLETED;
	}

	bool
	run()
	{
		if (a->cipher != CRYPTO_CIPHER_AES_GCM)
			return burst();
		for (unsigned i = 0; i < kBurst; i++) {
			uint8_t *p = bufs[i].b + kRawOff;
			gcm_context_data ctx;

			if (a->key_len == 20)
				IMB_AES128_GCM_ENC(mgr, gcm, &ctx, p, p, len,
						   nonce[i], aad[i], 8, tag[i],
						   16);
			else
				IMB_AES256_GCM_ENC(mgr, gcm, &ctx, p, p, len,
						   nonce[i], aad[i], 8, tag[i],
						   16);
		}
		benchmark::ClobberMemory();
		return true;
	}

	~RawRun()
	{
		if (mgr != nullptr)
			free_mb_mgr(mgr);
	}
};

void
BM_raw_enc(benchmark::State &st, int algo, uint16_t size)
{
	auto rp = std::make_unique<RawRun>(); // 64 KiB: not on the stack
	RawRun &r = *rp;

	if (!r.init(kAlgos[algo], size) || !r.run()) {
		st.SkipWithError("raw setup failed");
		return;
	}
	for (auto _ : st) {
		bool ok = r.run();
		benchmark::DoNotOptimize(ok);
	}
	set_counters(st, &kAlgos[algo], size);
}

// Registered in groups of one (algorithm, size), so the numbers a ratio
// is made of are measured next to each other.
int
register_all()
{
	for (int a = 0; a < kNumAlgos; a++) {
		for (int64_t z : kSizes) {
			std::string args = "/algo:" + std::to_string(a) +
					   "/size:" + std::to_string(z);
			std::string sz = "/size:" + std::to_string(z);
			uint16_t size = (uint16_t)z;

			if (a == 0) {
				benchmark::RegisterBenchmark(
					("BM_raw_gcm128_enc" + sz).c_str(),
					BM_raw_enc, a, size);
				benchmark::RegisterBenchmark(
					("BM_esp_reset" + sz).c_str(),
					BM_esp_reset, size);
			} else {
				benchmark::RegisterBenchmark(
					("BM_raw_esp_enc" + args).c_str(),
					BM_raw_enc, a, size);
			}
			benchmark::RegisterBenchmark(
				("BM_esp_crypto" + args).c_str(), BM_esp_crypto,
				a, size);
			benchmark::RegisterBenchmark(
				("BM_esp_encap" + args).c_str(), BM_esp_encap,
				a, size);
			benchmark::RegisterBenchmark(
				("BM_esp_reset_in" + args).c_str(),
				BM_esp_reset_in, a, size);
			benchmark::RegisterBenchmark(
				("BM_esp_decap" + args).c_str(), BM_esp_decap,
				a, size);
		}
	}
	return 0;
}

const int registered = register_all();

} // namespace
