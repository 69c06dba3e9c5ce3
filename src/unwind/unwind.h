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
#include "target/target.h"

struct loader;
struct unwinder;

struct unwinder_stats {
	size_t files;		/* files with a table loaded */
	size_t files_fp;	/* files whose code mostly keeps frame pointers (walked by rows all the same) */
	size_t files_without_cfi;
	size_t rows_used;
	size_t rows_max;
	size_t rows_full;	/* files left to frame pointers: the rows array was full */
};

int unwinder__new(struct loader *l, struct unwinder **out);
/* (Re)publish the modules of t from its current maps snapshot. */
int unwinder__update(struct unwinder *u, const struct target *t);
void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out);
void unwinder__free(struct unwinder *u);

#endif
