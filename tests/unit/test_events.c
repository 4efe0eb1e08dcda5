/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the events layer (control/events.c) on the test gateway
 * (tests/support/testgw.h: the control library with offline ports, one
 * worker driven by hand): ACQUIRE with held packets and their release in
 * order, acquire-expires, time and packet lifetimes with EXPIRE, the
 * invalid-spi rate limit, ids kept for lost events. The model's clock is
 * driven by the test, so no case sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <jansson.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "config/config.h"
#include "control/events.h"
#include "dataplane/spi_limit.h"
#include "dataplane/worker.h"
#include "tests/support/testgw.h"
#include "unit.h"

#define NS 1000000000ull
#define GCM "aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128"

static const char conf[] =
	"port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01\n"
	"route add 172.16.2.0/24 port 1 via 172.16.1.1\n"
	"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
	"set acquire-queue 4\n"
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 3 "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel "
	"  pfp src,dst,proto,sport,dport\n";

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static struct testgw *
gw_new(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	fake_now = 5000 * NS;
	g->model.now_ns = fake_clock;
	return g;
}

/* An Ethernet frame of UDP from 192.168.1.10:SPORT to 192.168.2.20:5001,
 * its payload starting with @p tag. */
static struct rte_mbuf *
frame(struct testgw *g, uint16_t sport, uint8_t tag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pub.pool);
	uint16_t len = sizeof(struct rte_ether_hdr) + 20 + 8 + 32;
	uint8_t *p;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	memset(p, 0, len);
	((struct rte_ether_hdr *)p)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(20 + 8 + 32);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 1, 10));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(192u, 168, 2, 20));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(ip + 1);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16(8 + 32);
	((uint8_t *)(udp + 1))[0] = tag;
	return m;
}

/* The same frame as an ICMP echo request (type 8, code 0). */
static struct rte_mbuf *
frame_ping(struct testgw *g)
{
	struct rte_mbuf *m = frame(g, 0, 0);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
							  sizeof(struct rte_ether_hdr));
	uint8_t *icmp = (uint8_t *)(ip + 1);

	ip->next_proto_id = IPPROTO_ICMP;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memset(icmp, 0, 8);
	icmp[0] = 8;
	return m;
}

/* Packets through the worker's outbound path, one burst. */
static void
send_out(struct testgw *g, uint16_t sport, uint8_t first_tag, unsigned int n)
{
	struct rte_mbuf *m[32];
	unsigned int i;

	for (i = 0; i < n; i++)
		m[i] = frame(g, sport, (uint8_t)(first_tag + i));
	gw_outbound(g->pub.workers[0], g->pub.shared.tables, 0, m, (uint16_t)n);
}

/* Every event rendered so far, as JSON objects in an array (the tests
 * listen in both forms or in neither). */
static json_t *
take_events(struct testgw *g)
{
	json_t *all = json_array();
	struct event_out e;

	while (events_next(g->ev, &e)) {
		CU_ASSERT_EQUAL(e.text == NULL, e.json == NULL);
		if (e.json != NULL) {
			json_t *o = json_loads(e.json, 0, NULL);

			CU_ASSERT_PTR_NOT_NULL(o);
			if (o != NULL)
				json_array_append_new(all, o);
		}
		event_out_free(&e);
	}
	return all;
}

static uint64_t
counter(struct testgw *g, enum espd_counter c)
{
	uint64_t v[CNT__MAX];

	pub_counters(&g->pub, v);
	return v[c];
}

/* The frames the worker queued for TX on port 1, as ESP sequence numbers
 * of SA @p spi, in order; any other frame fails the test. */
static unsigned int tx_n;
static uint32_t tx_seq[64], tx_spi[64];

static void
sent(uint16_t port, const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t spi, seq;

	CU_ASSERT_EQUAL(port, 1);
	CU_ASSERT_EQUAL(p[14 + 9], IPPROTO_ESP);
	memcpy(&spi, p + 14 + 20, 4);
	memcpy(&seq, p + 14 + 20 + 4, 4);
	if (tx_n < 64) {
		tx_spi[tx_n] = rte_be_to_cpu_32(spi);
		tx_seq[tx_n++] = rte_be_to_cpu_32(seq);
	}
}

/* One ACQUIRE per flow; its packets held, then released in order through
 * the SA that answers it; nothing lost. */
