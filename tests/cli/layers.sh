#!/usr/bin/env bash
# The layer order (scripts/layers.sh) holds for the tree, and the check
# fails, naming the file, when a folder includes one it must not.
set -eu
src=${top_srcdir:-.}
check=$src/scripts/layers.sh

bash "$check" "$src" || { echo "FAIL: the tree breaks the layer order"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in lib vtd hostvtd vmm viommu replay cli; do
	mkdir -p "$tmp/$d"
	cp "$src/$d"/*.[ch] "$tmp/$d/"
done
bash "$check" "$tmp" || { echo "FAIL: the copy should pass"; exit 1; }

# Expect the check to refuse FILE including HEADER.
refuses() {
	local file=$1 header=$2 out
	cp "$tmp/$file" "$tmp/$file.orig"
	printf '#include "%s"\n' "$header" >> "$tmp/$file"
	if out=$(bash "$check" "$tmp" 2>&1); then
		echo "FAIL: $file including $header passed the check"; exit 1
	fi
	case $out in
	*"$file:"*) ;;
	*) echo "FAIL: the report does not name $file: $out"; exit 1 ;;
	esac
	mv "$tmp/$file.orig" "$tmp/$file"
}
refuses vmm/kvm.c viommu/viommu.h		# the VMM must not know the vIOMMU
refuses vmm/pci.h hostvtd/flush.h		# ... nor the flush path
refuses hostvtd/plan.c vmm/kvm.h		# the flush path is below the VMM
refuses lib/hostops.c vtd/regs.h		# lib knows no VT-d
refuses viommu/qi.c replay/topology.h	# replay sits above viommu
refuses replay/topology.c cli/cli.h		# only cli sees everything
refuses vtd/desc.c tests/unit/testutil.h	# no folder includes the tests
refuses cli/main.c nosuch/thing.h		# nor an unknown folder
# An indented or spaced include is still an include.
cp "$tmp/vmm/bus.c" "$tmp/vmm/bus.c.orig"
printf '  #  include   "viommu/viommu.h"\n' >> "$tmp/vmm/bus.c"
if bash "$check" "$tmp" 2>/dev/null; then
	echo "FAIL: a spaced include passed"; exit 1
fi
mv "$tmp/vmm/bus.c.orig" "$tmp/vmm/bus.c"
bash "$check" "$tmp" || { echo "FAIL: the restored copy should pass"; exit 1; }
echo "PASS: layer order holds; forbidden includes are refused"
