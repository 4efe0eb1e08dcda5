/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the commands layer (control/cmd.c) on the test gateway:
 * what `state get` (with and without show-keys), `state list`, `stats`
 * and allocspi answer in text and JSON, and the `monitor state|policy`
 * announcements, read by a real client of the control socket.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <jansson.h>
#include <rte_hash.h>

#include "config/config.h"
#include "control/cmd.h"
#include "control/sock.h"
#include "tests/support/testgw.h"
#include "unit.h"

#define GCM_KEY "0x0102030405060708090a0b0c0d0e0f10a1a2a3a4"
#define CBC_KEY "0x00112233445566778899aabbccddeeff"
#define SHA_KEY "0x0f0e0d0c0b0a090807060504030201000f0e0d0c0b0a09080706050403020100"
#define GCM256_KEY "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fcafebabe"

static const char conf[] =
	"port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01\n"
	"port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 reqid 1 "
	"  aead 'rfc4106(gcm(aes))' " GCM_KEY " 128\n"
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002 reqid 2 "
	"  enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(sha256)' " SHA_KEY " 128\n";

/* Run @p line; @return its output (caller frees), or NULL with @p err. */
static char *
run(struct cmd_ctx *c, const char *line, bool json, struct cfg_error *err)
{
	struct sbuf out = { 0 };
	struct cfg_cmd cmd;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cfg_parse_line(line, &cmd, err);
	if (rc == 0)
		rc = cmd_execute(c, &cmd, json, NULL, &out, err);
	cfg_cmd_clear(&cmd);
	if (rc != 0) {
		sb_free(&out);
		return NULL;
	}
	sb_put(&out, "", 0);
	return out.p != NULL ? out.p : strdup("");
}

static char *
must(struct cmd_ctx *c, const char *line, bool json)
{
	struct cfg_error err;
	char *out = run(c, line, json, &err);

	if (out == NULL)
		fprintf(stderr, "\n  '%s': %s\n", line, err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	return out;
}

static json_t *
must_json(struct cmd_ctx *c, const char *line)
{
	char *out = must(c, line, true);
	json_error_t je;
	json_t *v = json_loads(out, 0, &je);

	if (v == NULL)
		fprintf(stderr, "\n  '%s' is not JSON (%s): %s\n", line, je.text, out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	free(out);
	return v;
}

static const char *
jstr(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_string_value(v) != NULL ? json_string_value(v) : "(none)";
}

/* show-keys prints the keys that were added, text and JSON, for AEAD
 * (key and salt) and for enc + auth-trunc; without it, no key shows. */
static void
test_show_keys(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	struct cmd_ctx c;
	char *out;
	json_t *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	out = must(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 show-keys",
		   false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "aead rfc4106(gcm(aes)) " GCM_KEY " 128\n"));
	free(out);
	out = must(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002 show-keys",
		   false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "enc cbc(aes) " CBC_KEY "\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "auth-trunc hmac(sha256) " SHA_KEY " 128\n"));
	free(out);
	v = must_json(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "enc"), GCM_KEY);
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(v, "keys"), "auth"));
	json_decref(v);
	v = must_json(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "enc"), CBC_KEY);
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "auth"), SHA_KEY);
	json_decref(v);

	/* An update's keys are what show-keys shows from then on. */
	free(must(&c, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
		  "aead 'rfc4106(gcm(aes))' 0xffeeddccbbaa99887766554433221100deadbeef 128",
		  false));
	v = must_json(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "enc"),
			       "0xffeeddccbbaa99887766554433221100deadbeef");
	json_decref(v);

	/* What an update cannot change is refused, not dropped; the same
	 * words as the add's pass. */
	{
		static const char *const differ[] = {
			"mode transport", "reqid 9", "replay-window 128", "flag esn",
			"encap espinudp 4500 4500 0.0.0.0", "sel src 10.0.0.0/8 dst 10.1.0.0/16",
			"dir in", "replay-oseq 5",
		};
		struct cfg_error err;
		char line[400];
		unsigned int i;

		for (i = 0; i < RTE_DIM(differ); i++) {
			snprintf(line, sizeof(line), "state update src 172.16.1.5 dst 172.16.2.5 "
				 "proto esp spi 0x1001 %s aead 'rfc4106(gcm(aes))' " GCM_KEY " 128",
				 differ[i]);
			CU_ASSERT_PTR_NULL(run(&c, line, false, &err));
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "changes only keys and limits"));
		}
		CU_ASSERT_PTR_NULL(run(&c, "state update src 172.16.1.9 dst 172.16.2.5 proto esp "
				       "spi 0x1001 limit time-hard 60", false, &err));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "this src is not"));
		free(must(&c, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
			  "mode tunnel reqid 1 dir out replay-window 64 "
			  "aead 'rfc4106(gcm(aes))' 0xffeeddccbbaa99887766554433221100deadbeef 128",
			  false));
	}

	/* The algorithm may change with the keys: the control record keeps
	 * HMAC keys out of line, and only while the SA has one. */
	free(must(&c, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
		  "enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(sha256)' " SHA_KEY " 128",
		  false));
	out = must(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 show-keys",
		   false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "enc cbc(aes) " CBC_KEY "\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "auth-trunc hmac(sha256) " SHA_KEY " 128\n"));
	free(out);
	free(must(&c, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
		  "aead 'rfc4106(gcm(aes))' " GCM256_KEY " 96", false));
	v = must_json(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "enc"), GCM256_KEY);
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(v, "keys"), "auth"));
	CU_ASSERT_STRING_EQUAL(jstr(v, "algo", NULL), "rfc4106(gcm(aes))");
	json_decref(v);
	/* Limits, then a migrate: the keys stay. */
	free(must(&c, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002 "
		  "limit time-hard 3600", false));
	free(must(&c, "state migrate src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002 "
		  "new-src 172.16.1.6", false));
	out = must(&c, "state get src 172.16.1.6 dst 172.16.2.5 proto esp spi 0x1002 show-keys",
		   false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "enc cbc(aes) " CBC_KEY "\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "auth-trunc hmac(sha256) " SHA_KEY " 128\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "limit time-hard 3600\n"));
	free(out);
	v = must_json(&c, "state get src 172.16.1.6 dst 172.16.2.5 proto esp spi 0x1002 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "algo", NULL), "cbc(aes)+hmac(sha256)");
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "auth"), SHA_KEY);
	json_decref(v);
	free(must(&c, "state migrate src 172.16.1.6 dst 172.16.2.5 proto esp spi 0x1002 "
		  "new-src 172.16.1.5", false));

	/* Without show-keys, and in every list, no key. */
	out = must(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1002", false);
	CU_ASSERT_PTR_NULL(strstr(out, "00112233"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "(key hidden)"));
	free(out);
	out = must(&c, "state list", false);
	CU_ASSERT_PTR_NULL(strstr(out, "00112233"));
	CU_ASSERT_PTR_NULL(strstr(out, "deadbeef"));
	free(out);
	out = must(&c, "state list", true);
	CU_ASSERT_PTR_NULL(strstr(out, "00112233"));
	CU_ASSERT_PTR_NULL(strstr(out, "\"keys\""));
	free(out);
	testgw_free(g);
}

