/* SPDX-License-Identifier: MIT */
/*
 * `tagvmm run`'s command line, parsed into what the run needs; split from
 * cmd-run.c so fuzz/fuzz_setup.c drives the same parser without a VM.
 */
#ifndef TAGVMM_CLI_RUN_OPTIONS_H
#define TAGVMM_CLI_RUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/boot.h"
#include "vmm/vfio.h"
#include "vmm/virtio.h"
#include "viommu/viommu.h"

#define DEFAULT_RAM_MIB 256

struct run_options {
	struct boot_config boot;
	uint64_t ram_size;
	unsigned int ncpus;
	const char *dtb_out;
	bool quiet;
	bool stats;
	struct viommu_options viommu;
	const char *vfio[VFIO_MAX_DEVICES];	/* --vfio BDF */
	size_t nvfio;
	const char *host_trace;			/* --host-trace FILE */
	struct virtio_spec virtio[VIRTIO_MAX_DEVICES];	/* --disk, --rng */
	size_t nvirtio;
};

/*
 * Parse `tagvmm run`'s arguments (@argv[0] is the command's name) into @o,
 * which keeps pointers into @argv. Returns 0; -1 after printing --help;
 * or EXIT_USAGE after printing why on standard error.
 */
int run_parse_options(int argc, char **argv, struct run_options *o);

#endif
