/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kernel-espd's link to espd's control socket. See espd_conn.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "espd_conn.h"

struct espd_conn {
	pthread_mutex_t lock;
	char *path;
	unsigned int timeout_s; /* the longest espd may be silent */
	int fd;                 /* -1: not connected */
	char *in;               /* bytes read past the last answer */
	size_t in_len, in_cap;
};

static void
wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

espd_conn_t *
espd_conn_create(const char *path, unsigned int timeout_s)
{
	espd_conn_t *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->path = strdup(path);
	if (c->path == NULL) {
		free(c);
		return NULL;
	}
	c->fd = -1;
	c->timeout_s = timeout_s ? timeout_s : 1;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void
conn_close(espd_conn_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->in_len = 0;
}

void
espd_conn_destroy(espd_conn_t *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	pthread_mutex_destroy(&c->lock);
	free(c->in);
	free(c->path);
	free(c);
}

static int
sock_connect(const char *path, unsigned int timeout_s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot reach espd at %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- requests ------------------------------------------------------------ */

static void
req_put(espd_req_t *r, const char *p, size_t n)
{
	if (r->oom)
		return;
	if (r->len + n + 2 > r->cap) {
		size_t cap = (r->cap ? r->cap : 256);
		char *b;

		while (cap < r->len + n + 2)
			cap *= 2;
		b = malloc(cap);
		if (b == NULL) {
			r->oom = true;
			return;
		}
		if (r->buf != NULL) {
			memcpy(b, r->buf, r->len);
			wipe(r->buf, r->cap);
			free(r->buf);
		}
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

void
espd_req_word(espd_req_t *r, const char *w)
{
	if (r->len > 0)
		req_put(r, " ", 1);
	/* '...' with each ' written as '\'' : POSIX quoting, as espctl does. */
	req_put(r, "'", 1);
	for (; *w != '\0'; w++) {
		if (*w == '\'')
			req_put(r, "'\\''", 4);
		else
			req_put(r, w, 1);
	}
	req_put(r, "'", 1);
}

void
espd_req_text(espd_req_t *r, const char *text)
{
	if (r->len > 0 && text[0] != '\0')
		req_put(r, " ", 1);
	req_put(r, text, strlen(text));
}

void
espd_req_wordf(espd_req_t *r, const char *fmt, ...)
{
	char w[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w, sizeof(w), fmt, ap);
	va_end(ap);
	espd_req_word(r, w);
}

void
espd_req_hex(espd_req_t *r, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *w = malloc(2 * len + 3);
	size_t i;

	if (w == NULL) {
		r->oom = true;
		return;
	}
	if (len == 0) {
		w[0] = '\0';
	} else {
		w[0] = '0';
		w[1] = 'x';
		for (i = 0; i < len; i++) {
			w[2 + 2 * i] = hex[p[i] >> 4];
			w[3 + 2 * i] = hex[p[i] & 15];
		}
		w[2 + 2 * len] = '\0';
	}
	espd_req_word(r, w);
	wipe(w, 2 * len + 3);
	free(w);
}

void
espd_req_free(espd_req_t *r)
{
	if (r->buf != NULL) {
		wipe(r->buf, r->cap);
		free(r->buf);
	}
	memset(r, 0, sizeof(*r));
}

/* ---- answers ------------------------------------------------------------- */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read more bytes into c->in. */
static int
fill(espd_conn_t *c)
{
	ssize_t n;

	if (c->in_cap - c->in_len < 4096) {
		size_t cap = c->in_cap ? 2 * c->in_cap : 16384;
		char *b = realloc(c->in, cap);

		if (b == NULL)
			return -1;
		c->in = b;
		c->in_cap = cap;
	}
	do
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = ECONNRESET; /* closed: not a time-out */
	if (n <= 0)
		return -1;
	c->in_len += (size_t)n;
	return 0;
}

static void
consume(espd_conn_t *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* One answer: "ok LEN\n" + LEN bytes, or "error: MESSAGE\n". */
static int
read_answer(espd_conn_t *c, json_t **out, char *err, size_t errlen)
{
	char *nl;
	size_t head, len;

	while ((nl = c->in_len ? memchr(c->in, '\n', c->in_len) : NULL) == NULL)
		if (fill(c) < 0)
			return -2;
	head = (size_t)(nl - c->in) + 1;
	*nl = '\0';
	if (strncmp(c->in, "error: ", 7) == 0) {
		snprintf(err, errlen, "%s", c->in + 7);
		consume(c, head);
		return -1;
	}
	if (strncmp(c->in, "ok ", 3) != 0) {
		snprintf(err, errlen, "unexpected answer from espd: %.80s", c->in);
		return -2;
	}
	len = strtoul(c->in + 3, NULL, 10);
	while (c->in_len < head + len)
		if (fill(c) < 0)
			return -2;
	*out = NULL;
	if (len > 0) {
		json_error_t je;

		*out = json_loadb(c->in + head, len, JSON_DECODE_ANY, &je);
		if (*out == NULL) {
			/* Text where JSON was asked for: keep it as a string. */
			*out = json_stringn(c->in + head, len);
		}
	}
	consume(c, head + len);
	return 0;
}

int
espd_request(espd_conn_t *c, espd_req_t *r, json_t **out, char *err, size_t errlen)
{
	int rc = -2, attempt;

	*out = NULL;
	if (r->oom) {
		snprintf(err, errlen, "out of memory");
		espd_req_free(r);
		return -2;
	}
	req_put(r, "\n", 1);
	pthread_mutex_lock(&c->lock);
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0) {
			c->fd = sock_connect(c->path, c->timeout_s, err, errlen);
			if (c->fd < 0)
				break;
		}
		if (write_all(c->fd, "batch-json ", 11) < 0 ||
		    write_all(c->fd, r->buf, r->len) < 0) {
			snprintf(err, errlen, "espd closed the connection");
			conn_close(c);
			continue;
		}
		rc = read_answer(c, out, err, errlen);
		if (rc == -2) {
			if (err[0] == '\0' || strncmp(err, "unexpected", 10) != 0)
				snprintf(err, errlen, "no answer from espd (%s)",
					 errno == EAGAIN || errno == EWOULDBLOCK ?
					 "timed out" : "it closed the connection");
			conn_close(c);
			/* Sent and maybe done: retrying a change is safe only
			 * when it never arrived, so retry on a write failure
			 * only (above). */
			rc = -3;
			break;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	espd_req_free(r);
	return rc;
}

int
espd_monitor_open(const char *path, const char *words, char *err, size_t errlen)
{
	char line[256];
	size_t n = 0;
	int fd = sock_connect(path, 10, err, errlen); /* for its "ok" */
	struct timeval tv = { 0 };

	if (fd < 0)
		return -1;
	snprintf(line, sizeof(line), "json monitor %s\n", words);
	if (write_all(fd, line, strlen(line)) < 0) {
		snprintf(err, errlen, "espd closed the connection");
		close(fd);
		return -1;
	}
	/* Byte by byte up to the first newline: what follows are events. */
	while (n < sizeof(line) - 1) {
		ssize_t k = recv(fd, line + n, 1, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (strcmp(line, "ok") != 0) {
		snprintf(err, errlen, "monitor refused: %s",
			 n ? line : "espd closed the connection");
		close(fd);
		return -1;
	}
	/* Events block the reader, not espd: no receive timeout. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}
