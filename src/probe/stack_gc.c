/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stacks are stored once, shared by every process that allocates from them,
 * and the BPF side never deletes one. System-wide, processes come and go and
 * their figures are forgotten; their stacks would stay and fill the map, and
 * every new stack after that would be lost. This takes out the stacks
 * nothing refers to any more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"
#include "probe/loader.h"
#include "util/log.h"
#include "probe/stack_gc.h"

struct id_set {
	uint64_t *slots;	/* open addressing; 0 is empty (no stack has id 0) */
	size_t mask;
	size_t used;
	int err;		/* a failed growth: the set is incomplete */
};

struct stack_gc {
	struct id_set candidates;	/* unreferenced at the last pass */
	int passes_due;			/* one marks, the next takes out */
	uint64_t pruned;
};

static int set_init(struct id_set *s, size_t want)
{
	size_t n = 64;

	while (n < want * 2)
		n *= 2;
	memset(s, 0, sizeof(*s));
	s->slots = calloc(n, sizeof(*s->slots));
	s->mask = n - 1;
	return s->slots ? 0 : -ENOMEM;
}

static void set_put(struct id_set *s, uint64_t id)
{
	size_t i = mix64(id) & s->mask;

	while (s->slots[i] && s->slots[i] != id)
		i = (i + 1) & s->mask;
	if (!s->slots[i])
		s->used++;
	s->slots[i] = id;
}

static void set_add(struct id_set *s, uint64_t id)
{
	if (s->err)
		return;
	/* At most half full, so probing always ends at an empty slot. */
	if ((s->used + 1) * 2 > s->mask + 1) {
		struct id_set bigger;
		size_t i;

		if (set_init(&bigger, s->mask + 1)) {
			s->err = -ENOMEM;
			return;
		}
		for (i = 0; i <= s->mask; i++)
			if (s->slots[i])
				set_put(&bigger, s->slots[i]);
		free(s->slots);
		*s = bigger;
	}
	set_put(s, id);
}

static bool set_has(const struct id_set *s, uint64_t id)
{
	size_t i;

	if (!s->slots)
		return false;
	for (i = mix64(id) & s->mask; s->slots[i]; i = (i + 1) & s->mask)
		if (s->slots[i] == id)
			return true;
	return false;
}

int stack_gc__new(struct stack_gc **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void stack_gc__free(struct stack_gc *g)
{
	if (!g)
		return;
	free(g->candidates.slots);
	free(g);
}

void stack_gc__forgot(struct stack_gc *g)
{
	if (g)
		g->passes_due = 2;
}

bool stack_gc__due(const struct stack_gc *g)
{
	return g && g->passes_due > 0;
}

uint64_t stack_gc__pruned(const struct stack_gc *g)
{
	return g ? g->pruned : 0;
}

static void add_stat_ref(void *ctx, const struct mt_stat_key *k, const struct mt_stat *s)
{
	(void)s;
	set_add(ctx, k->stack_id);
}

struct stacks_walk {
	const struct id_set *referenced;
	uint64_t *unref;
	size_t nr, cap;
	int err;
};

static void add_unreferenced(void *ctx, uint64_t id)
{
	struct stacks_walk *w = ctx;

	if (!id || set_has(w->referenced, id) || w->err)
		return;
	if (w->nr == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		uint64_t *n = realloc(w->unref, cap * sizeof(*n));

		if (!n) {
			w->err = -ENOMEM;
			return;
		}
		w->unref = n;
		w->cap = cap;
	}
	w->unref[w->nr++] = id;
}

int stack_gc__run(struct stack_gc *g, struct loader *l, const uint64_t *in_use, size_t nr_in_use)
{
	struct id_set referenced = { 0 }, next = { 0 };
	struct stacks_walk w = { 0 };
	size_t i, deleted = 0;
	int err;

	if (!g || g->passes_due <= 0)
		return 0;
	g->passes_due--;
	/* Every stack a process's figures or the caller's (mapped regions) name is in use. */
	err = set_init(&referenced, 4096);
	if (err)
		return err;
	for (i = 0; i < nr_in_use; i++)
		if (in_use[i])
			set_add(&referenced, in_use[i]);
	err = loader__for_each_stat(l, add_stat_ref, &referenced);
	w.referenced = &referenced;
	if (!err)
		err = loader__for_each_stack_id(l, add_unreferenced, &w);
	err = err ?: referenced.err ?: w.err;
	if (!err)
		err = set_init(&next, w.nr);
	/*
	 * A probe stores a new stack before it counts it (and an allocation in
	 * flight names its stack only in task storage): a stack is taken out
	 * only when it was unreferenced at the previous pass as well.
	 */
	for (i = 0; !err && i < w.nr; i++) {
		if (set_has(&g->candidates, w.unref[i]) &&
		    !loader__delete_stack(l, w.unref[i]))
			deleted++;
		else
			set_add(&next, w.unref[i]);
	}
	err = err ?: next.err;
	g->pruned += deleted;
	if (deleted)
		mt_debug("stacks: %zu no longer referenced taken out\n", deleted);
	if (!err) {
		free(g->candidates.slots);
		g->candidates = next;
		next.slots = NULL;
	}
	free(next.slots);
	free(referenced.slots);
	free(w.unref);
	return err;
}
