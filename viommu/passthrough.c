// SPDX-License-Identifier: MIT
/*
 * VFIO devices behind the vIOMMU (`--vfio BDF --viommu`): the guest's
 * first-stage tables become nested HWPTs on the host, through the iommufd
 * back end (hostvtd/iommufd.c), and the guest's invalidations of them go
 * through the same tag store and planner as every other device's.
 *
 * Each host unit behind an assigned device gets one nest parent: a
 * kernel-managed stage 2 over vfio.c's IOAS, which maps all guest RAM at
 * its guest-physical address. Where the device's requests go on the host
 * follows what the guest's tables say about them:
 *
 *   guest says                       host attaches the RID / PASID to
 *   translation off, pass-through    the nest parent (IOVA = GPA)
 *   first stage (PGTT=FL)            the nested HWPT of its (DID, PASID,
 *                                    table, flags), shared by devices
 *                                    with the same key
 *   anything else (not present,      nothing: detached, no DMA at all
 *   faulting, second stage)
 *
 * Second stage for a VFIO device would need the VMM to shadow the guest's
 * tables into the IOAS; that is not done, so a unit with VFIO devices does
 * not advertise SLTS or NEST, and legacy-mode tables (always second stage)
 * leave the device blocked with a message. The vIOMMU also advertises only
 * what the host units report (IOMMU_GET_HW_INFO): device TLBs, PASIDs and
 * their width.
 *
 * When the host refuses a move, the device is detached rather than left
 * on a translation the guest revoked, and a HWPT is released only once
 * nothing sits on it. A device whose detach fails too makes the resync
 * fail, so the guest's wait is not completed (ICE).
 *
 * A host unit with PRS gets a fault queue, and the vIOMMU then offers page
 * requests: the nested HWPT of a context with PRE reports the device's
 * page faults, which pt-fault.c forwards to the guest and back.
 *
 * PASIDs other than 0 need IOMMU_HWPT_ALLOC_PASID HWPTs and VFIO's PASID
 * attach (Linux 6.15); with an older host kernel the vIOMMU offers none.
 * An IOMMU group is attached as a whole by the host, so devices sharing
 * one are refused with --viommu.
 *
 * Everything here runs under the vIOMMU unit's lock (tables.c calls in),
 * so host attachments of one device never race.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/iommufd-compat.h"
#include "lib/pci-bdf.h"
#include "hostvtd/iommufd.h"
#include "viommu/passthrough.h"
#include "viommu/viommu.h"
#include "viommu/pt-priv.h"
#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"
#include "vtd/regs.h"

/* "dddd:bb:dd.f" as a requester ID (segment dropped: VT-d SIDs are per segment). */
static uint16_t host_sid(const char *bdf)
{
	uint16_t domain, sid;

	return pci_bdf_parse(bdf, &domain, &sid) ? 0 : sid;
}

static struct host_unit *unit_named(struct viommu_pt_host *p, const char *name, bool *created)
{
	struct host_unit *hu;

	*created = false;
	for (unsigned int i = 0; i < p->nunits; i++)
		if (!strcmp(p->units[i].name, name))
			return &p->units[i];
	hu = &p->units[p->nunits];
	memset(hu, 0, sizeof(*hu));
	/* Indexes after the simulated units': the planner keys ops by unit index. */
	hu->index = HOST_UNIT_INDEX_EXTRA + p->nunits++;
	snprintf(hu->name, sizeof(hu->name), "%s", name);
	*created = true;
	return hu;
}

/*
 * What the vIOMMU may promise with this host unit behind it: first stage
 * only (no SLTS, no NEST: see the top of the file), and device TLBs,
 * PASIDs, 1 GiB first-stage pages and coherent walks only as far as the
 * host has them: the host's hardware walks the guest's first stage.
 */
