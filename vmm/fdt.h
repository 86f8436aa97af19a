/* SPDX-License-Identifier: MIT */
/*
 * The same machine as a flattened device tree (libfdt): memory, cpus, the
 * serial port, the PCI host bridge and the vIOMMU units with iommu-map.
 * Handed to ELF guests and written out by `--dtb-out FILE`. Stock x86 Linux
 * ignores it (Debian builds without CONFIG_OF); ACPI is what Linux reads.
 */
#ifndef TAGVMM_VMM_FDT_H
#define TAGVMM_VMM_FDT_H

#include <stddef.h>

#include "vmm/machine.h"

/* Build into @buf. Returns 0, or -1 with a message in @err (libfdt's). */
int fdt_build(const struct machine *m, const char *cmdline, void *buf, size_t size, char *err,
	      size_t errlen);

#endif
