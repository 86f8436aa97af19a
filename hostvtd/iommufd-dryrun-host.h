/* SPDX-License-Identifier: MIT */
/*
 * `tagvmm replay --backend iommufd-dry-run`: the host units become iommufd
 * units of the nesting back end (hostvtd/iommufd.h) over a dry-run
 * /dev/iommu (hostvtd/iommufd-dryrun.h), so the replay shows the iommufd
 * calls the stream would cost a real host. docs/replay.md has the model.
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
#ifndef TAGVMM_REPLAY_REPLAY_IOMMUFD_H
#define TAGVMM_REPLAY_REPLAY_IOMMUFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostvtd/host.h"
#include "replay/topology.h"

struct replay_iommufd;

/*
 * @nunits host units named dmar0.. with the simulated host's registers,
 * one iommufd opened through the back end, one IOAS. @log, if not NULL,
 * gets every ioctl. NULL with a message in @err on failure.
 */
struct replay_iommufd *replay_iommufd_new(unsigned int nunits, bool qemu_model, FILE *log,
					  char *err, size_t errlen);
/* Unbinds what is still bound, closes the iommufd, frees the units. */
void replay_iommufd_free(struct replay_iommufd *ri);
struct host_unit *replay_iommufd_unit(struct replay_iommufd *ri, unsigned int i);

/*
 * QEMU's model (its nesting loop; multi-PASID as in its development trees,
 * upstream forwards PASID 0 only): a host DID of its own for every nested
 * assignment of @topo.
 */
int replay_iommufd_remap(struct topology *topo, char *err, size_t errlen);

/*
 * After topology_apply() attached @a: make its unit an iommufd unit (through
 * its device, bound on first use) and, when nested, bind its stage 1.
 * Returns 0, or -1 with the back end's message in @err.
 */
int replay_iommufd_attach(struct replay_iommufd *ri, const struct topology *topo,
			  const struct assignment *a, char *err, size_t errlen);

/* Call after each guest batch went through the flush engine: per-batch counts. */
void replay_iommufd_end_batch(struct replay_iommufd *ri);

/* The summary's iommufd part: a JSON member (",\"iommufd\":{...}") or text lines. */
void replay_iommufd_print(struct replay_iommufd *ri, FILE *out, bool json);

/*
 * Undo every bind as a VMM does at exit (the last user of a nested HWPT
 * destroys it). Returns 0, or -1 with a message in @err when the dry run
 * refused a teardown call.
 */
int replay_iommufd_teardown(struct replay_iommufd *ri, char *err, size_t errlen);

#endif
