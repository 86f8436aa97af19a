// SPDX-License-Identifier: MIT
/*
 * Page faults of VFIO devices behind the vIOMMU (iommufd fault forwarding,
 * Linux 6.11+; docs/passthrough.md). The host kernel reports a device's
 * page request groups on a nested HWPT allocated with FAULT_ID_VALID to
 * the unit's fault queue; here they become page request descriptors in
 * the guest's queue (prq.c), and the guest's page group response (type
 * 9) goes back to the host as {cookie, code}.
 *
 * The host delivers whole groups, their cookie repeated on each record.
 * Every record is queued for the guest; the group's last record carries
 * LPIG, and the guest answers only that one, so a table of outstanding
 * groups, (device, PASID, PRGI) -> cookie, bounded by PT_FAULT_GROUPS,
 * turns the guest's answer into the host's. Nothing here grows with
 * guest or device input: the table, the read buffer and the messages
 * (rate-limited) are fixed.
 *
 * Response codes: iommufd takes only SUCCESS and INVALID.
 *  - Success -> SUCCESS; Invalid Request -> INVALID; a reserved code
 *    (the spec defines only Success, Invalid Request and Response
 *    Failure) -> INVALID, failing safe.
 *  - Response Failure (0xf): the PCIe meaning is "this device's PRI is
 *    broken, stop" (the device disables its page requests until software
 *    resets PRI); Lu Baolu's patch removing IOMMUFD_PAGE_RESP_FAILURE
 *    advises emulating it as a PRI reset. iommufd offers no PRI reset, so
 *    as far as it goes: the group is answered INVALID, and so is every
 *    other group of that device still outstanding, so none of them waits
 *    on a guest that has given up on the device. The host's device keeps
 *    PRI enabled (the kernel owns it); new faults are forwarded as before.
 *
 * When the guest cannot take a request:
 *  - its queue is full (PRO, or our table full): the group is answered
 *    SUCCESS at once, so the device retries and faults again. That is what
 *    VT-d hardware does for a last-page request on overflow (spec 7.4.1)
 *    and what QEMU's iommufd fault series does (Q-ACC); INVALID would
 *    make the device give up on an address the guest would have mapped.
 *  - the unit refuses it (PRE clear, no PASID), the PASID is one the guest
 *    never bound for the device, or the record names no device of ours:
 *    INVALID, since no guest will ever answer it.
 * A guest response that matches no outstanding group is dropped with a
 * rate-limited message, as hardware drops a response nobody waits for.
 *
 * Locks: the reader takes the unit's lock only to look at the device's
 * attachments and inside vtd_page_request(), never while holding the
 * table's; responses arrive under the unit's lock and take the table's
 * (a leaf) and then the back end's (iommufd.c, whose lock tables.c takes
 * under the unit's lock too).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/iommufd-compat.h"
#include "hostvtd/iommufd.h"
#include "viommu/passthrough.h"
#include "viommu/pt-priv.h"
#include "vtd/regs.h"

#define PRGI_MASK		0x1ffu		/* 9 bits */
#define RESP_SUCCESS		0x0
#define RESP_INVALID		0x1
#define RESP_FAILURE		0xf
/* The reader's sleep when the queues were empty. */
#define PT_FAULT_IDLE_NS	1000000L

/* Counters: the reader and the responders (vCPU or worker threads) bump them unlocked. */
#define STAT_ADD(f, field, n)	__atomic_fetch_add(&(f)->st.field, (n), __ATOMIC_RELAXED)
#define STAT_INC(f, field)	STAT_ADD(f, field, 1)

/* The first 8 messages, then one in 1024: a hostile guest or device cannot flood stderr. */
__attribute__((format(printf, 2, 3)))
static void warn(struct pt_faults *f, const char *fmt, ...)
{
	unsigned long n = __atomic_fetch_add(&f->warnings, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n >= 8 && n % 1024)
		return;
	va_start(ap, fmt);
	fputs("tagvmm: viommu: fault forwarding: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", n >= 8 ? " (messages rate-limited)" : "");
}

static void answer(struct viommu_pt_host *p, struct host_unit *hu, uint32_t cookie, uint32_t code)
{
	if (iommufd_host_page_response(p->h, hu, cookie, code) == 0)
		return;
	STAT_INC(&p->faults, write_errors);
	warn(&p->faults, "%s: answering group %u: %s", hu->name, cookie, strerror(errno));
}

