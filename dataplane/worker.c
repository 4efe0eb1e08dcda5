/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's walk of a packet (STYLE.md "The walk of a packet"):
 *
 * outbound: rx -> strip L2 -> flow key, TTL -> spd_classify -> bucket
 *           (bypass / discard / protect) -> SA by policy -> esp_out ->
 *           route -> tx
 * inbound:  rx -> strip L2 -> esp_in_parse -> bucket (ESP / plain /
 *           keepalive / IKE) -> SAD -> esp_in -> selector and inbound SPD
 *           -> TTL -> route -> tx
 *
 * Each stage takes the whole burst. A dropped packet is freed where it is
 * dropped, with its counter.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_prefetch.h>

#include "dataplane/pkt.h"
#include "dataplane/worker.h"

static inline void
drop(struct gw_worker *w, struct rte_mbuf *m, enum espd_counter why)
{
	w->cnt.c[why]++;
	rte_pktmbuf_free(m);
}

/* Strip Ethernet; only IPv4 and IPv6 go on. */
static inline int
l2_strip(struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;

	if (unlikely(m->data_len < sizeof(*eh) + sizeof(struct rte_ipv4_hdr)))
		return -1;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
	    eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
		return -1;
	rte_pktmbuf_adj(m, sizeof(*eh));
	return 0;
}

/* A router's TTL/hop-limit decrement; -1 when it would reach 0. */
static inline int
ttl_dec(struct rte_mbuf *m)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);

	if ((ip[0] >> 4) == 4) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
		uint32_t sum;

		if (h->time_to_live <= 1)
			return -1;
		h->time_to_live--;
		/* RFC 1624 incremental update, as Linux ip_decrease_ttl. */
		sum = h->hdr_checksum + (uint32_t)rte_cpu_to_be_16(0x0100);
		h->hdr_checksum = (uint16_t)(sum + (sum >= 0xffff));
		return 0;
	}
	if (ip[7] <= 1)
		return -1;
	ip[7]--;
	return 0;
}

static void
tx_flush(struct gw_worker *w, uint16_t port)
{
	struct gw_txbuf *b = &w->tx[port];
	struct gw_shared *sh = w->shared;
	uint16_t sent, i;

	if (b->n == 0)
		return;
	if (sh->tx_shared[port])
		rte_spinlock_lock(&sh->tx_lock[port]);
	sent = rte_eth_tx_burst(port, w->txq[port], b->pkts, b->n);
	if (sh->tx_shared[port])
		rte_spinlock_unlock(&sh->tx_lock[port]);
	w->port[port].tx += sent;
	for (i = sent; i < b->n; i++) {
		w->port[port].drop++;
		drop(w, b->pkts[i], CNT_TxDropped);
	}
	b->n = 0;
}

void
gw_worker_drain(struct gw_worker *w)
{
	uint16_t p;

	for (p = 0; p < GW_PORTS_MAX; p++)
		tx_flush(w, p);
}

static inline void
tx_one(struct gw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct gw_txbuf *b = &w->tx[port];

	b->pkts[b->n++] = m;
	if (b->n == GW_TX_BUF)
		tx_flush(w, port);
}

/* Route, resolve the neighbour, add the Ethernet header, buffer for TX. */
static void
route_send(struct gw_worker *w, const struct gw_tables *t,
	   struct rte_mbuf *pkts[], uint16_t n)
{
	/* The MAC of the last gateway next hop: a burst mostly goes to one,
	 * and comparing the next-hop pointer is cheaper than hashing the
	 * neighbour key again (a compare of the key just written would stall
	 * on store forwarding). On-link next hops are looked up each time. */
	const struct gw_nexthop *last_nh = NULL;
	void *last_mac = NULL;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
		struct gw_neigh_key nk = { 0 };
		const struct gw_nexthop *nh;
		struct rte_ether_hdr *eh;
		uint32_t idx;
		void *mac;
		int rc;

