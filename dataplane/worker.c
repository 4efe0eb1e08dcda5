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

#include "dataplane/frag.h"
#include "dataplane/icmp.h"
#include "dataplane/mss.h"
#include "dataplane/pkt.h"
#include "dataplane/worker.h"

static inline void
drop(struct gw_worker *w, struct rte_mbuf *m, enum espd_counter why)
{
	w->cnt.c[why]++;
	rte_pktmbuf_free(m);
}

/* What a received frame carries, read from its Ethernet header. */
enum l2_kind {
	L2_IP4,
	L2_IP6,
	L2_ARP,
	L2_OTHER,
};

static inline enum l2_kind
l2_kind(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	if (unlikely(m->data_len < sizeof(*eh) + sizeof(struct rte_ipv4_hdr)))
		return m->data_len >= sizeof(*eh) &&
		       eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) ?
		       L2_ARP : L2_OTHER;
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return L2_IP4;
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
		return L2_IP6;
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return L2_ARP;
	return L2_OTHER;
}

/*
 * Is the IP packet at @p ip (its header complete) for the gateway itself?
 * Any of its addresses on any port (the weak host model, as Linux), the
 * IPv4 limited broadcast and link-local multicast (224.0.0.0/24), and any
 * IPv6 multicast (ND, MLD): a router forwards none of those.
 */
static inline bool
is_local(const struct gw_tables *t, const uint8_t *ip, uint32_t len, bool v6)
{
	uint16_t i;

	/* A header cut short is not ours: the paths count it malformed. */
	if (unlikely(len < (v6 ? sizeof(struct rte_ipv6_hdr) : sizeof(struct rte_ipv4_hdr))))
		return false;
	if (!v6) {
		uint32_t d;

		memcpy(&d, ip + 16, 4);
		if (d == UINT32_MAX ||
		    (d & rte_cpu_to_be_32(0xffffff00)) == rte_cpu_to_be_32(0xe0000000))
			return true;
		for (i = 0; i < t->n_local4; i++)
			if (d == t->local4[i])
				return true;
		return false;
	}
	/* Multicast (ND, MLD), and link-local, which no router forwards
	 * (RFC 4291 2.5.6). */
	if (ip[24] == 0xff || (ip[24] == 0xfe && (ip[25] & 0xc0) == 0x80))
		return true;
	for (i = 0; i < t->n_local6; i++)
		if (memcmp(ip + 24, t->local6[i], 16) == 0)
			return true;
	return false;
}

/*
 * Make an outbound packet's mbuf as long as its IP header says: Ethernet
 * padding goes (it must not be encrypted as if it were data). A packet
 * shorter than its header says (cut short on the wire, or by a PMD whose
 * frames are smaller than the packet) is malformed: -1. (Inbound,
 * esp_in_parse() does the same.)
 */
static inline int
ip_trim(struct rte_mbuf *m)
{
	int tot = pkt_ip_len(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);

	if (unlikely(tot < 0 || (uint32_t)tot > m->pkt_len))
		return -1;
	if (unlikely((uint32_t)tot < m->pkt_len) &&
	    rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - (uint32_t)tot)) < 0)
		return -1;
	return 0;
}

/* Hand @p m to the exception path (lcore 0); a full ring drops it. */
static inline void
exc_send(struct gw_worker *w, struct rte_mbuf *m, const struct gw_exc *e)
{
	if (unlikely(rte_ring_enqueue_elem(w->exc, (void *)(uintptr_t)e, sizeof(*e)) != 0))
		drop(w, m, CNT_ExceptionRingFull);
}

/* A frame for the gateway itself, Ethernet header and all. */
static inline void
punt_local(struct gw_worker *w, struct rte_mbuf *m, uint16_t port)
{
	struct gw_exc e = { .m = m, .reason = GW_EXC_LOCAL, .port = port };

	exc_send(w, m, &e);
}

/* A packet that came out of an SA for the gateway itself (a ping of its
 * inside address through the tunnel): given an Ethernet header, as
 * punt_local's are, and marked from_sa. */
