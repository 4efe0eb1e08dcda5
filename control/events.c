/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACQUIRE and the other worker events, on the control plane.
 *
 * A worker that finds no SA for a protected packet holds it in its own
 * larval table (dataplane/hold.h) and, for a new flow key, sends a notice
 * here. The first notice of a key creates a larval entry and raises one
 * ACQUIRE (xfrm's XFRM_STATE_ACQ, but holding instead of dropping); the
 * entry notes which workers hold packets for it. When an SA covering the
 * key is published, the model calls flow_ready(): those workers are told
 * to release (each also releases on its own as soon as its lookup finds
 * the SA, before any later packet of the flow). If acquire-expires passes
 * first they are told to drop, and a later packet starts over. Packets
 * never leave the worker that received them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "control/events.h"
#include "control/grow.h"
#include "control/hmap.h"
#include "control/print.h"
#include "control/view.h"
#include "dataplane/frag.h"
#include "dataplane/spi_limit.h"

#define LARVAL_MAX 65536
#define SCAN_NS 50000000ull /* larval entries checked every 50 ms */
#define EVENTS_BUDGET 16 /* bursts of 32 of a ring a call (events_poll()) */
#define OUT_MAX 65536 /* rendered events waiting for the loop */

struct larval {
	struct gw_flow_key key;
	uint32_t seq;       /* the ACQUIRE's seq */
	uint32_t slot;      /* in events.list */
	uint64_t born;      /* the model's clock, ns */
	uint8_t pfp;
	bool deaf;          /* raised while no monitor took ACQUIREs */
	bool all;           /* a worker beyond the mask holds packets too */
	uint64_t workers;   /* bit i: context i holds packets for the key */
};

struct events {
	struct pub *pub;
	struct hmap by_key;         /* gw_flow_key -> struct larval * */
	struct larval **list;
	uint32_t n, cap;
	uint32_t next_seq;
	uint64_t last_scan;         /* ns */
	struct event_out *out;      /* a ring of rendered events */
	uint32_t out_head, out_n, out_cap;
	uint64_t lost;              /* events lost since the last queued */
	struct spi_limit spi_seen;
	uint32_t heard_text;        /* CFG_MON_* a monitor takes in text */
	uint32_t heard_json;        /* ... in JSON (the loop says both) */
	struct sbuf scratch;        /* render()'s */
};

static void
count(struct events *ev, enum espd_counter c, uint64_t n)
{
	ev->pub->ctl_cnt.c[c] += n;
}

/* ---- rendering --------------------------------------------------------- */

void
event_out_free(struct event_out *e)
{
	free(e->text);
	free(e->json);
	memset(e, 0, sizeof(*e));
}

typedef void (*describe_fn)(struct pr *pr, const void *arg);

/* @p fn's rendering as text or (streamed) JSON, in a string of its own
 * (rendered in ev->scratch, which keeps its room: a burst of ACQUIREs
 * would otherwise grow a fresh buffer for each); NULL on ENOMEM. */
static char *
render(struct events *ev, describe_fn fn, const void *arg, bool json)
{
	struct pr pr;
	char *s = NULL;

	pr_init(&pr, json);
	pr.out = ev->scratch;
	pr.out.len = 0;
	if (pr.out.p != NULL)
		pr.out.p[0] = '\0';
	fn(&pr, arg);
	if (!pr.out.oom && pr.out.p != NULL && (s = malloc(pr.out.len + 1)) != NULL)
		memcpy(s, pr.out.p, pr.out.len + 1);
	ev->scratch = pr.out;
	ev->scratch.oom = false;
	memset(&pr.out, 0, sizeof(pr.out)); /* kept in ev->scratch */
	pr_fini(&pr);
	return s;
}

/* An event lost before it reached the queue: counted like a monitor
 * that fell behind, and remembered, so that it still takes an id (the
 * next queued event carries it). */
static void
lose(struct events *ev, struct event_out *e)
{
	event_out_free(e);
	ev->lost++;
	count(ev, CNT_MonitorEventsDropped, 1);
}

/* Render an event in the forms its monitors take and queue it for them.
 * A full queue (nobody draining) loses it. */
static void
emit(struct events *ev, uint32_t type, describe_fn fn, const void *arg)
{
	struct event_out e = { .type = type };
	bool oom = false;

	if (ev->heard_text & type)
		oom |= (e.text = render(ev, fn, arg, false)) == NULL;
	if (ev->heard_json & type)
		oom |= (e.json = render(ev, fn, arg, true)) == NULL;
	if (oom || ev->out_n == OUT_MAX) {
		lose(ev, &e);
		return;
	}
	if (ev->out_n == ev->out_cap) {
		uint32_t cap = ev->out_cap ? ev->out_cap * 2 : 64, i;
		struct event_out *o = malloc(cap * sizeof(*o));

		if (o == NULL) {
			lose(ev, &e);
			return;
		}
		for (i = 0; i < ev->out_n; i++)
			o[i] = ev->out[(ev->out_head + i) % ev->out_cap];
		free(ev->out);
		ev->out = o;
		ev->out_head = 0;
		ev->out_cap = cap;
	}
	e.lost = ev->lost;
	ev->lost = 0;
	ev->out[(ev->out_head + ev->out_n++) % ev->out_cap] = e;
}

bool
events_next(struct events *ev, struct event_out *out)
{
	if (ev->out_n == 0) {
		if (ev->lost == 0)
			return false;
		/* Lost after the last one queued: no event, only their ids. */
		*out = (struct event_out){ .lost = ev->lost };
		ev->lost = 0;
		return true;
	}
	*out = ev->out[ev->out_head];
	ev->out_head = (ev->out_head + 1) % ev->out_cap;
	ev->out_n--;
	return true;
}

/* "pkt": the packet's own fields (addresses without a length). */
static void
view_pkt(struct pr *pr, const struct flow_key *k)
{
	char s[64], d[64];

	pr_obj_open(pr, "pkt");
	pr_str(pr, PR_ANY, "src", " pkt src %s", pr_ip(k->family, k->src, s, sizeof(s)));
	pr_str(pr, PR_ANY, "dst", " dst %s", pr_ip(k->family, k->dst, d, sizeof(d)));
	pr_proto(pr, PR_ANY, " proto %s", k->proto);
	switch (cfg_l4_of(k->proto)) {
	case CFG_L4_PORTS:
		pr_uint(pr, PR_ANY, "sport", " sport %" PRIu64, ntohs(k->sport));
		pr_uint(pr, PR_ANY, "dport", " dport %" PRIu64, ntohs(k->dport));
		break;
	case CFG_L4_ICMP:
		pr_uint(pr, PR_ANY, "type", " type %" PRIu64, ntohs(k->sport));
		pr_uint(pr, PR_ANY, "code", " code %" PRIu64, ntohs(k->dport));
		break;
	default:
		break;
	}
	pr_obj_close(pr);
}

/*
 * The selector the new SA must carry (DESIGN.md "Control plane and
 * events"): the packet's value for each PFP field, the policy's for the
 * others.
 */
static void
acquire_sel(struct cfg_sel *o, const struct cfg_policy *p, const struct flow_key *k)
{
	uint8_t af = model_af(k->family);
	uint8_t full = k->family == 6 ? 128 : 32;

	*o = p->sel;
	o->src.af = o->dst.af = af;
	if (p->pfp & PFP_SRC) {
		memcpy(o->src.a, k->src, 16);
		o->src.len = full;
	}
	if (p->pfp & PFP_DST) {
		memcpy(o->dst.a, k->dst, 16);
		o->dst.len = full;
	}
	if (p->pfp & PFP_PROTO)
		o->proto = k->proto;
	/* Ports only where the selector's protocol has them (type and code
	 * for ICMP): `state add ... sel` takes back exactly this. */
	if (cfg_l4_of(o->proto) == CFG_L4_NONE)
		return;
	if (p->pfp & PFP_SPORT) {
		o->has_sport = true;
		o->sport_lo = o->sport_hi = ntohs(k->sport);
	}
	if (p->pfp & PFP_DPORT) {
		o->has_dport = true;
		o->dport_lo = o->dport_hi = ntohs(k->dport);
	}
}

struct acquire_desc {
	uint32_t seq;
	const struct cfg_policy *pol;
	const struct flow_key *pkt;
};

static void
describe_acquire(struct pr *pr, const void *arg)
{
	const struct acquire_desc *a = arg;
	const struct cfg_tmpl *tp = &a->pol->tmpl;
	const struct flow_key *k = a->pkt;
	struct cfg_sel sel;
	char s[64], d[64];

	/* Tunnel: the template's endpoints; transport: the packet's own. */
	if (tp->has_src_dst) {
		pr_ip(model_family(&tp->src), tp->src.a, s, sizeof(s));
		pr_ip(model_family(&tp->dst), tp->dst.a, d, sizeof(d));
	} else {
		pr_ip(k->family, k->src, s, sizeof(s));
		pr_ip(k->family, k->dst, d, sizeof(d));
	}
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "acquire");
	pr_uint(pr, PR_ANY, "seq", " seq %" PRIu64, a->seq);
	pr_str(pr, PR_ANY, "src", " src %s", s);
	pr_str(pr, PR_ANY, "dst", " dst %s", d);
	pr_str(pr, PR_ANY, "proto", " proto %s", "esp");
	pr_uint(pr, PR_ANY, "reqid", " reqid %" PRIu64, tp->reqid);
	pr_str(pr, PR_ANY, "mode", " mode %s",
	       tp->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel");
	pr_uint(pr, PR_ANY, "policy_index", " policy-index %" PRIu64, a->pol->index);
	acquire_sel(&sel, a->pol, k);
	pr_text(pr, " sel ");
	view_sel(pr, "sel", &sel);
	view_pkt(pr, k);
	pr_obj_close(pr);
}

struct expire_desc {
	const struct model_sa *sa;
	bool hard;
};

static void
describe_expire(struct pr *pr, const void *arg)
{
	const struct expire_desc *e = arg;
	const struct model_sa_cfg *c = &e->sa->cfg;
	char s[64], d[64], spi[16];

	snprintf(spi, sizeof(spi), "0x%08x", c->spi);
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "expire");
	pr_bool(pr, PR_JSON, "hard", "", e->hard);
	pr_text(pr, " %s", e->hard ? "hard" : "soft");
	pr_str(pr, PR_ANY, "src", " src %s", pr_ip(model_family(&c->src), c->src.a, s, sizeof(s)));
	pr_str(pr, PR_ANY, "dst", " dst %s", pr_ip(model_family(&c->dst), c->dst.a, d, sizeof(d)));
	pr_str(pr, PR_ANY, "proto", " proto %s", "esp");
	pr_str(pr, PR_ANY, "spi", " spi %s", spi);
	pr_uint(pr, PR_ANY, "reqid", " reqid %" PRIu64, c->reqid);
	pr_str(pr, PR_JSON, "dir", "", e->sa->dir == CFG_DIR_OUT ? "out" : "in");
	pr_obj_close(pr);
}