		if ((ip[0] >> 4) == 4) {
			uint32_t dst;

			memcpy(&dst, ip + 16, 4);
			rc = t->lpm4 == NULL ? -1 :
				rte_lpm_lookup(t->lpm4, rte_be_to_cpu_32(dst), &idx);
			nk.family = 4;
			memcpy(nk.addr, ip + 16, 4);
		} else {
			rc = t->lpm6 == NULL ? -1 :
				rte_lpm6_lookup(t->lpm6, ip + 24, &idx);
			nk.family = 6;
			memcpy(nk.addr, ip + 24, 16);
		}
		if (unlikely(rc != 0 || idx >= t->n_nh)) {
			drop(w, m, CNT_NoRoute);
			continue;
		}
		nh = &t->nh[idx];
		nk.port = nh->port;
		if (nh->has_gw) {
			memset(nk.addr, 0, sizeof(nk.addr));
			memcpy(nk.addr, nh->gw.family == 4 ? (const void *)&nh->gw.v4 :
			       (const void *)nh->gw.v6, nh->gw.family == 4 ? 4 : 16);
			nk.family = nh->gw.family;
		}
		if (nh == last_nh) {
			mac = last_mac;
		} else if (unlikely(rte_hash_lookup_data(t->neigh, &nk, &mac) < 0)) {
			drop(w, m, CNT_NoNeighbour);
			continue;
		} else if (nh->has_gw) {
			last_nh = nh;
			last_mac = mac;
		}
		eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
		if (unlikely(eh == NULL)) {
			drop(w, m, CNT_XfrmOutError);
			continue;
		}
		memcpy(&eh->dst_addr, &mac, RTE_ETHER_ADDR_LEN);
		eh->src_addr = t->ports[nh->port].mac;
		eh->ether_type = rte_cpu_to_be_16((ip[0] >> 4) == 4 ?
				 RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
		tx_one(w, nh->port, m);
	}
}

static void
event_send(struct gw_worker *w, const struct gw_event *ev)
{
	if (unlikely(rte_ring_enqueue_elem(w->events, (void *)(uintptr_t)ev,
					   sizeof(*ev)) != 0))
		w->cnt.c[CNT_EventRingFull]++;
}

/* No SA for this packet yet: hand it to the control plane, which holds it
 * and raises one ACQUIRE per flow (DESIGN.md "Packet paths" 5). */
static void
hold(struct gw_worker *w, struct rte_mbuf *m, uint32_t policy,
     const struct flow_key *k)
{
	struct gw_event ev = {
		.type = GW_EV_MISS,
		.worker = (uint8_t)w->qsbr_id,
		.policy = policy,
		.m = m,
		.pkt = *k,
	};

	if (unlikely(rte_ring_enqueue_elem(w->events, &ev, sizeof(ev)) != 0))
		drop(w, m, CNT_AcquireHeldDropped);
}

/* Tell the control plane an SA crossed a limit. The event names the SA
 * by (dst, SPI, id), never by pointer: the SA may be gone by the time the
 * event is read. */
static void
expire_event(struct gw_worker *w, const struct gw_sa *sa, bool hard)
{
	struct gw_event ev = {
		.type = GW_EV_EXPIRE,
		.hard = hard,
		.spi = rte_be_to_cpu_32(sa->esp.spi_be),
		.policy = sa->id,
	};

	ev.pkt.family = sa->dst.family;
	memcpy(ev.pkt.dst, sa->dst.family == 4 ? (const void *)&sa->dst.v4 :
	       (const void *)sa->dst.v6, sa->dst.family == 4 ? 4 : 16);
	event_send(w, &ev);
}

