#!/bin/sh
# SPDX-License-Identifier: MIT
#
# `tagvmm trace summary`: the summary of a small trace in both output
# formats, the same trace read as text, JSON lines, mixed and from stdin,
# and the exit statuses and messages for bad usage, unreadable files and
# malformed traces. Run by `make check` from the build directory with
# top_srcdir and top_builddir set; the format is docs/flush-trace.md.

set -u

tagvmm=${top_builddir:-.}/tagvmm
if [ ! -x "$tagvmm" ]; then
	echo "FAIL: $tagvmm not built" >&2
	exit 99
fi
# Absolute, so tests may change directory.
tagvmm=$(cd "$(dirname "$tagvmm")" && pwd)/tagvmm

work=$(mktemp -d "${TMPDIR:-/tmp}/trace-summary.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run EXPECTED_STATUS ARGS...: runs tagvmm, keeping stdout and stderr in
# $work/out and $work/err.
run() {
	want=$1
	shift
	"$tagvmm" "$@" >"$work/out" 2>"$work/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "tagvmm $*: exit status $got, want $want"
		sed 's/^/  stderr: /' "$work/err" >&2
	fi
}

# same FILE_A FILE_B WHAT
same() {
	if ! diff -u "$1" "$2" >&2; then
		fail "$3"
	fi
}

# One batch on two units, then a second batch that fails with an ITE.
cat >"$work/trace.txt" <<'EOF'
# tagvmm flush trace
batch 1 sub 0 qi_submit: iotlb_inv dmar0: 0x50032 0x10000003 0x0 0x0
batch 1 sub 0 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 5 [0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 3
batch 1 sub 0 qi_submit: dev_tlb_inv dmar0: 0x30000000003 0x10003001 0x0 0x0
batch 1 sub 0 cache_tag_flush_range: dmar0 0000:03:00.0[0] type devtlb did 5 [0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 1
batch 1 sub 0 qi_wait: dmar0 descs 2 status ok
batch 1 sub 1 qi_submit: p_iotlb_inv dmar1: 0x100010036 0x10002 0x0 0x0
batch 1 sub 1 cache_tag_flush_range: dmar1 dmar1[1] type nesting_iotlb did 1 [0x10000-0x13fff] addr 0x10000 mask 0x2 absorbed 4

batch 1 sub 1 qi_wait: dmar1 descs 1 status ok
batch 2 sub 2 qi_submit: p_dev_tlb_inv dmar1: 0x300000503100048 0x7ffffffffffff800 0x0 0x0
batch 2 sub 2 cache_tag_flush_range: dmar1 0000:03:02.0[5] type nesting_devtlb did 1 [0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 2
batch 2 sub 2 qi_wait: dmar1 descs 1 status ITE op 0 sid 0x0310
EOF

# The same records as JSON lines.
cat >"$work/trace.json" <<'EOF'
{"batch":1,"sub":0,"event":"qi_submit","unit":"dmar0","type":"iotlb_inv","qw":["0x50032","0x10000003","0x0","0x0"]}
{"batch":1,"sub":0,"event":"cache_tag_flush_range","unit":"dmar0","dev":"dmar0","pasid":0,"type":"iotlb","did":5,"start":"0x10000000","end":"0x10007fff","addr":"0x10000000","mask":3,"absorbed":3}
{"batch":1,"sub":0,"event":"qi_submit","unit":"dmar0","type":"dev_tlb_inv","qw":["0x30000000003","0x10003001","0x0","0x0"]}
{"batch":1,"sub":0,"event":"cache_tag_flush_range","unit":"dmar0","dev":"0000:03:00.0","pasid":0,"type":"devtlb","did":5,"start":"0x10000000","end":"0x10007fff","addr":"0x10000000","mask":3,"absorbed":1}
{"batch":1,"sub":0,"event":"qi_wait","unit":"dmar0","descs":2,"status":"ok"}
{"batch":1,"sub":1,"event":"qi_submit","unit":"dmar1","type":"p_iotlb_inv","qw":["0x100010036","0x10002","0x0","0x0"]}
{"batch":1,"sub":1,"event":"cache_tag_flush_range","unit":"dmar1","dev":"dmar1","pasid":1,"type":"nesting_iotlb","did":1,"start":"0x10000","end":"0x13fff","addr":"0x10000","mask":2,"absorbed":4}
{"batch":1,"sub":1,"event":"qi_wait","unit":"dmar1","descs":1,"status":"ok"}
{"batch":2,"sub":2,"event":"qi_submit","unit":"dmar1","type":"p_dev_tlb_inv","qw":["0x300000503100048","0x7ffffffffffff800","0x0","0x0"]}
{"batch":2,"sub":2,"event":"cache_tag_flush_range","unit":"dmar1","dev":"0000:03:02.0","pasid":5,"type":"nesting_devtlb","did":1,"start":"0x0","end":"0xffffffffffffffff","addr":"0x0","mask":52,"absorbed":2}
{"batch":2,"sub":2,"event":"qi_wait","unit":"dmar1","descs":1,"status":"ITE","op":0,"sid":"0x0310"}
EOF

cat >"$work/want.txt" <<'EOF'
records                          4
batches                          2
submissions                      3
invalidations                    2
devtlb_invalidations             2
absorbed                        10
errors                           1
merge_ratio                   2.50

unit            submissions invalidations devtlb_invalidations   absorbed   errors
dmar0                     1             1                    1          4        0
dmar1                     2             1                    1          6        1

unit              did invalidations   absorbed
dmar0               5             2          4
dmar1               1             2          6
EOF

cat >"$work/want.json" <<'EOF'
{"records":4,"batches":2,"submissions":3,"invalidations":2,"devtlb_invalidations":2,"absorbed":10,"errors":1,"merge_ratio":2.50,"units":[{"name":"dmar0","submissions":1,"invalidations":1,"devtlb_invalidations":1,"absorbed":4,"errors":0},{"name":"dmar1","submissions":2,"invalidations":1,"devtlb_invalidations":1,"absorbed":6,"errors":1}],"dids":[{"unit":"dmar0","did":5,"invalidations":2,"absorbed":4},{"unit":"dmar1","did":1,"invalidations":2,"absorbed":6}],"units_truncated":false,"dids_truncated":false}
EOF

# --- summaries ---

run 0 trace summary "$work/trace.txt"
same "$work/want.txt" "$work/out" "text summary of a text trace"
[ -s "$work/err" ] && fail "text summary wrote to stderr"

run 0 trace summary --json "$work/trace.txt"
same "$work/want.json" "$work/out" "JSON summary of a text trace"

run 0 trace summary "$work/trace.json"
same "$work/want.txt" "$work/out" "text summary of a JSON-lines trace"

run 0 trace summary "$work/trace.json" --json
same "$work/want.json" "$work/out" "JSON summary of a JSON-lines trace (option after FILE)"

# Comment and first submission as text, the rest as JSON with Windows line ends.
{ head -n 6 "$work/trace.txt"; tail -n 6 "$work/trace.json" | sed 's/$/\r/'; } >"$work/mixed"
run 0 trace summary "$work/mixed"
same "$work/want.txt" "$work/out" "summary of a mixed trace"

"$tagvmm" trace summary - <"$work/trace.txt" >"$work/out" 2>"$work/err" ||
	fail "trace summary - (stdin): exit status $?"
same "$work/want.txt" "$work/out" "summary read from stdin"

# A file literally named like an option, after --.
cp "$work/trace.txt" "$work/--json"
(cd "$work" && "$tagvmm" trace summary -- --json) >"$work/out" 2>"$work/err" ||
	fail "trace summary -- --json: exit status $?"
same "$work/want.txt" "$work/out" "summary of a file named --json"

: >"$work/empty"
run 0 trace summary --json "$work/empty"
grep -q '^{"records":0,"batches":0,"submissions":0,.*"merge_ratio":0.00,"units":\[\],"dids":\[\]' \
	"$work/out" || fail "summary of an empty trace: $(cat "$work/out")"

# --- help ---

for args in "trace --help" "trace -h" "trace summary --help" "trace summary -h"; do
	# shellcheck disable=SC2086 # split on purpose
	run 0 $args
	grep -q '^usage: tagvmm trace summary' "$work/out" || fail "tagvmm $args: no usage on stdout"
	[ -s "$work/err" ] && fail "tagvmm $args: wrote to stderr"
done

# --- usage errors: exit 2, usage on stderr, nothing on stdout ---

usage_error() {
	run 2 "$@"
	grep -q '^usage: tagvmm trace summary' "$work/err" || fail "tagvmm $*: no usage on stderr"
	[ -s "$work/out" ] && fail "tagvmm $*: wrote to stdout"
}
usage_error trace
usage_error trace frobnicate
grep -q "unknown subcommand 'frobnicate'" "$work/err" || fail "unknown subcommand not named"
usage_error trace summary
usage_error trace summary --json
usage_error trace summary --bogus "$work/trace.txt"
usage_error trace summary "$work/trace.txt" "$work/trace.json"
run 2 trace summary -x "$work/trace.txt"
grep -q "unknown option '-x'" "$work/err" || fail "unknown option not named: $(cat "$work/err")"

# --- I/O errors: exit 1 with strerror ---

run 1 trace summary "$work/no-such-file"
grep -qx "tagvmm: $work/no-such-file: No such file or directory" "$work/err" ||
	fail "missing file message: $(cat "$work/err")"

run 1 trace summary "$work"
grep -q "Is a directory" "$work/err" || fail "directory message: $(cat "$work/err")"

if [ -w /dev/full ]; then
	"$tagvmm" trace summary "$work/trace.txt" >/dev/full 2>"$work/err"
	got=$?
	[ "$got" -eq 1 ] || fail "summary to a full disk: exit status $got, want 1"
fi

# --- malformed traces: exit 3, "tagvmm: FILE:LINE: why" ---

# malformed LINE WHY: the trace in $work/bad must be refused at LINE.
malformed() {
	run 3 trace summary "$work/bad"
	if ! grep -q "^tagvmm: $work/bad:$1: .*$2" "$work/err"; then
		fail "malformed trace (want line $1, '$2'): $(cat "$work/err")"
	fi
	[ -s "$work/out" ] && fail "malformed trace: a summary was printed anyway"
}

{ head -n 3 "$work/trace.txt"; echo 'batch 1 sub 0 qi_submit: iotlb_inv dmar0: 0x5003g 0x0 0x0 0x0'; } >"$work/bad"
malformed 4 "bad hex number '0x5003g'"

printf 'batch 1 sub 0 qi_wait: dmar0 descs 2\n' >"$work/bad"
malformed 1 "truncated qi_wait record"

printf '\n\nbatch 1 sub 0 qi_flush: dmar0 descs 2 status ok\n' >"$work/bad"
malformed 3 "unknown event 'qi_flush'"

printf 'batch 1 sub 0 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 65536 [0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n' >"$work/bad"
malformed 1 "did: '65536' out of range"

printf '{"batch":1,"sub":0,"event":"qi_wait","unit":"dmar0","descs":2}\n' >"$work/bad"
malformed 1 "missing field 'status'"

{ echo '# a very long line follows'; head -c 10000 /dev/zero | tr '\0' x; echo; } >"$work/bad"
malformed 2 "longer than 4096 bytes"

printf 'batch 1 sub 0 qi_wait: dmar0 descs 2 status ok\n' | cat - "$work/bad" |
	"$tagvmm" trace summary - >"$work/out" 2>"$work/err"
got=$?
[ "$got" -eq 3 ] || fail "malformed stdin: exit status $got, want 3"
grep -q '^tagvmm: <stdin>:3: ' "$work/err" || fail "malformed stdin message: $(cat "$work/err")"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
exit 0
