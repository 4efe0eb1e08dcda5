#!/usr/bin/python3
"""A test key manager for two espd gateways, keying them the way IKE
makes CHILD_SA pairs.

On an ACQUIRE from gateway X for flow F (the ACQUIRE's `sel`), with Y the
other gateway, it installs one "child", four SAs, all AES-GCM-128 with
fresh random keys:

    Y inbound   X->Y  SPI s1 (allocated on Y)
    X inbound   Y->X  SPI s2 (allocated on X), sel F reversed
    Y outbound  Y->X  SPI s2, sel F reversed
    X outbound  X->Y  SPI s1, sel F, seq = the ACQUIRE's seq

in that order, so that the packet X was holding never reaches Y before Y
can decrypt it, and Y's answer never needs an ACQUIRE of its own. It
speaks the socket protocol in batch mode (control/sock.h): the ACQUIREs
waiting at one moment are answered together, a few round trips for all
of them.

NAT: each gateway has a local outer address and a public one (what the
other gateway sees); `encap` adds `encap espinudp 4500 4500 0.0.0.0` to
every SA.

Restart recovery: on an `invalid-spi` event from Y (src = X as Y sees
it, spi S), when S is the inbound SPI of one of its children on Y and Y
indeed has no such SA, it deletes X's outbound SA S (and Y's inbound S
if any), so X's next packet ACQUIREs again: once per SA. When a gateway
goes away (its socket closes), it reconnects to it as soon as it is back.

    km = PairKeyManager({"A": GwInfo(sockA, local="172.16.0.1", public="172.16.0.1"),
                         "B": GwInfo(sockB, local="172.16.0.2", public="172.16.0.2")},
                        encap=False, log=print).start()
    ...
    km.children, km.sas[("B", spi)], km.scapy_sa("B", spi)
    km.stop()

Standalone, with two sockets:
    PYTHONPATH=tests /usr/bin/python3 -m espdtest.pairkm SOCK_A ADDR_A SOCK_B ADDR_B
"""

import argparse
import json
import os
import select
import socket
import sys
import threading
import time

from espdtest.run import CtlError

__all__ = ["PairKeyManager", "GwInfo", "SaRec", "Child", "Batch"]


def _quote(w):
    return "'" + str(w).replace("'", "'\\''") + "'"


PORT_PROTOS = ("tcp", "udp", "sctp", "dccp", "udplite", 6, 17, 33, 132, 136)


def _sel_words(sel):
    w = ["sel", "src", sel["src"], "dst", sel["dst"]]
    if "proto" in sel:
        w += ["proto", str(sel["proto"])]
        # Ports, or ICMP's type and code, word for word as the ACQUIRE
        # names them.
        for k in ("sport", "dport", "type", "code"):
            if k in sel:
                w += [k, str(sel[k])]
    return w


def reverse_sel(sel):
    r = {"src": sel["dst"], "dst": sel["src"]}
    if "proto" in sel:
        r["proto"] = sel["proto"]
        # ICMP's type and code do not swap (an echo reply is another
        # type): the reverse SA takes all of the protocol.
        if sel["proto"] in PORT_PROTOS:
            if "dport" in sel:
                r["sport"] = sel["dport"]
            if "sport" in sel:
                r["dport"] = sel["sport"]
    return r


class GwInfo:
    """A gateway as the key manager sees it: its socket, its own outer
    address (the tmpl's) and the address the other gateway sees for it."""

    def __init__(self, sock, local, public=None):
        self.sock = sock
        self.local = local
        self.public = public or local


class SaRec:
    """One SA installed on gateway @gw."""

    def __init__(self, gw, direction, spi, key, src, dst, sel, reqid, mode, encap, child):
        self.gw = gw
        self.dir = direction
        self.spi = spi          # int
        self.key = key          # 20 bytes: AES-128 key + salt
        self.src = src
        self.dst = dst
        self.sel = sel
        self.reqid = reqid
        self.mode = mode
        self.encap = encap
        self.child = child
        self.added = None       # time.time() once espd said ok
        self.deleted = False

    def scapy_sa(self):
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6
        from scapy.layers.ipsec import ESP, SecurityAssociation

        kw = {}
        if self.mode == "tunnel":
            kw["tunnel_header"] = (IPv6 if ":" in self.src else IP)(src=self.src, dst=self.dst)
        if self.encap:
            kw["nat_t_header"] = UDP(sport=4500, dport=4500)
        return SecurityAssociation(ESP, spi=self.spi, crypt_algo="AES-GCM",
                                   crypt_key=self.key, auth_algo="NULL", **kw)


