/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `memtrace --diff OLD.json NEW.json`: what grew between two snapshots. */
#ifndef MEMTRACE_DIFF_H
#define MEMTRACE_DIFF_H

#include <stddef.h>

struct diff_opts {
	const char *old_path;
	const char *new_path;
	const char *folded_path;	/* two-column folded output (inferno's diff format), or NULL */
	const char *pprof_path;		/* pprof of NEW - OLD, or NULL */
	size_t top_n;			/* stacks in the text output; 0 = default */
};

/* Prints the text diff to stdout and writes the requested files. Returns 0 or -errno
 * (having printed one line naming the problem). */
int diff__run(const struct diff_opts *o);

#endif
