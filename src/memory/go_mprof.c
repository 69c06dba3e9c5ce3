/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <gelf.h>
#include "memory/go_mprof.h"
#include "memory/go_version.h"
#include "symbols/elf_handle.h"

#define MEM_BUCKET 1		/* bucketType memProfile */
#define READ_TRIES 4
/* User-space addresses on x86-64: anything else is not a bucket. */
#define MAX_USER_ADDR (1ULL << 47)

/* ---------------------------------------------------------------- pure */

static uint64_t word(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void cycle_at(const uint8_t *p, struct go_mprof_cycle *c)
{
	c->allocs = word(p);
	c->frees = word(p + 8);
	c->alloc_bytes = word(p + 16);
	c->free_bytes = word(p + 24);
}

size_t go_mprof__bucket_len(uint64_t nstk, bool counts)
{
	return GO_MPROF_HDR + 8 * nstk + (counts ? GO_MPROF_RECORD / 2 : GO_MPROF_RECORD);
}

int go_mprof__parse_bucket(const uint8_t *buf, size_t len, bool counts,
			   struct go_mprof_bucket *b)
{
	uint64_t typ, nstk, size;
	const uint8_t *rec;
	uint32_t i, keep = GO_MPROF_MAX_STACK + GO_MPROF_MAX_ALLOC_FRAMES;
	struct go_mprof_cycle *c[4] = { &b->active, &b->future[0], &b->future[1], &b->future[2] };

	if (len < GO_MPROF_HDR)
		return -EAGAIN;
	typ = word(buf + 16);
	size = word(buf + 32);
	nstk = word(buf + 40);
	/* Block and mutex buckets live on other lists: on this one it is not a bucket. */
	if (typ != MEM_BUCKET || nstk > GO_MPROF_MAX_RUNTIME_STACK)
		return -ENOEXEC;
	if (len < go_mprof__bucket_len(nstk, counts))
		return -EAGAIN;
	b->allnext = word(buf + 8);
	/* Deeper stacks (Go 1.23) keep their innermost frames, as memtrace's own are cut. */
	b->nstk = (uint32_t)(nstk < keep ? nstk : keep);
	b->cut = nstk > keep;
	for (i = 0; i < b->nstk; i++)
		b->pcs[i] = word(buf + GO_MPROF_HDR + 8 * i);
	rec = buf + GO_MPROF_HDR + 8 * nstk;
	for (i = 0; i < 4; i++) {
		if (!counts) {
			cycle_at(rec + 32 * i, c[i]);
			continue;
		}
		/* Go 1.27: {allocs, frees}; every object of a bucket is its size. */
		c[i]->allocs = word(rec + 16 * i);
		c[i]->frees = word(rec + 16 * i + 8);
		c[i]->alloc_bytes = c[i]->allocs * size;
		c[i]->free_bytes = c[i]->frees * size;
	}
	return 0;
}

void go_mprof__strip(struct go_mprof_bucket *b, const uint64_t *lo, const uint64_t *hi,
		     size_t nr, uint64_t bias)
{
	uint32_t skip = 0, i;
	size_t k;

	while (skip < b->nstk && skip < GO_MPROF_MAX_ALLOC_FRAMES) {
		uint64_t pc = b->pcs[skip] - bias;

		for (k = 0; k < nr && !(pc >= lo[k] && pc < hi[k]); k++)
			;
		if (k == nr)
			break;
		skip++;
	}
	for (i = skip; i < b->nstk; i++)
		b->pcs[i - skip] = b->pcs[i];
	b->nstk -= skip;
	if (b->nstk > GO_MPROF_MAX_STACK) {
		b->nstk = GO_MPROF_MAX_STACK;
		b->cut = true;
	}
}

void go_mprof__scale(int64_t count, int64_t size, int64_t rate, int64_t *out_count,
		     int64_t *out_size)
{
	double avg, scale;

	if (count == 0 || size == 0) {
		*out_count = *out_size = 0;
		return;
	}
	/* rate 1 recorded every allocation; below, pprof does not know and leaves them. */
	if (rate <= 1) {
		*out_count = count;
		*out_size = size;
		return;
	}
	avg = (double)size / (double)count;
	scale = 1 / (1 - exp(-avg / (double)rate));
	*out_count = (int64_t)((double)count * scale);
	*out_size = (int64_t)((double)size * scale);
}

static void add_cycle(struct go_mprof_cycle *a, const struct go_mprof_cycle *b)
{
	a->allocs += b->allocs;
	a->frees += b->frees;
	a->alloc_bytes += b->alloc_bytes;
	a->free_bytes += b->free_bytes;
}

/* A count as int64: a torn read can leave frees ahead of allocs for a moment. */
static int64_t diff(uint64_t a, uint64_t b)
{
	return a > b && a - b < MAX_USER_ADDR ? (int64_t)(a - b) : 0;
}

static int64_t clamp(uint64_t v)
{
	return v < MAX_USER_ADDR ? (int64_t)v : 0;
}

size_t go_mprof__samples(const struct go_mprof_bucket *b, size_t n, uint32_t cycle_word,
			 int64_t rate, struct go_mprof_sample *out)
{
	uint32_t idx = (cycle_word >> 1) % 3;
	bool clear = true;
	size_t i;

	/*
	 * MemProfile first flushes future[cycle % 3] into active (the cycle a
	 * finished GC has not flushed yet); adding it here gives the same
	 * figures without the lock.
	 */
	for (i = 0; i < n && clear; i++)
		if (b[i].active.allocs || b[i].active.frees || b[i].future[idx].allocs ||
		    b[i].future[idx].frees)
			clear = false;
	for (i = 0; i < n; i++) {
		struct go_mprof_cycle c = b[i].active;
		struct go_mprof_sample *s = &out[i];
		uint32_t k;

		if (clear) {
			/* No GC yet: MemProfile then counts every cycle, and so does this. */
			for (k = 0; k < 3; k++)
				add_cycle(&c, &b[i].future[k]);
		} else {
			add_cycle(&c, &b[i].future[idx]);
		}
		s->nstk = b[i].nstk < GO_MPROF_MAX_STACK ? b[i].nstk : GO_MPROF_MAX_STACK;
		memcpy(s->pcs, b[i].pcs, sizeof(s->pcs[0]) * s->nstk);
		go_mprof__scale(diff(c.allocs, c.frees), diff(c.alloc_bytes, c.free_bytes), rate,
				&s->inuse_objects, &s->inuse_bytes);
		go_mprof__scale(clamp(c.allocs), clamp(c.alloc_bytes), rate, &s->alloc_objects,
				&s->alloc_bytes);
	}
	return n;
}

static bool bucket_ptr(uint64_t p)
{
	return p && !(p & 7) && p < MAX_USER_ADDR;
}

/* One bucket, read until two reads agree: its counters change while it runs. */
static int read_bucket(go_mprof_read_fn read, void *ctx, uint64_t addr, bool counts,
		       struct go_mprof_bucket *b)
{
	uint8_t x[GO_MPROF_BUCKET_MAX], y[GO_MPROF_BUCKET_MAX];
	size_t len;
	int err, i;

	/* The header first: a full-size read could run into an unmapped page. */
	err = read(ctx, addr, x, GO_MPROF_HDR);
	if (err)
		return err;
	if (word(x + 16) != MEM_BUCKET || word(x + 40) > GO_MPROF_MAX_RUNTIME_STACK)
		return -ENOEXEC;
	len = go_mprof__bucket_len(word(x + 40), counts);
	err = read(ctx, addr, x, len);
	for (i = 0; !err && i < READ_TRIES; i++) {
		err = read(ctx, addr, y, len);
		if (err || !memcmp(x, y, len))
			break;
		memcpy(x, y, len);
	}
	if (err)
		return err;
	/*
	 * Still changing: a hot stack. The last read is kept; a torn word pair
	 * moves one stack's figure by the allocations of a few microseconds.
	 */
	return go_mprof__parse_bucket(x, len, counts, b);
}

int go_mprof__walk(go_mprof_read_fn read, void *ctx, uint64_t head, size_t max, bool counts,
		   struct go_mprof_bucket **out, size_t *nr)
{
	struct go_mprof_bucket *v = NULL, *p;
	size_t n = 0, cap = 0;
	uint64_t at = head;
	int err = 0;

	*out = NULL;
	*nr = 0;
	/* New buckets go on at the head and allnext never changes: a walk from one head is stable. */
	while (at) {
		if (!bucket_ptr(at)) {
			err = -EFAULT;
			break;
		}
		if (n == max) {
			err = -ELOOP;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				err = -ENOMEM;
				break;
			}
			v = p;
		}
		err = read_bucket(read, ctx, at, counts, &v[n]);
		if (err)
			break;
		at = v[n++].allnext;
	}
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*nr = n;
	return 0;
}

