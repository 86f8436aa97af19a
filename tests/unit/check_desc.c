// SPDX-License-Identifier: MIT
/*
 * Unit tests for the queued-invalidation descriptor codec (vtd/desc.c).
 *
 * The layout tables below are written out again from the VT-d spec rather
 * than taken from desc.c, so a wrong mask in either place shows up as a
 * disagreement.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

#define TYPE_BITS	0xe0fULL	/* qw0 3:0 and 11:9 */

struct layout {
	uint64_t field[2];	/* bits that belong to a defined field */
	uint64_t rsvd[2];	/* bits that must be zero */
	uint64_t gran;		/* qw0 bits holding a granularity with reserved values */
};

static const struct layout layouts[VTD_DESC_TYPE_MAX + 1] = {
	[VTD_DESC_CC] = {
		.field = { 0x0003ffffffff0030ULL, 0 },
		.rsvd = { 0xfffc00000000f1c0ULL, ~0ULL },
		.gran = 0x30,
	},
	[VTD_DESC_IOTLB] = {
		.field = { 0x00000000ffff00f0ULL, 0xfffffffffffff07fULL },
		.rsvd = { 0xffffffff0000f100ULL, 0xf80ULL },
		.gran = 0x30,
	},
	[VTD_DESC_DEVTLB] = {
		.field = { 0xfff0ffff001ff000ULL, 0xfffffffffffff001ULL },
		.rsvd = { 0x000f0000ffe001f0ULL, 0xffeULL },
	},
	[VTD_DESC_IEC] = {
		.field = { 0x0000fffff8000010ULL, 0 },
		.rsvd = { 0xffff000007fff1e0ULL, ~0ULL },
	},
	[VTD_DESC_WAIT] = {
		.field = { 0xffffffff000000f0ULL, 0xfffffffffffffffcULL },
		.rsvd = { 0x00000000fffff100ULL, 0x3ULL },
	},
	[VTD_DESC_PIOTLB] = {
		.field = { 0x000fffffffff0030ULL, 0xfffffffffffff07fULL },
		.rsvd = { 0xfff000000000f1c0ULL, 0xf80ULL },
		.gran = 0x30,
	},
	[VTD_DESC_PC] = {
		.field = { 0x000fffffffff0030ULL, 0 },
		.rsvd = { 0xfff000000000f1c0ULL, ~0ULL },
		.gran = 0x30,
	},
	[VTD_DESC_PDEVTLB] = {
		.field = { 0xfffffffffffff1f0ULL, 0xfffffffffffff801ULL },
		.rsvd = { 0, 0x7feULL },
	},
	[VTD_DESC_PGRP_RESP] = {
		.field = { 0x000ffffffffff030ULL, 0x0000000000000ffcULL },
		.rsvd = { 0xfff00000000001c0ULL, 0xfffffffffffff003ULL },
	},
};

static bool gran_valid(unsigned int type, unsigned int g)
{
	switch (type) {
	case VTD_DESC_CC:
	case VTD_DESC_IOTLB:
		return g != 0;
	case VTD_DESC_PIOTLB:
		return g >= 2;
	case VTD_DESC_PC:
		return g != 2;
	}
	return true;
}

static void raw_set(struct vtd_raw_desc *r, uint64_t q0, uint64_t q1, uint64_t q2, uint64_t q3)
{
	r->qw[0] = q0;
	r->qw[1] = q1;
	r->qw[2] = q2;
	r->qw[3] = q3;
}

/* encode(d) decodes back to d in both widths and re-encodes to the same raw. */
static void assert_round_trip(const struct vtd_desc *d, bool wide)
{
	struct vtd_raw_desc raw, again;
	struct vtd_desc out;
	enum vtd_desc_error err;
	char text[256];

	vtd_desc_encode(d, &raw);
	err = vtd_desc_decode(&raw, wide, &out);
	vtd_desc_format(d, text, sizeof(text));
	ck_assert_msg(err == VTD_DESC_OK, "%s: %s (qw0 0x%" PRIx64 " qw1 0x%" PRIx64 ")",
		      text, vtd_desc_strerror(err), raw.qw[0], raw.qw[1]);
	ck_assert_msg(vtd_desc_equal(d, &out), "round trip changed %s (wide %d)", text, wide);
	vtd_desc_encode(&out, &again);
	ck_assert(memcmp(&raw, &again, sizeof(raw)) == 0);
}

static void assert_round_trip_both(const struct vtd_desc *d)
{
	assert_round_trip(d, false);
	assert_round_trip(d, true);
}

/* --- known vectors ------------------------------------------------------ */

