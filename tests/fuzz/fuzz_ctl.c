/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ctl: bytes as one client of the control socket. A gateway
 * (fuzz_gw.c: tables, SAD, flow table, ACQUIRE state, ports offline)
 * listens on a socket in a temporary directory, exactly as espd does
 * (sock_open); each input is written by a fresh client, which then shuts
 * its write side, and sock_poll() runs until the server has answered and
 * closed. So the whole request path is real: client_read (buffering, the
 * 64 KiB limit), handle_request, cmd_request (cfg_parse_line,
 * cmd_execute, model_apply, pub_publish), and the answer.
 *
 * Checks: an answer starts with "ok" or "error: " and, outside batch mode
 * ("batch-json ..." keeps the connection for more requests), an error is
 * one line; the server never keeps a client that left; the model is
 * flushed now and then so it stays small.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/cmd.h"
#include "control/sock.h"
#include "tests/fuzz/fuzz_gw.h"

#define POLL_MAX 100000

static const char conf[] =
	"port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 addr 2001:db8:1::5/64 mac 02:00:00:00:02:01\n"
	"route add 10.2.0.0/16 port 1 via 172.16.1.1\n"
	"neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 reqid 1 mode tunnel "
	"  aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
	"policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out "
	"  tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel\n";

static struct testgw *g;
static struct sock *sock;
static struct cmd_ctx cmd;
static struct sockaddr_un sun = { .sun_family = AF_UNIX };
static char answer[1 << 20];

/* One request: @return the answer's length (NUL-terminated in answer[]). */
static size_t
request(const uint8_t *data, size_t size)
{
	size_t off = 0, alen = 0;
	bool shut = false, done = false;
	unsigned int i;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("fuzz_ctl: connect");
		abort();
	}
	for (i = 0; i < POLL_MAX && !done; i++) {
		ssize_t n;

		if (off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* the server closed early */
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		sock_poll(sock, cmd_request, &cmd);
		/* As espd's loop: a batch's table changes are published, and
		 * their held answers sent, once the batch pauses. */
		if (cmd.deferred && !sock_got_input(sock))
			(void)cmd_flush(&cmd);
		for (;;) {
			n = recv(fd, answer + alen, sizeof(answer) - 1 - alen, 0);
			if (n > 0) {
				alen += (size_t)n;
				if (alen == sizeof(answer) - 1)
					alen = 0; /* a long listing: keep the tail */
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				done = true;
			break;
		}
	}
	close(fd);
	if (!done) {
		fprintf(stderr, "fuzz_ctl: the server never closed the connection\n");
		abort();
	}
	/* One more round so the server notices our close. */
	sock_poll(sock, cmd_request, &cmd);
	answer[alen] = '\0';
	return alen;
}

static void
flush_model(void)
{
	static const char sf[] = "text state flush\n", pf[] = "text policy flush\n";

	request((const uint8_t *)sf, sizeof(sf) - 1);
	request((const uint8_t *)pf, sizeof(pf) - 1);
	pub_reclaim(&g->pub);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz_ctl.XXXXXX";

	(void)argc;
	fuzz_eal_init((*argv)[0]);
	int rc;

	g = fuzz_gw_new(conf, CRYPTO_ENGINE_NULL);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/espd.sock", dir);
	sock = sock_open(sun.sun_path, &g->pub.ctl_cnt.c[CNT_MonitorEventsDropped], &rc);
	if (sock == NULL)
		abort();
	cmd.pub = &g->pub;
	cmd.sock = sock;
	/* The socket file goes when the directory is cleaned; the fuzzer
	 * exits without a destructor of ours. */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t alen;

	if (size > SOCK_REQUEST_MAX + 4096)
		return -1;
	alen = request(data, size);
	if (alen > 0 && strncmp(answer, "ok\n", 3) != 0 && strncmp(answer, "ok ", 3) != 0 &&
	    strncmp(answer, "error: ", 7) != 0) {
		fprintf(stderr, "fuzz_ctl: answer is neither ok nor error: %.80s\n", answer);
		abort();
	}
	/* Outside batch mode an error is the whole answer: one line. */
	if (size < 6 || memcmp(data, "batch-", 6) != 0) {
		if (strncmp(answer, "error: ", 7) == 0 &&
		    strchr(answer, '\n') != answer + alen - 1) {
			fprintf(stderr, "fuzz_ctl: an error answer of more than one line: %.200s\n",
				answer);
			abort();
		}
	}
	if (g->model.n_sas > 64 || g->model.n_pols > 64 || g->model.n_routes > 64 ||
	    g->model.n_neighs > 64)
		flush_model();
	pub_reclaim(&g->pub);
	return 0;
}