/* Routes as `ip route` takes them: `default`, list, del; a via off the port's
 * networks refused (it could never be resolved); the neighbour lists
 * MACs in lower case, as `ip neigh` does; a template's spi is listed. */
static void
test_routes_neighs(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_NULL);
	struct cmd_ctx c;
	struct cfg_error err;
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	CU_ASSERT_PTR_NULL(run(&c, "route add 10.6.0.0/16 port 1 via 10.99.99.99", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "via 10.99.99.99 is not on a network of port 1 (its addr prefixes)");
	free(must(&c, "route add 10.6.0.0/16 port 1 via 172.16.1.254", false));
	free(must(&c, "route add default port 1 via 172.16.1.1", false));
	CU_ASSERT_PTR_NULL(run(&c, "route add 0.0.0.0/0 port 1", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg, "route 0.0.0.0/0 exists");
	/* route list: the given routes, then the connected ones none of
	 * them replaces; route del takes a given one away. */
	free(must(&c, "route add 192.168.1.0/24 port 0 via 192.168.1.254", false));
	out = must(&c, "route list", false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "10.6.0.0/16 port 1 via 172.16.1.254\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "0.0.0.0/0 port 1 via 172.16.1.1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "172.16.1.0/24 port 1 connected\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "192.168.1.0/24 port 0 connected"));
	free(out);
	{
		json_t *v = must_json(&c, "route list"), *r0 = json_array_get(v, 0);

		CU_ASSERT_EQUAL(json_array_size(v), 4);
		CU_ASSERT_STRING_EQUAL(jstr(r0, "dst", NULL), "10.6.0.0/16");
		CU_ASSERT_STRING_EQUAL(jstr(r0, "via", NULL), "172.16.1.254");
		CU_ASSERT_TRUE(json_is_false(json_object_get(r0, "connected")));
		CU_ASSERT_TRUE(json_is_true(json_object_get(json_array_get(v, 3), "connected")));
		json_decref(v);
	}
	free(must(&c, "route del 10.6.0.0/16", false));
	free(must(&c, "route del default", false));
	free(must(&c, "route del 192.168.1.0/24", false));
	CU_ASSERT_PTR_NULL(run(&c, "route del 10.6.0.0/16", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg, "no route 10.6.0.0/16");
	out = must(&c, "route list", false);
	CU_ASSERT_STRING_EQUAL(out, "192.168.1.0/24 port 0 connected\n"
			       "172.16.1.0/24 port 1 connected\n");
	free(out);
	free(must(&c, "neigh add 172.16.1.1 lladdr 02:00:00:AA:BB:CC port 1", false));
	out = must(&c, "neigh list", false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "172.16.1.1 port 1 lladdr 02:00:00:aa:bb:cc"));
	free(out);
	/* A template's spi is listed, as it was given. */
	free(must(&c, "policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 172.16.1.5 "
		  "dst 172.16.2.5 proto esp spi 0x4242 reqid 3", false));
	out = must(&c, "policy list", false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "proto esp spi 0x00004242 reqid 3"));
	free(out);
	testgw_free(g);
}

/* DESIGN.md's JSON shapes: state get with `current` (sub-second
 * add_time), state list, stats, allocspi; allocspi then update. */
static void
test_shapes(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	struct cmd_ctx c;
	struct timespec ts;
	double add, now;
	json_t *v, *cur;
	char line[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	v = must_json(&c, "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001");
	CU_ASSERT_STRING_EQUAL(jstr(v, "spi", NULL), "0x00001001");
	CU_ASSERT_STRING_EQUAL(jstr(v, "dir", NULL), "out");
	CU_ASSERT_STRING_EQUAL(jstr(v, "algo", NULL), "rfc4106(gcm(aes))");
	CU_ASSERT(json_is_null(json_object_get(v, "encap")));
	CU_ASSERT_STRING_EQUAL(jstr(v, "sel", "src"), "0.0.0.0/0");
	CU_ASSERT_PTR_NULL(json_object_get(v, "keys"));
	cur = json_object_get(v, "current");
	CU_ASSERT(json_is_real(json_object_get(cur, "add_time")));
	add = json_real_value(json_object_get(cur, "add_time"));
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	CU_ASSERT(add <= now && add > now - 60);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(cur, "use_time")), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(v, "stats"),
							   "packets")), 0);
	json_decref(v);

	v = must_json(&c, "state list");
	CU_ASSERT(json_is_array(v) && json_array_size(v) == 2);
	json_decref(v);
	v = must_json(&c, "stats");
	CU_ASSERT(json_is_object(json_object_get(v, "global")));
	CU_ASSERT(json_is_integer(json_object_get(json_object_get(v, "global"),
						  "XfrmInNoStates")));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(v, "ports")), 2);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(v, "sas")), 2);
	CU_ASSERT_STRING_EQUAL(jstr(json_array_get(json_object_get(v, "sas"), 0), "spi", NULL),
			       "0x00001001");
	json_decref(v);

	/* allocspi then update: the reserved SPI is live. An outbound SA
	 * the peer gave the same SPI in between (another dst) leaves the
	 * reservation alone. */
	v = must_json(&c, "state allocspi src 172.16.2.5 dst 172.16.1.5 proto esp reqid 5");
	snprintf(line, sizeof(line), "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
		 "spi %s reqid 5 aead 'rfc4106(gcm(aes))' " GCM_KEY " 128",
		 jstr(v, "spi", NULL));
	free(must(&c, line, false));
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi %s reqid 5 aead 'rfc4106(gcm(aes))' " GCM_KEY " 128",
		 jstr(v, "spi", NULL));
	free(must(&c, line, false));
	snprintf(line, sizeof(line), "state get src 172.16.2.5 dst 172.16.1.5 proto esp spi %s",
		 jstr(v, "spi", NULL));
	json_decref(v);
	v = must_json(&c, line);
	CU_ASSERT_STRING_EQUAL(jstr(v, "dir", NULL), "in");
	json_decref(v);
	v = must_json(&c, "state count");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "count")), 4);
	json_decref(v);
	testgw_free(g);
}

