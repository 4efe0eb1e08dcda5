/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The C half of bench_tables.cc: it builds the inputs and runs the loops
 * that touch espd's table headers (spd.h pulls in pkt.h, whose inline
 * helpers are C, not C++). Each call does one burst (or one pass), so the
 * call itself is noise next to the work measured.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_memory.h>

#include "bench/bench_tables.h"
#include "dataplane/flowtab.h"
#include "dataplane/replay.h"
#include "dataplane/spd.h"
#include "dataplane/tables.h"

#define BT_KEYS 8192u        /* flow keys cycled through (a power of 2) */
#define BT_ORDER (1u << 20)  /* random lookup order (a power of 2) */

/* A small, seeded PRNG (xorshift64*): the same tables every run. */
static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
pmask(uint8_t len)
{
	return len == 0 ? 0 : ~0u << (32 - len);
}

/* ---- SPD ---- */

struct bt_spd {
	uint32_t n;
	struct spd_sel *sels;
	struct spd_rule *rules;
	struct flow_key *keys;
	const struct flow_key **kp;
	struct spd *spd;
};

static void
rand_ports(uint64_t *s, uint16_t *lo, uint16_t *hi)
{
	unsigned k = rnd(s) % 4;

	if (k < 2) {            /* any */
		*lo = 0;
		*hi = 65535;
	} else if (k == 2) {    /* one port */
		*lo = *hi = (uint16_t)rnd(s);
	} else {                /* a range */
		*lo = (uint16_t)(rnd(s) % 60000);
		*hi = (uint16_t)(*lo + rnd(s) % 4096);
	}
}

/* 16 random bytes at @p a. */
static void
rand16(uint64_t *s, uint8_t *a)
{
	unsigned int i;

	for (i = 0; i < 16; i += 4)
		put32(a + i, rnd(s));
}

/* @p a with its first @p len bits taken from @p pfx (IPv6). */
static void
put_prefix(uint8_t *a, const uint8_t *pfx, uint8_t len)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		unsigned int bits = len > 8 * i ? RTE_MIN(len - 8 * i, 8u) : 0;
		uint8_t m = (uint8_t)(0xff00u >> bits);

		a[i] = (uint8_t)((a[i] & ~m) | (pfx[i] & m));
	}
}

/* A random IPv6 prefix length: /16 to /64, or a host (/128) one time in
 * eight. */
static uint8_t
len6(uint64_t *s)
{
	return rnd(s) % 8 == 0 ? 128 : (uint8_t)(16 + rnd(s) % 49);
}

struct bt_spd *
bt_spd_new(uint32_t n, int family)
{
	struct bt_spd *b = calloc(1, sizeof(*b));
	uint64_t s = 0x9e3779b97f4a7c15ULL ^ n;
	uint8_t r16[16];
	uint32_t i;

	if (b == NULL)
		return NULL;
	b->n = n;
	b->sels = calloc(n, sizeof(*b->sels));
	b->rules = calloc(n, sizeof(*b->rules));
	b->keys = calloc(BT_KEYS, sizeof(*b->keys));
	b->kp = calloc(BT_KEYS, sizeof(*b->kp));
	if (!b->sels || !b->rules || !b->keys || !b->kp) {
		bt_spd_free(b);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		struct spd_sel *sel = &b->sels[i];
		unsigned p;

		sel->family = (uint8_t)family;
		if (family == 6) {
			sel->src_len = len6(&s);
			sel->dst_len = len6(&s);
			rand16(&s, r16);
			put_prefix(sel->src, r16, sel->src_len); /* host bits 0 */
			rand16(&s, r16);
			put_prefix(sel->dst, r16, sel->dst_len);
		} else {
			sel->src_len = (uint8_t)(8 + rnd(&s) % 25);
			sel->dst_len = (uint8_t)(8 + rnd(&s) % 25);
			put32(sel->src, rnd(&s) & pmask(sel->src_len));
			put32(sel->dst, rnd(&s) & pmask(sel->dst_len));
		}
		p = rnd(&s) % 3;
		sel->proto = p == 0 ? -1 : p == 1 ? 6 : 17;
		if (sel->proto < 0) {
			sel->sport_hi = sel->dport_hi = 65535;
		} else {
			rand_ports(&s, &sel->sport_lo, &sel->sport_hi);
			rand_ports(&s, &sel->dport_lo, &sel->dport_hi);
		}
		b->rules[i].sel = sel;
		b->rules[i].rank = i;
		b->rules[i].userdata = i + 1;
	}
	for (i = 0; i < BT_KEYS; i++) {
		struct flow_key *k = &b->keys[i];
		uint32_t src = rnd(&s), dst = rnd(&s);
		uint16_t sp = (uint16_t)rnd(&s), dp = (uint16_t)rnd(&s);

		k->family = (uint8_t)family;
		k->proto = rnd(&s) % 2 ? 6 : 17;
		if (family == 6) {
			rand16(&s, k->src);
			rand16(&s, k->dst);
		}
		if (i % 2 == 0) { /* inside a random policy */
			const struct spd_sel *sel = &b->sels[rnd(&s) % n];

			if (family == 6) {
				put_prefix(k->src, sel->src, sel->src_len);
				put_prefix(k->dst, sel->dst, sel->dst_len);
			} else {
				src = (src & ~pmask(sel->src_len)) | get32(sel->src);
				dst = (dst & ~pmask(sel->dst_len)) | get32(sel->dst);
			}
			if (sel->proto >= 0) {
				k->proto = (uint8_t)sel->proto;
				sp = (uint16_t)(sel->sport_lo + rnd(&s) %
					(sel->sport_hi - sel->sport_lo + 1u));
				dp = (uint16_t)(sel->dport_lo + rnd(&s) %
					(sel->dport_hi - sel->dport_lo + 1u));
			}
		}
		if (family == 4) {
			put32(k->src, src);
			put32(k->dst, dst);
		}
		k->sport = rte_cpu_to_be_16(sp);
		k->dport = rte_cpu_to_be_16(dp);
		b->kp[i] = k;
	}
	return b;
}

