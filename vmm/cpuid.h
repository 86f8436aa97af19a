/* SPDX-License-Identifier: MIT */
/*
 * The CPUID a vCPU sees, built from KVM_GET_SUPPORTED_CPUID the way QEMU
 * and kvmtool build theirs: what KVM can virtualize, plus what a guest must
 * learn from its VMM (that it runs under KVM, KVM's paravirtual features,
 * the TSC frequency, the vCPU's APIC ID and the topology), and nothing the
 * VMM does not back. Pure functions on the table, so unit tests can check
 * them without KVM.
 */
#ifndef TAGVMM_VMM_CPUID_H
#define TAGVMM_VMM_CPUID_H

#include <stdint.h>

struct kvm_cpuid2;

#define CPUID_1_ECX_HYPERVISOR	(1U << 31)
#define CPUID_1_EDX_HTT		(1U << 28)
#define CPUID_KVM_SIGNATURE	0x40000000U	/* EBX ECX EDX: "KVMKVMKVM\0\0\0" */
#define CPUID_KVM_FEATURES	0x40000001U	/* EAX: KVM_FEATURE_* bits */
#define CPUID_HV_TIMING		0x40000010U	/* EAX: TSC kHz, EBX: APIC bus kHz */
#define CPUID_ADDED_LEAVES	3		/* at most: signature, features, timing */

struct cpuid_config {
	unsigned int ncpus;	/* vCPUs, one package of single-thread cores */
	uint32_t tsc_khz;	/* the guest's TSC frequency; 0 when KVM does not say */
};

/*
 * Turn @c, a copy of KVM_GET_SUPPORTED_CPUID's table with room for @capacity
 * entries, into vCPU @index's CPUID. Returns 0, or -1 when the leaves it
 * must add do not fit.
 */
int cpuid_build(struct kvm_cpuid2 *c, unsigned int capacity, unsigned int index,
		const struct cpuid_config *cfg);

#endif
