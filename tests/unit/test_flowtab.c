/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit suite for the flow table (dataplane/flowtab.c): add, replace in
 * place, delete with the slot kept until its grace period, bulk lookup,
 * a table full of deleted keys' slots refusing until they are given
 * back, and churn through a small table checked against a plain array.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_memory.h>

#include "dataplane/flowtab.h"
#include "unit.h"

static struct gw_flow_key
key_of(uint32_t i)
{
	struct gw_flow_key k;

	memset(&k, 0, sizeof(k));
	k.policy = 3;
	k.family = 4;
	k.proto = 17;
	k.sport = (uint16_t)i;
	k.dport = (uint16_t)(i >> 16);
	k.dst[0] = (uint8_t)(i * 7);
	return k;
}

/* Distinct non-NULL "SA records". */
static void *
val(uint32_t i)
{
	return (void *)(uintptr_t)(0x1000 + 16 * (uintptr_t)i);
}

static void
test_add_lookup(void)
{
	struct flowtab *t = flowtab_create("ft_test", 100, SOCKET_ID_ANY);
	struct gw_flow_key k;
	void *d = NULL;
	uint32_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (i = 0; i < 100; i++) {
		k = key_of(i);
		CU_ASSERT_EQUAL(flowtab_add(t, &k, val(i)), 0);
	}
	CU_ASSERT_EQUAL(flowtab_count(t), 100);
	for (i = 0; i < 100; i++) {
		k = key_of(i);
		CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), 0);
		CU_ASSERT_PTR_EQUAL(d, val(i));
	}
	k = key_of(1000);
	CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), -ENOENT);
	/* The same key again replaces its SA in place. */
	k = key_of(5);
	CU_ASSERT_EQUAL(flowtab_add(t, &k, val(500)), 0);
	CU_ASSERT_EQUAL(flowtab_count(t), 100);
	CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), 0);
	CU_ASSERT_PTR_EQUAL(d, val(500));
	flowtab_free(t);
}

static void
test_del(void)
{
	struct flowtab *t = flowtab_create("ft_test", 10, SOCKET_ID_ANY);
	struct gw_flow_key k = key_of(1);
	void *d = NULL;
	int32_t pos, pos2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(flowtab_del(t, &k), -ENOENT);
	CU_ASSERT_EQUAL(flowtab_add(t, &k, val(1)), 0);
	pos = flowtab_del(t, &k);
	CU_ASSERT(pos >= 0);
	CU_ASSERT_EQUAL(flowtab_count(t), 0);
	CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), -ENOENT);
	CU_ASSERT_EQUAL(flowtab_del(t, &k), -ENOENT);
	/* Back before the old slot's grace period ended: another slot. */
	CU_ASSERT_EQUAL(flowtab_add(t, &k, val(2)), 0);
	CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), 0);
	CU_ASSERT_PTR_EQUAL(d, val(2));
	pos2 = flowtab_del(t, &k);
	CU_ASSERT(pos2 >= 0 && pos2 != pos);
	flowtab_free_pos(t, pos);
	flowtab_free_pos(t, pos);  /* twice: ignored */
	flowtab_free_pos(t, -1);   /* no slot: ignored */
	flowtab_free_pos(t, pos2);
	CU_ASSERT_EQUAL(flowtab_add(t, &k, val(3)), 0);
	CU_ASSERT_EQUAL(flowtab_lookup(t, &k, &d), 0);
	CU_ASSERT_PTR_EQUAL(d, val(3));
	CU_ASSERT_EQUAL(flowtab_count(t), 1);
	flowtab_free(t);
}

