#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Fails when a file git tracks is missing from the release, so a file added,
# moved or renamed without its entry in a local.mk (a *_SOURCES,
# noinst_HEADERS or EXTRA_DIST list next to it) is caught at once. `make
# distcheck` runs it as its distcheck-hook on the unpacked tarball; CI runs
# `make distcheck`.
#
# usage: check-dist.sh SRCDIR DIST
#   SRCDIR  the source tree; when it is not a git checkout (a release being
#           checked from its own tarball) there is nothing to compare
#   DIST    the unpacked release directory, or its tarball
set -eu

# Tracked files that stay out of the release: CI glue and git's own file.
# Keep this list short; everything else git tracks ships.
EXCLUDED='^(\.ci/|\.gitignore$)'

[ $# -eq 2 ] || { echo "usage: $0 SRCDIR DIST" >&2; exit 2; }
srcdir=$1 dist=$2

if ! command -v git >/dev/null 2>&1 ||
   [ "$(git -C "$srcdir" rev-parse --show-toplevel 2>/dev/null)" != "$(cd "$srcdir" && pwd -P)" ]; then
	echo "check-dist: $srcdir is not a git checkout; nothing to compare"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Tracked files still present in the work tree (a file deleted but not yet
# committed is not asked for).
git -C "$srcdir" ls-files --deleted | sort >"$tmp/deleted"
git -C "$srcdir" ls-files | sort | comm -23 - "$tmp/deleted" |
	grep -Ev "$EXCLUDED" >"$tmp/tracked" || true

if [ -d "$dist" ]; then
	(cd "$dist" && find . -type f | sed 's|^\./||') | sort >"$tmp/shipped"
else
	# Tarball members are DIR/path; drop the top directory and directories.
	tar -tf "$dist" | sed -n 's|^[^/]*/||; /[^/]$/p' | sort >"$tmp/shipped"
fi

comm -23 "$tmp/tracked" "$tmp/shipped" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
	echo "check-dist: tracked files missing from $dist" >&2
	echo "(list each in its folder's local.mk: *_SOURCES, noinst_HEADERS or EXTRA_DIST):" >&2
	sed 's/^/  /' "$tmp/missing" >&2
	exit 1
fi
echo "check-dist: all $(wc -l <"$tmp/tracked") tracked files are in $dist"
