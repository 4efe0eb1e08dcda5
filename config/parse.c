/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Words to commands: cfg_parse() picks the command from its first words
 * and hands the rest to that object's parser: port, route and neigh, stats,
 * monitor and set here; state in parse_state.c, policy in parse_policy.c.
 * What they share (the cursor, the value readers, the option loop) is in
 * parse_util.c, the algorithms in parse_algo.c.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "config/parse_priv.h"

/* ---- port, route, neigh ------------------------------------------------ */

#define PT_ROLE   (1u << 0)
#define PT_MAC    (1u << 1)
#define PT_MTU    (1u << 2)
#define PT_QUEUES (1u << 3)
#define PT_TAP    (1u << 4)
#define PT_XDP    (1u << 5)

static int
pt_role(struct cur *c, void *arg)
{
	static const char *const roles[] = { "protected", "unprotected", NULL };

	return get_choice(c, roles, "protected or unprotected",
			  &((struct cfg_port *)arg)->role);
}

/* addr IP/LEN, up to CFG_PORT_ADDRS_MAX of them: host addresses, kept as
 * given (never masked). */
static int
pt_addr(struct cur *c, void *arg)
{
	struct cfg_port *p = arg;
	const char *w;
	int ret;

	if (p->naddr == CFG_PORT_ADDRS_MAX)
		return cfg_error_set(c->err, c->i - 1,
				     "too many 'addr' (at most %d per port)",
				     CFG_PORT_ADDRS_MAX);
	ret = cur_value(c, &w);
	if (ret == 0 && !word_addr(w, true, false, &p->addr[p->naddr]))
		ret = cfg_error_set(c->err, c->i - 1,
				    "expected IPv4 or IPv6 address/length, got '%s'",
				    Q(w));
	if (ret == 0)
		p->naddr++;
	return ret;
}

static int
pt_mac(struct cur *c, void *arg)
{
	struct cfg_port *p = arg;
	static const uint8_t zero[6];
	int ret = get_mac(c, p->mac);

	if (ret < 0)
		return ret;
	/* The port's own address, on every frame it sends: one a station
	 * can have (as `ip link set address` insists). */
	if ((p->mac[0] & 1) || memcmp(p->mac, zero, 6) == 0)
		return cfg_error_set(c->err, c->i - 1, "a port's mac must be unicast and not all zero");
	p->has_mac = true;
	return 0;
}

static int
pt_mtu(struct cur *c, void *arg)
{
	return get_num16(c, 68, 65535, &((struct cfg_port *)arg)->mtu);
}

static int
pt_queues(struct cur *c, void *arg)
{
	return get_num16(c, 1, 1024, &((struct cfg_port *)arg)->queues);
}

/* What is wrong with Linux interface name @p w, or NULL: what the
 * kernel's dev_valid_name() refuses (empty, over IFNAMSIZ - 1 = 15
 * characters, "." or "..", a '/', a ':' or a blank), and anything but
 * printable ASCII. */
_Static_assert(CFG_TAP_NAME_MAX == 15, "ifname_fault() says 15");

static const char *
ifname_fault(const char *w)
{
	size_t i, n = strlen(w);

	if (n == 0)
		return "is empty";
	if (n > CFG_TAP_NAME_MAX)
		return "is longer than 15 characters (IFNAMSIZ - 1)";
	if (strcmp(w, ".") == 0 || strcmp(w, "..") == 0)
		return "is not allowed ('.' and '..' name directories)";
	for (i = 0; i < n; i++) {
		if (strchr(" \t\n\v\f\r", w[i]) != NULL)
			return "has a blank";
		if (w[i] < 0x21 || w[i] > 0x7e)
			return "is not printable ASCII";
		if (w[i] == '/')
			return "has a '/'";
		if (w[i] == ':')
			return "has a ':' (alias syntax)";
	}
	return NULL;
}

/* tap NAME: the Linux interface the port's exceptions go through. */
static int
pt_tap(struct cur *c, void *arg)
{
	struct cfg_port *p = arg;
	const char *w = NULL, *fault;
	int ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	fault = ifname_fault(w);
	if (fault != NULL)
		return cfg_error_set(c->err, c->i - 1,
				     "interface name '%s' after 'tap' %s", Q(w), fault);
	memcpy(p->tap, w, strlen(w) + 1);
	p->has_tap = true;
	return 0;
}

