#!/bin/sh
# SPDX-License-Identifier: MIT
# Print the layout rows of src/python/layouts.c, one per CPython installed
# under pyenv, by compiling tools/gen-layouts/probe.c against each version's
# own headers. Usage: tools/gen-layouts.sh [VERSION...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

versions=${*:-$(ls "$root/versions")}
for v in $versions; do
	inc=$(ls -d "$root/versions/$v"/include/python* 2>/dev/null | head -1)
	[ -n "$inc" ] || { echo "/* $v: no headers, skipped */"; continue; }
	case $v in 3.13* | 3.1[4-9]*)
		echo "/* $v: read from _Py_DebugOffsets at run time, but for: */"
		cc -w -I"$inc" -o "$tmp/probe" "$here/gen-layouts/probe-heap.c"
		"$tmp/probe"
		echo
		continue
		;;
	esac
	cc -w -I"$inc" -o "$tmp/probe" "$here/gen-layouts/probe.c"
	"$tmp/probe"
	echo
done
