#!/usr/bin/python3
"""The interop tests again with the crypto on a DPDK cryptodev
(espd --crypto-dev): the scapy matrix, the negative cases and the
hostile-input catalogue on crypto_aesni_mb and crypto_openssl, the scapy
matrix on crypto_scheduler over two aesni_mb devices, the worker's
asynchronous pipeline on each (in order, nothing lost with a device queue
smaller than a burst), and on crypto_null
(which has no HMAC, so no ESP algorithm) and crypto_openssl (no
ChaCha20-Poly1305 in DPDK 22.11) the clear error at `state add`.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_cdev.py [BUILD_DIR]

Each inner test runs as its own process with ESPD_CRYPTO_VDEVS and
ESPD_CRYPTO_DEV set (tests/espdtest/run.py). A PMD that is not installed
is a printed SKIP. Prints "cdev interop: N passed, M failed".
"""

import glob
import os
import subprocess
import sys

from espdtest.interop import CONF_HEAD
from espdtest.run import Espd

HERE = os.path.dirname(os.path.abspath(__file__))
PMD_DIRS = glob.glob("/usr/lib/*/dpdk/pmds-*")

SCHED = ("crypto_aesni_mb_s0;crypto_aesni_mb_s1;"
         "crypto_scheduler_s0,worker=crypto_aesni_mb_s0,"
         "worker=crypto_aesni_mb_s1,mode=round-robin")

# label, PMD library, EAL vdevs, device name, algorithms it lacks, tests
DEVICES = [
    ("aesni_mb", "librte_crypto_ipsec_mb", "crypto_aesni_mb0", "crypto_aesni_mb0",
     "", ["scapy", "negative", "catalogue"]),
    ("openssl", "librte_crypto_openssl", "crypto_openssl0", "crypto_openssl0",
     "chacha20-poly1305", ["scapy", "negative", "catalogue"]),
    ("scheduler", "librte_crypto_scheduler", SCHED, "crypto_scheduler_s0",
     "", ["scapy"]),
]

GCM = "aead 'rfc4106(gcm(aes))' 0x%s 128" % ("11" * 20)
CHACHA = "aead 'rfc7539esp(chacha20,poly1305)' 0x%s 128" % ("22" * 36)
CBC = "enc 'cbc(aes)' 0x%s auth-trunc 'hmac(sha256)' 0x%s 128" % ("33" * 16, "44" * 32)


def have_pmd(lib):
    return any(glob.glob(os.path.join(d, lib + ".so*")) for d in PMD_DIRS)


def env_for(vdevs, dev, skip=""):
    env = dict(os.environ)
    env["ESPD_CRYPTO_VDEVS"] = vdevs
    env["ESPD_CRYPTO_DEV"] = dev
    env["ESPD_SKIP_ALGOS"] = skip
    env["PYTHONPATH"] = os.path.join(HERE, "..")
    return env


def one_sa(build, vdevs, dev, algo):
    """espd with one outbound SA of @algo on @dev: (rc, stdout, stderr)."""
    old = dict(os.environ)
    os.environ.update(env_for(vdevs, dev))
    try:
        r = Espd(build=build, timeout=30).run(
            CONF_HEAD + "state add src 172.16.1.5 dst 172.16.2.5 proto esp "
            "spi 0x100 dir out %s\n" % algo, [[], []])
    finally:
        os.environ.clear()
        os.environ.update(old)
    return r.rc, r.stdout or "", r.stderr or ""


KEY = bytes(range(1, 21))   # AES-128 key + 4-byte salt


