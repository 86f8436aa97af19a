// SPDX-License-Identifier: MIT
/*
 * ELF64 kernels. A vmlinux carrying Xen's PHYS32_ENTRY note boots through
 * PVH: segments at their physical addresses, an hvm_start_info in EBX, and
 * the vCPU in flat 32-bit protected mode at the note's address. Any other
 * x86-64 ELF executable is taken for one of the project's test guests:
 * long mode, identity paging, e_entry as RIP and the device tree in RDI.
 * That includes a vmlinux without the note, whose virtual e_entry then
 * fails the "entry inside a loaded segment" check with a clear message.
 *
 * Position-independent (ET_DYN) images are refused: their segments start
 * at address 0, on top of the VMM's boot structures, and nothing here
 * would relocate them.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "vmm/boot.h"
#include "vmm/fdt.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

/* More program headers than any kernel has; bounds the work on hostile input. */
#define ELF_MAX_PHDRS		512
#define ELF_MAX_SHDRS		65280	/* below SHN_LORESERVE */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* The PVH start of day ABI (Xen's public hvm/start_info.h), version 1. */
#define HVM_START_MAGIC		0x336ec578
#define HVM_START_VERSION	1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;			/* XEN_HVM_MEMMAP_TYPE_*: the e820 numbers */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info v1 is 56 bytes");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entries are 24 bytes");

/* Layout of the PVH page: start_info, then module 0 (the initrd), then the memmap. */
#define PVH_MODLIST_ADDR	(MACHINE_PVH_START_INFO + 0x40)
#define PVH_MEMMAP_ADDR		(MACHINE_PVH_START_INFO + 0x80)
_Static_assert(0x80 + MACHINE_MAX_E820 * sizeof(struct hvm_memmap_table_entry) <= 0x1000,
	       "the PVH structures fit one page");
_Static_assert(MACHINE_PVH_START_INFO + 0x1000 <= MACHINE_ZERO_PAGE,
	       "the PVH page stays clear of the zero page");

/* [off, off + size) lies inside a file of @len bytes. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Look through one note area for the PVH entry. Note headers and payloads
 * are 4-byte aligned in ELF64 as written by the kernel (8 when the area
 * says so, as for GNU property notes).
 */
static int scan_notes(const uint8_t *p, uint64_t size, uint64_t align, struct elf_image *out,
		      char *err, size_t errlen)
{
	uint64_t pos = 0;

	align = align == 8 ? 8 : 4;
	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, p + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		desc_off = name_off + align_up(nh.n_namesz, align);
		next = desc_off + align_up(nh.n_descsz, align);
		if (desc_off > size || nh.n_descsz > size - desc_off) {
			snprintf(err, errlen, "ELF: malformed note (runs past its segment)");
			return -1;
		}
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(p + name_off, "Xen", 4)) {
			uint64_t entry;

			if (nh.n_descsz == 4) {
				uint32_t v;

				memcpy(&v, p + desc_off, 4);
				entry = v;
			} else if (nh.n_descsz == 8) {
				memcpy(&entry, p + desc_off, 8);
			} else {
				snprintf(err, errlen, "ELF: PVH entry note has a %u-byte value",
					 nh.n_descsz);
				return -1;
			}
			if (entry > UINT32_MAX) {
				snprintf(err, errlen, "ELF: PVH entry 0x%llx is not a 32-bit address",
					 (unsigned long long)entry);
				return -1;
			}
			out->has_pvh = true;
			out->pvh_entry = entry;
		}
		if (next >= size)
			break;
		pos = next;
	}
	return 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (len < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG)) {
		snprintf(err, errlen, "not an ELF file");
		return -1;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64) {
		snprintf(err, errlen, "ELF: not x86-64 (%s)",
			 eh->e_ident[EI_CLASS] == ELFCLASS32 ? "ELFCLASS32" : "bad ELF class");
		return -1;
	}
	if (len < sizeof(*eh)) {
		snprintf(err, errlen, "ELF: truncated header (%zu bytes)", len);
		return -1;
	}
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "ELF: not x86-64 (not little-endian)");
		return -1;
	}
	if (eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "ELF: not x86-64 (e_machine %u%s)", eh->e_machine,
			 eh->e_machine == EM_386 ? ", i386" : "");
		return -1;
	}
	if (eh->e_type != ET_EXEC) {
		snprintf(err, errlen, "ELF: not an executable (e_type %u%s)", eh->e_type,
			 eh->e_type == ET_DYN ? ": position-independent images are not supported" : "");
		return -1;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !eh->e_phnum ||
	    eh->e_phnum > ELF_MAX_PHDRS) {
		snprintf(err, errlen, "ELF: unusable program header table (%u entries of %u bytes)",
			 eh->e_phnum, eh->e_phentsize);
		return -1;
	}
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len)) {
		snprintf(err, errlen, "ELF: program headers beyond the end of the file (truncated?)");
		return -1;
	}
	return 0;
}

