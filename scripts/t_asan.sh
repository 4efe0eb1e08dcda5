#!/usr/bin/env bash
# The whole project under AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc), in its own build directory: the CUnit suites, then the pcap
# interop tests (scripts/t_interop.sh) with that build's espd. Any
# sanitizer report fails the run (abort_on_error, halt_on_error).
#   scripts/t_asan.sh [BUILD_DIR]     (default: build-asan)
# LeakSanitizer suppressions: tests/fuzz/lsan.supp (see there why).
# Prints one line per step and "asan: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
b=${1:-build-asan}
passed=0
failed=0

if [ ! -f "$b/build.ninja" ]; then
	meson setup "$b" -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized -Dtests=enabled -Dbench=disabled \
		>"$b.setup.log" 2>&1 || {
		cat "$b.setup.log"
		echo "asan: 0 passed, 1 failed"
		exit 1
	}
	rm -f "$b.setup.log"
fi
if ! ninja -C "$b" >"$b/asan-build.log" 2>&1; then
	tail -n 30 "$b/asan-build.log"
	echo "asan: 0 passed, 1 failed"
	exit 1
fi

supp=$(pwd)/tests/fuzz/lsan.supp
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$supp:print_suppressions=0

step() {	# step NAME CMD...: PASS unless it fails or a sanitizer spoke
	local name=$1 log rc
	shift
	log=$(mktemp)
	start=$SECONDS
	"$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
		passed=$((passed + 1))
		echo "PASS $name ($((SECONDS - start))s)"
	else
		failed=$((failed + 1))
		echo "FAIL $name (exit $rc, $((SECONDS - start))s)"
		grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:|^FAIL|failed' "$log" |
			head -n 40 | sed 's/^/     /'
	fi
	rm -f "$log"
}

step "unit (CUnit) under ASan+UBSan" "$b/tests/test_unit"
step "espd/espctl command lines under ASan+UBSan" scripts/t_cli.sh "$b"
step "pcap interop under ASan+UBSan" scripts/t_interop.sh "$b"
if [ -f tests/interop/test_catalogue.py ]; then
	step "hostile packet and command catalogue under ASan+UBSan" \
		/usr/bin/python3 tests/interop/test_catalogue.py "$b"
fi
echo "asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
