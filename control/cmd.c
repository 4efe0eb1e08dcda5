/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Commands (see cmd.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control/cmd.h"
#include "control/print.h"
#include "control/view.h"

/* ---- announcements to `monitor state` / `monitor policy` ------------- */

struct change_desc {
	const char *action;               /* add, update, migrate, del, flush */
	const struct cfg_addr *src, *dst; /* an SA's identity, or NULL */
	uint32_t spi, reqid;
	uint8_t dir;
	const struct model_pol *pol;      /* a policy, or NULL */
};

static void
describe_state(struct pr *pr, const void *arg)
{
	const struct change_desc *d = arg;
	char a[64], spi[16];

	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "state");
	pr_str(pr, PR_ANY, "action", " %s", d->action);
	if (d->dst != NULL) {
		snprintf(spi, sizeof(spi), "0x%08x", d->spi);
		pr_str(pr, PR_ANY, "src", " src %s", pr_ip(model_family(d->src), d->src->a,
							   a, sizeof(a)));
		pr_str(pr, PR_ANY, "dst", " dst %s", pr_ip(model_family(d->dst), d->dst->a,
							   a, sizeof(a)));
		pr_str(pr, PR_ANY, "proto", " proto %s", "esp");
		pr_str(pr, PR_ANY, "spi", " spi %s", spi);
		pr_uint(pr, PR_ANY, "reqid", " reqid %" PRIu64, d->reqid);
		pr_str(pr, PR_ANY, "dir", " dir %s", d->dir == CFG_DIR_IN ? "in" : "out");
	}
	pr_obj_close(pr);
}

static void
describe_policy(struct pr *pr, const void *arg)
{
	const struct change_desc *d = arg;
	const struct cfg_policy *p = d->pol != NULL ? &d->pol->cfg : NULL;

	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "event", "%s", "policy");
	pr_str(pr, PR_ANY, "action", " %s", d->action);
	if (p != NULL) {
		pr_uint(pr, PR_ANY, "index", " index %" PRIu64, p->index);
		pr_str(pr, PR_ANY, "dir", " dir %s",
		       p->dir == CFG_DIR_IN ? "in" : p->dir == CFG_DIR_OUT ? "out" : "fwd");
		pr_text(pr, " sel ");
		view_sel(pr, "sel", &p->sel);
	}
	pr_obj_close(pr);
}

static void
announce(struct cmd_ctx *c, uint32_t type,
	 void (*fn)(struct pr *pr, const void *arg), const struct change_desc *d)
{
	struct pr t, j;

	if (c->sock == NULL)
		return;
	/* Only the forms some monitor takes (none: the id still moves on). */
	pr_init(&t, false);
	pr_init(&j, true);
	if (sock_heard(c->sock, false) & type)
		fn(&t, d);
	if (sock_heard(c->sock, true) & type)
		fn(&j, d);
	if (!t.out.oom && !j.out.oom) {
		sock_emit(c->sock, type, t.out.p, j.out.p);
	} else {
		/* Lost, but its id is spent: monitors see the gap. */
		c->pub->ctl_cnt.c[CNT_MonitorEventsDropped]++;
		sock_skip(c->sock, 1);
	}
	pr_fini(&t);
	pr_fini(&j);
}

static void
announce_sa(struct cmd_ctx *c, const char *action, const struct model_sa *s)
{
	struct change_desc d = { .action = action };

	if (s != NULL) {
		d.src = &s->cfg.src;
		d.dst = &s->cfg.dst;
		d.spi = s->cfg.spi;
		d.reqid = s->cfg.reqid;
		d.dir = s->dir;
	}
	announce(c, CFG_MON_STATE, describe_state, &d);
}

static void
announce_policy(struct cmd_ctx *c, const char *action, const struct model_pol *p)
{
	struct change_desc d = { .action = action, .pol = p };

	announce(c, CFG_MON_POLICY, describe_policy, &d);
}

/* ---- queries ------------------------------------------------------------ */

static void
render(struct sbuf *out, bool json, void (*fn)(struct pr *, const void *),
       const void *arg)
{
	struct pr pr;

	pr_init(&pr, json);
	fn(&pr, arg);
	if (pr.out.oom)
		out->oom = true;
	else if (pr.out.len > 0)
		sb_put(out, pr.out.p, pr.out.len);
	if (json)
		sb_put(out, "\n", 1);
	if (pr.out.p != NULL)
		explicit_bzero(pr.out.p, pr.out.len); /* show-keys */
	pr_fini(&pr);
}

struct sa_query {
	const struct pub *pub;
	const struct model_sa *sa;
	bool show_keys;
};

