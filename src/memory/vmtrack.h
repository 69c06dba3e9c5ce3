/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A process's anonymous memory as memtrace has seen it change: an interval
 * map kept from mmap/munmap/mremap/mprotect/madvise/brk events. Pure data:
 * residency is read elsewhere and passed in.
 */
#ifndef MEMTRACE_VMTRACK_H
#define MEMTRACE_VMTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

enum vm_owner {
	VM_OWNER_OTHER = 0,	/* anonymous memory the allocator did not ask for (stacks, ...) */
	VM_OWNER_HEAP,		/* the allocator's or the runtime's heap */
};

struct vm_region {
	uint64_t start;
	uint64_t end;
	uint32_t prot;		/* PROT_* */
	uint8_t owner;		/* enum vm_owner */
	uint64_t stack_id;	/* the call stack that mapped it; 0 when unknown */
	/* Filled per report: */
	uint64_t resident;	/* bytes present */
	uint64_t live;		/* live heap bytes inside it */
	uint64_t live_blocks;	/* and how many blocks */
};

struct vm_range {
	uint64_t start;
	uint64_t end;
};

struct vm_proc {
	struct vm_region *regions;	/* sorted, non-overlapping */
	size_t nr, cap;
	struct vm_range *released;	/* sorted, non-overlapping: given back with madvise */
	size_t nr_released, cap_released;
	uint64_t brk_start;		/* 0: unknown */
	uint64_t brk_end;
	uint64_t events;
};

void vm_proc__init(struct vm_proc *vp);
void vm_proc__clear(struct vm_proc *vp);

/* A region that existed before tracing began (from /proc/PID/maps). */
int vm_proc__seed(struct vm_proc *vp, uint64_t start, uint64_t end, uint32_t prot, uint8_t owner);
/* Apply one event; heap_owner tells whether an mmap belongs to the heap. */
int vm_proc__apply(struct vm_proc *vp, const struct mt_vm_event *e, bool heap_owner);

/* A region as /proc/PID/maps shows it now, with the owner it would be seeded with. */
struct vm_actual {
	uint64_t start;
	uint64_t end;
	uint32_t prot;
	uint8_t owner;
};

/*
 * Make the map agree with the process's anonymous mappings now (a, sorted,
 * not overlapping): regions no longer there go, regions never seen mapped
 * (an event lost, or made before tracing or by the kernel at exec) come in
 * with a's owner and no stack; what was known keeps its owner and stack and
 * takes the kernel's protection. Released ranges outside a go. *changed:
 * the bytes that went or came. Returns 0 or -errno (the map unchanged).
 */
int vm_proc__reconcile(struct vm_proc *vp, const struct vm_actual *a, size_t n,
		       uint64_t *changed);

/* Anonymous private memory mapped and usable (PROT_NONE reservations excluded). */
uint64_t vm_proc__mapped(const struct vm_proc *vp);
/* Heap regions' usable size. */
uint64_t vm_proc__heap_mapped(const struct vm_proc *vp);
/* A live block at addr: counted in the region that holds it. */
void vm_proc__add_live(struct vm_proc *vp, uint64_t addr, uint64_t size);
void vm_proc__reset_usage(struct vm_proc *vp);

#endif
