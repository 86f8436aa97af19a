/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for struct machine: RSDP, XSDT, FADT (hardware-reduced),
 * DSDT (PCI host bridge, serial port, \_S5), MADT, MCFG, and DMAR when the
 * machine has vIOMMU units. Pure functions over a buffer, so tests can
 * check them without KVM.
 */
#ifndef TAGVMM_VMM_ACPI_H
#define TAGVMM_VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/machine.h"

struct acpi_table_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_table_header) == 36, "ACPI header is 36 bytes");

/* The byte that makes @len bytes at @p sum to zero. */
uint8_t acpi_checksum(const void *p, size_t len);

/*
 * Build every table into @buf, which the guest will see at @gpa. The RSDP
 * is at offset 0 (so @gpa should be in the 0xE0000..0xFFFFF scan area).
 * Returns the bytes used, or 0 when @size is too small.
 */
size_t acpi_build(const struct machine *m, uint8_t *buf, size_t size, uint64_t gpa);

#endif
