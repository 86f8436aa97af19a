// SPDX-License-Identifier: MIT
/*
 * BAR mmap in vfio-pci.c, against real KVM: the fake device of
 * vfio_pci_fake.h (its mmaps are anonymous shared memory) on a VM with
 * memslots and a vCPU. The vCPU runs flat 32-bit code that touches the
 * BARs, programs config space through ECAM as a guest would, and reports
 * what it read on port 0xe0; port 0xe2 powers off. Also: memslots KVM
 * refuses to remove (the VM fd taken away for a while), memslots run out,
 * and two vCPUs' command register writes interleaved.
 *
 * The device: BAR0 64-bit 64 KiB, mmappable, with the device's MSI-X
 * table at 0x8000 and PBA at 0x9000; BAR2 32-bit 16 KiB whose sparse mmap
 * areas are 0x1000 (+0x1000) and 0x2800 (+0x1800, so whole pages from
 * 0x3000); BAR3 4 KiB without FLAG_MMAP; BAR4 2 KiB, mmappable but less
 * than a page; BAR5 left for the guest's MSI-X table. No INTx, so the
 * fake host_ops sees no KVM ioctl (the VM fd is real).
 *
 * Skips (77) only when /dev/kvm does not exist.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "check_main.h"
#include "pci_testutil.h"
#include "vfio_pci_fake.h"

#define GUEST_BDF	BDF(3, 0)
#define TEST_PORT	0xe0
#define GDT_ADDR	0x500
#define CODE_ADDR	0x1000
#define STACK_TOP	0x8000
#define MOVED_BAR0	0xc0100000u

static struct vfio_pci *vp;
static uint8_t port_log[64];
static size_t nlog;
static uint64_t bar0, bar2, bar3, bar4;

static void test_port(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		      bool is_write)
{
	(void)opaque;
	if (offset == 0 && is_write && nlog < sizeof(port_log))
		port_log[nlog++] = data[0];
	else if (offset == 2 && is_write)
		vm_request_stop(&vm, VM_POWEROFF, "test poweroff");
	else if (!is_write)
		memset(data, 0, len);
}

static void make_mmap_device(void)
{
	memset(devcfg + 0x10, 0, 0x24);
	put32(devcfg + 0x10, 0xc);			/* 64-bit, prefetchable */
	devcfg[0x34] = 0x40;
	memset(devcfg + 0x40, 0, 0xc0);
	devcfg[0x40] = 0x11;				/* MSI-X, the only capability */
	put16(devcfg + 0x42, 15);
	put32(devcfg + 0x44, 0x8000 | 0);		/* table: BAR0 + 0x8000 */
	put32(devcfg + 0x48, 0x9000 | 0);		/* PBA: BAR0 + 0x9000 */
	memset(devcfg + 0x100, 0, PCI_CFG_SIZE - 0x100);

	memset(region, 0, sizeof(region));
	region[0] = (struct fake_region){ .size = 0x10000, .offset = REGION_OFF(0), .flags = 7 };
	region[2] = (struct fake_region){ .size = 0x4000, .offset = REGION_OFF(2), .flags = 7,
					  .nsparse = 2,
					  .sparse = { { 0x1000, 0x1000 }, { 0x2800, 0x1800 } } };
	region[3] = (struct fake_region){ .size = 0x1000, .offset = REGION_OFF(3), .flags = 3 };
	region[4] = (struct fake_region){ .size = 0x800, .offset = REGION_OFF(4), .flags = 7 };
	region[7] = (struct fake_region){ .size = PCI_CFG_SIZE, .offset = CFG_OFF, .flags = 3 };
	irq_count[0] = 0;
	irq_count[1] = 0;
	irq_count[2] = 16;
}

