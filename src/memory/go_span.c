/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include "memory/go_span.h"
#include "memory/go_heap.h"
#include "symbols/elf_handle.h"

#define MHEAP "runtime.mheap_"
/* A function that names mheap_, mheap_.sweepgen and mheap_.arenas rip-relative, 1.19-1.23. */
#define SWEEP_FUNC "runtime.(*sweepLocked).sweep"
#define PAGE_SIZE_GO (1ULL << GO_SPAN_PAGE_SHIFT)
/* User-space addresses on x86-64: a pointer past this is not the runtime's. */
#define MAX_USER_ADDR (1ULL << 47)
/* Offsets past these are not structures this reader knows. */
#define MAX_MHEAP_OFF (1u << 20)
#define MAX_ARENA_OFF (4u << 20)
#define MAX_SPAN_OFF 512
/* A span that kept changing while read is left unknown after this many rounds. */
#define ROUNDS 3
/* Small-object size classes over this hold a malloc header when the runtime uses them. */
#define MIN_SIZE_FOR_HEADER 512
#define MALLOC_HEADER 8
#define SPAN_IN_USE 1		/* mSpanInUse, 1.19-1.23 */

struct go_span {
	struct go_span_layout lo;
	struct go_exe_base base;
	char version[GO_HEAP_VERSION_MAX];
};

/* ---------------------------------------------------------------- pure */

static const char *const field_names[GO_SPAN_NFIELDS] = {
	[GO_SPAN_START] = "startAddr",
	[GO_SPAN_NPAGES] = "npages",
	[GO_SPAN_FREEINDEX] = "freeindex",
	[GO_SPAN_NELEMS] = "nelems",
	[GO_SPAN_ALLOCBITS] = "allocBits",
	[GO_SPAN_MARKBITS] = "gcmarkBits",
	[GO_SPAN_SWEEPGEN] = "sweepgen",
	[GO_SPAN_SPANCLASS] = "spanclass",
	[GO_SPAN_STATE] = "state",
	[GO_SPAN_ELEMSIZE] = "elemsize",
	[GO_SPAN_LIMIT] = "limit",
};

/*
 * By release (amd64), read off the DWARF of binaries each release's
 * compiler built (go1.19.8, go1.21.13, go1.22.12, go1.23.5) and added up
 * again from its runtime/mheap.go:
 * - mspan: next, prev, list, startAddr @24, npages @32, manualFreeList, then
 *   1.19/1.21: freeindex, nelems uintptr @48/@56, allocCache, allocBits @72,
 *   gcmarkBits @80; 1.21 adds pinnerBits @88 and so moves sweepgen to 96
 *   (divMul, allocCount u16, spanclass @106, state @107, needzero,
 *   isUserArenaChunk, allocCountBeforeCache u16, elemsize @112, limit @120);
 *   1.19 has sweepgen @88, spanclass @98, state @99, elemsize @104,
 *   limit @112. 1.22 and 1.23: freeindex, nelems, freeIndexForScan uint16
 *   @48/@50/@52, allocCache @56, allocBits @64, gcmarkBits @72, pinnerBits,
 *   sweepgen @88, spanclass @98, state @99, elemsize @104, limit @112.
 * - heapArena.spans: after the 2 MiB 2-bit bitmap (1.19: 2097152), after the
 *   1 MiB bitmap and its 16 KiB noMorePtrs (1.21: 1064960), first (1.22's
 *   default allocation headers leave heapArenaPtrScalar empty; 1.23).
 * - mheap: sweepgen right after pages (a pageAlloc: 65832 bytes in 1.19,
 *   which starts it at 16 after lock and a uint32; 65848 from 1.21, at 8);
 *   arenas 88 bytes later (allspans, pagesInUse, pagesSwept,
 *   pagesSweptBasis, sweepHeapLiveBasis, sweepPagesPerByte, reclaimIndex,
 *   reclaimCredit), and 64 more from 1.22 (a cpu.CacheLinePad).
 * go1.20 is from sources alone (go1.20.2's runtime; no go1.20 compiler
 * here, so no binary was read or run), added up as above, which reproduces
 * the DWARF-read 1.19 and 1.21 entries: mspan as 1.19's (isUserArenaChunk
 * takes the byte after needzero, which was padding); heapArena.spans at
 * 1064960 as 1.21 (the same 1 MiB bitmap and noMorePtrs); mheap.pages at 8
 * and a pageAlloc of 65808 bytes (1.19's without its two uint32 pads and
 * scav.assistTime), so sweepgen @65816 and arenas @65904. Other patch
 * releases of a listed minor version are assumed to share its layout.
 */
