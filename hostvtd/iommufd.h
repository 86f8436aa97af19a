/* SPDX-License-Identifier: MIT */
/*
 * The iommufd nesting back end: host VT-d units driven through /dev/iommu.
 *
 * Model (docs/passthrough.md): per host unit one kernel-managed nest-parent
 * HWPT on the guest-memory IOAS (stage 2, GPA -> HPA); per (host unit, host
 * DID, host PASID, stage-1 table, width and flags) one user-managed nested
 * HWPT holding the guest's stage-1 table, shared by every device bound
 * with that key. A flush plan's
 * submission for a unit becomes one IOMMU_HWPT_INVALIDATE per nested HWPT
 * it touches, carrying all of that HWPT's entries.
 *
 * Every kernel call goes through struct host_ops, so all of this runs
 * against a recording fake where there is no /dev/iommu.
 *
 * Setup calls (open, add_unit, get_hw_info, bind/unbind) return 0, or -1
 * with errno set and a message in iommufd_host_error(). submit() may run
 * concurrently with them and with itself.
 */
#ifndef TAGVMM_HOSTVTD_IOMMUFD_H
#define TAGVMM_HOSTVTD_IOMMUFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hostvtd/backend.h"
#include "hostvtd/host.h"
#include "lib/hostops.h"

#define IOMMUFD_DEV_PATH "/dev/iommu"

struct iommufd_host;
struct iommu_hwpt_pgfault;

extern const struct host_backend iommufd_backend;

/* What the back end did, for tests and `stats`. */
struct iommufd_stats {
	uint64_t invalidate_calls;	/* IOMMU_HWPT_INVALIDATE ioctls */
	uint64_t invalidate_entries;	/* entries sent in them */
	uint64_t devtlb_covered;	/* device-TLB ops folded into their HWPT's entry */
	uint64_t devtlb_entries;	/* device-TLB ops that needed an entry of their own */
	uint64_t s2_ops_elided;		/* second-stage ops: the kernel owns those caches */
	uint64_t devtlb_done_before;	/* device-TLB ops an earlier HWPT flush already did */
};

/*
 * Open /dev/iommu through @ops. On failure *@out is NULL and @err says why
 * in terms an operator can act on (module, permissions).
 */
int iommufd_host_open(const struct host_ops *ops, struct iommufd_host **out, char *err,
		      size_t errlen);
/*
 * Use an iommufd someone else opened (VFIO's: devices must be bound to the
 * same iommufd as the HWPTs they attach to). iommufd_host_close() will not
 * close it. NULL when out of memory.
 */
struct iommufd_host *iommufd_host_wrap(const struct host_ops *ops, int fd);
/*
 * Free @h, closing the iommufd if iommufd_host_open() opened it (the
 * kernel then frees every object in it). After the flush engine stops.
 */
void iommufd_host_close(struct iommufd_host *h);
int iommufd_host_fd(const struct iommufd_host *h);
/* The message of the last failed setup call. */
const char *iommufd_host_error(const struct iommufd_host *h);
void iommufd_host_stats(struct iommufd_host *h, struct iommufd_stats *out);

/*
 * Make @unit an iommufd unit: allocate its nest-parent HWPT on @ioas_id
 * through @dev_id (any device behind the unit, already bound to this
 * iommufd), and point unit->backend at iommufd_backend. The unit must
 * outlive @h's use of it.
 */
int iommufd_host_add_unit(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
			  uint32_t ioas_id);
/*
 * iommufd_host_add_unit() with allocation flags: IOMMU_HWPT_ALLOC_PASID
 * (Linux 6.15) makes the parent and every nested HWPT of the unit ones
 * that PASIDs may be attached to, beside the RID (the kernel refuses a
 * PASID attach otherwise). Older kernels refuse the flag (EINVAL or
 * EOPNOTSUPP); the caller may retry without it and offer no PASIDs.
 */
int iommufd_host_add_unit_flags(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
				uint32_t ioas_id, uint32_t flags);
/*
 * Undo iommufd_host_add_unit(): destroy the nest parent. Every nested HWPT
 * of the unit must be unbound and every device detached from the parent
 * first (EBUSY otherwise, and nothing changes).
 */
