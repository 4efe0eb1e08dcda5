#!/usr/bin/env bash
# Soak test (not in CI; needs root): espd on net_af_packet over veth pairs
# into two network namespaces, traffic both ways, and control-plane churn.
#   scripts/soak.sh [--minutes N] [--build DIR] [--report FILE] [--crypto-dev PMD]
#   (defaults: 10 minutes, build, /tmp/soak-report.txt; --crypto-dev
#   aesni_mb runs the crypto on a crypto_aesni_mb vdev, the workers
#   submitting to it asynchronously, with a 64-descriptor queue)
#
#   ns soakA (10.1.0.10) --veth-- [port 0 espd port 1] --veth-- ns soakB
#
#  - soakA sends UDP to 10.2.0.20 on 256 destination ports: a PFP policy
#    (pfp dport) makes one SA per port, installed by tests/espdtest/keymgr.py
#    answering the ACQUIREs; and UDP to 10.2.1.20 through a static SA that
#    is rekeyed (`state update` with new keys) all the time.
#  - soakB sends ESP (scapy, AES-GCM) for a static inbound SA to
#    10.1.0.10; espd decrypts it and sends it into soakA.
#  - Meanwhile SAs and policies are added, updated and deleted in a loop.
# Every 10 s: espd's RSS (/proc/PID/status) and its counters. At the end:
# packets in/out, drops by reason, mempool in use at start and end, RSS
# over time, and any counter that moved although it should not have.
# Exit status 0 when no unexpected counter moved and espd stayed up.
set -u
cd "$(dirname "$0")/.."
minutes=10
b=build
report=/tmp/soak-report.txt
cdev=
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) minutes=$2; shift 2 ;;
	--build) b=$2; shift 2 ;;
	--report) report=$2; shift 2 ;;
	--crypto-dev) cdev=$2; shift 2 ;;
	*) echo "usage: $0 [--minutes N] [--build DIR] [--report FILE] [--crypto-dev PMD]"; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (network namespaces)"; exit 2; }
[ -x "$b/espd" ] || { echo "soak: no $b/espd (build first)"; exit 2; }
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/soak.XXXXXX)
sock=$tmp/espd.sock
ctl() { "$b/espctl" -s "$sock" "$@"; }
pids=()
cleanup() {
	for p in "${pids[@]}" ${keymgr_pid:-}; do kill "$p" 2>/dev/null; done
	[ -n "${espd_pid:-}" ] && kill -TERM "$espd_pid" 2>/dev/null && wait "$espd_pid" 2>/dev/null
	ip netns del soakA 2>/dev/null
	ip netns del soakB 2>/dev/null
	ip link del soak-a1 2>/dev/null
	ip link del soak-b1 2>/dev/null
	rm -rf "/var/run/dpdk/soak$$"
}
trap cleanup EXIT

# ---- network ---------------------------------------------------------------
cleanup
ip netns add soakA && ip netns add soakB || exit 1
ip link add soak-a0 type veth peer name soak-a1
ip link add soak-b0 type veth peer name soak-b1
ip link set soak-a0 netns soakA
ip link set soak-b0 netns soakB
ip link set soak-a0 netns soakA 2>/dev/null
ip netns exec soakA ip link set soak-a0 address 02:00:00:00:0a:10
ip netns exec soakB ip link set soak-b0 address 02:00:00:00:0b:20
for l in soak-a1 soak-b1; do
	ip link set "$l" up
	ethtool -K "$l" tx off rx off >/dev/null 2>&1
	sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1"
done
# No IPv6 in the namespaces: router solicitations and MLD would show up
# as Bypass/TtlExceeded/NoRoute noise in espd's counters.
for n in soakA soakB; do
	ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip netns exec soakA sh -c 'ip link set lo up; ip link set soak-a0 up;
	ip addr add 10.1.0.10/24 dev soak-a0; ip route add 10.2.0.0/16 via 10.1.0.1;
	ip neigh add 10.1.0.1 lladdr 02:00:00:00:01:01 dev soak-a0;
	ethtool -K soak-a0 tx off >/dev/null 2>&1'
ip netns exec soakB sh -c 'ip link set lo up; ip link set soak-b0 up;
	ip addr add 172.16.2.5/24 dev soak-b0;
	ip neigh add 172.16.2.1 lladdr 02:00:00:00:02:01 dev soak-b0'

GCM=0x0102030405060708090a0b0c0d0e0f1011121314
cat >"$tmp/gw.conf" <<CONF
port 0 role protected addr 10.1.0.1/24 mac 02:00:00:00:01:01
port 1 role unprotected addr 172.16.2.1/24 mac 02:00:00:00:02:01
neigh add 10.1.0.10 lladdr 02:00:00:00:0a:10 port 0
route add 10.2.0.0/16 port 1 via 172.16.2.5
neigh add 172.16.2.5 lladdr 02:00:00:00:0b:20 port 1
set acquire-queue 64
# PFP: one SA per destination port, from the key manager.
policy add src 10.1.0.0/24 dst 10.2.0.0/24 proto udp dir out priority 10 \
	tmpl src 172.16.2.1 dst 172.16.2.5 proto esp reqid 10 mode tunnel pfp dport
