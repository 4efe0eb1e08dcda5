#!/usr/bin/python3
"""`set worker-idle adaptive` woken by RX queue interrupts, live: gwA on
net_tap ports (whose RX queues have interrupts; espdtest.topo `taps`),
gwB on net_af_packet (none), both adaptive, the pair key manager
answering ACQUIREs. One topology, several cases:

  modes    gwA's workers wait on their RX queues ("interrupt" in
           `stats`), gwB's nap ("nap")
  ping     echoes hostA -> hostB, v4 and v6, all answered; gwA's
           workers were woken by the packets, not by their timeout
  tcp      TCP both ways through the tunnel, every byte intact, while
           the workers go from waiting to polling and back
  switch   `set worker-idle poll` stops the sleeps; `adaptive` brings
           back the waits

    PYTHONPATH=tests /usr/bin/python3 tests/live/test_idle.py [BUILD_DIR]
"""

import sys
import time

from espdtest.topo import Topo, live_main, with_pairkm, SITE, ping, replies, tcp_transfer, \
    wait_for


def workers(g):
    return g.stats().get("workers", [])


def modes(g):
    return sorted({w["idle"] for w in workers(g)})


def sums(g):
    ws = workers(g)
    return sum(w["sleeps"] for w in ws), sum(w["rx_wakeups"] for w in ws)


class Test:
    def __init__(self, t, km, r):
        self.t, self.km, self.r = t, km, r
        self.A, self.B = t.gw["A"], t.gw["B"]

    def modes(self):
        r = self.r
        got = wait_for(lambda: modes(self.A) == ["interrupt"], 5)
        r.check(got, "modes: gwA's workers wait on their RX queues' interrupts",
                self.A.stats().get("workers"))
        r.equal(modes(self.B), ["nap"], "modes: gwB's workers (net_af_packet) nap")
        s0, _ = sums(self.A)
        time.sleep(0.3)
        s1, _ = sums(self.A)
        r.check(s1 > s0, "modes: an idle gwA sleeps (%d sleeps in 0.3 s)" % (s1 - s0))

    def ping(self):
        r, t = self.r, self.t
        for dst, n in ((SITE["B"]["host4"], 40), (SITE["B"]["host6"], 20)):
            ping(t.host("A"), dst, count=3, timeout=3)   # the SAs first
            _, w0 = sums(self.A)
            res = ping(t.host("A"), dst, count=n, interval=0.02, timeout=3.0)
            _, w1 = sums(self.A)
            r.equal(replies(res), n, "ping: %d echoes to %s answered" % (n, dst))
            # Each echo and each reply reaches gwA 20 ms after the last
            # packet, long after its worker went to sleep.
            r.check(w1 - w0 >= n, "ping: gwA's workers were woken by packets at least "
                    "once an echo (%d wake-ups, %d echoes)" % (w1 - w0, n))

    def tcp(self):
        r, t = self.r, self.t
        for src, dst, to in (("A", "B", SITE["B"]["host4"]), ("B", "A", SITE["A"]["host4"]),
                             ("A", "B", SITE["B"]["host6"])):
            res = tcp_transfer(t.host(src), t.host(dst), to, nbytes=2 << 20, timeout=60)
            r.check(res["ok"], "tcp: 2 MiB host%s -> %s intact" % (src, to), res)

    def switch(self):
        r, A = self.r, self.A
        try:
            A.ctl("set", "worker-idle", "poll")
            r.equal(modes(A), ["poll"], "switch: `set worker-idle poll` shows poll")
            # A worker that was asleep counts that sleep once it wakes:
            # wait until the count stands, however slow the machine.
            s0 = None
            for _ in range(40):
                s, _ = sums(A)
                if s == s0:
                    break
                s0 = s
                time.sleep(0.05)
            time.sleep(0.3)
            s1, _ = sums(A)
            r.equal(s1 - s0, 0, "switch: polling workers do not sleep")
            res = ping(self.t.host("A"), SITE["B"]["host4"], count=5, interval=0.02)
            r.equal(replies(res), 5, "switch: echoes answered while polling")
        finally:
            A.ctl("set", "worker-idle", "adaptive")
        r.equal(modes(A), ["interrupt"], "switch: `adaptive` again waits on interrupts")
        _, w0 = sums(A)
        res = ping(self.t.host("A"), SITE["B"]["host4"], count=10, interval=0.02)
        _, w1 = sums(A)
        r.check(replies(res) == 10 and w1 - w0 >= 10,
                "switch: and packets wake it again (%d wake-ups)" % (w1 - w0), res)


def main():
    def body(r, build):
        with Topo(build=build, taps=("A",)) as t:
            with_pairkm(t, r, ["modes", "ping", "tcp", "switch"], Test)
    return live_main("idle", body)


if __name__ == "__main__":
    sys.exit(main())