/* Section-header notes, for images whose notes have no PT_NOTE. Bad tables are ignored. */
static int scan_section_notes(const uint8_t *img, size_t len, const Elf64_Ehdr *eh,
			      struct elf_image *out, char *err, size_t errlen)
{
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum > ELF_MAX_SHDRS ||
	    !in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), len))
		return 0;
	for (unsigned int i = 0; i < eh->e_shnum && !out->has_pvh; i++) {
		Elf64_Shdr sh;

		memcpy(&sh, img + eh->e_shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_NOTE || !in_file(sh.sh_offset, sh.sh_size, len))
			continue;
		if (scan_notes(img + sh.sh_offset, sh.sh_size, sh.sh_addralign, out, err, errlen))
			return -1;
	}
	return 0;
}

int elf_probe(const uint8_t *img, size_t len, struct elf_image *out, char *err, size_t errlen)
{
	Elf64_Ehdr eh = { 0 };
	bool have_note_segment = false;

	memset(out, 0, sizeof(*out));
	memcpy(&eh, img, len < sizeof(eh) ? len : sizeof(eh));
	if (check_header(&eh, len, err, errlen))
		return -1;
	out->entry = eh.e_entry;

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			if (!in_file(ph.p_offset, ph.p_filesz, len)) {
				snprintf(err, errlen, "ELF: note segment beyond the end of the file");
				return -1;
			}
			have_note_segment = true;
			if (scan_notes(img + ph.p_offset, ph.p_filesz, ph.p_align, out, err, errlen))
				return -1;
			continue;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz) {
			snprintf(err, errlen, "ELF: segment %u has filesz 0x%llx > memsz 0x%llx", i,
				 (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_memsz);
			return -1;
		}
		if (!in_file(ph.p_offset, ph.p_filesz, len)) {
			snprintf(err, errlen,
				 "ELF: segment %u (offset 0x%llx, 0x%llx bytes) lies outside the file (truncated?)",
				 i, (unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz);
			return -1;
		}
		if (ph.p_paddr > UINT64_MAX - ph.p_memsz) {
			snprintf(err, errlen, "ELF: segment %u wraps around the address space", i);
			return -1;
		}
		if (!ph.p_memsz)
			continue;
		if (out->nseg == ELF_MAX_SEGMENTS) {
			snprintf(err, errlen, "ELF: more than %d loadable segments", ELF_MAX_SEGMENTS);
			return -1;
		}
		out->seg[out->nseg++] = (struct elf_segment){
			.paddr = ph.p_paddr, .filesz = ph.p_filesz,
			.memsz = ph.p_memsz, .offset = ph.p_offset,
		};
	}
	if (!out->nseg) {
		snprintf(err, errlen, "ELF: no loadable segments");
		return -1;
	}
	if (!have_note_segment && scan_section_notes(img, len, &eh, out, err, errlen))
		return -1;
	return 0;
}

static bool inside_segment(const struct elf_image *ei, uint64_t addr)
{
	for (size_t i = 0; i < ei->nseg; i++)
		if (addr >= ei->seg[i].paddr && addr - ei->seg[i].paddr < ei->seg[i].memsz)
			return true;
	return false;
}

