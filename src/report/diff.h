/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `memtrace --diff OLD.json NEW.json`: what grew between two snapshots. */
#ifndef MEMTRACE_DIFF_H
#define MEMTRACE_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "report/report.h"

struct json_value;

struct diff_opts {
	const char *old_path;
	const char *new_path;
	const char *folded_path;	/* two-column folded output (inferno's diff format), or NULL */
	/* NEW's pprof profile goes to pprof_path and OLD's to pprof_path + ".base", the
	 * two profiles `go tool pprof -diff_base F.base F` compares; or NULL. */
	const char *pprof_path;
	size_t top_n;			/* stacks in the text output; 0 = default */
};

/* Prints the text diff to stdout and writes the requested files. Returns 0 or -errno
 * (having printed one line naming the problem). */
int diff__run(const struct diff_opts *o);

/*
 * The pieces of diff__run, apart so that they can be tested.
 *
 * A report as --json wrote it, back into a struct mt_report (free it with
 * mt_report__free). What JSON does not hold (mangled names, build-ids,
 * memory-map figures) is left NULL or unknown. Returns 0, -EINVAL when root
 * is not a memtrace report, -ENOTSUP for a version this memtrace does not
 * read, or -ENOMEM; why says what is wrong.
 */
int diff__report_from_json(const struct json_value *root, struct mt_report *r,
			   char *why, size_t why_len);
/* The report in the file at path (a pipe will do), read as above. Returns 0
 * or -errno, having printed one line naming the problem. */
int diff__load_report(const char *path, struct mt_report *r);

/* One call path in both reports. Stacks are the same call path when their
 * frames are: the same function names, or for a frame without one the same
 * module and offset. Stacks of one report that are the same path are summed. */
struct diff_stack {
	char *key;				/* the call path's identity: opaque bytes */
	size_t key_len;
	const struct mt_stack_report *old;	/* the largest such stack; NULL when none */
	const struct mt_stack_report *new;
	/* Live bytes and blocks, or for Go, whose live figures are unknown,
	 * bytes and calls allocated. */
	int64_t old_bytes, new_bytes;
	int64_t old_allocs, new_allocs;
};

/* A process of NEW and the process of OLD it continues (or either alone). */
struct diff_proc {
	const struct mt_proc_report *old;	/* NULL: only in NEW */
	const struct mt_proc_report *new;	/* NULL: only in OLD */
	bool by_alloc;				/* figures are bytes allocated (Go) */
	size_t nr_stacks;
	/* By growth: bytes, then blocks, largest first; ties by call path. */
	struct diff_stack *stacks;
};

struct diff_result {
	size_t nr_procs;
	struct diff_proc *procs;	/* NEW's order, then those only in OLD */
};

/*
 * Pair processes, then stacks. A process of NEW continues the one of OLD
 * with the same pid and comm; failing that, the first left with the same
 * comm (a restarted service: new pid, same name); failing that, the one
 * with the same pid (it exec'd). The result points into both reports.
 */
int diff__match(const struct mt_report *old, const struct mt_report *new,
		struct diff_result *out);
void diff_result__free(struct diff_result *d);

int diff__write_text(const struct diff_result *d, FILE *f, size_t top_n);
/* "comm;outermost;...;innermost OLD NEW" per call path, sorted. */
int diff__write_folded(const struct diff_result *d, FILE *f);

#endif