START_TEST(test_vector_iotlb_psi)
{
	struct vtd_desc d = { .type = VTD_DESC_IOTLB };
	struct vtd_raw_desc raw;

	d.iotlb.gran = VTD_IOTLB_PAGE;
	d.iotlb.did = 5;
	d.iotlb.addr = 0x10000000;
	d.iotlb.am = 3;
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[0], 0x50032);
	ck_assert_uint_eq(raw.qw[1], 0x10000003);
	ck_assert_uint_eq(raw.qw[2], 0);
	ck_assert_uint_eq(raw.qw[3], 0);
}
END_TEST

START_TEST(test_vector_wait)
{
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	raw_set(&raw, 0x200000025ULL, 0x12345678abcULL, 0, 0);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	ck_assert_int_eq(d.type, VTD_DESC_WAIT);
	ck_assert(d.wait.sw);
	ck_assert(!d.wait.intr && !d.wait.fence && !d.wait.drain);
	ck_assert_uint_eq(d.wait.status_data, 2);
	ck_assert_uint_eq(d.wait.status_addr, 0x12345678abcULL);

	/* A status address that is not dword aligned uses reserved bits. */
	raw.qw[1] |= 2;
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_ERR_RESERVED);
	/* The page-request drain bit is the spec's PD, not reserved. */
	raw_set(&raw, 0x2000000a5ULL, 0x1000, 0, 0);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	ck_assert(d.wait.drain);
}
END_TEST

START_TEST(test_vector_devtlb_full)
{
	struct vtd_desc d = { .type = VTD_DESC_DEVTLB };
	struct vtd_raw_desc raw;
	bool size;

	d.devtlb.sid = 0x0010;
	d.devtlb.addr = vtd_devtlb_encode_addr(0, VTD_MAX_AM, &size);
	d.devtlb.size = size;
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[1], 0x7ffffffffffff001ULL);
	ck_assert_uint_eq(raw.qw[0], 0x0000001000000003ULL);

	d.type = VTD_DESC_PDEVTLB;
	d.pdevtlb = (struct vtd_desc_pdevtlb){ .sid = 0x0010, .pasid = 7, .size = size,
					       .addr = d.devtlb.addr };
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[1], 0x7ffffffffffff800ULL);
	ck_assert_uint_eq(raw.qw[0], 0x0000000700100008ULL);
}
END_TEST

START_TEST(test_vector_pfsid_split)
{
	struct vtd_desc d = { .type = VTD_DESC_DEVTLB };
	struct vtd_raw_desc raw;
	struct vtd_desc out;

	d.devtlb.pfsid = 0xabcd;
	d.devtlb.qdep = 0x1f;
	vtd_desc_encode(&d, &raw);
	/* PFSID 3:0 at 15:12, 15:4 at 63:52; QDEP at 20:16 (Linux QI_DEV_IOTLB_*). */
	ck_assert_uint_eq(raw.qw[0], 0xabc00000001fd003ULL);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.devtlb.pfsid, 0xabcd);

	d.type = VTD_DESC_PDEVTLB;
	d.pdevtlb = (struct vtd_desc_pdevtlb){ .pfsid = 0xabcd, .qdep = 0x1f, .sid = 0x1234,
					       .pasid = 0xfffff, .global = true };
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[0], 0xabcfffff1234d1f8ULL);
	ck_assert_uint_eq(raw.qw[1], 1);
}
END_TEST

START_TEST(test_vector_misc)
{
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	/* qi_global_iec */
	raw_set(&raw, 4, 0, 0, 0);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	ck_assert_int_eq(d.type, VTD_DESC_IEC);
	ck_assert(!d.iec.selective);

	/* Context-cache, device-selective, DID 3, SID 0x00f8, FM 2. */
	raw_set(&raw, 0x000200f800030031ULL, 0, 0, 0);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	ck_assert_int_eq(d.cc.gran, VTD_CC_DEVICE);
	ck_assert_uint_eq(d.cc.did, 3);
	ck_assert_uint_eq(d.cc.sid, 0xf8);
	ck_assert_uint_eq(d.cc.fm, 2);

	/* P_IOTLB PASID-selective as Linux sends it: qw1 = 0. */
	raw_set(&raw, 0x0000000500010026ULL, 0, 0, 0);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_OK);
	ck_assert_int_eq(d.piotlb.gran, VTD_PIOTLB_PASID);
	ck_assert_uint_eq(d.piotlb.pasid, 5);
	ck_assert_uint_eq(d.piotlb.did, 1);

	/* Page group response: RID 0x0100, PASID 3, RC 1, PRGI 0x1ff, LPIG. */
	raw_set(&raw, 0x0000000301001019ULL, 0xffcULL, 0x11, 0x22);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_OK);
	ck_assert(d.pgrp.pasid_present);
	ck_assert(!d.pgrp.priv_present);
	ck_assert_uint_eq(d.pgrp.rid, 0x100);
	ck_assert_uint_eq(d.pgrp.pasid, 3);
	ck_assert_uint_eq(d.pgrp.rcode, 1);
	ck_assert_uint_eq(d.pgrp.prgi, 0x1ff);
	ck_assert(d.pgrp.lpig);
	ck_assert_uint_eq(d.pgrp.priv[0], 0x11);
	ck_assert_uint_eq(d.pgrp.priv[1], 0x22);
	/* In a 128-bit queue qw2/qw3 do not exist. */
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	ck_assert_uint_eq(d.pgrp.priv[0], 0);
	ck_assert_uint_eq(d.pgrp.priv[1], 0);
}
END_TEST

