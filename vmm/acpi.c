// SPDX-License-Identifier: MIT
/*
 * ACPI tables for a hardware-reduced x86 machine, written straight into a
 * buffer the caller copies to guest memory. Layout (all 16-byte aligned):
 * RSDP, XSDT, FADT, DSDT, MADT, MCFG, then DMAR when there are vIOMMUs.
 * The DSDT's AML comes from vmm/aml.c.
 *
 * Section numbers refer to the ACPI 6.5 specification; struct layouts match
 * ACPICA's include/acpi/actbl*.h, which is what Linux parses them with.
 */
#include <stdbool.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/aml.h"

#define ACPI_OEM_ID		"TAGVMM"
#define ACPI_OEM_TABLE_ID	"TAGVMM  "
#define ACPI_CREATOR_ID		"TAGV"
#define ACPI_TABLE_ALIGN	16

/* §5.2.5.3 RSDP, ACPI 2.0+ layout (ACPICA struct acpi_table_rsdp). */
struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;		/* bytes 0..19 */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
#define ACPI_RSDP_V1_LENGTH	20

/* §5.2.3.2 Generic Address Structure (struct acpi_generic_address). */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_width;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");
#define ACPI_GAS_SYSTEM_IO	1
#define ACPI_GAS_ACCESS_BYTE	1
#define ACPI_GAS_ACCESS_DWORD	3

