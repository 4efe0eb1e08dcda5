/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Words to commands. Each command has a small parser over a cursor; the
 * options after `state add` and `policy add` are a loop over keywords, so
 * they come in any order, as `ip xfrm` takes them. Every value is checked
 * here, before anything touches a table (STYLE habit 18), and every error
 * names the word it is about. Key words are never quoted back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto/crypto.h"
#include "config/config.h"

#define WORD_SHOWN 64 /* longest word quoted back in a message */

/* A word fit to quote in a message: cut short, control bytes as '?'. */
struct quoted {
	char s[WORD_SHOWN + 4];
};

static struct quoted
quote(const char *w)
{
	struct quoted q;
	size_t i, n = strlen(w);

	/* A 0x word too long for any 64-bit number can only be a key that
	 * landed in the wrong place (a missing word before it): keys never
	 * reach a message, so it is described, not shown. */
	if (n > 18 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
		snprintf(q.s, sizeof(q.s), "0x<%zu hex digits, not shown>", n - 2);
		return q;
	}
	/* Nor a key glued to other text ('x'0x0102... splits into one
	 * word): no number or address has more than 16 hex digits in a
	 * row, so a word with such a run is not shown either. */
	for (i = 0; i < n; i++) {
		size_t run = strspn(w + i, "0123456789abcdefABCDEF");

		if (run > 16) {
			snprintf(q.s, sizeof(q.s), "<%zu characters with a key-like hex run, not shown>",
				 n);
			return q;
		}
		i += run;
	}
	for (i = 0; w[i] != '\0' && i < WORD_SHOWN; i++)
		q.s[i] = (w[i] >= 0x20 && w[i] < 0x7f) ? w[i] : '?';
	if (w[i] != '\0')
		memcpy(q.s + i, "...", 3), i += 3;
	q.s[i] = '\0';
	return q;
}

#define Q(w) (quote(w).s)

struct cur {
	int argc;
	char *const *argv;
	int i;
	struct cfg_error *err;
	const char *what; /* "state add", for messages */
};

static const char *
peek(const struct cur *c)
{
	return c->i < c->argc ? c->argv[c->i] : NULL;
}

/* Take the value after keyword argv[i - 1]. */
static int
value(struct cur *c, const char **v)
{
	*v = ""; /* never read on error; keeps -Wmaybe-uninitialized quiet */
	if (c->i >= c->argc)
		return cfg_error_set(c->err, c->i - 1, "missing value after '%s'",
				     Q(c->argv[c->i - 1]));
	*v = c->argv[c->i++];
	return 0;
}

static int
dup_word(struct cur *c)
{
	return cfg_error_set(c->err, c->i - 1, "duplicate '%s' in %s",
			     Q(c->argv[c->i - 1]), c->what);
}

static int
unexpected(struct cur *c)
{
	return cfg_error_set(c->err, c->i, "unexpected '%s' in %s",
			     Q(c->argv[c->i]), c->what);
}

static int
missing(struct cur *c, const char *kw)
{
	return cfg_error_set(c->err, -1, "missing '%s' for %s", kw, c->what);
}

/* ---- Values ---------------------------------------------------------- */

/* Decimal or 0x hex, no sign, no octal. */
static bool
parse_u64(const char *w, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;

	if (w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
		base = 16;
		w += 2;
	}
	if (*w == '\0')
		return false;
	for (; *w != '\0'; w++) {
		unsigned int d;

		if (*w >= '0' && *w <= '9')
			d = (unsigned int)(*w - '0');
		else if (base == 16 && *w >= 'a' && *w <= 'f')
			d = (unsigned int)(*w - 'a' + 10);
		else if (base == 16 && *w >= 'A' && *w <= 'F')
			d = (unsigned int)(*w - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static int
num(struct cur *c, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *kw = c->argv[c->i - 1];
	const char *w = NULL;
	int ret;

	ret = value(c, &w);
	if (ret < 0)
		return ret;
	if (!parse_u64(w, max, out) || *out < min)
		return cfg_error_set(c->err, c->i - 1,
				     "expected a number from %" PRIu64 " to %" PRIu64
				     " after '%s', got '%s'", min, max, Q(kw), Q(w));
	return 0;
}

static int
num32(struct cur *c, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int ret = num(c, min, max, &v);

	if (ret == 0)
		*out = (uint32_t)v;
	return ret;
}

static int
num16(struct cur *c, uint16_t min, uint16_t max, uint16_t *out)
{
	uint64_t v;
	int ret = num(c, min, max, &v);

	if (ret == 0)
		*out = (uint16_t)v;
	return ret;
}

/*
 * ADDR, ADDR/LEN. Host bits of a prefix are cleared when @p mask is set:
 * `ip xfrm` accepts 10.1.2.3/8 and means 10.0.0.0/8, and so do we.
 */
static bool
parse_addr(const char *w, bool allow_len, bool mask, struct cfg_addr *a)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(w, '/');
	size_t n = slash != NULL ? (size_t)(slash - w) : strlen(w);
	unsigned int max, len, i;

	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, w, n);
	ip[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, a->a) == 1) {
		a->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, a->a) == 1) {
		a->af = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	len = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (!allow_len || *p == '\0' || strlen(p) > 3)
			return false;
		for (len = 0; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return false;
			len = len * 10 + (unsigned int)(*p - '0');
		}
		if (len > max)
			return false;
	}
	a->len = (uint8_t)len;
	if (mask) {
		for (i = 0; i < max / 8; i++) {
			if (i * 8 >= len)
				a->a[i] = 0;
			else if (i * 8 + 8 > len)
				a->a[i] &= (uint8_t)(0xff << (8 - (len - i * 8)));
		}
	}
	return true;
}

static int
get_prefix(struct cur *c, struct cfg_addr *a)
{
	const char *w = NULL;
	int ret = value(c, &w);

	if (ret == 0 && !parse_addr(w, true, true, a))
		ret = cfg_error_set(c->err, c->i - 1,
				    "expected IPv4 or IPv6 prefix, got '%s'", Q(w));
	return ret;
}

static int
get_ip(struct cur *c, struct cfg_addr *a)
{
	const char *w = NULL;
	int ret = value(c, &w);

	if (ret == 0 && !parse_addr(w, false, false, a))
		ret = cfg_error_set(c->err, c->i - 1,
				    "expected IPv4 or IPv6 address, got '%s'", Q(w));
	return ret;
}

static int
get_mac(struct cur *c, uint8_t mac[6])
{
	const char *w = NULL, *p;
	int ret = value(c, &w);
	unsigned int i;

	if (ret < 0)
		return ret;
	p = w;
	for (i = 0; i < 6; i++) {
		uint64_t v;
		char hex[5] = "0x";

		if (p[0] == '\0' || p[1] == '\0')
			goto err_mac;
		hex[2] = p[0];
		hex[3] = p[1];
		hex[4] = '\0';
		if (!parse_u64(hex, 0xff, &v))
			goto err_mac;
		mac[i] = (uint8_t)v;
		p += 2;
		if (i < 5 && *p++ != ':')
			goto err_mac;
	}
	if (*p == '\0')
		return 0;
err_mac:
	return cfg_error_set(c->err, c->i - 1,
			     "expected a MAC address (xx:xx:xx:xx:xx:xx), got '%s'",
			     Q(w));
}

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "any", 0 }, { "icmp", IPPROTO_ICMP }, { "tcp", IPPROTO_TCP },
	{ "udp", IPPROTO_UDP }, { "dccp", 33 }, { "gre", IPPROTO_GRE },
	{ "esp", IPPROTO_ESP }, { "ah", IPPROTO_AH },
	{ "ipv6-icmp", IPPROTO_ICMPV6 }, { "icmpv6", IPPROTO_ICMPV6 },
	{ "sctp", 132 }, { "udplite", 136 },
};

