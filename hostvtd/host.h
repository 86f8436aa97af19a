/* SPDX-License-Identifier: MIT */
/*
 * Host-side objects the tag store points at: host IOMMU units and the
 * physical (or simulated) devices behind them. Units live as long as the
 * VMM; devices may come and go, so flush plans copy what they need of a
 * device instead of keeping a pointer to it.
 */
#ifndef TAGVMM_HOSTVTD_HOST_H
#define TAGVMM_HOSTVTD_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct host_backend;

#define HOST_NAME_LEN 16

/*
 * Host-unit numbering, the one place it is decided: the planner keys ops
 * by unit index, so every unit one tag store sees has its own. The back
 * end a flush path is built with (flushpath.h) numbers its units 0 ..
 * HOST_MAX_UNITS - 1 ("dmar0" ..); units added beside them later (VFIO's
 * host units, viommu/passthrough.c) number from HOST_UNIT_INDEX_EXTRA.
 */
#define HOST_MAX_UNITS 16
#define HOST_UNIT_INDEX_EXTRA HOST_MAX_UNITS

struct host_unit {
	unsigned int index;		/* dense, 0..n-1, stable for the VMM's life */
	char name[HOST_NAME_LEN];	/* "dmar0", as Linux names units */
	uint64_t cap, ecap;		/* what the hardware (or simulation) reports */
	const struct host_backend *backend;
	void *backend_data;
};

struct host_device {
	char name[HOST_NAME_LEN];	/* "0000:3b:00.0" */
	uint16_t sid;			/* host requester ID (bus << 8 | devfn) */
	uint16_t pfsid;			/* physical function's SID when ECAP.DIT, else 0 */
	uint8_t qdep;			/* ATS invalidate queue depth (0 means 32) */
	bool ats;			/* ATS enabled: the device has an ATC to flush */
	struct host_unit *unit;
};

/* "0000:bb:dd.f" from a SID (segment 0). */
void host_device_name(uint16_t sid, char name[HOST_NAME_LEN]);

#endif
