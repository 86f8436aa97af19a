// SPDX-License-Identifier: MIT
/*
 * The guests' VT-d driver (vtd.h). It does what Linux's intel-iommu does,
 * in the same order, but only as much as the viommu-* tests need: no
 * locking (one CPU), one page of queue, tables from a static pool.
 */
#include "vtd.h"

/* ---- Page pool. ---- */

#define VTD_POOL_PAGES 80

/* In .pagepool (NOLOAD, not cleared at boot): each page is zeroed when handed out. */
static uint8_t vtd_pool[VTD_POOL_PAGES][PAGE_SIZE]
	__attribute__((section(".pagepool"), aligned(4096)));
static unsigned int vtd_pool_used;

void *vtd_alloc_page(void)
{
	expect(vtd_pool_used < VTD_POOL_PAGES, "vtd page pool exhausted (%u pages)",
	       VTD_POOL_PAGES);
	void *p = vtd_pool[vtd_pool_used++];

	memset(p, 0, PAGE_SIZE);
	return p;
}

/* ---- Discovery. ---- */

struct vtd_unit vtd_units[VTD_GUEST_MAX_UNITS];
unsigned int vtd_nunits;

#define DMAR_HEADER_LEN 48
#define DMAR_TYPE_DRHD 0
#define DRHD_INCLUDE_PCI_ALL 1
#define SCOPE_PCI_ENDPOINT 1

static void parse_drhd(const uint8_t *s, unsigned int len)
{
	expect(vtd_nunits < VTD_GUEST_MAX_UNITS, "more than %u DRHDs", VTD_GUEST_MAX_UNITS);
	struct vtd_unit *u = &vtd_units[vtd_nunits++];

	u->base = load_le64(s + 8);
	u->include_all = s[4] & DRHD_INCLUDE_PCI_ALL;
	/* Device scopes: type, length, 2 reserved, enumeration ID, start bus, then (dev, fn) hops. */
	for (unsigned int off = 16; off + 8 <= len; off += s[off + 1]) {
		const uint8_t *sc = s + off;

		expect(sc[1] >= 8, "DRHD at 0x%lx: device scope length %u", u->base, sc[1]);
		if (sc[0] != SCOPE_PCI_ENDPOINT || u->nscope == VTD_SCOPE_MAX)
			continue;
		/* One hop from the start bus: bus 0 has no bridges on this machine. */
		u->scope[u->nscope++] = PCI_BDF(sc[5], sc[6], sc[7]);
	}
}

/* The DTB must describe the same units ("tagvmm,vtd" nodes under the root). */
static void check_dtb(const void *dtb)
{
	struct dt dt;
	unsigned int found = 0;

	expect(dt_open(&dt, dtb) == 0, "no device tree at %p", dtb);
	for (int n = dt_first_child(&dt, dt_find(&dt, "/")); n >= 0; n = dt_next_sibling(&dt, n)) {
		const char *compat = dt_prop(&dt, n, "compatible", NULL);
		uint64_t reg;

		if (!compat || strcmp(compat, "tagvmm,vtd"))
			continue;
		expect(dt_prop_cells(&dt, n, "reg", 0, 2, &reg), "%s: no reg", dt_name(&dt, n));
		expect(found < vtd_nunits && vtd_units[found].base == reg,
		       "DTB unit %u at 0x%lx does not match the DMAR", found, reg);
		found++;
	}
	expect(found == vtd_nunits, "DTB has %u tagvmm,vtd units, DMAR %u", found, vtd_nunits);
}

