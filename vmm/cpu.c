// SPDX-License-Identifier: MIT
/*
 * The boot vCPU's first state. bzImages (64-bit boot protocol) and the
 * ELF64 test guests start in long mode with a flat GDT whose selectors
 * are Linux's __BOOT_CS/__BOOT_DS and an identity map of the first 4 GiB
 * in 2 MiB pages; PVH kernels start in flat 32-bit protected mode with
 * paging off, as Xen's PVH ABI (docs/misc/pvh.pandoc) specifies. The
 * tables are written by functions that only touch guest memory, so the
 * unit tests can check them without KVM.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vmm/boot.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_MP	(1ULL << 1)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define X86_RFLAGS_FIXED 0x2ULL		/* bit 1 always reads as one */

#define PTE_PRESENT	(1ULL << 0)
#define PTE_WRITE	(1ULL << 1)
#define PTE_LARGE	(1ULL << 7)	/* a 2 MiB page in a PD entry */
#define PAGE_SIZE_4K	0x1000ULL
#define PAGE_SIZE_2M	0x200000ULL
#define IDENT_MAP_GIB	4		/* one PD per GiB; covers the MMIO hole too */
#define PT_ENTRIES	512

#define SEG_TYPE_CODE	0xb		/* execute/read, accessed */
#define SEG_TYPE_DATA	0x3		/* read/write, accessed */

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING	(1ULL << 0)
#define MTRR_DEF_ENABLE		(1ULL << 11)
#define MTRR_TYPE_WRBACK	6ULL

#define APIC_LVT_LINT0		0x350
#define APIC_LVT_LINT1		0x360
#define APIC_DELIVERY_MASK	(7U << 8)
#define APIC_MODE_NMI		4U
#define APIC_MODE_EXTINT	7U

#define FPU_DEFAULT_FCW		0x37f	/* FNINIT's control word: all exceptions masked */
#define FPU_DEFAULT_MXCSR	0x1f80	/* all SSE exceptions masked */

/* A flat (base 0, 4 GiB, present, ring-0) segment. */
static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_mode)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = long_mode && type == SEG_TYPE_CODE ? 0 : 1,	/* D must be 0 when L is 1 */
		.s = 1,
		.l = long_mode && type == SEG_TYPE_CODE,
		.g = 1,
	};
}

/* The GDT descriptor for @s, so the table and the hidden registers agree. */
static uint64_t gdt_descriptor(const struct kvm_segment *s)
{
	uint64_t limit = s->g ? s->limit >> 12 : s->limit;
	uint64_t access = (uint64_t)s->type | (uint64_t)s->s << 4 | (uint64_t)s->dpl << 5 |
			  (uint64_t)s->present << 7;
	uint64_t flags = (uint64_t)s->avl | (uint64_t)s->l << 1 | (uint64_t)s->db << 2 |
			 (uint64_t)s->g << 3;

	return (limit & 0xffff) | (s->base & 0xffffff) << 16 | access << 40 |
	       ((limit >> 16) & 0xf) << 48 | flags << 52 | ((s->base >> 24) & 0xff) << 56;
}

static int write_gdt(struct vm *vm, bool long_mode)
{
	struct kvm_segment code = flat_segment(BOOT_GDT_CODE, SEG_TYPE_CODE, long_mode);
	struct kvm_segment data = flat_segment(BOOT_GDT_DATA, SEG_TYPE_DATA, long_mode);
	uint64_t gdt[BOOT_GDT_ENTRIES] = { 0 };
	void *dst = vm_gpa(vm, MACHINE_GDT_ADDR, sizeof(gdt));

	if (!dst)
		return -1;
	gdt[BOOT_GDT_CODE / 8] = gdt_descriptor(&code);
	gdt[BOOT_GDT_DATA / 8] = gdt_descriptor(&data);
	memcpy(dst, gdt, sizeof(gdt));
	return 0;
}

/* PML4 -> one PDPT -> IDENT_MAP_GIB page directories of 2 MiB pages, contiguous. */
static int write_identity_map(struct vm *vm)
{
	const uint64_t pdpt_addr = MACHINE_PML4_ADDR + PAGE_SIZE_4K;
	const uint64_t pd_addr = pdpt_addr + PAGE_SIZE_4K;
	uint64_t *pml4 = vm_gpa(vm, MACHINE_PML4_ADDR, (2 + IDENT_MAP_GIB) * PAGE_SIZE_4K);
	uint64_t *pdpt, *pd;

	if (!pml4)
		return -1;
	pdpt = pml4 + PT_ENTRIES;
	pd = pdpt + PT_ENTRIES;
	memset(pml4, 0, (2 + IDENT_MAP_GIB) * PAGE_SIZE_4K);
	pml4[0] = pdpt_addr | PTE_PRESENT | PTE_WRITE;
	for (uint64_t g = 0; g < IDENT_MAP_GIB; g++)
		pdpt[g] = (pd_addr + g * PAGE_SIZE_4K) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < IDENT_MAP_GIB * PT_ENTRIES; i++)
		pd[i] = i * PAGE_SIZE_2M | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
	return 0;
}

