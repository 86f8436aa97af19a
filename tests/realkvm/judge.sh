#!/usr/bin/env bash
# judge.sh CONSOLE-LOG CASES: the verdicts of a testbed run (see testbed.sh).
# Each L2 run's console lies between "TESTBED-BEGIN NAME" and
# "TESTBED-RESULT NAME status=S wall_ms=W" in L1's console log. Prints one
# TAP line per run with its wall time; exits 1 on any failure.
#   TESTBED_VERBOSE=1   also print every L2 console
set -uo pipefail
log=$1 cases=$2
tr -d '\r' <"$log" >"$log.lf"
log=$log.lf

n=0 failed=0
section() {	# the console of run $1
	awk -v b="TESTBED-BEGIN $1" -v e="TESTBED-RESULT $1 " \
		'$0 == b { on = 1; next } index($0, e) == 1 { on = 0 } on' "$log"
}
verdict() {	# verdict NAME ok|REASON WALL
	n=$((n + 1))
	if [ "$2" = ok ]; then
		echo "ok $n - $1 (${3})"
	else
		failed=$((failed + 1))
		echo "not ok $n - $1 (${3}): $2"
		section "$1" | tail -n 40 | sed 's/^/#   /'
	fi
	[ -n "${TESTBED_VERBOSE:-}" ] && section "$1" | sed "s/^/# $1: /"
	return 0
}

# The Linux console must show no TSC calibration complaint and no DMAR fault.
# Two TSC lines are no calibration complaint while kvm-clock is the clock
# (which is checked): "Marking TSC unstable due to TSCs unsynchronized",
# which Linux says of every multi-CPU AMD guest whose CPU model lacks the
# invariant TSC (the testbed's qemu64 does), and the clocksource watchdog
# marking the TSC unstable against kvm-clock, which the testbed's TCG
# timekeeping under host load makes happen now and then.
tsc_forbid='Unable to calibrate|could not calculate TSC khz|No reference \(HPET/PMTIMER\)|TSC calibration failed'
dmar_forbid='DMAR: DRHD: handling fault|DMAR: \[(DMA|INTR-REMAP)|Invalidation (Queue|Time-out|Completion) Error|QI HEAD'

# An SVA case (testbed.sh, TESTBED_SVA): every engine bound by the test
# driver with IOPF and SVA on; the test's copies by PASID to fresh pages
# went through page requests and landed right; after every munmap each of
# the 8 engines' copies into the page just unmapped faulted (sva-test.c's
# probe: no translation survived in an ATC or the host IOTLB); no DMAR
# fault, no queue error.
judge_sva() {	# judge_sva NAME SECTION; sets why
	local name=$1 s=$2 pass iters prs enabled munmaps probes
	grep -qx 'TAGVMM-L2: userspace reached' <<<"$s" || { why="no userspace"; return; }
	enabled=$(grep -c 'TAGVMM-L2: dmesg: .*tagvmm-sva: IOPF and SVA enabled' <<<"$s")
	[ "$enabled" = 8 ] || { why="IOPF and SVA enabled on $enabled of 8 engines: $(grep -m1 -E 'tagvmm-sva: (enabling|PASID)' <<<"$s")"; return; }
	grep -qx 'TAGVMM-SVA: bound 8 devices' <<<"$s" ||
		{ why="bind: $(grep -m1 -E 'TAGVMM-SVA: (bind .* failed|bound)' <<<"$s")"; return; }
	pass=$(grep -m1 '^TAGVMM-SVA: PASS devices=8 ' <<<"$s")
	[ -n "$pass" ] || { why="$(grep -m1 -E '^TAGVMM-SVA: (dev .*(probe|status|wrong|ioctl)|FAIL)' <<<"$s")"; return; }
	iters=$(sed -n 's/.* iterations=\([0-9]*\).*/\1/p' <<<"$pass")
	prs=$(sed -n 's/.* page_requests=\([0-9]*\).*/\1/p' <<<"$pass")
	munmaps=$(sed -n 's/.* munmaps=\([0-9]*\).*/\1/p' <<<"$pass")
	probes=$(sed -n 's/.* probes=\([0-9]*\).*/\1/p' <<<"$pass")
	[ "${munmaps:-0}" = $((8 * iters)) ] && [ "${probes:-0}" = $((8 * munmaps)) ] ||
		{ why="${munmaps:-no} munmaps and ${probes:-no} stale-translation probes for $iters iterations"; return; }
	# Each copy's destination is a fresh page: at least one page request per copy.
	[ "${prs:-0}" -ge $((8 * iters)) ] || { why="only ${prs:-0} page requests for $((8 * iters)) copies"; return; }
	grep -Eq "$dmar_forbid" <<<"$s" && { why="DMAR: $(grep -Em1 "$dmar_forbid" <<<"$s")"; return; }
	grep -q 'TAGVMM-L2: dmesg: .*\(PRQ\|prq\).*\(error\|fail\)' <<<"$s" &&
		{ why="$(grep -m1 'TAGVMM-L2: dmesg: .*\(PRQ\|prq\)' <<<"$s")"; return; }
	grep -E '^TAGVMM-SVA: PASS|^TAGVMM-SVA: dev 0 ' <<<"$s" | sed "s/^/# $name: /"
}

