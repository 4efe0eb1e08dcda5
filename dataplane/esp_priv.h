/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to dataplane/: helpers shared by esp_out.c and esp_in.c. */
#ifndef ESPD_ESP_PRIV_H
#define ESPD_ESP_PRIV_H

#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dataplane/esp.h"

#define ESP_HDR_LEN 8
#define ESP_TRAILER_LEN 2
#define IPPROTO_NONE_DUMMY 59 /* RFC 4303 2.6: a dummy packet */
#define ECN_MASK 0x03
#define ECN_NOT_ECT 0x00
#define ECN_ECT1 0x01
#define ECN_ECT0 0x02
#define ECN_CE 0x03

/*
 * Big-endian 32-bit fields at any address. After a 14-byte Ethernet
 * header the IP header, and so the ESP header, sits 2 bytes off a 4-byte
 * boundary; a plain *(rte_be32_t *) there is undefined behaviour (UBSan
 * "load of misaligned address"), and a fault on strict-alignment CPUs.
 * memcpy compiles to the same single load on x86.
 */
static inline uint32_t
esp_load_be32(const void *p)
{
	rte_be32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static inline void
esp_store_be32(void *p, uint32_t host)
{
	rte_be32_t v = rte_cpu_to_be_32(host);

	memcpy(p, &v, sizeof(v));
}

/*
 * The AEAD's AAD (RFC 4106 5, RFC 7634 2.1): SPI || sequence number,
 * straight from the ESP header, or with ESN SPI || high half || low half,
 * built in @p buf (12 bytes). One builder for both directions, so they
 * cannot disagree.
 */
static inline void
esp_aead_aad(struct crypto_op *op, const uint8_t *esp, bool esn, uint64_t seq,
	     uint8_t *buf)
{
	if (!esn) {
		op->aad = esp;
		op->aad_len = 8;
		return;
	}
	memcpy(buf, esp, 4);
	esp_store_be32(buf + 4, (uint32_t)(seq >> 32));
	memcpy(buf + 8, esp + 4, 4);
	op->aad = buf;
	op->aad_len = 12;
}

/*
 * The usual SA, whose choices the stages can take as constants (STYLE.md
 * habit 4): tunnel mode, IPv4 outside, no UDP encap, no ESN, an AEAD
 * (8-byte IV, 4-byte alignment). Decided once, at init (esp_sa.fast);
 * anything else takes the same code with the choices read from the SA.
 */
static inline bool
esp_sa_usual(const struct esp_sa *sa)
{
	return sa->mode == ESP_MODE_TUNNEL && !sa->outer_v6 &&
	       !(sa->flags & (ESP_F_UDP_ENCAP | ESP_F_ESN)) &&
	       sa->sess.is_aead && sa->iv_len == 8 && sa->pad_align == 4 &&
	       sa->tmpl_len == 20;
}

_Static_assert(ESP_BURST_MAX <= UINT16_MAX, "burst index fits uint16_t");

/*
 * The lists a stage sorts its burst into: the good ones keep their order
 * in pkts/sas; the bad ones are collected with their reason and put back
 * behind the good ones at the end (DPDK's move_bad_mbufs).
 */
struct esp_bad {
	struct rte_mbuf *pkts[ESP_BURST_MAX];
	struct esp_sa *sas[ESP_BURST_MAX];
	uint16_t why[ESP_BURST_MAX];
	uint16_t n;
};

static inline void
esp_bad_add(struct esp_bad *b, struct rte_mbuf *m, struct esp_sa *sa,
	    enum espd_counter why)
{
	b->pkts[b->n] = m;
	b->sas[b->n] = sa;
	b->why[b->n] = (uint16_t)why;
	b->n++;
}

/* Keep pkts[i] as the next good packet (*k), or set it aside with @p why:
 * the one sorting step every ESP stage ends each packet with. */
static inline void
esp_sort(struct esp_bad *b, struct rte_mbuf *pkts[], struct esp_sa *sas[],
	 uint16_t i, uint16_t *k, int why)
{
	if (unlikely(why != 0)) {
		esp_bad_add(b, pkts[i], sas[i], (enum espd_counter)why);
		return;
	}
	pkts[*k] = pkts[i];
	sas[*k] = sas[i];
	(*k)++;
}

/* Put the bad ones behind the @p good good ones; returns @p good. */
static inline uint16_t
esp_bad_flush(const struct esp_bad *b, struct rte_mbuf *pkts[],
	      struct esp_sa *sas[], uint16_t good, uint16_t reasons[])
{
	uint16_t i;

	for (i = 0; i < b->n; i++) {
		pkts[good + i] = b->pkts[i];
		sas[good + i] = b->sas[i];
		reasons[good + i] = b->why[i];
	}
	return good;
}

/* Reverse pkts/sas/reasons over [lo, hi). */
static inline void
esp_reverse(struct rte_mbuf *pkts[], struct esp_sa *sas[], uint16_t reasons[],
	    uint32_t lo, uint32_t hi)
{
	while (lo + 1 < hi) {
		struct rte_mbuf *m = pkts[lo];
		struct esp_sa *sa = sas[lo];
		uint16_t r = reasons[lo];

		hi--;
		pkts[lo] = pkts[hi];
		sas[lo] = sas[hi];
		reasons[lo] = reasons[hi];
		pkts[hi] = m;
		sas[hi] = sa;
		reasons[hi] = r;
		lo++;
	}
}

/* One stage over at most ESP_BURST_MAX packets (the scratch it uses is
 * that big), with the result layout of esp_out/in_process. */
typedef uint16_t (*esp_chunk_fn)(struct esp_ctx *ctx, struct rte_mbuf *pkts[],
				 struct esp_sa *sas[], uint16_t n,
				 uint16_t reasons[]);

/*
 * Run @p fn over a burst of any length, ESP_BURST_MAX packets at a time,
 * and keep the contract for the whole burst: every good packet first, in
 * order, then every bad one with its reason. After each chunk the array
 * reads [good | bad | chunk good | chunk bad]; the middle two blocks swap
 * places (a rotation by three reversals), which costs nothing while no
 * packet is bad.
 */
static inline uint16_t
esp_process_chunks(esp_chunk_fn fn, struct esp_ctx *ctx, struct rte_mbuf *pkts[],
		   struct esp_sa *sas[], uint16_t n, uint16_t reasons[])
{
	uint32_t good = 0, bad = 0, off = 0;

	while (off < n) {
		uint16_t m = (uint16_t)RTE_MIN((uint32_t)n - off, (uint32_t)ESP_BURST_MAX);
		uint16_t g = fn(ctx, pkts + off, sas + off, m, reasons + off);

		if (bad > 0 && g > 0) {
			esp_reverse(pkts, sas, reasons, good, good + bad);
			esp_reverse(pkts, sas, reasons, good + bad, off + g);
			esp_reverse(pkts, sas, reasons, good, off + g);
		}
		good += g;
		bad += m - g;
		off += m;
	}
	return (uint16_t)good;
}

/* Per-SA counters, once per run of one SA. Each SA has one writer (an
 * outbound SA its owning lcore, an inbound SA the lcore its packets
 * reach), so these are plain stores; readers rely on 64-bit loads not
 * tearing. */
static inline void
esp_stats_add(struct esp_sa *sa, uint64_t pkts, uint64_t bytes)
{
	if (unlikely(sa->shared)) {
		__atomic_fetch_add(&sa->stats.packets, pkts, __ATOMIC_RELAXED);
		__atomic_fetch_add(&sa->stats.bytes, bytes, __ATOMIC_RELAXED);
		return;
	}
	sa->stats.packets += pkts;
	sa->stats.bytes += bytes;
}

/* Asynchronous engines (esp_async.c): hand the engine the prepared
 * packets that wait, oldest first, as far as it takes them. */
void esp_async_push(struct esp_ctx *ctx);

/* The slot the next prepared packet goes to, or NULL when every slot is
 * pending (the packet is dropped: CryptoQueueFull). */
static inline struct esp_pending *
esp_slot_free(struct esp_async *a)
{
	return a->tail - a->head > a->mask ? NULL : &a->slot[a->tail & a->mask];
}

/* Slot @p p holds a prepared packet now: pending, in order. */
static inline void
esp_slot_fill(struct esp_async *a, struct esp_pending *p, struct rte_mbuf *m,
	      struct esp_sa *sa, uint8_t dir)
{
	p->m = m;
	p->sa = sa;
	p->dir = dir;
	a->tail++;
}

/* The second half of one pending packet, once the engine is done with
 * it: 0 (good) or the drop reason. */
int esp_out_finish(struct esp_pending *p);
int esp_in_finish(struct esp_ctx *ctx, struct esp_pending *p);

#endif /* ESPD_ESP_PRIV_H */
