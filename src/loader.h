/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF object's lifecycle: open, configure, load, attach, read, destroy. */
#ifndef MEMTRACE_LOADER_H
#define MEMTRACE_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "memtrace.h"
#include "target.h"

struct loader;

struct loader_opts {
	int verbose;		/* 1: -v, 2: -vv (libbpf debug output) */
	bool empty_probes;	/* attach probes that do nothing (benchmark floor) */
	uint64_t min_size;
	uint64_t max_size;
	uint32_t max_allocs;
	uint32_t max_stacks;
};

int loader__new(const struct loader_opts *opts, struct loader **out);
/* Let the BPF programs record events of process pid (a tgid). */
int loader__add_pid(struct loader *l, uint32_t pid);
/* Put the probes on the allocator object for process pid (-1: every process). */
int loader__attach(struct loader *l, int pid, const struct allocator_obj *a, int *nr_probes);
/* operator new in libstdc++ at path, when the process maps it. */
int loader__attach_cxx(struct loader *l, int pid, const char *path, int *nr_probes);
int loader__read_counters(struct loader *l, uint64_t out[MT_CNT_MAX]);
int loader__allocs_fd(struct loader *l);
int loader__stats_fd(struct loader *l);
int loader__stacks_fd(struct loader *l);
/* Detach every probe and free everything; NULL-safe. */
void loader__free(struct loader *l);

#endif
