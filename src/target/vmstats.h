/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What explains a process's RSS: mapped, released and retained memory,
 * from the interval map of its memory-map calls, the pages present in
 * memory (pagemap) and the live heap (the allocs map, or Go's heap spans).
 */
#ifndef MEMTRACE_VMSTATS_H
#define MEMTRACE_VMSTATS_H

#include <stddef.h>
#include "memtrace.h"
#include "target/target.h"

struct loader;

/* Apply one memory-map event to the target it belongs to. */
void vmstats__apply(struct target *targets, size_t nr, const struct mt_vm_event *e);
/* What /proc/PID/maps shows before tracing began (-p mode). */
void vmstats__seed(struct target *t);
/*
 * Bring t's interval map in line with the maps last read (t->maps): what
 * it missed (made before tracing, by the kernel at exec, lost events) comes
 * in, what is gone goes. Call with the memory-map events drained first.
 */
int vmstats__reconcile(struct target *t);
/* Recompute t->vmf for the live targets among targets; the live blocks read, and how many sampled. */
int vmstats__update(struct target *targets, size_t nr, struct loader *l, uint64_t *blocks,
		    uint64_t *sampled);
/*
 * The same in three steps, for a caller that walks the allocs map anyway
 * (a snapshot): begin, add every block, finish.
 */
void vmstats__begin(struct target *targets, size_t nr);
void vmstats__add_block(struct target *targets, size_t nr, const struct mt_alloc_key *k,
			const struct mt_alloc_info *info);
void vmstats__finish(struct target *targets, size_t nr, struct loader *l);
/* Whether an anonymous mapping at addr is where the Go runtime puts its heap arenas. */
bool vmstats__is_go_arena(uint64_t addr);

#endif
