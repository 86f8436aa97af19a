// SPDX-License-Identifier: MIT
/*
 * The flush planner. Two passes over a guest batch:
 *
 *  1. Each guest request is folded into a per-batch "want" for the guest
 *     domain(s) it names (a range union, or everything), or, for guest
 *     device-TLB requests, straight into the device's op.
 *  2. Each wanted domain's tags are folded into host ops keyed by what the
 *     host descriptor can express: (unit, DID) for type 2, (unit, DID,
 *     PASID) for type 6, (device, PASID) for types 3/8.
 *
 * Both passes run under the tag store's read lock, taken once per batch.
 * Ops copy everything they need, so the lock is dropped before the host
 * sees them. --no-merge instead emits, per guest request, one op per
 * attached device (QEMU's iommufd nesting forwards that way).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/plan.h"
#include "lib/util.h"
#include "vtd/regs.h"

/* A guest domain the batch asks to flush, and how much of it. */
struct domain_want {
	const struct tag_domain *dom;
	enum flush_scope scope;
	uint64_t start, end;
	bool ih;
	unsigned int requests;
};

/* Identity of a host op: requests with the same key merge into one op. */
struct op_key {
	uint8_t kind;
	uint16_t unit;
	uint16_t did;
	uint16_t sid;
	uint32_t pasid;
	/*
	 * Unmerged only: a device-TLB op that models the kernel's side of a
	 * per-device HWPT invalidation, not a guest request. Not part of the
	 * identity; the unique-tag bound leaves it out.
	 */
	bool implied;
};

struct plan_scratch {
	struct domain_want *wants;
	size_t nwants, cap_wants;
	/* Open-addressing index over ops: slot holds op index + 1, 0 = empty. */
	uint32_t *op_index;
	size_t op_slots;
	struct op_key *keys;	/* parallel to plan->ops */
	uint32_t *sources;	/* parallel: the last fold source counted in ->absorbed */
	size_t cap_keys, cap_sources;
	uint32_t *order;	/* sort scratch */
	size_t cap_order;
	struct flush_op *sorted;
	size_t cap_sorted;
	bool failed;		/* an allocation failed during this build */
};

void flush_op_encode(const struct flush_op *op, struct vtd_raw_desc *raw)
{
	struct vtd_desc d;
	bool all = op->scope == FLUSH_ALL;

	memset(&d, 0, sizeof(d));
	switch (op->kind) {
	case FLUSH_OP_IOTLB:
		d.type = VTD_DESC_IOTLB;
		d.iotlb.gran = all ? VTD_IOTLB_DOMAIN : VTD_IOTLB_PAGE;
		d.iotlb.did = op->did;
		d.iotlb.dr = op->unit && (op->unit->cap & VTD_CAP_DRD);
		d.iotlb.dw = op->unit && (op->unit->cap & VTD_CAP_DWD);
		if (!all) {
			d.iotlb.addr = op->addr;
			d.iotlb.am = op->am;
			d.iotlb.ih = op->ih;
		}
		break;
	case FLUSH_OP_PIOTLB:
		d.type = VTD_DESC_PIOTLB;
		d.piotlb.gran = all ? VTD_PIOTLB_PASID : VTD_PIOTLB_PAGE;
		d.piotlb.did = op->did;
		d.piotlb.pasid = op->pasid;
		if (!all) {
			d.piotlb.addr = op->addr;
			d.piotlb.am = op->am;
			d.piotlb.ih = op->ih;
		}
		break;
	case FLUSH_OP_DEVTLB:
		d.type = VTD_DESC_DEVTLB;
		d.devtlb.sid = op->sid;
		d.devtlb.pfsid = op->pfsid;
		d.devtlb.qdep = op->qdep;
		d.devtlb.addr = vtd_devtlb_encode_addr(op->addr, all ? VTD_MAX_AM : op->am,
						       &d.devtlb.size);
		break;
	case FLUSH_OP_PDEVTLB:
		d.type = VTD_DESC_PDEVTLB;
		d.pdevtlb.sid = op->sid;
		d.pdevtlb.pfsid = op->pfsid;
		d.pdevtlb.qdep = op->qdep;
		d.pdevtlb.pasid = op->pasid;
		d.pdevtlb.addr = vtd_devtlb_encode_addr(op->addr, all ? VTD_MAX_AM : op->am,
							&d.pdevtlb.size);
		break;
	}
	vtd_desc_encode(&d, raw);
}

