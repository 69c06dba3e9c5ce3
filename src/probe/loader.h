/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF object's lifecycle: open, configure, load, attach, read, destroy. */
#ifndef MEMTRACE_LOADER_H
#define MEMTRACE_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "memtrace.h"
#include "probe/counters.h"

struct loader;

struct loader_opts {
	int verbose;		/* 1: -v, 2: -vv (libbpf debug output) */
	bool empty_probes;	/* attach probes that do nothing (benchmark floor) */
	uint64_t min_size;
	uint64_t max_size;
	uint32_t max_allocs;
	uint32_t max_stacks;
	uint32_t vm_buffer;	/* bytes of ring buffer for memory-map events; a power of 2 */
	bool trace_all;		/* system-wide: every process but memtrace */
	uint32_t max_procs;	/* processes traced at once; 0: the default */
	uint32_t stop_pid;	/* a command to stop (SIGSTOP) when its dynamic linker maps libraries */
	bool go;		/* load the Go programs: a target is a Go program */
	uint64_t go_sample_rate;	/* Go: mean bytes between sampled allocations; 0: none */
	uint32_t max_go_samples;	/* sampled Go objects kept at once */
	bool defer_stacks;	/* walks reaching unpublished code go to userspace (unwind tables on) */
	bool python;		/* load the Python programs: a target is a Python interpreter */
};

/*
 * Sampled native tracing from now on: one allocation per 2^shift bytes
 * kept (0: every block, exact). -EOPNOTSUPP without uprobe sessions (each
 * call would still pay its return trap: sampling would not be cheaper).
 */
int loader__set_native_sample_shift(struct loader *l, unsigned int shift);
unsigned int loader__native_sample_shift(const struct loader *l);
/* Let the BPF side start sampling at 2^shift by itself when the allocs map is full (0: not). */
void loader__set_auto_sample_shift(struct loader *l, unsigned int shift);
/* Blocks in the allocs map, as the BPF side counts them (cheap: no walk), or -errno. */
int64_t loader__blocks(struct loader *l);
/* Bytes of kernel memory memtrace's maps hold (their memlock), or -errno. */
int64_t loader__kernel_memory(struct loader *l);

/* Called for each unwinding event (data is a struct mt_uev_*); returns 0. */
typedef int (*loader_unwind_event_fn)(void *ctx, void *data, size_t size);
/*
 * Deliver unwinding events (exec, code mapped, stacks to finish) to fn,
 * from loader__poll_unwind: meant for a thread of its own.
 */
int loader__attach_unwind_events(struct loader *l, loader_unwind_event_fn fn, void *ctx);
/* Wait up to timeout_ms for unwinding events and deliver them; -errno on failure. */
int loader__poll_unwind(struct loader *l, int timeout_ms);
/* File a stack under id (finished in userspace), unless one is there: 0 or -errno. */
int loader__store_stack(struct loader *l, uint64_t id, const struct mt_stack *st);

/* Called for each memory-map event (data is a struct mt_vm_event); returns 0. */
typedef int (*loader_vm_event_fn)(void *ctx, void *data, size_t size);

int loader__new(const struct loader_opts *opts, struct loader **out);
/* How long opening and loading (verifying) the BPF object took, in ms. */
void loader__load_times(const struct loader *l, double *open_ms, double *load_ms);
/* Let the BPF programs record events of process pid (a tgid). */
int loader__add_pid(struct loader *l, uint32_t pid);
/* Where a Go runtime's mspan keeps what the sampling probe reads. */
struct loader_go_layout {
	uint32_t start_off;
	uint32_t freeindex_off;
	uint64_t freeindex_mask;	/* freeindex's bits in the 8 bytes read there */
	uint32_t elemsize_off;
	uint32_t sweepgen_off;
};
/*
 * Put the allocator probes on the ELF file at open_path, which process pid
 * (-1: every process) maps as path; go: it is a Go executable (the runtime's
 * allocator), with go_layout (NULL: unknown, its allocations not sampled).
 */
int loader__attach(struct loader *l, int pid, const char *path, const char *open_path, bool go,
		   const struct loader_go_layout *go_layout, int *nr_probes);
/*
 * Which entry points an allocator has, by name: malloc's family under
 * libc's names, or an allocator's own API (which an executable links
 * privately: Rust's tikv-jemallocator with its `_rjem_` prefix, the
 * mimalloc crate), each name with the allocator's prefix.
 */
enum alloc_api {
	ALLOC_API_LIBC,		/* malloc, calloc, realloc, ..., free */
	ALLOC_API_JEMALLOC,	/* the same, and mallocx, rallocx, sdallocx, dallocx */
	ALLOC_API_MIMALLOC,	/* malloc, zalloc, ..., malloc_aligned, realloc_aligned, free */
	ALLOC_API_PYTHON,	/* CPython's PyObject_ and PyMem_ API: loader__attach_python */
};
/* A native allocator's probes, its functions named prefix + name (prefix NULL: none). */
int loader__attach_allocator(struct loader *l, int pid, const char *path, const char *open_path,
			     enum alloc_api api, const char *prefix, int *nr_probes);
struct py_interp;
/* What the probes on a Python interpreter are. */
struct loader_py_info {
	bool inlined;		/* pymalloc inlined into its callers: each copy is probed */
	size_t sites;		/* inlined allocations, frees and reallocations probed */
	size_t unresolved;	/* inlined ones whose arguments were not found: not seen */
	int probes;
};
/*
 * Probes on the allocator of the CPython interpreter py in the ELF file at
 * open_path, which process pid maps as path (attach_python.c).
 */
