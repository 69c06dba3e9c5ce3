/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the files of src/unwind share: the per-file tables as placed in the rows array. */
#ifndef MEMTRACE_UNWIND_INTERNAL_H
#define MEMTRACE_UNWIND_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "memtrace.h"
#include "unwind/unwind.h"
#include "util/procmaps.h"

/* One file's table, as placed in the rows array. */
struct file_table {
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	char *path;		/* for files without an inode (rare) */
	uint64_t pgoff;		/* the mapping offset the vaddr below is for */
	uint64_t vaddr_at_pgoff;
	uint64_t base;		/* the table's base vaddr */
	uint32_t row_first;
	uint32_t row_count;	/* 0: frame pointers */
	bool fp_calls;		/* unwind_table's, for mt_module */
	uint32_t fp_slow_lo[2], fp_slow_hi[2];
	int status;		/* 0, or why there is no table */
};

struct unwinder {
	/* The main loop and the feeder thread both publish and read tables. */
	pthread_mutex_t lock;
	struct loader *loader;
	struct mt_unwind_row *rows;	/* the BPF array, mapped */
	size_t rows_max, rows_used;
	struct file_table *files;
	size_t nr_files, cap_files;
	struct unwinder_stats stats;
	uint32_t gen;			/* the last mt_proc_modules.gen published */
};

/* The table of the file behind v, built (from /proc/pid/map_files) when not yet; NULL: no memory. */
const struct file_table *unwinder_table_locked(struct unwinder *u, uint32_t pid, const struct vma *v);

/* Code the process runs: file mappings, the vdso, JIT code, the uretprobe trampoline. */
bool unwinder_is_code(const struct vma *v);

#endif
