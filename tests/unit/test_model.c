/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the control plane's model (control/model.c): the rules
 * a file and the socket share (so `espd --check` and start-up agree), SPI
 * reservations, the flow index, and time limits on a clock the test
 * drives. No DPDK is used: the model runs without a data plane.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "config/config.h"
#include "control/model.h"
#include "unit.h"

#define GCM "aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128"
#define NS 1000000000ull

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static void
model_new(struct gw_model *m)
{
	CU_ASSERT_EQUAL_FATAL(model_init(m, CRYPTO_ENGINE_MB, 1u << 16), 0);
	fake_now = 1000 * NS;
	m->now_ns = fake_clock;
}

/* Apply one line; @return the model's verdict, the message in @p err. */
static int
apply(struct gw_model *m, const char *line, struct cfg_error *err)
{
	struct cfg_cmd cmd;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cfg_parse_line(line, &cmd, err);
	if (rc == 0)
		rc = model_apply(m, &cmd, "-", 0, err);
	cfg_cmd_clear(&cmd);
	return rc;
}

static void
ok(struct gw_model *m, const char *line)
{
	struct cfg_error err;
	int rc = apply(m, line, &err);

	if (rc != 0)
		fprintf(stderr, "\n  '%s': %s\n", line, err.msg);
	CU_ASSERT_EQUAL(rc, 0);
}

static void
refused(struct gw_model *m, const char *line, const char *msg)
{
	struct cfg_error err;
	int rc = apply(m, line, &err);

	CU_ASSERT_NOT_EQUAL(rc, 0);
	if (rc == 0 || strstr(err.msg, msg) == NULL)
		fprintf(stderr, "\n  '%s': got '%s', want '%s'\n", line, err.msg, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, msg));
}

static void
base(struct gw_model *m)
{
	ok(m, "port 0 role protected addr 192.168.1.1/24");
	ok(m, "port 1 role unprotected addr 172.16.1.5/24");
}

/* The rules a file and the socket share (--check used to keep its own
 * copy): duplicates and undeclared ports, as `ip route/neigh add` refuse. */
static void
test_rules(void)
{
	struct gw_model m;

	model_new(&m);
	base(&m);
	refused(&m, "port 0 role unprotected", "port 0 is already defined");
	/* xdp-steer: the model takes it (the data plane attaches the
	 * program), but not with a TAP beside the kernel's own interface */
	refused(&m, "port 2 role unprotected tap espdx xdp-steer",
		"port 2: xdp-steer leaves the kernel its own interface; drop `tap espdx`");
	ok(&m, "port 2 role unprotected addr 198.51.100.1/24 xdp-steer");
	CU_ASSERT_TRUE(m.ports[2].xdp_steer);
	refused(&m, "route add 10.0.0.0/8 port 7", "port 7 is not defined");
	refused(&m, "neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 port 9",
		"port 9 is not defined");
	ok(&m, "route add 10.0.0.0/8 port 1 via 172.16.1.1");
	refused(&m, "route add 10.0.0.0/8 port 0", "route 10.0.0.0/8 exists");
	ok(&m, "route add 10.0.0.0/16 port 0");
	ok(&m, "neigh add 172.16.1.1 lladdr 02:00:00:00:00:01 port 1");
	refused(&m, "neigh add 172.16.1.1 lladdr 02:00:00:00:00:02 port 1",
		"neigh 172.16.1.1 on port 1 exists");
	ok(&m, "neigh add 172.16.1.1 lladdr 02:00:00:00:00:02 port 0");
	ok(&m, "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x1001 " GCM);
	refused(&m, "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x1001 " GCM,
		"SA with that dst and spi 0x00001001 exists");
	/* dst is ours: inbound, and an inbound SPI is unique on its own */
	CU_ASSERT_EQUAL(m.sas[0]->dir, CFG_DIR_IN);
	refused(&m, "state add src 172.16.2.6 dst 172.16.1.6 proto esp spi 0x1001 dir in " GCM,
		"inbound spi 0x00001001 is already in use");
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 " GCM);
	CU_ASSERT_EQUAL(m.sas[1]->dir, CFG_DIR_OUT);
	/* what the data plane would refuse, refused here already */
	refused(&m, "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x2001 dir in "
		"replay-window 0 flag esn " GCM, "replay-window above 0");
	refused(&m, "state del src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1001",
		"no SA with that dst and spi 0x00001001");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 5");
	refused(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir in index 5",
		"policy index 5 exists");
	refused(&m, "policy del index 9", "no such policy");
	refused(&m, "state list", "'state list' is not a configuration command");
	ok(&m, "state flush");
	CU_ASSERT_EQUAL(m.n_sas, 0);
	model_free(&m);
}

