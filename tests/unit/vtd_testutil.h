/* SPDX-License-Identifier: MIT */
/*
 * Shared fixtures for the emulated VT-d tests (check_vtd_unit, check_vtd_tables,
 * check_simdev): a struct vm with malloc'ed guest RAM and initialized buses but
 * no KVM file descriptors, guest-memory and MMIO helpers, and a host side
 * (simulated host VT-d, tag store, flush engine). Append new helpers at the
 * end; several test files include this.
 */
#ifndef TAGVMM_TESTS_VTD_TESTUTIL_H
#define TAGVMM_TESTS_VTD_TESTUTIL_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flush.h"
#include "hostvtd/simvtd.h"
#include "hostvtd/tagstore.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

/* ---- a VM without KVM ---------------------------------------------------- */

#define VTD_TEST_RAM_SIZE	(16ULL << 20)	/* guest RAM at GPA 0 */

/*
 * A vm whose only RAM region is [0, @ram_size) at GPA 0; vm_gpa() works on
 * it, vm_signal_msi() fails harmlessly (no VM fd), buses are empty.
 */
static inline void vtd_test_vm_init(struct vm *vm, uint64_t ram_size)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->console_in = -1;
	vm->console_out = -1;
	vm->mem[0].gpa = 0;
	vm->mem[0].size = ram_size;
	vm->mem[0].host = aligned_alloc(4096, ram_size);
	ck_assert_ptr_nonnull(vm->mem[0].host);
	memset(vm->mem[0].host, 0, ram_size);
	vm->nmem = 1;
	vm->machine.ram_size = ram_size;
	ck_assert_int_eq(bus_init(&vm->pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm->mmio, "mmio"), 0);
	pthread_mutex_init(&vm->stop_lock, NULL);
}

static inline void vtd_test_vm_free(struct vm *vm)
{
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->stop_lock);
	free(vm->mem[0].host);
	memset(vm, 0, sizeof(*vm));
}

/* Host pointer to guest memory; the test fails if it is not RAM. */
static inline void *vtd_test_gpa(struct vm *vm, uint64_t gpa, size_t len)
{
	void *p = vm_gpa(vm, gpa, len);

	ck_assert_msg(p != NULL, "gpa %#llx+%zu is not RAM", (unsigned long long)gpa, len);
	return p;
}

static inline void vtd_test_write64(struct vm *vm, uint64_t gpa, uint64_t val)
{
	memcpy(vtd_test_gpa(vm, gpa, 8), &val, 8);
}

static inline uint64_t vtd_test_read64(struct vm *vm, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, vtd_test_gpa(vm, gpa, 8), 8);
	return v;
}

static inline uint32_t vtd_test_read32(struct vm *vm, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, vtd_test_gpa(vm, gpa, 4), 4);
	return v;
}

static inline void vtd_test_write32(struct vm *vm, uint64_t gpa, uint32_t val)
{
	memcpy(vtd_test_gpa(vm, gpa, 4), &val, 4);
}

/* Encode @d at @gpa: 16 bytes, or 32 when @wide (IQA.DW). */
static inline void vtd_test_put_desc(struct vm *vm, uint64_t gpa, const struct vtd_desc *d,
				     bool wide)
{
	struct vtd_raw_desc raw;

	vtd_desc_encode(d, &raw);
	memcpy(vtd_test_gpa(vm, gpa, wide ? 32 : 16), raw.qw, wide ? 32 : 16);
}

/* Raw qwords at @gpa, for descriptors the encoder would refuse to produce. */
static inline void vtd_test_put_raw(struct vm *vm, uint64_t gpa, uint64_t qw0, uint64_t qw1,
				    uint64_t qw2, uint64_t qw3, bool wide)
{
	uint64_t qw[4] = { qw0, qw1, qw2, qw3 };

	memcpy(vtd_test_gpa(vm, gpa, wide ? 32 : 16), qw, wide ? 32 : 16);
}

