"""strongSwan's charon in a test namespace: with kernel-espd driving an
espd, or stock with kernel-libipsec as an independent peer.

    c = Charon(t, "gA", "A", espd_sock=t.gw["A"].sock, plugin=PLUGIN)
    c.conn("net", local="172.16.0.1", remote="172.16.0.2",
           local_ts="192.168.1.0/24", remote_ts="192.168.2.0/24",
           start_action="trap", reqid=1, policies=False)
    c.start()            # charon, then swanctl --load-all
    c.swanctl("--list-sas")
    c.stop()

Each charon runs in a private mount namespace whose /run is its own
directory (the pid file is fixed at /run/charon.pid) and whose
/usr/lib/ipsec/plugins holds the plugins it loads, ours among them:
nothing is installed on the machine. `load` lists the plugins in order,
so kernel-espd (or kernel-libipsec) registers its kernel-ipsec before
kernel-netlink, which still serves kernel-net. The log (`chd = 4`, so
the ESP keys are in it) is in DIR/charon.log.
"""

import os
import re
import shutil
import signal
import socket
import subprocess

from espdtest.run import stop_process
from espdtest.topo import TopoError, have, wait_for

CHARON = "/usr/lib/ipsec/charon"
STOCK_PLUGINS = "/usr/lib/ipsec/plugins"
PLUGIN_NAME = "libstrongswan-kernel-espd.so"

# What charon loads, besides the kernel backend.
BASE = ("random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf "
        "pem pkcs1 x509 pubkey revocation constraints socket-default vici updown")

PSK = "espd-test-psk-0123456789abcdef"


def missing():
    """Why charon cannot run here, or None."""
    if not os.access(CHARON, os.X_OK):
        return "no %s (Debian package strongswan-charon)" % CHARON
    if not have("swanctl"):
        return "no swanctl (Debian package strongswan-swanctl)"
    if not os.path.exists(os.path.join(STOCK_PLUGINS, "libstrongswan-openssl.so")):
        return "no openssl plugin (Debian package libstrongswan-standard-plugins)"
    if not os.path.exists(os.path.join(STOCK_PLUGINS, "libstrongswan-kernel-libipsec.so")):
        return "no kernel-libipsec plugin (Debian package libcharon-extra-plugins)"
    if not have("unshare"):
        return "no unshare (util-linux)"
    return None


def plugin_path(build):
    return os.path.join(build, "control", "strongswan", PLUGIN_NAME)


