#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Boot every test guest (tests/guests) under KVM with `tagvmm run` and read
# its verdict: a guest passes when tagvmm exits 0 and the console shows the
# line "TAGVMM-TEST: PASS <name>" and no FAIL line. The `fail` guest fails
# on purpose; it checks that this checker is not fooled by a guest that
# merely powers off cleanly. Exit 77 (skip) only without /dev/kvm; missing
# binaries are a hard error (99), not a skip.
set -u

top_builddir=${top_builddir:-.}
tagvmm=$top_builddir/tagvmm
guests=$top_builddir/tests/guests
TIMEOUT=${GUEST_TIMEOUT:-60}

if [ ! -e /dev/kvm ]; then
	echo "SKIP: /dev/kvm does not exist"
	exit 77
fi
missing=
for f in "$tagvmm" "$guests/hello.elf" "$guests/exceptions.elf" "$guests/pci-enumerate.elf" \
	"$guests/smp.elf" "$guests/fail.elf" "$guests/crash.elf" "$guests/speed.elf"; do
	[ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	echo "ERROR: not built:$missing (run make check, which builds the guests)" >&2
	exit 99
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/tagvmm-guests.XXXXXX") || exit 99
trap 'rm -rf "$logdir"' EXIT INT TERM

n=0
passed=0
failed=0

. "$(dirname "$0")/lib.sh"

# run_guest NAME CPUS [tagvmm run options...]
run_guest() {
	cpus=$2
	guest=$1
	shift 2
	boot "$guest" "$tagvmm" run -k "$guests/$guest.elf" -m 64M -c "$cpus" "$@"
}

check_guest() {
	run_guest "$@"
	if [ "$verdict" = pass ]; then
		report ok "$name (-c $cpus, ${elapsed} ms)"
	else
		report fail "$name (-c $cpus, ${elapsed} ms): $verdict"
	fi
}

echo "1..9"
check_guest hello 1 -p "tagvmm guest test"
check_guest exceptions 1
check_guest pci-enumerate 1
check_guest smp 4 -p "expect-cpus=4"
check_guest smp 1 -p "expect-cpus=1"
# The PM timer advances; the guest prints its instruction rate.
check_guest speed 1
grep '^speed:' "$log" | tr -d '\r' | sed 's/^/# /'

# Negative case: the checker must reject a guest that reports failure.
run_guest fail 1
case $verdict in
"TAGVMM-TEST: FAIL fail: failing on purpose")
	report ok "fail guest is reported as failing (${elapsed} ms)" ;;
pass)
	report fail "fail guest was taken for a pass" ;;
*)
	report fail "fail guest: expected its FAIL line, got: $verdict" ;;
esac

# A guest crash is reported, not survived: exit 5 and the reason on stderr.
run_guest crash 1
if [ $status -eq 5 ] && grep -q "guest crashed: .*triple fault" "$log"; then
	report ok "a triple fault stops tagvmm with status 5 (${elapsed} ms)"
else
	report fail "crash guest: status $status, $verdict"
fi

# --dtb-out writes the device tree the guest got.
run_guest hello 2 --dtb-out "$logdir/machine.dtb"
if [ "$verdict" = pass ] && [ "$(od -An -tx1 -N4 "$logdir/machine.dtb" | tr -d ' ')" = d00dfeed ] &&
	{ ! command -v dtc >/dev/null ||
	  dtc -I dtb -O dts "$logdir/machine.dtb" 2>/dev/null | grep -q 'cpu@1'; }; then
	report ok "--dtb-out writes the machine's device tree"
else
	report fail "--dtb-out: $verdict"
fi

echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]
