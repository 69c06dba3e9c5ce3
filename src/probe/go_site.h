/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where memtrace samples Go allocations: at a call of
 * runtime.publicationBarrier in the runtime's allocator, which every
 * allocation but a tiny one combined into the current 16-byte block passes
 * once its object is set up: in runtime.mallocgc (Go 1.19-1.23), in the
 * size-class helper mallocgc calls (mallocgcTiny, mallocgcSmallNoscan, ...,
 * mallocgcLarge: 1.24+), and in the size-specialized functions compiled
 * code calls directly and their slow paths (mallocgcSmallNoScanSC3, ...:
 * 1.27). A call is an instruction the kernel emulates, and Go keeps every
 * value live across a call in a stack slot: the code after the call
 * reloads the object's span from its slot, to pass it to
 * runtime.gcmarknewobject(span, x, ...) or to set span.freeIndexForScan =
 * span.freeindex. Decoding that code finds the slot, in stripped binaries
 * and whatever the release's register allocation. No return probe is ever
 * put on a Go function: this is an entry-style probe in the body.
 */
#ifndef MEMTRACE_GO_SITE_H
#define MEMTRACE_GO_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A function's code and the addresses the decoder needs. */
struct go_site_code {
	const uint8_t *code;
	size_t len;
	uint64_t addr;		/* of code[0] */
	uint64_t barrier;	/* runtime.publicationBarrier */
	uint64_t marknew;	/* runtime.gcmarknewobject; 0 if the binary has none */
	uint32_t freeindex_off;	/* runtime.mspan.freeindex */
};

struct go_publish_site {
	uint64_t offset;	/* of the call, from the function's start */
	uint32_t span_slot;	/* the object's *mspan at rsp + span_slot */
};

/*
 * The first call of publicationBarrier in the function after which every
 * path that uses the span reloads it from the same slot, never written
 * since (a second barrier, as mallocgcLarge's after zeroing, reloads no
 * span). 0; -ENODATA when the function calls no barrier; -ENOENT when its
 * code does not have the shape.
 */
int go_site__publish(const struct go_site_code *c, struct go_publish_site *out);

/*
 * Whether the function's code calls target (decoded from its start): 1 or
 * 0, -ENOENT when an instruction cannot be decoded.
 */
int go_site__calls(const uint8_t *code, size_t len, uint64_t addr, uint64_t target);

/* A function of the binary: its address, size, and whether it is the allocator's. */
struct go_func {
	uint64_t addr, size;
	bool alloc;
};

/*
 * The allocator's code as address ranges: funcs sorted by address, runs of
 * allocator functions with no other function between them merged. 0, or
 * -E2BIG when more than max ranges are needed.
 */
int go_site__ranges(const struct go_func *funcs, size_t n, uint64_t *lo, uint64_t *hi,
		    size_t max, size_t *nr);

#endif
