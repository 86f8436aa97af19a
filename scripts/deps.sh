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
#   --kernels[=V,...]  also what scripts/build-kernel.sh needs to build a
#               kernel from Debian's own sources: the kernel's build tools and
#               linux-source-V for each V listed (default 6.1 and 6.12).
#               Several options may be given.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential autoconf automake pkg-config check libfdt-dev linux-libc-dev
	  clang libclang-rt-14-dev llvm-14 acpica-tools device-tree-compiler
	  debhelper dpkg-dev lintian)
for opt in "$@"; do
	case $opt in
	--testbed) packages+=(qemu-system-x86 cpio lz4 zstd xz-utils) ;;
	--kernels | --kernels=*)
		packages+=(bc bison flex libelf-dev libssl-dev cpio lz4 xz-utils kmod)
		versions=6.1,6.12
		[ "$opt" = --kernels ] || versions=${opt#--kernels=}
		for v in ${versions//,/ }; do packages+=("linux-source-$v"); done
		;;
	*) echo "deps: unknown option $opt" >&2; exit 2 ;;
	esac
done

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
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