static int
get_proto(struct cur *c, uint8_t *proto)
{
	const char *w = NULL;
	uint64_t v;
	size_t k;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	for (k = 0; k < sizeof(protos) / sizeof(protos[0]); k++) {
		if (strcmp(w, protos[k].name) == 0) {
			*proto = protos[k].num;
			return 0;
		}
	}
	if (!parse_u64(w, 255, &v))
		return cfg_error_set(c->err, c->i - 1,
				     "expected a protocol name or number 0-255, got '%s'",
				     Q(w));
	*proto = (uint8_t)v;
	return 0;
}

static bool
proto_has_ports(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == 33 || p == 132 ||
	       p == 136;
}

/* N, or N-M when @p range. */
static int
get_ports(struct cur *c, bool range, uint16_t *lo, uint16_t *hi)
{
	const char *w = NULL, *dash;
	uint64_t a, b;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	dash = strchr(w, '-');
	if (dash == NULL) {
		if (!parse_u64(w, 65535, &a))
			goto err_port;
		*lo = *hi = (uint16_t)a;
		return 0;
	}
	if (range) {
		char first[8];
		size_t n = (size_t)(dash - w);

		if (n == 0 || n >= sizeof(first))
			goto err_port;
		memcpy(first, w, n);
		first[n] = '\0';
		if (!parse_u64(first, 65535, &a) || !parse_u64(dash + 1, 65535, &b))
			goto err_port;
		if (a > b)
			return cfg_error_set(c->err, c->i - 1,
					     "port range '%s' is reversed", Q(w));
		*lo = (uint16_t)a;
		*hi = (uint16_t)b;
		return 0;
	}
err_port:
	return cfg_error_set(c->err, c->i - 1,
			     range ? "expected a port or range N-M (0-65535), got '%s'" :
				     "expected a port number (0-65535), got '%s'",
			     Q(w));
}

static int
get_spi(struct cur *c, bool strict, uint32_t *spi)
{
	const char *w = NULL;
	uint64_t v;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (!parse_u64(w, UINT32_MAX, &v))
		return cfg_error_set(c->err, c->i - 1,
				     "expected an SPI (32-bit, decimal or 0x hex), got '%s'",
				     Q(w));
	if (strict && v == 0)
		return cfg_error_set(c->err, c->i - 1, "SPI 0 is invalid, got '%s'",
				     Q(w));
	if (strict && v < 256)
		return cfg_error_set(c->err, c->i - 1,
				     "SPI %" PRIu64 " is reserved (RFC 4303 2.1: 1-255), got '%s'",
				     v, Q(w));
	*spi = (uint32_t)v;
	return 0;
}

/* One word among @p names (NULL-terminated); its index in @p out. */
static int
get_choice(struct cur *c, const char *const names[], const char *expect,
	   uint8_t *out)
{
	const char *w = NULL;
	uint8_t k;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	for (k = 0; names[k] != NULL; k++) {
		if (strcmp(w, names[k]) == 0) {
			*out = k;
			return 0;
		}
	}
	return cfg_error_set(c->err, c->i - 1, "expected %s after '%s', got '%s'",
			     expect, Q(c->argv[c->i - 2]), Q(w));
}

static const char *const dir_names[] = { "", "in", "out", "fwd", NULL };
static const char *const mode_names[] = { "tunnel", "transport", NULL };

static int
get_dir(struct cur *c, bool fwd, uint8_t *dir)
{
	int ret = get_choice(c, dir_names, fwd ? "in, out or fwd" : "in or out",
			     dir);

	if (ret == 0 && (*dir == CFG_DIR_NONE || (!fwd && *dir == CFG_DIR_FWD)))
		return cfg_error_set(c->err, c->i - 1,
				     "expected %s after 'dir', got '%s'",
				     fwd ? "in, out or fwd" : "in or out",
				     Q(c->argv[c->i - 1]));
	return ret;
}

static int
get_mode(struct cur *c, uint8_t *mode)
{
	return get_choice(c, mode_names, "tunnel or transport", mode);
}

static int
get_esp(struct cur *c)
{
	const char *w = NULL;
	int ret = value(c, &w);

	if (ret == 0 && strcmp(w, "esp") != 0)
		ret = cfg_error_set(c->err, c->i - 1,
				    "only 'proto esp' is supported, got '%s'", Q(w));
	return ret;
}

/* ---- Selectors --------------------------------------------------------- */

enum { S_SRC, S_DST, S_PROTO, S_SPORT, S_DPORT, S_N };
static const char *const sel_keys[S_N] = { "src", "dst", "proto", "sport", "dport" };

struct selp {
	unsigned int seen; /* bit per S_* */
	int at[S_N];       /* word index of each keyword */
};

static int
sel_key(const char *w)
{
	int k;

	for (k = 0; k < S_N; k++)
		if (w != NULL && strcmp(w, sel_keys[k]) == 0)
			return k;
	return -1;
}

/* Parse selector keyword @p k at c->i. */
static int
sel_word(struct cur *c, int k, struct selp *sp, struct cfg_sel *s, bool range)
{
	c->i++;
	if (sp->seen & (1u << k))
		return dup_word(c);
	sp->seen |= 1u << k;
	sp->at[k] = c->i - 1;
	switch (k) {
	case S_SRC:
		return get_prefix(c, &s->src);
	case S_DST:
		return get_prefix(c, &s->dst);
	case S_PROTO:
		return get_proto(c, &s->proto);
	case S_SPORT:
		s->has_sport = true;
		return get_ports(c, range, &s->sport_lo, &s->sport_hi);
	default:
		s->has_dport = true;
		return get_ports(c, range, &s->dport_lo, &s->dport_hi);
	}
}

static int
sel_finish(struct cur *c, const struct selp *sp, struct cfg_sel *s,
	   const char *in)
{
	if (!(sp->seen & (1u << S_SRC)))
		return cfg_error_set(c->err, -1, "missing 'src' for %s", in);
	if (!(sp->seen & (1u << S_DST)))
		return cfg_error_set(c->err, -1, "missing 'dst' for %s", in);
	if (s->src.af != s->dst.af)
		return cfg_error_set(c->err, sp->at[S_DST] + 1,
				     "src and dst of %s differ in address family", in);
	if ((s->has_sport || s->has_dport) && !proto_has_ports(s->proto)) {
		int k = s->has_sport ? S_SPORT : S_DPORT;

		return cfg_error_set(c->err, sp->at[k],
				     "'%s' needs proto tcp, udp, sctp, dccp or udplite",
				     sel_keys[k]);
	}
	if (!s->has_sport)
		s->sport_hi = 65535;
	if (!s->has_dport)
		s->dport_hi = 65535;
	return 0;
}

/* ---- Algorithms ------------------------------------------------------- */

const char *
cfg_cipher_name(enum crypto_cipher ci)
{
	switch (ci) {
	case CRYPTO_CIPHER_NULL:
		return "cipher_null";
	case CRYPTO_CIPHER_AES_CBC:
		return "cbc(aes)";
	case CRYPTO_CIPHER_AES_GCM:
		return "rfc4106(gcm(aes))";
	case CRYPTO_CIPHER_CHACHA20_POLY1305:
		return "rfc7539esp(chacha20,poly1305)";
	}
	return "?";
}

const char *
cfg_auth_name(enum crypto_auth a)
{
	switch (a) {
	case CRYPTO_AUTH_NONE:
		return "none";
	case CRYPTO_AUTH_HMAC_SHA1:
		return "hmac(sha1)";
	case CRYPTO_AUTH_HMAC_SHA256:
		return "hmac(sha256)";
	case CRYPTO_AUTH_HMAC_SHA384:
		return "hmac(sha384)";
	case CRYPTO_AUTH_HMAC_SHA512:
		return "hmac(sha512)";
	}
	return "?";
}

