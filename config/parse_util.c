/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every command's parser uses (parse_priv.h): quoting words back in
 * messages, the cursor and its errors, the value readers, the option loop
 * and the selector. Every value is checked here, before anything touches
 * a table (STYLE habit 18), and every error names the word it is about.
 * Key words are never quoted back.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "config/parse_priv.h"

/* ---- Words ----------------------------------------------------------- */

struct quoted
word_quote(const char *w)
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

int
word_index(const char *const names[], const char *w)
{
	int k;

	for (k = 0; w != NULL && names[k] != NULL; k++)
		if (strcmp(names[k], w) == 0)
			return k;
	return -1;
}

/* ---- The cursor ------------------------------------------------------ */

const char *
cur_peek(const struct cur *c)
{
	return c->i < c->argc ? c->argv[c->i] : NULL;
}

/* Take the value after keyword argv[i - 1]. */
int
cur_value(struct cur *c, const char **v)
{
	*v = ""; /* never read on error; keeps -Wmaybe-uninitialized quiet */
	if (c->i >= c->argc)
		return cfg_error_set(c->err, c->i - 1, "missing value after '%s'",
				     Q(c->argv[c->i - 1]));
	*v = c->argv[c->i++];
	return 0;
}

int
cur_dup(struct cur *c)
{
	return cfg_error_set(c->err, c->i - 1, "duplicate '%s' in %s",
			     Q(c->argv[c->i - 1]), c->what);
}

int
cur_unexpected(struct cur *c)
{
	return cfg_error_set(c->err, c->i, "unexpected '%s' in %s",
			     Q(c->argv[c->i]), c->what);
}

int
cur_missing(struct cur *c, const char *kw)
{
	return cfg_error_set(c->err, -1, "missing '%s' for %s", kw, c->what);
}

/* ---- Values ---------------------------------------------------------- */

/* Decimal or 0x hex, no sign, no octal. */
bool
word_u64(const char *w, uint64_t max, uint64_t *out)
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

int
get_num(struct cur *c, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *kw = c->argv[c->i - 1];
	const char *w = NULL;
	int ret;

	ret = cur_value(c, &w);
	if (ret < 0)
		return ret;
	if (!word_u64(w, max, out) || *out < min)
		return cfg_error_set(c->err, c->i - 1,
				     "expected a number from %" PRIu64 " to %" PRIu64
				     " after '%s', got '%s'", min, max, Q(kw), Q(w));
	return 0;
}

int
get_num32(struct cur *c, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int ret = get_num(c, min, max, &v);

	if (ret == 0)
		*out = (uint32_t)v;
	return ret;
}

int
get_num16(struct cur *c, uint16_t min, uint16_t max, uint16_t *out)
{
	uint64_t v;
	int ret = get_num(c, min, max, &v);

	if (ret == 0)
		*out = (uint16_t)v;
	return ret;
}

/*
 * ADDR, ADDR/LEN. Host bits of a prefix are cleared when @p mask is set:
 * `ip xfrm` accepts 10.1.2.3/8 and means 10.0.0.0/8, and so do we.
 */
bool
word_addr(const char *w, bool allow_len, bool mask, struct cfg_addr *a)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(w, '/');
	size_t n = slash != NULL ? (size_t)(slash - w) : strlen(w);
	unsigned int max, len;

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
	if (mask)
		cfg_addr_mask(a);
	return true;
}

void
cfg_addr_mask(struct cfg_addr *a)
{
	unsigned int i, max = a->af == AF_INET6 ? 128 : 32;

	for (i = 0; i < max / 8; i++) {
		if (i * 8 >= a->len)
			a->a[i] = 0;
		else if (i * 8 + 8 > a->len)
			a->a[i] &= (uint8_t)(0xff << (8 - (a->len - i * 8)));
	}
}