/* Byte and packet limits (RFC 4301 4.4.2.1), once per SA per burst. */
static void
check_limits(struct gw_worker *w, struct gw_sa *sa)
{
	const struct esp_sa_stats *st = &sa->esp.stats;

	if (!sa->hard_sent &&
	    ((sa->hard_pkts && st->packets >= sa->hard_pkts) ||
	     (sa->hard_bytes && st->bytes >= sa->hard_bytes))) {
		sa->expired = 1;
		sa->hard_sent = 1;
		expire_event(w, sa, true);
	} else if (!sa->soft_sent &&
		   ((sa->soft_pkts && st->packets >= sa->soft_pkts) ||
		    (sa->soft_bytes && st->bytes >= sa->soft_bytes))) {
		sa->soft_sent = 1;
		expire_event(w, sa, false);
	}
}

/* Once per run of one SA in a burst of good packets: note the use time
 * (current.use_time) and check the byte and packet limits. */
static void
sa_runs_done(struct gw_worker *w, struct esp_sa *sas[], uint16_t n)
{
	uint64_t now = n > 0 ? rte_rdtsc() : 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct gw_sa *sa;

		if (i + 1 != n && sas[i + 1] == sas[i])
			continue;
		sa = gw_sa_of(sas[i]);
		sa->use_tsc = now;
		if (unlikely(sa->has_limits))
			check_limits(w, sa);
	}
}

#define RELEASE_WAIT_US 1000

static struct gw_sa *
wait_for_sa(struct gw_worker *w, const struct gw_flow_key *fk)
{
	uint64_t until = rte_rdtsc() + w->tsc_hz / 1000000 * RELEASE_WAIT_US;
	void *data;

	do {
		if (rte_hash_lookup_data(w->shared->flows, fk, &data) >= 0)
			return data;
		rte_pause();
	} while (rte_rdtsc() < until);
	return NULL;
}

/*
 * The SA part of the outbound path: flow table lookup (policy index plus
 * the PFP fields), ESP, route. A packet whose flow has no usable SA is
 * held for ACQUIRE. pols[i] gives the policy index and PFP mask.
 */
static void
out_protect(struct gw_worker *w, const struct gw_tables *t,
	    struct rte_mbuf *pkts[], const struct flow_key *keys,
	    const uint32_t policy[], const uint8_t pfp[], uint16_t n,
	    bool drain_release)
{
	struct gw_flow_key fk[GW_RX_BURST];
	const void *fkp[GW_RX_BURST];
	void *data[GW_RX_BURST];
	struct rte_mbuf *prot[GW_RX_BURST];
	struct esp_sa *sas[GW_RX_BURST];
	uint16_t why[GW_RX_BURST];
	uint64_t hits = 0;
	uint16_t i, np = 0, good;

	for (i = 0; i < n; i++) {
		gw_flow_key_make(&fk[i], policy[i], pfp[i], &keys[i]);
		fkp[i] = &fk[i];
	}
	if (n > 0)
		rte_hash_lookup_bulk_data(w->shared->flows, fkp, n, &hits, data);
	/* With many per-flow SAs each is cold: start fetching every SA of
	 * the burst (its checked fields and its ESP record) at once, rather
	 * than one miss after the other in the loop below. */
	for (i = 0; i < n; i++) {
		if (hits & (1ull << i)) {
			rte_prefetch0(data[i]);
			rte_prefetch0(&((struct gw_sa *)data[i])->esp);
		}
	}
	/* Packets the control plane released were queued before the SA was
	 * published: send them before any packet that may have seen it. */
	if (drain_release && rte_ring_count(w->release) != 0)
		gw_release(w, t);

	for (i = 0; i < n; i++) {
		struct gw_sa *sa = (hits & (1ull << i)) ? data[i] : NULL;

		/* A released packet was queued just before its SA was
		 * published: give the control plane a moment to finish. */
		if (sa == NULL && !drain_release)
			sa = wait_for_sa(w, &fk[i]);
		if (sa != NULL && unlikely(sa->dead || sa->expired || sa->esp.exhausted ||
					   (sa->has_sel && !spd_sel_match(&sa->sel, &keys[i]))))
			sa = NULL;
		if (sa == NULL) {
			hold(w, pkts[i], policy[i], &keys[i]);
			continue;
		}
		prot[np] = pkts[i];
		sas[np++] = &sa->esp;
	}
	if (np == 0)
		return;

	good = esp_out_process(&w->esp, prot, sas, np, why);
	for (i = good; i < np; i++) {
		struct gw_sa *sa = gw_sa_of(sas[i]);

		/* RFC 4303 3.3.3: an SA out of sequence numbers is done; tell
		 * the control plane once, like a hard expiry. */
		if (why[i] == CNT_XfrmOutStateSeqError && !sa->hard_sent) {
			sa->hard_sent = 1;
			expire_event(w, sa, true);
		}
		drop(w, prot[i], why[i]);
	}
	sa_runs_done(w, sas, good);
	route_send(w, t, prot, good);
}

