#!/usr/bin/env bash
# Installs tagvmm's build, test and packaging dependencies on Debian 12 when
# missing (packaging: debhelper with its autoreconf step, dpkg-dev, lintian;
# the package builds without root or fakeroot: Rules-Requires-Root: no),
# then generates ./configure when it is missing or older than configure.ac.
# Idempotent: does nothing (and needs no network) when all is in place.
#   --testbed   also what the real-KVM testbed (make check-realkvm) runs on:
#               QEMU, cpio and the decompressors extract-vmlinux.sh uses. The
#               kernels and busybox it boots are downloaded by the testbed
#               itself (apt-get download, cached outside the tree).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential autoconf automake pkg-config check libfdt-dev linux-libc-dev
	  clang libclang-rt-14-dev llvm-14 acpica-tools device-tree-compiler
	  debhelper dpkg-dev lintian)
[ "${1:-}" = --testbed ] && packages+=(qemu-system-x86 cpio lz4 zstd xz-utils)

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