static int
pt_xdp_steer(struct cur *c, void *arg)
{
	(void)c;
	((struct cfg_port *)arg)->xdp_steer = true;
	return 0;
}

static const struct opt port_opts[] = {
	{ "role", PT_ROLE, pt_role },
	{ "addr", 0, pt_addr },
	{ "mac", PT_MAC, pt_mac },
	{ "mtu", PT_MTU, pt_mtu },
	{ "queues", PT_QUEUES, pt_queues },
	{ "tap", PT_TAP, pt_tap },
	{ "xdp-steer", PT_XDP, pt_xdp_steer },
	{ NULL, 0, NULL },
};

/* port ID role R [addr IP/LEN ...] [mac MAC] [mtu N] [queues N] [tap NAME]
 * [xdp-steer] */
static int
parse_port(struct cur *c, struct cfg_port *p)
{
	struct opt_seen seen = { 0 };
	int ret;

	p->queues = 1;
	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing port ID after 'port'");
	ret = get_num16(c, 0, CFG_PORTS_MAX - 1, &p->id); /* the word after argv[0] */
	if (ret == 0)
		ret = opt_parse(c, port_opts, p, &seen, false);
	if (ret == 0 && !(seen.bits & PT_ROLE))
		return cur_missing(c, "role");
	if (ret == 0 && p->mtu != 0 && p->mtu < 1280) {
		unsigned int i;

		for (i = 0; i < p->naddr; i++)
			if (p->addr[i].af == AF_INET6)
				return cfg_error_set(c->err, opt_at(&seen, PT_MTU) + 1,
						     "mtu %u is below IPv6's 1280 (RFC 8200 5), and the port has an IPv6 address",
						     p->mtu);
	}
	return ret;
}

#define RT_PORT (1u << 0)
#define RT_VIA  (1u << 1)

static int
rt_port(struct cur *c, void *arg)
{
	return get_num16(c, 0, CFG_PORTS_MAX - 1, &((struct cfg_route *)arg)->port);
}

static int
rt_via(struct cur *c, void *arg)
{
	struct cfg_route *r = arg;

	r->has_via = true;
	return get_ip(c, &r->via);
}

static const struct opt route_opts[] = {
	{ "port", RT_PORT, rt_port },
	{ "via", RT_VIA, rt_via },
	{ NULL, 0, NULL },
};

/* route add PREFIX|default port ID [via IP] */
static int
parse_route(struct cur *c, struct cfg_route *r)
{
	struct opt_seen seen = { 0 };
	bool deflt;
	int ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing prefix for route add");
	/* `default`, as `ip route` takes it: 0.0.0.0/0, or ::/0 via an
	 * IPv6 next hop. */
	deflt = strcmp(c->argv[c->i], "default") == 0;
	if (deflt) {
		memset(&r->prefix, 0, sizeof(r->prefix));
		r->prefix.af = AF_INET;
		c->i++;
		ret = 0;
	} else {
		ret = get_prefix(c, &r->prefix); /* the word after "add" */
	}
	if (ret == 0)
		ret = opt_parse(c, route_opts, r, &seen, false);
	if (ret < 0)
		return ret;
	if (!(seen.bits & RT_PORT))
		return cur_missing(c, "port");
	if (deflt && r->has_via)
		r->prefix.af = r->via.af;
	if (r->has_via && r->via.af != r->prefix.af)
		return cfg_error_set(c->err, opt_at(&seen, RT_VIA) + 1,
				     "'via' and the prefix differ in address family");
	return 0;
}

/* route del PREFIX|default: routes are one a prefix, so the prefix names
 * one. `default` is IPv4's, as in `ip route`; ::/0 names IPv6's. */
static int
parse_route_del(struct cur *c, struct cfg_route *r)
{
	int ret = 0;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing prefix for route del");
	if (strcmp(c->argv[c->i], "default") == 0) {
		memset(&r->prefix, 0, sizeof(r->prefix));
		r->prefix.af = AF_INET;
		c->i++;
	} else {
		ret = get_prefix(c, &r->prefix);
	}
	if (ret == 0 && c->i < c->argc)
		ret = cur_unexpected(c);
	return ret;
}

