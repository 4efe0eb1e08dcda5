/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Suite "esp": the ESP core on real mbufs. Known-answer packets from RFC
 * 3602 section 4, round trips over every algorithm x mode x ESN x UDP
 * encap x address family, replay and ESN edges, and every drop reason,
 * each checked for leaked mbufs against the pool's in-use count.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_bus_vdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "crypto/crypto.h"
#include "dataplane/esp.h"
#include "unit.h"

static struct esp_ctx ctx_mb, ctx_null, ctx_cdev;

/* The engine the shared tests run on: IPsec-MB in suite "esp", a
 * cryptodev in the "esp-cdev-*" suites (test_esp_cdev_register). */
static struct esp_ctx *cur_ctx = &ctx_mb;
static enum crypto_engine_kind cur_kind = CRYPTO_ENGINE_MB;

/*
 * The ESP calls under test: the synchronous ones, or, on a ctx with a
 * pending ring (the "*-async" suites), the two asynchronous halves (esp_*_submit(), then
 * esp_collect() until nothing is pending), with the result laid out as
 * the synchronous calls lay it out: good packets first in order, then
 * the ones submit refused, then the ones that failed after the engine.
 * Every shared test so runs on both.
 */
static uint16_t
esp_run(struct esp_ctx *ctx, bool out, struct rte_mbuf *pkts[], struct esp_sa *sas[],
	uint16_t n, uint16_t why[])
{
	struct rte_mbuf *tk[n], *bad[n];
	struct esp_sa *bsa[n];
	uint16_t bwhy[n];
	struct esp_mapping map[ESP_MAP_MAX];
	struct esp_done done[ESP_BURST_MAX];
	uint16_t taken, i, k = 0, good = 0, nb, c, nmap = 0;

	if (ctx->async == NULL)
		return out ? esp_out_process(ctx, pkts, sas, n, why) :
			     esp_in_process(ctx, pkts, sas, n, why);
	taken = out ? esp_out_submit(ctx, pkts, sas, n, why) :
		      esp_in_submit(ctx, pkts, sas, n, why);
	for (nb = 0; nb < n - taken; nb++) {
		bad[nb] = pkts[taken + nb];
		bsa[nb] = sas[taken + nb];
		bwhy[nb] = why[taken + nb];
	}
	memcpy(tk, pkts, taken * sizeof(tk[0]));
	while (k < taken) {
		c = esp_collect(ctx, done, ESP_BURST_MAX);
		for (i = 0; i < ctx->n_map && nmap < ESP_MAP_MAX; i++)
			map[nmap++] = ctx->map[i];
		for (i = 0; i < c; i++, k++) {
			/* Back in the order they went in. */
			CU_ASSERT_PTR_EQUAL(done[i].m, tk[k]);
			if (done[i].why == 0) {
				pkts[good] = done[i].m;
				sas[good++] = done[i].sa;
			} else {
				bad[nb] = done[i].m;
				bsa[nb] = done[i].sa;
				bwhy[nb++] = done[i].why;
			}
		}
	}
	CU_ASSERT_EQUAL(esp_pending(ctx), 0);
	memcpy(ctx->map, map, nmap * sizeof(map[0]));
	ctx->n_map = nmap;
	for (i = 0; i < nb; i++) {
		pkts[good + i] = bad[i];
		sas[good + i] = bsa[i];
		why[good + i] = bwhy[i];
	}
	return good;
}

/* Keys long enough for any algorithm; AEAD salts are the last 4 bytes. */
static const uint8_t key_a[36] = {
	0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda, 0x90, 0x6a, 0xc7, 0x3c,
	0x36, 0x13, 0xa6, 0x34, 0x2b, 0x5c, 0x9c, 0x0f, 0x11, 0x22, 0x33, 0x44,
	0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xca, 0xfe, 0xba, 0xbe,
};
static const uint8_t key_b[64] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0a, 0x0a, 0x0a, 0x0a,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12,
	0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22, 0x23, 0x24,
	0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
	0x37, 0x38, 0x39, 0x40,
};

struct algo_case {
	const char *name;
	enum crypto_cipher cipher;
	enum crypto_auth auth;
	uint16_t key_len, auth_key_len, icv_len;
};

static const struct algo_case algos[] = {
	{ "aes-gcm-128", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 20, 0, 16 },
	{ "aes-gcm-256", CRYPTO_CIPHER_AES_GCM, CRYPTO_AUTH_NONE, 36, 0, 16 },
	{ "chacha20-poly1305", CRYPTO_CIPHER_CHACHA20_POLY1305, CRYPTO_AUTH_NONE, 36, 0, 16 },
	{ "aes-cbc-128/sha1-96", CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA1, 16, 20, 12 },
	{ "aes-cbc-256/sha256-128", CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA256, 32, 32, 16 },
	{ "aes-cbc-128/sha384-192", CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA384, 16, 48, 24 },
	{ "aes-cbc-256/sha512-256", CRYPTO_CIPHER_AES_CBC, CRYPTO_AUTH_HMAC_SHA512, 32, 64, 32 },
	{ "null/sha256-128", CRYPTO_CIPHER_NULL, CRYPTO_AUTH_HMAC_SHA256, 0, 32, 16 },
};

static struct crypto_algo_params
algo_params(const struct algo_case *a)
{
	struct crypto_algo_params p = {
		.cipher = a->cipher,
		.auth = a->auth,
		.cipher_key = a->key_len ? key_a : NULL,
		.cipher_key_len = a->key_len,
		.auth_key = a->auth_key_len ? key_b : NULL,
		.auth_key_len = a->auth_key_len,
		.icv_len = a->icv_len,
	};
	return p;
}

static void
addr_set(struct esp_addr *a, int family, uint8_t host)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	if (family == 4) {
		a->v4 = rte_cpu_to_be_32(RTE_IPV4(172u, 16, host, 5));
	} else {
		a->v6[0] = 0x20;
		a->v6[1] = 0x01;
		a->v6[2] = 0x0d;
		a->v6[3] = 0xb8;
		a->v6[15] = host;
	}
}

struct sa_pair {
	struct esp_sa out, in;
};

static int
sa_pair_init2(struct sa_pair *p, const struct crypto_algo_params *algo,
	      enum esp_mode mode, uint16_t flags, int outer_family,
	      enum crypto_engine_kind kind, enum crypto_engine_kind kind_in)
{
	struct esp_sa_conf c = {
		.spi = 0x1000 + (uint32_t)mode,
		.mode = (uint8_t)mode,
		.flags = flags,
		.udp_sport = 4500,
		.udp_dport = 4500,
		.replay_window = 64,
		.algo = *algo,
	};
	int rc;

	addr_set(&c.src, outer_family, 1);
	addr_set(&c.dst, outer_family, 2);
	c.dir = ESP_DIR_OUT;
	rc = esp_sa_init(&p->out, &c, kind);
	if (rc < 0)
		return rc;
	c.dir = ESP_DIR_IN;
	rc = esp_sa_init(&p->in, &c, kind_in);
	if (rc < 0)
		esp_sa_fini(&p->out);
	return rc;
}

static int
sa_pair_init(struct sa_pair *p, const struct crypto_algo_params *algo,
	     enum esp_mode mode, uint16_t flags, int outer_family,
	     enum crypto_engine_kind kind)
{
	return sa_pair_init2(p, algo, mode, flags, outer_family, kind, kind);
}

static void
sa_pair_fini(struct sa_pair *p)
{
	esp_sa_fini(&p->out);
	esp_sa_fini(&p->in);
}

/* A UDP datagram over IPv4 or IPv6 with a patterned payload. */
static size_t
plain_packet(uint8_t *buf, int family, uint16_t payload, uint8_t tos,
	     uint8_t seed)
{
	size_t hl = family == 4 ? 20 : 40, i;
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(buf + hl);
	size_t len = hl + sizeof(*udp) + payload;

	memset(buf, 0, hl);
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)buf;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = tos;
		ip->total_length = rte_cpu_to_be_16((uint16_t)len);
		ip->time_to_live = 63;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 1, 10));
		ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 2, 20));
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)buf;

		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)tos << 20);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(len - hl));
		ip6->proto = IPPROTO_UDP;
		ip6->hop_limits = 63;
		ip6->src_addr[0] = 0xfd;
		ip6->src_addr[15] = 0x10;
		ip6->dst_addr[0] = 0xfd;
		ip6->dst_addr[15] = 0x20;
	}
	udp->src_port = rte_cpu_to_be_16(40001);
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len - hl));
	udp->dgram_cksum = 0;
	for (i = hl + sizeof(*udp); i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed);
	return len;
}

static struct rte_mbuf *
mbuf_from(const uint8_t *data, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(unit_mbuf_pool());

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), data, len);
	return m;
}

static bool
mbuf_equals(const struct rte_mbuf *m, const uint8_t *data, size_t len)
{
	return m->data_len == len && m->pkt_len == len &&
	       memcmp(rte_pktmbuf_mtod(m, const void *), data, len) == 0;
}

/* Encrypt one packet; returns 0 or the drop reason, and the mbuf either way. */
static int
out_one(struct esp_ctx *ctx, struct esp_sa *sa, struct rte_mbuf **m)
{
	struct esp_sa *sas[1] = { sa };
	uint16_t why[1] = { 0 };

	if (esp_run(ctx, true, m, sas, 1, why) == 1)
		return 0;
	return why[0];
}

/* Parse and decrypt one packet; 0 or the drop reason (-1: not ESP). */
static int
in_one(struct esp_ctx *ctx, struct esp_sa *sa, struct rte_mbuf **m)
{
	struct esp_sa *sas[1] = { sa };
	uint16_t why[1] = { 0 };
	uint32_t spi;
	enum esp_in_kind k = esp_in_parse(*m, NULL, &spi);

	if (k == ESP_IN_BAD)
		return CNT_XfrmInHdrError;
	if (k == ESP_IN_MALFORMED)
		return CNT_MalformedPacket;
	if (k != ESP_IN_ESP)
		return -1;
	CU_ASSERT_EQUAL(spi, rte_be_to_cpu_32(sa->spi_be));
	if (esp_run(ctx, false, m, sas, 1, why) == 1)
		return 0;
	return why[0];
}

static int
suite_init(void)
{
	ctx_mb.engine = crypto_engine_create(CRYPTO_ENGINE_MB);
	ctx_null.engine = crypto_engine_create(CRYPTO_ENGINE_NULL);
	unit_pool_mark();
	return ctx_mb.engine == NULL || ctx_null.engine == NULL;
}

static int
suite_fini(void)
{
	crypto_engine_free(ctx_mb.engine);
	crypto_engine_free(ctx_null.engine);
	ctx_mb.engine = ctx_null.engine = NULL;
	return 0;
}

