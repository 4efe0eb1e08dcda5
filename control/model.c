/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's model: commands in, SAs published into the
 * lock-free SAD and flow table, policies and routes kept for tables.c.
 * Errors are -errno with a message in the cfg_error, unwinding with
 * goto (STYLE.md habit 12).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/model.h"
#include "dataplane/worker.h"

_Static_assert(GW_PORTS_MAX == CFG_PORTS_MAX, "one port numbering for both");

#define GROW(arr, n, cap)                                                     \
	({                                                                    \
		int _rc = 0;                                                  \
		if ((n) == (cap)) {                                           \
			uint32_t _c = (cap) ? (cap) * 2 : 16;                 \
			void *_p = realloc((arr), _c * sizeof(*(arr)));       \
			if (_p == NULL)                                       \
				_rc = -ENOMEM;                                \
			else {                                                \
				(arr) = _p;                                   \
				(cap) = _c;                                   \
			}                                                     \
		}                                                             \
		_rc;                                                          \
	})

void
model_esp_addr(struct esp_addr *out, const struct cfg_addr *in)
{
	memset(out, 0, sizeof(*out));
	if (in->af == AF_INET6) {
		out->family = 6;
		memcpy(out->v6, in->a, 16);
	} else {
		out->family = 4;
		memcpy(&out->v4, in->a, 4);
	}
}

void
model_sel(struct spd_sel *o, const struct cfg_sel *s)
{
	memset(o, 0, sizeof(*o));
	o->family = s->src.af == AF_INET6 ? 6 : 4;
	o->src_len = s->src.len;
	o->dst_len = s->dst.len;
	memcpy(o->src, s->src.a, 16);
	memcpy(o->dst, s->dst.a, 16);
	o->proto = s->proto == 0 ? -1 : s->proto;
	o->sport_lo = s->has_sport ? s->sport_lo : 0;
	o->sport_hi = s->has_sport ? s->sport_hi : 0xffff;
	o->dport_lo = s->has_dport ? s->dport_lo : 0;
	o->dport_hi = s->has_dport ? s->dport_hi : 0xffff;
}

bool
model_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b)
{
	size_t n = a->af == AF_INET6 ? 16 : 4;

	return a->af == b->af && memcmp(a->a, b->a, n) == 0;
}

/* DESIGN.md "SAs": without `dir`, inbound when dst is an address of an
 * unprotected port. */
static uint8_t
infer_dir(const struct gw_model *m, const struct cfg_state *s)
{
	unsigned int p, i;

	if (s->dir == CFG_DIR_IN)
		return ESP_DIR_IN;
	if (s->dir == CFG_DIR_OUT)
		return ESP_DIR_OUT;
	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!m->has_port[p] || m->ports[p].role != CFG_ROLE_UNPROTECTED)
			continue;
		for (i = 0; i < m->ports[p].naddr; i++)
			if (model_addr_eq(&m->ports[p].addr[i], &s->dst))
				return ESP_DIR_IN;
	}
	return ESP_DIR_OUT;
}


/* Key of the control plane's own SA index: (dst, spi) as ip xfrm names
 * an SA. */
struct sa_id {
	uint8_t af;
	uint8_t pad[3];
	uint32_t spi;
	uint8_t dst[16];
};

static void
sa_id_make(struct sa_id *k, const struct cfg_addr *dst, uint32_t spi)
{
	memset(k, 0, sizeof(*k));
	k->af = dst->af;
	k->spi = spi;
	memcpy(k->dst, dst->a, dst->af == AF_INET6 ? 16 : 4);
}

static uint64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

int
model_init(struct gw_model *m, enum crypto_engine_kind engine,
	   struct gw_shared *sh, uint32_t max_sas)
{
	static atomic_uint seq;
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters prm = {
		.name = name,
		.entries = RTE_MAX(max_sas, 64u),
		.key_len = sizeof(struct sa_id),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};

