/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's model and its compilation into worker tables.
 * Errors are -errno with a message in the cfg_error, unwinding with
 * goto (STYLE.md habit 12).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>

#include "control/model.h"

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
model_init(struct gw_model *m, enum crypto_engine_kind engine)
{
	memset(m, 0, sizeof(*m));
	m->engine = engine;
	m->next_index = 1;
	m->next_sa_id = 1;
	m->acquire_expires = 30;
	m->acquire_queue = 16;
	m->acquire_queue_total = 65536;
}

static void
sa_free(struct model_sa *s)
{
	if (s->gw != NULL) {
		esp_sa_fini(&s->gw->esp);
		explicit_bzero(s->gw, sizeof(*s->gw));
		rte_free(s->gw);
		s->gw = NULL;
	}
	explicit_bzero(&s->cfg, sizeof(s->cfg));
}

void
model_free(struct gw_model *m)
{
	uint32_t i;

	for (i = 0; i < m->n_sas; i++)
		sa_free(&m->sas[i]);
	free(m->sas);
	free(m->pols);
	free(m->routes);
	free(m->neighs);
	memset(m, 0, sizeof(*m));
}

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

static void
sel_from_cfg(struct spd_sel *o, const struct cfg_sel *s)
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

static bool
addr_eq(const struct cfg_addr *a, const struct cfg_addr *b)
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
			if (addr_eq(&m->ports[p].addr[i], &s->dst))
				return ESP_DIR_IN;
	}
	return ESP_DIR_OUT;
}

static struct model_sa *
sa_find(struct gw_model *m, const struct cfg_addr *dst, uint32_t spi,
	uint32_t *pos)
{
	uint32_t i;

	for (i = 0; i < m->n_sas; i++) {
		if (m->sas[i].cfg.spi == spi && addr_eq(&m->sas[i].cfg.dst, dst)) {
			if (pos != NULL)
				*pos = i;
			return &m->sas[i];
		}
	}
	return NULL;
}

/* Build the worker-visible SA from a state command. */
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
	sel_from_cfg(&gw->sel, &s->sel);
	gw->reqid = s->reqid;
	gw->id = m->next_sa_id++;
	gw->src = c.src;
	gw->dst = c.dst;
	*out = gw;
	return 0;
}

static int
state_add(struct gw_model *m, const struct cfg_state *s, struct cfg_error *err)
{
	struct model_sa *ms;
	uint8_t dir = infer_dir(m, s);
	uint32_t i;
	int rc;

	if (sa_find(m, &s->dst, s->spi, NULL) != NULL)
		return cfg_error_set(err, -1, "SA with dst and spi 0x%08x exists",
				     s->spi);
	/* The fast path finds inbound SAs by SPI alone. */
	if (dir == ESP_DIR_IN)
		for (i = 0; i < m->n_sas; i++)
			if (m->sas[i].dir == ESP_DIR_IN && m->sas[i].cfg.spi == s->spi)
				return cfg_error_set(err, -1,
						     "inbound spi 0x%08x is already in use",
						     s->spi);
	rc = GROW(m->sas, m->n_sas, m->cap_sas);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	ms = &m->sas[m->n_sas];
	memset(ms, 0, sizeof(*ms));
	rc = sa_make(m, s, dir, &ms->gw, err);
	if (rc < 0)
		return rc;
	ms->dir = dir;
	ms->cfg = *s;
	explicit_bzero(&ms->cfg.algo.cipher_key, sizeof(ms->cfg.algo.cipher_key));
	explicit_bzero(&ms->cfg.algo.auth_key, sizeof(ms->cfg.algo.auth_key));
	m->n_sas++;
	return 0;
}

static int
state_del(struct gw_model *m, const struct cfg_state_id *id,
	  struct cfg_error *err)
{
	uint32_t pos;

	if (sa_find(m, &id->dst, id->spi, &pos) == NULL)
		return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
				     id->spi), -ENOENT;
	/* Not yet published anywhere live while the file is read; the live
	 * path (control socket) unpublishes first and frees after RCU. */
	sa_free(&m->sas[pos]);
	memmove(&m->sas[pos], &m->sas[pos + 1],
		(m->n_sas - pos - 1) * sizeof(m->sas[0]));
	m->n_sas--;
	return 0;
}

