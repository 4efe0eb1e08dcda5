/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (see sock.h), served by lcore 0 without ever
 * blocking it: every descriptor is non-blocking, requests are read into
 * bounded buffers, answers are written as the client takes them, and a
 * monitor that falls behind loses events instead of stalling the gateway.
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

#include "control/grow.h"
#include "control/print.h"
#include "control/sock.h"

#define MONITOR_BACKLOG (4u << 20) /* bytes queued for one slow monitor */
/* A client's requests taken in one sock_poll(), so that one streaming a
 * batch cannot keep lcore 0 from its events, exception path and timers;
 * and the unsent answers past which its requests wait in the socket (a
 * batch client that never reads cannot grow espd without bound). */
#define CLIENT_READS_PER_POLL 16 /* of 4 KiB */
#define CLIENT_OUT_PAUSE (4u << 20)

struct held_span {
	size_t off, len;
};

struct sock_client {
	int fd;
	bool json;
	bool batch;             /* several requests, each answer sized */
	bool monitor;
	bool closing;           /* close once the output is written */
	uint32_t mon_mask;
	size_t in_len;
	bool in_overflow;
	char in[SOCK_REQUEST_MAX + 1];
	struct sbuf out;
	size_t out_off;
	/* Answers held (sock_req.held): only out[0 .. out_ready) may go.
	 * Where in out the held answers of requests that changed the tables
	 * are (struct held_span), so that a failed rebuild can turn just
	 * those into errors (sock_release_failed()). */
	bool held;
	size_t out_ready;
	struct held_span *spans;
	uint32_t n_spans, cap_spans;
};

struct sock {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;          /* the socket file bound at path */
	ino_t ino;
	struct sock_client *c[SOCK_CLIENTS_MAX];
	unsigned int n;
	uint64_t next_id;
	uint64_t *dropped;
	bool got_input;     /* the last sock_poll() read request bytes */
	struct sbuf line[2]; /* sock_emit()'s text and JSON lines */
};

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct sock *
sock_open(const char *path, uint64_t *dropped, int *rcp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sock *s;
	char dir[sizeof(sun.sun_path)], *slash;
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "espd: control socket path too long: %s\n", path);
		*rcp = -ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);

	/* The default lives in /run/espd: make it, private, if missing,
	 * with its parents as `mkdir -p` would. */
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		char *p;

		*slash = '\0';
		for (p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
			*p = '\0';
			(void)mkdir(dir, 0755);
			*p = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			*rcp = -errno;
			fprintf(stderr, "espd: control socket directory %s: %s\n", dir,
				strerror(errno));
			return NULL;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		*rcp = -errno;
		return NULL;
	}
	/* A live espd answers on the path: do not steal it. A dead one
	 * left a stale socket file: replace it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		fprintf(stderr, "espd: another espd is listening on %s\n", path);
		close(fd);
		*rcp = -EADDRINUSE;
		return NULL;
	}
	close(fd);
	/* Only a socket is ours to replace: `-s` naming a file by mistake
	 * must not delete it. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "espd: control socket %s: exists and is not a socket\n", path);
		*rcp = -EEXIST;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		*rcp = -errno;
		return NULL;
	}
	unlink(path);
	old = umask(0177); /* mode 0600 from the start, not after a chmod */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == 0 && lstat(path, &st) < 0)
		rc = -1;
	if (rc < 0 || listen(fd, 64) < 0 || set_nonblock(fd) < 0) {
		*rcp = -errno;
		fprintf(stderr, "espd: control socket %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		unlink(path);
		*rcp = -ENOMEM;
		return NULL;
	}
	s->lfd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->dropped = dropped;
	s->next_id = 1;
	strcpy(s->path, path);
	*rcp = 0;
	return s;
}

static void
client_close(struct sock *s, unsigned int i)
{
	struct sock_client *cl = s->c[i];

	close(cl->fd);
	sb_free(&cl->out);
	free(cl->spans);
	explicit_bzero(cl->in, cl->in_len); /* requests may carry keys */
	free(cl);
	s->c[i] = s->c[--s->n];
}

