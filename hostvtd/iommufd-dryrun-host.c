// SPDX-License-Identifier: MIT
/* Host units of the iommufd back end over a dry-run /dev/iommu (iommufd-dryrun-host.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/iommufd-dryrun-host.h"
#include "hostvtd/iommufd-dryrun.h"
#include "hostvtd/iommufd.h"
#include "hostvtd/plan.h"
#include "hostvtd/simvtd.h"
#include "lib/iommufd-compat.h"
#include "lib/util.h"

/*
 * Made-up guest stage-1 tables, one page apart, one per guest domain: the
 * dry run has no guest memory, and only their identity matters to which
 * HWPTs exist. A 4-level table, as Linux guests build.
 */
#define S1_TABLE_BASE 0x40000000ULL
#define S1_ADDR_WIDTH 48
#define TEXT_HWPT_LINES 16

struct binding {
	unsigned int unit;
	uint32_t dev_id;
	uint16_t did;
	uint32_t pasid;
	uint32_t hwpt_id;
};

struct dev_id_map {
	const struct host_device *dev;
	uint32_t dev_id;
};

struct dryrun_host {
	struct host_unit units[HOST_MAX_UNITS];
	bool added[HOST_MAX_UNITS];
	unsigned int nunits;
	bool qemu_model;
	struct iommufd_dryrun *dr;
	struct iommufd_host *h;
	uint32_t ioas_id;

	struct dev_id_map *devs;
	size_t ndevs, cap_devs;
	struct guest_domain_key *domains;	/* a domain's index picks its table */
	size_t ndomains, cap_domains;
	struct binding *binds;
	size_t nbinds, cap_binds;

	uint64_t batches, last_calls, min_calls, max_calls;
	atomic_uint_fast64_t devtlb_not_forwarded;
};

/*
 * The QEMU model's back end needs its dryrun_host, and backend_data is
 * the iommufd back end's. Units sit in ri->units[] at their index, so the
 * unit itself leads back to ri.
 */
static struct dryrun_host *ri_of(struct host_unit *unit)
{
	struct host_unit *first = unit - unit->index;

	return (struct dryrun_host *)((char *)first - offsetof(struct dryrun_host, units));
}

/*
 * QEMU forwards only PASID-IOTLB descriptors in nesting mode: device-TLB
 * ones are left to the host, whose flush of a nested HWPT reaches the ATC
 * of the device attached to it (viommu-anchors.md §2.3). Unmerged, each of
 * those ops would otherwise cost an entry, and a call, of its own.
 */
static int qemu_model_submit(struct host_unit *unit, const struct flush_op *ops, size_t n,
			     struct host_error *err)
{
	struct dryrun_host *ri = ri_of(unit);
	struct flush_op *kept;
	size_t *index, m = 0, dropped = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		dropped += ops[i].tag_type == CACHE_TAG_NESTING_DEVTLB;
	if (!dropped)
		return iommufd_backend.submit(unit, ops, n, err);
	atomic_fetch_add(&ri->devtlb_not_forwarded, dropped);
	memset(err, 0, sizeof(*err));
	if (dropped == n)
		return 0;
	kept = calloc(n, sizeof(*kept));
	index = calloc(n, sizeof(*index));
	if (!kept || !index) {
		free(kept);
		free(index);
		err->kind = HOST_ERR_IO;
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", unit->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (ops[i].tag_type != CACHE_TAG_NESTING_DEVTLB) {
			index[m] = i;
			kept[m++] = ops[i];
		}
	rc = iommufd_backend.submit(unit, kept, m, err);
	if (rc)
		err->op_index = err->op_index < m ? index[err->op_index] : n;
	free(kept);
	free(index);
	return rc;
}

static const struct host_backend qemu_model_backend = {
	.name = "iommufd (QEMU model)",
	.submit = qemu_model_submit,
};

