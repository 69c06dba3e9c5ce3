/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The hashes of memtrace's tables, one per kind of key. */
#ifndef MEMTRACE_HASH_H
#define MEMTRACE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* One word (splitmix64's finalizer). */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Two words: b is mixed first, so that (a, b) and (b, a) hash apart. */
static inline uint64_t mix64_pair(uint64_t a, uint64_t b)
{
	return mix64(a ^ mix64(b));
}

/* Bytes of any length (FNV-1a): strings, and keys wider than two words. */
static inline uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif
