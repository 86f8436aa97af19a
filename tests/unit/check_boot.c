// SPDX-License-Identifier: MIT
/*
 * Unit tests for the boot loaders (vmm/boot.c, bzimage.c, elf.c) and the
 * memory half of the vCPU setup (vmm/cpu.c). No KVM: a struct vm built by
 * hand with malloc'ed RAM, kernels crafted byte by byte into temp files.
 */
#include <check.h>
#include <elf.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <asm/bootparam.h>
#include <libfdt.h>
#include <linux/kvm.h>

#include "check_main.h"
#include "vmm/boot.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

#define MIB (1ULL << 20)
#define RAM_SIZE (128 * MIB)
#define RSDP 0xe0000ULL

static struct vm vm;
static char tmpdir[64];
static char err[512];

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	ck_assert_int_eq(machine_init(&vm.machine, 1, RAM_SIZE), 0);
	vm.mem[0].gpa = 0;
	vm.mem[0].size = machine_low_ram_end(&vm.machine);
	vm.mem[0].host = malloc(vm.mem[0].size);
	ck_assert_ptr_nonnull(vm.mem[0].host);
	/* Not zero, so the tests see what the loaders clear. */
	memset(vm.mem[0].host, 0xaa, vm.mem[0].size);
	vm.nmem = 1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_boot.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	err[0] = '\0';
}

