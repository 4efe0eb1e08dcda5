/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket, served by lcore 0 without ever blocking it: every
 * descriptor is non-blocking, requests are read into bounded buffers,
 * answers are written as the client takes them, and a monitor that falls
 * behind loses events instead of stalling the gateway.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_random.h>

#include "control/acquire.h"
#include "control/ctl.h"
#include "control/format.h"
#include "control/gateway.h"

#define MONITOR_BACKLOG (4u << 20) /* bytes queued for one slow monitor */
#define RESERVED_MAX 65536

struct client {
	int fd;
	bool json;
	bool batch;             /* several requests, each answer sized */
	bool monitor;
	bool closing;           /* close once the output is written */
	uint32_t mon_mask;
	size_t in_len;
	bool in_overflow;
	char in[CTL_REQUEST_MAX + 1];
	struct sbuf out;
	size_t out_off;
};

struct ctl {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *c[CTL_CLIENTS_MAX];
	unsigned int n;
	struct rte_hash *reserved;  /* allocspi: SPI -> expiry (seconds) */
};

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
ctl_open(struct gw_runtime *rt, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rte_hash_parameters prm = {
		.name = "espd_spi_reserved",
		.entries = RESERVED_MAX,
		.key_len = sizeof(uint32_t),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	struct ctl *c;
	char dir[sizeof(sun.sun_path)], *slash;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "espd: control socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);

	/* The default lives in /run/espd: make it, private, if missing. */
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			fprintf(stderr, "espd: control socket directory %s: %s\n", dir,
				strerror(errno));
			return rc;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	/* A live espd answers on the path: do not steal it. A dead one
	 * left a stale socket file: replace it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		fprintf(stderr, "espd: another espd is listening on %s\n", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(0177); /* mode 0600 from the start, not after a chmod */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, 64) < 0 || set_nonblock(fd) < 0) {
		rc = -errno;
		fprintf(stderr, "espd: control socket %s: %s\n", path, strerror(errno));
		close(fd);
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->reserved = rte_hash_create(&prm)) == NULL) {
		free(c);
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	c->lfd = fd;
	strcpy(c->path, path);
	rt->ctl = c;
	return 0;
}

static void
client_close(struct ctl *c, unsigned int i)
{
	struct client *cl = c->c[i];

	close(cl->fd);
	sb_free(&cl->out);
	explicit_bzero(cl->in, cl->in_len); /* requests may carry keys */
	free(cl);
	c->c[i] = c->c[--c->n];
}

void
ctl_close(struct gw_runtime *rt)
{
	struct ctl *c = rt->ctl;

	if (c == NULL)
		return;
	while (c->n > 0)
		client_close(c, c->n - 1);
	close(c->lfd);
	unlink(c->path);
	rte_hash_free(c->reserved);
	free(c);
	rt->ctl = NULL;
}

void
ctl_emit(struct gw_runtime *rt, uint32_t type, const char *text, const char *json)
{
	struct ctl *c = rt->ctl;
	unsigned int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		struct client *cl = c->c[i];

		if (!cl->monitor || !(cl->mon_mask & type))
			continue;
		if (cl->out.len - cl->out_off > MONITOR_BACKLOG) {
			rt->ctl_cnt.c[CNT_MonitorEventsDropped]++;
			continue;
		}
		sb_printf(&cl->out, "%s\n", cl->json ? json : text);
	}
}

/* ---- commands ----------------------------------------------------------- */

static uint64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static bool
spi_in_use(struct gw_runtime *rt, const struct cfg_allocspi *a, uint32_t spi)
{
	struct ctl *c = rt->ctl;
	void *data;

	if (rte_hash_lookup_data(c->reserved, &spi, &data) >= 0) {
		if ((uint64_t)(uintptr_t)data > now_sec())
			return true;
		rte_hash_del_key(c->reserved, &spi); /* its reservation lapsed */
	}
	return rte_hash_lookup(rt->shared.sad_in, &spi) >= 0 ||
	       model_sa_find(&rt->model, &a->dst, spi) != NULL;
}

/* state allocspi: a random free SPI in [min, max], held for the key
 * manager for acquire-expires seconds (like xfrm's larval SA). */
static int
cmd_allocspi(struct gw_runtime *rt, const struct cfg_allocspi *a,
	     struct sbuf *out, bool json, struct cfg_error *err)
{
	uint64_t span = (uint64_t)a->max - a->min + 1;
	uint64_t expiry = now_sec() + rt->model.acquire_expires;
	uint32_t spi = 0, tries;
	char s[64], d[64];

