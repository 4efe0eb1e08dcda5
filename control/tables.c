/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compiling the model's policies, routes and ports into the
 * tables the workers read (struct gw_tables), built whole and swapped in
 * under RCU by the caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>

#include "control/publish.h"

static atomic_uint tbl_seq;

/* The new tables take over the old ones' policies: the old keep a
 * borrowed reference, released with them (owned = false). */
static void
share_policies(struct gw_tables *t, struct gw_tables *old)
{
	t->spd_out = old->spd_out;
	t->spd_in = old->spd_in;
	t->pols = old->pols;
	t->n_pols = old->n_pols;
	t->own_spd = old->own_spd;
	old->own_spd = false;
}

static void
share_routes(struct gw_tables *t, struct gw_tables *old)
{
	t->lpm4 = old->lpm4;
	t->lpm6 = old->lpm6;
	t->nh = old->nh;
	t->n_nh = old->n_nh;
	t->own_routes = old->own_routes;
	old->own_routes = false;
}

void
tables_free(struct gw_tables *t)
{
	if (t == NULL)
		return;
	if (!t->own_spd)
		t->spd_out = t->spd_in = NULL, t->pols = NULL;
	if (!t->own_routes)
		t->lpm4 = NULL, t->lpm6 = NULL, t->nh = NULL;
	spd_free(t->spd_out);
	spd_free(t->spd_in);
	free(t->pols);
	rte_lpm_free(t->lpm4);
	rte_lpm6_free(t->lpm6);
	free(t->nh);
	rte_free(t);
}

/* A policy's place in the rank order: priority, then age, then (never
 * reached: ages are unique) its index in the model. */
struct pol_rank {
	uint32_t priority, seq, idx;
};

static int
pol_rank_cmp(const void *a, const void *b)
{
	const struct pol_rank *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Rank the model's policies: lowest priority value first, then the
 * older (DESIGN.md "Policy rules"). A sort, not an insertion: bench_pfp's
 * 100k policies (priorities 200..1199 in turn) made an insertion move
 * entries 2.5e9 times, ~2.5 s CPU of every SPD rebuild.
 */
static struct pol_rank *
rank_policies(const struct gw_model *m)
{
	struct pol_rank *r = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*r));
	uint32_t i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < m->n_pols; i++) {
		r[i].priority = m->pols[i].cfg.priority;
		r[i].seq = m->pols[i].seq;
		r[i].idx = i;
	}
	qsort(r, m->n_pols, sizeof(*r), pol_rank_cmp);
	return r;
}

static int
build_policies(const struct gw_model *m, struct gw_tables *t, int socket)
{
	struct spd_rule *rin = NULL, *rout = NULL;
	struct spd_sel *sels = NULL;
	struct pol_rank *order = NULL;
	uint32_t j, nin = 0, nout = 0;
	int rc = -ENOMEM;

	t->own_spd = true;
	t->n_pols = m->n_pols;
	t->pols = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*t->pols));
	sels = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*sels));
	rin = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*rin));
	rout = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*rout));
	order = rank_policies(m);
	if (t->pols == NULL || sels == NULL || rin == NULL || rout == NULL ||
	    order == NULL)
		goto out;

	for (j = 0; j < m->n_pols; j++) {
		const struct cfg_policy *p = &m->pols[order[j].idx].cfg;
		struct gw_policy *gp = &t->pols[j];
		struct spd_rule r = { .sel = &sels[j], .rank = j, .userdata = j + 1 };

		pub_spd_sel(&sels[j], &p->sel);
		gp->index = p->index;
		gp->dir = p->dir == CFG_DIR_IN ? 0 : p->dir == CFG_DIR_OUT ? 1 : 2;
		if (p->action == CFG_ACTION_BLOCK)
			gp->action = GW_DISCARD;
		else if (p->has_tmpl)
			gp->action = GW_PROTECT;
		else
			gp->action = GW_BYPASS;
		if (p->has_tmpl) {
			pub_esp_addr(&gp->tmpl.src, &p->tmpl.src);
			pub_esp_addr(&gp->tmpl.dst, &p->tmpl.dst);
			gp->tmpl.reqid = p->tmpl.reqid;
			gp->tmpl.spi_be = p->tmpl.has_spi ? rte_cpu_to_be_32(p->tmpl.spi) : 0;
			gp->tmpl.has_addrs = p->tmpl.has_src_dst;
			gp->tmpl.mode = p->tmpl.mode == CFG_MODE_TRANSPORT ?
					ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
			gp->tmpl.level_use = p->tmpl.level == CFG_LEVEL_USE;
		}
		gp->pfp = (uint8_t)p->pfp;
		if (p->dir == CFG_DIR_OUT)
			rout[nout++] = r;
		else
			rin[nin++] = r;
	}

	t->spd_out = nout ? spd_build(rout, nout, socket, &rc) : NULL;
	if (nout && t->spd_out == NULL)
		goto out;
	t->spd_in = nin ? spd_build(rin, nin, socket, &rc) : NULL;
	if (nin && t->spd_in == NULL)
		goto out;
	rc = 0;
