/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "config" suite: word splitting, every command of the grammar, the
 * errors (message and word index), the file loader with file:line, the
 * cross-line checks and --check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "config/config.h"
#include "unit.h"

#define GCM128_KEY "0x0102030405060708090a0b0c0d0e0f1011121314"
#define CBC_KEY "0x00112233445566778899aabbccddeeff"
#define SHA256_KEY "0xffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define SA_ID "src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1000"

/* ---- helpers ---------------------------------------------------------- */

static int
parse(const char *line, struct cfg_cmd *cmd, struct cfg_error *err)
{
	return cfg_parse_line(line, cmd, err);
}

/* Parse, and fail the test (showing why) when it does not parse. */
static int
parse_ok(const char *line, struct cfg_cmd *cmd)
{
	struct cfg_error err;
	int ret = parse(line, cmd, &err);

	if (ret != 0)
		fprintf(stderr, "\n  unexpected error for '%s': [%d] %s\n", line,
			err.word, err.msg);
	CU_ASSERT_EQUAL(ret, 0);
	return ret;
}

static void
expect_err(const char *line, const char *msg, int word)
{
	struct cfg_cmd cmd;
	struct cfg_error err;
	int ret = parse(line, &cmd, &err);

	if (ret == 0 || strstr(err.msg, msg) == NULL || err.word != word)
		fprintf(stderr, "\n  line '%.80s': got %d [%d] '%s', want [%d] '%s'\n",
			line, ret, err.word, ret ? err.msg : "", word, msg);
	CU_ASSERT_TRUE(ret < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, msg));
	CU_ASSERT_EQUAL(err.word, word);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_NONE); /* cleared on error */
	cfg_cmd_clear(&cmd);
}

static bool
addr_is(const struct cfg_addr *a, const char *text, unsigned int len)
{
	char buf[64];

	cfg_addr_str(a, false, buf, sizeof(buf));
	return strcmp(buf, text) == 0 && a->len == len;
}

/* Words of a split, joined by '|', for compact expectations. */
static void
split_is(const char *line, const char *joined)
{
	struct cfg_words ws;
	struct cfg_error err;
	char got[256] = "";
	unsigned int i;
	int ret = cfg_split(line, strlen(line), &ws, &err);

	CU_ASSERT_EQUAL_FATAL(ret, 0);
	for (i = 0; i < ws.n; i++) {
		if (i > 0)
			strcat(got, "|");
		strcat(got, ws.w[i]);
	}
	CU_ASSERT_PTR_NULL(ws.w[ws.n]);
	if (strcmp(got, joined) != 0)
		fprintf(stderr, "\n  split '%s': got '%s' want '%s'\n", line, got,
			joined);
	CU_ASSERT_STRING_EQUAL(got, joined);
	cfg_words_free(&ws);
}

static char *
write_temp(const char *text, size_t len)
{
	static const char tmpl[] = "/tmp/espd_cfg_XXXXXX";
	char *path = malloc(sizeof(tmpl));
	FILE *f;
	int fd;

	if (path == NULL)
		return NULL;
	memcpy(path, tmpl, sizeof(tmpl));
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (f == NULL || fwrite(text, 1, len, f) != len) {
		if (f != NULL)
			fclose(f);
		unlink(path);
		free(path);
		return NULL;
	}
	fclose(f);
	return path;
}

/* ---- splitting --------------------------------------------------------- */

static void
test_split_quoting(void)
{
	split_is("", "");
	split_is("   \t  ", "");
	split_is("a b\tc", "a|b|c");
	split_is("  lead trail  ", "lead|trail");
	split_is("'rfc4106(gcm(aes))' x", "rfc4106(gcm(aes))|x");
	split_is("\"a b\" c", "a b|c");
	split_is("enc cipher_null \"\" auth", "enc|cipher_null||auth");
	split_is("'' \"\"", "|");
	split_is("a'b'\"c\"d", "abcd");
	split_is("'a\\b'", "a\\b");             /* backslash literal in '' */
	split_is("\"a\\\"b\"", "a\"b");          /* \" in "" */
	split_is("\"a\\\\b\"", "a\\b");          /* \\ in "" */
	split_is("\"\\$x\\`\"", "$x`");          /* \$ \` in "" */
	split_is("\"a\\nb\"", "a\\nb");          /* other \ kept in "" */
	split_is("a\\ b", "a b");                /* escaped blank */
	split_is("\\'x", "'x");
	split_is("a#b #c d", "a#b");             /* # only starts a word */
	split_is("# all comment", "");
	split_is("\"#\" x", "#|x");
	split_is("''#x", "#x");
	split_is("'it''s'", "its");
	split_is("\"it's\"", "it's");
	split_is("a\\\nb c", "ab|c");            /* continuation joins */
	split_is("\"a\\\nb\"", "ab");            /* inside "" too */
	split_is("$HOME `x` ; &", "$HOME|`x`|;|&"); /* no expansion */
	split_is("trail\\", "trail\\");          /* lone final backslash */
}

