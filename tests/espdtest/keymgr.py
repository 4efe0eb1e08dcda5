#!/usr/bin/python3
"""A test key manager for espd: it reads `espctl -j monitor acquire` and
answers every ACQUIRE the way an IKE daemon would, with

    espctl state allocspi src A dst B proto esp reqid N
    espctl state add src A dst B proto esp spi SPI reqid N seq SEQ mode M \\
        aead 'rfc4106(gcm(aes))' 0xKEY 128 sel <the ACQUIRE's sel>

with a fresh random AES-GCM-128 key (and salt) per SA. It remembers every
SA it installed by SPI (key, ACQUIRE, selector), so a test can decrypt
what espd sends, and counts what it did.

As a library:

    km = KeyManager(sock, espctl="build/espctl")
    km.start()
    ...                    # km.sas[spi] -> Sa; km.acquires, km.answered
    km.stop()

Knobs: `answer(acq)` (a callable, default: answer all) decides whether an
ACQUIRE gets an answer; `extra(acq)` returns extra words for its
`state add` (limits, replay-oseq); `via="socket"` answers over the
socket protocol instead of running espctl (faster).

Standalone (until interrupted, printing one line per ACQUIRE):

    PYTHONPATH=tests /usr/bin/python3 -m espdtest.keymgr -s /run/espd/espd.sock [-b build]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from espdtest.run import CtlError, ctl_request, default_build, wait_subscribed


class Sa:
    """One SA the key manager installed."""

    def __init__(self, spi, key, acq, src, dst, reqid, mode, asked=None):
        self.spi = spi          # int
        self.key = key          # 20 bytes: AES-128 key + 4-byte salt
        self.acq = acq          # the ACQUIRE event (dict)
        self.src = src
        self.dst = dst
        self.reqid = reqid
        self.mode = mode
        self.added = time.monotonic()  # espd's clock, as Monitor.times
        # Taken before the allocspi that started the SA: espd's add time
        # is later, so a limit counted from it fires after asked + limit.
        self.asked = asked if asked is not None else self.added

    def scapy_sa(self):
        from scapy.layers.inet import IP
        from scapy.layers.ipsec import ESP, SecurityAssociation

        kw = {}
        if self.mode == "tunnel":
            kw["tunnel_header"] = IP(src=self.src, dst=self.dst)
        return SecurityAssociation(ESP, spi=self.spi, crypt_algo="AES-GCM",
                                   crypt_key=self.key, auth_algo="NULL", **kw)


def sel_words(sel):
    """The ACQUIRE's sel as `state add ... sel` words."""
    w = ["sel", "src", sel["src"], "dst", sel["dst"]]
    if "proto" in sel:
        w += ["proto", str(sel["proto"])]
        for k in ("sport", "dport", "type", "code"):  # ICMP: type and code
            if k in sel:
                w += [k, str(sel[k])]
    return w


def open_frames(frames, sas):
    """Parse and decrypt frames captured on the unprotected side.
    @sas: {spi: Sa}. Returns a list of dicts in capture order:
    {"spi", "seq", "outer" (scapy IP), "inner" (scapy IP or None), "error"}."""
    from scapy.layers.inet import IP
    from scapy.layers.ipsec import ESP
    from scapy.layers.l2 import Ether

    cache = {}
    out = []
    for f in frames:
        e = Ether(f)
        r = {"spi": None, "seq": None, "outer": None, "inner": None, "error": None}
        out.append(r)
        if IP not in e or e[IP].proto != 50:
            r["error"] = "not ESP over IPv4: %s" % e.summary()
            continue
        ip = e[IP]
        r["outer"] = ip
        esp = ip[ESP]
        r["spi"], r["seq"] = esp.spi, esp.seq
        sa = sas.get(esp.spi)
        if sa is None:
            r["error"] = "unknown SPI 0x%08x" % esp.spi
            continue
        if esp.spi not in cache:
            cache[esp.spi] = sa.scapy_sa()
        try:
            r["inner"] = cache[esp.spi].decrypt(IP(bytes(ip)))
        except Exception as ex:  # scapy raises several kinds
            r["error"] = "SPI 0x%08x seq %d does not decrypt: %s" % (esp.spi, esp.seq, ex)
    return out