uint64_t flush_psi_cover(uint64_t start, uint64_t end, unsigned int *am)
{
	uint64_t pfn = start >> VTD_PAGE_SHIFT, end_pfn = end >> VTD_PAGE_SHIFT;
	uint64_t pages = end_pfn - pfn + 1;
	unsigned int mask;

	if (end < start || pages == 0 || (end_pfn - pfn) >= (1ULL << 51)) {
		*am = VTD_MAX_AM;
		return 0;
	}
	mask = pages == 1 ? 0 : 64 - __builtin_clzll(pages - 1);
	/*
	 * The 2^mask block at pfn's alignment may miss the end; then widen to
	 * the lowest bit at which pfn and end_pfn agree from there up.
	 */
	if (mask < 64 && ((pfn >> mask) != (end_pfn >> mask))) {
		uint64_t diff = pfn ^ end_pfn;

		mask = 64 - __builtin_clzll(diff);
	}
	if (mask >= VTD_MAX_AM) {
		*am = VTD_MAX_AM;
		return 0;
	}
	*am = mask;
	return (pfn >> mask << mask) << VTD_PAGE_SHIFT;
}

bool vtd_desc_is_host_invalidation(const struct vtd_desc *d)
{
	switch (d->type) {
	case VTD_DESC_IOTLB:
	case VTD_DESC_DEVTLB:
	case VTD_DESC_PIOTLB:
	case VTD_DESC_PDEVTLB:
		return true;
	default:
		return false;
	}
}

void flush_plan_init(struct flush_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
}

void flush_plan_free(struct flush_plan *plan)
{
	struct plan_scratch *s = plan->scratch;

	if (s) {
		free(s->wants);
		free(s->op_index);
		free(s->keys);
		free(s->sources);
		free(s->order);
		free(s->sorted);
		free(s);
	}
	free(plan->ops);
	memset(plan, 0, sizeof(*plan));
}

static uint64_t op_key_hash(const struct op_key *k)
{
	return hash_mix64((uint64_t)k->kind << 56 ^ (uint64_t)k->unit << 40 ^ (uint64_t)k->did << 24 ^
			  (uint64_t)k->sid << 8 ^ (uint64_t)k->pasid << 28);
}

static bool op_key_equal(const struct op_key *a, const struct op_key *b)
{
	return a->kind == b->kind && a->unit == b->unit && a->did == b->did && a->sid == b->sid &&
	       a->pasid == b->pasid;
}

static int rehash_ops(struct flush_plan *plan, size_t slots)
{
	struct plan_scratch *s = plan->scratch;
	uint32_t *idx = calloc(slots, sizeof(*idx));

	if (!idx)
		return -1;
	for (size_t i = 0; i < plan->nops; i++) {
		size_t h = op_key_hash(&s->keys[i]) & (slots - 1);

		while (idx[h])
			h = (h + 1) & (slots - 1);
		idx[h] = (uint32_t)i + 1;
	}
	free(s->op_index);
	s->op_index = idx;
	s->op_slots = slots;
	return 0;
}

/* The op for @key, created empty on first use (scope RANGE, nothing folded). */
static struct flush_op *op_for(struct flush_plan *plan, const struct op_key *key, bool merge)
{
	struct plan_scratch *s = plan->scratch;
	size_t h;

	if (s->failed)
		return NULL;
	if ((plan->nops + 1) * 2 > s->op_slots && rehash_ops(plan, s->op_slots ? s->op_slots * 2 : 64))
		goto nomem;
	h = op_key_hash(key) & (s->op_slots - 1);
	if (merge) {
		for (; s->op_index[h]; h = (h + 1) & (s->op_slots - 1))
			if (op_key_equal(&s->keys[s->op_index[h] - 1], key))
				return &plan->ops[s->op_index[h] - 1];
	} else {
		while (s->op_index[h])
			h = (h + 1) & (s->op_slots - 1);
	}
	if (array_reserve((void **)&plan->ops, &plan->cap, plan->nops + 1, sizeof(*plan->ops)) ||
	    array_reserve((void **)&s->keys, &s->cap_keys, plan->nops + 1, sizeof(*s->keys)) ||
	    array_reserve((void **)&s->sources, &s->cap_sources, plan->nops + 1, sizeof(*s->sources)))
		goto nomem;
	s->keys[plan->nops] = *key;
	s->sources[plan->nops] = 0;
	s->op_index[h] = (uint32_t)plan->nops + 1;
	memset(&plan->ops[plan->nops], 0, sizeof(plan->ops[0]));
	plan->ops[plan->nops].start = UINT64_MAX;	/* empty: start > end */
	plan->ops[plan->nops].ih = true;
	return &plan->ops[plan->nops++];
nomem:
	s->failed = true;
	return NULL;
}