static const struct {
	const char *minor;
	uint32_t sweepgen, arenas, spans;
	uint16_t off[GO_SPAN_NFIELDS];
	uint8_t size[GO_SPAN_NFIELDS];
} layout_table[] = {
	{ "go1.19", 65848, 65936, 2097152,
	  { 24, 32, 48, 56, 72, 80, 88, 98, 99, 104, 112 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ "go1.20", 65816, 65904, 1064960,
	  { 24, 32, 48, 56, 72, 80, 88, 98, 99, 104, 112 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ "go1.21", 65856, 65944, 1064960,
	  { 24, 32, 48, 56, 72, 80, 96, 106, 107, 112, 120 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ "go1.22", 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ "go1.23", 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
};

/* "go1.19" or "go1.19.N" for minor "go1.19": not "go1.190", "go1.19rc1" or "go1.19-devel". */
static bool is_release_of(const char *version, const char *minor)
{
	size_t n = strlen(minor);

	if (strncmp(version, minor, n))
		return false;
	if (version[n] == '\0')
		return true;
	return version[n] == '.' && version[n + 1] &&
	       strspn(version + n + 1, "0123456789") == strlen(version + n + 1);
}

/*
 * Go 1.22+ allocation headers go with a heapArena that has no pointer
 * bitmap before spans (1.22 built with GOEXPERIMENT=noallocheaders keeps
 * both): what the layout says, whatever the version string.
 */
static bool has_malloc_header(const struct go_span_layout *lo)
{
	return lo->arena_spans == 0;
}

int go_span__table_layout(const char *version, struct go_span_layout *lo)
{
	size_t i;

	for (i = 0; i < sizeof(layout_table) / sizeof(layout_table[0]); i++) {
		if (!is_release_of(version, layout_table[i].minor))
			continue;
		memset(lo, 0, sizeof(*lo));
		lo->mheap_sweepgen = layout_table[i].sweepgen;
		lo->mheap_arenas = layout_table[i].arenas;
		lo->arena_spans = layout_table[i].spans;
		memcpy(lo->off, layout_table[i].off, sizeof(lo->off));
		memcpy(lo->size, layout_table[i].size, sizeof(lo->size));
		lo->malloc_header = has_malloc_header(lo);
		lo->source = "table";
		return 0;
	}
	return -ENOENT;
}

int go_span__index(uint64_t addr, uint32_t *arena, uint32_t *page)
{
	/* arenaIndex: (p - arenaBaseOffset) / heapArenaBytes, wrapping as uintptr does. */
	uint64_t ai = (addr - GO_SPAN_ARENA_BASE_OFFSET) >> GO_SPAN_ARENA_SHIFT;

	if (ai >= GO_SPAN_L2_ENTRIES)
		return -ERANGE;
	*arena = (uint32_t)ai;
	*page = (uint32_t)((addr >> GO_SPAN_PAGE_SHIFT) % GO_SPAN_PAGES_PER_ARENA);
	return 0;
}

static uint64_t field(const uint8_t *buf, uint16_t off, uint8_t size)
{
	uint64_t v = 0;

	/* Little-endian: the low bytes of v. */
	memcpy(&v, buf + off, size <= 8 ? size : 8);
	return v;
}

size_t go_span__span_len(const struct go_span_layout *lo)
{
	size_t len = 0;
	int i;

	for (i = 0; i < GO_SPAN_NFIELDS; i++)
		if ((size_t)lo->off[i] + lo->size[i] > len)
			len = (size_t)lo->off[i] + lo->size[i];
	return len;
}

void go_span__decode(const struct go_span_layout *lo, const uint8_t *buf, struct go_span_info *s)
{
#define F(id) field(buf, lo->off[id], lo->size[id])
	s->start = F(GO_SPAN_START);
	s->npages = F(GO_SPAN_NPAGES);
	s->freeindex = F(GO_SPAN_FREEINDEX);
	s->nelems = F(GO_SPAN_NELEMS);
	s->alloc_bits = F(GO_SPAN_ALLOCBITS);
	s->mark_bits = F(GO_SPAN_MARKBITS);
	s->sweepgen = (uint32_t)F(GO_SPAN_SWEEPGEN);
	s->spanclass = (uint8_t)F(GO_SPAN_SPANCLASS);
	s->state = (uint8_t)F(GO_SPAN_STATE);
	s->elemsize = F(GO_SPAN_ELEMSIZE);
	s->limit = F(GO_SPAN_LIMIT);
#undef F
}

static bool user_ptr(uint64_t p)
{
	return p && !(p & 7) && p < MAX_USER_ADDR;
}

bool go_span__sane(const struct go_span_info *s)
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

uint32_t go_span__alloc_gen(uint32_t span_sweepgen)
{
	/*
	 * Allocation happens from swept spans: sweepgen h (a new span, or a
	 * large object's) or h+3 (swept and cached); mheap_.sweepgen is even.
	 */
	return span_sweepgen & 1 ? span_sweepgen - 3 : span_sweepgen;
}

enum go_obj_state go_span__obj_state(const struct go_span_info *s, uint32_t heap_sg,
				     const uint8_t *alloc, const uint8_t *mark, size_t bits_len,
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
	 * marks of the GC after it are in gcmarkBits, not applied yet.
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
		kept = pending ? bit(mark, idx) : occupied;
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
		kept = bit(mark, idx);
	} else {
		/*
		 * A sweep sets allocBits to that GC's marks: the object was marked,
		 * and with it seen live at the sweep before, the slot could not
		 * have been handed to another object in between.
		 */
		kept = bit(alloc, idx) && (!pending || bit(mark, idx));
	}
	if (!kept)
		return GO_OBJ_FREE;
	o->gen = span_gen;
	o->through_gc = true;
	return sweeps <= 1 ? GO_OBJ_LIVE : GO_OBJ_LIKELY_LIVE;
}

static bool has_target(const uint64_t *t, size_t n, uint64_t want)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == want)
			return true;
	return false;
}

int go_span__find_base(const uint64_t *targets, size_t n, const uint32_t *offs, size_t noffs,
		       uint64_t *base)
{
	uint64_t found = 0, b;
	size_t i, k;

	if (!noffs)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		if (targets[i] < offs[0])
			continue;
		b = targets[i] - offs[0];
		if (b == found)
			continue;
		for (k = 1; k < noffs && has_target(targets, n, b + offs[k]); k++)
			;
		if (k < noffs)
			continue;
		if (found)
			return -ENOENT;
		found = b;
	}
	if (!found)
		return -ENOENT;
	*base = found;
	return 0;
}

