# The emulated VT-d (libviommu.a, linked into tagvmm) and its tests.
# Headers the source list below does not name ship too (scripts/check-dist.sh).
noinst_HEADERS += viommu/simdev.h
noinst_LIBRARIES += libviommu.a
libviommu_a_SOURCES = \
	viommu/viommu.h viommu/viommu-priv.h viommu/simdev-regs.h viommu/passthrough.h \
	viommu/unit.c viommu/fault.c viommu/qi.c viommu/tables.c viommu/walk.c viommu/work.c \
	viommu/dma.c viommu/simdev.c viommu/setup.c viommu/passthrough.c \
	viommu/guest-trace.h viommu/guest-trace.c viommu/prq.c \
	viommu/pt-priv.h viommu/pt-fault.c
