/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "probe/loader.h"
#include "memory/residency.h"
#include "memory/usable.h"
#include "target/vmstats.h"
#include "target/go_sampled.h"
#include "util/log.h"

/* glibc's non-main arenas are heaps of HEAP_MAX_SIZE, aligned to it. */
#define GLIBC_HEAP_MAX (64ULL << 20)
#define MAX_SCANNED_REGION (1ULL << 30)
#define PY_ARENA_SIZE (1ULL << 20)

bool vmstats__is_go_arena(uint64_t addr)
{
	/*
	 * The runtime maps its arenas at hints: up to Go 1.25 0x00c0 << 32
	 * plus i << 40 (i < 0x80; user arenas from 0x40); from 1.26 at a
	 * random base below 1 << 46 (malloc.go, randomizeHeapBase). The
	 * kernel's own picks sit near the top of the 47-bit space, and a
	 * fixed-address executable's data below 4 GiB.
	 */
	if (addr < (0x80ULL << 40) && ((addr >> 32) & 0xff) == 0xc0)
		return true;
	return addr >= (4ULL << 30) && addr < (1ULL << 46);
}

static struct target *find_target(struct target *targets, size_t nr, uint32_t pid)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (targets[i].pid == pid)
			return &targets[i];
	return NULL;
}

void vmstats__apply(struct target *targets, size_t nr, const struct mt_vm_event *e)
{
	struct target *t = find_target(targets, nr, e->pid);
	bool heap;

	if (!t)
		return;
	if (t->alloc.is_go)
		/* All of a Go program's mappings are the runtime's; its heap is in the arenas. */
		heap = e->nr == MT_NR_MMAP && e->ret > 0 && vmstats__is_go_arena((uint64_t)e->ret);
	else
		heap = e->in_alloc;
	vm_proc__apply(&t->vm, e, heap);
}

static uint32_t perms_to_prot(const char *perms)
{
	uint32_t prot = 0;

	if (perms[0] == 'r')
		prot |= PROT_READ;
	if (perms[1] == 'w')
		prot |= PROT_WRITE;
	if (perms[2] == 'x')
		prot |= PROT_EXEC;
	return prot;
}

/*
 * Whether an anonymous mapping that existed before memtrace attached is an
 * allocator's (jemalloc, tcmalloc, mimalloc: they map their heaps with plain
 * anonymous mmaps of no telling shape): anything writable and private but an
 * object's .bss (right after its file mapping) and a thread stack (right
 * above its PROT_NONE guard). What the program mapped itself is then counted
 * too: -p mode's retained is an upper bound anyway.
 */
static bool other_allocator_region(const struct vma *prev, const struct vma *v)
{
	if (v->path || v->perms[0] != 'r' || v->perms[1] != 'w')
		return false;
	if (prev && prev->end == v->start) {
		if (prev->path && prev->path[0] != '[')
			return false;		/* .bss */
		if (!prev->path && !strncmp(prev->perms, "---", 3))
			return false;		/* a stack above its guard */
	}
	return true;
}

/* The anonymous private mappings memtrace tracks: [heap] and nameless ones. */
static bool tracked(const struct vma *v)
{
	return v->perms[3] == 'p' && (!v->path || !strcmp(v->path, "[heap]"));
}

/* Whose a mapping is, when no event said (it existed before tracing, or an event was lost). */
static uint8_t owner_of(const struct target *t, size_t i)
{
	const struct vma *v = &t->maps->vmas[i];
	const struct vma *prev = i ? &t->maps->vmas[i - 1] : NULL;
	const struct vma *next = i + 1 < t->maps->nr ? &t->maps->vmas[i + 1] : NULL;
	bool heap;

	if (v->path)
		heap = true;	/* the brk heap: only malloc moves the break */
	else if (t->alloc.is_go)
		heap = vmstats__is_go_arena(v->start);
	else if (!t->alloc.name || strcmp(t->alloc.name, "glibc"))
		heap = other_allocator_region(prev, v);
	else
		/* An arena heap: 64 MiB aligned, usable part then its PROT_NONE reserve. */
		heap = !(v->start & (GLIBC_HEAP_MAX - 1)) && v->perms[1] == 'w' &&
		       (v->end - v->start == GLIBC_HEAP_MAX ||
			(next && next->start == v->end && !next->path &&
			 !strncmp(next->perms, "---", 3)));
	return heap ? VM_OWNER_HEAP : VM_OWNER_OTHER;
}