/* ---------------------------------------------------------------- the check */

/* Per object: where its reads are, by index in this round's batches. */
struct obj_work {
	uint32_t arena, page;
	uint32_t arena_k, page_k, span_k;
	bool pending;
};

struct span_work {
	uint64_t ptr;
	uint8_t *raw[2];	/* the span read twice */
	struct go_span_info info;
	uint8_t alloc[GO_SPAN_MAX_NELEMS / 8], mark[GO_SPAN_MAX_NELEMS / 8];
	size_t bits_len;
	bool read, bits;
};

struct span_ref {
	uint64_t span;
	uint32_t obj;
};

struct check {
	const struct go_span_layout *lo;
	go_span_readv_fn readv;
	void *ctx;
	struct go_obj *objs;
	size_t n;
	uint8_t *state;
	uint32_t *order;	/* objects by address */
	struct obj_work *w;
	struct go_span_read *reads;
	uint64_t l1;		/* mheap_.arenas[0] this round */
	uint64_t *arena_words;	/* heapArena pointers, by arena_k */
	uint64_t *page_words;	/* span pointers, by page_k */
	struct span_ref *refs;
	struct span_work *spans;
	size_t span_len;
};

static int by_addr(const void *a, const void *b, void *arg)
{
	struct go_obj *objs = arg;
	uint64_t x = objs[*(const uint32_t *)a].addr, y = objs[*(const uint32_t *)b].addr;

	return x < y ? -1 : x > y;
}

static int by_span(const void *a, const void *b)
{
	const struct span_ref *x = a, *y = b;

	return x->span < y->span ? -1 : x->span > y->span;
}

static void settle(struct check *c, uint32_t i, enum go_obj_state st)
{
	c->state[i] = st;
	c->w[i].pending = false;
}

/* The heap's two words: mheap_.sweepgen, and mheap_.arenas[0] (arenaL1Bits is 0). */
static int read_heap(struct check *c, uint64_t mheap, uint32_t *sg, uint64_t *l1)
{
	struct go_span_read r[2] = {
		{ mheap + c->lo->mheap_sweepgen, sg, 4, 0 },
		{ mheap + c->lo->mheap_arenas, l1, 8, 0 },
	};
	int err = c->readv(c->ctx, r, 2);

	if (err)
		return err;
	return r[0].err ? r[0].err : r[1].err;
}

typedef bool (*key_fn)(struct check *c, uint32_t i, uint64_t *addr);