/* Check the outer framing of an encrypted packet. */
static void
check_framing(const struct rte_mbuf *m, const struct esp_sa *sa, int outer,
	      bool udp, uint32_t seq)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t hl = outer == 4 ? 20 : 40, esp_off = hl + (udp ? 8 : 0);
	uint8_t proto = outer == 4 ? p[9] : p[6];
	size_t esp_len = m->data_len - esp_off;

	CU_ASSERT_EQUAL(p[0] >> 4, outer);
	CU_ASSERT_EQUAL(proto, udp ? IPPROTO_UDP : IPPROTO_ESP);
	if (outer == 4) {
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(*(const uint16_t *)(p + 2)),
				m->data_len);
		CU_ASSERT_EQUAL(rte_raw_cksum(p, 20), 0xffff);
	} else {
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(*(const uint16_t *)(p + 4)),
				m->data_len - 40);
	}
	if (udp) {
		const struct rte_udp_hdr *u = (const void *)(p + hl);

		CU_ASSERT_EQUAL(rte_be_to_cpu_16(u->dgram_len), m->data_len - hl);
		if (outer == 4) {
			CU_ASSERT_EQUAL(u->dgram_cksum, 0); /* RFC 3948 2.1 */
		} else {
			/* Over IPv6 the checksum is mandatory: recompute it. */
			uint8_t copy[2048];
			struct rte_udp_hdr *cu = (void *)(copy + hl);

			memcpy(copy, p, m->data_len);
			cu->dgram_cksum = 0;
			CU_ASSERT_EQUAL(rte_ipv6_udptcp_cksum(
				(const struct rte_ipv6_hdr *)copy, cu), u->dgram_cksum);
		}
	}
	CU_ASSERT_EQUAL(memcmp(p + esp_off, &sa->spi_be, 4), 0);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(*(const uint32_t *)(p + esp_off + 4)), seq);
	/* RFC 4303 2.4: ciphertext in whole blocks, 4-byte aligned. */
	CU_ASSERT_EQUAL((esp_len - 8 - sa->iv_len - sa->icv_len) % sa->pad_align, 0);
}

static void
roundtrip(struct esp_ctx *ctx, enum crypto_engine_kind kind,
	  struct esp_ctx *ctx_in, enum crypto_engine_kind kind_in,
	  const struct algo_case *a, enum esp_mode mode, bool esn, bool udp,
	  int inner, int outer)
{
	static const uint16_t sizes[] = { 0, 1, 17, 64, 333, 1400 };
	struct crypto_algo_params algo = algo_params(a);
	uint16_t flags = (esn ? ESP_F_ESN : 0) | (udp ? ESP_F_UDP_ENCAP : 0);
	struct sa_pair p;
	unsigned int i;
	int rc;

	rc = sa_pair_init2(&p, &algo, mode, flags, outer, kind, kind_in);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	for (i = 0; i < RTE_DIM(sizes); i++) {
		uint8_t plain[1600];
		size_t len = plain_packet(plain, inner, sizes[i], 0x2e, (uint8_t)i);
		struct rte_mbuf *m = mbuf_from(plain, len);

		rc = out_one(ctx, &p.out, &m);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc == 0) {
			check_framing(m, &p.out, mode == ESP_MODE_TUNNEL ? outer : inner,
				      udp, i + 1);
			rc = in_one(ctx_in, &p.in, &m);
			CU_ASSERT_EQUAL(rc, 0);
			if (rc != 0 || !mbuf_equals(m, plain, len)) {
				CU_FAIL("round trip changed the packet");
				fprintf(stderr, "\n  %s %s esn=%d udp=%d inner=v%d outer=v%d size=%u rc=%d\n",
					a->name, mode == ESP_MODE_TUNNEL ? "tunnel" : "transport",
					esn, udp, inner, outer, sizes[i], rc);
			}
		}
		rte_pktmbuf_free(m);
	}
	CU_ASSERT_EQUAL(p.in.stats.packets, RTE_DIM(sizes));
	CU_ASSERT_EQUAL(p.out.stats.packets, RTE_DIM(sizes));
	CU_ASSERT_EQUAL(p.out.seq, RTE_DIM(sizes));
	sa_pair_fini(&p);
}

/* A cryptodev that lacks an algorithm: say so (a printed skip), once. */
static bool
lacks(enum crypto_engine_kind kind, const struct crypto_algo_params *p,
      const char *what)
{
	if (kind != CRYPTO_ENGINE_CDEV || crypto_algo_check(kind, p) != -ENOTSUP)
		return false;
	printf("\n    SKIP %s: %s lacks it", what, crypto_cdev_name());
	return true;
}

static void
roundtrip_matrix2(struct esp_ctx *ctx, enum crypto_engine_kind kind,
		  struct esp_ctx *ctx_in, enum crypto_engine_kind kind_in)
{
	unsigned int a, bits;

	for (a = 0; a < RTE_DIM(algos); a++) {
		struct crypto_algo_params algo = algo_params(&algos[a]);

		if (lacks(kind, &algo, algos[a].name) ||
		    lacks(kind_in, &algo, algos[a].name))
			continue;
		/* bit 0 mode, 1 esn, 2 udp, 3 inner v6, 4 outer v6 */
		for (bits = 0; bits < 32; bits++) {
			enum esp_mode mode = (bits & 1) ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
			int inner = (bits & 8) ? 6 : 4, outer = (bits & 16) ? 6 : 4;

			/* Transport mode keeps the packet's own header. */
			if (mode == ESP_MODE_TRANSPORT && inner != outer)
				continue;
			roundtrip(ctx, kind, ctx_in, kind_in, &algos[a], mode,
				  bits & 2, bits & 4, inner, outer);
		}
	}
	CHECK_NO_LEAK();
}

static void
roundtrip_matrix(struct esp_ctx *ctx, enum crypto_engine_kind kind)
{
	roundtrip_matrix2(ctx, kind, ctx, kind);
}

static void
test_roundtrip_mb(void)
{
	roundtrip_matrix(&ctx_mb, CRYPTO_ENGINE_MB);
}

static void
test_roundtrip_null(void)
{
	roundtrip_matrix(&ctx_null, CRYPTO_ENGINE_NULL);
}

/*
 * RFC 3602 section 4, cases 5 to 8: ESP packets with AES-CBC and no
 * authentication. Decrypting them must give the RFC's plaintext, and
 * encrypting that plaintext (IV mask chosen so the engine's E_K(counter)
 * is the RFC's IV) must give the RFC's packet byte for byte.
 */
struct rfc3602_case {
	const char *key, *esp, *payload;
	uint32_t spi, seq;
	enum esp_mode mode;
	uint8_t nh;
};

static const struct rfc3602_case rfc3602[] = {
	{ "90d382b410eeba7ad938c46cec1a82bf",
	  "0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6"
	  "a9453e194e120849a4870b66cc6b9965330013b4898dc856a4699e523a55db08"
	  "0b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d59"
	  "13ac19b7cfbad4a6",
	  "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f1011121314151617"
	  "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
	  0x4321, 1, ESP_MODE_TRANSPORT, IPPROTO_ICMP },
	{ "90d382b410eeba7ad938c46cec1a82bf",
	  "000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4"
	  "488987ce742e8109689bb379d2d750c0d915dca346a89f75",
	  "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777",
	  0x4321, 8, ESP_MODE_TRANSPORT, IPPROTO_ICMP },
	{ "0123456789abcdef0123456789abcdef",
	  "0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c44922"
	  "5e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad"
	  "7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2"
	  "201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d",
	  "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d"
	  "02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
	  "2425262728292a2b2c2d2e2f3031323334353637",
	  0x8765, 2, ESP_MODE_TUNNEL, IPPROTO_IPIP },
	{ "0123456789abcdef0123456789abcdef",
	  "000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8"
	  "047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3"
	  "a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc"
	  "6d17a0decbb13892",
	  "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083d"
	  "a3de0300ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffffffff",
	  0x8765, 5, ESP_MODE_TUNNEL, IPPROTO_IPIP },
};

/* The outer/own IPv4 header the RFC 3602 packets travel in. */
static size_t
ipv4_header(uint8_t *p, uint8_t proto, size_t total)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)total);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 123, 100));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 123, 200));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return sizeof(*ip);
}

static void
test_rfc3602_packets(void)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(rfc3602); i++) {
		const struct rfc3602_case *c = &rfc3602[i];
		uint8_t key[16], esp[256], payload[256], pkt[512], pre[16];
		size_t esp_len = unit_hex(c->esp, esp, sizeof(esp));
		size_t pl_len = unit_hex(c->payload, payload, sizeof(payload));
		bool tunnel = c->mode == ESP_MODE_TUNNEL;
		struct esp_sa_conf conf = {
			.spi = c->spi,
			.mode = (uint8_t)c->mode,
			.replay_window = 64,
			.algo = {
				.cipher = CRYPTO_CIPHER_AES_CBC,
				.auth = CRYPTO_AUTH_NONE,
				.cipher_key = key,
				.cipher_key_len = 16,
			},
		};
		struct crypto_session dec;
		struct crypto_op op = { 0 };
		struct esp_sa sa;
		struct rte_mbuf *m;
		size_t len, j;
		uint8_t ctr[16];

		unit_hex(c->key, key, sizeof(key));
		addr_set(&conf.src, 4, 1);
		addr_set(&conf.dst, 4, 2);

		/* Inbound: the RFC's packet decrypts to the RFC's payload. */
		conf.dir = ESP_DIR_IN;
		conf.seq_in = 0;
		CU_ASSERT_EQUAL_FATAL(esp_sa_init(&sa, &conf, cur_kind), 0);
		len = ipv4_header(pkt, IPPROTO_ESP, 20 + esp_len);
		memcpy(pkt + len, esp, esp_len);
		m = mbuf_from(pkt, len + esp_len);
		CU_ASSERT_EQUAL(in_one(cur_ctx, &sa, &m), 0);
		if (tunnel) {
			CU_ASSERT_TRUE(mbuf_equals(m, payload, pl_len));
		} else {
			CU_ASSERT_TRUE(m->data_len == 20 + pl_len &&
				       memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 20),
					      payload, pl_len) == 0 &&
				       rte_pktmbuf_mtod(m, uint8_t *)[9] == c->nh);
		}
		rte_pktmbuf_free(m);
		esp_sa_fini(&sa);

		/* The IV pre-image D_K(IV): CBC-decrypt the IV with IV 0. */
		CU_ASSERT_EQUAL_FATAL(crypto_session_init(&dec, cur_kind,
							  &conf.algo), 0);
		memcpy(pre, esp + 8, 16);
		memset(ctr, 0, sizeof(ctr));
		op.sess = &dec;
		op.data = pre;
		op.cipher_off = 0;
		op.cipher_len = 16;
		op.iv = ctr;
		op.icv = NULL;
		CU_ASSERT_EQUAL(crypto_decrypt_burst(cur_ctx->engine, &op, 1), 1);
		crypto_session_wipe(&dec);
		/* mask = pre-image XOR the counter block esp_out builds. */
		memset(ctr, 0, sizeof(ctr));
		*(rte_be64_t *)ctr = rte_cpu_to_be_64(c->seq);
		*(rte_be32_t *)(ctr + 8) = rte_cpu_to_be_32(c->spi);
		for (j = 0; j < 16; j++)
			pre[j] ^= ctr[j];

		/* Outbound: same plaintext, byte-identical ESP. */
		conf.dir = ESP_DIR_OUT;
		conf.seq_out = c->seq - 1;
		conf.iv_mask = pre;
		CU_ASSERT_EQUAL_FATAL(esp_sa_init(&sa, &conf, cur_kind), 0);
		if (tunnel) {
			m = mbuf_from(payload, pl_len);
		} else {
			len = ipv4_header(pkt, c->nh, 20 + pl_len);
			memcpy(pkt + len, payload, pl_len);
			m = mbuf_from(pkt, len + pl_len);
		}
		CU_ASSERT_EQUAL(out_one(cur_ctx, &sa, &m), 0);
		CU_ASSERT_EQUAL(m->data_len, 20 + esp_len);
		CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 20),
				       esp, esp_len), 0);
		rte_pktmbuf_free(m);
		esp_sa_fini(&sa);
	}
	CHECK_NO_LEAK();
}

/*
 * RFC 7634 appendix A: the ChaCha20-Poly1305 ESP example, tunnel mode,
 * SPI 0x01020304, sequence number 5, IV 1011121314151617.
 */
