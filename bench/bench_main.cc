// SPDX-License-Identifier: BSD-3-Clause
//
// The one main() of bench_micro. EAL comes up first, once, without
// hugepages or PCI, so the ESP benchmarks have real mbufs; every
// benchmark then runs on the thread EAL pinned to lcore 0, the crypto-only
// ones included, so ratios between them compare like with like. When EAL
// cannot start, the crypto-only benchmarks still run and the ESP ones
// report the error.
#include <cstdio>
#include <string>

#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <unistd.h>

// Read by bench_esp.cc.
bool bench_eal_up;

static bool
eal_init(const char *prog)
{
	std::string prefix = "--file-prefix=bench" + std::to_string(getpid());
	const char *args[] = { prog, "--no-huge", "--no-pci", "-l", "0",
			       "-m", "512", prefix.c_str(), "--no-telemetry",
			       "--log-level=lib.eal:error" };
	constexpr int argc = sizeof(args) / sizeof(args[0]);
	char *argv[argc + 1];

	// rte_eal_init may permute argv; hand it a copy of the pointers.
	for (int i = 0; i < argc; i++)
		argv[i] = const_cast<char *>(args[i]);
	argv[argc] = nullptr;
	return rte_eal_init(argc, argv) >= 0;
}

int
main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
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
