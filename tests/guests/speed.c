// SPDX-License-Identifier: MIT
/*
 * The guest's speed, timed by the ACPI PM timer (vmm/pmtimer.c): a loop of
 * simple ring-0 instructions runs for about half a second of PM-timer time
 * and the guest prints how many instructions it ran per second. On this
 * machine's software KVM that is its ring-0 emulation rate; on the real-KVM
 * testbed (tests/realkvm) it is the nested guest's native rate. The guest
 * also checks the PM timer: it advances, and by no more than its 24 bits
 * can hold between two reads a few milliseconds apart.
 */
#include "rt.h"

TEST_NAME("speed");

#define PM_TIMER_PORT	0x608		/* MACHINE_PM_TIMER_PORT */
#define PM_TIMER_HZ	3579545ULL
#define PM_TIMER_MASK	0xffffffU
#define CHUNK		10000ULL	/* loop iterations between timer reads */
#define INSNS_PER_ITER	3ULL		/* add, dec, jnz */
#define RUN_TICKS	(PM_TIMER_HZ / 2)

static uint32_t pm_timer(void)
{
	return inl(PM_TIMER_PORT) & PM_TIMER_MASK;
}

int main(const void *dtb)
{
	uint64_t ticks = 0, iters = 0, sum = 0;
	uint32_t last = pm_timer(), now;

	(void)dtb;
	while (ticks < RUN_TICKS) {
		uint64_t n = CHUNK;

		__asm__ volatile("1: addq $1, %0\n\tdecq %1\n\tjnz 1b" : "+r"(sum), "+r"(n));
		iters += CHUNK;
		now = pm_timer();
		/* 24 bits wrap after 4.7 s; one chunk takes milliseconds even when emulated. */
		ticks += (now - last) & PM_TIMER_MASK;
		last = now;
		expect(iters < (1ULL << 40), "the PM timer does not advance (%lu ticks)", ticks);
	}
	expect(sum == iters, "the loop ran %lu iterations, counted %lu", iters, sum);
	uint64_t us = ticks * 1000000 / PM_TIMER_HZ;
	uint64_t insns = iters * INSNS_PER_ITER;
	printf("speed: %lu instructions in %lu us of PM-timer time: %lu.%03lu M instructions/s\n",
	       insns, us, insns / us, insns * 1000 / us % 1000);
	return 0;
}