static void teardown(void)
{
	char cmd[128];

	free(vm.mem[0].host);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint8_t *gpa(uint64_t addr)
{
	return vm.mem[0].host + addr;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char paths[4][128];
	static int next;
	char *path = paths[next++ % 4];
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* A sparse file of @size bytes whose first bytes say where they are. */
static const char *write_initrd(uint64_t size)
{
	const char *path = write_file("initrd", "INITRD-START", 12);

	ck_assert_int_eq(truncate(path, (off_t)size), 0);
	return path;
}

static int load(const char *kernel, const char *initrd, const char *cmdline,
		struct boot_entry *e)
{
	struct boot_config cfg = { .kernel = kernel, .initrd = initrd, .cmdline = cmdline };

	return boot_load(&vm, &cfg, RSDP, e, err, sizeof(err));
}

/* The tables stay clear of the stack, zero page and command line. */
_Static_assert(MACHINE_PML4_ADDR >= MACHINE_BOOT_STACK, "stack below the page tables");
_Static_assert(MACHINE_PML4_ADDR + 6 * 0x1000 <= MACHINE_CMDLINE_ADDR, "tables below the cmdline");

#define ck_assert_err(substr)                                                                      \
	ck_assert_msg(strstr(err, substr), "error \"%s\" lacks \"%s\"", err, substr)

/* ---- bzImage ---- */

#define BZ_SETUP_SECTS 4
#define BZ_PAYLOAD 0x3000
#define BZ_INIT_SIZE (8 * MIB)
#define BZ_PREF 0x1000000ULL

struct bz {
	uint8_t *img;
	size_t len;
	struct setup_header *hdr;
};

static struct bz make_bzimage(unsigned int setup_sects, size_t payload)
{
	size_t setup = ((size_t)(setup_sects ? setup_sects : 4) + 1) * 512;
	struct bz b = { .len = setup + payload };

	b.img = calloc(1, b.len);
	ck_assert_ptr_nonnull(b.img);
	b.hdr = (struct setup_header *)(b.img + 0x1f1);
	b.hdr->setup_sects = (uint8_t)setup_sects;
	b.hdr->syssize = (uint32_t)((payload + 15) / 16);
	b.hdr->boot_flag = 0xaa55;
	b.hdr->jump = 0x6aeb;	/* header runs to 0x202 + 0x6a */
	memcpy(&b.hdr->header, "HdrS", 4);
	b.hdr->version = 0x020f;
	b.hdr->loadflags = LOADED_HIGH;
	b.hdr->initrd_addr_max = 0x7fffffff;
	b.hdr->kernel_alignment = 0x200000;
	b.hdr->relocatable_kernel = 1;
	b.hdr->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	b.hdr->cmdline_size = 0x7ff;
	b.hdr->pref_address = BZ_PREF;
	b.hdr->init_size = BZ_INIT_SIZE;
	/* Beyond the header: must not reach boot_params. */
	b.img[0x1ef] = 0xff;	/* the sentinel */
	b.img[0x2d0] = 0x77;	/* where e820_table lives */
	for (size_t i = 0; i < payload; i++)
		b.img[setup + i] = (uint8_t)(i * 7 + 1);
	return b;
}

static const char *save_bz(struct bz *b)
{
	const char *path = write_file("bzImage", b->img, b->len);

	free(b->img);
	return path;
}

START_TEST(bz_good)
{
	struct bz b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	size_t setup = (BZ_SETUP_SECTS + 1) * 512;
	uint8_t *expect = malloc(b.len);
	const char *cmdline = "console=ttyS0 root=/dev/vda";
	const char *kernel;
	uint64_t initrd_size = 3 * MIB + 123, lo, hi, top;
	struct boot_params *bp;
	struct boot_entry e;

	memcpy(expect, b.img, b.len);
	kernel = save_bz(&b);
	ck_assert_int_eq(load(kernel, write_initrd(initrd_size), cmdline, &e), 0);
	ck_assert_int_eq(e.kind, BOOT_BZIMAGE);
	ck_assert_uint_eq(e.entry, MACHINE_HIGH_LOAD + 0x200);
	ck_assert_uint_eq(e.zero_page, MACHINE_ZERO_PAGE);
	ck_assert_mem_eq(gpa(MACHINE_HIGH_LOAD), expect + setup, BZ_PAYLOAD);

	bp = (struct boot_params *)gpa(MACHINE_ZERO_PAGE);
	ck_assert_uint_eq(bp->hdr.version, 0x020f);
	ck_assert_uint_eq(bp->hdr.init_size, BZ_INIT_SIZE);
	ck_assert_uint_eq(bp->hdr.pref_address, BZ_PREF);
	ck_assert_uint_eq(bp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	ck_assert_uint_eq(bp->sentinel, 0);
	ck_assert_uint_eq(bp->screen_info.orig_x, 0);	/* zeroed, not 0xaa from RAM */
	ck_assert_uint_eq(bp->acpi_rsdp_addr, RSDP);

	ck_assert_uint_eq(bp->hdr.cmd_line_ptr, MACHINE_CMDLINE_ADDR);
	ck_assert_uint_eq(bp->ext_cmd_line_ptr, 0);
	ck_assert_str_eq((char *)gpa(MACHINE_CMDLINE_ADDR), cmdline);

	ck_assert_uint_eq(bp->e820_entries, vm.machine.ne820);
	for (size_t i = 0; i < vm.machine.ne820; i++) {
		ck_assert_uint_eq(bp->e820_table[i].addr, vm.machine.e820[i].addr);
		ck_assert_uint_eq(bp->e820_table[i].size, vm.machine.e820[i].size);
		ck_assert_uint_eq(bp->e820_table[i].type, vm.machine.e820[i].type);
	}

	/* Page-aligned, as high as fits, above everything the kernel decompresses into. */
	lo = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	hi = lo + (bp->hdr.ramdisk_size | (uint64_t)bp->ext_ramdisk_size << 32);
	top = machine_low_ram_end(&vm.machine);
	ck_assert_uint_eq(hi - lo, initrd_size);
	ck_assert_uint_eq(lo % 4096, 0);
	ck_assert_uint_ge(lo, BZ_PREF + BZ_INIT_SIZE);
	ck_assert_uint_le(hi, top);
	ck_assert_uint_gt(hi + 4096, top);
	ck_assert_mem_eq(gpa(lo), "INITRD-START", 12);
	free(expect);
}
END_TEST

START_TEST(bz_initrd_below_initrd_addr_max)
{
	struct bz b = make_bzimage(0, BZ_PAYLOAD);	/* setup_sects 0 means 4 */
	struct boot_params *bp;
	struct boot_entry e;

	b.hdr->initrd_addr_max = 0x3ffffff;
	ck_assert_int_eq(load(save_bz(&b), write_initrd(MIB), NULL, &e), 0);
	bp = (struct boot_params *)gpa(MACHINE_ZERO_PAGE);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, 0x4000000 - MIB);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, MIB);
	ck_assert_str_eq((char *)gpa(MACHINE_CMDLINE_ADDR), "");
	ck_assert_mem_eq(gpa(MACHINE_HIGH_LOAD), "\x01\x08\x0f", 3);
}
END_TEST

START_TEST(bz_no_initrd)
{
	struct bz b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	struct boot_params *bp;
	struct boot_entry e;

	b.hdr->version = 0x020c;	/* 2.12: no acpi_rsdp_addr yet */
	ck_assert_int_eq(load(save_bz(&b), NULL, "x", &e), 0);
	bp = (struct boot_params *)gpa(MACHINE_ZERO_PAGE);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, 0);
	ck_assert_uint_eq(bp->acpi_rsdp_addr, 0);
}
END_TEST

