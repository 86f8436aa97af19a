#!/usr/bin/env bash
# Installs what is missing, builds tagvmm, and runs its main job on the
# embedded default: a replay of the bundled real guest trace (a Linux 6.1
# guest doing O_DIRECT NVMe reads under QEMU's VT-d), with the summary and
# the flush-trace summary. Idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -j"$jobs" >/dev/null)

trace=tests/data/qemu-nvme-sm.trace
flush=build/demo-flush.log
echo "\$ tagvmm replay --qemu-trace $trace --flush-trace $flush"
build/tagvmm replay --qemu-trace "$trace" --flush-trace "$flush"
echo
echo "\$ tagvmm trace summary $flush"
build/tagvmm trace summary "$flush"
