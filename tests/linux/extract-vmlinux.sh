#!/usr/bin/env bash
# extract-vmlinux.sh BZIMAGE OUT: the ELF vmlinux inside a bzImage's
# compressed payload (setup header: setup_sects at 0x1f1, payload_offset at
# 0x248 and payload_length at 0x24c, from the start of the protected-mode
# code). Debian's 6.1 kernels use LZ4; xz, gzip and zstd are handled too.
set -eu
bz=$1 out=$2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
[ "$setup_sects" -eq 0 ] && setup_sects=4
off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
tail -c +$(((setup_sects + 1) * 512 + off + 1)) "$bz" | head -c "$len" >"$tmp"
case $(od -An -tx1 -N4 "$tmp" | tr -d ' ') in
fd377a58) xz -dc <"$tmp" >"$out" 2>/dev/null || true ;;
1f8b*) gzip -dc <"$tmp" >"$out" 2>/dev/null || true ;;
28b52ffd) zstd -dcq <"$tmp" >"$out" 2>/dev/null || true ;;
02214c18) lz4 -dc <"$tmp" >"$out" 2>/dev/null || true ;;
*) echo "extract-vmlinux: unknown payload compression in $bz" >&2; exit 1 ;;
esac
# A trailing size word after the stream makes some decompressors complain; the ELF is what counts.
[ "$(od -An -tx1 -N4 "$out" | tr -d ' ')" = 7f454c46 ] ||
	{ echo "extract-vmlinux: no ELF in $bz's payload" >&2; exit 1; }
