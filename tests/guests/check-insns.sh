#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Reject a guest image holding instructions this host's software KVM cannot
# emulate in ring 0 (it stops with KVM_EXIT_INTERNAL_ERROR): SSE/AVX
# registers, x87 (f* mnemonics, fwait), ldmxcsr/stmxcsr, xsave/xrstor,
# cmpxchg16b, clac/stac, int $0x80, syscall/sysenter, and int3 unless the
# guest tests #BP on purpose (--allow-int3).
#
# usage: check-insns.sh [--allow-int3] IMAGE.elf
set -eu

allow_int3=no
if [ "${1:-}" = --allow-int3 ]; then
	allow_int3=yes
	shift
fi
[ $# -eq 1 ] || { echo "usage: $0 [--allow-int3] IMAGE" >&2; exit 2; }
image=$1
OBJDUMP=${OBJDUMP:-objdump}

forbidden='^(cmpxchg16b|fwait|wait|f[a-z0-9]*|ldmxcsr|stmxcsr|xrstor[a-z0-9]*|xsave[a-z0-9]*|clac|stac|syscall|sysenter|sysret[lq]?|sysexit[lq]?)$'
[ $allow_int3 = yes ] || forbidden="${forbidden%)\$}|int3)\$"

# objdump -d lines: "  addr:<TAB>bytes<TAB>mnemonic operands". Only code
# sections are disassembled, so the 16-bit AP trampoline (in .rodata) is
# not misread as 64-bit code.
bad=$("$OBJDUMP" -d --no-show-raw-insn "$image" | awk -F'\t' -v re="$forbidden" '
	NF >= 2 && $1 ~ /^ *[0-9a-f]+:$/ {
		insn = $2
		split(insn, w, " ")
		m = w[1]
		# Prefixes objdump prints as words.
		if (m == "lock" || m == "rep" || m == "repz" || m == "repnz" || m == "data16" ||
		    m == "cs" || m == "ds" || m == "es" || m == "ss" || m == "fs" || m == "gs" || m == "notrack")
			m = w[2]
		if (m ~ re || insn ~ /%[xyz]mm[0-9]/ || insn ~ /%st(\(|$|,)/ || insn ~ /^int +\$0x80/)
			print $1 "\t" insn
	}')

if [ -n "$bad" ]; then
	echo "$image: instructions the host KVM cannot emulate:" >&2
	echo "$bad" | head -20 >&2
	exit 1
fi