class Charon:
    def __init__(self, topo, ns, name, espd_sock=None, plugin=None, libipsec=False,
                 holdoff=2, extra="", recovery=True):
        why = missing()
        if why:
            raise TopoError("SKIP: " + why)
        self.topo = topo
        self.ns = topo.ns.get(ns, ns)
        self.name = name
        self.dir = os.path.join(topo.wd, "charon" + name)
        self.run = os.path.join(self.dir, "run")
        self.plugins = os.path.join(self.dir, "plugins")
        self.log_path = os.path.join(self.dir, "charon.log")
        self.vici = "unix://" + os.path.join(self.run, "charon.vici")
        self.espd_sock = espd_sock
        self.plugin = plugin
        self.libipsec = libipsec
        self.holdoff = holdoff
        self.recovery = recovery
        self.extra = extra
        self.conns = []
        self.proc = None
        os.makedirs(self.run, exist_ok=True)
        os.makedirs(self.plugins, exist_ok=True)
        if not libipsec and (plugin is None or not os.path.exists(plugin)):
            raise TopoError("SKIP: kernel-espd was not built (%s): the strongSwan 5.9.8 "
                            "source package could not be had" % plugin)

    # -- configuration
    def conn(self, name, local, remote, local_ts, remote_ts, start_action="none", reqid=0,
             policies=True, proposals="aes128gcm16", ike_proposals="aes128-sha256-x25519",
             rekey_time=None, life_time=None, dpd_delay=None, encap=False, mobike=False,
             extra_child="", extra_conn="", local_id=None, remote_id=None, children=()):
        """One connection with one child of the same name; @children adds
        more: (name, local_ts, remote_ts, esp_proposals), started on
        demand (swanctl --initiate --child NAME) or as responders."""
        local_id = local_id or local
        remote_id = remote_id or remote
        c = ["%s {" % name,
             "  version = 2", "  local_addrs = %s" % local, "  remote_addrs = %s" % remote,
             "  proposals = %s" % ike_proposals, "  encap = %s" % ("yes" if encap else "no"),
             "  mobike = %s" % ("yes" if mobike else "no"),
             "  local { auth = psk\n    id = %s }" % local_id,
             "  remote { auth = psk\n    id = %s }" % remote_id]
        if dpd_delay:
            c.append("  dpd_delay = %s" % dpd_delay)
        if extra_conn:
            c.append(extra_conn)
        c += ["  children {", "    %s {" % name,
              "      local_ts = %s" % local_ts, "      remote_ts = %s" % remote_ts,
              "      esp_proposals = %s" % proposals, "      start_action = %s" % start_action,
              "      policies = %s" % ("yes" if policies else "no")]
        if reqid:
            c.append("      reqid = %d" % reqid)
        if rekey_time is not None:
            c.append("      rekey_time = %s" % rekey_time)
        if life_time is not None:
            c.append("      life_time = %s" % life_time)
        if extra_child:
            c.append(extra_child)
        c.append("    }")
        for cname, lts, rts, props in children:
            c += ["    %s {" % cname, "      local_ts = %s" % lts, "      remote_ts = %s" % rts,
                  "      esp_proposals = %s" % props,
                  "      policies = %s" % ("yes" if policies else "no"), "    }"]
        c += ["  }", "}"]
        self.conns.append((name, local_id, remote_id, "\n".join(c)))

    def _write(self):
        backend = "kernel-libipsec" if self.libipsec else "kernel-espd"
        opts = []
        if not self.libipsec:
            opts.append("    kernel-espd {\n      socket = %s\n      invalid_spi_holdoff = %d\n"
                        "      invalid_spi_recovery = %s\n    }" % (
                            self.espd_sock, self.holdoff, "yes" if self.recovery else "no"))
        with open(os.path.join(self.dir, "strongswan.conf"), "w") as f:
            f.write("""charon {
  load = %s kernel-netlink %s
  install_routes = %s
  install_virtual_ip = no
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 4
  plugins {
%s
  }
  filelog {
    testlog {
      path = %s
      time_format = %%T
      default = 1
      knl = 2
      chd = 4
      ike = 1
      flush_line = yes
    }
  }
%s
}
""" % (backend, BASE, "yes" if self.libipsec else "no", "\n".join(opts), self.log_path,
                self.extra))
        secrets = "secrets {\n"
        for i, (name, local, remote, _) in enumerate(self.conns):
            secrets += "  ike-%d {\n    id-1 = %s\n    id-2 = %s\n    secret = %s\n  }\n" % (
                i, local, remote, PSK)
        secrets += "}\n"
        with open(os.path.join(self.dir, "swanctl.conf"), "w") as f:
            f.write("connections {\n%s\n}\n%s" % ("\n".join(c[3] for c in self.conns),
                                                  secrets))
        # The plugins charon loads: stock ones, and ours.
        for p in (backend + " kernel-netlink " + BASE).split():
            so = "libstrongswan-%s.so" % p
            src = self.plugin if p == "kernel-espd" else os.path.join(STOCK_PLUGINS, so)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(self.plugins, so))

    # -- running
    def start(self, timeout=20, load=True):
        self._write()
        # What a killed charon left: its pid file, and a vici socket that
        # nobody answers any more.
        for f in ("charon.pid", "charon.vici"):
            try:
                os.unlink(os.path.join(self.run, f))
            except OSError:
                pass
        script = ("mount --bind %s /run && mount --bind %s %s && exec env STRONGSWAN_CONF=%s %s"
                  % (self.run, self.plugins, STOCK_PLUGINS,
                     os.path.join(self.dir, "strongswan.conf"), CHARON))
        self.out = open(os.path.join(self.dir, "charon.out"), "a")
        self.proc = self.topo.spawn(self.ns, "unshare", "-m", "--propagation", "private",
                                    "sh", "-c", script, stdout=self.out,
                                    stderr=subprocess.STDOUT)
        vici = os.path.join(self.run, "charon.vici")

        def answers():
            if self.proc.poll() is not None:
                return True
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(vici)
                return True
            except OSError:
                return False
            finally:
                s.close()
        if not wait_for(answers, timeout):
            raise TopoError("charon %s: no vici socket after %ds\n%s" % (
                self.name, timeout, self.log_tail()))
        if self.proc.poll() is not None:
            raise TopoError("charon %s exited %s\n%s" % (self.name, self.proc.returncode,
                                                          self.log_tail()))
        if load:
            self.swanctl("--load-all", "--file", os.path.join(self.dir, "swanctl.conf"))
        return self

    def swanctl(self, *args, timeout=30, check=True):
        p = subprocess.run(["swanctl"] + list(args) + ["--uri", self.vici],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode(errors="replace")
        if check and p.returncode != 0:
            raise TopoError("charon %s: swanctl %s failed (%d):\n%s" % (
                self.name, " ".join(args), p.returncode, out))
        return out

    def list_sas(self):
        return self.swanctl("--list-sas", "--raw")

    def child_sas(self):
        """The installed CHILD_SAs: [(name, local_ts, remote_ts, spi_in, spi_out)]."""
        out = self.swanctl("--list-sas")
        res = []
        cur = None
        for line in out.splitlines():
            m = re.match(r"\s+(\S+): #\d+, reqid \d+, (INSTALLED|REKEYED|ROUTED)", line)
            if m:
                cur = {"name": m.group(1), "state": m.group(2)}
                res.append(cur)
                continue
            if cur is None:
                continue
            m = re.search(r"in\s+([0-9a-f]{8})", line)
            if m and "spi_in" not in cur:
                cur["spi_in"] = m.group(1)
            m = re.search(r"out\s+([0-9a-f]{8})", line)
            if m and "spi_out" not in cur:
                cur["spi_out"] = m.group(1)
            m = re.match(r"\s+local\s+(.+)$", line)
            if m:
                cur["local_ts"] = m.group(1).strip()
            m = re.match(r"\s+remote\s+(.+)$", line)
            if m:
                cur["remote_ts"] = m.group(1).strip()
        return [c for c in res if c["state"] == "INSTALLED"]

    def log_tail(self, n=4000):
        return self.log()[-n:]

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill=False):
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig=signal.SIGKILL if kill else signal.SIGTERM)
        self.proc = None
        return rc