static void ksetup(void)
{
	struct vm_config cfg = { .ncpus = 1, .ram_size = 16ULL << 20 };
	char err[256];

	if (vm_create(&vm, &cfg, err, sizeof(err)))
		ck_abort_msg("vm_create: %s", err);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	ck_assert_int_eq(bus_register(&vm.pio, TEST_PORT, 16, test_port, NULL, "test"), 0);
	fake_host_new();
	make_mmap_device();
	nlog = 0;
	vp = NULL;
}

static void kteardown(void)
{
	vfio_pci_destroy(vp);
	vp = NULL;
	fake_hostops_free(fake);
	vm_destroy(&vm);
}

static uint32_t gcfg(unsigned int off, unsigned int len)
{
	return cfg_read(GUEST_BDF, off, len);
}

static void create(void)
{
	char err[256] = "";

	vp = vfio_pci_create(&vm, &ops, devfd, GUEST_BDF, err, sizeof(err));
	ck_assert_msg(vp, "%s", err);
	bar0 = gcfg(0x10, 4) & ~0xfu;
	bar2 = gcfg(0x18, 4) & ~0xfu;
	bar3 = gcfg(0x1c, 4) & ~0xfu;
	bar4 = gcfg(0x20, 4) & ~0xfu;
	ck_assert_uint_eq(gcfg(0x14, 4), 0);
	ck_assert(bar0 && bar2 && bar3 && bar4);
}

static unsigned int slots_used(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < VM_DEVICE_SLOTS; i++)
		n += vm.device_slots[i].size != 0;
	return n;
}

/* The device memory at guest address @gpa must be @size bytes of the device's mmap at @off. */
static void assert_slot(uint64_t gpa, uint64_t size, uint64_t off)
{
	const struct fake_map *m = map_at(off);

	ck_assert_msg(m, "no mmap at device offset %#llx", (unsigned long long)off);
	for (unsigned int i = 0; i < VM_DEVICE_SLOTS; i++) {
		const struct vm_device_slot *s = &vm.device_slots[i];

		if (s->size && s->gpa == gpa) {
			ck_assert_uint_eq(s->size, size);
			ck_assert_ptr_eq(s->host, m->p);
			ck_assert_ptr_null(vm_gpa(&vm, gpa, 1));
			return;
		}
	}
	ck_abort_msg("no memslot at %#llx", (unsigned long long)gpa);
}

static void assert_no_slot(uint64_t gpa)
{
	for (unsigned int i = 0; i < VM_DEVICE_SLOTS; i++)
		ck_assert(!vm.device_slots[i].size || vm.device_slots[i].gpa != gpa);
}

/* What a fully decoded function must have in memslots. */
static void assert_all_slots(uint64_t at0)
{
	ck_assert_uint_eq(slots_used(), 4);
	assert_slot(at0, 0x8000, REGION_OFF(0));
	assert_slot(at0 + 0xa000, 0x6000, REGION_OFF(0) + 0xa000);
	assert_slot(bar2 + 0x1000, 0x1000, REGION_OFF(2) + 0x1000);
	assert_slot(bar2 + 0x3000, 0x1000, REGION_OFF(2) + 0x3000);
}

/* Destroy: no memslot left, every mmap unmapped. */
static void destroy_releases_all(void)
{
	vfio_pci_destroy(vp);
	vp = NULL;
	ck_assert_uint_eq(slots_used(), 0);
	for (unsigned int i = 0; i < nmaps; i++)
		ck_assert(maps[i].unmapped);
}

