/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control socket: a Unix stream socket (mode 0600) served by lcore 0
 * without blocking. One request per connection:
 *
 *   request:  "text WORDS...\n" or "json WORDS...\n", each word quoted
 *             the POSIX shell way (espctl quotes every word);
 *   response: "ok\n" then the output, or "error: MESSAGE\n"; then the
 *             server closes, except for `monitor`, whose events stream
 *             until the client leaves.
 *
 * A key manager that sends many requests (PFP at speed) prefixes each
 * line with "batch-" ("batch-json WORDS...\n"): each answer is then
 * "ok LEN\n" and LEN bytes of output, or "error: MESSAGE\n", and the
 * connection stays open until the client shuts its side.
 *
 * A request longer than CTL_REQUEST_MAX is answered with an error.
 */
#ifndef ESPD_CTL_H
#define ESPD_CTL_H

#include <stdint.h>

#define CTL_REQUEST_MAX (64 * 1024)
#define CTL_CLIENTS_MAX 256

struct gw_runtime;

/** Listen on @p path. @return 0 or -errno (reported on stderr). */
int ctl_open(struct gw_runtime *rt, const char *path);

/** Accept, read, execute and answer without blocking. Call often.
 *  @return non-zero when there was anything to do. */
unsigned int ctl_poll(struct gw_runtime *rt);

/** Close every client and the socket, and remove the socket file. */
void ctl_close(struct gw_runtime *rt);

/**
 * Send an event to every monitor subscribed to @p type (CFG_MON_*), in
 * text or JSON as each monitor asked. Monitors that cannot keep up lose
 * the event (as netlink multicast does), never block the control plane.
 */
void ctl_emit(struct gw_runtime *rt, uint32_t type, const char *text,
	      const char *json);

#endif /* ESPD_CTL_H */
