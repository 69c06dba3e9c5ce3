/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include "snapshot/aggregate.h"
#include "util/hash.h"

struct agg_table {
	struct agg_entry *entries;
	size_t nr, cap;
	size_t *slots;		/* open addressing: index + 1 into entries, 0 = empty */
	size_t nr_slots;	/* power of two */
	uint64_t now_ns;
	uint64_t min_age_ns;
	uint64_t orphans;
};

struct agg_table *agg_table__new(uint64_t now_ns, uint64_t min_age_ns)
{
	struct agg_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->now_ns = now_ns;
	t->min_age_ns = min_age_ns;
	return t;
}

static size_t *find_slot(const struct agg_table *t, uint32_t pid, uint64_t stack_id)
{
	size_t mask = t->nr_slots - 1, i;

	for (i = mix64_pair(stack_id, pid) & mask;; i = (i + 1) & mask) {
		size_t *s = &t->slots[i];
		const struct agg_entry *e;

		if (!*s)
			return s;
		e = &t->entries[*s - 1];
		if (e->pid == pid && e->stack_id == stack_id)
			return s;
	}
}

static int grow(struct agg_table *t)
{
	size_t nr_slots = t->nr_slots ? t->nr_slots * 2 : 1024, i;
	size_t *old = t->slots, old_nr = t->nr_slots;

	t->slots = calloc(nr_slots, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->nr_slots = nr_slots;
	for (i = 0; i < old_nr; i++) {
		const struct agg_entry *e;

		if (!old[i])
			continue;
		e = &t->entries[old[i] - 1];
		*find_slot(t, e->pid, e->stack_id) = old[i];
	}
	free(old);
	return 0;
}

int agg_table__add_stat(struct agg_table *t, const struct mt_stat_key *key, const struct mt_stat *stat)
{
	struct agg_entry *e;
	size_t *slot;

	/* Keep the load factor under one half. */
	if ((t->nr + 1) * 2 > t->nr_slots && grow(t))
		return -ENOMEM;
	slot = find_slot(t, key->pid, key->stack_id);
	if (*slot) {
		e = &t->entries[*slot - 1];
	} else {
		if (t->nr == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			struct agg_entry *n = realloc(t->entries, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			t->entries = n;
			t->cap = cap;
		}
		e = &t->entries[t->nr++];
		*slot = t->nr;
		*e = (struct agg_entry){ .pid = key->pid, .stack_id = key->stack_id, .stat = *stat };
		return 0;
	}
	/* Two entries filed under one stack: a finished deferred walk's and the stack's own. */
	e->stat.alloc_bytes_total += stat->alloc_bytes_total;
	e->stat.allocs_total += stat->allocs_total;
	e->stat.not_recorded += stat->not_recorded;
	return 0;
}

void agg_table__add_block(struct agg_table *t, const struct mt_alloc_key *key,
			  const struct mt_alloc_info *info)
{
	struct agg_entry *e;
	size_t *slot;

	if (!t->nr_slots) {
		t->orphans++;
		return;
	}
	slot = find_slot(t, key->pid, info->stack_id);
	if (!*slot) {
		t->orphans++;
		return;
	}
	e = &t->entries[*slot - 1];
	e->blocks++;
	/* Blocks younger than --min-age are left out, as memleak's --older does. */
	if (t->min_age_ns &&
	    (info->ts_ns > t->now_ns || t->now_ns - info->ts_ns < t->min_age_ns))
		return;
	if (info->size & MT_ALLOC_SAMPLED) {
		double size = (double)MT_ALLOC_SIZE(info->size);
		double rate = (double)(1ull << MT_ALLOC_SHIFT(info->size));
		/* Drawn with probability 1 - e^(-size/rate): it stands for the inverse of that. */
		double w = size > 0 ? 1.0 / -expm1(-size / rate) : 1.0;

		e->sampled_blocks++;
		e->est_bytes += size * w;
		e->est_allocs += w;
	} else {
		e->live_bytes += (int64_t)info->size;
		e->live_allocs++;
	}
	if (!e->oldest_ts_ns || info->ts_ns < e->oldest_ts_ns)
		e->oldest_ts_ns = info->ts_ns;
}

void agg_table__finish(struct agg_table *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		struct agg_entry *e = &t->entries[i];
		uint64_t kept = e->stat.not_recorded + e->blocks;

		e->frees_total = e->stat.allocs_total > kept ? e->stat.allocs_total - kept : 0;
		/* Sampled blocks: the estimate joins the blocks kept exactly (before sampling began). */
		e->live_bytes += llround(e->est_bytes);
		e->live_allocs += llround(e->est_allocs);
		e->est_bytes = e->est_allocs = 0;
	}
}

size_t agg_table__entries(const struct agg_table *t, uint32_t pid, struct agg_entry ***out)
{
	struct agg_entry **list;
	size_t i, n = 0;

	*out = NULL;
	list = calloc(t->nr ? t->nr : 1, sizeof(*list));
	if (!list)
		return 0;
	for (i = 0; i < t->nr; i++)
		if (!pid || t->entries[i].pid == pid)
			list[n++] = &t->entries[i];
	*out = list;
	return n;
}

uint64_t agg_table__orphans(const struct agg_table *t)
{
	return t->orphans;
}

void agg_table__free(struct agg_table *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t->slots);
	free(t);
}
