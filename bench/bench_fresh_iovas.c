// SPDX-License-Identifier: MIT
/*
 * `make bench` item 8, hardening finding 2: a guest that aliases its
 * second-stage tables and DMAs 1 MiB copies over ever-new IOVAs without
 * invalidating (so the simulated host IOTLB and ATC see only new pages).
 * Prints, per block of 256 copies, the CPU time per copy, the cache entries and
 * the process RSS: the caches must stop at their capacity and the copy
 * time stay flat. Side by side, in one run, the same DMA with the caches'
 * capacity lifted above the number of fresh pages (the simulated host's
 * cache_capacity): what the bound prevents. Each runs in its own child
 * process, so each RSS is its own. A model of the DMA path (no vCPU, no
 * KVM): the emulated DMA engine driven through its BAR as the guest would.
 *   bench_fresh_iovas [COPIES]   (default 8192: 4 Mi fresh pages)
 */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostvtd/flush.h"
#include "hostvtd/simvtd-cache.h"
#include "hostvtd/simvtd.h"
#include "hostvtd/tagstore.h"
#include "viommu/simdev-regs.h"
#include "viommu/simdev.h"
#include "viommu/viommu-priv.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vtd/regs.h"

#define RAM_SIZE	(16ULL << 20)
#define ROOT		0x100000ULL
#define CTX		0x101000ULL
#define SL_L4		0x102000ULL
#define SL_L3		0x103000ULL
#define SL_L2		0x104000ULL
#define SL_L1		0x105000ULL
#define DATA		0x200000ULL
#define SID		0x0008
#define MIB		(1ULL << 20)

static struct vm vm;

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(vm_gpa(&vm, gpa, 8), &v, 8);
}