/* ---------------------------------------------------------------- the process */

#define ALLOC_PREFIX "runtime.mallocgc"

struct go_mprof {
	uint64_t mbuckets;	/* link-time addresses */
	uint64_t rate;		/* runtime.MemProfileRate (int) */
	uint64_t cycle;		/* runtime.mProfCycle (uint32 value, flag in bit 0) */
	bool counts;		/* memRecordCycle holds counts only (Go 1.27+) */
	/* The allocator's functions (runtime.mallocgc*), which 1.26+ stacks start in. */
	uint64_t *lo, *hi;
	size_t nr_alloc;
};

/* The bucket layout this reader knows: Go 1.19 to 1.27 (1.20's from its sources only). */
static bool known_version(const struct go_version *v)
{
	return v->minor >= 19 && v->minor <= 27;
}

static int add_alloc_func(void *ctx, uint64_t addr, uint64_t size, const char *name, size_t len)
{
	struct go_mprof *gm = ctx;
	uint64_t *lo, *hi;

	if (len < strlen(ALLOC_PREFIX) || memcmp(name, ALLOC_PREFIX, strlen(ALLOC_PREFIX)) || !size)
		return 0;
	lo = realloc(gm->lo, (gm->nr_alloc + 1) * sizeof(*lo));
	if (lo)
		gm->lo = lo;
	hi = realloc(gm->hi, (gm->nr_alloc + 1) * sizeof(*hi));
	if (hi)
		gm->hi = hi;
	if (!lo || !hi)
		return -ENOMEM;
	gm->lo[gm->nr_alloc] = addr;
	gm->hi[gm->nr_alloc++] = addr + size;
	return 0;
}