START_TEST(test_slots_follow_the_bar)
{
	create();
	/* mmapped at create, in whole pages, never the MSI-X pages; nothing in a slot yet. */
	ck_assert_uint_eq(nmaps, 4);
	ck_assert_uint_eq(map_at(REGION_OFF(0))->len, 0x8000);
	ck_assert_uint_eq(map_at(REGION_OFF(0) + 0xa000)->len, 0x6000);
	ck_assert_uint_eq(map_at(REGION_OFF(2) + 0x1000)->len, 0x1000);
	ck_assert_uint_eq(map_at(REGION_OFF(2) + 0x3000)->len, 0x1000);
	ck_assert_uint_eq(slots_used(), 0);

	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	assert_all_slots(bar0);

	/* The guest moves BAR0: its slots move, BAR2's stay. */
	cfg_write(GUEST_BDF, 0x10, 4, MOVED_BAR0);
	assert_all_slots(MOVED_BAR0);
	assert_no_slot(bar0);
	assert_no_slot(bar0 + 0xa000);

	/* Onto BAR2: the bridge refuses it, and it has no slots either. */
	cfg_write(GUEST_BDF, 0x10, 4, (uint32_t)bar2);
	ck_assert_uint_eq(slots_used(), 2);
	assert_slot(bar2 + 0x1000, 0x1000, REGION_OFF(2) + 0x1000);
	cfg_write(GUEST_BDF, 0x10, 4, MOVED_BAR0);
	assert_all_slots(MOVED_BAR0);

	/* Memory decoding off and on again. */
	cfg_write(GUEST_BDF, 0x04, 2, 0x0000);
	ck_assert_uint_eq(slots_used(), 0);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	assert_all_slots(MOVED_BAR0);

	/* Destroy: the slots, then the mmaps. */
	destroy_releases_all();
}
END_TEST

START_TEST(test_mmap_failure_traps)
{
	mmap_fails_at = REGION_OFF(2) + 0x1000;
	create();
	ck_assert_uint_eq(nmaps, 3);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	ck_assert_uint_eq(slots_used(), 3);
	assert_no_slot(bar2 + 0x1000);
	assert_slot(bar2 + 0x3000, 0x1000, REGION_OFF(2) + 0x3000);
	/* That area is trapped like the rest. */
	nrws = 0;
	bus_write(&vm.mmio, bar2 + 0x1010, 4, 0x12345678);
	ck_assert_uint_eq(nrws, 1);
	ck_assert(rws[0].write);
	ck_assert_uint_eq(rws[0].off, REGION_OFF(2) + 0x1010);
}
END_TEST

/* ---- the guest ---- */

struct code {
	uint8_t b[512];
	size_t n;
};

static void emit(struct code *c, const uint8_t *p, size_t n)
{
	ck_assert_uint_le(c->n + n, sizeof(c->b));
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

static void emit32(struct code *c, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	emit(c, b, 4);
}

/* mov byte [addr], v */
static void st8(struct code *c, uint64_t addr, uint8_t v)
{
	emit(c, (const uint8_t[]){ 0xc6, 0x05 }, 2);
	emit32(c, (uint32_t)addr);
	emit(c, &v, 1);
}

/* mov word [addr], v */
static void st16(struct code *c, uint64_t addr, uint16_t v)
{
	emit(c, (const uint8_t[]){ 0x66, 0xc7, 0x05 }, 3);
	emit32(c, (uint32_t)addr);
	emit(c, (const uint8_t[]){ (uint8_t)v, (uint8_t)(v >> 8) }, 2);
}

/* mov dword [addr], v */
static void st32(struct code *c, uint64_t addr, uint32_t v)
{
	emit(c, (const uint8_t[]){ 0xc7, 0x05 }, 2);
	emit32(c, (uint32_t)addr);
	emit32(c, v);
}

/* mov al, [addr]; out 0xe0, al */
static void report(struct code *c, uint64_t addr)
{
	emit(c, (const uint8_t[]){ 0xa0 }, 1);
	emit32(c, (uint32_t)addr);
	emit(c, (const uint8_t[]){ 0xe6, TEST_PORT }, 2);
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .selector = sel, .base = 0, .limit = 0xffffffff,
				   .type = type, .present = 1, .s = 1, .db = 1, .g = 1 };
}

