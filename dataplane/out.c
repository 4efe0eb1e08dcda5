/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The outbound stage (STYLE.md "The walk of a packet"):
 *
 *   rx -> strip L2 -> flow key -> TTL -> spd_classify -> bypass / discard
 *   / protect -> SA (policy cache, or the flow table) -> fit (MTU) ->
 *   esp_out -> route (route.c)
 *
 * A protected packet whose flow has no usable SA is held in this
 * worker's own larval table (hold.h) and its key announced once to lcore
 * 0, which raises the ACQUIRE. The held packets leave, in order, as soon
 * as this worker's lookup first finds the SA: on the flow's next packet,
 * on the control plane's release command, or on the periodic scan,
 * whichever comes first.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_prefetch.h>

#include "dataplane/frag.h"
#include "dataplane/mss.h"
#include "dataplane/worker_priv.h"

/* The MTU of the port that @p dst (family 4/6) leaves by, or 0. */
static inline uint16_t
route_mtu(const struct gw_tables *t, uint8_t family, const void *dst)
{
	const struct gw_nexthop *nh = gw_route_lookup(t, family, dst);

	return nh == NULL ? 0 : t->ports[nh->port].mtu;
}

/*
 * How big an inner packet SA @p sa can carry whole (DESIGN.md "MTU and
 * fragmentation": the egress MTU less the SA's worst-case overhead). A
 * tunnel SA keeps its path MTU, looked up again when the tables change
 * (gw_sa.path_mtu: the MTU and the tables' gen in one word). Transport
 * mode uses the packet's own destination. 0: no route, the routing step
 * will say so.
 */
static uint32_t
sa_room(const struct gw_tables *t, struct gw_sa *sa, const uint8_t *ip)
{
	uint32_t mtu, over = esp_sa_overhead(&sa->esp);

	if (sa->esp.mode == ESP_MODE_TUNNEL) {
		uint64_t pm = __atomic_load_n(&sa->path_mtu, __ATOMIC_RELAXED);

		if (unlikely(pm >> 32 != t->gen)) {
			/* One store of both: an lcore still on older tables,
			 * sharing the SA, may write its own pair over it, but
			 * never an MTU under this gen. */
			uint16_t pmtu = __atomic_load_n(&sa->pmtu, __ATOMIC_RELAXED);

			pm = route_mtu(t, sa->dst.family, sa->dst.family == 4 ?
				       (const void *)&sa->dst.v4 : sa->dst.v6);
			if (pmtu != 0 && pmtu < pm)
				pm = pmtu;
			pm |= (uint64_t)t->gen << 32;
			__atomic_store_n(&sa->path_mtu, pm, __ATOMIC_RELAXED);
		}
		mtu = (uint32_t)pm;
	} else {
		mtu = (ip[0] >> 4) == 4 ? route_mtu(t, 4, ip + 16) : route_mtu(t, 6, ip + 24);
	}
	return mtu > over ? mtu - over : 0;
}

#define IPV6_MIN_MTU 1280 /* RFC 8200 5 */

/* One packet for SA @p sa, in prot/sas at @p np. @return the new np. */
static inline uint16_t
fit_take(struct gw_sa *sa, struct rte_mbuf *m, struct rte_mbuf *prot[],
	 struct esp_sa *sas[], uint16_t np)
{
	prot[np] = m;
	sas[np++] = &sa->esp;
	return np;
}

/*
 * An IPv6 packet of up to 1280 bytes that tunnel SA @p sa over IPv6 must
 * carry although its room (@p room) is smaller (RFC 8200 5): encrypted
 * on its own, and its ESP packet sent in IPv6 fragments that fit the path
 * (RFC 8200 4.5; IPv6 routers do not fragment), as Linux's xfrm6 output
 * does. It goes ahead of the rest of its burst, which takes its sequence
 * numbers after it. Cold, so that none of this sits in the pages of the
 * burst's loops.
 */
