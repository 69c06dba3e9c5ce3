/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A parsed copy of /proc/PID/maps, taken while the process lives. */
#ifndef MEMTRACE_PROCMAPS_H
#define MEMTRACE_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vma {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;		/* file offset of start */
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	char perms[5];		/* "r-xp" */
	char *path;		/* NULL for anonymous; "[heap]", "[stack]", ... kept as is;
				 * a " (deleted)" suffix is stripped and `deleted` set */
	bool deleted;
};

struct proc_maps {
	uint32_t pid;
	size_t nr;
	struct vma *vmas;	/* sorted by start */
};

/* Parse maps text (the content of /proc/PID/maps). Returns 0 or -errno. */
int proc_maps__parse(const char *text, size_t len, uint32_t pid, struct proc_maps **out);
/* Read and parse /proc/PID/maps. -ENOENT/-ESRCH when the process is gone. */
int proc_maps__read(uint32_t pid, struct proc_maps **out);
/* The mapping that contains addr, or NULL. Binary search. */
const struct vma *proc_maps__find(const struct proc_maps *m, uint64_t addr);
/* true for a file-backed mapping of a real file (not [heap], [vdso], anon). */
bool vma__is_file(const struct vma *v);
void proc_maps__free(struct proc_maps *m);

#endif
