#!/usr/bin/python3
"""Latency through espd at light load: ICMP echo round trips from host A
to host B through two live gateways (tests/espdtest/topo.py: each an espd
on net_af_packet in its own namespace, keyed by the pair key manager,
AES-GCM-128, one SA per flow). A round trip crosses a gateway four times
(A out, B in, B out, A in). Also (target "gateway") echoes from host A
to gateway A's own LAN address, which a worker hands to lcore 0's
exception path and lcore 0 answers.

  PYTHONPATH=tests /usr/bin/python3 bench/bench_latency.py BUILD_DIR
        [--vs-espd OTHER_BUILD_DIR] [--rounds R] [--count N]
        [--interval S] [--idle poll|adaptive|nap|both|all]
        [--to host|gateway|both] [--ports veth|tap] [--out DIR] [--quick]

Each round starts the topology once per build (BUILD_DIR, then
--vs-espd's, alternating which goes first), warms the flows' SAs up with
three pings, then sends COUNT echo requests INTERVAL apart, one at a
time. The round trip of each is the kernel's receive time stamp of its
reply (SO_TIMESTAMPNS, taken when gwA's worker hands the frame to the
veth, before host A's process runs) less the time just before its
send(): what the gateways and the veths add, and as little of the
sender's scheduling as a userspace probe allows.

--idle: `set worker-idle` of both gateways (default poll: the workers
spin, as on a dedicated core; adaptive sleeps between packets, see
README). `nap` starts them with poll and sets adaptive once they run:
their ports then have no RX queue interrupts, and idle workers nap
(README: on net_af_packet, adaptive and nap are the same). both: poll
and adaptive; all: the three.

--ports tap: both gateways on net_tap ports (topo `taps`), whose RX
queues have interrupts; the hosts are the gateways' namespaces. A lost
echo fails the run (exit 1). Prints a table and writes
latency-DATE.json (every round trip, microseconds) into --out (default
bench/results).

Both gateways' workers share this machine's 2 vCPUs with the kernel's
veth work and the probe, so the tails (p99, max) are the scheduler's;
the medians are the gateways'.
"""

import argparse
import datetime
import json
import os
import random
import socket
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from espdtest.topo import Topo, ns_socket, ping, _csum  # noqa: E402
from espdtest.pairkm import PairKeyManager  # noqa: E402
from bench_common import machine  # noqa: E402

SO_TIMESTAMPNS = 35  # socket.SO_TIMESTAMPNS is missing from older Pythons
TARGETS = {"host": "192.168.2.10",     # host B, through the tunnel (topo.SITE)
           "gateway": "192.168.1.1"}   # gateway A's LAN address


