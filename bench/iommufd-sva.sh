#!/usr/bin/env bash
# make bench, item 7: the SVA fan-out of item 1, per munmap of one page,
# replayed through the iommufd back end over the dry-run /dev/iommu, merged
# and in QEMU's model (--no-merge), for each guest pattern of item 1: Linux
# 6.1 and Linux 6.12 (models written from their source, not recordings) and
# a batching guest (synthetic; no Linux sends it). Counts, not times.
set -eu
top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
munmaps=${MUNMAPS:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 8 ATS devices on 2 units, one guest (DID 1, PASID 5), one vIOMMU.
assign=()
for i in 0 1 2 3 4 5 6 7; do
	assign+=(--assign "sid=00:0$((i + 1)).0,did=1,pasid=5,unit=$((i % 2)),ats,nested")
done
piotlb() { printf 'vtd_inv_desc invalidate desc type piotlb high 0x%x low 0x500010036\n' "$1"; }
pdevtlb() {
	printf 'vtd_inv_desc invalidate desc type pdevtlb high 0x%x low 0x%x\n' "$1" \
		$(((5 << 32) | ((($2 + 1) << 3) << 16) | 8))
}
wait_desc() { echo "vtd_inv_desc invalidate desc type wait high 0x1000 low 0x200000025"; }

# One munmap per pattern (see bench/bench_flush.c, sva_munmap()).
munmap() {
	local pattern=$1 page=$2 call i
	case $pattern in
	linux-6.1)	# twice (the mm notifier fires twice), per device 2 submissions
		for call in 1 2; do
			for i in 0 1 2 3 4 5 6 7; do
				piotlb "$page"; wait_desc
				pdevtlb "$page" $i; wait_desc
			done
		done ;;
	linux-6.12)	# one PASID-IOTLB and 8 device-TLBs: 9 descriptors, one batch
		piotlb "$page"
		for i in 0 1 2 3 4 5 6 7; do pdevtlb "$page" $i; done
		wait_desc ;;
	batching)
		for i in 0 1 2 3 4 5 6 7; do piotlb "$page"; pdevtlb "$page" $i; done
		wait_desc ;;
	esac
}

field() { grep -o "\"$1\":[0-9.]*" "$2" | head -1 | cut -d: -f2; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '   %-27s %-26s %9s %9s %13s %8s\n' "guest pattern" mode "calls" entries "calls/munmap" "HWPTs"
for pattern in linux-6.1 linux-6.12 batching; do
	for ((f = 0; f < munmaps; f++)); do
		munmap $pattern $((((f % 4096) + 1) << 12))
	done >"$tmp/$pattern.trace"
	for mode in merged no-merge; do
		flag=()
		[ $mode = no-merge ] && flag=(--no-merge)
		"$tagvmm" replay --qemu-trace "$tmp/$pattern.trace" "${assign[@]}" \
			--backend iommufd-dry-run --json "${flag[@]}" >"$tmp/$pattern-$mode.json"
		[ "$(field refused "$tmp/$pattern-$mode.json")" = 0 ] ||
			{ echo "the dry run refused a call ($pattern, $mode)"; exit 1; }
		calls=$(field invalidate_calls "$tmp/$pattern-$mode.json")
		printf '   %-27s %-26s %9s %9s %13s %8s\n' "$pattern" \
			"$([ $mode = merged ] && echo "merged (shared HWPTs)" || echo "no-merge (QEMU's model)")" \
			"$calls" "$(field invalidate_entries "$tmp/$pattern-$mode.json")" \
			"$(per "$calls" "$munmaps")" "$(field nested_hwpts "$tmp/$pattern-$mode.json")"
	done
	m=$(field invalidate_calls "$tmp/$pattern-merged.json")
	q=$(field invalidate_calls "$tmp/$pattern-no-merge.json")
	echo "   $pattern, $munmaps munmaps: QEMU's model / merged IOMMU_HWPT_INVALIDATE calls: $q / $m = $(per "$q" "$m")"
done
