// SPDX-License-Identifier: MIT
/*
 * The consolidated per-domain tag store (model and locking: tagstore.h).
 *
 * Two hash tables index the domains: by full key (vIOMMU, DID, PASID) for
 * the common PASID- and page-selective flushes, and by (vIOMMU, DID) for
 * the guest's DID-wide IOTLB invalidations. A third maps (vIOMMU, guest
 * SID) to the device-TLB tags of that device, because guest device-TLB
 * descriptors name a SID and no DID.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/tagstore.h"
#include "lib/util.h"

struct tag_domain {
	struct guest_domain_key key;
	struct tag_domain *key_next;	/* chain in by_key */
	struct tag_domain *did_next;	/* chain in by_did */
	struct cache_tag *tags;
	size_t ntags, cap;
};

/*
 * One device's attachments to one guest domain, as the guest's device knows
 * them: how many, and how many of them had ATS (and so hold a user of the
 * device-TLB tag). Detach needs both to undo exactly what attach did.
 */
struct devtlb_route {
	uint16_t guest_did;
	uint32_t guest_pasid;
	struct cache_tag tag;		/* the device-TLB tag these attachments imply */
	unsigned int attaches, ats_attaches;
};

struct dev_routes {
	struct dev_routes *next;
	uint16_t viommu, guest_sid;
	struct devtlb_route *routes;
	size_t n, cap;
};

struct hash_table {
	void **buckets;
	size_t nbuckets;	/* power of two */
	size_t count;
};

struct tag_store {
	pthread_rwlock_t lock;
	struct hash_table by_key;	/* struct tag_domain, via key_next */
	struct hash_table by_did;	/* struct tag_domain, via did_next */
	struct hash_table by_sid;	/* struct dev_routes, via next */
	size_t ntags;
};

static const char *const tag_type_names[] = {
	[CACHE_TAG_IOTLB] = "iotlb",
	[CACHE_TAG_DEVTLB] = "devtlb",
	[CACHE_TAG_NESTING_IOTLB] = "nesting_iotlb",
	[CACHE_TAG_NESTING_DEVTLB] = "nesting_devtlb",
};

const char *cache_tag_type_name(enum cache_tag_type type)
{
	if ((unsigned int)type < sizeof(tag_type_names) / sizeof(tag_type_names[0]))
		return tag_type_names[type];
	return "unknown";
}

static uint64_t hash_key(struct guest_domain_key k)
{
	return hash_mix64((uint64_t)k.viommu << 48 | (uint64_t)k.did << 32 | k.pasid);
}

static uint64_t hash_did(uint16_t viommu, uint16_t did)
{
	return hash_mix64((uint64_t)viommu << 16 | did | 1ULL << 40);
}

static uint64_t hash_sid(uint16_t viommu, uint16_t sid)
{
	return hash_mix64((uint64_t)viommu << 16 | sid | 2ULL << 40);
}

static bool key_equal(struct guest_domain_key a, struct guest_domain_key b)
{
	return a.viommu == b.viommu && a.did == b.did && a.pasid == b.pasid;
}

static int hash_init(struct hash_table *h)
{
	h->nbuckets = 64;
	h->count = 0;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	return h->buckets ? 0 : -1;
}

/*
 * Chained tables with intrusive links: @next_off is the offset of the
 * element's link field, @hash_of recomputes an element's hash on growth.
 */
#define LINK(elem, off) (*(void **)((char *)(elem) + (off)))