START_TEST(test_raw_type)
{
	ck_assert_uint_eq(vtd_desc_raw_type(0x2), 2);
	ck_assert_uint_eq(vtd_desc_raw_type(0x205), 0x15);
	ck_assert_uint_eq(vtd_desc_raw_type(0xe0f), 0x7f);
	ck_assert_uint_eq(vtd_desc_raw_type(~0ULL & ~0xe0fULL), 0);
	ck_assert_uint_eq(vtd_desc_raw_type(0x809), 0x49);
}
END_TEST

/* --- round trips --------------------------------------------------------- */

static const uint64_t test_addrs[] = {
	0, 0x1000, 0x10000000, 0xfffffffffffff000ULL, 0x8000000000000000ULL,
	0x00007ffffffff000ULL, 0x123456789abcd000ULL,
};
#define N_ADDRS (sizeof(test_addrs) / sizeof(test_addrs[0]))

START_TEST(test_round_trip_cc)
{
	for (unsigned int g = VTD_CC_GLOBAL; g <= VTD_CC_DEVICE; g++)
		for (unsigned int fm = 0; fm < 4; fm++) {
			struct vtd_desc d = { .type = VTD_DESC_CC };

			d.cc = (struct vtd_desc_cc){ .gran = g, .did = g == 1 ? 0 : 0xffff,
						     .sid = fm & 1 ? 0xffff : 0x1234, .fm = fm };
			assert_round_trip_both(&d);
		}
}
END_TEST

START_TEST(test_round_trip_iotlb)
{
	for (unsigned int g = VTD_IOTLB_GLOBAL; g <= VTD_IOTLB_PAGE; g++)
		for (unsigned int am = 0; am < 64; am++)
			for (unsigned int i = 0; i < N_ADDRS; i++) {
				struct vtd_desc d = { .type = VTD_DESC_IOTLB };

				d.iotlb = (struct vtd_desc_iotlb){
					.gran = g, .did = am & 1 ? 0xffff : 0, .am = am,
					.addr = test_addrs[i], .ih = i & 1,
					.dr = am & 2, .dw = am & 4,
				};
				assert_round_trip_both(&d);
			}
}
END_TEST

START_TEST(test_round_trip_devtlb)
{
	for (unsigned int i = 0; i < N_ADDRS; i++)
		for (unsigned int q = 0; q < 32; q++) {
			struct vtd_desc d = { .type = VTD_DESC_DEVTLB };

			d.devtlb = (struct vtd_desc_devtlb){
				.sid = q & 1 ? 0xffff : 0x0100, .pfsid = q & 2 ? 0xffff : 0x0008,
				.qdep = q, .addr = test_addrs[i], .size = q & 4,
			};
			assert_round_trip_both(&d);
		}
}
END_TEST

START_TEST(test_round_trip_iec)
{
	for (unsigned int im = 0; im < 32; im++) {
		struct vtd_desc d = { .type = VTD_DESC_IEC };

		d.iec = (struct vtd_desc_iec){ .selective = im & 1, .im = im,
					       .iidx = im & 2 ? 0xffff : im };
		assert_round_trip_both(&d);
	}
}
END_TEST

START_TEST(test_round_trip_wait)
{
	static const uint64_t addrs[] = { 0, 4, 0xfffffffffffffffcULL, 0x12345678ULL };

	for (unsigned int bits = 0; bits < 16; bits++)
		for (unsigned int i = 0; i < 4; i++) {
			struct vtd_desc d = { .type = VTD_DESC_WAIT };

			d.wait = (struct vtd_desc_wait){
				.intr = bits & 1, .sw = bits & 2, .fence = bits & 4,
				.drain = bits & 8, .status_addr = addrs[i],
				.status_data = i & 1 ? 0xffffffffU : bits,
			};
			assert_round_trip_both(&d);
		}
}
END_TEST

