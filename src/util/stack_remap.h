/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which stack each provisional stack id stands for (MT_STACK_F_DEFERRED):
 * written as the feeder thread finishes deferred walks, read by snapshots
 * (which file the provisional stack's figures under the whole stack's id)
 * and by the stack GC (which keeps the whole stacks). Thread-safe.
 */
#ifndef MEMTRACE_STACK_REMAP_H
#define MEMTRACE_STACK_REMAP_H

#include <stddef.h>
#include <stdint.h>

struct stack_remap;

struct stack_remap *stack_remap__new(void);
/* prov_id (of process pid) stands for id. 0 or -ENOMEM. */
int stack_remap__put(struct stack_remap *r, uint32_t pid, uint64_t prov_id, uint64_t id);
/* The id prov_id stands for; prov_id itself when it is not provisional or not finished. */
uint64_t stack_remap__get(struct stack_remap *r, uint64_t prov_id);
/* Forget process pid's entries (its figures are gone). */
void stack_remap__forget_pid(struct stack_remap *r, uint32_t pid);
/* The ids stood for, appended to *ids (realloc'd, *nr entries): 0 or -ENOMEM. */
int stack_remap__targets(struct stack_remap *r, uint64_t **ids, size_t *nr);
size_t stack_remap__size(struct stack_remap *r);
void stack_remap__free(struct stack_remap *r);

#endif
