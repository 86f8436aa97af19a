// SPDX-License-Identifier: MIT
/*
 * The virtio 1.x PCI transport, modern only (virtio spec 4.1): vendor
 * capabilities for the common, notify, ISR and device regions in BAR 0,
 * MSI-X (one vector per queue plus the config vector) in BAR 2, INTx with
 * the ISR when MSI-X is off, feature negotiation (VERSION_1 required;
 * ACCESS_PLATFORM offered, and then required, only behind a vIOMMU) and
 * reset.
 *
 * Work: a notify only marks the queue and wakes the device's worker
 * thread, so no vCPU exit does more than a register's worth of work. The
 * worker takes requests until the ring is empty, and ends its pass early
 * when a reset waits.
 *
 * Locking: vp->lock guards the registers, the kick mask and the worker's
 * flags. A queue's configuration is fixed while it is enabled (the driver
 * sets it up before queue_enable, later writes are ignored) and only a
 * reset disables it, so the worker reads it without the lock; its own
 * ring indices are its alone until a reset, which waits for the worker
 * to go idle first (device_status 0 reads back only once no request is in
 * flight). The worker never holds vp->lock while it does DMA: dma_lock()
 * (the vIOMMU unit's lock) is taken per page inside virtio-ring.c with no
 * other lock held, and config space (bus master, ATS enable) is read
 * before, never under it. Interrupts are sent with no lock held but the
 * PCI framework's own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm.h"
#include "vmm/virtio-priv.h"

#define VIRTIO_ATS_QDEP		32
#define MSIX_CTRL_ENABLE	0x8000

static uint64_t offered_features(const struct virtio_pci *vp)
{
	uint64_t f = vp->device_features | 1ULL << VIRTIO_F_VERSION_1;

	if (vp->iommu)
		f |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	return f;
}

static bool msix_on(struct virtio_pci *vp)
{
	return vp->pci.msix_cap &&
	       (pci_device_config_read(&vp->pci, vp->pci.msix_cap + 2, 2) & MSIX_CTRL_ENABLE);
}

/*
 * Interrupt the driver for queue @q, or for a configuration change (q < 0).
 * With MSI-X: the vector the driver chose (none: nothing). Without: the
 * ISR bit and INTx, low again when the driver reads the ISR.
 */
static void raise_irq(struct virtio_pci *vp, int q)
{
	uint16_t vector;

	if (msix_on(vp)) {
		pthread_mutex_lock(&vp->lock);
		vector = q < 0 ? vp->msix_config : vp->vq[q].msix_vector;
		pthread_mutex_unlock(&vp->lock);
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_device_notify(&vp->pci, vector);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	vp->isr |= q < 0 ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
	pthread_mutex_unlock(&vp->lock);
	pci_device_notify(&vp->pci, 0);
}

/* The driver broke the protocol: DEVICE_NEEDS_RESET and a config interrupt (2.1.2). */
static void needs_reset(struct virtio_pci *vp)
{
	bool tell;

	pthread_mutex_lock(&vp->lock);
	tell = !(vp->status & VIRTIO_STATUS_NEEDS_RESET) && (vp->status & VIRTIO_STATUS_DRIVER_OK);
	if (!(vp->status & VIRTIO_STATUS_NEEDS_RESET))
		vp->stats.errors++;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&vp->lock);
	if (tell)
		raise_irq(vp, -1);
}

bool virtio_reset_pending(struct virtio_pci *vp)
{
	return __atomic_load_n(&vp->reset_pending, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&vp->stop, __ATOMIC_ACQUIRE);
}

