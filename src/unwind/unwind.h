/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Feeds the BPF stack walker the unwind tables of the traced processes:
 * one table per file (built once, shared by every process that maps it),
 * written into the BPF rows array, and per process the list of its
 * executable mappings with where their rows are.
 */
#ifndef MEMTRACE_UNWIND_H
#define MEMTRACE_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"
#include "target/target.h"
#include "util/procmaps.h"

struct loader;
struct unwinder;

struct unwinder_stats {
	size_t files;		/* files with a table loaded */
	size_t files_without_cfi;
	size_t rows_used;
	size_t rows_max;
	size_t rows_full;	/* files left to frame pointers: the rows array was full */
};

int unwinder__new(struct loader *l, struct unwinder **out);
/*
 * (Re)publish the modules of t from its current maps snapshot; build: build
 * the tables it lacks now (else when a walk needs them: unwinder__publish).
 */
int unwinder__update(struct unwinder *u, const struct target *t, bool build);
/*
 * Publish process pid's executable mappings from maps; fp_only: a program
 * walked with frame pointers only (Go). build: build the tables of files not
 * seen yet; else they are published as pending (MT_ROWS_PENDING), and a
 * walk through one is finished in userspace, which builds it then (only
 * what stacks go through gets built). Thread-safe.
 */
int unwinder__publish(struct unwinder *u, uint32_t pid, const struct proc_maps *maps, bool fp_only,
		      bool build);
/*
 * Finish a walk the BPF side handed over (MT_STACK_F_DEFERRED): the frames
 * it walked, then the frame in e and those above it, unwound from e's copy
 * of the stack by the same rules, with pid's mappings (maps) and their
 * tables. out: the whole stack; *id: its id as the BPF side would have
 * made it had the tables been there. Thread-safe.
 */
int unwinder__finish(struct unwinder *u, uint32_t pid, const struct proc_maps *maps,
		     const struct mt_uev_deferred *e, struct mt_stack *out, uint64_t *id);
/* Build the table of the file process pid maps at v, for the processes that map it later. */
int unwinder__preload(struct unwinder *u, uint32_t pid, const struct vma *v);
void unwinder__stats(struct unwinder *u, struct unwinder_stats *out);
void unwinder__free(struct unwinder *u);

#endif