/* ---- MMIO through the bus, as a vCPU exit would do it --------------------- */

static inline void vtd_test_mmio_write(struct vm *vm, uint64_t addr, uint64_t val,
				       unsigned int len)
{
	uint8_t data[8];

	memcpy(data, &val, sizeof(data));
	ck_assert_msg(bus_dispatch(&vm->mmio, addr, data, len, true),
		      "MMIO write %#llx not claimed", (unsigned long long)addr);
}

static inline uint64_t vtd_test_mmio_read(struct vm *vm, uint64_t addr, unsigned int len)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	ck_assert_msg(bus_dispatch(&vm->mmio, addr, data, len, false),
		      "MMIO read %#llx not claimed", (unsigned long long)addr);
	memcpy(&v, data, len < 8 ? len : 8);
	return v;
}

/* ---- the host side --------------------------------------------------------- */

struct vtd_test_host {
	struct simvtd *sim;
	struct tag_store *ts;
	struct flush_engine *fe;
};

/* @units simulated host units with their default CAP/ECAP. */
static inline void vtd_test_host_init(struct vtd_test_host *h, unsigned int units)
{
	struct simvtd_config cfg = { .units = units };
	struct plan_options opt = { 0 };

	h->sim = simvtd_new(&cfg);
	ck_assert_ptr_nonnull(h->sim);
	h->ts = tag_store_new();
	ck_assert_ptr_nonnull(h->ts);
	h->fe = flush_engine_new(h->ts, NULL, &opt);
	ck_assert_ptr_nonnull(h->fe);
}

static inline void vtd_test_host_free(struct vtd_test_host *h)
{
	flush_engine_free(h->fe);
	tag_store_free(h->ts);
	simvtd_free(h->sim);
	memset(h, 0, sizeof(*h));
}

/* A host device with host SID @sid on host unit @unit. */
static inline void vtd_test_host_device(struct vtd_test_host *h, struct host_device *d,
					unsigned int unit, uint16_t sid, bool ats)
{
	memset(d, 0, sizeof(*d));
	host_device_name(sid, d->name);
	d->sid = sid;
	d->ats = ats;
	d->unit = simvtd_unit(h->sim, unit);
	ck_assert_ptr_nonnull(d->unit);
}

/* Attach @d to guest domain (@viommu, @did, @pasid) directly in the tag store. */
static inline void vtd_test_attach(struct vtd_test_host *h, struct host_device *d,
				   uint16_t guest_sid, uint16_t viommu, uint16_t did,
				   uint32_t pasid, uint16_t host_did, bool nested)
{
	struct guest_domain_key key = { .viommu = viommu, .did = did, .pasid = pasid };
	struct tag_attach a = {
		.dev = d, .guest_sid = guest_sid, .host_did = host_did,
		.host_pasid = pasid, .nested = nested,
	};

	ck_assert_int_eq(tag_store_attach(h->ts, key, &a), 0);
}

#endif

/* ---- guest translation tables (check_vtd_tables) ---------------------------- */
#ifndef TAGVMM_TESTS_VTD_TABLES_TESTUTIL_H
#define TAGVMM_TESTS_VTD_TABLES_TESTUTIL_H

/* A bump allocator of zeroed 4 KiB pages in guest RAM, from @next up. */
struct vtd_test_tables {
	struct vm *vm;
	uint64_t next;
};

static inline uint64_t vtd_test_page(struct vtd_test_tables *t)
{
	uint64_t gpa = t->next;

	t->next += 4096;
	memset(vtd_test_gpa(t->vm, gpa, 4096), 0, 4096);
	return gpa;
}

/* The table an entry points at (bits 51:12), allocated and linked with @bits when absent. */
static inline uint64_t vtd_test_table_of(struct vtd_test_tables *t, uint64_t entry_gpa,
					 uint64_t bits)
{
	uint64_t e = vtd_test_read64(t->vm, entry_gpa);

	if (!(e & bits & 3)) {
		e = vtd_test_page(t) | bits;
		vtd_test_write64(t->vm, entry_gpa, e);
	}
	return e & 0x000ffffffffff000ULL;
}