/*
 * Read one word for each distinct address key() gives the pending objects
 * (in address order equal ones are next to each other) into out; slot()
 * says where an object's word is. key() returns false for an object with
 * nothing to read, having settled it. A word that cannot be read is
 * UINT64_MAX: not a pointer.
 */
static int read_words(struct check *c, key_fn key, uint32_t *(*slot)(struct obj_work *),
		      uint64_t *out)
{
	size_t nr = 0, j;
	uint64_t k, last = 0;
	uint32_t i;
	int err;

	for (j = 0; j < c->n; j++) {
		i = c->order[j];
		if (!c->w[i].pending || !key(c, i, &k))
			continue;
		if (!nr || k != last) {
			c->reads[nr] = (struct go_span_read){ k, &out[nr], 8, 0 };
			last = k;
			nr++;
		}
		*slot(&c->w[i]) = (uint32_t)(nr - 1);
	}
	err = nr ? c->readv(c->ctx, c->reads, nr) : 0;
	if (err)
		return err;
	for (j = 0; j < nr; j++)
		if (c->reads[j].err)
			out[j] = UINT64_MAX;
	return 0;
}

static bool arena_key(struct check *c, uint32_t i, uint64_t *k)
{
	*k = c->l1 + (uint64_t)c->w[i].arena * 8;
	return true;
}

static uint32_t *arena_slot(struct obj_work *w)
{
	return &w->arena_k;
}

static bool page_key(struct check *c, uint32_t i, uint64_t *k)
{
	uint64_t ha = c->arena_words[c->w[i].arena_k];

	if (!ha) {
		settle(c, i, GO_OBJ_FREE);	/* no arena there: not in the heap (any more) */
		return false;
	}
	if (!user_ptr(ha)) {
		settle(c, i, GO_OBJ_UNKNOWN);
		return false;
	}
	*k = ha + c->lo->arena_spans + (uint64_t)c->w[i].page * 8;
	return true;
}

static uint32_t *page_slot(struct obj_work *w)
{
	return &w->page_k;
}

/* Read every listed span's bytes into raw[which]. */
static int read_spans(struct check *c, size_t ns, int which)
{
	size_t j;
	int err;

	for (j = 0; j < ns; j++)
		c->reads[j] = (struct go_span_read){ c->spans[j].ptr, c->spans[j].raw[which],
						     c->span_len, 0 };
	err = ns ? c->readv(c->ctx, c->reads, ns) : 0;
	if (err)
		return err;
	for (j = 0; j < ns; j++)
		c->spans[j].read = c->spans[j].read && !c->reads[j].err;
	return 0;
}

static bool wants_bits(const struct span_work *s)
{
	return s->read && s->info.state == SPAN_IN_USE && go_span__sane(&s->info);
}

/* Decode the first read of each span and read the bitmaps of those in use. */
static int read_bits(struct check *c, size_t ns)
{
	size_t nr = 0, j;
	struct span_work *s;
	int err;

	for (j = 0; j < ns; j++) {
		s = &c->spans[j];
		s->bits = false;
		if (s->read)
			go_span__decode(c->lo, s->raw[0], &s->info);
		if (!wants_bits(s))
			continue;
		s->bits_len = (size_t)(s->info.nelems + 7) / 8;
		c->reads[nr++] = (struct go_span_read){ s->info.alloc_bits, s->alloc, s->bits_len, 0 };
		c->reads[nr++] = (struct go_span_read){ s->info.mark_bits, s->mark, s->bits_len, 0 };
	}
	err = nr ? c->readv(c->ctx, c->reads, nr) : 0;
	if (err)
		return err;
	for (j = 0, nr = 0; j < ns; j++) {
		s = &c->spans[j];
		if (!wants_bits(s))
			continue;
		s->bits = !c->reads[nr].err && !c->reads[nr + 1].err;
		nr += 2;
	}
	return 0;
}

/*
 * The second read agrees with the first on all the rule uses but freeindex,
 * which only grows as slots are handed out (the first read's goes with the
 * bitmaps read after it).
 */
static bool span_stable(const struct check *c, const struct span_work *s)
{
	const struct go_span_info *a = &s->info;
	struct go_span_info b;

	go_span__decode(c->lo, s->raw[1], &b);
	return a->start == b.start && a->npages == b.npages && a->limit == b.limit &&
	       a->nelems == b.nelems && a->elemsize == b.elemsize &&
	       a->alloc_bits == b.alloc_bits && a->mark_bits == b.mark_bits &&
	       a->sweepgen == b.sweepgen && a->spanclass == b.spanclass && a->state == b.state &&
	       b.freeindex >= a->freeindex;
}

