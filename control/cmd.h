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
	/** A batch's changes to the tables wait for one rebuild
	 *  (cmd_flush()), their answers held until it is done. */
	bool deferred;
	uint64_t deferred_ns; /**< CLOCK_MONOTONIC of the first one */
	struct sock_req *req; /**< the request being run, or NULL */
};

/**
 * Run @p cmd, writing its answer (text or @p json) into @p out. @p req is
 * the socket request it came in (needed by `monitor`; NULL otherwise).
 * @return 0, or -errno with @p err filled.
 */
int cmd_execute(struct cmd_ctx *c, const struct cfg_cmd *cmd, bool json,
		struct sock_req *req, struct sbuf *out, struct cfg_error *err);

/**
 * Rebuild and publish the tables the deferred changes of batch clients
 * made dirty, then send their held answers. The loop calls it once the
 * batch pauses (or has waited long enough), so 100k `policy add` in one
 * batch cost one SPD build, not 100k. @return 0 or -errno (the answers
 * are released all the same; the next change retries the build).
 */
int cmd_flush(struct cmd_ctx *c);

/** A sock_handler: parse the request's words and cmd_execute() them
 *  (@p arg is a struct cmd_ctx). */
int cmd_request(void *arg, struct sock_req *req, struct sbuf *out,
		struct cfg_error *err);

#endif /* ESPD_CMD_H */
