/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdbool.h>
#include <stdint.h>
#include "memory/go_liveness.h"

#define PAGE_SIZE_GO (1ULL << GO_SPAN_PAGE_SHIFT)
/* User-space addresses on x86-64: a pointer past this is not the runtime's. */
#define MAX_USER_ADDR (1ULL << 47)
/* Small-object size classes over this hold a malloc header when the runtime uses them. */
#define MIN_SIZE_FOR_HEADER 512
#define MALLOC_HEADER 8
#define SPAN_IN_USE 1		/* mSpanInUse, 1.19-1.27 */

static bool user_ptr(uint64_t p)
{
	return p && !(p & 7) && p < MAX_USER_ADDR;
}

bool go_liveness__sane(const struct go_span_info *s)
{
	uint64_t bytes;

	if (s->start & (PAGE_SIZE_GO - 1) || !s->start || s->start >= MAX_USER_ADDR ||
	    !s->npages || s->npages > (MAX_USER_ADDR - s->start) >> GO_SPAN_PAGE_SHIFT)
		return false;
	bytes = s->npages << GO_SPAN_PAGE_SHIFT;
	if (s->limit <= s->start || s->limit - s->start > bytes)
		return false;
	if (!s->elemsize || s->elemsize > bytes || !s->nelems || s->nelems > GO_SPAN_MAX_NELEMS ||
	    s->nelems * s->elemsize > bytes || s->freeindex > s->nelems)
		return false;
	/* Size class 0: one large object, the whole span. */
	if (!(s->spanclass >> 1) && (s->nelems != 1 || s->elemsize != bytes))
		return false;
	/* gcBits are 8-byte aligned (mheap.go). */
	return user_ptr(s->alloc_bits) && user_ptr(s->mark_bits);
}

static bool bit(const uint8_t *bits, uint64_t i)
{
	return bits[i / 8] >> (i % 8) & 1;
}

uint32_t go_liveness__alloc_gen(uint32_t span_sweepgen)
{
	/*
	 * Allocation happens from swept spans: sweepgen h (a new span, or a
	 * large object's) or h+3 (swept and cached); mheap_.sweepgen is even.
	 */
	return span_sweepgen & 1 ? span_sweepgen - 3 : span_sweepgen;
}

/* Marked by the last GC: in gcmarkBits, or in Green Tea's inline marks until the sweep. */
static bool marked(const uint8_t *mark, const uint8_t *inline_marks, uint64_t i)
{
	return bit(mark, i) || (inline_marks && i / 8 < GO_SPAN_INLINE_MARKS_LEN &&
				bit(inline_marks, i));
}

enum go_obj_state go_liveness__obj_state(const struct go_span_info *s, uint32_t heap_sg,
					 const uint8_t *alloc, const uint8_t *mark,
					 const uint8_t *inline_marks, size_t bits_len,
					 struct go_obj *o, bool malloc_header)
{
	uint64_t off, idx, within, addr = o->addr;
	bool scan = !(s->spanclass & 1), small = s->spanclass >> 1, pending, occupied, kept;
	uint32_t span_gen, sweeps;

	if (s->state != SPAN_IN_USE || addr < s->start || addr >= s->limit)
		return GO_OBJ_FREE;
	/* Another size class in the slot now: the sampled object was freed with its span. */
	if (s->elemsize != o->size)
		return GO_OBJ_FREE;
	off = addr - s->start;
	idx = off / s->elemsize;
	within = off % s->elemsize;
	/*
	 * An object starts a slot; a tiny one shares a 16-byte block with
	 * others (the block is what the span knows); past a malloc header the
	 * address mallocgc returned is 8 bytes in.
	 */
	if (within && s->elemsize != 16 &&
	    !(malloc_header && within == MALLOC_HEADER && scan && small &&
	      s->elemsize > MIN_SIZE_FOR_HEADER))
		return GO_OBJ_FREE;
	if (idx >= s->nelems)
		return GO_OBJ_FREE;
	if (idx / 8 >= bits_len)
		return GO_OBJ_UNKNOWN;
	/*
	 * mheap.go: sweepgen h-2 needs sweeping, h-1 being swept, h swept, h+1
	 * cached before sweep began (needs sweeping), h+3 swept and cached. The
	 * span's bits then stand for the sweep at span_gen, and pending: the
	 * marks of the GC after it are in gcmarkBits (or inline), not applied yet.
	 */
	switch (s->sweepgen - heap_sg) {
	case (uint32_t)-2:
		span_gen = heap_sg - 2;
		pending = true;
		break;
	case 0:
	case 3:
		span_gen = heap_sg;
		pending = false;
		break;
	default:
		/* Being swept, or cached across a GC with marks not yet applied. */
		return GO_OBJ_UNKNOWN;
	}
	/* The allocator hands out slots from freeindex on; allocBits hold the rest. */
	occupied = idx < s->freeindex || bit(alloc, idx);
	if (!o->gen_known) {
		/* Nothing known of its history: whether the slot is taken now. */
		kept = pending ? marked(mark, inline_marks, idx) : occupied;
		return kept ? GO_OBJ_LIKELY_LIVE : GO_OBJ_FREE;
	}
	sweeps = (span_gen - o->gen) / 2;
	if ((int32_t)(span_gen - o->gen) < 0)
		return GO_OBJ_UNKNOWN;
	if (sweeps == 0 && !pending) {
		/* No GC since it was allocated, or since it was seen live: nothing freed it. */
		if (!occupied)
			return GO_OBJ_FREE;
		return o->through_gc ? GO_OBJ_LIVE : GO_OBJ_YOUNG;
	} else if (sweeps == 0) {
		/* The first GC since has marked: its verdict, not applied yet. */
		kept = marked(mark, inline_marks, idx);
	} else {
		/*
		 * A sweep sets allocBits to that GC's marks: the object was marked,
		 * and with it seen live at the sweep before, the slot could not
		 * have been handed to another object in between.
		 */
		kept = bit(alloc, idx) && (!pending || marked(mark, inline_marks, idx));
	}
	if (!kept)
		return GO_OBJ_FREE;
	o->gen = span_gen;
	o->through_gc = true;
	return sweeps <= 1 ? GO_OBJ_LIVE : GO_OBJ_LIKELY_LIVE;
}