_KEY_HEAD = re.compile(r"\[CHD\] encryption (?:initiator|responder) key => (\d+) bytes")
_KEY_ROW = re.compile(r"\[CHD\]\s+\d+: ((?:[0-9A-F]{2} ){1,16})")


def logged_keys(log):
    """The ESP encryption keys (with the AEAD salt) that a charon logged
    with `chd = 4`, as bytes, in the order logged: each is a line
    "encryption initiator|responder key => N bytes" and hex rows."""
    keys = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        m = _KEY_HEAD.search(line)
        if not m:
            continue
        n, b = int(m.group(1)), b""
        for row in lines[i + 1:]:
            rm = _KEY_ROW.search(row)
            if not rm or len(b) >= n:
                break
            b += bytes.fromhex(rm.group(1).replace(" ", ""))
        if len(b) == n:
            keys.append(b[:n])
    return keys


def flows_charon(t, side, build, rekey=None, holdoff=2, start=True, recovery=True,
                 dpd_delay=None, conns=None, proposals="aes128gcm16"):
    """The charon of gateway @side of a Topo with `pfp` policies in espd's
    config (reqid 1): a trap for the two sites, start_action = trap,
    policies = no (espd's config has them), so each flow's ACQUIRE becomes
    its own CHILD_SA. @rekey: rekey_time in seconds (life_time twice
    that, no jitter), or strongSwan's defaults."""
    from espdtest.topo import SITE, WAN4

    o = "B" if side == "A" else "A"
    c = Charon(t, "g" + side, side, espd_sock=t.gw[side].sock, plugin=plugin_path(build),
               holdoff=holdoff, recovery=recovery)
    kw = {}
    child = []
    if rekey:
        kw = dict(rekey_time="%ds" % rekey, life_time="%ds" % (2 * rekey))
        child.append("      rand_time = 0")
    if dpd_delay:
        kw["dpd_delay"] = "%ds" % dpd_delay
        child.append("      dpd_action = trap")
    # @conns: [(name, reqid, remote port)]: one trap (and so one IKE_SA)
    # each, for the flows to that port of the other site.
    for name, reqid, port in conns or [("flows", 1, None)]:
        lts, rts = SITE[side]["net4"], SITE[o]["net4"]
        ids = {}
        if port:
            if side == "A":
                rts += "[udp/%d]" % port
            else:
                lts += "[udp/%d]" % port
            # Identities of their own: a responder picks the peer config
            # by identity, so several conns between two hosts need them.
            ids = dict(local_id="%s-%s" % (side, name), remote_id="%s-%s" % (o, name))
        c.conn(name, local=WAN4[side], remote=WAN4[o], local_ts=lts, remote_ts=rts,
               start_action="trap", reqid=reqid, policies=False, proposals=proposals,
               extra_child="\n".join(child), **kw, **ids)
    return c.start() if start else c


