/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The inbound stage (STYLE.md "The walk of a packet"):
 *
 *   rx -> strip L2 -> (reassembly of ESP for us) -> esp_in_parse ->
 *   ESP / plain / keepalive / IKE -> SAD (SPI cache, then the hash) ->
 *   esp_in -> selector -> inbound SPD -> TTL -> route (route.c)
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_prefetch.h>

#include "dataplane/frag.h"
#include "dataplane/mss.h"
#include "dataplane/worker_priv.h"

/* `set tcp-mss-clamp` for a SYN that came out of SA @p sa: what fits
 * the path it came by (the port's MTU less the SA's overhead). */
static void
clamp_in(struct gw_worker *w, const struct gw_tables *t, const struct gw_sa *sa,
	 struct rte_mbuf *m)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t mtu = m->port < GW_PORTS_MAX ? t->ports[m->port].mtu : 0;
	uint32_t over = esp_sa_overhead(&sa->esp);
	uint32_t room = mtu > over ? mtu - over : 0;

	if (room != 0 && tcp_mss_clamp(ip, m->data_len, mss_for(w, room, (ip[0] >> 4) == 6)) == 1)
		w->cnt.c[CNT_MssClamped]++;
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
	uint32_t gen;

	ev.encap = m->l4_len != 0;
	ev.pkt.family = (ip[0] >> 4) == 6 ? 6 : 4;
	if (ev.pkt.family == 4) {
		memcpy(ev.pkt.src, ip + 12, 4);
		memcpy(ev.pkt.dst, ip + 16, 4);
	} else {
		memcpy(ev.pkt.src, ip + 8, 16);
		memcpy(ev.pkt.dst, ip + 24, 16);
	}
	gen = __atomic_load_n(&w->shared->spi_limit_gen, __ATOMIC_ACQUIRE);
	if (unlikely(gen != w->spi_gen)) {
		memset(&w->spi_seen, 0, sizeof(w->spi_seen));
		w->spi_gen = gen;
	}
	if (spi_limit_allow(&w->spi_seen, spi, ev.pkt.family, ev.pkt.src, rte_rdtsc(),
			    w->tsc_hz))
		event_send(w, &ev);
}

/* Authentic NAT-T packets from a new source of their SA's peer (esp_in.c
 * notes each change once): tell the control plane, which tells the key
 * manager. The SA is named as expire_event() names it. */
static void
mapping_events(struct gw_worker *w)
{
	uint16_t i;

	for (i = 0; i < w->esp.n_map; i++) {
		const struct esp_mapping *mp = &w->esp.map[i];
		const struct gw_sa *sa = gw_sa_of(mp->sa);
		struct gw_event ev = {
			.type = GW_EV_MAPPING,
			.spi = rte_be_to_cpu_32(sa->esp.spi_be),
			.policy = sa->id,
		};

		ev.pkt.family = sa->dst.family;
		memcpy(ev.pkt.dst, sa->dst.family == 4 ? (const void *)&sa->dst.v4 :
		       (const void *)sa->dst.v6, sa->dst.family == 4 ? 4 : 16);
		memcpy(ev.pkt.src, mp->addr, sizeof(ev.pkt.src));
		ev.pkt.sport = rte_cpu_to_be_16(mp->sport);
		if (!event_send(w, &ev)) {
			/* Not noted after all: the SA's next packet from
			 * there tries again. */
			mp->sa->map_sport_be = mp->prev_sport_be;
			memcpy(mp->sa->map_addr, mp->prev_addr, sizeof(mp->prev_addr));
		}
	}
	w->esp.n_map = 0;
}

/* Is @p m's IP destination @p sa's? */
static bool
sa_dst_is(const struct gw_sa *sa, const struct rte_mbuf *m)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);

	if ((ip[0] >> 4) == 4)
		return sa->dst.family == 4 && memcmp(ip + 16, &sa->dst.v4, 4) == 0;
	return sa->dst.family == 6 && memcmp(ip + 24, sa->dst.v6, 16) == 0;
}