/* Serve queue @i until it is empty, broken, or a reset waits. */
static void serve_queue(struct virtio_pci *vp, unsigned int i)
{
	struct virtq *q = &vp->vq[i];
	struct virtio_chain *c = malloc(sizeof(*c));
	bool done_any = false;

	if (!c) {
		needs_reset(vp);
		return;
	}
	while (!virtio_reset_pending(vp)) {
		int got = virtq_pop(vp, q, c);
		uint32_t len;

		if (got == 0)
			break;
		if (got < 0) {
			needs_reset(vp);
			break;
		}
		len = vp->model->handle(vp->model_data, vp, i, c);
		if (virtio_reset_pending(vp))
			break;	/* dropped: the reset forgets the ring anyway */
		if (virtq_push(vp, q, c->head, len)) {
			needs_reset(vp);
			break;
		}
		pthread_mutex_lock(&vp->lock);
		vp->stats.requests++;
		pthread_mutex_unlock(&vp->lock);
		done_any = true;
	}
	free(c);
	if (done_any && virtq_wants_interrupt(vp, q))
		raise_irq(vp, (int)i);
}

static void *worker(void *arg)
{
	struct virtio_pci *vp = arg;

	pthread_mutex_lock(&vp->lock);
	for (;;) {
		uint32_t kicked;
		bool usable;

		while (!vp->kicked && !vp->stop)
			pthread_cond_wait(&vp->wake, &vp->lock);
		if (vp->stop)
			break;
		kicked = vp->kicked;
		vp->kicked = 0;
		usable = (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
			 !(vp->status & VIRTIO_STATUS_NEEDS_RESET) && !vp->reset_pending;
		vp->busy = true;
		pthread_mutex_unlock(&vp->lock);

		/* Config space before any dma_lock(): who we are and whether ATS is on. */
		if (usable && !(pci_device_config_read(&vp->pci, PCI_COMMAND, 2) & PCI_COMMAND_MASTER))
			usable = false;	/* no bus master: the function may not DMA */
		vp->rq = (struct dma_request){
			.rid = vp->pci.bdf,
			.ats = vp->ats_cap &&
			       (pci_device_config_read(&vp->pci, vp->ats_cap + ATS_CTRL, 2) &
				ATS_CTRL_ENABLE),
		};
		for (unsigned int i = 0; usable && i < vp->model->nqueues; i++)
			if ((kicked & 1u << i) && vp->vq[i].enabled)
				serve_queue(vp, i);

		pthread_mutex_lock(&vp->lock);
		vp->busy = false;
		pthread_cond_broadcast(&vp->idle);
	}
	vp->busy = false;
	pthread_cond_broadcast(&vp->idle);
	pthread_mutex_unlock(&vp->lock);
	return NULL;
}

/* Wait for the worker to finish what was kicked. Caller holds vp->lock. */
static void wait_idle(struct virtio_pci *vp)
{
	while ((vp->busy || vp->kicked) && vp->thread_started && !vp->stop)
		pthread_cond_wait(&vp->idle, &vp->lock);
}

void virtio_quiesce(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	wait_idle(vp);
	pthread_mutex_unlock(&vp->lock);
}

/* device_status 0. Caller holds vp->lock; returns with it held, the device as new. */
static void reset(struct virtio_pci *vp)
{
	__atomic_store_n(&vp->reset_pending, true, __ATOMIC_RELEASE);
	vp->kicked = 0;
	while (vp->busy && vp->thread_started)
		pthread_cond_wait(&vp->idle, &vp->lock);
	vp->kicked = 0;
	vp->status = 0;
	vp->isr = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	vp->queue_select = 0;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->vq[i] = (struct virtq){ .size = VIRTQ_MAX_SIZE,
					    .msix_vector = VIRTIO_MSI_NO_VECTOR };
	vp->dma = (struct dma_space){ 0 };
	__atomic_store_n(&vp->reset_pending, false, __ATOMIC_RELEASE);
}

/* The driver enables the selected queue: its layout must be usable. Caller holds vp->lock. */
static bool queue_valid(const struct virtq *q)
{
	return q->size && q->size <= VIRTQ_MAX_SIZE && !(q->size & (q->size - 1)) &&
	       !(q->desc & 15) && !(q->avail & 1) && !(q->used & 3);
}

/* A new device_status from the driver. Caller holds vp->lock; may drop it (reset). */
static void write_status(struct virtio_pci *vp, uint8_t val)
{
	uint8_t old = vp->status;

	if (!val) {
		reset(vp);
		return;
	}
	/* The device owns NEEDS_RESET; the driver cannot clear a bit but by reset. */
	val = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) | old);
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = offered_features(vp), f = vp->driver_features;
		bool ok = !(f & ~offered) && (f >> VIRTIO_F_VERSION_1 & 1) &&
			  (!vp->iommu || (f >> VIRTIO_F_ACCESS_PLATFORM & 1));

		if (!ok)
			val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(val & VIRTIO_STATUS_FEATURES_OK) ||
		    (vp->iommu && dma_space_of(vp->vm, vp->pci.bdf, &vp->dma))) {
			val |= VIRTIO_STATUS_NEEDS_RESET;
			vp->stats.errors++;
		}
	}
	vp->status = val;
}