static struct viommu_pt *pt_by_dev_id(struct viommu_pt_host *p, const struct host_unit *hu,
				      uint32_t dev_id)
{
	for (unsigned int i = 0; i < p->ndevs; i++)
		if (p->devs[i].dev_id == dev_id && p->devs[i].dev->host.unit == hu)
			return &p->devs[i];
	return NULL;
}

/* Remember a group the guest will answer. false: the table is full. */
static bool remember(struct viommu_pt_host *p, struct host_unit *hu, struct viommu_dev *dev,
		     uint32_t pasid, uint16_t prgi, uint32_t cookie)
{
	struct pt_faults *f = &p->faults;
	struct pt_fault_group *free_slot = NULL;
	uint32_t stale = 0;
	bool has_stale = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < PT_FAULT_GROUPS; i++) {
		struct pt_fault_group *g = &f->groups[i];

		if (!g->used) {
			if (!free_slot)
				free_slot = g;
			continue;
		}
		/*
		 * The device reused a PRGI the guest has not answered (PCIe
		 * forbids it): the older group can never be told apart, so it
		 * is answered now and the slot taken over.
		 */
		if (g->dev == dev && g->pasid == pasid && g->prgi == prgi) {
			stale = g->cookie;
			has_stale = true;
			free_slot = g;
			break;
		}
	}
	if (free_slot)
		*free_slot = (struct pt_fault_group){ .used = true, .dev = dev, .pasid = pasid,
						      .prgi = prgi, .cookie = cookie };
	pthread_mutex_unlock(&f->lock);
	if (has_stale) {
		warn(f, "%s: PRGI %u of PASID %u reused before the guest answered it", dev->host.name,
		     prgi, pasid);
		answer(p, hu, stale, IOMMUFD_PAGE_RESP_INVALID);
	}
	return free_slot != NULL;
}

/* Forget the group @cookie of @dev (its request never reached the guest). */
/*
 * Drop @cookie's group; false when it was gone already (a guest response,
 * on another thread, took it first and answered it).
 */
static bool forget(struct pt_faults *f, const struct viommu_dev *dev, uint32_t cookie)
{
	bool found = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < PT_FAULT_GROUPS; i++)
		if (f->groups[i].used && f->groups[i].dev == dev && f->groups[i].cookie == cookie) {
			f->groups[i].used = false;
			found = true;
		}
	pthread_mutex_unlock(&f->lock);
	return found;
}

static bool pasid_bound(struct viommu_dev *dev, uint32_t pasid)
{
	bool bound = false;

	vtd_unit_lock(dev->unit);
	for (size_t i = 0; i < dev->nattach && !bound; i++)
		bound = dev->attach[i].pasid == pasid && dev->attach[i].hwpt;
	pthread_mutex_unlock(&dev->unit->lock);
	return bound;
}