static const char rfc7634_key[] =
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3";
static const char rfc7634_inner[] =
	"45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10"
	"0007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
	"2425262728292a2b2c2d2e2f3031323334353637";
static const char rfc7634_packet[] =
	"4500008c234500004032de5bcb007199cb007105"
	"01020304000000051011121314151617"
	"24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
	"14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
	"cbec163fac469b502773f6fb94e664da9165b82829f641e076aaa8266b7fb0f7"
	"b11b369907e1ad43";

static void
test_rfc7634_packet(void)
{
	uint8_t key[36], inner[128], pkt[256], mask[16] = { 0 };
	size_t inner_len = unit_hex(rfc7634_inner, inner, sizeof(inner));
	size_t pkt_len = unit_hex(rfc7634_packet, pkt, sizeof(pkt));
	struct esp_sa_conf conf = {
		.spi = 0x01020304,
		.mode = ESP_MODE_TUNNEL,
		.replay_window = 64,
		.algo = {
			.cipher = CRYPTO_CIPHER_CHACHA20_POLY1305,
			.cipher_key = key,
			.cipher_key_len = 36,
			.icv_len = 16,
		},
	};
	struct esp_sa sa;
	struct rte_mbuf *m;
	unsigned int j;

	if (lacks(cur_kind, &conf.algo, "ChaCha20-Poly1305"))
		return;
	unit_hex(rfc7634_key, key, sizeof(key));
	conf.src.family = conf.dst.family = 4;
	conf.src.v4 = rte_cpu_to_be_32(RTE_IPV4(203u, 0, 113, 153));
	conf.dst.v4 = rte_cpu_to_be_32(RTE_IPV4(203u, 0, 113, 5));

	conf.dir = ESP_DIR_IN;
	CU_ASSERT_EQUAL_FATAL(esp_sa_init(&sa, &conf, cur_kind), 0);
	m = mbuf_from(pkt, pkt_len);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &sa, &m), 0);
	CU_ASSERT_TRUE(mbuf_equals(m, inner, inner_len));
	rte_pktmbuf_free(m);
	esp_sa_fini(&sa);

	/* Outbound: the IV is counter XOR mask; choose the mask that gives
	 * the RFC's IV for counter 5. */
	for (j = 0; j < 8; j++)
		mask[j] = (uint8_t)(pkt[28 + j] ^ (j == 7 ? 5 : 0));
	conf.dir = ESP_DIR_OUT;
	conf.seq_out = 4;
	conf.iv_mask = mask;
	CU_ASSERT_EQUAL_FATAL(esp_sa_init(&sa, &conf, cur_kind), 0);
	m = mbuf_from(inner, inner_len);
	CU_ASSERT_EQUAL(out_one(cur_ctx, &sa, &m), 0);
	CU_ASSERT_EQUAL(m->data_len, pkt_len);
	/* Byte for byte from the ESP header on; the outer header differs
	 * only in its ID (and so its checksum). */
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 20),
			       pkt + 20, pkt_len - 20), 0);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m, uint8_t *), pkt, 4), 0);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 6), pkt + 6, 4), 0);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 12), pkt + 12, 8), 0);
	rte_pktmbuf_free(m);
	esp_sa_fini(&sa);
	CHECK_NO_LEAK();
}

/* A GCM-128 pair in tunnel mode, IPv4 outer, for the negative tests. */
static void
gcm_pair(struct sa_pair *p, uint16_t flags)
{
	struct crypto_algo_params algo = algo_params(&algos[0]);

	CU_ASSERT_EQUAL_FATAL(sa_pair_init(p, &algo, ESP_MODE_TUNNEL, flags, 4,
					   cur_kind), 0);
}

static struct rte_mbuf *
encrypted(struct sa_pair *p, uint8_t tos)
{
	uint8_t plain[256];
	size_t len = plain_packet(plain, 4, 100, tos, 1);
	struct rte_mbuf *m = mbuf_from(plain, len);

	CU_ASSERT_EQUAL(out_one(cur_ctx, &p->out, &m), 0);
	return m;
}

static void
test_bad_icv(void)
{
	struct sa_pair p;
	struct rte_mbuf *m;

	gcm_pair(&p, 0);
	m = encrypted(&p, 0);
	rte_pktmbuf_mtod(m, uint8_t *)[m->data_len - 1] ^= 0x01;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateProtoError);
	CU_ASSERT_EQUAL(p.in.stats.icv_failures, 1);
	rte_pktmbuf_free(m);
	/* A forged packet must not move the window: the real one with the
	 * same number still gets in. */
	p.out.seq = 0;
	m = encrypted(&p, 0);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static void
test_replay_drop(void)
{
	struct sa_pair p;
	struct rte_mbuf *m, *copy;

	gcm_pair(&p, 0);
	m = encrypted(&p, 0);
	copy = rte_pktmbuf_copy(m, unit_mbuf_pool(), 0, UINT32_MAX);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &copy), CNT_XfrmInStateSeqError);
	CU_ASSERT_EQUAL(p.in.stats.replay_drops, 1);
	rte_pktmbuf_free(m);
	rte_pktmbuf_free(copy);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/* A packet of @p p's out SA (UDP-encapsulated, IPv4 outer) that seems to
 * come from @p host (172.16.host.5) and UDP port @p sport: what a NAT
 * that rebinds does to it. */
static struct rte_mbuf *
encrypted_from(struct sa_pair *p, uint8_t host, uint16_t sport)
{
	struct rte_mbuf *m = encrypted(p, 0);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(172u, 16, host, 5));
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(sport);
	return m;
}

/*
 * Transport mode through a NAT (RFC 3948 3.1.2): the host summed its UDP
 * and TCP checksums over its own address; the NAT rewrote it in the one
 * header. What leaves espd carries checksums right for the header it has;
 * a UDP checksum of 0 (none) stays 0; without UDP encapsulation (no NAT
 * in the path) nothing changes.
 */
static void
test_natt_transport_checksum(void)
{
	struct crypto_algo_params algo = algo_params(&algos[0]);
	static const uint8_t protos[3] = { IPPROTO_UDP, IPPROTO_TCP, IPPROTO_UDP };
	unsigned int k;

	for (k = 0; k < 3; k++) {
		struct sa_pair p;
		uint8_t plain[256];
		size_t len = plain_packet(plain, 4, 100, 0, 3);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)plain;
		uint8_t *l4 = plain + 20;
		struct rte_mbuf *m;
		uint16_t *ck = (uint16_t *)(l4 + (protos[k] == IPPROTO_TCP ? 16 : 6));

		if (protos[k] == IPPROTO_TCP) {
			ip->next_proto_id = IPPROTO_TCP;
			l4[12] = 5 << 4; /* a bare 20-byte header, the rest data */
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
		*ck = 0;
		if (k < 2)
			*ck = rte_ipv4_udptcp_cksum(ip, l4);
		CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TRANSPORT,
						   ESP_F_UDP_ENCAP, 4, cur_kind), 0);
		m = mbuf_from(plain, len);
		CU_ASSERT_EQUAL_FATAL(out_one(cur_ctx, &p.out, &m), 0);
		/* The NAT: a new source in the one header. */
		ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(203u, 0, 113, 9));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		CU_ASSERT_EQUAL_FATAL(in_one(cur_ctx, &p.in, &m), 0);
		ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		CU_ASSERT_EQUAL(ip->next_proto_id, protos[k]);
		ck = (uint16_t *)((uint8_t *)(ip + 1) + (protos[k] == IPPROTO_TCP ? 16 : 6));
		if (k < 2) {
			uint16_t got = *ck;

			*ck = 0;
			CU_ASSERT_EQUAL(got, rte_ipv4_udptcp_cksum(ip, ip + 1));
		} else {
			CU_ASSERT_EQUAL(*ck, 0);
		}
		rte_pktmbuf_free(m);
		sa_pair_fini(&p);
	}
	CHECK_NO_LEAK();
}

/* NAT-T mappings (XFRM_MSG_MAPPING): an authentic packet from a new
 * source port or address is noted once per change; the peer's own
 * packets, forgeries, replays and plain ESP never are. */
