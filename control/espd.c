/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * espd: the gateway process.
 *
 *   espd [EAL args] -- -c FILE [-s SOCKET] [--exit-idle MS] [--check]
 *                      [--stats-json FILE]
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
#include "control/acquire.h"
#include "control/ctl.h"
#include "control/gateway.h"
#include "crypto/crypto.h"
#include "espd_version.h"

#define DEFAULT_SOCKET "/run/espd/espd.sock"

struct espd_opts {
	const char *config;
	const char *socket;
	const char *stats_json;
	long exit_idle_ms;
	uint32_t max_sas;
	int check;
	int version;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: espd [EAL args] -- -c FILE [-s SOCKET] [--exit-idle MS] [--check]\n"
		"                          [--stats-json FILE] [--max-sas N]\n"
		"       espd --version\n");
}

/* Parse espd's own arguments (those after "--"). Returns 0, or 2 for a
 * usage error (already reported). */
static int
parse_opts(int argc, char **argv, struct espd_opts *o)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "exit-idle", required_argument, NULL, 'i' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "max-sas", required_argument, NULL, 'm' },
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
		case 'm': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno != 0 || *end != '\0' || end == optarg || v < 1 ||
			    v > (1ul << 24)) {
				fprintf(stderr, "espd: --max-sas: expected 1..16777216, got '%s'\n",
					optarg);
				return 2;
			}
			o->max_sas = (uint32_t)v;
			break;
		}
		case 'V':
			o->version = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct espd_opts o = { .socket = DEFAULT_SOCKET, .max_sas = 65536 };
	struct cfg_load ld = { .errs = stderr };
	struct crypto_engine *eng;
	struct gw_runtime *rt;
	int sep, rc;

	/* espd's own arguments follow "--"; with no "--" they are all
	 * espd's (so "espd --version" and "espd -c F --check" work). */
	for (sep = 1; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
		;
	if (sep == argc) {
		rc = parse_opts(argc, argv, &o);
	} else {
		argv[sep] = argv[0];
		rc = parse_opts(argc - sep, argv + sep, &o);
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
		return cfg_check_file(o.config, stdout);

	rc = rte_eal_init(sep, argv);
	if (rc < 0) {
		fprintf(stderr, "espd: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		rte_eal_cleanup();
		return 1;
	}
	rt->exit_idle_ms = o.exit_idle_ms;
	if (gw_prepare(rt, o.max_sas) < 0 || acq_init(rt) < 0)
		goto err;
	ld.apply = model_apply;
	ld.arg = &rt->model;
	if (cfg_load_file(o.config, &ld) < 0)
		goto err;
	if (gw_start(rt) < 0 || gw_publish(rt) < 0 || ctl_open(rt, o.socket) < 0)
		goto err;
	eng = rt->workers[0]->esp.engine;
	printf("espd %s: %u worker(s), crypto %s\n", ESPD_VERSION, rt->n_workers,
	       crypto_engine_describe(eng));
	fflush(stdout);

	gw_run(rt);

	if (o.stats_json != NULL) {
		FILE *f = fopen(o.stats_json, "w");

		if (f == NULL) {
			fprintf(stderr, "espd: --stats-json %s: %s\n", o.stats_json,
				strerror(errno));
		} else {
			gw_stats_json(rt, f);
			fclose(f);
		}
	}
	ctl_close(rt);
	gw_stop(rt);
	free(rt);
	rte_eal_cleanup();
	return 0;

err:
	acq_fini(rt);
	ctl_close(rt);
	gw_stop(rt);
	free(rt);
	rte_eal_cleanup();
	return 1;
}