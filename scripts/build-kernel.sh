#!/usr/bin/env bash
# Builds a Linux kernel from Debian's own sources (the linux-source-VERSION
# package) with a configuration fragment kept in the tree, once: the result is
# cached under a key of (source package version, fragment, patches, this
# recipe, compiler), so a second run with the same inputs is instant.
#
# usage: scripts/build-kernel.sh [--patch NAME]... VERSION FRAGMENT
#   VERSION    6.1 or 6.12 (any linux-source-VERSION Debian ships)
#   FRAGMENT   NAME of tests/linux/configs/NAME.config
#   --patch NAME  apply tests/linux/patches/NAME.patch (patch -p1) before
#              configuring; several are applied in the order given
# Prints the cache directory holding bzImage, vmlinux, config and build.log.
#
# The configuration is allnoconfig with the fragment's values preset
# (merge_config.sh -n): everything the kernel needs is named in the
# fragment, nothing else is built, and no modules exist. Afterwards every
# option the fragment names must have its value in .config; kconfig silently
# drops an option whose dependencies are not met, and this fails then,
# naming each dropped option.
#   TAGVMM_KERNEL_CACHE=DIR   cache (default /var/cache/tagvmm-kernels)
#   KERNEL_JOBS=N             make -jN (default: the number of CPUs)
# Installs what it needs through scripts/deps.sh --kernels=VERSION. Builds
# are serialized by a lock on the cache, since one is CPU-bound for minutes.
set -euo pipefail
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
cache=${TAGVMM_KERNEL_CACHE:-/var/cache/tagvmm-kernels}
jobs=${KERNEL_JOBS:-$(nproc)}
# Bump when the recipe below changes what a given input builds.
recipe=1

die() { echo "build-kernel: $*" >&2; exit 1; }
patches=()
while [ $# -gt 0 ]; do
	case $1 in
	--patch) [ $# -ge 2 ] || die "--patch needs a NAME"; patches+=("$2"); shift 2 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || die "usage: build-kernel.sh [--patch NAME]... VERSION FRAGMENT"
version=$1 name=$2
fragment=$top_srcdir/tests/linux/configs/$name.config
[ -f "$fragment" ] || die "no fragment $fragment"
patch_files=()
for p in "${patches[@]}"; do
	f=$top_srcdir/tests/linux/patches/$p.patch
	[ -f "$f" ] || die "no patch $f"
	patch_files+=("$f")
done

bash "$top_srcdir/scripts/deps.sh" --kernels="$version" >&2
pkgver=$(dpkg-query -W -f='${Version}' "linux-source-$version")
tarball=/usr/src/linux-source-$version.tar.xz
[ -f "$tarball" ] || die "linux-source-$version $pkgver installed but $tarball missing"

key=$( {
	echo "recipe $recipe linux-source-$version $pkgver"
	gcc -dumpfullversion
	cat "$fragment"
	for f in "${patch_files[@]}"; do echo "patch $(basename "$f")"; cat "$f"; done
} | sha256sum | cut -c1-16)
out=$cache/$version-$name-$key
if [ -s "$out/bzImage" ]; then
	echo "build-kernel: cached: $out" >&2
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
[ -s "$out/bzImage" ] && { echo "$out"; exit 0; }	# built while we waited

# The pristine source is unpacked once per package version and built out of
# tree; a patched build gets a copy of its own.
src=$cache/src/linux-source-$version-$pkgver
if [ ! -e "$src/.done" ]; then
	echo "build-kernel: unpacking $tarball" >&2
	rm -rf "$src" && mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
	touch "$src/.done"
fi
work=$cache/build-$version-$name-$key
rm -rf "$work" "$out.tmp" && mkdir -p "$work/obj" "$out.tmp"
if [ ${#patch_files[@]} -gt 0 ]; then
	cp -a "$src" "$work/src"
	for f in "${patch_files[@]}"; do
		echo "build-kernel: applying $(basename "$f")" >&2
		patch -d "$work/src" -p1 --forward --batch <"$f" >&2 || die "$(basename "$f") does not apply to $pkgver"
	done
	src=$work/src
fi

log=$out.tmp/build.log
start=$(date +%s)
echo "build-kernel: linux-source-$version $pkgver + $name (key $key), make -j$jobs, log $log" >&2
kmake() { make -C "$src" O="$work/obj" ARCH=x86_64 -j"$jobs" "$@"; }
# merge_config.sh -n: allnoconfig with the fragment's values as presets.
# (It runs make in the current directory and keeps a temporary file there.)
(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$work/obj" "$fragment") >>"$log" 2>&1 || die "configuring failed; see $log"

# Every option the fragment names must have the fragment's value.
dropped=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$work/obj/.config" ||
			dropped+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$work/obj/.config" || echo unset))")
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -qE "^$opt=[ym]" "$work/obj/.config" || dropped+=("$line (got: $(grep -E "^$opt=" "$work/obj/.config"))")
		;;
	esac
done <"$fragment"
if [ ${#dropped[@]} -gt 0 ]; then
	echo "build-kernel: kconfig did not keep these options of $name.config (unmet dependencies?):" >&2
	printf '  %s\n' "${dropped[@]}" >&2
	exit 1
fi

kmake bzImage >>"$log" 2>&1 || { tail -30 "$log" >&2; die "build failed; see $log"; }
secs=$(($(date +%s) - start))
cp "$work/obj/arch/x86/boot/bzImage" "$out.tmp/bzImage"
cp "$work/obj/vmlinux" "$out.tmp/vmlinux"
cp "$work/obj/.config" "$out.tmp/config"
printf 'linux-source-%s %s\nfragment %s\npatches %s\nbuild_seconds %s\njobs %s\n' "$version" "$pkgver" \
	"$name" "${patches[*]:-none}" "$secs" "$jobs" >"$out.tmp/info"
rm -rf "$out" && mv "$out.tmp" "$out"
rm -rf "$work"
echo "build-kernel: built in $secs s: $out ($(stat -c %s "$out/bzImage") byte bzImage)" >&2
echo "$out"