unsigned int vtd_discover(const void *dtb)
{
	const struct acpi_header *dmar = acpi_find_table("DMAR", 0);

	expect(dmar, "no ACPI DMAR table: run with --viommu");
	const uint8_t *p = (const uint8_t *)dmar;

	for (uint32_t off = DMAR_HEADER_LEN; off + 4 <= dmar->length;) {
		unsigned int type = p[off] | p[off + 1] << 8, len = p[off + 2] | p[off + 3] << 8;

		expect(len >= 4 && off + len <= dmar->length, "DMAR structure at %u: length %u", off,
		       len);
		if (type == DMAR_TYPE_DRHD)
			parse_drhd(p + off, len);
		off += len;
	}
	expect(vtd_nunits > 0, "the DMAR lists no DRHD");
	check_dtb(dtb);
	for (unsigned int i = 0; i < vtd_nunits; i++) {
		expect(vtd_units[i].base == MACHINE_VTD_BASE + i * 0x1000ULL,
		       "unit %u at 0x%lx, machine.h puts it at 0x%lx", i, vtd_units[i].base,
		       (unsigned long)(MACHINE_VTD_BASE + i * 0x1000ULL));
		vtd_units[i].cap = vtd_read64(&vtd_units[i], VTD_REG_CAP);
		vtd_units[i].ecap = vtd_read64(&vtd_units[i], VTD_REG_ECAP);
		printf("vtd%u: 0x%lx cap 0x%lx ecap 0x%lx scope %u%s\n", i, vtd_units[i].base,
		       vtd_units[i].cap, vtd_units[i].ecap, vtd_units[i].nscope,
		       vtd_units[i].include_all ? " +all" : "");
	}
	return vtd_nunits;
}

struct vtd_unit *vtd_unit_of(uint16_t bdf)
{
	for (unsigned int i = 0; i < vtd_nunits; i++)
		for (unsigned int k = 0; k < vtd_units[i].nscope; k++)
			if (vtd_units[i].scope[k] == bdf)
				return &vtd_units[i];
	for (unsigned int i = 0; i < vtd_nunits; i++)
		if (vtd_units[i].include_all)
			return &vtd_units[i];
	test_fail("no DRHD covers %02x:%02x.%u", bdf >> 8, (bdf >> 3) & 31, bdf & 7);
}

/* ---- Global command. ---- */

/* GSTS bits that reflect persistent state; the one-shot ones (RTPS, FLS, WBFS, IRTPS) masked. */
#define GSTS_PERSISTENT 0x96ffffffU
#define GSTS_POLLS 10000

void vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool on)
{
	uint32_t sts = vtd_read32(u, VTD_REG_GSTS) & GSTS_PERSISTENT;

	vtd_write32(u, VTD_REG_GCMD, on ? sts | bit : sts & ~bit);
	for (unsigned int i = 0; i < GSTS_POLLS; i++)
		if (!!(vtd_read32(u, VTD_REG_GSTS) & bit) == on)
			return;
	test_fail("vtd@0x%lx: GSTS 0x%x never %s bit 0x%x", u->base, vtd_read32(u, VTD_REG_GSTS),
		  on ? "set" : "cleared", bit);
}

void vtd_set_root(struct vtd_unit *u, uint64_t rtaddr)
{
	vtd_write64(u, VTD_REG_RTADDR, rtaddr | (u->scalable ? 1ULL << VTD_RTADDR_TTM_SHIFT : 0));
	vtd_gcmd(u, VTD_GCMD_SRTP, true);	/* GSTS.RTPS says it latched */
}

/* Point the unit at its own queue page and turn QI on (IQT must be 0 first). */
static void qi_enable(struct vtd_unit *u)
{
	vtd_write64(u, VTD_REG_IQT, 0);
	vtd_write64(u, VTD_REG_IQA, vtd_pa(u->queue) | (u->desc_size == 32 ? VTD_IQA_DW : 0));
	u->tail = 0;
	vtd_gcmd(u, VTD_GCMD_QIE, true);
}

void vtd_unit_init(struct vtd_unit *u, bool scalable)
{
	expect(u->ecap & VTD_ECAP_QI, "vtd@0x%lx: no queued invalidation", u->base);
	expect(VTD_CAP_SAGAW(u->cap) & 4, "vtd@0x%lx: no 4-level second stage (SAGAW 0x%lx)",
	       u->base, (unsigned long)VTD_CAP_SAGAW(u->cap));
	if (scalable)
		expect((u->ecap & VTD_ECAP_SMTS) && (u->ecap & VTD_ECAP_PASID),
		       "vtd@0x%lx: no scalable mode / PASID", u->base);
	u->scalable = scalable;

	/* Fault and completion events stay masked: the tests poll. */
	vtd_write32(u, VTD_REG_FECTL, (uint32_t)VTD_ECTL_IM);
	vtd_write32(u, VTD_REG_IECTL, (uint32_t)VTD_ECTL_IM);

	u->queue = vtd_alloc_page();
	u->desc_size = scalable ? 32 : 16;	/* Linux uses 256-bit descriptors iff scalable */
	u->nslots = PAGE_SIZE / u->desc_size;
	u->status = vtd_alloc_page();
	qi_enable(u);

	u->root = vtd_alloc_page();
	vtd_set_root(u, vtd_pa(u->root));
	vtd_flush_all(u);
	vtd_gcmd(u, VTD_GCMD_TE, true);
}