int loader__attach_python(struct loader *l, int pid, const char *path, const char *open_path,
			  const struct py_interp *py, struct loader_py_info *info);
/* Called for each new Python stack's code objects (data is a struct mt_py_stack_event). */
typedef int (*loader_py_event_fn)(void *ctx, void *data, size_t size);
/* Deliver those events to fn, from loader__poll_py: meant for a thread of its own. */
int loader__attach_py_events(struct loader *l, loader_py_event_fn fn, void *ctx);
/* Wait up to timeout_ms for them and deliver them; -errno on failure. */
int loader__poll_py(struct loader *l, int timeout_ms);
/* Process pid's interpreter load bias, as its first probe on the interpreter found it. */
int loader__py_bias(struct loader *l, uint32_t pid, uint64_t *bias);
/* operator new in libstdc++ at path, when the process maps it. */
int loader__attach_cxx(struct loader *l, int pid, const char *path, const char *open_path,
		       int *nr_probes);
/* Trace memory-map syscalls of the traced processes; fn gets each event. */
int loader__attach_vm(struct loader *l, loader_vm_event_fn fn, void *ctx);
/* Deliver the events waiting in the ring buffer. */
int loader__consume_vm(struct loader *l);
int loader__read_go_stat(struct loader *l, uint32_t pid, struct mt_go_stat *out);
int loader__read_counters(struct loader *l, uint64_t out[MT_CNT_MAX]);

/*
 * Reading the maps: each call reads a whole map in batches and calls fn for
 * each entry; entries added or deleted meanwhile may or may not be seen.
 */
typedef void (*loader_alloc_fn)(void *ctx, const struct mt_alloc_key *k,
				const struct mt_alloc_info *info);
typedef void (*loader_stat_fn)(void *ctx, const struct mt_stat_key *k, const struct mt_stat *s);
typedef void (*loader_stack_id_fn)(void *ctx, uint64_t stack_id);
int loader__for_each_alloc(struct loader *l, loader_alloc_fn fn, void *ctx);
int loader__for_each_stat(struct loader *l, loader_stat_fn fn, void *ctx);
int loader__for_each_stack_id(struct loader *l, loader_stack_id_fn fn, void *ctx);
typedef void (*loader_go_sample_fn)(void *ctx, const struct mt_go_sample_key *k,
				    const struct mt_go_sample *s);
int loader__for_each_go_sample(struct loader *l, loader_go_sample_fn fn, void *ctx);
/* Forget a sampled Go object userspace found freed. */
int loader__delete_go_sample(struct loader *l, const struct mt_go_sample_key *k);
/* One stored stack; -ENOENT when it is not (or no longer) stored. */
int loader__read_stack(struct loader *l, uint64_t stack_id, struct mt_stack *out);
/* Take a stack out of the map, for the stack GC: the BPF side never does. */
int loader__delete_stack(struct loader *l, uint64_t stack_id);
/* The processes the BPF side traces (system-wide: those it took in). */
int loader__traced_pids(struct loader *l, uint32_t **pids, size_t *nr);
/* Stop process pid (stop_pid) each time ld_so's _dl_debug_state runs. */
int loader__attach_dl_state(struct loader *l, int pid, const char *ld_so);
/* True once for each stop the BPF side sent. */
bool loader__take_dl_stop(struct loader *l);
/* The BPF array of unwind rows, mapped for writing; max: its size in rows. */
int loader__unwind_rows(struct loader *l, struct mt_unwind_row **rows, size_t *max);
/* Where process pid's executable mappings and their unwind rows are. */
int loader__set_modules(struct loader *l, uint32_t pid, const struct mt_proc_modules *mods);
/* Drop a process's module list (it is gone). */
void loader__drop_modules(struct loader *l, uint32_t pid);
/* Drop everything kept for a process that is gone, making room for others. */
void loader__forget_pid(struct loader *l, uint32_t pid);
/* The same for many (pids sorted in place): each map walked once. */
void loader__forget_pids(struct loader *l, uint32_t *pids, size_t nr);
/*
 * Fill usage[MT_MAP_MAX] with the capacity of each map, and the
 * entries of the procs map, counted key by key; the caller counts allocs
 * and stats as it reads them, and stacks from the stacks_stored counter.
 */
int loader__map_usage(struct loader *l, struct mt_map_usage *usage);
/* Where each probed function's probe sits, once per (file, function). */
struct mt_probe_site {
	char *path;
	char *function;
	uint64_t file_offset;	/* of the probe */
	uint64_t site_offset;	/* from the function's start: 0 at the start */
	bool single_stepped;	/* the instruction there is not emulated: a trap more per call */
	const char *why;	/* single-stepped: why no emulated site was found (static) */
};
void loader__probe_sites(const struct loader *l, const struct mt_probe_site **sites, size_t *nr);
/*
 * The mean bytes between sampled allocations of Go process pid; 0 when
 * they are not sampled (sampling off, or its site not found).
 */
uint64_t loader__go_sample_rate(const struct loader *l, uint32_t pid);
/* Go allocations will be sampled where the site is found. */
bool loader__go_sampling(const struct loader *l);
/* Every Go target has both span probes: span-based heap figures are whole. */
bool loader__go_spans_complete(const struct loader *l);
/* Detach every probe and free everything; NULL-safe. */
void loader__free(struct loader *l);

#endif
