/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-line checks for --check: what one line cannot know alone (a port
 * defined twice, a route to a port never declared, the same SA twice).
 * Each table is a small open-addressing set of fixed-size keys, so a file
 * with a hundred thousand SAs checks in linear time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"

#define KEY_MAX 24

enum { SLOT_FREE, SLOT_USED, SLOT_DEAD };

struct slot {
	uint8_t state;
	uint8_t key[KEY_MAX];
	unsigned int line;
};

struct kset {
	size_t cap;  /* a power of two, or 0 */
	size_t used; /* SLOT_USED and SLOT_DEAD both fill the table */
	struct slot *s;
};

struct cfg_check {
	struct kset ports;  /* port id */
	struct kset routes; /* prefix */
	struct kset neighs; /* port, address */
	struct kset sas;    /* dst, spi */
	struct kset pols;   /* policy index */
};

static uint64_t
hash(const uint8_t *k)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < KEY_MAX; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h;
}

static struct slot *
kset_find(const struct kset *ks, const uint8_t *key)
{
	size_t i;

	if (ks->cap == 0)
		return NULL;
	for (i = hash(key) & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
		struct slot *sl = &ks->s[i];

		if (sl->state == SLOT_FREE)
			return NULL;
		if (sl->state == SLOT_USED && memcmp(sl->key, key, KEY_MAX) == 0)
			return sl;
	}
}

static int
kset_grow(struct kset *ks)
{
	struct kset nk = { .cap = ks->cap != 0 ? ks->cap * 2 : 64 };
	size_t i, j;

	nk.s = calloc(nk.cap, sizeof(*nk.s));
	if (nk.s == NULL)
		return -ENOMEM;
	for (i = 0; i < ks->cap; i++) {
		if (ks->s[i].state != SLOT_USED)
			continue;
		for (j = hash(ks->s[i].key) & (nk.cap - 1); nk.s[j].state != SLOT_FREE;
		     j = (j + 1) & (nk.cap - 1))
			;
		nk.s[j] = ks->s[i];
		nk.used++;
	}
	free(ks->s);
	*ks = nk;
	return 0;
}

static int
kset_add(struct kset *ks, const uint8_t *key, unsigned int line)
{
	size_t i;
	int ret;

	if ((ks->used + 1) * 2 > ks->cap) {
		ret = kset_grow(ks);
		if (ret < 0)
			return ret;
	}
	for (i = hash(key) & (ks->cap - 1); ks->s[i].state == SLOT_USED;
	     i = (i + 1) & (ks->cap - 1))
		;
	if (ks->s[i].state == SLOT_FREE)
		ks->used++;
	ks->s[i].state = SLOT_USED;
	memcpy(ks->s[i].key, key, KEY_MAX);
	ks->s[i].line = line;
	return 0;
}

static void
kset_clear(struct kset *ks)
{
	free(ks->s);
	memset(ks, 0, sizeof(*ks));
}

struct cfg_check *
cfg_check_new(void)
{
	return calloc(1, sizeof(struct cfg_check));
}

void
cfg_check_free(struct cfg_check *c)
{
	if (c == NULL)
		return;
	kset_clear(&c->ports);
	kset_clear(&c->routes);
	kset_clear(&c->neighs);
	kset_clear(&c->sas);
	kset_clear(&c->pols);
	free(c);
}

static void
key_port(uint8_t *k, uint16_t port)
{
	memset(k, 0, KEY_MAX);
	memcpy(k, &port, sizeof(port));
}

static void
key_addr(uint8_t *k, size_t off, const struct cfg_addr *a)
{
	k[off] = a->af;
	k[off + 1] = a->len;
	memcpy(k + off + 2, a->a, sizeof(a->a));
}

static void
key_sa(uint8_t *k, const struct cfg_addr *dst, uint32_t spi)
{
	memset(k, 0, KEY_MAX);
	key_addr(k, 0, dst);
	memcpy(k + 18, &spi, sizeof(spi));
}

_Static_assert(18 + sizeof(uint32_t) <= KEY_MAX, "SA key fits");
_Static_assert(2 + 18 <= KEY_MAX, "neigh key fits");

static int
port_declared(struct cfg_check *c, uint16_t port, struct cfg_error *err)
{
	uint8_t k[KEY_MAX];

	key_port(k, port);
	if (kset_find(&c->ports, k) == NULL)
		return cfg_error_set(err, -1,
				     "port %u is not declared (no 'port %u' line before this one)",
				     port, port);
	return 0;
}