static uint64_t common_read(struct virtio_pci *vp, unsigned int reg)
{
	struct virtq *q = vp->queue_select < vp->model->nqueues ? &vp->vq[vp->queue_select] : NULL;

	switch (reg) {
	case VIRTIO_COMMON_DFSELECT:	return vp->dfselect;
	case VIRTIO_COMMON_DF:
		return vp->dfselect < 2 ? (uint32_t)(offered_features(vp) >> (32 * vp->dfselect)) : 0;
	case VIRTIO_COMMON_GFSELECT:	return vp->gfselect;
	case VIRTIO_COMMON_GF:
		return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	case VIRTIO_COMMON_MSIX:	return vp->msix_config;
	case VIRTIO_COMMON_NUMQ:	return vp->model->nqueues;
	case VIRTIO_COMMON_STATUS:	return vp->status;
	case VIRTIO_COMMON_CFGGEN:	return 0;	/* the configuration never changes */
	case VIRTIO_COMMON_Q_SELECT:	return vp->queue_select;
	case VIRTIO_COMMON_Q_SIZE:	return q ? q->size : 0;
	case VIRTIO_COMMON_Q_MSIX:	return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_COMMON_Q_ENABLE:	return q ? q->enabled : 0;
	case VIRTIO_COMMON_Q_NOFF:	return q ? vp->queue_select : 0;
	case VIRTIO_COMMON_Q_DESC:	return q ? q->desc : 0;
	case VIRTIO_COMMON_Q_AVAIL:	return q ? q->avail : 0;
	case VIRTIO_COMMON_Q_USED:	return q ? q->used : 0;
	}
	return 0;
}