void
sock_close(struct sock *s)
{
	struct stat st;

	if (s == NULL)
		return;
	while (s->n > 0)
		client_close(s, s->n - 1);
	close(s->lfd);
	/* Our socket only: another espd may have taken the path since. */
	if (lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	sb_free(&s->line[0]);
	sb_free(&s->line[1]);
	free(s);
}

void
sock_emit(struct sock *s, uint32_t type, const char *text, const char *json)
{
	struct sbuf *t = &s->line[0], *j = &s->line[1];
	uint64_t id = s->next_id++;
	unsigned int i;

	/* Each form rendered once, into buffers kept from one event to the
	 * next (a burst of ACQUIREs is thousands). */
	t->len = j->len = 0;
	t->oom = j->oom = false;
	for (i = 0; i < s->n; i++) {
		struct sock_client *cl = s->c[i];
		struct sbuf *line = cl->json ? j : t;

		if (!cl->monitor || !(cl->mon_mask & type) || (cl->json ? json : text) == NULL)
			continue;
		if (cl->out.len - cl->out_off > MONITOR_BACKLOG) {
			(*s->dropped)++;
			continue;
		}
		/* Rendered once, for the first monitor that wants it. */
		if (line->len == 0 && cl->json) {
			size_t n = strlen(json);

			/* The object with one more member, "id", last. */
			if (n < 2 || json[n - 1] != '}') {
				line->oom = true;
			} else {
				sb_put(line, json, n - 1);
				sb_printf(line, "%s\"id\":%" PRIu64 "}\n", n > 2 ? "," : "", id);
			}
		} else if (line->len == 0) {
			sb_printf(line, "%s id %" PRIu64 "\n", text, id);
		}
		if (line->oom)
			(*s->dropped)++;
		else
			sb_put(&cl->out, line->p, line->len);
	}
}

void
sock_skip(struct sock *s, uint64_t n)
{
	s->next_id += n;
}

uint32_t
sock_heard(const struct sock *s, bool json)
{
	uint32_t m = 0;
	unsigned int i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (s->c[i]->monitor && s->c[i]->json == json)
			m |= s->c[i]->mon_mask;
	return m;
}

void
sock_monitor(struct sock_req *req, uint32_t mask)
{
	req->client->monitor = true;
	req->client->mon_mask = mask;
}

/* The request @p line, @p len bytes (its newline, if any, cut off). */
static void
handle_request(struct sock_client *cl, char *line, size_t len, sock_handler fn, void *arg)
{
	struct cfg_error err = { .word = -1 };
	struct sbuf body = { 0 };
	struct sock_req req = { .client = cl };
	size_t before = cl->out.len;
	int rc;

	line[len] = '\0';
	if (memchr(line, '\0', len) != NULL) {
		/* Not a line of text: what follows the NUL would be lost
		 * (a `limit` or a `sel`, say) and the rest taken as asked. */
		sb_printf(&cl->out, "error: a NUL byte in the request\n");
		if (!cl->batch)
			cl->closing = true;
		return;
	}
	if (strncmp(line, "batch-", 6) == 0) {
		cl->batch = true;
		line += 6;
	}
	if (strncmp(line, "json ", 5) == 0) {
		cl->json = true;
	} else if (strncmp(line, "text ", 5) == 0) {
		cl->json = false;
	} else {
		sb_printf(&cl->out, "error: requests start with 'text' or 'json'\n");
		cl->closing = true;
		return;
	}
	req.json = cl->json;
	req.batch = cl->batch;
	req.words = line + 5;
	rc = fn(arg, &req, &body, &err);
	if (req.held && !cl->held) {
		cl->held = true;
		cl->out_ready = before;
	}
	before = cl->out.len;
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
			sb_put(&cl->out, body.p, body.len);
	}
	if (body.p != NULL)
		explicit_bzero(body.p, body.len); /* show-keys */
	sb_free(&body);
	/* A change that waits for the rebuild; with no room to note it, the
	 * answer stands whatever the rebuild does. */
	if (req.held && rc == 0 && GROW(cl->spans, cl->n_spans, cl->cap_spans) == 0)
		cl->spans[cl->n_spans++] = (struct held_span){ before, cl->out.len - before };
	if (!cl->monitor && !cl->batch)
		cl->closing = true;
}

