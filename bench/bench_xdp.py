#!/usr/bin/python3
"""espd's unprotected port through a veth: net_af_packet against
net_af_xdp, without and with xdp-steer (bench/RESULTS.md "AF_XDP ports").

One espd (inbound, one AES-GCM-128 SA, one worker) whose unprotected port
is the veth "wan" in its own namespace and whose protected port is
net_null. A dpdk-testpmd in a second namespace loops a pcap of ESP frames
(net_pcap infinite_rx, io forwarding) into the other end of the veth
through net_af_packet, as fast as it can. Each round runs every
configuration in turn; rates are espd's decrypted packets per second
(its inbound SA's packet counter over a fixed window after a warm-up),
and the ratios to net_af_packet are taken per round, then their median.

    PYTHONPATH=tests:bench /usr/bin/python3 bench/bench_xdp.py BUILD_DIR
        [--rounds R] [--warmup S] [--window S] [--sizes 64,1420] [--out FILE]

Configurations:
  af_packet           --vdev net_af_packet0,iface=wan (the kernel also gets
                      every frame, and drops it: wan has no address)
  af_xdp              --vdev net_af_xdp0,iface=wan, no xdp-steer: libxdp's
                      default program sends every frame to espd
  af_xdp+steer        the same with `xdp-steer`: espd's program (native mode)
  af_xdp+steer/skb    the same in generic (skb) mode (ESPD_XDP_MODE=generic)

veth has no AF_XDP zero-copy: every net_af_xdp case runs in copy mode
(the kernel copies each frame into the UMEM), native or generic.

Needs root, dpdk-testpmd (Debian package dpdk), scapy, and a host where
an XDP program can be loaded. Two cores: espd's worker on CPU 1, its
control lcore and testpmd (and so the kernel's veth receive path, which
runs in the sender's context) on CPU 0.
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from espdtest.run import stop_process
from espdtest.secgw import key

TAG = "xb%x" % os.getpid()
NS_GW, NS_GEN = TAG + "gw", TAG + "gen"
A_GW, B_GW, A_HOST, IN_SRC = "172.16.1.5", "172.16.2.5", "192.168.1.10", "192.168.115.20"
MAC_WAN, MAC_GEN, MAC_HOST = "02:00:00:00:02:01", "02:00:00:00:02:fe", "02:00:00:00:01:10"
SPI = 0x1069
NFRAMES = 1024

CONFIGS = [
    ("af_packet", "net_af_packet0,iface=wan", False, None),
    ("af_xdp", "net_af_xdp0,iface=wan", False, None),
    ("af_xdp+steer", "net_af_xdp0,iface=wan", True, "native"),
    ("af_xdp+steer/skb", "net_af_xdp0,iface=wan", True, "generic"),
]


def sh(*cmd, check=True):
    p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(map(str, cmd)), p.stdout))
    return p


def topo_up():
    for ns in (NS_GW, NS_GEN):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", NS_GW, "link", "add", "wan", "type", "veth", "peer", "name", "gen0",
       "netns", NS_GEN)
    sh("ip", "-n", NS_GW, "link", "set", "wan", "address", MAC_WAN, "up")
    sh("ip", "-n", NS_GEN, "link", "set", "gen0", "address", MAC_GEN, "up")


def topo_down():
    for ns in (NS_GW, NS_GEN):
        sh("ip", "netns", "del", ns, check=False)


def gen_pcap(path, size):
    from scapy.all import Ether, IP, UDP, Raw, wrpcap
    from scapy.layers.ipsec import ESP, SecurityAssociation

    sa = SecurityAssociation(ESP, spi=SPI, tunnel_header=IP(src=B_GW, dst=A_GW),
                             crypt_algo="AES-GCM", crypt_key=key(20, 2))
    frames = []
    for i in range(NFRAMES):
        p = IP(src=IN_SRC, dst=A_HOST, ttl=64, id=i) / \
            UDP(sport=10000 + i, dport=5001) / Raw(b"\x5a" * (size - 28))
        frames.append(Ether(src=MAC_GEN, dst=MAC_WAN) / sa.encrypt(p, seq_num=i + 1))
    wrpcap(path, frames)


def espd_conf(steer):
    return "\n".join([
        "port 0 role unprotected addr %s/24 mac %s%s" % (A_GW, MAC_WAN,
                                                          " xdp-steer" if steer else ""),
        "port 1 role protected   addr 192.168.1.1/24 mac 02:00:00:00:01:01",
        "neigh add %s lladdr %s port 1" % (A_HOST, MAC_HOST),
        "state add src %s dst %s proto esp spi 0x%x reqid 2 mode tunnel replay-window 0 "
        "aead 'rfc4106(gcm(aes))' 0x%s 128" % (B_GW, A_GW, SPI, key(20, 2).hex()),
        "policy add src 192.168.115.0/24 dst 192.168.1.0/24 dir fwd priority 100 "
        "tmpl src %s dst %s proto esp reqid 2 mode tunnel" % (B_GW, A_GW),
    ]) + "\n"


def sa_packets(espctl, sock):
    p = subprocess.run([espctl, "-s", sock, "-j", "stats"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, universal_newlines=True, timeout=10)
    d = json.loads(p.stdout)
    return sum(s["packets"] for s in d["sas"] if s["dir"] == "in"), d


def gen_tx():
    """Frames the generator has put on the veth so far."""
    return int(sh("ip", "netns", "exec", NS_GEN, "cat",
                  "/sys/class/net/gen0/statistics/tx_packets").stdout)


def run_case(a, wd, cfg, pcap):
    name, vdev, steer, mode = cfg
    conf = os.path.join(wd, "gw.conf")
    with open(conf, "w") as f:
        f.write(espd_conf(steer))
    sock = os.path.join(wd, "espd.sock")
    env = dict(os.environ)
    if mode:
        env["ESPD_XDP_MODE"] = mode
    log = open(os.path.join(wd, "espd-%s.log" % name.replace("/", "_")), "a")
    espd = subprocess.Popen(
        ["ip", "netns", "exec", NS_GW, os.path.join(a.build, "espd"), "--no-huge", "--no-pci",
         "--lcores", "0@0,1@1", "-m", "512", "--file-prefix", TAG + "e",
         "--log-level=lib.eal:error", "--vdev", vdev, "--vdev", "net_null0", "--",
         "-c", conf, "-s", sock], stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)
    gen = None
    try:
        espctl = os.path.join(a.build, "espctl")
        end = time.time() + 20
        while True:
            try:
                sa_packets(espctl, sock)
                break
            except (OSError, ValueError, subprocess.SubprocessError):
                if espd.poll() is not None or time.time() > end:
                    raise RuntimeError("espd (%s) did not come up; see %s" % (name, log.name))
                time.sleep(0.1)
        gen = subprocess.Popen(
            ["ip", "netns", "exec", NS_GEN, "dpdk-testpmd", "--no-huge", "--no-pci",
             "--lcores", "0@0,1@0", "-m", "512", "--file-prefix", TAG + "g",
             "--log-level=lib.eal:error",
             "--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap,
             "--vdev", "net_af_packet1,iface=gen0,qpairs=1", "--",
             "--forward-mode=io", "--auto-start", "--total-num-mbufs=4096"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        time.sleep(a.warmup)
        n0, _ = sa_packets(espctl, sock)
        g0, t0 = gen_tx(), time.time()
        time.sleep(a.window)
        n1, d = sa_packets(espctl, sock)
        g1, t1 = gen_tx(), time.time()
        drops = {k: v for k, v in d["global"].items() if v and k.startswith("Xfrm")}
        return (n1 - n0) / (t1 - t0), (g1 - g0) / (t1 - t0), drops
    finally:
        if gen is not None:
            stop_process(gen, 10)
        stop_process(espd, 20)
        log.close()
        for pfx in (TAG + "e", TAG + "g"):
            sh("rm", "-rf", "/var/run/dpdk/" + pfx, check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=4.0)
    ap.add_argument("--sizes", default="64,1420")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    sizes = [int(s) for s in a.sizes.split(",")]
    wd = tempfile.mkdtemp(prefix="espd-bench-xdp-")
    results, offers = {}, {}
    load0 = os.getloadavg()
    signal.signal(signal.SIGTERM, lambda *x: sys.exit(143))
    try:
        topo_up()
        for size in sizes:
            pcap = os.path.join(wd, "esp-%d.pcap" % size)
            gen_pcap(pcap, size)
            for r in range(a.rounds):
                for cfg in CONFIGS:
                    pps, offered, drops = run_case(a, wd, cfg, pcap)
                    results.setdefault(str(size), {}).setdefault(cfg[0], []).append(pps)
                    offers.setdefault(str(size), {}).setdefault(cfg[0], []).append(offered)
                    print("size %4d round %d %-18s %9.0f pps decrypted, %9.0f pps offered %s"
                          % (size, r, cfg[0], pps, offered, drops or ""), flush=True)
    finally:
        topo_down()
    out = {"date": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z",
           "rounds": a.rounds, "warmup_s": a.warmup, "window_s": a.window,
           "cpus": os.cpu_count(), "load_at_start": load0,
           "load_at_end": os.getloadavg(), "results": results,
           "offered": offers, "ratios": {}}
    print("\ninner size  config              median pps   Mbit/s inner  offered pps  "
          "ratio to af_packet (median of per-round ratios)")
    for size, per in results.items():
        base = per["af_packet"]
        for name, xs in per.items():
            ratios = [x / b if b else 0 for x, b in zip(xs, base)]
            med = statistics.median(xs)
            out["ratios"].setdefault(size, {})[name] = statistics.median(ratios)
            print("%10s  %-18s %10.0f  %12.0f  %11.0f  %.2f  (rounds: %s)" % (
                size, name, med, med * int(size) * 8 / 1e6,
                statistics.median(offers[size][name]), statistics.median(ratios),
                " ".join("%.0f" % x for x in xs)))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