/* Run @c (then power off) on vCPU 0 in flat 32-bit protected mode. */
static void run_guest(struct code *c)
{
	static const uint64_t gdt[] = { 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };
	struct vcpu *v = &vm.vcpus[0];
	struct kvm_regs r = { .rip = CODE_ADDR, .rsp = STACK_TOP, .rflags = 2 };
	struct kvm_sregs s;

	emit(c, (const uint8_t[]){ 0xe6, TEST_PORT + 2 }, 2);
	memcpy(vm_gpa(&vm, GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt));
	memcpy(vm_gpa(&vm, CODE_ADDR, c->n), c->b, c->n);
	ck_assert_int_eq(ioctl(v->fd, KVM_GET_SREGS, &s), 0);
	seg(&s.cs, 0x08, 11);
	seg(&s.ds, 0x10, 3);
	seg(&s.es, 0x10, 3);
	seg(&s.fs, 0x10, 3);
	seg(&s.gs, 0x10, 3);
	seg(&s.ss, 0x10, 3);
	s.gdt = (struct kvm_dtable){ .base = GDT_ADDR, .limit = sizeof(gdt) - 1 };
	s.cr0 = 0x11;	/* PE, ET */
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_SREGS, &s), 0);
	ck_assert_int_eq(ioctl(v->fd, KVM_SET_REGS, &r), 0);
	ck_assert_msg(vm_run(&vm) == VM_POWEROFF, "%s", vm.stop_message);
}

/* What the guest reported on port 0xe0 must be @want. */
static void assert_port_log(const uint8_t *want, size_t n)
{
	ck_assert_uint_eq(nlog, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(port_log[i] == want[i], "read %zu: %#x, want %#x", i, port_log[i],
			      want[i]);
}

static unsigned int slots_at_command[16], ncommand;
static uint16_t command[16];

/* Records each command register the device gets, and how many memslots existed then. */
static ssize_t watch_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	if ((uint64_t)off == CFG_OFF + 4 && ncommand < 16) {
		memcpy(&command[ncommand], buf, 2);
		slots_at_command[ncommand++] = slots_used();
	}
	return fake_pwrite(ctx, fd, buf, len, off);
}

/* The device never had Memory off while a memslot still mapped one of its BARs. */
static void assert_memory_while_slots(void)
{
	for (unsigned int i = 0; i < ncommand; i++)
		ck_assert_msg((command[i] & 0x2) || !slots_at_command[i],
			      "command %#x reached the device with %u memslots", command[i],
			      slots_at_command[i]);
}

static bool accessed(uint64_t off)
{
	for (unsigned int i = 0; i < nrws; i++)
		if (rws[i].off == off)
			return true;
	return false;
}

