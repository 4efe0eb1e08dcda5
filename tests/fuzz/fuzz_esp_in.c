/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_esp_in: an Ethernet frame, as received.
 *
 * 1. Its IP part goes through esp_in_parse() and, if it is ESP for one of
 *    a fixed set of SAs (AES-GCM, AES-CBC + HMAC-SHA-256, ChaCha20-Poly1305;
 *    tunnel and transport; plain, and UDP-encapsulated with ESN), through
 *    esp_in_process(), twice in one burst (the second copy is a replay when
 *    the first was authentic), then again through the asynchronous halves
 *    (esp_in_submit(), esp_collect()), which must end each copy exactly as
 *    the synchronous call did, in order. Every SA exists on the null engine (SPI
 *    0x10NN), on the IPsec-MB engine (SPI 0x11NN) and on the cryptodev
 *    engine over a crypto_aesni_mb vdev (SPI 0x12NN, the same keys as
 *    0x11NN; left out, saying so, when the PMD is missing).
 * 2. The whole frame goes through gw_inbound() (as if received on the
 *    unprotected port) and gw_outbound() (the protected port) of a small
 *    gateway on the null engine (fuzz_gw.c), with SAs, PFP, block and
 *    bypass policies, routes and neighbours; an input of odd length
 *    through the worker's asynchronous pipeline. What the worker hands
 *    to lcore 0 then goes through its exception path (exc_poll(): ARP and
 *    ND answered and learned from, echo replies, ICMP errors, packets
 *    waiting for a neighbour), as espd's control loop runs it; learned
 *    neighbours and what waits for them are flushed after each input.
 * 3. An input that starts with "FRAG" is a sequence of frames instead, each
 *    a 2-byte big-endian length and the frame, all given to gw_inbound()
 *    in order: fragments of ESP to the gateway, reassembled (or not) by
 *    rte_ip_frag (in order, out of order, duplicated, overlapping...).
 * After each input every mbuf must be back in the pool (fragments still
 * waiting are dropped first), and every SA is put back to its configured
 * state, so an input always does the same thing.
 *
 * Seeds: with FUZZ_SEED_DIR=DIR set, an input that is a plain UDP
 * packet from port 40001 to port 5001 is also encrypted through every fixed SA, and every
 * frame the gateway sends out of its unprotected port is kept: all of them
 * are written to DIR (tests/fuzz/make_corpus.py uses this for the ESP
 * seeds whose ICVs scapy cannot compute, such as the null engine's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "control/exc.h"
#include "control/neigh.h"
#include "dataplane/esp.h"
#include "dataplane/replay.h"
#include "dataplane/worker.h"
#include "tests/fuzz/fuzz_gw.h"

#define N_CONF 12
#define FRAME_MAX 1900 /* fits one default mbuf with room to decapsulate */

/* Keys: the same bytes as tests/fuzz/make_corpus.py. */
static uint8_t gcm_key[20], cbc_key[16], sha_key[32], chacha_key[36];

static const char gw_conf[] =
	"port 0 role protected addr 192.168.1.1/24 addr fd00:1::1/64 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 addr 2001:db8:1::5/64 mac 02:00:00:00:02:01\n"
	"route add 10.1.0.0/16 port 0 via 192.168.1.254\n"
	"route add fd01::/16 port 0 via fd00:1::fe\n"
	"neigh add 192.168.1.254 lladdr 02:00:00:00:01:fe port 0\n"
	"neigh add fd00:1::fe lladdr 02:00:00:00:01:fe port 0\n"
	"route add 10.2.0.0/16 port 1 via 172.16.1.1\n"
	"route add 172.16.2.0/24 port 1 via 172.16.1.1\n"
	"route add fd02::/16 port 1 via 2001:db8:1::1\n"
	"route add 2001:db8:2::/64 port 1 via 2001:db8:1::1\n"
	"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
	"neigh add 2001:db8:1::1 lladdr 02:00:00:00:02:fe port 1\n"
	"set acquire-queue 4\n"
	/* Every ICMP error is built (no token bucket on the wall clock). */
	"set icmp-ratelimit 0\n"
	/* Each pair shares SPI and keys, so what goes out comes back in. */
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x2001 dir out reqid 1 "
	"  mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
	"state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x2001 dir in reqid 1 "
	"  mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
	"policy add src 10.1.1.0/24 dst 10.2.1.0/24 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n"
	"policy add src 10.1.1.0/24 dst 10.2.1.0/24 dir fwd "
	"  tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 1 mode tunnel\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x2002 dir out reqid 2 "
	"  mode tunnel flag esn encap espinudp 4500 4500 0.0.0.0 "
	"  enc 'cbc(aes)' 0x404142434445464748494a4b4c4d4e4f auth-trunc 'hmac(sha256)' "
	"  0x606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f 128 "
	"  sel src 10.1.2.0/24 dst 10.2.2.0/24\n"
	"state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x2002 dir in reqid 2 "
	"  mode tunnel replay-window 128 flag esn encap espinudp 4500 4500 0.0.0.0 "
	"  enc 'cbc(aes)' 0x404142434445464748494a4b4c4d4e4f auth-trunc 'hmac(sha256)' "
	"  0x606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f 128 "
	"  sel src 10.1.2.0/24 dst 10.2.2.0/24\n"
	"policy add src 10.1.2.0/24 dst 10.2.2.0/24 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 2 mode tunnel\n"
	"policy add src 10.1.2.0/24 dst 10.2.2.0/24 dir fwd "
	"  tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 2 mode tunnel level use\n"
	"state add src 2001:db8:1::5 dst 2001:db8:2::5 proto esp spi 0x2003 dir out reqid 3 "
	"  mode tunnel encap espinudp 4501 4501 0.0.0.0 aead 'rfc7539esp(chacha20,poly1305)' "
	"  0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3 128\n"
	"state add src 2001:db8:2::5 dst 2001:db8:1::5 proto esp spi 0x2003 dir in reqid 3 "
	"  mode tunnel encap espinudp 4501 4501 0.0.0.0 aead 'rfc7539esp(chacha20,poly1305)' "
	"  0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3 128\n"
	"policy add src fd01::/16 dst fd02::/16 dir out "
	"  tmpl src 2001:db8:1::5 dst 2001:db8:2::5 proto esp reqid 3 mode tunnel\n"
	"policy add src fd01::/16 dst fd02::/16 dir fwd "
	"  tmpl src 2001:db8:2::5 dst 2001:db8:1::5 proto esp reqid 3 mode tunnel\n"
	"state add src 10.1.4.10 dst 10.2.4.20 proto esp spi 0x2004 dir out reqid 4 "
	"  mode transport aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
	"state add src 10.2.4.20 dst 10.1.4.10 proto esp spi 0x2004 dir in reqid 4 "
	"  mode transport replay-window 0 "
	"  aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
	"policy add src 10.1.4.0/24 dst 10.2.4.0/24 dir out tmpl proto esp reqid 4 mode transport\n"
	"policy add src 10.1.4.0/24 dst 10.2.4.0/24 dir fwd tmpl proto esp reqid 4 mode transport\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x2005 dir out reqid 5 "
	"  mode tunnel enc cipher_null \"\" auth-trunc 'hmac(sha256)' "
	"  0x606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f 128 "
	"  limit packet-soft 1 limit packet-hard 2\n"
	"state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x2005 dir in reqid 5 "
	"  mode tunnel enc cipher_null \"\" auth-trunc 'hmac(sha256)' "
	"  0x606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f 128 "
	"  limit packet-soft 1 limit packet-hard 2\n"
	"policy add src 10.1.5.0/24 dst 10.2.5.0/24 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 5 mode tunnel\n"
	"policy add src 10.1.5.0/24 dst 10.2.5.0/24 dir fwd "
	"  tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 5 mode tunnel\n"
	/* A PFP policy with no SA: packets are held for ACQUIRE. */
	"policy add src 10.1.6.0/24 dst 10.2.6.0/24 proto udp dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 9 mode tunnel "
	"  pfp src,dst,proto,sport,dport\n"
	"policy add src 10.1.7.0/24 dst 10.2.7.0/24 dir out action block\n"
	"policy add src 10.1.7.0/24 dst 10.2.7.0/24 dir fwd action block\n"
	"policy add src 10.2.8.0/24 dst 10.1.8.0/24 dir in "
	"  tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 1 mode tunnel\n";

struct direct_sa {
	uint32_t spi;
	uint32_t window;
	struct esp_sa out, in;
};

#define N_ENGINES 3 /* null, IPsec-MB, cryptodev */
#define CDEV_NAME "crypto_aesni_mb_fuzz"

static struct direct_sa dsa[N_ENGINES][N_CONF];
static struct esp_ctx ctx[N_ENGINES];
static struct esp_async *gw_async; /* the gateway worker's pending ring */
static unsigned int n_engines = 2; /* 3 once the cryptodev is up */
static uint64_t port_map[65536 / 64];
static struct testgw *g;
static struct exc *exc; /* lcore 0's exception path on g */
static unsigned int baseline;
static const char *seed_dir;

static void
fill(uint8_t *k, size_t n, uint8_t first)
{
	size_t i;

	for (i = 0; i < n; i++)
		k[i] = (uint8_t)(first + i);
}

static void
addr(struct esp_addr *a, int v6, uint8_t host)
{
	memset(a, 0, sizeof(*a));
	if (v6) {
		a->family = 6;
		a->v6[0] = 0x20;
		a->v6[1] = 0x01;
		a->v6[2] = 0x0d;
		a->v6[3] = 0xb8;
		a->v6[15] = host;
	} else {
		a->family = 4;
		a->v4 = rte_cpu_to_be_32(RTE_IPV4(172u, 16, host, 5));
	}
}

/* Config i: algorithm i % 3, mode (i / 3) % 2, and for i >= 6 UDP
 * encapsulation (port 4500, or 4501 from the port map) with ESN and an
 * IPv6 outer header in tunnel mode. */
static void
direct_init(void)
{
	unsigned int e, i;

	fill(gcm_key, sizeof(gcm_key), 0x01);
	fill(cbc_key, sizeof(cbc_key), 0x40);
	fill(sha_key, sizeof(sha_key), 0x60);
	fill(chacha_key, sizeof(chacha_key), 0x80);
	esp_port_map_set(port_map, 4501);
	if (rte_vdev_init(CDEV_NAME, "") == 0 && crypto_cdev_open(CDEV_NAME, 1, 0) == 0)
		n_engines = 3;
	else
		fprintf(stderr, "fuzz_esp_in: no %s: the cryptodev engine is left out\n",
			CDEV_NAME);
	for (e = 0; e < n_engines; e++) {
		enum crypto_engine_kind kind = e == 2 ? CRYPTO_ENGINE_CDEV :
					       e ? CRYPTO_ENGINE_MB : CRYPTO_ENGINE_NULL;

		ctx[e].engine = crypto_engine_create(kind);
		if (ctx[e].engine == NULL || esp_ctx_async_init(&ctx[e], 4, 0) < 0)
			abort();
		for (i = 0; i < N_CONF; i++) {
			struct direct_sa *d = &dsa[e][i];
			unsigned int v = i / 6;
			struct esp_sa_conf c = {
				.spi = 0x1000 + (e << 8) + i,
				.mode = (i / 3) % 2 ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL,
				.flags = v ? (ESP_F_UDP_ENCAP | ESP_F_ESN) : 0,
				.udp_sport = 4500,
				.udp_dport = (i & 1) ? 4501 : 4500,
				.replay_window = v ? 256 : 64,
			};

			switch (i % 3) {
			case 0:
				c.algo.cipher = CRYPTO_CIPHER_AES_GCM;
				c.algo.cipher_key = gcm_key;
				c.algo.cipher_key_len = sizeof(gcm_key);
				c.algo.icv_len = 16;
				break;
			case 1:
				c.algo.cipher = CRYPTO_CIPHER_AES_CBC;
				c.algo.auth = CRYPTO_AUTH_HMAC_SHA256;
				c.algo.cipher_key = cbc_key;
				c.algo.cipher_key_len = sizeof(cbc_key);
				c.algo.auth_key = sha_key;
				c.algo.auth_key_len = sizeof(sha_key);
				c.algo.icv_len = 16;
				break;
			default:
				c.algo.cipher = CRYPTO_CIPHER_CHACHA20_POLY1305;
				c.algo.cipher_key = chacha_key;
				c.algo.cipher_key_len = sizeof(chacha_key);
				c.algo.icv_len = 16;
				break;
			}
			addr(&c.src, v && c.mode == ESP_MODE_TUNNEL, 1);
			addr(&c.dst, v && c.mode == ESP_MODE_TUNNEL, 2);
			d->spi = c.spi;
			d->window = c.replay_window;
			c.dir = ESP_DIR_OUT;
			if (esp_sa_init(&d->out, &c, kind) < 0)
				abort();
			c.dir = ESP_DIR_IN;
			if (esp_sa_init(&d->in, &c, kind) < 0)
				abort();
		}
	}
}

static struct direct_sa *
direct_find(uint32_t spi, unsigned int *engine)
{
	/* SPI 0x1ENN: engine E (0 to 2), SA NN. */
	unsigned int e = (spi >> 8) & 0x3, i = spi & 0xff;

	if ((spi & ~0x3ffu) != 0x1000 || e >= n_engines || i >= N_CONF)
		return NULL;
	*engine = e;
	return &dsa[e][i];
}

static struct rte_mbuf *
mbuf_of(const uint8_t *data, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	char *p;

	if (m == NULL)
		abort();
	p = rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL)
		abort();
	memcpy(p, data, len);
	return m;
}