/* ---- Page tables. ---- */

uint64_t *vtd_pt_new(void) { return vtd_alloc_page(); }

static uint64_t *pt_map4(uint64_t *pml4, uint64_t iova, uint64_t pa, uint64_t table_flags,
			 uint64_t leaf_flags)
{
	uint64_t *table = pml4;

	for (unsigned int level = 3; level > 0; level--) {
		uint64_t *e = &table[(iova >> (12 + 9 * level)) & 511];

		if (!(*e & table_flags))
			*e = vtd_pa(vtd_alloc_page()) | table_flags;
		table = (uint64_t *)(uintptr_t)(*e & VTD_PTE_ADDR);
	}
	uint64_t *pte = &table[(iova >> 12) & 511];

	*pte = (pa & VTD_PTE_ADDR) | leaf_flags;
	barrier();
	return pte;
}

/* A, and D on leaves, preset: the walker then never has to write them back. */
uint64_t *vtd_fl_map(uint64_t *pml4, uint64_t iova, uint64_t pa)
{
	return pt_map4(pml4, iova, pa, VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A,
		       VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A | VTD_FL_D);
}

uint64_t *vtd_sl_map(uint64_t *pml4, uint64_t iova, uint64_t pa)
{
	return pt_map4(pml4, iova, pa, VTD_SL_R | VTD_SL_W, VTD_SL_R | VTD_SL_W);
}

void vtd_sl_map_pool(uint64_t *sl)
{
	unsigned int used = vtd_pool_used;	/* not the pages this mapping adds */

	for (unsigned int i = 0; i < used; i++)
		vtd_sl_map(sl, vtd_pa(vtd_pool[i]), vtd_pa(vtd_pool[i]));
}

/* ---- Legacy tables. ---- */

#define CTX_AW_4LEVEL 2	/* AW field: 48-bit, 4-level second stage */

void vtd_legacy_attach(struct vtd_unit *u, uint16_t bdf, uint16_t did, uint64_t *slpt, bool dte)
{
	uint64_t *re = &u->root[2 * (bdf >> 8)];

	if (!(re[0] & 1))
		re[0] = vtd_pa(vtd_alloc_page()) | 1;
	uint64_t *ce = (uint64_t *)(uintptr_t)(re[0] & VTD_PTE_ADDR) + 2 * (bdf & 0xff);

	ce[1] = CTX_AW_4LEVEL | (uint64_t)did << 8;
	barrier();
	ce[0] = vtd_pa(slpt) | (dte ? 1ULL << 2 : 0) | 1;	/* TT 0 or 1 (device TLB) */
	barrier();
}

/* ---- Scalable-mode tables. ---- */

uint64_t *vtd_sm_root_entry(struct vtd_unit *u, uint16_t bdf) { return &u->root[2 * (bdf >> 8)]; }

/* Root entry: lower half (devfn 0-127) in qw0, upper half in qw1; 128 contexts of 256 bits each. */
uint64_t *vtd_sm_context(struct vtd_unit *u, uint16_t bdf)
{
	uint64_t *re = vtd_sm_root_entry(u, bdf);
	unsigned int half = (bdf & 0xff) >= 128;

	if (!(re[half] & 1)) {
		re[half] = vtd_pa(vtd_alloc_page()) | 1;
		barrier();
	}
	return (uint64_t *)(uintptr_t)(re[half] & VTD_PTE_ADDR) + 4 * (bdf & 0x7f);
}

#define CTX_SM_DTE (1ULL << 2)
#define CTX_SM_PASIDE (1ULL << 3)
#define CTX_SM_PDTS_SHIFT 9
#define PDTS_ONE_PAGE 2	/* 2^(2+7) = 512 directory entries: one page */

