#!/usr/bin/env bash
# make check-passthrough-real: the host side of tagvmm's --vfio path on a
# real kernel, in the nested testbed (docs/running.md). Debian's kernels
# have neither IOMMUFD nor the VFIO device cdev, so L1 runs a kernel built
# from Debian's linux-source-6.12 with tests/linux/configs/l1-iommufd.config
# (scripts/build-kernel.sh; built once, cached). QEMU gives L1 a q35 machine
# with its emulated VT-d (interrupt remapping, caching mode, device TLBs), an
# NVMe controller on a raw image, an e1000e, two e1000s behind a PCI bridge
# (one IOMMU group), and the emulated AMD SVM the testbed uses. L1's /init
# (passthrough-l1-init.sh) binds them to vfio-pci, then runs tagvmm:
#  - three refusals: a device vfio-pci does not own, half an IOMMU group,
#    --viommu over a unit without nesting (QEMU 7.2's VT-d has no ECAP.NEST);
#  - iommufd-agree on the e1000e: the dry-run /dev/iommu against this kernel;
#  - --vfio with the controller, Debian's 6.12 cloud kernel as L2, whose nvme
#    driver writes 4 MiB O_DIRECT, reads it back and compares (l2-init.sh);
#    the data is then looked for in the image file here.
#   PASSTHROUGH_VTD_OPTS=OPTS  more intel-iommu options (make check-passthrough-real
#                              runs it once more with x-scalable-mode=on)
#   PASSTHROUGH_TIMEOUT=N      seconds for the whole L1 run (default 900)
#   PASSTHROUGH_LOG=FILE       keep L1's console log there
#   L1_KERNEL=DIR              the l1-iommufd build (default: build-kernel.sh)
#   TAGVMM_TESTBED_CACHE=DIR   the testbed's download cache (debs.sh)
set -uo pipefail
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
here=$top_srcdir/tests/realkvm
timeout_s=${PASSTHROUGH_TIMEOUT:-900}
tagvmm=$top_builddir/tagvmm

. "$here/debs.sh"
[ -x "$tagvmm" ] || die "$tagvmm not built"
for t in qemu-system-x86_64 cpio dpkg-deb apt-get; do
	command -v $t >/dev/null || die "$t missing (bash scripts/deps.sh --testbed installs it)"
done
l1k=${L1_KERNEL:-}
if [ -z "$l1k" ]; then
	echo "# passthrough: scripts/build-kernel.sh 6.12 l1-iommufd (cached after the first build)"
	l1k=$(nice -n 19 "$top_srcdir/scripts/build-kernel.sh" 6.12 l1-iommufd) || die "L1 kernel build failed"
fi
[ -s "$l1k/bzImage" ] || die "no bzImage in $l1k"
bb=$(extract "$(fetch busybox-static)") || exit 99
k612=$(extract "$(fetch linux-image-6.12-cloud-amd64)") || exit 99

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tagvmm-passthrough.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

