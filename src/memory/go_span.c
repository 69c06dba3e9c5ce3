/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <gelf.h>
#include "memory/go_span.h"
#include "memory/go_heap.h"
#include "symbols/elf_handle.h"

#define MHEAP "runtime.mheap_"
/* User-space addresses on x86-64: a pointer past this is not the runtime's. */
#define MAX_USER_ADDR (1ULL << 47)
/* A span that kept changing while read is left unknown after this many rounds. */
#define ROUNDS 3
#define SPAN_IN_USE 1		/* mSpanInUse, 1.19-1.27 */

struct go_span {
	struct go_span_layout lo;
	struct go_exe_base base;
	char version[GO_HEAP_VERSION_MAX];
};

static bool user_ptr(uint64_t p)
{
	return p && !(p & 7) && p < MAX_USER_ADDR;
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
	uint8_t inline_marks[GO_SPAN_INLINE_MARKS_LEN];	/* Green Tea's, when has_inline */
	size_t bits_len;
	bool read, bits, has_inline;
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
	return s->read && s->info.state == SPAN_IN_USE && go_liveness__sane(&s->info);
}

/*
 * Decode the first read of each span and read the bitmaps of those in use,
 * and Green Tea's inline marks at the end of the span's first page.
 */
static int read_bits(struct check *c, size_t ns)
{
	size_t nr = 0, j;
	struct span_work *s;
	int err;

	for (j = 0; j < ns; j++) {
		s = &c->spans[j];
		s->bits = false;
		if (s->read)
			go_span_layout__decode(c->lo, s->raw[0], &s->info);
		if (!wants_bits(s))
			continue;
		s->bits_len = (size_t)(s->info.nelems + 7) / 8;
		s->has_inline = go_span_layout__inline_marks(c->lo, &s->info);
		c->reads[nr++] = (struct go_span_read){ s->info.alloc_bits, s->alloc, s->bits_len, 0 };
		c->reads[nr++] = (struct go_span_read){ s->info.mark_bits, s->mark, s->bits_len, 0 };
		if (s->has_inline)
			c->reads[nr++] = (struct go_span_read){
				s->info.start + (1u << GO_SPAN_PAGE_SHIFT) - GO_SPAN_INLINE_BITS +
				GO_SPAN_INLINE_MARKS_OFF, s->inline_marks, GO_SPAN_INLINE_MARKS_LEN, 0 };
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
		if (s->has_inline)
			s->bits = s->bits && !c->reads[nr++].err;
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

	go_span_layout__decode(c->lo, s->raw[1], &b);
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
		return go_liveness__obj_state(&s->info, sg, s->alloc, s->mark,
					      s->has_inline ? s->inline_marks : NULL, s->bits_len, o,
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
			   .state = state, .span_len = go_span_layout__span_len(lo) };
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
	/* The largest batch: two bitmaps and the inline marks per span. */
	c.reads = calloc(3 * n, sizeof(*c.reads));
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
		if (go_span_layout__index(objs[j].addr, &c.w[j].arena, &c.w[j].page))
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

int go_span__open(const char *path, const char *version, struct go_span **out, char *note,
		  size_t note_len)
{
	struct elf_handle h;
	struct go_span *gs;
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
	err = go_span_layout__open(h.elf, version, &gs->lo, note, note_len);
	if (err)
		goto fail;
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