uint64_t *vtd_sm_attach(struct vtd_unit *u, uint16_t bdf, bool dte, bool pasid_en)
{
	uint64_t *ce = vtd_sm_context(u, bdf);
	uint64_t *dir = vtd_alloc_page();

	ce[1] = 0;	/* RID_PASID 0: requests without PASID use PASID entry 0 */
	ce[2] = ce[3] = 0;
	barrier();
	ce[0] = vtd_pa(dir) | (uint64_t)PDTS_ONE_PAGE << CTX_SM_PDTS_SHIFT |
		(dte ? CTX_SM_DTE : 0) | (pasid_en ? CTX_SM_PASIDE : 0) | 1;
	barrier();
	return dir;
}

uint64_t *vtd_pasid_entry(struct vtd_unit *u, uint16_t bdf, uint32_t pasid)
{
	uint64_t *ce = vtd_sm_context(u, bdf);

	expect(ce[0] & 1, "%02x:%02x.%u has no context entry", bdf >> 8, (bdf >> 3) & 31, bdf & 7);
	expect(pasid < 512 * 64, "PASID %u beyond a one-page directory", pasid);
	uint64_t *dir = (uint64_t *)(uintptr_t)(ce[0] & VTD_PTE_ADDR);
	uint64_t *de = &dir[pasid >> 6];

	if (!(*de & 1)) {
		*de = vtd_pa(vtd_alloc_page()) | 1;
		barrier();
	}
	return (uint64_t *)(uintptr_t)(*de & VTD_PTE_ADDR) + 8 * (pasid & 63);
}

#define PE_AW_SHIFT 2
#define PE_PGTT_SHIFT 6
#define PE_SRE (1ULL << 0)	/* qw2 bit 0 (entry bit 128) */

void vtd_pasid_set(uint64_t *pe, unsigned int pgtt, uint16_t did, const uint64_t *fl,
		   const uint64_t *sl)
{
	pe[0] = 0;
	barrier();
	for (unsigned int i = 3; i < 8; i++)
		pe[i] = 0;
	pe[1] = did;
	pe[2] = (fl ? vtd_pa(fl) : 0) | PE_SRE;	/* FLPM 0: 4-level first stage */
	barrier();
	pe[0] = (sl ? vtd_pa(sl) : 0) | (uint64_t)pgtt << PE_PGTT_SHIFT |
		(uint64_t)CTX_AW_4LEVEL << PE_AW_SHIFT | 1;
	barrier();
}

/* ---- Descriptors (spec 6.5.2; field positions as in Linux's QI_* macros). ---- */

static struct qi_desc desc2(uint64_t qw0, uint64_t qw1) { return (struct qi_desc){ { qw0, qw1, 0, 0 } }; }

#define G(g) ((uint64_t)(g) << 4)
#define DID(d) ((uint64_t)(d) << 16)
#define PASID(p) ((uint64_t)((p) & 0xfffff) << 32)

struct qi_desc qi_cc_global(void) { return desc2(1 | G(1), 0); }
struct qi_desc qi_cc_device(uint16_t did, uint16_t sid) { return desc2(1 | G(3) | DID(did) | (uint64_t)sid << 32, 0); }
struct qi_desc qi_iotlb_global(void) { return desc2(2 | G(1), 0); }
struct qi_desc qi_iotlb_dsi(uint16_t did) { return desc2(2 | G(2) | DID(did), 0); }
struct qi_desc qi_iotlb_psi(uint16_t did, uint64_t addr, unsigned int am)
{
	return desc2(2 | G(3) | DID(did), (addr & VTD_PAGE_MASK) | (am & 0x3f));
}
/* S = 0: exactly the page at @addr; MIP/QDEP 0. */
struct qi_desc qi_devtlb(uint16_t sid, uint64_t addr) { return desc2(3 | (uint64_t)sid << 32, addr & VTD_PAGE_MASK); }
/* SW: write @data to @status_addr when every earlier descriptor has completed. */
struct qi_desc qi_wait_desc(uint64_t status_addr, uint32_t data)
{
	return desc2(5 | 1ULL << 5 | (uint64_t)data << 32, status_addr);
}
struct qi_desc qi_piotlb_pasid(uint16_t did, uint32_t pasid) { return desc2(6 | G(2) | DID(did) | PASID(pasid), 0); }
struct qi_desc qi_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned int am)
{
	return desc2(6 | G(3) | DID(did) | PASID(pasid), (addr & VTD_PAGE_MASK) | (am & 0x3f));
}
struct qi_desc qi_pc_global(void) { return desc2(7 | G(3), 0); }
struct qi_desc qi_pc_domain(uint16_t did) { return desc2(7 | G(0) | DID(did), 0); }
struct qi_desc qi_pc_pasid(uint16_t did, uint32_t pasid) { return desc2(7 | G(1) | DID(did) | PASID(pasid), 0); }
/* Type 8 keeps the SID in 31:16 (not 47:32 as type 3); S = 0, G = 0: one page of one PASID. */
struct qi_desc qi_pdevtlb(uint16_t sid, uint32_t pasid, uint64_t addr)
{
	return desc2(8 | (uint64_t)sid << 16 | PASID(pasid), addr & VTD_PAGE_MASK);
}