static __rte_cold __rte_noinline void
out_small_v6(struct gw_worker *w, struct gw_sa *sa, struct rte_mbuf *m, uint32_t room)
{
	/* The tables this lcore reads now: the burst's, or newer. */
	const struct gw_tables *t = __atomic_load_n(&w->shared->tables, __ATOMIC_ACQUIRE);
	struct esp_sa *es = &sa->esp;
	struct rte_mbuf *frags[4];
	/* The path MTU fit() saw (the route's, or less where a Packet Too
	 * Big said so); not gw_sa.path_mtu read again, which lcore 0 may
	 * have zeroed meanwhile for the workers to work it out anew. */
	uint32_t mtu = room + esp_sa_overhead(es);
	uint16_t why = 0;
	int nf;

	/* Synchronous on any engine (crypto.h lets a synchronous burst go
	 * while asynchronous ops are in flight). But what an asynchronous
	 * engine holds goes first: packets of this SA among them have lower
	 * sequence numbers, and a peer's replay window (32 or 64) would
	 * take them for replays once this one passed them. */
	if (unlikely(esp_pending(&w->esp) != 0))
		(void)gw_esp_collect(w, t, true);
	if (esp_out_process(&w->esp, &m, &es, 1, &why) != 1) {
		if (why == CNT_XfrmOutStateSeqError && !sa->hard_sent)
			expire_hard(w, sa);
		drop(w, m, why);
		return;
	}
	sa_runs_done(w, &es, 1);
	if (m->pkt_len <= mtu) {
		gw_route_send(w, t, &m, 1);
		return;
	}
	nf = frag_ipv6_out(m, (uint16_t)RTE_MIN(mtu, 65535u), w->frag6_id++, w->pool, frags,
			   RTE_DIM(frags));
	if (nf < 0) {
		drop(w, m, CNT_FragFailed);
		return;
	}
	w->cnt.c[CNT_Fragmented]++;
	gw_route_send(w, t, frags, (uint16_t)nf);
}

/*
 * fit() for a packet that a tunnel SA's room does not take whole, and for
 * every packet of a transport SA: kept out of line, so that fit() stays
 * small enough to inline into out_protect() (as a call it cost 2-3 % at
 * 64 bytes).
 */
static __rte_noinline uint16_t
fit_slow(struct gw_worker *w, struct gw_sa *sa, struct rte_mbuf *m, uint32_t room,
	 struct rte_mbuf *prot[], struct esp_sa *sas[], uint16_t np)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	bool v6 = (ip[0] >> 4) == 6;
	int nf, k;

	if (sa->esp.mode != ESP_MODE_TUNNEL) {
		/* RFC 4301 7: a transport SA carries no fragments, and its
		 * packet's own header goes in front of ESP: an IPv4 packet
		 * without DF is encrypted whole, and the ESP packet is
		 * fragmented on its way out (route.c), as Linux does. */
		if (frag_is_fragment(ip, m->data_len)) {
			drop(w, m, CNT_XfrmOutStateModeError);
			return np;
		}
		if ((!v6 && !(ip[6] & 0x40)) || room == 0 || m->pkt_len <= room)
			return fit_take(sa, m, prot, sas, np);
	}
	if (!v6 && !(ip[6] & 0x40)) {
		struct rte_mbuf *frags[GW_FRAG_MAX];

		nf = frag_ipv4_out(m, (uint16_t)RTE_MIN(room, 65535u), w->pool, frags,
				   GW_FRAG_MAX);
		if (nf > 0) {
			w->cnt.c[CNT_Fragmented]++;
			for (k = 0; k < nf; k++)
				np = fit_take(sa, frags[k], prot, sas, np);
			return np;
		}
		/* Too many fragments, or no mbufs: dropped, as Linux's
		 * ip_fragment() does. Fragmentation Needed is for a sender
		 * that set DF (RFC 1191), not one that let us cut. */
		drop(w, m, CNT_FragFailed);
		return np;
	}
	if (v6 && room < IPV6_MIN_MTU && sa->esp.mode == ESP_MODE_TUNNEL) {
		/* RFC 8200 5: every IPv6 link carries 1280 bytes, below IPv6
		 * if need be. Up to that the tunnel does: whole, its ESP
		 * packet in fragments, an outer IPv4 one on its way out
		 * (route.c), an outer IPv6 one here after ESP (as Linux's
		 * xfrm6 output does); and a sender never hears of a smaller
		 * MTU, which it would not take (RFC 8201 4). */
		if (m->pkt_len <= IPV6_MIN_MTU) {
			if (sa->esp.outer_v6) {
				out_small_v6(w, sa, m, room);
				return np;
			}
			return fit_take(sa, m, prot, sas, np);
		}
		room = IPV6_MIN_MTU;
	}
	w->cnt.c[CNT_FragNeeded]++;
	punt_icmp(w, m, ICMP_ERR_FRAG_NEEDED, m->port, room, false);
	return np;
}

