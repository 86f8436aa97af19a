#!/usr/bin/env bash
# make check-realkvm: tagvmm on a KVM with hardware-virtualization semantics.
#
# This machine's /dev/kvm is a software KVM (see docs/running.md); a real one
# is had from Debian packages alone: QEMU's TCG emulates AMD SVM with nested
# paging, and Debian's cloud kernel ships kvm-amd. The testbed boots that
# kernel as L1 under `qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt`
# with an initramfs holding busybox, the kvm modules, tagvmm as built (with
# its shared libraries), the project's test guests and two L2 kernels
# (Debian's 6.1 and 6.12 cloud kernels). L1's /init (l1-init.sh) runs the
# test-guest scripts of tests/kvm and the Linux matrix (both kernels, bzImage
# and PVH, 1 and 2 vCPUs, with and without --viommu), forwarding every L2
# console, and prints one TESTBED-RESULT line per L2 run. This script judges
# each run's console and exits non-zero on any failure.
#
# Downloads (apt-get download, once) and extracted images are cached outside
# the tree, so CI on the same machine reuses them:
#   TAGVMM_TESTBED_CACHE=DIR   cache directory (default /var/cache/tagvmm-testbed)
#   TESTBED_TIMEOUT=N          seconds for the whole L1 run (default 1500)
#   TESTBED_STALL=N            seconds without console output after which L1
#                              counts as stalled (default 420; L1's own limit
#                              per case is 300 s, and it prints when it hits it):
#                              QEMU is killed and the cases L1 did not finish
#                              run once more in a fresh L1 (docs/running.md)
#   TESTBED_CASES=REGEX        only the Linux cases whose name matches
#   TESTBED_LOG=FILE           keep the whole console log there
#   TESTBED_L2_CMDLINE=ARGS    L2 command-line options (default "quiet": every
#                              console byte costs an exit through both levels)
#   TESTBED_SVA=1|only         add the SVA cases (make check-sva-linux; "only":
#                              nothing else): Linux 6.1 and 6.12 test kernels
#                              built from Debian's sources (scripts/build-kernel.sh,
#                              cached) bind SVA on 8 emulated DMA engines
#   TESTBED_SVA_ITERS="A B"    the two runs per kernel (iterations of the test's
#                              loop over the 8 engines; default "1 5"): the
#                              judge's per-munmap counts are their difference
#   TESTBED_SVA_ONE=1          also run each with one vIOMMU for both host units
set -uo pipefail
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
here=$top_srcdir/tests/realkvm
timeout_s=${TESTBED_TIMEOUT:-1500}
stall_s=${TESTBED_STALL:-420}
tagvmm=$top_builddir/tagvmm

. "$here/debs.sh"
[ -x "$tagvmm" ] || die "$tagvmm not built"
for g in hello exceptions pci-enumerate smp fail crash speed viommu-legacy viommu-sm viommu-sva \
	viommu-nested viommu-ats viommu-hostile; do
	[ -e "$top_builddir/tests/guests/$g.elf" ] || die "tests/guests/$g.elf not built (make check builds it)"
done
for t in qemu-system-x86_64 cpio dpkg-deb apt-get lz4; do
	command -v $t >/dev/null || die "$t missing (bash scripts/deps.sh --testbed installs it)"
done

