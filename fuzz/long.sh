#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The long run of fuzz_viommu (docs/viommu.md, "Fuzzing"), for hours:
#   fuzz/long.sh BUILD_FUZZ_DIR SRCDIR SECONDS [JOBS]
# Niced (19), JOBS libFuzzer processes (-fork), a 25 s limit per input (an input
# costs at most about a second of CPU; the rest is room for a busy machine), the
# corpus in BUILD_FUZZ_DIR/corpus-fuzz_viommu (seeded from
# SRCDIR/fuzz/corpus/viommu), crashes, oracle failures and timeouts in
# BUILD_FUZZ_DIR/artifacts-fuzz_viommu/, the log in
# BUILD_FUZZ_DIR/long-fuzz_viommu.log. Exits non-zero on any finding.
set -u

[ $# -ge 3 ] || { echo "usage: $0 BUILD_FUZZ_DIR SRCDIR SECONDS [JOBS]" >&2; exit 2; }
build=$1
src=$2
seconds=$3
jobs=${4:-1}
fuzzer=$build/fuzz_viommu
corpus=$build/corpus-fuzz_viommu
artifacts=$build/artifacts-fuzz_viommu
log=$build/long-fuzz_viommu.log

[ -x "$fuzzer" ] || { echo "$0: $fuzzer not built (configure CC=clang --enable-fuzzing)" >&2; exit 2; }
mkdir -p "$corpus" "$artifacts" || exit 1
cp "$src"/fuzz/corpus/viommu/* "$corpus"/ || exit 1
echo "== fuzz_viommu: $seconds s, $jobs job(s), log $log"
nice -n 19 "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
	-fork="$jobs" -ignore_crashes=0 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
status=$?
grep -E '^#[0-9]+.*(DONE|pulse)|stat::|INFO: exiting|fuzz_viommu: oracle' "$log" | tail -n 8
exit $status
