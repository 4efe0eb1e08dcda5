/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Commands: what each line of the grammar does on a running espd. Queries
 * render a view; changes go to the model exactly as the file's lines do,
 * then whatever tables they touched are republished; `monitor` turns the
 * client into a monitor; `state` and `policy` changes are announced to
 * the monitors that asked for them.
 *
 * Layer: commands, above the socket, events, stats, publish and the
 * model; below the loop.
 */
#ifndef ESPD_CMD_H
#define ESPD_CMD_H

#include <stdbool.h>

#include "config/config.h"
#include "control/publish.h"
#include "control/sbuf.h"
#include "control/sock.h"

struct cmd_ctx {
	struct pub *pub;
	struct sock *sock;  /**< for monitors and events; NULL: none */
};

/**
 * Run @p cmd, writing its answer (text or @p json) into @p out. @p req is
 * the socket request it came in (needed by `monitor`; NULL otherwise).
 * @return 0, or -errno with @p err filled.
 */
int cmd_execute(struct cmd_ctx *c, const struct cfg_cmd *cmd, bool json,
		struct sock_req *req, struct sbuf *out, struct cfg_error *err);

/** A sock_handler: parse the request's words and cmd_execute() them
 *  (@p arg is a struct cmd_ctx). */
int cmd_request(void *arg, struct sock_req *req, struct sbuf *out,
		struct cfg_error *err);

#endif /* ESPD_CMD_H */
