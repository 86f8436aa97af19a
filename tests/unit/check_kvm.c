// SPDX-License-Identifier: MIT
/*
 * The KVM core against real KVM: tiny hand-assembled real-mode guests at
 * CS = 0x0100 (base 0x1000), talking to a test device on ports 0xe0..0xef
 * and an MMIO window the test reaches through a segment base set in sregs,
 * and device memory in memslots of its own (vm_map_device_memory()).
 *
 * Test device ports:
 *   0xe0  write: append the bytes to the log
 *   0xe1  read: 0x5a
 *   0xe2  write: power off (vm_request_stop(VM_POWEROFF))
 *   0xe4  write: count (exit-cost loops)
 *   0xe8  read: 0x88 + i for byte i (wider reads)
 * Skips (77) only when /dev/kvm does not exist.
 */
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

static void test_port(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
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

static uint8_t mmio_pattern(uint64_t offset)
{
	return 0xa0 ^ (uint8_t)offset;
}

static void test_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
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

static struct guest *guest_new(unsigned int ncpus)
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

static void guest_free(struct guest *g)
{
	vm_destroy(&g->vm);
	free(g);
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint64_t base)
{
	*s = (struct kvm_segment){ .selector = sel, .base = base, .limit = 0xffff, .type = 3,
				   .present = 1, .s = 1 };
}

/* Put @code at CS:0 and vCPU 0 in real mode there. */
static void guest_load(struct guest *g, const uint8_t *code, size_t len)
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

static void set_ivt(struct guest *g, unsigned int vector, uint16_t offset)
{
	uint16_t *ivt = vm_gpa(&g->vm, vector * 4, 4);

	ck_assert_ptr_nonnull(ivt);
	ivt[0] = offset;
	ivt[1] = CODE_SEG;
}

static void *watchdog(void *arg)
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

static enum vm_stop_reason guest_run(struct guest *g)
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

static void assert_log(struct guest *g, const uint8_t *want, size_t n)
{
	ck_assert_uint_eq(g->nlog, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(g->log[i] == want[i], "log[%zu] = %#x, want %#x", i, g->log[i],
			      want[i]);
}

static double now(void)
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

static void pm_set_gate(struct guest *g, unsigned int vector, uint32_t handler)
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

static void pm_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .selector = sel, .base = 0, .limit = 0xffffffff,
				   .type = type, .present = 1, .s = 1, .db = 1, .g = 1 };
}

static void guest_load_pm(struct guest *g, const uint8_t *code, size_t len, uint16_t idt_limit)
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

static void lm_set_gate(struct guest *g, unsigned int vector, uint64_t handler)
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

static void guest_load_lm(struct guest *g, const uint8_t *code, size_t len)
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

/* ---- dispatch ---- */

START_TEST(pio_dispatch)
{
	static const uint8_t code[] = {
		0xb0, 0x42,		/* mov al, 0x42 */
		0xe6, 0xe0,		/* out 0xe0, al        ; log 42 */
		0xe4, 0xe1,		/* in al, 0xe1         ; 5a */
		0xe6, 0xe0,		/* out 0xe0, al */
		0xe5, 0xe8,		/* in ax, 0xe8         ; 8988 */
		0xe6, 0xe0,		/* out 0xe0, al */
		0x88, 0xe0,		/* mov al, ah */
		0xe6, 0xe0,		/* out 0xe0, al */
		0xe4, 0xd0,		/* in al, 0xd0         ; nobody: ff */
		0xe6, 0xe0,		/* out 0xe0, al */
		0xe6, 0xd0,		/* out 0xd0, al        ; nobody: ignored */
		0xba, 0xe0, 0x00,	/* mov dx, 0xe0 */
		0xbe, 0x00, 0x01,	/* mov si, 0x100 */
		0xb9, 0x04, 0x00,	/* mov cx, 4 */
		0xf3, 0x6e,		/* rep outsb           ; "ABCD" */
		0xe6, 0xe2,		/* out 0xe2, al        ; power off */
	};
	static const uint8_t want[] = { 0x42, 0x5a, 0x88, 0x89, 0xff, 'A', 'B', 'C', 'D' };
	struct guest *g = guest_new(1);

	memcpy(vm_gpa(&g->vm, DATA_ADDR, 4), "ABCD", 4);
	guest_load(g, code, sizeof(code));
	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	ck_assert_str_eq(g->vm.stop_message, "test poweroff");
	assert_log(g, want, sizeof(want));
	ck_assert_uint_eq(g->vm.vcpus[0].pio_unclaimed, 2);
	guest_free(g);
}
END_TEST

