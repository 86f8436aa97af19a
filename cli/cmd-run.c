// SPDX-License-Identifier: MIT
/*
 * tagvmm run: create the VM, let the devices register, build the firmware
 * tables, load the kernel, and run until the guest powers off.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libfdt.h>

#include "hostvtd/flushtrace.h"
#include "lib/hostops.h"
#include "lib/hostops-trace.h"
#include "vmm/acpi.h"
#include "vmm/boot.h"
#include "cli/cli.h"
#include "cli/run-options.h"
#include "vmm/fdt.h"
#include "vmm/init.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"
#include "vmm/virtio.h"
#include "viommu/viommu.h"

#define EXIT_GUEST_CRASH 5	/* triple fault, emulation failure, KVM error */
#define EXIT_GUEST_RESET 6	/* the guest asked for a reset; tagvmm does not reboot */

/* Signals stop the VM from a thread of their own: vm_request_stop is not async-signal-safe. */
struct signal_watch {
	struct vm *vm;
	sigset_t set;
	int signo;
};

static void *watch_signals(void *arg)
{
	struct signal_watch *w = arg;
	int signo;

	/* Until the end (SIGUSR2): a second Ctrl-C must not go unheard. */
	while (sigwait(&w->set, &signo) == 0 && signo != SIGUSR2) {
		if (!w->signo)
			w->signo = signo;
		vm_request_stop(w->vm, VM_STOPPED, "stopped by signal %d (%s)", signo,
				strsignal(signo));
	}
	return NULL;
}

