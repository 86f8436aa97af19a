// SPDX-License-Identifier: MIT
#include <stdio.h>

#include "hostvtd/backend.h"
#include "hostvtd/host.h"

void host_device_name(uint16_t sid, char name[HOST_NAME_LEN])
{
	snprintf(name, HOST_NAME_LEN, "0000:%02x:%02x.%x", sid >> 8, (sid >> 3) & 0x1f, sid & 7);
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
