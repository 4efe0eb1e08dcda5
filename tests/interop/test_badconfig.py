#!/usr/bin/python3
"""Configuration files both ways: `espd -c FILE --check` and a real start
(EAL up, net_pcap ports) must give the same verdict on every file, since
they are the same code (the model). A bad file: each prints the same
first error, naming FILE:LINE, and exits with status 1 (never 0, never a
signal). A good file (every file in examples/): "configuration OK" and a
start that runs and exits 0.

    PYTHONPATH=tests /usr/bin/python3 tests/interop/test_badconfig.py [BUILD_DIR]

Prints a line per case, then "badconfig: N passed, M failed".
"""

import glob
import os
import re
import signal
import sys

from espdtest.run import Espd, check_config

HEAD = [
    "port 0 role protected   addr 192.168.1.1/24 mac 02:00:00:00:01:01",
    "port 1 role unprotected addr 172.16.1.5/24  mac 02:00:00:00:02:01",
    "# the line after this one is the first under test",
]
TAIL = ["route add 10.9.0.0/16 port 1 via 172.16.1.1"]
GCM = "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128"
SA = "state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x1001 reqid 1 mode tunnel"
SHA = "0x" + "11" * 32

# name, lines under test, which of them (0-based) is the bad one, what
# the message must also say (a regex, case-insensitive)
CASES = [
    ("unknown command", ["frobnicate the gateway"], 0, "frobnicate"),
    ("unknown port role", ["port 2 role sideways"], 0, "sideways"),
    ("address out of range", ["route add 10.0.0.300/24 port 0"], 0, "10.0.0.300"),
    ("prefix too long", ["route add 10.0.0.0/33 port 0"], 0, "33"),
    ("route to an undeclared port", ["route add 10.0.0.0/8 port 7"], 0, "port 7"),
    ("short MAC", ["neigh add 172.16.1.1 lladdr 02:00:00 port 1"], 0, "02:00:00"),
    ("port id out of range", ["port 99 role protected"], 0, "99"),
    ("AES-GCM key too short",
     [SA + " aead 'rfc4106(gcm(aes))' 0x0102 128"], 0, "key|bytes"),
    ("key not hex",
     [SA + " aead 'rfc4106(gcm(aes))' 0xzz02030405060708090a0b0c0d0e0f10a1a2a3a4 128"],
     0, "zz|hex"),
    ("unknown cipher",
     [SA + " enc 'cbc(des)' 0x0102030405060708 auth-trunc 'hmac(sha256)' %s 128" % SHA],
     0, "cbc\\(des\\)"),
    ("unknown flag", [SA + " flag bogus " + GCM], 0, "bogus"),
    ("unterminated quote",
     [SA + " aead 'rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128"],
     0, "quot"),
    ("replay-seq-hi without esn", [SA + " replay-seq-hi 1 " + GCM], 0, "esn"),
    ("no algorithm", [SA], 0, "algorithm"),
    ("tunnel with mixed address families",
     ["state add src 172.16.2.5 dst 2001:db8::1 proto esp spi 0x1002 mode tunnel " + GCM],
     0, ""),
    ("duplicate SA", [SA + " " + GCM, SA + " " + GCM], 1, "exists|already|0x00001001"),
    ("duplicate inbound SPI",
     [SA + " " + GCM,
      "state add src 172.16.2.6 dst 172.16.1.5 proto esp spi 0x1001 dir in " + GCM],
     1, "0x00001001|in use|already"),
    ("policy with an unknown dir",
     ["policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir sideways"], 0, "sideways"),
    ("policy port out of range",
     ["policy add src 10.0.0.0/8 dst 10.1.0.0/16 proto udp sport 70000 dir out"], 0, "70000"),
    ("template with an unknown mode",
     ["policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out tmpl src 172.16.1.5 "
      "dst 172.16.2.5 proto esp mode sideways"], 0, "sideways"),
    ("error on the continuation line of a command",
     [SA + " \\", "\tflag bogus " + GCM], 0, "bogus"),
    ("a socket-only command in a file", ["state list"], 0, "state list|configuration"),
    ("the same route twice", ["route add 10.7.0.0/16 port 1 via 172.16.1.1",
                              "route add 10.7.0.0/16 port 0"], 1, "route 10.7.0.0/16 exists"),
    ("the same neighbour twice", ["neigh add 172.16.1.9 lladdr 02:00:00:00:00:09 port 1",
                                  "neigh add 172.16.1.9 lladdr 02:00:00:00:00:0a port 1"],
     1, "neigh 172.16.1.9 on port 1 exists"),
    ("a neighbour on an undeclared port",
     ["neigh add 172.16.1.9 lladdr 02:00:00:00:00:09 port 5"], 0, "port 5"),
    ("a port defined twice", ["port 1 role protected"], 0, "port 1"),
    ("a policy index used twice",
     ["policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir out index 7",
      "policy add src 10.2.0.0/16 dst 10.3.0.0/16 dir out index 7"], 1, "index 7"),
    ("inbound ESN without a replay window",
     [SA + " replay-window 0 flag esn " + GCM], 0, "replay-window"),
    ("a 10000-character word", ["state add src " + "9" * 10000], 0, ""),
    ("control bytes", ["port \x01\x02\x7f role protected"], 0, ""),
]