/* Does @p sa satisfy the template of inbound policy @p p? As the
 * outbound side asks (model_sa_satisfies()): reqid, SPI and, where the
 * template names them (a tunnel's always do), the SA's endpoints. */
static inline bool
tmpl_ok(const struct gw_policy *p, const struct gw_sa *sa)
{
	const struct gw_tmpl *tp = &p->tmpl;

	if (tp->reqid != 0 && tp->reqid != sa->reqid)
		return false;
	if (tp->spi_be != 0 && tp->spi_be != sa->esp.spi_be)
		return false;
	if (tp->mode != sa->esp.mode)
		return false;
	if (!tp->has_addrs)
		return true;
	return memcmp(&tp->src, &sa->src, sizeof(tp->src)) == 0 &&
	       memcmp(&tp->dst, &sa->dst, sizeof(tp->dst)) == 0;
}

/*
 * After ESP: the selector check of the @p good decrypted packets (esp,
 * sas), then the inbound SPD for them and the @p npl plain ones, then
 * out. Each packet's m->port says where it came in.
 */
static void
in_post(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *esp[],
	struct esp_sa *sas[], uint16_t good, struct rte_mbuf *plain[], uint16_t npl)
{
	struct flow_key keys[GW_RX_BURST];
	const struct flow_key *kp[GW_RX_BURST];
	uint32_t res[GW_RX_BURST];
	const struct gw_policy *last_p = NULL;
	const struct esp_sa *last_sa = NULL;
	bool last_ok = false;
	uint16_t i, k, nf;

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
		if (unlikely(flow_key_src_martian(&keys[k]))) {
			drop(w, m, CNT_MartianSource);
			continue;
		}
		if (sa->has_sel && !spd_sel_match(&sa->sel, &keys[k])) {
			drop(w, m, CNT_XfrmInStateMismatch);
			continue;
		}
		m->packet_type = GW_PT_FROM_SA;
		if (unlikely(w->shared->mss_clamp != 0) && keys[k].proto == IPPROTO_TCP)
			clamp_in(w, t, sa, m);
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
		if (unlikely(flow_key_src_martian(&keys[k]))) {
			drop(w, m, CNT_MartianSource);
			continue;
		}
		m->packet_type = GW_PT_PLAIN_IN;
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
		if (p != NULL && p->action == GW_PROTECT) {
			/* Packets of one SA under one policy: the template is
			 * checked once for the run. */
			if (sas[i] != NULL && (p != last_p || sas[i] != last_sa)) {
				last_p = p;
				last_sa = sas[i];
				last_ok = tmpl_ok(p, gw_sa_of(sas[i]));
			}
			/* Plain traffic, or the wrong SA, for a protected flow
			 * (RFC 4301 5.2). A "level use" template is optional. */
			if ((sas[i] == NULL && !p->tmpl.level_use) ||
			    (sas[i] != NULL && !last_ok)) {
				drop(w, m, CNT_XfrmInTmplMismatch);
				continue;
			}
		}
		if (unlikely(sas[i] != NULL &&
			     is_local(t, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
				      kp[i]->family == 6))) {
			punt_local_sa(w, m, m->port, kp[i]->family == 6);
			continue;
		}
		if (unlikely(ttl_dec(m) < 0)) {
			gw_ttl_expired(w, t, m, m->port, sas[i] != NULL);
			continue;
		}
		if (sas[i] == NULL)
			w->cnt.c[CNT_Bypass]++;
		esp[nf++] = m;
	}
	gw_route_send(w, t, esp, nf);
}

/* A packet for the gateway (L3, its frame's Ethernet header in front of
 * it) to the exception path, as the frame. */
static inline void
punt_frame(struct gw_worker *w, struct rte_mbuf *m, uint16_t port)
{
	if (unlikely(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN) == NULL)) {
		drop(w, m, CNT_MalformedPacket);
		return;
	}
	punt_local(w, m, port);
}

/* What no inbound policy holds back from the gateway: IKE on UDP 500 (on
 * 4500 it never comes here), whose sockets Linux exempts from policy as
 * charon asks, and Neighbour Discovery (ICMPv6 133-136), a link's own. */
