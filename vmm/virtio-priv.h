/* SPDX-License-Identifier: MIT */
/*
 * Between the virtio PCI transport (virtio-pci.c), the split virtqueue
 * (virtio-ring.c) and the device models (virtio-blk.c, virtio-rng.c).
 * Layouts from the virtio 1.x specification, chapters 2 and 4.1.
 */
#ifndef TAGVMM_VMM_VIRTIO_PRIV_H
#define TAGVMM_VMM_VIRTIO_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/dma.h"
#include "vmm/pci.h"
#include "vmm/virtio.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* modern device ID = this + virtio ID */
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_RNG		4

/* device_status bits. */
#define VIRTIO_STATUS_ACK		0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_ACCESS_PLATFORM	33

/* PCI vendor capability (ID 0x09) cfg_type values. */
#define VIRTIO_PCI_CAP_COMMON	1
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_PCI_CAP_ISR	3
#define VIRTIO_PCI_CAP_DEVICE	4
#define VIRTIO_PCI_CAP_ID	0x09

/* Where the regions sit in BAR 0 (one page each). */
#define VIRTIO_BAR		0
#define VIRTIO_BAR_SIZE		0x4000
#define VIRTIO_COMMON_OFF	0x0000
#define VIRTIO_COMMON_LEN	0x38
#define VIRTIO_ISR_OFF		0x1000
#define VIRTIO_DEVICE_OFF	0x2000
#define VIRTIO_NOTIFY_OFF	0x3000
#define VIRTIO_NOTIFY_MULT	4	/* queue q is notified at NOTIFY_OFF + 4 * q */
#define VIRTIO_MSIX_BAR		2

/* Common configuration registers (offsets). */
#define VIRTIO_COMMON_DFSELECT	0x00
#define VIRTIO_COMMON_DF	0x04
#define VIRTIO_COMMON_GFSELECT	0x08
#define VIRTIO_COMMON_GF	0x0c
#define VIRTIO_COMMON_MSIX	0x10
#define VIRTIO_COMMON_NUMQ	0x12
#define VIRTIO_COMMON_STATUS	0x14
#define VIRTIO_COMMON_CFGGEN	0x15
#define VIRTIO_COMMON_Q_SELECT	0x16
#define VIRTIO_COMMON_Q_SIZE	0x18
#define VIRTIO_COMMON_Q_MSIX	0x1a
#define VIRTIO_COMMON_Q_ENABLE	0x1c
#define VIRTIO_COMMON_Q_NOFF	0x1e
#define VIRTIO_COMMON_Q_DESC	0x20
#define VIRTIO_COMMON_Q_AVAIL	0x28
#define VIRTIO_COMMON_Q_USED	0x30

#define VIRTIO_MSI_NO_VECTOR	0xffff
#define VIRTIO_ISR_QUEUE	0x1
#define VIRTIO_ISR_CONFIG	0x2

/* Split ring. */
#define VIRTQ_MAX_SIZE		256
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTIO_MAX_QUEUES	2

struct virtq {
	/* Set by the driver; fixed while enabled (writes then are ignored). */
	uint16_t size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, avail, used;
	/* The worker's own (see the locking in virtio-pci.c). */
	uint16_t last_avail;		/* next avail ring slot to take */
	uint16_t used_idx;		/* next used ring slot to fill */
};

/* One descriptor of a chain, as read once from the ring (never again). */
struct virtio_buf {
	uint64_t addr;
	uint32_t len;
	bool write;			/* device-writable */
};

/* A request: its descriptors, readable ones first. */
struct virtio_chain {
	uint16_t head;
	unsigned int n;
	struct virtio_buf buf[VIRTQ_MAX_SIZE];
	uint64_t readable, writable;	/* bytes of each kind */
};

/* What a device model gives the transport. */
struct virtio_model {
	const char *name;
	uint16_t id;			/* virtio device ID */
	uint32_t pci_class;
	unsigned int nqueues;
	unsigned int config_size;
	/* Bytes [@off, @off + @len) of the device configuration, inside config_size (> 0). */
	void (*config_read)(void *model, unsigned int off, uint8_t *data, unsigned int len);
	/*
	 * Serve one request on queue @q: read and write the chain's buffers
	 * with virtio_chain_read/write. Returns the bytes written into the
	 * chain (used.len). Runs on the device's worker, never under a lock.
	 */
	uint32_t (*handle)(void *model, struct virtio_pci *vp, unsigned int q,
			   const struct virtio_chain *c);
	void (*free)(void *model);
};

struct virtio_pci {
	struct pci_device pci;
	struct vm *vm;
	const struct virtio_model *model;
	void *model_data;
	uint64_t device_features;
	bool iommu;			/* behind a vIOMMU: ACCESS_PLATFORM */
	uint16_t ats_cap;		/* config offset, 0: no ATS */

	pthread_mutex_t lock;		/* the registers below, kicks, the worker's state */
	pthread_cond_t wake;		/* the worker: a kick or stop */
	pthread_cond_t idle;		/* waiters: the worker finished a pass */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config;
	uint8_t status;
	uint8_t isr;
	uint16_t queue_select;
	struct virtq vq[VIRTIO_MAX_QUEUES];

	/* Worker. */
	pthread_t thread;
	bool thread_started;
	bool stop;
	uint32_t kicked;		/* queues notified since the worker last looked */
	bool busy;			/* a pass is running */
	bool reset_pending;		/* a reset waits: end the pass at the next request */
	struct dma_space dma;		/* resolved at DRIVER_OK */
	struct dma_request rq;		/* the worker's, per pass */

	struct virtio_stats stats;	/* under lock */
};

/* virtio-ring.c: the worker's side of a queue. */
/* 1: a chain in @c; 0: the ring is empty; -1: the driver broke the ring (NEEDS_RESET). */
int virtq_pop(struct virtio_pci *vp, struct virtq *q, struct virtio_chain *c);
/* Write the used element for @head; returns 0 or -1 (a fault: NEEDS_RESET). */
int virtq_push(struct virtio_pci *vp, struct virtq *q, uint16_t head, uint32_t len);
/* Whether the driver asked for no interrupt (avail.flags); a fault reads as "interrupt". */
bool virtq_wants_interrupt(struct virtio_pci *vp, struct virtq *q);
/*
 * Copy [@off, @off + @len) of the chain's readable (read) or writable
 * (write) bytes, one page at most per dma_lock() hold. Returns 0, or -1
 * when the range is outside the chain or a translation faulted.
 */
int virtio_chain_read(struct virtio_pci *vp, const struct virtio_chain *c, uint64_t off,
		      void *buf, uint64_t len);
int virtio_chain_write(struct virtio_pci *vp, const struct virtio_chain *c, uint64_t off,
		       const void *buf, uint64_t len);
/* A reset is waiting: a model ends a long request early (dropped). */
bool virtio_reset_pending(struct virtio_pci *vp);

/* virtio-pci.c, for the models. */
/* @features: the device's own feature bits; the transport adds VERSION_1 and ACCESS_PLATFORM. */
struct virtio_pci *virtio_pci_create(struct vm *vm, const struct virtio_model *m, void *model,
				     uint64_t features, const struct virtio_spec *s, uint16_t bdf, bool iommu,
				     char *err, size_t errlen);

/* virtio-blk.c, virtio-rng.c. */
struct virtio_pci *virtio_blk_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				     bool iommu, char *err, size_t errlen);
struct virtio_pci *virtio_rng_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				     bool iommu, char *err, size_t errlen);

#endif
