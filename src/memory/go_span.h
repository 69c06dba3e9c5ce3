/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Whether sampled Go objects are still allocated, read from the runtime's
 * span metadata in the running process (never a write, never a stop): each
 * object's span (go_span_layout.h) and its bitmaps, read in batches, each
 * span twice to see it did not change meanwhile, then judged by the rule
 * (go_liveness.h).
 */
#ifndef MEMTRACE_GO_SPAN_H
#define MEMTRACE_GO_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memory/go_liveness.h"
#include "memory/go_span_layout.h"

/* One read of a batch: err is set to 0 or -errno for each. */
struct go_span_read {
	uint64_t addr;
	void *buf;
	size_t len;
	int err;
};
/* Reads a batch; returns -errno only when the process cannot be read at all. */
typedef int (*go_span_readv_fn)(void *ctx, struct go_span_read *r, size_t n);
/*
 * go_span__check with the target's memory behind readv, mheap_ at
 * mheap_addr (bias added).
 */
int go_span__check_with(const struct go_span_layout *lo, uint64_t mheap_addr,
			go_span_readv_fn readv, void *ctx, struct go_obj *objs, size_t n,
			uint8_t *state, char *note, size_t note_len);

/* The I/O parts. */

struct go_span;

/*
 * Find mheap_ and the layout in the executable at path (version as go_heap
 * read it, or NULL: read here). 0, or -errno with note saying why objects
 * cannot be checked.
 */
int go_span__open(const char *path, const char *version, struct go_span **out, char *note,
		  size_t note_len);
void go_span__free(struct go_span *gs);
const struct go_span_layout *go_span__layout(const struct go_span *gs);
struct proc_maps;
/* go_heap__base_bias for the executable gs was opened on. */
int go_span__bias(const struct go_span *gs, const struct proc_maps *maps, const char *path,
		  uint64_t *bias);
/*
 * mheap_.sweepgen now: it moves on by 2 at each GC, and nothing is freed
 * without one. 0 or -errno.
 */
int go_span__heap_sweepgen(const struct go_span *gs, pid_t pid, uint64_t bias, uint32_t *sg);
/*
 * state[i] (an enum go_obj_state) for each of pid's objects, bias as
 * go_heap__bias gives it. 0, or -errno with note (every state then
 * GO_OBJ_UNKNOWN). Reads each span once, twice to confirm.
 */
int go_span__check(const struct go_span *gs, pid_t pid, uint64_t bias, struct go_obj *objs,
		   size_t n, uint8_t *state, char *note, size_t note_len);

#endif