START_TEST(test_round_trip_piotlb)
{
	for (unsigned int g = VTD_PIOTLB_PASID; g <= VTD_PIOTLB_PAGE; g++)
		for (unsigned int am = 0; am < 64; am++)
			for (unsigned int i = 0; i < N_ADDRS; i++) {
				struct vtd_desc d = { .type = VTD_DESC_PIOTLB };

				d.piotlb = (struct vtd_desc_piotlb){
					.gran = g, .did = am & 1 ? 0xffff : 1,
					.pasid = am & 2 ? 0xfffff : 0, .am = am,
					.addr = test_addrs[i], .ih = i & 1,
				};
				assert_round_trip_both(&d);
			}
}
END_TEST

START_TEST(test_round_trip_pc)
{
	static const enum vtd_pc_gran grans[] = { VTD_PC_DOMAIN, VTD_PC_PASID, VTD_PC_GLOBAL };

	for (unsigned int i = 0; i < 3; i++)
		for (unsigned int v = 0; v < 4; v++) {
			struct vtd_desc d = { .type = VTD_DESC_PC };

			d.pc = (struct vtd_desc_pc){ .gran = grans[i], .did = v & 1 ? 0xffff : 0,
						     .pasid = v & 2 ? 0xfffff : 1 };
			assert_round_trip_both(&d);
		}
}
END_TEST

START_TEST(test_round_trip_pdevtlb)
{
	for (unsigned int i = 0; i < N_ADDRS; i++)
		for (unsigned int q = 0; q < 32; q++) {
			struct vtd_desc d = { .type = VTD_DESC_PDEVTLB };

			d.pdevtlb = (struct vtd_desc_pdevtlb){
				.sid = q & 1 ? 0xffff : 0x0100, .pfsid = q & 2 ? 0xffff : 0x0001,
				.qdep = q, .pasid = q & 4 ? 0xfffff : q, .addr = test_addrs[i],
				.size = q & 8, .global = q & 16,
			};
			assert_round_trip_both(&d);
		}
}
END_TEST

START_TEST(test_round_trip_pgrp)
{
	for (unsigned int v = 0; v < 32; v++) {
		struct vtd_desc d = { .type = VTD_DESC_PGRP_RESP };

		d.pgrp = (struct vtd_desc_pgrp_resp){
			.pasid_present = v & 1, .priv_present = v & 2, .rcode = v & 0xf,
			.rid = v & 4 ? 0xffff : 0x0100, .pasid = v & 8 ? 0xfffff : v,
			.prgi = v & 16 ? 0x1ff : v, .lpig = v & 1,
		};
		assert_round_trip_both(&d);
		/* Private data survives only in a 256-bit queue. */
		d.pgrp.priv[0] = ~0ULL - v;
		d.pgrp.priv[1] = v;
		assert_round_trip(&d, true);
	}
}
END_TEST

/* --- reserved bits, granularity, types ---------------------------------- */

/* A valid descriptor of @type with a granularity whose both bits can flip. */
static void base_desc(unsigned int type, struct vtd_raw_desc *raw)
{
	struct vtd_desc d;

	memset(&d, 0, sizeof(d));
	d.type = (enum vtd_desc_type)type;
	if (type == VTD_DESC_CC)
		d.cc.gran = VTD_CC_DEVICE;
	else if (type == VTD_DESC_IOTLB)
		d.iotlb.gran = VTD_IOTLB_PAGE;
	else if (type == VTD_DESC_PIOTLB)
		d.piotlb.gran = VTD_PIOTLB_PAGE;
	else if (type == VTD_DESC_PC)
		d.pc.gran = VTD_PC_GLOBAL;
	vtd_desc_encode(&d, raw);
}

