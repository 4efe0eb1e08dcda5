/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * espctl: the control client.
 *
 *   espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]
 *   espctl [-s SOCKET] [-j] -b FILE
 *   espctl --version
 *
 * The command is parsed locally first, with the same parser the gateway
 * uses, so a typo is reported (with the word) without a round trip. Then
 * it goes to espd's control socket (control/sock.h has the protocol), and
 * the answer is printed: output on stdout; an error as one line on stderr
 * with a non-zero exit status.
 *
 * With -b (`ip -batch`'s way), every command of FILE (`-`: stdin; the
 * configuration file's syntax) is checked first, and only a file without
 * errors is sent: on one connection, as a batch, written while the
 * answers are read, so espd rebuilds its tables once for the lot. Keys
 * then never sit in espctl's argv, where /proc shows them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "control/sock.h"
#include "espd_version.h"

#define DEFAULT_SOCKET "/run/espd/espd.sock"

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "espctl: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* Quote a word the POSIX shell way: 'it'\''s'. */
static size_t
quote(char *out, const char *w)
{
	size_t n = 0;

	out[n++] = '\'';
	for (; *w != '\0'; w++) {
		if (*w == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *w;
		}
	}
	out[n++] = '\'';
	return n;
}

/* How long quote() makes @p w. */
static size_t
quoted_len(const char *w)
{
	size_t n = 2;

	for (; *w != '\0'; w++)
		n += *w == '\'' ? 4 : 1;
	return n;
}

/*
 * The word an error is about, for the message. A long run of hex digits
 * (with or without 0x) can only be a key, perhaps one word off its place
 * or a digit short: keys never reach a message (README "Keys in errors"),
 * so it is described, as config/parse.c describes such words.
 */
static const char *
word_shown(const char *w, char *buf, size_t size)
{
	const char *h = (w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) ? w + 2 : w;
	size_t n = strspn(h, "0123456789abcdefABCDEF"), i;

	if (n > 16 && h[n] == '\0') {
		snprintf(buf, size, "%s<%zu hex digits, not shown>", h == w ? "" : "0x", n);
		return buf;
	}
	for (i = 0; w[i] != '\0'; i++) {
		n = strspn(w + i, "0123456789abcdefABCDEF");
		if (n > 16) {
			snprintf(buf, size, "<%zu characters, not shown>", strlen(w));
			return buf;
		}
		i += n;
		if (w[i] == '\0')
			break;
	}
	snprintf(buf, size, "%.40s", w);
	return buf;
}

/* `espctl --help`: the grammar, as DESIGN.md gives it. */
static const char help[] =
	"usage: espctl [-s SOCKET] [-j] [-t SECONDS] OBJECT COMMAND [ARGS]\n"
	"       espctl [-s SOCKET] [-j] [-t SECONDS] -b FILE\n"
	"  -s SOCKET  espd's control socket (default " DEFAULT_SOCKET ")\n"
	"  -j         answers in JSON\n"
	"  -b FILE    every command of FILE (- for stdin), one a line as in the\n"
	"             configuration file: checked, then sent as one batch\n"
	"  -t SECONDS give up when espd has said nothing for this long\n"
	"             (default 60; 0: wait for ever; a monitor's events never time out)\n"
	"\n"
	"route add PREFIX|default port ID [via IP] | route del PREFIX|default | route list\n"
	"neigh add IP lladdr MAC port ID | neigh del IP port ID | neigh list | neigh flush\n"
	"state add src IP dst IP proto esp spi SPI [dir in|out] [reqid N] [seq N]\n"
	"      [mode tunnel|transport] [replay-window N] [flag esn|noecn|decap-dscp|dont-encap-dscp ...]\n"
	"      [replay-seq N] [replay-oseq N] [replay-seq-hi N] [replay-oseq-hi N]\n"
	"      ALGO [encap espinudp SPORT DPORT 0.0.0.0]\n"
	"      [sel src PREFIX dst PREFIX [proto P [sport N] [dport N]]]\n"
	"      [limit byte-soft|byte-hard|packet-soft|packet-hard|time-soft|time-hard N ...]\n"
	"  ALGO: aead 'rfc4106(gcm(aes))' KEY 64|96|128\n"
	"        aead 'rfc7539esp(chacha20,poly1305)' KEY 128\n"
	"        enc 'cbc(aes)' KEY auth-trunc 'hmac(sha1|sha256|sha384|sha512)' KEY BITS\n"
	"state update ...   (as add: new keys and limits, or an SPI from allocspi made live)\n"
	"state migrate src IP dst IP proto esp spi SPI [new-src IP] [new-dst IP]\n"
	"      [encap espinudp SPORT DPORT 0.0.0.0 | encap none]\n"
	"state del|get src IP dst IP proto esp spi SPI [show-keys]\n"
	"state allocspi src IP dst IP proto esp [reqid N] [seq N] [min SPI max SPI]\n"
	"state list | state flush | state count\n"
	"policy add|update src PREFIX dst PREFIX [proto P [sport N[-M]] [dport N[-M]]]\n"
	"      dir in|out|fwd [priority N] [action allow|block] [index N]\n"
	"      [tmpl [src IP dst IP] proto esp [spi SPI] [reqid N] [mode tunnel|transport]\n"
	"            [level required|use]]\n"
	"      [pfp src|dst|proto|sport|dport[,...]]\n"
	"policy del index N | policy del src PREFIX dst PREFIX ... dir D\n"
	"policy list | policy flush\n"
	"stats [reset]\n"
	"monitor [acquire] [expire] [invalid-spi] [mapping] [policy] [state]\n"
	"set acquire-expires S | acquire-queue N | acquire-queue-total N | allocspi-expires S\n"
	"set worker-idle poll|adaptive | tcp-mss-clamp off|auto|N | icmp-ratelimit N\n"
	"set neigh-reachable S | out-sa owner|shared | icmp-unreachable off|on\n";

/* Connect to @p path. @return the socket, or -1 (said on stderr). */
/* The longest espd may stay silent while an answer is due (-t), in ms;
 * -1: no limit. A wedged espd then ends a script's espctl instead of
 * hanging it. */
static int timeout_ms = 60 * 1000;

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "espctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd >= 0 && timeout_ms > 0) {
		/* A Unix connect waits while espd's backlog is full (espd
		 * stuck, not accepting): that wait has the limit too, and so
		 * does sending the request. */
		struct timeval tv = { .tv_sec = timeout_ms / 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	if (e == EAGAIN) {
		fprintf(stderr, "espctl: no answer from espd in %d s: it accepts no "
			"connection (-t SECONDS waits longer)\n", timeout_ms / 1000);
		close(fd);
		return -1;
	}
	fprintf(stderr, "espctl: cannot connect to %s: %s%s\n", path, strerror(e),
		e == EACCES ? " (the socket is mode 0600: run as espd's user)" :
		e == ENOENT || e == ECONNREFUSED ? " (is espd running?)" : "");
	if (fd >= 0)
		close(fd);
	return -1;
}

/* ---- -b FILE ------------------------------------------------------------- */

/* The requests of a batch file, one a line, and the line each came from. */
struct batch {
	struct cfg_load *ld;
	bool json;
	char *req;
	size_t len, cap;
	unsigned int *line;
	size_t n, ncap;
};

/* Grow @p *buf (@p *cap bytes, @p used of them in use) to at least @p want
 * bytes. It holds keys (requests, show-keys answers): it moves by copy
 * and wipe, never by realloc(), which would leave the old copy. */
static void
room_wiped(char **buf, size_t *cap, size_t used, size_t want)
{
	size_t c = *cap ? *cap : 64 * 1024;
	char *r;

	if (want <= *cap)
		return;
	while (c < want)
		c *= 2;
	r = malloc(c);
	if (r == NULL)
		die("%s", "out of memory");
	if (*buf != NULL) {
		memcpy(r, *buf, used);
		explicit_bzero(*buf, *cap);
		free(*buf);
	}
	*buf = r;
	*cap = c;
}

/* cfg_load's apply: the command, checked already, becomes a request. */
static int
batch_add(void *arg, const struct cfg_cmd *cmd, const char *file, unsigned int line,
	  struct cfg_error *err)
{
	struct batch *b = arg;
	struct cfg_words ws;
	size_t need = 16, i;
	int ret;

	(void)file;
	if (cmd->type == CFG_CMD_MONITOR)
		return cfg_error_set(err, -1, "monitor cannot be batched");
	if (cmd->type == CFG_CMD_PORT)
		return cfg_error_set(err, -1, "ports are set at start-up, in the configuration "
				     "file");
	ret = cfg_split(b->ld->text, b->ld->text_len, &ws, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < ws.n; i++)
		need += quoted_len(ws.w[i]) + 1;
	if (need > SOCK_REQUEST_MAX) {
		cfg_words_free(&ws);
		return cfg_error_set(err, -1, "request too long (%zu bytes, at most %u)", need,
				     SOCK_REQUEST_MAX);
	}
	room_wiped(&b->req, &b->cap, b->len, b->len + need);
	b->len += (size_t)sprintf(b->req + b->len, b->json ? "batch-json" : "batch-text");
	for (i = 0; i < ws.n; i++) {
		b->req[b->len++] = ' ';
		b->len += quote(b->req + b->len, ws.w[i]);
	}
	b->req[b->len++] = '\n';
	cfg_words_free(&ws);
	if (b->n == b->ncap) {
		b->ncap = b->ncap ? b->ncap * 2 : 1024;
		b->line = realloc(b->line, b->ncap * sizeof(*b->line));
		if (b->line == NULL)
			die("%s", "out of memory");
	}
	b->line[b->n++] = line;
	return 0;
}

/* Wait for @p fd to be ready for @p events, at most timeout_ms; dies,
 * saying so, when espd said nothing for that long. */
static short
wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	while ((n = poll(&p, 1, timeout_ms)) < 0)
		if (errno != EINTR)
			die("poll: %s", strerror(errno));
	if (n == 0) {
		fflush(stdout); /* the answers before */
		fprintf(stderr, "espctl: no answer from espd in %d s (-t SECONDS waits longer)\n",
			timeout_ms / 1000);
		exit(1);
	}
	return p.revents;
}

