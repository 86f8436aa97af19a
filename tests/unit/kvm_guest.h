/* SPDX-License-Identifier: MIT */
/*
 * A harness for tests against real KVM (check_kvm.c, check_emulate.c):
 * tiny hand-assembled guests at CS = 0x0100 (base 0x1000) in real,
 * protected or long mode, talking to a test device on ports 0xe0..0xef and
 * an MMIO window reached through a segment base set in sregs, with a
 * watchdog so a stuck guest fails its test instead of hanging the suite.
 *
 * Test device ports:
 *   0xe0  write: append the bytes to the log
 *   0xe1  read: 0x5a
 *   0xe2  write: power off (vm_request_stop(VM_POWEROFF))
 *   0xe4  write: count (exit-cost loops)
 *   0xe8  read: 0x88 + i for byte i (wider reads)
 * Each test program includes this once.
 */
#ifndef TAGVMM_TESTS_KVM_GUEST_H
#define TAGVMM_TESTS_KVM_GUEST_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/kvm.h"

#define CODE_SEG	0x0100
#define CODE_BASE	0x1000		/* CS:0 */
#define STACK_TOP	0x8000
#define DATA_ADDR	0x0100		/* DS:0x100 for rep outsb */
#define MMIO_BASE	0xd0000000ULL	/* ES base in the guests */
#define MMIO_SIZE	0x1000
#define UNCLAIMED_MMIO	0xd0100000ULL	/* FS base: nothing lives there */
#define TEST_PORT	0xe0
#define WATCHDOG_SEC	10

struct guest {
	struct vm vm;
	pthread_mutex_t lock;
	uint8_t log[64];
	size_t nlog;
	uint64_t count;
	uint64_t mmio_writes, mmio_last_offset, mmio_last_value;
	/* Watchdog. */
	pthread_t dog;
	pthread_cond_t done_cond;
	bool done, timed_out;
};

static inline void test_port(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		      bool is_write)
{
	struct guest *g = opaque;

	pthread_mutex_lock(&g->lock);
	if (offset == 0 && is_write) {
		for (unsigned int i = 0; i < len && g->nlog < sizeof(g->log); i++)
			g->log[g->nlog++] = data[i];
	} else if (offset == 1 && !is_write) {
		memset(data, 0x5a, len);
	} else if (offset == 2 && is_write) {
		vm_request_stop(&g->vm, VM_POWEROFF, "test poweroff");
	} else if (offset == 4) {
		g->count++;
	} else if (offset == 8 && !is_write) {
		for (unsigned int i = 0; i < len; i++)
			data[i] = 0x88 + i;
	}
	pthread_mutex_unlock(&g->lock);
}

static inline uint8_t mmio_pattern(uint64_t offset)
{
	return 0xa0 ^ (uint8_t)offset;
}

static inline void test_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		      bool is_write)
{
	struct guest *g = opaque;

	pthread_mutex_lock(&g->lock);
	if (is_write) {
		g->mmio_writes++;
		g->mmio_last_offset = offset;
		g->mmio_last_value = 0;
		memcpy(&g->mmio_last_value, data, len);
	} else {
		for (unsigned int i = 0; i < len; i++)
			data[i] = mmio_pattern(offset + i);
	}
	pthread_mutex_unlock(&g->lock);
}

static inline struct guest *guest_new(unsigned int ncpus)
{
	struct vm_config cfg = { .ncpus = ncpus, .ram_size = 16ULL << 20 };
	struct guest *g = calloc(1, sizeof(*g));
	char err[256];

	ck_assert_ptr_nonnull(g);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->done_cond, NULL);
	if (vm_create(&g->vm, &cfg, err, sizeof(err)))
		ck_abort_msg("vm_create: %s", err);
	ck_assert_int_eq(bus_register(&g->vm.pio, TEST_PORT, 16, test_port, g, "test"), 0);
	ck_assert_int_eq(bus_register(&g->vm.mmio, MMIO_BASE, MMIO_SIZE, test_mmio, g, "test"),
			 0);
	return g;
}

static inline void guest_free(struct guest *g)
{
	vm_destroy(&g->vm);
	free(g);
}

