/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * System-wide tracing: probes on every allocator library any process maps,
 * and targets that come and go as the BPF side takes processes in.
 */
#ifndef MEMTRACE_SYSVIEW_H
#define MEMTRACE_SYSVIEW_H

#include "target/target_set.h"

struct stack_remap;

struct loader;
struct stack_gc;

/* One uprobe set per allocator (and libstdc++) file mapped anywhere, for all processes. */
int sysview__attach_all(struct loader *l);
/*
 * Follow the processes the BPF side took in: add the new ones, and drop
 * (with their figures and, through gc, their stacks) those already shown
 * as exited.
 */
int sysview__refresh(struct target_set *s, struct loader *l, struct stack_gc *gc,
		     struct stack_remap *remap);

#endif
