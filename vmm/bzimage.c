// SPDX-License-Identifier: MIT
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit
 * entry only: no real-mode setup code runs, so the loader does what the
 * setup code would have done — fill boot_params with the e820 map, the
 * command line and the initrd — and the vCPU starts in long mode at
 * startup_64, 0x200 bytes into the protected-mode kernel.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <asm/bootparam.h>

#include "vmm/boot.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is the zero page");

/* Offsets into the image, which starts with what becomes boot_params. */
#define HDR_START		0x1f1	/* setup_sects, the first header field */
#define HDR_JUMP_LEN		0x201	/* second byte of the jump: header length - 0x202 */
#define HDR_END_MAX		0x290	/* boot_params has room for this much header */
#define HDR_NEEDED		(offsetof(struct boot_params, hdr) + \
				 offsetof(struct setup_header, handover_offset))
#define BOOT_FLAG		0xaa55
#define HDRS_MAGIC		0x53726448	/* "HdrS" */
#define PROTOCOL_MIN		0x020c	/* 2.12: xloadflags, XLF_KERNEL_64 */
#define PROTOCOL_RSDP		0x020e	/* 2.14: acpi_rsdp_addr */
#define STARTUP_64_OFFSET	0x200
#define SETUP_SECTS_DEFAULT	4	/* what setup_sects == 0 means */
#define LOADER_UNDEFINED	0xff	/* type_of_loader: no assigned ID */
/* End of the setup heap, relative to the real-mode code: protocol's usual value. */
#define HEAP_END		0xfe00

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

#define HDR_OFF(field) (offsetof(struct boot_params, hdr) + offsetof(struct setup_header, field))

