// SPDX-License-Identifier: MIT
/*
 * virtio-rng (virtio spec 5.4): every device-writable byte of a request
 * is filled from getrandom(), at most VIRTIO_RNG_MAX bytes per request
 * (the driver asks again for more).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "vmm/virtio-priv.h"

#define VIRTIO_RNG_MAX	4096U

static uint32_t rng_handle(void *model, struct virtio_pci *vp, unsigned int q,
			   const struct virtio_chain *c)
{
	uint8_t buf[VIRTIO_RNG_MAX];
	size_t n = c->writable < sizeof(buf) ? (size_t)c->writable : sizeof(buf);
	ssize_t got;

	(void)model;
	(void)q;
	if (!n)
		return 0;
	got = getrandom(buf, n, 0);
	if (got <= 0 || virtio_chain_write(vp, c, 0, buf, (uint64_t)got))
		return 0;
	return (uint32_t)got;
}

static const struct virtio_model rng_model = {
	.name = "rng",
	.id = VIRTIO_ID_RNG,
	.pci_class = 0x00ff00,		/* unclassified */
	.nqueues = 1,
	.config_size = 0,
	.handle = rng_handle,
};

struct virtio_pci *virtio_rng_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				     bool iommu, char *err, size_t errlen)
{
	return virtio_pci_create(vm, &rng_model, NULL, 0, s, bdf, iommu, err, errlen);
}
