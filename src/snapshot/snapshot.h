/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_SNAPSHOT_H
#define MEMTRACE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "report/report.h"
#include "symbols/symbolize.h"
#include "target/target.h"

struct loader;

struct stack_remap;

struct snapshot_opts {
	double duration_s;
	uint64_t min_age_ns;
	size_t top_n;		/* stacks kept per process; 0 = all */
	size_t unwind_rows_used, unwind_rows_max;	/* reported as map usage */
	uint64_t stacks_removed;	/* stacks memtrace deleted from the map */
	/* Provisional stack ids (finished deferred walks) and what they stand for; or NULL. */
	struct stack_remap *remap;
	bool keep_interpreter;	/* Python stacks keep the interpreter's own C frames */
	/* Native tracking: bytes per sample (0: every block), since when, why. */
	uint64_t sample_rate;
	double sampled_since_s;
	const char *sampling_why;
	int64_t kernel_bytes;	/* -1: unknown */
};

/* What one pass over the BPF maps read: counters, map usage, per-stack figures. */
struct snapshot;

/*
 * Called for each live block as the snapshot reads it: a caller that needs
 * the blocks too (the memory figures) does without a walk of its own.
 */
typedef void (*snapshot_block_fn)(void *ctx, const struct mt_alloc_key *k,
				  const struct mt_alloc_info *info);

/* Read the BPF maps; fn (may be NULL) sees every live block. */
int snapshot__read(struct loader *l, const struct snapshot_opts *o, snapshot_block_fn fn,
		   void *ctx, struct snapshot **out);
/* A symbolized report of targets from what s read; stacks are read from its loader. */
int snapshot__build(const struct snapshot *s, const struct target *targets, size_t nr_targets,
		    struct symbolizer *sym, struct mt_report *r);
/* Live blocks the snapshot read. */
uint64_t snapshot__blocks(const struct snapshot *s);
uint64_t snapshot__sampled_blocks(const struct snapshot *s);
void snapshot__free(struct snapshot *s);

#endif