static void
test_acquire_hold_release(void)
{
	struct testgw *g = gw_new();
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	json_t *ev, *a;

	send_out(g, 40000, 1, 3);
	send_out(g, 40000, 4, 3);  /* 6 packets, queue of 4: 2 dropped */
	send_out(g, 40001, 10, 1); /* another flow */
	send_out(g, 40002, 30, 2); /* and a third */
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 3);
	a = json_array_get(ev, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "event")), "acquire");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "seq")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "policy_index")), 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "src")), "172.16.1.5");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(a, "sel"), "src")), "192.168.1.10/32");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(
		json_object_get(a, "sel"), "sport")), 40000);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(a, "pkt"), "proto")), "udp");
	json_decref(ev);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireSent), 3);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeld), 7);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped), 2);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 3);
	CU_ASSERT_EQUAL(g->pub.workers[0]->hold->n_keys, 3);
	CU_ASSERT_EQUAL(g->pub.workers[0]->hold->n_pkts, 7);

	/* The answer. The packets stay with the worker that holds them
	 * until its lookup finds the SA: here the flow's next packet, which
	 * sends them first (seq 1-4) and itself after (seq 5). */
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7001 reqid 7 seq 1 "
	      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 dport 5001");
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 0);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 2);
	send_out(g, 40000, 20, 1); /* a later packet follows them */
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 4);
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT_EQUAL(tx_n, 5);
	for (i = 0; i < tx_n; i++)
		CU_ASSERT(tx_spi[i] == 0x7001 && tx_seq[i] == i + 1);

	/* Without a later packet, the control plane's release command sends
	 * them (the one it sent for 40000 finds nothing left: no double). */
	send_out(g, 40002, 32, 1);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7002 reqid 7 seq 3 "
	      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40002 dport 5001");
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 4);
	CU_ASSERT(gw_hold_poll(g->pub.workers[0], g->pub.shared.tables) >= 2);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 7);
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT_EQUAL(tx_n, 3);
	for (i = 0; i < tx_n; i++)
		CU_ASSERT(tx_spi[i] == 0x7002 && tx_seq[i] == i + 1);
	CU_ASSERT_EQUAL(g->pub.workers[0]->hold->n_keys, 1);

	/* acquire-expires: the other flow's packet is dropped when it
	 * passes, counted, and a later packet raises a new ACQUIRE. */
	fake_now += 29 * NS;
	events_poll(g->ev);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 1);
	fake_now += 1 * NS;
	events_poll(g->ev);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 0);
	(void)gw_hold_poll(g->pub.workers[0], g->pub.shared.tables);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped), 3);
	CU_ASSERT_EQUAL(g->pub.workers[0]->hold->n_keys, 0);
	send_out(g, 40001, 11, 1);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")), 4);
	json_decref(ev);
	testgw_drain(g, NULL);
	events_free(g->ev);
	g->ev = NULL;
	/* Held packets die with the layer, counted; none leak. */
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped), 4);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
	testgw_free(g);
}

/* Time limits through the events layer: soft then hard EXPIRE, counted
 * from the add with sub-second precision; the hard one removes the SA. */
static void
test_time_expire(void)
{
	struct testgw *g = gw_new();
	json_t *ev, *e;

	fake_now += 400000000ull;
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7101 reqid 9 " GCM
	      " limit time-soft 1 limit time-hard 2");
	fake_now += NS - 1;
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 0);
	json_decref(ev);
	fake_now += 1;
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL_FATAL(json_array_size(ev), 1);
	e = json_array_get(ev, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "event")), "expire");
	CU_ASSERT(json_is_false(json_object_get(e, "hard")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "spi")), "0x00007101");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "dir")), "out");
	json_decref(ev);
	CU_ASSERT_EQUAL(g->model.n_sas, 1);
	fake_now += NS - 1;
	events_poll(g->ev);
	CU_ASSERT_EQUAL(g->model.n_sas, 1);
	fake_now += 1;
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL_FATAL(json_array_size(ev), 1);
	CU_ASSERT(json_is_true(json_object_get(json_array_get(ev, 0), "hard")));
	json_decref(ev);
	CU_ASSERT_EQUAL(g->model.n_sas, 0);
	testgw_free(g);
}

/* A packet-hard limit seen by the worker: EXPIRE hard once, the SA goes,
 * and the flow's next packet raises a new ACQUIRE. */