static void hash_grow(struct hash_table *h, size_t next_off, uint64_t (*hash_of)(const void *))
{
	size_t n = h->nbuckets * 2;
	void **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* keep the old table: slower, still correct */
	for (size_t i = 0; i < h->nbuckets; i++) {
		void *e = h->buckets[i];

		while (e) {
			void *next = LINK(e, next_off);
			size_t slot = hash_of(e) & (n - 1);

			LINK(e, next_off) = b[slot];
			b[slot] = e;
			e = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
}

static void hash_insert(struct hash_table *h, void *elem, uint64_t hash, size_t next_off,
			uint64_t (*hash_of)(const void *))
{
	size_t slot = hash & (h->nbuckets - 1);

	LINK(elem, next_off) = h->buckets[slot];
	h->buckets[slot] = elem;
	if (++h->count > h->nbuckets)
		hash_grow(h, next_off, hash_of);
}

static void hash_remove(struct hash_table *h, void *elem, uint64_t hash, size_t next_off)
{
	void **pp = &h->buckets[hash & (h->nbuckets - 1)];

	while (*pp && *pp != elem)
		pp = &LINK(*pp, next_off);
	if (*pp) {
		*pp = LINK(elem, next_off);
		h->count--;
	}
}

static uint64_t domain_key_hash(const void *e)
{
	return hash_key(((const struct tag_domain *)e)->key);
}

static uint64_t domain_did_hash(const void *e)
{
	const struct tag_domain *d = e;

	return hash_did(d->key.viommu, d->key.did);
}

static uint64_t routes_hash(const void *e)
{
	const struct dev_routes *r = e;

	return hash_sid(r->viommu, r->guest_sid);
}

struct tag_store *tag_store_new(void)
{
	struct tag_store *ts = calloc(1, sizeof(*ts));
	pthread_rwlockattr_t attr;

	if (!ts)
		return NULL;
	if (hash_init(&ts->by_key) || hash_init(&ts->by_did) || hash_init(&ts->by_sid))
		goto fail;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ts->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return ts;
fail:
	free(ts->by_key.buckets);
	free(ts->by_did.buckets);
	free(ts->by_sid.buckets);
	free(ts);
	errno = ENOMEM;
	return NULL;
}

void tag_store_free(struct tag_store *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->by_key.nbuckets; i++) {
		struct tag_domain *d = ts->by_key.buckets[i];

		while (d) {
			struct tag_domain *next = d->key_next;

			free(d->tags);
			free(d);
			d = next;
		}
	}
	for (size_t i = 0; i < ts->by_sid.nbuckets; i++) {
		struct dev_routes *r = ts->by_sid.buckets[i];

		while (r) {
			struct dev_routes *next = r->next;

			free(r->routes);
			free(r);
			r = next;
		}
	}
	free(ts->by_key.buckets);
	free(ts->by_did.buckets);
	free(ts->by_sid.buckets);
	pthread_rwlock_destroy(&ts->lock);
	free(ts);
}

static struct tag_domain *find_domain(struct tag_store *ts, struct guest_domain_key key)
{
	struct tag_domain *d = ts->by_key.buckets[hash_key(key) & (ts->by_key.nbuckets - 1)];

	while (d && !key_equal(d->key, key))
		d = d->key_next;
	return d;
}

static struct dev_routes *find_routes(struct tag_store *ts, uint16_t viommu, uint16_t sid)
{
	struct dev_routes *r = ts->by_sid.buckets[hash_sid(viommu, sid) & (ts->by_sid.nbuckets - 1)];

	while (r && !(r->viommu == viommu && r->guest_sid == sid))
		r = r->next;
	return r;
}

/* Linux's cache_tage_match(): IOTLB tags are per unit, device-TLB tags per device. */
static bool tag_match(const struct cache_tag *a, const struct cache_tag *b)
{
	if (a->type != b->type || a->did != b->did || a->pasid != b->pasid || a->unit != b->unit)
		return false;
	if (a->type == CACHE_TAG_DEVTLB || a->type == CACHE_TAG_NESTING_DEVTLB)
		return a->dev.sid == b->dev.sid;
	return true;
}

static struct cache_tag *domain_tag(struct tag_domain *d, const struct cache_tag *want)
{
	for (size_t i = 0; i < d->ntags; i++)
		if (tag_match(&d->tags[i], want))
			return &d->tags[i];
	return NULL;
}

static struct devtlb_route *route_of(struct dev_routes *r, struct guest_domain_key key,
				     const struct cache_tag *want)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (r->routes[i].guest_did == key.did && r->routes[i].guest_pasid == key.pasid &&
		    tag_match(&r->routes[i].tag, want))
			return &r->routes[i];
	return NULL;
}

/* The tags that name one attachment: its unit's IOTLB tag and its device's device-TLB tag. */
static void tags_for(const struct tag_attach *a, struct cache_tag out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	out[0].type = a->nested ? CACHE_TAG_NESTING_IOTLB : CACHE_TAG_IOTLB;
	out[0].unit = a->dev->unit;
	out[0].did = a->host_did;
	out[0].pasid = a->host_pasid;
	out[1] = out[0];
	out[1].type = a->nested ? CACHE_TAG_NESTING_DEVTLB : CACHE_TAG_DEVTLB;
	out[1].dev = *a->dev;
}