/*
 * Will @p m fit SA @p sa once ESP is added? Yes: it goes on (in prot/sas
 * from slot @p np). For a tunnel SA, an IPv4 packet without DF is cut into
 * fragments that each fit (RFC 4459 pre-fragmentation), each in its own
 * ESP packet; for a transport SA it goes whole, its ESP packet fragmented
 * after. Any other (DF, IPv6) is dropped with Fragmentation Needed or
 * Packet Too Big, reporting the room the SA leaves; but a tunnel takes
 * IPv6 packets of up to 1280 bytes whatever its room (their ESP packets
 * fragmented: over IPv4 on the way out, over IPv6 by out_small_v6()),
 * and reports no less. TCP SYNs are clamped first.
 * @return the new np.
 */
static inline uint16_t
fit(struct gw_worker *w, const struct gw_tables *t, struct gw_sa *sa,
    struct rte_mbuf *m, struct rte_mbuf *prot[], struct esp_sa *sas[], uint16_t np)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t room = sa_room(t, sa, ip);

	if (unlikely(w->shared->mss_clamp != 0) && room != 0 &&
	    tcp_mss_clamp(ip, m->data_len, mss_for(w, room, (ip[0] >> 4) == 6)) == 1)
		w->cnt.c[CNT_MssClamped]++;
	if (likely(sa->esp.mode == ESP_MODE_TUNNEL && (room == 0 || m->pkt_len <= room)))
		return fit_take(sa, m, prot, sas, np);
	return fit_slow(w, sa, m, room, prot, sas, np);
}

void
gw_handoff_flush(struct gw_worker *w)
{
	const struct gw_shared *sh = w->shared;
	struct gw_handoff run[GW_HANDOFF_BUF];
	uint64_t left = (1ull << w->n_handoff) - 1; /* not yet sent */
	unsigned int i, n, sent, to;

	_Static_assert(GW_HANDOFF_BUF < 64, "one bit a buffered packet");
	while (left != 0) {
		to = w->handoff_to[__builtin_ctzll(left)];
		for (i = 0, n = 0; i < w->n_handoff; i++) {
			if ((left >> i & 1) && w->handoff_to[i] == to) {
				run[n++] = w->handoff_buf[i];
				left &= ~(1ull << i);
			}
		}
		sent = 0;
		if (likely(to < RTE_DIM(sh->handoff) && sh->handoff[to] != NULL))
			sent = rte_ring_enqueue_burst_elem(sh->handoff[to], run, sizeof(run[0]), n,
							   NULL);
		w->cnt.c[CNT_SaHandoff] += sent;
		if (sent != 0)
			gw_wake(sh->wake[to]);
		for (i = sent; i < n; i++)
			drop(w, run[i].m, CNT_SaHandoffDropped);
	}
	w->n_handoff = 0;
}