def round_trips(ns, dst, count, interval):
    """@count echo requests from namespace @ns to @dst, @interval apart.
    Returns {seq: round trip in seconds} of those answered."""
    s = ns_socket(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    ident = random.randrange(1, 0xffff)
    body = b"espd-latency" + bytes(44)
    sent, got = {}, {}
    try:
        for i in range(count + 1):
            # Replies to request i mostly arrive in the interval after
            # it; the extra turn waits up to 1 s for the late ones.
            if i < count:
                h = struct.pack("!BBHHH", 8, 0, 0, ident, i)
                h = struct.pack("!BBHHH", 8, 0, _csum(h + body), ident, i)
                sent[i] = time.time()
                s.sendto(h + body, (dst, 0))
            end = time.time() + (interval if i < count else 1.0)
            while i < count or len(got) < count:
                left = end - time.time()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    b, anc, _, _ = s.recvmsg(2048, 64)
                except socket.timeout:
                    break
                ts = None
                for lvl, typ, data in anc:
                    if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", data[:16])
                        ts = sec + nsec * 1e-9
                ihl = (b[0] & 15) * 4
                if len(b) < ihl + 8:
                    continue
                t, _, _, idt, q = struct.unpack("!BBHHH", b[ihl:ihl + 8])
                if t == 0 and idt == ident and q in sent and ts is not None:
                    got[q] = ts - sent[q]
    finally:
        s.close()
    return got


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def measure(build, idle, targets, count, interval, taps=()):
    """One topology on @build with `set worker-idle @idle` (nap: see
    --idle): for each of @targets, the round trips (us) of @count echoes
    and how many went unanswered."""
    extra = "set worker-idle %s" % ("poll" if idle == "nap" else idle)
    out = {}
    with Topo(build=build, extra={"A": extra, "B": extra}, taps=taps) as t:
        if idle == "nap":
            for g in t.gw.values():
                g.ctl("set", "worker-idle", "adaptive")
        km = PairKeyManager.for_topo(t).start()
        try:
            for to in targets:
                warm = ping(t.host("A"), TARGETS[to], count=3, timeout=5)
                if not all(r["reply"] for r in warm):
                    raise RuntimeError("%s: no echo reply from %s while warming up: %s"
                                       % (build, to, warm))
                got = round_trips(t.host("A"), TARGETS[to], count, interval)
                out[to] = ([round(v * 1e6, 1) for _, v in sorted(got.items())],
                           count - len(got))
        finally:
            km.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--vs-espd", default=None,
                    help="another build directory (espd and espctl) measured in the same rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--interval", type=float, default=0.004)
    ap.add_argument("--idle", choices=("poll", "adaptive", "nap", "both", "all"),
                    default="poll")
    ap.add_argument("--ports", choices=("veth", "tap"), default="veth")
    ap.add_argument("--to", choices=("host", "gateway", "both"), default="both")
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="1 round of 100 echoes (CI smoke)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.count = 1, 100
    builds = [os.path.abspath(a.build)] + ([os.path.abspath(a.vs_espd)] if a.vs_espd else [])
    modes = {"both": ("poll", "adaptive"),
             "all": ("poll", "adaptive", "nap")}.get(a.idle, (a.idle,))
    taps = ("A", "B") if a.ports == "tap" else ()
    targets = ("host", "gateway") if a.to == "both" else (a.to,)
    res = {(b, m, to): {"rtt_us": [], "lost": 0} for b in builds for m in modes
           for to in targets}
    info = {"date": datetime.datetime.utcnow().isoformat() + "Z", "machine": machine(),
            "count": a.count, "interval_s": a.interval, "rounds": a.rounds,
            "ports": a.ports}
    for r in range(a.rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        for m in modes:
            for b in order:
                for to, (rtt, lost) in measure(b, m, targets, a.count, a.interval,
                                                  taps).items():
                    res[(b, m, to)]["rtt_us"].append(rtt)
                    res[(b, m, to)]["lost"] += lost
                    print("# round %d %s %s to %s: median %.0f us, %d lost" % (
                        r + 1, b, m, to, statistics.median(rtt) if rtt else -1, lost),
                        flush=True)
    print("ICMP echo from host A: to host B through gwA and gwB (4 gateway crossings a round "
          "trip), to gwA's LAN address (lcore 0 answers); %d x %d echoes, %.0f ms apart; "
          "microseconds, all rounds pooled" % (a.rounds, a.count, a.interval * 1e3))
    print("%-34s %-8s %-7s %6s %6s %6s %6s %6s %5s" % ("build", "idle", "to", "min", "p50",
                                                       "p90", "p99", "max", "lost"))
    rows = []
    for (b, m, to), v in res.items():
        xs = [x for rnd in v["rtt_us"] for x in rnd]
        row = {"build": b, "idle": m, "to": to, "lost": v["lost"], "rounds_us": v["rtt_us"]}
        if xs:
            row.update(min=min(xs), p50=round(statistics.median(xs), 1), p90=pct(xs, .9),
                       p99=pct(xs, .99), max=max(xs),
                       p50_per_round=[round(statistics.median(x), 1) for x in v["rtt_us"] if x])
            print("%-34s %-8s %-7s %6.0f %6.0f %6.0f %6.0f %6.0f %5d" % (
                b[-34:], m, to, row["min"], row["p50"], row["p90"], row["p99"], row["max"],
                v["lost"]))
        rows.append(row)
    if len(builds) == 2:
        for m in modes:
            for to in targets:
                p = [statistics.median(x) for x in res[(builds[0], m, to)]["rtt_us"] if x]
                q = [statistics.median(x) for x in res[(builds[1], m, to)]["rtt_us"] if x]
                if p and q:
                    print("%s, to %s: median of the rounds' median round trips, %s / %s: "
                          "%.2f" % (m, to, builds[0], builds[1],
                                    statistics.median(p) / statistics.median(q)))
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "latency-%s.json" % datetime.date.today().isoformat())
    with open(path, "w") as f:
        json.dump({"info": info, "results": rows}, f)
    print("wrote %s" % path)
    lost = sum(v["lost"] for v in res.values())
    if lost:
        print("FAIL: %d echoes unanswered" % lost)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