static void unlink_domain(struct tag_store *ts, struct tag_domain *d)
{
	hash_remove(&ts->by_key, d, hash_key(d->key), offsetof(struct tag_domain, key_next));
	hash_remove(&ts->by_did, d, hash_did(d->key.viommu, d->key.did),
		    offsetof(struct tag_domain, did_next));
	free(d->tags);
	free(d);
}

static void unlink_routes(struct tag_store *ts, struct dev_routes *r)
{
	hash_remove(&ts->by_sid, r, hash_sid(r->viommu, r->guest_sid), offsetof(struct dev_routes, next));
	free(r->routes);
	free(r);
}

/*
 * Everything that can fail (allocation) happens before the first change, so
 * a failed attach leaves the store exactly as it was.
 */
int tag_store_attach(struct tag_store *ts, struct guest_domain_key key, const struct tag_attach *a)
{
	struct cache_tag want[2];
	struct tag_domain *d, *new_d = NULL;
	struct dev_routes *r, *new_r = NULL;
	size_t n;

	if (!ts || !a || !a->dev || !a->dev->unit) {
		errno = EINVAL;
		return -1;
	}
	/* Both tags name the attachment; only an ATS device adds its device-TLB tag. */
	tags_for(a, want);
	n = a->dev->ats ? 2 : 1;

	pthread_rwlock_wrlock(&ts->lock);
	d = find_domain(ts, key);
	if (!d) {
		d = new_d = calloc(1, sizeof(*d));
		if (!d)
			goto nomem;
		d->key = key;
	}
	if (array_reserve((void **)&d->tags, &d->cap, d->ntags + n, sizeof(*d->tags)))
		goto nomem;
	r = find_routes(ts, key.viommu, a->guest_sid);
	if (!r) {
		r = new_r = calloc(1, sizeof(*r));
		if (!r)
			goto nomem;
		r->viommu = key.viommu;
		r->guest_sid = a->guest_sid;
	}
	if (array_reserve((void **)&r->routes, &r->cap, r->n + 1, sizeof(*r->routes)))
		goto nomem;

	if (new_d) {
		hash_insert(&ts->by_key, d, hash_key(key), offsetof(struct tag_domain, key_next),
			    domain_key_hash);
		hash_insert(&ts->by_did, d, hash_did(key.viommu, key.did),
			    offsetof(struct tag_domain, did_next), domain_did_hash);
	}
	if (new_r)
		hash_insert(&ts->by_sid, r, hash_sid(r->viommu, r->guest_sid),
			    offsetof(struct dev_routes, next), routes_hash);
	for (size_t i = 0; i < n; i++) {
		struct cache_tag *t = domain_tag(d, &want[i]);

		if (t) {
			t->users++;
		} else {
			d->tags[d->ntags] = want[i];
			d->tags[d->ntags++].users = 1;
			ts->ntags++;
		}
	}
	{
		struct devtlb_route *rt = route_of(r, key, &want[1]);

		if (!rt) {
			rt = &r->routes[r->n++];
			memset(rt, 0, sizeof(*rt));
			rt->guest_did = key.did;
			rt->guest_pasid = key.pasid;
			rt->tag = want[1];
		}
		rt->attaches++;
		if (n > 1)
			rt->ats_attaches++;
		rt->tag.users = rt->ats_attaches;
	}
	pthread_rwlock_unlock(&ts->lock);
	return 0;

nomem:
	if (new_d) {
		free(new_d->tags);
		free(new_d);
	}
	if (new_r) {
		free(new_r->routes);
		free(new_r);
	}
	pthread_rwlock_unlock(&ts->lock);
	errno = ENOMEM;
	return -1;
}

static void drop_tag(struct tag_store *ts, struct tag_domain *d, struct cache_tag *t)
{
	if (--t->users)
		return;
	memmove(t, t + 1, (size_t)(d->tags + d->ntags - (t + 1)) * sizeof(*t));
	d->ntags--;
	ts->ntags--;
}

/*
 * Detach undoes one attach. Which one, when the device has both ATS and
 * non-ATS attachments to the domain, follows the device's ATS state now;
 * when ATS was turned off after attaching and only ATS attachments are
 * left, the device-TLB tag still goes (Linux's "remove cache tags before
 * disabling ATS" use-after-free).
 */
