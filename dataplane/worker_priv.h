/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the worker's stages (worker.c, out.c, in.c, route.c): the
 * small steps every stage ends packets with (drop and count, punt to the
 * exception path, events), and the stages' entry points into each other.
 */
#ifndef ESPD_WORKER_PRIV_H
#define ESPD_WORKER_PRIV_H

#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dataplane/icmp.h"
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

/* Was @p m sent to a link-layer group address (broadcast, multicast)?
 * RFC 1812 5.3.4: a router forwards none of those unless its IP
 * destination is multicast (which is_local() takes for the kernel). */
static inline bool
l2_group(const struct rte_mbuf *m)
{
	return (rte_pktmbuf_mtod(m, const uint8_t *)[0] & 1) != 0;
}

/*
 * Is the IP packet at @p ip (its header complete) for the gateway itself?
 * Any of its addresses on any port (the weak host model, as Linux), the
 * IPv4 limited broadcast and any multicast (224.0.0.0/4; IPv6: ND, MLD
 * and the rest): a router without multicast routing forwards none of
 * those, and the kernel behind the TAP takes what it has joined.
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
		    (d & rte_cpu_to_be_32(0xf0000000)) == rte_cpu_to_be_32(0xe0000000))
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
 * RFC 1812 5.2.2: a router drops an IPv4 packet whose header checksum
 * fails. Did the NIC find @p m's bad (RTE_MBUF_F_RX_IP_CKSUM_BAD; ports
 * ask for the check where the device has it)? Where it does not check,
 * espd does not either, as l3fwd and ipsec-secgw: summing the header
 * in software cost 4-5 % of a 64-byte packet (README "Forwarding").
 */
static inline bool
ip4_cksum_bad(const struct rte_mbuf *m)
{
	return unlikely((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
			RTE_MBUF_F_RX_IP_CKSUM_BAD);
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
	w->ctl_note = 1;
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

/* The flow key of each of @p n L3 packets; a malformed one is dropped
 * (MalformedPacket). @return how many are left in pkts and keys. */
static inline uint16_t
gw_flow_keys(struct gw_worker *w, struct rte_mbuf *pkts[], uint16_t n, struct flow_key keys[])
{
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
	return k;
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

/* @return whether the event is on its way; one the full ring refused is
 * counted (EventRingFull), and whoever raised it may raise it again. */
static inline bool
event_send(struct gw_worker *w, const struct gw_event *ev)
{
	w->ctl_note = 1;
	if (unlikely(rte_ring_enqueue_elem(w->events, (void *)(uintptr_t)ev,
					   sizeof(*ev)) != 0)) {
		w->cnt.c[CNT_EventRingFull]++;
		return false;
	}
	return true;
}

/* Tell the control plane an SA crossed a limit. The event names the SA
 * by (dst, SPI, id), never by pointer: the SA may be gone by the time the
 * event is read. */
static inline bool
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
	return event_send(w, &ev);
}

/*
 * @p sa's EXPIRE (@p hard, its flag @p sent: soft_sent or hard_sent),
 * once, though lcores sharing the SA may all get here. One the event ring
 * refused is raised again: a soft one by the SA's next burst, a hard one
 * by the next packet that meets the spent SA (inbound: its drop;
 * outbound: lcore 0's answer to the flow's miss), so the key manager
 * always hears of it.
 */
static __rte_always_inline void
expire_once(struct gw_worker *w, struct gw_sa *sa, uint8_t *sent, bool hard)
{
	if (!__atomic_exchange_n(sent, 1, __ATOMIC_RELAXED) && !expire_event(w, sa, hard))
		__atomic_store_n(sent, 0, __ATOMIC_RELAXED);
}

/* The hard EXPIRE (hard limit, or out of sequence numbers). */
static inline void
expire_hard(struct gw_worker *w, struct gw_sa *sa)
{
	expire_once(w, sa, &sa->hard_sent, true);
}

/* Byte and packet limits (RFC 4301 4.4.2.1), once per SA per burst. */
static inline void
check_limits(struct gw_worker *w, struct gw_sa *sa)
{
	const struct esp_sa_stats *st = &sa->esp.stats;

	if (!sa->hard_sent &&
	    ((sa->hard_pkts && st->packets >= sa->hard_pkts) ||
	     (sa->hard_bytes && st->bytes >= sa->hard_bytes))) {
		sa->expired = 1;
		expire_hard(w, sa);
	} else if (!sa->soft_sent &&
		   ((sa->soft_pkts && st->packets >= sa->soft_pkts) ||
		    (sa->soft_bytes && st->bytes >= sa->soft_bytes))) {
		expire_once(w, sa, &sa->soft_sent, false);
	}
}

/* Once per run of one SA in a burst of good packets: note the use time
 * (current.use_time) and check the byte and packet limits. */
static inline void
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
		w->tx_now |= sa->esp.shared;
		if (unlikely(sa->has_limits))
			check_limits(w, sa);
	}
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
 * Start fetching SA @p sa's record: what a packet reads of it and of its
 * ESP record, and its crypto session's public line (constant offsets, so
 * nothing of the SA is read yet). With many per-flow SAs each one is
 * cold; fetching all of a burst's at once overlaps the misses instead of taking them one
 * after the other in the ESP and crypto code. gw_sa_prefetch_keys() then
 * fetches the key data, once that line is in.
 */
