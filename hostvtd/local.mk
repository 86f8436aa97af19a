# Tag store, flush planner, flush engine, trace, and the host back ends.
noinst_LIBRARIES += libhostvtd.a
libhostvtd_a_SOURCES = \
	hostvtd/host.h hostvtd/host.c \
	hostvtd/backend.h \
	hostvtd/tagstore.h hostvtd/tagstore.c \
	hostvtd/plan.h hostvtd/plan.c \
	hostvtd/flush.h hostvtd/flush.c \
	hostvtd/flushpath.h hostvtd/flushpath.c \
	hostvtd/flushtrace.h hostvtd/flushtrace.c \
	hostvtd/trace-reader.h hostvtd/trace-fields.c hostvtd/trace-summary.c \
	hostvtd/trace-json.c \
	hostvtd/iommufd.h hostvtd/iommufd.c hostvtd/devtlb-cover.h hostvtd/devtlb-cover.c \
	hostvtd/iommufd-dryrun.h hostvtd/iommufd-dryrun.c \
	hostvtd/iommufd-dryrun-host.h hostvtd/iommufd-dryrun-host.c \
	hostvtd/simvtd.h hostvtd/simvtd.c \
	hostvtd/simvtd-cache.h hostvtd/simvtd-cache.c

# Link order: users first.
TAGVMM_LIBS = libhostvtd.a libvtd.a liblib.a
