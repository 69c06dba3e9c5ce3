/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a Go runtime keeps its spans: the layout table by release, the
 * arena and page index, decoding an mspan, Green Tea's inline marks, and
 * finding mheap_ from a function's operands.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "memory/go_span_layout.h"
#include "unit.h"

#define ARENA_BYTES (1ULL << GO_SPAN_ARENA_SHIFT)

static void test_table(void)
{
	struct go_span_layout lo;

	CHECK(go_span_layout__table("go1.19.8", &lo) == 0 && lo.mheap_sweepgen == 65848 &&
	      lo.mheap_arenas == 65936 && lo.arena_spans == 2097152 &&
	      lo.off[GO_SPAN_SWEEPGEN] == 88 && lo.off[GO_SPAN_LIMIT] == 112 &&
	      lo.size[GO_SPAN_FREEINDEX] == 8 && !lo.malloc_header && !lo.inline_marks &&
	      !strcmp(lo.source, "table"), "table: go1.19.8");
	CHECK(go_span_layout__table("go1.21.13", &lo) == 0 && lo.off[GO_SPAN_SWEEPGEN] == 96 &&
	      lo.off[GO_SPAN_STATE] == 107 && lo.arena_spans == 1064960 && !lo.malloc_header,
	      "table: go1.21 (pinnerBits moves sweepgen to 96)");
	CHECK(go_span_layout__table("go1.22.12", &lo) == 0 && lo.size[GO_SPAN_FREEINDEX] == 2 &&
	      lo.off[GO_SPAN_NELEMS] == 50 && lo.arena_spans == 0 && lo.mheap_arenas == 66008 &&
	      lo.malloc_header, "table: go1.22 (uint16 freeindex, malloc headers)");
	CHECK(go_span_layout__table("go1.23", &lo) == 0 && lo.malloc_header, "table: go1.23");
	/* go1.20: from its sources only; 1.19's mspan, 1.21's heapArena, a smaller pageAlloc. */
	CHECK(go_span_layout__table("go1.20.14", &lo) == 0 && lo.mheap_sweepgen == 65816 &&
	      lo.mheap_arenas == 65904 && lo.arena_spans == 1064960 &&
	      lo.off[GO_SPAN_FREEINDEX] == 48 && lo.size[GO_SPAN_FREEINDEX] == 8 &&
	      lo.off[GO_SPAN_NELEMS] == 56 && lo.off[GO_SPAN_ALLOCBITS] == 72 &&
	      lo.off[GO_SPAN_MARKBITS] == 80 && lo.off[GO_SPAN_SWEEPGEN] == 88 &&
	      lo.off[GO_SPAN_SPANCLASS] == 98 && lo.off[GO_SPAN_STATE] == 99 &&
	      lo.off[GO_SPAN_ELEMSIZE] == 104 && lo.off[GO_SPAN_LIMIT] == 112 &&
	      !lo.malloc_header && !strcmp(lo.source, "table"), "table: go1.20.14");
	CHECK(go_span_layout__table("go1.20", &lo) == 0 && go_span_layout__span_len(&lo) == 120,
	      "table: go1.20, 120 bytes of span read");
	CHECK(go_span_layout__table("go1.20rc3", &lo) == -ENOENT, "table: go1.20rc3 unknown");
	/* go1.24-go1.27: read off the DWARF of binaries each release built. */
	CHECK(go_span_layout__table("go1.24.0", &lo) == 0 && lo.mheap_sweepgen == 65856 &&
	      lo.mheap_arenas == 66008 && lo.arena_spans == 0 && lo.off[GO_SPAN_FREEINDEX] == 48 &&
	      lo.size[GO_SPAN_FREEINDEX] == 2 && lo.off[GO_SPAN_SWEEPGEN] == 88 &&
	      lo.off[GO_SPAN_ELEMSIZE] == 104 && lo.off[GO_SPAN_LIMIT] == 112 && lo.malloc_header &&
	      !lo.inline_marks, "table: go1.24.0, no Green Tea");
	CHECK(go_span_layout__table("go1.25.5", &lo) == 0 && !lo.inline_marks &&
	      go_span_layout__table("go1.25.5 X:greenteagc", &lo) == 0 && lo.inline_marks,
	      "table: go1.25, Green Tea with its experiment only");
	CHECK(go_span_layout__table("go1.26.8", &lo) == 0 && lo.inline_marks &&
	      lo.off[GO_SPAN_SWEEPGEN] == 88 &&
	      go_span_layout__table("go1.26.8-X:nogreenteagc", &lo) == 0 && !lo.inline_marks,
	      "table: go1.26, Green Tea unless turned off");
	CHECK(go_span_layout__table("go1.27.3", &lo) == 0 && lo.inline_marks &&
	      lo.mheap_arenas == 66008, "table: go1.27.3");
	CHECK(go_span_layout__table("go1.27.3 X:staticlockranking", &lo) == -ENOENT,
	      "table: another experiment is not assumed");
	CHECK(go_span_layout__table("go1.28.0", &lo) == -ENOENT, "table: go1.28 unknown");
	CHECK(go_span_layout__table("go1.22rc1", &lo) == -ENOENT,
	      "table: a release candidate is not assumed");
	CHECK(go_span_layout__table("go1.190", &lo) == -ENOENT, "table: go1.190 unknown");
	CHECK(go_span_layout__table("devel go1.23-abc", &lo) == -ENOENT, "table: devel unknown");
	CHECK(go_span_layout__table("go1.19.8", &lo) == 0 && go_span_layout__span_len(&lo) == 120,
	      "span_len: to the end of limit");
}

