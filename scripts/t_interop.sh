#!/usr/bin/env bash
# Interop and negative tests of espd over pcap vdevs, against scapy's ESP:
# tests/interop/test_{scapy,negative,workers,badconfig}.py, in that order.
# Usage: scripts/t_interop.sh [BUILD_DIR]   (default: build)
# Prints each test's closing line and "interop: N passed, N failed";
# exits non-zero if any failed. Needs Debian's python3-scapy (/usr/bin/python3).
set -u
cd "$(dirname "$0")/.."
b=${1:-build}
py=/usr/bin/python3
if ! "$py" -c 'import scapy.layers.ipsec' 2>/dev/null; then
	echo "interop: $py has no scapy (apt-get install python3-scapy)"
	echo "interop: 0 passed, 1 failed"
	exit 1
fi
if [ ! -x "$b/espd" ]; then
	echo "interop: no $b/espd (build first)"
	echo "interop: 0 passed, 1 failed"
	exit 1
fi
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for t in scapy negative workers badconfig; do
	start=$SECONDS
	"$py" "tests/interop/test_$t.py" "$b" >"$log/$t.out" 2>&1
	rc=$?
	# Show what failed in full; otherwise only the closing line.
	if [ "$rc" -ne 0 ]; then
		grep -vE '^(PASS|XPASS) ' "$log/$t.out"
		failed=$((failed + 1))
		echo "=== test_$t: FAIL (exit $rc, $((SECONDS - start))s)"
	else
		grep -E '^XFAIL |known failures' "$log/$t.out"
		tail -n 1 "$log/$t.out"
		passed=$((passed + 1))
		echo "=== test_$t: PASS ($((SECONDS - start))s)"
	fi
done
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
