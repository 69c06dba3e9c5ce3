/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Go span reader over a fake process memory: batched reads, spans read
 * twice, torn reads, Green Tea's inline marks read with the bitmaps.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "memory/go_span.h"
#include "unit.h"

#define ARENA_BYTES (1ULL << GO_SPAN_ARENA_SHIFT)

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

	go_span_layout__index(addr, &a, &p);
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
	add_region(f, SPAN, buf, go_span_layout__span_len(lo));
	s.state = 0;
	encode(buf, lo, &s);
	add_region(f, SPAN_DEAD, buf, go_span_layout__span_len(lo));
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

	go_span_layout__table("go1.22.12", &lo);
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

/*
 * Green Tea (go1.26): the fake span unswept (sweepgen 8, heap 10), object 30
 * marked in its inline marks at the end of its page, object 20 unmarked.
 */
static void test_check_inline(void)
{
	struct go_span_layout lo;
	struct fake f;
	uint64_t S = HEAP + 16 * 8192;
	struct go_obj objs[] = {
		{ S + 30 * 48, 48, true, 8, false },
		{ S + 20 * 48, 48, true, 8, false },
	};
	uint8_t inl[GO_SPAN_INLINE_MARKS_LEN] = { 0 }, buf[256] = { 0 }, state[2];
	struct go_span_info s = span48();
	char note[200] = "";
	int err;

	go_span_layout__table("go1.26.8", &lo);
	build(&f, &lo);
	s.start = S;
	s.limit = S + 170 * 48;
	s.sweepgen = 8;
	encode(buf, &lo, &s);
	memcpy(f.r[8].bytes, buf, go_span_layout__span_len(&lo));	/* SPAN, the 9th region */
	inl[30 / 8] = 1 << (30 % 8);
	add_region(&f, S + 8192 - GO_SPAN_INLINE_BITS + GO_SPAN_INLINE_MARKS_OFF, inl,
		   sizeof(inl));
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, 2, state, note, sizeof(note));
	CHECK(!err && state[0] == GO_OBJ_LIVE && state[1] == GO_OBJ_FREE,
	      "check: Green Tea's inline marks read at the page's end (err %d, %d %d)", err,
	      state[0], state[1]);
	go_span_layout__table("go1.26.8-X:nogreenteagc", &lo);
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, 2, state, note, sizeof(note));
	CHECK(!err && state[0] == GO_OBJ_FREE, "check: without Green Tea they are not read");
	f.n--;		/* the inline marks unreadable */
	go_span_layout__table("go1.26.8", &lo);
	err = go_span__check_with(&lo, MHEAP, fake_readv, &f, objs, 2, state, note, sizeof(note));
	CHECK(!err && state[0] == GO_OBJ_UNKNOWN, "check: unreadable inline marks: unknown");
}

int main(void)
{
	test_check();
	test_check_inline();
	return unit_exit();
}
