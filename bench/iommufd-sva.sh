#!/usr/bin/env bash
# make bench, item 7: the SVA fan-out stream replayed through the iommufd
# back end over the dry-run /dev/iommu, merged and in QEMU's model
# (--no-merge), and the ratio of their IOMMU_HWPT_INVALIDATE calls. Both
# modes run on the same generated stream; counts, not times.
set -eu
top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
flushes=${FLUSHES:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 8 ATS devices on 2 units, one guest (DID 1, PASID 5); per flush, Linux 6.1's
# intel_svm pattern: a P_IOTLB and a P_DEVTLB per device, then one wait.
assign=()
for i in 0 1 2 3 4 5 6 7; do
	assign+=(--assign "sid=00:0$((i + 1)).0,did=1,pasid=5,unit=$((i % 2)),ats,nested")
done
for ((f = 0; f < flushes; f++)); do
	page=$((((f % 4096) + 1) << 12))
	for i in 0 1 2 3 4 5 6 7; do
		printf 'vtd_inv_desc invalidate desc type piotlb high 0x%x low 0x500010036\n' $page
		printf 'vtd_inv_desc invalidate desc type pdevtlb high 0x%x low 0x%x\n' $page \
			$(((5 << 32) | (((i + 1) << 3) << 16) | 8))
	done
	echo "vtd_inv_desc invalidate desc type wait high 0x1000 low 0x200000025"
done >"$tmp/sva.trace"

field() { grep -o "\"$1\":[0-9.]*" "$2" | head -1 | cut -d: -f2; }
printf '   %-32s %10s %10s %12s %12s %12s\n' mode "calls" entries "calls/flush" "min..max" "nested HWPTs"
for mode in merged no-merge; do
	flag=()
	[ $mode = no-merge ] && flag=(--no-merge)
	"$tagvmm" replay --qemu-trace "$tmp/sva.trace" "${assign[@]}" --backend iommufd-dry-run \
		--json "${flag[@]}" >"$tmp/$mode.json"
	[ "$(field refused "$tmp/$mode.json")" = 0 ] || { echo "the dry run refused a call"; exit 1; }
	printf '   %-32s %10s %10s %12s %12s %12s\n' \
		"$([ $mode = merged ] && echo "merged (shared HWPTs)" || echo "no-merge (QEMU's model)")" \
		"$(field invalidate_calls "$tmp/$mode.json")" "$(field invalidate_entries "$tmp/$mode.json")" \
		"$(field calls_per_batch "$tmp/$mode.json")" \
		"$(field calls_per_batch_min "$tmp/$mode.json")..$(field calls_per_batch_max "$tmp/$mode.json")" \
		"$(field nested_hwpts "$tmp/$mode.json")"
done
m=$(field invalidate_calls "$tmp/merged.json")
q=$(field invalidate_calls "$tmp/no-merge.json")
echo "   $flushes guest flushes; QEMU's model / merged IOMMU_HWPT_INVALIDATE calls: $q / $m = $(awk -v q="$q" -v m="$m" 'BEGIN { printf "%.2f", q / m }')"
