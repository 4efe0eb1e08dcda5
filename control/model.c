/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's model (see model.h): commands in, books kept in
 * plain C, the data plane told through model_ops. Errors are -errno with
 * a message in the cfg_error, unwinding with goto (STYLE.md habit 12).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "control/grow.h"
#include "control/model.h"

#define NSEC 1000000000ull

/* Key of the SA index: (dst, spi), as ip xfrm names an SA. */
struct sa_id {
	uint8_t af;
	uint8_t pad[3];
	uint32_t spi;
	uint8_t dst[16];
};

/* An SPI held by `state allocspi`. */
struct model_reservation {
	struct cfg_addr dst;
	uint64_t expires_ns;
};

/* One time limit of one SA, in a min-heap by deadline. It names the SA
 * by (dst, spi) and generation, never by pointer: the SA may be gone by
 * the time the deadline comes. */
struct model_timer {
	uint64_t at_ns;
	uint64_t gen;
	uint32_t limit_gen;
	uint8_t hard;
	struct sa_id id;
};

uint64_t
model_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

bool
model_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->af == b->af && memcmp(a->a, b->a, model_addr_bytes(a)) == 0;
}

void
model_algo_params(const struct cfg_algo *a, struct crypto_algo_params *p)
{
	memset(p, 0, sizeof(*p));
	p->cipher = (enum crypto_cipher)a->cipher;
	p->auth = (enum crypto_auth)a->auth;
	p->cipher_key = a->cipher_key;
	p->cipher_key_len = a->cipher_key_len;
	p->auth_key = a->auth_key;
	p->auth_key_len = a->auth_key_len;
	p->icv_len = a->icv_len;
}

static void
sa_id_make(struct sa_id *k, const struct cfg_addr *dst, uint32_t spi)
{
	memset(k, 0, sizeof(*k));
	k->af = dst->af;
	k->spi = spi;
	memcpy(k->dst, dst->a, model_addr_bytes(dst));
}

/* The keys the indexes find a record by, made from the record itself
 * (struct hset): no index keeps a copy. */
static const void *
sa_id_of(const void *obj, void *buf)
{
	const struct model_sa *s = obj;

	sa_id_make(buf, &s->cfg.dst, s->cfg.spi);
	return buf;
}

static const void *
spi_of(const void *obj, void *buf)
{
	(void)buf;
	return &((const struct model_sa *)obj)->cfg.spi;
}

static const void *
flow_key_of(const void *obj, void *buf)
{
	(void)buf;
	return &((const struct model_flow *)obj)->key;
}

/* ---- an SA's configuration, kept compact ------------------------------ */

/* A million of each: bench/RESULTS.md counts the bytes. */
_Static_assert(sizeof(struct model_sa) <= 224, "the control record stays at 224 bytes");
_Static_assert(sizeof(struct model_flow) == 64, "a flow is its key, its SA and a count");
_Static_assert(CFG_SA_HAS_LIMIT <= UINT16_MAX && CFG_SA_F_DONT_ENCAP_DSCP <= UINT8_MAX &&
	       CFG_REPLAY_WINDOW_MAX <= UINT16_MAX && CFG_CIPHER_KEY_MAX <= UINT8_MAX,
	       "struct model_sa_cfg's narrow fields hold what the grammar allows");

/* The out-of-line part of @p s, or NULL when it has nothing to keep
 * there (no limit, no sequence number to start from, no HMAC key). */
static struct model_sa_extra *
extra_make(const struct cfg_state *s, int *rc)
{
	const struct cfg_algo *a = &s->algo;
	struct model_sa_extra *x;

	*rc = 0;
	if (s->limit_set == 0 && a->auth_key_len == 0 && s->replay_seq == 0 &&
	    s->replay_seq_hi == 0 && s->replay_oseq == 0 && s->replay_oseq_hi == 0)
		return NULL;
	x = malloc(sizeof(*x) + a->auth_key_len);
	if (x == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	memcpy(x->limit, s->limit, sizeof(x->limit));
	x->limit_set = s->limit_set;
	x->replay_seq = s->replay_seq;
	x->replay_seq_hi = s->replay_seq_hi;
	x->replay_oseq = s->replay_oseq;
	x->replay_oseq_hi = s->replay_oseq_hi;
	x->auth_key_len = a->auth_key_len;
	memcpy(x->auth_key, a->auth_key, a->auth_key_len);
	return x;
}

static void
extra_free(struct model_sa_extra *x)
{
	if (x == NULL)
		return;
	explicit_bzero(x, sizeof(*x) + x->auth_key_len);
	free(x);
}

/* @p c as configuration @p s says. @return 0 or -ENOMEM (nothing kept). */
static int
sa_cfg_make(struct model_sa_cfg *c, const struct cfg_state *s)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->x = extra_make(s, &rc);
	if (rc < 0)
		return rc;
	c->src = s->src;
	c->dst = s->dst;
	c->spi = s->spi;
	c->reqid = s->reqid;
	c->seq = s->seq;
	c->has = (uint16_t)s->has;
	c->replay_window = (uint16_t)s->replay_window;
	c->encap_sport = s->encap_sport;
	c->encap_dport = s->encap_dport;
	c->mode = s->mode;
	c->flags = (uint8_t)s->flags;
	c->sel = s->sel;
	c->algo.cipher = s->algo.cipher;
	c->algo.auth = s->algo.auth;
	c->algo.cipher_key_len = (uint8_t)s->algo.cipher_key_len;
	c->algo.icv_len = (uint8_t)s->algo.icv_len;
	memcpy(c->algo.cipher_key, s->algo.cipher_key, s->algo.cipher_key_len);
	return 0;
}

/* Wipe @p c and free its out-of-line part. */
static void
sa_cfg_clear(struct model_sa_cfg *c)
{
	extra_free(c->x);
	explicit_bzero(c, sizeof(*c));
}

void
model_sa_state(const struct model_sa *s, struct cfg_state *out)
{
	const struct model_sa_cfg *c = &s->cfg;
	const struct model_sa_extra *x = c->x;

	memset(out, 0, sizeof(*out));
	out->src = c->src;
	out->dst = c->dst;
	out->spi = c->spi;
	out->has = c->has;
	out->dir = s->dir;
	out->mode = c->mode;
	out->flags = c->flags;
	out->reqid = c->reqid;
	out->seq = c->seq;
	out->replay_window = c->replay_window;
	out->encap_sport = c->encap_sport;
	out->encap_dport = c->encap_dport;
	/* encap_oa is not kept: nothing reads it. */
	out->sel = c->sel;
	model_sa_algo(s, &out->algo);
	if (x == NULL)
		return;
	out->limit_set = x->limit_set;
	memcpy(out->limit, x->limit, sizeof(out->limit));
	out->replay_seq = x->replay_seq;
	out->replay_seq_hi = x->replay_seq_hi;
	out->replay_oseq = x->replay_oseq;
	out->replay_oseq_hi = x->replay_oseq_hi;
}

void
model_sa_algo(const struct model_sa *s, struct cfg_algo *out)
{
	const struct model_sa_cfg *c = &s->cfg;

	memset(out, 0, sizeof(*out));
	out->cipher = c->algo.cipher;
	out->auth = c->algo.auth;
	out->cipher_key_len = c->algo.cipher_key_len;
	out->icv_len = c->algo.icv_len;
	memcpy(out->cipher_key, c->algo.cipher_key, c->algo.cipher_key_len);
	if (c->x == NULL)
		return;
	out->auth_key_len = c->x->auth_key_len;
	memcpy(out->auth_key, c->x->auth_key, c->x->auth_key_len);
}

/* ---- life of the model ------------------------------------------------ */

int
model_init(struct gw_model *m, enum crypto_engine_kind engine, uint32_t max_sas)
{
	memset(m, 0, sizeof(*m));
	m->engine = engine;
	m->now_ns = model_clock_ns;
	m->max_sas = max_sas;
	m->next_index = 1;
	m->next_sa_id = 1;
	m->acquire_expires = 30;
	m->acquire_queue = 16;
	m->acquire_queue_total = 65536;
	m->allocspi_expires = 300;
	m->worker_idle = CFG_IDLE_POLL;
	m->out_sa = CFG_OUT_SA_OWNER;
	m->icmp_ratelimit = 1000;
	m->neigh_reachable = 30;
	/* The records come from slabs: no malloc header on each of a
	 * million (control/slab.h). */
	if (hset_init(&m->sa_by_id, sizeof(struct sa_id), sa_id_of) < 0 ||
	    hset_init(&m->spi_in, sizeof(uint32_t), spi_of) < 0 ||
	    hset_init(&m->flows, sizeof(struct gw_flow_key), flow_key_of) < 0 ||
	    slab_init(&m->sa_slab, sizeof(struct model_sa), alignof(struct model_sa),
		      max_sas, &slab_libc_ops, NULL) < 0 ||
	    slab_init(&m->flow_slab, sizeof(struct model_flow), alignof(struct model_flow),
		      0, &slab_libc_ops, NULL) < 0)
		return -EINVAL;
	hmap_init(&m->reserved, sizeof(uint32_t));
	hmap_init(&m->pol_sels, sizeof(struct pol_sel_key));
	if (getrandom(&m->rand_state, sizeof(m->rand_state), 0) != sizeof(m->rand_state))
		m->rand_state = real_ns();
	m->rand_state |= 1;
	return 0;
}