/* ---- The queue. ---- */

/*
 * Each poll is an MMIO exit (~7 us here) that also shows errors; a VMM
 * that completes the queue inside the IQT write answers on the first one.
 */
#define QI_POLLS 50000

void vtd_qi_push(struct vtd_unit *u, const struct qi_desc *d)
{
	uint64_t *slot = (uint64_t *)(u->queue + vtd_qi_offset(u, u->tail));

	for (unsigned int i = 0; i < u->desc_size / 8; i++)
		slot[i] = d->qw[i];
	u->tail = (u->tail + 1) % u->nslots;
}

void vtd_qi_kick(struct vtd_unit *u)
{
	barrier();
	vtd_write64(u, VTD_REG_IQT, vtd_qi_offset(u, u->tail));
}

uint32_t vtd_qi_wait(struct vtd_unit *u)
{
	uint32_t seq = ++u->seq;
	struct qi_desc w = qi_wait_desc(vtd_pa(u->status), seq);

	vtd_qi_push(u, &w);
	vtd_qi_kick(u);
	for (unsigned int i = 0; i < QI_POLLS; i++) {
		if (*u->status == seq)
			return 0;
		uint32_t err = vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_QI_ERRORS;

		if (err)
			return err;
	}
	return QI_TIMEOUT;
}

uint32_t vtd_qi_submit(struct vtd_unit *u, const struct qi_desc *d, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		vtd_qi_push(u, &d[i]);
	return vtd_qi_wait(u);
}

void vtd_qi_submit_ok(struct vtd_unit *u, const struct qi_desc *d, unsigned int n,
		      const char *what)
{
	uint32_t r = vtd_qi_submit(u, d, n);

	expect(r == 0, "%s: queue %s: FSTS 0x%x IQERCD 0x%lx IQH 0x%lx IQT 0x%lx", what,
	       r == QI_TIMEOUT ? "timed out" : "error", vtd_read32(u, VTD_REG_FSTS),
	       vtd_read64(u, VTD_REG_IQER), vtd_read64(u, VTD_REG_IQH), vtd_read64(u, VTD_REG_IQT));
}

void vtd_qi_reset(struct vtd_unit *u)
{
	/*
	 * Whatever the unit fetches once IQE is cleared must be harmless:
	 * plain waits (no status write, no interrupt) in every slot.
	 */
	struct qi_desc nop = desc2(5, 0);

	for (unsigned int i = 0; i < u->nslots; i++)
		memcpy(u->queue + i * u->desc_size, nop.qw, u->desc_size);
	/*
	 * Then IQT = IQH, so turning QI off finds an empty queue. A unit may
	 * ignore IQT while IQE is set, or fetch again (and fail again, when
	 * IQA points nowhere) as soon as it is cleared: a few rounds settle it.
	 */
	for (unsigned int round = 0; round < 3; round++) {
		vtd_write64(u, VTD_REG_IQT, vtd_read64(u, VTD_REG_IQH) & VTD_IQ_OFFSET_MASK);
		vtd_write32(u, VTD_REG_FSTS, VTD_FSTS_QI_ERRORS);
		if (!(vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_QI_ERRORS))
			break;
	}
	vtd_gcmd(u, VTD_GCMD_QIE, false);
	expect(vtd_read64(u, VTD_REG_IQH) == 0, "QI off: IQH 0x%lx, want 0",
	       vtd_read64(u, VTD_REG_IQH));
	vtd_write32(u, VTD_REG_FSTS, VTD_FSTS_QI_ERRORS);
	qi_enable(u);
	vtd_qi_submit_ok(u, NULL, 0, "queue after reset");
	expect(!(vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_QI_ERRORS), "FSTS 0x%x after reset",
	       vtd_read32(u, VTD_REG_FSTS));
}