# Cases that fail today for a reason already reported, and where: they
# print XFAIL and do not fail the run; once fixed they print XPASS.
KNOWN = {}


def first_error(text):
    """The first "gw.conf:N: error: ..." line, the file's directory cut."""
    m = re.search(r"gw\.conf:\d+: error: .*", text)
    return m.group(0) if m else None


def describe(rc):
    if rc < 0:
        return "signal %s" % signal.Signals(-rc).name
    return "status %d" % rc


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    espd = Espd(build=build, timeout=30)
    passed = failed = known = 0
    for name, lines, bad, reason in CASES:
        text = "\n".join(HEAD + lines + TAIL) + "\n"
        lineno = len(HEAD) + 1 + bad
        where = re.compile(r"gw\.conf:%d: error" % lineno)
        why = []

        rc, out, _ = check_config(espd.binary, text)
        if rc != 1:
            why.append("--check: %s, want status 1" % describe(rc))
        if not where.search(out):
            why.append("--check does not name gw.conf:%d: %r" % (lineno, out.strip()[-300:]))
        elif reason and not re.search(reason, out, re.I):
            why.append("--check does not say why (/%s/): %r" % (reason, out.strip()[-300:]))

        run = espd.run(text, [[], []])
        if run.timed_out or run.rc != 1:
            why.append("start: %s, want status 1" % (
                "timed out" if run.timed_out else describe(run.rc)))
        if not where.search(run.stderr):
            why.append("start does not name gw.conf:%d: %r" % (lineno, run.stderr.strip()[-300:]))
        # One code judges both: the same first error, word for word.
        first_check, first_start = first_error(out), first_error(run.stderr)
        if first_check != first_start:
            why.append("--check and start differ: %r vs %r" % (first_check, first_start))

        if why and name in KNOWN:
            known += 1
            print("XFAIL %s (known: %s)" % (name, KNOWN[name]))
            for w in why:
                print("     %s" % w)
        elif why:
            failed += 1
            print("FAIL %s" % name)
            for w in why:
                print("     %s" % w)
        else:
            passed += 1
            print("%s %s" % ("XPASS" if name in KNOWN else "PASS", name))

    # Every example is good both ways.
    here = os.path.dirname(os.path.abspath(__file__))
    examples = sorted(glob.glob(os.path.join(here, "..", "..", "examples", "*.conf")))
    for path in examples:
        name = os.path.basename(path)
        text = open(path).read()
        rc, out, _ = check_config(espd.binary, text)
        run = espd.run(text, [[], []])
        if rc == 0 and "configuration OK" in out and run.rc == 0 and not run.timed_out:
            passed += 1
            print("PASS %s: --check OK, start and exit 0" % name)
        else:
            failed += 1
            print("FAIL %s: --check %s %r, start %s %r" % (
                name, describe(rc), out.strip()[-200:],
                "timed out" if run.timed_out else describe(run.rc), run.stderr.strip()[-300:]))
    if not examples:
        failed += 1
        print("FAIL no examples/*.conf found")

    # Valid file, but a port that the EAL did not probe: a start-up error.
    run = espd.run("\n".join(HEAD + ["port 2 role protected"]) + "\n", [[], []])
    if run.rc == 1 and re.search(r"port 2", run.stderr):
        passed += 1
        print("PASS a port with no DPDK device: start-up error, exit 1")
    else:
        failed += 1
        print("FAIL a port with no DPDK device: %s, stderr %r" % (
            describe(run.rc), run.stderr.strip()[-300:]))

    if known:
        print("(%d known failures, printed as XFAIL, not counted)" % known)
    print("badconfig: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
