#!/usr/bin/env bash
# Fetch and configure Debian 12's strongSwan 5.9.8 source, which the
# kernel-espd charon plugin compiles against (its structs must match
# Debian's build exactly, so headers from another version will not do).
#   scripts/strongswan-src.sh [DIR]      (default: build/strongswan-src)
# Prints the configured source directory on success. Exits 1 with the
# reason on stderr where the source package cannot be had (no deb-src
# access): the plugin and its tests are then skipped, not failed.
# Nothing is added to the machine's APT sources: a private deb-src list
# and package lists live under DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/strongswan-src}
ver=5.9.8
src="$dir/strongswan-$ver"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src="$dir/strongswan-$ver"

if [ -f "$src/.espd-configured" ]; then
	echo "$src"
	exit 0
fi

if [ ! -f "$src/configure" ]; then
	mkdir -p "$dir/apt/lists/partial" "$dir/apt/sources"
	# The archives this machine's own sources name, as deb-src.
	cat > "$dir/apt/sources/debsrc.sources" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt/sources"
	      -o "Dir::State::Lists=$dir/apt/lists" -o Debug::NoLocking=1)
	if ! apt-get "${opts[@]}" update -q >"$dir/apt.log" 2>&1; then
		echo "strongswan-src: cannot read Debian's deb-src lists (see $dir/apt.log)" >&2
		exit 1
	fi
	# The upstream tarball is all the plugin needs (Debian's patches do
	# not touch the plugin interface); --download-only, so no dpkg-dev.
	(cd "$dir" && apt-get "${opts[@]}" source --download-only strongswan >>"$dir/apt.log" 2>&1) || true
	tarball=$(ls "$dir"/strongswan_"$ver".orig.tar.* 2>/dev/null | head -n 1 || true)
	if [ -z "$tarball" ]; then
		echo "strongswan-src: could not download strongswan $ver's source (see $dir/apt.log)" >&2
		exit 1
	fi
	tar -xf "$tarball" -C "$dir"
fi

# Debian's configure options that change the plugin ABI: --enable-mediation
# changes daemon_t, ike_sa_t and peer_cfg_t.
if ! (cd "$src" && ./configure --prefix=/usr --sysconfdir=/etc --libdir=/usr/lib \
	--libexecdir=/usr/lib --enable-mediation --enable-kernel-libipsec \
	--enable-openssl --enable-gcm --enable-swanctl) >"$dir/configure.log" 2>&1; then
	echo "strongswan-src: configure failed (see $dir/configure.log)" >&2
	exit 1
fi
touch "$src/.espd-configured"
echo "$src"
