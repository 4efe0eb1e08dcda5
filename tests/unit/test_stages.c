/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suites for the worker's stages on the null engine, each driven by
 * hand on the test gateway (tests/support/testgw.h):
 *  - "hold": the per-lcore larval table against a reference model
 *    (colliding keys, backward-shift removal, caps, order);
 *  - "stage_out": the outbound stage: bypass, discard, protect, TTL; the
 *    per-lcore SA cache following SA replacement and deletion; the
 *    owning lcore and handoff;
 *  - "stage_in": the inbound stage: a round trip from another gateway's
 *    outbound stage, unknown SPIs, the SPI cache after a delete;
 *  - "stage_route": bulk IPv4 routes, IPv6, on-link neighbours told
 *    apart, no route, an unresolved neighbour;
 *  - "poll_round": a whole gw_worker_poll() over net_ring ports: what
 *    a round received leaves in that round.
 * Every case ends with the mempool where it started.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "config/config.h"
#include "control/events.h"
#include "dataplane/esp_priv.h"
#include "dataplane/flowtab.h"
#include "dataplane/frag.h"
#include "dataplane/hold.h"
#include "dataplane/worker.h"
#include "dataplane/worker_priv.h"
#include "tests/support/testgw.h"
#include "unit.h"

#define GCM "aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128"
#define GCM2 "aead rfc4106(gcm(aes)) 0x1112131415161718191a1b1c1d1e1f20b1b2b3b4 128"

/* Gateway A: 192.168.1.0/24 behind it, the tunnel to B (172.16.2.5). */
static const char conf_a[] =
	"port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01\n"
	"route add 172.16.2.0/24 port 1 via 172.16.1.1\n"
	"route add 192.168.4.0/24 port 1 via 172.16.1.1\n"
	"route add 10.9.0.0/16 port 1\n"
	"route add 2001:db8:2::/64 port 1 via 2001:db8:1::1\n"
	"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
	"neigh add 10.9.0.1 lladdr 02:00:00:00:09:01 port 1\n"
	"neigh add 10.9.0.2 lladdr 02:00:00:00:09:02 port 1\n"
	"neigh add 2001:db8:1::1 lladdr 02:00:00:00:06:01 port 1\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir out reqid 1 " GCM "\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n"
	"policy add src 192.168.1.0/24 dst 192.168.3.0/24 dir out action block\n";

/* Gateway B: the other end of A's tunnel, 192.168.2.0/24 behind it. */
static const char conf_b[] =
	"port 0 role protected addr 192.168.2.1/24 mac 02:00:00:00:0b:01\n"
	"port 1 role unprotected addr 172.16.2.5/24 mac 02:00:00:00:0b:02\n"
	"route add 192.168.2.0/24 port 0\n"
	"neigh add 192.168.2.20 lladdr 02:00:00:00:0b:20 port 0\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir in reqid 1 " GCM "\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir fwd "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n";

static struct testgw *
gw(const char *conf)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	return g;
}

/* @p g drained, every mbuf back (@p base in use before), and freed. */
static void
gw_free_at(struct testgw *g, unsigned int base)
{
	testgw_drain(g, NULL);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
	testgw_free(g);
}

static uint64_t
counter(struct testgw *g, enum espd_counter c)
{
	uint64_t v[CNT__MAX];

	pub_counters(&g->pub, v);
	return v[c];
}

/* An Ethernet frame (or, @p l3, just the IP packet) of UDP from
 * @p src:40000 to @p dst:5001 (IPv4, host order), TTL @p ttl. */
static struct rte_mbuf *
udp4(struct testgw *g, uint32_t src, uint32_t dst, uint8_t ttl, bool l3)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	uint16_t l2 = l3 ? 0 : sizeof(struct rte_ether_hdr);
	uint16_t len = l2 + 20 + 8 + 32;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	uint8_t *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (p == NULL)
		return m;
	memset(p, 0, len);
	if (!l3)
		((struct rte_ether_hdr *)p)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(p + l2);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(20 + 8 + 32);
	ip->time_to_live = ttl;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(ip + 1);
	udp->src_port = rte_cpu_to_be_16(40000);
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16(8 + 32);
	return m;
}

/* The same as an IPv6 packet (L3 only) to @p dst. */
static struct rte_mbuf *
udp6(struct testgw *g, const char *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	struct rte_ipv6_hdr *ip;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rte_pktmbuf_append(m, 40 + 8));
	ip = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	memset(rte_pktmbuf_mtod(m, uint8_t *), 0, 48);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(8);
	ip->proto = IPPROTO_UDP;
	ip->hop_limits = 64;
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:9::1", ip->src_addr), 1);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, dst, ip->dst_addr), 1);
	return m;
}

#define A_HOST RTE_IPV4(192u, 168, 1, 10)
#define B_HOST RTE_IPV4(192u, 168, 2, 20)

/* What a worker buffered for TX, taken frame by frame. */
struct sent {
	unsigned int n;
	uint16_t port[64];
	struct rte_mbuf *m[64];
};

static void
take_tx(struct gw_worker *w, struct sent *s)
{
	uint16_t p, i;

	s->n = 0;
	for (p = 0; p < GW_PORTS_MAX; p++) {
		for (i = 0; i < w->tx[p].n; i++) {
			if (s->n < 64) {
				s->port[s->n] = p;
				s->m[s->n++] = w->tx[p].pkts[i];
			} else {
				rte_pktmbuf_free(w->tx[p].pkts[i]);
			}
		}
		w->tx[p].n = 0;
	}
}

static void
free_tx(struct sent *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		rte_pktmbuf_free(s->m[i]);
	s->n = 0;
}

/* SPI and sequence number of an ESP frame (outer IPv4, no options). */
static void
esp_of(const struct rte_mbuf *m, uint32_t *spi, uint32_t *seq)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *) + 14 + 20;
	uint32_t v;

	CU_ASSERT_EQUAL(p[-20 + 9], IPPROTO_ESP);
	memcpy(&v, p, 4);
	*spi = rte_be_to_cpu_32(v);
	memcpy(&v, p + 4, 4);
	*seq = rte_be_to_cpu_32(v);
}

/* ---- hold ---------------------------------------------------------------- */

/* Keys whose hash is forced into a few home slots, so probe runs are
 * long and removals shift entries back. */
static void
key_of(struct gw_flow_key *fk, uint32_t i)
{
	memset(fk, 0, sizeof(*fk));
	fk->policy = 7;
	fk->sport = (uint16_t)i;
	fk->src[0] = (uint8_t)(i >> 16);
}

static void
test_hold_model(void)
{
	struct gw_hold *h = gw_hold_new(SOCKET_ID_ANY);
	enum { N = 600 };
	static uint8_t live[N];
	static uint16_t held[N];
	struct flow_key pkt = { 0 };
	struct gw_flow_key fk;
	struct gw_hold_entry *e;
	struct rte_mbuf *out[8];
	uint32_t i, step, ok = 1, refused = 0;
	bool created;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	memset(live, 0, sizeof(live));
	memset(held, 0, sizeof(held));
	srand(7);
	for (step = 0; step < 20000; step++) {
		/* Hash: only 8 home slots for all keys. */
		i = (uint32_t)rand() % N;
		key_of(&fk, i);
		if (rand() % 3 != 0) {
			uintptr_t tag = ((uintptr_t)i << 16) | held[i];
			int rc = gw_hold_add(h, &fk, i % 8, 0, (struct rte_mbuf *)(tag + 1), &pkt,
					     4, GW_HOLD_PKTS, 1, &e, &created);

			if (e == NULL) {
				/* No room within 64 slots of its home: a new
				 * key only, refused whole. */
				ok &= !live[i] && rc == -1 && !created;
				refused++;
				continue;
			}
			ok &= created == !live[i];
			ok &= (rc == 0) == (held[i] < 4);
			live[i] = 1;
			held[i] += rc == 0;
		} else if (live[i]) {
			uint16_t n, k;

			e = gw_hold_find(h, &fk, i % 8);
			ok &= e != NULL;
			if (e == NULL)
				continue;
			/* Oldest first, each one what was put in. */
			n = gw_hold_take(h, e, out, 8);
			ok &= n == held[i];
			for (k = 0; k < n; k++)
				ok &= (uintptr_t)out[k] == (((uintptr_t)i << 16) | k) + 1;
			gw_hold_remove(h, e);
			live[i] = 0;
			held[i] = 0;
		}
		if (step % 997 == 0) {
			uint32_t j, keys = 0, pkts = 0;

			for (j = 0; j < N; j++) {
				key_of(&fk, j);
				e = gw_hold_find(h, &fk, j % 8);
				ok &= (e != NULL) == live[j];
				if (e != NULL)
					ok &= e->n == held[j];
				keys += live[j];
				pkts += held[j];
			}
			ok &= h->n_keys == keys && h->n_pkts == pkts;
		}
	}
	CU_ASSERT(ok);
	CU_ASSERT(refused > 0); /* 8 homes for hundreds of keys */
	/* Caps: a total of 3 packets, acquire-queue 0 (a key, no packet). */
	for (i = 0; i < N; i++) {
		key_of(&fk, i);
		e = gw_hold_find(h, &fk, i % 8);
		if (e != NULL) {
			(void)gw_hold_take(h, e, out, 8);
			gw_hold_remove(h, e);
		}
	}
	CU_ASSERT(h->n_keys == 0 && h->n_pkts == 0);
	key_of(&fk, 1);
	CU_ASSERT_EQUAL(gw_hold_add(h, &fk, 1, 0, (struct rte_mbuf *)8, &pkt, 0, 3, 1, &e,
				    &created), -1);
	CU_ASSERT(created && e != NULL && e->n == 0 && h->n_keys == 1);
	key_of(&fk, 2);
	for (i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(gw_hold_add(h, &fk, 2, 0, (struct rte_mbuf *)8, &pkt, 10, 3, 1,
					    &e, &created), i < 3 ? 0 : -1);
	CU_ASSERT_EQUAL(h->n_pkts, 3);
	gw_hold_free(h);
}

/* ---- stage_out ------------------------------------------------------------ */

/* The SA cache follows the SA: a newer SA for the policy takes the
 * traffic at once, and when it goes the older one comes back with its
 * sequence numbers where they were. Bypass, discard and TTL along. */
static void
test_out_cache(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	struct rte_mbuf *m[4];
	struct sent s;
	uint32_t spi, seq;

	for (i = 0; i < 3; i++)
		m[i] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 3);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	for (i = 0; i < s.n; i++) {
		esp_of(s.m[i], &spi, &seq);
		CU_ASSERT(s.port[i] == 1 && spi == 0x5001 && seq == i + 1);
	}
	free_tx(&s);

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002 dir out reqid 1 "
	      GCM2);
	m[0] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	esp_of(s.m[0], &spi, &seq);
	CU_ASSERT(spi == 0x5002 && seq == 1);
	free_tx(&s);

	unit_gw_apply(g, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002");
	/* TTL 1: Time Exceeded, no sequence number spent; block; bypass. */
	m[0] = udp4(g, A_HOST, B_HOST, 1, false);
	m[1] = udp4(g, A_HOST, B_HOST, 64, false);
	m[2] = udp4(g, A_HOST, RTE_IPV4(192u, 168, 3, 1), 64, false);
	m[3] = udp4(g, A_HOST, RTE_IPV4(192u, 168, 4, 1), 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 4);
	CU_ASSERT_EQUAL(counter(g, CNT_TtlExceeded), 1);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutPolBlock), 1);
	CU_ASSERT_EQUAL(counter(g, CNT_Bypass), 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	esp_of(s.m[0], &spi, &seq);
	CU_ASSERT(spi == 0x5001 && seq == 4);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(s.m[1], const uint8_t *)[14 + 9], IPPROTO_UDP);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(s.m[1], const uint8_t *)[14 + 8], 63);
	free_tx(&s);

	/* Runs of one flow share one classification: each run still gets
	 * its own policy's answer. */
	{
		static const uint8_t blocked[] = { 0, 0, 1, 1, 0, 1 };
		struct rte_mbuf *r[6];

		for (i = 0; i < 6; i++)
			r[i] = udp4(g, A_HOST, blocked[i] ? RTE_IPV4(192u, 168, 3, 1) : B_HOST,
				    64, false);
		gw_outbound(w, g->pub.shared.tables, 0, r, 6);
		CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutPolBlock), 4);
		take_tx(w, &s);
		CU_ASSERT_EQUAL_FATAL(s.n, 3);
		for (i = 0; i < s.n; i++) {
			esp_of(s.m[i], &spi, &seq);
			CU_ASSERT(spi == 0x5001 && seq == 5 + i);
		}
		free_tx(&s);
	}
	gw_free_at(g, base);
}

/* Packets handed off in a burst (one enqueue, flushed with the burst)
 * reach the owner all, in the order sent, and are numbered so; twice, so
 * the second burst follows the first. The first wakes the owner, asleep
 * on its interrupts (gw_wake). */