static inline void
punt_local_sa(struct gw_worker *w, struct rte_mbuf *m, uint16_t port, bool v6)
{
	struct gw_exc e = { .m = m, .reason = GW_EXC_LOCAL, .port = port, .from_sa = 1 };
	struct rte_ether_hdr *eh =
		(struct rte_ether_hdr *)rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);

	if (unlikely(eh == NULL)) {
		drop(w, m, CNT_MalformedPacket);
		return;
	}
	memset(eh, 0, sizeof(*eh));
	eh->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	exc_send(w, m, &e);
}

/* An ICMP error is due about @p m (L3): the exception path sends it,
 * rate-limited, and frees @p m. */
static inline void
punt_icmp(struct gw_worker *w, struct rte_mbuf *m, uint8_t kind, uint16_t port,
	  uint32_t mtu, bool from_sa)
{
	struct gw_exc e = { .m = m, .reason = GW_EXC_ICMP, .kind = kind, .port = port,
			    .mtu = mtu, .from_sa = from_sa };

	exc_send(w, m, &e);
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
	struct rte_mbuf *frags[GW_FRAG_MAX];
	uint16_t mtu = t->ports[port].mtu;
	int nf, k;

	if ((ip[0] >> 4) == 4 && !(ip[6] & 0x40)) {
		nf = frag_ipv4_out(m, mtu, w->pool, frags, GW_FRAG_MAX);
		if (nf > 0) {
			w->cnt.c[CNT_Fragmented]++;
			for (k = 0; k < nf; k++)
				l2_send(w, t, port, ne, frags[k]);
			return;
		}
	}
	w->cnt.c[CNT_FragNeeded]++;
	punt_icmp(w, m, ICMP_ERR_FRAG_NEEDED, m->port, mtu,
		  m->packet_type == GW_PT_FROM_SA);
}

/* Route, resolve the neighbour, add the Ethernet header, buffer for TX. A
 * next hop without a resolved neighbour goes to the exception path, which
 * resolves it (ARP, ND) and sends the packet on. */
void
gw_route_send(struct gw_worker *w, const struct gw_tables *t,
	      struct rte_mbuf *pkts[], uint16_t n)
{
	/* The neighbour of the last gateway next hop: a burst mostly goes
	 * to one, and comparing the next-hop pointer is cheaper than hashing
	 * the neighbour key again (a compare of the key just written would
	 * stall on store forwarding). On-link next hops are looked up each
	 * time. */
	const struct gw_nexthop *last_nh = NULL;
	const struct gw_neigh *last = NULL;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
		struct gw_neigh_key nk = { 0 };
		const struct gw_nexthop *nh;
		const struct gw_neigh *ne;