/* Act on every complete line buffered (one, unless in batch mode). */
static void
client_lines(struct sock_client *cl, sock_handler fn, void *arg)
{
	size_t off = 0;
	char *nl;

	/* Every complete line, then the unfinished rest moved down once
	 * (not after each line: a batch holds thousands). */
	while (!cl->closing && !cl->monitor &&
	       (nl = memchr(cl->in + off, '\n', cl->in_len - off)) != NULL) {
		size_t used = (size_t)(nl - (cl->in + off)) + 1;

		handle_request(cl, cl->in + off, used - 1, fn, arg);
		explicit_bzero(cl->in + off, used);
		off += used;
	}
	if (off > 0) {
		memmove(cl->in, cl->in + off, cl->in_len - off);
		cl->in_len -= off;
	}
}

/* Answer a request longer than SOCK_REQUEST_MAX, once, and close. */
static void
too_long(struct sock_client *cl)
{
	sb_printf(&cl->out, "error: request too long (at most %u bytes)\n", SOCK_REQUEST_MAX);
	cl->closing = true;
}

/*
 * Take the @p n bytes read at @p buf: as much as the line being read
 * has room for, its complete lines done, and again. A line longer than
 * SOCK_REQUEST_MAX is skipped to its end and answered once with an
 * error, and the client closed. Wipes @p buf. @return true when it is
 * closing.
 */
static bool
client_take(struct sock_client *cl, char *buf, size_t n, sock_handler fn, void *arg)
{
	size_t at = 0, take;

	while (at < n && !cl->closing && !cl->monitor) {
		if (cl->in_overflow) {
			if (memchr(buf + at, '\n', n - at) != NULL)
				too_long(cl);
			break;
		}
		/* Up to one byte past the longest line: its newline, or the
		 * proof that it is too long. */
		take = (size_t)SOCK_REQUEST_MAX + 1 - cl->in_len;
		if (take > n - at)
			take = n - at;
		memcpy(cl->in + cl->in_len, buf + at, take);
		cl->in_len += take;
		at += take;
		client_lines(cl, fn, arg);
		if (cl->in_len > SOCK_REQUEST_MAX) {
			cl->in_overflow = true;
			explicit_bzero(cl->in, cl->in_len);
			cl->in_len = 0;
		}
	}
	explicit_bzero(buf, n);
	return cl->closing;
}

/* Read what the client sent; *got is set when bytes came. @return -1
 * to close the client. */
static int
client_read(struct sock_client *cl, sock_handler fn, void *arg, bool *got)
{
	char buf[4096];
	unsigned int reads;
	ssize_t n;

	if (!cl->monitor && cl->out.len - cl->out_off > CLIENT_OUT_PAUSE)
		return 0;
	for (reads = 0; reads < CLIENT_READS_PER_POLL; reads++) {
		n = read(cl->fd, buf, sizeof(buf));
		if (n == 0) {
			/* The client is done sending: finish the answers, then
			 * close; a monitor leaves with it. A last line without
			 * its newline is never done (it may be a command cut
			 * short: an SA without its limits); one too long is
			 * answered. */
			if (cl->monitor)
				return -1;
			if (cl->in_overflow && !cl->closing)
				too_long(cl);
			explicit_bzero(cl->in, cl->in_len);
			cl->in_len = 0;
			cl->closing = true;
			return 0;
		}
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		*got = true;
		if (cl->monitor || cl->closing)
			continue; /* nothing more is expected */
		if (client_take(cl, buf, (size_t)n, fn, arg))
			return 0;
	}
	return 0; /* the rest in the next poll */
}

/* The end of what may be sent now. */
static size_t
out_end(const struct sock_client *cl)
{
	return cl->held ? cl->out_ready : cl->out.len;
}

/* Write what is pending and not held. @return -1 to close the client. */
static int
client_write(struct sock_client *cl)
{
	size_t end = out_end(cl);

	while (cl->out_off < end) {
		ssize_t n = send(cl->fd, cl->out.p + cl->out_off,
				 end - cl->out_off, MSG_NOSIGNAL);

		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		cl->out_off += (size_t)n;
	}
	if (cl->out_off < cl->out.len)
		return 0; /* held answers: sent after sock_release() */
	/* Answers may hold keys (show-keys). */
	if (cl->out.p != NULL)
		explicit_bzero(cl->out.p, cl->out.len);
	cl->out.len = cl->out_off = cl->out_ready = 0;
	return cl->closing ? -1 : 0;
}

