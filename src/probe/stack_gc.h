/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Taking out of the stacks map the stacks of processes that are forgotten. */
#ifndef MEMTRACE_STACK_GC_H
#define MEMTRACE_STACK_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loader;
struct stack_gc;

int stack_gc__new(struct stack_gc **out);
/* A process's figures were forgotten: its stacks may be unreferenced now. */
void stack_gc__forgot(struct stack_gc *g);
/* Whether the next stack_gc__run has work: its caller's references are worth collecting. */
bool stack_gc__due(const struct stack_gc *g);
/*
 * When a process was forgotten since the last two passes: delete the stacks
 * no stats entry names, none of in_use (the caller's references: mapped
 * regions), and that nothing named at the previous pass either. Returns 0
 * or -errno; g NULL does nothing.
 */
int stack_gc__run(struct stack_gc *g, struct loader *l, const uint64_t *in_use, size_t nr_in_use);
/* How many stacks were taken out in all. */
uint64_t stack_gc__pruned(const struct stack_gc *g);
void stack_gc__free(struct stack_gc *g);

#endif