/* Group the pending objects by span pointer; returns how many spans. */
static size_t list_spans(struct check *c)
{
	size_t j, nref = 0, ns = 0;
	uint64_t sp;
	uint32_t i;

	for (j = 0; j < c->n; j++) {
		i = c->order[j];
		if (!c->w[i].pending)
			continue;
		sp = c->page_words[c->w[i].page_k];
		if (!sp) {
			settle(c, i, GO_OBJ_FREE);	/* no span ever on that page */
			continue;
		}
		if (!user_ptr(sp)) {
			settle(c, i, GO_OBJ_UNKNOWN);
			continue;
		}
		c->refs[nref++] = (struct span_ref){ sp, i };
	}
	/* One span's objects are contiguous, but stale entries of freed pages need not be. */
	qsort(c->refs, nref, sizeof(*c->refs), by_span);
	for (j = 0; j < nref; j++) {
		if (!ns || c->spans[ns - 1].ptr != c->refs[j].span) {
			c->spans[ns].ptr = c->refs[j].span;
			c->spans[ns].read = true;
			ns++;
		}
		c->w[c->refs[j].obj].span_k = (uint32_t)(ns - 1);
	}
	return ns;
}

static enum go_obj_state decide(const struct check *c, const struct span_work *s, uint32_t sg,
				struct go_obj *o)
{
	switch (s->info.state) {
	case SPAN_IN_USE:
		/* Not sane, or its bitmaps unreadable: a torn read, or not the process's layout. */
		if (!s->bits)
			return GO_OBJ_UNKNOWN;
		return go_span__obj_state(&s->info, sg, s->alloc, s->mark, s->bits_len, o,
					  c->lo->malloc_header);
	case 0:		/* mSpanDead: freed */
	case 2:		/* mSpanManual: freed, the pages now a stack's or the runtime's */
		return GO_OBJ_FREE;
	default:
		return GO_OBJ_UNKNOWN;
	}
}

/* One pass over the pending objects; those whose span changed while read stay pending. */
static int check_round(struct check *c, uint64_t mheap)
{
	uint32_t sg, sg2, i;
	uint64_t l1;
	size_t j, ns;
	struct span_work *s;
	int err;

	err = read_heap(c, mheap, &sg, &c->l1);
	if (err)
		return err;
	/* sweepgen only ever grows by 2. */
	if (!user_ptr(c->l1) || sg & 1)
		return -EPROTO;
	err = read_words(c, arena_key, arena_slot, c->arena_words);
	if (!err)
		err = read_words(c, page_key, page_slot, c->page_words);
	if (err)
		return err;
	ns = list_spans(c);
	err = read_spans(c, ns, 0);
	if (!err)
		err = read_bits(c, ns);
	/* Then the spans and the heap's sweepgen again: what changed meanwhile is read again. */
	if (!err)
		err = read_spans(c, ns, 1);
	if (!err)
		err = read_heap(c, mheap, &sg2, &l1);
	if (err)
		return err;
	for (j = 0; j < c->n; j++) {
		i = c->order[j];
		if (!c->w[i].pending)
			continue;
		s = &c->spans[c->w[i].span_k];
		if (!s->read)
			settle(c, i, GO_OBJ_UNKNOWN);
		else if (sg2 == sg && span_stable(c, s))
			settle(c, i, decide(c, s, sg, &c->objs[i]));
		/* else pending: the next round reads it again */
	}
	return 0;
}

