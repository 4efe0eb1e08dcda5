#!/usr/bin/python3
"""Make-before-break rekeying on a live espd, under traffic:

  1. outbound: a new SA for the same policy takes new packets at once;
     deleting it falls back to the older one, whose numbers carry on;
  2. `state update` with new keys: packets carry on under the new key,
     with sequence numbers past the old ones;
  3. inbound: the old SA keeps accepting after the new one is added,
     until it is deleted; then its SPI is unknown.

    PYTHONPATH=tests /usr/bin/python3 tests/ctl/test_rekey.py [BUILD_DIR]

Prints a line per check, then "rekey: N passed, M failed".
"""

import sys
import time

from espdtest.run import wait_for, LiveEspd, Report, EspdError, counter_delta

from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

P0_MAC, P1_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01"
HOST_MAC, PEER_MAC = "02:00:00:00:01:10", "02:00:00:00:02:fe"
LOCAL, PEER = "172.16.1.5", "172.16.2.5"
K = {n: bytes((n * 16 + i) & 0xff for i in range(20)) for n in range(1, 8)}

CONF = """\
port 0 role protected addr 192.168.1.1/24 mac %s
port 1 role unprotected addr 172.16.1.5/24 mac %s
route add 172.16.2.0/24 port 1 via 172.16.1.1
neigh add 172.16.1.1 lladdr %s port 1
neigh add 192.168.1.10 lladdr %s port 0
state add src %s dst %s proto esp spi 0x1001 reqid 1 mode tunnel \\
	aead 'rfc4106(gcm(aes))' 0x%s 128
state add src %s dst %s proto esp spi 0x2001 reqid 1 mode tunnel \\
	aead 'rfc4106(gcm(aes))' 0x%s 128
policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out \\
	tmpl src %s dst %s proto esp reqid 1 mode tunnel
policy add src 192.168.2.0/24 dst 192.168.1.0/24 dir fwd \\
	tmpl src %s dst %s proto esp reqid 1 mode tunnel
""" % (P0_MAC, P1_MAC, PEER_MAC, HOST_MAC, LOCAL, PEER, K[1].hex(), PEER, LOCAL,
       K[2].hex(), LOCAL, PEER, PEER, LOCAL)


def out_sa(spi, key):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key,
                               tunnel_header=IP(src=LOCAL, dst=PEER))


def in_sa(spi, key):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key,
                               tunnel_header=IP(src=PEER, dst=LOCAL))


def plain(i):
    return (Ether(src=HOST_MAC, dst=P0_MAC) /
            IP(src="192.168.1.10", dst="192.168.2.20", ttl=64) /
            UDP(sport=40000, dport=5001) / Raw(b"rekey %04d" % i + bytes(20)))



def sent_esp(gw, n):
    """The next @n ESP frames out of port 1, as (spi, seq, frame)."""
    cap = gw.caps[1]
    wait_for(lambda: cap.count() >= n, 30)
    time.sleep(0.1)  # anything extra would show up now
    out = []
    for b in cap.take():
        f = Ether(b)
        if ESP in f:
            out.append((f[ESP].spi, f[ESP].seq, f))
    return out


