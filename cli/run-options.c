// SPDX-License-Identifier: MIT
/*
 * `tagvmm run`'s options (run-options.h): getopt over the command line,
 * each value checked where it is parsed, and the combinations checked at
 * the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run-options.h"
#include "hostvtd/flushtrace.h"
#include "vmm/machine.h"

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
		"                        per host unit the sim and VFIO devices sit on, each\n"
		"                        device behind its unit's (at least 1); =N: N, devices\n"
		"                        behind vIOMMU 0\n"
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

int run_parse_options(int argc, char **argv, struct run_options *o)
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
	/*
	 * 0, not 1: glibc's getopt then starts afresh. With 1 it would go on
	 * inside the previous argv's option cluster ("-hq" stops after h) when
	 * a process parses twice, as fuzz/fuzz_setup.c does.
	 */
	optind = 0;
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
