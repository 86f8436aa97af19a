#!/usr/bin/env bash
# make bench, item 7: the SVA fan-out of item 1, per munmap of one page,
# replayed through the iommufd back end over the dry-run /dev/iommu, merged
# and in QEMU's model (--no-merge), for each guest pattern of item 1: Linux
# 6.1 and Linux 6.12 (models written from their source, not recordings) and
# a batching guest (synthetic; no Linux sends it); with one vIOMMU for all
# devices and with one per host unit (host-matched, tagvmm run's default);
# then the recorded streams of real Linux 6.1 and 6.12 guests in tests/data.
# Counts, not times.
set -eu
top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
munmaps=${MUNMAPS:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 8 ATS devices, device i on host unit i % 2, one guest (DID 1, PASID 5).
vio=()	# the vIOMMU of device i, set per placement
piotlb() { printf 'vtd_inv_desc invalidate desc type piotlb high 0x%x low 0x500010036\n' "$1"; }
pdevtlb() {
	printf 'vtd_inv_desc invalidate desc type pdevtlb high 0x%x low 0x%x\n' "$1" \
		$(((5 << 32) | ((($2 + 1) << 3) << 16) | 8))
}
wait_desc() { echo "vtd_inv_desc invalidate desc type wait high 0x1000 low 0x200000025"; }
on_viommu() { echo "tagvmm_viommu $1"; }

# One munmap per pattern (see bench/bench_flush.c, sva_munmap()).
munmap() {
	local pattern=$1 page=$2 call i v
	case $pattern in
	linux-6.1)	# twice (the mm notifier fires twice), per device 2 submissions
		for call in 1 2; do
			for i in 0 1 2 3 4 5 6 7; do
				on_viommu "${vio[i]}"
				piotlb "$page"; wait_desc
				pdevtlb "$page" $i; wait_desc
			done
		done ;;
	linux-6.12)	# per vIOMMU a PASID-IOTLB and its devices' device-TLBs, one batch
		for v in $vs; do
			on_viommu "$v"
			piotlb "$page"
			for i in 0 1 2 3 4 5 6 7; do
				[ "${vio[i]}" = "$v" ] && pdevtlb "$page" $i
			done
			wait_desc
		done ;;
	batching)
		for v in $vs; do
			on_viommu "$v"
			for i in 0 1 2 3 4 5 6 7; do
				[ "${vio[i]}" = "$v" ] && { piotlb "$page"; pdevtlb "$page" $i; }
			done
			wait_desc
		done ;;
	esac
}

