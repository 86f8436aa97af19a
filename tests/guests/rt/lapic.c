// SPDX-License-Identifier: MIT
/*
 * xAPIC helpers and AP start-up (INIT, SIPI, SIPI) through the trampoline
 * in trampoline.S. KVM's in-kernel LAPIC latches INIT and SIPI, so the
 * delays real hardware needs (10 ms, 200 us) shrink to a few port reads.
 */
#include "rt.h"

_Static_assert(SMP_MAX_APS == MACHINE_MAX_CPUS - 1, "trampoline.h out of date");
_Static_assert((SMP_TRAMPOLINE_ADDR & 0xfff) == 0 && SMP_TRAMPOLINE_ADDR < 0x100000,
	       "SIPI vector is the trampoline's page number below 1 MiB");
_Static_assert(SMP_TRAMPOLINE_ADDR >= MACHINE_PML4_ADDR + 6 * 4096 &&
		       SMP_TRAMPOLINE_ADDR + 4096 <= MACHINE_CMDLINE_ADDR,
	       "trampoline overlaps the VMM's low-memory structures");

#define SVR_ENABLE 0x100
#define SPURIOUS_VECTOR 0xff

void lapic_enable(void) { lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR); }

bool lapic_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (int i = 0; i < 1000; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_BUSY))
			return true;
	return false;
}

/* Each read is a VM exit, so this paces by wall time: about 10 us a poll. */
static void pace(unsigned long polls)
{
	while (polls--)
		(void)inb(MACHINE_COM1_PORT + 5);
}

bool wait_for_count(volatile uint32_t *p, uint32_t want, unsigned long polls)
{
	while (*p < want) {
		if (!polls--)
			return false;
		pace(1);
	}
	return true;
}

/* Read by trampoline.S in 32-bit mode, so plain 32-bit values. */
uint32_t rt_ap_cr0, rt_ap_cr3, rt_ap_cr4, rt_ap_efer;
volatile uint32_t rt_ap_next;
static void (*volatile ap_fn)(unsigned int slot);
extern const char rt_tramp_start[], rt_tramp_end[];

void rt_ap_main(unsigned int slot);
void rt_ap_main(unsigned int slot)
{
	if (ap_fn)
		ap_fn(slot);
	halt_forever();
}

bool smp_start_ap(uint32_t apic_id, void (*fn)(unsigned int slot))
{
	/* The AP shares the BSP's page tables, which must sit below 4 GiB. */
	if (read_cr3() >> 32)
		return false;
	ap_fn = fn;
	rt_ap_cr0 = (uint32_t)read_cr0();
	rt_ap_cr3 = (uint32_t)read_cr3();
	rt_ap_cr4 = CR4_PAE;
	rt_ap_efer = (uint32_t)((rdmsr(MSR_EFER) & EFER_NXE) | EFER_LME);
	memcpy((void *)SMP_TRAMPOLINE_ADDR, rt_tramp_start, (size_t)(rt_tramp_end - rt_tramp_start));
	barrier();

	if (!lapic_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT))
		return false;
	pace(10);
	for (int i = 0; i < 2; i++) {
		if (!lapic_ipi(apic_id, ICR_STARTUP | (SMP_TRAMPOLINE_ADDR >> 12)))
			return false;
		pace(10);
	}
	return true;
}
