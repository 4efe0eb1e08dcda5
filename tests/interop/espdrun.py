"""Run espd once, offline, over pcap vdevs, and read back what it did.

A small library for the interop tests (and anything else that wants to
push packets through espd without a NIC):

    from espdrun import Espd, wrpcap_list
    run = Espd(build="build").run(conf_text, [pkts_port0, pkts_port1])
    run.ok()                  # raises EspdError with stderr on failure
    run.out[1]                # scapy packets espd sent out of port 1
    run.counter("XfrmInNoStates"), run.sa(0x1001)["packets"]

Each run gets its own temporary directory, its own EAL --file-prefix and
its own control socket, so runs never collide with each other or with a
daemon on the machine. Set ESPD_KEEP=1 to keep the directories.

Needs scapy (Debian's python3-scapy: run under /usr/bin/python3).
"""

import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile

__all__ = ["Espd", "EspdError", "EspdRun", "wrpcap_list", "rdpcap_list",
           "DROP_COUNTERS", "check_config"]

_seq = itertools.count()

# Global counters that only ever count dropped packets: a clean run
# leaves all of them at 0. (InDummy, NatKeepalive, IkePunted, Bypass,
# Protect and the Acquire* family are not drops, or not only drops.)
DROP_COUNTERS = (
    "XfrmInError", "XfrmInBufferError", "XfrmInHdrError", "XfrmInNoStates",
    "XfrmInStateProtoError", "XfrmInStateModeError", "XfrmInStateSeqError",
    "XfrmInStateExpired", "XfrmInStateMismatch", "XfrmInStateInvalid",
    "XfrmInTmplMismatch", "XfrmInNoPols", "XfrmInPolBlock", "XfrmInPolError",
    "XfrmOutError", "XfrmOutBundleGenError", "XfrmOutNoStates",
    "XfrmOutStateProtoError", "XfrmOutStateModeError", "XfrmOutStateSeqError",
    "XfrmOutStateExpired", "XfrmOutPolBlock", "XfrmOutPolError",
    "XfrmOutStateInvalid", "XfrmAcquireError", "AcquireHeldDropped",
    "TtlExceeded", "NoRoute", "NoNeighbour", "NotIp", "MalformedPacket",
    "IkePuntDropped", "TxDropped",
)


class EspdError(Exception):
    pass


