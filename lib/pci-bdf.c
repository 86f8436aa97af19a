// SPDX-License-Identifier: MIT
/* PCI address formatting and parsing (pci-bdf.h). */
#include <stdio.h>

#include "lib/pci-bdf.h"

const char *pci_bdf_format(uint16_t bdf, char buf[PCI_BDF_LEN])
{
	snprintf(buf, PCI_BDF_LEN, "%02x:%02x.%x", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7);
	return buf;
}

const char *pci_sbdf_format(uint16_t domain, uint16_t bdf, char buf[PCI_SBDF_LEN])
{
	snprintf(buf, PCI_SBDF_LEN, "%04x:%02x:%02x.%x", domain, bdf >> 8, (bdf >> 3) & 0x1f,
		 bdf & 7);
	return buf;
}

/* 1 to @max hex digits at *@s, ending at @stop; advances *@s past @stop. */
static int hex_field(const char **s, unsigned int max, char stop, unsigned int *out)
{
	unsigned int v = 0, n = 0;
	const char *p = *s;

	for (; *p && *p != stop; p++, n++) {
		char c = *p;
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return -1;
		if (n == max)
			return -1;
		v = v << 4 | d;
	}
	if (!n || *p != stop)
		return -1;
	*s = stop ? p + 1 : p;
	*out = v;
	return 0;
}

int pci_bdf_parse(const char *s, uint16_t *domain, uint16_t *bdf)
{
	unsigned int dom = 0, bus, dev, fn;
	const char *p = s;
	int colons = 0;

	if (!s)
		return -1;
	for (const char *q = s; *q; q++)
		colons += *q == ':';
	if (colons == 2 && hex_field(&p, 4, ':', &dom))
		return -1;
	if ((colons != 1 && colons != 2) || hex_field(&p, 2, ':', &bus) ||
	    hex_field(&p, 2, '.', &dev) || hex_field(&p, 1, '\0', &fn) || dev > 0x1f || fn > 7)
		return -1;
	*domain = (uint16_t)dom;
	*bdf = (uint16_t)(bus << 8 | dev << 3 | fn);
	return 0;
}