/* Each case corrupts one field of a good image; boot_load must refuse with the message. */
static const struct bz_bad {
	const char *what;
	int field;
	const char *message;
} bz_bad[] = {
	{ "no magic", 0, "not a bzImage or ELF kernel" },
	{ "protocol 2.11", 1, "boot protocol 2.11 is too old" },
	{ "truncated", 2, "truncated" },
	{ "setup_sects beyond file", 3, "leaves no kernel" },
	{ "32-bit only", 4, "XLF_KERNEL_64" },
	{ "zImage", 5, "zImage" },
	{ "no boot flag", 6, "0xAA55" },
	{ "header cut short", 7, "truncated setup header" },
	{ "init_size beyond RAM", 8, "kernel needs guest RAM" },
	{ "syssize zero", 9, "truncated" },
};

START_TEST(bz_refused)
{
	const struct bz_bad *t = &bz_bad[_i];
	struct bz b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	struct boot_entry e;

	switch (t->field) {
	case 0: memcpy(&b.hdr->header, "HdrX", 4); break;
	case 1: b.hdr->version = 0x020b; break;
	case 2: b.len -= 0x100; break;
	case 3: b.hdr->setup_sects = 200; break;
	case 4: b.hdr->xloadflags = 0; break;
	case 5: b.hdr->loadflags = 0; break;
	case 6: b.hdr->boot_flag = 0; break;
	case 7: b.len = 0x240; break;
	case 8: b.hdr->init_size = 0xf0000000; break;
	case 9: b.hdr->syssize = 0; break;
	}
	ck_assert_int_eq(load(save_bz(&b), NULL, NULL, &e), -1);
	ck_assert_msg(strstr(err, t->message), "%s: \"%s\" lacks \"%s\"", t->what, err, t->message);
	ck_assert_ptr_nonnull(strstr(err, "bzImage"));	/* the path comes first */
}
END_TEST

START_TEST(bz_cmdline_too_long)
{
	struct bz b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	char *huge = malloc(MACHINE_CMDLINE_MAX + 1);
	struct boot_entry e;
	const char *kernel;

	b.hdr->cmdline_size = 16;
	kernel = save_bz(&b);
	ck_assert_int_eq(load(kernel, NULL, "0123456789abcdef", &e), 0);
	ck_assert_int_eq(load(kernel, NULL, "0123456789abcdefg", &e), -1);
	ck_assert_err("command line too long (17 bytes, at most 16)");

	/* A kernel accepting more than the VMM's buffer is held to the buffer. */
	b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	b.hdr->cmdline_size = 0xffffffff;
	kernel = save_bz(&b);
	memset(huge, 'x', MACHINE_CMDLINE_MAX);
	huge[MACHINE_CMDLINE_MAX] = '\0';
	ck_assert_int_eq(load(kernel, NULL, huge, &e), -1);
	ck_assert_err("command line too long");
	free(huge);
}
END_TEST

START_TEST(bz_initrd_does_not_fit)
{
	struct bz b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	struct boot_entry e;
	const char *kernel = save_bz(&b);

	ck_assert_int_eq(load(kernel, write_initrd(RAM_SIZE + 2 * MIB), NULL, &e), -1);
	ck_assert_err("initrd (130 MiB) does not fit in guest RAM (128 MiB)");

	/* Fits in RAM, but not between the kernel's init_size and the top. */
	ck_assert_int_eq(load(kernel, write_initrd(RAM_SIZE - 20 * MIB), NULL, &e), -1);
	ck_assert_err("does not fit in guest RAM (128 MiB) between the kernel's end (0x1800000)");

	b = make_bzimage(BZ_SETUP_SECTS, BZ_PAYLOAD);
	b.hdr->initrd_addr_max = 0x17fffff;	/* below the kernel's footprint */
	ck_assert_int_eq(load(save_bz(&b), write_initrd(4096), NULL, &e), -1);
	ck_assert_err("does not fit");
}
END_TEST

START_TEST(bz_real_debian_kernel)
{
	glob_t g;
	int tested = 0;

	if (!glob("/boot/vmlinuz-*", 0, NULL, &g)) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct boot_entry e;
			struct boot_params *bp = (struct boot_params *)gpa(MACHINE_ZERO_PAGE);

			if (access(g.gl_pathv[i], R_OK))
				continue;
			ck_assert_msg(!load(g.gl_pathv[i], NULL, "console=ttyS0", &e), "%s", err);
			ck_assert_int_eq(e.kind, BOOT_BZIMAGE);
			ck_assert_uint_ge(bp->hdr.version, 0x020c);
			ck_assert(bp->hdr.xloadflags & XLF_KERNEL_64);
			ck_assert_uint_eq(bp->hdr.cmd_line_ptr, MACHINE_CMDLINE_ADDR);
			tested++;
		}
		globfree(&g);
	}
	if (!tested)
		fprintf(stderr, "check_boot: no readable Debian kernel; crafted images only\n");
}
END_TEST