static int write_dtb(const struct vm *vm, const char *cmdline, const char *path)
{
	char err[160];
	void *buf = calloc(1, MACHINE_DTB_MAX);
	FILE *f;
	int rc = -1;

	if (!buf) {
		fprintf(stderr, "tagvmm: run: out of memory\n");
		return -1;
	}
	if (fdt_build(&vm->machine, cmdline, buf, MACHINE_DTB_MAX, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: run: device tree: %s\n", err);
		goto out;
	}
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, fdt_totalsize(buf), f) != fdt_totalsize(buf) || fclose(f)) {
		fprintf(stderr, "tagvmm: run: cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * The virtio devices, at the first free slots from VFIO_GUEST_FIRST_SLOT
 * (after the sim and VFIO devices), behind vIOMMU 0 with --viommu unless
 * iommu=off. Returns 0, or prints why not and returns -1.
 */
static int create_virtio(struct vm *vm, const struct run_options *o, struct virtio_pci **out)
{
	char err[512];

	for (size_t i = 0; i < o->nvirtio; i++) {
		const struct virtio_spec *s = &o->virtio[i];
		bool iommu = o->viommu.units && !s->no_iommu;
		int bdf = pci_free_slot(vm, VFIO_GUEST_FIRST_SLOT);

		if (bdf < 0) {
			fprintf(stderr, "tagvmm: run: no free PCI slot for virtio device %zu\n", i);
			return -1;
		}
		out[i] = virtio_create(vm, s, (uint16_t)bdf, iommu, err, sizeof(err));
		if (!out[i] ||
		    (iommu && viommu_add_device(vm, (uint16_t)bdf, s->ats, err, sizeof(err)))) {
			fprintf(stderr, "tagvmm: run: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/*
 * --host-trace: the host calls of --vfio, logged. The VFIO state keeps the
 * ops it is given until the VM is destroyed, so they live here, past it.
 */
static struct host_ops_trace host_trace;
static FILE *host_trace_out;

static const struct host_ops *host_ops_for(void)
{
	if (!host_trace_out)
		return &host_ops_real;
	return host_ops_trace_init(&host_trace, &host_ops_real, host_trace_out);
}

/* Everything between a created VM and its first instruction. */
static int prepare(struct vm *vm, const struct run_options *o, struct virtio_pci **virtio)
{
	size_t bios_size = MACHINE_BIOS_END - MACHINE_BIOS_START;
	uint8_t *bios = vm_gpa(vm, MACHINE_BIOS_START, bios_size);
	struct boot_entry entry;
	char err[512];

	if (vm_init_all(vm, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: run: %s\n", err);
		return 1;
	}
	if (vfio_setup(vm, o->vfio, o->nvfio, host_ops_for(), err, sizeof(err))) {
		fprintf(stderr, "tagvmm: run: %s\n", err);
		return 1;
	}
	/* Before the tables: the vIOMMUs and their devices go into the DMAR and DTB. */
	if (o->viommu.units && viommu_setup(vm, &o->viommu, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: run: %s\n", err);
		return 1;
	}
	if (create_virtio(vm, o, virtio))
		return 1;
	if (!bios || !acpi_build(&vm->machine, bios, bios_size, MACHINE_BIOS_START)) {
		fprintf(stderr, "tagvmm: run: the ACPI tables do not fit below 1 MiB\n");
		return 1;
	}
	if (boot_load(vm, &o->boot, MACHINE_BIOS_START, &entry, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: %s\n", err);
		return EXIT_INPUT;
	}
	if (o->dtb_out && write_dtb(vm, o->boot.cmdline, o->dtb_out))
		return 1;
	if (cpu_setup_boot(&vm->vcpus[0], &entry, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: run: %s\n", err);
		return 1;
	}
	if (!o->quiet)
		fprintf(stderr, "tagvmm: booting %s (%s), %llu MiB, %u vCPU%s\n", o->boot.kernel,
			entry.kind == BOOT_BZIMAGE ? "bzImage" :
			entry.kind == BOOT_PVH ? "ELF, PVH entry" : "ELF64 guest",
			(unsigned long long)(o->ram_size >> 20), o->ncpus, o->ncpus > 1 ? "s" : "");
	return 0;
}

/* Peak and current resident set of this process, in KiB, from /proc/self/status. */
static void self_rss(unsigned long *peak_kib, unsigned long *now_kib)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	*peak_kib = *now_kib = 0;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmHWM: %lu", peak_kib);
		sscanf(line, "VmRSS: %lu", now_kib);
	}
	if (f)
		fclose(f);
}

/* Guest RAM pages the guest (or the loader) actually touched, in KiB. */
static unsigned long guest_resident_kib(const struct vm *vm)
{
	const size_t page = 4096, chunk = 1 << 20;	/* pages per mincore() call */
	unsigned char *vec = malloc(chunk);
	unsigned long kib = 0;

	for (size_t r = 0; vec && r < vm->nmem; r++)
		for (uint64_t off = 0; off < vm->mem[r].size; off += (uint64_t)chunk * page) {
			uint64_t len = vm->mem[r].size - off;

			if (len > (uint64_t)chunk * page)
				len = (uint64_t)chunk * page;
			if (mincore(vm->mem[r].host + off, len, vec))
				break;
			for (size_t i = 0; i < len / page; i++)
				kib += (vec[i] & 1) * (page / 1024);
		}
	free(vec);
	return kib;
}

/* VMM overhead is what the process holds beyond the guest RAM it touched. */
static void print_stats(const struct vm *vm)
{
	unsigned long peak, now, guest = guest_resident_kib(vm);
	uint64_t exits = 0, recovered = 0, retried = 0;

	self_rss(&peak, &now);
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		exits += vm->vcpus[i].exits;
		recovered += vm->vcpus[i].recovered;
		retried += vm->vcpus[i].retried;
	}
	fprintf(stderr, "tagvmm: stats: %llu exits, %llu instructions recovered, %llu emulation "
		"failures retried; RSS %lu KiB (peak %lu), guest RAM resident %lu KiB, VMM overhead "
		"%lu KiB\n", (unsigned long long)exits, (unsigned long long)recovered,
		(unsigned long long)retried, now, peak, guest, now > guest ? now - guest : 0);
	const struct vfio_state *vs = vfio_state_of(vm);

	for (size_t i = 0; vs && i < vs->ndevs; i++)
		if (vs->devs[i].pci)
			vfio_pci_print_stats(vs->devs[i].pci, stderr);
}

static int exit_status(const struct vm *vm, enum vm_stop_reason why, int signo)
{
	switch (why) {
	case VM_POWEROFF:
		return 0;
	case VM_RESET:
		fprintf(stderr, "tagvmm: the guest asked for a reset; tagvmm does not reboot\n");
		return EXIT_GUEST_RESET;
	case VM_SHUTDOWN:
	case VM_INTERNAL_ERROR:
		fprintf(stderr, "tagvmm: guest crashed: %s\n", vm->stop_message);
		return EXIT_GUEST_CRASH;
	case VM_STOPPED:
		if (signo)
			return 128 + signo;
		fprintf(stderr, "tagvmm: %s\n", vm->stop_message);
		return 1;
	case VM_HOST_ERROR:
	case VM_RUNNING:
		break;
	}
	fprintf(stderr, "tagvmm: %s\n", vm->stop_message[0] ? vm->stop_message : "VMM error");
	return 1;
}

int cmd_run(int argc, char **argv)
{
	struct run_options o;
	struct vm_config cfg;
	struct signal_watch watch = { 0 };
	struct virtio_pci *virtio[VIRTIO_MAX_DEVICES] = { 0 };
	pthread_t watcher;
	struct vm *vm;
	char err[512];
	int status;

	status = run_parse_options(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	if (o.host_trace) {
		host_trace_out = strcmp(o.host_trace, "-") ? fopen(o.host_trace, "w") : stderr;
		if (!host_trace_out) {
			fprintf(stderr, "tagvmm: run: --host-trace %s: %s\n", o.host_trace,
				strerror(errno));
			return 1;
		}
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "tagvmm: run: out of memory\n");
		return 1;
	}
	cfg = (struct vm_config){ .ncpus = o.ncpus, .ram_size = o.ram_size };
	if (vm_create(vm, &cfg, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: %s\n", err);
		free(vm);
		return 1;
	}
	vm->console_in = STDIN_FILENO;
	vm->console_out = STDOUT_FILENO;

	/* Block the stop signals everywhere; the watcher thread takes them. */
	watch.vm = vm;
	sigemptyset(&watch.set);
	sigaddset(&watch.set, SIGINT);
	sigaddset(&watch.set, SIGTERM);
	sigaddset(&watch.set, SIGHUP);
	sigaddset(&watch.set, SIGUSR2);	/* wakes the watcher at the end */
	pthread_sigmask(SIG_BLOCK, &watch.set, NULL);
	if (pthread_create(&watcher, NULL, watch_signals, &watch)) {
		fprintf(stderr, "tagvmm: run: cannot start the signal thread\n");
		vm_destroy(vm);
		free(vm);
		return 1;
	}

	status = prepare(vm, &o, virtio);
	if (!status) {
		status = exit_status(vm, vm_run(vm), 0);
		if (o.stats)
			print_stats(vm);
	}
	pthread_kill(watcher, SIGUSR2);
	pthread_join(watcher, NULL);
	if (watch.signo && status == 1)
		status = 128 + watch.signo;
	/* Their workers stop before the vIOMMU they translate through goes. */
	for (size_t i = 0; i < VIRTIO_MAX_DEVICES; i++)
		virtio_free(virtio[i]);
	viommu_teardown(vm);
	vm_destroy(vm);
	free(vm);
	if (host_trace_out) {
		host_ops_trace_destroy(&host_trace);
		if (host_trace_out != stderr)
			fclose(host_trace_out);
	}
	return status;
}