static void
test_packet_expire(void)
{
	struct testgw *g = gw_new();
	json_t *ev;
	size_t i, acq = 0, hard = 0, soft = 0;

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7201 reqid 7 " GCM
	      " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 dport 5001"
	      " limit packet-soft 2 limit packet-hard 3");
	send_out(g, 40000, 1, 1);
	send_out(g, 40000, 2, 1);
	send_out(g, 40000, 3, 1);
	events_poll(g->ev);
	CU_ASSERT_EQUAL(g->model.n_sas, 0);
	send_out(g, 40000, 4, 1);
	events_poll(g->ev);
	ev = take_events(g);
	for (i = 0; i < json_array_size(ev); i++) {
		json_t *e = json_array_get(ev, i);
		const char *kind = json_string_value(json_object_get(e, "event"));

		if (strcmp(kind, "acquire") == 0)
			acq++;
		else if (json_is_true(json_object_get(e, "hard")))
			hard++;
		else
			soft++;
	}
	CU_ASSERT_EQUAL(soft, 1);
	CU_ASSERT_EQUAL(hard, 1);
	CU_ASSERT_EQUAL(acq, 1);
	json_decref(ev);
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT_EQUAL(tx_n, 3);
	testgw_free(g);
}

/* The soft EXPIREs among the events so far. */
static size_t
soft_expires(struct testgw *g)
{
	json_t *ev = take_events(g);
	size_t i, n = 0;

	for (i = 0; i < json_array_size(ev); i++) {
		json_t *e = json_array_get(ev, i);

		n += strcmp(json_string_value(json_object_get(e, "event")), "expire") == 0 &&
		     !json_is_true(json_object_get(e, "hard"));
	}
	json_decref(ev);
	return n;
}

/* New keys (`state update ... aead`) make a new record but not a new
 * lifetime: a soft EXPIRE already raised is not raised again. New limits
 * re-arm it, with or without new keys. */
static void
test_rekey_expire_once(void)
{
	struct testgw *g = gw_new();
	static const char sa[] = "src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7203 ";

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7203 reqid 7 "
		      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 "
		      "dport 5001 limit packet-soft 2 limit packet-hard 100");
	send_out(g, 40000, 1, 2);
	events_poll(g->ev);
	CU_ASSERT_EQUAL(soft_expires(g), 1);
	{
		char line[256];

		snprintf(line, sizeof(line), "state update %s"
			 "aead rfc4106(gcm(aes)) 0x1112131415161718191a1b1c1d1e1f20b1b2b3b4 128", sa);
		unit_gw_apply(g, line);
		send_out(g, 40000, 3, 1);
		events_poll(g->ev);
		CU_ASSERT_EQUAL(soft_expires(g), 0);
		snprintf(line, sizeof(line), "state update %s"
			 "aead rfc4106(gcm(aes)) 0x2122232425262728292a2b2c2d2e2f30c1c2c3c4 128 "
			 "limit packet-soft 4 limit packet-hard 100", sa);
		unit_gw_apply(g, line);
		send_out(g, 40000, 4, 1);
		events_poll(g->ev);
		CU_ASSERT_EQUAL(soft_expires(g), 1);
	}
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT_EQUAL(tx_n, 4);
	testgw_free(g);
}

/* invalid-spi: one event per (src, SPI) per second, whichever worker
 * saw it; the counter counts events. */
static void
test_invalid_spi_limit(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];
	struct gw_event e = { .type = GW_EV_INVALID_SPI, .spi = 0xdead0001 };
	json_t *ev;
	unsigned int i;

	e.pkt.family = 4;
	memcpy(e.pkt.src, (uint8_t[]){ 172, 16, 2, 5 }, 4);
	memcpy(e.pkt.dst, (uint8_t[]){ 172, 16, 1, 5 }, 4);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(rte_ring_enqueue_elem(w->events, &e, sizeof(e)), 0);
	e.spi = 0xdead0002;
	CU_ASSERT_EQUAL(rte_ring_enqueue_elem(w->events, &e, sizeof(e)), 0);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(ev, 0), "spi")),
			       "0xdead0001");
	json_decref(ev);
	fake_now += NS;
	e.spi = 0xdead0001;
	CU_ASSERT_EQUAL(rte_ring_enqueue_elem(w->events, &e, sizeof(e)), 0);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 1);
	json_decref(ev);
	CU_ASSERT_EQUAL(counter(g, CNT_InvalidSpiEvents), 3);

	/* A monitor subscribing to invalid-spi resets the limit, here and
	 * in the workers (through the shared generation). */
	events_listening(g->ev, CFG_MON_ACQUIRE, CFG_MON_ACQUIRE);
	CU_ASSERT_EQUAL(rte_ring_enqueue_elem(w->events, &e, sizeof(e)), 0);
	events_poll(g->ev);
	json_decref(take_events(g));
	CU_ASSERT_EQUAL(counter(g, CNT_InvalidSpiEvents), 3); /* within the second */
	events_listening(g->ev, CFG_MON_ACQUIRE | CFG_MON_INVALID_SPI,
			 CFG_MON_ACQUIRE | CFG_MON_INVALID_SPI);
	CU_ASSERT_NOT_EQUAL(g->pub.shared.spi_limit_gen, w->spi_gen);
	CU_ASSERT_EQUAL(rte_ring_enqueue_elem(w->events, &e, sizeof(e)), 0);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 1);
	json_decref(ev);
	CU_ASSERT_EQUAL(counter(g, CNT_InvalidSpiEvents), 4);
	testgw_free(g);
}

