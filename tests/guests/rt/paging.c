// SPDX-License-Identifier: MIT
/*
 * Guest-built 4-level page tables. The VMM's identity map uses 2 MiB pages
 * and is the VMM's; tests that need 4 KiB granularity (a hole to fault on,
 * later DMA buffers behind a vIOMMU) build their own from this pool.
 */
#include "rt.h"

#define PT_POOL_PAGES 16
#define PT_ENTRIES 512

/* In .pagepool, outside .bss: pages are zeroed when handed out, not at boot. */
static uint64_t pool[PT_POOL_PAGES][PT_ENTRIES]
	__attribute__((section(".pagepool"), aligned(4096)));
static unsigned int pool_used;

static uint64_t *pt_alloc(void)
{
	if (pool_used == PT_POOL_PAGES)
		return NULL;
	uint64_t *p = pool[pool_used++];

	memset(p, 0, PAGE_SIZE);
	return p;
}

uint64_t *pt_new(void) { return pt_alloc(); }

static unsigned int index_at(uint64_t va, unsigned int level)
{
	/* level 3 = PML4 .. level 0 = PT */
	return (va >> (12 + 9 * level)) & (PT_ENTRIES - 1);
}

static uint64_t *table_of(uint64_t entry) { return (uint64_t *)(uintptr_t)(entry & PTE_ADDR_MASK); }

/* Replace a 2 MiB leaf with a table of 512 4 KiB pages mapping the same range. */
static int split_2m(uint64_t *pde)
{
	uint64_t *pt = pt_alloc();

	if (!pt)
		return -1;
	uint64_t base = *pde & PTE_ADDR_MASK & ~(PAGE_2M - 1);
	uint64_t flags = *pde & (PTE_P | PTE_W | PTE_U);

	for (unsigned int i = 0; i < PT_ENTRIES; i++)
		pt[i] = (base + i * PAGE_SIZE) | flags;
	*pde = (uintptr_t)pt | PTE_P | PTE_W | PTE_U;
	return 0;
}

/*
 * The entry for @va at @level (1 = PD, 0 = PT), creating intermediate
 * tables as needed; with @split a 2 MiB leaf on the way down is split.
 */
static uint64_t *walk(uint64_t *pml4, uint64_t va, unsigned int level, bool split)
{
	uint64_t *table = pml4;

	for (unsigned int l = 3; l > level; l--) {
		uint64_t *e = &table[index_at(va, l)];

		if (!(*e & PTE_P)) {
			uint64_t *next = pt_alloc();

			if (!next)
				return NULL;
			/* Permissions live in the leaves; upper levels allow everything. */
			*e = (uintptr_t)next | PTE_P | PTE_W | PTE_U;
		} else if (*e & PTE_PS) {
			if (!split || split_2m(e))
				return NULL;
		}
		table = table_of(*e);
	}
	return &table[index_at(va, level)];
}

int pt_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *pte = walk(pml4, va, 0, true);

	if (!pte)
		return -1;
	*pte = (pa & PTE_ADDR_MASK) | flags | PTE_P;
	return 0;
}

int pt_map_2m(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *pde = walk(pml4, va, 1, false);

	if (!pde || ((va | pa) & (PAGE_2M - 1)))
		return -1;
	*pde = pa | flags | PTE_P | PTE_PS;
	return 0;
}

int pt_identity_2m(uint64_t *pml4, uint64_t start, uint64_t end, uint64_t flags)
{
	for (uint64_t a = start; a < end; a += PAGE_2M)
		if (pt_map_2m(pml4, a, a, flags))
			return -1;
	return 0;
}

int pt_unmap(uint64_t *pml4, uint64_t va)
{
	uint64_t *pte = walk(pml4, va, 0, true);

	if (!pte)
		return -1;
	*pte = 0;
	if ((read_cr3() & PTE_ADDR_MASK) == (uintptr_t)pml4)
		invlpg(va);
	return 0;
}