/* Read what the server wrote to @p fd until @p want lines came. */
static int
read_lines(int fd, struct cmd_ctx *c, char *buf, size_t size, unsigned int want)
{
	size_t len = 0;
	unsigned int tries, lines = 0;

	for (tries = 0; tries < 2000 && lines < want; tries++) {
		ssize_t n;

		sock_poll(c->sock, cmd_request, c);
		n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (n > 0) {
			unsigned int i;

			for (i = 0; i < (unsigned int)n; i++)
				lines += buf[len + i] == '\n';
			len += (size_t)n;
		} else {
			usleep(1000);
		}
	}
	buf[len] = '\0';
	return (int)lines;
}

/* A test gateway with a control socket in a fresh directory (@p kind:
 * its crypto engine); its path is f->path. */
struct sock_fix {
	struct testgw *g;
	struct cmd_ctx c;
	char dir[sizeof("/tmp/espd_cmd_XXXXXX")];
	char path[64];
};

static void
sock_fix_open(struct sock_fix *f, enum crypto_engine_kind kind)
{
	int rc;

	f->g = testgw_new(conf, kind);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->g);
	strcpy(f->dir, "/tmp/espd_cmd_XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s", f->dir);
	f->c = (struct cmd_ctx){ .pub = &f->g->pub };
	f->c.sock = sock_open(f->path, &f->g->pub.ctl_cnt.c[CNT_MonitorEventsDropped], &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->c.sock);
}

/* A client connected to @p f's socket. */
static int
sock_fix_connect(const struct sock_fix *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	return fd;
}

static void
sock_fix_close(struct sock_fix *f)
{
	sock_close(f->c.sock);
	rmdir(f->dir);
	testgw_free(f->g);
}

/* A batch's answers wait for its one rebuild of the tables; when that
 * fails, each becomes an error (not "ok": "ok" means in the tables),
 * and the answers a client got before the batch stay as they were. */
static void
test_batch_failed(void)
{
	struct sock_fix f;
	char buf[4096];
	static const char req[] =
		"batch-text policy list\n"
		"batch-text policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 5\n"
		"batch-text policy add src 10.0.0.0/8 dst 10.2.0.0/16 dir out index 6\n"
		"batch-text state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3001 "
		"aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
		"batch-text policy del index 77\n"
		"batch-bogus\n";
	struct cmd_ctx c;
	unsigned int i;
	int fd;

	sock_fix_open(&f, CRYPTO_ENGINE_NULL);
	c = f.c;
	fd = sock_fix_connect(&f);
	CU_ASSERT_EQUAL(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	for (i = 0; i < 50 && !c.deferred; i++) {
		sock_poll(c.sock, cmd_request, &c);
		usleep(1000);
	}
	CU_ASSERT_FATAL(c.deferred);
	/* As cmd_flush() does when the rebuild fails. */
	c.deferred = false;
	sock_release_failed(c.sock, "tables not rebuilt: test");
	CU_ASSERT_EQUAL(read_lines(fd, &c, buf, sizeof(buf), 6), 6);
	/* The list came before the batch's change, the SA needs no tables,
	 * the del failed on its own, and the last line was no request:
	 * those answers stand. */
	CU_ASSERT_STRING_EQUAL(buf, "ok 0\n"
			       "error: tables not rebuilt: test\n"
			       "error: tables not rebuilt: test\n"
			       "ok 0\n"
			       "error: no such policy\n"
			       "error: requests start with 'text' or 'json'\n");
	close(fd);
	sock_fix_close(&f);
}

/* Answers ("ok LEN" lines) in the @p len bytes at @p p. */
static unsigned int
count_ok(const char *p, size_t len)
{
	unsigned int k = 0;
	size_t i;

	for (i = 0; i + 3 <= len; i++)
		k += (i == 0 || p[i - 1] == '\n') && memcmp(p + i, "ok ", 3) == 0;
	return k;
}

/* One connection to @p f's socket: @p req sent (@p len bytes), the
 * write side shut if @p shut, and the first line of the answer into
 * @p buf. */
static void
ask_raw(struct sock_fix *f, const char *req, size_t len, bool shut, char *buf, size_t size)
{
	int fd = sock_fix_connect(f);
	char *nl;

	CU_ASSERT_EQUAL(write(fd, req, len), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	buf[0] = '\0';
	read_lines(fd, &f->c, buf, size, 1);
	nl = strchr(buf, '\n');
	if (nl != NULL)
		nl[1] = '\0';
	close(fd);
}

/* Requests that are not plain lines: one with a NUL byte is refused (the
 * words after it would be lost, the rest done); a last one without its
 * newline before EOF is not done (it may be cut short), and one too long
 * before EOF is answered. */
static void
test_sock_edges(void)
{
	static const char nul[] = "text state count\0 limit time-hard 10\n";
	struct sock_fix f;
	char buf[256], *big;

	sock_fix_open(&f, CRYPTO_ENGINE_NULL);
	ask_raw(&f, nul, sizeof(nul) - 1, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "error: a NUL byte in the request\n");
	ask_raw(&f, "text state count", 16, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, ""); /* maybe cut short: not done */
	big = malloc(SOCK_REQUEST_MAX + 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'x', SOCK_REQUEST_MAX + 100);
	memcpy(big, "text ", 5);
	ask_raw(&f, big, SOCK_REQUEST_MAX + 100, true, buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "error: request too long"));
	free(big);
	{
		/* In a batch, a line within the limit is taken whatever
		 * the reads cut: 4000 bytes, then 65000 (the 4 KiB read
		 * that holds its end holds more, so the bytes buffered pass
		 * the limit though no line does), then 3000: three answers. */
		static const char cmd[] = "batch-text state count";
		size_t l0 = 4000, l1 = 65000, len = l0 + l1 + 3000;
		char *req = malloc(len), *ans = malloc(4096);
		int fd = sock_fix_connect(&f);

		CU_ASSERT_FATAL(req != NULL && ans != NULL);
		memset(req, ' ', len);
		memcpy(req, cmd, sizeof(cmd) - 1);
		req[l0 - 1] = '\n';
		memcpy(req + l0, cmd, sizeof(cmd) - 1);
		req[l0 + l1 - 1] = '\n';
		memcpy(req + l0 + l1, cmd, sizeof(cmd) - 1);
		req[len - 1] = '\n';
		CU_ASSERT_EQUAL(send(fd, req, len, MSG_DONTWAIT), (ssize_t)len);
		read_lines(fd, &f.c, ans, 4096, 6);
		CU_ASSERT_EQUAL(count_ok(ans, strlen(ans)), 3);
		CU_ASSERT_PTR_NULL(strstr(ans, "error"));
		close(fd);
		free(req);
		free(ans);
	}
	sock_fix_close(&f);
}

/* A batch client streaming requests gets a share of a poll, not the
 * whole of it (lcore 0 has events, ARP and timers to see to): 3000
 * requests (69 KB) take more than one sock_poll(), and all are answered
 * in the polls after. */
static void
test_batch_share(void)
{
	static const char line[] = "batch-text state count\n";
	const size_t n = 3000, size = 1u << 20, len = n * (sizeof(line) - 1);
	char *req = malloc(len), *buf = malloc(size);
	size_t got = 0;
	unsigned int i, first;
	struct sock_fix f;
	struct cmd_ctx c;
	ssize_t k;
	int fd;

	CU_ASSERT_FATAL(req != NULL && buf != NULL);
	sock_fix_open(&f, CRYPTO_ENGINE_NULL);
	c = f.c;
	fd = sock_fix_connect(&f);
	for (i = 0; i < n; i++)
		memcpy(req + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	CU_ASSERT_EQUAL_FATAL(send(fd, req, len, MSG_DONTWAIT), (ssize_t)len);
	sock_poll(c.sock, cmd_request, &c); /* accepts */
	sock_poll(c.sock, cmd_request, &c); /* reads a share */
	k = recv(fd, buf, size, MSG_DONTWAIT);
	got = k > 0 ? (size_t)k : 0;
	first = count_ok(buf, got);
	CU_ASSERT(first > 0 && first < n);
	for (i = 0; i < 1000 && count_ok(buf, got) < n; i++) {
		sock_poll(c.sock, cmd_request, &c);
		k = recv(fd, buf + got, size - got, MSG_DONTWAIT);
		if (k > 0)
			got += (size_t)k;
	}
	CU_ASSERT_EQUAL(count_ok(buf, got), n);
	free(req);
	free(buf);
	close(fd);
	sock_fix_close(&f);
}

/* `monitor state policy` hears of every change, each event with an id
 * one above the last, or above the ids of events lost in between. */
static void
test_monitor_changes(void)
{
	static const char req[] = "json monitor state policy\n";
	char buf[8192], *line, *save = NULL;
	struct sock_fix f;
	struct cmd_ctx c;
	json_int_t id = 0;
	int fd, n = 0;

	sock_fix_open(&f, CRYPTO_ENGINE_MB);
	c = f.c;
	fd = sock_fix_connect(&f);
	CU_ASSERT_EQUAL(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	CU_ASSERT_EQUAL(read_lines(fd, &c, buf, sizeof(buf), 1), 1);
	CU_ASSERT_STRING_EQUAL(buf, "ok\n");

	free(must(&c, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x2001 "
		  "aead 'rfc4106(gcm(aes))' " GCM_KEY " 128", false));
	free(must(&c, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x2001", false));
	free(must(&c, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 9", false));
	/* Two events lost before the socket (the loop skips what events_next()
	 * says was lost): their ids are spent, a gap before the next. */
	sock_skip(c.sock, 2);
	free(must(&c, "policy del index 9", false));
	free(must(&c, "state migrate src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
		  "new-dst 172.16.3.5", false));
	free(must(&c, "policy update src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 9", false));
	free(must(&c, "state flush", false));
	CU_ASSERT_EQUAL(read_lines(fd, &c, buf, sizeof(buf), 7), 7);
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		static const char *const want[][2] = {
			{ "state", "add" }, { "state", "del" }, { "policy", "add" },
			{ "policy", "del" }, { "state", "migrate" }, { "policy", "update" },
			{ "state", "flush" },
		};
		json_t *v = json_loads(line, 0, NULL);

		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		if (n < 7) {
			CU_ASSERT_STRING_EQUAL(jstr(v, "event", NULL), want[n][0]);
			CU_ASSERT_STRING_EQUAL(jstr(v, "action", NULL), want[n][1]);
		}
		if (n > 0)
			CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "id")),
					id + (n == 3 ? 3 : 1));
		id = json_integer_value(json_object_get(v, "id"));
		if (n == 1)
			CU_ASSERT_STRING_EQUAL(jstr(v, "spi", NULL), "0x00002001");
		if (n == 2 || n == 5)
			CU_ASSERT_STRING_EQUAL(jstr(v, "sel", "dst"), "10.1.0.0/16");
		if (n == 4) /* by its new name */
			CU_ASSERT_STRING_EQUAL(jstr(v, "dst", NULL), "172.16.3.5");
		json_decref(v);
		n++;
	}
	CU_ASSERT_EQUAL(n, 7);
	close(fd);
	sock_fix_close(&f);
}

static json_int_t
jint(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_integer_value(v);
}

#define OUT_ID "src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001"
#define IN_ID "src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x2001"

static bool
natt_port(const struct testgw *g, uint16_t port)
{
	return (g->pub.shared.natt_ports[port >> 6] >> (port & 63)) & 1;
}

/* `current` never goes back, `stats` does on reset (DESIGN.md
 * "Machine-readable formats"); both survive a rekey and a migrate. */
static void
test_current_kept(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	struct cmd_ctx c;
	struct gw_sa *gw;
	json_t *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	gw = g->model.sas[0]->dp;
	CU_ASSERT_EQUAL_FATAL(g->model.sas[0]->cfg.spi, 0x1001);
	gw->esp.stats.packets = 7; /* as a worker would have counted them */
	gw->esp.stats.bytes = 700;
	free(must(&c, "stats reset", false));
	v = must_json(&c, "state get " OUT_ID);
	CU_ASSERT_EQUAL(jint(v, "stats", "packets"), 0);
	CU_ASSERT_EQUAL(jint(v, "stats", "bytes"), 0);
	CU_ASSERT_EQUAL(jint(v, "current", "packets"), 7);
	CU_ASSERT_EQUAL(jint(v, "current", "bytes"), 700);
	json_decref(v);
	((struct gw_sa *)g->model.sas[0]->dp)->esp.stats.packets = 9;
	free(must(&c, "state update " OUT_ID " aead 'rfc4106(gcm(aes))' "
		  "0xffeeddccbbaa99887766554433221100deadbeef 128", false));
	free(must(&c, "state migrate " OUT_ID " new-src 172.16.1.6", false));
	free(must(&c, "stats reset", false));
	v = must_json(&c, "state list");
	CU_ASSERT_EQUAL(jint(json_array_get(v, 0), "current", "packets"), 9);
	CU_ASSERT_EQUAL(jint(json_array_get(v, 0), "stats", "packets"), 0);
	json_decref(v);
	testgw_free(g);
}

/* state migrate on a running gateway: a new record with the same keys
 * and IV mask, the counters, sequence numbers and replay window carried
 * over, in the SAD or flow table in place of the old; the local NAT-T
 * port follows the encap; text and JSON show the new addresses. */
static void
test_migrate(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	struct model_sa *out, *in;
	struct gw_flow_key fk;
	struct flow_key k = { 0 };
	struct cfg_error err;
	uint8_t mask[16];
	struct cmd_ctx c;
	void *data = NULL;
	uint32_t spi = 0x2001;
	char *txt;
	json_t *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	free(must(&c, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 3 "
		  "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel", false));
	free(must(&c, "state add " IN_ID " reqid 1 replay-seq 100 aead 'rfc4106(gcm(aes))' "
		  GCM_KEY " 128 encap espinudp 4500 4500 0.0.0.0", false));
	out = g->model.sas[0];
	in = g->model.sas[2];
	CU_ASSERT_EQUAL_FATAL(in->cfg.spi, 0x2001);
	((struct gw_sa *)out->dp)->esp.seq = 50;
	((struct gw_sa *)out->dp)->esp.stats.packets = 5;
	memcpy(mask, ((struct gw_sa *)out->dp)->esp.iv_mask, sizeof(mask));
	CU_ASSERT(natt_port(g, 4500));

	/* refused: nothing changes */
	CU_ASSERT_PTR_NULL(run(&c, "state migrate src 172.16.1.5 dst 172.16.2.5 proto esp "
			       "spi 0x1999 new-dst 172.16.3.5", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg, "no SA with that src, dst and spi 0x00001999");
	CU_ASSERT_PTR_NULL(run(&c, "state migrate " OUT_ID " new-dst 2001:db8::1", false, &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "differ in address family"));
	/* A migrate that changes nothing makes no new record: no
	 * sequence numbers skipped. */
	{
		void *rec = out->dp;

		free(must(&c, "state migrate " OUT_ID " new-dst 172.16.2.5", false));
		CU_ASSERT_PTR_EQUAL(out->dp, rec);
		CU_ASSERT_EQUAL(((struct gw_sa *)out->dp)->esp.seq, 50);
	}

	free(must(&c, "state migrate " OUT_ID " new-src 172.16.1.6 new-dst 172.16.3.5 "
		  "encap espinudp 4500 4500 0.0.0.0", false));
	CU_ASSERT_PTR_NULL(run(&c, "state get " OUT_ID, false, &err));
	v = must_json(&c, "state get src 172.16.1.6 dst 172.16.3.5 proto esp spi 0x1001 show-keys");
	CU_ASSERT_STRING_EQUAL(jstr(v, "src", NULL), "172.16.1.6");
	CU_ASSERT_STRING_EQUAL(jstr(v, "dst", NULL), "172.16.3.5");
	CU_ASSERT_STRING_EQUAL(jstr(v, "encap", "type"), "espinudp");
	CU_ASSERT_EQUAL(jint(v, "encap", "sport"), 4500);
	CU_ASSERT_STRING_EQUAL(jstr(v, "keys", "enc"), GCM_KEY);
	CU_ASSERT_EQUAL(jint(v, "stats", "packets"), 5);
	CU_ASSERT(jint(v, "stats", "seq") > 50); /* skipped ahead, never back */
	json_decref(v);
	txt = must(&c, "state get src 172.16.1.6 dst 172.16.3.5 proto esp spi 0x1001", false);
	CU_ASSERT_PTR_NOT_NULL(strstr(txt, "src 172.16.1.6 dst 172.16.3.5\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(txt, "encap type espinudp sport 4500 dport 4500"));
	free(txt);
	/* the record the flow table hands out is the new one, same IV mask */
	CU_ASSERT_EQUAL(memcmp(((struct gw_sa *)out->dp)->esp.iv_mask, mask, sizeof(mask)), 0);
	CU_ASSERT_EQUAL(((struct gw_sa *)out->dp)->dst.v4, htonl(0xac100305));
	gw_flow_key_make(&fk, 3, 0, &k);
	CU_ASSERT(flowtab_lookup(g->pub.shared.flows, &fk, &data) == 0);
	CU_ASSERT_PTR_EQUAL(data, out->dp);
	/* the template follows; the flow is never without its SA */
	free(must(&c, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir out "
		  "tmpl src 172.16.1.6 dst 172.16.3.5 proto esp reqid 1 mode tunnel", false));
	CU_ASSERT(flowtab_lookup(g->pub.shared.flows, &fk, &data) == 0);
	CU_ASSERT_PTR_EQUAL(data, out->dp);
	v = must_json(&c, "policy list");
	CU_ASSERT_EQUAL(json_array_size(v), 1);
	CU_ASSERT_EQUAL(jint(json_array_get(v, 0), "index", NULL), 3);
	json_decref(v);

	/* inbound, NAT rebinding: the SAD has the new record with the
	 * replay window; the local port moves */
	free(must(&c, "state migrate " IN_ID " new-src 198.51.100.7 "
		  "encap espinudp 4501 4600 0.0.0.0", false));
	CU_ASSERT(rte_hash_lookup_data(g->pub.shared.sad_in, &spi, &data) >= 0);
	CU_ASSERT_PTR_EQUAL(data, in->dp);
	CU_ASSERT_EQUAL(((struct gw_sa *)in->dp)->esp.udp_sport_be, htons(4501));
	CU_ASSERT_EQUAL(pub_sa_seq(in), 100);
	CU_ASSERT(natt_port(g, 4600));
	CU_ASSERT(!natt_port(g, 4500));
	free(must(&c, "state migrate src 198.51.100.7 dst 172.16.1.5 proto esp spi 0x2001 "
		  "encap none", false));
	CU_ASSERT(!natt_port(g, 4600));
	v = must_json(&c, "state get src 198.51.100.7 dst 172.16.1.5 proto esp spi 0x2001");
	CU_ASSERT(json_is_null(json_object_get(v, "encap")));
	json_decref(v);
	testgw_free(g);
}

/* Add and delete @p n outbound SAs with a PFP flow each, and with
 * @p in_too an inbound SA each as well. */
static void
churn(struct cmd_ctx *c, unsigned int n, bool in_too)
{
	char line[320];
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
			 "spi %u reqid 7 aead 'rfc4106(gcm(aes))' " GCM_KEY " 128 "
			 "sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport %u dport 5001",
			 0x10000 + i, 1024 + i);
		free(must(c, line, false));
		snprintf(line, sizeof(line), "state add src 172.16.2.5 dst 172.16.1.5 proto esp "
			 "spi %u aead 'rfc4106(gcm(aes))' " GCM_KEY " 128", 0x20000 + i);
		if (in_too)
			free(must(c, line, false));
		snprintf(line, sizeof(line), "state del src 172.16.1.5 dst 172.16.2.5 proto esp "
			 "spi %u", 0x10000 + i);
		free(must(c, line, false));
		snprintf(line, sizeof(line), "state del src 172.16.2.5 dst 172.16.1.5 proto esp "
			 "spi %u", 0x20000 + i);
		if (in_too)
			free(must(c, line, false));
		CU_ASSERT(c->pub->n_recs <= c->pub->max_recs);
	}
}

/* The data plane's SA records come from per-size slabs, and deleted
 * keys' slots in the SAD and the flow table wait for a grace period as
 * the records do. Churn past what either holds never fails: when the
 * flow table (1 680 slots here) or the records allowed run out with
 * some waiting, a grace period is waited out and they come back. */
static void
test_churn(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	struct cfg_error err;
	struct cmd_ctx c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	free(must(&c, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 3 "
		  "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel "
		  "pfp src,dst,proto,sport,dport", false));
	CU_ASSERT_EQUAL(g->pub.n_recs, 2);
	/* The flow table's slots run out first (1 700 > 1 680; 2 112
	 * records)... */
	churn(&c, 1700, false);
	CU_ASSERT(g->pub.n_dead < 1700);
	/* ... then the records allowed, long before the SAD's slots. */
	g->pub.max_recs = g->pub.n_recs + 50;
	churn(&c, 300, true);
	CU_ASSERT_EQUAL(g->model.n_sas, 2);
	pub_reclaim(&g->pub);
	CU_ASSERT_EQUAL(g->pub.n_dead, 0);
	CU_ASSERT_EQUAL(g->pub.n_recs, 2);
	CU_ASSERT_EQUAL(flowtab_count(g->pub.shared.flows), 0);
	CU_ASSERT_EQUAL(rte_hash_count(g->pub.shared.sad_in), 0);

	/* Every record allowed out, none waiting: refused, nothing made. */
	g->pub.max_recs = g->pub.n_recs;
	CU_ASSERT_PTR_NULL(run(&c, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3001 "
			       "aead 'rfc4106(gcm(aes))' " GCM_KEY " 128", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg, "cannot make the SA: Cannot allocate memory");
	CU_ASSERT_EQUAL(g->model.n_sas, 2);
	/* A rekey needs a second record for a moment: refused likewise,
	 * and the SA keeps its keys and its record. */
	CU_ASSERT_PTR_NULL(run(&c, "state update " OUT_ID " aead 'rfc4106(gcm(aes))' "
			       GCM256_KEY " 128", false, &err));
	CU_ASSERT_STRING_EQUAL(err.msg, "cannot make the SA: Cannot allocate memory");
	g->pub.max_recs = g->pub.n_recs + 1;
	free(must(&c, "state update " OUT_ID " aead 'rfc4106(gcm(aes))' " GCM256_KEY " 128",
		  false));
	/* The old record waits for its grace period: the next rekey waits
	 * it out. */
	CU_ASSERT_EQUAL(g->pub.n_dead, 1);
	free(must(&c, "state update " OUT_ID " aead 'rfc4106(gcm(aes))' " GCM_KEY " 128",
		  false));
	CU_ASSERT_EQUAL(g->pub.n_recs, 3);
	testgw_free(g);
}

/* Every protocol the parser takes by name prints as that name, text and
 * JSON (DESIGN.md "Machine-readable formats": names where one exists);
 * one without a name, as its number. */
static void
test_proto_names(void)
{
	static const char *const names[] = {
		"icmp", "tcp", "udp", "dccp", "gre", "esp", "ah", "ipv6-icmp", "sctp", "udplite",
	};
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_MB);
	char line[160], want[32], *out;
	struct cmd_ctx c;
	json_t *v;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto %s "
			 "dir out index 9", names[i]);
		free(must(&c, line, false));
		v = must_json(&c, "policy list");
		CU_ASSERT_STRING_EQUAL(jstr(json_array_get(v, 0), "sel", "proto"), names[i]);
		json_decref(v);
		out = must(&c, "policy list", false);
		snprintf(want, sizeof(want), " proto %s", names[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		if (strstr(out, want) == NULL)
			fprintf(stderr, "\n  no '%s' in: %s", want, out);
		free(out);
		free(must(&c, "policy del index 9", false));
	}
	free(must(&c, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto 200 dir out index 9",
		  false));
	v = must_json(&c, "policy list");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(json_array_get(v, 0),
									     "sel"), "proto")), 200);
	json_decref(v);
	out = must(&c, "policy list", false);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " proto 200"));
	free(out);
	testgw_free(g);
}