/*
 * Send @p b's requests on @p fd while reading the answers ("ok LEN" and
 * LEN bytes, or "error: ..."), printing each in order. If espd stops
 * reading (it closed), sending stops and what it answered is still
 * read. @return how many failed, or -1 when espd went away early or
 * answered garbage (said).
 */
static long
batch_send(int fd, struct batch *b, const char *file)
{
	size_t sent = 0, done = 0, have = 0, cap = 64 * 1024;
	char *in = malloc(cap);
	long failed = 0;
	bool bad = false;
	ssize_t n;

	if (in == NULL)
		die("%s", "out of memory");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("cannot set up the socket: %s", strerror(errno));
	while (done < b->n && !bad) {
		short ev = wait_fd(fd, sent < b->len ? POLLIN | POLLOUT : POLLIN);
		char *nl;

		if (sent < b->len && (ev & (POLLOUT | POLLERR | POLLHUP))) {
			/* MSG_NOSIGNAL: espd gone is an answer to read, not
			 * a SIGPIPE. */
			n = send(fd, b->req + sent, b->len - sent, MSG_NOSIGNAL);
			if (n > 0 && (sent += (size_t)n) == b->len)
				shutdown(fd, SHUT_WR); /* the last request: done */
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = b->len; /* it stopped reading: take what it said */
		}
		if (!(ev & (POLLIN | POLLHUP | POLLERR)))
			continue;
		room_wiped(&in, &cap, have, have + 1);
		n = read(fd, in + have, cap - have);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		/* Every whole answer now in. */
		while (done < b->n && (nl = memchr(in, '\n', have)) != NULL) {
			size_t hdr = (size_t)(nl - in) + 1, body = 0;
			char *end;

			if (strncmp(in, "error: ", 7) == 0) {
				fflush(stdout); /* the answers before it first */
				fprintf(stderr, "espctl: %s:%u: %.*s\n", file, b->line[done],
					(int)(hdr - 1), in);
				failed++;
			} else if (strncmp(in, "ok ", 3) == 0 && in[3] >= '0' && in[3] <= '9') {
				body = strtoul(in + 3, &end, 10);
				if (end != nl || body > SIZE_MAX / 2) {
					bad = true;
					break;
				}
				if (have < hdr + body) {
					room_wiped(&in, &cap, have, hdr + body);
					break; /* the rest of its output is on its way */
				}
				fwrite(in + hdr, 1, body, stdout);
			} else {
				bad = true;
				break;
			}
			memmove(in, in + hdr + body, have - hdr - body);
			have -= hdr + body;
			done++;
		}
	}
	explicit_bzero(in, cap);
	free(in);
	fflush(stdout);
	if (bad) {
		fprintf(stderr, "espctl: malformed answer from espd\n");
		return -1;
	}
	if (done < b->n) {
		fprintf(stderr, "espctl: espd closed the connection after %zu of %zu answers "
			"(the rest not known to be applied)\n", done, b->n);
		return -1;
	}
	return failed;
}

