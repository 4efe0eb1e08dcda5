/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kernel-espd's translation of charon's calls into espd commands, checked
 * word for word against a fake espd in this process (a thread on a Unix
 * socket that records each request line and answers as espd would):
 *  - a policy's protocol and ports come from both traffic selectors, as
 *    kernel-netlink's ts2selector takes them (a dst-only `tcp/80` is not
 *    all traffic);
 *  - ICMP type and code from whichever selector carries them;
 *  - "opaque" ports (from > to) are any port, not a reversed range;
 *  - a port range counts in the priority as its XFRM mask's bits;
 *  - add_sa's `state update` of an SPI espd no longer holds falls back to
 *    `state add`, as kernel-netlink does when its SPI is gone;
 *  - get_spi asks espd for an SPI in charon's spi_min..spi_max;
 *  - a rekey (the new SA's entry added, the old one's deleted) sends no
 *    `policy update` that would only say the same again;
 *  - a drop shunt on an SA's selector, at the same priority, does not
 *    replace the SA's policy (kernel-netlink orders entries with a reqid
 *    first);
 *  - two CHILD_SAs whose selectors espd is told alike (an address range
 *    widened to its subnet) share one espd policy: deleting one's leaves
 *    the other's in place;
 *  - a gap in the monitor's event ids (events espd could not deliver)
 *    makes the plugin ask `state list` and tell charon the expires it
 *    lost: hard for an SA espd no longer holds, soft for one past its
 *    soft limit, nothing for the rest;
 *  - espd restarting (the monitor closes, then opens again): the SAs
 *    from before are rekeyed (soft expire), not one charon added while
 *    espd was coming back;
 *  - a `state add` or `policy update` that espd leaves unanswered past
 *    the plugin's timeout fails, and is undone once espd answers again
 *    (`state del`, `policy del`): espd may have applied it; after a
 *    `state migrate` that failed, the SA at its old address is deleted
 *    (charon goes on as if it had moved); so is a `state del` of
 *    flush_sas.
 * Built only with -Dstrongswan_src and charon's libraries (meson.build).
 *
 *   build/control/strongswan/plugin_words
 */
#include "kernel_espd_ipsec.c"

#include <stdio.h>
#include <sys/un.h>

static char sock_path[108];
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen[128][4096];
static int n_seen;
static int failures;
static int monitor = -1;    /* the plugin's monitor connection */
static const char *state_list = "[]"; /* what `state list` answers */
static uint32_t expired[16]; /* SPIs charon heard of: hard ones | 1 << 31 */
static volatile int refuse_monitor; /* espd "restarting": monitors refused */
static int del79;           /* `state del` of SPI 0x79 seen (the first unanswered) */
static int n_expired;

/* One client of the fake espd: a monitor is answered and kept; `state
 * update` is refused as for an SPI no longer reserved; the rest is ok. */
static void *
fake_client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	FILE *f = fdopen(fd, "r+");
	char line[4096];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		const char *ans = "ok 0\n";

		line[strcspn(line, "\n")] = '\0';
		/* Left unanswered: the plugin times out after 1 s. */
		if ((strstr(line, "'state' 'del'") && strstr(line, "0x00000079") &&
		     del79++ == 0) ||
		    (strstr(line, "'state' 'add'") && strstr(line, "0x00000077")) ||
		    (strstr(line, "'state' 'migrate'") && strstr(line, "0x00000078")) ||
		    (strstr(line, "'policy' 'update'") && strstr(line, "10.9.0.0/16")))
			ans = NULL;
		pthread_mutex_lock(&seen_lock);
		if (n_seen < 128)
			snprintf(seen[n_seen++], sizeof(seen[0]), "%s", line);
		pthread_mutex_unlock(&seen_lock);
		if (ans == NULL) {
			continue;
		} else if (strstr(line, "monitor") != NULL && refuse_monitor) {
			ans = "error: monitor refused (espd restarting, for the test)\n";
		} else if (strstr(line, "monitor") != NULL) {
			ans = "ok\n";
			monitor = fd; /* written with write(): fgets holds f's lock */
		} else if (strstr(line, "'state' 'list'") != NULL) {
			fprintf(f, "ok %zu\n%s", strlen(state_list), state_list);
			fflush(f);
			continue;
		} else if (strstr(line, "'state' 'update'") != NULL)
			ans = "error: no SA with that dst and spi 0xc0000001\n";
		else if (strstr(line, "'policy' 'list'") != NULL)
			ans = "ok 2\n[]";
		fputs(ans, f);
		fflush(f);
	}
	if (f != NULL)
		fclose(f);
	return NULL;
}

