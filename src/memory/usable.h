/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an allocator hands out for a request: its size classes. The live
 * bytes memtrace counts are the bytes asked for (as heaptrack and valgrind
 * count them); the allocator's own figures (jemalloc's stats.allocated,
 * redis's allocator_allocated, glibc's uordblks) count what it handed out,
 * rounded up to its classes: 24 bytes asked of jemalloc take 32.
 */
#ifndef MEMTRACE_USABLE_H
#define MEMTRACE_USABLE_H

#include <stdint.h>

enum usable_kind {
	USABLE_UNKNOWN,
	USABLE_GLIBC,		/* ptmalloc chunks: request + 8, in 16-byte steps, at least 32 */
	USABLE_JEMALLOC,	/* jemalloc 5 size classes, 16-byte quantum, 4 per doubling */
};

/* The kind for an allocator as memtrace names it ("glibc", "jemalloc", ...). */
enum usable_kind usable__kind(const char *allocator);
/* Bytes the allocator hands out for a request of size bytes; size itself when unknown. */
uint64_t usable__size(enum usable_kind k, uint64_t size);

#endif