static void limit_unit(struct viommu *u, uint64_t host_cap, uint64_t host_ecap,
		       bool host_pasid_attach, bool host_faults)
{
	u->ecap &= ~(VTD_ECAP_SLTS | VTD_ECAP_NEST);
	/* Page requests of a VFIO device arrive through the host unit's fault queue (pt-fault.c). */
	if (!host_faults)
		u->ecap &= ~(VTD_ECAP_PRS | VTD_ECAP_PDS);
	if (!(host_cap & VTD_CAP_FS1GP))
		u->cap &= ~VTD_CAP_FS1GP;
	if (!(host_ecap & VTD_ECAP_SMPWCS))
		u->ecap &= ~VTD_ECAP_SMPWCS;
	if (!(host_ecap & VTD_ECAP_DT))
		u->ecap &= ~VTD_ECAP_DT;
	/* SRE and WPE go to the host as IOMMU_VTD_S1_SRE/WPE: the host must support them. */
	if (!(host_ecap & VTD_ECAP_SRS))
		u->ecap &= ~VTD_ECAP_SRS;
	if (!(host_ecap & VTD_ECAP_PASID) || !host_pasid_attach) {
		u->ecap &= ~(VTD_ECAP_PASID | ((uint64_t)0x1f << VTD_ECAP_PSS_SHIFT));
	} else if (VTD_ECAP_PSS(host_ecap) < VTD_ECAP_PSS(u->ecap)) {
		u->ecap &= ~((uint64_t)0x1f << VTD_ECAP_PSS_SHIFT);
		u->ecap |= (uint64_t)VTD_ECAP_PSS(host_ecap) << VTD_ECAP_PSS_SHIFT;
	}
}

/* The host unit must be able to nest a guest first stage at all. */
static int check_host_unit(const struct host_unit *hu, const char *bdf, char *err, size_t errlen)
{
	static const struct {
		uint64_t bit;
		const char *what;
	} need[] = {
		{ VTD_ECAP_SMTS, "scalable mode (ECAP.SMTS)" },
		{ VTD_ECAP_FLTS, "first-stage translation (ECAP.FLTS)" },
		{ VTD_ECAP_NEST, "nested translation (ECAP.NEST)" },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(hu->ecap & need[i].bit)) {
			snprintf(err, errlen, "--vfio %s with --viommu: host unit %s lacks %s, which "
				 "nesting the guest's tables needs", bdf, hu->name, need[i].what);
			return -1;
		}
	return 0;
}

/*
 * The unit's nest parent, flagged for PASID attach where the host has
 * PASIDs. A kernel before PASID attach refuses the flag: then the unit
 * goes without, and the vIOMMU offers no PASIDs (limit_unit()).
 */
static int add_unit(struct viommu_pt_host *p, struct host_unit *hu, const struct vfio_device *d,
		    char *err, size_t errlen)
{
	if ((hu->ecap & VTD_ECAP_PASID) &&
	    iommufd_host_add_unit_flags(p->h, hu, d->dev_id, p->ioas_id, IOMMU_HWPT_ALLOC_PASID) == 0)
		return 0;
	if ((hu->ecap & VTD_ECAP_PASID) && errno != EINVAL && errno != EOPNOTSUPP) {
		snprintf(err, errlen, "--vfio %s with --viommu: %s", d->bdf, iommufd_host_error(p->h));
		return -1;
	}
	if (iommufd_host_add_unit(p->h, hu, d->dev_id, p->ioas_id)) {
		snprintf(err, errlen, "--vfio %s with --viommu: %s", d->bdf, iommufd_host_error(p->h));
		return -1;
	}
	if (hu->ecap & VTD_ECAP_PASID)
		fprintf(stderr, "tagvmm: viommu: %s: the host kernel cannot attach PASIDs "
			"(IOMMU_HWPT_ALLOC_PASID needs Linux 6.15): the vIOMMU offers none\n",
			hu->name);
	return 0;
}

