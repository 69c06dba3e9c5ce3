/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pure parts of the Go span reader: the layout table, the arena and
 * page index, decoding an mspan, its sanity, the liveness rule by sweep
 * state, finding mheap_ from a function's operands, and the whole check
 * over a fake process memory (torn reads included).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "memory/go_span.h"
#include "unit.h"

#define ARENA_BYTES (1ULL << GO_SPAN_ARENA_SHIFT)

static void test_table(void)
{
	struct go_span_layout lo;

	CHECK(go_span__table_layout("go1.19.8", &lo) == 0 && lo.mheap_sweepgen == 65848 &&
	      lo.mheap_arenas == 65936 && lo.arena_spans == 2097152 &&
	      lo.off[GO_SPAN_SWEEPGEN] == 88 && lo.off[GO_SPAN_LIMIT] == 112 &&
	      lo.size[GO_SPAN_FREEINDEX] == 8 && !lo.malloc_header && !strcmp(lo.source, "table"),
	      "table: go1.19.8");
	CHECK(go_span__table_layout("go1.21.13", &lo) == 0 && lo.off[GO_SPAN_SWEEPGEN] == 96 &&
	      lo.off[GO_SPAN_STATE] == 107 && lo.arena_spans == 1064960 && !lo.malloc_header,
	      "table: go1.21 (pinnerBits moves sweepgen to 96)");
	CHECK(go_span__table_layout("go1.22.12", &lo) == 0 && lo.size[GO_SPAN_FREEINDEX] == 2 &&
	      lo.off[GO_SPAN_NELEMS] == 50 && lo.arena_spans == 0 && lo.mheap_arenas == 66008 &&
	      lo.malloc_header, "table: go1.22 (uint16 freeindex, malloc headers)");
	CHECK(go_span__table_layout("go1.23", &lo) == 0 && lo.malloc_header, "table: go1.23");
	/* go1.20: from its sources only; 1.19's mspan, 1.21's heapArena, a smaller pageAlloc. */
	CHECK(go_span__table_layout("go1.20.14", &lo) == 0 && lo.mheap_sweepgen == 65816 &&
	      lo.mheap_arenas == 65904 && lo.arena_spans == 1064960 &&
	      lo.off[GO_SPAN_FREEINDEX] == 48 && lo.size[GO_SPAN_FREEINDEX] == 8 &&
	      lo.off[GO_SPAN_NELEMS] == 56 && lo.off[GO_SPAN_ALLOCBITS] == 72 &&
	      lo.off[GO_SPAN_MARKBITS] == 80 && lo.off[GO_SPAN_SWEEPGEN] == 88 &&
	      lo.off[GO_SPAN_SPANCLASS] == 98 && lo.off[GO_SPAN_STATE] == 99 &&
	      lo.off[GO_SPAN_ELEMSIZE] == 104 && lo.off[GO_SPAN_LIMIT] == 112 &&
	      !lo.malloc_header && !strcmp(lo.source, "table"), "table: go1.20.14");
	CHECK(go_span__table_layout("go1.20", &lo) == 0 && go_span__span_len(&lo) == 120,
	      "table: go1.20, 120 bytes of span read");
	CHECK(go_span__table_layout("go1.20rc3", &lo) == -ENOENT, "table: go1.20rc3 unknown");
	CHECK(go_span__table_layout("go1.24.0", &lo) == -ENOENT, "table: go1.24 unknown");
	CHECK(go_span__table_layout("go1.22rc1", &lo) == -ENOENT,
	      "table: a release candidate is not assumed");
	CHECK(go_span__table_layout("go1.190", &lo) == -ENOENT, "table: go1.190 unknown");
	CHECK(go_span__table_layout("devel go1.23-abc", &lo) == -ENOENT, "table: devel unknown");
	CHECK(go_span__table_layout("go1.19.8", &lo) == 0 && go_span__span_len(&lo) == 120,
	      "span_len: to the end of limit");
}

