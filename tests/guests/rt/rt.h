/* SPDX-License-Identifier: MIT */
/*
 * The test-guest runtime: what every ELF64 guest in tests/guests links.
 * Guests run in ring 0 under a software KVM that emulates each ring-0
 * instruction, so the helpers favour few instructions over generality, and
 * the build forbids SSE/x87 (see check-insns.sh). The memory map and ports
 * come from vmm/machine.h, the same header the VMM builds the machine from.
 */
#ifndef TAGVMM_GUEST_RT_H
#define TAGVMM_GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/machine.h"
#include "trampoline.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE_SIZE 4096UL
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Each guest names itself once: TEST_NAME("hello"); the result lines use it. */
extern const char rt_test_name[];
#define TEST_NAME(n) const char rt_test_name[] = n

/* The guest's entry point, called by crt0 with the DTB address the VMM put in RDI. */
int main(const void *dtb);

/* ---- Result protocol (test.c). Returning 0 from main also passes. ---- */
NORETURN void test_pass(void);
NORETURN PRINTF_LIKE(1, 2) void test_fail(const char *fmt, ...);
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			test_fail(__VA_ARGS__);                                                    \
	} while (0)
/*
 * Returns on the first CPU to reach a verdict; any later caller halts (or,
 * on that same CPU, powers off: a failure while failing).
 */
void rt_claim_verdict(void);
/* 0 for the BSP, 1 + slot for APs; derived from the stack, so it cannot fault. */
unsigned int rt_cpu_index(void);
/* ACPI S5 through the hardware-reduced sleep control port; never returns. */
NORETURN void power_off(void);
NORETURN void halt_forever(void);

/* ---- Console (console.c): COM1, polled. ---- */
void putchar_serial(char c);
void puts_serial(const char *s);
PRINTF_LIKE(1, 2) void printf(const char *fmt, ...);
void vprintf(const char *fmt, va_list ap);

/* ---- Freestanding string functions (string.c); the compiler may call them. ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- Port I/O and MMIO. ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint8_t readb(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t readw(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static inline uint32_t readl(uint64_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline uint64_t readq(uint64_t a) { return *(volatile uint64_t *)(uintptr_t)a; }
static inline void writeb(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline void writew(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }
static inline void writel(uint64_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }
static inline void writeq(uint64_t a, uint64_t v) { *(volatile uint64_t *)(uintptr_t)a = v; }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

/* Atomics: plain lock-prefixed ops only (the emulator rejects cmpxchg16b). */
static inline uint32_t atomic_fetch_add32(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p)::"memory");
	return v;
}
static inline void atomic_inc32(volatile uint32_t *p) { __asm__ volatile("lock incl %0" : "+m"(*p)::"memory"); }

/* ---- Control registers and MSRs. ---- */
#define CR0_WP (1UL << 16)
#define CR0_PG (1UL << 31)
#define CR4_PAE (1UL << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1UL << 8)
#define EFER_NXE (1UL << 11)
#define DEFINE_CR(n)                                                                               \
	static inline uint64_t read_cr##n(void)                                                    \
	{                                                                                          \
		uint64_t v;                                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* ---- Exceptions (trap.c, isr.S). crt0 installs all 256 IDT gates. ---- */
#define VEC_DE 0
#define VEC_BP 3
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

/* What isr.S pushes: general registers, then vector and error code, then the CPU's frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct trap_info {
	uint64_t vector, error_code, rip, cr2;
};

/*
 * Run fn(arg) expecting an exception. Returns true, with @out filled, when
 * one arrived (execution resumes here, fn abandoned); false when fn
 * returned normally. Not nestable; BSP only.
 */
bool trap_run(void (*fn)(void *), void *arg, struct trap_info *out);
/* Route @vector to @h instead of the fatal default (interrupts, later guests). */
typedef void (*trap_handler)(struct trap_frame *f);
void trap_set_handler(unsigned int vector, trap_handler h);
const char *trap_name(unsigned int vector);
void idt_load(void);

/* ---- Paging (paging.c): own 4-level tables from a static pool. ---- */
#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL
#define PAGE_2M (2UL << 20)

/* A fresh, empty PML4; NULL when the pool is exhausted. */
uint64_t *pt_new(void);
/* Map one 4 KiB page (splitting a 2 MiB mapping if one covers it). 0 or -1. */
int pt_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags);
int pt_map_2m(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags);
/* Identity-map [start, end) with 2 MiB pages; both 2 MiB aligned. */
int pt_identity_2m(uint64_t *pml4, uint64_t start, uint64_t end, uint64_t flags);
/* Make one 4 KiB page not present (and flush it if @pml4 is live). */
int pt_unmap(uint64_t *pml4, uint64_t va);
static inline void pt_switch(uint64_t *pml4) { write_cr3((uintptr_t)pml4); }