static int
policy_add(struct gw_model *m, const struct cfg_policy *p, struct cfg_error *err)
{
	struct model_pol *mp;
	uint32_t i;
	int rc;

	if (p->has_index)
		for (i = 0; i < m->n_pols; i++)
			if (m->pols[i].cfg.index == p->index)
				return cfg_error_set(err, -1, "policy index %u exists",
						     p->index);
	rc = GROW(m->pols, m->n_pols, m->cap_pols);
	if (rc < 0)
		return cfg_error_set(err, -1, "out of memory"), rc;
	mp = &m->pols[m->n_pols++];
	mp->cfg = *p;
	mp->seq = m->next_pol_seq++;
	if (!p->has_index) {
		/* The lowest index not in use, as Linux hands them out. */
		for (;;) {
			for (i = 0; i < m->n_pols - 1; i++)
				if (m->pols[i].cfg.index == m->next_index)
					break;
			if (i == m->n_pols - 1)
				break;
			m->next_index++;
		}
		mp->cfg.index = m->next_index++;
		mp->cfg.has_index = true;
	}
	return 0;
}

static bool
sel_eq(const struct cfg_sel *a, const struct cfg_sel *b)
{
	return addr_eq(&a->src, &b->src) && a->src.len == b->src.len &&
	       addr_eq(&a->dst, &b->dst) && a->dst.len == b->dst.len &&
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
			memmove(&m->pols[i], &m->pols[i + 1],
				(m->n_pols - i - 1) * sizeof(m->pols[0]));
			m->n_pols--;
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
		return 0;
	case CFG_CMD_ROUTE_ADD:
		if (cmd->u.route.port >= GW_PORTS_MAX || !m->has_port[cmd->u.route.port])
			return cfg_error_set(err, -1, "route: port %u is not defined",
					     cmd->u.route.port);
		rc = GROW(m->routes, m->n_routes, m->cap_routes);
		if (rc < 0)
			return rc;
		m->routes[m->n_routes++] = cmd->u.route;
		return 0;
	case CFG_CMD_NEIGH_ADD:
		if (cmd->u.neigh.port >= GW_PORTS_MAX || !m->has_port[cmd->u.neigh.port])
			return cfg_error_set(err, -1, "neigh: port %u is not defined",
					     cmd->u.neigh.port);
		rc = GROW(m->neighs, m->n_neighs, m->cap_neighs);
		if (rc < 0)
			return rc;
		m->neighs[m->n_neighs++] = cmd->u.neigh;
		return 0;
	case CFG_CMD_STATE_ADD:
		return state_add(m, &cmd->u.state, err);
	case CFG_CMD_STATE_UPDATE: {
		uint32_t pos;
		struct cfg_state_id id = { .src = cmd->u.state.src,
					   .dst = cmd->u.state.dst,
					   .spi = cmd->u.state.spi };

		/* In a file nothing is live yet: update is delete + add. */
		if (sa_find(m, &cmd->u.state.dst, cmd->u.state.spi, &pos) == NULL)
			return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
					     cmd->u.state.spi), -ENOENT;
		rc = state_del(m, &id, err);
		return rc < 0 ? rc : state_add(m, &cmd->u.state, err);
	}
	case CFG_CMD_STATE_DEL:
		return state_del(m, &cmd->u.sa, err);
	case CFG_CMD_STATE_FLUSH:
		while (m->n_sas > 0)
			sa_free(&m->sas[--m->n_sas]);
		return 0;
	case CFG_CMD_POLICY_ADD:
		return policy_add(m, &cmd->u.policy, err);
	case CFG_CMD_POLICY_DEL:
		return policy_del(m, &cmd->u.policy_del, err);
	case CFG_CMD_POLICY_FLUSH:
		m->n_pols = 0;
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

/* ---- compiling the tables --------------------------------------------- */

static atomic_uint tbl_seq;

void
gw_tables_free(struct gw_tables *t)
{
	if (t == NULL)
		return;
	spd_free(t->spd_out);
	spd_free(t->spd_in);
	free(t->pols);
	rte_hash_free(t->sad_in);
	rte_lpm_free(t->lpm4);
	rte_lpm6_free(t->lpm6);
	free(t->nh);
	rte_hash_free(t->neigh);
	rte_free(t);
}

static struct rte_hash *
hash_new(const char *what, uint32_t entries, uint32_t key_len, int socket)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters prm = {
		.name = name,
		.entries = RTE_MAX(entries * 2, 64u),
		.key_len = key_len,
		.hash_func = rte_jhash,
		.socket_id = socket,
	};

	snprintf(name, sizeof(name), "%s%u", what, atomic_fetch_add(&tbl_seq, 1));
	return rte_hash_create(&prm);
}

