// SPDX-License-Identifier: MIT
/*
 * `make bench` item 8, hardening finding 2: a guest that aliases its
 * second-stage tables and DMAs 1 MiB copies over ever-new IOVAs without
 * invalidating (so the simulated host IOTLB and ATC see only new pages).
 * Prints, per block of 256 copies, the CPU time per copy, the cache entries and
 * the process RSS: the caches must stop at their capacity and the copy
 * time stay flat. A model of the DMA path (no vCPU, no KVM): the emulated
 * DMA engine driven through its BAR as the guest would.
 *   bench_fresh_iovas [COPIES]   (default 8192: 4 Mi fresh pages)
 */
#include <stdio.h>
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

int main(int argc, char **argv)
{
	unsigned int copies = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 8192;
	struct simvtd_config cfg = { .units = 1 };
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

	printf("8. DMA over fresh IOVAs, 1 MiB copies, no invalidation (model: no vCPU; capacity %u)\n",
	       SIM_CACHE_CAPACITY);
	printf("%10s %12s %16s %10s %10s %10s\n", "copies", "fresh pages", "CPU us/copy",
	       "IOTLB", "ATC", "RSS KiB");
	t0 = now();
	double first = 0, last = 0;

	for (unsigned int c = 1; c <= copies; c++) {
		uint64_t regs[][2] = { { SIMDEV_SRC, 2ULL * c * MIB }, { SIMDEV_DST, (2ULL * c + 1) * MIB },
				       { SIMDEV_LEN, MIB }, { SIMDEV_CMD, SIMDEV_CMD_COPY } };

		for (unsigned int r = 0; r < 4; r++)
			pci->bars[0].fn(pci->bars[0].opaque, (unsigned int)regs[r][0],
					(uint8_t *)&regs[r][1], 8, true);
		if (c % 256 == 0) {
			double t = now();

			if (c == 256)
				first = (t - t0) / 256;
			last = (t - t0) / 256;
			if ((c & (c - 1)) == 0 || c == copies)
				printf("%10u %12u %16.1f %10zu %10zu %10ld\n", c, c * 512,
				       (t - t0) / 256 * 1e6, simvtd_iotlb_entries(sim, 0),
				       simvtd_atc_entries(sim, vdev.host.sid), rss_kib());
			t0 = t;
		}
	}
	printf("CPU time per copy, the last 256 copies over the first 256: %.2f\n",
	       first > 0 ? last / first : 0);
	simdev_free(dev);
	viommu_unit_exit(&unit);
	flush_engine_free(fe);
	tag_store_free(ts);
	simvtd_free(sim);
	return 0;
}