void vtd_flush_all(struct vtd_unit *u)
{
	struct qi_desc d[3] = { qi_cc_global(), qi_iotlb_global(), qi_pc_global() };

	vtd_qi_submit_ok(u, d, u->scalable ? 3 : 2, "global flush");
}

/* ---- Fault records (FRCD: 128 bits each at CAP.FRO * 16). ---- */

#define FRCD_F (1ULL << 63)	/* in the upper qword */
#define FRCD_PP (1ULL << 31)

static uint64_t frcd_reg(const struct vtd_unit *u, unsigned int i)
{
	return VTD_CAP_FRO(u->cap) * 16 + i * 16;
}

bool vtd_fault_take(struct vtd_unit *u, struct vtd_frcd *out)
{
	unsigned int n = (unsigned int)VTD_CAP_NFR(u->cap) + 1;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t reg = frcd_reg(u, i);
		uint64_t hi = vtd_read64(u, (unsigned int)reg + 8);

		if (!(hi & FRCD_F))
			continue;
		out->addr = vtd_read64(u, (unsigned int)reg) & VTD_PAGE_MASK;
		out->sid = (uint16_t)hi;
		out->reason = (uint8_t)(hi >> 32);
		out->pasid_present = hi & FRCD_PP;
		out->pasid = (uint32_t)VTD_FIELD(hi, 59, 40);
		vtd_write32(u, (unsigned int)reg + 12, (uint32_t)(FRCD_F >> 32));	/* W1C */
		vtd_write32(u, VTD_REG_FSTS, (uint32_t)VTD_FSTS_PFO);
		return true;
	}
	return false;
}

void vtd_fault_clear_all(struct vtd_unit *u)
{
	struct vtd_frcd f;

	while (vtd_fault_take(u, &f))
		;
	vtd_write32(u, VTD_REG_FSTS, (uint32_t)VTD_FSTS_PFO);
}

/* ---- Sim devices. ---- */

#define PCI_COMMAND 0x04
#define PCI_CMD_MEM (1U << 1)
#define PCI_CMD_MASTER (1U << 2)
#define PCI_HEADER_TYPE 0x0c
#define PCI_BAR0 0x10
#define PCI_EXT_CAP_START 0x100
#define PCI_EXT_CAP_ATS 0x000f
#define PCI_EXT_CAP_PASID 0x001b
#define ATS_CTRL_ENABLE (1U << 15)
#define PASID_CTRL_ENABLE (1U << 0)

static unsigned int find_ext_cap(uint16_t bdf, unsigned int id)
{
	unsigned int off = PCI_EXT_CAP_START;

	for (unsigned int hops = 0; off >= PCI_EXT_CAP_START && hops < 64; hops++) {
		uint32_t h = pci_ecam_read32(MACHINE_ECAM_BASE, bdf, off);

		if (h == 0 || h == 0xffffffffU)
			return 0;
		if ((h & 0xffff) == id)
			return off;
		off = (h >> 20) & 0xffc;
	}
	return 0;
}

static void add_simdev(struct simdev *d, uint16_t bdf)
{
	uint64_t ecam = MACHINE_ECAM_BASE;
	uint32_t bar = pci_ecam_read32(ecam, bdf, PCI_BAR0);

	d->bdf = bdf;
	d->bar = bar & ~0xfULL;
	if ((bar & 6) == 4)	/* 64-bit memory BAR */
		d->bar |= (uint64_t)pci_ecam_read32(ecam, bdf, PCI_BAR0 + 4) << 32;
	expect(!(bar & 1) && d->bar, "%02x:%02x.%u: BAR0 0x%x is not an assigned memory BAR",
	       bdf >> 8, (bdf >> 3) & 31, bdf & 7, bar);
	pci_ecam_write32(ecam, bdf, PCI_COMMAND,
			 (pci_ecam_read32(ecam, bdf, PCI_COMMAND) & 0xffff) | PCI_CMD_MEM |
				 PCI_CMD_MASTER);
	expect(simdev_read(d, SIMDEV_ID) == SIMDEV_ID_VALUE, "%02x:%02x.%u: SIMDEV_ID 0x%lx",
	       bdf >> 8, (bdf >> 3) & 31, bdf & 7, simdev_read(d, SIMDEV_ID));
	d->ats_cap = find_ext_cap(bdf, PCI_EXT_CAP_ATS);
	d->pasid_cap = find_ext_cap(bdf, PCI_EXT_CAP_PASID);
	d->unit = vtd_unit_of(bdf);
}