static void test_index(void)
{
	uint32_t a = 0, p = 0;

	CHECK(go_span__index(0xc000000000ULL, &a, &p) == 0 &&
	      a == ((0xc000000000ULL + (1ULL << 47)) >> 26) && p == 0,
	      "index: the usual heap start");
	CHECK(go_span__index(0xc000000000ULL + 3 * 8192 + 100, &a, &p) == 0 && p == 3,
	      "index: page within the arena");
	CHECK(go_span__index(0xc000000000ULL + ARENA_BYTES + 8192, &a, &p) == 0 &&
	      a == ((0xc000000000ULL + (1ULL << 47)) >> 26) + 1 && p == 1, "index: next arena");
	CHECK(go_span__index(0, &a, &p) == 0 && a == 1u << 21, "index: address 0 is arena 2^21");
	CHECK(go_span__index((1ULL << 47) - 1, &a, &p) == 0 && a == GO_SPAN_L2_ENTRIES - 1 &&
	      p == GO_SPAN_PAGES_PER_ARENA - 1, "index: the last user address");
	CHECK(go_span__index(1ULL << 47, &a, &p) == -ERANGE, "index: past user space refused");
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

	go_span__table_layout("go1.22.12", &lo);
	memset(buf, 0xee, sizeof(buf));
	s.freeindex = 0x1234;	/* uint16 fields next to each other */
	s.nelems = 0x0102;
	encode(buf, &lo, &s);
	go_span__decode(&lo, buf, &d);
	CHECK(d.start == s.start && d.freeindex == 0x1234 && d.nelems == 0x0102 &&
	      d.sweepgen == 10 && d.spanclass == 10 && d.state == 1 && d.limit == s.limit &&
	      d.alloc_bits == s.alloc_bits && d.mark_bits == s.mark_bits && d.elemsize == 48,
	      "decode: go1.22 fields, 2-byte ones included");
	go_span__table_layout("go1.19", &lo);
	s = span48();
	encode(buf, &lo, &s);
	go_span__decode(&lo, buf, &d);
	CHECK(d.freeindex == 5 && d.nelems == 170 && d.sweepgen == 10 && d.state == 1,
	      "decode: go1.19 fields");
}

static void test_sane(void)
{
	struct go_span_info s = span48();

	CHECK(go_span__sane(&s), "sane: a small span");
	s.start += 16;
	CHECK(!go_span__sane(&s), "sane: start not page-aligned refused");
	s = span48();
	s.limit = s.start + 8193;
	CHECK(!go_span__sane(&s), "sane: limit past the span's pages refused");
	s = span48();
	s.nelems = 171;
	CHECK(!go_span__sane(&s), "sane: more objects than fit refused");
	s = span48();
	s.freeindex = 171;
	CHECK(!go_span__sane(&s), "sane: freeindex past nelems refused");
	s = span48();
	s.alloc_bits = 0;
	CHECK(!go_span__sane(&s), "sane: no allocBits refused");
	s = span48();
	s.mark_bits = 1ULL << 50;
	CHECK(!go_span__sane(&s), "sane: gcmarkBits out of user space refused");
	s = (struct go_span_info){ .start = 0xc000020000ULL, .npages = 5,
				   .limit = 0xc000020000ULL + 40000, .nelems = 1,
				   .elemsize = 40960, .alloc_bits = 0xc000400000ULL,
				   .mark_bits = 0xc000400008ULL, .spanclass = 1, .state = 1 };
	CHECK(go_span__sane(&s), "sane: a large span (limit at the requested size)");
	s.elemsize = 8192;
	CHECK(!go_span__sane(&s), "sane: size class 0 not the whole span refused");
}

/* Without history (no generation known): what the slot holds now; "likely live" reads as live. */
static enum go_obj_state obj_state(const struct go_span_info *s, uint32_t h, const uint8_t *alloc,
				   const uint8_t *mark, size_t len, uint64_t addr, uint64_t size,
				   bool malloc_header)
{
	struct go_obj o = { .addr = addr, .size = size };
	enum go_obj_state r = go_span__obj_state(s, h, alloc, mark, len, &o, malloc_header);

	return r == GO_OBJ_LIKELY_LIVE ? GO_OBJ_LIVE : r;
}

static enum go_obj_state st(const struct go_span_info *s, uint32_t h, const uint8_t *alloc,
			    const uint8_t *mark, uint64_t idx, uint64_t size)
{
	return obj_state(s, h, alloc, mark, 32, s->start + idx * s->elemsize, size, false);
}