/* Expected outcome of flipping qw[q] bit @bit in the base descriptor of @type. */
static void check_bit_flip(unsigned int type, bool wide, unsigned int q, unsigned int bit)
{
	const struct layout *l = &layouts[type];
	uint64_t mask = 1ULL << bit;
	struct vtd_raw_desc base, raw, again;
	struct vtd_desc dbase, d;
	enum vtd_desc_error err;

	base_desc(type, &base);
	ck_assert_int_eq(vtd_desc_decode(&base, wide, &dbase), VTD_DESC_OK);
	raw = base;
	raw.qw[q] ^= mask;
	err = vtd_desc_decode(&raw, wide, &d);

	if (q >= 2) {
		if (!wide) {
			/* 128-bit descriptors have no qw2/qw3: ignored. */
			ck_assert_int_eq(err, VTD_DESC_OK);
			ck_assert(vtd_desc_equal(&d, &dbase));
		} else if (type == VTD_DESC_PGRP_RESP) {
			ck_assert_int_eq(err, VTD_DESC_OK);
			ck_assert_uint_eq(d.pgrp.priv[q - 2], mask);
		} else {
			ck_assert_msg(err == VTD_DESC_ERR_RESERVED, "type %u qw%u bit %u",
				      type, q, bit);
		}
		return;
	}
	if (q == 0 && (TYPE_BITS & mask)) {
		ck_assert_uint_eq(d.type, vtd_desc_raw_type(raw.qw[0]));
		ck_assert_uint_ne(d.type, type);
		return;
	}
	if (l->rsvd[q] & mask) {
		ck_assert_msg(err == VTD_DESC_ERR_RESERVED, "type %u qw%u bit %u: %s", type, q,
			      bit, vtd_desc_strerror(err));
		ck_assert_int_eq(d.type, type);
		return;
	}
	ck_assert_msg(l->field[q] & mask, "layout table misses type %u qw%u bit %u", type, q, bit);
	if (q == 0 && (l->gran & mask) &&
	    !gran_valid(type, (unsigned int)VTD_FIELD(raw.qw[0], 5, 4))) {
		ck_assert_int_eq(err, VTD_DESC_ERR_GRAN);
		return;
	}
	/* A defined bit is decoded: it changes the result and survives re-encoding. */
	ck_assert_msg(err == VTD_DESC_OK, "type %u qw%u bit %u: %s", type, q, bit,
		      vtd_desc_strerror(err));
	ck_assert_msg(!vtd_desc_equal(&d, &dbase), "type %u qw%u bit %u ignored", type, q, bit);
	vtd_desc_encode(&d, &again);
	ck_assert_uint_eq(again.qw[0], raw.qw[0]);
	ck_assert_uint_eq(again.qw[1], raw.qw[1]);
}

START_TEST(test_layout_tables_cover_all_bits)
{
	unsigned int type = (unsigned int)_i;
	const struct layout *l = &layouts[type];

	ck_assert_uint_eq(l->field[0] & l->rsvd[0], 0);
	ck_assert_uint_eq(l->field[0] & TYPE_BITS, 0);
	ck_assert_uint_eq(l->rsvd[0] & TYPE_BITS, 0);
	ck_assert_uint_eq(l->field[0] | l->rsvd[0] | TYPE_BITS, ~0ULL);
	ck_assert_uint_eq(l->field[1] & l->rsvd[1], 0);
	ck_assert_uint_eq(l->field[1] | l->rsvd[1], ~0ULL);
}
END_TEST

START_TEST(test_every_bit)
{
	unsigned int type = (unsigned int)_i;

	for (unsigned int wide = 0; wide < 2; wide++)
		for (unsigned int q = 0; q < 4; q++)
			for (unsigned int bit = 0; bit < 64; bit++)
				check_bit_flip(type, wide, q, bit);
}
END_TEST

START_TEST(test_reserved_granularity)
{
	static const struct { unsigned int type, g; } bad[] = {
		{ VTD_DESC_CC, 0 }, { VTD_DESC_IOTLB, 0 }, { VTD_DESC_PIOTLB, 0 },
		{ VTD_DESC_PIOTLB, 1 }, { VTD_DESC_PC, 2 },
	};
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_set(&raw, bad[i].type | bad[i].g << 4, 0, 0, 0);
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_ERR_GRAN);
		ck_assert_int_eq(d.type, bad[i].type);
		ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_ERR_GRAN);
		/* A reserved bit takes precedence over the granularity. */
		raw.qw[0] |= 1ULL << 63;
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_ERR_RESERVED);
	}
	for (unsigned int g = 0; g < 4; g++) {
		raw_set(&raw, VTD_DESC_PC | g << 4, 0, 0, 0);
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d),
				 g == 2 ? VTD_DESC_ERR_GRAN : VTD_DESC_OK);
	}
}
END_TEST

START_TEST(test_unknown_types)
{
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	for (unsigned int t = 0; t < 128; t++) {
		bool known = t >= 1 && t <= 9;
		uint64_t qw0 = (t & 0xf) | (uint64_t)(t >> 4) << 9;

		raw_set(&raw, qw0, 0, 0, 0);
		ck_assert_uint_eq(vtd_desc_raw_type(qw0), t);
		if (known)
			continue;
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_ERR_TYPE);
		ck_assert_uint_eq(d.type, t);
		/* Type errors win over reserved bits. */
		raw.qw[1] = ~0ULL;
		ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_ERR_TYPE);
		ck_assert_uint_eq(d.type, t);
		ck_assert_str_eq(vtd_desc_type_name(t), "unknown");
	}
}
END_TEST