START_TEST(mmio_dispatch)
{
	static const uint8_t code[] = {
		0xb0, 0x77,			/* mov al, 0x77 */
		0x26, 0xa2, 0x10, 0x00,		/* mov es:[0x10], al   ; MMIO write */
		0x26, 0xa1, 0x20, 0x00,		/* mov ax, es:[0x20]   ; MMIO read */
		0xe6, 0xe0,			/* out 0xe0, al */
		0x88, 0xe0,			/* mov al, ah */
		0xe6, 0xe0,			/* out 0xe0, al */
		0x64, 0xa0, 0x00, 0x00,		/* mov al, fs:[0]      ; nobody: ff */
		0xe6, 0xe0,			/* out 0xe0, al */
		0xe6, 0xe2,			/* out 0xe2, al */
	};
	const uint8_t want[] = { mmio_pattern(0x20), mmio_pattern(0x21), 0xff };
	struct guest *g = guest_new(1);

	guest_load(g, code, sizeof(code));
	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	ck_assert_uint_eq(g->mmio_writes, 1);
	ck_assert_uint_eq(g->mmio_last_offset, 0x10);
	ck_assert_uint_eq(g->mmio_last_value, 0x77);
	assert_log(g, want, sizeof(want));
	ck_assert_uint_eq(g->vm.vcpus[0].mmio_unclaimed, 1);
	guest_free(g);
}
END_TEST

/* ---- recovery (emulate.c) ---- */

START_TEST(int3_protected_mode)
{
	static const uint8_t code[] = {
		0xb0, 0x01,		/* 1000: mov al, 1 */
		0xe6, 0xe0,		/* 1002: out 0xe0, al */
		0xcc,			/* 1004: int3          ; KVM gives up here */
		0xb0, 0x03,		/* 1005: mov al, 3     ; the handler returns here */
		0xe6, 0xe0,		/* 1007: out 0xe0, al */
		0xe6, 0xe2,		/* 1009: out 0xe2, al */
		/*
		 * The #BP handler. This KVM cannot emulate a protected-mode iret,
		 * so it returns by hand; logging the low byte of the pushed EIP
		 * shows the trap's return address is past the int3.
		 */
		[0x20] = 0xb0, 0xbb,	/* 1020: mov al, 0xbb */
		0xe6, 0xe0,		/* 1022: out 0xe0, al */
		0x58,			/* 1024: pop eax       ; return EIP */
		0xe6, 0xe0,		/* 1025: out 0xe0, al */
		0x83, 0xc4, 0x08,	/* 1027: add esp, 8    ; CS, EFLAGS */
		0xff, 0xe0,		/* 102a: jmp eax */
	};
	static const uint8_t want[] = { 1, 0xbb, 0x05, 3 };
	struct guest *g = guest_new(1);

	guest_load_pm(g, code, sizeof(code), 0x7ff);
	pm_set_gate(g, 3, PM_CODE + 0x20);
	ck_assert_msg(guest_run(g) == VM_POWEROFF, "%s", g->vm.stop_message);
	assert_log(g, want, sizeof(want));
	/* Hardware KVM emulates nothing here; this host needs the recovery. */
	fprintf(stderr, "int3: %llu instruction(s) recovered\n",
		(unsigned long long)g->vm.vcpus[0].recovered);
	guest_free(g);
}
END_TEST