int go_span__check_with(const struct go_span_layout *lo, uint64_t mheap_addr,
			go_span_readv_fn readv, void *ctx, struct go_obj *objs, size_t n,
			uint8_t *state, char *note, size_t note_len)
{
	struct check c = { .lo = lo, .readv = readv, .ctx = ctx, .objs = objs, .n = n,
			   .state = state, .span_len = go_span__span_len(lo) };
	uint8_t *raw = NULL;
	size_t j, pending;
	int err = 0, round;

	for (j = 0; j < n; j++)
		state[j] = GO_OBJ_UNKNOWN;
	if (!n)
		return 0;
	if (n > UINT32_MAX / 2)
		return -E2BIG;
	c.order = calloc(n, sizeof(*c.order));
	c.w = calloc(n, sizeof(*c.w));
	/* The largest batch: two bitmaps per span. */
	c.reads = calloc(2 * n, sizeof(*c.reads));
	c.arena_words = calloc(n, sizeof(*c.arena_words));
	c.page_words = calloc(n, sizeof(*c.page_words));
	c.refs = calloc(n, sizeof(*c.refs));
	c.spans = calloc(n, sizeof(*c.spans));
	raw = calloc(n, 2 * c.span_len);
	if (!c.order || !c.w || !c.reads || !c.arena_words || !c.page_words || !c.refs ||
	    !c.spans || !raw) {
		err = -ENOMEM;
		goto out;
	}
	for (j = 0; j < n; j++) {
		c.spans[j].raw[0] = raw + 2 * j * c.span_len;
		c.spans[j].raw[1] = c.spans[j].raw[0] + c.span_len;
		c.order[j] = (uint32_t)j;
		c.w[j].pending = true;
		if (go_span__index(objs[j].addr, &c.w[j].arena, &c.w[j].page))
			settle(&c, (uint32_t)j, GO_OBJ_FREE);	/* no arena can hold it */
	}
	qsort_r(c.order, n, sizeof(*c.order), by_addr, (void *)objs);
	for (round = 0; round < ROUNDS; round++) {
		err = check_round(&c, mheap_addr);
		if (err)
			break;
		for (j = 0, pending = 0; j < n; j++)
			pending += c.w[j].pending;
		if (!pending)
			break;
	}
	/* Pending after the last round (its span kept changing) stays unknown. */
out:
	if (err) {
		for (j = 0; j < n; j++)
			state[j] = GO_OBJ_UNKNOWN;
		if (err == -EPROTO)
			snprintf(note, note_len, MHEAP " does not read as the runtime's heap "
				 "(no arenas, or an odd sweepgen): not the layout memtrace expects");
		else if (err == -ENOMEM)
			snprintf(note, note_len, "out of memory checking %zu objects", n);
		else
			snprintf(note, note_len, "cannot read the runtime's heap: %s", strerror(-err));
	}
	free(c.order);
	free(c.w);
	free(c.reads);
	free(c.arena_words);
	free(c.page_words);
	free(c.refs);
	free(c.spans);
	free(raw);
	return err;
}

/* ---------------------------------------------------------------- the file */

/* A member's offset and byte size; size 0 when libdw cannot tell (a pointer in some versions). */
static int member(Dwarf_Die *st, const char *name, uint64_t *off, uint64_t *size)
{
	Dwarf_Die m, mt;
	Dwarf_Attribute at;
	Dwarf_Word o, sz;
	const char *n;

	if (dwarf_child(st, &m))
		return -ENOENT;
	do {
		if (dwarf_tag(&m) != DW_TAG_member || !(n = dwarf_diename(&m)) || strcmp(n, name))
			continue;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &at) || dwarf_formudata(&at, &o))
			return -ENOENT;
		*off = o;
		*size = 0;
		if (dwarf_attr_integrate(&m, DW_AT_type, &at) && dwarf_formref_die(&at, &mt)) {
			if (dwarf_aggregate_size(&mt, &sz) == 0)
				*size = sz;
			else if (dwarf_tag(&mt) == DW_TAG_pointer_type)
				*size = 8;
		}
		return 0;
	} while (dwarf_siblingof(&m, &m) == 0);
	return -ENOENT;
}

static bool size_fits(int id, uint64_t size)
{
	switch (id) {
	case GO_SPAN_FREEINDEX:
	case GO_SPAN_NELEMS:
		return size == 2 || size == 4 || size == 8;
	case GO_SPAN_SWEEPGEN:
		return size == 4;
	case GO_SPAN_SPANCLASS:
	case GO_SPAN_STATE:
		return size == 1;
	default:
		return size == 8;
	}
}

static int span_members(Dwarf_Die *st, struct go_span_layout *lo)
{
	uint64_t off, size;
	int i;

	for (i = 0; i < GO_SPAN_NFIELDS; i++) {
		if (member(st, field_names[i], &off, &size) || off > MAX_SPAN_OFF ||
		    !size_fits(i, size))
			return -ENOENT;
		lo->off[i] = (uint16_t)off;
		lo->size[i] = (uint8_t)size;
	}
	return 0;
}

struct dwarf_found {
	Dwarf_Die mspan, arena, mheap;
	bool have_mspan, have_arena, have_mheap;
	uint64_t addr;
};