def restart_outage(t, side, charons, make_charon, sink, sport, timeout=30):
    """Kill gateway @side (its charon, then its espd) while hostA streams
    numbered datagrams from port @sport to @sink (a UdpSink on hostB,
    port 5001), start both again (make_charon() returns the new charon,
    started), and wait for the stream to reach @sink again. Returns a
    dict: ok (the stream flowed before, and again after), t_kill, t_up
    (espd and charon back), first (the first datagram after t_up, or
    None)."""
    import struct
    import threading
    import time

    from espdtest.topo import SITE, ns_socket, wait_for

    g = t.gw[side]
    s = ns_socket(t.ns["hA"], socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((SITE["A"]["host4"], sport))
    stop = threading.Event()
    tag = b"r%d" % sport

    def send():
        i = 0
        while not stop.is_set():
            try:
                s.sendto(tag + struct.pack("!I", i), (SITE["B"]["host4"], 5001))
            except OSError:
                pass
            i += 1
            time.sleep(0.01)
    th = threading.Thread(target=send, daemon=True)
    th.start()
    res = {"ok": False, "t_kill": None, "t_up": None, "first": None}
    try:
        if not wait_for(lambda: any(p.startswith(tag) for p in sink.payloads()), 10):
            return res
        charons[side].stop(kill=True)
        g.kill()
        res["t_kill"] = time.time()
        g.start()
        charons[side] = make_charon()
        res["t_up"] = up = time.time()

        def after():
            with sink.lock:
                return [x[0] for x in sink.got if x[0] > up and x[1].startswith(tag)]
        got = wait_for(after, timeout)
        if got:
            res["first"] = got[0]
            res["ok"] = True
    finally:
        stop.set()
        th.join()
        s.close()
    return res


def run_with_charons(r, t, T, cases):
    """run_cases() @cases on topology @t for a test object @T that keeps
    its charons in T.c and frees its sockets in T.close(); then stop the
    charons and check that the gateways stop cleanly (t.stop_check)."""
    from espdtest.topo import run_cases

    try:
        run_cases(r, cases)
    finally:
        T.close()
        for c in T.c.values():
            c.stop()
    t.stop_check(r)