	for (tries = 0; tries < 64; tries++) {
		spi = a->min + (uint32_t)rte_rand_max(span);
		if (!spi_in_use(rt, a, spi))
			break;
	}
	if (tries == 64) {
		/* A crowded range: walk it from a random start. */
		uint64_t k;

		for (k = 0; k < span && k < (1u << 20); k++) {
			spi = a->min + (uint32_t)((spi - a->min + 1) % span);
			if (!spi_in_use(rt, a, spi))
				break;
		}
		if (spi_in_use(rt, a, spi))
			return cfg_error_set(err, -1, "no free SPI in 0x%08x-0x%08x",
					     a->min, a->max);
	}
	if (rte_hash_add_key_data(rt->ctl->reserved, &spi,
				  (void *)(uintptr_t)expiry) < 0)
		return cfg_error_set(err, -1, "too many reserved SPIs");
	if (json) {
		sb_printf(out, "{\"spi\":\"0x%08x\"}\n", spi);
	} else {
		fmt_ip(a->src.af == AF_INET6 ? 6 : 4, a->src.a, s, sizeof(s));
		fmt_ip(a->dst.af == AF_INET6 ? 6 : 4, a->dst.a, d, sizeof(d));
		sb_printf(out, "src %s dst %s proto esp spi 0x%08x reqid %u mode %s\n", s, d,
			  spi, a->reqid,
			  a->has_mode && a->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel");
	}
	return 0;
}

static void
cmd_state_list(struct gw_runtime *rt, struct sbuf *out, bool json)
{
	struct gw_model *m = &rt->model;
	uint32_t i;

	if (json)
		sb_printf(out, "[");
	for (i = 0; i < m->n_sas; i++) {
		if (json && i > 0)
			sb_printf(out, ",\n");
		fmt_sa(out, m->sas[i], json, false);
	}
	sb_printf(out, json ? "]\n" : "");
}

static void
cmd_policy_list(struct gw_runtime *rt, struct sbuf *out, bool json)
{
	struct gw_model *m = &rt->model;
	uint32_t i;

	if (json)
		sb_printf(out, "[");
	for (i = 0; i < m->n_pols; i++) {
		if (json && i > 0)
			sb_printf(out, ",\n");
		fmt_policy(out, &m->pols[i], json);
	}
	sb_printf(out, json ? "]\n" : "");
}

/* Run one command; output into @p out. @return 0 or -errno with @p err. */
static int
execute(struct gw_runtime *rt, struct client *cl, const struct cfg_cmd *cmd,
	struct sbuf *out, struct cfg_error *err)
{
	struct gw_model *m = &rt->model;
	bool json = cl->json;
	struct model_sa *s;
	int rc;

	switch (cmd->type) {
	case CFG_CMD_NONE:
		return cfg_error_set(err, -1, "empty command");
	case CFG_CMD_PORT:
		return cfg_error_set(err, 0, "ports are set at start-up, in the configuration file");
	case CFG_CMD_STATE_GET:
		s = model_sa_find(m, &cmd->u.sa.dst, cmd->u.sa.spi);
		if (s == NULL)
			return cfg_error_set(err, -1, "no SA with that dst and spi 0x%08x",
					     cmd->u.sa.spi);
		fmt_sa(out, s, json, cmd->u.sa.show_keys);
		sb_printf(out, "\n");
		return 0;
	case CFG_CMD_STATE_LIST:
		cmd_state_list(rt, out, json);
		return 0;
	case CFG_CMD_STATE_COUNT:
		sb_printf(out, json ? "{\"count\":%u}\n" : "count %u\n", m->n_sas);
		return 0;
	case CFG_CMD_STATE_ALLOCSPI:
		return cmd_allocspi(rt, &cmd->u.allocspi, out, json, err);
	case CFG_CMD_POLICY_LIST:
		cmd_policy_list(rt, out, json);
		return 0;
	case CFG_CMD_STATS:
		gw_stats_format(rt, out, json);
		return 0;
	case CFG_CMD_STATS_RESET:
		gw_counters_reset(rt);
		return 0;
	case CFG_CMD_MONITOR:
		cl->monitor = true;
		cl->mon_mask = cmd->u.monitor;
		return 0;
	default:
		break;
	}