out:
	free(sels);
	free(rin);
	free(rout);
	free(order);
	return rc;
}

/*
 * Groups of the LPMs' second level the routes can need: one (IPv4) for
 * each route longer than /24, and (IPv6) one for each byte of a route
 * past its first three; as many again for the ports' addresses. At least
 * what a fixed size gave (256, 1024), so a table of routes and addresses
 * never fails to build for want of them (a route add would then leave a
 * route in the model that the tables cannot hold).
 */
static void
tbl8s_needed(const struct gw_model *m, uint32_t *v4, uint32_t *v6)
{
	uint32_t i, n4 = 0, n6 = 0;

	for (i = 0; i < m->n_routes; i++) {
		const struct cfg_addr *a = &m->routes[i].prefix;

		if (a->af == AF_INET6)
			n6 += a->len > 24 ? (a->len - 24 + 7) / 8u : 0;
		else
			n4 += a->len > 24;
	}
	/* Within what the libraries take (rte_lpm6 refuses more than 2^21);
	 * routes sharing groups need fewer than counted. */
	*v4 = RTE_MIN(RTE_MAX(256u, n4 + GW_PORTS_MAX * CFG_PORT_ADDRS_MAX),
		      (uint32_t)RTE_LPM_MAX_TBL8_NUM_GROUPS);
	/* + the martians' (13 groups a /128, 9 for the /96) */
	*v6 = RTE_MIN(RTE_MAX(1024u, n6 + 13u * GW_PORTS_MAX * CFG_PORT_ADDRS_MAX + 35u),
		      1u << 21);
}

/*
 * Prefix @p a (@p len bits of it, family @p af) to next hop @p nh in the
 * LPMs. rte_lpm and rte_lpm6 take depths from 1: a default route (/0)
 * goes in as its two halves (/1), a rule more, which any longer route
 * still beats; build_routes() adds the defaults first, so that an
 * explicit /1 replaces its half.
 */
static int
lpm_add(struct gw_tables *t, int af, const uint8_t *a, uint8_t len, uint32_t nh)
{
	uint8_t half[16] = { 0 };
	uint32_t ip;
	int rc;

	if (len == 0) {
		half[0] = 0x80;
		rc = lpm_add(t, af, half, 1, nh);
		half[0] = 0;
		return rc < 0 ? rc : lpm_add(t, af, half, 1, nh);
	}
	if (af == AF_INET6)
		return rte_lpm6_add(t->lpm6, a, len, nh);
	memcpy(&ip, a, 4);
	return rte_lpm_add(t->lpm4, ntohl(ip), len, nh);
}

/*
 * Destinations no router forwards (RFC 1812 5.3.7 and 4.2.2.11; RFC 3927
 * 7 for link-local; RFC 6890 for IPv6's), however a default route reads:
 * they lead to a next hop past the table, which the lookups take for no
 * route (NoRoute). An explicit route for one of these prefixes replaces
 * it; a longer one (a connected 169.254.1.0/24) beats it. Not IPv6
 * link-local fe80::/10: a port may have such an address, whose connected
 * route the gateway's own packets to its neighbours take.
 */
static const struct {
	int af;
	uint8_t a[16];
	uint8_t len;
} martians[] = {
	{ AF_INET, { 0, 0, 0, 0 }, 8 },                 /* "this" network */
	{ AF_INET, { 127, 0, 0, 0 }, 8 },               /* loopback */
	{ AF_INET, { 169, 254, 0, 0 }, 16 },            /* link-local */
	{ AF_INET, { 240, 0, 0, 0 }, 4 },               /* reserved */
	{ AF_INET6, { 0 }, 128 },                       /* unspecified */
	{ AF_INET6, { [15] = 1 }, 128 },                /* loopback */
	{ AF_INET6, { [10] = 0xff, [11] = 0xff }, 96 }, /* IPv4-mapped */
};
#define NH_NONE 0xffffffu /* past any table: the lookups say "no route" */