/* §5.2.9 FADT, revision 6 (struct acpi_table_fadt). */
struct acpi_fadt {
	struct acpi_table_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(__builtin_offsetof(struct acpi_fadt, flags) == 112, "FADT Flags offset");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT offset");
_Static_assert(__builtin_offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT sleep");

/* FADT Flags (§5.2.9, Table 5.10). */
#define FADT_PWR_BUTTON		(1u << 4)	/* no fixed power button */
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define FADT_RESET_REG_SUP	(1u << 10)	/* RESET_REG is valid */
#define FADT_HW_REDUCED_ACPI	(1u << 20)
/* IA-PC Boot Architecture Flags (§5.2.9.3). Clear bit 1: there is no 8042. */
#define FADT_BOOT_NO_VGA	(1u << 2)
#define FADT_BOOT_NO_ASPM	(1u << 4)
#define FADT_BOOT_NO_CMOS_RTC	(1u << 5)

/* §5.2.12 MADT and its entries (struct acpi_table_madt, acpi_madt_*). */
struct acpi_madt {
	struct acpi_table_header header;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header is 44 bytes");
#define MADT_PCAT_COMPAT	1u

struct madt_lapic {
	uint8_t type, length;		/* 0, 8 */
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT Local APIC is 8 bytes");
#define MADT_LAPIC_ENABLED	1u

struct madt_ioapic {
	uint8_t type, length;		/* 1, 12 */
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC is 12 bytes");

struct madt_irq_override {
	uint8_t type, length;		/* 2, 10 */
	uint8_t bus;			/* 0: ISA */
	uint8_t source_irq;
	uint32_t gsi;
	uint16_t flags;			/* 0: conforms to the bus (ISA: edge, high) */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_irq_override) == 10, "MADT ISO is 10 bytes");

struct madt_lapic_nmi {
	uint8_t type, length;		/* 4, 6 */
	uint8_t processor_uid;		/* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT Local APIC NMI is 6 bytes");

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_IRQ_OVERRIDE = 2, MADT_LAPIC_NMI = 4 };

/*
 * The in-kernel IOAPIC's ID register resets to 0 and x86-64 Linux keeps the
 * MADT's ID (io_apic_unique_id), as it does under QEMU's q35.
 */
#define MADT_IOAPIC_ID		0

/* PCI Firmware Specification 3.3 §4.1.2: MCFG (struct acpi_table_mcfg). */
struct acpi_mcfg {
	struct acpi_table_header header;
	uint8_t reserved[8];
} __attribute__((packed));
struct mcfg_allocation {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG header is 44 bytes");
_Static_assert(sizeof(struct mcfg_allocation) == 16, "MCFG allocation is 16 bytes");

/* Intel VT-d specification §8.1-8.3: DMAR, DRHD, Device Scope (struct acpi_table_dmar). */
struct acpi_dmar {
	struct acpi_table_header header;
	uint8_t host_address_width;	/* N - 1 for N bits of DMA addressability */
	uint8_t flags;
	uint8_t reserved[10];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_dmar) == 48, "DMAR header is 48 bytes");

struct dmar_drhd {
	uint16_t type;			/* 0 */
	uint16_t length;
	uint8_t flags;
	uint8_t size;			/* 2^size 4 KiB register pages */
	uint16_t segment;
	uint64_t register_base;
} __attribute__((packed));
_Static_assert(sizeof(struct dmar_drhd) == 16, "DRHD is 16 bytes");
#define DRHD_INCLUDE_PCI_ALL	1u

struct dmar_device_scope {
	uint8_t type;			/* 1: PCI endpoint */
	uint8_t length;
	uint16_t reserved;
	uint8_t enumeration_id;
	uint8_t start_bus;
	uint8_t device, function;	/* a one-entry path */
} __attribute__((packed));
_Static_assert(sizeof(struct dmar_device_scope) == 8, "one-hop device scope is 8 bytes");
#define DMAR_SCOPE_PCI_ENDPOINT	1

/* ------------------------------------------------------------------------ */

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

/* Space in the output buffer, handed out in aligned pieces. */
struct acpi_out {
	uint8_t *buf;
	size_t size, used;
	uint64_t gpa;
	bool full;
};

static void *out_take(struct acpi_out *o, size_t len)
{
	size_t at = (o->used + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);

	if (o->full || at > o->size || len > o->size - at) {
		o->full = true;
		return NULL;
	}
	/* Zero the alignment gap too: the guest sees every byte up to o->used. */
	memset(o->buf + o->used, 0, at + len - o->used);
	o->used = at + len;
	return o->buf + at;
}

static uint64_t out_gpa(const struct acpi_out *o, const void *p)
{
	return o->gpa + (uint64_t)((const uint8_t *)p - o->buf);
}

static void header_init(struct acpi_table_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

static void table_seal(struct acpi_table_header *h)
{
	h->checksum = 0;
	h->checksum = acpi_checksum(h, h->length);
}

/* ---- DSDT (§5.2.11.1) ----------------------------------------------------- */

static void dsdt_pci_host_bridge(struct aml *a)
{
	struct aml_resources crs = { .len = 0 };

	aml_device(a, "PCI0");
	aml_name_eisa_id(a, "_HID", "PNP0A08");	/* PCI Express root bridge */
	aml_name_eisa_id(a, "_CID", "PNP0A03");	/* ... compatible with PCI */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_UID", 0);
	aml_name_integer(a, "_BBN", 0);

	/*
	 * With ACPI on, Linux scans only the buses and windows a root bridge's
	 * _CRS lists (and skips legacy probing), so this is where BARs come from.
	 */
	aml_res_word_bus_number(&crs, 0, MACHINE_PCI_BUSES);
	aml_res_io(&crs, MACHINE_PCI_CONF_PORT, 8);
	aml_res_word_io(&crs, MACHINE_PCI_IO_BASE, MACHINE_PCI_IO_SIZE);
	aml_res_dword_memory(&crs, (uint32_t)MACHINE_PCI_MMIO_BASE,
			     (uint32_t)MACHINE_PCI_MMIO_SIZE);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);

	/*
	 * _PRT (§6.2.13): {address 0xSSSSFFFF, pin, source 0 (a GSI), GSI} for
	 * every slot and pin, following machine_pci_intx_gsi().
	 */
	aml_name(a, "_PRT");
	aml_package(a, 32 * 4);
	for (unsigned int slot = 0; slot < 32; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			aml_package(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, machine_pci_intx_gsi(slot, pin));
			aml_close(a);
		}
	}
	aml_close(a);
	aml_close(a);
}

/*
 * Motherboard resources: Linux accepts an MCFG region only when firmware
 * reserved it, in e820 or in a PNP0C01/PNP0C02 _CRS (arch/x86/pci/
 * mmconfig-shared.c, is_acpi_reserved). The sleep registers and the PM
 * timer live here too so no driver can claim those ports.
 */
static void dsdt_motherboard(struct aml *a)
{
	struct aml_resources crs = { .len = 0 };

	aml_device(a, "MBRD");
	aml_name_eisa_id(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	aml_res_memory32_fixed(&crs, (uint32_t)MACHINE_ECAM_BASE, (uint32_t)MACHINE_ECAM_SIZE);
	aml_res_io(&crs, MACHINE_SLEEP_CTL_PORT, 2);
	aml_res_io(&crs, MACHINE_PM_TIMER_PORT, 4);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);
	aml_close(a);
}

static void dsdt_com1(struct aml *a)
{
	struct aml_resources crs = { .len = 0 };

	aml_device(a, "COM1");
	aml_name_eisa_id(a, "_HID", "PNP0501");	/* 16550A-compatible */
	aml_name_integer(a, "_UID", 1);
	aml_res_io(&crs, MACHINE_COM1_PORT, 8);
	aml_res_irq_no_flags(&crs, MACHINE_COM1_IRQ);
	aml_name(a, "_CRS");
	aml_resource_template(a, &crs);
	/* _STA (§6.3.7): present, enabled, shown in the UI, functioning. */
	aml_method(a, "_STA");
	aml_return(a);
	aml_integer(a, 0x0f);
	aml_close(a);
	aml_close(a);
}

static void dsdt_body(struct aml *a)
{
	aml_scope(a, "\\_SB");
	dsdt_pci_host_bridge(a);
	dsdt_motherboard(a);
	dsdt_com1(a);
	aml_close(a);

	/*
	 * \_S5 (§7.4.2): SLP_TYPa, SLP_TYPb, two reserved. On a hardware-reduced
	 * machine OSPM writes SLP_TYPa << 2 | SLP_EN to SLEEP_CONTROL_REG.
	 */
	aml_name(a, "\\_S5");
	aml_package(a, 4);
	aml_integer(a, MACHINE_SLEEP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a);
}

static struct acpi_table_header *build_dsdt(struct acpi_out *o)
{
	struct acpi_table_header *h;
	size_t at = (o->used + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);
	struct aml a;

	if (o->full || at > o->size || o->size - at < sizeof(*h)) {
		o->full = true;
		return NULL;
	}
	/* Assemble in place after the header, then claim what it used. */
	aml_init(&a, o->buf + at + sizeof(*h), o->size - at - sizeof(*h));
	dsdt_body(&a);
	if (aml_failed(&a)) {
		o->full = true;
		return NULL;
	}
	memset(o->buf + o->used, 0, at - o->used);
	h = (struct acpi_table_header *)(o->buf + at);
	memset(h, 0, sizeof(*h));
	o->used = at + sizeof(*h) + a.len;
	/* Revision 2: integers are 64 bits wide (§5.2.11.1). */
	header_init(h, "DSDT", (uint32_t)(sizeof(*h) + a.len), 2);
	table_seal(h);
	return h;
}

/* ---- Fixed tables --------------------------------------------------------- */

static struct acpi_table_header *build_fadt(struct acpi_out *o, uint64_t dsdt)
{
	struct acpi_fadt *f = out_take(o, sizeof(*f));
	const struct acpi_gas sleep = {
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 8,
		.access_width = ACPI_GAS_ACCESS_BYTE,
	};

	if (!f)
		return NULL;
	/* Revision 6.5: the layout with the hypervisor vendor identity field. */
	header_init(&f->header, "FACP", sizeof(*f), 6);
	f->minor_version = 5;
	/*
	 * Hardware-reduced (§4.1): no PM1/GPE blocks, no SCI, no FACS, so the
	 * fixed-hardware fields stay 0 but for the PM timer (below). Power off goes through the sleep
	 * registers (§4.8.3.7) that vmm/power.c emulates.
	 */
	f->flags = FADT_HW_REDUCED_ACPI | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP;
	/*
	 * No VGA, no 8042 and no CMOS RTC are emulated, so Linux should not
	 * probe them; ASPM has no meaning on emulated links.
	 */
	f->iapc_boot_arch = FADT_BOOT_NO_VGA | FADT_BOOT_NO_ASPM | FADT_BOOT_NO_CMOS_RTC;
	f->x_dsdt = dsdt;
	f->sleep_control_reg = sleep;
	f->sleep_control_reg.address = MACHINE_SLEEP_CTL_PORT;
	f->sleep_status_reg = sleep;
	f->sleep_status_reg.address = MACHINE_SLEEP_STS_PORT;
	/* Reboot through the PC reset control register, which vmm/pci.c emulates. */
	f->reset_reg = sleep;
	f->reset_reg.address = MACHINE_RESET_PORT;
	f->reset_value = MACHINE_RESET_VALUE;
	/*
	 * The PM timer (vmm/pmtimer.c), 24 bits: a guest without kvm-clock
	 * calibrates its TSC against it. Both the 32-bit and the X field, as
	 * QEMU fills them.
	 */
	f->pm_tmr_blk = MACHINE_PM_TIMER_PORT;
	f->pm_tmr_len = 4;
	f->x_pm_tmr_blk = (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 32,
		.access_width = ACPI_GAS_ACCESS_DWORD,
		.address = MACHINE_PM_TIMER_PORT,
	};
	memcpy(&f->hypervisor_vendor_id, "TAGVMM\0\0", 8);
	table_seal(&f->header);
	return &f->header;
}

static struct acpi_table_header *build_madt(struct acpi_out *o, const struct machine *m)
{
	size_t len = sizeof(struct acpi_madt) + m->ncpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) + sizeof(struct madt_irq_override) +
		     sizeof(struct madt_lapic_nmi);
	struct acpi_madt *madt = out_take(o, len);
	uint8_t *p;

	if (!madt)
		return NULL;
	/* Revision 5 (ACPI 6.3+): Local APIC flags may carry Online Capable. */
	header_init(&madt->header, "APIC", (uint32_t)len, 5);
	madt->lapic_address = (uint32_t)MACHINE_LAPIC_BASE;
	/* KVM's in-kernel irqchip includes the two 8259s (§5.2.12, Table 5.20). */
	madt->flags = MADT_PCAT_COMPAT;
	p = (uint8_t *)(madt + 1);

	/* KVM numbers vCPUs' APIC IDs from 0 and they all start enabled. */
	for (unsigned int i = 0; i < m->ncpus; i++) {
		struct madt_lapic e = {
			.type = MADT_LAPIC, .length = sizeof(e),
			.processor_uid = (uint8_t)i, .apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}

	struct madt_ioapic io = {
		.type = MADT_IOAPIC, .length = sizeof(io), .ioapic_id = MADT_IOAPIC_ID,
		.address = (uint32_t)MACHINE_IOAPIC_BASE, .gsi_base = 0,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);

	/*
	 * The PIT's IRQ 0 arrives on IOAPIC pin 2, as on every PC since the
	 * 8259 cascade took pin 0 (the VMM routes KVM's GSI 0 to pin 2 to match).
	 */
	struct madt_irq_override iso = {
		.type = MADT_IRQ_OVERRIDE, .length = sizeof(iso),
		.bus = 0, .source_irq = 0, .gsi = 2, .flags = 0,
	};
	memcpy(p, &iso, sizeof(iso));
	p += sizeof(iso);

	/* NMIs come in on LINT1 of every local APIC, as virtual-wire mode wires it. */
	struct madt_lapic_nmi nmi = {
		.type = MADT_LAPIC_NMI, .length = sizeof(nmi),
		.processor_uid = 0xff, .flags = 0, .lint = 1,
	};
	memcpy(p, &nmi, sizeof(nmi));

	table_seal(&madt->header);
	return &madt->header;
}

static struct acpi_table_header *build_mcfg(struct acpi_out *o)
{
	size_t len = sizeof(struct acpi_mcfg) + sizeof(struct mcfg_allocation);
	struct acpi_mcfg *mcfg = out_take(o, len);
	struct mcfg_allocation *alloc;

	if (!mcfg)
		return NULL;
	header_init(&mcfg->header, "MCFG", (uint32_t)len, 1);
	alloc = (struct mcfg_allocation *)(mcfg + 1);
	alloc->base = MACHINE_ECAM_BASE;
	alloc->segment = 0;
	alloc->start_bus = 0;
	alloc->end_bus = MACHINE_PCI_BUSES - 1;
	table_seal(&mcfg->header);
	return &mcfg->header;
}

/* PCI functions the DRHD of unit @unit lists explicitly. */
static bool drhd_lists(const struct machine *m, size_t unit, int catch_all, size_t k)
{
	return m->pci[k].iommu == unit && (int)unit != catch_all;
}

static struct acpi_table_header *build_dmar(struct acpi_out *o, const struct machine *m)
{
	int catch_all = machine_iommu_catch_all(m);
	size_t len = sizeof(struct acpi_dmar);
	struct acpi_dmar *dmar;
	uint8_t *p;

	for (size_t u = 0; u < m->niommus; u++) {
		len += sizeof(struct dmar_drhd);
		for (size_t k = 0; k < m->npci; k++)
			if (drhd_lists(m, u, catch_all, k))
				len += sizeof(struct dmar_device_scope);
	}
	dmar = out_take(o, len);
	if (!dmar)
		return NULL;
	header_init(&dmar->header, "DMAR", (uint32_t)len, 1);
	dmar->host_address_width = MACHINE_DMA_ADDR_BITS - 1;
	/*
	 * Flags 0: no interrupt remapping, since the IOAPIC is KVM's and the
	 * VMM cannot remap what it raises.
	 */
	dmar->flags = 0;
	p = (uint8_t *)(dmar + 1);

	/* The INCLUDE_PCI_ALL unit is the last one, as the VT-d spec requires. */
	for (size_t u = 0; u < m->niommus; u++) {
		struct dmar_drhd drhd = {
			.type = 0, .length = sizeof(drhd),
			.flags = (int)u == catch_all ? DRHD_INCLUDE_PCI_ALL : 0,
			.size = 0, .segment = m->iommus[u].segment,
			.register_base = m->iommus[u].base,
		};
		uint8_t *start = p;

		p += sizeof(drhd);
		for (size_t k = 0; k < m->npci; k++) {
			uint16_t bdf = m->pci[k].bdf;
			struct dmar_device_scope s = {
				.type = DMAR_SCOPE_PCI_ENDPOINT, .length = sizeof(s),
				.start_bus = bdf >> 8,
				.device = (bdf >> 3) & 0x1f, .function = bdf & 7,
			};

			if (!drhd_lists(m, u, catch_all, k))
				continue;
			memcpy(p, &s, sizeof(s));
			p += sizeof(s);
		}
		drhd.length = (uint16_t)(p - start);
		memcpy(start, &drhd, sizeof(drhd));
	}
	table_seal(&dmar->header);
	return &dmar->header;
}

size_t acpi_build(const struct machine *m, uint8_t *buf, size_t size, uint64_t gpa)
{
	struct acpi_out o = { .buf = buf, .size = size, .gpa = gpa };
	struct acpi_table_header *tables[4], *xsdt_h, *dsdt;
	size_t ntables = 0;
	struct acpi_rsdp *rsdp;
	uint8_t *xsdt;

	rsdp = out_take(&o, sizeof(*rsdp));
	xsdt = out_take(&o, sizeof(struct acpi_table_header) + 8 * (m->niommus ? 4 : 3));
	dsdt = build_dsdt(&o);
	if (!rsdp || !xsdt || !dsdt)
		return 0;
	tables[ntables++] = build_fadt(&o, out_gpa(&o, dsdt));
	tables[ntables++] = build_madt(&o, m);
	tables[ntables++] = build_mcfg(&o);
	if (m->niommus)
		tables[ntables++] = build_dmar(&o, m);
	if (o.full)
		return 0;

	/* §5.2.8: the XSDT lists every table but the DSDT (the FADT points at it). */
	xsdt_h = (struct acpi_table_header *)xsdt;
	header_init(xsdt_h, "XSDT", (uint32_t)(sizeof(*xsdt_h) + 8 * ntables), 1);
	for (size_t i = 0; i < ntables; i++) {
		uint64_t addr = out_gpa(&o, tables[i]);

		memcpy(xsdt + sizeof(*xsdt_h) + 8 * i, &addr, 8);
	}
	table_seal(xsdt_h);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = out_gpa(&o, xsdt);
	rsdp->checksum = acpi_checksum(rsdp, ACPI_RSDP_V1_LENGTH);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
	return o.used;
}
