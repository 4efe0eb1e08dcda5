/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Renderings of SAs and policies. JSON follows DESIGN.md: SPIs as
 * "0x%08x", protocols by name where one exists, selector fields that are
 * "any" left out, src and dst always present.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/format.h"
#include "dataplane/worker.h"

void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 1024;
			char *p;

			while (cap - b->len <= (size_t)n)
				cap *= 2;
			p = realloc(b->p, cap);
			if (p == NULL) {
				b->oom = true;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

void
sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *
fmt_proto(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_GRE: return "gre";
	default:
		snprintf(buf, size, "%u", proto);
		return buf;
	}
}

const char *
fmt_ip(int family, const uint8_t *a, char *buf, size_t size)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

static const char *
caddr(const struct cfg_addr *a, char *buf, size_t size)
{
	return fmt_ip(a->af == AF_INET6 ? 6 : 4, a->a, buf, size);
}

/* A selector: JSON object, or the words after "sel". */
static void
fmt_sel(struct sbuf *b, const struct cfg_sel *s, bool json)
{
	char a[64], d[64], pb[8];
	const char *proto = s->proto ? fmt_proto(s->proto, pb, sizeof(pb)) : NULL;

	caddr(&s->src, a, sizeof(a));
	caddr(&s->dst, d, sizeof(d));
	if (json) {
		sb_printf(b, "{\"src\":\"%s/%u\",\"dst\":\"%s/%u\"", a, s->src.len, d,
			  s->dst.len);
		if (proto != NULL) {
			if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP ||
			    s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6 ||
			    s->proto == IPPROTO_ESP || s->proto == IPPROTO_SCTP ||
			    s->proto == IPPROTO_AH || s->proto == IPPROTO_GRE)
				sb_printf(b, ",\"proto\":\"%s\"", proto);
			else
				sb_printf(b, ",\"proto\":%u", s->proto);
		}
		if (s->has_sport) {
			if (s->sport_lo == s->sport_hi)
				sb_printf(b, ",\"sport\":%u", s->sport_lo);
			else
				sb_printf(b, ",\"sport\":\"%u-%u\"", s->sport_lo, s->sport_hi);
		}
		if (s->has_dport) {
			if (s->dport_lo == s->dport_hi)
				sb_printf(b, ",\"dport\":%u", s->dport_lo);
			else
				sb_printf(b, ",\"dport\":\"%u-%u\"", s->dport_lo, s->dport_hi);
		}
		sb_printf(b, "}");
		return;
	}
	sb_printf(b, "src %s/%u dst %s/%u", a, s->src.len, d, s->dst.len);
	if (proto != NULL)
		sb_printf(b, " proto %s", proto);
	if (s->has_sport)
		sb_printf(b, s->sport_lo == s->sport_hi ? " sport %u" : " sport %u-%u",
			  s->sport_lo, s->sport_hi);
	if (s->has_dport)
		sb_printf(b, s->dport_lo == s->dport_hi ? " dport %u" : " dport %u-%u",
			  s->dport_lo, s->dport_hi);
}

static void
hex(struct sbuf *b, const uint8_t *k, uint16_t n)
{
	uint16_t i;

	sb_printf(b, "0x");
	for (i = 0; i < n; i++)
		sb_printf(b, "%02x", k[i]);
}

static const char *const limit_names[CFG_LIMIT_COUNT_] = {
	[CFG_LIMIT_BYTE_SOFT] = "byte-soft", [CFG_LIMIT_BYTE_HARD] = "byte-hard",
	[CFG_LIMIT_PACKET_SOFT] = "packet-soft", [CFG_LIMIT_PACKET_HARD] = "packet-hard",
	[CFG_LIMIT_TIME_SOFT] = "time-soft", [CFG_LIMIT_TIME_HARD] = "time-hard",
};

static const char *const flag_names[] = { "esn", "noecn", "decap-dscp", "dont-encap-dscp" };

static uint64_t
sa_last_seq(const struct gw_sa *sa)
{
	if (sa->esp.dir == ESP_DIR_OUT)
		return esp_sa_last_seq(&sa->esp);
	return sa->esp.replay != NULL ? sa->esp.replay->top : 0;
}