void
gw_handoff(struct gw_worker *w, const struct gw_sa *sa, struct rte_mbuf *m, uint32_t policy,
	   uint8_t pfp, bool in)
{
	uint16_t owner = __atomic_load_n(&sa->owner, __ATOMIC_RELAXED);

	if (w->n_handoff == GW_HANDOFF_BUF)
		gw_handoff_flush(w);
	w->handoff_to[w->n_handoff] = owner != 0 ? owner - 1u :
					gw_sa_first_owner(sa, w->shared->n_workers);
	w->handoff_buf[w->n_handoff++] = (struct gw_handoff){ .m = m, .policy = policy,
							      .pfp = pfp, .in = in };
}

struct gw_sa *
gw_out_flow_sa(struct gw_worker *w, const struct gw_flow_key *fk)
{
	void *data;

	if (flowtab_lookup(w->shared->flows, fk, &data) < 0)
		return NULL;
	return gw_sa_usable(data) ? data : NULL;
}

void
gw_out_announce(struct gw_worker *w, struct gw_hold_entry *e)
{
	struct gw_event *ev;

	if (w->n_notice == GW_NOTICE_MAX)
		gw_out_notices_flush(w);
	w->notice_key[w->n_notice] = e->key;
	ev = &w->notice[w->n_notice++];
	memset(ev, 0, sizeof(*ev));
	ev->type = GW_EV_MISS;
	ev->worker = (uint8_t)w->qsbr_id;
	ev->policy = e->key.policy;
	ev->pfp = e->pfp;
	ev->pkt = e->pkt;
	/* Marked now; a notice the ring refuses is unmarked at the flush,
	 * and the next scan sends it again. */
	e->announced = 1;
}

void
gw_out_notices_flush(struct gw_worker *w)
{
	unsigned int sent, i;

	if (w->n_notice == 0)
		return;
	sent = rte_ring_enqueue_burst_elem(w->events, w->notice, sizeof(w->notice[0]),
					   w->n_notice, NULL);
	w->ctl_note = 1;
	for (i = sent; i < w->n_notice; i++) {
		struct gw_hold_entry *e = gw_hold_find(w->hold, &w->notice_key[i],
						       gw_hold_hash(&w->notice_key[i]));

		w->cnt.c[CNT_EventRingFull]++;
		if (e != NULL)
			e->announced = 0;
	}
	w->n_notice = 0;
}

/* No usable SA for this packet's flow yet: hold it here and announce a
 * new key (DESIGN.md "Packet paths" 5). */
static void
hold(struct gw_worker *w, struct rte_mbuf *m, const struct gw_flow_key *fk,
     uint8_t pfp, const struct flow_key *k)
{
	const struct gw_shared *sh = w->shared;
	struct gw_hold_entry *e;
	bool created;
	int rc;

	rc = gw_hold_add(w->hold, fk, gw_hold_hash(fk), pfp, m, k, sh->acquire_queue,
			 RTE_MIN(sh->acquire_queue_total, sh->hold_cap),
			 rte_rdtsc(), &e, &created);
	if (unlikely(e == NULL)) {
		drop(w, m, CNT_XfrmAcquireError); /* no room for another key */
		return;
	}
	if (created)
		gw_out_announce(w, e);
	if (rc < 0)
		drop(w, m, CNT_AcquireHeldDropped);
	else
		w->cnt.c[CNT_AcquireHeld]++;
}

/* ESP, then route, for @p np packets that fit their SAs (fit()). */
static void
out_esp_send(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *prot[],
	     struct esp_sa *sas[], uint16_t np)
{
	uint16_t why[GW_RX_BURST * GW_FRAG_MAX];
	uint16_t good, i;

