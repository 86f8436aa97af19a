// SPDX-License-Identifier: MIT
/*
 * Replaying a recorded guest invalidation stream (replay.h): batches up to
 * each wait descriptor, the default topology of one domain per DID, the
 * tail windows that show what QEMU did not trace, and the summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/iommufd-dryrun-host.h"
#include "replay/qemu-trace.h"
#include "replay/replay.h"

static int add_to_batch(struct replay *rp, const struct vtd_desc *d, unsigned long line)
{
	if (rp->nbatch == rp->cap) {
		size_t n = rp->cap ? rp->cap * 2 : 64;
		struct vtd_desc *p = realloc(rp->batch, n * sizeof(*p));

		if (!p)
			return -1;
		rp->batch = p;
		rp->cap = n;
	}
	if (!rp->nbatch)
		rp->batch_first_line = line;
	rp->batch[rp->nbatch++] = *d;
	return 0;
}

/* After topology_apply(): the iommufd dry run binds what the tag store attached. */
static int attach_host(struct replay *rp, const struct assignment *a, char *err, size_t errlen)
{
	struct guest_domain_key key = { a->viommu, a->did, a->pasid };

	return dryrun_host_attach(rp->ri, topology_device(&rp->topo, a->host_sid), key, a->nested,
				  a->host_did, a->host_pasid, err, errlen);
}

/* Default topology: a domain per guest DID (and PASID) the stream names. */
static int auto_attach(struct replay *rp, const struct vtd_desc *d)
{
	struct assignment a = { 0 };
	char err[128];
	struct topology one = { 0 };
	int rc;

	if (d->type == VTD_DESC_IOTLB && d->iotlb.gran != VTD_IOTLB_GLOBAL) {
		a.did = d->iotlb.did;
	} else if (d->type == VTD_DESC_PIOTLB) {
		a.did = d->piotlb.did;
		a.pasid = d->piotlb.pasid;
		a.nested = true;
	} else {
		return 0;
	}
	a.viommu = rp->viommu;
	if (!a.pasid && (rp->auto_dids[a.did] & 1u << rp->viommu))
		return 0;
	if (a.pasid) {
		struct guest_domain_key key = { rp->viommu, a.did, a.pasid };
		bool known;

		tag_store_read_lock(rp->ts);
		known = tag_store_find(rp->ts, key) != NULL;
		tag_store_read_unlock(rp->ts);
		if (known)
			return 0;
	}
	rp->auto_dids[a.did] |= (uint8_t)(1u << rp->viommu);
	a.guest_sid = a.host_sid = a.did;
	a.host_did = a.did;
	a.host_pasid = a.pasid;
	/* Reuse the topology's device list so the DID's device is created once. */
	one.devices = rp->topo.devices;
	one.ndevices = rp->topo.ndevices;
	one.assign = &a;
	one.nassign = 1;
	rc = topology_apply(&one, rp->ts, rp->fp.units, rp->nunits, err, sizeof(err));
	rp->topo.devices = one.devices;
	rp->topo.ndevices = one.ndevices;
	if (!rc && rp->ri)
		rc = attach_host(rp, &a, err, sizeof(err));
	if (rc)
		fprintf(stderr, "tagvmm: replay: %s\n", err);
	return rc;
}

static int flush_batch(struct replay *rp, unsigned int waits, bool *host_failed)
{
	struct flush_result res;

	if (!rp->nbatch && !waits)
		return 0;
	if (flush_engine_batch(rp->fe, rp->viommu, rp->batch, rp->nbatch, waits, &res)) {
		*host_failed = true;
		fprintf(stderr, "tagvmm: replay: batch from line %lu: host %s: %s\n",
			rp->batch_first_line, host_error_name(res.err.kind), res.err.msg);
	}
	if (rp->ri)
		dryrun_host_end_batch(rp->ri);
	rp->nbatch = 0;
	return 0;
}

/* QEMU processes the descriptors after the tail line; check the last window. */
static void close_tail_window(struct replay *rp, struct replay_queue *q)
{
	if (q->seen_tail && q->expected_since_tail > q->traced_since_tail)
		rp->untraced += q->expected_since_tail - q->traced_since_tail;
}

static void on_tail(struct replay *rp, uint32_t tail)
{
	struct replay_queue *q = &rp->queue[rp->viommu];

	close_tail_window(rp, q);
	q->expected_since_tail = (tail - (q->seen_tail ? q->last_tail : 0) + rp->queue_entries) %
				 rp->queue_entries;
	q->traced_since_tail = 0;
	q->last_tail = tail;
	q->seen_tail = true;
	rp->tail_writes++;
}

