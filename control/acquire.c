/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACQUIRE and the other worker events, on the control plane.
 *
 * A worker that finds no SA for a protected packet sends the packet here.
 * The first packet of a flow (its gw_flow_key) creates a larval entry and
 * raises one ACQUIRE; it and the flow's next packets wait in the entry's
 * bounded queue (xfrm's XFRM_STATE_ACQ, but holding instead of dropping).
 * When an SA covering the key is installed, the model calls flow_pre()
 * before publishing it: the held packets go back, in order, to the ring of
 * the worker they came from, which drains that ring before it can see the
 * SA. If acquire-expires passes first they are dropped and counted, and a
 * later packet starts over.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_ring.h>

#include "control/acquire.h"
#include "control/ctl.h"
#include "control/format.h"
#include "control/gateway.h"

#define LARVAL_MAX 65536
#define SPI_SEEN 4096
#define SCAN_MS 50

struct held {
	struct rte_mbuf *m;
	uint8_t worker;
};

struct larval {
	struct gw_flow_key key;
	uint32_t seq;       /* the ACQUIRE's seq */
	uint32_t slot;      /* in acq.list */
	uint64_t born;      /* timer cycles */
	uint8_t pfp;
	uint16_t n, cap;
	struct held held[];
};

struct acq {
	struct gw_runtime *rt;
	struct rte_hash *by_key;    /* gw_flow_key -> struct larval * */
	struct larval **list;
	uint32_t n, cap;
	uint32_t next_seq;
	uint32_t held_total;
	uint64_t last_scan, last_time_check;
	struct {
		uint32_t spi;
		uint8_t family;
		uint8_t src[16];
		uint64_t at;
	} spi_seen[SPI_SEEN];
};

static uint64_t
ms_to_cycles(uint64_t ms)
{
	return rte_get_timer_hz() / 1000 * ms;
}

static void
count(struct gw_runtime *rt, enum espd_counter c, uint64_t n)
{
	rt->ctl_cnt.c[c] += n;
}

static void
larval_free(struct acq *a, struct larval *lv)
{
	uint32_t slot = lv->slot;

	rte_hash_del_key(a->by_key, &lv->key);
	a->list[slot] = a->list[--a->n];
	a->list[slot]->slot = slot;
	free(lv);
}

static void
larval_drop(struct acq *a, struct larval *lv)
{
	uint16_t i;

	for (i = 0; i < lv->n; i++)
		rte_pktmbuf_free(lv->held[i].m);
	count(a->rt, CNT_AcquireHeldDropped, lv->n);
	a->held_total -= lv->n;
	larval_free(a, lv);
}

/* Queue held packets back to the worker each came from. */
static void
release(struct acq *a, const struct held *h, uint16_t n, uint32_t policy,
	uint8_t pfp)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct gw_worker *w = a->rt->workers[h[i].worker];
		struct gw_release_elem e = { .m = h[i].m, .policy = policy, .pfp = pfp };

		if (rte_ring_enqueue_elem(w->release, &e, sizeof(e)) == 0) {
			count(a->rt, CNT_AcquireHeldReleased, 1);
		} else {
			rte_pktmbuf_free(h[i].m);
			count(a->rt, CNT_AcquireHeldDropped, 1);
		}
	}
}

/* Model hook: key @p fk is about to lead to an SA. */
static void
flow_pre(void *arg, const struct gw_flow_key *fk)
{
	struct acq *a = arg;
	void *data;
	struct larval *lv;

	if (rte_hash_lookup_data(a->by_key, fk, &data) < 0)
		return;
	lv = data;
	release(a, lv->held, lv->n, lv->key.policy, lv->pfp);
	a->held_total -= lv->n;
	larval_free(a, lv);
}

/* Model hook: the flow key of pending ACQUIRE @p seq. */
static bool
acquire_key(void *arg, uint32_t seq, struct gw_flow_key *fk)
{
	struct acq *a = arg;
	uint32_t i;

	for (i = 0; i < a->n; i++) {
		if (a->list[i]->seq == seq) {
			*fk = a->list[i]->key;
			return true;
		}
	}
	return false;
}

static bool
port_proto(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP ||
	       p == 33 /* dccp */ || p == 136 /* udplite */;
}

