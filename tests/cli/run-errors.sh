#!/usr/bin/env bash
# `tagvmm run` with bad input: each case gets one clear message on stderr,
# a non-zero exit below 128 (no crash, no core dump), and nothing boots.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
tagvmm=$(cd "$top_builddir" && pwd)/tagvmm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=0 fails=0

# refuse STATUS DESCRIPTION PATTERN -- command...: exits STATUS (see tagvmm(1):
# 1 VMM/KVM error, 2 bad usage, 3 bad kernel or initrd) with PATTERN on stderr.
refuse() {
	local want=$1 what=$2 pattern=$3; shift 4
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local st=$?
	count=$((count + 1))
	if [ $st -eq "$want" ] && grep -qiE -- "$pattern" "$tmp/err"; then
		echo "ok $count - $what (exit $st)"
	else
		fails=$((fails + 1))
		echo "not ok $count - $what (exit $st, wanted $want)"
		sed 's/^/# /' "$tmp/err" | head -5
	fi
}

# A valid x86-64 ELF to corrupt: the tagvmm binary itself is one.
head -c 64 /dev/urandom >"$tmp/garbage"
: >"$tmp/empty"
cp "$tagvmm" "$tmp/elf32"
printf '\001' | dd of="$tmp/elf32" bs=1 seek=4 conv=notrunc 2>/dev/null	# EI_CLASS = ELFCLASS32
cp "$tagvmm" "$tmp/arm"
printf '\050\000' | dd of="$tmp/arm" bs=1 seek=18 conv=notrunc 2>/dev/null	# e_machine = EM_ARM
head -c 4096 "$tagvmm" >"$tmp/truncated-elf"
guest=$top_builddir/tests/guests/hello.elf
[ -f "$guest" ] || guest=$tmp/truncated-elf
head -c $((80 << 20)) /dev/zero >"$tmp/big-initrd"

refuse 2 "no kernel" "-k KERNEL is required" -- "$tagvmm" run
refuse 3 "missing kernel" "no such file" -- "$tagvmm" run -k "$tmp/nonexistent"
refuse 3 "empty kernel" "not a bzImage or ELF|empty|too small" -- "$tagvmm" run -k "$tmp/empty"
refuse 3 "garbage kernel" "not a bzImage or ELF" -- "$tagvmm" run -k "$tmp/garbage"
refuse 3 "32-bit ELF" "not x86-64|ELFCLASS32" -- "$tagvmm" run -k "$tmp/elf32"
refuse 3 "ELF for another machine" "not x86-64|machine" -- "$tagvmm" run -k "$tmp/arm"
refuse 3 "truncated ELF" "truncat|outside|beyond|ELF" -- "$tagvmm" run -k "$tmp/truncated-elf"
refuse 3 "kernel is a directory" "directory|not a regular file" -- "$tagvmm" run -k "$tmp"
refuse 3 "initrd larger than RAM" "initrd.*(fit|large|RAM)" -- \
	"$tagvmm" run -k "$guest" -i "$tmp/big-initrd" -m 64M
refuse 3 "missing initrd" "no such file" -- "$tagvmm" run -k "$guest" -i "$tmp/nonexistent"
refuse 2 "too little memory" "memory" -- "$tagvmm" run -k "$guest" -m 1M
refuse 2 "bad memory size" "bad memory size" -- "$tagvmm" run -k "$guest" -m lots
refuse 2 "zero CPUs" "CPU count" -- "$tagvmm" run -k "$guest" -c 0
refuse 2 "CPU count not a number" "CPU count" -- "$tagvmm" run -k "$guest" -c two
refuse 2 "too many CPUs" "CPU count|vCPU" -- "$tagvmm" run -k "$guest" -c 100000
refuse 2 "unknown option" "usage" -- "$tagvmm" run -k "$guest" --frobnicate
if [ -e /dev/kvm ] && command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	# A copy nobody can execute wherever the build tree lives.
	chmod 755 "$tmp" && cp "$tagvmm" "$tmp/tagvmm" && chmod 755 "$tmp/tagvmm"
	refuse 1 "/dev/kvm not permitted" "permission denied on /dev/kvm" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/tagvmm" run -k "$guest"
fi
refuse 2 "bad --vfio address" "not a PCI address" -- "$tagvmm" run -k "$guest" --vfio 3b:00.0
if [ -e /dev/kvm ]; then
	refuse 1 "--vfio of a device that does not exist" "no PCI device 0000:ff:1f.7" -- \
		"$tagvmm" run -k "$guest" --vfio 0000:ff:1f.7
	# Behind a vIOMMU the device is looked for the same way, before any vIOMMU exists.
	refuse 1 "--vfio with --viommu, no such device" "no PCI device 0000:ff:1f.7" -- \
		"$tagvmm" run -k "$guest" --viommu --vfio 0000:ff:1f.7
fi
# virtio options (docs/virtio.md): bad syntax is usage, a bad image a VMM error.
refuse 2 "--disk without a file" "expected FILE" -- "$tagvmm" run -k "$guest" --disk ,ro
refuse 2 "--disk unknown option" "unknown option 'rw'" -- "$tagvmm" run -k "$guest" --disk "$tmp/empty,rw"
refuse 2 "--disk ats and iommu=off" "ats needs the vIOMMU" -- \
	"$tagvmm" run -k "$guest" --viommu --disk "$tmp/empty,ats,iommu=off"
refuse 2 "--disk ats without --viommu" "needs --viommu" -- "$tagvmm" run -k "$guest" --disk "$tmp/empty,ats"
refuse 2 "--rng unknown option" "unknown option 'ro'" -- "$tagvmm" run -k "$guest" --rng=ro
if [ -e /dev/kvm ]; then
	refuse 1 "--disk of a missing file" "--disk $tmp/nonexistent: No such file" -- \
		"$tagvmm" run -k "$guest" --disk "$tmp/nonexistent"
	refuse 1 "--disk of an empty file" "smaller than one 512-byte sector" -- \
		"$tagvmm" run -k "$guest" --disk "$tmp/empty"
	refuse 1 "--disk of a directory" "not a file or block device|Is a directory" -- \
		"$tagvmm" run -k "$guest" --disk "$tmp,ro"
fi
refuse 1 "/dev/kvm missing" "no /dev/kvm|KVM is not available" -- \
	env TAGVMM_KVM_DEVICE="$tmp/no-kvm" "$tagvmm" run -k "$guest"

echo "$((count - fails)) passed, $fails failed"
[ $fails -eq 0 ]
