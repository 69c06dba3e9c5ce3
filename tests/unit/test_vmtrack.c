/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The interval map of a process's anonymous memory: exact regions, released
 * ranges and figures after short sequences of memory-map syscalls, then many
 * random syscalls checked page by page against a plain page-array model.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "memory/vmtrack.h"
#include "unit.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PG 4096ULL
#define P(n) ((uint64_t)(n) * PG)
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define HEAP VM_OWNER_HEAP
#define OTHER VM_OWNER_OTHER

/* Far apart so that directed tests never touch each other's regions by accident. */
#define A 0x7f0000000000ULL
#define B 0x7f0010000000ULL
#define C 0x7f0020000000ULL

static void check_u64(uint64_t got, uint64_t want, const char *desc)
{
	check(got == want, desc, "got %#" PRIx64 " (%" PRIu64 "), want %#" PRIx64 " (%" PRIu64 ")",
	      got, got, want, want);
}

static struct mt_vm_event ev(uint32_t nr, int64_t ret, uint64_t a0, uint64_t a1, uint64_t a2,
			     uint64_t a3, uint64_t a4, uint64_t a5, bool in_alloc)
{
	struct mt_vm_event e = {
		.args = { a0, a1, a2, a3, a4, a5 },
		.ret = ret,
		.pid = 1,
		.nr = nr,
		.in_alloc = in_alloc,
	};

	return e;
}

/* As memtrace does for C programs: an mmap made inside the allocator is the heap's. */
static int put(struct vm_proc *vp, struct mt_vm_event e)
{
	return vm_proc__apply(vp, &e, e.in_alloc);
}

static int mmap_ev(struct vm_proc *vp, uint64_t ret, uint64_t len, uint32_t prot, uint32_t flags,
		   bool heap)
{
	uint64_t fd = flags & MAP_ANONYMOUS ? (uint64_t)-1 : 3;

	return put(vp, ev(MT_NR_MMAP, (int64_t)ret, flags & MAP_FIXED ? ret : 0, len, prot, flags,
			  fd, 0, heap));
}

static int munmap_ev(struct vm_proc *vp, uint64_t addr, uint64_t len)
{
	return put(vp, ev(MT_NR_MUNMAP, 0, addr, len, 0, 0, 0, 0, false));
}

static int mprotect_ev(struct vm_proc *vp, uint64_t addr, uint64_t len, uint32_t prot)
{
	return put(vp, ev(MT_NR_MPROTECT, 0, addr, len, prot, 0, 0, 0, false));
}

static int madvise_ev(struct vm_proc *vp, uint64_t addr, uint64_t len, int advice)
{
	return put(vp, ev(MT_NR_MADVISE, 0, addr, len, (uint64_t)advice, 0, 0, 0, false));
}

static int mremap_ev(struct vm_proc *vp, uint64_t ret, uint64_t old, uint64_t old_len,
		     uint64_t new_len, uint32_t flags, uint64_t new_addr)
{
	return put(vp, ev(MT_NR_MREMAP, (int64_t)ret, old, old_len, new_len, flags, new_addr, 0,
			  false));
}

static int brk_ev(struct vm_proc *vp, uint64_t ret, uint64_t req)
{
	return put(vp, ev(MT_NR_BRK, (int64_t)ret, req, 0, 0, 0, 0, 0, true));
}

struct exp_region {
	uint64_t start, end;
	uint32_t prot;
	uint8_t owner;
};

static void describe_regions(const struct vm_proc *vp, char *buf, size_t len)
{
	size_t i, off = 0;
	int n;

	buf[0] = 0;
	for (i = 0; i < vp->nr && off < len; i++) {
		const struct vm_region *r = &vp->regions[i];

		n = snprintf(buf + off, len - off,
			     "%s[%#" PRIx64 ", %#" PRIx64 ") prot %u owner %u", i ? "; " : "",
			     r->start, r->end, r->prot, r->owner);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (!vp->nr)
		snprintf(buf, len, "no regions");
}

static void check_regions(const struct vm_proc *vp, const struct exp_region *exp, size_t n,
			  const char *desc)
{
	char got[2048];
	bool ok = vp->nr == n;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		const struct vm_region *r = &vp->regions[i];

		ok = r->start == exp[i].start && r->end == exp[i].end && r->prot == exp[i].prot &&
		     r->owner == exp[i].owner;
	}
	describe_regions(vp, got, sizeof(got));
	check(ok, desc, "%zu regions, want %zu: %s", vp->nr, n, got);
}

static void check_released(const struct vm_proc *vp, const struct vm_range *exp, size_t n,
			   const char *desc)
{
	char got[2048];
	size_t i, off = 0;
	bool ok = vp->nr_released == n;
	int len;

	for (i = 0; ok && i < n; i++)
		ok = vp->released[i].start == exp[i].start && vp->released[i].end == exp[i].end;
	got[0] = 0;
	for (i = 0; i < vp->nr_released && off < sizeof(got); i++) {
		len = snprintf(got + off, sizeof(got) - off, " [%#" PRIx64 ", %#" PRIx64 ")",
			       vp->released[i].start, vp->released[i].end);
		if (len < 0)
			break;
		off += (size_t)len;
	}
	check(ok, desc, "%zu ranges, want %zu:%s", vp->nr_released, n, got);
}

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static void test_mmap_anon(void)
{
	struct vm_proc vp;
	struct mt_vm_event e;

	vm_proc__init(&vp);
	check(mmap_ev(&vp, A, 5000, RW, ANON, false) == 0, "mmap: applied", NULL);
	{
		const struct exp_region want[] = { { A, A + P(2), RW, OTHER } };

		check_regions(&vp, want, N(want),
			      "mmap: anonymous private region, length rounded up");
	}
	check_u64(vm_proc__mapped(&vp), P(2), "mmap: mapped counts whole pages");
	check_u64(vm_proc__heap_mapped(&vp), 0, "mmap: outside the allocator, not heap");

	/* The allocator's own mmap is heap; the call stack that made it is kept. */
	e = ev(MT_NR_MMAP, (int64_t)(A + P(4)), 0, P(3), RW, ANON, (uint64_t)-1, 0, true);
	e.stack_id = 0x5157;
	put(&vp, e);
	mmap_ev(&vp, A + P(8), 1, PROT_READ, ANON, false);
	{
		const struct exp_region want[] = {
			{ A, A + P(2), RW, OTHER },
			{ A + P(4), A + P(7), RW, HEAP },
			{ A + P(8), A + P(9), PROT_READ, OTHER },
		};

		check_regions(&vp, want, N(want),
			      "mmap: heap region owned by the heap, kept sorted");
	}
	check(vp.nr == 3 && vp.regions[1].stack_id == 0x5157, "mmap: stack id of the caller kept",
	      "stack_id %#" PRIx64, vp.nr == 3 ? vp.regions[1].stack_id : 0);
	check_u64(vm_proc__mapped(&vp), P(6), "mmap: mapped sums every region");
	check_u64(vm_proc__heap_mapped(&vp), P(3), "mmap: heap mapped counts the heap region only");

	/* Placed below everything: the array must stay sorted. */
	mmap_ev(&vp, A - P(16), P(1), RW, ANON, true);
	check(vp.nr == 4 && vp.regions[0].start == A - P(16) && vp.regions[1].start == A,
	      "mmap: a lower address goes first", "nr %zu", vp.nr);
	check_u64(vp.events, 4, "events counted");
	check(vp.nr_released == 0 && vp.brk_start == 0, "mmap: nothing released, no brk", NULL);
	vm_proc__clear(&vp);
}

