// SPDX-License-Identifier: MIT
/*
 * The IDT and what happens on an exception: a test armed with trap_run()
 * gets it back as data; a registered handler (interrupts) runs and returns;
 * anything else fails the test with the vector, error code and RIP, which
 * is the report one wants from a guest that went wrong.
 */
#include "rt.h"

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
} __attribute__((packed));

#define GATE_INTERRUPT 0x8e	/* present, DPL 0, 64-bit interrupt gate */
#define SEL_CODE64 0x10
#define ISR_STUB_SIZE 16

extern const char rt_isr_stubs[];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_handler handlers[256];
static bool idt_built;

void idt_load(void)
{
	/* The BSP builds it before any AP exists; APs only load it. */
	if (!idt_built) {
		for (unsigned int v = 0; v < 256; v++) {
			uint64_t a = (uintptr_t)rt_isr_stubs + v * ISR_STUB_SIZE;

			idt[v] = (struct idt_gate){
				.offset_lo = (uint16_t)a,
				.selector = SEL_CODE64,
				.type_attr = GATE_INTERRUPT,
				.offset_mid = (uint16_t)(a >> 16),
				.offset_hi = (uint32_t)(a >> 32),
			};
		}
		idt_built = true;
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uintptr_t)idt };
	__asm__ volatile("lidt %0" ::"m"(desc));
}

void trap_set_handler(unsigned int vector, trap_handler h)
{
	if (vector < 256)
		handlers[vector] = h;
}

const char *trap_name(unsigned int vector)
{
	static const char *const names[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?9", "#TS",
		"#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};
	if (vector < 32 && names[vector])
		return names[vector];
	return vector < 32 ? "reserved" : "interrupt";
}

/* rt_setjmp/rt_longjmp (crt0.S) keep callee-saved registers, RSP and RIP. */
struct jmp_env {
	uint64_t regs[8];
};
int rt_setjmp(struct jmp_env *env) __attribute__((returns_twice));
NORETURN void rt_longjmp(struct jmp_env *env, int val);

static struct jmp_env trap_env;
static volatile bool trap_armed;
static struct trap_info trap_last;

bool trap_run(void (*fn)(void *), void *arg, struct trap_info *out)
{
	if (rt_setjmp(&trap_env) == 0) {
		trap_armed = true;
		barrier();
		fn(arg);
		barrier();
		trap_armed = false;
		return false;
	}
	*out = trap_last;
	return true;
}

void rt_trap(struct trap_frame *f);
void rt_trap(struct trap_frame *f)
{
	if (trap_armed) {
		trap_armed = false;
		trap_last = (struct trap_info){
			.vector = f->vector,
			.error_code = f->error_code,
			.rip = f->rip,
			.cr2 = read_cr2(),
		};
		/* Abandon the exception frame: we are in ring 0 on one stack, IF stays 0. */
		rt_longjmp(&trap_env, 1);
	}
	if (handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	/* A fault inside this report ends in test_fail's claim: power-off, no recursion. */
	test_fail("unexpected %s (vector %lu) error 0x%lx at rip 0x%lx rsp 0x%lx cr2 0x%lx on cpu %u",
		  trap_name(f->vector), f->vector, f->error_code, f->rip, f->rsp, read_cr2(),
		  rt_cpu_index());
}
