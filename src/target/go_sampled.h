/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace's own sample of a Go program's heap, for programs whose runtime
 * keeps no heap profile (runtime.MemProfileRate 0, the default of a program
 * that never references runtime.MemProfile). The BPF side samples
 * allocations by bytes, as the runtime would (mean go_sample_rate bytes
 * apart), and keeps each sampled object's address, slot size and stack.
 * Here, at each refresh, the runtime's span metadata says which sampled
 * objects are still allocated; those make a heap profile per stack, scaled
 * as runtime/pprof scales heap samples. Only allocations made while the
 * probe was attached are in it.
 */
#ifndef MEMTRACE_GO_SAMPLED_H
#define MEMTRACE_GO_SAMPLED_H

#include <stdint.h>
#include "probe/loader.h"
#include "target/target.h"

struct loader;

/* Where t's runtime keeps what the sampling probe reads (opening its span layout): 0 or -errno. */
int go_sampled__layout(struct target *t, struct loader_go_layout *out);
/*
 * Read t's samples, forget those freed, and rebuild t->go_own from those
 * still allocated; rate is the sampling's mean distance in bytes. Nothing
 * is read when no GC ran since the last call (t->go_check_cost_ns says what
 * the last check cost).
 */
void go_sampled__update(struct target *t, struct loader *l, uint64_t rate);

#endif
