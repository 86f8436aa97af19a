// SPDX-License-Identifier: MIT
/*
 * ACPI hardware-reduced sleep registers (FADT SLEEP_CONTROL_REG and
 * SLEEP_STATUS_REG), one byte each.
 *
 * Control: SLP_TYP in bits 4:2, SLP_EN (bit 5, write-only) starts the
 * transition. S5 powers the VM off. There is no suspend, so S1..S4 are
 * refused by waking up at once: WAK_STS is set as if a wake event had
 * arrived the moment the guest slept. That matters because ACPICA's
 * hardware-reduced sleep path spins on WAK_STS after writing SLP_EN and
 * would otherwise hang the vCPU forever.
 *
 * Status: WAK_STS (bit 7) is write-one-to-clear; the other bits read 0.
 *
 * The state is one byte per process: tagvmm runs one VM per process, and
 * power_init() resets it for the next VM (the tests make several).
 * The reset control register (0xCF9) sits inside the PCI configuration
 * ports and is decoded by the host bridge (pci.c).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "vmm/devices.h"
#include "vmm/init.h"
#include "vmm/kvm.h"

#define SLEEP_TYP_MASK		(0x7 << MACHINE_SLEEP_TYP_SHIFT)
#define SLEEP_STS_WAK		0x80

static atomic_uint_fast8_t sleep_status;
static atomic_uint_fast8_t sleep_typ;		/* last SLP_TYP written, reads back */
static atomic_bool warned_sleep;

static void sleep_control(struct vm *vm, uint8_t val)
{
	unsigned int typ = (val & SLEEP_TYP_MASK) >> MACHINE_SLEEP_TYP_SHIFT;

	atomic_store(&sleep_typ, val & SLEEP_TYP_MASK);
	if (!(val & MACHINE_SLEEP_SLP_EN))
		return;
	if (typ == MACHINE_SLEEP_TYP_S5) {
		if (vm->serial)
			serial8250_flush(vm->serial);
		vm_request_stop(vm, VM_POWEROFF, "guest powered off");
		return;
	}
	if (!atomic_exchange(&warned_sleep, true))
		fprintf(stderr, "tagvmm: guest asked for sleep type %u; only S5 (power off) is "
			"supported, waking it up at once\n", typ);
	atomic_fetch_or(&sleep_status, SLEEP_STS_WAK);
}

static void sleep_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	struct vm *vm = opaque;
	unsigned int i;

	/* A wide access covers both registers, byte by byte. */
	for (i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (is_write) {
			if (reg == 0)
				sleep_control(vm, data[i]);
			else if (reg == 1)
				atomic_fetch_and(&sleep_status, (uint_fast8_t)~(data[i] & SLEEP_STS_WAK));
		} else {
			if (reg == 0)
				data[i] = atomic_load(&sleep_typ);	/* SLP_EN reads 0 */
			else if (reg == 1)
				data[i] = atomic_load(&sleep_status);
			else
				data[i] = 0xff;
		}
	}
}

int power_init(struct vm *vm, char *err, size_t errlen)
{
	_Static_assert(MACHINE_SLEEP_STS_PORT == MACHINE_SLEEP_CTL_PORT + 1,
		       "the sleep registers are registered as one 2-byte range");

	atomic_store(&sleep_status, 0);
	atomic_store(&sleep_typ, 0);
	atomic_store(&warned_sleep, false);
	if (bus_register(&vm->pio, MACHINE_SLEEP_CTL_PORT, 2, sleep_io, vm, "acpi-sleep")) {
		snprintf(err, errlen, "power: cannot register the sleep registers at %#x: %s",
			 MACHINE_SLEEP_CTL_PORT, strerror(errno));
		return -1;
	}
	return 0;
}
VM_INIT(power_init, VM_INIT_DEVICE);