def pipeline(build, vdevs, dev, depth, n=600):
    """One worker, its crypto on @dev through the asynchronous pipeline,
    with a device queue of @depth descriptors: @n plain packets of one
    flow out through SA 0x7777 and @n ESP packets in through SA 0x8888,
    in one run. Returns a list of what went wrong (empty: all well).

    Every packet must come out, in order: outbound with sequence numbers
    1..n (scapy decrypts each and compares it to what went in), inbound
    decrypted in the order sent. A queue smaller than a burst makes the
    device refuse part of most submits (enq_busy): those packets wait in
    the worker's ring and none is lost (no drop counter moves)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.ipsec import ESP, SecurityAssociation
    from espdtest.interop import P0_MAC, P1_MAC, HOST_GW_MAC, PEER_GW_MAC

    k = "0x" + KEY.hex()
    conf = CONF_HEAD + (
        "state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x7777 dir out reqid 77 "
        "mode tunnel aead 'rfc4106(gcm(aes))' %s 128\n"
        "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x8888 dir in reqid 78 "
        "mode tunnel replay-window 128 aead 'rfc4106(gcm(aes))' %s 128\n"
        "policy add src 10.1.77.0/24 dst 10.2.77.0/24 dir out "
        "tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 77 mode tunnel\n"
        "policy add src 10.2.77.0/24 dst 10.1.77.0/24 dir fwd "
        "tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 78 mode tunnel\n") % (k, k)
    out_plain = [IP(src="10.1.77.1", dst="10.2.77.9", ttl=64) /
                 UDP(sport=20000, dport=5001) / (b"o%05d" % i + b"x" * (i % 300))
                 for i in range(n)]
    in_plain = [IP(src="10.2.77.9", dst="10.1.77.1", ttl=64) /
                UDP(sport=5001, dport=20000) / (b"i%05d" % i + b"y" * (i % 300))
                for i in range(n)]
    sa_in = SecurityAssociation(ESP, spi=0x8888, crypt_algo="AES-GCM", crypt_key=KEY,
                                crypt_icv_size=16,
                                tunnel_header=IP(src="172.16.2.5", dst="172.16.1.5"))
    sa_out = SecurityAssociation(ESP, spi=0x7777, crypt_algo="AES-GCM", crypt_key=KEY,
                                 crypt_icv_size=16,
                                 tunnel_header=IP(src="172.16.1.5", dst="172.16.2.5"))
    rx0 = [Ether(src=HOST_GW_MAC, dst=P0_MAC) / p for p in out_plain]
    rx1 = [Ether(src=PEER_GW_MAC, dst=P1_MAC) / sa_in.encrypt(p) for p in in_plain]

    old = dict(os.environ)
    os.environ.update(env_for(vdevs, dev))
    try:
        run = Espd(build=build, timeout=60).run(
            conf, [rx0, rx1], extra_args=["--crypto-dev-depth", str(depth)])
    finally:
        os.environ.clear()
        os.environ.update(old)
    if run.stats is None:
        return ["espd %s, no stats: %s" % (run.describe_rc(), (run.stderr or "")[-400:])]
    why = []
    seqs, got_out = [], []
    for f in run.out[1]:
        if ESP in f and f[ESP].spi == 0x7777:
            seqs.append(f[ESP].seq)
            try:
                got_out.append(bytes(sa_out.decrypt(f[IP])[UDP].payload))
            except Exception as e:  # a wrong ICV: say so, go on
                got_out.append(repr(e).encode())
    if seqs != list(range(1, n + 1)):
        why.append("outbound: %d ESP packets, sequence numbers %s..." % (len(seqs), seqs[:10]))
    want_out = [bytes(p[UDP].payload) for p in out_plain]
    if got_out != want_out:
        bad = [i for i, (a, b) in enumerate(zip(got_out, want_out)) if a != b]
        why.append("outbound: %d of %d decrypt to what went in, first bad %s" % (
            len(got_out) - len(bad), n, bad[:5]))
    got_in = [bytes(f[UDP].payload) for f in run.out[0] if UDP in f and f[IP].src == "10.2.77.9"]
    if got_in != [bytes(p[UDP].payload) for p in in_plain]:
        why.append("inbound: %d packets out of %d, in order: %s" % (
            len(got_in), n, [g[:6] for g in got_in[:5]]))
    drops = run.nonzero_drops()
    if drops:
        why.append("drop counters: %s" % drops)
    cr = run.stats.get("crypto", {})
    if cr.get("async_ops", 0) < 2 * n:
        why.append("asynchronous ops %s, want >= %d: the worker did not submit" % (
            cr.get("async_ops"), 2 * n))
    if cr.get("pending") != 0:
        why.append("%s packets still pending in the device at exit" % cr.get("pending"))
    if depth < 64 and cr.get("enq_busy", 0) == 0:
        why.append("a %d-descriptor queue was never full (enq_busy 0)" % depth)
    return why


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("PASS %s" % what)
        else:
            failed += 1
            print("FAIL %s" % what)
            if detail:
                print("     " + detail.strip().replace("\n", "\n     "))

    ran = 0
    for label, lib, vdevs, dev, skip, tests in DEVICES:
        if not have_pmd(lib):
            print("SKIP %s: DPDK PMD %s is not installed" % (label, lib))
            continue
        ran += 1
        # The engine really is the device: espd says so at start.
        rc, so, se = one_sa(build, vdevs, dev, GCM)
        check(rc == 0 and ("crypto cryptodev %s" % dev) in so,
              "%s: espd runs on cryptodev %s" % (label, dev), so + se[-600:])
        # The default pool has room for the worker's 1024 pending packets.
        check(rc == 0 and "%d mbufs" % (16383 + 1024) in so,
              "%s: the default mbuf pool counts the pending ring" % label, so)
        # The worker's pipeline: submit, collect later, in order, with
        # a device queue that is full most of the time and one that is not.
        for depth in (16, 2048):
            why = pipeline(build, vdevs, dev, depth)
            check(not why, "%s: asynchronous pipeline, queue depth %d: 600 out and "
                  "600 in, in order, none lost" % (label, depth), "\n".join(why))
        for t in tests:
            p = subprocess.run([sys.executable, os.path.join(HERE, "test_%s.py" % t), build],
                               env=env_for(vdevs, dev, skip), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
            lines = p.stdout.strip().splitlines()
            tail = lines[-1] if lines else ""
            bad = [ln for ln in lines if ln.startswith("FAIL")]
            check(p.returncode == 0 and not bad, "%s: %s (%s)" % (label, t, tail),
                  "\n".join(bad[:20]) or "\n".join(lines[-20:]))

    # What a device lacks is a clear error at `state add`, naming it.
    if have_pmd("librte_crypto_openssl"):
        rc, so, se = one_sa(build, "crypto_openssl0", "crypto_openssl0", CHACHA)
        check(rc != 0 and "crypto device crypto_openssl0 does not offer" in se,
              "openssl: state add of ChaCha20-Poly1305 is refused", se[-600:])
    if have_pmd("librte_crypto_null"):
        for name, algo in (("AES-GCM", GCM), ("AES-CBC+HMAC", CBC)):
            rc, so, se = one_sa(build, "crypto_null0", "crypto_null0", algo)
            check(rc != 0 and "crypto device crypto_null0 does not offer" in se,
                  "null: state add of %s is refused" % name, se[-600:])
    else:
        print("SKIP null: DPDK PMD librte_crypto_null is not installed")
    # A device that is not there stops espd at start, with its name.
    rc, so, se = one_sa(build, "", "crypto_nosuch0", GCM)
    check(rc != 0 and "crypto_nosuch0: no such cryptodev" in se,
          "a missing device is a clear start-up error", se[-600:])

    print("cdev interop: %d passed, %d failed" % (passed, failed))
    if not failed and ran == 0:
        print("SKIP: no crypto PMD of %s is installed: nothing ran on a cryptodev"
              % ", ".join(d[1] for d in DEVICES))
        return 77
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