/* A whole file through cfg_load_file and the model: every error with its
 * line, as `espd --check` prints them (and start-up stops at the first). */
static void
test_file_verdicts(void)
{
	static const char text[] =
		"port 0 role protected\n"                                      /* 1 */
		"port 0 role unprotected\n"                                    /* 2 */
		"route add 10.0.0.0/8 port 7\n"                                /* 3 */
		"route add 10.0.0.0/8 port 0\n"                                /* 4 */
		"route add 10.0.0.0/8 port 0\n"                                /* 5 */
		"neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 port 0\n"         /* 6 */
		"neigh add 10.0.0.1 lladdr 02:00:00:00:00:02 port 0\n"         /* 7 */
		"state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 " GCM "\n" /* 8 */
		"state add src 9.9.9.9 dst 2.2.2.2 proto esp spi 4096 " GCM "\n"   /* 9 */
		"state update src 1.1.1.1 dst 3.3.3.3 proto esp spi 0x1000\n"  /* 10 */
		"state flush\n"                                                /* 11 */
		"state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 " GCM "\n"; /* 12 */
	struct cfg_load ld = { .apply = model_apply, .keep_going = true };
	char path[] = "/tmp/espd_model_XXXXXX", *out = NULL, want[1024];
	size_t outlen = 0;
	struct gw_model m;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	model_new(&m);
	ld.arg = &m;
	ld.errs = open_memstream(&out, &outlen);
	CU_ASSERT_EQUAL(cfg_load_file(path, &ld), -EINVAL);
	fclose(ld.errs);
	snprintf(want, sizeof(want),
		 "%1$s:2: error: port 0 is already defined\n"
		 "%1$s:3: error: route: port 7 is not defined\n"
		 "%1$s:5: error: route 10.0.0.0/8 exists\n"
		 "%1$s:7: error: neigh 10.0.0.1 on port 0 exists\n"
		 "%1$s:9: error: SA with that dst and spi 0x00001000 exists\n"
		 "%1$s:10: error: no SA with that dst and spi 0x00001000\n", path);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n  got:\n%s  want:\n%s", out, want);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(ld.nerrors, 6);
	CU_ASSERT_EQUAL(m.n_sas, 1);
	free(out);
	model_free(&m);
	unlink(path);
}

/* Time limits count from the add with sub-second precision: an SA added
 * at t0 + 0.9 s with time-hard 3 expires at t0 + 3.9 s, never at t0 + 3. */
static void
test_time_limits(void)
{
	struct gw_model m;
	struct model_sa *s;
	bool hard = false;

	model_new(&m);
	base(&m);
	fake_now += 900000000ull; /* 0.9 s past a whole second */
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3001 " GCM
	   " limit time-soft 1 limit time-hard 3");
	fake_now += 999999999ull;
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	fake_now += 1;
	s = model_time_due(&m, fake_now, &hard);
	CU_ASSERT_PTR_NOT_NULL(s);
	CU_ASSERT_FALSE(hard);
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	fake_now += 2 * NS - 1; /* 2.999999999 s after the add */
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	fake_now += 1;
	s = model_time_due(&m, fake_now, &hard);
	CU_ASSERT_PTR_NOT_NULL(s);
	CU_ASSERT_TRUE(hard);
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));

	/* New limits by update count from the add too, and replace the old. */
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3002 " GCM
	   " limit time-hard 10");
	fake_now += 5 * NS;
	ok(&m, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3002 "
	   "limit time-hard 7");
	fake_now += 2 * NS - 1;
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	fake_now += 1;
	s = model_time_due(&m, fake_now, &hard);
	CU_ASSERT(s != NULL && s->cfg.spi == 0x3002 && hard);
	fake_now += 10 * NS;
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard)); /* the old 10 s */

	/* A limit of 0 is none, as in `ip xfrm`; an update to 0 lifts one. */
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3003 " GCM
	   " limit time-soft 0 limit time-hard 0");
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3004 " GCM
	   " limit time-hard 5");
	ok(&m, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3004 "
	   "limit time-hard 0");
	fake_now += 1000 * NS;
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	CU_ASSERT_PTR_NOT_NULL(model_sa_find(&m, &(struct cfg_addr){ .af = AF_INET, .len = 32,
					     .a = { 172, 16, 2, 5 } }, 0x3003));

	/* A deleted SA's timers never fire, and churn does not pile them up. */
	{
		char line[200];
		unsigned int i;

		for (i = 0; i < 5000; i++) {
			snprintf(line, sizeof(line), "state add src 172.16.1.5 dst 172.16.2.5 "
				 "proto esp spi %u " GCM " limit time-soft 100 limit time-hard 200",
				 0x10000 + i);
			ok(&m, line);
			snprintf(line, sizeof(line), "state del src 172.16.1.5 dst 172.16.2.5 "
				 "proto esp spi %u", 0x10000 + i);
			ok(&m, line);
		}
		CU_ASSERT(m.n_timers < 1000);
		fake_now += 300 * NS;
		CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	}
	model_free(&m);
}

