/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * espd: the gateway process.
 *
 *   espd [EAL args] -- -c FILE [-s SOCKET] [--exit-idle MS] [--check]
 *                      [--stats-json FILE] [--max-sas N] [--mbufs N]
 *                      [--xdp-prog FILE] [--crypto-dev NAME]
 *                      [--crypto-dev-depth N]
 *   espd --version
 *
 * --check and --version never start EAL.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_version.h>

#include "config/config.h"
#include "control/events.h"
#include "control/exc.h"
#include "control/loop.h"
#include "control/model.h"
#include "control/publish.h"
#include "control/sock.h"
#include "control/view.h"
#include "crypto/crypto.h"
#include "espd_version.h"

#define DEFAULT_SOCKET "/run/espd/espd.sock"

struct espd_opts {
	const char *config;
	const char *socket;
	const char *stats_json;
	const char *crypto_dev;
	uint32_t crypto_depth; /**< descriptors per queue pair, 0: the default */
	const char *xdp_prog;
	long exit_idle_ms;
	uint32_t max_sas;
	uint32_t mbufs;  /**< packet mbuf pool size, 0: the default */
	int check;
	int version;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: espd [EAL args] -- -c FILE [-s SOCKET] [--exit-idle MS] [--check]\n"
		"                          [--stats-json FILE] [--max-sas N] [--mbufs N]\n"
		"                          [--xdp-prog FILE] [--crypto-dev NAME]\n"
		"                          [--crypto-dev-depth N]\n"
		"       espd --version\n");
}

/* The number @p arg of option --@p name, within [@p lo, @p hi], in
 * *@p out. @return 0, or 2 for a usage error (reported). */
static int
opt_u32(const char *name, const char *arg, unsigned long lo, unsigned long hi,
	uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno != 0 || *end != '\0' || end == arg || v < lo || v > hi) {
		fprintf(stderr, "espd: --%s: expected %lu..%lu, got '%s'\n", name, lo, hi, arg);
		return 2;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Parse espd's own arguments (those after "--"). Returns 0, or 2 for a
 * usage error (already reported). */
static int
parse_opts(int argc, char **argv, struct espd_opts *o, bool no_sep)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "exit-idle", required_argument, NULL, 'i' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "max-sas", required_argument, NULL, 'm' },
		{ "crypto-dev", required_argument, NULL, 'C' },
		{ "crypto-dev-depth", required_argument, NULL, 'D' },
		{ "xdp-prog", required_argument, NULL, 'x' },
		{ "mbufs", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'k':
			o->check = 1;
			break;
		case 'i':
			errno = 0;
			o->exit_idle_ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    o->exit_idle_ms <= 0) {
				fprintf(stderr, "espd: --exit-idle: expected milliseconds > 0, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			o->stats_json = optarg;
			break;
		case 'm':
			if (opt_u32("max-sas", optarg, 1, 1ul << 24, &o->max_sas) != 0)
				return 2;
			break;
		case 'C':
			if (optarg[0] == '\0') {
				fprintf(stderr, "espd: --crypto-dev: expected a cryptodev name\n");
				return 2;
			}
			o->crypto_dev = optarg;
			break;
		case 'D':
			/* The device's queue: how many ops each worker may
			 * have in it; what does not fit waits in the worker's
			 * own ring (ESP_PENDING_MAX). */
			if (opt_u32("crypto-dev-depth", optarg, 8, 32768, &o->crypto_depth) != 0)
				return 2;
			break;
		case 'x':
			o->xdp_prog = optarg;
			break;
		case 'b':
			/* The pool holds every mbuf a port's RX ring, the
			 * workers' bursts and held packets can pin at once;
			 * below 1023 a port cannot even fill its ring. */
			if (opt_u32("mbufs", optarg, 1023, 1ul << 24, &o->mbufs) != 0)
				return 2;
			break;
		case 'V':
			o->version = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (no_sep)
				fprintf(stderr, "espd: EAL's arguments go before \"--\", espd's after "
					"it: espd [EAL args] -- -c FILE ...\n");
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->crypto_depth != 0 && o->crypto_dev == NULL) {
		fprintf(stderr, "espd: --crypto-dev-depth needs --crypto-dev\n");
		return 2;
	}
	return 0;
}

/*
 * --check: the file applied to the same model a running espd uses, minus
 * the data plane. Every error is printed ("FILE:LINE: error: ..."), not
 * only the first, so the verdict is the one start-up would reach.
 */
static int
check(const char *path, uint32_t max_sas)
{
	struct cfg_load ld = { .apply = model_apply, .errs = stdout, .keep_going = true };
	struct gw_model m;
	int rc;

	if (model_init(&m, CRYPTO_ENGINE_MB, max_sas) < 0) {
		printf("%s: error: out of memory\n", path);
		return 1;
	}
	ld.arg = &m;
	rc = cfg_load_file(path, &ld);
	model_free(&m);
	if (rc == 0 && ld.nerrors == 0) {
		printf("configuration OK\n");
		return 0;
	}
	return 1;
}

/* The counters at exit into @p f (opened at start, so that a path that
 * cannot be written stops espd before it runs). @return 0, or -1 with
 * the error reported. */
