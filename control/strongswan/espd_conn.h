/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * kernel-espd's link to espd's control socket (control/sock.h): one
 * batch-mode connection for requests, shared by charon's threads under a
 * mutex, and reconnected when espd restarts. Requests are built word by
 * word and shell-quoted, as espctl sends them; answers come back as
 * Jansson values ("batch-json").
 *
 * Requests may carry keys: the request buffer is wiped after each send.
 */
#ifndef ESPD_CONN_H_
#define ESPD_CONN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct espd_conn espd_conn_t;

/** One request under construction: words appended, then sent. */
typedef struct {
	char *buf;
	size_t len, cap;
	bool oom;
} espd_req_t;

/** Connect lazily to @p path; a request's answer waits at most
 *  @p timeout_s of silence. NULL on out-of-memory. */
espd_conn_t *espd_conn_create(const char *path, unsigned int timeout_s);
void espd_conn_destroy(espd_conn_t *c);

/** Append one word (quoted as the shell would). */
void espd_req_word(espd_req_t *r, const char *w);
/** Append words already quoted (a request's text kept from before). */
void espd_req_text(espd_req_t *r, const char *text);
/** Append one word made by printf. */
void espd_req_wordf(espd_req_t *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Append a key as 0x... hex ("" when @p len is 0). */
void espd_req_hex(espd_req_t *r, const uint8_t *p, size_t len);
/** Wipe and free. */
void espd_req_free(espd_req_t *r);

/**
 * Send @p r and wait for the answer. @return 0 with *@p out the parsed
 * answer (NULL when espd printed nothing; json_decref it), -1 with espd's
 * message in @p err ("error: ..." from espd), -2 when espd could not
 * be reached (message in @p err), or -3 when it was sent and no answer
 * came (timed out, or espd closed): espd may have applied it or not. One retry on a fresh connection when
 * the old one broke (espd restarted). @p r is wiped and freed.
 */
int espd_request(espd_conn_t *c, espd_req_t *r, json_t **out, char *err, size_t errlen);

/** A new connection to @p path that has sent `json monitor WORDS` and
 *  read its "ok"; -1 when espd cannot be reached or refused (@p err). */
int espd_monitor_open(const char *path, const char *words, char *err, size_t errlen);

#endif /* ESPD_CONN_H_ */