/* The control record keeps the keys that were added (show-keys), for
 * every kind of algorithm, and the ones an update put in. */
static void
test_keys_kept(void)
{
	static const uint8_t gcm[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
					 15, 16, 0xa1, 0xa2, 0xa3, 0xa4 };
	struct gw_model m;
	struct model_sa *s;
	struct cfg_addr dst = { .af = AF_INET, .len = 32, .a = { 172, 16, 2, 5 } };
	struct cfg_algo al;

	model_new(&m);
	base(&m);
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 " GCM);
	s = model_sa_find(&m, &dst, 0x4001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key_len, 20);
	CU_ASSERT_EQUAL(memcmp(s->cfg.algo.cipher_key, gcm, 20), 0);
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4002 "
	   "enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff "
	   "auth-trunc 'hmac(sha256)' 0x" "0f0e0d0c0b0a09080706050403020100"
	   "0f0e0d0c0b0a09080706050403020100 128");
	s = model_sa_find(&m, &dst, 0x4002);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key_len, 16);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key[15], 0xff);
	model_sa_algo(s, &al);
	CU_ASSERT_EQUAL(al.auth_key_len, 32);
	CU_ASSERT_EQUAL(al.auth_key[0], 0x0f);
	ok(&m, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 "
	   "aead rfc4106(gcm(aes)) 0xffeeddccbbaa99887766554433221100deadbeef 128");
	s = model_sa_find(&m, &dst, 0x4001);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key[0], 0xff);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key[19], 0xef);
	model_free(&m);
}

static int
allocspi(struct gw_model *m, const char *line, uint32_t *spi, struct cfg_error *err)
{
	struct cfg_cmd cmd;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cfg_parse_line(line, &cmd, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	rc = model_allocspi(m, &cmd.u.allocspi, spi, err);
	cfg_cmd_clear(&cmd);
	return rc;
}

/* allocspi then `state update` makes the SPI live (ALLOCSPI + UPDSA, as
 * strongSwan does); the reservation lasts allocspi-expires seconds. */
static void
test_allocspi_update(void)
{
	struct cfg_addr dst = { .af = AF_INET, .len = 32, .a = { 172, 16, 1, 5 } };
	struct cfg_error err;
	struct gw_model m;
	char line[256];
	uint32_t spi, spi2;

	model_new(&m);
	base(&m);
	CU_ASSERT_EQUAL_FATAL(allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 "
				       "proto esp reqid 7", &spi, &err), 0);
	CU_ASSERT(spi >= 256);
	/* another dst cannot claim it */
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.6 proto esp "
		 "spi 0x%x " GCM, spi);
	refused(&m, line, "no SA with that dst and spi");
	/* an update without an algorithm cannot make an SA */
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi 0x%x limit time-hard 10", spi);
	refused(&m, line, "reserved, not live");
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi 0x%x reqid 7 " GCM, spi);
	ok(&m, line);
	CU_ASSERT_PTR_NOT_NULL(model_sa_find(&m, &dst, spi));
	CU_ASSERT_EQUAL(m.sas[0]->dir, CFG_DIR_IN);
	/* live now: a second update replaces keys as usual */
	ok(&m, line);
	CU_ASSERT_EQUAL(m.n_sas, 1);

	/* The default reservation is 300 s, not acquire-expires (30 s). */
	CU_ASSERT_EQUAL_FATAL(allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 "
				       "proto esp", &spi2, &err), 0);
	fake_now += 299 * NS;
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi 0x%x " GCM, spi2);
	ok(&m, line);
	CU_ASSERT_EQUAL_FATAL(allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 "
				       "proto esp", &spi2, &err), 0);
	fake_now += 301 * NS;
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi 0x%x " GCM, spi2);
	refused(&m, line, "no SA with that dst and spi");
	/* set allocspi-expires */
	ok(&m, "set allocspi-expires 10");
	CU_ASSERT_EQUAL_FATAL(allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 "
				       "proto esp", &spi2, &err), 0);
	fake_now += 10 * NS;
	snprintf(line, sizeof(line), "state update src 172.16.2.5 dst 172.16.1.5 proto esp "
		 "spi 0x%x " GCM, spi2);
	refused(&m, line, "no SA with that dst and spi");
	model_free(&m);
}