# A static SA, rekeyed all the time.
state add src 172.16.2.1 dst 172.16.2.5 proto esp spi 0x8001 dir out reqid 20 mode tunnel \
	aead 'rfc4106(gcm(aes))' $GCM 128
policy add src 10.1.0.0/24 dst 10.2.1.0/24 dir out priority 10 \
	tmpl src 172.16.2.1 dst 172.16.2.5 proto esp reqid 20 mode tunnel
# Inbound from soakB, never touched by the churn.
state add src 172.16.2.5 dst 172.16.2.1 proto esp spi 0x9001 dir in reqid 30 mode tunnel \
	replay-window 1024 aead 'rfc4106(gcm(aes))' $GCM 128
policy add src 10.2.0.0/16 dst 10.1.0.0/24 dir fwd priority 10 \
	tmpl src 172.16.2.5 dst 172.16.2.1 proto esp reqid 30 mode tunnel
CONF

"$b/espd" --no-huge --no-pci -l 0,1 -m 1024 --file-prefix "soak$$" \
	--log-level=lib.eal:error \
	--vdev net_af_packet0,iface=soak-a1 --vdev net_af_packet1,iface=soak-b1 \
	${cdev:+--vdev crypto_${cdev}_soak} \
	-- -c "$tmp/gw.conf" -s "$sock" \
	${cdev:+--crypto-dev crypto_${cdev}_soak --crypto-dev-depth 64} >"$tmp/espd.log" 2>&1 &
espd_pid=$!
# Until it answers: the socket file is there a moment before espd listens.
for _ in $(seq 300); do
	ctl -j stats >"$tmp/stats-start.json" 2>/dev/null && break
	kill -0 "$espd_pid" 2>/dev/null || break
	sleep 0.1
done
[ -s "$tmp/stats-start.json" ] || { echo "soak: espd did not start"; cat "$tmp/espd.log"; exit 1; }

# ---- key manager and traffic ---------------------------------------------------
PYTHONPATH=tests $py -m espdtest.keymgr -s "$sock" -b "$b" --via socket >"$tmp/keymgr.log" 2>&1 &
keymgr_pid=$!
# Traffic only once it is subscribed, or the first ACQUIREs go unanswered.
for _ in $(seq 300); do
	grep -q '^keymgr: answering' "$tmp/keymgr.log" && break
	kill -0 "$keymgr_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^keymgr: answering' "$tmp/keymgr.log" ||
	{ echo "soak: the key manager did not start"; cat "$tmp/keymgr.log"; exit 1; }
secs=$((minutes * 60))
ip netns exec soakA $py - "$secs" >"$tmp/trafficA.log" 2>&1 <<'PY' &
import socket, sys, time
end = time.time() + int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
while time.time() < end:
    for i in range(50):
        s.sendto(b"x" * 200, ("10.2.0.20", 20000 + (n % 256)))
        s.sendto(b"y" * 300, ("10.2.1.20", 5001))
        n += 1
    time.sleep(0.05)
print("sent", 2 * n)
PY
pids+=($!)
ip netns exec soakB $py - "$secs" >"$tmp/trafficB.log" 2>&1 <<'PY' &
import sys, time
from scapy.all import conf
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw
sa = SecurityAssociation(ESP, spi=0x9001, crypt_algo="AES-GCM",
                         crypt_key=bytes(range(1, 21)), auth_algo="NULL",
                         tunnel_header=IP(src="172.16.2.5", dst="172.16.2.1"))
s = conf.L2socket(iface="soak-b0")
end = time.time() + int(sys.argv[1])
seq = 0
while time.time() < end:
    for _ in range(20):
        seq += 1
        p = IP(src="10.2.0.20", dst="10.1.0.10") / UDP(sport=5001, dport=6001) / Raw(b"z" * 100)
        s.send(Ether(src="02:00:00:00:0b:20", dst="02:00:00:00:02:01") / sa.encrypt(p, seq_num=seq))
    time.sleep(0.05)
print("sent", seq)
PY
pids+=($!)

