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

For a live espd (root: network namespaces, veth pairs, net_af_packet
ports, the control socket, monitors), see LiveEspd at the end.
"""

import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile

__all__ = ["Espd", "EspdError", "stop_process", "EspdRun", "wrpcap_list", "rdpcap_list",
           "DROP_COUNTERS", "check_config", "LiveEspd", "Monitor", "Capture",
           "CtlError", "ctl_request", "ctl_raw", "packet_socket", "Report",
           "counter_delta", "wait_subscribed"]

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
    "IkePuntDropped", "TxDropped", "ReassemblyFailed", "FragNeeded", "FragFailed",
    "IcmpRateLimited", "NeighFailed", "ExceptionRingFull", "TapDropped",
    "SaHandoffDropped", "CryptoQueueFull", "MartianSource",
)



def wait_for(pred, timeout, step=0.05):
    """Poll @pred until it returns something true or @timeout seconds
    pass; returns its last value (so a test checks what it waited for)."""
    import time as _t

    end = _t.monotonic() + timeout
    while True:
        v = pred()
        if v or _t.monotonic() > end:
            return v
        _t.sleep(step)

def stop_process(proc, timeout=10.0, sig=signal.SIGTERM):
    """Send @sig (unless @proc has exited), wait up to @timeout seconds,
    then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


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


def crypto_env_args():
    """(EAL args, espd args) for the crypto engine under test:
    ESPD_CRYPTO_VDEVS="spec;spec" are extra --vdev arguments and
    ESPD_CRYPTO_DEV=NAME makes espd run with --crypto-dev NAME
    (tests/interop/test_cdev.py)."""
    eal = []
    for spec in filter(None, os.environ.get("ESPD_CRYPTO_VDEVS", "").split(";")):
        eal += ["--vdev", spec]
    dev = os.environ.get("ESPD_CRYPTO_DEV")
    return eal, (["--crypto-dev", dev] if dev else [])


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

    # --exit-idle: long enough that a worker descheduled for a while on a
    # loaded 2-vCPU machine is not taken for the end of the pcap.
    def __init__(self, build=None, lcores="0,1", mem=512, exit_idle_ms=1000,
                 timeout=120):
        self.build = os.path.abspath(build or default_build())
        self.binary = os.path.join(self.build, "espd")
        self.lcores = lcores
        self.mem = mem
        self.exit_idle_ms = exit_idle_ms
        self.timeout = timeout
        # The crypto engine under test (tests/interop/test_cdev.py).
        self.eal_extra, self.espd_extra = crypto_env_args()
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
               "--log-level=lib.eal:error"] + vdevs + self.eal_extra + [
               "--", "-c", conf_path, "-s", os.path.join(wd, "espd.sock"),
               "--exit-idle", str(self.exit_idle_ms),
               "--stats-json", stats_path] + self.espd_extra + list(extra_args)
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


# ---- live espd: net_af_packet ports on veth pairs, the control socket ------

class CtlError(Exception):
    """espd answered "error: ..." (the message is the exception's text)."""


def _quote(w):
    return "'" + str(w).replace("'", "'\\''") + "'"


def ctl_raw(sock, line, timeout=10.0):
    """Send @line (bytes, sent as is) over a fresh connection to @sock and
    return everything espd writes before it closes (bytes)."""
    import socket as _s

    c = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        c.connect(sock)
        if line:
            c.sendall(line)
        chunks = []
        while True:
            b = c.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        c.close()


def ctl_request(sock, words, json_out=True, timeout=10.0):
    """One request over the socket protocol (control/sock.h). Returns the
    output after "ok" (parsed JSON when @json_out and there is any), or
    raises CtlError with espd's message."""
    import json as _json

    line = ("json " if json_out else "text ") + " ".join(_quote(w) for w in words) + "\n"
    ans = ctl_raw(sock, line.encode(), timeout).decode(errors="replace")
    head, _, body = ans.partition("\n")
    if head.startswith("error: "):
        raise CtlError(head[7:])
    if head != "ok":
        raise CtlError("malformed answer: %r" % ans[:200])
    if json_out and body.strip():
        return _json.loads(body)
    return body


