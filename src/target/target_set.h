/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The processes one run traces, however they were named: a command
 * memtrace starts (--), processes given by pid (-p), or every process the
 * BPF side takes in (system-wide, target/sysview.h).
 */
#ifndef MEMTRACE_TARGET_SET_H
#define MEMTRACE_TARGET_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/target.h"

#define TARGET_SET_NO_COMMAND ((size_t)-1)

struct target_set {
	struct target *targets;
	size_t nr;
	size_t cap;
	size_t command;		/* index of the command memtrace started, or TARGET_SET_NO_COMMAND */
	/* System-wide: processes gone, for the BPF side to forget (target/sysview.c). */
	uint32_t *gone;
	size_t nr_gone, cap_gone;
	unsigned int forget_wait;	/* refreshes before the BPF side forgets again */
};

void target_set__init(struct target_set *s);
/*
 * The command memtrace started as pid from path, traced from its first
 * allocation; program is what the kernel runs for it (a script's
 * interpreter); alloc (found before it ran) is taken over and zeroed.
 */
int target_set__add_command(struct target_set *s, uint32_t pid, const char *path,
			    const char *program, struct allocator_obj *alloc);
/*
 * A running process (-p), read from /proc, with its allocator found (lib
 * overrides). -ESRCH: no such process; -EINVAL: a kernel thread; when
 * *alloc_failed is set, the error is the allocator's (-ENOENT: none found)
 * and the target is in the set all the same, for a message to name it.
 */
int target_set__add_pid(struct target_set *s, uint32_t pid, const char *lib, bool *alloc_failed);
/* A process the BPF side took in (system-wide); *added is false when it is gone already. */
int target_set__add_seen(struct target_set *s, uint32_t pid, bool *added);
/* Remove targets[i], not the command (system-wide: a process forgotten); the last takes its place. */
void target_set__remove(struct target_set *s, size_t i);
struct target *target_set__find(struct target_set *s, uint32_t pid);
/* The command memtrace started, or NULL when it traces others. */
struct target *target_set__command(struct target_set *s);
bool target_set__all_exited(const struct target_set *s);
void target_set__clear(struct target_set *s);

#endif
