/*
 * capture-init.c - tiny static /init for scripts/capture-qemu-trace.sh.
 *
 * Runs as PID 1 inside a throw-away initramfs in a QEMU guest that has an
 * emulated Intel VT-d IOMMU and an NVMe disk.  It:
 *   1. mounts devtmpfs/proc/sysfs,
 *   2. loads any kernel modules listed in /modules/order (one file name per
 *      line, already in dependency order; empty when nvme is built in),
 *   3. waits for /dev/nvme0n1,
 *   4. reads the first few MiB of it with O_DIRECT in 4 KiB..128 KiB chunks
 *      (every read is a DMA map + unmap, so with iommu.strict=1 every unmap
 *      makes the guest driver queue IOTLB invalidations + a wait descriptor),
 *   5. powers the machine off.
 *
 * Build: gcc -static -O2 -o init capture-init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEV        "/dev/nvme0n1"
#define READ_TOTAL (4u << 20)      /* bytes to read in total */
#define MAX_CHUNK  (128u << 10)

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("capture-init: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Not reached; if it is, panic=-1 / -no-reboot ends QEMU anyway. */
	for (;;)
		pause();
}

static void load_modules(void)
{
	FILE *f = fopen("/modules/order", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char path[300];
		int fd;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(path, sizeof(path), "/modules/%s", line);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			msg("open %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			msg("finit_module %s: %s", path, strerror(errno));
		else
			msg("loaded %s", line);
		close(fd);
	}
	fclose(f);
}

int main(void)
{
	static const unsigned sizes[] = { 4096, 8192, 16384, 32768, 65536,
					  131072, 4096, 12288, 61440, 4096 };
	unsigned long long off = 0, nreads = 0;
	void *buf;
	int fd = -1, i;

	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0)
		msg("mount devtmpfs: %s", strerror(errno));
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);

	load_modules();

	for (i = 0; i < 300 && fd < 0; i++) {   /* wait up to ~30 s */
		fd = open(DEV, O_RDONLY | O_DIRECT);
		if (fd < 0)
			usleep(100 * 1000);
	}
	if (fd < 0) {
		msg("cannot open %s: %s", DEV, strerror(errno));
		power_off();
	}

	if (posix_memalign(&buf, 4096, MAX_CHUNK) != 0) {
		msg("posix_memalign failed");
		power_off();
	}

	for (i = 0; off < READ_TOTAL; i++) {
		unsigned sz = sizes[i % (int)(sizeof(sizes) / sizeof(sizes[0]))];
		ssize_t n = pread(fd, buf, sz, (off_t)off);

		if (n < 0) {
			msg("pread(%u @ %llu): %s", sz, off, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		off += (unsigned long long)n;
		nreads++;
	}
	close(fd);
	msg("read %llu bytes from %s in %llu O_DIRECT reads", off, DEV, nreads);
	msg("powering off");
	power_off();
	return 0;
}
