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

#endif /* MEMTRACE_LOADER_INTERNAL_H */
