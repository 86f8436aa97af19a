/* SPDX-License-Identifier: MIT */
/*
 * The cache model behind the simulated host VT-d (private to simvtd.c): a
 * set of entries keyed (group, PASID, page), where the group is a DID for
 * IOTLB entries and a SID for ATC entries. Like a hardware cache it has a
 * capacity: inserting into a full cache evicts an entry (which is always
 * allowed: a later access walks again), so a guest touching ever-new pages
 * cannot grow it. Not thread-safe: the caller locks.
 */
#ifndef TAGVMM_HOSTVTD_SIMVTD_CACHE_H
#define TAGVMM_HOSTVTD_SIMVTD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Entries per cache (one IOTLB per simulated host unit, one ATC for all
 * devices): 32 bytes each, so at most 1.3 MiB per cache with its buckets.
 */
#define SIM_CACHE_CAPACITY	32768u

struct sim_entry {
	uint32_t group;
	uint32_t pasid;
	uint64_t page;
	uint64_t target;	/* what the translation resolved to (opaque here) */
	uint32_t next;		/* bucket chain or free list: slot + 1, 0 ends it */
	bool first_stage;	/* first-stage/nested translation (type 6 flushes it) */
	bool live;
};

/* Zero-initialised is empty; the memory comes with the inserts, up to the capacity. */
struct sim_cache {
	struct sim_entry *v;	/* @slots slots, at most the capacity */
	uint32_t *bucket;	/* 2 * @slots chain heads: slot + 1, 0 empty */
	size_t slots;
	size_t live, used;	/* live entries; slots ever handed out */
	uint32_t free;		/* free list: slot + 1, 0 empty */
	uint32_t hand;		/* next slot to evict when full (clock order) */
	uint64_t evicted;	/* entries dropped for room, not by a flush */
	size_t capacity;	/* a power of two >= 256; 0: SIM_CACHE_CAPACITY */
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
/* Live entries whose group is in [first, last]. */
size_t sim_cache_groups_entries(struct sim_cache *c, uint32_t first, uint32_t last);

#endif