/* Routes longer than /24, each in a /24 of its own, past the 256 groups
 * the IPv4 LPM's second level used to have (and /64s past IPv6's 1024):
 * each is added and found, none leaves the model ahead of the tables. */
static void
test_many_deep_routes(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_NULL);
	const struct gw_nexthop *nh;
	struct cmd_ctx c;
	char line[128];
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint32_t i, dst;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	c = (struct cmd_ctx){ .pub = &g->pub };
	for (i = 0; i < 300; i++) {
		snprintf(line, sizeof(line), "route add 10.%u.%u.0/25 port 1 via 172.16.1.254",
			 i / 256, i % 256);
		free(must(&c, line, false));
	}
	for (i = 0; i < 1100; i++) {
		snprintf(line, sizeof(line), "route add 2001:db8:%x:%x::/64 port 1", i / 256,
			 i % 256);
		free(must(&c, line, false));
	}
	CU_ASSERT_EQUAL(g->model.n_routes, 1400);
	dst = htonl(0x0a012b05); /* 10.1.43.5: the 300th */
	nh = gw_route_lookup(g->pub.shared.tables, 4, &dst);
	CU_ASSERT(nh != NULL && nh->port == 1 && nh->has_gw);
	v6[5] = 4;
	v6[7] = 0x4b; /* 2001:db8:4:4b::/64: the 1100th */
	nh = gw_route_lookup(g->pub.shared.tables, 6, v6);
	CU_ASSERT(nh != NULL && nh->port == 1 && !nh->has_gw);
	testgw_free(g);
}

