#!/usr/bin/env bash
# CLI checks of espd and espctl that need no traffic: --version, --check on
# a good and a bad file, espctl's local parse errors, the README's two
# commands. Run from the top of the tree:
#   tests/cli/test_cli.sh [BUILD_DIR]
set -u
cd "$(dirname "$0")/../.."
b=${1:-build}
fail=0
t() {	# t NAME EXPECTED_RC EXPECTED_OUTPUT_REGEX CMD...
	local name=$1 want_rc=$2 want=$3
	shift 3
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want_rc" ] || ! grep -Eq -- "$want" <<<"$out"; then
		echo "FAIL $name: rc=$rc (want $want_rc), output:"
		sed 's/^/    /' <<<"$out"
		fail=1
	else
		echo "ok   $name"
	fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t "espd --version" 0 '^espd [0-9.]+ \(DPDK 22\.11.*intel-ipsec-mb 1\.[0-9.]+\)$' "$b/espd" --version
t "espctl --version" 0 '^espctl [0-9.]+$' "$b/espctl" --version

cp examples/gateway-a.conf "$tmp/good.conf"
t "check good config" 0 '^configuration OK$' "$b/espd" -- -c "$tmp/good.conf" --check

cat >"$tmp/bad.conf" <<'CONF'
port 0 role protected addr 192.168.1.1/24
# a comment
state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1000 \
	aead 'rfc4106(gcm(aes))' 0x0102 128
policy add src 10.0.0.0/8 dst 10.1.0.0/16 dir sideways
CONF
t "check bad config: line of the continued command" 1 "bad.conf:3: error" "$b/espd" -c "$tmp/bad.conf" --check
t "check bad config: every error" 1 "bad.conf:5: error.*sideways" "$b/espd" -c "$tmp/bad.conf" --check
t "check missing file" 1 "nonexistent" "$b/espd" -c "$tmp/nonexistent.conf" --check
t "espd without -c" 2 "-c FILE is required" "$b/espd" --check
t "espd bad --exit-idle" 2 "exit-idle" "$b/espd" -- -c x --exit-idle abc
t "espd bad --mbufs" 2 "mbufs: expected 1023" "$b/espd" -- -c x --mbufs 100
t "espd bad --mbufs word" 2 "mbufs: expected" "$b/espd" -- -c x --mbufs lots
# espctl: one line on stderr for any error (DESIGN.md), getopt's own too.
lines() {	# lines CMD...: its exit status, its stderr's line count, that stderr
	local err rc
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	echo "$rc $(wc -l <<<"$err") $err"
}
t "espctl unknown option: exit 2, one line" 0 "^2 1 espctl: unknown option '-x'" \
	lines "$b/espctl" -x state list
t "espctl option without its value: exit 2, one line" 0 \
	"^2 1 espctl: option needs a value '-s'" lines "$b/espctl" -s
t "espctl parse error names the word" 1 "error: .*'bogus'" "$b/espctl" state add src 1.2.3.4 dst 1.2.3.5 proto esp spi 0x1000 flag bogus
t "espctl no daemon" 1 "cannot connect to $tmp/none.sock" "$b/espctl" -s "$tmp/none.sock" state list
t "espctl --help: the grammar, exit 0" 0 '^state add src IP dst IP proto esp spi SPI' \
	"$b/espctl" --help
t "espd: EAL options without --" 2 'EAL.s arguments go before "--"' \
	"$b/espd" --no-huge -c "$tmp/good.conf"
t "espd: --crypto-dev-depth alone" 2 'crypto-dev-depth needs --crypto-dev' \
	"$b/espd" -- -c "$tmp/good.conf" --crypto-dev-depth 64
t "espd: --stats-json that cannot be written, before start" 1 \
	"stats-json $tmp/no/dir/s.json: No such file" \
	"$b/espd" -- -c "$tmp/good.conf" --stats-json "$tmp/no/dir/s.json"
# The control socket: a file at -s's path that is not a socket is left
# alone; a missing directory is made with its parents; espd removes only
# its own socket at exit.
cat >"$tmp/two.conf" <<'CONF'
port 0 role protected addr 192.168.1.1/24
port 1 role unprotected addr 172.16.1.5/24
CONF
eal=(--no-huge --no-pci -l 0,1 -m 256 --file-prefix "espdcli$$"
     --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1)
echo precious >"$tmp/precious"
t "espd --crypto-dev naming a network port: said so" 1 'net_null0: that is a network port' \
	"$b/espd" "${eal[@]}" -- -c "$tmp/two.conf" -s "$tmp/cd.sock" --crypto-dev net_null0
t "espd -s naming a file that is not a socket: refused" 1 'precious: exists and is not a socket' \
	"$b/espd" "${eal[@]}" -- -c "$tmp/two.conf" -s "$tmp/precious" --exit-idle 100
t "... and the file is untouched" 0 '^precious$' cat "$tmp/precious"
t "espd -s in a missing directory: made with its parents, counters written" 0 '"stats"|Bypass' \
	bash -c '"$1" "${@:4}" -- -c "$2" -s "$3/d1/d2/s.sock" --exit-idle 100 --stats-json "$3/st.json" \
		>/dev/null && [ -d "$3/d1/d2" ] && [ ! -e "$3/d1/d2/s.sock" ] && cat "$3/st.json"' \
	bash "$b/espd" "$tmp/two.conf" "$tmp" "${eal[@]}"
# espd_up SOCK: espd on two.conf in the background (its pid in
# espd_pid, leaving after 4 s idle), answering on SOCK, not only bound.
espd_up() {
	local i
	"$b/espd" "${eal[@]}" -- -c "$tmp/two.conf" -s "$1" --exit-idle 4000 >/dev/null 2>&1 &
	espd_pid=$!
	for i in $(seq 100); do
		"$b/espctl" -s "$1" stats >/dev/null 2>&1 && break
		sleep 0.1
	done
}
# A monitor that espd closes (it stopped) ends in an error, not in 0.
mon_end() {
	local rc err
	espd_up "$tmp/m.sock"
	err=$("$b/espctl" -s "$tmp/m.sock" monitor 2>&1 >/dev/null)
	rc=$?
	wait "$espd_pid"
	echo "rc=$rc $err"
}
t "espctl monitor: espd going away is an error" 0 '^rc=1 espctl: espd closed the monitor' mon_end
# espctl -b FILE: checked whole first (a typo sends nothing), then one
# batch; espd's errors name their line, the rest is applied.
cat >"$tmp/bad.batch" <<'B'
# two lines, the second wrong
policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out action block
policy add src 10.1.0.0/16 dst 10.3.0.0/16 dir sideways
B
t "espctl -b: a typo on line 3, nothing sent (no espd needed)" 1 \
	"bad.batch:3: error: .*sideways.*|bad.batch: 1 error, nothing sent" \
	"$b/espctl" -s "$tmp/none.sock" -b "$tmp/bad.batch"
cat >"$tmp/good.batch" <<'B'
state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 reqid 1 \
	aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
state add src 172.16.2.5 dst 172.16.1.5 proto esp spi 0x1002 dir in reqid 1 aead 'rfc4106(gcm(aes))' 0x1102030405060708090a0b0c0d0e0f1011121314 128
state add src 172.16.1.5 dst 172.16.2.5 proto esp spi 0x1001 reqid 1 aead 'rfc4106(gcm(aes))' 0x2102030405060708090a0b0c0d0e0f1011121314 128
policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out tmpl src 172.16.1.5 dst 172.16.2.5 proto esp reqid 1
policy add src 192.168.2.0/24 dst 192.168.1.0/24 dir fwd tmpl src 172.16.2.5 dst 172.16.1.5 proto esp reqid 1
state count
B
batch_run() {
	espd_up "$tmp/b.sock"
	"$b/espctl" -s "$tmp/b.sock" -b "$tmp/good.batch"
	echo "rc=$?"
	echo "count=$("$b/espctl" -s "$tmp/b.sock" -j state count)"
	echo "policies=$("$b/espctl" -s "$tmp/b.sock" -j policy list | grep -o '"dir"' | wc -l)"
	# From stdin, JSON answers.
	printf 'state count\nstats\n' | "$b/espctl" -s "$tmp/b.sock" -j -b - | head -c 40
	echo
	kill "$espd_pid"
	wait "$espd_pid"
}
out=$(batch_run 2>&1)
t "espctl -b: line 4's SA exists, said with its line (1-2 continue)" 0 \
	'good.batch:4: error: .*exists' echo "$out"
t "espctl -b: exit 1 after an error, the state count the batch asked for printed" 0 \
	'^count 2$' grep -A1 -x '.*exists' <<<"$out"
t "espctl -b: two SAs and two policies in effect" 0 \
	'rc=1' bash -c 'grep -q "^count=.*2" <<<"$1" && grep -q "^policies=2$" <<<"$1" && echo "$1"' \
	bash "$out"
t "espctl -b -: from stdin" 0 '^[{\[]' bash -c 'sed -n "/^policies=/{n;p}" <<<"$1"' bash "$out"
t "espctl -b with a command too: usage" 2 'takes no command' \
	"$b/espctl" -b "$tmp/good.batch" state count
# An espd that answers once and closes mid-batch (too many clients, a
# stop): said on stderr, with its answer; not a silent SIGPIPE.
early_close() {
	local i
	for i in $(seq 20000); do
		echo "policy add src 10.$((i / 256 % 256)).$((i % 256)).0/24 dst 10.9.0.0/16 dir out action block"
	done >"$tmp/big.batch"
	/usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); c.recv(100); c.sendall(b"error: too many clients\n"); c.close()
' "$tmp/early.sock" >"$tmp/early.out" &
	for i in $(seq 50); do grep -q ready "$tmp/early.out" 2>/dev/null && break; sleep 0.1; done
	local out rc
	out=$("$b/espctl" -s "$tmp/early.sock" -b "$tmp/big.batch" 2>&1)
	rc=$?
	echo "$(tr '\n' '|' <<<"$out") rc=$rc"
	wait
}
t "espctl -b: espd closing early is said, its answer shown, exit 1" 0 \
	'big.batch:1: error: too many clients\|.*closed the connection after 1 of 20000.* rc=1$' \
	early_close