START_TEST(test_wide_qw2_qw3)
{
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	for (unsigned int type = 1; type <= 8; type++) {
		base_desc(type, &raw);
		raw.qw[2] = 1;
		ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_ERR_RESERVED);
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
		raw.qw[2] = 0;
		raw.qw[3] = 0x8000000000000000ULL;
		ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_ERR_RESERVED);
		ck_assert_int_eq(vtd_desc_decode(&raw, false, &d), VTD_DESC_OK);
	}
}
END_TEST

/* --- device-TLB ranges --------------------------------------------------- */

START_TEST(test_devtlb_range_round_trip)
{
	static const uint64_t bases[] = {
		0, 0x8000000000000000ULL, 0xfffffffffffff000ULL, 0x5555555555555000ULL,
		0xaaaaaaaaaaaaa000ULL, 0x40000000ULL,
	};

	for (unsigned int order = 0; order <= VTD_MAX_AM; order++)
		for (unsigned int i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
			uint64_t span_mask = order >= 52 ? ~0ULL : (VTD_PAGE_SIZE << order) - 1;
			uint64_t base = bases[i] & ~span_mask, got_base, addr;
			unsigned int got_order;
			bool size;

			addr = vtd_devtlb_encode_addr(base, order, &size);
			ck_assert(size == (order != 0));
			ck_assert_uint_eq(addr & ~VTD_PAGE_MASK, 0);
			vtd_devtlb_range(addr, size, &got_base, &got_order);
			ck_assert_uint_eq(got_order, order);
			ck_assert_uint_eq(got_base, base);
		}
}
END_TEST

START_TEST(test_devtlb_range_vectors)
{
	uint64_t base;
	unsigned int order;
	bool size;

	vtd_devtlb_range(0x12345fffULL, false, &base, &order);
	ck_assert_uint_eq(base, 0x12345000ULL);
	ck_assert_uint_eq(order, 0);

	/* Bits 12-14 set, bit 15 clear: 16 pages at 64K alignment. */
	vtd_devtlb_range(0x17000, true, &base, &order);
	ck_assert_uint_eq(order, 4);
	ck_assert_uint_eq(base, 0x10000);

	/* S=1 with bit 12 clear: 2 pages. */
	vtd_devtlb_range(0x2000, true, &base, &order);
	ck_assert_uint_eq(order, 1);
	ck_assert_uint_eq(base, 0x2000);

	vtd_devtlb_range(0x7ffffffffffff000ULL, true, &base, &order);
	ck_assert_uint_eq(order, VTD_MAX_AM);
	ck_assert_uint_eq(base, 0);
	vtd_devtlb_range(~0ULL, true, &base, &order);
	ck_assert_uint_eq(order, VTD_MAX_AM);
	ck_assert_uint_eq(base, 0);
	/* Bits 12-61 set, 62 clear: half the address space, upper half. */
	vtd_devtlb_range(0xbffffffffffff000ULL, true, &base, &order);
	ck_assert_uint_eq(order, 51);
	ck_assert_uint_eq(base, 0x8000000000000000ULL);

	/* Linux qi_desc_dev_iotlb for 8 pages at 0x40000: addr | 0x3000, S. */
	ck_assert_uint_eq(vtd_devtlb_encode_addr(0x40000, 3, &size), 0x43000);
	ck_assert(size);
	ck_assert_uint_eq(vtd_devtlb_encode_addr(0x5000, 0, &size), 0x5000);
	ck_assert(!size);
	ck_assert_uint_eq(vtd_devtlb_encode_addr(0x1000, 60, &size), 0x7ffffffffffff000ULL);
	ck_assert(size);
}
END_TEST

/* --- encoding masks, names, formatting ---------------------------------- */

