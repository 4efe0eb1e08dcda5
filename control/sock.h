/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control socket: a Unix stream socket (mode 0600) served by lcore 0
 * without blocking. This layer moves bytes and keeps the monitors; what a
 * request means is the caller's (the commands layer hands sock_poll() a
 * handler). One request per connection:
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
 * A request longer than SOCK_REQUEST_MAX, or with a NUL byte in it, is
 * answered with an error. A last line without its newline when the
 * client shuts its side is not done: it may be a command cut short.
 *
 * Layer: the socket, above events, stats and publish; below commands.
 */
#ifndef ESPD_SOCK_H
#define ESPD_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "control/sbuf.h"

#define SOCK_REQUEST_MAX (64 * 1024)
#define SOCK_CLIENTS_MAX 256

struct json_t; /* jansson.h: espctl includes this header without it */
struct sock;
struct sock_client;

/** One request as the handler sees it. */
struct sock_req {
	struct sock_client *client;
	bool json;          /**< the client asked for JSON */
	bool batch;         /**< a batch client: its answers may be held */
	/** Set by the handler of a batch request: the answer (and every
	 *  later one of this client) is held until sock_release(). */
	bool held;
	char *words;        /**< the command, shell-quoted words */
};

/**
 * Run one request: write the answer's body into @p out and return 0, or
 * return -errno with the message in @p err. Requests may carry keys: the
 * socket wipes its copy after the handler returns.
 */
typedef int (*sock_handler)(void *arg, struct sock_req *req, struct sbuf *out,
			    struct cfg_error *err);

/** Listen on @p path. Events that slow monitors lose are counted in
 *  *@p dropped. @return NULL (reason on stderr, *rc = -errno). */
struct sock *sock_open(const char *path, uint64_t *dropped, int *rc);

/** Accept, read, hand each complete request to @p fn, answer; never
 *  blocks. @return non-zero when there was anything to do. */
unsigned int sock_poll(struct sock *s, sock_handler fn, void *arg);

/** Sleep until a client connects, sends, or can take what waits for
 *  it, @p fd (if >= 0) is readable, or @p timeout_ms passes. @p s may
 *  be NULL. */
void sock_wait(struct sock *s, int timeout_ms, int fd);

/** From a handler: the client becomes a monitor of @p mask (CFG_MON_*). */
void sock_monitor(struct sock_req *req, uint32_t mask);

/** The CFG_MON_* types some monitor takes now in JSON (@p json) or in
 *  text (!@p json). */
uint32_t sock_heard(const struct sock *s, bool json);

/**
 * Send an event to every monitor subscribed to @p type (CFG_MON_*), in
 * text (@p text, one line without newline) or JSON (@p json, one compact
 * object) as each asked, with the next event id. A monitor whose form is
 * NULL came after the event was rendered, and does not get it. Each
 * event takes an id (one more than the
 * last event emitted, so a consumer sees a gap where it lost any).
 * Monitors that cannot keep up lose the event (as netlink multicast
 * does); the control plane never blocks.
 */
void sock_emit(struct sock *s, uint32_t type, const char *text, const char *json);

/** @p n events were lost before they reached the socket (counted
 *  MonitorEventsDropped where they were lost): each takes its id all
 *  the same, so a monitor sees the gap. */
void sock_skip(struct sock *s, uint64_t n);

/** Every held answer (struct sock_req.held) may be sent now. */
void sock_release(struct sock *s);

/** Every held answer is replaced by `error: WHY`, then sent: what the
 *  requests changed did not reach the data plane. */
void sock_release_failed(struct sock *s, const char *why);

/** Whether the last sock_poll() read any request bytes. */
bool sock_got_input(const struct sock *s);

/** Close every client and the socket, and remove the socket file. */
void sock_close(struct sock *s);

#endif /* ESPD_SOCK_H */
