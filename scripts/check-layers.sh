#!/usr/bin/env bash
# The control plane's layers call only downward (README "Layout"): a file
# may include a control/ header of its own layer or of a lower one, never
# of a higher one. Prints every upward include and exits 1 if there is any.
#   scripts/check-layers.sh
set -u
cd "$(dirname "$0")/.."

# control/ module -> layer, bottom (0) to top.
layer() {
	case $1 in
	grow | hmap | sbuf | slab | model) echo 0 ;;
	publish | ports | tables | neigh | tap | xdp) echo 1 ;;
	print | view | telemetry) echo 2 ;;
	events | exc) echo 3 ;;
	sock) echo 4 ;;
	cmd) echo 5 ;;
	loop) echo 6 ;;
	espd | espctl | cpucheck | thp) echo 7 ;;
	*) echo "" ;;
	esac
}

bad=0
for f in control/*.c control/*.h; do
	mod=$(basename "$f" | sed 's/\.[ch]$//')
	mine=$(layer "$mod")
	if [ -z "$mine" ]; then
		echo "$f: not in any layer (add it to scripts/check-layers.sh)"
		bad=1
		continue
	fi
	while read -r inc; do
		dep=$(basename "$inc" .h)
		theirs=$(layer "$dep")
		if [ -z "$theirs" ]; then
			echo "$f includes control/$dep.h, which is in no layer"
			bad=1
		elif [ "$theirs" -gt "$mine" ]; then
			echo "$f (layer $mine, $mod) includes control/$dep.h (layer $theirs): upward"
			bad=1
		fi
	done < <(sed -n 's|^#include "control/\([a-z_]*\.h\)".*|\1|p' "$f")
done
# The model is plain C: no DPDK, so --check runs without EAL.
if grep -n '#include <rte_' control/model.[ch] control/hmap.[ch] control/slab.[ch]; then
	echo "the model includes DPDK"
	bad=1
fi
[ "$bad" -eq 0 ] && echo "layers: no upward include in control/"
exit "$bad"
