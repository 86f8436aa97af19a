// SPDX-License-Identifier: MIT
/*
 * libFuzzer target on `tagvmm run`'s command line as far as the vIOMMU
 * reaches: the input is a list of arguments (NUL-separated, after one
 * byte of host flags) given to run_parse_options(), the parser the
 * command uses (cli/run-options.c); what it accepts goes through the
 * placement (viommu_place(), plain --viommu's one vIOMMU per host unit)
 * and the setup cmd-run.c's prepare() does, without KVM: vfio_setup() of
 * the --vfio devices on the unit tests' fake host (those the flags put
 * there; the others are missing), viommu_setup() with the sim devices,
 * viommu_add_device() for the virtio devices, then the teardown.
 * Trace files named by the input are replaced by a memfd ("-" is kept,
 * "!..." becomes a path in a missing directory): the fuzzer writes no
 * file the input names.
 *
 * Oracles beyond the sanitizers (leaks included: each input frees what it
 * made):
 *   - a refusal (parser, placement or setup) comes with a message, and a
 *     failed setup leaves no vIOMMU state behind;
 *   - a placement has 1..VIOMMU_MAX_UNITS units and every device behind
 *     one of them. Plain --viommu: as many vIOMMUs as host units named
 *     (the sim devices' simulated ones and the VFIO devices' real ones,
 *     which flags bits 4-6 put on dmar2 or dmar3; at least 1, at most
 *     VIOMMU_MAX_UNITS), devices on one host unit behind one vIOMMU, the
 *     simulated units in unit order before the real ones, on distinct
 *     vIOMMUs while there are enough; --viommu=N: N, devices behind
 *     vIOMMU 0 unless viommu=V. viommu= is kept as given.
 *   - after the setup: one unit per vIOMMU on the MMIO bus at its base,
 *     as many as the machine's DMAR/DTB list; every sim device and every
 *     device added behind a vIOMMU is in exactly one unit's list, the one
 *     its placement and the machine's PCI entry name, and its DMA space
 *     is that device's; the VFIO devices too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run-options.h"
#include "hostvtd/simvtd.h"
#include "viommu/viommu-priv.h"
#include "viommu/viommu.h"
#include "vmm/bus.h"
#include "vmm/dma.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"
/* The unit tests' fake host; its two checks abort here (see fuzz_viommu.c). */
#include <check.h>
#undef ck_assert_ptr_nonnull
#undef ck_assert_int_lt
#define ck_assert_ptr_nonnull(p)	((p) ? (void)0 : abort())
#define ck_assert_int_lt(a, b)		((a) < (b) ? (void)0 : abort())
#include "tests/unit/fake_vfio_host.h"
#include "fuzz/fake_vtd_hw_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS	64
#define MAX_INPUT	4096
#define RAM_SIZE	(1ULL << 20)
#define VM_FD		(FAKE_FIRST_FD + 63)

static bool verbose;	/* FUZZ_SETUP_VERBOSE=1: print each refusal (for writing seeds) */

static void refused(const char *who, const char *err)
{
	if (verbose)
		fprintf(stderr, "fuzz_setup: %s: %s\n", who, err);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_setup: oracle failed: %s\n", what);
	abort();
}

/* ---- the placement ---- */

