/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transparent huge pages for glibc's malloc (its glibc.malloc.hugetlb=1
 * tunable): rte_acl builds an SPD in large calloc()ed pools and touches
 * them page by page, and the control plane's tables grow the same way.
 * With huge pages behind them, an SPD of 10k policies builds in about
 * half the CPU time (bench/RESULTS.md "SPD with 100k policies").
 *
 * With THP, glibc.malloc.mmap_threshold=32 MiB goes with it: rte_acl's
 * pool grows in blocks of 8 MB, and glibc gave each its own mmap(), of
 * which huge pages backed only about 73 % (the ends of each block are 4 KB
 * pages). From glibc's heap they are 98 % huge pages, and a build of 100k
 * policies takes 3.9-4.1 s instead of 4.7-6.6 s on this project's test
 * guest when it is busy; after it idled, when its host must back fresh
 * memory again, 5.8-8.4 s against 6.2-6.5 s (bench/RESULTS.md, "SPD: the
 * build pool from glibc's heap"). The heap's top is still handed back
 * when the build frees it.
 *
 * glibc reads a tunable only when a process starts, so this constructor
 * starts the program again, once, with the tunables added to
 * GLIBC_TUNABLES (same pid, same arguments). It does nothing when the
 * environment already names glibc.malloc.hugetlb, or when
 * ESPD_MALLOC_HUGETLB=0; ESPD_MALLOC_HUGETLB=2 asks for
 * glibc.malloc.hugetlb=2 (pages from the hugetlbfs pool) instead, whose
 * large blocks must stay mmap()ed to come from the pool. A
 * GLIBC_TUNABLES that names glibc.malloc.mmap_threshold keeps its value.
 * If the exec fails, the program goes on as it was.
 *
 * Linked whole into espd and bench_micro (a constructor that nothing
 * references); glibc passes argc, argv and envp to constructors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define ESPD_MMAP_THRESHOLD "33554432" /* 32 MiB, glibc's largest */

__attribute__((constructor(102))) static void
espd_malloc_thp(int argc, char **argv, char **envp)
{
	const char *t = getenv("GLIBC_TUNABLES");
	const char *opt = getenv("ESPD_MALLOC_HUGETLB");
	char *keep = t != NULL ? strdup(t) : NULL;
	char buf[4096];
	bool pool, heap;
	int n;

	(void)argc;
	(void)envp;
	/* Once at most (ESPD_THP_EXEC): the loader of a process with file
	 * capabilities or setuid (AT_SECURE) drops tunables, so the check
	 * for ours alone would exec for ever. */
	if ((opt != NULL && strcmp(opt, "0") == 0) ||
	    (t != NULL && strstr(t, "glibc.malloc.hugetlb") != NULL) ||
	    (t != NULL && keep == NULL) || argv == NULL || getauxval(AT_SECURE) != 0 ||
	    getenv("ESPD_THP_EXEC") != NULL)
		goto out;
	/* 2: the hugetlbfs pool instead (README: only with DPDK's memory
	 * taken at start and pages to spare). */
	pool = opt != NULL && strcmp(opt, "2") == 0;
	heap = !pool && (t == NULL || strstr(t, "glibc.malloc.mmap_threshold") == NULL);
	n = snprintf(buf, sizeof(buf), "%s%sglibc.malloc.hugetlb=%c%s", t != NULL ? t : "",
		     t != NULL && t[0] != '\0' ? ":" : "", pool ? '2' : '1',
		     heap ? ":glibc.malloc.mmap_threshold=" ESPD_MMAP_THRESHOLD : "");
	if (n < 0 || (size_t)n >= sizeof(buf) || setenv("GLIBC_TUNABLES", buf, 1) != 0 ||
	    setenv("ESPD_THP_EXEC", "1", 1) != 0)
		goto out;
	execv("/proc/self/exe", argv);
	/* Not started again: as it was. */
	unsetenv("ESPD_THP_EXEC");
	if (keep != NULL)
		setenv("GLIBC_TUNABLES", keep, 1);
	else
		unsetenv("GLIBC_TUNABLES");
out:
	free(keep);
}
