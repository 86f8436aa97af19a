/* SPDX-License-Identifier: MIT */
/*
 * The cache model behind the simulated host VT-d (private to simvtd.c): a
 * set of entries keyed (group, PASID, page), where the group is a DID for
 * IOTLB entries and a SID for ATC entries. Range removals within a group
 * stay cheap with ~100k entries. Not thread-safe: the caller locks.
 */
#ifndef TAGVMM_HOSTVTD_SIMVTD_CACHE_H
#define TAGVMM_HOSTVTD_SIMVTD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_entry {
	uint32_t group;
	uint32_t pasid;
	uint64_t page;
	uint64_t target;	/* what the translation resolved to (opaque here) */
	bool first_stage;	/* first-stage/nested translation (type 6 flushes it) */
	bool dead;
};

/* Zero-initialised is empty. */
struct sim_cache {
	struct sim_entry *v;
	size_t n, sorted, cap, dead;
};

void sim_cache_free(struct sim_cache *c);
/* Insert or refresh an entry (and its target). Returns 0, or -1 when out of memory. */
int sim_cache_insert(struct sim_cache *c, uint32_t group, uint32_t pasid, uint64_t page,
		     bool first_stage, uint64_t target);
/* Whether the entry is cached, and its target when @target is not NULL. */
bool sim_cache_lookup(struct sim_cache *c, uint32_t group, uint32_t pasid, uint64_t page,
		      uint64_t *target);
/*
 * Remove the entries of @group in pages [first, last], of PASID @pasid or of
 * every PASID (@any_pasid), only first-stage ones if @first_stage_only.
 * Returns how many were removed.
 */
uint64_t sim_cache_erase(struct sim_cache *c, uint32_t group, bool any_pasid, uint32_t pasid,
			 uint64_t first, uint64_t last, bool first_stage_only);
/* Remove everything; returns how many entries there were. */
uint64_t sim_cache_clear(struct sim_cache *c);
size_t sim_cache_entries(const struct sim_cache *c);
size_t sim_cache_group_entries(struct sim_cache *c, uint32_t group);

#endif
