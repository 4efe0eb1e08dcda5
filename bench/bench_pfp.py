#!/usr/bin/python3
"""Helper of bench-pfp.sh: PFP ("populate from packet") at scale.

  bench_pfp.py BUILD_DIR [--quick] [--out DIR] [--skip PARTS]

a. New-flow setup: espd with a PFP policy reads a pcap of F new flows
   (one packet each, read once). A key manager (this script) reads
   `text monitor acquire` on one connection and answers every ACQUIRE
   with one `batch-text state add ... sel <the ACQUIRE's sel>` on a
   pipelined batch connection. Rate = F / (first ACQUIRE seen -> F
   encrypted packets counted on the unprotected port). Also: the
   control-socket install rate alone (SAs pushed through batch mode with
   no traffic).
b. Throughput with N per-flow SAs (1, 1k, 100k, 1M) on 2 MB hugepages (as
   users run it; --no-huge: -m 4096 instead), installed through the
   socket in batch mode before traffic; the pcap (infinite_rx) loops 8192
   packets over min(N, 8192) flows spread evenly over the N SAs (espd's
   mbuf pool, 16383, caps how many packets net_pcap can hold).
c. Memory per SA: DPDK heap (/eal/heap_info,0 Alloc_size) and the rest of
   the process (RSS outside the EAL memory mapping) before and after the
   N SAs, plus the tables espd sizes up front from --max-sas (heap at
   start with --max-sas M minus with --max-sas 64, per slot).
d. Throughput with 10 and with 100k SPD policies (one SA, not PFP; the
   extra policies are random and never match).
e. 10k and 100k of those random policies sent as one pipelined batch of
   `policy add` through the socket: seconds to the last answer (espd
   answers a batch's policy changes once the SPD with them is published).

--skip a,b,...: leave parts out.
"""

import argparse
import datetime
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

from bench_common import (Telemetry, busiest_delta, clean_prefix, fmt, hugepages_setup,
                          machine, stop, summary, thread_cpu, tsc_hz)

A_GW, B_GW = "172.16.1.5", "172.16.2.5"
SRC_HOST = "192.168.1.10"
NPKT = 8192
KEY = "0x0102030405060708090a0b0c0d0e0f10a1a2a3a4"
BASE_CONF = """port 0 role protected   addr 192.168.1.1/24 mac 02:00:00:00:01:01
port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01
route add 172.16.2.0/24 port 1 via 172.16.1.1
neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1
"""
# Parts b and d: ("hugepages" or "no-huge", why), set by main().
HUGE = ["no-huge", ""]
PFP_POLICY = ("policy add src 192.168.1.0/24 dst 192.168.0.0/16 dir out priority 100 "
              "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 mode tunnel "
              "pfp src,dst,proto,sport,dport\n")