void
sock_release(struct sock *s)
{
	unsigned int i;

	for (i = 0; s != NULL && i < s->n; i++) {
		s->c[i]->held = false;
		s->c[i]->n_spans = 0;
	}
}

void
sock_release_failed(struct sock *s, const char *why)
{
	unsigned int i;
	uint32_t k;

	for (i = 0; s != NULL && i < s->n; i++) {
		struct sock_client *cl = s->c[i];
		struct sbuf out = { 0 };
		size_t at;

		if (!cl->held)
			continue;
		/* The answers of the changes become errors; what else came
		 * after them (other answers, a monitor's events) stays. */
		sb_put(&out, cl->out.p, cl->out_ready);
		at = cl->out_ready;
		for (k = 0; k < cl->n_spans; k++) {
			const struct held_span *h = &cl->spans[k];

			sb_put(&out, cl->out.p + at, h->off - at);
			sb_printf(&out, "error: %s\n", why);
			at = h->off + h->len;
		}
		sb_put(&out, cl->out.p + at, cl->out.len - at);
		if (out.oom) {
			/* No room to rewrite them: they go as they are. */
			sb_free(&out);
		} else {
			explicit_bzero(cl->out.p, cl->out.len); /* show-keys */
			sb_free(&cl->out);
			cl->out = out;
		}
		cl->held = false;
		cl->n_spans = 0;
	}
}

bool
sock_got_input(const struct sock *s)
{
	return s != NULL && s->got_input;
}

/* The listening socket, every client's input and, where an answer or
 * an event waits to go, its output. @return how many. */
static unsigned int
sock_pollfds(const struct sock *s, struct pollfd *pfd)
{
	unsigned int i;

	pfd[0].fd = s->lfd;
	pfd[0].events = POLLIN;
	for (i = 0; i < s->n; i++) {
		pfd[i + 1].fd = s->c[i]->fd;
		pfd[i + 1].events = POLLIN |
			(out_end(s->c[i]) > s->c[i]->out_off ? POLLOUT : 0);
	}
	return s->n + 1;
}

void
sock_wait(struct sock *s, int timeout_ms, int fd)
{
	struct pollfd pfd[SOCK_CLIENTS_MAX + 2];
	unsigned int n = s != NULL ? sock_pollfds(s, pfd) : 0;

	if (fd >= 0) {
		pfd[n].fd = fd;
		pfd[n++].events = POLLIN;
	}
	(void)poll(pfd, n, timeout_ms);
}

unsigned int
sock_poll(struct sock *s, sock_handler fn, void *arg)
{
	struct pollfd pfd[SOCK_CLIENTS_MAX + 1];
	unsigned int i, n;
	int ready;

	if (s == NULL)
		return 0;
	n = sock_pollfds(s, pfd) - 1;
	s->got_input = false;
	ready = poll(pfd, n + 1, 0);
	if (ready <= 0 && n == 0)
		return 0;

	/* Walk backwards: closing a client moves the last one into its slot. */
	for (i = n; i-- > 0;) {
		struct sock_client *cl = s->c[i];
		int rc = 0;

		if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
			rc = client_read(cl, fn, arg, &s->got_input);
		if (rc == 0 && cl->out.len > cl->out_off)
			rc = client_write(cl);
		else if (rc == 0 && cl->closing)
			rc = -1;
		if (rc < 0)
			client_close(s, i);
	}
	/* Monitors get events between polls: write those too. */
	for (i = s->n; i-- > 0;)
		if (s->c[i]->monitor && s->c[i]->out.len > s->c[i]->out_off &&
		    client_write(s->c[i]) < 0)
			client_close(s, i);

	if (pfd[0].revents & POLLIN) {
		for (;;) {
			int fd = accept(s->lfd, NULL, NULL);
			struct sock_client *cl;

			if (fd < 0)
				break;
			if (s->n == SOCK_CLIENTS_MAX || set_nonblock(fd) < 0 ||
			    (cl = calloc(1, sizeof(*cl))) == NULL) {
				static const char busy[] = "error: too many clients\n";

				(void)!write(fd, busy, sizeof(busy) - 1);
				close(fd);
				continue;
			}
			cl->fd = fd;
			s->c[s->n++] = cl;
		}
	}
	return ready > 0;
}