int cpu_write_boot_tables(struct vm *vm, enum boot_kind kind, char *err, size_t errlen)
{
	bool long_mode = kind != BOOT_PVH;

	if (write_gdt(vm, long_mode) || (long_mode && write_identity_map(vm))) {
		snprintf(err, errlen, "no guest RAM for the boot GDT and page tables");
		return -1;
	}
	return 0;
}

void cpu_boot_sregs(struct kvm_sregs *s, const struct boot_entry *e)
{
	bool long_mode = e->kind != BOOT_PVH;
	struct kvm_segment data = flat_segment(BOOT_GDT_DATA, SEG_TYPE_DATA, long_mode);

	s->cs = flat_segment(BOOT_GDT_CODE, SEG_TYPE_CODE, long_mode);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	/* TR and LDT keep KVM's reset state, which VMX accepts in both modes. */
	s->gdt.base = MACHINE_GDT_ADDR;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	/* No IDT: a fault before the guest installs its own is a clean triple fault. */
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr2 = 0;
	if (long_mode) {
		/* Assigned whole: the reset value has CD and NW set, caching off. */
		s->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
		s->cr3 = MACHINE_PML4_ADDR;
		s->cr4 = X86_CR4_PAE;
		s->efer = EFER_LME | EFER_LMA;
	} else {
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		s->cr3 = 0;
		s->cr4 = 0;
		s->efer = 0;
	}
}

void cpu_boot_regs(struct kvm_regs *r, const struct boot_entry *e)
{
	memset(r, 0, sizeof(*r));
	r->rflags = X86_RFLAGS_FIXED;
	r->rip = e->entry;
	r->rsp = MACHINE_BOOT_STACK;
	switch (e->kind) {
	case BOOT_BZIMAGE:
		r->rsi = e->zero_page;
		break;
	case BOOT_PVH:
		r->rbx = e->start_info;
		break;
	case BOOT_ELF64:
		r->rdi = e->dtb;
		break;
	}
}

static int set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = { .fcw = FPU_DEFAULT_FCW, .mxcsr = FPU_DEFAULT_MXCSR };

	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu);
}

/*
 * The MSRs Firecracker sets for its vCPUs, less the TSC (KVM synchronizes
 * the vCPUs' TSCs itself): syscall and sysenter entry points cleared, fast
 * strings on (Linux's memcpy prefers rep movs when firmware enabled them),
 * and MTRRs on with write-back as the default type, as firmware leaves
 * them; Linux keeps what it finds. Firmware does this on every CPU, and
 * INIT keeps MSRs, so the APs get them too before the guest starts them:
 * otherwise Linux finds "inconsistent MTRRdefType settings".
 */
static int set_msrs(struct vcpu *vcpu, char *err, size_t errlen)
{
	static const struct kvm_msr_entry boot_msrs[] = {
		{ .index = MSR_IA32_SYSENTER_CS },
		{ .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP },
		{ .index = MSR_STAR },
		{ .index = MSR_LSTAR },
		{ .index = MSR_CSTAR },
		{ .index = MSR_SYSCALL_MASK },
		{ .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
		{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_ENABLE | MTRR_TYPE_WRBACK },
	};
	const size_t n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[sizeof(boot_msrs) / sizeof(boot_msrs[0])];
	} msrs;
	int done;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = (uint32_t)n;
	memcpy(msrs.entries, boot_msrs, sizeof(boot_msrs));
	done = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (done < 0) {
		snprintf(err, errlen, "KVM_SET_MSRS: %s", strerror(errno));
		return -1;
	}
	/* KVM stops at the first MSR it refuses and returns how many it set. */
	if ((size_t)done < n) {
		snprintf(err, errlen, "KVM_SET_MSRS: KVM refused MSR 0x%x",
			 (unsigned int)boot_msrs[done].index);
		return -1;
	}
	return 0;
}

static void set_lvt_mode(struct kvm_lapic_state *lapic, unsigned int reg, unsigned int mode)
{
	uint32_t v;

	memcpy(&v, lapic->regs + reg, sizeof(v));
	v = (v & ~APIC_DELIVERY_MASK) | mode << 8;
	memcpy(lapic->regs + reg, &v, sizeof(v));
}

/*
 * LINT0 delivers the 8259's ExtINT and LINT1 NMIs, the virtual wiring a
 * PC's firmware programs; Linux's through-the-PIC timer check and NMI
 * watchdog rely on it.
 */
static int set_lapic(struct vcpu *vcpu, char *err, size_t errlen)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic)) {
		snprintf(err, errlen, "KVM_GET_LAPIC: %s", strerror(errno));
		return -1;
	}
	set_lvt_mode(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt_mode(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic)) {
		snprintf(err, errlen, "KVM_SET_LAPIC: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int cpu_setup_boot(struct vcpu *vcpu, const struct boot_entry *e, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (cpu_write_boot_tables(vcpu->vm, e->kind, err, errlen))
		return -1;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	cpu_boot_sregs(&sregs, e);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs)) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	cpu_boot_regs(&regs, e);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs)) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	if (set_fpu(vcpu)) {
		snprintf(err, errlen, "KVM_SET_FPU: %s", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < vcpu->vm->ncpus; i++)
		if (set_msrs(&vcpu->vm->vcpus[i], err, errlen))
			return -1;
	if (set_lapic(vcpu, err, errlen))
		return -1;
	return 0;
}