static int add_device(struct viommu_pt_host *p, struct vfio_state *vs, size_t index,
		      struct viommu *u, struct viommu_dev *dev, char *err, size_t errlen)
{
	const struct vfio_device *d = &vs->devs[index];
	struct viommu_pt *pt = &p->devs[p->ndevs];
	struct host_unit *hu;
	uint64_t cap, ecap;
	bool created;

	if (iommufd_host_get_hw_info(p->h, d->dev_id, &cap, &ecap)) {
		snprintf(err, errlen, "--vfio %s with --viommu: %s", d->bdf, iommufd_host_error(p->h));
		return -1;
	}
	hu = unit_named(p, d->iommu_unit, &created);
	if (created) {
		hu->cap = cap;
		hu->ecap = ecap;
		if (check_host_unit(hu, d->bdf, err, errlen)) {
			p->nunits--;
			return -1;
		}
		if (add_unit(p, hu, d, err, errlen)) {
			p->nunits--;
			return -1;
		}
		viommu_pt_faults_unit(p, hu);
	}
	pt->host = p;
	pt->dev = dev;
	pt->vfio_index = index;
	pt->dev_id = d->dev_id;
	pt->rid_pt = iommufd_host_parent_hwpt(p->h, hu);
	/* Translation is off until the guest turns it on: IOVA = GPA, as on the IOAS. */
	if (vfio_device_attach(p->vm, index, pt->rid_pt, err, errlen))
		return -1;
	p->ndevs++;

	memset(dev, 0, sizeof(*dev));
	dev->unit = u;
	dev->guest_sid = d->guest_bdf;
	dev->host.sid = host_sid(d->bdf);
	snprintf(dev->host.name, sizeof(dev->host.name), "%s", d->bdf);
	/* vfio-pci.c shows ATS only when the device has it. */
	dev->host.ats = d->pci && pci_find_ext_cap(vfio_pci_device(d->pci), PCI_EXT_CAP_ID_ATS) &&
			(ecap & VTD_ECAP_DT);
	dev->host.unit = hu;
	dev->pt = pt;
	viommu_pt_faults_device(pt);
	limit_unit(u, cap, ecap, iommufd_host_unit_flags(p->h, hu) & IOMMU_HWPT_ALLOC_PASID,
		   iommufd_host_has_faults(p->h, hu));
	return 0;
}

int viommu_pt_setup(struct vm *vm, struct viommu *units, unsigned int nunits,
		    const unsigned int *placement, struct viommu_dev *slots, size_t nslots,
		    size_t *used, struct viommu_pt_host **out, char *err, size_t errlen)
{
	struct vfio_state *vs = vfio_state_of(vm);
	size_t behind[VIOMMU_MAX_UNITS] = { 0 };
	struct viommu_pt_host *p;

	*out = NULL;
	*used = 0;
	if (!vs || vs->ndevs == 0)
		return 0;
	if (vs->ndevs > nslots) {
		snprintf(err, errlen, "at most %zu --vfio devices behind vIOMMUs", nslots);
		return -1;
	}
	for (size_t i = 0; i < vs->ndevs; i++) {
		unsigned int k = placement ? placement[i] : 0;

		if (k >= nunits || k >= VIOMMU_MAX_UNITS) {
			snprintf(err, errlen, "--vfio %s: placed behind vIOMMU %u of %u",
				 vs->devs[i].bdf, k, nunits);
			return -1;
		}
		behind[k]++;
	}
	for (unsigned int k = 0; k < VIOMMU_MAX_UNITS; k++)
		if (behind[k] && units[k].ndevs + behind[k] > VIOMMU_MAX_UNIT_DEVS) {
			snprintf(err, errlen, "too many devices behind vIOMMU %u", k);
			return -1;
		}
	/*
	 * iommufd attaches a whole IOMMU group at once: two devices of one
	 * group cannot follow two guest contexts. Until groups are modelled
	 * as one device, refuse them here.
	 */
	for (size_t i = 0; i < vs->ndevs; i++)
		for (size_t j = i + 1; j < vs->ndevs; j++)
			if (vs->devs[i].group == vs->devs[j].group) {
				snprintf(err, errlen, "--vfio %s and %s with --viommu: they share IOMMU "
					 "group %lu, and the host attaches a group as a whole, so "
					 "they cannot follow separate guest contexts; assign one "
					 "device per group", vs->devs[i].bdf, vs->devs[j].bdf,
					 vs->devs[i].group);
				return -1;
			}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->h = iommufd_host_wrap(vs->ops, vs->iommufd))) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->vm = vm;
	p->ioas_id = vs->ioas_id;
	*out = p;
	for (size_t i = 0; i < vs->ndevs; i++) {
		struct viommu *u = &units[placement ? placement[i] : 0];
		struct viommu_dev *dev = &slots[i];

		if (add_device(p, vs, i, u, dev, err, errlen))
			return -1;	/* the caller's teardown undoes what was done */
		u->devs[u->ndevs++] = dev;
		(*used)++;
		for (size_t k = 0; k < vm->machine.npci; k++)
			if (vm->machine.pci[k].bdf == dev->guest_sid)
				vm->machine.pci[k].iommu = u->index;
	}
	return 0;
}