void
fmt_sa(struct sbuf *b, const struct model_sa *s, bool json, bool show_keys)
{
	const struct cfg_state *c = &s->cfg;
	const struct cfg_algo *al = &c->algo;
	const struct esp_sa_stats stats = model_sa_stats(s);
	const struct esp_sa_stats *st = &stats;
	bool aead = al->auth == CRYPTO_AUTH_NONE;
	char a[64], d[64];
	unsigned int i, n;

	caddr(&c->src, a, sizeof(a));
	caddr(&c->dst, d, sizeof(d));
	if (!json) {
		sb_printf(b, "src %s dst %s\n\tproto esp spi 0x%08x reqid %u mode %s dir %s\n",
			  a, d, c->spi, c->reqid,
			  c->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel",
			  s->dir == ESP_DIR_OUT ? "out" : "in");
		sb_printf(b, "\treplay-window %u", c->replay_window);
		for (i = 0; i < 4; i++)
			if (c->flags & (1u << i))
				sb_printf(b, " flag %s", flag_names[i]);
		sb_printf(b, "\n\t");
		if (aead) {
			sb_printf(b, "aead %s ", cfg_cipher_name(al->cipher));
			if (show_keys)
				hex(b, al->cipher_key, al->cipher_key_len);
			else
				sb_printf(b, "(key hidden)");
			sb_printf(b, " %u\n", al->icv_len * 8);
		} else {
			sb_printf(b, "enc %s ", cfg_cipher_name(al->cipher));
			if (show_keys && al->cipher_key_len)
				hex(b, al->cipher_key, al->cipher_key_len);
			else
				sb_printf(b, al->cipher_key_len ? "(key hidden)" : "\"\"");
			sb_printf(b, "\n\tauth-trunc %s ", cfg_auth_name(al->auth));
			if (show_keys)
				hex(b, al->auth_key, al->auth_key_len);
			else
				sb_printf(b, "(key hidden)");
			sb_printf(b, " %u\n", al->icv_len * 8);
		}
		if (c->has & CFG_SA_HAS_ENCAP)
			sb_printf(b, "\tencap type espinudp sport %u dport %u addr 0.0.0.0\n",
				  c->encap_sport, c->encap_dport);
		if (c->has & CFG_SA_HAS_SEL) {
			sb_printf(b, "\tsel ");
			fmt_sel(b, &c->sel, false);
			sb_printf(b, "\n");
		}
		for (i = 0; i < CFG_LIMIT_COUNT_; i++)
			if (c->limit_set & (1u << i))
				sb_printf(b, "\tlimit %s %" PRIu64 "\n", limit_names[i], c->limit[i]);
		sb_printf(b, "\tstats packets %" PRIu64 " bytes %" PRIu64
			  " replay_drops %" PRIu64 " icv_failures %" PRIu64 " seq %" PRIu64 "\n",
			  st->packets, st->bytes, st->replay_drops, st->icv_failures,
			  sa_last_seq(s->gw));
		return;
	}

	sb_printf(b, "{\"src\":\"%s\",\"dst\":\"%s\",\"proto\":\"esp\",\"spi\":\"0x%08x\","
		  "\"dir\":\"%s\",\"reqid\":%u,\"mode\":\"%s\",\"algo\":\"%s\","
		  "\"replay_window\":%u,\"flags\":[",
		  a, d, c->spi, s->dir == ESP_DIR_OUT ? "out" : "in", c->reqid,
		  c->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel", al->name,
		  c->replay_window);
	for (i = 0, n = 0; i < 4; i++)
		if (c->flags & (1u << i))
			sb_printf(b, "%s\"%s\"", n++ ? "," : "", flag_names[i]);
	sb_printf(b, "],\"encap\":");
	if (c->has & CFG_SA_HAS_ENCAP)
		sb_printf(b, "{\"type\":\"espinudp\",\"sport\":%u,\"dport\":%u}",
			  c->encap_sport, c->encap_dport);
	else
		sb_printf(b, "null");
	sb_printf(b, ",\"sel\":");
	if (c->has & CFG_SA_HAS_SEL) {
		fmt_sel(b, &c->sel, true);
	} else {
		/* No selector: any traffic of the SA's family. */
		bool v6 = c->src.af == AF_INET6;

		sb_printf(b, "{\"src\":\"%s\",\"dst\":\"%s\"}", v6 ? "::/0" : "0.0.0.0/0",
			  v6 ? "::/0" : "0.0.0.0/0");
	}
	sb_printf(b, ",\"lifetime\":{");
	for (i = 0, n = 0; i < CFG_LIMIT_COUNT_; i++) {
		if (!(c->limit_set & (1u << i)))
			continue;
		sb_printf(b, "%s\"%s\":%" PRIu64, n++ ? "," : "", limit_names[i], c->limit[i]);
	}
	sb_printf(b, "},\"stats\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		  ",\"replay_drops\":%" PRIu64 ",\"icv_failures\":%" PRIu64
		  ",\"seq\":%" PRIu64 "}",
		  st->packets, st->bytes, st->replay_drops, st->icv_failures,
		  sa_last_seq(s->gw));
	if (show_keys) {
		sb_printf(b, ",\"keys\":{\"enc\":\"");
		if (al->cipher_key_len)
			hex(b, al->cipher_key, al->cipher_key_len);
		sb_printf(b, "\"");
		if (!aead) {
			sb_printf(b, ",\"auth\":\"");
			hex(b, al->auth_key, al->auth_key_len);
			sb_printf(b, "\"");
		}
		sb_printf(b, "}");
	}
	sb_printf(b, "}");
}

