/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: the interval map of anonymous memory. The input is a
 * sequence of struct mt_vm_event, applied in order (the heap flag taken from
 * in_alloc, as for a C program). After each event the map must stay sorted
 * and non-overlapping, and a few postconditions of the call must hold; a
 * broken one abort()s, which the fuzzer reports with the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/vmtrack.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define PAGE 4096ULL

static void check_shape(const struct vm_proc *vp)
{
	size_t i;

	CHECK(vp->nr <= vp->cap && vp->nr_released <= vp->cap_released);
	for (i = 0; i < vp->nr; i++) {
		CHECK(vp->regions[i].start < vp->regions[i].end);
		CHECK(!i || vp->regions[i - 1].end <= vp->regions[i].start);
	}
	/* Released ranges are merged: neighbours do not even touch. */
	for (i = 0; i < vp->nr_released; i++) {
		CHECK(vp->released[i].start < vp->released[i].end);
		CHECK(!i || vp->released[i - 1].end < vp->released[i].start);
	}
}

static bool overlaps_region(const struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i;

	for (i = 0; i < vp->nr; i++)
		if (vp->regions[i].start < end && start < vp->regions[i].end)
			return true;
	return false;
}

static bool overlaps_released(const struct vm_proc *vp, uint64_t start, uint64_t end)
{
	size_t i;

	for (i = 0; i < vp->nr_released; i++)
		if (vp->released[i].start < end && start < vp->released[i].end)
			return true;
	return false;
}

/* The range [start, start + page-rounded len), or false when it wraps. */
static bool range_of(uint64_t start, uint64_t len, uint64_t *end)
{
	if (len > UINT64_MAX - (PAGE - 1))
		return false;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (start > UINT64_MAX - len)
		return false;
	*end = start + len;
	return true;
}

static void check_after(const struct vm_proc *vp, const struct mt_vm_event *e)
{
	const __u64 *a = e->args;
	uint64_t start, end;
	size_t i;

	if (e->ret < 0 && e->ret >= -4095)
		return;
	switch (e->nr) {
	case MT_NR_MUNMAP:
		if (!range_of(a[0], a[1], &end) || end == a[0])
			return;
		CHECK(!overlaps_region(vp, a[0], end));
		CHECK(!overlaps_released(vp, a[0], end));
		break;
	case MT_NR_MMAP:
		start = (uint64_t)e->ret;
		if (!range_of(start, a[1], &end) || end == start)
			return;
		CHECK(!overlaps_released(vp, start, end));
		if (!(a[3] & MAP_ANONYMOUS) || (a[3] & MAP_SHARED)) {
			CHECK(!overlaps_region(vp, start, end));
			return;
		}
		/* Exactly one region, the new one. */
		for (i = 0; i < vp->nr && vp->regions[i].end <= start; i++)
			;
		CHECK(i < vp->nr && vp->regions[i].start == start && vp->regions[i].end == end &&
		      vp->regions[i].prot == (uint32_t)a[2]);
		break;
	case MT_NR_MPROTECT:
		if (!range_of(a[0], a[1], &end) || end == a[0])
			return;
		for (i = 0; i < vp->nr; i++) {
			const struct vm_region *r = &vp->regions[i];

			/* Inside the range: the new protection; no region straddles an edge. */
			if (r->start < end && a[0] < r->end) {
				CHECK(r->prot == (uint32_t)a[2]);
				CHECK(r->start >= a[0] && r->end <= end);
			}
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_proc vp;
	struct mt_vm_event e;
	size_t off;

	vm_proc__init(&vp);
	for (off = 0; off + sizeof(e) <= size; off += sizeof(e)) {
		memcpy(&e, data + off, sizeof(e));
		/* Out of memory aside, apply() never fails on well-formed memory. */
		vm_proc__apply(&vp, &e, e.in_alloc & 1);
		check_shape(&vp);
		check_after(&vp, &e);
		/* What a report does: live blocks placed, figures summed. */
		vm_proc__add_live(&vp, e.args[4], e.args[5] & 0xffff);
	}
	(void)vm_proc__mapped(&vp);
	(void)vm_proc__heap_mapped(&vp);
	vm_proc__reset_usage(&vp);
	vm_proc__clear(&vp);
	return 0;
}