void
model_set_ops(struct gw_model *m, const struct model_ops *ops, void *arg)
{
	m->ops = ops;
	m->ops_arg = arg;
}

static void
model_sa_free(struct gw_model *m, struct model_sa *s)
{
	if (s->cap_flows > 1)
		free(s->fl.many);
	sa_cfg_clear(&s->cfg); /* the keys */
	explicit_bzero(s, sizeof(*s));
	(void)slab_free(&m->sa_slab, s);
}

static void
free_values(struct hmap *h)
{
	const void *k;
	void *v;
	size_t i = 0;

	while (hmap_next(h, &i, &k, &v))
		free(v);
	hmap_free(h);
}

void
model_free(struct gw_model *m)
{
	uint32_t i;

	for (i = 0; i < m->n_sas; i++) {
		if (m->ops != NULL && m->ops->sa_destroy != NULL && m->sas[i]->dp != NULL)
			m->ops->sa_destroy(m->ops_arg, m->sas[i]);
		model_sa_free(m, m->sas[i]);
	}
	hset_free(&m->sa_by_id);
	hset_free(&m->spi_in);
	hset_free(&m->flows);
	slab_fini(&m->flow_slab);
	slab_fini(&m->sa_slab);
	free_values(&m->reserved);
	hmap_free(&m->pol_sels);
	free(m->timers);
	free(m->sas);
	free(m->pols);
	free(m->routes);
	free(m->neighs);
	memset(m, 0, sizeof(*m));
}

/* ---- lookups ---------------------------------------------------------- */

struct model_sa *
model_sa_find(const struct gw_model *m, const struct cfg_addr *dst, uint32_t spi)
{
	struct sa_id k;

	sa_id_make(&k, dst, spi);
	return hset_find(&m->sa_by_id, &k);
}

static struct model_sa *
model_sa_find_id(const struct gw_model *m, const struct sa_id *k)
{
	return hset_find(&m->sa_by_id, k);
}

struct model_sa *
model_sa_by_handle(const struct gw_model *m, const struct cfg_addr *dst,
		   uint32_t spi, uint32_t id)
{
	struct model_sa *s = model_sa_find(m, dst, spi);

	return s != NULL && s->id == id ? s : NULL;
}

const struct model_pol *
model_policy(const struct gw_model *m, uint32_t index)
{
	uint32_t i;

	/* policy add asks for every new index: past the highest ever given,
	 * none is in use, so 100k adds need no 100k scans (O(n^2)). */
	if (index > m->pol_index_max)
		return NULL;
	for (i = 0; i < m->n_pols; i++)
		if (m->pols[i].cfg.index == index)
			return &m->pols[i];
	return NULL;
}

struct model_sa *
model_flow_sa(const struct gw_model *m, const struct gw_flow_key *fk)
{
	const struct model_flow *f = hset_find(&m->flows, fk);

	return f != NULL ? f->sa : NULL;
}

bool
model_sa_satisfies(const struct model_sa *s, const struct cfg_tmpl *t)
{
	if (s->dir != CFG_DIR_OUT)
		return false;
	if ((t->mode == CFG_MODE_TRANSPORT) != (s->cfg.mode == CFG_MODE_TRANSPORT))
		return false;
	if (t->reqid != 0 && t->reqid != s->cfg.reqid)
		return false;
	if (t->has_spi && t->spi != s->cfg.spi)
		return false;
	if (t->has_src_dst &&
	    (!model_addr_eq(&t->src, &s->cfg.src) || !model_addr_eq(&t->dst, &s->cfg.dst)))
		return false;
	return true;
}

static bool
pol_protects_out(const struct model_pol *p)
{
	return p->cfg.dir == CFG_DIR_OUT && p->cfg.action == CFG_ACTION_ALLOW &&
	       p->cfg.has_tmpl;
}

static bool
sel_single_port(bool has, uint16_t lo, uint16_t hi)
{
	return has && lo == hi;
}

bool
model_flow_key(const struct model_pol *p, const struct model_sa *s,
	       struct gw_flow_key *fk)
{
	const struct cfg_sel *sel = &s->cfg.sel;
	uint8_t pfp = (uint8_t)p->cfg.pfp;
	struct flow_key k = { 0 };

	if (pfp != 0) {
		unsigned int full = sel->src.af == AF_INET6 ? 128 : 32;
		/* A protocol without ports (GRE, ESP...) keys its flow with
		 * ports 0, as the workers read them: the SA has none. */
		bool portless = sel->proto != 0 && cfg_l4_of(sel->proto) == CFG_L4_NONE;

		if (!(s->cfg.has & CFG_SA_HAS_SEL))
			return false;
		if (((pfp & PFP_SRC) && sel->src.len != full) ||
		    ((pfp & PFP_DST) && sel->dst.len != full) ||
		    ((pfp & PFP_PROTO) && sel->proto == 0) ||
		    ((pfp & PFP_SPORT) && !portless &&
		     !sel_single_port(sel->has_sport, sel->sport_lo, sel->sport_hi)) ||
		    ((pfp & PFP_DPORT) && !portless &&
		     !sel_single_port(sel->has_dport, sel->dport_lo, sel->dport_hi)))
			return false;
		k.family = model_family(&sel->src);
		memcpy(k.src, sel->src.a, 16);
		memcpy(k.dst, sel->dst.a, 16);
		k.proto = sel->proto;
		k.sport = htons(sel->sport_lo);
		k.dport = htons(sel->dport_lo);
	}
	gw_flow_key_make(fk, p->cfg.index, pfp, &k);
	return true;
}

/* ---- the flow index --------------------------------------------------- */

/* Each flow-table key is kept once, in its struct model_flow: the index
 * (m->flows) finds it by that key, and the SAs that can serve it point
 * at it. A flow lives while some SA lists it (cand > 0). */
