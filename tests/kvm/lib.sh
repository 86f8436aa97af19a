# Shared by the KVM test scripts (sourced): boot a test guest, judge its
# console by the TAGVMM-TEST protocol, and print TAP-like lines.
# Callers set TIMEOUT and logdir, and n=passed=failed=0.

# Milliseconds for timing runs: GNU date, or /proc/uptime where date has no
# %N (busybox, in the real-KVM testbed's L1; tests/realkvm).
now_ms() {
	case $(date +%s%3N) in
	*[!0-9]*)
		read -r up _ </proc/uptime
		frac=${up#*.}
		echo $((${up%.*} * 1000 + ${frac#0} * 10)) ;;
	*) date +%s%3N ;;
	esac
}

# boot NAME COMMAND...: runs COMMAND (a tagvmm run) under timeout with the
# console in $logdir/NAME.log; sets $log, $status, $verdict and $elapsed.
# The PASS line must be whole (a trailing CR is tolerated); any FAIL line,
# from any vCPU, wins.
boot() {
	name=$1
	shift
	log=$logdir/$name.log
	start=$(now_ms)
	timeout "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	status=$?
	elapsed=$(($(now_ms) - start))
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

# report ok|fail DESCRIPTION: one TAP-like line; a failure shows the console.
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