int
bt_spd_build(struct bt_spd *b)
{
	int err = 0;

	spd_free(b->spd);
	b->spd = spd_build(b->rules, b->n, SOCKET_ID_ANY, &err);
	return b->spd == NULL ? (err ? err : -1) : 0;
}

int
bt_spd_set_alg(struct bt_spd *b, int alg)
{
	return spd_set_classify(b->spd, alg);
}

void
bt_spd_drop(struct bt_spd *b)
{
	spd_free(b->spd);
	b->spd = NULL;
}

uint32_t
bt_spd_classify(struct bt_spd *b, uint32_t off)
{
	uint32_t res[BT_BURST];
	uint32_t hits = 0;
	unsigned i;

	spd_classify(b->spd, &b->kp[off & (BT_KEYS - BT_BURST)], res, BT_BURST);
	for (i = 0; i < BT_BURST; i++)
		hits += res[i] != 0;
	return hits;
}

void
bt_spd_free(struct bt_spd *b)
{
	if (b == NULL)
		return;
	spd_free(b->spd);
	free(b->sels);
	free(b->rules);
	free(b->keys);
	free(b->kp);
	free(b);
}

/* ---- flow table / SAD ---- */

struct bt_hash {
	struct rte_hash *h;
	struct flowtab *ft; /* mode 2: the flow table as espd has it */
	uint32_t n, key_len;
	uint8_t *keys;     /* n keys of key_len bytes */
	uint32_t *order;   /* BT_ORDER random indices */
};

static void
flow_key_of(struct gw_flow_key *k, uint32_t i, uint64_t *s)
{
	memset(k, 0, sizeof(*k));
	k->policy = 1 + i % 16;
	k->family = 4;
	k->proto = 17;
	k->sport = rte_cpu_to_be_16((uint16_t)rnd(s));
	k->dport = rte_cpu_to_be_16((uint16_t)i);
	put32(k->src, 0xc0a80000u | (rnd(s) & 0xffff));
	put32(k->dst, 0x0a000000u | i);
}