/* A vector the driver may name: one of the MSI-X table's, else NO_VECTOR (read back). */
static uint16_t valid_vector(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->pci.msix_entries ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void common_write(struct virtio_pci *vp, unsigned int reg, uint64_t val)
{
	struct virtq *q = vp->queue_select < vp->model->nqueues ? &vp->vq[vp->queue_select] : NULL;
	bool features_open = !(vp->status & VIRTIO_STATUS_FEATURES_OK);

	switch (reg) {
	case VIRTIO_COMMON_DFSELECT:	vp->dfselect = (uint32_t)val; return;
	case VIRTIO_COMMON_GFSELECT:	vp->gfselect = (uint32_t)val; return;
	case VIRTIO_COMMON_GF:
		if (features_open && vp->gfselect < 2) {
			unsigned int shift = 32 * vp->gfselect;

			vp->driver_features &= ~(0xffffffffULL << shift);
			vp->driver_features |= (val & 0xffffffffULL) << shift;
		}
		return;
	case VIRTIO_COMMON_MSIX:	vp->msix_config = valid_vector(vp, val); return;
	case VIRTIO_COMMON_STATUS:	write_status(vp, (uint8_t)val); return;
	case VIRTIO_COMMON_Q_SELECT:	vp->queue_select = (uint16_t)val; return;
	case VIRTIO_COMMON_Q_MSIX:
		if (q)
			q->msix_vector = valid_vector(vp, val);
		return;
	}
	/* The rest configures the selected queue: fixed once it is enabled. */
	if (!q || q->enabled)
		return;
	switch (reg) {
	case VIRTIO_COMMON_Q_SIZE:	q->size = (uint16_t)val; return;
	case VIRTIO_COMMON_Q_DESC:	q->desc = val; return;
	case VIRTIO_COMMON_Q_AVAIL:	q->avail = val; return;
	case VIRTIO_COMMON_Q_USED:	q->used = val; return;
	case VIRTIO_COMMON_Q_ENABLE:
		if (!(val & 1))
			return;
		if (!queue_valid(q)) {
			vp->status |= VIRTIO_STATUS_NEEDS_RESET;
			vp->stats.errors++;
			return;
		}
		q->last_avail = q->used_idx = 0;
		q->enabled = true;
		return;
	}
}

/* Registers of the common region and their widths, in offset order. */
static const struct { uint8_t off, len; } common_regs[] = {
	{ 0x00, 4 }, { 0x04, 4 }, { 0x08, 4 }, { 0x0c, 4 }, { 0x10, 2 }, { 0x12, 2 },
	{ 0x14, 1 }, { 0x15, 1 }, { 0x16, 2 }, { 0x18, 2 }, { 0x1a, 2 }, { 0x1c, 2 },
	{ 0x1e, 2 }, { 0x20, 8 }, { 0x28, 8 }, { 0x30, 8 },
};

/*
 * Accesses of any width: a read assembles the bytes of every register it
 * touches; a write merges its bytes into each register it touches and
 * applies the result (a 64-bit address written as two halves works).
 */
static void common_io(struct virtio_pci *vp, unsigned int off, uint8_t *data, unsigned int len,
		      bool is_write)
{
	for (size_t r = 0; r < sizeof(common_regs) / sizeof(common_regs[0]); r++) {
		unsigned int ro = common_regs[r].off, rl = common_regs[r].len;
		uint64_t val;

		if (!pci_config_touches(off, len, ro, rl))
			continue;
		val = common_read(vp, ro);
		for (unsigned int b = 0; b < rl; b++) {
			unsigned int at = ro + b;

			if (at < off || at >= off + len)
				continue;
			if (is_write) {
				val &= ~(0xffULL << (8 * b));
				val |= (uint64_t)data[at - off] << (8 * b);
			} else {
				data[at - off] = (uint8_t)(val >> (8 * b));
			}
		}
		if (is_write)
			common_write(vp, ro, val);
	}
}

static void notify(struct virtio_pci *vp, unsigned int q)
{
	/* Before DRIVER_OK, on a queue not enabled, or after an error: nothing to do. */
	if (q >= vp->model->nqueues || !vp->vq[q].enabled ||
	    (vp->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_DRIVER_OK)) !=
	    VIRTIO_STATUS_DRIVER_OK)
		return;
	vp->kicked |= 1u << q;
	pthread_cond_signal(&vp->wake);
}

/* BAR 0: common, ISR, device and notify regions; anything else reads 0. */
static void bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		   bool is_write)
{
	struct virtio_pci *vp = opaque;
	bool deassert = false;

	if (!is_write)
		memset(data, 0, len);
	if (!len || len > 8 || offset >= VIRTIO_BAR_SIZE)
		return;
	pthread_mutex_lock(&vp->lock);
	if (offset < VIRTIO_COMMON_OFF + VIRTIO_COMMON_LEN) {
		common_io(vp, (unsigned int)offset, data, len, is_write);
	} else if (offset == VIRTIO_ISR_OFF && !is_write) {
		data[0] = vp->isr;	/* cleared on read, and the INTx line with it */
		vp->isr = 0;
		deassert = true;
	} else if (offset >= VIRTIO_DEVICE_OFF &&
		   offset + len <= VIRTIO_DEVICE_OFF + vp->model->config_size && !is_write) {
		vp->model->config_read(vp->model_data, (unsigned int)(offset - VIRTIO_DEVICE_OFF),
				       data, len);
	} else if (offset >= VIRTIO_NOTIFY_OFF && is_write) {
		uint64_t slot = offset - VIRTIO_NOTIFY_OFF;

		if (slot % VIRTIO_NOTIFY_MULT == 0)
			notify(vp, (unsigned int)(slot / VIRTIO_NOTIFY_MULT));
	}
	pthread_mutex_unlock(&vp->lock);
	if (deassert)
		pci_device_intx_deassert(&vp->pci);
}

