// SPDX-License-Identifier: MIT
/*
 * The ACPI power-management timer (ACPI 6.5 §4.8.3.3): a free-running
 * counter at 3.579545 MHz read through one 32-bit I/O port, the FADT's
 * PM_TMR_BLK / X_PM_TMR_BLK. It is the reference a guest without kvm-clock
 * calibrates its TSC against (Linux's tsc_read_refs() takes the PM timer
 * when there is no HPET) and a clocksource of its own (acpi_pm). The FADT
 * is hardware-reduced, which has no PM timer in the spec, but Linux and
 * ACPICA read X_PM_TMR_BLK whatever the flags say, as on Firecracker-like
 * machines that add one.
 *
 * The count is the host's CLOCK_MONOTONIC scaled to the timer's rate, so it
 * advances at the right speed whatever the vCPUs do and needs no state;
 * 24 bits are implemented (TMR_VAL_EXT is clear in the FADT). Writes are
 * ignored: the register is read-only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmm/devices.h"
#include "vmm/init.h"
#include "vmm/kvm.h"

uint32_t pmtimer_count(const struct timespec *now)
{
	uint64_t ticks = (uint64_t)now->tv_sec * PMTIMER_HZ +
			 (uint64_t)now->tv_nsec * PMTIMER_HZ / 1000000000ULL;

	return (uint32_t)(ticks & PMTIMER_MASK);
}

static void pmtimer_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		       bool is_write)
{
	struct timespec now;
	uint32_t count;

	(void)opaque;
	if (is_write)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	count = pmtimer_count(&now);
	/* Byte and word reads see their part of the little-endian register. */
	for (unsigned int i = 0; i < len; i++)
		data[i] = offset + i < 4 ? (uint8_t)(count >> (8 * (offset + i))) : 0xff;
}

int pmtimer_init(struct vm *vm, char *err, size_t errlen)
{
	if (bus_register(&vm->pio, MACHINE_PM_TIMER_PORT, 4, pmtimer_io, NULL, "acpi-pm-timer")) {
		snprintf(err, errlen, "cannot register the ACPI PM timer at %#x: %s",
			 MACHINE_PM_TIMER_PORT, strerror(errno));
		return -1;
	}
	return 0;
}
VM_INIT(pmtimer_init, VM_INIT_DEVICE);
