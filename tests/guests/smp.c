// SPDX-License-Identifier: MIT
/*
 * Every vCPU comes up. The CPU list from the device tree (/cpus/cpu@N,
 * reg = APIC ID) and from the ACPI MADT must agree (and match
 * "expect-cpus=N" in the bootargs when given); the BSP then starts each AP
 * with INIT-SIPI-SIPI through the real-mode trampoline (rt/trampoline.S),
 * and each AP, now in long mode on the BSP's page tables, records its LAPIC
 * ID and checks in with a locked increment. Every AP must check in once,
 * within the time limit, with a distinct APIC ID from the tables. Each AP
 * also finds the MSRs firmware sets on every CPU (the MTRR default type,
 * MISC_ENABLE) as the BSP finds them: Linux complains of "inconsistent
 * MTRRdefType settings" otherwise.
 */
#include "rt.h"

TEST_NAME("smp");

#define MAX_CPUS MACHINE_MAX_CPUS
#define MADT_LAPIC 0
#define MADT_X2APIC 9
#define MADT_ENABLED 0x1
/* About 10 us per poll (a port exit): 5 s for all APs, generous for 2 host CPUs. */
#define CHECKIN_POLLS 500000
#define LATE_POLLS 2000
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff

struct cpu_list {
	uint32_t ids[MAX_CPUS];
	unsigned int n;
};

static volatile uint32_t checked_in;
static volatile uint32_t ap_ids[SMP_MAX_APS];
static volatile uint64_t ap_mtrr_def[SMP_MAX_APS], ap_misc_enable[SMP_MAX_APS];

static void ap_check_in(unsigned int slot)
{
	ap_ids[slot] = lapic_id();
	ap_mtrr_def[slot] = rdmsr(MSR_MTRR_DEF_TYPE);
	ap_misc_enable[slot] = rdmsr(MSR_IA32_MISC_ENABLE);
	barrier();
	atomic_inc32(&checked_in);
}

static bool list_has(const struct cpu_list *l, uint32_t id)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

static void list_add(struct cpu_list *l, uint32_t id, const char *from)
{
	expect(l->n < MAX_CPUS, "%s lists more than %u CPUs", from, MAX_CPUS);
	expect(!list_has(l, id), "%s lists APIC ID %u twice", from, id);
	l->ids[l->n++] = id;
}

static void cpus_from_dt(const struct dt *dt, struct cpu_list *l)
{
	int cpus = dt_find(dt, "/cpus");
	uint64_t cells = 1, id;

	expect(cpus >= 0, "device tree has no /cpus");
	dt_prop_cells(dt, cpus, "#address-cells", 0, 1, &cells);
	for (int c = dt_first_child(dt, cpus); c >= 0; c = dt_next_sibling(dt, c)) {
		if (strncmp(dt_name(dt, c), "cpu@", 4))
			continue;
		expect(dt_prop_cells(dt, c, "reg", 0, (unsigned int)cells, &id), "/cpus/%s has no reg",
		       dt_name(dt, c));
		list_add(l, (uint32_t)id, "the device tree");
	}
}

static void cpus_from_madt(struct cpu_list *l)
{
	const struct acpi_header *madt = acpi_find_table("APIC", 0);

	expect(madt, "no ACPI MADT (or a bad checksum on the way)");
	/* Local APIC address and flags (8 bytes), then type/length records. */
	const uint8_t *p = (const uint8_t *)(madt + 1) + 8;
	const uint8_t *end = (const uint8_t *)madt + madt->length;

	while (p + 2 <= end) {
		expect(p[1] >= 2 && p + p[1] <= end, "MADT record at offset %ld is malformed",
		       (long)(p - (const uint8_t *)madt));
		if (p[0] == MADT_LAPIC && p[1] >= 8 && (load_le32(p + 4) & MADT_ENABLED))
			list_add(l, p[3], "the MADT");
		else if (p[0] == MADT_X2APIC && p[1] >= 16 && (load_le32(p + 8) & MADT_ENABLED))
			list_add(l, load_le32(p + 4), "the MADT");
		p += p[1];
	}
}