START_TEST(test_encode_masks_fields)
{
	struct vtd_desc d, out;
	struct vtd_raw_desc raw;

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_PDEVTLB;
	d.pdevtlb.qdep = 0xff;
	d.pdevtlb.pasid = 0xffffffffU;
	d.pdevtlb.addr = 0xffffffffffffffffULL;
	vtd_desc_encode(&d, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.pdevtlb.qdep, 0x1f);
	ck_assert_uint_eq(out.pdevtlb.pasid, 0xfffff);
	ck_assert_uint_eq(out.pdevtlb.addr, 0xfffffffffffff000ULL);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_PIOTLB;
	d.piotlb = (struct vtd_desc_piotlb){ .gran = VTD_PIOTLB_PAGE, .am = 0xff,
					     .pasid = 0x123456, .addr = 0x1fff };
	vtd_desc_encode(&d, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.piotlb.am, 0x3f);
	ck_assert_uint_eq(out.piotlb.pasid, 0x23456);
	ck_assert_uint_eq(out.piotlb.addr, 0x1000);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_CC;
	d.cc = (struct vtd_desc_cc){ .gran = (enum vtd_cc_gran)7, .fm = 0xff };
	vtd_desc_encode(&d, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.cc.gran, 3);
	ck_assert_uint_eq(out.cc.fm, 3);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_IEC;
	d.iec.im = 0xff;
	vtd_desc_encode(&d, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.iec.im, 0x1f);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_WAIT;
	d.wait.status_addr = 0x1003;
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[1], 0x1000);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_PGRP_RESP;
	d.pgrp.rcode = 0xff;
	d.pgrp.prgi = 0xffff;
	vtd_desc_encode(&d, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &out), VTD_DESC_OK);
	ck_assert_uint_eq(out.pgrp.rcode, 0xf);
	ck_assert_uint_eq(out.pgrp.prgi, 0x1ff);

	/* An unknown type encodes to something that decodes as unknown. */
	memset(&d, 0, sizeof(d));
	d.type = (enum vtd_desc_type)0x15;
	vtd_desc_encode(&d, &raw);
	ck_assert_uint_eq(raw.qw[0], 0x205);
	ck_assert_int_eq(vtd_desc_decode(&raw, false, &out), VTD_DESC_ERR_TYPE);
}
END_TEST

START_TEST(test_names)
{
	static const char *const names[] = {
		"unknown", "cc_inv", "iotlb_inv", "dev_tlb_inv", "iec_inv", "inv_wait",
		"p_iotlb_inv", "pc_inv", "p_dev_tlb_inv", "page_grp_resp", "unknown",
	};

	for (unsigned int t = 0; t < sizeof(names) / sizeof(names[0]); t++)
		ck_assert_str_eq(vtd_desc_type_name(t), names[t]);
	ck_assert_str_eq(vtd_desc_type_name(0x15), "unknown");
	ck_assert_str_eq(vtd_desc_type_name(~0U), "unknown");

	ck_assert_str_eq(vtd_desc_strerror(VTD_DESC_OK), "ok");
	ck_assert_str_ne(vtd_desc_strerror(VTD_DESC_ERR_TYPE),
			 vtd_desc_strerror(VTD_DESC_ERR_RESERVED));
	ck_assert_str_ne(vtd_desc_strerror(VTD_DESC_ERR_RESERVED),
			 vtd_desc_strerror(VTD_DESC_ERR_GRAN));
	ck_assert_ptr_nonnull(vtd_desc_strerror((enum vtd_desc_error)99));
}
END_TEST

START_TEST(test_format)
{
	struct vtd_desc d;
	char buf[256], small[8];
	int n;

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_PIOTLB;
	d.piotlb = (struct vtd_desc_piotlb){ .gran = VTD_PIOTLB_PAGE, .did = 1, .pasid = 5,
					     .addr = 0x1000, .am = 2 };
	n = vtd_desc_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "p_iotlb_inv did 1 pasid 5 gran page addr 0x1000 am 2 ih 0");
	ck_assert_int_eq(n, (int)strlen(buf));

	/* Truncation: NUL-terminated, full length reported. */
	ck_assert_int_eq(vtd_desc_format(&d, small, sizeof(small)), n);
	ck_assert_str_eq(small, "p_iotlb");
	ck_assert_int_eq(vtd_desc_format(&d, NULL, 0), n);

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_IOTLB;
	d.iotlb = (struct vtd_desc_iotlb){ .gran = VTD_IOTLB_DOMAIN, .did = 7 };
	vtd_desc_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "iotlb_inv did 7 gran domain addr 0x0 am 0 ih 0 dr 0 dw 0");

	for (unsigned int t = 1; t <= VTD_DESC_TYPE_MAX; t++) {
		struct vtd_raw_desc raw;

		base_desc(t, &raw);
		ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_OK);
		n = vtd_desc_format(&d, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		ck_assert_int_lt(n, (int)sizeof(buf));
		ck_assert(strncmp(buf, vtd_desc_type_name(t), strlen(vtd_desc_type_name(t))) == 0);
	}
	d.type = (enum vtd_desc_type)0x7f;
	vtd_desc_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unknown type 127");
}
END_TEST

/* --- randomized ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random raw descriptor of @type with no reserved bit and a valid granularity. */
static void random_valid_raw(unsigned int type, bool wide, struct vtd_raw_desc *raw)
{
	const struct layout *l = &layouts[type];

	raw->qw[0] = (rng() & l->field[0]) | type;
	raw->qw[1] = rng() & l->field[1];
	raw->qw[2] = wide && type == VTD_DESC_PGRP_RESP ? rng() : 0;
	raw->qw[3] = wide && type == VTD_DESC_PGRP_RESP ? rng() : 0;
	while (!gran_valid(type, (unsigned int)VTD_FIELD(raw->qw[0], 5, 4)))
		raw->qw[0] ^= (rng() & 3) << 4;
}

