# The VMM (libvmm.a) and the tagvmm program with its subcommands.
noinst_LIBRARIES += libvmm.a
libvmm_a_SOURCES = \
	vmm/machine.h vmm/machine.c \
	vmm/kvm.h vmm/kvm.c \
	vmm/emulate.h vmm/emulate.c \
	vmm/bus.h vmm/bus.c \
	vmm/init.h vmm/init.c \
	vmm/pci.h vmm/pci-priv.h vmm/pci.c vmm/pci-dev.c vmm/pci-cap.c \
	vmm/devices.h vmm/serial.c vmm/power.c vmm/pmtimer.c \
	vmm/acpi.h vmm/acpi.c vmm/aml.h vmm/aml.c \
	vmm/fdt.h vmm/fdt.c \
	vmm/boot.h vmm/boot.c vmm/bzimage.c vmm/elf.c vmm/cpu.c vmm/cpuid.h vmm/cpuid.c \
	vmm/topology.h vmm/topology.c \
	vmm/vfio.h vmm/vfio-compat.h vmm/vfio.c \
	vmm/vfio-pci-priv.h vmm/vfio-pci.c vmm/vfio-pci-irq.c \
	vmm/qemu-trace.h vmm/qemu-trace.c

bin_PROGRAMS += tagvmm
tagvmm_SOURCES = \
	vmm/main.c vmm/cli.h \
	vmm/cmd-run.c vmm/cmd-replay.c vmm/cmd-trace.c \
	vmm/replay-iommufd.h vmm/replay-iommufd.c
# Every libvmm object, not the archive: devices register themselves from
# constructors (vmm/init.h), which an archive link would drop.
tagvmm_LDADD = $(libvmm_a_OBJECTS) $(libviommu_a_OBJECTS) $(TAGVMM_LIBS)
