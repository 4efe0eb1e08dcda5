#!/usr/bin/python3
"""NAT traversal, live: gwA sits behind a NAT namespace (10.99.0.2 inside,
masqueraded by nftables to 172.16.0.3 on the WAN), so the pair key
manager keys every SA with `encap espinudp 4500 4500 0.0.0.0` and gives
gwB the NAT's address as gwA's.

  ping       hostA <-> hostB through the NAT
  transfer   TCP both ways (hostA first, then hostB, whose ESP rides the
             NAT mapping hostA's opened)
  sas        every SA carries encap espinudp 4500/4500
  keepalive  a NAT keepalive (one 0xFF byte to 4500) is dropped quietly
  wire       the WAN sees only UDP 4500 between 172.16.0.3 and 172.16.0.2,
             no plain ESP, nothing in clear; samples decrypt

Needs nft (Debian package nftables); without it the test prints why and
exits 77 (meson's skip).

    PYTHONPATH=tests /usr/bin/python3 tests/live/test_nat.py [BUILD_DIR]
"""

import os
import random
import socket
import sys
import time

from espdtest.topo import (Topo, live_main, with_pairkm, SITE, WAN4, ping, replies, have,
                           tcp_transfer, run_cases, delta, drops, ns_socket, pcap_frames,
                           wan_audit, classify_frame, wait_for)

ALLOWED = ("TapDropped",)


class Test:
    def __init__(self, t, km, r):
        self.t, self.km, self.r = t, km, r
        self.A, self.B = t.gw["A"], t.gw["B"]

    def ping(self):
        r, t = self.r, self.t
        res = ping(t.ns["hA"], SITE["B"]["host4"], count=3, timeout=3)
        r.check(replies(res) >= 2, "ping: hostA -> hostB through the NAT", res,
                self.km.summary())

    def transfer(self):
        r, t, A, B = self.r, self.t, self.A, self.B
        bA, bB = A.stats(), B.stats()
        res = tcp_transfer(t.ns["hA"], t.ns["hB"], SITE["B"]["host4"], nbytes=8 << 20,
                           timeout=60)
        r.check(res["ok"], "transfer: 8 MiB over TCP hostA -> hostB through the NAT, intact "
                "(%.1f s)" % (res["seconds"] or 0),
                {k: v for k, v in res.items() if not k.startswith("sha")})
        res = tcp_transfer(t.ns["hB"], t.ns["hA"], SITE["A"]["host4"], nbytes=2 << 20,
                           timeout=60)
        r.check(res["ok"], "transfer: 2 MiB over TCP hostB -> hostA (gwB's ACQUIRE), intact",
                {k: v for k, v in res.items() if not k.startswith("sha")})
        r.equal(drops(bA, A.stats(), ALLOWED + ("FragNeeded",)), {},
                "transfer: no drop counter moved on gwA")
        r.equal(drops(bB, B.stats(), ALLOWED + ("FragNeeded",)), {},
                "transfer: no drop counter moved on gwB")

    def sas(self):
        r = self.r
        for side, gw in (("A", self.A), ("B", self.B)):
            lst = gw.sas()
            enc = [s.get("encap") for s in lst]
            r.check(lst and all(e and e.get("type") == "espinudp" and e.get("sport") == 4500
                                and e.get("dport") == 4500 for e in enc),
                    "sas: all %d SAs on gw%s have encap espinudp 4500 4500" % (len(lst), side),
                    enc[:3])
        ins = [s for s in self.B.sas() if s["dir"] == "in"]
        r.check(ins and all(s["src"] == WAN4["nat"] for s in ins),
                "sas: gwB's inbound SAs come from the NAT's address 172.16.0.3",
                [(s["src"], s["dst"]) for s in ins][:3])

    def keepalive(self):
        r, t, B = self.r, self.t, self.B
        b = B.stats()
        c = ns_socket(t.ns["wan"], socket.AF_INET, socket.SOCK_DGRAM)
        try:
            c.bind((WAN4["wan"], 4500))
            c.sendto(b"\xff", (WAN4["B"], 4500))
        finally:
            c.close()
        wait_for(lambda: delta(b, B.stats()).get("NatKeepalive"), 5)
        time.sleep(0.1)  # anything more would show
        d = delta(b, B.stats())
        r.check(d.get("NatKeepalive") == 1 and not drops(b, B.stats(), ALLOWED),
                "keepalive: one 0xFF byte to 172.16.0.2:4500 -> NatKeepalive +1, nothing else",
                d)

    def wire(self, pcap):
        r = self.r
        frames = [f for _, f in pcap_frames(pcap)]
        audit = wan_audit(frames)
        tuples = {classify_frame(f)[1:6] for f in audit["esp"]}
        keep = (WAN4["wan"], WAN4["B"], 17, 4500, 4500)
        tuples.discard(keep)
        r.check(len(audit["esp"]) > 1000, "wire: %d ESP-in-UDP frames on the WAN" %
                len(audit["esp"]))
        want = {(WAN4["nat"], WAN4["B"], 17, 4500, 4500), (WAN4["B"], WAN4["nat"], 17, 4500, 4500)}
        r.check(tuples and tuples <= want, "wire: only UDP 4500 <-> 4500 between the NAT "
                "(172.16.0.3) and gwB, no plain ESP", sorted(tuples)[:6])
        r.check(not audit["clear"], "wire: no inner packet in clear on the WAN",
                *[str(classify_frame(f)) for f in audit["clear"][:5]])
        from scapy.layers.inet import IP, UDP
        from scapy.layers.ipsec import ESP
        from scapy.layers.l2 import Ether

        esp = [f for f in audit["esp"] if classify_frame(f)[1:6] != keep]
        sample = random.Random(2).sample(esp, min(20, len(esp)))
        bad = []
        for f in sample:
            ip = Ether(f)[IP]
            e = ESP(bytes(ip[UDP].payload))
            s = self.km.find_sa(e.spi)
            if s is None:
                bad.append("unknown SPI 0x%08x" % e.spi)
                continue
            try:
                # The SA's own addresses; the NAT rewrote one of them.
                pkt = IP(src=s.src, dst=s.dst) / UDP(sport=4500, dport=4500) / e
                s.scapy_sa().decrypt(IP(bytes(pkt)))
            except Exception as ex:  # scapy raises several kinds
                bad.append("SPI 0x%08x: %s" % (e.spi, ex))
        r.check(sample and not bad, "wire: %d sampled frames decrypt with the key manager's "
                "keys" % len(sample), *bad[:5])


def main():
    if not have("nft"):
        print("SKIP nat: nft is not installed (Debian package nftables), so there is no NAT "
              "to put between the gateways")
        return 77

    def body(r, build):
        with Topo(build=build, nat=True) as t:
            pcap = os.path.join(t.wd, "wan.pcap")
            dump = t.tcpdump(pcap, snaplen=0)

            def after(T):
                t.stop_tcpdump(dump)

                def wire():
                    T.wire(pcap)
                run_cases(r, [wire])
            with_pairkm(t, r, ["ping", "transfer", "sas", "keepalive"], Test, after)
    return live_main("nat", body)


if __name__ == "__main__":
    sys.exit(main())