static void
describe_invalid_spi(struct pr *pr, const void *arg)
{
	const struct gw_event *e = arg;
	char s[64], d[64], spi[16];

	snprintf(spi, sizeof(spi), "0x%08x", e->spi);
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "invalid-spi");
	pr_str(pr, PR_ANY, "src", " src %s", pr_ip(e->pkt.family, e->pkt.src, s, sizeof(s)));
	pr_str(pr, PR_ANY, "dst", " dst %s", pr_ip(e->pkt.family, e->pkt.dst, d, sizeof(d)));
	pr_str(pr, PR_ANY, "spi", " spi %s", spi);
	pr_str(pr, PR_ANY, "encap", " encap %s", e->encap ? "espinudp" : "none");
	pr_obj_close(pr);
}

struct mapping_desc {
	const struct model_sa *sa;
	const struct gw_event *e;
};

/* `mapping src SA-SRC dst SA-DST spi 0x... new-src IP new-sport N`: the
 * SA as it is configured, and where its peer's packets come from now. */
static void
describe_mapping(struct pr *pr, const void *arg)
{
	const struct mapping_desc *d = arg;
	const struct model_sa_cfg *c = &d->sa->cfg;
	char s[64], n[64], spi[16];

	snprintf(spi, sizeof(spi), "0x%08x", c->spi);
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "mapping");
	pr_str(pr, PR_ANY, "src", " src %s", pr_ip(model_family(&c->src), c->src.a, s, sizeof(s)));
	pr_str(pr, PR_ANY, "dst", " dst %s", pr_ip(model_family(&c->dst), c->dst.a, s, sizeof(s)));
	pr_str(pr, PR_ANY, "spi", " spi %s", spi);
	pr_str(pr, PR_ANY, "new_src", " new-src %s",
	       pr_ip(d->e->pkt.family, d->e->pkt.src, n, sizeof(n)));
	pr_uint(pr, PR_ANY, "new_sport", " new-sport %" PRIu64, ntohs(d->e->pkt.sport));
	pr_obj_close(pr);
}

