// SPDX-License-Identifier: BSD-3-Clause
//
// Micro-benchmarks of the tables a worker reads per packet, at the sizes a
// PFP gateway reaches. The calls into espd's C headers live in
// bench_tables_impl.c (pkt.h is C, not C++); each call there is one burst.
//   BM_spd_classify/N:  spd_classify() on bursts of 32 flow keys against
//                       an SPD of N random IPv4 policies (prefixes
//                       /8../32, tcp/udp/any, ports any / one / a range);
//                       half the keys fall inside some policy, the rest
//                       are random (counter match_frac);
//   BM_spd_build/N:     spd_build() of those N policies (rte_acl rule
//                       load and trie generation), ms per build;
//   BM_spd_classify6/N, BM_spd_build6/N: the same with IPv6 policies
//                       (prefixes /16../64, an eighth /128);
//   BM_flow_lookup/N:   rte_hash_lookup_bulk_data() on bursts of 32
//                       struct gw_flow_key, on a lock-free hash made as
//                       control/publish.c made the flow table before
//                       flowtab.h (entries N + N/4 + 64,
//                       RW_CONCURRENCY_LF, CRC hash) holding N keys; every
//                       lookup a hit on a random key;
//   BM_flowtab_lookup/N: the same keys and lookups through espd's flow
//                       table now (dataplane/flowtab.h, as many entries);
//   BM_sad_lookup/N:    the same keyed by 4-byte SPI (the inbound SAD);
//   BM_replay/w/ooo:    replay_check() then replay_update() per number,
//                       window w, in order (ooo 0) or each block of 32
//                       shuffled (ooo 1: up to 31 behind the top).
// items/s = flow keys (packets) per second.
#include <cstdint>

#include <benchmark/benchmark.h>

#include "bench/bench_tables.h"

extern bool bench_eal_up;

namespace {

/* Classify bursts of keys through SPD @p b for as long as the benchmark
 * runs; items are keys, "match_frac" the share that matched a policy. */
void
classify_loop(benchmark::State &st, bt_spd *b)
{
	uint64_t hits = 0;
	uint32_t off = 0;
	for (auto _ : st) {
		hits += bt_spd_classify(b, off);
		off += BT_BURST;
	}
	st.SetItemsProcessed((int64_t)st.iterations() * BT_BURST);
	st.counters["match_frac"] =
		(double)hits / ((double)st.iterations() * BT_BURST);
}

void
spd_classify_family(benchmark::State &st, int family)
{
	if (!bench_eal_up) {
		st.SkipWithError("EAL not up");
		return;
	}
	bt_spd *b = bt_spd_new((uint32_t)st.range(0), family);
	if (b == nullptr || bt_spd_build(b) != 0) {
		bt_spd_free(b);
		st.SkipWithError("spd_build failed");
		return;
	}
	classify_loop(st, b);
	bt_spd_free(b);
}

void
BM_spd_classify(benchmark::State &st)
{
	spd_classify_family(st, 4);
}

void
BM_spd_classify6(benchmark::State &st)
{
	spd_classify_family(st, 6);
}

// BM_spd_classify_alg/N/ALG: the same with rte_acl's code path ALG
// forced (enum rte_acl_classify_alg: 1 scalar, 2 SSE, 3 AVX2, 6 AVX-512
// 16 lanes, 7 AVX-512 32 lanes; 0 rte_acl's own pick). AVX-512 needs
// EAL's --force-max-simd-bitwidth=512: run with BENCH_SIMD=512.
void
BM_spd_classify_alg(benchmark::State &st)
{
	if (!bench_eal_up) {
		st.SkipWithError("EAL not up");
		return;
	}
	// One SPD per N, kept across the paths and repetitions (a 100k
	// build takes seconds); only the classify path changes.
	static bt_spd *b;
	static int64_t b_n;
	if (b == nullptr || b_n != st.range(0)) {
		bt_spd_free(b);
		b = bt_spd_new((uint32_t)st.range(0), 4);
		b_n = st.range(0);
		if (b == nullptr || bt_spd_build(b) != 0) {
			bt_spd_free(b);
			b = nullptr;
			st.SkipWithError("spd_build failed");
			return;
		}
	}
	if (bt_spd_set_alg(b, (int)st.range(1)) != 0) {
		st.SkipWithError("this classify path cannot run here");
		return;
	}
	classify_loop(st, b);
}

void
spd_build_family(benchmark::State &st, int family)
{
	if (!bench_eal_up) {
		st.SkipWithError("EAL not up");
		return;
	}
	bt_spd *b = bt_spd_new((uint32_t)st.range(0), family);
	if (b == nullptr) {
		st.SkipWithError("out of memory");
		return;
	}
	for (auto _ : st) {
		if (bt_spd_build(b) != 0) {
			st.SkipWithError("spd_build failed");
			break;
		}
		st.PauseTiming();
		bt_spd_drop(b);
		st.ResumeTiming();
	}
	st.SetItemsProcessed((int64_t)st.iterations() * st.range(0));
	bt_spd_free(b);
}

void
BM_spd_build(benchmark::State &st)
{
	spd_build_family(st, 4);
}

void
BM_spd_build6(benchmark::State &st)
{
	spd_build_family(st, 6);
}

void
hash_lookup(benchmark::State &st, int mode)
{
	if (!bench_eal_up) {
		st.SkipWithError("EAL not up");
		return;
	}
	bt_hash *b = bt_hash_new((uint32_t)st.range(0), mode);
	if (b == nullptr) {
		st.SkipWithError("table create or add failed");
		return;
	}
	uint64_t hits = 0, sum = 0;
	uint32_t off = 0;
	for (auto _ : st) {
		hits += bt_hash_lookup(b, off, &sum);
		off += BT_BURST;
	}
	benchmark::DoNotOptimize(sum);
	st.SetItemsProcessed((int64_t)st.iterations() * BT_BURST);
	st.counters["hit_frac"] =
		(double)hits / ((double)st.iterations() * BT_BURST);
	bt_hash_free(b);
}

void
BM_flow_lookup(benchmark::State &st)
{
	hash_lookup(st, 0);
}

void
BM_sad_lookup(benchmark::State &st)
{
	hash_lookup(st, 1);
}

void
BM_flowtab_lookup(benchmark::State &st)
{
	hash_lookup(st, 2);
}

void
BM_replay(benchmark::State &st)
{
	bt_replay *b = bt_replay_new((uint32_t)st.range(0), (int)st.range(1));
	if (b == nullptr) {
		st.SkipWithError("out of memory");
		return;
	}
	uint64_t ok = 0;
	for (auto _ : st)
		ok += bt_replay_pass(b);
	st.SetItemsProcessed((int64_t)st.iterations() * BT_REPLAY_PASS);
	st.counters["accepted_frac"] =
		(double)ok / ((double)st.iterations() * BT_REPLAY_PASS);
	bt_replay_free(b);
}

} // namespace

BENCHMARK(BM_spd_classify)->Arg(10)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_spd_classify_alg)
	->ArgsProduct({ { 10, 100000 }, { 0, 1, 2, 3, 6, 7 } });
BENCHMARK(BM_spd_build)->Arg(10)->Arg(1000)->Arg(10000)->Arg(100000)
	->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spd_classify6)->Arg(10)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_spd_build6)->Arg(10)->Arg(1000)->Arg(10000)->Arg(100000)
	->Unit(benchmark::kMillisecond);
BENCHMARK(BM_flow_lookup)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_sad_lookup)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_flowtab_lookup)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_replay)->ArgsProduct({ { 64, 4096 }, { 0, 1 } })
	->ArgNames({ "w", "ooo" });