		if ((ip[0] >> 4) == 4) {
			nk.family = 4;
			memcpy(nk.addr, ip + 16, 4);
		} else {
			nk.family = 6;
			memcpy(nk.addr, ip + 24, 16);
		}
		nh = gw_route_lookup(t, nk.family, nk.addr);
		if (unlikely(nh == NULL)) {
			drop(w, m, CNT_NoRoute);
			continue;
		}
		nk.port = nh->port;
		if (nh->has_gw) {
			memset(nk.addr, 0, sizeof(nk.addr));
			memcpy(nk.addr, nh->gw.family == 4 ? (const void *)&nh->gw.v4 :
			       (const void *)nh->gw.v6, nh->gw.family == 4 ? 4 : 16);
			nk.family = nh->gw.family;
		}
		if (nh == last_nh) {
			ne = last;
		} else {
			ne = neigh_get(w, &nk);
			if (unlikely(ne == NULL)) {
				struct gw_exc e = { .m = m, .reason = GW_EXC_RESOLVE,
						    .port = nk.port, .nh_family = nk.family };

				memcpy(e.nh, nk.addr, sizeof(e.nh));
				exc_send(w, m, &e);
				continue;
			}
			if (nh->has_gw) {
				last_nh = nh;
				last = ne;
			}
		}
		if (unlikely(m->pkt_len > t->ports[nh->port].mtu)) {
			too_big(w, t, nh->port, ne, m);
			continue;
		}
		l2_send(w, t, nh->port, ne, m);
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

/* The MTU of the port that @p dst (family 4/6) leaves by, or 0. */
static uint16_t
route_mtu(const struct gw_tables *t, uint8_t family, const void *dst)
{
	const struct gw_nexthop *nh = gw_route_lookup(t, family, dst);

	return nh == NULL ? 0 : t->ports[nh->port].mtu;
}

/*
 * How big an inner packet SA @p sa can carry whole (DESIGN.md "MTU and
 * fragmentation": the egress MTU less the SA's worst-case overhead). A
 * tunnel SA keeps its path MTU, looked up again when the tables change
 * (a plain store: workers write the same value). Transport mode uses the
 * packet's own destination. 0: no route, the routing step will say so.
 */
static uint32_t
sa_room(const struct gw_tables *t, struct gw_sa *sa, const uint8_t *ip)
{
	uint32_t mtu, over = esp_sa_overhead(&sa->esp);

	if (sa->esp.mode == ESP_MODE_TUNNEL) {
		if (unlikely(sa->mtu_gen != t->gen)) {
			sa->path_mtu = route_mtu(t, sa->dst.family, sa->dst.family == 4 ?
						 (const void *)&sa->dst.v4 : sa->dst.v6);
			sa->mtu_gen = t->gen;
		}
		mtu = sa->path_mtu;
	} else {
		mtu = (ip[0] >> 4) == 4 ? route_mtu(t, 4, ip + 16) : route_mtu(t, 6, ip + 24);
	}
	return mtu > over ? mtu - over : 0;
}

/* The MSS a SYN through SA room @p room may carry (`set tcp-mss-clamp`). */
static inline uint16_t
mss_for(const struct gw_worker *w, uint32_t room, bool v6)
{
	uint32_t c = w->shared->mss_clamp;
	uint32_t hdrs = v6 ? 60 : 40;

	if (c != GW_MSS_AUTO)
		return (uint16_t)c;
	return room > hdrs + 536 ? (uint16_t)RTE_MIN(room - hdrs, 65535u) : 536;
}

/*
 * Will @p m fit SA @p sa once ESP is added? Yes: it goes on (in prot/sas
 * from slot @p np). An IPv4 packet without DF is cut into fragments that
 * each fit (RFC 4459 pre-fragmentation), each in its own ESP packet. Any
 * other (DF, IPv6) is dropped with Fragmentation Needed or Packet Too
 * Big, reporting the room the SA leaves. TCP SYNs are clamped first.
 * @return the new np.
 */
static uint16_t
fit(struct gw_worker *w, const struct gw_tables *t, struct gw_sa *sa,
    struct rte_mbuf *m, struct rte_mbuf *prot[], struct esp_sa *sas[], uint16_t np)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	bool v6 = (ip[0] >> 4) == 6;
	uint32_t room = sa_room(t, sa, ip);
	int nf, k;

