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
judge guests 0 0
judge guests-viommu 0 0
judge speed 0 0
while read -r name cpus viommu _; do judge "$name" "$cpus" "$viommu"; done <"$cases"
grep -q '^TESTBED-DONE' "$log" || { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - L1 did not finish"; tail -n 20 "$log" | sed 's/^/#   /'; }
echo "# testbed: $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