class Monitor:
    """A `monitor` connection that speaks the socket protocol directly, so
    that it knows when it is subscribed (the "ok" line). Collects the JSON
    events in a thread."""

    def __init__(self, sock, kinds=(), timeout=10.0):
        import json as _json
        import socket as _s
        import threading

        self.events = []
        self.times = []         # when each event arrived (time.monotonic(),
                                # espd's clock for limits)
        self._cv = threading.Condition()
        self._c = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
        self._c.settimeout(timeout)
        self._c.connect(sock)
        self._c.sendall(("json monitor " + " ".join(_quote(k) for k in kinds) +
                         "\n").encode())
        buf = b""
        while b"\n" not in buf:
            b = self._c.recv(4096)
            if not b:
                raise CtlError("monitor: espd closed the connection")
            buf += b
        head, _, rest = buf.partition(b"\n")
        if head != b"ok":
            raise CtlError("monitor: %s" % head.decode(errors="replace"))
        self._buf = rest
        self._json = _json
        self._c.settimeout(0.2)
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import socket as _s
        import time as _t

        while not self._stop:
            while b"\n" in self._buf:
                line, _, self._buf = self._buf.partition(b"\n")
                try:
                    ev = self._json.loads(line)
                except ValueError:
                    ev = {"event": "(unparsable)", "raw": line.decode(errors="replace")}
                with self._cv:
                    self.events.append(ev)
                    self.times.append(_t.monotonic())
                    self._cv.notify_all()
            try:
                b = self._c.recv(65536)
            except _s.timeout:
                continue
            except OSError:
                break
            if not b:
                break
            self._buf += b

    def of(self, kind, since=0):
        with self._cv:
            return [e for e in self.events[since:] if e.get("event") == kind]

    def of_t(self, kind, since=0):
        """Like of(), as (event, arrival time) pairs."""
        with self._cv:
            return [(e, t) for e, t in zip(self.events[since:], self.times[since:])
                    if e.get("event") == kind]

    def ids_consecutive(self, since=0):
        """Do the events since @since carry ids that grow by one each?
        (true for a monitor of every event type)"""
        with self._cv:
            ids = [e.get("id") for e in self.events[since:]]
        return all(isinstance(i, int) for i in ids) and \
            all(b == a + 1 for a, b in zip(ids, ids[1:]))

    def mark(self):
        with self._cv:
            return len(self.events)

    def wait(self, pred, timeout=5.0, since=0):
        """Wait until pred(list of events since @since) is true."""
        import time as _t

        end = _t.monotonic() + timeout
        with self._cv:
            while not pred(self.events[since:]):
                left = end - _t.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    def close(self):
        self._stop = True
        try:
            self._c.close()
        except OSError:
            pass
        self._t.join(2)


_CLONE_NEWNET = 0x40000000



def wait_subscribed(proc, sock, timeout=30.0):
    """Wait until `espctl ... monitor` process @proc has been taken by
    the espd at @sock. espctl does not show the "ok" of the
    subscription, but its first write is the request (wchar in
    /proc/PID/io), and espd serves its clients in turns, every ready one
    per turn and new connections after them: of two requests made one
    after the other once espctl's is sent, the second is answered in a
    later turn than the one that took espctl's. @return False if espctl
    exited or sent nothing in @timeout seconds."""
    import time as _t

    io = "/proc/%d/io" % proc.pid
    end = _t.monotonic() + timeout
    while proc.poll() is None and _t.monotonic() < end:
        try:
            with open(io) as f:
                sent = any(ln.startswith("wchar:") and int(ln.split()[1]) > 0 for ln in f)
        except (OSError, ValueError):
            _t.sleep(0.5)  # no I/O accounting: a fixed pause
            return proc.poll() is None
        if sent:
            for _ in range(2):
                ctl_request(sock, ["state", "count"])
            return True
        _t.sleep(0.01)
    return False

def _setns(fd):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


