#!/usr/bin/python3
"""What `set worker-idle adaptive` costs at line rate and saves when idle.

  PYTHONPATH=tests /usr/bin/python3 bench/bench_idle.py BUILD_DIR [--rounds R]
        [--taps]

- Line rate: espd outbound, AES-GCM-128, 64 B, one worker, net_pcap
  infinite_rx into net_null (bench_gateway.py's harness), `poll` and
  `adaptive` in alternating rounds; Mpps from telemetry.
- Idle: espd on two net_null ports that receive nothing, for a fixed
  window; the CPU time the whole process used (utime + stime), `poll`
  against `adaptive`.
- --taps, idle again: espd on two net_tap ports in a namespace of its
  own (their RX queues have interrupts, so adaptive workers wait on
  them), `poll`, `adaptive`, and `nap` (started with poll, then set
  adaptive: ports without interrupts, the workers nap).
Prints one table and the JSON of every round (for bench/RESULTS.md).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import bench_gateway as bg
from bench_common import Telemetry, clean_prefix, stop


BASE_CONF = bg.espd_conf


def with_idle(mode):
    """bench_gateway's espd config, plus `set worker-idle MODE`."""
    def conf(direction, algo, *rest):
        return BASE_CONF(direction, algo, *rest) + "set worker-idle %s\n" % mode
    return conf


def proc_cpu(pid):
    """CPU seconds the process used so far (all threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_while_idle(p, prefix, window, ready=None):
    """Cores espd @p used over @window seconds, once its telemetry
    answers, @ready() ran and a second passed."""
    tel = Telemetry(prefix, timeout=30, proc=p)
    tel.close()
    if ready is not None:
        ready()
    time.sleep(1.0)  # past start-up
    c0, t0 = proc_cpu(p.pid), time.monotonic()
    time.sleep(window)
    c1, t1 = proc_cpu(p.pid), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def idle_cpu(build, mode, window, wd):
    prefix = "idle%d_%s" % (os.getpid(), mode)
    conf = os.path.join(wd, "idle-%s.conf" % mode)
    with open(conf, "w") as f:
        f.write(with_idle(mode)("out", "aes-gcm-128"))
    argv = [os.path.join(build, "espd"), "--no-huge", "--no-pci", "-l", "0,1", "-m", "512",
            "--file-prefix", prefix, "--log-level=lib.eal:error",
            "--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1",
            "--", "-c", conf, "-s", os.path.join(wd, "%s.sock" % prefix)]
    log = open(os.path.join(wd, "%s.log" % prefix), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=wd)
    try:
        return cpu_while_idle(p, prefix, window)
    finally:
        stop(p)
        log.close()
        clean_prefix(prefix)


def idle_cpu_tap(build, mode, window, wd):
    """idle_cpu() on two net_tap ports, in a namespace made for it."""
    tag = "idlet%d%s" % (os.getpid(), mode)
    conf = os.path.join(wd, "%s.conf" % tag)
    with open(conf, "w") as f:
        f.write(with_idle("poll" if mode == "nap" else mode)("out", "aes-gcm-128"))
    sock = os.path.join(wd, "%s.sock" % tag)
    subprocess.run(["ip", "netns", "add", tag], check=True)
    log = open(os.path.join(wd, "%s.log" % tag), "w")
    p = None
    try:
        argv = ["ip", "netns", "exec", tag, os.path.join(build, "espd"), "--no-huge",
                "--no-pci", "-l", "0,1", "-m", "512", "--file-prefix", tag,
                "--log-level=lib.eal:error", "--log-level=pmd.net.tap:error",
                "--vdev", "net_tap0,iface=t0", "--vdev", "net_tap1,iface=t1",
                "--", "-c", conf, "-s", sock]
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=wd)

        def to_adaptive():
            subprocess.run([os.path.join(build, "espctl"), "-s", sock, "set", "worker-idle",
                            "adaptive"], check=True, stdout=subprocess.DEVNULL)
        return cpu_while_idle(p, tag, window, to_adaptive if mode == "nap" else None)
    finally:
        if p is not None:
            stop(p)
        log.close()
        clean_prefix(tag)
        subprocess.run(["ip", "netns", "del", tag], check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--taps", action="store_true",
                    help="also idle CPU on net_tap ports: poll, adaptive, nap")
    a = ap.parse_args()
    a.vs_espd = None
    a.flows = bg.DEFAULT_FLOWS
    a.huge = "no-huge"
    wd = tempfile.mkdtemp(prefix="bench-idle-")
    bg.gen_pcaps(wd, [("out", "aes-gcm-128", [64])], a.flows)
    r = bg.Runner(a, wd)
    rounds = {"poll": [], "adaptive": []}
    idle = {"poll": [], "adaptive": []}
    for i in range(a.rounds):
        order = ("poll", "adaptive") if i % 2 == 0 else ("adaptive", "poll")
        for mode in order:
            bg.espd_conf = with_idle(mode)
            res = r.run_one("espd", "out", "aes-gcm-128", 64)
            rounds[mode].append(res.get("mpps"))
            idle[mode].append(idle_cpu(os.path.abspath(a.build), mode, a.window, wd))
    med = {m: statistics.median([x for x in rounds[m] if x]) for m in rounds}
    cpu = {m: statistics.median(idle[m]) for m in idle}
    print("worker-idle   64 B out GCM-128 Mpps (median of %d)   idle CPU (cores)" % a.rounds)
    for m in ("poll", "adaptive"):
        print("%-12s  %8.2f                                   %5.3f" % (m, med[m], cpu[m]))
    print("adaptive/poll at line rate: %.3f; idle CPU saved: %.0f%%" % (
        med["adaptive"] / med["poll"], 100 * (1 - cpu["adaptive"] / cpu["poll"])))
    tap = {}
    if a.taps:
        tap = {"poll": [], "adaptive": [], "nap": []}
        for i in range(a.rounds):
            for mode in (("poll", "adaptive", "nap") if i % 2 == 0 else
                         ("nap", "adaptive", "poll")):
                tap[mode].append(idle_cpu_tap(os.path.abspath(a.build), mode, a.window, wd))
        print("idle on net_tap ports, CPU (cores, median of %d): %s" % (a.rounds, ", ".join(
            "%s %.3f" % (m, statistics.median(tap[m])) for m in ("poll", "adaptive", "nap"))))
    print(json.dumps({"mpps": rounds, "idle_cpu": idle, "idle_cpu_tap": tap}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
