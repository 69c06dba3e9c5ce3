// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "memory/go_span.h"
#include "probe/loader.h"
#include "target/go_sampled.h"
#include "util/log.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* What one refresh reads: the process's samples. */
struct sample_set {
	uint32_t pid;
	struct mt_go_sample_key *keys;
	struct mt_go_sample *vals;
	size_t nr, cap;
	int err;
};

static void collect(void *ctx, const struct mt_go_sample_key *k, const struct mt_go_sample *s)
{
	struct sample_set *ss = ctx;

	if (k->pid != ss->pid || ss->err)
		return;
	if (ss->nr == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 256;
		struct mt_go_sample_key *nk = realloc(ss->keys, cap * sizeof(*nk));
		struct mt_go_sample *nv;

		if (!nk) {
			ss->err = -ENOMEM;
			return;
		}
		ss->keys = nk;
		nv = realloc(ss->vals, cap * sizeof(*nv));
		if (!nv) {
			ss->err = -ENOMEM;
			return;
		}
		ss->vals = nv;
		ss->cap = cap;
	}
	ss->keys[ss->nr] = *k;
	ss->vals[ss->nr++] = *s;
}

static int open_span(struct target *t)
{
	char note[GO_HEAP_NOTE_MAX] = "";
	int err;

	if (t->go_span)
		return 0;
	if (t->go_span_tried)
		return -ENOENT;
	t->go_span_tried = true;
	err = go_span__open(t->alloc.open_path, NULL, &t->go_span, note, sizeof(note));
	if (err) {
		snprintf(t->go_own.note, sizeof(t->go_own.note), "%s", note);
		mt_info("pid %u: Go allocations not sampled (%s)\n", t->pid, note);
	}
	return err;
}

int go_sampled__layout(struct target *t, struct loader_go_layout *out)
{
	const struct go_span_layout *lo;
	int err = open_span(t);

	if (err)
		return err;
	lo = go_span__layout(t->go_span);
	/* The probe reads startAddr and elemsize as words, 8 bytes at freeindex, and sweepgen. */
	if (lo->size[GO_SPAN_START] != 8 || lo->size[GO_SPAN_ELEMSIZE] != 8 ||
	    lo->size[GO_SPAN_SWEEPGEN] != 4 ||
	    (lo->size[GO_SPAN_FREEINDEX] != 2 && lo->size[GO_SPAN_FREEINDEX] != 8))
		return -ENOENT;
	out->start_off = lo->off[GO_SPAN_START];
	out->freeindex_off = lo->off[GO_SPAN_FREEINDEX];
	out->freeindex_mask = lo->size[GO_SPAN_FREEINDEX] == 2 ? 0xffff : UINT64_MAX;
	out->elemsize_off = lo->off[GO_SPAN_ELEMSIZE];
	out->sweepgen_off = lo->off[GO_SPAN_SWEEPGEN];
	return 0;
}