# ---- churn ---------------------------------------------------------------------
(
	i=0
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		i=$((i + 1))
		k=$(printf '%040x' $((i * 7919)))
		spi=$(printf '0x%08x' $((0x7000 + i % 64)))
		ctl state update src 172.16.2.1 dst 172.16.2.5 proto esp spi 0x8001 \
			aead 'rfc4106(gcm(aes))' "0x$k" 128 >/dev/null
		ctl state add src 172.16.2.1 dst 172.16.2.5 proto esp spi "$spi" dir out \
			reqid 40 aead 'rfc4106(gcm(aes))' "0x$k" 128 >/dev/null 2>&1
		ctl state add src 172.16.2.5 dst 172.16.2.1 proto esp spi "$spi" dir in \
			reqid 40 aead 'rfc4106(gcm(aes))' "0x$k" 128 >/dev/null 2>&1
		ctl policy add src 10.1.0.0/24 dst 10.3.$((i % 200)).0/24 dir out index $((1000 + i % 50)) \
			tmpl src 172.16.2.1 dst 172.16.2.5 proto esp reqid 40 mode tunnel >/dev/null 2>&1
		if [ $((i % 3)) -eq 0 ]; then
			ctl state del src 172.16.2.1 dst 172.16.2.5 proto esp spi "$spi" >/dev/null 2>&1
			ctl state del src 172.16.2.5 dst 172.16.2.1 proto esp spi "$spi" >/dev/null 2>&1
			ctl policy del index $((1000 + i % 50)) >/dev/null 2>&1
		fi
		# Rekey the PFP SAs too: drop a few; their flows ACQUIRE again.
		if [ $((i % 20)) -eq 0 ]; then
			ctl -j state list | $py -c '
import json, sys
for s in json.load(sys.stdin):
    if s.get("reqid") == 10 and int(s["spi"], 16) % 4 == 0:
        print(s["src"], s["dst"], s["spi"])' | while read -r s d p; do
				ctl state del src "$s" dst "$d" proto esp spi "$p" >/dev/null 2>&1
			done
		fi
		sleep 0.2
	done
	echo "churn rounds $i"
) >"$tmp/churn.log" 2>&1 &
pids+=($!)

# ---- sampling ---------------------------------------------------------------------
: >"$tmp/rss.txt"
start=$SECONDS
while [ $((SECONDS - start)) -lt "$secs" ]; do
	kill -0 "$espd_pid" 2>/dev/null || break
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$espd_pid/status")
	used=$(ctl -j stats | $py -c 'import json,sys; print(json.load(sys.stdin)["mempool"]["in_use"])')
	echo "$((SECONDS - start))s rss ${rss}kB mbufs_in_use $used" >>"$tmp/rss.txt"
	sleep 10
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
kill "$keymgr_pid" 2>/dev/null
wait "$keymgr_pid" 2>/dev/null
# Until the packets in flight are through: port counters that stay put.
prev=
for _ in $(seq 60); do
	cur=$(ctl -j stats 2>/dev/null | $py -c 'import json,sys; print(json.load(sys.stdin)["ports"])')
	[ "$cur" = "$prev" ] && break
	prev=$cur
	sleep 0.5
done
alive=1
kill -0 "$espd_pid" 2>/dev/null || alive=0
ctl -j stats >"$tmp/stats-end.json" 2>/dev/null
ctl -j state count >"$tmp/count.json" 2>/dev/null

$py - "$tmp" "$minutes" "$alive" >"$report" <<'PY'
import json, os, sys
tmp, minutes, alive = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.path.insert(0, "tests")
from espdtest.run import DROP_COUNTERS
s0 = json.load(open(os.path.join(tmp, "stats-start.json")))
try:
    s1 = json.load(open(os.path.join(tmp, "stats-end.json")))
except Exception:
    s1 = None
print("espd soak: %s minute(s), espd %s" % (minutes, "alive" if alive else "DIED"))
for f in ("trafficA.log", "trafficB.log", "churn.log"):
    print("%-13s %s" % (f, open(os.path.join(tmp, f)).read().strip().splitlines()[-1:]))
bad = []
if s1:
    g = s1["global"]
    ports = {p["id"]: p for p in s1["ports"]}
    print("port 0 (protected):   rx %(rx)d tx %(tx)d drop %(drop)d" % ports[0])
    print("port 1 (unprotected): rx %(rx)d tx %(tx)d drop %(drop)d" % ports[1])
    for k in ("Protect", "Bypass", "AcquireSent", "AcquireHeld", "AcquireHeldReleased",
              "PfpFlows", "InvalidSpiEvents"):
        print("%-24s %d" % (k, g.get(k, 0)))
    print("drops by reason:")
    for k in DROP_COUNTERS:
        if g.get(k, 0):
            print("  %-22s %d" % (k, g[k]))
    # Expected to move: held packets dropped when a new flow's queue fills
    # before the key manager answers (AcquireHeldDropped); and soakB's
    # kernel answers the ESP it cannot decrypt with ICMP unreachable to
    # espd's own address, which goes to the exception path and, with no
    # `tap` configured, is dropped there (TapDropped, about one per
    # second: the kernel rate-limits it), as are the namespaces' IPv6
    # multicast (MLD, router solicitations) to espd.
    allowed = {"AcquireHeldDropped", "TapDropped"}
    bad = [k for k in DROP_COUNTERS if g.get(k, 0) and k not in allowed]
    print("mempool in use: start %d, end %d (of %d)" % (
        s0["mempool"]["in_use"], s1["mempool"]["in_use"], s1["mempool"]["size"]))
    print("acquire pending at end: %s" % s1.get("acquire_pending"))
print("RSS over time:")
for l in open(os.path.join(tmp, "rss.txt")):
    print("  " + l.rstrip())
print("unexpected counters: %s" % (", ".join("%s=%d" % (k, s1["global"][k]) for k in bad)
                                    if bad else "none"))
sys.exit(0 if alive and s1 and not bad else 1)
PY
rc=$?
cat "$report"
echo "soak: report in $report (logs in $tmp)"
exit $rc