	if (np == 0)
		return;
	/* An asynchronous engine has them now; they are routed when it is
	 * done (gw_esp_collect()). */
	good = w->esp.async != NULL ? esp_out_submit(&w->esp, prot, sas, np, why) :
				      esp_out_process(&w->esp, prot, sas, np, why);
	for (i = good; i < np; i++) {
		struct gw_sa *sa = gw_sa_of(sas[i]);

		/* RFC 4303 3.3.3: an SA out of sequence numbers is done; tell
		 * the control plane once, like a hard expiry. */
		if (why[i] == CNT_XfrmOutStateSeqError && !sa->hard_sent)
			expire_hard(w, sa);
		drop(w, prot[i], why[i]);
	}
	if (w->esp.async == NULL) {
		sa_runs_done(w, sas, good);
		gw_route_send(w, t, prot, good); /* any length: it routes by bursts */
	}
}

bool
gw_out_release(struct gw_worker *w, const struct gw_tables *t, struct gw_hold_entry *e,
	       struct gw_sa *sa)
{
	struct rte_mbuf *pkts[GW_RX_BURST];
	struct rte_mbuf *prot[GW_RX_BURST * GW_FRAG_MAX];
	struct esp_sa *sas[GW_RX_BURST * GW_FRAG_MAX];
	struct flow_key k;
	uint16_t n, i, np;

	/*
	 * A hold queue may be far longer than a burst, and lcore 0 may
	 * replace the record meanwhile (rekey, migrate, `set out-sa`): its
	 * successor's sequence numbers start a margin past this record's
	 * (publish.c record_replace), which covers one burst a worker, not
	 * a queue. So each chunk first checks the record is still usable,
	 * and the rest goes through its successor, or waits for one.
	 */
	while (sa != NULL) {
		if (unlikely(!gw_sa_own(w, sa))) {
			/* Another lcore sends through it: these go there,
			 * in order, ahead of this lcore's later packets of
			 * the flow. */
			while ((n = gw_hold_take(w->hold, e, pkts, GW_RX_BURST)) > 0) {
				for (i = 0; i < n; i++) {
					w->cnt.c[CNT_AcquireHeldReleased]++;
					gw_handoff(w, sa, pkts[i], e->key.policy, e->pfp, false);
				}
			}
			gw_handoff_flush(w);
			break;
		}
		while (gw_sa_usable(sa) && (n = gw_hold_take(w->hold, e, pkts, GW_RX_BURST)) > 0) {
			np = 0;
			for (i = 0; i < n; i++) {
				struct rte_mbuf *m = pkts[i];

				/* The SA's selector may be narrower than the
				 * key (a key manager's choice): such a packet
				 * has no SA. */
				if (unlikely(sa->has_sel &&
					     (pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
							   m->data_len, &k) < 0 ||
					      !spd_sel_match(&sa->sel, &k)))) {
					drop(w, m, CNT_AcquireHeldDropped);
					continue;
				}
				w->cnt.c[CNT_AcquireHeldReleased]++;
				np = fit(w, t, sa, m, prot, sas, np);
			}
			out_esp_send(w, t, prot, sas, np);
		}
		if (e->n == 0)
			break;
		sa = gw_out_flow_sa(w, &e->key);
	}
	if (e->n != 0) {
		/* Deleted or expired under us, with no successor: the rest
		 * wait for a new SA, asked for as for a new key. */
		e->born_tsc = rte_rdtsc();
		gw_out_announce(w, e);
		return false;
	}
	gw_hold_remove(w->hold, e);
	return true;
}

/*
 * The SA part of the outbound path: the SA of each packet's flow, ESP,
 * route. A non-PFP policy leads to one SA whatever the packet, found in
 * this worker's cache (no hashing); a PFP policy's flows are looked up in
 * the flow table in bulk. Packets of a held key leave before the first
 * packet that finds its SA.
 */
