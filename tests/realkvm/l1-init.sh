#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# The testbed's L1 /init (see testbed.sh): load kvm-amd, then run every L2
# case with its console forwarded to ours between a TESTBED-BEGIN line and a
# TESTBED-RESULT line (tagvmm's exit status and the run's wall time), and
# power off. testbed.sh judges the consoles.
/bin/busybox mkdir -p /bin /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp

# Milliseconds since boot (/proc/uptime has centiseconds; no octal "08").
uptime_ms() {
	read -r up _ </proc/uptime
	frac=${up#*.}
	echo $((${up%.*} * 1000 + ${frac#0} * 10))
}
echo "TESTBED: L1 userspace at $(uptime_ms) ms"

for m in irqbypass kvm kvm-amd; do insmod /modules/$m.ko || echo "TESTBED-ERROR: insmod $m failed"; done
dmesg | grep -E "kvm|SVM" | sed 's/^/L1: /'
[ -e /dev/kvm ] || echo "TESTBED-ERROR: no /dev/kvm in L1"
echo 1 >/proc/sys/kernel/printk

# Every tagvmm thread's state, for a case that would not end: where it waits.
dump_tagvmm() {
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = tagvmm ] || continue
		for t in "$p"/task/*; do
			echo "TESTBED-THREAD ${p#/proc/}/${t##*/}: $(cut -d' ' -f3 "$t/stat" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cat "$t/syscall" 2>/dev/null)"
			sed 's/^/TESTBED-THREAD   /' "$t/stack" 2>/dev/null
		done
	done
}

# case NAME COMMAND...: one run, bounded, its output on the console. Past
# CASE_TIMEOUT it gets SIGTERM (tagvmm ends within 100 ms of one, whatever
# the guest does), past 10 s more SIGKILL, and each time the threads' states
# are printed: a hang must neither stall the testbed nor go unexplained.
case_run() {
	name=$1
	shift
	echo "TESTBED-BEGIN $name"
	t0=$(uptime_ms)
	"$@" </dev/null 2>&1 &
	pid=$!
	limit=$((${CASE_TIMEOUT:-300} * 1000))
	while kill -0 "$pid" 2>/dev/null && [ $(($(uptime_ms) - t0)) -lt "$limit" ]; do sleep 1; done
	for sig in TERM KILL; do
		kill -0 "$pid" 2>/dev/null || break
		echo "TESTBED-ERROR: $name still running after $(($(uptime_ms) - t0)) ms; SIG$sig"
		dump_tagvmm
		pkill -"$sig" -P "$pid" 2>/dev/null
		kill -"$sig" "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 10 ]; do sleep 1; i=$((i + 1)); done
	done
	wait "$pid"
	rc=$?
	echo
	echo "TESTBED-RESULT $name status=$rc wall_ms=$(($(uptime_ms) - t0))"
}

cd /tb || exit 1
# The project's KVM test guests, by the scripts make check runs on the software KVM
# (not in an SVA-only run, make check-sva-linux: testbed.sh writes /tb/sva-only).
# A rerun after a stalled L1 (testbed.sh writes /tb/rerun) runs only the
# cases that L1 left unfinished.
fixed() {	# fixed NAME: run this fixed case?
	[ ! -e /tb/sva-only ] && { [ ! -e /tb/rerun ] || grep -qx "$1" /tb/rerun; }
}
fixed guests && case_run guests env top_builddir=/tb sh tests/kvm/guests.sh
fixed guests-viommu && case_run guests-viommu env top_builddir=/tb sh tests/kvm/viommu.sh
# The guest's instruction rate (tests/guests/speed.c).
fixed speed && case_run speed ./tagvmm run -q -k tests/guests/speed.elf -m 64M

# A virtio case: L2 writes a pattern to the disk and reads it back (l2-init.sh);
# afterwards the image must hold it, and the flush trace shows what reached the host.
virtio_run() {	# virtio_run NAME CPUS VIOMMU IMAGE plain|ats|nomerge
	name=$1 cpus=$2 viommu=$3 image=$4 opts=$5
	set -- ./tagvmm run -q -k "$image" -i l2/initramfs.cpio.gz -m 512M -c "$cpus"
	ats=
	[ "$opts" = ats ] && ats=,ats
	rm -f /tmp/disk.img /tmp/trace
	dd if=/dev/zero of=/tmp/disk.img bs=1M count=8 2>/dev/null
	if [ "$viommu" = 1 ]; then
		set -- "$@" -p "$cmdline tagvmm.virtio intel_iommu=on iommu.strict=1" --viommu \
			--flush-trace /tmp/trace
		[ "$opts" = nomerge ] && set -- "$@" --no-merge
	else
		set -- "$@" -p "$cmdline tagvmm.virtio"
	fi
	case_run "$name" "$@" --disk "/tmp/disk.img$ats" --rng${ats:+=ats}
	yes TAGVMM-VIRTIO-PATTERN | head -c 4194304 >/tmp/pattern
	head -c 4194304 /tmp/disk.img >/tmp/written
	if cmp /tmp/pattern /tmp/written >/dev/null 2>&1; then
		echo "TESTBED-VIRTIO $name image: holds the pattern"
	else
		echo "TESTBED-VIRTIO $name image: $(cmp /tmp/pattern /tmp/written 2>&1 | head -1)"
	fi
	[ -e /tmp/trace ] && ./tagvmm trace summary /tmp/trace | sed "s/^/TESTBED-VIRTIO $name trace: /"
	rm -f /tmp/disk.img /tmp/trace /tmp/pattern /tmp/written
}

# An SVA case (make check-sva-linux, docs/running.md): the sva-guest test kernel
# with 8 emulated DMA engines (ATS, PASID, PRI), 4 behind each of 2 simulated
# host units, behind one vIOMMU per host unit (matched) or one for all (one).
# L2 runs tests/linux/sva/sva-test.c ITERS times over all 8 (l2-init.sh).
# No --caching-mode: Linux then makes an SVA PASID entry present with no
# PASID-cache invalidation (the spec allows it), and the vIOMMU picks the
# entry up at the PASID's first DMA (vtd_sync_miss(), docs/running.md). What
# reached the host (flush trace) and what the guest queued (its own stream,
# --guest-trace: submissions = tail writes, descriptors by type) are printed
# for the judge; with dump, the guest stream itself too.
sva_run() {	# sva_run NAME IMAGE sva:ITERS:matched|one[:dump]
	name=$1 image=$2 spec=${3#sva:}
	iters=${spec%%:*} rest=${spec#*:}
	placement=${rest%%:*} dump=${rest#*:}
	viommu=--viommu
	[ "$placement" = one ] && viommu=--viommu=1
	set -- ./tagvmm run -q -k "$image" -i l2/initramfs.cpio.gz -m 512M -c 1 \
		-p "$cmdline tagvmm.sva=$iters intel_iommu=on,sm_on iommu.strict=1" "$viommu" \
		--flush-trace /tmp/trace --guest-trace /tmp/gtrace
	for unit in dmar0 dmar1; do
		for i in 1 2 3 4; do set -- "$@" --sim-device "dma,iommu=$unit,ats,pasid,pri"; done
	done
	rm -f /tmp/trace /tmp/gtrace
	case_run "$name" "$@"
	[ -e /tmp/trace ] && ./tagvmm trace summary /tmp/trace | sed "s/^/TESTBED-SVA $name trace: /"
	[ -e /tmp/gtrace ] && awk '/^vtd_inv_qi_tail/ { tails++ }
		/^vtd_inv_desc invalidate desc type/ { descs++; type[$5]++ }
		END { printf "submissions %d\ndescriptors %d\n", tails, descs
		      for (t in type) printf "desc_%s %d\n", t, type[t] }' /tmp/gtrace |
		sed "s/^/TESTBED-SVA $name guest: /"
	[ "$dump" = dump ] && [ -e /tmp/gtrace ] && sed "s/^/TESTBED-GTRACE $name: /" /tmp/gtrace
	rm -f /tmp/trace /tmp/gtrace
}

# The Linux matrix (testbed.sh writes /tb/cases: NAME CPUS VIOMMU IMAGE [VIRTIO|sva:...]).
while read -r name cpus viommu image virtio; do
	cmdline="console=ttyS0 panic=-1 rdinit=/init $(cat /tb/l2-cmdline)"
	if [ "${virtio%%:*}" = sva ]; then
		sva_run "$name" "$image" "$virtio"
	elif [ -n "$virtio" ]; then
		virtio_run "$name" "$cpus" "$viommu" "$image" "$virtio"
	elif [ "$viommu" = 1 ]; then
		case_run "$name" ./tagvmm run -q -k "$image" -i l2/initramfs.cpio.gz -m 512M -c "$cpus" \
			-p "$cmdline intel_iommu=on iommu.strict=1" \
			--viommu --sim-device dma,iommu=dmar0,ats,pasid
	else
		case_run "$name" ./tagvmm run -q -k "$image" -i l2/initramfs.cpio.gz -m 512M -c "$cpus" \
			-p "$cmdline"
	fi
done </tb/cases
echo "TESTBED-DONE"
poweroff -f