START_TEST(int3_long_mode)
{
	static const uint8_t code[] = {
		0xb0, 0x01,		/* 1000: mov al, 1 */
		0xe6, 0xe0,		/* 1002: out 0xe0, al */
		0xcc,			/* 1004: int3 */
		0xb0, 0x03,		/* 1005: mov al, 3 */
		0xe6, 0xe0,		/* 1007: out 0xe0, al */
		0xe6, 0xe2,		/* 1009: out 0xe2, al */
		[0x20] = 0xb0, 0xbb,	/* 1020: mov al, 0xbb  ; #BP handler */
		0xe6, 0xe0,		/* 1022: out 0xe0, al */
		0x8a, 0x04, 0x24,	/* 1024: mov al, [rsp] ; return RIP, low byte */
		0xe6, 0xe0,		/* 1027: out 0xe0, al */
		0x48, 0xcf,		/* 1029: iretq (this KVM emulates it in 64-bit mode) */
	};
	static const uint8_t want[] = { 1, 0xbb, 0x05, 3 };
	struct guest *g = guest_new(1);

	guest_load_lm(g, code, sizeof(code));
	lm_set_gate(g, 3, PM_CODE + 0x20);
	ck_assert_msg(guest_run(g) == VM_POWEROFF, "%s", g->vm.stop_message);
	assert_log(g, want, sizeof(want));
	guest_free(g);
}
END_TEST

/* popcnt in its register forms: 64-bit, 32-bit with a zero source (ZF), extended registers. */
START_TEST(popcnt_long_mode)
{
	static const uint8_t code[] = {
		0x48, 0xc7, 0xc7, 0xf0, 0xf0, 0x00, 0x00,	/* mov rdi, 0xf0f0 */
		0xf3, 0x48, 0x0f, 0xb8, 0xc7,			/* popcnt rax, rdi */
		0xe6, 0xe0,					/* out 0xe0, al    ; 8 */
		0x31, 0xc9,					/* xor ecx, ecx */
		0xb8, 0xff, 0xff, 0xff, 0xff,			/* mov eax, -1 */
		0xf3, 0x0f, 0xb8, 0xc1,				/* popcnt eax, ecx */
		0x0f, 0x94, 0xc0,				/* setz al         ; 1 */
		0xe6, 0xe0,					/* out 0xe0, al */
		0x49, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff,	/* mov r8, -1 */
		0xf3, 0x4d, 0x0f, 0xb8, 0xc8,			/* popcnt r9, r8 */
		0x4c, 0x89, 0xc8,				/* mov rax, r9     ; 64 */
		0xe6, 0xe0,					/* out 0xe0, al */
		0xe6, 0xe2,					/* out 0xe2, al    ; power off */
	};
	static const uint8_t want[] = { 8, 1, 64 };
	struct guest *g = guest_new(1);

	guest_load_lm(g, code, sizeof(code));
	ck_assert_msg(guest_run(g) == VM_POWEROFF, "%s", g->vm.stop_message);
	assert_log(g, want, sizeof(want));
	guest_free(g);
}
END_TEST

/* A handler at CS:0x20 that logs @marker and returns past a one-byte instruction. */
static const uint8_t skip_handler[] = {
	0xb0, 0xee,		/* 0020: mov al, 0xee */
	0xe6, 0xe0,		/* 0022: out 0xe0, al */
	0x5b,			/* 0024: pop bx        ; the faulting IP */
	0x43,			/* 0025: inc bx        ; past the fwait */
	0x53,			/* 0026: push bx */
	0xcf,			/* 0027: iret */
};

static const uint8_t fwait_code[0x28] = {
	0xb0, 0x01,		/* mov al, 1 */
	0xe6, 0xe0,		/* out 0xe0, al */
	0x9b,			/* fwait */
	0xb0, 0x03,		/* mov al, 3 */
	0xe6, 0xe0,		/* out 0xe0, al */
	0xe6, 0xe2,		/* out 0xe2, al */
};

static struct guest *fwait_guest(uint16_t fsw, uint64_t cr0_set)
{
	struct guest *g = guest_new(1);
	uint8_t code[sizeof(fwait_code)];
	struct kvm_fpu fpu;
	struct kvm_sregs s;
	int fd = g->vm.vcpus[0].fd;