/* A vendor capability pointing at [@off, @off + @len) of BAR 0. */
static uint8_t add_vendor_cap(struct pci_device *dev, uint8_t type, uint32_t off, uint32_t len,
			      bool notify_cap)
{
	unsigned int size = notify_cap ? 20 : 16;
	uint8_t at = pci_add_cap(dev, VIRTIO_PCI_CAP_ID, size);

	if (!at)
		return 0;
	dev->cfg[at + 2] = (uint8_t)size;
	dev->cfg[at + 3] = type;
	dev->cfg[at + 4] = VIRTIO_BAR;
	for (unsigned int i = 0; i < 4; i++) {
		dev->cfg[at + 8 + i] = (uint8_t)(off >> (8 * i));
		dev->cfg[at + 12 + i] = (uint8_t)(len >> (8 * i));
		if (notify_cap)
			dev->cfg[at + 16 + i] = (uint8_t)(VIRTIO_NOTIFY_MULT >> (8 * i));
	}
	return at;
}

static void stop_worker(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	__atomic_store_n(&vp->stop, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&vp->wake);
	pthread_mutex_unlock(&vp->lock);
	if (vp->thread_started)
		pthread_join(vp->thread, NULL);
	vp->thread_started = false;
}

struct virtio_pci *virtio_pci_create(struct vm *vm, const struct virtio_model *m, void *model,
				     uint64_t features, const struct virtio_spec *s, uint16_t bdf, bool iommu,
				     char *err, size_t errlen)
{
	char b[PCI_BDF_LEN];
	struct virtio_pci *vp = calloc(1, sizeof(*vp));

	if (!vp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vp->vm = vm;
	vp->model = m;
	vp->model_data = model;
	vp->device_features = features;
	vp->iommu = iommu;
	pthread_mutex_init(&vp->lock, NULL);
	pthread_cond_init(&vp->wake, NULL);
	pthread_cond_init(&vp->idle, NULL);
	reset(vp);
	pci_device_init(&vp->pci, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + m->id),
			m->pci_class, 1);
	if (pci_device_set_bar(&vp->pci, VIRTIO_BAR, PCI_BAR_MEM32, VIRTIO_BAR_SIZE, bar_io, vp) ||
	    !add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_COMMON, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN,
			    false) ||
	    !add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_NOTIFY_OFF,
			    VIRTIO_NOTIFY_MULT * m->nqueues, true) ||
	    !add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_ISR, VIRTIO_ISR_OFF, 1, false) ||
	    !add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_DEVICE, VIRTIO_DEVICE_OFF, m->config_size,
			    false) ||
	    !pci_add_msix_cap(&vp->pci, m->nqueues + 1, VIRTIO_MSIX_BAR) ||
	    !pci_add_pcie_cap(&vp->pci, PCI_EXP_TYPE_RC_END) ||
	    (s->ats && iommu && !(vp->ats_cap = pci_add_ats_cap(&vp->pci, VIRTIO_ATS_QDEP)))) {
		snprintf(err, errlen, "virtio-%s %s: cannot build its config space", m->name,
			 pci_bdf_format(bdf, b));
		goto fail;
	}
	errno = pthread_create(&vp->thread, NULL, worker, vp);
	if (errno) {
		snprintf(err, errlen, "virtio-%s: cannot start its worker: %s", m->name,
			 strerror(errno));
		goto fail;
	}
	vp->thread_started = true;
	if (pci_register(vm, &vp->pci, bdf)) {
		snprintf(err, errlen, "virtio-%s %s: slot taken or PCI full", m->name,
			 pci_bdf_format(bdf, b));
		stop_worker(vp);
		goto fail;
	}
	/* Without the vIOMMU the DMAR and the device tree must not claim it. */
	if (!iommu)
		for (size_t p = 0; p < vm->machine.npci; p++)
			if (vm->machine.pci[p].bdf == bdf)
				vm->machine.pci[p].iommu = MACHINE_PCI_NO_IOMMU;
	return vp;
