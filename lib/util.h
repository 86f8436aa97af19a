/* SPDX-License-Identifier: MIT */
/* Small helpers shared across folders: a hash mixer, array growth, hex digits. */
#ifndef TAGVMM_LIB_UTIL_H
#define TAGVMM_LIB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The value of hex digit @c, or -1 (the trace readers of hostvtd/ and replay/). */
static inline int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A 64-bit finalizer (MurmurHash3's fmix64): spreads keys over hash slots. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Make room for @need elements of @elem_size in *@array (capacity *@cap),
 * doubling from 8. Returns 0, or -1 with the array untouched.
 */
static inline int array_reserve(void **array, size_t *cap, size_t need, size_t elem_size)
{
	size_t n = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem_size)
		return -1;
	p = realloc(*array, n * elem_size);
	if (!p)
		return -1;
	*array = p;
	*cap = n;
	return 0;
}

#endif