	memcpy(code, fwait_code, sizeof(code));
	memcpy(code + 0x20, skip_handler, sizeof(skip_handler));
	guest_load(g, code, sizeof(code));
	set_ivt(g, 7, 0x20);
	set_ivt(g, 16, 0x20);
	ck_assert_int_eq(ioctl(fd, KVM_GET_FPU, &fpu), 0);
	fpu.fsw = fsw;
	ck_assert_int_eq(ioctl(fd, KVM_SET_FPU, &fpu), 0);
	ck_assert_int_eq(ioctl(fd, KVM_GET_SREGS, &s), 0);
	s.cr0 |= cr0_set;
	ck_assert_int_eq(ioctl(fd, KVM_SET_SREGS, &s), 0);
	return g;
}

START_TEST(fwait_no_exception)
{
	static const uint8_t want[] = { 1, 3 };
	struct guest *g = fwait_guest(0, 0);

	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	assert_log(g, want, sizeof(want));
	/* Recovered here; hardware KVM runs it natively. */
	ck_assert_uint_le(g->vm.vcpus[0].recovered, 1);
	guest_free(g);
}
END_TEST

START_TEST(fwait_pending_x87_exception)
{
	static const uint8_t want[] = { 1, 0xee, 3 };
	/* FSW.ES with CR0.NE: #MF, whose handler steps over the fwait. */
	struct guest *g = fwait_guest(0x80 | 0x04, 1ULL << 5);

	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	assert_log(g, want, sizeof(want));
	guest_free(g);
}
END_TEST

START_TEST(fwait_task_switched)
{
	static const uint8_t want[] = { 1, 0xee, 3 };
	/* CR0.MP and CR0.TS: #NM. */
	struct guest *g = fwait_guest(0, (1ULL << 1) | (1ULL << 3));

	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	assert_log(g, want, sizeof(want));
	guest_free(g);
}
END_TEST

static bool host_has_smap(void)
{
	unsigned int a, b, c, d;

	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	return b & (1U << 20);
}

START_TEST(clac_stac)
{
	static const uint8_t code[] = {
		0x0f, 0x01, 0xca,		/* clac */
		0x66, 0x9c,			/* pushfd */
		0x66, 0x58,			/* pop eax */
		0x66, 0xc1, 0xe8, 0x10,		/* shr eax, 16         ; AC is now bit 2 */
		0xe6, 0xe0,			/* out 0xe0, al */
		0x0f, 0x01, 0xcb,		/* stac */
		0x66, 0x9c,			/* pushfd */
		0x66, 0x58,			/* pop eax */
		0x66, 0xc1, 0xe8, 0x10,		/* shr eax, 16 */
		0xe6, 0xe0,			/* out 0xe0, al */
		0xe6, 0xe2,			/* out 0xe2, al */
	};
	static const uint8_t want[] = { 0x00, 0x04 };
	struct guest *g = guest_new(1);
	struct kvm_regs r;
	int fd = g->vm.vcpus[0].fd;

	if (!host_has_smap()) {
		guest_free(g);
		return;	/* #UD then; nothing to show without an IVT handler */
	}
	guest_load(g, code, sizeof(code));
	ck_assert_int_eq(ioctl(fd, KVM_GET_REGS, &r), 0);
	r.rflags |= 1ULL << 18;	/* start with AC set */
	ck_assert_int_eq(ioctl(fd, KVM_SET_REGS, &r), 0);
	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	assert_log(g, want, sizeof(want));
	guest_free(g);
}
END_TEST

START_TEST(unrecoverable_reported)
{
	static const uint8_t code[] = {
		0xb0, 0x01,		/* mov al, 1 */
		0xe6, 0xe0,		/* out 0xe0, al */
		0x0f, 0xae, 0x2f,	/* xrstor [bx]         ; KVM and emulate.c give up */
		0xe6, 0xe2,		/* out 0xe2, al */
	};
	struct guest *g = guest_new(1);

	guest_load(g, code, sizeof(code));
	ck_assert_int_eq(guest_run(g), VM_INTERNAL_ERROR);
	ck_assert_uint_eq(g->nlog, 1);
	fprintf(stderr, "report: %s\n", g->vm.stop_message);
	ck_assert_ptr_nonnull(strstr(g->vm.stop_message, "internal error 1"));
	ck_assert_ptr_nonnull(strstr(g->vm.stop_message, "RIP=0x4 "));
	ck_assert_ptr_nonnull(strstr(g->vm.stop_message, "CS=0x100 base 0x1000"));
	ck_assert_ptr_nonnull(strstr(g->vm.stop_message, "bytes at RIP: 0f ae 2f e6 e2"));
	guest_free(g);
}
END_TEST