static void
out_protect(struct gw_worker *w, const struct gw_tables *t,
	    struct rte_mbuf *pkts[], const struct flow_key *keys,
	    const uint32_t policy[], const uint8_t pfp[], uint16_t n)
{
	struct gw_flow_key fk[GW_RX_BURST];
	const struct gw_flow_key *fkp[GW_RX_BURST];
	void *data[GW_RX_BURST];
	struct gw_sa *sa[GW_RX_BURST];
	uint8_t lk[GW_RX_BURST], made[GW_RX_BURST];
	/* Room for every packet cut into GW_FRAG_MAX fragments. */
	struct rte_mbuf *prot[GW_RX_BURST * GW_FRAG_MAX];
	struct esp_sa *sas[GW_RX_BURST * GW_FRAG_MAX];
	uint64_t hits = 0;
	uint16_t i, j, nl = 0, np = 0;

	if (n == 0)
		return;
	gw_sa_cache_check(w);
	for (i = 0; i < n; i++) {
		made[i] = 0;
		if (pfp[i] == 0 && (sa[i] = gw_sa_cache_get(&w->out_cache, policy[i])) != NULL)
			continue;
		gw_flow_key_make(&fk[i], policy[i], pfp[i], &keys[i]);
		made[i] = 1;
		fkp[nl] = &fk[i];
		lk[nl++] = (uint8_t)i;
	}
	if (nl > 0) {
		flowtab_lookup_bulk(w->shared->flows, fkp, nl, &hits, data);
		/* With many per-flow SAs each is cold: start fetching every
		 * SA of the burst at once (gw_sa_prefetch()). */
		for (j = 0; j < nl; j++) {
			i = lk[j];
			sa[i] = (hits & (1ull << j)) ? data[j] : NULL;
			if (sa[i] == NULL)
				continue;
			gw_sa_prefetch(sa[i]);
			if (pfp[i] == 0)
				gw_sa_cache_put(&w->out_cache, policy[i], sa[i]);
		}
	}

	for (i = 0; i < n; i++) {
		struct gw_sa *s = sa[i];
		bool usable = s != NULL && gw_sa_usable(s);

		if (s != NULL && unlikely(!usable) && __atomic_load_n(&s->dead, __ATOMIC_RELAXED)) {
			/* Replaced since this burst began (rekey, migrate,
			 * `set out-sa`): the flow table has its successor
			 * already (make before break), so the packet need not
			 * wait for an SA it has. */
			if (!made[i]) {
				gw_flow_key_make(&fk[i], policy[i], pfp[i], &keys[i]);
				made[i] = 1;
			}
			s = gw_out_flow_sa(w, &fk[i]);
			usable = s != NULL;
		}
		/* Usable as first seen: a record replaced from here on stays
		 * whole until the burst ends (RCU), its numbers apart from its
		 * successor's (publish.c record_replace). */
		if (unlikely(!usable || (s->has_sel && !spd_sel_match(&s->sel, &keys[i]))))
			s = NULL;
		if (unlikely(s == NULL || w->hold->n_keys != 0) && !made[i]) {
			gw_flow_key_make(&fk[i], policy[i], pfp[i], &keys[i]);
			made[i] = 1;
		}
		if (s == NULL) {
			hold(w, pkts[i], &fk[i], pfp[i], &keys[i]);
			continue;
		}
		/* Its record is in (or on its way) by now: the keys next,
		 * in time for the crypto after the whole chunk's framing. */
		if (made[i])
			gw_sa_prefetch_keys(s);
		if (unlikely(w->hold->n_keys != 0)) {
			struct gw_hold_entry *e = gw_hold_find(w->hold, &fk[i],
							       gw_hold_hash(&fk[i]));

			/* Its held packets go first, through ESP and out,
			 * before this burst's take their sequence numbers.
			 * Where the release went on through a successor, so
			 * does this packet; where it found none, the packet
			 * waits behind them. */
			if (e != NULL &&
			    (!gw_out_release(w, t, e, s) ||
			     (unlikely(!gw_sa_usable(s)) &&
			      ((s = gw_out_flow_sa(w, &fk[i])) == NULL ||
			       (s->has_sel && !spd_sel_match(&s->sel, &keys[i])))))) {
				hold(w, pkts[i], &fk[i], pfp[i], &keys[i]);
				continue;
			}
		}
		if (unlikely(!gw_sa_own(w, s))) {
			gw_handoff(w, s, pkts[i], policy[i], pfp[i], false);
			continue;
		}
		np = fit(w, t, s, pkts[i], prot, sas, np);
	}
	gw_handoff_flush(w);
	out_esp_send(w, t, prot, sas, np);
	gw_out_notices_flush(w);
}

