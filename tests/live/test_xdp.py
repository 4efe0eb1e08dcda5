#!/usr/bin/python3
"""xdp-steer end to end (DESIGN.md "AF_XDP ports: xdp-steer"): gwA's
unprotected port is net_af_xdp on its namespace's wan veth, with espd's
XDP program; the rest is espdtest.topo as in test_e2e, keyed by the pair
key manager.

  kernel     before any tunnel: the WAN resolves gwA's addresses by ARP
             and ND from gwA's kernel, TCP ("SSH") to 172.16.0.1 and
             2001:db8::1 reaches a listener in gwA's kernel, IKE on 500
             and 4500 and a keepalive reach its UDP sockets, and espd's
             AF_XDP port receives none of it
  first, mss, bulk, ipv6
             test_e2e's cases through the AF_XDP port (bulk 10 MB, with
             a TCP transfer to gwA's kernel running at the same time)
  neigh      next hops out of the AF_XDP port (IPv4 and IPv6) resolved
             through gwA's kernel: routed datagrams reach the WAN bridge
  live       `state add ... encap espinudp 4600` and `route add` over the
             socket change what the program gives espd, `state del` too
  wire       the WAN capture holds ESP only, and samples decrypt
  detach     SIGTERM takes the program off the interface
  crash      after SIGKILL the program stays; the next espd removes it,
             says so, and ESP reaches espd again
  errors     a missing object, another object, another program on the
             interface, and no CAP_BPF/CAP_SYS_ADMIN: one line each
             naming the port, the cause and the fix, exit status 1

Skips (exit 77, with the reason) only where BPF cannot be loaded here:
no steering object (clang missing at build time) or the kernel refusing
an XDP program.

    PYTHONPATH=tests /usr/bin/python3 tests/live/test_xdp.py [BUILD_DIR]
"""

import glob
import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time

from espdtest.topo import (Topo, TopoError, live_main, with_pairkm, SITE, WAN4, WAN6, MACS,
                           tcp_transfer, run_cases, wait_for, ns_socket, _sh, proc_prefix,
                           UdpSink)

KPORT = 2222          # the "SSH" listener in gwA's kernel
HERE = os.path.dirname(os.path.abspath(__file__))


