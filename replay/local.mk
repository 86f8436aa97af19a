# Recorded guest invalidation streams through the flush path, no KVM.
noinst_LIBRARIES += libreplay.a
libreplay_a_SOURCES = \
	replay/replay.h replay/replay.c \
	replay/qemu-trace.h replay/qemu-trace.c \
	replay/topology.h replay/topology.c
