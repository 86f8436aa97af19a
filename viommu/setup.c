// SPDX-License-Identifier: MIT
/*
 * Putting the emulated VT-d together: the simulated host (units and the
 * flush path), the vIOMMUs the guest sees, and the DMA engines behind
 * them, described in the machine for the DMAR and the device tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushpath.h"
#include "hostvtd/simvtd.h"
#include "viommu/guest-trace.h"
#include "viommu/passthrough.h"
#include "viommu/simdev.h"
#include "viommu/viommu.h"
#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vmm/vfio.h"

/* Host SIDs of the sim devices: bus 0x10 on the (simulated) host; emulated ones bus 0x11. */
#define SIM_HOST_BUS 0x10
#define EMULATED_HOST_BUS 0x11

struct viommu_state {
	struct flush_path fp;		/* the simulated host, tag store, trace, engine */
	struct simvtd *sim;		/* fp's back end */
	struct viommu units[VIOMMU_MAX_UNITS];
	unsigned int nunits;
	struct viommu_dev devs[VIOMMU_MAX_SIM_DEVICES];
	unsigned int ndevs;
	struct viommu_dev emulated[VIOMMU_MAX_EMULATED];	/* viommu_add_device() */
	unsigned int nemulated;
	/* --vfio devices, each behind its host unit's vIOMMU (passthrough.c). */
	struct viommu_dev vfio_devs[VFIO_MAX_DEVICES];
	struct viommu_pt_host *pt;
	struct guest_trace *guest_trace;
	bool report;
};

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

