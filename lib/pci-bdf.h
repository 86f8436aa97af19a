/* SPDX-License-Identifier: MIT */
/*
 * PCI addresses: a BDF (bus << 8 | device << 3 | function, also a VT-d
 * requester ID) written and read the way Linux spells them. The one
 * place they are formatted and parsed.
 */
#ifndef TAGVMM_LIB_PCI_BDF_H
#define TAGVMM_LIB_PCI_BDF_H

#include <stddef.h>
#include <stdint.h>

#define PCI_BDF_LEN	8	/* "bb:dd.f" and its NUL */
#define PCI_SBDF_LEN	13	/* "dddd:bb:dd.f" and its NUL */

/* "bb:dd.f". Returns @buf. */
const char *pci_bdf_format(uint16_t bdf, char buf[PCI_BDF_LEN]);
/* "dddd:bb:dd.f" with @domain. Returns @buf. */
const char *pci_sbdf_format(uint16_t domain, uint16_t bdf, char buf[PCI_SBDF_LEN]);

/*
 * Parse "bb:dd.f" or "dddd:bb:dd.f" (hex digits only, upper or lower
 * case; at most 4, 2, 2 and 1 of them; bus <= ff, device <= 1f,
 * function <= 7, nothing after). @domain gets the domain, 0 when none is
 * written. Returns 0, or -1 with the outputs untouched.
 */
int pci_bdf_parse(const char *s, uint16_t *domain, uint16_t *bdf);

#endif
