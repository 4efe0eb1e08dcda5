#!/usr/bin/env bash
# Interop with DPDK's own examples/ipsec-secgw as the peer gateway, over
# pcap vdevs, for several algorithms and both modes (IPv4):
#   a. plaintext -> espd -> ESP -> ipsec-secgw -> plaintext
#   b. plaintext -> ipsec-secgw -> ESP -> espd -> plaintext
# Every case's SAs live in one config, so there are two espd runs (one per
# direction) and one ipsec-secgw run per ipsec-secgw data path (its own
# ESP code; librte_ipsec with -l; and that with ESN, -e), each doing both
# directions.
# The cases and the comparison are in tests/espdtest/secgw.py.
#   tests/interop/test_secgw.sh [BUILD_DIR]     (KEEP=1 keeps the work directory)
set -u
b=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
export PYTHONPATH="$root/tests${PYTHONPATH:+:$PYTHONPATH}"
helper=(-m espdtest.secgw)

espd="$b/espd"
sgw="$b/ipsec-secgw"
[ -x "$espd" ] || { echo "test_secgw: no $espd; build espd first" >&2; exit 1; }
"$root/scripts/build-secgw.sh" "$b" || exit 1

tmp=$(mktemp -d /tmp/test_secgw.XXXXXX)
tag="tsecgw$$"
pid=
# shellcheck disable=SC2317  # called through the trap
cleanup() {
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "/var/run/dpdk/$tag"-*
	if [ "${KEEP:-0}" = 1 ]; then
		echo "test_secgw: work directory $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eal_espd=(--no-huge --no-pci -l "0,1" -m 512 --log-level=lib.eal:error)

# run_espd NAME RX0 RX1: one espd run; outputs espd-NAME-out{0,1}.pcap.
run_espd() {
	local n=$1 rx0=$2 rx1=$3
	timeout -s INT 60 "$espd" "${eal_espd[@]}" --file-prefix "$tag-espd-$n" \
		--vdev "net_pcap0,rx_pcap=$rx0,tx_pcap=$tmp/espd-$n-out0.pcap" \
		--vdev "net_pcap1,rx_pcap=$rx1,tx_pcap=$tmp/espd-$n-out1.pcap" \
		-- -c "$tmp/espd.conf" -s "$tmp/espd-$n.sock" --exit-idle 1000 \
		--stats-json "$tmp/espd-$n-stats.json" >"$tmp/espd-$n.log" 2>&1 ||
		{ echo "test_secgw: espd run $n failed:" >&2; tail -n 5 "$tmp/espd-$n.log" >&2; }
}

# run_secgw MODE NRX0 NRX1 NTX [EXTRA OPTIONS]: one ipsec-secgw run with
# plaintext on port 0 (protected) and espd's ESP on port 1 (unprotected).
# It has no exit-on-idle: wait on telemetry for the counts, then SIGINT
# (net_pcap writes its files on close).
run_secgw() {
	local m=$1 nrx0=$2 nrx1=$3 ntx=$4
	shift 4
	local p=$tag-sgw-$m q tx0='' tx1=''
	# One TX queue per lcore and one more: a tx_pcap for each.
	for q in 0 1 2; do
		tx0+=",tx_pcap=$tmp/secgw-$m-p0q$q.pcap"
		tx1+=",tx_pcap=$tmp/secgw-$m-p1q$q.pcap"
	done
	timeout -s INT 60 "$sgw" -l 0,1 -n 1 --no-huge -m 512 --no-pci \
		--file-prefix "$p" --log-level=lib.eal:error \
		--vdev "net_pcap0,rx_pcap=$tmp/plain_b-$m.pcap$tx0" \
		--vdev "net_pcap1,rx_pcap=$tmp/esp_a.pcap$tx1" \
		--vdev "crypto_aesni_mb_$m" \
		-- -p 0x3 -P -u 0x2 --config '(0,0,1),(1,0,1)' \
		-f "$tmp/secgw-$m.cfg" --rxoffload 0 --txoffload 0 "$@" \
		>"$tmp/secgw-$m.log" 2>&1 &
	pid=$!
	if ! "$py" "${helper[@]}" wait "/var/run/dpdk/$p/dpdk_telemetry.v2" \
			"$nrx0" "$nrx1" "$ntx" 30; then
		echo "test_secgw: ipsec-secgw ($m) did not pass all packets in time" >&2
	fi
	kill -INT "$pid" 2>/dev/null
	if ! wait "$pid"; then
		echo "test_secgw: ipsec-secgw ($m) failed:" >&2
		tail -n 5 "$tmp/secgw-$m.log" >&2
	fi
	pid=
}

"$py" "${helper[@]}" gen "$tmp" || exit 1
count() { "$py" -c "import json,sys; print(eval(sys.argv[2], json.load(open(sys.argv[1]))))" "$tmp/cases.json" "$1"; }
n_a=$(count n_a)

# a. espd encrypts every case's plaintext.
run_espd a "$tmp/plain_a.pcap" "$tmp/empty.pcap"
cp "$tmp/espd-a-out1.pcap" "$tmp/esp_a.pcap" 2>/dev/null || cp "$tmp/empty.pcap" "$tmp/esp_a.pcap"

# a+b. ipsec-secgw decrypts espd's ESP and encrypts its own plaintext.
run_secgw legacy "$(count "n_b['legacy']")" "$n_a" \
	"$(count "n_b['legacy'] + n_a_mode['legacy']")"
run_secgw lib "$(count "n_b['lib']")" "$n_a" \
	"$(count "n_b['lib'] + n_a_mode['lib']")" -l
run_secgw lib-esn "$(count "n_b['lib-esn']")" "$n_a" \
	"$(count "n_b['lib-esn'] + n_a_mode['lib-esn']")" -l -e -w 64

# b. espd decrypts ipsec-secgw's ESP.
"$py" "${helper[@]}" merge "$tmp/esp_b.pcap" "$tmp"/secgw-*-p1q*.pcap
run_espd b "$tmp/empty.pcap" "$tmp/esp_b.pcap"

"$py" "${helper[@]}" check "$tmp"
rc=$?
[ $rc -eq 0 ] || KEEP=1
exit $rc