START_TEST(test_guest_accesses)
{
	uint64_t ecam_fn = ecam(GUEST_BDF, 0);
	struct code c = { .n = 0 };
	static const uint8_t want[] = {
		0xa5, 0x3c, 0xb6,		/* BAR0: mapped, MSI-X page trapped, mapped */
		0xc7, 0x3c, 0x3c,		/* BAR2: sparse area, between areas, before them */
		0x3c,				/* BAR4, smaller than a page: trapped */
		0xa5, 0xff,			/* BAR0 moved: same memory, none left */
		0xff,				/* decoding off */
	};
	uint8_t *b0, *b2a, *b2b;

	ops.pwrite = watch_pwrite;	/* ops outlives vp: fake_host_new() resets it */
	create();
	b0 = map_at(REGION_OFF(0))->p;
	b2a = map_at(REGION_OFF(2) + 0x1000)->p;
	b2b = map_at(REGION_OFF(2) + 0x3000)->p;
	b0[0x20] = 0xa5;
	((uint8_t *)map_at(REGION_OFF(0) + 0xa000)->p)[4] = 0xb6;
	b2b[4] = 0xc7;
	nrws = 0;

	st16(&c, ecam_fn + 0x04, 0x0002);		/* Memory Space on */
	st8(&c, bar0 + 0x10, 0x77);
	report(&c, bar0 + 0x20);
	report(&c, bar0 + 0x8000);
	st8(&c, bar0 + 0x8010, 0x99);
	report(&c, bar0 + 0xa004);
	st8(&c, bar2 + 0x1008, 0x55);
	report(&c, bar2 + 0x3004);
	report(&c, bar2 + 0x2800);
	report(&c, bar2);
	st8(&c, bar3 + 4, 0x44);
	report(&c, bar4 + 0x10);
	st32(&c, ecam_fn + 0x10, MOVED_BAR0);		/* the guest moves BAR0 */
	st8(&c, MOVED_BAR0 + 0x18, 0x78);
	report(&c, MOVED_BAR0 + 0x20);
	report(&c, bar0 + 0x20);
	st16(&c, ecam_fn + 0x04, 0x0000);		/* Memory Space off */
	report(&c, MOVED_BAR0 + 0x20);
	run_guest(&c);

	assert_port_log(want, sizeof(want));
	/* Writes to mapped pages landed in the device's memory, at either address. */
	ck_assert_uint_eq(b0[0x10], 0x77);
	ck_assert_uint_eq(b0[0x18], 0x78);
	ck_assert_uint_eq(b2a[8], 0x55);
	/* Exactly the trapped accesses reached pread/pwrite, besides the command register. */
	ck_assert(accessed(REGION_OFF(0) + 0x8000));
	ck_assert(accessed(REGION_OFF(0) + 0x8010));
	ck_assert(accessed(REGION_OFF(2) + 0x2800));
	ck_assert(accessed(REGION_OFF(2)));
	ck_assert(accessed(REGION_OFF(3) + 4));
	ck_assert(accessed(REGION_OFF(4) + 0x10));
	ck_assert_uint_eq(nrws, 6 + 2);
	ck_assert_uint_eq(vm.vcpus[0].mmio_unclaimed, 0);
	/* --stats counts those exits per BAR, beside what is mmapped. */
	char *stats = NULL;
	size_t stats_len = 0;
	FILE *f = open_memstream(&stats, &stats_len);

	vfio_pci_print_stats(vp, f);
	fclose(f);
	ck_assert_msg(strstr(stats, "BAR0: 65536 bytes, 57344 mmapped in 2 areas, 2 trapped accesses\n"),
		      "%s", stats);
	ck_assert_msg(strstr(stats, "BAR2: 16384 bytes, 8192 mmapped in 2 areas, 2 trapped accesses\n"),
		      "%s", stats);
	ck_assert_msg(strstr(stats, "BAR3: 4096 bytes, 0 mmapped in 0 areas, 1 trapped accesses\n"),
		      "%s", stats);
	ck_assert_msg(strstr(stats, "BAR4: 2048 bytes, 0 mmapped in 0 areas, 1 trapped accesses\n"),
		      "%s", stats);
	free(stats);
	/* Memory on reached the device before any slot, off after the last one went. */
	ck_assert_uint_eq(ncommand, 2);
	ck_assert_uint_eq(slots_at_command[0], 0);
	ck_assert_uint_eq(slots_at_command[1], 0);
	ck_assert_uint_eq(slots_used(), 0);
}
END_TEST

/* ---- memslots KVM keeps, memslots run out, vCPUs racing on the command register ---- */

/* An munmap of memory a memslot still maps would leave KVM using freed pages. */
static int watch_munmap(void *ctx, void *addr, size_t len)
{
	for (unsigned int i = 0; i < VM_DEVICE_SLOTS; i++) {
		const struct vm_device_slot *d = &vm.device_slots[i];

		ck_assert_msg(!d->size || (uint8_t *)d->host + d->size <= (uint8_t *)addr ||
			      (uint8_t *)addr + len <= (uint8_t *)d->host,
			      "munmap of %p, which memslot %u still maps", addr, VM_RAM_SLOTS + i);
	}
	return fake_munmap(ctx, addr, len);
}