/* Protect policies, each a key in the flow table (sized from --max-sas,
 * 1024 here), until it is full: the one that finds no room is refused
 * whole, with nothing of it left (added again, the same answer, not
 * "exists"). An update that needs a new key then is refused too, and
 * the policy keeps its old key, still leading to its SA. */
static void
test_flow_table_full(void)
{
	struct testgw *g = testgw_new(conf, CRYPTO_ENGINE_NULL);
	struct cfg_error err;
	struct gw_flow_key fk;
	struct flow_key k = { 0 };
	char line[256];
	uint32_t i, n_pols = 0, count = 0;
	void *data = NULL, *kept = NULL;
	int rc = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	/* A key an SA keeps outside its policy's template: SA 0x1005 serves
	 * policy 9000, then moves (state migrate) where the template does
	 * not follow yet. */
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "policy add src 192.168.50.0/24 dst 192.168.51.0/24 "
					   "dir out index 9000 tmpl src 172.16.1.5 dst 172.16.9.9 "
					   "proto esp reqid 5 mode tunnel", &err), 0);
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "state add src 172.16.1.5 dst 172.16.9.9 proto esp "
					   "spi 0x1005 reqid 5 aead 'rfc4106(gcm(aes))' " GCM_KEY
					   " 128 sel src 192.168.50.5/32 dst 192.168.51.0/24", &err), 0);
	CU_ASSERT_EQUAL_FATAL(testgw_apply(g, "state migrate src 172.16.1.5 dst 172.16.9.9 proto esp "
					   "spi 0x1005 new-dst 172.16.9.10", &err), 0);
	gw_flow_key_make(&fk, 9000, 0, &k);
	CU_ASSERT_EQUAL_FATAL(flowtab_lookup(g->pub.shared.flows, &fk, &kept), 0);
	for (i = 0; i < 4000 && rc == 0; i++) {
		snprintf(line, sizeof(line),
			 "policy add src 10.%u.%u.0/24 dst 192.168.2.0/24 dir out index %u "
			 "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel",
			 i / 256, i % 256, 100 + i);
		n_pols = g->model.n_pols;
		count = flowtab_count(g->pub.shared.flows);
		rc = testgw_apply(g, line, &err);
	}
	CU_ASSERT_EQUAL_FATAL(rc, -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no room"));
	CU_ASSERT_EQUAL(g->model.n_pols, n_pols);
	CU_ASSERT_EQUAL(flowtab_count(g->pub.shared.flows), count);
	CU_ASSERT_PTR_NULL(model_policy(&g->model, 100 + i - 1));
	CU_ASSERT_EQUAL(testgw_apply(g, line, &err), -ENOSPC);
	CU_ASSERT(count > 1000);
	/* Others may still find room near their homes: on to every slot. */
	for (; i < 4000; i++) {
		snprintf(line, sizeof(line),
			 "policy add src 10.%u.%u.0/24 dst 192.168.2.0/24 dir out index %u "
			 "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 mode tunnel",
			 i / 256, i % 256, 100 + i);
		(void)testgw_apply(g, line, &err);
	}
	count = flowtab_count(g->pub.shared.flows);
	CU_ASSERT_EQUAL(g->model.n_pols, count);

	/* Policy 100 to an SA of its own, keyed by PFP src: a new key, no
	 * room for it. (The SA, reqid 3, serves no policy yet: no key.) */
	CU_ASSERT_EQUAL(testgw_apply(g, "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
				     "spi 0x1003 reqid 3 aead 'rfc4106(gcm(aes))' " GCM_KEY " 128 "
				     "sel src 10.0.0.5/32 dst 192.168.2.0/24", &err), 0);
	CU_ASSERT_EQUAL(flowtab_count(g->pub.shared.flows), count);
	CU_ASSERT_EQUAL(testgw_apply(g, "policy update src 10.0.0.0/24 dst 192.168.2.0/24 dir out "
				     "index 100 tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 3 "
				     "mode tunnel pfp src", &err), -ENOSPC);
	CU_ASSERT_EQUAL(model_policy(&g->model, 100)->cfg.pfp, 0);
	CU_ASSERT_EQUAL(flowtab_count(g->pub.shared.flows), count);
	gw_flow_key_make(&fk, 100, 0, &k);
	CU_ASSERT_EQUAL(flowtab_lookup(g->pub.shared.flows, &fk, &data), 0);
	CU_ASSERT_PTR_EQUAL(data, g->model.sas[0]->dp);

	/* Policy 9000 to follow its SA, keyed by PFP src: no room for the
	 * new key, and the key the SA kept stays, where it led. */
	CU_ASSERT_EQUAL(testgw_apply(g, "policy update src 192.168.50.0/24 dst 192.168.51.0/24 "
				     "dir out index 9000 tmpl src 172.16.1.5 dst 172.16.9.10 "
				     "proto esp reqid 5 mode tunnel pfp src", &err), -ENOSPC);
	gw_flow_key_make(&fk, 9000, 0, &k);
	CU_ASSERT_EQUAL(flowtab_lookup(g->pub.shared.flows, &fk, &data), 0);
	CU_ASSERT_PTR_EQUAL(data, kept);
	CU_ASSERT_EQUAL(flowtab_count(g->pub.shared.flows), count);
	testgw_free(g);
}

