#!/usr/bin/env bash
# The offline demo (scripts/demo.sh --offline): set everything up, then
# run two espd gateways back to back over pcap files (no NIC, no
# hugepages, no root networking needed):
#
#   site A --plain--> [gateway A] --ESP (AES-GCM-128)--> [gateway B] --plain--> site B
#
# Gateway A encrypts site A's packets with examples/gateway-a.conf; gateway
# B decrypts them with examples/gateway-b.conf; the script checks that
# what reaches site B is what site A sent, and shows both gateways'
# counters.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}
scripts/setup.sh "$builddir"

d="$builddir/demo"
mkdir -p "$d"
rm -f "$d"/*.pcap "$d"/*.json
/usr/bin/python3 scripts/demo_traffic.py make "$d" 3000

eal=(--no-huge --no-pci -l 0,1 -m 512 --log-level=lib.eal:error --log-level=lib.telemetry:error
	--log-level=pmd.net.pcap:error)
echo "== gateway A: site A's plaintext in on port 0, ESP out on port 1"
"$builddir/espd" "${eal[@]}" --file-prefix demo-a \
	--vdev "net_pcap0,rx_pcap=$d/site-a.pcap,tx_pcap=$d/a-port0.pcap" \
	--vdev "net_pcap1,rx_pcap=$d/empty.pcap,tx_pcap=$d/wire.pcap" \
	-- -c examples/gateway-a.conf --exit-idle 500 --stats-json "$d/a.json"
echo "== gateway B: ESP in on port 1, site B's plaintext out on port 0"
"$builddir/espd" "${eal[@]}" --file-prefix demo-b \
	--vdev "net_pcap0,rx_pcap=$d/empty.pcap,tx_pcap=$d/site-b.pcap" \
	--vdev "net_pcap1,rx_pcap=$d/wire.pcap,tx_pcap=$d/b-port1.pcap" \
	-- -c examples/gateway-b.conf --exit-idle 500 --stats-json "$d/b.json"

/usr/bin/python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
for gw in ("a", "b"):
    s = json.load(open(f"{d}/{gw}.json"))
    nonzero = {k: v for k, v in s["global"].items() if v}
    print(f"gateway {gw.upper()}: counters {nonzero}")
    for p in s["ports"]:
        print(f"  port {p['id']}: rx {p['rx']} tx {p['tx']} drop {p['drop']}")
    for sa in s["sas"]:
        print(f"  SA {sa['spi']} {sa['dir']}: {sa['packets']} packets, "
              f"{sa['bytes']} bytes, last seq {sa['seq']}")
PY
/usr/bin/python3 scripts/demo_traffic.py check "$d"
echo "demo: the ESP on the wire is in $d/wire.pcap (tcpdump -r $d/wire.pcap)"