static void
test_out_handoff_burst(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0], *w0 = g->pub.w0;
	const struct gw_tables *t = g->pub.shared.tables;
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[GW_RX_BURST], *order[GW_RX_BURST];
	unsigned int i, b;
	struct sent s;
	uint32_t spi, seq;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	CU_ASSERT_FATAL(w->wake.fd >= 0);
	CU_ASSERT_PTR_EQUAL(g->pub.shared.wake[w->qsbr_id], &w->wake);
	for (b = 0; b < 2; b++) {
		uint64_t v = 0;

		/* The owner asleep (the first time): the handoff writes its
		 * eventfd once and clears its flag. Awake: nothing written. */
		w->wake.asleep = b == 0;
		for (i = 0; i < GW_RX_BURST; i++)
			order[i] = m[i] = udp4(g, A_HOST, B_HOST, 64, true);
		gw_local_out(w0, t, m, GW_RX_BURST);
		CU_ASSERT_EQUAL(w->wake.asleep, 0);
		if (b == 0) {
			CU_ASSERT(read(w->wake.fd, &v, sizeof(v)) == sizeof(v) && v == 1);
		} else {
			CU_ASSERT_EQUAL(read(w->wake.fd, &v, sizeof(v)), -1);
		}
		CU_ASSERT_EQUAL(w0->n_handoff, 0);
		CU_ASSERT_EQUAL(counter(g, CNT_SaHandoff), (b + 1) * GW_RX_BURST);
		CU_ASSERT_EQUAL(gw_handoff_poll(w, t), GW_RX_BURST);
		take_tx(w, &s);
		CU_ASSERT_EQUAL_FATAL(s.n, GW_RX_BURST);
		for (i = 0; i < s.n; i++) {
			esp_of(s.m[i], &spi, &seq);
			CU_ASSERT_EQUAL(seq, b * GW_RX_BURST + i + 1);
			CU_ASSERT_PTR_EQUAL(s.m[i], order[i]); /* ESP in place */
		}
		free_tx(&s);
	}
	CU_ASSERT_EQUAL(counter(g, CNT_SaHandoffDropped), 0);
	gw_free_at(g, base);
}

/* One lcore sends through an SA. lcore 0's own packets (w0) go to a
 * worker; a packet reaching a lcore that does not own the SA is handed
 * to the owner, which numbers it after its own. */
static void
test_out_owner(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0], *w0 = g->pub.w0;
	const struct gw_tables *t = g->pub.shared.tables;
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[2];
	struct sent s;
	uint32_t spi, seq;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	m[0] = udp4(g, A_HOST, B_HOST, 64, true);
	gw_local_out(w0, t, m, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_SaHandoff), 1);
	take_tx(w0, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	free_tx(&s);
	CU_ASSERT_EQUAL(gw_handoff_poll(w, t), 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	esp_of(s.m[0], &spi, &seq);
	CU_ASSERT(spi == 0x5001 && seq == 1);
	free_tx(&s);

	/* The worker owns it now; w0's next packet waits behind the
	 * worker's own. */
	m[0] = udp4(g, A_HOST, B_HOST, 64, true);
	gw_local_out(w0, t, m, 1);
	m[0] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, t, 0, m, 1);
	CU_ASSERT_EQUAL(gw_handoff_poll(w, t), 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	esp_of(s.m[0], &spi, &seq);
	CU_ASSERT_EQUAL(seq, 2);
	esp_of(s.m[1], &spi, &seq);
	CU_ASSERT_EQUAL(seq, 3);
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_SaHandoff), 2);
	gw_free_at(g, base);
}

/* The record of @p g's outbound SA 0x5001 (conf_a). */
static struct gw_sa *
out_record(struct testgw *g)
{
	uint32_t i;

	for (i = 0; i < g->model.n_sas; i++)
		if (g->model.sas[i]->dir == CFG_DIR_OUT)
			return g->model.sas[i]->dp;
	return NULL;
}

/* One packet from the worker (or, @p local, from lcore 0, which hands it
 * to the worker) through SA 0x5001: its sequence number. */
static uint32_t
out_seq(struct testgw *g, bool local)
{
	struct gw_worker *w = g->pub.workers[0];
	const struct gw_tables *t = g->pub.shared.tables;
	struct rte_mbuf *m = udp4(g, A_HOST, B_HOST, 64, local);
	struct sent s;
	uint32_t spi = 0, seq = 0;

	if (local) {
		gw_local_out(g->pub.w0, t, &m, 1);
		CU_ASSERT_EQUAL(gw_handoff_poll(w, t), 1);
	} else {
		gw_outbound(w, t, 0, &m, 1);
	}
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	esp_of(s.m[0], &spi, &seq);
	CU_ASSERT_EQUAL(spi, 0x5001);
	free_tx(&s);
	return seq;
}

extern void (*pub_replace_stall)(struct pub *p);
static struct testgw *stall_g;
static uint32_t stall_seq[5000];
static unsigned int stall_n;

/* lcore 0 stalled in record_replace() after reading the old record's
 * last number (preempted, say): the worker sends 5000 packets on,
 * more than the margin. */
static void
stall_send(struct pub *p)
{
	struct gw_worker *w = stall_g->pub.workers[0];
	unsigned int i;

	(void)p;
	for (i = 0; i < RTE_DIM(stall_seq); i++) {
		struct rte_mbuf *m = udp4(stall_g, A_HOST, B_HOST, 64, false);
		struct sent s;
		uint32_t spi;

		gw_outbound(w, stall_g->pub.shared.tables, 0, &m, 1);
		take_tx(w, &s);
		if (s.n == 1)
			esp_of(s.m[0], &spi, &stall_seq[stall_n++]);
		free_tx(&s);
	}
}

/* However long lcore 0 stalls while it replaces an outbound record
 * (`set out-sa shared`, a migrate), the successor's numbers start past
 * every number the old record sent: under the same keys and IV mask a
 * number sent twice would repeat a GCM nonce. */
static void
test_out_replace_stall(void)
{
	struct testgw *g = gw(conf_a);
	struct cfg_error err;
	uint32_t first, i, top = 0;

	stall_g = g;
	stall_n = 0;
	CU_ASSERT_EQUAL(out_seq(g, false), 1);
	/* A record fenced off past its number 1: number 2 is dropped. */
	{
		struct gw_sa *r = out_record(g);
		struct rte_mbuf *m = udp4(g, A_HOST, B_HOST, 64, false);
		const uint64_t top = r->esp.seq_stop;
		struct sent s;

		r->esp.seq_stop = 1;
		gw_outbound(g->pub.workers[0], g->pub.shared.tables, 0, &m, 1);
		take_tx(g->pub.workers[0], &s);
		CU_ASSERT_EQUAL(s.n, 0);
		CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutStateInvalid), 1);
		free_tx(&s);
		r->esp.seq_stop = top;
	}
	pub_replace_stall = stall_send;
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa shared", &err), 0);
	pub_replace_stall = NULL;
	CU_ASSERT_EQUAL(stall_n, RTE_DIM(stall_seq));
	first = out_seq(g, false);
	for (i = 0; i < stall_n; i++)
		top = RTE_MAX(top, stall_seq[i]);
	CU_ASSERT(top == 2 + RTE_DIM(stall_seq) && first > top);
	/* The old record, fenced off: a draw past its stop is dropped,
	 * never sent. */
	CU_ASSERT(((struct gw_sa *)out_record(g))->esp.seq == first);
	testgw_drain(g, NULL);
	testgw_free(g);
}

/* A frame sent to the link's broadcast or a multicast MAC for a unicast
 * IP destination not the gateway's is never forwarded (RFC 1812 5.3.4),
 * nor answered with an ICMP error (4.3.2.7): LinkBroadcast. */
static void
test_l2_group_not_forwarded(void)
{
	static const uint8_t macs[2][6] = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
					    { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	struct sent s;

	for (i = 0; i < 4; i++) {
		struct rte_mbuf *m = udp4(g, A_HOST, B_HOST, i < 2 ? 64 : 1, false);

		memcpy(rte_pktmbuf_mtod(m, uint8_t *), macs[i % 2], 6);
		gw_outbound(w, g->pub.shared.tables, 0, &m, 1);
	}
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	free_tx(&s);
	CU_ASSERT_EQUAL(rte_ring_count(w->exc), 0);
	CU_ASSERT_EQUAL(counter(g, CNT_LinkBroadcast), 4);
	CU_ASSERT_EQUAL(counter(g, CNT_TtlExceeded), 0);
	gw_free_at(g, base);
}

/* Packets an asynchronous engine finishes through a record after new
 * keys replaced it count for the SA: added when the old record goes. */
static void
test_out_replaced_counts(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0];
	struct model_sa *s = NULL;
	struct rte_mbuf *m[3];
	struct sa_counters c;
	struct sent t;
	unsigned int i;

	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&w->esp, 64, 0), 0);
	for (i = 0; i < 3; i++)
		m[i] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 3);
	CU_ASSERT_EQUAL(esp_pending(&w->esp), 3);
	unit_gw_apply(g, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 " GCM2);
	CU_ASSERT_EQUAL(gw_esp_collect(w, g->pub.shared.tables, true), 3);
	take_tx(w, &t);
	CU_ASSERT_EQUAL(t.n, 3);
	free_tx(&t);
	(void)pub_reclaim(&g->pub); /* no worker is online: the old record goes */
	for (i = 0; i < g->model.n_sas; i++)
		if (g->model.sas[i]->dir == CFG_DIR_OUT)
			s = g->model.sas[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	pub_sa_counters(s, &c);
	CU_ASSERT_EQUAL(c.packets, 3);
	esp_ctx_async_free(&w->esp);
	testgw_drain(g, NULL);
	testgw_free(g);
}

/* `state update` with the keys the SA has (a key manager repeating its
 * UPDSA) makes a new record that keeps the IV mask: its numbers go on
 * under the same key, and a new mask could meet an old IV (counter ^
 * mask). New keys draw a new mask. */
static void
test_out_update_same_keys(void)
{
	struct testgw *g = gw(conf_a);
	struct model_sa *s = NULL;
	uint8_t mask[sizeof(((struct esp_sa *)0)->iv_mask)];
	const struct gw_sa *r0, *r1;
	unsigned int i;

	for (i = 0; i < g->model.n_sas; i++)
		if (g->model.sas[i]->dir == CFG_DIR_OUT)
			s = g->model.sas[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	r0 = s->dp;
	memcpy(mask, r0->esp.iv_mask, sizeof(mask));
	unit_gw_apply(g, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 " GCM);
	r1 = s->dp;
	CU_ASSERT_PTR_NOT_EQUAL(r1, r0);
	CU_ASSERT_EQUAL(memcmp(r1->esp.iv_mask, mask, sizeof(mask)), 0);
	unit_gw_apply(g, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 " GCM2);
	CU_ASSERT_NOT_EQUAL(memcmp(((const struct gw_sa *)s->dp)->esp.iv_mask, mask,
				   sizeof(mask)), 0);
	(void)pub_reclaim(&g->pub);
	testgw_drain(g, NULL);
	testgw_free(g);
}

/* `set out-sa shared`: a worker sends through the SA without taking it
 * (any other would too); lcore 0 still hands its packets to a worker.
 * Changing the mode makes the SA a new record in the new mode, numbered
 * on past whatever the old one could still send. */
static void
test_out_shared_mode(void)
{
	struct testgw *g = gw(conf_a);
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct cfg_error err;
	struct gw_sa *old, *sa;
	/* Its one flow key: a record it replaces numbers on this far past. */
	const uint64_t M = pub_seq_margin(&g->pub, 1);

	/* One worker: 4096 for a burst of any lcore, and 64 numbers for each
	 * of the two lcores (worker and lcore 0) for the SA's one flow. */
	CU_ASSERT_EQUAL_FATAL(g->pub.n_workers, 1);
	CU_ASSERT_EQUAL(M, 4096 + 2 * 64);
	old = out_record(g);
	CU_ASSERT_PTR_NOT_NULL_FATAL(old);
	CU_ASSERT_FALSE(old->esp.shared);
	CU_ASSERT_EQUAL(out_seq(g, false), 1);
	CU_ASSERT_EQUAL(old->owner, 1); /* the worker took it */

	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa shared", &err), 0);
	sa = out_record(g);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
	CU_ASSERT(sa != old && old->dead && sa->esp.shared && sa->owner == 0);
	CU_ASSERT_EQUAL(out_seq(g, false), 1 + M + 1);
	CU_ASSERT_EQUAL(sa->owner, 0); /* nobody owns it */
	CU_ASSERT_EQUAL(out_seq(g, true), 1 + M + 2);
	CU_ASSERT_EQUAL(counter(g, CNT_SaHandoff), 1);
	CU_ASSERT_EQUAL(sa->esp.stats.packets, 3);

	/* A record replaced while a worker's burst is under way (its cache
	 * still names the old one): the packet goes out through the new
	 * record, not into the ACQUIRE queue. */
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa owner", &err), 0);
	g->pub.workers[0]->out_cache.gen = g->pub.shared.flows_gen; /* not flushed */
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa shared", &err), 0);
	g->pub.workers[0]->out_cache.gen = g->pub.shared.flows_gen;
	CU_ASSERT(out_record(g) != sa);
	sa = out_record(g);
	CU_ASSERT_EQUAL(out_seq(g, false), 1 + M + 2 + M + M + 1);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeld), 0);

	/* Again (no change: the same record), then back. */
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa shared", &err), 0);
	CU_ASSERT_PTR_EQUAL(out_record(g), sa);
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "set out-sa owner", &err), 0);
	old = sa;
	sa = out_record(g);
	CU_ASSERT(sa != old && !sa->esp.shared);
	CU_ASSERT_EQUAL(out_seq(g, false), 1 + M + 2 + M + M + 1 + M + 1);
	CU_ASSERT_EQUAL(sa->owner, 1);
	CU_ASSERT_EQUAL(sa->esp.stats.packets, 5);

	gw_free_at(g, base);
}

/* Gateway A's tunnel before any SA: its packets are held (PFP-less, one
 * key for the policy). */
static const char conf_hold[] =
	"port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01\n"
	"route add 172.16.2.0/24 port 1 via 172.16.1.1\n"
	"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
	"set acquire-queue 64\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n";