static struct model_flow *
flow_get(struct gw_model *m, const struct gw_flow_key *fk, bool create)
{
	struct model_flow *f = hset_find(&m->flows, fk);

	if (f != NULL || !create)
		return f;
	f = slab_alloc(&m->flow_slab);
	if (f == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->key = *fk;
	if (hset_add(&m->flows, f) < 0) {
		(void)slab_free(&m->flow_slab, f);
		return NULL;
	}
	return f;
}

static void
flow_drop(struct gw_model *m, struct model_flow *f)
{
	hset_del(&m->flows, &f->key);
	(void)slab_free(&m->flow_slab, f);
}

/* Point flow @p f at SA @p s (replacing, atomically for readers, whatever
 * it pointed at: make before break). Packets held for the flow are
 * released then (model_hooks). */
static int
flow_point(struct gw_model *m, struct model_flow *f, struct model_sa *s)
{
	int rc = 0;

	if (m->ops != NULL && m->ops->flow_set != NULL)
		rc = m->ops->flow_set(m->ops_arg, &f->key, s);
	if (rc == 0)
		f->sa = s;
	if (rc == 0 && m->hooks.flow_ready != NULL)
		m->hooks.flow_ready(m->hooks.arg, &f->key);
	return rc;
}

/* The key no longer leads anywhere. */
static void
flow_unpoint(struct gw_model *m, struct model_flow *f)
{
	if (m->ops != NULL && m->ops->flow_del != NULL)
		m->ops->flow_del(m->ops_arg, &f->key);
	f->sa = NULL;
}

static struct model_flow **
sa_flows(struct model_sa *s)
{
	return s->cap_flows <= 1 ? &s->fl.one : s->fl.many;
}

/* Room for one more flow of @p s. A per-flow (PFP) SA has exactly one,
 * kept in place of the array pointer; others get an array when they
 * take a second, doubled as it fills. */
static int
flows_grow(struct model_sa *s)
{
	struct model_flow **arr;
	uint16_t cap;

	if (s->n_flows < s->cap_flows)
		return 0;
	if (s->cap_flows == 0) {
		s->cap_flows = 1;
		return 0;
	}
	if (s->cap_flows >= UINT16_MAX / 2)
		return -ENOMEM;
	cap = (uint16_t)(s->cap_flows * 2);
	if (s->cap_flows == 1) {
		arr = malloc(cap * sizeof(*arr));
		if (arr != NULL)
			arr[0] = s->fl.one;
	} else {
		arr = realloc(s->fl.many, cap * sizeof(*arr));
	}
	if (arr == NULL)
		return -ENOMEM;
	s->fl.many = arr;
	s->cap_flows = cap;
	return 0;
}

/* Does SA @p s list flow @p f? */
static bool
sa_has_flow(struct model_sa *s, const struct model_flow *f)
{
	uint16_t i;

	for (i = 0; i < s->n_flows; i++)
		if (sa_flows(s)[i] == f)
			return true;
	return false;
}

/* SA @p s can serve key @p fk, and being the newest, takes it. */
static int
flow_attach(struct gw_model *m, struct model_sa *s, const struct gw_flow_key *fk)
{
	struct model_flow *f = flow_get(m, fk, true);

	if (f == NULL)
		return -ENOMEM;
	if (!sa_has_flow(s, f)) {
		if (flows_grow(s) < 0) {
			if (f->cand == 0)
				flow_drop(m, f);
			return -ENOMEM;
		}
		sa_flows(s)[s->n_flows++] = f;
		/* Only PFP keys carry packet fields: a new one is a new flow. */
		if (f->cand++ == 0 && fk->family != 0)
			m->pfp_flows++;
	}
	return flow_point(m, f, s);
}

/* Index outbound SA @p s under every policy it satisfies. */
static int
flow_index_sa(struct gw_model *m, struct model_sa *s)
{
	struct gw_flow_key fk;
	uint32_t i;
	int rc;

	for (i = 0; i < m->n_pols; i++) {
		const struct model_pol *p = &m->pols[i];

		if (!pol_protects_out(p) || !model_sa_satisfies(s, &p->cfg.tmpl) ||
		    !model_flow_key(p, s, &fk))
			continue;
		rc = flow_attach(m, s, &fk);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool
sa_usable(const struct gw_model *m, const struct model_sa *s)
{
	return m->ops == NULL || m->ops->sa_usable == NULL ||
	       m->ops->sa_usable(m->ops_arg, s);
}

/* Flow @p f lost its SA: the newest other SA that fits takes it over, or
 * it leads nowhere. */
static void
flow_refill(struct gw_model *m, struct model_flow *f, const struct model_sa *gone)
{
	const struct model_pol *p = model_policy(m, f->key.policy);
	struct model_sa *best = NULL;
	struct gw_flow_key k2;
	uint32_t i;

	for (i = 0; p != NULL && f->cand > 0 && i < m->n_sas; i++) {
		struct model_sa *s = m->sas[i];

		if (s == gone || !sa_usable(m, s) || !model_sa_satisfies(s, &p->cfg.tmpl) ||
		    !model_flow_key(p, s, &k2) || memcmp(&k2, &f->key, sizeof(k2)) != 0)
			continue;
		if (best == NULL || s->gen > best->gen)
			best = s;
	}
	if (best == NULL || flow_point(m, f, best) < 0)
		flow_unpoint(m, f);
}

/* SA @p s no longer lists flow @p f (the caller took it off its list). */
static void
flow_leave(struct gw_model *m, struct model_flow *f, const struct model_sa *s)
{
	f->cand--;
	if (f->sa == s)
		flow_refill(m, f, s);
	if (f->cand == 0 && f->sa == NULL)
		flow_drop(m, f);
}

/* SA @p s gives up all its flows. */
static void
flow_detach_all(struct gw_model *m, struct model_sa *s)
{
	uint16_t i;

	for (i = 0; i < s->n_flows; i++)
		flow_leave(m, sa_flows(s)[i], s);
	s->n_flows = 0;
}

/* ---- time limits ------------------------------------------------------ */

static bool
timer_before(const struct model_timer *a, const struct model_timer *b)
{
	return a->at_ns < b->at_ns;
}

static bool
timer_live(const struct gw_model *m, const struct model_timer *t)
{
	const struct model_sa *s = hset_find(&m->sa_by_id, &t->id);

	return s != NULL && s->gen == t->gen && s->limit_gen == t->limit_gen;
}

static void
timer_sift_up(struct gw_model *m, uint32_t i, const struct model_timer *t)
{
	for (; i > 0; i = (i - 1) / 2) {
		struct model_timer *up = &m->timers[(i - 1) / 2];

		if (!timer_before(t, up))
			break;
		m->timers[i] = *up;
	}
	m->timers[i] = *t;
}

/* Deleted SAs leave their timers behind until they come due; when those
 * outnumber the live ones, drop them and rebuild the heap. */
static void
timers_compact(struct gw_model *m)
{
	uint32_t i, n = 0;

	for (i = 0; i < m->n_timers; i++) {
		struct model_timer t = m->timers[i];

		if (timer_live(m, &t))
			timer_sift_up(m, n++, &t);
	}
	m->n_timers = n;
}

static int
timer_push(struct gw_model *m, const struct model_timer *t)
{
	if (m->n_timers == m->cap_timers && m->n_timers > 2 * m->n_sas + 64)
		timers_compact(m);
	if (GROW(m->timers, m->n_timers, m->cap_timers) < 0)
		return -ENOMEM;
	timer_sift_up(m, m->n_timers, t);
	m->n_timers++;
	return 0;
}

static void
timer_pop(struct gw_model *m)
{
	struct model_timer last = m->timers[--m->n_timers];
	uint32_t i = 0, n = m->n_timers;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && timer_before(&m->timers[c + 1], &m->timers[c]))
			c++;
		if (!timer_before(&m->timers[c], &last))
			break;
		m->timers[i] = m->timers[c];
		i = c;
	}
	if (n > 0)
		m->timers[i] = last;
}

/* Schedule the time limits of @p s (after an add, or new limits). */
static int
timers_arm(struct gw_model *m, struct model_sa *s)
{
	static const uint8_t which[] = { CFG_LIMIT_TIME_SOFT, CFG_LIMIT_TIME_HARD };
	unsigned int i;

	/* Room for both first: the bump below makes the SA's scheduled
	 * limits stale, and failing after it would leave it with none.
	 * Stale entries go before the array grows, as in timer_push(). */
	if (m->n_timers + 2 > m->cap_timers && m->n_timers > 2 * m->n_sas + 64)
		timers_compact(m);
	if (GROW(m->timers, m->n_timers, m->cap_timers) < 0 ||
	    GROW(m->timers, m->n_timers + 1, m->cap_timers) < 0)
		return -ENOMEM;
	s->limit_gen++;
	s->soft_raised = false;
	for (i = 0; i < 2; i++) {
		struct model_timer t = { .gen = s->gen, .limit_gen = s->limit_gen,
					 .hard = i == 1 };
		uint64_t secs;

		if (!model_sa_limit(&s->cfg, which[i], &secs))
			continue;
		/* Limits beyond 2^64 ns (584 years) never come. */
		if (secs > (UINT64_MAX - s->add_ns) / NSEC)
			continue;
		t.at_ns = s->add_ns + secs * NSEC;
		sa_id_make(&t.id, &s->cfg.dst, s->cfg.spi);
		if (timer_push(m, &t) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct model_sa *
model_time_due(struct gw_model *m, uint64_t now_ns, bool *hard)
{
	while (m->n_timers > 0 && m->timers[0].at_ns <= now_ns) {
		struct model_timer t = m->timers[0];
		struct model_sa *s;

		timer_pop(m);
		/* Gone, replaced by another SA, or given new limits since. */
		if (!timer_live(m, &t))
			continue;
		s = model_sa_find_id(m, &t.id);
		if (!t.hard && s->soft_raised)
			continue;
		*hard = t.hard;
		return s;
	}
	return NULL;
}

/* ---- SAs -------------------------------------------------------------- */

/* DESIGN.md "SAs": without `dir`, inbound when dst is an address of an
 * unprotected port. */
static uint8_t
infer_dir(const struct gw_model *m, const struct cfg_state *s)
{
	unsigned int p, i;

	if (s->dir == CFG_DIR_IN || s->dir == CFG_DIR_OUT)
		return s->dir;
	for (p = 0; p < CFG_PORTS_MAX; p++) {
		if (!m->has_port[p] || m->ports[p].role != CFG_ROLE_UNPROTECTED)
			continue;
		for (i = 0; i < m->ports[p].naddr; i++)
			if (model_addr_eq(&m->ports[p].addr[i], &s->dst))
				return CFG_DIR_IN;
	}
	return CFG_DIR_OUT;
}

/* What the data plane would refuse, judged here so that --check refuses
 * it too (esp_sa_init and crypto_session_init check the same). */
static int
sa_check(const struct gw_model *m, const struct cfg_state *s, uint8_t dir,
	 struct cfg_error *err)
{
	struct crypto_algo_params p;
	int rc;

	model_algo_params(&s->algo, &p);
	rc = crypto_algo_check(m->engine, &p);
	if (rc == -ENOTSUP || rc == -ENODEV)
		return cfg_error_set(err, -1,
				     "the crypto device %s does not offer this algorithm with these key and ICV lengths",
				     crypto_cdev_name() != NULL ? crypto_cdev_name() : "(none open)");
	if (rc < 0)
		return cfg_error_set(err, -1,
				     "the SA's algorithm, keys, addresses or replay settings are not usable together");
	/* RFC 4303 A: ESN infers the high half from the window. */
	if (dir == CFG_DIR_IN && (s->flags & CFG_SA_F_ESN) && s->replay_window == 0)
		return cfg_error_set(err, -1,
				     "an inbound SA with flag esn needs a replay-window above 0");
	return 0;
}

/* Held by allocspi, unexpired? */
static struct model_reservation *
reservation(struct gw_model *m, uint32_t spi)
{
	void **v = hmap_find(&m->reserved, &spi);
	struct model_reservation *r;

	if (v == NULL)
		return NULL;
	r = *v;
	if (m->now_ns() >= r->expires_ns) {
		hmap_del(&m->reserved, &spi);
		free(r);
		return NULL;
	}
	return r;
}

/* Forget the reservation of @p spi: any, or (@p dst not NULL) only the
 * one for @p dst, since SPIs are per destination (an outbound SA the
 * peer numbered may share our inbound reservation's SPI). */
static void
reservation_drop(struct gw_model *m, uint32_t spi, const struct cfg_addr *dst)
{
	void **v = hmap_find(&m->reserved, &spi);

	if (v != NULL &&
	    (dst == NULL || model_addr_eq(&((struct model_reservation *)*v)->dst, dst))) {
		free(*v);
		hmap_del(&m->reserved, &spi);
	}
}

/* Publish: inbound into the SAD by SPI, outbound into the flow table. */
static int
sa_publish(struct gw_model *m, struct model_sa *s)
{
	int rc;

	if (s->dir == CFG_DIR_OUT) {
		struct gw_flow_key fk;

		/* An SA that answers an ACQUIRE by its seq takes that flow
		 * even when its selector is not the flow's own. */
		if ((s->cfg.has & CFG_SA_HAS_SEQ) && m->hooks.acquire_key != NULL &&
		    m->hooks.acquire_key(m->hooks.arg, s->cfg.seq, &fk)) {
			const struct model_pol *p = model_policy(m, fk.policy);

			if (p != NULL && model_sa_satisfies(s, &p->cfg.tmpl)) {
				rc = flow_attach(m, s, &fk);
				if (rc < 0)
					return rc;
			}
		}
		return flow_index_sa(m, s);
	}
	rc = hset_add(&m->spi_in, s);
	if (rc < 0)
		return rc;
	if (m->ops != NULL && m->ops->sad_add != NULL) {
		rc = m->ops->sad_add(m->ops_arg, s);
		if (rc < 0)
			hset_del(&m->spi_in, &s->cfg.spi);
	}
	return rc;
}

void
model_sa_remove(struct gw_model *m, struct model_sa *s)
{
	struct sa_id id;
	uint32_t slot = s->slot;

	if (s->dir == CFG_DIR_IN) {
		if (hset_find(&m->spi_in, &s->cfg.spi) == s) {
			hset_del(&m->spi_in, &s->cfg.spi);
			if (m->ops != NULL && m->ops->sad_del != NULL)
				m->ops->sad_del(m->ops_arg, s);
		}
	} else {
		flow_detach_all(m, s);
	}
	sa_id_make(&id, &s->cfg.dst, s->cfg.spi);
	hset_del(&m->sa_by_id, &id);
	m->sas[slot] = m->sas[--m->n_sas];
	m->sas[slot]->slot = slot;

	/* Freed once every worker has passed a quiescent point (habit 8:
	 * mark dead, wait out the grace period, then free and wipe). */
	if (m->ops != NULL && m->ops->sa_destroy != NULL && s->dp != NULL)
		m->ops->sa_destroy(m->ops_arg, s);
	model_sa_free(m, s);
}

static int
state_add(struct gw_model *m, const struct cfg_state *s, struct cfg_error *err)
{
	struct model_sa *ms;
	uint8_t dir = infer_dir(m, s);
	int rc;

	if (model_sa_find(m, &s->dst, s->spi) != NULL)
		return cfg_error_set(err, -1, "SA with that dst and spi 0x%08x exists",
				     s->spi), -EEXIST;
	/* The fast path finds inbound SAs by SPI alone. */
	if (dir == CFG_DIR_IN && hset_find(&m->spi_in, &s->spi) != NULL)
		return cfg_error_set(err, -1, "inbound spi 0x%08x is already in use",
				     s->spi), -EEXIST;
	rc = sa_check(m, s, dir, err);
	if (rc < 0)
		return rc;
	if (m->n_sas >= m->max_sas)
		return cfg_error_set(err, -1, "SA table full (%u SAs)", m->max_sas),
		       -ENOSPC;
	rc = GROW(m->sas, m->n_sas, m->cap_sas);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	ms = slab_alloc(&m->sa_slab);
	if (ms == NULL)
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	memset(ms, 0, sizeof(*ms));
	if (sa_cfg_make(&ms->cfg, s) < 0) {
		model_sa_free(m, ms);
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	}
	ms->dir = dir;
	ms->gen = m->next_gen++;
	ms->id = m->next_sa_id++;
	ms->add_ns = m->now_ns();
	ms->add_real_ns = real_ns();
	if (m->ops != NULL && m->ops->sa_create != NULL) {
		rc = m->ops->sa_create(m->ops_arg, ms);
		if (rc < 0) {
			model_sa_free(m, ms);
			return cfg_error_set(err, -1, "cannot make the SA: %s",
					     strerror(-rc)), rc;
		}
	}
	rc = hset_add(&m->sa_by_id, ms);
	if (rc < 0)
		goto err_free;
	ms->slot = m->n_sas;
	m->sas[m->n_sas++] = ms;
	rc = sa_publish(m, ms);
	if (rc == 0)
		rc = timers_arm(m, ms);
	if (rc < 0) {
		model_sa_remove(m, ms);
		return cfg_error_set(err, -1, "cannot publish the SA: %s",
				     strerror(-rc)), rc;
	}
	/* A reserved SPI is live now. */
	reservation_drop(m, s->spi, &s->dst);
	return 0;

err_free:
	if (m->ops != NULL && m->ops->sa_destroy != NULL)
		m->ops->sa_destroy(m->ops_arg, ms);
	model_sa_free(m, ms);
	return cfg_error_set(err, -1, "out of memory"), rc;
}

static void
limits_take(struct cfg_state *to, const struct cfg_state *from)
{
	to->limit_set = from->limit_set;
	memcpy(to->limit, from->limit, sizeof(from->limit));
}

/* SA @p s's configuration with update @p u's keys and limits (those it
 * gives) in @p next. @return 0 or -ENOMEM. */
static int
sa_cfg_updated(const struct model_sa *s, const struct cfg_state *u,
	       struct model_sa_cfg *next)
{
	struct cfg_state full;
	int rc;

	model_sa_state(s, &full);
	if (u->has & CFG_SA_HAS_ALGO)
		full.algo = u->algo;
	if (u->has & CFG_SA_HAS_LIMIT)
		limits_take(&full, u);
	rc = sa_cfg_make(next, &full);
	explicit_bzero(&full, sizeof(full));
	return rc;
}

static bool sel_eq(const struct cfg_sel *a, const struct cfg_sel *b);

/* What of `state update` @p s, given for live SA @p old, would change
 * something other than its keys and limits (NULL: nothing). Linux's
 * UPDSA takes such fields without a word and keeps the old ones; here
 * the user hears it. */
static const char *
update_changes(const struct model_sa *old, const struct cfg_state *s)
{
	const struct model_sa_cfg *c = &old->cfg;

	if (!model_addr_eq(&s->src, &c->src))
		return "src";
	if ((s->has & CFG_SA_HAS_DIR) && s->dir != old->dir)
		return "dir";
	if ((s->has & CFG_SA_HAS_MODE) && s->mode != c->mode)
		return "mode";
	if ((s->has & CFG_SA_HAS_REQID) && s->reqid != c->reqid)
		return "reqid";
	if ((s->has & CFG_SA_HAS_FLAGS) && s->flags != c->flags)
		return "flag";
	if ((s->has & CFG_SA_HAS_WINDOW) && s->replay_window != c->replay_window)
		return "replay-window";
	if (s->has & (CFG_SA_HAS_RSEQ | CFG_SA_HAS_ROSEQ | CFG_SA_HAS_RSEQ_HI |
		      CFG_SA_HAS_ROSEQ_HI))
		return "replay sequence number";
	if ((s->has & CFG_SA_HAS_ENCAP) &&
	    (!(c->has & CFG_SA_HAS_ENCAP) || s->encap_sport != c->encap_sport ||
	     s->encap_dport != c->encap_dport))
		return "encap";
	if ((s->has & CFG_SA_HAS_SEL) && !sel_eq(&s->sel, &c->sel))
		return "sel";
	return NULL;
}

/* Do @p a and @p b name the same algorithm with the same keys? */
static bool
algo_same(const struct model_sa_cfg *a, const struct model_sa_cfg *b)
{
	uint16_t la = a->x != NULL ? a->x->auth_key_len : 0;
	uint16_t lb = b->x != NULL ? b->x->auth_key_len : 0;

	return memcmp(&a->algo, &b->algo, sizeof(a->algo)) == 0 && la == lb &&
	       (la == 0 || memcmp(a->x->auth_key, b->x->auth_key, la) == 0);
}

/*
 * state update: new limits apply in place; new keys make a new record in
 * the data plane that takes over the old one's counters and sequence
 * state. An SPI reserved by allocspi becomes live, as by state add (the
 * way XFRM key managers do it: ALLOCSPI, then UPDSA). The new
 * configuration is made whole before anything changes, so running out
 * of memory leaves the SA as it was.
 */
static int
state_update(struct gw_model *m, const struct cfg_state *s, struct cfg_error *err)
{
	struct model_sa *old = model_sa_find(m, &s->dst, s->spi);
	bool rekey = (s->has & CFG_SA_HAS_ALGO) != 0;
	struct model_sa_cfg next, keep;
	struct model_reservation *r;
	const char *what;
	int rc = 0;

	if (old == NULL) {
		r = reservation(m, s->spi);
		if (r == NULL || !model_addr_eq(&r->dst, &s->dst))
			return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
					     s->spi), -ENOENT;
		if (!rekey)
			return cfg_error_set(err, -1,
					     "spi 0x%08x is reserved, not live: its update needs an algorithm (aead, or enc with auth-trunc)",
					     s->spi);
		return state_add(m, s, err);
	}
	what = update_changes(old, s);
	if (what != NULL)
		return cfg_error_set(err, -1,
				     "state update changes only keys and limits, and this %s is not the SA's (state migrate moves src and encap; for the rest, del and add)",
				     what), -EINVAL;
	if (!rekey && !(s->has & CFG_SA_HAS_LIMIT))
		return 0;
	if (rekey && (rc = sa_check(m, s, old->dir, err)) < 0)
		return rc;
	if (sa_cfg_updated(old, s, &next) < 0)
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	keep = old->cfg;
	old->cfg = next; /* show-keys shows the keys in use */
	if (rekey && m->ops != NULL && m->ops->sa_rekey != NULL)
		rc = m->ops->sa_rekey(m->ops_arg, old, algo_same(&keep, &next));
	/* New limits (with or without new keys) re-arm the events. */
	if (rc == 0 && (!rekey || (s->has & CFG_SA_HAS_LIMIT)) && m->ops != NULL &&
	    m->ops->sa_limits != NULL)
		m->ops->sa_limits(m->ops_arg, old);
	if (rc < 0) {
		old->cfg = keep;
		sa_cfg_clear(&next);
		return cfg_error_set(err, -1, "cannot make the SA: %s", strerror(-rc)), rc;
	}
	sa_cfg_clear(&keep);
	explicit_bzero(&next, sizeof(next));
	if ((s->has & CFG_SA_HAS_LIMIT) && timers_arm(m, old) < 0)
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	if (rekey)
		reservation_drop(m, s->spi, &s->dst);
	return 0;
}

/* SA @p s's configuration becomes @p c; when its dst changes (@p moved),
 * the SA index finds it by the new name instead. The index takes it
 * back in the slot it just left, so this cannot fail. */
static void
sa_cfg_rename(struct gw_model *m, struct model_sa *s, const struct model_sa_cfg *c,
	      bool moved)
{
	struct sa_id id;

	if (moved) {
		sa_id_make(&id, &s->cfg.dst, s->cfg.spi);
		hset_del(&m->sa_by_id, &id);
	}
	s->cfg = *c;
	if (moved)
		(void)hset_add(&m->sa_by_id, s);
}

/* The SA @p s would be after `state migrate` @p mg, in @p nc. */
static int
migrate_cfg(const struct model_sa *s, const struct cfg_migrate *mg,
	    struct model_sa_cfg *nc, struct cfg_error *err)
{
	/* Keys, limits and all stay: nc shares s's out-of-line part. */
	*nc = s->cfg;
	if (mg->has_new_src)
		nc->src = mg->new_src;
	if (mg->has_new_dst)
		nc->dst = mg->new_dst;
	if (nc->src.af != nc->dst.af)
		return cfg_error_set(err, -1,
				     "the SA's src and dst would differ in address family "
				     "(give new-src and new-dst together to change it)"),
		       -EAFNOSUPPORT;
	/* A transport-mode SA's addresses are its packets' own: its sel, and
	 * the traffic, are of its family. */
	if (nc->mode == CFG_MODE_TRANSPORT && nc->src.af != s->cfg.src.af)
		return cfg_error_set(err, -1,
				     "a transport-mode SA cannot change address family"),
		       -EAFNOSUPPORT;
	switch (mg->encap) {
	case CFG_MIGRATE_ENCAP_NONE:
		nc->has &= ~CFG_SA_HAS_ENCAP;
		nc->encap_sport = nc->encap_dport = 0;
		break;
	case CFG_MIGRATE_ENCAP_UDP:
		nc->has |= CFG_SA_HAS_ENCAP;
		nc->encap_sport = mg->encap_sport;
		nc->encap_dport = mg->encap_dport;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * state migrate (MOBIKE, NAT rebinding; Linux's XFRM_MSG_MIGRATE for one
 * SA): new outer addresses and/or UDP encapsulation, in place. The keys,
 * the sequence numbers, the replay window, the counters, the lifetimes
 * and the SA's handle all stay; the data plane gets a new record built
 * from them (ops->sa_migrate), published as `state update` publishes.
 * The SA's name (dst, spi) moves with dst, and every index follows it:
 * the SA index takes it under the new name in the slot it had under the
 * old (so that cannot fail), the time limits are re-armed under the new
 * name (still counting from the add), and an outbound SA keeps the flows
 * it serves while its policies' templates catch up (the key manager
 * sends `policy update` next), taking any whose template it now fits.
 */
static int
state_migrate(struct gw_model *m, const struct cfg_migrate *mg,
	      struct cfg_error *err)
{
	struct model_sa *s = model_sa_find(m, &mg->dst, mg->spi);
	struct model_sa_cfg old, nc;
	bool moved, soft_done;
	int rc;

	memset(&old, 0, sizeof(old));
	if (s == NULL || !model_addr_eq(&s->cfg.src, &mg->src))
		return cfg_error_set(err, -1, "no SA with that src, dst and spi 0x%08x",
				     mg->spi), -ENOENT;
	rc = migrate_cfg(s, mg, &nc, err);
	if (rc < 0)
		goto out;
	/* Nothing to change (a key manager repeating itself): no new
	 * record, so no sequence numbers skipped. */
	if (model_addr_eq(&nc.src, &s->cfg.src) && model_addr_eq(&nc.dst, &s->cfg.dst) &&
	    (nc.has & CFG_SA_HAS_ENCAP) == (s->cfg.has & CFG_SA_HAS_ENCAP) &&
	    nc.encap_sport == s->cfg.encap_sport && nc.encap_dport == s->cfg.encap_dport)
		goto out;
	moved = !model_addr_eq(&nc.dst, &s->cfg.dst);
	if (moved && model_sa_find(m, &nc.dst, nc.spi) != NULL) {
		rc = cfg_error_set(err, -1, "an SA with the new dst and spi 0x%08x exists",
				   nc.spi);
		rc = -EEXIST;
		goto out;
	}
	old = s->cfg;
	sa_cfg_rename(m, s, &nc, moved);
	if (m->ops != NULL && m->ops->sa_migrate != NULL) {
		rc = m->ops->sa_migrate(m->ops_arg, s, &old);
		if (rc < 0) {
			sa_cfg_rename(m, s, &old, moved);
			cfg_error_set(err, -1, "cannot migrate the SA: %s", strerror(-rc));
			goto out;
		}
	}
	if (moved) {
		/* The timers name the SA by (dst, spi): arm them again under
		 * the new name; the old ones no longer find it. A soft limit
		 * already handled stays handled. */
		soft_done = s->soft_raised;
		rc = timers_arm(m, s);
		s->soft_raised = soft_done;
		if (rc < 0) {
			cfg_error_set(err, -1, "out of memory");
			goto out;
		}
	}
	/* Out of memory here leaves the SA serving what it served. */
	if (s->dir == CFG_DIR_OUT)
		(void)flow_index_sa(m, s);
	rc = 0;
out:
	explicit_bzero(&old, sizeof(old));
	explicit_bzero(&nc, sizeof(nc));
	return rc;
}

static int
state_del(struct gw_model *m, const struct cfg_state_id *id,
	  struct cfg_error *err)
{
	struct model_sa *s = model_sa_find(m, &id->dst, id->spi);

	if (s == NULL)
		return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
				     id->spi), -ENOENT;
	model_sa_remove(m, s);
	return 0;
}

/* xorshift64*: allocspi needs spread, not secrecy (SPIs are on the wire). */
static uint64_t
rand64(struct gw_model *m)
{
	m->rand_state ^= m->rand_state >> 12;
	m->rand_state ^= m->rand_state << 25;
	m->rand_state ^= m->rand_state >> 27;
	return m->rand_state * 0x2545f4914f6cdd1dull;
}

static bool
spi_in_use(struct gw_model *m, const struct cfg_allocspi *a, uint32_t spi)
{
	return reservation(m, spi) != NULL || hset_find(&m->spi_in, &spi) != NULL ||
	       model_sa_find(m, &a->dst, spi) != NULL;
}

/* Forget reservations that have lapsed (when the table looks full). */
static void
reservations_expire(struct gw_model *m)
{
	uint64_t now = m->now_ns();
	uint32_t *gone = malloc(hmap_count(&m->reserved) * sizeof(*gone));
	size_t i = 0, n = 0, k;
	const void *key;
	void *v;

	if (gone == NULL)
		return;
	while (hmap_next(&m->reserved, &i, &key, &v))
		if (now >= ((struct model_reservation *)v)->expires_ns)
			memcpy(&gone[n++], key, sizeof(*gone));
	for (k = 0; k < n; k++)
		reservation_drop(m, gone[k], NULL);
	free(gone);
}

int
model_allocspi(struct gw_model *m, const struct cfg_allocspi *a, uint32_t *out,
	       struct cfg_error *err)
{
	uint64_t span = (uint64_t)a->max - a->min + 1;
	struct model_reservation *r;
	uint32_t spi = 0, tries;

	if (hmap_count(&m->reserved) >= MODEL_RESERVED_MAX)
		reservations_expire(m);
	if (hmap_count(&m->reserved) >= MODEL_RESERVED_MAX)
		return cfg_error_set(err, -1, "too many reserved SPIs"), -ENOSPC;
	for (tries = 0; tries < 64; tries++) {
		spi = a->min + (uint32_t)(rand64(m) % span);
		if (!spi_in_use(m, a, spi))
			break;
	}
	if (tries == 64) {
		/* A crowded range: walk it from a random start. */
		uint64_t k;

		for (k = 0; k < span && k < (1u << 20); k++) {
			spi = a->min + (uint32_t)((spi - a->min + 1) % span);
			if (!spi_in_use(m, a, spi))
				break;
		}
		if (spi_in_use(m, a, spi))
			return cfg_error_set(err, -1, "no free SPI in 0x%08x-0x%08x",
					     a->min, a->max), -ENOSPC;
	}
	r = malloc(sizeof(*r));
	if (r == NULL || hmap_put(&m->reserved, &spi, r) < 0) {
		free(r);
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	}
	r->dst = a->dst;
	r->expires_ns = m->now_ns() + (uint64_t)m->allocspi_expires * NSEC;
	*out = spi;
	return 0;
}

/* ---- policies --------------------------------------------------------- */

static int
by_gen(const void *a, const void *b)
{
	const struct model_sa *x = *(struct model_sa *const *)a;
	const struct model_sa *y = *(struct model_sa *const *)b;

	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* The SAs oldest first (NULL with none), so that the newest ends up
 * owning each key they take in turn. @return 0, or -ENOMEM. */
static int
sas_by_age(const struct gw_model *m, struct model_sa ***out)
{
	*out = NULL;
	if (m->n_sas == 0)
		return 0;
	*out = malloc(m->n_sas * sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	memcpy(*out, m->sas, m->n_sas * sizeof(**out));
	qsort(*out, m->n_sas, sizeof(**out), by_gen);
	return 0;
}

/* One change policy_keys_attach() made: flow @p f pointed at @p was
 * before, and joined SA @p s's flows (or was one already). */
struct key_undo {
	struct model_flow *f;
	struct model_sa *s, *was;
	bool joined;
};

/*
 * The flow keys of policy @p mp go to the SAs that serve it, @p by_age
 * (sas_by_age()) in turn; with @p undo (room for m->n_sas), what each
 * changed is noted there, *n_undo of them, for keys_undo(). @return 0,
 * or the first error (the flow table full: -ENOSPC), with the keys
 * before it in place.
 */
static int
policy_keys_attach(struct gw_model *m, const struct model_pol *mp, struct model_sa **by_age,
		   struct key_undo *undo, uint32_t *n_undo)
{
	struct gw_flow_key fk;
	uint32_t i;
	int rc;

	for (i = 0; i < m->n_sas && pol_protects_out(mp); i++) {
		struct model_sa *s = by_age[i];
		struct model_flow *f;
		struct key_undo u = { .s = s };

		if (!model_sa_satisfies(s, &mp->cfg.tmpl) || !model_flow_key(mp, s, &fk))
			continue;
		f = flow_get(m, &fk, false);
		u.was = f != NULL ? f->sa : NULL;
		u.joined = f == NULL || !sa_has_flow(s, f);
		rc = flow_attach(m, s, &fk);
		/* Noted even when it failed: it may have joined the flow
		 * before the table refused its key. */
		u.f = flow_get(m, &fk, false);
		/* Joined only if it is in the list now (no room to grow it
		 * fails before joining). */
		u.joined = u.joined && u.f != NULL && sa_has_flow(s, u.f);
		if (undo != NULL && u.f != NULL && (u.joined || u.f->sa != u.was))
			undo[(*n_undo)++] = u;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Put back what policy_keys_attach() changed, the last change first:
 * each key points where it did (in place, so the table needs no room),
 * and leaves the SAs it joined. */
static void
keys_undo(struct gw_model *m, const struct key_undo *undo, uint32_t n)
{
	while (n-- > 0) {
		const struct key_undo *u = &undo[n];
		struct model_flow *f = u->f;
		uint16_t k;

		if (f->sa != u->was) {
			if (u->was != NULL)
				(void)flow_point(m, f, u->was);
			else
				flow_unpoint(m, f);
		}
		if (!u->joined)
			continue;
		for (k = 0; sa_flows(u->s)[k] != f; k++)
			;
		sa_flows(u->s)[k] = sa_flows(u->s)[--u->s->n_flows];
		flow_leave(m, f, u->s);
	}
}

static int
policy_keys_error(struct cfg_error *err, int rc)
{
	if (rc == -ENOSPC)
		return cfg_error_set(err, -1, "the flow table has no room for the policy's keys "
				     "(it is sized from espd --max-sas)"), rc;
	return cfg_error_set(err, -1, "cannot index the policy: %s", strerror(-rc)), rc;
}

static void policy_unindex(struct gw_model *m, uint32_t index);

/* A policy's dir and selector as pol_sels keys them: every byte set. */
static void
pol_sel_key(const struct cfg_policy *p, struct pol_sel_key *k)
{
	memset(k, 0, sizeof(*k));
	k->dir = p->dir;
	k->proto = p->sel.proto;
	k->af = p->sel.src.af;
	k->src_len = p->sel.src.len;
	k->dst_len = p->sel.dst.len;
	memcpy(k->src, p->sel.src.a, sizeof(k->src));
	memcpy(k->dst, p->sel.dst.a, sizeof(k->dst));
	if (p->sel.has_sport) {
		k->has |= 1;
		k->sport_lo = p->sel.sport_lo;
		k->sport_hi = p->sel.sport_hi;
	}
	if (p->sel.has_dport) {
		k->has |= 2;
		k->dport_lo = p->sel.dport_lo;
		k->dport_hi = p->sel.dport_hi;
	}
}

/* Is there a policy with @p p's dir and selector (as `ip xfrm` refuses a
 * second: EEXIST)? */
static bool
pol_sel_taken(const struct gw_model *m, const struct cfg_policy *p)
{
	struct pol_sel_key k;

	pol_sel_key(p, &k);
	return hmap_find(&m->pol_sels, &k) != NULL;
}

/* Note (@p on) or forget @p p's dir and selector. @return 0 or -ENOMEM
 * (noting only; forgetting, or noting right after forgetting another,
 * never needs memory). */
static int
pol_sel_note(struct gw_model *m, const struct cfg_policy *p, bool on)
{
	struct pol_sel_key k;

	pol_sel_key(p, &k);
	if (!on) {
		hmap_del(&m->pol_sels, &k);
		return 0;
	}
	return hmap_put(&m->pol_sels, &k, (void *)1);
}

static int
pol_sel_exists(struct cfg_error *err)
{
	return cfg_error_set(err, -1, "a policy with that selector and dir exists"), -EEXIST;
}

static int
policy_add(struct gw_model *m, const struct cfg_policy *p, struct cfg_error *err)
{
	struct model_sa **by_age = NULL;
	struct model_pol *mp;
	int rc;

	if (p->has_index && model_policy(m, p->index) != NULL)
		return cfg_error_set(err, -1, "policy index %u exists", p->index), -EEXIST;
	if (pol_sel_taken(m, p))
		return pol_sel_exists(err);
	rc = GROW(m->pols, m->n_pols, m->cap_pols);
	if (rc == 0)
		rc = sas_by_age(m, &by_age);
	if (rc == 0 && (rc = pol_sel_note(m, p, true)) < 0)
		free(by_age);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	mp = &m->pols[m->n_pols];
	mp->cfg = *p;
	mp->seq = m->next_pol_seq++;
	if (!p->has_index) {
		/* The lowest index not in use, as Linux hands them out. */
		while (model_policy(m, m->next_index) != NULL)
			m->next_index++;
		mp->cfg.index = m->next_index++;
		mp->cfg.has_index = true;
	}
	if (mp->cfg.index > m->pol_index_max)
		m->pol_index_max = mp->cfg.index;
	m->n_pols++;
	m->dirty |= MODEL_DIRTY_SPD;
	rc = policy_keys_attach(m, mp, by_age, NULL, NULL);
	free(by_age);
	if (rc < 0) {
		/* All or nothing: a policy whose traffic could not find the
		 * SA it has would raise ACQUIREs for ever. */
		policy_unindex(m, mp->cfg.index);
		pol_sel_note(m, &mp->cfg, false);
		m->n_pols--;
		return policy_keys_error(err, rc);
	}
	return 0;
}

static bool sel_eq(const struct cfg_sel *a, const struct cfg_sel *b);

/*
 * policy update: the policy with the same index (when one is given) or
 * the same selector and dir is replaced, keeping its index and its age
 * (ties in priority still go its way); with none, the policy is added,
 * as `ip xfrm policy update` does. The SPD is rebuilt once with the new
 * policy in the old one's place and swapped in whole, so there is no
 * moment without either (no BYPASS window). Flow keys that the new
 * policy still gives are pointed again in place, never deleted first,
 * so no flow misses (and raises an ACQUIRE) on the way; keys it no
 * longer gives go.
 */
static int
policy_update(struct gw_model *m, const struct cfg_policy *p, struct cfg_error *err)
{
	struct model_pol *mp = NULL;
	struct model_sa **by_age = NULL;
	struct key_undo *undo = NULL;
	struct gw_flow_key fk;
	struct cfg_policy old;
	uint32_t i, index, n_undo = 0;
	bool moved;
	uint16_t k;
	int rc;

	for (i = 0; i < m->n_pols && mp == NULL; i++) {
		struct model_pol *q = &m->pols[i];

		if (p->has_index ? q->cfg.index == p->index :
		    (q->cfg.dir == p->dir && sel_eq(&q->cfg.sel, &p->sel)))
			mp = q;
	}
	if (mp == NULL)
		return policy_add(m, p, err);
	if (mp->cfg.dir != p->dir)
		return cfg_error_set(err, -1, "policy index %u is dir %s, not %s", mp->cfg.index,
				     mp->cfg.dir == CFG_DIR_IN ? "in" :
				     mp->cfg.dir == CFG_DIR_OUT ? "out" : "fwd",
				     p->dir == CFG_DIR_IN ? "in" :
				     p->dir == CFG_DIR_OUT ? "out" : "fwd"), -EINVAL;
	moved = !sel_eq(&mp->cfg.sel, &p->sel);
	if (moved && pol_sel_taken(m, p))
		return pol_sel_exists(err);
	if (sas_by_age(m, &by_age) < 0 ||
	    (m->n_sas > 0 && (undo = malloc(m->n_sas * sizeof(*undo))) == NULL)) {
		free(by_age);
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	}
	index = mp->cfg.index;
	old = mp->cfg;
	if (moved) {
		/* The old key's slot goes first: the new one needs no room. */
		pol_sel_note(m, &old, false);
		(void)pol_sel_note(m, p, true);
	}
	mp->cfg = *p;
	mp->cfg.index = index;
	mp->cfg.has_index = true;
	m->dirty |= MODEL_DIRTY_SPD;

	/* The SAs that serve the new policy take its keys, oldest first so
	 * that the newest ends up owning each (a key already pointed at is
	 * pointed again, with no gap). */
	rc = policy_keys_attach(m, mp, by_age, undo, &n_undo);
	free(by_age);
	if (rc < 0) {
		/* The policy as it was, its keys as they were. */
		keys_undo(m, undo, n_undo);
		free(undo);
		if (moved) {
			pol_sel_note(m, &mp->cfg, false);
			(void)pol_sel_note(m, &old, true);
		}
		mp->cfg = old;
		return policy_keys_error(err, rc);
	}
	free(undo);

	/* Keys an SA held under the old policy and no longer has: an SA
	 * that still fits the template keeps its keys while the PFP fields
	 * are the same (the flow an ACQUIRE's seq gave it included). */
	for (i = 0; i < m->n_sas; i++) {
		struct model_sa *s = m->sas[i];
		bool fits = pol_protects_out(mp) && model_sa_satisfies(s, &mp->cfg.tmpl);

		for (k = 0; k < s->n_flows;) {
			struct model_flow *f = sa_flows(s)[k];

			if (f->key.policy != index ||
			    (fits && (old.pfp == mp->cfg.pfp ||
				      (model_flow_key(mp, s, &fk) &&
				       memcmp(&fk, &f->key, sizeof(fk)) == 0)))) {
				k++;
				continue;
			}
			sa_flows(s)[k] = sa_flows(s)[--s->n_flows];
			flow_leave(m, f, s);
		}
	}
	return 0;
}

/* Every flow key of policy @p index goes. */
static void
policy_unindex(struct gw_model *m, uint32_t index)
{
	uint32_t i;
	uint16_t k;

	for (i = 0; i < m->n_sas; i++) {
		struct model_sa *s = m->sas[i];

		for (k = 0; k < s->n_flows;) {
			struct model_flow *f = sa_flows(s)[k];

			if (f->key.policy != index) {
				k++;
				continue;
			}
			sa_flows(s)[k] = sa_flows(s)[--s->n_flows];
			if (f->sa != NULL)
				flow_unpoint(m, f);
			if (--f->cand == 0)
				flow_drop(m, f);
		}
	}
}

static bool
sel_eq(const struct cfg_sel *a, const struct cfg_sel *b)
{
	return model_addr_eq(&a->src, &b->src) && a->src.len == b->src.len &&
	       model_addr_eq(&a->dst, &b->dst) && a->dst.len == b->dst.len &&
	       a->proto == b->proto && a->has_sport == b->has_sport &&
	       a->has_dport == b->has_dport &&
	       (!a->has_sport || (a->sport_lo == b->sport_lo &&
				  a->sport_hi == b->sport_hi)) &&
	       (!a->has_dport || (a->dport_lo == b->dport_lo &&
				  a->dport_hi == b->dport_hi));
}

const struct model_pol *
model_policy_match(const struct gw_model *m, const struct cfg_policy_del *d)
{
	uint32_t i;

	for (i = 0; i < m->n_pols; i++) {
		const struct cfg_policy *p = &m->pols[i].cfg;

		if (d->by_index ? (p->index == d->index &&
				   (d->dir == CFG_DIR_NONE || d->dir == p->dir)) :
		    (p->dir == d->dir && sel_eq(&p->sel, &d->sel)))
			return &m->pols[i];
	}
	return NULL;
}

static int
policy_del(struct gw_model *m, const struct cfg_policy_del *d,
	   struct cfg_error *err)
{
	const struct model_pol *p = model_policy_match(m, d);
	uint32_t i;

	if (p == NULL)
		return cfg_error_set(err, -1, "no such policy"), -ENOENT;
	i = (uint32_t)(p - m->pols);
	policy_unindex(m, p->cfg.index);
	pol_sel_note(m, &m->pols[i].cfg, false);
	memmove(&m->pols[i], &m->pols[i + 1], (m->n_pols - i - 1) * sizeof(m->pols[0]));
	m->n_pols--;
	m->dirty |= MODEL_DIRTY_SPD;
	return 0;
}

/* ---- ports, routes, neighbours --------------------------------------- */

static int
port_known(const struct gw_model *m, uint16_t port, const char *what,
	   struct cfg_error *err)
{
	if (port >= CFG_PORTS_MAX || !m->has_port[port])
		return cfg_error_set(err, -1, "%s: port %u is not defined", what, port),
		       -ENODEV;
	return 0;
}

/* Is @p a in one of port @p port's networks (the prefixes of its
 * addresses of @p a's family), or IPv6 link-local? A port with no
 * address of that family has no networks to check against: true (such a
 * next hop is never asked for, NeighFailed). */
static bool
on_link(const struct gw_model *m, uint16_t port, const struct cfg_addr *a)
{
	const struct cfg_port *p = &m->ports[port];
	bool any = false;
	unsigned int i;

	if (a->af == AF_INET6 && a->a[0] == 0xfe && (a->a[1] & 0xc0) == 0x80)
		return true;
	for (i = 0; i < p->naddr; i++) {
		struct cfg_addr net = p->addr[i], in = *a;

		if (net.af != a->af)
			continue;
		any = true;
		in.len = net.len;
		cfg_addr_mask(&net);
		cfg_addr_mask(&in);
		if (model_addr_eq(&net, &in))
			return true;
	}
	return !any;
}

int
model_route_find(const struct gw_model *m, const struct cfg_addr *prefix)
{
	uint32_t i;

	for (i = 0; i < m->n_routes; i++)
		if (model_addr_eq(&m->routes[i].prefix, prefix) &&
		    m->routes[i].prefix.len == prefix->len)
			return (int)i;
	return -1;
}

static int
route_add(struct gw_model *m, const struct cfg_route *r, struct cfg_error *err)
{
	char a[64];
	int rc = port_known(m, r->port, "route", err);

	if (rc < 0)
		return rc;
	/* As `ip route add ... via` ("Nexthop has invalid gateway"): a
	 * next hop off the port's networks could never be resolved. */
	if (r->has_via && !on_link(m, r->port, &r->via))
		return cfg_error_set(err, -1, "via %s is not on a network of port %u (its addr prefixes)",
				     cfg_addr_str(&r->via, false, a, sizeof(a)), r->port),
		       -EINVAL;
	/* As `ip route add`: one route per prefix ("File exists"). */
	if (model_route_find(m, &r->prefix) >= 0)
		return cfg_error_set(err, -1, "route %s exists",
				     cfg_addr_str(&r->prefix, true, a, sizeof(a))), -EEXIST;
	rc = GROW(m->routes, m->n_routes, m->cap_routes);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	m->routes[m->n_routes++] = *r;
	m->dirty |= MODEL_DIRTY_ROUTES;
	return 0;
}

/* As `ip route del PREFIX` ("No such process" when there is none). A
 * port's connected route is not one: it goes with the port. */
static int
route_del(struct gw_model *m, const struct cfg_route *r, struct cfg_error *err)
{
	int i = model_route_find(m, &r->prefix);
	char a[64];

	if (i < 0)
		return cfg_error_set(err, -1, "no route %s",
				     cfg_addr_str(&r->prefix, true, a, sizeof(a))), -ESRCH;
	memmove(&m->routes[i], &m->routes[i + 1],
		(m->n_routes - (uint32_t)i - 1) * sizeof(m->routes[0]));
	m->n_routes--;
	m->dirty |= MODEL_DIRTY_ROUTES;
	return 0;
}

static int
neigh_find(const struct gw_model *m, const struct cfg_neigh *n)
{
	uint32_t i;

	for (i = 0; i < m->n_neighs; i++)
		if (m->neighs[i].port == n->port && model_addr_eq(&m->neighs[i].ip, &n->ip))
			return (int)i;
	return -1;
}

static int
neigh_add(struct gw_model *m, const struct cfg_neigh *n, struct cfg_error *err)
{
	char a[64];
	int rc = port_known(m, n->port, "neigh", err);

	if (rc < 0)
		return rc;
	/* As `ip neigh add`: one entry per address and port. */
	if (neigh_find(m, n) >= 0)
		return cfg_error_set(err, -1, "neigh %s on port %u exists",
				     cfg_addr_str(&n->ip, false, a, sizeof(a)), n->port),
		       -EEXIST;
	rc = GROW(m->neighs, m->n_neighs, m->cap_neighs);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	if (m->ops != NULL && m->ops->neigh != NULL) {
		rc = m->ops->neigh(m->ops_arg, n, true);
		if (rc < 0)
			return cfg_error_set(err, -1, "neigh: %s", strerror(-rc)), rc;
	}
	m->neighs[m->n_neighs++] = *n;
	return 0;
}

/* `neigh del`: a static entry, or (live) a learned one. */
static int
neigh_del(struct gw_model *m, const struct cfg_neigh *n, struct cfg_error *err)
{
	int i = neigh_find(m, n), rc = -ENOENT;
	char a[64];

	if (i >= 0)
		m->neighs[i] = m->neighs[--m->n_neighs];
	if (m->ops != NULL && m->ops->neigh != NULL)
		rc = m->ops->neigh(m->ops_arg, n, false);
	if (i < 0 && rc < 0)
		return cfg_error_set(err, -1, "no neigh %s on port %u",
				     cfg_addr_str(&n->ip, false, a, sizeof(a)), n->port),
		       -ENOENT;
	return 0;
}

static int
port_add(struct gw_model *m, const struct cfg_port *p, struct cfg_error *err)
{
	if (p->id >= CFG_PORTS_MAX)
		return cfg_error_set(err, 1, "port %u: espd handles ports 0..%u",
				     p->id, CFG_PORTS_MAX - 1);
	if (m->has_port[p->id])
		return cfg_error_set(err, 1, "port %u is already defined", p->id), -EEXIST;
	/* With xdp-steer the kernel keeps IKE, ARP, ND and SSH on the
	 * interface itself (DESIGN.md "AF_XDP ports"): a TAP would be a
	 * second kernel interface with the same addresses. */
	if (p->xdp_steer && p->has_tap)
		return cfg_error_set(err, -1,
				     "port %u: xdp-steer leaves the kernel its own interface; "
				     "drop `tap %s`", p->id, p->tap), -EINVAL;
	if (p->has_tap) {
		unsigned int i;

		for (i = 0; i < CFG_PORTS_MAX; i++)
			if (m->has_port[i] && m->ports[i].has_tap &&
			    strcmp(m->ports[i].tap, p->tap) == 0)
				return cfg_error_set(err, -1, "tap %s is port %u's already",
						     p->tap, i), -EEXIST;
	}
	m->ports[p->id] = *p;
	m->has_port[p->id] = true;
	m->dirty |= MODEL_DIRTY_ROUTES;
	return 0;
}

static int
set(struct gw_model *m, const struct cfg_set *s, struct cfg_error *err)
{
	switch (s->key) {
	case CFG_SET_ACQUIRE_EXPIRES:
		m->acquire_expires = s->value;
		break;
	case CFG_SET_ACQUIRE_QUEUE:
		m->acquire_queue = s->value;
		break;
	case CFG_SET_ACQUIRE_QUEUE_TOTAL:
		m->acquire_queue_total = s->value;
		break;
	case CFG_SET_ALLOCSPI_EXPIRES:
		m->allocspi_expires = s->value;
		break;
	case CFG_SET_WORKER_IDLE:
		m->worker_idle = (uint8_t)s->value;
		break;
	case CFG_SET_TCP_MSS_CLAMP:
		m->tcp_mss_clamp = s->value;
		break;
	case CFG_SET_ICMP_RATELIMIT:
		m->icmp_ratelimit = s->value;
		break;
	case CFG_SET_NEIGH_REACHABLE:
		m->neigh_reachable = s->value;
		break;
	case CFG_SET_OUT_SA:
		m->out_sa = (uint8_t)s->value;
		break;
	case CFG_SET_ICMP_UNREACHABLE:
		m->icmp_unreachable = s->value != 0;
		break;
	default:
		return cfg_error_set(err, 1, "unknown setting");
	}
	if (m->ops != NULL && m->ops->settings != NULL)
		m->ops->settings(m->ops_arg);
	return 0;
}

int
model_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
	    unsigned int line, struct cfg_error *err)
{
	struct gw_model *m = arg;

	(void)file;
	(void)line;
	switch (cmd->type) {
	case CFG_CMD_NONE:
		return 0;
	case CFG_CMD_PORT:
		return port_add(m, &cmd->u.port, err);
	case CFG_CMD_ROUTE_ADD:
		return route_add(m, &cmd->u.route, err);
	case CFG_CMD_ROUTE_DEL:
		return route_del(m, &cmd->u.route, err);
	case CFG_CMD_NEIGH_ADD:
		return neigh_add(m, &cmd->u.neigh, err);
	case CFG_CMD_NEIGH_DEL:
		return neigh_del(m, &cmd->u.neigh, err);
	case CFG_CMD_NEIGH_FLUSH:
		if (m->ops != NULL && m->ops->neigh_flush != NULL)
			m->ops->neigh_flush(m->ops_arg);
		return 0;
	case CFG_CMD_STATE_ADD:
		return state_add(m, &cmd->u.state, err);
	case CFG_CMD_STATE_UPDATE:
		return state_update(m, &cmd->u.state, err);
	case CFG_CMD_STATE_MIGRATE:
		return state_migrate(m, &cmd->u.migrate, err);
	case CFG_CMD_STATE_DEL:
		return state_del(m, &cmd->u.sa, err);
	case CFG_CMD_STATE_FLUSH:
		while (m->n_sas > 0)
			model_sa_remove(m, m->sas[m->n_sas - 1]);
		return 0;
	case CFG_CMD_POLICY_ADD:
		return policy_add(m, &cmd->u.policy, err);
	case CFG_CMD_POLICY_UPDATE:
		return policy_update(m, &cmd->u.policy, err);
	case CFG_CMD_POLICY_DEL:
		return policy_del(m, &cmd->u.policy_del, err);
	case CFG_CMD_POLICY_FLUSH:
		while (m->n_pols > 0)
			policy_unindex(m, m->pols[--m->n_pols].cfg.index);
		hmap_free(&m->pol_sels);
		m->dirty |= MODEL_DIRTY_SPD;
		return 0;
	case CFG_CMD_SET:
		return set(m, &cmd->u.set, err);
	default:
		/* Queries and streams answer a client; a file has none. */
		return cfg_error_set(err, 0, "'%s' is not a configuration command",
				     cfg_cmd_name(cmd->type));
	}
}