/* One host group, @n records with one cookie: into the guest's queue, or answered here. */
static void forward_group(struct viommu_pt_host *p, struct host_unit *hu,
			  const struct iommu_hwpt_pgfault *g, size_t n)
{
	struct pt_faults *f = &p->faults;
	const struct iommu_hwpt_pgfault *last = &g[n - 1];
	uint16_t prgi = (uint16_t)(last->grpid & PRGI_MASK);
	enum vtd_prq_result r = VTD_PRQ_REFUSED;
	struct viommu_pt *pt = pt_by_dev_id(p, hu, last->dev_id);
	struct viommu_dev *dev;

	STAT_INC(f, groups);
	STAT_ADD(f, records, n);
	if (!pt) {
		STAT_INC(f, unknown_dev);
		warn(f, "%s: a fault of device %u, which is no device of ours", hu->name,
		     last->dev_id);
		answer(p, hu, last->cookie, IOMMUFD_PAGE_RESP_INVALID);
		return;
	}
	dev = pt->dev;
	/* The unit's queue takes PASID requests only (prq.c): a request without one is refused. */
	if ((last->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID) && !pasid_bound(dev, last->pasid)) {
		STAT_INC(f, unbound_pasid);
		warn(f, "%s: a fault on PASID %u, which the guest never bound", dev->host.name,
		     last->pasid);
		answer(p, hu, last->cookie, IOMMUFD_PAGE_RESP_INVALID);
		return;
	}
	if (!remember(p, hu, dev, last->pasid, prgi, last->cookie)) {
		STAT_INC(f, answered_overflow);
		answer(p, hu, last->cookie, IOMMUFD_PAGE_RESP_SUCCESS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct vtd_page_req pr = {
			.rid = dev->guest_sid,
			.has_pasid = g[i].flags & IOMMU_PGFAULT_FLAGS_PASID_VALID,
			.pasid = g[i].pasid,
			.addr = g[i].addr,
			.read = g[i].perm & IOMMU_PGFAULT_PERM_READ,
			.write = g[i].perm & IOMMU_PGFAULT_PERM_WRITE,
			.exec = g[i].perm & IOMMU_PGFAULT_PERM_EXEC,
			.priv = g[i].perm & IOMMU_PGFAULT_PERM_PRIV,
			/* The host reads whole groups: the last record ends it, flagged or not. */
			.lpig = i == n - 1,
			.prgi = prgi,
		};

		r = vtd_page_request(dev->unit, &pr);
		if (r == VTD_PRQ_QUEUED)
			STAT_INC(f, injected);
	}
	if (r == VTD_PRQ_QUEUED)
		return;		/* the guest answers the last one */
	/* A hostile guest may have answered the group before it was queued: once only. */
	if (!forget(f, dev, last->cookie))
		return;
	if (r == VTD_PRQ_DROPPED) {
		STAT_INC(f, answered_overflow);
		answer(p, hu, last->cookie, IOMMUFD_PAGE_RESP_SUCCESS);
	} else {
		STAT_INC(f, answered_refused);
		answer(p, hu, last->cookie, IOMMUFD_PAGE_RESP_INVALID);
	}
}

unsigned int viommu_pt_fault_poll(struct viommu_pt_host *p)
{
	struct pt_faults *f;
	unsigned int groups = 0;

	if (!p || !p->faults.buf)
		return 0;
	f = &p->faults;
	pthread_mutex_lock(&f->poll_lock);
	for (unsigned int i = 0; i < p->nunits; i++) {
		struct host_unit *hu = &p->units[i];
		ssize_t n;

		if (!iommufd_host_has_faults(p->h, hu))
			continue;
		n = iommufd_host_read_faults(p->h, hu, f->buf, PT_FAULT_READ_MAX);
		if (n < 0) {
			STAT_INC(f, bad_reads);
			if (errno == EINVAL)
				warn(f, "%s: a fault group of more than %d records cannot be read",
				     hu->name, PT_FAULT_READ_MAX);
			else
				warn(f, "%s: reading the fault queue: %s", hu->name,
				     errno == EIO ? "not a whole number of records" : strerror(errno));
			continue;
		}
		for (size_t k = 0; k < (size_t)n;) {
			size_t e = k + 1;

			while (e < (size_t)n && f->buf[e].cookie == f->buf[k].cookie)
				e++;
			forward_group(p, hu, f->buf + k, e - k);
			groups++;
			k = e;
		}
	}
	pthread_mutex_unlock(&f->poll_lock);
	return groups;
}

/* The guest's page group response for a VFIO device (prq.c, under the unit's lock). */
static void page_response(void *opaque, const struct vtd_desc_pgrp_resp *resp)
{
	struct viommu_pt *pt = opaque;
	struct viommu_pt_host *p = pt->host;
	struct pt_faults *f = &p->faults;
	uint32_t cookies[PT_FAULT_GROUPS];
	size_t ncookies = 0;
	bool found = false;
	uint32_t cookie = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < PT_FAULT_GROUPS && !found; i++) {
		struct pt_fault_group *g = &f->groups[i];

		if (g->used && g->dev == pt->dev && g->prgi == resp->prgi &&
		    (!resp->pasid_present || g->pasid == resp->pasid)) {
			found = true;
			cookie = g->cookie;
			g->used = false;
		}
	}
	if (found && resp->rcode == RESP_FAILURE)
		for (size_t i = 0; i < PT_FAULT_GROUPS; i++)
			if (f->groups[i].used && f->groups[i].dev == pt->dev) {
				cookies[ncookies++] = f->groups[i].cookie;
				f->groups[i].used = false;
			}
	pthread_mutex_unlock(&f->lock);
	if (!found) {
		STAT_INC(f, unmatched);
		warn(f, "%s: a page group response (PRGI %u, PASID %u) for no outstanding group: "
		     "dropped", pt->dev->host.name, resp->prgi, resp->pasid);
		return;
	}
	STAT_INC(f, responses);
	answer(p, pt->dev->host.unit, cookie,
	       resp->rcode == RESP_SUCCESS ? IOMMUFD_PAGE_RESP_SUCCESS : IOMMUFD_PAGE_RESP_INVALID);
	if (resp->rcode == RESP_FAILURE)
		STAT_INC(f, pri_resets);
	for (size_t i = 0; i < ncookies; i++)
		answer(p, pt->dev->host.unit, cookies[i], IOMMUFD_PAGE_RESP_INVALID);
}

