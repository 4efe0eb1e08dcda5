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
	python3-scapy python3-matplotlib clang llvm iproute2 tcpdump nftables
)

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

if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" -Dtests=enabled -Dbench=enabled
fi
ninja -C "$builddir"
echo "setup: built $builddir/espd and $builddir/espctl"
