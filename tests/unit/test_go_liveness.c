/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The liveness rule of sampled Go objects: a span's sanity, the rule by
 * sweep state, the object's history across sweeps, Green Tea's inline
 * marks.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "memory/go_liveness.h"
#include "unit.h"

/* A one-page span of 48-byte objects with pointers (size class 5), swept at generation 10. */
static struct go_span_info span48(void)
{
	return (struct go_span_info){
		.start = 0xc000010000ULL, .npages = 1, .limit = 0xc000010000ULL + 170 * 48,
		.freeindex = 5, .nelems = 170, .elemsize = 48, .alloc_bits = 0xc000400000ULL,
		.mark_bits = 0xc000400100ULL, .sweepgen = 10, .spanclass = 5 << 1, .state = 1,
	};
}

static void test_sane(void)
{
	struct go_span_info s = span48();

	CHECK(go_liveness__sane(&s), "sane: a small span");
	s.start += 16;
	CHECK(!go_liveness__sane(&s), "sane: start not page-aligned refused");
	s = span48();
	s.limit = s.start + 8193;
	CHECK(!go_liveness__sane(&s), "sane: limit past the span's pages refused");
	s = span48();
	s.nelems = 171;
	CHECK(!go_liveness__sane(&s), "sane: more objects than fit refused");
	s = span48();
	s.freeindex = 171;
	CHECK(!go_liveness__sane(&s), "sane: freeindex past nelems refused");
	s = span48();
	s.alloc_bits = 0;
	CHECK(!go_liveness__sane(&s), "sane: no allocBits refused");
	s = span48();
	s.mark_bits = 1ULL << 50;
	CHECK(!go_liveness__sane(&s), "sane: gcmarkBits out of user space refused");
	s = (struct go_span_info){ .start = 0xc000020000ULL, .npages = 5,
				   .limit = 0xc000020000ULL + 40000, .nelems = 1,
				   .elemsize = 40960, .alloc_bits = 0xc000400000ULL,
				   .mark_bits = 0xc000400008ULL, .spanclass = 1, .state = 1 };
	CHECK(go_liveness__sane(&s), "sane: a large span (limit at the requested size)");
	s.elemsize = 8192;
	CHECK(!go_liveness__sane(&s), "sane: size class 0 not the whole span refused");
}

/* Without history (no generation known): what the slot holds now; "likely live" reads as live. */
static enum go_obj_state obj_state(const struct go_span_info *s, uint32_t h, const uint8_t *alloc,
				   const uint8_t *mark, size_t len, uint64_t addr, uint64_t size,
				   bool malloc_header)
{
	struct go_obj o = { .addr = addr, .size = size };
	enum go_obj_state r = go_liveness__obj_state(s, h, alloc, mark, NULL, len, &o, malloc_header);

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
	enum go_obj_state r = go_liveness__obj_state(s, h, alloc, mark, NULL, 32, &o, false);

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
	CHECK(go_liveness__alloc_gen(13) == 10 && go_liveness__alloc_gen(10) == 10,
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

/* Green Tea: a small object span's marks are inline until its sweep (unswept: h-2). */
static void test_inline(void)
{
	struct go_span_info s = span48();
	uint8_t alloc[32] = { 0 }, mark[32] = { 0 }, inl[GO_SPAN_INLINE_MARKS_LEN] = { 0 };
	struct go_obj o;

	s.sweepgen = 8;
	inl[30 / 8] |= 1 << (30 % 8);
	mark[20 / 8] |= 1 << (20 % 8);
	o = (struct go_obj){ .addr = s.start + 30 * 48, .size = 48, .gen_known = true, .gen = 8 };
	CHECK(go_liveness__obj_state(&s, 10, alloc, mark, inl, 32, &o, false) == GO_OBJ_LIVE,
	      "inline: unswept, marked inline: live");
	o = (struct go_obj){ .addr = s.start + 30 * 48, .size = 48, .gen_known = true, .gen = 8 };
	CHECK(go_liveness__obj_state(&s, 10, alloc, mark, NULL, 32, &o, false) == GO_OBJ_FREE,
	      "inline: the same without the inline marks: free (what a reader blind to them says)");
	o = (struct go_obj){ .addr = s.start + 20 * 48, .size = 48, .gen_known = true, .gen = 8 };
	CHECK(go_liveness__obj_state(&s, 10, alloc, mark, inl, 32, &o, false) == GO_OBJ_LIVE,
	      "inline: gcmarkBits still count");
	o = (struct go_obj){ .addr = s.start + 31 * 48, .size = 48, .gen_known = true, .gen = 8 };
	CHECK(go_liveness__obj_state(&s, 10, alloc, mark, inl, 32, &o, false) == GO_OBJ_FREE,
	      "inline: unmarked anywhere: free");
	/* Swept (h): allocBits rule, the inline marks (the next GC's) not looked at. */
	s.sweepgen = 10;
	o = (struct go_obj){ .addr = s.start + 30 * 48, .size = 48, .gen_known = true, .gen = 8 };
	CHECK(go_liveness__obj_state(&s, 10, alloc, mark, inl, 32, &o, false) == GO_OBJ_FREE,
	      "inline: swept, allocBits clear: free whatever the inline marks say");
}

int main(void)
{
	test_sane();
	test_rule();
	test_history();
	test_inline();
	return unit_exit();
}