/* ---- larval entries ---------------------------------------------------- */

/* Tell every worker holding packets for @p lv what to do with them. A
 * full ring loses the command; the worker's own scan then finds the SA,
 * or its packets outlive acquire-expires, and it acts alone. */
static void
tell(struct events *ev, const struct larval *lv, enum gw_hold_op op)
{
	struct gw_hold_cmd c = { .key = lv->key, .op = op };
	unsigned int i;

	for (i = 0; i < pub_n_contexts(ev->pub); i++) {
		struct gw_worker *w = pub_context(ev->pub, i);

		if (w == NULL || !(lv->all || (i < 64 && (lv->workers & (1ull << i)))))
			continue;
		(void)rte_ring_enqueue_elem(w->cmd, &c, sizeof(c));
	}
}

static void
larval_free(struct events *ev, struct larval *lv)
{
	uint32_t slot = lv->slot;

	hmap_del(&ev->by_key, &lv->key);
	ev->list[slot] = ev->list[--ev->n];
	ev->list[slot]->slot = slot;
	free(lv);
	ev->pub->acquire_pending = ev->n;
}

/* The ACQUIRE expired or went unheard: its packets are dropped (and
 * counted) where they wait. */
static void
larval_drop(struct events *ev, struct larval *lv)
{
	tell(ev, lv, GW_HOLD_DROP);
	larval_free(ev, lv);
}