int viommu_sim_device_parse(const char *spec, struct sim_device_spec *out, char *err,
			    size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int rc = -1;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	tok = strtok_r(copy, ",", &save);
	if (!tok || strcmp(tok, "dma")) {
		snprintf(err, errlen, "the device model must come first and be 'dma'");
		goto out;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *val = strchr(tok, '=');

		if (val)
			*val++ = '\0';
		if (!strcmp(tok, "ats") && !val) {
			out->ats = true;
		} else if (!strcmp(tok, "pasid") && !val) {
			out->pasid = true;
		} else if (!strcmp(tok, "pri") && !val) {
			out->pri = true;
		} else if (!strcmp(tok, "iommu") && val) {
			if (strncmp(val, "dmar", 4) ||
			    parse_uint(val + 4, HOST_MAX_UNITS - 1, &out->host_unit)) {
				snprintf(err, errlen, "iommu=%s: expected dmar0 .. dmar%d", val,
					 HOST_MAX_UNITS - 1);
				goto out;
			}
		} else if (!strcmp(tok, "viommu") && val) {
			if (parse_uint(val, VIOMMU_MAX_UNITS - 1, &out->viommu)) {
				snprintf(err, errlen, "viommu=%s: expected 0 .. %d", val,
					 VIOMMU_MAX_UNITS - 1);
				goto out;
			}
			out->viommu_given = true;
		} else {
			snprintf(err, errlen, "unknown option '%s'", tok);
			goto out;
		}
	}
	if (out->pri && (!out->ats || !out->pasid)) {
		snprintf(err, errlen, "pri needs ats and pasid (page requests carry a PASID)");
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/*
 * Host-matched placement (plain --viommu): vIOMMU k fronts the k-th host
 * unit a device sits on, the simulated units the sim devices name first
 * (in unit order), then the real units of the VFIO devices (in the order
 * the devices were named: the two hosts are different machines, so
 * simulated dmar0 and real dmar0 are two units). Each device without
 * viommu=V goes behind its host unit's vIOMMU; past VIOMMU_MAX_UNITS the
 * rest share the last one. A guest flushing per vIOMMU (Linux) then
 * reaches one host unit per flush.
 */
static void place_devices(struct viommu_options *o)
{
	unsigned int rank[HOST_MAX_UNITS], vfio_rank[VIOMMU_MAX_VFIO], n = 0;
	bool used[HOST_MAX_UNITS] = { false };

	for (unsigned int i = 0; i < o->nvfio && i < VIOMMU_MAX_VFIO; i++)
		o->vfio_viommu[i] = 0;
	if (o->units_given)
		return;
	for (unsigned int i = 0; i < o->ndevs && i < VIOMMU_MAX_SIM_DEVICES; i++)
		if (o->devs[i].host_unit < HOST_MAX_UNITS)
			used[o->devs[i].host_unit] = true;
	for (unsigned int h = 0; h < HOST_MAX_UNITS; h++)
		rank[h] = used[h] ? n++ : 0;
	for (unsigned int i = 0; i < o->nvfio && i < VIOMMU_MAX_VFIO; i++) {
		unsigned int same = i;

		for (unsigned int j = 0; j < i && same == i; j++)
			if (!strncmp(o->vfio_unit[i], o->vfio_unit[j], sizeof(o->vfio_unit[i])))
				same = j;
		vfio_rank[i] = same < i ? vfio_rank[same] : n++;
	}
	o->units = n > 1 ? (n < VIOMMU_MAX_UNITS ? n : VIOMMU_MAX_UNITS) : 1;
	for (unsigned int i = 0; i < o->ndevs && i < VIOMMU_MAX_SIM_DEVICES; i++) {
		struct sim_device_spec *s = &o->devs[i];

		if (!s->viommu_given && s->host_unit < HOST_MAX_UNITS)
			s->viommu = rank[s->host_unit] < o->units ? rank[s->host_unit] : o->units - 1;
	}
	for (unsigned int i = 0; i < o->nvfio && i < VIOMMU_MAX_VFIO; i++)
		o->vfio_viommu[i] = vfio_rank[i] < o->units ? vfio_rank[i] : o->units - 1;
}

static int check_options(const struct viommu_options *o, unsigned int *host_units, char *err,
			 size_t errlen)
{
	unsigned int need = 1;

	if (o->units < 1 || o->units > VIOMMU_MAX_UNITS) {
		snprintf(err, errlen, "--viommu: 1 to %d units", VIOMMU_MAX_UNITS);
		return -1;
	}
	if (o->ndevs > VIOMMU_MAX_SIM_DEVICES) {
		snprintf(err, errlen, "at most %d --sim-device", VIOMMU_MAX_SIM_DEVICES);
		return -1;
	}
	if (o->nvfio > VIOMMU_MAX_VFIO) {
		snprintf(err, errlen, "at most %d --vfio devices behind vIOMMUs", VIOMMU_MAX_VFIO);
		return -1;
	}
	for (unsigned int i = 0; i < o->ndevs; i++) {
		if (o->devs[i].viommu >= o->units) {
			snprintf(err, errlen, "--sim-device %u: viommu=%u, but there are %u vIOMMUs%s",
				 i, o->devs[i].viommu, o->units,
				 o->units_given ? "" : " (one per host unit the sim and --vfio devices sit on; --viommu=N makes N)");
			return -1;
		}
		if (o->devs[i].host_unit + 1 > need)
			need = o->devs[i].host_unit + 1;
	}
	*host_units = o->host_units ? o->host_units : need;
	if (*host_units < need || *host_units > HOST_MAX_UNITS) {
		snprintf(err, errlen, "the sim devices need %u simulated host units", need);
		return -1;
	}
	if (o->ite_device >= 0 && (unsigned int)o->ite_device >= o->ndevs) {
		snprintf(err, errlen, "--inject-ite: there is no sim device %d", o->ite_device);
		return -1;
	}
	return 0;
}

/* The flush path every vIOMMU shares: simulated host, tag store, trace, engine. */
static int create_host(struct viommu_state *st, const struct viommu_options *o,
		       unsigned int host_units, char *err, size_t errlen)
{
	struct flush_path_options fo = {
		.backend = "sim", .units = host_units, .no_merge = o->no_merge,
		.trace = o->flush_trace, .trace_format = o->flush_trace_format,
	};

	if (flush_path_build(&st->fp, &fo, err, errlen))
		return -1;
	st->sim = flush_path_backend(&st->fp, "sim");
	st->report = o->flush_trace != NULL;
	return 0;
}

/* vmm/dma.h: the DMA space of the device with requester ID @rid, behind any vIOMMU. */
static int dma_space_by_rid(void *opaque, uint16_t rid, struct dma_space *out)
{
	struct viommu_state *st = opaque;

	for (unsigned int i = 0; i < st->nunits; i++)
		for (size_t j = 0; j < st->units[i].ndevs; j++)
			if (st->units[i].devs[j]->guest_sid == rid) {
				viommu_dma_space(st->units[i].devs[j], out);
				return 0;
			}
	return -1;
}

static int create_device(struct vm *vm, struct viommu_state *st, const struct sim_device_spec *s,
			 char *err, size_t errlen)
{
	unsigned int i = st->ndevs;
	struct viommu_dev *d = &st->devs[i];
	struct viommu *u = &st->units[s->viommu];
	uint16_t bdf = (uint16_t)((i + 1) << 3);	/* 00:01.0, 00:02.0, ... */

	d->unit = u;
	d->guest_sid = bdf;
	d->host.sid = (uint16_t)(SIM_HOST_BUS << 8 | (i << 3));
	host_device_name(d->host.sid, d->host.name);
	d->host.ats = s->ats;
	d->host.unit = simvtd_unit(st->sim, s->host_unit);
	d->simdev = simdev_create(vm, d, st->sim, s->ats, s->pasid, bdf, err, errlen);
	if (!d->simdev)
		return -1;
	if (s->pri && simdev_add_pri(d->simdev, err, errlen)) {
		simdev_free(d->simdev);
		d->simdev = NULL;
		return -1;
	}
	/* The DMAR and the device tree place the function behind its vIOMMU. */
	for (size_t p = 0; p < vm->machine.npci; p++)
		if (vm->machine.pci[p].bdf == bdf)
			vm->machine.pci[p].iommu = s->viommu;
	u->devs[u->ndevs++] = d;
	st->ndevs++;
	return 0;
}

int viommu_place(const struct viommu_options *given, struct viommu_options *placed,
		 unsigned int *host_units, char *err, size_t errlen)
{
	*placed = *given;
	place_devices(placed);
	return check_options(placed, host_units, err, errlen);
}

_Static_assert(VIOMMU_MAX_VFIO == VFIO_MAX_DEVICES, "one placement slot per --vfio device");

int viommu_setup(struct vm *vm, const struct viommu_options *given, char *err, size_t errlen)
{
	struct viommu_options with_vfio = *given, placed, *o = &placed;
	const struct vfio_state *vs = vfio_state_of(vm);
	struct viommu_state *st;
	unsigned int host_units;

	with_vfio.nvfio = vs ? (unsigned int)vs->ndevs : 0;
	for (unsigned int i = 0; i < with_vfio.nvfio && i < VIOMMU_MAX_VFIO; i++)
		snprintf(with_vfio.vfio_unit[i], sizeof(with_vfio.vfio_unit[i]), "%s",
			 vs->devs[i].iommu_unit);
	if (viommu_place(&with_vfio, &placed, &host_units, err, errlen))
		return -1;
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	vm->viommu = st;
	if (create_host(st, o, host_units, err, errlen))
		goto fail;
	if (o->guest_trace && !(st->guest_trace = guest_trace_open(o->guest_trace))) {
		snprintf(err, errlen, "--guest-trace %s: %s", o->guest_trace, strerror(errno));
		goto fail;
	}
	for (unsigned int i = 0; i < o->units; i++) {
		if (viommu_unit_init(&st->units[i], vm, i, o->caching_mode, err, errlen))
			goto fail;
		st->nunits++;
		st->units[i].ts = st->fp.ts;
		st->units[i].fe = st->fp.fe;
		st->units[i].guest_trace = st->guest_trace;
		vm->machine.iommus[i] = (struct machine_iommu){ .base = st->units[i].base };
		vm->machine.niommus = i + 1;
	}
	for (unsigned int i = 0; i < o->ndevs; i++)
		if (create_device(vm, st, &o->devs[i], err, errlen))
			goto fail;
	vm->dma_iommu = (struct dma_iommu){ .space = dma_space_by_rid, .opaque = st };
	if (o->ite_device >= 0)
		simvtd_inject_ite(st->sim, st->devs[o->ite_device].host.sid, o->ite_count);
	{
		size_t used;

		if (viommu_pt_setup(vm, st->units, st->nunits, o->vfio_viommu, st->vfio_devs,
				    VFIO_MAX_DEVICES, &used, &st->pt, err, errlen))
			goto fail;
		if (o->fault_reader_off)
			viommu_pt_fault_reader_off(st->pt);
	}
	return 0;
fail:
	viommu_teardown(vm);
	return -1;
}

int viommu_add_device(struct vm *vm, uint16_t bdf, bool ats, char *err, size_t errlen)
{
	struct viommu_state *st = vm->viommu;
	struct viommu_dev *d;
	struct viommu *u;

	if (!st || !st->nunits) {
		snprintf(err, errlen, "no vIOMMU");
		return -1;
	}
	u = &st->units[0];
	if (st->nemulated == VIOMMU_MAX_EMULATED || u->ndevs == VIOMMU_MAX_UNIT_DEVS) {
		snprintf(err, errlen, "at most %d emulated devices behind the vIOMMU",
			 VIOMMU_MAX_EMULATED);
		return -1;
	}
	d = &st->emulated[st->nemulated];
	*d = (struct viommu_dev){ .unit = u, .guest_sid = bdf, .sim = st->sim };
	d->host.sid = (uint16_t)(EMULATED_HOST_BUS << 8 | (st->nemulated << 3));
	host_device_name(d->host.sid, d->host.name);
	d->host.ats = ats;
	d->host.unit = simvtd_unit(st->sim, 0);
	for (size_t p = 0; p < vm->machine.npci; p++)
		if (vm->machine.pci[p].bdf == bdf)
			vm->machine.pci[p].iommu = 0;
	u->devs[u->ndevs++] = d;
	st->nemulated++;
	return 0;
}

static void report(const struct viommu_state *st)
{
	struct flush_stats s;

	flush_engine_stats(st->fp.fe, &s);
	fprintf(stderr, "tagvmm: viommu: %llu guest batches, %llu guest invalidations; host: %llu "
		"invalidations + %llu device-TLB in %llu submissions; unique-tag bound %llu\n",
		(unsigned long long)s.guest_batches, (unsigned long long)s.guest_invalidations,
		(unsigned long long)s.host_invalidations,
		(unsigned long long)s.host_devtlb_invalidations,
		(unsigned long long)s.host_submissions, (unsigned long long)s.unique_tag_bound);
	viommu_pt_report(st->pt);
	for (unsigned int i = 0; i < st->nunits; i++)
		if (st->units[i].tail_writes)
			fprintf(stderr, "tagvmm: viommu%u: %llu tail writes processed, %.1f us each on "
				"average\n", i, (unsigned long long)st->units[i].tail_writes,
				(double)st->units[i].tail_ns / 1e3 / (double)st->units[i].tail_writes);
}

unsigned int viommu_poll_faults(struct vm *vm)
{
	return vm->viommu ? viommu_pt_fault_poll(vm->viommu->pt) : 0;
}

void viommu_teardown(struct vm *vm)
{
	struct viommu_state *st = vm->viommu;

	if (!st)
		return;
	vm->dma_iommu = (struct dma_iommu){ 0 };
	/* No unit works on in the background while the devices go. */
	for (unsigned int i = 0; i < st->nunits; i++)
		if (st->units[i].vm)
			vtd_work_stop(&st->units[i]);
	if (st->fp.fe && (st->report || getenv("TAGVMM_VIOMMU_STATS")))
		report(st);
	viommu_pt_teardown(st->pt);
	for (unsigned int i = 0; i < st->ndevs; i++)
		simdev_free(st->devs[i].simdev);
	for (unsigned int i = 0; i < st->nunits; i++)
		viommu_unit_exit(&st->units[i]);
	if (flush_path_free(&st->fp))
		fprintf(stderr, "tagvmm: viommu: writing the flush trace failed\n");
	if (guest_trace_close(st->guest_trace))
		fprintf(stderr, "tagvmm: viommu: writing the guest trace failed\n");
	free(st);
	vm->viommu = NULL;
}
