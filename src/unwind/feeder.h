/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The unwind feeder: a thread of its own that keeps the BPF walker's view
 * of each process's code current as it changes, without waiting for the
 * next refresh: at an exec or a new executable mapping it publishes the
 * process's modules (building the tables of files not seen yet), and it
 * finishes the walks the BPF side handed over for want of them
 * (MT_STACK_F_DEFERRED), filing each under its whole stack's id.
 */
#ifndef MEMTRACE_FEEDER_H
#define MEMTRACE_FEEDER_H

#include <stdbool.h>
#include <stdint.h>

struct feeder;
struct loader;
struct unwinder;
struct stack_remap;

struct feeder_stats {
	uint64_t published;	/* module lists published on events */
	uint64_t finished;	/* deferred walks finished */
	uint64_t unfinished;	/* deferred walks whose process was gone: kept as walked */
};

/*
 * Start the thread on l's unwinding events; publish_all: also publish, in
 * the background, the modules of every process there now (system-wide).
 * 0 or -errno.
 */
int feeder__start(struct unwinder *u, struct loader *l, struct stack_remap *remap,
		  bool publish_all, struct feeder **out);
void feeder__stats(struct feeder *f, struct feeder_stats *out);
/* Stop the thread, after the events still waiting are handled. NULL does nothing. */
void feeder__stop(struct feeder *f);

#endif
