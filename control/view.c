/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The views (see view.h). Text follows `ip xfrm` where it has a form;
 * JSON follows DESIGN.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_mempool.h>

#include "control/neigh.h"
#include "control/view.h"

static const char *
addr_str(const struct cfg_addr *a, char *buf, size_t size)
{
	return pr_ip(model_family(a), a->a, buf, size);
}

static const char *
mode_name(uint8_t mode)
{
	return mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel";
}

static void
port_range(struct pr *pr, const char *key, bool has, uint16_t lo, uint16_t hi)
{
	char range[16], fmt[16];

	if (!has)
		return;
	snprintf(fmt, sizeof(fmt), " %s %%", key);
	if (lo == hi) {
		strcat(fmt, PRIu64);
		pr_uint(pr, PR_ANY, key, fmt, lo);
		return;
	}
	/* A range is a string in JSON ("1000-2000"). */
	snprintf(range, sizeof(range), "%u-%u", lo, hi);
	strcat(fmt, "s");
	pr_str(pr, PR_ANY, key, fmt, range);
}

void
view_sel(struct pr *pr, const char *key, const struct cfg_sel *s)
{
	char a[64], d[64], sa[72], da[72];
	bool icmp;

	snprintf(sa, sizeof(sa), "%s/%u", addr_str(&s->src, a, sizeof(a)), s->src.len);
	snprintf(da, sizeof(da), "%s/%u", addr_str(&s->dst, d, sizeof(d)), s->dst.len);
	pr_obj_open(pr, key);
	pr_str(pr, PR_ANY, "src", "src %s", sa);
	pr_str(pr, PR_ANY, "dst", " dst %s", da);
	if (s->proto != 0)
		pr_proto(pr, PR_ANY, " proto %s", s->proto);
	icmp = cfg_l4_of(s->proto) == CFG_L4_ICMP;
	port_range(pr, icmp ? "type" : "sport", s->has_sport, s->sport_lo, s->sport_hi);
	port_range(pr, icmp ? "code" : "dport", s->has_dport, s->dport_lo, s->dport_hi);
	pr_obj_close(pr);
}

static void
hex(char *out, const uint8_t *k, uint16_t n)
{
	uint16_t i;

	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < n; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", k[i]);
	out[2 + 2 * n] = '\0';
}

static const char *const limit_names[CFG_LIMIT_COUNT_] = {
	[CFG_LIMIT_BYTE_SOFT] = "byte-soft", [CFG_LIMIT_BYTE_HARD] = "byte-hard",
	[CFG_LIMIT_PACKET_SOFT] = "packet-soft", [CFG_LIMIT_PACKET_HARD] = "packet-hard",
	[CFG_LIMIT_TIME_SOFT] = "time-soft", [CFG_LIMIT_TIME_HARD] = "time-hard",
};

static const char *const flag_names[] = { "esn", "noecn", "decap-dscp", "dont-encap-dscp" };

/* The algorithm's line(s) as `ip xfrm` writes them, keys hidden unless
 * @p show_keys (text only). */
static void
view_algo_text(struct pr *pr, const struct cfg_algo *al, bool show_keys)
{
	char ck[2 * CFG_KEY_MAX + 3], ak[2 * CFG_KEY_MAX + 3];
	const char *ctext = "\"\"", *atext = "(key hidden)";

	if (al->cipher_key_len > 0) {
		hex(ck, al->cipher_key, al->cipher_key_len);
		ctext = show_keys ? ck : "(key hidden)";
	}
	if (show_keys) {
		hex(ak, al->auth_key, al->auth_key_len);
		atext = ak;
	}
	if (al->auth == CRYPTO_AUTH_NONE)
		pr_text(pr, "\taead %s %s %u\n", cfg_cipher_name(al->cipher), ctext,
			al->icv_len * 8);
	else
		pr_text(pr, "\tenc %s %s\n\tauth-trunc %s %s %u\n",
			cfg_cipher_name(al->cipher), ctext, cfg_auth_name(al->auth), atext,
			al->icv_len * 8);
	explicit_bzero(ck, sizeof(ck));
	explicit_bzero(ak, sizeof(ak));
}

