// SPDX-License-Identifier: MIT
/*
 * tagvmm run: create the VM, let the devices register, build the firmware
 * tables, load the kernel, and run until the guest powers off.
 */
#include <errno.h>
#include <getopt.h>
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
#include "vmm/fdt.h"
#include "vmm/init.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"
#include "vmm/virtio.h"
#include "viommu/viommu.h"

#define DEFAULT_RAM_MIB 256
#define EXIT_GUEST_CRASH 5	/* triple fault, emulation failure, KVM error */
#define EXIT_GUEST_RESET 6	/* the guest asked for a reset; tagvmm does not reboot */

struct run_options {
	struct boot_config boot;
	uint64_t ram_size;
	unsigned int ncpus;
	const char *dtb_out;
	bool quiet;
	bool stats;
	struct viommu_options viommu;
	const char *vfio[VFIO_MAX_DEVICES];	/* --vfio BDF */
	size_t nvfio;
	const char *host_trace;			/* --host-trace FILE */
	struct virtio_spec virtio[VIRTIO_MAX_DEVICES];	/* --disk, --rng */
	size_t nvirtio;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tagvmm run -k KERNEL [options]\n"
		"\n"
		"Boots KERNEL (a Linux bzImage, an ELF vmlinux with a PVH entry, or an ELF64\n"
		"test guest) with the serial console on standard input/output. Exits 0 when\n"
		"the guest powers off.\n"
		"\n"
		"options:\n"
		"  -k, --kernel FILE     the kernel or test guest\n"
		"  -i, --initrd FILE     an initial ramdisk\n"
		"  -p, --params CMDLINE  the kernel command line\n"
		"  -m, --mem SIZE        guest RAM: a number of MiB, or with a K/M/G suffix (%d)\n"
		"  -c, --cpus N          vCPUs (1)\n"
		"      --dtb-out FILE    also write the machine's device tree to FILE\n"
		"      --viommu[=N]      emulated VT-d units shadowed onto the simulated host: one\n"
		"                        per host unit the sim devices name, each device behind\n"
		"                        its unit's (at least 1); =N: N, devices behind vIOMMU 0\n"
		"      --sim-device SPEC an emulated DMA engine behind a simulated host unit:\n"
		"                        dma,iommu=dmarH[,viommu=V][,ats][,pasid][,pri] (repeatable)\n"
		"      --caching-mode    advertise CAP.CM on the vIOMMUs\n"
		"      --flush-trace FILE  log every host invalidation ('-': stderr)\n"
		"      --flush-trace-format text|json\n"
		"      --guest-trace FILE  record the guest's invalidation stream for\n"
		"                        tagvmm replay --qemu-trace ('-': stderr)\n"
		"      --no-merge        forward guest invalidations one for one (for comparison)\n"
		"      --inject-ite D:N  the next N device-TLB invalidations of sim device D time out\n"
		"      --vfio BDF        assign the host PCI device DDDD:BB:DD.F, bound to vfio-pci\n"
		"                        (repeatable, up to 8; see docs/passthrough.md)\n"
		"      --host-trace FILE log every VFIO, iommufd and KVM interrupt call --vfio\n"
		"                        makes, with the kernel's answer ('-': stderr)\n"
		"      --disk FILE[,ro][,ats][,iommu=off]\n"
		"                        a virtio-blk disk on the raw image FILE (repeatable);\n"
		"                        behind the vIOMMU with --viommu unless iommu=off, ats\n"
		"                        adds PCIe ATS (see docs/virtio.md)\n"
		"      --rng[=ats|iommu=off]  a virtio-rng device fed by getrandom()\n"
		"  -q, --quiet           no start-up line on standard error\n"
		"      --stats           at exit, print exits and memory use on standard error\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 guest powered off; 1 VMM error; 2 bad usage; 3 bad kernel or\n"
		"initrd; 5 guest crashed (triple fault, emulation failure); 6 guest reset;\n"
		"128+N stopped by signal N.\n", DEFAULT_RAM_MIB);
}

/* "512", "512M", "2G", "65536K": bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -1;
	}
	if ((*end == 'i' || *end == 'B') && end[1] == '\0')
		end++;	/* 512MiB, 512MB: take the unit as written */
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* The --viommu family of options. Returns 0, or prints why not and returns -1. */
static int parse_viommu_option(int c, const char *arg, struct viommu_options *v)
{
	char err[160], *end;
	unsigned long n, count;

	switch (c) {
	case 'V':
		v->units = 1;
		if (arg) {
			errno = 0;
			n = strtoul(arg, &end, 10);
			if (errno || *end || !*arg || n < 1 || n > VIOMMU_MAX_UNITS) {
				fprintf(stderr, "tagvmm: run: --viommu=%s: 1 to %d units\n", arg,
					VIOMMU_MAX_UNITS);
				return -1;
			}
			v->units = (unsigned int)n;
			v->units_given = true;
		}
		return 0;
	case 'E':
		if (v->ndevs == VIOMMU_MAX_SIM_DEVICES) {
			fprintf(stderr, "tagvmm: run: at most %d --sim-device\n",
				VIOMMU_MAX_SIM_DEVICES);
			return -1;
		}
		if (viommu_sim_device_parse(arg, &v->devs[v->ndevs], err, sizeof(err))) {
			fprintf(stderr, "tagvmm: run: --sim-device %s: %s\n", arg, err);
			return -1;
		}
		v->ndevs++;
		return 0;
	case 'C':
		v->caching_mode = true;
		return 0;
	case 'T':
		v->flush_trace = arg;
		return 0;
	case 'G':
		v->guest_trace = arg;
		return 0;
	case 'F':
		if (flush_trace_format_parse(arg, &v->flush_trace_format)) {
			fprintf(stderr, "tagvmm: run: --flush-trace-format is text or json\n");
			return -1;
		}
		return 0;
	case 'N':
		v->no_merge = true;
		return 0;
	case 'I':
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end != ':' || n >= VIOMMU_MAX_SIM_DEVICES)
			goto bad_ite;
		count = strtoul(end + 1, &end, 10);
		if (errno || *end || count == 0 || count > 1000)
			goto bad_ite;
		v->ite_device = (int)n;
		v->ite_count = (unsigned int)count;
		return 0;
	}
	return -1;