/* Model hook: key @p fk now leads to an SA the workers can see. */
static void
flow_ready(void *arg, const struct gw_flow_key *fk)
{
	struct events *ev = arg;
	void **v = hmap_find(&ev->by_key, fk);

	if (v == NULL)
		return;
	tell(ev, *v, GW_HOLD_RELEASE);
	larval_free(ev, *v);
}

/* Model hook: the flow key of pending ACQUIRE @p seq. */
static bool
acquire_key(void *arg, uint32_t seq, struct gw_flow_key *fk)
{
	struct events *ev = arg;
	uint32_t i;

	for (i = 0; i < ev->n; i++) {
		if (ev->list[i]->seq == seq) {
			*fk = ev->list[i]->key;
			return true;
		}
	}
	return false;
}

static struct larval *
larval_new(struct events *ev, const struct gw_flow_key *fk, uint8_t pfp)
{
	struct larval *lv;

	if (ev->n >= LARVAL_MAX)
		return NULL;
	if (GROW(ev->list, ev->n, ev->cap) < 0)
		return NULL;
	lv = calloc(1, sizeof(*lv));
	if (lv == NULL)
		return NULL;
	lv->key = *fk;
	lv->pfp = pfp;
	lv->seq = ++ev->next_seq;
	lv->born = ev->pub->model->now_ns();
	lv->deaf = !((ev->heard_text | ev->heard_json) & CFG_MON_ACQUIRE);
	if (hmap_put(&ev->by_key, fk, lv) < 0) {
		free(lv);
		return NULL;
	}
	lv->slot = ev->n;
	ev->list[ev->n++] = lv;
	ev->pub->acquire_pending = ev->n;
	return lv;
}

