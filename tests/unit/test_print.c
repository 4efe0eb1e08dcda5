/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The printer's streamed JSON (control/print.c) writes strings, integers
 * and booleans itself; it must write exactly what Jansson's dump of the
 * same tree writes, and fall back to Jansson where that refuses a value.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "control/print.h"
#include "unit.h"

/* One object with every kind of member, nested one and two deep. */
static void
sample(struct pr *pr, const char *str)
{
	pr_obj_open(pr, NULL);
	pr_str(pr, PR_ANY, "s", " s %s", str);
	pr_str(pr, PR_ANY, str, " k %s", "key from the value");
	pr_uint(pr, PR_ANY, "zero", " %" PRIu64, 0);
	pr_uint(pr, PR_ANY, "big", " %" PRIu64, UINT64_MAX);
	pr_uint(pr, PR_ANY, "i63", " %" PRIu64, (uint64_t)INT64_MAX);
	pr_bool(pr, PR_ANY, "t", " %s", true);
	pr_bool(pr, PR_JSON, "f", " %s", false);
	pr_null(pr, "n");
	pr_obj_open(pr, "sel");
	pr_str(pr, PR_ANY, "src", " src %s", "10.0.0.1/32");
	pr_arr_open(pr, "flags");
	pr_str(pr, PR_ANY, NULL, " %s", str);
	pr_uint(pr, PR_ANY, NULL, " %" PRIu64, 7);
	pr_arr_close(pr);
	pr_obj_close(pr);
	pr_obj_close(pr);
}

/* @p str streamed, and as a tree dumped by Jansson. */
static void
check_same(const char *str)
{
	struct pr s, t;
	struct sbuf dump = { 0 };
	json_t *root;

	pr_init(&s, true);
	sample(&s, str);
	pr_init(&t, true);
	t.keep_root = true;
	sample(&t, str);
	root = pr_take_json(&t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	pr_dump(&dump, root);
	CU_ASSERT_FALSE(s.out.oom);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.out.p);
	CU_ASSERT_STRING_EQUAL(s.out.p, dump.p);
	if (strcmp(s.out.p, dump.p) != 0)
		fprintf(stderr, "\nstreamed %s\njansson  %s\n", s.out.p, dump.p);
	json_decref(root);
	sb_free(&dump);
	pr_fini(&s);
	pr_fini(&t);
}

static void
test_stream_matches_jansson(void)
{
	check_same("plain");
	check_same("");
	check_same("quote \" back \\ slash / tab \t nl \n cr \r bs \b ff \f");
	check_same("\x02\x1f\x7f"); /* not 0x01: pr_dump()'s u64 tag */
	check_same("caf\xc3\xa9 \xe2\x82\xac"); /* UTF-8: Jansson's own path */
}

/* A value Jansson refuses (not UTF-8) marks the output cut short. */
static void
test_stream_bad_utf8(void)
{
	struct pr s;

	pr_init(&s, true);
	pr_obj_open(&s, NULL);
	pr_str(&s, PR_ANY, "ok", "%s", "fine");
	pr_str(&s, PR_ANY, "bad", "%s", "\xff\xfe");
	pr_obj_close(&s);
	CU_ASSERT_TRUE(s.out.oom);
	pr_fini(&s);
}

/* Text: the formats written without printf give printf's text; others
 * still go through it. */
static void
test_text_formats(void)
{
	static const uint64_t nums[] = { 0, 7, 10, 99, 4294967296ull, UINT64_MAX };
	char want[512];
	struct pr t;
	size_t i;

	pr_init(&t, false);
	want[0] = '\0';
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		pr_uint(&t, PR_ANY, "n", " n %" PRIu64, nums[i]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " n %" PRIu64, nums[i]);
	}
	pr_str(&t, PR_ANY, "s", " sel %s", "10.0.0.1/32");
	pr_str(&t, PR_ANY, "s", "%s", "");
	pr_str(&t, PR_ANY, "s", " 100%% %s", "done");   /* '%%': printf's */
	pr_str(&t, PR_ANY, "s", " [%-6s]", "ab");        /* a width: printf's */
	pr_uint(&t, PR_ANY, "n", " 0x%08" PRIx64, 0xabc); /* not decimal */
	pr_uint(&t, PR_JSON, "n", " no %" PRIu64, 1);     /* JSON only */
	strcat(want, " sel 10.0.0.1/32 100% done [ab    ] 0x00000abc");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t.out.p);
	CU_ASSERT_STRING_EQUAL(t.out.p, want);
	pr_fini(&t);
}

/* pr_ip() writes IPv4 itself: as inet_ntop() does. */
static void
test_ip_text(void)
{
	static const uint8_t v4[][4] = {
		{ 0, 0, 0, 0 }, { 255, 255, 255, 255 }, { 10, 0, 100, 9 },
		{ 1, 20, 3, 199 }, { 192, 168, 2, 10 },
	};
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char got[64], want[64];
	size_t i;

	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		inet_ntop(AF_INET, v4[i], want, sizeof(want));
		CU_ASSERT_STRING_EQUAL(pr_ip(4, v4[i], got, sizeof(got)), want);
	}
	CU_ASSERT_STRING_EQUAL(pr_ip(6, v6, got, sizeof(got)), "2001:db8::1");
}

int
test_print_register(void)
{
	CU_pSuite s = CU_add_suite("print", NULL, NULL);

	if (s == NULL ||
	    CU_add_test(s, "streamed JSON is Jansson's dump", test_stream_matches_jansson) == NULL ||
	    CU_add_test(s, "streamed JSON: not UTF-8", test_stream_bad_utf8) == NULL ||
	    CU_add_test(s, "text: printf's output, with or without printf",
			test_text_formats) == NULL ||
	    CU_add_test(s, "IPv4 text as inet_ntop()'s", test_ip_text) == NULL)
		return -1;
	return 0;
}