START_TEST(triple_fault)
{
	static const uint8_t code[] = {
		0x0f, 0x0b,		/* ud2: #UD, no IDT -> #GP -> #DF -> shutdown */
		0xe6, 0xe2,		/* out 0xe2, al */
	};
	struct guest *g = guest_new(1);

	guest_load_pm(g, code, sizeof(code), 0);
	ck_assert_int_eq(guest_run(g), VM_SHUTDOWN);
	ck_assert_ptr_nonnull(strstr(g->vm.stop_message, "triple fault"));
	guest_free(g);
}
END_TEST

/* ---- stopping ---- */

START_TEST(second_vcpu_waits_for_sipi)
{
	static const uint8_t code[] = { 0xe6, 0xe2 };	/* out 0xe2, al */
	struct guest *g = guest_new(2);
	struct kvm_mp_state mp;

	/*
	 * With the in-kernel LAPIC an AP starts "uninitialized": KVM_RUN blocks
	 * in the kernel until the guest's INIT (then SIPI) arrives.
	 */
	ck_assert_int_eq(ioctl(g->vm.vcpus[1].fd, KVM_GET_MP_STATE, &mp), 0);
	ck_assert_uint_eq(mp.mp_state, KVM_MP_STATE_UNINITIALIZED);
	ck_assert_int_eq(ioctl(g->vm.vcpus[0].fd, KVM_GET_MP_STATE, &mp), 0);
	ck_assert_uint_eq(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	guest_load(g, code, sizeof(code));
	/* vm_run only returns if the poweroff kicks vCPU 1 out of its wait. */
	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	ck_assert_uint_eq(g->vm.vcpus[1].exits, 0);
	guest_free(g);
}
END_TEST

struct stopper {
	struct vm *vm;
	useconds_t delay;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;

	usleep(s->delay);
	vm_request_stop(s->vm, VM_STOPPED, "stopped by %s", "the test");
	/* Later requests do not overwrite the first. */
	vm_request_stop(s->vm, VM_HOST_ERROR, "too late");
	return NULL;
}

static void check_external_stop(const uint8_t *code, size_t len)
{
	struct guest *g = guest_new(2);
	struct stopper s = { &g->vm, 200 * 1000 };
	pthread_t t;
	double t0;

	guest_load(g, code, len);
	ck_assert_int_eq(pthread_create(&t, NULL, stop_later, &s), 0);
	t0 = now();
	ck_assert_int_eq(guest_run(g), VM_STOPPED);
	ck_assert_double_lt(now() - t0, 5.0);
	pthread_join(t, NULL);
	ck_assert_str_eq(g->vm.stop_message, "stopped by the test");
	guest_free(g);
}

START_TEST(stop_spinning_guest)
{
	static const uint8_t code[] = { 0xeb, 0xfe };	/* jmp $ */

	check_external_stop(code, sizeof(code));
}
END_TEST

START_TEST(stop_halted_guest)
{
	static const uint8_t code[] = { 0xfa, 0xf4, 0xeb, 0xfd };	/* cli; hlt; jmp hlt */

	check_external_stop(code, sizeof(code));
}
END_TEST

START_TEST(stop_before_run)
{
	struct guest *g = guest_new(1);

	vm_request_stop(&g->vm, VM_STOPPED, "early");
	ck_assert_int_eq(vm_run(&g->vm), VM_STOPPED);
	ck_assert_uint_eq(g->vm.vcpus[0].exits, 0);
	guest_free(g);
}
END_TEST

/* ---- creation ---- */

static void expect_create_error(unsigned int ncpus, uint64_t ram, const char *msg)
{
	struct vm_config cfg = { .ncpus = ncpus, .ram_size = ram };
	struct vm vm;
	char err[256] = "";

	ck_assert_int_eq(vm_create(&vm, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, msg), "'%s' does not say '%s'", err, msg);
	vm_destroy(&vm);	/* twice is harmless */
}

START_TEST(create_errors)
{
	expect_create_error(0, 64 << 20, "bad CPU count");
	expect_create_error(MACHINE_MAX_CPUS + 1, 64 << 20, "bad CPU count");
	expect_create_error(1, 1 << 20, "too little memory");
	expect_create_error(1, 1ULL << 40, "less than 1 TiB");
	expect_create_error(1, (64 << 20) + 1, "4 KiB pages");
}
END_TEST

START_TEST(destroy_zeroed)
{
	struct vm vm;

	memset(&vm, 0, sizeof(vm));
	vm_destroy(&vm);
	/* fd 0 of a zeroed struct vm is stdin, never a KVM descriptor. */
	ck_assert_int_ne(fcntl(0, F_GETFD), -1);
}
END_TEST

START_TEST(guest_memory_bounds)
{
	struct vm_config cfg = { .ncpus = 1, .ram_size = MACHINE_HOLE_START + (64 << 20) };
	struct vm vm;
	char err[256];

	if (vm_create(&vm, &cfg, err, sizeof(err)))
		ck_abort_msg("vm_create: %s", err);
	ck_assert_uint_eq(vm.nmem, 2);
	ck_assert_ptr_eq(vm_gpa(&vm, 0, 16), vm.mem[0].host);
	ck_assert_ptr_nonnull(vm_gpa(&vm, MACHINE_HOLE_START - 4, 4));
	ck_assert_ptr_null(vm_gpa(&vm, MACHINE_HOLE_START - 4, 5));	/* straddles the hole */
	ck_assert_ptr_null(vm_gpa(&vm, MACHINE_HOLE_START, 1));
	ck_assert_ptr_null(vm_gpa(&vm, MACHINE_LAPIC_BASE, 4));
	ck_assert_ptr_eq(vm_gpa(&vm, MACHINE_HOLE_END, 8), vm.mem[1].host);
	ck_assert_ptr_nonnull(vm_gpa(&vm, MACHINE_HOLE_END + (64 << 20) - 1, 1));
	ck_assert_ptr_null(vm_gpa(&vm, MACHINE_HOLE_END + (64 << 20), 1));
	ck_assert_ptr_null(vm_gpa(&vm, UINT64_MAX, 2));			/* would wrap */
	ck_assert_ptr_null(vm_gpa(&vm, 16, SIZE_MAX));
	ck_assert_ptr_null(vm_gpa(&vm, MACHINE_HOLE_END + 8, UINT64_MAX - 4));
	vm_destroy(&vm);
}
END_TEST

/* ---- device memory: memslots of their own (vm_map_device_memory) ---- */

static uint8_t *device_pages(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

START_TEST(device_memory)
{
	static const uint8_t code[] = {
		0xb0, 0x77,			/* mov al, 0x77 */
		0x64, 0xa2, 0x10, 0x00,		/* mov fs:[0x10], al   ; first page */
		0x64, 0xa0, 0x08, 0x10,		/* mov al, fs:[0x1008] ; second page */
		0xe6, 0xe0,			/* out 0xe0, al */
		0xe6, 0xe2,			/* out 0xe2, al */
	};
	static const uint8_t mapped[] = { 0xc5 }, unmapped[] = { 0xff };
	struct guest *g = guest_new(1);
	uint8_t *mem = device_pages(0x2000);
	int slot;

	mem[0x1008] = 0xc5;
	slot = vm_map_device_memory(&g->vm, UNCLAIMED_MMIO, 0x2000, mem);
	ck_assert_int_ge(slot, VM_RAM_SLOTS);
	ck_assert_uint_eq(g->vm.device_slots[slot - VM_RAM_SLOTS].gpa, UNCLAIMED_MMIO);
	ck_assert_uint_eq(g->vm.device_slots[slot - VM_RAM_SLOTS].size, 0x2000);
	ck_assert_ptr_eq(g->vm.device_slots[slot - VM_RAM_SLOTS].host, mem);
	/* Never RAM to the VMM: guest-chosen addresses cannot reach it. */
	ck_assert_ptr_null(vm_gpa(&g->vm, UNCLAIMED_MMIO, 4));
	ck_assert_ptr_null(vm_gpa(&g->vm, UNCLAIMED_MMIO + 0x1000, 1));
	guest_load(g, code, sizeof(code));
	ck_assert_msg(guest_run(g) == VM_POWEROFF, "%s", g->vm.stop_message);
	ck_assert_uint_eq(mem[0x10], 0x77);
	assert_log(g, mapped, sizeof(mapped));
	ck_assert_uint_eq(g->vm.vcpus[0].mmio_unclaimed, 0);
	guest_free(g);

	/* Mapped and removed again: the accesses exit, and nothing takes them. */
	mem[0x10] = 0;
	g = guest_new(1);
	slot = vm_map_device_memory(&g->vm, UNCLAIMED_MMIO, 0x2000, mem);
	ck_assert_int_ge(slot, VM_RAM_SLOTS);
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, slot), 0);
	ck_assert_uint_eq(g->vm.device_slots[slot - VM_RAM_SLOTS].size, 0);
	guest_load(g, code, sizeof(code));
	ck_assert_msg(guest_run(g) == VM_POWEROFF, "%s", g->vm.stop_message);
	ck_assert_uint_eq(mem[0x10], 0);
	assert_log(g, unmapped, sizeof(unmapped));
	ck_assert_uint_eq(g->vm.vcpus[0].mmio_unclaimed, 2);
	guest_free(g);
	munmap(mem, 0x2000);
}
END_TEST

