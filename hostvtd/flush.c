// SPDX-License-Identifier: MIT
/*
 * The flush engine: plan a guest batch, send each host unit its one
 * submission, trace it, count it. A failure on one unit never stops the
 * others: every planned invalidation is attempted before the caller may
 * complete the guest's wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flush.h"
#include "hostvtd/flushtrace.h"

/* Plans are reused across batches; one per concurrently flushing thread. */
struct plan_slot {
	struct plan_slot *next;
	struct flush_plan plan;
};

struct flush_engine {
	struct tag_store *ts;
	struct flush_trace *trace;
	struct plan_options opt;
	atomic_uint_fast64_t next_batch, next_submission;

	pthread_mutex_t lock;		/* guards stats and the plan pool */
	struct flush_stats stats;
	struct plan_slot *free_plans;
};

struct flush_engine *flush_engine_new(struct tag_store *ts, struct flush_trace *trace,
				      const struct plan_options *opt)
{
	struct flush_engine *fe;

	if (!ts) {
		errno = EINVAL;
		return NULL;
	}
	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return NULL;
	fe->ts = ts;
	fe->trace = trace;
	if (opt)
		fe->opt = *opt;
	pthread_mutex_init(&fe->lock, NULL);
	return fe;
}

void flush_engine_free(struct flush_engine *fe)
{
	if (!fe)
		return;
	while (fe->free_plans) {
		struct plan_slot *p = fe->free_plans;

		fe->free_plans = p->next;
		flush_plan_free(&p->plan);
		free(p);
	}
	pthread_mutex_destroy(&fe->lock);
	free(fe);
}

static struct plan_slot *get_plan(struct flush_engine *fe)
{
	struct plan_slot *p;

	pthread_mutex_lock(&fe->lock);
	p = fe->free_plans;
	if (p)
		fe->free_plans = p->next;
	pthread_mutex_unlock(&fe->lock);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p)
			flush_plan_init(&p->plan);
	}
	return p;
}

static void put_plan(struct flush_engine *fe, struct plan_slot *p)
{
	pthread_mutex_lock(&fe->lock);
	p->next = fe->free_plans;
	fe->free_plans = p;
	pthread_mutex_unlock(&fe->lock);
}

static void fail(struct flush_result *res, enum host_error_kind kind, const char *msg)
{
	res->status = -1;
	memset(&res->err, 0, sizeof(res->err));
	res->err.kind = kind;
	snprintf(res->err.msg, sizeof(res->err.msg), "%s", msg);
}

/* Length of the run of ops starting at @i that goes into one submission. */
static size_t submission_len(const struct flush_plan *plan, size_t i, bool no_merge)
{
	size_t j = i + 1;

	if (no_merge)
		return 1;
	while (j < plan->nops && plan->ops[j].unit == plan->ops[i].unit)
		j++;
	return j - i;
}

int flush_engine_batch(struct flush_engine *fe, uint16_t viommu, const struct vtd_desc *reqs,
		       size_t n, unsigned int waits, struct flush_result *res)
{
	struct flush_result local;
	struct flush_stats delta = { 0 };
	struct plan_slot *slot;
	struct flush_plan *plan;
	uint64_t batch;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	delta.guest_descriptors = n + waits;
	delta.guest_batches = 1;

	slot = get_plan(fe);
	if (!slot || flush_plan_build(&slot->plan, fe->ts, viommu, reqs, n, &fe->opt)) {
		/*
		 * Without a plan the batch's invalidations cannot be narrowed;
		 * the caller must treat the batch as failed, never as done.
		 */
		fail(res, HOST_ERR_IO, "out of memory while planning a guest batch");
		if (slot)
			put_plan(fe, slot);
		delta.host_errors = 1;
		goto account;
	}
	plan = &slot->plan;
	batch = atomic_fetch_add(&fe->next_batch, 1);
	delta.guest_invalidations = plan->guest_invalidations;
	delta.no_target = plan->no_target;
	delta.unique_tag_bound = plan->unique_tag_bound;

	for (size_t i = 0; i < plan->nops;) {
		size_t len = submission_len(plan, i, fe->opt.no_merge);
		struct host_unit *unit = plan->ops[i].unit;
		struct host_error err = { 0 };
		uint64_t sub = atomic_fetch_add(&fe->next_submission, 1);
		int rc = unit->backend->submit(unit, &plan->ops[i], len, &err);

		flush_trace_submission(fe->trace, batch, sub, unit, &plan->ops[i], len,
				       rc ? &err : NULL);
		if (rc) {
			delta.host_errors++;
			if (res->status == 0) {
				res->status = -1;
				res->err = err;
				res->err.op_index += i;
			}
		}
		for (size_t k = i; k < i + len; k++) {
			if (plan->ops[k].kind == FLUSH_OP_DEVTLB || plan->ops[k].kind == FLUSH_OP_PDEVTLB)
				delta.host_devtlb_invalidations++;
			else
				delta.host_invalidations++;
		}
		delta.host_submissions++;
		i += len;
	}
	put_plan(fe, slot);

account:
	pthread_mutex_lock(&fe->lock);
	fe->stats.guest_descriptors += delta.guest_descriptors;
	fe->stats.guest_invalidations += delta.guest_invalidations;
	fe->stats.guest_batches += delta.guest_batches;
	fe->stats.host_invalidations += delta.host_invalidations;
	fe->stats.host_devtlb_invalidations += delta.host_devtlb_invalidations;
	fe->stats.host_submissions += delta.host_submissions;
	fe->stats.unique_tag_bound += delta.unique_tag_bound;
	fe->stats.no_target += delta.no_target;
	fe->stats.host_errors += delta.host_errors;
	pthread_mutex_unlock(&fe->lock);
	return res->status;
}

void flush_engine_stats(struct flush_engine *fe, struct flush_stats *out)
{
	pthread_mutex_lock(&fe->lock);
	*out = fe->stats;
	pthread_mutex_unlock(&fe->lock);
}
