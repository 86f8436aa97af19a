# The VMM (libvmm.a): KVM, memory, boot, buses, PCI, ACPI/FDT, devices, VFIO.
noinst_LIBRARIES += libvmm.a
libvmm_a_SOURCES = \
	vmm/machine.h vmm/machine.c \
	vmm/kvm.h vmm/kvm.c \
	vmm/emulate.h vmm/emulate.c \
	vmm/bus.h vmm/bus.c \
	vmm/dma.h vmm/dma.c \
	vmm/init.h vmm/init.c \
	vmm/pci.h vmm/pci-priv.h vmm/pci.c vmm/pci-dev.c vmm/pci-cap.c \
	vmm/devices.h vmm/serial.c vmm/power.c vmm/pmtimer.c \
	vmm/acpi.h vmm/acpi.c vmm/aml.h vmm/aml.c \
	vmm/fdt.h vmm/fdt.c \
	vmm/boot.h vmm/boot.c vmm/bzimage.c vmm/elf.c vmm/cpu.c vmm/cpuid.h vmm/cpuid.c \
	vmm/vfio.h vmm/vfio.c \
	vmm/vfio-pci-priv.h vmm/vfio-pci.c vmm/vfio-pci-irq.c \
	vmm/virtio.h vmm/virtio-priv.h vmm/virtio-pci.c vmm/virtio-ring.c vmm/virtio-blk.c \
	vmm/virtio-rng.c