struct bt_hash *
bt_hash_new(uint32_t n, int mode)
{
	int by_spi = mode == 1;
	static unsigned seq;
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters prm = {
		.name = name,
		.entries = n + n / 4 + 64, /* as control/publish.c makes them */
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct bt_hash *b = calloc(1, sizeof(*b));
	uint64_t s = 0x2545F4914F6CDD1DULL ^ n;
	uint32_t i;

	if (b == NULL)
		return NULL;
	b->n = n;
	b->key_len = by_spi ? sizeof(uint32_t) : sizeof(struct gw_flow_key);
	prm.key_len = b->key_len;
	snprintf(name, sizeof(name), "bt%u_%u", seq++, n);
	if (mode == 2)
		b->ft = flowtab_create(name, n + n / 4 + 64, SOCKET_ID_ANY);
	else
		b->h = rte_hash_create(&prm);
	b->keys = calloc(n, b->key_len);
	b->order = malloc(BT_ORDER * sizeof(*b->order));
	if ((b->h == NULL && b->ft == NULL) || b->keys == NULL || b->order == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		uint8_t *k = b->keys + (size_t)i * b->key_len;

		if (by_spi) {
			/* Distinct, scattered SPIs: an odd multiplier plus a
			 * constant is a bijection mod 2^32. */
			uint32_t spi = rte_cpu_to_be_32(i * 2654435761u + 0x100);

			memcpy(k, &spi, 4);
		} else {
			flow_key_of((struct gw_flow_key *)k, i, &s);
		}
		if (b->ft != NULL ?
		    flowtab_add(b->ft, (const struct gw_flow_key *)k, (void *)(uintptr_t)(i + 1)) < 0 :
		    rte_hash_add_key_data(b->h, k, (void *)(uintptr_t)(i + 1)) < 0)
			goto fail;
	}
	for (i = 0; i < BT_ORDER; i++)
		b->order[i] = rnd(&s) % n;
	return b;
fail:
	bt_hash_free(b);
	return NULL;
}

uint32_t
bt_hash_lookup(struct bt_hash *b, uint32_t off, uint64_t *sum)
{
	const void *kp[BT_BURST];
	void *data[BT_BURST];
	uint64_t hits = 0;
	unsigned i;

	for (i = 0; i < BT_BURST; i++)
		kp[i] = b->keys + (size_t)b->order[(off + i) & (BT_ORDER - 1)] *
				  b->key_len;
	if (b->ft != NULL)
		flowtab_lookup_bulk(b->ft, (const struct gw_flow_key *const *)kp, BT_BURST, &hits,
				    data);
	else
		rte_hash_lookup_bulk_data(b->h, kp, BT_BURST, &hits, data);
	for (i = 0; i < BT_BURST; i++)
		*sum += (uintptr_t)data[i];
	return (uint32_t)__builtin_popcountll(hits);
}

void
bt_hash_free(struct bt_hash *b)
{
	if (b == NULL)
		return;
	rte_hash_free(b->h);
	flowtab_free(b->ft);
	free(b->keys);
	free(b->order);
	free(b);
}

/* ---- replay window ---- */

struct bt_replay {
	struct replay_window *w;
	uint16_t off[BT_REPLAY_PASS];
	uint64_t base;
};

struct bt_replay *
bt_replay_new(uint32_t window, int ooo)
{
	struct bt_replay *b = calloc(1, sizeof(*b));
	uint64_t s = window * 31u + (unsigned)ooo;
	unsigned i, j;

	if (b == NULL)
		return NULL;
	b->w = aligned_alloc(64, (replay_window_bytes(window) + 63) & ~(size_t)63);
	if (b->w == NULL) {
		free(b);
		return NULL;
	}
	replay_window_init(b->w, window, 0);
	for (i = 0; i < BT_REPLAY_PASS; i++)
		b->off[i] = (uint16_t)i;
	/* Out of order: each block of 32 shuffled (Fisher-Yates). */
	for (i = 0; ooo && i < BT_REPLAY_PASS; i += 32)
		for (j = 31; j > 0; j--) {
			unsigned r = rnd(&s) % (j + 1);
			uint16_t t = b->off[i + j];

			b->off[i + j] = b->off[i + r];
			b->off[i + r] = t;
		}
	b->base = 1;
	return b;
}

uint32_t
bt_replay_pass(struct bt_replay *b)
{
	uint32_t ok = 0;
	unsigned i;

	for (i = 0; i < BT_REPLAY_PASS; i++) {
		uint64_t seq = b->base + b->off[i];

		if (replay_check(b->w, seq) && replay_update(b->w, seq))
			ok++;
	}
	b->base += BT_REPLAY_PASS;
	return ok;
}

void
bt_replay_free(struct bt_replay *b)
{
	if (b == NULL)
		return;
	free(b->w);
	free(b);
}