/* "expect-cpus=N" in /chosen/bootargs, or 0. */
static unsigned int expected_cpus(const struct dt *dt)
{
	static const char key[] = "expect-cpus=";
	int chosen = dt_find(dt, "/chosen");
	const char *args = chosen >= 0 ? dt_prop(dt, chosen, "bootargs", NULL) : NULL;
	unsigned int n = 0;

	for (; args && *args; args++) {
		if (strncmp(args, key, sizeof(key) - 1))
			continue;
		for (args += sizeof(key) - 1; *args >= '0' && *args <= '9'; args++)
			n = n * 10 + (unsigned int)(*args - '0');
		break;
	}
	return n;
}

int main(const void *dtb)
{
	struct dt dt;
	struct cpu_list from_dt = { .n = 0 }, from_madt = { .n = 0 };

	expect(dt_open(&dt, dtb) == 0, "no device tree at %p", dtb);
	cpus_from_dt(&dt, &from_dt);
	cpus_from_madt(&from_madt);
	printf("cpus: %u in the device tree, %u in the MADT\n", from_dt.n, from_madt.n);
	expect(from_dt.n == from_madt.n, "device tree has %u CPUs, MADT %u", from_dt.n, from_madt.n);
	for (unsigned int i = 0; i < from_dt.n; i++)
		expect(list_has(&from_madt, from_dt.ids[i]), "APIC ID %u is in the device tree only",
		       from_dt.ids[i]);
	unsigned int want = expected_cpus(&dt);

	expect(!want || want == from_dt.n, "bootargs expect %u CPUs, tables list %u", want,
	       from_dt.n);

	uint32_t bsp = lapic_id();

	expect(list_has(&from_madt, bsp), "BSP APIC ID %u is not in the tables", bsp);
	lapic_enable();
	for (unsigned int i = 0; i < from_madt.n; i++) {
		if (from_madt.ids[i] == bsp)
			continue;
		expect(smp_start_ap(from_madt.ids[i], ap_check_in), "could not send INIT/SIPI to %u",
		       from_madt.ids[i]);
	}

	unsigned int aps = from_madt.n - 1;

	if (!wait_for_count(&checked_in, aps, CHECKIN_POLLS))
		test_fail("%u of %u APs checked in", checked_in, aps);
	/* A second SIPI must not start an AP twice: give a late check-in time to show. */
	wait_for_count(&checked_in, aps + 1, LATE_POLLS);
	expect(checked_in == aps, "%u check-ins from %u APs", checked_in, aps);

	struct cpu_list seen = { .n = 0 };

	list_add(&seen, bsp, "the check-in list");
	for (unsigned int slot = 0; slot < aps; slot++) {
		printf("ap %u: apic id %u\n", slot, ap_ids[slot]);
		expect(list_has(&from_madt, ap_ids[slot]), "AP with APIC ID %u is not in the tables",
		       ap_ids[slot]);
		list_add(&seen, ap_ids[slot], "the check-in list");
		expect(ap_mtrr_def[slot] == rdmsr(MSR_MTRR_DEF_TYPE),
		       "AP %u: MTRRdefType 0x%lx, the BSP's 0x%lx", ap_ids[slot], ap_mtrr_def[slot],
		       rdmsr(MSR_MTRR_DEF_TYPE));
		expect(ap_misc_enable[slot] == rdmsr(MSR_IA32_MISC_ENABLE),
		       "AP %u: MISC_ENABLE 0x%lx, the BSP's 0x%lx", ap_ids[slot],
		       ap_misc_enable[slot], rdmsr(MSR_IA32_MISC_ENABLE));
	}
	printf("bsp apic id %u, %u APs up\n", bsp, aps);
	return 0;
}
