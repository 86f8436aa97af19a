// SPDX-License-Identifier: MIT
/*
 * Five exceptions, each raised on purpose, caught with trap_run() and
 * checked for vector, error code, faulting RIP (and CR2 for #PF), then
 * execution goes on: #DE (divide by zero), #UD (ud2), #BP (int3, which
 * this host's KVM cannot emulate: the VMM steps over it and injects #BP,
 * so RIP must point after the int3), #PF (a page this guest unmapped in
 * its own 4 KiB page tables, and a write to a read-only page), #GP (a
 * non-canonical address).
 */
#include "rt.h"

TEST_NAME("exceptions");

/*
 * The faulting instructions, with labels, so the test knows the exact RIP
 * each exception must report. Arguments arrive in RDI (System V).
 */
__asm__(".text\n"
	"raise_de:\n"
	"	xor %ecx, %ecx\n"
	"	mov $1, %eax\n"
	"	xor %edx, %edx\n"
	"de_insn:\n"
	"	div %ecx\n"
	"	ret\n"
	"raise_ud:\n"
	"ud_insn:\n"
	"	ud2\n"
	"	ret\n"
	"raise_bp:\n"
	"	int3\n"
	"bp_next:\n"
	"	ret\n"
	"load_from:\n"
	"load_insn:\n"
	"	mov (%rdi), %rax\n"
	"	ret\n"
	"store_to:\n"
	"store_insn:\n"
	"	movq $0, (%rdi)\n"
	"	ret\n");
void raise_de(void *), raise_ud(void *), raise_bp(void *), load_from(void *), store_to(void *);
extern const char de_insn[], ud_insn[], bp_next[], load_insn[], store_insn[];

#define PF_ERR_PRESENT 0x1
#define PF_ERR_WRITE 0x2
#define NON_CANONICAL 0x8000000000000000ULL
/* A 2 MiB region of RAM, split into 4 KiB pages by the guest's own tables. */
#define TEST_REGION 0x600000ULL
#define HOLE_VA (TEST_REGION + 0x5000)
#define RO_VA (TEST_REGION + 0x6000)

static unsigned int passed;

static void check(const char *what, void (*fn)(void *), void *arg, uint64_t vector,
		  uint64_t error_code, const char *rip, uint64_t cr2)
{
	struct trap_info ti;

	if (!trap_run(fn, arg, &ti))
		test_fail("%s: no exception", what);
	expect(ti.vector == vector, "%s: got %s (vector %lu), want vector %lu", what,
	       trap_name(ti.vector), ti.vector, vector);
	expect(ti.error_code == error_code, "%s: error code 0x%lx, want 0x%lx", what, ti.error_code,
	       error_code);
	expect(ti.rip == (uintptr_t)rip, "%s: rip 0x%lx, want %p", what, ti.rip, rip);
	if (vector == VEC_PF)
		expect(ti.cr2 == cr2, "%s: cr2 0x%lx, want 0x%lx", what, ti.cr2, cr2);
	printf("%s: %s error 0x%lx rip 0x%lx ok\n", what, trap_name(ti.vector), ti.error_code,
	       ti.rip);
	passed++;
}

static void nothing(void *arg) { (void)arg; }

/*
 * Own tables: RAM identity-mapped with 2 MiB pages except TEST_REGION, in
 * 4 KiB pages, where HOLE_VA was mapped, touched (so a TLB may hold it) and
 * unmapped again with invlpg, and RO_VA is read-only.
 */
static uint64_t *build_tables(void)
{
	uint64_t *pml4 = pt_new();

	expect(pml4, "page-table pool empty");
	expect(pt_identity_2m(pml4, 0, 1UL << 30, PTE_W) == 0, "identity map failed");
	expect(pt_map(pml4, RO_VA, RO_VA, 0) == 0, "mapping the read-only page failed");
	return pml4;
}

int main(const void *dtb)
{
	(void)dtb;
	struct trap_info ti;

	expect(!trap_run(nothing, NULL, &ti), "trap_run reported %s for a function that returned",
	       trap_name(ti.vector));

	check("#DE div by zero", raise_de, NULL, VEC_DE, 0, de_insn, 0);
	check("#UD ud2", raise_ud, NULL, VEC_UD, 0, ud_insn, 0);
	check("#BP int3", raise_bp, NULL, VEC_BP, 0, bp_next, 0);
	check("#GP non-canonical", load_from, (void *)NON_CANONICAL, VEC_GP, 0, load_insn, 0);

	uint64_t vmm_cr3 = read_cr3();
	uint64_t *pml4 = build_tables();

	/* Supervisor writes honour read-only pages only with CR0.WP. */
	write_cr0(read_cr0() | CR0_WP);
	pt_switch(pml4);
	load_from((void *)HOLE_VA);
	expect(pt_unmap(pml4, HOLE_VA) == 0, "unmap failed");
	check("#PF not present (read)", load_from, (void *)(HOLE_VA + 0x123), VEC_PF, 0, load_insn,
	      HOLE_VA + 0x123);
	check("#PF read-only (write)", store_to, (void *)(RO_VA + 0x8), VEC_PF,
	      PF_ERR_PRESENT | PF_ERR_WRITE, store_insn, RO_VA + 0x8);
	write_cr3(vmm_cr3);

	/* Still standing after six exceptions: the handlers resumed us each time. */
	expect(passed == 6, "%u of 6 exceptions checked", passed);
	return 0;
}
