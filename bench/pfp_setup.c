/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pfp_setup: the new-flow setup benchmark's traffic source, key manager
 * and sink, in one process so that none of them is what is measured.
 *
 *   pfp_setup --sock SOCK --netns NS --tx IF --rx IF --pcap FILE
 *             --sa-head "src A dst B proto esp"
 *             --sa-tail "reqid 7 mode tunnel aead ALG KEY 128"
 *             [--cpu N] [--spi N] [--idle-ms MS]
 *
 * It subscribes to espd's ACQUIREs (`text monitor acquire`), then sends
 * every frame of FILE (classic pcap, one new flow each) into espd from
 * interface TX of namespace NS. Each ACQUIRE is answered at once on a
 * pipelined `batch-text` connection with `state add HEAD spi S TAIL
 * SEL`, SEL being the ACQUIRE's selector. Interface RX counts the ESP
 * frames espd sends. It stops when one ESP frame per flow has arrived,
 * or when none has for --idle-ms, and prints one JSON object.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct frames {
	uint8_t *data;
	uint32_t *off;
	uint16_t *len;
	size_t n;
};

static const char *sa_head, *sa_tail;
static int mon_fd, batch_fd;
static uint32_t next_spi = 0x100000;
static atomic_ulong n_acquire, n_ok, n_err, n_esp;
static atomic_ulong t_last_esp_ns, t_first_esp_ns, t_first_acq_ns, t_last_acq_ns, t_last_ok_ns;
static atomic_int done;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* This process's CPU time so far (every thread), seconds. */
static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
die(const char *what)
{
	fprintf(stderr, "pfp_setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		die("control socket");
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die(path);
	return fd;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

static struct frames
read_pcap(const char *path)
{
	struct frames f = { 0 };
	FILE *fp = fopen(path, "rb");
	uint8_t gh[24], rh[16];
	size_t cap = 0, used = 0, ncap = 0;

	if (fp == NULL || fread(gh, 1, sizeof(gh), fp) != sizeof(gh))
		die(path);
	while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
		uint32_t incl;

		memcpy(&incl, rh + 8, 4);
		if (incl > 9000) {
			fprintf(stderr, "pfp_setup: %s: frame of %u bytes\n", path, incl);
			exit(2);
		}
		if (used + incl > cap) {
			cap = (cap + incl) * 2;
			f.data = realloc(f.data, cap);
		}
		if (f.n == ncap) {
			ncap = ncap ? ncap * 2 : 1024;
			f.off = realloc(f.off, ncap * sizeof(*f.off));
			f.len = realloc(f.len, ncap * sizeof(*f.len));
		}
		if (f.data == NULL || f.off == NULL || f.len == NULL)
			die("realloc");
		if (fread(f.data + used, 1, incl, fp) != incl)
			die("short pcap record");
		f.off[f.n] = (uint32_t)used;
		f.len[f.n++] = (uint16_t)incl;
		used += incl;
	}
	fclose(fp);
	return f;
}

/* A packet socket on @p ifname: a sink (@p rcvbuf bytes of room) or,
 * with @p rcvbuf 0, a source that receives nothing (not even copies of
 * what it sends, which would cost a clone each). */
static int
packet_socket(const char *ifname, int rcvbuf)
{
	uint16_t proto = rcvbuf > 0 ? htons(ETH_P_ALL) : 0;
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = proto };
	int fd = socket(AF_PACKET, SOCK_RAW, proto), one = 1;

	if (fd < 0)
		die("AF_PACKET socket");
	a.sll_ifindex = (int)if_nametoindex(ifname);
	if (a.sll_ifindex == 0)
		die(ifname);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		die("SO_RCVBUFFORCE");
	if (rcvbuf == 0)
		(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return fd;
}

/* ACQUIRE lines in, `state add` lines out, as they come. */
static void *
keymgr(void *arg)
{
	static char in[1 << 20];
	char *out = malloc(1 << 22);
	size_t have = 0;

	(void)arg;
	if (out == NULL)
		die("malloc");
	for (;;) {
		ssize_t r = read(mon_fd, in + have, sizeof(in) - 1 - have);
		size_t used = 0, o = 0;
		char *ln, *nl;

		if (r <= 0)
			break;
		have += (size_t)r;
		in[have] = '\0';
		for (ln = in; (nl = strchr(ln, '\n')) != NULL; ln = nl + 1) {
			char *sel, *pkt;

			*nl = '\0';
			used = (size_t)(nl + 1 - in);
			if (strncmp(ln, "acquire ", 8) != 0)
				continue;
			sel = strstr(ln, " sel ");
			pkt = sel ? strstr(sel, " pkt ") : NULL;
			if (pkt == NULL)
				continue;
			if (atomic_fetch_add(&n_acquire, 1) == 0)
				atomic_store(&t_first_acq_ns, now_ns());
			atomic_store(&t_last_acq_ns, now_ns());
			o += (size_t)sprintf(out + o, "batch-text state add %s spi 0x%08x %s %.*s\n",
					     sa_head, next_spi++, sa_tail,
					     (int)(pkt - sel - 1), sel + 1);
			if (o > (1 << 22) - 2048) {
				write_all(batch_fd, out, o);
				o = 0;
			}
		}
		if (o > 0)
			write_all(batch_fd, out, o);
		memmove(in, in + used, have - used);
		have -= used;
	}
	free(out);
	return NULL;
}

/* The batch connection's answers: "ok LEN\n" plus LEN bytes, or an
 * error line. */
static void *
answers(void *arg)
{
	static char buf[1 << 20];
	size_t have = 0, skip = 0;

	(void)arg;
	for (;;) {
		ssize_t r = read(batch_fd, buf + have, sizeof(buf) - 1 - have);
		size_t pos = 0;

		if (r <= 0)
			break;
		have += (size_t)r;
		for (;;) {
			char *nl;

			if (skip > 0) {
				size_t k = have - pos < skip ? have - pos : skip;

				pos += k;
				skip -= k;
				if (skip > 0)
					break;
			}
			buf[have] = '\0';
			nl = memchr(buf + pos, '\n', have - pos);
			if (nl == NULL)
				break;
			if (strncmp(buf + pos, "ok", 2) == 0) {
				skip = strtoul(buf + pos + 2, NULL, 10);
				atomic_fetch_add(&n_ok, 1);
				atomic_store(&t_last_ok_ns, now_ns());
			} else {
				if (atomic_fetch_add(&n_err, 1) < 3)
					fprintf(stderr, "pfp_setup: %.*s\n", (int)(nl - buf - pos),
						buf + pos);
			}
			pos = (size_t)(nl + 1 - buf);
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	return NULL;
}

/* ESP frames leaving espd, IPv4 protocol 50 or UDP 4500. */
static void *
sink(void *arg)
{
	int fd = *(int *)arg;
	struct timeval tv = { 0, 50000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	static uint8_t fr[64][256]; /* the headers are enough */
	struct mmsghdr mm[64];
	struct iovec iov[64];
	int k;

	for (k = 0; k < 64; k++) {
		iov[k].iov_base = fr[k];
		iov[k].iov_len = sizeof(fr[k]);
		memset(&mm[k], 0, sizeof(mm[k]));
		mm[k].msg_hdr.msg_iov = &iov[k];
		mm[k].msg_hdr.msg_iovlen = 1;
	}
	/* Up to 64 frames a call, so counting costs few system calls; and
	 * polled, not woken: a wake-up from the worker's CPU would interrupt
	 * lcore 0, which shares this CPU. */
	while (!atomic_load(&done)) {
		int n = recvmmsg(fd, mm, 64, MSG_DONTWAIT, NULL);
		unsigned long esp = 0;

		if (n <= 0) {
			usleep(250);
			continue;
		}
		for (k = 0; k < n; k++) {
			const uint8_t *f = fr[k], *ip = f + 14;
			unsigned int r = mm[k].msg_len;

			if (r < 34 || f[12] != 0x08 || f[13] != 0x00)
				continue;
			esp += ip[9] == 50 || (ip[9] == 17 && r >= 42 &&
					       ip[(ip[0] & 15) * 4 + 2] == 0x11 &&
					       ip[(ip[0] & 15) * 4 + 3] == 0x94);
		}
		if (esp > 0) {
			if (atomic_fetch_add(&n_esp, esp) == 0)
				atomic_store(&t_first_esp_ns, now_ns());
			atomic_store(&t_last_esp_ns, now_ns());
		}
	}
	return NULL;
}

/* Send frames [@p from, @p to) of @p f, then wait until as many ESP
 * frames in all have come back, or none has for @p idle_ms. @return when
 * the last frame was sent. */
static uint64_t
wave(int tx, const struct frames *f, size_t from, size_t to, int idle_ms)
{
	uint64_t t_sent, t_wait;
	unsigned long esp;

	for (size_t k = from; k < to;) {
		struct mmsghdr mm[64];
		struct iovec iov[64];
		unsigned int m = 0;
		int r;

		for (; m < 64 && k + m < to; m++) {
			iov[m].iov_base = f->data + f->off[k + m];
			iov[m].iov_len = f->len[k + m];
			memset(&mm[m], 0, sizeof(mm[m]));
			mm[m].msg_hdr.msg_iov = &iov[m];
			mm[m].msg_hdr.msg_iovlen = 1;
		}
		r = sendmmsg(tx, mm, m, 0);
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)) {
			sched_yield();
			continue;
		}
		if (r < 0)
			die("sendmmsg");
		k += (size_t)r;
	}
	t_sent = now_ns();
	t_wait = t_sent;
	esp = atomic_load(&n_esp);
	for (;;) {
		unsigned long e = atomic_load(&n_esp);
		uint64_t t = now_ns();

		if (e >= to - from)
			break;
		if (e != esp) {
			esp = e;
			t_wait = t;
		} else if (t - t_wait > (uint64_t)idle_ms * 1000000ull) {
			break;
		}
		usleep(200);
	}
	return t_sent;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *ns = NULL, *txif = NULL, *rxif = NULL, *pcap = NULL;
	int cpu = -1, idle_ms = 1000, tx, rx, i;
	char head[64];
	size_t hn = 0;
	pthread_t tk, ta, ts;
	struct frames f;
	uint64_t t0, t_sent;
	unsigned long esp;
	size_t warmup = 0, n;
	double cpu0 = 0;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--sock"))
			sock = v;
		else if (!strcmp(k, "--netns"))
			ns = v;
		else if (!strcmp(k, "--tx"))
			txif = v;
		else if (!strcmp(k, "--rx"))
			rxif = v;
		else if (!strcmp(k, "--pcap"))
			pcap = v;
		else if (!strcmp(k, "--sa-head"))
			sa_head = v;
		else if (!strcmp(k, "--sa-tail"))
			sa_tail = v;
		else if (!strcmp(k, "--cpu"))
			cpu = atoi(v);
		else if (!strcmp(k, "--spi"))
			next_spi = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(k, "--idle-ms"))
			idle_ms = atoi(v);
		else if (!strcmp(k, "--warmup"))
			warmup = strtoul(v, NULL, 10);
		else
			break;
	}
	if (i != argc || !sock || !ns || !txif || !rxif || !pcap || !sa_head || !sa_tail) {
		fprintf(stderr, "usage: pfp_setup --sock SOCK --netns NS --tx IF --rx IF "
			"--pcap FILE --sa-head WORDS --sa-tail WORDS [--cpu N] [--spi N] "
			"[--idle-ms MS] [--warmup N]\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET(cpu, &cs);
		if (sched_setaffinity(0, sizeof(cs), &cs) < 0)
			die("sched_setaffinity");
	}
	f = read_pcap(pcap);
	if (warmup >= f.n) {
		fprintf(stderr, "pfp_setup: --warmup %zu: the pcap has %zu frames\n", warmup, f.n);
		return 2;
	}

	/* The control connections first (a path: any namespace will do). */
	mon_fd = unix_connect(sock);
	batch_fd = unix_connect(sock);
	write_all(mon_fd, "text monitor acquire\n", 21);
	while (hn < sizeof(head) - 1 && (hn == 0 || head[hn - 1] != '\n')) {
		if (read(mon_fd, head + hn, 1) != 1)
			die("monitor");
		hn++;
	}
	head[hn] = '\0';
	if (strcmp(head, "ok\n") != 0) {
		fprintf(stderr, "pfp_setup: monitor: %s", head);
		return 2;
	}
	{
		char p[256];
		int nfd;

		snprintf(p, sizeof(p), "/var/run/netns/%s", ns);
		nfd = open(p, O_RDONLY);
		if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
			die(p);
		close(nfd);
	}
	tx = packet_socket(txif, 0);
	rx = packet_socket(rxif, 64 << 20);
	if (pthread_create(&tk, NULL, keymgr, NULL) || pthread_create(&ta, NULL, answers, NULL) ||
	    pthread_create(&ts, NULL, sink, &rx))
		die("pthread_create");

	if (warmup > 0) {
		char go[8];

		/* The first flows wake espd's code and memory up; then the
		 * counters start again, and the caller says when to go on. */
		(void)wave(tx, &f, 0, warmup, idle_ms);
		atomic_store(&n_acquire, 0);
		atomic_store(&n_ok, 0);
		atomic_store(&n_err, 0);
		atomic_store(&n_esp, 0);
		atomic_store(&t_first_acq_ns, 0);
		atomic_store(&t_first_esp_ns, 0);
		cpu0 = cpu_s();
		printf("warm\n");
		fflush(stdout);
		if (fgets(go, sizeof(go), stdin) == NULL)
			return 2;
	}
	t0 = now_ns();
	t_sent = wave(tx, &f, warmup, f.n, idle_ms);
	n = f.n - warmup;
	atomic_store(&done, 1);
	pthread_join(ts, NULL);
	esp = atomic_load(&n_esp);
	{
		uint64_t tl = atomic_load(&t_last_esp_ns);
		double total = tl > t0 ? (double)(tl - t0) / 1e9 : 0;

#define SINCE(t) ((t) > t0 ? (double)((t) - t0) / 1e9 : 0.0)
		printf("{\"flows\":%zu,\"warmup_flows\":%zu,\"send_s\":%.6f,\"acquires\":%lu,\"sa_ok\":%lu,"
		       "\"sa_errors\":%lu,\"esp_out\":%lu,\"total_s\":%.6f,\"flows_per_s\":%.0f,"
		       "\"first_acquire_s\":%.6f,\"last_acquire_s\":%.6f,\"last_ok_s\":%.6f,"
		       "\"first_esp_s\":%.6f,\"tool_cpu_s\":%.6f}\n",
		       n, warmup, (double)(t_sent - t0) / 1e9, atomic_load(&n_acquire),
		       atomic_load(&n_ok), atomic_load(&n_err), esp, total,
		       total > 0 ? (double)esp / total : 0.0, SINCE(atomic_load(&t_first_acq_ns)),
		       SINCE(atomic_load(&t_last_acq_ns)), SINCE(atomic_load(&t_last_ok_ns)),
		       SINCE(atomic_load(&t_first_esp_ns)), cpu_s() - cpu0);
	}
	fflush(stdout);
	/* The key manager and answer threads end with the process. */
	return 0;
}