void
gw_release(struct gw_worker *w, const struct gw_tables *t)
{
	struct gw_release_elem r[GW_RX_BURST];
	struct rte_mbuf *pkts[GW_RX_BURST];
	struct flow_key keys[GW_RX_BURST];
	uint32_t policy[GW_RX_BURST];
	uint8_t pfp[GW_RX_BURST];
	unsigned int n, i, k;

	while ((n = rte_ring_dequeue_burst_elem(w->release, r, sizeof(r[0]),
						GW_RX_BURST, NULL)) > 0) {
		for (i = 0, k = 0; i < n; i++) {
			struct rte_mbuf *m = r[i].m;

			if (pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
					 &keys[k]) < 0) {
				drop(w, m, CNT_MalformedPacket);
				continue;
			}
			pkts[k] = m;
			policy[k] = r[i].policy;
			pfp[k] = (uint8_t)r[i].pfp;
			k++;
		}
		out_protect(w, t, pkts, keys, policy, pfp, (uint16_t)k, false);
	}
}

void
gw_outbound(struct gw_worker *w, const struct gw_tables *t,
	    struct rte_mbuf *pkts[], uint16_t n)
{
	struct flow_key keys[GW_RX_BURST], pkeys[GW_RX_BURST];
	const struct flow_key *kp[GW_RX_BURST];
	uint32_t res[GW_RX_BURST], policy[GW_RX_BURST];
	uint8_t pfp[GW_RX_BURST];
	struct rte_mbuf *fwd[GW_RX_BURST], *prot[GW_RX_BURST];
	uint16_t i, k = 0, nf = 0, np = 0;

	/* Parse: flow keys for the SPD. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (unlikely(l2_strip(m) < 0)) {
			drop(w, m, CNT_NotIp);
			continue;
		}
		if (unlikely(pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
					  m->data_len, &keys[k]) < 0)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		pkts[k] = m;
		kp[k] = &keys[k];
		k++;
	}

	spd_classify(t->spd_out, kp, res, k);

	/* Bucket by action; forwarded traffic loses one TTL first, so an
	 * expiring packet never takes a sequence number. */
	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct gw_policy *p = res[i] ? &t->pols[res[i] - 1] : NULL;

		if (p != NULL && p->action == GW_DISCARD) {
			drop(w, m, CNT_XfrmOutPolBlock);
			continue;
		}
		if (unlikely(ttl_dec(m) < 0)) {
			drop(w, m, CNT_TtlExceeded);
			continue;
		}
		if (p == NULL || p->action == GW_BYPASS) {
			w->cnt.c[CNT_Bypass]++;
			fwd[nf++] = m;
			continue;
		}
		w->cnt.c[CNT_Protect]++;
		prot[np] = m;
		pkeys[np] = keys[i];
		policy[np] = p->index;
		pfp[np++] = p->pfp;
	}

	out_protect(w, t, prot, pkeys, policy, pfp, np, true);
	route_send(w, t, fwd, nf);
}

/*
 * An unknown SPI: raise an invalid-spi event, at most one per (src, SPI)
 * per second from this worker (the control plane applies the same limit
 * across workers), so a flood cannot fill the ring.
 */