void vmstats__seed(struct target *t)
{
	size_t i;

	if (!t->maps)
		return;
	for (i = 0; i < t->maps->nr; i++) {
		const struct vma *v = &t->maps->vmas[i];

		if (!tracked(v))
			continue;
		if (v->path) {
			t->vm.brk_start = v->start;
			t->vm.brk_end = v->end;
		}
		vm_proc__seed(&t->vm, v->start, v->end, perms_to_prot(v->perms), owner_of(t, i));
	}
}

int vmstats__reconcile(struct target *t)
{
	struct vm_actual *a;
	uint64_t changed = 0;
	size_t i, n = 0;
	int err;

	if (!t->maps || t->exited)
		return 0;
	a = calloc(t->maps->nr ? t->maps->nr : 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < t->maps->nr; i++) {
		const struct vma *v = &t->maps->vmas[i];

		if (!tracked(v))
			continue;
		/* The kernel lists adjacent areas apart; the map needs them in order only. */
		a[n++] = (struct vm_actual){ v->start, v->end, perms_to_prot(v->perms),
					     owner_of(t, i) };
	}
	err = vm_proc__reconcile(&t->vm, a, n, &changed);
	free(a);
	if (!err && changed)
		mt_debug("pid %u: %llu bytes of anonymous memory mapped or unmapped unseen "
			 "(before tracing, at exec, or events lost): taken from /proc/%u/maps\n",
			 t->pid, (unsigned long long)changed, t->pid);
	t->vm_reconciled_bytes += changed;
	return err;
}

struct live_ctx {
	struct target *targets;
	size_t nr;
	uint64_t blocks, sampled;
};

void vmstats__add_block(struct target *targets, size_t nr, const struct mt_alloc_key *k,
			const struct mt_alloc_info *info)
{
	struct target *t = find_target(targets, nr, k->pid);
	uint64_t size = MT_ALLOC_SIZE(info->size);
	double w = 1;

	if (!t || t->exited)
		return;
	/* A sampled block stands for those like it around it: its weight in its region. */
	if (info->size & MT_ALLOC_SAMPLED) {
		double rate = (double)(1ull << MT_ALLOC_SHIFT(info->size));

		if (size)
			w = 1.0 / -expm1(-(double)size / rate);
		t->live_sampled = true;
	}
	t->live_usable += w * (double)usable__size(usable__kind(t->alloc.name), size);
	vm_proc__add_live(&t->vm, k->addr, (uint64_t)llround(w * (double)size));
}

static void add_live(void *ctx, const struct mt_alloc_key *k, const struct mt_alloc_info *info)
{
	struct live_ctx *lc = ctx;

	lc->blocks++;
	lc->sampled += !!(info->size & MT_ALLOC_SAMPLED);
	vmstats__add_block(lc->targets, lc->nr, k, info);
}

/* Sets t->go_note when it changes, and says so under -v. */
static void set_go_note(struct target *t, const char *note)
{
	if (!strcmp(t->go_note, note))
		return;
	snprintf(t->go_note, sizeof(t->go_note), "%s", note);
	/*
	 * Once read, a miss is a passing one (the heap grew between the two
	 * looks): said under -v only; the report carries the last note.
	 */
	if (*note && !t->go_heap_read_once)
		mt_info("pid %u: Go heap figures not read (%s): retained falls back to "
			"the span probes\n", t->pid, note);
	else if (*note)
		mt_debug("pid %u: Go heap figures not read this time (%s)\n", t->pid, note);
	else
		mt_debug("pid %u: Go heap figures read from runtime.gcController\n", t->pid);
	if (!*note)
		t->go_heap_read_once = true;
}

