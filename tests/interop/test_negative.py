#!/usr/bin/python3
"""Negative paths of espd, in one run: each case has its own SA and flow,
and each names the counter it must raise. After the run every named
counter must equal the expected total, every other drop counter must be
0, and the per-SA counters must tell the same story.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_negative.py [BUILD_DIR]

Prints a line per check, then "negative: N passed, M failed".
"""

import sys

from espdtest.run import Espd, EspdError, DROP_COUNTERS, Report
from espdtest.interop import (CONF_HEAD, P0_MAC, P1_MAC, HOST_GW_MAC,
                              PEER_GW_MAC, ttl_minus_one)

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

LOCAL4, PEER4 = "172.16.1.5", "172.16.2.5"
GCM_KEY = bytes(range(1, 21))
CBC_KEY = bytes(range(0x40, 0x50))
SHA_KEY = bytes(range(0x60, 0x80))


class Neg:
    def __init__(self, name, counters, conf="", rx0=(), rx1=(), out0=0, out1=0,
                 sas=None):
        self.name = name
        self.counters = counters   # {counter: how much this case adds}
        self.conf = conf
        self.rx0 = list(rx0)
        self.rx1 = list(rx1)
        self.out0 = out0           # frames it should send out of port 0
        self.out1 = out1
        self.sas = sas or {}       # {spi: {field: value}}


def time_exceeded(frame, src, dst):
    """Is @frame an ICMP Time Exceeded from @src to @dst?"""
    e = Ether(bytes(frame))
    return IP in e and e[IP].src == src and e[IP].dst == dst and e[IP].proto == 1 and \
        bytes(e[IP].payload)[:1] == b"\x0b"


def in_sa_conf(spi, reqid, extra="", sel=None, algo=None, mode="tunnel",
               src=PEER4, dst=LOCAL4):
    algo = algo or "aead 'rfc4106(gcm(aes))' 0x%s 128" % GCM_KEY.hex()
    s = "state add src %s dst %s proto esp spi 0x%08x dir in reqid %d mode %s %s %s" % (
        src, dst, spi, reqid, mode, extra, algo)
    if sel:
        s += " sel src %s/32 dst %s/32" % sel
    return s + "\n"


def fwd_policy(src, dst, reqid, d="fwd"):
    return ("policy add src %s/32 dst %s/32 dir %s tmpl src %s dst %s proto esp "
            "reqid %d mode tunnel\n" % (src, dst, d, PEER4, LOCAL4, reqid))


def gcm_sa(spi, mode="tunnel"):
    kw = {}
    if mode == "tunnel":
        kw["tunnel_header"] = IP(src=PEER4, dst=LOCAL4)
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=GCM_KEY,
                               auth_algo="NULL", **kw)


def on1(ip):
    return Ether(src=PEER_GW_MAC, dst=P1_MAC) / ip


def on0(ip):
    return Ether(src=HOST_GW_MAC, dst=P0_MAC) / ip


def inner(n, ttl=64, tos=0, src=None, size=40):
    return IP(src=src or "10.2.9.%d" % n, dst="10.1.9.%d" % n, ttl=ttl, tos=tos) / \
        UDP(sport=1234, dport=5678) / Raw(bytes(size))


