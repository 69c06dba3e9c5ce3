/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot/py_frames.h"
#include "util/hash.h"

#define EVAL_FRAME "_PyEval_EvalFrameDefault"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct out {
	struct mt_stack_report *sr;
	size_t cap;
};

/* Append a frame; insert at position at (frames from there move up one) when at < nr. */
static int put(struct out *o, const struct sym_frame *f, size_t at)
{
	struct mt_stack_report *sr = o->sr;
	struct mt_frame *fr;

	if (sr->nr_frames == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 32;
		struct mt_frame *n = realloc(sr->frames, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sr->frames = n;
		o->cap = cap;
	}
	if (at > sr->nr_frames)
		at = sr->nr_frames;
	memmove(&sr->frames[at + 1], &sr->frames[at], (sr->nr_frames - at) * sizeof(*fr));
	fr = &sr->frames[at];
	memset(fr, 0, sizeof(*fr));
	fr->function = dup_or_null(f->function);
	fr->mangled = dup_or_null(f->mangled);
	fr->build_id = dup_or_null(f->build_id);
	fr->module = dup_or_null(f->module);
	fr->file = dup_or_null(f->file);
	fr->offset = f->offset;
	fr->line = f->line;
	fr->inlined = f->inlined;
	fr->python = f->python;
	sr->nr_frames++;
	if ((f->function && !fr->function) || (f->module && !fr->module) ||
	    (f->file && !fr->file))
		return -ENOMEM;
	return 0;
}

/* The Python frames of one eval call (from *next up to its entry frame), at position at. */
static int put_run(struct out *o, const struct mt_stack *st, uint32_t *next,
		   const struct py_frames_ctx *c, size_t at, uint64_t *unresolved)
{
	uint32_t n = st->nr_py < MT_MAX_PY_FRAMES ? st->nr_py : MT_MAX_PY_FRAMES;
	struct sym_frame sf;
	int err;

	while (*next < n) {
		uint32_t idx = (*next)++;
		uint64_t f = st->py[idx];

		if (symbolizer__resolve_py(c->sym, c->t->pid, c->t->alloc.py, c->bias,
					   (const uint64_t *)st->py, n, idx,
					   &sf))
			(*unresolved)++;
		err = put(o, &sf, at++);
		if (err)
			return err;
		if (MT_PY_FRAME_ENTRY(f))
			break;
	}
	return 0;
}

int py_frames__fill(struct mt_stack_report *sr, const struct mt_stack *st,
		    const struct py_frames_ctx *c, uint64_t *unresolved)
{
	uint32_t n = st->nr_frames < MT_MAX_FRAMES ? st->nr_frames : MT_MAX_FRAMES, i;
	uint32_t npy = st->nr_py < MT_MAX_PY_FRAMES ? st->nr_py : MT_MAX_PY_FRAMES, next = 0;
	const char *interp = c->t->alloc.path;
	struct sym_frame sf[SYM_MAX_INLINE_FRAMES];
	struct out o = { .sr = sr };
	size_t nr, k, after_interp = SIZE_MAX;
	int err;

	sr->frames = NULL;
	sr->nr_frames = 0;
	sr->flags = st->flags;
	sr->allocator = st->py_flags & MT_PY_F_API ? "pymalloc" : "malloc";
	for (i = 0; i < n; i++) {
		uint64_t ip = st->ips[i];
		bool mine, eval;

		memset(&sf[0], 0, sizeof(sf[0]));
		nr = 1;
		if (c->t->maps)
			symbolizer__resolve_inlines(c->sym, c->t->maps, ip, sf, SYM_MAX_INLINE_FRAMES,
						    &nr);
		if (!sf[0].module)
			sf[0].offset = ip;
		/* The interpreter's own code; the frame that ran Python code. */
		mine = interp && sf[nr - 1].module && !strcmp(sf[nr - 1].module, interp);
		eval = mine && sf[nr - 1].function && !strcmp(sf[nr - 1].function, EVAL_FRAME);
		if (eval && next < npy) {
			err = put_run(&o, st, &next, c, sr->nr_frames, unresolved);
			if (err)
				return err;
			after_interp = sr->nr_frames;
			if (!c->keep_interpreter)
				continue;
		}
		if (mine && npy && !c->keep_interpreter) {
			after_interp = sr->nr_frames;
			continue;
		}
		for (k = 0; k < nr; k++) {
			if (!sf[k].function)
				(*unresolved)++;
			err = put(&o, &sf[k], sr->nr_frames);
			if (err)
				return err;
		}
	}
	/* Python frames the native walk did not reach: after the interpreter's frames seen last. */
	while (next < npy) {
		err = put_run(&o, st, &next, c,
			      after_interp == SIZE_MAX ? sr->nr_frames : after_interp, unresolved);
		if (err)
			return err;
		after_interp = sr->nr_frames;
	}
	if (st->py_flags & (MT_PY_F_TRUNCATED | MT_PY_F_READ_FAILED))
		sr->flags |= MT_STACK_F_TRUNCATED;
	if (!sr->frames)
		sr->frames = calloc(1, sizeof(*sr->frames));
	return sr->frames ? 0 : -ENOMEM;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_frame(const struct mt_frame *a, const struct mt_frame *b)
{
	if (a->python != b->python || a->inlined != b->inlined || a->line != b->line)
		return false;
	/* A Python frame is its function, file and line; a native one its place in its module. */
	if (a->python)
		return same_str(a->function, b->function) && same_str(a->file, b->file);
	return a->offset == b->offset && same_str(a->module, b->module) &&
	       same_str(a->function, b->function);
}

bool py_frames__same(const struct mt_stack_report *a, const struct mt_stack_report *b)
{
	size_t i;

	if (a->nr_frames != b->nr_frames || !same_str(a->allocator, b->allocator) ||
	    (a->flags & MT_STACK_F_TRUNCATED) != (b->flags & MT_STACK_F_TRUNCATED))
		return false;
	for (i = 0; i < a->nr_frames; i++)
		if (!same_frame(&a->frames[i], &b->frames[i]))
			return false;
	return true;
}

static uint64_t str_hash(const char *s)
{
	return s ? hash_bytes(s, strlen(s)) : 0;
}

uint64_t py_frames__hash(const struct mt_stack_report *s)
{
	uint64_t h = mix64_pair(s->nr_frames, str_hash(s->allocator));
	size_t i;

	for (i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *f = &s->frames[i];

		h = mix64_pair(h, f->python ? str_hash(f->function) ^ str_hash(f->file) :
				  f->offset ^ str_hash(f->module));
		h = mix64_pair(h, (uint64_t)f->line << 2 | f->inlined << 1 | f->python);
	}
	return h;
}

struct slot {
	uint64_t hash;
	size_t idx;		/* + 1; 0: empty */
};

size_t py_frames__merge(struct mt_stack_report *stacks, size_t n)
{
	size_t cap = 16, i, m = 0;
	struct slot *tab;

	while (cap < 2 * n)
		cap *= 2;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return n;	/* unmerged: the same figures, in more rows */
	for (i = 0; i < n; i++) {
		struct mt_stack_report *s = &stacks[i];
		uint64_t h = py_frames__hash(s);
		size_t k = h & (cap - 1);
		struct mt_stack_report *into = NULL;

		for (; tab[k].idx; k = (k + 1) & (cap - 1))
			if (tab[k].hash == h && py_frames__same(&stacks[tab[k].idx - 1], s)) {
				into = &stacks[tab[k].idx - 1];
				break;
			}
		if (!into) {
			stacks[m] = *s;
			tab[k] = (struct slot){ h, m + 1 };
			m++;
			continue;
		}
		into->live_bytes += s->live_bytes;
		into->live_allocs += s->live_allocs;
		into->alloc_bytes_total += s->alloc_bytes_total;
		into->allocs_total += s->allocs_total;
		into->frees_total += s->frees_total;
		if (s->oldest_age_s > into->oldest_age_s)
			into->oldest_age_s = s->oldest_age_s;
		into->flags |= s->flags;
		mt_stack_report__free_frames(s);
	}
	free(tab);
	return m;
}
