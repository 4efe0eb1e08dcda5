#!/usr/bin/python3
"""NAT traversal with charon on both espd gateways: gwA sits behind the
NAT namespace (10.99.0.2, masqueraded to 172.16.0.3), as in
tests/live/test_nat.py, but keyed by IKE.

  nat-t     charon detects the NAT (NAT-D): a flow's CHILD_SA gets
            encap espinudp on both espd, gwB's inbound SA comes from the
            NAT's address, and the flow works both ways
  rebind    the NAT forgets its mapping and masquerades from other ports
            (20000-20099): gwA's next ESP reaches gwB from a new port,
            gwB's espd raises `mapping`, kernel-espd hands it to charon,
            charon moves the SAs (`state migrate`), and gwB's answers
            follow the new mapping back to hostA

Needs nft and conntrack (Debian packages nftables, conntrack); skips
with the reason otherwise.

    PYTHONPATH=tests /usr/bin/python3 tests/ike/test_nat.py [BUILD_DIR]
"""

import socket
import sys
import time

from espdtest.charon import Charon, plugin_path, run_with_charons
from espdtest.topo import (Topo, live_main, SITE, WAN4, NAT_GWA, NAT_IN,
                           default_build, ns_socket, UdpSink, have)

SPORT = 44000


class Test:
    def __init__(self, t, r, build):
        self.t, self.r = t, r
        self.A, self.B = t.gw["A"], t.gw["B"]
        self.c = {}
        # charon's IKE leaves through gwA's TAP: its kernel needs the
        # route that espd's config gives espd.
        t.run("gA", "ip", "route", "add", "172.16.0.0/24", "via", NAT_IN, "dev", "tapA")
        for side, local, remote in (("A", NAT_GWA, WAN4["B"]), ("B", WAN4["B"], "%any")):
            c = Charon(t, "g" + side, side, espd_sock=t.gw[side].sock,
                       plugin=plugin_path(build))
            o = "B" if side == "A" else "A"
            c.conn("flows", local=local, remote=remote, local_ts=SITE[side]["net4"],
                   remote_ts=SITE[o]["net4"], start_action="trap", reqid=1, policies=False,
                   local_id="gw" + side, remote_id="gw" + o)
            self.c[side] = c.start()
        self.sink = UdpSink(t.ns["hB"], 5001)
        self.sink.reply = lambda b: b"re:" + b
        self.s = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((SITE["A"]["host4"], SPORT))
        self.s.settimeout(0.2)

    def close(self):
        self.sink.close()
        self.s.close()

    def roundtrip(self, tag, timeout=8):
        """Send @tag from hostA:SPORT until its answer comes back."""
        end = time.time() + timeout
        while time.time() < end:
            self.s.sendto(tag, (SITE["B"]["host4"], 5001))
            try:
                while True:
                    d, _ = self.s.recvfrom(100)
                    if d == b"re:" + tag:
                        return True
            except socket.timeout:
                pass
        return False

    def out_encap(self):
        return [(s.get("encap") or {}).get("dport") for s in self.B.sas() if s["dir"] == "out"]

    def nat_t(self):
        r, A, B = self.r, self.A, self.B
        ok = self.roundtrip(b"hello")
        r.check(ok, "nat-t: a flow from hostA gets its answer from hostB through the NAT",
                self.c["A"].log_tail(1500), self.c["B"].log_tail(1000))
        sas = A.sas() + B.sas()
        r.check(sas and all((s.get("encap") or {}).get("type") == "espinudp" for s in sas),
                "nat-t: charon found the NAT: all %d SAs carry encap espinudp" % len(sas),
                [(s["dir"], s.get("encap")) for s in sas])
        ins = [s for s in B.sas() if s["dir"] == "in"]
        r.check(ins and all(s["src"] == WAN4["nat"] for s in ins),
                "nat-t: gwB's inbound SA comes from the NAT's address 172.16.0.3",
                [(s["src"], s["dst"]) for s in ins])

    def rebind(self):
        r, t, B = self.r, self.t, self.B
        before = self.out_encap()
        m0 = B.counters().get("MappingEvents", 0)
        # The NAT reboots, as it were: a new masquerade range, and its
        # table forgotten.
        t.run("nat", "nft", "flush", "chain", "ip", "nat", "post")
        t.run("nat", "nft", "add", "rule", "ip", "nat", "post", "oifname", "out", "meta",
              "l4proto", "udp", "masquerade", "to", ":20000-20099")
        t.run("nat", "conntrack", "-D", "-p", "udp", check=False)
        ok = self.roundtrip(b"after", timeout=10)
        after = self.out_encap()
        m1 = B.counters().get("MappingEvents", 0)
        r.check(m1 > m0, "rebind: gwB's espd raised a mapping event (MappingEvents %d -> %d)"
                % (m0, m1))
        r.check(after and all(p is not None and 20000 <= p <= 20099 for p in after),
                "rebind: charon moved gwB's outbound SA to the NAT's new port "
                "(encap dport %s -> %s)" % (before, after), self.c["B"].log_tail(1500))
        r.check("NAT mapping of SA" in self.c["B"].log(),
                "rebind: kernel-espd passed the mapping to charon (its log says so)")
        r.check(ok, "rebind: hostA's flow gets its answers again, through the new mapping",
                B.sas())


def main():
    if not have("nft") or not have("conntrack"):
        print("SKIP nat: needs nft and conntrack (Debian packages nftables, conntrack)")
        return 77

    def body(r, build):
        build = build or default_build()
        with Topo(build=build, nat=True, tap={"A": "tapA", "B": "tapB"}, v6=False) as t:
            T = Test(t, r, build)
            run_with_charons(r, t, T, [T.nat_t, T.rebind])
    return live_main("ike-nat", body)


if __name__ == "__main__":
    sys.exit(main())
