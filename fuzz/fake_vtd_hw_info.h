/* SPDX-License-Identifier: MIT */
/*
 * The fuzz targets' scripted host VT-d unit, on the unit tests' fake host
 * (tests/unit/fake_vfio_host.h, included first): what IOMMU_GET_HW_INFO
 * answers for the VFIO devices behind a vIOMMU (passthrough.c).
 */
#ifndef TAGVMM_FUZZ_FAKE_VTD_HW_INFO_H
#define TAGVMM_FUZZ_FAKE_VTD_HW_INFO_H

#include "vtd/regs.h"

/*
 * The host's answer to IOMMU_GET_HW_INFO: scalable mode, nesting, 20-bit
 * PASIDs, and @extra (e.g. page requests), less what @lacks names (a host
 * unit without device TLBs, supervisor requests, PASIDs, or nesting,
 * which refuses the device).
 */
static inline void script_hw_info_with(unsigned int lacks, uint64_t extra)
{
	static const uint64_t without[] = {
		0, VTD_ECAP_DT, VTD_ECAP_SRS, VTD_ECAP_PASID | 0x1fULL << VTD_ECAP_PSS_SHIFT,
		VTD_ECAP_NEST,
	};
	fake_script_hw_info(0xd2008c40660462ULL,
			    (VTD_ECAP_QI | VTD_ECAP_DT | VTD_ECAP_PT | VTD_ECAP_NEST |
			     VTD_ECAP_PASID | 19ULL << VTD_ECAP_PSS_SHIFT | VTD_ECAP_SMTS |
			     VTD_ECAP_FLTS | VTD_ECAP_SLTS | VTD_ECAP_SRS | extra) &
			    ~without[lacks % (sizeof(without) / sizeof(without[0]))]);
}

static inline void script_hw_info(unsigned int lacks)
{
	script_hw_info_with(lacks, 0);
}

#endif
