#!/usr/bin/python3
"""State commands on a live espd, as a key manager uses them:

  1. `state get ... show-keys` prints the keys that were added, text and
     JSON, for every kind of algorithm (AEAD key with its salt, enc and
     auth-trunc keys, the null cipher), and the keys an update put in;
     no key reaches `state list`;
  2. `state allocspi`, then `state update` of that SPI, makes it live
     (ALLOCSPI then UPDSA, as strongSwan does), only for the reserved dst;
  3. the reservation lasts `set allocspi-expires` seconds: an update
     after that is refused, one before is not;
  4. `route add` / `neigh add` of an existing entry is refused, as the
     same lines in the file are (and by --check).

    PYTHONPATH=tests /usr/bin/python3 tests/ctl/test_state.py [BUILD_DIR]

Prints a line per check, then "state: N passed, M failed".
"""

import sys
import time

from espdtest.run import CtlError, EspdError, LiveEspd, Report

LOCAL, PEER = "172.16.1.5", "172.16.2.5"
CONF = """\
port 0 role protected addr 192.168.1.1/24 mac 02:00:00:00:01:01
port 1 role unprotected addr 172.16.1.5/24 mac 02:00:00:00:02:01
route add 172.16.2.0/24 port 1 via 172.16.1.1
neigh add 172.16.1.1 lladdr 02:00:00:00:02:fe port 1
"""
GCM = bytes(range(1, 21))                       # key + salt
CHACHA = bytes(range(0x40, 0x40 + 36))          # key + salt
CBC = bytes(range(0x10, 0x20))
SHA256 = bytes(range(0x80, 0xa0))
SHA1 = bytes(range(0xc0, 0xd4))

# spi: (algorithm words, expected text line(s), expected JSON keys)
ALGOS = {
    0x3001: (["aead", "rfc4106(gcm(aes))", "0x" + GCM.hex(), "128"],
             ["aead rfc4106(gcm(aes)) 0x%s 128" % GCM.hex()],
             {"enc": "0x" + GCM.hex()}),
    0x3002: (["aead", "rfc7539esp(chacha20,poly1305)", "0x" + CHACHA.hex(), "128"],
             ["aead rfc7539esp(chacha20,poly1305) 0x%s 128" % CHACHA.hex()],
             {"enc": "0x" + CHACHA.hex()}),
    0x3003: (["enc", "cbc(aes)", "0x" + CBC.hex(),
              "auth-trunc", "hmac(sha256)", "0x" + SHA256.hex(), "128"],
             ["enc cbc(aes) 0x%s" % CBC.hex(),
              "auth-trunc hmac(sha256) 0x%s 128" % SHA256.hex()],
             {"enc": "0x" + CBC.hex(), "auth": "0x" + SHA256.hex()}),
    0x3004: (["enc", "cipher_null", "", "auth-trunc", "hmac(sha1)", "0x" + SHA1.hex(), "96"],
             ["auth-trunc hmac(sha1) 0x%s 96" % SHA1.hex()],
             {"enc": "", "auth": "0x" + SHA1.hex()}),
}


def sa_id(spi, src=LOCAL, dst=PEER):
    return ["src", src, "dst", dst, "proto", "esp", "spi", "0x%x" % spi]


def refused(gw, words):
    """The error espd gives for @words, or None when it accepts them."""
    try:
        gw.ctl(*words, json_out=False)
    except CtlError as e:
        return str(e)
    return None


def show_keys(r, gw):
    for spi, (algo, _, _) in ALGOS.items():
        gw.ctl("state", "add", *sa_id(spi), "reqid", "3", *algo, json_out=False)
    for spi, (_, lines, keys) in ALGOS.items():
        text = gw.ctl("state", "get", *sa_id(spi), "show-keys", json_out=False)
        got = [ln.strip() for ln in text.splitlines()]
        r.check(all(ln in got for ln in lines),
                "1: show-keys (text) prints the key added, SPI 0x%x" % spi, lines, text)
        j = gw.ctl("state", "get", *sa_id(spi), "show-keys")
        r.equal(j.get("keys"), keys, "1: show-keys (JSON) gives the key added, SPI 0x%x" % spi)
        j = gw.ctl("state", "get", *sa_id(spi))
        r.check("keys" not in j, "1: without show-keys no key, SPI 0x%x" % spi, j)
    new = bytes(range(0xe0, 0xf4))
    gw.ctl("state", "update", *sa_id(0x3001), "aead", "rfc4106(gcm(aes))", "0x" + new.hex(),
           "128", json_out=False)
    j = gw.ctl("state", "get", *sa_id(0x3001), "show-keys")
    r.equal(j.get("keys"), {"enc": "0x" + new.hex()}, "1: after an update, its keys")
    listing = gw.ctl("state", "list", json_out=False) + str(gw.ctl("state", "list"))
    secrets = [GCM, CHACHA, CBC, SHA256, SHA1, new]
    r.check(not any(k.hex() in listing for k in secrets) and "keys" not in listing,
            "1: state list (text and JSON) shows no key")