START_TEST(bz_probe_fields)
{
	struct bz b = make_bzimage(0, BZ_PAYLOAD);
	struct bzimage_info bi;

	ck_assert_int_eq(bzimage_probe(b.img, b.len, &bi, err, sizeof(err)), 0);
	ck_assert_uint_eq(bi.setup_size, 5 * 512);
	ck_assert_uint_eq(bi.version, 0x020f);
	ck_assert_uint_eq(bi.init_size, BZ_INIT_SIZE);
	ck_assert_uint_eq(bi.cmdline_size, 0x7ff);
	ck_assert(bi.relocatable && bi.xloadflags_64);
	/* Every prefix of the image is refused, never read past. */
	for (size_t len = 0; len < b.len - BZ_PAYLOAD + 1; len += 7)
		ck_assert_int_eq(bzimage_probe(b.img, len, &bi, err, sizeof(err)), -1);
	free(b.img);
}
END_TEST

/* ---- ELF ---- */

#define TEXT_ADDR 0x100000ULL
#define DATA_ADDR 0x102000ULL
#define DATA_MEMSZ 0x3000ULL
#define PVH_ENTRY 0x100040ULL

struct elf {
	uint8_t img[0x2000];
	size_t len;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

/* Two PT_LOADs (text, data + bss) and a note segment, optionally with the PVH note. */
static void make_elf(struct elf *f, int pvh_descsz)
{
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = (Elf64_Word)pvh_descsz, .n_type = 18 };
	uint64_t pvh = PVH_ENTRY;
	size_t note = 0x1800, n = 0;

	memset(f, 0, sizeof(*f));
	f->len = sizeof(f->img);
	f->eh = (Elf64_Ehdr *)f->img;
	f->ph = (Elf64_Phdr *)(f->img + sizeof(Elf64_Ehdr));
	memcpy(f->eh->e_ident, ELFMAG, SELFMAG);
	f->eh->e_ident[EI_CLASS] = ELFCLASS64;
	f->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	f->eh->e_ident[EI_VERSION] = EV_CURRENT;
	f->eh->e_type = ET_EXEC;
	f->eh->e_machine = EM_X86_64;
	f->eh->e_entry = TEXT_ADDR;
	f->eh->e_phoff = sizeof(Elf64_Ehdr);
	f->eh->e_phentsize = sizeof(Elf64_Phdr);
	f->eh->e_phnum = 3;
	f->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = TEXT_ADDR,
				 .p_vaddr = TEXT_ADDR, .p_filesz = 0x100, .p_memsz = 0x100 };
	f->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1100, .p_paddr = DATA_ADDR,
				 .p_vaddr = DATA_ADDR, .p_filesz = 0x20, .p_memsz = DATA_MEMSZ };
	for (size_t i = 0; i < 0x120; i++)
		f->img[0x1000 + i] = (uint8_t)(i + 3);
	/* A GNU note first, so the scanner has to step over one. */
	Elf64_Nhdr gnu = { .n_namesz = 4, .n_descsz = 4, .n_type = 3 };
	memcpy(f->img + note, &gnu, sizeof(gnu));
	memcpy(f->img + note + 12, "GNU\0\1\2\3\4", 8);
	n = 20;
	if (pvh_descsz) {
		memcpy(f->img + note + n, &nh, sizeof(nh));
		memcpy(f->img + note + n + 12, "Xen", 4);
		memcpy(f->img + note + n + 16, &pvh, (size_t)pvh_descsz <= 8 ? (size_t)pvh_descsz : 8);
		n += 16 + ((size_t)pvh_descsz + 3) / 4 * 4;
	}
	f->ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = note, .p_filesz = n, .p_align = 4 };
}

