#!/usr/bin/env bash
# make check-linux: boot Debian's stock cloud kernel under tagvmm on both
# paths (bzImage through the Linux boot protocol, vmlinux through its PVH
# entry) and pass when the kernel's own serial log shows that it read what
# tagvmm handed it: the exact command line, the e820 map, the ACPI tables,
# and its CPUs and local APICs from the MADT. A third boot adds the emulated
# VT-d (--viommu): the kernel must parse the DMAR, set up queued invalidation
# and announce VT-d with no DMAR fault. Then each guest is stopped.
#
#
# Then the same checks on a kernel built from Debian's linux-source-6.1 with
# tests/linux/configs/virtio-guest.config (scripts/build-kernel.sh; built
# once, cached): everything a tagvmm guest needs is built in, since nothing
# can load a module on this KVM. With it, Linux's own virtio-blk driver
# probes a --disk behind the vIOMMU and reads the disk's MBR partition table
# (" vda: vda1 vda2") through it, with no DMAR fault.
#
# A full boot is out of reach on a software-KVM host (ring-0 code is
# emulated); early boot takes tens of seconds to a few minutes.
#   LINUX_TIMEOUT=N   seconds per path (default 900)
#   KERNEL=PATH       a bzImage (default: Debian's linux-image-cloud-amd64)
#   BUILT_KERNEL=DIR  the virtio-guest build (bzImage and vmlinux; default:
#                     scripts/build-kernel.sh 6.1 virtio-guest, which builds it
#                     the first time, for about half an hour)
#   LINUX_CASES=REGEX only the cases whose name matches
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=${top_builddir:-.}
tagvmm=$(cd "$top_builddir" && pwd)/tagvmm
timeout_s=${LINUX_TIMEOUT:-900}
cpus=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -e /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
[ -x "$tagvmm" ] || { echo "FAIL: $tagvmm not built"; exit 99; }

kernel=${KERNEL:-}
if [ -z "$kernel" ]; then
	kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)
	if [ -z "$kernel" ]; then
		echo "check-linux: installing linux-image-cloud-amd64"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-image-cloud-amd64 >/dev/null ||
			{ echo "FAIL: cannot install linux-image-cloud-amd64"; exit 99; }
		kernel=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)
	fi
fi

cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 clearcpuid=xsave,cx16,smap,ssse3 tsc=reliable panic=-1 tagvmm.check=$$"
mem=512M

# The e820 entries tagvmm gives a 512 MiB guest, as Linux prints them.
e820_lines=(
	"BIOS-e820: \[mem 0x0000000000000000-0x000000000009ffff\] usable"
	# Under PVH, Linux itself adds the ISA hole 0xa0000-0xfffff as reserved and merges it.
	"BIOS-e820: \[mem 0x00000000000[ae]0000-0x00000000000fffff\] reserved"
	"BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable"
	"BIOS-e820: \[mem 0x00000000e0000000-0x00000000e00fffff\] reserved"
)
want=(
	"Kernel command line: ${cmdline//./\\.}[[:space:]]*\$"	# exact; Linux ends lines with CR LF
	"${e820_lines[@]}"
	"ACPI: RSDP 0x00000000000E0000 .*TAGVMM"
	"ACPI: XSDT 0x"
	"ACPI: FACP 0x"
	"ACPI: DSDT 0x"
	"ACPI: APIC 0x"
	"ACPI: MCFG 0x"
	"Using ACPI \(MADT\) for SMP configuration information"
	"smpboot: Allowing $cpus CPUs"
	"IOAPIC\[0\]: apic_id .*GSI 0-23"
)

# The vIOMMU case: the kernel must parse the DMAR, set up its unit with
# queued invalidation and announce VT-d, and report no DMAR fault or QI error.
viommu_want=(
	"ACPI: DMAR 0x"
	"DMAR: Host address width 48"
	"DMAR: DRHD base: 0x000000fed90000"
	"DMAR: dmar0: Using Queued invalidation"
	"DMAR: Intel\(R\) Virtualization Technology for Directed I/O"
)
viommu_forbid="DMAR: DRHD: handling fault|DMAR: \[(DMA|INTR-REMAP)|Invalidation (Queue|Time-out|Completion) Error|QI HEAD|DMAR:.*[Ff]ault"

# The virtio-blk disk behind the vIOMMU: the DMAR set up, the device probed
# with its size, and the partition table read through the vIOMMU's mappings.
disk_want=(
	"${viommu_want[@]}"
	"pci 0000:00:[0-9a-f]{2}\.[0-7]: Adding to iommu group"
	"virtio_blk virtio[0-9]+: \[vda\] 16384 512-byte logical blocks"
	" vda: vda1 vda2"
)