/* Fold a want (range or everything) into @op; a fresh op has start > end. */
static void op_fold(struct flush_op *op, enum flush_scope scope, uint64_t start, uint64_t end,
		    bool ih)
{
	if (scope == FLUSH_ALL)
		op->scope = FLUSH_ALL;
	if (start < op->start)
		op->start = start;
	if (end > op->end)
		op->end = end;
	op->ih = op->ih && ih;
}

struct fold_ctx {
	struct flush_plan *plan;
	bool merge;
	enum flush_scope scope;
	uint64_t start, end;
	bool ih;
	unsigned int requests;	/* guest requests behind this want */
	uint32_t source;	/* which want or request: counted once per op */
	bool domain;		/* folding a domain want, not a device-TLB request */
};

/* Fold a want on one tag into the op that can flush it. */
static void fold_tag(struct fold_ctx *c, const struct cache_tag *t)
{
	struct op_key key = { .unit = (uint16_t)t->unit->index, .did = t->did };
	unsigned int per_request = 1, copies = 1;
	uint32_t *sources;
	struct flush_op *op;

	switch (t->type) {
	case CACHE_TAG_IOTLB:
		/* Type 2 carries no PASID: tags that differ only in PASID share it. */
		key.kind = FLUSH_OP_IOTLB;
		per_request = t->users;
		break;
	case CACHE_TAG_NESTING_IOTLB:
		key.kind = FLUSH_OP_PIOTLB;
		key.pasid = t->pasid;
		per_request = t->users;
		break;
	case CACHE_TAG_DEVTLB:
	case CACHE_TAG_NESTING_DEVTLB:
		key.kind = t->pasid ? FLUSH_OP_PDEVTLB : FLUSH_OP_DEVTLB;
		key.pasid = t->pasid;
		key.sid = t->dev.sid;
		key.did = 0;
		key.implied = c->domain;
		break;
	}
	/* Unmerged, each request reaches every attached device on its own. */
	if (!c->merge)
		copies = c->requests * per_request;
	for (unsigned int i = 0; i < copies; i++) {
		op = op_for(c->plan, &key, c->merge);
		if (!op)
			return;
		if (op->absorbed == 0) {
			op->kind = key.kind;
			op->tag_type = t->type;
			op->unit = t->unit;
			op->did = t->did;
			op->pasid = t->pasid;
			if (flush_op_is_devtlb(key.kind)) {
				op->sid = t->dev.sid;
				op->pfsid = t->dev.pfsid;
				op->qdep = t->dev.qdep;
				memcpy(op->dev_name, t->dev.name, sizeof(op->dev_name));
			}
		}
		op_fold(op, c->scope, c->start, c->end, c->ih);
		/* Tags sharing an op (type 2 across PASIDs) count their requests once. */
		sources = &c->plan->scratch->sources[op - c->plan->ops];
		if (!c->merge) {
			op->absorbed = 1;
		} else if (*sources != c->source) {
			op->absorbed += c->requests;
			*sources = c->source;
		}
	}
}

/*
 * A guest IOTLB-class request folds into its domain's IOTLB-class tags
 * only: on VT-d an IOTLB invalidation leaves device TLBs alone, and the
 * spec makes the guest send its own device-TLB invalidations after it
 * (Linux does, in the same batch or a later one), which reach the device's
 * tags through the SID index. Unmerged, the device-TLB tags are folded
 * too: that models QEMU's forwarding, where each per-device
 * IOMMU_HWPT_INVALIDATE also flushes that device's TLB in the kernel.
 */
static void fold_domain(struct fold_ctx *c, const struct tag_domain *dom)
{
	size_t n;
	const struct cache_tag *tags = tag_domain_tags(dom, &n);
	struct fold_ctx dc = *c;

	dc.domain = true;
	for (size_t i = 0; i < n; i++)
		if (!c->merge || !cache_tag_is_devtlb(tags[i].type))
			fold_tag(&dc, &tags[i]);
}

/* Pass 1 state for one guest request. */
struct request_ctx {
	struct flush_plan *plan;
	const struct plan_options *opt;
	enum flush_scope scope;
	uint64_t start, end;
	bool ih;
	size_t hits;
	uint32_t id;		/* 1 + the request's index in the batch */
};

static struct domain_want *want_for(struct plan_scratch *s, const struct tag_domain *dom)
{
	/* Batches touch few domains; a linear scan beats hashing here. */
	for (size_t i = 0; i < s->nwants; i++)
		if (s->wants[i].dom == dom)
			return &s->wants[i];
	if (array_reserve((void **)&s->wants, &s->cap_wants, s->nwants + 1, sizeof(*s->wants))) {
		s->failed = true;
		return NULL;
	}
	memset(&s->wants[s->nwants], 0, sizeof(s->wants[0]));
	s->wants[s->nwants].dom = dom;
	s->wants[s->nwants].start = UINT64_MAX;
	s->wants[s->nwants].ih = true;
	return &s->wants[s->nwants++];
}