def cases():
    cs = []

    # Replay: the same ESP packet twice.
    sa = gcm_sa(0x3001)
    e = sa.encrypt(inner(1))
    cs.append(Neg("replayed packet -> XfrmInStateSeqError",
                  {"XfrmInStateSeqError": 1},
                  in_sa_conf(0x3001, 101) + fwd_policy("10.2.9.1", "10.1.9.1", 101),
                  rx1=[on1(e), on1(e)], out0=1,
                  sas={0x3001: {"packets": 1, "replay_drops": 1, "seq": 1}}))

    # No replay window: no replay check (as Linux), but the highest
    # number seen is still the SA's seq.
    sa = gcm_sa(0x301b)
    cs.append(Neg("replay-window 0: an older number goes in; seq is the highest seen",
                  {}, in_sa_conf(0x301b, 121, extra="replay-window 0") +
                  fwd_policy("10.2.9.21", "10.1.9.21", 121),
                  rx1=[on1(sa.encrypt(inner(21), seq_num=5)),
                       on1(sa.encrypt(inner(21), seq_num=3))], out0=2,
                  sas={0x301b: {"packets": 2, "replay_drops": 0, "seq": 5}}))

    # Bad ICV; a good packet with the same number then still goes in.
    sa = gcm_sa(0x3002)
    e = sa.encrypt(inner(2), seq_num=1)
    b = bytearray(bytes(e))
    b[-1] ^= 0x01
    cs.append(Neg("bad ICV -> XfrmInStateProtoError, window unmoved",
                  {"XfrmInStateProtoError": 1},
                  in_sa_conf(0x3002, 102) + fwd_policy("10.2.9.2", "10.1.9.2", 102),
                  rx1=[on1(IP(bytes(b))), on1(e)], out0=1,
                  sas={0x3002: {"packets": 1, "icv_failures": 1, "replay_drops": 0,
                                "seq": 1}}))

    # Truncated: the ESP header and 4 bytes, less than IV + ICV.
    cbc = "enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128" % (CBC_KEY.hex(),
                                                                      SHA_KEY.hex())
    cs.append(Neg("truncated ESP -> XfrmInHdrError",
                  {"XfrmInHdrError": 1},
                  in_sa_conf(0x3003, 103, algo=cbc) + fwd_policy("10.2.9.3", "10.1.9.3", 103),
                  rx1=[on1(IP(src=PEER4, dst=LOCAL4, proto=50) /
                           Raw(bytes.fromhex("00003003000000010a0b0c0d")))],
                  sas={0x3003: {"packets": 0, "icv_failures": 0}}))

    # Unknown SPI.
    cs.append(Neg("unknown SPI -> XfrmInNoStates",
                  {"XfrmInNoStates": 1},
                  rx1=[on1(gcm_sa(0x0badf00d).encrypt(inner(4)))]))

    # Plain traffic for flows that inbound protect policies cover.
    cs.append(Neg("plaintext under a dir in protect policy -> XfrmInTmplMismatch",
                  {"XfrmInTmplMismatch": 1},
                  fwd_policy("10.2.9.5", "10.1.9.5", 105, d="in"),
                  rx1=[on1(inner(5))]))
    cs.append(Neg("plaintext under a dir fwd protect policy -> XfrmInTmplMismatch",
                  {"XfrmInTmplMismatch": 1},
                  fwd_policy("10.2.9.6", "10.1.9.6", 106, d="fwd"),
                  rx1=[on1(inner(6))]))
    # ESP through an SA that the policy's template does not name.
    sa = gcm_sa(0x3007)
    cs.append(Neg("ESP through the wrong SA (reqid) -> XfrmInTmplMismatch",
                  {"XfrmInTmplMismatch": 1},
                  in_sa_conf(0x3007, 107) + fwd_policy("10.2.9.7", "10.1.9.7", 1007),
                  rx1=[on1(sa.encrypt(inner(7)))],
                  sas={0x3007: {"packets": 1}}))
    sa = gcm_sa(0x3018)
    cs.append(Neg("ESP through an SA the template's spi does not name -> XfrmInTmplMismatch",
                  {"XfrmInTmplMismatch": 1},
                  in_sa_conf(0x3018, 118) +
                  "policy add src 10.2.9.18/32 dst 10.1.9.18/32 dir fwd tmpl src %s dst %s "
                  "proto esp spi 0x3019 reqid 118 mode tunnel\n" % (PEER4, LOCAL4),
                  rx1=[on1(sa.encrypt(inner(18)))],
                  sas={0x3018: {"packets": 1}}))
    sa = gcm_sa(0x301a, mode="transport")
    cs.append(Neg("transport ESP through an SA between other endpoints than the template's "
                  "-> XfrmInTmplMismatch",
                  {"XfrmInTmplMismatch": 1},
                  in_sa_conf(0x301a, 120, mode="transport", src="10.2.9.20",
                             dst="10.1.9.20") +
                  "policy add src 10.2.9.20/32 dst 10.1.9.20/32 dir fwd tmpl src 10.2.9.99 "
                  "dst 10.1.9.20 proto esp reqid 120 mode transport\n",
                  rx1=[on1(sa.encrypt(inner(20)))],
                  sas={0x301a: {"packets": 1}}))

    # Block policies.
    cs.append(Neg("outbound block policy -> XfrmOutPolBlock",
                  {"XfrmOutPolBlock": 1},
                  "policy add src 10.1.9.8/32 dst 10.2.9.8/32 dir out action block\n",
                  rx0=[on0(IP(src="10.1.9.8", dst="10.2.9.8") / UDP() / Raw(b"x"))]))
    cs.append(Neg("inbound block policy, plaintext -> XfrmInPolBlock",
                  {"XfrmInPolBlock": 1},
                  "policy add src 10.2.9.9/32 dst 10.1.9.9/32 dir fwd action block\n",
                  rx1=[on1(inner(9))]))
    sa = gcm_sa(0x300a)
    cs.append(Neg("inbound block policy, decrypted -> XfrmInPolBlock",
                  {"XfrmInPolBlock": 1},
                  in_sa_conf(0x300a, 110) +
                  "policy add src 10.2.9.10/32 dst 10.1.9.10/32 dir in action block\n",
                  rx1=[on1(sa.encrypt(inner(10)))],
                  sas={0x300a: {"packets": 1}}))

    # NAT keepalive and IKE on 4500.
    cs.append(Neg("NAT keepalive -> NatKeepalive",
                  {"NatKeepalive": 1},
                  rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                           Raw(b"\xff"))]))
    ike = bytes(4) + bytes(range(8)) + bytes(8) + bytes([33, 0x20, 34, 0x08]) + \
        bytes(4) + (28).to_bytes(4, "big")
    cs.append(Neg("IKE with the non-ESP marker -> IkePunted, no tap: TapDropped",
                  {"IkePunted": 1, "TapDropped": 1},
                  rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                           Raw(ike))]))

    # TTL 1, both ways; outbound takes no sequence number.
    cs.append(Neg("TTL 1 outbound -> TtlExceeded and Time Exceeded back, no sequence "
                  "number used",
                  {"TtlExceeded": 1, "IcmpErrorsSent": 1},
                  "state add src %s dst %s proto esp spi 0x00004011 dir out reqid 111 "
                  "mode tunnel aead 'rfc4106(gcm(aes))' 0x%s 128\n" % (LOCAL4, PEER4,
                                                                    GCM_KEY.hex()) +
                  "policy add src 10.1.9.11/32 dst 10.2.9.11/32 dir out tmpl src %s dst %s "
                  "proto esp reqid 111 mode tunnel\n" % (LOCAL4, PEER4),
                  rx0=[on0(IP(src="10.1.9.11", dst="10.2.9.11", ttl=1) / UDP() / Raw(b"t"))],
                  sas={0x4011: {"packets": 0, "seq": 0}}, out0=1))
    sa = gcm_sa(0x300c)
    cs.append(Neg("TTL 1 inbound, after decap -> TtlExceeded and Time Exceeded back",
                  {"TtlExceeded": 1, "IcmpErrorsSent": 1},
                  in_sa_conf(0x300c, 112) + fwd_policy("10.2.9.12", "10.1.9.12", 112),
                  rx1=[on1(sa.encrypt(inner(12, ttl=1)))],
                  sas={0x300c: {"packets": 1, "seq": 1}}, out1=1))

    # The inner packet is outside the SA's selector.
    sa = gcm_sa(0x300d)
    cs.append(Neg("inner packet outside the SA's sel -> XfrmInStateMismatch",
                  {"XfrmInStateMismatch": 1},
                  in_sa_conf(0x300d, 113, sel=("10.2.9.13", "10.1.9.13")),
                  rx1=[on1(sa.encrypt(inner(13, src="10.2.9.99")))],
                  sas={0x300d: {"packets": 1}}))

    # RFC 6040: outer CE over a not-ECT inner packet.
    sa = SecurityAssociation(ESP, spi=0x300e, crypt_algo="AES-GCM", crypt_key=GCM_KEY,
                             auth_algo="NULL", tunnel_header=IP(src=PEER4, dst=LOCAL4, tos=3))
    cs.append(Neg("outer CE over not-ECT inner -> XfrmInStateModeError",
                  {"XfrmInStateModeError": 1},
                  in_sa_conf(0x300e, 114) + fwd_policy("10.2.9.14", "10.1.9.14", 114),
                  rx1=[on1(sa.encrypt(inner(14, tos=0)))],
                  sas={0x300e: {"packets": 1}}))

    # A dummy packet (next header 59), transport mode: dropped, InDummy only.
    sa = gcm_sa(0x300f, mode="transport")
    dummy = IP(src="10.2.9.15", dst="10.1.9.15", proto=59) / Raw(b"\x00" * 16)
    cs.append(Neg("dummy packet (next header 59) -> InDummy",
                  {"InDummy": 1},
                  in_sa_conf(0x300f, 115, mode="transport", src="10.2.9.15", dst="10.1.9.15"),
                  rx1=[on1(sa.encrypt(dummy))],
                  sas={0x300f: {"packets": 1}}))

    # Not IP at all, and plain traffic with no route.
    cs.append(Neg("ARP request for the gateway's address -> answered",
                  {}, out1=1,
                  rx1=[Ether(src=PEER_GW_MAC, dst="ff:ff:ff:ff:ff:ff") /
                       ARP(psrc=PEER4, pdst=LOCAL4)]))
    cs.append(Neg("not IP, not ARP on the unprotected port -> NotIp",
                  {"NotIp": 1},
                  rx1=[Ether(src=PEER_GW_MAC, dst=P1_MAC, type=0x88b5) / Raw(bytes(50))]))
    cs.append(Neg("bypassed packet with no route -> Bypass, NoRoute",
                  {"NoRoute": 1, "Bypass": 1},
                  rx0=[on0(IP(src="10.1.9.17", dst="203.0.113.17") / UDP() / Raw(b"r"))]))
    # TTL spent and no route: no route, as in Linux (no Time Exceeded,
    # and no error at all without `set icmp-unreachable on`).
    cs.append(Neg("TTL 1 and no route -> NoRoute, no Time Exceeded",
                  {"NoRoute": 1},
                  rx0=[on0(IP(src="10.1.9.18", dst="203.0.113.18", ttl=1) / UDP() /
                           Raw(b"t"))]))
    # Martian sources are never forwarded, from either side (README).
    cs.append(Neg("loopback source from the protected side -> MartianSource",
                  {"MartianSource": 1},
                  rx0=[on0(IP(src="127.0.0.1", dst="10.2.9.40") / UDP() / Raw(b"m"))]))
    cs.append(Neg("multicast source, plain on the unprotected port -> MartianSource",
                  {"MartianSource": 1},
                  rx1=[on1(IP(src="224.0.0.9", dst="10.1.9.40") / UDP() / Raw(b"m"))]))
    cs.append(Neg("IPv6 link-local source from the protected side -> MartianSource",
                  {"MartianSource": 1},
                  rx0=[on0(IPv6(src="fe80::99", dst="fd02::40") / UDP() / Raw(b"m"))]))
    return cs


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    cs = cases()
    conf = CONF_HEAD + "".join(c.conf for c in cs)
    rx0 = [p for c in cs for p in c.rx0]
    rx1 = [p for c in cs for p in c.rx1]
    run = Espd(build=build, timeout=60).run(conf, [rx0, rx1])
    try:
        run.ok()
    except EspdError as e:
        print("FAIL espd run: %s" % e)
        print("negative: 0 passed, %d failed" % (len(cs) + 1))
        return 1

    rep = Report("negative")

    def report(ok, name, why=()):
        rep.check(ok, name, *list(why))

    want = {}
    for c in cs:
        for k, v in c.counters.items():
            want[k] = want.get(k, 0) + v
    g = run.stats["global"]

    for c in cs:
        why = []
        for k in c.counters:
            if g.get(k) != want[k]:
                why.append("%s is %s, want %d" % (k, g.get(k), want[k]))
        for spi, fields in c.sas.items():
            s = run.sa(spi)
            if s is None:
                why.append("SA 0x%08x missing from the stats" % spi)
                continue
            for f, v in fields.items():
                if s[f] != v:
                    why.append("SA 0x%08x %s is %d, want %d" % (spi, f, s[f], v))
        report(not why, c.name, why)

    # Everything else stays at 0.
    why = ["%s is %d, want %d" % (k, g[k], want.get(k, 0))
           for k in DROP_COUNTERS + ("InDummy", "NatKeepalive", "IkePunted", "Bypass",
                                     "Protect")
           if g[k] != want.get(k, 0)]
    report(not why, "no other counter moved", why)

    # What came out: exactly the good packets, with TTL - 1.
    out0 = sum(c.out0 for c in cs)
    out1 = sum(c.out1 for c in cs)
    why = []
    if len(run.out[0]) != out0 or len(run.out[1]) != out1:
        why.append("%d frames out of port 0 (want %d), %d out of port 1 (want %d)" % (
            len(run.out[0]), out0, len(run.out[1]), out1))
    good = {bytes(Ether(src=P0_MAC, dst=HOST_GW_MAC) / IP(ttl_minus_one(inner(n))))
            for n in (1, 2, 21)}
    for f in run.out[0]:
        if bytes(f) not in good and not time_exceeded(f, "192.168.1.1", "10.1.9.11"):
            why.append("unexpected frame out of port 0: %s" % bytes(f).hex()[:120])
    # Out of port 1: the ARP reply, and the Time Exceeded about the packet
    # that came out of SA 0x300c, from the inside address (DESIGN.md: so it
    # would go back through a tunnel).
    for f in run.out[1]:
        e = Ether(bytes(f))
        if not (ARP in e and e[ARP].op == 2 and e[ARP].psrc == LOCAL4) and \
                not time_exceeded(f, "192.168.1.1", "10.2.9.12"):
            why.append("unexpected frame out of port 1: %s" % e.summary())
    p0, p1 = run.port(0), run.port(1)
    if p0["rx"] != len(rx0) or p1["rx"] != len(rx1):
        why.append("port rx %d/%d, want %d/%d" % (p0["rx"], p1["rx"], len(rx0), len(rx1)))
    report(not why, "only the good packets left, with TTL - 1", why)

    # The unknown SPI raised one invalid-spi event (counted with or
    # without a monitor).
    report(g.get("InvalidSpiEvents", 0) == 1, "one unknown SPI -> InvalidSpiEvents 1",
           ["InvalidSpiEvents is %d" % g.get("InvalidSpiEvents", 0)])
    return rep.close()


if __name__ == "__main__":
    sys.exit(main())