unsigned int
gw_handoff_poll(struct gw_worker *w, const struct gw_tables *t)
{
	struct gw_handoff h[GW_RX_BURST];
	struct rte_mbuf *pkts[GW_RX_BURST], *in[GW_RX_BURST];
	struct flow_key keys[GW_RX_BURST];
	uint32_t policy[GW_RX_BURST];
	uint8_t pfp[GW_RX_BURST];
	unsigned int n, i, total = 0, round;
	uint16_t k, ni;

	/* A few bursts at most, so the lcore's own queues are polled too. */
	for (round = 0; round < 4; round++) {
		n = rte_ring_dequeue_burst_elem(w->handoff, h, sizeof(h[0]), GW_RX_BURST, NULL);
		if (n == 0)
			break;
		total += n;
		/* The packets come from another core's cache: ask for every
		 * mbuf (both lines: the second is the free's), then every
		 * packet's first and last lines (the ESP trailer goes at its
		 * end), before parsing any; the lines between, which only the
		 * cipher reads, into L2. */
		for (i = 0; i < n; i++) {
			rte_mbuf_prefetch_part1(h[i].m);
			rte_mbuf_prefetch_part2(h[i].m);
		}
		for (i = 0; i < n; i++) {
			const uint8_t *d = rte_pktmbuf_mtod(h[i].m, const uint8_t *);
			uint32_t off;

			rte_prefetch0(d);
			for (off = RTE_CACHE_LINE_SIZE; off + 1 < h[i].m->data_len;
			     off += RTE_CACHE_LINE_SIZE)
				rte_prefetch1(d + off);
			rte_prefetch0(d + h[i].m->data_len - 1);
		}
		for (i = 0, k = 0, ni = 0; i < n; i++) {
			struct rte_mbuf *m = h[i].m;

			if (h[i].in) {
				in[ni++] = m;
				continue;
			}
			if (unlikely(pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
						  &keys[k]) < 0)) {
				drop(w, m, CNT_MalformedPacket);
				continue;
			}
			pkts[k] = m;
			policy[k] = h[i].policy;
			pfp[k++] = h[i].pfp;
		}
		out_protect(w, t, pkts, keys, policy, pfp, k);
		if (ni != 0)
			gw_in_handed(w, t, in, ni);
	}
	return total;
}

/* Two flow keys alike, in five 8-byte compares (memcmp() of 40 bytes is a
 * call into libc). */
static inline bool
flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[5], y[5];

	_Static_assert(sizeof(*a) == sizeof(x), "flow_key: 40 bytes");
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

/* Where the packets of an outbound walk come from. */
enum out_from {
	OUT_FORWARD, /* a protected port: one TTL is the walk's to take */
	OUT_LOCAL,   /* the gateway's own: its TTL is kept, no counters */
	OUT_RELAY,   /* out of an SA, routed to an unprotected port: the
		      * inbound stage took the TTL already */
};

/*
 * The outbound walk from the SPD on, for L3 packets with their flow keys:
 * forwarded traffic (@p port: where it came in) loses one TTL first, so
 * an expiring packet never takes a sequence number and gets its Time
 * Exceeded.
 */
