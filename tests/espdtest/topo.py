"""Two live espd gateways between two sites, in network namespaces.

    hostA --veth-- gwA --veth-- WAN (bridge) --veth-- gwB --veth-- hostB
    site A                      172.16.0.0/24                  site B
    192.168.1.10/24  .1 = gwA   .1 = gwA, .2 = gwB   gwB = .1  192.168.2.10/24
    fd01::10/64                 2001:db8::1, ::2                fd02::10/64

With xdp=("A",) gwA's unprotected port is net_af_xdp with `xdp-steer`
(DESIGN.md "AF_XDP ports"): its namespace's kernel keeps the wan veth
with gwA's WAN addresses, answers ARP/ND and takes SSH/IKE, and espd's
XDP program hands espd only its ESP and transit traffic.

With taps=("A",) gwA's ports are net_tap interfaces of its namespace,
whose RX queues have interrupts (`set worker-idle adaptive` waits on
them): there is no host A namespace, gwA's namespace plays host A on its
"lan" tap, and its "wan" tap is bridged (wbr) to the veth to the WAN.

With nat=True a NAT namespace sits between gwA and the WAN: gwA's
unprotected side is 10.99.0.2/24 (route to 172.16.0.0/24 via 10.99.0.1),
and the NAT masquerades it as 172.16.0.3 with nftables.

Each gateway is an espd on net_af_packet ports over the veths of its
namespace, started inside it (`ip netns exec`), so a `tap` interface
appears there. The WAN namespace holds the bridge (br0, 172.16.0.254/24,
2001:db8::fe/64), where tcpdump captures and tests play "the Internet".

    with Topo(build="build") as t:
        km = PairKeyManager.for_topo(t).start()    # espdtest.pairkm
        t.ping("hA", "192.168.2.10")
        t.gw["A"].ctl("state", "list")
        ...
        t.stop_check(report)      # SIGTERM both espd: exit 0, mempool 0

Everything (namespaces, veths, espd, helper processes) is removed on
close(), at interpreter exit, and on SIGTERM/SIGINT/SIGHUP. Names carry
the pid: leftovers() lists what a process left behind.

Sockets: ns_socket() makes a socket inside a namespace (it stays there),
so traffic generators and listeners run as threads of the test itself;
ping() and traceroute() are built on raw sockets and need no package.

Run as root, under /usr/bin/python3 where scapy is wanted.
"""

import array
import atexit
import ctypes
import errno
import fcntl
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# wait_for is used by the live tests through this module too.
from espdtest.run import CtlError, Report, ctl_request, default_build, stop_process, wait_for

__all__ = ["Topo", "Gateway", "TopoError", "ns_socket", "in_ns", "ns_run", "ping",
           "traceroute", "tcp_transfer", "leftovers", "have", "MARK"]

_seq = itertools.count()
_live = []              # Topo objects not yet closed
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# A pattern the test payloads carry every 64 bytes, so a capture can be
# searched for plaintext.
MARK = b"ESPD-PLAINTEXT!!"


class TopoError(Exception):
    pass


def have(prog):
    """Is @prog on PATH (or in /usr/sbin, /sbin)?"""
    if shutil.which(prog):
        return True
    return any(os.access(os.path.join(d, prog), os.X_OK) for d in ("/usr/sbin", "/sbin"))


def proc_prefix():
    """The prefix of every name this process makes."""
    return "lv%x" % os.getpid()


def _sh(*cmd, check=True, timeout=30, input=None):
    p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise TopoError("%s: %s" % (" ".join(str(c) for c in cmd), p.stdout.strip()))
    return p


def ns_run(ns, *cmd, check=True, timeout=30, input=None):
    """Run a command inside namespace @ns; a CompletedProcess (text, stderr
    merged into stdout)."""
    return _sh("ip", "netns", "exec", ns, *cmd, check=check, timeout=timeout, input=input)


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