def load_e2e():
    spec = importlib.util.spec_from_file_location("test_e2e", os.path.join(HERE, "test_e2e.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # Ten megabytes say what fifty do here, in a fifth of the time.
    mod.BULK = 10 * 1000 * 1000
    return mod


def steer_obj(build):
    return os.path.join(build, "dataplane", "xdp", "steer.bpf.o")


def bpf_can_load(obj):
    """None if an XDP program loads on a scratch veth here, else why not."""
    if not os.path.exists(obj):
        return "no %s (built only with clang and libxdp-dev: scripts/setup.sh)" % obj
    ns = "%sxdpchk" % proc_prefix()
    try:
        _sh("ip", "netns", "add", ns)
        _sh("ip", "-n", ns, "link", "add", "xc0", "type", "veth", "peer", "name", "xc1")
        p = _sh("ip", "-n", ns, "link", "set", "dev", "xc0", "xdpgeneric", "obj", obj,
                "sec", "xdp", check=False)
        if p.returncode != 0:
            return "the kernel refuses an XDP program: %s" % p.stdout.strip()[-300:]
        return None
    finally:
        _sh("ip", "netns", "del", ns, check=False)


def xdp_progs(t, side="A"):
    """The XDP program ids on gw@side's wan."""
    out = t.run("g" + side, "ip", "-d", "link", "show", "dev", "wan").stdout
    return re.findall(r"prog/xdp\w* id (\d+)", out)


def port_rx(gw, port=1):
    for p in gw.stats()["ports"]:
        if p["id"] == port:
            return p["rx"]
    return None


def kernel_tcp(t, dst, nbytes=1 << 20, timeout=20):
    """@nbytes over TCP from the WAN namespace to gwA's kernel at @dst."""
    return tcp_transfer(t.ns["wan"], t.ns["gA"], dst, nbytes=nbytes, port=KPORT,
                        timeout=timeout)


class Test:
    def __init__(self, t, km, r, e2e):
        self.t, self.km, self.r = t, km, r
        self.inner = e2e.Test(t, km, r)
        self.A = t.gw["A"]

    def kernel(self):
        r, t, A = self.r, self.t, self.A
        r.check(len(xdp_progs(t)) == 1, "kernel: espd's XDP program is on gwA's wan",
                xdp_progs(t), A.log_tail(800))
        rx0 = port_rx(A)
        res4 = kernel_tcp(t, WAN4["A"])
        res6 = kernel_tcp(t, WAN6["A"])
        r.check(res4["ok"], "kernel: 1 MiB over TCP from the WAN to 172.16.0.1:%d, gwA's "
                "kernel" % KPORT, {k: v for k, v in res4.items() if not k.startswith("sha")})
        r.check(res6["ok"], "kernel: 1 MiB over TCP from the WAN to [2001:db8::1]:%d" % KPORT,
                {k: v for k, v in res6.items() if not k.startswith("sha")})
        neigh = t.run("wan", "ip", "neigh", "show", "dev", "br0").stdout
        for a in (WAN4["A"], WAN6["A"]):
            line = [ln for ln in neigh.splitlines() if ln.startswith(a + " ")]
            r.check(line and MACS["A"][1] in line[0],
                    "kernel: the WAN resolved %s (ARP/ND answered by gwA's kernel) to %s"
                    % (a, MACS["A"][1]), neigh)
        # IKE: UDP 500, and 4500 with the non-ESP marker, to sockets of
        # gwA's kernel (where charon would listen), and a NAT keepalive.
        ike = b"\x11\x22\x33\x44\x55\x66\x77\x88" + b"\x00" * 8 + b"\x21\x20\x22\x08"
        sinks = {500: UdpSink(t.ns["gA"], 500), 4500: UdpSink(t.ns["gA"], 4500)}
        c = ns_socket(t.ns["wan"], socket.AF_INET, socket.SOCK_DGRAM)
        try:
            c.bind(("0.0.0.0", 4500))
            c.sendto(ike, (WAN4["A"], 500))
            c.sendto(b"\x00\x00\x00\x00" + ike, (WAN4["A"], 4500))
            c.sendto(b"\xff", (WAN4["A"], 4500))
            got500 = sinks[500].wait(lambda ps: len(ps) >= 1, 3)
            got4500 = sinks[4500].wait(lambda ps: len(ps) >= 2, 3)
            r.check(got500 and got4500 and sinks[500].payloads() == [ike] and
                    sinks[4500].payloads() == [b"\x00\x00\x00\x00" + ike, b"\xff"],
                    "kernel: IKE on 500, IKE on 4500 (non-ESP marker) and a NAT keepalive "
                    "reach sockets in gwA's kernel", sinks[500].payloads(),
                    sinks[4500].payloads())
        finally:
            c.close()
            for k in sinks.values():
                k.close()
        # The gateway's LAN address, from the WAN: inside the LAN subnet
        # that is transit on this port, yet the gateway's own (the
        # kernel's here, on lo), not espd's, which has no TAP to give it.
        lan_gw = SITE["A"]["gw4"]
        t.run("gA", "ip", "addr", "add", lan_gw + "/32", "dev", "lo")
        t.run("wan", "ip", "route", "replace", lan_gw + "/32", "via", WAN4["A"])
        try:
            res = kernel_tcp(t, lan_gw, nbytes=1 << 16, timeout=10)
            r.check(res["ok"], "kernel: TCP from the WAN to the gateway's LAN address "
                    "(%s) reaches gwA's kernel, not espd" % lan_gw,
                    {k: v for k, v in res.items() if not k.startswith("sha")})
        finally:
            t.run("wan", "ip", "route", "del", lan_gw + "/32")
            t.run("gA", "ip", "addr", "del", lan_gw + "/32", "dev", "lo")
        time.sleep(0.3)
        r.equal(port_rx(A) - rx0, 0, "kernel: espd's AF_XDP port received none of it")
        r.equal(A.counters().get("IkePunted", 0), 0, "kernel: espd saw no IKE (IkePunted 0)")

    def first(self):
        self.inner.first()

    def mss(self):
        self.inner.mss()

    def bulk(self):
        """The tunnel's bulk transfer with kernel TCP on the same wire at
        the same time."""
        r, t = self.r, self.t
        got = {}

        def side():
            got["res"] = kernel_tcp(t, WAN4["A"], nbytes=4 << 20, timeout=60)
        def esp_in():
            return sum(s["stats"]["packets"] for s in self.A.sas() if s["dir"] == "in")
        th = threading.Thread(target=side, daemon=True)
        rx0, in0 = port_rx(self.A), esp_in()
        th.start()
        self.inner.bulk()
        th.join(60)
        res = got.get("res") or {}
        r.check(res.get("ok"), "bulk: meanwhile 4 MiB over TCP from the WAN to gwA's kernel",
                {k: v for k, v in res.items() if not k.startswith("sha")})
        # hostB's ACKs come back as ESP: every one through the AF_XDP
        # port, and nothing of the kernel's TCP with them.
        # (Two reads: a late ACK between them is waited out.)
        def counts():
            return port_rx(self.A) - rx0, esp_in() - in0
        rx, esp = wait_for(lambda: (lambda c: c if c[0] == c[1] else None)(counts()), 5) or \
            counts()
        r.check(esp > 100 and rx == esp, "bulk: the %d ESP packets gwA decrypted came in on "
                "espd's AF_XDP port, and nothing else did" % esp, "rx %d, ESP in %d" % (rx, esp))

    def ipv6(self):
        self.inner.ipv6()

    def neigh(self):
        """Next hops on the xdp-steer port come from the kernel's
        neighbour table (ARP and ND answers go to the kernel): plain
        traffic from hostA routed out of the WAN port to the WAN bridge's
        addresses, IPv4 and IPv6, arrives there."""
        from espdtest.run import Capture, packet_socket

        r, t, A = self.r, self.t, self.A
        A.ctl("route", "add", "10.60.0.0/24", "port", "1", "via", WAN4["wan"])
        A.ctl("route", "add", "fd60::/64", "port", "1", "via", WAN6["wan"])
        cap = Capture(packet_socket(t.ns["wan"], "br0"))
        try:
            for fam, dst in ((socket.AF_INET, "10.60.0.5"), (socket.AF_INET6, "fd60::5")):
                c = ns_socket(t.ns["hA"], fam, socket.SOCK_DGRAM)
                try:
                    c.sendto(b"through the kernel's neighbour table", (dst, 9))
                finally:
                    c.close()
                packed = socket.inet_pton(fam, dst)
                ok = wait_for(lambda: any(packed in f and b"neighbour table" in f
                                          for f in cap.frames), 5)
                r.check(ok, "neigh: a datagram to %s routed via %s left gwA's AF_XDP port, "
                        "its next hop resolved by gwA's kernel" % (
                            dst, WAN4["wan"] if fam == socket.AF_INET else WAN6["wan"]),
                        A.neigh())
            got = {n["dst"]: n for n in A.neigh() if n["port"] == 1}
            r.check(all(a in got and got[a]["lladdr"] and got[a]["state"] in
                        ("reachable", "stale", "probe") for a in (WAN4["wan"], WAN6["wan"])),
                    "neigh: espd's `neigh list` has the WAN bridge's addresses on port 1, "
                    "resolved", A.neigh())
        finally:
            cap.close()
            cap.sock.close()

    def live(self):
        """The maps follow changes over the socket: an inbound SA's encap
        port, and a route."""
        r, t, A = self.r, self.t, self.A

        def steered(dst, dport, counter):
            """How many of 3 probes espd counted under @counter (espd
            also gets the tunnel's late ESP: its rx count would not do)."""
            c0 = A.counters().get(counter, 0)
            p = send_udp(t, dst, dport, b"\x00\x00\x70\x02" + b"\x00" * 44, 3)
            # (sendp has returned: what espd gets is there in a moment)
            wait_for(lambda: A.counters().get(counter, 0) - c0 >= 3, 5)
            time.sleep(0.1)
            return A.counters().get(counter, 0) - c0, p

        # The probes' SPI 0x7002 is nobody's: espd counts each
        # XfrmInNoStates; a routed plain datagram is Bypass.
        sa = ["src", WAN4["B"], "dst", WAN4["A"], "proto", "esp", "spi", "0x00007003"]
        n, out = steered(WAN4["A"], 4600, "XfrmInNoStates")
        r.equal(n, 0, "live: UDP to 172.16.0.1:4600 is the kernel's while no SA has that port")
        A.ctl("state", "add", *sa, "dir", "in", "aead", "rfc4106(gcm(aes))", "0x" + "11" * 20,
              "128", "encap", "espinudp", "4600", "4600", "0.0.0.0")
        n, out = steered(WAN4["A"], 4600, "XfrmInNoStates")
        r.check(n == 3, "live: after `state add ... encap espinudp 4600 4600` over the socket, "
                "ESP-in-UDP to 4600 reaches espd (XfrmInNoStates +3)", "got %d" % n, out)
        A.ctl("state", "del", *sa)
        n, out = steered(WAN4["A"], 4600, "XfrmInNoStates")
        r.equal(n, 0, "live: after `state del`, UDP to 4600 is the kernel's again")

        n, out = steered("10.50.0.5", 9, "Bypass")
        r.equal(n, 0, "live: UDP through gwA to 10.50.0.5, which it has no route for, stays "
                "in the kernel")
        A.ctl("route", "add", "10.50.0.0/24", "port", "0", "via", SITE["A"]["host4"])
        n, out = steered("10.50.0.5", 9, "Bypass")
        r.check(n == 3, "live: after `route add 10.50.0.0/24 port 0` over the socket, espd "
                "forwards it (Bypass +3)", "got %d" % n, out)


def send_frames(t, frames):
    """Frames out of the WAN bridge (a packet socket in its namespace)."""
    from espdtest.run import packet_socket

    s = packet_socket(t.ns["wan"], "br0")
    try:
        for f in frames:
            s.send(bytes(f))
    finally:
        s.close()
    return "%d frames sent" % len(frames)


def send_udp(t, dst, dport, data, n):
    """@n UDP datagrams from the WAN to gwA's MAC, for @dst:@dport."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return send_frames(t, [Ether(dst=MACS["A"][1], src="02:00:00:0c:00:01") /
                           IP(src=WAN4["B"], dst=dst) / UDP(sport=4600, dport=dport) / data] * n)


def send_esp(t, spi, n):
    """@n ESP packets from the WAN to gwA's 172.16.0.1."""
    from scapy.layers.inet import IP
    from scapy.layers.ipsec import ESP
    from scapy.layers.l2 import Ether

    return send_frames(t, [Ether(dst=MACS["A"][1], src="02:00:00:0c:00:01") /
                           IP(src=WAN4["wan"], dst=WAN4["A"]) / ESP(spi=spi, seq=i + 1) /
                           (b"x" * 48) for i in range(n)])


def after_stop(t, r, build):
    """SIGTERM detached; a crash leaves the program, the next start
    removes it; the failures are one line each."""
    A = t.gw["A"]
    r.equal(xdp_progs(t), [], "detach: no XDP program on gwA's wan after SIGTERM")

    # crash
    A.start()
    before = xdp_progs(t)
    A.kill()
    stale = xdp_progs(t)
    r.check(len(before) == 1 and stale == before, "crash: after SIGKILL the program (id %s) "
            "stays on gwA's wan" % (stale or ["none"])[0], before, stale)
    A.start()
    log = A.log_tail(4000).split("==== start")[-1]
    r.check("removed a stale espd XDP program" in log and len(xdp_progs(t)) == 1 and
            xdp_progs(t) != stale,
            "crash: the next espd removed the stale program and attached its own",
            xdp_progs(t), log[-800:])
    b = A.counters().get("XfrmInNoStates", 0)
    p = send_esp(t, 0x7001, 5)
    ok = wait_for(lambda: A.counters().get("XfrmInNoStates", 0) - b == 5, 5)
    r.check(ok, "crash: ESP to 172.16.0.1 reaches the new espd (XfrmInNoStates +5)",
            p, A.counters().get("XfrmInNoStates", 0) - b)
    res = kernel_tcp(t, WAN4["A"], nbytes=64 << 10)
    r.check(res["ok"], "crash: TCP to gwA's kernel still works",
            {k: v for k, v in res.items() if not k.startswith("sha")})
    rc = A.stop()
    r.check(rc == 0 and xdp_progs(t) == [], "crash: espd exits 0 on SIGTERM and detaches",
            "rc %s" % rc, xdp_progs(t))

    # errors: one line each, exit 1, and nothing left attached
    def fails(prefix_cmd, extra):
        espd = [A.binary, "--no-huge", "--no-pci", "-l", "0,1", "-m", "512", "--file-prefix",
                A.prefix + "e", "--log-level=lib.eal:error",
                "--vdev", "net_af_packet0,iface=lan", "--vdev", "net_af_xdp0,iface=wan", "--",
                "-c", A.conf_path, "-s", A.sock + ".e"] + extra
        cmd = ["ip", "netns", "exec", A.ns] + (prefix_cmd + [shlex.join(espd)] if prefix_cmd
                                                else espd)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        lines = [ln for ln in p.stderr.splitlines() if "xdp-steer" in ln]
        return p, lines

    p, lines = fails([], ["--xdp-prog", "/nonexistent/steer.bpf.o"])
    r.check(p.returncode == 1 and len(lines) == 1 and "port 1" in lines[0] and
            "/nonexistent/steer.bpf.o" in lines[0] and "No such file" in lines[0] and
            "fix:" in lines[0],
            "errors: a missing object is one line (port, cause, fix), exit 1",
            "rc %s" % p.returncode, p.stderr[-600:])
    if os.path.exists("/usr/sbin/capsh") or os.path.exists("/sbin/capsh"):
        p, lines = fails(["capsh", "--drop=cap_bpf,cap_sys_admin,cap_perfmon", "--",
                                  "-c"], [])
        r.check(p.returncode == 1 and len(lines) == 1 and "port 1" in lines[0] and
                "Operation not permitted" in lines[0] and "CAP_BPF" in lines[0],
                "errors: without CAP_BPF and CAP_SYS_ADMIN, one line (port, EPERM, fix), "
                "exit 1", "rc %s" % p.returncode, p.stderr[-600:])
    else:
        print("# errors: capsh is not installed (Debian package libcap2-bin): "
              "the EPERM case is not run")
    objs = glob.glob("/usr/lib/*/bpf/xsk_def_xdp_prog.o")   # libxdp1's own
    if objs:
        p, lines = fails([], ["--xdp-prog", objs[0]])
        r.check(p.returncode == 1 and len(lines) == 1 and "not espd's steering program" in
                lines[0], "errors: another XDP object (libxdp's own) is refused before it "
                "touches the interface, one line, exit 1", "rc %s" % p.returncode,
                p.stderr[-600:])
    objs = glob.glob("/usr/lib/*/bpf/xdpfilt_alw_all.o")     # libxdp1's xdp-filter
    if objs:
        t.run("gA", "ip", "link", "set", "dev", "wan", "xdpgeneric", "obj", objs[0],
              "sec", "xdp")
        try:
            p, lines = fails([], [])
            r.check(p.returncode == 1 and len(lines) == 1 and "ip link set dev wan xdp off"
                    in lines[0], "errors: another program (not a libxdp dispatcher) on the "
                    "interface: one line naming it and the command that removes it, exit 1",
                    "rc %s" % p.returncode, p.stderr[-600:])
        finally:
            t.run("gA", "ip", "link", "set", "dev", "wan", "xdpgeneric", "off", check=False)
    r.equal(xdp_progs(t), [], "errors: nothing left attached after the failed starts")
    subprocess.run(["rm", "-rf", "/var/run/dpdk/" + A.prefix + "e"])


def main():
    clamp = "set tcp-mss-clamp auto"

    def body(r, build):
        build = os.path.abspath(build or "build")
        why = bpf_can_load(steer_obj(build))
        if why:
            raise TopoError("SKIP: xdp-steer: BPF cannot be loaded here: %s" % why)
        e2e = load_e2e()
        with Topo(build=build, extra={"A": clamp, "B": clamp}, xdp=("A",)) as t:
            pcap = os.path.join(t.wd, "wan.pcap")
            # The kernel's TCP, the IKE probes from the WAN bridge, the
            # datagrams of `neigh` and the probes of `live` (and the
            # kernel's port unreachables for them) are not the tunnel's:
            # leave them out of the capture that must hold ESP only.
            dump = t.tcpdump(pcap, snaplen=0, filt=(
                "not", "(", "tcp", "port", str(KPORT), "or", "udp", "port", "4600", "or",
                "(", "udp", "and", "host", WAN4["wan"], ")", "or",
                "dst", "net", "10.60.0.0/24", "or", "dst", "net", "fd60::/64", "or",
                "icmp[icmptype]", "==", "icmp-unreach", ")"))
            print("# gwA: %s" % " ".join(
                ln for ln in t.gw["A"].log_tail(2000).splitlines() if "xdp-steer" in ln))

            def after(T):
                t.stop_tcpdump(dump)
                run_cases(r, [lambda: T.inner.wire(pcap)])

            with_pairkm(t, r, ["kernel", "first", "mss", "bulk", "ipv6", "neigh", "live"],
                        lambda t_, km, r_: Test(t_, km, r_, e2e), after)
            run_cases(r, [lambda: after_stop(t, r, build)])
    return live_main("xdp", body)


if __name__ == "__main__":
    sys.exit(main())