/* viommu_place()'s result, against what docs/viommu.md and viommu.h promise. */
static void check_placement(const struct viommu_options *given, const struct viommu_options *p,
			    unsigned int host_units)
{
	unsigned int named = 0, need = 1;
	bool used[HOST_MAX_UNITS] = { false }, new_unit;

	if (p->units < 1 || p->units > VIOMMU_MAX_UNITS)
		die("placed vIOMMU count out of range");
	if (p->ndevs != given->ndevs || p->ndevs > VIOMMU_MAX_SIM_DEVICES)
		die("the placement changed the device count");
	for (unsigned int i = 0; i < p->ndevs; i++) {
		const struct sim_device_spec *s = &p->devs[i];

		if (s->viommu >= p->units)
			die("a device behind a vIOMMU that does not exist");
		if (s->host_unit >= HOST_MAX_UNITS)
			die("a device on a host unit out of range");
		if (s->host_unit + 1 > need)
			need = s->host_unit + 1;
		if (!used[s->host_unit])
			named++;
		used[s->host_unit] = true;
		if (s->viommu_given && s->viommu != given->devs[i].viommu)
			die("viommu=V not kept");
		if (given->units_given && !s->viommu_given && s->viommu != 0)
			die("--viommu=N: a device without viommu=V not behind vIOMMU 0");
	}
	if (host_units < need || host_units > HOST_MAX_UNITS)
		die("host unit count does not cover the devices");
	if (p->nvfio != given->nvfio)
		die("the placement changed the VFIO device count");
	for (unsigned int i = 0; i < p->nvfio; i++) {
		if (p->vfio_viommu[i] >= p->units)
			die("a VFIO device behind a vIOMMU that does not exist");
		if (given->units_given && p->vfio_viommu[i] != 0)
			die("--viommu=N: a VFIO device not behind vIOMMU 0");
		new_unit = true;
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(p->vfio_unit[i], p->vfio_unit[j]))
				new_unit = false;
		named += new_unit;
	}
	if (given->units_given) {
		if (p->units != given->units)
			die("--viommu=N not kept");
		return;
	}
	if (p->units != (named < 1 ? 1 : named > VIOMMU_MAX_UNITS ? VIOMMU_MAX_UNITS : named))
		die("plain --viommu: not one vIOMMU per host unit named");
	for (unsigned int i = 0; i < p->nvfio; i++) {
		for (unsigned int j = 0; j < p->nvfio; j++) {
			bool same = !strcmp(p->vfio_unit[i], p->vfio_unit[j]);

			if (same && p->vfio_viommu[i] != p->vfio_viommu[j])
				die("one real host unit's VFIO devices behind two vIOMMUs");
			if (!same && p->vfio_viommu[i] == p->vfio_viommu[j] &&
			    named <= VIOMMU_MAX_UNITS)
				die("two real host units behind one vIOMMU though there are enough");
		}
		for (unsigned int k = 0; k < p->ndevs; k++)
			if (!p->devs[k].viommu_given && p->devs[k].viommu >= p->vfio_viommu[i] &&
			    named <= VIOMMU_MAX_UNITS)
				die("a VFIO device's vIOMMU not after the simulated units'");
	}
	for (unsigned int i = 0; i < p->ndevs; i++) {
		for (unsigned int j = 0; j < p->ndevs; j++) {
			const struct sim_device_spec *a = &p->devs[i], *b = &p->devs[j];

			if (a->viommu_given || b->viommu_given)
				continue;
			if (a->host_unit == b->host_unit && a->viommu != b->viommu)
				die("one host unit's devices behind two vIOMMUs");
			if (a->host_unit < b->host_unit && a->viommu > b->viommu)
				die("vIOMMUs not in host unit order");
			if (a->host_unit != b->host_unit && a->viommu == b->viommu &&
			    named <= VIOMMU_MAX_UNITS)
				die("two host units behind one vIOMMU though there are enough");
		}
	}
}

/* ---- the machine, as far as setup needs one ---- */

static struct vm vm;
static void *ram;
static int trace_fd = -1;
static char trace_path[64];

static void fake_machine_init(void)
{
	char err[256];

	if (!ram && !(ram = aligned_alloc(4096, RAM_SIZE)))
		abort();
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	vm.machine.ram_size = RAM_SIZE;
	pthread_mutex_init(&vm.stop_lock, NULL);
	if (bus_init(&vm.pio, "pio") || bus_init(&vm.mmio, "mmio") ||
	    pci_host_bridge_init(&vm, err, sizeof(err)))
		abort();
}

static void fake_machine_exit(void)
{
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	pthread_mutex_destroy(&vm.stop_lock);
}

/*
 * The fake host: the first --vfio devices present as @flags' bits 0-2
 * say (bound to vfio-pci, each in its own group, behind dmar3 where bits
 * 4-6 say, else dmar2), the host unit's
 * hardware info answered, or failed for the first device (bit 3).
 */
static void host_init(const struct run_options *o, unsigned int flags)
{
	fake_vfio_host_init();
	fake_hostops_ioctl_ids(fake, IOMMU_HWPT_ALLOC, offsetof(struct iommu_hwpt_alloc, out_hwpt_id),
			       0x100);
	for (size_t i = 0; i < o->nvfio && i < 3; i++) {
		if (!(flags & (1u << i)))
			continue;
		host_with_device_on(o->vfio[i], 17 + (unsigned int)i, keep("vfio%zu", i),
				    flags & (0x10u << i) ? "dmar3" : "dmar2");
		script_ok(VFIO_DEVICE_GET_INFO);
	}
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	fake->next_fd = VM_FD;
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	fake->next_fd = FAKE_FIRST_FD;
	/* One answer per device viommu_pt_setup() asks about; the first fails with bit 3. */
	for (size_t i = 0; i < o->nvfio && i < 3; i++) {
		if (i == 0 && (flags & 8))
			fake_hostops_fail_ioctl(fake, IOMMU_GET_HW_INFO, EIO);
		else
			script_hw_info(0);
	}
}

