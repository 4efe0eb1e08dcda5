/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a cold page costs this machine: the memory figures behind the
 * many-SA rates (bench/bench_pfp.py part b prints them with its results).
 *
 *   mem_probe [MB]      (default 1024)
 *
 * A map of MB megabytes (2 MB hugetlbfs pages where the pool has them,
 * as espd's tables; else ordinary pages) holds one pointer in each 4 KB
 * page, chained in a random order. Following K chains side by side gives
 * the TSC cycles a load costs when every load is a new page: with K = 1
 * the latency (a page walk and a DRAM access in a row), with more the
 * throughput, until the core's outstanding misses run out. With 1M SAs
 * each packet's flow slot and SA record are such loads, so that figure
 * times the cold pages a packet touches is about what the many SAs add
 * to one. Prints one line of key=value pairs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <x86intrin.h>

#define PAGE 4096u
#define MAX_CHAINS 32
#define LOADS 400000u

/* Page @p pg's pointer in map @p m: at a line that varies with the page,
 * so that the chains do not all fall in one cache set. */
static char *
slot(char *m, size_t pg)
{
	return m + pg * PAGE + (pg % 64) * 64;
}

/* TSC cycles a load, the best of three runs, for @p k chains from @p start. */
static double
chase(char *const start[], unsigned int k)
{
	char *p[MAX_CHAINS];
	uint64_t best = UINT64_MAX;
	unsigned int r, i, c, n = LOADS / k;

	for (r = 0; r < 3; r++) {
		uint64_t t;

		memcpy(p, start, k * sizeof(p[0]));
		t = __rdtsc();
		for (i = 0; i < n; i++)
			for (c = 0; c < k; c++)
				p[c] = *(char **)p[c];
		t = __rdtsc() - t;
		best = t < best ? t : best;
		for (c = 0; c < k; c++)
			__asm__ volatile("" : : "r"(p[c]));
	}
	return (double)best / ((double)n * k);
}

int
main(int argc, char **argv)
{
	static const unsigned int ks[] = { 1, 4, 8, 16, 32 };
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	size_t len = mb << 20, n = len / PAGE, i;
	const char *kind = "hugetlb";
	char *m, *start[MAX_CHAINS];
	size_t *perm;
	double best = 1e30, lat = 0;
	unsigned int j;
	uint64_t x = 88172645463325252ull;

	if (mb < 64 || mb > 65536) {
		fprintf(stderr, "mem_probe: MB from 64 to 65536\n");
		return 2;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	if (m == MAP_FAILED) {
		kind = "pages";
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	perm = malloc(n * sizeof(*perm));
	if (m == MAP_FAILED || perm == NULL) {
		fprintf(stderr, "mem_probe: no memory for %zu MB\n", mb);
		return 1;
	}
	/* A random cycle through every page (xorshift, Fisher-Yates), each
	 * pointer at a line that varies with the page. */
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		size_t r, t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x % (i + 1);
		t = perm[i], perm[i] = perm[r], perm[r] = t;
	}
	for (i = 0; i < n; i++)
		*(char **)slot(m, perm[i]) = slot(m, perm[(i + 1) % n]);
	for (j = 0; j < MAX_CHAINS; j++)
		start[j] = slot(m, perm[j * (n / MAX_CHAINS)]);
	printf("memory=%s mb=%zu", kind, mb);
	for (j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
		double t = chase(start, ks[j]);

		if (ks[j] == 1)
			lat = t;
		best = t < best ? t : best;
		printf(" tsc_per_load_k%u=%.1f", ks[j], t);
	}
	printf(" latency_tsc=%.1f best_tsc_per_cold_page=%.1f\n", lat, best);
	munmap(m, len);
	free(perm);
	return 0;
}
