#!/usr/bin/python3
"""Shared pieces of the gateway benchmarks (bench_gateway.py, bench_pfp.py):
DPDK telemetry, process start/stop, the machine's description, stats."""

import json
import os
import shutil
import socket
import statistics
import subprocess
import time

from espdtest.run import stop_process  # bench scripts run with PYTHONPATH=tests

RUN_DIR = "/var/run/dpdk"


class Telemetry:
    """A DPDK telemetry v2 client (SOCK_SEQPACKET, one JSON per reply)."""

    def __init__(self, prefix, timeout=20.0, proc=None):
        path = os.path.join(RUN_DIR, prefix, "dpdk_telemetry.v2")
        end = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                self.max_len = json.loads(s.recv(1 << 16).decode()).get("max_output_len", 16384)
                self.s = s
                return
            except (OSError, ValueError):
                s.close()
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError("process exited %d before telemetry came up"
                                       % proc.returncode)
                if time.monotonic() > end:
                    raise RuntimeError("no telemetry at %s" % path)
                time.sleep(0.05)

    def get(self, cmd):
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(1 << 20).decode())

    def port_stats(self, port):
        return self.get("/ethdev/stats,%d" % port)["/ethdev/stats"]

    def opackets(self, ports=(0, 1)):
        """(sum of opackets, sum of obytes, sum of ipackets) over @ports."""
        o = b = i = 0
        for p in ports:
            st = self.port_stats(p)
            o += st["opackets"]
            b += st["obytes"]
            i += st["ipackets"]
        return o, b, i

    def close(self):
        self.s.close()


def thread_cpu(pid):
    """{tid: CPU seconds (user + system)} for every thread of @pid."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                rest = f.read().rpartition(")")[2].split()
            out[int(t)] = (int(rest[11]) + int(rest[12])) / hz
        except (OSError, ValueError, IndexError):
            pass
    return out


def busiest_delta(before, after, n=1):
    """CPU seconds of the @n threads that used the most between two
    thread_cpu() samples (the poll-mode workers), together."""
    d = sorted((after[t] - before.get(t, 0.0) for t in after), reverse=True)
    return sum(d[:n])


def tsc_hz():
    """The TSC rate: tsc_known_freq on this machine, so 'cpu MHz' is it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return None


def machine():
    out = {}
    try:
        lscpu = subprocess.run(["lscpu"], stdout=subprocess.PIPE,
                               universal_newlines=True).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "CPU family", "Model",
                             "Hypervisor vendor", "L1d cache", "L2 cache", "L3 cache"):
                out[k.strip()] = v.strip()
    except OSError:
        pass
    out["tsc_hz"] = tsc_hz()
    out["loadavg_start"] = os.getloadavg()
    return out


def stop(proc, timeout=10.0):
    """SIGTERM, then SIGKILL; returns the exit status."""
    return stop_process(proc, timeout)


def clean_prefix(prefix):
    shutil.rmtree(os.path.join(RUN_DIR, prefix), ignore_errors=True)


def summary(xs):
    """median, min, max (None for an empty list)."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


HUGE_DIR = "/dev/hugepages"


def hugepages_setup(want_no_huge, want, need):
    """Make 2 MB hugepages available: mount hugetlbfs at HUGE_DIR if none
    is, and raise vm.nr_hugepages until @want are free. @return (mode,
    note): mode "hugepages" (at least @need free) or "no-huge"; note
    says why not, or what was changed."""
    if want_no_huge:
        return "no-huge", "--no-huge asked for"
    nr_path = "/proc/sys/vm/nr_hugepages"

    def free_pages():
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    return int(line.split()[1])
        return 0
    try:
        note = []
        with open("/proc/mounts") as f:
            mounted = any(line.split()[2] == "hugetlbfs" for line in f)
        if not mounted:
            os.makedirs(HUGE_DIR, exist_ok=True)
            r = subprocess.run(["mount", "-t", "hugetlbfs", "nodev", HUGE_DIR],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            if r.returncode != 0:
                return "no-huge", "mount -t hugetlbfs %s failed: %s" % (
                    HUGE_DIR, r.stdout.strip().replace("\n", " "))
            note.append("mounted hugetlbfs at %s" % HUGE_DIR)
        free = free_pages()
        if free < want:
            # Never lowered afterwards: a concurrent run may hold pages,
            # and lowering would take its free ones away.
            with open(nr_path) as f:
                before = int(f.read())
            with open(nr_path, "w") as f:
                f.write(str(before + want - free))
            with open(nr_path) as f:
                note.append("vm.nr_hugepages %d -> %s (left so)" % (before, f.read().strip()))
            free = free_pages()
        if free < need:
            return "no-huge", "only %d free 2 MB hugepages after raising %s (%d needed)" % (
                free, nr_path, need)
        return "hugepages", "; ".join(note)
    except (OSError, ValueError, IndexError) as e:
        return "no-huge", "cannot set up hugepages: %s" % e
