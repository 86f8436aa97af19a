/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d register offsets and bits (VT-d specification, chapter 11).
 * Shared by the emulated unit (viommu/), the simulated host (hostvtd/) and
 * the test guests. Only definitions live here, no behaviour.
 */
#ifndef TAGVMM_VTD_REGS_H
#define TAGVMM_VTD_REGS_H

#include <stdint.h>

#define VTD_BIT(n)		(1ULL << (n))
/* Field [hi:lo] of a 64-bit value. */
#define VTD_FIELD(v, hi, lo)	(((uint64_t)(v) >> (lo)) & ((2ULL << ((hi) - (lo))) - 1))

/* Register offsets (spec 11.4). */
#define VTD_REG_VER		0x00
#define VTD_REG_CAP		0x08
#define VTD_REG_ECAP		0x10
#define VTD_REG_GCMD		0x18
#define VTD_REG_GSTS		0x1c
#define VTD_REG_RTADDR		0x20
#define VTD_REG_CCMD		0x28
#define VTD_REG_FSTS		0x34
#define VTD_REG_FECTL		0x38
#define VTD_REG_FEDATA		0x3c
#define VTD_REG_FEADDR		0x40
#define VTD_REG_FEUADDR		0x44
#define VTD_REG_AFLOG		0x58
#define VTD_REG_PMEN		0x64
#define VTD_REG_IQH		0x80
#define VTD_REG_IQT		0x88
#define VTD_REG_IQA		0x90
#define VTD_REG_ICS		0x9c
#define VTD_REG_IECTL		0xa0
#define VTD_REG_IEDATA		0xa4
#define VTD_REG_IEADDR		0xa8
#define VTD_REG_IEUADDR		0xac
#define VTD_REG_IQER		0xb0
#define VTD_REG_IRTA		0xb8
#define VTD_REG_PQH		0xc0
#define VTD_REG_PQT		0xc8
#define VTD_REG_PQA		0xd0
#define VTD_REG_PRS		0xdc
#define VTD_REG_PECTL		0xe0
#define VTD_REG_PEDATA		0xe4
#define VTD_REG_PEADDR		0xe8
#define VTD_REG_PEUADDR		0xec

/* CAP register fields. */
#define VTD_CAP_ND(c)		VTD_FIELD(c, 2, 0)
#define VTD_CAP_RWBF		VTD_BIT(4)
#define VTD_CAP_CM		VTD_BIT(7)
#define VTD_CAP_SAGAW(c)	VTD_FIELD(c, 12, 8)
#define VTD_CAP_MGAW(c)		VTD_FIELD(c, 21, 16)
#define VTD_CAP_FRO(c)		VTD_FIELD(c, 33, 24)	/* in 16-byte units */
#define VTD_CAP_SLLPS(c)	VTD_FIELD(c, 37, 34)
#define VTD_CAP_PSI		VTD_BIT(39)
#define VTD_CAP_NFR(c)		VTD_FIELD(c, 47, 40)	/* number of FRCDs minus 1 */
#define VTD_CAP_MAMV(c)		VTD_FIELD(c, 53, 48)
#define VTD_CAP_DWD		VTD_BIT(54)
#define VTD_CAP_DRD		VTD_BIT(55)
#define VTD_CAP_FS1GP		VTD_BIT(56)
#define VTD_CAP_PI		VTD_BIT(59)
#define VTD_CAP_FS5LP		VTD_BIT(60)
#define VTD_CAP_MAMV_SHIFT	48
#define VTD_CAP_SLLPS_SHIFT	34
#define VTD_CAP_NFR_SHIFT	40
#define VTD_CAP_FRO_SHIFT	24
#define VTD_CAP_MGAW_SHIFT	16
#define VTD_CAP_SAGAW_SHIFT	8

/* ECAP register fields. */
#define VTD_ECAP_C		VTD_BIT(0)
#define VTD_ECAP_QI		VTD_BIT(1)
#define VTD_ECAP_DT		VTD_BIT(2)
#define VTD_ECAP_IR		VTD_BIT(3)
#define VTD_ECAP_EIM		VTD_BIT(4)
#define VTD_ECAP_PT		VTD_BIT(6)
#define VTD_ECAP_SC		VTD_BIT(7)
#define VTD_ECAP_IRO(e)		VTD_FIELD(e, 17, 8)	/* in 16-byte units */
#define VTD_ECAP_MHMV(e)	VTD_FIELD(e, 23, 20)
#define VTD_ECAP_NEST		VTD_BIT(26)
#define VTD_ECAP_PRS		VTD_BIT(29)
#define VTD_ECAP_SRS		VTD_BIT(31)
#define VTD_ECAP_NWFS		VTD_BIT(33)
#define VTD_ECAP_PSS(e)		VTD_FIELD(e, 39, 35)	/* PASID width minus 1 */
#define VTD_ECAP_PASID		VTD_BIT(40)
#define VTD_ECAP_DIT		VTD_BIT(41)
#define VTD_ECAP_PDS		VTD_BIT(42)
#define VTD_ECAP_SMTS		VTD_BIT(43)
#define VTD_ECAP_VCS		VTD_BIT(44)
#define VTD_ECAP_SLADS		VTD_BIT(45)
#define VTD_ECAP_SLTS		VTD_BIT(46)
#define VTD_ECAP_FLTS		VTD_BIT(47)
#define VTD_ECAP_SMPWCS		VTD_BIT(48)
#define VTD_ECAP_IRO_SHIFT	8
#define VTD_ECAP_PSS_SHIFT	35

