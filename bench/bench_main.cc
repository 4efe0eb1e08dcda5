// SPDX-License-Identifier: BSD-3-Clause
//
// The one main() of bench_micro. EAL comes up first, once, without
// hugepages or PCI, so the ESP benchmarks have real mbufs; every
// benchmark then runs on the thread EAL pinned to lcore 0, the crypto-only
// ones included, so ratios between them compare like with like. When EAL
// cannot start, the crypto-only benchmarks still run and the ESP ones
// report the error.
//
// BENCH_CPU=N runs on CPU N instead of CPU 0 (EAL --lcores 0@N), for a
// shared machine where something else is pinned to CPU 0.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <unistd.h>

extern "C" {
#include "crypto/crypto.h"
}

// Read by bench_esp.cc.
bool bench_eal_up;

static bool
eal_init(const char *prog)
{
	const char *cpu = getenv("BENCH_CPU");
	// BENCH_HUGE=1: DPDK's memory on hugepages, as espd runs in
	// production (rte_acl's run-time tables come from it).
	const char *huge_env = getenv("BENCH_HUGE");
	bool huge = huge_env != nullptr && strcmp(huge_env, "0") != 0;
	std::vector<std::string> args = { prog, "--no-pci" };

	if (!huge)
		args.push_back("--no-huge");
	std::vector<char *> argv;

	if (cpu != nullptr) {
		args.push_back(std::string("--lcores=0@") + cpu);
	} else {
		args.push_back("-l");
		args.push_back("0");
	}
	for (const char *a : { "-m", "512", "--no-telemetry",
			       "--log-level=lib.eal:error" })
		args.push_back(a);
	// BENCH_SIMD=512 lets DPDK use AVX-512 (rte_acl's AVX-512 classify,
	// BM_spd_classify_alg); EAL's default cap on x86 is 256 bits.
	if (getenv("BENCH_SIMD") != nullptr)
		args.push_back(std::string("--force-max-simd-bitwidth=") + getenv("BENCH_SIMD"));
	args.push_back("--file-prefix=bench" + std::to_string(getpid()));
	// rte_eal_init may permute argv: it gets pointers into args.
	for (std::string &a : args)
		argv.push_back(&a[0]);
	argv.push_back(nullptr);
	return rte_eal_init((int)args.size(), argv.data()) >= 0;
}

// The IPsec-MB code path in use (init_mb_mgr_auto picks it per CPU), in
// the run's context, so a saved result says what it measured.
static void
add_crypto_context()
{
	crypto_engine *e = crypto_engine_create(CRYPTO_ENGINE_MB);

	if (e == nullptr)
		return;
	benchmark::AddCustomContext("crypto_engine",
				    crypto_engine_describe(e));
	crypto_engine_free(e);
}

int
main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	add_crypto_context();
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	bench_eal_up = eal_init(argv[0]);
	if (!bench_eal_up)
		fprintf(stderr, "bench_micro: rte_eal_init failed; "
				"ESP benchmarks will be skipped\n");
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	if (bench_eal_up)
		rte_eal_cleanup();
	return 0;
}