# espctl -t: an espd that accepts and never answers ends espctl after
# SECONDS, said (a script is not hung by a wedged espd), for one command
# and for a batch; a monitor's events have no time limit, only its "ok".
silent() {
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
print("ready", flush=True)
cs = [s.accept()[0] for _ in range(2)]
time.sleep(30)
' "$tmp/silent.sock" >"$tmp/silent.out" &
	local pid=$! i t0
	for i in $(seq 50); do grep -q ready "$tmp/silent.out" 2>/dev/null && break; sleep 0.1; done
	t0=$(date +%s%N)
	"$b/espctl" -t 1 -s "$tmp/silent.sock" state list
	echo "rc=$?"
	"$b/espctl" -t 1 -s "$tmp/silent.sock" -b "$tmp/good.batch"
	echo "rc=$? ms=$((($(date +%s%N) - t0) / 1000000))"
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
}
out=$(silent 2>&1)
t "espctl -t 1: a silent espd ends a command and a batch, said, exit 1" 0 	'no answer from espd in 1 s' bash -c '[ "$(grep -c "no answer from espd in 1 s" <<<"$1")" = 2 ] &&
		[ "$(grep -c "^rc=1" <<<"$1")" = 2 ] &&
		ms=$(sed -n "s/.* ms=//p" <<<"$1") && [ "$ms" -lt 4000 ] && echo "$1"' bash "$out"