	/* Everything else changes the model, exactly as the file does. */
	rc = model_apply(m, cmd, "-", 0, err);
	if (rc != 0)
		return rc;
	if ((cmd->type == CFG_CMD_STATE_ADD || cmd->type == CFG_CMD_STATE_UPDATE))
		rte_hash_del_key(rt->ctl->reserved, &cmd->u.state.spi);
	if (m->dirty) {
		rc = gw_publish(rt);
		if (rc < 0)
			return cfg_error_set(err, -1, "tables not rebuilt: %s", strerror(-rc));
	}
	return 0;
}

static void
handle_request(struct gw_runtime *rt, struct client *cl, char *line)
{
	struct cfg_error err = { .word = -1 };
	struct sbuf body = { 0 };
	struct cfg_cmd cmd;
	char *rest;
	int rc;

	if (strncmp(line, "batch-", 6) == 0) {
		cl->batch = true;
		line += 6;
	}
	if (strncmp(line, "json ", 5) == 0) {
		cl->json = true;
		rest = line + 5;
	} else if (strncmp(line, "text ", 5) == 0) {
		cl->json = false;
		rest = line + 5;
	} else {
		sb_printf(&cl->out, "error: requests start with 'text' or 'json'\n");
		cl->closing = true;
		return;
	}
	rc = cfg_parse_line(rest, &cmd, &err);
	if (rc == 0)
		rc = execute(rt, cl, &cmd, &body, &err);
	cfg_cmd_clear(&cmd);
	if (rc != 0) {
		sb_printf(&cl->out, "error: %s\n", err.msg[0] ? err.msg : strerror(-rc));
		cl->monitor = false;
	} else if (body.oom) {
		sb_printf(&cl->out, "error: out of memory for the answer\n");
	} else {
		/* A batch answer says its length, so the next can follow. */
		if (cl->batch && !cl->monitor)
			sb_printf(&cl->out, "ok %zu\n", body.len);
		else
			sb_printf(&cl->out, "ok\n");
		if (body.len > 0)
			sb_printf(&cl->out, "%.*s", (int)body.len, body.p);
	}
	sb_free(&body);
	if (!cl->monitor && !cl->batch)
		cl->closing = true;
}

/* Act on every complete line buffered (one, unless in batch mode). */
static void
client_lines(struct gw_runtime *rt, struct client *cl)
{
	size_t off = 0;
	char *nl;

	/* Every complete line, then the unfinished rest moved down once
	 * (not after each line: a batch holds thousands). */
	while (!cl->closing && !cl->monitor &&
	       (nl = memchr(cl->in + off, '\n', cl->in_len - off)) != NULL) {
		size_t used = (size_t)(nl - (cl->in + off)) + 1;

		*nl = '\0';
		handle_request(rt, cl, cl->in + off);
		explicit_bzero(cl->in + off, used);
		off += used;
	}
	if (off > 0) {
		memmove(cl->in, cl->in + off, cl->in_len - off);
		cl->in_len -= off;
	}
}

/* Read what the client sent. @return -1 to close the client. */
static int
client_read(struct gw_runtime *rt, struct client *cl)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(cl->fd, buf, sizeof(buf));
		if (n == 0) {
			/* The client is done sending: finish the answers,
			 * then close; a monitor leaves with it. */
			if (cl->monitor)
				return -1;
			cl->closing = true;
			return 0;
		}
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		if (cl->monitor || cl->closing)
			continue; /* nothing more is expected */
		if (cl->in_overflow || cl->in_len + (size_t)n > CTL_REQUEST_MAX) {
			/* Skip to the end of the line, then answer once. */
			char *nl = memchr(buf, '\n', (size_t)n);

			cl->in_overflow = true;
			explicit_bzero(cl->in, cl->in_len);
			cl->in_len = 0;
			if (nl == NULL)
				continue;
			sb_printf(&cl->out, "error: request too long (at most %u bytes)\n",
				  CTL_REQUEST_MAX);
			cl->closing = true;
			return 0;
		}
		memcpy(cl->in + cl->in_len, buf, (size_t)n);
		cl->in_len += (size_t)n;
		client_lines(rt, cl);
	}
}

/* Write what is pending. @return -1 to close the client. */
static int
client_write(struct client *cl)
{
	while (cl->out_off < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.p + cl->out_off,
				 cl->out.len - cl->out_off, MSG_NOSIGNAL);

		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		cl->out_off += (size_t)n;
	}
	cl->out.len = cl->out_off = 0;
	return cl->closing ? -1 : 0;
}

unsigned int
ctl_poll(struct gw_runtime *rt)
{
	struct ctl *c = rt->ctl;
	struct pollfd pfd[CTL_CLIENTS_MAX + 1];
	unsigned int i, n;
	int ready;

	if (c == NULL)
		return 0;
	pfd[0].fd = c->lfd;
	pfd[0].events = POLLIN;
	for (i = 0; i < c->n; i++) {
		pfd[i + 1].fd = c->c[i]->fd;
		pfd[i + 1].events = POLLIN |
			(c->c[i]->out.len > c->c[i]->out_off ? POLLOUT : 0);
	}
	n = c->n;
	ready = poll(pfd, n + 1, 0);
	if (ready <= 0 && n == 0)
		return 0;

	/* Walk backwards: closing a client moves the last one into its slot. */
	for (i = n; i-- > 0;) {
		struct client *cl = c->c[i];
		int rc = 0;

		if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
			rc = client_read(rt, cl);
		if (rc == 0 && cl->out.len > cl->out_off)
			rc = client_write(cl);
		else if (rc == 0 && cl->closing)
			rc = -1;
		if (rc < 0)
			client_close(c, i);
	}
	/* Monitors get events between polls: write those too. */
	for (i = c->n; i-- > 0;)
		if (c->c[i]->monitor && c->c[i]->out.len > c->c[i]->out_off &&
		    client_write(c->c[i]) < 0)
			client_close(c, i);

	if (pfd[0].revents & POLLIN) {
		for (;;) {
			int fd = accept(c->lfd, NULL, NULL);
			struct client *cl;

			if (fd < 0)
				break;
			if (c->n == CTL_CLIENTS_MAX || set_nonblock(fd) < 0 ||
			    (cl = calloc(1, sizeof(*cl))) == NULL) {
				static const char busy[] = "error: too many clients\n";

				(void)!write(fd, busy, sizeof(busy) - 1);
				close(fd);
				continue;
			}
			cl->fd = fd;
			c->c[c->n++] = cl;
		}
	}
	return ready > 0;
}
