#!/usr/bin/python3
"""The live demo (scripts/demo.sh): two espd gateways between two sites,
in network namespaces, each keyed by its own strongSwan charon through
the kernel-espd plugin (IKEv2, one CHILD_SA per flow from espd's PFP
ACQUIREs). Where the plugin could not be built (no strongSwan source),
the test key manager (tests/espdtest/pairkm.py) keys them instead, and
the demo says so.

    host A ---- [gateway A] ==== ESP over the WAN ==== [gateway B] ---- host B
    192.168.1.10    espd          172.16.0.1 / .2          espd     192.168.2.10

Host A pings host B, then sends a random file to host B over TCP (a tiny
Python client and server, one in each host's namespace); the demo
compares the two files' sha256, shows the SAs the first packet of each
flow asked for, the counters, and the ESP that tcpdump saw on the WAN,
and checks that no inner packet crossed it in clear. Everything is
removed at the end, on Ctrl-C too. Exit status 0 only if all of it
worked.

    /usr/bin/python3 scripts/demo_live.py [BUILD_DIR]       (as root)
"""

import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from espdtest.run import DROP_COUNTERS  # noqa: E402
from espdtest.topo import (Topo, TopoError, SITE, ping, replies, have,  # noqa: E402
                           pcap_frames, wan_audit, leftovers)
from espdtest.pairkm import PairKeyManager  # noqa: E402
from espdtest import charon as ike  # noqa: E402

FILE_MB = 8
PORT = 5001

SERVER = r"""
import hashlib, socket, sys
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[2]))); ls.listen(1)
print("ready", flush=True)
c, peer = ls.accept()
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        f.write(b)
"""

CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
with open(sys.argv[1], "rb") as f:
    c.sendfile(f)
