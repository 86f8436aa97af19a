// SPDX-License-Identifier: MIT
/*
 * Bounded work per exit. What a guest can ask of a unit in one register
 * write is unbounded: a 512 KiB queue of context- or PASID-cache
 * descriptors, each resyncing up to 24 devices whose PASID directories
 * hold 2^20 entries, is about 40 minutes of table reads. None of it may
 * keep a vCPU thread in tagvmm, or hold u->lock, for more than a few
 * milliseconds: the vCPU would ignore SIGTERM, and the unit's DMA and
 * its other vCPUs would stall behind it.
 *
 * So every register write ends in vtd_work_kick(), which does at most
 * VTD_WORK_BUDGET units (a descriptor, or one table entry read of a
 * resync; about 1 ms at -O2) of what is pending, in this order:
 *   1. the resync under way (a queue descriptor's, or the registers');
 *   2. a register resync asked for since (SRTP, TE, CCMD);
 *   3. an IOTLB register invalidation that waited behind them;
 *   4. the invalidation queue.
 * Whatever is left goes to the unit's worker thread, started on first
 * need, which does the same in steps of the same size and drops u->lock
 * between them, so DMA and register accesses go on meanwhile.
 *
 * What the guest sees stays the spec's. The queue's head stops on a
 * descriptor whose resync is not done, so a wait behind it completes only
 * after it and every host flush before it, as on hardware, which also
 * completes queued work in its own time. A register resync is ordered
 * before the queue work and the IOTLB register invalidation that follow
 * it (their flushes must find the new attachments); CCMD.ICC and
 * IOTLB_REG.IVT stay set until their work is done, which software polls
 * for (spec 10.4.7, 10.4.8). SRTP and TE take effect at once (GSTS says
 * so) and their resync follows; a guest that flushes through the queue
 * or the IOTLB register afterwards waits for it, as above.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#include "viommu/viommu-priv.h"
#include "vtd/regs.h"

/* A register resync ended: CCMD's completion, and any failure as ICE. */
static void reg_resync_done(struct viommu *u, int ret, struct flush_result *res)
{
	if (u->run_caig) {
		u->ccmd &= ~(VTD_CCMD_ICC | 3ULL << VTD_CCMD_CAIG_SHIFT);
		u->ccmd |= (uint64_t)u->run_caig << VTD_CCMD_CAIG_SHIFT;
		u->run_caig = 0;
	}
	if (ret == 0)
		return;
	/*
	 * As vtd_sync_attachments(): the registers have no queue to stall
	 * and no wait to abort, so a failure is ICE, whatever its kind. A
	 * queue resync orphaned by the queue going empty or off ends here
	 * too: the wait it would have held back is answered by qi_failed.
	 */
	if (res->err.kind == HOST_ERR_ITE)
		res->err.kind = HOST_ERR_ICE;
	vtd_report_host_error(u, res);
	if (u->gsts & VTD_GCMD_QIE)
		u->qi_failed = u->qi_failed_ice = true;
}

/* Start the register resync that waits. Returns false when it ran at once (no memory). */
static bool start_reg_resync(struct viommu *u)
{
	struct vtd_resync_req req = { .kind = VTD_RESYNC_DEVICES, .all = u->reg_all,
				      .sid = u->reg_sid };
	struct flush_result res;

	u->reg_resync = false;
	u->run_caig = u->reg_caig;
	u->reg_caig = 0;
	if (vtd_resync_start(u, &req) == 0) {
		u->resync_owner = VTD_RESYNC_BY_REGS;
		return true;
	}
	reg_resync_done(u, vtd_sync_req(u, &req, &res), &res);
	return false;
}

/*
 * Do up to *@budget units of the unit's pending work, in the order above.
 * Returns true when work is left. Caller holds u->lock.
 */
static bool work(struct viommu *u, unsigned long *budget)
{
	for (;;) {
		if (vtd_resync_active(u)) {
			struct flush_result res;
			int ret;

			if (u->resync_owner == VTD_RESYNC_BY_QUEUE && vtd_qi_pending(u)) {
				if (vtd_qi_run(u, budget))
					return true;
				/* Done, or stalled (IQE, ITE) with its resync done too. */
				continue;
			}
			ret = vtd_resync_step(u, budget, &res);
			if (ret > 0)
				return true;
			u->resync_owner = VTD_RESYNC_BY_NONE;
			reg_resync_done(u, ret, &res);
			continue;
		}
		if (!*budget)
			return u->reg_resync || u->iotlb_reg_pending || vtd_qi_pending(u);
		if (u->reg_resync) {
			start_reg_resync(u);
			continue;
		}
		if (u->iotlb_reg_pending) {
			u->iotlb_reg_pending = false;
			vtd_iotlb_reg_run(u);
			vtd_spend(u, budget, 1);
			continue;
		}
		if (vtd_qi_pending(u))
			return vtd_qi_run(u, budget);
		return false;
	}
}

