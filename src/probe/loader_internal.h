/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What loader.c (the BPF object's lifecycle and its maps) and attach.c
 * (the probes and their links) share; not for the rest of memtrace.
 */
#ifndef MEMTRACE_LOADER_INTERNAL_H
#define MEMTRACE_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe/loader.h"

struct loader {
	struct memtrace_bpf *skel;
	struct mt_unwind_row *rows_mem;	/* the mmapped rows array */
	uint64_t dl_stops_taken;
	uint64_t stacks_stored_here;	/* whole stacks of deferred walks (__atomic) */
	size_t rows_max;
	struct ring_buffer *vm_rb;
	struct ring_buffer *unwind_rb;
	struct ring_buffer *py_rb;
	struct bpf_link **links;
	size_t nr_links;
	size_t cap_links;
	int *multi_fds;		/* uprobe_multi links, made without libbpf */
	size_t nr_multi_fds;
	size_t cap_multi_fds;
	bool multi;		/* uprobes go in uprobe_multi links */
	bool session;		/* allocating entry points get a session (mt_alloc_session) */
	bool go_spans_incomplete;	/* a Go target lacks a span probe */
	bool go_sampling;	/* go_sample_rate set */
	int *go_sampled_pids;	/* Go targets with the sampling probe */
	size_t nr_go_sampled;
	struct mt_probe_site *sites;	/* one per function probed, for the report */
	size_t nr_sites;
	/* Python interpreters probed: per file, its layout and sites (attach_python.c). */
	struct loader_py_file *py_files;
	size_t nr_py_files;
	uint32_t py_sites_used;	/* entries of the py_sites map written */
	bool python;		/* the Python programs are loaded */
	struct mt_go_site *go_sites;	/* what go_sites holds, by index */
	size_t nr_go_sites;
	int verbose;
	double open_ms, load_ms;
};

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI and _SESSION: libbpf 1.1.2's headers predate them. */
#define MT_TRACE_UPROBE_MULTI 48
#define MT_TRACE_UPROBE_SESSION 57

/*
 * A uprobe_multi link (BPF_LINK_CREATE) for cnt probes (pid 0: every
 * process) of the given attach type (a session's, or a plain one's,
 * retprobe: on return); its fd or -errno.
 */
int loader_link_create_multi(int prog_fd, int attach_type, const char *path,
			     const uint64_t *offsets, const uint64_t *cookies, size_t cnt,
			     bool retprobe, int pid);

/*
 * A Go probe site into go_sites: *idx, its index for the probe's cookie
 * (the same site already there is shared). 0, -ENOSPC or -errno.
 */
int loader_add_go_site(struct loader *l, const struct mt_go_site *s, uint32_t *idx);

struct elf_file;
struct elf_sym;
/*
 * Where in the function sym (at file offset off of ef, named shown) an
 * entry probe goes (probe_site.h), noted for the report under func: the
 * offset from its start, and for Go whether it is the branch of the
 * stack-bound check (go_stack_check). nr_args: arguments the probe reads.
 */
int loader_choose_site(struct loader *l, struct elf_file *ef, const char *shown,
		       const struct elf_sym *sym, uint64_t off, const char *func, unsigned nr_args,
		       bool go, uint64_t *site_off, bool *go_stack_check);
/* Note a probe at file offset off + site_off of func, emulated, for the report. */
int loader_note_site(struct loader *l, const char *path, const char *func, uint64_t off,
		     uint64_t site_off);
/* n probes of prog on the file at path, in one link when uprobe_multi links are made. */
int loader_attach_probes(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			 const uint64_t *offsets, const uint64_t *cookies, size_t n);

/* The Go runtime's allocator probes (go_attach.c); loader__attach's go case. */
int go_attach(struct loader *l, int pid, const char *path, const char *shown,
	      const struct loader_go_layout *layout, int *nr_probes);

/* Probes of prog at offsets in the file at path: one uprobe_multi link, or one link each. */
int loader_attach_offsets(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			  const uint64_t *offsets, const uint64_t *cookies, size_t nr, bool retprobe);

struct probe_site;
/* Keep where a function's probe sits, once per (path, function), for the report. */
int loader_note_probe_site(struct loader *l, const char *path, const char *func, uint64_t off,
			   const struct probe_site *ps);

/* What attach_python.c keeps per interpreter file. */
void loader_py_files_free(struct loader *l);

#endif /* MEMTRACE_LOADER_INTERNAL_H */