/* With history: object idx known allocated up to generation gen. */
static enum go_obj_state hist(const struct go_span_info *s, uint32_t h, const uint8_t *alloc,
			      const uint8_t *mark, uint64_t idx, uint32_t gen, bool through_gc,
			      uint32_t *gen_out)
{
	struct go_obj o = { .addr = s->start + idx * s->elemsize, .size = s->elemsize,
			    .gen_known = true, .gen = gen, .through_gc = through_gc };
	enum go_obj_state r = go_span__obj_state(s, h, alloc, mark, 32, &o, false);

	if (gen_out)
		*gen_out = o.gen;
	return r;
}

static void test_history(void)
{
	struct go_span_info s = span48();
	uint8_t alloc[32] = { 0 }, mark[32] = { 0 };
	uint32_t gen = 0;

	/* span48: sweepgen 10, freeindex 5. */
	alloc[10 / 8] |= 1 << (10 % 8);
	mark[20 / 8] |= 1 << (20 % 8);
	CHECK(go_span__alloc_gen(13) == 10 && go_span__alloc_gen(10) == 10,
	      "history: the generation of a span allocated from (h+3 cached, h new)");
	CHECK(hist(&s, 10, alloc, mark, 3, 10, false, NULL) == GO_OBJ_YOUNG,
	      "history: no GC since allocated: young (not in the figures yet)");
	CHECK(hist(&s, 10, alloc, mark, 3, 10, true, NULL) == GO_OBJ_LIVE,
	      "history: no GC since seen live: live");
	CHECK(hist(&s, 10, alloc, mark, 3, 8, false, &gen) == GO_OBJ_FREE,
	      "history: one sweep since, slot reused (below freeindex, allocBits clear): free");
	CHECK(hist(&s, 10, alloc, mark, 10, 8, false, &gen) == GO_OBJ_LIVE && gen == 10,
	      "history: one sweep since, allocBits set: live, seen at this sweep");
	CHECK(hist(&s, 10, alloc, mark, 10, 6, true, NULL) == GO_OBJ_LIKELY_LIVE,
	      "history: two sweeps since: the occupant survived, maybe not the object");
	/* Unswept (h - 2): the GC's marks are pending. */
	s.sweepgen = 8;
	CHECK(hist(&s, 10, alloc, mark, 20, 8, false, NULL) == GO_OBJ_LIVE,
	      "history: the first GC since marked it: live");
	CHECK(hist(&s, 10, alloc, mark, 3, 8, false, NULL) == GO_OBJ_FREE,
	      "history: the first GC since did not mark it: free");
	CHECK(hist(&s, 10, alloc, mark, 10, 6, true, NULL) == GO_OBJ_FREE,
	      "history: survived a sweep, unmarked by the next GC: free");
	CHECK(hist(&s, 10, alloc, mark, 3, 12, true, NULL) == GO_OBJ_UNKNOWN,
	      "history: a generation ahead of the span's: unknown");
}