static void
test_split_errors(void)
{
	struct cfg_words ws;
	struct cfg_error err;
	char *big, *many;
	size_t i;

	CU_ASSERT_EQUAL(cfg_split("a 'bc", 5, &ws, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unterminated single quote"));
	CU_ASSERT_EQUAL(err.word, 1);
	CU_ASSERT_PTR_NULL(ws.buf);
	CU_ASSERT_EQUAL(cfg_split("a b \"c", 6, &ws, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unterminated double quote"));
	CU_ASSERT_EQUAL(err.word, 2);
	CU_ASSERT_EQUAL(cfg_split("a \"b\\\"", 6, &ws, &err), -EINVAL);
	CU_ASSERT_EQUAL(cfg_split("'a\nb'", 5, &ws, &err), -EINVAL);
	CU_ASSERT_EQUAL(cfg_split("a\0b", 3, &ws, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "NUL byte"));
	/* ... after a backslash in double quotes too (not "a"). */
	CU_ASSERT_EQUAL(cfg_split("\"a\\\0b\"", 6, &ws, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "NUL byte"));

	/* 256 words fit, 257 do not */
	many = malloc(2 * (CFG_WORDS_MAX + 1) + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	for (i = 0; i < CFG_WORDS_MAX; i++)
		memcpy(many + 2 * i, "x ", 2);
	CU_ASSERT_EQUAL(cfg_split(many, 2 * CFG_WORDS_MAX, &ws, &err), 0);
	CU_ASSERT_EQUAL(ws.n, CFG_WORDS_MAX);
	cfg_words_free(&ws);
	memcpy(many + 2 * CFG_WORDS_MAX, "x", 2);
	CU_ASSERT_EQUAL(cfg_split(many, 2 * CFG_WORDS_MAX + 1, &ws, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "too many words (at most 256)"));
	CU_ASSERT_EQUAL(err.word, CFG_WORDS_MAX);
	free(many);

	big = malloc(CFG_LINE_MAX + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'a', CFG_LINE_MAX + 1);
	CU_ASSERT_EQUAL(cfg_split(big, CFG_LINE_MAX, &ws, &err), 0);
	CU_ASSERT_EQUAL(ws.n, 1);
	cfg_words_free(&ws);
	CU_ASSERT_EQUAL(cfg_split(big, CFG_LINE_MAX + 1, &ws, &err), -E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "line too long"));
	free(big);
}

/* ---- commands ---------------------------------------------------------- */

static void
test_port_route_neigh(void)
{
	struct cfg_cmd cmd;

	if (parse_ok("port 1 role unprotected addr 172.16.1.1/24 addr fd00::1/64 "
		     "mac 02:00:00:AA:bb:01 mtu 1500 queues 4", &cmd) == 0) {
		const struct cfg_port *p = &cmd.u.port;

		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_PORT);
		CU_ASSERT_EQUAL(p->id, 1);
		CU_ASSERT_EQUAL(p->role, CFG_ROLE_UNPROTECTED);
		CU_ASSERT_EQUAL(p->naddr, 2);
		CU_ASSERT_TRUE(addr_is(&p->addr[0], "172.16.1.1", 24)); /* not masked */
		CU_ASSERT_EQUAL(p->addr[0].af, AF_INET);
		CU_ASSERT_TRUE(addr_is(&p->addr[1], "fd00::1", 64));
		CU_ASSERT_EQUAL(p->addr[1].af, AF_INET6);
		CU_ASSERT_TRUE(p->has_mac);
		CU_ASSERT_EQUAL(p->mac[3], 0xaa);
		CU_ASSERT_EQUAL(p->mac[5], 0x01);
		CU_ASSERT_EQUAL(p->mtu, 1500);
		CU_ASSERT_EQUAL(p->queues, 4);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("port 0 role protected", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.port.queues, 1);
		CU_ASSERT_EQUAL(cmd.u.port.mtu, 0);
		CU_ASSERT_FALSE(cmd.u.port.has_mac);
		CU_ASSERT_EQUAL(cmd.u.port.naddr, 0);
	}
	cfg_cmd_clear(&cmd);
	/* options in any order; a bare addr is a host route */
	if (parse_ok("port 2 queues 2 addr 10.0.0.1 role protected", &cmd) == 0)
		CU_ASSERT_TRUE(addr_is(&cmd.u.port.addr[0], "10.0.0.1", 32));
	cfg_cmd_clear(&cmd);

	if (parse_ok("route add 10.9.8.7/8 port 1 via 172.16.1.254", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_ROUTE_ADD);
		CU_ASSERT_TRUE(addr_is(&cmd.u.route.prefix, "10.0.0.0", 8)); /* masked */
		CU_ASSERT_EQUAL(cmd.u.route.port, 1);
		CU_ASSERT_TRUE(cmd.u.route.has_via);
		CU_ASSERT_TRUE(addr_is(&cmd.u.route.via, "172.16.1.254", 32));
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("route add 2001:db8:1:2::5/33 port 0", &cmd) == 0) {
		CU_ASSERT_TRUE(addr_is(&cmd.u.route.prefix, "2001:db8::", 33));
		CU_ASSERT_FALSE(cmd.u.route.has_via);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("route add 0.0.0.0/0 port 3", &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.route.prefix.len, 0);
	cfg_cmd_clear(&cmd);
	/* `default`, as ip route takes it: IPv4, or IPv6 by its via. */
	if (parse_ok("route add default port 3 via 172.16.1.1", &cmd) == 0)
		CU_ASSERT_TRUE(addr_is(&cmd.u.route.prefix, "0.0.0.0", 0));
	cfg_cmd_clear(&cmd);
	if (parse_ok("route add default via fd00::1 port 3", &cmd) == 0)
		CU_ASSERT_TRUE(addr_is(&cmd.u.route.prefix, "::", 0));
	cfg_cmd_clear(&cmd);

	if (parse_ok("neigh add 172.16.1.254 lladdr 02:00:00:00:00:fe port 1",
		     &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_NEIGH_ADD);
		CU_ASSERT_TRUE(addr_is(&cmd.u.neigh.ip, "172.16.1.254", 32));
		CU_ASSERT_EQUAL(cmd.u.neigh.lladdr[5], 0xfe);
		CU_ASSERT_EQUAL(cmd.u.neigh.port, 1);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("neigh add fe80::1 port 0 lladdr 0a:0b:0c:0d:0e:0f", &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.neigh.ip.af, AF_INET6);
	cfg_cmd_clear(&cmd);
}

static void
test_state_gcm(void)
{
	char name[CFG_ALGO_NAME_MAX];
	struct cfg_cmd cmd;

	if (parse_ok("state add " SA_ID " reqid 1 mode tunnel "
		     "aead 'rfc4106(gcm(aes))' " GCM128_KEY " 128", &cmd) == 0) {
		const struct cfg_state *s = &cmd.u.state;

		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_ADD);
		CU_ASSERT_TRUE(addr_is(&s->src, "172.16.1.5", 32));
		CU_ASSERT_TRUE(addr_is(&s->dst, "172.16.2.5", 32));
		CU_ASSERT_EQUAL(s->spi, 0x1000);
		CU_ASSERT_EQUAL(s->reqid, 1);
		CU_ASSERT_EQUAL(s->mode, CFG_MODE_TUNNEL);
		CU_ASSERT_EQUAL(s->dir, CFG_DIR_NONE);
		CU_ASSERT_EQUAL(s->replay_window, 64);
		CU_ASSERT_EQUAL(s->flags, 0);
		CU_ASSERT_EQUAL(s->algo.cipher, CRYPTO_CIPHER_AES_GCM);
		CU_ASSERT_EQUAL(s->algo.auth, CRYPTO_AUTH_NONE);
		CU_ASSERT_STRING_EQUAL(cfg_algo_name(s->algo.cipher, s->algo.auth, name,
						     sizeof(name)), "rfc4106(gcm(aes))");
		CU_ASSERT_EQUAL(s->algo.cipher_key_len, 20);
		CU_ASSERT_EQUAL(s->algo.cipher_key[0], 0x01);
		CU_ASSERT_EQUAL(s->algo.cipher_key[19], 0x14);
		CU_ASSERT_EQUAL(s->algo.icv_len, 16);
		CU_ASSERT_TRUE(s->has & CFG_SA_HAS_ALGO);
		CU_ASSERT_TRUE(s->has & CFG_SA_HAS_REQID);
		CU_ASSERT_FALSE(s->has & CFG_SA_HAS_SEL);
		/* no sel: any traffic of the SA's family */
		CU_ASSERT_EQUAL(s->sel.src.af, AF_INET);
		CU_ASSERT_EQUAL(s->sel.src.len, 0);
		CU_ASSERT_EQUAL(s->sel.dport_hi, 65535);
	}
	cfg_cmd_clear(&cmd);

	/* AES-256-GCM with a 64-bit ICV, dir out, transport, IPv6 */
	if (parse_ok("state add src fd00::1 dst fd00::2 proto esp spi 4096 dir out "
		     "mode transport aead rfc4106(gcm(aes)) 0x"
		     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		     "a0a1a2a3 64", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.state.algo.cipher_key_len, 36);
		CU_ASSERT_EQUAL(cmd.u.state.algo.icv_len, 8);
		CU_ASSERT_EQUAL(cmd.u.state.dir, CFG_DIR_OUT);
		CU_ASSERT_EQUAL(cmd.u.state.mode, CFG_MODE_TRANSPORT);
		CU_ASSERT_EQUAL(cmd.u.state.src.af, AF_INET6);
	}
	cfg_cmd_clear(&cmd);

	if (parse_ok("state add " SA_ID " aead 'rfc7539esp(chacha20,poly1305)' 0x"
		     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		     "A0A1A2A3 128", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.state.algo.cipher,
				CRYPTO_CIPHER_CHACHA20_POLY1305);
		CU_ASSERT_EQUAL(cmd.u.state.algo.cipher_key[35], 0xa3);
		CU_ASSERT_EQUAL(cmd.u.state.algo.icv_len, 16);
	}
	cfg_cmd_clear(&cmd);
}

static void
test_state_cbc_orders(void)
{
	char name[CFG_ALGO_NAME_MAX];
	struct cfg_cmd a, b;

	/* ip xfrm prints auth-trunc before enc; both orders are one SA */
	if (parse_ok("state add " SA_ID " enc 'cbc(aes)' " CBC_KEY
		     " auth-trunc 'hmac(sha256)' " SHA256_KEY " 128", &a) != 0)
		return;
	if (parse_ok("state add auth-trunc 'hmac(sha256)' " SHA256_KEY " 128 "
		     "spi 4096 enc 'cbc(aes)' " CBC_KEY " proto esp dst 172.16.2.5 "
		     "src 172.16.1.5", &b) != 0) {
		cfg_cmd_clear(&a);
		return;
	}
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(a.u.state.algo.cipher, CRYPTO_CIPHER_AES_CBC);
	CU_ASSERT_EQUAL(a.u.state.algo.auth, CRYPTO_AUTH_HMAC_SHA256);
	CU_ASSERT_STRING_EQUAL(cfg_algo_name(a.u.state.algo.cipher, a.u.state.algo.auth,
					     name, sizeof(name)), "cbc(aes)+hmac(sha256)");
	CU_ASSERT_EQUAL(a.u.state.algo.cipher_key_len, 16);
	CU_ASSERT_EQUAL(a.u.state.algo.auth_key_len, 32);
	CU_ASSERT_EQUAL(a.u.state.algo.auth_key[0], 0xff);
	CU_ASSERT_EQUAL(a.u.state.algo.icv_len, 16);
	cfg_cmd_clear(&a);
	cfg_cmd_clear(&b);

	if (parse_ok("state add " SA_ID " enc cipher_null \"\" "
		     "auth-trunc 'hmac(sha1)' 0x0102 96", &a) == 0) {
		CU_ASSERT_EQUAL(a.u.state.algo.cipher, CRYPTO_CIPHER_NULL);
		CU_ASSERT_EQUAL(a.u.state.algo.cipher_key_len, 0);
		CU_ASSERT_EQUAL(a.u.state.algo.auth, CRYPTO_AUTH_HMAC_SHA1);
		CU_ASSERT_EQUAL(a.u.state.algo.auth_key_len, 2);
		CU_ASSERT_EQUAL(a.u.state.algo.icv_len, 12);
	}
	cfg_cmd_clear(&a);
	if (parse_ok("state add " SA_ID " enc aes 0x" "00112233445566778899aabbccddeeff"
		     "00112233445566778899aabbccddeeff auth-trunc 'hmac(sha384)' "
		     CBC_KEY " 192", &a) == 0) {
		CU_ASSERT_EQUAL(a.u.state.algo.cipher_key_len, 32);
		CU_ASSERT_EQUAL(a.u.state.algo.icv_len, 24);
	}
	cfg_cmd_clear(&a);
	if (parse_ok("state add " SA_ID " enc 'cbc(aes)' " CBC_KEY
		     " auth-trunc 'hmac(sha512)' " CBC_KEY " 256", &a) == 0)
		CU_ASSERT_EQUAL(a.u.state.algo.icv_len, 32);
	cfg_cmd_clear(&a);
}

static void
test_state_options(void)
{
	struct cfg_cmd cmd;

	if (parse_ok("state add " SA_ID " dir in reqid 0x10 seq 7 mode tunnel "
		     "replay-window 4096 flag esn flag noecn decap-dscp "
		     "flag dont-encap-dscp replay-seq 100 replay-oseq 200 "
		     "replay-seq-hi 1 replay-oseq-hi 2 "
		     "aead 'rfc4106(gcm(aes))' " GCM128_KEY " 96 "
		     "encap espinudp 4500 4501 0.0.0.0 "
		     "sel src 192.168.1.10/24 dst 192.168.2.0/24 proto tcp sport 40001 dport 5001 "
		     "limit byte-soft 1000 packet-hard 0x20 limit time-hard 60", &cmd) == 0) {
		const struct cfg_state *s = &cmd.u.state;

		CU_ASSERT_EQUAL(s->dir, CFG_DIR_IN);
		CU_ASSERT_EQUAL(s->reqid, 16);
		CU_ASSERT_EQUAL(s->seq, 7);
		CU_ASSERT_EQUAL(s->replay_window, 4096);
		CU_ASSERT_EQUAL(s->flags, CFG_SA_F_ESN | CFG_SA_F_NOECN |
				CFG_SA_F_DECAP_DSCP | CFG_SA_F_DONT_ENCAP_DSCP);
		CU_ASSERT_EQUAL(s->replay_seq, 100);
		CU_ASSERT_EQUAL(s->replay_oseq, 200);
		CU_ASSERT_EQUAL(s->replay_seq_hi, 1);
		CU_ASSERT_EQUAL(s->replay_oseq_hi, 2);
		CU_ASSERT_EQUAL(s->algo.icv_len, 12);
		CU_ASSERT_TRUE(s->has & CFG_SA_HAS_ENCAP);
		CU_ASSERT_EQUAL(s->encap_sport, 4500);
		CU_ASSERT_EQUAL(s->encap_dport, 4501);
		CU_ASSERT_EQUAL(s->encap_oa.af, AF_INET);
		CU_ASSERT_TRUE(s->has & CFG_SA_HAS_SEL);
		CU_ASSERT_TRUE(addr_is(&s->sel.src, "192.168.1.0", 24));
		CU_ASSERT_TRUE(addr_is(&s->sel.dst, "192.168.2.0", 24));
		CU_ASSERT_EQUAL(s->sel.proto, 6);
		CU_ASSERT_TRUE(s->sel.has_sport && s->sel.has_dport);
		CU_ASSERT_EQUAL(s->sel.sport_lo, 40001);
		CU_ASSERT_EQUAL(s->sel.sport_hi, 40001);
		CU_ASSERT_EQUAL(s->sel.dport_lo, 5001);
		CU_ASSERT_EQUAL(s->limit_set, (1u << CFG_LIMIT_BYTE_SOFT) |
				(1u << CFG_LIMIT_PACKET_HARD) | (1u << CFG_LIMIT_TIME_HARD));
		CU_ASSERT_EQUAL(s->limit[CFG_LIMIT_BYTE_SOFT], 1000);
		CU_ASSERT_EQUAL(s->limit[CFG_LIMIT_PACKET_HARD], 32);
		CU_ASSERT_EQUAL(s->limit[CFG_LIMIT_TIME_HARD], 60);
	}
	cfg_cmd_clear(&cmd);

	/* sel before the SA's own src/dst: a repeated key ends the sel */
	if (parse_ok("state add sel src 10.0.0.0/8 dst 10.1.0.0/16 src 1.1.1.1 "
		     "dst 2.2.2.2 proto esp spi 300 encap espinudp 4500 4500 :: "
		     "aead rfc4106(gcm(aes)) " GCM128_KEY " 128", &cmd) == 0) {
		CU_ASSERT_TRUE(addr_is(&cmd.u.state.sel.src, "10.0.0.0", 8));
		CU_ASSERT_TRUE(addr_is(&cmd.u.state.src, "1.1.1.1", 32));
		CU_ASSERT_EQUAL(cmd.u.state.sel.proto, 0);
		CU_ASSERT_EQUAL(cmd.u.state.encap_oa.af, AF_INET6);
	}
	cfg_cmd_clear(&cmd);

	/* a tunnel SA may carry the other family */
	if (parse_ok("state add " SA_ID " sel src fd00::/64 dst fd01::/64 proto udp "
		     "dport 53 aead rfc4106(gcm(aes)) " GCM128_KEY " 128", &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.state.sel.src.af, AF_INET6);
	cfg_cmd_clear(&cmd);

	/* replay-window 0 (off) and the largest SPI */
	if (parse_ok("state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 4294967295 "
		     "replay-window 0 aead rfc4106(gcm(aes)) " GCM128_KEY " 128",
		     &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.state.spi, 0xffffffffu);
		CU_ASSERT_EQUAL(cmd.u.state.replay_window, 0);
	}
	cfg_cmd_clear(&cmd);
}

static void
test_state_other(void)
{
	struct cfg_cmd cmd;

	/* update: the algorithm is optional, `has` says what is replaced */
	if (parse_ok("state update " SA_ID " limit packet-soft 10", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_UPDATE);
		CU_ASSERT_EQUAL(cmd.u.state.has, CFG_SA_HAS_LIMIT);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("state update " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY
		     " 128", &cmd) == 0)
		CU_ASSERT_TRUE(cmd.u.state.has & CFG_SA_HAS_ALGO);
	cfg_cmd_clear(&cmd);

	if (parse_ok("state del spi 0x1000 proto esp dst 172.16.2.5 src 172.16.1.5",
		     &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_DEL);
		CU_ASSERT_EQUAL(cmd.u.sa.spi, 0x1000);
		CU_ASSERT_FALSE(cmd.u.sa.show_keys);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("state delete " SA_ID, &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_DEL);
	cfg_cmd_clear(&cmd);
	if (parse_ok("state get " SA_ID " show-keys", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_GET);
		CU_ASSERT_TRUE(cmd.u.sa.show_keys);
	}
	cfg_cmd_clear(&cmd);

	if (parse_ok("state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_ALLOCSPI);
		CU_ASSERT_EQUAL(cmd.u.allocspi.min, 256);
		CU_ASSERT_EQUAL(cmd.u.allocspi.max, 0xffffffffu);
		CU_ASSERT_FALSE(cmd.u.allocspi.has_reqid);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp reqid 5 seq 7 "
		     "min 0x1000 max 0x1fff", &cmd) == 0) {
		CU_ASSERT_TRUE(cmd.u.allocspi.has_reqid && cmd.u.allocspi.has_seq);
		CU_ASSERT_EQUAL(cmd.u.allocspi.reqid, 5);
		CU_ASSERT_EQUAL(cmd.u.allocspi.seq, 7);
		CU_ASSERT_EQUAL(cmd.u.allocspi.min, 0x1000);
		CU_ASSERT_EQUAL(cmd.u.allocspi.max, 0x1fff);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp min 500 max 500",
		     &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.allocspi.min, cmd.u.allocspi.max);
	cfg_cmd_clear(&cmd);

	CU_ASSERT_EQUAL(parse_ok("state list", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_LIST);
	CU_ASSERT_EQUAL(parse_ok("state flush", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_FLUSH);
	CU_ASSERT_EQUAL(parse_ok("state count", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_COUNT);
	cfg_cmd_clear(&cmd);
}

/* ICMP selectors: `type` and `code` in the places of the ports, as
 * `ip xfrm` writes them (and ACQUIREs print them). */
static void
test_icmp_sel(void)
{
	struct cfg_cmd cmd;

	if (parse_ok("state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1000 "
		     "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		     "sel src 192.168.1.10/32 dst 192.168.2.1/32 proto icmp type 8 code 0",
		     &cmd) == 0) {
		const struct cfg_sel *s = &cmd.u.state.sel;

		CU_ASSERT_EQUAL(s->proto, 1);
		CU_ASSERT_TRUE(s->has_sport && s->has_dport);
		CU_ASSERT_EQUAL(s->sport_lo, 8);
		CU_ASSERT_EQUAL(s->sport_hi, 8);
		CU_ASSERT_EQUAL(s->dport_lo, 0);
		CU_ASSERT_EQUAL(s->dport_hi, 0);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("policy add src ::/0 dst ::/0 proto ipv6-icmp type 133-137 dir in",
		     &cmd) == 0) {
		const struct cfg_sel *s = &cmd.u.policy.sel;

		CU_ASSERT_EQUAL(s->sport_lo, 133);
		CU_ASSERT_EQUAL(s->sport_hi, 137);
		CU_ASSERT_FALSE(s->has_dport);
		CU_ASSERT_EQUAL(s->dport_hi, 65535);
	}
	cfg_cmd_clear(&cmd);
}

static void
test_policy(void)
{
	struct cfg_cmd cmd;

	if (parse_ok("policy add src 192.168.1.0/24 dst 192.168.2.0/24 proto tcp "
		     "sport 1024-65535 dport 80 dir out priority 10 action allow "
		     "index 3 tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1 "
		     "mode tunnel level use pfp src,dst,proto,sport,dport", &cmd) == 0) {
		const struct cfg_policy *p = &cmd.u.policy;

		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_POLICY_ADD);
		CU_ASSERT_TRUE(addr_is(&p->sel.src, "192.168.1.0", 24));
		CU_ASSERT_EQUAL(p->sel.proto, 6);
		CU_ASSERT_EQUAL(p->sel.sport_lo, 1024);
		CU_ASSERT_EQUAL(p->sel.sport_hi, 65535);
		CU_ASSERT_EQUAL(p->sel.dport_lo, 80);
		CU_ASSERT_EQUAL(p->sel.dport_hi, 80);
		CU_ASSERT_EQUAL(p->dir, CFG_DIR_OUT);
		CU_ASSERT_EQUAL(p->priority, 10);
		CU_ASSERT_EQUAL(p->action, CFG_ACTION_ALLOW);
		CU_ASSERT_TRUE(p->has_index);
		CU_ASSERT_EQUAL(p->index, 3);
		CU_ASSERT_TRUE(p->has_tmpl);
		CU_ASSERT_TRUE(p->tmpl.has_src_dst);
		CU_ASSERT_TRUE(addr_is(&p->tmpl.dst, "172.16.2.5", 32));
		CU_ASSERT_EQUAL(p->tmpl.reqid, 1);
		CU_ASSERT_EQUAL(p->tmpl.level, CFG_LEVEL_USE);
		CU_ASSERT_EQUAL(p->pfp, PFP_SRC | PFP_DST | PFP_PROTO |
				PFP_SPORT | PFP_DPORT);
	}
	cfg_cmd_clear(&cmd);

	/* tmpl first, then the policy's own src/dst; defaults */
	if (parse_ok("policy add tmpl src 1.1.1.1 dst 2.2.2.2 proto esp "
		     "src 10.0.0.1/8 dst 0.0.0.0/0 proto udp dir fwd pfp dport", &cmd) == 0) {
		const struct cfg_policy *p = &cmd.u.policy;

		CU_ASSERT_TRUE(addr_is(&p->sel.src, "10.0.0.0", 8));
		CU_ASSERT_TRUE(addr_is(&p->tmpl.src, "1.1.1.1", 32));
		CU_ASSERT_EQUAL(p->dir, CFG_DIR_FWD);
		CU_ASSERT_EQUAL(p->priority, 0);
		CU_ASSERT_EQUAL(p->tmpl.mode, CFG_MODE_TUNNEL);
		CU_ASSERT_EQUAL(p->tmpl.level, CFG_LEVEL_REQUIRED);
		CU_ASSERT_FALSE(p->has_index);
		CU_ASSERT_FALSE(p->sel.has_sport);
		CU_ASSERT_EQUAL(p->sel.sport_hi, 65535);
		CU_ASSERT_EQUAL(p->pfp, PFP_DPORT);
	}
	cfg_cmd_clear(&cmd);

	if (parse_ok("policy add src ::/0 dst ::/0 dir in action block priority 100",
		     &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.policy.action, CFG_ACTION_BLOCK);
		CU_ASSERT_FALSE(cmd.u.policy.has_tmpl);
		CU_ASSERT_EQUAL(cmd.u.policy.sel.src.af, AF_INET6);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto 132 dir out "
		     "tmpl proto esp mode transport", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.policy.sel.proto, 132);
		CU_ASSERT_FALSE(cmd.u.policy.tmpl.has_src_dst);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("policy add src fd00::/8 dst fd00::/8 proto ipv6-icmp dir out",
		     &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.policy.sel.proto, 58);
	cfg_cmd_clear(&cmd);

	if (parse_ok("policy del index 3", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_POLICY_DEL);
		CU_ASSERT_TRUE(cmd.u.policy_del.by_index);
		CU_ASSERT_EQUAL(cmd.u.policy_del.index, 3);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("policy del src 10.0.0.0/8 dst 10.1.0.0/16 proto udp dport 53 "
		     "dir in", &cmd) == 0) {
		CU_ASSERT_FALSE(cmd.u.policy_del.by_index);
		CU_ASSERT_EQUAL(cmd.u.policy_del.dir, CFG_DIR_IN);
		CU_ASSERT_EQUAL(cmd.u.policy_del.sel.dport_lo, 53);
	}
	cfg_cmd_clear(&cmd);
	CU_ASSERT_EQUAL(parse_ok("policy list", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_POLICY_LIST);
	CU_ASSERT_EQUAL(parse_ok("policy flush", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_POLICY_FLUSH);
	cfg_cmd_clear(&cmd);
}

static void
test_misc_cmds(void)
{
	struct cfg_cmd cmd;

	CU_ASSERT_EQUAL(parse_ok("stats", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATS);
	CU_ASSERT_EQUAL(parse_ok("stats reset", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATS_RESET);
	CU_ASSERT_EQUAL(parse_ok("monitor", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_MONITOR);
	CU_ASSERT_EQUAL(cmd.u.monitor, CFG_MON_ALL);
	CU_ASSERT_EQUAL(parse_ok("monitor acquire invalid-spi", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.monitor, CFG_MON_ACQUIRE | CFG_MON_INVALID_SPI);
	CU_ASSERT_EQUAL(parse_ok("monitor expire policy state", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.monitor, CFG_MON_EXPIRE | CFG_MON_POLICY | CFG_MON_STATE);
	CU_ASSERT_EQUAL(parse_ok("monitor mapping", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.monitor, CFG_MON_MAPPING);
	CU_ASSERT_EQUAL(parse_ok("monitor", &cmd), 0);
	CU_ASSERT(cmd.u.monitor & CFG_MON_MAPPING);
	CU_ASSERT_EQUAL(parse_ok("state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 "
				 "new-src 3.3.3.3 encap espinudp 4501 4500 0.0.0.0", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_STATE_MIGRATE);
	CU_ASSERT(cmd.u.migrate.has_new_src && !cmd.u.migrate.has_new_dst);
	CU_ASSERT_EQUAL(cmd.u.migrate.new_src.a[0], 3);
	CU_ASSERT_EQUAL(cmd.u.migrate.encap, CFG_MIGRATE_ENCAP_UDP);
	CU_ASSERT_EQUAL(cmd.u.migrate.encap_sport, 4501);
	CU_ASSERT_EQUAL(cmd.u.migrate.encap_dport, 4500);
	CU_ASSERT_EQUAL(cmd.u.migrate.spi, 0x1000);
	CU_ASSERT_EQUAL(parse_ok("state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 "
				 "encap none", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.migrate.encap, CFG_MIGRATE_ENCAP_NONE);
	/* SA selectors take port ranges; 0-65535 is no restriction */
	CU_ASSERT_EQUAL(parse_ok("state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 "
				 "aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 "
				 "sel src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp sport 1024-2048 "
				 "dport 0-65535", &cmd), 0);
	CU_ASSERT(cmd.u.state.sel.has_sport);
	CU_ASSERT_EQUAL(cmd.u.state.sel.sport_lo, 1024);
	CU_ASSERT_EQUAL(cmd.u.state.sel.sport_hi, 2048);
	CU_ASSERT(!cmd.u.state.sel.has_dport);
	CU_ASSERT_EQUAL(cmd.u.state.sel.dport_lo, 0);
	CU_ASSERT_EQUAL(cmd.u.state.sel.dport_hi, 65535);
	cfg_cmd_clear(&cmd);
	CU_ASSERT_EQUAL(parse_ok("set acquire-expires 30", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_SET);
	CU_ASSERT_EQUAL(cmd.u.set.key, CFG_SET_ACQUIRE_EXPIRES);
	CU_ASSERT_EQUAL(cmd.u.set.value, 30);
	CU_ASSERT_EQUAL(parse_ok("set acquire-queue 64", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.set.key, CFG_SET_ACQUIRE_QUEUE);
	CU_ASSERT_EQUAL(parse_ok("set acquire-queue-total 0x10000", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.u.set.key, CFG_SET_ACQUIRE_QUEUE_TOTAL);
	CU_ASSERT_EQUAL(cmd.u.set.value, 65536);
	CU_ASSERT_EQUAL(parse_ok("  # just a comment", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_NONE);
	CU_ASSERT_EQUAL(parse_ok("", &cmd), 0);
	CU_ASSERT_EQUAL(cmd.type, CFG_CMD_NONE);
	CU_ASSERT_STRING_EQUAL(cfg_cmd_name(CFG_CMD_STATE_ALLOCSPI), "state allocspi");
	cfg_cmd_clear(&cmd);
}

/* set allocspi-expires SECONDS: how long `state allocspi` holds an SPI */
static void
test_set_allocspi_expires(void)
{
	struct cfg_cmd cmd;

	if (parse_ok("set allocspi-expires 300", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_SET);
		CU_ASSERT_EQUAL(cmd.u.set.key, CFG_SET_ALLOCSPI_EXPIRES);
		CU_ASSERT_EQUAL(cmd.u.set.value, 300);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("set allocspi-expires 86400", &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.set.value, 86400);
	cfg_cmd_clear(&cmd);
	if (parse_ok("set allocspi-expires 1", &cmd) == 0)
		CU_ASSERT_EQUAL(cmd.u.set.value, 1);
	cfg_cmd_clear(&cmd);
	expect_err("set allocspi-expires 0",
		   "expected a number from 1 to 86400 after 'allocspi-expires', got '0'", 2);
	expect_err("set allocspi-expires 86401",
		   "expected a number from 1 to 86400 after 'allocspi-expires', got '86401'", 2);
	expect_err("set allocspi-expires", "missing value after 'allocspi-expires'", 1);
	expect_err("set allocspi-expires 30 30", "unexpected '30' in set", 3);
}

/* port tap/xdp-steer, neigh del/list/flush, and the settings after
 * allocspi-expires: what each stores */
static void
test_tap_neigh_settings(void)
{
	static const struct {
		const char *line;
		uint8_t key;
		uint32_t value;
	} sets[] = {
		{ "set worker-idle poll", CFG_SET_WORKER_IDLE, CFG_IDLE_POLL },
		{ "set worker-idle adaptive", CFG_SET_WORKER_IDLE, CFG_IDLE_ADAPTIVE },
		{ "set out-sa owner", CFG_SET_OUT_SA, CFG_OUT_SA_OWNER },
		{ "set out-sa shared", CFG_SET_OUT_SA, CFG_OUT_SA_SHARED },
		{ "set tcp-mss-clamp off", CFG_SET_TCP_MSS_CLAMP, 0 },
		{ "set tcp-mss-clamp auto", CFG_SET_TCP_MSS_CLAMP, CFG_MSS_AUTO },
		{ "set tcp-mss-clamp 536", CFG_SET_TCP_MSS_CLAMP, CFG_MSS_MIN },
		{ "set tcp-mss-clamp 0x5a0", CFG_SET_TCP_MSS_CLAMP, 1440 },
		{ "set tcp-mss-clamp 65535", CFG_SET_TCP_MSS_CLAMP, 65535 },
		{ "set icmp-ratelimit 0", CFG_SET_ICMP_RATELIMIT, 0 },
		{ "set icmp-ratelimit 1000", CFG_SET_ICMP_RATELIMIT, 1000 },
		{ "set icmp-ratelimit 1000000", CFG_SET_ICMP_RATELIMIT, 1000000 },
		{ "set neigh-reachable 1", CFG_SET_NEIGH_REACHABLE, 1 },
		{ "set neigh-reachable 30", CFG_SET_NEIGH_REACHABLE, 30 },
		{ "set neigh-reachable 3600", CFG_SET_NEIGH_REACHABLE, 3600 },
		{ "set icmp-unreachable off", CFG_SET_ICMP_UNREACHABLE, 0 },
		{ "set icmp-unreachable on", CFG_SET_ICMP_UNREACHABLE, 1 },
	};
	struct cfg_cmd cmd;
	size_t i;

	/* the new keys come after the old ones, which keep their numbers */
	CU_ASSERT_EQUAL(CFG_SET_ALLOCSPI_EXPIRES, 3);
	CU_ASSERT_EQUAL(CFG_SET_WORKER_IDLE, 4);
	CU_ASSERT_EQUAL(CFG_SET_TCP_MSS_CLAMP, 5);
	CU_ASSERT_EQUAL(CFG_SET_ICMP_RATELIMIT, 6);
	CU_ASSERT_EQUAL(CFG_SET_NEIGH_REACHABLE, 7);
	CU_ASSERT_EQUAL(CFG_IDLE_POLL, 0);
	CU_ASSERT_EQUAL(CFG_IDLE_ADAPTIVE, 1);
	CU_ASSERT_EQUAL(CFG_MSS_AUTO, 0xffffffffu);

	if (parse_ok("port 1 role unprotected tap espd-wan1 xdp-steer", &cmd) == 0) {
		CU_ASSERT_TRUE(cmd.u.port.has_tap);
		CU_ASSERT_STRING_EQUAL(cmd.u.port.tap, "espd-wan1");
		CU_ASSERT_TRUE(cmd.u.port.xdp_steer);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("port 0 tap abcdefghijklmno role protected", &cmd) == 0) {
		CU_ASSERT_EQUAL(sizeof(cmd.u.port.tap), 16);
		CU_ASSERT_STRING_EQUAL(cmd.u.port.tap, "abcdefghijklmno");
		CU_ASSERT_EQUAL(cmd.u.port.tap[15], '\0');
		CU_ASSERT_FALSE(cmd.u.port.xdp_steer);
	}
	cfg_cmd_clear(&cmd);
	if (parse_ok("port 0 role protected", &cmd) == 0) {
		CU_ASSERT_FALSE(cmd.u.port.has_tap);
		CU_ASSERT_EQUAL(cmd.u.port.tap[0], '\0');
		CU_ASSERT_FALSE(cmd.u.port.xdp_steer);
	}
	cfg_cmd_clear(&cmd);

	if (parse_ok("neigh del 172.16.1.254 port 1", &cmd) == 0) {
		static const uint8_t zero[6];

		CU_ASSERT_EQUAL(cmd.type, CFG_CMD_NEIGH_DEL);
		CU_ASSERT_TRUE(addr_is(&cmd.u.neigh.ip, "172.16.1.254", 32));
		CU_ASSERT_EQUAL(cmd.u.neigh.port, 1);
		CU_ASSERT_EQUAL(memcmp(cmd.u.neigh.lladdr, zero, 6), 0);
	}
	cfg_cmd_clear(&cmd);
	/* the address comes first, as in `neigh add` */
	expect_err("neigh delete port 3 fd00::fe",
		   "expected IPv4 or IPv6 address, got 'port'", 2);
	if (parse_ok("neigh del fd00::fe port 3", &cmd) == 0) {
		CU_ASSERT_EQUAL(cmd.u.neigh.ip.af, AF_INET6);
		CU_ASSERT_EQUAL(cmd.u.neigh.port, 3);
	}
	cfg_cmd_clear(&cmd);
	/* neigh list/show/flush carry nothing: the grammar table has them */
	CU_ASSERT_STRING_EQUAL(cfg_cmd_name(CFG_CMD_NEIGH_DEL), "neigh del");
	CU_ASSERT_STRING_EQUAL(cfg_cmd_name(CFG_CMD_NEIGH_LIST), "neigh list");
	CU_ASSERT_STRING_EQUAL(cfg_cmd_name(CFG_CMD_NEIGH_FLUSH), "neigh flush");

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		if (parse_ok(sets[i].line, &cmd) == 0) {
			CU_ASSERT_EQUAL(cmd.type, CFG_CMD_SET);
			CU_ASSERT_EQUAL(cmd.u.set.key, sets[i].key);
			CU_ASSERT_EQUAL(cmd.u.set.value, sets[i].value);
		}
		cfg_cmd_clear(&cmd);
	}
}

/* ---- errors ------------------------------------------------------------ */

static const struct {
	const char *line;
	const char *msg;
	int word;
} bad[] = {
	{ "bogus 1", "unknown command 'bogus'", 0 },
	{ "state", "missing command after 'state'", -1 },
	{ "state remove x", "unknown state command 'remove'", 1 },
	{ "policy add src 10.0.0.300/24 dst 0.0.0.0/0 dir out",
	  "expected IPv4 or IPv6 prefix, got '10.0.0.300/24'", 3 },
	{ "policy add src 10.0.0.0/33 dst 0.0.0.0/0 dir out",
	  "expected IPv4 or IPv6 prefix, got '10.0.0.0/33'", 3 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8", "missing 'dir' for policy add", -1 },
	{ "policy add dst 10.0.0.0/8 dir out", "missing 'src' for policy add", -1 },
	{ "policy add src 10.0.0.0/8 dst ::/0 dir out",
	  "src and dst of policy add differ in address family", 5 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir sideways",
	  "expected in, out or fwd after 'dir', got 'sideways'", 7 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out dport 80",
	  "'dport' needs proto tcp, udp", 8 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto icmp sport 8 dir out",
	  "'sport' needs proto tcp, udp, sctp, dccp or udplite (ICMP takes 'type' and 'code')", 8 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto tcp type 8 dir out",
	  "'type' needs proto icmp or ipv6-icmp", 8 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 code 0 dir out",
	  "'code' needs proto icmp or ipv6-icmp", 6 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto icmp type 256 dir out",
	  "an ICMP type or code is 0-255, got 256", 9 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto tcp sport 90-80 dir out",
	  "port range '90-80' is reversed", 9 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto tcp sport 70000 dir out",
	  "expected a port or range N-M (0-65535), got '70000'", 9 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto smtp dir out",
	  "expected a protocol name or number 0-255, got 'smtp'", 7 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto 256 dir out",
	  "expected a protocol name or number 0-255, got '256'", 7 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out pfp src",
	  "'pfp' needs a 'tmpl'", 8 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 pfp src,dport",
	  "'pfp sport' and 'pfp dport' need a 'proto' with ports (tcp, udp, sctp, dccp, udplite; "
	  "icmp type and code), or 'pfp proto'", 13 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto esp dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 pfp sport",
	  "'pfp sport' and 'pfp dport' need a 'proto' with ports (tcp, udp, sctp, dccp, udplite; "
	  "icmp type and code), or 'pfp proto'", 15 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 pfp src,src", "duplicate pfp field 'src'", 14 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 pfp src,flowlabel", "unknown pfp field 'flowlabel'", 14 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 pfp dst,", "empty field in pfp list 'dst,'", 14 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl proto esp",
	  "tmpl in tunnel mode needs 'src' and 'dst'", 8 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 tmpl src 1.1.1.1 dst 2.2.2.2", "only one 'tmpl' per policy", 13 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 proto ah", "only 'proto esp' is supported, got 'ah'", 14 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out tmpl src 1.1.1.1 "
	  "dst 2.2.2.2 level optional", "expected required or use after 'level', got 'optional'", 14 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out action deny",
	  "expected allow or block after 'action', got 'deny'", 9 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority -1",
	  "expected a number from 0 to 4294967295 after 'priority', got '-1'", 9 },
	{ "policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out ptype main",
	  "unexpected 'ptype' in policy add", 8 },
	{ "policy add src 10.0.0.0/8 src 10.0.0.0/8 dir out",
	  "duplicate 'src' in policy add", 4 },
	{ "policy del index 3 src 10.0.0.0/8", "'index' cannot be combined", 2 },
	{ "policy del src 10.0.0.0/8 dst 10.0.0.0/8", "missing 'dir' for policy del", -1 },
	{ "policy del", "missing 'index' or selector for policy del", -1 },
	{ "state add " SA_ID " flag bogus", "unknown flag 'bogus'", 11 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) 0x00112233445566778899aabbccddeeff 128",
	  "key for rfc4106(gcm(aes)) must be 20 or 36 bytes, got 16", 12 },
	{ "state add " SA_ID " aead 'rfc7539esp(chacha20,poly1305)' " GCM128_KEY " 128",
	  "key for rfc7539esp(chacha20,poly1305) must be 36 bytes, got 20", 12 },
	/* Longer than a cipher key's array (CFG_CIPHER_KEY_MAX), and the
	 * longest any key may be: the length is still named. */
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) 0x"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627 128",
	  "key for rfc4106(gcm(aes)) must be 20 or 36 bytes, got 40", 12 },
	{ "state add " SA_ID " enc 'cbc(aes)' 0x"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  " auth-trunc 'hmac(sha256)' 0x01 128",
	  "key for cbc(aes) must be 16 or 32 bytes, got 128", 12 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY " 100",
	  "ICV for rfc4106(gcm(aes)) must be 64, 96 or 128 bits, got 100", 13 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY,
	  "missing the ICV length in bits (64, 96 or 128) after the key of rfc4106(gcm(aes))", 12 },
	{ "state add " SA_ID " aead 'rfc7539esp(chacha20,poly1305)' 0x"
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa0a1a2a3 96",
	  "ICV for rfc7539esp(chacha20,poly1305) must be 128 bits, got 96", 13 },
	{ "state add " SA_ID " aead 'gcm(aes)' " GCM128_KEY " 128",
	  "unknown AEAD 'gcm(aes)'", 11 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) secretsecretsecret12 128",
	  "key for rfc4106(gcm(aes)) must be 0x followed by an even number of hex digits", 12 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) 0x123 128",
	  "even number of hex digits", 12 },
	{ "state add " SA_ID " enc 'cbc(aes)' 0x0011 auth-trunc sha256 " CBC_KEY " 128",
	  "key for cbc(aes) must be 16 or 32 bytes, got 2", 12 },
	{ "state add " SA_ID " enc 'cbc(des)' " CBC_KEY, "unknown cipher 'cbc(des)'", 11 },
	{ "state add " SA_ID " enc 'cbc(aes)' " CBC_KEY, "'enc' needs 'auth-trunc'", 10 },
	{ "state add " SA_ID " auth-trunc sha1 " CBC_KEY " 96", "'auth-trunc' needs 'enc'", 10 },
	{ "state add " SA_ID " enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(md5)' "
	  CBC_KEY " 96", "unknown integrity algorithm 'hmac(md5)'", 14 },
	{ "state add " SA_ID " enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(sha256)' "
	  CBC_KEY " 96", "ICV for hmac(sha256) must be 128 or 256 bits, got 96", 16 },
	{ "state add " SA_ID " enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(sha1)' "
	  "\"\" 96", "key for hmac(sha1) must be 1 to 128 bytes, got 0", 15 },
	{ "state add " SA_ID " enc cipher_null 0x00 auth-trunc sha1 0x01 96",
	  "key for cipher_null must be empty", 12 },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY " 128 enc "
	  "cipher_null \"\"", "'aead' cannot be combined with 'enc' or 'auth-trunc'", 14 },
	{ "state add " SA_ID " auth sha1 0x01", "use 'auth-trunc NAME KEY BITS'", 10 },
	{ "state add " SA_ID, "missing algorithm for state add", -1 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0 aead", "SPI 0 is invalid", 9 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 255",
	  "SPI 255 is reserved (RFC 4303 2.1: 1-255)", 9 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x100000000",
	  "expected an SPI (32-bit, decimal or 0x hex), got '0x100000000'", 9 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp spi", "missing value after 'spi'", 8 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto ah spi 300",
	  "only 'proto esp' is supported, got 'ah'", 7 },
	{ "state add src 1.1.1.1/32 dst 2.2.2.2 proto esp spi 300",
	  "expected IPv4 or IPv6 address, got '1.1.1.1/32'", 3 },
	{ "state add src 1.1.1.1 dst ::2 proto esp spi 300 aead rfc4106(gcm(aes)) "
	  GCM128_KEY " 128", "src and dst of state add differ in address family", 5 },
	{ "state add dst 2.2.2.2 proto esp spi 300", "missing 'src' for state add", -1 },
	{ "state add src 1.1.1.1 dst 2.2.2.2 spi 300", "missing 'proto esp' for state add", -1 },
	{ "state add " SA_ID " replay-window 8192",
	  "expected a number from 0 to 4096 after 'replay-window', got '8192'", 11 },
	{ "state add " SA_ID " replay-seq 4294967296",
	  "expected a number from 0 to 4294967295 after 'replay-seq', got '4294967296'", 11 },
	{ "state add " SA_ID " dir fwd", "expected in or out after 'dir', got 'fwd'", 11 },
	{ "state add " SA_ID " mode beet", "expected tunnel or transport after 'mode', got 'beet'", 11 },
	{ "state add " SA_ID " spi 0x2000", "duplicate 'spi' in state add", 10 },
	{ "state add " SA_ID " mark 7", "unexpected 'mark' in state add", 10 },
	{ "state add " SA_ID " encap espintcp 4500 4500 0.0.0.0",
	  "unsupported encap 'espintcp' (only espinudp)", 11 },
	{ "state add " SA_ID " encap espinudp 0 4500 0.0.0.0",
	  "expected a number from 1 to 65535 after 'espinudp', got '0'", 12 },
	{ "state add " SA_ID " encap espinudp 4500 4500 nowhere",
	  "expected IPv4 or IPv6 address, got 'nowhere'", 14 },
	{ "state add " SA_ID " sel src 10.0.0.0/8 dst 10.0.0.0/8 proto tcp sport 2-1",
	  "port range '2-1' is reversed", 18 },
	{ "state add " SA_ID " sel src 10.0.0.0/8 dst 10.0.0.0/8 proto tcp sport 1-x",
	  "expected a port or range N-M (0-65535), got '1-x'", 18 },
	{ "state add " SA_ID " sel src 10.0.0.0/8", "missing 'dst' for sel", -1 },
	{ "state add " SA_ID " limit byte-medium 5", "unknown limit 'byte-medium'", 11 },
	{ "state add " SA_ID " limit byte-soft 1 byte-soft 2", "duplicate 'byte-soft'", 13 },
	{ "state add " SA_ID " flag noecn replay-seq-hi 1 aead rfc4106(gcm(aes)) "
	  GCM128_KEY " 128", "'replay-seq-hi' and 'replay-oseq-hi' need flag esn", -1 },
	{ "state add " SA_ID " mode transport sel src fd00::/8 dst fd00::/8 aead "
	  "rfc4106(gcm(aes)) " GCM128_KEY " 128", "transport-mode SA's sel", -1 },
	{ "state get " SA_ID " show-secrets", "unexpected 'show-secrets' in state get", 10 },
	{ "state del src 1.1.1.1 dst 2.2.2.2 proto esp", "missing 'spi' for state del", -1 },
	{ "state del " SA_ID " show-keys", "unexpected 'show-keys' in state del", 10 },
	{ "state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp min 300 max 299",
	  "min SPI 0x0000012c is above max SPI 0x0000012b", 8 },
	{ "state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp min 300", "'min' needs 'max'", 8 },
	{ "state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp min 1 max 300",
	  "SPI 1 is reserved", 9 },
	{ "state list all", "unexpected 'all' in state list", 2 },
	{ "state flush now", "unexpected 'now' in state flush", 2 },
	{ "port x role protected", "expected a number from 0 to 15 after 'port', got 'x'", 1 },
	{ "port 16 role protected", "expected a number from 0 to 15 after 'port', got '16'", 1 },
	{ "port 0", "missing 'role' for port", -1 },
	{ "port 0 role dmz", "expected protected or unprotected after 'role', got 'dmz'", 3 },
	{ "port 0 role protected mac 02:00:00:00:00", "expected a MAC address", 5 },
	{ "port 0 role protected mac 02:00:00:00:00:0g", "expected a MAC address", 5 },
	{ "port 0 role protected mac 01:00:5e:00:00:01", "must be unicast and not all zero", 5 },
	{ "port 0 role protected mac 00:00:00:00:00:00", "must be unicast and not all zero", 5 },
	{ "port 0 role protected addr 10.0.0.1/40",
	  "expected IPv4 or IPv6 address/length, got '10.0.0.1/40'", 5 },
	{ "port 0 role protected queues 0",
	  "expected a number from 1 to 1024 after 'queues', got '0'", 5 },
	{ "port 0 role protected mtu 1500 mtu 9000", "duplicate 'mtu' in port", 6 },
	{ "port 0 role protected speed 10g", "unexpected 'speed' in port", 4 },
	{ "route add 10.0.0.0/8", "missing 'port' for route add", -1 },
	{ "route add 10.0.0.0/8 port 1 via fd00::1",
	  "'via' and the prefix differ in address family", 6 },
	{ "route flush", "unknown route command 'flush' (expected add, del or list)", 1 },
	{ "neigh add 10.0.0.1 port 1", "missing 'lladdr' for neigh add", -1 },
	{ "neigh add 10.0.0.0/24 lladdr 02:00:00:00:00:01 port 1",
	  "expected IPv4 or IPv6 address, got '10.0.0.0/24'", 2 },
	{ "monitor acquire everything", "unknown event type 'everything'", 2 },
	{ "set acquire-expires 0", "expected a number from 1 to 86400 after 'acquire-expires', got '0'", 2 },
	{ "set acquire-queue", "missing value after 'acquire-queue'", 1 },
	{ "set hold-time 3", "unknown setting 'hold-time'", 1 },
	{ "set acquire-queue 5 6", "unexpected '6' in set", 3 },
	{ "stats clear", "unknown stats command 'clear' (expected reset)", 1 },
	{ "state add 'x", "unterminated single quote", 2 },
};

static void
test_errors(void)
{
	size_t i;

	CU_ASSERT_TRUE(sizeof(bad) / sizeof(bad[0]) >= 30);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(bad[i].line, bad[i].msg, bad[i].word);
}

/* ---- the grammar, line by line ----------------------------------------- */

/*
 * Every object and every option word, accepted and refused, with the
 * command type or the exact message and word index each line gives, so
 * that a change to the parser cannot alter them unnoticed.
 */
#define POL4 "policy add src 10.0.0.0/8 dst 10.0.0.0/8"
#define ALLOC4 "state allocspi src 1.1.1.1 dst 2.2.2.2 proto esp"

static const struct {
	const char *line;
	int word;        /* the error's word index; the command type if msg is NULL */
	const char *msg; /* the whole message; NULL: the line parses */
} grammar[] = {
	{ "port 1 role unprotected addr 172.16.1.1/24 addr fd00::1/64 "
	  "mac 02:00:00:aa:bb:01 mtu 1500 queues 4", CFG_CMD_PORT, NULL },
	{ "port 0 role protected role protected", 4, "duplicate 'role' in port" },
	{ "port 0 role protected addr 10.0.0.1/40",
	  5, "expected IPv4 or IPv6 address/length, got '10.0.0.1/40'" },
	{ "port 0 role protected mac 02:00:00:00:00",
	  5, "expected a MAC address (xx:xx:xx:xx:xx:xx), got '02:00:00:00:00'" },
	{ "port 0 role protected mtu 67",
	  5, "expected a number from 68 to 65535 after 'mtu', got '67'" },
	{ "port 0 role protected addr 10.0.0.1/24 mtu 1279 addr fd00::1/64",
	  7, "mtu 1279 is below IPv6's 1280 (RFC 8200 5), and the port has an IPv6 address" },
	{ "port 0 role protected addr 10.0.0.1/24 mtu 576", CFG_CMD_PORT, NULL },
	{ "port 0 role protected queues 1025",
	  5, "expected a number from 1 to 1024 after 'queues', got '1025'" },
	{ "port 0 role protected queues 2 queues 3", 6, "duplicate 'queues' in port" },
	{ "port 0 role protected speed 10g", 4, "unexpected 'speed' in port" },
	{ "port", -1, "missing port ID after 'port'" },
	{ "port 0 mtu 1500", -1, "missing 'role' for port" },
	{ "port 0 role protected tap espd0 xdp-steer", CFG_CMD_PORT, NULL },
	{ "port 0 xdp-steer role protected tap abcdefghijklmno", CFG_CMD_PORT, NULL },
	{ "port 0 role protected tap ... ", CFG_CMD_PORT, NULL },
	{ "port 0 role protected tap 'eth0.100'", CFG_CMD_PORT, NULL },
	{ "port 0 role protected tap abcdefghijklmnop",
	  5, "interface name 'abcdefghijklmnop' after 'tap' is longer than 15 characters "
	  "(IFNAMSIZ - 1)" },
	{ "port 0 role protected tap ''", 5, "interface name '' after 'tap' is empty" },
	{ "port 0 role protected tap .",
	  5, "interface name '.' after 'tap' is not allowed ('.' and '..' name directories)" },
	{ "port 0 role protected tap ..",
	  5, "interface name '..' after 'tap' is not allowed ('.' and '..' name directories)" },
	{ "port 0 role protected tap net/tap0", 5, "interface name 'net/tap0' after 'tap' has a '/'" },
	{ "port 0 role protected tap eth0:1",
	  5, "interface name 'eth0:1' after 'tap' has a ':' (alias syntax)" },
	{ "port 0 role protected tap 'tap 0'", 5, "interface name 'tap 0' after 'tap' has a blank" },
	{ "port 0 role protected tap \"tap\t0\"",
	  5, "interface name 'tap?0' after 'tap' has a blank" },
	{ "port 0 role protected tap 'tap\x01'",
	  5, "interface name 'tap?' after 'tap' is not printable ASCII" },
	{ "port 0 role protected tap 'caf\xc3\xa9'",
	  5, "interface name 'caf?\?' after 'tap' is not printable ASCII" },
	{ "port 0 role protected tap 'tap\x7f'",
	  5, "interface name 'tap?' after 'tap' is not printable ASCII" },
	{ "port 0 role protected tap", 4, "missing value after 'tap'" },
	{ "port 0 role protected tap a tap b", 6, "duplicate 'tap' in port" },
	{ "port 0 role protected xdp-steer xdp-steer", 5, "duplicate 'xdp-steer' in port" },
	{ "port 0 role protected xdp-steer on", 5, "unexpected 'on' in port" },
	{ "route add 10.9.8.7/8 port 1 via 172.16.1.254", CFG_CMD_ROUTE_ADD, NULL },
	{ "route add 10.0.0.0/8 port 1 port 2", 5, "duplicate 'port' in route add" },
	{ "route add 10.0.0.0/8 port 1 via 1.1.1.1 via 1.1.1.2",
	  7, "duplicate 'via' in route add" },
	{ "route add", -1, "missing prefix for route add" },
	{ "route add 10.0.0.0/8 port 1 dev eth0", 5, "unexpected 'dev' in route add" },
	{ "neigh add 172.16.1.254 lladdr 02:00:00:00:00:fe port 1", CFG_CMD_NEIGH_ADD, NULL },
	{ "neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 port 1 lladdr 02:00:00:00:00:02",
	  7, "duplicate 'lladdr' in neigh add" },
	{ "neigh add 10.0.0.1 lladdr 02:00:00:00:00:01", -1, "missing 'port' for neigh add" },
	{ "neigh add", -1, "missing address for neigh add" },
	{ "neigh add 10.0.0.1 port 1 lladdr 02:00:00:00:00:01 nud permanent",
	  7, "unexpected 'nud' in neigh add" },
	{ "neigh del 10.0.0.1 port 1", CFG_CMD_NEIGH_DEL, NULL },
	{ "neigh delete fe80::1 port 15", CFG_CMD_NEIGH_DEL, NULL },
	{ "neigh del 10.0.0.1", -1, "missing 'port' for neigh del" },
	{ "neigh del 10.0.0.1 lladdr 02:00:00:00:00:01 port 1",
	  3, "neigh del takes no 'lladdr': the address and port name the entry" },
	{ "neigh del 10.0.0.1 port 1 lladdr 02:00:00:00:00:01",
	  5, "neigh del takes no 'lladdr': the address and port name the entry" },
	{ "neigh del 10.0.0.1 port 1 port 2", 5, "duplicate 'port' in neigh del" },
	{ "neigh del 10.0.0.1 port 16",
	  4, "expected a number from 0 to 15 after 'port', got '16'" },
	{ "neigh del 10.0.0.0/24 port 1", 2, "expected IPv4 or IPv6 address, got '10.0.0.0/24'" },
	{ "neigh del", -1, "missing address for neigh del" },
	{ "neigh del 10.0.0.1 port 1 dev eth0", 5, "unexpected 'dev' in neigh del" },
	{ "neigh list", CFG_CMD_NEIGH_LIST, NULL },
	{ "neigh show", CFG_CMD_NEIGH_LIST, NULL },
	{ "neigh flush", CFG_CMD_NEIGH_FLUSH, NULL },
	{ "neigh list 10.0.0.1", 2, "unexpected '10.0.0.1' in neigh list" },
	{ "neigh flush all", 2, "unexpected 'all' in neigh flush" },
	{ "neigh replace 10.0.0.1",
	  1, "unknown neigh command 'replace' (expected add, del, list or flush)" },
	{ "neigh", -1, "missing command after 'neigh' (add, del, list or flush)" },
	{ "state add " SA_ID " dir in reqid 0x10 seq 7 mode tunnel replay-window 128 "
	  "flag esn noecn flag decap-dscp replay-seq 1 replay-oseq 2 replay-seq-hi 3 "
	  "replay-oseq-hi 4 limit byte-soft 1 packet-hard 2 limit time-soft 3 "
	  "encap espinudp 4500 4500 0.0.0.0 sel src 10.0.0.0/8 dst 10.1.0.0/16 proto udp "
	  "sport 1 dport 2 aead rfc4106(gcm(aes)) " GCM128_KEY " 128", CFG_CMD_STATE_ADD, NULL },
	{ "state add " SA_ID " enc 'cbc(aes)' " CBC_KEY " auth-trunc 'hmac(sha256)' "
	  SHA256_KEY " 128", CFG_CMD_STATE_ADD, NULL },
	{ "state add " SA_ID " src 1.1.1.1", 10, "duplicate 'src' in state add" },
	{ "state add " SA_ID " dir out dir in", 12, "duplicate 'dir' in state add" },
	{ "state add " SA_ID " reqid 1 reqid 2", 12, "duplicate 'reqid' in state add" },
	{ "state add " SA_ID " seq 1 seq 2", 12, "duplicate 'seq' in state add" },
	{ "state add " SA_ID " mode tunnel mode transport",
	  12, "duplicate 'mode' in state add" },
	{ "state add " SA_ID " replay-window 1 replay-window 2",
	  12, "duplicate 'replay-window' in state add" },
	{ "state add " SA_ID " replay-seq 1 replay-seq 2",
	  12, "duplicate 'replay-seq' in state add" },
	{ "state add " SA_ID " replay-oseq 1 replay-oseq 2",
	  12, "duplicate 'replay-oseq' in state add" },
	{ "state add " SA_ID " replay-seq-hi 1 replay-seq-hi 2",
	  12, "duplicate 'replay-seq-hi' in state add" },
	{ "state add " SA_ID " replay-oseq-hi 1 replay-oseq-hi 2",
	  12, "duplicate 'replay-oseq-hi' in state add" },
	{ "state add " SA_ID " encap espinudp 1 2 :: encap espinudp 1 2 ::",
	  15, "duplicate 'encap' in state add" },
	{ "state add " SA_ID " sel src ::/0 dst ::/0 sel src ::/0 dst ::/0",
	  15, "duplicate 'sel' in state add" },
	{ "state add " SA_ID " sel src ::/0 dst 0.0.0.0/0",
	  14, "src and dst of sel differ in address family" },
	{ "state add " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY " 128 "
	  "aead rfc4106(gcm(aes)) " GCM128_KEY " 128",
	  14, "duplicate 'aead' in state add" },
	{ "state add " SA_ID " enc cipher_null \"\" enc cipher_null \"\"",
	  13, "duplicate 'enc' in state add" },
	{ "state add " SA_ID " auth-trunc sha1 0x01 96 auth-trunc sha1 0x01 96",
	  14, "duplicate 'auth-trunc' in state add" },
	{ "state add " SA_ID " enc cipher_null \"\" aead rfc4106(gcm(aes)) " GCM128_KEY " 128",
	  13, "'aead' cannot be combined with 'enc' or 'auth-trunc'" },
	{ "state add " SA_ID " auth-trunc sha1 0x01 96 aead rfc4106(gcm(aes)) " GCM128_KEY " 128",
	  14, "'aead' cannot be combined with 'enc' or 'auth-trunc'" },
	{ "state add " SA_ID " flag esn flag esn limit byte-soft 1 limit byte-hard 2 "
	  "aead rfc4106(gcm(aes)) " GCM128_KEY " 128", CFG_CMD_STATE_ADD, NULL },
	{ "state add " SA_ID " limit time-soft 1 limit time-soft 2",
	  14, "duplicate 'time-soft' in state add" },
	{ "state add " SA_ID " replay-oseq-hi 1 aead rfc4106(gcm(aes)) " GCM128_KEY " 128",
	  -1, "'replay-seq-hi' and 'replay-oseq-hi' need flag esn" },
	{ "state add src 1.1.1.1 proto esp spi 300", -1, "missing 'dst' for state add" },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp", -1, "missing 'spi' for state add" },
	{ "state add " SA_ID " encap", 10, "missing value after 'encap'" },
	{ "state update " SA_ID " limit packet-soft 10", CFG_CMD_STATE_UPDATE, NULL },
	{ "state update " SA_ID " auth sha1 0x01",
	  10, "use 'auth-trunc NAME KEY BITS' instead of 'auth'" },
	{ "state update src 1.1.1.1 dst ::2 proto esp spi 300",
	  5, "src and dst of state update differ in address family" },
	{ "state del " SA_ID, CFG_CMD_STATE_DEL, NULL },
	{ "state get " SA_ID " show-keys", CFG_CMD_STATE_GET, NULL },
	{ "state get " SA_ID " show-keys show-keys", 11, "duplicate 'show-keys' in state get" },
	{ "state get " SA_ID " spi 5", 10, "duplicate 'spi' in state get" },
	{ "state del src 1.1.1.1 dst ::1 proto esp spi 5",
	  5, "src and dst of state del differ in address family" },
	{ "state del src 1.1.1.1 dst 2.2.2.2 spi 5", -1, "missing 'proto esp' for state del" },
	{ "state get dst 2.2.2.2 proto esp spi 5", -1, "missing 'src' for state get" },
	{ ALLOC4 " reqid 5 seq 7 mode transport min 0x1000 max 0x1fff",
	  CFG_CMD_STATE_ALLOCSPI, NULL },
	{ ALLOC4 " reqid 1 reqid 2",
	  10, "duplicate 'reqid' in state allocspi" },
	{ ALLOC4 " mode beet",
	  9, "expected tunnel or transport after 'mode', got 'beet'" },
	{ ALLOC4 " max 300", 8, "'max' needs 'min'" },
	{ "state allocspi src 1.1.1.1 dst ::2 proto esp",
	  5, "src and dst of state allocspi differ in address family" },
	{ "state allocspi src 1.1.1.1 proto esp", -1, "missing 'dst' for state allocspi" },
	{ ALLOC4 " spi 300",
	  8, "unexpected 'spi' in state allocspi" },
	{ "state list", CFG_CMD_STATE_LIST, NULL },
	{ "state count 1", 2, "unexpected '1' in state count" },
	{ "policy add src 192.168.1.0/24 dst 192.168.2.0/24 proto tcp sport 1024-65535 dport 80 "
	  "dir out priority 10 action allow index 3 tmpl src 172.16.1.5 dst 172.16.2.5 proto esp "
	  "spi 0x1000 reqid 1 mode tunnel level use pfp src,dst,proto,sport,dport",
	  CFG_CMD_POLICY_ADD, NULL },
	{ POL4 " dir out dir in",
	  8, "duplicate 'dir' in policy add" },
	{ POL4 " dir out priority 1 priority 2",
	  10, "duplicate 'priority' in policy add" },
	{ POL4 " dir out action allow action block",
	  10, "duplicate 'action' in policy add" },
	{ POL4 " dir out index 1 index 2",
	  10, "duplicate 'index' in policy add" },
	{ POL4 " dir out tmpl src 1.1.1.1 dst 2.2.2.2 pfp src pfp dst",
	  15, "duplicate 'pfp' in policy add" },
	{ POL4 " dir out action block tmpl src 1.1.1.1 dst 2.2.2.2",
	  10, "a policy with action block cannot have a 'tmpl'" },
	{ POL4 " dir out tmpl src 1.1.1.1",
	  8, "tmpl needs both 'src' and 'dst', or neither" },
	{ POL4 " dir out tmpl src 1.1.1.1 dst ::2",
	  12, "src and dst of tmpl differ in address family" },
	{ POL4 " dir out tmpl src fd00::1 dst fd00::2 mode transport",
	  8, "a transport-mode tmpl must be of the selector's address family" },
	{ POL4 " dir out tmpl src 1.1.1.1 dst 2.2.2.2 spi 5",
	  14, "SPI 5 is reserved (RFC 4303 2.1: 1-255), got '5'" },
	{ POL4 " dir out tmpl src 1.1.1.1 dst 2.2.2.2 reqid x",
	  14, "expected a number from 0 to 4294967295 after 'reqid', got 'x'" },
	{ POL4 " dir out tmpl src 1.1.1.1 dst 2.2.2.2 reqid 1 reqid 2",
	  15, "unexpected 'reqid' in policy add" },
	{ POL4 " proto tcp sport 1 sport 2 dir out",
	  10, "duplicate 'sport' in policy add" },
	{ POL4 " proto udp dport 1 dport 2 dir out",
	  10, "duplicate 'dport' in policy add" },
	{ POL4 " proto tcp proto udp dir out",
	  8, "duplicate 'proto' in policy add" },
	{ POL4 " dst 10.0.0.0/8 dir out",
	  6, "duplicate 'dst' in policy add" },
	{ "policy add dst 10.0.0.0/8 src 10.0.0.0/8 dir out sport 5",
	  8, "'sport' needs proto tcp, udp, sctp, dccp or udplite" },
	{ "policy del index 3 dir out", CFG_CMD_POLICY_DEL, NULL },
	{ "policy del src 10.0.0.0/8 dst 10.1.0.0/16 proto udp dport 53 dir in",
	  CFG_CMD_POLICY_DEL, NULL },
	{ "policy del index 1 index 2", 4, "duplicate 'index' in policy del" },
	{ "policy del index 1 dir in dir out", 6, "duplicate 'dir' in policy del" },
	{ "policy del index x",
	  3, "expected a number from 0 to 4294967295 after 'index', got 'x'" },
	{ "policy del src 10.0.0.0/8 dst 10.0.0.0/8 dir in bogus",
	  8, "unexpected 'bogus' in policy del" },
	{ "policy del dir in", -1, "missing 'index' or selector for policy del" },
	{ "policy del src 10.0.0.0/8 dir in", -1, "missing 'dst' for policy del" },
	{ "policy flush", CFG_CMD_POLICY_FLUSH, NULL },
	{ "policy show", CFG_CMD_POLICY_LIST, NULL },
	{ "stats", CFG_CMD_STATS, NULL },
	{ "stats reset", CFG_CMD_STATS_RESET, NULL },
	{ "stats reset now", 2, "unexpected 'now' in stats reset" },
	{ "monitor acquire expire invalid-spi policy state mapping", CFG_CMD_MONITOR, NULL },
	{ "monitor all", CFG_CMD_MONITOR, NULL },
	{ "monitor bogus",
	  1, "unknown event type 'bogus' (expected acquire, expire, invalid-spi, "
	  "policy, state or mapping)" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 new-src 3.3.3.3 "
	  "new-dst 4.4.4.4 encap espinudp 4500 4500 0.0.0.0", CFG_CMD_STATE_MIGRATE, NULL },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 encap none",
	  CFG_CMD_STATE_MIGRATE, NULL },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000",
	  -1, "state migrate needs 'new-src', 'new-dst' or 'encap'" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp new-dst 4.4.4.4",
	  -1, "missing 'spi' for state migrate" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 new-src 3.3.3.3 "
	  "new-dst fd00::4", 13, "new-src and new-dst of state migrate differ in address family" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 encap espintcp",
	  11, "unsupported encap 'espintcp' (espinudp or none)" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 new-src 3.3.3.3 "
	  "new-src 5.5.5.5", 12, "duplicate 'new-src' in state migrate" },
	{ "state migrate src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 new-dst x",
	  11, "expected IPv4 or IPv6 address, got 'x'" },
	{ "state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1000 encap none "
	  "aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128",
	  11, "unsupported encap 'none' (only espinudp)" },
	{ "policy update src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 4 "
	  "tmpl src 1.1.1.1 dst 2.2.2.2 proto esp", CFG_CMD_POLICY_UPDATE, NULL },
	{ "policy update src 10.0.0.0/8 dst 10.1.0.0/16", -1, "missing 'dir' for policy update" },
	{ "set acquire-expires 30", CFG_CMD_SET, NULL },
	{ "set acquire-queue 65537",
	  2, "expected a number from 0 to 65536 after 'acquire-queue', got '65537'" },
	{ "set acquire-queue 0", CFG_CMD_SET, NULL },
	{ "set acquire-queue-total 16777216", CFG_CMD_SET, NULL },
	{ "set acquire-expires 5 6", 3, "unexpected '6' in set" },
	{ "set", -1, "missing setting after 'set' (acquire-expires, acquire-queue, "
	  "acquire-queue-total, allocspi-expires, worker-idle, tcp-mss-clamp, "
	  "icmp-ratelimit, neigh-reachable, out-sa or icmp-unreachable)" },
	{ "set hold-time 3", 1, "unknown setting 'hold-time' (expected acquire-expires, "
	  "acquire-queue, acquire-queue-total, allocspi-expires, worker-idle, "
	  "tcp-mss-clamp, icmp-ratelimit, neigh-reachable, out-sa or icmp-unreachable)" },
	{ "set frobs", 1, "unknown setting 'frobs' (expected acquire-expires, "
	  "acquire-queue, acquire-queue-total, allocspi-expires, worker-idle, "
	  "tcp-mss-clamp, icmp-ratelimit, neigh-reachable, out-sa or icmp-unreachable)" },
	{ "set worker-idle poll", CFG_CMD_SET, NULL },
	{ "set worker-idle adaptive", CFG_CMD_SET, NULL },
	{ "set worker-idle busy", 2, "expected poll or adaptive after 'worker-idle', got 'busy'" },
	{ "set worker-idle 1", 2, "expected poll or adaptive after 'worker-idle', got '1'" },
	{ "set worker-idle", 1, "missing value after 'worker-idle'" },
	{ "set worker-idle poll adaptive", 3, "unexpected 'adaptive' in set" },
	{ "set out-sa owner", CFG_CMD_SET, NULL },
	{ "set out-sa shared", CFG_CMD_SET, NULL },
	{ "set out-sa atomic", 2, "expected owner or shared after 'out-sa', got 'atomic'" },
	{ "set out-sa", 1, "missing value after 'out-sa'" },
	{ "set out-sa shared owner", 3, "unexpected 'owner' in set" },
	{ "set tcp-mss-clamp off", CFG_CMD_SET, NULL },
	{ "set tcp-mss-clamp auto", CFG_CMD_SET, NULL },
	{ "set tcp-mss-clamp 536", CFG_CMD_SET, NULL },
	{ "set tcp-mss-clamp 65535", CFG_CMD_SET, NULL },
	{ "set tcp-mss-clamp 535",
	  2, "expected off, auto or an MSS from 536 (RFC 879's default MSS, the least) "
	  "to 65535 after 'tcp-mss-clamp', got '535'" },
	{ "set tcp-mss-clamp 65536",
	  2, "expected off, auto or an MSS from 536 (RFC 879's default MSS, the least) "
	  "to 65535 after 'tcp-mss-clamp', got '65536'" },
	{ "set tcp-mss-clamp 0",
	  2, "expected off, auto or an MSS from 536 (RFC 879's default MSS, the least) "
	  "to 65535 after 'tcp-mss-clamp', got '0'" },
	{ "set tcp-mss-clamp on",
	  2, "expected off, auto or an MSS from 536 (RFC 879's default MSS, the least) "
	  "to 65535 after 'tcp-mss-clamp', got 'on'" },
	{ "set tcp-mss-clamp", 1, "missing value after 'tcp-mss-clamp'" },
	{ "set tcp-mss-clamp auto 1400", 3, "unexpected '1400' in set" },
	{ "set icmp-ratelimit 0", CFG_CMD_SET, NULL },
	{ "set icmp-ratelimit 1000000", CFG_CMD_SET, NULL },
	{ "set icmp-ratelimit 1000001",
	  2, "expected a number from 0 to 1000000 after 'icmp-ratelimit', got '1000001'" },
	{ "set icmp-ratelimit -1",
	  2, "expected a number from 0 to 1000000 after 'icmp-ratelimit', got '-1'" },
	{ "set icmp-ratelimit off",
	  2, "expected a number from 0 to 1000000 after 'icmp-ratelimit', got 'off'" },
	{ "set icmp-ratelimit", 1, "missing value after 'icmp-ratelimit'" },
	{ "set neigh-reachable 1", CFG_CMD_SET, NULL },
	{ "set neigh-reachable 3600", CFG_CMD_SET, NULL },
	{ "set neigh-reachable 0",
	  2, "expected a number from 1 to 3600 after 'neigh-reachable', got '0'" },
	{ "set neigh-reachable 3601",
	  2, "expected a number from 1 to 3600 after 'neigh-reachable', got '3601'" },
	{ "set neigh-reachable", 1, "missing value after 'neigh-reachable'" },
	{ "set neigh-reachable 30 30", 3, "unexpected '30' in set" },
	{ "frob",
	  0, "unknown command 'frob' (expected port, route, neigh, state, policy, "
	  "stats, monitor or set)" },
	{ "", CFG_CMD_NONE, NULL },
};

static void
test_grammar_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(grammar) / sizeof(grammar[0]); i++) {
		struct cfg_cmd cmd;
		struct cfg_error err;
		int ret = parse(grammar[i].line, &cmd, &err);
		bool ok;

		if (grammar[i].msg == NULL)
			ok = ret == 0 && cmd.type == grammar[i].word;
		else
			ok = ret == -EINVAL && err.word == grammar[i].word &&
			     strcmp(err.msg, grammar[i].msg) == 0 &&
			     cmd.type == CFG_CMD_NONE;
		if (!ok)
			fprintf(stderr, "\n  line '%.80s': got %d [%d] '%s'\n",
				grammar[i].line, ret, ret != 0 ? err.word : cmd.type,
				ret != 0 ? err.msg : "");
		CU_ASSERT_TRUE(ok);
		cfg_cmd_clear(&cmd);
	}
}

/* Long words are cut short; a key never appears in a message. */
static void
test_error_hygiene(void)
{
	static const char *const keyed[] = {
		"state add " SA_ID " aead rfc4106(gcm(aes)) 0xdeadbeefcafe 128",
		"state add " SA_ID " aead rfc4106(gcm(aes)) 0xdeadbeefcafeZZ 128",
		"state add " SA_ID " enc 'cbc(aes)' 0xdeadbeefcafe auth-trunc sha1 0x01 96",
		"state add " SA_ID " enc cipher_null 0xdeadbeefcafe auth-trunc sha1 0x01 96",
		"state add " SA_ID " aead rfc4106(gcm(aes)) deadbeefcafe 128",
		/* a key where the ICV belongs, or where nothing belongs */
		"state add " SA_ID " aead rfc4106(gcm(aes)) " GCM128_KEY
		" 0xdeadbeefcafe0102030405060708090a0b0c",
		"state add " SA_ID " 0xdeadbeefcafe0102030405060708090a0b0c",
	};
	struct cfg_cmd cmd;
	struct cfg_error err;
	char line[400];
	size_t i;

	for (i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
		CU_ASSERT_NOT_EQUAL(parse(keyed[i], &cmd, &err), 0);
		CU_ASSERT_PTR_NULL(strstr(err.msg, "deadbeef"));
	}
	/* Key text glued to a pfp field (fuzz_cmd found it shown). */
	CU_ASSERT_NOT_EQUAL(parse("policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out "
				  "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 "
				  "mode tunnel pfp src,protodeadbeefcafe0102030405060708",
				  &cmd, &err), 0);
	CU_ASSERT_PTR_NULL(strstr(err.msg, "deadbeef"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown pfp field '<"));
	expect_err("policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out "
		   "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel "
		   "pfp src,prot",
		   "unknown pfp field 'prot' (expected src, dst, proto, sport or dport)", 20);
	expect_err("state add " SA_ID " 0xdeadbeefcafe0102030405060708090a0b0c",
		   "unexpected '0x<36 hex digits, not shown>' in state add", 10);
	memset(line, 0, sizeof(line));
	strcpy(line, "bogus");
	memset(line + 5, 'x', 300);
	CU_ASSERT_NOT_EQUAL(parse(line, &cmd, &err), 0);
	CU_ASSERT_TRUE(strlen(err.msg) < 160);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "xxx...'"));
}

static void
test_clear_wipes(void)
{
	struct cfg_cmd cmd;
	const uint8_t *p = (const uint8_t *)&cmd;
	size_t i, nz = 0;

	if (parse_ok("state add " SA_ID " enc 'cbc(aes)' " CBC_KEY
		     " auth-trunc 'hmac(sha256)' " SHA256_KEY " 128", &cmd) != 0)
		return;
	CU_ASSERT_EQUAL(cmd.u.state.algo.cipher_key[1], 0x11);
	cfg_cmd_clear(&cmd);
	for (i = 0; i < sizeof(cmd); i++)
		nz += p[i] != 0;
	CU_ASSERT_EQUAL(nz, 0);
}

/* ---- files ------------------------------------------------------------- */

struct seen {
	unsigned int n;
	unsigned int line[16];
	uint8_t type[16];
	uint32_t spi[16];
	int fail_on_line; /* apply returns an error for this line */
};

static int
record(void *arg, const struct cfg_cmd *cmd, const char *file,
       unsigned int line, struct cfg_error *err)
{
	struct seen *s = arg;

	(void)file;
	if ((int)line == s->fail_on_line)
		return cfg_error_set(err, -1, "port %u: no such device", cmd->u.port.id);
	if (s->n < 16) {
		s->line[s->n] = line;
		s->type[s->n] = cmd->type;
		s->spi[s->n] = cmd->type == CFG_CMD_STATE_ADD ? cmd->u.state.spi : 0;
		s->n++;
	}
	return 0;
}

static const char good_file[] =
	"# espd test configuration\n"                                        /* 1 */
	"\n"                                                                 /* 2 */
	"port 0 role protected addr 192.168.1.1/24 \\\n"                    /* 3 */
	"     mac 02:00:00:00:00:01   # the LAN side\n"                      /* 4 */
	"port 1 role unprotected addr 172.16.1.5/24\r\n"                     /* 5 */
	"route add 0.0.0.0/0 port 1 via 172.16.1.254\n"                      /* 6 */
	"neigh add 172.16.1.254 lladdr 02:00:00:00:00:fe port 1\n"           /* 7 */
	"   # an indented comment \\\n"                                      /* 8 */
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1000 \\\n"  /* 9 */
	"    aead \"rfc4106(gcm(aes))\" \\\n"                                /* 10 */
	"    " GCM128_KEY " 128\n"                                           /* 11 */
	"policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out \\\n"      /* 12 */
	"    tmpl src 172.16.1.5 dst 172.16.2.5 proto esp pfp 'src,dst'\n"   /* 13 */
	"state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 \\\n"  /* 14 */
	"    aead 'rfc4106(gcm(aes))' " GCM128_KEY " 128";                   /* 15 */

static void
test_load_file(void)
{
	struct seen s = { .fail_on_line = -1 };
	struct cfg_load ld = { .apply = record, .arg = &s };
	char *path = write_temp(good_file, sizeof(good_file) - 1);
	static const unsigned int lines[] = { 3, 5, 6, 7, 9, 12, 14 };
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL(cfg_load_file(path, &ld), 0);
	CU_ASSERT_EQUAL(ld.nerrors, 0);
	CU_ASSERT_EQUAL(ld.ncmds, 7);
	CU_ASSERT_EQUAL(s.n, 7);
	for (i = 0; i < 7 && i < s.n; i++)
		CU_ASSERT_EQUAL(s.line[i], lines[i]);
	CU_ASSERT_EQUAL(s.type[0], CFG_CMD_PORT);
	CU_ASSERT_EQUAL(s.type[4], CFG_CMD_STATE_ADD);
	CU_ASSERT_EQUAL(s.spi[4], 0x1000);
	CU_ASSERT_EQUAL(s.type[5], CFG_CMD_POLICY_ADD);
	CU_ASSERT_EQUAL(s.spi[6], 0x1001);

	/* an apply error stops the load, with the file and line */
	{
		char *out = NULL, want[256];
		size_t outlen = 0;
		struct seen s2 = { .fail_on_line = 5 };
		struct cfg_load l2 = { .apply = record, .arg = &s2 };

		l2.errs = open_memstream(&out, &outlen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l2.errs);
		CU_ASSERT_EQUAL(cfg_load_file(path, &l2), -EINVAL);
		fclose(l2.errs);
		CU_ASSERT_EQUAL(l2.nerrors, 1);
		CU_ASSERT_EQUAL(s2.n, 1); /* port 0 only */
		snprintf(want, sizeof(want), "%s:5: error: port 1: no such device\n",
			 path);
		CU_ASSERT_STRING_EQUAL(out, want);
		free(out);
	}
	unlink(path);
	free(path);

	/* A line continued into a comment: the comment's own backslash
	 * does not continue it (as in a shell), so the line after is a
	 * command of its own, not lost with the comment. */
	{
		static const char f[] = "port 0 role protected \\\n"
					"#mtu 1400 \\\n"
					"port 1 role unprotected\n";
		struct seen s3 = { .fail_on_line = -1 };
		struct cfg_load l3 = { .apply = record, .arg = &s3 };

		path = write_temp(f, sizeof(f) - 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		CU_ASSERT_EQUAL(cfg_load_file(path, &l3), 0);
		CU_ASSERT_EQUAL(l3.ncmds, 2);
		CU_ASSERT_EQUAL(s3.n, 2);
		unlink(path);
		free(path);
	}

	/* a missing file */
	{
		struct cfg_load l3 = { 0 };

		CU_ASSERT_EQUAL(cfg_load_file("/nonexistent/espd.conf", &l3), -ENOENT);
	}
}

/* A 1 MiB line is refused by itself, without buffering it, and the lines
 * after it (the continuation included) are still read. */
static void
test_huge_line(void)
{
	const size_t big = 1u << 20;
	static const char tail[] = " \\\n port 5\nport 1 role protected\n";
	size_t len = big + sizeof(tail) - 1 + 64;
	char *text = malloc(len), *path, *out = NULL, want[256];
	struct seen s = { .fail_on_line = -1 };
	struct cfg_load ld = { .apply = record, .arg = &s, .keep_going = true };
	size_t n, outlen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	n = (size_t)snprintf(text, len, "port 0 role protected\nstate add ");
	memset(text + n, 'k', big);
	n += big;
	memcpy(text + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	path = write_temp(text, n);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);

	ld.errs = open_memstream(&out, &outlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ld.errs);
	CU_ASSERT_EQUAL(cfg_load_file(path, &ld), -EINVAL);
	fclose(ld.errs);
	CU_ASSERT_EQUAL(ld.nerrors, 1);
	snprintf(want, sizeof(want), "%s:2: error: line too long (more than 65536 bytes)\n",
		 path);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(s.n, 2);
	CU_ASSERT_EQUAL(s.line[0], 1);
	CU_ASSERT_EQUAL(s.line[1], 4);
	free(out);
	unlink(path);
	free(path);
}

int
test_config_register(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);

	if (s == NULL)
		return CU_get_error();
	if (CU_add_test(s, "split: quoting", test_split_quoting) == NULL ||
	    CU_add_test(s, "split: errors and bounds", test_split_errors) == NULL ||
	    CU_add_test(s, "port, route, neigh", test_port_route_neigh) == NULL ||
	    CU_add_test(s, "state add: AEADs", test_state_gcm) == NULL ||
	    CU_add_test(s, "state add: enc/auth-trunc in both orders",
			test_state_cbc_orders) == NULL ||
	    CU_add_test(s, "state add: every option", test_state_options) == NULL ||
	    CU_add_test(s, "state update/del/get/allocspi/list",
			test_state_other) == NULL ||
	    CU_add_test(s, "policy add/del/list/flush", test_policy) == NULL ||
	    CU_add_test(s, "ICMP selectors: type and code", test_icmp_sel) == NULL ||
	    CU_add_test(s, "stats, monitor, set", test_misc_cmds) == NULL ||
	    CU_add_test(s, "set allocspi-expires", test_set_allocspi_expires) == NULL ||
	    CU_add_test(s, "tap, xdp-steer, neigh del/list/flush, new settings",
			test_tap_neigh_settings) == NULL ||
	    CU_add_test(s, "malformed lines", test_errors) == NULL ||
	    CU_add_test(s, "every option word, exact messages",
			test_grammar_table) == NULL ||
	    CU_add_test(s, "no keys in errors", test_error_hygiene) == NULL ||
	    CU_add_test(s, "clear wipes keys", test_clear_wipes) == NULL ||
	    CU_add_test(s, "file: continuations, comments, file:line",
			test_load_file) == NULL ||
	    CU_add_test(s, "file: 1 MiB line", test_huge_line) == NULL)
		return CU_get_error();
	return 0;
}
