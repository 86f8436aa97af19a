#!/usr/bin/env bash
# The project's test command: installs what is missing, builds, and runs
# `make check` twice (plain -Werror build, then ASan+UBSan), the real-KVM
# testbed (`make check-realkvm`: Linux to userspace under tagvmm on a nested
# KVM, a few minutes), `make distcheck` (the release tarball holds every
# tracked file, builds, passes make check, installs and uninstalls), the
# Debian package built from that tarball (lintian, then the packaged tagvmm
# run from a scratch root), the tag-store stress test under ThreadSanitizer,
# and a short libFuzzer run.
# Idempotent; build trees live in build/, build-asan/, build-tsan/,
# build-fuzz/; the package and its build log in build-deb/.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 20; 0 skips fuzzing)
#   REALKVM=0        skip the real-KVM testbed (for a quick local run; CI runs it)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh --testbed

passed=0 failed=0
# Count the Automake results of one build tree and fail the script on failure.
run_check() {
	local dir=$1; shift
	mkdir -p "$dir"
	(cd "$dir" && { [ -f Makefile ] || ../configure --enable-werror "$@" >/dev/null; } &&
	 make -j"$jobs" >/dev/null && make -j"$jobs" check) || status=1
	local p f
	p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log" 2>/dev/null | head -1)
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

status=0
echo "== make check"
run_check build
echo "== make check (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_check build-asan --enable-sanitizers

if [ "${REALKVM:-1}" != 0 ]; then
	echo "== real-KVM testbed (make check-realkvm)"
	# CI runs the whole virtio matrix: both kernels, with and without the
	# vIOMMU, with and without ATS, and --no-merge (about 4 minutes more).
	if (cd build && TESTBED_VIRTIO=${TESTBED_VIRTIO:-all} make -j"$jobs" check-realkvm); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); status=1
	fi
fi

echo "== make distcheck"
rm -f build/tagvmm-*.tar.gz
if (cd build && make -j"$jobs" distcheck >distcheck.log 2>&1); then
	# Which tests ran in the unpacked release, and any that skipped.
	grep -E '^(check-dist:|# (TOTAL|PASS|SKIP|FAIL):|SKIP: )' build/distcheck.log || true
	passed=$((passed + 1))
else
	tail -n 60 build/distcheck.log
	echo "make distcheck failed (whole log: build/distcheck.log)"
	failed=$((failed + 1)); status=1
fi

echo "== Debian package from the release tarball (nocheck), lintian, installed tagvmm"
version=$(sed -n 's/^PACKAGE_VERSION = //p' build/Makefile 2>/dev/null || true)
if DEB_BUILD_OPTIONS=nocheck bash scripts/package.sh --tarball "build/tagvmm-$version.tar.gz" \
	--smoke build/tests/guests/hello.elf; then
	passed=$((passed + 1))
else
	failed=$((failed + 1)); status=1
fi

echo "== tag-store stress, the vIOMMU worker against vCPU exits, the virtio devices' worker threads and the fault reader under ThreadSanitizer"
mkdir -p build-tsan
if (cd build-tsan && { [ -f Makefile ] || ../configure --enable-werror --enable-tsan >/dev/null; } &&
    make -j"$jobs" tests/unit/check_stress tests/unit/check_vtd_bounded tests/unit/check_virtio \
	tests/unit/check_virtio_iommu tests/unit/check_viommu_vfio_faults >/dev/null &&
    TSAN_OPTIONS=halt_on_error=1 ./tests/unit/check_stress &&
    TSAN_OPTIONS=halt_on_error=1 ./tests/unit/check_vtd_bounded &&
    TSAN_OPTIONS=halt_on_error=1 ./tests/unit/check_virtio &&
    TSAN_OPTIONS=halt_on_error=1 ./tests/unit/check_virtio_iommu &&
    TSAN_OPTIONS=halt_on_error=1 ./tests/unit/check_viommu_vfio_faults); then
	passed=$((passed + 1))
else
	failed=$((failed + 1)); status=1
fi

if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
	echo "== fuzz (${FUZZ_SECONDS:-20}s per target)"
	mkdir -p build-fuzz
	if (cd build-fuzz && { [ -f Makefile ] || ../configure CC=clang --enable-fuzzing >/dev/null; } &&
	    make -j"$jobs" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); status=1
	fi
fi

echo "check: $passed passed, $failed failed"
exit $status
