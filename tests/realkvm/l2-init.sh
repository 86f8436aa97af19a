#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# The testbed's L2 /init (see testbed.sh): in userspace, report what Linux
# sees on TAGVMM-L2 lines, then power off (tagvmm exits 0).
/bin/busybox --install -s /bin
mkdir -p /proc /sys
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "TAGVMM-L2: userspace reached"
echo "TAGVMM-L2: cpus $(nproc) online $(cat /sys/devices/system/cpu/online)"
echo "TAGVMM-L2: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "TAGVMM-L2: available clocksources $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource)"
echo "TAGVMM-L2: iommu units: $(ls /sys/class/iommu | tr '\n' ' ')"
for g in /sys/kernel/iommu_groups/*; do
	[ -d "$g" ] && echo "TAGVMM-L2: iommu group ${g##*/}: $(ls "$g/devices" | tr '\n' ' ')"
done
echo "TAGVMM-L2: lspci: $(ls /sys/bus/pci/devices | tr '\n' ' ')"
# The boot runs with `quiet` (each console byte is an exit through two
# levels of virtualization): the kernel's lines that the testbed judges.
dmesg | grep -E 'clocksource|kvm-clock|tsc:|TSC|PM-Timer|Booting paravirtualized|DMAR|smpboot: Total' |
	sed 's/^/TAGVMM-L2: dmesg: /'
echo "TAGVMM-L2: powering off"
poweroff -f
