#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Line coverage of viommu/ by a fuzz_viommu corpus (clang source-based
# coverage, docs/viommu.md "Fuzzing"):
#   fuzz/coverage.sh BUILD_FUZZ_DIR SRCDIR CORPUS_DIR...
# Builds BUILD_FUZZ_DIR/cov/fuzz_viommu with -fprofile-instr-generate
# -fcoverage-mapping (no sanitizers) against BUILD_FUZZ_DIR's libraries,
# runs every input of the corpora once in each mode, and prints llvm-cov's report for
# the viommu/ files the target compiles in.
set -eu

[ $# -ge 3 ] || { echo "usage: $0 BUILD_FUZZ_DIR SRCDIR CORPUS_DIR..." >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shift 2
top=$(cd "$build/.." && pwd)	# the build tree: config.h, libraries
out=$build/cov
mkdir -p "$out"
files="viommu/unit.c viommu/fault.c viommu/qi.c viommu/tables.c viommu/walk.c viommu/work.c viommu/dma.c viommu/simdev.c viommu/passthrough.c viommu/prq.c viommu/guest-trace.c"
srcs="$src/fuzz/fuzz_viommu.c"
for f in $files; do srcs="$srcs $src/$f"; done
# shellcheck disable=SC2086 # one word per file
clang -g -O1 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer \
	-include "$top/config.h" -I"$src" -I"$top" $srcs \
	"$top/libvmm.a" "$top/libhostvtd.a" "$top/libvtd.a" "$top/liblib.a" -lfdt -lpthread -o "$out/fuzz_viommu"
rm -f "$out"/*.profraw
# Once as fuzz_viommu runs, once with the DMA thread and unit 0's worker (fuzz_viommu_tsan's mode).
LLVM_PROFILE_FILE="$out/%p.profraw" "$out/fuzz_viommu" -runs=0 "$@" >"$out/run.log" 2>&1
LLVM_PROFILE_FILE="$out/%p.profraw" FUZZ_VIOMMU_THREADS=1 "$out/fuzz_viommu" -runs=0 "$@" \
	>"$out/run-threads.log" 2>&1
llvm-profdata merge -sparse "$out"/*.profraw -o "$out/fuzz_viommu.profdata"
reports=
for f in $files; do reports="$reports $src/$f"; done
# shellcheck disable=SC2086
llvm-cov report "$out/fuzz_viommu" -instr-profile="$out/fuzz_viommu.profdata" $reports