START_TEST(test_random_raw_round_trip)
{
	rng_state = 0x1234567890abcdefULL;
	for (unsigned int i = 0; i < 200000; i++) {
		unsigned int type = 1 + rng() % VTD_DESC_TYPE_MAX;
		bool wide = rng() & 1;
		struct vtd_raw_desc raw, again;
		struct vtd_desc d, d2;

		random_valid_raw(type, wide, &raw);
		ck_assert_int_eq(vtd_desc_decode(&raw, wide, &d), VTD_DESC_OK);
		vtd_desc_encode(&d, &again);
		ck_assert_msg(memcmp(&raw, &again, sizeof(raw)) == 0,
			      "type %u qw0 0x%" PRIx64 " qw1 0x%" PRIx64,
			      type, raw.qw[0], raw.qw[1]);
		ck_assert_int_eq(vtd_desc_decode(&again, wide, &d2), VTD_DESC_OK);
		ck_assert(vtd_desc_equal(&d, &d2));
	}
}
END_TEST

/* Random garbage never crashes and always agrees with the layout tables. */
START_TEST(test_random_garbage)
{
	rng_state = 0xfeedfacecafebeefULL;
	for (unsigned int i = 0; i < 200000; i++) {
		struct vtd_raw_desc raw = { { rng(), rng(), rng(), rng() } };
		unsigned int type = 1 + rng() % VTD_DESC_TYPE_MAX;
		bool wide = rng() & 1;
		enum vtd_desc_error err, want;
		struct vtd_desc d;

		/* Keep the type valid half of the time, and the garbage sparse. */
		if (i & 1) {
			raw.qw[0] = (raw.qw[0] & ~TYPE_BITS) | type;
			for (unsigned int q = 0; q < 4; q++)
				raw.qw[q] &= rng() & rng() & rng();
		}
		type = vtd_desc_raw_type(raw.qw[0]);
		err = vtd_desc_decode(&raw, wide, &d);
		ck_assert_uint_eq(d.type, type);
		if (type < 1 || type > VTD_DESC_TYPE_MAX)
			want = VTD_DESC_ERR_TYPE;
		else if ((raw.qw[0] & layouts[type].rsvd[0]) ||
			 (raw.qw[1] & layouts[type].rsvd[1]) ||
			 (wide && type != VTD_DESC_PGRP_RESP && (raw.qw[2] | raw.qw[3])))
			want = VTD_DESC_ERR_RESERVED;
		else if (!gran_valid(type, (unsigned int)VTD_FIELD(raw.qw[0], 5, 4)) &&
			 layouts[type].gran)
			want = VTD_DESC_ERR_GRAN;
		else
			want = VTD_DESC_OK;
		ck_assert_int_eq(err, want);
	}
}
END_TEST

static Suite *desc_suite(void)
{
	Suite *s = suite_create("desc");
	TCase *tc;

	tc = tcase_create("vectors");
	tcase_add_test(tc, test_vector_iotlb_psi);
	tcase_add_test(tc, test_vector_wait);
	tcase_add_test(tc, test_vector_devtlb_full);
	tcase_add_test(tc, test_vector_pfsid_split);
	tcase_add_test(tc, test_vector_misc);
	tcase_add_test(tc, test_raw_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_add_test(tc, test_round_trip_cc);
	tcase_add_test(tc, test_round_trip_iotlb);
	tcase_add_test(tc, test_round_trip_devtlb);
	tcase_add_test(tc, test_round_trip_iec);
	tcase_add_test(tc, test_round_trip_wait);
	tcase_add_test(tc, test_round_trip_piotlb);
	tcase_add_test(tc, test_round_trip_pc);
	tcase_add_test(tc, test_round_trip_pdevtlb);
	tcase_add_test(tc, test_round_trip_pgrp);
	tcase_add_test(tc, test_encode_masks_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("validation");
	tcase_add_loop_test(tc, test_layout_tables_cover_all_bits, 1, VTD_DESC_TYPE_MAX + 1);
	tcase_add_loop_test(tc, test_every_bit, 1, VTD_DESC_TYPE_MAX + 1);
	tcase_add_test(tc, test_reserved_granularity);
	tcase_add_test(tc, test_unknown_types);
	tcase_add_test(tc, test_wide_qw2_qw3);
	suite_add_tcase(s, tc);

	tc = tcase_create("devtlb_range");
	tcase_add_test(tc, test_devtlb_range_round_trip);
	tcase_add_test(tc, test_devtlb_range_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_random_raw_round_trip);
	tcase_add_test(tc, test_random_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(desc_suite());
}