static inline void set_seg(struct kvm_segment *s, uint16_t sel, uint64_t base)
{
	*s = (struct kvm_segment){ .selector = sel, .base = base, .limit = 0xffff, .type = 3,
				   .present = 1, .s = 1 };
}

/* Put @code at CS:0 and vCPU 0 in real mode there. */
static inline void guest_load(struct guest *g, const uint8_t *code, size_t len)
{
	struct vcpu *v = &g->vm.vcpus[0];
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = 0, .rsp = STACK_TOP, .rflags = 2 };
	uint8_t *p = vm_gpa(&g->vm, CODE_BASE, len);

	ck_assert_ptr_nonnull(p);
	memcpy(p, code, len);
	ck_assert_int_eq(ioctl(v->fd, KVM_GET_SREGS, &s), 0);
	set_seg(&s.cs, CODE_SEG, CODE_BASE);
	s.cs.type = 11;	/* code, readable, accessed */
	set_seg(&s.ds, 0, 0);
	set_seg(&s.ss, 0, 0);
	set_seg(&s.es, 0, MMIO_BASE);
	set_seg(&s.fs, 0, UNCLAIMED_MMIO);
	set_seg(&s.gs, 0, 0);
	s.idt = (struct kvm_dtable){ .base = 0, .limit = 0x3ff };
	s.cr0 &= ~1ULL;
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_SREGS, &s), 0);
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_REGS, &r), 0);
}

static inline void set_ivt(struct guest *g, unsigned int vector, uint16_t offset)
{
	uint16_t *ivt = vm_gpa(&g->vm, vector * 4, 4);

	ck_assert_ptr_nonnull(ivt);
	ivt[0] = offset;
	ivt[1] = CODE_SEG;
}

static inline void *watchdog(void *arg)
{
	struct guest *g = arg;
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += WATCHDOG_SEC;
	pthread_mutex_lock(&g->lock);
	while (!g->done)
		if (pthread_cond_timedwait(&g->done_cond, &g->lock, &t) == ETIMEDOUT)
			break;
	if (!g->done)
		g->timed_out = true;
	pthread_mutex_unlock(&g->lock);
	if (g->timed_out)
		vm_request_stop(&g->vm, VM_STOPPED, "watchdog");
	return NULL;
}

static inline enum vm_stop_reason guest_run(struct guest *g)
{
	enum vm_stop_reason why;

	ck_assert_int_eq(pthread_create(&g->dog, NULL, watchdog, g), 0);
	why = vm_run(&g->vm);
	pthread_mutex_lock(&g->lock);
	g->done = true;
	pthread_cond_signal(&g->done_cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->dog, NULL);
	ck_assert_msg(!g->timed_out, "the guest ran past the %d s watchdog", WATCHDOG_SEC);
	return why;
}

static inline void assert_log(struct guest *g, const uint8_t *want, size_t n)
{
	ck_assert_uint_eq(g->nlog, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(g->log[i] == want[i], "log[%zu] = %#x, want %#x", i, g->log[i],
			      want[i]);
}

static inline double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * 32-bit protected mode, flat, for what real mode cannot show: KVM's
 * emulator delivers real-mode INT n itself, but not protected-mode ones.
 * GDT at 0x500 (null, code 0x08, data 0x10), IDT at 0x600, code at 0x1000.
 */
#define PM_GDT		0x500
#define PM_IDT		0x600
#define PM_CODE		0x1000

static inline void pm_set_gate(struct guest *g, unsigned int vector, uint32_t handler)
{
	uint8_t *gate = vm_gpa(&g->vm, PM_IDT + vector * 8, 8);

	ck_assert_ptr_nonnull(gate);
	/* 32-bit interrupt gate, present, DPL 0, selector 0x08. */
	gate[0] = handler;
	gate[1] = handler >> 8;
	gate[2] = 0x08;
	gate[3] = 0;
	gate[4] = 0;
	gate[5] = 0x8e;
	gate[6] = handler >> 16;
	gate[7] = handler >> 24;
}

static inline void pm_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .selector = sel, .base = 0, .limit = 0xffffffff,
				   .type = type, .present = 1, .s = 1, .db = 1, .g = 1 };
}