# ---- pcaps, written directly (scapy is too slow for 10^5+ frames)

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def flow_of(f):
    """Flow f -> (dst, sport): 60000 source ports per destination."""
    return "192.168.%d.%d" % (2 + (f // 60000) // 250, 1 + (f // 60000) % 250), 1024 + f % 60000


def frame(dst, sport, ln=64, src=SRC_HOST, dport=5001):
    eth = bytes.fromhex("020000000101" "020000000110" "0800")
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ln, 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", sport, dport, ln - 20, 0)
    return eth + ip + udp + b"\x5a" * (ln - 28)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def flows_pcap(path, n_sas, npkt=NPKT):
    """npkt frames over min(n_sas, npkt) flows spread evenly over the
    n_sas flows [0, n_sas); consecutive frames are different flows."""
    active = min(n_sas, npkt)
    flows = [(j * n_sas) // active for j in range(active)]
    write_pcap(path, (frame(*flow_of(flows[i % active])) for i in range(npkt)))
    return active


# ---- the control socket (control/sock.h), batch mode

def sa_add_line(f, spi):
    dst, sport = flow_of(f)
    return ("batch-text state add src %s dst %s proto esp spi 0x%08x reqid 7 mode tunnel "
            "aead 'rfc4106(gcm(aes))' %s 128 sel src %s/32 dst %s/32 proto udp "
            "sport %d dport 5001\n" % (A_GW, B_GW, spi, KEY, SRC_HOST, dst, sport))


class Batch:
    """A pipelined batch connection: send() lines from one thread while
    a reader thread counts the answers."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.ok = 0
        self.errors = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        buf = b""
        while True:
            try:
                d = self.s.recv(1 << 20)
            except OSError:
                d = b""
            if not d:
                break
            buf += d
            n_ok = 0
            pos = 0
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    break
                head = buf[pos:nl]
                if head.startswith(b"ok"):
                    ln = int(head[3:] or 0)
                    if len(buf) < nl + 1 + ln:
                        break
                    pos = nl + 1 + ln
                    n_ok += 1
                else:
                    self.errors.append(head.decode(errors="replace"))
                    pos = nl + 1
            buf = buf[pos:]
            with self.cv:
                self.ok += n_ok
                self.cv.notify_all()
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def send(self, data):
        self.s.sendall(data)

    def answered(self):
        with self.cv:
            return self.ok + len(self.errors)

    def wait(self, n, timeout=600):
        end = time.monotonic() + timeout
        with self.cv:
            while self.ok + len(self.errors) < n and time.monotonic() < end:
                self.cv.wait(0.2)
            return self.ok + len(self.errors) >= n

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.t.join(10)
        self.s.close()


def install(sock, n, spi0=0x10000, chunk=4096):
    """Install SAs for flows [0, n) in batch mode. @return (seconds, errors)."""
    b = Batch(sock)
    t0 = time.monotonic()
    for c in range(0, n, chunk):
        b.send("".join(sa_add_line(f, spi0 + f) for f in range(c, min(n, c + chunk))).encode())
        # Keep at most a few chunks in flight (espd buffers its answers).
        while b.answered() < c - 4 * chunk:
            time.sleep(0.001)
    b.wait(n)
    dt = time.monotonic() - t0
    errs = b.errors[:5]
    nerr = len(b.errors)
    b.close()
    return dt, nerr, errs


def ctl(sock, words):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(("json " + " ".join(words) + "\n").encode())
    out = b""
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        out += d
    s.close()
    head, _, body = out.decode().partition("\n")
    if head != "ok":
        raise RuntimeError(head)
    return json.loads(body) if body.strip() else None


# ---- espd runs

class Espd:
    def __init__(self, build, wd, conf, pcap, mem=1024, max_sas=65536, loop=True, tag="x",
                 huge=False):
        self.prefix = "pfpb%d_%s" % (os.getpid(), tag)
        self.sock = os.path.join(wd, "%s.sock" % self.prefix)
        self.mem = mem
        cpath = os.path.join(wd, "%s.conf" % self.prefix)
        with open(cpath, "w") as f:
            f.write(conf)
        rx = "net_pcap0,rx_pcap=%s%s" % (pcap, ",infinite_rx=1" if loop else "")
        # Hugepages: EAL takes 2 MB pages as it needs them (no -m), as a
        # user runs it. --no-huge -m MEM: one anonymous mapping, which
        # part c's RSS split relies on.
        eal_mem = ["--huge-unlink"] if huge else ["--no-huge", "-m", str(mem)]
        self.argv = [os.path.join(build, "espd")] + eal_mem + ["--no-pci", "-l", "0,1",
                     "--file-prefix", self.prefix, "--log-level=lib.eal:error",
                     "--vdev", rx, "--vdev", "net_null0,no-rx=1",
                     "--", "-c", cpath, "-s", self.sock, "--max-sas", str(max_sas)]
        self.log = open(os.path.join(wd, "%s.log" % self.prefix), "w+")
        self.t_start = time.monotonic()
        self.p = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.tel = Telemetry(self.prefix, timeout=300, proc=self.p)
        end = time.monotonic() + 300
        while not os.path.exists(self.sock):
            if self.p.poll() is not None or time.monotonic() > end:
                raise RuntimeError("espd did not start: " + self.tail())
            time.sleep(0.05)
        self.startup_s = time.monotonic() - self.t_start

    def tail(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-800:]

    def heap(self):
        h = self.tel.get("/eal/heap_info,0")["/eal/heap_info"]
        return int(h["Alloc_size"])

    def settled_heap(self, timeout=20):
        """The heap once it stops growing: the workers allocate their
        tables (~150 MB with --no-huge) a little after the socket is up,
        which made 'heap at start' depend on timing."""
        last, end = self.heap(), time.monotonic() + timeout
        while time.monotonic() < end:
            time.sleep(0.5)
            cur = self.heap()
            if cur == last:
                return cur
            last = cur
        return last

    def rss(self):
        """(total RSS, RSS outside the EAL memory mapping) in bytes."""
        tot = other = 0
        size = None
        with open("/proc/%d/smaps" % self.p.pid) as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "Size:":
                    size = int(parts[1]) * 1024
                elif parts[0] == "Rss:":
                    r = int(parts[1]) * 1024
                    tot += r
                    # --no-huge: EAL maps -m MiB as one anonymous region.
                    if size is None or size < self.mem * (1 << 20):
                        other += r
        return tot, other

    def stats(self):
        return self.tel.get("/espd/stats")["/espd/stats"]

    def rate(self, warmup, window, port=1):
        end = time.monotonic() + 20
        while self.tel.port_stats(port)["opackets"] == 0:
            if self.p.poll() is not None or time.monotonic() > end:
                raise RuntimeError("no packets out: %s" % self.tail())
            time.sleep(0.02)
        time.sleep(warmup)
        o0 = self.tel.port_stats(port)["opackets"]
        c0 = thread_cpu(self.p.pid)
        t0 = time.monotonic()
        time.sleep(window)
        o1 = self.tel.port_stats(port)["opackets"]
        cpu = busiest_delta(c0, thread_cpu(self.p.pid))
        dt = time.monotonic() - t0
        # Per CPU-second of the worker too: on a shared machine other
        # tenants take its core for part of the window.
        self.last_cpu_rate = (o1 - o0) / cpu / 1e6 if cpu > 0.2 * dt else None
        return (o1 - o0) / dt / 1e6

    def close(self):
        try:
            self.tel.close()
        except OSError:
            pass
        stop(self.p, timeout=60)
        self.log.close()
        clean_prefix(self.prefix)


# ---- a. new-flow setup

def sched_ns(tid):
    """CPU time of thread @tid (the main thread: pid) in ns, from
    schedstat: finer than the clock ticks of /proc/PID/stat."""
    with open("/proc/%d/task/%d/schedstat" % (tid, tid)) as f:
        return int(f.read().split()[0])


def setup_rate(build, wd, nflows, rounds, huge):
    """ACQUIRE -> state add -> first encrypted packet, for nflows new flows
    sent at once into a live espd (net_af_packet on veth pairs). Source,
    key manager and sink are bench/pfp_setup.c (built as BUILD/bench/
    pfp_setup), pinned to CPU 0 with espd's control lcore; the worker has
    CPU 1."""
    from espdtest.run import LiveEspd

    tool = os.path.join(build, "bench", "pfp_setup")
    # As many flows again first, to warm espd up: the rate measured is
    # a running gateway's, not a fresh process's first page faults.
    warmup = nflows
    pcap = os.path.join(wd, "setup-%d+%d.pcap" % (warmup, nflows))
    write_pcap(pcap, [frame(*flow_of(f)) for f in range(warmup + nflows)])
    out = []
    conf = BASE_CONF + "set acquire-queue 4\n" + PFP_POLICY
    for r in range(rounds):
        # framecnt: room in espd's RX ring for a burst of new flows, as a
        # NIC's descriptor ring has.
        with LiveEspd(conf, build=build, capture=(), huge=huge, vdev_args="framecnt=8192",
                      extra_args=["--max-sas", str(max(65536, 4 * nflows))]) as gw:
            tel = Telemetry(gw.prefix, timeout=10)
            # LiveEspd's own packet sockets would take a copy of every
            # frame: this round does not use them.
            for s in gw.tx:
                s.close()
            gw.tx = []
            p = subprocess.Popen(
                [tool, "--sock", gw.sock, "--netns", gw.netns, "--tx", gw.peers[0],
                 "--rx", gw.peers[1], "--pcap", pcap, "--cpu", "0", "--warmup", str(warmup),
                 "--sa-head", "src %s dst %s proto esp" % (A_GW, B_GW),
                 "--sa-tail", "reqid 7 mode tunnel aead 'rfc4106(gcm(aes))' %s 128" % KEY],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                universal_newlines=True)
            try:
                warm = p.stdout.readline()
                c0 = sched_ns(gw.proc.pid)
                out_s, err_s = p.communicate("go\n", timeout=120)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            if p.returncode != 0 or warm != "warm\n":
                raise RuntimeError("pfp_setup: %s" % err_s.strip())
            res = json.loads(out_s)
            # lcore 0's CPU time (schedstat: ns) per flow set up: what the
            # control plane costs, whatever else shared its CPU.
            res["control_cpu_s"] = (sched_ns(gw.proc.pid) - c0) / 1e9
            res["control_us_per_flow"] = res["control_cpu_s"] * 1e6 / max(1, res["esp_out"])
            res["tool_us_per_flow"] = res["tool_cpu_s"] * 1e6 / max(1, res["esp_out"])
            st = tel.get("/espd/stats")["/espd/stats"]
            p0 = tel.port_stats(0)
            res.update(rx_port0=p0.get("ipackets"), rx_missed_port0=p0.get("imissed"),
                       tool_stderr=err_s.strip()[:500],
                       counters={k: v for k, v in st.items() if "Acquire" in k or "Pfp" in k
                                 or "Monitor" in k or "EventRing" in k})
            tel.close()
        out.append(res)
        print("pfp setup: %d flows, %d out in %.3f s (sent in %.3f s): %.0f flows/s; "
              "%d ACQUIREs, %d SAs added, %d errors; espd port 0 got %s; lcore 0 %.1f us "
              "a flow, pfp_setup %.1f" % (
                  nflows, res["esp_out"], res["total_s"], res["send_s"], res["flows_per_s"],
                  res["acquires"], res["sa_ok"], res["sa_errors"], res["rx_port0"],
                  res["control_us_per_flow"], res["tool_us_per_flow"]))
        sys.stdout.flush()
    return out


def empty_pcap(wd):
    p = os.path.join(wd, "empty.pcap")
    write_pcap(p, [])
    return p


def memory_and_install(build, wd, n, max_sas, mem):
    """Install n SAs with no traffic; heap and RSS before/after."""
    e = Espd(build, wd, BASE_CONF + PFP_POLICY, empty_pcap(wd), mem=mem, max_sas=max_sas,
             loop=False, tag="mem%d" % n)
    try:
        h0 = e.settled_heap()
        r0, o0 = e.rss()
        dt, nerr, errs = install(e.sock, n)
        time.sleep(0.3)
        h1, (r1, o1) = e.heap(), e.rss()
        cnt = ctl(e.sock, ["state", "count"])
        return {"n": n, "max_sas": max_sas, "install_s": dt, "install_per_s": n / dt,
                "errors": nerr, "first_errors": errs, "state_count": cnt.get("count"),
                "heap_before": h0, "heap_after": h1, "rss_before": r0, "rss_after": r1,
                "rss_other_before": o0, "rss_other_after": o1,
                "heap_per_sa": (h1 - h0) / n, "rss_other_per_sa": (o1 - o0) / n,
                "rss_per_sa": (r1 - r0) / n, "startup_s": e.startup_s}
    finally:
        e.close()


def table_presize(build, wd, max_sas, mem):
    """Heap at start with --max-sas max_sas minus with --max-sas 64."""
    h = {}
    for m in (64, max_sas):
        e = Espd(build, wd, BASE_CONF + PFP_POLICY, empty_pcap(wd), mem=mem, max_sas=m,
                 loop=False, tag="pre%d" % m)
        try:
            h[m] = e.settled_heap()
        finally:
            e.close()
    return {"max_sas": max_sas, "heap_64": h[64], "heap_max": h[max_sas],
            "per_slot": (h[max_sas] - h[64]) / max_sas}


def throughput_sas(build, wd, n, res, warmup, window, mem):
    """One espd: install n SAs (traffic is held or dropped meanwhile),
    then one measurement, appended to res["rates"]."""
    pcap = os.path.join(wd, "flows-%d.pcap" % n)
    if not os.path.exists(pcap):
        flows_pcap(pcap, n)
    conf = BASE_CONF + "set acquire-queue 1\nset acquire-queue-total 256\n" + PFP_POLICY
    res.setdefault("rates", [])
    res.setdefault("install_per_s_runs", [])
    res["n_sas"], res["active_flows"] = n, min(n, NPKT)
    e = Espd(build, wd, conf, pcap, mem=mem, max_sas=max(65536, n + n // 10),
             tag="tp%d_%d" % (n, len(res["rates"])), huge=HUGE[0] == "hugepages")
    try:
        dt, nerr, errs = install(e.sock, n)
        res["install_per_s_runs"].append(n / dt)
        res["errors"] = res.get("errors", 0) + nerr
        res["rates"].append(e.rate(warmup, window))
        res.setdefault("rates_cpu", []).append(e.last_cpu_rate)
        st = e.stats()
        res["counters"] = {k: v for k, v in st.items() if isinstance(v, int) and v and
                           k not in ("PfpFlows",) and ("Acquire" in k or "Drop" in k or
                                                       "No" in k[:2] or "Error" in k)}
        res["pfp_flows"] = st.get("PfpFlows")
    finally:
        e.close()
    res["mpps"] = summary(res["rates"])
    res["mpps_cpu"] = summary([x for x in res["rates_cpu"] if x is not None])
    res["install_per_s"] = summary(res["install_per_s_runs"])["median"]
    return res


def random_policies(n, seed=1):
    """n 'block' policies with random selectors that never match the
    benchmark's traffic (first octet never 192)."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        def pfx():
            ln = rng.randint(8, 32)
            a = rng.getrandbits(32)
            while (a >> 24) == 192:
                a = rng.getrandbits(32)
            a &= (0xffffffff << (32 - ln)) & 0xffffffff
            return "%s/%d" % (socket.inet_ntoa(struct.pack("!I", a)), ln)
        proto = rng.choice(["tcp", "udp", None])
        w = "policy add src %s dst %s dir out priority %d" % (pfx(), pfx(), 200 + i % 1000)
        if proto:
            w += " proto %s" % proto
            k = rng.randint(0, 3)
            if k == 2:
                w += " dport %d" % rng.randint(1, 65535)
            elif k == 3:
                lo = rng.randint(1, 60000)
                w += " dport %d-%d" % (lo, lo + rng.randint(1, 4096))
        lines.append(w + " action block")
    return "\n".join(lines) + "\n"


def throughput_spd(build, wd, npol, res, warmup, window, mem):
    pcap = os.path.join(wd, "spd-traffic.pcap")
    if not os.path.exists(pcap):
        write_pcap(pcap, [frame("192.168.105.20", 40000 + i % 16) for i in range(1024)])
    conf = BASE_CONF + (
        "state add src %s dst %s proto esp spi 0x1005 reqid 1 mode tunnel "
        "aead 'rfc4106(gcm(aes))' %s 128\n"
        "policy add src 192.168.1.0/24 dst 192.168.105.0/24 dir out priority 100 "
        "tmpl src %s dst %s proto esp reqid 1 mode tunnel\n" % (A_GW, B_GW, KEY, A_GW, B_GW))
    conf += random_policies(npol - 1)
    res.setdefault("rates", [])
    res.setdefault("startup_s_runs", [])
    res["policies"] = npol
    e = Espd(build, wd, conf, pcap, mem=mem, tag="spd%d_%d" % (npol, len(res["rates"])),
             huge=HUGE[0] == "hugepages")
    res["startup_s_runs"].append(e.startup_s)
    res["startup_s"] = summary(res["startup_s_runs"])["median"]
    try:
        res["rates"].append(e.rate(warmup, window))
    finally:
        e.close()
    res["mpps"] = summary(res["rates"])
    return res


def policies_socket(build, wd, npol, mem):
    """e. npol random policies (as in d) as one pipelined batch of `policy
    add` over the socket into a running espd: seconds from the first line
    sent to the last answer (espd answers a batch's policy changes once
    the SPD holding them is built and published)."""
    e = Espd(build, wd, BASE_CONF, empty_pcap(wd), mem=mem, loop=False, tag="pols%d" % npol)
    try:
        data = "".join("batch-text " + ln + "\n"
                       for ln in random_policies(npol, seed=2).splitlines()).encode()
        b = Batch(e.sock)
        t0 = time.monotonic()
        sender = threading.Thread(target=b.send, args=(data,), daemon=True)
        sender.start()
        done = b.wait(npol, timeout=3600)
        dt = time.monotonic() - t0
        nerr = len(b.errors)
        errs = b.errors[:5]
        b.close()
        n = len(ctl(e.sock, ["policy", "list"]) or [])
        return {"policies": npol, "seconds": dt, "answered": done, "errors": nerr,
                "first_errors": errs, "policy_count": n, "per_s": npol / dt}
    finally:
        e.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: a,b,c,d,e")
    ap.add_argument("--sas", default=None, help="part b's SA counts, e.g. 1,1000000")
    ap.add_argument("--rounds", type=int, default=None, help="part b and d rounds")
    ap.add_argument("--flows", type=int, default=None, help="part a's new flows (8000)")
    ap.add_argument("--no-huge", action="store_true",
                    help="parts b and d with --no-huge -m MEM (default: 2 MB hugepages)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wd = os.path.join(build, "bench-pfp")
    os.makedirs(wd, exist_ok=True)
    outdir = a.out or (wd if a.quick else os.path.join(root, "bench", "results"))
    os.makedirs(outdir, exist_ok=True)
    skip = set(a.skip.split(","))
    q = a.quick
    ns = [1, 1000, 10000] if q else [1, 1000, 100000, 1000000]
    rounds, warmup, window = (1, 0.3, 0.5) if q else (3, 1.0, 1.5)
    if a.sas:
        ns = [int(x) for x in a.sas.split(",")]
    if a.rounds:
        rounds = a.rounds
    mem_big = 1024 if q else 4096
    hz = tsc_hz()
    t_begin = time.monotonic()
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": q,
           "machine": machine()}
    if not ("b" in skip and "d" in skip):
        # A million SAs take ~2.2 GB of DPDK memory (bench/RESULTS.md).
        big = max(ns) >= 100000 and "b" not in skip
        HUGE[:] = hugepages_setup(a.no_huge, 1600 if big else 1024, 1200 if big else 512)
        print("parts b and d: %s%s" % (HUGE[0], " (%s)" % HUGE[1] if HUGE[1] else ""))
        doc["eal_memory"] = ("--huge-unlink (2 MB pages, no -m)" if HUGE[0] == "hugepages"
                             else "--no-huge -m %d" % mem_big)

    if "a" not in skip:
        huge = hugepages_setup(a.no_huge, 1024, 512)[0] == "hugepages"
        doc["setup_eal_memory"] = "hugepages" if huge else "--no-huge"
        doc["setup"] = setup_rate(build, wd, a.flows or (1000 if q else 8000),
                                  1 if q else 5, huge)
    if "c" not in skip:
        nmem = 10000 if q else 1000000
        doc["install_mem"] = [memory_and_install(build, wd, n, n + n // 10, mem_big)
                              for n in ([nmem] if q else [100000, nmem])]
        doc["table_presize"] = table_presize(build, wd, nmem + nmem // 10, mem_big)
        for m in doc["install_mem"]:
            print("install %d SAs: %.2f s, %.0f SAs/s, %d errors; heap +%.0f B/SA, "
                  "other RSS +%.0f B/SA, RSS +%.0f B/SA" % (
                      m["n"], m["install_s"], m["install_per_s"], m["errors"],
                      m["heap_per_sa"], m["rss_other_per_sa"], m["rss_per_sa"]))
        tp = doc["table_presize"]
        print("tables sized for --max-sas %d: %.0f B per slot" % (tp["max_sas"], tp["per_slot"]))
        sys.stdout.flush()
    if "b" not in skip:
        doc["sas"] = [{} for _ in ns]
        for rnd in range(rounds):  # A B C D, A B C D, ...
            for n, r in zip(ns, doc["sas"]):
                throughput_sas(build, wd, n, r, warmup, window, mem_big)
        for r in doc["sas"]:
            n = r["n_sas"]
            print("%7d SAs (%d active flows): %s Mpps (%s-%s), installed at %.0f SAs/s" % (
                n, r["active_flows"], fmt(r["mpps"]["median"]), fmt(r["mpps"]["min"]),
                fmt(r["mpps"]["max"]), r["install_per_s"]))
            sys.stdout.flush()
        # What the many SAs' cold pages cost this machine, to read
        # the ratios against (bench/RESULTS.md, twenty-second session).
        if max(ns) >= 100000:
            doc["memory_probe"] = memory_probe(build)
        base = doc["sas"][0]["mpps"]["median"]
        base_cpu = doc["sas"][0]["mpps_cpu"]["median"]
        for r in doc["sas"]:
            r["rel_single"] = None if not base else r["mpps"]["median"] / base
            r["rel_single_cpu"] = (None if not (base_cpu and r["mpps_cpu"]["median"])
                                   else r["mpps_cpu"]["median"] / base_cpu)
    if "d" not in skip:
        pols = [10, 10000] if q else [10, 100000]
        doc["spd"] = [{} for _ in pols]
        for rnd in range(rounds):
            for n, r in zip(pols, doc["spd"]):
                throughput_spd(build, wd, n, r, warmup, window, 1024)
        b0 = doc["spd"][0]["mpps"]["median"]
        for r in doc["spd"]:
            r["rel_10"] = None if not b0 else r["mpps"]["median"] / b0
            print("%6d policies: %s Mpps (%s-%s), espd start-up %.1f s" % (
                r["policies"], fmt(r["mpps"]["median"]), fmt(r["mpps"]["min"]),
                fmt(r["mpps"]["max"]), r["startup_s"]))
    if "e" not in skip:
        doc["spd_socket"] = [policies_socket(build, wd, n, 1024)
                             for n in ([10000] if q else [10000, 100000])]
        for r in doc["spd_socket"]:
            print("%6d policies in one batch over the socket: %.1f s to the last answer "
                  "(%d errors, %d listed)" % (r["policies"], r["seconds"], r["errors"],
                                              r["policy_count"]))
    doc["machine"]["loadavg_end"] = os.getloadavg()
    doc["elapsed_s"] = time.monotonic() - t_begin
    report(doc, hz)
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    path = os.path.join(outdir, "pfp-%s%s.json" % (date, "-quick" if q else ""))
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print("wrote %s (%.0f s)" % (path, doc["elapsed_s"]))
    return 0


def memory_probe(build):
    """bench/mem_probe 1024's figures: what a load to a cold 4 KB page of
    a 1 GB map costs, alone and with many side by side (the flow slot
    and SA record of a packet among 1M SAs are such loads). None where
    the build has no probe or it fails (said why)."""
    exe = os.path.join(build, "bench", "mem_probe")
    if not os.path.exists(exe):
        print("memory probe: %s not built (meson -Dbench=enabled)" % exe)
        return None
    p = subprocess.run([exe, "1024"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        print("memory probe: %s" % (p.stderr.strip() or "exit %d" % p.returncode))
        return None
    res = {}
    for w in p.stdout.split():
        k, _, v = w.partition("=")
        try:
            res[k] = float(v)
        except ValueError:
            res[k] = v
    return res


def report(doc, hz):
    print("\n%-44s %-16s %s" % ("measure", "value", "notes"))
    print("-" * 100)
    if "setup" in doc:
        s = summary([r["flows_per_s"] for r in doc["setup"]])
        print("%-44s %-16s %s" % ("a. new flows/s, ACQUIRE->SA->first packet",
                                  "%.0f" % s["median"],
                                  "(%.0f-%.0f) over %d flows, %d rounds" % (
                                      s["min"], s["max"], doc["setup"][0]["flows"], s["n"])))
    if "install_mem" in doc:
        for m in doc["install_mem"]:
            print("%-44s %-16s %s" % ("a. socket SA install rate (%d SAs)" % m["n"],
                                      "%.0f SAs/s" % m["install_per_s"],
                                      "batch mode, no traffic, %d errors" % m["errors"]))
        m = doc["install_mem"][-1]
        tp = doc["table_presize"]
        tot = m["heap_per_sa"] + tp["per_slot"] * tp["max_sas"] / m["n"] + m["rss_other_per_sa"]
        doc["bytes_per_sa_total"] = tot
        print("%-44s %-16s %s" % ("c. bytes per SA (%d SAs)" % m["n"], "%.0f" % tot,
                                  "heap %.0f + tables %.0f + other RSS %.0f" % (
                                      m["heap_per_sa"], tp["per_slot"] * tp["max_sas"] / m["n"],
                                      m["rss_other_per_sa"])))
    for r in doc.get("sas", []):
        cpu = r.get("mpps_cpu", {}).get("median")
        c = None if not (hz and cpu) else hz / (cpu * 1e6)
        rel_cpu = r.get("rel_single_cpu")
        print("%-44s %-16s %s" % ("b. %d per-flow SAs" % r["n_sas"],
                                  "%s Mpps" % fmt(r["mpps"]["median"]),
                                  "(%s-%s), %s of 1 SA; per worker CPU-second %s Mpps, "
                                  "%s of 1 SA, %s cyc/pkt; %d active flows" % (
                                      fmt(r["mpps"]["min"]), fmt(r["mpps"]["max"]),
                                      fmt(None if r["rel_single"] is None
                                          else 100 * r["rel_single"], "%.0f%%"),
                                      fmt(cpu), fmt(None if rel_cpu is None else 100 * rel_cpu,
                                                    "%.0f%%"),
                                      fmt(c, "%.0f"), r["active_flows"])))
    mp = doc.get("memory_probe")
    if mp:
        print("%-44s %-16s %s" % ("b. a load to a cold page (bench/mem_probe)",
                                  "%.0f cyc" % mp["best_tsc_per_cold_page"],
                                  "TSC cycles, many side by side; %.0f alone (latency); "
                                  "1 GB of %s" % (mp["latency_tsc"], mp["memory"])))
    for r in doc.get("spd", []):
        print("%-44s %-16s %s" % ("d. %d SPD policies" % r["policies"],
                                  "%s Mpps" % fmt(r["mpps"]["median"]),
                                  "(%s-%s), %s of 10 policies" % (
                                      fmt(r["mpps"]["min"]), fmt(r["mpps"]["max"]),
                                      fmt(None if r["rel_10"] is None else 100 * r["rel_10"],
                                          "%.0f%%"))))


if __name__ == "__main__":
    sys.exit(main())