/* The one key @p w holds packets for. */
static struct gw_hold_entry *
held_entry(struct gw_worker *w)
{
	uint32_t i;

	for (i = 0; i < GW_HOLD_SLOTS; i++)
		if (w->hold->slot[i].used)
			return &w->hold->slot[i];
	return NULL;
}

/* 40 packets of conf_hold's policy held by @p g's worker (two bursts: two
 * chunks to release), the first 40 of @p m; @return their entry. */
static struct gw_hold_entry *
hold_40(struct testgw *g, struct rte_mbuf *m[])
{
	struct gw_worker *w = g->pub.workers[0];
	struct gw_hold_entry *e;
	unsigned int i;

	for (i = 0; i < 40; i++)
		m[i] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 32);
	gw_outbound(w, g->pub.shared.tables, 0, m + 32, 8);
	e = held_entry(w);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->n, 40);
	return e;
}

/* Whatever @p g's worker still holds dropped, every mbuf back (@p base in
 * use before), and @p g freed. */
static void
hold_gw_free(struct testgw *g, unsigned int base)
{
	gw_hold_drop_all(g->pub.workers[0]);
	gw_free_at(g, base);
}

/* Held packets released through a record that lcore 0 replaced meanwhile
 * (`state update` with the same keys) leave through its successor. The old
 * record's successor starts its numbers a margin past the old one's,
 * enough for one burst a worker, not for a hold queue: spending the old
 * numbers on a longer queue would send them twice, each time under the
 * same AES-GCM key and nonce. With the SA deleted instead, and no
 * successor, the packets stay held and their key is asked for again. */
static void
test_out_release_replaced(void)
{
	struct testgw *g = gw(conf_hold);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	struct rte_mbuf *m[40];
	struct gw_hold_entry *e;
	struct sent s;
	uint32_t spi, seq, first = 0;
	void *old = NULL;

	e = hold_40(g, m);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeld), 40);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir out "
		      "reqid 1 " GCM);
	CU_ASSERT_EQUAL_FATAL(flowtab_lookup(g->pub.shared.flows, &e->key, &old), 0);
	unit_gw_apply(g, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 "
		      GCM); /* same keys, a new record */
	CU_ASSERT(gw_out_release(w, g->pub.shared.tables, e, old));
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 40);
	for (i = 0; i < s.n; i++) {
		esp_of(s.m[i], &spi, &seq);
		if (i == 0)
			first = seq;
		CU_ASSERT(spi == 0x5001 && seq == first + i);
	}
	/* Past the margin: none of the old record's numbers. */
	CU_ASSERT(first > pub_seq_margin(&g->pub, 1));
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 40);
	CU_ASSERT_EQUAL(w->hold->n_keys, 0);

	/* Deleted with no successor: nothing leaves, the key is announced
	 * again, and the packets wait. */
	unit_gw_apply(g, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001");
	for (i = 0; i < 8; i++)
		m[i] = udp4(g, A_HOST, B_HOST, 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 8);
	e = held_entry(w);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002 dir out "
		      "reqid 1 " GCM2);
	CU_ASSERT_EQUAL_FATAL(flowtab_lookup(g->pub.shared.flows, &e->key, &old), 0);
	unit_gw_apply(g, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002");
	CU_ASSERT_EQUAL(w->n_notice, 0);
	CU_ASSERT(!gw_out_release(w, g->pub.shared.tables, e, old));
	CU_ASSERT_EQUAL(e->n, 8);
	CU_ASSERT_EQUAL(w->hold->n_keys, 1);
	CU_ASSERT(e->announced && w->n_notice == 1);
	gw_out_notices_flush(w);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	free_tx(&s);
	hold_gw_free(g, base);
}

/* The periodic scan releases a hold queue through an SA that runs out of
 * sequence numbers part way: what it could not send stays held, asked
 * for again, not dropped as if its time were up. */
static void
test_hold_scan_partial(void)
{
	struct testgw *g = gw(conf_hold);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[40];
	struct gw_hold_entry *e = hold_40(g, m);
	struct sent s;

	/* 19 numbers left: the first chunk spends them, the second waits. */
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir out "
		      "reqid 1 replay-oseq 4294967276 " GCM);
	w->hold->scan_pos = (uint32_t)(e - w->hold->slot);
	w->hold->scan_tsc = 0;
	(void)gw_hold_poll(w, g->pub.shared.tables);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 19);
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutStateSeqError), 13);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped), 0);
	CU_ASSERT_EQUAL(w->hold->n_keys, 1);
	CU_ASSERT_EQUAL(e->n, 8);
	hold_gw_free(g, base);
}

/* A packet whose SA runs out of numbers while its flow's hold queue is
 * released ahead of it (a newer SA for the flow exists; this worker's
 * cache still named the old one, mid-burst): the queue goes on through
 * the newer SA, and so does the packet, after it, not through the old. */
static void
test_release_then_packet(void)
{
	struct testgw *g = gw(conf_hold);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[41];
	struct gw_hold_entry *e = hold_40(g, m);
	uint32_t spi, seq;
	void *old = NULL;
	struct sent s;

	m[40] = udp4(g, A_HOST, B_HOST, 64, false);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir out "
		      "reqid 1 replay-oseq 4294967276 " GCM);
	CU_ASSERT_EQUAL_FATAL(flowtab_lookup(g->pub.shared.flows, &e->key, &old), 0);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002 dir out "
		      "reqid 1 " GCM2);
	w->out_cache.gen = w->in_cache.gen = g->pub.shared.flows_gen;
	gw_sa_cache_put(&w->out_cache, e->key.policy, old);
	gw_outbound(w, g->pub.shared.tables, 0, &m[40], 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 28); /* 19 through 0x5001, 8 + this one through 0x5002 */
	esp_of(s.m[27], &spi, &seq);
	CU_ASSERT(spi == 0x5002 && seq == 9);
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutStateSeqError), 13);
	CU_ASSERT_EQUAL(w->hold->n_keys, 0);
	hold_gw_free(g, base);
}

/* ---- stage_in ------------------------------------------------------------- */

/* @p n packets from the host behind A to the one behind B, through A's
 * worker: its ESP, copied into B's pool as B's port 1 would receive it. */
static void
esp_a_to_b(struct testgw *a, struct testgw *b, struct rte_mbuf *m[], unsigned int n)
{
	struct sent s;
	unsigned int i;

	for (i = 0; i < n; i++)
		m[i] = udp4(a, A_HOST, B_HOST, 64, false);
	gw_outbound(a->pub.workers[0], a->pub.shared.tables, 0, m, (uint16_t)n);
	take_tx(a->pub.workers[0], &s);
	CU_ASSERT_EQUAL_FATAL(s.n, n);
	for (i = 0; i < n; i++) {
		m[i] = rte_pktmbuf_copy(s.m[i], b->pub.pool, 0, UINT32_MAX);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	free_tx(&s);
}

/* Both gateways drained, every mbuf back (@p base_a, @p base_b in use
 * before), and freed. */
static void
pair_free(struct testgw *a, struct testgw *b, unsigned int base_a, unsigned int base_b)
{
	testgw_drain(a, NULL);
	testgw_drain(b, NULL);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(a->pub.pool), base_a);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(b->pub.pool), base_b);
	testgw_free(a);
	testgw_free(b);
}

/* B's inbound SA replaced (`state update`: a new record, the same keys)
 * while a burst is under way, its worker's cache still naming the old
 * record: A's packet is decrypted through the new one, not dropped as an
 * unknown SPI (which would raise invalid-spi and start an IKE exchange). */
static void
test_in_replaced(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *wb = b->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	struct rte_mbuf *m[2];
	struct sent r;

	esp_a_to_b(a, b, m, 2);
	gw_inbound(wb, b->pub.shared.tables, 1, &m[0], 1); /* fills the cache */
	unit_gw_apply(b, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 "
		      GCM); /* same keys, a new record */
	/* As if mid-burst: the cache not flushed (its check reads out_cache's gen). */
	wb->in_cache.gen = wb->out_cache.gen = b->pub.shared.flows_gen;
	gw_inbound(wb, b->pub.shared.tables, 1, &m[1], 1);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInNoStates), 0);
	free_tx(&r);
	events_poll(b->ev);
	CU_ASSERT_EQUAL(counter(b, CNT_InvalidSpiEvents), 0);
	pair_free(a, b, base_a, base_b);
}

/* B's inbound SA replaced (`state update`) while B's worker still decrypts through the old
 * record (the rest of its burst, as RCU allows): a packet the old record
 * accepts then is known to the new one's replay window (the same window,
 * not a copy taken before), so its replay is dropped. The old record,
 * freed, leaves the window to the new one. */
static void
test_in_replaced_window(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *wb = b->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	struct model_sa *s = NULL;
	struct sa_counters c;
	struct rte_mbuf *m[3];
	struct gw_sa *old;
	struct sent r;
	uint32_t i;

	for (i = 0; i < b->model.n_sas; i++)
		if (b->model.sas[i]->cfg.spi == 0x5001)
			s = b->model.sas[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	esp_a_to_b(a, b, m, 2);
	m[2] = rte_pktmbuf_copy(m[1], b->pub.pool, 0, UINT32_MAX); /* its replay */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[2]);
	gw_inbound(wb, b->pub.shared.tables, 1, &m[0], 1); /* fills the cache */
	old = s->dp;
	unit_gw_apply(b, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 "
		      GCM); /* same keys, a new record */
	CU_ASSERT_PTR_NOT_EQUAL_FATAL(s->dp, old);
	/* As if the worker had loaded the old record before lcore 0 marked
	 * it, mid-burst: the cache not flushed, the record not yet dead. */
	wb->in_cache.gen = wb->out_cache.gen = b->pub.shared.flows_gen;
	old->dead = 0;
	gw_inbound(wb, b->pub.shared.tables, 1, &m[1], 1);
	old->dead = 1;
	gw_inbound(wb, b->pub.shared.tables, 1, &m[2], 1);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInStateSeqError), 1);
	free_tx(&r);
	(void)pub_reclaim(&b->pub); /* no worker is online: the old record goes */
	CU_ASSERT_PTR_NOT_NULL_FATAL(((struct gw_sa *)s->dp)->esp.replay);
	CU_ASSERT_EQUAL(((struct gw_sa *)s->dp)->esp.replay->top, 2);
	pub_sa_totals(s, &c);
	CU_ASSERT_EQUAL(c.replay_drops, 1);
	pair_free(a, b, base_a, base_b);
}

/* One worker decrypts for an inbound SA: the first to take it. Another
 * lcore that receives ESP of it (here lcore 0's context, which never
 * takes one; RSS does the same with a NAT-T fragment, hashed on its
 * addresses alone) hands the packets to the owner, which decrypts them
 * in the one replay window. */
static void
test_in_owner(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *wb = b->pub.workers[0], *w0 = b->pub.w0;
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	struct model_sa *s = NULL;
	struct sa_counters c;
	struct rte_mbuf *m[3];
	struct sent r;
	uint32_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w0);
	for (i = 0; i < b->model.n_sas; i++)
		if (b->model.sas[i]->cfg.spi == 0x5001)
			s = b->model.sas[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	esp_a_to_b(a, b, m, 3);
	gw_inbound(wb, b->pub.shared.tables, 1, &m[0], 1);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 1);
	free_tx(&r);
	CU_ASSERT_EQUAL(((struct gw_sa *)s->dp)->owner, wb->qsbr_id + 1);
	gw_inbound(w0, b->pub.shared.tables, 1, &m[1], 2);
	take_tx(w0, &r);
	CU_ASSERT_EQUAL(r.n, 0);
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(b, CNT_SaHandoff), 2);
	CU_ASSERT_EQUAL(gw_handoff_poll(wb, b->pub.shared.tables), 2);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 2);
	free_tx(&r);
	CU_ASSERT_EQUAL(((struct gw_sa *)s->dp)->esp.replay->top, 3);
	pub_sa_totals(s, &c);
	CU_ASSERT_EQUAL(c.packets, 3);
	pair_free(a, b, base_a, base_b);

	/* Replaced before anyone owned it: both records get one owner, so
	 * no two workers can take one each and share the window. */
	b = gw(conf_b);
	for (i = 0, s = NULL; i < b->model.n_sas; i++)
		if (b->model.sas[i]->cfg.spi == 0x5001)
			s = b->model.sas[i];
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	{
		struct gw_sa *old = s->dp;

		CU_ASSERT_EQUAL(old->owner, 0);
		unit_gw_apply(b, "state update src 172.16.1.5 dst 172.16.2.5 proto esp "
			      "spi 0x5001 " GCM); /* a new record */
		CU_ASSERT(old->owner != 0 && ((struct gw_sa *)s->dp)->owner == old->owner);
	}
	testgw_free(b);
}

/* A's ESP into B: decrypted, checked, forwarded to the host behind B.
 * An unknown SPI is dropped with its event; after `state del` and a new
 * add of the SPI the SPI cache must follow. */