static inline void guest_load_pm(struct guest *g, const uint8_t *code, size_t len, uint16_t idt_limit)
{
	static const uint64_t gdt[] = { 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };
	struct vcpu *v = &g->vm.vcpus[0];
	struct kvm_regs r = { .rip = PM_CODE, .rsp = STACK_TOP, .rflags = 2 };
	struct kvm_sregs s;
	uint8_t *p = vm_gpa(&g->vm, PM_CODE, len);
	void *gp = vm_gpa(&g->vm, PM_GDT, sizeof(gdt));

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(gp);
	memcpy(p, code, len);
	memcpy(gp, gdt, sizeof(gdt));
	ck_assert_int_eq(ioctl(v->fd, KVM_GET_SREGS, &s), 0);
	pm_seg(&s.cs, 0x08, 11);
	pm_seg(&s.ds, 0x10, 3);
	pm_seg(&s.es, 0x10, 3);
	pm_seg(&s.fs, 0x10, 3);
	pm_seg(&s.gs, 0x10, 3);
	pm_seg(&s.ss, 0x10, 3);
	s.gdt = (struct kvm_dtable){ .base = PM_GDT, .limit = sizeof(gdt) - 1 };
	s.idt = (struct kvm_dtable){ .base = PM_IDT, .limit = idt_limit };
	s.cr0 = 0x11;	/* PE, ET */
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_SREGS, &s), 0);
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_REGS, &r), 0);
}

/*
 * 64-bit long mode: the same GDT slots with a 64-bit code segment, one
 * 2 MiB identity page (PML4 at 0x10000), and 16-byte IDT gates at PM_IDT.
 */
#define LM_PML4		0x10000

static inline void lm_set_gate(struct guest *g, unsigned int vector, uint64_t handler)
{
	uint8_t *gate = vm_gpa(&g->vm, PM_IDT + vector * 16, 16);

	ck_assert_ptr_nonnull(gate);
	memset(gate, 0, 16);
	gate[0] = handler;
	gate[1] = handler >> 8;
	gate[2] = 0x08;
	gate[5] = 0x8e;		/* 64-bit interrupt gate, present, DPL 0 */
	gate[6] = handler >> 16;
	gate[7] = handler >> 24;
}

static inline void guest_load_lm(struct guest *g, const uint8_t *code, size_t len)
{
	static const uint64_t gdt[] = { 0, 0x00209b0000000000ULL, 0x0000930000000000ULL };
	struct vcpu *v = &g->vm.vcpus[0];
	struct kvm_regs r = { .rip = PM_CODE, .rsp = STACK_TOP, .rflags = 2 };
	uint64_t *pt = vm_gpa(&g->vm, LM_PML4, 3 * 4096);
	struct kvm_sregs s;

	ck_assert_ptr_nonnull(pt);
	memset(pt, 0, 3 * 4096);
	pt[0] = (LM_PML4 + 0x1000) | 3;		/* PML4[0] -> PDPT */
	pt[512] = (LM_PML4 + 0x2000) | 3;	/* PDPT[0] -> PD */
	pt[1024] = 0x83;			/* PD[0]: 2 MiB at 0, writable */
	guest_load_pm(g, code, len, 0xfff);
	memcpy(vm_gpa(&g->vm, PM_GDT, sizeof(gdt)), gdt, sizeof(gdt));
	ck_assert_int_eq(ioctl(v->fd, KVM_GET_SREGS, &s), 0);
	s.cs.l = 1;
	s.cs.db = 0;
	s.cr3 = LM_PML4;
	s.cr4 = 0x20;			/* PAE */
	s.efer = 0x500;			/* LME, LMA */
	s.cr0 = 0x80000011;		/* PG, ET, PE */
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_SREGS, &s), 0);
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_REGS, &r), 0);
}

/* Skip (77) only without KVM at all: a /dev/kvm that fails to open is a failure. */
static inline int kvm_guest_run_suite(Suite *s)
{
	if (access("/dev/kvm", F_OK))
		return 77;
	return check_run(s);
}

#endif
