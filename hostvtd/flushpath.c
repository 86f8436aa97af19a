// SPDX-License-Identifier: MIT
/* Building a flush path from options (flushpath.h). */
#include <errno.h>
#include <string.h>

#include "hostvtd/flushpath.h"
#include "hostvtd/iommufd-dryrun-host.h"
#include "hostvtd/simvtd.h"

static int sim_create(struct flush_path *fp, FILE *log, char *err, size_t errlen)
{
	struct simvtd_config cfg = { .units = fp->nunits };
	struct simvtd *sim = simvtd_new(&cfg);

	(void)log;
	if (!sim) {
		snprintf(err, errlen, "cannot create the simulated host VT-d: %s", strerror(errno));
		return -1;
	}
	fp->backend = sim;
	for (unsigned int i = 0; i < fp->nunits; i++)
		fp->units[i] = simvtd_unit(sim, i);
	return 0;
}

static void sim_destroy(struct flush_path *fp)
{
	simvtd_free(fp->backend);
}

static int dryrun_create(struct flush_path *fp, FILE *log, char *err, size_t errlen)
{
	char why[200];
	struct dryrun_host *dh = dryrun_host_new(fp->nunits, fp->qemu_model, log, why,
						 sizeof(why));

	if (!dh) {
		snprintf(err, errlen, "cannot set up the iommufd dry run: %s", why);
		return -1;
	}
	fp->backend = dh;
	for (unsigned int i = 0; i < fp->nunits; i++)
		fp->units[i] = dryrun_host_unit(dh, i);
	return 0;
}

static void dryrun_destroy(struct flush_path *fp)
{
	dryrun_host_free(fp->backend);
}

/* Every host back end, by name; the first is the default. */
static const struct host_backend_kind backends[] = {
	{ "sim", "simulated host VT-d", sim_create, sim_destroy },
	{ "iommufd-dry-run", "iommufd dry run", dryrun_create, dryrun_destroy },
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const struct host_backend_kind *host_backend_find(const char *name)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (!strcmp(backends[i].name, name))
			return &backends[i];
	return NULL;
}

const char *host_backend_names(void)
{
	static char names[128];

	if (!names[0])
		for (size_t i = 0; i < NBACKENDS; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i == 0 ? "" : i + 1 == NBACKENDS ? " or " : ", ", backends[i].name);
	return names;
}

void *flush_path_backend(const struct flush_path *fp, const char *name)
{
	return fp->kind && !strcmp(fp->kind->name, name) ? fp->backend : NULL;
}

int flush_path_build(struct flush_path *fp, const struct flush_path_options *o, char *err,
		     size_t errlen)
{
	struct plan_options opt = { .no_merge = o->no_merge };

	memset(fp, 0, sizeof(*fp));
	fp->kind = o->backend ? host_backend_find(o->backend) : &backends[0];
	if (!fp->kind) {
		snprintf(err, errlen, "unknown back end '%s': %s", o->backend, host_backend_names());
		return -1;
	}
	if (o->units < 1 || o->units > HOST_MAX_UNITS) {
		snprintf(err, errlen, "%u host units: 1 to %d", o->units, HOST_MAX_UNITS);
		fp->kind = NULL;
		return -1;
	}
	fp->nunits = o->units;
	fp->qemu_model = o->qemu_model;
	if (fp->kind->create(fp, o->log, err, errlen)) {
		fp->kind = NULL;
		return -1;
	}
	fp->ts = tag_store_new();
	if (!fp->ts) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->trace) {
		fp->trace = flush_trace_open(o->trace, o->trace_format);
		if (!fp->trace) {
			snprintf(err, errlen, "cannot open %s: %s", o->trace, strerror(errno));
			goto fail;
		}
	}
	fp->fe = flush_engine_new(fp->ts, fp->trace, &opt);
	if (!fp->fe) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	flush_path_free(fp);
	return -1;
}

int flush_path_free(struct flush_path *fp)
{
	int rc;

	flush_engine_free(fp->fe);
	rc = flush_trace_close(fp->trace);
	tag_store_free(fp->ts);
	if (fp->kind)
		fp->kind->destroy(fp);
	memset(fp, 0, sizeof(*fp));
	return rc;
}