void
cfg_algo_params(const struct cfg_algo *a, struct crypto_algo_params *p)
{
	memset(p, 0, sizeof(*p));
	p->cipher = (enum crypto_cipher)a->cipher;
	p->auth = (enum crypto_auth)a->auth;
	p->cipher_key = a->cipher_key;
	p->cipher_key_len = a->cipher_key_len;
	p->auth_key = a->auth_key;
	p->auth_key_len = a->auth_key_len;
	p->icv_len = a->icv_len;
}

/* Names `ip xfrm` and the kernel's crypto API accept for each. */
static const struct {
	const char *name;
	uint8_t id;
} aead_names[] = {
	{ "rfc4106(gcm(aes))", CRYPTO_CIPHER_AES_GCM },
	{ "rfc7539esp(chacha20,poly1305)", CRYPTO_CIPHER_CHACHA20_POLY1305 },
}, enc_names[] = {
	{ "cbc(aes)", CRYPTO_CIPHER_AES_CBC }, { "aes", CRYPTO_CIPHER_AES_CBC },
	{ "cipher_null", CRYPTO_CIPHER_NULL },
	{ "ecb(cipher_null)", CRYPTO_CIPHER_NULL },
}, auth_names[] = {
	{ "hmac(sha1)", CRYPTO_AUTH_HMAC_SHA1 }, { "sha1", CRYPTO_AUTH_HMAC_SHA1 },
	{ "hmac(sha256)", CRYPTO_AUTH_HMAC_SHA256 },
	{ "sha256", CRYPTO_AUTH_HMAC_SHA256 },
	{ "hmac(sha384)", CRYPTO_AUTH_HMAC_SHA384 },
	{ "sha384", CRYPTO_AUTH_HMAC_SHA384 },
	{ "hmac(sha512)", CRYPTO_AUTH_HMAC_SHA512 },
	{ "sha512", CRYPTO_AUTH_HMAC_SHA512 },
};

#define LOOKUP(tab, w, out) lookup(tab, sizeof(tab) / sizeof(tab[0]), w, out)

static bool
lookup(const void *tab, size_t n, const char *w, uint8_t *out)
{
	const struct { const char *name; uint8_t id; } *t = tab;
	size_t k;

	for (k = 0; k < n; k++) {
		if (strcmp(t[k].name, w) == 0) {
			*out = t[k].id;
			return true;
		}
	}
	return false;
}

/*
 * KEY: 0x followed by an even number of hex digits, or "" (an empty key,
 * for cipher_null). The word is never quoted back: it is secret.
 */
static int
get_key(struct cur *c, const char *algo, uint8_t *key, uint16_t *len)
{
	const char *w = NULL;
	size_t n, k;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (w[0] == '\0') {
		*len = 0;
		return 0;
	}
	if (w[0] != '0' || (w[1] != 'x' && w[1] != 'X'))
		goto err_hex;
	w += 2;
	n = strlen(w);
	if (n % 2 != 0)
		goto err_hex;
	if (n / 2 > CFG_KEY_MAX)
		return cfg_error_set(c->err, c->i - 1,
				     "key for %s is too long (%zu bytes, at most %d)",
				     algo, n / 2, CFG_KEY_MAX);
	for (k = 0; k < n; k++) {
		char ch = w[k];
		uint8_t d;

		if (ch >= '0' && ch <= '9')
			d = (uint8_t)(ch - '0');
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			d = (uint8_t)((ch | 0x20) - 'a' + 10);
		else
			goto err_hex;
		if (k % 2 == 0)
			key[k / 2] = (uint8_t)(d << 4);
		else
			key[k / 2] |= d;
	}
	*len = (uint16_t)(n / 2);
	return 0;
err_hex:
	explicit_bzero(key, CFG_KEY_MAX);
	return cfg_error_set(c->err, c->i - 1,
			     "key for %s must be 0x followed by an even number of hex digits",
			     algo);
}

static int
get_icv(struct cur *c, const char *algo, const uint16_t bits_ok[],
	const char *ok_text, uint16_t *icv_len)
{
	uint32_t bits = 0;
	size_t k;
	int ret = num32(c, 0, UINT32_MAX, &bits);

	if (ret < 0)
		return ret;
	for (k = 0; bits_ok[k] != 0; k++) {
		if (bits == bits_ok[k]) {
			*icv_len = (uint16_t)(bits / 8);
			return 0;
		}
	}
	return cfg_error_set(c->err, c->i - 1,
			     "ICV for %s must be %s bits, got %" PRIu32, algo,
			     ok_text, bits);
}

/* aead NAME KEY ICV-BITS */
static int
parse_aead(struct cur *c, struct cfg_algo *a)
{
	static const uint16_t gcm_icv[] = { 64, 96, 128, 0 };
	static const uint16_t chacha_icv[] = { 128, 0 };
	const char *w = NULL, *name;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (!LOOKUP(aead_names, w, &a->cipher))
		return cfg_error_set(c->err, c->i - 1,
				     "unknown AEAD '%s' (expected rfc4106(gcm(aes)) or "
				     "rfc7539esp(chacha20,poly1305))", Q(w));
	a->auth = CRYPTO_AUTH_NONE;
	name = cfg_cipher_name(a->cipher);
	ret = get_key(c, name, a->cipher_key, &a->cipher_key_len);
	if (ret < 0)
		return ret;
	if (a->cipher == CRYPTO_CIPHER_AES_GCM) {
		/* AES-128 or AES-256 key, then the 4-byte salt (RFC 4106 8.1) */
		if (a->cipher_key_len != 20 && a->cipher_key_len != 36)
			return cfg_error_set(c->err, c->i - 1,
					     "key for %s must be 20 or 36 bytes, got %u",
					     name, a->cipher_key_len);
		ret = get_icv(c, name, gcm_icv, "64, 96 or 128", &a->icv_len);
	} else {
		/* 256-bit key, then the 4-byte salt (RFC 7634 2) */
		if (a->cipher_key_len != 36)
			return cfg_error_set(c->err, c->i - 1,
					     "key for %s must be 36 bytes, got %u",
					     name, a->cipher_key_len);
		ret = get_icv(c, name, chacha_icv, "128", &a->icv_len);
	}
	if (ret == 0)
		snprintf(a->name, sizeof(a->name), "%s", name);
	return ret;
}

/* enc NAME KEY */
static int
parse_enc(struct cur *c, struct cfg_algo *a)
{
	const char *w = NULL, *name;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (!LOOKUP(enc_names, w, &a->cipher))
		return cfg_error_set(c->err, c->i - 1,
				     "unknown cipher '%s' (expected cbc(aes) or cipher_null)",
				     Q(w));
	name = cfg_cipher_name(a->cipher);
	ret = get_key(c, name, a->cipher_key, &a->cipher_key_len);
	if (ret < 0)
		return ret;
	if (a->cipher == CRYPTO_CIPHER_NULL && a->cipher_key_len != 0)
		return cfg_error_set(c->err, c->i - 1,
				     "key for cipher_null must be empty (\"\"), got %u bytes",
				     a->cipher_key_len);
	if (a->cipher == CRYPTO_CIPHER_AES_CBC && a->cipher_key_len != 16 &&
	    a->cipher_key_len != 32)
		return cfg_error_set(c->err, c->i - 1,
				     "key for cbc(aes) must be 16 or 32 bytes, got %u",
				     a->cipher_key_len);
	return 0;
}

/* auth-trunc NAME KEY ICV-BITS: the RFC's truncation, or the full digest
 * (known-answer tests use it). */
