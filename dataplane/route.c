/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The last stage of both paths: route (LPM), neighbour, Ethernet header,
 * MTU (fragment or ICMP), and the per-port TX buffers.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lpm.h>

#include "dataplane/frag.h"
#include "dataplane/worker_priv.h"

static void
tx_flush(struct gw_worker *w, uint16_t port)
{
	struct gw_txbuf *b = &w->tx[port];
	struct gw_shared *sh = w->shared;
	uint16_t sent, i;

	w->tx_pending &= (uint16_t)~(1u << port);
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

static void
drain_ports(struct gw_worker *w, uint32_t todo)
{
	while (todo != 0) {
		tx_flush(w, (uint16_t)rte_bsf32(todo));
		todo &= todo - 1;
	}
}

void
gw_worker_drain(struct gw_worker *w)
{
	drain_ports(w, w->tx_pending);
}

/*
 * The end of a poll round. What it buffered leaves now, unless a queue
 * gave a full RX burst (@p backlog: more is waiting, and the next round
 * comes within microseconds); then a buffer goes when it is full or has
 * waited one round. So at line rate the TX bursts stay 64 long, and
 * below it no packet waits for more traffic or for a drain timer (l3fwd
 * and ipsec-secgw hold theirs up to 100 us a hop). A round that sent
 * through a shared SA sends at once, so that SA's numbers from several
 * lcores cross on the wire by a burst at most.
 */
void
gw_worker_round_sent(struct gw_worker *w, bool backlog)
{
	if (w->tx_pending != 0)
		drain_ports(w, backlog && !w->tx_now ? w->tx_pending & w->tx_waited :
			    w->tx_pending);
	w->tx_waited = w->tx_pending;
	w->tx_now = 0;
}

static inline void
tx_one(struct gw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct gw_txbuf *b = &w->tx[port];

	if (b->n == 0)
		w->tx_pending |= (uint16_t)(1u << port);
	b->pkts[b->n++] = m;
	if (b->n == GW_TX_BUF)
		tx_flush(w, port);
}

void
gw_tx_frame(struct gw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	tx_one(w, port, m);
}

/* The neighbour for key @p nk, noting the use now and then. */
static inline const struct gw_neigh *
neigh_get(struct gw_worker *w, const struct gw_neigh_key *nk)
{
	void *data;
	struct gw_neigh *n;
	uint64_t now;

	if (unlikely(rte_hash_lookup_data(w->shared->neigh, nk, &data) < 0))
		return NULL;
	n = data;
	if (unlikely(n->dead))
		return NULL;
	now = rte_rdtsc();
	if (unlikely(now - n->used_tsc > w->tsc_hz / GW_NEIGH_USE_DIV))
		n->used_tsc = now;
	return n;
}

/* Add the Ethernet header for neighbour @p ne and buffer for TX. */
static inline void
l2_send(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
	const struct gw_neigh *ne, struct rte_mbuf *m)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	struct rte_ether_hdr *eh;
	uint16_t type = (ip[0] >> 4) == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6;

	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (unlikely(eh == NULL)) {
		drop(w, m, CNT_XfrmOutError);
		return;
	}
	eh->dst_addr = ne->mac;
	eh->src_addr = t->ports[port].mac;
	eh->ether_type = rte_cpu_to_be_16(type);
	tx_one(w, port, m);
}

/*
 * A packet larger than the MTU of the port it leaves by (a router's job,
 * RFC 1812 5.2.6): IPv4 without DF is fragmented, anything else dropped
 * with Fragmentation Needed / Packet Too Big. ESP this gateway made fits
 * already (fit()); this is for what it forwards plain, or decapsulated.
 */
static void
too_big(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
	const struct gw_neigh *ne, struct rte_mbuf *m)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	struct rte_mbuf *frags[GW_FRAG_FWD_MAX];
	uint16_t mtu = t->ports[port].mtu;
	int nf, k;

	if ((ip[0] >> 4) == 4 && !(ip[6] & 0x40)) {
		nf = frag_ipv4_out(m, mtu, w->pool, frags, GW_FRAG_FWD_MAX);
		if (nf > 0) {
			w->cnt.c[CNT_Fragmented]++;
			for (k = 0; k < nf; k++)
				l2_send(w, t, port, ne, frags[k]);
			return;
		}
		/* No mbufs, or more fragments than that: dropped, as Linux's
		 * ip_fragment() does (FragFails). Fragmentation Needed is for
		 * a sender that set DF (RFC 1191), not one that let us cut. */
		drop(w, m, CNT_FragFailed);
		return;
	}
	w->cnt.c[CNT_FragNeeded]++;
	punt_icmp(w, m, ICMP_ERR_FRAG_NEEDED, m->port, mtu,
		  m->packet_type == GW_PT_FROM_SA);
}

/* @p m has no route: dropped, and with `set icmp-unreachable on`
 * answered with Network Unreachable (RFC 1812 5.2.7.1) from the port it
 * came in by. Not one that came out of an SA: the error would go back
 * through the tunnel from an address inside its policy, and with no
 * route there is no such address (exc.c). */
static void
no_route(struct gw_worker *w, struct rte_mbuf *m)
{
	if (!w->shared->icmp_unreachable || m->packet_type == GW_PT_FROM_SA) {
		drop(w, m, CNT_NoRoute);
		return;
	}
	w->cnt.c[CNT_NoRoute]++;
	punt_icmp(w, m, ICMP_ERR_UNREACH_NET, m->port, 0, false);
}