fail:
	pci_device_exit(&vp->pci);
	pthread_cond_destroy(&vp->wake);
	pthread_cond_destroy(&vp->idle);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
	return NULL;
}

void virtio_free(struct virtio_pci *vp)
{
	if (!vp)
		return;
	stop_worker(vp);
	pci_device_exit(&vp->pci);
	if (vp->model->free)
		vp->model->free(vp->model_data);
	pthread_cond_destroy(&vp->wake);
	pthread_cond_destroy(&vp->idle);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

struct virtio_pci *virtio_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				 bool iommu, char *err, size_t errlen)
{
	if (s->kind == VIRTIO_KIND_BLK)
		return virtio_blk_create(vm, s, bdf, iommu, err, errlen);
	return virtio_rng_create(vm, s, bdf, iommu, err, errlen);
}

struct pci_device *virtio_pci_device(struct virtio_pci *vp)
{
	return &vp->pci;
}

void virtio_get_stats(struct virtio_pci *vp, struct virtio_stats *out)
{
	pthread_mutex_lock(&vp->lock);
	*out = vp->stats;
	pthread_mutex_unlock(&vp->lock);
}

/* The options after FILE in --disk, or all of --rng's. */
static int parse_opts(char *opts, struct virtio_spec *out, char *err, size_t errlen)
{
	char *save = NULL;

	for (char *tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro") && out->kind == VIRTIO_KIND_BLK) {
			out->ro = true;
		} else if (!strcmp(tok, "ats")) {
			out->ats = true;
		} else if (!strcmp(tok, "iommu=off")) {
			out->no_iommu = true;
		} else {
			snprintf(err, errlen, "unknown option '%s' (%s)", tok,
				 out->kind == VIRTIO_KIND_BLK ? "ro, ats, iommu=off" : "ats, iommu=off");
			return -1;
		}
	}
	if (out->ats && out->no_iommu) {
		snprintf(err, errlen, "ats needs the vIOMMU, not iommu=off");
		return -1;
	}
	return 0;
}

int virtio_parse_disk(const char *arg, struct virtio_spec *out, char *err, size_t errlen)
{
	const char *comma = strchr(arg, ',');
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
	char *opts;
	int rc;

	*out = (struct virtio_spec){ .kind = VIRTIO_KIND_BLK };
	if (!n || n >= sizeof(out->path)) {
		snprintf(err, errlen, "expected FILE[,ro][,ats][,iommu=off]%s",
			 n ? ", FILE shorter" : "");
		return -1;
	}
	memcpy(out->path, arg, n);
	out->path[n] = '\0';
	if (!comma)
		return 0;
	opts = strdup(comma + 1);
	if (!opts) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = parse_opts(opts, out, err, errlen);
	free(opts);
	return rc;
}

int virtio_parse_rng(const char *arg, struct virtio_spec *out, char *err, size_t errlen)
{
	char *opts;
	int rc;

	*out = (struct virtio_spec){ .kind = VIRTIO_KIND_RNG };
	if (!arg)
		return 0;
	opts = strdup(arg);
	if (!opts) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = parse_opts(opts, out, err, errlen);
	free(opts);
	return rc;
}
