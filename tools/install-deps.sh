#!/bin/sh
# SPDX-License-Identifier: MIT
# Install, from Debian's archive, what building and testing spyglass needs.
# Packages already present are left alone, so this is quick when run again.
set -eu

packages="gcc make libc6-dev libelf-dev zlib1g-dev libcmocka-dev
python3 python3-dev python3-pytest clang clang-format"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "spyglass: need root to install$missing (or install them yourself)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
