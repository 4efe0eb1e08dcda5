/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane's side of the model: SA records made and retired as the
 * model says (struct model_ops), the lock-free SAD and flow table they
 * are published in, tables swapped under RCU, and the counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/grow.h"
#include "control/neigh.h"
#include "control/publish.h"
#include "control/xdp.h"

void
pub_esp_addr(struct esp_addr *out, const struct cfg_addr *in)
{
	memset(out, 0, sizeof(*out));
	out->family = model_family(in);
	memcpy(out->family == 6 ? (void *)out->v6 : (void *)&out->v4, in->a,
	       model_addr_bytes(in));
}

/* ---- SA records ------------------------------------------------------- */

/* Limit @p i of @p c, 0 when not given (the data plane's "none"). */
static uint64_t
limit_of(const struct model_sa_cfg *c, unsigned int i)
{
	uint64_t v = 0;

	return model_sa_limit(c, i, &v) ? v : 0;
}

static void
limits_set(struct gw_sa *gw, const struct model_sa_cfg *c)
{
	gw->soft_bytes = limit_of(c, CFG_LIMIT_BYTE_SOFT);
	gw->hard_bytes = limit_of(c, CFG_LIMIT_BYTE_HARD);
	gw->soft_pkts = limit_of(c, CFG_LIMIT_PACKET_SOFT);
	gw->hard_pkts = limit_of(c, CFG_LIMIT_PACKET_HARD);
	gw->has_limits = gw->soft_bytes || gw->hard_bytes || gw->soft_pkts ||
			 gw->hard_pkts;
}