static void test_rule(void)
{
	struct go_span_info s = span48(), t;
	uint8_t alloc[32] = { 0 }, mark[32] = { 0 };

	alloc[10 / 8] |= 1 << (10 % 8);
	mark[20 / 8] |= 1 << (20 % 8);
	/* Swept (span sweepgen == heap's). */
	CHECK(st(&s, 10, alloc, mark, 3, 48) == GO_OBJ_LIVE, "rule: swept, below freeindex: live");
	CHECK(st(&s, 10, alloc, mark, 10, 48) == GO_OBJ_LIVE, "rule: swept, allocBits set: live");
	CHECK(st(&s, 10, alloc, mark, 20, 48) == GO_OBJ_FREE,
	      "rule: swept, only a mark bit (a stale one): free");
	CHECK(st(&s, 10, alloc, mark, 5, 48) == GO_OBJ_FREE, "rule: swept, at freeindex, no bit: free");
	CHECK(st(&s, 7, alloc, mark, 10, 48) == GO_OBJ_LIVE, "rule: swept and cached (h+3): live");
	/* Not swept since the last mark (h - 2). */
	CHECK(st(&s, 12, alloc, mark, 20, 48) == GO_OBJ_LIVE, "rule: unswept, marked: live");
	CHECK(st(&s, 12, alloc, mark, 10, 48) == GO_OBJ_FREE,
	      "rule: unswept, allocated but unmarked: free (the sweep frees it)");
	CHECK(st(&s, 12, alloc, mark, 3, 48) == GO_OBJ_FREE,
	      "rule: unswept, below freeindex but unmarked: free");
	CHECK(st(&s, 11, alloc, mark, 10, 48) == GO_OBJ_UNKNOWN, "rule: being swept (h-1): unknown");
	CHECK(st(&s, 9, alloc, mark, 10, 48) == GO_OBJ_UNKNOWN,
	      "rule: cached before the sweep began (h+1): unknown");
	CHECK(st(&s, 30, alloc, mark, 10, 48) == GO_OBJ_UNKNOWN,
	      "rule: a sweepgen no state has: unknown");
	t = s;
	t.sweepgen = 0xfffffffeU;
	CHECK(st(&t, 0, alloc, mark, 20, 48) == GO_OBJ_LIVE, "rule: h-2 across the wrap of uint32");
	/* Where the object is. */
	CHECK(st(&s, 10, alloc, mark, 10, 64) == GO_OBJ_FREE,
	      "rule: another size class in the slot: free");
	CHECK(obj_state(&s, 10, alloc, mark, 32, s.start + 10 * 48 + 8, 48, false) ==
	      GO_OBJ_FREE, "rule: not at an object's start: free");
	CHECK(obj_state(&s, 10, alloc, mark, 32, s.limit, 48, false) == GO_OBJ_FREE,
	      "rule: at limit: free");
	CHECK(obj_state(&s, 10, alloc, mark, 32, s.start - 48, 48, false) == GO_OBJ_FREE,
	      "rule: before the span: free");
	t = s;
	t.state = 0;
	CHECK(st(&t, 10, alloc, mark, 10, 48) == GO_OBJ_FREE, "rule: span not in use: free");
	CHECK(obj_state(&s, 10, alloc, mark, 1, s.start + 10 * 48, 48, false) ==
	      GO_OBJ_UNKNOWN, "rule: bitmap shorter than the index: unknown");
	/* Tiny blocks: 16-byte slots, the object anywhere in one. */
	t = (struct go_span_info){ .start = 0xc000030000ULL, .npages = 1,
				   .limit = 0xc000030000ULL + 8192, .nelems = 512, .elemsize = 16,
				   .alloc_bits = 0xc000400000ULL, .mark_bits = 0xc000400100ULL,
				   .sweepgen = 10, .spanclass = (2 << 1) | 1, .state = 1 };
	CHECK(obj_state(&t, 10, alloc, mark, 32, t.start + 10 * 16 + 8, 16, false) ==
	      GO_OBJ_LIVE, "rule: a tiny object 8 bytes into its block: the block's state");
	/* Malloc headers (Go 1.22+): a scan object over 512 bytes returned 8 bytes in. */
	t = (struct go_span_info){ .start = 0xc000040000ULL, .npages = 1,
				   .limit = 0xc000040000ULL + 11 * 704, .nelems = 11,
				   .elemsize = 704, .alloc_bits = 0xc000400000ULL,
				   .mark_bits = 0xc000400100ULL, .sweepgen = 10, .freeindex = 2,
				   .spanclass = 40 << 1, .state = 1 };
	CHECK(obj_state(&t, 10, alloc, mark, 32, t.start + 704 + 8, 704, true) ==
	      GO_OBJ_LIVE, "rule: past a malloc header: the object's state");
	CHECK(obj_state(&t, 10, alloc, mark, 32, t.start + 704 + 8, 704, false) ==
	      GO_OBJ_FREE, "rule: 8 bytes in without malloc headers: free");
	t.spanclass |= 1;	/* noscan: no header */
	CHECK(obj_state(&t, 10, alloc, mark, 32, t.start + 704 + 8, 704, true) ==
	      GO_OBJ_FREE, "rule: 8 bytes into a pointer-free object: free");
}

