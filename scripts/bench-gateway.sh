#!/usr/bin/env bash
# Gateway throughput: espd against DPDK's ipsec-secgw, one worker core each,
# alternating runs over looped pcaps into net_null, rates from telemetry;
# plus the raw IPsec-MB limit on the same sizes (bench_micro BM_raw_*).
#   scripts/bench-gateway.sh [BUILD_DIR] [--quick]     (default build-gwbench)
# Builds what it needs (espd and bench_micro with meson, ipsec-secgw with
# scripts/build-secgw.sh, pcaps with scapy), prints one table and writes
# bench/results/gateway-DATE.json and bench/results/gateway.png.
# --quick: one round, short windows, fewer cases (a CI smoke, < 60 s once
# built; its JSON goes to BUILD_DIR/bench-gw/). Extra options go to
# bench/bench_gateway.py (--rounds, --warmup,
# --window, --only, --out).
set -eu
cd "$(dirname "$0")/.."
b=build-gwbench
args=()
for a in "$@"; do
	case $a in
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	-*) args+=("$a") ;;
	*) b=$a ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-gateway: run as root (DPDK telemetry, /var/run/dpdk)" >&2; exit 2; }

if [ ! -f "$b/build.ninja" ]; then
	meson setup "$b" -Dbench=enabled -Dtests=disabled >/dev/null
fi
ninja -C "$b" espd bench/bench_micro >/dev/null
scripts/build-secgw.sh "$b"
PYTHONPATH=tests exec /usr/bin/python3 bench/bench_gateway.py "$b" "${args[@]}"