def wrpcap_list(path, pkts):
    """Write @pkts (scapy packets or raw Ethernet frames as bytes) to
    @path as a classic pcap; an empty list gives a valid empty file."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkts):
            b = bytes(p)
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000,
                                i % 1000000, len(b), len(b)))
            f.write(b)


def rdpcap_list(path):
    """The packets of @path as scapy Ether objects ([] if missing/empty)."""
    from scapy.utils import rdpcap

    if not os.path.exists(path) or os.path.getsize(path) <= 24:
        return []
    return list(rdpcap(path))


def default_build():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("BUILD_DIR",
                          os.path.join(here, "..", "..", "build"))


class EspdRun:
    """What one espd run left behind."""

    def __init__(self, workdir, rc, stdout, stderr, out, stats, timed_out):
        self.workdir = workdir
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.out = out          # list, per port: scapy packets sent out
        self.stats = stats      # parsed --stats-json, or None
        self.timed_out = timed_out

    def ok(self):
        """Raise EspdError unless espd exited 0 and wrote its stats."""
        if self.timed_out:
            raise EspdError("espd timed out\n" + self.stderr)
        if self.rc != 0:
            raise EspdError("espd exited %s\n%s" % (self.describe_rc(),
                                                    self.stderr))
        if self.stats is None:
            raise EspdError("espd wrote no stats JSON\n" + self.stderr)
        return self

    def describe_rc(self):
        if self.rc is None:
            return "(not run)"
        if self.rc < 0:
            return "on signal %s" % signal.Signals(-self.rc).name
        return "with status %d" % self.rc

    def counter(self, name):
        return self.stats["global"][name]

    def nonzero_drops(self, allowed=()):
        """{name: value} of drop counters that are non-zero and not in
        @allowed (a name -> expected value mapping or a set of names)."""
        g = self.stats["global"]
        bad = {}
        for name in DROP_COUNTERS:
            want = 0
            if isinstance(allowed, dict):
                want = allowed.get(name, 0)
            elif name in allowed:
                continue
            if g.get(name, 0) != want:
                bad[name] = g.get(name, 0)
        return bad

    def sa(self, spi, direction=None):
        """The stats of the SA with @spi (an int), or None."""
        key = "0x%08x" % spi
        for s in self.stats["sas"]:
            if s["spi"] == key and (direction is None or s["dir"] == direction):
                return s
        return None

    def port(self, pid):
        for p in self.stats["ports"]:
            if p["id"] == pid:
                return p
        return None


class Espd:
    """Runs build/espd over pcap vdevs."""

    def __init__(self, build=None, lcores="0,1", mem=512, exit_idle_ms=300,
                 timeout=120):
        self.build = os.path.abspath(build or default_build())
        self.binary = os.path.join(self.build, "espd")
        self.lcores = lcores
        self.mem = mem
        self.exit_idle_ms = exit_idle_ms
        self.timeout = timeout
        if not os.access(self.binary, os.X_OK):
            raise EspdError("no espd binary at %s" % self.binary)

    def run(self, conf, rx, lcores=None, extra_args=(), keep=None):
        """Start espd with config text @conf and one net_pcap port per
        element of @rx (a list of packets, or of raw frames, received on
        that port, in order; or {"queues": [list, list, ...]} for a port
        with one RX queue per list). Waits for --exit-idle or the timeout, then
        returns an EspdRun. Never raises for a failing espd; call .ok()."""
        keep = keep if keep is not None else bool(os.environ.get("ESPD_KEEP"))
        wd = tempfile.mkdtemp(prefix="espd-run-")
        prefix = "espdt%d_%d" % (os.getpid(), next(_seq))
        conf_path = os.path.join(wd, "gw.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        vdevs = []
        for i, pkts in enumerate(rx):
            # {"queues": [q0, q1, ...]}: one rx_pcap, so one RX queue, each.
            qs = pkts["queues"] if isinstance(pkts, dict) else [pkts]
            dev = "net_pcap%d" % i
            for q, qp in enumerate(qs):
                rxp = os.path.join(wd, "in%d.%d.pcap" % (i, q))
                wrpcap_list(rxp, qp)
                dev += ",rx_pcap=%s" % rxp
            dev += ",tx_pcap=%s" % os.path.join(wd, "out%d.pcap" % i)
            vdevs += ["--vdev", dev]
        stats_path = os.path.join(wd, "stats.json")
        lcores = lcores or self.lcores
        # "0,1" is a -l core list; "0@0,1@1,2@1" an --lcores map, which
        # can put more lcores than the machine has CPUs.
        lc = ["--lcores", lcores] if "@" in lcores else ["-l", lcores]
        cmd = [self.binary, "--no-huge", "--no-pci"] + lc + [
               "-m", str(self.mem), "--file-prefix", prefix,
               "--log-level=lib.eal:error"] + vdevs + [
               "--", "-c", conf_path, "-s", os.path.join(wd, "espd.sock"),
               "--exit-idle", str(self.exit_idle_ms),
               "--stats-json", stats_path] + list(extra_args)
        timed_out = False
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 cwd=wd, universal_newlines=True)
        except OSError as e:
            shutil.rmtree(wd, ignore_errors=True)
            return EspdRun(None, None, "", "cannot start %s: %s" % (cmd[0], e),
                           [[] for _ in rx], None, False)
        try:
            so, se = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            p.send_signal(signal.SIGTERM)
            try:
                so, se = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                so, se = p.communicate()
        out = [rdpcap_list(os.path.join(wd, "out%d.pcap" % i))
               for i in range(len(rx))]
        stats = None
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                try:
                    stats = json.load(f)
                except ValueError as e:
                    se += "\n(stats JSON does not parse: %s)" % e
        with open(os.path.join(wd, "cmd"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        run = EspdRun(wd, p.returncode, so, se, out, stats, timed_out)
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
        if not keep:
            shutil.rmtree(wd, ignore_errors=True)
            run.workdir = None
        return run

    def check(self, conf):
        """`espd -c FILE --check` on config text: (rc, stdout+stderr, path)."""
        return check_config(self.binary, conf)


def check_config(binary, conf, name="gw.conf"):
    wd = tempfile.mkdtemp(prefix="espd-check-")
    path = os.path.join(wd, name)
    with open(path, "w") as f:
        f.write(conf)
    try:
        p = subprocess.run([binary, "-c", path, "--check"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=30)
        return p.returncode, p.stdout, path
    finally:
        shutil.rmtree(wd, ignore_errors=True)