int iommufd_host_remove_unit(struct iommufd_host *h, struct host_unit *unit);
/* The flags the unit's HWPTs are allocated with (IOMMU_HWPT_ALLOC_PASID or 0). Setup time. */
uint32_t iommufd_host_unit_flags(const struct iommufd_host *h, const struct host_unit *unit);
/* The unit's nest-parent HWPT id, or 0 when @unit was not added. Setup time: not locked. */
uint32_t iommufd_host_parent_hwpt(const struct iommufd_host *h, const struct host_unit *unit);

/*
 * The host CAP and ECAP registers behind @dev_id (IOMMU_GET_HW_INFO), so the
 * vIOMMU advertises only what the host can nest. Fails with EOPNOTSUPP when
 * the device is not behind VT-d.
 */
int iommufd_host_get_hw_info(struct iommufd_host *h, uint32_t dev_id, uint64_t *cap,
			     uint64_t *ecap);

/*
 * Bind @dev_id's guest stage 1 for (@unit, @host_did, @host_pasid): the
 * first device with that key and that stage-1 configuration (@s1_pgtbl,
 * @addr_width, @s1_flags: IOMMU_VTD_S1_*) allocates the nested HWPT
 * (IOMMU_HWPT_ALLOC, IOMMU_HWPT_DATA_VTD_S1, parent = the unit's nest
 * parent); later devices with the same configuration share it. A device
 * naming another table for the same domain gets a HWPT of its own, and
 * flushes of the domain go to every HWPT of it. A device may be bound to
 * an old and a new table of one (DID, PASID) at once, which is how a
 * table change goes: bind the new, attach to it, unbind the old.
 * *@hwpt_id is what the caller attaches the device (and PASID) to through
 * VFIO.
 */
int iommufd_bind_s1(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
		    uint16_t host_did, uint32_t host_pasid, uint64_t s1_pgtbl, uint32_t addr_width,
		    uint32_t s1_flags, uint32_t *hwpt_id);
/*
 * Undo one bind of @dev_id to (@unit, @host_did, @host_pasid) (the first,
 * if it has two). The last user destroys the HWPT (IOMMU_DESTROY); the caller
 * must have detached the device from it first, or the kernel refuses with
 * EBUSY and the binding is kept as it was.
 */
int iommufd_unbind_s1(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
		      uint16_t host_did, uint32_t host_pasid);
/*
 * iommufd_bind_s1() with @iopf: the HWPT reports the device's page faults
 * (IOMMU_HWPT_FAULT_ID_VALID) to the unit's fault queue, which
 * iommufd_host_enable_faults() must have made (EOPNOTSUPP otherwise). A
 * HWPT with and one without are different keys, never shared.
 */
int iommufd_bind_s1_iopf(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
			 uint16_t host_did, uint32_t host_pasid, uint64_t s1_pgtbl,
			 uint32_t addr_width, uint32_t s1_flags, bool iopf, uint32_t *hwpt_id);

/*
 * Page fault forwarding (Linux 6.11+, docs/passthrough.md): one fault
 * queue per unit (IOMMU_FAULT_QUEUE_ALLOC), made once; ENOTTY on older
 * kernels. iommufd_host_remove_unit() closes its fd and destroys it.
 */
int iommufd_host_enable_faults(struct iommufd_host *h, struct host_unit *unit);
bool iommufd_host_has_faults(struct iommufd_host *h, const struct host_unit *unit);
/*
 * Read whole fault groups from @unit's queue into @recs (at most @max
 * records, so a group of more than @max is never read: EINVAL from the
 * kernel). Returns the records read (0: none waiting), or -1 with errno;
 * a read that is no whole number of records is EIO.
 */
ssize_t iommufd_host_read_faults(struct iommufd_host *h, const struct host_unit *unit,
				 struct iommu_hwpt_pgfault *recs, size_t max);
/* Answer the group @cookie: IOMMUFD_PAGE_RESP_SUCCESS or _INVALID. 0, or -1 with errno. */
int iommufd_host_page_response(struct iommufd_host *h, const struct host_unit *unit,
			       uint32_t cookie, uint32_t code);

/* iommufd_unbind_s1() of exactly the bind that gave @hwpt_id (when a device has two). */
int iommufd_unbind_hwpt(struct iommufd_host *h, uint32_t dev_id, uint32_t hwpt_id);
/* The first nested HWPT of (unit, DID, PASID), or 0; and how many binds it has. */
uint32_t iommufd_nested_hwpt(struct iommufd_host *h, const struct host_unit *unit,
			     uint16_t host_did, uint32_t host_pasid, unsigned int *users);

#endif