static void
seed_write(const char *kind, const uint8_t *p, size_t len)
{
	char path[4096];
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;
	FILE *f;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	snprintf(path, sizeof(path), "%s/%s-%016llx", seed_dir, kind, (unsigned long long)h);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(p, 1, len, f);
	fclose(f);
}

static void
seed_sent(uint16_t port, const struct rte_mbuf *m)
{
	if (port == 1)
		seed_write("gw-esp", rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
}

/* Seed mode: a plain UDP packet 40001 -> 5001 through every fixed SA. */
static void
seed_direct(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + RTE_ETHER_HDR_LEN;
	size_t iplen = len - RTE_ETHER_HDR_LEN;
	unsigned int e, i, hl;
	const uint8_t *udp;

	if ((ip[0] >> 4) == 4 && ip[9] == IPPROTO_UDP)
		hl = (ip[0] & 0x0f) * 4u;
	else if ((ip[0] >> 4) == 6 && iplen >= 48 && ip[6] == IPPROTO_UDP)
		hl = 40;
	else
		return;
	if (iplen < hl + 8)
		return;
	udp = ip + hl;
	/* Only the one seed meant for it: UDP 40001 -> 5001. */
	if (udp[0] != 40001 >> 8 || udp[1] != (40001 & 0xff) ||
	    udp[2] != 5001 >> 8 || udp[3] != (5001 & 0xff))
		return;
	for (e = 0; e < n_engines; e++) {
		for (i = 0; i < N_CONF; i++) {
			struct esp_sa *sas[1] = { &dsa[e][i].out };
			struct rte_mbuf *m = mbuf_of(ip, iplen);
			uint16_t why[1];
			uint8_t *eh;

			if (esp_out_process(&ctx[e], &m, sas, 1, why) == 1 &&
			    (eh = (uint8_t *)rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN)) != NULL) {
				uint8_t v = rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[0] >> 4;

				memcpy(eh, frame, 12);
				eh[12] = v == 6 ? 0x86 : 0x08;
				eh[13] = v == 6 ? 0xdd : 0x00;
				seed_write("direct-esp", rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
			}
			rte_pktmbuf_free(m);
			dsa[e][i].out.seq = 0;
		}
	}
}

/* Lcore 0's side of what the worker just did: its exception path, then
 * the exception path again (lcore 0's own packets waiting for a
 * neighbour), each followed by what lcore 0 handed to the worker, should
 * one of its packets need an SA the worker owns (none of gw_conf's
 * policies covers the gateway's own addresses today, so this stays
 * empty). Learned neighbours go again, with what waits for them, so that
 * an input always does the same thing. */
static void
run_lcore0(void)
{
	struct gw_worker *w = g->pub.workers[0];

	(void)gw_esp_collect(w, g->pub.shared.tables, true);
	(void)exc_poll(exc);
	(void)gw_handoff_poll(w, g->pub.shared.tables);
	(void)exc_poll(exc);
	(void)gw_handoff_poll(w, g->pub.shared.tables);
	neigh_flush(&g->pub);
	gw_hold_drop_all(g->pub.w0);
	testgw_drain_ctx(g->pub.w0, NULL);
	exc_drop_fragments(exc); /* fragments for the gateway, waiting */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_eal_init((*argv)[0]);
	seed_dir = getenv("FUZZ_SEED_DIR");
	g = fuzz_gw_new(gw_conf, CRYPTO_ENGINE_NULL);
	/* The worker's asynchronous pipeline, for every other input. */
	if (esp_ctx_async_init(&g->pub.workers[0]->esp, 64, 0) < 0)
		abort();
	gw_async = g->pub.workers[0]->esp.async;
	exc = exc_new(&g->pub);
	if (exc == NULL)
		abort();
	direct_init();
	baseline = rte_mempool_in_use_count(g->pub.pool);
	return 0;
}

static void
direct_reset(struct direct_sa *d)
{
	memset(&d->in.stats, 0, sizeof(d->in.stats));
	if (d->in.replay != NULL)
		replay_window_init(d->in.replay, d->window, 0);
}

/*
 * The same two packets again through the asynchronous halves
 * (esp_in_submit(), esp_collect()) on the same engine: each must end as
 * the synchronous call left it (@p res: 0 or its reason; @p sync: its
 * bytes), and come back in the order it went in.
 */
static void
direct_async(const uint8_t *ip, size_t len, unsigned int e, struct direct_sa *d,
	     struct rte_mbuf *const sync[2], const uint16_t res[2])
{
	struct rte_mbuf *m[2], *orig[2];
	struct esp_sa *sas[2] = { &d->in, &d->in };
	struct esp_done done[2];
	uint16_t why[2], got[2], taken, i, n, k = 0;

	for (i = 0; i < 2; i++) {
		uint32_t spi;

		orig[i] = m[i] = mbuf_of(ip, len);
		if (esp_in_parse(m[i], port_map, &spi) != ESP_IN_ESP)
			abort(); /* it parsed the first time */
	}
	taken = esp_in_submit(&ctx[e], m, sas, 2, why);
	for (i = taken; i < 2; i++)
		got[m[i] == orig[0] ? 0 : 1] = why[i];
	while (k < taken) {
		n = esp_collect(&ctx[e], done, 2);
		for (i = 0; i < n; i++, k++) {
			/* Back in order: the first taken first. */
			if (done[i].m != m[k])
				abort();
			got[done[i].m == orig[0] ? 0 : 1] = done[i].why;
		}
	}
	if (esp_pending(&ctx[e]) != 0)
		abort();
	for (i = 0; i < 2; i++) {
		if (got[i] != res[i]) {
			fprintf(stderr, "fuzz: engine %u packet %u: async %u, sync %u\n", e, i,
				got[i], res[i]);
			abort();
		}
		if (res[i] == 0 && (orig[i]->data_len != sync[i]->data_len ||
				    memcmp(rte_pktmbuf_mtod(orig[i], void *),
					   rte_pktmbuf_mtod(sync[i], void *),
					   orig[i]->data_len) != 0)) {
			fprintf(stderr, "fuzz: engine %u packet %u: async and sync differ\n", e, i);
			abort();
		}
		rte_pktmbuf_free(orig[i]);
	}
}

static void
run_direct(const uint8_t *ip, size_t len)
{
	struct rte_mbuf *m[2];
	struct esp_sa *sas[2];
	struct direct_sa *d;
	uint16_t why[2], good, i;
	unsigned int e;
	uint32_t spi = 0;

	m[0] = mbuf_of(ip, len);
	if (esp_in_parse(m[0], port_map, &spi) != ESP_IN_ESP ||
	    (d = direct_find(spi, &e)) == NULL) {
		rte_pktmbuf_free(m[0]);
		return;
	}
	/* The second copy as parse left the first (l3_len, l4_len, trim). */
	m[1] = mbuf_of(rte_pktmbuf_mtod(m[0], uint8_t *), m[0]->data_len);
	m[1]->l3_len = m[0]->l3_len;
	m[1]->l4_len = m[0]->l4_len;
	sas[0] = sas[1] = &d->in;
	{
		struct rte_mbuf *orig[2] = { m[0], m[1] };
		uint16_t res[2];

		good = esp_in_process(&ctx[e], m, sas, 2, why);
		for (i = 0; i < 2; i++) {
			if (i >= good && why[i] >= CNT__MAX)
				abort(); /* every drop names a counter */
			res[m[i] == orig[0] ? 0 : 1] = i < good ? 0 : why[i];
		}
		direct_reset(d);
		direct_async(ip, len, e, d, orig, res);
		rte_pktmbuf_free(orig[0]);
		rte_pktmbuf_free(orig[1]);
	}
	direct_reset(d);
}

#define FRAG_MAGIC "FRAG"
#define FRAG_SEQ_MAX 16

/* Mode 3: a sequence of frames into the unprotected port, one burst each. */
/* What the worker holds for ACQUIRE: its larval table must account for
 * every mbuf still in use; once they are dropped, none is. */
static void
held_then_none(const char *where)
{
	struct gw_worker *w = g->pub.workers[0];

	if (rte_mempool_in_use_count(g->pub.pool) != baseline + w->hold->n_pkts) {
		fprintf(stderr, "fuzz: %s: %u mbufs in use, %u held, baseline %u\n", where,
			rte_mempool_in_use_count(g->pub.pool), w->hold->n_pkts, baseline);
		abort();
	}
	gw_hold_drop_all(w);
	fuzz_check_pool(g->pub.pool, baseline, where);
}

static void
run_sequence(const uint8_t *data, size_t size)
{
	struct gw_worker *w = g->pub.workers[0];
	const struct gw_tables *t = g->pub.shared.tables;
	size_t off = 4;
	unsigned int n = 0;

	while (off + 2 <= size && n++ < FRAG_SEQ_MAX) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		struct rte_mbuf *m;

		off += 2;
		if (len > size - off || len > FRAME_MAX)
			break;
		m = mbuf_of(data + off, len);
		m->port = 1;
		gw_inbound(w, t, 1, &m, 1);
		off += len;
	}
	run_lcore0();
	testgw_drain(g, NULL);
	held_then_none("fragment sequence");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_worker *w = g->pub.workers[0];
	const struct gw_tables *t = g->pub.shared.tables;
	struct rte_mbuf *m;

	/* Inputs of odd length go through the worker's asynchronous
	 * pipeline (submit, collect in testgw_drain()), even ones through
	 * the synchronous calls. Nothing is pending between inputs. */
	w->esp.async = (size & 1) ? gw_async : NULL;
	if (size >= 4 && memcmp(data, FRAG_MAGIC, 4) == 0) {
		if (size > FRAG_SEQ_MAX * (FRAME_MAX + 2) + 4)
			return -1;
		run_sequence(data, size);
		fuzz_gw_reset_sas(g);
		return 0;
	}
	if (size > FRAME_MAX)
		return -1; /* not kept in the corpus */

	if (size > RTE_ETHER_HDR_LEN) {
		run_direct(data + RTE_ETHER_HDR_LEN, size - RTE_ETHER_HDR_LEN);
		fuzz_check_pool(g->pub.pool, baseline, "esp_in_parse/esp_in_process");
		if (seed_dir != NULL)
			seed_direct(data, size);
	}

	m = mbuf_of(data, size);
	m->port = 1;
	gw_inbound(w, t, 1, &m, 1);
	run_lcore0();
	testgw_drain(g, NULL);
	/* Plain traffic routed back out of the unprotected port meets the
	 * outbound SPD (hub and spoke): a PFP policy holds it for ACQUIRE. */
	held_then_none("gw_inbound");

	m = mbuf_of(data, size);
	m->port = 0;
	gw_outbound(w, t, 0, &m, 1);
	if (seed_dir == NULL)
		run_lcore0();
	testgw_drain(g, seed_dir != NULL ? seed_sent : NULL);
	held_then_none("gw_outbound");

	/* The IP part as the gateway's own packet (lcore 0): what an SA
	 * protects is handed to the worker that owns the SA, which sends it. */
	if (size > RTE_ETHER_HDR_LEN) {
		m = mbuf_of(data, size);
		rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
		gw_local_out(g->pub.w0, t, &m, 1);
		(void)gw_handoff_poll(w, t);
		run_lcore0();
		gw_hold_drop_all(w);
		gw_hold_drop_all(g->pub.w0);
		testgw_drain(g, NULL);
		testgw_drain_ctx(g->pub.w0, NULL);
		fuzz_check_pool(g->pub.pool, baseline, "gw_local_out");
	}

	fuzz_gw_reset_sas(g);
	return 0;
}
