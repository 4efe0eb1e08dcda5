#!/usr/bin/python3
"""More than one worker lcore gives the same results as one.

The scapy interop run (tests/interop/test_scapy.py) three times:
  1. one worker, one RX queue per port (the reference);
  2. two workers (lcores 1 and 2 share CPU 1), one RX queue per port:
     each worker polls one port and both send on the ports' one shared
     TX queue;
  3. two workers, two RX queues per port (two rx_pcap files each), each
     case's packets on one queue as RSS would put them.
Every case must pass each time, and the counters (global, per port, per
SA) must be the same as the reference's. Last, a port asking for more
queues than net_pcap offers must stop espd at start with a clear error
and exit status 1. And `--mbufs N` sizes the mbuf pool: espd says how
many it made.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_workers.py [BUILD_DIR]

Prints a line per check, then "workers: N passed, M failed".
"""

import re
import sys

from espdtest.run import Espd, Report
from espdtest.interop import interop, conf_head

TWO_WORKERS = "0@0,1@1,2@1"   # lcore 0 control, lcores 1 and 2 workers


def summary(run):
    """The counters that must not depend on the number of workers."""
    s = run.stats
    sas = {(a["spi"], a["dir"]): (a["packets"], a["bytes"], a["replay_drops"],
                                  a["icv_failures"], a["seq"]) for a in s["sas"]}
    ports = {p["id"]: (p["rx"], p["tx"], p["drop"]) for p in s["ports"]}
    return s["global"], ports, sas


def diff(ref, got):
    out = []
    for name, a, b in zip(("global", "ports", "sas"), ref, got):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                out.append("%s %s: %s, reference %s" % (name, k, b.get(k), a.get(k)))
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    rep = Report("workers")

    def report(ok, name, why=()):
        rep.check(ok, name, *list(why)[:20])

    p, f, ref = interop(build, lcores="0,1", verbose=False, label="1 worker")
    report(f == 0, "1 worker, 1 queue per port: %d cases pass, %d fail" % (p, f))
    ref_sum = summary(ref) if ref.stats else None

    for lc, q, name in ((TWO_WORKERS, 1, "2 workers, 1 queue per port"),
                        (TWO_WORKERS, 2, "2 workers, 2 queues per port")):
        p, f, run = interop(build, lcores=lc, queues=q, verbose=False, label=name)
        why = []
        if run.stats is None:
            why.append("no stats")
        else:
            if "2 worker(s)" not in run.stdout:
                why.append("espd says: %r" % run.stdout.strip())
            if ref_sum is not None:
                why += diff(ref_sum, summary(run))
        report(f == 0, "%s: %d cases pass, %d fail" % (name, p, f))
        report(not why, "%s: counters identical to 1 worker" % name, why)

    # net_pcap with one rx_pcap offers one RX queue.
    espd = Espd(build=build, timeout=30)
    run = espd.run(conf_head(1, 2), [[], []], lcores=TWO_WORKERS)
    why = []
    if run.rc != 1:
        why.append("exit %s, want status 1" % run.describe_rc())
    if not re.search(r"port 1: 2 queues asked, the device offers 1", run.stderr):
        why.append("stderr does not say so: %r" % run.stderr.strip()[-300:])
    report(not why, "queues 2 on a one-queue port: start-up error, exit 1", why)

    # --mbufs: the pool espd reports at start is the one asked for.
    espd = Espd(build=build, timeout=30)
    run = espd.run(conf_head(), [[], []], extra_args=["--mbufs", "40000"])
    why = []
    if run.rc != 0:
        why.append("exit %s: %r" % (run.describe_rc(), run.stderr.strip()[-300:]))
    if not re.search(r"\b40000 mbufs\b", run.stdout):
        why.append("espd says: %r" % run.stdout.strip())
    report(not why, "--mbufs 40000: a pool of 40000 mbufs", why)

    return rep.close()


if __name__ == "__main__":
    sys.exit(main())