static double now(void)
{
	struct timespec ts;

	/* CPU time: the figure must not depend on what else the machine runs. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int no_msi(struct vm *v, uint64_t a, uint32_t d)
{
	(void)v;
	(void)a;
	(void)d;
	return 0;
}

#define BLOCK	256	/* copies per measurement */

struct block {
	double us_per_copy;
	size_t iotlb, atc;
	long rss_kib;
};

/* @copies copies with caches of @capacity entries (0: SIM_CACHE_CAPACITY); a row per block. */
static int run(size_t capacity, unsigned int copies, struct block *out)
{
	struct simvtd_config cfg = { .units = 1, .cache_capacity = capacity };
	struct plan_options opt = { 0 };
	struct simvtd *sim = simvtd_new(&cfg);
	struct tag_store *ts = tag_store_new();
	struct flush_engine *fe = flush_engine_new(ts, NULL, &opt);
	struct viommu unit;
	struct viommu_dev vdev;
	struct simdev *dev;
	struct pci_device *pci;
	struct tag_attach a = { .guest_sid = SID, .host_did = 1 };
	struct guest_domain_key key = { .viommu = 0, .did = 1, .pasid = 0 };
	char err[256];
	double t0;

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = calloc(1, RAM_SIZE) };
	if (!sim || !ts || !fe || !vm.mem[0].host || bus_init(&vm.pio, "pio") ||
	    bus_init(&vm.mmio, "mmio") || pci_host_bridge_init(&vm, err, sizeof(err)) ||
	    viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err))) {
		fprintf(stderr, "bench_fresh_iovas: setup failed\n");
		return 1;
	}
	pci_signal_msi = no_msi;
	unit.signal_msi = no_msi;
	unit.fectl = 1u << 31;
	unit.ts = ts;
	unit.fe = fe;
	unit.rtaddr = unit.rtaddr_active = ROOT;
	unit.gcmd = unit.gsts = VTD_GCMD_TE | VTD_GCMD_SRTP;
	memset(&vdev, 0, sizeof(vdev));
	vdev.unit = &unit;
	vdev.guest_sid = SID;
	vdev.host.sid = 0x1000;
	vdev.host.ats = true;
	host_device_name(vdev.host.sid, vdev.host.name);
	vdev.host.unit = simvtd_unit(sim, 0);
	unit.devs[unit.ndevs++] = &vdev;

	/* Legacy tables, TT 1 (device TLB allowed); every L3 and L2 entry aliases the next table. */
	put64(ROOT, CTX | 1);
	put64(CTX + (SID & 0xff) * 16, SL_L4 | 1ULL << 2 | 1);
	put64(CTX + (SID & 0xff) * 16 + 8, 2 | 1ULL << 8);
	put64(SL_L4, SL_L3 | 3);
	for (unsigned int i = 0; i < 512; i++) {
		put64(SL_L3 + i * 8, SL_L2 | 3);
		put64(SL_L2 + i * 8, SL_L1 | 3);
		put64(SL_L1 + i * 8, (DATA + (uint64_t)(i % 256) * 4096) | 3);
	}
	dev = simdev_create(&vm, &vdev, sim, true, false, SID, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "bench_fresh_iovas: %s\n", err);
		return 1;
	}
	pci = simdev_pci(dev);
	pci_device_config_write(pci, 0x04, 2, 0x0006);
	for (unsigned int off = 0x100, guard = 0; off && guard < 64; guard++) {
		uint32_t hdr = pci_device_config_read(pci, off, 4);

		if ((hdr & 0xffff) == PCI_EXT_CAP_ID_ATS)
			pci_device_config_write(pci, off + 6, 2, 0x8000);
		off = hdr >> 20;
	}
	vdev.attach[0] = (struct viommu_attach){ .did = 1, .host_did = 1 };
	vdev.nattach = 1;
	a.dev = &vdev.host;
	tag_store_attach(ts, key, &a);

	t0 = now();
	for (unsigned int c = 1; c <= copies; c++) {
		uint64_t regs[][2] = { { SIMDEV_SRC, 2ULL * c * MIB }, { SIMDEV_DST, (2ULL * c + 1) * MIB },
				       { SIMDEV_LEN, MIB }, { SIMDEV_CMD, SIMDEV_CMD_COPY } };

		for (unsigned int r = 0; r < 4; r++)
			pci->bars[0].fn(pci->bars[0].opaque, (unsigned int)regs[r][0],
					(uint8_t *)&regs[r][1], 8, true);
		if (c % BLOCK == 0) {
			double t = now();

			out[c / BLOCK - 1] = (struct block){
				.us_per_copy = (t - t0) / BLOCK * 1e6,
				.iotlb = simvtd_iotlb_entries(sim, 0),
				.atc = simvtd_atc_entries(sim, vdev.host.sid), .rss_kib = rss_kib(),
			};
			t0 = t;
		}
	}
	simdev_free(dev);
	viommu_unit_exit(&unit);
	flush_engine_free(fe);
	tag_store_free(ts);
	simvtd_free(sim);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int copies = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 8192;
	unsigned int nblocks = copies / BLOCK;
	size_t lifted = 256;
	struct block *res;

	if (!nblocks) {
		fprintf(stderr, "bench_fresh_iovas: at least %u copies\n", BLOCK);
		return 1;
	}
	/* Above every fresh page the run touches (512 per copy): nothing is ever evicted. */
	while (lifted < (size_t)copies * 512)
		lifted *= 2;
	res = mmap(NULL, 2 * nblocks * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("bench_fresh_iovas: mmap");
		return 1;
	}
	for (unsigned int i = 0; i < 2; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0)
			_exit(run(i ? lifted : 0, copies, res + i * nblocks) ? 1 : 0);
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "bench_fresh_iovas: run %u failed\n", i);
			return 1;
		}
	}
	printf("8. DMA over fresh IOVAs, 1 MiB copies, no invalidation (model: no vCPU)\n");
	printf("   bounded: capacity %u entries per cache; lifted: %zu (nothing evicted)\n",
	       SIM_CACHE_CAPACITY, lifted);
	printf("%8s %10s | %9s %8s %8s %9s | %9s %8s %8s %9s\n", "copies", "fresh pg",
	       "us/copy", "IOTLB", "ATC", "RSS KiB", "us/copy", "IOTLB", "ATC", "RSS KiB");
	for (unsigned int b = 0; b < nblocks; b++) {
		unsigned int c = (b + 1) * BLOCK;
		const struct block *x = &res[b], *y = &res[nblocks + b];

		if ((c & (c - 1)) && b + 1 != nblocks)
			continue;
		printf("%8u %10u | %9.1f %8zu %8zu %9ld | %9.1f %8zu %8zu %9ld\n", c, c * 512,
		       x->us_per_copy, x->iotlb, x->atc, x->rss_kib, y->us_per_copy, y->iotlb,
		       y->atc, y->rss_kib);
	}
	printf("CPU time per copy, the last %u copies over the first %u: bounded %.2f, lifted %.2f\n",
	       BLOCK, BLOCK, res[nblocks - 1].us_per_copy / res[0].us_per_copy,
	       res[2 * nblocks - 1].us_per_copy / res[nblocks].us_per_copy);
	printf("RSS at the end: bounded %ld KiB, lifted %ld KiB (%.1fx)\n", res[nblocks - 1].rss_kib,
	       res[2 * nblocks - 1].rss_kib,
	       (double)res[2 * nblocks - 1].rss_kib / (double)res[nblocks - 1].rss_kib);
	return 0;
}