/* JSON "keys": {"enc": hex (AEAD: key and salt), "auth": hex}. */
static void
view_keys_json(struct pr *pr, const struct cfg_algo *al)
{
	char key[2 * CFG_KEY_MAX + 3] = "";

	pr_obj_open(pr, "keys");
	if (al->cipher_key_len > 0)
		hex(key, al->cipher_key, al->cipher_key_len);
	pr_str(pr, PR_JSON, "enc", "", key);
	if (al->auth != CRYPTO_AUTH_NONE) {
		hex(key, al->auth_key, al->auth_key_len);
		pr_str(pr, PR_JSON, "auth", "", key);
	}
	pr_obj_close(pr);
	explicit_bzero(key, sizeof(key));
}

void
view_sa_stats(struct pr *pr, const struct model_sa *s)
{
	struct sa_counters c;

	pub_sa_counters(s, &c);
	pr_uint(pr, PR_ANY, "packets", " packets %" PRIu64, c.packets);
	pr_uint(pr, PR_ANY, "bytes", " bytes %" PRIu64, c.bytes);
	pr_uint(pr, PR_ANY, "replay_drops", " replay_drops %" PRIu64, c.replay_drops);
	pr_uint(pr, PR_ANY, "icv_failures", " icv_failures %" PRIu64, c.icv_failures);
	pr_uint(pr, PR_ANY, "seq", " seq %" PRIu64, pub_sa_seq(s));
}

/* `current`: what the SA carried since it was added, never reset, and
 * when it was added and last used (seconds since the epoch, with the
 * fraction; use_time 0 if never). */
static void
view_sa_current(struct pr *pr, const struct pub *p, const struct model_sa *s)
{
	uint64_t use = pub_sa_use_ns(p, s);
	struct sa_counters c;

	pub_sa_totals(s, &c);
	pr_text(pr, "\tcurrent");
	pr_obj_open(pr, "current");
	pr_uint(pr, PR_ANY, "bytes", " bytes %" PRIu64, c.bytes);
	pr_uint(pr, PR_ANY, "packets", " packets %" PRIu64, c.packets);
	pr_real(pr, PR_ANY, "add_time", " add_time %.3f", (double)s->add_real_ns / 1e9);
	if (use == 0)
		pr_uint(pr, PR_ANY, "use_time", " use_time %" PRIu64, 0);
	else
		pr_real(pr, PR_ANY, "use_time", " use_time %.3f", (double)use / 1e9);
	pr_obj_close(pr);
	pr_text(pr, "\n");
}

void
view_sa(struct pr *pr, const struct pub *p, const struct model_sa *s, bool show_keys)
{
	const struct model_sa_cfg *c = &s->cfg;
	char a[64], d[64], spi[16], name[CFG_ALGO_NAME_MAX];
	struct cfg_algo algo;
	unsigned int i;

	snprintf(spi, sizeof(spi), "0x%08x", c->spi);
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "src", "src %s", addr_str(&c->src, a, sizeof(a)));
	pr_str(pr, PR_ANY, "dst", " dst %s\n", addr_str(&c->dst, d, sizeof(d)));
	pr_str(pr, PR_ANY, "proto", "\tproto %s", "esp");
	pr_str(pr, PR_ANY, "spi", " spi %s", spi);
	pr_str(pr, PR_JSON, "dir", "", s->dir == CFG_DIR_OUT ? "out" : "in");
	pr_uint(pr, PR_ANY, "reqid", " reqid %" PRIu64, c->reqid);
	pr_str(pr, PR_ANY, "mode", " mode %s", mode_name(c->mode));
	pr_str(pr, PR_TEXT, "dir", " dir %s\n", s->dir == CFG_DIR_OUT ? "out" : "in");
	pr_str(pr, PR_JSON, "algo", "", cfg_algo_name(c->algo.cipher, c->algo.auth,
							name, sizeof(name)));
	pr_uint(pr, PR_ANY, "replay_window", "\treplay-window %" PRIu64, c->replay_window);
	pr_arr_open(pr, "flags");
	for (i = 0; i < 4; i++)
		if (c->flags & (1u << i))
			pr_str(pr, PR_ANY, NULL, " flag %s", flag_names[i]);
	pr_arr_close(pr);
	pr_text(pr, "\n");
	model_sa_algo(s, &algo);
	view_algo_text(pr, &algo, show_keys);
	if (c->has & CFG_SA_HAS_ENCAP) {
		pr_obj_open(pr, "encap");
		pr_str(pr, PR_ANY, "type", "\tencap type %s", "espinudp");
		pr_uint(pr, PR_ANY, "sport", " sport %" PRIu64, c->encap_sport);
		pr_uint(pr, PR_ANY, "dport", " dport %" PRIu64, c->encap_dport);
		pr_text(pr, " addr 0.0.0.0\n");
		pr_obj_close(pr);
	} else {
		pr_null(pr, "encap");
	}
	if (c->has & CFG_SA_HAS_SEL) {
		pr_text(pr, "\tsel ");
		view_sel(pr, "sel", &c->sel);
		pr_text(pr, "\n");
	} else {
		/* No selector: any traffic of the SA's family. */
		bool v6 = c->src.af == AF_INET6;

		pr_obj_open(pr, "sel");
		pr_str(pr, PR_JSON, "src", "", v6 ? "::/0" : "0.0.0.0/0");
		pr_str(pr, PR_JSON, "dst", "", v6 ? "::/0" : "0.0.0.0/0");
		pr_obj_close(pr);
	}
	pr_obj_open(pr, "lifetime");
	for (i = 0; i < CFG_LIMIT_COUNT_; i++) {
		char fmt[40];
		uint64_t v;

		if (!model_sa_limit(c, i, &v))
			continue;
		snprintf(fmt, sizeof(fmt), "\tlimit %s %%" PRIu64 "\n", limit_names[i]);
		pr_uint(pr, PR_ANY, limit_names[i], fmt, v);
	}
	pr_obj_close(pr);
	pr_text(pr, "\tstats");
	pr_obj_open(pr, "stats");
	view_sa_stats(pr, s);
	pr_obj_close(pr);
	pr_text(pr, "\n");
	view_sa_current(pr, p, s);
	if (show_keys)
		view_keys_json(pr, &algo);
	explicit_bzero(&algo, sizeof(algo));
	pr_obj_close(pr);
}

