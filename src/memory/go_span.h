/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Whether sampled Go objects are still allocated, read from the runtime's
 * span metadata in the running process (never a write, never a stop): the
 * span of an address is mheap_.arenas[0][arena].spans[page % 8192]
 * (linux/amd64); an object in an in-use span of the sampled size is
 * allocated if the span is swept and the object is below freeindex or set
 * in allocBits, or the span is not swept yet and the last GC marked it
 * (golang.org/x/debug's viewcore reads allocation the same way). Go 1.19-1.23
 * from a table (1.20 added up from its sources, not run), any version with
 * DWARF.
 */
#ifndef MEMTRACE_GO_SPAN_H
#define MEMTRACE_GO_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* linux/amd64: arenaBaseOffset, heapArenaBytes, pageSize, arenaL1Bits 0, arenaL2Bits 22. */
#define GO_SPAN_ARENA_BASE_OFFSET 0xffff800000000000ULL
#define GO_SPAN_ARENA_SHIFT 26
#define GO_SPAN_PAGE_SHIFT 13
#define GO_SPAN_PAGES_PER_ARENA (1u << (GO_SPAN_ARENA_SHIFT - GO_SPAN_PAGE_SHIFT))
#define GO_SPAN_L2_ENTRIES (1u << 22)
/* The most objects a span holds: 8-byte objects in one page. */
#define GO_SPAN_MAX_NELEMS 1024

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
uint32_t go_span__alloc_gen(uint32_t span_sweepgen);

/* The runtime.mspan fields read, in the order of the layout's arrays. */
enum go_span_field {
	GO_SPAN_START,		/* startAddr */
	GO_SPAN_NPAGES,
	GO_SPAN_FREEINDEX,	/* uintptr up to 1.21, uint16 from 1.22 */
	GO_SPAN_NELEMS,		/* likewise */
	GO_SPAN_ALLOCBITS,
	GO_SPAN_MARKBITS,	/* gcmarkBits */
	GO_SPAN_SWEEPGEN,
	GO_SPAN_SPANCLASS,
	GO_SPAN_STATE,
	GO_SPAN_ELEMSIZE,
	GO_SPAN_LIMIT,
	GO_SPAN_NFIELDS,
};

struct go_span_layout {
	uint64_t mheap;			/* link-time address of runtime.mheap_ */
	uint32_t mheap_sweepgen;	/* offsets in runtime.mheap */
	uint32_t mheap_arenas;
	uint32_t arena_spans;		/* in runtime.heapArena */
	uint16_t off[GO_SPAN_NFIELDS];	/* in runtime.mspan */
	uint8_t size[GO_SPAN_NFIELDS];	/* bytes: 1, 2, 4 or 8 */
	/*
	 * Go 1.22+: a small object with pointers over 512 bytes starts with an
	 * 8-byte header, and mallocgc returns the address after it.
	 */
	bool malloc_header;
	const char *source;		/* "dwarf" or "table" */
	const char *addr_source;	/* "symtab", "dwarf" or "code" */
};

/* An mspan's fields as read. */
struct go_span_info {
	uint64_t start, npages, limit, freeindex, nelems, elemsize, alloc_bits, mark_bits;
	uint32_t sweepgen;
	uint8_t spanclass, state;
};

/* The pure parts, apart for tests. */

/*
 * The layout of a released version ("go1.19", "go1.22.12") without the
 * mheap_ address. -ENOENT for a version the table does not know.
 */
int go_span__table_layout(const char *version, struct go_span_layout *lo);
/*
 * Where addr's span pointer is: the arena's index in mheap_.arenas[0] and
 * the page's in heapArena.spans. -ERANGE for an address no arena can hold.
 */
int go_span__index(uint64_t addr, uint32_t *arena, uint32_t *page);
/* Decode a span read from its start (at least the layout's span_len bytes). */
void go_span__decode(const struct go_span_layout *lo, const uint8_t *buf,
		     struct go_span_info *s);
/* Bytes of an mspan to read for the layout's fields. */
size_t go_span__span_len(const struct go_span_layout *lo);
/*
 * Whether an in-use span's fields hang together (else a torn read, or a
 * layout that is not the process's).
 */
bool go_span__sane(const struct go_span_info *s);
/*
 * The rule: the state of object o, in span s (sane), mheap_.sweepgen being
 * heap_sg; alloc and mark hold the span's allocBits and gcmarkBits,
 * bits_len bytes each. o->gen moves on when it is found live.
 */
enum go_obj_state go_span__obj_state(const struct go_span_info *s, uint32_t heap_sg,
				     const uint8_t *alloc, const uint8_t *mark, size_t bits_len,
				     struct go_obj *o, bool malloc_header);
/*
 * The one base B such that B + every offset is among a function's
 * rip-relative targets. 0, or -ENOENT when none or more than one fits.
 */
int go_span__find_base(const uint64_t *targets, size_t n, const uint32_t *offs, size_t noffs,
		       uint64_t *base);

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
 * state[i] (an enum go_obj_state) for each of pid's objects, bias as
 * go_heap__bias gives it. 0, or -errno with note (every state then
 * GO_OBJ_UNKNOWN). Reads each span once, twice to confirm.
 */
/*
 * mheap_.sweepgen now: it moves on by 2 at each GC, and nothing is freed
 * without one. 0 or -errno.
 */
int go_span__heap_sweepgen(const struct go_span *gs, pid_t pid, uint64_t bias, uint32_t *sg);
int go_span__check(const struct go_span *gs, pid_t pid, uint64_t bias, struct go_obj *objs,
		   size_t n, uint8_t *state, char *note, size_t note_len);

#endif