/* SPIs handed out are unique among SAs and reservations, and a full
 * range says so. */
static void
test_allocspi_unique(void)
{
	static uint8_t seen[1000];
	struct cfg_error err;
	struct gw_model m;
	unsigned int i, dup = 0;
	uint32_t spi;

	model_new(&m);
	base(&m);
	ok(&m, "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 1500 " GCM);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 999; i++) {
		if (allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 proto esp "
			     "min 1000 max 1999", &spi, &err) != 0) {
			fprintf(stderr, "\n  allocspi %u: %s\n", i, err.msg);
			CU_FAIL("allocspi failed before the range was full");
			break;
		}
		CU_ASSERT(spi >= 1000 && spi <= 1999 && spi != 1500);
		dup += seen[spi - 1000]++;
	}
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_NOT_EQUAL(allocspi(&m, "state allocspi src 172.16.2.5 dst 172.16.1.5 "
				     "proto esp min 1000 max 1999", &spi, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no free SPI in 0x000003e8-0x000007cf"));
	model_free(&m);
}

/* A PFP policy (index 3) and two SAs, 0x5001 and 0x5002, for one flow. */
static void
pfp_two_sas(struct gw_model *m)
{
	ok(m, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 3 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel "
	   "pfp src,dst,proto,sport,dport");
	ok(m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001 reqid 7 " GCM
	   " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 dport 5001");
	ok(m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002 reqid 7 " GCM
	   " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp sport 40000 dport 5001");
}

/* The flow index: a PFP policy's keys point at the newest SA that serves
 * them; removing it hands the key to the next, or to nothing. */
static void
test_flows(void)
{
	struct gw_model m;
	struct gw_flow_key fk;
	struct flow_key k = { .proto = 17, .family = 4, .src = { 192, 168, 1, 10 },
			      .dst = { 192, 168, 2, 20 } };
	struct model_sa *s;

	k.sport = htons(40000);
	k.dport = htons(5001);
	model_new(&m);
	base(&m);
	pfp_two_sas(&m);
	/* a selector that names no single port is not a PFP flow's SA */
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5003 reqid 7 " GCM
	   " sel src 192.168.1.10/32 dst 192.168.2.20/32 proto udp");
	gw_flow_key_make(&fk, 3, PFP_ALL, &k);
	s = model_flow_sa(&m, &fk);
	CU_ASSERT(s != NULL && s->cfg.spi == 0x5002);
	CU_ASSERT_EQUAL(m.pfp_flows, 1);
	ok(&m, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002");
	s = model_flow_sa(&m, &fk);
	CU_ASSERT(s != NULL && s->cfg.spi == 0x5001);
	ok(&m, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001");
	CU_ASSERT_PTR_NULL(model_flow_sa(&m, &fk));
	CU_ASSERT_EQUAL(hset_count(&m.flows), 0);
	/* a policy added after the SA indexes it; deleting the policy
	 * unindexes it */
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5004 reqid 7 " GCM);
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 4 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	gw_flow_key_make(&fk, 4, 0, &k);
	s = model_flow_sa(&m, &fk);
	CU_ASSERT(s != NULL && s->cfg.spi == 0x5004);
	ok(&m, "policy del index 4");
	CU_ASSERT_PTR_NULL(model_flow_sa(&m, &fk));
	model_free(&m);
}

/* Each flow key is kept once: the SAs that can serve it point at one
 * struct model_flow. A per-flow SA keeps its one flow in place, an SA
 * of several policies an array of them. */
static void
test_flows_shared(void)
{
	struct gw_model m;
	struct gw_flow_key fk;
	struct flow_key k = { 0 };
	struct model_sa *a, *b;
	struct model_flow *f;

	model_new(&m);
	base(&m);
	pfp_two_sas(&m);
	a = m.sas[0];
	b = m.sas[1];
	CU_ASSERT_EQUAL_FATAL(a->n_flows, 1);
	CU_ASSERT_EQUAL_FATAL(b->n_flows, 1);
	CU_ASSERT_EQUAL(a->cap_flows, 1); /* in place: no array */
	f = model_sa_flows(a)[0];
	CU_ASSERT_PTR_EQUAL(model_sa_flows(b)[0], f);
	CU_ASSERT_EQUAL(f->cand, 2);
	CU_ASSERT_PTR_EQUAL(f->sa, b); /* the newest */
	CU_ASSERT_EQUAL(hset_count(&m.flows), 1);
	CU_ASSERT_EQUAL(slab_in_use(&m.flow_slab), 1);
	CU_ASSERT_PTR_EQUAL(hset_find(&m.flows, &f->key), f);

	/* Two more policies: a takes a flow of each, in an array. */
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 4 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	ok(&m, "policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir out index 5 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	CU_ASSERT_EQUAL(a->n_flows, 3);
	CU_ASSERT(a->cap_flows >= 3);
	CU_ASSERT_PTR_EQUAL(model_sa_flows(a)[0], f);
	gw_flow_key_make(&fk, 5, 0, &k);
	CU_ASSERT_PTR_EQUAL(model_flow_sa(&m, &fk), b);
	CU_ASSERT_EQUAL(hset_count(&m.flows), 3);
	ok(&m, "policy del index 4");
	CU_ASSERT_EQUAL(a->n_flows, 2);
	CU_ASSERT_EQUAL(hset_count(&m.flows), 2);
	ok(&m, "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5002");
	CU_ASSERT_PTR_EQUAL(f->sa, a);
	CU_ASSERT_EQUAL(f->cand, 1);
	CU_ASSERT_PTR_EQUAL(model_flow_sa(&m, &fk), a);
	ok(&m, "state flush");
	CU_ASSERT_EQUAL(hset_count(&m.flows), 0);
	CU_ASSERT_EQUAL(slab_in_use(&m.flow_slab), 0);
	CU_ASSERT_EQUAL(slab_in_use(&m.sa_slab), 0);
	model_free(&m);
}

static int
rekey_refused(void *arg, struct model_sa *s, bool same_keys)
{
	(void)arg;
	(void)s;
	(void)same_keys;
	return -ENOMEM;
}

/* The SA as the model keeps it (compact, with what few SAs have out of
 * line), given back whole, equal to what was parsed. */
static void
check_state_kept(struct gw_model *m, const char *line, uint32_t spi)
{
	struct cfg_addr dst = { .af = AF_INET, .len = 32, .a = { 172, 16, 2, 5 } };
	struct cfg_state got, want;
	struct model_sa *s;
	struct cfg_error err;
	struct cfg_cmd cmd;

	ok(m, line);
	s = model_sa_find(m, &dst, spi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(cfg_parse_line(line, &cmd, &err), 0);
	want = cmd.u.state;
	cfg_cmd_clear(&cmd);
	model_sa_state(s, &got);
	/* Not kept: the dir as given (the SA's own is), the OA. */
	want.dir = got.dir;
	want.encap_oa = got.encap_oa;
	CU_ASSERT_EQUAL(memcmp(&got, &want, sizeof(got)), 0);
	explicit_bzero(&got, sizeof(got));
	explicit_bzero(&want, sizeof(want));
}

/* The control record keeps what was given, no more: nothing out of line
 * for a plain SA; limits, sequence numbers to start from and an HMAC key
 * out of line, only where given. A rekey the data plane refuses leaves
 * keys and limits as they were. */
static void
test_compact_record(void)
{
	static const struct model_ops ops = { .sa_rekey = rekey_refused };
	struct cfg_addr dst = { .af = AF_INET, .len = 32, .a = { 172, 16, 2, 5 } };
	struct gw_model m_keep;
	struct model_sa *s;
	struct cfg_algo al;
	uint64_t v;

	model_new(&m_keep);
	base(&m_keep);
	check_state_kept(&m_keep, "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 "
			 GCM, 0x4001);
	CU_ASSERT_PTR_NULL(model_sa_find(&m_keep, &dst, 0x4001)->cfg.x);
	check_state_kept(&m_keep, "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
			 "spi 0x4002 reqid 9 mode transport replay-window 128 flag esn "
			 "flag noecn replay-oseq 77 replay-oseq-hi 3 "
			 "enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "
			 "auth-trunc 'hmac(sha512)' 0x" "0f0e0d0c0b0a09080706050403020100"
			 "0f0e0d0c0b0a09080706050403020100" "0f0e0d0c0b0a09080706050403020100"
			 "0f0e0d0c0b0a09080706050403020100 256 "
			 "encap espinudp 4500 4501 0.0.0.0 "
			 "sel src 192.168.1.0/24 dst 192.168.2.7/32 proto tcp sport 1-1024 "
			 "limit time-soft 50 limit byte-hard 1000000 seq 12", 0x4002);
	s = model_sa_find(&m_keep, &dst, 0x4002);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->cfg.x);
	CU_ASSERT_EQUAL(s->cfg.x->auth_key_len, 64);

	/* Limits alone: out of line from now on, the keys stay. */
	ok(&m_keep, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 "
	   "limit packet-hard 500");
	s = model_sa_find(&m_keep, &dst, 0x4001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->cfg.x);
	CU_ASSERT(model_sa_limit(&s->cfg, CFG_LIMIT_PACKET_HARD, &v) && v == 500);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key[0], 0x01);
	/* From GCM to CBC and HMAC and back: the keys follow, the limits
	 * stay. */
	ok(&m_keep, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 "
	   "enc 'cbc(aes)' 0xffeeddccbbaa99887766554433221100 "
	   "auth-trunc 'hmac(sha1)' 0x0102030405060708090a0b0c0d0e0f1011121314 96");
	model_sa_algo(s, &al);
	CU_ASSERT_EQUAL(al.cipher, CRYPTO_CIPHER_AES_CBC);
	CU_ASSERT_EQUAL(al.cipher_key_len, 16);
	CU_ASSERT_EQUAL(al.cipher_key[0], 0xff);
	CU_ASSERT_EQUAL(al.auth_key_len, 20);
	CU_ASSERT_EQUAL(al.auth_key[19], 0x14);
	CU_ASSERT_EQUAL(al.icv_len, 12);
	CU_ASSERT(model_sa_limit(&s->cfg, CFG_LIMIT_PACKET_HARD, &v) && v == 500);
	ok(&m_keep, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4001 " GCM);
	model_sa_algo(s, &al);
	CU_ASSERT_EQUAL(al.cipher, CRYPTO_CIPHER_AES_GCM);
	CU_ASSERT_EQUAL(al.auth, CRYPTO_AUTH_NONE);
	CU_ASSERT_EQUAL(al.auth_key_len, 0);
	CU_ASSERT_EQUAL(s->cfg.x->auth_key_len, 0);

	/* Refused by the data plane: nothing changes. */
	model_set_ops(&m_keep, &ops, NULL);
	refused(&m_keep, "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x4002 "
		"aead rfc4106(gcm(aes)) 0xffeeddccbbaa99887766554433221100deadbeef 128 "
		"limit time-soft 5", "cannot make the SA: Cannot allocate memory");
	s = model_sa_find(&m_keep, &dst, 0x4002);
	model_sa_algo(s, &al);
	CU_ASSERT_EQUAL(al.cipher, CRYPTO_CIPHER_AES_CBC);
	CU_ASSERT_EQUAL(al.auth_key_len, 64);
	CU_ASSERT_EQUAL(al.auth_key[0], 0x0f);
	CU_ASSERT(model_sa_limit(&s->cfg, CFG_LIMIT_TIME_SOFT, &v) && v == 50);
	explicit_bzero(&al, sizeof(al));
	model_set_ops(&m_keep, NULL, NULL);
	model_free(&m_keep);
}

#define SA_OUT "src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5001"
#define SA_IN "src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x6001"

/* state migrate: the SA changes its name with its dst, and every index
 * follows (the old name is gone, the new one finds the same SA with its
 * handle); the time limits still come, from the add, under the new name;
 * refusals name what is wrong. */
static void
test_migrate(void)
{
	struct gw_model m;
	struct cfg_addr a = { .af = AF_INET, .len = 32 };
	struct model_sa *s, *in;
	uint32_t id, spi_in = 0x6001;
	uint64_t v;
	bool hard;

	model_new(&m);
	base(&m);
	ok(&m, "state add " SA_OUT " reqid 7 " GCM " limit time-soft 10 limit time-hard 20");
	ok(&m, "state add " SA_IN " reqid 7 " GCM " encap espinudp 4500 4500 0.0.0.0");
	inet_pton(AF_INET, "172.16.2.5", a.a);
	s = model_sa_find(&m, &a, 0x5001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	id = s->id;

	refused(&m, "state migrate src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x5999 "
		"new-dst 172.16.3.5", "no SA with that src, dst and spi 0x00005999");
	refused(&m, "state migrate src 172.16.9.9 dst 172.16.2.5 proto esp spi 0x5001 "
		"new-dst 172.16.3.5", "no SA with that src, dst and spi 0x00005001");
	refused(&m, "state migrate " SA_OUT " new-dst 2001:db8::5",
		"the SA's src and dst would differ in address family");
	ok(&m, "state add src 172.16.1.5 dst 172.16.3.5 proto esp spi 0x5001 " GCM);
	refused(&m, "state migrate " SA_OUT " new-dst 172.16.3.5",
		"an SA with the new dst and spi 0x00005001 exists");
	ok(&m, "state del src 172.16.1.5 dst 172.16.3.5 proto esp spi 0x5001");
	CU_ASSERT_PTR_EQUAL(model_sa_find(&m, &a, 0x5001), s); /* refusals change nothing */

	/* the SA moves: found by its new name only, same record, same handle */
	fake_now += 5 * NS;
	ok(&m, "state migrate " SA_OUT " new-dst 172.16.3.5 encap espinudp 4500 4500 0.0.0.0");
	CU_ASSERT_PTR_NULL(model_sa_find(&m, &a, 0x5001));
	inet_pton(AF_INET, "172.16.3.5", a.a);
	CU_ASSERT_PTR_EQUAL(model_sa_find(&m, &a, 0x5001), s);
	CU_ASSERT_EQUAL(s->id, id);
	CU_ASSERT(s->cfg.has & CFG_SA_HAS_ENCAP);
	CU_ASSERT_EQUAL(s->cfg.encap_sport, 4500);
	CU_ASSERT(model_sa_limit(&s->cfg, CFG_LIMIT_TIME_HARD, &v) && v == 20);
	/* both families together may change; the keys stay */
	ok(&m, "state migrate src 172.16.1.5 dst 172.16.3.5 proto esp spi 0x5001 "
	   "new-src 2001:db8::1 new-dst 2001:db8::2 encap none");
	CU_ASSERT(!(s->cfg.has & CFG_SA_HAS_ENCAP));
	CU_ASSERT_EQUAL(s->cfg.src.af, AF_INET6);
	CU_ASSERT_EQUAL(s->cfg.algo.cipher_key[0], 0x01);
	ok(&m, "state migrate src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x5001 "
	   "new-src 172.16.1.5 new-dst 172.16.2.5");

	/* time limits count from the add, under the new name, once each */
	fake_now += 5 * NS - 1; /* 9.999999999 s after the add */
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	fake_now += 1;
	CU_ASSERT_PTR_EQUAL(model_time_due(&m, fake_now, &hard), s);
	CU_ASSERT(!hard);
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard));
	ok(&m, "state migrate " SA_OUT " new-src 172.16.1.6");
	fake_now += 5 * NS;
	CU_ASSERT_PTR_NULL(model_time_due(&m, fake_now, &hard)); /* soft, once */
	fake_now += 5 * NS;
	CU_ASSERT_PTR_EQUAL(model_time_due(&m, fake_now, &hard), s);
	CU_ASSERT(hard);

	/* inbound: the SPI index keeps it; a transport SA keeps its family */
	ok(&m, "state migrate " SA_IN " new-src 198.51.100.7 encap espinudp 4501 4500 0.0.0.0");
	in = hset_find(&m.spi_in, &spi_in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_EQUAL(in->cfg.encap_sport, 4501);
	CU_ASSERT_EQUAL(in->cfg.src.a[0], 198);
	ok(&m, "state add src 172.16.1.5 dst 172.16.2.9 proto esp spi 0x7001 mode transport " GCM);
	refused(&m, "state migrate src 172.16.1.5 dst 172.16.2.9 proto esp spi 0x7001 "
		"new-src 2001:db8::1 new-dst 2001:db8::2",
		"a transport-mode SA cannot change address family");
	model_free(&m);
}

/* policy update: replaces in place (same index, same count), by index or
 * by selector and dir, or adds; the flows of SAs that still fit stay put
 * (a migrated SA keeps its flow until the template follows it), and
 * those that no longer fit go. */
/* One policy for a dir and selector, as `ip xfrm` (EEXIST): a second is
 * refused by add, and by an update that would move one onto another's;
 * del, flush and a move free the old one for use again. */
static void
test_policy_twins(void)
{
	struct gw_model m;

	model_new(&m);
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out");
	refused(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out "
		"priority 5", "a policy with that selector and dir exists");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir fwd");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 81 dir out");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dir out");
	/* index 3 (dport 81) onto index 1's selector: refused; elsewhere: ok. */
	refused(&m, "policy update src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out "
		"index 3", "a policy with that selector and dir exists");
	ok(&m, "policy update src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 82 dir out index 3");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 81 dir out");
	ok(&m, "policy del src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out");
	CU_ASSERT_EQUAL(m.n_pols, 5);
	ok(&m, "policy flush");
	ok(&m, "policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp dport 80 dir out");
	model_free(&m);
}

static void
test_policy_update(void)
{
	struct gw_model m;
	struct gw_flow_key fk;
	struct flow_key k = { 0 };
	struct model_sa *s;

	model_new(&m);
	base(&m);
	ok(&m, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 5 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	ok(&m, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir fwd "
	   "tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 7 mode tunnel");
	ok(&m, "state add " SA_OUT " reqid 7 " GCM);
	gw_flow_key_make(&fk, 5, 0, &k);
	s = model_flow_sa(&m, &fk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);

	/* MOBIKE: the SA moves, keeps its flow; the template follows */
	ok(&m, "state migrate " SA_OUT " new-src 172.16.1.6");
	CU_ASSERT_PTR_EQUAL(model_flow_sa(&m, &fk), s);
	ok(&m, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir out "
	   "tmpl src 172.16.1.6 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	CU_ASSERT_EQUAL(m.n_pols, 2);
	CU_ASSERT_PTR_NOT_NULL(model_policy(&m, 5));
	CU_ASSERT(model_addr_eq(&model_policy(&m, 5)->cfg.tmpl.src, &s->cfg.src));
	CU_ASSERT_PTR_EQUAL(model_flow_sa(&m, &fk), s);
	CU_ASSERT(m.dirty & MODEL_DIRTY_SPD);

	/* by index; a template the SA does not fit takes the flow away */
	ok(&m, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 5 "
	   "priority 3 tmpl src 172.16.1.6 dst 172.16.2.5 proto esp reqid 8 mode tunnel");
	CU_ASSERT_EQUAL(m.n_pols, 2);
	CU_ASSERT_EQUAL(model_policy(&m, 5)->cfg.priority, 3);
	CU_ASSERT_PTR_NULL(model_flow_sa(&m, &fk));
	CU_ASSERT_EQUAL(hset_count(&m.flows), 0);
	CU_ASSERT_EQUAL(s->n_flows, 0);
	ok(&m, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 5 "
	   "tmpl src 172.16.1.6 dst 172.16.2.5 proto esp reqid 7 mode tunnel");
	CU_ASSERT_PTR_EQUAL(model_flow_sa(&m, &fk), s);
	refused(&m, "policy update src 192.168.1.0/24 dst 192.168.2.0/24 dir in index 5",
		"policy index 5 is dir out, not in");

	/* none like it: added, as ip xfrm policy update does */
	ok(&m, "policy update src 10.0.0.0/8 dst 10.1.0.0/16 dir out action block");
	CU_ASSERT_EQUAL(m.n_pols, 3);
	ok(&m, "policy update src 10.0.0.0/8 dst 10.1.0.0/16 dir out");
	CU_ASSERT_EQUAL(m.n_pols, 3);
	CU_ASSERT_EQUAL(m.pols[2].cfg.action, CFG_ACTION_ALLOW);
	model_free(&m);
}

/* An SA's sel takes port ranges (IKEv2 traffic selectors), and 0-65535
 * is no restriction at all; a PFP policy's flow needs single ports. */
static void
test_sel_ranges(void)
{
	struct gw_model m;
	struct cfg_addr a = { .af = AF_INET, .len = 32 };
	struct model_sa *s;

	model_new(&m);
	base(&m);
	ok(&m, "state add " SA_OUT " " GCM " sel src 192.168.1.0/24 dst 192.168.2.0/24 "
	   "proto tcp sport 1024-2048 dport 0-65535");
	inet_pton(AF_INET, "172.16.2.5", a.a);
	s = model_sa_find(&m, &a, 0x5001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(s->cfg.sel.has_sport);
	CU_ASSERT_EQUAL(s->cfg.sel.sport_lo, 1024);
	CU_ASSERT_EQUAL(s->cfg.sel.sport_hi, 2048);
	CU_ASSERT(!s->cfg.sel.has_dport);
	CU_ASSERT_EQUAL(s->cfg.sel.dport_hi, 65535);
	ok(&m, "policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out index 2 "
	   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp mode tunnel pfp proto,sport");
	CU_ASSERT_EQUAL(s->n_flows, 0);
	model_free(&m);
}

int
test_model_register(void)
{
	CU_pSuite s = CU_add_suite("model", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "rules shared by --check and start-up", test_rules) == NULL ||
	    CU_add_test(s, "state migrate", test_migrate) == NULL ||
	    CU_add_test(s, "policy update", test_policy_update) == NULL ||
	    CU_add_test(s, "one policy a dir and selector", test_policy_twins) == NULL ||
	    CU_add_test(s, "SA selectors with port ranges", test_sel_ranges) == NULL ||
	    CU_add_test(s, "a file's verdicts, line by line", test_file_verdicts) == NULL ||
	    CU_add_test(s, "time limits, sub-second, on a driven clock",
			test_time_limits) == NULL ||
	    CU_add_test(s, "keys kept for show-keys", test_keys_kept) == NULL ||
	    CU_add_test(s, "allocspi then state update", test_allocspi_update) == NULL ||
	    CU_add_test(s, "allocspi hands out unique SPIs", test_allocspi_unique) == NULL ||
	    CU_add_test(s, "flow index", test_flows) == NULL ||
	    CU_add_test(s, "one flow key for the SAs that serve it", test_flows_shared) == NULL ||
	    CU_add_test(s, "the compact control record", test_compact_record) == NULL)
		return CU_get_error();
	return 0;
}