static int
parse_auth_trunc(struct cur *c, struct cfg_algo *a)
{
	static const uint16_t sha1[] = { 96, 160, 0 }, sha256[] = { 128, 256, 0 },
			      sha384[] = { 192, 384, 0 }, sha512[] = { 256, 512, 0 };
	const uint16_t *ok;
	const char *w, *name, *ok_text;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (!LOOKUP(auth_names, w, &a->auth))
		return cfg_error_set(c->err, c->i - 1,
				     "unknown integrity algorithm '%s' (expected hmac(sha1), "
				     "hmac(sha256), hmac(sha384) or hmac(sha512))", Q(w));
	name = cfg_auth_name(a->auth);
	ret = get_key(c, name, a->auth_key, &a->auth_key_len);
	if (ret < 0)
		return ret;
	if (a->auth_key_len == 0)
		return cfg_error_set(c->err, c->i - 1,
				     "key for %s must be 1 to %d bytes, got 0", name,
				     CFG_KEY_MAX);
	switch (a->auth) {
	case CRYPTO_AUTH_HMAC_SHA1:
		ok = sha1, ok_text = "96 or 160";
		break;
	case CRYPTO_AUTH_HMAC_SHA256:
		ok = sha256, ok_text = "128 or 256";
		break;
	case CRYPTO_AUTH_HMAC_SHA384:
		ok = sha384, ok_text = "192 or 384";
		break;
	default:
		ok = sha512, ok_text = "256 or 512";
		break;
	}
	return get_icv(c, name, ok, ok_text, &a->icv_len);
}

/* ---- state ------------------------------------------------------------ */

static const char *const flag_names[] = { "esn", "noecn", "decap-dscp",
					  "dont-encap-dscp", NULL };
static const char *const limit_names[] = { "byte-soft", "byte-hard",
					   "packet-soft", "packet-hard",
					   "time-soft", "time-hard", NULL };

static int
name_index(const char *const names[], const char *w)
{
	int k;

	for (k = 0; w != NULL && names[k] != NULL; k++)
		if (strcmp(names[k], w) == 0)
			return k;
	return -1;
}

/* flag NAME [NAME...]: `flag esn flag noecn` and `flag esn noecn` both. */
static int
parse_flags(struct cur *c, uint32_t *flags)
{
	const char *w = NULL;
	int k, ret = value(c, &w);

	if (ret < 0)
		return ret;
	k = name_index(flag_names, w);
	if (k < 0)
		return cfg_error_set(c->err, c->i - 1,
				     "unknown flag '%s' (expected esn, noecn, decap-dscp "
				     "or dont-encap-dscp)", Q(w));
	*flags |= 1u << k;
	while ((k = name_index(flag_names, peek(c))) >= 0) {
		*flags |= 1u << k;
		c->i++;
	}
	return 0;
}

/* limit KIND N [KIND N...] */
static int
parse_limits(struct cur *c, struct cfg_state *s)
{
	const char *w = NULL;
	int k, ret;

	for (;;) {
		ret = value(c, &w);
		if (ret < 0)
			return ret;
		k = name_index(limit_names, w);
		if (k < 0)
			return cfg_error_set(c->err, c->i - 1,
					     "unknown limit '%s' (expected byte-soft, byte-hard, "
					     "packet-soft, packet-hard, time-soft or time-hard)",
					     Q(w));
		if (s->limit_set & (1u << k))
			return dup_word(c);
		ret = num(c, 0, UINT64_MAX, &s->limit[k]);
		if (ret < 0)
			return ret;
		s->limit_set |= 1u << k;
		if (name_index(limit_names, peek(c)) < 0)
			return 0;
	}
}

/* encap espinudp SPORT DPORT OA */
static int
parse_encap(struct cur *c, struct cfg_state *s)
{
	const char *w = NULL;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	if (strcmp(w, "espinudp") != 0)
		return cfg_error_set(c->err, c->i - 1,
				     "unsupported encap '%s' (only espinudp)", Q(w));
	ret = num16(c, 1, 65535, &s->encap_sport);
	if (ret == 0)
		ret = num16(c, 1, 65535, &s->encap_dport);
	/* The original address of RFC 3948 transport-mode checksum fix-ups:
	 * `ip xfrm` wants one, usually 0.0.0.0; any address is kept as is. */
	if (ret == 0)
		ret = get_ip(c, &s->encap_oa);
	return ret;
}

/* sel src P dst P [proto P [sport N] [dport N]]: the selector's own words
 * run until a word that is not one, or one it already has (so a `src`
 * after `sel src A dst B` is the SA's). */
static int
parse_state_sel(struct cur *c, struct cfg_state *s)
{
	struct selp sp = { 0 };
	int k, ret;

	while ((k = sel_key(peek(c))) >= 0 && !(sp.seen & (1u << k))) {
		ret = sel_word(c, k, &sp, &s->sel, false);
		if (ret < 0)
			return ret;
	}
	return sel_finish(c, &sp, &s->sel, "sel");
}

enum { A_SRC, A_DST, A_PROTO, A_SPI, A_AEAD, A_ENC, A_AUTH, A_N };