void replay_print_summary(struct replay *rp)
{
	struct flush_stats stats, *st = &stats;
	bool no_merge = rp->no_merge;
	uint64_t host;

	flush_engine_stats(rp->fe, st);
	host = st->host_invalidations + st->host_devtlb_invalidations;

	if (rp->json) {
		printf("{\"mode\":\"%s\",\"backend\":\"%s\",\"guest_descriptors\":%llu,"
		       "\"guest_invalidations\":%llu,"
		       "\"guest_batches\":%llu,\"host_invalidations\":%llu,"
		       "\"host_devtlb_invalidations\":%llu,\"host_submissions\":%llu,"
		       "\"unique_tag_bound\":%llu,\"no_target\":%llu,\"host_errors\":%llu,"
		       "\"tail_writes\":%llu,\"untraced_descriptors\":%llu",
		       no_merge ? "no-merge" : "merge", rp->ri ? "iommufd-dry-run" : "sim",
		       (unsigned long long)st->guest_descriptors,
		       (unsigned long long)st->guest_invalidations,
		       (unsigned long long)st->guest_batches,
		       (unsigned long long)st->host_invalidations,
		       (unsigned long long)st->host_devtlb_invalidations,
		       (unsigned long long)st->host_submissions,
		       (unsigned long long)st->unique_tag_bound, (unsigned long long)st->no_target,
		       (unsigned long long)st->host_errors, (unsigned long long)rp->tail_writes,
		       (unsigned long long)rp->untraced);
		if (rp->ri)
			dryrun_host_print(rp->ri, stdout, true);
		printf("}\n");
		return;
	}
	printf("replay of %s (%s, %s)\n", rp->path, no_merge ? "no-merge" : "merged",
	       rp->ri ? "iommufd dry run" : "simulated host");
	printf("  guest: %llu descriptors, %llu invalidations for the host, %llu batches, %llu tail writes\n",
	       (unsigned long long)st->guest_descriptors,
	       (unsigned long long)st->guest_invalidations,
	       (unsigned long long)st->guest_batches, (unsigned long long)rp->tail_writes);
	/* With the dry run these are the planner's ops; the iommufd calls they cost follow. */
	printf("  %s %llu invalidations + %llu device-TLB invalidations in %llu submissions\n",
	       rp->ri ? "planned:" : "host: ",
	       (unsigned long long)st->host_invalidations,
	       (unsigned long long)st->host_devtlb_invalidations,
	       (unsigned long long)st->host_submissions);
	printf("  unique-tag bound: %llu (%s/bound = %.2f)\n",
	       (unsigned long long)st->unique_tag_bound, rp->ri ? "planned" : "host",
	       st->unique_tag_bound ? (double)host / (double)st->unique_tag_bound : 0.0);
	if (st->no_target)
		printf("  %llu guest invalidations reached no assigned device\n",
		       (unsigned long long)st->no_target);
	if (rp->untraced)
		printf("  note: %llu descriptors were queued but not traced by QEMU "
		       "(QEMU 7.2 does not trace PASID-cache and PASID-IOTLB descriptors); "
		       "they could not be replayed\n", (unsigned long long)rp->untraced);
	if (st->host_errors)
		printf("  host errors: %llu\n", (unsigned long long)st->host_errors);
	if (rp->ri)
		dryrun_host_print(rp->ri, stdout, false);
}

enum replay_status replay_stream(struct replay *rp, FILE *in, bool *host_failed)
{
	struct qemu_trace_reader *rd = qemu_trace_open(in);
	struct qemu_trace_event ev;
	char err[256];
	unsigned long last_line = 0;
	int rc;

