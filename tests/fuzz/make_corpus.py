#!/usr/bin/python3
"""Write the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/.

    /usr/bin/python3 tests/fuzz/make_corpus.py [BUILD_FUZZ_DIR]

fuzz_esp_in: Ethernet frames. Plain packets for each of the gateway's
policies (fuzz_esp_in.c's gw_conf), ESP made by scapy for the target's
fixed IPsec-MB SAs (SPI 0x1100 + i: GCM, CBC+HMAC-SHA-256, ChaCha20 in
tunnel and transport mode), and hostile frames (truncations, keepalive,
IKE, IPv6 extension headers, fragments), and frames for lcore 0's
exception path (ARP, ND, echo requests to the gateway, TTL 1, a next hop
nobody resolved, DF too big for its SA). With BUILD_FUZZ_DIR, the target
itself then adds the ESP that only espd can make: every fixed SA (null
and IPsec-MB engines, UDP encap, ESN) and the gateway's own output
(FUZZ_SEED_DIR, see fuzz_esp_in.c).

fuzz_cmd: the example configurations, whole and line by line, and one line
of each command in DESIGN.md's grammar.

fuzz_ctl: the same commands as control-socket requests ("text ...",
"json ...", "batch-text ...").

Needs Debian's python3-scapy. Keep the corpus small (< 200 files, < 1 MiB).
"""

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from scapy.layers.inet import IP, UDP, TCP, ICMP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrFragment, \
    IPv6ExtHdrDestOpt, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, \
    ICMPv6NDOptSrcLLAddr
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
CORPUS = os.path.join(HERE, "corpus")

GCM_KEY = bytes(range(0x01, 0x15))     # 16-byte key + 4-byte salt
CBC_KEY = bytes(range(0x40, 0x50))
SHA_KEY = bytes(range(0x60, 0x80))
CHACHA_KEY = bytes(range(0x80, 0xa4))  # 32-byte key + 4-byte salt

P0 = dict(src="02:00:00:00:01:fe", dst="02:00:00:00:01:01")
P1 = dict(src="02:00:00:00:02:fe", dst="02:00:00:00:02:01")