static void
test_mapping(void)
{
	struct sa_pair p;
	struct rte_mbuf *m, *copy;

	gcm_pair(&p, ESP_F_UDP_ENCAP);
	/* from the peer itself (172.16.1.5, port 4500): nothing */
	m = encrypted_from(&p, 1, 4500);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(cur_ctx->n_map, 0);
	rte_pktmbuf_free(m);

	/* a forged one from a new port: the ICV fails first */
	m = encrypted_from(&p, 1, 4600);
	rte_pktmbuf_mtod(m, uint8_t *)[m->data_len - 1] ^= 0x01;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateProtoError);
	CU_ASSERT_EQUAL(cur_ctx->n_map, 0);
	rte_pktmbuf_free(m);

	/* the NAT rebinds to port 4600: one report, not one per packet */
	m = encrypted_from(&p, 1, 4600);
	copy = rte_pktmbuf_copy(m, unit_mbuf_pool(), 0, UINT32_MAX);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL_FATAL(cur_ctx->n_map, 1);
	CU_ASSERT_PTR_EQUAL(cur_ctx->map[0].sa, &p.in);
	CU_ASSERT_EQUAL(cur_ctx->map[0].family, 4);
	CU_ASSERT_EQUAL(cur_ctx->map[0].sport, 4600);
	CU_ASSERT_EQUAL(memcmp(cur_ctx->map[0].addr, "\xac\x10\x01\x05", 4), 0);
	rte_pktmbuf_free(m);
	m = encrypted_from(&p, 1, 4600);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(cur_ctx->n_map, 0);
	rte_pktmbuf_free(m);

	/* a replay from yet another source is dropped before it is noted */
	{
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(copy, struct rte_ipv4_hdr *);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

		udp->src_port = rte_cpu_to_be_16(4700);
	}
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &copy), CNT_XfrmInStateSeqError);
	CU_ASSERT_EQUAL(cur_ctx->n_map, 0);
	rte_pktmbuf_free(copy);

	/* a new address, same port: a new report */
	m = encrypted_from(&p, 9, 4600);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL_FATAL(cur_ctx->n_map, 1);
	CU_ASSERT_EQUAL(cur_ctx->map[0].addr[2], 9);
	CU_ASSERT_EQUAL(cur_ctx->map[0].sport, 4600);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);

	/* an SA without UDP encapsulation has no mapping to change */
	gcm_pair(&p, 0);
	m = encrypted(&p, 0);
	rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *)->src_addr = rte_cpu_to_be_32(RTE_IPV4(10u, 9, 9, 9));
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(cur_ctx->n_map, 0);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static void
test_replay_in_one_burst(void)
{
	struct sa_pair p;
	struct rte_mbuf *m[2];
	struct esp_sa *sas[2];
	uint16_t why[2];
	uint32_t spi;

	gcm_pair(&p, 0);
	m[0] = encrypted(&p, 0);
	m[1] = rte_pktmbuf_copy(m[0], unit_mbuf_pool(), 0, UINT32_MAX);
	CU_ASSERT_EQUAL(esp_in_parse(m[0], NULL, &spi), ESP_IN_ESP);
	CU_ASSERT_EQUAL(esp_in_parse(m[1], NULL, &spi), ESP_IN_ESP);
	sas[0] = sas[1] = &p.in;
	/* Both pass the first check; only one may pass the update. */
	CU_ASSERT_EQUAL(esp_run(cur_ctx, false, m, sas, 2, why), 1);
	CU_ASSERT_EQUAL(why[1], CNT_XfrmInStateSeqError);
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/*
 * A burst longer than ESP_BURST_MAX: every packet comes back, good ones
 * first and in order, bad ones behind with their reason, in both
 * directions; nothing is lost (the mempool count returns to its start).
 */
#define LONG_BURST 200

static void
test_long_burst(void)
{
	struct rte_mbuf *m[LONG_BURST], *orig[LONG_BURST];
	struct esp_sa *sas[LONG_BURST];
	uint16_t why[LONG_BURST];
	uint8_t plain[256];
	unsigned int i, nbad = 0, good, prev_seq = 0;
	struct sa_pair p;
	uint32_t spi;
	bool ordered = true, bad_ok = true;

	gcm_pair(&p, 0);
	for (i = 0; i < LONG_BURST; i++) {
		size_t len = plain_packet(plain, 4, 40, 0, (uint8_t)i);

		m[i] = orig[i] = mbuf_from(plain, len);
		sas[i] = &p.out;
		/* Every 7th is not IP: XfrmOutError, anywhere in a chunk. */
		if (i % 7 == 3) {
			rte_pktmbuf_mtod(m[i], uint8_t *)[0] = 0x00;
			nbad++;
		}
	}
	good = esp_run(cur_ctx, true, m, sas, LONG_BURST, why);
	CU_ASSERT_EQUAL(good, LONG_BURST - nbad);
	for (i = 0; i < good; i++) {
		uint32_t seq;

		memcpy(&seq, rte_pktmbuf_mtod_offset(m[i], uint8_t *, 20 + 4), 4);
		seq = rte_be_to_cpu_32(seq);

		ordered &= seq > prev_seq;
		prev_seq = seq;
	}
	CU_ASSERT(ordered);
	for (i = good; i < LONG_BURST; i++)
		bad_ok &= why[i] == CNT_XfrmOutError && rte_pktmbuf_mtod(m[i], uint8_t *)[0] == 0;
	CU_ASSERT(bad_ok);
	for (i = good; i < LONG_BURST; i++)
		rte_pktmbuf_free(m[i]);

	/* Inbound: the good ones, each sent twice in a row (the copy is a
	 * replay), as one burst of 2 * good packets. */
	{
		unsigned int n = 0, g2, replays = 0;
		struct rte_mbuf *in[2 * LONG_BURST];
		struct esp_sa *isas[2 * LONG_BURST];
		uint16_t iwhy[2 * LONG_BURST];

		for (i = 0; i < good; i++) {
			in[n] = m[i];
			in[n + 1] = rte_pktmbuf_copy(m[i], unit_mbuf_pool(), 0, UINT32_MAX);
			CU_ASSERT_PTR_NOT_NULL_FATAL(in[n + 1]);
			CU_ASSERT_EQUAL(esp_in_parse(in[n], NULL, &spi), ESP_IN_ESP);
			CU_ASSERT_EQUAL(esp_in_parse(in[n + 1], NULL, &spi), ESP_IN_ESP);
			isas[n] = isas[n + 1] = &p.in;
			n += 2;
		}
		g2 = esp_run(cur_ctx, false, in, isas, (uint16_t)n, iwhy);
		CU_ASSERT_EQUAL(g2, good);
		for (i = g2; i < n; i++)
			replays += iwhy[i] == CNT_XfrmInStateSeqError;
		CU_ASSERT_EQUAL(replays, n - g2);
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(in[i]);
	}
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static void
test_truncated(void)
{
	struct sa_pair p;
	struct rte_mbuf *m;
	unsigned int cut;

	gcm_pair(&p, 0);
	/* Cut at every length from the ESP header to one byte short. */
	for (cut = 1; cut < 150; cut += 7) {
		uint8_t *ip;
		int rc;

		m = encrypted(&p, 0);
		if (cut >= m->data_len - 20u) {
			rte_pktmbuf_free(m);
			break;
		}
		rte_pktmbuf_trim(m, (uint16_t)cut);
		ip = rte_pktmbuf_mtod(m, uint8_t *);
		*(uint16_t *)(ip + 2) = rte_cpu_to_be_16(m->data_len);
		rc = in_one(cur_ctx, &p.in, &m);
		/* Too short, or misaligned, or (when the cut keeps the
		 * alignment) a broken ICV: never accepted. */
		CU_ASSERT_TRUE(rc == CNT_XfrmInHdrError ||
			       rc == CNT_XfrmInStateProtoError);
		if (cut % 4 != 0)
			CU_ASSERT_EQUAL(rc, CNT_XfrmInHdrError);
		rte_pktmbuf_free(m);
	}
	/* IP length longer than the frame: ESP cut short, a header error
	 * at parse (over anything but ESP it is MalformedPacket). */
	m = encrypted(&p, 0);
	rte_pktmbuf_trim(m, 10);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInHdrError);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/*
 * Build an authentic ESP packet around a hand-made trailer: payload, pad
 * bytes and next header as given, encrypted with the pair's inbound SA
 * through the crypto API. Tunnel mode, IPv4 outer.
 */
static struct rte_mbuf *
crafted(struct sa_pair *p, const uint8_t *pl, size_t pl_len, uint32_t seq)
{
	uint8_t pkt[512];
	size_t off = ipv4_header(pkt, IPPROTO_ESP, 20 + 8 + 8 + pl_len + 16);
	uint8_t *esp = pkt + off;
	struct crypto_op op = { 0 };

	memcpy(esp, &p->in.spi_be, 4);
	*(rte_be32_t *)(esp + 4) = rte_cpu_to_be_32(seq);
	memset(esp + 8, 0x5a, 8);
	memcpy(esp + 16, pl, pl_len);
	op.sess = &p->in.sess;
	op.data = esp;
	op.cipher_off = 16;
	op.cipher_len = (uint32_t)pl_len;
	op.iv = esp + 8;
	op.aad = esp;
	op.aad_len = 8;
	op.icv = esp + 16 + pl_len;
	CU_ASSERT_EQUAL(crypto_encrypt_burst(cur_ctx->engine, &op, 1), 1);
	return mbuf_from(pkt, off + 16 + pl_len + 16);
}

static void
test_bad_pad(void)
{
	struct sa_pair p;
	uint8_t pl[64];
	struct rte_mbuf *m;
	size_t n;

	gcm_pair(&p, 0);
	n = plain_packet(pl, 4, 10, 0, 3); /* 38 bytes: pad 0 */
	/* Pad length past the payload. */
	pl[n] = 200;
	pl[n + 1] = IPPROTO_IPIP;
	m = crafted(&p, pl, n + 2, 1);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateProtoError);
	rte_pktmbuf_free(m);
	/* Pad content other than 1, 2, 3, ... */
	n = plain_packet(pl, 4, 8, 0, 3); /* 36 bytes, pad 2 */
	pl[n] = 1;
	pl[n + 1] = 7;
	pl[n + 2] = 2;
	pl[n + 3] = IPPROTO_IPIP;
	m = crafted(&p, pl, n + 4, 2);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateProtoError);
	rte_pktmbuf_free(m);
	/* Right content for contrast. */
	pl[n + 1] = 2;
	pl[n + 2] = 2;
	m = crafted(&p, pl, n + 4, 3);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static void
test_dummy_and_tfc(void)
{
	struct sa_pair p;
	uint8_t pl[128], plain[64];
	struct rte_mbuf *m;
	size_t n;

	gcm_pair(&p, 0);
	/* RFC 4303 2.6: next header 59 is a dummy, dropped silently. */
	memset(pl, 0xee, 30);
	pl[30] = 0;
	pl[31] = 59;
	m = crafted(&p, pl, 32, 1);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_InDummy);
	rte_pktmbuf_free(m);
	/* TFC padding after the inner packet goes by the inner length. */
	n = plain_packet(plain, 4, 10, 0, 9); /* 38 bytes */
	memcpy(pl, plain, n);
	memset(pl + n, 0xab, 24);
	pl[n + 24] = 0;
	pl[n + 25] = IPPROTO_IPIP;
	m = crafted(&p, pl, n + 26, 2);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_TRUE(mbuf_equals(m, plain, n));
	rte_pktmbuf_free(m);
	/* A next header that is not IP in tunnel mode. */
	memcpy(pl, plain, n);
	pl[n] = 0;
	pl[n + 1] = IPPROTO_TCP;
	m = crafted(&p, pl, n + 2, 3);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateModeError);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/* ESN with integrity of fewer than 4 bytes (or none): refused, since the
 * high half is written where the ICV goes while it is computed. */
static void
test_esn_needs_icv(void)
{
	static const uint8_t key[16] = { 1, 2, 3 };
	struct esp_sa_conf c = {
		.spi = 0x77, .mode = ESP_MODE_TUNNEL, .flags = ESP_F_ESN,
		.replay_window = 64, .dir = ESP_DIR_OUT,
		.algo = { .cipher = CRYPTO_CIPHER_AES_CBC, .auth = CRYPTO_AUTH_NONE,
			  .cipher_key = key, .cipher_key_len = 16 },
	};
	struct esp_sa sa;

	addr_set(&c.src, 4, 1);
	addr_set(&c.dst, 4, 2);
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), -EINVAL);
	c.flags = 0;
	if (esp_sa_init(&sa, &c, cur_kind) == 0) /* without ESN: as before */
		esp_sa_fini(&sa);
	CHECK_NO_LEAK();
}

static void
test_seq_exhausted(void)
{
	struct sa_pair p;
	struct rte_mbuf *m;
	uint8_t plain[256];
	size_t len = plain_packet(plain, 4, 20, 0, 1);

	gcm_pair(&p, 0);
	p.out.seq = UINT32_MAX - 1;
	m = mbuf_from(plain, len);
	CU_ASSERT_EQUAL(out_one(cur_ctx, &p.out, &m), 0); /* uses 2^32 - 1 */
	rte_pktmbuf_free(m);
	m = mbuf_from(plain, len);
	CU_ASSERT_EQUAL(out_one(cur_ctx, &p.out, &m), CNT_XfrmOutStateSeqError);
	CU_ASSERT_TRUE(p.out.exhausted);
	CU_ASSERT_EQUAL(esp_sa_last_seq(&p.out), UINT32_MAX);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static void
test_esn_epoch(void)
{
	struct crypto_algo_params algo;
	struct sa_pair p;
	unsigned int a, i;

	/* Across 2^32, for an AEAD (high bits in the AAD) and an HMAC
	 * (high bits hashed after the payload). */
	for (a = 0; a < RTE_DIM(algos); a++) {
		algo = algo_params(&algos[a]);
		if (lacks(cur_kind, &algo, algos[a].name))
			continue;
		CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TUNNEL,
						   ESP_F_ESN, 4, cur_kind), 0);
		p.out.seq = UINT32_MAX - 2;
		p.in.replay->top = UINT32_MAX - 10;
		for (i = 0; i < 6; i++) {
			struct rte_mbuf *m = encrypted(&p, 0);

			CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
			rte_pktmbuf_free(m);
		}
		CU_ASSERT_EQUAL(p.out.seq, (1ull << 32) + 3);
		CU_ASSERT_EQUAL(p.in.replay->top, (1ull << 32) + 3);
		CU_ASSERT_EQUAL(p.in.stats.packets, 6);
		sa_pair_fini(&p);
	}
	/* An ESN SA wraps only at 2^64. */
	algo = algo_params(&algos[0]);
	CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TUNNEL, ESP_F_ESN,
					   4, cur_kind), 0);
	p.out.seq = UINT64_MAX;
	{
		uint8_t plain[128], junk[64] = { 0 };
		size_t len = plain_packet(plain, 4, 20, 0, 1);
		struct rte_mbuf *m;

		/* The packet that draws the wrap is dropped for something
		 * else first: the SA is spent all the same, and the next
		 * packet does not go out with number 1 (a nonce again). */
		m = mbuf_from(junk, sizeof(junk));
		CU_ASSERT_NOT_EQUAL(out_one(cur_ctx, &p.out, &m), 0);
		rte_pktmbuf_free(m);
		CU_ASSERT_TRUE(p.out.exhausted);
		CU_ASSERT_EQUAL(esp_sa_last_seq(&p.out), UINT64_MAX);
		m = mbuf_from(plain, len);
		CU_ASSERT_EQUAL(out_one(cur_ctx, &p.out, &m), CNT_XfrmOutStateSeqError);
		rte_pktmbuf_free(m);
	}
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

