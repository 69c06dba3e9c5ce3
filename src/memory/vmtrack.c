/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "memory/vmtrack.h"

#define PAGE_SIZE_4K 4096ULL

#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
}

/*
 * [start, start + len rounded up to pages): false when that wraps past the
 * top of the address space. The kernel fails such calls, so a successful
 * event never has one; a corrupted event must not turn into a reversed
 * range, which the interval code would split into overlapping regions.
 */
static bool page_range(uint64_t start, uint64_t len, uint64_t *end)
{
	if (len > UINT64_MAX - (PAGE_SIZE_4K - 1))
		return false;
	len = page_up(len);
	if (start > UINT64_MAX - len)
		return false;
	*end = start + len;
	return true;
}

void vm_proc__init(struct vm_proc *vp)
{
	memset(vp, 0, sizeof(*vp));
}

void vm_proc__clear(struct vm_proc *vp)
{
	free(vp->regions);
	free(vp->released);
	vm_proc__init(vp);
}

static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* First region whose end is above addr. */
static size_t first_after(const struct vm_proc *vp, uint64_t addr)
{
	size_t lo = 0, hi = vp->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vp->regions[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Cut [start, end) out of the regions, splitting those that straddle it. */
static int punch(struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i = first_after(vp, start), j;

	/* An empty range inside a region would cut it into two that touch. */
	if (end <= start)
		return 0;
	if (i < vp->nr && vp->regions[i].start < start && vp->regions[i].end > end) {
		/* One region contains the hole: split it in two. */
		if (reserve((void **)&vp->regions, &vp->cap, vp->nr + 1, sizeof(*vp->regions)))
			return -ENOMEM;
		memmove(&vp->regions[i + 1], &vp->regions[i], (vp->nr - i) * sizeof(*vp->regions));
		vp->nr++;
		vp->regions[i].end = start;
		vp->regions[i + 1].start = end;
		return 0;
	}
	if (i < vp->nr && vp->regions[i].start < start) {
		vp->regions[i].end = start;
		i++;
	}
	for (j = i; j < vp->nr && vp->regions[j].end <= end; j++)
		;
	if (j < vp->nr && vp->regions[j].start < end)
		vp->regions[j].start = end;
	/* regions may still be NULL when nothing was ever inserted. */
	if (j > i)
		memmove(&vp->regions[i], &vp->regions[j], (vp->nr - j) * sizeof(*vp->regions));
	vp->nr -= j - i;
	return 0;
}

static int insert(struct vm_proc *vp, const struct vm_region *r)
{
	size_t i;
	int err;

	if (r->end <= r->start)
		return 0;
	err = punch(vp, r->start, r->end);
	if (err)
		return err;
	if (reserve((void **)&vp->regions, &vp->cap, vp->nr + 1, sizeof(*vp->regions)))
		return -ENOMEM;
	i = first_after(vp, r->start);
	memmove(&vp->regions[i + 1], &vp->regions[i], (vp->nr - i) * sizeof(*vp->regions));
	vp->regions[i] = *r;
	vp->nr++;
	return 0;
}

/* The same on the released set, which holds plain ranges. */
static int unrelease(struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i, n = 0, cap = vp->nr_released + 1;
	struct vm_range *out;

	/* An empty range inside a released one would cut it into two that touch. */
	if (!vp->nr_released || end <= start)
		return 0;
	/* Rare (memory-map calls only): a fresh array is simplest. */
	out = malloc(cap * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < vp->nr_released; i++) {
		struct vm_range r = vp->released[i];

		if (r.end <= start || r.start >= end) {
			out[n++] = r;
			continue;
		}
		if (r.start < start)
			out[n++] = (struct vm_range){ r.start, start };
		if (r.end > end)
			out[n++] = (struct vm_range){ end, r.end };
	}
	free(vp->released);
	vp->released = out;
	vp->nr_released = n;
	vp->cap_released = cap;
	return 0;
}

static int release(struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i, j;

	if (end <= start)
		return 0;
	if (unrelease(vp, start, end))
		return -ENOMEM;
	if (reserve((void **)&vp->released, &vp->cap_released, vp->nr_released + 1,
		    sizeof(*vp->released)))
		return -ENOMEM;
	for (i = 0; i < vp->nr_released && vp->released[i].start < start; i++)
		;
	memmove(&vp->released[i + 1], &vp->released[i],
		(vp->nr_released - i) * sizeof(*vp->released));
	vp->released[i] = (struct vm_range){ start, end };
	vp->nr_released++;
	/* Merge touching neighbours. */
	for (i = 0, j = 1; j < vp->nr_released; j++) {
		if (vp->released[j].start <= vp->released[i].end) {
			if (vp->released[j].end > vp->released[i].end)
				vp->released[i].end = vp->released[j].end;
		} else {
			vp->released[++i] = vp->released[j];
		}
	}
	if (vp->nr_released)
		vp->nr_released = i + 1;
	return 0;
}

int vm_proc__seed(struct vm_proc *vp, uint64_t start, uint64_t end, uint32_t prot, uint8_t owner)
{
	struct vm_region r = { .start = start, .end = end, .prot = prot, .owner = owner };

	return insert(vp, &r);
}

static int do_mprotect(struct vm_proc *vp, uint64_t start, uint64_t end, uint32_t prot)
{
	size_t i;
	int err;

	/* Split at both ends, then set the protection of what lies between. */
	for (i = first_after(vp, start); i < vp->nr && vp->regions[i].start < end; i++) {
		struct vm_region r = vp->regions[i];

		if (r.start >= start && r.end <= end) {
			vp->regions[i].prot = prot;
			continue;
		}
		r.start = r.start > start ? r.start : start;
		r.end = r.end < end ? r.end : end;
		r.prot = prot;
		err = insert(vp, &r);
		if (err)
			return err;
		i = first_after(vp, r.start);
	}
	return 0;
}

static int do_madvise(struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i;
	int err;

	for (i = first_after(vp, start); i < vp->nr && vp->regions[i].start < end; i++) {
		const struct vm_region *r = &vp->regions[i];

		if (r->prot == PROT_NONE)
			continue;
		err = release(vp, r->start > start ? r->start : start, r->end < end ? r->end : end);
		if (err)
			return err;
	}
	return 0;
}

int vm_proc__apply(struct vm_proc *vp, const struct mt_vm_event *e, bool heap_owner)
{
	const __u64 *a = e->args;
	uint64_t start, end;
	struct vm_region r = { 0 };
	size_t i;
	int err;

	vp->events++;
	/* A failed call changed nothing; mmap and friends return -errno in [-4095, -1]. */
	if (e->ret < 0 && e->ret >= -4095)
		return 0;
	switch (e->nr) {
	case MT_NR_MMAP:
		start = (uint64_t)e->ret;
		if (!page_range(start, a[1], &end))
			return 0;
		unrelease(vp, start, end);
		if (!(a[3] & MAP_ANONYMOUS) || (a[3] & MAP_SHARED))
			return punch(vp, start, end);
		r = (struct vm_region){ .start = start, .end = end, .prot = (uint32_t)a[2],
					.owner = heap_owner ? VM_OWNER_HEAP : VM_OWNER_OTHER,
					.stack_id = e->stack_id };
		return insert(vp, &r);
	case MT_NR_MUNMAP:
		if (!page_range(a[0], a[1], &end))
			return 0;
		unrelease(vp, a[0], end);
		return punch(vp, a[0], end);
	case MT_NR_MPROTECT:
		if (!page_range(a[0], a[1], &end))
			return 0;
		return do_mprotect(vp, a[0], end, (uint32_t)a[2]);
	case MT_NR_MADVISE:
		if (!page_range(a[0], a[1], &end))
			return 0;
		if (a[2] == MADV_DONTNEED || a[2] == MADV_FREE || a[2] == MADV_REMOVE)
			return do_madvise(vp, a[0], end);
		return 0;
	case MT_NR_MREMAP: {
		uint64_t old = a[0], old_end, dst = (uint64_t)e->ret, dst_end;
		bool tracked;

		if (!page_range(old, a[1], &old_end) || !page_range(dst, a[2], &dst_end))
			return 0;
		i = first_after(vp, old);
		tracked = i < vp->nr && vp->regions[i].start <= old;
		if (tracked)
			r = vp->regions[i];
		if (!(a[3] & MREMAP_DONTUNMAP)) {
			unrelease(vp, old, old_end);
			punch(vp, old, old_end);
		}
		unrelease(vp, dst, dst_end);
		/* A file or shared mapping moved: still not anonymous memory. */
		if (!tracked)
			return punch(vp, dst, dst_end);
		r.start = dst;
		r.end = dst_end;
		return insert(vp, &r);
	}
	case MT_NR_BRK: {
		uint64_t brk = (uint64_t)e->ret;

		/* The break rounded up to its page must be an address too. */
		if (brk > UINT64_MAX - (PAGE_SIZE_4K - 1))
			return 0;
		if (!vp->brk_start) {
			/* The first brk answers with the current break: the heap starts there. */
			vp->brk_start = vp->brk_end = brk;
			return 0;
		}
		/* The break need not be page-aligned; the kernel maps up to its page's end. */
		if (brk > vp->brk_end) {
			r = (struct vm_region){ .start = page_up(vp->brk_end), .end = page_up(brk),
						.prot = PROT_READ | PROT_WRITE,
						.owner = VM_OWNER_HEAP, .stack_id = e->stack_id };
			vp->brk_end = brk;
			/*
			 * Inserted (not just appended), so that a break seen growing over
			 * a mapping, after lost events, cannot make regions overlap.
			 */
			err = insert(vp, &r);
			if (err || r.end <= r.start)
				return err;
			/*
			 * One heap region with the one below when it is the same heap,
			 * usable alike, and grown by the same call stack: each stack that
			 * grew the heap is charged its own part ("mapped by").
			 */
			i = first_after(vp, r.start);
			if (i > 0 && vp->regions[i - 1].end == r.start &&
			    vp->regions[i - 1].owner == VM_OWNER_HEAP &&
			    vp->regions[i - 1].prot == r.prot &&
			    vp->regions[i - 1].stack_id == r.stack_id) {
				vp->regions[i - 1].end = r.end;
				memmove(&vp->regions[i], &vp->regions[i + 1],
					(vp->nr - i - 1) * sizeof(*vp->regions));
				vp->nr--;
			}
			return 0;
		}
		if (brk < vp->brk_end) {
			unrelease(vp, page_up(brk), page_up(vp->brk_end));
			punch(vp, page_up(brk), page_up(vp->brk_end));
			vp->brk_end = brk;
		}
		return 0;
	}
	}
	return 0;
}

/* Keep only the released ranges inside the actual mappings. */
static int clip_released(struct vm_proc *vp, const struct vm_actual *a, size_t n)
{
	uint64_t from = 0;
	size_t i;
	int err;

	for (i = 0; i <= n; i++) {
		uint64_t to = i < n ? a[i].start : UINT64_MAX;

		if (to > from) {
			err = unrelease(vp, from, to);
			if (err)
				return err;
		}
		if (i < n)
			from = a[i].end;
	}
	return 0;
}

int vm_proc__reconcile(struct vm_proc *vp, const struct vm_actual *a, size_t n,
		       uint64_t *changed)
{
	struct vm_region *out = NULL;
	size_t nr = 0, cap = 0, i, j = 0;
	uint64_t before = 0, kept = 0;
	int err;

	for (i = 0; i < vp->nr; i++)
		before += vp->regions[i].end - vp->regions[i].start;
	for (i = 0; i < n; i++) {
		uint64_t at = a[i].start;

		if (a[i].end <= a[i].start || (i && a[i].start < a[i - 1].end)) {
			free(out);
			return -EINVAL;		/* not sorted, or overlapping */
		}
		while (j < vp->nr && vp->regions[j].end <= at)
			j++;
		while (at < a[i].end) {
			struct vm_region piece = { .start = at, .prot = a[i].prot, .owner = a[i].owner };
			const struct vm_region *r = j < vp->nr ? &vp->regions[j] : NULL;

			if (r && r->start <= at) {
				/* Known: its owner and stack stay, the protection is the kernel's. */
				piece.end = r->end < a[i].end ? r->end : a[i].end;
				piece.owner = r->owner;
				piece.stack_id = r->stack_id;
				kept += piece.end - piece.start;
				if (r->end <= a[i].end)
					j++;
			} else {
				/* Not seen mapped: an event missed, or before tracing. */
				piece.end = r && r->start < a[i].end ? r->start : a[i].end;
			}
			err = reserve((void **)&out, &cap, nr + 1, sizeof(*out));
			if (err) {
				free(out);
				return err;
			}
			out[nr++] = piece;
			at = piece.end;
		}
	}
	free(vp->regions);
	vp->regions = out;
	vp->nr = nr;
	vp->cap = cap;
	if (changed) {
		uint64_t now = 0;

		for (i = 0; i < nr; i++)
			now += out[i].end - out[i].start;
		/* Bytes that were known but are gone, plus bytes that are new. */
		*changed = (before - kept) + (now - kept);
	}
	return clip_released(vp, a, n);
}

uint64_t vm_proc__mapped(const struct vm_proc *vp)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < vp->nr; i++)
		if (vp->regions[i].prot != PROT_NONE)
			sum += vp->regions[i].end - vp->regions[i].start;
	return sum;
}

uint64_t vm_proc__heap_mapped(const struct vm_proc *vp)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < vp->nr; i++)
		if (vp->regions[i].prot != PROT_NONE && vp->regions[i].owner == VM_OWNER_HEAP)
			sum += vp->regions[i].end - vp->regions[i].start;
	return sum;
}

void vm_proc__add_live(struct vm_proc *vp, uint64_t addr, uint64_t size)
{
	size_t i = first_after(vp, addr);

	if (i < vp->nr && vp->regions[i].start <= addr) {
		vp->regions[i].live += size;
		vp->regions[i].live_blocks++;
	}
}

void vm_proc__reset_usage(struct vm_proc *vp)
{
	size_t i;

	for (i = 0; i < vp->nr; i++)
		vp->regions[i].resident = vp->regions[i].live = vp->regions[i].live_blocks = 0;
}