static int load_segments(struct boot_load_ctx *c, const struct elf_image *ei, uint64_t *end,
			 char *err, size_t errlen)
{
	*end = MACHINE_HIGH_LOAD;
	for (size_t i = 0; i < ei->nseg; i++) {
		const struct elf_segment *s = &ei->seg[i];
		uint64_t seg_end = s->paddr + s->memsz;	/* elf_probe ruled out wrapping */
		uint8_t *dst;

		if (s->paddr < MACHINE_HIGH_LOAD) {
			snprintf(err, errlen,
				 "%s: ELF: segment at 0x%llx overlaps the boot area below 1 MiB",
				 c->kernel_path, (unsigned long long)s->paddr);
			return -1;
		}
		dst = vm_gpa(c->vm, s->paddr, s->memsz);
		if (!dst) {
			bool hole = s->paddr < MACHINE_HOLE_END && seg_end > MACHINE_HOLE_START;

			if (hole)
				snprintf(err, errlen,
					 "%s: ELF: segment 0x%llx-0x%llx overlaps the MMIO hole (0x%llx-0x%llx)",
					 c->kernel_path, (unsigned long long)s->paddr,
					 (unsigned long long)seg_end, MACHINE_HOLE_START, MACHINE_HOLE_END);
			else
				snprintf(err, errlen,
					 "%s: ELF: segment 0x%llx-0x%llx is outside guest RAM (%llu MiB)",
					 c->kernel_path, (unsigned long long)s->paddr,
					 (unsigned long long)seg_end,
					 (unsigned long long)(c->vm->machine.ram_size >> 20));
			return -1;
		}
		memcpy(dst, c->img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
		if (seg_end > *end)
			*end = seg_end;
	}
	return 0;
}

static int write_start_info(struct boot_load_ctx *c, uint64_t initrd_addr, char *err,
			    size_t errlen)
{
	const struct machine *m = &c->vm->machine;
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = HVM_START_VERSION,
		.cmdline_paddr = MACHINE_CMDLINE_ADDR,
		.rsdp_paddr = c->rsdp,
		.memmap_paddr = PVH_MEMMAP_ADDR,
		.memmap_entries = (uint32_t)m->ne820,
	};
	struct hvm_memmap_table_entry *map;
	void *dst;

	if (initrd_addr) {
		struct hvm_modlist_entry mod = { .paddr = initrd_addr, .size = c->initrd_size };

		dst = vm_gpa(c->vm, PVH_MODLIST_ADDR, sizeof(mod));
		if (!dst)
			goto no_ram;
		memcpy(dst, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}
	map = vm_gpa(c->vm, PVH_MEMMAP_ADDR, m->ne820 * sizeof(*map));
	dst = vm_gpa(c->vm, MACHINE_PVH_START_INFO, sizeof(si));
	if (!map || !dst)
		goto no_ram;
	for (size_t i = 0; i < m->ne820; i++) {
		struct hvm_memmap_table_entry e = {
			.addr = m->e820[i].addr, .size = m->e820[i].size, .type = m->e820[i].type,
		};

		memcpy(&map[i], &e, sizeof(e));
	}
	memcpy(dst, &si, sizeof(si));
	return 0;
no_ram:
	snprintf(err, errlen, "no guest RAM for the PVH start info");
	return -1;
}

/* The test guests' DTB, with the initrd in /chosen as the DT spec names it. */
static int write_dtb(struct boot_load_ctx *c, uint64_t initrd_addr, char *err, size_t errlen)
{
	void *dtb = vm_gpa(c->vm, MACHINE_DTB_ADDR, MACHINE_DTB_MAX);
	char why[160];
	int chosen, rc;

	if (!dtb) {
		snprintf(err, errlen, "no guest RAM for the device tree");
		return -1;
	}
	if (fdt_build(&c->vm->machine, c->cmdline, dtb, MACHINE_DTB_MAX, why, sizeof(why))) {
		snprintf(err, errlen, "device tree: %s", why);
		return -1;
	}
	if (!initrd_addr)
		return 0;
	rc = fdt_open_into(dtb, dtb, MACHINE_DTB_MAX);
	chosen = rc ? rc : fdt_path_offset(dtb, "/chosen");
	if (chosen == -FDT_ERR_NOTFOUND)
		chosen = fdt_add_subnode(dtb, 0, "chosen");
	rc = chosen < 0 ? chosen : fdt_setprop_u64(dtb, chosen, "linux,initrd-start", initrd_addr);
	if (!rc)
		rc = fdt_setprop_u64(dtb, chosen, "linux,initrd-end", initrd_addr + c->initrd_size);
	if (!rc)
		rc = fdt_pack(dtb);
	if (rc) {
		snprintf(err, errlen, "device tree: initrd properties: %s", fdt_strerror(rc));
		return -1;
	}
	return 0;
}

int elf_load(struct boot_load_ctx *c, const struct elf_image *ei, struct boot_entry *out,
	     char *err, size_t errlen)
{
	uint64_t entry = ei->has_pvh ? ei->pvh_entry : ei->entry;
	uint64_t kernel_end, initrd_addr;

	if (!inside_segment(ei, entry)) {
		snprintf(err, errlen, "%s: ELF: %s 0x%llx is not inside a loaded segment%s",
			 c->kernel_path, ei->has_pvh ? "PVH entry" : "entry point",
			 (unsigned long long)entry,
			 ei->has_pvh ? "" : " (a vmlinux without a PVH note?)");
		return -1;
	}
	if (load_segments(c, ei, &kernel_end, err, errlen))
		return -1;
	if (boot_put_cmdline(c, MACHINE_CMDLINE_MAX - 1, err, errlen))
		return -1;
	/* Below 4 GiB: PVH starts without paging, test guests see only the identity map. */
	if (boot_put_initrd(c, kernel_end, MACHINE_HOLE_END, &initrd_addr, err, errlen))
		return -1;

	if (ei->has_pvh) {
		if (write_start_info(c, initrd_addr, err, errlen))
			return -1;
		out->kind = BOOT_PVH;
		out->entry = ei->pvh_entry;
		out->start_info = MACHINE_PVH_START_INFO;
		return 0;
	}
	if (write_dtb(c, initrd_addr, err, errlen))
		return -1;
	out->kind = BOOT_ELF64;
	out->entry = ei->entry;
	out->dtb = MACHINE_DTB_ADDR;
	return 0;
}
