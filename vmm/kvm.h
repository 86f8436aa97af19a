/* SPDX-License-Identifier: MIT */
/*
 * The VM: KVM file descriptors, guest memory, buses and vCPU threads.
 * kvm.c owns the VM and the run loop; cpu.c sets vCPU registers for each
 * boot protocol; emulate.c recovers from the instructions this host's
 * software KVM cannot emulate.
 */
#ifndef TAGVMM_VMM_KVM_H
#define TAGVMM_VMM_KVM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/dma.h"
#include "vmm/machine.h"

struct kvm_run;
struct pci_host;
struct viommu_state;
struct vfio_state;
struct serial8250;
struct vm;

/* Why the VM stopped. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_POWEROFF,		/* the guest powered off (ACPI S5, KVM system event) */
	VM_RESET,		/* the guest asked for a reset */
	VM_SHUTDOWN,		/* triple fault */
	VM_INTERNAL_ERROR,	/* KVM could not go on (reported) */
	VM_HOST_ERROR,		/* a VMM failure (reported) */
	VM_STOPPED,		/* stopped by the VMM (test harness, signal) */
};

struct vcpu {
	struct vm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;	/* mmap of the vCPU's run area */
	size_t run_size;
	pthread_t thread;
	bool thread_started;	/* under vm->stop_lock: the thread may be kicked */
	uint64_t exits;		/* statistics */
	uint64_t pio_unclaimed, mmio_unclaimed;	/* accesses no device took */
	uint64_t recovered;	/* instructions emulate.c finished for KVM */
	uint64_t retried;	/* emulation failures re-run once (see kvm.c) */
	uint64_t failed_rip;	/* where the last unrecovered emulation failure was */
	bool failed_rip_valid;
};

/* A contiguous run of guest RAM backed by one host mapping. */
struct mem_region {
	uint64_t gpa, size;
	uint8_t *host;
};

/*
 * KVM memslots: guest RAM takes 0 .. VM_RAM_SLOTS - 1 (one per mem[]),
 * device memory (vm_map_device_memory) the VM_DEVICE_SLOTS above them.
 */
#define VM_RAM_SLOTS		2
#define VM_DEVICE_SLOTS		64

/* Device memory in a memslot: KVM's only, never guest RAM (see vm_gpa()). */
struct vm_device_slot {
	uint64_t gpa, size;	/* size 0: the slot is free */
	void *host;
};

struct vm {
	int kvm_fd, vm_fd;
	struct machine machine;
	struct mem_region mem[VM_RAM_SLOTS];	/* below the hole, above 4 GiB */
	size_t nmem;
	/* Memslot VM_RAM_SLOTS + i; under kvm.c's lock. */
	struct vm_device_slot device_slots[VM_DEVICE_SLOTS];
	struct bus pio, mmio;
	struct vcpu *vcpus;
	unsigned int ncpus;

	/* Devices (vmm/init.h registers them). */
	struct pci_host *pci;		/* owned by pci.c */
	struct viommu_state *viommu;	/* owned by viommu/setup.c; NULL without --viommu */
	struct dma_iommu dma_iommu;	/* devices' DMA translation (vmm/dma.h); zero: identity */
	struct vfio_state *vfio;	/* --vfio devices, owned by vfio.c; NULL without */
	struct serial8250 *serial;	/* COM1, owned by serial.c */
	int console_in, console_out;	/* the serial console; -1 in: no input */

	atomic_int stop_reason;		/* enum vm_stop_reason, VM_RUNNING while running */
	int stop_status;		/* exit status for VM_STOPPED */
	char stop_message[512];		/* register reports need the room */
	pthread_mutex_t stop_lock;	/* orders stop requests against vCPU threads */
};

/*
 * vm_run() installs an empty handler for this signal and unblocks it on
 * vCPU threads: vm_request_stop() sends it to kick them out of KVM_RUN.
 */
#define VCPU_KICK_SIGNAL	SIGUSR1

struct vm_config {
	unsigned int ncpus;
	uint64_t ram_size;
};

/*
 * Open /dev/kvm, create the VM (in-kernel irqchip and PIT, TSS and identity
 * map), its RAM in memslots around the MMIO hole, and the vCPUs. Returns 0,
 * or -1 with a message in @err naming what failed (/dev/kvm missing or not
 * permitted, too little memory, a bad CPU count, a KVM ioctl).
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);
void vm_destroy(struct vm *vm);

/*
 * Host pointer for [gpa, gpa + len) when it lies inside one RAM region,
 * else NULL. Every guest-controlled address goes through this. Device
 * memory (below) is never RAM: a DMA or table address the guest points at
 * a passed-through BAR gets NULL, so the VMM never reads or writes a
 * device through a guest-chosen pointer.
 */
void *vm_gpa(struct vm *vm, uint64_t gpa, size_t len);

/*
 * Put @size bytes of device memory mapped at @host (an mmap of a VFIO
 * region) at guest physical @gpa, in a memslot of its own, so that guest
 * accesses there reach the device without exits. Returns the slot, or -1
 * with errno: EINVAL (not whole 4 KiB pages, or wrapping), EEXIST
 * (overlaps RAM or other device memory), ENOSPC (VM_DEVICE_SLOTS in use),
 * or KVM_SET_USER_MEMORY_REGION's. Any thread; KVM lets vCPUs run on.
 */
int vm_map_device_memory(struct vm *vm, uint64_t gpa, uint64_t size, void *host);
/* Remove @slot (from vm_map_device_memory()). Returns 0, or -1 with errno. */
int vm_unmap_device_memory(struct vm *vm, int slot);

/*
 * The PC interrupt routing the MADT promises: ISA IRQs on the PICs and on
 * the IOAPIC pins of the same number, IRQ 0 on IOAPIC pin 2. Fills @e
 * (VM_BASE_GSI_ROUTES entries) and returns the count; devices that add MSI
 * routes (VFIO) start their tables with it.
 */
#define VM_BASE_GSI_ROUTES (16 - 1 + MACHINE_IOAPIC_PINS - 1)
struct kvm_irq_routing_entry;
size_t vm_base_gsi_routes(struct kvm_irq_routing_entry *e);

/* Raise or lower a GSI on the in-kernel IOAPIC/PIC. */
int vm_irq_line(struct vm *vm, unsigned int gsi, bool level);
/* Deliver an MSI (address/data as the device wrote them). */
int vm_signal_msi(struct vm *vm, uint64_t address, uint32_t data);

/*
 * Run every vCPU on its own thread until the VM stops. Returns the stop
 * reason; vm->stop_message explains errors.
 */
enum vm_stop_reason vm_run(struct vm *vm);
/* Ask every vCPU to stop (any thread, or a signal handler's helper thread). */
void vm_request_stop(struct vm *vm, enum vm_stop_reason why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