/* The table itself: pairs that share a set. Two alternating within a
 * second each pass once (with one slot per set, each pushed the other
 * out and both passed every time); a set whose every way was seen
 * within the second lets no new pair through; a second later, all pass
 * again. */
static void
test_invalid_spi_collisions(void)
{
	static const uint8_t src[16] = { 172, 16, 2, 5 };
	struct spi_limit *l = calloc(1, sizeof(*l));
	uint32_t same[SPI_LIMIT_WAYS + 1], n = 0, spi, other = 0;
	uint64_t now = 1000 * NS;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	for (spi = 1; n < SPI_LIMIT_WAYS + 1; spi++) {
		if (spi_limit_set(spi, src) == spi_limit_set(1, src))
			same[n++] = spi;
		else if (other == 0)
			other = spi;
	}
	CU_ASSERT_TRUE(spi_limit_allow(l, same[0], 4, src, now, NS));
	CU_ASSERT_TRUE(spi_limit_allow(l, same[1], 4, src, now + 1, NS));
	CU_ASSERT_FALSE(spi_limit_allow(l, same[0], 4, src, now + 2, NS));
	CU_ASSERT_FALSE(spi_limit_allow(l, same[1], 4, src, now + 3, NS));
	for (n = 2; n < SPI_LIMIT_WAYS; n++)
		CU_ASSERT_TRUE(spi_limit_allow(l, same[n], 4, src, now + 4, NS));
	/* Every way limited: the next pair of the set waits, and pushes out
	 * none of them; another set is free. */
	CU_ASSERT_FALSE(spi_limit_allow(l, same[SPI_LIMIT_WAYS], 4, src, now + 5, NS));
	for (n = 0; n < SPI_LIMIT_WAYS; n++)
		CU_ASSERT_FALSE(spi_limit_allow(l, same[n], 4, src, now + 6, NS));
	CU_ASSERT_TRUE(spi_limit_allow(l, other, 4, src, now + 7, NS));
	/* A second on: the waiting pair takes a way, the others pass once. */
	now += NS;
	CU_ASSERT_TRUE(spi_limit_allow(l, same[SPI_LIMIT_WAYS], 4, src, now, NS));
	for (n = 1; n < SPI_LIMIT_WAYS; n++)
		CU_ASSERT_TRUE(spi_limit_allow(l, same[n], 4, src, now + 10, NS));
	for (n = 1; n <= SPI_LIMIT_WAYS; n++)
		CU_ASSERT_FALSE(spi_limit_allow(l, same[n], 4, src, now + 11, NS));
	free(l);
}

/* An ACQUIRE of an ICMP flow names type and code as `ip xfrm` does, and
 * its `sel`, word for word, is one that `state add` takes: the answer
 * releases the held ping. */
static void
test_acquire_icmp_sel(void)
{
	struct testgw *g = gw_new();
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct rte_mbuf *m = frame_ping(g);
	struct cfg_error err = { 0 };
	char line[512];
	json_t *ev, *sel, *pkt;

	gw_outbound(g->pub.workers[0], g->pub.shared.tables, 0, &m, 1);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL_FATAL(json_array_size(ev), 1);
	sel = json_object_get(json_array_get(ev, 0), "sel");
	pkt = json_object_get(json_array_get(ev, 0), "pkt");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(sel, "proto")), "icmp");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(sel, "type")), 8);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(sel, "code")), 0);
	CU_ASSERT_PTR_NULL(json_object_get(sel, "sport"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(pkt, "type")), 8);
	snprintf(line, sizeof(line),
		 "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7101 reqid 7 "
		 GCM " sel src %s dst %s proto icmp type %lld code %lld",
		 json_string_value(json_object_get(sel, "src")),
		 json_string_value(json_object_get(sel, "dst")),
		 json_integer_value(json_object_get(sel, "type")),
		 json_integer_value(json_object_get(sel, "code")));
	json_decref(ev);
	CU_ASSERT_EQUAL(testgw_apply(g, line, &err), 0);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 0);
	(void)gw_hold_poll(g->pub.workers[0], g->pub.shared.tables);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldReleased), 1);
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT(tx_n == 1 && tx_spi[0] == 0x7101);
	/* `sport` is still refused for ICMP, with the word to use. */
	CU_ASSERT_NOT_EQUAL(testgw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
				     "spi 0x7102 reqid 7 " GCM " sel src 192.168.1.10/32 "
				     "dst 192.168.2.20/32 proto icmp sport 8", &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ICMP takes 'type' and 'code'"));
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
	testgw_free(g);
}