static void expire(struct events *ev, struct model_sa *s, bool hard);

/* A worker holds packets for a key it had not announced yet. */
static void
on_miss(struct events *ev, const struct gw_event *e)
{
	const struct model_pol *mp = model_policy(ev->pub->model, e->policy);
	struct larval one = { .workers = 1ull << (e->worker & 63), .all = e->worker >= 64 };
	struct larval *lv;
	void **v;

	/* Named as the worker keyed it, by the tables it had. */
	gw_flow_key_make(&one.key, e->policy, e->pfp, &e->pkt);
	if (mp == NULL || (uint8_t)mp->cfg.pfp != e->pfp) {
		/* The policy went away, or its pfp changed, while the
		 * notice travelled here (the model runs ahead of the tables
		 * while a rebuild waits): the flow is another now. The
		 * packets go; the next one misses under the tables then. */
		count(ev, CNT_XfrmOutPolError, 1);
		tell(ev, &one, GW_HOLD_DROP);
		return;
	}

	/* An SA may have come between the worker's lookup and now. One
	 * that is spent (a hard limit, or out of sequence numbers) whose
	 * EXPIRE the event ring refused is expired here, so the flow
	 * ACQUIREs a new one instead of missing for ever. */
	{
		struct model_sa *s = model_flow_sa(ev->pub->model, &one.key);
		struct gw_sa *gw = s != NULL ? s->dp : NULL;

		if (gw != NULL && gw_sa_usable(gw)) {
			tell(ev, &one, GW_HOLD_RELEASE);
			return;
		}
		if (gw != NULL && !gw->dead &&
		    !__atomic_exchange_n(&gw->hard_sent, 1, __ATOMIC_RELAXED))
			expire(ev, s, true);
	}

	v = hmap_find(&ev->by_key, &one.key);
	if (v != NULL) {
		lv = *v;
	} else {
		struct acquire_desc a = { .pol = &mp->cfg, .pkt = &e->pkt };

		lv = larval_new(ev, &one.key, (uint8_t)mp->cfg.pfp);
		if (lv == NULL) {
			count(ev, CNT_XfrmAcquireError, 1);
			tell(ev, &one, GW_HOLD_DROP);
			return;
		}
		a.seq = lv->seq;
		count(ev, CNT_AcquireSent, 1);
		emit(ev, CFG_MON_ACQUIRE, describe_acquire, &a);
	}
	lv->workers |= one.workers;
	lv->all |= one.all;
}

void
events_listening(struct events *ev, uint32_t text, uint32_t json)
{
	uint32_t now = (text | json) & ~(ev->heard_text | ev->heard_json), i;

	if (now & CFG_MON_ACQUIRE) {
		for (i = 0; i < ev->n;) {
			if (ev->list[i]->deaf)
				larval_drop(ev, ev->list[i]); /* refills slot i */
			else
				i++;
		}
	}
	if (now & CFG_MON_INVALID_SPI) {
		/* Forget which SPIs were reported (here and, through the
		 * generation, in every worker): the next packet of an unknown
		 * SPI reaches the new monitor at once, not a second later. */
		memset(&ev->spi_seen, 0, sizeof(ev->spi_seen));
		__atomic_add_fetch(&ev->pub->shared.spi_limit_gen, 1, __ATOMIC_RELEASE);
	}
	ev->heard_text = text;
	ev->heard_json = json;
}

