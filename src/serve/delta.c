/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The change between two reports, for ?seconds=N: what net/http/pprof
 * returns for a delta heap profile (the later profile minus the earlier one,
 * every sample type, samples that did not change dropped). Built as a view:
 * new arrays of processes and stacks whose strings and frames are the two
 * reports' own, so a delta of a large report costs no copy of its names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "serve/serve_internal.h"

static int cmp_stack_id(const void *a, const void *b)
{
	const struct mt_stack_report *x = *(const struct mt_stack_report *const *)a;
	const struct mt_stack_report *y = *(const struct mt_stack_report *const *)b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static const struct mt_proc_report *find_proc(const struct mt_report *r,
					      const struct mt_proc_report *p)
{
	size_t i;

	for (i = 0; i < r->nr_procs; i++)
		if (r->procs[i].pid == p->pid)
			return strncmp(r->procs[i].comm, p->comm, sizeof(p->comm)) ? NULL :
			       &r->procs[i];
	return NULL;
}

static bool unchanged(const struct mt_stack_report *s)
{
	return !s->live_bytes && !s->live_allocs && !s->alloc_bytes_total && !s->allocs_total &&
	       !s->frees_total;
}

/*
 * Unsigned figures wrap when they went down (a stack that is gone): the
 * profile writer reads them as int64, negative, as pprof shows such a change.
 */
static uint64_t less(uint64_t a, uint64_t b)
{
	return a - b;
}

static void subtract(struct mt_stack_report *d, const struct mt_stack_report *b)
{
	d->live_bytes -= b->live_bytes;
	d->live_allocs -= b->live_allocs;
	d->alloc_bytes_total = less(d->alloc_bytes_total, b->alloc_bytes_total);
	d->allocs_total = less(d->allocs_total, b->allocs_total);
	d->frees_total = less(d->frees_total, b->frees_total);
}

static void negate(struct mt_stack_report *d)
{
	d->live_bytes = -d->live_bytes;
	d->live_allocs = -d->live_allocs;
	d->alloc_bytes_total = -d->alloc_bytes_total;
	d->allocs_total = -d->allocs_total;
	d->frees_total = -d->frees_total;
}

static int delta_proc(const struct mt_proc_report *bp, const struct mt_proc_report *ep,
		      struct mt_proc_report *out)
{
	const struct mt_stack_report **by_id = NULL;
	size_t nb = bp ? bp->nr_stacks : 0, i, n = 0;
	bool *matched = NULL;

	*out = *ep;
	out->map_stacks = NULL;
	out->nr_map_stacks = 0;
	out->stacks = calloc(ep->nr_stacks + nb + 1, sizeof(*out->stacks));
	if (nb) {
		by_id = malloc(nb * sizeof(*by_id));
		matched = calloc(nb, sizeof(*matched));
	}
	if (!out->stacks || (nb && (!by_id || !matched))) {
		free(by_id);
		free(matched);
		free(out->stacks);
		out->stacks = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < nb; i++)
		by_id[i] = &bp->stacks[i];
	if (nb)
		qsort(by_id, nb, sizeof(*by_id), cmp_stack_id);
	for (i = 0; i < ep->nr_stacks; i++) {
		const struct mt_stack_report *key = &ep->stacks[i], **hit;
		struct mt_stack_report *d = &out->stacks[n];

		*d = *key;
		hit = nb ? bsearch(&key, by_id, nb, sizeof(*by_id), cmp_stack_id) : NULL;
		if (hit) {
			subtract(d, *hit);
			matched[hit - by_id] = true;
		}
		if (!unchanged(d))
			n++;
	}
	/* A stack the earlier report had and the later one has not: all of it went. */
	for (i = 0; i < nb; i++) {
		struct mt_stack_report *d = &out->stacks[n];

		if (matched[i])
			continue;
		*d = *by_id[i];
		negate(d);
		if (!unchanged(d))
			n++;
	}
	out->nr_stacks = n;
	if (bp) {
		out->heap.live_bytes -= bp->heap.live_bytes;
		out->heap.live_allocs -= bp->heap.live_allocs;
		out->heap.alloc_bytes_total = less(out->heap.alloc_bytes_total,
						   bp->heap.alloc_bytes_total);
		out->heap.allocs_total = less(out->heap.allocs_total, bp->heap.allocs_total);
		out->heap.frees_total = less(out->heap.frees_total, bp->heap.frees_total);
	}
	free(by_id);
	free(matched);
	return 0;
}

int delta__build(const struct mt_report *base, const struct mt_report *end, double seconds,
		 struct mt_report *out)
{
	size_t i;
	int c, err = 0;

	*out = *end;
	out->probes = NULL;
	out->nr_probes = 0;
	out->duration_s = seconds;
	out->lost_events -= base->lost_events;
	for (c = 0; c < MT_CNT_MAX; c++)
		out->counters[c] -= base->counters[c];
	out->procs = calloc(end->nr_procs + 1, sizeof(*out->procs));
	out->nr_procs = 0;
	if (!out->procs)
		return -ENOMEM;
	for (i = 0; i < end->nr_procs && !err; i++) {
		err = delta_proc(find_proc(base, &end->procs[i]), &end->procs[i],
				 &out->procs[out->nr_procs]);
		if (!err)
			out->nr_procs++;
	}
	if (err)
		delta__free(out);
	return err;
}

void delta__free(struct mt_report *r)
{
	size_t i;

	for (i = 0; i < r->nr_procs; i++)
		free(r->procs[i].stacks);
	free(r->procs);
	r->procs = NULL;
	r->nr_procs = 0;
}