/* The function decoding its BARs (Memory on), command writes and munmaps watched. */
static void create_decoding(void)
{
	ops.pwrite = watch_pwrite;
	ops.munmap = watch_munmap;
	create();
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	assert_all_slots(bar0);
}

static int vm_fd_kept = -1;

/* From here KVM refuses every memslot change (@refuses), or no longer does. */
static void kvm_refuses(bool refuses)
{
	if (refuses)
		vm_fd_kept = vm.vm_fd;
	vm.vm_fd = refuses ? -1 : vm_fd_kept;
}

START_TEST(test_command_race)
{
	struct pci_device *d;

	create_decoding();			/* vCPU 1's Memory on, all through */
	d = vfio_pci_device(vp);
	/*
	 * vCPU 0 writes Memory off: the framework has put it in config space,
	 * not yet removed the memslots, when vCPU 1's config_written hook
	 * for its Memory on runs. The device must keep Memory on.
	 */
	pthread_mutex_lock(&d->lock);
	d->cfg[0x04] = 0;
	pthread_mutex_unlock(&d->lock);
	d->ops->config_written(d, 0x04, 2);
	ck_assert_uint_eq(slots_used(), 4);
	assert_memory_while_slots();
	/* vCPU 0's remapping, then its hook: the memslots go, then Memory off. */
	cfg_write(GUEST_BDF, 0x04, 2, 0x0000);
	ck_assert_uint_eq(slots_used(), 0);
	assert_memory_while_slots();
	ck_assert_uint_eq(command[ncommand - 1], 0);
}
END_TEST

START_TEST(test_stuck_memslot_retried)
{
	create_decoding();
	/* The guest moves BAR0 while KVM refuses to remove memslots: BAR0's stay. */
	kvm_refuses(true);
	cfg_write(GUEST_BDF, 0x10, 4, MOVED_BAR0);
	kvm_refuses(false);
	ck_assert_uint_eq(slots_used(), 4);
	assert_slot(bar0, 0x8000, REGION_OFF(0));
	assert_no_slot(MOVED_BAR0);
	nrws = 0;
	ck_assert_uint_eq(bus_read(&vm.mmio, MOVED_BAR0 + 0x20, 1), 0x3c);	/* trapped */
	ck_assert(accessed(REGION_OFF(0) + 0x20));

	/* BAR2 moves where BAR0 was: the old memslots go first, so BAR2's memory is there. */
	cfg_write(GUEST_BDF, 0x18, 4, (uint32_t)bar0);
	ck_assert_uint_eq(slots_used(), 2);
	assert_slot(bar0 + 0x1000, 0x1000, REGION_OFF(2) + 0x1000);
	assert_slot(bar0 + 0x3000, 0x1000, REGION_OFF(2) + 0x3000);

	/* Decoding off and on again: every area in its memslot where its BAR is. */
	cfg_write(GUEST_BDF, 0x04, 2, 0x0000);
	ck_assert_uint_eq(slots_used(), 0);
	ck_assert_uint_eq(command[ncommand - 1], 0);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	ck_assert_uint_eq(slots_used(), 4);
	assert_slot(MOVED_BAR0, 0x8000, REGION_OFF(0));
	assert_slot(MOVED_BAR0 + 0xa000, 0x6000, REGION_OFF(0) + 0xa000);
	assert_slot(bar0 + 0x1000, 0x1000, REGION_OFF(2) + 0x1000);
	assert_memory_while_slots();
}
END_TEST

START_TEST(test_destroy_retries_memslots)
{
	create_decoding();
	/* Decoding off while KVM refuses: the memslots stay, and so does Memory in the device. */
	kvm_refuses(true);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0000);
	kvm_refuses(false);
	ck_assert_uint_eq(slots_used(), 4);
	assert_memory_while_slots();
	ck_assert(command[ncommand - 1] & 0x2);
	/* Destroy removes them (no BAR is decoded, so no bar_mapped does), then unmaps. */
	destroy_releases_all();
}
END_TEST