static void
invalid_spi(struct gw_worker *w, struct rte_mbuf *m, uint32_t spi)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	struct gw_event ev = { .type = GW_EV_INVALID_SPI, .spi = spi };

	ev.encap = m->l4_len != 0;
	ev.pkt.family = (ip[0] >> 4) == 6 ? 6 : 4;
	if (ev.pkt.family == 4) {
		memcpy(ev.pkt.src, ip + 12, 4);
		memcpy(ev.pkt.dst, ip + 16, 4);
	} else {
		memcpy(ev.pkt.src, ip + 8, 16);
		memcpy(ev.pkt.dst, ip + 24, 16);
	}
	if (spi_limit_allow(&w->spi_seen, spi, ev.pkt.family, ev.pkt.src, rte_rdtsc(),
			    w->tsc_hz))
		event_send(w, &ev);
}

/* Does @p sa satisfy the template of inbound policy @p p? */
static inline bool
tmpl_ok(const struct gw_policy *p, const struct gw_sa *sa)
{
	const struct gw_tmpl *tp = &p->tmpl;

	if (tp->reqid != 0 && tp->reqid != sa->reqid)
		return false;
	if (tp->mode != sa->esp.mode)
		return false;
	if (tp->mode == ESP_MODE_TRANSPORT)
		return true; /* endpoints are the packet's own */
	return memcmp(&tp->src, &sa->src, sizeof(tp->src)) == 0 &&
	       memcmp(&tp->dst, &sa->dst, sizeof(tp->dst)) == 0;
}

void
gw_inbound(struct gw_worker *w, const struct gw_tables *t,
	   struct rte_mbuf *pkts[], uint16_t n)
{
	struct rte_mbuf *esp[GW_RX_BURST], *plain[GW_RX_BURST];
	uint32_t spi[GW_RX_BURST];
	const void *spi_p[GW_RX_BURST];
	void *data[GW_RX_BURST];
	struct esp_sa *sas[GW_RX_BURST];
	struct flow_key keys[GW_RX_BURST];
	const struct flow_key *kp[GW_RX_BURST];
	uint32_t res[GW_RX_BURST];
	uint16_t why[GW_RX_BURST];
	uint64_t hits = 0;
	uint16_t i, ne = 0, npl = 0, k, good, nf;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (unlikely(l2_strip(m) < 0)) {
			drop(w, m, CNT_NotIp);
			continue;
		}
		switch (esp_in_parse(m, w->shared->natt_ports, &spi[ne])) {
		case ESP_IN_ESP:
			spi_p[ne] = &spi[ne];
			esp[ne++] = m;
			break;
		case ESP_IN_OTHER:
			plain[npl++] = m;
			break;
		case ESP_IN_KEEPALIVE:
			drop(w, m, CNT_NatKeepalive);
			break;
		case ESP_IN_IKE:
			/* The control plane owns IKE; a full queue drops. */
			w->cnt.c[CNT_IkePunted]++;
			if (w->punt == NULL || rte_ring_enqueue(w->punt, m) != 0)
				drop(w, m, CNT_IkePuntDropped);
			break;
		default:
			drop(w, m, CNT_XfrmInHdrError);
			break;
		}
	}

	/* SAD: by SPI. */
	k = 0;
	if (ne > 0)
		rte_hash_lookup_bulk_data(w->shared->sad_in, spi_p, ne, &hits, data);
	for (i = 0; i < ne; i++) {
		struct gw_sa *sa = (hits & (1ull << i)) ? data[i] : NULL;

		if (unlikely(sa == NULL || sa->dead)) {
			invalid_spi(w, esp[i], spi[i]);
			drop(w, esp[i], CNT_XfrmInNoStates);
			continue;
		}
		if (unlikely(sa->expired)) {
			drop(w, esp[i], CNT_XfrmInStateExpired);
			continue;
		}
		esp[k] = esp[i];
		sas[k++] = &sa->esp;
	}
	ne = k;

	good = ne ? esp_in_process(&w->esp, esp, sas, ne, why) : 0;
	/* A dummy packet (InDummy) is dropped silently: only counted. */
	for (i = good; i < ne; i++)
		drop(w, esp[i], why[i]);

	/* Selector check of what came out, then the inbound SPD for both
	 * the decrypted and the plain packets. */
	sa_runs_done(w, sas, good);
	k = 0;
	for (i = 0; i < good; i++) {
		struct rte_mbuf *m = esp[i];
		struct gw_sa *sa = gw_sa_of(sas[i]);

		if (unlikely(pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
					  m->data_len, &keys[k]) < 0)) {
			drop(w, m, CNT_XfrmInStateModeError);
			continue;
		}
		if (sa->has_sel && !spd_sel_match(&sa->sel, &keys[k])) {
			drop(w, m, CNT_XfrmInStateMismatch);
			continue;
		}
		esp[k] = m;
		sas[k] = sas[i];
		kp[k] = &keys[k];
		k++;
	}
	good = k;
	for (i = 0; i < npl; i++) {
		struct rte_mbuf *m = plain[i];

		if (unlikely(pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
					  m->data_len, &keys[k]) < 0)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		esp[k] = m;
		sas[k] = NULL;
		kp[k] = &keys[k];
		k++;
	}

	spd_classify(t->spd_in, kp, res, k);
	nf = 0;
	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = esp[i];
		const struct gw_policy *p = res[i] ? &t->pols[res[i] - 1] : NULL;

		if (p != NULL && p->action == GW_DISCARD) {
			drop(w, m, CNT_XfrmInPolBlock);
			continue;
		}
		if (p != NULL && p->action == GW_PROTECT &&
		    (sas[i] == NULL || !tmpl_ok(p, gw_sa_of(sas[i])))) {
			/* Plain traffic, or the wrong SA, for a protected flow
			 * (RFC 4301 5.2). A "level use" template is optional. */
			if (!(sas[i] == NULL && p->tmpl.level_use)) {
				drop(w, m, CNT_XfrmInTmplMismatch);
				continue;
			}
		}
		if (unlikely(ttl_dec(m) < 0)) {
			drop(w, m, CNT_TtlExceeded);
			continue;
		}
		if (sas[i] == NULL)
			w->cnt.c[CNT_Bypass]++;
		esp[nf++] = m;
	}
	route_send(w, t, esp, nf);
}

