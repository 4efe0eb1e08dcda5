#!/usr/bin/env bash
# PFP at scale: new-flow setup rate through the control socket (ACQUIRE ->
# SA -> first encrypted packet, live veth pairs in a namespace of its own),
# the socket's SA install rate, throughput with 1, 1k, 100k and 1M per-flow
# SAs, memory per SA, and throughput with 10 and 100k SPD policies.
#   scripts/bench-pfp.sh [BUILD_DIR] [--quick]        (default build-gwbench)
# Prints a table and writes bench/results/pfp-DATE.json (--quick: into
# BUILD_DIR/bench-pfp/). Needs root (netns,
# veth, DPDK telemetry) and ~6 GiB of free memory for the 1M-SA runs.
# Extra options go to bench/bench_pfp.py (--skip a,b,c,d, --out DIR).
set -eu
cd "$(dirname "$0")/.."
b=build-gwbench
args=()
for a in "$@"; do
	case $a in
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	-*) args+=("$a") ;;
	*) b=$a ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-pfp: run as root (netns, veth, telemetry)" >&2; exit 2; }
if [ ! -f "$b/build.ninja" ]; then
	meson setup "$b" -Dbench=enabled -Dtests=disabled >/dev/null
fi
ninja -C "$b" espd bench/pfp_setup bench/mem_probe >/dev/null
PYTHONPATH=tests exec /usr/bin/python3 bench/bench_pfp.py "$b" "${args[@]}"
