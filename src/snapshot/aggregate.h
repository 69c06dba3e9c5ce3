/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per (process, stack) figures from the raw BPF map contents: the counters
 * kept in BPF, plus what only a pass over live blocks gives (the oldest
 * live allocation, the --min-age filter). Pure data: no I/O.
 */
#ifndef MEMTRACE_AGGREGATE_H
#define MEMTRACE_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

struct agg_entry {
	uint32_t pid;
	uint64_t stack_id;
	struct mt_stat stat;	/* as counted in BPF */
	int64_t live_bytes;	/* live figures after the age filter */
	int64_t live_allocs;
	uint64_t blocks;	/* live blocks, whatever their age */
	uint64_t frees_total;	/* counted blocks no longer live (agg_table__finish) */
	uint64_t oldest_ts_ns;	/* 0: nothing live */
	/* Sampled blocks (MT_ALLOC_SAMPLED), weighed as what they stand for; summed at finish. */
	uint64_t sampled_blocks;
	double est_bytes, est_allocs;
};

struct agg_table;

struct agg_table *agg_table__new(uint64_t now_ns, uint64_t min_age_ns);
/* A stat entry; a second one of the same (pid, stack) is added to the first. */
int agg_table__add_stat(struct agg_table *t, const struct mt_stat_key *key, const struct mt_stat *stat);
/* A live block; blocks whose (pid, stack) has no stat entry are counted as orphans. */
void agg_table__add_block(struct agg_table *t, const struct mt_alloc_key *key,
			  const struct mt_alloc_info *info);
/*
 * Once every stat and block is in: each stack's frees, the blocks it was
 * counted for that are no longer live (a block allocated between the two
 * reads makes that one short for a moment, never negative).
 */
void agg_table__finish(struct agg_table *t);
/* Entries of pid (all pids when pid == 0), in insertion order. */
size_t agg_table__entries(const struct agg_table *t, uint32_t pid, struct agg_entry ***out);
uint64_t agg_table__orphans(const struct agg_table *t);
void agg_table__free(struct agg_table *t);

#endif
