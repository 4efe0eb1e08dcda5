#!/usr/bin/env bash
# Build DPDK's examples/ipsec-secgw (from Debian's dpdk-doc) against the
# installed libdpdk, as a peer and baseline for espd. The source is copied
# into BUILD_DIR and patched there; none of it enters the tree.
#   scripts/build-secgw.sh BUILD_DIR   ->  BUILD_DIR/ipsec-secgw
# Skips the build when BUILD_DIR/ipsec-secgw already exists.
# SECGW_SRC overrides where the examples are (default /usr/share/dpdk/examples).
set -eu
die() { echo "build-secgw: $*" >&2; exit 1; }
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
b=$1
src=${SECGW_SRC:-/usr/share/dpdk/examples}
bin="$b/ipsec-secgw"

if [ -x "$bin" ]; then
	exit 0
fi
mkdir -p "$b"
# Callers may race (a test and a benchmark): one builds, the others wait.
exec 9>"$b/.ipsec-secgw.lock"
flock 9
if [ -x "$bin" ]; then
	exit 0
fi
[ -f "$src/ipsec-secgw/ipsec-secgw.c" ] ||
	die "no ipsec-secgw source under $src (install dpdk-doc)"
command -v make >/dev/null || die "make not found"
pkg-config --exists libdpdk || die "pkg-config finds no libdpdk (install libdpdk-dev)"

w="$b/ipsec-secgw-src"
rm -rf "$w"
mkdir -p "$w"
# The Makefile adds -I../common, so keep the examples/ layout.
cp -r "$src/ipsec-secgw" "$src/common" "$w/"

# No vdev offers RX checksum offload; ipsec-secgw refuses to start when
# port_conf asks for it.
c="$w/ipsec-secgw/ipsec-secgw.c"
grep -q '\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,' "$c" ||
	die "cannot find the RX checksum offload request in $c to patch"
sed -i 's/\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0,/' "$c"

log="$w/build.log"
echo "build-secgw: building ipsec-secgw in $w (log $log)" >&2
if ! make -C "$w/ipsec-secgw" >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	die "make failed; see $log"
fi
cp "$w/ipsec-secgw/build/ipsec-secgw-shared" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "build-secgw: built $bin" >&2
