#!/usr/bin/env bash
# Installs what is missing, builds tagvmm, boots the hello test guest, and
# replays the bundled real guest trace (a Linux 6.1 guest doing O_DIRECT
# NVMe reads under QEMU's VT-d) with the summary and the flush-trace
# summary. Idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -j"$jobs" >/dev/null &&
 make tests/guests/hello.elf >/dev/null)

if [ -e /dev/kvm ]; then
	echo "\$ tagvmm run -k tests/guests/hello.elf -m 64M"
	build/tagvmm run -k build/tests/guests/hello.elf -m 64M
	echo
else
	echo "(no /dev/kvm: skipping the guest boot)"
fi

trace=tests/data/qemu-nvme-sm.trace
flush=build/demo-flush.log
echo "\$ tagvmm replay --qemu-trace $trace --flush-trace $flush"
build/tagvmm replay --qemu-trace "$trace" --flush-trace "$flush"
echo
echo "\$ tagvmm trace summary $flush"
build/tagvmm trace summary "$flush"