class in_ns:
    """`with in_ns(ns):` the calling thread is in network namespace @ns
    (sockets made here stay there)."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(os.path.join("/run/netns", self.ns), os.O_RDONLY)
        try:
            _setns(target)
        except BaseException:
            os.close(self.own)
            raise
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc):
        try:
            _setns(self.own)
        finally:
            os.close(self.own)
        return False


def ns_socket(ns, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
    """A socket made inside network namespace @ns."""
    with in_ns(ns):
        return socket.socket(family, type, proto)


def sysctl(ns, name, value):
    """Write a sysctl (dotted name) of namespace @ns."""
    with in_ns(ns):
        with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
            f.write(str(value))


# ---- ethtool, without ethtool ------------------------------------------

_SIOCETHTOOL = 0x8946
_ETHTOOL_OFF = (0x17, 0x1f, 0x24, 0x2c)   # STXCSUM, STSO, SGSO, SGRO


def offloads_off(ns, ifname):
    """Turn off TX checksum offload, TSO, GSO and GRO on @ifname, as
    `ethtool -K IF tx off tso off gso off gro off` would. Frames that a
    net_af_packet port reads from a veth must carry complete checksums
    and be no bigger than the MTU: the PMD ignores the kernel's
    "checksum not ready" and has 2 KB frames."""
    s = ns_socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for cmd in _ETHTOOL_OFF:
            buf = array.array("I", [cmd, 0])
            addr, _ = buf.buffer_info()
            ifr = struct.pack("16sP", ifname.encode(), addr)
            try:
                fcntl.ioctl(s.fileno(), _SIOCETHTOOL, ifr)
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
    finally:
        s.close()


# ---- ICMP with raw sockets ---------------------------------------------

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ping(ns, dst, count=1, size=56, df=None, timeout=3.0, interval=0.05, ttl=None,
         src=None):
    """Send @count ICMP echo requests of @size payload bytes from
    namespace @ns to @dst (IPv4 or IPv6) over a raw socket. @df: True
    sets DF (IPv4) / forbids local fragmentation (IPv6), False clears it,
    None leaves the kernel's default (PMTU discovery: DF set).

    Returns a list of @count dicts {"seq", "reply" (bool), "rtt" (s),
    "error": None or {"type", "code", "src", "mtu"} (an ICMP error about
    this request), "local": errno name when send() failed (EMSGSIZE once
    the kernel learned a smaller PMTU)}."""
    v6 = ":" in dst
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = ns_socket(ns, fam, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident = random.randrange(1, 0xffff)
    res = [{"seq": i, "reply": False, "rtt": None, "error": None, "local": None}
           for i in range(count)]
    sent = {}
    try:
        if src:
            s.bind((src, 0))
        if df is not None:
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, 23, 2 if df else 0)  # IPV6_MTU_DISCOVER
            else:
                s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)    # IP_MTU_DISCOVER
        if ttl is not None:
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            else:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.settimeout(0.02)
        payload = (MARK * (size // len(MARK) + 1))[:size]

        def handle(b, frm):
            now = time.time()
            if not v6:
                ihl = (b[0] & 15) * 4
                b = b[ihl:]
            if len(b) < 8:
                return
            t, c = b[0], b[1]
            if (not v6 and t == 0) or (v6 and t == 129):
                i, q = struct.unpack("!HH", b[4:8])
                if i == ident and q in sent and q < count:
                    res[q]["reply"] = True
                    res[q]["rtt"] = now - sent[q]
                return
            # An error: the offending header follows.
            inner = b[8:]
            if v6:
                if len(inner) < 48 or inner[6] != 58:
                    return
                e = inner[40:]
                if e[0] != 128:
                    return
            else:
                if len(inner) < 28 or inner[9] != 1:
                    return
                e = inner[(inner[0] & 15) * 4:]
                if e[0] != 8:
                    return
            i, q = struct.unpack("!HH", e[4:8])
            if i != ident or q >= count:
                return
            mtu = None
            if v6 and t == 2:
                mtu = struct.unpack("!I", b[4:8])[0]
            elif not v6 and t == 3 and c == 4:
                mtu = struct.unpack("!H", b[6:8])[0]
            res[q]["error"] = {"type": t, "code": c, "src": frm[0], "mtu": mtu}

        def drain(until):
            while time.time() < until:
                try:
                    b, frm = s.recvfrom(65535)
                except socket.timeout:
                    continue
                handle(b, frm)

        for i in range(count):
            hdr = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, i)
            if not v6:
                hdr = struct.pack("!BBHHH", 8, 0, _csum(hdr + payload), ident, i)
            sent[i] = time.time()
            try:
                s.sendto(hdr + payload, (dst, 0))
            except OSError as e:
                res[i]["local"] = errno.errorcode.get(e.errno, str(e.errno))
            drain(time.time() + interval)
        end = time.time() + timeout
        while time.time() < end and not all(r["reply"] or r["error"] or r["local"]
                                            for r in res):
            drain(min(end, time.time() + 0.05))
    finally:
        s.close()
    return res


def replies(res):
    return sum(1 for r in res if r["reply"])


def traceroute(ns, dst, max_hops=5, port=33434, timeout=1.5, probes=1):
    """UDP probes with TTL 1, 2, ... from namespace @ns to @dst (IPv4);
    a list, per hop, of (source of the answer or None, ICMP type, code).
    Stops at the first Port Unreachable."""
    icmp = ns_socket(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    udp = ns_socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
    hops = []
    try:
        udp.bind(("0.0.0.0", 0))
        sport = udp.getsockname()[1]
        icmp.settimeout(0.05)
        for ttl in range(1, max_hops + 1):
            ans = None
            for p in range(probes):
                dport = port + ttl * probes + p
                udp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
                udp.sendto(MARK, (dst, dport))
                end = time.time() + timeout
                while time.time() < end and ans is None:
                    try:
                        b, frm = icmp.recvfrom(65535)
                    except socket.timeout:
                        continue
                    b = b[(b[0] & 15) * 4:]
                    if len(b) < 36 or b[0] not in (3, 11):
                        continue
                    inner = b[8:]
                    ihl = (inner[0] & 15) * 4
                    if inner[9] != 17 or len(inner) < ihl + 8:
                        continue
                    sp, dp = struct.unpack("!HH", inner[ihl:ihl + 4])
                    if sp == sport and dp == dport:
                        ans = (frm[0], b[0], b[1])
                if ans:
                    break
            hops.append(ans or (None, None, None))
            if ans and ans[1] == 3:
                break
    finally:
        icmp.close()
        udp.close()
    return hops


# ---- TCP and UDP traffic between namespaces ------------------------------

def payload(nbytes, seed=None):
    """@nbytes of random-looking data with MARK every 64 bytes."""
    rnd = random.Random(seed).randbytes(48) if seed is not None else os.urandom(48)
    block = (MARK + rnd) * 1024                       # 64 KiB
    blk = bytearray(block)
    out = bytearray()
    i = 0
    while len(out) < nbytes:
        # vary the block a little so that compression or dedup cannot help
        struct.pack_into("!I", blk, 16, i)
        out += blk
        i += 1
    return bytes(out[:nbytes])


def tcp_transfer(src_ns, dst_ns, dst, nbytes=None, data=None, port=None, bind=None,
                 timeout=60, mss=None, family=None):
    """Send @data (or @nbytes of payload()) over TCP from namespace
    @src_ns to a listener on (@bind or any, @port) in @dst_ns, reached at
    @dst. Returns a dict: ok (sha256 matches and every byte arrived),
    sent, received, seconds, error, sha_sent, sha_recv."""
    if data is None:
        data = payload(nbytes)
    v6 = ":" in dst
    fam = family or (socket.AF_INET6 if v6 else socket.AF_INET)
    res = {"ok": False, "sent": 0, "received": 0, "seconds": None, "error": None,
           "sha_sent": hashlib.sha256(data).hexdigest(), "sha_recv": None}
    ls = ns_socket(dst_ns, fam, socket.SOCK_STREAM)
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((bind or ("::" if v6 else "0.0.0.0"), port or 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        ls.settimeout(timeout)
        got = {}

        def serve():
            h = hashlib.sha256()
            n = 0
            try:
                c, _ = ls.accept()
                c.settimeout(timeout)
                with c:
                    while True:
                        b = c.recv(1 << 20)
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                    c.sendall(b"done %d" % n)
            except OSError as e:
                got["error"] = "receiver: %s" % e
            got["n"] = n
            got["sha"] = h.hexdigest()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        c = ns_socket(src_ns, fam, socket.SOCK_STREAM)
        t0 = time.time()
        try:
            if mss:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
            c.settimeout(timeout)
            c.connect((dst, port))
            c.sendall(data)
            res["sent"] = len(data)
            c.shutdown(socket.SHUT_WR)
            ack = c.recv(100)
            res["ack"] = ack.decode(errors="replace")
        except OSError as e:
            res["error"] = "sender: %s" % e
        finally:
            c.close()
        t.join(timeout)
        res["seconds"] = time.time() - t0
        res["received"] = got.get("n", 0)
        res["sha_recv"] = got.get("sha")
        res["error"] = res["error"] or got.get("error")
        res["ok"] = (res["error"] is None and res["received"] == len(data) and
                     res["sha_recv"] == res["sha_sent"])
    finally:
        ls.close()
    return res


# ---- leftovers -------------------------------------------------------------

def leftovers(prefix=None):
    """(namespaces, processes) whose names carry @prefix (default: this
    process's): what a test must not leave behind."""
    prefix = prefix or proc_prefix()
    p = _sh("ip", "netns", "list", check=False)
    nss = [ln.split()[0] for ln in p.stdout.splitlines()
           if ln.strip() and ln.split()[0].startswith(prefix)]
    procs = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if any(prefix.encode() in w for w in cmd) and int(pid) != os.getpid():
            procs.append("%s %s" % (pid, b" ".join(cmd).decode(errors="replace")[:120]))
    return nss, procs


# ---- the topology ----------------------------------------------------------

SITE = {"A": {"net4": "192.168.1.0/24", "net6": "fd01::/64", "gw4": "192.168.1.1",
              "gw6": "fd01::1", "host4": "192.168.1.10", "host6": "fd01::10"},
        "B": {"net4": "192.168.2.0/24", "net6": "fd02::/64", "gw4": "192.168.2.1",
              "gw6": "fd02::1", "host4": "192.168.2.10", "host6": "fd02::10"}}
WAN4 = {"A": "172.16.0.1", "B": "172.16.0.2", "nat": "172.16.0.3", "wan": "172.16.0.254"}
WAN6 = {"A": "2001:db8::1", "B": "2001:db8::2", "wan": "2001:db8::fe"}
NAT_IN = "10.99.0.1"
NAT_GWA = "10.99.0.2"
MACS = {"A": ("02:00:00:0a:00:01", "02:00:00:0a:00:02"),
        "B": ("02:00:00:0b:00:01", "02:00:00:0b:00:02")}
# The kernel's side of a net_tap gateway's "lan" and "wan" (plumb_taps)
HOST_MACS = {"A": ("02:00:00:0a:01:01", "02:00:00:0a:01:02"),
             "B": ("02:00:00:0b:01:01", "02:00:00:0b:01:02")}
OTHER = {"A": "B", "B": "A"}
# DPDK 22.11's net_af_xdp keeps 2048 mbufs in its fill ring
# (ETH_AF_XDP_DFLT_NUM_DESCS) and, until the next send reclaims them, one
# per TX descriptor not yet completed (espd's 1024): they are still
# counted in use when espd writes its stats, and the PMD never gives the
# fill ring's back. A leak of espd's own shows above that.
XDP_HELD = 2048 + 1024


class Gateway:
    """One espd in its namespace: port 0 ("lan", protected) and port 1
    ("wan", unprotected)."""

    def __init__(self, topo, side, ns, conf, lcores):
        self.topo = topo
        self.side = side
        self.ns = ns
        self.conf = conf
        self.lcores = lcores
        self.build = topo.build
        self.binary = os.path.join(self.build, "espd")
        self.espctl_bin = os.path.join(self.build, "espctl")
        self.wd = os.path.join(topo.wd, "gw" + side)
        os.makedirs(self.wd, exist_ok=True)
        self.sock = os.path.join(self.wd, "espd.sock")
        self.conf_path = os.path.join(self.wd, "gw.conf")
        self.stats_path = os.path.join(self.wd, "stats.json")
        self.prefix = "%s%s" % (topo.tag, side)
        self.xdp = side in topo.xdp
        self.taps = side in topo.taps
        self.proc = None
        self.rc = None
        self.final_stats = None
        self.starts = 0
        self.log_path = os.path.join(self.wd, "espd.log")
        # Where this gateway's outer address is, as it and as its peer see it.
        self.local = NAT_GWA if (topo.nat and side == "A") else WAN4[side]
        self.public = WAN4["nat"] if (topo.nat and side == "A") else WAN4[side]

    @property
    def mac_lan(self):
        return MACS[self.side][0]

    @property
    def mac_wan(self):
        return MACS[self.side][1]

    def start(self, timeout=30):
        """Start espd (again) with the same configuration; return once its
        socket answers."""
        with open(self.conf_path, "w") as f:
            f.write(self.conf)
        try:
            os.unlink(self.stats_path)
        except OSError:
            pass
        lc = ["--lcores", self.lcores] if "@" in self.lcores else ["-l", self.lcores]
        wan = "net_af_xdp0,iface=wan" if self.xdp else "net_af_packet1,iface=wan"
        lan = "net_af_packet0,iface=lan"
        if self.taps:
            lan, wan = "net_tap0,iface=lan", "net_tap1,iface=wan"
        self.cmd = ["ip", "netns", "exec", self.ns, self.binary, "--no-huge", "--no-pci"] + \
            lc + ["-m", "512", "--file-prefix", self.prefix, "--log-level=lib.eal:error",
                  "--log-level=pmd.net.tap:error", "--vdev", lan, "--vdev", wan,
                  "--", "-c", self.conf_path, "-s", self.sock, "--stats-json",
                  self.stats_path]
        self._log = open(self.log_path, "a")
        self._log.write("==== start %d: %s\n" % (self.starts, " ".join(self.cmd)))
        self._log.flush()
        self.rc = None
        self.final_stats = None
        self.t_start = time.time()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.wd, start_new_session=True)
        self.starts += 1
        end = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise TopoError("espd %s exited %d at start-up:\n%s" % (
                    self.side, self.proc.returncode, self.log_tail()))
            try:
                self.ctl("stats")
                break
            except (OSError, CtlError):
                if time.time() > end:
                    raise TopoError("espd %s: the socket never answered:\n%s" % (
                        self.side, self.log_tail()))
                time.sleep(0.05)
        if self.taps:
            self.topo.plumb_taps(self.side)
        self.t_ready = time.time()
        return self

    def log_tail(self, n=3000):
        try:
            with open(self.log_path) as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crash."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
            self.rc = self.proc.returncode
            self._log.close()
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit status and reads --stats-json."""
        if self.proc is None:
            return None
        rc = stop_process(self.proc, timeout)
        if self.rc is None:
            self.rc = rc
            try:
                with open(self.stats_path) as f:
                    self.final_stats = json.load(f)
            except (OSError, ValueError):
                self.final_stats = None
            self._log.close()
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)
        return self.rc

    # -- control
    def ctl(self, *words, json_out=True, timeout=10.0):
        return ctl_request(self.sock, [str(w) for w in words], json_out, timeout)

    def espctl(self, *args, timeout=30):
        return subprocess.run([self.espctl_bin, "-s", self.sock] + [str(a) for a in args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)

    def stats(self):
        return self.ctl("stats")

    def counters(self):
        return self.stats()["global"]

    def counter(self, name):
        return self.counters().get(name, 0)

    def sas(self):
        return self.ctl("state", "list")

    def neigh(self):
        return self.ctl("neigh", "list")


class Topo:
    """The namespaces, links and two espd of the live tests (see the
    module's docstring). Options:
      nat: a NAT namespace between gwA and the WAN;
      tap: {"A": "tapA"} gives gwA's unprotected port `tap tapA`
           (keys "A"/"B"; values a name, or a dict {port: name});
      mtu: {"A": {1: 1400}}: `mtu` of a gateway's port; a WAN-side mtu
           also goes on the WAN's links (a WAN with that MTU), a LAN-side
           one (port 0) on the host's link;
      pfp: the PFP fields of the outbound policies (None: no pfp);
      extra: {"A": "config lines"} appended to a gateway's config;
      v6: policies for the IPv6 sites too (reqid 2);
      policies: the gateways' configs carry the site-to-site policies
           (False: a key manager such as charon installs them);
      peer_b: no espd on side B: its namespace is a plain Linux router
           (wan 172.16.0.2, lan 192.168.2.1), for a stock IKE peer;
      start: start espd (else call start_gateways());
      xdp: the sides whose unprotected port is net_af_xdp with xdp-steer;
      taps: the sides whose espd runs on net_tap ports (the module's
           docstring); their host is the gateway's namespace.
    """

    def __init__(self, build=None, nat=False, tap=None, mtu=None, pfp="src,dst,proto,sport,dport",
                 extra=None, v6=True, start=True, log=None, wan_mtu=None, policies=True,
                 peer_b=False, xdp=(), taps=()):
        self.build = os.path.abspath(build or default_build())
        for b in ("espd", "espctl"):
            if not os.access(os.path.join(self.build, b), os.X_OK):
                raise TopoError("no %s in %s (build it first)" % (b, self.build))
        self.nat = nat
        self.tap = tap or {}
        self.mtu = mtu or {}
        self.pfp = pfp
        self.extra = extra or {}
        self.v6 = v6
        self.policies = policies
        self.peer_b = peer_b
        self.xdp = tuple(xdp)
        self.taps = tuple(taps)
        if self.taps and (nat or peer_b or self.xdp or self.tap or self.mtu):
            raise TopoError("taps: not with nat, peer_b, xdp, tap or mtu")
        self.want_start = start
        self.log = log or (lambda m: None)
        self.tag = "%sn%d" % (proc_prefix(), next(_seq))
        self.ns = {k: "%s%s" % (self.tag, k) for k in ("hA", "gA", "wan", "gB", "hB")}
        if nat:
            self.ns["nat"] = "%snat" % self.tag
        for side in self.taps:
            self.ns["h" + side] = self.ns["g" + side]
        self.made = []          # namespaces made, in order
        self.procs = []         # helper processes (tcpdump...)
        self.gw = {}
        self.closed = False
        self.wan_mtu = wan_mtu or max([m.get(1, 0) for m in self.mtu.values()] + [0]) or None
        self.wd = None

    # -- set-up
    def __enter__(self):
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _netns(self, key):
        ns = self.ns[key]
        _sh("ip", "netns", "add", ns)
        self.made.append(ns)
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def _veth(self, ns1, if1, ns2, if2, mtu=None):
        _sh("ip", "-n", ns1, "link", "add", if1, "type", "veth", "peer", "name", if2,
            "netns", ns2)
        for ns, i in ((ns1, if1), (ns2, if2)):
            if mtu:
                _sh("ip", "-n", ns, "link", "set", i, "mtu", mtu)

    def setup(self):
        _live.append(self)
        _install_handlers()
        # The tag in the path: helpers writing there (tcpdump -w) carry it.
        self.wd = tempfile.mkdtemp(prefix="espd-topo-%s-" % self.tag)
        ns = self.ns
        for k in ns:
            if k[0] != "h" or k[1:] not in self.taps:
                self._netns(k)
        wmtu = self.wan_mtu
        # hosts <-> gateways (a LAN-side mtu goes on the host's link too)
        for side in ("A", "B"):
            if side not in self.taps:
                self._veth(ns["g" + side], "lan", ns["h" + side], "eth0",
                           self.mtu.get(side, {}).get(0))
        # gateways <-> WAN (through the NAT for A); a tap side's veth
        # ends on its bridge, its tap "wan" joins it once espd made it
        wanif = {s: "wanv" if s in self.taps else "wan" for s in ("A", "B")}
        if self.nat:
            self._veth(ns["gA"], "wan", ns["nat"], "in", wmtu)
            self._veth(ns["nat"], "out", ns["wan"], "nat", wmtu)
        else:
            self._veth(ns["gA"], wanif["A"], ns["wan"], "gwa", wmtu)
        self._veth(ns["gB"], wanif["B"], ns["wan"], "gwb", wmtu)
        for side in self.taps:
            n = ns["g" + side]
            _sh("ip", "-n", n, "link", "add", "wbr", "type", "bridge", "stp_state", "0",
                "forward_delay", "0")
            for i in ("wbr", "wanv"):
                sysctl(n, "net.ipv6.conf.%s.disable_ipv6" % i, 1)
                _sh("ip", "-n", n, "link", "set", i, "arp", "off")
            _sh("ip", "-n", n, "link", "set", "wanv", "master", "wbr", "up")
            _sh("ip", "-n", n, "link", "set", "wbr", "up")
            offloads_off(n, "wanv")

        # hosts
        for side, key in (("A", "hA"), ("B", "hB")):
            if side in self.taps:
                continue
            n, s = ns[key], SITE[side]
            _sh("ip", "-n", n, "addr", "add", s["host4"] + "/24", "dev", "eth0")
            _sh("ip", "-n", n, "addr", "add", s["host6"] + "/64", "dev", "eth0", "nodad")
            _sh("ip", "-n", n, "link", "set", "eth0", "up")
            _sh("ip", "-n", n, "route", "add", "default", "via", s["gw4"])
            _sh("ip", "-n", n, "-6", "route", "add", "default", "via", s["gw6"])
            offloads_off(n, "eth0")

        # WAN: a bridge
        w = ns["wan"]
        _sh("ip", "-n", w, "link", "add", "br0", "type", "bridge", "stp_state", "0",
            "forward_delay", "0", "mcast_snooping", "0")
        ports = ["gwb"] + (["nat"] if self.nat else ["gwa"])
        for p in ports:
            _sh("ip", "-n", w, "link", "set", p, "master", "br0")
            _sh("ip", "-n", w, "link", "set", p, "up")
            offloads_off(w, p)
        if wmtu:
            _sh("ip", "-n", w, "link", "set", "br0", "mtu", wmtu)
        _sh("ip", "-n", w, "addr", "add", WAN4["wan"] + "/24", "dev", "br0")
        _sh("ip", "-n", w, "addr", "add", WAN6["wan"] + "/64", "dev", "br0", "nodad")
        # promisc: a capture on br0 sees what the bridge forwards too
        _sh("ip", "-n", w, "link", "set", "br0", "up", "promisc", "on")
        offloads_off(w, "br0")

        if self.nat:
            n = ns["nat"]
            _sh("ip", "-n", n, "addr", "add", NAT_IN + "/24", "dev", "in")
            _sh("ip", "-n", n, "addr", "add", WAN4["nat"] + "/24", "dev", "out")
            for i in ("in", "out"):
                _sh("ip", "-n", n, "link", "set", i, "up")
                offloads_off(n, i)
            sysctl(n, "net.ipv4.ip_forward", 1)
            if not have("nft"):
                raise TopoError("SKIP: nft is not installed (Debian package nftables)")
            ns_run(n, "nft", "-f", "-", input=(
                "table ip nat {\n"
                " chain post { type nat hook postrouting priority 100; policy accept;\n"
                "  oifname \"out\" masquerade\n }\n}\n"))

        # gateways: espd owns lan and wan. The kernel of the namespace
        # must not answer on them: no addresses, no IPv6, no ARP, and the
        # veths are ports of a bridge that stays down, so the kernel drops
        # whatever they receive after espd's packet socket has seen it
        # (otherwise the kernel would accept frames for the TAP's
        # addresses straight from the veth, bypassing espd).
        for side in ("A",) if self.peer_b else ("A", "B"):
            n = ns["g" + side]
            if side in self.taps:
                continue
            _sh("ip", "-n", n, "link", "add", "sink", "type", "bridge")
            for i, mac in (("lan", MACS[side][0]), ("wan", MACS[side][1])):
                if i == "wan" and side in self.xdp:
                    # xdp-steer: the kernel keeps the interface, with
                    # espd's addresses, for ARP, ND, SSH and IKE; it
                    # forwards nothing (ip_forward stays 0).
                    _sh("ip", "-n", n, "link", "set", i, "address", mac)
                    local = NAT_GWA + "/24" if (self.nat and side == "A") else \
                        WAN4[side] + "/24"
                    _sh("ip", "-n", n, "addr", "add", local, "dev", i)
                    if not (self.nat and side == "A"):
                        _sh("ip", "-n", n, "addr", "add", WAN6[side] + "/64", "dev", i,
                            "nodad")
                    _sh("ip", "-n", n, "link", "set", i, "up")
                    offloads_off(n, i)
                    continue
                sysctl(n, "net.ipv6.conf.%s.disable_ipv6" % i, 1)
                _sh("ip", "-n", n, "link", "set", i, "address", mac, "arp", "off",
                    "master", "sink")
                _sh("ip", "-n", n, "link", "set", i, "up")
        if self.peer_b:
            n, s = ns["gB"], SITE["B"]
            for i, mac, addrs in (("lan", MACS["B"][0], [s["gw4"] + "/24"]),
                                  ("wan", MACS["B"][1], [WAN4["B"] + "/24"])):
                _sh("ip", "-n", n, "link", "set", i, "address", mac, "up")
                for a in addrs:
                    _sh("ip", "-n", n, "addr", "add", a, "dev", i)
                offloads_off(n, i)
            sysctl(n, "net.ipv4.ip_forward", 1)
        for side in ("A",) if self.peer_b else ("A", "B"):
            self.gw[side] = Gateway(self, side, ns["g" + side], self.gw_conf(side),
                                    "0@0,1@1" if side == "A" else "0@1,1@0")
        if self.want_start:
            self.start_gateways()
        return self

    def start_gateways(self):
        for g in self.gw.values():
            g.start()

    def gw_conf(self, side):
        s, o = SITE[side], SITE[OTHER[side]]
        mtu = self.mtu.get(side, {})
        tap = self.tap.get(side)
        if isinstance(tap, str):
            tap = {1: tap}
        tap = tap or {}
        local = NAT_GWA if (self.nat and side == "A") else WAN4[side]
        # the peer's outer address as this gateway sees it
        peer = WAN4["nat"] if (self.nat and side == "B") else WAN4[OTHER[side]]

        def port(pid, role, addrs, mac):
            words = ["port", pid, "role", role]
            for a in addrs:
                words += ["addr", a]
            words += ["mac", mac]
            if pid in mtu:
                words += ["mtu", mtu[pid]]
            if pid in tap:
                words += ["tap", tap[pid]]
            if pid == 1 and side in self.xdp:
                words += ["xdp-steer"]
            return " ".join(str(w) for w in words)

        lines = ["# generated by tests/espdtest/topo.py: gateway %s" % side,
                 port(0, "protected", [s["gw4"] + "/24", s["gw6"] + "/64"], MACS[side][0])]
        if self.nat and side == "A":
            lines.append(port(1, "unprotected", [NAT_GWA + "/24"], MACS[side][1]))
            lines.append("route add 172.16.0.0/24 port 1 via %s" % NAT_IN)
        else:
            lines.append(port(1, "unprotected", [WAN4[side] + "/24", WAN6[side] + "/64"],
                              MACS[side][1]))
        lines.append("set worker-idle adaptive")
        pfp = (" pfp " + self.pfp) if self.pfp else ""
        nets = [("net4", 1)] + ([("net6", 2)] if self.v6 else [])
        if not self.policies:
            nets = []
        for net, reqid in nets:
            lines.append("policy add src %s dst %s dir out tmpl src %s dst %s proto esp "
                         "reqid %d mode tunnel%s" % (s[net], o[net], local, peer, reqid, pfp))
            lines.append("policy add src %s dst %s dir fwd tmpl src %s dst %s proto esp "
                         "reqid %d mode tunnel" % (o[net], s[net], peer, local, reqid))
        if self.extra.get(side):
            lines.append(self.extra[side].rstrip("\n"))
        return "\n".join(lines) + "\n"

    def plumb_taps(self, side):
        """After gw@side's espd made its taps: "lan" becomes host @side's
        link (its own MAC, the host's addresses and routes), "wan" a port
        of the bridge to the WAN. Their MACs were espd's (net_tap gives
        the kernel side the port's): a bridge would take frames for its
        port's own MAC as its own."""
        n, s = self.ns["g" + side], SITE[side]
        _sh("ip", "-n", n, "link", "set", "lan", "address", HOST_MACS[side][0], "up")
        _sh("ip", "-n", n, "addr", "add", s["host4"] + "/24", "dev", "lan")
        _sh("ip", "-n", n, "addr", "add", s["host6"] + "/64", "dev", "lan", "nodad")
        _sh("ip", "-n", n, "route", "add", "default", "via", s["gw4"])
        _sh("ip", "-n", n, "-6", "route", "add", "default", "via", s["gw6"])
        offloads_off(n, "lan")
        sysctl(n, "net.ipv6.conf.wan.disable_ipv6", 1)
        _sh("ip", "-n", n, "link", "set", "wan", "address", HOST_MACS[side][1], "arp", "off",
            "master", "wbr", "up")
        offloads_off(n, "wan")

    # -- helpers
    def host(self, side):
        return self.ns["h" + side]

    def ping(self, where, dst, **kw):
        return ping(self.ns.get(where, where), dst, **kw)

    def run(self, where, *cmd, **kw):
        return ns_run(self.ns.get(where, where), *cmd, **kw)

    def spawn(self, where, *cmd, **kw):
        """Start a helper process in a namespace; killed at close()."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns.get(where, where)] +
                             [str(c) for c in cmd], start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def tcpdump(self, path, where="wan", iface="br0", filt=(), snaplen=256):
        """Start tcpdump writing @path; returns the process. Stop it with
        stop_tcpdump(p)."""
        # -B: 32 MiB of kernel buffer, so a tcpdump descheduled on a
        # loaded machine during a burst drops nothing.
        p = self.spawn(where, "tcpdump", "-i", iface, "-n", "-U", "-B", "32768", "-s", snaplen,
                       "-w", path,
                       *filt, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once it is capturing
        end = time.time() + 10
        line = b""
        while time.time() < end:
            line = p.stderr.readline()
            if b"listening" in line or not line:
                break
        return p

    @staticmethod
    def stop_tcpdump(p):
        if p.poll() is None:
            time.sleep(0.2)      # what is in flight
            stop_process(p, sig=signal.SIGINT)
        try:
            return p.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def stop_check(self, report, ignore=()):
        """SIGTERM both espd; report exit status 0 and mempool in_use 0
        (for an xdp-steer gateway: no more than what the net_af_xdp PMD
        keeps, see XDP_HELD)."""
        for side, g in sorted(self.gw.items()):
            if side in ignore:
                continue
            rc = g.stop()
            fs = g.final_stats or {}
            report.check(rc == 0 and g.final_stats is not None,
                         "gw%s: espd exits 0 on SIGTERM and writes its stats" % side,
                         "rc %s" % rc, g.log_tail(1500))
            inuse = fs.get("mempool", {}).get("in_use")
            if g.xdp:
                report.check(inuse is not None and inuse <= XDP_HELD,
                             "gw%s: mempool in_use at exit no more than the AF_XDP PMD "
                             "holds (%d)" % (side, XDP_HELD), "in_use %s" % inuse)
                continue
            report.check(inuse == 0, "gw%s: mempool in_use 0 at exit" % side,
                         "in_use %s" % inuse)

    # -- tear-down
    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        for g in self.gw.values():
            try:
                g.stop()
            except Exception:  # keep tearing down
                g.kill()
        for ns in reversed(self.made):
            _sh("ip", "netns", "del", ns, check=False)
        self.made = []
        if self.wd and not os.environ.get("ESPD_KEEP"):
            shutil.rmtree(self.wd, ignore_errors=True)
        if self in _live:
            _live.remove(self)


def _close_all():
    for t in list(_live):
        try:
            t.close()
        except Exception:
            pass


_handlers = False


def _install_handlers():
    """Close every topology at exit and on SIGTERM/SIGHUP (SIGINT raises
    KeyboardInterrupt already): the signal becomes SystemExit in the main
    thread, so `with` blocks unwind."""
    global _handlers
    if _handlers:
        return
    _handlers = True
    atexit.register(_close_all)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, on_signal)


def check_clean(report, prefix=None):
    """Report that nothing of this process is left (namespaces, espd,
    helpers)."""
    nss, procs = leftovers(prefix)
    report.check(not nss and not procs, "cleanup: no namespace or process left",
                 *(["namespaces: %s" % nss] if nss else []) + procs)


def live_main(name, body):
    """A live test file's main(): body(report, build) with BUILD_DIR from
    argv. A TopoError or any other exception is a failed check (and still
    the closing line); a TopoError that starts with "SKIP" exits 77,
    meson's skip. Then the leftover check, the time, the closing line."""
    build = sys.argv[1] if len(sys.argv) > 1 else None
    r = Report(name)
    t0 = time.time()
    try:
        body(r, build)
    except TopoError as e:
        if str(e).startswith("SKIP"):
            print(e)
            check_clean(r)
            r.close()
            return 1 if r.failed else 77  # a skip never hides a failure
        r.check(False, "topology", e)
    except Exception:  # anything else: a failed check, and still the closing line
        import traceback
        r.check(False, "test raised", traceback.format_exc())
    check_clean(r)
    print("# total %.1fs" % (time.time() - t0))
    return r.close()


def with_pairkm(t, r, cases, make_test, after=None):
    """Start the pair key manager on topology @t, run_cases() the cases
    that @cases names on make_test(t, km, r), then @after (if any) with
    the key manager stopped, then check that no key manager command
    failed and stop the gateways (t.stop_check)."""
    from espdtest.pairkm import PairKeyManager

    km = PairKeyManager.for_topo(t).start()
    try:
        T = make_test(t, km, r)
        run_cases(r, [getattr(T, c) for c in cases])
    finally:
        km.stop()
    if after is not None:
        after(T)
    r.equal(km.errors, [], "pairkm: no command failed")
    print("# pairkm: %s" % km.summary())
    t.stop_check(r)


def pcap_frames(path):
    """(timestamp, frame bytes) of a classic pcap file (Ethernet), fast."""
    out = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return out
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        out.append((sec + frac / (1e9 if nano else 1e6), data[off:off + incl]))
        off += incl
    return out


def classify_frame(f):
    """A quick look at an Ethernet frame: (l3, src, dst, proto, sport,
    dport) with l3 "ip4", "ip6", "arp" or the ethertype; src/dst text."""
    if len(f) < 14:
        return ("short", None, None, None, None, None)
    et = struct.unpack("!H", f[12:14])[0]
    b = f[14:]
    if et == 0x0800 and len(b) >= 20:
        ihl = (b[0] & 15) * 4
        proto = b[9]
        src, dst = socket.inet_ntop(socket.AF_INET, b[12:16]), socket.inet_ntop(socket.AF_INET, b[16:20])
        frag_off = struct.unpack("!H", b[6:8])[0] & 0x1fff
        sp = dp = None
        if proto in (6, 17) and frag_off == 0 and len(b) >= ihl + 4:
            sp, dp = struct.unpack("!HH", b[ihl:ihl + 4])
        return ("ip4", src, dst, proto, sp, dp)
    if et == 0x86dd and len(b) >= 40:
        proto = b[6]
        src, dst = socket.inet_ntop(socket.AF_INET6, b[8:24]), socket.inet_ntop(socket.AF_INET6, b[24:40])
        sp = dp = None
        if proto in (6, 17) and len(b) >= 44:
            sp, dp = struct.unpack("!HH", b[40:44])
        return ("ip6", src, dst, proto, sp, dp)
    if et == 0x0806:
        return ("arp", None, None, None, None, None)
    return ("0x%04x" % et, None, None, None, None, None)


INNER_RE = re.compile(r"^(192\.168\.[12]\.|fd0[12]:)")


def wan_audit(frames, nat_t=False):
    """Look at frames captured on the WAN: {"esp": ESP frames (or
    ESP-in-UDP), "clear": frames that show an inner packet in clear (an
    inner address as outer address, or the plaintext MARK anywhere),
    "other": the rest (ARP, ND, ...)}, each a list of frames."""
    out = {"esp": [], "clear": [], "other": []}
    for f in frames:
        l3, src, dst, proto, sp, dp = classify_frame(f)
        if MARK in f or (src and INNER_RE.match(src)) or (dst and INNER_RE.match(dst)):
            out["clear"].append(f)
        elif l3 in ("ip4", "ip6") and (proto == 50 or (proto == 17 and 4500 in (sp, dp))):
            out["esp"].append(f)
        else:
            out["other"].append(f)
    return out


# ---- for the test files ----------------------------------------------------

def run_cases(report, cases):
    """Run each callable of @cases; an exception fails that case only.
    Prints each case's time."""
    import traceback

    for case in cases:
        t1 = time.time()
        try:
            case()
        except Exception:  # one case failing must not hide the others
            report.check(False, "%s raised" % case.__name__, traceback.format_exc())
        print("# %s: %.1fs" % (case.__name__, time.time() - t1), flush=True)


def drops(before, after, allowed=()):
    """Drop counters (run.DROP_COUNTERS) that moved between two `stats`."""
    from espdtest.run import DROP_COUNTERS, counter_delta

    d = counter_delta(before, after)
    return {k: v for k, v in d.items() if k in DROP_COUNTERS and k not in allowed}


def delta(before, after):
    from espdtest.run import counter_delta

    return counter_delta(before, after)


class UdpSink:
    """A UDP socket in a namespace that records (time, payload, peer) of
    every datagram, in a thread."""

    def __init__(self, ns, port, bind=None, family=socket.AF_INET):
        self.s = ns_socket(ns, family, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((bind or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        self.s.settimeout(0.05)
        self.got = []
        self.lock = threading.Lock()
        self._stop = False
        self.reply = None       # callable(payload) -> bytes to answer, or None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop:
            try:
                b, peer = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.got.append((time.time(), b, peer))
            if self.reply:
                r = self.reply(b)
                if r is not None:
                    try:
                        self.s.sendto(r, peer)
                    except OSError:
                        pass

    def payloads(self):
        with self.lock:
            return [b for _, b, _ in self.got]

    def wait(self, pred, timeout):
        return wait_for(lambda: pred(self.payloads()), timeout)

    def close(self):
        self._stop = True
        self.t.join(2)
        self.s.close()