static void
test_in_round_trip(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *wb = b->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	struct rte_mbuf *m[4], *keep, *keep2;
	struct sent r;
	unsigned int i;

	esp_a_to_b(a, b, m, 3);
	keep = rte_pktmbuf_copy(m[2], b->pub.pool, 0, UINT32_MAX);
	keep2 = rte_pktmbuf_copy(m[2], b->pub.pool, 0, UINT32_MAX);
	CU_ASSERT_FATAL(keep != NULL && keep2 != NULL);
	gw_inbound(wb, b->pub.shared.tables, 1, m, 3);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, 3);
	for (i = 0; i < r.n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(r.m[i], const uint8_t *);

		CU_ASSERT_EQUAL(r.port[i], 0);
		CU_ASSERT_EQUAL(p[5], 0x20); /* the host's MAC */
		CU_ASSERT_EQUAL(p[14 + 9], IPPROTO_UDP);
		CU_ASSERT_EQUAL(p[14 + 8], 62); /* a hop at A and one at B */
		CU_ASSERT_EQUAL(r.m[i]->pkt_len, 14u + 20 + 8 + 32);
	}
	free_tx(&r);

	/* The SA goes: its SPI is unknown from the next burst on. */
	unit_gw_apply(b, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001");
	gw_inbound(wb, b->pub.shared.tables, 1, &keep, 1);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInNoStates), 1);
	/* The SPI again, with other keys: A's packet now fails its ICV. A
	 * cache still naming the old SA would have found it dead instead. */
	unit_gw_apply(b, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir in reqid 1 "
	      GCM2);
	gw_inbound(wb, b->pub.shared.tables, 1, &keep2, 1);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInNoStates), 1);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInStateProtoError), 1);
	/* (Only now may the old record be freed: events_poll reclaims.) */
	events_poll(b->ev);
	CU_ASSERT_EQUAL(counter(b, CNT_InvalidSpiEvents), 1);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 0);
	free_tx(&r);
	pair_free(a, b, base_a, base_b);
}

/* A hub: A's tunnel comes in, and 192.168.2.0/24 lies behind another
 * spoke (172.16.2.9) on the unprotected side. */
static const char conf_hub[] =
	"port 0 role protected addr 10.1.0.1/24 mac 02:00:00:00:0b:01\n"
	"port 1 role unprotected addr 172.16.2.5/24 mac 02:00:00:00:0b:02\n"
	"route add 192.168.2.0/24 port 1 via 172.16.2.9\n"
	"neigh add 172.16.2.9 lladdr 02:00:00:00:0c:09 port 1\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir in reqid 1 " GCM "\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir fwd "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n"
	"state add src 172.16.2.5 dst 172.16.2.9 proto esp spi 0x7001 dir out reqid 2 " GCM2 "\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out "
	"  tmpl src 172.16.2.5 dst 172.16.2.9 proto esp reqid 2 mode tunnel\n";

/*
 * Hub and spoke: what comes out of A's SA and routes out of the
 * unprotected port goes through the outbound SPD, as Linux's forward path
 * asks its out policies. Protected, it leaves in the other spoke's SA,
 * never in clear; blocked, it is dropped; with no policy, it leaves plain.
 * One TTL is taken at the hub, not two. So does plain traffic from the
 * unprotected side.
 */
static void
test_in_hub_relay(void)
{
	struct testgw *a = gw(conf_a), *hub = gw(conf_hub);
	struct gw_worker *wh = hub->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_h = rte_mempool_in_use_count(hub->pub.pool);
	struct rte_mbuf *m[3];
	struct sent r;
	uint32_t spi, seq, dst;
	unsigned int i;

	esp_a_to_b(a, hub, m, 3);
	gw_inbound(wh, hub->pub.shared.tables, 1, m, 3);
	take_tx(wh, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, 3);
	for (i = 0; i < r.n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(r.m[i], const uint8_t *);

		CU_ASSERT_EQUAL(r.port[i], 1);
		CU_ASSERT_EQUAL(p[5], 0x09); /* the other spoke's MAC */
		esp_of(r.m[i], &spi, &seq);
		CU_ASSERT_EQUAL(spi, 0x7001);
		CU_ASSERT_EQUAL(seq, i + 1);
		memcpy(&dst, p + 14 + 16, 4);
		CU_ASSERT_EQUAL(dst, rte_cpu_to_be_32(RTE_IPV4(172u, 16, 2, 9)));
		/* The inner TTL: A's hop and the hub's (the outer header
		 * copies nothing else to look at; the null engine leaves the
		 * inner packet readable after the ESP header and IV). */
		CU_ASSERT_EQUAL(p[14 + 20 + 8 + 8 + 8], 62);
	}
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(hub, CNT_Protect), 3);

	/* Blocked on the way out. */
	unit_gw_apply(hub, "policy del src 192.168.1.0/24 dst 192.168.2.0/24 dir out");
	unit_gw_apply(hub, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out action block");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&hub->pub), 0);
	esp_a_to_b(a, hub, m, 2);
	gw_inbound(wh, hub->pub.shared.tables, 1, m, 2);
	take_tx(wh, &r);
	CU_ASSERT_EQUAL(r.n, 0);
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(hub, CNT_XfrmOutPolBlock), 2);

	/* No out policy: routed plain, as before. */
	unit_gw_apply(hub, "policy del src 192.168.1.0/24 dst 192.168.2.0/24 dir out");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&hub->pub), 0);
	esp_a_to_b(a, hub, m, 1);
	gw_inbound(wh, hub->pub.shared.tables, 1, m, 1);
	take_tx(wh, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_EQUAL(r.port[0], 1);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(r.m[0], const uint8_t *)[14 + 9], IPPROTO_UDP);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(r.m[0], const uint8_t *)[14 + 8], 62);
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(hub, CNT_Protect), 3);
	CU_ASSERT_EQUAL(counter(hub, CNT_Bypass), 0);

	/* Plain from the WAN (the internet answering a spoke that browses
	 * through the hub), for the other spoke's subnet: into its SA. */
	unit_gw_apply(hub, "policy add src 203.0.113.0/24 dst 192.168.2.0/24 dir out "
		      "tmpl src 172.16.2.5 dst 172.16.2.9 proto esp reqid 2 mode tunnel");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&hub->pub), 0);
	m[0] = udp4(hub, RTE_IPV4(203u, 0, 113, 7), B_HOST, 64, false);
	gw_inbound(wh, hub->pub.shared.tables, 1, m, 1);
	take_tx(wh, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_EQUAL(r.port[0], 1);
	esp_of(r.m[0], &spi, &seq);
	CU_ASSERT_EQUAL(spi, 0x7001);
	CU_ASSERT_EQUAL(seq, 4);
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(hub, CNT_Protect), 4);
	pair_free(a, hub, base_a, base_h);
}

/*
 * The asynchronous pipeline (a cryptodev's way), here on the null
 * engine: nothing leaves until gw_esp_collect(), then the packets leave
 * in order, as the synchronous path sends them. Inbound, a copy replayed
 * while its original is still in the engine passes the first replay
 * check and is dropped at the window update.
 */
static void
test_in_async(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *wa = a->pub.workers[0], *wb = b->pub.workers[0];
	const struct gw_tables *ta = a->pub.shared.tables, *tb = b->pub.shared.tables;
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	struct rte_mbuf *m[4];
	struct sent s, r;
	uint32_t spi, seq;
	unsigned int i;

	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&wa->esp, 64, 0), 0);
	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&wb->esp, 64, 0), 0);
	for (i = 0; i < 3; i++)
		m[i] = udp4(a, A_HOST, B_HOST, 64, false);
	gw_outbound(wa, ta, 0, m, 3);
	take_tx(wa, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	free_tx(&s);
	CU_ASSERT_EQUAL(esp_pending(&wa->esp), 3);
	CU_ASSERT_EQUAL(gw_esp_collect(wa, ta, true), 3);
	CU_ASSERT_EQUAL(esp_pending(&wa->esp), 0);
	take_tx(wa, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	for (i = 0; i < s.n; i++) {
		esp_of(s.m[i], &spi, &seq);
		CU_ASSERT(s.port[i] == 1 && spi == 0x5001 && seq == i + 1);
		m[i] = rte_pktmbuf_copy(s.m[i], b->pub.pool, 0, UINT32_MAX);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	m[3] = rte_pktmbuf_copy(s.m[2], b->pub.pool, 0, UINT32_MAX);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[3]);
	free_tx(&s);

	gw_inbound(wb, tb, 1, m, 4);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL(r.n, 0);
	free_tx(&r);
	CU_ASSERT_EQUAL(esp_pending(&wb->esp), 4);
	CU_ASSERT_EQUAL(gw_esp_collect(wb, tb, false), 4);
	take_tx(wb, &r);
	CU_ASSERT_EQUAL_FATAL(r.n, 3);
	for (i = 0; i < r.n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(r.m[i], const uint8_t *);

		CU_ASSERT(r.port[i] == 0 && p[14 + 9] == IPPROTO_UDP && p[14 + 8] == 62);
	}
	free_tx(&r);
	CU_ASSERT_EQUAL(counter(b, CNT_XfrmInStateSeqError), 1);
	CU_ASSERT_EQUAL(counter(b, CNT_CryptoQueueFull), 0);
	/* Left pending at the end: freed with the ring, not leaked. */
	m[0] = udp4(a, A_HOST, B_HOST, 64, false);
	gw_outbound(wa, ta, 0, m, 1);
	CU_ASSERT_EQUAL(esp_pending(&wa->esp), 1);
	esp_ctx_async_free(&wa->esp);
	esp_ctx_async_free(&wb->esp);
	pair_free(a, b, base_a, base_b);
}

/* ---- stage_route ---------------------------------------------------------- */

static void
test_route_burst(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	/* via 172.16.1.1 twice, on-link .1 .2 .1, IPv6, no route, and an
	 * on-link neighbour nobody resolved. */
	static const uint8_t want[] = { 0xfe, 0xfe, 0x01, 0x02, 0x01, 0x01 };
	struct rte_mbuf *m[8];
	struct gw_exc e;
	struct sent s;

	m[0] = udp4(g, A_HOST, RTE_IPV4(192u, 168, 4, 1), 64, true);
	m[1] = udp4(g, A_HOST, RTE_IPV4(192u, 168, 4, 2), 64, true);
	m[2] = udp4(g, A_HOST, RTE_IPV4(10u, 9, 0, 1), 64, true);
	m[3] = udp4(g, A_HOST, RTE_IPV4(10u, 9, 0, 2), 64, true);
	m[4] = udp4(g, A_HOST, RTE_IPV4(10u, 9, 0, 1), 64, true);
	m[5] = udp6(g, "2001:db8:2::7");
	m[6] = udp4(g, A_HOST, RTE_IPV4(10u, 10, 0, 1), 64, true);
	m[7] = udp4(g, A_HOST, RTE_IPV4(10u, 9, 0, 3), 64, true);
	gw_route_send(w, g->pub.shared.tables, m, 8);
	CU_ASSERT_EQUAL(counter(g, CNT_NoRoute), 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 6);
	for (i = 0; i < s.n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(s.m[i], const uint8_t *);

		CU_ASSERT_EQUAL(s.port[i], 1);
		CU_ASSERT_EQUAL(p[5], want[i]);
		CU_ASSERT_EQUAL(p[11], 0x01); /* port 1's own MAC */
	}
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(s.m[5], const uint8_t *)[13], 0xdd); /* 0x86dd */
	free_tx(&s);
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(e.reason, GW_EXC_RESOLVE);
	CU_ASSERT(e.nh_family == 4 && e.nh[0] == 10 && e.nh[3] == 3);
	rte_pktmbuf_free(e.m);
	CU_ASSERT_EQUAL(rte_ring_count(w->exc), 0); /* no route: no error, by default */

	/* `set icmp-unreachable on`: Network Unreachable is due (lcore 0
	 * sends it). */
	unit_gw_apply(g, "set icmp-unreachable on");
	m[0] = udp4(g, A_HOST, RTE_IPV4(10u, 10, 0, 1), 64, true);
	gw_route_send(w, g->pub.shared.tables, m, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_NoRoute), 2);
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT(e.reason == GW_EXC_ICMP && e.kind == ICMP_ERR_UNREACH_NET && !e.from_sa);
	rte_pktmbuf_free(e.m);
	gw_free_at(g, base);
}

/* ---- fragments and multicast ---------------------------------------------- */

/* Gateway F: B of the tunnel above, with IPv6 on both sides, a default
 * route out of its unprotected port, and a transport SA for 192.168.2.20
 * to 192.168.4.20. */
static const char conf_f[] =
	"port 0 role protected addr 192.168.2.1/24 addr 2001:db8:2::1/64 mac 02:00:00:00:0b:01\n"
	"port 1 role unprotected addr 172.16.2.5/24 addr 2001:db8:1::5/64 mac 02:00:00:00:0b:02\n"
	"route add 192.168.2.0/24 port 0\n"
	"route add 2001:db8:2::/64 port 0\n"
	"route add 0.0.0.0/0 port 1 via 172.16.2.1\n"
	"neigh add 192.168.2.20 lladdr 02:00:00:00:0b:20 port 0\n"
	"neigh add 2001:db8:2::20 lladdr 02:00:00:00:0b:20 port 0\n"
	"neigh add 172.16.2.1 lladdr 02:00:00:00:0b:fe port 1\n"
	"state add src 192.168.2.20 dst 192.168.4.20 proto esp spi 0x7001 dir out reqid 7 "
	"  mode transport " GCM "\n"
	"policy add src 192.168.2.20/32 dst 192.168.4.0/24 dir out "
	"  tmpl proto esp reqid 7 mode transport\n";

static const uint8_t mac_f1[6] = { 0x02, 0, 0, 0, 0x0b, 0x02 };  /* F's port 1 */
static const uint8_t mac_peer[6] = { 0x02, 0, 0, 0, 0x0b, 0x99 };