void
view_sa_list(struct pr *pr, const struct pub *p)
{
	const struct gw_model *m = p->model;
	uint32_t i;

	pr_arr_open(pr, NULL);
	for (i = 0; i < m->n_sas; i++)
		view_sa(pr, p, m->sas[i], false);
	pr_arr_close(pr);
}

static const char *
dir_name(uint8_t dir)
{
	return dir == CFG_DIR_IN ? "in" : dir == CFG_DIR_OUT ? "out" : "fwd";
}

void
view_policy(struct pr *pr, const struct model_pol *mp)
{
	static const char *const pfp_names[] = { "src", "dst", "proto", "sport", "dport" };
	const struct cfg_policy *p = &mp->cfg;
	const struct cfg_tmpl *t = &p->tmpl;
	char a[64];
	unsigned int i, n;

	pr_obj_open(pr, NULL);
	pr_uint(pr, PR_JSON, "index", "", p->index);
	pr_str(pr, PR_JSON, "dir", "", dir_name(p->dir));
	pr_uint(pr, PR_JSON, "priority", "", p->priority);
	pr_str(pr, PR_JSON, "action", "", p->action == CFG_ACTION_BLOCK ? "block" : "allow");
	view_sel(pr, "sel", &p->sel);
	pr_text(pr, "\n\tdir %s priority %u index %u action %s\n", dir_name(p->dir),
		p->priority, p->index, p->action == CFG_ACTION_BLOCK ? "block" : "allow");
	if (p->has_tmpl) {
		pr_text(pr, "\ttmpl");
		pr_obj_open(pr, "tmpl");
		if (t->has_src_dst) {
			pr_str(pr, PR_ANY, "src", " src %s", addr_str(&t->src, a, sizeof(a)));
			pr_str(pr, PR_ANY, "dst", " dst %s", addr_str(&t->dst, a, sizeof(a)));
		}
		pr_str(pr, PR_ANY, "proto", " proto %s", "esp");
		if (t->has_spi) {
			snprintf(a, sizeof(a), "0x%08x", t->spi);
			pr_str(pr, PR_ANY, "spi", " spi %s", a);
		}
		pr_uint(pr, PR_ANY, "reqid", " reqid %" PRIu64, t->reqid);
		pr_str(pr, PR_ANY, "mode", " mode %s", mode_name(t->mode));
		pr_str(pr, PR_ANY, "level", " level %s\n",
		       t->level == CFG_LEVEL_USE ? "use" : "required");
		pr_obj_close(pr);
	} else {
		pr_null(pr, "tmpl");
	}
	if (p->pfp)
		pr_text(pr, "\tpfp ");
	pr_arr_open(pr, "pfp");
	for (i = 0, n = 0; i < 5; i++) {
		if (!(p->pfp & (1u << i)))
			continue;
		pr_str(pr, PR_ANY, NULL, n++ ? ",%s" : "%s", pfp_names[i]);
	}
	pr_arr_close(pr);
	if (p->pfp)
		pr_text(pr, "\n");
	pr_obj_close(pr);
}