/* An ACQUIRE raised while no monitor took ACQUIREs reached nobody: when
 * one subscribes, it expires at once, and the flow's next packet raises
 * it again. One raised while a monitor listened is left alone. */
static void
test_acquire_unheard(void)
{
	struct testgw *g = gw_new();
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	json_t *ev;

	events_listening(g->ev, 0, 0);
	send_out(g, 40000, 1, 2);
	events_poll(g->ev);
	json_decref(take_events(g));
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 1);
	events_listening(g->ev, 0, 0); /* still nobody: nothing changes */
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 1);
	events_listening(g->ev, CFG_MON_ACQUIRE, CFG_MON_ACQUIRE); /* a monitor subscribed */
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 0);
	(void)gw_hold_poll(g->pub.workers[0], g->pub.shared.tables);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped), 2);
	send_out(g, 40000, 3, 1);
	events_poll(g->ev);
	ev = take_events(g);
	CU_ASSERT_EQUAL(json_array_size(ev), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")), 2);
	json_decref(ev);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 1);
	/* Heard: a monitor leaving and another coming does not expire it. */
	events_listening(g->ev, 0, 0);
	events_listening(g->ev, CFG_MON_ACQUIRE, CFG_MON_ACQUIRE);
	CU_ASSERT_EQUAL(g->pub.acquire_pending, 1);
	testgw_drain(g, NULL);
	events_free(g->ev);
	g->ev = NULL;
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
	testgw_free(g);
}

/* A packet of a new flow (source port @p sport) while monitors take
 * @p text and @p json: the ACQUIRE it raises, in *e. */
static void
acquire_heard(struct testgw *g, uint32_t text, uint32_t json, uint16_t sport,
	      struct event_out *e)
{
	events_listening(g->ev, text, json);
	send_out(g, sport, (uint8_t)(sport - 39999), 1);
	events_poll(g->ev);
	CU_ASSERT_TRUE_FATAL(events_next(g->ev, e));
	CU_ASSERT_EQUAL(e->type, CFG_MON_ACQUIRE);
}

/* An event is rendered only in the forms some monitor takes: text and
 * JSON each alone, and neither (queued all the same: it takes an id). */
static void
test_event_forms(void)
{
	struct testgw *g = gw_new();
	unsigned int base = rte_mempool_in_use_count(g->pub.pool);
	struct event_out e;

	acquire_heard(g, CFG_MON_ACQUIRE, 0, 40000, &e);
	CU_ASSERT_PTR_NULL(e.json);
	CU_ASSERT_PTR_NOT_NULL(e.text != NULL ? strstr(e.text, "acquire seq 1 ") : NULL);
	event_out_free(&e);

	acquire_heard(g, 0, CFG_MON_ACQUIRE, 40001, &e);
	CU_ASSERT_PTR_NULL(e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e.json);
	CU_ASSERT_EQUAL(strncmp(e.json, "{\"event\":\"acquire\",\"seq\":2,", 26), 0);
	CU_ASSERT_EQUAL(e.json[strlen(e.json) - 1], '}');
	event_out_free(&e);

	/* Only invalid-spi heard: an ACQUIRE is queued unrendered. */
	acquire_heard(g, CFG_MON_INVALID_SPI, CFG_MON_INVALID_SPI, 40002, &e);
	CU_ASSERT_PTR_NULL(e.text);
	CU_ASSERT_PTR_NULL(e.json);
	event_out_free(&e);
	CU_ASSERT_FALSE(events_next(g->ev, &e));
	testgw_drain(g, NULL);
	events_free(g->ev);
	g->ev = NULL;
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(g->pub.pool), base);
	testgw_free(g);
}

/* @p n invalid-spi events, each of its own SPI from 0xbeef0000 + *next,
 * handed to the control plane (a second apart every 32, so the rate
 * limit never holds one back). */
static void
invalid_spis(struct testgw *g, uint32_t *next, unsigned int n)
{
	struct gw_worker *w = g->pub.workers[0];
	struct gw_event e = { .type = GW_EV_INVALID_SPI };
	unsigned int i, full = 0;

	e.pkt.family = 4;
	memcpy(e.pkt.src, (uint8_t[]){ 172, 16, 2, 5 }, 4);
	memcpy(e.pkt.dst, (uint8_t[]){ 172, 16, 1, 5 }, 4);
	for (i = 0; i < n; i++) {
		e.spi = 0xbeef0000u + (*next)++;
		full += rte_ring_enqueue_elem(w->events, &e, sizeof(e)) != 0;
		if (i % 32 == 31 || i == n - 1) {
			events_poll(g->ev);
			fake_now += NS;
		}
	}
	CU_ASSERT_EQUAL(full, 0);
}