static int
parse_state(struct cur *c, struct cfg_state *s, bool update)
{
	uint32_t seen = 0;
	int at[A_N] = { 0 };
	int ret;

	s->mode = CFG_MODE_TUNNEL;
	s->replay_window = CFG_REPLAY_WINDOW_DEFAULT;

	while (c->i < c->argc) {
		const char *w = c->argv[c->i++];
		uint32_t bit = 0; /* CFG_SA_HAS_* for a once-only option */
		int a = -1;       /* A_* for one of those */

		if (strcmp(w, "src") == 0) {
			a = A_SRC;
		} else if (strcmp(w, "dst") == 0) {
			a = A_DST;
		} else if (strcmp(w, "proto") == 0) {
			a = A_PROTO;
		} else if (strcmp(w, "spi") == 0) {
			a = A_SPI;
		} else if (strcmp(w, "aead") == 0) {
			a = A_AEAD;
		} else if (strcmp(w, "enc") == 0) {
			a = A_ENC;
		} else if (strcmp(w, "auth-trunc") == 0) {
			a = A_AUTH;
		} else if (strcmp(w, "dir") == 0) {
			bit = CFG_SA_HAS_DIR;
		} else if (strcmp(w, "reqid") == 0) {
			bit = CFG_SA_HAS_REQID;
		} else if (strcmp(w, "seq") == 0) {
			bit = CFG_SA_HAS_SEQ;
		} else if (strcmp(w, "mode") == 0) {
			bit = CFG_SA_HAS_MODE;
		} else if (strcmp(w, "replay-window") == 0) {
			bit = CFG_SA_HAS_WINDOW;
		} else if (strcmp(w, "replay-seq") == 0) {
			bit = CFG_SA_HAS_RSEQ;
		} else if (strcmp(w, "replay-oseq") == 0) {
			bit = CFG_SA_HAS_ROSEQ;
		} else if (strcmp(w, "replay-seq-hi") == 0) {
			bit = CFG_SA_HAS_RSEQ_HI;
		} else if (strcmp(w, "replay-oseq-hi") == 0) {
			bit = CFG_SA_HAS_ROSEQ_HI;
		} else if (strcmp(w, "encap") == 0) {
			bit = CFG_SA_HAS_ENCAP;
		} else if (strcmp(w, "sel") == 0) {
			bit = CFG_SA_HAS_SEL;
		} else if (strcmp(w, "flag") == 0) {
			s->has |= CFG_SA_HAS_FLAGS;
			ret = parse_flags(c, &s->flags);
			goto next;
		} else if (strcmp(w, "limit") == 0) {
			s->has |= CFG_SA_HAS_LIMIT;
			ret = parse_limits(c, s);
			goto next;
		} else if (strcmp(w, "auth") == 0) {
			return cfg_error_set(c->err, c->i - 1,
					     "use 'auth-trunc NAME KEY BITS' instead of 'auth'");
		} else {
			c->i--;
			return unexpected(c);
		}

		if (a >= 0) {
			if (seen & (1u << a))
				return dup_word(c);
			seen |= 1u << a;
			at[a] = c->i - 1;
		} else {
			if (s->has & bit)
				return dup_word(c);
			s->has |= bit;
		}
		switch (a) {
		case A_SRC:
			ret = get_ip(c, &s->src);
			goto next;
		case A_DST:
			ret = get_ip(c, &s->dst);
			goto next;
		case A_PROTO:
			ret = get_esp(c);
			goto next;
		case A_SPI:
			ret = get_spi(c, true, &s->spi);
			goto next;
		case A_AEAD:
			if (seen & (1u << A_ENC | 1u << A_AUTH))
				goto err_aead;
			ret = parse_aead(c, &s->algo);
			goto next;
		case A_ENC:
			if (seen & (1u << A_AEAD))
				goto err_aead;
			ret = parse_enc(c, &s->algo);
			goto next;
		case A_AUTH:
			if (seen & (1u << A_AEAD))
				goto err_aead;
			ret = parse_auth_trunc(c, &s->algo);
			goto next;
		default:
			break;
		}
		switch (bit) {
		case CFG_SA_HAS_DIR:
			ret = get_dir(c, false, &s->dir);
			break;
		case CFG_SA_HAS_REQID:
			ret = num32(c, 0, UINT32_MAX, &s->reqid);
			break;
		case CFG_SA_HAS_SEQ:
			ret = num32(c, 0, UINT32_MAX, &s->seq);
			break;
		case CFG_SA_HAS_MODE:
			ret = get_mode(c, &s->mode);
			break;
		case CFG_SA_HAS_WINDOW:
			ret = num32(c, 0, CFG_REPLAY_WINDOW_MAX, &s->replay_window);
			break;
		case CFG_SA_HAS_RSEQ:
			ret = num32(c, 0, UINT32_MAX, &s->replay_seq);
			break;
		case CFG_SA_HAS_ROSEQ:
			ret = num32(c, 0, UINT32_MAX, &s->replay_oseq);
			break;
		case CFG_SA_HAS_RSEQ_HI:
			ret = num32(c, 0, UINT32_MAX, &s->replay_seq_hi);
			break;
		case CFG_SA_HAS_ROSEQ_HI:
			ret = num32(c, 0, UINT32_MAX, &s->replay_oseq_hi);
			break;
		case CFG_SA_HAS_ENCAP:
			ret = parse_encap(c, s);
			break;
		default: /* CFG_SA_HAS_SEL */
			ret = parse_state_sel(c, s);
			break;
		}
next:
		if (ret < 0)
			return ret;
	}

	if (!(seen & (1u << A_SRC)))
		return missing(c, "src");
	if (!(seen & (1u << A_DST)))
		return missing(c, "dst");
	if (!(seen & (1u << A_PROTO)))
		return missing(c, "proto esp");
	if (!(seen & (1u << A_SPI)))
		return missing(c, "spi");
	if (s->src.af != s->dst.af)
		return cfg_error_set(c->err, at[A_DST] + 1,
				     "src and dst of %s differ in address family", c->what);
	if ((seen & (1u << A_ENC)) && !(seen & (1u << A_AUTH)))
		return cfg_error_set(c->err, at[A_ENC],
				     "'enc' needs 'auth-trunc' (ESP without integrity is not supported)");
	if ((seen & (1u << A_AUTH)) && !(seen & (1u << A_ENC)))
		return cfg_error_set(c->err, at[A_AUTH],
				     "'auth-trunc' needs 'enc' (use enc cipher_null \"\" for integrity only)");
	if (seen & (1u << A_AEAD | 1u << A_ENC)) {
		s->has |= CFG_SA_HAS_ALGO;
		if (s->algo.auth != CRYPTO_AUTH_NONE)
			snprintf(s->algo.name, sizeof(s->algo.name), "%s+%s",
				 cfg_cipher_name(s->algo.cipher),
				 cfg_auth_name(s->algo.auth));
	} else if (!update) {
		return cfg_error_set(c->err, -1,
				     "missing algorithm for %s (aead, or enc with auth-trunc)",
				     c->what);
	}
	if ((s->has & (CFG_SA_HAS_RSEQ_HI | CFG_SA_HAS_ROSEQ_HI)) &&
	    !(s->flags & CFG_SA_F_ESN))
		return cfg_error_set(c->err, -1,
				     "'replay-seq-hi' and 'replay-oseq-hi' need flag esn");
	if (s->has & CFG_SA_HAS_SEL) {
		if (s->mode == CFG_MODE_TRANSPORT && s->sel.src.af != s->src.af)
			return cfg_error_set(c->err, -1,
					     "a transport-mode SA's sel must be of its own address family");
	} else {
		/* No sel: any traffic, of the SA's family (a tunnel SA given a
		 * sel may carry the other family). */
		s->sel.src.af = s->sel.dst.af = s->src.af;
		s->sel.sport_hi = s->sel.dport_hi = 65535;
	}
	return 0;

err_aead:
	return cfg_error_set(c->err, c->i - 1,
			     "'aead' cannot be combined with 'enc' or 'auth-trunc'");
}

/* state del|get src IP dst IP proto esp spi SPI [show-keys] */
static int
parse_state_id(struct cur *c, struct cfg_state_id *id, bool get)
{
	unsigned int seen = 0;
	int ret, at_dst = -1;

	while (c->i < c->argc) {
		const char *w = c->argv[c->i++];
		unsigned int bit;

		if (strcmp(w, "src") == 0)
			bit = 1;
		else if (strcmp(w, "dst") == 0)
			bit = 2;
		else if (strcmp(w, "proto") == 0)
			bit = 4;
		else if (strcmp(w, "spi") == 0)
			bit = 8;
		else if (get && strcmp(w, "show-keys") == 0)
			bit = 16;
		else {
			c->i--;
			return unexpected(c);
		}
		if (seen & bit)
			return dup_word(c);
		seen |= bit;
		switch (bit) {
		case 1:
			ret = get_ip(c, &id->src);
			break;
		case 2:
			at_dst = c->i - 1;
			ret = get_ip(c, &id->dst);
			break;
		case 4:
			ret = get_esp(c);
			break;
		case 8:
			ret = get_spi(c, false, &id->spi);
			break;
		default:
			id->show_keys = true;
			ret = 0;
			break;
		}
		if (ret < 0)
			return ret;
	}
	if (!(seen & 1))
		return missing(c, "src");
	if (!(seen & 2))
		return missing(c, "dst");
	if (!(seen & 4))
		return missing(c, "proto esp");
	if (!(seen & 8))
		return missing(c, "spi");
	if (id->src.af != id->dst.af)
		return cfg_error_set(c->err, at_dst + 1,
				     "src and dst of %s differ in address family", c->what);
	return 0;
}

/* state allocspi src IP dst IP proto esp [reqid N] [seq N] [mode M]
 *                [min SPI max SPI] */
