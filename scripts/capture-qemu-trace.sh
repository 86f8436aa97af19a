#!/bin/bash
# capture-qemu-trace.sh - record a real guest VT-d invalidation stream.
#
# Boots a Linux guest under QEMU (TCG, q35, emulated intel-iommu) with an NVMe
# disk, lets a tiny static /init (scripts/capture-init.c) read the disk with
# O_DIRECT, and records QEMU's vtd_inv_desc* / vtd_inv_qi_tail trace events.
#
# Usage: scripts/capture-qemu-trace.sh [OUTPUT]
#   OUTPUT  trace file to write (default: tests/data/qemu-nvme-sm.trace,
#           relative to the repository root)
#
# Environment knobs (all optional):
#   VTD_MODE=scalable|legacy  IOMMU mode (default scalable: x-scalable-mode=on
#                             on the QEMU side, intel_iommu=on,sm_on in guest)
#   CACHING_MODE=on|off       intel-iommu caching-mode (default on: the guest
#                             then also flushes on map and, in scalable mode,
#                             queues PASID-cache + P_IOTLB descriptors when it
#                             sets up PASID entries)
#   EXTRA_TRACE="ev ..."      more QEMU trace events/patterns to record, e.g.
#                             "vtd_inv_qi_head vtd_reg_dmar_root"
#   KERNEL=/boot/vmlinuz-...  guest kernel (default: newest *-cloud-amd64,
#                             else newest /boot/vmlinuz-*)
#   QEMU=qemu-system-x86_64   QEMU binary
#   QEMU_TIMEOUT=300          seconds before the guest is killed
#   MAX_LINES=0               if >0, keep at most this many lines, cutting
#                             right before a vtd_inv_qi_tail line (so the
#                             last submission is complete)
#   KEEP_TMP=1                keep the temporary work directory
#
# Needs root only for installing missing packages (apt-get).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null ||
	    (cd "$SCRIPT_DIR/.." && pwd))

OUT=${1:-$REPO_ROOT/tests/data/qemu-nvme-sm.trace}
case $OUT in
/*) ;;
*) OUT=$PWD/$OUT ;;
esac

VTD_MODE=${VTD_MODE:-scalable}
CACHING_MODE=${CACHING_MODE:-on}
EXTRA_TRACE=${EXTRA_TRACE:-}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}
MAX_LINES=${MAX_LINES:-0}

log() { printf 'capture-qemu-trace: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs=()
pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
want_pkg() { pkg_installed "$1" || need_pkgs+=("$1"); }

want_pkg qemu-system-x86
want_pkg gcc
want_pkg libc6-dev
want_pkg cpio
want_pkg coreutils            # timeout, truncate
if [ -z "${KERNEL:-}" ] && [ -z "$(find /boot -maxdepth 1 -name 'vmlinuz-*' -print -quit 2>/dev/null)" ]; then
	want_pkg linux-image-cloud-amd64
fi

install_pkgs() {
	[ "$#" -gt 0 ] || return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ($*); run as root or install them"
	log "installing missing packages: $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "$@"
}
install_pkgs "${need_pkgs[@]+"${need_pkgs[@]}"}"

# ---------------------------------------------------------------- kernel
if [ -z "${KERNEL:-}" ]; then
	newest() { find /boot -maxdepth 1 -name "$1" -print 2>/dev/null | sort -V | tail -n1; }
	KERNEL=$(newest 'vmlinuz-*-cloud-amd64')
	[ -n "$KERNEL" ] || KERNEL=$(newest 'vmlinuz-*')
fi
if [ -z "$KERNEL" ] || [ ! -r "$KERNEL" ]; then
	die "no readable guest kernel (set KERNEL=)"
fi
KVER=${KERNEL##*/vmlinuz-}
MODDIR=/lib/modules/$KVER
log "guest kernel: $KERNEL ($KVER)"

