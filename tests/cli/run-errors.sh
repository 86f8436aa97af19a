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

# refuse DESCRIPTION PATTERN -- command...: non-zero, < 128, stderr matches PATTERN.
refuse() {
	local what=$1 pattern=$2; shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local st=$?
	count=$((count + 1))
	if [ $st -ne 0 ] && [ $st -lt 128 ] && grep -qiE -- "$pattern" "$tmp/err"; then
		echo "ok $count - $what (exit $st)"
	else
		fails=$((fails + 1))
		echo "not ok $count - $what (exit $st)"
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

refuse "no kernel" "-k KERNEL is required" -- "$tagvmm" run
refuse "missing kernel" "no such file" -- "$tagvmm" run -k "$tmp/nonexistent"
refuse "empty kernel" "not a bzImage or ELF|empty|too small" -- "$tagvmm" run -k "$tmp/empty"
refuse "garbage kernel" "not a bzImage or ELF" -- "$tagvmm" run -k "$tmp/garbage"
refuse "32-bit ELF" "not x86-64|ELFCLASS32" -- "$tagvmm" run -k "$tmp/elf32"
refuse "ELF for another machine" "not x86-64|machine" -- "$tagvmm" run -k "$tmp/arm"
refuse "truncated ELF" "truncat|outside|beyond|ELF" -- "$tagvmm" run -k "$tmp/truncated-elf"
refuse "kernel is a directory" "directory|not a regular file" -- "$tagvmm" run -k "$tmp"
refuse "initrd larger than RAM" "initrd.*(fit|large|RAM)" -- \
	"$tagvmm" run -k "$guest" -i "$tmp/big-initrd" -m 64M
refuse "missing initrd" "no such file" -- "$tagvmm" run -k "$guest" -i "$tmp/nonexistent"
refuse "too little memory" "memory" -- "$tagvmm" run -k "$guest" -m 1M
refuse "bad memory size" "bad memory size" -- "$tagvmm" run -k "$guest" -m lots
refuse "zero CPUs" "CPU count" -- "$tagvmm" run -k "$guest" -c 0
refuse "CPU count not a number" "CPU count" -- "$tagvmm" run -k "$guest" -c two
refuse "too many CPUs" "CPU count|vCPU" -- "$tagvmm" run -k "$guest" -c 100000
refuse "unknown option" "usage" -- "$tagvmm" run -k "$guest" --frobnicate
if [ -e /dev/kvm ] && command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	# A copy nobody can execute wherever the build tree lives.
	chmod 755 "$tmp" && cp "$tagvmm" "$tmp/tagvmm" && chmod 755 "$tmp/tagvmm"
	refuse "/dev/kvm not permitted" "permission denied on /dev/kvm" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/tagvmm" run -k "$guest"
fi
refuse "/dev/kvm missing" "no /dev/kvm|KVM is not available" -- \
	env TAGVMM_KVM_DEVICE="$tmp/no-kvm" "$tagvmm" run -k "$guest"

echo "$((count - fails)) passed, $fails failed"
[ $fails -eq 0 ]
