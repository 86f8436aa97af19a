/* SPDX-License-Identifier: MIT */
/*
 * Which guest devices are assigned, behind which host unit, attached to
 * which guest domains: parsed from `--assign` options (docs/replay.md) and
 * applied to a tag store. Used by replay now and by `run` later.
 */
#ifndef TAGVMM_REPLAY_TOPOLOGY_H
#define TAGVMM_REPLAY_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/host.h"
#include "hostvtd/tagstore.h"

struct assignment {
	uint16_t viommu;
	uint16_t guest_sid;
	uint16_t host_sid;
	unsigned int unit;
	uint16_t did, host_did;
	uint32_t pasid, host_pasid;
	bool ats, nested;
	uint8_t qdep;
};

struct topology {
	struct assignment *assign;
	size_t nassign;
	struct host_device **devices;	/* one per distinct (viommu, guest SID) */
	size_t ndevices;
};

/*
 * Parse one `--assign` value, e.g. "sid=00:02.0,unit=1,did=1,pasid=5,ats,nested".
 * Returns 0, or -1 with a message in @err.
 */
int topology_parse_assign(const char *spec, struct assignment *out, char *err, size_t errlen);
int topology_add(struct topology *t, const struct assignment *a);

/*
 * Create the host devices (on @units, @nunits of them) and attach every
 * assignment to @ts. Returns 0, or -1 with a message in @err (a unit out of
 * range, a device given conflicting host placements, no memory).
 */
int topology_apply(struct topology *t, struct tag_store *ts, struct host_unit **units,
		   unsigned int nunits, char *err, size_t errlen);
/* The host device of @host_sid that topology_apply() created, or NULL. */
const struct host_device *topology_device(const struct topology *t, uint16_t host_sid);
/*
 * QEMU's model (its nesting loop; multi-PASID as in its development trees,
 * upstream forwards PASID 0 only): a host DID of its own for every nested
 * assignment, as QEMU allocates a HWPT per (device, PASID) and the kernel
 * gives each its own DID. Returns 0, or -1 with a message in @err.
 */
int topology_remap_qemu(struct topology *t, char *err, size_t errlen);
/* The highest unit index any assignment names, or -1 with none. */
int topology_max_unit(const struct topology *t);
void topology_free(struct topology *t);

/* "bb:dd.f" or "0000:bb:dd.f" or a number (0x.. or decimal) to a SID. */
int parse_sid(const char *s, uint16_t *sid);

#endif