static void test_file_and_shared(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(16), RW, ANON, true);
	mmap_ev(&vp, B, P(4), PROT_READ, MAP_PRIVATE, false);
	mmap_ev(&vp, B + P(8), P(4), RW, MAP_SHARED | MAP_ANONYMOUS, false);
	mmap_ev(&vp, B + P(16), P(4), RW, MAP_SHARED, false);
	{
		const struct exp_region want[] = { { A, A + P(16), RW, HEAP } };

		check_regions(&vp, want, N(want),
			      "file, shared anonymous and shared file mappings not tracked");
	}

	/* Mapped over anonymous memory, they replace it. */
	mmap_ev(&vp, A + P(2), P(2), PROT_READ, MAP_PRIVATE | MAP_FIXED, false);
	mmap_ev(&vp, A + P(8), 100, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, false);
	mmap_ev(&vp, A + P(14), P(4), RW, MAP_SHARED | MAP_FIXED, false);
	{
		const struct exp_region want[] = {
			{ A, A + P(2), RW, HEAP },
			{ A + P(4), A + P(8), RW, HEAP },
			{ A + P(9), A + P(14), RW, HEAP },
		};

		check_regions(&vp, want, N(want), "untracked mappings punch out what they overlap");
	}
	check_u64(vm_proc__mapped(&vp), P(11), "punched: mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(11), "punched: heap mapped");
	vm_proc__clear(&vp);
}

/* A deep copy of the state, to see that a failed call left it as it was. */
struct snap {
	struct vm_region regions[16];
	struct vm_range released[16];
	size_t nr, nr_released;
	uint64_t brk_start, brk_end;
};

static void take(const struct vm_proc *vp, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->nr = vp->nr < 16 ? vp->nr : 16;
	s->nr_released = vp->nr_released < 16 ? vp->nr_released : 16;
	if (s->nr)
		memcpy(s->regions, vp->regions, s->nr * sizeof(*s->regions));
	if (s->nr_released)
		memcpy(s->released, vp->released, s->nr_released * sizeof(*s->released));
	s->brk_start = vp->brk_start;
	s->brk_end = vp->brk_end;
}

static bool same(const struct snap *a, const struct snap *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void test_failed_calls(void)
{
	static const int64_t errs[] = { -1, -12, -22, -4095 };
	struct snap before, after;
	struct vm_proc vp;
	char desc[128];
	size_t i;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(8), RW, ANON, true);
	mmap_ev(&vp, A + P(16), P(8), PROT_NONE, ANON, false);
	madvise_ev(&vp, A + P(2), P(2), MADV_DONTNEED);
	brk_ev(&vp, B, 0);
	brk_ev(&vp, B + P(4), B + P(4));
	take(&vp, &before);
	for (i = 0; i < N(errs); i++) {
		int64_t r = errs[i];
		int rc = 0;

		rc |= put(&vp, ev(MT_NR_MMAP, r, 0, P(4), RW, ANON, (uint64_t)-1, 0, true));
		rc |= put(&vp, ev(MT_NR_MMAP, r, A, P(4), RW, ANON | MAP_FIXED, (uint64_t)-1, 0,
				  true));
		rc |= put(&vp, ev(MT_NR_MMAP, r, A, P(4), RW, MAP_SHARED | MAP_FIXED, 3, 0, false));
		rc |= put(&vp, ev(MT_NR_MUNMAP, r, A, P(8), 0, 0, 0, 0, false));
		rc |= put(&vp, ev(MT_NR_MPROTECT, r, A + P(16), P(4), RW, 0, 0, 0, false));
		rc |= put(&vp, ev(MT_NR_MADVISE, r, A, P(8), MADV_DONTNEED, 0, 0, 0, false));
		rc |= put(&vp, ev(MT_NR_MREMAP, r, A, P(8), P(32), MREMAP_MAYMOVE, 0, 0, false));
		take(&vp, &after);
		snprintf(desc, sizeof(desc), "failed calls (ret %" PRId64 ") change nothing", r);
		check(rc == 0 && same(&before, &after), desc, "rc %d, %zu regions, %zu released",
		      rc, vp.nr, vp.nr_released);
	}
	check_u64(vp.events, 5 + 7 * N(errs), "failed calls still counted as events");
	vm_proc__clear(&vp);
}

static void test_munmap(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(16), RW, ANON, true);
	munmap_ev(&vp, A + P(4), P(2));
	{
		const struct exp_region want[] = {
			{ A, A + P(4), RW, HEAP },
			{ A + P(6), A + P(16), RW, HEAP },
		};

		check_regions(&vp, want, N(want), "munmap of the middle splits the region in two");
	}
	check_u64(vm_proc__mapped(&vp), P(14), "split: mapped");

	/* An unaligned length unmaps whole pages. */
	munmap_ev(&vp, A + P(14), 1);
	mmap_ev(&vp, A + P(20), P(4), PROT_READ, ANON, false);
	mmap_ev(&vp, A + P(24), P(4), PROT_NONE, ANON, false);
	mmap_ev(&vp, A + P(30), P(4), RW, ANON, false);
	{
		const struct exp_region want[] = {
			{ A, A + P(4), RW, HEAP },
			{ A + P(6), A + P(14), RW, HEAP },
			{ A + P(15), A + P(16), RW, HEAP },
			{ A + P(20), A + P(24), PROT_READ, OTHER },
			{ A + P(24), A + P(28), PROT_NONE, OTHER },
			{ A + P(30), A + P(34), RW, OTHER },
		};

		check_regions(&vp, want, N(want), "munmap: length rounded up to a page");
	}

	/* From inside the second region to inside the last, over gaps and whole regions. */
	munmap_ev(&vp, A + P(10), P(22));
	{
		const struct exp_region want[] = {
			{ A, A + P(4), RW, HEAP },
			{ A + P(6), A + P(10), RW, HEAP },
			{ A + P(32), A + P(34), RW, OTHER },
		};

		check_regions(&vp, want, N(want),
			      "munmap spanning several regions trims both ends");
	}
	check_u64(vm_proc__mapped(&vp), P(10), "spanning munmap: mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(8), "spanning munmap: heap mapped");

	/* Exactly one region, by its bounds; then a range with nothing in it. */
	munmap_ev(&vp, A + P(6), P(4));
	munmap_ev(&vp, A + P(100), P(4));
	{
		const struct exp_region want[] = {
			{ A, A + P(4), RW, HEAP },
			{ A + P(32), A + P(34), RW, OTHER },
		};

		check_regions(&vp, want, N(want), "munmap of a whole region; of nothing");
	}
	munmap_ev(&vp, A - P(1), P(64));
	check(vp.nr == 0 && vm_proc__mapped(&vp) == 0, "munmap over everything empties the map",
	      "nr %zu", vp.nr);
	vm_proc__clear(&vp);
}

