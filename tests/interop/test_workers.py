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
SA) must be the same as the reference's; a fourth run is the third with
`set out-sa shared`. Then one SA whose flows RSS spread over both
queues: one worker owns it, the other hands it its packets (SaHandoff),
and every packet leaves with its own sequence number, 1 to N; with `set
out-sa shared` both workers send through it, nothing is handed off, and
the numbers are again 1 to N once each. Then `set out-sa` switched 40
times over the socket while both workers forward that SA's traffic
flat out (`infinite_rx`): every switch answered, no packet held for an
ACQUIRE or lost to an ESP error, espd stopping cleanly. Last, a port
asking for more
queues than net_pcap offers must stop espd at start with a clear error
and exit status 1. And `--mbufs N` sizes the mbuf pool: espd says how
many it made.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_workers.py [BUILD_DIR]

Prints a line per check, then "workers: N passed, M failed".
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from espdtest.run import Espd, Report, ctl_request, default_build, stop_process, wrpcap_list
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


def handoff(build, report, shared=False):
    """One outbound SA, its 400 packets alternating between the two RX
    queues of the protected port (two workers): one worker sends them
    all, each with a sequence number of its own; with @shared (`set
    out-sa shared`) each worker sends its own, numbered from one
    counter."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.ipsec import ESP

    conf = conf_head(2, 1) + ("set out-sa shared\n" if shared else "") + (
        "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777 dir out reqid 77 "
        "mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
        "policy add src 10.1.77.0/24 dst 10.2.77.0/24 dir out "
        "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 77 mode tunnel\n")
    n = 400
    frames = [Ether(dst="02:00:00:00:01:01", src="02:00:00:00:01:fe") /
              IP(src="10.1.77.%d" % (1 + i % 50), dst="10.2.77.9") /
              UDP(sport=20000 + i, dport=5001) / ("x" * 20) for i in range(n)]
    run = Espd(build=build, timeout=60).run(
        conf, [{"queues": [frames[0::2], frames[1::2]]}, []], lcores=TWO_WORKERS)
    why = []
    seqs = []
    for pkt in run.out[1] if run.out else []:
        if ESP in pkt and pkt[ESP].spi == 0x7777:
            seqs.append(pkt[ESP].seq)
    if run.stats is None:
        why.append("no stats: %s" % run.describe_rc())
    if sorted(seqs) != list(range(1, n + 1)):
        why.append("%d ESP packets out, sequence numbers %s..." % (len(seqs), sorted(seqs)[:8]))
    hand = run.counter("SaHandoff") if run.stats else 0
    if shared and hand != 0:
        why.append("SaHandoff %s, want 0 (out-sa shared)" % hand)
    if not shared and not 0 < hand < n:
        why.append("SaHandoff %s, want between 1 and %d" % (hand, n - 1))
    if run.stats and run.counter("SaHandoffDropped"):
        why.append("SaHandoffDropped %s" % run.counter("SaHandoffDropped"))
    sa = [a for a in run.stats["sas"] if int(str(a["spi"]), 0) == 0x7777] if run.stats else []
    if not sa or sa[0]["packets"] != n:
        why.append("SA 0x7777's packet count %s, want %d" % (sa[0]["packets"] if sa else None, n))
    report(not why, "one SA over 2 queues: %s, %d handed off, seq 1..%d once each"
           % ("every worker sends (out-sa shared)" if shared else "one owner", hand, n), why)


def switch_under_load(build, report, switches=40):
    """`set out-sa` switched back and forth while two workers send one
    SA's traffic as fast as they can: each switch makes the SA a new
    record (publish.c out_sa_remake), and a worker whose cache still
    names the old one mid-burst must send through the new one, not hold
    the packet for an ACQUIRE (the defect this found) or drop it."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    build = os.path.abspath(build or default_build())
    wd = tempfile.mkdtemp(prefix="espd-switch-")
    prefix = "espdsw%d" % os.getpid()
    conf = conf_head(2, 1) + (
        "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777 dir out reqid 77 "
        "mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128\n"
        "policy add src 10.1.77.0/24 dst 10.2.77.0/24 dir out "
        "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 77 mode tunnel\n")
    with open(os.path.join(wd, "gw.conf"), "w") as f:
        f.write(conf)
    rx = ""
    for q in range(2):
        frames = [Ether(dst="02:00:00:00:01:01", src="02:00:00:00:01:fe") /
                  IP(src="10.1.77.%d" % (1 + i), dst="10.2.77.9") /
                  UDP(sport=20000 + q * 100 + i, dport=5001) / ("x" * 20) for i in range(64)]
        path = os.path.join(wd, "in%d.pcap" % q)
        wrpcap_list(path, frames)
        rx += ",rx_pcap=" + path
    sock = os.path.join(wd, "espd.sock")
    stats = os.path.join(wd, "stats.json")
    cmd = [os.path.join(build, "espd"), "--no-huge", "--no-pci", "--lcores", TWO_WORKERS,
           "-m", "512", "--file-prefix", prefix, "--log-level=lib.eal:error",
           "--vdev", "net_pcap0%s,infinite_rx=1" % rx, "--vdev", "net_null0,no-rx=1",
           "--", "-c", os.path.join(wd, "gw.conf"), "-s", sock, "--stats-json", stats]
    why = []
    err_path = os.path.join(wd, "stderr")
    with open(err_path, "w") as err_file:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
    answered = 0
    try:
        # Up once its socket answers (slow under ASan on a loaded machine).
        for _ in range(300):
            try:
                ctl_request(sock, ["stats"], json_out=False)
                break
            except Exception:  # not there yet
                if p.poll() is not None:
                    break
                time.sleep(0.1)
        time.sleep(0.5)
        for i in range(switches):
            try:
                ctl_request(sock, ["set", "out-sa", "shared" if i % 2 == 0 else "owner"],
                            json_out=False)
                answered += 1
            except Exception as e:  # CtlError, or the socket gone
                why.append("switch %d: %s" % (i, e))
                break
            time.sleep(0.05)
    finally:
        stop_process(p, timeout=30)
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
    if p.returncode != 0:
        with open(err_path) as f:
            why.append("espd exit %s: %s" % (p.returncode, f.read().strip()[-300:]))
    s = None
    if os.path.exists(stats):
        with open(stats) as f:
            s = json.load(f)
    shutil.rmtree(wd, ignore_errors=True)
    if s is None:
        why.append("no stats")
    else:
        g = s["global"]
        for name in ("AcquireHeld", "AcquireHeldDropped", "XfrmOutError",
                     "XfrmOutStateProtoError", "XfrmOutStateSeqError", "XfrmOutNoStates"):
            if g.get(name):
                why.append("%s %d" % (name, g[name]))
        sa = [a for a in s["sas"] if int(str(a["spi"]), 0) == 0x7777]
        if not sa or sa[0]["packets"] < 10000:
            why.append("SA 0x7777 sent %s packets" % (sa[0]["packets"] if sa else None))
    report(not why, "set out-sa switched %d times under load: %d answered, nothing held "
           "or lost%s" % (switches, answered, ", %d sent" % sa[0]["packets"]
                          if s is not None and sa else ""), why)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    rep = Report("workers")

    def report(ok, name, why=()):
        rep.check(ok, name, *list(why)[:20])

    p, f, ref = interop(build, lcores="0,1", verbose=False, label="1 worker")
    report(f == 0, "1 worker, 1 queue per port: %d cases pass, %d fail" % (p, f))
    ref_sum = summary(ref) if ref.stats else None

    for lc, q, name, settings in (
            (TWO_WORKERS, 1, "2 workers, 1 queue per port", ""),
            (TWO_WORKERS, 2, "2 workers, 2 queues per port", ""),
            (TWO_WORKERS, 2, "2 workers, 2 queues per port, out-sa shared",
             "set out-sa shared\n")):
        p, f, run = interop(build, lcores=lc, queues=q, verbose=False, label=name,
                            settings=settings)
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

    handoff(build, report)
    handoff(build, report, shared=True)
    switch_under_load(build, report)

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
