#!/usr/bin/python3
"""Two espd gateways, each keyed by its own charon through kernel-espd:
the demo's shape. espd's config holds the `pfp` policies (reqid 1);
swanctl gives each charon a trap (start_action = trap, reqid = 1,
policies = no, ESP aes128gcm16-esn). No key manager of the tests' own is involved.

  flows     20 UDP flows from hostA, each its own 5-tuple, at once: 20
            ACQUIREs become 20 CHILD_SAs (swanctl --list-sas on both
            sides), each for exactly its flow, and every first datagram,
            held during IKE, arrives
  reverse   hostB answers on each flow over the same CHILD_SAs: no new
            ACQUIRE on gwB
  rekey     a stream of numbered datagrams crosses a CHILD_SA rekey
            (rekey_time 10 s, from espd's soft time limit): the SPI
            changes and no datagram is lost
  restart   gwB (espd and charon) is killed and started again while
            hostA keeps sending: gwB's espd reports invalid-spi, kernel-espd
            starts a new IKE_SA (INITIAL_CONTACT makes gwA drop its stale
            SAs), the flow ACQUIREs again on gwA, and traffic resumes; the
            outage is printed (bench/RESULTS.md compares it with DPD)

    PYTHONPATH=tests /usr/bin/python3 tests/ike/test_pair.py [BUILD_DIR]
"""

import socket
import struct
import sys
import threading
import time

from espdtest.charon import flows_charon, restart_outage, run_with_charons
from espdtest.topo import (Topo, live_main, SITE, wait_for, default_build,
                           ns_socket, UdpSink)

N_FLOWS = 20
REKEY = 10
PROPOSALS = "aes128gcm16-esn"   # with ESN: 64-bit sequence numbers


