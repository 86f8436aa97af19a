// SPDX-License-Identifier: MIT
/*
 * The userspace half of the real-guest SVA test (docs/running.md, make
 * check-sva-linux): runs in the L2 guest with the tagvmm-sva-test driver
 * (tests/linux/patches/tagvmm-sva-test.patch) bound to every emulated DMA
 * engine. It opens each /dev/tagvmm-svaN, which binds this process's mm to
 * that engine by a PASID (iommu_sva_bind_device), then ITERATIONS times,
 * for each engine: maps a fresh page (never touched, so the engine's
 * write to it is a page request the kernel serves through the vIOMMU's
 * page request queue), has the engine copy a pattern into it by PASID,
 * checks the data, and unmaps it (the mm notifier flushes the PASID's
 * IOTLB and every bound engine's device TLB). The next fresh page lands
 * at the same address, so a translation that survived the unmap shows as
 * the copy landing on the old page, unless the kernel hands out the same
 * physical page again (its free lists are LIFO, so it often does). So
 * after each munmap every engine also probes: a copy into the address
 * just unmapped must fault (its page request answered Invalid, as no
 * mapping is there); it completes only through a translation that
 * survived the unmap in that engine's ATC or in the host's IOTLB the
 * engine's translation requests reach. Prints TAGVMM-SVA lines; exits 0
 * when every copy was right and every probe faulted. Built static
 * (gcc -static) for the busybox initramfs.
 *
 * usage: sva-test [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The driver's ioctl (drivers/misc/tagvmm-sva-test.c). */
struct tagvmm_sva_copy {
	uint64_t src, dst, len;
	uint64_t status;
	uint64_t fault_addr;
	uint64_t page_requests, atc_hits, iotlb_hits, walks;
	uint32_t pasid;
	uint32_t waited_ms;
};
#define TAGVMM_SVA_COPY		_IOWR('t', 1, struct tagvmm_sva_copy)
#define STATUS_DONE		1
#define STATUS_FAULT		2
#define MAX_DEVICES		64
#define PAGE			4096

/* After a munmap of @gone: engine @d's copy into it must fault there. */
static unsigned int probe(int fd, unsigned int d, unsigned int it, const uint8_t *src,
			  uintptr_t gone)
{
	struct tagvmm_sva_copy c = { .src = (uintptr_t)src, .dst = gone, .len = PAGE };

	if (ioctl(fd, TAGVMM_SVA_COPY, &c)) {
		printf("TAGVMM-SVA: dev %u iter %u: probe ioctl: %s\n", d, it, strerror(errno));
		return 1;
	}
	if (c.status != STATUS_FAULT || c.fault_addr != gone) {
		printf("TAGVMM-SVA: dev %u iter %u: probe of unmapped %#llx: status %llu at %#llx "
		       "(a stale translation in the ATC or the host IOTLB?)\n", d, it,
		       (unsigned long long)gone, (unsigned long long)c.status,
		       (unsigned long long)c.fault_addr);
		return 1;
	}
	return 0;
}

static void fill(uint8_t *p, unsigned int dev, unsigned int iter)
{
	for (unsigned int i = 0; i < PAGE; i++)
		p[i] = (uint8_t)(dev * 31 + iter * 7 + i);
}

int main(int argc, char **argv)
{
	unsigned int iters = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 4;
	unsigned int ndev = 0, failed = 0, munmaps = 0, probes = 0;
	uint64_t page_requests = 0;
	int fd[MAX_DEVICES];
	uint8_t *src, *expect;

	for (unsigned int i = 0; i < MAX_DEVICES; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/tagvmm-sva%u", i);
		if (access(path, F_OK))
			break;
		fd[ndev] = open(path, O_RDWR);
		if (fd[ndev] < 0) {
			printf("TAGVMM-SVA: bind %s failed: %s\n", path, strerror(errno));
			failed++;
			continue;
		}
		printf("TAGVMM-SVA: bind %s ok\n", path);
		ndev++;
	}
	printf("TAGVMM-SVA: bound %u devices\n", ndev);
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect = malloc(PAGE);
	if (src == MAP_FAILED || !expect)
		return 2;
	for (unsigned int it = 0; it < iters; it++) {
		for (unsigned int d = 0; d < ndev; d++) {
			struct tagvmm_sva_copy c = { 0 };
			uint8_t *dst = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (dst == MAP_FAILED)
				return 2;
			fill(src, d, it);
			memcpy(expect, src, PAGE);
			c.src = (uintptr_t)src;
			c.dst = (uintptr_t)dst;
			c.len = PAGE;
			if (ioctl(fd[d], TAGVMM_SVA_COPY, &c)) {
				printf("TAGVMM-SVA: dev %u iter %u: ioctl: %s\n", d, it, strerror(errno));
				failed++;
			} else if (c.status != STATUS_DONE) {
				printf("TAGVMM-SVA: dev %u iter %u: status %llu at %#llx (pasid %u)\n", d,
				       it, (unsigned long long)c.status,
				       (unsigned long long)c.fault_addr, c.pasid);
				failed++;
			} else if (memcmp(dst, expect, PAGE)) {
				printf("TAGVMM-SVA: dev %u iter %u: data wrong at %p (stale translation?)\n",
				       d, it, (void *)dst);
				failed++;
			} else if (it == 0 || it + 1 == iters) {
				printf("TAGVMM-SVA: dev %u iter %u: pasid %u copy ok at %p, page requests %llu, "
				       "atc hits %llu, iotlb hits %llu, walks %llu, waited %u ms\n",
				       d, it, c.pasid, (void *)dst, (unsigned long long)c.page_requests,
				       (unsigned long long)c.atc_hits, (unsigned long long)c.iotlb_hits,
				       (unsigned long long)c.walks, c.waited_ms);
			}
			if (it + 1 == iters)
				page_requests += c.page_requests;
			munmap(dst, PAGE);
			munmaps++;
			for (unsigned int e = 0; e < ndev; e++, probes++)
				failed += probe(fd[e], e, it, src, (uintptr_t)dst);
		}
	}
	for (unsigned int d = 0; d < ndev; d++)
		close(fd[d]);
	printf("TAGVMM-SVA: %s devices=%u iterations=%u munmaps=%u probes=%u page_requests=%llu "
	       "failed=%u\n", failed || !ndev ? "FAIL" : "PASS", ndev, iters, munmaps, probes,
	       (unsigned long long)page_requests, failed);
	return failed || !ndev;
}
