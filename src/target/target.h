/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What memtrace learns about a traced process from /proc, and where its allocator is. */
#ifndef MEMTRACE_TARGET_H
#define MEMTRACE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include "util/procmaps.h"
#include "memory/vmtrack.h"
#include "memory/go_heap.h"
#include "memory/go_mprof.h"
#include "probe/loader.h"
#include "symbols/py_layout.h"

struct allocator_obj {
	char *path;		/* path as the target sees it (as in its maps) */
	char *open_path;	/* path memtrace opens: /proc/PID/root/<path>, or the file itself */
	char *name;		/* "glibc", "jemalloc", "tcmalloc", "go", or the file name */
	bool is_go;		/* the Go runtime (in the executable) */
	/* Its entry points' names: libc's, or its own API with prefix (in an executable). */
	enum alloc_api api;
	char *prefix;
	/*
	 * Probed too: the library allocator beside an executable's private one
	 * (a Rust program's jemalloc serves Rust, libc's malloc its C code). Owned.
	 */
	struct allocator_obj *also;
	/* ALLOC_API_PYTHON: the CPython interpreter in the file (its layout). Owned. */
	struct py_interp *py;
};

/* Where a Go program's live bytes per stack come from (--go-live). */
enum go_live {
	GO_LIVE_AUTO,		/* the runtime's heap profile when it keeps one, else memtrace's */
	GO_LIVE_RUNTIME,	/* the runtime's heap profile only */
	GO_LIVE_MEMTRACE,	/* memtrace's own sampling only */
};

/* A sample's sweep generation as the last check left it, by (addr, ts_ns). */
struct go_sample_gen {
	uint64_t addr;
	uint64_t ts_ns;
	uint32_t gen;
	bool through_gc;
};

/* The figures that explain RSS, recomputed while the process lives. */
struct vm_figures {
	bool known;
	uint64_t mapped;	/* anonymous private memory mapped, usable */
	uint64_t released;	/* part of it given back (madvise) and not in memory now */
	uint64_t heap_resident;	/* resident bytes of the allocator's or runtime's regions */
	uint64_t heap_in_use;	/* live heap bytes (native) or bytes in heap spans (Go) */
	uint64_t retained;
	bool retained_known;	/* false: not computable in this mode */
	bool retained_upper_bound;	/* -p mode: blocks from before attaching count as free */
	bool retained_estimate;	/* from sampled blocks' weights: an estimate */
	bool go_read;		/* go holds the runtime's own figures, read this time */
	struct go_heap_figures go;
	/* pymalloc's arenas (a Python process): how many, their bytes, resident, live in them. */
	uint64_t py_arenas, py_arena_bytes, py_arena_resident, py_arena_live, py_arena_blocks;
};

struct target {
	uint32_t pid;
	char comm[32];
	char *exe;		/* readlink of /proc/PID/exe, NULL if unreadable */
	char *cgroup;		/* its cgroup (v2, or v1's memory controller), NULL if unknown */
	char container_id[65];	/* the container's id in that path, "" when none */
	struct allocator_obj alloc;
	struct proc_maps *maps;	/* last snapshot taken while the process lived */
	uint64_t rss_bytes;	/* last value read while the process lived */
	uint64_t rss_anon_bytes;
	bool exited;
	int exit_status;	/* wait status, for a child we started */
	int shown_exited;	/* system-wide: refreshes shown since it exited */
	bool traced_from_start;	/* `--` mode: every allocation and mapping was seen */
	struct vm_proc vm;	/* anonymous memory, from memory-map syscalls */
	uint64_t vm_reconciled_bytes;	/* taken from /proc/PID/maps: not seen as events */
	struct vm_figures vmf;
	bool live_sampled;	/* sampled blocks seen at the last look: live figures estimated */
	double live_usable;	/* live bytes as the allocator hands them out (memory/usable.h) */
	int pagemap_fd;		/* -1 until opened */
	struct go_heap *go_heap;	/* where a Go runtime keeps its heap figures */
	bool go_heap_tried;	/* opened once: a failure is not retried */
	bool go_heap_read_once;	/* its figures were read at least once */
	char go_note[GO_HEAP_NOTE_MAX];	/* why the Go figures are not read, "" when they are */
	struct go_mprof *go_mprof;	/* where the runtime keeps its heap profile */
	bool go_mprof_tried;
	struct go_mprof_profile go_prof;	/* last read while the process lived */
	enum go_live go_live;
	struct go_span *go_span;	/* where the runtime keeps its span metadata */
	bool go_span_tried;
	/* memtrace's own samples still allocated, per stack, as a heap profile */
	struct go_mprof_profile go_own;
	uint64_t go_own_unknown;	/* samples whose state could not be read last time */
	uint64_t go_own_unverified;	/* live samples not seen at every sweep since allocated */
	uint64_t go_own_young;	/* samples allocated since the last GC: not counted yet */
	struct go_sample_gen *go_gens;	/* per sample, the sweep it was last seen live at */
	uint32_t go_checked_sweepgen;	/* mheap_.sweepgen at the last check */
	uint64_t go_check_cost_ns;	/* how long the last check took */
	size_t nr_go_gens;
	struct loader_py_info py_probes;	/* a Python interpreter's probes */
};

/*
 * The heap profile a Go target's live bytes per stack come from, by
 * go_live: the runtime's own (MemProfileRate > 0) or memtrace's samples;
 * NULL when neither is read. own says which.
 */
const struct go_mprof_profile *target__go_profile(const struct target *t, bool *own);

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
				    struct allocator_obj *out, char **libstdcxx, char **ld_so);

void allocator_obj__clear(struct allocator_obj *a);
void target__init(struct target *t, uint32_t pid);
void target__clear(struct target *t);

/* What a mapped object is, from its file name: the one place that decides. */
enum lib_kind {
	LIB_OTHER,
	LIB_LIBC,	/* glibc's libc.so.6 (libc-2.x.so before 2.34) */
	LIB_ALLOCATOR,	/* jemalloc, tcmalloc, mimalloc */
	LIB_CXX,	/* libstdc++: operator new */
	LIB_LD_SO,	/* the dynamic linker */
};
enum lib_kind target__lib_kind(const char *path);

/* Name an allocator by its file name: "glibc" for libc.so.6, ... */
char *allocator_name_for(const char *path);

/* libstdc++ as t maps it (a /proc/PID/map_files path in buf), for operator new; or NULL. */
const char *target__find_libstdcxx(const struct target *t, char *buf, size_t len,
				   const char **path);

/* Whether the ELF file at open_path defines malloc and free (dynamic_only: in .dynsym). */
bool file_defines_allocator(const char *open_path, bool dynamic_only);

#endif
