/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * espctl: the control client.
 *
 *   espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]
 *   espctl --version
 *
 * The command is parsed locally first, with the same parser the gateway
 * uses, so a typo is reported (with the word) without a round trip.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "espd_version.h"

#define DEFAULT_SOCKET "/run/espd/espd.sock"

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock_path = DEFAULT_SOCKET;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cfg_error err = { 0 };
	struct cfg_cmd cmd;
	int c, fd;

	while ((c = getopt_long(argc, argv, "+s:j", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'j':
			break;
		case 'V':
			printf("espctl %s\n", ESPD_VERSION);
			return 0;
		default:
			fprintf(stderr, "espctl: usage: espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "espctl: usage: espctl [-s SOCKET] [-j] OBJECT COMMAND [ARGS]\n");
		return 2;
	}
	if (cfg_parse(argc - optind, argv + optind, &cmd, &err) != 0) {
		cfg_cmd_clear(&cmd);
		if (err.word >= 0 && err.word < argc - optind)
			fprintf(stderr, "espctl: error: %s (word %d: '%s')\n",
				err.msg, err.word + 1, argv[optind + err.word]);
		else
			fprintf(stderr, "espctl: error: %s\n", err.msg);
		return 1;
	}
	cfg_cmd_clear(&cmd);

	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "espctl: socket path too long: %s\n", sock_path);
		return 1;
	}
	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "espctl: cannot connect to %s: %s\n", sock_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* The control socket protocol comes with the control-plane issue. */
	close(fd);
	fprintf(stderr, "espctl: the control protocol is not implemented yet\n");
	return 1;
}