static void test_map_fixed(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(8), RW, ANON, false);
	mmap_ev(&vp, A + P(2), P(2), PROT_READ, ANON | MAP_FIXED, true);
	{
		const struct exp_region want[] = {
			{ A, A + P(2), RW, OTHER },
			{ A + P(2), A + P(4), PROT_READ, HEAP },
			{ A + P(4), A + P(8), RW, OTHER },
		};

		check_regions(&vp, want, N(want),
			      "MAP_FIXED over part of a region replaces that part");
	}
	check_u64(vm_proc__mapped(&vp), P(8), "MAP_FIXED: mapped unchanged");
	check_u64(vm_proc__heap_mapped(&vp), P(2), "MAP_FIXED: the new part is the heap's");

	/* Over the tail of one region and the head of the next. */
	mmap_ev(&vp, A + P(3), P(3), PROT_NONE, ANON | MAP_FIXED, false);
	{
		const struct exp_region want[] = {
			{ A, A + P(2), RW, OTHER },
			{ A + P(2), A + P(3), PROT_READ, HEAP },
			{ A + P(3), A + P(6), PROT_NONE, OTHER },
			{ A + P(6), A + P(8), RW, OTHER },
		};

		check_regions(&vp, want, N(want), "MAP_FIXED across two regions");
	}
	check_u64(vm_proc__mapped(&vp), P(5), "MAP_FIXED PROT_NONE: no longer counted");
	vm_proc__clear(&vp);
}

static void test_prot_none(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	/* A glibc arena: a large PROT_NONE reservation made usable piece by piece. */
	mmap_ev(&vp, A, P(16), PROT_NONE, ANON, true);
	check(vp.nr == 1, "PROT_NONE reservation tracked", "nr %zu", vp.nr);
	check_u64(vm_proc__mapped(&vp), 0, "PROT_NONE reservation: not mapped");
	check_u64(vm_proc__heap_mapped(&vp), 0, "PROT_NONE reservation: not heap mapped");

	mprotect_ev(&vp, A + P(4), 5000, RW);
	{
		const struct exp_region want[] = {
			{ A, A + P(4), PROT_NONE, HEAP },
			{ A + P(4), A + P(6), RW, HEAP },
			{ A + P(6), A + P(16), PROT_NONE, HEAP },
		};

		check_regions(&vp, want, N(want), "mprotect of part of a reservation splits it");
	}
	check_u64(vm_proc__mapped(&vp), P(2), "mprotect RW: only that part mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(2), "mprotect RW: only that part heap mapped");

	/* Growing the usable part from its start, across the boundary. */
	mprotect_ev(&vp, A + P(4), P(4), RW);
	{
		const struct exp_region want[] = {
			{ A, A + P(4), PROT_NONE, HEAP },
			{ A + P(4), A + P(6), RW, HEAP },
			{ A + P(6), A + P(8), RW, HEAP },
			{ A + P(8), A + P(16), PROT_NONE, HEAP },
		};

		check_regions(&vp, want, N(want), "mprotect across two regions");
	}
	check_u64(vm_proc__mapped(&vp), P(4), "mprotect across: mapped");

	/* Over the reservation, a gap and an untouched region: only tracked memory changes. */
	mmap_ev(&vp, A + P(20), P(2), PROT_NONE, ANON, false);
	mprotect_ev(&vp, A + P(14), P(7), PROT_READ);
	{
		const struct exp_region want[] = {
			{ A, A + P(4), PROT_NONE, HEAP },
			{ A + P(4), A + P(6), RW, HEAP },
			{ A + P(6), A + P(8), RW, HEAP },
			{ A + P(8), A + P(14), PROT_NONE, HEAP },
			{ A + P(14), A + P(16), PROT_READ, HEAP },
			{ A + P(20), A + P(21), PROT_READ, OTHER },
			{ A + P(21), A + P(22), PROT_NONE, OTHER },
		};

		check_regions(&vp, want, N(want), "mprotect over a gap leaves the gap untracked");
	}
	check_u64(vm_proc__mapped(&vp), P(7), "mprotect over a gap: mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(6), "mprotect over a gap: heap mapped");

	/* Back to PROT_NONE, as glibc shrinks an arena. */
	mprotect_ev(&vp, A, P(22), PROT_NONE);
	check_u64(vm_proc__mapped(&vp), 0, "mprotect PROT_NONE of everything: nothing mapped");
	check_u64(vp.nr, 7, "mprotect of whole regions splits nothing");
	vm_proc__clear(&vp);
}

static void test_madvise(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(16), RW, ANON, true);
	madvise_ev(&vp, A + P(2), P(2), MADV_DONTNEED);
	{
		const struct vm_range want[] = { { A + P(2), A + P(4) } };

		check_released(&vp, want, N(want), "MADV_DONTNEED adds a released range");
	}
	madvise_ev(&vp, A + P(4), 1, MADV_FREE);
	{
		const struct vm_range want[] = { { A + P(2), A + P(5) } };

		check_released(&vp, want, N(want),
			       "MADV_FREE touching it merges, length rounded up");
	}
	madvise_ev(&vp, A + P(1), P(1), MADV_REMOVE);
	madvise_ev(&vp, A + P(10), P(2), MADV_DONTNEED);
	{
		const struct vm_range want[] = { { A + P(1), A + P(5) }, { A + P(10), A + P(12) } };

		check_released(&vp, want, N(want), "MADV_REMOVE below merges; apart stays apart");
	}
	madvise_ev(&vp, A + P(3), P(8), MADV_DONTNEED);
	{
		const struct vm_range want[] = { { A + P(1), A + P(12) } };

		check_released(&vp, want, N(want), "overlapping both merges all three");
	}
	madvise_ev(&vp, A + P(13), P(2), MADV_WILLNEED);
	madvise_ev(&vp, A + P(13), P(2), MADV_NORMAL);
	madvise_ev(&vp, A + P(13), P(2), MADV_SEQUENTIAL);
	{
		const struct vm_range want[] = { { A + P(1), A + P(12) } };

		check_released(&vp, want, N(want), "other advice releases nothing");
	}
	check_u64(vm_proc__mapped(&vp), P(16), "released memory is still mapped");

	/* Only over tracked memory that can be used. */
	mmap_ev(&vp, B, P(4), RW, ANON, false);
	mmap_ev(&vp, B + P(4), P(4), PROT_NONE, ANON, false);
	mmap_ev(&vp, B + P(10), P(2), PROT_READ, ANON, false);
	mmap_ev(&vp, B + P(12), P(2), RW, MAP_SHARED | MAP_ANONYMOUS, false);
	madvise_ev(&vp, B - P(2), P(18), MADV_DONTNEED);
	{
		const struct vm_range want[] = {
			{ A + P(1), A + P(12) }, { B, B + P(4) }, { B + P(10), B + P(12) },
		};

		check_released(&vp, want, N(want),
			       "madvise skips PROT_NONE, gaps and untracked mappings");
	}
	vm_proc__clear(&vp);
}

static void test_unrelease(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(32), RW, ANON, true);
	madvise_ev(&vp, A + P(2), P(8), MADV_DONTNEED);
	madvise_ev(&vp, A + P(20), P(4), MADV_DONTNEED);
	munmap_ev(&vp, A + P(4), P(2));
	{
		const struct vm_range want[] = {
			{ A + P(2), A + P(4) }, { A + P(6), A + P(10) }, { A + P(20), A + P(24) },
		};

		check_released(&vp, want, N(want), "munmap inside a released range splits it");
	}
	mmap_ev(&vp, A + P(8), P(1), RW, ANON | MAP_FIXED, false);
	{
		const struct vm_range want[] = {
			{ A + P(2), A + P(4) }, { A + P(6), A + P(8) }, { A + P(9), A + P(10) },
			{ A + P(20), A + P(24) },
		};

		check_released(&vp, want, N(want),
			       "a new mmap over a released range removes that part");
	}
	mmap_ev(&vp, A + P(22), P(4), PROT_READ, MAP_PRIVATE | MAP_FIXED, false);
	{
		const struct vm_range want[] = {
			{ A + P(2), A + P(4) }, { A + P(6), A + P(8) }, { A + P(9), A + P(10) },
			{ A + P(20), A + P(22) },
		};

		check_released(&vp, want, N(want), "a file mmap over the tail of a released range");
	}
	munmap_ev(&vp, A + P(3), P(7));
	{
		const struct vm_range want[] = { { A + P(2), A + P(3) }, { A + P(20), A + P(22) } };

		check_released(&vp, want, N(want), "munmap over several released ranges");
	}
	munmap_ev(&vp, A, P(32));
	check(vp.nr_released == 0 && vp.nr == 0, "munmap of everything: nothing released",
	      "%zu released, %zu regions", vp.nr_released, vp.nr);
	vm_proc__clear(&vp);
}

