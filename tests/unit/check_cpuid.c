// SPDX-License-Identifier: MIT
/*
 * cpuid_build() on synthetic KVM_GET_SUPPORTED_CPUID tables (an Intel-like
 * and an AMD-like host): the hypervisor bit, KVM's leaves, the TSC
 * frequency, APIC IDs and topology, and the room check. No KVM needed.
 */
#include <asm/kvm_para.h>
#include <check.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/cpuid.h"

#define CAP 32

static struct kvm_cpuid2 *table;

static struct kvm_cpuid_entry2 *add(uint32_t fn, uint32_t idx, uint32_t eax, uint32_t ebx,
				    uint32_t ecx, uint32_t edx, int indexed)
{
	struct kvm_cpuid_entry2 *e = &table->entries[table->nent++];

	*e = (struct kvm_cpuid_entry2){ .function = fn, .index = idx, .eax = eax, .ebx = ebx,
		.ecx = ecx, .edx = edx, .flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0 };
	return e;
}

static const struct kvm_cpuid_entry2 *get(uint32_t fn, uint32_t idx)
{
	for (unsigned int i = 0; i < table->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &table->entries[i];

		if (e->function == fn && e->index == idx)
			return e;
	}
	return NULL;
}

/* A host with SMT and 8 cores, its own APIC ID 5, KVM's leaves as KVM lists them. */
static void intel_host(void)
{
	table = calloc(1, sizeof(*table) + CAP * sizeof(table->entries[0]));
	ck_assert_ptr_nonnull(table);
	add(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69, 0);	/* GenuineIntel */
	add(1, 0, 0x906ea, 0x05100800, 0x7ffafbff, 0xbfebfbff, 0);
	add(4, 0, 0x1c004121, 0, 0, 0, 1);	/* L1d, 2 threads share it */
	add(4, 1, 0x1c004163, 0, 0, 0, 1);	/* L3 */
	add(4, 2, 0, 0, 0, 0, 1);
	add(0xb, 0, 1, 2, 0x100, 5, 1);
	add(0xb, 1, 4, 16, 0x201, 5, 1);
	add(0xb, 2, 0, 0, 2, 5, 1);
	add(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d, 0);
	add(0x40000001, 0, (1U << KVM_FEATURE_CLOCKSOURCE2) | (1U << KVM_FEATURE_MSI_EXT_DEST_ID),
	    0, 0, 0, 0);
	add(0x80000008, 0, 0x3027, 0, 0, 0, 0);
}

static void teardown(void)
{
	free(table);
	table = NULL;
}

START_TEST(test_hypervisor_bit_and_kvm_leaves)
{
	struct cpuid_config cfg = { .ncpus = 1 };

	ck_assert_int_eq(cpuid_build(table, CAP, 0, &cfg), 0);
	ck_assert_uint_ne(get(1, 0)->ecx & CPUID_1_ECX_HYPERVISOR, 0);
	/* Host features stay as KVM reported them. */
	ck_assert_uint_eq(get(1, 0)->ecx & 0x7fffffff, 0x7ffafbff);
	ck_assert_uint_eq(get(0x40000000, 0)->ebx, 0x4b4d564b);
	ck_assert_uint_eq(get(0x40000000, 0)->ecx, 0x564b4d56);
	ck_assert_uint_eq(get(0x40000000, 0)->edx, 0x4d);
	ck_assert_uint_eq(get(0x40000000, 0)->eax, CPUID_KVM_FEATURES);
	/* KVM's features, less the extended MSI destination ID KVM's irqchip does not decode for us. */
	ck_assert_uint_eq(get(0x40000001, 0)->eax, 1U << KVM_FEATURE_CLOCKSOURCE2);
	ck_assert_ptr_null(get(CPUID_HV_TIMING, 0));
}
END_TEST

START_TEST(test_tsc_frequency)
{
	struct cpuid_config cfg = { .ncpus = 1, .tsc_khz = 2100000 };

	ck_assert_int_eq(cpuid_build(table, CAP, 0, &cfg), 0);
	ck_assert_uint_eq(get(0x40000000, 0)->eax, CPUID_HV_TIMING);
	ck_assert_ptr_nonnull(get(CPUID_HV_TIMING, 0));
	ck_assert_uint_eq(get(CPUID_HV_TIMING, 0)->eax, 2100000);
	ck_assert_uint_eq(get(CPUID_HV_TIMING, 0)->ebx, 1000000);
}
END_TEST

