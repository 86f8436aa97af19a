/* SPDX-License-Identifier: MIT */
/*
 * The VFIO device cdev uAPI (Linux 6.6) for older system headers.
 *
 * Debian 12's linux-libc-dev (6.1) has <linux/vfio.h> without the cdev
 * ioctls; these definitions are used only when the system header lacks
 * them. The layouts are the 6.6 ones, the smallest each ioctl accepts:
 * the kernel reads argsz and ignores nothing it needs beyond them, so they
 * also work against newer kernels, which grew the structs at the end.
 */
#ifndef TAGVMM_LIB_VFIO_COMPAT_H
#define TAGVMM_LIB_VFIO_COMPAT_H

#include <linux/types.h>
#include <linux/vfio.h>

#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;		/* 0 */
	__s32 iommufd;
	__u32 out_devid;	/* iommufd's id for this device */
};
#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16,
	       "vfio_device_bind_iommufd is 16 bytes in Linux 6.6");
#endif

#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;		/* 0: the whole device, not one PASID */
	__u32 pt_id;		/* in: IOAS or HWPT id; out: the HWPT attached */
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 12,
	       "vfio_device_attach_iommufd_pt is 12 bytes in Linux 6.6");
#endif

#ifndef VFIO_DEVICE_DETACH_IOMMUFD_PT
struct vfio_device_detach_iommufd_pt {
	__u32 argsz;
	__u32 flags;		/* 0 */
};
#define VFIO_DEVICE_DETACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 20)
_Static_assert(sizeof(struct vfio_device_detach_iommufd_pt) == 8,
	       "vfio_device_detach_iommufd_pt is 8 bytes in Linux 6.6");
#endif

/*
 * Attaching one PASID (newer kernels): the attach and detach structs grew a
 * pasid field after the 6.6 layouts above, selected by a flag. Local names,
 * so they never clash with a system header that has either layout.
 */
#ifndef VFIO_DEVICE_ATTACH_PASID
#define VFIO_DEVICE_ATTACH_PASID	(1u << 0)
#endif
#ifndef VFIO_DEVICE_DETACH_PASID
#define VFIO_DEVICE_DETACH_PASID	(1u << 0)
#endif
struct tagvmm_vfio_attach_pasid {
	__u32 argsz;
	__u32 flags;		/* VFIO_DEVICE_ATTACH_PASID */
	__u32 pt_id;
	__u32 pasid;
};
struct tagvmm_vfio_detach_pasid {
	__u32 argsz;
	__u32 flags;		/* VFIO_DEVICE_DETACH_PASID */
	__u32 pasid;
};
_Static_assert(sizeof(struct tagvmm_vfio_attach_pasid) == 16, "PASID attach is 16 bytes");
_Static_assert(sizeof(struct tagvmm_vfio_detach_pasid) == 12, "PASID detach is 12 bytes");

/*
 * The iommufd IOAS ioctls vfio.c uses. They belong to
 * lib/iommufd-compat.h (included before this header); these guarded
 * copies only fill in what it does not define, so the two never clash.
 */
#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE			(';')
#endif

#ifndef IOMMU_DESTROY
struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY			_IO(IOMMUFD_TYPE, 0x80)
_Static_assert(sizeof(struct iommu_destroy) == 8, "iommu_destroy is 8 bytes");
#endif

#ifndef IOMMU_IOAS_ALLOC
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC		_IO(IOMMUFD_TYPE, 0x81)
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "iommu_ioas_alloc is 12 bytes");
#endif

#ifndef IOMMU_IOAS_MAP
#define IOMMU_IOAS_MAP_FIXED_IOVA	(1u << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1u << 1)
#define IOMMU_IOAS_MAP_READABLE		(1u << 2)
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP			_IO(IOMMUFD_TYPE, 0x85)
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommu_ioas_map is 40 bytes");
#endif

#ifndef IOMMU_IOAS_UNMAP
struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_UNMAP		_IO(IOMMUFD_TYPE, 0x86)
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "iommu_ioas_unmap is 24 bytes");
#endif

#endif
