/* SPDX-License-Identifier: MIT */
/*
 * The part of the iommufd uAPI (include/uapi/linux/iommufd.h) that the
 * nesting back end uses, for systems whose kernel headers predate it.
 * Include this, never <linux/iommufd.h> directly.
 *
 * Which header wins:
 *  - No <linux/iommufd.h> (Debian 12's linux-libc-dev 6.1): everything
 *    below is defined here, at its Linux 6.11+ layout.
 *  - A system header from Linux 6.7 or later: it is used, and only what it
 *    lacks is defined here, under #ifndef guards keyed on the ioctl macro
 *    that arrived with each piece: 6.7 has IOMMU_HWPT_ALLOC with data_type /
 *    data_len / data_uptr but no IOMMU_HWPT_INVALIDATE (added in 6.8), so
 *    the invalidation structs and constants come from here. A 6.7-6.10
 *    iommu_hwpt_alloc is 40 bytes (no fault_id); the back end fills `size`
 *    with sizeof() and never names fault_id, and the kernel accepts the
 *    shorter struct (its extensible-struct rule), so both layouts work.
 *  - A system header from Linux 6.2-6.6 is not included at all: its
 *    iommu_hwpt_alloc (6.6) has no data fields and a struct cannot be
 *    redefined, so the whole uAPI comes from here and the system header's
 *    include guard is defined to keep a later #include of it harmless.
 *
 * Values checked against torvalds/linux include/uapi/linux/iommufd.h
 * (commands are _IO(';', nr), so the value is 0x3b00 | nr).
 */
#ifndef TAGVMM_LIB_IOMMUFD_COMPAT_H
#define TAGVMM_LIB_IOMMUFD_COMPAT_H

#ifdef HAVE_LINUX_IOMMUFD_H
#include <linux/version.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define TAGVMM_IOMMUFD_SYSTEM_UAPI 1
#endif
#endif

#ifdef TAGVMM_IOMMUFD_SYSTEM_UAPI
#include <linux/iommufd.h>
#else
#if defined(_IOMMUFD_H) || defined(_UAPI_IOMMUFD_H)
#error "<linux/iommufd.h> is older than 6.7 and was included first: include lib/iommufd-compat.h instead"
#endif
#define _IOMMUFD_H 1
#define _UAPI_IOMMUFD_H 1
#endif

#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Linux 6.2: the object model, IOAS and its mappings. */
#ifndef IOMMU_DESTROY
#define IOMMUFD_TYPE (';')

#define IOMMUFD_CMD_DESTROY		0x80
#define IOMMUFD_CMD_IOAS_ALLOC		0x81
#define IOMMUFD_CMD_IOAS_MAP		0x85

struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

#define IOMMU_IOAS_MAP_FIXED_IOVA	(1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1 << 1)
#define IOMMU_IOAS_MAP_READABLE		(1 << 2)

struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)
#endif /* IOMMU_DESTROY */

/* Linux 6.7: HWPT allocation with driver data, and the host's VT-d registers. */
#ifndef IOMMU_HWPT_ALLOC
#define IOMMUFD_CMD_HWPT_ALLOC		0x89
#define IOMMUFD_CMD_GET_HW_INFO		0x8a

#define IOMMU_HWPT_ALLOC_NEST_PARENT	(1 << 0)
#define IOMMU_HWPT_ALLOC_DIRTY_TRACKING	(1 << 1)
#define IOMMU_HWPT_FAULT_ID_VALID	(1 << 2)

#define IOMMU_VTD_S1_SRE		(1 << 0)	/* supervisor requests */
#define IOMMU_VTD_S1_EAFE		(1 << 1)	/* extended access flag */
#define IOMMU_VTD_S1_WPE		(1 << 2)	/* write protect */

struct iommu_hwpt_vtd_s1 {
	__aligned_u64 flags;
	__aligned_u64 pgtbl_addr;
	__u32 addr_width;
	__u32 __reserved;
};

#define IOMMU_HWPT_DATA_NONE		0
#define IOMMU_HWPT_DATA_VTD_S1		1

struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)

#define IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17	(1 << 0)

struct iommu_hw_info_vtd {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 cap_reg;
	__aligned_u64 ecap_reg;
};

#define IOMMU_HW_INFO_TYPE_NONE		0
#define IOMMU_HW_INFO_TYPE_INTEL_VTD	1

struct iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 out_data_type;
	__u32 __reserved;
	__aligned_u64 out_capabilities;
};
#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)
#endif /* IOMMU_HWPT_ALLOC */

/* Linux 6.8: user-managed (nested) HWPT cache invalidation. */
#ifndef IOMMU_HWPT_INVALIDATE
#define IOMMUFD_CMD_HWPT_INVALIDATE	0x8d

#define IOMMU_HWPT_INVALIDATE_DATA_VTD_S1	0

/* Leaf-only: becomes the IH hint of the host PASID-IOTLB descriptor. */
#define IOMMU_VTD_INV_FLAGS_LEAF	(1 << 0)

/* addr 0 with npages U64_MAX invalidates everything; ATS device TLBs follow. */
struct iommu_hwpt_vtd_s1_invalidate {
	__aligned_u64 addr;
	__aligned_u64 npages;
	__u32 flags;
	__u32 __reserved;
};

