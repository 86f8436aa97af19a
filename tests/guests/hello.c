// SPDX-License-Identifier: MIT
/*
 * The smallest useful guest: the VMM entered us in long mode, the serial
 * port prints, RDI points at a device tree, and power-off ends the run.
 */
#include "rt.h"

TEST_NAME("hello");

int main(const void *dtb)
{
	struct dt dt;

	printf("hello from a tagvmm test guest, dtb at %p\n", dtb);
	expect(dtb == (const void *)MACHINE_DTB_ADDR, "dtb at %p, machine.h says 0x%lx", dtb,
	       (unsigned long)MACHINE_DTB_ADDR);
	expect(dt_open(&dt, dtb) == 0, "no device tree at %p (magic 0x%x)", dtb,
	       dtb ? be32(dtb) : 0);
	expect(dt.total_size <= MACHINE_DTB_MAX, "dtb is %u bytes", dt.total_size);

	int chosen = dt_find(&dt, "/chosen");
	const char *args = chosen >= 0 ? dt_prop(&dt, chosen, "bootargs", NULL) : NULL;

	printf("bootargs: %s\n", args ? args : "(none)");
	return 0;
}