# boot NAME IMAGE WANT-ARRAY-NAME [FORBID-REGEX] [-- extra tagvmm run options]
boot() {
	local name=$1 image=$2 log start now pid missing forbid=""
	local -n lines=$3
	shift 3
	[ $# -gt 0 ] && [ "$1" != -- ] && { forbid=$1; shift; }
	[ "${1:-}" = -- ] && shift
	log=$tmp/$name.log
	start=$(date +%s.%N)
	"$tagvmm" run -q -k "$image" -p "$cmdline ${extra_cmdline:-}" -m $mem -c $cpus "$@" \
		</dev/null >"$log" 2>&1 &
	pid=$!
	while :; do
		missing=()
		for w in "${lines[@]}"; do grep -qE -- "$w" "$log" || missing+=("$w"); done
		now=$(date +%s.%N)
		if [ -n "$forbid" ] && grep -qE -- "$forbid" "$log"; then
			kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
			echo "not ok - $name: the kernel reported an error:"
			grep -E -- "$forbid" "$log" | head -5 | sed 's/^/#   /'
			return 1
		fi
		if [ ${#missing[@]} -eq 0 ]; then
			kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
			printf 'ok - %s: all %d lines after %.1f s\n' "$name" ${#lines[@]} "$(echo "$now - $start" | bc)"
			grep -m1 -nE "ACPI: RSDP" "$log" | sed "s/^/#   $name: /"
			return 0
		fi
		if ! kill -0 $pid 2>/dev/null || [ "$(echo "$now - $start > $timeout_s" | bc)" = 1 ]; then
			kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
			echo "not ok - $name: missing after $(echo "$now - $start" | bc) s:"
			printf '#   %s\n' "${missing[@]}"
			tail -20 "$log" | sed 's/^/#   log: /'
			return 1
		fi
		sleep 1
	done
}

# mbr_image FILE: an 8 MiB raw disk with an MBR partition table of two Linux
# partitions (LBA 2048+2048 and 4096+4096), written byte by byte, so the
# kernel has a table to print (" vda: vda1 vda2").
mbr_image() {
	local f=$1
	truncate -s 8M "$f"
	# entry: status, CHS first, type 0x83, CHS last, LBA start and sectors (LE).
	printf '\x00\xfe\xff\xff\x83\xfe\xff\xff\x00\x08\x00\x00\x00\x08\x00\x00' |
		dd of="$f" bs=1 seek=$((0x1be)) conv=notrunc status=none
	printf '\x00\xfe\xff\xff\x83\xfe\xff\xff\x00\x10\x00\x00\x00\x10\x00\x00' |
		dd of="$f" bs=1 seek=$((0x1ce)) conv=notrunc status=none
	printf '\x55\xaa' | dd of="$f" bs=1 seek=510 conv=notrunc status=none
}

fails=0 total=0
# run_case NAME COMMAND...: runs it when NAME matches LINUX_CASES.
run_case() {
	[[ $1 =~ ${LINUX_CASES:-.} ]] || return 0
	shift
	total=$((total + 1))
	"$@" || fails=$((fails + 1))
}
run_case bzImage boot bzImage "$kernel" want
if "$(dirname "$0")/extract-vmlinux.sh" "$kernel" "$tmp/vmlinux"; then
	run_case vmlinux-pvh boot vmlinux-pvh "$tmp/vmlinux" want
	extra_cmdline="intel_iommu=on iommu.strict=1" \
		run_case vmlinux-pvh-viommu boot vmlinux-pvh-viommu "$tmp/vmlinux" viommu_want "$viommu_forbid" -- \
		--viommu --sim-device dma,iommu=dmar0,ats,pasid
else
	echo "not ok - vmlinux-pvh: cannot extract vmlinux from $kernel"
	fails=$((fails + 2)) total=$((total + 2))
fi

# The kernel built from Debian's source with virtio-guest.config.
built_cases=$(for c in virtio-guest-bzImage virtio-guest-pvh-viommu virtio-guest-disk-viommu; do
	[[ $c =~ ${LINUX_CASES:-.} ]] && echo "$c"; done)
if [ -n "$built_cases" ]; then
	built=${BUILT_KERNEL:-}
	if [ -z "$built" ]; then
		echo "check-linux: scripts/build-kernel.sh 6.1 virtio-guest (cached after the first build)"
		built=$(nice -n 19 "$top_srcdir/scripts/build-kernel.sh" 6.1 virtio-guest) || built=
	fi
	if [ -n "$built" ] && [ -s "$built/bzImage" ]; then
		run_case virtio-guest-bzImage boot virtio-guest-bzImage "$built/bzImage" want
		extra_cmdline="intel_iommu=on iommu.strict=1" \
			run_case virtio-guest-pvh-viommu boot virtio-guest-pvh-viommu "$built/vmlinux" viommu_want \
			"$viommu_forbid" -- --viommu --sim-device dma,iommu=dmar0,ats,pasid
		mbr_image "$tmp/disk.img"
		extra_cmdline="intel_iommu=on iommu.strict=1" \
			run_case virtio-guest-disk-viommu boot virtio-guest-disk-viommu "$built/vmlinux" disk_want \
			"$viommu_forbid" -- --viommu --disk "$tmp/disk.img,ro"
	else
		echo "not ok - virtio-guest: no kernel built"
		fails=$((fails + 1)) total=$((total + 1))
	fi
fi
echo "$((total - fails)) passed, $fails failed"
[ $fails -eq 0 ]
