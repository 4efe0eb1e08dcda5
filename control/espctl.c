/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * espctl: the control client.
 *
 *   espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]
 *   espctl --version
 *
 * The command is parsed locally first, with the same parser the gateway
 * uses, so a typo is reported (with the word) without a round trip. Then
 * it goes to espd's control socket (control/sock.h has the protocol), and
 * the answer is printed: output on stdout; an error as one line on stderr
 * with a non-zero exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	"usage: espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]\n"
	"  -s SOCKET  espd's control socket (default " DEFAULT_SOCKET ")\n"
	"  -j         answers in JSON\n"
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock_path = DEFAULT_SOCKET;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cfg_error err = { 0 };
	struct cfg_cmd cmd;
	char *req, buf[65536];
	size_t len = 0, need, off;
	bool json = false, first = true, ok = false, monitor;
	int c, fd, i;
	ssize_t n;

	opterr = 0; /* one line on stderr for any error, ours (DESIGN.md) */
	while ((c = getopt_long(argc, argv, "+s:jh", longopts, NULL)) != -1) {
		switch (c) {
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
				"COMMAND [ARGS]\n", c == ':' || optopt == 's' ? "option needs a value"
				: "unknown option", argv[optind - 1]);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "espctl: usage: espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS] "
			"(espctl --help lists them)\n");
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

	if (strlen(sock_path) >= sizeof(sun.sun_path))
		die("socket path too long: %s", sock_path);
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		fprintf(stderr, "espctl: cannot connect to %s: %s%s\n", sock_path, strerror(e),
			e == EACCES ? " (the socket is mode 0600: run as espd's user)" :
			e == ENOENT || e == ECONNREFUSED ? " (is espd running?)" : "");
		/* The request may carry keys: wipe it on this path too. */
		explicit_bzero(req, len);
		free(req);
		if (fd >= 0)
			close(fd);
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
	while ((n = read(fd, buf + off, sizeof(buf) - off - 1)) > 0) {
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
