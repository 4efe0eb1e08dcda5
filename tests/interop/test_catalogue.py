#!/usr/bin/python3
"""A catalogue of hostile packets and malformed commands.

Packets: one espd run over pcap vdevs (espdrun.py). Each case names the
exact counters it raises (and how many frames it lets out); after the
run every named counter must equal the sum over all cases, and every
other drop counter (and InDummy, NatKeepalive, IkePunted, Bypass) must
be 0. Choices recorded here (README "Choices where DESIGN.md is silent"
and the code):
  - SPI 0 is invalid and 1..255 reserved (RFC 4303 2.1): no SA can carry
    them (`state add` refuses), so they count as XfrmInNoStates.
  - A frame too short for Ethernet + a 20-byte IP header, or not
    IPv4/IPv6/ARP by ethertype, counts as NotIp (the worker strips L2
    first). ARP is the gateway's own business: a request for its address
    is answered.
  - An IPv6 header cut short (20..39 bytes) is not ESP and not a valid
    plain packet: MalformedPacket.
  - Anything for the gateway's own address that is not ESP (UDP too
    short for its header, IKE) takes the exception path, which without a
    `tap` drops it: TapDropped.
  - ESP that comes in fragments is put back together before anything
    else: a fragment whose packet never completes is dropped when espd
    stops (ReassemblyFailed).
  - A decrypted packet whose TTL runs out gets an ICMP Time Exceeded,
    sent out of port 1 (IcmpErrorsSent).

Commands: a live espd (pcap vdevs, its own -s socket, no --exit-idle,
stopped with SIGTERM) and espctl, each malformed command with its exact
stderr line and exit status 1; a key must never appear on stderr.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_catalogue.py [BUILD_DIR]

Prints one line per case and "catalogue: N passed, M failed".
"""

import hashlib
import hmac
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from espdtest.run import (CtlError, Espd, EspdError, DROP_COUNTERS, Report, ctl_request,
                          wrpcap_list)
from espdtest.interop import CONF_HEAD, P0_MAC, P1_MAC, HOST_GW_MAC, PEER_GW_MAC

from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, \
    IPv6ExtHdrFragment
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import ARP, Ether, Dot1Q
from scapy.packet import Raw

LOCAL4, PEER4 = "172.16.1.5", "172.16.2.5"
LOCAL6, PEER6 = "2001:db8:1::5", "2001:db8:2::5"
GCM_KEY = bytes(range(1, 21))
CBC_KEY = bytes(range(0x40, 0x50))
SHA_KEY = bytes(range(0x60, 0x80))
GCM_HEX = "0x" + GCM_KEY.hex()
CBC_ALGO = "enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128" % (CBC_KEY.hex(),
                                                                    SHA_KEY.hex())
NULL_ALGO = "enc cipher_null \"\" auth-trunc 'hmac(sha256)' 0x%s 128" % SHA_KEY.hex()

SPI_GCM, SPI_CBC, SPI_NULL, SPI_WIN, SPI_ESN, SPI_V6, SPI_SEL = (
    0x5001, 0x5002, 0x5003, 0x5004, 0x5005, 0x5006, 0x5007)

CONF = CONF_HEAD + "".join([
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 1 mode tunnel "
    "aead 'rfc4106(gcm(aes))' %s 128\n" % (PEER4, LOCAL4, SPI_GCM, GCM_HEX),
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 2 mode tunnel %s\n" % (
        PEER4, LOCAL4, SPI_CBC, CBC_ALGO),
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 3 mode tunnel %s\n" % (
        PEER4, LOCAL4, SPI_NULL, NULL_ALGO),
    # Replay-window edges: preset top 100, window 64 -> 37..100 inside.
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 4 mode tunnel "
    "replay-window 64 replay-seq 100 aead 'rfc4106(gcm(aes))' %s 128\n" % (
        PEER4, LOCAL4, SPI_WIN, GCM_HEX),
    # ESN: top just below 2^32, so seq_lo 5 means 2^32 + 5 (epoch 1).
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 5 mode tunnel "
    "replay-window 64 flag esn replay-seq 0xfffffff0 "
    "aead 'rfc4106(gcm(aes))' %s 128\n" % (PEER4, LOCAL4, SPI_ESN, GCM_HEX),
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 6 mode tunnel "
    "aead 'rfc4106(gcm(aes))' %s 128\n" % (PEER6, LOCAL6, SPI_V6, GCM_HEX),
    "state add src %s dst %s proto esp spi 0x%x dir in reqid 7 mode tunnel "
    "aead 'rfc4106(gcm(aes))' %s 128 sel src 10.2.77.0/24 dst 10.1.77.0/24\n" % (
        PEER4, LOCAL4, SPI_SEL, GCM_HEX),
])