static int cmp_gen(const void *a, const void *b)
{
	const struct go_sample_gen *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/*
 * The generation up to which the sample is known allocated: what the last
 * check left, else its span's when it was allocated (read by the probe).
 */
static void start_gen(const struct target *t, const struct mt_go_sample_key *k,
		      const struct mt_go_sample *v, struct go_obj *o)
{
	struct go_sample_gen key = { .addr = k->addr, .ts_ns = v->ts_ns }, *g;

	g = t->go_gens ? bsearch(&key, t->go_gens, t->nr_go_gens, sizeof(key), cmp_gen) : NULL;
	o->gen_known = g || v->sweepgen_known;
	o->gen = g ? g->gen : go_liveness__alloc_gen(v->span_sweepgen);
	o->through_gc = g && g->through_gc;
}

/* Samples of one stack, grouped. */
struct by_stack {
	uint64_t stack_id;
	int64_t count, bytes;
};

static int cmp_stack(const void *a, const void *b)
{
	const struct by_stack *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

void go_sampled__update(struct target *t, struct loader *l, uint64_t rate)
{
	struct sample_set ss = { .pid = t->pid };
	struct go_mprof_profile p = { .rate = (int64_t)rate };
	struct go_obj *objs = NULL;
	struct by_stack *groups = NULL;
	struct go_sample_gen *gens = NULL;
	size_t nr_gens = 0;
	uint8_t *state = NULL;
	char note[GO_HEAP_NOTE_MAX] = "";
	size_t i, ng = 0;
	uint64_t bias, t0;
	uint32_t heap_sg = 0;
	int err;

	if (t->exited || open_span(t) || go_span__bias(t->go_span, t->maps, t->alloc.path, &bias))
		return;
	/*
	 * Objects are freed only by a GC's sweep, and those allocated since the
	 * last GC are not counted until the next: with no GC since the last
	 * check, that check's figures stand.
	 */
	t0 = now_ns();
	if (!go_span__heap_sweepgen(t->go_span, (pid_t)t->pid, bias, &heap_sg) &&
	    t->go_own.read && heap_sg == t->go_checked_sweepgen)
		return;
	err = loader__for_each_go_sample(l, collect, &ss);
	if (!err)
		err = ss.err;
	if (err)
		goto out;
	objs = calloc(ss.nr + 1, sizeof(*objs));
	state = calloc(ss.nr + 1, sizeof(*state));
	groups = calloc(ss.nr + 1, sizeof(*groups));
	err = -ENOMEM;
	if (!objs || !state || !groups)
		goto out;
	for (i = 0; i < ss.nr; i++) {
		objs[i].addr = ss.keys[i].addr;
		objs[i].size = ss.vals[i].size;
		start_gen(t, &ss.keys[i], &ss.vals[i], &objs[i]);
	}
	err = go_span__check(t->go_span, (pid_t)t->pid, bias, objs, ss.nr, state, note,
			     sizeof(note));
	if (err)
		goto out;
	t->go_own_unknown = 0;
	t->go_own_unverified = 0;
	t->go_own_young = 0;
	gens = calloc(ss.nr + 1, sizeof(*gens));
	err = -ENOMEM;
	if (!gens)
		goto out;
	for (i = 0; i < ss.nr; i++) {
		if (state[i] == GO_OBJ_FREE) {
			loader__delete_go_sample(l, &ss.keys[i]);
			continue;
		}
		/* Unknown: its span is being swept, or was cached across the GC. */
		if (state[i] == GO_OBJ_UNKNOWN)
			t->go_own_unknown++;
		if (state[i] == GO_OBJ_LIKELY_LIVE)
			t->go_own_unverified++;
		gens[nr_gens++] = (struct go_sample_gen){ .addr = ss.keys[i].addr,
			.ts_ns = ss.vals[i].ts_ns, .gen = objs[i].gen,
			.through_gc = objs[i].through_gc };
		/*
		 * Live as of the last GC, as the runtime's own profile: the young
		 * wait for one; one unknown now counts as it was last seen.
		 */
		if (state[i] == GO_OBJ_YOUNG ||
		    (state[i] == GO_OBJ_UNKNOWN && !objs[i].through_gc)) {
			t->go_own_young += state[i] == GO_OBJ_YOUNG;
			continue;
		}
		groups[ng].stack_id = ss.vals[i].stack_id;
		groups[ng].count = 1;
		groups[ng++].bytes = (int64_t)ss.vals[i].size;
	}
	qsort(groups, ng, sizeof(*groups), cmp_stack);
	p.samples = calloc(ng + 1, sizeof(*p.samples));
	err = -ENOMEM;
	if (!p.samples)
		goto out;
	for (i = 0; i < ng;) {
		struct go_mprof_sample *g = &p.samples[p.nr];
		int64_t count = 0, bytes = 0;
		uint64_t id = groups[i].stack_id;
		struct mt_stack st;
		uint32_t k;

		for (; i < ng && groups[i].stack_id == id; i++) {
			count += groups[i].count;
			bytes += groups[i].bytes;
		}
		if (loader__read_stack(l, id, &st))
			continue;
		g->nstk = st.nr_frames < GO_MPROF_MAX_STACK ? st.nr_frames : GO_MPROF_MAX_STACK;
		for (k = 0; k < g->nstk; k++)
			g->pcs[k] = st.ips[k];
		/* runtime/pprof's scaling: each sample stands for 1/(1 - e^(-size/rate)) objects. */
		go_mprof__scale(count, bytes, (int64_t)rate, &g->inuse_objects, &g->inuse_bytes);
		p.nr++;
	}
	p.read = true;
	t->go_checked_sweepgen = heap_sg;
	t->go_check_cost_ns = now_ns() - t0;
	qsort(gens, nr_gens, sizeof(*gens), cmp_gen);
	free(t->go_gens);
	t->go_gens = gens;
	t->nr_go_gens = nr_gens;
	gens = NULL;
	go_mprof__profile_clear(&t->go_own);
	t->go_own = p;
	p.samples = NULL;
	err = 0;
out:
	if (err) {
		snprintf(t->go_own.note, sizeof(t->go_own.note), "%s",
			 note[0] ? note : strerror(-err));
		mt_debug("pid %u: Go samples not read: %s\n", t->pid, t->go_own.note);
	}
	free(p.samples);
	free(gens);
	free(groups);
	free(state);
	free(objs);
	free(ss.keys);
	free(ss.vals);
}