/* DESIGN.md "Control plane and events": every event takes an id, lost
 * ones too, so a consumer sees the gap. Events lost to a full queue
 * (65536 waiting, nobody draining) are carried by the next event queued,
 * or after the last one, by an entry of their own (type 0). */
static void
test_events_lost(void)
{
	struct testgw *g = gw_new();
	struct event_out e;
	uint64_t queued = 0, lost = 0, lost_at = 0, bad = 0;
	uint32_t next = 0;
	bool tail = false;

	events_listening(g->ev, 0, 0); /* queued unrendered: cheap */
	invalid_spis(g, &next, 65536 + 2);
	CU_ASSERT_EQUAL(counter(g, CNT_InvalidSpiEvents), 65538);
	CU_ASSERT_EQUAL(counter(g, CNT_MonitorEventsDropped), 2);
	/* Room for one more: it carries the two before it. Then one more
	 * lost, after the last queued. */
	CU_ASSERT_TRUE_FATAL(events_next(g->ev, &e));
	CU_ASSERT_EQUAL(e.lost, 0);
	event_out_free(&e);
	invalid_spis(g, &next, 2);
	CU_ASSERT_EQUAL(counter(g, CNT_MonitorEventsDropped), 3);
	while (events_next(g->ev, &e)) {
		bad += tail; /* the losses-only entry comes last */
		if (e.type == 0) {
			CU_ASSERT_EQUAL(e.lost, 1);
			tail = true;
		} else {
			bad += e.type != CFG_MON_INVALID_SPI;
			queued++;
			if (e.lost != 0)
				lost_at = queued;
		}
		lost += e.lost;
		event_out_free(&e);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_TRUE(tail);
	CU_ASSERT_EQUAL(queued, 65536);
	CU_ASSERT_EQUAL(lost_at, 65536);
	/* One id for each event: queued, taken, and lost. */
	CU_ASSERT_EQUAL(1 + queued + lost, next);
	testgw_free(g);
}

/* A packet-hard limit on an asynchronous engine (a cryptodev's way,
 * here on the null engine): the SA's counters move when
 * gw_esp_collect() finishes a packet, so the limits are checked then,
 * not at submit. Both engines behave alike: 3 packets leave, not 4. */
static void
test_packet_expire_async(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];
	json_t *ev;
	size_t i, hard = 0;
	uint8_t tag;

	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&w->esp, 64, 0), 0);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7201 reqid 7 " GCM
	      " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 dport 5001"
	      " limit packet-soft 2 limit packet-hard 3");
	for (tag = 1; tag <= 4; tag++) {
		send_out(g, 40000, tag, 1);
		gw_esp_collect(w, g->pub.shared.tables, true);
		events_poll(g->ev);
	}
	ev = take_events(g);
	for (i = 0; i < json_array_size(ev); i++)
		hard += json_is_true(json_object_get(json_array_get(ev, i), "hard"));
	json_decref(ev);
	CU_ASSERT_EQUAL(hard, 1);
	tx_n = 0;
	testgw_drain(g, sent);
	CU_ASSERT_EQUAL(tx_n, 3);
	esp_ctx_async_free(&w->esp);
	testgw_free(g);
}

/* A soft EXPIRE the event ring refused (EventRingFull) is raised again
 * by a later burst. */
static void
test_expire_ring_full(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];
	struct gw_event filler = { .type = GW_EV_INVALID_SPI, .spi = 1 };
	size_t soft;

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7204 reqid 7 "
		      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 "
		      "dport 5001 limit packet-soft 2 limit packet-hard 100");
	filler.pkt.family = 4;
	/* A full event ring (an invalid-SPI flood from many sources, say). */
	while (rte_ring_enqueue_elem(w->events, &filler, sizeof(filler)) == 0)
		;
	send_out(g, 40000, 1, 2); /* crosses packet-soft 2 */
	CU_ASSERT_EQUAL(w->cnt.c[CNT_EventRingFull], 1);
	events_poll(g->ev); /* lcore 0 empties the ring */
	json_decref(take_events(g));
	while (rte_ring_count(w->events) != 0)
		events_poll(g->ev);
	json_decref(take_events(g));
	send_out(g, 40000, 3, 5); /* more traffic, room on the ring now */
	events_poll(g->ev);
	soft = soft_expires(g);
	CU_ASSERT_EQUAL(soft, 1);
	tx_n = 0;
	testgw_drain(g, sent);
	testgw_free(g);
}

