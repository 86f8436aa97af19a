// SPDX-License-Identifier: MIT
/*
 * Entries live in a sorted array with a short unsorted tail of recent
 * inserts, merged in when it fills or a range is removed. Removal marks
 * entries dead; the array is compacted once half of it is dead. Inserts,
 * lookups and range removals are thus amortised O(log n + tail + hits)
 * plus an O(n) merge every TAIL_MAX inserts.
 */
#include <stdlib.h>
#include <string.h>

#include "hostvtd/simvtd-cache.h"

#define TAIL_MAX	64	/* unsorted inserts before a merge */

static int entry_cmp(const void *pa, const void *pb)
{
	const struct sim_entry *a = pa, *b = pb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->pasid != b->pasid)
		return a->pasid < b->pasid ? -1 : 1;
	if (a->page != b->page)
		return a->page < b->page ? -1 : 1;
	return 0;
}

/* First index of the sorted part not below (group, pasid, page). */
static size_t lower_bound(const struct sim_cache *s, uint32_t group, uint32_t pasid,
			  uint64_t page)
{
	struct sim_entry key = { .group = group, .pasid = pasid, .page = page };
	size_t lo = 0, hi = s->sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_cmp(&s->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Merge the unsorted tail into the sorted part, dropping dead entries. */
static void normalize(struct sim_cache *s)
{
	size_t k = s->n - s->sorted, i, w = 0;

	if (k) {
		struct sim_entry *tail = s->v + s->sorted, tmp[TAIL_MAX];
		size_t a = s->sorted, b = k, out = s->n;

		qsort(tail, k, sizeof(*tail), entry_cmp);
		memcpy(tmp, tail, k * sizeof(*tail));
		/* Backward merge: keys are unique, so no tie handling. */
		while (b) {
			if (a && entry_cmp(&s->v[a - 1], &tmp[b - 1]) > 0)
				s->v[--out] = s->v[--a];
			else
				s->v[--out] = tmp[--b];
		}
		s->sorted = s->n;
	}
	if (!s->dead)
		return;
	for (i = 0; i < s->n; i++)
		if (!s->v[i].dead)
			s->v[w++] = s->v[i];
	s->n = s->sorted = w;
	s->dead = 0;
}

static struct sim_entry *find(struct sim_cache *s, uint32_t group, uint32_t pasid,
			      uint64_t page)
{
	struct sim_entry key = { .group = group, .pasid = pasid, .page = page };
	size_t i = lower_bound(s, group, pasid, page);

	if (i < s->sorted && !entry_cmp(&s->v[i], &key))
		return &s->v[i];
	for (i = s->sorted; i < s->n; i++)
		if (!entry_cmp(&s->v[i], &key))
			return &s->v[i];
	return NULL;
}

int sim_cache_insert(struct sim_cache *s, uint32_t group, uint32_t pasid, uint64_t page,
		     bool first_stage, uint64_t target)
{
	struct sim_entry *e = find(s, group, pasid, page);

	if (e) {
		if (e->dead)
			s->dead--;
		e->dead = false;
		e->first_stage = first_stage;
		e->target = target;
		return 0;
	}
	if (s->n - s->sorted >= TAIL_MAX)
		normalize(s);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sim_entry *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct sim_entry){ .group = group, .pasid = pasid, .page = page,
					       .target = target, .first_stage = first_stage };
	return 0;
}

static bool entry_kill(struct sim_cache *s, struct sim_entry *e, bool first_stage_only)
{
	if (e->dead || (first_stage_only && !e->first_stage))
		return false;
	e->dead = true;
	s->dead++;
	return true;
}

/*
 * Remove the live entries of @group in pages [first, last], of one PASID or
 * of all (@any_pasid). Returns how many went.
 */
uint64_t sim_cache_erase(struct sim_cache *s, uint32_t group, bool any_pasid, uint32_t pasid,
			 uint64_t first, uint64_t last, bool first_stage_only)
{
	uint64_t gone = 0;
	size_t i;

	normalize(s);
	i = lower_bound(s, group, any_pasid ? 0 : pasid, first);
	while (i < s->n && s->v[i].group == group) {
		struct sim_entry *e = &s->v[i];

		if (!any_pasid && e->pasid != pasid)
			break;
		if (e->page < first) {
			/* Landed at the start of a PASID block below the range. */
			i = lower_bound(s, group, e->pasid, first);
			continue;
		}
		if (e->page > last) {
			/* Skip the rest of this PASID's block. */
			if (!any_pasid || e->pasid == UINT32_MAX)
				break;
			i = lower_bound(s, group, e->pasid + 1, first);
			continue;
		}
		gone += entry_kill(s, e, first_stage_only);
		i++;
	}
	if (s->dead > s->n / 2)
		normalize(s);
	return gone;
}

uint64_t sim_cache_clear(struct sim_cache *s)
{
	uint64_t live = s->n - s->dead;

	s->n = s->sorted = s->dead = 0;
	return live;
}

size_t sim_cache_group_entries(struct sim_cache *s, uint32_t group)
{
	size_t i, live = 0;

	normalize(s);
	for (i = lower_bound(s, group, 0, 0); i < s->n && s->v[i].group == group; i++)
		live++;
	return live;
}

bool sim_cache_lookup(struct sim_cache *s, uint32_t group, uint32_t pasid, uint64_t page,
		      uint64_t *target)
{
	struct sim_entry *e = find(s, group, pasid, page);

	if (!e || e->dead)
		return false;
	if (target)
		*target = e->target;
	return true;
}

size_t sim_cache_entries(const struct sim_cache *s)
{
	return s->n - s->dead;
}

void sim_cache_free(struct sim_cache *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