/*
 * One step of at most u->work_budget units (VTD_WORK_BUDGET unless the
 * fuzzer set less, 0 meaning the default); its real cost, overshoot
 * included, goes to u->work_max_exit.
 */
static bool work_step(struct viommu *u)
{
	unsigned long budget = u->work_budget ? u->work_budget : VTD_WORK_BUDGET;
	uint64_t spent0 = u->work_spent;
	bool more = work(u, &budget);

	if (u->work_spent - spent0 > u->work_max_exit)
		u->work_max_exit = u->work_spent - spent0;
	return more;
}

/* CPU time of this thread: what a step costs, without the time it was preempted. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vtd_unit_lock(struct viommu *u)
{
	__atomic_add_fetch(&u->lock_waiters, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&u->lock);
	__atomic_sub_fetch(&u->lock_waiters, 1, __ATOMIC_ACQ_REL);
}

/*
 * Between two steps the vCPUs and the DMA waiting for u->lock go first: a
 * mutex is not fair, and the worker would otherwise take it straight back.
 * Bounded, so a waiter that is itself descheduled cannot stop the work.
 */
static void let_waiters_in(struct viommu *u)
{
	for (unsigned int i = 0; i < 1000 && __atomic_load_n(&u->lock_waiters, __ATOMIC_ACQUIRE); i++)
		sched_yield();
}

static void *worker_main(void *arg)
{
	struct viommu *u = arg;

	pthread_mutex_lock(&u->lock);
	while (!u->work_stop) {
		uint64_t t0, dt;

		if (!u->work_more) {
			pthread_cond_wait(&u->work_cond, &u->lock);
			continue;
		}
		t0 = cpu_ns();
		u->work_more = work_step(u);
		dt = cpu_ns() - t0;
		u->work_steps++;
		if (dt > u->work_max_step_ns)
			u->work_max_step_ns = dt;
		pthread_mutex_unlock(&u->lock);
		sched_yield();
		let_waiters_in(u);
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

bool vtd_work_busy(const struct viommu *u)
{
	return vtd_resync_active(u) || u->reg_resync || u->iotlb_reg_pending;
}

void vtd_work_resync(struct viommu *u, bool all, uint16_t sid, unsigned int ccmd_caig)
{
	/* Two waiting resyncs of different devices: one of all of them, a superset. */
	if (u->reg_resync && (u->reg_all || u->reg_sid != sid))
		all = true;
	u->reg_resync = true;
	u->reg_all = all;
	u->reg_sid = sid;
	if (ccmd_caig)
		u->reg_caig = ccmd_caig;
}

void vtd_work_kick(struct viommu *u)
{
	bool more;

	if (!vtd_work_busy(u) && !vtd_qi_pending(u))
		return;
	more = work_step(u);
	if (!more || u->work_stop)
		return;
	u->work_more = true;
	if (u->worker_off)
		return;		/* the caller steps it (vtd_work_step()) */
	if (!u->worker_started) {
		if (pthread_cond_init(&u->work_cond, NULL) == 0 &&
		    pthread_create(&u->worker, NULL, worker_main, u) == 0) {
			u->worker_started = true;
		} else {
			/* No thread: the rest now, as before this file existed. */
			unsigned long unlimited = ~0UL;

			fprintf(stderr, "viommu%u: cannot start the unit's worker; "
				"working in the vCPU thread\n", u->index);
			u->work_more = work(u, &unlimited);
			return;
		}
	}
	pthread_cond_signal(&u->work_cond);
}

void vtd_work_stop(struct viommu *u)
{
	bool started;

	pthread_mutex_lock(&u->lock);
	u->work_stop = true;
	started = u->worker_started;
	u->worker_started = false;
	if (started)
		pthread_cond_signal(&u->work_cond);
	pthread_mutex_unlock(&u->lock);
	if (started) {
		pthread_join(u->worker, NULL);
		pthread_cond_destroy(&u->work_cond);
	}
}

bool vtd_work_step(struct viommu *u)
{
	bool more;

	vtd_unit_lock(u);
	more = u->work_more = work_step(u);
	pthread_mutex_unlock(&u->lock);
	return more;
}
