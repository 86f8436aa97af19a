#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Line and branch coverage of a fuzz target's corpus (clang source-based
# coverage, docs/viommu.md "Fuzzing"):
#   fuzz/coverage.sh [-t fuzz_setup] BUILD_FUZZ_DIR SRCDIR CORPUS_DIR...
# Builds BUILD_FUZZ_DIR/cov/TARGET with -fprofile-instr-generate
# -fcoverage-mapping (no sanitizers) against BUILD_FUZZ_DIR's libraries,
# runs every input of the corpora once (fuzz_viommu: in each mode), and
# prints llvm-cov's report for the files the target compiles in: viommu/
# for fuzz_viommu (the default), setup.c and cli/run-options.c for
# fuzz_setup.
set -eu

target=fuzz_viommu
if [ "${1:-}" = -t ]; then
	target=$2
	shift 2
fi
[ $# -ge 3 ] || { echo "usage: $0 [-t fuzz_setup] BUILD_FUZZ_DIR SRCDIR CORPUS_DIR..." >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shift 2
top=$(cd "$build/.." && pwd)	# the build tree: config.h, libraries
out=$build/cov
mkdir -p "$out"
case $target in
fuzz_viommu)
	# What the target compiles in, from fuzz/local.mk, so the list cannot go stale.
	files=$(sed -n '/^FUZZ_VIOMMU_SOURCES = /,/[^\\]$/p' "$src/fuzz/local.mk" |
		tr -d '\\' | tr ' \t' '\n\n' | grep '^viommu/.*\.c$' | tr '\n' ' ')
	[ -n "$files" ] || { echo "$0: no FUZZ_VIOMMU_SOURCES in $src/fuzz/local.mk" >&2; exit 2; }
	libs="$top/libvmm.a"
	;;
fuzz_setup)
	files="viommu/setup.c cli/run-options.c"
	libs="$top/libviommu.a $top/libvmm.a"
	;;
*)
	echo "$0: no coverage build for $target" >&2
	exit 2
	;;
esac
srcs="$src/fuzz/$target.c"
for f in $files; do srcs="$srcs $src/$f"; done
# shellcheck disable=SC2086 # one word per file
clang -g -O1 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer \
	-include "$top/config.h" -I"$src" -I"$top" $srcs \
	$libs "$top/libhostvtd.a" "$top/libvtd.a" "$top/liblib.a" -lfdt -lpthread -o "$out/$target"
rm -f "$out"/*.profraw
LLVM_PROFILE_FILE="$out/%p.profraw" "$out/$target" -runs=0 -close_fd_mask=3 "$@" >"$out/run.log" 2>&1
# fuzz_viommu once more with the DMA thread and unit 0's worker (fuzz_viommu_tsan's mode).
[ "$target" = fuzz_viommu ] &&
	LLVM_PROFILE_FILE="$out/%p.profraw" FUZZ_VIOMMU_THREADS=1 "$out/$target" -runs=0 "$@" \
		>"$out/run-threads.log" 2>&1
llvm-profdata merge -sparse "$out"/*.profraw -o "$out/$target.profdata"
reports=
for f in $files; do reports="$reports $src/$f"; done
# shellcheck disable=SC2086
llvm-cov report "$out/$target" -instr-profile="$out/$target.profdata" $reports
