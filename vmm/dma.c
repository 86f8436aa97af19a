// SPDX-License-Identifier: MIT
/* Device DMA through the VM's IOMMU, or the identity without one (vmm/dma.h). */
#include "vmm/dma.h"
#include "vmm/kvm.h"

int dma_space_of(struct vm *vm, uint16_t rid, struct dma_space *out)
{
	*out = (struct dma_space){ 0 };
	if (!vm->dma_iommu.space)
		return 0;
	return vm->dma_iommu.space(vm->dma_iommu.opaque, rid, out);
}

void dma_lock(const struct dma_space *s)
{
	if (s->ops && s->ops->lock)
		s->ops->lock(s->ctx);
}

void dma_unlock(const struct dma_space *s)
{
	if (s->ops && s->ops->unlock)
		s->ops->unlock(s->ctx);
}

int dma_translate(const struct dma_space *s, const struct dma_request *rq, uint64_t iova,
		  uint64_t len, bool write, struct dma_translation *out)
{
	if (s->ops)
		return s->ops->translate(s->ctx, rq, iova, len, write, out);
	*out = (struct dma_translation){ .gpa = iova, .len = len, .source = DMA_SOURCE_IDENTITY };
	return 0;
}

void *dma_map(struct vm *vm, const struct dma_space *s, const struct dma_request *rq,
	      uint64_t iova, uint64_t len, bool write, struct dma_translation *out)
{
	if (dma_translate(s, rq, iova, len, write, out) || out->len < len)
		return NULL;
	return vm_gpa(vm, out->gpa, len);
}