/* ---- Device tree (fdt.c): a read-only walk of the structure block. ---- */
#define FDT_MAGIC 0xd00dfeedU
struct dt {
	const uint8_t *blob;
	const uint8_t *structs;
	const char *strings;
	uint32_t struct_size, total_size;
};
static inline uint32_t be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint64_t be64(const void *p) { return (uint64_t)be32(p) << 32 | be32((const uint8_t *)p + 4); }
/* 0, or -1 when @blob is not a version-17-compatible DTB. */
int dt_open(struct dt *dt, const void *blob);
/* Node offsets are >= 0; -1 means not found. "/pci" matches "pci@e0000000". */
int dt_find(const struct dt *dt, const char *path);
int dt_first_child(const struct dt *dt, int node);
int dt_next_sibling(const struct dt *dt, int node);
const char *dt_name(const struct dt *dt, int node);
const void *dt_prop(const struct dt *dt, int node, const char *name, uint32_t *len);
/* A property of 1 or 2 cells read as a number (#address-cells style). */
bool dt_prop_cells(const struct dt *dt, int node, const char *name, unsigned int index,
		   unsigned int cells, uint64_t *out);

/* ---- ACPI (acpi.c). ---- */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
/* The RSDP in the BIOS area (checksums verified), or NULL. */
const void *acpi_find_rsdp(void);
/* The table with @sig (XSDT order, @index-th match), checksum verified, or NULL. */
const struct acpi_header *acpi_find_table(const char *sig, unsigned int index);
uint8_t acpi_sum(const void *p, size_t len);
static inline uint64_t load_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}
static inline uint32_t load_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- PCI configuration space (pci.c). ---- */
#define PCI_BDF(b, d, f) ((uint16_t)((b) << 8 | (d) << 3 | (f)))
uint32_t pci_cf8_read32(uint16_t bdf, unsigned int reg);
void pci_cf8_write32(uint16_t bdf, unsigned int reg, uint32_t v);
uint32_t pci_ecam_read32(uint64_t ecam, uint16_t bdf, unsigned int reg);
void pci_ecam_write32(uint64_t ecam, uint16_t bdf, unsigned int reg, uint32_t v);

/* ---- Local APIC, xAPIC mode (lapic.c). ---- */
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_INIT 0x00000500U
#define ICR_STARTUP 0x00000600U
#define ICR_LEVEL_ASSERT 0x00004000U
#define ICR_BUSY 0x00001000U
static inline uint32_t lapic_read(unsigned int reg) { return readl(MACHINE_LAPIC_BASE + reg); }
static inline void lapic_write(unsigned int reg, uint32_t v) { writel(MACHINE_LAPIC_BASE + reg, v); }
static inline uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
void lapic_enable(void);
/* Send an IPI; false when the ICR stayed busy. */
bool lapic_ipi(uint32_t apic_id, uint32_t icr_lo);

/*
 * Start the AP with @apic_id (INIT, SIPI, SIPI) through the real-mode
 * trampoline at SMP_TRAMPOLINE_ADDR. The AP switches to long mode on the
 * BSP's page tables, loads the runtime's GDT and IDT, takes its own stack
 * and calls fn(slot), slot counting APs in arrival order from 0; then it
 * halts. Returns false when an IPI could not be sent.
 */
bool smp_start_ap(uint32_t apic_id, void (*fn)(unsigned int slot));

/*
 * Wait until *p >= want, polling at most @polls times. Each poll reads the
 * serial LSR: one cheap VM exit paces the loop by wall time rather than by
 * emulated instructions. Returns whether the value was reached.
 */
bool wait_for_count(volatile uint32_t *p, uint32_t want, unsigned long polls);

#endif
