#!/usr/bin/env bash
# make bench-linux: time to a stock kernel's first serial line and to its
# ACPI table lines, under tagvmm (bzImage and PVH vmlinux) and under
# qemu-system-x86_64 -accel kvm -kernel (same kernel, same command line),
# measured in one run. Each guest is stopped once the lines appear.
set -eu
top_builddir=${top_builddir:-.}
b=$(cd "$top_builddir" && pwd)
kernel=${KERNEL:-$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)}
runs=${RUNS:-3}
limit=${LINUX_TIMEOUT:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 clearcpuid=xsave,cx16,smap,ssse3 panic=-1"
pats=(-p "Linux version" -p "ACPI: RSDP" -p "ACPI: MCFG")

"$(dirname "$0")/../tests/linux/extract-vmlinux.sh" "$kernel" "$tmp/vmlinux"
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "bench-linux: installing qemu-system-x86"; apt-get install -y -qq qemu-system-x86 >/dev/null; }

echo "kernel: $kernel; $runs runs each; cmdline: $cmdline"
echo "== tagvmm, bzImage"
"$b/bench/boot-time" -n "$runs" -t "$limit" "${pats[@]}" -- \
	"$b/tagvmm" run -q -k "$kernel" -p "$cmdline" -m 512M -c 2
echo "== tagvmm, vmlinux (PVH entry)"
"$b/bench/boot-time" -n "$runs" -t "$limit" "${pats[@]}" -- \
	"$b/tagvmm" run -q -k "$tmp/vmlinux" -p "$cmdline" -m 512M -c 2
echo "== qemu-system-x86_64 -accel kvm, bzImage (SeaBIOS, the kernel's decompressor)"
"$b/bench/boot-time" -n "$runs" -t "$limit" "${pats[@]}" -- \
	qemu-system-x86_64 -accel kvm -machine q35 -m 512M -smp 2 -kernel "$kernel" \
	-append "$cmdline" -nographic -nodefaults -serial stdio -no-reboot
