// SPDX-License-Identifier: MIT
/*
 * A read-only device-tree walker (no libfdt in a freestanding guest). Node
 * handles are byte offsets of FDT_BEGIN_NODE tokens in the structure block.
 */
#include "rt.h"

#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

static uint32_t align4(uint32_t x) { return (x + 3) & ~3U; }

static uint32_t token_at(const struct dt *dt, int off)
{
	if (off < 0 || (uint32_t)off + 4 > dt->struct_size)
		return FDT_END;
	return be32(dt->structs + off);
}

int dt_open(struct dt *dt, const void *blob)
{
	const uint8_t *b = blob;

	if (!b || be32(b) != FDT_MAGIC)
		return -1;
	/* Version 17 header; last_comp_version 16 is what every writer emits. */
	if (be32(b + 20) > 17 || be32(b + 24) < 16)
		return -1;
	dt->blob = b;
	dt->total_size = be32(b + 4);
	dt->structs = b + be32(b + 8);
	dt->strings = (const char *)b + be32(b + 12);
	dt->struct_size = be32(b + 36);
	return 0;
}

const char *dt_name(const struct dt *dt, int node)
{
	return (const char *)dt->structs + node + 4;
}

/* Offset of the token after the one at @off (which must not be FDT_END). */
static int next_token(const struct dt *dt, int off)
{
	switch (token_at(dt, off)) {
	case FDT_BEGIN_NODE:
		return off + 4 + (int)align4(strlen(dt_name(dt, off)) + 1);
	case FDT_PROP:
		return off + 12 + (int)align4(be32(dt->structs + off + 4));
	case FDT_END_NODE:
	case FDT_NOP:
		return off + 4;
	default:
		return -1;
	}
}

/* The offset just past the FDT_END_NODE closing @node. */
static int skip_node(const struct dt *dt, int node)
{
	int depth = 0;
	int off = node;

	do {
		uint32_t t = token_at(dt, off);

		if (t == FDT_BEGIN_NODE)
			depth++;
		else if (t == FDT_END_NODE)
			depth--;
		else if (t != FDT_PROP && t != FDT_NOP)
			return -1;
		off = next_token(dt, off);
	} while (depth > 0 && off >= 0);
	return off;
}

/* From @off (inside a node's body), the next child node at this level, or -1. */
static int child_from(const struct dt *dt, int off)
{
	while (off >= 0) {
		uint32_t t = token_at(dt, off);

		if (t == FDT_BEGIN_NODE)
			return off;
		if (t != FDT_PROP && t != FDT_NOP)
			return -1;
		off = next_token(dt, off);
	}
	return -1;
}

int dt_first_child(const struct dt *dt, int node) { return child_from(dt, next_token(dt, node)); }

int dt_next_sibling(const struct dt *dt, int node) { return child_from(dt, skip_node(dt, node)); }

/* "pci" matches "pci" and "pci@e0000000"; "cpu@1" matches only itself. */
static bool name_matches(const char *name, const char *comp, size_t len)
{
	bool has_unit = false;

	for (size_t i = 0; i < len; i++)
		has_unit |= comp[i] == '@';
	if (strncmp(name, comp, len))
		return false;
	return name[len] == '\0' || (name[len] == '@' && !has_unit);
}

int dt_find(const struct dt *dt, const char *path)
{
	int node = 0;

	/* The root node is the first token (after any NOPs). */
	while (token_at(dt, node) == FDT_NOP)
		node += 4;
	if (token_at(dt, node) != FDT_BEGIN_NODE || path[0] != '/')
		return -1;
	for (const char *p = path + 1; *p;) {
		size_t len = 0;

		while (p[len] && p[len] != '/')
			len++;
		int child = dt_first_child(dt, node);

		while (child >= 0 && !name_matches(dt_name(dt, child), p, len))
			child = dt_next_sibling(dt, child);
		if (child < 0)
			return -1;
		node = child;
		p += len;
		while (*p == '/')
			p++;
	}
	return node;
}

const void *dt_prop(const struct dt *dt, int node, const char *name, uint32_t *len)
{
	if (token_at(dt, node) != FDT_BEGIN_NODE)
		return NULL;
	for (int off = next_token(dt, node); off >= 0; off = next_token(dt, off)) {
		uint32_t t = token_at(dt, off);

		if (t == FDT_NOP)
			continue;
		if (t != FDT_PROP)
			return NULL;	/* properties precede subnodes */
		const uint8_t *p = dt->structs + off;

		if (!strcmp(dt->strings + be32(p + 8), name)) {
			if (len)
				*len = be32(p + 4);
			return p + 12;
		}
	}
	return NULL;
}

bool dt_prop_cells(const struct dt *dt, int node, const char *name, unsigned int index,
		   unsigned int cells, uint64_t *out)
{
	uint32_t len;
	const uint8_t *p = dt_prop(dt, node, name, &len);

	if (!p || cells < 1 || cells > 2 || (index + 1) * cells * 4 > len)
		return false;
	p += index * cells * 4;
	*out = cells == 2 ? be64(p) : be32(p);
	return true;
}
