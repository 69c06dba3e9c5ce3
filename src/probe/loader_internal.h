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
	int verbose;
	double open_ms, load_ms;
};

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI: libbpf 1.1.2's headers predate it. */
#define MT_TRACE_UPROBE_MULTI 48

/* A uprobe_multi link (BPF_LINK_CREATE) for cnt probes (pid 0: every process); its fd or -errno. */
int loader_link_create_multi(int prog_fd, const char *path, const uint64_t *offsets,
			     const uint64_t *cookies, size_t cnt, bool retprobe, int pid);

/* Probes of prog at offsets in the file at path: one uprobe_multi link, or one link each. */
int loader_attach_offsets(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			  const uint64_t *offsets, const uint64_t *cookies, size_t nr, bool retprobe);

struct probe_site;
/* Keep where a function's probe sits, once per (path, function), for the report. */
int loader_note_site(struct loader *l, const char *path, const char *func, uint64_t off,
		     const struct probe_site *ps);

/* What attach_python.c keeps per interpreter file. */
void loader_py_files_free(struct loader *l);

#endif /* MEMTRACE_LOADER_INTERNAL_H */