c.close()
"""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def say(msg=""):
    print(msg, flush=True)


class Demo:
    def __init__(self, t, km, charons):
        self.t = t
        self.km = km
        self.charons = charons
        self.ok = True
        self.problems = []

    def fail(self, what):
        self.ok = False
        self.problems.append(what)
        say("  !! %s" % what)

    def run(self, where, *cmd, **kw):
        return self.t.run(where, *cmd, check=False, **kw)

    def pings(self):
        t = self.t
        say("== host A pings host B (the first packet waits for its SA, then leaves encrypted)")
        if have("ping"):
            p = self.run("hA", "ping", "-c", "4", "-i", "0.2", "-W", "3", SITE["B"]["host4"])
            for ln in p.stdout.splitlines():
                if "bytes from" in ln or "packet loss" in ln:
                    say("  " + ln)
            got = p.returncode == 0
        else:
            res = ping(t.ns["hA"], SITE["B"]["host4"], count=4, interval=0.2, timeout=3)
            for x in res:
                if x["reply"]:
                    say("  reply from %s: icmp_seq=%d time=%.1f ms" % (
                        SITE["B"]["host4"], x["seq"] + 1, x["rtt"] * 1000))
                else:
                    say("  no reply: icmp_seq=%d" % (x["seq"] + 1))
            say("  %d packets transmitted, %d received" % (len(res), replies(res)))
            got = replies(res) >= 3
        if not got:
            self.fail("host A's ping to host B was not answered")

    def transfer(self, wd):
        t = self.t
        say("== host A sends a %d MB random file to host B over TCP" % FILE_MB)
        src = os.path.join(wd, "hostA-file")
        dst = os.path.join(wd, "hostB-file")
        with open(src, "wb") as f:
            f.write(os.urandom(FILE_MB << 20))
        srv = t.spawn("hB", "/usr/bin/python3", "-c", SERVER, dst, PORT,
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        srv.stdout.readline()        # "ready"
        t0 = time.time()
        cli = self.run("hA", "/usr/bin/python3", "-c", CLIENT, src, SITE["B"]["host4"], PORT,
                       timeout=60)
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        took = time.time() - t0
        if cli.returncode != 0:
            self.fail("the sender failed: %s" % cli.stdout.strip()[-300:])
            return
        a, b = sha256(src), sha256(dst) if os.path.exists(dst) else "(no file)"
        say("  host A: sha256 %s  %s" % (a, "hostA-file"))
        say("  host B: sha256 %s  %s" % (b, "hostB-file"))
        size = os.path.getsize(dst) if os.path.exists(dst) else 0
        say("  %d bytes in %.2f s (%.0f Mbit/s)%s" % (
            size, took, size * 8 / took / 1e6 if took else 0, ", identical" if a == b else ""))
        if a != b:
            self.fail("the file that arrived differs from the one sent")

    def summary(self, pcap):
        t = self.t
        say("== SAs: one pair per flow, asked for by the flow's first packet")
        for side in ("A", "B"):
            g = t.gw[side]
            lst = json.loads(g.espctl("-j", "state", "list").stdout or "[]")
            n_out = sum(1 for s in lst if s["dir"] == "out")
            say("  gateway %s: %d SAs (%d out, %d in)" % (side, len(lst), n_out,
                                                         len(lst) - n_out))
            flows = [s for s in lst if s["dir"] == "out"]
            for s in flows:
                sel = s["sel"]
                ports = ""
                if "sport" in sel or "dport" in sel:
                    ports = " %s -> %s" % (sel.get("sport", "*"), sel.get("dport", "*"))
                say("    out %s  %s -> %s %s%s: %d packets, %d bytes" % (
                    s["spi"], sel["src"], sel["dst"], sel.get("proto", "any"), ports,
                    s["stats"]["packets"], s["stats"]["bytes"]))
        text = t.gw["A"].espctl("state", "list").stdout.splitlines()
        say("  espctl state list (gateway A, first SA):")
        for ln in text[:7]:
            say("    " + ln)

        if self.charons:
            say("== IKE: swanctl --list-sas on gateway A (first CHILD_SAs)")
            out = self.charons["A"].swanctl("--list-sas", check=False).splitlines()
            for ln in out[:14]:
                say("    " + ln)
            n = {side: len(c.child_sas()) for side, c in self.charons.items()}
            say("  CHILD_SAs installed: gateway A %d, gateway B %d" % (n["A"], n["B"]))
            if not n["A"] or n["A"] != n["B"]:
                self.fail("charon's CHILD_SAs: %s" % n)

        say("== packets and bytes")
        for side in ("A", "B"):
            st = t.gw[side].stats()
            ports = {p["id"]: p for p in st["ports"]}
            g = st["global"]
            say("  gateway %s: LAN port rx %d tx %d, WAN port rx %d tx %d; "
                "ESP out %d packets %d bytes; ACQUIREs %d" % (
                    side, ports[0]["rx"], ports[0]["tx"], ports[1]["rx"], ports[1]["tx"],
                    sum(s["packets"] for s in st["sas"] if s["dir"] == "out"),
                    sum(s["bytes"] for s in st["sas"] if s["dir"] == "out"),
                    g.get("AcquireSent", 0)))

        say("== drops by reason (non-zero drop counters only)")
        for side in ("A", "B"):
            g = t.gw[side].counters()
            nz = {k: g[k] for k in DROP_COUNTERS if g.get(k)}
            say("  gateway %s: %s" % (side, ", ".join("%s %d" % kv for kv in sorted(nz.items()))
                                      or "none"))
            if set(nz) - {"TapDropped", "FragNeeded"}:
                self.fail("gateway %s dropped packets: %s" % (side, nz))
        say("  (TapDropped: the hosts' own IPv6 multicast, MLD and router solicitations, "
            "for a port without a TAP)")

        say("== the WAN, as tcpdump saw it on the bridge")
        frames = [f for _, f in pcap_frames(pcap)]
        audit = wan_audit(frames)
        say("  %d frames: %d ESP, %d other (ARP, ND, MLD), %d with an inner packet in clear" % (
            len(frames), len(audit["esp"]), len(audit["other"]), len(audit["clear"])))
        p = subprocess.run(["tcpdump", "-nn", "-r", pcap, "-c", "1", "esp"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True)
        for ln in p.stdout.splitlines()[:1]:
            say("  " + ln)
        if not audit["esp"]:
            self.fail("no ESP seen on the WAN")
        if audit["clear"]:
            self.fail("%d frames on the WAN show an inner packet in clear" % len(audit["clear"]))
        else:
            say("  no inner packet (192.168.x, fd0x::, or the payload) crossed the WAN in clear")


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(HERE, "..", "build"))
    if os.geteuid() != 0:
        say("demo: the live demo needs root (network namespaces); as another user, "
            "scripts/demo.sh --offline")
        return 1
    for prog in ("tcpdump", "ip"):
        if not have(prog):
            say("demo: %s is missing (scripts/setup.sh installs it)" % prog)
            return 1
    t0 = time.time()
    say("espd live demo: two gateways on net_af_packet, in network namespaces")
    say("  host A 192.168.1.10 --- gwA [192.168.1.1 | 172.16.0.1] ==== WAN bridge ==== "
        "[172.16.0.2 | 192.168.2.1] gwB --- host B 192.168.2.10")
    say("  policy: 192.168.1.0/24 <-> 192.168.2.0/24, tunnel, AES-GCM-128, "
        "pfp src,dst,proto,sport,dport (one SA pair per flow)")
    why = ike.missing() or (None if os.path.exists(ike.plugin_path(build)) else
                            "kernel-espd was not built (no strongSwan source)")
    if why:
        say("  keys: the test key manager, not IKE: %s" % why)
    else:
        say("  keys: IKEv2, strongSwan's charon on each gateway through kernel-espd "
            "(PSK, start_action = trap): each flow's ACQUIRE becomes a CHILD_SA")
    demo = None
    try:
        with Topo(build=build, tap={"A": "tapA", "B": "tapB"},
                  extra={"A": "set tcp-mss-clamp auto", "B": "set tcp-mss-clamp auto"}) as t:
            wd = t.wd
            pcap = os.path.join(wd, "wan.pcap")
            dump = t.tcpdump(pcap, snaplen=0)
            km, charons = None, {}
            if why:
                km = PairKeyManager.for_topo(t, log=lambda m: say("  " + m)).start()
            else:
                charons = {side: ike.flows_charon(t, side, build) for side in ("A", "B")}
            say("  started: gateway A and B (espd, adaptive workers, a TAP each for IKE), "
                "%s, tcpdump on the WAN (%.1f s)" % (
                    "the key manager" if km else "charon on each", time.time() - t0))
            demo = Demo(t, km, charons)
            try:
                demo.pings()
                demo.transfer(wd)
            finally:
                if km:
                    km.stop()
                t.stop_tcpdump(dump)
            demo.summary(pcap)
            for c in charons.values():
                c.stop()
            if km and km.errors:
                demo.fail("the key manager failed: %s" % km.errors[:2])
            say("== stopping")
            for side in ("A", "B"):
                rc = t.gw[side].stop()
                inuse = (t.gw[side].final_stats or {}).get("mempool", {}).get("in_use")
                say("  gateway %s: espd exited %s, mbufs in use at exit %s" % (side, rc, inuse))
                if rc != 0 or inuse != 0:
                    demo.fail("gateway %s did not stop cleanly" % side)
    except TopoError as e:
        say("demo: %s" % e)
        return 1
    except KeyboardInterrupt:
        say("\ndemo: interrupted; everything removed")
        return 130
    nss, procs = leftovers()
    if nss or procs:
        say("demo: left behind: %s %s" % (nss, procs))
        return 1
    took = time.time() - t0
    if demo is None or not demo.ok:
        say("demo: FAILED (%s), %.1f s" % ("; ".join(demo.problems) if demo else "?", took))
        return 1
    say("demo: OK, %.1f s; namespaces, links and processes removed" % took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