static void expect_map_error(struct vm *vm, uint64_t gpa, uint64_t size, void *host, int err)
{
	errno = 0;
	ck_assert_int_eq(vm_map_device_memory(vm, gpa, size, host), -1);
	ck_assert_int_eq(errno, err);
}

START_TEST(device_memory_errors)
{
	struct guest *g = guest_new(1);
	uint8_t *mem = device_pages(0x2000);
	int first, slot[VM_DEVICE_SLOTS];

	expect_map_error(&g->vm, 0x100000, 0x1000, mem, EEXIST);	/* RAM */
	expect_map_error(&g->vm, UNCLAIMED_MMIO + 0x800, 0x1000, mem, EINVAL);
	expect_map_error(&g->vm, UNCLAIMED_MMIO, 0x800, mem, EINVAL);
	expect_map_error(&g->vm, UNCLAIMED_MMIO, 0, mem, EINVAL);
	expect_map_error(&g->vm, UNCLAIMED_MMIO, 0x1000, mem + 1, EINVAL);
	expect_map_error(&g->vm, ~0xfffULL, 0x2000, mem, EINVAL);	/* wraps */

	/* Every slot once, none twice, none over another. */
	for (int i = 0; i < VM_DEVICE_SLOTS; i++) {
		slot[i] = vm_map_device_memory(&g->vm, UNCLAIMED_MMIO + 0x1000 * (uint64_t)i,
					       0x1000, mem);
		ck_assert_int_ge(slot[i], VM_RAM_SLOTS);
		ck_assert_int_lt(slot[i], VM_RAM_SLOTS + VM_DEVICE_SLOTS);
		for (int j = 0; j < i; j++)
			ck_assert_int_ne(slot[i], slot[j]);
	}
	expect_map_error(&g->vm, UNCLAIMED_MMIO + 0x800000, 0x1000, mem, ENOSPC);
	first = slot[0];
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, first), 0);
	expect_map_error(&g->vm, UNCLAIMED_MMIO + 0x1000, 0x2000, mem, EEXIST);
	ck_assert_int_eq(vm_map_device_memory(&g->vm, UNCLAIMED_MMIO, 0x1000, mem + 0x1000), first);

	/* Only device slots go. */
	errno = 0;
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, VM_RAM_SLOTS + VM_DEVICE_SLOTS), -1);
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, first), 0);
	ck_assert_int_eq(vm_unmap_device_memory(&g->vm, first), -1);
	ck_assert_ptr_nonnull(vm_gpa(&g->vm, 0x100000, 4));	/* RAM untouched */
	guest_free(g);
	munmap(mem, 0x2000);
}
END_TEST