int
cfg_check_cmd(struct cfg_check *c, const struct cfg_cmd *cmd,
	      unsigned int line, struct cfg_error *err)
{
	uint8_t k[KEY_MAX];
	char a[64];
	struct slot *sl;
	int ret;

	switch (cmd->type) {
	case CFG_CMD_PORT:
		key_port(k, cmd->u.port.id);
		sl = kset_find(&c->ports, k);
		if (sl != NULL)
			return cfg_error_set(err, 1, "port %u already defined on line %u",
					     cmd->u.port.id, sl->line);
		return kset_add(&c->ports, k, line);

	case CFG_CMD_ROUTE_ADD:
		ret = port_declared(c, cmd->u.route.port, err);
		if (ret < 0)
			return ret;
		memset(k, 0, sizeof(k));
		key_addr(k, 0, &cmd->u.route.prefix);
		sl = kset_find(&c->routes, k);
		if (sl != NULL)
			return cfg_error_set(err, 2, "route %s already added on line %u",
					     cfg_addr_str(&cmd->u.route.prefix, true, a,
							  sizeof(a)), sl->line);
		return kset_add(&c->routes, k, line);

	case CFG_CMD_NEIGH_ADD:
		ret = port_declared(c, cmd->u.neigh.port, err);
		if (ret < 0)
			return ret;
		key_port(k, cmd->u.neigh.port);
		key_addr(k, 2, &cmd->u.neigh.ip);
		sl = kset_find(&c->neighs, k);
		if (sl != NULL)
			return cfg_error_set(err, 2,
					     "neigh %s on port %u already added on line %u",
					     cfg_addr_str(&cmd->u.neigh.ip, false, a, sizeof(a)),
					     cmd->u.neigh.port, sl->line);
		return kset_add(&c->neighs, k, line);

	case CFG_CMD_STATE_ADD:
		key_sa(k, &cmd->u.state.dst, cmd->u.state.spi);
		sl = kset_find(&c->sas, k);
		if (sl != NULL)
			return cfg_error_set(err, -1,
					     "SA dst %s spi 0x%08" PRIx32 " already added on line %u",
					     cfg_addr_str(&cmd->u.state.dst, false, a, sizeof(a)),
					     cmd->u.state.spi, sl->line);
		return kset_add(&c->sas, k, line);

	case CFG_CMD_STATE_UPDATE:
	case CFG_CMD_STATE_DEL: {
		const struct cfg_addr *dst = cmd->type == CFG_CMD_STATE_DEL ?
			&cmd->u.sa.dst : &cmd->u.state.dst;
		uint32_t spi = cmd->type == CFG_CMD_STATE_DEL ?
			cmd->u.sa.spi : cmd->u.state.spi;

		key_sa(k, dst, spi);
		sl = kset_find(&c->sas, k);
		if (sl == NULL)
			return cfg_error_set(err, -1,
					     "%s: no SA dst %s spi 0x%08" PRIx32
					     " was added before this line",
					     cfg_cmd_name(cmd->type),
					     cfg_addr_str(dst, false, a, sizeof(a)), spi);
		if (cmd->type == CFG_CMD_STATE_DEL)
			sl->state = SLOT_DEAD;
		return 0;
	}

	case CFG_CMD_STATE_FLUSH:
		kset_clear(&c->sas);
		return 0;

	case CFG_CMD_POLICY_ADD:
		if (!cmd->u.policy.has_index)
			return 0;
		memset(k, 0, sizeof(k));
		memcpy(k, &cmd->u.policy.index, sizeof(uint32_t));
		sl = kset_find(&c->pols, k);
		if (sl != NULL)
			return cfg_error_set(err, -1,
					     "policy index %" PRIu32 " already used on line %u",
					     cmd->u.policy.index, sl->line);
		return kset_add(&c->pols, k, line);

	case CFG_CMD_POLICY_DEL:
		if (!cmd->u.policy_del.by_index)
			return 0;
		memset(k, 0, sizeof(k));
		memcpy(k, &cmd->u.policy_del.index, sizeof(uint32_t));
		sl = kset_find(&c->pols, k);
		if (sl == NULL)
			return cfg_error_set(err, -1,
					     "policy del: no policy index %" PRIu32
					     " was added before this line",
					     cmd->u.policy_del.index);
		sl->state = SLOT_DEAD;
		return 0;

	case CFG_CMD_POLICY_FLUSH:
		kset_clear(&c->pols);
		return 0;

	case CFG_CMD_NONE:
	case CFG_CMD_SET:
		return 0;

	default:
		/* Queries and streams answer a client; a file has none. */
		return cfg_error_set(err, 0, "'%s' is not a configuration command",
				     cfg_cmd_name(cmd->type));
	}
}

int
cfg_check_apply(void *arg, const struct cfg_cmd *cmd, const char *file,
		unsigned int line, struct cfg_error *err)
{
	(void)file;
	return cfg_check_cmd(arg, cmd, line, err);
}

int
cfg_check_file(const char *path, FILE *out)
{
	struct cfg_load ld = { .apply = cfg_check_apply, .errs = out,
			       .keep_going = true };
	int ret;

	ld.arg = cfg_check_new();
	if (ld.arg == NULL) {
		fprintf(out, "%s: error: out of memory\n", path);
		return 1;
	}
	ret = cfg_load_file(path, &ld);
	cfg_check_free(ld.arg);
	if (ret == 0 && ld.nerrors == 0) {
		fprintf(out, "configuration OK\n");
		return 0;
	}
	return 1;
}
