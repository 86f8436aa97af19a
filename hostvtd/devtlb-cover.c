// SPDX-License-Identifier: MIT
/* Device-TLB coverage of a nested HWPT's invalidations (devtlb-cover.h). */
#include <string.h>

#include "hostvtd/devtlb-cover.h"

void devtlb_cover_reset(struct devtlb_cover *c)
{
	memset(c, 0, sizeof(*c));
}

void devtlb_cover_add(struct devtlb_cover *c, uint64_t first, uint64_t last)
{
	if (first == 0 && last == UINT64_MAX) {
		c->all = true;
		return;
	}
	if (devtlb_cover_covers(c, first, last))
		return;
	/* Oldest out first: recent ranges are the ones a guest asks about next. */
	c->first[c->next] = first;
	c->last[c->next] = last;
	c->next = (c->next + 1) % DEVTLB_COVER_RANGES;
	if (c->n < DEVTLB_COVER_RANGES)
		c->n++;
}

bool devtlb_cover_covers(const struct devtlb_cover *c, uint64_t first, uint64_t last)
{
	if (c->all)
		return true;
	for (unsigned int i = 0; i < c->n; i++)
		if (c->first[i] <= first && last <= c->last[i])
			return true;
	return false;
}
