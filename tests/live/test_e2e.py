#!/usr/bin/python3
"""End to end through two live espd (espdtest.topo) keyed by the pair key
manager (espdtest.pairkm), with `pfp src,dst,proto,sport,dport` and
`set tcp-mss-clamp auto` on both gateways; tcpdump on the WAN bridge
for the whole run.

  first      the first UDP datagram of a new flow is held during the
             ACQUIRE and arrives (IPv4 and IPv6)
  mss        tcp-mss-clamp auto (1403 both ways) and a number, set live
  bulk       50 MB over TCP from hostA to hostB, intact (sha256), with
             MSS clamping and no PMTU drop
  parallel   20 parallel TCP connections: 20 SA pairs, so 40 SAs on each
             gateway (20 out + 20 in) carry that port (espctl -j state list)
  ipv6       TCP over IPv6 through the tunnel
  wire       the WAN capture: ESP only, no inner packet in clear, and
             sampled ESP frames decrypt (scapy) with the key manager's keys
             to packets between the sites

    PYTHONPATH=tests /usr/bin/python3 tests/live/test_e2e.py [BUILD_DIR]
"""

import hashlib
import json
import os
import random
import socket
import sys
import threading
import time

from espdtest.topo import (Topo, live_main, with_pairkm, SITE, WAN4, tcp_transfer,
                           run_cases, wait_for, delta, drops, ns_socket, UdpSink, payload,
                           pcap_frames, wan_audit, classify_frame)

BULK = 50 * 1000 * 1000
NPAR = 20
PAR_PORT = 5201
ALLOWED = ("TapDropped",)      # the hosts' MLD reports and router solicitations


def parallel_tcp(t, n, port, nbytes, timeout=60):
    """@n TCP connections at once from hostA to hostB:@port, @nbytes each.
    Returns (number intact, list of errors)."""
    ls = ns_socket(t.ns["hB"], socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    ls.settimeout(timeout)
    got = {}
    errors = []
    lock = threading.Lock()

    def serve_one(c):
        h = hashlib.sha256()
        try:
            c.settimeout(timeout)
            with c:
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    h.update(b)
        except OSError as e:
            with lock:
                errors.append("server: %s" % e)
        with lock:
            got[h.hexdigest()] = got.get(h.hexdigest(), 0) + 1

    def acceptor():
        for _ in range(n):
            try:
                c, _ = ls.accept()
            except OSError as e:
                with lock:
                    errors.append("accept: %s" % e)
                return
            threading.Thread(target=serve_one, args=(c,), daemon=True).start()

    datas = [payload(nbytes, seed=i) for i in range(n)]
    want = [hashlib.sha256(d).hexdigest() for d in datas]

    def client(i):
        c = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_STREAM)
        try:
            c.settimeout(timeout)
            c.connect((SITE["B"]["host4"], port))
            c.sendall(datas[i])
        except OSError as e:
            with lock:
                errors.append("client %d: %s" % (i, e))
        finally:
            c.close()

    at = threading.Thread(target=acceptor, daemon=True)
    at.start()
    cl = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for c in cl:
        c.start()
    for c in cl:
        c.join(timeout)
    at.join(timeout)
    wait_for(lambda: sum(got.values()) >= n, 10)
    ls.close()
    ok = sum(1 for w in want if got.get(w))
    return ok, errors


