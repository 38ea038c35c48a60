#!/bin/sh
# SPDX-License-Identifier: MIT
# The tree is the pipeline: an #include may only point upstream.
#   util <- target, elf <- native, python <- sampler <- cli
#   util <- profile <- formats <- store <- cli
set -eu
cd "$(dirname "$0")/../src"

allowed() {
	case "$1" in
	util) echo "util" ;;
	target | elf) echo "util" ;;
	native | python) echo "util target elf" ;;
	sampler) echo "util target elf native python profile" ;;
	profile) echo "util" ;;
	formats) echo "util profile" ;;
	store) echo "util profile formats" ;;
	cli) echo "util target elf native python sampler profile formats store" ;;
	*) echo "" ;;
	esac
}

bad=0
for dir in */; do
	layer=${dir%/}
	ok="$layer $(allowed "$layer")"
	for inc in $(grep -ho '#include "[a-z_]*/' "$layer"/*.[ch] | sed 's/#include "//; s/\///' | sort -u); do
		case " $ok " in
		*" $inc "*) ;;
		*)
			echo "layering: src/$layer includes src/$inc:" >&2
			grep -n "#include \"$inc/" "$layer"/*.[ch] >&2
			bad=1
			;;
		esac
	done
done
[ "$bad" -eq 0 ] && echo "layering: ok"
exit "$bad"