void
view_policy_list(struct pr *pr, const struct gw_model *m)
{
	uint32_t i;

	pr_arr_open(pr, NULL);
	for (i = 0; i < m->n_pols; i++)
		view_policy(pr, &m->pols[i]);
	pr_arr_close(pr);
}

/* The crypto engine and what it counted, summed over the workers (all 0
 * but for a cryptodev: --crypto-dev). Read while the workers write:
 * aligned 64-bit loads, a running total either way. */
static void
view_crypto(struct pr *pr, const struct pub *p)
{
	struct crypto_engine_stats t, st;
	const struct crypto_engine *e0 = NULL;
	uint64_t pending = 0;
	unsigned int i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < pub_n_contexts(p); i++) {
		const struct gw_worker *w = pub_context(p, i);

		if (w == NULL || w->esp.engine == NULL)
			continue;
		if (e0 == NULL)
			e0 = w->esp.engine;
		crypto_engine_stats(w->esp.engine, &st);
		t.enq_busy += st.enq_busy;
		t.enq_given_up += st.enq_given_up;
		t.dev_errors += st.dev_errors;
		t.alloc_fail += st.alloc_fail;
		t.bad_ops += st.bad_ops;
		t.async_ops += st.async_ops;
		pending += esp_pending(&w->esp);
	}
	pr_obj_open(pr, "crypto");
	pr_str(pr, PR_ANY, "engine", "crypto %s", crypto_engine_describe(e0));
	pr_uint(pr, PR_ANY, "enq_busy", ": queue full %" PRIu64, t.enq_busy);
	pr_uint(pr, PR_ANY, "enq_given_up", ", given up %" PRIu64, t.enq_given_up);
	pr_uint(pr, PR_ANY, "dev_errors", ", device errors %" PRIu64, t.dev_errors);
	pr_uint(pr, PR_ANY, "alloc_fail", ", no op %" PRIu64, t.alloc_fail);
	pr_uint(pr, PR_ANY, "bad_ops", ", refused %" PRIu64, t.bad_ops);
	pr_uint(pr, PR_ANY, "async_ops", ", asynchronous %" PRIu64, t.async_ops);
	pr_uint(pr, PR_ANY, "pending", ", pending now %" PRIu64 "\n", pending);
	pr_obj_close(pr);
}

/* Each worker's `set worker-idle` mode as it runs it: "poll", or when
 * adaptive "interrupt" (its RX queues wake it) or "nap" (it sleeps a
 * set time); its sleeps, and those a packet ended. */
static void
view_workers(struct pr *pr, const struct pub *p)
{
	unsigned int i;

	pr_arr_open(pr, "workers");
	for (i = 0; i < p->n_workers; i++) {
		const struct gw_worker *w = p->workers[i];

		pr_obj_open(pr, NULL);
		pr_uint(pr, PR_ANY, "lcore", "worker lcore %" PRIu64, (uint64_t)w->lcore_id);
		pr_str(pr, PR_ANY, "idle", ": idle %s", !p->shared.idle_adaptive ? "poll" :
		       w->rx_intr ? "interrupt" : "nap");
		pr_uint(pr, PR_ANY, "sleeps", ", sleeps %" PRIu64, w->idle_sleeps);
		pr_uint(pr, PR_ANY, "rx_wakeups", ", woken by a packet %" PRIu64 "\n",
			w->idle_woken);
		pr_obj_close(pr);
	}
	pr_arr_close(pr);
}

void
view_sa_entry(struct pr *pr, const struct model_sa *s)
{
	char spi[16];

	snprintf(spi, sizeof(spi), "0x%08x", s->cfg.spi);
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "spi", "sa %s", spi);
	pr_str(pr, PR_ANY, "dir", " %s", s->dir == CFG_DIR_OUT ? "out" : "in");
	view_sa_stats(pr, s);
	pr_text(pr, "\n");
	pr_obj_close(pr);
}

