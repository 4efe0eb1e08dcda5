#!/usr/bin/env bash
# The built-in demo. Sets everything up (scripts/setup.sh), then, live:
#
#   host A --- [gateway A] ==== ESP (AES-GCM-128) over a WAN ==== [gateway B] --- host B
#
# two espd on net_af_packet in network namespaces, a key manager that
# answers each flow's ACQUIRE with an SA pair, a ping and a file moved
# over TCP from host A to host B, and a summary: the SAs, the counters,
# the ESP that tcpdump saw on the WAN. Root is needed (namespaces);
# everything is removed at the end, on Ctrl-C too.
#
#   scripts/demo.sh             the live demo (scripts/demo_live.py)
#   scripts/demo.sh --offline   the pcap walk-through (scripts/demo-offline.sh):
#                               no root networking needed
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}

case "${1:-}" in
--offline) exec scripts/demo-offline.sh ;;
"") ;;
*) echo "usage: scripts/demo.sh [--offline]" >&2; exit 2 ;;
esac

scripts/setup.sh "$builddir"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: the live demo needs root (network namespaces); run it as root," \
		"or scripts/demo.sh --offline" >&2
	exit 1
fi

# The driver runs in the background so that a signal reaches this trap at
# once; the trap asks the driver to tidy up (SIGTERM), then removes
# whatever might still carry its name.
/usr/bin/python3 scripts/demo_live.py "$builddir" &
pid=$!
sweep() {
	local tag ns p
	tag=$(printf 'lv%xn' "$pid")
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$tag" || true); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
}
stop() {
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	sweep
	echo "demo: interrupted; everything removed" >&2
	exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM HUP
rc=0
wait "$pid" || rc=$?
trap - INT TERM HUP
sweep
exit "$rc"