/* A frame from mac_peer to F's port 1 of the @p len bytes of IP at @p ip. */
static struct rte_mbuf *
frame_of(struct testgw *g, const uint8_t *ip, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	struct rte_ether_hdr *eh;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)(14 + len));
	CU_ASSERT_PTR_NOT_NULL_FATAL(eh);
	memcpy(&eh->dst_addr, mac_f1, 6);
	memcpy(&eh->src_addr, mac_peer, 6);
	eh->ether_type = rte_cpu_to_be_16((ip[0] >> 4) == 4 ? RTE_ETHER_TYPE_IPV4
							      : RTE_ETHER_TYPE_IPV6);
	memcpy(eh + 1, ip, len);
	return m;
}

/* IPv4, @p proto, @p len bytes in all, from @p src to @p dst (host
 * order), the fragment field @p frag (host order: flags and offset). */
static uint32_t
ip4_of(uint8_t *b, uint8_t proto, uint32_t len, uint32_t src, uint32_t dst, uint16_t frag)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)b;
	uint32_t i;

	memset(b, 0, 20);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)len);
	ip->packet_id = rte_cpu_to_be_16(0x4242);
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (i = 20; i < len; i++)
		b[i] = (uint8_t)i;
	return len;
}

/* A gateway whose own addresses lie inside its inbound policies. */
static const char conf_own[] =
	"port 0 role protected addr 192.168.2.1/24 mac 02:00:00:00:0b:01\n"
	"port 1 role unprotected addr 172.16.2.5/24 addr 2001:db8:1::5/64 "
	"  mac 02:00:00:00:0b:02\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir fwd "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n"
	"policy add src 10.5.0.0/16 dst 0.0.0.0/0 dir in action block\n"
	"policy add src ::/0 dst ::/0 dir in "
	"  tmpl src 2001:db8:1::9 dst 2001:db8:1::5 proto esp reqid 3 mode tunnel\n";

/* IPv6, ICMPv6 type @p type, from 2001:db8:1::9 to 2001:db8:1::5. */
static uint32_t
icmp6_of(uint8_t *b, uint8_t type)
{
	memset(b, 0, 40 + 24);
	b[0] = 0x60;
	b[5] = 24;
	b[6] = IPPROTO_ICMPV6;
	b[7] = 255;
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:1::9", b + 8), 1);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:1::5", b + 24), 1);
	b[40] = type;
	return 40 + 24;
}

/* What gw_inbound() handed to the exception path as the gateway's own:
 * @return how many, each freed. */
static unsigned int
punted_local(struct gw_worker *w)
{
	struct gw_exc e;
	unsigned int n = 0;

	while (rte_ring_dequeue_elem(w->exc, &e, sizeof(e)) == 0) {
		n += e.reason == GW_EXC_LOCAL;
		rte_pktmbuf_free(e.m);
	}
	return n;
}

/*
 * Plain packets to the gateway's own addresses from the unprotected side
 * meet the inbound SPD first, as Linux's local delivery does: a spoofed
 * source from inside a tunnel's policy never reaches the kernel in
 * clear, a block policy holds. IKE and Neighbour Discovery pass, and so
 * does whatever no policy covers.
 */
static void
test_in_local_plain_spd(void)
{
	struct testgw *g = gw(conf_own);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m;
	uint8_t b[256];

	/* From inside the tunnel's policy, in clear: never the kernel's. */
	ip4_of(b, IPPROTO_UDP, 20 + 8 + 8, RTE_IPV4(192u, 168, 1, 10), RTE_IPV4(192u, 168, 2, 1), 0);
	m = frame_of(g, b, 20 + 8 + 8);
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInTmplMismatch), 1);
	CU_ASSERT_EQUAL(punted_local(w), 0);
	/* A block policy. */
	ip4_of(b, IPPROTO_UDP, 20 + 8 + 8, RTE_IPV4(10u, 5, 0, 1), RTE_IPV4(172u, 16, 2, 5), 0);
	m = frame_of(g, b, 20 + 8 + 8);
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInPolBlock), 1);
	CU_ASSERT_EQUAL(punted_local(w), 0);
	/* No policy: the kernel's. */
	ip4_of(b, IPPROTO_UDP, 20 + 8 + 8, RTE_IPV4(10u, 6, 0, 1), RTE_IPV4(172u, 16, 2, 5), 0);
	m = frame_of(g, b, 20 + 8 + 8);
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(punted_local(w), 1);
	/* IKE from inside the policy: the key manager's all the same. */
	ip4_of(b, IPPROTO_UDP, 20 + 8 + 8, RTE_IPV4(192u, 168, 1, 10), RTE_IPV4(192u, 168, 2, 1), 0);
	b[20] = 0x01, b[21] = 0xf4, b[22] = 0x01, b[23] = 0xf4; /* 500 -> 500 */
	b[24] = 0, b[25] = 16, b[26] = b[27] = 0;
	m = frame_of(g, b, 20 + 8 + 8);
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(punted_local(w), 1); /* (lcore 0 counts IkePunted) */
	/* Under ::/0: a Neighbour Solicitation passes, an echo does not. */
	m = frame_of(g, b, icmp6_of(b, 135));
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(punted_local(w), 1);
	m = frame_of(g, b, icmp6_of(b, 128));
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(punted_local(w), 0);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInTmplMismatch), 2);
	gw_free_at(g, base);
}

/* Fragments to the gateway that never complete (anyone can send them)
 * pin at most a share of the mbuf pool: past the reassembly table's
 * budget they are refused, ReassemblyFailed, and RX keeps its mbufs. */
static void
test_frag_budget(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	uint8_t b[64];

	for (i = 0; i < 600; i++) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)b;
		struct rte_mbuf *m;

		ip4_of(b, IPPROTO_UDP, 36, RTE_IPV4(10u, 9, 9, 9), RTE_IPV4(172u, 16, 2, 5),
		       RTE_IPV4_HDR_MF_FLAG);
		ip->packet_id = rte_cpu_to_be_16((uint16_t)i);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		m = frame_of(g, b, 36);
		gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	}
	CU_ASSERT(rte_mempool_in_use_count(g->pub.pool) - base <= g->pub.pool_size / 4);
	CU_ASSERT(counter(g, CNT_ReassemblyFailed) >= 600 - g->pub.pool_size / 4);
	gw_free_at(g, base);
}

/* Fragments passing through an unprotected port (IPv4 UDP and ESP,
 * first and later, and IPv6) are forwarded as plain traffic, not dropped
 * as malformed ESP; a transport SA gets whole packets and its ESP is
 * fragmented on the way out; multicast is never forwarded. */
static void
test_frag_forward(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[4];
	struct gw_exc e;
	struct sent s;
	uint8_t b[2048];
	uint32_t len, tot0, off1;
	const uint8_t *p;

	/* Through port 1 to the host behind F: a UDP first fragment, a
	 * later fragment of ESP, an IPv6 fragment of UDP. */
	len = ip4_of(b, IPPROTO_UDP, 60, RTE_IPV4(10u, 9, 9, 9), B_HOST, RTE_IPV4_HDR_MF_FLAG);
	b[22] = 0x11, b[23] = 0x94; /* dport 4500 */
	m[0] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_ESP, 60, RTE_IPV4(10u, 9, 9, 9), B_HOST, 8);
	m[1] = frame_of(g, b, len);
	memset(b, 0, 56);
	b[0] = 0x60;
	b[5] = 16;                 /* payload: the fragment header, 8 of UDP */
	b[6] = IPPROTO_FRAGMENT;
	b[7] = 64;
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:9::1", b + 8), 1);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:2::20", b + 24), 1);
	b[40] = IPPROTO_UDP;
	b[43] = 1;                 /* M */
	b[50] = 0x11, b[51] = 0x94;
	m[2] = frame_of(g, b, 56);
	gw_inbound(w, g->pub.shared.tables, 1, m, 3);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInHdrError), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 3);
	CU_ASSERT(s.port[0] == 0 && s.port[1] == 0 && s.port[2] == 0);
	free_tx(&s);

	/* Transport: 1900 bytes without DF go whole into ESP, and the ESP
	 * packet leaves in fragments whose offsets are its bytes'. */
	len = ip4_of(b, IPPROTO_UDP, 1900, B_HOST, RTE_IPV4(192u, 168, 4, 20), 0);
	m[0] = rte_pktmbuf_alloc(g->pub.pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[0]);
	memcpy(rte_pktmbuf_append(m[0], (uint16_t)(14 + len)) + 14, b, len);
	rte_pktmbuf_mtod(m[0], struct rte_ether_hdr *)->ether_type =
		rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	gw_outbound(w, g->pub.shared.tables, 0, m, 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	p = rte_pktmbuf_mtod(s.m[0], const uint8_t *) + 14;
	CU_ASSERT_EQUAL(p[9], IPPROTO_ESP);
	CU_ASSERT_EQUAL(p[6] & 0x3f, 0x20); /* MF, offset 0 */
	CU_ASSERT_EQUAL(p[7], 0);
	tot0 = (uint32_t)p[2] << 8 | p[3];
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(*(const uint32_t *)(p + 20)), 0x7001);
	p = rte_pktmbuf_mtod(s.m[1], const uint8_t *) + 14;
	off1 = ((uint32_t)(p[6] & 0x1f) << 8 | p[7]) * 8;
	CU_ASSERT_EQUAL(off1, tot0 - 20);   /* the second piece follows the first */
	CU_ASSERT_EQUAL(p[6] & 0x20, 0);
	/* The ESP packet: 1880 bytes of UDP, ESP header and IV, padding to
	 * 4, the trailer and the ICV. */
	CU_ASSERT_EQUAL(off1 + ((uint32_t)p[2] << 8 | p[3]) - 20, 8 + 8 + 1880 + 2 + 2 + 16);
	CU_ASSERT_EQUAL(counter(g, CNT_Fragmented), 1);
	free_tx(&s);
	/* A fragment reaching a transport SA is dropped, and counted. */
	len = ip4_of(b, IPPROTO_UDP, 100, B_HOST, RTE_IPV4(192u, 168, 4, 20),
		     RTE_IPV4_HDR_MF_FLAG);
	m[0] = rte_pktmbuf_alloc(g->pub.pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[0]);
	memcpy(rte_pktmbuf_append(m[0], (uint16_t)(14 + len)) + 14, b, len);
	rte_pktmbuf_mtod(m[0], struct rte_ether_hdr *)->ether_type =
		rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	gw_outbound(w, g->pub.shared.tables, 0, m, 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutStateModeError), 1);

	/* Multicast beyond 224.0.0.0/24 (SSDP) is the gateway's, not
	 * forwarded by the default route. */
	m[0] = udp4(g, B_HOST, RTE_IPV4(239u, 255, 255, 250), 64, false);
	gw_outbound(w, g->pub.shared.tables, 0, m, 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(e.reason, GW_EXC_LOCAL);
	rte_pktmbuf_free(e.m);
	CU_ASSERT_NOT_EQUAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);

	gw_free_at(g, base);
}

/* RFC 1812 5.2.2: an IPv4 header the NIC found bad is dropped, on either
 * side, not forwarded or encrypted. Where the PMD did not check, espd
 * does not either (README "Forwarding"). */
static void
test_ip4_cksum(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m[3];
	struct sent s;
	uint8_t b[64];
	uint32_t len;

	len = ip4_of(b, IPPROTO_UDP, 60, RTE_IPV4(10u, 9, 9, 9), B_HOST, 0);
	b[10] ^= 0x01;
	m[0] = frame_of(g, b, len);
	m[0]->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	m[1] = frame_of(g, b, len);
	m[1]->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD; /* the NIC says so */
	m[2] = frame_of(g, b, len);                    /* the NIC did not check */
	gw_inbound(w, g->pub.shared.tables, 1, m, 3);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 2);
	free_tx(&s);
	m[0] = frame_of(g, b, len);
	m[0]->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	gw_outbound(w, g->pub.shared.tables, 0, m, 1); /* out of the protected side */
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(counter(g, CNT_MalformedPacket), 2);
	gw_free_at(g, base);
}

/* A host behind the gateway with IPsec of its own: ESP with an SPI the
 * gateway does not know, IKE on 4500 and NAT keepalives, all to that
 * host, are forwarded (as Linux does: xfrm input is for local
 * addresses), not taken as the gateway's; ESP to the gateway itself with
 * an unknown SPI is still XfrmInNoStates. */
static void
test_transit_ipsec(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	const uint32_t far = RTE_IPV4(10u, 9, 9, 9), gw4 = RTE_IPV4(172u, 16, 2, 5);
	struct rte_mbuf *m[4];
	struct sent s;
	uint8_t b[128];
	uint32_t len;

	len = ip4_of(b, IPPROTO_ESP, 20 + 8 + 40, far, B_HOST, 0);
	b[20] = 0xc1, b[21] = 0x23, b[22] = 0x45, b[23] = 0x67; /* SPI */
	m[0] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_UDP, 20 + 8 + 40, far, B_HOST, 0);
	b[20] = 0x11, b[21] = 0x94, b[22] = 0x11, b[23] = 0x94; /* 4500 -> 4500 */
	b[24] = 0, b[25] = 48, b[26] = b[27] = 0;
	memset(b + 28, 0, 4); /* the non-ESP marker: IKE */
	m[1] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_UDP, 20 + 8 + 1, far, B_HOST, 0);
	b[20] = 0x11, b[21] = 0x94, b[22] = 0x11, b[23] = 0x94;
	b[24] = 0, b[25] = 9, b[26] = b[27] = 0, b[28] = 0xff; /* keepalive */
	m[2] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_ESP, 20 + 8 + 40, far, gw4, 0);
	b[20] = 0xc1, b[21] = 0x23, b[22] = 0x45, b[23] = 0x67;
	m[3] = frame_of(g, b, len);
	gw_inbound(w, g->pub.shared.tables, 1, m, 4);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT(s.n == 3 && s.port[0] == 0 && s.port[1] == 0 && s.port[2] == 0);
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInNoStates), 1);
	CU_ASSERT_EQUAL(counter(g, CNT_IkePunted), 0);
	CU_ASSERT_EQUAL(counter(g, CNT_NatKeepalive), 0);
	gw_free_at(g, base);
}

