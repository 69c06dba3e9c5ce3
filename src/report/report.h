/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The snapshot every report format is written from: plain data, already
 * aggregated, filtered, sorted and symbolized. Writers only format it.
 */
#ifndef MEMTRACE_REPORT_H
#define MEMTRACE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "memtrace.h"
#include "probe/counters.h"

struct mt_frame {
	char *function;		/* demangled name; NULL when unresolved */
	char *mangled;		/* the name in the symbol table (== function for C); NULL when unresolved */
	char *build_id;		/* the module's build-id, lowercase hex; NULL when unknown */
	char *module;		/* path of the mapped object; NULL when no mapping covers it */
	uint64_t offset;	/* module-relative address (ELF virtual address) of the pc */
	char *file;		/* source file; NULL when unknown */
	int line;		/* 0 when unknown */
	bool inlined;
	bool python;		/* a Python frame: function is co_qualname, file co_filename */
};

struct mt_stack_report {
	uint64_t stack_id;	/* memtrace's id of the stack: stable within one run */
	int64_t live_bytes;
	int64_t live_allocs;
	uint64_t alloc_bytes_total;
	uint64_t allocs_total;
	uint64_t frees_total;
	double oldest_age_s;	/* age of the oldest live allocation; < 0 when none is live */
	uint32_t flags;		/* MT_STACK_F_* */
	size_t nr_frames;
	struct mt_frame *frames;	/* innermost first */
	/* A Python process's: "pymalloc" (the interpreter's API) or "malloc"; else NULL. Static. */
	const char *allocator;
};

struct mt_heap_totals {
	int64_t live_bytes;
	int64_t live_allocs;
	uint64_t alloc_bytes_total;
	uint64_t allocs_total;
	uint64_t frees_total;
	int64_t live_usable_bytes;	/* rounded up to the allocator's classes; -1: unknown */
};

struct mt_vm_totals {
	bool known;		/* false: printed as null */
	uint64_t mapped_bytes;
	uint64_t released_bytes;
	uint64_t retained_bytes;
	bool retained_known;	/* false: retained_bytes printed as null */
	bool retained_upper_bound;	/* blocks allocated before attaching count as free */
	bool retained_estimate;	/* from sampled blocks: an estimate */
	uint64_t heap_resident_bytes;
	uint64_t rss_anon_bytes;
	uint64_t reconciled_bytes;	/* mapped or unmapped unseen, taken from /proc/PID/maps */
};

/* Memory a call stack made the process map (mmap, brk) that is still mapped. */
struct mt_map_stack {
	uint64_t mapped_bytes;
	uint64_t resident_bytes;
	uint64_t regions;
	bool before_tracing;	/* mapped before memtrace attached: no stack */
	struct mt_stack_report stack;	/* frames only */
};

/* A Go program's own heap figures, as runtime.ReadMemStats would give them now. */
struct mt_go_report {
	bool present;		/* a Go program: "go" is written */
	bool read;		/* the figures below were read; else note says why not */
	char version[48];	/* "go1.19.8", "" when unknown */
	const char *source;	/* static: "dwarf" or "table", where the field offsets came from */
	uint64_t heap_inuse_bytes;	/* HeapInuse */
	uint64_t heap_free_bytes;	/* HeapIdle - HeapReleased */
	uint64_t heap_released_bytes;	/* HeapReleased */
	/* the live heap, /gc/heap/live:bytes: heap.live_bytes when live_read */
	bool live_read;
	uint64_t heap_live_bytes;
	char note[200];
	char profile_note[200];	/* why there are no live bytes per stack, "" when there are */
	/* static: where live bytes per stack come from: "runtime" (its heap profile),
	 * "memtrace" (memtrace's own sample since attaching), NULL: none */
	const char *live_source;
	uint64_t samples_unknown;	/* memtrace's samples whose state could not be read */
	uint64_t samples_unverified;	/* live, but not seen at every sweep: maybe a reused slot */
	uint64_t samples_young;		/* allocated since the last GC: not in the figures yet */
	bool live_since_attach;	/* memtrace's sample began after the process did (-p) */
};

