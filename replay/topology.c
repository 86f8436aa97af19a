// SPDX-License-Identifier: MIT
/* Assigned-device topology: `--assign` parsing and attaching to a tag store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pci-bdf.h"
#include "replay/topology.h"

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_sid(const char *s, uint16_t *sid)
{
	uint16_t seg, bdf;
	uint64_t v;

	if (!pci_bdf_parse(s, &seg, &bdf)) {
		if (seg != 0)
			return -1;	/* one PCI segment */
		*sid = bdf;
		return 0;
	}
	if (strchr(s, ':') || parse_u64(s, 0xffff, &v))
		return -1;
	*sid = (uint16_t)v;
	return 0;
}

int topology_parse_assign(const char *spec, struct assignment *out, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *item;
	bool have_sid = false, have_did = false, have_host_did = false, have_host_pasid = false;
	bool have_host_sid = false;
	uint64_t v;
	int rc = -1;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *val = strchr(item, '=');

		if (val)
			*val++ = '\0';
		if (!strcmp(item, "ats") && !val) {
			out->ats = true;
		} else if (!strcmp(item, "nested") && !val) {
			out->nested = true;
		} else if (!val) {
			snprintf(err, errlen, "'%s' needs a value", item);
			goto out;
		} else if (!strcmp(item, "sid")) {
			if (parse_sid(val, &out->guest_sid))
				goto bad;
			have_sid = true;
		} else if (!strcmp(item, "host-sid")) {
			if (parse_sid(val, &out->host_sid))
				goto bad;
			have_host_sid = true;
		} else if (!strcmp(item, "unit")) {
			if (parse_u64(val, 15, &v))
				goto bad;
			out->unit = (unsigned int)v;
		} else if (!strcmp(item, "viommu")) {
			if (parse_u64(val, 0xffff, &v))
				goto bad;
			out->viommu = (uint16_t)v;
		} else if (!strcmp(item, "did") || !strcmp(item, "host-did")) {
			if (parse_u64(val, 0xffff, &v))
				goto bad;
			if (item[0] == 'd') {
				out->did = (uint16_t)v;
				have_did = true;
			} else {
				out->host_did = (uint16_t)v;
				have_host_did = true;
			}
		} else if (!strcmp(item, "pasid") || !strcmp(item, "host-pasid")) {
			if (parse_u64(val, 0xfffff, &v))
				goto bad;
			if (item[0] == 'p') {
				out->pasid = (uint32_t)v;
			} else {
				out->host_pasid = (uint32_t)v;
				have_host_pasid = true;
			}
		} else if (!strcmp(item, "qdep")) {
			if (parse_u64(val, 32, &v))
				goto bad;
			out->qdep = (uint8_t)(v & 0x1f);	/* 32 is encoded as 0 */
		} else {
			snprintf(err, errlen, "unknown key '%s'", item);
			goto out;
		}
		continue;
bad:
		snprintf(err, errlen, "bad value '%s' for %s", val, item);
		goto out;
	}
	if (!have_sid || !have_did) {
		snprintf(err, errlen, "sid= and did= are required");
		goto out;
	}
	/* Defaults: the host uses the guest's numbers, as iommufd nesting does. */
	if (!have_host_did)
		out->host_did = out->did;
	if (!have_host_pasid)
		out->host_pasid = out->pasid;
	if (!have_host_sid)
		out->host_sid = out->guest_sid;
	rc = 0;
out:
	free(copy);
	return rc;
}

int topology_add(struct topology *t, const struct assignment *a)
{
	struct assignment *p = realloc(t->assign, (t->nassign + 1) * sizeof(*p));

	if (!p)
		return -1;
	t->assign = p;
	t->assign[t->nassign++] = *a;
	return 0;
}

int topology_max_unit(const struct topology *t)
{
	int max = -1;

	for (size_t i = 0; i < t->nassign; i++)
		if ((int)t->assign[i].unit > max)
			max = (int)t->assign[i].unit;
	return max;
}

/* The device an assignment refers to, created on first mention. */
static struct host_device *device_for(struct topology *t, const struct assignment *a,
				      struct host_unit **units, char *err, size_t errlen)
{
	struct host_device *dev, **devs;

	for (size_t i = 0; i < t->ndevices; i++) {
		dev = t->devices[i];
		if (dev->sid != a->host_sid)
			continue;
		if (dev->unit != units[a->unit] || dev->ats != a->ats) {
			snprintf(err, errlen, "device %s is given two placements (unit or ats differ)",
				 dev->name);
			return NULL;
		}
		return dev;
	}
	devs = realloc(t->devices, (t->ndevices + 1) * sizeof(*devs));
	dev = calloc(1, sizeof(*dev));
	if (!devs || !dev) {
		free(dev);
		if (devs)
			t->devices = devs;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->devices = devs;
	host_device_name(a->host_sid, dev->name);
	dev->sid = a->host_sid;
	dev->qdep = a->qdep;
	dev->ats = a->ats;
	dev->unit = units[a->unit];
	t->devices[t->ndevices++] = dev;
	return dev;
}

int topology_apply(struct topology *t, struct tag_store *ts, struct host_unit **units,
		   unsigned int nunits, char *err, size_t errlen)
{
	for (size_t i = 0; i < t->nassign; i++) {
		const struct assignment *a = &t->assign[i];
		struct guest_domain_key key = { a->viommu, a->did, a->pasid };
		struct tag_attach at;

		if (a->unit >= nunits) {
			snprintf(err, errlen, "assignment %zu names unit %u, but there are %u units",
				 i + 1, a->unit, nunits);
			return -1;
		}
		at = (struct tag_attach){
			.dev = device_for(t, a, units, err, errlen),
			.guest_sid = a->guest_sid,
			.host_did = a->host_did,
			.host_pasid = a->host_pasid,
			.nested = a->nested,
		};
		if (!at.dev)
			return -1;
		if (tag_store_attach(ts, key, &at)) {
			snprintf(err, errlen, "attach failed: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

void topology_free(struct topology *t)
{
	for (size_t i = 0; i < t->ndevices; i++)
		free(t->devices[i]);
	free(t->devices);
	free(t->assign);
	memset(t, 0, sizeof(*t));
}

const struct host_device *topology_device(const struct topology *t, uint16_t host_sid)
{
	for (size_t i = 0; i < t->ndevices; i++)
		if (t->devices[i]->sid == host_sid)
			return t->devices[i];
	return NULL;
}

int topology_remap_qemu(struct topology *t, char *err, size_t errlen)
{
	uint32_t next = 1;

	for (size_t i = 0; i < t->nassign; i++)
		if (t->assign[i].host_did >= next)
			next = t->assign[i].host_did + 1u;
	for (size_t i = 0; i < t->nassign; i++) {
		if (!t->assign[i].nested)
			continue;
		if (next > 0xffff) {
			snprintf(err, errlen, "QEMU's model needs a host DID per nested assignment: "
				 "more than 16-bit DIDs allow");
			return -1;
		}
		t->assign[i].host_did = (uint16_t)next++;
	}
	return 0;
}