static int
parse_allocspi(struct cur *c, struct cfg_allocspi *a)
{
	static const char *const keys[] = { "src", "dst", "proto", "reqid", "seq",
					    "mode", "min", "max", NULL };
	unsigned int seen = 0;
	int ret, k, at[8] = { 0 };

	a->min = 256;
	a->max = UINT32_MAX;
	while (c->i < c->argc) {
		k = name_index(keys, c->argv[c->i]);
		if (k < 0)
			return unexpected(c);
		c->i++;
		if (seen & (1u << k))
			return dup_word(c);
		seen |= 1u << k;
		at[k] = c->i - 1;
		switch (k) {
		case 0:
			ret = get_ip(c, &a->src);
			break;
		case 1:
			ret = get_ip(c, &a->dst);
			break;
		case 2:
			ret = get_esp(c);
			break;
		case 3:
			a->has_reqid = true;
			ret = num32(c, 0, UINT32_MAX, &a->reqid);
			break;
		case 4:
			a->has_seq = true;
			ret = num32(c, 0, UINT32_MAX, &a->seq);
			break;
		case 5:
			a->has_mode = true;
			ret = get_mode(c, &a->mode);
			break;
		case 6:
			ret = get_spi(c, true, &a->min);
			break;
		default:
			ret = get_spi(c, true, &a->max);
			break;
		}
		if (ret < 0)
			return ret;
	}
	if (!(seen & 1))
		return missing(c, "src");
	if (!(seen & 2))
		return missing(c, "dst");
	if (!(seen & 4))
		return missing(c, "proto esp");
	if (a->src.af != a->dst.af)
		return cfg_error_set(c->err, at[1] + 1,
				     "src and dst of %s differ in address family", c->what);
	if ((seen & (1u << 6)) && !(seen & (1u << 7)))
		return cfg_error_set(c->err, at[6], "'min' needs 'max'");
	if ((seen & (1u << 7)) && !(seen & (1u << 6)))
		return cfg_error_set(c->err, at[7], "'max' needs 'min'");
	if (a->min > a->max)
		return cfg_error_set(c->err, at[6],
				     "min SPI 0x%08" PRIx32 " is above max SPI 0x%08" PRIx32,
				     a->min, a->max);
	return 0;
}

/* ---- policy ----------------------------------------------------------- */

static int
parse_pfp(struct cur *c, uint32_t *pfp)
{
	static const char *const fields[] = { "src", "dst", "proto", "sport",
					      "dport", NULL };
	const char *w = NULL, *p;
	int ret = value(c, &w);

	if (ret < 0)
		return ret;
	for (p = w;; p++) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char f[8];
		int k = -1;

		if (n == 0)
			return cfg_error_set(c->err, c->i - 1,
					     "empty field in pfp list '%s'", Q(w));
		if (n < sizeof(f)) {
			memcpy(f, p, n);
			f[n] = '\0';
			k = name_index(fields, f);
		}
		if (k < 0)
			return cfg_error_set(c->err, c->i - 1,
					     "unknown pfp field '%.*s' (expected src, dst, proto, "
					     "sport or dport)", n > WORD_SHOWN ? WORD_SHOWN :
					     (int)n, p);
		if (*pfp & (1u << k))
			return cfg_error_set(c->err, c->i - 1,
					     "duplicate pfp field '%s'", fields[k]);
		*pfp |= 1u << k;
		if (end == NULL)
			break;
		p = end;
	}
	return 0;
}

/* tmpl [src IP dst IP] [proto esp] [spi SPI] [reqid N] [mode M] [level L],
 * its words running as a sel's do. */
static int
parse_tmpl(struct cur *c, struct cfg_tmpl *t)
{
	static const char *const keys[] = { "src", "dst", "proto", "spi",
					    "reqid", "mode", "level", NULL };
	static const char *const levels[] = { "required", "use", NULL };
	unsigned int seen = 0;
	int k, ret, at_tmpl = c->i - 1, at_dst = 0;

	while ((k = name_index(keys, peek(c))) >= 0 && !(seen & (1u << k))) {
		c->i++;
		seen |= 1u << k;
		switch (k) {
		case 0:
			ret = get_ip(c, &t->src);
			break;
		case 1:
			at_dst = c->i - 1;
			ret = get_ip(c, &t->dst);
			break;
		case 2:
			ret = get_esp(c);
			break;
		case 3:
			t->has_spi = true;
			ret = get_spi(c, true, &t->spi);
			break;
		case 4:
			ret = num32(c, 0, UINT32_MAX, &t->reqid);
			break;
		case 5:
			ret = get_mode(c, &t->mode);
			break;
		default:
			ret = get_choice(c, levels, "required or use", &t->level);
			break;
		}
		if (ret < 0)
			return ret;
	}
	if ((seen & 3) == 3) {
		t->has_src_dst = true;
		if (t->src.af != t->dst.af)
			return cfg_error_set(c->err, at_dst + 1,
					     "src and dst of tmpl differ in address family");
	} else if ((seen & 3) != 0) {
		return cfg_error_set(c->err, at_tmpl,
				     "tmpl needs both 'src' and 'dst', or neither");
	} else if (t->mode == CFG_MODE_TUNNEL) {
		return cfg_error_set(c->err, at_tmpl,
				     "tmpl in tunnel mode needs 'src' and 'dst'");
	}
	return 0;
}

enum { P_DIR, P_PRIO, P_ACTION, P_INDEX, P_TMPL, P_PFP, P_N };

static int
parse_policy(struct cur *c, struct cfg_policy *p)
{
	static const char *const keys[] = { "dir", "priority", "action", "index",
					    "tmpl", "pfp", NULL };
	static const char *const actions[] = { "allow", "block", NULL };
	struct selp sp = { 0 };
	unsigned int seen = 0;
	int k, ret, at[P_N] = { 0 };

	while (c->i < c->argc) {
		k = sel_key(c->argv[c->i]);
		if (k >= 0) {
			ret = sel_word(c, k, &sp, &p->sel, true);
			if (ret < 0)
				return ret;
			continue;
		}
		k = name_index(keys, c->argv[c->i]);
		if (k < 0)
			return unexpected(c);
		c->i++;
		if (seen & (1u << k)) {
			if (k == P_TMPL)
				return cfg_error_set(c->err, c->i - 1,
						     "only one 'tmpl' per policy");
			return dup_word(c);
		}
		seen |= 1u << k;
		at[k] = c->i - 1;
		switch (k) {
		case P_DIR:
			ret = get_dir(c, true, &p->dir);
			break;
		case P_PRIO:
			ret = num32(c, 0, UINT32_MAX, &p->priority);
			break;
		case P_ACTION:
			ret = get_choice(c, actions, "allow or block", &p->action);
			break;
		case P_INDEX:
			p->has_index = true;
			ret = num32(c, 0, UINT32_MAX, &p->index);
			break;
		case P_TMPL:
			p->has_tmpl = true;
			ret = parse_tmpl(c, &p->tmpl);
			break;
		default:
			ret = parse_pfp(c, &p->pfp);
			break;
		}
		if (ret < 0)
			return ret;
	}
	ret = sel_finish(c, &sp, &p->sel, c->what);
	if (ret < 0)
		return ret;
	if (!(seen & (1u << P_DIR)))
		return missing(c, "dir");
	if (p->has_tmpl && p->action == CFG_ACTION_BLOCK)
		return cfg_error_set(c->err, at[P_TMPL],
				     "a policy with action block cannot have a 'tmpl'");
	if ((seen & (1u << P_PFP)) && !p->has_tmpl)
		return cfg_error_set(c->err, at[P_PFP], "'pfp' needs a 'tmpl'");
	if (p->has_tmpl && p->tmpl.mode == CFG_MODE_TRANSPORT &&
	    p->tmpl.has_src_dst && p->tmpl.src.af != p->sel.src.af)
		return cfg_error_set(c->err, at[P_TMPL],
				     "a transport-mode tmpl must be of the selector's address family");
	return 0;
}