static void test_mremap(void)
{
	struct vm_proc vp;
	struct mt_vm_event e;

	vm_proc__init(&vp);
	e = ev(MT_NR_MMAP, (int64_t)A, 0, P(4), RW, ANON, (uint64_t)-1, 0, true);
	e.stack_id = 7;
	put(&vp, e);
	madvise_ev(&vp, A + P(1), P(1), MADV_DONTNEED);
	mremap_ev(&vp, A, A, P(4), P(8) - 10, MREMAP_MAYMOVE, 0);
	{
		const struct exp_region want[] = { { A, A + P(8), RW, HEAP } };

		check_regions(&vp, want, N(want), "mremap growing in place");
	}
	check(vp.nr_released == 0, "mremap in place: released part is fresh memory again",
	      "%zu released", vp.nr_released);
	check_u64(vm_proc__heap_mapped(&vp), P(8), "mremap grown: heap mapped");

	mremap_ev(&vp, A, A, P(8), P(3), 0, 0);
	{
		const struct exp_region want[] = { { A, A + P(3), RW, HEAP } };

		check_regions(&vp, want, N(want), "mremap shrinking");
	}
	check_u64(vm_proc__mapped(&vp), P(3), "mremap shrunk: mapped");

	mprotect_ev(&vp, A, P(3), PROT_READ);
	madvise_ev(&vp, C, P(2), MADV_DONTNEED);
	mmap_ev(&vp, C, P(2), RW, ANON, false);
	madvise_ev(&vp, C, P(2), MADV_DONTNEED);
	mremap_ev(&vp, C + P(1), A, P(3), P(6), MREMAP_MAYMOVE | MREMAP_FIXED, C + P(1));
	{
		const struct exp_region want[] = {
			{ C, C + P(1), RW, OTHER },
			{ C + P(1), C + P(7), PROT_READ, HEAP },
		};

		check_regions(&vp, want, N(want),
			      "mremap moving: old range gone, new range keeps prot and owner");
	}
	check(vp.nr == 2 && vp.regions[1].stack_id == 7, "mremap moving: stack id kept",
	      "stack_id %#" PRIx64, vp.nr == 2 ? vp.regions[1].stack_id : 0);
	{
		const struct vm_range want[] = { { C, C + P(1) } };

		check_released(&vp, want, N(want),
			       "mremap moving over released memory unreleases it");
	}
	check_u64(vm_proc__mapped(&vp), P(7), "mremap moved: mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(6), "mremap moved: heap mapped");

	/* Part of a region moved: its middle becomes a hole. */
	mmap_ev(&vp, B, P(8), RW, ANON, false);
	mremap_ev(&vp, B + P(20), B + P(2), P(2), P(2), MREMAP_MAYMOVE | MREMAP_FIXED, B + P(20));
	{
		const struct exp_region want[] = {
			{ B, B + P(2), RW, OTHER },
			{ B + P(4), B + P(8), RW, OTHER },
			{ B + P(20), B + P(22), RW, OTHER },
			{ C, C + P(1), RW, OTHER },
			{ C + P(1), C + P(7), PROT_READ, HEAP },
		};

		check_regions(&vp, want, N(want), "mremap moving the middle of a region");
	}

	/* MREMAP_DONTUNMAP leaves the old range mapped. */
	mremap_ev(&vp, B + P(30), B + P(4), P(4), P(4), MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	{
		const struct exp_region want[] = {
			{ B, B + P(2), RW, OTHER },
			{ B + P(4), B + P(8), RW, OTHER },
			{ B + P(20), B + P(22), RW, OTHER },
			{ B + P(30), B + P(34), RW, OTHER },
			{ C, C + P(1), RW, OTHER },
			{ C + P(1), C + P(7), PROT_READ, HEAP },
		};

		check_regions(&vp, want, N(want),
			      "mremap with MREMAP_DONTUNMAP keeps the old range");
	}
	vm_proc__clear(&vp);
}

static void test_brk(void)
{
	const uint64_t H = B;
	struct vm_proc vp;

	vm_proc__init(&vp);
	brk_ev(&vp, H, 0);
	check(vp.brk_start == H && vp.brk_end == H && vp.nr == 0,
	      "brk: first call sets the bounds, maps nothing",
	      "start %#" PRIx64 " end %#" PRIx64 " nr %zu", vp.brk_start, vp.brk_end, vp.nr);

	brk_ev(&vp, H + P(4), H + P(4));
	{
		const struct exp_region want[] = { { H, H + P(4), RW, HEAP } };

		check_regions(&vp, want, N(want), "brk growth adds a heap region");
	}
	check_u64(vp.brk_end, H + P(4), "brk growth: brk_end");
	brk_ev(&vp, H + P(10), H + P(10));
	{
		const struct exp_region want[] = { { H, H + P(10), RW, HEAP } };

		check_regions(&vp, want, N(want), "brk further growth extends the one region");
	}
	check_u64(vm_proc__heap_mapped(&vp), P(10), "brk grown: heap mapped");

	/* A refused growth answers with the old break. */
	brk_ev(&vp, H + P(10), H + P(4000));
	check(vp.nr == 1 && vp.brk_end == H + P(10), "brk refused: nothing changes",
	      "nr %zu end %#" PRIx64, vp.nr, vp.brk_end);

	madvise_ev(&vp, H + P(4), P(6), MADV_DONTNEED);
	brk_ev(&vp, H + P(6), H + P(6));
	{
		const struct exp_region want[] = { { H, H + P(6), RW, HEAP } };
		const struct vm_range rel[] = { { H + P(4), H + P(6) } };

		check_regions(&vp, want, N(want), "brk shrink removes the tail");
		check_released(&vp, rel, N(rel), "brk shrink: released tail dropped");
	}
	check(vp.brk_start == H && vp.brk_end == H + P(6), "brk shrink: bounds",
	      "start %#" PRIx64 " end %#" PRIx64, vp.brk_start, vp.brk_end);

	/* A guard page at the top of the heap: the new memory is still usable. */
	mprotect_ev(&vp, H + P(5), P(1), PROT_NONE);
	brk_ev(&vp, H + P(8), H + P(8));
	{
		const struct exp_region want[] = {
			{ H, H + P(5), RW, HEAP },
			{ H + P(5), H + P(6), PROT_NONE, HEAP },
			{ H + P(6), H + P(8), RW, HEAP },
		};

		check_regions(&vp, want, N(want), "brk growth above a PROT_NONE page is usable");
	}
	check_u64(vm_proc__heap_mapped(&vp), P(7), "brk above a guard page: heap mapped");

	/* The kernel maps the break's page whole: sbrk() by odd amounts. */
	brk_ev(&vp, H + P(8) + 100, H + P(8) + 100);
	check_u64(vp.brk_end, H + P(8) + 100, "brk unaligned: brk_end is the exact break");
	check_u64(vm_proc__heap_mapped(&vp), P(8), "brk unaligned: its page is mapped");
	brk_ev(&vp, H + P(8) + 200, H + P(8) + 200);
	check_u64(vm_proc__heap_mapped(&vp), P(8), "brk within the same page: no change");
	brk_ev(&vp, H + P(7) + 1, H + P(7) + 1);
	check_u64(vm_proc__heap_mapped(&vp), P(7), "brk shrunk to an odd break keeps its page");
	check_u64(vp.regions[vp.nr - 1].end, H + P(8), "brk regions end on a page boundary");

	/*
	 * A move of the break inside one page frees nothing, so it must not cut
	 * released ranges. The guard page was released before it was protected,
	 * so the range is one.
	 */
	mmap_ev(&vp, H + P(8), P(2), RW, ANON | MAP_FIXED, false);
	madvise_ev(&vp, H, P(10), MADV_DONTNEED);
	brk_ev(&vp, H + P(7) + 50, H + P(7) + 50);
	brk_ev(&vp, H + P(7) + 1, H + P(7) + 1);
	{
		const struct vm_range want[] = { { H, H + P(10) } };

		check_released(&vp, want, N(want),
			       "brk shrink within a page keeps released ranges whole");
	}
	vm_proc__clear(&vp);
}

static void test_seed(void)
{
	struct vm_proc vp;

	vm_proc__init(&vp);
	check(vm_proc__seed(&vp, B, B + P(4), RW, HEAP) == 0, "seed: applied", NULL);
	vm_proc__seed(&vp, A, A + P(2), PROT_READ | PROT_EXEC, OTHER);
	vm_proc__seed(&vp, B + P(4), B + P(64), PROT_NONE, HEAP);
	{
		const struct exp_region want[] = {
			{ A, A + P(2), PROT_READ | PROT_EXEC, OTHER },
			{ B, B + P(4), RW, HEAP },
			{ B + P(4), B + P(64), PROT_NONE, HEAP },
		};

		check_regions(&vp, want, N(want), "seed: regions kept sorted, attributes as given");
	}
	check_u64(vm_proc__mapped(&vp), P(6), "seed: mapped");
	check_u64(vm_proc__heap_mapped(&vp), P(4), "seed: heap mapped");
	check_u64(vp.events, 0, "seed is not an event");

	/* Events then work on seeded regions as on any other. */
	mprotect_ev(&vp, B + P(4), P(4), RW);
	check_u64(vm_proc__heap_mapped(&vp), P(8), "seeded reservation made usable");
	vm_proc__clear(&vp);
}

/* The map made to agree with /proc/PID/maps: missed mappings in, gone ones out. */
static void test_reconcile(void)
{
	struct vm_proc vp;
	uint64_t changed = 0;

	vm_proc__init(&vp);
	/* Known: A..A+4 heap with a stack, B..B+8 (part released), C..C+2. */
	mmap_ev(&vp, A, P(4), RW, ANON, true);
	vp.regions[0].stack_id = 77;
	mmap_ev(&vp, B, P(8), RW, ANON, false);
	madvise_ev(&vp, B + P(6), P(2), MADV_DONTNEED);
	mmap_ev(&vp, C, P(2), RW, ANON, false);
	{
		/*
		 * Now: A..A+6 (two pages more, mapped unseen, read-only per the
		 * kernel), B+2..B+4 only (the rest unmapped unseen, with its
		 * released part), C gone, and a new region at C+P(16).
		 */
		const struct vm_actual now[] = {
			{ A, A + P(4), RW, OTHER },
			{ A + P(4), A + P(6), PROT_READ, HEAP },
			{ B + P(2), B + P(4), RW, HEAP },
			{ C + P(16), C + P(17), RW, HEAP },
		};
		const struct exp_region want[] = {
			{ A, A + P(4), RW, HEAP },	/* known: owner and stack kept */
			{ A + P(4), A + P(6), PROT_READ, HEAP },
			{ B + P(2), B + P(4), RW, OTHER },
			{ C + P(16), C + P(17), RW, HEAP },
		};

		check(vm_proc__reconcile(&vp, now, N(now), &changed) == 0, "reconcile: applied",
		      NULL);
		check_regions(&vp, want, N(want), "reconcile: regions as the kernel has them");
		check_u64(vp.regions[0].stack_id, 77, "reconcile: a known region keeps its stack");
		check_u64(vp.regions[1].stack_id, 0, "reconcile: a missed region has no stack");
		check_released(&vp, NULL, 0, "reconcile: released pages of an unmapped part go");
		/* Gone: B's 6 other pages and C's 2; new: A's 2 and C+16's 1. */
		check_u64(changed, P(6) + P(2) + P(2) + P(1), "reconcile: bytes that went or came");
	}
	changed = 1;
	{
		const struct vm_actual same[] = {
			{ A, A + P(6), RW, OTHER },	/* the kernel merged two areas */
			{ B + P(2), B + P(4), RW, HEAP },
			{ C + P(16), C + P(17), RW, HEAP },
		};

		check(vm_proc__reconcile(&vp, same, N(same), &changed) == 0 && changed == 0,
		      "reconcile: nothing new, nothing changed", "changed %" PRIu64, changed);
		check_u64(vm_proc__mapped(&vp), P(9), "reconcile: mapped");
	}
	{
		const struct vm_actual bad[] = { { B, B + P(2), RW, HEAP }, { A, A + P(1), RW, HEAP } };

		check(vm_proc__reconcile(&vp, bad, N(bad), NULL) == -EINVAL, "reconcile: unsorted input refused",
		      NULL);
		check_u64(vm_proc__mapped(&vp), P(9), "reconcile: refused input leaves the map");
	}
	vm_proc__clear(&vp);
}

static void test_live(void)
{
	struct vm_proc vp;
	size_t i;

	vm_proc__init(&vp);
	mmap_ev(&vp, A, P(4), RW, ANON, true);
	mmap_ev(&vp, A + P(4), P(4), RW, ANON, true);
	mmap_ev(&vp, A + P(16), P(4), RW, ANON, false);
	vm_proc__add_live(&vp, A + 100, 50);
	vm_proc__add_live(&vp, A, 10);
	vm_proc__add_live(&vp, A + P(4) - 1, 1);
	vm_proc__add_live(&vp, A + P(4), 1000);
	vm_proc__add_live(&vp, A + P(19), 7);
	check(vp.regions[0].live == 61 && vp.regions[1].live == 1000 && vp.regions[2].live == 7,
	      "add_live adds to the region holding the address",
	      "%" PRIu64 " %" PRIu64 " %" PRIu64, vp.regions[0].live, vp.regions[1].live,
	      vp.regions[2].live);

	vm_proc__add_live(&vp, A - 1, 1);
	vm_proc__add_live(&vp, A + P(10), 1);
	vm_proc__add_live(&vp, A + P(20), 1);
	vm_proc__add_live(&vp, 0, 1);
	vm_proc__add_live(&vp, UINT64_MAX, 1);
	check(vp.regions[0].live == 61 && vp.regions[1].live == 1000 && vp.regions[2].live == 7,
	      "add_live ignores addresses outside every region",
	      "%" PRIu64 " %" PRIu64 " %" PRIu64, vp.regions[0].live, vp.regions[1].live,
	      vp.regions[2].live);

	for (i = 0; i < vp.nr; i++)
		vp.regions[i].resident = P(i + 1);
	vm_proc__reset_usage(&vp);
	for (i = 0; i < vp.nr; i++)
		if (vp.regions[i].live || vp.regions[i].resident)
			break;
	check(i == vp.nr, "reset_usage zeroes live and resident", "region %zu", i);
	check(vp.nr == 3 && vm_proc__mapped(&vp) == P(12), "reset_usage keeps the regions",
	      "nr %zu", vp.nr);

	/* An empty map has nothing to add to. */
	vm_proc__clear(&vp);
	vm_proc__add_live(&vp, A, 1);
	vm_proc__reset_usage(&vp);
	check(vp.nr == 0, "add_live on an empty map", NULL);
}

static void test_clear(void)
{
	struct vm_proc vp;
	int i;

	vm_proc__init(&vp);
	/* Enough regions and released ranges that both arrays grow past their first size. */
	for (i = 0; i < 300; i++) {
		mmap_ev(&vp, A + P(4 * i), P(2), RW, ANON, i & 1);
		madvise_ev(&vp, A + P(4 * i), P(1), MADV_DONTNEED);
	}
	brk_ev(&vp, B, 0);
	brk_ev(&vp, B + P(2), B + P(2));
	check(vp.nr == 301 && vp.nr_released == 300, "many regions and released ranges",
	      "nr %zu released %zu", vp.nr, vp.nr_released);
	vm_proc__clear(&vp);
	check(!vp.regions && !vp.released && !vp.nr && !vp.cap && !vp.nr_released &&
		      !vp.cap_released && !vp.brk_start && !vp.brk_end && !vp.events,
	      "clear frees and zeroes everything", NULL);
	vm_proc__clear(&vp);
	check(!vp.regions, "clear twice is harmless", NULL);
}

/*
 * The model: one byte per page over a window, set by the same rules the
 * events follow, with none of the interval logic that could go wrong.
 */
#define WIN_PAGES 4096
#define WIN_BASE 0x100000000ULL
#define NR_RANDOM 10000

enum {
	M_TRACKED = 0x01,	/* anonymous private: in the interval map */
	M_PROT = 0x0e,		/* its PROT_* << 1 */
	M_HEAP = 0x10,
	M_RELEASED = 0x20,
	M_OTHER = 0x40,		/* mapped but not tracked: file or shared */
};
#define M_ATTR (M_TRACKED | M_PROT | M_HEAP)

static uint8_t model[WIN_PAGES];
static uint64_t model_brk_start, model_brk_end;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible across libcs, unlike rand(). */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t addr_of(size_t page)
{
	return WIN_BASE + P(page);
}

static size_t page_of_up(uint64_t addr)
{
	return (size_t)((addr - WIN_BASE + PG - 1) / PG);
}

static void model_set(size_t lo, size_t hi, uint8_t v)
{
	for (; lo < hi; lo++)
		model[lo] = v;
}

static uint8_t tracked(uint32_t prot, bool heap)
{
	return M_TRACKED | (uint8_t)(prot << 1) | (heap ? M_HEAP : 0);
}

static uint32_t rnd_prot(void)
{
	uint64_t r = below(20);

	if (r < 6)
		return PROT_NONE;
	if (r < 9)
		return PROT_READ;
	if (r < 18)
		return RW;
	return RW | PROT_EXEC;
}

/* Mostly short, sometimes long: long ones cover many regions at once. */
static size_t rnd_pages(void)
{
	return 1 + (size_t)(below(8) ? below(32) : below(400));
}

/* A byte length that rounds up to that many pages. */
static uint64_t bytes_for(size_t pages)
{
	return P(pages) - below(PG);
}

static size_t rnd_start(size_t pages)
{
	return (size_t)below(WIN_PAGES - pages + 1);
}

static bool model_free(size_t lo, size_t hi)
{
	for (; lo < hi; lo++)
		if (model[lo])
			return false;
	return true;
}

static void rnd_mmap(struct vm_proc *vp, char *desc, size_t len)
{
	size_t pages = rnd_pages(), lo = rnd_start(pages);
	uint32_t prot = rnd_prot(), flags;
	bool heap = below(2);
	uint64_t r = below(10);

	if (r < 7)
		flags = ANON;
	else if (r < 8)
		flags = MAP_SHARED | MAP_ANONYMOUS;
	else if (r < 9)
		flags = MAP_PRIVATE;
	else
		flags = MAP_SHARED;
	if (below(2))
		flags |= MAP_FIXED;
	snprintf(desc, len, "mmap(%zu pages at page %zu, prot %u, flags %#x, heap %d)", pages, lo,
		 prot, flags, heap);
	mmap_ev(vp, addr_of(lo), bytes_for(pages), prot, flags, heap);
	if ((flags & MAP_ANONYMOUS) && !(flags & MAP_SHARED))
		model_set(lo, lo + pages, tracked(prot, heap));
	else
		model_set(lo, lo + pages, M_OTHER);
}

static void rnd_munmap(struct vm_proc *vp, char *desc, size_t len)
{
	size_t pages = rnd_pages(), lo = rnd_start(pages);

	snprintf(desc, len, "munmap(%zu pages at page %zu)", pages, lo);
	munmap_ev(vp, addr_of(lo), bytes_for(pages));
	model_set(lo, lo + pages, 0);
}

static void rnd_mprotect(struct vm_proc *vp, char *desc, size_t len)
{
	size_t pages = rnd_pages(), lo = rnd_start(pages), p;
	uint32_t prot = rnd_prot();

	snprintf(desc, len, "mprotect(%zu pages at page %zu, prot %u)", pages, lo, prot);
	mprotect_ev(vp, addr_of(lo), bytes_for(pages), prot);
	for (p = lo; p < lo + pages; p++)
		if (model[p] & M_TRACKED)
			model[p] = (uint8_t)((model[p] & ~M_PROT) | (prot << 1));
}

static void rnd_madvise(struct vm_proc *vp, char *desc, size_t len)
{
	static const int advice[] = { MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_WILLNEED,
				      MADV_NORMAL };
	size_t pages = rnd_pages(), lo = rnd_start(pages), p;
	int adv = advice[below(N(advice))];

	snprintf(desc, len, "madvise(%zu pages at page %zu, advice %d)", pages, lo, adv);
	madvise_ev(vp, addr_of(lo), bytes_for(pages), adv);
	if (adv == MADV_WILLNEED || adv == MADV_NORMAL)
		return;
	for (p = lo; p < lo + pages; p++)
		if ((model[p] & M_TRACKED) && (model[p] & M_PROT))
			model[p] |= M_RELEASED;
}

/* A destination not overlapping [old, old + old_pages), as the kernel requires. */
static bool rnd_dst(size_t old, size_t old_pages, size_t pages, size_t *dst)
{
	int tries;

	for (tries = 0; tries < 32; tries++) {
		*dst = rnd_start(pages);
		if (*dst + pages <= old || *dst >= old + old_pages)
			return true;
	}
	return false;
}

/* Returns false when nothing tracked was found to remap. */
static bool rnd_mremap(struct vm_proc *vp, char *desc, size_t len)
{
	size_t p = rnd_start(1), i, lo, hi, old, old_pages, new_pages, dst;
	uint32_t flags;
	uint8_t attr;
	uint64_t mode = below(4);

	/* The kernel remaps within one mapping: pick a run of one kind of tracked page. */
	for (i = 0; i < WIN_PAGES && !(model[(p + i) % WIN_PAGES] & M_TRACKED); i++)
		;
	if (i == WIN_PAGES)
		return false;
	p = (p + i) % WIN_PAGES;
	attr = model[p] & M_ATTR;
	for (lo = p; lo > 0 && (model[lo - 1] & M_ATTR) == attr; lo--)
		;
	for (hi = p + 1; hi < WIN_PAGES && (model[hi] & M_ATTR) == attr; hi++)
		;
	old = lo + (size_t)below(hi - lo);
	old_pages = 1 + (size_t)below(hi - old < 64 ? hi - old : 64);

	if (mode == 0 && old_pages > 1) {
		new_pages = 1 + (size_t)below(old_pages - 1);
		dst = old;
		flags = 0;
	} else if (mode == 1 && old + old_pages + 16 <= WIN_PAGES &&
		   model_free(old + old_pages, old + old_pages + 16)) {
		new_pages = old_pages + 1 + (size_t)below(16);
		dst = old;
		flags = MREMAP_MAYMOVE;
	} else if (mode == 3) {
		new_pages = old_pages;
		if (!rnd_dst(old, old_pages, new_pages, &dst))
			return false;
		flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
	} else {
		new_pages = 1 + (size_t)below(64);
		if (!rnd_dst(old, old_pages, new_pages, &dst))
			return false;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	}
	snprintf(desc, len, "mremap(%zu pages at page %zu -> %zu pages at page %zu, flags %#x)",
		 old_pages, old, new_pages, dst, flags);
	mremap_ev(vp, addr_of(dst), addr_of(old), bytes_for(old_pages), bytes_for(new_pages), flags,
		  flags & MREMAP_FIXED ? addr_of(dst) : 0);
	if (!(flags & MREMAP_DONTUNMAP))
		model_set(old, old + old_pages, 0);
	model_set(dst, dst + new_pages, attr);
	return true;
}

static void rnd_brk(struct vm_proc *vp, char *desc, size_t len)
{
	uint64_t want, ret;
	size_t lo, hi;

	if (below(3)) {
		/* Odd amounts too: the break need not sit on a page boundary. */
		want = model_brk_end + 1 + below(P(16));
		if (want > addr_of(WIN_PAGES))
			want = addr_of(WIN_PAGES);
		lo = page_of_up(model_brk_end);
		hi = page_of_up(want);
		/* The kernel refuses to grow into a mapping and answers with the old break. */
		if (model_free(lo, hi)) {
			model_set(lo, hi, tracked(RW, true));
			model_brk_end = want;
		}
		ret = model_brk_end;
	} else {
		want = model_brk_start + below(model_brk_end - model_brk_start + 1);
		model_set(page_of_up(want), page_of_up(model_brk_end), 0);
		model_brk_end = ret = want;
	}
	snprintf(desc, len, "brk(%#" PRIx64 ") = %#" PRIx64, want, ret);
	brk_ev(vp, ret, want);
}

/* Any call, failed: nothing may change. */
static void rnd_failed(struct vm_proc *vp, char *desc, size_t len)
{
	static const uint32_t nrs[] = { MT_NR_MMAP, MT_NR_MUNMAP, MT_NR_MPROTECT, MT_NR_MADVISE,
					MT_NR_MREMAP };
	size_t pages = rnd_pages(), lo = rnd_start(pages);
	uint32_t nr = nrs[below(N(nrs))];
	int64_t ret = -1 - (int64_t)below(4095);

	snprintf(desc, len, "failed call %u (%zu pages at page %zu) = %" PRId64, nr, pages, lo,
		 ret);
	put(vp, ev(nr, ret, addr_of(lo), bytes_for(pages), nr == MT_NR_MADVISE ? MADV_DONTNEED : RW,
		   nr == MT_NR_MMAP ? ANON | MAP_FIXED : MREMAP_MAYMOVE, (uint64_t)-1, 0, true));
}

struct divergence {
	const char *what;
	long step;		/* -1: none */
	char op[160];
	char detail[256];
};

enum { D_MAPPED, D_HEAP, D_RELEASED, D_PAGES, D_SHAPE, D_BRK, D_MAX };

static struct divergence divs[D_MAX] = {
	[D_MAPPED] = { "random ops: mapped bytes match the page model", -1, "", "" },
	[D_HEAP] = { "random ops: heap mapped bytes match the page model", -1, "", "" },
	[D_RELEASED] = { "random ops: released pages match the page model", -1, "", "" },
	[D_PAGES] = { "random ops: every page's prot and owner match the model", -1, "", "" },
	[D_SHAPE] = { "random ops: regions and released ranges sorted, disjoint, page-aligned, "
		      "released ranges merged", -1, "", "" },
	[D_BRK] = { "random ops: brk bounds match the model", -1, "", "" },
};

static void diverged(int kind, long step, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diverged(int kind, long step, const char *op, const char *fmt, ...)
{
	va_list ap;

	if (divs[kind].step >= 0)
		return;	/* the first one tells the story; later ones follow from it */
	divs[kind].step = step;
	snprintf(divs[kind].op, sizeof(divs[kind].op), "%s", op);
	va_start(ap, fmt);
	vsnprintf(divs[kind].detail, sizeof(divs[kind].detail), fmt, ap);
	va_end(ap);
}

static void compare(const struct vm_proc *vp, long step, const char *op)
{
	static uint8_t got[WIN_PAGES];
	uint64_t want_mapped = 0, want_heap = 0, want_released = 0, got_released = 0, prev = 0;
	size_t i, p;

	memset(got, 0, sizeof(got));
	for (i = 0; i < vp->nr; i++) {
		const struct vm_region *r = &vp->regions[i];

		if (r->start >= r->end || r->start < prev || (r->start | r->end) % PG ||
		    r->start < WIN_BASE || r->end > addr_of(WIN_PAGES))
			diverged(D_SHAPE, step, op, "region %zu [%#" PRIx64 ", %#" PRIx64 ")", i,
				 r->start, r->end);
		prev = r->end;
		/* Pages it touches at all, so that a bad shape also shows in the pages. */
		if (r->start < WIN_BASE || r->end > addr_of(WIN_PAGES))
			continue;
		for (p = (r->start - WIN_BASE) / PG; p < page_of_up(r->end); p++)
			got[p] = tracked(r->prot, r->owner == VM_OWNER_HEAP);
	}
	prev = 0;
	for (i = 0; i < vp->nr_released; i++) {
		const struct vm_range *r = &vp->released[i];

		/* Strictly above the previous end: touching ranges must have been merged. */
		if (r->start >= r->end || (i && r->start <= prev) || (r->start | r->end) % PG ||
		    r->start < WIN_BASE || r->end > addr_of(WIN_PAGES))
			diverged(D_SHAPE, step, op, "released %zu [%#" PRIx64 ", %#" PRIx64 ")", i,
				 r->start, r->end);
		prev = r->end;
		if (r->start < WIN_BASE || r->end > addr_of(WIN_PAGES))
			continue;
		for (p = (r->start - WIN_BASE) / PG; p < page_of_up(r->end); p++) {
			/* Counted per range, so pages held twice by overlapping ranges show. */
			got_released++;
			got[p] |= M_RELEASED;
		}
	}
	for (p = 0; p < WIN_PAGES; p++) {
		uint8_t m = model[p];

		if ((m & M_TRACKED) && (m & M_PROT)) {
			want_mapped += PG;
			if (m & M_HEAP)
				want_heap += PG;
		}
		if (m & M_RELEASED)
			want_released++;
		if ((got[p] & M_ATTR) != (m & M_ATTR))
			diverged(D_PAGES, step, op, "page %zu: got %#x, want %#x", p,
				 got[p] & M_ATTR, m & M_ATTR);
		if ((got[p] & M_RELEASED) != (m & M_RELEASED))
			diverged(D_RELEASED, step, op, "page %zu: released %d, want %d", p,
				 !!(got[p] & M_RELEASED), !!(m & M_RELEASED));
	}
	if (vm_proc__mapped(vp) != want_mapped)
		diverged(D_MAPPED, step, op, "got %" PRIu64 ", want %" PRIu64, vm_proc__mapped(vp),
			 want_mapped);
	if (vm_proc__heap_mapped(vp) != want_heap)
		diverged(D_HEAP, step, op, "got %" PRIu64 ", want %" PRIu64,
			 vm_proc__heap_mapped(vp), want_heap);
	if (got_released != want_released)
		diverged(D_RELEASED, step, op, "%" PRIu64 " pages, want %" PRIu64, got_released,
			 want_released);
	if (vp->brk_start != model_brk_start || vp->brk_end != model_brk_end)
		diverged(D_BRK, step, op,
			 "[%#" PRIx64 ", %#" PRIx64 "), want [%#" PRIx64 ", %#" PRIx64 ")",
			 vp->brk_start, vp->brk_end, model_brk_start, model_brk_end);
}

static void test_random(uint64_t seed)
{
	size_t max_regions = 0, max_released = 0;
	struct vm_proc vp;
	char op[160];
	long step;
	int k;

	rng = seed ? seed : rng;
	memset(model, 0, sizeof(model));
	vm_proc__init(&vp);

	/* What /proc/PID/maps showed before tracing, then the break. */
	vm_proc__seed(&vp, addr_of(10), addr_of(50), RW, HEAP);
	model_set(10, 50, tracked(RW, true));
	vm_proc__seed(&vp, addr_of(50), addr_of(300), PROT_NONE, HEAP);
	model_set(50, 300, tracked(PROT_NONE, true));
	vm_proc__seed(&vp, addr_of(1000), addr_of(1004), PROT_READ, OTHER);
	model_set(1000, 1004, tracked(PROT_READ, false));
	model_brk_start = model_brk_end = addr_of(3000);
	brk_ev(&vp, model_brk_end, 0);
	compare(&vp, 0, "seed and first brk");

	for (step = 1; step <= NR_RANDOM; step++) {
		uint64_t r = below(100);

		if (r < 28)
			rnd_mmap(&vp, op, sizeof(op));
		else if (r < 43)
			rnd_munmap(&vp, op, sizeof(op));
		else if (r < 60)
			rnd_mprotect(&vp, op, sizeof(op));
		else if (r < 77)
			rnd_madvise(&vp, op, sizeof(op));
		else if (r < 87) {
			if (!rnd_mremap(&vp, op, sizeof(op)))
				rnd_mmap(&vp, op, sizeof(op));
		} else if (r < 96)
			rnd_brk(&vp, op, sizeof(op));
		else
			rnd_failed(&vp, op, sizeof(op));
		compare(&vp, step, op);
		if (vp.nr > max_regions)
			max_regions = vp.nr;
		if (vp.nr_released > max_released)
			max_released = vp.nr_released;
	}

	for (k = 0; k < D_MAX; k++)
		check(divs[k].step < 0, divs[k].what, "seed %#" PRIx64 ", step %ld, after %s: %s",
		      seed, divs[k].step, divs[k].op, divs[k].detail);
	check_u64(vp.events, NR_RANDOM + 1, "random ops: every event counted");
	/* Enough pieces at once that splitting and merging were really exercised. */
	check(max_regions >= 100 && max_released >= 20, "random ops: map was fragmented",
	      "at most %zu regions, %zu released ranges", max_regions, max_released);
	vm_proc__clear(&vp);
}

int main(int argc, char **argv)
{
	/* An optional seed reruns the random part differently; the default is fixed. */
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed;

	test_mmap_anon();
	test_file_and_shared();
	test_failed_calls();
	test_munmap();
	test_map_fixed();
	test_prot_none();
	test_madvise();
	test_unrelease();
	test_mremap();
	test_brk();
	test_seed();
	test_reconcile();
	test_live();
	test_clear();
	test_random(seed);
	return unit_exit();
}
