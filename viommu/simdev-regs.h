/* SPDX-License-Identifier: MIT */
/*
 * Register interface of the emulated DMA engine (viommu/simdev.c), shared
 * with the test guests' driver. BAR 0, 4 KiB of MMIO, 64-bit registers.
 * A write to SIMDEV_CMD runs the command to completion before the write
 * returns; completion also raises MSI-X vector 0 when enabled.
 * A copy needs Bus Master Enable, and PASID_VALID needs PASID Enable in
 * the PASID capability (else STATUS_BAD). FAULT_ADDR is the IOVA of the
 * first byte not moved; a translation to a GPA outside guest RAM is a
 * fault too (reason ADDR_BEYOND_MGAW). 32-bit halves of registers work.
 */
#ifndef TAGVMM_VIOMMU_SIMDEV_REGS_H
#define TAGVMM_VIOMMU_SIMDEV_REGS_H

#define SIMDEV_VENDOR		0x0000		/* see vmm/pci.c: no borrowed IDs */
#define SIMDEV_DEVICE		0x7477
#define SIMDEV_CLASS		0x088000	/* system peripheral, other */

#define SIMDEV_ID		0x00	/* RO: SIMDEV_ID_VALUE */
#define SIMDEV_SRC		0x08	/* source IOVA */
#define SIMDEV_DST		0x10	/* destination IOVA */
#define SIMDEV_LEN		0x18	/* bytes, 1 .. SIMDEV_MAX_LEN */
#define SIMDEV_PASID		0x20	/* bits 19:0 PASID, bit 31 PASID valid */
#define SIMDEV_CMD		0x28	/* write SIMDEV_CMD_COPY to start */
#define SIMDEV_STATUS		0x30	/* RO: SIMDEV_STATUS_* */
#define SIMDEV_FAULT_ADDR	0x38	/* RO: the IOVA that failed to translate */
#define SIMDEV_ATC_HITS		0x40	/* RO: translations served from the device's ATC */
#define SIMDEV_IOTLB_HITS	0x48	/* RO: translations served from the host IOTLB */
#define SIMDEV_WALKS		0x50	/* RO: translations that walked the tables */
#define SIMDEV_PAGE_REQUESTS	0x58	/* RO: page requests made (PRI) */

#define SIMDEV_ID_VALUE		0x414d4454ULL	/* "TDMA" */
#define SIMDEV_PASID_VALID	(1ULL << 31)
#define SIMDEV_CMD_COPY		1
#define SIMDEV_STATUS_IDLE	0
#define SIMDEV_STATUS_DONE	1
#define SIMDEV_STATUS_FAULT	2	/* translation failed: a fault was recorded */
#define SIMDEV_STATUS_BAD	3	/* bad LEN or command */
/*
 * PRI (`--sim-device ...,pri`, PRI enabled in its capability, ATS and a
 * PASID in use): a translation the page tables refuse became a page
 * request; the copy goes on once the guest's page group response arrives
 * (Success) and the guest reads a register, or ends in STATUS_FAULT
 * (any other response, a refused request, or SIMDEV_PRI_TRIES requests
 * in one command).
 */
#define SIMDEV_STATUS_PAGE_REQUEST	4
#define SIMDEV_PRI_TRIES	8
#define SIMDEV_MAX_LEN		(1u << 20)

#endif
