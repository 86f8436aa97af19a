// SPDX-License-Identifier: MIT
/*
 * The guest's speed, timed by the ACPI PM timer (vmm/pmtimer.c): a loop of
 * simple ring-0 instructions runs for about half a second of PM-timer time
 * and the guest prints how many instructions it ran per second. On this
 * machine's software KVM that is its ring-0 emulation rate; on the real-KVM
 * testbed (tests/realkvm) it is the nested guest's native rate. The guest
 * also checks the PM timer: it advances, and by no more than its 24 bits
 * can hold between two reads a few milliseconds apart. Last, it times back
 * to back PM-timer reads: each is an exit to tagvmm, the cost that decides
 * whether Linux can calibrate its TSC against the PM timer (its
 * tsc_read_refs() wants a read within about 20 microseconds).
 */
#include "rt.h"

TEST_NAME("speed");

#define PM_TIMER_PORT	0x608		/* MACHINE_PM_TIMER_PORT */
#define PM_TIMER_HZ	3579545ULL
#define PM_TIMER_MASK	0xffffffU
#define CHUNK		10000ULL	/* loop iterations between timer reads */
#define INSNS_PER_ITER	3ULL		/* add, dec, jnz */
#define RUN_TICKS	(PM_TIMER_HZ / 2)
#define EXIT_READS	1000

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

	/* EXIT_READS reads, timed by the PM timer itself. */
	uint32_t first = pm_timer();

	for (unsigned int i = 0; i < EXIT_READS - 1; i++)
		now = pm_timer();
	ticks = (now - first) & PM_TIMER_MASK;
	uint64_t ns_each = ticks * 1000000000ULL / PM_TIMER_HZ / EXIT_READS;

	printf("speed: %u PM-timer reads (exits to the VMM): %lu.%03lu us each\n", EXIT_READS,
	       ns_each / 1000, ns_each % 1000);
	return 0;
}
