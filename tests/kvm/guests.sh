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
	"$guests/smp.elf" "$guests/fail.elf" "$guests/crash.elf"; do
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

now_ms() { date +%s%3N; }

# run_guest NAME CPUS [tagvmm run options...]: boots the guest, leaves its
# console in $logdir/NAME.log and sets $status, $verdict and $elapsed.
run_guest() {
	name=$1
	cpus=$2
	shift 2
	log=$logdir/$name.log
	start=$(now_ms)
	timeout "$TIMEOUT" "$tagvmm" run -k "$guests/$name.elf" -m 64M -c "$cpus" "$@" \
		>"$log" 2>&1 </dev/null
	status=$?
	elapsed=$(($(now_ms) - start))
	# The PASS line must be whole (a trailing CR from a terminal-minded
	# UART is tolerated); any FAIL line, from any vCPU, wins.
	if [ $status -eq 124 ]; then
		verdict="timed out after ${TIMEOUT}s"
	elif grep -q '^TAGVMM-TEST: FAIL' "$log"; then
		verdict=$(grep -m1 '^TAGVMM-TEST: FAIL' "$log" | tr -d '\r')
	elif [ $status -ne 0 ]; then
		verdict="tagvmm exited $status"
	elif tr -d '\r' <"$log" | grep -qx "TAGVMM-TEST: PASS $name"; then
		verdict=pass
	else
		verdict="no TAGVMM-TEST verdict on the console"
	fi
}

report() {
	n=$((n + 1))
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		sed 's/^/#   /' "$log" | tail -n 30
	fi
}

check_guest() {
	run_guest "$@"
	if [ "$verdict" = pass ]; then
		report ok "$name (-c $cpus, ${elapsed} ms)"
	else
		report fail "$name (-c $cpus, ${elapsed} ms): $verdict"
	fi
}

echo "1..8"
check_guest hello 1 -p "tagvmm guest test"
check_guest exceptions 1
check_guest pci-enumerate 1
check_guest smp 4 -p "expect-cpus=4"
check_guest smp 1 -p "expect-cpus=1"

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
