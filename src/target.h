/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What memtrace learns about a traced process from /proc, and where its allocator is. */
#ifndef MEMTRACE_TARGET_H
#define MEMTRACE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include "procmaps.h"

struct allocator_obj {
	char *path;		/* path as the target sees it (as in its maps) */
	char *open_path;	/* path memtrace opens: /proc/PID/root/<path>, or the file itself */
	char *name;		/* "glibc", "jemalloc", "tcmalloc", or the file name */
};

struct target {
	uint32_t pid;
	char comm[32];
	char *exe;		/* readlink of /proc/PID/exe, NULL if unreadable */
	struct allocator_obj alloc;
	struct proc_maps *maps;	/* last snapshot taken while the process lived */
	uint64_t rss_bytes;	/* last value read while the process lived */
	bool exited;
	int exit_status;	/* wait status, for a child we started */
};

/* Check pid names a live user-space process memtrace can trace.
 * -ESRCH: no such process; -EINVAL: a kernel thread. */
int target__check(uint32_t pid);

/* Fill comm, exe, maps and rss of t->pid. -ESRCH when gone. */
int target__refresh(struct target *t);

/*
 * Find the allocator: the object mapped in the process that defines malloc
 * and free (a statically linked executable, a preloaded or linked
 * jemalloc/tcmalloc before libc). lib overrides with an explicit file.
 * Returns 0, -ENOENT when none is found, or another -errno.
 */
int target__find_allocator(struct target *t, const char *lib);

/*
 * The same for a program not started yet: its allocator as the dynamic
 * linker would bind malloc, from the executable's own symbols (static) or
 * its libraries in load order (what ld.so lists with
 * LD_TRACE_LOADED_OBJECTS, under the environment it will run with).
 */
int target__find_allocator_for_exec(const char *exe_path, const char *lib,
				    struct allocator_obj *out, char **libstdcxx);

void allocator_obj__clear(struct allocator_obj *a);
void target__clear(struct target *t);

/* Name an allocator by its file name: "glibc" for libc.so.6, ... */
char *allocator_name_for(const char *path);

/* Whether the ELF file at open_path defines malloc and free (dynamic_only: in .dynsym). */
bool file_defines_allocator(const char *open_path, bool dynamic_only);

#endif
