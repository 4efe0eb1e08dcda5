#!/usr/bin/python3
"""Traffic for the built-in demo: make site A's plaintext, or check what
came out of gateway B against it.

  demo_traffic.py make  DIR N     write DIR/site-a.pcap (N UDP packets A -> B)
  demo_traffic.py check DIR       compare DIR/site-b.pcap with DIR/site-a.pcap
"""
import sys

from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap


def make(d, n):
    pkts = []
    for i in range(n):
        size = (64, 512, 1400)[i % 3]
        pkts.append(Ether(src="02:00:00:00:01:10", dst="02:00:00:00:01:01") /
                    IP(src="192.168.1.10", dst="192.168.2.20", ttl=64) /
                    UDP(sport=40000 + i % 50, dport=5001) /
                    Raw(bytes((i + j) & 0xff for j in range(size))))
    wrpcap(f"{d}/site-a.pcap", pkts)
    wrpcap(f"{d}/empty.pcap", [], linktype=1)  # Ethernet: an empty list has no type of its own


def check(d):
    sent = rdpcap(f"{d}/site-a.pcap")
    got = rdpcap(f"{d}/site-b.pcap")
    ok = 0
    for s, g in zip(sent, got):
        exp = s[IP].copy()
        exp.ttl -= 2  # one hop through each gateway
        del exp.chksum
        ok += bytes(IP(bytes(exp))) == bytes(g[IP])
    print(f"demo: {len(sent)} packets sent from site A, {len(got)} arrived at "
          f"site B, {ok} identical to what was sent (TTL - 2)")
    return ok == len(sent) == len(got)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(0 if check(sys.argv[2]) else 1)
