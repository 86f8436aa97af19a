#!/bin/sh
# SPDX-License-Identifier: MIT
#
# scripts/check-dist.sh, the check `make distcheck` runs on the release: on a
# scratch git repository it fails, naming the file, when a tracked file is
# missing from the release (as a directory and as a tarball), ignores its
# exclusions (.ci/, .gitignore) and files deleted but not yet committed, and
# passes on a complete release and outside a git checkout. Skips (77)
# without git.

set -u

command -v git >/dev/null 2>&1 || { echo "SKIP: git is not installed"; exit 77; }
check=${top_srcdir:-.}/scripts/check-dist.sh
[ -f "$check" ] || { echo "FAIL: $check not found" >&2; exit 99; }

work=$(mktemp -d "${TMPDIR:-/tmp}/check-dist.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect STATUS DIST: runs the check of $work/src against DIST.
expect() {
	want=$1 dist=$2
	sh "$check" "$work/src" "$dist" >"$work/out" 2>"$work/err"
	got=$?
	[ "$got" -eq "$want" ] || fail "check-dist $dist: exit status $got, want $want: $(cat "$work/out" "$work/err")"
}

mkdir -p "$work/src/lib" "$work/src/.ci" "$work/src/gone"
for f in README.md lib/util.h lib/util.c .ci/run .gitignore gone/old.c; do
	echo "$f" >"$work/src/$f"
done
git -C "$work/src" init -q && git -C "$work/src" add . || exit 99
# Tracked, then deleted in the work tree (a move not yet committed).
rm "$work/src/gone/old.c"

# The release lacks lib/util.h: fail, name it, name nothing else.
mkdir -p "$work/rel/pkg-1.0/lib"
cp "$work/src/README.md" "$work/rel/pkg-1.0/"
cp "$work/src/lib/util.c" "$work/rel/pkg-1.0/lib/"
expect 1 "$work/rel/pkg-1.0"
grep -qx '  lib/util.h' "$work/err" || fail "the missing lib/util.h is not named: $(cat "$work/err")"
for f in .ci/run .gitignore gone/old.c README.md lib/util.c; do
	! grep -q "$f" "$work/err" || fail "$f is reported missing: $(cat "$work/err")"
done
tar -cf "$work/rel.tar" -C "$work/rel" pkg-1.0
expect 1 "$work/rel.tar"
grep -qx '  lib/util.h' "$work/err" || fail "tarball: the missing lib/util.h is not named"

# Complete: pass, as a directory and as a tarball.
cp "$work/src/lib/util.h" "$work/rel/pkg-1.0/lib/"
expect 0 "$work/rel/pkg-1.0"
tar -cf "$work/rel.tar" -C "$work/rel" pkg-1.0
expect 0 "$work/rel.tar"

# A newly tracked file is asked for at once.
echo new >"$work/src/lib/new.h"
git -C "$work/src" add lib/new.h
expect 1 "$work/rel/pkg-1.0"
grep -qx '  lib/new.h' "$work/err" || fail "the newly tracked lib/new.h is not named"

# Outside a git checkout (the release checking itself) there is nothing to compare.
sh "$check" "$work/rel/pkg-1.0" "$work/rel/pkg-1.0" >"$work/out" 2>&1 ||
	fail "outside a checkout: exit status $?: $(cat "$work/out")"
grep -q 'not a git checkout' "$work/out" || fail "outside a checkout: no explanation"

[ "$failures" -eq 0 ] || exit 1
echo "PASS: check-dist"