/* A prefix (ADDR[/LEN], masked) or a plain address. */
static int
get_addr(struct cur *c, bool prefix, struct cfg_addr *a)
{
	const char *w = NULL;
	int ret = cur_value(c, &w);

	if (ret == 0 && !word_addr(w, prefix, prefix, a))
		ret = cfg_error_set(c->err, c->i - 1,
				    "expected IPv4 or IPv6 %s, got '%s'",
				    prefix ? "prefix" : "address", Q(w));
	return ret;
}

int
get_prefix(struct cur *c, struct cfg_addr *a)
{
	return get_addr(c, true, a);
}

int
get_ip(struct cur *c, struct cfg_addr *a)
{
	return get_addr(c, false, a);
}

int
get_mac(struct cur *c, uint8_t mac[6])
{
	const char *w = NULL, *p;
	int ret = cur_value(c, &w);
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
		if (!word_u64(hex, 0xff, &v))
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

int
get_proto(struct cur *c, uint8_t *proto)
{
	const char *w = NULL;
	uint64_t v;
	size_t k;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	for (k = 0; k < sizeof(protos) / sizeof(protos[0]); k++) {
		if (strcmp(w, protos[k].name) == 0) {
			*proto = protos[k].num;
			return 0;
		}
	}
	if (!word_u64(w, 255, &v))
		return cfg_error_set(c->err, c->i - 1,
				     "expected a protocol name or number 0-255, got '%s'",
				     Q(w));
	*proto = (uint8_t)v;
	return 0;
}

/* N, or N-M when @p range. */
int
get_ports(struct cur *c, bool range, uint16_t *lo, uint16_t *hi)
{
	const char *w = NULL, *dash;
	uint64_t a, b;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	dash = strchr(w, '-');
	if (dash == NULL) {
		if (!word_u64(w, 65535, &a))
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
		if (!word_u64(first, 65535, &a) || !word_u64(dash + 1, 65535, &b))
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

int
get_spi(struct cur *c, bool strict, uint32_t *spi)
{
	const char *w = NULL;
	uint64_t v;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	if (!word_u64(w, UINT32_MAX, &v))
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
int
get_choice(struct cur *c, const char *const names[], const char *expect,
	   uint8_t *out)
{
	const char *w = NULL;
	uint8_t k;
	int ret = cur_value(c, &w);

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

int
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

int
get_mode(struct cur *c, uint8_t *mode)
{
	return get_choice(c, mode_names, "tunnel or transport", mode);
}

int
get_esp(struct cur *c)
{
	const char *w = NULL;
	int ret = cur_value(c, &w);

	if (ret == 0 && strcmp(w, "esp") != 0)
		ret = cfg_error_set(c->err, c->i - 1,
				    "only 'proto esp' is supported, got '%s'", Q(w));
	return ret;
}

/* ---- Options ---------------------------------------------------------- */

static const struct opt *
opt_find(const struct opt *tab, const char *w)
{
	for (; tab->word != NULL; tab++)
		if (strcmp(tab->word, w) == 0)
			return tab;
	return NULL;
}

int
opt_parse(struct cur *c, const struct opt *tab, void *arg,
	  struct opt_seen *seen, bool nested)
{
	while (c->i < c->argc) {
		const struct opt *o = opt_find(tab, c->argv[c->i]);
		bool again = o != NULL && (seen->bits & o->once) != 0;
		int ret;

		if (nested && (o == NULL || again))
			return 0;
		if (o == NULL)
			return cur_unexpected(c);
		c->i++;
		if (again)
			return cur_dup(c);
		if (o->once != 0) {
			seen->bits |= o->once;
			seen->at[__builtin_ctz(o->once)] = c->i - 1;
		}
		ret = o->fn(c, arg);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int
opt_at(const struct opt_seen *seen, uint32_t bit)
{
	return seen->at[__builtin_ctz(bit)];
}

int
opt_proto_esp(struct cur *c, void *arg)
{
	(void)arg;
	return get_esp(c);
}

/* ---- Selectors --------------------------------------------------------- */

int
sel_src(struct cur *c, void *arg)
{
	return get_prefix(c, &((struct sel_arg *)arg)->sel->src);
}

int
sel_dst(struct cur *c, void *arg)
{
	return get_prefix(c, &((struct sel_arg *)arg)->sel->dst);
}

int
sel_proto(struct cur *c, void *arg)
{
	return get_proto(c, &((struct sel_arg *)arg)->sel->proto);
}

int
sel_sport(struct cur *c, void *arg)
{
	struct sel_arg *a = arg;

	a->sel->has_sport = true;
	return get_ports(c, a->range, &a->sel->sport_lo, &a->sel->sport_hi);
}

int
sel_dport(struct cur *c, void *arg)
{
	struct sel_arg *a = arg;

	a->sel->has_dport = true;
	return get_ports(c, a->range, &a->sel->dport_lo, &a->sel->dport_hi);
}

/* type N / code N: an ICMP type or code, 0-255 (N-M in a policy). */
static int
get_icmp(struct cur *c, bool range, uint16_t *lo, uint16_t *hi)
{
	int at = c->i;
	int ret = get_ports(c, range, lo, hi);

	if (ret == 0 && *hi > 255)
		return cfg_error_set(c->err, at, "an ICMP type or code is 0-255, got %u", *hi);
	return ret;
}

int
sel_type(struct cur *c, void *arg)
{
	struct sel_arg *a = arg;

	a->sel->has_sport = a->type = true;
	return get_icmp(c, a->range, &a->sel->sport_lo, &a->sel->sport_hi);
}

int
sel_code(struct cur *c, void *arg)
{
	struct sel_arg *a = arg;

	a->sel->has_dport = a->code = true;
	return get_icmp(c, a->range, &a->sel->dport_lo, &a->sel->dport_hi);
}

int
sel_finish(struct cur *c, const struct opt_seen *seen, const struct sel_arg *a,
	   const char *in)
{
	struct cfg_sel *s = a->sel;
	enum cfg_l4 l4 = cfg_l4_of(s->proto);

	if (!(seen->bits & OPT_SEL_SRC))
		return cfg_error_set(c->err, -1, "missing 'src' for %s", in);
	if (!(seen->bits & OPT_SEL_DST))
		return cfg_error_set(c->err, -1, "missing 'dst' for %s", in);
	if (s->src.af != s->dst.af)
		return cfg_error_set(c->err, opt_at(seen, OPT_SEL_DST) + 1,
				     "src and dst of %s differ in address family", in);
	if ((s->has_sport && !a->type) || (s->has_dport && !a->code)) {
		uint32_t k = s->has_sport && !a->type ? OPT_SEL_SPORT : OPT_SEL_DPORT;

		if (l4 != CFG_L4_PORTS)
			return cfg_error_set(c->err, opt_at(seen, k),
					     "'%s' needs proto tcp, udp, sctp, dccp or udplite%s",
					     k == OPT_SEL_SPORT ? "sport" : "dport",
					     l4 == CFG_L4_ICMP ? " (ICMP takes 'type' and 'code')" : "");
	}
	if ((a->type || a->code) && l4 != CFG_L4_ICMP)
		return cfg_error_set(c->err, opt_at(seen, a->type ? OPT_SEL_SPORT : OPT_SEL_DPORT),
				     "'%s' needs proto icmp or ipv6-icmp",
				     a->type ? "type" : "code");
	/* A port range of 0-65535 restricts nothing: it is "any", and is
	 * kept (and printed, and compared) as if no port had been given
	 * (DESIGN.md: a selector field that is "any" is left out). */
	if (s->has_sport && !a->type && s->sport_lo == 0 && s->sport_hi == 65535)
		s->has_sport = false;
	if (s->has_dport && !a->code && s->dport_lo == 0 && s->dport_hi == 65535)
		s->has_dport = false;
	if (!s->has_sport)
		s->sport_hi = 65535;
	if (!s->has_dport)
		s->dport_hi = 65535;
	return 0;
}
