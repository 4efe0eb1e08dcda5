#!/usr/bin/python3
"""Helper of bench-gateway.sh: espd against DPDK's ipsec-secgw, one worker
(or 1, 2, ... workers with --workers).

Each case (direction, algorithm, size) runs espd and ipsec-secgw in turn
(A B, then B A, ... for R rounds), each over the same looped pcap
(net_pcap infinite_rx) into net_null, with the same SA. Rates come from
telemetry for both: the sum of ethdev opackets over ports 0 and 1, sampled
after a fixed warm-up and again after a fixed window. The ratio
espd/ipsec-secgw is taken per round, then its median. The crypto-only limit
is bench_micro's raw IPsec-MB benchmarks (BM_raw_*), run on the worker's
CPU (BENCH_CPU=1), before the gateway runs.

Both gateways run on 2 MB hugepages, as users run them: hugetlbfs is
mounted at /dev/hugepages when none is, and vm.nr_hugepages raised until
HUGE_WANT pages are free. It is never lowered again: another run (the CI
smoke, say) may be using the pages. When that fails, or with --no-huge,
both run with --no-huge -m 1024; the JSON and the table say which.

Each pcap holds max(1024, FLOWS) frames, frame i in flow i % FLOWS (a
distinct UDP 5-tuple), so with the default 1024 flows every frame is its
own flow. Inbound pcaps are those inner packets in ESP of one SA.

  bench_gateway.py BUILD_DIR [--quick] [--flows N] [--no-huge] [--rounds R]
                   [--warmup S] [--window S] [--out DIR] [--only TEXT] [--floor]
                   [--workers 1,2,4,8]

--floor adds a third program to every round: dpdk-testpmd forwarding the
same pcap between the same two vdevs (io mode: it never reads a packet).
Its cycles a packet are the harness's own (net_pcap's copy of each frame
into an mbuf, net_null's free, a poll loop), which any gateway pays. With
the raw crypto cycles they give, per case, the most a gateway could beat
ipsec-secgw by on this harness (ceiling = secgw cycles / (floor + raw))
and espd's own cycles (espd - floor - raw).

--workers 1,2,4,8 measures scaling instead: lcore 0 plus W workers for
each gateway, port 0 with W RX queues, queue q a pcap of its own whose
flows (to 192.168.(105+q).20 outbound, from 192.168.(115+q).20 inbound)
have an SA of their own, so each worker owns one SA as RSS would give it
on a NIC. ipsec-secgw gets the same SAs, lcore q + 1 polling queue q. Every
worker count is verified first (each frame under its queue's SA, every
flow out). Writes scaling-DATE.json and scaling.png. It needs W + 1 free
cores to mean anything: on this 2-core machine only W = 1 does.

Sizes are the inner IPv4 packet length (as in bench_micro): 64, 512, 1420,
and IMIX = 7 x 64, 4 x 576, 1 x 1420 (mean 347 B).
"""

import argparse
import collections
import datetime
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

from espdtest.secgw import colon, key  # the interop test's SA keys
from bench_common import (Telemetry, busiest_delta, clean_prefix, fmt, hugepages_setup, machine,
                          stop, summary, thread_cpu, tsc_hz)

A_GW, B_GW = "172.16.1.5", "172.16.2.5"
A_HOST, A_NET = "192.168.1.10", "192.168.1.0/24"
SPI_OUT, SPI_IN = 0x1005, 0x1069
MAC_P0_PEER, MAC_P1_PEER = "02:00:00:00:01:10", "02:00:00:00:02:fe"
MAC_ESPD_PROT, MAC_ESPD_UNPROT = "02:00:00:00:01:01", "02:00:00:00:02:01"
MIN_FRAMES = 1024
DEFAULT_FLOWS = 1024
# infinite_rx holds every frame of the pcap in mbufs of the gateway's pool
# for the whole run. espd's default pool (16383 mbufs, control/ports.c)
# needs room beyond the pcap for packets in flight: above
# ESPD_DEFAULT_FRAMES frames espd gets --mbufs FRAMES + 16383.
MAX_FLOWS = 65536
ESPD_POOL_DEFAULT = 16383
ESPD_DEFAULT_FRAMES = 8192
# ipsec-secgw's default pool (-s) is about 10880 mbufs here; above this
# many frames it gets frames + that.
SECGW_POOL_DEFAULT = 10880
SECGW_DEFAULT_FRAMES = 2048
TESTPMD = "dpdk-testpmd"  # --floor (package dpdk-dev)
IMIX = [64] * 7 + [576] * 4 + [1420]
GEN_VERSION = "2"
HUGE_WANT = 1024   # 2 MB pages set aside when fewer are free
HUGE_NEED = 512    # fewer free than this: fall back to --no-huge

ALGOS = {
    # name: (secgw needs -l, raw benchmark name pattern)
    "aes-gcm-128": (False, "BM_raw_gcm128_enc/size:%d"),
    "aes-gcm-256": (False, "BM_raw_esp_enc/algo:1/size:%d"),
    "aes-cbc-128/hmac-sha256-128": (False, "BM_raw_esp_enc/algo:3/size:%d"),
    "chacha20-poly1305": (True, "BM_raw_esp_enc/algo:2/size:%d"),
}
SHORT = {"aes-gcm-128": "gcm128", "aes-gcm-256": "gcm256",
         "aes-cbc-128/hmac-sha256-128": "cbc-sha256",
         "chacha20-poly1305": "chacha"}

FULL_CASES = [
    ("out", "aes-gcm-128", [64, 512, 1420, "imix"]),
    ("in", "aes-gcm-128", [64, 512, 1420]),
    ("out", "aes-gcm-256", [64, 512, 1420]),
    ("in", "aes-gcm-256", [64, 512, 1420]),
    ("out", "aes-cbc-128/hmac-sha256-128", [64, 512, 1420]),
    ("out", "chacha20-poly1305", [64, 512, 1420]),
    ("in", "chacha20-poly1305", [64, 512, 1420]),
]
QUICK_CASES = [
    ("out", "aes-gcm-128", [64, 1420]),
    ("in", "aes-gcm-128", [64]),
    ("out", "aes-gcm-256", [1420]),
    ("in", "aes-gcm-256", [1420]),
    ("out", "aes-cbc-128/hmac-sha256-128", [64]),
    ("out", "chacha20-poly1305", [64]),
]


# --workers W: queue q of the RX port (one pcap each, its own worker) carries
# the flows of its own SA: outbound to 192.168.(105+q).20 under SPI
# SPI_OUT + q, inbound from 192.168.(115+q).20 in SPI SPI_IN + q. Queue 0 is
# the one-worker case (same pcap, SA and keys).
MAX_WORKERS = 10
Q_OUT_NET3, Q_IN_NET3 = 105, 115  # third byte of queue 0's inner addresses


def q_out_net(q):
    return "192.168.%d.0/24" % (Q_OUT_NET3 + q)


def q_out_host(q):
    return "192.168.%d.20" % (Q_OUT_NET3 + q)


def q_in_net(q):
    return "192.168.%d.0/24" % (Q_IN_NET3 + q)


def q_in_src(q):
    return "192.168.%d.20" % (Q_IN_NET3 + q)


def queue_of(addr, net3):
    """The queue whose inner address @addr is (q_out_host, q_in_src)."""
    return int(addr.split(".")[2]) - net3


# --shared-sa: every queue's flows (outbound) under SA 0, whose policy
# covers all the queues' destinations.
SHARED_OUT_NET = "192.168.96.0/19"


def q_out_sel(q, shared):
    """The destination an outbound SA's policy covers."""
    return SHARED_OUT_NET if shared else q_out_net(q)


def sa_salt(direction, q):
    """Queue q's SA: its keys' salt (algo_words) and its reqid."""
    return (1 if direction == "out" else 2) + 2 * q