# L1's initramfs: busybox, the init, tagvmm with its libraries, and an L2
# (Debian's 6.12 cloud kernel with the testbed's L2 init) for the --vfio try.
l1=$tmp/l1
mkdir -p "$l1"/{bin,tb/l2,lib64,lib/x86_64-linux-gnu} "$tmp/l2/bin"
cp "$bb/bin/busybox" "$l1/bin/"
cp "$here/passthrough-l1-init.sh" "$l1/init" && chmod +x "$l1/init"
cp "$tagvmm" "$l1/tb/tagvmm"
agree=$top_builddir/tests/realkvm/iommufd-agree
[ -x "$agree" ] || die "$agree not built (make check-passthrough-real builds it)"
cp "$agree" "$l1/tb/"
for lib in $(ldd "$tagvmm" | grep -o '/[^ ]*'); do cp -L "$lib" "$l1$lib"; done
cp "$bb/bin/busybox" "$tmp/l2/bin/" && cp "$here/l2-init.sh" "$tmp/l2/init" && chmod +x "$tmp/l2/init"
(cd "$tmp/l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$l1/tb/l2/initramfs.cpio.gz" || die "cpio (L2)"
cp "$(ls "$k612"/boot/vmlinuz-* | head -1)" "$l1/tb/l2/bzImage"
(cd "$l1" && find . | cpio -o -H newc --quiet) >"$tmp/l1.cpio" || die "cpio (L1)"

# The controller's disk: a raw image with a known first sector.
truncate -s 64M "$tmp/nvme.img"
printf 'TAGVMM-NVME-DISK' | dd of="$tmp/nvme.img" conv=notrunc status=none

log=${PASSTHROUGH_LOG:-$tmp/console.log}
echo "# passthrough: L1 $(sed -n 's/^linux-source-6.12 //p' "$l1k/info") ($(basename "$l1k")) under QEMU TCG, q35 + VT-d ${PASSTHROUGH_VTD_OPTS:-legacy mode}"
start=$(date +%s)
timeout "$timeout_s" qemu-system-x86_64 -M q35 -accel tcg,thread=multi -cpu qemu64,+svm,+npt \
	-m 2G -smp 2 -nographic -no-reboot \
	-device intel-iommu,intremap=on,caching-mode=on,device-iotlb=on${PASSTHROUGH_VTD_OPTS:+,$PASSTHROUGH_VTD_OPTS} \
	-drive file="$tmp/nvme.img",if=none,id=nvm,format=raw \
	-device nvme,drive=nvm,serial=tagvmm-nvme0 \
	-device e1000e,netdev=nic0 -netdev hubport,id=nic0,hubid=0 \
	-device pci-bridge,id=pbr,chassis_nr=1 \
	-device e1000,bus=pbr,addr=1,netdev=nic1 -netdev hubport,id=nic1,hubid=0 \
	-device e1000,bus=pbr,addr=2,netdev=nic2 -netdev hubport,id=nic2,hubid=0 \
	-kernel "$l1k/bzImage" -initrd "$tmp/l1.cpio" \
	-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 intel_iommu=on" </dev/null >"$log" 2>&1
qstatus=$?
echo "# passthrough: QEMU exited $qstatus after $(($(date +%s) - start)) s"
grep -a -E '^(PASSTHROUGH|L1: )' "$log" | tr -d '\r' | sed 's/^/#   /'
# tagvmm's runs: what each printed, L2's console included, on lines of its name.
run_says() {	# run_says NAME REGEX
	grep -aE -- "^PASSTHROUGH-TAGVMM $1: " "$log" | tr -d '\r' | grep -qE -- "$2"
}

fails=0
check() {	# check DESCRIPTION REGEX: one TAP line
	if grep -aqE -- "$2" "$log"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}
check "L1 reached userspace" 'PASSTHROUGH: L1 userspace at'
check "L1 has /dev/kvm" '^PASSTHROUGH-OK kvm'
check "L1 has /dev/iommu (iommufd)" '^PASSTHROUGH-OK iommufd'
check "L1 has QEMU's VT-d unit" '^PASSTHROUGH-OK iommu units dmar'
check "the NVMe controller is bound to vfio-pci with a VFIO device cdev" \
	'^PASSTHROUGH-OK nvme .* bound to vfio-pci: /dev/vfio/devices/vfio[0-9]'
check "the e1000e is bound to vfio-pci with a VFIO device cdev" \
	'^PASSTHROUGH-OK e1000e .* bound to vfio-pci: /dev/vfio/devices/vfio[0-9]'
check "the e1000s behind the PCI bridge are bound to vfio-pci" \
	'^PASSTHROUGH-OK e1000 .* bound to vfio-pci'
judge() {	# judge DESCRIPTION NAME REGEX
	if run_says "$2" "$3"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}
judge "a device vfio-pci does not own is refused, naming its driver and the fix" \
	refuse-driver ' is bound to .*, not vfio-pci: echo '
judge "... and tagvmm exits non-zero" refuse-driver 'exit [1-9]'
judge "half an IOMMU group is refused, naming the function left out (not the bridge)" \
	refuse-group 'IOMMU group [0-9]+ also holds 0000:01:0[12].0: pass all of them'
judge "... and tagvmm exits non-zero" refuse-group 'exit [1-9]'
judge "the whole group (both functions behind the bridge) is taken; L2 sees both" \
	group-whole 'TAGVMM-L2: lspci: .*0000:00:1[1-8].0 .*0000:00:1[1-8].0'
judge "... and tagvmm exits 0" group-whole 'exit 0$'
# QEMU 7.2's VT-d in legacy mode has neither scalable mode nor nesting; the
# kernel refuses a nest parent on it (EOPNOTSUPP, iommufd-agree's NEST_PARENT line).
judge "--viommu --vfio over a unit that cannot nest is refused, naming the missing ECAP bit" \
	refuse-viommu 'lacks .*\(ECAP\.(SMTS|FLTS|NEST)\)'
judge "... and tagvmm exits non-zero" refuse-viommu 'exit [1-9]'
check "the kernel itself refuses a nest parent on this unit" \
	'^PASSTHROUGH-AGREE AGREE IOMMU_HWPT_ALLOC: NEST_PARENT on the IOAS: real EOPNOTSUPP'
check "the dry-run iommufd agrees with this kernel on every shared call" \
	'^PASSTHROUGH-AGREE agree: [0-9]+ shared calls, [0-9]+ agree, 0 differ; 0 unexpected'
judge "L2's nvme driver found the controller and read its first sector" \
	nvme 'TAGVMM-L2: nvme: first sector says TAGVMM-NVME-DISK'
judge "L2 wrote 4 MiB O_DIRECT, read it back and compared" nvme 'TAGVMM-L2: nvme: read back the pattern'
judge "L2 got the controller's interrupts" nvme 'TAGVMM-L2: nvme: interrupts: *[0-9]+: *[1-9]'
judge "tagvmm --vfio exited 0 after L2 powered off" nvme 'exit 0$'
# The registers and doorbells are mmapped: the driver's accesses never exit.
judge "the controller's BAR0 is in a memslot, and no access to it was trapped" \
	nvme 'stats: vfio 00:11\.0 BAR0: [0-9]+ bytes, [1-9][0-9]* mmapped in [0-9]+ areas?, 0 trapped accesses'
if grep -aE '^PASSTHROUGH-HOSTCALL nvme: +2 ioctl VFIO_DEVICE_RESET = ok' "$log" >/dev/null; then
	echo "ok - the controller was reset at start and at exit"
else
	echo "not ok - the controller was reset at start and at exit"
	fails=$((fails + 1))
fi
yes TAGVMM-NVME-PATTERN | head -c 4194304 >"$tmp/pattern"
if dd if="$tmp/nvme.img" bs=64k skip=16 count=64 status=none | cmp -s - "$tmp/pattern"; then
	echo "ok - the 4 MiB L2 wrote are in QEMU's image file"
else
	echo "not ok - the 4 MiB L2 wrote are in QEMU's image file"
	fails=$((fails + 1))
fi
check "L1 finished" '^PASSTHROUGH-DONE'
if grep -aqE '^PASSTHROUGH-FAIL' "$log"; then
	echo "not ok - L1 reported failures"
	fails=$((fails + 1))
fi
[ $fails -eq 0 ]