	memset(m, 0, sizeof(*m));
	m->engine = engine;
	m->sh = sh;
	m->max_sas = max_sas;
	m->next_index = 1;
	m->next_sa_id = 1;
	m->acquire_expires = 30;
	m->acquire_queue = 16;
	m->acquire_queue_total = 65536;
	m->natt_refs = calloc(65536, sizeof(*m->natt_refs));
	snprintf(name, sizeof(name), "sa_id%u", atomic_fetch_add(&seq, 1));
	m->sa_by_id = rte_hash_create(&prm);
	snprintf(name, sizeof(name), "cand%u", atomic_fetch_add(&seq, 1));
	prm.key_len = sizeof(struct gw_flow_key);
	m->cand = rte_hash_create(&prm);
	if (m->natt_refs == NULL || m->sa_by_id == NULL || m->cand == NULL) {
		free(m->natt_refs);
		rte_hash_free(m->sa_by_id);
		rte_hash_free(m->cand);
		return -ENOMEM;
	}
	return 0;
}

static void
gw_sa_free(struct gw_sa *gw)
{
	esp_sa_fini(&gw->esp);
	explicit_bzero(gw, sizeof(*gw));
	rte_free(gw);
}

static void
model_sa_free(struct model_sa *s)
{
	free(s->keys);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
model_free(struct gw_model *m)
{
	uint32_t i;

	/* Workers are stopped: nobody reads the SAs any more. */
	for (i = 0; i < m->n_sas; i++) {
		gw_sa_free(m->sas[i]->gw);
		model_sa_free(m->sas[i]);
	}
	for (i = 0; i < m->n_dead; i++)
		gw_sa_free(m->dead[i].gw);
	rte_hash_free(m->sa_by_id);
	rte_hash_free(m->cand);
	free(m->dead);
	free(m->sas);
	free(m->pols);
	free(m->routes);
	free(m->neighs);
	free(m->natt_refs);
	memset(m, 0, sizeof(*m));
}

uint32_t
model_reclaim(struct gw_model *m)
{
	uint32_t i, k = 0;

	for (i = 0; i < m->n_dead; i++) {
		if (rte_rcu_qsbr_check(m->sh->qsbr, m->dead[i].token, false) == 1)
			gw_sa_free(m->dead[i].gw);
		else
			m->dead[k++] = m->dead[i];
	}
	m->n_dead = k;
	return k;
}

struct model_sa *
model_sa_find(const struct gw_model *m, const struct cfg_addr *dst, uint32_t spi)
{
	struct sa_id k;
	void *data;

	sa_id_make(&k, dst, spi);
	if (rte_hash_lookup_data(m->sa_by_id, &k, &data) < 0)
		return NULL;
	return data;
}

const struct model_pol *
model_policy(const struct gw_model *m, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < m->n_pols; i++)
		if (m->pols[i].cfg.index == index)
			return &m->pols[i];
	return NULL;
}

