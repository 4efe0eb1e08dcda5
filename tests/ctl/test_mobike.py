#!/usr/bin/python3
"""NAT-T mappings, state migrate and policy update on a live espd, with
scapy's ESP-in-UDP as the peer:

  1. packets from the peer's own address and port raise no mapping;
  2. the peer's NAT rebinds (new UDP source port): one `mapping` event,
     text and JSON, however many packets come, and the SA is unchanged;
     a bare `monitor` hears it too;
  3. the key manager answers with `state migrate ... encap espinudp NEW`:
     traffic goes on, no new event; a second rebinding is a new event;
  4. outbound MOBIKE: `state migrate` to a new peer address and port,
     then `policy update` of the template: packets leave to the new
     address and port under the same key, numbers carrying on, and the
     flow never misses (no ACQUIRE).

    PYTHONPATH=tests /usr/bin/python3 tests/ctl/test_mobike.py [BUILD_DIR]

Prints a line per check, then "mobike: N passed, M failed".
"""

import select
import subprocess
import sys
import time

from espdtest.run import wait_for, wait_subscribed, LiveEspd, Report, EspdError, counter_delta

from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

P0_MAC, P1_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01"
HOST_MAC, PEER_MAC = "02:00:00:00:01:10", "02:00:00:00:02:fe"
LOCAL, PEER, PEER2 = "172.16.1.5", "172.16.2.5", "172.16.3.7"
KO, KI = bytes(range(1, 21)), bytes(range(101, 121))

CONF = """\
port 0 role protected addr 192.168.1.1/24 mac %s
port 1 role unprotected addr 172.16.1.5/24 mac %s
route add 172.16.0.0/16 port 1 via 172.16.1.1
neigh add 172.16.1.1 lladdr %s port 1
neigh add 192.168.1.10 lladdr %s port 0
state add src %s dst %s proto esp spi 0x1001 reqid 1 mode tunnel \\
	aead 'rfc4106(gcm(aes))' 0x%s 128 encap espinudp 4500 4500 0.0.0.0
state add src %s dst %s proto esp spi 0x2001 reqid 1 mode tunnel \\
	aead 'rfc4106(gcm(aes))' 0x%s 128 encap espinudp 4500 4500 0.0.0.0
policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out \\
	tmpl src %s dst %s proto esp reqid 1 mode tunnel
policy add src 192.168.2.0/24 dst 192.168.1.0/24 dir fwd \\
	tmpl src %s dst %s proto esp reqid 1 mode tunnel
""" % (P0_MAC, P1_MAC, PEER_MAC, HOST_MAC, LOCAL, PEER, KO.hex(), PEER, LOCAL,
       KI.hex(), LOCAL, PEER, PEER, LOCAL)

IN_ID = ["src", PEER, "dst", LOCAL, "proto", "esp", "spi", "0x2001"]


class Peer:
    """The far gateway behind a NAT: ESP-in-UDP from PEER, sequence
    numbers running on whatever source port the NAT gives it."""

    def __init__(self):
        self.sa = SecurityAssociation(ESP, spi=0x2001, crypt_algo="AES-GCM", crypt_key=KI,
                                      tunnel_header=IP(src=PEER, dst=LOCAL),
                                      nat_t_header=UDP(sport=4500, dport=4500))

    def frames(self, n, sport, tag):
        out = []
        for i in range(n):
            inner = (IP(src="192.168.2.20", dst="192.168.1.10", ttl=30) /
                     UDP(sport=1, dport=2) / Raw(b"%s%d" % (tag, i)))
            p = self.sa.encrypt(inner)
            p[UDP].sport = sport          # what the NAT did to it
            del p[UDP].chksum
            del p[UDP].len
            out.append(Ether(src=PEER_MAC, dst=P1_MAC) / p)
        return out


def plain(i):
    return (Ether(src=HOST_MAC, dst=P0_MAC) /
            IP(src="192.168.1.10", dst="192.168.2.20", ttl=64) /
            UDP(sport=40000, dport=5001) / Raw(b"mobike %04d" % i + bytes(20)))


def delivered(gw, n):
    cap = gw.caps[0]
    wait_for(lambda: cap.count() >= n, 30)
    time.sleep(0.1)
    return [bytes(Ether(b)[Raw]) for b in cap.take() if Raw in Ether(b)]


def sent_esp(gw, n):
    cap = gw.caps[1]
    wait_for(lambda: cap.count() >= n, 30)
    time.sleep(0.1)
    return [Ether(b) for b in cap.take() if UDP in Ether(b)]


