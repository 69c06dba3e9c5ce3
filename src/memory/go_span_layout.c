/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include "memory/go_heap.h"
#include "memory/go_span_layout.h"
#include "memory/go_version.h"

#define MHEAP "runtime.mheap_"
/* A function that names mheap_, mheap_.sweepgen and mheap_.arenas rip-relative, 1.19-1.27. */
#define SWEEP_FUNC "runtime.(*sweepLocked).sweep"
/* Offsets past these are not structures this reader knows. */
#define MAX_MHEAP_OFF (1u << 20)
#define MAX_ARENA_OFF (4u << 20)
#define MAX_SPAN_OFF 512
/* Green Tea's inline marks: spans of objects from 16 bytes to heapBitsInSpan's 512. */
#define MIN_INLINE_SIZE 16
#define MAX_INLINE_SIZE 512

/* ---------------------------------------------------------------- tables */

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
 * scav.assistTime), so sweepgen @65816 and arenas @65904.
 * go1.24-go1.27 read off the DWARF of go1.24.0, go1.25.5 (and X:greenteagc),
 * go1.26.8 (and X:nogreenteagc) and go1.27.3 binaries: the fields read are
 * where 1.22 has them (mspan up to limit unchanged; heapArena.spans first;
 * mheap's later fields move, sweepgen and arenas do not). Other patch
 * releases of a listed minor version are assumed to share its layout.
 */
static const struct {
	unsigned minor;
	uint32_t sweepgen, arenas, spans;
	uint16_t off[GO_SPAN_NFIELDS];
	uint8_t size[GO_SPAN_NFIELDS];
} layout_table[] = {
	{ 19, 65848, 65936, 2097152,
	  { 24, 32, 48, 56, 72, 80, 88, 98, 99, 104, 112 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ 20, 65816, 65904, 1064960,
	  { 24, 32, 48, 56, 72, 80, 88, 98, 99, 104, 112 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ 21, 65856, 65944, 1064960,
	  { 24, 32, 48, 56, 72, 80, 96, 106, 107, 112, 120 }, { 8, 8, 8, 8, 8, 8, 4, 1, 1, 8, 8 } },
	{ 22, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ 23, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ 24, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ 25, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ 26, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
	{ 27, 65856, 66008, 0,
	  { 24, 32, 48, 50, 64, 72, 88, 98, 99, 104, 112 }, { 8, 8, 2, 2, 8, 8, 4, 1, 1, 8, 8 } },
};


/*
 * Go 1.22+ allocation headers go with a heapArena that has no pointer
 * bitmap before spans (1.22 built with GOEXPERIMENT=noallocheaders keeps
 * both): what the layout says, whatever the version string.
 */
static bool has_malloc_header(const struct go_span_layout *lo)
{
	return lo->arena_spans == 0;
}

int go_span_layout__table(const char *version, struct go_span_layout *lo)
{
	struct go_version v;
	size_t i;

	if (go_version__parse(version, &v) || !go_version__table_ok(&v))
		return -ENOENT;
	for (i = 0; i < sizeof(layout_table) / sizeof(layout_table[0]); i++) {
		if (layout_table[i].minor != v.minor)
			continue;
		memset(lo, 0, sizeof(*lo));
		lo->mheap_sweepgen = layout_table[i].sweepgen;
		lo->mheap_arenas = layout_table[i].arenas;
		lo->arena_spans = layout_table[i].spans;
		memcpy(lo->off, layout_table[i].off, sizeof(lo->off));
		memcpy(lo->size, layout_table[i].size, sizeof(lo->size));
		lo->malloc_header = has_malloc_header(lo);
		lo->inline_marks = go_version__green_tea(&v);
		lo->source = "table";
		return 0;
	}
	return -ENOENT;
}

/* ---------------------------------------------------------------- decoding */

int go_span_layout__index(uint64_t addr, uint32_t *arena, uint32_t *page)
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

size_t go_span_layout__span_len(const struct go_span_layout *lo)
{
	size_t len = 0;
	int i;

	for (i = 0; i < GO_SPAN_NFIELDS; i++)
		if ((size_t)lo->off[i] + lo->size[i] > len)
			len = (size_t)lo->off[i] + lo->size[i];
	return len;
}

void go_span_layout__decode(const struct go_span_layout *lo, const uint8_t *buf,
			    struct go_span_info *s)
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

bool go_span_layout__inline_marks(const struct go_span_layout *lo, const struct go_span_info *s)
{
	/* gcUsesSpanInlineMarkBits: heapBitsInSpan(elemsize) && elemsize >= 16. */
	return lo->inline_marks && s->elemsize >= MIN_INLINE_SIZE &&
	       s->elemsize <= MAX_INLINE_SIZE;
}

static bool has_target(const uint64_t *t, size_t n, uint64_t want)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == want)
			return true;
	return false;
}

int go_span_layout__find_base(const uint64_t *targets, size_t n, const uint32_t *offs,
			      size_t noffs, uint64_t *base)
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

/* ---------------------------------------------------------------- the file */

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
	bool inline_marks;	/* runtime.spanInlineMarkBits is Green Tea's 128 bytes */
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
		if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.spanInlineMarkBits") &&
		    dwarf_bytesize(&die) == GO_SPAN_INLINE_BITS) {
			f->inline_marks = true;
		} else if (tag == DW_TAG_structure_type && !f->have_mspan &&
			   !strcmp(name, "runtime.mspan")) {
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
	lo->inline_marks = f.inline_marks;
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
	err = go_span_layout__find_base(targets, n, offs, 3, addr);
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

int go_span_layout__open(Elf *elf, const char *version, struct go_span_layout *lo, char *note,
			 size_t note_len)
{
	uint64_t dwarf_addr = 0, size = 0;
	const char *exp;

	/* DWARF says which collector it is too (a devel version string would not). */
	if (dwarf_layout(elf, lo, &dwarf_addr) == 0) {
		/* source set */
	} else if (go_span_layout__table(version, lo) == 0) {
		exp = layout_experiment(elf);
		if (exp) {
			snprintf(note, note_len, "%s: built with GOEXPERIMENT %s and without DWARF: "
				 "a span layout memtrace does not know", version, exp);
			return -ENOENT;
		}
	} else {
		snprintf(note, note_len, "%s: no DWARF, and memtrace's tables do not describe this "
			 "runtime's span layout (releases go1.19-go1.27, no experiment but the GC's; "
			 "go1.20 from sources only)", version);
		return -ENOENT;
	}
	if (go_heap__symtab_addr(elf, MHEAP, &lo->mheap, &size) == 0) {
		lo->addr_source = "symtab";
		if (size && size < (uint64_t)(lo->mheap_arenas > lo->mheap_sweepgen ?
					      lo->mheap_arenas : lo->mheap_sweepgen) + 8) {
			snprintf(note, note_len, "%s: " MHEAP " is %" PRIu64 " bytes, too small for "
				 "sweepgen at %u and arenas at %u", version, size,
				 lo->mheap_sweepgen, lo->mheap_arenas);
			return -ERANGE;
		}
	} else if (dwarf_addr) {
		lo->mheap = dwarf_addr;
		lo->addr_source = "dwarf";
	} else if (code_addr(elf, lo, &lo->mheap) == 0) {
		lo->addr_source = "code";
	} else {
		snprintf(note, note_len, "%s: no symbol table, and " SWEEP_FUNC "'s code does "
			 "not show where " MHEAP " is", version);
		return -ENOENT;
	}
	return 0;
}