	if (!rd) {
		fprintf(stderr, "tagvmm: replay: out of memory\n");
		return REPLAY_FAILED;
	}
	while ((rc = qemu_trace_next(rd, &ev, err, sizeof(err))) == 1) {
		struct vtd_desc d;
		enum vtd_desc_error de;

		last_line = ev.line;
		if (ev.kind == QEMU_TRACE_TAIL) {
			on_tail(rp, ev.tail);
			continue;
		}
		if (ev.kind == QEMU_TRACE_VIOMMU) {
			if (ev.viommu >= REPLAY_MAX_VIOMMUS) {
				flush_batch(rp, 0, host_failed);
				fprintf(stderr, "tagvmm: %s: line %lu: vIOMMU %u (at most %d)\n",
					rp->path, ev.line, ev.viommu, REPLAY_MAX_VIOMMUS - 1);
				qemu_trace_close(rd);
				return REPLAY_BAD_INPUT;
			}
			/* A submission never spans queues: what is pending goes now. */
			if (ev.viommu != rp->viommu)
				flush_batch(rp, 0, host_failed);
			rp->viommu = ev.viommu;
			continue;
		}
		rp->queue[rp->viommu].traced_since_tail++;
		de = vtd_desc_decode(&ev.raw, ev.wide, &d);
		if (de != VTD_DESC_OK) {
			flush_batch(rp, 0, host_failed);
			fprintf(stderr, "tagvmm: %s: line %lu: %s descriptor (qw0 0x%llx qw1 0x%llx)\n",
				rp->path, ev.line, vtd_desc_strerror(de),
				(unsigned long long)ev.raw.qw[0], (unsigned long long)ev.raw.qw[1]);
			qemu_trace_close(rd);
			return REPLAY_BAD_INPUT;
		}
		if (d.type == VTD_DESC_WAIT) {
			flush_batch(rp, 1, host_failed);
			continue;
		}
		if (rp->auto_topology && auto_attach(rp, &d)) {
			qemu_trace_close(rd);
			return REPLAY_FAILED;
		}
		if (add_to_batch(rp, &d, ev.line)) {
			fprintf(stderr, "tagvmm: replay: out of memory\n");
			qemu_trace_close(rd);
			return REPLAY_FAILED;
		}
	}
	qemu_trace_close(rd);
	for (unsigned int v = 0; v < REPLAY_MAX_VIOMMUS; v++)
		close_tail_window(rp, &rp->queue[v]);
	if (rc < 0) {
		flush_batch(rp, 0, host_failed);
		fprintf(stderr, "tagvmm: %s: %s\n", rp->path, err);
		return REPLAY_BAD_INPUT;
	}
	if (rp->nbatch) {
		/* Pending work is never dropped: flush it, then report the truncation. */
		unsigned long first = rp->batch_first_line;
		size_t n = rp->nbatch;

		flush_batch(rp, 0, host_failed);
		fprintf(stderr, "tagvmm: %s: line %lu: truncated: %zu descriptors from line %lu have no "
			"wait descriptor after them\n", rp->path, last_line, n, first);
		return REPLAY_BAD_INPUT;
	}
	return REPLAY_OK;
}

enum replay_status replay_setup(struct replay *rp, const struct flush_path_options *fo)
{
	struct flush_path_options o = *fo;
	char err[256];
	int max_unit = topology_max_unit(&rp->topo);

	if (!rp->nunits)
		rp->nunits = max_unit < 0 ? 1 : (unsigned int)max_unit + 1;
	if (rp->nunits > HOST_MAX_UNITS || (int)rp->nunits <= max_unit) {
		fprintf(stderr, "tagvmm: replay: --units %u does not cover unit %d (1..%d units)\n",
			rp->nunits, max_unit, HOST_MAX_UNITS);
		return REPLAY_BAD_SETUP;
	}
	o.units = rp->nunits;
	o.no_merge = rp->no_merge;
	o.qemu_model = rp->no_merge;
	if (flush_path_build(&rp->fp, &o, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: replay: %s\n", err);
		return REPLAY_FAILED;
	}
	rp->ts = rp->fp.ts;
	rp->fe = rp->fp.fe;
	rp->ri = flush_path_backend(&rp->fp, "iommufd-dry-run");
	if (rp->ri && rp->no_merge && topology_remap_qemu(&rp->topo, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: replay: %s\n", err);
		return REPLAY_BAD_SETUP;
	}
	if (topology_apply(&rp->topo, rp->ts, rp->fp.units, rp->nunits, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: replay: %s\n", err);
		return REPLAY_BAD_SETUP;
	}
	/* The host refusing a binding is a topology it cannot have: a usage error. */
	for (size_t i = 0; rp->ri && i < rp->topo.nassign; i++)
		if (attach_host(rp, &rp->topo.assign[i], err, sizeof(err))) {
			fprintf(stderr, "tagvmm: replay: --assign %zu: %s\n", i + 1, err);
			return REPLAY_BAD_SETUP;
		}
	return REPLAY_OK;
}

int replay_teardown(struct replay *rp)
{
	char err[160];

	if (rp->ri && dryrun_host_teardown(rp->ri, err, sizeof(err))) {
		fprintf(stderr, "tagvmm: replay: iommufd teardown: %s\n", err);
		return -1;
	}
	return 0;
}

int replay_free(struct replay *rp)
{
	int rc = flush_path_free(&rp->fp);

	topology_free(&rp->topo);
	free(rp->batch);
	rp->batch = NULL;
	rp->nbatch = rp->cap = 0;
	return rc;
}