static int
stats_json(const struct pub *p, FILE *f, const char *path)
{
	struct pr pr;
	int rc = 0;

	pr_init(&pr, true);
	view_stats(&pr, p);
	if (pr.out.oom) {
		fprintf(stderr, "espd: --stats-json %s: out of memory\n", path);
		rc = -1;
	} else if (pr.out.p != NULL) {
		fprintf(f, "%s\n", pr.out.p);
	}
	pr_fini(&pr);
	if (fclose(f) != 0 || rc < 0) {
		if (rc == 0)
			fprintf(stderr, "espd: --stats-json %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct espd_opts o = { .socket = DEFAULT_SOCKET, .max_sas = 65536 };
	struct cfg_load ld = { .errs = stderr };
	struct events *ev = NULL;
	struct exc *x = NULL;
	struct sock *sock = NULL;
	enum crypto_engine_kind kind = CRYPTO_ENGINE_MB;
	struct gw_model m;
	struct pub p;
	FILE *stats_f = NULL;
	int sep, rc, exit_rc = 0;

	/* espd's own arguments follow "--"; with no "--" they are all
	 * espd's (so "espd --version" and "espd -c F --check" work). */
	for (sep = 1; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
		;
	if (sep == argc) {
		rc = parse_opts(argc, argv, &o, true);
	} else {
		argv[sep] = argv[0];
		rc = parse_opts(argc - sep, argv + sep, &o, false);
		argv[sep] = "--";
	}
	if (rc != 0)
		return rc;

	if (o.version) {
		printf("espd %s (%s, %s)\n", ESPD_VERSION, rte_version(),
		       crypto_version());
		return 0;
	}
	if (o.config == NULL) {
		fprintf(stderr, "espd: -c FILE is required\n");
		usage(stderr);
		return 2;
	}
	if (o.check)
		return check(o.config, o.max_sas);
	if (o.stats_json != NULL && (stats_f = fopen(o.stats_json, "w")) == NULL) {
		fprintf(stderr, "espd: --stats-json %s: %s\n", o.stats_json, strerror(errno));
		return 1;
	}

	/* Without "--" every argument was espd's: EAL gets none of them
	 * (it would read -c as its coremask, -s as its service cores). */
	rc = rte_eal_init(sep == argc ? 1 : sep, argv);
	if (rc < 0) {
		fprintf(stderr, "espd: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.xdp_obj = o.xdp_prog;
	p.pool_size = o.mbufs;
	if (o.crypto_dev != NULL) {
		/* One queue pair per engine: every worker's and lcore 0's
		 * (pub_start builds one for each lcore). Opened before the
		 * file is read: `state add` checks the device's
		 * capabilities. */
		if (crypto_cdev_open(o.crypto_dev,
				     (uint16_t)rte_lcore_count(), o.crypto_depth) < 0)
			goto err_eal;
		kind = CRYPTO_ENGINE_CDEV;
	}
	if (model_init(&m, kind, o.max_sas) < 0)
		goto err_eal;
	if (pub_prepare(&p, &m, o.max_sas) < 0 || (ev = events_new(&p)) == NULL)
		goto err;
	ld.apply = model_apply;
	ld.arg = &m;
	if (cfg_load_file(o.config, &ld) < 0)
		goto err;
	/* The socket first: a key manager waiting for it connects while the
	 * ports come up, and is served before the workers start. */
	sock = sock_open(o.socket, &p.ctl_cnt.c[CNT_MonitorEventsDropped], &rc);
	if (sock == NULL)
		goto err;
	if (pub_start(&p) < 0 || pub_publish(&p) < 0 || (x = exc_new(&p)) == NULL)
		goto err;
	printf("espd %s: %u worker(s), crypto %s, %u mbufs\n", ESPD_VERSION,
	       p.n_workers, crypto_engine_describe(p.workers[0]->esp.engine),
	       p.pool->size);
	fflush(stdout);

	loop_run(&p, ev, x, sock, o.exit_idle_ms);

	/* Held packets die with the gateway, counted (AcquireHeldDropped),
	 * before the counters are written. */
	events_free(ev);
	exc_free(x);
	/* So the pool's in_use counts only what espd lost: NIC and net_tap
	 * RX rings hold mbufs until their port closes. */
	pub_ports_close(&p);
	if (stats_f != NULL && stats_json(&p, stats_f, o.stats_json) < 0)
		exit_rc = 1;
	sock_close(sock);
	model_free(&m);
	pub_stop(&p);
	/* Every SA and engine is gone by now, so the device has nothing left:
	 * the synchronous bursts leave no op in flight. */
	if (crypto_cdev_close() < 0)
		fprintf(stderr, "espd: --crypto-dev %s: sessions or queue pairs still in use at exit\n",
			o.crypto_dev);
	rte_eal_cleanup();
	return exit_rc;

err:
	events_free(ev);
	exc_free(x);
	sock_close(sock);
	model_free(&m);
	pub_stop(&p);
err_eal:
	crypto_cdev_close();
	rte_eal_cleanup();
	if (stats_f != NULL)
		fclose(stats_f);
	return 1;
}