/* DT properties are only 4-byte aligned. */
static fdt64_t load_be64(const void *p)
{
	fdt64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static const char *save_elf(struct elf *f)
{
	return write_file("guest.elf", f->img, f->len);
}

START_TEST(elf64_guest)
{
	struct elf f;
	struct boot_entry e;
	const void *dtb;
	const void *prop;
	int chosen, plen;
	uint64_t initrd;

	make_elf(&f, 0);
	ck_assert_int_eq(load(save_elf(&f), write_initrd(2 * MIB), "hello=1", &e), 0);
	ck_assert_int_eq(e.kind, BOOT_ELF64);
	ck_assert_uint_eq(e.entry, TEXT_ADDR);
	ck_assert_uint_eq(e.dtb, MACHINE_DTB_ADDR);
	ck_assert_mem_eq(gpa(TEXT_ADDR), f.img + 0x1000, 0x100);
	ck_assert_mem_eq(gpa(DATA_ADDR), f.img + 0x1100, 0x20);
	for (uint64_t a = DATA_ADDR + 0x20; a < DATA_ADDR + DATA_MEMSZ; a++)
		ck_assert_uint_eq(*gpa(a), 0);	/* bss cleared */
	ck_assert_uint_eq(*gpa(DATA_ADDR + DATA_MEMSZ), 0xaa);	/* and no further */
	ck_assert_str_eq((char *)gpa(MACHINE_CMDLINE_ADDR), "hello=1");

	dtb = gpa(MACHINE_DTB_ADDR);
	ck_assert_int_eq(fdt_check_header(dtb), 0);
	ck_assert_uint_le(fdt_totalsize(dtb), MACHINE_DTB_MAX);
	chosen = fdt_path_offset(dtb, "/chosen");
	ck_assert_int_ge(chosen, 0);
	prop = fdt_getprop(dtb, chosen, "linux,initrd-start", &plen);
	ck_assert_ptr_nonnull(prop);
	ck_assert_int_eq(plen, 8);
	initrd = fdt64_to_cpu(load_be64(prop));
	ck_assert_uint_eq(initrd % 4096, 0);
	ck_assert_uint_ge(initrd, DATA_ADDR + DATA_MEMSZ);
	ck_assert_mem_eq(gpa(initrd), "INITRD-START", 12);
	prop = fdt_getprop(dtb, chosen, "linux,initrd-end", &plen);
	ck_assert_ptr_nonnull(prop);
	ck_assert_uint_eq(fdt64_to_cpu(load_be64(prop)), initrd + 2 * MIB);
}
END_TEST

START_TEST(elf_pvh)
{
	const struct {
		uint32_t magic, version, flags, nr_modules;
		uint64_t modlist, cmdline, rsdp, memmap;
		uint32_t memmap_entries, reserved;
	} *si;
	const struct { uint64_t paddr, size, cmdline, reserved; } *mod;
	const struct { uint64_t addr, size; uint32_t type, reserved; } *map;
	struct elf f;
	struct boot_entry e;

	make_elf(&f, _i ? 8 : 4);	/* the note's value as .long (older Linux) or .quad */
	ck_assert_int_eq(load(save_elf(&f), write_initrd(5 * MIB), "root=/dev/ram0", &e), 0);
	ck_assert_int_eq(e.kind, BOOT_PVH);
	ck_assert_uint_eq(e.entry, PVH_ENTRY);
	ck_assert_uint_eq(e.start_info, MACHINE_PVH_START_INFO);

	si = (const void *)gpa(MACHINE_PVH_START_INFO);
	ck_assert_uint_eq(si->magic, 0x336ec578);
	ck_assert_uint_eq(si->version, 1);
	ck_assert_str_eq((char *)gpa(si->cmdline), "root=/dev/ram0");
	ck_assert_uint_eq(si->rsdp, RSDP);
	ck_assert_uint_eq(si->nr_modules, 1);
	mod = (const void *)gpa(si->modlist);
	ck_assert_uint_eq(mod->size, 5 * MIB);
	ck_assert_uint_eq(mod->paddr % 4096, 0);
	ck_assert_uint_ge(mod->paddr, DATA_ADDR + DATA_MEMSZ);
	ck_assert_uint_le(mod->paddr + mod->size, machine_low_ram_end(&vm.machine));
	ck_assert_mem_eq(gpa(mod->paddr), "INITRD-START", 12);
	ck_assert_uint_eq(si->memmap_entries, vm.machine.ne820);
	map = (const void *)gpa(si->memmap);
	for (size_t i = 0; i < vm.machine.ne820; i++) {
		ck_assert_uint_eq(map[i].addr, vm.machine.e820[i].addr);
		ck_assert_uint_eq(map[i].size, vm.machine.e820[i].size);
		ck_assert_uint_eq(map[i].type, vm.machine.e820[i].type);	/* XEN_HVM_MEMMAP_TYPE_* */
	}
	/* Nothing overlaps: start_info, modlist and memmap all below the zero page. */
	ck_assert_uint_lt(si->memmap + vm.machine.ne820 * 24, MACHINE_ZERO_PAGE);
	ck_assert_uint_ge(si->modlist, MACHINE_PVH_START_INFO + sizeof(*si));
	ck_assert_uint_ge(si->memmap, si->modlist + sizeof(*mod));
}
END_TEST

START_TEST(elf_pvh_no_initrd)
{
	const uint32_t *si = (const uint32_t *)gpa(MACHINE_PVH_START_INFO);
	struct elf f;
	struct boot_entry e;

	make_elf(&f, 4);
	ck_assert_int_eq(load(save_elf(&f), NULL, NULL, &e), 0);
	ck_assert_uint_eq(si[3], 0);	/* nr_modules */
	ck_assert_uint_eq(*(const uint64_t *)(si + 4), 0);	/* modlist_paddr */
}
END_TEST

/* Each case breaks one thing in a good PVH image. */
static const struct elf_bad {
	const char *what;
	const char *message;
} elf_bad[] = {
	{ "ELFCLASS32", "ELF: not x86-64 (ELFCLASS32)" },
	{ "EM_386", "ELF: not x86-64 (e_machine 3" },
	{ "big-endian", "not little-endian" },
	{ "ET_DYN", "position-independent" },
	{ "segment outside RAM", "is outside guest RAM (128 MiB)" },
	{ "segment in the MMIO hole", "overlaps the MMIO hole" },
	{ "segment below 1 MiB", "overlaps the boot area below 1 MiB" },
	{ "filesz > memsz", "filesz 0x20 > memsz 0x10" },
	{ "segment beyond the file", "lies outside the file" },
	{ "phdrs beyond the file", "program headers beyond the end of the file" },
	{ "huge phnum", "unusable program header table" },
	{ "bad phentsize", "unusable program header table" },
	{ "entry outside segments", "is not inside a loaded segment" },
	{ "PVH note with 2 bytes", "PVH entry note has a 2-byte value" },
	{ "note running past its segment", "malformed note" },
	{ "note segment beyond the file", "note segment beyond the end of the file" },
	{ "no PT_LOAD", "no loadable segments" },
	{ "offset wraps", "lies outside the file" },
	{ "address wraps", "wraps around" },
	{ "truncated header", "truncated header" },
	{ "too many segments", "more than 16 loadable segments" },
};

START_TEST(elf_refused)
{
	const struct elf_bad *t = &elf_bad[_i];
	struct elf f;
	struct boot_entry e;

	make_elf(&f, _i == 13 ? 2 : 4);
	switch (_i) {
	case 0: f.eh->e_ident[EI_CLASS] = ELFCLASS32; break;
	case 1: f.eh->e_machine = EM_386; break;
	case 2: f.eh->e_ident[EI_DATA] = ELFDATA2MSB; break;
	case 3: f.eh->e_type = ET_DYN; break;
	case 4: f.ph[1].p_paddr = RAM_SIZE - 0x1000; break;
	case 5: f.ph[1].p_paddr = MACHINE_HOLE_START - 0x1000; break;
	case 6: f.ph[1].p_paddr = 0x7000; break;
	case 7: f.ph[1].p_memsz = 0x10; break;
	case 8: f.ph[0].p_offset = f.len - 0x80; break;
	case 9: f.eh->e_phoff = f.len - 0x10; break;
	case 10: f.eh->e_phnum = 0xffff; break;
	case 11: f.eh->e_phentsize = 32; break;
	case 12: f.eh->e_entry = 0xffffffff81000000ULL; f.ph[2].p_filesz = 20; break;
	case 13: break;
	case 14: f.ph[2].p_filesz -= 4; break;
	case 15: f.ph[2].p_offset = f.len - 8; break;
	case 16: f.ph[0].p_type = f.ph[1].p_type = PT_NULL; break;
	case 17: f.ph[0].p_offset = UINT64_MAX - 0x10; break;
	case 18: f.ph[1].p_paddr = UINT64_MAX - 0x100; break;
	case 19: f.len = 40; break;
	case 20:
		f.eh->e_phnum = 20;
		for (int i = 0; i < 20; i++)
			f.ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_paddr = TEXT_ADDR,
						.p_memsz = 0x10 };
		break;
	}
	ck_assert_int_eq(load(save_elf(&f), NULL, NULL, &e), -1);
	ck_assert_msg(strstr(err, t->message), "%s: \"%s\" lacks \"%s\"", t->what, err, t->message);
	ck_assert_ptr_nonnull(strstr(err, "guest.elf: "));
}
END_TEST