/* entry_num: in, the entries in data_uptr; out, how many the kernel handled. */
struct iommu_hwpt_invalidate {
	__u32 size;
	__u32 hwpt_id;
	__aligned_u64 data_uptr;
	__u32 data_type;
	__u32 entry_len;
	__u32 entry_num;
	__u32 __reserved;
};
#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE)
#endif /* IOMMU_HWPT_INVALIDATE */

/*
 * The layouts the back end depends on. iommu_hwpt_alloc is 48 bytes from
 * Linux 6.11 (fault_id) and 40 before; the fields up to data_uptr never move.
 */
_Static_assert(sizeof(struct iommu_destroy) == 8, "iommu_destroy");
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "iommu_ioas_alloc");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommu_ioas_map");
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48 || sizeof(struct iommu_hwpt_alloc) == 40,
	       "iommu_hwpt_alloc");
_Static_assert(offsetof(struct iommu_hwpt_alloc, out_hwpt_id) == 16, "iommu_hwpt_alloc.out_hwpt_id");
_Static_assert(offsetof(struct iommu_hwpt_alloc, data_uptr) == 32, "iommu_hwpt_alloc.data_uptr");
_Static_assert(sizeof(struct iommu_hwpt_vtd_s1) == 24, "iommu_hwpt_vtd_s1");
_Static_assert(sizeof(struct iommu_hwpt_invalidate) == 32, "iommu_hwpt_invalidate");
_Static_assert(offsetof(struct iommu_hwpt_invalidate, entry_num) == 24, "iommu_hwpt_invalidate.entry_num");
_Static_assert(sizeof(struct iommu_hwpt_vtd_s1_invalidate) == 24, "iommu_hwpt_vtd_s1_invalidate");
_Static_assert(sizeof(struct iommu_hw_info) == 40, "iommu_hw_info");
_Static_assert(sizeof(struct iommu_hw_info_vtd) == 24, "iommu_hw_info_vtd");

/*
 * Linux 6.11: page faults of a nested HWPT allocated with
 * IOMMU_HWPT_FAULT_ID_VALID go to a fault queue; its fd reads whole groups
 * of iommu_hwpt_pgfault (a multiple of 40 bytes, else ESPIPE; EINVAL when
 * the first group does not fit) and takes iommu_hwpt_page_response writes
 * (a multiple of 8 bytes, else ESPIPE). Only SUCCESS and INVALID exist:
 * FAILURE was removed before release.
 */
#ifndef IOMMU_HWPT_FAULT_ID_VALID
#define IOMMU_HWPT_FAULT_ID_VALID	(1 << 2)
#endif
/*
 * fault_id sits at offset 40 of the 6.11 iommu_hwpt_alloc (48 bytes); a
 * 6.7-6.10 system header has no such field, so it is written by offset.
 */
#define IOMMU_HWPT_ALLOC_FAULT_ID_OFFSET	40
#define IOMMU_HWPT_ALLOC_SIZE_6_11		48

#ifndef IOMMU_FAULT_QUEUE_ALLOC
#define IOMMUFD_CMD_FAULT_QUEUE_ALLOC	0x8e

#define IOMMU_PGFAULT_FLAGS_PASID_VALID	(1 << 0)
#define IOMMU_PGFAULT_FLAGS_LAST_PAGE	(1 << 1)

#define IOMMU_PGFAULT_PERM_READ		(1 << 0)
#define IOMMU_PGFAULT_PERM_WRITE	(1 << 1)
#define IOMMU_PGFAULT_PERM_EXEC		(1 << 2)
#define IOMMU_PGFAULT_PERM_PRIV		(1 << 3)

struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;		/* always 0 */
	__u32 cookie;		/* the same on every record of a group */
};

#define IOMMUFD_PAGE_RESP_SUCCESS	0
#define IOMMUFD_PAGE_RESP_INVALID	1

struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u32 out_fault_id;
	__u32 out_fault_fd;
};
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC)
#endif /* IOMMU_FAULT_QUEUE_ALLOC */

_Static_assert(IOMMU_FAULT_QUEUE_ALLOC == 0x3b8e, "IOMMU_FAULT_QUEUE_ALLOC");
_Static_assert(IOMMU_HWPT_FAULT_ID_VALID == 4, "IOMMU_HWPT_FAULT_ID_VALID");
_Static_assert(sizeof(struct iommu_fault_alloc) == 16, "iommu_fault_alloc");
_Static_assert(offsetof(struct iommu_fault_alloc, out_fault_fd) == 12, "iommu_fault_alloc.out_fault_fd");
_Static_assert(sizeof(struct iommu_hwpt_pgfault) == 40, "iommu_hwpt_pgfault");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, perm) == 16, "iommu_hwpt_pgfault.perm");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, addr) == 24, "iommu_hwpt_pgfault.addr");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, length) == 32, "iommu_hwpt_pgfault.length");
_Static_assert(offsetof(struct iommu_hwpt_pgfault, cookie) == 36, "iommu_hwpt_pgfault.cookie");
_Static_assert(sizeof(struct iommu_hwpt_page_response) == 8, "iommu_hwpt_page_response");
_Static_assert(offsetof(struct iommu_hwpt_page_response, code) == 4, "iommu_hwpt_page_response.code");

/* Linux 6.15: a HWPT that PASIDs may be attached to (and the RID's HWPT beside them). */
#ifndef IOMMU_HWPT_ALLOC_PASID
#define IOMMU_HWPT_ALLOC_PASID		(1 << 3)
#endif

#endif