static inline void
gw_sa_prefetch(const struct gw_sa *sa)
{
	/* The first line (path MTU, last use), then the per-packet line and
	 * two lines of the ESP record (esp.h); the second line's limits only
	 * an SA with limits reads, the control plane's fields none, and the
	 * NAT-T peer fields after the ESP lines only UDP-encapsulated ones. */
	const uint8_t *p = &sa->dead;
	const uint8_t *end = (const uint8_t *)&sa->esp + 2 * RTE_CACHE_LINE_SIZE;

	rte_prefetch0(sa);
	for (; p < end; p += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p);
	rte_prefetch0(&sa->esp.sess);
}

/*
 * Start fetching the key data of @p sa's crypto session that every packet
 * reads (crypto_session.hot_head and hot_tail: for AES-GCM on VAES the
 * round keys and the last GHASH powers, 5 lines of its 16). Fetching all
 * 1 KiB for every SA of a burst queued 20 lines an SA behind the miss
 * buffers: the prefetches themselves stalled (70 % of out_protect with
 * 1M SAs). Reads the session's public line: call it after
 * gw_sa_prefetch(), as late as the packets allow.
 */
static inline void
gw_sa_prefetch_keys(const struct gw_sa *sa)
{
	const struct crypto_session *s = &sa->esp.sess;
	const uint8_t *p = s->priv, *end = s->priv + s->hot_head;

	for (; p < end; p += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p);
	end = s->priv + s->priv_len;
	for (p = RTE_PTR_ALIGN_FLOOR(end - s->hot_tail, RTE_CACHE_LINE_SIZE); p < end;
	     p += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p);
}

/* ---- between the stages ------------------------------------------------ */

/*
 * May this lcore send through, or decrypt for, @p sa? Only its owner may
 * (struct gw_sa.owner), so that sequence numbers, replay windows and
 * counters are plain stores: the first worker to find an SA takes it,
 * once, with a compare-and-swap. lcore 0 never takes one; it hands its
 * own packets to a worker. `set out-sa shared`: every worker sends
 * through an outbound SA itself.
 */