int tag_store_detach(struct tag_store *ts, struct guest_domain_key key, const struct tag_attach *a)
{
	struct cache_tag want[2];
	struct cache_tag *iotlb, *devtlb;
	struct tag_domain *d;
	struct dev_routes *r;
	struct devtlb_route *rt = NULL;

	if (!ts || !a || !a->dev || !a->dev->unit) {
		errno = EINVAL;
		return -1;
	}
	tags_for(a, want);

	pthread_rwlock_wrlock(&ts->lock);
	d = find_domain(ts, key);
	iotlb = d ? domain_tag(d, &want[0]) : NULL;
	if (!iotlb) {
		pthread_rwlock_unlock(&ts->lock);
		errno = ENOENT;
		return -1;
	}
	r = find_routes(ts, key.viommu, a->guest_sid);
	rt = route_of(r, key, &want[1]);
	if (!rt) {
		pthread_rwlock_unlock(&ts->lock);
		errno = ENOENT;
		return -1;
	}
	devtlb = NULL;
	if (rt->ats_attaches && (a->dev->ats || rt->attaches == rt->ats_attaches)) {
		devtlb = domain_tag(d, &want[1]);
		rt->ats_attaches--;
	}
	rt->tag.users = rt->ats_attaches;
	if (--rt->attaches == 0) {
		*rt = r->routes[--r->n];
		if (!r->n)
			unlink_routes(ts, r);
	}
	/* Drop the later tag first: drop_tag() moves the ones after it. */
	if (devtlb && devtlb > iotlb) {
		drop_tag(ts, d, devtlb);
		drop_tag(ts, d, iotlb);
	} else {
		drop_tag(ts, d, iotlb);
		if (devtlb)
			drop_tag(ts, d, devtlb);
	}
	if (!d->ntags)
		unlink_domain(ts, d);
	pthread_rwlock_unlock(&ts->lock);
	return 0;
}

size_t tag_store_domains(struct tag_store *ts)
{
	size_t n;

	pthread_rwlock_rdlock(&ts->lock);
	n = ts->by_key.count;
	pthread_rwlock_unlock(&ts->lock);
	return n;
}

size_t tag_store_tags(struct tag_store *ts)
{
	size_t n;

	pthread_rwlock_rdlock(&ts->lock);
	n = ts->ntags;
	pthread_rwlock_unlock(&ts->lock);
	return n;
}

void tag_store_read_lock(struct tag_store *ts)
{
	pthread_rwlock_rdlock(&ts->lock);
}

void tag_store_read_unlock(struct tag_store *ts)
{
	pthread_rwlock_unlock(&ts->lock);
}

const struct tag_domain *tag_store_find(struct tag_store *ts, struct guest_domain_key key)
{
	return find_domain(ts, key);
}

const struct cache_tag *tag_domain_tags(const struct tag_domain *d, size_t *n)
{
	*n = d->ntags;
	return d->tags;
}

size_t tag_store_each_domain(struct tag_store *ts, uint16_t viommu, bool all_dids, uint16_t did,
			     void (*fn)(const struct tag_domain *d, void *arg), void *arg)
{
	size_t visited = 0;

	if (all_dids) {
		for (size_t i = 0; i < ts->by_key.nbuckets; i++)
			for (struct tag_domain *d = ts->by_key.buckets[i]; d; d = d->key_next)
				if (d->key.viommu == viommu) {
					fn(d, arg);
					visited++;
				}
		return visited;
	}
	for (struct tag_domain *d = ts->by_did.buckets[hash_did(viommu, did) & (ts->by_did.nbuckets - 1)];
	     d; d = d->did_next)
		if (d->key.viommu == viommu && d->key.did == did) {
			fn(d, arg);
			visited++;
		}
	return visited;
}

size_t tag_store_each_devtlb(struct tag_store *ts, uint16_t viommu, uint16_t guest_sid,
			     bool any_pasid, uint32_t guest_pasid,
			     void (*fn)(const struct cache_tag *tag, void *arg), void *arg)
{
	struct dev_routes *r = find_routes(ts, viommu, guest_sid);
	size_t matched = 0;

	for (size_t i = 0; r && i < r->n; i++)
		if (r->routes[i].ats_attaches &&
		    (any_pasid || r->routes[i].guest_pasid == guest_pasid)) {
			fn(&r->routes[i].tag, arg);
			matched++;
		}
	return matched;
}