static uint8_t
inner_tos(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *)->type_of_service;
}

static void
test_ecn_dscp(void)
{
	struct sa_pair p;
	struct rte_mbuf *m;
	uint8_t *outer;

	gcm_pair(&p, 0);
	/* Encap copies DSCP and ECN (CE included) outward. */
	m = encrypted(&p, 0xb8 | 0x03);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(m, uint8_t *)[1], 0xbb);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0xbb);
	rte_pktmbuf_free(m);
	/* Outer CE over inner ECT(0): inner becomes CE. */
	m = encrypted(&p, 0x02);
	outer = rte_pktmbuf_mtod(m, uint8_t *);
	outer[1] = 0x03;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0x03);
	CU_ASSERT_EQUAL(rte_raw_cksum(rte_pktmbuf_mtod(m, void *), 20), 0xffff);
	rte_pktmbuf_free(m);
	/* Outer CE over not-ECT: dropped (RFC 6040). */
	m = encrypted(&p, 0x00);
	rte_pktmbuf_mtod(m, uint8_t *)[1] = 0x03;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), CNT_XfrmInStateModeError);
	rte_pktmbuf_free(m);
	/* Outer ECT(1) over inner ECT(0) gives ECT(1) (RFC 6040 figure 4);
	 * over not-ECT or ECT(1) nothing changes. Outer DSCP is not copied
	 * inward by default. */
	m = encrypted(&p, 0x02);
	rte_pktmbuf_mtod(m, uint8_t *)[1] = 0xa0 | 0x01;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0x01);
	CU_ASSERT_EQUAL(rte_raw_cksum(rte_pktmbuf_mtod(m, void *), 20), 0xffff);
	rte_pktmbuf_free(m);
	m = encrypted(&p, 0x00);
	rte_pktmbuf_mtod(m, uint8_t *)[1] = 0x01;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0x00);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);

	/* dont-encap-dscp: outer DSCP 0, ECN still copied. decap-dscp: the
	 * outer DSCP replaces the inner one. */
	gcm_pair(&p, ESP_F_DONT_ENCAP_DSCP | ESP_F_DECAP_DSCP);
	m = encrypted(&p, 0xb8 | 0x01);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(m, uint8_t *)[1], 0x01);
	rte_pktmbuf_mtod(m, uint8_t *)[1] = 0x28 | 0x01;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0x28 | 0x01);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);

	/* noecn: the outer header carries no ECN (Linux clears it), and
	 * outer CE is ignored. */
	gcm_pair(&p, ESP_F_NOECN);
	m = encrypted(&p, 0xb8 | 0x02);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(m, uint8_t *)[1], 0xb8);
	rte_pktmbuf_free(m);
	m = encrypted(&p, 0x00);
	rte_pktmbuf_mtod(m, uint8_t *)[1] = 0x03;
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_EQUAL(inner_tos(m), 0x00);
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/* The outer IPv4 ID of tunnel packet @p m. */
static uint16_t
outer_id(const struct rte_mbuf *m)
{
	return rte_be_to_cpu_16(rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *)->packet_id);
}

/*
 * Outer IPv4 goes without DF, so routers may fragment it: two SAs to one
 * peer, both at sequence number 1, must not send the same ID (RFC 6864
 * 4.1). One counter per lcore, over all its SAs, in bursts and alone.
 */
static void
test_outer_ip_id(void)
{
	struct sa_pair a, b;
	struct rte_mbuf *m[4];
	struct esp_sa *sas[4];
	uint16_t why[4], id0, i;
	uint8_t plain[256];
	size_t len = plain_packet(plain, 4, 100, 0, 1);

	gcm_pair(&a, 0);
	gcm_pair(&b, 0);
	m[0] = encrypted(&a, 0);
	m[1] = encrypted(&b, 0);
	id0 = outer_id(m[0]);
	CU_ASSERT_EQUAL(outer_id(m[1]), (uint16_t)(id0 + 1));
	CU_ASSERT_EQUAL(a.out.seq, 1);
	CU_ASSERT_EQUAL(b.out.seq, 1);
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	/* A burst of both SAs goes on from there, in order. */
	for (i = 0; i < 4; i++) {
		m[i] = mbuf_from(plain, len);
		sas[i] = i & 1 ? &b.out : &a.out;
	}
	CU_ASSERT_EQUAL(esp_run(cur_ctx, true, m, sas, 4, why), 4);
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(outer_id(m[i]), (uint16_t)(id0 + 2 + i));
		rte_pktmbuf_free(m[i]);
	}
	sa_pair_fini(&a);
	sa_pair_fini(&b);
	CHECK_NO_LEAK();
}

static void
test_parse_kinds(void)
{
	static uint64_t ports[65536 / 64];
	uint8_t pkt[128];
	struct rte_mbuf *m;
	uint32_t spi = 0;
	size_t len;
	struct rte_udp_hdr *udp;

	esp_port_map_set(ports, 14500);
	/* NAT keepalive: one 0xff byte to 4500. */
	len = plain_packet(pkt, 4, 1, 0, 0);
	udp = (struct rte_udp_hdr *)(pkt + 20);
	udp->dst_port = rte_cpu_to_be_16(4500);
	pkt[28] = 0xff;
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_KEEPALIVE);
	rte_pktmbuf_free(m);
	/* Non-ESP marker: IKE. */
	len = plain_packet(pkt, 4, 40, 0, 0);
	udp->dst_port = rte_cpu_to_be_16(4500);
	memset(pkt + 28, 0, 4);
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_IKE);
	rte_pktmbuf_free(m);
	/* ESP in UDP on a configured local port. */
	len = plain_packet(pkt, 4, 40, 0, 0);
	udp->dst_port = rte_cpu_to_be_16(14500);
	memcpy(pkt + 28, "\x00\x00\x12\x34", 4);
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_OTHER);
	CU_ASSERT_EQUAL(esp_in_parse(m, ports, &spi), ESP_IN_ESP);
	CU_ASSERT_EQUAL(spi, 0x1234);
	CU_ASSERT_EQUAL(m->l4_len, 8);
	rte_pktmbuf_free(m);
	/* Wrong UDP length. */
	udp->dgram_len = rte_cpu_to_be_16(9);
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, ports, &spi), ESP_IN_BAD);
	rte_pktmbuf_free(m);
	/* Plain UDP elsewhere, IPv6 too. */
	len = plain_packet(pkt, 6, 40, 0, 0);
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_OTHER);
	rte_pktmbuf_free(m);
	/* A fragment reaching the parse is passing through (the gateway's
	 * own are reassembled first): plain, ESP or UDP, first or later,
	 * its Ethernet padding trimmed. */
	len = ipv4_header(pkt, IPPROTO_ESP, 60);
	memset(pkt + len, 1, 40);
	pkt[6] = 0x20; /* MF */
	m = mbuf_from(pkt, 64);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_OTHER);
	CU_ASSERT_EQUAL(m->data_len, 60);
	rte_pktmbuf_free(m);
	len = plain_packet(pkt, 4, 40, 0, 0);
	udp->dst_port = rte_cpu_to_be_16(4500);
	pkt[6] = 0x00;
	pkt[7] = 0x10; /* offset 128, no MF: a last fragment */
	m = mbuf_from(pkt, len);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_OTHER);
	rte_pktmbuf_free(m);
	/* IPv6: a fragment header (of UDP to 4500) is plain too; a
	 * malformed extension header is not. */
	len = plain_packet(pkt, 6, 40, 0, 0);
	memmove(pkt + 48, pkt + 40, len - 40);
	pkt[40] = IPPROTO_UDP;
	memset(pkt + 41, 0, 7);
	pkt[43] = 0x01; /* M */
	pkt[6] = IPPROTO_FRAGMENT;
	pkt[5] = (uint8_t)(pkt[5] + 8);
	pkt[48 + 2] = 0x11;
	pkt[48 + 3] = 0x94; /* dport 4500 */
	m = mbuf_from(pkt, len + 8);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_OTHER);
	rte_pktmbuf_free(m);
	pkt[6] = IPPROTO_HOPOPTS;
	pkt[41] = 200; /* longer than the packet */
	m = mbuf_from(pkt, len + 8);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_BAD);
	rte_pktmbuf_free(m);
	{
		/* ESP behind 480 bytes of destination options: where it
		 * starts (520) does not fit l3_len's 9 bits; refused, not
		 * read from offset 8. */
		static uint8_t big[40 + 480 + 64];

		memset(big, 0, sizeof(big));
		big[0] = 0x60;
		big[4] = (480 + 64) >> 8, big[5] = (uint8_t)(480 + 64);
		big[6] = IPPROTO_DSTOPTS;
		big[40] = IPPROTO_ESP;
		big[41] = 59; /* (59 + 1) * 8 = 480 */
		big[40 + 480 + 3] = 7; /* SPI 7 */
		m = mbuf_from(big, sizeof(big));
		CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_BAD);
		rte_pktmbuf_free(m);
		big[41] = 58; /* 472 bytes: ESP at 512, too */
		big[4] = (472 + 64) >> 8, big[5] = (uint8_t)(472 + 64);
		m = mbuf_from(big, sizeof(big) - 8);
		CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_BAD);
		rte_pktmbuf_free(m);
		big[41] = 57; /* 464 bytes: ESP at 504 fits */
		big[4] = (464 + 64) >> 8, big[5] = (uint8_t)(464 + 64);
		big[40 + 464 + 3] = 9;
		m = mbuf_from(big, sizeof(big) - 16);
		CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_ESP);
		CU_ASSERT_EQUAL(m->l3_len, 504);
		CU_ASSERT_EQUAL(spi, 9);
		rte_pktmbuf_free(m);
	}
	/* Bad IHL. */
	len = ipv4_header(pkt, IPPROTO_ESP, 60);
	pkt[0] = 0x44;
	m = mbuf_from(pkt, 60);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_BAD);
	rte_pktmbuf_free(m);
	/* The same over UDP: to NAT-T's port, ESP cut short; to another, a
	 * malformed packet, not an ESP header error. (The UDP header is
	 * read where a 20-byte IP header would end.) */
	len = ipv4_header(pkt, IPPROTO_UDP, 60);
	pkt[0] = 0x44;
	pkt[22] = 0x11, pkt[23] = 0x94; /* dport 4500 */
	m = mbuf_from(pkt, 60);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_BAD);
	rte_pktmbuf_free(m);
	pkt[22] = 0x13, pkt[23] = 0x89; /* dport 5001 */
	m = mbuf_from(pkt, 60);
	CU_ASSERT_EQUAL(esp_in_parse(m, NULL, &spi), ESP_IN_MALFORMED);
	rte_pktmbuf_free(m);
	CHECK_NO_LEAK();
}

