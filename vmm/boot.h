/* SPDX-License-Identifier: MIT */
/*
 * Loading what the VM boots: a Linux bzImage (x86 boot protocol, 64-bit
 * entry), an ELF vmlinux through its PVH entry note, or one of the
 * project's ELF64 test guests (long mode, identity paging, DTB address in
 * RDI). The parsers work on byte buffers so tests can feed them anything.
 */
#ifndef TAGVMM_VMM_BOOT_H
#define TAGVMM_VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

enum boot_kind { BOOT_BZIMAGE, BOOT_PVH, BOOT_ELF64 };

struct boot_config {
	const char *kernel;		/* path */
	const char *initrd;		/* path or NULL */
	const char *cmdline;		/* or NULL */
};

/* How the boot vCPU enters the guest. */
struct boot_entry {
	enum boot_kind kind;
	uint64_t entry;			/* RIP (or EIP for PVH) */
	uint64_t zero_page;		/* bzImage: boot_params, in RSI */
	uint64_t start_info;		/* PVH: hvm_start_info, in EBX */
	uint64_t dtb;			/* ELF64 guests: the device tree, in RDI */
};

/* bzImage setup header fields the loader uses (boot protocol 2.12+). */
struct bzimage_info {
	uint16_t version;
	uint8_t setup_sects;
	uint32_t syssize;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint64_t pref_address;
	uint32_t init_size;
	bool relocatable, xloadflags_64;
	size_t setup_size;		/* bytes of real-mode setup before the kernel */
};

struct elf_segment {
	uint64_t paddr, filesz, memsz, offset;
};

#define ELF_MAX_SEGMENTS 16
struct elf_image {
	uint64_t entry;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	size_t nseg;
	bool has_pvh;			/* XEN_ELFNOTE_PHYS32_ENTRY present */
	uint64_t pvh_entry;		/* 32-bit entry point */
};

/* Parse; -1 with a message when the image is not what it should be. */
int bzimage_probe(const uint8_t *img, size_t len, struct bzimage_info *out, char *err,
		  size_t errlen);
int elf_probe(const uint8_t *img, size_t len, struct elf_image *out, char *err, size_t errlen);

/*
 * Load the kernel (format sniffed: bzImage, ELF with a PVH note, or an
 * ELF64 test guest), the initrd and the command line into @vm's memory,
 * and write the boot structures (boot_params with e820, hvm_start_info,
 * or the DTB). ACPI tables must be in place already: their RSDP address
 * goes into the boot structures. Returns 0 or -1 with a message.
 */
int boot_load(struct vm *vm, const struct boot_config *cfg, uint64_t rsdp, struct boot_entry *out,
	      char *err, size_t errlen);

/*
 * Set the boot vCPU's registers for @e: long mode with identity paging of
 * the first 4 GiB (bzImage, ELF64) or flat 32-bit protected mode (PVH).
 * Application processors are left to the in-kernel LAPIC (INIT/SIPI); they
 * get the MSRs firmware sets on every CPU.
 */
int cpu_setup_boot(struct vcpu *vcpu, const struct boot_entry *e, char *err, size_t errlen);

/*
 * Loader internals shared by boot.c, bzimage.c, elf.c and cpu.c, and
 * visible to the unit tests.
 */
struct boot_load_ctx {
	struct vm *vm;
	const char *kernel_path;
	const uint8_t *img;		/* the kernel file, read whole */
	size_t len;
	const char *cmdline;		/* never NULL ("" when none) */
	size_t cmdline_len;		/* without the terminating NUL */
	const char *initrd_path;	/* NULL: no initrd */
	int initrd_fd;
	uint64_t initrd_size;
	uint64_t rsdp;
};

/* Copy the command line to MACHINE_CMDLINE_ADDR; @max_len excludes the NUL. */
int boot_put_cmdline(struct boot_load_ctx *c, uint64_t max_len, char *err, size_t errlen);
/*
 * Read the initrd into guest RAM, page-aligned, as high as possible with its
 * last byte below @limit and its first at or above @floor. @addr is 0 when
 * there is no initrd.
 */
int boot_put_initrd(struct boot_load_ctx *c, uint64_t floor, uint64_t limit, uint64_t *addr,
		    char *err, size_t errlen);
int bzimage_load(struct boot_load_ctx *c, const struct bzimage_info *bi, struct boot_entry *out,
		 char *err, size_t errlen);
int elf_load(struct boot_load_ctx *c, const struct elf_image *ei, struct boot_entry *out,
	     char *err, size_t errlen);

/* Bytes in MiB, rounded up, for messages about image sizes. */
static inline uint64_t boot_mib_up(uint64_t bytes)
{
	return (bytes >> 20) + ((bytes & ((1ULL << 20) - 1)) != 0);
}

/* GDT selectors the VMM's boot GDT provides (Linux's __BOOT_CS, __BOOT_DS). */
#define BOOT_GDT_CODE	0x10
#define BOOT_GDT_DATA	0x18
#define BOOT_GDT_ENTRIES 4

/*
 * The memory-only half of cpu_setup_boot: the boot GDT at MACHINE_GDT_ADDR
 * (64-bit or, for PVH, 32-bit code at BOOT_GDT_CODE) and, except for PVH,
 * the identity map of the first 4 GiB at MACHINE_PML4_ADDR.
 */
int cpu_write_boot_tables(struct vm *vm, enum boot_kind kind, char *err, size_t errlen);

struct kvm_sregs;
struct kvm_regs;
/* Register state for @e on top of what KVM_GET_SREGS returned after reset. */
void cpu_boot_sregs(struct kvm_sregs *s, const struct boot_entry *e);
void cpu_boot_regs(struct kvm_regs *r, const struct boot_entry *e);

#endif