static int read_go_heap(struct target *t, uint64_t arena_mapped, struct go_heap_figures *gf)
{
	char note[GO_HEAP_NOTE_MAX] = "";
	uint64_t bias;
	int err;

	if (!t->go_heap && !t->go_heap_tried) {
		t->go_heap_tried = true;
		err = go_heap__open(t->alloc.open_path, &t->go_heap, note, sizeof(note));
		if (err) {
			set_go_note(t, note);
			return err;
		}
		mt_debug("pid %u: %s heap figures from runtime.gcController at %#" PRIx64
			 " (address from %s, offsets from %s)\n", t->pid,
			 go_heap__layout(t->go_heap)->version, go_heap__layout(t->go_heap)->addr,
			 go_heap__layout(t->go_heap)->addr_source, go_heap__layout(t->go_heap)->source);
	}
	if (!t->go_heap)
		return -ENOENT;
	err = go_heap__bias(t->go_heap, t->maps, t->alloc.path, &bias);
	if (err) {
		set_go_note(t, "the executable's load address is not in its maps");
		return err;
	}
	err = go_heap__read(t->go_heap, t->pid, bias, arena_mapped, gf, note, sizeof(note));
	set_go_note(t, err ? note : "");
	return err;
}

/*
 * The runtime's heap profile, when the program keeps one: live bytes per
 * call stack, which memtrace's probes cannot see (no free in Go). A
 * failed read keeps the last profile read, with the note saying why.
 */
static void read_go_mprof(struct target *t)
{
	struct go_mprof_profile p = { 0 };
	char note[GO_HEAP_NOTE_MAX] = "";
	uint64_t bias;
	int err;

	if (!t->go_heap)
		return;
	if (!t->go_mprof && !t->go_mprof_tried) {
		t->go_mprof_tried = true;
		err = go_mprof__open(t->alloc.open_path, go_heap__layout(t->go_heap)->version,
				     &t->go_mprof, note, sizeof(note));
		if (err) {
			snprintf(t->go_prof.note, sizeof(t->go_prof.note), "%s", note);
			mt_info("pid %u: Go heap profile not read (%s)\n", t->pid, note);
			return;
		}
	}
	if (!t->go_mprof || go_heap__bias(t->go_heap, t->maps, t->alloc.path, &bias))
		return;
	err = go_mprof__read(t->go_mprof, t->pid, bias, &p);
	/*
	 * Mid-exit or torn: the last good profile stands. Not when profiling
	 * is off now (-ENOENT): a program that sets MemProfileRate = 0 in main
	 * had the runtime's default until then, and an early read kept nothing.
	 */
	if (err && err != -ENOENT && t->go_prof.read) {
		snprintf(t->go_prof.note, sizeof(t->go_prof.note), "%s", p.note);
		go_mprof__profile_clear(&p);
		return;
	}
	go_mprof__profile_clear(&t->go_prof);
	t->go_prof = p;
}