static void
test_ipv6_ext_before_esp(void)
{
	struct sa_pair p;
	struct crypto_algo_params algo = algo_params(&algos[0]);
	uint8_t plain[256], buf[512];
	size_t len = plain_packet(plain, 6, 50, 0, 4);
	struct rte_mbuf *m;
	uint8_t *ip;

	CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TUNNEL, 0, 6,
					   cur_kind), 0);
	m = mbuf_from(plain, len);
	CU_ASSERT_EQUAL_FATAL(out_one(cur_ctx, &p.out, &m), 0);
	/* Insert an 8-byte destination-options header before ESP. */
	ip = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(buf, ip, 40);
	buf[6] = IPPROTO_DSTOPTS;
	buf[40] = IPPROTO_ESP;
	buf[41] = 0;
	memset(buf + 42, 0, 6);
	buf[42] = 1; /* PadN */
	buf[43] = 4;
	memcpy(buf + 48, ip + 40, m->data_len - 40);
	*(uint16_t *)(buf + 4) = rte_cpu_to_be_16((uint16_t)(m->data_len - 40 + 8));
	len = m->data_len + 8;
	rte_pktmbuf_free(m);
	m = mbuf_from(buf, len);
	CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
	CU_ASSERT_TRUE(mbuf_equals(m, plain, plain_packet(plain, 6, 50, 0, 4)));
	rte_pktmbuf_free(m);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/* An IPv6 packet of plain_packet()'s with an 8-byte extension header of
 * type @p type (next: what was there) in front of its UDP, in @p buf.
 * @return its length. */
static size_t
with_ext6(uint8_t *buf, const uint8_t *plain, size_t len, uint8_t type)
{
	memcpy(buf, plain, 40);
	buf[6] = type;
	buf[40] = plain[6];
	buf[41] = 0;
	memset(buf + 42, 0, 6);
	buf[42] = 1; /* PadN */
	buf[43] = 4;
	memcpy(buf + 48, plain + 40, len - 40);
	*(uint16_t *)(buf + 4) = rte_cpu_to_be_16((uint16_t)(len - 40 + 8));
	return len + 8;
}

/*
 * Transport mode over IPv6: ESP after a hop-by-hop header (RFC 4303
 * 3.1.1: what routers on the way read), a destination-options header for
 * the final destination inside. Both come back whole.
 */
static void
test_ipv6_transport_ext(void)
{
	static const struct {
		uint8_t type;
		size_t esp_at; /* where ESP starts */
		uint8_t base_nh;
	} cases[] = {
		{ IPPROTO_HOPOPTS, 48, IPPROTO_HOPOPTS },
		{ IPPROTO_DSTOPTS, 40, IPPROTO_ESP },
	};
	struct crypto_algo_params algo = algo_params(&algos[0]);
	uint8_t plain[256], buf[512];
	unsigned int k;

	for (k = 0; k < RTE_DIM(cases); k++) {
		size_t len = with_ext6(buf, plain, plain_packet(plain, 6, 50, 0, 5), cases[k].type);
		const uint8_t *ip;
		struct rte_mbuf *m;
		struct sa_pair p;
		uint32_t spi;

		CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TRANSPORT, 0, 6,
						   cur_kind), 0);
		m = mbuf_from(buf, len);
		CU_ASSERT_EQUAL_FATAL(out_one(cur_ctx, &p.out, &m), 0);
		ip = rte_pktmbuf_mtod(m, const uint8_t *);
		CU_ASSERT_EQUAL(ip[6], cases[k].base_nh);
		if (cases[k].esp_at == 48)
			CU_ASSERT_EQUAL(ip[40], IPPROTO_ESP);
		memcpy(&spi, ip + cases[k].esp_at, 4);
		CU_ASSERT_EQUAL(spi, p.out.spi_be);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(*(const uint16_t *)(ip + 4)), m->data_len - 40);
		CU_ASSERT_EQUAL(in_one(cur_ctx, &p.in, &m), 0);
		CU_ASSERT_TRUE(mbuf_equals(m, buf, len));
		rte_pktmbuf_free(m);
		sa_pair_fini(&p);
	}
	CHECK_NO_LEAK();
}

static void
test_bad_conf(void)
{
	struct crypto_algo_params algo = algo_params(&algos[0]);
	struct esp_sa_conf c = { .spi = 1000, .algo = algo };
	struct esp_sa sa;

	addr_set(&c.src, 4, 1);
	addr_set(&c.dst, 6, 2);
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), -EINVAL);
	addr_set(&c.dst, 4, 2);
	c.replay_window = REPLAY_WINDOW_MAX + 1;
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), -EINVAL);
	c.replay_window = 0;
	c.flags = ESP_F_ESN;
	c.dir = ESP_DIR_IN;
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), -EINVAL);
	c.flags = 0;
	c.algo.cipher_key_len = 17;
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), -EINVAL);
	c.algo = algo;
	CU_ASSERT_EQUAL(esp_sa_init(&sa, &c, cur_kind), 0);
	CU_ASSERT(esp_sa_size(&c, cur_kind) < sizeof(sa));
	CU_ASSERT_EQUAL(sa.sess.priv_len,
			esp_sa_size(&c, cur_kind) -
			offsetof(struct esp_sa, sess.priv));
	esp_sa_fini(&sa);
	/* fini wipes the keys: every byte of the record's own size. */
	{
		static const uint8_t zero[sizeof(sa)];

		CU_ASSERT_EQUAL(memcmp(&sa, zero, esp_sa_size(&c, cur_kind)), 0);
	}
}

/* ---- the same tests on a DPDK cryptodev (CRYPTO_ENGINE_CDEV) --------- */

struct cdev_case {
	const char *suite;
	const char *dev;     /* the cryptodev the engine opens */
	uint32_t nb_desc;    /* queue pair size; small: the queue fills */
	bool async;          /* the tests through esp_*_submit/esp_collect */
	const char *vdevs[3][2]; /* vdevs to create first: name, args */
};

static const struct cdev_case cdev_cases[] = {
	{ "esp-cdev-aesni_mb", "crypto_aesni_mb_u0", 0, false,
	  { { "crypto_aesni_mb_u0", "" } } },
	{ "esp-cdev-openssl", "crypto_openssl_u0", 0, false,
	  { { "crypto_openssl_u0", "" } } },
	{ "esp-cdev-scheduler", "crypto_scheduler_u0", 0, false,
	  { { "crypto_aesni_mb_u1", "" }, { "crypto_aesni_mb_u2", "" },
	    { "crypto_scheduler_u0",
	      "worker=crypto_aesni_mb_u1,worker=crypto_aesni_mb_u2,mode=round-robin" } } },
	{ "esp-cdev-null", "crypto_null_u0", 0, false, { { "crypto_null_u0", "" } } },
	/* A queue pair of 16 descriptors (15 usable): a burst of 64 never
	 * fits at once. */
	{ "esp-cdev-queue-full", "crypto_aesni_mb_u3", 16, false,
	  { { "crypto_aesni_mb_u3", "" } } },
	/* The worker's way: submit, collect later. With 15 usable
	 * descriptors most of a burst waits in the pending ring. */
	{ "esp-cdev-aesni_mb-async", "crypto_aesni_mb_u4", 0, true,
	  { { "crypto_aesni_mb_u4", "" } } },
	{ "esp-cdev-queue-full-async", "crypto_aesni_mb_u5", 16, true,
	  { { "crypto_aesni_mb_u5", "" } } },
	{ "esp-cdev-openssl-async", "crypto_openssl_u1", 16, true,
	  { { "crypto_openssl_u1", "" } } },
};

static const struct cdev_case *cdev_cur;

static int
cdev_suite_init(const struct cdev_case *c)
{
	cdev_cur = c;
	/* Two queue pairs: this engine's and a spare, as espd asks one per
	 * lcore. */
	if (crypto_cdev_open(c->dev, 2, c->nb_desc) < 0)
		return 1;
	ctx_cdev.engine = crypto_engine_create(CRYPTO_ENGINE_CDEV);
	if (ctx_cdev.engine == NULL) {
		crypto_cdev_close();
		return 1;
	}
	ctx_mb.engine = crypto_engine_create(CRYPTO_ENGINE_MB);
	cur_ctx = &ctx_cdev;
	cur_kind = CRYPTO_ENGINE_CDEV;
	if (c->async && esp_ctx_async_init(&ctx_cdev, ESP_PENDING_MAX, 0) < 0)
		return 1;
	unit_pool_mark();
	return ctx_mb.engine == NULL;
}

static int
cdev_suite_fini(void)
{
	int rc;

	esp_ctx_async_free(&ctx_cdev);
	crypto_engine_free(ctx_cdev.engine);
	ctx_cdev.engine = NULL;
	crypto_engine_free(ctx_mb.engine);
	ctx_mb.engine = NULL;
	cur_ctx = &ctx_mb;
	cur_kind = CRYPTO_ENGINE_MB;
	/* -EBUSY: a test left a session or engine behind. */
	rc = crypto_cdev_close();
	return rc != 0;
}

static int cdev_init0(void) { return cdev_suite_init(&cdev_cases[0]); }
static int cdev_init1(void) { return cdev_suite_init(&cdev_cases[1]); }
static int cdev_init2(void) { return cdev_suite_init(&cdev_cases[2]); }
static int cdev_init3(void) { return cdev_suite_init(&cdev_cases[3]); }
static int cdev_init4(void) { return cdev_suite_init(&cdev_cases[4]); }
static int cdev_init5(void) { return cdev_suite_init(&cdev_cases[5]); }
static int cdev_init6(void) { return cdev_suite_init(&cdev_cases[6]); }
static int cdev_init7(void) { return cdev_suite_init(&cdev_cases[7]); }
static int (*const cdev_inits[])(void) = {
	cdev_init0, cdev_init1, cdev_init2, cdev_init3, cdev_init4, cdev_init5, cdev_init6,
	cdev_init7,
};
_Static_assert(RTE_DIM(cdev_inits) == RTE_DIM(cdev_cases), "one init a case");

static void
test_roundtrip_cdev(void)
{
	roundtrip_matrix(&ctx_cdev, CRYPTO_ENGINE_CDEV);
}

/* Interop with the other engine both ways: a device that got the maths
 * wrong cannot pass this, even if it undoes its own mistake. */
static void
test_cdev_vs_mb(void)
{
	roundtrip_matrix2(&ctx_cdev, CRYPTO_ENGINE_CDEV, &ctx_mb, CRYPTO_ENGINE_MB);
	roundtrip_matrix2(&ctx_mb, CRYPTO_ENGINE_MB, &ctx_cdev, CRYPTO_ENGINE_CDEV);
}

/* What the device lacks is refused at session time with -ENOTSUP (so
 * `state add` says so), never at the first packet; what it has works. */
static void
test_cdev_caps(void)
{
	unsigned int a, n_ok = 0;
	struct crypto_session s;

	for (a = 0; a < RTE_DIM(algos); a++) {
		struct crypto_algo_params p = algo_params(&algos[a]);
		int chk = crypto_algo_check(CRYPTO_ENGINE_CDEV, &p);
		int rc = crypto_session_init(&s, CRYPTO_ENGINE_CDEV, &p);

		CU_ASSERT(chk == 0 || chk == -ENOTSUP);
		CU_ASSERT_EQUAL(rc, chk);
		if (rc == 0) {
			n_ok++;
			crypto_session_wipe(&s);
		}
		printf("\n    %s: %s %s", cdev_cur->dev, algos[a].name,
		       chk == 0 ? "offered" : "not offered");
	}
	/* crypto_null offers NULL/NULL only, which ESP never uses; every
	 * real device has AES-GCM. */
	if (strncmp(cdev_cur->dev, "crypto_null", 11) == 0) {
		CU_ASSERT_EQUAL(n_ok, 0);
	} else {
		CU_ASSERT(n_ok >= 1);
	}
}