/* A CPython interpreter's process: what memtrace read of it. */
struct mt_py_report {
	bool present;
	char version[24];	/* "3.11.2"; "" when unknown */
	bool frames;		/* Python frames are read */
	const char *source;	/* static: where the layout came from ("table", "debug offsets") */
	char note[200];		/* why Python frames are not read, "" when they are */
	bool inlined;		/* pymalloc inlined into its callers: each copy probed */
	uint64_t inlined_sites;	/* copies probed */
	uint64_t unresolved_sites;	/* copies not probed: their allocations unseen */
	/* pymalloc's arenas: mapped, resident, live bytes (blocks memtrace saw) in them. */
	uint64_t arenas, arena_bytes, arena_resident_bytes, arena_live_bytes, arena_live_blocks;
};

struct mt_proc_report {
	uint32_t pid;
	char comm[32];
	char *exe;		/* may be NULL */
	char *cgroup;		/* may be NULL */
	char container_id[65];	/* "" when it runs in no container */
	const char *runtime;	/* "native" */
	char *allocator;	/* "glibc", "jemalloc", "tcmalloc", or the object's file name */
	char *allocator_path;
	uint64_t rss_bytes;	/* last value read while the process lived */
	bool exited;
	bool live_unknown;	/* Go: no free() to see; live figures printed as null */
	bool sampled;		/* Go: live figures estimated from a heap sample (go.live_source) */
	int64_t sample_rate;	/* its mean bytes per sample (runtime.MemProfileRate, or memtrace's) */
	struct mt_heap_totals heap;
	struct mt_vm_totals vm;
	struct mt_go_report go;
	struct mt_py_report python;
	uint64_t unresolved_frames;	/* frames shown as module+0xoff or [unknown] */
	size_t nr_stacks;	/* stacks listed (after --top and filters) */
	size_t nr_stacks_total;	/* stacks seen in all */
	struct mt_stack_report *stacks;	/* sorted by live bytes, largest first */
	size_t nr_map_stacks;
	struct mt_map_stack *map_stacks;	/* sorted by mapped bytes, largest first */
};

/* A probed function and where its probe sits ("probes" in JSON). */
struct mt_probe_report {
	char *path;
	char *function;
	uint64_t offset;	/* of the probe in the file */
	uint64_t site_offset;	/* from the function's start */
	bool single_stepped;
	const char *why;	/* static */
};

struct mt_report {
	double duration_s;
	struct mt_map_usage maps[MT_MAP_MAX];
	uint64_t lost_events;	/* sum of the counters that make figures incomplete */
	uint64_t counters[MT_CNT_MAX];
	double min_age_s;	/* the --min-age filter in force (0: none) */
	size_t nr_procs;
	struct mt_proc_report *procs;
	size_t nr_probes;
	struct mt_probe_report *probes;
	uint64_t probes_single_stepped;	/* functions whose probe costs a single-step */
	/* Native tracking: every block (sample_rate 0), or sampled since sampled_since_s, and why. */
	uint64_t sample_rate;
	double sampled_since_s;
	char sampling_why[160];
	int64_t kernel_bytes;	/* kernel memory the BPF maps hold; -1: unknown */
};

int report_json__write(const struct mt_report *r, FILE *f);
int report_text__write(const struct mt_report *r, FILE *f, size_t top_n);
int report_folded__write(const struct mt_report *r, FILE *f);
/* gzip-compressed profile.proto heap profile, as Go's pprof writes it. */
int report_pprof__write(const struct mt_report *r, FILE *f);

struct pprof_opts {
	const char *default_sample_type;	/* NULL: inuse_space (alloc_space without live figures) */
	/* Every sample labelled pid, comm, exe, cgroup, container_id (where
	 * known); else pid and comm, when there are several processes. */
	bool all_labels;
	int64_t time_ns;	/* the profile's time, ns since the epoch; 0: now */
};
int report_pprof__write_opts(const struct mt_report *r, FILE *f, const struct pprof_opts *o);
/* A self-contained interactive flame graph of live bytes. */
int report_svg__write(const struct mt_report *r, FILE *f);

void mt_report__free(struct mt_report *r);
/* One stack's frames, and what they own. */
void mt_stack_report__free_frames(struct mt_stack_report *s);

#endif /* MEMTRACE_REPORT_H */