# The packages: the newest of each Debian cloud kernel line, and busybox.
# The L1 kernel is the 6.1 one (its modules are uncompressed, so busybox insmod loads them).
k61=$(extract "$(fetch linux-image-cloud-amd64)") || exit 99
k612=$(extract "$(fetch linux-image-6.12-cloud-amd64)") || exit 99
bb=$(extract "$(fetch busybox-static)") || exit 99
k61_img=$(ls "$k61"/boot/vmlinuz-* | head -1)
k612_img=$(ls "$k612"/boot/vmlinuz-* | head -1)
k61_ver=${k61_img##*/vmlinuz-}
k612_ver=${k612_img##*/vmlinuz-}
for k in "$k61_img" "$k612_img"; do
	v=$cache/vmlinux-$(basename "$k")
	[ -s "$v" ] || "$top_srcdir/tests/linux/extract-vmlinux.sh" "$k" "$v" || die "no vmlinux in $k"
done

# The SVA cases, one per line: NAME KV ITERS matched|one DUMP, named
# sva-KV[-one]-iITERS; both runs of each kernel with matched placement also
# print the guest's invalidation stream (DUMP ":dump"; make bench replays
# such streams, tests/data/README.md).
sva=${TESTBED_SVA:-}
sva_cases= sva_images=()
if [ -n "$sva" ]; then
	read -r sva_short sva_long <<<"${TESTBED_SVA_ITERS:-1 5}"
	placements=matched
	[ -n "${TESTBED_SVA_ONE:-}" ] && placements="matched one"
	for kv in 6.1 6.12; do
		for p in $placements; do
			for it in $sva_short $sva_long; do
				name=sva-$kv
				[ $p = one ] && name=$name-one
				name=$name-i$it
				extra=
				[ $p = matched ] && extra=:dump
				[[ $name =~ ${TESTBED_CASES:-.} ]] && sva_cases+="$name $kv $it $p $extra"$'\n'
			done
		done
	done
fi
# Their test kernels (tests/linux/configs/sva-guest.config with the patches
# that let x86 bind SVA and add the test driver), built once and cached; only
# those of the cases selected.
for kv in 6.1 6.12; do
	grep -q "^[^ ]* $kv " <<<"$sva_cases" || continue
	out=$("$top_srcdir/scripts/build-kernel.sh" --patch "sva-bind-x86-$kv" --patch tagvmm-sva-test \
		"$kv" sva-guest) || die "building the $kv SVA test kernel failed"
	sva_images+=("$kv=$out/bzImage")
done
[ -n "$sva" ] && ! command -v gcc >/dev/null && die "gcc missing (the SVA test program is built static)"

t_setup=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tagvmm-testbed.XXXXXX") || exit 99
qpid=	# QEMU's timeout(1), while it runs in the background (run_l1)
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# L2's initramfs: busybox and an init that reports what Linux sees, then powers off.
mkdir -p "$tmp/l2/bin"
cp "$bb/bin/busybox" "$tmp/l2/bin/" && cp "$here/l2-init.sh" "$tmp/l2/init" && chmod +x "$tmp/l2/init"
# The virtio cases' modules, per kernel, in load order (busybox insmod: no
# dependencies resolved, no compressed modules; 6.12 builds virtio_pci in).
l2_modules() {	# l2_modules KERNEL-ROOT VERSION MODULE-PATH...
	local root=$1 ver=$2 m src dst
	shift 2
	dst=$tmp/l2/modules/$ver
	mkdir -p "$dst" && : >"$dst/order"
	for m in "$@"; do
		src=$root/lib/modules/$ver/kernel/$m
		if [ -e "$src.ko" ]; then
			cp "$src.ko" "$dst/" || die "cannot copy $m.ko"
		else
			xz -dc "$src.ko.xz" >"$dst/${m##*/}.ko" || die "no $m.ko(.xz) in $ver"
		fi
		echo "${m##*/}" >>"$dst/order"
	done
}
l2_modules "$k61" "$k61_ver" drivers/virtio/virtio_ring drivers/virtio/virtio \
	drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev \
	drivers/virtio/virtio_pci drivers/block/virtio_blk drivers/char/hw_random/virtio-rng
l2_modules "$k612" "$k612_ver" drivers/block/virtio_blk drivers/char/hw_random/virtio-rng
if [ -n "$sva" ]; then
	gcc -static -O2 -Wall -Wextra -Werror -o "$tmp/l2/bin/sva-test" "$top_srcdir/tests/linux/sva/sva-test.c" ||
		die "cannot build tests/linux/sva/sva-test.c static"
fi
(cd "$tmp/l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/l2.cpio.gz" || die "cpio (L2)"

# L1's initramfs: busybox, kvm modules, tagvmm and its libraries, guests, L2 images.
l1=$tmp/l1
mkdir -p "$l1"/{bin,tb/guests,tb/tests/kvm,tb/l2,modules,lib64,lib/x86_64-linux-gnu}
cp "$bb/bin/busybox" "$l1/bin/"
for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
	cp "$k61/lib/modules/$k61_ver/kernel/$m.ko" "$l1/modules/" || die "no $m.ko in $k61_ver"
done
cp "$tagvmm" "$l1/tb/tagvmm"
for lib in $(ldd "$tagvmm" | grep -o '/[^ ]*'); do cp -L "$lib" "$l1$lib"; done
cp "$top_builddir"/tests/guests/*.elf "$l1/tb/guests/"
mkdir -p "$l1/tb/tests/guests" && mv "$l1"/tb/guests/*.elf "$l1/tb/tests/guests/" && rmdir "$l1/tb/guests"
cp "$top_srcdir"/tests/kvm/*.sh "$l1/tb/tests/kvm/"
cp "$k61_img" "$l1/tb/l2/bzImage-6.1" && cp "$k612_img" "$l1/tb/l2/bzImage-6.12"
cp "$cache/vmlinux-vmlinuz-$k61_ver" "$l1/tb/l2/vmlinux-6.1"
cp "$cache/vmlinux-vmlinuz-$k612_ver" "$l1/tb/l2/vmlinux-6.12"
cp "$tmp/l2.cpio.gz" "$l1/tb/l2/initramfs.cpio.gz"
for img in "${sva_images[@]}"; do
	cp "${img#*=}" "$l1/tb/l2/bzImage-sva-${img%%=*}" || die "cannot copy ${img#*=}"
done
[ "$sva" = only ] && touch "$l1/tb/sva-only"
cp "$here/l1-init.sh" "$l1/init" && chmod +x "$l1/init"
echo "${TESTBED_L2_CMDLINE-quiet}" >"$l1/tb/l2-cmdline"

# The Linux matrix, one case per line: NAME CPUS VIOMMU(0|1) IMAGE.
# (No no-kvmclock case: an exit to tagvmm costs 190 to 480 us in the testbed,
# too slow for Linux's TSC calibration against the PM timer; docs/running.md.)
: >"$l1/tb/cases"
[ "$sva" = only ] || for kv in 6.1 6.12; do
	for path in bzImage pvh; do
		img=/tb/l2/bzImage-$kv
		[ $path = pvh ] && img=/tb/l2/vmlinux-$kv
		for cpus in 1 2; do
			for viommu in 0 1; do
				name=linux-$kv-$path-c$cpus
				[ $viommu = 1 ] && name=$name-viommu
				[[ $name =~ ${TESTBED_CASES:-.} ]] && echo "$name $cpus $viommu $img" >>"$l1/tb/cases"
			done
		done
	done
done
# The virtio cases: NAME CPUS VIOMMU IMAGE VIRTIO, VIRTIO one of plain (no
# ATS), ats, nomerge (plain with --no-merge). Each costs about 45 s, so by
# default three runs cover both kernels, with and without the vIOMMU, with
# and without ATS; TESTBED_VIRTIO=all adds the rest of the matrix and the
# --no-merge run (docs/virtio.md).
virtio_cases="linux-6.1-virtio:0:plain linux-6.1-virtio-viommu-ats:1:ats
	linux-6.12-virtio-viommu:1:plain"
[ "${TESTBED_VIRTIO:-}" = all ] && virtio_cases="$virtio_cases linux-6.1-virtio-viommu:1:plain
	linux-6.1-virtio-viommu-nomerge:1:nomerge linux-6.12-virtio:0:plain
	linux-6.12-virtio-viommu-ats:1:ats"
[ "$sva" = only ] && virtio_cases=
for c in $virtio_cases; do
	IFS=: read -r name viommu opts <<<"$c"
	kv=${name#linux-}
	kv=${kv%%-*}
	[[ $name =~ ${TESTBED_CASES:-.} ]] && echo "$name 1 $viommu /tb/l2/bzImage-$kv $opts" >>"$l1/tb/cases"
done
# The SVA cases for L1: NAME 1 1 IMAGE sva:ITERS:matched|one[:dump] (l1-init.sh's sva_run).
while read -r name kv it p extra; do
	[ -n "$name" ] && echo "$name 1 1 /tb/l2/bzImage-sva-$kv sva:$it:$p$extra" >>"$l1/tb/cases"
done <<<"$sva_cases"
(cd "$l1" && find . | cpio -o -H newc --quiet) >"$tmp/l1.cpio" || die "cpio (L1)"

log=${TESTBED_LOG:-$tmp/console.log}
echo "# testbed: L1 $k61_ver under QEMU TCG (SVM, NPT), L2 $k61_ver and $k612_ver"
start=$(date +%s)
echo "# testbed: L1 initramfs $(du -m "$tmp/l1.cpio" | cut -f1) MiB, assembled in $((start - t_setup)) s"

# One L1 run: QEMU's status, or 200 (which timeout(1) never returns) when
# its console stayed silent for stall_s seconds. A whole-L1 stall (seen about once in three runs on this
# machine, docs/running.md) stops every console; a hung L2 or tagvmm does
# not, since L1 reports a case past its own limit.
run_l1() {	# run_l1 CONSOLE_LOG
	local out=$1 size last=-1 idle=0 status
	timeout "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64,+svm,+npt \
		-m 3G -smp 2 -nographic -no-reboot -kernel "$k61_img" -initrd "$tmp/l1.cpio" \
		-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4" </dev/null >"$out" 2>&1 &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 5
		size=$(stat -c %s "$out" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then
			idle=$((idle + 5))
		else
			idle=0 last=$size
		fi
		if [ "$idle" -ge "$stall_s" ]; then
			# timeout passes TERM on to QEMU; KILL if it does not go.
			kill "$qpid" 2>/dev/null
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				kill -0 "$qpid" 2>/dev/null || break
				sleep 1
			done
			pkill -KILL -P "$qpid" 2>/dev/null
			kill -KILL "$qpid" 2>/dev/null
			wait "$qpid" 2>/dev/null
			qpid=
			return 200
		fi
	done
	wait "$qpid"
	status=$?
	qpid=
	return "$status"
}

# The cases of this run L1 did not finish (no TESTBED-RESULT line in LOG).
unfinished() {	# unfinished LOG CASES
	local name
	tr -d '\r' <"$1" >"$tmp/console.lf"
	{
		[ "$sva" = only ] || printf '%s\n' guests guests-viommu speed
		cut -d' ' -f1 "$2"
	} | while read -r name; do
		grep -q "^TESTBED-RESULT $name " "$tmp/console.lf" || echo "$name"
	done
}

cp "$l1/tb/cases" "$tmp/cases"
run_l1 "$log"
qstatus=$?
echo "# testbed: QEMU exited $qstatus after $(($(date +%s) - start)) s"
left=
[ "$qstatus" = 200 ] && left=$(unfinished "$log" "$tmp/cases")
if [ "$qstatus" = 200 ] && [ -z "$left" ]; then
	echo "# testbed: L1 stalled after its last case: no console output for $stall_s s"
elif [ "$qstatus" = 200 ]; then
	echo "# testbed: L1 stalled: no console output for $stall_s s; running what it left once more:" $left
	# Their sections in the first console are left out of judging.
	for name in $left; do
		sed -i "s/^TESTBED-BEGIN $name\(\r\?\)\$/TESTBED-STALLED $name\1/" "$log"
	done
	printf '%s\n' $left >"$l1/tb/rerun"
	: >"$l1/tb/cases"
	while read -r line; do
		grep -qx "${line%% *}" "$l1/tb/rerun" && echo "$line" >>"$l1/tb/cases"
	done <"$tmp/cases"
	(cd "$l1" && find . | cpio -o -H newc --quiet) >"$tmp/l1.cpio" || die "cpio (L1, rerun)"
	start=$(date +%s)
	run_l1 "$tmp/console-rerun.log"
	qstatus=$?
	echo "# testbed: QEMU (rerun) exited $qstatus after $(($(date +%s) - start)) s"
	cat "$tmp/console-rerun.log" >>"$log"
fi

# Judge every L2 run from its console, between its TESTBED-BEGIN and TESTBED-RESULT lines.
"$here/judge.sh" "$log" "$tmp/cases"