/* policy del index N [dir D] | policy del SELECTOR dir D */
static int
parse_policy_del(struct cur *c, struct cfg_policy_del *d)
{
	struct selp sp = { 0 };
	bool has_dir = false;
	int k, ret, at_index = -1;

	while (c->i < c->argc) {
		const char *w = c->argv[c->i];

		k = sel_key(w);
		if (k >= 0) {
			ret = sel_word(c, k, &sp, &d->sel, true);
		} else if (strcmp(w, "dir") == 0) {
			c->i++;
			if (has_dir)
				return dup_word(c);
			has_dir = true;
			ret = get_dir(c, true, &d->dir);
		} else if (strcmp(w, "index") == 0) {
			c->i++;
			if (d->by_index)
				return dup_word(c);
			d->by_index = true;
			at_index = c->i - 1;
			ret = num32(c, 0, UINT32_MAX, &d->index);
		} else {
			return unexpected(c);
		}
		if (ret < 0)
			return ret;
	}
	if (d->by_index) {
		if (sp.seen != 0)
			return cfg_error_set(c->err, at_index,
					     "'index' cannot be combined with a selector");
		return 0;
	}
	if (sp.seen == 0)
		return cfg_error_set(c->err, -1,
				     "missing 'index' or selector for policy del");
	ret = sel_finish(c, &sp, &d->sel, c->what);
	if (ret == 0 && !has_dir)
		return missing(c, "dir");
	return ret;
}

/* ---- port, route, neigh ------------------------------------------------ */

/* port ID role R [addr IP/LEN ...] [mac MAC] [mtu N] [queues N] */
static int
parse_port(struct cur *c, struct cfg_port *p)
{
	static const char *const keys[] = { "role", "addr", "mac", "mtu",
					    "queues", NULL };
	static const char *const roles[] = { "protected", "unprotected", NULL };
	unsigned int seen = 0;
	int k, ret;

	p->queues = 1;
	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing port ID after 'port'");
	ret = num16(c, 0, CFG_PORTS_MAX - 1, &p->id); /* the word after argv[0] */
	if (ret < 0)
		return ret;
	while (c->i < c->argc) {
		k = name_index(keys, c->argv[c->i]);
		if (k < 0)
			return unexpected(c);
		c->i++;
		if (k != 1 && (seen & (1u << k)))
			return dup_word(c);
		seen |= 1u << k;
		switch (k) {
		case 0:
			ret = get_choice(c, roles, "protected or unprotected", &p->role);
			break;
		case 1: {
			const char *w;

			if (p->naddr == CFG_PORT_ADDRS_MAX)
				return cfg_error_set(c->err, c->i - 1,
						     "too many 'addr' (at most %d per port)",
						     CFG_PORT_ADDRS_MAX);
			ret = value(c, &w);
			if (ret == 0 && !parse_addr(w, true, false, &p->addr[p->naddr]))
				ret = cfg_error_set(c->err, c->i - 1,
						    "expected IPv4 or IPv6 address/length, got '%s'",
						    Q(w));
			if (ret == 0)
				p->naddr++;
			break;
		}
		case 2:
			p->has_mac = true;
			ret = get_mac(c, p->mac);
			break;
		case 3:
			ret = num16(c, 68, 65535, &p->mtu);
			break;
		default:
			ret = num16(c, 1, 1024, &p->queues);
			break;
		}
		if (ret < 0)
			return ret;
	}
	if (!(seen & 1))
		return missing(c, "role");
	return 0;
}

/* route add PREFIX port ID [via IP] */
static int
parse_route(struct cur *c, struct cfg_route *r)
{
	bool has_port = false;
	int ret, at_via = -1;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing prefix for route add");
	ret = get_prefix(c, &r->prefix); /* the word after "add" */
	if (ret < 0)
		return ret;
	while (c->i < c->argc) {
		const char *w = c->argv[c->i++];

		if (strcmp(w, "port") == 0) {
			if (has_port)
				return dup_word(c);
			has_port = true;
			ret = num16(c, 0, CFG_PORTS_MAX - 1, &r->port);
		} else if (strcmp(w, "via") == 0) {
			if (r->has_via)
				return dup_word(c);
			r->has_via = true;
			at_via = c->i;
			ret = get_ip(c, &r->via);
		} else {
			c->i--;
			return unexpected(c);
		}
		if (ret < 0)
			return ret;
	}
	if (!has_port)
		return missing(c, "port");
	if (r->has_via && r->via.af != r->prefix.af)
		return cfg_error_set(c->err, at_via,
				     "'via' and the prefix differ in address family");
	return 0;
}

/* neigh add IP lladdr MAC port ID */
static int
parse_neigh(struct cur *c, struct cfg_neigh *n)
{
	bool has_port = false, has_ll = false;
	int ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing address for neigh add");
	{
		const char *w = c->argv[c->i++];

		if (!parse_addr(w, false, false, &n->ip))
			return cfg_error_set(c->err, c->i - 1,
					     "expected IPv4 or IPv6 address, got '%s'", Q(w));
	}
	while (c->i < c->argc) {
		const char *w = c->argv[c->i++];

		if (strcmp(w, "port") == 0) {
			if (has_port)
				return dup_word(c);
			has_port = true;
			ret = num16(c, 0, CFG_PORTS_MAX - 1, &n->port);
		} else if (strcmp(w, "lladdr") == 0) {
			if (has_ll)
				return dup_word(c);
			has_ll = true;
			ret = get_mac(c, n->lladdr);
		} else {
			c->i--;
			return unexpected(c);
		}
		if (ret < 0)
			return ret;
	}
	if (!has_ll)
		return missing(c, "lladdr");
	if (!has_port)
		return missing(c, "port");
	return 0;
}

/* ---- the rest --------------------------------------------------------- */

static int
parse_monitor(struct cur *c, uint32_t *mask)
{
	static const char *const kinds[] = { "acquire", "expire", "invalid-spi",
					     "policy", "state", NULL };

	while (c->i < c->argc) {
		const char *w = c->argv[c->i];
		int k = name_index(kinds, w);

		if (strcmp(w, "all") == 0)
			*mask |= CFG_MON_ALL;
		else if (k >= 0)
			*mask |= 1u << k;
		else
			return cfg_error_set(c->err, c->i,
					     "unknown event type '%s' (expected acquire, "
					     "expire, invalid-spi, policy or state)", Q(w));
		c->i++;
	}
	if (*mask == 0)
		*mask = CFG_MON_ALL; /* a bare monitor streams everything */
	return 0;
}

static int
parse_set(struct cur *c, struct cfg_set *s)
{
	static const char *const keys[] = { "acquire-expires", "acquire-queue",
					     "acquire-queue-total", NULL };
	static const uint32_t max[] = { 86400, 65536, 16777216 };
	const char *w = NULL;
	int k, ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1,
				     "missing setting after 'set' (acquire-expires, "
				     "acquire-queue or acquire-queue-total)");
	w = c->argv[c->i];
	k = name_index(keys, w);
	if (k < 0)
		return cfg_error_set(c->err, c->i,
				     "unknown setting '%s' (expected acquire-expires, "
				     "acquire-queue or acquire-queue-total)", Q(w));
	c->i++;
	s->key = (uint8_t)k;
	ret = num32(c, 1, max[k], &s->value);
	if (ret == 0 && c->i < c->argc)
		ret = unexpected(c);
	return ret;
}