bool
model_sa_satisfies(const struct model_sa *s, const struct cfg_tmpl *t)
{
	if (s->dir != ESP_DIR_OUT)
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

bool
model_flow_key(const struct model_pol *p, const struct model_sa *s,
	       struct gw_flow_key *fk)
{
	const struct spd_sel *sel = &s->gw->sel;
	struct gw_policy gp = { .index = p->cfg.index, .pfp = (uint8_t)p->cfg.pfp };
	struct flow_key k = { 0 };
	unsigned int full;

	if (gp.pfp != 0) {
		if (!s->gw->has_sel)
			return false;
		full = sel->family == 6 ? 128 : 32;
		if (((gp.pfp & GW_PFP_SRC) && sel->src_len != full) ||
		    ((gp.pfp & GW_PFP_DST) && sel->dst_len != full) ||
		    ((gp.pfp & GW_PFP_PROTO) && sel->proto < 0) ||
		    ((gp.pfp & GW_PFP_SPORT) && sel->sport_lo != sel->sport_hi) ||
		    ((gp.pfp & GW_PFP_DPORT) && sel->dport_lo != sel->dport_hi))
			return false;
		k.family = sel->family;
		memcpy(k.src, sel->src, 16);
		memcpy(k.dst, sel->dst, 16);
		k.proto = sel->proto < 0 ? 0 : (uint8_t)sel->proto;
		k.sport = rte_cpu_to_be_16(sel->sport_lo);
		k.dport = rte_cpu_to_be_16(sel->dport_lo);
	}
	gw_flow_key_make(fk, &gp, &k);
	return true;
}

/*
 * The flow table points each key at one SA; the model also remembers, per
 * key, how many SAs could take it (cand), so removing the one in use
 * looks for a successor only when there is one.
 */
static uint32_t
cand_adjust(struct gw_model *m, const struct gw_flow_key *fk, int delta)
{
	void *data;
	uintptr_t n = 0;

	if (rte_hash_lookup_data(m->cand, fk, &data) >= 0)
		n = (uintptr_t)data;
	n = delta < 0 ? (n > 0 ? n - 1 : 0) : n + 1;
	if (n == 0)
		rte_hash_del_key(m->cand, fk);
	else
		(void)rte_hash_add_key_data(m->cand, fk, (void *)n);
	return (uint32_t)n;
}

/* Point flow key @p fk at SA @p s (replacing, atomically for readers,
 * whatever it pointed at: make before break). Packets held for the flow
 * are released first (model_hooks). */
static int
flow_point(struct gw_model *m, struct model_sa *s, const struct gw_flow_key *fk)
{
	if (m->hooks.flow_pre != NULL)
		m->hooks.flow_pre(m->hooks.arg, fk);
	return rte_hash_add_key_data(m->sh->flows, fk, s->gw);
}

/* SA @p s can serve key @p fk, and being the newest, takes it. */
static int
flow_attach(struct gw_model *m, struct model_sa *s, const struct gw_flow_key *fk)
{
	uint16_t i;

	for (i = 0; i < s->n_keys; i++)
		if (memcmp(&s->keys[i], fk, sizeof(*fk)) == 0)
			return flow_point(m, s, fk);
	if (GROW(s->keys, s->n_keys, s->cap_keys) < 0)
		return -ENOMEM;
	s->keys[s->n_keys++] = *fk;
	/* Only PFP keys carry packet fields: a new one is a new flow. */
	if (cand_adjust(m, fk, +1) == 1 && fk->family != 0)
		m->pfp_flows++;
	return flow_point(m, s, fk);
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

/* Key @p fk lost its SA: the newest other SA that fits takes it over. */
static void
flow_refill(struct gw_model *m, const struct gw_flow_key *fk,
	    const struct model_sa *gone)
{
	const struct model_pol *p = model_policy(m, fk->policy);
	struct model_sa *best = NULL;
	struct gw_flow_key k2;
	uint32_t i;

	if (p == NULL)
		return;
	for (i = 0; i < m->n_sas; i++) {
		struct model_sa *s = m->sas[i];

		if (s == gone || s->gw->dead || s->gw->expired ||
		    !model_sa_satisfies(s, &p->cfg.tmpl) ||
		    !model_flow_key(p, s, &k2) || memcmp(&k2, fk, sizeof(k2)) != 0)
			continue;
		if (best == NULL || s->gen > best->gen)
			best = s;
	}
	if (best != NULL)
		(void)flow_point(m, best, fk);
}

/* Build the worker-visible SA from a state command. */

static void
limits_set(struct gw_sa *gw, const struct cfg_state *s)
{
	const uint64_t *l = s->limit;
	uint32_t set = s->limit_set;

	gw->soft_bytes = (set & (1u << CFG_LIMIT_BYTE_SOFT)) ? l[CFG_LIMIT_BYTE_SOFT] : 0;
	gw->hard_bytes = (set & (1u << CFG_LIMIT_BYTE_HARD)) ? l[CFG_LIMIT_BYTE_HARD] : 0;
	gw->soft_pkts = (set & (1u << CFG_LIMIT_PACKET_SOFT)) ? l[CFG_LIMIT_PACKET_SOFT] : 0;
	gw->hard_pkts = (set & (1u << CFG_LIMIT_PACKET_HARD)) ? l[CFG_LIMIT_PACKET_HARD] : 0;
	gw->has_limits = gw->soft_bytes || gw->hard_bytes || gw->soft_pkts ||
			 gw->hard_pkts;
}

static int
sa_make(struct gw_model *m, const struct cfg_state *s, uint8_t dir,
	struct gw_sa **out, struct cfg_error *err)
{
	struct esp_sa_conf c = { 0 };
	struct gw_sa *gw;
	int rc;

	c.spi = s->spi;
	c.dir = dir;
	c.mode = s->mode == CFG_MODE_TRANSPORT ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
	if (s->flags & CFG_SA_F_ESN)
		c.flags |= ESP_F_ESN;
	if (s->flags & CFG_SA_F_NOECN)
		c.flags |= ESP_F_NOECN;
	if (s->flags & CFG_SA_F_DECAP_DSCP)
		c.flags |= ESP_F_DECAP_DSCP;
	if (s->flags & CFG_SA_F_DONT_ENCAP_DSCP)
		c.flags |= ESP_F_DONT_ENCAP_DSCP;
	if (s->has & CFG_SA_HAS_ENCAP) {
		c.flags |= ESP_F_UDP_ENCAP;
		c.udp_sport = s->encap_sport;
		c.udp_dport = s->encap_dport;
	}
	model_esp_addr(&c.src, &s->src);
	model_esp_addr(&c.dst, &s->dst);
	c.replay_window = s->replay_window;
	c.seq_out = (uint64_t)s->replay_oseq_hi << 32 | s->replay_oseq;
	c.seq_in = (uint64_t)s->replay_seq_hi << 32 | s->replay_seq;
	cfg_algo_params(&s->algo, &c.algo);

	gw = rte_zmalloc("gw_sa", sizeof(*gw), RTE_CACHE_LINE_SIZE);
	if (gw == NULL)
		return cfg_error_set(err, -1, "out of memory for the SA"), -ENOMEM;
	rc = esp_sa_init(&gw->esp, &c, m->engine);
	if (rc < 0) {
		rte_free(gw);
		if (rc == -ENOMEM)
			return cfg_error_set(err, -1, "out of memory for the SA"), rc;
		return cfg_error_set(err, -1,
				     "the SA's algorithm, keys, addresses or replay settings are not usable together");
	}
	gw->has_sel = (s->has & CFG_SA_HAS_SEL) != 0;
	model_sel(&gw->sel, &s->sel);
	limits_set(gw, s);
	gw->reqid = s->reqid;
	gw->id = m->next_sa_id++;
	gw->src = c.src;
	gw->dst = c.dst;
	*out = gw;
	return 0;
}

static int
by_gen(const void *a, const void *b)
{
	const struct model_sa *x = *(struct model_sa *const *)a;
	const struct model_sa *y = *(struct model_sa *const *)b;

	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Publish: inbound into the SAD by SPI, outbound into the flow table. */
static int
sa_publish(struct gw_model *m, struct model_sa *s)
{
	int rc;

	if (s->dir == ESP_DIR_OUT) {
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
	rc = rte_hash_add_key_data(m->sh->sad_in, &s->cfg.spi, s->gw);
	if (rc < 0)
		return rc;
	if (s->cfg.has & CFG_SA_HAS_ENCAP && m->natt_refs[s->cfg.encap_dport]++ == 0)
		__atomic_fetch_or(&m->sh->natt_ports[s->cfg.encap_dport >> 6],
				  1ull << (s->cfg.encap_dport & 63), __ATOMIC_RELEASE);
	return 0;
}

void
model_sa_remove(struct gw_model *m, struct model_sa *s)
{
	struct sa_id id;
	uint32_t slot = s->slot;
	uint16_t i;

	/* Mark first: a worker that still finds it treats it as absent. */
	s->gw->dead = 1;
	if (s->dir == ESP_DIR_IN) {
		void *cur;

		if (rte_hash_lookup_data(m->sh->sad_in, &s->cfg.spi, &cur) >= 0 &&
		    cur == s->gw)
			rte_hash_del_key(m->sh->sad_in, &s->cfg.spi);
		if (s->cfg.has & CFG_SA_HAS_ENCAP && --m->natt_refs[s->cfg.encap_dport] == 0)
			__atomic_fetch_and(&m->sh->natt_ports[s->cfg.encap_dport >> 6],
					   ~(1ull << (s->cfg.encap_dport & 63)),
					   __ATOMIC_RELEASE);
	} else {
		for (i = 0; i < s->n_keys; i++) {
			uint32_t others = cand_adjust(m, &s->keys[i], -1);
			void *cur;

			if (rte_hash_lookup_data(m->sh->flows, &s->keys[i], &cur) >= 0 &&
			    cur == s->gw) {
				rte_hash_del_key(m->sh->flows, &s->keys[i]);
				if (others > 0)
					flow_refill(m, &s->keys[i], s);
			}
		}
	}
	sa_id_make(&id, &s->cfg.dst, s->cfg.spi);
	rte_hash_del_key(m->sa_by_id, &id);
	m->sas[slot] = m->sas[--m->n_sas];
	m->sas[slot]->slot = slot;

	/* Freed once every worker has passed a quiescent point (habit 8:
	 * mark dead, wait out the grace period, then free and wipe). */
	if (GROW(m->dead, m->n_dead, m->cap_dead) < 0) {
		rte_rcu_qsbr_synchronize(m->sh->qsbr, RTE_QSBR_THRID_INVALID);
		gw_sa_free(s->gw);
	} else {
		m->dead[m->n_dead].gw = s->gw;
		m->dead[m->n_dead++].token = rte_rcu_qsbr_start(m->sh->qsbr);
	}
	model_sa_free(s);
}

static int
state_add(struct gw_model *m, const struct cfg_state *s, struct cfg_error *err)
{
	struct model_sa *ms;
	struct sa_id id;
	uint8_t dir = infer_dir(m, s);
	void *data;
	int rc;

	if (model_sa_find(m, &s->dst, s->spi) != NULL)
		return cfg_error_set(err, -1, "SA with that dst and spi 0x%08x exists",
				     s->spi);
	/* The fast path finds inbound SAs by SPI alone. */
	if (dir == ESP_DIR_IN &&
	    rte_hash_lookup_data(m->sh->sad_in, &s->spi, &data) >= 0)
		return cfg_error_set(err, -1, "inbound spi 0x%08x is already in use",
				     s->spi);
	if (m->n_sas >= m->max_sas)
		return cfg_error_set(err, -1, "SA table full (%u SAs)", m->max_sas),
		       -ENOSPC;
	rc = GROW(m->sas, m->n_sas, m->cap_sas);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
	rc = sa_make(m, s, dir, &ms->gw, err);
	if (rc < 0) {
		free(ms);
		return rc;
	}
	ms->gw->ctl = ms;
	ms->dir = dir;
	ms->cfg = *s;
	ms->gen = m->next_gen++;
	ms->add_time = now_sec();
	explicit_bzero(&ms->cfg.algo.cipher_key, sizeof(ms->cfg.algo.cipher_key));
	explicit_bzero(&ms->cfg.algo.auth_key, sizeof(ms->cfg.algo.auth_key));
	sa_id_make(&id, &s->dst, s->spi);
	rc = rte_hash_add_key_data(m->sa_by_id, &id, ms);
	if (rc < 0)
		goto err_free;
	ms->slot = m->n_sas;
	m->sas[m->n_sas++] = ms;
	rc = sa_publish(m, ms);
	if (rc < 0) {
		model_sa_remove(m, ms);
		return cfg_error_set(err, -1, "cannot publish the SA: %s",
				     strerror(-rc)), rc;
	}
	return 0;

err_free:
	gw_sa_free(ms->gw);
	model_sa_free(ms);
	return cfg_error_set(err, -1, "SA index full"), rc;
}

/*
 * state update: new limits apply in place; new keys make a new record
 * that takes over the old one's counters and sequence state, published in
 * its place before the old one is retired.
 */
static int
state_update(struct gw_model *m, const struct cfg_state *s, struct cfg_error *err)
{
	struct model_sa *old = model_sa_find(m, &s->dst, s->spi);
	struct cfg_state merged;
	uint64_t seq_margin = 0;
	struct gw_sa *ngw;
	int rc;

	if (old == NULL)
		return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
				     s->spi), -ENOENT;
	if (!(s->has & CFG_SA_HAS_ALGO)) {
		if (s->has & CFG_SA_HAS_LIMIT) {
			old->cfg.limit_set = s->limit_set;
			memcpy(old->cfg.limit, s->limit, sizeof(s->limit));
			limits_set(old->gw, &old->cfg);
			old->gw->soft_sent = old->gw->hard_sent = 0;
		}
		return 0;
	}
	merged = old->cfg;
	merged.algo = s->algo;
	if (s->has & CFG_SA_HAS_LIMIT) {
		merged.limit_set = s->limit_set;
		memcpy(merged.limit, s->limit, sizeof(s->limit));
	}
	rc = sa_make(m, &merged, old->dir, &ngw, err);
	explicit_bzero(&merged.algo, sizeof(merged.algo));
	if (rc < 0)
		return rc;
	/* Workers may still use the old record for one burst each (RCU):
	 * skip ahead by more than they can send in it, so the two never
	 * send the same number (a peer would drop it as a replay). New keys
	 * and a new IV mask mean no nonce is reused either way. */
	if (old->dir == ESP_DIR_OUT)
		seq_margin = 4096;
	ngw->esp.seq = esp_sa_last_seq(&old->gw->esp) + seq_margin;
	ngw->esp.stats = old->gw->esp.stats;
	if (old->gw->esp.replay != NULL && ngw->esp.replay != NULL)
		memcpy(ngw->esp.replay, old->gw->esp.replay,
		       replay_window_bytes(old->gw->esp.replay->size));
	ngw->id = old->gw->id;
	ngw->ctl = old;
	old->cfg.algo = s->algo; /* show-keys shows the keys in use */
	if (s->has & CFG_SA_HAS_LIMIT) {
		old->cfg.limit_set = s->limit_set;
		memcpy(old->cfg.limit, s->limit, sizeof(s->limit));
	}
	{
		struct gw_sa *ogw = old->gw;
		uint16_t i;

		old->gw = ngw;
		if (old->dir == ESP_DIR_IN) {
			rte_hash_add_key_data(m->sh->sad_in, &old->cfg.spi, ngw);
		} else {
			for (i = 0; i < old->n_keys; i++)
				rte_hash_add_key_data(m->sh->flows, &old->keys[i], ngw);
		}
		ogw->dead = 1;
		if (GROW(m->dead, m->n_dead, m->cap_dead) < 0) {
			rte_rcu_qsbr_synchronize(m->sh->qsbr, RTE_QSBR_THRID_INVALID);
			gw_sa_free(ogw);
		} else {
			m->dead[m->n_dead].gw = ogw;
			m->dead[m->n_dead++].token = rte_rcu_qsbr_start(m->sh->qsbr);
		}
	}
	return 0;
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

static int
policy_add(struct gw_model *m, const struct cfg_policy *p, struct cfg_error *err)
{
	struct model_pol *mp;
	uint32_t i;
	int rc;

	if (p->has_index && model_policy(m, p->index) != NULL)
		return cfg_error_set(err, -1, "policy index %u exists", p->index);
	rc = GROW(m->pols, m->n_pols, m->cap_pols);
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
	m->n_pols++;
	m->dirty |= MODEL_DIRTY_SPD;
	if (pol_protects_out(mp)) {
		struct model_sa **by_age = NULL;
		struct gw_flow_key fk;

		/* Oldest first, so the newest SA ends up owning each key. */
		by_age = malloc(RTE_MAX(m->n_sas, 1u) * sizeof(*by_age));
		if (by_age == NULL)
			return cfg_error_set(err, -1, "out of memory"), -ENOMEM;
		memcpy(by_age, m->sas, m->n_sas * sizeof(*by_age));
		qsort(by_age, m->n_sas, sizeof(*by_age), by_gen);
		for (i = 0; i < m->n_sas; i++)
			if (model_sa_satisfies(by_age[i], &mp->cfg.tmpl) &&
			    model_flow_key(mp, by_age[i], &fk))
				(void)flow_attach(m, by_age[i], &fk);
		free(by_age);
	}
	return 0;
}

static void
policy_unindex(struct gw_model *m, uint32_t index)
{
	uint32_t i;
	uint16_t k;

	for (i = 0; i < m->n_sas; i++) {
		struct model_sa *s = m->sas[i];

		for (k = 0; k < s->n_keys;) {
			if (s->keys[k].policy == index) {
				cand_adjust(m, &s->keys[k], -1);
				rte_hash_del_key(m->sh->flows, &s->keys[k]);
				s->keys[k] = s->keys[--s->n_keys];
			} else {
				k++;
			}
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

static int
policy_del(struct gw_model *m, const struct cfg_policy_del *d,
	   struct cfg_error *err)
{
	uint32_t i;

	for (i = 0; i < m->n_pols; i++) {
		const struct cfg_policy *p = &m->pols[i].cfg;

		if (d->by_index ? (p->index == d->index &&
				   (d->dir == CFG_DIR_NONE || d->dir == p->dir)) :
		    (p->dir == d->dir && sel_eq(&p->sel, &d->sel))) {
			policy_unindex(m, p->index);
			memmove(&m->pols[i], &m->pols[i + 1],
				(m->n_pols - i - 1) * sizeof(m->pols[0]));
			m->n_pols--;
			m->dirty |= MODEL_DIRTY_SPD;
			return 0;
		}
	}
	return cfg_error_set(err, -1, "no such policy"), -ENOENT;
}

int
model_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
	    unsigned int line, struct cfg_error *err)
{
	struct gw_model *m = arg;
	int rc;

	(void)file;
	(void)line;
	switch (cmd->type) {
	case CFG_CMD_NONE:
		return 0;
	case CFG_CMD_PORT:
		if (cmd->u.port.id >= GW_PORTS_MAX)
			return cfg_error_set(err, 1, "port %u: espd handles ports 0..%u",
					     cmd->u.port.id, GW_PORTS_MAX - 1);
		if (m->has_port[cmd->u.port.id])
			return cfg_error_set(err, 1, "port %u is already defined",
					     cmd->u.port.id);
		m->ports[cmd->u.port.id] = cmd->u.port;
		m->has_port[cmd->u.port.id] = true;
		m->dirty |= MODEL_DIRTY_ROUTES;
		return 0;
	case CFG_CMD_ROUTE_ADD:
		if (cmd->u.route.port >= GW_PORTS_MAX || !m->has_port[cmd->u.route.port])
			return cfg_error_set(err, -1, "route: port %u is not defined",
					     cmd->u.route.port);
		rc = GROW(m->routes, m->n_routes, m->cap_routes);
		if (rc < 0)
			return rc;
		m->routes[m->n_routes++] = cmd->u.route;
		m->dirty |= MODEL_DIRTY_ROUTES;
		return 0;
	case CFG_CMD_NEIGH_ADD:
		if (cmd->u.neigh.port >= GW_PORTS_MAX || !m->has_port[cmd->u.neigh.port])
			return cfg_error_set(err, -1, "neigh: port %u is not defined",
					     cmd->u.neigh.port);
		rc = GROW(m->neighs, m->n_neighs, m->cap_neighs);
		if (rc < 0)
			return rc;
		m->neighs[m->n_neighs++] = cmd->u.neigh;
		m->dirty |= MODEL_DIRTY_ROUTES;
		return 0;
	case CFG_CMD_STATE_ADD:
		return state_add(m, &cmd->u.state, err);
	case CFG_CMD_STATE_UPDATE:
		return state_update(m, &cmd->u.state, err);
	case CFG_CMD_STATE_DEL:
		return state_del(m, &cmd->u.sa, err);
	case CFG_CMD_STATE_FLUSH:
		while (m->n_sas > 0)
			model_sa_remove(m, m->sas[m->n_sas - 1]);
		return 0;
	case CFG_CMD_POLICY_ADD:
		return policy_add(m, &cmd->u.policy, err);
	case CFG_CMD_POLICY_DEL:
		return policy_del(m, &cmd->u.policy_del, err);
	case CFG_CMD_POLICY_FLUSH:
		while (m->n_pols > 0)
			policy_unindex(m, m->pols[--m->n_pols].cfg.index);
		m->dirty |= MODEL_DIRTY_SPD;
		return 0;
	case CFG_CMD_SET:
		if (cmd->u.set.key == CFG_SET_ACQUIRE_EXPIRES)
			m->acquire_expires = cmd->u.set.value;
		else if (cmd->u.set.key == CFG_SET_ACQUIRE_QUEUE)
			m->acquire_queue = cmd->u.set.value;
		else
			m->acquire_queue_total = cmd->u.set.value;
		return 0;
	default:
		return cfg_error_set(err, 0, "'%s' is not a configuration command",
				     cfg_cmd_name(cmd->type));
	}
}