static inline bool
spd_exempt(const struct flow_key *k)
{
	uint16_t type = rte_be_to_cpu_16(k->sport);

	if (k->proto == IPPROTO_UDP)
		return k->dport == RTE_BE16(500);
	return k->family == 6 && k->proto == IPPROTO_ICMPV6 && !k->frag &&
	       type >= 133 && type <= 136;
}

/*
 * Plain packets for the gateway itself from an unprotected port (frames,
 * their Ethernet header in front): the inbound SPD has them first, as
 * Linux checks its in policies on local delivery, and DESIGN.md drops
 * plain traffic that an inbound PROTECT policy covers. So a spoofed
 * "tunnel" source never reaches the kernel's sockets in clear; but not
 * IKE nor Neighbour Discovery (spd_exempt()).
 */
static void
in_local_plain(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
	       struct rte_mbuf *pkts[], uint16_t n)
{
	struct flow_key keys[GW_RX_BURST];
	const struct flow_key *kp[GW_RX_BURST];
	uint32_t res[GW_RX_BURST];
	uint16_t i, k = 0;

	n = gw_flow_keys(w, pkts, n, keys);
	for (i = 0; i < n; i++) {
		if (spd_exempt(&keys[i])) {
			punt_frame(w, pkts[i], port);
			continue;
		}
		pkts[k] = pkts[i];
		kp[k++] = &keys[i];
	}
	if (k == 0)
		return;
	spd_classify(t->spd_in, kp, res, k);
	for (i = 0; i < k; i++) {
		const struct gw_policy *p = res[i] ? &t->pols[res[i] - 1] : NULL;

		if (p != NULL && p->action == GW_DISCARD)
			drop(w, pkts[i], CNT_XfrmInPolBlock);
		else if (p != NULL && p->action == GW_PROTECT && !p->tmpl.level_use)
			drop(w, pkts[i], CNT_XfrmInTmplMismatch);
		else
			punt_frame(w, pkts[i], port);
	}
}

void
gw_inbound(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
	   struct rte_mbuf *pkts[], uint16_t n)
{
	struct rte_mbuf *esp[GW_RX_BURST], *plain[GW_RX_BURST], *mine[GW_RX_BURST];
	uint32_t spi[GW_RX_BURST];
	const void *spi_p[GW_RX_BURST];
	void *data[GW_RX_BURST];
	struct esp_sa *sas[GW_RX_BURST];
	uint16_t why[GW_RX_BURST];
	struct gw_sa *found[GW_RX_BURST];
	uint8_t lk[GW_RX_BURST];
	uint64_t hits = 0, cold = 0, transit = 0; /* transit: esp[i] not to us */
	uint16_t i, j, ne = 0, npl = 0, nmine = 0, nl, k, good;

	_Static_assert(GW_RX_BURST <= 64, "a bit an ESP packet");
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum l2_kind l2 = l2_kind(m);
		enum esp_in_kind kind;
		bool local;

