/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The 64-bit mixer the caches' hash tables use (splitmix64's finalizer). */
#ifndef MEMTRACE_HASH_H
#define MEMTRACE_HASH_H

#include <stdint.h>

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