def algo_words(algo, salt):
    """(espd ALGO words, ipsec-secgw words, scapy SA kwargs)."""
    if algo in ("aes-gcm-128", "aes-gcm-256"):
        bits = 128 if algo == "aes-gcm-128" else 256
        k = key(bits // 8 + 4, salt)
        return ("aead 'rfc4106(gcm(aes))' 0x%s 128" % k.hex(),
                "aead_algo aes-%d-gcm aead_key %s" % (bits, colon(k)),
                dict(crypt_algo="AES-GCM", crypt_key=k))
    if algo == "chacha20-poly1305":
        k = key(36, salt)
        return ("aead 'rfc7539esp(chacha20,poly1305)' 0x%s 128" % k.hex(),
                "aead_algo chacha20-poly1305 aead_key %s" % colon(k),
                dict(crypt_algo="CHACHA20-POLY1305", crypt_key=k))
    ck, ak = key(16, salt), key(32, salt + 100)
    return ("enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128" % (ck.hex(), ak.hex()),
            "cipher_algo aes-128-cbc cipher_key %s auth_algo sha256-hmac auth_key %s"
            % (colon(ck), colon(ak)),
            dict(crypt_algo="AES-CBC", crypt_key=ck, auth_algo="SHA2-256-128", auth_key=ak))


def espd_sa(outer, sel, spi, reqid, pdir, words, extra=""):
    """An espd tunnel SA (outer (src, dst)) and the policy (selector
    (src, dst), direction @pdir) that takes it."""
    return ["state add src %s dst %s proto esp spi 0x%x reqid %d mode tunnel%s %s"
            % (outer[0], outer[1], spi, reqid, extra, words),
            "policy add src %s dst %s dir %s priority 100 "
            "tmpl src %s dst %s proto esp reqid %d mode tunnel"
            % (sel[0], sel[1], pdir, outer[0], outer[1], reqid)]


def espd_conf(direction, algo, workers=1, shared=False, out_sa="owner"):
    """espd's configuration: one SA and policy per queue (--workers), or
    with @shared one outbound SA for all of them; @out_sa: espd's `set
    out-sa` (owner: one worker sends through each SA; shared: every one)."""
    queues = " queues %d" % workers if workers > 1 else ""
    if direction == "out":
        lines = (["set out-sa shared"] if out_sa == "shared" else []) + [
            "port 0 role protected   addr 192.168.1.1/24 mac %s%s" % (MAC_ESPD_PROT, queues),
            "port 1 role unprotected addr %s/24 mac %s" % (A_GW, MAC_ESPD_UNPROT),
            "route add 172.16.2.0/24 port 1 via 172.16.1.1",
            "neigh add 172.16.1.1 lladdr %s port 1" % MAC_P1_PEER,
        ]
        for q in range(1 if shared else workers):
            salt = sa_salt("out", q)
            lines += espd_sa((A_GW, B_GW), (A_NET, q_out_sel(q, shared)), SPI_OUT + q, salt,
                             "out", algo_words(algo, salt)[0])
        return "\n".join(lines) + "\n"
    lines = [
        "port 0 role unprotected addr %s/24 mac %s%s" % (A_GW, MAC_ESPD_UNPROT, queues),
        "port 1 role protected   addr 192.168.1.1/24 mac %s" % MAC_ESPD_PROT,
        "neigh add %s lladdr %s port 1" % (A_HOST, MAC_P0_PEER),
    ]
    for q in range(workers):
        # No replay window: the pcap loops, so sequence numbers repeat
        # (ipsec-secgw's default path has no replay check either).
        salt = sa_salt("in", q)
        lines += espd_sa((B_GW, A_GW), (q_in_net(q), A_NET), SPI_IN + q, salt, "fwd",
                         algo_words(algo, salt)[0], " replay-window 0")
    return "\n".join(lines) + "\n"


def secgw_conf(direction, algo, workers=1, shared=False):
    prot, unprot = (0, 1) if direction == "out" else (1, 0)
    lines = []
    for q in range(1 if shared else workers):
        _, s_out, _ = algo_words(algo, sa_salt("out", q))
        _, s_in, _ = algo_words(algo, sa_salt("in", q))
        lines += [
            "sp ipv4 out esp protect %d pri 1 dst %s sport 0:65535 dport 0:65535"
            % (SPI_OUT + q, q_out_sel(q, shared)),
            "sa out %d %s mode ipv4-tunnel src %s dst %s" % (SPI_OUT + q, s_out, A_GW, B_GW),
            # One worker: no source (the case measured since 2026-11-22).
            "sp ipv4 in esp protect %d pri 1%s dst %s sport 0:65535 dport 0:65535"
            % (SPI_IN + q, " src " + q_in_net(q) if workers > 1 else "", A_NET),
            "sa in %d %s mode ipv4-tunnel src %s dst %s" % (SPI_IN + q, s_in, B_GW, A_GW)]
    return "\n".join(lines + [
        "rt ipv4 dst %s/32 port %d" % (B_GW, unprot),
        "neigh port %d %s" % (unprot, MAC_P1_PEER),
        "rt ipv4 dst %s port %d" % (A_NET, prot),
        "neigh port %d %s" % (prot, MAC_P0_PEER),
    ]) + "\n"


def sizes_of(size):
    return IMIX if size == "imix" else [size]


def mean_size(size):
    s = sizes_of(size)
    return sum(s) / len(s)


def flow_ports(j):
    """(sport, dport) of flow @j: distinct for j < 50000 * 500."""
    return 10000 + j % 50000, 5001 + j // 50000


def gen_pcaps(d, cases, flows, queues=1):
    """Plain and (for inbound) ESP pcaps: max(MIN_FRAMES, @flows) frames,
    frame i in flow i % @flows, one pcap per queue (--workers). Made once
    per (case, flows, queue), kept in @d."""
    stamp = os.path.join(d, "pcaps.version")
    if not os.path.exists(stamp) or open(stamp).read() != GEN_VERSION:
        for f in os.listdir(d):
            if f.endswith(".pcap"):
                os.unlink(os.path.join(d, f))
        with open(stamp, "w") as f:
            f.write(GEN_VERSION)
    nframes = frames_of(flows)
    for direction, algo, sizes in cases:
        for size in sizes:
            for q in range(queues):
                path = os.path.join(d, pcap_name(direction, algo, size, flows, q))
                if not os.path.exists(path):
                    gen_pcap(path, direction, algo, size, flows, nframes, q)


def gen_pcap(path, direction, algo, size, flows, nframes, q):
    # scapy only here: a run over pcaps made elsewhere (bench/device-kit.sh)
    # needs none.
    from scapy.all import Ether, IP, UDP, Raw, wrpcap
    from scapy.layers.ipsec import ESP, SecurityAssociation

    pat = sizes_of(size)
    frames = []
    sa = None
    if direction == "in":
        _, _, kw = algo_words(algo, sa_salt("in", q))
        sa = SecurityAssociation(ESP, spi=SPI_IN + q, tunnel_header=IP(src=B_GW, dst=A_GW),
                                 **kw)
    for i in range(nframes):
        ln = pat[i % len(pat)]
        src, dst = (A_HOST, q_out_host(q)) if direction == "out" else (q_in_src(q), A_HOST)
        sport, dport = flow_ports(i % flows)
        p = IP(src=src, dst=dst, ttl=64, id=i & 0xffff) / \
            UDP(sport=sport, dport=dport) / Raw(b"\x5a" * (ln - 28))
        if sa is None:
            frames.append(Ether(src=MAC_P0_PEER, dst=MAC_ESPD_PROT) / p)
        else:
            e = sa.encrypt(p, seq_num=i + 1)
            frames.append(Ether(src=MAC_P1_PEER, dst=MAC_ESPD_UNPROT) / e)
    wrpcap(path + ".tmp", frames)
    os.rename(path + ".tmp", path)


def frames_of(flows):
    return max(MIN_FRAMES, flows)


def pcap_name(direction, algo, size, flows, q=0):
    """Queue 0's pcap is the one-worker case's."""
    qs = "-q%d" % q if q else ""
    if direction == "out":
        return "plain-%s-f%d%s.pcap" % (size, flows, qs)
    return "esp-%s-%s-f%d%s.pcap" % (SHORT[algo], size, flows, qs)


def tx_queues(workers):
    """TX queues a port gets: one per lcore and one more (ipsec-secgw asks
    that many; the verification reads as many capture files)."""
    return workers + 2


def read_pcap(path, stamps=False):
    """The frames of a pcap file, in order (no scapy: the device machine
    has none); with @stamps, (time in ns, frame) pairs."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    end = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, n = struct.unpack(end + "III", data[off:off + 12])
        frame = data[off + 16:off + 16 + n]
        out.append((sec * 10**9 + frac * (1 if nano else 1000), frame) if stamps else frame)
        off += 16 + n
    return out


def reorder_depth(frames, window=64):
    """How far out of order (ts, seq) pairs of one SA are, taken in time
    order across TX queues: for each frame, how many numbers above its
    own had gone out strictly before it. @return (the largest such gap,
    frames that came after a higher number, frames a replay window of
    @window would drop: a gap of @window or more)."""
    frames = sorted(frames)
    depth = late = beyond = 0
    top = 0  # the highest number at any earlier time stamp
    i = 0
    while i < len(frames):
        j = i
        while j < len(frames) and frames[j][0] == frames[i][0]:
            j += 1
        for _, seq in frames[i:j]:
            if seq < top:
                late += 1
                depth = max(depth, top - seq)
                beyond += top - seq >= window
        top = max([top] + [seq for _, seq in frames[i:j]])
        i = j
    return depth, late, beyond


def ip4_fields(frame):
    """(src, dst, protocol, what follows the header) of an Ethernet frame
    holding IPv4, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4:
        return None
    ihl = (frame[14] & 15) * 4
    return (socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34]), frame[23],
            frame[14 + ihl:])