static void scan_unit(Dwarf_Die *cu, struct dwarf_found *f)
{
	Dwarf_Die die, type;
	Dwarf_Attribute at;
	Dwarf_Op *ops;
	size_t nops;
	const char *name;
	int tag;

	if (dwarf_child(cu, &die))
		return;
	do {
		tag = dwarf_tag(&die);
		if ((tag != DW_TAG_structure_type && tag != DW_TAG_variable) ||
		    !(name = dwarf_diename(&die)))
			continue;
		if (tag == DW_TAG_structure_type && !f->have_mspan && !strcmp(name, "runtime.mspan")) {
			f->mspan = die;
			f->have_mspan = true;
		} else if (tag == DW_TAG_structure_type && !f->have_arena &&
			   !strcmp(name, "runtime.heapArena")) {
			f->arena = die;
			f->have_arena = true;
		} else if (tag == DW_TAG_variable && !f->have_mheap && !strcmp(name, MHEAP) &&
			   dwarf_attr(&die, DW_AT_type, &at) && dwarf_formref_die(&at, &type) &&
			   dwarf_peel_type(&type, &f->mheap) == 0) {
			f->have_mheap = true;
			if (dwarf_attr(&die, DW_AT_location, &at) &&
			    dwarf_getlocation(&at, &ops, &nops) == 0 && nops == 1 &&
			    ops[0].atom == DW_OP_addr)
				f->addr = ops[0].number;
		}
	} while (dwarf_siblingof(&die, &die) == 0);
}

/* The layout and mheap_'s address (0 if DWARF does not say) from DWARF. */
static int dwarf_layout(Elf *elf, struct go_span_layout *lo, uint64_t *addr)
{
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	struct dwarf_found f = { 0 };
	Dwarf_Off off = 0, next;
	Dwarf_Die cu;
	size_t hsize;
	uint64_t o, size;
	int err = -ENOENT;

	if (!dw)
		return -ENOENT;
	/* Go puts each package's variables and types in its own unit: look at every one. */
	while (!(f.have_mspan && f.have_arena && f.have_mheap) &&
	       dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		if (dwarf_offdie(dw, off + hsize, &cu))
			scan_unit(&cu, &f);
		off = next;
	}
	if (!f.have_mspan || !f.have_arena || !f.have_mheap || span_members(&f.mspan, lo))
		goto out;
	if (member(&f.arena, "spans", &o, &size) || o > MAX_ARENA_OFF ||
	    size != 8ULL * GO_SPAN_PAGES_PER_ARENA)
		goto out;
	lo->arena_spans = (uint32_t)o;
	if (member(&f.mheap, "sweepgen", &o, &size) || o > MAX_MHEAP_OFF || size != 4)
		goto out;
	lo->mheap_sweepgen = (uint32_t)o;
	/* [1 << arenaL1Bits]*[...]*heapArena: one pointer when arenaL1Bits is 0. */
	if (member(&f.mheap, "arenas", &o, &size) || o > MAX_MHEAP_OFF || size != 8)
		goto out;
	lo->mheap_arenas = (uint32_t)o;
	lo->malloc_header = has_malloc_header(lo);
	lo->source = "dwarf";
	*addr = f.addr;
	err = 0;
out:
	dwarf_end(dw);
	return err;
}

/* Without symbols: runtime.(*sweepLocked).sweep locks mheap_ and reads its sweepgen and arenas. */
static int code_addr(Elf *elf, const struct go_span_layout *lo, uint64_t *addr)
{
	uint32_t offs[3] = { 0, lo->mheap_sweepgen, lo->mheap_arenas };
	uint64_t *targets;
	size_t n;
	int err;

	err = go_heap__func_targets(elf, SWEEP_FUNC, &targets, &n);
	if (err)
		return err;
	err = go_span__find_base(targets, n, offs, 3, addr);
	free(targets);
	return err;
}

/* Experiments that change the runtime's structures the table describes. */
static const char *layout_experiment(Elf *elf)
{
	static const char *const which[] = { "allocheaders", "staticlockranking" };
	const uint8_t *data;
	size_t len, i;

	if (go_heap__section(elf, ".go.buildinfo", &data, &len))
		return NULL;
	for (i = 0; i < sizeof(which) / sizeof(which[0]); i++)
		if (memmem(data, len, which[i], strlen(which[i])))
			return which[i];
	return NULL;
}