class Case:
    def __init__(self, name, counters, rx1=(), rx0=(), out0=0, out1=0):
        self.name, self.counters = name, counters
        self.rx1, self.rx0, self.out0, self.out1 = list(rx1), list(rx0), out0, out1


def on1(p):
    return Ether(src=PEER_GW_MAC, dst=P1_MAC) / p


def on0(p):
    return Ether(src=HOST_GW_MAC, dst=P0_MAC) / p


def inner(n, ttl=64, tos=0, src=None, dst=None, size=40):
    return IP(src=src or "10.2.9.%d" % n, dst=dst or "10.1.9.%d" % n, ttl=ttl, tos=tos) / \
        UDP(sport=1234, dport=5678) / Raw(bytes(size))


def gcm(spi, outer=None, esn=False, esn_hi=0):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=GCM_KEY,
                               auth_algo="NULL", tunnel_header=outer or IP(src=PEER4, dst=LOCAL4),
                               esn_en=esn, esn=esn_hi)


def esp_bytes(pkt):
    """The ESP part (from the SPI) of an IP/ESP packet as scapy made it."""
    return bytes(pkt[ESP])


def null_esp(seq, payload, nh=4, pad=None, padlen=None, spi=SPI_NULL):
    """ESP with cipher_null + HMAC-SHA-256-128, any trailer we like."""
    if pad is None:
        n = (-(len(payload) + 2)) % 4
        pad = bytes(range(1, n + 1))
    padlen = len(pad) if padlen is None else padlen
    body = struct.pack("!II", spi, seq) + payload + pad + bytes([padlen, nh])
    icv = hmac.new(SHA_KEY, body, hashlib.sha256).digest()[:16]
    return body + icv


def outer4(payload, **kw):
    return IP(src=PEER4, dst=LOCAL4, proto=50, **kw) / Raw(payload)