START_TEST(elf_initrd_too_large)
{
	struct elf f;
	struct boot_entry e;

	make_elf(&f, 0);
	ck_assert_int_eq(load(save_elf(&f), write_initrd(200 * MIB), NULL, &e), -1);
	ck_assert_err("initrd (200 MiB) does not fit in guest RAM (128 MiB)");
}
END_TEST

START_TEST(elf_section_note)
{
	struct elf f;
	struct elf_image ei;
	Elf64_Shdr *sh;

	/* The notes reachable only through a SHT_NOTE section. */
	make_elf(&f, 8);
	f.ph[2].p_type = PT_NULL;
	f.eh->e_shoff = 0x1c00;
	f.eh->e_shentsize = sizeof(Elf64_Shdr);
	f.eh->e_shnum = 2;
	sh = (Elf64_Shdr *)(f.img + 0x1c00);
	sh[1] = (Elf64_Shdr){ .sh_type = SHT_NOTE, .sh_offset = f.ph[2].p_offset,
			      .sh_size = f.ph[2].p_filesz, .sh_addralign = 4 };
	ck_assert_int_eq(elf_probe(f.img, f.len, &ei, err, sizeof(err)), 0);
	ck_assert(ei.has_pvh);
	ck_assert_uint_eq(ei.pvh_entry, PVH_ENTRY);
	ck_assert_uint_eq(ei.nseg, 2);
	/* Every prefix is refused without reading past it (ASan watches). */
	for (size_t len = 0; len < 0x1120; len += 5) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, f.img, len);
		ck_assert_int_eq(elf_probe(copy, len, &ei, err, sizeof(err)), -1);
		free(copy);
	}
}
END_TEST

