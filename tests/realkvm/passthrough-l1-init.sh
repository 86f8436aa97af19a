#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# L1's /init for make check-passthrough-real (passthrough.sh): on the L1
# kernel built with IOMMUFD and the VFIO device cdev, under QEMU's emulated
# VT-d, bind the emulated NVMe controller to vfio-pci and report on
# PASSTHROUGH lines what the host's side of `tagvmm --vfio` needs: /dev/kvm,
# /dev/iommu, the device's IOMMU group and its /dev/vfio/devices/vfioN. With
# /tb/try-vfio present, then run tagvmm --vfio with it (issue 13's next step;
# reported, not judged). passthrough.sh judges the PASSTHROUGH lines.
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

# The NVMe controller (PCI class 01:08:02) and the e1000e (8086:10d3), bound to vfio-pci.
nvme=
for d in /sys/bus/pci/devices/*; do
	kind=
	[ "$(cat "$d/class")" = 0x010802 ] && kind=nvme
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && kind=e1000e
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

if [ -e /tb/try-vfio ] && [ -n "$nvme" ]; then
	echo "PASSTHROUGH: trying tagvmm --vfio $nvme"
	cd /tb && timeout 600 ./tagvmm run -k l2/bzImage -i l2/initramfs.cpio.gz -m 512M \
		-p "console=ttyS0 panic=-1 rdinit=/init quiet" --vfio "$nvme" </dev/null >/tmp/tagvmm.log 2>&1
	rc=$?
	sed 's/^/PASSTHROUGH: tagvmm: /' /tmp/tagvmm.log
	echo "PASSTHROUGH: tagvmm --vfio exited $rc"
fi
echo "PASSTHROUGH-DONE"
poweroff -f
