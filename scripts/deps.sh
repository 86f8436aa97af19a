#!/usr/bin/env bash
# Installs tagvmm's build and test dependencies on Debian 12 when missing,
# then generates ./configure when it is missing or older than configure.ac.
# Idempotent: does nothing (and needs no network) when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential autoconf automake pkg-config check libfdt-dev linux-libc-dev
	  clang libclang-rt-14-dev llvm-14 acpica-tools device-tree-compiler)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
