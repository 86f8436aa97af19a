// SPDX-License-Identifier: MIT
/*
 * The result protocol tests/kvm/guests.sh reads: exactly one line
 * "TAGVMM-TEST: PASS <name>" or "TAGVMM-TEST: FAIL <name>: <reason>",
 * then ACPI power-off so tagvmm exits.
 */
#include "rt.h"

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void power_off(void)
{
	outb(MACHINE_SLEEP_CTL_PORT,
	     MACHINE_SLEEP_TYP_S5 << MACHINE_SLEEP_TYP_SHIFT | MACHINE_SLEEP_SLP_EN);
	/* A VMM that ignored the write leaves us here; the harness times out. */
	halt_forever();
}

extern const char rt_bsp_stack[], rt_ap_stacks[];

unsigned int rt_cpu_index(void)
{
	/* Which stack we run on says which CPU we are, and reading it cannot fault. */
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t bsp = (uintptr_t)rt_bsp_stack, aps = (uintptr_t)rt_ap_stacks;

	if (sp >= bsp && sp - bsp <= RT_BSP_STACK_SIZE)
		return 0;
	return 1 + (unsigned int)((sp - aps) / SMP_AP_STACK_SIZE);
}

/*
 * Only the first verdict counts: a failure while failing must not print
 * PASS. A CPU that loses the race halts and leaves the power-off to the
 * winner, so the winner's line is never cut short.
 */
static volatile uint32_t verdict_taken;
static volatile uint32_t verdict_cpu;

void rt_claim_verdict(void)
{
	unsigned int me = rt_cpu_index();

	if (atomic_fetch_add32(&verdict_taken, 1) == 0) {
		verdict_cpu = me + 1;
		return;
	}
	/* Zero (not yet recorded) can only be another CPU mid-way through winning. */
	if (verdict_cpu == me + 1)
		power_off();
	halt_forever();
}

void test_pass(void)
{
	rt_claim_verdict();
	printf("TAGVMM-TEST: PASS %s\n", rt_test_name);
	power_off();
}

void test_fail(const char *fmt, ...)
{
	va_list ap;

	rt_claim_verdict();
	printf("TAGVMM-TEST: FAIL %s: ", rt_test_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	power_off();
}

/* crt0 calls this with main's return value. */
NORETURN void rt_main_returned(int status);
void rt_main_returned(int status)
{
	if (status)
		test_fail("main returned %d", status);
	test_pass();
}