/* Legacy: context entry (@lo, @hi) of @sid under root table @root. */
static inline void vtd_test_legacy_ctx(struct vtd_test_tables *t, uint64_t root, uint16_t sid,
				       uint64_t lo, uint64_t hi)
{
	uint64_t ctx = vtd_test_table_of(t, root + (sid >> 8) * 16, 1);

	vtd_test_write64(t->vm, ctx + (sid & 0xff) * 16, lo);
	vtd_test_write64(t->vm, ctx + (sid & 0xff) * 16 + 8, hi);
}

/* Scalable: the 256-bit context entry of @sid (root entry half by devfn). */
static inline void vtd_test_sm_ctx(struct vtd_test_tables *t, uint64_t root, uint16_t sid,
				   uint64_t v0, uint64_t v1)
{
	uint8_t devfn = sid & 0xff;
	uint64_t ctx = vtd_test_table_of(t, root + (sid >> 8) * 16 + (devfn >= 128 ? 8 : 0), 1);
	uint64_t at = ctx + (devfn & 0x7f) * 32;

	vtd_test_write64(t->vm, at, v0);
	vtd_test_write64(t->vm, at + 8, v1);
	vtd_test_write64(t->vm, at + 16, 0);
	vtd_test_write64(t->vm, at + 24, 0);
}

/* Scalable: the 512-bit PASID entry of @pasid under directory @pdir (entry made present). */
static inline void vtd_test_pasid_entry(struct vtd_test_tables *t, uint64_t pdir, uint32_t pasid,
					const uint64_t pe[8])
{
	uint64_t table = vtd_test_table_of(t, pdir + (pasid >> 6) * 8, 1);

	memcpy(vtd_test_gpa(t->vm, table + (pasid & 63) * 64, 64), pe, 64);
}

/*
 * Map @iova to @gpa in the @levels-level table at @root with a leaf at
 * @leaf_level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB; PS set above 1): @leaf_bits
 * are OR'ed into the leaf, @table_bits into new non-leaf entries (R|W for
 * the second stage, P|RW|US for the first). Works for both stages.
 */
static inline void vtd_test_map(struct vtd_test_tables *t, uint64_t root, unsigned int levels,
				uint64_t iova, uint64_t gpa, unsigned int leaf_level,
				uint64_t leaf_bits, uint64_t table_bits)
{
	uint64_t table = root;

	for (unsigned int level = levels; level > leaf_level; level--) {
		uint64_t at = table + ((iova >> (12 + 9 * (level - 1))) & 511) * 8;

		table = vtd_test_table_of(t, at, table_bits);
	}
	vtd_test_write64(t->vm, table + ((iova >> (12 + 9 * (leaf_level - 1))) & 511) * 8,
			 gpa | leaf_bits | (leaf_level > 1 ? 1ULL << 7 : 0));
}

/* ---- descriptors ------------------------------------------------------------- */

static inline struct vtd_desc vtd_test_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr,
						   unsigned int am)
{
	struct vtd_desc d = { .type = VTD_DESC_PIOTLB };

	d.piotlb.gran = VTD_PIOTLB_PAGE;
	d.piotlb.did = did;
	d.piotlb.pasid = pasid;
	d.piotlb.addr = addr;
	d.piotlb.am = (uint8_t)am;
	return d;
}

/* Device-TLB (type 3) for guest SID @sid over 2^@order pages at @base. */
static inline struct vtd_desc vtd_test_devtlb(uint16_t sid, uint64_t base, unsigned int order)
{
	struct vtd_desc d = { .type = VTD_DESC_DEVTLB };

	d.devtlb.sid = sid;
	d.devtlb.addr = vtd_devtlb_encode_addr(base, order, &d.devtlb.size);
	return d;
}

#endif
