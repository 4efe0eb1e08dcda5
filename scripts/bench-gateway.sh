#!/usr/bin/env bash
# Gateway throughput: espd against DPDK's ipsec-secgw, one worker core each,
# alternating runs over looped pcaps into net_null, rates from telemetry,
# the espd/ipsec-secgw ratio per round and its median; plus the raw
# IPsec-MB limit on the same sizes (bench_micro BM_raw_*).
#   scripts/bench-gateway.sh [BUILD_DIR] [--quick] [--flows N] [--no-huge]
#                                                  (default build-gwbench)
# Builds what it needs (espd and bench_micro with meson, ipsec-secgw with
# scripts/build-secgw.sh, pcaps with scapy), prints one table and writes
# bench/results/gateway-DATE.json and bench/results/gateway.png.
# Both gateways run on 2 MB hugepages, as users run them: hugetlbfs is
# mounted at /dev/hugepages if none is, vm.nr_hugepages raised until 1024
# are free (and left so). If that fails it says so and runs both --no-huge;
# --no-huge forces that. --flows N: distinct UDP 5-tuples (1 to 65536,
# default 1024) in max(1024, N) frames, so by default every frame is its
# own flow. --quick: one round, short windows, fewer cases (a CI smoke, < 60 s
# once built; its JSON goes to BUILD_DIR/bench-gw/). Other options go to
# bench/bench_gateway.py (--rounds R, --warmup S, --window S, --only TEXT,
# --out DIR, --vs-espd ESPD). --floor: dpdk-testpmd forwards the same pcaps
# over the same vdevs each round too; the table adds the harness's cycles a
# packet, the ceiling on espd/ipsec-secgw they leave with the raw crypto,
# and each gateway's own cycles (neither harness nor crypto).
# --engines builtin,aesni_mb,openssl: espd against itself instead, one crypto
# engine against another (builtin = inline IPsec-MB, the others cryptodev
# PMDs through --crypto-dev), alternating; writes engines-DATE.json and
# engines.png (ipsec-secgw is not built or run).
# --workers 1,2,4,8: scaling instead, each gateway with W workers, each
# worker its own RX queue, flows and SA; writes scaling-DATE.json and
# scaling.png. It needs a core per worker plus one (bench/device-kit.sh
# runs it on a bigger machine from static builds). --shared-sa with it:
# one outbound SA for every queue (one tunnel spread over the workers);
# --out-sa shared: espd with `set out-sa shared` (every worker sends
# through that SA itself instead of handing its packets to the owner).
set -eu
cd "$(dirname "$0")/.."
b=build-gwbench
args=()
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	--flows|--rounds|--warmup|--window|--only|--out|--vs-espd|--engines|--workers|--out-sa)
		[ $# -ge 2 ] || { echo "bench-gateway: $1 needs a value" >&2; exit 2; }
		args+=("$1" "$2"); shift ;;
	-*) args+=("$1") ;;
	*) b=$1 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench-gateway: run as root (DPDK telemetry, /var/run/dpdk)" >&2; exit 2; }

if [ ! -f "$b/build.ninja" ]; then
	meson setup "$b" -Dbench=enabled -Dtests=disabled >/dev/null
fi
ninja -C "$b" espd bench/bench_micro >/dev/null
case " ${args[*]-} " in
*" --engines "*) ;;
*) scripts/build-secgw.sh "$b" ;;
esac
PYTHONPATH=tests exec /usr/bin/python3 bench/bench_gateway.py "$b" "${args[@]}"