int go_span__open(const char *path, const char *version, struct go_span **out, char *note,
		  size_t note_len)
{
	struct elf_handle h;
	struct go_span *gs;
	uint64_t dwarf_addr = 0, size = 0;
	const char *exp;
	int err;

	*out = NULL;
	err = go_heap__open_exe(path, &h, sizeof(*gs), (void **)&gs, note, note_len);
	if (err)
		return err;
	go_heap__exe_base(&h, &gs->base);
	/* The caller may not know it: go_heap__open fails on what it cannot read. */
	if (!version) {
		if (go_heap__version(h.elf, gs->version, sizeof(gs->version))) {
			snprintf(note, note_len, "no Go version in .go.buildinfo (Go 1.18+ needed)");
			err = -ENOEXEC;
			goto fail;
		}
		version = gs->version;
	}
	if (dwarf_layout(h.elf, &gs->lo, &dwarf_addr) == 0) {
		/* source set */
	} else if (go_span__table_layout(version, &gs->lo) == 0) {
		exp = layout_experiment(h.elf);
		if (exp) {
			snprintf(note, note_len, "%s: built with GOEXPERIMENT %s and without DWARF: "
				 "a span layout memtrace does not know", version, exp);
			err = -ENOENT;
			goto fail;
		}
	} else {
		snprintf(note, note_len, "%s: no DWARF and a version whose span layout memtrace "
			 "does not know (go1.19-go1.23; go1.20 from sources only)", version);
		err = -ENOENT;
		goto fail;
	}
	if (go_heap__symtab_addr(h.elf, MHEAP, &gs->lo.mheap, &size) == 0) {
		gs->lo.addr_source = "symtab";
		if (size && size < (uint64_t)(gs->lo.mheap_arenas > gs->lo.mheap_sweepgen ?
					      gs->lo.mheap_arenas : gs->lo.mheap_sweepgen) + 8) {
			snprintf(note, note_len, "%s: " MHEAP " is %" PRIu64 " bytes, too small for "
				 "sweepgen at %u and arenas at %u", version, size,
				 gs->lo.mheap_sweepgen, gs->lo.mheap_arenas);
			err = -ERANGE;
			goto fail;
		}
	} else if (dwarf_addr) {
		gs->lo.mheap = dwarf_addr;
		gs->lo.addr_source = "dwarf";
	} else if (code_addr(h.elf, &gs->lo, &gs->lo.mheap) == 0) {
		gs->lo.addr_source = "code";
	} else {
		snprintf(note, note_len, "%s: no symbol table, and " SWEEP_FUNC "'s code does "
			 "not show where " MHEAP " is", version);
		err = -ENOENT;
		goto fail;
	}
	elf_handle__close(&h);
	*out = gs;
	return 0;
fail:
	elf_handle__close(&h);
	free(gs);
	return err;
}

void go_span__free(struct go_span *gs)
{
	free(gs);
}

const struct go_span_layout *go_span__layout(const struct go_span *gs)
{
	return &gs->lo;
}

int go_span__bias(const struct go_span *gs, const struct proc_maps *maps, const char *path,
		  uint64_t *bias)
{
	return go_heap__base_bias(&gs->base, maps, path, bias);
}

/* process_vm_readv takes at most IOV_MAX (1024) iovecs a call. */
#define IOV_BATCH 1024

static int pid_readv(void *ctx, struct go_span_read *r, size_t n)
{
	pid_t pid = *(const pid_t *)ctx;
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t i = 0, k, j;
	ssize_t got;

	while (i < n) {
		k = n - i < IOV_BATCH ? n - i : IOV_BATCH;
		for (j = 0; j < k; j++) {
			local[j] = (struct iovec){ r[i + j].buf, r[i + j].len };
			remote[j] = (struct iovec){ (void *)(uintptr_t)r[i + j].addr, r[i + j].len };
		}
		got = process_vm_readv(pid, local, k, remote, k, 0);
		if (got < 0) {
			/* Only an unreadable address is one read's failure; anything else, the process's. */
			if (errno != EFAULT)
				return -errno;
			r[i++].err = -EFAULT;
			continue;
		}
		/* A short read stops at the first iovec it could not read: go on after it. */
		for (j = 0; j < k && (size_t)got >= r[i + j].len; j++) {
			got -= (ssize_t)r[i + j].len;
			r[i + j].err = 0;
		}
		if (j < k)
			r[i + j++].err = -EFAULT;
		i += j;
	}
	return 0;
}

int go_span__heap_sweepgen(const struct go_span *gs, pid_t pid, uint64_t bias, uint32_t *sg)
{
	struct go_span_read r = { gs->lo.mheap + bias + gs->lo.mheap_sweepgen, sg, 4, 0 };
	int err = pid_readv(&pid, &r, 1);

	return err ? err : r.err;
}

int go_span__check(const struct go_span *gs, pid_t pid, uint64_t bias, struct go_obj *objs,
		   size_t n, uint8_t *state, char *note, size_t note_len)
{
	return go_span__check_with(&gs->lo, gs->lo.mheap + bias, pid_readv, &pid, objs, n, state,
				   note, note_len);
}