static void want_domain(const struct tag_domain *dom, void *arg)
{
	struct request_ctx *r = arg;

	r->hits++;
	if (r->opt->no_merge) {
		struct fold_ctx c = { r->plan, false, r->scope, r->start, r->end, r->ih, 1, r->id, false };

		fold_domain(&c, dom);
		return;
	}
	struct domain_want *w = want_for(r->plan->scratch, dom);

	if (!w)
		return;
	if (r->scope == FLUSH_ALL)
		w->scope = FLUSH_ALL;
	if (r->start < w->start)
		w->start = r->start;
	if (r->end > w->end)
		w->end = r->end;
	w->ih = w->ih && r->ih;
	w->requests++;
}

static void want_devtlb(const struct cache_tag *t, void *arg)
{
	struct request_ctx *r = arg;
	struct fold_ctx c = { r->plan, !r->opt->no_merge, r->scope, r->start, r->end, r->ih, 1,
			      r->id, false };

	r->hits++;
	fold_tag(&c, t);
}

static void range_of_am(struct request_ctx *r, uint64_t addr, unsigned int am)
{
	if (am >= VTD_MAX_AM) {
		r->scope = FLUSH_ALL;
		r->start = 0;
		r->end = UINT64_MAX;
		return;
	}
	r->scope = FLUSH_RANGE;
	r->start = addr & ~((VTD_PAGE_SIZE << am) - 1);
	r->end = r->start + (VTD_PAGE_SIZE << am) - 1;
}

/* Pass 1: returns false when the request needs no host work at all. */
static bool plan_request(struct request_ctx *r, struct tag_store *ts, uint16_t viommu,
			 const struct vtd_desc *d)
{
	unsigned int order;
	uint64_t base;

	r->ih = false;
	switch (d->type) {
	case VTD_DESC_IOTLB:
		if (d->iotlb.gran == VTD_IOTLB_PAGE) {
			range_of_am(r, d->iotlb.addr, d->iotlb.am);
			r->ih = d->iotlb.ih;
		} else {
			r->scope = FLUSH_ALL;
			r->end = UINT64_MAX;
		}
		tag_store_each_domain(ts, viommu, d->iotlb.gran == VTD_IOTLB_GLOBAL, d->iotlb.did,
				      want_domain, r);
		return true;
	case VTD_DESC_PIOTLB: {
		struct guest_domain_key key = { viommu, d->piotlb.did, d->piotlb.pasid };
		const struct tag_domain *dom = tag_store_find(ts, key);

		if (d->piotlb.gran == VTD_PIOTLB_PAGE) {
			range_of_am(r, d->piotlb.addr, d->piotlb.am);
			r->ih = d->piotlb.ih;
		} else {
			r->scope = FLUSH_ALL;
			r->end = UINT64_MAX;
		}
		if (dom)
			want_domain(dom, r);
		return true;
	}
	case VTD_DESC_DEVTLB:
		vtd_devtlb_range(d->devtlb.addr, d->devtlb.size, &base, &order);
		range_of_am(r, base, order);
		tag_store_each_devtlb(ts, viommu, d->devtlb.sid, false, 0, want_devtlb, r);
		return true;
	case VTD_DESC_PDEVTLB:
		vtd_devtlb_range(d->pdevtlb.addr, d->pdevtlb.size, &base, &order);
		range_of_am(r, base, order);
		tag_store_each_devtlb(ts, viommu, d->pdevtlb.sid, d->pdevtlb.global, d->pdevtlb.pasid,
				      want_devtlb, r);
		return true;
	default:
		return false;
	}
}

/* Turn each op's range union into what the unit can take. */
static void finish_op(struct flush_op *op)
{
	unsigned int am;

	if (op->scope == FLUSH_RANGE) {
		op->addr = flush_psi_cover(op->start, op->end, &am);
		op->am = (uint8_t)am;
		if (am >= VTD_MAX_AM)
			op->scope = FLUSH_ALL;
		else if (!flush_op_is_devtlb(op->kind) &&
			 (!(op->unit->cap & VTD_CAP_PSI) || am > VTD_CAP_MAMV(op->unit->cap)))
			op->scope = FLUSH_ALL;	/* escalate: PASID- or domain-selective */
	}
	if (op->scope == FLUSH_ALL) {
		op->start = 0;
		op->end = UINT64_MAX;
		op->addr = 0;
		op->am = VTD_MAX_AM;
		op->ih = false;
	}
}

