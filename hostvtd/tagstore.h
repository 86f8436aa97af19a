/* SPDX-License-Identifier: MIT */
/*
 * The consolidated per-domain tag store. For each guest domain (vIOMMU,
 * guest DID, guest PASID) it keeps the set of host cache tags whose caches
 * may hold that domain's translations: one IOTLB tag per (host unit, host
 * DID, host PASID) however many devices share it, and one device-TLB tag per
 * ATS device. Tags count their users; attach and detach assign and unassign.
 *
 * Locking (docs/design.md): one rwlock per store. Attach and detach take it
 * for writing; a flush takes it for reading once per guest batch, copies
 * what it needs of the tags into its plan, and drops it before talking to
 * the host. Nothing outside the lock ever points at a tag or a domain, so a
 * concurrent detach cannot free memory a flush is using. The lock prefers
 * writers, so a stream of flushes cannot starve an attach.
 * Lock order: store lock, then a host unit's submission lock, then the
 * flush trace's lock. The planner never holds the store lock across a
 * host submission.
 */
#ifndef TAGVMM_HOSTVTD_TAGSTORE_H
#define TAGVMM_HOSTVTD_TAGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/host.h"

enum cache_tag_type {
	CACHE_TAG_IOTLB,		/* host second-stage translations: type 2 flushes */
	CACHE_TAG_DEVTLB,		/* an ATS device's ATC */
	CACHE_TAG_NESTING_IOTLB,	/* guest stage 1 nested over host stage 2: type 6 */
	CACHE_TAG_NESTING_DEVTLB,	/* the ATC of a device attached nested */
};

const char *cache_tag_type_name(enum cache_tag_type type);

static inline bool cache_tag_is_devtlb(enum cache_tag_type type)
{
	return type == CACHE_TAG_DEVTLB || type == CACHE_TAG_NESTING_DEVTLB;
}

struct guest_domain_key {
	uint16_t viommu;
	uint16_t did;
	uint32_t pasid;
};

/*
 * One host cache tag. Device-TLB tags carry a copy of their device, so a
 * plan built from them never points at a device that may be unplugged.
 */
struct cache_tag {
	enum cache_tag_type type;
	struct host_unit *unit;
	uint16_t did;			/* host DID */
	uint32_t pasid;			/* host PASID (0: requests without PASID) */
	struct host_device dev;		/* device-TLB tags: a copy of the device */
	unsigned int users;
};

/* One device attached to a guest domain. */
struct tag_attach {
	struct host_device *dev;
	uint16_t guest_sid;		/* the SID the guest uses for the device */
	uint16_t host_did;
	uint32_t host_pasid;
	bool nested;			/* NESTING_* tags rather than IOTLB/DEVTLB */
};

struct tag_store;
struct tag_domain;

struct tag_store *tag_store_new(void);
void tag_store_free(struct tag_store *ts);

/*
 * Assign the tags of @a on domain @key: the unit's IOTLB tag, plus a
 * device-TLB tag when the device has ATS. Attaching the same device twice
 * counts twice. Returns 0, or -1 with errno (ENOMEM, EINVAL).
 */
int tag_store_attach(struct tag_store *ts, struct guest_domain_key key, const struct tag_attach *a);
/* Undo one attach. Returns 0, or -1 with errno ENOENT when nothing matched. */
int tag_store_detach(struct tag_store *ts, struct guest_domain_key key, const struct tag_attach *a);

/* Number of live domains and of tags over all of them (tests, stats). */
size_t tag_store_domains(struct tag_store *ts);
size_t tag_store_tags(struct tag_store *ts);

/* Readers: everything below needs the read lock held. */
void tag_store_read_lock(struct tag_store *ts);
void tag_store_read_unlock(struct tag_store *ts);

/* The domain with @key, or NULL. O(1) in the number of domains. */
const struct tag_domain *tag_store_find(struct tag_store *ts, struct guest_domain_key key);
/* The domain's tags, contiguous, one per (unit, DID, PASID) or ATS device. */
const struct cache_tag *tag_domain_tags(const struct tag_domain *d, size_t *n);

/*
 * Every domain of @viommu with guest DID @did (all PASIDs), or every domain
 * of @viommu when @all_dids. Returns the number of domains visited.
 */
size_t tag_store_each_domain(struct tag_store *ts, uint16_t viommu, bool all_dids, uint16_t did,
			     void (*fn)(const struct tag_domain *d, void *arg), void *arg);

/*
 * Device-TLB routing for guest device-TLB descriptors, which name a guest
 * SID and no DID: calls @fn for every device-TLB tag of the device the guest
 * knows as @guest_sid whose guest PASID is @guest_pasid (any PASID when
 * @any_pasid). Returns how many tags matched.
 */
size_t tag_store_each_devtlb(struct tag_store *ts, uint16_t viommu, uint16_t guest_sid,
			     bool any_pasid, uint32_t guest_pasid,
			     void (*fn)(const struct cache_tag *tag, void *arg), void *arg);

#endif
