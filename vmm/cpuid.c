// SPDX-License-Identifier: MIT
/*
 * A vCPU's CPUID from KVM_GET_SUPPORTED_CPUID (see cpuid.h). KVM's table
 * is what the host and KVM can run; the VMM adds what only it knows:
 * - the hypervisor bit (CPUID.1:ECX[31]), without which Linux thinks it
 *   runs on bare hardware and never looks for kvm-clock;
 * - KVM's signature leaf and its feature leaf as KVM reports it (the
 *   features are all implemented in the kernel: kvm-clock, steal time, PV
 *   EOI, PV unhalt, async page faults ...), so the guest can use them,
 *   less the extended MSI destination ID: like QEMU, only a VMM with a
 *   split irqchip decodes it, and tagvmm's IOAPIC is KVM's;
 * - the TSC frequency, in the timing leaf 0x40000010 (QEMU's and VMware's
 *   convention: EAX TSC kHz, EBX APIC bus kHz), when KVM reports it;
 * - each vCPU's APIC ID, and a topology of one package with one core per
 *   vCPU, instead of the host's, which would not match the MADT.
 * The software KVM this project's CI runs on ignores KVM_SET_CPUID2; a
 * KVM with hardware virtualization enforces it.
 */
#include <asm/kvm_para.h>
#include <linux/kvm.h>
#include <string.h>

#include "vmm/cpuid.h"

#define KVM_APIC_BUS_KHZ	1000000U	/* KVM's local APIC timer counts at 1 GHz */

/* ceil(log2(n)): the APIC ID bits that number @n vCPUs. */
static unsigned int order(unsigned int n)
{
	unsigned int bits = 0;

	while ((1U << bits) < n)
		bits++;
	return bits;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == function &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index))
			return e;
	}
	return NULL;
}

/* The entry for (@function, index 0), added zeroed when KVM did not list it. */
static struct kvm_cpuid_entry2 *find_or_add(struct kvm_cpuid2 *c, unsigned int capacity,
					    uint32_t function)
{
	struct kvm_cpuid_entry2 *e = find(c, function, 0);

	if (e || c->nent >= capacity)
		return e;
	e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	return e;
}

static int is_amd(struct kvm_cpuid2 *c)
{
	const struct kvm_cpuid_entry2 *e = find(c, 0, 0);

	/* "AuthenticAMD" and "HygonGenuine" in EBX EDX ECX; EBX tells them apart. */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

/* Leaves 0xb and 0x1f, per level: SMT (one thread per core), then core. */
static void topology_level(struct kvm_cpuid_entry2 *e, unsigned int index, unsigned int ncpus)
{
	e->edx = index;
	switch (e->index) {
	case 0:
		e->eax = 0;			/* APIC ID bits below the core level */
		e->ebx = 1;			/* threads per core */
		e->ecx = 0 | 1U << 8;		/* level 0, type SMT */
		break;
	case 1:
		e->eax = order(ncpus);
		e->ebx = ncpus;
		e->ecx = 1 | 2U << 8;		/* level 1, type core */
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index & 0xff;	/* type 0: no such level */
		break;
	}
}

int cpuid_build(struct kvm_cpuid2 *c, unsigned int capacity, unsigned int index,
		const struct cpuid_config *cfg)
{
	unsigned int ncpus = cfg->ncpus ? cfg->ncpus : 1;
	unsigned int logical = 1U << order(ncpus);
	struct kvm_cpuid_entry2 *sig, *feat, *timing;
	const int amd = is_amd(c);

	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			e->ebx = (e->ebx & 0x0000ffff) | (index & 0xff) << 24 | (logical & 0xff) << 16;
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4:
			/* Cores per package (EAX[31:26]); threads sharing the cache (EAX[25:14]). */
			if (e->eax & 0x1f) {
				unsigned int sharing = ((e->eax >> 5) & 7) == 3 ? logical - 1 : 0;

				e->eax = (e->eax & 0x3fff) | sharing << 14 | (logical - 1) << 26;
			}
			break;
		case 0xb:
		case 0x1f:
			topology_level(e, index, ncpus);
			break;
		case 0x80000008:
			/* AMD: cores per package - 1 (ECX[7:0]) and the APIC ID bits for them (ECX[15:12]). */
			if (amd)
				e->ecx = (e->ecx & ~0xf0ffU) | order(ncpus) << 12 | (ncpus - 1);
			break;
		case 0x8000001e:
			/* AMD topology extensions: extended APIC ID, one core per compute unit, node 0. */
			e->eax = index;
			e->ebx = index & 0xff;
			e->ecx = 0;
			break;
		}
	}

	/* KVM lists its signature and features leaves; a KVM that does not gets them with no features. */
	sig = find_or_add(c, capacity, CPUID_KVM_SIGNATURE);
	feat = sig ? find_or_add(c, capacity, CPUID_KVM_FEATURES) : NULL;
	if (!feat)
		return -1;
	sig->ebx = 0x4b4d564b;	/* "KVMK" */
	sig->ecx = 0x564b4d56;	/* "VMKV" */
	sig->edx = 0x0000004d;	/* "M\0\0\0" */
	sig->eax = CPUID_KVM_FEATURES;
	feat->eax &= ~(1U << KVM_FEATURE_MSI_EXT_DEST_ID);
	if (cfg->tsc_khz) {
		timing = find_or_add(c, capacity, CPUID_HV_TIMING);
		if (!timing)
			return -1;
		timing->eax = cfg->tsc_khz;
		timing->ebx = KVM_APIC_BUS_KHZ;
		timing->ecx = timing->edx = 0;
		sig->eax = CPUID_HV_TIMING;
	}
	return 0;
}