void
pub_spd_sel(struct spd_sel *o, const struct cfg_sel *s)
{
	memset(o, 0, sizeof(*o));
	o->family = model_family(&s->src);
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

static void natt_ref(struct pub *p, uint16_t port, int delta);

/* ---- SA records: one slab per size ------------------------------------- */

static void *
rec_block_alloc(void *arg, size_t size, size_t align)
{
	(void)arg;
	return rte_malloc_socket("gw_sa", size, align, (int)rte_socket_id());
}

static void
rec_block_free(void *arg, void *block)
{
	(void)arg;
	rte_free(block);
}

static const struct slab_ops rec_slab_ops = {
	.alloc = rec_block_alloc,
	.free = rec_block_free,
};

static struct slab *
rec_slab(struct pub *p, size_t size)
{
	return &p->recs[(size + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE];
}

/*
 * A zeroed record of @p size bytes (gw_sa_size()), from the slab of its
 * size: no rte_malloc element header and alignment padding per SA (128
 * bytes each). When every record allowed is out, most of them retired
 * and waiting for their grace period, wait it out once and reclaim.
 */
static struct gw_sa *
record_alloc(struct pub *p, size_t size)
{
	struct slab *s;
	struct gw_sa *gw;

	if (size > sizeof(struct gw_sa))
		return NULL;
	s = rec_slab(p, size);
	if (s->size == 0 &&
	    slab_init(s, size, RTE_CACHE_LINE_SIZE, 0, &rec_slab_ops, p) < 0)
		return NULL;
	if (p->n_recs >= p->max_recs && p->n_dead > 0) {
		rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
		pub_reclaim(p);
	}
	if (p->n_recs >= p->max_recs)
		return NULL;
	gw = slab_alloc(s);
	if (gw == NULL)
		return NULL;
	p->n_recs++;
	memset(gw, 0, size);
	gw->rec_size = (uint32_t)size;
	return gw;
}

/* Back to its slab, keys wiped. No worker may hold it any more. */
static void
record_free(struct pub *p, struct gw_sa *gw)
{
	size_t size = gw->rec_size;

	if (gw->replay_lent)
		gw->esp.replay = NULL;
	esp_sa_fini(&gw->esp);
	/* Not sizeof(*gw): the record was allocated to its size. */
	explicit_bzero(gw, offsetof(struct gw_sa, esp));
	if (slab_free(rec_slab(p, size), gw) == 0)
		p->n_recs--;
}

/* A worker-visible record of SA @p s as its cfg now says; @p iv_mask
 * NULL for a new random one. */
static int
record_make(struct pub *p, const struct model_sa *s, const uint8_t *iv_mask,
	    struct gw_sa **out)
{
	struct cfg_state full;
	const struct cfg_state *cfg = &full;
	struct esp_sa_conf c = { 0 };
	struct gw_sa *gw;
	int rc;

	/* The whole configuration, keys included: wiped below. */
	model_sa_state(s, &full);
	c.spi = cfg->spi;
	c.dir = s->dir == CFG_DIR_IN ? ESP_DIR_IN : ESP_DIR_OUT;
	c.mode = cfg->mode == CFG_MODE_TRANSPORT ? ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
	if (cfg->flags & CFG_SA_F_ESN)
		c.flags |= ESP_F_ESN;
	if (cfg->flags & CFG_SA_F_NOECN)
		c.flags |= ESP_F_NOECN;
	if (cfg->flags & CFG_SA_F_DECAP_DSCP)
		c.flags |= ESP_F_DECAP_DSCP;
	if (cfg->flags & CFG_SA_F_DONT_ENCAP_DSCP)
		c.flags |= ESP_F_DONT_ENCAP_DSCP;
	if (cfg->has & CFG_SA_HAS_ENCAP) {
		c.flags |= ESP_F_UDP_ENCAP;
		c.udp_sport = cfg->encap_sport;
		c.udp_dport = cfg->encap_dport;
	}
	pub_esp_addr(&c.src, &cfg->src);
	pub_esp_addr(&c.dst, &cfg->dst);
	c.replay_window = cfg->replay_window;
	c.seq_out = (uint64_t)cfg->replay_oseq_hi << 32 | cfg->replay_oseq;
	c.seq_in = (uint64_t)cfg->replay_seq_hi << 32 | cfg->replay_seq;
	model_algo_params(&cfg->algo, &c.algo);
	c.iv_mask = iv_mask;

	/* Sized for its algorithm: AES-GCM's keys take 1024 bytes of the
	 * 1152 the largest needs, ChaCha20's 64 (struct crypto_session). */
	gw = record_alloc(p, gw_sa_size(esp_sa_size(&c, p->model->engine)));
	rc = gw == NULL ? -ENOMEM : esp_sa_init(&gw->esp, &c, p->model->engine);
	explicit_bzero(&full, sizeof(full));
	explicit_bzero(&c.algo, sizeof(c.algo));
	if (rc < 0) {
		if (gw != NULL)
			record_free(p, gw);
		return rc;
	}
	gw->esp.shared = c.dir == ESP_DIR_OUT && p->model->out_sa == CFG_OUT_SA_SHARED;
	gw->has_sel = (s->cfg.has & CFG_SA_HAS_SEL) != 0;
	pub_spd_sel(&gw->sel, &s->cfg.sel);
	limits_set(gw, &s->cfg);
	gw->reqid = s->cfg.reqid;
	gw->id = s->id;
	gw->src = c.src;
	gw->dst = c.dst;
	*out = gw;
	return 0;
}

/*
 * The SAD or the flow table changed: workers empty their SA caches
 * (struct gw_sa_cache) before their next burst. Bumped after the change
 * and before any record it unlinked is retired, so a record a cache
 * still names outlives every burst that could read it (RCU).
 */
static void
gen_bump(struct pub *p)
{
	__atomic_add_fetch(&p->shared.flows_gen, 1, __ATOMIC_RELEASE);
}

/*
 * What replaced record @p gw counted after record_replace() handed its
 * counters on (the rest of a burst, an asynchronous engine's pending
 * ops), now final, added to its SA's totals through the live record's
 * stats_base. The SA is found by the name and handle the record had; one
 * that moved (state migrate new-dst) or went since loses them. The
 * workers' byte and packet limits read their own record's counts, so
 * they may overshoot by as much.
 */
static void
stats_carry(struct pub *p, const struct gw_sa *gw)
{
	struct cfg_addr dst = { .af = gw->dst.family == 6 ? AF_INET6 : AF_INET,
				.len = gw->dst.family == 6 ? 128 : 32 };
	const struct esp_sa_stats *st = &gw->esp.stats, *at = &gw->stats_base;
	struct model_sa *s;
	struct gw_sa *live;

	memcpy(dst.a, gw->dst.family == 6 ? (const void *)gw->dst.v6 : (const void *)&gw->dst.v4,
	       gw->dst.family == 6 ? 16 : 4);
	s = model_sa_by_handle(p->model, &dst, rte_be_to_cpu_32(gw->esp.spi_be), gw->id);
	live = s != NULL ? s->dp : NULL;
	if (live == NULL || live == gw)
		return;
	live->stats_base.packets -= st->packets - at->packets;
	live->stats_base.bytes -= st->bytes - at->bytes;
	live->stats_base.replay_drops -= st->replay_drops - at->replay_drops;
	live->stats_base.icv_failures -= st->icv_failures - at->icv_failures;
}

static void
dead_free(struct pub *p, const struct pub_dead *d)
{
	if (d->gw != NULL && d->gw->stats_lent && p->model != NULL)
		stats_carry(p, d->gw);
	if (d->gw != NULL)
		record_free(p, d->gw);
	else if (d->ft != NULL)
		flowtab_free_pos(d->ft, d->pos);
	else
		rte_hash_free_key_with_position(d->h, d->pos);
}

/* Freed once every worker has passed a quiescent point (habit 8: mark
 * dead, wait out the grace period, then free and wipe). */
static void
dead_add(struct pub *p, const struct pub_dead *d)
{
	if (GROW(p->dead, p->n_dead, p->cap_dead) < 0) {
		/* No room to wait in: wait here. */
		rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
		dead_free(p, d);
		return;
	}
	p->dead[p->n_dead] = *d;
	p->dead[p->n_dead++].token = rte_rcu_qsbr_start(p->shared.qsbr);
}

static void
record_retire(struct pub *p, struct gw_sa *gw)
{
	__atomic_store_n(&gw->dead, 1, __ATOMIC_RELAXED);
	gen_bump(p); /* no worker's cache keeps it past its next burst */
	dead_add(p, &(struct pub_dead){ .gw = gw });
}

uint32_t
pub_reclaim(struct pub *p)
{
	uint32_t i;

	/* Tokens only grow: the first whose grace period is still running
	 * ends what can go. */
	for (i = 0; i < p->n_dead; i++) {
		if (rte_rcu_qsbr_check(p->shared.qsbr, p->dead[i].token, false) != 1)
			break;
		dead_free(p, &p->dead[i]);
	}
	if (i > 0) {
		memmove(p->dead, p->dead + i, (p->n_dead - i) * sizeof(*p->dead));
		p->n_dead -= i;
	}
	return p->n_dead;
}

/*
 * The SAD and the flow table (flowtab.h) leave a deleted key's slot to us
 * (lock-free, no RCU of their own): a worker may be comparing its key still.
 * It is freed after a grace period like a record, so the table needs no
 * defer queue of its own sized for every slot (rte_hash's takes 16 bytes
 * a slot, 32 MB a table at a million SAs, to hold what is rarely more
 * than a burst of deletes).
 */
static void
hash_del(struct pub *p, struct rte_hash *h, const void *key)
{
	int32_t pos = rte_hash_del_key(h, key);

	if (pos >= 0)
		dead_add(p, &(struct pub_dead){ .h = h, .pos = pos });
}

/* Add or replace; when the table is full of slots still waiting for
 * their grace period, wait it out once, free them, and try again. */
static int
hash_add(struct pub *p, struct rte_hash *h, const void *key, void *data)
{
	int rc = rte_hash_add_key_data(h, key, data);

	if (rc == -ENOSPC && p->n_dead > 0) {
		rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
		pub_reclaim(p);
		rc = rte_hash_add_key_data(h, key, data);
	}
	return rc;
}

static int
op_sa_create(void *arg, struct model_sa *s)
{
	struct gw_sa *gw;
	int rc = record_make(arg, s, NULL, &gw);

	if (rc == 0)
		s->dp = gw;
	return rc;
}

uint64_t
pub_seq_margin(const struct pub *p, uint16_t n_flows)
{
	/* Workers may still use the old record for one burst each (RCU)
	 * once it is dead, and until then for as long as record_replace()
	 * takes to point the SA's flows at the successor (make before
	 * break: no packet waits). A flow's turn takes well under a
	 * microsecond; 64 numbers a worker allow for 8 fragments a packet
	 * at 16 Mpps each. */
	return RTE_MAX(4096ull, (p->n_workers + 1ull) * GW_RX_BURST * GW_FRAG_MAX) +
	       (p->n_workers + 1ull) * 64u * n_flows;
}

/* Tests only: called where lcore 0 has read an outbound record's last
 * number and has not yet fenced it off (seq_handover()), as a preempted
 * lcore 0 would stall there while workers send on. */
void (*pub_replace_stall)(struct pub *p);

/*
 * The last number outbound record @p old may send; its successor starts
 * after it. Workers draw from @p old while this runs (make before break),
 * and lcore 0 may be preempted for any time between reading old's last
 * number and its successor being published, so the margin alone is no
 * bound: old->esp.seq_stop fences off what lies past it (out_prepare_one()
 * drops a packet that draws such a number). A worker whose draw and check
 * straddle the store (x86 lets its load pass its own store) sends at most
 * a burst past what is read here after the fence: half the margin covers
 * that, or the fence moves on.
 */
static uint64_t
seq_handover(struct pub *p, struct gw_sa *old, uint64_t margin)
{
	const uint64_t top = old->esp.seq_stop; /* the sequence space's */
	uint64_t last = esp_sa_last_seq(&old->esp), stop;

	if (pub_replace_stall != NULL)
		pub_replace_stall(p);
	for (;;) {
		stop = last + margin < last ? UINT64_MAX : last + margin;
		/* At the top the old record is spent there, and so is its
		 * successor (record_replace()). */
		__atomic_store_n(&old->esp.seq_stop, RTE_MIN(stop, top), __ATOMIC_RELAXED);
		rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
		last = esp_sa_last_seq(&old->esp);
		if (stop >= top || last <= stop - margin / 2)
			return stop;
	}
}

/*
 * New record @p ngw of SA @p s takes over @p old's counters and sequence
 * state, and is put in its place (make before break: the SAD or flow
 * entry is overwritten, never deleted first) before the old one is
 * retired.
 */
static void
record_replace(struct pub *p, struct model_sa *s, struct gw_sa *old, struct gw_sa *ngw)
{
	uint16_t i;

	ngw->esp.seq = s->dir == CFG_DIR_OUT ?
		       seq_handover(p, old, pub_seq_margin(p, s->n_flows)) :
		       esp_sa_last_seq(&old->esp);
	/* Past the top (a spent SA, or one within the margin of it), the
	 * new record is spent too: it never starts over at a low number. */
	if (ngw->esp.seq == UINT64_MAX || old->esp.exhausted) {
		ngw->esp.seq = UINT64_MAX;
		ngw->esp.exhausted = 1;
	}
	ngw->esp.stats = old->esp.stats;
	ngw->stats_base = old->stats_base;
	/* What old counts from here is carried over when it is freed. */
	old->stats_base = ngw->esp.stats;
	old->stats_lent = 1;
	ngw->use_tsc = old->use_tsc;
	/* The path's, not the record's: kept while the path is (not when
	 * `state migrate` moved the SA to another peer address). */
	if (ngw->dst.family == old->dst.family &&
	    (ngw->dst.family == 4 ? ngw->dst.v4 == old->dst.v4 :
				    memcmp(ngw->dst.v6, old->dst.v6, 16) == 0))
		ngw->pmtu = old->pmtu;
	/* The lifetimes are the SA's, not the record's: the expiry events
	 * already raised stay raised (new limits re-arm them, through
	 * op_sa_limits()). */
	ngw->soft_sent = old->soft_sent;
	ngw->hard_sent = old->hard_sent;
	ngw->expired = old->expired;
	/* Inbound, the worker that decrypts for the old record goes on with
	 * the new one (one writer of the window below). Outbound, the first
	 * to find the new one takes it: the margin keeps their numbers
	 * apart. */
	if (s->dir == CFG_DIR_IN) {
		/* Nobody owns the old one yet: one worker takes both now,
		 * or a worker could take the old one (the rest of its burst)
		 * and another the new, two writers of one window. */
		uint16_t none = 0;

		(void)__atomic_compare_exchange_n(&old->owner, &none,
						  gw_sa_first_owner(old, p->n_workers) + 1, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		ngw->owner = __atomic_load_n(&old->owner, __ATOMIC_RELAXED);
	}
	/* The replay window itself, not a copy: the worker the SA's packets
	 * reach may still be updating it through the old record, and a copy
	 * would miss what that accepts (a replay of it would pass the new
	 * record) or be torn. The two records are used by that one lcore,
	 * one after the other. */
	if (old->esp.replay != NULL && ngw->esp.replay != NULL &&
	    old->esp.replay->size == ngw->esp.replay->size) {
		rte_free(ngw->esp.replay);
		ngw->esp.replay = old->esp.replay;
		old->replay_lent = 1;
	}
	s->dp = ngw;
	if (s->dir == CFG_DIR_IN) {
		rte_hash_add_key_data(p->shared.sad_in, &s->cfg.spi, ngw);
	} else {
		struct model_flow *const *fl = model_sa_flows(s);

		for (i = 0; i < s->n_flows; i++)
			if (fl[i]->sa == s)
				flowtab_add(p->shared.flows, &fl[i]->key, ngw);
	}
	record_retire(p, old); /* bumps flows_gen: caches drop the old record */
}

/* New keys: a new record (new IV mask) takes the old one's place. The
 * same keys again keep the mask: with a new one, the sequence going on
 * under those keys, an IV could come twice (counter ^ mask). */
static int
op_sa_rekey(void *arg, struct model_sa *s, bool same_keys)
{
	struct pub *p = arg;
	const struct gw_sa *old = s->dp;
	struct gw_sa *ngw;
	int rc = record_make(p, s, same_keys && old != NULL ? old->esp.iv_mask : NULL, &ngw);

	if (rc < 0)
		return rc;
	record_replace(p, s, s->dp, ngw);
	return 0;
}

/*
 * `state migrate`: new outer addresses or encapsulation, same keys. The
 * new record keeps the old one's IV mask, so with the sequence numbers
 * carried over (and skipped ahead) no IV is ever used twice under these
 * keys; it keeps the expiry events already raised too. An inbound SA's
 * local NAT-T port is taken before the old one is let go, so a port both
 * use never closes in between.
 */
static int
op_sa_migrate(void *arg, struct model_sa *s, const struct model_sa_cfg *old_cfg)
{
	struct pub *p = arg;
	struct gw_sa *old = s->dp, *ngw;
	int rc = record_make(p, s, old->esp.iv_mask, &ngw);

	if (rc < 0)
		return rc;
	if (s->dir == CFG_DIR_IN && (s->cfg.has & CFG_SA_HAS_ENCAP))
		natt_ref(p, s->cfg.encap_dport, +1);
	record_replace(p, s, old, ngw);
	if (s->dir == CFG_DIR_IN && (old_cfg->has & CFG_SA_HAS_ENCAP))
		natt_ref(p, old_cfg->encap_dport, -1);
	return 0;
}

static void
op_sa_limits(void *arg, struct model_sa *s)
{
	struct gw_sa *gw = s->dp;

	(void)arg;
	limits_set(gw, &s->cfg);
	/* New limits, new events: a worker may raise one for the old ones
	 * until it sees these. */
	__atomic_store_n(&gw->soft_sent, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&gw->hard_sent, 0, __ATOMIC_RELAXED);
}

static void
op_sa_destroy(void *arg, struct model_sa *s)
{
	record_retire(arg, s->dp);
	s->dp = NULL;
}

static void
natt_ref(struct pub *p, uint16_t port, int delta)
{
	uint64_t bit = 1ull << (port & 63);

	if (delta > 0 && p->natt_refs[port]++ == 0) {
		__atomic_fetch_or(&p->shared.natt_ports[port >> 6], bit, __ATOMIC_RELEASE);
		xdp_encap_port(p, port, true);
	} else if (delta < 0 && --p->natt_refs[port] == 0) {
		__atomic_fetch_and(&p->shared.natt_ports[port >> 6], ~bit, __ATOMIC_RELEASE);
		xdp_encap_port(p, port, false);
	}
}

static int
op_sad_add(void *arg, struct model_sa *s)
{
	struct pub *p = arg;
	int rc = hash_add(p, p->shared.sad_in, &s->cfg.spi, s->dp);

	gen_bump(p);
	if (rc == 0 && (s->cfg.has & CFG_SA_HAS_ENCAP))
		natt_ref(p, s->cfg.encap_dport, +1);
	return rc;
}

static void
op_sad_del(void *arg, struct model_sa *s)
{
	struct pub *p = arg;
	void *cur;

	if (rte_hash_lookup_data(p->shared.sad_in, &s->cfg.spi, &cur) >= 0 && cur == s->dp)
		hash_del(p, p->shared.sad_in, &s->cfg.spi);
	gen_bump(p);
	if (s->cfg.has & CFG_SA_HAS_ENCAP)
		natt_ref(p, s->cfg.encap_dport, -1);
}

static int
op_flow_set(void *arg, const struct gw_flow_key *fk, struct model_sa *s)
{
	struct pub *p = arg;
	int rc = flowtab_add(p->shared.flows, fk, s->dp);

	/* Full of deleted keys' slots: wait out their grace period once. */
	if (rc == -ENOSPC && p->n_dead > 0) {
		rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
		pub_reclaim(p);
		rc = flowtab_add(p->shared.flows, fk, s->dp);
	}
	gen_bump(p);
	return rc;
}

static void
op_flow_del(void *arg, const struct gw_flow_key *fk)
{
	struct pub *p = arg;

	int32_t pos = flowtab_del(p->shared.flows, fk);

	if (pos >= 0)
		dead_add(p, &(struct pub_dead){ .ft = p->shared.flows, .pos = pos });
	gen_bump(p);
}

static bool
op_sa_usable(void *arg, const struct model_sa *s)
{
	const struct gw_sa *gw = s->dp;

	(void)arg;
	return gw != NULL && gw_sa_usable(gw);
}

static int
neigh_key(struct gw_neigh_key *k, const struct cfg_neigh *n)
{
	memset(k, 0, sizeof(*k));
	k->port = n->port;
	k->family = model_family(&n->ip);
	memcpy(k->addr, n->ip.a, model_addr_bytes(&n->ip));
	return 0;
}

static int
op_neigh(void *arg, const struct cfg_neigh *n, bool add)
{
	struct rte_ether_addr mac;
	struct gw_neigh_key k;

	neigh_key(&k, n);
	if (!add)
		return neigh_del(arg, &k);
	memcpy(mac.addr_bytes, n->lladdr, RTE_ETHER_ADDR_LEN);
	return neigh_static(arg, &k, &mac);
}

static void
op_neigh_flush(void *arg)
{
	neigh_flush(arg);
}

/*
 * `set out-sa` changed: every outbound SA gets a new record in the new
 * mode, with the same keys and IV mask (as `state migrate` makes one), so
 * no record is ever numbered by plain stores and atomic adds at once.
 */
static void
out_sa_remake(struct pub *p)
{
	bool shared = p->model->out_sa == CFG_OUT_SA_SHARED;
	uint32_t i, failed = 0;

	if (p->out_sa == p->model->out_sa)
		return; /* another setting changed */
	p->out_sa = p->model->out_sa;
	for (i = 0; i < p->model->n_sas; i++) {
		struct model_sa *s = p->model->sas[i];
		const struct gw_sa *gw = s->dp;

		if (s->dir != CFG_DIR_OUT || gw == NULL || gw->esp.shared == shared)
			continue;
		if (op_sa_migrate(p, s, &s->cfg) < 0)
			failed++;
	}
	if (failed != 0)
		fprintf(stderr, "espd: set out-sa: %u outbound SAs keep the old mode (out of "
			"memory for their new records)\n", failed);
}

/* The settings workers read, copied where they read them. */
static void
op_settings(void *arg)
{
	struct pub *p = arg;

	out_sa_remake(p);
	p->shared.idle_adaptive = p->model->worker_idle == CFG_IDLE_ADAPTIVE;
	p->shared.mss_clamp = p->model->tcp_mss_clamp;
	p->shared.icmp_unreachable = p->model->icmp_unreachable;
	p->shared.acquire_queue = p->model->acquire_queue;
	p->shared.acquire_queue_total = p->model->acquire_queue_total;
	p->shared.acquire_expires = p->model->acquire_expires;
}

static const struct model_ops pub_model_ops = {
	.neigh = op_neigh,
	.neigh_flush = op_neigh_flush,
	.settings = op_settings,
	.sa_create = op_sa_create,
	.sa_rekey = op_sa_rekey,
	.sa_migrate = op_sa_migrate,
	.sa_limits = op_sa_limits,
	.sa_destroy = op_sa_destroy,
	.sad_add = op_sad_add,
	.sad_del = op_sad_del,
	.flow_set = op_flow_set,
	.flow_del = op_flow_del,
	.sa_usable = op_sa_usable,
};

/* ---- tables and the hashes -------------------------------------------- */

/* A table one writer (lcore 0) changes and lock-free readers (workers)
 * read. With @p qsbr, deleted keys' slots are freed by rte_hash through
 * its own defer queue; without, by hash_del(). */
static struct rte_hash *
lf_hash(const char *name, uint32_t entries, uint32_t key_len,
	struct rte_rcu_qsbr *qsbr)
{
	struct rte_hash_parameters prm = {
		.name = name,
		.entries = entries,
		.key_len = key_len,
		/* CRC32 instructions, much cheaper than jhash on the 48-byte
		 * flow key that workers hash for every packet (bench/RESULTS.md,
		 * gateway section). */
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		/* One writer (lcore 0), lock-free readers (workers). */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash_rcu_config rcu = {
		.v = qsbr,
		.mode = RTE_HASH_QSBR_MODE_DQ,
	};
	struct rte_hash *h = rte_hash_create(&prm);

	/* Deleted slots are reused only after every reader moved on. */
	if (h != NULL && qsbr != NULL && rte_hash_rcu_qsbr_add(h, &rcu) != 0) {
		rte_hash_free(h);
		return NULL;
	}
	return h;
}

int
pub_prepare(struct pub *p, struct gw_model *m, uint32_t max_sas)
{
	static unsigned int seq;
	char sad[RTE_HASH_NAMESIZE], flows[RTE_HASH_NAMESIZE], neighs[RTE_HASH_NAMESIZE];
	unsigned int n = rte_lcore_count() - 1, i;
	struct timespec ts;
	size_t sz;

	for (i = 0; i < GW_PORTS_MAX; i++)
		p->taps[i].fd = -1;
	/* Without it lcore 0 just sleeps its millisecond (gw_shared). */
	p->shared.ctl_wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n == 0) {
		fprintf(stderr, "espd: no worker lcore: give EAL at least two lcores (-l 0,1)\n");
		return -EINVAL;
	}
	p->model = m;
	p->out_sa = m->out_sa;
	p->max_recs = max_sas > (UINT32_MAX - 64) / 2 ? UINT32_MAX : 2 * max_sas + 64;
	p->seq = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
	snprintf(sad, sizeof(sad), "espd_sad%u", p->seq);
	snprintf(flows, sizeof(flows), "espd_flows%u", p->seq);
	snprintf(neighs, sizeof(neighs), "espd_neigh%u", p->seq);
	p->n_workers = n;
	p->tsc_hz = rte_get_tsc_hz();
	p->tsc0 = rte_rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->mono0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	sz = rte_rcu_qsbr_get_memsize(n);
	p->shared.qsbr = rte_zmalloc("qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (p->shared.qsbr == NULL || rte_rcu_qsbr_init(p->shared.qsbr, n) != 0)
		goto err_nomem;
	/* Hashes keep a quarter spare: rte_hash fills its buckets only so
	 * far before an insert fails. */
	p->shared.sad_in = lf_hash(sad, max_sas + max_sas / 4 + 64,
				   sizeof(uint32_t), NULL);
	p->shared.flows = flowtab_create(flows, max_sas + max_sas / 4 + 64,
					 (int)rte_socket_id());
	p->shared.neigh = lf_hash(neighs, NEIGH_MAX + NEIGH_MAX / 4,
				  sizeof(struct gw_neigh_key), p->shared.qsbr);
	p->natt_refs = calloc(65536, sizeof(*p->natt_refs));
	if (p->shared.sad_in == NULL || p->shared.flows == NULL ||
	    p->shared.neigh == NULL || p->natt_refs == NULL || neigh_init(p) < 0)
		goto err_nomem;
	model_set_ops(m, &pub_model_ops, p);
	op_settings(p);
	return 0;

err_nomem:
	fprintf(stderr, "espd: out of memory for %u SAs (try a smaller --max-sas or more -m)\n",
		max_sas);
	return -ENOMEM;
}

int
pub_publish(struct pub *p)
{
	struct gw_tables *old, *t;
	int rc;

	t = tables_build(p->model, p->shared.tables, p->macs, (int)rte_socket_id(), &rc);
	if (t == NULL) {
		fprintf(stderr, "espd: building tables: %s\n", strerror(-rc));
		return rc;
	}
	p->model->dirty = 0;
	old = __atomic_exchange_n(&p->shared.tables, t, __ATOMIC_RELEASE);
	if (old != NULL) {
		/* Every worker has passed a quiescent point since the
		 * store: nobody can hold the old pointer any more. */
		if (p->shared.qsbr != NULL)
			rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
		tables_free(old);
	}
	/* xdp-steer's maps follow the same model: addresses, routes and
	 * policies decide what the program hands to espd. */
	return xdp_sync(p);
}

void
pub_launch(struct pub *p)
{
	unsigned int i;

	for (i = 0; i < p->n_workers; i++)
		rte_eal_remote_launch(gw_worker_main, p->workers[i], p->workers[i]->lcore_id);
}

void
pub_halt(struct pub *p)
{
	p->shared.stop = true;
	rte_eal_mp_wait_lcore();
}

uint64_t
pub_rx_total(const struct pub *p)
{
	uint64_t sum = 0;
	unsigned int i, port;

	for (i = 0; i < p->n_workers; i++)
		for (port = 0; port < GW_PORTS_MAX; port++)
			sum += p->workers[i]->port[port].rx;
	return sum;
}

/* ---- counters --------------------------------------------------------- */

/* An SA's counters as the workers write them: aligned 64-bit loads, a
 * running total either way. */
static void
stats_read(const struct gw_sa *gw, struct esp_sa_stats *st)
{
	st->packets = __atomic_load_n(&gw->esp.stats.packets, __ATOMIC_RELAXED);
	st->bytes = __atomic_load_n(&gw->esp.stats.bytes, __ATOMIC_RELAXED);
	st->replay_drops = gw->esp.stats.replay_drops;
	st->icv_failures = gw->esp.stats.icv_failures;
}

void
pub_counters(const struct pub *p, uint64_t out[CNT__MAX])
{
	unsigned int i, c;

	for (c = 0; c < CNT__MAX; c++)
		out[c] = p->ctl_cnt.c[c];
	out[CNT_PfpFlows] += p->model != NULL ? p->model->pfp_flows : 0;
	for (i = 0; i < pub_n_contexts(p); i++)
		if (pub_context(p, i) != NULL)
			for (c = 0; c < CNT__MAX; c++)
				out[c] += pub_context(p, i)->cnt.c[c];
	for (c = 0; c < CNT__MAX; c++)
		out[c] -= p->base.c[c];
}

/* What @p port's device dropped (no room in its ring, no mbuf): its
 * count while it runs, the last one once closed (pub_ports_close()). */
static uint64_t
port_dev_drops(const struct pub *p, unsigned int port)
{
	struct rte_eth_stats es;

	if (!p->port_started[port])
		return p->port_dev_drop[port];
	return rte_eth_stats_get((uint16_t)port, &es) == 0 ? es.imissed + es.rx_nombuf : 0;
}

static void
port_raw(const struct pub *p, unsigned int port, struct gw_port_stats *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < pub_n_contexts(p); i++) {
		const struct gw_worker *w = pub_context(p, i);

		if (w == NULL)
			continue;
		s->rx += w->port[port].rx;
		s->tx += w->port[port].tx;
		s->drop += w->port[port].drop;
	}
	s->drop += port_dev_drops(p, port);
}

void
pub_port_counters(const struct pub *p, unsigned int port, struct gw_port_stats *s)
{
	port_raw(p, port, s);
	s->rx -= p->port_base[port].rx;
	s->tx -= p->port_base[port].tx;
	s->drop -= p->port_base[port].drop;
}

void
pub_counters_reset(struct pub *p)
{
	uint64_t now[CNT__MAX];
	unsigned int c, port;
	uint32_t i;

	/* Workers own their counters: instead of writing into them, the
	 * totals so far become the baseline that reads subtract. */
	pub_counters(p, now);
	for (c = 0; c < CNT__MAX; c++)
		p->base.c[c] += now[c];
	for (port = 0; port < GW_PORTS_MAX; port++)
		port_raw(p, port, &p->port_base[port]);
	for (i = 0; i < p->model->n_sas; i++) {
		struct gw_sa *gw = p->model->sas[i]->dp;

		if (gw != NULL)
			stats_read(gw, &gw->stats_base);
	}
}

void
pub_sa_totals(const struct model_sa *s, struct sa_counters *c)
{
	const struct gw_sa *gw = s->dp;
	struct esp_sa_stats st = { 0 };

	if (gw != NULL)
		stats_read(gw, &st);
	c->packets = st.packets;
	c->bytes = st.bytes;
	c->replay_drops = st.replay_drops;
	c->icv_failures = st.icv_failures;
}

void
pub_sa_counters(const struct model_sa *s, struct sa_counters *c)
{
	const struct gw_sa *gw = s->dp;

	pub_sa_totals(s, c);
	if (gw == NULL)
		return;
	c->packets -= gw->stats_base.packets;
	c->bytes -= gw->stats_base.bytes;
	c->replay_drops -= gw->stats_base.replay_drops;
	c->icv_failures -= gw->stats_base.icv_failures;
}

uint64_t
pub_sa_seq(const struct model_sa *s)
{
	const struct gw_sa *gw = s->dp;

	if (gw == NULL)
		return 0;
	if (gw->esp.dir == ESP_DIR_OUT)
		return esp_sa_last_seq(&gw->esp);
	return gw->esp.replay != NULL ? gw->esp.replay->top : gw->esp.seq;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The wall-clock time of a worker's TSC reading (struct gw_sa.use_tsc),
 * counted back from now: an hour-old anchor read through the TSC rate
 * DPDK gives (nominal: 0.15 % off on a guest measured here) drifted 5 s
 * an hour, and charon reads use times for DPD and inactivity. The rate is
 * measured against CLOCK_MONOTONIC since start, once a second has gone
 * by; the wall clock is read now, so a step of it is followed.
 */
uint64_t
pub_sa_use_ns(const struct pub *p, const struct model_sa *s)
{
	const struct gw_sa *gw = s->dp;
	uint64_t tsc = gw != NULL ? __atomic_load_n(&gw->use_tsc, __ATOMIC_RELAXED) : 0;
	uint64_t real, mono, tsc_now, ago;
	double hz = (double)p->tsc_hz;

	if (tsc == 0 || tsc < p->tsc0)
		return 0;
	real = clock_ns(CLOCK_REALTIME);
	mono = clock_ns(CLOCK_MONOTONIC);
	tsc_now = rte_rdtsc();
	if (mono > p->mono0_ns + 1000000000ull && tsc_now > p->tsc0)
		hz = (double)(tsc_now - p->tsc0) * 1e9 / (double)(mono - p->mono0_ns);
	if (tsc >= tsc_now)
		return real;
	ago = (uint64_t)((double)(tsc_now - tsc) * 1e9 / hz);
	return ago < real ? real - ago : 0;
}

void
pub_ports_close(struct pub *p)
{
	unsigned int port;

	/* Before the ports close: DPDK 22.11's net_af_xdp detaches whatever
	 * program is on the interface in driver mode when it closes, and
	 * espd must take its own off in every mode. */
	xdp_detach_all(p);
	for (port = 0; port < GW_PORTS_MAX; port++) {
		if (!p->port_started[port])
			continue;
		p->port_dev_drop[port] = port_dev_drops(p, port);
		rte_eth_dev_stop((uint16_t)port);
		rte_eth_dev_close((uint16_t)port);
		p->port_started[port] = false;
	}
}

void
pub_stop(struct pub *p)
{
	unsigned int port, i;

	pub_ports_close(p);
	for (port = 0; port < GW_PORTS_MAX; port++)
		tap_close(&p->taps[port]);
	neigh_fini(p);
	tables_free(p->shared.tables);
	p->shared.tables = NULL;
	/* The workers are stopped: no reader is left. The model may be
	 * gone: no SA to carry counts to. */
	p->model = NULL;
	for (i = 0; i < p->n_dead; i++)
		dead_free(p, &p->dead[i]);
	free(p->dead);
	p->dead = NULL;
	p->n_dead = p->cap_dead = 0;
	for (i = 0; i < PUB_REC_SIZES; i++)
		slab_fini(&p->recs[i]);
	for (i = 0; i < p->n_workers; i++) {
		pub_worker_free(p->workers[i]);
		p->workers[i] = NULL;
	}
	pub_worker_free(p->w0);
	p->w0 = NULL;
	p->n_workers = 0;
	rte_hash_free(p->shared.sad_in);
	flowtab_free(p->shared.flows);
	rte_hash_free(p->shared.neigh);
	rte_free(p->shared.qsbr);
	if (p->shared.ctl_wake.fd >= 0)
		close(p->shared.ctl_wake.fd);
	rte_mempool_free(p->pool);
	rte_mempool_free(p->big_pool);
	free(p->natt_refs);
	memset(p, 0, sizeof(*p));
}