/* ---- files ---- */

START_TEST(bad_files)
{
	struct boot_entry e;
	char path[160];

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(load(path, NULL, NULL, &e), -1);
	ck_assert_err("No such file");
	ck_assert_int_eq(load(tmpdir, NULL, NULL, &e), -1);
	ck_assert_err("is a directory");
	ck_assert_int_eq(load(write_file("empty", "", 0), NULL, NULL, &e), -1);
	ck_assert_err("empty file");
	ck_assert_int_eq(load(write_file("junk", "garbage garbage garbage", 23), NULL, NULL, &e), -1);
	ck_assert_err("junk: not a bzImage or ELF kernel");
	ck_assert_int_eq(load("/dev/null", NULL, NULL, &e), -1);
	ck_assert_err("not a regular file");

	struct elf f;
	make_elf(&f, 0);
	ck_assert_int_eq(load(save_elf(&f), path, NULL, &e), -1);
	ck_assert_err("missing: No such file");
}
END_TEST

/* ---- vCPU tables and registers ---- */

/* Walk the guest's page tables like the MMU (4-level, 2 MiB leaves). */
static uint64_t translate(uint64_t va)
{
	uint64_t pml4e = ((uint64_t *)gpa(MACHINE_PML4_ADDR))[(va >> 39) & 511];
	uint64_t pdpte, pde;

	ck_assert(pml4e & 1);
	pdpte = ((uint64_t *)gpa(pml4e & ~0xfffULL))[(va >> 30) & 511];
	ck_assert(pdpte & 1);
	ck_assert(!(pdpte & 0x80));
	pde = ((uint64_t *)gpa(pdpte & ~0xfffULL))[(va >> 21) & 511];
	ck_assert(pde & 1);
	ck_assert(pde & 2);
	ck_assert(pde & 0x80);
	return (pde & ~0x1fffffULL) | (va & 0x1fffff);
}

START_TEST(cpu_long_mode_tables)
{
	const uint64_t *gdt = (const uint64_t *)gpa(MACHINE_GDT_ADDR);
	const uint64_t *pml4 = (const uint64_t *)gpa(MACHINE_PML4_ADDR);
	const uint64_t probes[] = { 0, 0x1000, 0x100200, 0x3fffffff, 0x40000000, 0xbfffffff,
				    0xfee00000, 0xffffffff, 0x7000 };

	ck_assert_int_eq(cpu_write_boot_tables(&vm, BOOT_BZIMAGE, err, sizeof(err)), 0);
	ck_assert_uint_eq(gdt[0], 0);
	ck_assert_uint_eq(gdt[1], 0);
	ck_assert_uint_eq(gdt[BOOT_GDT_CODE / 8], 0x00af9b000000ffffULL);	/* L=1, G=1 */
	ck_assert_uint_eq(gdt[BOOT_GDT_DATA / 8], 0x00cf93000000ffffULL);
	ck_assert_uint_eq(pml4[0], MACHINE_PML4_ADDR + 0x1000 + 3);
	for (int i = 1; i < 512; i++)
		ck_assert_uint_eq(pml4[i], 0);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		ck_assert_uint_eq(translate(probes[i]), probes[i]);
	/* Exactly 4 GiB: the PDPT's fifth entry is empty. */
	ck_assert_uint_eq(((uint64_t *)gpa(MACHINE_PML4_ADDR + 0x1000))[4], 0);
}
END_TEST