def opens(sa, frame):
    try:
        inner = sa.decrypt(frame[IP])
        return inner.haslayer(UDP) and inner[UDP].dport == 5001
    except Exception:
        return False


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    r = Report("rekey")
    try:
        with LiveEspd(CONF, build=build, capture=(0, 1)) as gw:
            # 1. outbound make-before-break
            gw.send(0, [plain(i) for i in range(5)])
            got = sent_esp(gw, 5)
            r.check([s for s, _, _ in got] == [0x1001] * 5 and
                    [q for _, q, _ in got] == [1, 2, 3, 4, 5],
                    "out: the first SA carries seq 1..5", got and got[:2])
            gw.ctl("state", "add", "src", LOCAL, "dst", PEER, "proto", "esp", "spi",
                   "0x1002", "reqid", "1", "mode", "tunnel", "aead",
                   "rfc4106(gcm(aes))", "0x" + K[3].hex(), "128", json_out=False)
            gw.send(0, [plain(i) for i in range(5, 10)])
            got = sent_esp(gw, 5)
            r.check([s for s, _, _ in got] == [0x1002] * 5 and
                    [q for _, q, _ in got] == [1, 2, 3, 4, 5] and
                    all(opens(out_sa(0x1002, K[3]), f) for _, _, f in got),
                    "out: new packets take the new SA at once (seq 1..5, new key)",
                    [(hex(s), q) for s, q, _ in got])
            gw.ctl("state", "del", "src", LOCAL, "dst", PEER, "proto", "esp", "spi",
                   "0x1002", json_out=False)
            gw.send(0, [plain(i) for i in range(10, 13)])
            got = sent_esp(gw, 3)
            r.check([s for s, _, _ in got] == [0x1001] * 3 and
                    [q for _, q, _ in got] == [6, 7, 8],
                    "out: deleting it falls back to the older SA, numbers carry on",
                    [(hex(s), q) for s, q, _ in got])

            # 2. state update with new keys
            gw.ctl("state", "update", "src", LOCAL, "dst", PEER, "proto", "esp", "spi",
                   "0x1001", "reqid", "1", "mode", "tunnel", "aead",
                   "rfc4106(gcm(aes))", "0x" + K[4].hex(), "128", json_out=False)
            gw.send(0, [plain(i) for i in range(13, 16)])
            got = sent_esp(gw, 3)
            seqs = [q for _, q, _ in got]
            r.check(len(got) == 3 and all(s == 0x1001 for s, _, _ in got) and
                    seqs == sorted(seqs) and seqs[0] > 8 and
                    all(opens(out_sa(0x1001, K[4]), f) for _, _, f in got),
                    "out: state update: new key, numbers past the old ones",
                    [(hex(s), q) for s, q, _ in got])
            sa = [s for s in gw.ctl("state", "list") if s["spi"] == "0x00001001"]
            r.check(sa and sa[0]["stats"]["packets"] == 11,
                    "out: the updated SA kept its counters (11 packets)", sa)

            # 3. inbound: old SPI accepted until deleted
            base = gw.stats()
            gw.ctl("state", "add", "src", PEER, "dst", LOCAL, "proto", "esp", "spi",
                   "0x2002", "reqid", "1", "mode", "tunnel", "aead",
                   "rfc4106(gcm(aes))", "0x" + K[5].hex(), "128", json_out=False)
            inner = IP(src="192.168.2.20", dst="192.168.1.10", ttl=30) / UDP(sport=1, dport=2)
            old, new = in_sa(0x2001, K[2]), in_sa(0x2002, K[5])
            gw.send(1, [Ether(src=PEER_MAC, dst=P1_MAC) / old.encrypt(inner / Raw(b"old%d" % i))
                        for i in range(3)])
            gw.send(1, [Ether(src=PEER_MAC, dst=P1_MAC) / new.encrypt(inner / Raw(b"new%d" % i))
                        for i in range(3)])
            cap0 = gw.caps[0]
            wait_for(lambda: cap0.count() >= 6, 30)
            time.sleep(0.1)
            outs = [bytes(Ether(b)[Raw]) for b in cap0.take() if Raw in Ether(b)]
            r.check(sorted(outs) == sorted([b"old%d" % i for i in range(3)] +
                                           [b"new%d" % i for i in range(3)]),
                    "in: old and new SAs both accepted while both exist", outs)
            gw.ctl("state", "del", "src", PEER, "dst", LOCAL, "proto", "esp", "spi",
                   "0x2001", json_out=False)
            gw.send(1, [Ether(src=PEER_MAC, dst=P1_MAC) / old.encrypt(inner / Raw(b"late"))])
            gw.send(1, [Ether(src=PEER_MAC, dst=P1_MAC) / new.encrypt(inner / Raw(b"new3"))])
            # "late" went in first: out by now if it were let through.
            wait_for(lambda: cap0.count() >= 1, 30)
            wait_for(lambda: counter_delta(base, gw.stats()).get("XfrmInNoStates", 0) >= 1, 30)
            outs = [bytes(Ether(b)[Raw]) for b in cap0.take() if Raw in Ether(b)]
            d = counter_delta(base, gw.stats())
            r.check(outs == [b"new3"] and d.get("XfrmInNoStates") == 1,
                    "in: after deleting the old SA its SPI is unknown; the new one "
                    "carries on", outs, d)
            rc = gw.stop()
            r.check(rc == 0, "end: espd exits 0", gw.stderr[-800:])
    except EspdError as e:
        r.check(False, "espd start", e)
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
