#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run every libFuzzer target built in BUILD_FUZZ_DIR for SECONDS each:
#   fuzz/run.sh BUILD_FUZZ_DIR SRCDIR SECONDS
# Each target keeps its corpus in BUILD_FUZZ_DIR/corpus-<name> (so later runs
# start where earlier ones stopped) and writes crash inputs to
# BUILD_FUZZ_DIR/artifacts-<name>/. fuzz_qemu_trace is seeded from
# SRCDIR/tests/data/*.trace, cut into 40-line pieces: small seeds mutate
# much faster than a whole 1500-line trace. fuzz_trace_summary is seeded
# with a few hand-written flush trace submissions, text and JSON lines.
# fuzz_viommu starts from the corpus kept in SRCDIR/fuzz/corpus/viommu,
# fuzz_setup from SRCDIR/fuzz/corpus/setup.
# Exits non-zero if any target found a crash (or could not run).
set -u

usage() {
	echo "usage: $0 BUILD_FUZZ_DIR SRCDIR SECONDS" >&2
	exit 2
}

[ $# -eq 3 ] || usage
build=$1
src=$2
seconds=$3
case $seconds in
'' | *[!0-9]*) usage ;;
esac
[ "$seconds" -gt 0 ] || usage
[ -d "$build" ] || { echo "$0: no such directory: $build" >&2; exit 2; }

CHUNK_LINES=40

# Pieces of every bundled trace; each piece ends with a newline, like QEMU's.
seed_qemu_trace() {
	corpus=$1
	for trace in "$src"/tests/data/*.trace; do
		[ -f "$trace" ] || continue
		base=$(basename "$trace" .trace)
		split -l "$CHUNK_LINES" -a 4 -d "$trace" "$corpus/seed-$base-" || return 1
	done
	# A prefixed line (QEMU's -msg timestamp=on) and the pre-3.0 invalid event,
	# which the bundled trace does not contain.
	printf '%s\n' \
		'12637@1795469433.090063:vtd_inv_qi_tail write tail 2' \
		'12637@1795469433.090070:vtd_inv_desc invalidate desc type iotlb high 0xfffd8002 low 0x300f2' \
		'vtd_inv_desc_invalid invalid inv desc hi 0x0 lo 0x7' >"$corpus/seed-handmade"
}

# One submission per seed, as the writer prints them (docs/flush-trace.md).
seed_trace_summary() {
	corpus=$1
	printf '%s\n' \
		'batch 1 sub 0 qi_submit: iotlb_inv dmar0: 0x50032 0x10000003 0x0 0x0' \
		'batch 1 sub 0 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 5 [0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 3' \
		'batch 1 sub 0 qi_submit: dev_tlb_inv dmar0: 0x30000000003 0x10003001 0x0 0x0' \
		'batch 1 sub 0 cache_tag_flush_range: dmar0 0000:03:00.0[0] type devtlb did 5 [0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 1' \
		'batch 1 sub 0 qi_wait: dmar0 descs 2 status ok' >"$corpus/seed-text-ok" || return 1
	printf '%s\n' \
		'# a failed submission' \
		'batch 1 sub 1 qi_submit: p_iotlb_inv dmar1: 0x300020026 0x0 0x0 0x0' \
		'batch 1 sub 1 cache_tag_flush_range: dmar1 dmar1[3] type nesting_iotlb did 2 [0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 6' \
		'batch 1 sub 1 qi_wait: dmar1 descs 1 status ITE op 0 sid 0x0310' >"$corpus/seed-text-error" || return 1
	printf '%s\n' \
		'{"batch":2,"sub":2,"event":"qi_submit","unit":"dmar0","type":"iotlb_inv","qw":["0x70022","0x0","0x0","0x0"]}' \
		'{"batch":2,"sub":2,"event":"cache_tag_flush_range","unit":"dmar0","dev":"dmar0","pasid":0,"type":"iotlb","did":7,"start":"0x0","end":"0xffffffffffffffff","addr":"0x0","mask":52,"absorbed":2}' \
		'{"batch":2,"sub":2,"event":"qi_wait","unit":"dmar0","descs":1,"status":"ok"}' >"$corpus/seed-json-ok" || return 1
	printf '%s\n' \
		'{"batch":3,"sub":3,"event":"qi_wait","unit":"dmar\u0032","descs":0,"status":"IQE","op":0,"sid":"0x0000"}' >"$corpus/seed-json-error"
}

status=0
ran=0
for fuzzer in "$build"/fuzz_*; do
	if [ ! -f "$fuzzer" ] || [ ! -x "$fuzzer" ]; then
		continue
	fi
	name=$(basename "$fuzzer")
	corpus=$build/corpus-$name
	artifacts=$build/artifacts-$name
	mkdir -p "$corpus" "$artifacts" || exit 1
	if [ "$name" = fuzz_qemu_trace ]; then
		seed_qemu_trace "$corpus" || { echo "$0: seeding $name failed" >&2; exit 1; }
	elif [ "$name" = fuzz_trace_summary ]; then
		seed_trace_summary "$corpus" || { echo "$0: seeding $name failed" >&2; exit 1; }
	elif [ "$name" = fuzz_viommu ] || [ "$name" = fuzz_viommu_tsan ]; then
		cp "$src"/fuzz/corpus/viommu/* "$corpus"/ || { echo "$0: seeding $name failed" >&2; exit 1; }
	elif [ "$name" = fuzz_setup ]; then
		cp "$src"/fuzz/corpus/setup/* "$corpus"/ || { echo "$0: seeding $name failed" >&2; exit 1; }
	fi
	tsan_options=
	[ "$name" = fuzz_viommu_tsan ] &&
		tsan_options="halt_on_error=1 suppressions=$src/fuzz/tsan-guest-ram.supp"
	# fuzz_setup's parser prints --help and every refusal: kept off the log
	# (libFuzzer's own output and the sanitizers' reports still come).
	quiet=
	[ "$name" = fuzz_setup ] && quiet=-close_fd_mask=3
	echo "== $name: $seconds s, corpus $corpus"
	ran=$((ran + 1))
	# shellcheck disable=SC2086 # $quiet: no word or one
	if ! TSAN_OPTIONS=$tsan_options "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 \
		$quiet -artifact_prefix="$artifacts/" "$corpus"; then
		echo "$0: $name FAILED; reproducers in $artifacts/" >&2
		status=1
	fi
done

if [ "$ran" -eq 0 ]; then
	echo "$0: no fuzz_* binaries in $build (configure CC=clang --enable-fuzzing)" >&2
	exit 1
fi
exit $status
