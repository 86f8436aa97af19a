# Sourced by the testbed scripts (testbed.sh, passthrough.sh): Debian
# packages they boot, downloaded once with apt-get download and unpacked once,
# both cached in $cache (TAGVMM_TESTBED_CACHE, default /var/cache/tagvmm-testbed).
cache=${TAGVMM_TESTBED_CACHE:-/var/cache/tagvmm-testbed}
die() { echo "ERROR: $*" >&2; exit 99; }
fetch() {	# fetch META-PACKAGE: prints the .deb of the package it depends on
	local meta=$1 pkg deb
	mkdir -p "$cache/debs" || die "cannot create $cache"
	apt-cache show "$meta" >/dev/null 2>&1 || apt-get update -qq >/dev/null 2>&1 ||
		die "apt-get update failed"
	pkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1)
	[ -n "$pkg" ] || pkg=$meta
	deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -1)
	if [ -z "$deb" ]; then
		(cd "$cache/debs" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed (run apt-get update?)"
		deb=$(ls "$cache/debs/${pkg}_"*.deb | sort -V | tail -1)
	fi
	echo "$deb"
}
extract() {	# extract DEB: prints the directory it is unpacked in (cached)
	local dir=$cache/root/$(basename "$1" .deb)
	if [ ! -e "$dir/.done" ]; then
		rm -rf "$dir" && mkdir -p "$dir" && dpkg-deb -x "$1" "$dir" && touch "$dir/.done" ||
			die "cannot unpack $1"
	fi
	echo "$dir"
}
