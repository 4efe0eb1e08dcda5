#!/usr/bin/env bash
# Control-plane tests of a live espd (root: network namespaces, veth pairs,
# net_af_packet ports): tests/ctl/test_{pfp,rekey,churn,socket}.py, in that order.
# Usage: scripts/t_ctl.sh [BUILD_DIR]   (default: build)
# Prints each test's closing line and "ctl: N passed, M failed"; exits
# non-zero if any failed. Needs root and Debian's python3-scapy.
set -u
cd "$(dirname "$0")/.."
b=${1:-build}
py=/usr/bin/python3
fail_all() {
	echo "ctl: $1"
	echo "ctl: 0 passed, 1 failed"
	exit 1
}
"$py" -c 'import scapy.layers.ipsec' 2>/dev/null || fail_all "$py has no scapy (apt-get install python3-scapy)"
[ -x "$b/espd" ] && [ -x "$b/espctl" ] || fail_all "no $b/espd or $b/espctl (build first)"
[ "$(id -u)" -eq 0 ] || fail_all "needs root (network namespaces, veth pairs)"
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for t in pfp rekey churn socket; do
	start=$SECONDS
	timeout 300 "$py" "tests/ctl/test_$t.py" "$b" >"$log/$t.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		# Show what failed in full; otherwise only the closing line.
		grep -vE '^PASS ' "$log/$t.out"
		failed=$((failed + 1))
		echo "=== test_$t: FAIL (exit $rc, $((SECONDS - start))s)"
	else
		tail -n 1 "$log/$t.out"
		passed=$((passed + 1))
		echo "=== test_$t: PASS ($((SECONDS - start))s)"
	fi
done
echo "ctl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