/* Every op is back from the device when the burst call returns, and the
 * engine counted nothing unexpected. */
static void
test_cdev_stats(void)
{
	struct crypto_engine_stats st;

	crypto_engine_stats(ctx_cdev.engine, &st);
	CU_ASSERT_EQUAL(st.dev_errors, 0);
	CU_ASSERT_EQUAL(st.alloc_fail, 0);
	CU_ASSERT_EQUAL(st.enq_given_up, 0);
	/* Only a queue this small fills (it did: the long bursts ran before,
	 * and every packet came back, test_long_burst). */
	if (cdev_cur->nb_desc != 0 && cdev_cur->nb_desc < ESP_BURST_MAX) {
		CU_ASSERT(st.enq_busy > 0);
	} else {
		CU_ASSERT_EQUAL(st.enq_busy, 0);
	}
	printf("\n    %s: queue full %" PRIu64 " times, refused %" PRIu64,
	       cdev_cur->dev, st.enq_busy, st.bad_ops);
	/* Only a second cdev engine fits (two queue pairs); a third does
	 * not, with ENOSPC. */
	{
		struct crypto_engine *e2 = crypto_engine_create(CRYPTO_ENGINE_CDEV);
		struct crypto_engine *e3 = crypto_engine_create(CRYPTO_ENGINE_CDEV);

		CU_ASSERT_PTR_NOT_NULL(e2);
		CU_ASSERT_PTR_NULL(e3);
		CU_ASSERT_EQUAL(errno, ENOSPC);
		crypto_engine_free(e2);
	}
	CU_ASSERT_EQUAL(crypto_cdev_close(), -EBUSY); /* ours is still open */
}

/*
 * crypto_submit_burst / crypto_collect_burst on the engine under test:
 * 300 ops over mbufs, GCM-128, ChaCha20-Poly1305 and CBC-256/SHA-256
 * interleaved, submitted 17 at a time and collected 32 at a time. Every
 * op must come back once, in submission order, with the same bytes as the
 * IPsec-MB engine's synchronous burst gives; then back again through
 * decryption, one op with a broken ICV among them.
 */
#define ASYNC_N 300

static void
async_run(struct crypto_engine *e, struct crypto_op *ops[], bool enc)
{
	struct crypto_op *out[32];
	unsigned int p = 0, c = 0, spins = 0;

	while (c < ASYNC_N && spins < 10000000) {
		uint16_t j, got;

		if (p < ASYNC_N)
			p += crypto_submit_burst(e, ops + p,
						 (uint16_t)RTE_MIN(17u, ASYNC_N - p), enc);
		got = crypto_collect_burst(e, out, RTE_DIM(out));
		for (j = 0; j < got; j++, c++)
			CU_ASSERT_PTR_EQUAL(out[j], ops[c]); /* order kept */
		spins++;
	}
	CU_ASSERT_EQUAL(c, ASYNC_N);
	CU_ASSERT_EQUAL(crypto_inflight(e), 0);
}

static void
test_async(void)
{
	static const unsigned int pick[3] = { 0, 2, 4 }; /* gcm, chacha, cbc */
	static struct crypto_op aops[ASYNC_N], rops[ASYNC_N];
	static uint8_t ref[ASYNC_N][512];
	struct crypto_op *ap[ASYNC_N];
	struct crypto_session sa[3], sr[3];
	struct rte_mbuf *m[ASYNC_N];
	bool have[3];
	unsigned int i, a;

	for (a = 0; a < 3; a++) {
		struct crypto_algo_params p = algo_params(&algos[pick[a]]);

		have[a] = !lacks(cur_kind, &p, algos[pick[a]].name);
		if (have[a]) {
			CU_ASSERT_EQUAL_FATAL(crypto_session_init(&sa[a], cur_kind, &p), 0);
			CU_ASSERT_EQUAL_FATAL(crypto_session_init(&sr[a], CRYPTO_ENGINE_MB, &p), 0);
		}
	}
	for (i = 0; i < ASYNC_N; i++) {
		unsigned int k = i % 3;
		uint32_t len, ivl, j;
		uint8_t *d;

		while (!have[k])
			k = (k + 1) % 3;
		ivl = sa[k].iv_len;
		len = 16 * (1 + i % 20);
		m[i] = rte_pktmbuf_alloc(unit_mbuf_pool());
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
		d = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)(8 + ivl + len + sa[k].icv_len));
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		for (j = 0; j < m[i]->data_len; j++)
			d[j] = (uint8_t)(i * 31 + j);
		memcpy(ref[i], d, m[i]->data_len);
		aops[i] = (struct crypto_op){
			.sess = &sa[k], .data = d, .cipher_off = 8 + ivl,
			.cipher_len = len, .auth_len = 8 + ivl + len, .iv = d + 8,
			.aad = d, .aad_len = 8, .icv = d + 8 + ivl + len, .mbuf = m[i],
		};
		rops[i] = aops[i];
		rops[i].sess = &sr[k];
		rops[i].data = ref[i];
		rops[i].iv = ref[i] + 8;
		rops[i].aad = ref[i];
		rops[i].icv = ref[i] + 8 + ivl + len;
		rops[i].mbuf = NULL;
		ap[i] = &aops[i];
	}
	/* AAD is read from the packet's ESP header, as esp_out lays it. */
	async_run(cur_ctx->engine, ap, true);
	CU_ASSERT_EQUAL(crypto_encrypt_burst(ctx_mb.engine, rops, ASYNC_N), ASYNC_N);
	for (i = 0; i < ASYNC_N; i++) {
		CU_ASSERT_EQUAL(aops[i].status, CRYPTO_OK);
		CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m[i], uint8_t *), ref[i],
				       m[i]->data_len), 0);
	}
	/* Back: decrypt, with op 5's ICV broken. */
	aops[5].icv[0] ^= 1;
	async_run(cur_ctx->engine, ap, false);
	CU_ASSERT_EQUAL(crypto_decrypt_burst(ctx_mb.engine, rops, ASYNC_N), ASYNC_N);
	for (i = 0; i < ASYNC_N; i++) {
		if (i == 5) {
			CU_ASSERT_EQUAL(aops[i].status, CRYPTO_ICV_FAIL);
			continue;
		}
		CU_ASSERT_EQUAL(aops[i].status, CRYPTO_OK);
		/* The decrypted bytes are the plaintext again. */
		CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m[i], uint8_t *) + aops[i].cipher_off,
				       ref[i] + rops[i].cipher_off, aops[i].cipher_len), 0);
	}
	for (i = 0; i < ASYNC_N; i++)
		rte_pktmbuf_free(m[i]);
	for (a = 0; a < 3; a++) {
		if (have[a]) {
			crypto_session_wipe(&sa[a]);
			crypto_session_wipe(&sr[a]);
		}
	}
	CHECK_NO_LEAK();
}

/*
 * A synchronous burst while asynchronous ops fill the queue pair (15
 * usable descriptors, 15 submitted): the engine takes those off as they
 * finish, to make room for its own, instead of waiting for room that
 * never comes and giving its ops up. (lcore 0 calls an engine this way
 * while a worker's would be submitting; crypto.h allows it.)
 */
static void
test_sync_behind_async(void)
{
	struct crypto_algo_params p = algo_params(&algos[0]); /* GCM-128 */
	static struct crypto_op ops[17];
	struct crypto_op *pops[17], *done[17];
	struct crypto_engine_stats st;
	struct crypto_session s;
	struct rte_mbuf *m[17];
	unsigned int i, got = 0, spins = 0;

	CU_ASSERT_EQUAL_FATAL(crypto_session_init(&s, cur_kind, &p), 0);
	for (i = 0; i < 17; i++) {
		uint8_t *d;

		m[i] = rte_pktmbuf_alloc(unit_mbuf_pool());
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
		d = (uint8_t *)rte_pktmbuf_append(m[i], 8 + 8 + 32 + 16);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		memset(d, (int)i, m[i]->data_len);
		ops[i] = (struct crypto_op){
			.sess = &s, .data = d, .cipher_off = 16, .cipher_len = 32,
			.auth_len = 48, .iv = d + 8, .aad = d, .aad_len = 8,
			.icv = d + 48, .mbuf = m[i],
		};
		pops[i] = &ops[i];
	}
	CU_ASSERT_EQUAL(crypto_submit_burst(cur_ctx->engine, pops, 15, true), 15);
	CU_ASSERT_EQUAL(crypto_encrypt_burst(cur_ctx->engine, &ops[15], 2), 2);
	CU_ASSERT(ops[15].status == CRYPTO_OK && ops[16].status == CRYPTO_OK);
	crypto_engine_stats(cur_ctx->engine, &st);
	CU_ASSERT_EQUAL(st.enq_given_up, 0);
	/* The asynchronous ones are all there to collect, in order. */
	while (got < 15 && spins++ < 1000000) {
		uint16_t k, n = crypto_collect_burst(cur_ctx->engine, done + got,
						     (uint16_t)(15 - got));

		for (k = 0; k < n; k++)
			CU_ASSERT_PTR_EQUAL(done[got + k], &ops[got + k]);
		got += n;
	}
	CU_ASSERT_EQUAL(got, 15);
	for (i = 0; i < 15; i++)
		CU_ASSERT_EQUAL(ops[i].status, CRYPTO_OK);
	for (i = 0; i < 17; i++)
		rte_pktmbuf_free(m[i]);
	crypto_session_wipe(&s);
	CHECK_NO_LEAK();
}

/* The tests every engine and both ways of calling it run. */
static const struct {
	const char *name;
	CU_TestFunc fn;
} shared_tests[] = {
	{ "bad ICV", test_bad_icv },
	{ "replay", test_replay_drop },
	{ "replay inside one burst", test_replay_in_one_burst },
	{ "NAT-T mappings", test_mapping },
	{ "transport mode through a NAT: checksums fixed", test_natt_transport_checksum },
	{ "bursts longer than ESP_BURST_MAX", test_long_burst },
	{ "truncated ESP", test_truncated },
	{ "bad pad length and content", test_bad_pad },
	{ "dummy packet, TFC padding, bad next header", test_dummy_and_tfc },
	{ "sequence exhaustion", test_seq_exhausted },
	{ "ESN needs an ICV of 4 bytes or more", test_esn_needs_icv },
	{ "ESN epoch change", test_esn_epoch },
	{ "ECN and DSCP (RFC 6040)", test_ecn_dscp },
	{ "outer IPv4 IDs: one counter an lcore, not the sequence number",
	  test_outer_ip_id },
	{ "IPv6 extension header before ESP", test_ipv6_ext_before_esp },
	{ "IPv6 transport: ESP after hop-by-hop, destination options inside",
	  test_ipv6_transport_ext },
};

/* Add shared_tests to @p s. @return false on a CUnit error. */
static bool
add_shared(CU_pSuite s)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(shared_tests); i++)
		if (CU_add_test(s, shared_tests[i].name, shared_tests[i].fn) == NULL)
			return false;
	return true;
}