static bool
sa_satisfies(const struct model_sa *s, const struct cfg_tmpl *t)
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
	    (!addr_eq(&t->src, &s->cfg.src) || !addr_eq(&t->dst, &s->cfg.dst)))
		return false;
	return true;
}

static int
build_policies(const struct gw_model *m, struct gw_tables *t, int socket)
{
	struct spd_rule *rin = NULL, *rout = NULL;
	struct spd_sel *sels = NULL;
	uint32_t *order = NULL;
	uint32_t i, j, nin = 0, nout = 0;
	int rc = -ENOMEM;

	t->n_pols = m->n_pols;
	t->pols = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*t->pols));
	sels = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*sels));
	rin = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*rin));
	rout = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*rout));
	order = calloc(RTE_MAX(m->n_pols, 1u), sizeof(*order));
	if (t->pols == NULL || sels == NULL || rin == NULL || rout == NULL ||
	    order == NULL)
		goto out;

	/* Rank: lowest priority value first, then the older (DESIGN.md
	 * "Policy rules"). A simple insertion sort: built off the fast
	 * path, once per change. */
	for (i = 0; i < m->n_pols; i++) {
		for (j = i; j > 0; j--) {
			const struct model_pol *a = &m->pols[order[j - 1]];
			const struct model_pol *b = &m->pols[i];

			if (a->cfg.priority < b->cfg.priority ||
			    (a->cfg.priority == b->cfg.priority && a->seq < b->seq))
				break;
			order[j] = order[j - 1];
		}
		order[j] = i;
	}

	for (j = 0; j < m->n_pols; j++) {
		const struct cfg_policy *p = &m->pols[order[j]].cfg;
		struct gw_policy *gp = &t->pols[j];
		struct spd_rule r = { .sel = &sels[j], .rank = j, .userdata = j + 1 };

		sel_from_cfg(&sels[j], &p->sel);
		gp->index = p->index;
		gp->dir = p->dir == CFG_DIR_IN ? 0 : p->dir == CFG_DIR_OUT ? 1 : 2;
		if (p->action == CFG_ACTION_BLOCK)
			gp->action = GW_DISCARD;
		else if (p->has_tmpl)
			gp->action = GW_PROTECT;
		else
			gp->action = GW_BYPASS;
		if (p->has_tmpl) {
			model_esp_addr(&gp->tmpl.src, &p->tmpl.src);
			model_esp_addr(&gp->tmpl.dst, &p->tmpl.dst);
			gp->tmpl.reqid = p->tmpl.reqid;
			gp->tmpl.mode = p->tmpl.mode == CFG_MODE_TRANSPORT ?
					ESP_MODE_TRANSPORT : ESP_MODE_TUNNEL;
			gp->tmpl.level_use = p->tmpl.level == CFG_LEVEL_USE;
		}
		if (gp->action == GW_PROTECT && p->dir == CFG_DIR_OUT) {
			/* Newest first: a rekey's new SA takes new packets
			 * at once (make before break). */
			for (i = m->n_sas; i-- > 0 && gp->n_sas < GW_POLICY_SAS_MAX;)
				if (sa_satisfies(&m->sas[i], &p->tmpl))
					gp->sas[gp->n_sas++] = m->sas[i].gw;
		}
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

static int
build_sad(const struct gw_model *m, struct gw_tables *t, int socket)
{
	uint32_t i;

	t->sad_in = hash_new("sad", m->n_sas, sizeof(uint32_t), socket);
	if (t->sad_in == NULL)
		return -ENOMEM;
	for (i = 0; i < m->n_sas; i++) {
		const struct model_sa *s = &m->sas[i];

		if (s->dir != ESP_DIR_IN)
			continue;
		if (rte_hash_add_key_data(t->sad_in, &s->cfg.spi, s->gw) < 0)
			return -ENOSPC;
		if (s->cfg.has & CFG_SA_HAS_ENCAP)
			esp_port_map_set(t->natt_ports, s->cfg.encap_dport);
	}
	return 0;
}

static void
mask_prefix(uint8_t *a, unsigned int bytes, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		unsigned int bits = len > i * 8 ? len - i * 8 : 0;

		if (bits < 8)
			a[i] &= (uint8_t)(0xff00 >> bits);
	}
}