static int update_one(struct target *t, struct loader *l, bool lost_blocks)
{
	struct vm_figures f = { .known = true };
	uint64_t present, resident_sum = 0, arena_mapped = 0, run_present = 0, run_live = 0;
	size_t i;
	int err;

	/*
	 * Opened anew each time: an open pagemap follows the address space it
	 * was opened on, and a command's changes at exec.
	 */
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	t->pagemap_fd = residency__open(t->pid);
	if (t->pagemap_fd < 0)
		return t->pagemap_fd;
	for (i = 0; i < t->vm.nr; i++) {
		struct vm_region *r = &t->vm.regions[i];

		if (r->prot == PROT_NONE)
			continue;
		/*
		 * Huge reservations that are not heap (a sanitizer's shadow memory is
		 * terabytes) would take long to scan page by page, and say nothing.
		 */
		if (r->owner != VM_OWNER_HEAP && r->end - r->start > MAX_SCANNED_REGION) {
			r->resident = 0;
			continue;
		}
		err = residency__count(t->pagemap_fd, r->start, r->end, &present);
		if (err)
			return err;
		r->resident = present;
		if (r->owner != VM_OWNER_HEAP)
			continue;
		arena_mapped += r->end - r->start;
		resident_sum += present;
		/*
		 * Per run of adjacent heap regions (the brk heap is one run of the
		 * parts each call stack grew; a block may cross from one into the
		 * next): a big block that is only partly touched (its own mmap)
		 * must not hide the free memory of the heap next to it.
		 */
		run_present += present;
		run_live += r->live;
		if (i + 1 == t->vm.nr || t->vm.regions[i + 1].start != r->end ||
		    t->vm.regions[i + 1].owner != VM_OWNER_HEAP ||
		    t->vm.regions[i + 1].prot != r->prot) {
			if (!t->alloc.is_go && run_present > run_live)
				f.retained += run_present - run_live;
			run_present = run_live = 0;
		}
		f.heap_in_use += r->live;
		/*
		 * pymalloc's arenas: its mappings of one arena's size (1 MiB, 3.10+ on
		 * 64-bit) made for the allocator; one the kernel merged with its
		 * neighbour before tracing began is not told apart.
		 */
		if (t->alloc.py && r->end - r->start == PY_ARENA_SIZE) {
			f.py_arenas++;
			f.py_arena_bytes += PY_ARENA_SIZE;
			f.py_arena_resident += present;
			f.py_arena_live += r->live;
			f.py_arena_blocks += r->live_blocks;
		}
	}
	for (i = 0; i < t->vm.nr_released; i++) {
		const struct vm_range *rr = &t->vm.released[i];

		err = residency__count(t->pagemap_fd, rr->start, rr->end, &present);
		if (err)
			return err;
		f.released += (rr->end - rr->start) - present;
	}
	f.mapped = vm_proc__mapped(&t->vm);
	f.heap_resident = resident_sum;
	f.retained_known = true;
	if (t->alloc.is_go && read_go_heap(t, arena_mapped, &f.go) == 0) {
		/* The runtime's own words: what ReadMemStats would say now, in either mode. */
		f.go_read = true;
		f.heap_in_use = f.go.inuse;
		f.retained = f.go.free;
	} else if (t->alloc.is_go) {
		struct mt_go_stat gs = { 0 };

		/* Heap spans in use are known only when every span was seen allocated. */
		loader__read_go_stat(l, t->pid, &gs);
		f.heap_in_use = gs.heap_inuse_bytes > 0 ? (uint64_t)gs.heap_inuse_bytes : 0;
		f.retained = resident_sum > f.heap_in_use ? resident_sum - f.heap_in_use : 0;
		f.retained_known = t->traced_from_start && loader__go_spans_complete(l);
	} else {
		f.retained_upper_bound = !t->traced_from_start;
		/*
		 * Live is an estimate where blocks are sampled, and so is retained;
		 * where blocks were not kept at all (the map was full), resident minus
		 * an undercount would call live memory retained: not known.
		 */
		f.retained_estimate = t->live_sampled;
		if (lost_blocks)
			f.retained_known = false;
	}
	if (t->alloc.is_go)
		read_go_mprof(t);
	if (t->alloc.is_go && t->go_live != GO_LIVE_RUNTIME && loader__go_sample_rate(l, t->pid))
		go_sampled__update(t, l, loader__go_sample_rate(l, t->pid));
	t->vmf = f;
	return 0;
}

void vmstats__begin(struct target *targets, size_t nr)
{
	size_t i;

	/* An exited target keeps the residency last read while it lived. */
	for (i = 0; i < nr; i++)
		if (!targets[i].exited) {
			vm_proc__reset_usage(&targets[i].vm);
			targets[i].live_sampled = false;
			targets[i].live_usable = 0;
		}
}

void vmstats__finish(struct target *targets, size_t nr, struct loader *l)
{
	uint64_t cnt[MT_CNT_MAX] = { 0 };
	bool lost;
	size_t i;

	lost = !loader__read_counters(l, cnt) && cnt[MT_CNT_ALLOCS_MAP_FULL];
	for (i = 0; i < nr; i++) {
		if (targets[i].exited)
			continue;
		/* A process gone between two looks keeps its last figures. */
		update_one(&targets[i], l, lost);
	}
}

int vmstats__update(struct target *targets, size_t nr, struct loader *l, uint64_t *blocks,
		    uint64_t *sampled)
{
	struct live_ctx lc = { targets, nr, 0, 0 };
	int err;

	vmstats__begin(targets, nr);
	err = loader__for_each_alloc(l, add_live, &lc);
	*blocks = lc.blocks;
	*sampled = lc.sampled;
	if (err)
		return err;
	vmstats__finish(targets, nr, l);
	return 0;
}
