#!/usr/bin/python3
"""Interop of espd with scapy's ESP, both directions, every algorithm x
mode x ESN x NAT-T x inner family x outer family, in one espd run (the
cases: tests/espdtest/interop.py).

    PYTHONPATH=tests PYTHONPATH=tests /usr/bin/python3 tests/interop/test_scapy.py [BUILD_DIR]

Prints a line per case, then "scapy interop: N passed, M failed".
"""

import sys

from espdtest.interop import interop


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    passed, failed, _ = interop(build)
    print("scapy interop: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