struct dryrun_host *dryrun_host_new(unsigned int nunits, bool qemu_model, FILE *log,
					  char *err, size_t errlen)
{
	struct dryrun_host *ri = calloc(1, sizeof(*ri));
	struct iommu_ioas_alloc ioas;
	const struct host_ops *ops;

	if (!ri || !(ri->dr = iommufd_dryrun_new())) {
		free(ri);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ri->nunits = nunits < HOST_MAX_UNITS ? nunits : HOST_MAX_UNITS;
	ri->qemu_model = qemu_model;
	ri->min_calls = UINT64_MAX;
	for (unsigned int i = 0; i < ri->nunits; i++) {
		ri->units[i].index = i;
		snprintf(ri->units[i].name, sizeof(ri->units[i].name), "dmar%u", i);
		ri->units[i].cap = simvtd_default_cap();
		ri->units[i].ecap = simvtd_default_ecap();
	}
	iommufd_dryrun_set_log(ri->dr, log);
	ops = iommufd_dryrun_ops(ri->dr);
	if (iommufd_host_open(ops, &ri->h, err, errlen))
		goto fail;
	/* What a VMM's VFIO setup does once for guest RAM (vmm/vfio.c). */
	memset(&ioas, 0, sizeof(ioas));
	ioas.size = sizeof(ioas);
	if (ops->ioctl(ops->ctx, iommufd_host_fd(ri->h), IOMMU_IOAS_ALLOC, &ioas)) {
		snprintf(err, errlen, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		goto fail;
	}
	ri->ioas_id = ioas.out_ioas_id;
	return ri;
fail:
	dryrun_host_free(ri);
	return NULL;
}

struct host_unit *dryrun_host_unit(struct dryrun_host *ri, unsigned int i)
{
	return i < ri->nunits ? &ri->units[i] : NULL;
}

/* Each device is bound to the iommufd once, as its VFIO cdev would be. */
static int dev_id_of(struct dryrun_host *ri, const struct host_device *dev, uint32_t *dev_id)
{
	for (size_t i = 0; i < ri->ndevs; i++)
		if (ri->devs[i].dev == dev) {
			*dev_id = ri->devs[i].dev_id;
			return 0;
		}
	if (array_reserve((void **)&ri->devs, &ri->cap_devs, ri->ndevs + 1, sizeof(*ri->devs)) ||
	    iommufd_dryrun_bind_device(ri->dr, iommufd_host_fd(ri->h), dev->unit->cap,
				       dev->unit->ecap, dev_id))
		return -1;
	ri->devs[ri->ndevs++] = (struct dev_id_map){ dev, *dev_id };
	return 0;
}

static uint64_t s1_table_of(struct dryrun_host *ri, struct guest_domain_key key)
{
	size_t i;

	for (i = 0; i < ri->ndomains; i++)
		if (ri->domains[i].viommu == key.viommu && ri->domains[i].did == key.did &&
		    ri->domains[i].pasid == key.pasid)
			break;
	if (i == ri->ndomains) {
		if (array_reserve((void **)&ri->domains, &ri->cap_domains, i + 1,
				  sizeof(*ri->domains)))
			return 0;
		ri->domains[ri->ndomains++] = key;
	}
	return S1_TABLE_BASE + (uint64_t)i * 0x1000;
}

int dryrun_host_attach(struct dryrun_host *ri, const struct host_device *dev,
		       struct guest_domain_key key, bool nested, uint16_t host_did,
		       uint32_t host_pasid, char *err, size_t errlen)
{
	struct host_unit *unit = dev ? dev->unit : NULL;
	unsigned int index;
	uint32_t dev_id, hwpt_id;
	uint64_t table;

	if (!unit || unit->index >= ri->nunits || unit != &ri->units[unit->index]) {
		snprintf(err, errlen, "no device %04x behind a unit of the dry run",
			 dev ? dev->sid : 0);
		return -1;
	}
	index = unit->index;
	if (dev_id_of(ri, dev, &dev_id)) {
		snprintf(err, errlen, "binding %s to the iommufd: %s", dev->name, strerror(errno));
		return -1;
	}
	if (!ri->added[index]) {
		/* The unit's nest parent is allocated through the first device seen behind it. */
		if (iommufd_host_add_unit(ri->h, unit, dev_id, ri->ioas_id)) {
			snprintf(err, errlen, "%s", iommufd_host_error(ri->h));
			return -1;
		}
		ri->added[index] = true;
		if (ri->qemu_model)
			unit->backend = &qemu_model_backend;
	}
	if (!nested)
		return 0;
	table = s1_table_of(ri, key);
	if (!table ||
	    array_reserve((void **)&ri->binds, &ri->cap_binds, ri->nbinds + 1, sizeof(*ri->binds))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (iommufd_bind_s1(ri->h, unit, dev_id, host_did, host_pasid, table, S1_ADDR_WIDTH, 0,
			    &hwpt_id)) {
		snprintf(err, errlen, "%s", iommufd_host_error(ri->h));
		return -1;
	}
	ri->binds[ri->nbinds++] = (struct binding){ index, dev_id, host_did, host_pasid, hwpt_id };
	return 0;
}

void dryrun_host_end_batch(struct dryrun_host *ri)
{
	struct iommufd_stats st;
	uint64_t calls;

	iommufd_host_stats(ri->h, &st);
	calls = st.invalidate_calls - ri->last_calls;
	ri->last_calls = st.invalidate_calls;
	ri->batches++;
	if (calls < ri->min_calls)
		ri->min_calls = calls;
	if (calls > ri->max_calls)
		ri->max_calls = calls;
}

/* The nested HWPTs in the order their first bind created them, and their users. */
static size_t hwpt_users(const struct dryrun_host *ri, size_t k, bool *first)
{
	size_t users = 0;

	*first = true;
	for (size_t j = 0; j < ri->nbinds; j++) {
		if (ri->binds[j].hwpt_id != ri->binds[k].hwpt_id)
			continue;
		if (j < k)
			*first = false;
		users++;
	}
	return users;
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void print_hwpts(struct dryrun_host *ri, FILE *out, bool json, size_t nested)
{
	size_t shown = 0;
	bool first_json = true;

	for (size_t k = 0; k < ri->nbinds; k++) {
		const struct binding *b = &ri->binds[k];
		struct iommufd_dryrun_hwpt hw = { 0 };
		bool first;
		size_t users = hwpt_users(ri, k, &first);

		if (!first)
			continue;
		iommufd_dryrun_hwpt(ri->dr, iommufd_host_fd(ri->h), b->hwpt_id, &hw);
		if (json) {
			fprintf(out, "%s{\"hwpt\":%u,\"unit\":\"%s\",\"did\":%u,\"pasid\":%u,"
				"\"devices\":%zu,\"calls\":%llu,\"entries\":%llu,\"refused\":%llu}",
				first_json ? "" : ",", b->hwpt_id, ri->units[b->unit].name, b->did,
				b->pasid, users, (unsigned long long)hw.invalidate_calls,
				(unsigned long long)hw.invalidate_entries,
				(unsigned long long)hw.invalidate_refused);
			first_json = false;
		} else if (shown++ < TEXT_HWPT_LINES) {
			fprintf(out, "    HWPT %u (%s DID %u PASID %u, %zu device%s): %llu calls, "
				"%llu entries\n", b->hwpt_id, ri->units[b->unit].name, b->did, b->pasid,
				users, users == 1 ? "" : "s", (unsigned long long)hw.invalidate_calls,
				(unsigned long long)hw.invalidate_entries);
		}
	}
	if (!json && nested > TEXT_HWPT_LINES)
		fprintf(out, "    ... and %zu more nested HWPTs (--json lists them all)\n",
			nested - TEXT_HWPT_LINES);
}

void dryrun_host_print(struct dryrun_host *ri, FILE *out, bool json)
{
	struct iommufd_dryrun_stats ds;
	struct iommufd_stats st;
	uint64_t dropped = atomic_load(&ri->devtlb_not_forwarded);
	uint64_t min = ri->batches ? ri->min_calls : 0;
	double per_batch;
	size_t nested = 0;

	iommufd_host_stats(ri->h, &st);
	iommufd_dryrun_stats(ri->dr, &ds);
	per_batch = ri->batches ? (double)st.invalidate_calls / (double)ri->batches : 0.0;
	for (size_t k = 0; k < ri->nbinds; k++) {
		bool first;

		hwpt_users(ri, k, &first);
		nested += first;
	}
	if (json) {
		fprintf(out, ",\"iommufd\":{\"model\":\"%s\",\"invalidate_calls\":%llu,"
			"\"invalidate_entries\":%llu,\"calls_per_batch\":%.2f,"
			"\"calls_per_batch_min\":%llu,\"calls_per_batch_max\":%llu,"
			"\"devtlb_covered\":%llu,\"devtlb_done_before\":%llu,\"devtlb_entries\":%llu,"
			"\"devtlb_not_forwarded\":%llu,"
			"\"s2_ops_elided\":%llu,\"nested_hwpts\":%zu,\"ioctls\":%llu,\"refused\":%llu",
			ri->qemu_model ? "qemu" : "shared", (unsigned long long)st.invalidate_calls,
			(unsigned long long)st.invalidate_entries, per_batch, (unsigned long long)min,
			(unsigned long long)ri->max_calls, (unsigned long long)st.devtlb_covered,
			(unsigned long long)st.devtlb_done_before,
			(unsigned long long)st.devtlb_entries, (unsigned long long)dropped,
			(unsigned long long)st.s2_ops_elided, nested, (unsigned long long)ds.ioctls,
			(unsigned long long)ds.refused);
		if (ds.refused) {
			fprintf(out, ",\"last_refusal\":");
			json_string(out, ds.last_error);
		}
		fprintf(out, ",\"hwpts\":[");
		print_hwpts(ri, out, true, nested);
		fprintf(out, "]}");
		return;
	}
	fprintf(out, "  iommufd dry run, %s: %llu IOMMU_HWPT_INVALIDATE calls with %llu entries, "
		"%.2f per guest batch (min %llu, max %llu)\n",
		ri->qemu_model ? "QEMU's model (a nested HWPT per device)" : "shared nested HWPTs",
		(unsigned long long)st.invalidate_calls, (unsigned long long)st.invalidate_entries,
		per_batch, (unsigned long long)min, (unsigned long long)ri->max_calls);
	fprintf(out, "    device-TLB ops: %llu covered by their HWPT's entry, %llu done by an earlier "
		"flush of it, %llu with an entry of their own", (unsigned long long)st.devtlb_covered,
		(unsigned long long)st.devtlb_done_before, (unsigned long long)st.devtlb_entries);
	if (ri->qemu_model)
		fprintf(out, ", %llu not forwarded (QEMU sends only PASID-IOTLB descriptors)",
			(unsigned long long)dropped);
	fprintf(out, "\n    second-stage ops with no call (the kernel owns the nest parent): %llu\n",
		(unsigned long long)st.s2_ops_elided);
	print_hwpts(ri, out, false, nested);
	if (ds.refused)
		fprintf(out, "    the dry run refused %llu of %llu ioctls; last: %s\n",
			(unsigned long long)ds.refused, (unsigned long long)ds.ioctls, ds.last_error);
}

int dryrun_host_teardown(struct dryrun_host *ri, char *err, size_t errlen)
{
	int rc = 0;

	/* Last bound first, as a VMM tears down: each HWPT's last user destroys it. */
	while (ri->nbinds) {
		const struct binding *b = &ri->binds[--ri->nbinds];

		if (iommufd_unbind_s1(ri->h, &ri->units[b->unit], b->dev_id, b->did, b->pasid) &&
		    !rc) {
			snprintf(err, errlen, "%s", iommufd_host_error(ri->h));
			rc = -1;
		}
	}
	return rc;
}

void dryrun_host_free(struct dryrun_host *ri)
{
	char err[8];

	if (!ri)
		return;
	if (ri->h) {
		dryrun_host_teardown(ri, err, sizeof(err));
		iommufd_host_close(ri->h);
	}
	iommufd_dryrun_free(ri->dr);
	free(ri->devs);
	free(ri->domains);
	free(ri->binds);
	free(ri);
}