static int
build_routes(const struct gw_model *m, struct gw_tables *t, int socket)
{
	uint32_t n_nh = m->n_routes + GW_PORTS_MAX * CFG_PORT_ADDRS_MAX;
	char name[RTE_LPM_NAMESIZE];
	struct rte_lpm_config c4 = {
		.max_rules = RTE_MAX(n_nh, 16u),
		.number_tbl8s = 256,
	};
	struct rte_lpm6_config c6 = {
		.max_rules = RTE_MAX(n_nh, 16u),
		.number_tbl8s = 1024,
	};
	uint32_t i, p;

	snprintf(name, sizeof(name), "lpm4_%u", atomic_fetch_add(&tbl_seq, 1));
	t->lpm4 = rte_lpm_create(name, socket, &c4);
	snprintf(name, sizeof(name), "lpm6_%u", atomic_fetch_add(&tbl_seq, 1));
	t->lpm6 = rte_lpm6_create(name, socket, &c6);
	t->nh = calloc(RTE_MAX(n_nh, 1u), sizeof(*t->nh));
	t->neigh = hash_new("neigh", m->n_neighs, sizeof(struct gw_neigh_key),
			    socket);
	if (t->lpm4 == NULL || t->lpm6 == NULL || t->nh == NULL || t->neigh == NULL)
		return -ENOMEM;

	/* Each port address gives a connected (on-link) route, as in Linux;
	 * an explicit route for the same prefix, added after, wins. */
	for (p = 0; p < GW_PORTS_MAX; p++) {
		for (i = 0; m->has_port[p] && i < m->ports[p].naddr; i++) {
			const struct cfg_addr *a = &m->ports[p].addr[i];
			struct gw_nexthop *nh = &t->nh[t->n_nh];
			uint8_t pfx[16];
			int rc;

			nh->port = (uint16_t)p;
			memcpy(pfx, a->a, 16);
			mask_prefix(pfx, a->af == AF_INET6 ? 16 : 4, a->len);
			if (a->af == AF_INET6) {
				rc = rte_lpm6_add(t->lpm6, pfx, a->len, t->n_nh);
			} else {
				uint32_t ip;

				memcpy(&ip, pfx, 4);
				rc = rte_lpm_add(t->lpm4, ntohl(ip), a->len, t->n_nh);
			}
			if (rc < 0)
				return rc;
			t->n_nh++;
		}
	}
	for (i = 0; i < m->n_routes; i++) {
		const struct cfg_route *r = &m->routes[i];
		struct gw_nexthop *nh = &t->nh[t->n_nh];
		int rc;

		nh->port = r->port;
		nh->has_gw = r->has_via;
		if (r->has_via)
			model_esp_addr(&nh->gw, &r->via);
		if (r->prefix.af == AF_INET6) {
			rc = rte_lpm6_add(t->lpm6, r->prefix.a, r->prefix.len, t->n_nh);
		} else {
			uint32_t ip;

			memcpy(&ip, r->prefix.a, 4);
			rc = rte_lpm_add(t->lpm4, ntohl(ip), r->prefix.len, t->n_nh);
		}
		if (rc < 0)
			return rc;
		t->n_nh++;
	}
	for (i = 0; i < m->n_neighs; i++) {
		const struct cfg_neigh *n = &m->neighs[i];
		struct gw_neigh_key k = { .port = n->port };
		uint64_t mac = 0;

		k.family = n->ip.af == AF_INET6 ? 6 : 4;
		memcpy(k.addr, n->ip.a, k.family == 6 ? 16 : 4);
		memcpy(&mac, n->lladdr, 6);
		/* The MAC travels in the data pointer itself. */
		if (rte_hash_add_key_data(t->neigh, &k, (void *)(uintptr_t)mac) < 0)
			return -ENOSPC;
	}
	return 0;
}

struct gw_tables *
model_build(const struct gw_model *m, const struct rte_ether_addr macs[GW_PORTS_MAX],
	    int socket, int *err)
{
	struct gw_tables *t = rte_zmalloc("gw_tables", sizeof(*t), RTE_CACHE_LINE_SIZE);
	unsigned int p;

	if (t == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	for (p = 0; p < GW_PORTS_MAX; p++) {
		if (!m->has_port[p])
			continue;
		t->ports[p].configured = 1;
		t->ports[p].role = m->ports[p].role == CFG_ROLE_UNPROTECTED ?
				   GW_ROLE_UNPROTECTED : GW_ROLE_PROTECTED;
		t->ports[p].mac = macs[p];
	}
	*err = build_policies(m, t, socket);
	if (*err == 0)
		*err = build_sad(m, t, socket);
	if (*err == 0)
		*err = build_routes(m, t, socket);
	if (*err != 0) {
		gw_tables_free(t);
		return NULL;
	}
	return t;
}