static const char *
dir_name(uint8_t dir)
{
	return dir == CFG_DIR_IN ? "in" : dir == CFG_DIR_OUT ? "out" : "fwd";
}

static void
fmt_pfp(struct sbuf *b, uint32_t pfp, bool json)
{
	static const char *const names[] = { "src", "dst", "proto", "sport", "dport" };
	unsigned int i, n = 0;

	for (i = 0; i < 5; i++)
		if (pfp & (1u << i))
			sb_printf(b, json ? "%s\"%s\"" : "%s%s", n++ ? "," : "", names[i]);
}

void
fmt_policy(struct sbuf *b, const struct model_pol *mp, bool json)
{
	const struct cfg_policy *p = &mp->cfg;
	const struct cfg_tmpl *t = &p->tmpl;
	char a[64], d[64];

	if (!json) {
		fmt_sel(b, &p->sel, false);
		sb_printf(b, "\n\tdir %s priority %u index %u action %s\n", dir_name(p->dir),
			  p->priority, p->index,
			  p->action == CFG_ACTION_BLOCK ? "block" : "allow");
		if (p->has_tmpl) {
			sb_printf(b, "\ttmpl");
			if (t->has_src_dst)
				sb_printf(b, " src %s dst %s", caddr(&t->src, a, sizeof(a)),
					  caddr(&t->dst, d, sizeof(d)));
			sb_printf(b, " proto esp reqid %u mode %s level %s\n", t->reqid,
				  t->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel",
				  t->level == CFG_LEVEL_USE ? "use" : "required");
		}
		if (p->pfp) {
			sb_printf(b, "\tpfp ");
			fmt_pfp(b, p->pfp, false);
			sb_printf(b, "\n");
		}
		return;
	}
	sb_printf(b, "{\"index\":%u,\"dir\":\"%s\",\"priority\":%u,\"action\":\"%s\",\"sel\":",
		  p->index, dir_name(p->dir), p->priority,
		  p->action == CFG_ACTION_BLOCK ? "block" : "allow");
	fmt_sel(b, &p->sel, true);
	sb_printf(b, ",\"tmpl\":");
	if (p->has_tmpl) {
		sb_printf(b, "{");
		if (t->has_src_dst)
			sb_printf(b, "\"src\":\"%s\",\"dst\":\"%s\",", caddr(&t->src, a, sizeof(a)),
				  caddr(&t->dst, d, sizeof(d)));
		sb_printf(b, "\"proto\":\"esp\",\"reqid\":%u,\"mode\":\"%s\",\"level\":\"%s\"}",
			  t->reqid, t->mode == CFG_MODE_TRANSPORT ? "transport" : "tunnel",
			  t->level == CFG_LEVEL_USE ? "use" : "required");
	} else {
		sb_printf(b, "null");
	}
	sb_printf(b, ",\"pfp\":[");
	fmt_pfp(b, p->pfp, true);
	sb_printf(b, "]}");
}