int go_mprof__open(const char *path, const char *version, struct go_mprof **out, char *note,
		   size_t note_len)
{
	struct elf_handle h;
	struct go_mprof *gm;
	struct go_version v;
	uint64_t size;
	int err;

	*out = NULL;
	if (go_version__parse(version, &v) || !known_version(&v)) {
		snprintf(note, note_len, "%s: a runtime whose heap profile layout memtrace does "
			 "not know (go1.19-go1.27)", version);
		return -ENOENT;
	}
	err = go_heap__open_exe(path, &h, sizeof(*gm), (void **)&gm, note, note_len);
	if (err)
		return err;
	gm->counts = v.minor >= 27;
	if (go_heap__symtab_addr(h.elf, "runtime.mbuckets", &gm->mbuckets, &size) ||
	    go_heap__symtab_addr(h.elf, "runtime.MemProfileRate", &gm->rate, &size) ||
	    go_heap__symtab_addr(h.elf, "runtime.mProfCycle", &gm->cycle, &size)) {
		snprintf(note, note_len, "no symbol table naming runtime.mbuckets, "
			 "MemProfileRate and mProfCycle (a binary built with -ldflags=-s)");
		err = -ENOENT;
		goto fail;
	}
	err = go_heap__for_each_func(h.elf, add_alloc_func, gm);
	if (err || !gm->nr_alloc) {
		snprintf(note, note_len, "no runtime.mallocgc in the function table");
		err = err ? err : -ENOENT;
		goto fail;
	}
	elf_handle__close(&h);
	*out = gm;
	return 0;
fail:
	elf_handle__close(&h);
	go_mprof__free(gm);
	return err;
}

void go_mprof__free(struct go_mprof *gm)
{
	if (!gm)
		return;
	free(gm->lo);
	free(gm->hi);
	free(gm);
}

void go_mprof__profile_clear(struct go_mprof_profile *p)
{
	free(p->samples);
	p->samples = NULL;
	p->nr = 0;
	p->rate = 0;
	p->read = false;
}

int go_mprof__read(const struct go_mprof *gm, pid_t pid, uint64_t bias,
		   struct go_mprof_profile *p)
{
	struct go_mprof_bucket *b = NULL;
	uint64_t head, rate;
	uint32_t cycle;
	size_t n = 0, i;
	int err;

	go_mprof__profile_clear(p);
	p->note[0] = '\0';
	err = go_heap__pid_read(&pid, gm->rate + bias, &rate, 8);
	if (!err)
		err = go_heap__pid_read(&pid, gm->cycle + bias, &cycle, 4);
	if (!err)
		err = go_heap__pid_read(&pid, gm->mbuckets + bias, &head, 8);
	if (err) {
		snprintf(p->note, sizeof(p->note), "cannot read the runtime's heap profile: %s",
			 strerror(-err));
		return err;
	}
	if ((int64_t)rate <= 0) {
		snprintf(p->note, sizeof(p->note), "runtime.MemProfileRate is 0 (the program "
			 "never uses runtime/pprof heap profiles): no live bytes per stack");
		return -ENOENT;
	}
	err = go_mprof__walk(go_heap__pid_read, &pid, head, GO_MPROF_MAX_BUCKETS, gm->counts, &b,
			     &n);
	if (err) {
		snprintf(p->note, sizeof(p->note), "cannot walk runtime.mbuckets: %s",
			 strerror(-err));
		return err;
	}
	for (i = 0; i < n; i++)
		go_mprof__strip(&b[i], gm->lo, gm->hi, gm->nr_alloc, bias);
	p->samples = calloc(n ? n : 1, sizeof(*p->samples));
	if (!p->samples) {
		free(b);
		return -ENOMEM;
	}
	p->nr = go_mprof__samples(b, n, cycle, (int64_t)rate, p->samples);
	p->rate = (int64_t)rate;
	p->read = true;
	free(b);
	return 0;
}