/* The hard EXPIRE of an SA out of sequence numbers, refused by a full
 * event ring: the flow's next miss reaches lcore 0, which expires the
 * spent SA itself and ACQUIREs a new one, rather than answering RELEASE
 * for ever (the worker cannot use it, and the flow would be cut off
 * with no event). */
static void
test_exhausted_event_lost(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];
	struct gw_event filler = { .type = GW_EV_INVALID_SPI, .spi = 1 };
	json_t *ev;
	size_t i, acq = 0, exp = 0;
	int round;

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7205 reqid 7 "
		      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 "
		      "dport 5001 replay-oseq 0xffffffff");
	filler.pkt.family = 4;
	while (rte_ring_enqueue_elem(w->events, &filler, sizeof(filler)) == 0)
		;
	send_out(g, 40000, 1, 1); /* would take 2^32: exhausted, EXPIRE refused */
	CU_ASSERT_EQUAL(w->cnt.c[CNT_XfrmOutStateSeqError], 1);
	while (rte_ring_count(w->events) != 0)
		events_poll(g->ev);
	json_decref(take_events(g));
	for (round = 0; round < 5; round++) {
		send_out(g, 40000, (uint8_t)(2 + round), 1);
		events_poll(g->ev);
		(void)gw_hold_poll(w, g->pub.shared.tables);
	}
	events_poll(g->ev);
	ev = take_events(g);
	for (i = 0; i < json_array_size(ev); i++) {
		const char *kind = json_string_value(json_object_get(json_array_get(ev, i), "event"));

		acq += strcmp(kind, "acquire") == 0;
		exp += strcmp(kind, "expire") == 0;
	}
	json_decref(ev);
	CU_ASSERT(acq + exp >= 1);
	CU_ASSERT_EQUAL(exp, 1);
	CU_ASSERT_EQUAL(acq, 1);
	tx_n = 0;
	testgw_drain(g, sent);
	testgw_free(g);
}

/* current.use_time is the wall clock of the SA's last packet, however
 * long espd has run and however far DPDK's TSC rate is off: here espd
 * began 100 s ago, its rate 1 % fast, and the SA was used 2 s ago. A
 * start-time anchor read at that rate would be a second out. */
static void
test_use_time_clock(void)
{
	struct testgw *g = gw_new();
	struct cfg_addr dst = { .af = AF_INET, .len = 32, .a = { 172, 16, 2, 5 } };
	const uint64_t hz = rte_get_tsc_hz();
	struct model_sa *s;
	struct timespec ts;
	int64_t want, got;

	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7301 reqid 7 "
		      GCM);
	s = model_sa_find(&g->model, &dst, 0x7301);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (g->pub.tsc0 > 200 * hz && g->pub.mono0_ns > 200000000000ull) {
		g->pub.tsc0 -= 100 * hz;
		g->pub.mono0_ns -= 100000000000ull;
		g->pub.tsc_hz = hz + hz / 100;
		((struct gw_sa *)s->dp)->use_tsc = rte_rdtsc() - 2 * hz;
		clock_gettime(CLOCK_REALTIME, &ts);
		want = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - 2000000000;
		got = (int64_t)pub_sa_use_ns(&g->pub, s);
		CU_ASSERT(got - want < 50000000 && want - got < 50000000);
	}
	testgw_free(g);
}

/* New flows behind a pfp policy (anyone there can start them) hold at
 * most a share of the mbuf pool, whatever acquire-queue-total says: the
 * rest are dropped, AcquireHeldDropped, and RX keeps its mbufs. */
static void
test_hold_pool_share(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];
	unsigned int base = rte_mempool_in_use_count(g->pub.pool), i;
	const uint32_t cap = g->pub.pool_size / 2;

	CU_ASSERT_EQUAL(g->pub.n_workers, 1);
	CU_ASSERT(g->pub.shared.acquire_queue_total > cap);
	for (i = 0; i < 200; i++)
		send_out(g, (uint16_t)(20000 + i), 1, 4);
	CU_ASSERT(w->hold->n_pkts <= cap);
	CU_ASSERT(rte_mempool_in_use_count(g->pub.pool) - base <= cap);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireHeldDropped) + w->hold->n_pkts, 800);
	CU_ASSERT(counter(g, CNT_AcquireHeldDropped) > 0);
	gw_hold_drop_all(w);
	testgw_drain(g, NULL);
	testgw_free(g);
}

/* lcore 0 names a held flow as the worker keyed it, by the tables it had,
 * though the model runs ahead (a rebuild not yet published): a policy
 * deleted, or its pfp changed, drops what the worker holds at once,
 * rather than leaving it held under a key nobody names until the
 * worker's own timer. */