static inline bool
gw_sa_own(struct gw_worker *w, struct gw_sa *sa)
{
	uint16_t me = (uint16_t)(w->qsbr_id + 1);
	uint16_t cur = __atomic_load_n(&sa->owner, __ATOMIC_RELAXED);
	bool worker;

	if (likely(cur == me))
		return true;
	worker = w->qsbr_id < w->shared->n_workers || w->shared->n_workers == 0;
	if (sa->esp.shared)
		return worker;
	if (cur != 0 || !worker)
		return false;
	return __atomic_compare_exchange_n(&sa->owner, &cur, me, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* out.c: hand @p m to the owner of @p sa (or, for lcore 0 and an SA
 * nobody owns yet, to a worker picked by the SA's id, which will take
 * it), as VPP hands a packet to the thread of its SA when RSS put it
 * elsewhere: outbound, an IP packet of @p policy with its PFP fields
 * @p pfp; inbound (@p in), ESP as received, an L3 packet. Packets from
 * one lcore stay in order. They wait in the worker until
 * gw_handoff_flush(): one enqueue a burst, not one a packet (each
 * enqueue moves the ring's lines between the two cores). */
void gw_handoff(struct gw_worker *w, const struct gw_sa *sa, struct rte_mbuf *m,
		uint32_t policy, uint8_t pfp, bool in);
/* out.c: the packets gw_handoff() buffered, one enqueue per owner, each
 * owner's in the order they came. What a full ring refuses is dropped
 * and counted. */
void gw_handoff_flush(struct gw_worker *w);

/* in.c: inbound ESP other lcores handed to this one, the owner of their
 * SAs (L3 packets, their port in m->port). */
void gw_in_handed(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
		  uint16_t n);

/* out.c: the held packets of @p e leave through @p sa, in order, before
 * any later packet of the flow (hold.h), and e is removed; through its
 * successor if lcore 0 replaces it meanwhile. @return false when it went
 * unusable with no successor: the rest stay held, announced again. */
bool gw_out_release(struct gw_worker *w, const struct gw_tables *t,
		    struct gw_hold_entry *e, struct gw_sa *sa);

/* out.c: tell lcore 0 about held key @p e (its first packet gave the
 * ACQUIRE's fields). Notices go in bursts: queued here, sent by
 * gw_out_notices_flush(), which each stage calls before it returns; one
 * the ring refuses leaves e->announced 0 for the next scan. */
void gw_out_announce(struct gw_worker *w, struct gw_hold_entry *e);
void gw_out_notices_flush(struct gw_worker *w);

/* in.c: @p n packets (at most GW_RX_BURST) an asynchronous engine
 * decrypted, through SA sas[i]: new NAT-T mappings (w->esp.map), the
 * selector check, the inbound SPD, out. */
void gw_in_decrypted(struct gw_worker *w, const struct gw_tables *t,
		     struct rte_mbuf *pkts[], struct esp_sa *sas[], uint16_t n);

/*
 * out.c: @p n packets (at most GW_RX_BURST) from an unprotected port, out
 * of an SA or plain, that route out of an unprotected port (hub and
 * spoke): the outbound SPD decides, as Linux's forward path asks its out
 * policies. PROTECT sends them through their SA, block drops them
 * (XfrmOutPolBlock), the rest leave plain. Their TTL was taken already.
 */
void gw_out_relay(struct gw_worker *w, const struct gw_tables *t,
		  struct rte_mbuf *pkts[], uint16_t n);

/* route.c: @p m (its m->port and packet_type set), to be routed by its
 * destination (plain, or out of an SA: @p from_sa), came with its TTL
 * (hop limit) spent. As in Linux, whose route lookup comes before the
 * TTL check, a packet no route covers is one with no route (NoRoute;
 * Network Unreachable with `set icmp-unreachable on`, never for one out
 * of an SA); the rest get Time Exceeded from @p port (TtlExceeded). */
void gw_ttl_expired(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *m,
		    uint16_t port, bool from_sa);

/* out.c: the SA that key @p fk leads to now, if usable; NULL otherwise. */
struct gw_sa *gw_out_flow_sa(struct gw_worker *w, const struct gw_flow_key *fk);

/* The caches in front of the shared hashes (struct gw_sa_cache): emptied
 * when the control plane changed either hash since they were filled. */
static inline void
gw_sa_cache_check(struct gw_worker *w)
{
	uint32_t gen = __atomic_load_n(&w->shared->flows_gen, __ATOMIC_ACQUIRE);

	if (unlikely(gen != w->out_cache.gen)) {
		memset(w->out_cache.tag, 0, sizeof(w->out_cache.tag));
		memset(w->in_cache.tag, 0, sizeof(w->in_cache.tag));
		w->out_cache.gen = gen;
		w->in_cache.gen = gen;
	}
}

static inline struct gw_sa *
gw_sa_cache_get(const struct gw_sa_cache *c, uint32_t key)
{
	uint32_t i = (key ^ (key >> 8) ^ (key >> 16)) & (GW_SA_CACHE - 1);

	/* key + 1 of UINT32_MAX would read as an empty slot's tag */
	return c->tag[i] == key + 1 && key != UINT32_MAX ? c->sa[i] : NULL;
}

static inline void
gw_sa_cache_put(struct gw_sa_cache *c, uint32_t key, struct gw_sa *sa)
{
	uint32_t i = (key ^ (key >> 8) ^ (key >> 16)) & (GW_SA_CACHE - 1);

	if (key == UINT32_MAX)
		return;
	c->tag[i] = key + 1;
	c->sa[i] = sa;
}

/* idle.c: RX queue interrupts for `set worker-idle adaptive`. Add this
 * worker's queues (and its wake-up eventfd) to its thread's epoll set:
 * false where a queue has none. */
bool gw_rx_intr_add(struct gw_worker *w);
/* Enable (@p on) or disable them. */
void gw_rx_arm(struct gw_worker *w, bool on);
/* Sleep until a packet or a handoff comes, GW_IDLE_WAIT_MS at most. */
void gw_rx_wait(struct gw_worker *w);
/* At the worker's exit: take them back out. */
void gw_rx_intr_fini(struct gw_worker *w);

#endif /* ESPD_WORKER_PRIV_H */
