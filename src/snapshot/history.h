/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Figures over time, for the live display: per process and per stack, the
 * live bytes and allocation counts of the last refreshes, from which growth,
 * rates, a sparkline and the leak score are derived. Pure data, no I/O.
 */
#ifndef MEMTRACE_HISTORY_H
#define MEMTRACE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "report/report.h"

/* Samples kept per series: enough for a minute at 1 s refreshes. */
#define HISTORY_SAMPLES 64
/* Samples a sparkline shows. */
#define HISTORY_SPARK 16

struct history;

struct hist_stats {
	size_t nr_samples;
	double window_s;		/* time the growth is measured over */
	double growth_per_min;		/* live bytes per minute over the window (up to 60 s) */
	double alloc_rate;		/* allocations per second, last interval */
	double alloc_bytes_rate;	/* bytes allocated per second, last interval */
	double rising_fraction;		/* share of intervals in the window in which live bytes rose */
	double leak_score;		/* see history.c and the README */
	size_t nr_spark;
	int64_t spark[HISTORY_SPARK];	/* last live-bytes values, oldest first */
};

struct history *history__new(void);
void history__free(struct history *h);

/* Record one refresh taken at time t (seconds, monotonic). Stacks are keyed
 * by (pid, stack_id); series of stacks and processes that are gone are dropped
 * after a while. */
int history__add(struct history *h, const struct mt_report *r, double t);

/* Statistics of one stack or one process; -ENOENT when never seen. */
int history__stack(const struct history *h, uint32_t pid, uint64_t stack_id,
		   struct hist_stats *out);
int history__proc(const struct history *h, uint32_t pid, struct hist_stats *out);

/* Draw a sparkline of the values in out (at most HISTORY_SPARK bytes of
 * "_.-=*#" style ASCII, or UTF-8 block characters when utf8): returns buf. */
const char *history__sparkline(const struct hist_stats *s, bool utf8, char *buf, size_t len);

#endif
