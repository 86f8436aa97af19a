// SPDX-License-Identifier: MIT
/*
 * The emulator recoveries (vmm/emulate.c) against real KVM, with the
 * harness of kvm_guest.h: instructions this host's software KVM cannot
 * emulate (int3, popcnt, fwait, clac/stac) recovered exactly, and what is
 * not recoverable reported rather than looped on.
 * Skips (77) only when /dev/kvm does not exist.
 */
#include "kvm_guest.h"

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

int main(void)
{
	Suite *s = suite_create("emulate");
	TCase *tc = tcase_create("emulate");

	tcase_add_test(tc, int3_protected_mode);
	tcase_add_test(tc, int3_long_mode);
	tcase_add_test(tc, popcnt_long_mode);
	tcase_add_test(tc, fwait_no_exception);
	tcase_add_test(tc, fwait_pending_x87_exception);
	tcase_add_test(tc, fwait_task_switched);
	tcase_add_test(tc, clac_stac);
	tcase_add_test(tc, unrecoverable_reported);
	tcase_add_test(tc, triple_fault);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return kvm_guest_run_suite(s);
}
