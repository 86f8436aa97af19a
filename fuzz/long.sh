#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The long run of fuzz_viommu (docs/viommu.md, "Fuzzing"), for hours:
#   fuzz/long.sh BUILD_FUZZ_DIR SRCDIR SECONDS [JOBS]
# Niced (19): JOBS independent libFuzzer processes (not -fork, whose short
# child runs cost a third of the rate here) sharing one corpus, each
# picking up what the others add (-reload); a 25 s limit per input (an
# input costs at most about a second of CPU; the rest is room for a busy
# machine). The corpus is BUILD_FUZZ_DIR/corpus-fuzz_viommu (seeded from
# SRCDIR/fuzz/corpus/viommu), crashes, oracle failures and timeouts go to
# BUILD_FUZZ_DIR/artifacts-fuzz_viommu/, job N's log is
# BUILD_FUZZ_DIR/long-fuzz_viommu.N.log. Prints each job's executions and
# their sum; exits non-zero on any finding. FUZZ_LONG_FLAGS adds libFuzzer
# flags (e.g. -entropic=0: the power schedule's bookkeeping is a quarter of
# the time per input here).
set -u

[ $# -ge 3 ] || { echo "usage: $0 BUILD_FUZZ_DIR SRCDIR SECONDS [JOBS]" >&2; exit 2; }
build=$1
src=$2
seconds=$3
jobs=${4:-1}
fuzzer=$build/fuzz_viommu
corpus=$build/corpus-fuzz_viommu
artifacts=$build/artifacts-fuzz_viommu

[ -x "$fuzzer" ] || { echo "$0: $fuzzer not built (configure CC=clang --enable-fuzzing)" >&2; exit 2; }
mkdir -p "$corpus" "$artifacts" || exit 1
cp "$src"/fuzz/corpus/viommu/* "$corpus"/ || exit 1
echo "== fuzz_viommu: $seconds s, $jobs job(s), logs $build/long-fuzz_viommu.N.log"
pids=
for n in $(seq 1 "$jobs"); do
	nice -n 19 "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
		-reload=1 -print_final_stats=1 ${FUZZ_LONG_FLAGS:-} -artifact_prefix="$artifacts/" "$corpus" \
		>"$build/long-fuzz_viommu.$n.log" 2>&1 &
	pids="$pids $!"
done
status=0
for pid in $pids; do
	wait "$pid" || status=1
done
total=0
for n in $(seq 1 "$jobs"); do
	log=$build/long-fuzz_viommu.$n.log
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	echo "job $n: ${runs:-no final stats} executions"
	grep -E 'ERROR|fuzz_viommu: oracle|Test unit written' "$log" | head -n 5
	total=$((total + ${runs:-0}))
done
echo "== fuzz_viommu: $total executions in all, exit $status"
exit $status
