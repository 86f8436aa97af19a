#!/usr/bin/env bash
# The real-KVM testbed's judge (tests/realkvm/judge.sh) on made-up L1
# console logs: a run that did everything passes, and each way a Linux run
# or a guest script can fall short fails it. The testbed itself runs in
# `make check-realkvm`; this keeps its verdicts honest on every make check.
set -u
top_srcdir=${top_srcdir:-.}
judge=$top_srcdir/tests/realkvm/judge.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=0 fails=0

printf '%s\n' "linux-6.1-pvh-c2-viommu 2 1 /tb/l2/vmlinux-6.1" \
	"linux-6.12-virtio-viommu-ats 1 1 /tb/l2/bzImage-6.12 ats" >"$tmp/cases"

# A whole passing log, with CR LF line ends as a serial console has them.
good() {
	cat <<'LOG'
TESTBED-BEGIN guests
ok 1 - hello (-c 1, 940 ms)
TESTBED-RESULT guests status=0 wall_ms=9000
TESTBED-BEGIN guests-viommu
ok 1 - viommu-sm (970 ms)
TESTBED-RESULT guests-viommu status=0 wall_ms=8000
TESTBED-BEGIN speed
speed: 1000 instructions in 10 us of PM-timer time: 100.000 M instructions/s
TAGVMM-TEST: PASS speed
TESTBED-RESULT speed status=0 wall_ms=1500
TESTBED-BEGIN linux-6.1-pvh-c2-viommu
TAGVMM-L2: userspace reached
TAGVMM-L2: cpus 2 online 0-1
TAGVMM-L2: clocksource kvm-clock
TAGVMM-L2: iommu units: dmar0 
TAGVMM-L2: dmesg: [    0.2] ACPI: PM-Timer IO Port: 0x608
TAGVMM-L2: dmesg: [    0.3] Booting paravirtualized kernel on KVM
TAGVMM-L2: dmesg: [    1.0] tsc: Marking TSC unstable due to TSCs unsynchronized
TAGVMM-L2: dmesg: [    3.7] DMAR: dmar0: Using Queued invalidation
TAGVMM-L2: powering off
TESTBED-RESULT linux-6.1-pvh-c2-viommu status=0 wall_ms=11590
TESTBED-BEGIN linux-6.12-virtio-viommu-ats
TAGVMM-L2: userspace reached
TAGVMM-L2: cpus 1 online 0
TAGVMM-L2: clocksource kvm-clock
TAGVMM-L2: iommu units: dmar0 
TAGVMM-L2: dmesg: [    0.2] ACPI: PM-Timer IO Port: 0x608
TAGVMM-L2: dmesg: [    0.3] Booting paravirtualized kernel on KVM
TAGVMM-L2: dmesg: [    3.7] DMAR: dmar0: Using Queued invalidation
TAGVMM-L2: virtio: dd 4 MiB O_DIRECT bs=64k: write 900 ms, read 800 ms
TAGVMM-L2: virtio: blk read back the pattern
TAGVMM-L2: virtio: hwrng virtio_rng.0
TAGVMM-L2: virtio: hwrng gave 32 bytes
TAGVMM-L2: powering off
tagvmm: viommu: 300 guest batches, 400 guest invalidations; host: 300 invalidations + 300 device-TLB in 300 submissions; unique-tag bound 300
TESTBED-RESULT linux-6.12-virtio-viommu-ats status=0 wall_ms=20000
TESTBED-VIRTIO linux-6.12-virtio-viommu-ats image: holds the pattern
TESTBED-VIRTIO linux-6.12-virtio-viommu-ats trace: invalidations                  300
TESTBED-VIRTIO linux-6.12-virtio-viommu-ats trace: devtlb_invalidations           300
TESTBED-DONE
LOG
}

# verdict DESCRIPTION WANT(0|1) EXPECTED-REASON SED-SCRIPT: judge the good log edited by SED-SCRIPT.
verdict() {
	local what=$1 want=$2 reason=$3 edit=$4 st
	good | sed "$edit" | sed 's/$/\r/' >"$tmp/log"
	"$judge" "$tmp/log" "$tmp/cases" >"$tmp/out" 2>&1
	st=$?
	count=$((count + 1))
	if { [ "$want" = 0 ] && [ $st -eq 0 ]; } ||
	   { [ "$want" = 1 ] && [ $st -ne 0 ] && grep -q "^not ok .*$reason" "$tmp/out"; }; then
		echo "ok $count - $what"
	else
		fails=$((fails + 1))
		echo "not ok $count - $what (judge exited $st)"
		sed 's/^/# /' "$tmp/out" | head -20
	fi
}

verdict "a complete run passes" 0 "" ""
verdict "no userspace" 1 "no userspace" "/userspace reached/d"
verdict "tagvmm's exit status" 1 "exit status 5" "s/c2-viommu status=0/c2-viommu status=5/"
verdict "one CPU of two" 1 "not 2 CPUs online" "s/cpus 2 online 0-1/cpus 1 online 0/"
verdict "the clocksource is not kvm-clock" 1 "clocksource: TAGVMM-L2: clocksource jiffies" \
	"s/clocksource kvm-clock/clocksource jiffies/"
verdict "Linux did not see KVM" 1 "did not see KVM" "/Booting paravirtualized/d"
verdict "a TSC calibration complaint" 1 "TSC: .*could not calculate TSC khz" \
	"/powering off/i TAGVMM-L2: dmesg: tsc: Marking TSC unstable due to could not calculate TSC khz"
verdict "the TSC watchdog while kvm-clock is the clock" 0 "" \
	"/powering off/i TAGVMM-L2: dmesg: clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:"
verdict "no PM timer" 1 "no PM timer" "/PM-Timer/d"
verdict "no queued invalidation" 1 "no queued invalidation" "/Using Queued invalidation/d"
verdict "no dmar0 in sysfs" 1 "no dmar0" "s/iommu units: dmar0 /iommu units: /"
verdict "a DMAR fault" 1 "DMAR: .*handling fault" \
	"/powering off/i TAGVMM-L2: dmesg: DMAR: DRHD: handling fault status reg 2"
verdict "a failing test guest" 1 "guests .*a test guest failed" "s/^ok 1 - hello/not ok 1 - hello/"
verdict "a run without its result line" 1 "no result" "/RESULT linux-6.1-pvh-c2-viommu/d"
verdict "L1 did not finish" 1 "L1 did not finish" "/TESTBED-DONE/d"
verdict "the speed guest did not pass" 1 "speed .*no PASS line" "/PASS speed/d"
verdict "virtio-blk did not read back" 1 "virtio-viommu-ats.*the pattern did not read back" \
	"/blk read back the pattern/d"
verdict "the image does not hold the pattern" 1 "virtio-blk: .*image: .*differ" \
	"s/image: holds the pattern/image: \/tmp\/pattern \/tmp\/disk.img differ: byte 1/"
verdict "no virtio hwrng" 1 "virtio-rng: .*hwrng none" "s/hwrng virtio_rng.0/hwrng none/"
verdict "no bytes from /dev/hwrng" 1 "virtio-rng: /dev/hwrng gave no data" "/hwrng gave 32 bytes/d"
verdict "too few host invalidations" 1 "12 host IOTLB invalidations" \
	"s/trace: invalidations  *300/trace: invalidations 12/"
verdict "no device-TLB invalidation with ats" 1 "0 device-TLB invalidations" \
	"s/devtlb_invalidations  *300/devtlb_invalidations 0/"

echo "1..$count"
[ $fails -eq 0 ]