bool viommu_pt_faults_unit(struct viommu_pt_host *p, struct host_unit *hu)
{
	struct pt_faults *f = &p->faults;

	if (!(hu->ecap & VTD_ECAP_PRS))
		return false;
	if (!f->buf) {
		f->buf = calloc(PT_FAULT_READ_MAX, sizeof(*f->buf));
		if (!f->buf)
			return false;
	}
	if (!f->lock_ready) {
		pthread_mutex_init(&f->lock, NULL);
		pthread_mutex_init(&f->poll_lock, NULL);
		f->lock_ready = true;
	}
	if (iommufd_host_enable_faults(p->h, hu) == 0)
		return true;
	fprintf(stderr, "tagvmm: viommu: %s: %s: the vIOMMU offers no page requests\n", hu->name,
		iommufd_host_error(p->h));
	return false;
}

void viommu_pt_faults_device(struct viommu_pt *pt)
{
	if (!iommufd_host_has_faults(pt->host->h, pt->dev->host.unit))
		return;
	pt->dev->page_response = page_response;
	pt->dev->page_response_opaque = pt;
}

bool viommu_pt_faults_wanted(struct viommu *u, struct viommu_dev *dev)
{
	return (u->ecap & VTD_ECAP_PRS) && dev->page_response &&
	       vtd_context_pre(u, dev->guest_sid);
}

static void *reader_main(void *arg)
{
	struct viommu_pt_host *p = arg;
	struct pt_faults *f = &p->faults;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&f->lock);
		if (viommu_pt_fault_poll(p)) {
			pthread_mutex_lock(&f->lock);
			continue;
		}
		/* Idle: iommufd's fd would poll(2), but the seam's fds need not be real ones. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PT_FAULT_IDLE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&f->lock);
		if (!f->stop)
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

void viommu_pt_faults_start(struct viommu_pt_host *p)
{
	struct pt_faults *f = &p->faults;

	if (!f->lock_ready || f->reader_off)
		return;
	pthread_mutex_lock(&f->lock);
	if (!f->thread_started && !f->stop && pthread_cond_init(&f->cond, NULL) == 0) {
		if (pthread_create(&f->thread, NULL, reader_main, p) == 0)
			f->thread_started = true;
		else
			pthread_cond_destroy(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	if (!f->thread_started)
		warn(f, "cannot start the fault reader: host page faults wait for the device's timeout");
}

void viommu_pt_fault_reader_off(struct viommu_pt_host *p)
{
	if (p)
		p->faults.reader_off = true;
}

void viommu_pt_faults_stop(struct viommu_pt_host *p)
{
	struct pt_faults *f = &p->faults;
	bool started;

	if (!f->lock_ready)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	started = f->thread_started;
	if (started)
		pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (started) {
		pthread_join(f->thread, NULL);
		pthread_cond_destroy(&f->cond);
	}
	for (unsigned int i = 0; i < p->ndevs; i++)
		p->devs[i].dev->page_response = NULL;
	/* Groups still outstanding: the kernel answers them when the HWPTs go (auto response). */
	memset(f->groups, 0, sizeof(f->groups));
	free(f->buf);
	f->buf = NULL;
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->poll_lock);
	f->lock_ready = false;
}

void viommu_pt_fault_stats(struct viommu_pt_host *p, struct pt_fault_stats *out)
{
	const uint64_t *in = (const uint64_t *)&p->faults.st;
	uint64_t *o = (uint64_t *)out;

	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "pt_fault_stats: u64 counters only");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = __atomic_load_n(&in[i], __ATOMIC_RELAXED);
}