/* A plain (not ESP) packet cut short on the wire, in through an
 * unprotected port, is a malformed IP packet (MalformedPacket, as on the
 * protected side), not an ESP header error. */
static void
test_in_plain_truncated(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m;
	uint8_t b[256];

	ip4_of(b, IPPROTO_UDP, 20 + 8 + 200, RTE_IPV4(10u, 9, 9, 9), B_HOST, 0);
	m = frame_of(g, b, 20 + 8 + 40); /* 200 bytes of payload said, 40 there */
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInHdrError), 0);
	CU_ASSERT_EQUAL(counter(g, CNT_MalformedPacket), 1);
	/* A transit UDP datagram to port 4500 with a short payload (not
	 * ours: is_local false) is someone else's; forwarded. */
	{
		struct sent s;

		ip4_of(b, IPPROTO_UDP, 20 + 8 + 4, RTE_IPV4(10u, 9, 9, 9), B_HOST, 0);
		b[20] = 0x11, b[21] = 0x94, b[22] = 0x11, b[23] = 0x94;
		b[24] = 0, b[25] = 12, b[26] = b[27] = 0;
		m = frame_of(g, b, 20 + 8 + 4);
		gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
		take_tx(w, &s);
		CU_ASSERT_EQUAL(s.n, 1);
		CU_ASSERT_EQUAL(counter(g, CNT_XfrmInHdrError), 0);
		free_tx(&s);
	}
	gw_free_at(g, base);
}

/* ESP to a host behind the gateway (its own IPsec, passing
 * through) whose SPI happens to be one of the gateway's inbound SPIs is
 * still someone else's: forwarded, as any transit ESP, not
 * "decrypted" with our SA's keys, dropped (XfrmInStateProtoError) and
 * counted as an ICV failure of our SA. */
static void
test_transit_spi_collision(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base;
	struct rte_mbuf *m;
	struct sent s;
	uint8_t b[128];

	unit_gw_apply(g, "state add src 10.9.9.9 dst 172.16.2.5 proto esp spi 0xc1234567 dir in "
		      "reqid 9 " GCM);
	base = rte_mempool_in_use_count(g->pub.pool);
	ip4_of(b, IPPROTO_ESP, 20 + 8 + 8 + 32 + 16, RTE_IPV4(10u, 9, 9, 9), B_HOST, 0);
	b[20] = 0xc1, b[21] = 0x23, b[22] = 0x45, b[23] = 0x67; /* SPI */
	b[27] = 1;
	m = frame_of(g, b, 20 + 8 + 8 + 32 + 16);
	gw_inbound(w, g->pub.shared.tables, 1, &m, 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInStateProtoError), 0);
	free_tx(&s);
	gw_free_at(g, base);
}

/* The port a route lookup of @p dst gives on @p g (-1: none). */
static int
route_port(struct testgw *g, const char *dst)
{
	const struct gw_nexthop *nh;
	uint8_t a[16];
	int v6 = strchr(dst, ':') != NULL;

	CU_ASSERT_EQUAL_FATAL(inet_pton(v6 ? AF_INET6 : AF_INET, dst, a), 1);
	nh = gw_route_lookup(g->pub.shared.tables, v6 ? 6 : 4, a);
	return nh == NULL ? -1 : nh->port;
}

/* Default routes (/0, which rte_lpm takes from depth 1 only): anything
 * without a longer route follows them, an explicit /1 beats them whatever
 * the order, and so do the connected prefixes. */
static void
test_route_default(void)
{
	struct testgw *g = gw(conf_f);

	CU_ASSERT_EQUAL(route_port(g, "8.8.8.8"), 1);
	CU_ASSERT_EQUAL(route_port(g, "200.1.1.1"), 1);
	CU_ASSERT_EQUAL(route_port(g, "192.168.2.20"), 0);
	CU_ASSERT_EQUAL(route_port(g, "2001:4860::1"), -1);
	/* Martian destinations (RFC 1812 5.3.7, RFC 3927): never forwarded,
	 * default route or not; an explicit route for one is taken. */
	CU_ASSERT_EQUAL(route_port(g, "127.0.0.1"), -1);
	CU_ASSERT_EQUAL(route_port(g, "0.1.2.3"), -1);
	CU_ASSERT_EQUAL(route_port(g, "169.254.9.9"), -1);
	CU_ASSERT_EQUAL(route_port(g, "250.0.0.1"), -1);
	CU_ASSERT_EQUAL(route_port(g, "126.255.255.255"), 1);
	CU_ASSERT_EQUAL(route_port(g, "169.255.0.1"), 1);
	/* A connected subnet's directed broadcast (RFC 2644): not forwarded,
	 * its hosts are; an explicit /32 route for it is taken. */
	CU_ASSERT_EQUAL(route_port(g, "192.168.2.255"), -1);
	CU_ASSERT_EQUAL(route_port(g, "172.16.2.255"), -1);
	CU_ASSERT_EQUAL(route_port(g, "192.168.2.254"), 0);
	CU_ASSERT_EQUAL(route_port(g, "172.16.3.255"), 1);
	unit_gw_apply(g, "route add 192.168.2.255/32 port 0");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&g->pub), 0);
	CU_ASSERT_EQUAL(route_port(g, "192.168.2.255"), 0);
	unit_gw_apply(g, "route del 192.168.2.255/32");
	unit_gw_apply(g, "route add 169.254.0.0/16 port 0");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&g->pub), 0);
	CU_ASSERT_EQUAL(route_port(g, "169.254.9.9"), 0);
	unit_gw_apply(g, "route del 169.254.0.0/16");
	unit_gw_apply(g, "route add 128.0.0.0/1 port 0");
	unit_gw_apply(g, "route add ::/0 port 1 via 2001:db8:1::1");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&g->pub), 0);
	CU_ASSERT_EQUAL(route_port(g, "200.1.1.1"), 0);
	CU_ASSERT_EQUAL(route_port(g, "8.8.8.8"), 1);
	CU_ASSERT_EQUAL(route_port(g, "2001:4860::1"), 1);
	CU_ASSERT_EQUAL(route_port(g, "ff02::1"), 1);
	/* IPv6's (RFC 6890): unspecified, loopback, IPv4-mapped; not their
	 * neighbours. */
	CU_ASSERT_EQUAL(route_port(g, "::"), -1);
	CU_ASSERT_EQUAL(route_port(g, "::1"), -1);
	CU_ASSERT_EQUAL(route_port(g, "::ffff:10.1.2.3"), -1);
	CU_ASSERT_EQUAL(route_port(g, "::2"), 1);
	CU_ASSERT_EQUAL(route_port(g, "::fffe:10.1.2.3"), 1);
	CU_ASSERT_EQUAL(route_port(g, "2001:db8:2::20"), 0);
	/* route del: the /1 gone, the default route takes its half again. */
	unit_gw_apply(g, "route del 128.0.0.0/1");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&g->pub), 0);
	CU_ASSERT_EQUAL(route_port(g, "200.1.1.1"), 1);
	testgw_free(g);
}

/* An Ethernet frame on port 0 of IPv6 UDP, @p len bytes of IP, from
 * fd00:1::10 to fd00:2::20. */
static struct rte_mbuf *
udp6_frame(struct testgw *g, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	struct rte_ipv6_hdr *ip;
	uint8_t *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + len));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 0, 14 + len);
	p[12] = 0x86, p[13] = 0xdd;
	ip = (struct rte_ipv6_hdr *)(p + 14);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(len - 40));
	ip->proto = IPPROTO_UDP;
	ip->hop_limits = 64;
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "fd00:1::10", ip->src_addr), 1);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "fd00:2::20", ip->dst_addr), 1);
	return m;
}

/* An IPv6 tunnel over IPv4 on a link too small for IPv6's 1280 once ESP
 * is added (MTU 1300): a 1280-byte packet still goes, its ESP packet in
 * IPv4 fragments; a bigger one is refused with a Packet Too Big saying
 * 1280, never less (which a sender would not take). */
static void
test_v6_min_mtu(void)
{
	static const char conf_m[] =
		"port 0 role protected addr 192.168.1.1/24 addr fd00:1::1/64 mac 02:00:00:00:01:01\n"
		"port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01 mtu 1300\n"
		"route add 172.16.2.0/24 port 1 via 172.16.1.1\n"
		"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
		"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 dir out reqid 1 "
		GCM "\n"
		"policy add src fd00:1::/64 dst fd00:2::/64 dir out "
		"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n";
	struct testgw *g = gw(conf_m);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	const uint32_t sizes[2] = { 1280, 1281 };
	struct rte_mbuf *m;
	struct gw_exc e;
	struct sent s;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		m = udp6_frame(g, sizes[i]);
		gw_outbound(w, g->pub.shared.tables, 0, &m, 1);
	}
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 2); /* the first packet's ESP, in two IPv4 fragments */
	if (s.n == 2) {
		const uint8_t *a = rte_pktmbuf_mtod(s.m[0], const uint8_t *) + 14;

		CU_ASSERT(a[9] == IPPROTO_ESP && (a[6] & 0x20) != 0);
		CU_ASSERT(s.m[0]->pkt_len <= 14 + 1300 && s.m[1]->pkt_len <= 14 + 1300);
	}
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_FragNeeded), 1);
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(e.reason, GW_EXC_ICMP);
	CU_ASSERT_EQUAL(e.mtu, 1280);
	rte_pktmbuf_free(e.m);
	gw_free_at(g, base);
}

/* The same over IPv6 (Linux's xfrm6 output does the same): IPv6 routers
 * do not fragment, so the 1280-byte packet's ESP packet leaves in IPv6
 * fragments (RFC 8200 4.5) that fit the port, the next one under the
 * next ID; a bigger one is still refused with 1280. */
static const char conf_v6v6[] =
	"port 0 role protected addr 192.168.1.1/24 addr fd00:1::1/64 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 2001:db8:1::5/64 mac 02:00:00:00:02:01 mtu 1300\n"
	"route add 2001:db8:2::/64 port 1 via 2001:db8:1::1\n"
	"neigh add 2001:db8:1::1 lladdr 02:00:00:00:02:fe port 1\n"
	"state add src 2001:db8:1::5 dst 2001:db8:2::5 proto esp spi 0x5001 dir out "
	"reqid 1 " GCM "\n"
	"policy add src fd00:1::/64 dst fd00:2::/64 dir out "
	"  tmpl src 2001:db8:1::5 dst 2001:db8:2::5 proto esp reqid 1 mode tunnel\n";

/* The same on an asynchronous engine (a cryptodev's way): the 1280-byte
 * packet is encrypted at once, but what the engine holds goes first, so
 * the SA's packets leave in the order of their sequence numbers (a
 * peer's replay window would drop the older ones once a newer passed
 * them). */
static void
test_v6_min_mtu_over_v6_async(void)
{
	struct testgw *g = gw(conf_v6v6);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m;
	struct sent s;
	const uint8_t *a;

	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&w->esp, 64, 0), 0);
	m = udp6_frame(g, 100);
	gw_outbound(w, g->pub.shared.tables, 0, &m, 1);
	CU_ASSERT_EQUAL(esp_pending(&w->esp), 1);
	m = udp6_frame(g, 1280);
	gw_outbound(w, g->pub.shared.tables, 0, &m, 1);
	CU_ASSERT_EQUAL(esp_pending(&w->esp), 0);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 3);
	if (s.n == 3) {
		a = rte_pktmbuf_mtod(s.m[0], const uint8_t *) + 14;
		CU_ASSERT(a[6] == IPPROTO_ESP);
		CU_ASSERT_EQUAL(esp_load_be32(a + 44), 1); /* seq */
		a = rte_pktmbuf_mtod(s.m[1], const uint8_t *) + 14;
		CU_ASSERT(a[6] == IPPROTO_FRAGMENT && a[40] == IPPROTO_ESP);
		CU_ASSERT_EQUAL(esp_load_be32(a + 52), 2);
	}
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_Fragmented), 1);
	esp_ctx_async_free(&w->esp);
	gw_free_at(g, base);
}

