// SPDX-License-Identifier: MIT
/*
 * The KVM core against real KVM (harness: kvm_guest.h): PIO and MMIO
 * dispatch, stopping vCPUs, VM creation, guest memory bounds, device
 * memory in memslots of its own (vm_map_device_memory()), and the cost of
 * an exit. The emulator recoveries are in check_emulate.c.
 * Skips (77) only when /dev/kvm does not exist.
 */
#include "kvm_guest.h"

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