static void
render_sa(struct pr *pr, const void *arg)
{
	const struct sa_query *q = arg;

	view_sa(pr, q->pub, q->sa, q->show_keys);
}

static void
render_sa_list(struct pr *pr, const void *arg)
{
	view_sa_list(pr, arg);
}

static void
render_policy_list(struct pr *pr, const void *arg)
{
	view_policy_list(pr, arg);
}

static void
render_neigh_list(struct pr *pr, const void *arg)
{
	view_neigh_list(pr, arg);
}

static void
render_route_list(struct pr *pr, const void *arg)
{
	view_route_list(pr, arg);
}

static void
render_stats(struct pr *pr, const void *arg)
{
	view_stats(pr, arg);
}

static int
cmd_allocspi(struct cmd_ctx *c, const struct cfg_allocspi *a, struct sbuf *out,
	     bool json, struct cfg_error *err)
{
	char s[64], d[64];
	uint32_t spi;
	int rc = model_allocspi(c->pub->model, a, &spi, err);

	if (rc < 0)
		return rc;
	if (json) {
		sb_printf(out, "{\"spi\":\"0x%08x\"}\n", spi);
	} else {
		pr_ip(model_family(&a->src), a->src.a, s, sizeof(s));
		pr_ip(model_family(&a->dst), a->dst.a, d, sizeof(d));
		sb_printf(out, "src %s dst %s proto esp spi 0x%08x reqid %u mode %s\n", s, d,
			  spi, a->reqid,
			  a->has_mode && a->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel");
	}
	return 0;
}

/* ---- changes ------------------------------------------------------------ */

/* The batch answers held for a rebuild (struct cmd_ctx.deferred) go: as
 * they are, or, the rebuild having failed (@p rc < 0), each change's as
 * `error: WHY` ("ok" means "in the tables"). */
static void
release_held(struct cmd_ctx *c, int rc, const char *why)
{
	if (!c->deferred)
		return;
	c->deferred = false;
	if (rc < 0)
		sock_release_failed(c->sock, why);
	else
		sock_release(c->sock);
}

/* Rebuild the tables, then release the held answers. @return 0, or the
 * failure with its message in @p err. */
static int
publish_held(struct cmd_ctx *c, struct cfg_error *err)
{
	int rc = pub_publish(c->pub);

	if (rc < 0)
		cfg_error_set(err, -1,
			      "tables not rebuilt: %s (the change is configured, and goes in with the next rebuild that succeeds)",
			      strerror(-rc));
	release_held(c, rc, err->msg);
	return rc;
}

/* The model's change, then the tables it made dirty, then the news. */
static int
cmd_change(struct cmd_ctx *c, const struct cfg_cmd *cmd, struct cfg_error *err)
{
	struct gw_model *m = c->pub->model;
	struct change_desc del = { .action = "del" };
	const struct model_pol *p = NULL;
	struct model_pol pol_gone;
	struct cfg_addr src, dst;
	const struct model_sa *s;
	uint8_t before;
	bool mine;
	int rc;

	/* A delete announces what it removed: keep its identity. */
	if (cmd->type == CFG_CMD_STATE_DEL &&
	    (s = model_sa_find(m, &cmd->u.sa.dst, cmd->u.sa.spi)) != NULL) {
		src = s->cfg.src;
		dst = s->cfg.dst;
		del.src = &src;
		del.dst = &dst;
		del.spi = s->cfg.spi;
		del.reqid = s->cfg.reqid;
		del.dir = s->dir;
	}
	if (cmd->type == CFG_CMD_POLICY_DEL &&
	    (p = model_policy_match(m, &cmd->u.policy_del)) != NULL) {
		pol_gone = *p;
		p = &pol_gone;
	}
	/* Only a change that itself needs the tables waits for, or answers
	 * for, their rebuild: an SA or a neighbour does not, even while a
	 * batch's rebuild is pending or one has failed. */
	before = m->dirty;
	m->dirty = 0;
	rc = model_apply(m, cmd, "-", 0, err);
	mine = m->dirty != 0;
	m->dirty |= before;
	if (rc != 0)
		return rc;
	if (mine && c->req != NULL && c->req->batch) {
		/* One rebuild for the whole batch (cmd_flush()); the answer
		 * waits for it, so "ok" still means "in the tables". */
		c->req->held = true;
		if (!c->deferred)
			c->deferred_ns = model_clock_ns();
		c->deferred = true;
	} else if (mine) {
		/* The held batch's changes go with this rebuild. */
		rc = publish_held(c, err);
		if (rc < 0)
			return rc;
	}
	switch (cmd->type) {
	case CFG_CMD_STATE_ADD:
	case CFG_CMD_STATE_UPDATE:
		announce_sa(c, cmd->type == CFG_CMD_STATE_ADD ? "add" : "update",
			    model_sa_find(m, &cmd->u.state.dst, cmd->u.state.spi));
		break;
	case CFG_CMD_STATE_MIGRATE:
		/* Named as it is now: by its new dst, when it moved. */
		announce_sa(c, "migrate",
			    model_sa_find(m, cmd->u.migrate.has_new_dst ? &cmd->u.migrate.new_dst :
					  &cmd->u.migrate.dst, cmd->u.migrate.spi));
		break;
	case CFG_CMD_STATE_DEL:
		announce(c, CFG_MON_STATE, describe_state, &del);
		break;
	case CFG_CMD_STATE_FLUSH:
		announce_sa(c, "flush", NULL);
		break;
	case CFG_CMD_POLICY_ADD:
		announce_policy(c, "add", &m->pols[m->n_pols - 1]);
		break;
	case CFG_CMD_POLICY_UPDATE:
		if (cmd->u.policy.has_index) {
			p = model_policy(m, cmd->u.policy.index);
		} else {
			struct cfg_policy_del d = { .dir = cmd->u.policy.dir,
						    .sel = cmd->u.policy.sel };

			p = model_policy_match(m, &d);
		}
		announce_policy(c, "update", p);
		break;
	case CFG_CMD_POLICY_DEL:
		announce_policy(c, "del", p);
		break;
	case CFG_CMD_POLICY_FLUSH:
		announce_policy(c, "flush", NULL);
		break;
	default:
		break;
	}
	return 0;
}

int
cmd_execute(struct cmd_ctx *c, const struct cfg_cmd *cmd, bool json,
	    struct sock_req *req, struct sbuf *out, struct cfg_error *err)
{
	struct gw_model *m = c->pub->model;
	struct sa_query q = { .pub = c->pub };

	switch (cmd->type) {
	case CFG_CMD_NONE:
		return cfg_error_set(err, -1, "empty command");
	case CFG_CMD_PORT:
		return cfg_error_set(err, 0, "ports are set at start-up, in the configuration file");
	case CFG_CMD_STATE_GET:
		q.sa = model_sa_find(m, &cmd->u.sa.dst, cmd->u.sa.spi);
		q.show_keys = cmd->u.sa.show_keys;
		if (q.sa == NULL)
			return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
					     cmd->u.sa.spi), -ENOENT;
		render(out, json, render_sa, &q);
		return 0;
	case CFG_CMD_STATE_LIST:
		render(out, json, render_sa_list, c->pub);
		return 0;
	case CFG_CMD_STATE_COUNT:
		sb_printf(out, json ? "{\"count\":%u}\n" : "count %u\n", m->n_sas);
		return 0;
	case CFG_CMD_STATE_ALLOCSPI:
		return cmd_allocspi(c, &cmd->u.allocspi, out, json, err);
	case CFG_CMD_POLICY_LIST:
		render(out, json, render_policy_list, m);
		return 0;
	case CFG_CMD_NEIGH_LIST:
		render(out, json, render_neigh_list, c->pub);
		return 0;
	case CFG_CMD_ROUTE_LIST:
		render(out, json, render_route_list, m);
		return 0;
	case CFG_CMD_STATS:
		render(out, json, render_stats, c->pub);
		return 0;
	case CFG_CMD_STATS_RESET:
		pub_counters_reset(c->pub);
		return 0;
	case CFG_CMD_MONITOR:
		if (req == NULL || c->sock == NULL)
			return cfg_error_set(err, 0, "monitor needs the control socket");
		sock_monitor(req, cmd->u.monitor);
		return 0;
	default:
		/* Everything else changes the model, exactly as the file does. */
		return cmd_change(c, cmd, err);
	}
}

int
cmd_request(void *arg, struct sock_req *req, struct sbuf *out, struct cfg_error *err)
{
	struct cmd_ctx *c = arg;
	struct cfg_cmd cmd;
	int rc = cfg_parse_line(req->words, &cmd, err);

	if (rc == 0) {
		c->req = req;
		rc = cmd_execute(c, &cmd, req->json, req, out, err);
		c->req = NULL;
	}
	cfg_cmd_clear(&cmd);
	return rc;
}

int
cmd_flush(struct cmd_ctx *c)
{
	struct cfg_error err;
	int rc = 0;

	if (!c->deferred)
		return 0;
	if (c->pub->model->dirty)
		rc = publish_held(c, &err);
	else
		release_held(c, 0, NULL);
	if (rc < 0)
		fprintf(stderr, "espd: after a batch: %s\n", err.msg);
	return rc;
}