bad_ite:
	fprintf(stderr, "tagvmm: run: --inject-ite DEVICE:COUNT (e.g. 0:1), not '%s'\n", arg);
	return -1;
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "params", required_argument, NULL, 'p' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "dtb-out", required_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats", no_argument, NULL, 'S' },
		{ "viommu", optional_argument, NULL, 'V' },
		{ "sim-device", required_argument, NULL, 'E' },
		{ "caching-mode", no_argument, NULL, 'C' },
		{ "flush-trace", required_argument, NULL, 'T' },
		{ "flush-trace-format", required_argument, NULL, 'F' },
		{ "guest-trace", required_argument, NULL, 'G' },
		{ "no-merge", no_argument, NULL, 'N' },
		{ "inject-ite", required_argument, NULL, 'I' },
		{ "vfio", required_argument, NULL, 'P' },
		{ "host-trace", required_argument, NULL, 'O' },
		{ "disk", required_argument, NULL, 'B' },
		{ "rng", optional_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long n;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->viommu.ite_device = -1;
	o->ram_size = (uint64_t)DEFAULT_RAM_MIB << 20;
	o->ncpus = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:i:p:m:c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o->boot.kernel = optarg; break;
		case 'i': o->boot.initrd = optarg; break;
		case 'p': o->boot.cmdline = optarg; break;
		case 'D': o->dtb_out = optarg; break;
		case 'q': o->quiet = true; break;
		case 'S': o->stats = true; break;
		case 'm':
			if (parse_size(optarg, &o->ram_size)) {
				fprintf(stderr, "tagvmm: run: bad memory size '%s'\n", optarg);
				return EXIT_USAGE;
			}
			if (o->ram_size < MACHINE_MIN_RAM || o->ram_size > MACHINE_MAX_RAM ||
			    o->ram_size % 4096) {
				fprintf(stderr, "tagvmm: run: memory size '%s': too little memory or "
					"out of range (16 MiB to 1 TiB, whole 4 KiB pages)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || n == 0 ||
			    n > MACHINE_MAX_CPUS) {
				fprintf(stderr, "tagvmm: run: bad CPU count '%s' (1 to %d)\n", optarg,
					MACHINE_MAX_CPUS);
				return EXIT_USAGE;
			}
			o->ncpus = (unsigned int)n;
			break;
		case 'V':
		case 'E':
		case 'C':
		case 'T':
		case 'G':
		case 'F':
		case 'N':
		case 'I':
			if (parse_viommu_option(c, optarg, &o->viommu))
				return EXIT_USAGE;
			break;
		case 'O': o->host_trace = optarg; break;
		case 'P': {
			char bdf[VFIO_BDF_LEN];

			if (vfio_parse_bdf(optarg, bdf)) {
				fprintf(stderr, "tagvmm: run: --vfio '%s': not a PCI address "
					"DDDD:BB:DD.F (e.g. 0000:3b:00.0)\n", optarg);
				return EXIT_USAGE;
			}
			if (o->nvfio == VFIO_MAX_DEVICES) {
				fprintf(stderr, "tagvmm: run: at most %d --vfio devices\n",
					VFIO_MAX_DEVICES);
				return EXIT_USAGE;
			}
			o->vfio[o->nvfio++] = optarg;
			break;
		}
		case 'B':
		case 'R': {
			char err[160];

			if (o->nvirtio == VIRTIO_MAX_DEVICES) {
				fprintf(stderr, "tagvmm: run: at most %d virtio devices (--disk, "
					"--rng)\n", VIRTIO_MAX_DEVICES);
				return EXIT_USAGE;
			}
			if ((c == 'B' ? virtio_parse_disk : virtio_parse_rng)(optarg,
					&o->virtio[o->nvirtio], err, sizeof(err))) {
				fprintf(stderr, "tagvmm: run: --%s%s%s: %s\n", c == 'B' ? "disk" : "rng",
					optarg ? (c == 'B' ? " " : "=") : "", optarg ? optarg : "", err);
				return EXIT_USAGE;
			}
			o->nvirtio++;
			break;
		}
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tagvmm: run: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < o->nvirtio; i++)
		if (o->virtio[i].ats && !o->viommu.units) {
			fprintf(stderr, "tagvmm: run: ats on a virtio device needs --viommu\n");
			return EXIT_USAGE;
		}
	if (o->viommu.ndevs && !o->viommu.units) {
		fprintf(stderr, "tagvmm: run: --sim-device needs --viommu\n");
		return EXIT_USAGE;
	}
	if (o->viommu.guest_trace && !o->viommu.units) {
		fprintf(stderr, "tagvmm: run: --guest-trace needs --viommu\n");
		return EXIT_USAGE;
	}
	if (!o->boot.kernel) {
		fprintf(stderr, "tagvmm: run: -k KERNEL is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

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

	status = parse_options(argc, argv, &o);
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
