#!/usr/bin/python3
"""Live espd with --crypto-dev on crypto_aesni_mb: the SA churn (adds and
deletes under traffic, so device sessions are freed after the RCU grace
period while packets flow) and make-before-break rekeys, as in
test_churn.py and test_rekey.py, each run as its own process with
ESPD_CRYPTO_VDEVS / ESPD_CRYPTO_DEV set (tests/espdtest/run.py). Root.
A missing PMD is a printed SKIP.

    PYTHONPATH=tests /usr/bin/python3 tests/ctl/test_cdev.py [BUILD_DIR]

Prints "cdev ctl: N passed, M failed".
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
    if not any(glob.glob(os.path.join(d, "librte_crypto_ipsec_mb.so*"))
               for d in glob.glob("/usr/lib/*/dpdk/pmds-*")):
        print("SKIP cdev ctl: DPDK PMD librte_crypto_ipsec_mb is not installed")
        print("cdev ctl: 0 passed, 0 failed")
        return 77
    env = dict(os.environ, ESPD_CRYPTO_VDEVS="crypto_aesni_mb0",
               ESPD_CRYPTO_DEV="crypto_aesni_mb0",
               PYTHONPATH=os.path.join(HERE, ".."))
    passed = failed = 0
    for t in ("churn", "rekey"):
        p = subprocess.run([sys.executable, os.path.join(HERE, "test_%s.py" % t), build],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        lines = p.stdout.strip().splitlines()
        bad = [ln for ln in lines if ln.startswith("FAIL")]
        if p.returncode == 0 and not bad:
            passed += 1
            print("PASS aesni_mb: %s (%s)" % (t, lines[-1] if lines else ""))
        else:
            failed += 1
            print("FAIL aesni_mb: %s" % t)
            for ln in (bad or lines[-20:]):
                print("     " + ln)
    print("cdev ctl: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