def flows_why(bad, seen, want):
    """What is wrong with @bad frames and the flow counts @seen against
    @want (Counters of (queue, sport, dport)); '' when nothing."""
    why = "%d frames not as expected; " % bad if bad else ""
    if seen != want:
        lost = sum((want - seen).values())
        extra = sum((seen - want).values())
        why += "%d of %d flows as sent (%d frames missing, %d extra)" % (
            sum(1 for k in want if seen[k] == want[k]), len(want), lost, extra)
    return why


class Runner:
    def __init__(self, a, wd):
        self.a = a
        self.wd = wd
        self.build = os.path.abspath(a.build)
        self.espd = os.path.join(self.build, "espd")
        self.secgw = os.path.join(self.build, "ipsec-secgw")
        self.seq = 0
        self.flows = a.flows
        self.frames = frames_of(a.flows)
        self.shared = getattr(a, "shared_sa", False)
        self.out_sa = getattr(a, "out_sa", "owner")
        self.verify_note = ""

    def cmd(self, app, direction, algo, size, prefix, verify=None, engine=None, workers=1):
        """The command line; with @verify (a file stem), port 1 writes pcaps
        there instead of net_null and the input is read once. @engine: espd's
        crypto engine, "builtin" (IPsec-MB inline, the default) or a
        cryptodev PMD (aesni_mb, openssl, ...) that espd uses through
        --crypto-dev. @workers: worker lcores, each polling its own RX
        queue of port 0 (one pcap each) whose flows have their own SA."""
        loop = "" if verify else ",infinite_rx=1"
        rx = "".join(",rx_pcap=%s" % os.path.join(
            self.wd, pcap_name(direction, algo, size, self.flows, q)) for q in range(workers))
        frames = self.frames * workers
        # Hugepages: memory grows as needed (about 110 pages for espd, 150
        # for ipsec-secgw), the files unlinked once mapped.
        mem = ["--huge-unlink"] if self.a.huge == "hugepages" else ["--no-huge", "-m", "1024"]
        if workers == 1:
            lcores = ["-l", "0,1"]
        else:
            # Lcore i on the i-th CPU this process may use; with fewer
            # CPUs than lcores (a smoke run) they wrap around and share.
            cpus = sorted(os.sched_getaffinity(0))
            lcores = ["--lcores", ",".join("%d@%d" % (i, cpus[i % len(cpus)])
                                           for i in range(workers + 1))]
        eal = mem + ["--no-pci"] + lcores + ["--file-prefix", prefix,
                     "--log-level=lib.eal:error"]
        tag = "%s-%s-%s" % (direction, SHORT[algo], size)
        conf_tag = "%s-%s-w%d%s%s" % (direction, SHORT[algo], workers, "s" if self.shared else "",
                                      "-any" if self.out_sa == "shared" else "")
        if app == "floor":
            return [TESTPMD] + eal + [
                "--vdev", "net_pcap0%s%s" % (rx, loop),
                "--vdev", "net_null0,no-rx=1",
                "--", "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1",
                "--total-num-mbufs=%d" % (frames + ESPD_POOL_DEFAULT),
                # Keeps it forwarding without a terminal (it would wait on stdin).
                "--stats-period", "60"]
        if app == "espd" or self.a.vs_espd:
            conf = os.path.join(self.wd, "espd-%s.conf" % conf_tag)
            with open(conf, "w") as f:
                f.write(espd_conf(direction, algo, workers, self.shared, self.out_sa))
            # Verifying: a capture per TX queue, so that each lcore's
            # frames are read in the order it sent them.
            p1 = ("net_pcap1" + "".join(",tx_pcap=%s-q%d.pcap" % (verify, q)
                                        for q in range(tx_queues(workers)))
                  if verify else "net_null0,no-rx=1")
            binary = self.a.vs_espd if app == "secgw" else self.espd
            if engine is not None and "@" in engine:
                # --engines aesni_mb@/other/espd: that engine in another
                # espd build (an A/B of two builds on one engine).
                engine, binary = engine.split("@", 1)
            pool = []
            if frames > ESPD_DEFAULT_FRAMES:
                pool = ["--mbufs", str(frames + ESPD_POOL_DEFAULT)]
            cdev, copt = [], []
            if engine not in (None, "builtin"):
                name = "crypto_%s_%s" % (engine, prefix)
                cdev, copt = ["--vdev", name], ["--crypto-dev", name]
            return [binary] + eal + [
                "--vdev", "net_pcap0%s%s" % (rx, loop),
                "--vdev", p1] + cdev + [
                "--", "-c", conf, "-s", os.path.join(self.wd, "espd-%s.sock" % prefix)] + pool + copt
        conf = os.path.join(self.wd, "secgw-%s.cfg" % conf_tag)
        with open(conf, "w") as f:
            f.write(secgw_conf(direction, algo, workers, self.shared))
        ntx = tx_queues(workers)
        tx = "".join(",tx_pcap=%s/sgw-%s-q%d.pcap" % (self.wd, tag, q) for q in range(ntx))
        need_lib = ALGOS[algo][0]
        # -u: the unprotected port (port 1 outbound, port 0 inbound).
        u = "0x2" if direction == "out" else "0x1"
        p1 = "net_null0,no-rx=1"
        if verify:
            p1 = "net_pcap1" + "".join(",tx_pcap=%s-q%d.pcap" % (verify, q) for q in range(ntx))
        # Its pool must hold the looped pcap too (infinite_rx).
        pool = []
        if frames > SECGW_DEFAULT_FRAMES:
            pool = ["-s", str(frames + SECGW_POOL_DEFAULT)]
        # Lcore q + 1 polls queue q of both ports. An SA that several
        # lcores use (--shared-sa) needs librte_ipsec's atomic sequence
        # numbers (-l -a): without them ipsec-secgw 22.11 sends two packets
        # under one sequence number, hence one AES-GCM nonce.
        config = ",".join("(%d,%d,%d)" % (port, q, q + 1) for port in (0, 1)
                          for q in range(workers))
        return [self.secgw, "-n", "1"] + eal + [
            "--vdev", "net_pcap0%s%s%s" % (rx, loop, tx),
            "--vdev", p1,
            "--vdev", "crypto_aesni_mb_%s,max_nb_queue_pairs=%d" % (prefix, max(8, 2 * ntx)),
            "--", "-p", "0x3", "-P", "-u", u, "--config", config,
            "-f", conf, "--rxoffload", "0", "--txoffload", "0"] + pool + \
            (["-l"] if need_lib or self.shared else []) + \
            (["-a"] if self.shared else [])

    def verify(self, app, direction, algo, size, engine=None, workers=1):
        """One pass of the @size pcaps (the case's first) with port 1
        captured; @return '' when every frame came out once, each
        outbound frame under its queue's SA with a sequence number of its
        own, rising on each TX queue, and decrypting to the packet sent
        (inbound: the plaintext sent); else what is wrong. Without scapy
        (the device machine) the outbound frames are checked as far as
        their headers go, and self.verify_note says so."""
        self.verify_note = ""
        self.seq += 1
        prefix = "gwv%d_%d_%s" % (os.getpid(), self.seq, app[:2])
        stem = os.path.join(self.wd, "verify-%s" % prefix)
        argv = self.cmd(app, direction, algo, size, prefix, verify=stem, engine=engine,
                        workers=workers)
        frames = self.frames * workers
        log = open(stem + ".log", "w+")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.wd)
        try:
            tel = Telemetry(prefix, timeout=30, proc=p)
            end = time.monotonic() + 10 * workers
            while tel.opackets()[0] < frames and time.monotonic() < end:
                time.sleep(0.05)
            tel.close()
        except (RuntimeError, OSError, ValueError) as e:
            stop(p)
            return "no telemetry: %s" % e
        stop(p)  # net_pcap writes its files on close
        clean_prefix(prefix)
        got = []  # (TX queue, IPv4 fields)
        stamped = []  # (time stamp, IPv4 fields)
        for q in range(tx_queues(workers)):
            f = "%s-q%d.pcap" % (stem, q)
            if os.path.exists(f):
                for ts, frame in read_pcap(f, stamps=True):
                    ip = ip4_fields(frame)
                    if ip is not None:
                        got.append((q, ip))
                        stamped.append((ts, ip))
                os.unlink(f)
        why = ""
        if len(got) != frames:
            why = "%d frames out of port 1, %d expected; " % (len(got), frames)
        why += (self.check_out(got, algo, workers, app) if direction == "out"
                else self.check_in(got, workers))
        if direction == "out" and self.shared and workers > 1:
            # One SA sent from several TX queues: how far out of order a
            # peer would see it (by the PMD's time stamps, as if the
            # queues shared one wire).
            seqs = [(ts, struct.unpack(">I", l4[4:8])[0]) for ts, (_, _, proto, l4) in stamped
                    if proto == 50 and len(l4) >= 8 and l4[:4] == struct.pack(">I", SPI_OUT)]
            depth, late, beyond = reorder_depth(seqs)
            note = "%d of %d frames after a higher number, by up to %d (%d beyond a " \
                   "replay window of 64)" % (late, len(seqs), depth, beyond)
            self.verify_note = note if not self.verify_note else \
                self.verify_note + "; " + note
        if not why:
            os.unlink(stem + ".log")
        return why

    def want_flows(self, workers):
        """How many frames of each (queue, sport, dport) the pcaps hold."""
        return collections.Counter((q,) + flow_ports(i % self.flows)
                                   for q in range(workers) for i in range(self.frames))

    def check_in(self, got, workers):
        seen = collections.Counter()
        bad = 0
        for _, (src, dst, proto, l4) in got:
            q = queue_of(src, Q_IN_NET3)
            if proto != 17 or len(l4) < 8 or src != q_in_src(q) or dst != A_HOST:
                bad += 1
                continue
            seen[(q,) + struct.unpack(">HH", l4[:4])] += 1
        return flows_why(bad, seen, self.want_flows(workers))

    def check_out(self, got, algo, workers, app="espd"):
        spis = [SPI_OUT] if self.shared else [SPI_OUT + q for q in range(workers)]
        last, count = {}, collections.Counter()
        queues = collections.defaultdict(set)  # TX queues each SA left by
        bad = disorder = 0
        esp = []
        for txq, (src, dst, proto, l4) in got:
            if proto != 50 or len(l4) < 8 or (src, dst) != (A_GW, B_GW):
                bad += 1
                continue
            spi, seq = struct.unpack(">II", l4[:8])
            if spi not in spis:
                bad += 1
                continue
            # Each SA's numbers rise on each TX queue; none goes out twice
            # (two lcores sending through one SA would repeat them).
            if seq <= last.get((txq, spi), 0):
                disorder += 1
            last[(txq, spi)] = max(seq, last.get((txq, spi), 0))
            queues[spi].add(txq)
            count[(spi, seq)] += 1
            esp.append((spi, src, dst, l4))
        twice = sum(n - 1 for n in count.values())
        why = ""
        if twice:
            why += "%d sequence numbers sent twice; " % twice
        if disorder:
            why += "%d frames out of sequence on their TX queue; " % disorder
        if app == "espd" and self.shared and workers > 1:
            # espd's modes, told apart on the wire: one owner sends all
            # of an SA's frames (one TX queue); shared, every worker does.
            nq = len(queues[SPI_OUT])
            if self.out_sa == "shared" and nq < 2:
                why += "the shared SA left by %d TX queue (set out-sa shared: by each " \
                       "worker's); " % nq
            elif self.out_sa == "owner" and nq > 1:
                why += "the SA left by %d TX queues (one owner: by one); " % nq
        try:
            from scapy.layers.inet import IP, UDP
            from scapy.layers.ipsec import ESP, SecurityAssociation
        except ImportError:
            self.verify_note = "headers only: no scapy to decrypt"
            per_sa = collections.Counter(spi for spi, _, _, _ in esp)
            want = self.frames * (workers if self.shared else 1)
            if bad or any(per_sa[s] != want for s in spis):
                why += "%d frames not as expected; per SA %s, %d each expected; " % (
                    bad, dict(per_sa), want)
            return why
        sas = {}
        for q, spi in enumerate(spis):
            _, _, kw = algo_words(algo, sa_salt("out", q))
            sas[spi] = SecurityAssociation(ESP, spi=spi, tunnel_header=IP(src=A_GW, dst=B_GW),
                                           **kw)
        seen = collections.Counter()
        for spi, src, dst, l4 in esp:
            try:
                inner = sas[spi].decrypt(IP(src=src, dst=dst, proto=50) / ESP(l4))
                q = queue_of(inner[IP].dst, Q_OUT_NET3)
                if inner[IP].dst != q_out_host(q) or not (self.shared or spi == SPI_OUT + q) \
                        or UDP not in inner:
                    bad += 1
                    continue
                seen[(q, inner[UDP].sport, inner[UDP].dport)] += 1
            except Exception:  # scapy raises several kinds
                bad += 1
        return why + flows_why(bad, seen, self.want_flows(workers))

    def perf_record(self, app, direction, algo, size, pid, c0):
        """--perf: `perf record` the busiest thread (the worker) for the
        window, into DIR/perf-APP-DIRECTION-ALGO-SIZE-SEQ.data."""
        time.sleep(0.1)
        c1 = thread_cpu(pid)
        tid = max(c1, key=lambda t: c1[t] - c0.get(t, 0.0))
        os.makedirs(self.a.perf, exist_ok=True)
        out = os.path.join(self.a.perf, "perf-%s-%s-%s-%s-%d.data" % (
            app, direction, SHORT[algo], size, self.seq))
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-t", str(tid), "-o", out,
                        "--", "sleep", "%.2f" % max(0.2, self.a.window - 0.2)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    def run_one(self, app, direction, algo, size, engine=None, workers=1):
        self.seq += 1
        prefix = "gwb%d_%d_%s" % (os.getpid(), self.seq, app[:2])
        argv = self.cmd(app, direction, algo, size, prefix, engine=engine, workers=workers)
        log = open(os.path.join(self.wd, "%s.log" % prefix), "w+")
        t_start = time.monotonic()
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.wd)
        res = {"app": app, "ok": False}
        tel = None
        try:
            tel = Telemetry(prefix, timeout=30, proc=p)
            # Wait until traffic flows, then the fixed warm-up.
            end = time.monotonic() + 15
            while tel.opackets()[0] == 0:
                if p.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("no packets out")
                time.sleep(0.02)
            time.sleep(self.a.warmup)
            c0 = thread_cpu(p.pid)
            o0, b0, i0 = tel.opackets()
            t0 = time.monotonic()
            if self.a.perf:
                self.perf_record(app, direction, algo, size, p.pid, c0)
            time.sleep(max(0.0, self.a.window - (time.monotonic() - t0)))
            o1, b1, i1 = tel.opackets()
            t1 = time.monotonic()
            cpu = busiest_delta(c0, thread_cpu(p.pid), workers)
            dt = t1 - t0
            # The worker polls without pause, so its CPU time is the time
            # it really had the core; on a shared machine that is less
            # than the window. Mpps per CPU-second corrects for that.
            res.update(ok=True, mpps=(o1 - o0) / dt / 1e6, rx_mpps=(i1 - i0) / dt / 1e6,
                       window_s=dt, worker_cpu_s=cpu, cpu_share=cpu / dt,
                       mpps_cpu=(o1 - o0) / cpu / 1e6 if cpu > 0 else None)
            if app == "espd":
                try:
                    st = tel.get("/espd/stats")["/espd/stats"]
                    res["espd_drops"] = {k: v for k, v in st.items()
                                         if isinstance(v, int) and v and
                                         ("Error" in k or "Drop" in k or "No" in k[:2])}
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    pass
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            log.flush()
            log.seek(0)
            res["error"] = "%s: %s" % (e, log.read()[-600:])
        finally:
            if tel is not None:
                tel.close()
            rc = stop(p)
            log.close()
            clean_prefix(prefix)
            res["run_s"] = time.monotonic() - t_start
        if res["ok"]:
            os.unlink(os.path.join(self.wd, "%s.log" % prefix))
        else:
            res["rc"] = rc
        for f in os.listdir(self.wd):
            if f.startswith("sgw-") and f.endswith(".pcap"):
                os.unlink(os.path.join(self.wd, f))
        return res