		if (unlikely(l2 == L2_OTHER)) {
			drop(w, m, CNT_NotIp);
			continue;
		}
		if (unlikely(l2 == L2_ARP)) {
			punt_local(w, m, port);
			continue;
		}
		local = is_local(t, rte_pktmbuf_mtod_offset(m, uint8_t *, RTE_ETHER_HDR_LEN),
				 m->data_len - RTE_ETHER_HDR_LEN, l2 == L2_IP6);
		if (unlikely(!local && l2_group(m))) {
			drop(w, m, CNT_LinkBroadcast);
			continue;
		}
		rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
		m->packet_type = 0;
		m->port = port;
		if (l2 == L2_IP4 && ip4_cksum_bad(m)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		/* DESIGN.md: ESP (or ESP-in-UDP) that comes in fragments, as
		 * Linux peers send it, is put together before anything else;
		 * plain fragments for others are only forwarded. */
		if (unlikely(local) && frag_is_fragment(rte_pktmbuf_mtod(m, uint8_t *),
							m->data_len)) {
			struct rte_ether_hdr eh;
			uint16_t fwhy = 0;

			memcpy(&eh, rte_pktmbuf_mtod_offset(m, void *, -RTE_ETHER_HDR_LEN),
			       sizeof(eh));
			m = frag_in_add(w->frag, m, rte_rdtsc(), w->big_pool, &fwhy);
			if (m == NULL) {
				if (fwhy != 0)
					w->cnt.c[fwhy]++;
				continue;
			}
			w->cnt.c[CNT_ReassemblyOk]++;
			/* The whole may be a new mbuf, or its IPv6 header moved
			 * on: it takes the frame's Ethernet header along, for
			 * what goes to the exception path (below). */
			m->port = port;
			if (likely(rte_pktmbuf_headroom(m) >= RTE_ETHER_HDR_LEN))
				memcpy(rte_pktmbuf_mtod_offset(m, void *, -RTE_ETHER_HDR_LEN),
				       &eh, sizeof(eh));
		}
		kind = esp_in_parse(m, w->shared->natt_ports, &spi[ne]);
		/* IKE and keepalives for a host behind the gateway are its
		 * (its own VPN): forwarded as plain. */
		if (unlikely(!local) && (kind == ESP_IN_IKE || kind == ESP_IN_KEEPALIVE))
			kind = ESP_IN_OTHER;
		switch (kind) {
		case ESP_IN_ESP:
			/* ESP to another host (its own IPsec, passing through)
			 * that has no SA here is forwarded, below; where the
			 * gateway has no address of the family, any ESP is
			 * its own. */
			transit |= (uint64_t)(!local && (l2 == L2_IP6 ? t->n_local6 : t->n_local4)) << ne;
			esp[ne++] = m;
			break;
		case ESP_IN_OTHER:
			if (unlikely(local)) {
				/* For the gateway: ping, TCP, ND... once the
				 * inbound SPD lets them (below). */
				mine[nmine++] = m;
				break;
			}
			plain[npl++] = m;
			break;
		case ESP_IN_KEEPALIVE:
			drop(w, m, CNT_NatKeepalive);
			break;
		case ESP_IN_IKE:
			/* The key manager's, through the exception path. */
			w->cnt.c[CNT_IkePunted]++;
			punt_frame(w, m, port);
			break;
		case ESP_IN_MALFORMED:
			drop(w, m, CNT_MalformedPacket);
			break;
		default:
			/* A short ESP or ESP-in-UDP header is ours to count
			 * only if it was for us; another host's is forwarded. */
			if (!local && (l2 == L2_IP6 ? t->n_local6 : t->n_local4)) {
				plain[npl++] = m;
				break;
			}
			drop(w, m, CNT_XfrmInHdrError);
			break;
		}
	}

	if (unlikely(nmine != 0))
		in_local_plain(w, t, port, mine, nmine);

