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
# The virtio cases (tagvmm.virtio on the command line): Linux's own drivers
# drive tagvmm's virtio-blk and virtio-rng; O_DIRECT so every byte is DMA.
uptime_cs() {	# centiseconds since boot (no octal "08")
	read -r up _ </proc/uptime
	frac=${up#*.}
	echo $((${up%.*} * 100 + ${frac#0}))
}
if grep -q tagvmm.virtio /proc/cmdline; then
	mkdir -p /dev /tmp
	mount -t devtmpfs dev /dev
	kv=$(uname -r)
	for m in $(cat "/modules/$kv/order" 2>/dev/null); do
		insmod "/modules/$kv/$m.ko" || echo "TAGVMM-L2: virtio: insmod $m failed"
	done
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
	yes TAGVMM-VIRTIO-PATTERN | head -c 4194304 >/tmp/pattern
	t0=$(uptime_cs)
	dd if=/tmp/pattern of=/dev/vda bs=64k oflag=direct 2>/dev/null || echo "TAGVMM-L2: virtio: write failed"
	t1=$(uptime_cs)
	dd if=/dev/vda of=/tmp/back bs=64k count=64 iflag=direct 2>/dev/null || echo "TAGVMM-L2: virtio: read failed"
	t2=$(uptime_cs)
	echo "TAGVMM-L2: virtio: dd 4 MiB O_DIRECT bs=64k: write $((t1 - t0))0 ms, read $((t2 - t1))0 ms"
	cmp /tmp/pattern /tmp/back && echo "TAGVMM-L2: virtio: blk read back the pattern"
	echo "TAGVMM-L2: virtio: hwrng $(cat /sys/class/misc/hw_random/rng_current 2>&1)"
	n=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)
	[ "$n" = 32 ] && echo "TAGVMM-L2: virtio: hwrng gave 32 bytes"
	grep virtio /proc/interrupts | tr -s ' ' | sed 's/^/TAGVMM-L2: virtio: interrupts:/'
	dmesg | grep -E 'virtio|vda|DMAR: .*(ATS|fault)' | sed 's/^/TAGVMM-L2: dmesg: /'
fi
# The passthrough case (tagvmm.nvme, tests/realkvm/passthrough.sh): Linux's
# nvme driver on the controller QEMU gives L1, passed through by tagvmm
# --vfio. The first sector holds what passthrough.sh wrote; 4 MiB at 1 MiB
# are written O_DIRECT, read back and compared, and passthrough.sh finds
# them in the image file after the run.
if grep -q tagvmm.nvme /proc/cmdline; then
	mkdir -p /dev /tmp
	mount -t devtmpfs dev /dev 2>/dev/null
	i=0
	while [ ! -b /dev/nvme0n1 ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
	[ -b /dev/nvme0n1 ] || echo "TAGVMM-L2: nvme: no /dev/nvme0n1 after ${i} s"
	echo "TAGVMM-L2: nvme: first sector says $(dd if=/dev/nvme0n1 bs=512 count=1 iflag=direct 2>/dev/null | head -c 16)"
	yes TAGVMM-NVME-PATTERN | head -c 4194304 >/tmp/pattern
	t0=$(uptime_cs)
	dd if=/tmp/pattern of=/dev/nvme0n1 bs=64k seek=16 oflag=direct 2>/dev/null ||
		echo "TAGVMM-L2: nvme: write failed"
	t1=$(uptime_cs)
	dd if=/dev/nvme0n1 of=/tmp/back bs=64k skip=16 count=64 iflag=direct 2>/dev/null ||
		echo "TAGVMM-L2: nvme: read failed"
	t2=$(uptime_cs)
	echo "TAGVMM-L2: nvme: dd 4 MiB O_DIRECT bs=64k: write $((t1 - t0))0 ms, read $((t2 - t1))0 ms"
	cmp /tmp/pattern /tmp/back && echo "TAGVMM-L2: nvme: read back the pattern"
	sync
	grep -E 'nvme|PCI-MSI' /proc/interrupts | tr -s ' ' | sed 's/^/TAGVMM-L2: nvme: interrupts:/'
	dmesg | grep -E 'nvme|DMAR|vfio|MSI' | sed 's/^/TAGVMM-L2: dmesg: /'
fi
# The SVA cases (tagvmm.sva=ITERATIONS on the command line, make
# check-sva-linux): tests/linux/sva/sva-test.c against the tagvmm-sva-test
# driver built into the sva-guest kernel, then what the kernel said about
# the vIOMMU, page requests and the engines.
sva=$(sed -n 's/.*tagvmm\.sva=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$sva" ]; then
	mkdir -p /dev
	mount -t devtmpfs dev /dev
	echo "TAGVMM-L2: sva: $(uname -r), $(ls /dev | grep -c tagvmm-sva) engines"
	/bin/sva-test "$sva"
	echo "TAGVMM-L2: sva: sva-test exit $?"
	dmesg | grep -Ei 'DMAR|tagvmm-sva|iommu|prq|pasid|svm|page request' | sed 's/^/TAGVMM-L2: dmesg: /'
fi
echo "TAGVMM-L2: powering off"
poweroff -f
