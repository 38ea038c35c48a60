#!/bin/sh
# SPDX-License-Identifier: MIT
# Install, from Debian's archive, what building spyglass needs (`build`, for
# make demo), what building it and running make bench needs (`bench`), or
# what building and testing it needs (no argument).
# Packages already present are left alone, so this is quick when run again.
set -eu

build="gcc g++ make libc6-dev libelf-dev libdw-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
libsqlite3-dev libcurl4-openssl-dev libncurses-dev python3"
# Output formats are tested by their real consumers: go tool pprof
# (golang-go), headless Chromium, and npm packages (nodejs ships npm).
tests="libcmocka-dev python3-dev python3-pytest clang clang-format golang-go chromium nodejs tmux"
# bench_native.py compares spyglass with perf record on the same program.
bench="linux-perf"
case "${1:-}" in
build) packages="$build" ;;
bench) packages="$build $bench" ;;
*) packages="$build $tests" ;;
esac

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# Debian's nodejs lacks npm, which nodesource's bundles: ask for it only then.
[ -n "${1:-}" ] || command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	echo "installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "spyglass: need root to install$missing (or install them yourself)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -n "${1:-}" ] && exit 0
# The npm consumers, at the versions package-lock.json pins.
cd "$(dirname "$0")/../tests/consumers"
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] ||
	npm ci --no-audit --no-fund --loglevel=error