START_TEST(cpu_pvh_tables)
{
	const uint64_t *gdt = (const uint64_t *)gpa(MACHINE_GDT_ADDR);

	ck_assert_int_eq(cpu_write_boot_tables(&vm, BOOT_PVH, err, sizeof(err)), 0);
	ck_assert_uint_eq(gdt[BOOT_GDT_CODE / 8], 0x00cf9b000000ffffULL);	/* D=1, L=0 */
	ck_assert_uint_eq(gdt[BOOT_GDT_DATA / 8], 0x00cf93000000ffffULL);
	ck_assert_uint_eq(*(uint64_t *)gpa(MACHINE_PML4_ADDR), 0xaaaaaaaaaaaaaaaaULL);	/* untouched */
}
END_TEST

START_TEST(cpu_registers)
{
	struct boot_entry bz = { .kind = BOOT_BZIMAGE, .entry = 0x100200, .zero_page = 0x7000 };
	struct boot_entry pvh = { .kind = BOOT_PVH, .entry = 0x1000abc, .start_info = 0x6000 };
	struct boot_entry elf = { .kind = BOOT_ELF64, .entry = 0x100000, .dtb = 0x30000 };
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0xff, sizeof(s));
	cpu_boot_sregs(&s, &bz);
	ck_assert_uint_eq(s.cr0, 0x80000033ULL);	/* PG|NE|ET|MP|PE, CD/NW cleared */
	ck_assert_uint_eq(s.cr3, MACHINE_PML4_ADDR);
	ck_assert_uint_eq(s.cr4, 0x20);
	ck_assert_uint_eq(s.efer, 0x500);
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert(s.cs.l && !s.cs.db && s.cs.present && s.cs.s && s.cs.g);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert(s.ds.selector == 0x18 && s.ss.selector == 0x18 && s.ds.type == 0x3);
	ck_assert_uint_eq(s.gdt.base, MACHINE_GDT_ADDR);
	ck_assert_uint_eq(s.gdt.limit, 31);
	cpu_boot_regs(&r, &bz);
	ck_assert_uint_eq(r.rip, 0x100200);
	ck_assert_uint_eq(r.rsi, 0x7000);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rsp, MACHINE_BOOT_STACK);

	cpu_boot_sregs(&s, &pvh);
	ck_assert_uint_eq(s.cr0, 0x11);	/* PE|ET, paging off */
	ck_assert(s.cr4 == 0 && s.efer == 0);
	ck_assert(!s.cs.l && s.cs.db);
	ck_assert_uint_eq(s.cs.base, 0);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	cpu_boot_regs(&r, &pvh);
	ck_assert_uint_eq(r.rip, 0x1000abc);
	ck_assert_uint_eq(r.rbx, 0x6000);
	ck_assert_uint_eq(r.rsi, 0);

	cpu_boot_regs(&r, &elf);
	ck_assert_uint_eq(r.rdi, 0x30000);
	ck_assert_uint_eq(r.rip, 0x100000);
}
END_TEST

static Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *bz = tcase_create("bzimage"), *elf = tcase_create("elf"), *cpu = tcase_create("cpu");

	tcase_add_checked_fixture(bz, setup, teardown);
	tcase_set_timeout(bz, 60);
	tcase_add_test(bz, bz_good);
	tcase_add_test(bz, bz_initrd_below_initrd_addr_max);
	tcase_add_test(bz, bz_no_initrd);
	tcase_add_loop_test(bz, bz_refused, 0, sizeof(bz_bad) / sizeof(bz_bad[0]));
	tcase_add_test(bz, bz_cmdline_too_long);
	tcase_add_test(bz, bz_initrd_does_not_fit);
	tcase_add_test(bz, bz_real_debian_kernel);
	tcase_add_test(bz, bz_probe_fields);
	tcase_add_test(bz, bad_files);
	suite_add_tcase(s, bz);

	tcase_add_checked_fixture(elf, setup, teardown);
	tcase_add_test(elf, elf64_guest);
	tcase_add_loop_test(elf, elf_pvh, 0, 2);
	tcase_add_test(elf, elf_pvh_no_initrd);
	tcase_add_loop_test(elf, elf_refused, 0, sizeof(elf_bad) / sizeof(elf_bad[0]));
	tcase_add_test(elf, elf_initrd_too_large);
	tcase_add_test(elf, elf_section_note);
	suite_add_tcase(s, elf);

	tcase_add_checked_fixture(cpu, setup, teardown);
	tcase_add_test(cpu, cpu_long_mode_tables);
	tcase_add_test(cpu, cpu_pvh_tables);
	tcase_add_test(cpu, cpu_registers);
	suite_add_tcase(s, cpu);
	return s;
}

int main(void)
{
	return check_run(boot_suite());
}
