// SPDX-License-Identifier: MIT
#include <stdio.h>

#include "hostvtd/backend.h"
#include "hostvtd/host.h"
#include "lib/pci-bdf.h"

void host_device_name(uint16_t sid, char name[HOST_NAME_LEN])
{
	char sbdf[PCI_SBDF_LEN];

	snprintf(name, HOST_NAME_LEN, "%s", pci_sbdf_format(0, sid, sbdf));
}

const char *host_error_name(enum host_error_kind kind)
{
	switch (kind) {
	case HOST_ERR_NONE: return "none";
	case HOST_ERR_IQE: return "IQE";
	case HOST_ERR_ITE: return "ITE";
	case HOST_ERR_ICE: return "ICE";
	case HOST_ERR_IO: return "IO";
	}
	return "unknown";
}
