#!/usr/bin/python3
"""IKE through kernel-espd: how fast charon makes per-flow CHILD_SAs, and
how long a gateway restart interrupts traffic with and without the
plugin's invalid-spi recovery.

  PYTHONPATH=tests /usr/bin/python3 bench/bench_ike.py BUILD_DIR [--flows N]
        [--ike 1,4] [--rounds R] [--dpd-rounds R]

- CHILD_SAs per second: the live topology of tests/ike (two espd, a
  charon each, `pfp` policies in espd's config). hostA opens N UDP flows
  at once, each its own 5-tuple; every first datagram is held by espd
  during the ACQUIRE and IKE. The rate is N over the time from the first
  send to the last first datagram's arrival at hostB, with all N
  CHILD_SAs on one IKE_SA, or spread over K IKE_SAs (K conns, one per
  destination port, each with its own reqid and identities).
- Restart outage: hostA streams 100 datagrams/s to hostB; gwB's espd and
  charon are killed and started again. The outage is from the kill to
  the first datagram after it, and from "gwB is up again" to it:
  with invalid-spi recovery (the default), and without it
  (invalid_spi_recovery = no), where only DPD (dpd_delay 2 s,
  dpd_action = trap, charon's default retransmits with
  retransmit_timeout 1 s, base 1.4, 4 tries) finds the dead peer.
Prints a table and the JSON of every round (for bench/RESULTS.md).
"""

import argparse
import json
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from espdtest.charon import flows_charon, restart_outage  # noqa: E402
from espdtest.topo import Topo, SITE, WAN4, ns_socket, UdpSink  # noqa: E402

BASE_PORT = 5001


def policies(side, k):
    """espd's `pfp` policies for K conns: reqid 10+i covers UDP to port
    BASE_PORT+i of site B."""
    o = "B" if side == "A" else "A"
    me, peer = SITE[side]["net4"], SITE[o]["net4"]
    lines = []
    for i in range(k):
        port, reqid = BASE_PORT + i, 10 + i
        pa = "dport" if side == "A" else "sport"   # the port on B's side
        pb = "sport" if side == "A" else "dport"
        lines.append("policy add src %s dst %s proto udp %s %d dir out tmpl src %s dst %s "
                     "proto esp reqid %d mode tunnel pfp src,dst,proto,sport,dport" % (
                         me, peer, pa, port, WAN4[side], WAN4[o], reqid))
        lines.append("policy add src %s dst %s proto udp %s %d dir fwd tmpl src %s dst %s "
                     "proto esp reqid %d mode tunnel" % (peer, me, pb, port, WAN4[o],
                                                         WAN4[side], reqid))
    return "\n".join(lines)


def child_rate(build, n, k):
    conns = [("c%d" % i, 10 + i, BASE_PORT + i) for i in range(k)]
    with Topo(build=build, tap={"A": "tapA", "B": "tapB"}, v6=False, policies=False,
              extra={s: policies(s, k) for s in ("A", "B")}) as t:
        ch = {s: flows_charon(t, s, build, conns=conns) for s in ("A", "B")}
        sinks = [UdpSink(t.ns["hB"], BASE_PORT + i) for i in range(k)]
        socks = []
        try:
            for j in range(n):
                s = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((SITE["A"]["host4"], 30000 + j))
                socks.append(s)
            t0 = time.time()
            for j, s in enumerate(socks):
                s.sendto(b"f%d" % j, (SITE["B"]["host4"], BASE_PORT + j % k))
            end = t0 + 120
            while time.time() < end and sum(len(x.got) for x in sinks) < n:
                time.sleep(0.01)
            got = sum(len(x.got) for x in sinks)
            last = max((x.got[-1][0] for x in sinks if x.got), default=None)
            dt = (last - t0) if last else None
            kids = len(ch["A"].child_sas())
            ikes = ch["A"].swanctl("--list-sas").count("ESTABLISHED")
        finally:
            for s in socks:
                s.close()
            for x in sinks:
                x.close()
            for c in ch.values():
                c.stop()
        return {"flows": n, "conns": k, "delivered": got, "seconds": dt,
                "child_sas": kids, "ike_sas": ikes,
                "per_second": (got / dt) if dt else None}


def outages(build, rounds, recovery):
    kw = {} if recovery else {"recovery": False, "dpd_delay": 2}
    res = []
    with Topo(build=build, tap={"A": "tapA", "B": "tapB"}, v6=False) as t:
        ch = {s: flows_charon(t, s, build, **kw) for s in ("A", "B")}
        sink = UdpSink(t.ns["hB"], BASE_PORT)
        try:
            for i in range(rounds):
                r = restart_outage(t, "B", ch, lambda: flows_charon(t, "B", build, **kw),
                                   sink, 43000 + i, timeout=60)
                res.append({"recovery": recovery, "ok": r["ok"],
                            "from_kill_ms": (r["first"] - r["t_kill"]) * 1000
                            if r["first"] else None,
                            "from_up_ms": (r["first"] - r["t_up"]) * 1000
                            if r["first"] else None})
                print("# restart (%s): %s" % ("invalid-spi" if recovery else "DPD only",
                                              res[-1]), flush=True)
                time.sleep(1)
        finally:
            sink.close()
            for c in ch.values():
                c.stop()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--ike", default="1,4")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dpd-rounds", type=int, default=3)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    rates = []
    for k in [int(x) for x in a.ike.split(",")]:
        r = child_rate(build, a.flows, k)
        print("# CHILD_SAs: %s" % r, flush=True)
        rates.append(r)
    rec = outages(build, a.rounds, True)
    dpd = outages(build, a.dpd_rounds, False)
    print()
    print("| IKE_SAs | flows | first datagrams delivered | CHILD_SAs (gwA) | seconds | "
          "CHILD_SAs/s |")
    print("|---|---|---|---|---|---|")
    for r in rates:
        print("| %d | %d | %d | %d | %.2f | %.0f |" % (
            r["conns"], r["flows"], r["delivered"], r["child_sas"], r["seconds"] or 0,
            r["per_second"] or 0))
    print()
    print("| gwB restart healed by | rounds | outage from the kill, median (min-max) ms | "
          "after gwB is up, median (min-max) ms |")
    print("|---|---|---|---|")
    for name, rs in (("invalid-spi recovery", rec), ("DPD only (dpd_delay 2 s)", dpd)):
        k = [r["from_kill_ms"] for r in rs if r["ok"]]
        u = [r["from_up_ms"] for r in rs if r["ok"]]
        if k:
            print("| %s | %d of %d healed | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) |" % (
                name, len(k), len(rs), statistics.median(k), min(k), max(k),
                statistics.median(u), min(u), max(u)))
        else:
            print("| %s | 0 of %d healed | - | - |" % (name, len(rs)))
    print()
    print(json.dumps({"rates": rates, "restart": rec + dpd}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