class KeyManager:
    def __init__(self, sock, espctl=None, answer=None, extra=None, via="espctl",
                 log=None):
        self.sock = sock
        self.espctl = espctl or os.path.join(default_build(), "espctl")
        self.answer = answer or (lambda acq: True)
        self.extra = extra or (lambda acq: [])
        self.via = via
        self.log = log
        self.lock = threading.Lock()
        self.sas = {}           # spi -> Sa
        self.acquires = []      # every ACQUIRE seen, in order
        self.answered = 0
        self.ignored = 0
        self.errors = []        # (acq, message)
        self.proc = None
        self._t = None

    # -- talking to espd
    def _cmd(self, words, json_out):
        """Run one command; returns its output (parsed when json_out)."""
        if self.via == "socket":
            return ctl_request(self.sock, words, json_out)
        p = subprocess.run([self.espctl, "-s", self.sock] + (["-j"] if json_out else []) +
                           list(words), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
        if p.returncode != 0:
            raise CtlError(p.stderr.strip())
        return json.loads(p.stdout) if json_out and p.stdout.strip() else p.stdout

    def handle(self, acq):
        """Answer one ACQUIRE (a dict as `monitor -j` prints it)."""
        with self.lock:
            self.acquires.append(acq)
        if not self.answer(acq):
            with self.lock:
                self.ignored += 1
            return None
        src, dst, reqid = acq["src"], acq["dst"], acq["reqid"]
        asked = time.monotonic()
        try:
            spi_s = self._cmd(["state", "allocspi", "src", src, "dst", dst, "proto", "esp",
                               "reqid", str(reqid)], True)["spi"]
            key = os.urandom(20)
            words = ["state", "add", "src", src, "dst", dst, "proto", "esp", "spi", spi_s,
                     "reqid", str(reqid), "seq", str(acq["seq"]), "mode", acq["mode"],
                     "aead", "rfc4106(gcm(aes))", "0x" + key.hex(), "128"]
            words += [str(w) for w in self.extra(acq)]
            words += sel_words(acq["sel"])
            sa = Sa(int(spi_s, 16), key, acq, src, dst, reqid, acq["mode"], asked)
            # Known before espd can use it, so a capture never holds an
            # SPI the test cannot look up.
            with self.lock:
                self.sas[sa.spi] = sa
            self._cmd(words, False)
        except (CtlError, ValueError, KeyError, OSError, subprocess.SubprocessError) as e:
            with self.lock:
                self.errors.append((acq, str(e)))
            if self.log:
                self.log("keymgr: ACQUIRE seq %s: %s" % (acq.get("seq"), e))
            return None
        with self.lock:
            self.answered += 1
        if self.log:
            self.log("keymgr: seq %d -> spi 0x%08x sel %s" % (acq["seq"], sa.spi,
                                                             json.dumps(acq["sel"])))
        return sa

    # -- the monitor
    def start(self, timeout=30.0):
        """Start `espctl -j monitor acquire` and the answering thread;
        return once espd has taken the subscription."""
        self.proc = subprocess.Popen([self.espctl, "-s", self.sock, "-j", "monitor",
                                      "acquire"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, universal_newlines=True,
                                     bufsize=1)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        self._wait_subscribed(timeout)
        if self.proc.poll() is not None:
            raise CtlError("espctl monitor exited %d: %s" % (self.proc.returncode,
                                                             self.proc.stderr.read().strip()))
        return self

    def _wait_subscribed(self, timeout):
        if not wait_subscribed(self.proc, self.sock, timeout) and self.proc.poll() is None:
            raise CtlError("espctl monitor sent no request in %.0f s" % timeout)

    def _run(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                with self.lock:
                    self.errors.append(({}, "unparsable event: %r" % line))
                continue
            if ev.get("event") == "acquire":
                self.handle(ev)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._t is not None:
            self._t.join(5)

    def handled(self):
        """How many ACQUIREs were handled (answered, ignored or failed)."""
        with self.lock:
            return self.answered + self.ignored + len(self.errors)

    def wait_answered(self, n, timeout=30.0):
        """Wait until @n ACQUIREs have been handled. @return whether they
        were."""
        end = time.time() + timeout
        while time.time() < end:
            if self.handled() >= n:
                return True
            time.sleep(0.05)
        return False

    def wait_idle(self, timeout=10.0):
        """Wait until every ACQUIRE seen so far has been handled."""
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if self.answered + self.ignored + len(self.errors) == len(self.acquires):
                    return True
            time.sleep(0.05)
        return False

    def stats(self):
        with self.lock:
            return {"acquires": len(self.acquires), "answered": self.answered,
                    "ignored": self.ignored, "errors": len(self.errors)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-s", "--socket", default="/run/espd/espd.sock")
    ap.add_argument("-b", "--build", default=None, help="build directory (espctl)")
    ap.add_argument("--via", choices=("espctl", "socket"), default="espctl")
    a = ap.parse_args()
    espctl = os.path.join(a.build or default_build(), "espctl")
    km = KeyManager(a.socket, espctl=espctl, via=a.via,
                    log=lambda m: print(m, flush=True))
    km.start()
    print("keymgr: answering ACQUIREs on %s" % a.socket, flush=True)
    try:
        while km.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    km.stop()
    print("keymgr: %(acquires)d ACQUIREs, %(answered)d answered, %(errors)d errors"
          % km.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
