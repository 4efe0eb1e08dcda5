/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The neighbour table (see neigh.h): a plain index of entries on lcore 0,
 * and for each resolved one a struct gw_neigh in the workers' lock-free
 * hash, replaced (never changed in place where a worker could see a half
 * written MAC) and retired after an RCU grace period.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/neigh.h"
#include "control/publish.h"
#include "control/xdp.h"
#include "dataplane/nd.h"
#include "dataplane/worker_priv.h"

#define NSEC 1000000000ull
#define RETRY_NS NSEC /* DESIGN.md: a request every second */
#define TICK_NS (100 * 1000000ull) /* timers are looked at this often */
/* On an xdp-steer port the kernel resolves (xdp_neigh_ask), on the same
 * host: look at its table every tick, for as long as it keeps trying
 * itself (3 requests a second apart, Linux's mcast_solicit). */
#define KERNEL_RETRY_NS TICK_NS
#define KERNEL_TRIES 30

struct neigh_dead {
	struct gw_neigh *dp;
	uint64_t token;
};

struct neigh_table {
	struct hmap by_key;          /* gw_neigh_key -> struct neigh * */
	uint32_t queued;             /* packets waiting, all entries together */
	uint64_t last_tick_ns;
	struct neigh_dead *dead;
	uint32_t n_dead, cap_dead;
};

static uint64_t
reachable_ns(const struct pub *p)
{
	return (uint64_t)p->model->neigh_reachable * NSEC;
}

const char *
neigh_state_name(uint8_t state)
{
	static const char *const names[] = {
		[NEIGH_INCOMPLETE] = "incomplete", [NEIGH_REACHABLE] = "reachable",
		[NEIGH_STALE] = "stale", [NEIGH_PROBE] = "probe",
		[NEIGH_PERMANENT] = "permanent", [NEIGH_FAILED] = "failed",
	};

	return state < RTE_DIM(names) ? names[state] : "?";
}

int
neigh_init(struct pub *p)
{
	struct neigh_table *nt = calloc(1, sizeof(*nt));

	if (nt == NULL)
		return -ENOMEM;
	hmap_init(&nt->by_key, sizeof(struct gw_neigh_key));
	p->neigh = nt;
	return 0;
}

/* ---- what the workers see --------------------------------------------- */

static void
dp_retire(struct pub *p, struct gw_neigh *dp)
{
	struct neigh_table *nt = p->neigh;

	dp->dead = 1;
	if (nt->n_dead == nt->cap_dead) {
		uint32_t cap = nt->cap_dead ? nt->cap_dead * 2 : 64;
		struct neigh_dead *d = realloc(nt->dead, cap * sizeof(*d));

		if (d == NULL) {
			rte_rcu_qsbr_synchronize(p->shared.qsbr, RTE_QSBR_THRID_INVALID);
			rte_free(dp);
			return;
		}
		nt->dead = d;
		nt->cap_dead = cap;
	}
	nt->dead[nt->n_dead].dp = dp;
	nt->dead[nt->n_dead++].token = rte_rcu_qsbr_start(p->shared.qsbr);
}

/* Publish @p n's MAC (a new record: a worker never sees a MAC half
 * written), retiring the old one. @return false when out of memory:
 * workers keep the old one, or keep asking. */
