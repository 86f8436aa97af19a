// SPDX-License-Identifier: MIT
/*
 * A pool of slots, chained into a hash table of twice as many buckets,
 * growing by doubling (a rehash, amortised O(1)) up to the capacity
 * (SIM_CACHE_CAPACITY unless the simulated host was configured with
 * another) and never beyond. Insert, lookup and refresh are O(1) expected;
 * a full cache evicts in clock order over the slots (any entry may go:
 * the spec lets hardware drop cached translations at will). A range
 * removal looks each page up when the range is smaller than the cache,
 * and otherwise scans the pool, so it costs O(min(range, capacity)).
 * Nothing here grows past the capacity, whatever the guest does.
 */
#include <stdlib.h>
#include <string.h>

#include "hostvtd/simvtd-cache.h"

#define FIRST_SLOTS	256u	/* powers of two, like the capacity */

/* A 64-bit mix (splitmix64's finalizer) of the key: guest IOVAs are anything but random. */
static uint32_t hash(uint32_t group, uint32_t pasid, uint64_t page)
{
	uint64_t h = page ^ ((uint64_t)group << 40) ^ ((uint64_t)pasid << 20) ^
		     0x9e3779b97f4a7c15ULL * (pasid + 1);

	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)h;
}

static uint32_t bucket_of(const struct sim_cache *s, uint32_t group, uint32_t pasid,
			  uint64_t page)
{
	return hash(group, pasid, page) & (2 * s->slots - 1);
}

static bool same(const struct sim_entry *e, uint32_t group, uint32_t pasid, uint64_t page)
{
	return e->group == group && e->pasid == pasid && e->page == page;
}

static struct sim_entry *find(struct sim_cache *s, uint32_t group, uint32_t pasid,
			      uint64_t page)
{
	if (!s->bucket)
		return NULL;
	for (uint32_t i = s->bucket[bucket_of(s, group, pasid, page)]; i; i = s->v[i - 1].next)
		if (same(&s->v[i - 1], group, pasid, page))
			return &s->v[i - 1];
	return NULL;
}

/* Take live slot @slot out of its chain and put it on the free list. */
static void unlink_slot(struct sim_cache *s, uint32_t slot)
{
	struct sim_entry *e = &s->v[slot];
	uint32_t *link = &s->bucket[bucket_of(s, e->group, e->pasid, e->page)];

	while (*link != slot + 1)
		link = &s->v[*link - 1].next;
	*link = e->next;
	e->live = false;
	e->next = s->free;
	s->free = slot + 1;
	s->live--;
}

/* Twice the slots (and buckets), the chains rebuilt. Returns -1 when out of memory. */
static int grow(struct sim_cache *s)
{
	size_t slots = s->slots ? 2 * s->slots : FIRST_SLOTS;
	struct sim_entry *v = realloc(s->v, slots * sizeof(*v));
	uint32_t *bucket;

	if (!v)
		return -1;
	s->v = v;
	bucket = calloc(2 * slots, sizeof(*bucket));
	if (!bucket)
		return -1;
	free(s->bucket);
	s->bucket = bucket;
	s->slots = slots;
	/* Free slots keep their free-list links; live ones are chained again. */
	for (size_t i = 0; i < s->used; i++) {
		struct sim_entry *e = &s->v[i];
		uint32_t b;

		if (!e->live)
			continue;
		b = bucket_of(s, e->group, e->pasid, e->page);
		e->next = s->bucket[b];
		s->bucket[b] = (uint32_t)i + 1;
	}
	return 0;
}

static size_t capacity(const struct sim_cache *s)
{
	return s->capacity ? s->capacity : SIM_CACHE_CAPACITY;
}

/*
 * A slot for a new entry: a free one, a never-used one (growing the pool
 * up to the capacity), or the clock hand's victim. -1: out of memory.
 */
static int64_t take_slot(struct sim_cache *s)
{
	uint32_t slot;

	if (!s->free && s->used == s->slots && s->slots < capacity(s) && grow(s))
		return -1;
	if (!s->free && s->used < s->slots)
		return (int64_t)s->used++;
	if (!s->free) {
		/* Full: every used slot is live. */
		unlink_slot(s, s->hand);
		s->hand = (uint32_t)((s->hand + 1) % capacity(s));
		s->evicted++;
	}
	slot = s->free - 1;
	s->free = s->v[slot].next;
	return slot;
}

int sim_cache_insert(struct sim_cache *s, uint32_t group, uint32_t pasid, uint64_t page,
		     bool first_stage, uint64_t target)
{
	struct sim_entry *e = find(s, group, pasid, page);
	int64_t taken;
	uint32_t slot, b;

	if (e) {
		e->first_stage = first_stage;
		e->target = target;
		return 0;
	}
	taken = take_slot(s);
	if (taken < 0)
		return -1;
	slot = (uint32_t)taken;
	b = bucket_of(s, group, pasid, page);
	s->v[slot] = (struct sim_entry){ .group = group, .pasid = pasid, .page = page,
					 .target = target, .first_stage = first_stage,
					 .live = true, .next = s->bucket[b] };
	s->bucket[b] = slot + 1;
	s->live++;
	return 0;
}

static bool matches(const struct sim_entry *e, uint32_t group, bool any_pasid, uint32_t pasid,
		    uint64_t first, uint64_t last, bool first_stage_only)
{
	return e->live && e->group == group && (any_pasid || e->pasid == pasid) &&
	       e->page >= first && e->page <= last && (!first_stage_only || e->first_stage);
}

uint64_t sim_cache_erase(struct sim_cache *s, uint32_t group, bool any_pasid, uint32_t pasid,
			 uint64_t first, uint64_t last, bool first_stage_only)
{
	uint64_t gone = 0;

	if (!s->live || first > last)
		return 0;
	if (!any_pasid && last - first < s->live) {
		for (uint64_t page = first;; page++) {
			struct sim_entry *e = find(s, group, pasid, page);

			if (e && (!first_stage_only || e->first_stage)) {
				unlink_slot(s, (uint32_t)(e - s->v));
				gone++;
			}
			if (page == last)
				break;
		}
		return gone;
	}
	for (size_t i = 0; i < s->used; i++) {
		if (matches(&s->v[i], group, any_pasid, pasid, first, last, first_stage_only)) {
			unlink_slot(s, (uint32_t)i);
			gone++;
		}
	}
	return gone;
}

uint64_t sim_cache_clear(struct sim_cache *s)
{
	uint64_t live = s->live;

	if (s->bucket)
		memset(s->bucket, 0, 2 * s->slots * sizeof(*s->bucket));
	s->live = s->used = 0;
	s->free = s->hand = 0;
	return live;
}

size_t sim_cache_groups_entries(struct sim_cache *s, uint32_t first, uint32_t last)
{
	size_t n = 0;

	for (size_t i = 0; i < s->used; i++)
		n += s->v[i].live && s->v[i].group >= first && s->v[i].group <= last;
	return n;
}

size_t sim_cache_group_entries(struct sim_cache *s, uint32_t group)
{
	return sim_cache_groups_entries(s, group, group);
}

bool sim_cache_lookup(struct sim_cache *s, uint32_t group, uint32_t pasid, uint64_t page,
		      uint64_t *target)
{
	struct sim_entry *e = find(s, group, pasid, page);

	if (!e)
		return false;
	if (target)
		*target = e->target;
	return true;
}

size_t sim_cache_entries(const struct sim_cache *s)
{
	return s->live;
}

void sim_cache_free(struct sim_cache *s)
{
	free(s->v);
	free(s->bucket);
	memset(s, 0, sizeof(*s));
}