static void
test_v6_min_mtu_over_v6(void)
{
	struct testgw *g = gw(conf_v6v6);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	const uint32_t sizes[3] = { 1280, 1281, 1280 };
	struct frag_in *fr = frag_in_create(4, 1000, SOCKET_ID_ANY);
	uint32_t id[2] = { 0, 0 };
	struct rte_mbuf *m, *whole = NULL;
	struct gw_exc e;
	struct sent s;
	unsigned int i, k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fr);
	for (i = 0; i < 3; i++) {
		m = udp6_frame(g, sizes[i]);
		gw_outbound(w, g->pub.shared.tables, 0, &m, 1);
	}
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 4); /* two ESP packets, two fragments each */
	for (k = 0; k < 4; k++) {
		const uint8_t *a = rte_pktmbuf_mtod(s.m[k], const uint8_t *) + 14;
		uint16_t why = 0;

		CU_ASSERT(a[6] == IPPROTO_FRAGMENT && a[40] == IPPROTO_ESP);
		CU_ASSERT(s.m[k]->pkt_len <= 14 + 1300);
		CU_ASSERT_EQUAL((a[43] & 1) != 0, k % 2 == 0); /* M on the first */
		CU_ASSERT_EQUAL(s.m[k]->packet_type, 0);
		if (k % 2 == 0)
			id[k / 2] = esp_load_be32(a + 44);
		else
			CU_ASSERT_EQUAL(esp_load_be32(a + 44), id[k / 2]);
		if (k >= 2)
			continue;
		/* The first ESP packet put back together: IPv6, ESP header,
		 * IV, 1280 bytes and their trailer padded to 4, ICV. */
		rte_pktmbuf_adj(s.m[k], 14);
		whole = frag_in_add(fr, s.m[k], rte_rdtsc(), g->pub.big_pool, &why);
		s.m[k] = NULL;
		CU_ASSERT_EQUAL(why, 0);
	}
	CU_ASSERT_EQUAL(id[1], id[0] + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
	CU_ASSERT_EQUAL(whole->pkt_len, 40 + 8 + 8 + RTE_ALIGN_CEIL(1280 + 2, 4) + 16);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod(whole, const uint8_t *)[6], IPPROTO_ESP);
	rte_pktmbuf_free(whole);
	frag_in_free(fr);
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(g, CNT_Fragmented), 2);
	CU_ASSERT_EQUAL(counter(g, CNT_FragNeeded), 1);
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(e.reason, GW_EXC_ICMP);
	CU_ASSERT_EQUAL(e.mtu, 1280);
	rte_pktmbuf_free(e.m);
	gw_free_at(g, base);
}

/* The exception ring's next entry: a local frame for port 1 from
 * mac_peer to F's MAC, of type @p type, @p len bytes of IP. */
static void
local_frame_check(struct gw_worker *w, uint16_t type, uint32_t len)
{
	const struct rte_ether_hdr *eh;
	struct gw_exc e;

	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(e.reason, GW_EXC_LOCAL);
	CU_ASSERT_EQUAL(e.port, 1);
	eh = rte_pktmbuf_mtod(e.m, const struct rte_ether_hdr *);
	CU_ASSERT_EQUAL(eh->ether_type, rte_cpu_to_be_16(type));
	CU_ASSERT_EQUAL(memcmp(&eh->dst_addr, mac_f1, 6), 0);
	CU_ASSERT_EQUAL(memcmp(&eh->src_addr, mac_peer, 6), 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(e.m), 14 + len);
	rte_pktmbuf_free(e.m);
}

/* IKE in IP fragments to the gateway (IKE_AUTH with certificates), put
 * back together: the kernel gets it as a frame with its own Ethernet
 * header, whether the whole is a new mbuf (IPv4, 3000 bytes) or its
 * IPv6 header moved on in place. */
static void
test_frag_local_frame(void)
{
	struct testgw *g = gw(conf_f);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	const uint32_t gw4 = RTE_IPV4(172u, 16, 2, 5);
	struct rte_mbuf *m[3];
	uint8_t b[1600];
	uint32_t len;

	/* 3000 bytes of UDP 10.9.9.9:500 -> 172.16.2.5:500 in three pieces. */
	len = ip4_of(b, IPPROTO_UDP, 20 + 1480, RTE_IPV4(10u, 9, 9, 9), gw4,
		     RTE_IPV4_HDR_MF_FLAG);
	b[20] = 0x01, b[21] = 0xf4, b[22] = 0x01, b[23] = 0xf4;
	b[24] = (uint8_t)(2980 >> 8), b[25] = (uint8_t)2980;
	memset(b + 26, 0, 6);
	((struct rte_ipv4_hdr *)b)->hdr_checksum = 0;
	((struct rte_ipv4_hdr *)b)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)b);
	m[0] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_UDP, 20 + 1480, RTE_IPV4(10u, 9, 9, 9), gw4,
		     RTE_IPV4_HDR_MF_FLAG | 1480 / 8);
	m[1] = frame_of(g, b, len);
	len = ip4_of(b, IPPROTO_UDP, 20 + 20, RTE_IPV4(10u, 9, 9, 9), gw4, 2960 / 8);
	m[2] = frame_of(g, b, len);
	gw_inbound(w, g->pub.shared.tables, 1, m, 3);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInHdrError), 0);
	local_frame_check(w, RTE_ETHER_TYPE_IPV4, 3000);

	/* IPv6: 2001:db8:9::1 -> 2001:db8:1::5, 8 + 600 bytes of UDP in two. */
	memset(b, 0, 48);
	b[0] = 0x60;
	b[4] = (uint8_t)((8 + 304) >> 8), b[5] = (uint8_t)(8 + 304);
	b[6] = IPPROTO_FRAGMENT;
	b[7] = 64;
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:9::1", b + 8), 1);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:1::5", b + 24), 1);
	b[40] = IPPROTO_UDP;
	b[43] = 1;                 /* offset 0, M */
	b[47] = 7;                 /* identification */
	memset(b + 48, 0x5a, 304);
	b[48] = 0x01, b[49] = 0xf4, b[50] = 0x01, b[51] = 0xf4;
	b[52] = (uint8_t)(608 >> 8), b[53] = (uint8_t)608, b[54] = b[55] = 0;
	m[0] = frame_of(g, b, 48 + 304);
	b[42] = (uint8_t)(304 >> 8);
	b[43] = (uint8_t)(304 & 0xf8);  /* offset 304, last */
	memset(b + 48, 0x5a, 304);
	m[1] = frame_of(g, b, 48 + 304);
	gw_inbound(w, g->pub.shared.tables, 1, m, 2);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmInHdrError), 0);
	local_frame_check(w, RTE_ETHER_TYPE_IPV6, 40 + 608);

	gw_free_at(g, base);
}

/* ---- the poll round ------------------------------------------------------- */

/* Ethernet port @p name (net_ring, one queue, its RX and TX one ring:
 * what it sends, it would receive) started with @p pool. @return its
 * port id, and in *@p ring that ring. */
static int
ring_port(const char *name, struct rte_mempool *pool, struct rte_ring **ring)
{
	struct rte_eth_conf conf;
	char rname[RTE_RING_NAMESIZE];
	uint16_t port;

	memset(&conf, 0, sizeof(conf));
	if (rte_vdev_init(name, NULL) != 0 || rte_eth_dev_get_port_by_name(name, &port) != 0 ||
	    rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 64, SOCKET_ID_ANY, NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 64, SOCKET_ID_ANY, NULL) != 0 ||
	    rte_eth_dev_start(port) != 0)
		return -1;
	snprintf(rname, sizeof(rname), "ETH_RXTX0_%s", name);
	*ring = rte_ring_lookup(rname);
	return *ring != NULL ? port : -1;
}

static void
ring_port_close(const char *name)
{
	uint16_t port;

	if (rte_eth_dev_get_port_by_name(name, &port) == 0) {
		rte_eth_dev_stop(port);
		rte_eth_dev_close(port);
	}
	rte_vdev_uninit(name);
}

/* Ethernet frames of UDP from A's host to @p dst, @p n of them, into
 * @p r (a net_ring port's ring). */
static void
ring_put(struct testgw *g, struct rte_ring *r, uint32_t dst, unsigned int n)
{
	struct rte_mbuf *m[64];
	unsigned int i;

	for (i = 0; i < n; i++)
		m[i] = udp4(g, A_HOST, dst, 64, false);
	CU_ASSERT_EQUAL_FATAL(rte_ring_enqueue_bulk(r, (void **)m, n, NULL), n);
}

/* Take the ESP frames @p r holds: @p want of them, numbered on from
 * *@p seq. */
static void
ring_take(struct rte_ring *r, unsigned int want, uint32_t *next)
{
	struct rte_mbuf *m[64];
	unsigned int n = rte_ring_dequeue_burst(r, (void **)m, 64, NULL), i;
	uint32_t spi, seq;

	CU_ASSERT_EQUAL(n, want);
	for (i = 0; i < n; i++) {
		esp_of(m[i], &spi, &seq);
		CU_ASSERT(spi == 0x5001 && seq == (*next)++);
		rte_pktmbuf_free(m[i]);
	}
}

/* The IPv6 UDP frame of udp6() to @p dst, from @p src. */
static struct rte_mbuf *
udp6_from(struct testgw *g, const char *src, const char *dst)
{
	struct rte_mbuf *l3 = udp6(g, dst), *m;

	CU_ASSERT_EQUAL(inet_pton(AF_INET6, src,
				  rte_pktmbuf_mtod(l3, struct rte_ipv6_hdr *)->src_addr), 1);
	m = frame_of(g, rte_pktmbuf_mtod(l3, const uint8_t *), l3->data_len);
	rte_pktmbuf_free(l3);
	return m;
}

/* Martian sources (RFC 1812 5.3.7, RFC 6890; link-local, RFC 3927 7 and
 * RFC 4291 2.5.6) are never forwarded: not from the protected side
 * (bypass or protect), not plain from the unprotected side, not out of a
 * tunnel (MartianSource). Their neighbours are. */
static void
test_martian_sources(void)
{
	static const uint32_t bad4[] = {
		RTE_IPV4(127u, 0, 0, 1), RTE_IPV4(0u, 1, 2, 3), RTE_IPV4(224u, 0, 0, 5),
		RTE_IPV4(239u, 255, 255, 255), RTE_IPV4(240u, 0, 0, 1),
		RTE_IPV4(255u, 255, 255, 255), RTE_IPV4(169u, 254, 1, 1),
	};
	static const uint32_t good4[] = {
		RTE_IPV4(126u, 255, 255, 255), RTE_IPV4(1u, 0, 0, 0), RTE_IPV4(223u, 255, 255, 255),
		RTE_IPV4(128u, 0, 0, 1), RTE_IPV4(169u, 253, 1, 1), RTE_IPV4(169u, 255, 1, 1),
	};
	static const char *const bad6[] = { "::1", "::", "ff02::1", "::ffff:10.1.2.3", "fe80::1",
					    "febf::1" };
	static const char *const good6[] = { "::2", "::fffe:10.1.2.3", "2001:db8:9::1", "fc00::1",
					     "1::", "0:0:0:0:1::", "fec0::1", "fe7f::1" };
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *w = a->pub.workers[0], *wb = b->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	const uint32_t bypass = RTE_IPV4(192u, 168, 4, 1);
	struct rte_mbuf *m[2];
	unsigned int i, n = 0;
	struct sent s;
	uint32_t spi, seq;

	/* From the protected side: to the tunnel's subnet and to a bypassed
	 * one. */
	for (i = 0; i < RTE_DIM(bad4); i++) {
		m[0] = udp4(a, bad4[i], B_HOST, 64, false);
		m[1] = udp4(a, bad4[i], bypass, 64, false);
		gw_outbound(w, a->pub.shared.tables, 0, m, 2);
	}
	for (i = 0; i < RTE_DIM(bad6); i++) {
		m[0] = udp6_from(a, bad6[i], "2001:db8:2::1");
		gw_outbound(w, a->pub.shared.tables, 0, m, 1);
	}
	n = 2 * RTE_DIM(bad4) + RTE_DIM(bad6);
	CU_ASSERT_EQUAL(counter(a, CNT_MartianSource), n);
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, 0);
	free_tx(&s);
	for (i = 0; i < RTE_DIM(good4); i++) {
		m[0] = udp4(a, good4[i], bypass, 64, false);
		gw_outbound(w, a->pub.shared.tables, 0, m, 1);
	}
	for (i = 0; i < RTE_DIM(good6); i++) {
		m[0] = udp6_from(a, good6[i], "2001:db8:2::1");
		gw_outbound(w, a->pub.shared.tables, 0, m, 1);
	}
	take_tx(w, &s);
	CU_ASSERT_EQUAL(s.n, RTE_DIM(good4) + RTE_DIM(good6));
	free_tx(&s);
	CU_ASSERT_EQUAL(counter(a, CNT_Bypass), RTE_DIM(good4) + RTE_DIM(good6));
	CU_ASSERT_EQUAL(counter(a, CNT_MartianSource), n);

	/* Plain from the unprotected side, to the host behind B. */
	for (i = 0; i < RTE_DIM(bad4); i++) {
		m[0] = udp4(b, bad4[i], B_HOST, 64, false);
		gw_inbound(wb, b->pub.shared.tables, 1, m, 1);
	}
	m[0] = udp4(b, RTE_IPV4(10u, 1, 1, 1), B_HOST, 64, false);
	gw_inbound(wb, b->pub.shared.tables, 1, m, 1);
	CU_ASSERT_EQUAL(counter(b, CNT_MartianSource), RTE_DIM(bad4));
	take_tx(wb, &s);
	CU_ASSERT_EQUAL(s.n, 1);
	free_tx(&s);

	/* Out of the tunnel: A's own packet from 127.0.0.1 (the gateway's
	 * own are not checked) under a policy for it, then one from the
	 * host behind A. B decrypts both and forwards the second only. */
	unit_gw_apply(a, "policy add src 127.0.0.0/8 dst 192.168.2.0/24 dir out "
			 "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel");
	CU_ASSERT_EQUAL_FATAL(pub_publish(&a->pub), 0);
	m[0] = udp4(a, RTE_IPV4(127u, 0, 0, 1), B_HOST, 64, true);
	gw_local_out(a->pub.w0, a->pub.shared.tables, m, 1);
	CU_ASSERT_EQUAL(gw_handoff_poll(w, a->pub.shared.tables), 1);
	m[1] = udp4(a, A_HOST, B_HOST, 64, false);
	gw_outbound(w, a->pub.shared.tables, 0, &m[1], 1);
	take_tx(w, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 2);
	for (i = 0; i < 2; i++) {
		esp_of(s.m[i], &spi, &seq);
		CU_ASSERT(spi == 0x5001 && seq == i + 1);
		m[i] = rte_pktmbuf_copy(s.m[i], b->pub.pool, 0, UINT32_MAX);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	free_tx(&s);
	gw_inbound(wb, b->pub.shared.tables, 1, m, 2);
	CU_ASSERT_EQUAL(counter(b, CNT_MartianSource), RTE_DIM(bad4) + 1);
	take_tx(wb, &s);
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.port[0], 0);
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(s.m[0], const uint8_t *) + 14 + 12,
			       (const uint8_t[]){ 192, 168, 1, 10 }, 4), 0);
	free_tx(&s);
	pair_free(a, b, base_a, base_b);
}

