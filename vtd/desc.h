/* SPDX-License-Identifier: MIT */
/*
 * Queued-invalidation descriptors (VT-d spec 6.5.2): decode from and encode to
 * their raw 128-bit or 256-bit form. Every descriptor the guest queues is
 * hostile: decode checks the type and every reserved bit, and says why it
 * refused, so the caller can raise IQE with the right IQEI.
 */
#ifndef TAGVMM_VTD_DESC_H
#define TAGVMM_VTD_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vtd_desc_type {
	VTD_DESC_CC = 1,		/* context-cache */
	VTD_DESC_IOTLB = 2,
	VTD_DESC_DEVTLB = 3,		/* device-TLB (ATS), requests without PASID */
	VTD_DESC_IEC = 4,		/* interrupt entry cache */
	VTD_DESC_WAIT = 5,
	VTD_DESC_PIOTLB = 6,		/* PASID-based IOTLB */
	VTD_DESC_PC = 7,		/* PASID cache */
	VTD_DESC_PDEVTLB = 8,		/* PASID-based device-TLB */
	VTD_DESC_PGRP_RESP = 9,		/* page group response */
};
#define VTD_DESC_TYPE_MAX 9

/* Raw descriptor: qw[0] holds the type. 128-bit descriptors use qw[0..1]. */
struct vtd_raw_desc {
	uint64_t qw[4];
};

/* Granularities, with the encodings each descriptor uses on the wire. */
enum vtd_cc_gran { VTD_CC_GLOBAL = 1, VTD_CC_DOMAIN = 2, VTD_CC_DEVICE = 3 };
enum vtd_iotlb_gran { VTD_IOTLB_GLOBAL = 1, VTD_IOTLB_DOMAIN = 2, VTD_IOTLB_PAGE = 3 };
enum vtd_piotlb_gran { VTD_PIOTLB_PASID = 2, VTD_PIOTLB_PAGE = 3 };
enum vtd_pc_gran { VTD_PC_DOMAIN = 0, VTD_PC_PASID = 1, VTD_PC_GLOBAL = 3 };

struct vtd_desc_cc {
	enum vtd_cc_gran gran;
	uint16_t did;
	uint16_t sid;
	uint8_t fm;		/* function mask, 2 bits */
};

struct vtd_desc_iotlb {
	enum vtd_iotlb_gran gran;
	bool dr, dw;		/* drain reads / writes */
	uint16_t did;
	uint64_t addr;		/* page-aligned (bits 63:12) */
	uint8_t am;		/* address mask: 2^am pages */
	bool ih;		/* invalidation hint: leaf entries only */
};

/*
 * Device-TLB address: with size == false one page at addr; otherwise the
 * PCIe ATS encoding, where the lowest zero bit of addr above bit 11 gives the
 * size. vtd_devtlb_range() turns it into base + order.
 */
struct vtd_desc_devtlb {
	uint16_t sid;
	uint16_t pfsid;		/* physical function SID (ECAP.DIT) */
	uint8_t qdep;		/* max invalidations pending, 5 bits */
	uint64_t addr;
	bool size;
};

struct vtd_desc_iec {
	bool selective;		/* false: global */
	uint8_t im;		/* index mask, 5 bits */
	uint16_t iidx;
};

struct vtd_desc_wait {
	bool intr;		/* IF: raise the completion interrupt */
	bool sw;		/* status write */
	bool fence;
	bool drain;		/* PD: page-request drain */
	uint32_t status_data;
	uint64_t status_addr;	/* dword aligned */
};

struct vtd_desc_piotlb {
	enum vtd_piotlb_gran gran;
	uint16_t did;
	uint32_t pasid;		/* 20 bits */
	uint64_t addr;
	uint8_t am;
	bool ih;
};

struct vtd_desc_pc {
	enum vtd_pc_gran gran;
	uint16_t did;
	uint32_t pasid;
};

struct vtd_desc_pdevtlb {
	uint16_t sid;
	uint16_t pfsid;
	uint8_t qdep;
	uint32_t pasid;
	uint64_t addr;
	bool size;
	bool global;		/* G: all PASIDs of the device, including globals */
};

/* Page group response codes (PCIe PRG Response, as the guest writes them). */
#define VTD_PRG_RESP_SUCCESS	0x0
#define VTD_PRG_RESP_INVALID	0x1
#define VTD_PRG_RESP_FAILURE	0xf

struct vtd_desc_pgrp_resp {
	bool pasid_present;
	bool priv_present;
	uint8_t rcode;		/* response code, 4 bits */
	uint16_t rid;
	uint32_t pasid;
	uint16_t prgi;		/* page request group index, 9 bits */
	bool lpig;		/* last page in group */
	uint64_t priv[2];	/* private data, 256-bit descriptors only */
};

/* A decoded descriptor. */
struct vtd_desc {
	enum vtd_desc_type type;
	union {
		struct vtd_desc_cc cc;
		struct vtd_desc_iotlb iotlb;
		struct vtd_desc_devtlb devtlb;
		struct vtd_desc_iec iec;
		struct vtd_desc_wait wait;
		struct vtd_desc_piotlb piotlb;
		struct vtd_desc_pc pc;
		struct vtd_desc_pdevtlb pdevtlb;
		struct vtd_desc_pgrp_resp pgrp;
	};
};

/* Why a descriptor was refused; maps onto an IQEI code. */
enum vtd_desc_error {
	VTD_DESC_OK = 0,
	VTD_DESC_ERR_TYPE,	/* unknown type (including the spec's type bits 11:9) */
	VTD_DESC_ERR_RESERVED,	/* a reserved bit is set */
	VTD_DESC_ERR_GRAN,	/* a reserved granularity value */
};

/*
 * Decode @raw. @wide selects the 256-bit form (IQA.DW): then qw[2..3] are
 * checked too. Returns VTD_DESC_OK and fills @out, or an error and leaves
 * @out with at least ->type set to the raw type value seen.
 */
enum vtd_desc_error vtd_desc_decode(const struct vtd_raw_desc *raw, bool wide,
				    struct vtd_desc *out);

/*
 * Encode @d into @raw. All four qwords are written (qw[2..3] are zero except
 * for page group responses with private data). Out-of-range field values are
 * masked to their field width.
 */
void vtd_desc_encode(const struct vtd_desc *d, struct vtd_raw_desc *raw);

/* The raw type of qw0, including the extended type bits 11:9. */
unsigned int vtd_desc_raw_type(uint64_t qw0);

/* Name used in traces, as Linux's qi_submit event: "iotlb_inv", ...; "unknown" else. */
const char *vtd_desc_type_name(unsigned int type);
/* Human-readable text of an error. */
const char *vtd_desc_strerror(enum vtd_desc_error err);

/*
 * Device-TLB range (PCIe ATS size encoding, shared by types 3 and 8):
 * from the raw addr + S bit to a base address and order (2^order pages,
 * VTD_MAX_AM meaning everything), and back.
 */
void vtd_devtlb_range(uint64_t addr, bool size, uint64_t *base, unsigned int *order);
uint64_t vtd_devtlb_encode_addr(uint64_t base, unsigned int order, bool *size);

/* Field-by-field equality (the union may hold stale bytes, so memcmp won't do). */
bool vtd_desc_equal(const struct vtd_desc *a, const struct vtd_desc *b);

/* One-line human-readable rendering of a decoded descriptor; returns snprintf's count. */
int vtd_desc_format(const struct vtd_desc *d, char *buf, size_t len);

#endif
