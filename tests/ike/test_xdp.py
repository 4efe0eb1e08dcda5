#!/usr/bin/python3
"""IKE in the kernel beside an AF_XDP espd: gwA's unprotected port is
net_af_xdp with `xdp-steer` and no TAP, so its charon (kernel-espd) talks
IKE straight from gwA's own kernel interface, while the XDP program gives
espd only the ESP. gwB is the usual TAP gateway. The pair test's cases:

  flows     20 UDP flows from hostA at once: 20 ACQUIREs on gwA become 20
            CHILD_SAs through charon in gwA's kernel, every first datagram,
            held during IKE, arrives
  reverse   hostB answers on each flow over the same CHILD_SAs
  kernel    gwA's espd punted no IKE (IkePunted 0): the kernel kept it

Skips, with the reason, only where BPF cannot be loaded (as
tests/live/test_xdp.py).

    PYTHONPATH=tests /usr/bin/python3 tests/ike/test_xdp.py [BUILD_DIR]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_pair import Test  # noqa: E402
from espdtest.charon import run_with_charons  # noqa: E402
from espdtest.topo import Topo, live_main, default_build  # noqa: E402


def main():
    def body(r, build):
        build = build or default_build()
        with Topo(build=build, tap={"B": "tapB"}, xdp=("A",), v6=False) as t:
            T = Test(t, r, build)

            def kernel():
                c = T.A.counters()
                r.equal(c.get("IkePunted", 0), 0,
                        "kernel: gwA's espd punted no IKE (charon talked from the kernel)")
                r.check(c.get("XfrmInNoStates", 0) == 0 and c.get("AcquireSent", 0) >= 20,
                        "kernel: gwA's espd decrypted what came back, after %d ACQUIREs" %
                        c.get("AcquireSent", 0), c)
            run_with_charons(r, t, T, [T.flows, T.reverse, kernel])
    return live_main("ike-xdp", body)


if __name__ == "__main__":
    sys.exit(main())