	/* SAD: by SPI, through this worker's cache first. */
	gw_sa_cache_check(w);
	nl = 0;
	for (i = 0; i < ne; i++) {
		found[i] = gw_sa_cache_get(&w->in_cache, spi[i]);
		if (found[i] == NULL) {
			spi_p[nl] = &spi[i];
			lk[nl++] = (uint8_t)i;
		}
	}
	if (nl > 0) {
		rte_hash_lookup_bulk_data(w->shared->sad_in, spi_p, nl, &hits, data);
		for (j = 0; j < nl; j++) {
			if (!(hits & (1ull << j)))
				continue;
			found[lk[j]] = data[j];
			/* Many SAs: fetch each one's record at once (the
			 * keys once it is in, below). */
			gw_sa_prefetch(found[lk[j]]);
			cold |= 1ull << lk[j];
			gw_sa_cache_put(&w->in_cache, spi[lk[j]], data[j]);
		}
	}
	k = 0;
	for (i = 0; i < ne; i++) {
		struct gw_sa *sa = found[i];

		if (unlikely(sa != NULL && __atomic_load_n(&sa->dead, __ATOMIC_RELAXED))) {
			/* Replaced since this burst began (rekey, migrate):
			 * the SAD has its successor already (make before
			 * break); only a deleted SPI is invalid. A record
			 * replaced after this look stays whole until the burst
			 * ends (RCU). */
			void *d;

			sa = rte_hash_lookup_data(w->shared->sad_in, &spi[i], &d) >= 0 ? d : NULL;
		}
		if (unlikely(sa == NULL)) {
			if (transit & (1ull << i)) {
				plain[npl++] = esp[i];
				continue;
			}
			invalid_spi(w, esp[i], spi[i]);
			drop(w, esp[i], CNT_XfrmInNoStates);
			continue;
		}
		/* Another host's ESP whose SPI happens to be one of ours
		 * (SPIs are chosen per destination): its, passing through. */
		if (unlikely(transit & (1ull << i)) && !sa_dst_is(sa, esp[i])) {
			plain[npl++] = esp[i];
			continue;
		}
		if (unlikely(sa->expired)) {
			if (!sa->hard_sent)
				expire_hard(w, sa); /* the ring refused it before */
			drop(w, esp[i], CNT_XfrmInStateExpired);
			continue;
		}
		/* One worker decrypts for an SA, so its replay window and
		 * counters have one writer. RSS may still put a packet of it
		 * elsewhere: a NAT-T fragment (hashed on its addresses alone,
		 * where whole datagrams hash on their ports too), or a peer
		 * behind a NAT that rebinds its port. That goes to the owner. */
		if (unlikely(!gw_sa_own(w, sa))) {
			gw_handoff(w, sa, esp[i], 0, 0, true);
			continue;
		}
		if (cold & (1ull << i))
			gw_sa_prefetch_keys(sa); /* its record is in by now */
		esp[k] = esp[i];
		sas[k++] = &sa->esp;
	}
	ne = k;
	if (unlikely(w->n_handoff != 0))
		gw_handoff_flush(w);

	if (w->esp.async != NULL) {
		/* Handed to the engine: they come back through
		 * gw_in_decrypted() when it is done (worker.c). */
		good = ne ? esp_in_submit(&w->esp, esp, sas, ne, why) : 0;
		for (i = good; i < ne; i++)
			drop(w, esp[i], why[i]);
		in_post(w, t, esp, sas, 0, plain, npl);
		return;
	}
	good = ne ? esp_in_process(&w->esp, esp, sas, ne, why) : 0;
	if (unlikely(ne != 0 && w->esp.n_map != 0))
		mapping_events(w);
	/* A dummy packet (InDummy) is dropped silently: only counted. */
	for (i = good; i < ne; i++)
		drop(w, esp[i], why[i]);
	in_post(w, t, esp, sas, good, plain, npl);
}

void
gw_in_decrypted(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
		struct esp_sa *sas[], uint16_t n)
{
	if (unlikely(w->esp.n_map != 0))
		mapping_events(w);
	in_post(w, t, pkts, sas, n, NULL, 0);
}

void
gw_in_handed(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     uint16_t n)
{
	uint16_t i, from = 0;

	/* Back to frames as received (a reassembled datagram never had its
	 * Ethernet header in this mbuf: only the type matters), then the
	 * inbound path, a run of one port at a time. They are few: what RSS
	 * put on another queue than their SA's. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		bool v6 = rte_pktmbuf_mtod(m, const uint8_t *)[0] >> 4 == 6;
		struct rte_ether_hdr *eh =
			(struct rte_ether_hdr *)rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);

		if (unlikely(eh == NULL)) {
			drop(w, m, CNT_XfrmInHdrError);
			pkts[i] = NULL;
			continue;
		}
		eh->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	}
	while (from < n) {
		struct rte_mbuf *run[GW_RX_BURST];
		uint16_t k = 0, port = UINT16_MAX;

		for (i = from; i < n; i++) {
			if (pkts[i] == NULL)
				continue;
			if (port == UINT16_MAX)
				port = pkts[i]->port;
			else if (pkts[i]->port != port)
				break;
			run[k++] = pkts[i];
		}
		from = i;
		if (k != 0)
			gw_inbound(w, t, port, run, k);
	}
}
