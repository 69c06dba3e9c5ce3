/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pure parts of the Go heap profile reader: a bucket's layout, the
 * in-use rule of runtime.MemProfile, pprof's scaling, and the list walk
 * over a fake address space (bad pointers, loops, torn reads).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "memory/go_mprof.h"
#include "unit.h"

#define BASE 0x10000ULL
static uint8_t space[16384];
static int reads, bump_reads;

static void put(uint64_t addr, uint64_t v)
{
	memcpy(space + (addr - BASE), &v, 8);
}

/* A memory bucket at addr: header, nstk pcs, then active and future[3]. */
static uint64_t make_bucket(uint64_t addr, uint64_t allnext, uint64_t nstk, uint64_t pc0,
			    const uint64_t rec[16])
{
	uint64_t i;

	put(addr, 0);
	put(addr + 8, allnext);
	put(addr + 16, 1);
	put(addr + 24, 0x1234);
	put(addr + 32, 0);
	put(addr + 40, nstk);
	for (i = 0; i < nstk; i++)
		put(addr + 48 + 8 * i, pc0 + i);
	for (i = 0; i < 16; i++)
		put(addr + 48 + 8 * nstk + 8 * i, rec[i]);
	return addr;
}

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	reads++;
	if (addr < BASE || addr - BASE > sizeof(space) || len > sizeof(space) - (addr - BASE))
		return -EFAULT;
	memcpy(buf, space + (addr - BASE), len);
	/* A hot stack: its active allocs move under the reader for a few reads. */
	if (bump_reads > 0) {
		bump_reads--;
		space[BASE + 0x100 + 48 + 8 * 2 - BASE]++;
	}
	return 0;
}

