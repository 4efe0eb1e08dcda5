#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs every
# meson test suite (tests/meson.build), one test at a time:
#   unit interop ctl live ike fuzz asan bench
# Prints meson's line per test, the skipped ones by name, and a closing
# "tests: N passed, N failed" (", K skipped" when any were).
# scripts/test.sh unit interop (or SUITES="unit interop") runs only those.
set -uo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}
all="unit interop ctl live ike fuzz asan bench"
usage="usage: scripts/test.sh [SUITE ...]   (SUITE: $all; default all;
       BUILD_DIR=DIR builds there, default build)"

picked=
for a in "$@"; do
	case " $all " in
	*" $a "*) picked="$picked $a" ;;
	*)
		case $a in
		-h | --help) echo "$usage"; exit 0 ;;
		esac
		echo "scripts/test.sh: unknown suite '$a'" >&2
		echo "$usage" >&2
		exit 2
		;;
	esac
done
[ -n "$picked" ] && SUITES=$picked

scripts/setup.sh "$builddir" || { echo "tests: 0 passed, 1 failed"; exit 1; }

args=()
for s in ${SUITES:-$all}; do
	args+=(--suite "$s")
done
meson test -C "$builddir" --num-processes 1 --print-errorlogs "${args[@]}"
rc=$?

# meson's own summary counts skips and expected failures apart; say it
# the way this project always has.
/usr/bin/python3 - "$builddir/meson-logs/testlog.json" <<'EOF'
import json
import sys

passed = failed = 0
skipped = []
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)
        if r.get("result") == "OK":
            passed += 1
        elif r.get("result") == "SKIP":
            skipped.append(r.get("name"))
        else:
            failed += 1
            print("failed: %s (%s)" % (r.get("name"), r.get("result")))
# A skip says why in its log (a missing tool, no BPF): name it here, so
# a suite that did not run is never mistaken for one that passed.
for name in skipped:
    print("skipped: %s (the reason is in meson-logs/testlog.txt)" % name)
print("tests: %d passed, %d failed%s" % (passed, failed,
      ", %d skipped" % len(skipped) if skipped else ""))
EOF
exit "$rc"