def packet_socket(netns, iface, rcvbuf=16 << 20):
    """An AF_PACKET socket bound to @iface inside network namespace
    @netns (it stays there; this thread returns to its own namespace)."""
    import socket as _s

    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(os.path.join("/run/netns", netns), os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = _s.socket(_s.AF_PACKET, _s.SOCK_RAW, _s.htons(0x0003))
            try:
                s.setsockopt(_s.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE
            except OSError:
                s.setsockopt(_s.SOL_SOCKET, _s.SO_RCVBUF, rcvbuf)
            s.bind((iface, 0))
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    return s


class Capture:
    """Every frame received on a packet socket (not those it sent), with
    its arrival time, collected by a thread."""

    def __init__(self, sock):
        import threading

        self.sock = sock
        self.frames = []
        self._lock = threading.Lock()
        self._stop = False
        sock.settimeout(0.1)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import socket as _s

        while not self._stop:
            try:
                b, addr = self.sock.recvfrom(65536)
            except _s.timeout:
                continue
            except OSError:
                break
            if addr[2] == 4:  # PACKET_OUTGOING: our own
                continue
            with self._lock:
                self.frames.append(b)

    def count(self):
        with self._lock:
            return len(self.frames)

    def take(self):
        """The frames so far, and forget them."""
        with self._lock:
            f, self.frames = self.frames, []
        return f

    def close(self):
        self._stop = True
        self._t.join(2)


def _sh(*cmd, check=True):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if check and p.returncode != 0:
        raise EspdError("%s: %s" % (" ".join(cmd), p.stdout.strip()))
    return p


class LiveEspd:
    """A running espd with two net_af_packet ports on veth pairs: espd's
    ends (port 0 protected, port 1 unprotected) in the root namespace,
    the test's ends in a namespace of their own. Use as a context manager.

        with LiveEspd(conf) as gw:
            gw.ctl("state", "count")           # {"count": N}
            gw.send0(frames); gw.cap1.frames   # what left port 1
        gw.rc, gw.final_stats                 # after SIGTERM

    Names (namespace, links, EAL prefix) are unique per process and
    instance; everything is removed on exit, even after a failure.
    """

    def __init__(self, conf, build=None, lcores="0,1", mem=512, extra_args=(),
                 ports=2, capture=(1,), huge=False, vdev_args=""):
        self.build = os.path.abspath(build or default_build())
        self.binary = os.path.join(self.build, "espd")
        self.espctl_bin = os.path.join(self.build, "espctl")
        if not os.access(self.binary, os.X_OK):
            raise EspdError("no espd binary at %s" % self.binary)
        self.conf = conf
        self.lcores = lcores
        self.mem = mem
        self.extra_args = list(extra_args)
        self.nports = ports
        self.capture_ports = capture
        # huge: 2 MB hugepages (mounted, enough free) instead of --no-huge;
        # vdev_args: appended to each net_af_packet vdev ("framecnt=4096").
        self.huge = huge
        self.vdev_args = vdev_args
        tag = "%x%x" % (os.getpid() & 0xfffff, next(_seq))
        self.tag = tag
        self.netns = "espdt-" + tag
        self.ifs = ["e%s%d" % (tag, i) for i in range(ports)]      # espd's ends
        self.peers = ["t%s%d" % (tag, i) for i in range(ports)]    # the test's ends
        self.prefix = "espdl" + tag
        self.wd = None
        self.proc = None
        self.rc = None
        self.final_stats = None
        self.stderr = ""
        self.tx = []
        self.caps = {}

    # -- set-up and tear-down
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        self.wd = tempfile.mkdtemp(prefix="espd-live-")
        self.sock = os.path.join(self.wd, "espd.sock")
        self.stats_path = os.path.join(self.wd, "stats.json")
        _sh("ip", "netns", "add", self.netns)
        for e, t in zip(self.ifs, self.peers):
            _sh("ip", "link", "add", e, "type", "veth", "peer", "name", t)
            _sh("ip", "link", "set", t, "netns", self.netns)
            _sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % e)
            _sh("ip", "netns", "exec", self.netns, "sysctl", "-qw",
                "net.ipv6.conf.%s.disable_ipv6=1" % t)
            _sh("ip", "link", "set", e, "up")
            _sh("ip", "netns", "exec", self.netns, "ip", "link", "set", t, "up",
                "promisc", "on")
        conf_path = os.path.join(self.wd, "gw.conf")
        with open(conf_path, "w") as f:
            f.write(self.conf)
        vdevs = []
        for i, e in enumerate(self.ifs):
            vdevs += ["--vdev", "net_af_packet%d,iface=%s%s" % (
                i, e, "," + self.vdev_args if self.vdev_args else "")]
        lc = ["--lcores", self.lcores] if "@" in self.lcores else ["-l", self.lcores]
        ceal, cespd = crypto_env_args()
        self.cmd = [self.binary] + ([] if self.huge else ["--no-huge"]) + ["--no-pci"] + lc + [
            "-m", str(self.mem), "--file-prefix", self.prefix,
            "--log-level=lib.eal:error"] + vdevs + ceal + [
            "--", "-c", conf_path, "-s", self.sock,
            "--stats-json", self.stats_path] + cespd + self.extra_args
        self._errf = open(os.path.join(self.wd, "stderr"), "w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self._errf, stderr=subprocess.STDOUT,
                                     cwd=self.wd)
        import time as _t

        end = _t.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise EspdError("espd exited %d at start-up:\n%s" % (
                    self.proc.returncode, self.read_stderr()))
            try:
                self.ctl("stats")
                break
            except (OSError, CtlError):
                if _t.time() > end:
                    raise EspdError("espd's socket never answered:\n" + self.read_stderr())
                _t.sleep(0.1)
        for i in range(self.nports):
            self.tx.append(packet_socket(self.netns, self.peers[i]))
        for i in self.capture_ports:
            self.caps[i] = Capture(packet_socket(self.netns, self.peers[i]))
        return self

    def read_stderr(self):
        try:
            self._errf.flush()
            self._errf.seek(0)
            return self._errf.read()
        except (OSError, ValueError, AttributeError):
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM; returns espd's exit status and reads --stats-json."""
        import json as _json

        if self.proc is None:
            return None
        self.rc = stop_process(self.proc, timeout)
        self.stderr = self.read_stderr()
        if os.path.exists(self.stats_path):
            try:
                with open(self.stats_path) as f:
                    self.final_stats = _json.load(f)
            except ValueError:
                self.final_stats = None
        return self.rc

    def close(self):
        for c in self.caps.values():
            c.close()
            c.sock.close()
        self.caps = {}
        for s in self.tx:
            s.close()
        self.tx = []
        if self.proc is not None and self.rc is None:
            self.stop()
        for e in self.ifs:
            _sh("ip", "link", "del", e, check=False)
        _sh("ip", "netns", "del", self.netns, check=False)
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)
        if self.wd and not os.environ.get("ESPD_KEEP"):
            shutil.rmtree(self.wd, ignore_errors=True)

    # -- control
    def ctl(self, *words, json_out=True, timeout=10.0):
        return ctl_request(self.sock, words, json_out, timeout)

    def espctl(self, *args, timeout=30):
        """Run build/espctl -s SOCK ARGS...: a CompletedProcess (text)."""
        return subprocess.run([self.espctl_bin, "-s", self.sock] + [str(a) for a in args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)

    def stats(self):
        return self.ctl("stats")

    def counters(self):
        return self.stats()["global"]

    def telemetry(self, cmd):
        """DPDK telemetry's answer to @cmd ("/espd/stats"), as a dict."""
        import socket as _socket

        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            s.settimeout(10)
            s.connect(os.path.join("/var/run/dpdk", self.prefix, "dpdk_telemetry.v2"))
            s.recv(1 << 16)  # the greeting
            s.send(cmd.encode())
            return json.loads(s.recv(1 << 20).decode())
        finally:
            s.close()

    def monitor(self, *kinds):
        return Monitor(self.sock, kinds)

    # -- traffic
    def send(self, port, frames, pace=0.0):
        """Send frames (scapy packets or bytes) into espd's port @port."""
        import time as _t

        s = self.tx[port]
        for i, f in enumerate(frames):
            s.send(bytes(f))
            if pace:
                _t.sleep(pace)


class Report:
    """One line per check ("PASS name" / "FAIL name" and the reasons),
    then "NAME: N passed, M failed" from close()."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, *why):
        if ok:
            self.passed += 1
            print("PASS %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s" % what, flush=True)
            for w in why:
                for line in str(w).splitlines():
                    print("     %s" % line, flush=True)
        return bool(ok)

    def equal(self, got, want, what):
        return self.check(got == want, what, "got %r, want %r" % (got, want))

    def close(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


def counter_delta(before, after):
    """{name: after - before} for the global counters that changed."""
    b, a = before["global"], after["global"]
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}