#define NB_PORT   (1u << 0)
#define NB_LLADDR (1u << 1)

static int
nb_port(struct cur *c, void *arg)
{
	return get_num16(c, 0, CFG_PORTS_MAX - 1, &((struct cfg_neigh *)arg)->port);
}

static int
nb_lladdr(struct cur *c, void *arg)
{
	return get_mac(c, ((struct cfg_neigh *)arg)->lladdr);
}

/* An lladdr in `neigh del` is refused rather than ignored: it would look
 * as if it chose among entries, and it does not. */
static int
nb_del_lladdr(struct cur *c, void *arg)
{
	(void)arg;
	return cfg_error_set(c->err, c->i - 1,
			     "neigh del takes no 'lladdr': the address and port name the entry");
}

static const struct opt neigh_opts[] = {
	{ "port", NB_PORT, nb_port },
	{ "lladdr", NB_LLADDR, nb_lladdr },
	{ NULL, 0, NULL },
};

static const struct opt neigh_del_opts[] = {
	{ "port", NB_PORT, nb_port },
	{ "lladdr", NB_LLADDR, nb_del_lladdr },
	{ NULL, 0, NULL },
};

/* neigh add IP lladdr MAC port ID, or neigh del IP port ID (@p del) */
static int
parse_neigh(struct cur *c, struct cfg_neigh *n, bool del)
{
	struct opt_seen seen = { 0 };
	const char *w;
	int ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1, "missing address for %s", c->what);
	w = c->argv[c->i++];
	if (!word_addr(w, false, false, &n->ip))
		return cfg_error_set(c->err, c->i - 1,
				     "expected IPv4 or IPv6 address, got '%s'", Q(w));
	ret = opt_parse(c, del ? neigh_del_opts : neigh_opts, n, &seen, false);
	if (ret < 0)
		return ret;
	if (!del && !(seen.bits & NB_LLADDR))
		return cur_missing(c, "lladdr");
	if (!(seen.bits & NB_PORT))
		return cur_missing(c, "port");
	return 0;
}

/* ---- monitor, set ------------------------------------------------------ */

static int
parse_monitor(struct cur *c, uint32_t *mask)
{
	static const char *const kinds[] = { "acquire", "expire", "invalid-spi",
					     "policy", "state", "mapping", NULL };

	while (c->i < c->argc) {
		const char *w = c->argv[c->i];
		int k = word_index(kinds, w);

		if (strcmp(w, "all") == 0)
			*mask |= CFG_MON_ALL;
		else if (k >= 0)
			*mask |= 1u << k;
		else
			return cfg_error_set(c->err, c->i,
					     "unknown event type '%s' (expected acquire, "
					     "expire, invalid-spi, policy, state or mapping)", Q(w));
		c->i++;
	}
	if (*mask == 0)
		*mask = CFG_MON_ALL; /* a bare monitor streams everything */
	return 0;
}

/* tcp-mss-clamp off|auto|N */
static int
set_mss(struct cur *c, struct cfg_set *s)
{
	static const char *const words[] = { "off", "auto", NULL };
	static const uint32_t values[] = { 0, CFG_MSS_AUTO };
	const char *w = NULL;
	uint64_t v;
	int k, ret = cur_value(c, &w);

	if (ret < 0)
		return ret;
	k = word_index(words, w);
	if (k >= 0) {
		s->value = values[k];
		return 0;
	}
	if (!word_u64(w, 65535, &v) || v < CFG_MSS_MIN)
		return cfg_error_set(c->err, c->i - 1,
				     "expected off, auto or an MSS from %u (RFC 879's "
				     "default MSS, the least) to 65535 after "
				     "'tcp-mss-clamp', got '%s'", CFG_MSS_MIN, Q(w));
	s->value = (uint32_t)v;
	return 0;
}

/* A setting that is one of @p words: its index. */
static int
set_word(struct cur *c, struct cfg_set *s, const char *const words[], const char *expected)
{
	uint8_t m = 0;
	int ret = get_choice(c, words, expected, &m);

	s->value = m;
	return ret;
}

/* worker-idle poll|adaptive: enum cfg_worker_idle */
static int
set_worker_idle(struct cur *c, struct cfg_set *s)
{
	static const char *const modes[] = { "poll", "adaptive", NULL }; /* enum order */

	return set_word(c, s, modes, "poll or adaptive");
}

