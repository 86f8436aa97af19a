#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the tagvmm Debian package with `dpkg-buildpackage -us -uc -b`,
# checks it with lintian (an error fails), and with --smoke runs the packaged
# tagvmm from a scratch root. The package is built from an export of the
# source in a temporary directory, never in this tree, so the build trees
# scripts/check.sh keeps here (build/, build-asan/, ...) are left alone.
#
# usage: scripts/package.sh [--tarball FILE] [--out DIR] [--smoke GUEST.elf]
#   --tarball FILE  build from this release tarball (`make dist`); default:
#                   the checkout's tracked files as they are in the work tree
#   --out DIR       where the .deb, .changes, .buildinfo and build log go
#                   (default: build-deb/ at the top of the source tree)
#   --smoke ELF     unpack the .deb into a scratch root (dpkg -x), check what
#                   it installs, run its `tagvmm --version` and `tagvmm run -k
#                   ELF` (the run is skipped, and says so, without /dev/kvm)
# DEB_BUILD_OPTIONS passes through (CI builds with DEB_BUILD_OPTIONS=nocheck).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

tarball="" out="$top/build-deb" guest=""
while [ $# -gt 0 ]; do
	case $1 in
	--tarball) tarball=$(realpath "$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--smoke) guest=$(realpath "$2"); shift 2 ;;
	*) echo "usage: $0 [--tarball FILE] [--out DIR] [--smoke GUEST.elf]" >&2; exit 2 ;;
	esac
done

bash "$top/scripts/deps.sh"
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The source: the release tarball, or the checkout's tracked files including
# uncommitted edits (`git stash create` makes a commit of them and touches
# neither the work tree nor any ref).
if [ -n "$tarball" ]; then
	tar -xf "$tarball" -C "$tmp"
elif git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	tree=$(git -C "$top" stash create)
	git -C "$top" archive --prefix=tagvmm/ "${tree:-HEAD}" | tar -x -C "$tmp"
else
	echo "package: $top is not a git checkout; give the release with --tarball" >&2
	exit 2
fi
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d)
[ -f "$src/debian/control" ] || { echo "package: no debian/ in the source" >&2; exit 1; }

# One version: the changelog's must be configure.ac's.
version=$(cd "$src" && dpkg-parsechangelog -S Version)
upstream=$(sed -n 's/^AC_INIT(\[tagvmm\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
if [ "$version" != "$upstream" ]; then
	echo "package: debian/changelog is at $version, configure.ac at $upstream: add a changelog entry" >&2
	exit 1
fi

arch=$(dpkg --print-architecture)
deb="$out/tagvmm_${version}_${arch}.deb"
changes="$out/tagvmm_${version}_${arch}.changes"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo

echo "package: dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-}), log in $out/build.log"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -J"$(nproc 2>/dev/null || echo 2)") >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "package: dpkg-buildpackage failed (whole log: $out/build.log)" >&2
	exit 1
fi
cp "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/
echo "package: built $deb"

echo "package: lintian"
lintian --fail-on error "$changes"
echo "package: lintian reports no errors"

[ -n "$guest" ] || exit 0

echo "package: smoke test from a scratch root"
root="$tmp/root"
dpkg -x "$deb" "$root"
fail() { echo "package: $*" >&2; exit 1; }
for f in usr/bin/tagvmm usr/share/man/man1/tagvmm.1.gz usr/share/doc/tagvmm/copyright \
	 usr/share/doc/tagvmm/README.md usr/share/doc/tagvmm/docs/flush-trace.md \
	 usr/share/doc/tagvmm/docs/running.md usr/share/doc/tagvmm/docs/passthrough.md; do
	# dh_compress may have compressed a document.
	[ -e "$root/$f" ] || [ -e "$root/$f.gz" ] || fail "the package lacks /$f"
done
depends=$(dpkg-deb -f "$deb" Depends)
echo "$depends" | grep -q 'libfdt1' || fail "Depends ($depends) lacks libfdt1: shlibs not computed"

got=$("$root/usr/bin/tagvmm" --version)
[ "$got" = "tagvmm $version" ] || fail "tagvmm --version says '$got', expected 'tagvmm $version'"
echo "package: $got"

if [ ! -w /dev/kvm ]; then
	echo "package: SKIP tagvmm run: /dev/kvm is not usable here"
	exit 0
fi
log=$("$root/usr/bin/tagvmm" run -q -m 64M -k "$guest") || fail "tagvmm run -k $guest failed: $log"
echo "$log" | grep -q '^TAGVMM-TEST: PASS ' || fail "tagvmm run -k $guest did not pass: $log"
echo "package: packaged tagvmm ran $(basename "$guest"): $(echo "$log" | grep '^TAGVMM-TEST:')"