	if (unlikely(w->shared->mss_clamp != 0) && room != 0 &&
	    tcp_mss_clamp(ip, m->data_len, mss_for(w, room, v6)) == 1)
		w->cnt.c[CNT_MssClamped]++;
	if (likely(room == 0 || m->pkt_len <= room)) {
		prot[np] = m;
		sas[np++] = &sa->esp;
		return np;
	}
	if (!v6 && !(ip[6] & 0x40)) {
		struct rte_mbuf *frags[GW_FRAG_MAX];

		nf = frag_ipv4_out(m, (uint16_t)RTE_MIN(room, 65535u), w->pool, frags,
				   GW_FRAG_MAX);
		if (nf > 0) {
			w->cnt.c[CNT_Fragmented]++;
			for (k = 0; k < nf; k++) {
				prot[np] = frags[k];
				sas[np++] = &sa->esp;
			}
			return np;
		}
		/* Too many fragments, or no mbufs: as if DF were set. */
	}
	w->cnt.c[CNT_FragNeeded]++;
	punt_icmp(w, m, ICMP_ERR_FRAG_NEEDED, m->port, room, false);
	return np;
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
	/* Room for every packet cut into GW_FRAG_MAX fragments. */
	struct rte_mbuf *prot[GW_RX_BURST * GW_FRAG_MAX];
	struct esp_sa *sas[GW_RX_BURST * GW_FRAG_MAX];
	uint16_t why[GW_RX_BURST * GW_FRAG_MAX];
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
		np = fit(w, t, sa, pkts[i], prot, sas, np);
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
	gw_route_send(w, t, prot, good);
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

/*
 * The outbound walk from the SPD on, for L3 packets with their flow keys:
 * forwarded traffic (@p port: where it came in) loses one TTL first, so
 * an expiring packet never takes a sequence number and gets its Time
 * Exceeded; the gateway's own (@p local) keeps its TTL.
 */
static void
out_classify(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     const struct flow_key keys[], uint16_t k, uint16_t port, bool local)
{
	const struct flow_key *kp[GW_RX_BURST];
	struct flow_key pkeys[GW_RX_BURST];
	uint32_t res[GW_RX_BURST], policy[GW_RX_BURST];
	uint8_t pfp[GW_RX_BURST];
	struct rte_mbuf *fwd[GW_RX_BURST], *prot[GW_RX_BURST];
	uint16_t i, nf = 0, np = 0;

	for (i = 0; i < k; i++)
		kp[i] = &keys[i];
	spd_classify(t->spd_out, kp, res, k);

	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct gw_policy *p = res[i] ? &t->pols[res[i] - 1] : NULL;

		if (p != NULL && p->action == GW_DISCARD) {
			drop(w, m, CNT_XfrmOutPolBlock);
			continue;
		}
		if (!local && unlikely(ttl_dec(m) < 0)) {
			w->cnt.c[CNT_TtlExceeded]++;
			punt_icmp(w, m, ICMP_ERR_TTL, port, 0, false);
			continue;
		}
		/* Bypass and Protect count forwarded traffic; the gateway's
		 * own has its own counters (EchoReplies, IcmpErrorsSent). */
		if (p == NULL || p->action == GW_BYPASS) {
			w->cnt.c[CNT_Bypass] += !local;
			fwd[nf++] = m;
			continue;
		}
		w->cnt.c[CNT_Protect] += !local;
		prot[np] = m;
		pkeys[np] = keys[i];
		policy[np] = p->index;
		pfp[np++] = p->pfp;
	}

	out_protect(w, t, prot, pkeys, policy, pfp, np, true);
	gw_route_send(w, t, fwd, nf);
}

void
gw_outbound(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
	    struct rte_mbuf *pkts[], uint16_t n)
{
	struct flow_key keys[GW_RX_BURST];
	uint16_t i, k = 0;

	/* Parse: what is for the gateway goes to the exception path; the
	 * rest loses its Ethernet header and gets its flow key. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum l2_kind l2 = l2_kind(m);

		if (unlikely(l2 == L2_OTHER)) {
			drop(w, m, CNT_NotIp);
			continue;
		}
		if (unlikely(l2 == L2_ARP ||
			     is_local(t, rte_pktmbuf_mtod_offset(m, uint8_t *,
								 RTE_ETHER_HDR_LEN),
				      m->data_len - RTE_ETHER_HDR_LEN, l2 == L2_IP6))) {
			punt_local(w, m, port);
			continue;
		}
		rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
		m->packet_type = 0;
		m->port = port; /* where an ICMP error about it comes from */
		if (unlikely(ip_trim(m) < 0 ||
			     pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
					  m->data_len, &keys[k]) < 0)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		pkts[k++] = m;
	}
	out_classify(w, t, pkts, keys, k, port, false);
}

