// SPDX-License-Identifier: MIT
/*
 * The guest invalidation stream recorder (guest-trace.h). One file for
 * every vIOMMU: the lock orders whole submissions, so the lines of one
 * never interleave with another's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "viommu/guest-trace.h"
#include "vmm/kvm.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

struct guest_trace {
	pthread_mutex_t lock;
	FILE *f;
	bool own;			/* fclose at the end (not stderr) */
	bool full;			/* max_bytes reached */
	int error;			/* first write error */
	uint64_t max_bytes;
	unsigned int viommu;		/* whose lines the file shows now */
};

struct guest_trace *guest_trace_open(const char *path)
{
	struct guest_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (!strcmp(path, "-")) {
		t->f = stderr;
	} else {
		t->f = fopen(path, "w");
		t->own = true;
		if (!t->f) {
			free(t);
			return NULL;
		}
	}
	pthread_mutex_init(&t->lock, NULL);
	t->max_bytes = GUEST_TRACE_MAX_BYTES;
	return t;
}

void guest_trace_set_max_bytes(struct guest_trace *t, uint64_t max_bytes)
{
	if (t)
		t->max_bytes = max_bytes;
}

static void write_descriptor(FILE *f, const uint64_t *qw, bool wide)
{
	const char *name = vtd_desc_type_name(vtd_desc_raw_type(qw[0]));

	if (wide)
		fprintf(f, "tagvmm_inv_desc_upper qw2 0x%llx qw3 0x%llx\n",
			(unsigned long long)qw[2], (unsigned long long)qw[3]);
	/* QEMU's line: the type token is for people; the reader skips it. */
	fprintf(f, "vtd_inv_desc invalidate desc type %s high 0x%llx low 0x%llx\n",
		name, (unsigned long long)qw[1],
		(unsigned long long)qw[0]);
}

void guest_trace_submission(struct guest_trace *t, struct vm *vm, unsigned int viommu,
			    uint64_t iqa, uint64_t old_tail, uint64_t new_tail)
{
	bool wide = iqa & VTD_IQA_DW;
	uint64_t dsize = wide ? 32 : 16;
	uint64_t qbytes = VTD_PAGE_SIZE << VTD_IQA_QS(iqa);
	uint64_t qbase = iqa & VTD_IQA_ADDR_MASK;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->full || t->error)
		goto out;
	errno = 0;
	if (viommu != t->viommu) {
		fprintf(t->f, "tagvmm_viommu %u\n", viommu);
		t->viommu = viommu;
	}
	/* QEMU logs the tail as a descriptor index. */
	fprintf(t->f, "vtd_inv_qi_tail write tail %llu\n",
		(unsigned long long)(new_tail / dsize));
	/*
	 * A tail beyond the queue or off the wide alignment is an IQE for the
	 * guest (qi.c); nothing was submitted. At most a queue's worth of
	 * descriptors per write, wrapping as the hardware does.
	 */
	if (new_tail < qbytes && old_tail < qbytes && !(wide && ((new_tail | old_tail) & 0x10))) {
		for (uint64_t off = old_tail; off != new_tail; off = (off + dsize) % qbytes) {
			uint64_t qw[4] = { 0 };
			const void *src = qbase + off >= qbase ? vm_gpa(vm, qbase + off, dsize) : NULL;

			if (!src)
				continue;
			memcpy(qw, src, dsize);
			write_descriptor(t->f, qw, wide);
		}
	}
	/* Per submission, like the flush trace: the records before a crash matter. */
	if ((fflush(t->f) || ferror(t->f)) && !t->error)
		t->error = errno ? errno : EIO;
	if (t->own && ftello(t->f) >= (off_t)t->max_bytes) {
		t->full = true;
		fprintf(t->f, "# guest trace stopped at %llu bytes (GUEST_TRACE_MAX_BYTES)\n",
			(unsigned long long)t->max_bytes);
		fflush(t->f);
	}
out:
	pthread_mutex_unlock(&t->lock);
}

int guest_trace_close(struct guest_trace *t)
{
	int rc;

	if (!t)
		return 0;
	rc = t->error ? -1 : 0;
	if (fflush(t->f) || ferror(t->f))
		rc = -1;
	if (t->own && fclose(t->f))
		rc = -1;
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}