class Test:
    def __init__(self, t, r, build):
        self.t, self.r, self.build = t, r, build
        self.A, self.B = t.gw["A"], t.gw["B"]
        self.c = {s: flows_charon(t, s, build, rekey=REKEY, proposals=PROPOSALS)
                  for s in ("A", "B")}
        self.sink = UdpSink(t.ns["hB"], 5001)
        self.sink.reply = lambda b: b"re:" + b
        self.tx = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
        self.socks = []

    def close(self):
        self.sink.close()
        self.tx.close()
        for s in self.socks:
            s.close()

    def flows(self):
        r, t = self.r, self.t
        t0 = time.time()
        for i in range(N_FLOWS):
            s = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((SITE["A"]["host4"], 41000 + i))
            s.settimeout(0.05)
            s.sendto(b"flow %d" % i, (SITE["B"]["host4"], 5001))
            self.socks.append(s)
        got = self.sink.wait(lambda p: len({x for x in p if x.startswith(b"flow ")}) >= N_FLOWS,
                             30)
        dt = time.time() - t0
        firsts = {x for x in self.sink.payloads() if x.startswith(b"flow ")}
        r.check(got and len(firsts) == N_FLOWS, "flows: the first datagram of each of %d "
                "flows arrives (held during IKE) in %.2f s" % (N_FLOWS, dt),
                "got %d" % len(firsts), self.c["A"].log_tail(1500))
        print("# flows: %d CHILD_SAs in %.2f s (%.1f per second, one IKE_SA)" % (
            N_FLOWS, dt, N_FLOWS / dt))
        for side in ("A", "B"):
            kids = wait_for(lambda: len(self.c[side].child_sas()) >= N_FLOWS and
                            self.c[side].child_sas(), 10) or self.c[side].child_sas()
            mine = SITE["A"]["host4"] + "/32[udp/"
            exact = [k for k in kids if k.get("local_ts", "").startswith(mine) or
                     k.get("remote_ts", "").startswith(mine)]
            r.check(len(kids) == N_FLOWS and len(exact) == N_FLOWS,
                    "flows: gw%s's charon lists %d CHILD_SAs, each for exactly one flow "
                    "(%s...)" % (side, len(kids), mine), kids[:3])
        outs = [s for s in self.A.sas() if s["dir"] == "out"]
        sports = sorted(s["sel"].get("sport") for s in outs)
        r.equal(sports, list(range(41000, 41000 + N_FLOWS)),
                "flows: gwA's outbound SAs carry one flow's sport each")
        sas = self.A.sas() + self.B.sas()
        r.check(sas and all("esn" in s.get("flags", []) for s in sas),
                "flows: charon negotiated ESN: every SA on both espd has flag esn",
                [s.get("flags") for s in sas][:4])

    def reverse(self):
        r, B = self.r, self.B
        b = B.counters()["AcquireSent"]
        got = 0
        for s in self.socks:
            s.sendto(b"again", (SITE["B"]["host4"], 5001))
        end = time.time() + 5
        for s in self.socks:
            while time.time() < end:
                try:
                    d, _ = s.recvfrom(100)
                except socket.timeout:
                    continue
                if d == b"re:again":
                    got += 1
                    break
        r.check(got == N_FLOWS, "reverse: hostB's answer comes back on all %d flows" %
                N_FLOWS, "got %d" % got)
        r.equal(B.counters()["AcquireSent"] - b, 0,
                "reverse: gwB raised no ACQUIRE (the CHILD_SAs serve both ways)")

    def _stream(self, sport, seconds, pps=200, until=None, most=None):
        """Numbered datagrams from hostA:sport for @seconds, or, with
        @until, until it returns true (at least @seconds, at most @most);
        returns the numbers sent."""
        s = ns_socket(self.t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((SITE["A"]["host4"], sport))
        n = 0
        t0 = time.monotonic()
        try:
            while True:
                el = time.monotonic() - t0
                if el >= seconds and (until is None or until() or el >= most):
                    break
                s.sendto(b"seq" + struct.pack("!I", n), (SITE["B"]["host4"], 5001))
                n += 1
                time.sleep(1.0 / pps)
        finally:
            s.close()
        return n

    def rekey(self):
        r, A = self.r, self.A
        sport = 42000

        def spis():
            return {s["spi"] for s in A.sas() if s["dir"] == "out" and
                    s["sel"].get("sport") == sport}
        seen = set()
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                seen.update(spis())
                time.sleep(0.2)
        w = threading.Thread(target=watch, daemon=True)
        w.start()
        # On past the rekey, however slow the ACQUIRE and IKE: until a
        # second SPI has carried the flow for a while.
        n = self._stream(sport, REKEY + 4, until=lambda: len(seen) >= 2, most=REKEY + 20)

        def arrived():
            return {struct.unpack("!I", p[3:7])[0] for p in self.sink.payloads()
                    if p.startswith(b"seq") and len(p) == 7}
        wait_for(lambda: set(range(n)) <= arrived(), 5)
        stop.set()
        w.join()
        got = arrived()
        lost = n - len(got & set(range(n)))
        r.check(len(seen) >= 2, "rekey: the flow's outbound SA was rekeyed under traffic "
                "(SPIs %s)" % sorted(seen), self.c["A"].log_tail(1500))
        r.check(n > 500 and lost == 0, "rekey: %d datagrams across the rekey, %d lost" % (
            n, lost))

    def restart(self):
        r, B = self.r, self.B
        res = restart_outage(self.t, "B", self.c,
                             lambda: flows_charon(self.t, "B", self.build, rekey=REKEY,
                                                  proposals=PROPOSALS),
                             self.sink, 43000, timeout=20)
        inv = B.counters().get("InvalidSpiEvents", 0)
        r.check(res["ok"] and inv > 0, "restart: after gwB's restart the stream resumes, "
                "healed through invalid-spi (%d events on gwB)" % inv,
                self.c["B"].log_tail(1500), self.c["A"].log_tail(1500))
        if res["first"]:
            up = res["first"] - res["t_up"]
            print("# restart: outage %.0f ms from the kill, %.0f ms after gwB was up again "
                  "(espd and charon)" % ((res["first"] - res["t_kill"]) * 1000, up * 1000))
            r.check(up < 10, "restart: traffic is back %.2f s after gwB is up (DPD alone "
                    "would take longer than its retransmits)" % up)

    def espd(self):
        r, t, A = self.r, self.t, self.A
        sport = 45000
        s = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((SITE["A"]["host4"], sport))
        stop = threading.Event()
        tag = b"e%d" % sport

        def send():
            while not stop.is_set():
                s.sendto(tag, (SITE["B"]["host4"], 5001))
                time.sleep(0.01)
        th = threading.Thread(target=send, daemon=True)
        th.start()
        try:
            ok = self.sink.wait(lambda p: tag in p, 10)
            r.check(ok, "espd: the stream flows before gwA's espd restarts")
            A.kill()
            A.start()
            up = time.time()

            def after():
                with self.sink.lock:
                    return [g[0] for g in self.sink.got if g[0] > up and g[1] == tag]
            back = wait_for(after, 20)
        finally:
            stop.set()
            th.join()
            s.close()
        log = self.c["A"].log()
        r.check("espd restarted" in log, "espd: kernel-espd saw espd come back and resynced",
                self.c["A"].log_tail(1500))
        r.check(back, "espd: the stream resumes after gwA's espd restart (%s)" % (
            "%.0f ms after it was up" % ((back[0] - up) * 1000) if back else "never"),
            self.c["A"].log_tail(2000))
        kids = self.c["A"].child_sas()
        outs = {x["spi"][2:] for x in A.sas() if x["dir"] == "out"}
        stale = [k for k in kids if k.get("spi_out") and k["spi_out"] not in outs]
        r.check(back and not stale, "espd: every CHILD_SA charon lists has its outbound SA "
                "in espd (the lost ones were rekeyed)", stale[:3])


def main():
    def body(r, build):
        build = build or default_build()
        with Topo(build=build, tap={"A": "tapA", "B": "tapB"}, v6=False) as t:
            T = Test(t, r, build)
            run_with_charons(r, t, T, [T.flows, T.reverse, T.rekey, T.restart, T.espd])
    return live_main("pair", body)


if __name__ == "__main__":
    sys.exit(main())