class Test:
    def __init__(self, t, km, r):
        self.t, self.km, self.r = t, km, r
        self.A, self.B = t.gw["A"], t.gw["B"]

    def first(self):
        r, t, A = self.r, self.t, self.A
        for fam, dst, bind in ((socket.AF_INET, SITE["B"]["host4"], "0.0.0.0"),
                               (socket.AF_INET6, SITE["B"]["host6"], "::")):
            sink = UdpSink(t.ns["hB"], 6000, family=fam)
            c = ns_socket(t.ns["hA"], fam, socket.SOCK_DGRAM)
            try:
                c.bind((bind, 0))
                b = A.stats()
                t0 = time.time()
                c.sendto(b"the first datagram of a new flow", (dst, 6000))
                got = sink.wait(lambda p: len(p) >= 1, 5)
                took = time.time() - t0
                d = delta(b, A.stats())
                v = "IPv6" if fam == socket.AF_INET6 else "IPv4"
                r.check(got and sink.payloads() == [b"the first datagram of a new flow"],
                        "first: the first UDP datagram of a new %s flow arrives (%.0f ms, "
                        "held during the ACQUIRE)" % (v, took * 1000), sink.payloads(), d)
                r.check(d.get("AcquireSent") == 1 and d.get("AcquireHeld") == 1 and
                        d.get("AcquireHeldReleased") == 1 and not d.get("AcquireHeldDropped"),
                        "first: %s: gwA AcquireSent, AcquireHeld, AcquireHeldReleased +1, "
                        "nothing dropped" % v, d)
            finally:
                c.close()
                sink.close()

    def mss(self):
        """tcp-mss-clamp: auto gives 1500 - 57 (ESP) - 40 = 1403 in each
        direction's SYN; a number, live, gives that number."""
        r, t, A = self.r, self.t, self.A
        from espdtest.run import Capture, packet_socket
        from scapy.layers.inet import TCP
        from scapy.layers.l2 import Ether

        def syn_mss(cap, flags):
            for f in cap.take():
                e = Ether(f)
                if TCP in e and e[TCP].flags == flags:
                    return dict((k, v) for k, v in e[TCP].options if isinstance(k, str)).get(
                        "MSS")
            return None

        capB = Capture(packet_socket(t.ns["hB"], "eth0"))
        capA = Capture(packet_socket(t.ns["hA"], "eth0"))
        try:
            for setting, want in (("auto", 1403), ("1200", 1200)):
                A.ctl("set", "tcp-mss-clamp", setting)
                capA.take()
                capB.take()
                b = A.stats()
                res = tcp_transfer(t.ns["hA"], t.ns["hB"], SITE["B"]["host4"],
                                   nbytes=64 << 10, timeout=20)
                time.sleep(0.2)
                got_syn, got_synack = syn_mss(capB, "S"), syn_mss(capA, "SA")
                d = delta(b, A.stats())
                r.check(res["ok"] and got_syn == want and d.get("MssClamped", 0) >= 1,
                        "mss: tcp-mss-clamp %s on gwA -> the SYN reaches hostB with MSS %d"
                        % (setting, want), "MSS %s" % got_syn, d)
                if setting == "auto":
                    r.equal(got_synack, 1403, "mss: tcp-mss-clamp auto on gwB -> the SYN-ACK "
                            "reaches hostA with MSS 1403")
        finally:
            A.ctl("set", "tcp-mss-clamp", "auto")
            for c in (capA, capB):
                c.close()
                c.sock.close()

    def bulk(self):
        r, t, A, B = self.r, self.t, self.A, self.B
        bA, bB = A.stats(), B.stats()
        res = tcp_transfer(t.ns["hA"], t.ns["hB"], SITE["B"]["host4"], nbytes=BULK, timeout=150)
        info = {k: v for k, v in res.items() if k not in ("sha_sent",)}
        mbps = BULK * 8 / res["seconds"] / 1e6 if res["seconds"] else 0
        r.check(res["ok"], "bulk: %d MB over TCP from hostA to hostB, sha256 intact "
                "(%.1f s, %.0f Mbit/s)" % (BULK // 1000000, res["seconds"] or 0, mbps), info)
        print("# bulk: %.1f s, %.0f Mbit/s" % (res["seconds"] or 0, mbps))
        aA, aB = A.stats(), B.stats()
        dA, dB = delta(bA, aA), delta(bB, aB)
        r.check(dA.get("MssClamped", 0) >= 1 and dB.get("MssClamped", 0) >= 1,
                "bulk: tcp-mss-clamp auto clamped the SYN (gwA) and the SYN-ACK (gwB)",
                dA, dB)
        r.equal(drops(bA, aA, ALLOWED), {}, "bulk: no drop counter moved on gwA")
        r.equal(drops(bB, aB, ALLOWED), {}, "bulk: no drop counter moved on gwB")
        # The flow's own SAs carried it.
        outs = [s for s in A.sas() if s["dir"] == "out" and s["sel"].get("proto") == "tcp"]
        big = [s for s in outs if s["stats"]["bytes"] >= BULK]
        r.check(len(big) == 1, "bulk: one outbound SA on gwA carried the %d MB" %
                (BULK // 1000000),
                [(s["spi"], s["sel"], s["stats"]) for s in outs][:5])

    def parallel(self):
        r, t, A, B = self.r, self.t, self.A, self.B
        n0 = len(self.km.children)
        t0 = time.time()
        ok, errors = parallel_tcp(t, NPAR, PAR_PORT, 256 << 10)
        took = time.time() - t0
        r.check(ok == NPAR and not errors, "parallel: %d TCP connections at once, each "
                "256 KiB intact (%.1f s)" % (NPAR, took), "intact %d" % ok, *errors[:5])

        def count(gw):
            p = gw.espctl("-j", "state", "list")
            lst = json.loads(p.stdout)
            mine = [s for s in lst if PAR_PORT in (s.get("sel", {}).get("sport"),
                                                   s.get("sel", {}).get("dport"))]
            return (sum(1 for s in mine if s["dir"] == "out"),
                    sum(1 for s in mine if s["dir"] == "in"))
        for side, gw in (("A", A), ("B", B)):
            r.equal(count(gw), (NPAR, NPAR), "parallel: gw%s has %d SAs for port %d: %d out "
                    "+ %d in (espctl -j state list)" % (side, 2 * NPAR, PAR_PORT, NPAR, NPAR))
        kids = [c for c in self.km.children[n0:] if PAR_PORT in
                (c.sel.get("sport"), c.sel.get("dport"))]
        r.check(len(kids) == NPAR and all(c.ok for c in kids),
                "parallel: the key manager made %d SA pairs, one per connection" % NPAR,
                "children %d" % len(kids), [c.error for c in kids if c.error][:3])
        sels = {(c.sel["src"], c.sel["dst"], c.sel["proto"], c.sel.get("sport"),
                 c.sel.get("dport")) for c in kids}
        r.equal(len(sels), NPAR, "parallel: each pair's selector is its connection's 5-tuple")

    def ipv6(self):
        r, t = self.r, self.t
        res = tcp_transfer(t.ns["hA"], t.ns["hB"], SITE["B"]["host6"], nbytes=4 << 20,
                           timeout=60)
        r.check(res["ok"], "ipv6: 4 MiB over TCP/IPv6 from fd01::10 to fd02::10, intact",
                {k: v for k, v in res.items() if not k.startswith("sha")})
        res = tcp_transfer(t.ns["hB"], t.ns["hA"], SITE["A"]["host4"], nbytes=4 << 20,
                           timeout=60)
        r.check(res["ok"], "reverse: 4 MiB over TCP from hostB to hostA (gwB ACQUIREs)",
                {k: v for k, v in res.items() if not k.startswith("sha")})

    def wire(self, pcap):
        r = self.r
        frames = [f for _, f in pcap_frames(pcap)]
        audit = wan_audit(frames)
        r.check(len(audit["esp"]) > BULK // 1500, "wire: the WAN capture holds %d ESP frames"
                % len(audit["esp"]), "frames %d" % len(frames))
        r.check(not audit["clear"], "wire: no inner packet in clear on the WAN (no site "
                "address as outer address, no plaintext marker) in %d frames" % len(frames),
                *[str(classify_frame(f)) for f in audit["clear"][:5]])
        # Only ESP between the two gateways (and ARP/ND/MLD on the link).
        ips = {classify_frame(f)[1:4] for f in audit["esp"]}
        r.check(ips <= {(WAN4["A"], WAN4["B"], 50), (WAN4["B"], WAN4["A"], 50)},
                "wire: ESP only between 172.16.0.1 and 172.16.0.2", sorted(ips)[:5])
        other = [classify_frame(f) for f in audit["other"]]
        odd = [o for o in other if o[0] not in ("arp",) and not (
            o[0] == "ip6" and o[3] in (0, 58))]
        r.check(not odd, "wire: nothing else but ARP and ICMPv6 (ND, MLD) on the WAN", odd[:5])
        # Decrypt a sample with the key manager's keys.
        from scapy.layers.inet import IP
        from scapy.layers.ipsec import ESP
        from scapy.layers.l2 import Ether

        sample = random.Random(1).sample(audit["esp"], min(30, len(audit["esp"])))
        bad = []
        inner_ok = 0
        for f in sample:
            ip = Ether(f)[IP]
            spi = ip[ESP].spi
            s = self.km.find_sa(spi, ip.src, ip.dst)
            if s is None:
                bad.append("unknown SPI 0x%08x" % spi)
                continue
            try:
                inner = s.scapy_sa().decrypt(IP(bytes(ip)))
            except Exception as e:  # scapy raises several kinds
                bad.append("SPI 0x%08x seq %d: %s" % (spi, ip[ESP].seq, e))
                continue
            src = inner.src if hasattr(inner, "src") else ""
            if src.startswith(("192.168.1.", "192.168.2.", "fd01:", "fd02:")):
                inner_ok += 1
            else:
                bad.append("SPI 0x%08x: inner %s" % (spi, inner.summary()))
        r.check(not bad and inner_ok == len(sample),
                "wire: %d sampled ESP frames decrypt with the key manager's keys to packets "
                "between the sites" % len(sample), *bad[:5])


def main():
    clamp = "set tcp-mss-clamp auto"

    def body(r, build):
        with Topo(build=build, extra={"A": clamp, "B": clamp}) as t:
            pcap = os.path.join(t.wd, "wan.pcap")
            dump = t.tcpdump(pcap, snaplen=0)

            def after(T):
                err = t.stop_tcpdump(dump)
                print("# tcpdump: %s" % " ".join(err.split("\n")[-4:]).strip())

                def wire():
                    T.wire(pcap)
                run_cases(r, [wire])
            with_pairkm(t, r, ["first", "mss", "bulk", "parallel", "ipv6"], Test, after)
    return live_main("e2e", body)


if __name__ == "__main__":
    sys.exit(main())
