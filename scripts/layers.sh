#!/usr/bin/env bash
# The layers of tagvmm's source folders, and their check: the one place the
# rule is written down (docs/design.md explains it). Order, bottom first:
#
#   lib, vtd -> hostvtd -> vmm -> viommu -> replay -> cli
#
# Each folder's files include headers of their own folder and of the
# folders listed for it below, nothing else; every folder listed comes
# before it. The VMM knows no VT-d: vmm/ includes lib/ only, so a device
# reaches the vIOMMU through vmm/dma.h and nothing else. No folder includes
# tests/, bench/ or fuzz/, which sit on top and may include anything.
# Includes without a folder ("config.h", system headers) are not checked.
#
# usage: scripts/layers.sh [SOURCE_ROOT]
# Prints every forbidden include as FILE:LINE: and exits 1 if there is any.
set -eu
LAYERS='
lib:
vtd:     lib
hostvtd: lib vtd
vmm:     lib
viommu:  lib vtd hostvtd vmm
replay:  lib vtd hostvtd
cli:     lib vtd hostvtd vmm viommu replay
'

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
status=0
seen=""
while read -r layer deps; do
	[ -n "$layer" ] || continue
	layer=${layer%:}
	# The table itself must be an order: a folder may only use earlier ones.
	for dep in $deps; do
		case " $seen " in
		*" $dep "*) ;;
		*) echo "layers: $layer may not use $dep, which is not below it" >&2; exit 2 ;;
		esac
	done
	seen="$seen $layer"
	[ -d "$root/$layer" ] || { echo "layers: $root/$layer: no such folder" >&2; exit 2; }
	allowed=" $layer $deps "
	while IFS= read -r hit; do
		[ -n "$hit" ] || continue
		# hit: FILE:LINE:#include "dir/name.h"
		dir=$(printf '%s\n' "$hit" |
		      sed -n 's/^[^:]*:[0-9]*:[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\/.*$/\1/p')
		[ -n "$dir" ] || continue
		case "$allowed" in
		*" $dir "*) ;;
		*)
			echo "${hit#"$root"/}: $layer/ may include only:$allowed" >&2
			status=1
			;;
		esac
	done < <(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]*/' \
			$(find "$root/$layer" -name '*.[ch]' | sort) /dev/null || true)
done <<< "$LAYERS"
exit $status