/* out-sa owner|shared: enum cfg_out_sa */
static int
set_out_sa(struct cur *c, struct cfg_set *s)
{
	static const char *const modes[] = { "owner", "shared", NULL }; /* enum order */

	return set_word(c, s, modes, "owner or shared");
}

/* icmp-unreachable off|on: 0 or 1 */
static int
set_on_off(struct cur *c, struct cfg_set *s)
{
	static const char *const words[] = { "off", "on", NULL };

	return set_word(c, s, words, "off or on");
}

/* The settings, by enum cfg_set_key: a number from min to max, or, where
 * there is an fn, what it reads (min and max unused). */
static const struct {
	const char *word;
	uint32_t min, max;
	int (*fn)(struct cur *c, struct cfg_set *s);
} set_keys[CFG_SET_COUNT_] = {
	[CFG_SET_ACQUIRE_EXPIRES] = { "acquire-expires", 1, 86400, NULL },
	[CFG_SET_ACQUIRE_QUEUE] = { "acquire-queue", 0, 65536, NULL },
	[CFG_SET_ACQUIRE_QUEUE_TOTAL] = { "acquire-queue-total", 1, 16777216, NULL },
	[CFG_SET_ALLOCSPI_EXPIRES] = { "allocspi-expires", 1, 86400, NULL },
	[CFG_SET_WORKER_IDLE] = { "worker-idle", 0, 0, set_worker_idle },
	[CFG_SET_TCP_MSS_CLAMP] = { "tcp-mss-clamp", 0, 0, set_mss },
	[CFG_SET_ICMP_RATELIMIT] = { "icmp-ratelimit", 0, 1000000, NULL },
	[CFG_SET_NEIGH_REACHABLE] = { "neigh-reachable", 1, 3600, NULL },
	[CFG_SET_OUT_SA] = { "out-sa", 0, 0, set_out_sa },
	[CFG_SET_ICMP_UNREACHABLE] = { "icmp-unreachable", 0, 0, set_on_off },
};

/* Every key, in enum order, for messages. */
#define SET_KEYS_HELP "acquire-expires, acquire-queue, acquire-queue-total, " \
	"allocspi-expires, worker-idle, tcp-mss-clamp, icmp-ratelimit, " \
	"neigh-reachable, out-sa or icmp-unreachable"

/* set KEY VALUE */
static int
parse_set(struct cur *c, struct cfg_set *s)
{
	const char *w;
	unsigned int k;
	int ret;

	if (c->i >= c->argc)
		return cfg_error_set(c->err, -1,
				     "missing setting after 'set' (" SET_KEYS_HELP ")");
	w = c->argv[c->i];
	for (k = 0; k < CFG_SET_COUNT_; k++)
		if (strcmp(set_keys[k].word, w) == 0)
			break;
	if (k == CFG_SET_COUNT_)
		return cfg_error_set(c->err, c->i,
				     "unknown setting '%s' (expected " SET_KEYS_HELP ")",
				     Q(w));
	c->i++;
	s->key = (uint8_t)k;
	if (set_keys[k].fn != NULL)
		ret = set_keys[k].fn(c, s);
	else
		ret = get_num32(c, set_keys[k].min, set_keys[k].max, &s->value);
	if (ret == 0 && c->i < c->argc)
		ret = cur_unexpected(c);
	return ret;
}

/* ---- Commands --------------------------------------------------------- */

