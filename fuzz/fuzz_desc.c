// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the descriptor codec. Input: one flag byte (bit 0:
 * 256-bit form) and up to 32 bytes of descriptor, little-endian qwords.
 *
 * Whatever decodes must re-encode to the identical raw descriptor (a valid
 * descriptor has no reserved bit set, so nothing may be lost), and decoding
 * that again must give the same fields.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtd/desc.h"
#include "vtd/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_raw(const uint8_t *bytes, size_t n, struct vtd_raw_desc *raw)
{
	uint8_t buf[sizeof(raw->qw)] = { 0 };

	memcpy(buf, bytes, n < sizeof(buf) ? n : sizeof(buf));
	for (unsigned int q = 0; q < 4; q++) {
		raw->qw[q] = 0;
		for (unsigned int b = 0; b < 8; b++)
			raw->qw[q] |= (uint64_t)buf[q * 8 + b] << (8 * b);
	}
}

/* The range helpers must invert each other on whatever address we got. */
static void check_devtlb_range(uint64_t addr, bool size)
{
	uint64_t base, base2, again;
	unsigned int order, order2;
	bool size2;

	vtd_devtlb_range(addr, size, &base, &order);
	if (order > VTD_MAX_AM)
		abort();
	again = vtd_devtlb_encode_addr(base, order, &size2);
	vtd_devtlb_range(again, size2, &base2, &order2);
	if (base2 != base || order2 != order)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vtd_raw_desc raw, again;
	struct vtd_desc d, d2;
	enum vtd_desc_error err;
	unsigned int nqw;
	bool wide;
	char text[64];

	if (size < 1)
		return 0;
	wide = data[0] & 1;
	load_raw(data + 1, size - 1, &raw);

	err = vtd_desc_decode(&raw, wide, &d);
	if (d.type != vtd_desc_raw_type(raw.qw[0]))
		abort();
	vtd_desc_format(&d, text, sizeof(text));
	if (strlen(vtd_desc_strerror(err)) == 0)
		abort();
	if (err != VTD_DESC_OK)
		return 0;

	vtd_desc_encode(&d, &again);
	nqw = wide ? 4 : 2;
	if (memcmp(raw.qw, again.qw, nqw * sizeof(raw.qw[0])) != 0)
		abort();
	if (vtd_desc_decode(&again, wide, &d2) != VTD_DESC_OK || !vtd_desc_equal(&d, &d2))
		abort();

	if (d.type == VTD_DESC_DEVTLB)
		check_devtlb_range(d.devtlb.addr, d.devtlb.size);
	else if (d.type == VTD_DESC_PDEVTLB)
		check_devtlb_range(d.pdevtlb.addr, d.pdevtlb.size);
	return 0;
}