unsigned int simdev_find_all(struct simdev *out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int dev = 0; dev < 32; dev++) {
		for (unsigned int fn = 0; fn < 8; fn++) {
			uint16_t bdf = PCI_BDF(0, dev, fn);
			uint32_t id = pci_ecam_read32(MACHINE_ECAM_BASE, bdf, 0);

			if (id == 0xffffffffU) {
				if (fn == 0)
					break;
				continue;
			}
			if (id == ((uint32_t)SIMDEV_DEVICE << 16 | SIMDEV_VENDOR) && n < max)
				add_simdev(&out[n++], bdf);
			if (fn == 0 && !(pci_ecam_read32(MACHINE_ECAM_BASE, bdf, PCI_HEADER_TYPE) &
					 0x00800000U))
				break;	/* not multi-function */
		}
	}
	for (unsigned int i = 0; i < n; i++)
		printf("simdev %u: %02x:%02x.%u bar 0x%lx vtd@0x%lx%s%s\n", i, out[i].bdf >> 8,
		       (out[i].bdf >> 3) & 31, out[i].bdf & 7, out[i].bar, out[i].unit->base,
		       out[i].ats_cap ? " ats" : "", out[i].pasid_cap ? " pasid" : "");
	return n;
}

/* The 16-bit control register sits at +6, after the 16-bit capability register. */
static void ext_cap_control_set(uint16_t bdf, unsigned int cap, uint16_t bits)
{
	uint32_t v = pci_ecam_read32(MACHINE_ECAM_BASE, bdf, cap + 4);

	pci_ecam_write32(MACHINE_ECAM_BASE, bdf, cap + 4, v | (uint32_t)bits << 16);
	v = pci_ecam_read32(MACHINE_ECAM_BASE, bdf, cap + 4);
	expect((v >> 16) & bits, "%02x:%02x.%u: capability at 0x%x: control 0x%x did not take 0x%x",
	       bdf >> 8, (bdf >> 3) & 31, bdf & 7, cap, v >> 16, bits);
}

void simdev_enable_ats(struct simdev *d)
{
	expect(d->ats_cap, "%02x:%02x.%u has no ATS capability (--sim-device ...,ats)",
	       d->bdf >> 8, (d->bdf >> 3) & 31, d->bdf & 7);
	ext_cap_control_set(d->bdf, d->ats_cap, ATS_CTRL_ENABLE);	/* STU 0: 4 KiB */
}

void simdev_enable_pasid(struct simdev *d)
{
	expect(d->pasid_cap, "%02x:%02x.%u has no PASID capability (--sim-device ...,pasid)",
	       d->bdf >> 8, (d->bdf >> 3) & 31, d->bdf & 7);
	ext_cap_control_set(d->bdf, d->pasid_cap, PASID_CTRL_ENABLE);
}

uint64_t simdev_copy(const struct simdev *d, uint64_t src, uint64_t dst, uint32_t len, int pasid)
{
	writeq(d->bar + SIMDEV_SRC, src);
	writeq(d->bar + SIMDEV_DST, dst);
	writeq(d->bar + SIMDEV_LEN, len);
	writeq(d->bar + SIMDEV_PASID, pasid < 0 ? 0 : (uint64_t)pasid | SIMDEV_PASID_VALID);
	writeq(d->bar + SIMDEV_CMD, SIMDEV_CMD_COPY);	/* runs to completion inside the write */
	return simdev_read(d, SIMDEV_STATUS);
}

/* ---- Buffers. ---- */

static uint64_t pattern(uint64_t seed, size_t i) { return (seed + 1) * 0x9e3779b97f4a7c15ULL ^ i; }

void vtd_fill(void *buf, uint64_t seed, size_t len)
{
	uint64_t *q = buf;

	for (size_t i = 0; i < len / 8; i++)
		q[i] = pattern(seed, i);
}

bool vtd_check(const void *buf, uint64_t seed, size_t len)
{
	const volatile uint64_t *q = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (q[i] != pattern(seed, i))
			return false;
	return true;
}
