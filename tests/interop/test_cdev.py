#!/usr/bin/python3
"""The interop tests again with the crypto on a DPDK cryptodev
(espd --crypto-dev): the scapy matrix, the negative cases and the
hostile-input catalogue on crypto_aesni_mb and crypto_openssl, the scapy
matrix on crypto_scheduler over two aesni_mb devices, and on crypto_null
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

    for label, lib, vdevs, dev, skip, tests in DEVICES:
        if not have_pmd(lib):
            print("SKIP %s: DPDK PMD %s is not installed" % (label, lib))
            continue
        # The engine really is the device: espd says so at start.
        rc, so, se = one_sa(build, vdevs, dev, GCM)
        check(rc == 0 and ("crypto cryptodev %s" % dev) in so,
              "%s: espd runs on cryptodev %s" % (label, dev), so + se[-600:])
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
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