static int
cdev_register(const struct cdev_case *c, int (*init)(void))
{
	bool real = strncmp(c->dev, "crypto_null", 11) != 0;
	unsigned int i;
	CU_pSuite s;

	for (i = 0; i < RTE_DIM(c->vdevs) && c->vdevs[i][0] != NULL; i++) {
		if (rte_vdev_init(c->vdevs[i][0], c->vdevs[i][1]) != 0) {
			/* A printed skip, never a silent pass. */
			printf("SKIP suite %s: cannot create vdev %s (PMD not installed?)\n",
			       c->suite, c->vdevs[i][0]);
			return 0;
		}
	}
	s = CU_add_suite(c->suite, init, cdev_suite_fini);
	if (s == NULL ||
	    !CU_add_test(s, "what the device offers", test_cdev_caps))
		return CU_get_error();
	if (!real)
		return 0;
	if (!CU_add_test(s, "RFC 3602 ESP packets byte for byte", test_rfc3602_packets) ||
	    !CU_add_test(s, "RFC 7634 ESP example byte for byte", test_rfc7634_packet) ||
	    !CU_add_test(s, "round trips", test_roundtrip_cdev) ||
	    !CU_add_test(s, "round trips against IPsec-MB", test_cdev_vs_mb) ||
	    !add_shared(s) ||
	    !CU_add_test(s, "bad SA configuration", test_bad_conf) ||
	    !CU_add_test(s, "asynchronous submit and collect, in order", test_async) ||
	    !CU_add_test(s, "engine counters, queue pairs", test_cdev_stats))
		return CU_get_error();
	if (c->nb_desc == 16 && !c->async &&
	    !CU_add_test(s, "a synchronous burst behind a full queue of asynchronous ops",
			 test_sync_behind_async))
		return CU_get_error();
	return 0;
}

int
test_esp_cdev_register(void)
{
	unsigned int i;
	int rc;

	for (i = 0; i < RTE_DIM(cdev_cases); i++) {
		rc = cdev_register(&cdev_cases[i], cdev_inits[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * A ring of 8 pending slots given 12 packets: 8 are taken, 4 refused
 * with CryptoQueueFull; the 8 come back in order with sequence numbers 1
 * to 8, and the refused ones' numbers stay spent (a gap, which receivers
 * accept). What is pending when the ring is freed is waited for and
 * freed, not leaked.
 */
static void
test_async_ring_full(void)
{
	struct esp_ctx c;
	struct sa_pair p;
	struct rte_mbuf *m[12];
	struct esp_sa *sas[12];
	struct esp_done done[12];
	uint8_t plain[256];
	uint16_t why[12], i, n;
	uint32_t seq;

	memset(&c, 0, sizeof(c));
	c.engine = crypto_engine_create(CRYPTO_ENGINE_MB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c.engine);
	CU_ASSERT_EQUAL(esp_ctx_async_init(&c, 12, 0), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&c, 8, 0), 0);
	gcm_pair(&p, 0);
	for (i = 0; i < 12; i++) {
		m[i] = mbuf_from(plain, plain_packet(plain, 4, 40, 0, (uint8_t)i));
		sas[i] = &p.out;
	}
	CU_ASSERT_EQUAL_FATAL(esp_out_submit(&c, m, sas, 12, why), 8);
	for (i = 8; i < 12; i++) {
		CU_ASSERT_EQUAL(why[i], CNT_CryptoQueueFull);
		rte_pktmbuf_free(m[i]);
	}
	CU_ASSERT_EQUAL(esp_pending(&c), 8);
	n = esp_collect(&c, done, 12);
	CU_ASSERT_EQUAL_FATAL(n, 8);
	for (i = 0; i < n; i++) {
		CU_ASSERT(done[i].m == m[i] && done[i].why == 0 && done[i].dir == ESP_DIR_OUT);
		memcpy(&seq, rte_pktmbuf_mtod_offset(done[i].m, uint8_t *, 20 + 4), 4);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(seq), i + 1u);
		rte_pktmbuf_free(done[i].m);
	}
	CU_ASSERT_EQUAL(p.out.stats.packets, 8);
	/* Room again; the next one is number 13. Then 3 left pending. */
	for (i = 0; i < 4; i++)
		m[i] = mbuf_from(plain, plain_packet(plain, 4, 40, 0, (uint8_t)i));
	CU_ASSERT_EQUAL(esp_out_submit(&c, m, sas, 1, why), 1);
	CU_ASSERT_EQUAL_FATAL(esp_collect(&c, done, 12), 1);
	memcpy(&seq, rte_pktmbuf_mtod_offset(done[0].m, uint8_t *, 20 + 4), 4);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(seq), 13u);
	rte_pktmbuf_free(done[0].m);
	CU_ASSERT_EQUAL(esp_out_submit(&c, m + 1, sas, 3, why), 3);
	esp_ctx_async_free(&c);
	CU_ASSERT_PTR_NULL(c.async);
	crypto_engine_free(c.engine);
	sa_pair_fini(&p);
	CHECK_NO_LEAK();
}

/* Suite "esp-async": the built-in engines through the asynchronous
 * halves (they compute at submit and keep the order). */
static int
async_suite_init(void)
{
	if (suite_init() != 0 || esp_ctx_async_init(&ctx_mb, 512, 0) < 0 ||
	    esp_ctx_async_init(&ctx_null, 512, 0) < 0)
		return 1;
	return 0;
}

static int
async_suite_fini(void)
{
	esp_ctx_async_free(&ctx_mb);
	esp_ctx_async_free(&ctx_null);
	return suite_fini();
}

/*
 * `set out-sa shared`: lcores sending through one SA at once each take
 * their runs' sequence numbers with an atomic add, so between them every
 * number goes out once, none skipped (no packet fails here), and the
 * counters hold every packet. Two threads, each with its own engine, as
 * two workers have; every other packet of a burst goes through an SA of
 * the thread's own, so each shared packet is a run of one (a reservation
 * each: plain adds then lose numbers within a few thousand bursts).
 */
#define SHARED_THREADS 2
#define SHARED_BURSTS 3000

struct shared_run {
	struct esp_sa *sa, *own;
	struct rte_mbuf *m[ESP_BURST_MAX]; /* taken here, as the pool is not
					    * for threads outside EAL */
	uint32_t *seqs;  /* SHARED_BURSTS * ESP_BURST_MAX / 2: sa's, as sent */
	unsigned int n;
	int fail;        /* a packet not sent */
};

static void *
shared_sender(void *arg)
{
	struct shared_run *r = arg;
	struct esp_ctx ctx = { .engine = crypto_engine_create(CRYPTO_ENGINE_NULL) };
	struct rte_mbuf *m[ESP_BURST_MAX];
	struct esp_sa *sas[ESP_BURST_MAX];
	uint16_t why[ESP_BURST_MAX];
	uint8_t pkt[128];
	size_t len = plain_packet(pkt, 4, 32, 0, 1);
	unsigned int b, i;

	if (ctx.engine == NULL) {
		r->fail = 1;
		return NULL;
	}
	for (i = 0; i < ESP_BURST_MAX; i++)
		sas[i] = i & 1 ? r->sa : r->own;
	for (b = 0; b < SHARED_BURSTS && !r->fail; b++) {
		for (i = 0; i < ESP_BURST_MAX; i++) {
			m[i] = r->m[i];
			rte_pktmbuf_reset(m[i]);
			memcpy(rte_pktmbuf_append(m[i], (uint16_t)len), pkt, len);
		}
		if (esp_out_process(&ctx, m, sas, ESP_BURST_MAX, why) != ESP_BURST_MAX)
			r->fail = 1;
		/* Tunnel over IPv4: the ESP header follows 20 bytes. */
		for (i = 1; i < ESP_BURST_MAX; i += 2)
			r->seqs[r->n++] = rte_be_to_cpu_32(
				*rte_pktmbuf_mtod_offset(m[i], const rte_be32_t *, 24));
	}
	crypto_engine_free(ctx.engine);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void
test_out_shared_sa(void)
{
	const struct crypto_algo_params algo = algo_params(&algos[0]);
	struct shared_run r[SHARED_THREADS];
	pthread_t th[SHARED_THREADS];
	struct sa_pair p, own[SHARED_THREADS];
	uint32_t *all;
	unsigned int t, i, n = 0, twice = 0, each = SHARED_BURSTS * ESP_BURST_MAX / 2;

	CU_ASSERT_EQUAL_FATAL(sa_pair_init(&p, &algo, ESP_MODE_TUNNEL, 0, 4, CRYPTO_ENGINE_NULL),
			      0);
	p.out.shared = 1;
	all = calloc((size_t)SHARED_THREADS * each, sizeof(*all));
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	for (t = 0; t < SHARED_THREADS; t++) {
		CU_ASSERT_EQUAL_FATAL(sa_pair_init(&own[t], &algo, ESP_MODE_TUNNEL, 0, 4,
						   CRYPTO_ENGINE_NULL), 0);
		r[t] = (struct shared_run){ .sa = &p.out, .own = &own[t].out,
					    .seqs = all + t * each };
		CU_ASSERT_EQUAL_FATAL(rte_pktmbuf_alloc_bulk(unit_mbuf_pool(), r[t].m,
							     ESP_BURST_MAX), 0);
	}
	for (t = 0; t < SHARED_THREADS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, shared_sender, &r[t]), 0);
	for (t = 0; t < SHARED_THREADS; t++) {
		pthread_join(th[t], NULL);
		CU_ASSERT_FALSE(r[t].fail);
		n += r[t].n;
		rte_pktmbuf_free_bulk(r[t].m, ESP_BURST_MAX);
		CU_ASSERT_EQUAL(own[t].out.seq, each);
		sa_pair_fini(&own[t]);
	}
	CU_ASSERT_EQUAL(n, SHARED_THREADS * each);
	qsort(all, n, sizeof(*all), cmp_u32);
	for (i = 1; i < n; i++)
		twice += all[i] == all[i - 1];
	CU_ASSERT_EQUAL(twice, 0);
	CU_ASSERT(n > 0 && all[0] == 1 && all[n - 1] == n);
	CU_ASSERT_EQUAL(p.out.seq, n);
	CU_ASSERT_EQUAL(p.out.stats.packets, n);
	if (twice != 0)
		fprintf(stderr, "shared SA: %u of %u sequence numbers sent twice\n", twice, n);
	free(all);
	sa_pair_fini(&p);
}

int
test_esp_register(void)
{
	CU_pSuite a = CU_add_suite("esp-async", async_suite_init, async_suite_fini);
	CU_pSuite s = CU_add_suite("esp", suite_init, suite_fini);

	if (s == NULL ||
	    !CU_add_test(s, "RFC 3602 ESP packets byte for byte", test_rfc3602_packets) ||
	    !CU_add_test(s, "RFC 7634 ESP example byte for byte", test_rfc7634_packet) ||
	    !CU_add_test(s, "round trips, IPsec-MB", test_roundtrip_mb) ||
	    !CU_add_test(s, "round trips, null engine", test_roundtrip_null) ||
	    !add_shared(s) ||
	    !CU_add_test(s, "inbound parse kinds", test_parse_kinds) ||
	    !CU_add_test(s, "bad SA configuration", test_bad_conf) ||
	    !CU_add_test(s, "asynchronous submit and collect, in order", test_async) ||
	    !CU_add_test(s, "a shared SA: two lcores at once, no number twice",
			 test_out_shared_sa))
		return CU_get_error();
	if (a == NULL ||
	    !CU_add_test(a, "round trips, IPsec-MB", test_roundtrip_mb) ||
	    !CU_add_test(a, "round trips, null engine", test_roundtrip_null) ||
	    !add_shared(a) ||
	    !CU_add_test(a, "a full pending ring: CryptoQueueFull, nothing lost",
			 test_async_ring_full))
		return CU_get_error();
	return 0;
}
