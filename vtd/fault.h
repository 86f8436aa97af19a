/* SPDX-License-Identifier: MIT */
/* The VT-d spec's fault reason codes, as a unit records them in FRCD.FR. */
#ifndef TAGVMM_VTD_FAULT_H
#define TAGVMM_VTD_FAULT_H

/*
 * Fault reasons (VT-d spec 7.1.3 and its appendix of fault-reason encodings;
 * checked against QEMU's VTDFaultReason and Linux's dma_remap_sm_fault_reasons).
 * Legacy mode uses 0x01-0x0d; scalable mode 0x30 and up.
 */
#define VTD_FR_ROOT_NOT_PRESENT		0x01	/* legacy: root entry P clear */
#define VTD_FR_CTX_NOT_PRESENT		0x02	/* legacy: context entry P clear */
#define VTD_FR_CTX_INVALID		0x03	/* legacy: bad TT / AW in a context entry */
#define VTD_FR_ADDR_BEYOND_MGAW		0x04
#define VTD_FR_WRITE			0x05	/* second stage: no write permission */
#define VTD_FR_READ			0x06	/* second stage: no read permission */
#define VTD_FR_PAGING_ENTRY_INVALID	0x07	/* second-stage table not readable */
#define VTD_FR_ROOT_TABLE_INVALID	0x08	/* root table address outside memory */
#define VTD_FR_CTX_TABLE_INVALID	0x09
#define VTD_FR_ROOT_RSVD		0x0a
#define VTD_FR_CTX_RSVD			0x0b
#define VTD_FR_PAGING_RSVD		0x0c
#define VTD_FR_CTX_TT			0x0d	/* request blocked by the context's TT */
#define VTD_FR_SM_RTADDR_INVALID	0x30	/* RTADDR.TTM reserved / unsupported */
#define VTD_FR_SM_PASID_IN_LEGACY	0x31	/* request with PASID while TTM is legacy */
#define VTD_FR_SM_TABLE_ACCESS		0x38	/* scalable root entry not readable */
#define VTD_FR_SM_RTE_NOT_PRESENT	0x39
#define VTD_FR_SM_RTE_RSVD		0x3a
#define VTD_FR_SM_CTE_ACCESS		0x40
#define VTD_FR_SM_CTE_NOT_PRESENT	0x41
#define VTD_FR_SM_CTE_RSVD		0x42
#define VTD_FR_SM_CTE_INVALID		0x43
#define VTD_FR_SM_CTE_PASIDE		0x45	/* request with PASID, PASIDE clear */
#define VTD_FR_SM_CTE_PDTS		0x46	/* PASID beyond the directory size */
#define VTD_FR_SM_PDE_ACCESS		0x50
#define VTD_FR_SM_PDE_NOT_PRESENT	0x51
#define VTD_FR_SM_PDE_RSVD		0x52
#define VTD_FR_SM_PTE_ACCESS		0x58
#define VTD_FR_SM_PTE_NOT_PRESENT	0x59
#define VTD_FR_SM_PTE_RSVD		0x5a
#define VTD_FR_SM_PTE_PGTT		0x5b	/* invalid PASID entry (PGTT, AW, FLPM) */
#define VTD_FR_SM_PTE_SRE		0x5d	/* supervisor request, SRE clear */
#define VTD_FR_FS_ACCESS		0x70	/* first-stage entry not readable */
#define VTD_FR_FS_NOT_PRESENT		0x71
#define VTD_FR_FS_RSVD			0x72
#define VTD_FR_FS_PTR_INVALID		0x73	/* FSPTPTR not readable */
#define VTD_FR_NESTED_FS_BEYOND_MGAW	0x74	/* nested: FS table address beyond SL width */
#define VTD_FR_NESTED_FS_ROOT_READ	0x75	/* nested: SL denies reading the FS root */
#define VTD_FR_NESTED_FS_READ		0x76	/* nested: SL denies reading an FS table */
#define VTD_FR_NESTED_FS_WRITE		0x77	/* nested: SL denies the A/D update */
#define VTD_FR_SS_ACCESS		0x78	/* second-stage entry not readable */
#define VTD_FR_SS_RSVD			0x7a
#define VTD_FR_SS_PTR_INVALID		0x7b	/* SSPTPTR not readable */
#define VTD_FR_FS_NONCANONICAL		0x80
#define VTD_FR_FS_USER			0x81	/* user request, U/S clear */
#define VTD_FR_FS_EXEC			0x82	/* execute request, XD set */
#define VTD_FR_SM_ADDR_BEYOND_MGAW	0x83
#define VTD_FR_SM_WRITE			0x85	/* no write permission (either stage) */
#define VTD_FR_SM_READ			0x86	/* no read permission (either stage) */

#endif
