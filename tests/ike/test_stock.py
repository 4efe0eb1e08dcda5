#!/usr/bin/python3
"""espd keyed by strongSwan (charon + kernel-espd) against a stock
strongSwan peer that espd did not write: Debian's charon with
kernel-libipsec (userspace ESP, always in UDP 4500) in namespace gB,
which routes site B (192.168.2.0/24) as a plain Linux box.

  initiate   the stock peer initiates (libipsec traps never ACQUIRE); espd
             gets an inbound and an outbound SA with encap espinudp
             4500 4500, and charon's three policies (in, fwd, out) with
             the CHILD_SA's reqid
  ping       hostA <-> hostB, both directions
  transfer   TCP both ways, intact
  query      charon's byte counts of the CHILD_SA come from espd
             (query_sa), and match espd's `current`
  wire       the WAN carries only ESP in UDP 4500 and IKE between the two,
             nothing in clear; sampled frames from espd decrypt with the
             keys the stock peer logged (chd = 4): an independent decoder
             and an independent key source
  algos      one CHILD_SA per algorithm espd has, each for UDP to its own
             port of hostA (charon's port selectors become espd's policy
             and SA selectors): AES-GCM-256, ChaCha20-Poly1305,
             AES-CBC with HMAC-SHA1/256/384/512; a datagram each way over
             each, and espd's SA names the algorithm
  delete     the peer terminates the CHILD_SA: espd's SAs go, and the
             trap's policies (same selectors, lower priority) take over
  acquire    a ping from hostA hits espd's trap policy: the ACQUIRE
             reaches charon, charon negotiates with the stock responder,
             and the held packet is delivered: the very first ping is
             answered
  shutdown   charon stops: espd is left with no SA and no policy

Skips (exit 77) with the reason where strongSwan or the plugin is missing.

    PYTHONPATH=tests /usr/bin/python3 tests/ike/test_stock.py [BUILD_DIR]
"""

import os
import random
import re
import sys

from espdtest.charon import Charon, plugin_path, logged_keys
from espdtest.topo import (Topo, live_main, SITE, WAN4, ping, replies, tcp_transfer,
                           run_cases, pcap_frames, wan_audit, classify_frame, wait_for,
                           default_build)


# (child, ESP proposal, espd's algo name)
ALGOS = [("g256", "aes256gcm16", "rfc4106(gcm(aes))"),
         ("g12", "aes128gcm12", "rfc4106(gcm(aes))"),
         ("cha", "chacha20poly1305", "rfc7539esp(chacha20,poly1305)"),
         ("s1", "aes128-sha1", "cbc(aes)+hmac(sha1)"),
         ("s256", "aes256-sha256", "cbc(aes)+hmac(sha256)"),
         ("s384", "aes128-sha384", "cbc(aes)+hmac(sha384)"),
         ("s512", "aes256-sha512", "cbc(aes)+hmac(sha512)")]
# (ESN: libipsec has none; test_pair negotiates it between two espd.)
ALGO_PORT = 6001


def algo_children(local, remote, responder):
    """The extra children of ALGOS; the responder (espd's side, site A)
    serves UDP to ALGO_PORT+i of its site."""
    out = []
    for i, (name, props, _) in enumerate(ALGOS):
        port = "[udp/%d]" % (ALGO_PORT + i)
        if responder:
            out.append((name, local + port, remote + "[udp]", props))
        else:
            out.append((name, local + "[udp]", remote + port, props))
    return out


