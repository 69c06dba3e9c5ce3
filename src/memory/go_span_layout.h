/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a Go runtime keeps its spans (linux/amd64): the span of an address
 * is mheap_.arenas[0][arena].spans[page % 8192]; which runtime.mspan
 * fields say what about its objects; whether the runtime is the Green Tea
 * collector's. Offsets come from DWARF, else from a table per release
 * (go1.19-go1.27), mheap_'s address from .symtab, DWARF, or the code of a
 * function that names it.
 */
#ifndef MEMTRACE_GO_SPAN_LAYOUT_H
#define MEMTRACE_GO_SPAN_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* linux/amd64: arenaBaseOffset, heapArenaBytes, pageSize, arenaL1Bits 0, arenaL2Bits 22. */
#define GO_SPAN_ARENA_BASE_OFFSET 0xffff800000000000ULL
#define GO_SPAN_ARENA_SHIFT 26
#define GO_SPAN_PAGE_SHIFT 13
#define GO_SPAN_PAGES_PER_ARENA (1u << (GO_SPAN_ARENA_SHIFT - GO_SPAN_PAGE_SHIFT))
#define GO_SPAN_L2_ENTRIES (1u << 22)
/* The most objects a span holds: 8-byte objects in one page. */
#define GO_SPAN_MAX_NELEMS 1024
/*
 * Green Tea (runtime.spanInlineMarkBits): 128 bytes at the end of a small
 * object span's first page, {scans [63]uint8, owned, marks [63]uint8, class}.
 */
#define GO_SPAN_INLINE_BITS 128
#define GO_SPAN_INLINE_MARKS_OFF 64
#define GO_SPAN_INLINE_MARKS_LEN 63

/* The runtime.mspan fields read, in the order of the layout's arrays. */
enum go_span_field {
	GO_SPAN_START,		/* startAddr */
	GO_SPAN_NPAGES,
	GO_SPAN_FREEINDEX,	/* uintptr up to 1.21, uint16 from 1.22 */
	GO_SPAN_NELEMS,		/* likewise */
	GO_SPAN_ALLOCBITS,
	GO_SPAN_MARKBITS,	/* gcmarkBits */
	GO_SPAN_SWEEPGEN,
	GO_SPAN_SPANCLASS,
	GO_SPAN_STATE,
	GO_SPAN_ELEMSIZE,
	GO_SPAN_LIMIT,
	GO_SPAN_NFIELDS,
};

struct go_span_layout {
	uint64_t mheap;			/* link-time address of runtime.mheap_ */
	uint32_t mheap_sweepgen;	/* offsets in runtime.mheap */
	uint32_t mheap_arenas;
	uint32_t arena_spans;		/* in runtime.heapArena */
	uint16_t off[GO_SPAN_NFIELDS];	/* in runtime.mspan */
	uint8_t size[GO_SPAN_NFIELDS];	/* bytes: 1, 2, 4 or 8 */
	/*
	 * Go 1.22+: a small object with pointers over 512 bytes starts with an
	 * 8-byte header, and mallocgc returns the address after it.
	 */
	bool malloc_header;
	/* Green Tea: spans of 16 to 512-byte objects keep their marks inline. */
	bool inline_marks;
	const char *source;		/* "dwarf" or "table" */
	const char *addr_source;	/* "symtab", "dwarf" or "code" */
};

/* An mspan's fields as read. */
struct go_span_info {
	uint64_t start, npages, limit, freeindex, nelems, elemsize, alloc_bits, mark_bits;
	uint32_t sweepgen;
	uint8_t spanclass, state;
};

/* The pure parts, apart for tests. */

/*
 * The layout of a release ("go1.19", "go1.22.12", "go1.26.8-X:nogreenteagc")
 * without the mheap_ address. -ENOENT for a version the table does not know.
 */
int go_span_layout__table(const char *version, struct go_span_layout *lo);
/*
 * Where addr's span pointer is: the arena's index in mheap_.arenas[0] and
 * the page's in heapArena.spans. -ERANGE for an address no arena can hold.
 */
int go_span_layout__index(uint64_t addr, uint32_t *arena, uint32_t *page);
/* Bytes of an mspan to read for the layout's fields. */
size_t go_span_layout__span_len(const struct go_span_layout *lo);
/* Decode a span read from its start (at least span_len bytes). */
void go_span_layout__decode(const struct go_span_layout *lo, const uint8_t *buf,
			    struct go_span_info *s);
/* Whether the span keeps its marks inline (Green Tea, 16 <= elemsize <= 512). */
bool go_span_layout__inline_marks(const struct go_span_layout *lo, const struct go_span_info *s);
/*
 * The one base B such that B + every offset is among a function's
 * rip-relative targets. 0, or -ENOENT when none or more than one fits.
 */
int go_span_layout__find_base(const uint64_t *targets, size_t n, const uint32_t *offs,
			      size_t noffs, uint64_t *base);

/* The I/O part. */

struct Elf;
/*
 * The layout and mheap_'s address in the executable (version as in its
 * .go.buildinfo). 0, or -errno with note saying why spans cannot be read.
 */
int go_span_layout__open(struct Elf *elf, const char *version, struct go_span_layout *lo,
			 char *note, size_t note_len);

#endif