void
gw_local_out(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     uint16_t n)
{
	struct flow_key keys[GW_RX_BURST];
	uint16_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (unlikely(pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
					  &keys[k]) < 0)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		pkts[k++] = m;
	}
	out_classify(w, t, pkts, keys, k, 0, true);
}

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
		event_send(w, &ev);
	}
	w->esp.n_map = 0;
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
gw_inbound(struct gw_worker *w, const struct gw_tables *t, uint16_t port,
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
		enum l2_kind l2 = l2_kind(m);
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
		rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
		m->packet_type = 0;
		m->port = port;
		/* DESIGN.md: ESP (or ESP-in-UDP) that comes in fragments, as
		 * Linux peers send it, is put together before anything else;
		 * plain fragments for others are only forwarded. */
		if (unlikely(local) && frag_is_fragment(rte_pktmbuf_mtod(m, uint8_t *),
							m->data_len)) {
			uint16_t fwhy = 0;

			m = frag_in_add(w->frag, m, rte_rdtsc(), w->big_pool, &fwhy);
			if (m == NULL) {
				if (fwhy != 0)
					w->cnt.c[fwhy]++;
				continue;
			}
			w->cnt.c[CNT_ReassemblyOk]++;
		}
		switch (esp_in_parse(m, w->shared->natt_ports, &spi[ne])) {
		case ESP_IN_ESP:
			spi_p[ne] = &spi[ne];
			esp[ne++] = m;
			break;
		case ESP_IN_OTHER:
			if (unlikely(local)) {
				/* For the gateway: ping, TCP, ND... */
				rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);
				punt_local(w, m, port);
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
			rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);
			punt_local(w, m, port);
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
	if (unlikely(ne != 0 && w->esp.n_map != 0))
		mapping_events(w);
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
		if (unlikely(sas[i] != NULL &&
			     is_local(t, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
				      kp[i]->family == 6))) {
			punt_local_sa(w, m, port, kp[i]->family == 6);
			continue;
		}
		if (unlikely(ttl_dec(m) < 0)) {
			w->cnt.c[CNT_TtlExceeded]++;
			punt_icmp(w, m, ICMP_ERR_TTL, port, 0, sas[i] != NULL);
			continue;
		}
		if (sas[i] == NULL)
			w->cnt.c[CNT_Bypass]++;
		esp[nf++] = m;
	}
	gw_route_send(w, t, esp, nf);
}

unsigned int
gw_worker_poll(struct gw_worker *w)
{
	struct gw_shared *sh = w->shared;
	struct rte_mbuf *pkts[GW_RX_BURST];
	const struct gw_tables *t;
	unsigned int total = 0;
	uint64_t now;
	uint16_t q, n;

	if (unlikely(rte_ring_count(w->release) != 0)) {
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		gw_release(w, t);
		total++;
	}
	for (q = 0; q < w->n_rxq; q++) {
		uint16_t port = w->rxq[q].port;

		n = rte_eth_rx_burst(port, w->rxq[q].queue, pkts, GW_RX_BURST);
		if (n == 0)
			continue;
		total += n;
		w->port[port].rx += n;
		/* One load of the tables per burst (RCU reader). */
		t = __atomic_load_n(&sh->tables, __ATOMIC_ACQUIRE);
		if (t->ports[port].role == GW_ROLE_PROTECTED)
			gw_outbound(w, t, port, pkts, n);
		else
			gw_inbound(w, t, port, pkts, n);
	}
	now = rte_rdtsc();
	if (now - w->drain_tsc > w->tsc_hz / 1000000 * GW_DRAIN_US) {
		gw_worker_drain(w);
		if (w->frag != NULL)
			w->cnt.c[CNT_ReassemblyFailed] += frag_in_maintain(w->frag, now);
		w->drain_tsc = now;
	}
	return total;
}

/*
 * `set worker-idle adaptive`, as VPP's adaptive mode: after a run of
 * empty polls the worker sleeps, a little longer each time up to
 * GW_IDLE_SLEEP_MAX_US, and goes back to polling flat out at the first
 * packet. Sleeping costs the latency of one sleep to the first packet of
 * a burst, and nothing while traffic flows.
 */
static void
idle(struct gw_worker *w, unsigned int work)
{
	uint32_t us;

	if (work != 0 || !w->shared->idle_adaptive) {
		w->idle_polls = 0;
		return;
	}
	if (++w->idle_polls < GW_IDLE_POLLS)
		return;
	us = GW_IDLE_SLEEP_MIN_US << RTE_MIN((w->idle_polls - GW_IDLE_POLLS) / 16, 6u);
	rte_delay_us_sleep(RTE_MIN(us, (uint32_t)GW_IDLE_SLEEP_MAX_US));
}

int
gw_worker_main(void *arg)
{
	struct gw_worker *w = arg;
	struct gw_shared *sh = w->shared;

	rte_rcu_qsbr_thread_register(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_online(sh->qsbr, w->qsbr_id);
	while (!sh->stop) {
		unsigned int work = gw_worker_poll(w);

		rte_rcu_qsbr_quiescent(sh->qsbr, w->qsbr_id);
		idle(w, work);
	}
	gw_worker_drain(w);
	rte_rcu_qsbr_thread_offline(sh->qsbr, w->qsbr_id);
	rte_rcu_qsbr_thread_unregister(sh->qsbr, w->qsbr_id);
	return 0;
}
