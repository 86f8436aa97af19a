# The project's scripts ship in the release, so deps.sh, check.sh and the
# packaging work from an unpacked tarball too.
EXTRA_DIST += \
	scripts/deps.sh scripts/check.sh scripts/demo.sh \
	scripts/check-dist.sh scripts/package.sh \
	scripts/capture-qemu-trace.sh scripts/capture-init.c scripts/build-kernel.sh