static void test_index(void)
{
	uint32_t a = 0, p = 0;

	CHECK(go_span_layout__index(0xc000000000ULL, &a, &p) == 0 &&
	      a == ((0xc000000000ULL + (1ULL << 47)) >> 26) && p == 0,
	      "index: the usual heap start");
	CHECK(go_span_layout__index(0xc000000000ULL + 3 * 8192 + 100, &a, &p) == 0 && p == 3,
	      "index: page within the arena");
	CHECK(go_span_layout__index(0xc000000000ULL + ARENA_BYTES + 8192, &a, &p) == 0 &&
	      a == ((0xc000000000ULL + (1ULL << 47)) >> 26) + 1 && p == 1, "index: next arena");
	CHECK(go_span_layout__index(0, &a, &p) == 0 && a == 1u << 21, "index: address 0 is arena 2^21");
	CHECK(go_span_layout__index((1ULL << 47) - 1, &a, &p) == 0 && a == GO_SPAN_L2_ENTRIES - 1 &&
	      p == GO_SPAN_PAGES_PER_ARENA - 1, "index: the last user address");
	CHECK(go_span_layout__index(1ULL << 47, &a, &p) == -ERANGE, "index: past user space refused");
}

static void put(uint8_t *buf, const struct go_span_layout *lo, int id, uint64_t v)
{
	memcpy(buf + lo->off[id], &v, lo->size[id]);
}

static void encode(uint8_t *buf, const struct go_span_layout *lo, const struct go_span_info *s)
{
	put(buf, lo, GO_SPAN_START, s->start);
	put(buf, lo, GO_SPAN_NPAGES, s->npages);
	put(buf, lo, GO_SPAN_FREEINDEX, s->freeindex);
	put(buf, lo, GO_SPAN_NELEMS, s->nelems);
	put(buf, lo, GO_SPAN_ALLOCBITS, s->alloc_bits);
	put(buf, lo, GO_SPAN_MARKBITS, s->mark_bits);
	put(buf, lo, GO_SPAN_SWEEPGEN, s->sweepgen);
	put(buf, lo, GO_SPAN_SPANCLASS, s->spanclass);
	put(buf, lo, GO_SPAN_STATE, s->state);
	put(buf, lo, GO_SPAN_ELEMSIZE, s->elemsize);
	put(buf, lo, GO_SPAN_LIMIT, s->limit);
}

/* A one-page span of 48-byte objects with pointers (size class 5), swept at generation 10. */
static struct go_span_info span48(void)
{
	return (struct go_span_info){
		.start = 0xc000010000ULL, .npages = 1, .limit = 0xc000010000ULL + 170 * 48,
		.freeindex = 5, .nelems = 170, .elemsize = 48, .alloc_bits = 0xc000400000ULL,
		.mark_bits = 0xc000400100ULL, .sweepgen = 10, .spanclass = 5 << 1, .state = 1,
	};
}

static void test_decode(void)
{
	struct go_span_layout lo;
	struct go_span_info s = span48(), d;
	uint8_t buf[128];

	go_span_layout__table("go1.22.12", &lo);
	memset(buf, 0xee, sizeof(buf));
	s.freeindex = 0x1234;	/* uint16 fields next to each other */
	s.nelems = 0x0102;
	encode(buf, &lo, &s);
	go_span_layout__decode(&lo, buf, &d);
	CHECK(d.start == s.start && d.freeindex == 0x1234 && d.nelems == 0x0102 &&
	      d.sweepgen == 10 && d.spanclass == 10 && d.state == 1 && d.limit == s.limit &&
	      d.alloc_bits == s.alloc_bits && d.mark_bits == s.mark_bits && d.elemsize == 48,
	      "decode: go1.22 fields, 2-byte ones included");
	go_span_layout__table("go1.19", &lo);
	s = span48();
	encode(buf, &lo, &s);
	go_span_layout__decode(&lo, buf, &d);
	CHECK(d.freeindex == 5 && d.nelems == 170 && d.sweepgen == 10 && d.state == 1,
	      "decode: go1.19 fields");
}

static void test_inline_marks(void)
{
	struct go_span_layout lo;
	struct go_span_info s = span48();

	go_span_layout__table("go1.26.8", &lo);
	CHECK(go_span_layout__inline_marks(&lo, &s), "inline: Green Tea, 48-byte objects");
	s.elemsize = 512;
	CHECK(go_span_layout__inline_marks(&lo, &s), "inline: up to 512 bytes");
	s.elemsize = 576;
	CHECK(!go_span_layout__inline_marks(&lo, &s), "inline: not past 512 (a malloc header's)");
	s.elemsize = 8;
	CHECK(!go_span_layout__inline_marks(&lo, &s), "inline: not for 8-byte objects");
	s.elemsize = 16;
	go_span_layout__table("go1.26.8-X:nogreenteagc", &lo);
	CHECK(!go_span_layout__inline_marks(&lo, &s), "inline: not without Green Tea");
}

static void test_find_base(void)
{
	const uint64_t B = 0x518680, M = 0x600000;
	uint32_t offs[3] = { 0, 65848, 65936 };
	uint64_t t1[] = { M, B + 65936, 0x4000, B, B + 65848, B + 8 };
	uint64_t t2[] = { B + 65848, B + 65936 };
	uint64_t t3[] = { B, B + 65848, B + 65936, M, M + 65848, M + 65936 };
	uint64_t base = 0;

	CHECK(go_span_layout__find_base(t1, 6, offs, 3, &base) == 0 && base == B, "find_base: one fit");
	CHECK(go_span_layout__find_base(t2, 2, offs, 3, &base) == -ENOENT,
	      "find_base: the base itself not named");
	CHECK(go_span_layout__find_base(t3, 6, offs, 3, &base) == -ENOENT, "find_base: two fits refused");
}

int main(void)
{
	test_table();
	test_index();
	test_decode();
	test_inline_marks();
	test_find_base();
	return unit_exit();
}
