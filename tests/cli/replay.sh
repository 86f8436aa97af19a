#!/usr/bin/env bash
# CLI tests of `tagvmm replay`: the bundled real trace, an SVA fan-out
# stream with an explicit topology (simulated host and iommufd dry run), the
# flush trace, and bad input.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
data=$top_srcdir/tests/data/qemu-nvme-sm.trace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 count=0

ok() { count=$((count + 1)); echo "ok $count - $1"; }
not_ok() { count=$((count + 1)); fails=$((fails + 1)); echo "not ok $count - $1"; }
# expect STATUS DESCRIPTION -- command...: checks the exit status.
expect() {
	local want=$1 what=$2; shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"; else
		not_ok "$what (exit $got, wanted $want)"; sed 's/^/# /' "$tmp/err" | head -5; fi
}
# The first "key":number in the output (top-level keys come before nested ones).
json_field() { grep -o "\"$1\":[0-9]*" "$tmp/out" | head -1 | cut -d: -f2; }
check_eq() { if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3 ('$1' != '$2')"; fi; }
err_has() { if grep -q -- "$1" "$tmp/err"; then ok "$2"; else not_ok "$2"; sed 's/^/# /' "$tmp/err"; fi; }

# 1. The bundled real trace, default topology.
expect 0 "replay bundled trace" -- "$tagvmm" replay --qemu-trace "$data" --json
check_eq "$(json_field guest_batches)" 302 "302 guest batches (one per wait)"
check_eq "$(json_field guest_descriptors)" 593 "593 traced guest descriptors"
check_eq "$(json_field host_invalidations)" "$(json_field unique_tag_bound)" \
	"host invalidations equal the unique-tag bound"
check_eq "$(json_field untraced_descriptors)" 11 "11 descriptors QEMU did not trace"
check_eq "$(json_field host_errors)" 0 "no host errors"
expect 0 "human summary" -- "$tagvmm" replay --qemu-trace "$data"
grep -q "unique-tag bound" "$tmp/out" && ok "summary names the bound" || not_ok "summary names the bound"

# 2. SVA fan-out: 8 ATS devices, one guest (DID 1, PASID 5), 2 host units;
#    per flush, a P_IOTLB and a P_DEVTLB per device (Linux 6.1), one wait.
sva=$tmp/sva.trace
assign=()
for i in 0 1 2 3 4 5 6 7; do
	assign+=(--assign "sid=00:0$((i + 1)).0,did=1,pasid=5,unit=$((i % 2)),ats,nested")
done
{
	tail=0
	for f in 0 1 2; do
		tail=$(((tail + 17) % 256))
		echo "vtd_inv_qi_tail write tail $tail"
		for i in 0 1 2 3 4 5 6 7; do
			sid=$(((i + 1) << 3))
			printf 'vtd_inv_desc invalidate desc type piotlb high 0x%x low 0x500010036\n' $(((f + 1) << 12))
			printf 'vtd_inv_desc invalidate desc type pdevtlb high 0x%x low 0x%x\n' $(((f + 1) << 12)) \
				$(((5 << 32) | (sid << 16) | 8))
		done
		echo "vtd_inv_desc invalidate desc type wait high 0x1000 low 0x200000025"
	done
} >"$sva"
expect 0 "replay SVA fan-out merged" -- "$tagvmm" replay --qemu-trace "$sva" "${assign[@]}" --json \
	--flush-trace "$tmp/flush.log"
check_eq "$(json_field host_invalidations)" 6 "merged: 2 host IOTLB invalidations per flush"
check_eq "$(json_field host_devtlb_invalidations)" 24 "merged: 8 device-TLB invalidations per flush"
check_eq "$(json_field host_submissions)" 6 "merged: one submission per unit per flush"
check_eq "$(json_field unique_tag_bound)" 30 "bound: 10 per flush"
expect 0 "replay SVA fan-out unmerged" -- "$tagvmm" replay --qemu-trace "$sva" "${assign[@]}" --json --no-merge
check_eq "$(json_field host_invalidations)" 192 "no-merge: 8 per guest P_IOTLB (one per device)"
check_eq "$(json_field unique_tag_bound)" 30 "bound does not depend on the mode"

# 2b. The same stream through the iommufd back end over the dry-run /dev/iommu:
#     merged, one IOMMU_HWPT_INVALIDATE per nested HWPT per guest batch.
dry=(--backend iommufd-dry-run)
expect 0 "SVA fan-out through iommufd-dry-run, merged" -- "$tagvmm" replay --qemu-trace "$sva" \
	"${assign[@]}" "${dry[@]}" --json --iommufd-log "$tmp/iommufd.log"
check_eq "$(json_field host_invalidations)" 6 "iommufd: the planner's ops do not depend on the back end"
check_eq "$(json_field invalidate_calls)" 6 "iommufd merged: 6 IOMMU_HWPT_INVALIDATE calls"
check_eq "$(json_field calls_per_batch_min)" 2 "iommufd merged: no guest batch costs fewer than 2 calls"
check_eq "$(json_field calls_per_batch_max)" 2 "iommufd merged: no guest batch costs more than 2 (one per HWPT)"
check_eq "$(json_field nested_hwpts)" 2 "iommufd merged: one shared nested HWPT per unit"
check_eq "$(json_field invalidate_entries)" 6 "iommufd merged: one entry per call"
check_eq "$(json_field devtlb_covered)" 24 "iommufd merged: device-TLB ops ride on their HWPT's entry"
check_eq "$(grep -o '"calls":3,' "$tmp/out" | wc -l)" 2 "iommufd merged: 3 calls on each HWPT"
check_eq "$(json_field refused)" 0 "the dry run refused no call"
merged_calls=$(json_field invalidate_calls)
check_eq "$(grep -c 'IOMMU_HWPT_INVALIDATE.* -> 1 handled$' "$tmp/iommufd.log")" 6 "iommufd log: 6 invalidations"
check_eq "$(grep -c 'IOMMU_DESTROY' "$tmp/iommufd.log")" 2 "iommufd log: teardown destroys both nested HWPTs"
check_eq "$(grep -c 'EINVAL\|EOPNOTSUPP\|ENOENT\|EBUSY\|E2BIG' "$tmp/iommufd.log")" 0 "iommufd log: no refusal"
#     --no-merge is QEMU's nesting: a nested HWPT per device, one call per device per guest P_IOTLB.
expect 0 "SVA fan-out through iommufd-dry-run, QEMU's model" -- "$tagvmm" replay --qemu-trace "$sva" \
	"${assign[@]}" "${dry[@]}" --json --no-merge
check_eq "$(json_field invalidate_calls)" 192 "QEMU model: 8 x 8 = 64 calls per guest batch, 192 in all"
check_eq "$(json_field calls_per_batch_min)" 64 "QEMU model: no guest batch costs fewer than 64 calls"
check_eq "$(json_field calls_per_batch_max)" 64 "QEMU model: no guest batch costs more than 64 calls"
check_eq "$(json_field nested_hwpts)" 8 "QEMU model: one nested HWPT per device"
check_eq "$(grep -o '"calls":24,' "$tmp/out" | wc -l)" 8 "QEMU model: each HWPT gets one call per guest P_IOTLB"
check_eq "$(json_field devtlb_not_forwarded)" 216 "QEMU model: device-TLB ops not forwarded are counted"
check_eq "$(json_field refused)" 0 "QEMU model: the dry run refused no call"
check_eq "$(($(json_field invalidate_calls) / merged_calls))" 32 "QEMU model costs 32x the merged calls"
expect 0 "iommufd-dry-run human summary" -- "$tagvmm" replay --qemu-trace "$sva" "${assign[@]}" "${dry[@]}"
if grep -q "6 IOMMU_HWPT_INVALIDATE calls" "$tmp/out"; then ok "summary counts the calls"; else
	not_ok "summary counts the calls"; fi
#     Second-stage domains (the bundled trace's default topology) cost no call, and say so.
expect 0 "bundled trace through iommufd-dry-run" -- "$tagvmm" replay --qemu-trace "$data" "${dry[@]}" --json
check_eq "$(json_field invalidate_calls)" 0 "second stage: no IOMMU_HWPT_INVALIDATE"
check_eq "$(json_field s2_ops_elided)" 284 "second stage: every op is reported as elided"
#     The default topology binds the nested domains it discovers.
expect 0 "SVA stream, default topology, iommufd-dry-run" -- "$tagvmm" replay --qemu-trace "$sva" \
	"${dry[@]}" --json
check_eq "$(json_field invalidate_calls)" 3 "default topology: one HWPT, one call per batch"
expect 2 "unknown --backend" -- "$tagvmm" replay --qemu-trace "$sva" --backend vfio
expect 2 "--iommufd-log without the dry run" -- "$tagvmm" replay --qemu-trace "$sva" --iommufd-log "$tmp/x"

# 3. The flush trace agrees with the replay summary.
expect 0 "trace summary of the replay's flush trace" -- "$tagvmm" trace summary --json "$tmp/flush.log"
check_eq "$(json_field invalidations)" 6 "trace: 6 IOTLB-class records"
check_eq "$(json_field devtlb_invalidations)" 24 "trace: 24 device-TLB records"
check_eq "$(json_field submissions)" 6 "trace: 6 submissions"
expect 0 "JSON flush trace" -- "$tagvmm" replay --qemu-trace "$sva" "${assign[@]}" \
	--flush-trace "$tmp/flush.json" --flush-trace-format json
expect 0 "trace summary reads JSON lines" -- "$tagvmm" trace summary --json "$tmp/flush.json"
check_eq "$(json_field invalidations)" 6 "JSON trace: 6 IOTLB-class records"

# 3b. Recorded real Linux SVA streams (tests/data/README.md): a Linux guest's
#     own queue under tagvmm (--guest-trace), 8 engines bound to one SVA
#     domain (DID 1, PASID 1), 4 behind each of 2 host units, one vIOMMU per
#     unit, as make check-sva-linux runs them.
sva_assign=()
for i in 1 2 3 4 5 6 7 8; do
	u=$((i <= 4 ? 0 : 1))
	sva_assign+=(--assign "sid=00:0$i.0,did=1,pasid=1,unit=$u,ats,viommu=$u")
done
# Per stream: guest descriptors and submissions; on the simulated host,
# merged, IOTLB-class and device-TLB invalidations (the device-TLB ones as
# the guest asked) and the unique-tag bound met; with --no-merge, QEMU's
# per-device model; through the iommufd dry run, IOMMU_HWPT_INVALIDATE
# calls merged and in QEMU's model, none refused.
sva_stream() {	# sva_stream NAME FILE DESCS TAILS INV DEVTLB NOMERGE_INV CALLS QEMU_CALLS
	local name=$1 file=$2
	expect 0 "replay recorded $name SVA stream" -- "$tagvmm" replay --qemu-trace "$file" \
		"${sva_assign[@]}" --json
	check_eq "$(json_field guest_descriptors)" "$3" "$name SVA: $3 guest descriptors"
	check_eq "$(json_field tail_writes)" "$4" "$name SVA: $4 guest submissions"
	check_eq "$(json_field untraced_descriptors)" 0 "$name SVA: every descriptor traced (256-bit)"
	check_eq "$(json_field host_errors)" 0 "$name SVA: no host errors"
	check_eq "$(json_field host_invalidations)" "$5" "$name SVA: $5 host IOTLB-class invalidations"
	check_eq "$(json_field host_devtlb_invalidations)" "$6" \
		"$name SVA: $6 device-TLB invalidations (as the guest asked)"
	check_eq "$(($(json_field host_invalidations) + $(json_field host_devtlb_invalidations)))" \
		"$(json_field unique_tag_bound)" "$name SVA: the host does the unique-tag bound"
	expect 0 "replay recorded $name SVA stream, no-merge" -- "$tagvmm" replay --qemu-trace "$file" \
		"${sva_assign[@]}" --json --no-merge
	check_eq "$(json_field host_invalidations)" "$7" "$name SVA no-merge: $7 host IOTLB-class invalidations"
	expect 0 "replay recorded $name SVA stream through iommufd-dry-run" -- "$tagvmm" replay \
		--qemu-trace "$file" "${sva_nested[@]}" "${dry[@]}" --json
	check_eq "$(json_field invalidate_calls)" "$8" "$name SVA dry run: $8 IOMMU_HWPT_INVALIDATE calls"
	check_eq "$(json_field refused)" 0 "$name SVA dry run: none refused"
	expect 0 "replay recorded $name SVA stream through iommufd-dry-run, QEMU's model" -- \
		"$tagvmm" replay --qemu-trace "$file" "${sva_nested[@]}" "${dry[@]}" --json --no-merge
	check_eq "$(json_field invalidate_calls)" "$9" "$name SVA dry run, QEMU's model: $9 calls"
}
sva_nested=()
for a in "${sva_assign[@]}"; do
	[ "$a" = --assign ] && sva_nested+=("$a") || sva_nested+=("$a,nested")
done
sva_stream "Linux 6.1" "$top_srcdir/tests/data/linux-6.1-sva.trace" 752 368 139 145 556 139 556
sva_stream "Linux 6.12" "$top_srcdir/tests/data/linux-6.12-sva.trace" 367 143 27 81 108 27 108

# 4. Bad input: clear message with the line, non-zero exit, no crash.
printf 'vtd_inv_qi_tail write tail 2\nvtd_inv_desc invalidate desc type iotlb high 0xzz low 0x1\n' >"$tmp/bad1"
expect 3 "malformed descriptor line" -- "$tagvmm" replay --qemu-trace "$tmp/bad1"
err_has "line 2:" "error names line 2"
printf 'vtd_inv_desc invalidate desc type x high 0x0 low 0xf\n' >"$tmp/bad2"
expect 3 "unknown descriptor type" -- "$tagvmm" replay --qemu-trace "$tmp/bad2"
err_has "line 1:" "error names line 1"
printf 'vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x10032\n' >"$tmp/bad3"
expect 3 "truncated: invalidation without a wait" -- "$tagvmm" replay --qemu-trace "$tmp/bad3"
err_has "truncated" "error says truncated"
head -c 2000 "$data" >"$tmp/bad4"
expect 3 "file cut mid-line" -- "$tagvmm" replay --qemu-trace "$tmp/bad4"
expect 1 "missing file" -- "$tagvmm" replay --qemu-trace "$tmp/nonexistent"
expect 2 "no --qemu-trace" -- "$tagvmm" replay
expect 2 "bad --assign" -- "$tagvmm" replay --qemu-trace "$data" --assign sid=zz,did=1
expect 2 "unit beyond --units" -- "$tagvmm" replay --qemu-trace "$data" --units 1 --assign sid=1,did=1,unit=3
expect 2 "bad trace format" -- "$tagvmm" replay --qemu-trace "$data" --flush-trace "$tmp/x" --flush-trace-format xml
expect 0 "--help" -- "$tagvmm" replay --help
expect 2 "unknown command" -- "$tagvmm" frobnicate
head -c 100000 /dev/urandom >"$tmp/noise"
"$tagvmm" replay --qemu-trace "$tmp/noise" >/dev/null 2>&1
st=$?
[ $st -lt 128 ] && ok "random bytes do not crash replay (exit $st)" || not_ok "random bytes crash replay (exit $st)"

echo "$((count - fails)) passed, $fails failed"
[ $fails -eq 0 ]
