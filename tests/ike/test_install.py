#!/usr/bin/python3
"""`meson install` puts kernel-espd where Debian's charon finds it, and
Debian's own configuration then loads it first.

`meson install --destdir` into a temporary directory; then charon runs
with Debian's default strongswan.conf and strongswan.d (plus the
installed kernel-espd.conf) and Debian's plugins (plus the installed
one), bind-mounted in a private mount namespace of a network namespace
of its own: nothing on the machine changes.

  installed  the plugin in /usr/lib/ipsec/plugins, kernel-espd.conf in
             /etc/strongswan.d/charon
  loaded     charon lists kernel-espd among its plugins, before
             kernel-netlink (load_modular priority), and kernel-espd is the
             one that took kernel-ipsec (it says it drives espd)

    PYTHONPATH=tests /usr/bin/python3 tests/ike/test_install.py [BUILD_DIR]
"""

import os
import shutil
import subprocess
import sys
import tempfile

from espdtest.charon import CHARON, STOCK_PLUGINS, PLUGIN_NAME, missing, plugin_path
from espdtest.topo import proc_prefix, wait_for, default_build
from espdtest.run import Report, stop_process


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default_build())
    why = missing() or (None if os.path.exists(plugin_path(build)) else
                        "kernel-espd was not built (no strongSwan source)")
    if why:
        print("SKIP install: %s" % why)
        return 77
    r = Report("install")
    wd = tempfile.mkdtemp(prefix="espd-install-")
    ns = "%sinst" % proc_prefix()
    proc = None
    try:
        dest = os.path.join(wd, "dest")
        p = subprocess.run(["meson", "install", "-C", build, "--destdir", dest],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        so = os.path.join(dest, STOCK_PLUGINS.lstrip("/"), PLUGIN_NAME)
        conf = os.path.join(dest, "etc/strongswan.d/charon/kernel-espd.conf")
        r.check(p.returncode == 0 and os.path.exists(so) and os.path.exists(conf),
                "installed: %s and /etc/strongswan.d/charon/kernel-espd.conf" % (
                    os.path.join(STOCK_PLUGINS, PLUGIN_NAME)),
                p.stdout.decode(errors="replace")[-1500:])
        # Debian's configuration and plugins, plus what was installed.
        run, plugins, sd = (os.path.join(wd, d) for d in ("run", "plugins", "sd"))
        os.makedirs(run)
        shutil.copytree("/etc/strongswan.d", sd)
        shutil.copy(conf, os.path.join(sd, "charon"))
        os.makedirs(plugins)
        for f in os.listdir(STOCK_PLUGINS):
            shutil.copy(os.path.join(STOCK_PLUGINS, f), plugins)
        shutil.copy(so, plugins)
        subprocess.run(["ip", "netns", "add", ns], check=True)
        out = open(os.path.join(wd, "charon.out"), "w")
        script = ("mount --bind %s /run && mount --bind %s %s && mount --bind %s "
                  "/etc/strongswan.d && exec %s" % (run, plugins, STOCK_PLUGINS, sd, CHARON))
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "-m", "--propagation",
                                 "private", "sh", "-c", script], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        vici = "unix://" + os.path.join(run, "charon.vici")

        def stats():
            q = subprocess.run(["swanctl", "--stats", "--uri", vici], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
            return q.stdout.decode(errors="replace") if q.returncode == 0 else None
        st = wait_for(stats, 20, step=0.2) or ""
        names = st.split("loaded plugins:")[-1].split() if "loaded plugins:" in st else []
        order = (names.index("kernel-espd") < names.index("kernel-netlink")
                 if "kernel-espd" in names and "kernel-netlink" in names else False)
        r.check(order, "loaded: Debian's charon loads kernel-espd before kernel-netlink",
                " ".join(names) or st)
        stop_process(proc)
        # charon's console log is buffered: read it once charon is gone.
        with open(os.path.join(wd, "charon.out")) as f:
            log = f.read()
        r.check("kernel-espd drives espd at /run/espd/espd.sock" in log,
                "loaded: kernel-espd took kernel-ipsec, on the default socket", log[-1500:])
    finally:
        if proc is not None:
            stop_process(proc)
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
    r.check(ns not in subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                                     universal_newlines=True).stdout,
            "cleanup: no namespace left")
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
