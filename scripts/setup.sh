#!/usr/bin/env bash
# Install every Debian 12 package espd needs (once; idempotent) and build.
#   scripts/setup.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}

pkgs=(
	build-essential pkg-config meson ninja-build git
	libdpdk-dev dpdk-dev dpdk-doc
	libipsec-mb-dev libjansson-dev libpcap-dev
	libcunit1-dev libbenchmark-dev
	python3-scapy python3-cryptography python3-matplotlib
	clang llvm libclang-rt-14-dev iproute2 tcpdump nftables strace procps
	libxdp-dev libbpf-dev libcap2-bin
	strongswan-charon strongswan-swanctl libcharon-extra-plugins
	libstrongswan-extra-plugins libstrongswan-standard-plugins bzip2 conntrack
	libgmp-dev libssl-dev
)
# Installed without their Recommends, so what a Recommends would bring
# is named: python3-cryptography (scapy's ESP ciphers), libclang-rt-14-dev
# (clang's sanitizer and fuzzer runtimes), libgmp-dev and libssl-dev
# (strongSwan's configure, for kernel-espd), procps (sysctl).

sudo=
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends "${missing[@]}"
fi

# kernel-espd, the charon plugin, compiles against Debian's strongSwan
# source (scripts/strongswan-src.sh): without it, espd is built without
# the plugin and the IKE tests skip with the reason.
ss_src=
if ss_src=$(scripts/strongswan-src.sh "$builddir-strongswan-src"); then
	echo "setup: strongSwan source in $ss_src"
else
	echo "setup: kernel-espd (the charon plugin) will not be built"
	ss_src=
fi

if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" -Dtests=enabled -Dbench=enabled -Dstrongswan_src="$ss_src"
elif [ "$(meson introspect --buildoptions "$builddir" | /usr/bin/python3 -c \
	'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "strongswan_src"][0])')" != "$ss_src" ]; then
	meson configure "$builddir" -Dstrongswan_src="$ss_src"
fi
ninja -C "$builddir"
echo "setup: built $builddir/espd and $builddir/espctl"
