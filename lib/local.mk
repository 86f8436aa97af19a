# No VMM or VT-d knowledge: the host_ops system-call seam, small helpers,
# PCI address format/parse, the fallback uAPI headers.
noinst_LIBRARIES += liblib.a
liblib_a_SOURCES = \
	lib/util.h \
	lib/hostops.h lib/hostops.c \
	lib/hostops-trace.h lib/hostops-trace.c \
	lib/pci-bdf.h lib/pci-bdf.c \
	lib/iommufd-compat.h lib/vfio-compat.h