static void
out_classify(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     const struct flow_key keys[], uint16_t k, uint16_t port, enum out_from from)
{
	const struct flow_key *kp[GW_RX_BURST];
	struct flow_key pkeys[GW_RX_BURST];
	uint32_t res[GW_RX_BURST], policy[GW_RX_BURST];
	uint8_t pfp[GW_RX_BURST];
	struct rte_mbuf *fwd[GW_RX_BURST], *prot[GW_RX_BURST];
	uint16_t i, nf = 0, np = 0;
	uint8_t same[GW_RX_BURST];
	uint16_t nk = 0;

	/* A packet of the same flow as the one before it (a TCP stream's
	 * burst) takes that one's answer: only the first of each run goes
	 * through the trie. */
	for (i = 0; i < k; i++) {
		same[i] = i > 0 && flow_key_eq(&keys[i], &keys[i - 1]);
		if (!same[i])
			kp[nk++] = &keys[i];
	}
	spd_classify(t->spd_out, kp, res, nk);
	if (nk != k) {
		/* Spread the answers back over the runs, from the end: r
		 * heads of runs lie at or before packet i, so its answer is
		 * res[r - 1], never after slot i. */
		uint16_t r = nk;

		for (i = k; i-- > 0;) {
			res[i] = res[r - 1];
			r = (uint16_t)(r - !same[i]);
		}
	}

	for (i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct gw_policy *p = res[i] ? &t->pols[res[i] - 1] : NULL;

		if (p != NULL && p->action == GW_DISCARD) {
			drop(w, m, CNT_XfrmOutPolBlock);
			continue;
		}
		if (from == OUT_FORWARD && unlikely(ttl_dec(m) < 0)) {
			/* A protected packet's route is its tunnel's. */
			if (p == NULL || p->action == GW_BYPASS) {
				gw_ttl_expired(w, t, m, port, false);
			} else {
				w->cnt.c[CNT_TtlExceeded]++;
				punt_icmp(w, m, ICMP_ERR_TTL, port, 0, false);
			}
			continue;
		}
		/* Bypass and Protect count forwarded traffic; the gateway's
		 * own has its own counters (EchoReplies, IcmpErrorsSent),
		 * and a relayed packet was counted where it came out. */
		if (p == NULL || p->action == GW_BYPASS) {
			w->cnt.c[CNT_Bypass] += from == OUT_FORWARD;
			fwd[nf++] = m;
			continue;
		}
		w->cnt.c[CNT_Protect] += from != OUT_LOCAL;
		prot[np] = m;
		pkeys[np] = keys[i];
		policy[np] = p->index;
		pfp[np++] = p->pfp;
	}

	out_protect(w, t, prot, pkeys, policy, pfp, np);
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
		if (unlikely(l2_group(m))) {
			drop(w, m, CNT_LinkBroadcast);
			continue;
		}
		rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
		m->packet_type = 0;
		m->port = port; /* where an ICMP error about it comes from */
		if (unlikely(ip_trim(m) < 0 ||
			     (l2 == L2_IP4 && ip4_cksum_bad(m)) ||
			     pkt_flow_key(rte_pktmbuf_mtod(m, uint8_t *),
					  m->data_len, &keys[k]) < 0)) {
			drop(w, m, CNT_MalformedPacket);
			continue;
		}
		if (unlikely(flow_key_src_martian(&keys[k]))) {
			drop(w, m, CNT_MartianSource);
			continue;
		}
		pkts[k++] = m;
	}
	out_classify(w, t, pkts, keys, k, port, OUT_FORWARD);
}

void
gw_local_out(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     uint16_t n)
{
	struct flow_key keys[GW_RX_BURST];
	uint16_t i;

	for (i = 0; i < n; i++)
		pkts[i]->packet_type = GW_PT_LOCAL;
	out_classify(w, t, pkts, keys, gw_flow_keys(w, pkts, n, keys), 0, OUT_LOCAL);
}

void
gw_out_relay(struct gw_worker *w, const struct gw_tables *t, struct rte_mbuf *pkts[],
	     uint16_t n)
{
	struct flow_key keys[GW_RX_BURST];
	uint16_t i;

	for (i = 0; i < n; i++)
		/* Plain from here on (route.c relays once); marked for the
		 * source of its ICMP errors. */
		pkts[i]->packet_type = GW_PT_RELAYED;
	out_classify(w, t, pkts, keys, gw_flow_keys(w, pkts, n, keys), 0, OUT_RELAY);
}