/* The next exception @p w queued: an ICMP error of @p kind (or, with
 * kind ICMP_ERR__MAX, none at all). */
static void
exc_icmp_check(struct gw_worker *w, unsigned int kind)
{
	struct gw_exc e;

	if (kind == ICMP_ERR__MAX) {
		CU_ASSERT_EQUAL(rte_ring_count(w->exc), 0);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue_elem(w->exc, &e, sizeof(e)), 0);
	CU_ASSERT(e.reason == GW_EXC_ICMP && e.kind == kind);
	rte_pktmbuf_free(e.m);
}

/* A packet with its TTL spent and no route for it has no route (as in
 * Linux, whose route lookup comes first): NoRoute, and Network
 * Unreachable only with `set icmp-unreachable on`; with a route, Time
 * Exceeded. A protected packet's route is its tunnel: Time Exceeded
 * although A has no route for B's subnet. Both sides. */
static void
test_ttl_no_route(void)
{
	struct testgw *a = gw(conf_a), *b = gw(conf_b);
	struct gw_worker *w = a->pub.workers[0], *wb = b->pub.workers[0];
	unsigned int base_a = rte_mempool_in_use_count(a->pub.pool);
	unsigned int base_b = rte_mempool_in_use_count(b->pub.pool);
	const uint32_t routed = RTE_IPV4(192u, 168, 4, 1), lost = RTE_IPV4(8u, 8, 8, 8);
	struct rte_mbuf *m;
	unsigned int on;

	for (on = 0; on < 2; on++) {
		/* A, from its protected side: bypassed, with and without a
		 * route; protected. */
		m = udp4(a, A_HOST, routed, 1, false);
		gw_outbound(w, a->pub.shared.tables, 0, &m, 1);
		exc_icmp_check(w, ICMP_ERR_TTL);
		m = udp4(a, A_HOST, lost, 1, false);
		gw_outbound(w, a->pub.shared.tables, 0, &m, 1);
		exc_icmp_check(w, on ? ICMP_ERR_UNREACH_NET : ICMP_ERR__MAX);
		m = udp4(a, A_HOST, B_HOST, 1, false);
		gw_outbound(w, a->pub.shared.tables, 0, &m, 1);
		exc_icmp_check(w, ICMP_ERR_TTL);
		CU_ASSERT_EQUAL(counter(a, CNT_TtlExceeded), 2 * (on + 1));
		CU_ASSERT_EQUAL(counter(a, CNT_NoRoute), on + 1);

		/* B, plain from its unprotected side. */
		m = udp4(b, RTE_IPV4(10u, 1, 1, 1), B_HOST, 1, false);
		gw_inbound(wb, b->pub.shared.tables, 1, &m, 1);
		exc_icmp_check(wb, ICMP_ERR_TTL);
		m = udp4(b, RTE_IPV4(10u, 1, 1, 1), lost, 1, false);
		gw_inbound(wb, b->pub.shared.tables, 1, &m, 1);
		exc_icmp_check(wb, on ? ICMP_ERR_UNREACH_NET : ICMP_ERR__MAX);
		CU_ASSERT_EQUAL(counter(b, CNT_TtlExceeded), on + 1);
		CU_ASSERT_EQUAL(counter(b, CNT_NoRoute), on + 1);

		unit_gw_apply(a, "set icmp-unreachable on");
		unit_gw_apply(b, "set icmp-unreachable on");
		CU_ASSERT_EQUAL_FATAL(pub_publish(&a->pub), 0);
		CU_ASSERT_EQUAL_FATAL(pub_publish(&b->pub), 0);
	}
	pair_free(a, b, base_a, base_b);
}

/* When gw_worker_poll() sends what a round buffered (worker.h,
 * gw_worker_round_sent()): at the round's end, with no wait for a full
 * TX buffer or a timer; after one more round where a full RX burst says
 * more is waiting. And when it wakes a sleeping lcore 0. Ports 0 and 1
 * of gateway A are net_ring devices here; the worker polls port 0. */
static void
test_round_sends(void)
{
	struct testgw *g = gw(conf_a);
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_ring *r0 = NULL, *r1 = NULL;
	const uint32_t blocked = RTE_IPV4(192u, 168, 3, 1);
	struct gw_shared *sh = &g->pub.shared;
	unsigned int n_exc = 0;
	struct gw_exc e;
	uint32_t seq = 1;
	uint64_t v;

	if (ring_port("net_ring_stage0", g->pub.pool, &r0) != 0 ||
	    ring_port("net_ring_stage1", g->pub.pool, &r1) != 1) {
		CU_FAIL("net_ring ports 0 and 1");
		goto out;
	}
	w->n_rxq = 1;
	w->rxq[0].port = 0;
	w->rxq[0].queue = 0;
	w->txq[1] = 0;

	/* One packet leaves in its round. */
	ring_put(g, r0, B_HOST, 1);
	CU_ASSERT_EQUAL(gw_worker_poll(w), 1);
	CU_ASSERT(w->tx[1].n == 0 && w->tx_pending == 0);
	ring_take(r1, 1, &seq);

	/* A full burst waits one round: the next brings 32 more (here all
	 * for a blocking policy, so the buffer does not fill) and sends it. */
	ring_put(g, r0, B_HOST, GW_RX_BURST);
	ring_put(g, r0, blocked, GW_RX_BURST);
	CU_ASSERT_EQUAL(gw_worker_poll(w), GW_RX_BURST);
	CU_ASSERT_EQUAL(w->tx[1].n, GW_RX_BURST);
	ring_take(r1, 0, &seq);
	CU_ASSERT_EQUAL(gw_worker_poll(w), GW_RX_BURST);
	ring_take(r1, GW_RX_BURST, &seq);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutPolBlock), GW_RX_BURST);

	/* 40: a full burst, then the rest, which ends the backlog: all 40
	 * leave in the second round. */
	ring_put(g, r0, B_HOST, 40);
	CU_ASSERT_EQUAL(gw_worker_poll(w), GW_RX_BURST);
	ring_take(r1, 0, &seq);
	CU_ASSERT_EQUAL(gw_worker_poll(w), 40 - GW_RX_BURST);
	ring_take(r1, 40, &seq);

	/* An idle round sends nothing and has nothing pending. */
	CU_ASSERT_EQUAL(gw_worker_poll(w), 0);
	ring_take(r1, 0, &seq);
	CU_ASSERT_EQUAL(w->tx_pending, 0);

	/* lcore 0 asleep: forwarding alone does not wake it; a round that
	 * gives it work (a frame for the gateway itself) writes its eventfd
	 * once and clears the flag. Awake, nothing is written. */
	CU_ASSERT_FATAL(sh->ctl_wake.fd >= 0);
	sh->ctl_wake.asleep = 1;
	ring_put(g, r0, B_HOST, 1);
	CU_ASSERT_EQUAL(gw_worker_poll(w), 1);
	ring_take(r1, 1, &seq);
	CU_ASSERT_EQUAL(sh->ctl_wake.asleep, 1);
	CU_ASSERT_EQUAL(read(sh->ctl_wake.fd, &v, sizeof(v)), -1);
	ring_put(g, r0, RTE_IPV4(192u, 168, 1, 1), 2);
	CU_ASSERT_EQUAL(gw_worker_poll(w), 2);
	CU_ASSERT_EQUAL(sh->ctl_wake.asleep, 0);
	CU_ASSERT(read(sh->ctl_wake.fd, &v, sizeof(v)) == sizeof(v) && v == 1);
	ring_put(g, r0, RTE_IPV4(192u, 168, 1, 1), 1);
	CU_ASSERT_EQUAL(gw_worker_poll(w), 1);
	CU_ASSERT_EQUAL(read(sh->ctl_wake.fd, &v, sizeof(v)), -1);
	while (rte_ring_dequeue_elem(w->exc, &e, sizeof(e)) == 0) {
		CU_ASSERT_EQUAL(e.reason, GW_EXC_LOCAL);
		rte_pktmbuf_free(e.m);
		n_exc++;
	}
	CU_ASSERT_EQUAL(n_exc, 3);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
out:
	w->n_rxq = 0;
	ring_port_close("net_ring_stage1");
	ring_port_close("net_ring_stage0");
	testgw_drain(g, NULL);
	testgw_free(g);
}

int
test_stages_register(void)
{
	CU_pSuite h = CU_add_suite("hold", NULL, NULL);
	CU_pSuite o = CU_add_suite("stage_out", NULL, NULL);
	CU_pSuite i = CU_add_suite("stage_in", NULL, NULL);
	CU_pSuite r = CU_add_suite("stage_route", NULL, NULL);
	CU_pSuite p = CU_add_suite("poll_round", NULL, NULL);

	if (h == NULL || o == NULL || i == NULL || r == NULL || p == NULL ||
	    CU_add_test(h, "larval table against a model: collisions, removal, caps",
			test_hold_model) == NULL ||
	    CU_add_test(o, "SA cache follows SA add and delete; TTL, block, bypass",
			test_out_cache) == NULL ||
	    CU_add_test(o, "one owner per SA; lcore 0 and others hand off", test_out_owner) == NULL ||
	    CU_add_test(o, "frames to a link-layer group address: never forwarded",
			test_l2_group_not_forwarded) == NULL ||
	    CU_add_test(o, "martian sources: never forwarded, from either side or a tunnel",
			test_martian_sources) == NULL ||
	    CU_add_test(o, "TTL spent and no route: no route, as in Linux", test_ttl_no_route) ==
		    NULL ||
	    CU_add_test(o, "what a replaced record sends after counts for its SA",
			test_out_replaced_counts) == NULL ||
	    CU_add_test(o, "an lcore 0 stalled while it replaces a record: no number twice",
			test_out_replace_stall) == NULL ||
	    CU_add_test(o, "state update with the same keys keeps the IV mask",
			test_out_update_same_keys) == NULL ||
	    CU_add_test(o, "set out-sa shared: no owner; a change makes new records",
			test_out_shared_mode) == NULL ||
	    CU_add_test(o, "handoffs in bursts reach the owner all, in order",
			test_out_handoff_burst) == NULL ||
	    CU_add_test(o, "a release through a replaced record goes through its successor",
			test_out_release_replaced) == NULL ||
	    CU_add_test(o, "the hold scan keeps what a release could not send",
			test_hold_scan_partial) == NULL ||
	    CU_add_test(o, "after a release moved on, its packet follows it",
			test_release_then_packet) == NULL ||
	    CU_add_test(i, "asynchronous engine: collect, order, replay in flight",
			test_in_async) == NULL ||
	    CU_add_test(i, "round trip from another gateway; SPI cache after delete",
			test_in_round_trip) == NULL ||
	    CU_add_test(i, "hub and spoke: out of one SA into another, blocked, plain",
			test_in_hub_relay) == NULL ||
	    CU_add_test(i, "an SA replaced mid-burst: its successor, no invalid SPI",
			test_in_replaced) == NULL ||
	    CU_add_test(i, "an SA replaced mid-burst: one replay window",
			test_in_replaced_window) == NULL ||
	    CU_add_test(i, "one owner per inbound SA; others hand its ESP over",
			test_in_owner) == NULL ||
	    CU_add_test(r, "bulk routes, on-link neighbours, no route, unresolved",
			test_route_burst) == NULL ||
	    CU_add_test(i, "fragments to the gateway pin a share of the pool at most",
			test_frag_budget) == NULL ||
	    CU_add_test(r, "fragments passing through, transport SAs, multicast",
			test_frag_forward) == NULL ||
	    CU_add_test(r, "default routes; a /1 beats them", test_route_default) == NULL ||
	    CU_add_test(i, "truncated plain packet inbound", test_in_plain_truncated) == NULL ||
	    CU_add_test(i, "plain packets to the gateway meet the inbound SPD",
			test_in_local_plain_spd) == NULL ||
	    CU_add_test(i, "transit ESP with one of our SPIs", test_transit_spi_collision) == NULL ||
	    CU_add_test(r, "IPv4 headers the NIC found bad are dropped", test_ip4_cksum) == NULL ||
	    CU_add_test(o, "IPv6 over a small IPv6 path: 1280 bytes go in fragments",
			test_v6_min_mtu_over_v6) == NULL ||
	    CU_add_test(o, "... and so on an asynchronous engine",
			test_v6_min_mtu_over_v6_async) == NULL ||
	    CU_add_test(o, "IPv6 over a small IPv4 path: 1280 bytes go, less is never said",
			test_v6_min_mtu) == NULL ||
	    CU_add_test(i, "fragments to the gateway reach the kernel as frames",
			test_frag_local_frame) == NULL ||
	    CU_add_test(i, "a host's own IPsec behind the gateway passes through",
			test_transit_ipsec) == NULL ||
	    CU_add_test(p, "TX at the round's end (a round later in a backlog); lcore 0 woken",
			test_round_sends) == NULL)
		return CU_get_error();
	return 0;
}