static void pt_error(const struct viommu *u, const struct viommu_dev *dev, const char *what,
		     const char *why)
{
	char b[PCI_BDF_LEN];

	fprintf(stderr, "tagvmm: viommu%u: %s (guest %s): %s: %s\n", u->index, dev->host.name,
		pci_bdf_format(dev->guest_sid, b), what, why);
}

int viommu_pt_bind(struct viommu *u, struct viommu_dev *dev, struct viommu_attach *a)
{
	struct viommu_pt *pt = dev->pt;
	uint32_t flags = (a->sre ? IOMMU_VTD_S1_SRE : 0) | (a->wpe ? IOMMU_VTD_S1_WPE : 0);
	uint32_t aw = a->fl_levels == 5 ? 57 : 48;
	/* The guest lets the device ask for pages (PRE): its host faults come to us. */
	bool iopf = viommu_pt_faults_wanted(u, dev);
	char what[64];

	if (iommufd_bind_s1_iopf(pt->host->h, dev->host.unit, pt->dev_id, a->host_did, a->pasid,
				 a->flptr, aw, flags, iopf, &a->hwpt) == 0) {
		if (iopf)
			viommu_pt_faults_start(pt->host);
		return 0;
	}
	a->hwpt = 0;
	snprintf(what, sizeof(what), "PASID %u stays blocked", a->pasid);
	pt_error(u, dev, what, iommufd_host_error(pt->host->h));
	return -1;
}

/* Does the device sit on @hwpt, through its RID or a PASID? */
static bool placed_on(const struct viommu_pt *pt, uint32_t hwpt)
{
	if (pt->rid_pt == hwpt)
		return true;
	for (size_t k = 0; k < pt->npasid_pt; k++)
		if (pt->pasid_pt[k].pt == hwpt)
			return true;
	return false;
}

/*
 * Release the binds whose HWPTs the device no longer sits on. A HWPT it
 * still sits on (a move that failed) stays bound, so it is never destroyed
 * under the device, and is retried after the next placement.
 */
static void release_pending(struct viommu *u, struct viommu_dev *dev)
{
	struct viommu_pt *pt = dev->pt;

	for (size_t k = 0; k < pt->npending;) {
		if (placed_on(pt, pt->pending[k])) {
			k++;
			continue;
		}
		if (iommufd_unbind_hwpt(pt->host->h, pt->dev_id, pt->pending[k]))
			pt_error(u, dev, "releasing a stage-1 HWPT", iommufd_host_error(pt->host->h));
		pt->pending[k] = pt->pending[--pt->npending];
	}
}