def raw_crypto(build, quick, cases):
    """Mops of the raw IPsec-MB call per (algo, size), via bench_micro."""
    pats = set()
    for _, algo, sizes in cases:
        for s in sizes:
            for z in ([64, 512, 1420] if s == "imix" else [s]):
                pats.add(ALGOS[algo][1] % z)
    flt = "^(" + "|".join(sorted(p.replace("/", "/") for p in pats)) + ")$"
    out = os.path.join("/tmp", "bench-gw-raw-%d.json" % os.getpid())
    env = dict(os.environ, BENCH_CPU="1")
    argv = [os.path.join(build, "bench", "bench_micro"), "--benchmark_filter=" + flt,
            "--benchmark_min_time=%s" % ("0.05" if quick else "0.2"),
            "--benchmark_repetitions=%d" % (1 if quick else 3),
            "--benchmark_out=" + out, "--benchmark_out_format=json"]
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   timeout=300)
    with open(out) as f:
        js = json.load(f)
    os.unlink(out)
    per = {}
    for b in js["benchmarks"]:
        if b.get("run_type") != "iteration" or "items_per_second" not in b:
            continue
        per.setdefault(b["run_name"], []).append(b["items_per_second"] / 1e6)
    return per


def raw_limit(raw, algo, size):
    """Mops for one size; IMIX from the mean time per packet, with 576 B
    interpolated linearly (in ns) between 512 and 1420."""
    def ns(z):
        xs = raw.get(ALGOS[algo][1] % z)
        if not xs:
            return None
        return 1e3 / summary(xs)["median"]
    if size != "imix":
        t = ns(size)
        return None if t is None else 1e3 / t
    t512, t1420, t64 = ns(512), ns(1420), ns(64)
    if None in (t512, t1420, t64):
        return None
    t576 = t512 + (t1420 - t512) * (576 - 512) / (1420 - 512)
    tm = {64: t64, 576: t576, 1420: t1420}
    return 1e3 / (sum(tm[z] for z in IMIX) / len(IMIX))