int bzimage_probe(const uint8_t *img, size_t len, struct bzimage_info *out, char *err,
		  size_t errlen)
{
	uint64_t payload, claimed;
	uint16_t xloadflags;

	memset(out, 0, sizeof(*out));
	if (len < HDR_OFF(version) + 2 || le32(img + HDR_OFF(header)) != HDRS_MAGIC) {
		snprintf(err, errlen, "not a bzImage (no HdrS setup header)");
		return -1;
	}
	out->version = le16(img + HDR_OFF(version));
	if (out->version < PROTOCOL_MIN) {
		snprintf(err, errlen,
			 "bzImage: boot protocol %u.%02u is too old (2.12 or later needed for the 64-bit entry)",
			 out->version >> 8, out->version & 0xff);
		return -1;
	}
	if (len < HDR_NEEDED) {
		snprintf(err, errlen, "bzImage: truncated setup header (%zu bytes)", len);
		return -1;
	}
	if (le16(img + HDR_OFF(boot_flag)) != BOOT_FLAG) {
		snprintf(err, errlen, "bzImage: no 0xAA55 boot flag");
		return -1;
	}
	if (!(img[HDR_OFF(loadflags)] & LOADED_HIGH)) {
		snprintf(err, errlen, "bzImage: a zImage (loads below 1 MiB); not supported");
		return -1;
	}
	xloadflags = le16(img + HDR_OFF(xloadflags));
	out->xloadflags_64 = xloadflags & XLF_KERNEL_64;
	if (!out->xloadflags_64) {
		snprintf(err, errlen, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");
		return -1;
	}

	out->setup_sects = img[HDR_OFF(setup_sects)];
	out->setup_size = ((size_t)(out->setup_sects ? out->setup_sects : SETUP_SECTS_DEFAULT) + 1) * 512;
	if (out->setup_size < HDR_NEEDED || out->setup_size >= len) {
		snprintf(err, errlen,
			 "bzImage: setup code (%zu bytes) leaves no kernel in a %zu-byte file",
			 out->setup_size, len);
		return -1;
	}
	/*
	 * syssize counts 16-byte paragraphs of the protected-mode part. The
	 * build rounds it up, and signing appends data after it, so the file
	 * may hold a little less (under a paragraph) or much more.
	 */
	out->syssize = le32(img + HDR_OFF(syssize));
	payload = len - out->setup_size;
	claimed = (uint64_t)out->syssize * 16;
	if (!out->syssize || claimed > payload + 15) {
		snprintf(err, errlen,
			 "bzImage: truncated (syssize says %llu bytes of kernel, the file has %llu)",
			 (unsigned long long)claimed, (unsigned long long)payload);
		return -1;
	}

	out->initrd_addr_max = le32(img + HDR_OFF(initrd_addr_max));
	out->cmdline_size = le32(img + HDR_OFF(cmdline_size));
	out->relocatable = img[HDR_OFF(relocatable_kernel)] != 0;
	out->pref_address = le64(img + HDR_OFF(pref_address));
	out->init_size = le32(img + HDR_OFF(init_size));
	return 0;
}

/* Where the kernel will have decompressed itself, at the latest. */
static uint64_t kernel_footprint_end(const struct bzimage_info *bi, uint64_t payload)
{
	/*
	 * A relocatable kernel decompresses to its load address aligned up,
	 * but never below LOAD_PHYSICAL_ADDR, which is what pref_address
	 * holds; a fixed one decompresses at LOAD_PHYSICAL_ADDR. Either way
	 * init_size bytes from max(load address, pref_address) are the kernel's.
	 */
	uint64_t base = bi->pref_address > MACHINE_HIGH_LOAD ? bi->pref_address : MACHINE_HIGH_LOAD;
	uint64_t end = base > UINT64_MAX - bi->init_size ? UINT64_MAX : base + bi->init_size;

	return end > MACHINE_HIGH_LOAD + payload ? end : MACHINE_HIGH_LOAD + payload;
}

static void fill_e820(struct boot_params *bp, const struct machine *m)
{
	size_t n = m->ne820 < E820_MAX_ENTRIES_ZEROPAGE ? m->ne820 : E820_MAX_ENTRIES_ZEROPAGE;

	for (size_t i = 0; i < n; i++) {
		bp->e820_table[i].addr = m->e820[i].addr;
		bp->e820_table[i].size = m->e820[i].size;
		bp->e820_table[i].type = m->e820[i].type;
	}
	bp->e820_entries = (uint8_t)n;
}

int bzimage_load(struct boot_load_ctx *c, const struct bzimage_info *bi, struct boot_entry *out,
		 char *err, size_t errlen)
{
	uint64_t payload = c->len - bi->setup_size;
	uint64_t ram_end = machine_low_ram_end(&c->vm->machine);
	uint64_t kernel_end = kernel_footprint_end(bi, payload);
	uint64_t initrd_addr, initrd_limit;
	struct boot_params bp;
	size_t hdr_end;
	void *dst;

	dst = vm_gpa(c->vm, MACHINE_HIGH_LOAD, payload);
	if (!dst || kernel_end > ram_end) {
		snprintf(err, errlen,
			 "%s: kernel needs guest RAM up to %llu MiB (init_size), the guest has %llu MiB",
			 c->kernel_path, (unsigned long long)boot_mib_up(kernel_end),
			 (unsigned long long)(ram_end >> 20));
		return -1;
	}
	memcpy(dst, c->img + bi->setup_size, payload);

	/* A clean boot_params with the image's setup header, as boot.rst asks. */
	memset(&bp, 0, sizeof(bp));
	hdr_end = 0x202 + (size_t)c->img[HDR_JUMP_LEN];
	if (hdr_end > HDR_END_MAX)
		hdr_end = HDR_END_MAX;
	memcpy((uint8_t *)&bp + HDR_START, c->img + HDR_START, hdr_end - HDR_START);

	bp.hdr.type_of_loader = LOADER_UNDEFINED;
	bp.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = HEAP_END;
	bp.hdr.code32_start = MACHINE_HIGH_LOAD;

	if (boot_put_cmdline(c, bi->cmdline_size, err, errlen))
		return -1;
	bp.hdr.cmd_line_ptr = MACHINE_CMDLINE_ADDR;

	/* initrd_addr_max is the highest address the initrd's last byte may use. */
	initrd_limit = (uint64_t)bi->initrd_addr_max + 1;
	if (boot_put_initrd(c, kernel_end, initrd_limit, &initrd_addr, err, errlen))
		return -1;
	if (initrd_addr) {
		bp.hdr.ramdisk_image = (uint32_t)initrd_addr;
		bp.hdr.ramdisk_size = (uint32_t)c->initrd_size;
		bp.ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
		bp.ext_ramdisk_size = (uint32_t)(c->initrd_size >> 32);
	}

	fill_e820(&bp, &c->vm->machine);
	/* Older kernels find the RSDP by scanning the BIOS area, where it is anyway. */
	if (bi->version >= PROTOCOL_RSDP)
		bp.acpi_rsdp_addr = c->rsdp;

	dst = vm_gpa(c->vm, MACHINE_ZERO_PAGE, sizeof(bp));
	if (!dst) {
		snprintf(err, errlen, "no guest RAM for boot_params");
		return -1;
	}
	memcpy(dst, &bp, sizeof(bp));

	out->kind = BOOT_BZIMAGE;
	out->entry = MACHINE_HIGH_LOAD + STARTUP_64_OFFSET;
	out->zero_page = MACHINE_ZERO_PAGE;
	return 0;
}