static void
test_bulk(void)
{
	struct flowtab *t = flowtab_create("ft_test", 64, SOCKET_ID_ANY);
	struct gw_flow_key k[40];
	const struct gw_flow_key *kp[40];
	void *d[40];
	uint64_t hits = 0, want = 0;
	uint32_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (i = 0; i < 40; i++) {
		k[i] = key_of(i);
		kp[i] = &k[i];
		if (i % 3 != 0) {
			CU_ASSERT_EQUAL(flowtab_add(t, &k[i], val(i)), 0);
			want |= 1ull << i;
		}
	}
	flowtab_lookup_bulk(t, kp, 40, &hits, d);
	CU_ASSERT_EQUAL(hits, want);
	for (i = 0; i < 40; i++)
		if (hits & (1ull << i))
			CU_ASSERT_PTR_EQUAL(d[i], val(i));
	flowtab_lookup_bulk(t, kp, 0, &hits, d);
	CU_ASSERT_EQUAL(hits, 0);
	flowtab_free(t);
}

/* Deleted keys hold their slots until given back: a table full of them
 * refuses a new key, and takes it once they are back. */
static void
test_full_of_dead(void)
{
	struct flowtab *t = flowtab_create("ft_test", 40, SOCKET_ID_ANY);
	int32_t pos[200];
	struct gw_flow_key k;
	uint32_t i, n = 0;
	int rc = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (i = 0; i < 200 && rc == 0; i++) {
		k = key_of(i);
		rc = flowtab_add(t, &k, val(i));
		if (rc == 0) {
			pos[n] = flowtab_del(t, &k);
			CU_ASSERT(pos[n] >= 0);
			n++;
		}
	}
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT(n >= 40 && n < 200);
	CU_ASSERT_EQUAL(flowtab_count(t), 0);
	for (i = 0; i < n; i++)
		flowtab_free_pos(t, pos[i]);
	for (i = 0; i < 40; i++) {
		k = key_of(1000 + i);
		CU_ASSERT_EQUAL(flowtab_add(t, &k, val(i)), 0);
	}
	CU_ASSERT_EQUAL(flowtab_count(t), 40);
	flowtab_free(t);
}

/* Random adds, replaces and deletes (slots given back a few operations
 * later, as after a grace period) through a small table, checked against
 * a plain array: every key present is found with its SA, none other. */
static void
test_churn(void)
{
	enum { KEYS = 96, LAG = 8 };
	struct flowtab *t = flowtab_create("ft_test", 64, SOCKET_ID_ANY);
	uint32_t have[KEYS] = { 0 }; /* 0: absent, else the value's index */
	int32_t lag[LAG];
	uint32_t x = 12345, step, i, live = 0, nlag = 0, bad = 0;
	struct gw_flow_key k;
	void *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (step = 1; step <= 20000; step++) {
		x = x * 1103515245u + 12345u;
		i = (x >> 8) % KEYS;
		k = key_of(i);
		if (have[i] != 0 && (x & 0x10000)) {
			int32_t pos = flowtab_del(t, &k);

			bad += pos < 0;
			have[i] = 0;
			live--;
			if (nlag == LAG) {
				flowtab_free_pos(t, lag[0]);
				memmove(lag, lag + 1, (LAG - 1) * sizeof(lag[0]));
				nlag--;
			}
			lag[nlag++] = pos;
		} else if (have[i] != 0 || live < 64) {
			bad += flowtab_add(t, &k, val(step)) != 0;
			live += have[i] == 0;
			have[i] = step;
		}
		if (step % 97 == 0) {
			uint32_t j;

			for (j = 0; j < KEYS; j++) {
				k = key_of(j);
				d = NULL;
				if (have[j] != 0)
					bad += flowtab_lookup(t, &k, &d) != 0 || d != val(have[j]);
				else
					bad += flowtab_lookup(t, &k, &d) != -ENOENT;
			}
			bad += flowtab_count(t) != live;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	flowtab_free(t);
}

int
test_flowtab_register(void)
{
	CU_pSuite s = CU_add_suite("flowtab", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "add, lookup, replace in place", test_add_lookup) == NULL ||
	    CU_add_test(s, "delete keeps the slot until its grace period", test_del) == NULL ||
	    CU_add_test(s, "bulk lookup", test_bulk) == NULL ||
	    CU_add_test(s, "full of deleted slots, then given back", test_full_of_dead) == NULL ||
	    CU_add_test(s, "churn against a plain array", test_churn) == NULL)
		return CU_get_error();
	return 0;
}