def plot(results, path, what):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    rows = [r for r in results if r["algo"] == "aes-gcm-128"]
    for ax, direction in zip(axes, ("out", "in")):
        rr = [r for r in rows if r["dir"] == direction and r["size"] != "imix"]
        if not rr:
            ax.set_visible(False)
            continue
        xs = [r["size"] for r in rr]
        for key, label, style in (("espd", "espd", "o-"), ("secgw", "ipsec-secgw", "s-"),
                                  ("crypto_limit", "raw IPsec-MB (crypto limit)", "^--")):
            ys = [(r[key]["median"] if isinstance(r[key], dict) else r[key]) for r in rr]
            ax.plot(xs, ys, style, label=label)
            if key != "crypto_limit":
                lo = [r[key]["median"] - r[key]["min"] for r in rr]
                hi = [r[key]["max"] - r[key]["median"] for r in rr]
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", capsize=3, color="gray")
        for r in [r for r in rows if r["dir"] == direction and r["size"] == "imix"]:
            x = mean_size("imix")
            ax.plot([x], [r["espd"]["median"]], "o", mfc="none", color="C0",
                    label="espd IMIX (mean %d B)" % x)
            ax.plot([x], [r["secgw"]["median"]], "s", mfc="none", color="C1",
                    label="ipsec-secgw IMIX")
        ax.set_xlabel("inner IPv4 packet size (bytes)")
        ax.set_ylabel("Mpps, one worker core")
        ax.set_title("AES-GCM-128 tunnel, %sbound (%s)" % (direction, what), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--warmup", type=float, default=None)
    ap.add_argument("--window", type=float, default=None)
    ap.add_argument("--out", default=None, help="results directory (default bench/results)")
    ap.add_argument("--vs-espd", default=None,
                    help="A/B of two espd builds: run this espd binary in ipsec-secgw's place")
    ap.add_argument("--only", default=None,
                    help="substring filter on case names (DIR ALGO SIZE, such as "
                    "\"out aes-gcm-128 64\"); alternatives separated by commas")
    ap.add_argument("--pcaps-only", action="store_true",
                    help="make the pcaps the cases need (--workers: one per queue) and stop")
    ap.add_argument("--engines", default=None,
                    help="compare espd's crypto engines instead of espd and ipsec-secgw: "
                         "a list such as builtin,aesni_mb,openssl (builtin = inline "
                         "IPsec-MB; the others are cryptodev PMDs used through --crypto-dev)")
    ap.add_argument("--flows", type=int, default=DEFAULT_FLOWS,
                    help="distinct UDP 5-tuples per pcap, 1 to %d (default %d); the pcap "
                    "holds max(1024, FLOWS) frames" % (MAX_FLOWS, DEFAULT_FLOWS))
    ap.add_argument("--floor", action="store_true",
                    help="also run %s io forwarding over the same vdevs each round: the "
                    "harness's own cycles, the ceiling on espd/secgw they leave, and espd's "
                    "own cycles" % TESTPMD)
    ap.add_argument("--perf", default=None, metavar="DIR",
                    help="perf record each run's worker thread (cpu-clock) during its "
                    "window into DIR/perf-APP-DIR-ALGO-SIZE-N.data (its rates then carry "
                    "perf's cost)")
    ap.add_argument("--no-huge", action="store_true",
                    help="run both gateways with --no-huge -m 1024 (default: hugepages)")
    ap.add_argument("--workers", default=None,
                    help="scaling: a list of worker counts such as 1,2,4,8 (at most %d); "
                    "each worker polls its own RX queue (its own pcap) whose flows have "
                    "their own SA. Needs a core for each worker and one for lcore 0"
                    % MAX_WORKERS)
    ap.add_argument("--shared-sa", action="store_true",
                    help="with --workers: every queue's flows (outbound cases only) under "
                    "one SA, which one worker owns: the others hand it their packets "
                    "(with --out-sa shared: which every worker sends through)")
    ap.add_argument("--out-sa", choices=("owner", "shared"), default="owner",
                    help="espd's `set out-sa`: owner (the default: one worker sends through "
                    "each outbound SA) or shared (every worker, sequence numbers taken "
                    "with an atomic add a run at a time)")
    a = ap.parse_args()
    if a.shared_sa and a.workers is None:
        ap.error("--shared-sa goes with --workers")
    if a.workers is not None:
        try:
            a.workers = [int(x) for x in a.workers.split(",") if x.strip()]
        except ValueError:
            ap.error("--workers %s: a list of numbers such as 1,2,4,8" % a.workers)
        if not a.workers or not all(1 <= w <= MAX_WORKERS for w in a.workers):
            ap.error("--workers: each 1 to %d" % MAX_WORKERS)
        if a.engines or a.floor or a.vs_espd:
            ap.error("--workers: not with --engines, --floor or --vs-espd")
    if a.floor and shutil.which(TESTPMD) is None:
        ap.error("--floor: no %s on PATH (package dpdk-dev)" % TESTPMD)
    if not 1 <= a.flows <= MAX_FLOWS:
        ap.error("--flows %d: 1 to %d" % (a.flows, MAX_FLOWS))
    a.rounds = a.rounds or (1 if a.quick else 4)
    a.warmup = a.warmup if a.warmup is not None else (0.3 if a.quick else 1.0)
    a.window = a.window if a.window is not None else (0.5 if a.quick else 1.5)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wd = os.path.join(os.path.abspath(a.build), "bench-gw")
    os.makedirs(wd, exist_ok=True)
    # A --quick smoke leaves the tree alone: its JSON goes to the build.
    outdir = a.out or (wd if a.quick else os.path.join(root, "bench", "results"))
    os.makedirs(outdir, exist_ok=True)
    cases = QUICK_CASES if a.quick else FULL_CASES
    if a.only:
        # Comma-separated alternatives: "gcm-128 64,out aes-gcm-128 1420".
        alts = [x.strip() for x in a.only.split(",") if x.strip()]
        cases = [(d, al, [s for s in sz if any(x in "%s %s %s" % (d, al, s) for x in alts)])
                 for d, al, sz in cases]
        cases = [c for c in cases if c[2]]
        if not cases:
            print("bench_gateway: --only %r matches no case (they read \"DIR ALGO SIZE\", "
                  "as \"out aes-gcm-128 64\")" % a.only, file=sys.stderr)
            return 2

    if a.pcaps_only:
        gen_pcaps(wd, cases, a.flows, max(a.workers or [1]))
        print("pcaps in %s" % wd)
        return 0
    t_begin = time.monotonic()
    mach = machine()
    a.huge, huge_note = hugepages_setup(a.no_huge, HUGE_WANT, HUGE_NEED)
    if a.huge != "hugepages" and not a.no_huge:
        print("bench-gateway: no hugepages (%s); both gateways run with --no-huge" % huge_note,
              file=sys.stderr)
    elif huge_note:
        print("bench-gateway: hugepages: %s" % huge_note, file=sys.stderr)
    if a.engines:
        return run_engines(a, cases, wd, outdir, mach, huge_note, t_begin)
    if a.workers:
        return run_scaling(a, cases, wd, outdir, mach, huge_note, t_begin)
    return run_all(a, cases, wd, outdir, mach, huge_note, t_begin)


def write_results(outdir, name, doc, png, draw):
    """@doc as JSON @name in @outdir; unless quick, @draw(path) the plot
    @png beside it (skipped, saying so, without matplotlib)."""
    with open(os.path.join(outdir, name), "w") as f:
        json.dump(doc, f, indent=1)
    if not doc["quick"]:
        try:
            draw(os.path.join(outdir, png))
        except ImportError:
            print("bench-gateway: no matplotlib; %s not written" % png, file=sys.stderr)
    print("\nwrote %s (%.0f s)" % (os.path.join(outdir, name), doc["elapsed_s"]))


def run_scaling(a, cases, wd, outdir, mach, huge_note, t_begin):
    """espd and ipsec-secgw with 1, 2, ... workers (--workers): per case and
    worker count, alternating rounds, Mpps (wall clock) of each, the ratio
    per round and its median, and each gateway's scaling: Mpps over the
    worker count times its own one-worker Mpps (1.0 = linear)."""
    nq = max(a.workers)
    if a.shared_sa:
        # One outbound SA for every queue; an inbound SA reaches one queue
        # (RSS hashes a tunnel's outer addresses), so inbound is left out.
        cases = [c for c in cases if c[0] == "out"]
    ncpu = len(os.sched_getaffinity(0))
    if nq + 1 > ncpu:
        print("bench-gateway: %d workers and lcore 0 on %d CPUs: they share cores, so the "
              "rates above %d workers say nothing about scaling" % (nq, ncpu, ncpu - 1),
              file=sys.stderr)
    gen_pcaps(wd, cases, a.flows, nq)
    r = Runner(a, wd)
    hz = tsc_hz()
    verified = {}
    bad = 0
    # Every worker count is checked: a frame lost or sent under another
    # queue's SA fails the run, not only the numbers.
    for direction, algo, sizes in cases:
        for w in a.workers:
            if a.quick and w == 1:
                continue
            for app in ("espd", "secgw"):
                why = r.verify(app, direction, algo, sizes[0], workers=w)
                verified["%s %s %s w%d" % (app, direction, algo, w)] = why or (
                    "ok (%s)" % r.verify_note if r.verify_note else "ok")
                if why:
                    bad += 1
                    print("bench-gateway: VERIFY %s %s %s %d workers: %s"
                          % (app, direction, algo, w, why), file=sys.stderr)
    print("Memory: %s. Each worker polls its own RX queue: %d flows in %d frames, %s. "
          "%d rounds of %.1f s after %.1f s warm-up, espd and ipsec-secgw "
          "alternating.\nMpps: median of the rounds (wall clock); ratio: espd/secgw per "
          "round, median; scale: Mpps / (workers x the same gateway's one-worker Mpps); "
          "cyc/p: the workers' CPU time x TSC per packet." % (
              "2 MB hugepages" if a.huge == "hugepages" else "--no-huge -m 1024",
              a.flows, frames_of(a.flows),
              ("all of them under one static SA (--shared-sa)" if a.shared_sa
               else "its own static SA") + ("; espd with `set out-sa shared`"
                                            if a.out_sa == "shared" else ""),
              a.rounds, a.window, a.warmup))
    hdr = "%-4s %-12s %5s %3s | %7s %5s %6s | %7s %5s %6s | %5s | %s" % (
        "dir", "algorithm", "size", "w", "espd", "scale", "cyc/p", "secgw", "scale", "cyc/p",
        "ratio", "ratio per round")
    print(hdr)
    print("-" * len(hdr))
    results = []
    for direction, algo, sizes in cases:
        for size in sizes:
            one = {}
            for w in a.workers:
                runs = {"espd": [], "secgw": []}
                for rnd in range(a.rounds):
                    for app in (("espd", "secgw") if rnd % 2 == 0 else ("secgw", "espd")):
                        res = r.run_one(app, direction, algo, size, workers=w)
                        runs[app].append(res)
                        if not res["ok"]:
                            bad += 1
                            print("bench-gateway: %s %s %s %s %d workers: %s" % (
                                app, direction, algo, size, w, res.get("error", "?")),
                                file=sys.stderr)
                row = {"dir": direction, "algo": algo, "size": size, "workers": w,
                       "mean_size": mean_size(size), "runs": runs}
                for app in ("espd", "secgw"):
                    ok = [x for x in runs[app] if x["ok"]]
                    row[app] = summary([x["mpps"] for x in ok])
                    pc = summary([x.get("mpps_cpu") for x in ok])["median"]
                    row[app + "_cycles_per_pkt"] = (None if pc is None or hz is None
                                                    else hz / (pc * 1e6))
                    m = row[app]["median"]
                    if w == 1:
                        one[app] = m
                    row[app + "_scale"] = (None if m is None or not one.get(app)
                                           else m / (w * one[app]))
                ratios = [e["mpps"] / s["mpps"] if e["ok"] and s["ok"] and s["mpps"] > 0
                          else None for e, s in zip(runs["espd"], runs["secgw"])]
                row["ratio_per_round"] = ratios
                row["ratio"] = summary(ratios)
                results.append(row)
                print("%-4s %-12s %5s %3d | %7s %5s %6s | %7s %5s %6s | %5s | %s" % (
                    direction, SHORT[algo], size, w, fmt(row["espd"]["median"]),
                    fmt(row["espd_scale"]), fmt(row["espd_cycles_per_pkt"], "%.0f"),
                    fmt(row["secgw"]["median"]), fmt(row["secgw_scale"]),
                    fmt(row["secgw_cycles_per_pkt"], "%.0f"), fmt(row["ratio"]["median"]),
                    " ".join(fmt(x) for x in ratios)))
                sys.stdout.flush()
    mach["loadavg_end"] = os.getloadavg()
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "quick": a.quick, "rounds": a.rounds, "warmup_s": a.warmup, "window_s": a.window,
           "workers": a.workers, "cpus": ncpu, "machine": mach,
           "frames_per_queue": frames_of(a.flows), "flows_per_queue": a.flows,
           "memory": a.huge, "memory_note": huge_note,
           "sa": ("one static outbound SA for every queue (--shared-sa)" if a.shared_sa
                  else "one static SA per queue and direction") +
                 "; ipsec-secgw the same SAs, lcore q + 1 polling queue q of both ports",
           "shared_sa": a.shared_sa, "out_sa": a.out_sa,
           "verified": verified, "results": results,
           "elapsed_s": time.monotonic() - t_begin}
    tag = ("-shared" if a.shared_sa else "") + ("-any" if a.out_sa == "shared" else "")
    write_results(outdir, "scaling-%s%s%s.json" % (date, tag, "-quick" if a.quick else ""),
                  doc, "scaling%s.png" % tag, lambda path: plot_scaling(results, path, mach))
    return 1 if bad else 0