static int
build_routes(const struct gw_model *m, struct gw_tables *t, int socket)
{
	/* A default route takes two rules: as many again as routes, at most. */
	uint32_t n_nh = m->n_routes + GW_PORTS_MAX * CFG_PORT_ADDRS_MAX;
	char name[RTE_LPM_NAMESIZE];
	struct rte_lpm_config c4 = {
		/* + a directed broadcast per port address */
		.max_rules = RTE_MAX(n_nh + m->n_routes + (uint32_t)RTE_DIM(martians) +
				     GW_PORTS_MAX * CFG_PORT_ADDRS_MAX, 16u),
	};
	struct rte_lpm6_config c6 = {
		.max_rules = RTE_MAX(n_nh + m->n_routes + (uint32_t)RTE_DIM(martians), 16u),
	};
	uint32_t i, p, pass;

	tbl8s_needed(m, &c4.number_tbl8s, &c6.number_tbl8s);

	t->own_routes = true;
	snprintf(name, sizeof(name), "lpm4_%u", atomic_fetch_add(&tbl_seq, 1));
	t->lpm4 = rte_lpm_create(name, socket, &c4);
	snprintf(name, sizeof(name), "lpm6_%u", atomic_fetch_add(&tbl_seq, 1));
	t->lpm6 = rte_lpm6_create(name, socket, &c6);
	t->nh = calloc(RTE_MAX(n_nh, 1u), sizeof(*t->nh));
	if (t->lpm4 == NULL || t->lpm6 == NULL || t->nh == NULL)
		return -ENOMEM;

	for (i = 0; i < RTE_DIM(martians); i++) {
		int rc = lpm_add(t, martians[i].af, martians[i].a, martians[i].len, NH_NONE);

		if (rc < 0)
			return rc;
	}
	/* Default routes first (lpm_add()). Each port address gives a
	 * connected (on-link) route, as in Linux; an explicit route for the
	 * same prefix, added after, wins. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->n_routes; i++) {
			const struct cfg_route *r = &m->routes[i];
			struct gw_nexthop *nh = &t->nh[t->n_nh];
			int rc;

			if ((r->prefix.len == 0) != (pass == 0))
				continue;
			nh->port = r->port;
			nh->has_gw = r->has_via;
			nh->relay = m->ports[r->port].role == CFG_ROLE_UNPROTECTED;
			if (r->has_via)
				pub_esp_addr(&nh->gw, &r->via);
			rc = lpm_add(t, r->prefix.af, r->prefix.a, r->prefix.len, t->n_nh);
			if (rc < 0)
				return rc;
			t->n_nh++;
		}
		for (p = 0; pass == 0 && p < GW_PORTS_MAX; p++) {
			for (i = 0; m->has_port[p] && i < m->ports[p].naddr; i++) {
				struct cfg_addr pfx = m->ports[p].addr[i];
				int rc;

				t->nh[t->n_nh].port = (uint16_t)p;
				t->nh[t->n_nh].relay = m->ports[p].role == CFG_ROLE_UNPROTECTED;
				cfg_addr_mask(&pfx);
				rc = lpm_add(t, pfx.af, pfx.a, pfx.len, t->n_nh);
				if (rc < 0)
					return rc;
				t->n_nh++;
				if (pfx.af == AF_INET && pfx.len <= 30) {
					/* The subnet's directed broadcast: not
					 * forwarded (RFC 2644, Linux's default
					 * bc_forwarding 0), as a martian. */
					rte_be32_t b;

					memcpy(&b, pfx.a, 4);
					b |= rte_cpu_to_be_32(UINT32_MAX >> pfx.len);
					rc = lpm_add(t, AF_INET, (const uint8_t *)&b, 32, NH_NONE);
					if (rc < 0)
						return rc;
				}
			}
		}
	}
	return 0;
}

struct gw_tables *
tables_build(const struct gw_model *m, struct gw_tables *old,
	    const struct rte_ether_addr macs[GW_PORTS_MAX], int socket, int *err)
{
	struct gw_tables *t = rte_zmalloc("gw_tables", sizeof(*t), RTE_CACHE_LINE_SIZE);
	unsigned int p;

	if (t == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	t->gen = atomic_fetch_add(&tbl_seq, 1) + 1;
	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!m->has_port[p])
			continue;
		const struct cfg_port *cp = &m->ports[p];
		struct gw_port *gp = &t->ports[p];
		uint8_t i;

		gp->configured = 1;
		gp->role = cp->role == CFG_ROLE_UNPROTECTED ? GW_ROLE_UNPROTECTED :
							      GW_ROLE_PROTECTED;
		gp->mac = macs[p];
		gp->mtu = cp->mtu != 0 ? cp->mtu : RTE_ETHER_MTU;
		for (i = 0; i < cp->naddr && i < GW_PORT_ADDRS; i++) {
			const struct cfg_addr *a = &cp->addr[i];

			pub_esp_addr(&gp->addr[gp->n_addr++], a);
			if (a->af == AF_INET6)
				memcpy(t->local6[t->n_local6++], a->a, 16);
			else
				memcpy(&t->local4[t->n_local4++], a->a, 4);
		}
	}
	bool shared_spd = old != NULL && !(m->dirty & MODEL_DIRTY_SPD);
	bool shared_routes = old != NULL && !(m->dirty & MODEL_DIRTY_ROUTES);

	*err = 0;
	if (shared_spd)
		share_policies(t, old);
	else
		*err = build_policies(m, t, socket);
	/* An LPM table is 64 MiB: rebuild it only when routes change. */
	if (*err == 0 && shared_routes)
		share_routes(t, old);
	else if (*err == 0)
		*err = build_routes(m, t, socket);
	if (*err != 0) {
		/* Hand back what was taken over: the old tables stay live. */
		if (shared_spd) {
			old->own_spd = t->own_spd;
			t->own_spd = false;
		}
		if (shared_routes && t->lpm4 == old->lpm4) {
			old->own_routes = t->own_routes;
			t->own_routes = false;
		}
		tables_free(t);
		return NULL;
	}
	return t;
}