class Test:
    def __init__(self, t, r, ca, cb):
        self.t, self.r, self.ca, self.cb = t, r, ca, cb
        self.A = t.gw["A"]

    def initiate(self):
        r, A = self.r, self.A
        out = self.cb.swanctl("--initiate", "--child", "net", timeout=30, check=False)
        r.check("initiate completed successfully" in out,
                "initiate: the stock peer establishes the CHILD_SA with espd+charon",
                out[-1500:], self.ca.log_tail(1500))
        sas = A.sas()
        r.check(sorted(s["dir"] for s in sas) == ["in", "out"],
                "initiate: espd holds one inbound and one outbound SA",
                [(s["dir"], s["spi"]) for s in sas])
        r.check(sas and all((s.get("encap") or {}).get("sport") == 4500 and
                            (s.get("encap") or {}).get("dport") == 4500 for s in sas),
                "initiate: both SAs carry encap espinudp 4500 4500 (libipsec's NAT-T)",
                [s.get("encap") for s in sas])
        r.check(sas and all(s["algo"] == "rfc4106(gcm(aes))" and s["reqid"] == 1
                            for s in sas), "initiate: AES-GCM-128, reqid 1",
                [(s["algo"], s["reqid"]) for s in sas])
        pols = A.ctl("policy", "list")
        dirs = sorted(p["dir"] for p in pols if (p.get("tmpl") or {}).get("reqid") == 1)
        r.equal(dirs, ["fwd", "in", "out"], "initiate: charon's policies in, fwd, out "
                "reached espd with reqid 1")
        self.sa_prio = {p["dir"]: p["priority"] for p in pols}

    def ping(self):
        r, t = self.r, self.t
        res = ping(t.ns["hA"], SITE["B"]["host4"], count=3, timeout=3)
        r.check(replies(res) == 3, "ping: hostA -> hostB, 3 of 3", res)
        res = ping(t.ns["hB"], SITE["A"]["host4"], count=3, timeout=3)
        r.check(replies(res) == 3, "ping: hostB -> hostA, 3 of 3", res)

    def transfer(self):
        r, t = self.r, self.t
        for src, dst, side in (("hA", "hB", "B"), ("hB", "hA", "A")):
            res = tcp_transfer(t.ns[src], t.ns[dst], SITE[side]["host4"], nbytes=1 << 20,
                               timeout=60)
            r.check(res["ok"], "transfer: 1 MiB over TCP %s -> %s, intact (%.2f s)" % (
                src, dst, res["seconds"] or 0),
                {k: v for k, v in res.items() if not k.startswith("sha")})

    def query(self):
        r, A = self.r, self.A
        out = self.ca.swanctl("--list-sas")
        m = re.search(r"in\s+([0-9a-f]{8}),\s+(\d+) bytes,\s+(\d+) packets", out)
        sa = [s for s in A.sas() if s["dir"] == "in"]
        r.check(m and sa and int(m.group(3)) > 0,
                "query: charon reports the inbound SA's packets from espd", out[-800:])
        if m and sa:
            cur = A.ctl("state", "get", "src", sa[0]["src"], "dst", sa[0]["dst"], "proto",
                        "esp", "spi", sa[0]["spi"])["current"]
            # charon asked before we did: espd's count can only have grown.
            r.check(0 < int(m.group(3)) <= cur["packets"] and cur["use_time"] > 0,
                    "query: charon's count (%s packets) is espd's `current` (%d), "
                    "use_time set" % (m.group(3), cur["packets"]), cur)

    def wire(self, pcap):
        r = self.r
        from scapy.layers.inet import IP, UDP
        from scapy.layers.ipsec import ESP, SecurityAssociation
        from scapy.layers.l2 import Ether

        frames = [f for _, f in pcap_frames(pcap)]
        audit = wan_audit(frames)
        r.check(not audit["clear"], "wire: no inner packet in clear on the WAN",
                *[str(classify_frame(f)) for f in audit["clear"][:5]])
        tuples = {classify_frame(f)[1:6] for f in audit["esp"]}
        want = {(WAN4["A"], WAN4["B"], 17, 4500, 4500), (WAN4["B"], WAN4["A"], 17, 4500, 4500)}
        r.check(tuples and tuples <= want, "wire: only UDP 4500 <-> 4500 between the "
                "gateways, no plain ESP", sorted(tuples)[:6])
        # espd's ESP (not IKE: those start with the 4-byte non-ESP marker).
        esp = []
        for f in audit["esp"]:
            ip = Ether(f)[IP]
            body = bytes(ip[UDP].payload)
            if ip.src == WAN4["A"] and len(body) > 8 and body[:4] != b"\0\0\0\0":
                esp.append(body)
        keys = logged_keys(self.cb.log())
        r.check(len(keys) >= 2, "wire: the stock peer logged %d ESP keys" % len(keys))
        sample = random.Random(3).sample(esp, min(20, len(esp)))
        bad = []
        for body in sample:
            e = ESP(body)
            ok = False
            for k in keys:
                sa = SecurityAssociation(ESP, spi=e.spi, crypt_algo="AES-GCM", crypt_key=k,
                                         auth_algo="NULL", nat_t_header=UDP(sport=4500,
                                                                            dport=4500),
                                         tunnel_header=IP(src=WAN4["A"], dst=WAN4["B"]))
                try:
                    inner = sa.decrypt(IP(src=WAN4["A"], dst=WAN4["B"]) /
                                       UDP(sport=4500, dport=4500) / e)
                except Exception:  # the wrong key: the ICV fails
                    continue
                ok = inner.src.startswith("192.168.1.")
                break
            if not ok:
                bad.append("SPI 0x%08x: no logged key decrypts it" % e.spi)
        r.check(len(sample) >= 10 and not bad, "wire: %d sampled frames from espd decrypt "
                "with the stock peer's logged keys (scapy)" % len(sample), *bad[:5])

    def algos(self):
        r, t, A = self.r, self.t, self.A
        from espdtest.topo import UdpSink, ns_socket
        import socket
        for i, (name, props, algo) in enumerate(ALGOS):
            port = ALGO_PORT + i
            out = self.cb.swanctl("--initiate", "--child", name, timeout=30, check=False)
            if not r.check("initiate completed successfully" in out,
                           "algos: %s: CHILD_SA with %s established" % (name, props),
                           out[-800:], self.ca.log_tail(1500)):
                continue
            sas = [s for s in A.sas() if (s["sel"].get("dport") == port or
                                          s["sel"].get("sport") == port)]
            names = {s["algo"] for s in sas}
            r.check(len(sas) == 2 and names == {algo},
                    "algos: %s: espd holds both SAs, as %s, for UDP port %d only" % (
                        name, algo, port), [(s["dir"], s["algo"], s["sel"]) for s in sas])
            sink = UdpSink(t.ns["hA"], port)
            sink.reply = lambda b: b"re:" + b
            c = ns_socket(t.ns["hB"], socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(3)
            try:
                c.sendto(name.encode(), (SITE["A"]["host4"], port))
                try:
                    got = c.recvfrom(100)[0]
                except OSError:
                    got = None
            finally:
                c.close()
                sink.close()
            spis = {x["spi"] for x in sas}
            pk = {s["dir"]: s["stats"]["packets"] for s in A.sas() if s["spi"] in spis}
            r.check(got == b"re:" + name.encode() and pk == {"in": 1, "out": 1},
                    "algos: %s: a datagram hostB -> hostA and its answer cross %s, one "
                    "packet on each SA" % (name, props), got, pk)
            self.cb.swanctl("--terminate", "--child", name, timeout=30, check=False)

    def delete(self):
        r, A = self.r, self.A
        out = self.cb.swanctl("--terminate", "--child", "net", timeout=30, check=False)
        ok = wait_for(lambda: not A.sas(), 10)
        r.check(ok, "delete: the peer's delete removes both SAs from espd", out[-600:],
                A.sas())
        # charon's trap holds in, fwd and out too, at kernel-netlink's
        # lower "routed" priority (a larger number): those come back.
        pols = A.ctl("policy", "list")
        prio = {p["dir"]: p["priority"] for p in pols}
        r.check(sorted(prio) == ["fwd", "in", "out"] and
                all(prio[d] > self.sa_prio.get(d, 1 << 30) for d in prio),
                "delete: the trap's three policies, at the trap's priority, replace the SA's",
                "now %s, with the SA %s" % (prio, self.sa_prio))

    def acquire(self):
        r, t, A = self.r, self.t, self.A
        b = A.counters()
        res = ping(t.ns["hA"], SITE["B"]["host4"], count=1, timeout=8)
        r.check(replies(res) == 1, "acquire: the first ping through the trap is answered "
                "(held during the ACQUIRE and IKE, then sent)", res, self.ca.log_tail(2000))
        c = A.counters()
        r.check(c["AcquireSent"] > b["AcquireSent"] and
                c["AcquireHeldReleased"] > b["AcquireHeldReleased"],
                "acquire: espd raised an ACQUIRE and released the held packet",
                {k: c[k] - b[k] for k in ("AcquireSent", "AcquireHeld",
                                           "AcquireHeldReleased", "AcquireHeldDropped")})
        res = ping(t.ns["hB"], SITE["A"]["host4"], count=2, timeout=3)
        r.check(replies(res) == 2, "acquire: and hostB -> hostA answers over the new "
                "CHILD_SA", res)

    def shutdown(self):
        r, A = self.r, self.A
        self.ca.stop()
        r.equal(A.sas(), [], "shutdown: charon's exit leaves espd no SA")
        r.equal(A.ctl("policy", "list"), [], "shutdown: and no policy")


def main():
    def body(r, build):
        build = build or default_build()
        with Topo(build=build, tap={"A": "tapA"}, policies=False, peer_b=True,
                  v6=False) as t:
            ca = Charon(t, "gA", "A", espd_sock=t.gw["A"].sock, plugin=plugin_path(build))
            ca.conn("net", local=WAN4["A"], remote=WAN4["B"], local_ts=SITE["A"]["net4"],
                    remote_ts=SITE["B"]["net4"], start_action="trap", reqid=1,
                    children=algo_children(SITE["A"]["net4"], SITE["B"]["net4"], True))
            cb = Charon(t, "gB", "B", libipsec=True)
            cb.conn("net", local=WAN4["B"], remote=WAN4["A"], local_ts=SITE["B"]["net4"],
                    remote_ts=SITE["A"]["net4"],
                    children=algo_children(SITE["B"]["net4"], SITE["A"]["net4"], False))
            ca.start()
            cb.start()
            pcap = os.path.join(t.wd, "wan.pcap")
            dump = t.tcpdump(pcap, snaplen=0)
            T = Test(t, r, ca, cb)
            run_cases(r, [T.initiate, T.ping, T.transfer, T.query])
            t.stop_tcpdump(dump)
            run_cases(r, [lambda: T.wire(pcap), T.algos, T.delete, T.acquire, T.shutdown])
            cb.stop()
            t.stop_check(r)
    return live_main("stock", body)


if __name__ == "__main__":
    sys.exit(main())