class Child:
    """The four SAs made for one ACQUIRE."""

    def __init__(self, initiator, responder, acq):
        self.initiator = initiator
        self.responder = responder
        self.acq = acq
        self.sel = acq["sel"]
        self.sas = []           # SaRec, in the order installed
        self.t_acquire = time.time()
        self.t_done = None
        self.ok = False
        self.rekeyed = False    # invalid-spi recovery done once
        self.error = None

    def out_sa(self, gw):
        for s in self.sas:
            if s.gw == gw and s.dir == "out":
                return s
        return None


class Batch:
    """A batch-mode connection to one espd (control/sock.h): send several
    requests, read their answers in order."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout
        self.s = None
        self.buf = b""

    def _connect(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(self.timeout)
        self.s.connect(self.path)
        self.buf = b""

    def close(self):
        if self.s is not None:
            try:
                self.s.close()
            except OSError:
                pass
        self.s = None

    def _readline(self):
        while b"\n" not in self.buf:
            b = self.s.recv(1 << 16)
            if not b:
                raise OSError("espd closed the batch connection")
            self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def _readn(self, n):
        while len(self.buf) < n:
            b = self.s.recv(1 << 16)
            if not b:
                raise OSError("espd closed the batch connection")
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out.decode(errors="replace")

    def run(self, requests):
        """@requests: list of (words, json_out). Returns a list of the
        answers: parsed JSON / text, or a CtlError. Raises OSError when
        the gateway is unreachable (the connection is then closed)."""
        if not requests:
            return []
        try:
            if self.s is None:
                self._connect()
            data = "".join("batch-%s %s\n" % ("json" if j else "text",
                                              " ".join(_quote(w) for w in words))
                           for words, j in requests)
            self.s.sendall(data.encode())
            out = []
            for words, j in requests:
                head = self._readline()
                if head.startswith("ok"):
                    n = int(head[3:] or 0) if len(head) > 2 else 0
                    body = self._readn(n)
                    if j and body.strip():
                        out.append(json.loads(body))
                    else:
                        out.append(body)
                elif head.startswith("error: "):
                    out.append(CtlError(head[7:]))
                else:
                    raise OSError("malformed answer %r" % head[:100])
            return out
        except (OSError, ValueError):
            self.close()
            raise


class _Mon:
    """A monitor connection (acquire, invalid-spi) to one gateway that
    comes back when the gateway does."""

    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.s = None
        self.buf = b""
        self.connects = 0
        self.next_try = 0.0

    def try_connect(self):
        if self.s is not None or time.time() < self.next_try:
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(self.path)
            s.sendall(b"json monitor acquire invalid-spi\n")
            buf = b""
            while b"\n" not in buf:
                b = s.recv(4096)
                if not b:
                    raise OSError("closed")
                buf += b
            head, _, rest = buf.partition(b"\n")
            if head != b"ok":
                raise OSError(head.decode(errors="replace"))
        except OSError:
            s.close()
            self.next_try = time.time() + 0.02
            return False
        s.setblocking(False)
        self.s = s
        self.buf = rest
        self.connects += 1
        return True

    def drop(self):
        if self.s is not None:
            try:
                self.s.close()
            except OSError:
                pass
        self.s = None
        self.buf = b""

    def read(self):
        """Events read now ([]), or None when the connection closed."""
        try:
            b = self.s.recv(1 << 20)
        except BlockingIOError:
            b = None
        except OSError:
            b = b""
        if b == b"":
            self.drop()
            return None
        if b:
            self.buf += b
        evs = []
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            try:
                evs.append(json.loads(line))
            except ValueError:
                evs.append({"event": "(unparsable)", "raw": line.decode(errors="replace")})
        return evs


class PairKeyManager:
    def __init__(self, gws, encap=False, log=None, reqid_map=None, answer=None,
                 rekey_on_invalid_spi=True, resync_on_reconnect=False):
        if len(gws) != 2:
            raise ValueError("two gateways")
        self.gws = gws
        self.names = sorted(gws)
        self.encap = encap
        self.log = log or (lambda m: None)
        self.answer = answer or (lambda gw, acq: True)
        self.rekey = rekey_on_invalid_spi
        # When a gateway comes back, compare its SAs with ours at once
        # (`state list`), instead of waiting for its invalid-spi events.
        self.resync = resync_on_reconnect
        self.lock = threading.RLock()
        self.sas = {}           # (gw, spi) -> SaRec (the latest with that SPI)
        self.all_sas = []       # every SaRec, in order
        self.children = []
        self.acquires = []      # (gw, event)
        self.invalid = []       # (gw, event, what was done)
        self.errors = []        # text
        self.rekeys = []        # (time, gw that lost the SA, spi)
        self.batches = {n: Batch(g.sock) for n, g in gws.items()}
        self.mons = {n: _Mon(n, g.sock) for n, g in gws.items()}
        self._stop = False
        self._t = None
        self.down = {n: False for n in gws}
        self.events = []        # (time, gw, event): every event seen

    @classmethod
    def for_topo(cls, topo, **kw):
        """The key manager of an espdtest.topo.Topo."""
        gws = {s: GwInfo(g.sock, g.local, g.public) for s, g in topo.gw.items()}
        return cls(gws, encap=kw.pop("encap", topo.nat), **kw)

    def other(self, name):
        return self.names[1] if name == self.names[0] else self.names[0]

    # -- the loop
    def start(self, timeout=10.0):
        end = time.time() + timeout
        while not all(m.s for m in self.mons.values()):
            for m in self.mons.values():
                m.try_connect()
            if time.time() > end:
                raise CtlError("pairkm: cannot subscribe to %s" %
                               [n for n, m in self.mons.items() if not m.s])
            time.sleep(0.02)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def stop(self):
        self._stop = True
        if self._t is not None:
            self._t.join(10)
        for m in self.mons.values():
            m.drop()
        for b in self.batches.values():
            b.close()

    def _run(self):
        while not self._stop:
            for n, m in self.mons.items():
                if m.s is None and m.try_connect():
                    if self.down[n]:
                        self.log("pairkm: %s is back (monitor %d)" % (n, m.connects))
                        if self.resync:
                            self._resync(n)
                    self.down[n] = False
            socks = {m.s: m for m in self.mons.values() if m.s is not None}
            if not socks:
                time.sleep(0.02)
                continue
            # Events that came with a subscription's "ok" wait in the
            # buffer: no new data would wake select() for them.
            ready = [s for s, m in socks.items() if b"\n" in m.buf]
            try:
                r, _, _ = select.select(list(socks), [], [], 0 if ready else 0.02)
            except (OSError, ValueError):
                continue
            r = list(set(r) | set(ready))
            acqs, inval = [], []
            for s in r:
                m = socks[s]
                evs = m.read()
                if evs is None:
                    if not self.down[m.name]:
                        self.log("pairkm: lost %s" % m.name)
                    self.down[m.name] = True
                    self.batches[m.name].close()
                    continue
                now = time.time()
                for ev in evs:
                    with self.lock:
                        self.events.append((now, m.name, ev))
                    if ev.get("event") == "acquire":
                        acqs.append((m.name, ev))
                    elif ev.get("event") == "invalid-spi":
                        inval.append((m.name, ev))
            if acqs:
                self._answer(acqs)
            for gw, ev in inval:
                self._invalid_spi(gw, ev)

    def _run_on(self, per_gw):
        """Run {gw: [(words, json)]} on every gateway (concurrently: one
        write each, then the answers). Returns {gw: [answers]}; a gateway
        that cannot be reached answers OSError for each request."""
        out = {}
        for gw, reqs in per_gw.items():
            if not reqs:
                out[gw] = []
                continue
            try:
                out[gw] = self.batches[gw].run(reqs)
            except (OSError, ValueError) as e:
                out[gw] = [OSError(str(e))] * len(reqs)
        return out

    def _answer(self, acqs):
        """Answer ACQUIREs [(gw, event)]: four SAs each, in three rounds."""
        todo = []
        for x, acq in acqs:
            with self.lock:
                self.acquires.append((x, acq))
            if not self.answer(x, acq):
                continue
            y = self.other(x)
            c = Child(x, y, acq)
            todo.append(c)
        if not todo:
            return
        # 1. SPIs: s1 on Y (X->Y), s2 on X (Y->X).
        per = {n: [] for n in self.names}
        for c in todo:
            X, Y = self.gws[c.initiator], self.gws[c.responder]
            reqid = c.acq["reqid"]
            per[c.responder].append((["state", "allocspi", "src", X.public, "dst", Y.local,
                                      "proto", "esp", "reqid", reqid], True))
            per[c.initiator].append((["state", "allocspi", "src", Y.public, "dst", X.local,
                                      "proto", "esp", "reqid", reqid], True))
        ans = self._run_on(per)
        idx = {n: 0 for n in self.names}
        for c in todo:
            a1 = ans[c.responder][idx[c.responder]]
            idx[c.responder] += 1
            a2 = ans[c.initiator][idx[c.initiator]]
            idx[c.initiator] += 1
            for a in (a1, a2):
                if isinstance(a, Exception) or not isinstance(a, dict) or "spi" not in a:
                    c.error = "allocspi: %s" % a
            if c.error is None:
                c.spi1, c.spi2 = int(a1["spi"], 16), int(a2["spi"], 16)
        todo_ok = [c for c in todo if c.error is None]
        # 2. The inbound SAs on both, Y's outbound.
        per = {n: [] for n in self.names}
        for c in todo_ok:
            X, Y = self.gws[c.initiator], self.gws[c.responder]
            x, y = c.initiator, c.responder
            rsel = reverse_sel(c.sel)
            k1, k2 = os.urandom(20), os.urandom(20)     # one key per direction
            c.sas = [
                self._sa(c, y, "in", c.spi1, X.public, Y.local, c.sel, k1),
                self._sa(c, x, "in", c.spi2, Y.public, X.local, rsel, k2),
                self._sa(c, y, "out", c.spi2, Y.local, X.public, rsel, k2),
                self._sa(c, x, "out", c.spi1, X.local, Y.public, c.sel, k1),
            ]
            with self.lock:
                for s in c.sas:
                    self.sas[(s.gw, s.spi)] = s
                    self.all_sas.append(s)
            for s in c.sas[:3]:
                per[s.gw].append((self._add_words(s, None), False))
        ans = self._run_on(per)
        idx = {n: 0 for n in self.names}
        for c in todo_ok:
            for s in c.sas[:3]:
                a = ans[s.gw][idx[s.gw]]
                idx[s.gw] += 1
                if isinstance(a, Exception):
                    c.error = c.error or "state add %s %s 0x%08x on %s: %s" % (
                        s.dir, s.sel, s.spi, s.gw, a)
                else:
                    s.added = time.time()
        # 3. X's outbound, which releases the held packets.
        per = {n: [] for n in self.names}
        ready = [c for c in todo_ok if c.error is None]
        for c in ready:
            s = c.sas[3]
            per[s.gw].append((self._add_words(s, c.acq.get("seq")), False))
        ans = self._run_on(per)
        idx = {n: 0 for n in self.names}
        for c in ready:
            s = c.sas[3]
            a = ans[s.gw][idx[s.gw]]
            idx[s.gw] += 1
            if isinstance(a, Exception):
                c.error = "state add out 0x%08x on %s: %s" % (s.spi, s.gw, a)
            else:
                s.added = time.time()
                c.ok = True
                c.t_done = time.time()
        with self.lock:
            for c in todo:
                self.children.append(c)
                if c.error:
                    self.errors.append("ACQUIRE seq %s from %s: %s" % (
                        c.acq.get("seq"), c.initiator, c.error))
                    self.log("pairkm: ACQUIRE seq %s from %s: %s" % (
                        c.acq.get("seq"), c.initiator, c.error))
                else:
                    self.log("pairkm: %s seq %s sel %s -> out 0x%08x / back 0x%08x" % (
                        c.initiator, c.acq.get("seq"), json.dumps(c.sel, sort_keys=True),
                        c.spi1, c.spi2))

    def _sa(self, c, gw, direction, spi, src, dst, sel, key):
        return SaRec(gw, direction, spi, key, src, dst, sel,
                     c.acq["reqid"], c.acq.get("mode", "tunnel"), self.encap, c)

    def _add_words(self, s, seq):
        w = ["state", "add", "src", s.src, "dst", s.dst, "proto", "esp", "spi",
             "0x%08x" % s.spi, "dir", s.dir, "reqid", s.reqid, "mode", s.mode]
        if seq is not None:
            w += ["seq", seq]
        w += ["aead", "rfc4106(gcm(aes))", "0x" + s.key.hex(), "128"]
        if s.encap:
            w += ["encap", "espinudp", "4500", "4500", "0.0.0.0"]
        return w + _sel_words(s.sel)

    def _resync(self, y):
        """@y came back: re-key every child whose inbound SA @y lost."""
        a = self._run_on({y: [(["state", "list"], True)]})[y][0]
        if not isinstance(a, list):
            return
        have = {int(s["spi"], 16) for s in a if s.get("dir") == "in"}
        with self.lock:
            lost = [s for (gw, spi), s in self.sas.items()
                    if gw == y and s.dir == "in" and not s.deleted and spi not in have and
                    s.child.ok and not s.child.rekeyed]
        for s in lost:
            self._rekey(y, s, "resync")

    def _rekey(self, y, s, why):
        """@y lost inbound SA @s: delete the sender's outbound SA (and @s
        if any), so that the sender ACQUIREs again. Once per child."""
        s.child.rekeyed = True
        x = self.other(y)
        spi = s.spi
        out = None
        for c in s.child.sas:
            if c.gw == x and c.dir == "out" and c.spi == spi:
                out = c
        per = {x: [], y: []}
        if out is not None:
            per[x].append((["state", "del", "src", out.src, "dst", out.dst, "proto",
                            "esp", "spi", "0x%08x" % spi], False))
            out.deleted = True
        per[y].append((["state", "del", "src", s.src, "dst", s.dst, "proto", "esp",
                        "spi", "0x%08x" % spi], False))
        s.deleted = True
        ans = self._run_on(per)
        with self.lock:
            self.rekeys.append((time.time(), y, spi))
        what = "re-key (%s): deleted %s's outbound 0x%08x (%s)" % (
            why, x, spi, ans[x][0] if ans[x] else "none")
        self.log("pairkm: %s" % what)
        return what

    def _invalid_spi(self, y, ev):
        """@y got ESP with an SPI it does not know."""
        try:
            spi = int(ev["spi"], 16)
        except (KeyError, ValueError):
            return
        with self.lock:
            s = self.sas.get((y, spi))
        what = "ignored (not ours)"
        if s is None or s.dir != "in" or not self.rekey:
            pass
        elif s.child.rekeyed:
            what = "ignored (re-keyed once already)"
        else:
            Y = self.gws[y]
            # Does Y really lack it? An event may be older than the SA.
            a = self._run_on({y: [(["state", "get", "src", s.src, "dst", Y.local, "proto",
                                    "esp", "spi", "0x%08x" % spi], True)]})[y][0]
            if isinstance(a, dict):
                what = "ignored (%s has the SA)" % y
            elif isinstance(a, OSError):
                what = "ignored (%s unreachable)" % y
            else:
                what = self._rekey(y, s, "invalid-spi")
        with self.lock:
            self.invalid.append((y, ev, what))
        self.log("pairkm: invalid-spi on %s spi %s from %s: %s" % (
            y, ev.get("spi"), ev.get("src"), what))

    # -- for tests
    def wait_children(self, n, timeout=30.0):
        """Wait until @n children were handled (ok or not)."""
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.children) >= n:
                    return True
            time.sleep(0.02)
        return False

    def ok_children(self):
        with self.lock:
            return [c for c in self.children if c.ok]

    def scapy_sa(self, gw, spi):
        with self.lock:
            s = self.sas.get((gw, spi))
        return s.scapy_sa() if s else None

    def find_sa(self, spi, src=None, dst=None):
        """The SaRec with this SPI (and outer src/dst), any gateway."""
        with self.lock:
            for s in reversed(self.all_sas):
                if s.spi == spi and (src is None or s.src == src) and \
                        (dst is None or s.dst == dst):
                    return s
        return None

    def summary(self):
        with self.lock:
            return {"acquires": len(self.acquires), "children": len(self.children),
                    "ok": sum(1 for c in self.children if c.ok),
                    "errors": len(self.errors), "invalid_spi": len(self.invalid),
                    "rekeys": len(self.rekeys)}


def main():
    ap = argparse.ArgumentParser(description="two-gateway test key manager")
    ap.add_argument("sock_a")
    ap.add_argument("addr_a")
    ap.add_argument("sock_b")
    ap.add_argument("addr_b")
    ap.add_argument("--public-a", default=None)
    ap.add_argument("--public-b", default=None)
    ap.add_argument("--encap", action="store_true")
    a = ap.parse_args()
    km = PairKeyManager({"A": GwInfo(a.sock_a, a.addr_a, a.public_a),
                         "B": GwInfo(a.sock_b, a.addr_b, a.public_b)},
                        encap=a.encap, log=lambda m: print(m, flush=True))
    km.start()
    print("pairkm: answering ACQUIREs of A and B", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    km.stop()
    print("pairkm: %s" % km.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