/* ---- cost of an exit (printed, for the record) ---- */

#define EXIT_LOOPS	20000

static double time_loop(const uint8_t *code, size_t len)
{
	struct guest *g = guest_new(1);
	double t0, dt;

	guest_load(g, code, len);
	t0 = now();
	ck_assert_int_eq(guest_run(g), VM_POWEROFF);
	dt = now() - t0;
	ck_assert_msg(g->count == EXIT_LOOPS || g->count == 0, "count %llu",
		      (unsigned long long)g->count);
	guest_free(g);
	return dt;
}

START_TEST(exit_cost)
{
	static const uint8_t pio[] = {
		0xb9, EXIT_LOOPS & 0xff, EXIT_LOOPS >> 8,	/* mov cx, N */
		0xe6, 0xe4,					/* 1: out 0xe4, al */
		0xe2, 0xfc,					/* loop 1b */
		0xe6, 0xe2,					/* out 0xe2, al */
	};
	static const uint8_t pio_base[] = {
		0xb9, EXIT_LOOPS & 0xff, EXIT_LOOPS >> 8,	/* mov cx, N */
		0x90, 0x90,					/* 1: nop; nop */
		0xe2, 0xfc,					/* loop 1b */
		0xe6, 0xe2,					/* out 0xe2, al */
	};
	static const uint8_t mmio[] = {
		0xb9, EXIT_LOOPS & 0xff, EXIT_LOOPS >> 8,	/* mov cx, N */
		0x26, 0xa2, 0x00, 0x04,				/* 1: mov es:[0x400], al */
		0xe2, 0xfa,					/* loop 1b */
		0xe6, 0xe2,					/* out 0xe2, al */
	};
	static const uint8_t mmio_base[] = {
		0xb9, EXIT_LOOPS & 0xff, EXIT_LOOPS >> 8,	/* mov cx, N */
		0x90, 0x90, 0x90, 0x90,				/* 1: 4 x nop */
		0xe2, 0xfa,					/* loop 1b */
		0xe6, 0xe2,					/* out 0xe2, al */
	};
	double p = time_loop(pio, sizeof(pio)), pb = time_loop(pio_base, sizeof(pio_base));
	double m = time_loop(mmio, sizeof(mmio)), mb = time_loop(mmio_base, sizeof(mmio_base));

	fprintf(stderr, "exit cost over %d loops: PIO %.2f us (loop alone %.2f us), "
		"MMIO %.2f us (loop alone %.2f us)\n", EXIT_LOOPS, p / EXIT_LOOPS * 1e6,
		pb / EXIT_LOOPS * 1e6, m / EXIT_LOOPS * 1e6, mb / EXIT_LOOPS * 1e6);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm");
	TCase *tc = tcase_create("kvm");

	/* Skip only without KVM at all: a /dev/kvm that fails to open is a failure. */
	if (access("/dev/kvm", F_OK))
		return 77;
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pio_dispatch);
	tcase_add_test(tc, mmio_dispatch);
	tcase_add_test(tc, int3_protected_mode);
	tcase_add_test(tc, int3_long_mode);
	tcase_add_test(tc, popcnt_long_mode);
	tcase_add_test(tc, fwait_no_exception);
	tcase_add_test(tc, fwait_pending_x87_exception);
	tcase_add_test(tc, fwait_task_switched);
	tcase_add_test(tc, clac_stac);
	tcase_add_test(tc, unrecoverable_reported);
	tcase_add_test(tc, triple_fault);
	tcase_add_test(tc, second_vcpu_waits_for_sipi);
	tcase_add_test(tc, stop_spinning_guest);
	tcase_add_test(tc, stop_halted_guest);
	tcase_add_test(tc, stop_before_run);
	tcase_add_test(tc, create_errors);
	tcase_add_test(tc, destroy_zeroed);
	tcase_add_test(tc, guest_memory_bounds);
	tcase_add_test(tc, device_memory);
	tcase_add_test(tc, device_memory_errors);
	tcase_add_test(tc, exit_cost);
	suite_add_tcase(s, tc);
	return check_run(s);
}