def allocspi_update(r, gw):
    spi = int(gw.ctl("state", "allocspi", "src", PEER, "dst", LOCAL, "proto", "esp",
                     "reqid", "4")["spi"], 16)
    gcm = ["aead", "rfc4106(gcm(aes))", "0x" + GCM.hex(), "128"]
    err = refused(gw, ["state", "update"] + sa_id(spi, PEER, "172.16.1.6") + gcm)
    r.check(err is not None and "no SA with that dst" in err,
            "2: update of a reserved SPI for another dst is refused", err)
    err = refused(gw, ["state", "update"] + sa_id(spi, PEER, LOCAL) + ["reqid", "4"] + gcm)
    r.check(err is None, "2: allocspi then state update makes the SPI live", err)
    try:
        j = gw.ctl("state", "get", *sa_id(spi, PEER, LOCAL))
    except CtlError as e:
        j = {"error": str(e)}
    r.check(j.get("dir") == "in" and j.get("reqid") == 4,
            "2: the SA is there, inbound, with its reqid", j)


def allocspi_expires(r, gw):
    gcm = ["aead", "rfc4106(gcm(aes))", "0x" + GCM.hex(), "128"]
    gw.ctl("set", "allocspi-expires", "2", json_out=False)
    # Two reservations: the first is used inside the 2 s, the second is
    # tried until it is refused, which must not happen before 2 s.
    asked = time.time()
    spis = [int(gw.ctl("state", "allocspi", "src", PEER, "dst", LOCAL, "proto",
                       "esp")["spi"], 16) for _ in range(2)]
    err = refused(gw, ["state", "update"] + sa_id(spis[0], PEER, LOCAL) + gcm)
    inside = time.time() - asked
    r.check(err is None or inside >= 2.0,
            "3: within allocspi-expires the reserved SPI can be made live", err)
    gone = None
    while time.time() - asked < 15:
        # A query that does not consume the reservation: an update
        # without keys is refused either way, with a message that says
        # whether the SPI is still held.
        err = refused(gw, ["state", "update"] + sa_id(spis[1], PEER, LOCAL) +
                      ["limit", "time-hard", "9"])
        if err is not None and "no SA with that dst" in err:
            gone = time.time() - asked
            break
        time.sleep(0.05)
    r.check(gone is not None and gone >= 2.0,
            "3: the reservation lapses after allocspi-expires (2 s), not before",
            "after %s s" % ("%.2f" % gone if gone is not None else "never"))
    gw.ctl("set", "allocspi-expires", "300", json_out=False)


def duplicates(r, gw):
    err = refused(gw, ["route", "add", "172.16.2.0/24", "port", "0"])
    r.check(err is not None and "exists" in err, "4: route add of an existing prefix "
            "is refused", err)
    err = refused(gw, ["neigh", "add", "172.16.1.1", "lladdr", "02:00:00:00:02:fd",
                       "port", "1"])
    r.check(err is not None and "exists" in err, "4: neigh add of an existing neighbour "
            "is refused", err)
    err = refused(gw, ["route", "add", "172.16.3.0/24", "port", "1", "via", "172.16.1.1"])
    r.check(err is None, "4: a new route is taken", err)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else None
    r = Report("state")
    try:
        with LiveEspd(CONF, build=build) as gw:
            for phase in (show_keys, allocspi_update, allocspi_expires, duplicates):
                try:
                    phase(r, gw)
                except (CtlError, KeyError, ValueError) as e:
                    r.check(False, "%s raised" % phase.__name__, e)
            r.check(gw.alive(), "espd still runs")
    except EspdError as e:
        r.check(False, "espd start", e)
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
