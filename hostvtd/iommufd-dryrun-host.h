/* SPDX-License-Identifier: MIT */
/*
 * The `iommufd-dry-run` back end (flushpath.h): host units of the iommufd
 * nesting back end (hostvtd/iommufd.h) over a dry-run /dev/iommu
 * (hostvtd/iommufd-dryrun.h), so `tagvmm replay --backend iommufd-dry-run`
 * shows the iommufd calls a stream would cost a real host. docs/replay.md
 * has the model.
 *
 * Two models:
 *  - shared (merged planning): every nested attachment is bound with
 *    iommufd_bind_s1() under its (unit, host DID, host PASID), one made-up
 *    stage-1 table per guest domain, so devices of a guest domain behind
 *    one unit share a nested HWPT;
 *  - QEMU's (--no-merge): each nested attachment gets a host DID of its
 *    own, hence a nested HWPT of its own, as QEMU allocates one per
 *    (device, PASID) and the kernel gives each its own DID; device-TLB ops
 *    of nested attachments are not sent, as QEMU forwards only PASID-IOTLB
 *    descriptors. They are counted, not hidden.
 */
#ifndef TAGVMM_HOSTVTD_IOMMUFD_DRYRUN_HOST_H
#define TAGVMM_HOSTVTD_IOMMUFD_DRYRUN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostvtd/host.h"
#include "hostvtd/tagstore.h"

struct dryrun_host;

/*
 * @nunits host units named dmar0.. with the simulated host's registers,
 * one iommufd opened through the back end, one IOAS. @log, if not NULL,
 * gets every ioctl. NULL with a message in @err on failure.
 */
struct dryrun_host *dryrun_host_new(unsigned int nunits, bool qemu_model, FILE *log,
					  char *err, size_t errlen);
/* Unbinds what is still bound, closes the iommufd, frees the units. */
void dryrun_host_free(struct dryrun_host *ri);
struct host_unit *dryrun_host_unit(struct dryrun_host *ri, unsigned int i);

/*
 * After the tag store attached @dev (one of our units' devices) to the
 * guest domain @key: make its unit an iommufd unit (through @dev, bound
 * on first use) and, when @nested, bind the domain's stage 1 for
 * (@host_did, @host_pasid). Returns 0, or -1 with the back end's message
 * in @err.
 */
int dryrun_host_attach(struct dryrun_host *dh, const struct host_device *dev,
		       struct guest_domain_key key, bool nested, uint16_t host_did,
		       uint32_t host_pasid, char *err, size_t errlen);

/* Call after each guest batch went through the flush engine: per-batch counts. */
void dryrun_host_end_batch(struct dryrun_host *ri);

/* The summary's iommufd part: a JSON member (",\"iommufd\":{...}") or text lines. */
void dryrun_host_print(struct dryrun_host *ri, FILE *out, bool json);

/*
 * Undo every bind as a VMM does at exit (the last user of a nested HWPT
 * destroys it). Returns 0, or -1 with a message in @err when the dry run
 * refused a teardown call.
 */
int dryrun_host_teardown(struct dryrun_host *ri, char *err, size_t errlen);

#endif
