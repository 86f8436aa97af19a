#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Boot the vIOMMU test guests (tests/guests/viommu-*.c) under KVM with
# `tagvmm run --viommu` and the emulated DMA engines they drive. A guest
# passes when tagvmm exits 0 and the console shows "TAGVMM-TEST: PASS
# <name>" and no FAIL line. viommu-sva also writes a flush trace, and
# `tagvmm trace summary --json` must show exactly one host IOTLB-class
# invalidation per (host unit, DID, PASID) per guest flush round: 2 per
# round for 8 devices on 2 host units. It also records its own stream
# (--guest-trace): replayed, it must hold exactly the invalidations the live
# run counted, on both vIOMMUs (one per host unit by default). Exit 77 (skip) only without
# /dev/kvm; missing binaries are a hard error (99).
set -u

top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
guests=$top_builddir/tests/guests
TIMEOUT=${GUEST_TIMEOUT:-120}
GUESTS="viommu-legacy viommu-sm viommu-sva viommu-nested viommu-ats viommu-hostile"

if [ ! -e /dev/kvm ]; then
	echo "SKIP: /dev/kvm does not exist"
	exit 77
fi
missing=
for f in "$tagvmm" $(for g in $GUESTS; do echo "$guests/$g.elf"; done); do
	[ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	echo "ERROR: not built:$missing (run make check, which builds the guests)" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tagvmm-viommu.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
passed=0
failed=0

logdir=$tmp
. "$(dirname "$0")/lib.sh"

# run_guest NAME [tagvmm run options...]: --viommu (one vIOMMU per host unit named), one vCPU.
run_guest() {
	guest=$1
	shift
	boot "$guest" "$tagvmm" run -k "$guests/$guest.elf" -m 64M -c 1 --viommu "$@"
}

check_guest() {
	run_guest "$@"
	if [ "$verdict" = pass ]; then
		report ok "$name (${elapsed} ms)"
	else
		report fail "$name (${elapsed} ms): $verdict"
	fi
}

# The first number after "KEY": in a one-line JSON object (top level first).
json_num() {
	grep -o "\"$1\":[0-9]*" "$2" | head -n 1 | cut -d: -f2
}

echo "1..8"
check_guest viommu-legacy --sim-device dma,iommu=dmar0
check_guest viommu-sm --sim-device dma,iommu=dmar0
check_guest viommu-nested --sim-device dma,iommu=dmar0,pasid
check_guest viommu-ats --sim-device dma,iommu=dmar0,ats
check_guest viommu-hostile --sim-device dma,iommu=dmar0,ats,pasid --inject-ite 0:1

sva_devs=
for unit in dmar0 dmar1; do
	for _ in 1 2 3 4; do
		sva_devs="$sva_devs --sim-device dma,iommu=$unit,ats,pasid"
	done
done
# shellcheck disable=SC2086 # one word per option
check_guest viommu-sva $sva_devs --flush-trace "$tmp/flush.log" --guest-trace "$tmp/guest.trace"

# Host invalidations per guest flush round: one per (host unit, DID, PASID).
rounds=$(tr -d '\r' <"$tmp/viommu-sva.log" | sed -n 's/^viommu-sva: devices [0-9]* flush rounds \([0-9]*\)$/\1/p')
if [ "$verdict" != pass ] || [ -z "$rounds" ]; then
	report fail "flush trace of viommu-sva: the guest did not finish (rounds '${rounds}')"
elif ! "$tagvmm" trace summary --json "$tmp/flush.log" >"$tmp/summary.json" 2>"$tmp/summary.err"; then
	log=$tmp/summary.err
	report fail "tagvmm trace summary --json failed"
else
	log=$tmp/summary.json
	inv=$(json_num invalidations "$log")
	devtlb=$(json_num devtlb_invalidations "$log")
	want=$((2 * rounds))
	echo "# viommu-sva: $rounds flush rounds, $inv IOTLB-class and $devtlb device-TLB host invalidations"
	if [ "${inv:-x}" = "$want" ]; then
		report ok "viommu-sva: $inv host IOTLB-class invalidations for $rounds rounds (2 units x 1 DID/PASID)"
	else
		report fail "viommu-sva: ${inv:-no} host IOTLB-class invalidations for $rounds rounds, want $want"
	fi
fi

# The recorded guest stream, replayed on the same topology (two vIOMMUs).
live=$(tr -d '\r' <"$tmp/viommu-sva.log" |
	sed -n 's/^tagvmm: viommu: [0-9]* guest batches, \([0-9]*\) guest invalidations;.*/\1/p')
assign=
for i in 0 1 2 3 4 5 6 7; do
	u=$((i / 4))
	assign="$assign --assign sid=00:0$((i + 1)).0,did=1,pasid=5,unit=$u,viommu=$u,ats,nested"
done
# shellcheck disable=SC2086 # one word per option
if ! "$tagvmm" replay --qemu-trace "$tmp/guest.trace" $assign --json >"$tmp/replay.json" \
	2>"$tmp/replay.err"; then
	report fail "viommu-sva --guest-trace: replay failed: $(head -c 300 "$tmp/replay.err")"
else
	replayed=$(json_num guest_invalidations "$tmp/replay.json")
	switches=$(grep -c '^tagvmm_viommu 1$' "$tmp/guest.trace")
	echo "# viommu-sva --guest-trace: live $live guest invalidations, replayed $replayed; vIOMMU 1 in $switches runs"
	if [ -n "$live" ] && [ "$live" = "$replayed" ] && [ "$switches" -gt 0 ]; then
		report ok "viommu-sva --guest-trace: the replay holds the $live invalidations the guest made, on 2 vIOMMUs"
	else
		report fail "viommu-sva --guest-trace: live '${live}' guest invalidations, replayed '${replayed}', vIOMMU 1 runs $switches"
	fi
fi

echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