static void test_find_base(void)
{
	const uint64_t B = 0x518680, M = 0x600000;
	uint32_t offs[3] = { 0, 65848, 65936 };
	uint64_t t1[] = { M, B + 65936, 0x4000, B, B + 65848, B + 8 };
	uint64_t t2[] = { B + 65848, B + 65936 };
	uint64_t t3[] = { B, B + 65848, B + 65936, M, M + 65848, M + 65936 };
	uint64_t base = 0;

	CHECK(go_span__find_base(t1, 6, offs, 3, &base) == 0 && base == B, "find_base: one fit");
	CHECK(go_span__find_base(t2, 2, offs, 3, &base) == -ENOENT,
	      "find_base: the base itself not named");
	CHECK(go_span__find_base(t3, 6, offs, 3, &base) == -ENOENT, "find_base: two fits refused");
}

/* ---------------------------------------------------------------- a fake process */

#define MAX_REGIONS 32

struct region {
	uint64_t addr;
	size_t len;
	uint8_t bytes[256];
};

struct fake {
	struct region r[MAX_REGIONS];
	int n;
	int calls;
	/* Torn reads: every second read of torn_addr, up to torn_until, has a bit flipped at torn_off. */
	uint64_t torn_addr;
	size_t torn_off;
	int torn_reads, torn_until;
	int fail;		/* a readv error for the whole batch */
};

static struct region *add_region(struct fake *f, uint64_t addr, const void *bytes, size_t len)
{
	struct region *r = &f->r[f->n++];

	r->addr = addr;
	r->len = len;
	memcpy(r->bytes, bytes, len);
	return r;
}

static void add_word(struct fake *f, uint64_t addr, uint64_t v)
{
	add_region(f, addr, &v, 8);
}

static int fake_readv(void *ctx, struct go_span_read *rd, size_t n)
{
	struct fake *f = ctx;
	size_t i;
	int k;

	f->calls++;
	if (f->fail)
		return f->fail;
	for (i = 0; i < n; i++) {
		rd[i].err = -EFAULT;
		for (k = 0; k < f->n; k++) {
			struct region *r = &f->r[k];

			if (rd[i].addr < r->addr || rd[i].addr + rd[i].len > r->addr + r->len)
				continue;
			memcpy(rd[i].buf, r->bytes + (rd[i].addr - r->addr), rd[i].len);
			if (r->addr == f->torn_addr && f->torn_reads++ % 2 &&
			    f->torn_reads <= f->torn_until)
				((uint8_t *)rd[i].buf)[f->torn_off] ^= 0x40;
			rd[i].err = 0;
			break;
		}
	}
	return 0;
}

#define MHEAP 0x500000ULL
#define L2 0x7f0000000000ULL
#define ARENA 0x7f1000000000ULL
#define SPAN 0x7f2000000000ULL
#define SPAN_DEAD 0x7f2000001000ULL
#define HEAP 0xc000000000ULL

static uint32_t arena_of(uint64_t addr)
{
	uint32_t a, p;

	go_span__index(addr, &a, &p);
	return a;
}

/*
 * mheap_ with sweepgen 10; the arena at HEAP and none after it; its page 16 in a swept span
 * of 48-byte objects (freeindex 5, object 10 set in allocBits), page 17 in a
 * freed span, page 18 in a span that cannot be read, page 19 never used.
 */
static void build(struct fake *f, const struct go_span_layout *lo)
{
	struct go_span_info s = span48();
	uint8_t buf[256] = { 0 }, bits[32] = { 0 };

	memset(f, 0, sizeof(*f));
	add_region(f, MHEAP + lo->mheap_sweepgen, (uint32_t[]){ 10 }, 4);
	add_word(f, MHEAP + lo->mheap_arenas, L2);
	add_word(f, L2 + (uint64_t)arena_of(HEAP) * 8, ARENA);
	add_word(f, L2 + (uint64_t)arena_of(HEAP) * 8 + 8, 0);	/* the next arena: none */
	add_word(f, ARENA + lo->arena_spans + 16 * 8, SPAN);
	add_word(f, ARENA + lo->arena_spans + 17 * 8, SPAN_DEAD);
	add_word(f, ARENA + lo->arena_spans + 18 * 8, 0x7f3000000000ULL);
	add_word(f, ARENA + lo->arena_spans + 19 * 8, 0);
	s.start = HEAP + 16 * 8192;
	s.limit = s.start + 170 * 48;
	encode(buf, lo, &s);
	add_region(f, SPAN, buf, go_span__span_len(lo));
	s.state = 0;
	encode(buf, lo, &s);
	add_region(f, SPAN_DEAD, buf, go_span__span_len(lo));
	bits[10 / 8] = 1 << (10 % 8);
	add_region(f, s.alloc_bits, bits, 22);
	memset(bits, 0, sizeof(bits));
	add_region(f, s.mark_bits, bits, 22);
}