void viommu_pt_unbind(struct viommu *u, struct viommu_dev *dev, const struct viommu_attach *a)
{
	struct viommu_pt *pt = dev->pt;

	if (pt->npending == PT_MAX_PENDING) {
		pt_error(u, dev, "releasing a stage-1 HWPT", "too many pending; it stays allocated");
		return;
	}
	pt->pending[pt->npending++] = a->hwpt;
	release_pending(u, dev);
}

static const struct viommu_attach *attach_of(const struct viommu_dev *dev, uint32_t pasid)
{
	for (size_t i = 0; i < dev->nattach; i++)
		if (dev->attach[i].pasid == pasid && dev->attach[i].hwpt)
			return &dev->attach[i];
	return NULL;
}

/* Where the RID's requests should go on the host; 0: nowhere (detached, DMA blocked). */
static uint32_t rid_target(struct viommu *u, struct viommu_dev *dev, enum vtd_xlate_mode mode)
{
	const struct viommu_attach *a = attach_of(dev, 0);
	struct viommu_pt *pt = dev->pt;

	if (a)
		return a->hwpt;
	if (mode == VTD_XLATE_PT)
		return iommufd_host_parent_hwpt(pt->host->h, dev->host.unit);
	if ((mode == VTD_XLATE_SL || mode == VTD_XLATE_NESTED) && !pt->warned_s2) {
		pt->warned_s2 = true;
		pt_error(u, dev, "DMA blocked", "the guest gave it second-stage translation, which "
			 "tagvmm does not shadow for assigned devices; use scalable mode with "
			 "first-stage tables (Linux: intel_iommu=on,sm_on)");
	}
	return 0;
}

/*
 * Move the RID to @target. When the host refuses, the device is detached
 * instead (its DMA blocked: it must not keep using a translation the
 * guest revoked). Returns -1 only when even that failed, so the device's
 * state on the host is unknown.
 */
static int place_rid(struct viommu *u, struct viommu_dev *dev, uint32_t target)
{
	struct viommu_pt *pt = dev->pt;
	char err[256];

	if (target == pt->rid_pt)
		return 0;
	if (target) {
		if (vfio_device_attach(pt->host->vm, pt->vfio_index, target, err, sizeof(err)) == 0) {
			pt->rid_pt = target;
			return 0;
		}
		pt_error(u, dev, "moving its DMA (blocking it instead)", err);
	}
	if (vfio_device_detach(pt->host->vm, pt->vfio_index, err, sizeof(err))) {
		pt_error(u, dev, "blocking its DMA", err);
		return -1;
	}
	pt->rid_pt = 0;
	return 0;
}

/* Detach PASID slot @k (the PASID's DMA blocked). Returns -1 when the host refused. */
static int drop_pasid(struct viommu *u, struct viommu_dev *dev, size_t k)
{
	struct viommu_pt *pt = dev->pt;
	char err[256];

	if (vfio_device_detach_pasid(pt->host->vm, pt->vfio_index, pt->pasid_pt[k].pasid, err,
				     sizeof(err))) {
		pt_error(u, dev, "detaching a PASID", err);
		return -1;
	}
	pt->pasid_pt[k] = pt->pasid_pt[--pt->npasid_pt];
	return 0;
}

