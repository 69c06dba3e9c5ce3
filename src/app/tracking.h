/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Native tracking: every block while it fits, sampled when it does not.
 * The allocs map holds a bounded number of blocks (kernel memory); a
 * service of tens of millions of live blocks cannot be tracked block by
 * block, and a map that fills loses blocks silently from the figures'
 * point of view. So, unless told (--exact, --sample-rate), memtrace starts
 * sampling a process that is already large when it attaches, and switches
 * to sampling when the map nears full (and halves the rate again if it
 * fills anyway), saying so in one line and in the report.
 */
#ifndef MEMTRACE_TRACKING_H
#define MEMTRACE_TRACKING_H

#include <stdint.h>

struct run;

/* At start, before the targets run on: --sample-rate, or a large -p target. */
void tracking__start(struct run *r);
/*
 * After a pass over the live blocks (blocks: how many, sampled: how many of
 * them kept by sampling): switch when the map nears full.
 */
void tracking__check(struct run *r, uint64_t blocks, uint64_t sampled);
/* Bytes per sampled allocation now (0: every block). */
uint64_t tracking__rate(const struct run *r);

#endif