static void test_check(void)
{
	struct go_span_layout lo;
	struct fake f;
	uint64_t S = HEAP + 16 * 8192;
	struct go_obj objs[] = {
		{ S + 10 * 48, 48 },		/* allocBits: live */
		{ S + 3 * 48, 48 },		/* below freeindex: live */
		{ S + 20 * 48, 48 },		/* free */
		{ S + 10 * 48, 64 },		/* another size: free */
		{ HEAP + 17 * 8192, 48 },	/* dead span: free */
		{ HEAP + 18 * 8192, 48 },	/* unreadable span: unknown */
		{ HEAP + 19 * 8192, 48 },	/* no span: free */
		{ HEAP + ARENA_BYTES, 48 },	/* no arena: free */
		{ 1ULL << 48, 48 },		/* no arena can hold it: free */
		{ S + 4 * 48, 48 },		/* below freeindex again: one read of the span */
	};
	/* No history given: a taken slot is "likely live". */
	const uint8_t want[] = { GO_OBJ_LIKELY_LIVE, GO_OBJ_LIKELY_LIVE, GO_OBJ_FREE, GO_OBJ_FREE,
				 GO_OBJ_FREE, GO_OBJ_UNKNOWN, GO_OBJ_FREE, GO_OBJ_FREE, GO_OBJ_FREE,
				 GO_OBJ_LIKELY_LIVE };
	size_t n = sizeof(objs) / sizeof(objs[0]), i;
	uint8_t state[16];
	char note[200] = "";
	int err, ok;

	go_span__table_layout("go1.22.12", &lo);
	build(&f, &lo);
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, n, state, note, sizeof(note));
	for (ok = !err, i = 0; i < n; i++)
		if (!CHECK(state[i] == want[i], "check: object %zu of a fake heap: %d", i, state[i]))
			ok = 0;
	CHECK(ok, "check: every case of a fake heap (err %d, note %s)", err, note);
	/* heap words 2 + arenas + pages + spans + bitmaps + spans again + heap words again. */
	CHECK(f.calls == 7, "check: one round of batched reads (%d)", f.calls);

	build(&f, &lo);
	f.torn_addr = SPAN;
	f.torn_off = lo.off[GO_SPAN_START] + 1;	/* startAddr moves by 16 KiB */
	f.torn_until = 2;
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, n, state, note, sizeof(note));
	CHECK(!err && state[0] == GO_OBJ_LIKELY_LIVE && state[2] == GO_OBJ_FREE,
	      "check: a span that changed once is read again and decided");

	build(&f, &lo);
	f.torn_addr = SPAN;
	f.torn_off = lo.off[GO_SPAN_SWEEPGEN];
	f.torn_until = 1000;
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, n, state, note, sizeof(note));
	CHECK(!err && state[0] == GO_OBJ_UNKNOWN && state[2] == GO_OBJ_UNKNOWN &&
	      state[4] == GO_OBJ_FREE, "check: a span changing all along stays unknown");

	build(&f, &lo);
	f.r[0].bytes[0] = 11;	/* odd sweepgen */
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, n, state, note, sizeof(note));
	CHECK(err == -EPROTO && state[0] == GO_OBJ_UNKNOWN && state[4] == GO_OBJ_UNKNOWN && note[0],
	      "check: a heap that does not read as one: -EPROTO, all unknown, a note");

	build(&f, &lo);
	f.fail = -ESRCH;
	note[0] = '\0';
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, n, state, note, sizeof(note));
	CHECK(err == -ESRCH && state[1] == GO_OBJ_UNKNOWN && note[0],
	      "check: the process gone: -ESRCH with a note");
	CHECK(go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, 0, state, note,
				  sizeof(note)) == 0, "check: no objects, no reads");
}

int main(void)
{
	test_table();
	test_index();
	test_decode();
	test_sane();
	test_rule();
	test_history();
	test_find_base();
	test_check();
	return unit_exit();
}