static bool
dp_publish(struct pub *p, struct neigh *n)
{
	struct gw_neigh *dp = rte_zmalloc("gw_neigh", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	struct gw_neigh *old = n->dp;

	if (dp == NULL)
		return false;
	dp->mac = n->mac;
	dp->used_tsc = 0; /* unused yet: the first worker to use it says so */
	if (rte_hash_add_key_data(p->shared.neigh, &n->key, dp) < 0) {
		rte_free(dp);
		return false;
	}
	n->dp = dp;
	if (old != NULL)
		dp_retire(p, old);
	return true;
}

static void
dp_unpublish(struct pub *p, struct neigh *n)
{
	if (n->dp == NULL)
		return;
	rte_hash_del_key(p->shared.neigh, &n->key);
	dp_retire(p, n->dp);
	n->dp = NULL;
}

/* ---- entries ------------------------------------------------------------ */

static struct neigh *
find(const struct pub *p, const struct gw_neigh_key *k)
{
	void **v = hmap_find(&p->neigh->by_key, k);

	return v != NULL ? *v : NULL;
}

static struct neigh *
create(struct pub *p, const struct gw_neigh_key *k, uint8_t state)
{
	struct neigh *n;

	if (hmap_count(&p->neigh->by_key) >= NEIGH_MAX)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->key = *k;
	n->state = state;
	if (hmap_put(&p->neigh->by_key, k, n) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

/* What waited for @p n goes (NeighFailed). With @p unreach, because @p n
 * never answered and `set icmp-unreachable on`: each packet gets Host
 * Unreachable (RFC 1812 4.3.3.1; Linux's neighbour error report), sent by
 * lcore 0's exception path, which rate-limits it. */
static void
queue_drop(struct pub *p, struct neigh *n, bool unreach)
{
	uint8_t i;

	for (i = 0; i < n->nq; i++) {
		if (unreach)
			punt_icmp(p->w0, n->q[i], ICMP_ERR_UNREACH_HOST, n->q[i]->port, 0,
				  n->q[i]->packet_type == GW_PT_FROM_SA);
		else
			rte_pktmbuf_free(n->q[i]);
	}
	p->ctl_cnt.c[CNT_NeighFailed] += n->nq;
	p->neigh->queued -= n->nq;
	n->nq = 0;
}

static void
destroy(struct pub *p, struct neigh *n)
{
	queue_drop(p, n, false);
	dp_unpublish(p, n);
	hmap_del(&p->neigh->by_key, &n->key);
	free(n);
}

/* The packets that waited go out now that the MAC is known. */
static void
queue_send(struct pub *p, struct neigh *n)
{
	const struct gw_tables *t = p->shared.tables;

	if (n->nq > 0 && t != NULL) {
		gw_route_send(p->w0, t, n->q, n->nq);
		p->neigh->queued -= n->nq;
	} else {
		queue_drop(p, n, false);
	}
	n->nq = 0;
}

/* ---- requests and probes ------------------------------------------------ */

static bool
kernel_resolves(const struct pub *p, const struct neigh *n)
{
	return n->key.port < GW_PORTS_MAX && p->xdp[n->key.port] != NULL;
}

static uint64_t
retry_ns(const struct pub *p, const struct neigh *n)
{
	return kernel_resolves(p, n) ? KERNEL_RETRY_NS : RETRY_NS;
}

static unsigned int
tries_max(const struct pub *p, const struct neigh *n)
{
	return kernel_resolves(p, n) ? KERNEL_TRIES : NEIGH_TRIES;
}

/* Our address on @p port to ask from: one of the target's subnet if the
 * port has one, else the first of its family. */
static bool
source_addr(const struct pub *p, const struct gw_neigh_key *k, uint8_t src[16])
{
	const struct cfg_port *cp = &p->model->ports[k->port];
	uint8_t af = model_af(k->family);
	int best = -1;
	uint8_t i;

	for (i = 0; i < cp->naddr; i++) {
		const struct cfg_addr *a = &cp->addr[i];
		unsigned int bits = a->len, b;
		bool same = true;

		if (a->af != af)
			continue;
		if (best < 0)
			best = i;
		for (b = 0; b < bits && same; b++)
			same = ((a->a[b / 8] ^ k->addr[b / 8]) & (0x80 >> (b % 8))) == 0;
		if (same) {
			best = i;
			break;
		}
	}
	if (best < 0)
		return false;
	memset(src, 0, 16);
	memcpy(src, cp->addr[best].a, model_addr_bytes(&cp->addr[best]));
	return true;
}

/* A request (broadcast ARP, multicast NS) or, with @p unicast, a probe to
 * the MAC we have. */
static void
ask(struct pub *p, struct neigh *n, bool unicast)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6];
	const uint8_t *our = p->macs[n->key.port].addr_bytes;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct rte_ether_addr mac;
	uint8_t src[16];
	int rc;

	/* On an xdp-steer port the kernel owns ARP and ND (the answers go
	 * to it, not to espd): ask its table, and have it resolve. The
	 * next retry, a second later, finds what it learnt. */
	rc = xdp_neigh_ask(p, &n->key, unicast, &mac);
	if (rc != -ENOTSUP) {
		rte_pktmbuf_free(m);
		n->tries++;
		if (rc == 1)
			neigh_learn(p, &n->key, &mac, NEIGH_ANSWER, true);
		return;
	}
	/* Every attempt counts, sent or not (no mbuf, or no address of the
	 * family on the port to ask from): an entry that cannot ask still
	 * fails in time and frees what waits for it. */
	n->tries++;
	if (m == NULL)
		return;
	if (!source_addr(p, &n->key, src)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (n->key.family == 4)
		rc = arp_build(m, RTE_ARP_OP_REQUEST, unicast ? n->mac.addr_bytes : bcast,
			       our, src, zero, n->key.addr);
	else
		rc = nd_build_ns(m, our, src, n->key.addr, unicast ? n->key.addr : NULL,
				 unicast ? n->mac.addr_bytes : NULL);
	if (rc < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	gw_tx_frame(p->w0, n->key.port, m);
}

/* ---- the interface ------------------------------------------------------ */

int
neigh_static(struct pub *p, const struct gw_neigh_key *k, const struct rte_ether_addr *mac)
{
	struct neigh *n = find(p, k);
	bool created = n == NULL;
	struct rte_ether_addr was_mac;
	uint8_t was_state, was_tries;

	if (n == NULL && (n = create(p, k, NEIGH_PERMANENT)) == NULL)
		return -ENOMEM;
	was_mac = n->mac;
	was_state = n->state;
	was_tries = n->tries;
	n->state = NEIGH_PERMANENT;
	n->mac = *mac;
	n->tries = 0;
	if (!dp_publish(p, n)) {
		/* Not in the data plane: not in the table either (the
		 * workers would queue for it, and nothing ever answers a
		 * PERMANENT entry's questions). */
		if (created) {
			destroy(p, n);
		} else {
			n->state = was_state;
			n->mac = was_mac;
			n->tries = was_tries;
		}
		return -ENOMEM;
	}
	queue_send(p, n);
	return 0;
}

int
neigh_del(struct pub *p, const struct gw_neigh_key *k)
{
	struct neigh *n = find(p, k);

	if (n == NULL)
		return -ENOENT;
	destroy(p, n);
	return 0;
}

void
neigh_flush(struct pub *p)
{
	struct gw_neigh_key *keys;
	const void *k;
	void *v;
	size_t i = 0, n = 0, j;

	keys = malloc((hmap_count(&p->neigh->by_key) + 1) * sizeof(*keys));
	if (keys == NULL)
		return;
	while (hmap_next(&p->neigh->by_key, &i, &k, &v))
		if (((struct neigh *)v)->state != NEIGH_PERMANENT)
			memcpy(&keys[n++], k, sizeof(*keys));
	for (j = 0; j < n; j++)
		neigh_del(p, &keys[j]);
	free(keys);
}

void
neigh_learn(struct pub *p, const struct gw_neigh_key *k, const struct rte_ether_addr *mac,
	    enum neigh_how how, bool override)
{
	struct neigh *n = find(p, k);
	uint64_t now = p->model->now_ns();
	bool changed;

	if (n == NULL) {
		/* RFC 826, RFC 4861 7.2.3 / Linux: who asks for our address
		 * is added, stale; nothing else makes an entry. */
		if (how != NEIGH_HEARD)
			return;
		n = create(p, k, NEIGH_STALE);
		if (n == NULL)
			return;
		n->mac = *mac;
		n->confirmed_ns = now;
		n->next_ns = now + RETRY_NS;
		n->stale_tsc = rte_rdtsc();
		(void)dp_publish(p, n);
		return;
	}
	if (n->state == NEIGH_PERMANENT)
		return; /* `neigh add` wins */
	changed = !rte_is_same_ether_addr(&n->mac, mac);
	if (changed && !override && n->state != NEIGH_INCOMPLETE &&
	    n->state != NEIGH_FAILED) {
		/* RFC 4861 7.2.5, O clear: not taken; a reachable entry is
		 * only in doubt now. */
		if (n->state == NEIGH_REACHABLE) {
			n->state = NEIGH_STALE;
			n->next_ns = now + RETRY_NS;
			n->stale_tsc = rte_rdtsc();
		}
		return;
	}
	n->mac = *mac;
	if (how == NEIGH_ANSWER || n->state == NEIGH_INCOMPLETE || n->state == NEIGH_FAILED) {
		n->state = how == NEIGH_ANSWER ? NEIGH_REACHABLE : NEIGH_STALE;
		n->confirmed_ns = now;
		n->next_ns = now + reachable_ns(p);
		n->tries = 0;
		n->stale_tsc = rte_rdtsc();
	} else if (changed) {
		/* RFC 4861 7.2.5: a new address heard, not confirmed. */
		n->state = NEIGH_STALE;
		n->next_ns = now + RETRY_NS;
		n->stale_tsc = rte_rdtsc();
	}
	if (changed || n->dp == NULL)
		(void)dp_publish(p, n);
	queue_send(p, n);
}

void
neigh_confirm(struct pub *p, const struct gw_neigh_key *k)
{
	struct neigh *n = find(p, k);

	if (n != NULL && n->state != NEIGH_INCOMPLETE && n->state != NEIGH_FAILED &&
	    n->state != NEIGH_PERMANENT)
		neigh_learn(p, k, &n->mac, NEIGH_ANSWER, false);
}

void
neigh_resolve(struct pub *p, const struct gw_neigh_key *k, struct rte_mbuf *m)
{
	struct neigh *n = find(p, k);
	uint64_t now = p->model->now_ns();

	if (n != NULL && n->dp != NULL) {
		/* Resolved while the packet travelled here. */
		const struct gw_tables *t = p->shared.tables;

		gw_route_send(p->w0, t, &m, 1);
		return;
	}
	if (n == NULL) {
		n = create(p, k, NEIGH_INCOMPLETE);
		if (n == NULL) {
			rte_pktmbuf_free(m);
			p->ctl_cnt.c[CNT_NeighFailed]++;
			return;
		}
	} else if (n->state == NEIGH_FAILED) {
		/* As Linux: a packet for a failed neighbour asks again. */
		n->state = NEIGH_INCOMPLETE;
		n->tries = 0;
	}
	/* NEIGH_QUEUE a neighbour, NEIGH_QUEUED_MAX (and an eighth of the
	 * mbuf pool) all together: a scan of a connected /64 makes an entry
	 * an address, and must not pin the mbufs RX needs. */
	if (n->nq == NEIGH_QUEUE ||
	    p->neigh->queued >= RTE_MIN((uint32_t)NEIGH_QUEUED_MAX, p->pool_size / 8)) {
		rte_pktmbuf_free(m);
		p->ctl_cnt.c[CNT_NeighFailed]++;
	} else {
		n->q[n->nq++] = m;
		p->neigh->queued++;
		p->ctl_cnt.c[CNT_NeighQueued]++;
	}
	if (n->tries == 0) {
		ask(p, n, false);
		if (n->state == NEIGH_INCOMPLETE)
			n->next_ns = now + retry_ns(p, n);
	}
}

unsigned int
neigh_timers(struct pub *p, uint64_t now)
{
	struct neigh_table *nt = p->neigh;
	struct gw_neigh_key *gone = NULL;
	size_t i = 0, n_gone = 0, cap = 0, j;
	unsigned int work = 0;
	const void *k;
	void *v;

	if (now - nt->last_tick_ns < TICK_NS)
		return 0;
	nt->last_tick_ns = now;
	/* Retired records whose grace period passed. */
	for (j = 0, i = 0; i < nt->n_dead; i++) {
		if (rte_rcu_qsbr_check(p->shared.qsbr, nt->dead[i].token, false) == 1)
			rte_free(nt->dead[i].dp);
		else
			nt->dead[j++] = nt->dead[i];
	}
	nt->n_dead = (uint32_t)j;

	for (i = 0; hmap_next(&nt->by_key, &i, &k, &v);) {
		struct neigh *n = v;
		bool used;

		if (n->state == NEIGH_PERMANENT || now < n->next_ns)
			continue;
		work++;
		switch (n->state) {
		case NEIGH_INCOMPLETE:
		case NEIGH_PROBE:
			if (n->tries < tries_max(p, n)) {
				uint8_t was = n->state;

				ask(p, n, n->state == NEIGH_PROBE);
				/* (unless the kernel's table answered at once) */
				if (n->state == was)
					n->next_ns = now + retry_ns(p, n);
				continue;
			}
			/* No answer: failed, its packets dropped and its
			 * MAC (a probed one) no longer used. */
			n->state = NEIGH_FAILED;
			queue_drop(p, n, p->shared.icmp_unreachable);
			dp_unpublish(p, n);
			n->next_ns = now + reachable_ns(p);
			continue;
		case NEIGH_FAILED:
			break; /* listed long enough: gone */
		case NEIGH_REACHABLE:
			n->state = NEIGH_STALE;
			n->stale_tsc = rte_rdtsc();
			n->next_ns = now + RETRY_NS;
			continue;
		case NEIGH_STALE:
			/* Used since it went stale: probe it. Unused for
			 * another 2 x neigh-reachable: it goes. Else look
			 * again in a second. */
			used = n->dp != NULL && n->dp->used_tsc > n->stale_tsc;
			if (used) {
				n->state = NEIGH_PROBE;
				n->tries = 0;
				ask(p, n, true);
				if (n->state == NEIGH_PROBE)
					n->next_ns = now + retry_ns(p, n);
				continue;
			}
			if (now - n->confirmed_ns < 3 * reachable_ns(p)) {
				n->next_ns = now + RETRY_NS;
				continue;
			}
			break;
		default:
			continue;
		}
		if (n_gone == cap) {
			struct gw_neigh_key *g;

			cap = cap ? cap * 2 : 16;
			g = realloc(gone, cap * sizeof(*g));
			if (g == NULL)
				break;
			gone = g;
		}
		gone[n_gone++] = n->key;
	}
	for (j = 0; j < n_gone; j++)
		neigh_del(p, &gone[j]);
	free(gone);
	return work;
}

const struct neigh *
neigh_next(const struct pub *p, size_t *i)
{
	const void *k;
	void *v;

	return p->neigh != NULL && hmap_next(&p->neigh->by_key, i, &k, &v) ? v : NULL;
}

void
neigh_drop_queued(struct pub *p)
{
	struct neigh_table *nt = p->neigh;
	size_t it = 0;
	const void *k;
	void *v;

	while (nt != NULL && hmap_next(&nt->by_key, &it, &k, &v))
		queue_drop(p, v, false);
}

void
neigh_fini(struct pub *p)
{
	struct neigh_table *nt = p->neigh;
	uint32_t i;

	if (nt == NULL)
		return;
	while (hmap_count(&nt->by_key) > 0) {
		size_t it = 0;
		const void *k;
		void *v;

		if (!hmap_next(&nt->by_key, &it, &k, &v))
			break;
		destroy(p, v);
	}
	hmap_free(&nt->by_key);
	/* The workers are stopped. */
	for (i = 0; i < nt->n_dead; i++)
		rte_free(nt->dead[i].dp);
	free(nt->dead);
	free(nt);
	p->neigh = NULL;
}
