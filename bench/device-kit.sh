#!/usr/bin/env bash
# Worker scaling (issue 13) on a machine with more cores that has neither
# DPDK, IPsec-MB, scapy nor a network: the device machine, or any
# Debian 12 x86-64 box.
#
#   bench/device-kit.sh pack    here, as root: static builds of espd and
#                               ipsec-secgw, the shared libraries they
#                               still load, and the pcaps, gzipped into
#                               devkit/ (git-ignored, under 64 MiB)
#   bench/device-kit.sh run     there, as root, from the repository root
#                               with devkit/ beside it: unpacks into
#                               build-kit-run/ and runs
#                               bench_gateway.py --workers $KIT_WORKERS
#                               (default 1,2,4,8); results to $OUT (or
#                               devkit/out)
#
# On the device machine, one call:
#   run(command="bash bench/device-kit.sh run", carry=["devkit"], timeout_s=600)
# It takes about 7 minutes there (4 cases x 4 worker counts x 2 gateways
# x 2 rounds, and a verification pass per worker count; then outbound 64 B
# with one SA for every queue, --shared-sa, with espd's default `set
# out-sa owner` and with `shared`). KIT_ONLY, KIT_ROUNDS,
# KIT_WINDOW change what it runs, KIT_PYTHON the interpreter. Without
# scapy there, outbound frames are verified by their headers only.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=devkit
bld=build-kit
cases=${KIT_ONLY:-"gcm-128 64,gcm-128 1420"}
workers=${KIT_WORKERS:-1,2,4,8}
die() { echo "device-kit: $*" >&2; exit 1; }

pack() {
	[ "$(id -u)" -eq 0 ] || die "run as root (the pcaps' verification runs DPDK)"
	if [ ! -f "$bld/build.ninja" ]; then
		meson setup "$bld" -Dbuildtype=release -Dstatic_dpdk=true \
			-Dstatic_ipsecmb=true -Db_lto=true -Dtests=disabled \
			-Dbench=disabled >/dev/null
	fi
	ninja -C "$bld" espd >/dev/null
	# ipsec-secgw: scripts/build-secgw.sh copies and patches the source,
	# then its Makefile's static target, without the libraries no .so
	# here provides (as meson.build does for espd).
	scripts/build-secgw.sh "$bld"
	local src=$bld/ipsec-secgw-src/ipsec-secgw
	if [ ! -x "$src/build/ipsec-secgw-static" ]; then
		make -C "$src" static \
			LDFLAGS_STATIC="$(pkg-config --static --libs libdpdk | sed 's/ -lsystemd//g')" \
			>"$bld/secgw-static.log" 2>&1 ||
			{ tail -n 20 "$bld/secgw-static.log"; die "static ipsec-secgw failed"; }
	fi
	# The pcaps, one per queue, made with scapy here.
	PYTHONPATH=tests:bench /usr/bin/python3 bench/bench_gateway.py "$bld" \
		--workers "$(echo "$workers" | tr ',' '\n' | sort -n | tail -1)" \
		--only "$cases" --pcaps-only >/dev/null
	rm -rf "$kit"
	mkdir -p "$kit/lib" "$kit/pcaps"
	strip -o "$kit/espd" "$bld/espd"
	strip -o "$kit/ipsec-secgw" "$src/build/ipsec-secgw-static"
	# What the static binaries still load, less glibc's own.
	ldd "$kit/espd" "$kit/ipsec-secgw" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
		sort -u | grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv)\.so' |
		while read -r l; do cp -L "$l" "$kit/lib/"; done
	cp "$bld/bench-gw/"*.pcap "$bld/bench-gw/pcaps.version" "$kit/pcaps/"
	gzip -9 "$kit/espd" "$kit/ipsec-secgw" "$kit/lib/"* "$kit/pcaps/"*.pcap
	printf 'cases=%s\nworkers=%s\nmade=%s\ncommit=%s\n' "$cases" "$workers" \
		"$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD)" >"$kit/KIT"
	local mb
	mb=$(du -sm "$kit" | cut -f1)
	echo "device-kit: $kit/ is $mb MiB ($(ls "$kit/pcaps" | wc -l) pcaps, $(ls "$kit/lib" | wc -l) libraries)"
	[ "$mb" -lt 64 ] || die "$kit/ is over the 64 MiB a device call carries"
}

run() {
	[ -f "$kit/KIT" ] || die "no $kit/KIT: run 'bench/device-kit.sh pack' first, and carry $kit"
	local out=${OUT:-$kit/out} r=build-kit-run rc=0
	rm -rf "$r"
	mkdir -p "$r/bench-gw" "$r/lib" "$out"
	gunzip -c "$kit/espd.gz" >"$r/espd"
	gunzip -c "$kit/ipsec-secgw.gz" >"$r/ipsec-secgw"
	chmod +x "$r/espd" "$r/ipsec-secgw"
	for f in "$kit/lib/"*.gz; do gunzip -c "$f" >"$r/lib/$(basename "$f" .gz)"; done
	for f in "$kit/pcaps/"*.gz; do gunzip -c "$f" >"$r/bench-gw/$(basename "$f" .gz)"; done
	cp "$kit/pcaps/pcaps.version" "$r/bench-gw/"
	export LD_LIBRARY_PATH=$PWD/$r/lib
	"$r/espd" --version >/dev/null 2>&1 || {
		"$r/espd" --version || true
		ldd "$r/espd" | grep 'not found' || true
		die "espd does not start here"
	}
	{
		cat "$kit/KIT"
		uname -a
		nproc
		lscpu
		grep -i huge /proc/meminfo || true
	} >"$out/machine.txt" 2>&1
	local py=${KIT_PYTHON:-/usr/bin/python3}
	[ -x "$py" ] || py=$(command -v python3)
	PYTHONUNBUFFERED=1 PYTHONPATH=tests:bench "$py" bench/bench_gateway.py "$r" \
		--workers "$workers" --only "$cases" --rounds "${KIT_ROUNDS:-2}" \
		--warmup 0.5 --window "${KIT_WINDOW:-1}" --out "$out" 2>&1 | tee "$out/scaling.txt" ||
		rc=1
	# One tunnel for every queue: the owner does the crypto, the others
	# hand it their packets.
	PYTHONUNBUFFERED=1 PYTHONPATH=tests:bench "$py" bench/bench_gateway.py "$r" \
		--workers "$workers" --shared-sa --only "out aes-gcm-128 64" \
		--rounds "${KIT_ROUNDS:-2}" --warmup 0.5 --window "${KIT_WINDOW:-1}" \
		--out "$out" 2>&1 | tee "$out/scaling-shared.txt" || rc=1
	# The same tunnel with `set out-sa shared`: every worker encrypts.
	PYTHONUNBUFFERED=1 PYTHONPATH=tests:bench "$py" bench/bench_gateway.py "$r" \
		--workers "$workers" --shared-sa --out-sa shared --only "out aes-gcm-128 64" \
		--rounds "${KIT_ROUNDS:-2}" --warmup 0.5 --window "${KIT_WINDOW:-1}" \
		--out "$out" 2>&1 | tee "$out/scaling-shared-any.txt" || rc=1
	return "$rc"
}

case ${1:-} in
pack) pack ;;
run) run ;;
*) sed -n '2,22p' "$0"; exit 2 ;;
esac
