// SPDX-License-Identifier: MIT
/*
 * boot_load(): read the kernel, tell a bzImage from an ELF, and hand it to
 * the loader for its protocol (bzimage.c, elf.c). The command line and the
 * initrd are placed here because every protocol needs them the same way.
 * The kernel and initrd are user input: sizes come from fstat and are
 * checked before anything is read or written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

/* Far more than any kernel; keeps a mistaken -k /dev/sda-sized file out of memory. */
#define BOOT_KERNEL_MAX	(1ULL << 30)
#define BOOT_PAGE_SIZE	4096ULL

/* Open @path as a regular file; its size in @size. Returns the fd or -1. */
static int open_regular(const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path,
			 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* pread() all of @len bytes; a short file is an error, not a partial load. */
static int read_exact(int fd, void *buf, uint64_t len, const char *path, char *err,
		      size_t errlen)
{
	uint8_t *p = buf;
	uint64_t done = 0;

	while (done < len) {
		size_t chunk = len - done > (1U << 30) ? 1U << 30 : (size_t)(len - done);
		ssize_t n = pread(fd, p + done, chunk, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (n == 0) {
			snprintf(err, errlen, "%s: file shrank while being read", path);
			return -1;
		}
		done += (uint64_t)n;
	}
	return 0;
}

int boot_put_cmdline(struct boot_load_ctx *c, uint64_t max_len, char *err, size_t errlen)
{
	uint64_t limit = max_len < MACHINE_CMDLINE_MAX - 1 ? max_len : MACHINE_CMDLINE_MAX - 1;
	char *dst;

	if (c->cmdline_len > limit) {
		snprintf(err, errlen, "command line too long (%zu bytes, at most %llu)",
			 c->cmdline_len, (unsigned long long)limit);
		return -1;
	}
	dst = vm_gpa(c->vm, MACHINE_CMDLINE_ADDR, c->cmdline_len + 1);
	if (!dst) {
		snprintf(err, errlen, "no guest RAM for the command line");
		return -1;
	}
	memcpy(dst, c->cmdline, c->cmdline_len + 1);
	return 0;
}

int boot_put_initrd(struct boot_load_ctx *c, uint64_t floor, uint64_t limit, uint64_t *addr,
		    char *err, size_t errlen)
{
	uint64_t ram_end = machine_low_ram_end(&c->vm->machine);
	uint64_t top = limit < ram_end ? limit : ram_end;
	uint64_t size = c->initrd_size, start;
	void *dst;

	*addr = 0;
	if (!c->initrd_path || !size)
		return 0;
	/* Round the floor up without overflowing; a floor that high fits nothing. */
	floor = floor > UINT64_MAX - (BOOT_PAGE_SIZE - 1) ? UINT64_MAX :
		(floor + BOOT_PAGE_SIZE - 1) & ~(BOOT_PAGE_SIZE - 1);
	if (size > top || floor > top || top - size < floor) {
		if (size > ram_end)
			snprintf(err, errlen, "initrd (%llu MiB) does not fit in guest RAM (%llu MiB)",
				 (unsigned long long)boot_mib_up(size),
				 (unsigned long long)(c->vm->machine.ram_size >> 20));
		else
			snprintf(err, errlen,
				 "initrd (%llu MiB) does not fit in guest RAM (%llu MiB) between the kernel's end (0x%llx) and 0x%llx",
				 (unsigned long long)boot_mib_up(size),
				 (unsigned long long)(c->vm->machine.ram_size >> 20),
				 (unsigned long long)floor, (unsigned long long)top);
		return -1;
	}
	start = (top - size) & ~(BOOT_PAGE_SIZE - 1);
	dst = vm_gpa(c->vm, start, size);
	if (!dst) {
		snprintf(err, errlen, "initrd (%llu MiB) does not fit in guest RAM at 0x%llx",
			 (unsigned long long)boot_mib_up(size), (unsigned long long)start);
		return -1;
	}
	if (read_exact(c->initrd_fd, dst, size, c->initrd_path, err, errlen))
		return -1;
	*addr = start;
	return 0;
}

static bool is_bzimage(const uint8_t *img, size_t len)
{
	return len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4);
}

static bool is_elf(const uint8_t *img, size_t len)
{
	return len >= 4 && !memcmp(img, "\177ELF", 4);
}

/* Sniff the format and run its loader; messages get the kernel's path in front. */
static int load_kernel(struct boot_load_ctx *c, struct boot_entry *out, char *err, size_t errlen)
{
	char why[256];

	why[0] = '\0';
	if (is_bzimage(c->img, c->len)) {
		struct bzimage_info bi;

		if (bzimage_probe(c->img, c->len, &bi, why, sizeof(why)))
			goto bad_image;
		return bzimage_load(c, &bi, out, err, errlen);
	}
	if (is_elf(c->img, c->len)) {
		struct elf_image ei;

		if (elf_probe(c->img, c->len, &ei, why, sizeof(why)))
			goto bad_image;
		return elf_load(c, &ei, out, err, errlen);
	}
	snprintf(err, errlen, "%s: not a bzImage or ELF kernel", c->kernel_path);
	return -1;
bad_image:
	snprintf(err, errlen, "%s: %s", c->kernel_path, why);
	return -1;
}

int boot_load(struct vm *vm, const struct boot_config *cfg, uint64_t rsdp, struct boot_entry *out,
	      char *err, size_t errlen)
{
	struct boot_load_ctx c = {
		.vm = vm,
		.kernel_path = cfg->kernel,
		.cmdline = cfg->cmdline ? cfg->cmdline : "",
		.initrd_path = cfg->initrd,
		.initrd_fd = -1,
		.rsdp = rsdp,
	};
	uint8_t *img = NULL;
	uint64_t size;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	c.cmdline_len = strlen(c.cmdline);
	fd = open_regular(cfg->kernel, &size, err, errlen);
	if (fd < 0)
		return -1;
	if (size == 0) {
		snprintf(err, errlen, "%s: empty file, not a bzImage or ELF kernel", cfg->kernel);
		goto out;
	}
	if (size > BOOT_KERNEL_MAX || size > vm->machine.ram_size) {
		snprintf(err, errlen, "%s: kernel (%llu MiB) does not fit in guest RAM (%llu MiB)",
			 cfg->kernel, (unsigned long long)boot_mib_up(size),
			 (unsigned long long)(vm->machine.ram_size >> 20));
		goto out;
	}
	img = malloc(size);
	if (!img) {
		snprintf(err, errlen, "%s: out of memory reading the kernel", cfg->kernel);
		goto out;
	}
	if (read_exact(fd, img, size, cfg->kernel, err, errlen))
		goto out;
	c.img = img;
	c.len = size;

	if (cfg->initrd) {
		c.initrd_fd = open_regular(cfg->initrd, &c.initrd_size, err, errlen);
		if (c.initrd_fd < 0)
			goto out;
	}
	rc = load_kernel(&c, out, err, errlen);
out:
	if (c.initrd_fd >= 0)
		close(c.initrd_fd);
	free(img);
	close(fd);
	return rc;
}