static void test_parse(void)
{
	uint64_t rec[16] = { 5, 2, 500, 200, 1, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct go_mprof_bucket b;
	uint8_t *p;

	memset(space, 0, sizeof(space));
	make_bucket(BASE, 0, 3, 0x401000, rec);
	p = space;
	CHECK(go_mprof__parse_bucket(p, 48 + 24 + 128, false, &b) == 0 && b.nstk == 3 &&
	      b.pcs[0] == 0x401000 && b.pcs[2] == 0x401002 && b.active.allocs == 5 &&
	      b.active.frees == 2 && b.active.alloc_bytes == 500 && b.active.free_bytes == 200 &&
	      b.future[0].allocs == 1 && b.future[0].alloc_bytes == 100, "parse: fields in place");
	CHECK(go_mprof__parse_bucket(p, 48 + 24 + 127, false, &b) == -EAGAIN,
	      "parse: short of the record asks for more");
	CHECK(go_mprof__parse_bucket(p, 40, false, &b) == -EAGAIN, "parse: short header");
	put(BASE + 16, 2);
	CHECK(go_mprof__parse_bucket(p, 432, false, &b) == -ENOEXEC, "parse: a block bucket refused");
	put(BASE + 16, 1);
	put(BASE + 40, 1025);
	CHECK(go_mprof__parse_bucket(p, 48 + 8 * 1025 + 128, false, &b) == -ENOEXEC,
	      "parse: deeper than the runtime's deepest refused");
	make_bucket(BASE, 0, 40, 0x401000, rec);
	CHECK(go_mprof__parse_bucket(p, 48 + 8 * 40 + 128, false, &b) == 0 &&
	      b.nstk == GO_MPROF_MAX_STACK + GO_MPROF_MAX_ALLOC_FRAMES && b.cut &&
	      b.pcs[35] == 0x401000 + 35 && b.active.allocs == rec[0],
	      "parse: a 40-frame bucket (Go 1.23) keeps its innermost 36, record found past all 40");
	go_mprof__strip(&b, NULL, NULL, 0, 0);
	CHECK(b.nstk == GO_MPROF_MAX_STACK && b.pcs[31] == 0x401000 + 31 && b.cut,
	      "strip: no allocator frame, cut to 32");
}

/* Go 1.27: memRecordCycle is {allocs, frees}; bytes are counts times the bucket's size. */
static void test_parse_counts(void)
{
	uint64_t rec[16] = { 5, 2, 1, 0, 3, 1, 0, 0 };
	struct go_mprof_bucket b;

	memset(space, 0, sizeof(space));
	make_bucket(BASE, 0, 3, 0x401000, rec);
	put(BASE + 32, 4096);
	CHECK(go_mprof__bucket_len(3, true) == 48 + 24 + 64 &&
	      go_mprof__bucket_len(3, false) == 48 + 24 + 128, "counts: a 64-byte record");
	CHECK(go_mprof__parse_bucket(space, 48 + 24 + 64, true, &b) == 0 &&
	      b.active.allocs == 5 && b.active.frees == 2 && b.active.alloc_bytes == 5 * 4096 &&
	      b.active.free_bytes == 2 * 4096 && b.future[0].allocs == 1 &&
	      b.future[0].alloc_bytes == 4096 && b.future[1].allocs == 3 &&
	      b.future[1].free_bytes == 4096, "counts: cycles 16 bytes apart, bytes from size");
	CHECK(go_mprof__parse_bucket(space, 48 + 24 + 63, true, &b) == -EAGAIN,
	      "counts: short of the 64-byte record asks for more");
}

/* Go 1.26+: stacks start in the allocator (mallocgc, the helper), dropped. */
static void test_strip(void)
{
	const uint64_t lo[2] = { 0x41000, 0x47000 }, hi[2] = { 0x42000, 0x47200 };
	const uint64_t bias = 0x55550000000ULL;
	struct go_mprof_bucket b = { .nstk = 5 };

	b.pcs[0] = bias + 0x47100;	/* in mallocgc */
	b.pcs[1] = bias + 0x41fff;	/* in a helper's last byte */
	b.pcs[2] = bias + 0x42000;	/* makeslice, right after */
	b.pcs[3] = bias + 0x50000;
	b.pcs[4] = bias + 0x41000;	/* deeper: not the start, kept */
	go_mprof__strip(&b, lo, hi, 2, bias);
	CHECK(b.nstk == 3 && b.pcs[0] == bias + 0x42000 && b.pcs[2] == bias + 0x41000 && !b.cut,
	      "strip: the leading allocator frames only");
	b = (struct go_mprof_bucket){ .nstk = 2 };
	b.pcs[0] = 0x47100;
	b.pcs[1] = 0x41100;
	go_mprof__strip(&b, lo, hi, 2, 0);
	CHECK(b.nstk == 0, "strip: a stack all in the allocator is empty");
}

static void test_scale(void)
{
	int64_t c, s;
	double k = 1 / (1 - exp(-(double)(1 << 20) / (512 * 1024)));

	go_mprof__scale(3, 300, 1, &c, &s);
	CHECK(c == 3 && s == 300, "scale: rate 1 is exact");
	go_mprof__scale(0, 300, 512 * 1024, &c, &s);
	CHECK(c == 0 && s == 0, "scale: nothing stays nothing");
	go_mprof__scale(2, 2 << 20, 512 * 1024, &c, &s);
	CHECK(c == (int64_t)(2 * k) && s == (int64_t)((2 << 20) * k),
	      "scale: 1 MiB objects at 512 KiB as pprof scales them (%lld, %lld)",
	      (long long)c, (long long)s);
}

static void test_samples(void)
{
	struct go_mprof_bucket b[2] = {};
	struct go_mprof_sample out[2];

	b[0].nstk = 1;
	b[0].pcs[0] = 0x401000;
	b[0].active = (struct go_mprof_cycle){ 10, 4, 1000, 400 };
	/* cycle 4 (value 8): future[1] is the cycle a GC finished and has not flushed. */
	b[0].future[1] = (struct go_mprof_cycle){ 2, 1, 200, 100 };
	b[0].future[2] = (struct go_mprof_cycle){ 50, 0, 5000, 0 };
	b[1].nstk = 1;
	b[1].active = (struct go_mprof_cycle){ 1, 3, 10, 30 };	/* torn: frees ahead */
	CHECK(go_mprof__samples(b, 2, 4 << 1, 1, out) == 2, "samples: one per bucket");
	CHECK(out[0].inuse_objects == 7 && out[0].inuse_bytes == 700 &&
	      out[0].alloc_objects == 12 && out[0].alloc_bytes == 1200,
	      "samples: active + future[cycle %% 3], not the cycles still counting");
	CHECK(out[1].inuse_objects == 0 && out[1].inuse_bytes == 0, "samples: never negative");
	CHECK(go_mprof__samples(b, 2, (4 << 1) | 1, 1, out) == 2 && out[0].inuse_bytes == 700,
	      "samples: the flushed bit is not part of the cycle");

	memset(b, 0, sizeof(b));
	b[0].nstk = 1;
	b[0].future[1] = (struct go_mprof_cycle){ 1, 0, 64, 0 };
	b[0].future[2] = (struct go_mprof_cycle){ 2, 0, 128, 0 };
	go_mprof__samples(b, 1, 0, 1, out);
	CHECK(out[0].inuse_objects == 3 && out[0].inuse_bytes == 192,
	      "samples: before any GC every cycle counts, as MemProfile does");
}

static void test_walk(void)
{
	uint64_t rec[16] = { 5, 2, 500, 200 };
	struct go_mprof_bucket *b;
	size_t n;

	memset(space, 0, sizeof(space));
	make_bucket(BASE + 0x100, BASE + 0x400, 2, 0x401000, rec);
	make_bucket(BASE + 0x400, BASE + 0x800, 32, 0x402000, rec);
	make_bucket(BASE + 0x800, 0, 0, 0, rec);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 100, false, &b, &n) == 0 && n == 3 &&
	      b[0].nstk == 2 && b[1].nstk == 32 && b[1].pcs[31] == 0x402000 + 31 &&
	      b[2].nstk == 0, "walk: three buckets, 0 to 32 frames");
	free(b);
	CHECK(go_mprof__walk(fake_read, NULL, 0, 100, false, &b, &n) == 0 && n == 0,
	      "walk: no bucket yet");
	free(b);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 2, false, &b, &n) == -ELOOP && !b,
	      "walk: more than max refused");
	put(BASE + 0x800 + 8, BASE + 0x100);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == -ELOOP,
	      "walk: a loop ends at max");
	put(BASE + 0x800 + 8, BASE + 0x803);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == -EFAULT,
	      "walk: a misaligned pointer refused");
	put(BASE + 0x800 + 8, 1ULL << 50);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == -EFAULT,
	      "walk: a kernel-half pointer refused");
	put(BASE + 0x800 + 8, BASE + 0x10000);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == -EFAULT,
	      "walk: an unreadable bucket is an error");
	put(BASE + 0x800 + 8, 0);
	put(BASE + 0x400 + 16, 3);
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == -ENOEXEC,
	      "walk: not a memory bucket");
	put(BASE + 0x400 + 16, 1);
	bump_reads = 2;
	reads = 0;
	CHECK(go_mprof__walk(fake_read, NULL, BASE + 0x100, 1000, false, &b, &n) == 0 && n == 3 &&
	      b[0].active.allocs == 7 && reads > 7,
	      "walk: a bucket changing under the reader is read again");
	free(b);
}

int main(void)
{
	test_parse();
	test_parse_counts();
	test_strip();
	test_scale();
	test_samples();
	test_walk();
	return unit_exit();
}