START_TEST(test_destroy_leaks_what_kvm_keeps)
{
	create_decoding();
	kvm_refuses(true);
	vfio_pci_destroy(vp);
	vp = NULL;
	kvm_refuses(false);
	/* KVM still maps every area: none is unmapped (vm_destroy drops the memslots). */
	ck_assert_uint_eq(slots_used(), 4);
	ck_assert_uint_eq(nmaps, 4);
	for (unsigned int i = 0; i < nmaps; i++)
		ck_assert(!maps[i].unmapped);
}
END_TEST

#define FILL_GPA	0x100000000ULL

START_TEST(test_out_of_memslots)
{
	static const uint8_t want[] = { 0xa5, 0x3c, 0x3c };
	struct code c = { .n = 0 };
	int slots[VM_DEVICE_SLOTS];
	unsigned int n;
	uint8_t *fill;

	/* Other device memory takes every memslot but one. */
	fill = mmap(NULL, VM_DEVICE_SLOTS * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	ck_assert_ptr_ne(fill, MAP_FAILED);
	for (n = 0; n < VM_DEVICE_SLOTS - 1; n++) {
		slots[n] = vm_map_device_memory(&vm, FILL_GPA + 4096ULL * n, 4096, fill + 4096 * n);
		ck_assert_int_ge(slots[n], 0);
	}
	create();
	((uint8_t *)map_at(REGION_OFF(0))->p)[0x20] = 0xa5;
	((uint8_t *)map_at(REGION_OFF(0) + 0xa000)->p)[4] = 0xb6;
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);

	/* BAR0's first area took it; the others got ENOSPC and stay trapped. */
	ck_assert_uint_eq(slots_used(), VM_DEVICE_SLOTS);
	assert_slot(bar0, 0x8000, REGION_OFF(0));
	assert_no_slot(bar0 + 0xa000);
	assert_no_slot(bar2 + 0x1000);
	assert_no_slot(bar2 + 0x3000);

	/* The guest uses both kinds: its memslot's memory, the rest as trapped accesses. */
	nrws = 0;
	report(&c, bar0 + 0x20);
	report(&c, bar0 + 0xa004);
	st8(&c, bar2 + 0x1008, 0x55);
	report(&c, bar2 + 0x3004);
	run_guest(&c);
	assert_port_log(want, sizeof(want));
	ck_assert_uint_eq(nrws, 3);
	ck_assert(accessed(REGION_OFF(0) + 0xa004));
	ck_assert(accessed(REGION_OFF(2) + 0x1008));
	ck_assert(accessed(REGION_OFF(2) + 0x3004));
	ck_assert_uint_eq(vm.vcpus[0].mmio_unclaimed, 0);

	/* Memslots free again: the next decode gives every area its own. */
	while (n)
		ck_assert_int_eq(vm_unmap_device_memory(&vm, slots[--n]), 0);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0000);
	cfg_write(GUEST_BDF, 0x04, 2, 0x0002);
	assert_all_slots(bar0);
	munmap(fill, VM_DEVICE_SLOTS * 4096);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vfio_pci_mmap");
	TCase *tc = tcase_create("mmap");

	/* Skip only without KVM at all: a /dev/kvm that fails to open is a failure. */
	if (access("/dev/kvm", F_OK))
		return 77;
	tcase_add_checked_fixture(tc, ksetup, kteardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slots_follow_the_bar);
	tcase_add_test(tc, test_mmap_failure_traps);
	tcase_add_test(tc, test_guest_accesses);
	tcase_add_test(tc, test_command_race);
	tcase_add_test(tc, test_stuck_memslot_retried);
	tcase_add_test(tc, test_destroy_retries_memslots);
	tcase_add_test(tc, test_destroy_leaks_what_kvm_keeps);
	tcase_add_test(tc, test_out_of_memslots);
	suite_add_tcase(s, tc);
	return check_run(s);
}