START_TEST(test_topology_three_cpus)
{
	struct cpuid_config cfg = { .ncpus = 3 };

	ck_assert_int_eq(cpuid_build(table, CAP, 2, &cfg), 0);
	/* Leaf 1: APIC ID 2, 4 logical IDs in the package, HTT set, low bits kept. */
	ck_assert_uint_eq(get(1, 0)->ebx, 0x02040800);
	ck_assert_uint_ne(get(1, 0)->edx & CPUID_1_EDX_HTT, 0);
	/* Leaf 4: 4 core IDs per package; L1 private, L3 shared by all. */
	ck_assert_uint_eq(get(4, 0)->eax, 0x0c000121);
	ck_assert_uint_eq(get(4, 1)->eax, 0x0c00c163);
	ck_assert_uint_eq(get(4, 2)->eax, 0);
	/* Leaf 0xb: one thread per core, 3 cores in 2 APIC ID bits, this vCPU's x2APIC ID. */
	ck_assert_uint_eq(get(0xb, 0)->eax, 0);
	ck_assert_uint_eq(get(0xb, 0)->ebx, 1);
	ck_assert_uint_eq(get(0xb, 0)->ecx, 0x100);
	ck_assert_uint_eq(get(0xb, 1)->eax, 2);
	ck_assert_uint_eq(get(0xb, 1)->ebx, 3);
	ck_assert_uint_eq(get(0xb, 1)->ecx, 0x201);
	ck_assert_uint_eq(get(0xb, 2)->ecx, 2);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_uint_eq(get(0xb, i)->edx, 2);
	/* Not an AMD host: its 0x80000008 ECX stays. */
	ck_assert_uint_eq(get(0x80000008, 0)->ecx, 0);
}
END_TEST

START_TEST(test_one_cpu_clears_htt)
{
	struct cpuid_config cfg = { .ncpus = 1 };

	ck_assert_int_eq(cpuid_build(table, CAP, 0, &cfg), 0);
	ck_assert_uint_eq(get(1, 0)->ebx, 0x00010800);
	ck_assert_uint_eq(get(1, 0)->edx & CPUID_1_EDX_HTT, 0);
	ck_assert_uint_eq(get(0xb, 1)->eax, 0);
	ck_assert_uint_eq(get(0xb, 1)->ebx, 1);
}
END_TEST

/* A KVM that lists no hypervisor leaves: the signature is added, with no features. */
START_TEST(test_adds_missing_leaves)
{
	struct cpuid_config cfg = { .ncpus = 2, .tsc_khz = 1000 };

	table->nent = 2;	/* leaves 0 and 1 only */
	ck_assert_int_eq(cpuid_build(table, CAP, 1, &cfg), 0);
	ck_assert_uint_eq(table->nent, 5);
	ck_assert_uint_eq(get(0x40000000, 0)->ebx, 0x4b4d564b);
	ck_assert_uint_eq(get(0x40000001, 0)->eax, 0);
	ck_assert_uint_eq(get(CPUID_HV_TIMING, 0)->eax, 1000);
}
END_TEST

START_TEST(test_no_room)
{
	struct cpuid_config cfg = { .ncpus = 1, .tsc_khz = 1000 };

	table->nent = 2;
	ck_assert_int_eq(cpuid_build(table, 3, 0, &cfg), -1);
	ck_assert_uint_le(table->nent, 3);
	table->nent = 2;
	ck_assert_int_eq(cpuid_build(table, 2 + CPUID_ADDED_LEAVES, 0, &cfg), 0);
}
END_TEST

START_TEST(test_amd_topology)
{
	struct cpuid_config cfg = { .ncpus = 2 };

	table->entries[0].ebx = 0x68747541;	/* AuthenticAMD */
	table->entries[0].edx = 0x69746e65;
	table->entries[0].ecx = 0x444d4163;
	add(0x8000001e, 0, 9, 0x104, 0x301, 0, 0);
	ck_assert_int_eq(cpuid_build(table, CAP, 1, &cfg), 0);
	/* 2 cores (ECX[7:0] = 1) in 1 APIC ID bit; the address sizes in EAX kept. */
	ck_assert_uint_eq(get(0x80000008, 0)->ecx, 0x1001);
	ck_assert_uint_eq(get(0x80000008, 0)->eax, 0x3027);
	ck_assert_uint_eq(get(0x8000001e, 0)->eax, 1);
	ck_assert_uint_eq(get(0x8000001e, 0)->ebx, 1);
	ck_assert_uint_eq(get(0x8000001e, 0)->ecx, 0);
}
END_TEST

static Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("build");

	tcase_add_checked_fixture(tc, intel_host, teardown);
	tcase_add_test(tc, test_hypervisor_bit_and_kvm_leaves);
	tcase_add_test(tc, test_tsc_frequency);
	tcase_add_test(tc, test_topology_three_cpus);
	tcase_add_test(tc, test_one_cpu_clears_htt);
	tcase_add_test(tc, test_adds_missing_leaves);
	tcase_add_test(tc, test_no_room);
	tcase_add_test(tc, test_amd_topology);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(cpuid_suite());
}
