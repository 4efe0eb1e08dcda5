#!/usr/bin/python3
"""Outer IPv6 fragments checked by an independent peer: scapy.

A tunnel over IPv6 whose port has MTU 1300 must still carry IPv6 packets
of up to 1280 bytes (RFC 8200 5): espd sends their ESP packets in IPv6
fragments (RFC 8200 4.5). Here one espd run over pcap vdevs sends such
packets through an ESP SA and an ESP-in-UDP SA (NAT-T, whose UDP checksum
covers the whole datagram). scapy puts each one's fragments back together
(defragment6) and decrypts it, and the result must be the packet sent,
one hop on. A packet of 1281 bytes gets Packet Too Big 1280 instead, and
one that fits goes whole.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_frag6.py [BUILD_DIR]
"""

import os
import sys

from espdtest.run import Espd, EspdError, Report
from espdtest.interop import (CONF_HEAD, P0_MAC, P1_MAC, HOST_GW_MAC, PEER_GW_MAC,
                              strip_udp)

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, ICMPv6PacketTooBig, defragment6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

LOCAL6, PEER6 = "2001:db8:1::5", "2001:db8:2::5"
KEY = bytes(range(1, 21))
SPI_ESP, SPI_UDP = 0x6a01, 0x6a02
NATT_PORT = 4500
MTU = 1300

CONF = CONF_HEAD.replace("2001:db8:1::5/64 mac %s queues 1" % P1_MAC,
                         "2001:db8:1::5/64 mac %s queues 1 mtu %d" % (P1_MAC, MTU)) + "".join([
    "state add src %s dst %s proto esp spi 0x%x dir out reqid 1 mode tunnel "
    "aead 'rfc4106(gcm(aes))' 0x%s 128\n" % (LOCAL6, PEER6, SPI_ESP, KEY.hex()),
    "state add src %s dst %s proto esp spi 0x%x dir out reqid 2 mode tunnel "
    "aead 'rfc4106(gcm(aes))' 0x%s 128 encap espinudp %d %d ::\n" % (
        LOCAL6, PEER6, SPI_UDP, KEY.hex(), NATT_PORT, NATT_PORT),
    "policy add src fd01::/16 dst fd02::/16 dir out tmpl src %s dst %s proto esp "
    "reqid 1 mode tunnel\n" % (LOCAL6, PEER6),
    "policy add src fd01::/16 dst fd03::/16 dir out tmpl src %s dst %s proto esp "
    "reqid 2 mode tunnel\n" % (LOCAL6, PEER6),
])


def inner(dst, size, tag):
    """An IPv6 UDP packet of @size bytes from the protected side."""
    p = IPv6(src="fd01::10", dst=dst, hlim=64) / UDP(sport=1000 + tag, dport=5678)
    return p / Raw(bytes((tag + i) & 0xff for i in range(size - len(p))))


def sa(spi):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=KEY,
                               auth_algo="NULL", tunnel_header=IPv6(src=LOCAL6, dst=PEER6))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    rep = Report("frag6")
    sent = [inner("fd02::20", 1280, 1), inner("fd03::20", 1280, 2),
            inner("fd02::20", 1200, 3), inner("fd02::20", 1281, 4),
            inner("fd03::20", 1240, 5)]
    rx0 = [Ether(src=HOST_GW_MAC, dst=P0_MAC) / p for p in sent]
    run = Espd(build=build, timeout=60).run(CONF, [rx0, []])
    try:
        run.ok()
    except EspdError as e:
        rep.check(False, "espd run", str(e)[-3000:])
        return rep.close()

    out1 = [f for f in run.out[1] if f.haslayer(IPv6)]
    frags = [f[IPv6] for f in out1 if f.haslayer(IPv6ExtHdrFragment)]
    whole = [f[IPv6] for f in out1 if not f.haslayer(IPv6ExtHdrFragment)]
    rep.check(all(len(f[IPv6]) <= MTU and f.src == P1_MAC and f.dst == PEER_GW_MAC
                  for f in out1),
              "every frame out of port 1 fits its MTU of %d and goes to the next hop" % MTU,
              ["%d bytes" % len(f[IPv6]) for f in out1])
    ids = {}
    for f in frags:
        ids.setdefault(f[IPv6ExtHdrFragment].id, []).append(f)
    rep.equal(sorted(len(v) for v in ids.values()), [2, 2, 2],
              "three packets (1280, 1280 in UDP, 1240 in UDP) in two fragments each, "
              "one ID each")
    rep.equal(len(whole), 1, "the 1200-byte packet's ESP goes whole (1276 bytes)")

    got = []
    for fid, pieces in sorted(ids.items()):
        pkt = defragment6([IPv6(bytes(x)) for x in pieces])
        if pkt.haslayer(UDP):
            u = pkt[UDP]
            ref = IPv6(bytes(pkt))
            ref[UDP].chksum = None
            ref = IPv6(bytes(ref))
            rep.check(u.sport == NATT_PORT and u.dport == NATT_PORT and
                      u.chksum == ref[UDP].chksum,
                      "id %#x: ESP in UDP, ports 4500, checksum right over the whole "
                      "datagram" % fid, "sport %d dport %d chksum %#x want %#x" % (
                          u.sport, u.dport, u.chksum, ref[UDP].chksum))
            pkt, spi = strip_udp(pkt), SPI_UDP
        else:
            spi = SPI_ESP
        try:
            dec = sa(spi).decrypt(IPv6(bytes(pkt)))
        except Exception as e:  # scapy raises on a bad ICV or layout
            rep.check(False, "id %#x: scapy decrypts it" % fid, str(e))
            continue
        got.append(bytes(dec))
    for w in whole:
        try:
            got.append(bytes(sa(SPI_ESP).decrypt(IPv6(bytes(w)))))
        except Exception as e:
            rep.check(False, "the whole ESP packet decrypts", str(e))
    one_hop = {}
    for p in sent:
        q = IPv6(bytes(p))
        q.hlim -= 1
        one_hop[bytes(q)] = len(p)
    rep.equal(sorted(one_hop.get(g, 0) for g in got), [1200, 1240, 1280, 1280],
              "scapy decrypts four packets, each the one sent with its hop limit "
              "one lower")

    ptb = [f for f in run.out[0] if f.haslayer(ICMPv6PacketTooBig)]
    rep.check(len(ptb) == 1 and ptb[0][ICMPv6PacketTooBig].mtu == 1280 and
              ptb[0][IPv6].dst == "fd01::10",
              "the 1281-byte packet gets Packet Too Big 1280 (never less)",
              [p.summary() for p in run.out[0]])
    g = run.stats["global"]
    rep.check(g["Fragmented"] == 3 and g["FragNeeded"] == 1 and g["FragFailed"] == 0,
              "counters: Fragmented 3, FragNeeded 1, FragFailed 0",
              {k: g[k] for k in ("Fragmented", "FragNeeded", "FragFailed")})
    return rep.close()


if __name__ == "__main__":
    sys.exit(main())