static void host_exit(void)
{
	fake->ops.close(fake, vm.vm_fd);
	fake_hostops_free(fake);
	fake = NULL;
}

/* ---- after the setup ---- */

/* The vIOMMU units on the MMIO bus, by index; returns how many. */
static unsigned int units_on_bus(struct viommu **units)
{
	unsigned int n = 0;

	for (size_t i = 0; i < vm.mmio.n; i++) {
		const struct bus_range *r = &vm.mmio.ranges[i];
		struct viommu *u = r->opaque;

		if (strcmp(r->name, "vtd"))
			continue;
		if (n == VIOMMU_MAX_UNITS || u->index != n ||
		    r->base != MACHINE_VTD_BASE + (uint64_t)n * VTD_REG_SIZE || u->base != r->base)
			die("vIOMMU units not one per index at their bases");
		units[n++] = u;
	}
	return n;
}

/* The device with requester ID @rid: in exactly one unit's list, unit @want's, which its DMA uses. */
static void check_device(struct viommu **units, unsigned int n, uint16_t rid, unsigned int want)
{
	struct viommu_dev *found = NULL;
	struct dma_space sp;
	unsigned int holders = 0;

	for (unsigned int k = 0; k < n; k++)
		for (size_t j = 0; j < units[k]->ndevs; j++)
			if (units[k]->devs[j]->guest_sid == rid) {
				holders++;
				found = units[k]->devs[j];
			}
	if (holders != 1)
		die("a device not behind exactly one vIOMMU");
	if (found->unit->index != want)
		die("a device behind another vIOMMU than its placement");
	for (size_t p = 0; p < vm.machine.npci; p++)
		if (vm.machine.pci[p].bdf == rid && vm.machine.pci[p].iommu != want)
			die("the machine's PCI entry names another vIOMMU than the device's");
	if (vm.dma_iommu.space(vm.dma_iommu.opaque, rid, &sp) || sp.ctx != found)
		die("the device's DMA space is not its own");
}

static void check_setup(const struct viommu_options *placed, const uint16_t *added, size_t nadded)
{
	struct viommu *units[VIOMMU_MAX_UNITS];
	unsigned int n = units_on_bus(units);

	if (n != placed->units || vm.machine.niommus != n)
		die("not as many vIOMMUs as placed, on the bus and in the machine");
	for (unsigned int i = 0; i < placed->ndevs; i++)
		check_device(units, n, (uint16_t)((i + 1) << 3), placed->devs[i].viommu);
	for (size_t i = 0; i < nadded; i++)
		check_device(units, n, added[i], 0);
	for (unsigned int i = 0; i < placed->nvfio; i++)	/* nvfio > 0: vfio_setup() made them */
		check_device(units, n, vfio_state_of(&vm)->devs[i].guest_bdf, placed->vfio_viommu[i]);
	/* Every device any unit lists (the VFIO ones too): listed once. */
	for (unsigned int k = 0; k < n; k++) {
		if (units[k]->ndevs > VIOMMU_MAX_UNIT_DEVS)
			die("a unit lists more devices than it holds");
		for (size_t j = 0; j < units[k]->ndevs; j++) {
			const struct viommu_dev *d = units[k]->devs[j];

			if (d->unit != units[k])
				die("a listed device names another unit");
			check_device(units, n, d->guest_sid, k);
		}
	}
}

/* ---- one input ---- */

/*
 * A file the input names becomes the memfd, or stays "-" (standard
 * error), or with a leading '!' one that cannot be created (a missing
 * directory): the open failure's path.
 */
static const char *safe_path(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return path;
	if (path[0] == '!')
		return "/nonexistent-fuzz-setup/trace";
	return trace_path;
}