/* espctl -b FILE. @return the exit status. */
static int
batch_main(const char *sock_path, const char *file, bool json)
{
	struct cfg_load ld = { .apply = batch_add, .errs = stderr, .keep_going = true };
	struct batch b = { .ld = &ld, .json = json };
	const char *name = strcmp(file, "-") == 0 ? "<stdin>" : file;
	long failed;
	int fd;

	ld.arg = &b;
	if (cfg_load_file(file, &ld) != 0 || ld.nerrors != 0) {
		fprintf(stderr, "espctl: %s: %u error%s, nothing sent\n", name, ld.nerrors,
			ld.nerrors == 1 ? "" : "s");
		failed = 1;
		goto out;
	}
	failed = 0;
	if (b.n == 0)
		goto out;
	fd = ctl_connect(sock_path);
	if (fd < 0) {
		failed = 1;
		goto out;
	}
	failed = batch_send(fd, &b, name);
	close(fd);
out:
	if (b.req != NULL)
		explicit_bzero(b.req, b.cap);
	free(b.req);
	free(b.line);
	if (failed != 0)
		return 1;
	if (ferror(stdout) || fclose(stdout) != 0) {
		fprintf(stderr, "espctl: writing the answers: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock_path = DEFAULT_SOCKET, *batch = NULL;
	struct cfg_error err = { 0 };
	struct cfg_cmd cmd;
	char *req, buf[65536];
	size_t len = 0, need, off;
	bool json = false, first = true, ok = false, monitor;
	int c, fd, i;
	ssize_t n;

	opterr = 0; /* one line on stderr for any error, ours (DESIGN.md) */
	while ((c = getopt_long(argc, argv, "+s:jhb:t:", longopts, NULL)) != -1) {
		char *end;
		unsigned long secs;

		switch (c) {
		case 't':
			errno = 0;
			secs = strtoul(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno != 0 || secs > 86400 ||
			    optarg[0] == '-') {
				fprintf(stderr, "espctl: -t '%s': seconds from 0 (no limit) to 86400\n",
					optarg);
				return 2;
			}
			timeout_ms = secs == 0 ? -1 : (int)secs * 1000;
			break;
		case 'b':
			batch = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
		case 's':
			sock_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'V':
			printf("espctl %s\n", ESPD_VERSION);
			return 0;
		default:
			fprintf(stderr, "espctl: %s '%s': usage: espctl [-s SOCKET] [-j] OBJECT "
				"COMMAND [ARGS] | -b FILE\n", c == ':' || optopt == 's' || optopt == 'b' || optopt == 't' ?
				"option needs a value" : "unknown option", argv[optind - 1]);
			return 2;
		}
	}
	if (batch != NULL) {
		if (optind != argc) {
			fprintf(stderr, "espctl: -b FILE takes no command ('%s'): usage: espctl "
				"[-s SOCKET] [-j] -b FILE\n", argv[optind]);
			return 2;
		}
		return batch_main(sock_path, batch, json);
	}
	if (optind == argc) {
		fprintf(stderr, "espctl: usage: espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS] "
			"| -b FILE (espctl --help lists them)\n");
		return 2;
	}
	if (cfg_parse(argc - optind, argv + optind, &cmd, &err) != 0) {
		char shown[64];

		cfg_cmd_clear(&cmd);
		if (err.word >= 0 && err.word < argc - optind)
			fprintf(stderr, "espctl: error: %s (word %d: '%s')\n", err.msg,
				err.word + 1, word_shown(argv[optind + err.word], shown,
							 sizeof(shown)));
		else
			fprintf(stderr, "espctl: error: %s\n", err.msg);
		return 1;
	}
	monitor = cmd.type == CFG_CMD_MONITOR;
	cfg_cmd_clear(&cmd);

	/* One line: the output form, then every word quoted. */
	need = 8;
	for (i = optind; i < argc; i++)
		need += strlen(argv[i]) * 4 + 3;
	if (need > SOCK_REQUEST_MAX) {
		fprintf(stderr, "espctl: error: request too long (%zu bytes, at most %u)\n",
			need, SOCK_REQUEST_MAX);
		return 1;
	}
	req = malloc(need);
	if (req == NULL)
		die("%s", "out of memory");
	len = (size_t)sprintf(req, json ? "json" : "text");
	for (i = optind; i < argc; i++) {
		req[len++] = ' ';
		len += quote(req + len, argv[i]);
	}
	req[len++] = '\n';

	fd = ctl_connect(sock_path);
	if (fd < 0) {
		/* The request may carry keys: wipe it on this path too. */
		explicit_bzero(req, len);
		free(req);
		return 1;
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(fd, req + off, len - off);
		if (n <= 0)
			die("cannot send the request: %s", strerror(errno));
	}
	explicit_bzero(req, len); /* a state add carries keys */
	free(req);

	/* "ok" or "error: ...", then the output until espd closes. */
	off = 0;
	for (;;) {
		/* A monitor's events come when they come: only its "ok" is due. */
		if (first || !monitor)
			wait_fd(fd, POLLIN);
		n = read(fd, buf + off, sizeof(buf) - off - 1);
		if (n <= 0)
			break;
		off += (size_t)n;
		if (first) {
			char *nl;

			buf[off] = '\0';
			nl = strchr(buf, '\n');
			if (nl == NULL) {
				if (off < sizeof(buf) - 1)
					continue;
				die("%s", "malformed answer from espd");
			}
			*nl = '\0';
			if (strncmp(buf, "error: ", 7) == 0) {
				fprintf(stderr, "espctl: %s\n", buf);
				return 1;
			}
			if (strcmp(buf, "ok") != 0)
				die("malformed answer from espd: %.80s", buf);
			first = false;
			ok = true;
			nl++;
			fwrite(nl, 1, off - (size_t)(nl - buf), stdout);
		} else {
			fwrite(buf, 1, off, stdout);
		}
		fflush(stdout);
		off = 0;
	}
	if (n < 0) {
		fprintf(stderr, "espctl: reading the answer: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	/* A monitor ends only when espd does: a key manager reading it must
	 * be able to tell that from success. */
	if (ok && monitor) {
		fflush(stdout);
		fprintf(stderr, "espctl: espd closed the monitor (did it stop?)\n");
		return 1;
	}
	if (!ok) {
		fprintf(stderr, "espctl: espd closed the connection without an answer\n");
		return 1;
	}
	/* The answer must have reached stdout (a full disk, a closed pipe
	 * would otherwise pass for success). */
	if (ferror(stdout) || fclose(stdout) != 0) {
		fprintf(stderr, "espctl: writing the answer: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