# ---------------------------------------------------------------- work dir
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capture-qemu-trace.XXXXXX")
cleanup() {
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		log "keeping $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- initramfs
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{dev,proc,sys,modules}
gcc -static -O2 -Wall -o "$ROOTFS/init" "$SCRIPT_DIR/capture-init.c"

# The kernel opens /dev/console before running /init; provide the node when
# we can (root), the guest still works without it (just no early output).
mknod -m 600 "$ROOTFS/dev/console" c 5 1 2>/dev/null || true

# nvme-core + nvme: built in, or modules that /init loads via finit_module.
: >"$ROOTFS/modules/order"
is_builtin() {
	[ -r "$MODDIR/modules.builtin" ] &&
		grep -Eq "/$1\.ko(\.[a-z]+)?\$" "$MODDIR/modules.builtin"
}
add_module() {     # $1 = module name, e.g. nvme-core
	local rel src dst
	rel=$(grep -E "(^|/)$1\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" 2>/dev/null |
	      head -n1 | cut -d: -f1 || true)
	[ -n "$rel" ] || die "module $1 neither built in nor in $MODDIR/modules.dep"
	src=$MODDIR/$rel
	dst=$ROOTFS/modules/$1.ko
	case $src in
	*.ko)    cp "$src" "$dst" ;;
	*.ko.xz) command -v xz >/dev/null || install_pkgs xz-utils; xz -dc "$src" >"$dst" ;;
	*.ko.zst) command -v zstd >/dev/null || install_pkgs zstd; zstd -dc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) die "unknown module format: $src" ;;
	esac
	echo "$1.ko" >>"$ROOTFS/modules/order"
}
for m in nvme-core nvme; do
	if is_builtin "$m"; then
		log "$m is built in"
	else
		log "$m is a module; adding it to the initramfs"
		add_module "$m"
	fi
done

(cd "$ROOTFS" && find . -print0 | sort -z |
	cpio --null -o -H newc --quiet) | gzip -9n >"$WORK/initramfs.cpio.gz"

# ---------------------------------------------------------------- disk
# 8 MiB of zeros: content does not matter, only the DMA traffic does.
truncate -s 8M "$WORK/disk.img"

# ---------------------------------------------------------------- run QEMU
case $VTD_MODE in
scalable) IOMMU_OPTS=intremap=off,x-scalable-mode=on; SM_ARG=",sm_on" ;;
legacy)   IOMMU_OPTS=intremap=off;                    SM_ARG=",sm_off" ;;
*) die "VTD_MODE must be scalable or legacy" ;;
esac
case $CACHING_MODE in
on|off) IOMMU_OPTS=$IOMMU_OPTS,caching-mode=$CACHING_MODE ;;
*) die "CACHING_MODE must be on or off" ;;
esac
TRACE_ARGS=(-trace 'vtd_inv_desc*' -trace vtd_inv_qi_tail)
for ev in $EXTRA_TRACE; do
	TRACE_ARGS+=(-trace "$ev")
done
CMDLINE="console=ttyS0 intel_iommu=on$SM_ARG iommu.strict=1 panic=-1"

TRACE_RAW=$WORK/trace.log
CONSOLE=$WORK/console.log
QEMU_CMD=(
	"$QEMU" -accel tcg -machine q35 -cpu max -smp 1 -m 512M
	-device "intel-iommu,$IOMMU_OPTS"
	-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz"
	-append "$CMDLINE"
	-drive "file=$WORK/disk.img,if=none,id=d0,format=raw"
	-device "nvme,drive=d0,serial=x"
	-nographic -no-reboot -nodefaults -serial stdio
	"${TRACE_ARGS[@]}" -D "$TRACE_RAW"
)
log "running: ${QEMU_CMD[*]}"
rc=0
timeout "$QEMU_TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$CONSOLE" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$CONSOLE" >&2 || true
	die "QEMU exited with status $rc (124 = timeout)"
fi
grep -q 'capture-init: read [1-9]' "$CONSOLE" || {
	tail -n 40 "$CONSOLE" >&2
	die "guest did not finish its NVMe reads"
}
grep -m1 'capture-init: read' "$CONSOLE" >&2
[ -s "$TRACE_RAW" ] || die "QEMU wrote no trace to $TRACE_RAW"

# ---------------------------------------------------------------- output
mkdir -p "$(dirname "$OUT")"
if [ "$MAX_LINES" -gt 0 ]; then
	# QEMU logs a tail write *before* the descriptors it then processes, so
	# cut right before a vtd_inv_qi_tail line: the file then ends with a
	# complete submission. Keep at most MAX_LINES lines.
	next_tail=$(head -n "$((MAX_LINES + 1))" "$TRACE_RAW" |
		    grep -n 'vtd_inv_qi_tail' | tail -n1 | cut -d: -f1 || true)
	cut_at=$(( ${next_tail:-1} - 1 ))
	[ "$cut_at" -gt 0 ] || die "MAX_LINES=$MAX_LINES too small to keep one submission"
	head -n "$cut_at" "$TRACE_RAW" >"$OUT"
	log "trace cut at line $cut_at of $(wc -l <"$TRACE_RAW")"
else
	cp "$TRACE_RAW" "$OUT"
fi
log "wrote $OUT ($(wc -l <"$OUT") lines, $(wc -c <"$OUT") bytes)"