/* ---- expiry ------------------------------------------------------------ */

/* Raise EXPIRE; a hard one removes the SA, and later packets miss and
 * ACQUIRE again. */
static void
expire(struct events *ev, struct model_sa *s, bool hard)
{
	struct expire_desc d = { .sa = s, .hard = hard };

	/* One soft EXPIRE a lifetime: a record replaced while its workers
	 * still counted (the rest of a burst, a cryptodev's pending ops)
	 * may cross a soft limit its successor crosses again. */
	if (!hard) {
		if (s->soft_raised)
			return;
		s->soft_raised = true;
	}

	emit(ev, CFG_MON_EXPIRE, describe_expire, &d);
	if (hard)
		model_sa_remove(ev->pub->model, s);
}

static void
on_expire(struct events *ev, const struct gw_event *e)
{
	struct cfg_addr dst = { .af = model_af(e->pkt.family) };
	struct model_sa *s;

	memcpy(dst.a, e->pkt.dst, 16);
	dst.len = e->pkt.family == 6 ? 128 : 32;
	/* The SA may have been replaced or deleted since. */
	s = model_sa_by_handle(ev->pub->model, &dst, e->spi, e->policy);
	if (s == NULL)
		return;
	expire(ev, s, e->hard);
}

/* SA time limits, soft and hard, from the model's timers (RFC 4301
 * 4.4.2.1), counted from the add with sub-second precision. A soft limit
 * raises one soft EXPIRE per SA, whichever limit comes first. */
static void
time_limits(struct events *ev)
{
	struct gw_model *m = ev->pub->model;
	uint64_t now = m->now_ns();
	struct model_sa *s;
	bool hard;

	while ((s = model_time_due(m, now, &hard)) != NULL) {
		struct gw_sa *gw = s->dp; /* NULL only without a data plane */

		/* The flags are the workers' too (check_limits() in
		 * worker_priv.h): a soft limit of bytes or packets reached at
		 * the same time raises one event between them. */
		if (hard) {
			if (gw != NULL)
				__atomic_store_n(&gw->hard_sent, 1, __ATOMIC_RELAXED);
			expire(ev, s, true);
		} else if (gw == NULL || !__atomic_exchange_n(&gw->soft_sent, 1, __ATOMIC_RELAXED)) {
			expire(ev, s, false);
		}
	}
}

/* A NAT-T peer's new mapping (esp_in.c noted it once per change). espd
 * leaves the SA as it is: the key manager answers with `state migrate`,
 * as XFRM_MSG_MAPPING works in Linux. */
static void
on_mapping(struct events *ev, const struct gw_event *e)
{
	struct cfg_addr dst = { .af = model_af(e->pkt.family) };
	struct mapping_desc d = { .e = e };

	memcpy(dst.a, e->pkt.dst, 16);
	dst.len = e->pkt.family == 6 ? 128 : 32;
	/* The SA may have been replaced, moved or deleted since. */
	d.sa = model_sa_by_handle(ev->pub->model, &dst, e->spi, e->policy);
	if (d.sa == NULL)
		return;
	count(ev, CNT_MappingEvents, 1);
	emit(ev, CFG_MON_MAPPING, describe_mapping, &d);
}

static void
on_invalid_spi(struct events *ev, const struct gw_event *e)
{
	/* At most one per (src, SPI) per second across all workers (each
	 * worker applies the same limit before its ring). */
	if (!spi_limit_allow(&ev->spi_seen, e->spi, e->pkt.family, e->pkt.src,
			     ev->pub->model->now_ns(), 1000000000ull))
		return;
	count(ev, CNT_InvalidSpiEvents, 1);
	emit(ev, CFG_MON_INVALID_SPI, describe_invalid_spi, e);
}