t "espctl -t: not a number of seconds" 2 "-t 'soon': seconds from 0" "$b/espctl" -t soon state list
# ... and an espd that accepts no connection at all (its backlog full):
# the connect has the limit too, for every espctl after the first.
no_accept() {
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0)
print("ready", flush=True)
time.sleep(30)
' "$tmp/full.sock" >"$tmp/full.out" &
	local pid=$! i t0 rc
	for i in $(seq 50); do grep -q ready "$tmp/full.out" 2>/dev/null && break; sleep 0.1; done
	t0=$(date +%s%N)
	for i in 1 2 3; do
		timeout 5 "$b/espctl" -t 1 -s "$tmp/full.sock" state count
		rc=$?
		echo "rc=$rc"
	done
	echo "ms=$((($(date +%s%N) - t0) / 1000000))"
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
}
out=$(no_accept 2>&1)
t "espctl -t 1: an espd that accepts nothing ends three espctl, each said, exit 1" 0 \
	'accepts no connection' bash -c '[ "$(grep -c "^rc=1$" <<<"$1")" = 3 ] &&
		ms=$(sed -n "s/^ms=//p" <<<"$1") && [ "$ms" -lt 9000 ] && echo "$1"' bash "$out"
mon_quiet() {
	espd_up "$tmp/q.sock"
	timeout 2.5 "$b/espctl" -t 1 -s "$tmp/q.sock" monitor
	echo "rc=$?"
	kill "$espd_pid"
	wait "$espd_pid"
}
t "espctl -t 1 monitor: quiet for 2.5 s and still listening" 0 '^rc=124$' mon_quiet
rm -rf "/var/run/dpdk/espdcli$$"
# control/thp.c: espd starts itself again with glibc's huge-page tunable:
# THP by default (with large blocks from the heap), the hugetlbfs pool with
# ESPD_MALLOC_HUGETLB=2, none with 0, and a GLIBC_TUNABLES that names it is
# left alone (one naming the mmap threshold keeps it). What exec'd is seen
# by strace.
tunables() {	# tunables MODE [CALLER_TUNABLES [ENV...]]: GLIBC_TUNABLES values espd was exec'd with
	env ${2:+GLIBC_TUNABLES=$2} "${@:3}" ESPD_MALLOC_HUGETLB="$1" strace -f -qq -e trace=execve \
		-s 512 -v "$b/espd" -- -c "$tmp/good.conf" --check 2>&1 >/dev/null |
		grep -o 'GLIBC_TUNABLES=[^"]*' | sort -u | tr '\n' ' '
	echo "end"
}
if command -v strace >/dev/null; then
	t "malloc THP by default, large blocks from the heap" 0 \
		'^GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432 end$' \
		tunables ""
	t "malloc from hugetlbfs (=2)" 0 '^GLIBC_TUNABLES=glibc.malloc.hugetlb=2 end$' tunables 2
	t "malloc tunable off (=0)" 0 '^end$' tunables 0
	t "malloc tunable of the caller kept" 0 '^GLIBC_TUNABLES=glibc.malloc.hugetlb=0 end$' \
		tunables "" glibc.malloc.hugetlb=0
	# At most one exec: a loader that drops tunables (AT_SECURE: file
	# capabilities, setuid) must not make espd exec itself for ever.
	t "malloc tunable: one exec at most" 0 '^end$' tunables "" "" ESPD_THP_EXEC=1
	t "malloc mmap threshold of the caller kept" 0 \
		'^GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536 GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536:glibc.malloc.hugetlb=1 end$' \
		tunables "" glibc.malloc.mmap_threshold=65536
