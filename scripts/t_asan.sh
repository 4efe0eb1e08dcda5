#!/usr/bin/env bash
# The whole project under AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc), in its own build directory: the meson suites unit and interop
# (less the ipsec-secgw one) with that build's espd. Any sanitizer report
# fails the run (abort_on_error, halt_on_error, and a scan of the logs).
#   scripts/t_asan.sh [BUILD_DIR]     (default: build-asan)
# LeakSanitizer suppressions: tests/fuzz/lsan.supp (see there why).
# Prints one line per test and "asan: PASS" or "asan: FAIL".
set -u
cd "$(dirname "$0")/.."
b=${1:-build-asan}

if [ ! -f "$b/build.ninja" ]; then
	meson setup "$b" -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized -Dtests=enabled -Dbench=disabled \
		>"$b.setup.log" 2>&1 || {
		cat "$b.setup.log"
		echo "asan: FAIL (setup)"
		exit 1
	}
	rm -f "$b.setup.log"
fi
if ! ninja -C "$b" >"$b/asan-build.log" 2>&1; then
	tail -n 30 "$b/asan-build.log"
	echo "asan: FAIL (build)"
	exit 1
fi

supp=$(pwd)/tests/fuzz/lsan.supp
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$supp:print_suppressions=0

start=$SECONDS
meson test -C "$b" --num-processes 1 --suite unit --suite interop --no-suite secgw \
	>"$b/asan-test.log" 2>&1
rc=$?
log="$b/meson-logs/testlog.txt"
if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
	grep -E '^ *[0-9]+/[0-9]+ ' "$b/asan-test.log" | sed 's/^ */     /'
	echo "asan: PASS ($((SECONDS - start))s)"
	exit 0
fi
grep -E '^ *[0-9]+/[0-9]+ ' "$b/asan-test.log" | sed 's/^ */     /'
grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:|^FAIL' "$log" | head -n 60 |
	sed 's/^/     /'
echo "asan: FAIL (exit $rc, $((SECONDS - start))s; log $log)"
exit 1