def cases():
    cs = []
    good = gcm(SPI_GCM).encrypt(inner(1), seq_num=1)
    gesp = esp_bytes(good)

    # ---- Link layer and IP headers --------------------------------------
    cs.append(Case("frame shorter than Ethernet -> NotIp", {"NotIp": 1},
                   rx1=[bytes(on1(IP()))[:13]]))
    cs.append(Case("Ethernet + 10 bytes of IPv4 -> NotIp", {"NotIp": 1},
                   rx1=[bytes(on1(IP(src=PEER4, dst=LOCAL4)))[:24]]))
    cs.append(Case("ARP request for the gateway's address -> answered", {},
                   rx1=[Ether(src=PEER_GW_MAC, dst="ff:ff:ff:ff:ff:ff") /
                        ARP(psrc=PEER4, pdst=LOCAL4)], out1=1))
    cs.append(Case("802.1Q-tagged ESP (no VLAN support) -> NotIp", {"NotIp": 1},
                   rx1=[Ether(src=PEER_GW_MAC, dst=P1_MAC) / Dot1Q(vlan=5) / good]))
    cs.append(Case("IPv6 header cut at 30 bytes -> MalformedPacket", {"MalformedPacket": 1},
                   rx1=[bytes(on1(IPv6(src=PEER6, dst=LOCAL6) / Raw(bytes(40))))[:14 + 30]]))
    b = bytearray(bytes(on1(outer4(gesp))))
    del b[14 + 20 + 10:]
    cs.append(Case("IPv4 total length past the frame (cut in ESP) -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[bytes(b)]))
    b = bytearray(bytes(on1(outer4(gesp))))
    b[14] = 0x44
    cs.append(Case("IPv4 IHL 4 (16-byte header) -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[bytes(b)]))
    b = bytearray(bytes(on1(outer4(gesp))))
    b[16:18] = struct.pack("!H", 16)
    cs.append(Case("IPv4 total length below the header length -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[bytes(b)]))
    e = gcm(SPI_GCM, outer=IP(src=PEER4, dst=LOCAL4, options=b"\x01" * 4)).encrypt(
        inner(2), seq_num=2)
    cs.append(Case("IPv4 options before ESP -> accepted", {}, rx1=[on1(e)], out0=1))
    e = gcm(SPI_GCM).encrypt(inner(3), seq_num=3)
    cs.append(Case("Ethernet padding past the IPv4 length -> trimmed, accepted", {},
                   rx1=[bytes(on1(e)) + bytes(20)], out0=1))
    cs.append(Case("ESP fragment (MF set), never completed -> ReassemblyFailed",
                   {"ReassemblyFailed": 1}, rx1=[on1(outer4(gesp, flags="MF"))]))
    cs.append(Case("ESP fragment (offset 185), never completed -> ReassemblyFailed",
                   {"ReassemblyFailed": 1}, rx1=[on1(outer4(gesp, frag=185))]))

    # ---- ESP cut at each boundary ----------------------------------------
    cs.append(Case("ESP cut inside the SPI (4 of 8 header bytes) -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[on1(outer4(gesp[:4]))]))
    cs.append(Case("ESP header only -> XfrmInHdrError", {"XfrmInHdrError": 1},
                   rx1=[on1(outer4(gesp[:8]))]))
    cs.append(Case("ESP cut inside the IV -> XfrmInHdrError", {"XfrmInHdrError": 1},
                   rx1=[on1(outer4(gesp[:12]))]))
    cs.append(Case("ESP header + IV + part of an ICV -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[on1(outer4(gesp[:16 + 10]))]))
    cs.append(Case("ESP header + IV + ICV, no ciphertext -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[on1(outer4(gesp[:16] + gesp[-16:]))]))
    cbc = SecurityAssociation(ESP, spi=SPI_CBC, crypt_algo="AES-CBC", crypt_key=CBC_KEY,
                              auth_algo="SHA2-256-128", auth_key=SHA_KEY,
                              tunnel_header=IP(src=PEER4, dst=LOCAL4))
    ce = esp_bytes(cbc.encrypt(inner(4), seq_num=1))
    cs.append(Case("AES-CBC ciphertext not a whole block -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[on1(outer4(ce[:-17] + ce[-16:]))]))
    cs.append(Case("ESP cut inside the ICV (CBC) -> XfrmInHdrError",
                   {"XfrmInHdrError": 1}, rx1=[on1(outer4(ce[:8 + 16 + 8]))]))

    # ---- UDP and NAT-T ----------------------------------------------------
    cs.append(Case("UDP cut at 4 bytes to the gateway -> exception path, no tap: TapDropped",
                   {"TapDropped": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4, proto=17) / Raw(b"\x11\x94\x11\x94"))]))
    u = bytes(UDP(sport=4500, dport=4500) / Raw(gesp))
    u = u[:4] + struct.pack("!H", len(u) + 4) + u[6:]
    cs.append(Case("UDP length wrong on 4500 -> XfrmInHdrError", {"XfrmInHdrError": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4, proto=17) / Raw(u))]))
    cs.append(Case("zero-length UDP payload to 4500 -> XfrmInHdrError",
                   {"XfrmInHdrError": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500))]))
    cs.append(Case("4-byte non-zero UDP payload to 4500 -> XfrmInHdrError",
                   {"XfrmInHdrError": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                            Raw(b"\x00\x00\x50\x01"))]))
    cs.append(Case("NAT keepalive -> NatKeepalive", {"NatKeepalive": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                            Raw(b"\xff"))]))
    cs.append(Case("IKE behind the non-ESP marker -> IkePunted, no tap: TapDropped",
                   {"IkePunted": 1, "TapDropped": 1},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                            Raw(bytes(4) + bytes(range(24))))]))
    e = gcm(SPI_GCM).encrypt(inner(5), seq_num=5)
    cs.append(Case("ESP in UDP 4500 on a plain SA -> accepted (RFC 7296 2.23)", {},
                   rx1=[on1(IP(src=PEER4, dst=LOCAL4) / UDP(sport=4500, dport=4500) /
                            Raw(esp_bytes(e)))], out0=1))

    # ---- SPIs ----------------------------------------------------------------
    for spi in (0, 1, 255, 0xdeadbeef):
        cs.append(Case("SPI 0x%x (%s) -> XfrmInNoStates" % (
            spi, "invalid" if spi == 0 else "reserved" if spi < 256 else "unknown"),
            {"XfrmInNoStates": 1},
            rx1=[on1(outer4(struct.pack("!II", spi, 1) + gesp[8:]))]))

    # ---- ICV, padding, next header (cipher_null + HMAC: we write the trailer)
    b = bytearray(gesp)
    b[-1] ^= 1
    cs.append(Case("bad ICV -> XfrmInStateProtoError", {"XfrmInStateProtoError": 1},
                   rx1=[on1(outer4(bytes(b)))]))
    ip4 = bytes(inner(6))
    cs.append(Case("pad length past the payload -> XfrmInStateProtoError",
                   {"XfrmInStateProtoError": 1},
                   rx1=[on1(outer4(null_esp(1, ip4, pad=b"\x01\x02", padlen=200)))]))
    n = len(ip4) + 2
    cs.append(Case("trailer claims one more pad byte than exists -> XfrmInStateProtoError",
                   {"XfrmInStateProtoError": 1},
                   rx1=[on1(outer4(null_esp(2, ip4, pad=bytes(range(1, 3)),
                                            padlen=n - 2 + 2 + 1)))]))
    cs.append(Case("pad bytes not 1, 2, 3, ... -> XfrmInStateProtoError",
                   {"XfrmInStateProtoError": 1},
                   rx1=[on1(outer4(null_esp(3, ip4, pad=b"\x01\x07")))]))
    cs.append(Case("all padding, no inner packet -> XfrmInStateModeError",
                   {"XfrmInStateModeError": 1},
                   rx1=[on1(outer4(null_esp(4, b"", pad=b"\x01\x02")))]))
    cs.append(Case("next header 59 (dummy) -> InDummy", {"InDummy": 1},
                   rx1=[on1(outer4(null_esp(5, bytes(14), nh=59)))]))
    cs.append(Case("next header UDP in a tunnel SA -> XfrmInStateModeError",
                   {"XfrmInStateModeError": 1},
                   rx1=[on1(outer4(null_esp(6, ip4, nh=17)))]))
    cs.append(Case("next header 4 over an IPv6 packet -> XfrmInStateModeError",
                   {"XfrmInStateModeError": 1},
                   rx1=[on1(outer4(null_esp(7, bytes(IPv6(src="fd02::1", dst="fd01::1") /
                                                      Raw(bytes(8))))))]))
    cs.append(Case("inner IPv4 length past the payload -> XfrmInStateModeError",
                   {"XfrmInStateModeError": 1},
                   rx1=[on1(outer4(null_esp(8, ip4[:2] + struct.pack("!H", 200) + ip4[4:])))]))
    cs.append(Case("cipher_null + HMAC, well formed -> accepted", {},
                   rx1=[on1(outer4(null_esp(9, ip4)))], out0=1))

    # ---- Replay window edges (top 100, window 64) -------------------------
    w = gcm(SPI_WIN)
    cs.append(Case("replay-seq itself (100), first time -> accepted", {},
                   rx1=[on1(w.encrypt(inner(10), seq_num=100))], out0=1))
    cs.append(Case("left edge of the window (37) -> accepted", {},
                   rx1=[on1(w.encrypt(inner(11), seq_num=37))], out0=1))
    cs.append(Case("just past the left edge (36) -> XfrmInStateSeqError",
                   {"XfrmInStateSeqError": 1}, rx1=[on1(w.encrypt(inner(12), seq_num=36))]))
    e = w.encrypt(inner(13), seq_num=165)
    cs.append(Case("right edge moves (165), then 101 (now too old) -> XfrmInStateSeqError",
                   {"XfrmInStateSeqError": 1},
                   rx1=[on1(e), on1(w.encrypt(inner(14), seq_num=101))], out0=1))
    cs.append(Case("165 again (replay at the right edge) -> XfrmInStateSeqError",
                   {"XfrmInStateSeqError": 1}, rx1=[on1(e)]))
    cs.append(Case("sequence number 0 -> XfrmInStateSeqError", {"XfrmInStateSeqError": 1},
                   rx1=[on1(w.encrypt(inner(15), seq_num=0))]))

    # ---- ESN epoch jump ----------------------------------------------------
    forged = gcm(SPI_ESN, esn=True, esn_hi=0).encrypt(inner(16), seq_num=6)
    cs.append(Case("ESN: seq_lo 6 authenticated for epoch 0 (forged jump) -> "
                   "XfrmInStateProtoError", {"XfrmInStateProtoError": 1}, rx1=[on1(forged)]))
    cs.append(Case("ESN: seq_lo 5 authentic in epoch 1 -> accepted", {},
                   rx1=[on1(gcm(SPI_ESN, esn=True, esn_hi=1).encrypt(inner(17), seq_num=5))],
                   out0=1))

    # ---- IPv6 extension headers --------------------------------------------
    v6 = gcm(SPI_V6, outer=IPv6(src=PEER6, dst=LOCAL6))
    e6 = esp_bytes(v6.encrypt(inner(18), seq_num=1))
    cs.append(Case("IPv6 hop-by-hop + destination options before ESP -> accepted", {},
                   rx1=[on1(IPv6(src=PEER6, dst=LOCAL6) / IPv6ExtHdrHopByHop() /
                            IPv6ExtHdrDestOpt(nh=50) / Raw(e6))], out0=1))
    e6 = esp_bytes(v6.encrypt(inner(19), seq_num=2))
    cs.append(Case("IPv6 fragment of ESP, never completed -> ReassemblyFailed",
                   {"ReassemblyFailed": 1},
                   rx1=[on1(IPv6(src=PEER6, dst=LOCAL6) / IPv6ExtHdrFragment(nh=50, m=1) /
                            Raw(e6))]))

    # ---- After decryption ----------------------------------------------------
    cs.append(Case("inner TTL 1 -> TtlExceeded, ICMP Time Exceeded back out of port 1",
                   {"TtlExceeded": 1, "IcmpErrorsSent": 1},
                   rx1=[on1(gcm(SPI_GCM).encrypt(inner(20, ttl=1), seq_num=20))], out1=1))
    cs.append(Case("inner packet outside the SA's sel -> XfrmInStateMismatch",
                   {"XfrmInStateMismatch": 1},
                   rx1=[on1(gcm(SPI_SEL).encrypt(inner(21), seq_num=1))]))
    ce_sa = SecurityAssociation(ESP, spi=SPI_GCM, crypt_algo="AES-GCM", crypt_key=GCM_KEY,
                                auth_algo="NULL", tunnel_header=IP(src=PEER4, dst=LOCAL4, tos=3))
    cs.append(Case("outer CE over a not-ECT inner packet -> XfrmInStateModeError",
                   {"XfrmInStateModeError": 1},
                   rx1=[on1(ce_sa.encrypt(inner(22), seq_num=22))]))

    # ---- The protected side ----------------------------------------------------
    b = bytearray(bytes(on0(IP(src="10.1.9.30", dst="10.2.9.30") / UDP() / Raw(b"x"))))
    b[14] = 0x43
    cs.append(Case("protected port: IPv4 IHL 3 -> MalformedPacket", {"MalformedPacket": 1},
                   rx0=[bytes(b)]))
    cs.append(Case("protected port: IPv6 cut at 24 bytes -> MalformedPacket",
                   {"MalformedPacket": 1},
                   rx0=[bytes(on0(IPv6(src="fd01::1", dst="fd02::1") / Raw(bytes(20))))[:14 + 24]]))
    b = bytearray(bytes(on0(IP(src="10.1.9.31", dst="10.2.9.31") / UDP() / Raw(bytes(20)))))
    b[16:18] = struct.pack("!H", 3000)  # as a PMD that cut a 3000-byte packet leaves it
    b[24:26] = b"\0\0"
    cs.append(Case("protected port: IPv4 total length past the frame -> MalformedPacket",
                   {"MalformedPacket": 1}, rx0=[bytes(b)]))
    cs.append(Case("protected port: non-IP ethertype -> NotIp", {"NotIp": 1},
                   rx0=[Ether(src=HOST_GW_MAC, dst=P0_MAC, type=0x88b5) / Raw(bytes(60))]))
    # A ping larger than the MTU (as `ping -s 3000`), last fragment first:
    # put together, answered, the reply fragmented on its way out.
    big = IP(src="10.1.9.40", dst="192.168.1.1", id=40) / ICMP(id=40, seq=1) / Raw(bytes(3000))
    cs.append(Case("protected port: a 3028-byte ping of the gateway in fragments -> "
                   "reassembled, answered in 3 fragments",
                   {"ReassemblyOk": 1, "EchoReplies": 1, "Fragmented": 1},
                   rx0=[on0(f) for f in reversed(fragment(big, fragsize=1400))], out0=3))
    return cs


# ---- Commands ---------------------------------------------------------------

KEY40 = "0102030405060708090a0b0c0d0e0f1011121314"
SA = "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001"
GCM = "aead rfc4106(gcm(aes)) 0x%s 128" % KEY40

# (args, exact stderr line). Every one exits 1.
COMMANDS = [
    ("bogus", "espctl: error: unknown command 'bogus' (expected port, route, neigh, state, "
     "policy, stats, monitor or set) (word 1: 'bogus')"),
    ("state", None), ("state frob", None), ("policy", None), ("route", None),
    ("route add", None), ("route add 10.0.0.0/33 port 1", None),
    ("route add 10.0.0.0/8 port 99", None), ("neigh add 10.0.0.1 lladdr zz port 1", None),
    ("neigh add 10.0.0.1 lladdr 02:00:00:00:00:01", None),
    (SA + " " + GCM + " flag bogus", None),
    (SA, None),
    ("state add src 172.16.1.5 dst 2001:db8::1 proto esp spi 0x6001 " + GCM, None),
    ("state add src 172.16.1.5 dst 172.16.2.5 proto ah spi 0x6001 " + GCM, None),
    ("state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0 " + GCM, None),
    ("state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 255 " + GCM, None),
    ("state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x100000000 " + GCM, None),
    (SA + " aead rfc4106(gcm(aes)) 0x%s1516 128" % KEY40, None),
    (SA + " aead rfc4106(gcm(aes)) %s 128" % KEY40, None),
    (SA + " aead rfc4106(gcm(aes)) 0x%s 64x" % KEY40, None),
    (SA + " aead 0x%s 128" % KEY40, None),
    (SA + " aead rfc4106(gcm(aes)) 0x%s 128 0x%s" % (KEY40, KEY40), None),
    (SA + " enc cbc(aes) 0x%s" % KEY40[:32], None),
    (SA + " auth hmac(sha256) 0x%s" % ("ab" * 32), None),
    (SA + " " + GCM + " replay-window 5000", None),
    (SA + " " + GCM + " replay-seq-hi 1", None),
    (SA + " " + GCM + " mode sideways", None),
    (SA + " " + GCM + " encap espinudp 0 4500 0.0.0.0", None),
    (SA + " " + GCM + " limit byte-soft", None),
    (SA + " " + GCM + " sel src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp sport 99999", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir sideways", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out action block tmpl src 1.1.1.1 "
     "dst 2.2.2.2 proto esp", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out pfp src", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 "
     "proto esp pfp src,bogus", None),
    ("policy add src 10.0.0.0/8 dst 10.1.0.0/16 dport 80 dir out", None),
    ("set acquire-expires 0", None), ("set acquire-queue", None), ("set frobs 1", None),
    ("monitor bogus", None),
    ("state add src 1.2.3.4 dst 1.2.3.5 proto esp spi 0x1000 aead 'rfc4106(gcm(aes)) "
     "0x" + KEY40 + " 128", None),
    # A key glued to other text is not quoted back either (regression).
    (SA + " aead ds0x%s 128" % KEY40, None),
    # Errors only the gateway can find.
    ("state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777", None),
    ("state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777", None),
    ("state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777 " + GCM, None),
    ("port 5 role protected", None),
    ("policy del index 4242", None),
    ("state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x00001001 reqid 1 " + GCM, None),
]


def run_commands(build, expected, report):
    espd = os.path.join(build, "espd")
    espctl = os.path.join(build, "espctl")
    wd = tempfile.mkdtemp(prefix="espd-cat-")
    sock = os.path.join(wd, "espd.sock")
    conf = os.path.join(wd, "gw.conf")
    with open(conf, "w") as f:
        f.write(CONF_HEAD + "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 "
                "reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' 0x%s 128\n" % KEY40)
    for i in (0, 1):
        wrpcap_list(os.path.join(wd, "in%d.pcap" % i), [])
    prefix = "espdcat%d" % os.getpid()
    cmd = [espd, "--no-huge", "--no-pci", "-l", "0,1", "-m", "512", "--file-prefix", prefix,
           "--log-level=lib.eal:error"]
    for i in (0, 1):
        cmd += ["--vdev", "net_pcap%d,rx_pcap=%s,tx_pcap=%s" % (
            i, os.path.join(wd, "in%d.pcap" % i), os.path.join(wd, "out%d.pcap" % i))]
    cmd += ["--", "-c", conf, "-s", sock]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True)
    got = {}
    try:
        # Until it answers: the socket file is there a moment before
        # espd listens on it.
        up = False
        for _ in range(300):
            if p.poll() is not None:
                break
            try:
                ctl_request(sock, ["stats"])
                up = True
                break
            except (OSError, CtlError):
                time.sleep(0.1)
        if not up:
            report(False, "live espd for the command cases", ["no socket: " + (
                p.stderr.read() if p.poll() is not None else "timeout")])
            return got
        for args, _ in COMMANDS:
            r = subprocess.run([espctl, "-s", sock] + split(args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
            got[args] = (r.returncode, r.stderr)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            so, se = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
        report(p.returncode == 0, "live espd stops cleanly on SIGTERM",
               ["exit %s: %s" % (p.returncode, se[-2000:])])
        shutil.rmtree(wd, ignore_errors=True)
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
    return got


def describe_out(frame):
    """What a frame the gateway sent out of port 1 is, in a few words."""
    e = Ether(bytes(frame))
    if ARP in e:
        return "arp reply" if e[ARP].op == 2 and e[ARP].psrc == LOCAL4 else e.summary()
    if IP in e and e[IP].proto == 1 and bytes(e[IP].payload)[:1] == b"\x0b":
        return "icmp time exceeded"
    return e.summary()


def split(args):
    """Words as a shell would give them to espctl; a case with a lone
    quote passes that quote inside a word, as "'rfc4106(gcm(aes))" would."""
    import shlex
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    rep = Report("catalogue")

    def report(ok, name, why=()):
        rep.check(ok, name, *list(why))

    cs = cases()
    rx0 = [p for c in cs for p in c.rx0]
    rx1 = [p for c in cs for p in c.rx1]
    run = Espd(build=build, timeout=60).run(CONF, [rx0, rx1])
    try:
        run.ok()
    except EspdError as e:
        report(False, "espd run over the packet catalogue", [str(e)[-3000:]])
        cs = []
    if cs:
        want = {}
        for c in cs:
            for k, v in c.counters.items():
                want[k] = want.get(k, 0) + v
        g = run.stats["global"]
        for c in cs:
            why = ["%s is %s, want %d" % (k, g.get(k), want[k]) for k in c.counters
                   if g.get(k) != want[k]]
            report(not why, c.name, why)
        why = ["%s is %d, want %d" % (k, g[k], want.get(k, 0))
               for k in DROP_COUNTERS + ("InDummy", "NatKeepalive", "IkePunted", "Bypass")
               if g[k] != want.get(k, 0)]
        report(not why, "no other counter moved", why)
        out0 = sum(c.out0 for c in cs)
        out1 = sum(c.out1 for c in cs)
        why = []
        if len(run.out[0]) != out0 or len(run.out[1]) != out1:
            why.append("%d frames out of port 0 (want %d), %d out of port 1 (want %d)" % (
                len(run.out[0]), out0, len(run.out[1]), out1))
        kinds = sorted(describe_out(f) for f in run.out[1])
        if kinds != sorted(["arp reply", "icmp time exceeded"]):
            why.append("frames out of port 1: %s" % kinds)
        if run.stats.get("mempool", {}).get("in_use", 0) != 0:
            why.append("mbufs still in use at exit: %s" % run.stats["mempool"])
        report(not why, "only the accepted packets left, no mbuf held", why)

    got = run_commands(build, COMMANDS, report)
    for args, want in COMMANDS:
        if args not in got:
            report(False, "espctl %s" % args, ["not run"])
            continue
        rc, err = got[args]
        lines = err.splitlines()
        why = []
        if rc != 1:
            why.append("exit %d, want 1" % rc)
        if len(lines) != 1:
            why.append("%d lines on stderr, want 1: %r" % (len(lines), err))
        elif want is not None and lines[0] != want:
            why.append("stderr %r, want %r" % (lines[0], want))
        elif want is None and EXPECTED.get(args) is not None and lines[0] != EXPECTED[args]:
            why.append("stderr %r, want %r" % (lines[0], EXPECTED[args]))
        if KEY40[:32] in err:
            why.append("a key reached stderr")
        report(not why, "espctl %s -> %s" % (args[:70], lines[0][:90] if lines else "?"), why)
    return rep.close()


# Exact stderr of each command (filled from a reviewed run; see COMMANDS).
EXPECTED = {
    'bogus':
        "espctl: error: unknown command 'bogus' (expected port, route, neigh, state, policy, stats, monitor or set) (word 1: 'bogus')",
    'state':
        "espctl: error: missing command after 'state' (add, update, migrate, del, get, allocspi, list, flush or count)",
    'state frob':
        "espctl: error: unknown state command 'frob' (expected add, update, migrate, del, get, allocspi, list, flush or count) (word 2: 'frob')",
    'policy':
        "espctl: error: missing command after 'policy' (add, update, del, list or flush)",
    'route':
        "espctl: error: missing command after 'route' (add, del or list)",
    'route add':
        'espctl: error: missing prefix for route add',
    'route add 10.0.0.0/33 port 1':
        "espctl: error: expected IPv4 or IPv6 prefix, got '10.0.0.0/33' (word 3: '10.0.0.0/33')",
    'route add 10.0.0.0/8 port 99':
        "espctl: error: expected a number from 0 to 15 after 'port', got '99' (word 5: '99')",
    'neigh add 10.0.0.1 lladdr zz port 1':
        "espctl: error: expected a MAC address (xx:xx:xx:xx:xx:xx), got 'zz' (word 5: 'zz')",
    'neigh add 10.0.0.1 lladdr 02:00:00:00:00:01':
        "espctl: error: missing 'port' for neigh add",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 flag bogus':
        "espctl: error: unknown flag 'bogus' (expected esn, noecn, decap-dscp or dont-encap-dscp) (word 16: 'bogus')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001':
        'espctl: error: missing algorithm for state add (aead, or enc with auth-trunc)',
    'state add src 172.16.1.5 dst 2001:db8::1 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: src and dst of state add differ in address family (word 6: '2001:db8::1')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto ah spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: only 'proto esp' is supported, got 'ah' (word 8: 'ah')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: SPI 0 is invalid, got '0' (word 10: '0')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 255 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: SPI 255 is reserved (RFC 4303 2.1: 1-255), got '255' (word 10: '255')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x100000000 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: expected an SPI (32-bit, decimal or 0x hex), got '0x100000000' (word 10: '0x100000000')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10111213141516 128':
        "espctl: error: key for rfc4106(gcm(aes)) must be 20 or 36 bytes, got 22 (word 13: '0x<44 hex digits, not shown>')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: key for rfc4106(gcm(aes)) must be 0x followed by an even number of hex digits (word 13: '<40 hex digits, not shown>')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 64x':
        "espctl: error: expected a number from 0 to 4294967295 after '0x<40 hex digits, not shown>', got '64x' (word 14: '64x')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: unknown AEAD '0x<40 hex digits, not shown>' (expected rfc4106(gcm(aes)) or rfc7539esp(chacha20,poly1305)) (word 12: '0x<40 hex digits, not shown>')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 0x0102030405060708090a0b0c0d0e0f1011121314':
        "espctl: error: unexpected '0x<40 hex digits, not shown>' in state add (word 15: '0x<40 hex digits, not shown>')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 enc cbc(aes) 0x0102030405060708090a0b0c0d0e0f10':
        "espctl: error: 'enc' needs 'auth-trunc' (ESP without integrity is not supported) (word 11: 'enc')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 auth hmac(sha256) 0xabababababababababababababababababababababababababababababababab':
        "espctl: error: use 'auth-trunc NAME KEY BITS' instead of 'auth' (word 11: 'auth')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 replay-window 5000':
        "espctl: error: expected a number from 0 to 4096 after 'replay-window', got '5000' (word 16: '5000')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 replay-seq-hi 1':
        "espctl: error: 'replay-seq-hi' and 'replay-oseq-hi' need flag esn",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 mode sideways':
        "espctl: error: expected tunnel or transport after 'mode', got 'sideways' (word 16: 'sideways')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 encap espinudp 0 4500 0.0.0.0':
        "espctl: error: expected a number from 1 to 65535 after 'espinudp', got '0' (word 17: '0')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 limit byte-soft':
        "espctl: error: missing value after 'byte-soft' (word 16: 'byte-soft')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128 sel src 10.0.0.0/8 dst 10.1.0.0/16 proto tcp sport 99999':
        "espctl: error: expected a port or range N-M (0-65535), got '99999' (word 23: '99999')",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16':
        "espctl: error: missing 'dir' for policy add",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir sideways':
        "espctl: error: expected in, out or fwd after 'dir', got 'sideways' (word 8: 'sideways')",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out action block tmpl src 1.1.1.1 dst 2.2.2.2 proto esp':
        "espctl: error: a policy with action block cannot have a 'tmpl' (word 11: 'tmpl')",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out pfp src':
        "espctl: error: 'pfp' needs a 'tmpl' (word 9: 'pfp')",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp pfp src,bogus':
        "espctl: error: unknown pfp field 'bogus' (expected src, dst, proto, sport or dport) (word 17: 'src,bogus')",
    'policy add src 10.0.0.0/8 dst 10.1.0.0/16 dport 80 dir out':
        "espctl: error: 'dport' needs proto tcp, udp, sctp, dccp or udplite (word 7: 'dport')",
    'set acquire-expires 0':
        "espctl: error: expected a number from 1 to 86400 after 'acquire-expires', got '0' (word 3: '0')",
    'set acquire-queue':
        "espctl: error: missing value after 'acquire-queue' (word 2: 'acquire-queue')",
    'set frobs 1':
        "espctl: error: unknown setting 'frobs' (expected acquire-expires, acquire-queue, acquire-queue-total, allocspi-expires, worker-idle, tcp-mss-clamp, icmp-ratelimit, neigh-reachable, out-sa or icmp-unreachable) (word 2: 'frobs')",
    'monitor bogus':
        "espctl: error: unknown event type 'bogus' (expected acquire, expire, invalid-spi, policy, state or mapping) (word 2: 'bogus')",
    "state add src 1.2.3.4 dst 1.2.3.5 proto esp spi 0x1000 aead 'rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128":
        "espctl: error: unknown AEAD ''rfc4106(gcm(aes))' (expected rfc4106(gcm(aes)) or rfc7539esp(chacha20,poly1305)) (word 12: ''rfc4106(gcm(aes))')",
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x6001 aead ds0x0102030405060708090a0b0c0d0e0f1011121314 128':
        "espctl: error: unknown AEAD '<44 characters with a key-like hex run, not shown>' (expected rfc4106(gcm(aes)) or rfc7539esp(chacha20,poly1305)) (word 12: '<44 characters, not shown>')",
    'state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777':
        'espctl: error: no SA with that dst and spi 0x00007777',
    'state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777':
        'espctl: error: no SA with that dst and spi 0x00007777',
    'state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        'espctl: error: no SA with that dst and spi 0x00007777',
    'port 5 role protected':
        'espctl: error: ports are set at start-up, in the configuration file',
    'policy del index 4242':
        'espctl: error: no such policy',
    'state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x00001001 reqid 1 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128':
        'espctl: error: SA with that dst and spi 0x00001001 exists',
}

if __name__ == "__main__":
    sys.exit(main())