static void *
fake_espd(void *arg)
{
	int s = (int)(intptr_t)arg, c;
	pthread_t t;

	while ((c = accept(s, NULL, NULL)) >= 0) {
		pthread_create(&t, NULL, fake_client, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	return NULL;
}

/* The last request line that holds @p key: does it hold @p want too (and
 * not @p not)? */
static void
expect(const char *what, const char *key, const char *want, const char *not)
{
	const char *hit = NULL;
	int i;

	pthread_mutex_lock(&seen_lock);
	for (i = n_seen - 1; i >= 0 && hit == NULL; i--)
		if (strstr(seen[i], key) != NULL)
			hit = seen[i];
	if (hit == NULL || strstr(hit, want) == NULL || (not != NULL && strstr(hit, not))) {
		printf("FAIL %s\n     got: %s\n     want: %s%s%s\n", what, hit ? hit : "(nothing)",
		       want, not ? ", without " : "", not ? not : "");
		failures++;
	} else {
		printf("PASS %s\n", what);
	}
	pthread_mutex_unlock(&seen_lock);
}

/* How many request lines hold @p key. */
static int
count_lines(const char *key)
{
	int i, n = 0;

	pthread_mutex_lock(&seen_lock);
	for (i = 0; i < n_seen; i++)
		n += strstr(seen[i], key) != NULL;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

static bool
on_expire_heard(kernel_listener_t *l, uint8_t proto, uint32_t spi, host_t *dst, bool hard)
{
	pthread_mutex_lock(&seen_lock);
	if (n_expired < 16)
		expired[n_expired++] = (ntohl(spi) & 0x7fffffff) | (hard ? 1u << 31 : 0);
	pthread_mutex_unlock(&seen_lock);
	return TRUE;
}

static void
send_event(const char *lines)
{
	if (monitor < 0 || write(monitor, lines, strlen(lines)) != (ssize_t)strlen(lines)) {
		printf("FAIL the plugin's monitor: %s\n", monitor < 0 ? "never opened" : "write");
		failures++;
	}
}

/* Wait up to 2 s for @p n expires to reach charon; how many did. */
static int
wait_expired(int n)
{
	int i, got;

	for (i = 0;; i++) {
		pthread_mutex_lock(&seen_lock);
		got = n_expired;
		pthread_mutex_unlock(&seen_lock);
		if (got >= n || i == 200)
			return got;
		usleep(10 * 1000);
	}
}

/* add_sa of an outbound AES-GCM tunnel SA from @p me to @p peer. */
static status_t
add_out_sa(kernel_ipsec_t *ki, host_t *me, host_t *peer, uint32_t spi)
{
	static uint8_t key[20] = { 1 };
	lifetime_cfg_t lt = { .time = { .rekey = 3000, .life = 3600 } };
	kernel_ipsec_sa_id_t sid = { .src = me, .dst = peer, .spi = htonl(spi),
				     .proto = IPPROTO_ESP };
	kernel_ipsec_add_sa_t ad = {
		.reqid = 7, .mode = MODE_TUNNEL, .lifetime = &lt,
		.enc_alg = ENCR_AES_GCM_ICV16, .enc_key = chunk_from_thing(key),
		.int_alg = AUTH_UNDEFINED, .inbound = FALSE,
	};

	return ki->add_sa(ki, &sid, &ad);
}

static traffic_selector_t *
ts(const char *net, uint8_t proto, uint16_t from, uint16_t to)
{
	return traffic_selector_create_from_cidr((char *)net, proto, from, to);
}

/* Policies from 10.1.0.0/16 (protocol @c sproto, ports @c sfrom..sto) to
 * @c dst (@c dproto, @c dfrom..dto), and what espd must be told of their
 * protocol and ports. */
static const struct {
	const char *what, *dst;
	uint8_t sproto, dproto;
	uint16_t sfrom, sto, dfrom, dto;
	const char *want, *not;
} sels[] = {
	{ "a tcp/80 on the remote selector alone: proto tcp dport 80", "10.2.0.0/16",
	  0, IPPROTO_TCP, 0, 65535, 80, 80, "'proto' 'tcp' 'dport' '80'", NULL },
	{ "ICMP type on the remote selector: proto icmp type 8", "10.3.0.0/16",
	  IPPROTO_ICMP, IPPROTO_ICMP, 0, 65535, 8, 8, "'proto' 'icmp' 'type' '8'", NULL },
	{ "opaque ports: any port, not a reversed range", "10.4.0.0/16",
	  IPPROTO_UDP, IPPROTO_UDP, 0xffff, 0, 0, 65535, "'proto' 'udp' 'dir'", "65535-0" },
	/* 400000 - 32 * 512 - 256 - 6 * 4 - 1: the range 1024-2047 has 6
	 * mask bits in XFRM's terms (kernel-netlink's port_mask_bits). */
	{ "a port range weighs its mask bits in the priority, as kernel-netlink",
	  "10.10.0.0/16", IPPROTO_TCP, IPPROTO_TCP, 0, 65535, 1024, 2047,
	  "'dport' '1024-2047' 'dir' 'out' 'priority' '383335'", NULL },
};

int
main(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	kernel_espd_ipsec_t *k;
	kernel_ipsec_t *ki;
	host_t *me, *peer;
	ipsec_sa_cfg_t sa = { .mode = MODE_TUNNEL, .reqid = 7, .esp = { .use = TRUE } };
	kernel_ipsec_manage_policy_t d = { .type = POLICY_IPSEC,
					   .prio = POLICY_PRIORITY_DEFAULT, .sa = &sa };
	lifetime_cfg_t lt = { .time = { .rekey = 3000, .life = 3600 } };
	uint8_t key[20] = { 1 };
	pthread_t t;
	unsigned int i;
	int s;

	snprintf(sock_path, sizeof(sock_path), "/tmp/plugin_words.%d.sock", (int)getpid());
	strcpy(sun.sun_path, sock_path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(sock_path);
	if (s < 0 || bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(s, 8) < 0) {
		perror("plugin_words: fake espd");
		return 1;
	}
	pthread_create(&t, NULL, fake_espd, (void *)(intptr_t)s);

	library_init(NULL, "charon");
	libcharon_init();
	lib->settings->set_str(lib->settings, "charon.plugins.kernel-espd.socket", sock_path);
	lib->settings->set_str(lib->settings, "charon.plugins.kernel-espd.timeout", "1");
	lib->settings->set_str(lib->settings, "charon.spi_min", "0xc1000000");
	lib->settings->set_str(lib->settings, "charon.spi_max", "0xc1ffffff");
	k = kernel_espd_ipsec_create();
	if (k == NULL) {
		printf("FAIL kernel_espd_ipsec_create\n");
		return 1;
	}
	ki = &k->interface;
	me = host_create_from_string("203.0.113.5", 500);
	peer = host_create_from_string("198.51.100.7", 500);
	d.src = me;
	d.dst = peer;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		kernel_ipsec_policy_id_t id = {
			.dir = POLICY_OUT,
			.src_ts = ts("10.1.0.0/16", sels[i].sproto, sels[i].sfrom, sels[i].sto),
			.dst_ts = ts(sels[i].dst, sels[i].dproto, sels[i].dfrom, sels[i].dto),
		};

		ki->add_policy(ki, &id, &d);
		expect(sels[i].what, sels[i].dst, sels[i].want, sels[i].not);
	}
	{
		kernel_ipsec_policy_id_t id = { .dir = POLICY_OUT,
						.src_ts = ts("10.1.0.0/16", 0, 0, 65535),
						.dst_ts = ts("10.6.0.0/16", 0, 0, 65535) };
		int n;

		ki->add_policy(ki, &id, &d);   /* the CHILD_SA */
		ki->add_policy(ki, &id, &d);   /* its rekey's */
		ki->del_policy(ki, &id, &d);   /* the old one's */
		n = count_lines("10.6.0.0/16");
		if (n != 1) {
			printf("FAIL a rekey re-sends no policy: %d requests, want 1\n", n);
			failures++;
		} else {
			printf("PASS a rekey re-sends no policy (1 request)\n");
		}
		ki->del_policy(ki, &id, &d);
		expect("... and the last delete removes it", "10.6.0.0/16", "'policy' 'del'", NULL);
	}
	{
		uint32_t spi;

		ki->get_spi(ki, peer, me, IPPROTO_ESP, &spi);
		expect("get_spi: charon's spi_min and spi_max", "allocspi",
		       "'min' '0xc1000000' 'max' '0xc1ffffff'", NULL);
	}
	{
		kernel_ipsec_policy_id_t id = { .dir = POLICY_OUT,
						.src_ts = ts("10.1.0.0/16", 0, 0, 65535),
						.dst_ts = ts("10.5.0.0/16", 0, 0, 65535) };
		ipsec_sa_cfg_t none = { .mode = MODE_TRANSPORT };
		kernel_ipsec_manage_policy_t drop = { .type = POLICY_DROP,
						      .prio = POLICY_PRIORITY_DEFAULT, .sa = &none };

		ki->add_policy(ki, &id, &d);
		ki->add_policy(ki, &id, &drop);
		expect("a drop shunt after an SA's policy, same priority: the SA's stays",
		       "10.5.0.0/16", "'tmpl'", "'block'");
	}
	{
		/* 10.8.0.1-10.8.0.200 is told to espd as 10.8.0.0/24. */
		kernel_ipsec_policy_id_t range = {
			.dir = POLICY_OUT,
			.src_ts = ts("10.1.0.0/16", 0, 0, 65535),
			.dst_ts = traffic_selector_create_from_string(0, TS_IPV4_ADDR_RANGE,
								      "10.8.0.1", 0, "10.8.0.200",
								      65535),
		};
		kernel_ipsec_policy_id_t net = { .dir = POLICY_OUT,
						 .src_ts = ts("10.1.0.0/16", 0, 0, 65535),
						 .dst_ts = ts("10.8.0.0/24", 0, 0, 65535) };
		ipsec_sa_cfg_t sa9 = { .mode = MODE_TUNNEL, .reqid = 9, .esp = { .use = TRUE } };
		kernel_ipsec_manage_policy_t d9 = d;

		d9.sa = &sa9;
		ki->add_policy(ki, &range, &d);
		ki->add_policy(ki, &net, &d9);
		ki->del_policy(ki, &range, &d);
		expect("selectors told alike are one policy: deleting one leaves the other's",
		       "10.8.0.0/24", "'reqid' '9'", "'policy' 'del'");
		ki->del_policy(ki, &net, &d9);
		expect("... and deleting the other removes it", "10.8.0.0/24", "'policy' 'del'",
		       NULL);
	}
	{
		kernel_ipsec_sa_id_t sid = { .src = peer, .dst = me, .spi = htonl(0xc0000001),
					     .proto = IPPROTO_ESP };
		kernel_ipsec_add_sa_t ad = {
			.reqid = 7, .mode = MODE_TUNNEL, .lifetime = &lt,
			.enc_alg = ENCR_AES_GCM_ICV16, .enc_key = chunk_from_thing(key),
			.int_alg = AUTH_UNDEFINED, .replay_window = 32, .inbound = TRUE,
			.update = TRUE, .copy_ecn = TRUE,
		};
		status_t st = ki->add_sa(ki, &sid, &ad);

		expect("add_sa: the update of a lost SPI falls back to state add",
		       "0xc0000001", "'state' 'add'", NULL);
		if (st != SUCCESS) {
			printf("FAIL add_sa returned %d\n", st);
			failures++;
		}
	}
	{
		/* Three outbound SAs: 0x10 espd lost (a hard expire never
		 * came), 0x11 past its soft byte limit, 0x12 within its; and
		 * the inbound 0xc0000001 from above, no limits. */
		static const char list[] =
			"[{\"dst\":\"203.0.113.5\",\"spi\":\"0xc0000001\",\"dir\":\"in\","
			"\"lifetime\":{},\"current\":{\"bytes\":0,\"packets\":0,"
			"\"add_time\":1.5}},{\"dst\":\"198.51.100.7\",\"spi\":\"0x00000011\",\"dir\":\"out\","
			"\"lifetime\":{\"byte-soft\":1000},\"current\":{\"bytes\":1500,"
			"\"packets\":3,\"add_time\":1.5}},"
			"{\"dst\":\"198.51.100.7\",\"spi\":\"0x00000012\",\"dir\":\"out\","
			"\"lifetime\":{\"byte-soft\":1000},\"current\":{\"bytes\":500,"
			"\"packets\":1,\"add_time\":1.5}}]";
		kernel_listener_t heard = { .expire = on_expire_heard };
		uint32_t spi;
		int i, got;

		charon->kernel->add_listener(charon->kernel, &heard);
		for (spi = 0x10; spi <= 0x12; spi++)
			add_out_sa(ki, me, peer, spi);
		for (i = 0; i < 200 && monitor < 0; i++)
			usleep(10 * 1000);
		state_list = list;
		/* ids 20 and 21 in a row: no gap, nothing asked. */
		send_event("{\"event\":\"policy\",\"id\":20}\n"
			   "{\"event\":\"state\",\"id\":21}\n");
		usleep(300 * 1000);
		if (count_lines("'state' 'list'") != 0 || wait_expired(0) != 0) {
			printf("FAIL events in a row: no catching up\n");
			failures++;
		} else {
			printf("PASS events in a row: no catching up\n");
		}
		send_event("{\"event\":\"state\",\"id\":25}\n");
		wait_expired(2);
		usleep(100 * 1000); /* a third, wrong one would come by now */
		got = wait_expired(0);
		if (got != 2 || expired[0] != (0x10 | 1u << 31) || expired[1] != 0x11) {
			printf("FAIL a gap in event ids: %d expires (want hard 0x10, soft 0x11)\n", got);
			failures++;
		} else {
			printf("PASS a gap in event ids: hard expire of the lost SA, soft of the "
			       "one past its soft limit\n");
		}
		expect("... from espd's state list", "'state' 'list'", "'state' 'list'", NULL);

		/* An SA charon adds while the catching up has its list but
		 * not yet the lock: newer than the list, not lost. */
		{
			private_kernel_espd_ipsec_t *priv = (private_kernel_espd_ipsec_t *)k;
			int lists = count_lines("'state' 'list'"), before = wait_expired(0), j;
			bool hard20 = false;
			status_t st;

			priv->lock->lock(priv->lock);
			send_event("{\"event\":\"state\",\"id\":30}\n");
			for (i = 0; i < 200 && count_lines("'state' 'list'") == lists; i++)
				usleep(10 * 1000);
			usleep(50 * 1000);
			st = add_out_sa(ki, me, peer, 0x20);
			priv->lock->unlock(priv->lock);
			got = wait_expired(before + 1);
			usleep(200 * 1000);
			got = wait_expired(0);
			pthread_mutex_lock(&seen_lock);
			for (j = before; j < got; j++)
				hard20 |= expired[j] == (0x20 | 1u << 31);
			pthread_mutex_unlock(&seen_lock);
			if (st != SUCCESS || hard20 || got == before) {
				printf("FAIL an SA added during catching up: add %d, %s\n", st,
				       hard20 ? "hard-expired as lost" : "no catching up seen");
				failures++;
			} else {
				printf("PASS an SA added during catching up is not taken for lost\n");
			}
		}

		/* espd restarts: its monitor closes; an SA charon adds before
		 * the monitor is back went to the new espd. */
		{
			int before = wait_expired(0), j, fd = monitor;
			bool old11 = false, new30 = false;

			refuse_monitor = 1;
			monitor = -1;
			shutdown(fd, SHUT_RDWR);
			usleep(300 * 1000);
			add_out_sa(ki, me, peer, 0x30);
			refuse_monitor = 0;
			for (i = 0; i < 300 && monitor < 0; i++)
				usleep(10 * 1000);
			wait_expired(before + 1);
			usleep(200 * 1000);
			got = wait_expired(0);
			pthread_mutex_lock(&seen_lock);
			for (j = before; j < got; j++) {
				old11 |= expired[j] == 0x11;
				new30 |= (expired[j] & 0x7fffffff) == 0x30;
			}
			pthread_mutex_unlock(&seen_lock);
			if (!old11 || new30) {
				printf("FAIL espd restarting: %s\n", !old11 ? "the old SA 0x11 not rekeyed" :
				       "the SA added since (0x30) rekeyed too");
				failures++;
			} else {
				printf("PASS espd restarting: old SAs rekeyed, not one added since\n");
			}
		}
		charon->kernel->remove_listener(charon->kernel, &heard);
	}
	{
		kernel_ipsec_policy_id_t id = { .dir = POLICY_OUT,
						.src_ts = ts("10.1.0.0/16", 0, 0, 65535),
						.dst_ts = ts("10.9.0.0/16", 0, 0, 65535) };
		status_t st_sa = add_out_sa(ki, me, peer, 0x77);
		status_t st_pol = ki->add_policy(ki, &id, &d);
		int i;

		if (st_sa != FAILED || st_pol != FAILED) {
			printf("FAIL unanswered requests: add_sa %d, add_policy %d (want FAILED)\n",
			       st_sa, st_pol);
			failures++;
		} else {
			printf("PASS unanswered requests fail\n");
		}
		for (i = 0; i < 300 && (count_lines("'state' 'del' 'src' '203.0.113.5' 'dst' "
						    "'198.51.100.7' 'proto' 'esp' 'spi' '0x00000077'") == 0 ||
					count_lines("'policy' 'del' 'src' '10.1.0.0/16' "
						    "'dst' '10.9.0.0/16' 'dir' 'out'") == 0); i++)
			usleep(10 * 1000);
		expect("... the SA deleted once espd answers", "0x00000077", "'state' 'del'", NULL);
		expect("... and the policy", "10.9.0.0/16", "'policy' 'del'", NULL);

		/* MOBIKE: a migrate left unanswered. */
		{
			host_t *me2 = host_create_from_string("203.0.113.9", 4500);
			kernel_ipsec_sa_id_t mid = { .src = me, .dst = peer, .spi = htonl(0x78),
						     .proto = IPPROTO_ESP };
			kernel_ipsec_update_sa_t ud = { .new_src = me2, .new_dst = peer };
			status_t st;

			add_out_sa(ki, me, peer, 0x78);
			st = ki->update_sa(ki, &mid, &ud);
			for (i = 0; i < 300 && count_lines("'state' 'del' 'src' '203.0.113.5' 'dst' "
							    "'198.51.100.7' 'proto' 'esp' 'spi' "
							    "'0x00000078'") == 0; i++)
				usleep(10 * 1000);
			if (st != FAILED) {
				printf("FAIL an unanswered migrate: update_sa %d, want FAILED\n", st);
				failures++;
			}
			expect("... a failed migrate: the SA at its old address deleted", "0x00000078",
			       "'state' 'del' 'src' '203.0.113.5'", NULL);
			me2->destroy(me2);
		}

		/* flush_sas: a `state del` left unanswered is sent again once
		 * espd answers, as del_sa's is. */
		add_out_sa(ki, me, peer, 0x79);
		ki->flush_sas(ki);
		for (i = 0; i < 300 && count_lines("'state' 'del' 'src' '203.0.113.5' 'dst' "
						    "'198.51.100.7' 'proto' 'esp' 'spi' "
						    "'0x00000079'") < 2; i++)
			usleep(10 * 1000);
		if (count_lines("'state' 'del' 'src' '203.0.113.5' 'dst' '198.51.100.7' 'proto' "
				"'esp' 'spi' '0x00000079'") < 2) {
			printf("FAIL flush_sas: an unanswered `state del` is not sent again\n");
			failures++;
		} else {
			printf("PASS flush_sas: an unanswered `state del` is sent again\n");
		}
	}
	ki->destroy(ki);
	unlink(sock_path);
	printf("plugin_words: %s\n", failures ? "FAILED" : "all passed");
	return failures != 0;
}
