#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan + libFuzzer, in their
# own build directory) and run each one for a bounded time over its seed
# corpus (tests/fuzz/corpus/TARGET). The three targets run side by side.
#   scripts/t_fuzz.sh [BUILD_DIR]     (default: build-fuzz)
#   FUZZ_SECONDS=N (default 30): time per target
#   FUZZ_TARGETS="fuzz_cmd ..." (default: all three)
# New inputs go to a scratch copy of the corpus, never into the tree; a
# crash leaves its reproducer as BUILD_DIR/fuzz-out/TARGET/crash-* and the
# log as BUILD_DIR/fuzz-out/TARGET.log. Prints one line per target and
# "fuzz: N passed, M failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
b=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-"fuzz_esp_in fuzz_cmd fuzz_ctl"}
passed=0
failed=0

if ! command -v clang >/dev/null; then
	echo "fuzz: clang not found (apt-get install clang llvm, or scripts/setup.sh)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
if [ ! -f "$b/build.ninja" ]; then
	CC=clang CXX=clang++ meson setup "$b" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized \
		"-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
		-Dtests=disabled -Dbench=disabled >"$b.setup.log" 2>&1 || {
		cat "$b.setup.log"
		echo "fuzz: 0 passed, 1 failed"
		exit 1
	}
	rm -f "$b.setup.log"
fi
if ! ninja -C "$b" tests/fuzz/fuzz_esp_in tests/fuzz/fuzz_cmd tests/fuzz/fuzz_ctl >"$b/fuzz-build.log" 2>&1; then
	tail -n 30 "$b/fuzz-build.log"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
out=$b/fuzz-out
rm -rf "$out"
mkdir -p "$out"
declare -A pid
for t in $targets; do
	mkdir -p "$out/$t/corpus"
	cp tests/fuzz/corpus/"$t"/* "$out/$t/corpus/" 2>/dev/null
	(
		cd "$out/$t" &&
		FUZZ_EAL_PREFIX="tfuzz$$_$t" exec "../../tests/fuzz/$t" \
			-max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
			-max_len=4096 -print_final_stats=1 corpus \
			>"../$t.log" 2>&1
	) &
	pid[$t]=$!
done
for t in $targets; do
	wait "${pid[$t]}"
	rc=$?
	rm -rf "/var/run/dpdk/tfuzz$$_$t"
	stats=$(grep -E '^#[0-9]+.*DONE' "$out/$t.log" | tail -n 1 |
		sed -E 's/^#([0-9]+).*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/runs \1, cov \2, ft \3, corpus \4/')
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS $t (${secs}s: $stats)"
	else
		failed=$((failed + 1))
		echo "FAIL $t (exit $rc); log $out/$t.log, reproducer:" \
			"$(ls "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* "$out/$t"/oom-* 2>/dev/null | head -n 1)"
		grep -E 'ERROR|SUMMARY|runtime error|fuzz(_ctl)?:' "$out/$t.log" | head -n 5 | sed 's/^/     /'
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
