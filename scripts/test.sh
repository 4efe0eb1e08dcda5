#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test.
# Prints one closing line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}

scripts/setup.sh "$builddir" || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
run() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: PASS"
	else
		failed=$((failed + 1))
		echo "=== $name: FAIL"
	fi
}

run "unit (CUnit)" "$builddir/tests/test_unit"
run "espd and espctl command lines" scripts/t_cli.sh "$builddir"
run "scapy interop, negative cases, workers, bad config" scripts/t_interop.sh "$builddir"
run "ipsec-secgw interop" scripts/t_secgw.sh "$builddir"
run "hostile packets and commands (catalogue)" /usr/bin/python3 tests/interop/test_catalogue.py "$builddir"
run "control plane: PFP, events, churn, socket" scripts/t_ctl.sh "$builddir"
run "fuzzers (libFuzzer, ${FUZZ_SECONDS:-30} s each)" scripts/t_fuzz.sh "$builddir-fuzz"
run "sanitizers (ASan+UBSan): unit, CLI, interop, catalogue" scripts/t_asan.sh "$builddir-asan"
run "gateway benchmark harness (smoke, no thresholds)" scripts/bench-gateway.sh "$builddir" --quick
if [ -x "$builddir/bench/bench_micro" ]; then
	run "bench smoke" "$builddir/bench/bench_micro" --benchmark_min_time=0.01 \
		--benchmark_filter='size:64$' --benchmark_format=console
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
