#!/usr/bin/env bash
# Installs what is missing, builds tagvmm, and boots the SVA fan-out test
# guest under the emulated VT-d with a flush trace, then prints the guest's
# result and the trace summary. Without /dev/kvm it replays the bundled
# real guest trace instead. Idempotent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/deps.sh
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -j"$jobs" >/dev/null)

# The SVA fan-out: 8 DMA engines (4 behind each of 2 simulated host units)
# bound to one guest PASID; the guest flushes once per device, all in one
# batch (a batching guest: Linux 6.1 waits after every descriptor, see
# docs/performance.md item 1), and the host gets one invalidation per
# (unit, DID, PASID).
devs=()
for unit in 0 0 0 0 1 1 1 1; do devs+=(--sim-device "dma,iommu=dmar$unit,ats,pasid"); done
flush=build/demo-flush.log
if [ -e /dev/kvm ]; then
	(cd build && make tests/guests/viommu-sva.elf >/dev/null)
	echo "\$ tagvmm run -k tests/guests/viommu-sva.elf --viommu ${devs[*]} --flush-trace $flush"
	build/tagvmm run -k build/tests/guests/viommu-sva.elf -m 64M --viommu "${devs[@]}" \
		--flush-trace "$flush"
	echo
	echo "\$ tagvmm trace summary $flush"
	build/tagvmm trace summary "$flush"
else
	echo "(no /dev/kvm: skipping the guest boot; replaying a recorded guest instead)"
	trace=tests/data/qemu-nvme-sm.trace
	build/tagvmm replay --qemu-trace "$trace" --flush-trace "$flush"
	echo
	build/tagvmm trace summary "$flush"
fi