field() { grep -o "\"$1\":[0-9.]*" "$2" | head -1 | cut -d: -f2; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Per munmap (mu): calls, the planner's IOTLB-class and device-TLB ops, and of
# the device-TLB ops those an earlier flush of their HWPT had done (no entry).
printf '   %-11s %-8s %-24s %8s %8s %9s %10s %10s %10s %6s\n' "pattern" vIOMMUs mode "calls" \
	entries "calls/mu" "iotlb/mu" "devtlb/mu" "d.before/mu" HWPTs
for pattern in linux-6.1 linux-6.12 batching; do
	for placement in one matched; do
		vs=0
		[ $placement = matched ] && vs="0 1"
		assign=()
		for i in 0 1 2 3 4 5 6 7; do
			vio[i]=0
			[ $placement = matched ] && vio[i]=$((i % 2))
			assign+=(--assign "sid=00:0$((i + 1)).0,did=1,pasid=5,unit=$((i % 2)),viommu=${vio[i]},ats,nested")
		done
		for ((f = 0; f < munmaps; f++)); do
			munmap $pattern $((((f % 4096) + 1) << 12))
		done >"$tmp/sva.trace"
		for mode in merged no-merge; do
			flag=()
			[ $mode = no-merge ] && flag=(--no-merge)
			out=$tmp/$pattern-$placement-$mode.json
			"$tagvmm" replay --qemu-trace "$tmp/sva.trace" "${assign[@]}" \
				--backend iommufd-dry-run --json "${flag[@]}" >"$out"
			[ "$(field refused "$out")" = 0 ] ||
				{ echo "the dry run refused a call ($pattern, $placement, $mode)"; exit 1; }
			calls=$(field invalidate_calls "$out")
			printf '   %-11s %-8s %-24s %8s %8s %9s %10s %10s %10s %6s\n' "$pattern" "$placement" \
				"$([ $mode = merged ] && echo "merged (shared HWPTs)" || echo "no-merge (QEMU's model)")" \
				"$calls" "$(field invalidate_entries "$out")" "$(per "$calls" "$munmaps")" \
				"$(per "$(field host_invalidations "$out")" "$munmaps")" \
				"$(per "$(field host_devtlb_invalidations "$out")" "$munmaps")" \
				"$(per "$(field devtlb_done_before "$out")" "$munmaps")" \
				"$(field nested_hwpts "$out")"
		done
		m=$(field invalidate_calls "$tmp/$pattern-$placement-merged.json")
		q=$(field invalidate_calls "$tmp/$pattern-$placement-no-merge.json")
		echo "   $pattern, $placement: QEMU's model / merged IOMMU_HWPT_INVALIDATE calls: $q / $m = $(per "$q" "$m")"
	done
done

# The recorded streams of real Linux 6.1 and 6.12 guests (tests/data/README.md,
# made by make check-sva-linux): per munmap from two runs of the same test, 1
# and 5 iterations over 8 engines (32 munmaps apart), so the boot, bind and
# unbind cancel out. Per munmap the guest also answers 9 page requests (the
# copy's and the 8 stale-translation probes'). 8 engines, 4 behind each of 2
# host units, one vIOMMU per unit, one SVA domain (DID 1, PASID 1).
data=${top_srcdir:-$(dirname "$0")/..}/tests/data
rec=() rec_nested=()	# the simulated host; the dry run (nested HWPTs)
for i in 1 2 3 4 5 6 7 8; do
	u=$((i <= 4 ? 0 : 1))
	rec+=(--assign "sid=00:0$i.0,did=1,pasid=1,unit=$u,ats,viommu=$u")
	rec_nested+=(--assign "sid=00:0$i.0,did=1,pasid=1,unit=$u,ats,viommu=$u,nested")
done
echo
echo "   recorded real-guest streams, per munmap ((5-iteration run - 1-iteration run) / 32):"
printf '   %-11s %9s %9s %9s %10s %9s %14s %12s %8s\n' stream "g.subm" "g.desc" "iotlb" \
	"devtlb" "h.subm" "calls merged" "calls QEMU" "QEMU/m"
for k in 6.1 6.12; do
	gzip -dc "$data/linux-$k-sva-i5.trace.gz" >"$tmp/i5.trace"
	cp "$data/linux-$k-sva.trace" "$tmp/i1.trace"
	for it in i1 i5; do
		"$tagvmm" replay --qemu-trace "$tmp/$it.trace" "${rec[@]}" --json >"$tmp/$it-sim.json"
		for mode in merged no-merge; do
			flag=()
			[ $mode = no-merge ] && flag=(--no-merge)
			"$tagvmm" replay --qemu-trace "$tmp/$it.trace" "${rec_nested[@]}" \
				--backend iommufd-dry-run --json "${flag[@]}" >"$tmp/$it-$mode.json"
			[ "$(field refused "$tmp/$it-$mode.json")" = 0 ] ||
				{ echo "the dry run refused a call (Linux $k, $it, $mode)"; exit 1; }
		done
	done
	d() { per "$(($(field "$1" "$tmp/i5-$2.json") - $(field "$1" "$tmp/i1-$2.json")))" 32; }
	printf '   %-11s %9s %9s %9s %10s %9s %14s %12s %8s\n' "Linux $k" \
		"$(d tail_writes sim)" "$(d guest_descriptors sim)" "$(d host_invalidations sim)" \
		"$(d host_devtlb_invalidations sim)" "$(d host_submissions sim)" \
		"$(d invalidate_calls merged)" "$(d invalidate_calls no-merge)" \
		"$(per "$(d invalidate_calls no-merge)" "$(d invalidate_calls merged)")"
done
