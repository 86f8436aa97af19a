// SPDX-License-Identifier: MIT
/*
 * Triple-faults on purpose: with an empty IDT, #UD cannot be delivered,
 * nor can the #DF that follows. tests/kvm/guests.sh checks that tagvmm
 * reports the crash clearly (exit status 5, "triple fault") and stops.
 */
#include "rt.h"

TEST_NAME("crash");

int main(const void *dtb)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };

	(void)dtb;
	printf("crashing on purpose\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
	test_fail("still running after a triple fault");
}
