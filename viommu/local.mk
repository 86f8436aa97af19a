# The emulated VT-d (libviommu.a, linked into tagvmm) and its tests.
noinst_LIBRARIES += libviommu.a
libviommu_a_SOURCES = \
	viommu/viommu.h viommu/vtd.h viommu/simdev-regs.h viommu/passthrough.h \
	viommu/unit.c viommu/qi.c viommu/tables.c viommu/walk.c viommu/work.c \
	viommu/simdev.c viommu/setup.c viommu/passthrough.c