/* ---- the layer --------------------------------------------------------- */

struct events *
events_new(struct pub *p)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	ev->pub = p;
	ev->heard_text = ev->heard_json = CFG_MON_ALL;
	hmap_init(&ev->by_key, sizeof(struct gw_flow_key));
	p->model->hooks.flow_ready = flow_ready;
	p->model->hooks.acquire_key = acquire_key;
	p->model->hooks.arg = ev;
	return ev;
}

unsigned int
events_poll(struct events *ev)
{
	struct pub *p = ev->pub;
	struct gw_event e[32];
	unsigned int i, n, k, total = 0;
	uint64_t now;

	/* EVENTS_BUDGET bursts a worker a call, as exc_poll() takes its
	 * rings: a flood of misses or unknown SPIs cannot hold lcore 0. */
	for (i = 0; i < pub_n_contexts(p); i++) {
		unsigned int b = 0;

		if (pub_context(p, i) == NULL)
			continue;
		while (b++ < EVENTS_BUDGET &&
		       (n = rte_ring_dequeue_burst_elem(pub_context(p, i)->events, e,
							sizeof(e[0]), 32, NULL)) > 0) {
			total += n;
			for (k = 0; k < n; k++) {
				switch (e[k].type) {
				case GW_EV_MISS:
					on_miss(ev, &e[k]);
					break;
				case GW_EV_EXPIRE:
					on_expire(ev, &e[k]);
					break;
				case GW_EV_INVALID_SPI:
					on_invalid_spi(ev, &e[k]);
					break;
				case GW_EV_MAPPING:
					on_mapping(ev, &e[k]);
					break;
				default:
					break;
				}
			}
		}
	}

	/* Read the clock after the events: a larval entry they created
	 * must not look older than the clock (unsigned wrap). */
	now = p->model->now_ns();
	if (now - ev->last_scan >= SCAN_NS) {
		uint64_t life = (uint64_t)p->model->acquire_expires * 1000000000ull;

		ev->last_scan = now;
		for (i = 0; i < ev->n;) {
			if (now - ev->list[i]->born >= life)
				larval_drop(ev, ev->list[i]); /* refills slot i */
			else
				i++;
		}
	}
	time_limits(ev);
	pub_reclaim(p);
	return total;
}

void
events_free(struct events *ev)
{
	struct event_out e;
	unsigned int i;

	if (ev == NULL)
		return;
	/* Whatever the workers left in the rings, then the held packets. */
	events_poll(ev);
	ev->pub->model->hooks.flow_ready = NULL;
	ev->pub->model->hooks.acquire_key = NULL;
	while (ev->n > 0)
		larval_free(ev, ev->list[ev->n - 1]);
	/* The workers have stopped (each dropped its own on the way out):
	 * what is left is lcore 0's, or a test's worker that never ran. */
	for (i = 0; i < pub_n_contexts(ev->pub); i++)
		if (pub_context(ev->pub, i) != NULL)
			gw_hold_drop_all(pub_context(ev->pub, i));
	/* Fragments waiting for the rest of their packet die too, counted,
	 * so nothing is held when the counters are written. */
	for (i = 0; i < pub_n_contexts(ev->pub); i++)
		if (pub_context(ev->pub, i) != NULL && pub_context(ev->pub, i)->frag != NULL)
			ev->pub->ctl_cnt.c[CNT_ReassemblyFailed] +=
				frag_in_maintain(pub_context(ev->pub, i)->frag, UINT64_MAX);
	while (events_next(ev, &e))
		event_out_free(&e);
	hmap_free(&ev->by_key);
	sb_free(&ev->scratch);
	free(ev->out);
	free(ev->list);
	free(ev);
}
