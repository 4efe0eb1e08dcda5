#!/usr/bin/python3
"""A/B of bench_pfp part b's traffic on builds side by side.

  PYTHONPATH=tests:bench pfp_ab.py [--sas N] [--rounds R] BUILD_A BUILD_B...

Every build's espd is started and filled with N per-flow SAs (part b's
configuration and pcap, 2 MB hugepages: about 1.1 GB each at 1M SAs),
then all but one are stopped (SIGSTOP). Each round lets each run in turn
for a 1 s window (after 0.3 s) and takes its rate per worker CPU-second.
On a shared machine the others' load drifts over tens of seconds, more
than the difference sought; windows a second apart see nearly the same
load, so the per-round ratios to BUILD_A are steadier than separate runs.
"""

import argparse
import os
import signal
import statistics
import sys

import bench_pfp as b
from bench_common import hugepages_setup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--sas", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=14)
    a = ap.parse_args()
    n = a.sas
    mode, note = hugepages_setup(False, 1200 * len(a.builds) if n >= 100000 else 1024, 512)
    if mode != "hugepages":
        print("no hugepages: %s" % note)
        return 1
    es = []
    try:
        for k, bd in enumerate(a.builds):
            build = os.path.abspath(bd)
            wd = os.path.join(build, "bench-pfp")
            os.makedirs(wd, exist_ok=True)
            pcap = os.path.join(wd, "flows-%d.pcap" % n)
            if not os.path.exists(pcap):
                b.flows_pcap(pcap, n)
            conf = (b.BASE_CONF + "set acquire-queue 1\nset acquire-queue-total 256\n" +
                    b.PFP_POLICY)
            e = b.Espd(build, wd, conf, pcap, mem=4096, max_sas=max(65536, n + n // 10),
                       tag="ab%d_%d" % (n, k), huge=True)
            es.append(e)
            dt, nerr, _ = b.install(e.sock, n)
            print("%s: %d SAs in %.1f s, %d errors" % (bd, n, dt, nerr), flush=True)
            e.rate(0.5, 0.5)
            os.kill(e.p.pid, signal.SIGSTOP)
        res = [[] for _ in es]
        for r in range(a.rounds):
            for k, e in enumerate(es):
                os.kill(e.p.pid, signal.SIGCONT)
                e.rate(0.3, 1.0)
                os.kill(e.p.pid, signal.SIGSTOP)
                res[k].append(e.last_cpu_rate)
            print("round %d: %s" % (r, "  ".join(
                "-" if x[-1] is None else "%.3f" % x[-1] for x in res)), flush=True)
        print("%d SAs, %d rounds, Mpps per worker CPU-second:" % (n, a.rounds))
        for k, bd in enumerate(a.builds):
            v = [x for x in res[k] if x is not None]
            print("  %-40s median %.3f (%.3f-%.3f)" % (bd, statistics.median(v), min(v), max(v)))
            if k == 0:
                continue
            rat = [x / y for x, y in zip(res[k], res[0]) if x is not None and y is not None]
            print("  %-40s ratio to the first, per round: median %.3f (%.3f-%.3f)" % (
                "", statistics.median(rat), min(rat), max(rat)))
    finally:
        for e in es:
            try:
                os.kill(e.p.pid, signal.SIGCONT)
            except OSError:
                pass
            e.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