static void run_setup(struct run_options *o, unsigned int flags)
{
	struct viommu_options placed;
	unsigned int host_units;
	uint16_t added[VIRTIO_MAX_DEVICES];
	size_t nadded = 0;
	char err[512] = "", perr[512] = "";
	bool place_ok, vfio_ok;
	int rc;

	o->viommu.flush_trace = safe_path(o->viommu.flush_trace);
	o->viommu.guest_trace = safe_path(o->viommu.guest_trace);
	fake_machine_init();
	host_init(o, flags);
	vfio_ok = !vfio_setup(&vm, o->vfio, o->nvfio, &ops, err, sizeof(err));
	if (!vfio_ok && !err[0])
		die("vfio_setup failed without a message");
	/* The VFIO devices' host units, as viommu_setup() reads them. */
	o->viommu.nvfio = 0;
	for (size_t i = 0; vfio_ok && vfio_state_of(&vm) && i < vfio_state_of(&vm)->ndevs; i++)
		snprintf(o->viommu.vfio_unit[o->viommu.nvfio++], sizeof(o->viommu.vfio_unit[0]), "%s",
			 vfio_state_of(&vm)->devs[i].iommu_unit);
	place_ok = !viommu_place(&o->viommu, &placed, &host_units, perr, sizeof(perr));
	if (place_ok)
		check_placement(&o->viommu, &placed, host_units);
	else if (!perr[0])
		die("a refused placement without a message");
	else
		refused("viommu_place", perr);
	if (!vfio_ok) {
		refused("vfio_setup", err);
		goto out;
	}
	if (!o->viommu.units)
		goto out_vfio;
	rc = viommu_setup(&vm, &o->viommu, err, sizeof(err));
	if (rc) {
		if (!err[0])
			die("viommu_setup failed without a message");
		refused("viommu_setup", err);
		if (vm.viommu)
			die("a failed viommu_setup left its state");
		goto out_vfio;
	}
	if (!place_ok)
		die("viommu_setup took what viommu_place refused");
	/* The virtio devices: behind vIOMMU 0 unless iommu=off (cmd-run.c's create_virtio()). */
	for (size_t i = 0; i < o->nvirtio; i++) {
		uint16_t bdf = (uint16_t)((0x18 + i) << 3);

		if (o->virtio[i].no_iommu)
			continue;
		/* Described in the machine as virtio_pci_create() does, so the check reads its entry. */
		if (vm.machine.npci < MACHINE_MAX_PCI)
			vm.machine.pci[vm.machine.npci++] =
				(struct machine_pci_dev){ .bdf = bdf, .iommu = MACHINE_PCI_NO_IOMMU };
		err[0] = '\0';
		if (viommu_add_device(&vm, bdf, o->virtio[i].ats, err, sizeof(err))) {
			if (!err[0])
				die("viommu_add_device failed without a message");
			continue;
		}
		added[nadded++] = bdf;
	}
	check_setup(&placed, added, nadded);
	if (viommu_poll_faults(&vm))	/* no host unit here reports page requests */
		die("fault groups read from a host without fault queues");
	viommu_teardown(&vm);
	if (vm.viommu)
		die("viommu_teardown left its state");
out_vfio:
	vfio_teardown(&vm);
out:
	host_exit();
	fake_machine_exit();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_INPUT + 16];
	char *argv[MAX_ARGS + 4];
	int argc = 0, rc;
	unsigned int flags;
	struct run_options o;
	size_t n;

	if (!size || size > MAX_INPUT)
		return 0;
	if (trace_fd < 0) {
		verbose = getenv("FUZZ_SETUP_VERBOSE") != NULL;
		if ((trace_fd = memfd_create("fuzz-setup-trace", 0)) < 0)
			abort();
		snprintf(trace_path, sizeof(trace_path), "/proc/self/fd/%d", trace_fd);
	}
	flags = data[0];
	n = size - 1;
	memcpy(buf, data + 1, n);
	buf[n] = '\0';
	argv[argc++] = "run";
	for (size_t at = 0; at <= n && argc < MAX_ARGS; at += strlen(buf + at) + 1)
		argv[argc++] = buf + at;
	if (!(flags & 0x80)) {	/* mostly with a kernel, so the rest is looked at */
		argv[argc++] = "-k";
		argv[argc++] = "kernel";
	}
	argv[argc] = NULL;
	rc = run_parse_options(argc, argv, &o);
	if (rc == EXIT_USAGE || rc < 0)
		return 0;
	if (rc)
		die("run_parse_options: neither accepted nor refused");
	run_setup(&o, flags);
	return 0;
}