def put(target, data, name=None):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    data = bytes(data)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def esp_in_seeds():
    t = "fuzz_esp_in"
    plain = []
    # One plain packet per gateway policy (10.1.N.0/24 -> 10.2.N.0/24).
    for n in range(1, 9):
        plain.append(Ether(**P0) / IP(src="10.1.%d.10" % n, dst="10.2.%d.20" % n) /
                     UDP(sport=40000 + n, dport=5001) / Raw(bytes(range(24))))
    plain.append(Ether(**P0) / IPv6(src="fd01::10", dst="fd02::20") /
                 UDP(sport=40009, dport=5001) / Raw(b"v6" * 12))
    plain.append(Ether(**P0) / IP(src="10.1.1.11", dst="10.2.1.21") /
                 TCP(sport=40010, dport=80, flags="S"))
    plain.append(Ether(**P0) / IP(src="10.1.5.11", dst="10.2.5.21") / ICMP())
    plain.append(Ether(**P1) / IP(src="10.2.8.20", dst="10.1.8.10") /
                 UDP(sport=5001, dport=40000) / Raw(b"plain-on-unprotected"))
    for p in plain:
        put(t, p, "plain-" + hashlib.sha1(bytes(p)).hexdigest()[:12])

    # scapy's ESP for the fixed IPsec-MB SAs (fuzz_esp_in.c direct_init).
    inner = IP(src="192.168.1.10", dst="192.168.2.20", ttl=63) / \
        UDP(sport=40001, dport=5001) / Raw(bytes(range(40)))
    algos = [("AES-GCM", GCM_KEY, "NULL", None),
             ("AES-CBC", CBC_KEY, "SHA2-256-128", SHA_KEY),
             ("CHACHA20-POLY1305", CHACHA_KEY, "NULL", None)]
    # 0x12NN: the same SAs on the cryptodev engine.
    for base in (0x1100, 0x1200):
        for i in range(6):
            crypt, ckey, auth, akey = algos[i % 3]
            kw = dict(spi=base + i, crypt_algo=crypt, crypt_key=ckey, auth_algo=auth)
            if akey:
                kw["auth_key"] = akey
            if i < 3:
                kw["tunnel_header"] = IP(src="172.16.1.5", dst="172.16.2.5")
            sa = SecurityAssociation(ESP, **kw)
            e = sa.encrypt(inner, seq_num=1)
            put(t, Ether(**P1) / e, "scapy-esp-%04x" % (base + i))

    # Hostile frames.
    esp_hdr = bytes.fromhex("00002001000000010102030405060708")
    hostile = [
        Ether(**P1) / ARP(psrc="172.16.2.5", pdst="172.16.1.5"),
        bytes(Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5", proto=50) /
              Raw(esp_hdr))[:14 + 20 + 6],
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5") / UDP(sport=4500, dport=4500) /
        Raw(b"\xff"),
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5") / UDP(sport=500, dport=4500) /
        Raw(bytes(4) + bytes(28)),
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5") / UDP(sport=4500, dport=4500),
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5", flags="MF", proto=50) /
        Raw(esp_hdr * 3),
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5", ihl=7, options=b"\x01" * 8,
                         proto=50) / Raw(esp_hdr * 4),
        Ether(**P1) / IPv6(src="2001:db8:2::5", dst="2001:db8:1::5") /
        IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / ESP(spi=0x2003, seq=1) / Raw(bytes(48)),
        Ether(**P1) / IPv6(src="2001:db8:2::5", dst="2001:db8:1::5") /
        IPv6ExtHdrFragment(m=1) / ESP(spi=0x2003, seq=1) / Raw(bytes(48)),
        Ether(**P1) / IPv6(src="2001:db8:2::5", dst="2001:db8:1::5") /
        UDP(sport=4501, dport=4501) / ESP(spi=0x2003, seq=1) / Raw(bytes(64)),
        Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5") / ESP(spi=0xdead, seq=1) /
        Raw(bytes(48)),
    ]
    for h in hostile:
        put(t, h, "hostile-" + hashlib.sha1(bytes(h)).hexdigest()[:12])
    exc_seeds()

    # Fragment sequences (fuzz_esp_in.c mode 3): ESP to the gateway cut
    # in pieces, in order, reversed, with a duplicate, overlapping, IPv6.
    from scapy.layers.inet import fragment
    big = Ether(**P1) / IP(src="172.16.2.5", dst="172.16.1.5", id=77) / \
        ESP(spi=0x2001, seq=1) / Raw(bytes(range(256)) * 4)
    pieces = [Ether(**P1) / f for f in fragment(big[IP], fragsize=400)]
    over = bytearray(bytes(pieces[1]))
    over[14 + 6:14 + 8] = (0x2000 | (400 // 8 - 2)).to_bytes(2, "big")  # MF, offset - 16 B
    six = Ether(**P1) / IPv6(src="2001:db8:2::5", dst="2001:db8:1::5") / \
        IPv6ExtHdrFragment(id=9) / ESP(spi=0x2003, seq=1) / Raw(bytes(range(200)) * 5)
    from scapy.layers.inet6 import fragment6
    six_pieces = [Ether(**P1) / f for f in fragment6(six[IPv6], 400)]

    def seq(frames):
        out = b"FRAG"
        for f in frames:
            b = bytes(f)
            out += len(b).to_bytes(2, "big") + b
        return out
    for name, frames in (("in-order", pieces), ("reversed", pieces[::-1]),
                         ("duplicate", pieces[:2] + pieces[1:]),
                         ("missing", pieces[:1] + pieces[2:]),
                         ("overlap", [pieces[0], bytes(over)] + pieces[2:]),
                         ("v6", six_pieces), ("v6-reversed", six_pieces[::-1])):
        put(t, seq(frames), "frags-" + name)
    return [bytes(p) for p in plain]


def esp_in_generated(build, plain):
    """ESP that espd makes itself: run the target over the plain seeds with
    FUZZ_SEED_DIR set (fuzz_esp_in.c)."""
    exe = os.path.join(build, "tests", "fuzz", "fuzz_esp_in")
    if not os.access(exe, os.X_OK):
        print("make_corpus: no %s; ESP seeds from espd itself skipped" % exe)
        return
    tmp = tempfile.mkdtemp(prefix="fuzz-seeds-")
    try:
        ins = os.path.join(tmp, "in")
        out = os.path.join(tmp, "out")
        os.makedirs(ins)
        os.makedirs(out)
        for i, p in enumerate(plain):
            with open(os.path.join(ins, "p%d" % i), "wb") as f:
                f.write(p)
        env = dict(os.environ, FUZZ_SEED_DIR=out, FUZZ_EAL_PREFIX="fuzzseed%d" % os.getpid())
        subprocess.run([exe, "-runs=0"] + sorted(glob.glob(os.path.join(ins, "*"))),
                       env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for f in sorted(os.listdir(out)):
            with open(os.path.join(out, f), "rb") as fh:
                put("fuzz_esp_in", fh.read(), f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree("/var/run/dpdk/fuzzseed%d" % os.getpid(), ignore_errors=True)


GRAMMAR = [
    "port 2 role protected addr 10.9.0.1/24 addr fd09::1/64 mac 02:00:00:00:09:01 mtu 1500 queues 2",
    "route add 10.20.0.0/16 port 1 via 172.16.1.1",
    "route add fd20::/16 port 1",
    "neigh add 172.16.1.9 lladdr 02:00:00:00:02:09 port 1",
    "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x00003001 dir out reqid 7 seq 3 "
    "mode tunnel replay-window 128 flag esn flag noecn flag decap-dscp flag dont-encap-dscp "
    "replay-seq 5 replay-oseq 6 replay-seq-hi 1 replay-oseq-hi 1 "
    "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 "
    "encap espinudp 4500 4500 0.0.0.0 sel src 10.1.0.0/16 dst 10.2.0.0/16 proto udp sport 1 dport 2 "
    "limit byte-soft 1000 limit byte-hard 2000 limit packet-soft 10 limit packet-hard 20 "
    "limit time-soft 30 limit time-hard 60",
    "state add src 2001:db8:1::5 dst 2001:db8:2::5 proto esp spi 0x3002 mode transport "
    "aead 'rfc7539esp(chacha20,poly1305)' "
    "0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3 128",
    "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3003 auth-trunc 'hmac(sha1)' "
    "0x0102030405060708090a0b0c0d0e0f1011121314 96 enc 'cbc(aes)' 0x404142434445464748494a4b4c4d4e4f",
    "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3004 enc cipher_null \"\" "
    "auth-trunc 'hmac(sha512)' 0x" + "ab" * 64 + " 256",
    "state update src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x00003001 "
    "aead 'rfc4106(gcm(aes))' 0x1112131415161718191a1b1c1d1e1f2021222324 128",
    "state del src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3003",
    "state get src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x3001 show-keys",
    "state allocspi src 172.16.2.5 dst 172.16.1.5 proto esp reqid 4 seq 9 min 0x1000 max 0x1fff",
    "state list", "state flush", "state count",
    "policy add src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp sport 1000-2000 dport 80 dir out "
    "priority 10 action allow index 5 tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 7 "
    "mode tunnel level required pfp src,dst,proto,sport,dport",
    "policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir fwd priority 1000 action block",
    "policy add src 10.2.0.0/16 dst 10.1.0.0/16 proto icmp sport 8 dir in tmpl proto esp mode transport level use",
    "policy del index 5", "policy del src 0.0.0.0/0 dst 0.0.0.0/0 dir fwd",
    "policy list", "policy flush", "stats", "stats reset",
    "monitor acquire expire invalid-spi policy state",
    "set acquire-expires 30", "set acquire-queue 16", "set acquire-queue-total 4096",
    "set out-sa shared", "set out-sa owner",
    "# a comment", "port 0 role protected \\",
]


def cmd_seeds():
    lines = list(GRAMMAR)
    for conf in sorted(glob.glob(os.path.join(ROOT, "examples", "*.conf"))):
        with open(conf, "rb") as f:
            text = f.read()
        put("fuzz_cmd", text, "example-" + os.path.basename(conf))
        joined = text.decode().replace("\\\n", " ")
        lines += [l for l in joined.splitlines() if l.strip() and not l.startswith("#")]
    seen = set()
    for l in lines:
        if l in seen:
            continue
        seen.add(l)
        put("fuzz_cmd", l.encode() + b"\n")
        put("fuzz_ctl", b"text " + l.encode() + b"\n")
    put("fuzz_cmd", ("\n".join(GRAMMAR) + "\n").encode(), "grammar-all")
    for extra in ["json state list\n", "json policy list\n", "json stats\n",
                  "json state count\n", "json monitor\n",
                  "batch-text state count\nbatch-json stats\nbatch-text policy list\n",
                  "text state allocspi src 172.16.2.5 dst 172.16.1.5 proto esp\n",
                  "nonsense\n", "text\n", "json 'unterminated\n"]:
        put("fuzz_ctl", extra.encode())


def exc_seeds():
    """Frames a worker hands to lcore 0 (fuzz_esp_in.c run_lcore0()): the
    gateway's own ARP, ND and echo traffic on both ports, a packet whose
    next hop must be asked for, TTL 1 (Time Exceeded), DF and too big for
    its SA once in ESP (Fragmentation Needed)."""
    t = "fuzz_esp_in"
    frames = [
        Ether(src=P0["src"], dst="ff:ff:ff:ff:ff:ff") /
        ARP(op=1, hwsrc=P0["src"], psrc="192.168.1.77", pdst="192.168.1.1"),
        Ether(**P1) / ARP(op=2, hwsrc=P1["src"], psrc="172.16.1.9", hwdst=P1["dst"],
                          pdst="172.16.1.5"),
        Ether(**P0) / IP(src="192.168.1.77", dst="192.168.1.1") / ICMP(type=8, id=7, seq=1) /
        Raw(b"ping" * 8),
        Ether(**P1) / IP(src="172.16.1.9", dst="172.16.1.5") / ICMP(type=8, id=7, seq=2),
        Ether(**P0) / IPv6(src="fd00:1::77", dst="fd00:1::1") /
        ICMPv6EchoRequest(id=7, seq=3, data=b"ping6"),
        Ether(src=P1["src"], dst="33:33:ff:00:00:05") /
        IPv6(src="2001:db8:1::9", dst="ff02::1:ff00:5", hlim=255) /
        ICMPv6ND_NS(tgt="2001:db8:1::5") / ICMPv6NDOptSrcLLAddr(lladdr=P1["src"]),
        Ether(**P1) / IPv6(src="2001:db8:1::9", dst="2001:db8:1::5", hlim=255) /
        ICMPv6ND_NA(tgt="2001:db8:1::9", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=P1["src"]),
        Ether(**P0) / IP(src="10.1.1.10", dst="10.2.1.20", ttl=1) / UDP(sport=40001, dport=5001),
        Ether(**P0) / IP(src="10.1.1.10", dst="192.168.1.77") / UDP(sport=40001, dport=5001),
        Ether(**P0) / IPv6(src="fd01::10", dst="fd00:1::77") / UDP(sport=40001, dport=5001),
        Ether(**P0) / IP(src="10.1.1.10", dst="10.2.1.20", flags="DF") /
        UDP(sport=40001, dport=5001) / Raw(bytes(1470)),
    ]
    for f in frames:
        put(t, f, "exc-" + hashlib.sha1(bytes(f)).hexdigest()[:12])


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    for t in ("fuzz_esp_in", "fuzz_cmd", "fuzz_ctl"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)
    plain = esp_in_seeds()
    if build:
        esp_in_generated(build, plain)
    cmd_seeds()
    n = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print("make_corpus: %d files, %d bytes" % (n, size))
    if n >= 200 or size >= 1 << 20:
        print("make_corpus: corpus too big (want < 200 files, < 1 MiB)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