# One counter of an SVA case's summaries: sva_count NAME trace|guest KEY
sva_count() {
	sed -n "s/^TESTBED-SVA $1 $2: $3  *\([0-9]*\)$/\1/p" "$log" | head -1
}

# Per munmap, from the two runs of a kernel and placement that differ only in
# their iteration count (testbed.sh, TESTBED_SVA_ITERS): everything else the
# runs do (boot, binds, unbinds) is the same, so the difference of each count
# over the difference of munmaps is what one munmap costs.
sva_per_munmap() {	# sva_per_munmap PREFIX SHORT LONG
	local a=$1-i$2 b=$1-i$3 m k va vb out=""
	m=$((($3 - $2) * 8))
	for k in "guest submissions" "guest descriptors" "guest desc_p_iotlb_inv" \
		"guest desc_p_dev_tlb_inv" "guest desc_dev_tlb_inv" "guest desc_iotlb_inv" \
		"guest desc_page_grp_resp" "trace invalidations" "trace devtlb_invalidations" \
		"trace submissions"; do
		va=$(sva_count "$a" ${k% *} ${k#* })
		vb=$(sva_count "$b" ${k% *} ${k#* })
		[ -n "$vb" ] || [ -n "$va" ] || continue
		out="$out, ${k/trace/host} $(awk -v a="${va:-0}" -v b="${vb:-0}" -v m=$m 'BEGIN { printf "%.2f", (b - a) / m }')"
	done
	[ -n "$out" ] && echo "# $1: per munmap (runs $a, $b, $m munmaps apart):${out#,}"
}

judge() {	# judge NAME CPUS VIOMMU
	local name=$1 cpus=$2 viommu=$3 result status wall s why=""
	result=$(grep -m1 "^TESTBED-RESULT $name " "$log")
	if [ -z "$result" ]; then
		verdict "$name" "no result (L1 stopped or timed out before it)" "-"
		return
	fi
	status=$(echo "$result" | sed -n 's/.* status=\([0-9]*\).*/\1/p')
	wall=$(echo "$result" | sed -n 's/.* wall_ms=\([0-9]*\).*/\1/p')
	wall="$((wall / 1000)).$(printf '%03d' $((wall % 1000))) s"
	s=$(section "$name")
	case $name in
	sva-*)
		judge_sva "$name" "$s"
		;;
	speed)
		grep -qx 'TAGVMM-TEST: PASS speed' <<<"$s" || why="no PASS line"
		grep '^speed:' <<<"$s" | sed 's/^/# testbed guest /'
		;;
	guests*)
		if grep -q '^not ok' <<<"$s"; then
			why="a test guest failed"
		elif ! grep -q '^ok' <<<"$s"; then
			why="no test guest ran"
		fi
		;;
	linux*)
		grep -qx 'TAGVMM-L2: userspace reached' <<<"$s" || why="no userspace"
		[ -z "$why" ] && ! grep -q 'TAGVMM-L2: dmesg: .*Booting paravirtualized kernel on KVM' <<<"$s" &&
			why="the kernel did not see KVM"
		[ -z "$why" ] && ! grep -q "^TAGVMM-L2: cpus $cpus online" <<<"$s" && why="not $cpus CPUs online"
		[ -z "$why" ] && ! grep -Eq '^TAGVMM-L2: clocksource kvm-clock$' <<<"$s" &&
			why="clocksource: $(grep '^TAGVMM-L2: clocksource' <<<"$s")"
		# tagvmm's FADT names the PM timer, the reference of a guest without kvm-clock.
		[ -z "$why" ] && ! grep -q 'TAGVMM-L2: dmesg: .*ACPI: PM-Timer IO Port: 0x608' <<<"$s" &&
			why="the kernel found no PM timer"
		[ -z "$why" ] && grep -Eq "$tsc_forbid" <<<"$s" && why="TSC: $(grep -Em1 "$tsc_forbid" <<<"$s")"
		if [ -z "$why" ] && [[ $name == *-virtio* ]]; then
			grep -q '^TAGVMM-L2: virtio: blk read back the pattern' <<<"$s" ||
				why="virtio-blk: the pattern did not read back"
			[ -z "$why" ] && ! grep -q "^TESTBED-VIRTIO $name image: holds the pattern" "$log" &&
				why="virtio-blk: $(grep -m1 "^TESTBED-VIRTIO $name image:" "$log")"
			[ -z "$why" ] && ! grep -q '^TAGVMM-L2: virtio: hwrng virtio_rng' <<<"$s" &&
				why="virtio-rng: $(grep -m1 '^TAGVMM-L2: virtio: hwrng' <<<"$s")"
			[ -z "$why" ] && ! grep -q '^TAGVMM-L2: virtio: hwrng gave 32 bytes' <<<"$s" &&
				why="virtio-rng: /dev/hwrng gave no data"
			# Behind the vIOMMU the guest's unmaps must reach the host as invalidations.
			# 4 MiB each way in 64 KiB requests: at least 128 unmaps, each flushed
			# before it returns (iommu.strict=1), so at least 128 host invalidations.
			inv=$(sed -n "s/^TESTBED-VIRTIO $name trace: invalidations *\([0-9]*\)$/\1/p" "$log")
			dev=$(sed -n "s/^TESTBED-VIRTIO $name trace: devtlb_invalidations *\([0-9]*\)$/\1/p" "$log")
			[ -z "$why" ] && [ "$viommu" = 1 ] && [ "${inv:-0}" -lt 128 ] &&
				why="${inv:-no} host IOTLB invalidations in the flush trace, not the guest's unmaps"
			[ -z "$why" ] && [[ $name == *-ats ]] && [ "${dev:-0}" -lt 128 ] &&
				why="${dev:-no} device-TLB invalidations in the flush trace"
			[ "$viommu" = 1 ] && echo "# $name: flush trace: ${inv:-?} invalidations, ${dev:-?} device-TLB"
			grep -E '^TAGVMM-L2: virtio:|^tagvmm: viommu:' <<<"$s" | sed "s/^/# $name: /"
		fi
		if [ -z "$why" ] && [ "$viommu" = 1 ]; then
			grep -q 'DMAR: dmar0: Using Queued invalidation' <<<"$s" || why="no queued invalidation on dmar0"
			[ -z "$why" ] && ! grep -q '^TAGVMM-L2: iommu units: dmar0' <<<"$s" && why="no dmar0 in /sys/class/iommu"
			[ -z "$why" ] && grep -Eq "$dmar_forbid" <<<"$s" && why="DMAR: $(grep -Em1 "$dmar_forbid" <<<"$s")"
		fi
		;;
	esac
	[ -z "$why" ] && [ "$status" != 0 ] && why="exit status $status"
	verdict "$name" "${why:-ok}" "$wall"
}

grep -E '^TESTBED-(ERROR|THREAD)' "$log" | sed 's/^/# /'
if [ "${TESTBED_SVA:-}" != only ]; then
	judge guests 0 0
	judge guests-viommu 0 0
	judge speed 0 0
fi
while read -r name cpus viommu _; do judge "$name" "$cpus" "$viommu"; done <"$cases"
# The SVA cases' per-munmap counts, per kernel and placement with two runs.
for prefix in $(sed -n 's/^\(sva-.*\)-i[0-9]* .*/\1/p' "$cases" | sort -u); do
	its=$(sed -n "s/^$prefix-i\([0-9]*\) .*/\1/p" "$cases" | sort -n | tr '\n' ' ')
	set -- $its
	[ $# -ge 2 ] && sva_per_munmap "$prefix" "$1" "$2"
	for c in $(sed -n "s/^\($prefix-i[0-9]*\) .*/\1/p" "$cases"); do
		grep "^TESTBED-SVA $c " "$log" | sed 's/^TESTBED-SVA /# /'
	done
done
grep -q '^TESTBED-DONE' "$log" || { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - L1 did not finish"; tail -n 20 "$log" | sed 's/^/#   /'; }
echo "# testbed: $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