static int place_pasids(struct viommu *u, struct viommu_dev *dev)
{
	struct viommu_pt *pt = dev->pt;
	char err[256];
	int ret = 0;

	/* Gone first: a PASID whose attachment left the tables. */
	for (size_t k = 0; k < pt->npasid_pt;) {
		if (attach_of(dev, pt->pasid_pt[k].pasid)) {
			k++;
		} else if (drop_pasid(u, dev, k)) {
			ret = -1;
			k++;
		}
	}
	for (size_t i = 0; i < dev->nattach; i++) {
		const struct viommu_attach *a = &dev->attach[i];
		size_t k;

		if (a->pasid == 0 || !a->hwpt)
			continue;
		for (k = 0; k < pt->npasid_pt && pt->pasid_pt[k].pasid != a->pasid; k++)
			;
		if (k < pt->npasid_pt && pt->pasid_pt[k].pt == a->hwpt)
			continue;
		/*
		 * A PASID whose detach failed above still holds its slot, so
		 * the list can be full with this PASID not in it: leave it
		 * blocked on the host (no DMA) until a resync frees the slot.
		 */
		if (k == pt->npasid_pt && k == sizeof(pt->pasid_pt) / sizeof(pt->pasid_pt[0])) {
			pt_error(u, dev, "attaching a PASID (blocking it instead)",
				 "a PASID the host failed to detach still holds its slot");
			continue;
		}
		if (vfio_device_attach_pasid(pt->host->vm, pt->vfio_index, a->pasid, a->hwpt, err,
					     sizeof(err)) == 0) {
			if (k == pt->npasid_pt)
				pt->npasid_pt++;	/* room checked above */
			pt->pasid_pt[k].pasid = a->pasid;
			pt->pasid_pt[k].pt = a->hwpt;
			continue;
		}
		pt_error(u, dev, "attaching a PASID (blocking it instead)", err);
		if (k < pt->npasid_pt && drop_pasid(u, dev, k))
			ret = -1;
	}
	return ret;
}

int viommu_pt_place(struct viommu *u, struct viommu_dev *dev, bool rid_known,
		 enum vtd_xlate_mode rid_mode)
{
	int ret = place_pasids(u, dev);

	if (rid_known && place_rid(u, dev, rid_target(u, dev, rid_mode)))
		ret = -1;
	release_pending(u, dev);
	return ret;
}

void viommu_pt_report(struct viommu_pt_host *p)
{
	struct iommufd_stats st;

	if (!p)
		return;
	iommufd_host_stats(p->h, &st);
	fprintf(stderr, "tagvmm: viommu: iommufd: %llu IOMMU_HWPT_INVALIDATE calls with %llu "
		"entries; %llu device-TLB ops covered by their HWPT's entry, %llu done by an "
		"earlier flush of it, %llu with an entry of their own\n",
		(unsigned long long)st.invalidate_calls, (unsigned long long)st.invalidate_entries,
		(unsigned long long)st.devtlb_covered, (unsigned long long)st.devtlb_done_before,
		(unsigned long long)st.devtlb_entries);
}

void viommu_pt_teardown(struct viommu_pt_host *p)
{
	char err[256];

	if (!p)
		return;
	viommu_pt_faults_stop(p);
	for (unsigned int i = 0; i < p->ndevs; i++) {
		struct viommu_pt *pt = &p->devs[i];
		struct viommu_dev *dev = pt->dev;

		/*
		 * Off every HWPT of ours before they go: the PASIDs first (the
		 * kernel wants the RID's HWPT to allow them while they are
		 * attached), then the RID, detached so the device has no DMA
		 * until vfio_teardown() resets it.
		 */
		while (pt->npasid_pt)
			if (drop_pasid(dev->unit, dev, pt->npasid_pt - 1))
				pt->npasid_pt--;
		if (vfio_device_detach(p->vm, pt->vfio_index, err, sizeof(err)))
			fprintf(stderr, "tagvmm: viommu: %s: %s\n", dev->host.name, err);
		pt->rid_pt = 0;
		for (size_t k = 0; k < dev->nattach; k++)
			if (dev->attach[k].hwpt && pt->npending < PT_MAX_PENDING)
				pt->pending[pt->npending++] = dev->attach[k].hwpt;
		dev->nattach = 0;
		release_pending(dev->unit, dev);
	}
	for (unsigned int i = 0; i < p->nunits; i++)
		if (iommufd_host_remove_unit(p->h, &p->units[i]))
			fprintf(stderr, "tagvmm: viommu: %s\n", iommufd_host_error(p->h));
	iommufd_host_close(p->h);
	free(p);
}