static void
test_miss_model_ahead(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];

	/* The policy deleted in the model; the tables still have it. */
	unit_gw_apply(g, "policy del index 3");
	send_out(g, 40000, 1, 1);
	CU_ASSERT_EQUAL(w->hold->n_keys, 1);
	events_poll(g->ev);
	(void)gw_hold_poll(w, g->pub.shared.tables);
	CU_ASSERT_EQUAL(w->hold->n_keys, 0);
	CU_ASSERT_EQUAL(counter(g, CNT_XfrmOutPolError), 1);
	testgw_drain(g, NULL);
	testgw_free(g);

	/* pfp narrowed in the model; the tables still key on the ports. */
	g = gw_new();
	w = g->pub.workers[0];
	unit_gw_apply(g, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 3 "
		      "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel pfp src,dst");
	send_out(g, 40000, 1, 1);
	CU_ASSERT_EQUAL(w->hold->n_keys, 1);
	events_poll(g->ev);
	(void)gw_hold_poll(w, g->pub.shared.tables);
	CU_ASSERT_EQUAL(w->hold->n_keys, 0);
	CU_ASSERT_EQUAL(counter(g, CNT_AcquireSent), 0);
	testgw_drain(g, NULL);
	testgw_free(g);
}

/* A soft limit that the old record crosses with packets an asynchronous
 * engine finishes after new keys replaced it, and its successor crosses
 * again: one soft EXPIRE for the SA's lifetime, not two. */
static void
test_soft_once_across_records(void)
{
	struct testgw *g = gw_new();
	struct gw_worker *w = g->pub.workers[0];

	CU_ASSERT_EQUAL_FATAL(esp_ctx_async_init(&w->esp, 64, 0), 0);
	unit_gw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7203 reqid 7 "
		      GCM " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 "
		      "dport 5001 limit packet-soft 2 limit packet-hard 100");
	send_out(g, 40000, 1, 3);
	unit_gw_apply(g, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7203 "
		      "aead rfc4106(gcm(aes)) 0x1112131415161718191a1b1c1d1e1f20b1b2b3b4 128");
	gw_esp_collect(w, g->pub.shared.tables, true);
	events_poll(g->ev);
	send_out(g, 40000, 4, 2);
	gw_esp_collect(w, g->pub.shared.tables, true);
	events_poll(g->ev);
	CU_ASSERT_EQUAL(soft_expires(g), 1);
	esp_ctx_async_free(&w->esp);
	testgw_drain(g, NULL);
	testgw_free(g);
}

int
test_events_register(void)
{
	CU_pSuite s = CU_add_suite("events", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "ACQUIRE, held packets, release in order",
			test_acquire_hold_release) == NULL ||
	    CU_add_test(s, "ACQUIRE of ICMP: type and code, taken back by state add",
			test_acquire_icmp_sel) == NULL ||
	    CU_add_test(s, "ACQUIREs nobody heard expire when a monitor subscribes",
			test_acquire_unheard) == NULL ||
	    CU_add_test(s, "time limits: EXPIRE soft and hard", test_time_expire) == NULL ||
	    CU_add_test(s, "new keys do not raise a soft EXPIRE again; new limits do",
			test_rekey_expire_once) == NULL ||
	    CU_add_test(s, "packet limits: EXPIRE and re-ACQUIRE", test_packet_expire) == NULL ||
	    CU_add_test(s, "invalid-spi rate limit", test_invalid_spi_limit) == NULL ||
	    CU_add_test(s, "invalid-spi rate limit: pairs that collide",
			test_invalid_spi_collisions) == NULL ||
	    CU_add_test(s, "events rendered only in the forms heard", test_event_forms) == NULL ||
	    CU_add_test(s, "lost events still take their ids", test_events_lost) == NULL ||
	    CU_add_test(s, "use times on the wall clock, a TSC rate off", test_use_time_clock) == NULL ||
	    CU_add_test(s, "held packets take a share of the pool at most",
			test_hold_pool_share) == NULL ||
	    CU_add_test(s, "a miss named as the worker keyed it, the model ahead",
			test_miss_model_ahead) == NULL ||
	    CU_add_test(s, "one soft EXPIRE a lifetime, across records",
			test_soft_once_across_records) == NULL ||
	    CU_add_test(s, "packet limits on an async engine", test_packet_expire_async) == NULL ||
	    CU_add_test(s, "soft EXPIRE refused by a full ring", test_expire_ring_full) == NULL ||
	    CU_add_test(s, "exhausted SA, its EXPIRE lost", test_exhausted_event_lost) == NULL)
		return CU_get_error();
	return 0;
}