void
gw_ttl_expired(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *m,
	       uint16_t port, bool from_sa)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	bool v6 = (ip[0] >> 4) == 6;

	if (unlikely(gw_route_lookup(t, v6 ? 6 : 4, ip + (v6 ? 24 : 16)) == NULL)) {
		no_route(w, m);
		return;
	}
	w->cnt.c[CNT_TtlExceeded]++;
	punt_icmp(w, m, ICMP_ERR_TTL, port, 0, from_sa);
}

/* Where a burst's packets go: the next hop of each destination. IPv4 is
 * looked up in bulk (rte_lpm_lookup_bulk, as l3fwd does), once per run of
 * one destination: ESP of one tunnel SA is all one destination. */
static void
route_lookup(const struct gw_tables *t, struct rte_mbuf *pkts[], uint16_t n,
	     const struct gw_nexthop *nh[])
{
	uint32_t dst4[GW_RX_BURST], hop[GW_RX_BURST];
	uint8_t run[GW_RX_BURST]; /* the bulk slot that answers packet i; UINT8_MAX: v6 */
	uint32_t last4 = 0;
	uint16_t i, n4 = 0;

	for (i = 0; i < n; i++) {
		const uint8_t *ip = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint32_t d;

		if ((ip[0] >> 4) != 4) {
			nh[i] = gw_route_lookup(t, 6, ip + 24);
			run[i] = UINT8_MAX;
			continue;
		}
		nh[i] = NULL;
		memcpy(&d, ip + 16, 4);
		if (n4 == 0 || d != last4) {
			last4 = d;
			dst4[n4++] = rte_be_to_cpu_32(d);
		}
		run[i] = (uint8_t)(n4 - 1);
	}
	if (n4 == 0 || t->lpm4 == NULL)
		return;
	rte_lpm_lookup_bulk(t->lpm4, dst4, hop, n4);
	for (i = 0; i < n; i++) {
		uint32_t h;

		if (run[i] == UINT8_MAX)
			continue; /* IPv6, looked up above */
		h = hop[run[i]];
		nh[i] = (h & RTE_LPM_LOOKUP_SUCCESS) && (h & 0x00ffffff) < t->n_nh ?
			&t->nh[h & 0x00ffffff] : NULL;
	}
}

/* Route, resolve the neighbour, add the Ethernet header, buffer for TX. A
 * next hop without a resolved neighbour goes to the exception path, which
 * resolves it (ARP, ND) and sends the packet on. */
void
gw_route_send(struct gw_worker *w, const struct gw_tables *t,
	      struct rte_mbuf *pkts[], uint16_t n)
{
	const struct gw_nexthop *nhs[GW_RX_BURST];
	struct rte_mbuf *relay[GW_RX_BURST];
	/* The neighbour of the last next hop and, for an on-link one, the
	 * destination it was for: a burst mostly goes to one. The check reads
	 * the next-hop pointer and the packet's own address, never a key just
	 * written (a wide load of narrow stores stalls on store forwarding). */
	const struct gw_nexthop *last_nh = NULL;
	const struct gw_neigh *last = NULL;
	uint32_t last4 = 0;
	uint8_t last6[16];
	uint16_t i, off;

	for (off = 0; off < n; off += GW_RX_BURST) {
		uint16_t c = (uint16_t)RTE_MIN(n - off, GW_RX_BURST), nr = 0;

		route_lookup(t, pkts + off, c, nhs);
		for (i = 0; i < c; i++) {
			struct rte_mbuf *m = pkts[off + i];
			const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
			const struct gw_nexthop *nh = nhs[i];
			bool v4 = (ip[0] >> 4) == 4;
			const struct gw_neigh *ne;
			uint32_t d4 = 0;
			bool same;

			if (unlikely(nh == NULL)) {
				no_route(w, m);
				continue;
			}
			/* From the unprotected side, out of an SA or plain,
			 * and back out of it (hub and spoke; a hub's internet
			 * traffic for a spoke): the outbound SPD has it first. */
			if (unlikely(nh->relay) &&
			    (m->packet_type & (GW_PT_FROM_SA | GW_PT_PLAIN_IN)) != 0) {
				relay[nr++] = m;
				continue;
			}
			if (v4)
				memcpy(&d4, ip + 16, 4);
			same = nh == last_nh &&
			       (nh->has_gw || (v4 ? d4 == last4 : memcmp(ip + 24, last6, 16) == 0));
			if (same) {
				ne = last;
			} else {
				struct gw_neigh_key nk;

				memset(&nk, 0, sizeof(nk));
				nk.port = nh->port;
				if (nh->has_gw) {
					nk.family = nh->gw.family;
					memcpy(nk.addr, nh->gw.family == 4 ? (const void *)&nh->gw.v4 :
					       (const void *)nh->gw.v6, nh->gw.family == 4 ? 4 : 16);
				} else if (v4) {
					nk.family = 4;
					memcpy(nk.addr, &d4, 4);
				} else {
					nk.family = 6;
					memcpy(nk.addr, ip + 24, 16);
				}
				ne = neigh_get(w, &nk);
				if (unlikely(ne == NULL)) {
					struct gw_exc e = { .m = m, .reason = GW_EXC_RESOLVE,
							    .port = nk.port,
							    .nh_family = nk.family };

					memcpy(e.nh, nk.addr, sizeof(e.nh));
					exc_send(w, m, &e);
					continue;
				}
				last_nh = nh;
				last = ne;
				if (!nh->has_gw) {
					if (v4)
						last4 = d4;
					else
						memcpy(last6, ip + 24, 16);
				}
			}
			if (unlikely(m->pkt_len > t->ports[nh->port].mtu)) {
				too_big(w, t, nh->port, ne, m);
				continue;
			}
			l2_send(w, t, nh->port, ne, m);
		}
		if (unlikely(nr != 0))
			gw_out_relay(w, t, relay, nr);
	}
}
