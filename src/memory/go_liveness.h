/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Whether a sampled Go object is still allocated, from its span's fields
 * and bitmaps as read (go_span.c reads them; pure here). An object in an
 * in-use span of the sampled size is allocated if the span is swept and the
 * object is below freeindex or set in allocBits, or the span is not swept
 * yet and the last GC marked it (golang.org/x/debug's viewcore reads
 * allocation the same way); with Green Tea (Go 1.26's default) a small
 * object span keeps those marks inline until its sweep.
 */
#ifndef MEMTRACE_GO_LIVENESS_H
#define MEMTRACE_GO_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memory/go_span_layout.h"

/*
 * GO_OBJ_LIVE: it survived the last GC. GO_OBJ_YOUNG: allocated since the
 * last GC, not yet through one (the runtime's heap profile, "as of the last
 * GC", leaves such objects out too). GO_OBJ_LIKELY_LIVE: its slot holds an
 * object that survived the last GC, but more than one sweep passed since
 * the sampled object was last seen live, so the occupant may be another
 * object in a reused slot.
 */
enum go_obj_state { GO_OBJ_UNKNOWN, GO_OBJ_LIVE, GO_OBJ_FREE, GO_OBJ_LIKELY_LIVE, GO_OBJ_YOUNG };

/*
 * A sampled object: where it is, its rounded size (the span's elemsize; 16
 * when tiny), and the sweep generation (an mheap_.sweepgen value) up to
 * which it is known to be allocated: at first its span's when it was
 * allocated (go_span__alloc_gen), then moved on by each check that finds it
 * live. A freed slot can be reused only after a sweep, so an object seen
 * at every sweep is told apart from another in its slot.
 */
struct go_obj {
	uint64_t addr;
	uint64_t size;
	bool gen_known;
	uint32_t gen;
	bool through_gc;	/* gen is a sweep it was seen to survive, not its allocation's */
};

/* The generation of a span's sweepgen read when an object was allocated from it. */
uint32_t go_liveness__alloc_gen(uint32_t span_sweepgen);
/*
 * Whether an in-use span's fields hang together (else a torn read, or a
 * layout that is not the process's).
 */
bool go_liveness__sane(const struct go_span_info *s);
/*
 * The rule: the state of object o, in span s (sane), mheap_.sweepgen being
 * heap_sg; alloc and mark hold the span's allocBits and gcmarkBits,
 * bits_len bytes each, inline (NULL if none) Green Tea's inline marks
 * (GO_SPAN_INLINE_MARKS_LEN bytes). o->gen moves on when it is found live.
 */
enum go_obj_state go_liveness__obj_state(const struct go_span_info *s, uint32_t heap_sg,
					 const uint8_t *alloc, const uint8_t *mark,
					 const uint8_t *inline_marks, size_t bits_len,
					 struct go_obj *o, bool malloc_header);

#endif