static const char *const cmd_names[CFG_CMD_COUNT_] = {
	[CFG_CMD_NONE] = "nothing",
	[CFG_CMD_PORT] = "port",
	[CFG_CMD_ROUTE_ADD] = "route add",
	[CFG_CMD_NEIGH_ADD] = "neigh add",
	[CFG_CMD_STATE_ADD] = "state add",
	[CFG_CMD_STATE_UPDATE] = "state update",
	[CFG_CMD_STATE_DEL] = "state del",
	[CFG_CMD_STATE_GET] = "state get",
	[CFG_CMD_STATE_ALLOCSPI] = "state allocspi",
	[CFG_CMD_STATE_LIST] = "state list",
	[CFG_CMD_STATE_FLUSH] = "state flush",
	[CFG_CMD_STATE_COUNT] = "state count",
	[CFG_CMD_POLICY_ADD] = "policy add",
	[CFG_CMD_POLICY_DEL] = "policy del",
	[CFG_CMD_POLICY_LIST] = "policy list",
	[CFG_CMD_POLICY_FLUSH] = "policy flush",
	[CFG_CMD_STATS] = "stats",
	[CFG_CMD_STATS_RESET] = "stats reset",
	[CFG_CMD_MONITOR] = "monitor",
	[CFG_CMD_SET] = "set",
};

const char *
cfg_cmd_name(enum cfg_cmd_type t)
{
	return (unsigned int)t < CFG_CMD_COUNT_ ? cmd_names[t] : "?";
}

/* Subcommand words and the command each gives; aliases as in `ip`. */
static const struct {
	const char *obj, *verb;
	uint8_t type;
} subcmds[] = {
	{ "route", "add", CFG_CMD_ROUTE_ADD },
	{ "neigh", "add", CFG_CMD_NEIGH_ADD },
	{ "state", "add", CFG_CMD_STATE_ADD },
	{ "state", "update", CFG_CMD_STATE_UPDATE },
	{ "state", "del", CFG_CMD_STATE_DEL },
	{ "state", "delete", CFG_CMD_STATE_DEL },
	{ "state", "get", CFG_CMD_STATE_GET },
	{ "state", "allocspi", CFG_CMD_STATE_ALLOCSPI },
	{ "state", "list", CFG_CMD_STATE_LIST },
	{ "state", "show", CFG_CMD_STATE_LIST },
	{ "state", "flush", CFG_CMD_STATE_FLUSH },
	{ "state", "count", CFG_CMD_STATE_COUNT },
	{ "policy", "add", CFG_CMD_POLICY_ADD },
	{ "policy", "del", CFG_CMD_POLICY_DEL },
	{ "policy", "delete", CFG_CMD_POLICY_DEL },
	{ "policy", "list", CFG_CMD_POLICY_LIST },
	{ "policy", "show", CFG_CMD_POLICY_LIST },
	{ "policy", "flush", CFG_CMD_POLICY_FLUSH },
	{ "stats", "reset", CFG_CMD_STATS_RESET },
};

static const char *const verbs_help[] = {
	"route", "add",
	"neigh", "add",
	"state", "add, update, del, get, allocspi, list, flush or count",
	"policy", "add, del, list or flush",
	"stats", "reset",
	NULL,
};

static int
parse_verb(struct cur *c, uint8_t *type)
{
	const char *obj = c->argv[0];
	const char *help = "";
	size_t k;

	for (k = 0; verbs_help[k] != NULL; k += 2)
		if (strcmp(verbs_help[k], obj) == 0)
			help = verbs_help[k + 1];
	if (c->argc < 2)
		return cfg_error_set(c->err, -1, "missing command after '%s' (%s)",
				     Q(obj), help);
	for (k = 0; k < sizeof(subcmds) / sizeof(subcmds[0]); k++) {
		if (strcmp(subcmds[k].obj, obj) == 0 &&
		    strcmp(subcmds[k].verb, c->argv[1]) == 0) {
			*type = subcmds[k].type;
			c->i = 2;
			return 0;
		}
	}
	return cfg_error_set(c->err, 1, "unknown %s command '%s' (expected %s)",
			     Q(obj), Q(c->argv[1]), help);
}

void
cfg_cmd_clear(struct cfg_cmd *cmd)
{
	explicit_bzero(cmd, sizeof(*cmd));
}

int
cfg_parse(int argc, char *const argv[], struct cfg_cmd *cmd,
	  struct cfg_error *err)
{
	struct cur c = { .argc = argc, .argv = argv, .i = 1, .err = err };
	const char *obj;
	uint8_t type = CFG_CMD_NONE;
	int ret;

	memset(cmd, 0, sizeof(*cmd));
	if (err != NULL) {
		err->word = -1;
		err->msg[0] = '\0';
	}
	if (argc <= 0)
		return 0;
	obj = argv[0];

	if (strcmp(obj, "port") == 0) {
		type = CFG_CMD_PORT;
	} else if (strcmp(obj, "monitor") == 0) {
		type = CFG_CMD_MONITOR;
	} else if (strcmp(obj, "set") == 0) {
		type = CFG_CMD_SET;
	} else if (strcmp(obj, "stats") == 0 && argc == 1) {
		type = CFG_CMD_STATS;
	} else if (strcmp(obj, "route") == 0 || strcmp(obj, "neigh") == 0 ||
		   strcmp(obj, "state") == 0 || strcmp(obj, "policy") == 0 ||
		   strcmp(obj, "stats") == 0) {
		ret = parse_verb(&c, &type);
		if (ret < 0)
			goto err_clear;
	} else {
		ret = cfg_error_set(err, 0,
				    "unknown command '%s' (expected port, route, neigh, "
				    "state, policy, stats, monitor or set)", Q(obj));
		goto err_clear;
	}
	c.what = cmd_names[type];
	cmd->type = type;

	switch (type) {
	case CFG_CMD_PORT:
		ret = parse_port(&c, &cmd->u.port);
		break;
	case CFG_CMD_ROUTE_ADD:
		ret = parse_route(&c, &cmd->u.route);
		break;
	case CFG_CMD_NEIGH_ADD:
		ret = parse_neigh(&c, &cmd->u.neigh);
		break;
	case CFG_CMD_STATE_ADD:
	case CFG_CMD_STATE_UPDATE:
		ret = parse_state(&c, &cmd->u.state, type == CFG_CMD_STATE_UPDATE);
		break;
	case CFG_CMD_STATE_DEL:
	case CFG_CMD_STATE_GET:
		ret = parse_state_id(&c, &cmd->u.sa, type == CFG_CMD_STATE_GET);
		break;
	case CFG_CMD_STATE_ALLOCSPI:
		ret = parse_allocspi(&c, &cmd->u.allocspi);
		break;
	case CFG_CMD_POLICY_ADD:
		ret = parse_policy(&c, &cmd->u.policy);
		break;
	case CFG_CMD_POLICY_DEL:
		ret = parse_policy_del(&c, &cmd->u.policy_del);
		break;
	case CFG_CMD_MONITOR:
		ret = parse_monitor(&c, &cmd->u.monitor);
		break;
	case CFG_CMD_SET:
		ret = parse_set(&c, &cmd->u.set);
		break;
	default:
		/* list, flush, count, stats, stats reset: nothing follows */
		ret = c.i < argc ? unexpected(&c) : 0;
		break;
	}
	if (ret < 0)
		goto err_clear;
	return 0;

err_clear:
	cfg_cmd_clear(cmd);
	return ret;
}

int
cfg_parse_line(const char *line, struct cfg_cmd *cmd, struct cfg_error *err)
{
	struct cfg_words ws;
	int ret;

	memset(cmd, 0, sizeof(*cmd));
	ret = cfg_split(line, strlen(line), &ws, err);
	if (ret < 0)
		return ret;
	ret = cfg_parse((int)ws.n, ws.w, cmd, err);
	cfg_words_free(&ws);
	return ret;
}

char *
cfg_addr_str(const struct cfg_addr *a, bool with_len, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(a->af == AF_INET6 ? AF_INET6 : AF_INET, a->a, ip,
		      sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	if (with_len)
		snprintf(buf, size, "%s/%u", ip, a->len);
	else
		snprintf(buf, size, "%s", ip);
	return buf;
}
