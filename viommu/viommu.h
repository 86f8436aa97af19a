/* SPDX-License-Identifier: MIT */
/*
 * The emulated VT-d the guest sees (`tagvmm run --viommu`), and the
 * emulated assignable devices behind the simulated host VT-d
 * (`--sim-device`). Every guest invalidation goes through the tag store and
 * the flush engine (hostvtd/) to the host back end. docs/viommu.md.
 */
#ifndef TAGVMM_VIOMMU_VIOMMU_H
#define TAGVMM_VIOMMU_VIOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/flushtrace.h"

struct vm;

#define VIOMMU_MAX_UNITS 4
#define VIOMMU_MAX_SIM_DEVICES 16
#define VIOMMU_MAX_EMULATED 8	/* viommu_add_device() */
#define VIOMMU_MAX_VFIO 8	/* vmm/vfio.h's VFIO_MAX_DEVICES */

/* One `--sim-device dma,iommu=dmarN[,viommu=M][,ats][,pasid]` option. */
struct sim_device_spec {
	unsigned int host_unit;		/* simulated host unit (dmarN) */
	unsigned int viommu;		/* which vIOMMU the guest sees it behind */
	bool viommu_given;		/* viommu=V named it; else viommu_setup() places it */
	bool ats, pasid;
	bool pri;			/* PCI PRI: page requests (needs ats and pasid) */
};

struct viommu_options {
	/*
	 * vIOMMUs (0: none). With units_given false (plain --viommu) there is
	 * one vIOMMU per host unit the guest's devices sit on: first the
	 * simulated units the sim devices name, in unit order, then the real
	 * units of the --vfio devices, in the order they were named; each
	 * device goes behind its host unit's vIOMMU, so a guest's flush of
	 * one vIOMMU reaches one host unit. --viommu=N (units_given) makes N,
	 * devices behind vIOMMU 0 unless viommu=V says otherwise.
	 */
	unsigned int units;
	bool units_given;
	bool caching_mode;		/* CAP.CM (shadowing of second-stage maps) */
	struct sim_device_spec devs[VIOMMU_MAX_SIM_DEVICES];
	unsigned int ndevs;
	/*
	 * The --vfio devices: each one's host unit ("dmarN"; viommu_setup()
	 * reads them from the VM) and the vIOMMU placement puts it behind.
	 */
	char vfio_unit[VIOMMU_MAX_VFIO][32];
	unsigned int vfio_viommu[VIOMMU_MAX_VFIO];
	unsigned int nvfio;
	unsigned int host_units;	/* simulated host units (0: as many as named) */
	const char *flush_trace;	/* --flush-trace FILE, or NULL */
	const char *guest_trace;	/* --guest-trace FILE, or NULL */
	enum flush_trace_format flush_trace_format;
	bool no_merge;
	/* Fault injection for tests: device-TLB invalidations of sim device N time out. */
	int ite_device;			/* -1: none */
	unsigned int ite_count;
	/* Tests: no thread reads the host's fault queues; viommu_poll_faults() does. */
	bool fault_reader_off;
};

/* Parse one --sim-device value. Returns 0, or -1 with a message. */
int viommu_sim_device_parse(const char *spec, struct sim_device_spec *out, char *err,
			    size_t errlen);

/*
 * The placement viommu_setup() makes, without a VM: @given copied to
 * @placed with plain --viommu's vIOMMU count and every sim and VFIO
 * device's vIOMMU filled in, then the whole checked; *@host_units is how many
 * simulated host units it needs. Returns 0, or -1 with a message (then
 * @placed holds the placement that was refused).
 */
int viommu_place(const struct viommu_options *given, struct viommu_options *placed,
		 unsigned int *host_units, char *err, size_t errlen);
/*
 * Create the vIOMMUs, the simulated host and the sim devices for @vm,
 * describe them in vm->machine (DMAR, DTB), and install the DMA
 * translation every device behind them uses (vm->dma_iommu, vmm/dma.h).
 * Call after vm_init_all() and vfio_setup(), before the ACPI tables and
 * the device tree are built from vm->machine. Returns 0, or -1 with a
 * message.
 */
int viommu_setup(struct vm *vm, const struct viommu_options *o, char *err, size_t errlen);
/*
 * Put the emulated PCI function at @bdf (already registered, e.g. a virtio
 * device) behind vIOMMU 0, placed on simulated host unit 0 like a sim
 * device, so its DMA (vmm/dma.h) translates through the host's IOTLB and,
 * with @ats, its own ATC, cleaned by the guest's device-TLB invalidations.
 * After viommu_setup(), before the tables are built. Returns 0, or -1
 * with a message.
 */
int viommu_add_device(struct vm *vm, uint16_t bdf, bool ats, char *err, size_t errlen);
/* Print the flush statistics (stderr) and free everything; NULL-safe. */
void viommu_teardown(struct vm *vm);
/*
 * Forward the page faults the host's fault queues hold for VFIO devices
 * into the guest's page request queue now (what the reader thread does).
 * Returns the host page request groups read.
 */
unsigned int viommu_poll_faults(struct vm *vm);

#endif