void
gw_worker_poll(struct gw_worker *w)
{
	struct gw_shared *sh = w->shared;
	struct rte_mbuf *pkts[GW_RX_BURST];
	const struct gw_tables *t;
	uint64_t now;
	uint16_t q, n;

	if (unlikely(rte_ring_count(w->release) != 0)) {
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		gw_release(w, t);
	}
	for (q = 0; q < w->n_rxq; q++) {
		uint16_t port = w->rxq[q].port;

		n = rte_eth_rx_burst(port, w->rxq[q].queue, pkts, GW_RX_BURST);
		if (n == 0)
			continue;
		w->port[port].rx += n;
		/* One load of the tables per burst (RCU reader). */
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		if (t->ports[port].role == GW_ROLE_PROTECTED)
			gw_outbound(w, t, pkts, n);
		else
			gw_inbound(w, t, pkts, n);
	}
	now = rte_rdtsc();
	if (now - w->drain_tsc > rte_get_tsc_hz() / 1000000 * GW_DRAIN_US) {
		gw_worker_drain(w);
		w->drain_tsc = now;
	}
}

int
gw_worker_main(void *arg)
{
	struct gw_worker *w = arg;
	struct gw_shared *sh = w->shared;

	rte_rcu_qsbr_thread_register(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_online(sh->qsbr, w->qsbr_id);
	while (!sh->stop) {
		gw_worker_poll(w);
		rte_rcu_qsbr_quiescent(sh->qsbr, w->qsbr_id);
	}
	gw_worker_drain(w);
	rte_rcu_qsbr_thread_offline(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_unregister(sh->qsbr, w->qsbr_id);
	return 0;
}