def plot_scaling(results, path, mach):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = []
    for r in results:
        c = (r["dir"], r["algo"], r["size"])
        if c not in cases:
            cases.append(c)
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 4), squeeze=False)
    for ax, (d, al, size) in zip(axes[0], cases):
        rows = [r for r in results if (r["dir"], r["algo"], r["size"]) == (d, al, size)]
        xs = [r["workers"] for r in rows]
        for app, label, style in (("espd", "espd", "o-"), ("secgw", "ipsec-secgw", "s-")):
            ax.plot(xs, [r[app]["median"] or 0 for r in rows], style, label=label)
        one = rows[0]["espd"]["median"] if rows[0]["workers"] == 1 else None
        if one:
            ax.plot(xs, [w * one for w in xs], ":", color="C0", label="espd, linear")
        ax.set_title("%sbound %s %s B" % (d, SHORT[al], size), fontsize=10)
        ax.set_xlabel("workers")
        ax.set_ylabel("Mpps")
        ax.set_xticks(xs)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(mach.get("Model name", ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


ENGINE_LACKS = {"openssl": ("chacha20-poly1305",)}  # DPDK 22.11's crypto_openssl


def run_engines(a, cases, wd, outdir, mach, huge_note, t_begin):
    """espd against itself, one crypto engine against another: the same
    pcaps, SA and harness, the engines in turn (rotated each round), Mpps
    and worker cycles per packet for each, and each engine's ratio to the
    first one per round, then its median."""
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    for e in engines:
        if "@" in e:
            print("%s: engine %s of the espd at %s" % (e, e.split("@")[0], e.split("@", 1)[1]))
    gen_pcaps(wd, cases, a.flows)
    r = Runner(a, wd)
    hz = tsc_hz()
    verified = {}
    if not a.quick:
        for direction, algo, sizes in cases:
            for eng in engines:
                if algo in ENGINE_LACKS.get(eng.split("@")[0], ()):
                    continue
                why = r.verify("espd", direction, algo, sizes[0], engine=eng)
                verified["%s %s %s" % (eng, direction, algo)] = why or "ok"
                if why:
                    print("bench-gateway: VERIFY %s %s %s: %s" % (eng, direction, algo, why),
                          file=sys.stderr)
    hdr = "%-4s %-12s %5s | " % ("dir", "algorithm", "size") + " | ".join(
        "%-9s %6s %6s %5s" % (e[:9], "Mpps", "cyc/p", "x" + engines[0][:4]) for e in engines)
    print("Memory: %s. %d flows in %d frames per pcap, one static SA, one worker. "
          "%d rounds of %.1f s after %.1f s warm-up, engines rotated each round.\n"
          "Mpps: median of the rounds (wall clock); cyc/p: worker cycles per packet (its CPU "
          "time x TSC, median); x%s: Mpps / %s's in the same round, median." % (
              "2 MB hugepages" if a.huge == "hugepages" else "--no-huge -m 1024",
              a.flows, frames_of(a.flows), a.rounds, a.window, a.warmup,
              engines[0][:4], engines[0]))
    print(hdr)
    print("-" * len(hdr))
    results = []
    bad = 0
    for direction, algo, sizes in cases:
        for size in sizes:
            runs = {e: [] for e in engines}
            for rnd in range(a.rounds):
                k = rnd % len(engines)
                for eng in engines[k:] + engines[:k]:
                    if algo in ENGINE_LACKS.get(eng.split("@")[0], ()):
                        runs[eng].append({"ok": False, "error": "the PMD lacks it"})
                        continue
                    res = r.run_one("espd", direction, algo, size, engine=eng)
                    runs[eng].append(res)
                    if not res["ok"]:
                        bad += 1
                        print("bench-gateway: %s %s %s %s: %s" % (eng, direction, algo, size,
                                                                 res.get("error", "?")),
                              file=sys.stderr)
            row = {"dir": direction, "algo": algo, "size": size,
                   "mean_size": mean_size(size), "runs": runs, "engines": {}}
            base = runs[engines[0]]
            for eng in engines:
                ok = [x for x in runs[eng] if x["ok"]]
                pc = summary([x.get("mpps_cpu") for x in ok])
                ratios = [x["mpps"] / b["mpps"] for x, b in zip(runs[eng], base)
                          if x["ok"] and b["ok"] and b["mpps"] > 0]
                row["engines"][eng] = {
                    "mpps": summary([x.get("mpps") for x in ok]),
                    "mpps_per_cpu": pc,
                    "cycles_per_pkt": (None if pc["median"] is None or hz is None
                                       else hz / (pc["median"] * 1e6)),
                    "ratio_to_first": summary(ratios),
                    "cpu_share": summary([x.get("cpu_share") for x in ok]),
                }
            results.append(row)
            cells = []
            for eng in engines:
                e = row["engines"][eng]
                cells.append("%-9s %6s %6s %5s" % ("", fmt(e["mpps"]["median"]),
                                                   fmt(e["cycles_per_pkt"], "%.0f"),
                                                   fmt(e["ratio_to_first"]["median"])))
            print("%-4s %-12s %5s | " % (direction, SHORT[algo], size) + " | ".join(cells))
            sys.stdout.flush()
    mach["loadavg_end"] = os.getloadavg()
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "engines": engines, "quick": a.quick, "rounds": a.rounds,
           "warmup_s": a.warmup, "window_s": a.window, "machine": mach,
           "frames_per_pcap": frames_of(a.flows), "flows": a.flows, "memory": a.huge,
           "memory_note": huge_note,
           "note": "cryptodev engine: the worker submits and collects once per poll "
                   "round (dataplane/esp_async.c); ENGINE@BINARY runs another espd build; "
                   "the software PMDs run on the worker's own core, so their cycles are "
                   "inside cyc/p",
           "verified": verified, "results": results,
           "elapsed_s": time.monotonic() - t_begin}
    write_results(outdir, "engines-%s%s.json" % (date, "-quick" if a.quick else ""), doc,
                  "engines.png", lambda path: plot_engines(results, engines, path))
    return 1 if bad else 0


def plot_engines(results, engines, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(d, al) for d, al, _ in {(r["dir"], r["algo"], 0) for r in results}]
    groups.sort()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 4), squeeze=False)
    for ax, (d, al) in zip(axes[0], groups):
        rows = [r for r in results if r["dir"] == d and r["algo"] == al]
        xs = [str(r["size"]) for r in rows]
        w = 0.8 / len(engines)
        for i, eng in enumerate(engines):
            ys = [r["engines"][eng]["mpps"]["median"] or 0 for r in rows]
            ax.bar([j + i * w for j in range(len(xs))], ys, w, label=eng)
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(xs))])
        ax.set_xticklabels(xs)
        ax.set_title("%s %s" % (d, SHORT[al]))
        ax.set_xlabel("inner size (B)")
        ax.set_ylabel("Mpps (one worker)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def floor_cycles(row, runs, hz):
    """--floor: the harness's cycles a packet (testpmd io forwarding, per
    worker CPU-second), the ceiling on espd/secgw it leaves with the raw
    crypto, and espd's own cycles: what is neither harness nor crypto."""
    fc = summary([x.get("mpps_cpu") for x in runs if x["ok"]])["median"]
    row["floor_mpps"] = summary([x.get("mpps") for x in runs if x["ok"]])
    row["floor_cycles_per_pkt"] = f = None if (fc is None or hz is None) else hz / (fc * 1e6)
    raw, sc, ec = row["raw_cycles_per_op"], row["secgw_cycles_per_pkt"], row["espd_cycles_per_pkt"]
    ok = None not in (f, raw)
    row["ceiling"] = sc / (f + raw) if ok and sc is not None else None
    row["espd_own_cycles"] = ec - f - raw if ok and ec is not None else None
    row["secgw_own_cycles"] = sc - f - raw if ok and sc is not None else None


def run_all(a, cases, wd, outdir, mach, huge_note, t_begin):
    gen_pcaps(wd, cases, a.flows)
    raw = raw_crypto(a.build, a.quick, cases)
    r = Runner(a, wd)
    verified = {}
    if not a.quick:
        for direction, algo, sizes in cases:
            for app in ("espd", "secgw"):
                why = r.verify(app, direction, algo, sizes[0])
                verified["%s %s %s" % (app, direction, algo)] = why or "ok"
                if why:
                    print("bench-gateway: VERIFY %s %s %s: %s" % (app, direction, algo, why),
                          file=sys.stderr)
    results = []
    hz = tsc_hz()
    for direction, algo, sizes in cases:
        for size in sizes:
            apps = ["espd", "secgw"] + (["floor"] if a.floor else [])
            runs = {x: [] for x in apps}
            for rnd in range(a.rounds):
                k = rnd % len(apps)  # each goes first in turn
                order = apps[k:] + apps[:k]
                for app in order:
                    res = r.run_one(app, direction, algo, size)
                    runs[app].append(res)
                    if not res["ok"]:
                        print("bench-gateway: %s %s %s %s: %s" % (app, direction, algo, size,
                                                                 res.get("error", "?")),
                              file=sys.stderr)
            row = {"dir": direction, "algo": algo, "size": size,
                   "mean_size": mean_size(size), "runs": runs}
            for app in ("espd", "secgw"):
                row[app] = summary([x.get("mpps") for x in runs[app] if x["ok"]])
            # Ratio per round (A and B taken moments apart), then the median.
            ratios = [e["mpps"] / s["mpps"] if e["ok"] and s["ok"] and s["mpps"] > 0 else None
                      for e, s in zip(runs["espd"], runs["secgw"])]
            row["ratio_per_round"] = ratios
            row["ratio"] = summary(ratios)
            for app in ("espd", "secgw"):
                row[app + "_per_cpu"] = summary([x.get("mpps_cpu") for x in runs[app] if x["ok"]])
                row[app + "_cpu_share"] = summary([x.get("cpu_share") for x in runs[app]
                                                   if x["ok"]])
            row["ratio_cpu"] = summary([e["mpps_cpu"] / s["mpps_cpu"]
                                        for e, s in zip(runs["espd"], runs["secgw"])
                                        if e["ok"] and s["ok"] and e.get("mpps_cpu")
                                        and s.get("mpps_cpu")])
            row["crypto_limit"] = raw_limit(raw, algo, size)
            em = row["espd"]["median"]
            row["espd_gbps"] = None if em is None else em * 1e6 * mean_size(size) * 8 / 1e9
            # Cycles per packet from the worker's CPU time (not the wall
            # clock), so time the core spent on other tenants is left out.
            ec, sc = row["espd_per_cpu"]["median"], row["secgw_per_cpu"]["median"]
            row["espd_cycles_per_pkt"] = None if (ec is None or hz is None) else hz / (ec * 1e6)
            row["secgw_cycles_per_pkt"] = None if (sc is None or hz is None) else hz / (sc * 1e6)
            lim = row["crypto_limit"]
            row["raw_cycles_per_op"] = None if (lim is None or hz is None) else hz / (lim * 1e6)
            row["non_crypto_cycles"] = (None if None in (row["espd_cycles_per_pkt"],
                                                         row["raw_cycles_per_op"])
                                        else row["espd_cycles_per_pkt"] - row["raw_cycles_per_op"])
            row["frac_of_limit"] = None if (ec is None or not lim) else ec / lim
            if a.floor:
                floor_cycles(row, runs["floor"], hz)
            results.append(row)
            print_row(row, a, header=len(results) == 1)
            sys.stdout.flush()

    mach["loadavg_end"] = os.getloadavg()
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "quick": a.quick, "rounds": a.rounds, "warmup_s": a.warmup, "window_s": a.window,
           "machine": mach, "frames_per_pcap": frames_of(a.flows), "flows": a.flows,
           "memory": a.huge, "memory_note": huge_note,
           "eal_memory": ("--huge-unlink (2 MB pages, no -m)" if a.huge == "hugepages"
                          else "--no-huge -m 1024"),
           "sa": "one static SA per direction (state add + policy add, no PFP), "
                 "ipsec-secgw the same SA",
           "imix": "7x64, 4x576, 1x1420 (inner IPv4 bytes)",
           "raw_crypto_mops": raw, "verified": verified, "results": results,
           "elapsed_s": time.monotonic() - t_begin}
    # The default method (hugepages, 1024 flows) has the plain name.
    suffix = "%s%s" % ("" if a.flows == DEFAULT_FLOWS else "-f%d" % a.flows,
                       "" if a.huge == "hugepages" else "-nohuge")
    what = "%s, %d flows in %d frames" % ("hugepages" if a.huge == "hugepages" else "--no-huge",
                                          a.flows, frames_of(a.flows))
    write_results(outdir, "gateway-%s%s%s.json" % (date, suffix, "-quick" if a.quick else ""),
                  doc, "gateway%s.png" % suffix, lambda path: plot(results, path, what))
    bad = [x for row in results for app in row["runs"] for x in row["runs"][app]
           if not x["ok"]]
    return 1 if bad else 0


