#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# L1's /init for make check-passthrough-real (passthrough.sh): on the L1
# kernel built with IOMMUFD and the VFIO device cdev, under QEMU's emulated
# VT-d, bind the emulated NVMe controller to vfio-pci and report on
# PASSTHROUGH lines what the host's side of `tagvmm --vfio` needs: /dev/kvm,
# /dev/iommu, the device's IOMMU group and its /dev/vfio/devices/vfioN. Then
# run tagvmm: three refusals, the iommufd agreement check against the dry
# run, and L2 doing I/O on the controller. passthrough.sh judges the lines.
/bin/busybox mkdir -p /bin /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo "PASSTHROUGH: L1 userspace at $(cut -d' ' -f1 /proc/uptime) s, Linux $(uname -r)"
dmesg | grep -E 'DMAR|IOMMU|iommu|vfio|nvme|e1000e|SVM|kvm' | sed 's/^/L1: /'

ok() { echo "PASSTHROUGH-OK $*"; }
bad() { echo "PASSTHROUGH-FAIL $*"; }
[ -c /dev/kvm ] && ok "kvm /dev/kvm" || bad "no /dev/kvm"
[ -c /dev/iommu ] && ok "iommufd /dev/iommu" || bad "no /dev/iommu"
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] && ok "iommu units $(ls /sys/class/iommu | tr '\n' ' ')" ||
	bad "no IOMMU unit in /sys/class/iommu"

# The NVMe controller (PCI class 01:08:02), the e1000e (8086:10d3) and the
# two e1000s behind a PCI bridge (8086:100e, one IOMMU group), bound to vfio-pci.
nvme=
for d in /sys/bus/pci/devices/*; do
	kind=
	[ "$(cat "$d/class")" = 0x010802 ] && kind=nvme
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && kind=e1000e
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x100e ] && kind=e1000
	[ -n "$kind" ] || continue
	bdf=${d##*/}
	before=none
	[ -e "$d/driver" ] && before=$(basename "$(readlink "$d/driver")")
	echo vfio-pci >"$d/driver_override"
	[ -e "$d/driver" ] && echo "$bdf" >"$d/driver/unbind"
	echo "$bdf" >/sys/bus/pci/drivers_probe
	drv=none
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	group=none
	[ -e "$d/iommu_group" ] && group=$(basename "$(readlink "$d/iommu_group")")
	cdev=$(ls "$d/vfio-dev" 2>/dev/null | head -1)
	echo "PASSTHROUGH: $kind $bdf: was $before, now $drv, iommu group $group, vfio-dev ${cdev:-none}"
	echo "PASSTHROUGH: iommu group $group: $(ls "$d/iommu_group/devices" 2>/dev/null | tr '\n' ' ')"
	if [ "$drv" = vfio-pci ] && [ -n "$cdev" ] && [ -c "/dev/vfio/devices/$cdev" ]; then
		ok "$kind $bdf bound to vfio-pci: /dev/vfio/devices/$cdev, group $group"
		[ $kind = nvme ] && nvme=$bdf
	else
		bad "$kind $bdf: driver $drv, vfio-dev ${cdev:-none}"
	fi
done
[ -n "$nvme" ] || bad "no NVMe controller bound to vfio-pci"
ls -l /dev/iommu /dev/vfio /dev/vfio/devices 2>&1 | sed 's/^/PASSTHROUGH: ls: /'

# tagvmm --vfio against this kernel. Each run's output is kept on
# PASSTHROUGH-TAGVMM lines under its name; passthrough.sh judges them.
tagvmm_run() {	# tagvmm_run NAME TAGVMM-ARGS...: L2 is Debian's 6.12 cloud kernel
	name=$1; shift
	(cd /tb && timeout 600 ./tagvmm run -k l2/bzImage -i l2/initramfs.cpio.gz -m 512M "$@") \
		</dev/null >/tmp/tagvmm.log 2>&1
	rc=$?
	sed "s/^/PASSTHROUGH-TAGVMM $name: /" /tmp/tagvmm.log
	echo "PASSTHROUGH-TAGVMM $name: exit $rc"
	# --host-trace: each kind of host call and the kernel's answer, counted.
	if [ -s /tmp/host.log ]; then
		sed -E 's/^(ioctl|close|mmap) [0-9]+ /\1 /; s/ len 0x[0-9a-f]+ off 0x[0-9a-f]+//; s/ = [0-9]+$/ = ok/' \
			/tmp/host.log | sort | uniq -c | sed "s/^/PASSTHROUGH-HOSTCALL $name: /"
		rm -f /tmp/host.log
	fi
}
l2_cmdline="console=ttyS0 panic=-1 rdinit=/init quiet"
if [ -n "$nvme" ]; then
	# Refusals: a device vfio-pci does not own; a group only half given; a
	# vIOMMU over a host unit without nesting (QEMU 7.2's VT-d has no ECAP.NEST).
	tagvmm_run refuse-driver -p "$l2_cmdline" --vfio 0000:00:00.0
	# The e1000s behind the bridge: one alone is refused (naming the other,
	# not the bridge that shares their group); both together are taken.
	e1000s=$(for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x100e ] && echo "${d##*/}"
	done)
	set -- $e1000s
	if [ $# = 2 ]; then
		tagvmm_run refuse-group -p "$l2_cmdline" --vfio "$1"
		tagvmm_run group-whole -p "$l2_cmdline" --vfio "$1" --vfio "$2"
	fi
	tagvmm_run refuse-viommu -p "$l2_cmdline" --viommu --vfio "$nvme" --host-trace /tmp/host.log
	# The iommufd calls tagvmm makes, on this kernel and on the dry run.
	e1000e=$(grep -l 0x10d3 /sys/bus/pci/devices/*/device | head -1)
	e1000e=${e1000e%/device}
	[ -x /tb/iommufd-agree ] && [ -n "$e1000e" ] &&
		/tb/iommufd-agree "/dev/vfio/devices/$(ls "$e1000e/vfio-dev" | head -1)" 2>&1 |
		sed 's/^/PASSTHROUGH-AGREE /'
	# The device itself: L2's nvme driver does verified I/O through it.
	tagvmm_run nvme -p "$l2_cmdline tagvmm.nvme" --stats --vfio "$nvme" --host-trace /tmp/host.log
fi
echo "PASSTHROUGH-DONE"
poweroff -f