def opens(frame):
    sa = SecurityAssociation(ESP, spi=0x1001, crypt_algo="AES-GCM", crypt_key=KO,
                             tunnel_header=IP(src=LOCAL, dst=PEER2),
                             nat_t_header=UDP(sport=4500, dport=4501))
    try:
        ip = frame[IP].copy()
        inner = sa.decrypt(ip)
        return inner.haslayer(UDP) and inner[UDP].dport == 5001
    except Exception:
        return False


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    r = Report("mobike")
    try:
        with LiveEspd(CONF, build=build, capture=(0, 1)) as gw:
            peer = Peer()
            mon = gw.monitor("mapping")
            every = gw.monitor()
            base = gw.stats()

            # 1. the peer's own address and port
            gw.send(1, peer.frames(3, 4500, b"a"))
            outs = delivered(gw, 3)
            r.check(sorted(outs) == [b"a0", b"a1", b"a2"] and not mon.of("mapping"),
                    "1: packets from the SA's peer pass and raise no mapping", outs,
                    mon.events)

            # 2. the NAT rebinds to port 4600
            gw.send(1, peer.frames(5, 4600, b"b"))
            outs = delivered(gw, 5)
            r.check(sorted(outs) == [b"b%d" % i for i in range(5)],
                    "2: packets from the new port are accepted (RFC 7296 2.23)", outs)
            r.check(mon.wait(lambda ev: len(ev) >= 1, 10), "2: a mapping event comes",
                    mon.events)
            time.sleep(0.3)
            ev = mon.of("mapping")
            want = {"event": "mapping", "src": PEER, "dst": LOCAL, "spi": "0x00002001",
                    "new_src": PEER, "new_sport": 4600}
            r.check(len(ev) == 1 and {k: ev[0].get(k) for k in want} == want and
                    isinstance(ev[0].get("id"), int),
                    "2: exactly one, for five packets, in DESIGN's JSON shape", ev)
            r.check(len(every.of("mapping")) == 1,
                    "2: a bare monitor hears mapping events too", every.events)
            d = counter_delta(base, gw.stats())
            r.check(d.get("MappingEvents") == 1, "2: MappingEvents counts it", d)
            sa = gw.ctl("state", "get", *IN_ID)
            r.check(sa["encap"]["sport"] == 4500 and sa["src"] == PEER,
                    "2: espd leaves the SA as it was (the key manager decides)", sa)

            # 3. the key manager migrates; a second rebinding is news
            gw.ctl("state", "migrate", *IN_ID, "encap", "espinudp", "4600", "4500",
                   "0.0.0.0", json_out=False)
            sa = gw.ctl("state", "get", *IN_ID)
            r.check(sa["encap"]["sport"] == 4600 and sa["stats"]["packets"] == 8 and
                    sa["stats"]["seq"] == 8,
                    "3: migrate: new encap port, counters and replay state kept", sa)
            m0 = mon.mark()
            gw.send(1, peer.frames(3, 4600, b"c"))
            outs = delivered(gw, 3)
            time.sleep(0.3)
            r.check(sorted(outs) == [b"c0", b"c1", b"c2"] and not mon.of("mapping", m0),
                    "3: after the migrate, the new port is the peer's: no event", outs,
                    mon.events[m0:])
            text = subprocess.Popen([gw.espctl_bin, "-s", gw.sock, "monitor", "mapping"],
                                    stdout=subprocess.PIPE, text=True)
            r.check(wait_subscribed(text, gw.sock), "3: a text monitor subscribed")
            gw.send(1, peer.frames(2, 4700, b"d"))
            delivered(gw, 2)
            r.check(mon.wait(lambda ev: len(ev) >= 1, 10, m0) and
                    [e["new_sport"] for e in mon.of("mapping", m0)] == [4700],
                    "3: a second rebinding raises a new event", mon.events[m0:])
            line = ""
            if select.select([text.stdout], [], [], 10)[0]:
                line = text.stdout.readline().strip()
            text.kill()
            text.wait()
            r.check(line.startswith("mapping src %s dst %s spi 0x00002001 new-src %s "
                                    "new-sport 4700" % (PEER, LOCAL, PEER)),
                    "3: the text form, as DESIGN.md writes it", line)

            # 4. outbound MOBIKE: new peer address and port
            gw.send(0, [plain(i) for i in range(3)])
            got = sent_esp(gw, 3)
            seq0 = max((int.from_bytes(bytes(f[UDP].payload)[4:8], "big") for f in got),
                       default=0)
            acq = gw.monitor("acquire")
            gw.ctl("state", "migrate", "src", LOCAL, "dst", PEER, "proto", "esp", "spi",
                   "0x1001", "new-dst", PEER2, "encap", "espinudp", "4500", "4501",
                   "0.0.0.0", json_out=False)
            gw.send(0, [plain(i) for i in range(3, 6)])
            got = sent_esp(gw, 3)
            gw.ctl("policy", "update", "src", "192.168.1.0/24", "dst", "192.168.2.0/24",
                   "dir", "out", "tmpl", "src", LOCAL, "dst", PEER2, "proto", "esp",
                   "reqid", "1", "mode", "tunnel", json_out=False)
            gw.send(0, [plain(i) for i in range(6, 9)])
            got += sent_esp(gw, 3)
            seqs = [int.from_bytes(bytes(f[UDP].payload)[4:8], "big") for f in got]
            r.check(len(got) == 6 and all(f[IP].dst == PEER2 and f[UDP].dport == 4501
                                          for f in got) and
                    all(opens(f) for f in got) and seqs == sorted(seqs) and
                    seqs[0] > seq0,
                    "4: out: migrated SA sends to the new address and port, same key, "
                    "numbers carrying on, before and after policy update",
                    [(f[IP].dst, f[UDP].dport) for f in got], seqs, seq0)
            time.sleep(0.2)
            pols = gw.ctl("policy", "list")
            r.check(not acq.of("acquire") and len(pols) == 2 and
                    [p["tmpl"]["dst"] for p in pols if p["dir"] == "out"] == [PEER2],
                    "4: no ACQUIRE on the way; policy update replaced, not added",
                    acq.events, pols)
            acq.close()
            d = counter_delta(base, gw.stats())
            r.check(d.get("XfrmOutNoStates", 0) == 0 and d.get("AcquireSent", 0) == 0,
                    "4: no packet missed its SA", d)
            mon.close()
            every.close()
            rc = gw.stop()
            r.check(rc == 0, "end: espd exits 0", gw.stderr[-800:])
    except EspdError as e:
        r.check(False, "espd start", e)
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