void
view_stats(struct pr *pr, const struct pub *p)
{
	const struct gw_model *m = p->model;
	uint64_t c[CNT__MAX];
	unsigned int i, port;

	pub_counters(p, c);
	pr_obj_open(pr, NULL);
	pr_obj_open(pr, "global");
	for (i = 0; i < CNT__MAX; i++) {
		char fmt[48];

		snprintf(fmt, sizeof(fmt), "%-24s %%" PRIu64 "\n", espd_counter_name(i));
		pr_uint(pr, PR_ANY, espd_counter_name(i), fmt, c[i]);
	}
	pr_obj_close(pr);
	pr_arr_open(pr, "ports");
	for (port = 0; port < GW_PORTS_MAX; port++) {
		struct gw_port_stats s;

		if (!m->has_port[port])
			continue;
		pub_port_counters(p, port, &s);
		pr_obj_open(pr, NULL);
		pr_uint(pr, PR_ANY, "id", "port %" PRIu64, port);
		pr_uint(pr, PR_ANY, "rx", " rx %" PRIu64, s.rx);
		pr_uint(pr, PR_ANY, "tx", " tx %" PRIu64, s.tx);
		pr_uint(pr, PR_ANY, "drop", " drop %" PRIu64 "\n", s.drop);
		pr_obj_close(pr);
	}
	pr_arr_close(pr);
	pr_obj_open(pr, "mempool");
	pr_uint(pr, PR_JSON, "size", "", p->pool != NULL ? p->pool->size : 0);
	pr_uint(pr, PR_JSON, "in_use", "",
		p->pool != NULL ? rte_mempool_in_use_count(p->pool) : 0);
	pr_obj_close(pr);
	if (p->pool != NULL)
		pr_text(pr, "mbufs in use %u of %u\n", rte_mempool_in_use_count(p->pool),
			p->pool->size);
	view_crypto(pr, p);
	view_workers(pr, p);
	pr_uint(pr, PR_JSON, "acquire_pending", "", p->acquire_pending);
	pr_arr_open(pr, "sas");
	for (i = 0; i < m->n_sas; i++)
		view_sa_entry(pr, m->sas[i]);
	pr_arr_close(pr);
	pr_obj_close(pr);
}

static void
view_route(struct pr *pr, const struct cfg_addr *prefix, uint16_t port,
	   const struct cfg_addr *via, bool connected)
{
	char a[64];

	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "dst", "%s", cfg_addr_str(prefix, true, a, sizeof(a)));
	pr_uint(pr, PR_ANY, "port", " port %" PRIu64, port);
	if (via != NULL)
		pr_str(pr, PR_ANY, "via", " via %s", cfg_addr_str(via, false, a, sizeof(a)));
	else
		pr_null(pr, "via");
	pr_bool(pr, PR_JSON, "connected", "", connected);
	pr_text(pr, connected ? " connected\n" : "\n");
	pr_obj_close(pr);
}

void
view_route_list(struct pr *pr, const struct gw_model *m)
{
	uint32_t i, p;

	pr_arr_open(pr, NULL);
	for (i = 0; i < m->n_routes; i++) {
		const struct cfg_route *r = &m->routes[i];

		view_route(pr, &r->prefix, r->port, r->has_via ? &r->via : NULL, false);
	}
	for (p = 0; p < CFG_PORTS_MAX; p++) {
		for (i = 0; m->has_port[p] && i < m->ports[p].naddr; i++) {
			struct cfg_addr pfx = m->ports[p].addr[i];

			cfg_addr_mask(&pfx);
			if (model_route_find(m, &pfx) < 0)
				view_route(pr, &pfx, (uint16_t)p, NULL, true);
		}
	}
	pr_arr_close(pr);
}

void
view_neigh_list(struct pr *pr, const struct pub *p)
{
	const struct neigh *n;
	size_t i = 0;

	pr_arr_open(pr, NULL);
	while ((n = neigh_next(p, &i)) != NULL) {
		char a[64], mac[RTE_ETHER_ADDR_FMT_SIZE];

		pr_ip(n->key.family, n->key.addr, a, sizeof(a));
		/* Lower case, as `ip neigh` prints and the config takes. */
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 n->mac.addr_bytes[0], n->mac.addr_bytes[1], n->mac.addr_bytes[2],
			 n->mac.addr_bytes[3], n->mac.addr_bytes[4], n->mac.addr_bytes[5]);
		pr_obj_open(pr, NULL);
		pr_str(pr, PR_ANY, "dst", "%s", a);
		pr_uint(pr, PR_ANY, "port", " port %" PRIu64, n->key.port);
		if (n->state != NEIGH_INCOMPLETE && n->state != NEIGH_FAILED)
			pr_str(pr, PR_ANY, "lladdr", " lladdr %s", mac);
		else
			pr_null(pr, "lladdr");
		pr_str(pr, PR_ANY, "state", " %s", neigh_state_name(n->state));
		pr_text(pr, "\n");
		pr_obj_close(pr);
	}
	pr_arr_close(pr);
}