static int op_order(const void *a, const void *b, void *arg)
{
	const struct flush_plan *plan = arg;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	const struct flush_op *x = &plan->ops[ia], *y = &plan->ops[ib];
	int dx = flush_op_is_devtlb(x->kind), dy = flush_op_is_devtlb(y->kind);

	if (x->unit->index != y->unit->index)
		return x->unit->index < y->unit->index ? -1 : 1;
	if (dx != dy)
		return dx - dy;
	return ia < ib ? -1 : (ia > ib);	/* stable: first-seen order */
}

/* Group ops per unit, IOTLB before device-TLB, keeping first-seen order. */
static int sort_ops(struct flush_plan *plan)
{
	struct plan_scratch *s = plan->scratch;
	struct flush_op *sorted;

	if (plan->nops < 2)
		return 0;
	if (array_reserve((void **)&s->order, &s->cap_order, plan->nops, sizeof(*s->order)))
		return -1;
	for (size_t i = 0; i < plan->nops; i++)
		s->order[i] = (uint32_t)i;
	qsort_r(s->order, plan->nops, sizeof(*s->order), op_order, plan);
	/* Kept across builds like the rest of the scratch: no allocation per batch. */
	if (array_reserve((void **)&s->sorted, &s->cap_sorted, plan->nops, sizeof(*s->sorted)))
		return -1;
	sorted = s->sorted;
	for (size_t i = 0; i < plan->nops; i++)
		sorted[i] = plan->ops[s->order[i]];
	memcpy(plan->ops, sorted, plan->nops * sizeof(*sorted));
	return 0;
}

/*
 * Distinct op keys: what a perfect merge sends. Merged plans have one op per
 * key by construction; unmerged ones repeat keys, so count them.
 */
static size_t count_unique_keys(struct flush_plan *plan, bool merged)
{
	struct plan_scratch *s = plan->scratch;
	size_t slots = 16, unique = 0;
	uint32_t *seen;

	if (merged)
		return plan->nops;
	while (slots < plan->nops * 2)
		slots *= 2;
	seen = calloc(slots, sizeof(*seen));
	if (!seen)
		return plan->nops;	/* an upper bound; only accounting suffers */
	for (size_t i = 0; i < plan->nops; i++) {
		size_t h = op_key_hash(&s->keys[i]) & (slots - 1);
		bool dup = false;

		if (s->keys[i].implied)
			continue;
		for (; seen[h]; h = (h + 1) & (slots - 1))
			if (op_key_equal(&s->keys[seen[h] - 1], &s->keys[i])) {
				dup = true;
				break;
			}
		if (!dup) {
			seen[h] = (uint32_t)i + 1;
			unique++;
		}
	}
	free(seen);
	return unique;
}

int flush_plan_build(struct flush_plan *plan, struct tag_store *ts, uint16_t viommu,
		     const struct vtd_desc *reqs, size_t n, const struct plan_options *opt)
{
	static const struct plan_options defaults;
	struct plan_scratch *s;

	if (!opt)
		opt = &defaults;
	if (!plan->scratch) {
		plan->scratch = calloc(1, sizeof(*plan->scratch));
		if (!plan->scratch)
			return -1;
	}
	s = plan->scratch;
	s->nwants = 0;
	s->failed = false;
	if (s->op_index)
		memset(s->op_index, 0, s->op_slots * sizeof(*s->op_index));
	plan->nops = 0;
	plan->guest_invalidations = 0;
	plan->no_target = 0;
	plan->unique_tag_bound = 0;

	tag_store_read_lock(ts);
	for (size_t i = 0; i < n; i++) {
		struct request_ctx r = { .plan = plan, .opt = opt, .id = (uint32_t)(i + 1) };

		if (!plan_request(&r, ts, viommu, &reqs[i]))
			continue;
		plan->guest_invalidations++;
		if (!r.hits)
			plan->no_target++;
	}
	for (size_t i = 0; i < s->nwants; i++) {
		struct domain_want *w = &s->wants[i];
		struct fold_ctx c = { plan, true, w->scope, w->start, w->end, w->ih, w->requests,
				      (uint32_t)(n + i + 1), false };

		fold_domain(&c, w->dom);
	}
	tag_store_read_unlock(ts);

	if (s->failed) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < plan->nops; i++)
		finish_op(&plan->ops[i]);
	plan->unique_tag_bound = (unsigned int)count_unique_keys(plan, !opt->no_merge);
	if (sort_ops(plan)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