else
	echo "skip malloc tunable checks: strace is not installed (scripts/setup.sh installs it)"
fi
# The README's two commands run exactly as printed on a fresh Debian 12,
# as root: no sudo (Debian installs none by default), each an executable
# script of the tree, and CI runs the second one.
readme_cmds() {
	awk '/^## Two commands/ { f = 1; next } /^## / { f = 0 }
	     f && /^    [^ ]/ { sub(/^    /, ""); print }' README.md
}
readme_ok() {
	local cmds n first
	mapfile -t cmds < <(readme_cmds)
	n=${#cmds[@]}
	[ "$n" -eq 2 ] || { echo "README shows $n commands, want 2: ${cmds[*]}"; return 1; }
	for c in "${cmds[@]}"; do
		first=${c%% *}
		case $first in
		sudo | su) echo "'$c' needs $first, which Debian lacks"; return 1 ;;
		esac
		[ -f "$first" ] && [ -x "$first" ] || { echo "'$first' is not an executable file"; return 1; }
		if git rev-parse --git-dir >/dev/null 2>&1; then
			git ls-files -s -- "$first" | grep -q '^100755' ||
				{ echo "'$first' is not committed executable"; return 1; }
		fi
	done
	grep -qx "exec ${cmds[1]}" .ci/run || { echo ".ci/run does not run '${cmds[1]}'"; return 1; }
	echo "README commands: ${cmds[*]}"
}
t "README's two commands run as printed" 0 '^README commands: ' readme_ok
t "scripts/test.sh --help" 0 '^usage: scripts/test.sh \[SUITE' bash scripts/test.sh --help
t "scripts/test.sh with a suite it lacks: nothing run" 2 "unknown suite 'bogus'" \
	bash scripts/test.sh unit bogus

exit $fail