int
test_cmd_register(void)
{
	CU_pSuite s = CU_add_suite("cmd", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "show-keys shows the keys added", test_show_keys) == NULL ||
	    CU_add_test(s, "routes as ip route takes them, MACs as ip neigh prints them",
			test_routes_neighs) == NULL ||
	    CU_add_test(s, "records and key slots through churn", test_churn) == NULL ||
	    CU_add_test(s, "JSON shapes, allocspi then update", test_shapes) == NULL ||
	    CU_add_test(s, "current never goes back", test_current_kept) == NULL ||
	    CU_add_test(s, "state migrate and policy update", test_migrate) == NULL ||
	    CU_add_test(s, "monitor state and policy", test_monitor_changes) == NULL ||
	    CU_add_test(s, "protocols by name, text and JSON", test_proto_names) == NULL ||
	    CU_add_test(s, "routes past the LPMs' fixed second levels", test_many_deep_routes) == NULL ||
	    CU_add_test(s, "a full flow table refuses a policy whole", test_flow_table_full) == NULL ||
	    CU_add_test(s, "a batch whose rebuild fails answers errors", test_batch_failed) == NULL ||
	    CU_add_test(s, "a streaming batch gets a share of a poll", test_batch_share) == NULL ||
	    CU_add_test(s, "NUL bytes, a last line without newline, EOF in a long line",
			test_sock_edges) == NULL)
		return CU_get_error();
	return 0;
}
