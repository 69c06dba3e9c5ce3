/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between memtrace's BPF programs and userspace: every map key,
 * map value and counter lives here, so both sides agree on one layout.
 * Fixed-width types only; no pointers, no `long`.
 */
#ifndef MEMTRACE_H
#define MEMTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest user stack kept per allocation site, in frames. */
#define MT_MAX_FRAMES 64

/* Processes that can be traced at once (BPF-side filter). */
#define MT_MAX_PIDS 1024

/* Default map sizes, in entries; each can be changed with an option. */
#define MT_DEFAULT_MAX_ALLOCS (1u << 20)
#define MT_DEFAULT_MAX_STACKS (1u << 15)

/* Which allocator entry point a probe sits on. */
enum mt_alloc_kind {
	MT_KIND_MALLOC = 0,	/* size in arg0 (also valloc, operator new) */
	MT_KIND_CALLOC,		/* nmemb in arg0, size in arg1 */
	MT_KIND_REALLOC,	/* ptr in arg0, size in arg1 */
	MT_KIND_REALLOCARRAY,	/* ptr in arg0, nmemb in arg1, size in arg2 */
	MT_KIND_MEMALIGN,	/* alignment in arg0, size in arg1 (also aligned_alloc) */
	MT_KIND_POSIX_MEMALIGN,	/* void **memptr in arg0, alignment arg1, size arg2; returns int */
	MT_KIND_MAX,
};

/* Counters of everything that can make the figures incomplete. */
enum mt_counter {
	MT_CNT_ALLOCS_MAP_FULL = 0,	/* allocation not recorded: --max-allocs */
	MT_CNT_STACKS_MAP_FULL,		/* new call stack not recorded: --max-stacks */
	MT_CNT_STACK_TRUNCATED,		/* stack deeper than MT_MAX_FRAMES, kept truncated */
	MT_CNT_STACK_READ_FAILED,	/* user stack could not be read; partial stack kept */
	MT_CNT_MISSED_RETURNS,		/* an entry whose return probe never ran */
	MT_CNT_UNKNOWN_FREES,		/* free of an address not in the allocs map */
	MT_CNT_ADDR_REUSED,		/* allocation returned an address still marked live */
	MT_CNT_FAILED_ALLOCS,		/* allocator returned NULL (not a loss) */
	MT_CNT_MAX,
};

struct mt_alloc_key {
	__u64 addr;
	__u32 pid;		/* tgid: addresses are per process */
	__u32 pad;
};

struct mt_alloc_info {
	__u64 size;		/* bytes the program asked for */
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 stack_id;
};

struct mt_stat_key {
	__u64 stack_id;
	__u32 pid;
	__u32 pad;
};

struct mt_stat {
	__s64 live_bytes;
	__s64 live_allocs;
	__u64 alloc_bytes_total;
	__u64 allocs_total;
	__u64 frees_total;
};

struct mt_stack {
	__u32 nr_frames;
	__u32 flags;		/* MT_STACK_F_* */
	__u64 ips[MT_MAX_FRAMES];	/* innermost first; return addresses except ips[0]'s caller pc */
};

#define MT_STACK_F_TRUNCATED	(1u << 0)
#define MT_STACK_F_READ_FAILED	(1u << 1)

/* Per-thread hand-off from an entry probe to its return probe. */
struct mt_pending {
	__u64 entry_sp;		/* sp at entry; the return sees entry_sp + 8 */
	__u64 ret_addr;		/* *entry_sp at entry: the caller */
	__u64 size;
	__u64 old_ptr;		/* realloc: block being resized */
	struct mt_alloc_info old_info;	/* realloc: its record, restored if realloc fails */
	__u32 old_known;
	__u32 pad;
	__u64 memptr;		/* posix_memalign: where the pointer is stored */
	__u64 stack_id;
	__u32 kind;
	__u32 active;
	struct mt_stack stack;
};

#endif /* MEMTRACE_H */