static const char *const cmd_names[CFG_CMD_COUNT_] = {
	[CFG_CMD_NONE] = "nothing",
	[CFG_CMD_PORT] = "port",
	[CFG_CMD_ROUTE_ADD] = "route add",
	[CFG_CMD_ROUTE_DEL] = "route del",
	[CFG_CMD_ROUTE_LIST] = "route list",
	[CFG_CMD_NEIGH_ADD] = "neigh add",
	[CFG_CMD_NEIGH_DEL] = "neigh del",
	[CFG_CMD_NEIGH_LIST] = "neigh list",
	[CFG_CMD_NEIGH_FLUSH] = "neigh flush",
	[CFG_CMD_STATE_ADD] = "state add",
	[CFG_CMD_STATE_UPDATE] = "state update",
	[CFG_CMD_STATE_MIGRATE] = "state migrate",
	[CFG_CMD_STATE_DEL] = "state del",
	[CFG_CMD_STATE_GET] = "state get",
	[CFG_CMD_STATE_ALLOCSPI] = "state allocspi",
	[CFG_CMD_STATE_LIST] = "state list",
	[CFG_CMD_STATE_FLUSH] = "state flush",
	[CFG_CMD_STATE_COUNT] = "state count",
	[CFG_CMD_POLICY_ADD] = "policy add",
	[CFG_CMD_POLICY_UPDATE] = "policy update",
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
	{ "route", "del", CFG_CMD_ROUTE_DEL },
	{ "route", "delete", CFG_CMD_ROUTE_DEL },
	{ "route", "list", CFG_CMD_ROUTE_LIST },
	{ "route", "show", CFG_CMD_ROUTE_LIST },
	{ "neigh", "add", CFG_CMD_NEIGH_ADD },
	{ "neigh", "del", CFG_CMD_NEIGH_DEL },
	{ "neigh", "delete", CFG_CMD_NEIGH_DEL },
	{ "neigh", "list", CFG_CMD_NEIGH_LIST },
	{ "neigh", "show", CFG_CMD_NEIGH_LIST },
	{ "neigh", "flush", CFG_CMD_NEIGH_FLUSH },
	{ "state", "add", CFG_CMD_STATE_ADD },
	{ "state", "update", CFG_CMD_STATE_UPDATE },
	{ "state", "migrate", CFG_CMD_STATE_MIGRATE },
	{ "state", "del", CFG_CMD_STATE_DEL },
	{ "state", "delete", CFG_CMD_STATE_DEL },
	{ "state", "get", CFG_CMD_STATE_GET },
	{ "state", "allocspi", CFG_CMD_STATE_ALLOCSPI },
	{ "state", "list", CFG_CMD_STATE_LIST },
	{ "state", "show", CFG_CMD_STATE_LIST },
	{ "state", "flush", CFG_CMD_STATE_FLUSH },
	{ "state", "count", CFG_CMD_STATE_COUNT },
	{ "policy", "add", CFG_CMD_POLICY_ADD },
	{ "policy", "update", CFG_CMD_POLICY_UPDATE },
	{ "policy", "del", CFG_CMD_POLICY_DEL },
	{ "policy", "delete", CFG_CMD_POLICY_DEL },
	{ "policy", "list", CFG_CMD_POLICY_LIST },
	{ "policy", "show", CFG_CMD_POLICY_LIST },
	{ "policy", "flush", CFG_CMD_POLICY_FLUSH },
	{ "stats", "reset", CFG_CMD_STATS_RESET },
};

static const char *const verbs_help[] = {
	"route", "add, del or list",
	"neigh", "add, del, list or flush",
	"state", "add, update, migrate, del, get, allocspi, list, flush or count",
	"policy", "add, update, del, list or flush",
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
	case CFG_CMD_ROUTE_DEL:
		ret = parse_route_del(&c, &cmd->u.route);
		break;
	case CFG_CMD_NEIGH_ADD:
	case CFG_CMD_NEIGH_DEL:
		ret = parse_neigh(&c, &cmd->u.neigh, type == CFG_CMD_NEIGH_DEL);
		break;
	case CFG_CMD_STATE_ADD:
	case CFG_CMD_STATE_UPDATE:
		ret = parse_state(&c, &cmd->u.state, type == CFG_CMD_STATE_UPDATE);
		break;
	case CFG_CMD_STATE_MIGRATE:
		ret = parse_migrate(&c, &cmd->u.migrate);
		break;
	case CFG_CMD_STATE_DEL:
	case CFG_CMD_STATE_GET:
		ret = parse_state_id(&c, &cmd->u.sa, type == CFG_CMD_STATE_GET);
		break;
	case CFG_CMD_STATE_ALLOCSPI:
		ret = parse_allocspi(&c, &cmd->u.allocspi);
		break;
	case CFG_CMD_POLICY_ADD:
	case CFG_CMD_POLICY_UPDATE:
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
		ret = c.i < argc ? cur_unexpected(&c) : 0;
		break;
	}
	if (ret < 0)
		goto err_clear;
	return 0;

err_clear:
	cfg_cmd_clear(cmd);
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
