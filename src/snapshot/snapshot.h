/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_SNAPSHOT_H
#define MEMTRACE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "report/report.h"
#include "symbols/symbolize.h"
#include "target/target.h"

struct loader;

struct snapshot_opts {
	double duration_s;
	uint64_t min_age_ns;
	size_t top_n;		/* stacks kept per process; 0 = all */
	size_t unwind_rows_used, unwind_rows_max;	/* reported as map usage */
	uint64_t stacks_removed;	/* stacks memtrace deleted from the map */
	/* Bring the targets' memory figures up to date from the same pass
	 * over the allocs map (vmstats__update without a walk of its own). */
	bool feed_vm;
};

/* Read the BPF maps and build a symbolized report of targets. */
int snapshot__build(struct loader *l, struct target *targets, size_t nr_targets,
		    struct symbolizer *sym, const struct snapshot_opts *o, struct mt_report *r);

#endif
