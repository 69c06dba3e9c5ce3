/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <string.h>
#include "memory/usable.h"

enum usable_kind usable__kind(const char *allocator)
{
	if (!allocator)
		return USABLE_UNKNOWN;
	if (!strcmp(allocator, "glibc"))
		return USABLE_GLIBC;
	if (!strcmp(allocator, "jemalloc"))
		return USABLE_JEMALLOC;
	return USABLE_UNKNOWN;
}

/* jemalloc 5's sz_s2u with LG_QUANTUM 4: 8, then 16-byte steps to 128, then 4 classes per doubling. */
static uint64_t jemalloc_usable(uint64_t size)
{
	uint64_t x, delta;
	int lg;

	if (size <= 8)
		return 8;
	if (size <= 128)
		return (size + 15) & ~15ull;
	if (size > (1ull << 62))
		return size;
	x = size - 1;
	lg = 63 - __builtin_clzll(x);
	delta = 1ull << (lg - 2);
	return (x + delta) & ~(delta - 1);
}

/*
 * glibc's request2size: the chunk is the request and its 8-byte size field,
 * rounded up to 16, at least 32; the block is the chunk less that field.
 * Blocks of the mmap threshold (128 KiB) and more are whole pages.
 */
static uint64_t glibc_usable(uint64_t size)
{
	uint64_t chunk;

	if (size >= (128u << 10))
		return ((size + 16 + 4095) & ~4095ull) - 16;
	chunk = (size + 8 + 15) & ~15ull;
	if (chunk < 32)
		chunk = 32;
	return chunk - 8;
}

uint64_t usable__size(enum usable_kind k, uint64_t size)
{
	switch (k) {
	case USABLE_GLIBC:
		return glibc_usable(size);
	case USABLE_JEMALLOC:
		return jemalloc_usable(size);
	default:
		return size;
	}
}