/* GCMD / GSTS bits (same positions in both). */
#define VTD_GCMD_CFI		VTD_BIT(23)
#define VTD_GCMD_SIRTP		VTD_BIT(24)
#define VTD_GCMD_IRE		VTD_BIT(25)
#define VTD_GCMD_QIE		VTD_BIT(26)
#define VTD_GCMD_WBF		VTD_BIT(27)
#define VTD_GCMD_EAFL		VTD_BIT(28)
#define VTD_GCMD_SFL		VTD_BIT(29)
#define VTD_GCMD_SRTP		VTD_BIT(30)
#define VTD_GCMD_TE		VTD_BIT(31)

/* RTADDR: translation table mode, bits 11:10 (0 legacy, 1 scalable). */
#define VTD_RTADDR_TTM_SHIFT	10
#define VTD_RTADDR_TTM_MASK	(3ULL << 10)
#define VTD_RTADDR_ADDR_MASK	(~0xfffULL)

/* CCMD register. */
#define VTD_CCMD_ICC		VTD_BIT(63)
#define VTD_CCMD_CIRG_SHIFT	61
#define VTD_CCMD_CAIG_SHIFT	59

/* IOTLB invalidate register (at ECAP.IRO * 16 + 8); IVA at ECAP.IRO * 16. */
#define VTD_IOTLB_IVT		VTD_BIT(63)
#define VTD_IOTLB_IIRG_SHIFT	60
#define VTD_IOTLB_IAIG_SHIFT	57
#define VTD_IOTLB_DR		VTD_BIT(49)
#define VTD_IOTLB_DW		VTD_BIT(48)
#define VTD_IOTLB_DID_SHIFT	32
#define VTD_IVA_IH		VTD_BIT(6)
#define VTD_IVA_AM_MASK		0x3fULL

/* FSTS bits. */
#define VTD_FSTS_PFO		VTD_BIT(0)
#define VTD_FSTS_PPF		VTD_BIT(1)
#define VTD_FSTS_IQE		VTD_BIT(4)
#define VTD_FSTS_ICE		VTD_BIT(5)
#define VTD_FSTS_ITE		VTD_BIT(6)
#define VTD_FSTS_PRO		VTD_BIT(7)
#define VTD_FSTS_FRI_SHIFT	8
#define VTD_FSTS_FRI_MASK	(0xffULL << 8)

/* Fault recording register, upper qword (spec 11.4.14; QEMU's VTD_FRCD_*). */
#define VTD_FRCD_HI_F		VTD_BIT(63)
#define VTD_FRCD_HI_T		VTD_BIT(62)	/* 1: read request, 0: write */
#define VTD_FRCD_HI_PV_SHIFT	40		/* PASID value, 59:40 */
#define VTD_FRCD_HI_FR_SHIFT	32
#define VTD_FRCD_HI_PP		VTD_BIT(31)	/* PASID present */

/* FECTL / IECTL. */
#define VTD_ECTL_IM		VTD_BIT(31)
#define VTD_ECTL_IP		VTD_BIT(30)

/* IQA: base 63:12, DW bit 11 (256-bit descriptors), QS 2:0 (2^QS pages). */
#define VTD_IQA_ADDR_MASK	(~0xfffULL)
#define VTD_IQA_DW		VTD_BIT(11)
#define VTD_IQA_QS(v)		VTD_FIELD(v, 2, 0)
/* IQH/IQT: the queue offset lives in bits 18:4. */
#define VTD_IQ_OFFSET_MASK	0x7fff0ULL

/* ICS. */
#define VTD_ICS_IWC		VTD_BIT(0)

/* IQERCD: IQEI 3:0, ITESID 47:32, ICESID 63:48. */
#define VTD_IQER_IQEI(v)	VTD_FIELD(v, 3, 0)
#define VTD_IQER_ITESID_SHIFT	32
#define VTD_IQER_ICESID_SHIFT	48

/*
 * IQEI codes (spec 11.4.9.9, as VirtualBox's VT-d model lists them; 1 and 2
 * from the spec's prose: tail beyond the queue, descriptor fetch error).
 */
enum vtd_iqei {
	VTD_IQEI_NONE = 0,		/* no detail recorded */
	VTD_IQEI_TAIL = 1,		/* IQT beyond the queue or reserved bits set */
	VTD_IQEI_FETCH = 2,		/* descriptor fetch from queue memory failed */
	VTD_IQEI_TYPE = 3,		/* invalid descriptor type */
	VTD_IQEI_RSVD = 4,		/* reserved field set (incl. reserved granularity) */
	VTD_IQEI_WIDTH = 5,		/* descriptor width does not fit the queue mode */
	VTD_IQEI_TAIL_ALIGN = 6,	/* IQT not 256-bit aligned with IQA.DW */
	VTD_IQEI_TTM = 7,		/* invalid translation table mode */
};

/* Host and guest page size used by every invalidation address. */
#define VTD_PAGE_SHIFT		12
#define VTD_PAGE_SIZE		(1ULL << VTD_PAGE_SHIFT)
#define VTD_PAGE_MASK		(~(VTD_PAGE_SIZE - 1))
/* Widest address mask an invalidation can express: 64 - 12 bits of page number. */
#define VTD_MAX_AM		52

#endif
