/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Go program's own heap profile, read from its memory without stopping
 * it: when runtime.MemProfileRate > 0 the runtime keeps, per sampled call
 * stack, a bucket on the list runtime.mbuckets (linked through allnext)
 * with the stack's PCs and the objects and bytes allocated and freed. In
 * use = allocated - freed, as `go tool pprof -inuse_space` shows it, objects
 * allocated before memtrace attached included. Layout of Go 1.19-1.27:
 * bucket {next, allnext *bucket; typ, hash, size, nstk uintptr} (48 bytes),
 * nstk PCs, then memRecord {active; future [3]} of {allocs, frees,
 * alloc_bytes, free_bytes uintptr}, {allocs, frees} from Go 1.27 (bytes are
 * counts times the bucket's size). From Go 1.26 a stack starts inside the
 * allocator (runtime.mallocgc and the helper that sampled): those frames
 * are dropped, so that it starts where memtrace's own stacks do. Nothing is
 * ever written into the process.
 */
#ifndef MEMTRACE_GO_MPROF_H
#define MEMTRACE_GO_MPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memory/go_heap.h"

#define GO_MPROF_MAX_STACK 32		/* frames kept: the runtime's maxStack, 1.19-1.22 */
/* Allocator frames a stack may start with (Go 1.26+: mallocgc, a helper, a slow path). */
#define GO_MPROF_MAX_ALLOC_FRAMES 4
/* The deepest a bucket may be: 1.23's debug.profstackdepth goes up to 1024 (default 128). */
#define GO_MPROF_MAX_RUNTIME_STACK 1024
#define GO_MPROF_MAX_BUCKETS (1u << 20)
#define GO_MPROF_HDR 48
#define GO_MPROF_RECORD 128		/* memRecord; 64 from Go 1.27 (GO_MPROF_COUNTS) */
#define GO_MPROF_BUCKET_MAX (GO_MPROF_HDR + 8 * GO_MPROF_MAX_RUNTIME_STACK + GO_MPROF_RECORD)
/* Go 1.27+: memRecordCycle holds counts only. */
#define GO_MPROF_COUNTS true

struct go_mprof_cycle {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

/* One bucket as read. */
struct go_mprof_bucket {
	uint64_t allnext;
	uint32_t nstk;
	bool cut;		/* the runtime's stack was deeper than pcs holds */
	/* return addresses, innermost first: room for the allocator's frames too */
	uint64_t pcs[GO_MPROF_MAX_STACK + GO_MPROF_MAX_ALLOC_FRAMES];
	struct go_mprof_cycle active, future[3];
};

/* One stack's figures, scaled as runtime/pprof scales heap samples. */
struct go_mprof_sample {
	uint32_t nstk;
	uint64_t pcs[GO_MPROF_MAX_STACK];
	int64_t inuse_objects, inuse_bytes;
	int64_t alloc_objects, alloc_bytes;
};

struct go_mprof_profile {
	bool read;		/* samples hold the profile; else note says why not */
	int64_t rate;		/* runtime.MemProfileRate when read */
	size_t nr;
	struct go_mprof_sample *samples;
	char note[GO_HEAP_NOTE_MAX];
};

/* The pure parts, apart for tests. */

/*
 * Decode the bucket at buf (len bytes read from its start); counts: the
 * record holds counts only (Go 1.27+). -ENOEXEC for what is not a
 * memory-profile bucket (type, depth), -EAGAIN when len is too short for
 * its nstk (read more and call again).
 */
int go_mprof__parse_bucket(const uint8_t *buf, size_t len, bool counts,
			   struct go_mprof_bucket *b);
/* Bytes of a bucket of nstk frames. */
size_t go_mprof__bucket_len(uint64_t nstk, bool counts);
/*
 * Drop the frames a stack starts with in the allocator's code ([lo[i],
 * hi[i]) of the file, bias added in the process), and cut it to
 * GO_MPROF_MAX_STACK frames.
 */
void go_mprof__strip(struct go_mprof_bucket *b, const uint64_t *lo, const uint64_t *hi,
		     size_t nr, uint64_t bias);
/* runtime/pprof's scaleHeapSample: count and size estimated from samples at rate. */
void go_mprof__scale(int64_t count, int64_t size, int64_t rate, int64_t *out_count,
		     int64_t *out_size);
/*
 * The profile runtime.MemProfile would return now, mProfCycle's value
 * being cycle_word, scaled at rate: active plus the cycle not yet flushed
 * into it; every cycle when nothing was flushed yet (no GC ran). out has
 * room for n samples. Returns how many were written.
 */
size_t go_mprof__samples(const struct go_mprof_bucket *b, size_t n, uint32_t cycle_word,
			 int64_t rate, struct go_mprof_sample *out);

typedef int (*go_mprof_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
/*
 * Walk the list from head (the value of runtime.mbuckets), at most max
 * buckets, each read until two reads agree. *out is malloc'ed. 0 or -errno
 * (-ELOOP: more than max, -EFAULT: a pointer that cannot be a bucket).
 */
int go_mprof__walk(go_mprof_read_fn read, void *ctx, uint64_t head, size_t max, bool counts,
		   struct go_mprof_bucket **out, size_t *nr);

/* The I/O parts. */

struct go_mprof;

/* Find the runtime's variables in the executable at path (version as read by go_heap). */
int go_mprof__open(const char *path, const char *version, struct go_mprof **out, char *note,
		   size_t note_len);
void go_mprof__free(struct go_mprof *gm);
/* Read pid's profile (bias as go_heap__bias gives it) into p, replacing what it held. */
int go_mprof__read(const struct go_mprof *gm, pid_t pid, uint64_t bias,
		   struct go_mprof_profile *p);
void go_mprof__profile_clear(struct go_mprof_profile *p);

#endif
