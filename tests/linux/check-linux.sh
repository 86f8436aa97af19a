#!/usr/bin/env bash
# make check-linux: boot Debian's stock cloud kernel under tagvmm on both
# paths (bzImage through the Linux boot protocol, vmlinux through its PVH
# entry) and pass when the kernel's own serial log shows that it read what
# tagvmm handed it: the exact command line, the e820 map, the ACPI tables,
# and its CPUs and local APICs from the MADT. Then the guest is stopped.
#
# A full boot is out of reach on a software-KVM host (ring-0 code is
# emulated); early boot takes tens of seconds to a few minutes.
#   LINUX_TIMEOUT=N   seconds per path (default 900)
#   KERNEL=PATH       a bzImage (default: Debian's linux-image-cloud-amd64)
set -u
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

boot() {
	local name=$1 image=$2 log start now pid missing
	log=$tmp/$name.log
	start=$(date +%s.%N)
	"$tagvmm" run -q -k "$image" -p "$cmdline" -m $mem -c $cpus </dev/null >"$log" 2>&1 &
	pid=$!
	while :; do
		missing=()
		for w in "${want[@]}"; do grep -qE -- "$w" "$log" || missing+=("$w"); done
		now=$(date +%s.%N)
		if [ ${#missing[@]} -eq 0 ]; then
			kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
			printf 'ok - %s: all %d lines after %.1f s\n' "$name" ${#want[@]} "$(echo "$now - $start" | bc)"
			grep -m1 -nE "ACPI: RSDP" "$log" | sed "s/^/#   $name: /"
			printf '#   %s: first serial line after %s\n' "$name" "$(head -1 "$log" | cut -c1-60)"
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

fails=0
boot bzImage "$kernel" || fails=$((fails + 1))
if "$(dirname "$0")/extract-vmlinux.sh" "$kernel" "$tmp/vmlinux"; then
	boot vmlinux-pvh "$tmp/vmlinux" || fails=$((fails + 1))
else
	echo "not ok - vmlinux-pvh: cannot extract vmlinux from $kernel"
	fails=$((fails + 1))
fi
echo "$((2 - fails)) passed, $fails failed"
[ $fails -eq 0 ]