/* "src A dst B proto P sport S dport D" of a packet, text or JSON. */
static void
fmt_pkt(struct sbuf *t, struct sbuf *j, const struct flow_key *k)
{
	char s[64], d[64], pb[8];
	const char *proto = fmt_proto(k->proto, pb, sizeof(pb));
	bool named = proto != pb;

	fmt_ip(k->family, k->src, s, sizeof(s));
	fmt_ip(k->family, k->dst, d, sizeof(d));
	sb_printf(t, "src %s dst %s proto %s", s, d, proto);
	sb_printf(j, "{\"src\":\"%s\",\"dst\":\"%s\",", s, d);
	if (named)
		sb_printf(j, "\"proto\":\"%s\"", proto);
	else
		sb_printf(j, "\"proto\":%u", k->proto);
	if (port_proto(k->proto)) {
		sb_printf(t, " sport %u dport %u", rte_be_to_cpu_16(k->sport),
			  rte_be_to_cpu_16(k->dport));
		sb_printf(j, ",\"sport\":%u,\"dport\":%u", rte_be_to_cpu_16(k->sport),
			  rte_be_to_cpu_16(k->dport));
	}
	sb_printf(j, "}");
}

/*
 * The selector the new SA must carry (DESIGN.md "Control plane and
 * events"): the packet's value for each PFP field, the policy's for the
 * others; "any" fields left out.
 */
static void
fmt_acquire_sel(struct sbuf *t, struct sbuf *j, const struct cfg_policy *p,
		const struct flow_key *k)
{
	unsigned int full = k->family == 6 ? 128 : 32;
	char s[64], d[64], pb[8];
	uint8_t proto = (p->pfp & CFG_PFP_PROTO) ? k->proto : p->sel.proto;
	unsigned int slen = (p->pfp & CFG_PFP_SRC) ? full : p->sel.src.len;
	unsigned int dlen = (p->pfp & CFG_PFP_DST) ? full : p->sel.dst.len;

	fmt_ip(k->family, (p->pfp & CFG_PFP_SRC) ? k->src : p->sel.src.a, s, sizeof(s));
	fmt_ip(k->family, (p->pfp & CFG_PFP_DST) ? k->dst : p->sel.dst.a, d, sizeof(d));
	sb_printf(t, "src %s/%u dst %s/%u", s, slen, d, dlen);
	sb_printf(j, "{\"src\":\"%s/%u\",\"dst\":\"%s/%u\"", s, slen, d, dlen);
	if (proto != 0) {
		const char *name = fmt_proto(proto, pb, sizeof(pb));

		sb_printf(t, " proto %s", name);
		if (name != pb)
			sb_printf(j, ",\"proto\":\"%s\"", name);
		else
			sb_printf(j, ",\"proto\":%u", proto);
	}
	if (p->pfp & CFG_PFP_SPORT) {
		sb_printf(t, " sport %u", rte_be_to_cpu_16(k->sport));
		sb_printf(j, ",\"sport\":%u", rte_be_to_cpu_16(k->sport));
	} else if (p->sel.has_sport) {
		if (p->sel.sport_lo == p->sel.sport_hi) {
			sb_printf(t, " sport %u", p->sel.sport_lo);
			sb_printf(j, ",\"sport\":%u", p->sel.sport_lo);
		} else {
			sb_printf(t, " sport %u-%u", p->sel.sport_lo, p->sel.sport_hi);
			sb_printf(j, ",\"sport\":\"%u-%u\"", p->sel.sport_lo, p->sel.sport_hi);
		}
	}
	if (p->pfp & CFG_PFP_DPORT) {
		sb_printf(t, " dport %u", rte_be_to_cpu_16(k->dport));
		sb_printf(j, ",\"dport\":%u", rte_be_to_cpu_16(k->dport));
	} else if (p->sel.has_dport) {
		if (p->sel.dport_lo == p->sel.dport_hi) {
			sb_printf(t, " dport %u", p->sel.dport_lo);
			sb_printf(j, ",\"dport\":%u", p->sel.dport_lo);
		} else {
			sb_printf(t, " dport %u-%u", p->sel.dport_lo, p->sel.dport_hi);
			sb_printf(j, ",\"dport\":\"%u-%u\"", p->sel.dport_lo, p->sel.dport_hi);
		}
	}
	sb_printf(j, "}");
}

