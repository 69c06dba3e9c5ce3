/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `memtrace -- CMD`: the command is forked and held before exec until the
 * probes are attached, so its first allocation is seen. It is then
 * followed with ptrace, stopping only at its exit, so that its mappings can
 * be read one last time while they still exist.
 */
#ifndef MEMTRACE_LAUNCH_H
#define MEMTRACE_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct child {
	pid_t pid;
	int go_fd;		/* write end: a byte releases the child */
	int err_fd;		/* read end: errno of a failed exec, EOF on success */
	bool traced;		/* ptrace-seized */
	bool done;
	int status;		/* wait status once done */
};

/* Find an executable for argv0 along PATH like execvp; -ENOENT, -EACCES. */
int launch__resolve(const char *argv0, char **path_out);
/*
 * The program the kernel runs for path: path itself, or a script's
 * interpreter ("#!", and "#!/usr/bin/env NAME" along PATH), followed as the
 * kernel follows them. -ENOEXEC for a "#!" line memtrace cannot follow.
 */
int launch__program(const char *path, char **elf_out);
/* Fork a child that waits, then execs path with argv. */
int launch__spawn(const char *path, char *const argv[], struct child *c);
/* Follow the child with ptrace (exec and exit stops only); false when that is refused
 * (it is already traced, e.g. by a debugger). */
bool launch__seize(struct child *c);
/* Let it exec. Returns 0, or the exec's -errno. */
int launch__release(struct child *c);
struct launch_hooks {
	/* The child's first thread is stopped in its exit: its mappings are still
	 * there. whole_process: the process ends (not only that thread). */
	void (*on_exit)(void *ctx, bool whole_process);
	/* The child is stopped: it has just exec'd, or its dynamic linker has
	 * mapped new libraries. */
	void (*on_mapped)(void *ctx);
	/* A SIGSTOP arrived: true when memtrace sent it (it is then swallowed). */
	bool (*stop_is_ours)(void *ctx);
	void *ctx;
};

/* Reap or resume the child after SIGCHLD. Returns true once the child is gone. */
bool launch__poll(struct child *c, const struct launch_hooks *hooks);
/* Kill and reap a child that never ran its command. */
void launch__abort(struct child *c);

#endif