HDR = ("%-4s %-12s %5s | %6s %-11s | %6s %-11s | %5s | %5s %-11s | %6s %6s %5s | %5s %4s | %s"
       % ("dir", "algorithm", "size", "espd", "(min-max)", "secgw", "(min-max)", "ratio",
          "ratio", "cpu (min-max)", "Gbps", "cyc/p", "raw", "%lim", "cpu%",
          "ratio per round"))


def print_row(r, a, header=False):
    if header:
        print("Memory: %s. %d flows (distinct UDP 5-tuples) in %d frames per pcap, one static "
              "SA. %d rounds of %.1f s after %.1f s warm-up." % (
                  "2 MB hugepages" if a.huge == "hugepages" else "--no-huge -m 1024",
                  a.flows, frames_of(a.flows), a.rounds, a.window, a.warmup))
        print("Mpps: medians of the rounds (wall clock), one worker core each. ratio = espd/secgw "
              "per round, wall clock, its median here and every round at the end; ratio cpu = "
              "the same per worker CPU-second (corrects for other tenants on the core).\n"
              "Gbps = espd, inner bytes; cyc/p = espd worker "
              "cycles per packet (CPU time x TSC); raw = raw IPsec-MB cycles per op; %lim = "
              "espd per CPU-second / raw rate; cpu% = espd worker's share of the window.")
        print(HDR)
        print("-" * len(HDR))
    e, s, q, qc = r["espd"], r["secgw"], r["ratio"], r["ratio_cpu"]

    def mm(x):
        return "(%s-%s)" % (fmt(x["min"]), fmt(x["max"]))
    print("%-4s %-12s %5s | %6s %-11s | %6s %-11s | %5s | %5s %-11s | %6s %6s %5s | %5s %4s | %s"
          % (r["dir"], SHORT[r["algo"]], r["size"], fmt(e["median"]), mm(e), fmt(s["median"]),
             mm(s), fmt(q["median"]), fmt(qc["median"]), mm(qc),
             fmt(r["espd_gbps"]), fmt(r["espd_cycles_per_pkt"], "%.0f"),
             fmt(r["raw_cycles_per_op"], "%.0f"),
             fmt(None if r["frac_of_limit"] is None else 100 * r["frac_of_limit"], "%.0f%%"),
             fmt(None if r["espd_cpu_share"]["median"] is None
                 else 100 * r["espd_cpu_share"]["median"], "%.0f"),
             " ".join(fmt(x) for x in r["ratio_per_round"])))
    if "ceiling" in r:
        print("%-4s %-12s %5s | floor %s cyc/p (testpmd io, %s Mpps): ceiling espd/secgw %s; "
              "own cycles espd %s, secgw %s" % (
                  "", "", "", fmt(r["floor_cycles_per_pkt"], "%.0f"),
                  fmt(r["floor_mpps"]["median"]), fmt(r["ceiling"]),
                  fmt(r["espd_own_cycles"], "%.0f"), fmt(r["secgw_own_cycles"], "%.0f")))


if __name__ == "__main__":
    sys.exit(main())