static void
emit_acquire(struct gw_runtime *rt, const struct larval *lv,
	     const struct cfg_policy *p, const struct flow_key *k)
{
	struct sbuf t = { 0 }, j = { 0 };
	const struct cfg_tmpl *tp = &p->tmpl;
	char s[64], d[64];

	/* Tunnel: the template's endpoints; transport: the packet's own. */
	if (tp->has_src_dst) {
		fmt_ip(tp->src.af == AF_INET6 ? 6 : 4, tp->src.a, s, sizeof(s));
		fmt_ip(tp->dst.af == AF_INET6 ? 6 : 4, tp->dst.a, d, sizeof(d));
	} else {
		fmt_ip(k->family, k->src, s, sizeof(s));
		fmt_ip(k->family, k->dst, d, sizeof(d));
	}
	sb_printf(&t, "acquire seq %u src %s dst %s proto esp reqid %u mode %s policy-index %u sel ",
		  lv->seq, s, d, tp->reqid,
		  tp->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel", p->index);
	sb_printf(&j, "{\"event\":\"acquire\",\"seq\":%u,\"src\":\"%s\",\"dst\":\"%s\","
		  "\"proto\":\"esp\",\"reqid\":%u,\"mode\":\"%s\",\"policy_index\":%u,\"sel\":",
		  lv->seq, s, d, tp->reqid,
		  tp->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel", p->index);
	fmt_acquire_sel(&t, &j, p, k);
	sb_printf(&t, " pkt ");
	sb_printf(&j, ",\"pkt\":");
	fmt_pkt(&t, &j, k);
	sb_printf(&j, "}");
	if (!t.oom && !j.oom)
		ctl_emit(rt, CFG_MON_ACQUIRE, t.p, j.p);
	sb_free(&t);
	sb_free(&j);
}

static void
on_miss(struct acq *a, const struct gw_event *ev)
{
	struct gw_runtime *rt = a->rt;
	const struct model_pol *mp = model_policy(&rt->model, ev->policy);
	struct gw_policy gp = { .index = ev->policy };
	struct gw_flow_key fk;
	struct larval *lv;
	void *data;

	if (mp == NULL) {
		/* The policy went away while the packet travelled here. */
		rte_pktmbuf_free(ev->m);
		count(rt, CNT_XfrmOutPolError, 1);
		return;
	}
	gp.pfp = (uint8_t)mp->cfg.pfp;
	gw_flow_key_make(&fk, &gp, &ev->pkt);

	/* An SA may have come between the worker's lookup and now. */
	if (rte_hash_lookup_data(rt->shared.flows, &fk, &data) >= 0 &&
	    !((struct gw_sa *)data)->dead && !((struct gw_sa *)data)->expired) {
		struct held h = { ev->m, ev->worker };

		release(a, &h, 1, gp.index, gp.pfp);
		return;
	}

	if (rte_hash_lookup_data(a->by_key, &fk, &data) >= 0) {
		lv = data;
	} else {
		uint16_t cap = (uint16_t)RTE_MIN(rt->model.acquire_queue, 65535u);

		lv = NULL;
		if (a->n < LARVAL_MAX)
			lv = calloc(1, sizeof(*lv) + cap * sizeof(lv->held[0]));
		if (lv == NULL || (a->n == a->cap &&
				   (a->list = realloc(a->list, (a->cap = a->cap ? a->cap * 2 : 256) *
							    sizeof(*a->list))) == NULL)) {
			free(lv);
			rte_pktmbuf_free(ev->m);
			count(rt, CNT_XfrmAcquireError, 1);
			return;
		}
		lv->key = fk;
		lv->pfp = gp.pfp;
		lv->cap = cap;
		lv->seq = ++a->next_seq;
		lv->born = rte_get_timer_cycles();
		if (rte_hash_add_key_data(a->by_key, &fk, lv) < 0) {
			free(lv);
			rte_pktmbuf_free(ev->m);
			count(rt, CNT_XfrmAcquireError, 1);
			return;
		}
		lv->slot = a->n;
		a->list[a->n++] = lv;
		count(rt, CNT_AcquireSent, 1);
		emit_acquire(rt, lv, &mp->cfg, &ev->pkt);
	}

	if (lv->n >= lv->cap || a->held_total >= rt->model.acquire_queue_total) {
		rte_pktmbuf_free(ev->m);
		count(rt, CNT_AcquireHeldDropped, 1);
		return;
	}
	lv->held[lv->n].m = ev->m;
	lv->held[lv->n++].worker = ev->worker;
	a->held_total++;
	count(rt, CNT_AcquireHeld, 1);
}

static void
emit_expire(struct gw_runtime *rt, const struct model_sa *s, bool hard)
{
	struct sbuf t = { 0 }, j = { 0 };
	char src[64], dst[64];

	fmt_ip(s->cfg.src.af == AF_INET6 ? 6 : 4, s->cfg.src.a, src, sizeof(src));
	fmt_ip(s->cfg.dst.af == AF_INET6 ? 6 : 4, s->cfg.dst.a, dst, sizeof(dst));
	sb_printf(&t, "expire %s src %s dst %s proto esp spi 0x%08x reqid %u",
		  hard ? "hard" : "soft", src, dst, s->cfg.spi, s->cfg.reqid);
	sb_printf(&j, "{\"event\":\"expire\",\"hard\":%s,\"src\":\"%s\",\"dst\":\"%s\","
		  "\"proto\":\"esp\",\"spi\":\"0x%08x\",\"reqid\":%u,\"dir\":\"%s\"}",
		  hard ? "true" : "false", src, dst, s->cfg.spi, s->cfg.reqid,
		  s->dir == ESP_DIR_OUT ? "out" : "in");
	if (!t.oom && !j.oom)
		ctl_emit(rt, CFG_MON_EXPIRE, t.p, j.p);
	sb_free(&t);
	sb_free(&j);
}

/* A hard expiry removes the SA; later packets miss and ACQUIRE again. */
static void
expire(struct gw_runtime *rt, struct model_sa *s, bool hard)
{
	emit_expire(rt, s, hard);
	if (hard)
		model_sa_remove(&rt->model, s);
}

static void
on_expire(struct acq *a, const struct gw_event *ev)
{
	struct cfg_addr dst = { .af = ev->pkt.family == 6 ? AF_INET6 : AF_INET };
	struct model_sa *s;

	memcpy(dst.a, ev->pkt.dst, 16);
	dst.len = ev->pkt.family == 6 ? 128 : 32;
	s = model_sa_find(&a->rt->model, &dst, ev->spi);
	/* The SA may have been replaced or deleted since. */
	if (s == NULL || s->gw->id != ev->policy || s->gw->dead)
		return;
	expire(a->rt, s, ev->hard);
}

static void
on_invalid_spi(struct acq *a, const struct gw_event *ev)
{
	struct gw_runtime *rt = a->rt;
	uint32_t slot = rte_jhash_1word(ev->spi, rte_jhash(ev->pkt.src, 16, 0)) % SPI_SEEN;
	uint64_t now = rte_get_timer_cycles();
	struct sbuf t = { 0 }, j = { 0 };
	char s[64], d[64];

	/* At most one per (src, SPI) per second, across all workers. */
	if (a->spi_seen[slot].spi == ev->spi && a->spi_seen[slot].family == ev->pkt.family &&
	    memcmp(a->spi_seen[slot].src, ev->pkt.src, 16) == 0 &&
	    now - a->spi_seen[slot].at < rte_get_timer_hz())
		return;
	a->spi_seen[slot].spi = ev->spi;
	a->spi_seen[slot].family = ev->pkt.family;
	memcpy(a->spi_seen[slot].src, ev->pkt.src, 16);
	a->spi_seen[slot].at = now;
	count(rt, CNT_InvalidSpiEvents, 1);

	fmt_ip(ev->pkt.family, ev->pkt.src, s, sizeof(s));
	fmt_ip(ev->pkt.family, ev->pkt.dst, d, sizeof(d));
	sb_printf(&t, "invalid-spi src %s dst %s spi 0x%08x encap %s", s, d, ev->spi,
		  ev->encap ? "espinudp" : "none");
	sb_printf(&j, "{\"event\":\"invalid-spi\",\"src\":\"%s\",\"dst\":\"%s\","
		  "\"spi\":\"0x%08x\",\"encap\":\"%s\"}", s, d, ev->spi,
		  ev->encap ? "espinudp" : "none");
	if (!t.oom && !j.oom)
		ctl_emit(rt, CFG_MON_INVALID_SPI, t.p, j.p);
	sb_free(&t);
	sb_free(&j);
}

/* SA time limits: seconds since the SA was added (RFC 4301 4.4.2.1). */
static void
time_limits(struct gw_runtime *rt)
{
	const uint32_t time_bits = (1u << CFG_LIMIT_TIME_SOFT) | (1u << CFG_LIMIT_TIME_HARD);
	struct gw_model *m = &rt->model;
	struct timespec ts;
	uint32_t i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (i = 0; i < m->n_sas;) {
		struct model_sa *s = m->sas[i];
		const struct cfg_state *c = &s->cfg;
		uint64_t age = (uint64_t)ts.tv_sec - s->add_time;

		if (!(c->limit_set & time_bits)) {
			i++;
			continue;
		}
		if ((c->limit_set & (1u << CFG_LIMIT_TIME_HARD)) &&
		    age >= c->limit[CFG_LIMIT_TIME_HARD] && !s->gw->dead) {
			s->gw->hard_sent = 1;
			expire(rt, s, true); /* moves the last SA into slot i */
			continue;
		}
		if ((c->limit_set & (1u << CFG_LIMIT_TIME_SOFT)) && !s->gw->soft_sent &&
		    age >= c->limit[CFG_LIMIT_TIME_SOFT]) {
			s->gw->soft_sent = 1;
			expire(rt, s, false);
		}
		i++;
	}
}

int
acq_init(struct gw_runtime *rt)
{
	struct rte_hash_parameters prm = {
		.name = "espd_larval",
		.entries = LARVAL_MAX + LARVAL_MAX / 4,
		.key_len = sizeof(struct gw_flow_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	struct acq *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	a->rt = rt;
	a->by_key = rte_hash_create(&prm);
	if (a->by_key == NULL) {
		free(a);
		return -ENOMEM;
	}
	rt->acq = a;
	rt->model.hooks.flow_pre = flow_pre;
	rt->model.hooks.acquire_key = acquire_key;
	rt->model.hooks.arg = a;
	return 0;
}

unsigned int
acq_poll(struct gw_runtime *rt)
{
	struct acq *a = rt->acq;
	struct gw_event ev[32];
	unsigned int i, n, k, total = 0;
	uint64_t now;

	for (i = 0; i < rt->n_workers; i++) {
		while ((n = rte_ring_dequeue_burst_elem(rt->workers[i]->events, ev,
							sizeof(ev[0]), 32, NULL)) > 0) {
			total += n;
			for (k = 0; k < n; k++) {
				switch (ev[k].type) {
				case GW_EV_MISS:
					on_miss(a, &ev[k]);
					break;
				case GW_EV_EXPIRE:
					on_expire(a, &ev[k]);
					break;
				case GW_EV_INVALID_SPI:
					on_invalid_spi(a, &ev[k]);
					break;
				default:
					break;
				}
			}
		}
	}

	/* Read the clock after the events: a larval entry they created
	 * must not look older than the clock (unsigned wrap). */
	now = rte_get_timer_cycles();
	if (now - a->last_scan >= ms_to_cycles(SCAN_MS)) {
		uint64_t life = ms_to_cycles((uint64_t)rt->model.acquire_expires * 1000);

		a->last_scan = now;
		for (i = 0; i < a->n;) {
			if (now - a->list[i]->born >= life)
				larval_drop(a, a->list[i]); /* refills slot i */
			else
				i++;
		}
	}
	if (now - a->last_time_check >= rte_get_timer_hz()) {
		a->last_time_check = now;
		time_limits(rt);
	}
	rt->ctl_cnt.c[CNT_PfpFlows] = rt->model.pfp_flows;
	model_reclaim(&rt->model);
	return total;
}

void
acq_fini(struct gw_runtime *rt)
{
	struct acq *a = rt->acq;

	if (a == NULL)
		return;
	rt->model.hooks.flow_pre = NULL;
	rt->model.hooks.acquire_key = NULL;
	while (a->n > 0)
		larval_drop(a, a->list[a->n - 1]);
	rte_hash_free(a->by_key);
	free(a->list);
	free(a);
	rt->acq = NULL;
}

uint32_t
acq_pending(const struct gw_runtime *rt)
{
	return rt->acq == NULL ? 0 : rt->acq->n;
}
