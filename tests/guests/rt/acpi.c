// SPDX-License-Identifier: MIT
/* Finding ACPI tables the way an OS does: RSDP scan, then the XSDT. */
#include "rt.h"

uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

const void *acpi_find_rsdp(void)
{
	for (uint64_t a = MACHINE_BIOS_START; a < MACHINE_BIOS_END; a += 16) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)a;

		if (memcmp(p, "RSD PTR ", 8) || acpi_sum(p, 20))
			continue;
		/* ACPI 2.0+ (revision >= 2) has the XSDT and an extended checksum. */
		if (p[15] >= 2 && acpi_sum(p, load_le32(p + 20)))
			continue;
		return p;
	}
	return NULL;
}

static bool table_ok(const struct acpi_header *h)
{
	return h && h->length >= sizeof(*h) && acpi_sum(h, h->length) == 0;
}

const struct acpi_header *acpi_find_table(const char *sig, unsigned int index)
{
	const uint8_t *rsdp = acpi_find_rsdp();

	if (!rsdp || rsdp[15] < 2)
		return NULL;
	const struct acpi_header *xsdt = (const void *)(uintptr_t)load_le64(rsdp + 24);

	if (!table_ok(xsdt) || memcmp(xsdt->signature, "XSDT", 4))
		return NULL;
	/* Entries are 8 bytes but only 4-byte aligned (after the 36-byte header). */
	const uint8_t *entries = (const uint8_t *)(xsdt + 1);
	size_t n = (xsdt->length - sizeof(*xsdt)) / 8;

	for (size_t i = 0; i < n; i++) {
		const struct acpi_header *t = (const void *)(uintptr_t)load_le64(entries + 8 * i);

		if (!t || memcmp(t->signature, sig, 4))
			continue;
		if (index-- == 0)
			return table_ok(t) ? t : NULL;
	}
	return NULL;
}
