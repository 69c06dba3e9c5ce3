/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Builds an mt_report from the BPF maps: counters, per-stack figures, a
 * pass over live blocks for ages, and symbolized frames. It reads the
 * targets and changes nothing but the report: the caller keeps them up to date.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "snapshot/aggregate.h"
#include "snapshot/py_frames.h"
#include "probe/loader.h"
#include "util/log.h"
#include "util/stack_remap.h"
#include "memory/usable.h"
#include "snapshot/snapshot.h"

struct snapshot {
	struct loader *loader;
	uint64_t sampled_blocks;	/* live blocks kept by sampling */	/* stacks are read from it as the report needs them */
	struct agg_table *agg;
	uint64_t now_ns;
	size_t top_n;
	bool keep_interpreter;	/* Python: the interpreter's C frames kept */
	struct mt_report head;	/* all but the processes */
};

struct walk {
	struct agg_table *agg;
	uint64_t sampled;
	struct stack_remap *remap;
	uint64_t entries;
	snapshot_block_fn fn;	/* the caller's use of the same pass; or NULL */
	void *ctx;
};

static void add_stat(void *ctx, const struct mt_stat_key *k, const struct mt_stat *st)
{
	struct walk *w = ctx;
	struct mt_stat_key key = *k;

	key.stack_id = stack_remap__get(w->remap, k->stack_id);
	agg_table__add_stat(w->agg, &key, st);
	w->entries++;
}

static void add_block(void *ctx, const struct mt_alloc_key *k, const struct mt_alloc_info *info)
{
	struct walk *w = ctx;
	struct mt_alloc_info in = *info;

	in.stack_id = stack_remap__get(w->remap, info->stack_id);
	w->sampled += !!(info->size & MT_ALLOC_SAMPLED);
	agg_table__add_block(w->agg, k, &in);
	if (w->fn)
		w->fn(w->ctx, k, &in);
	w->entries++;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Room for nr more frames in sr->frames, whose capacity is *cap. */
static int reserve_frames(struct mt_stack_report *sr, size_t *cap, size_t nr)
{
	struct mt_frame *p;
	size_t want = sr->nr_frames + nr, c = *cap;

	if (want <= c)
		return 0;
	while (c < want)
		c *= 2;
	p = realloc(sr->frames, c * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + *cap, 0, (c - *cap) * sizeof(*p));
	sr->frames = p;
	*cap = c;
	return 0;
}

static int fill_frames(struct mt_stack_report *sr, const struct mt_stack *st,
		       const struct target *t, struct symbolizer *sym, uint64_t *unresolved,
		       bool trim_runtime)
{
	uint32_t n = st->nr_frames < MT_MAX_FRAMES ? st->nr_frames : MT_MAX_FRAMES, i;
	struct sym_frame sf[SYM_MAX_INLINE_FRAMES];
	size_t cap = n ? n : 1, nr, k;
	uint32_t skip = 0;
	int err;

	sr->frames = calloc(cap, sizeof(*sr->frames));
	if (!sr->frames)
		return -ENOMEM;
	sr->nr_frames = 0;
	sr->flags = st->flags;

	/*
	 * Go allocates through runtime.newobject, makeslice, growslice, ...: those
	 * are the allocator's entry points, not frames, as malloc is not one (Go's
	 * own heap profiles hide them the same way); so are the runtime's own
	 * packages under internal/runtime (Go 1.24's maps: a map's groups come
	 * from internal/runtime/maps.newarray, as 1.23's buckets from
	 * runtime.makeBucketArray). But when runtime.mallocgc is among them,
	 * the runtime allocated for itself while serving the caller's
	 * allocation (a GC starting its workers): that block is the runtime's,
	 * and its frames stay so it is not charged to the caller's call site.
	 */
	while (trim_runtime && t->alloc.is_go && t->maps && skip + 1 < n) {
		struct sym_frame tf = {};

		symbolizer__resolve(sym, t->maps, st->ips[skip], &tf);
		if (!tf.function || (strncmp(tf.function, "runtime.", 8) &&
				     strncmp(tf.function, "internal/runtime/", 17)))
			break;
		if (!strcmp(tf.function, "runtime.mallocgc")) {
			skip = 0;
			break;
		}
		skip++;
	}
	n -= skip;
	/* One return address may stand for several frames: the calls inlined there. */
	for (i = 0; i < n; i++) {
		uint64_t ip = st->ips[i + skip];

		memset(&sf[0], 0, sizeof(sf[0]));
		nr = 1;
		if (t->maps)
			symbolizer__resolve_inlines(sym, t->maps, ip, sf, SYM_MAX_INLINE_FRAMES, &nr);
		err = reserve_frames(sr, &cap, nr);
		if (err)
			return err;
		for (k = 0; k < nr; k++) {
			struct mt_frame *f = &sr->frames[sr->nr_frames++];

			if (!sf[k].module)
				sf[k].offset = ip;
			if (!sf[k].function)
				(*unresolved)++;
			f->function = dup_or_null(sf[k].function);
			f->mangled = dup_or_null(sf[k].mangled);
			f->build_id = dup_or_null(sf[k].build_id);
			f->module = dup_or_null(sf[k].module);
			f->offset = sf[k].offset;
			f->file = dup_or_null(sf[k].file);
			f->line = sf[k].line;
			f->inlined = sf[k].inlined;
		}
	}
	return 0;
}

static int cmp_map_stacks(const void *a, const void *b)
{
	const struct mt_map_stack *x = a, *y = b;

	if (x->mapped_bytes != y->mapped_bytes)
		return x->mapped_bytes > y->mapped_bytes ? -1 : 1;
	return 0;
}

/* Group the still-mapped regions by the call stack that mapped them. */
static int build_map_stacks(struct mt_proc_report *pr, const struct target *t, struct loader *l,
			    struct symbolizer *sym, size_t top_n, const struct py_frames_ctx *pyc)
{
	struct mt_map_stack *ms;
	uint64_t *ids;
	size_t n = 0, i, j;
	int err = 0;

	if (!t->vmf.known || !t->vm.nr)
		return 0;
	ms = calloc(t->vm.nr, sizeof(*ms));
	ids = calloc(t->vm.nr, sizeof(*ids));
	if (!ms || !ids) {
		free(ms);
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < t->vm.nr; i++) {
		const struct vm_region *r = &t->vm.regions[i];

		if (r->prot == PROT_NONE)
			continue;
		for (j = 0; j < n && ids[j] != r->stack_id; j++)
			;
		if (j == n)
			ids[n++] = r->stack_id;
		ms[j].mapped_bytes += r->end - r->start;
		ms[j].resident_bytes += r->resident;
		ms[j].regions++;
		ms[j].before_tracing = !r->stack_id;
	}
	for (j = 0; j < n; j++)
		ms[j].stack.flags = (uint32_t)j;	/* remember the id's index across the sort */
	qsort(ms, n, sizeof(*ms), cmp_map_stacks);
	if (top_n && n > top_n)
		n = top_n;
	pr->map_stacks = ms;
	pr->nr_map_stacks = n;
	for (j = 0; j < n && !err; j++) {
		uint64_t id = ids[ms[j].stack.flags];
		struct mt_stack st = { 0 };

		ms[j].stack.flags = 0;
		if (!id)
			continue;
		if (loader__read_stack(l, id, &st))
			st.flags = MT_STACK_F_READ_FAILED;
		/* The runtime's own frames are the point here: Go maps its heap itself. */
		if (pyc)
			err = py_frames__fill(&ms[j].stack, &st, pyc, &pr->unresolved_frames);
		else
			err = fill_frames(&ms[j].stack, &st, t, sym, &pr->unresolved_frames, false);
	}
	free(ids);
	return err;
}

/*
 * One stack of the report before the cut: memtrace's own, the runtime's
 * heap profile's (a Go program with MemProfileRate > 0), or both when
 * they are the same call stack.
 */
struct row {
	const struct agg_entry *e;	/* NULL: only the runtime saw it (before attaching) */
	const struct go_mprof_sample *g;	/* NULL: not in the runtime's profile */
	int64_t live_bytes, live_allocs;
	uint64_t alloc_bytes;
	uint64_t id;
};

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static int cmp_sample_pc0(const void *a, const void *b)
{
	const struct go_mprof_sample *x = *(struct go_mprof_sample *const *)a;
	const struct go_mprof_sample *y = *(struct go_mprof_sample *const *)b;
	uint64_t px = x->nstk ? x->pcs[0] : 0, py = y->nstk ? y->pcs[0] : 0;

	return px < py ? -1 : px > py;
}

/*
 * Whether the runtime's stack g is memtrace's stack st: the same return
 * addresses, the runtime's starting at ips[from] (both record the caller
 * of runtime.mallocgc first); a stack cut at either side's depth limit
 * matches on what both have.
 */
static bool same_stack(const struct go_mprof_sample *g, const struct mt_stack *st, uint32_t from)
{
	uint32_t n = st->nr_frames - from, i;

	if (n != g->nstk && !(g->nstk == GO_MPROF_MAX_STACK && n > g->nstk) &&
	    !((st->flags & MT_STACK_F_TRUNCATED) && n < g->nstk))
		return false;
	if (n > g->nstk)
		n = g->nstk;
	for (i = 0; i < n; i++)
		if (st->ips[from + i] != g->pcs[i])
			return false;
	return true;
}

static const struct go_mprof_sample *find_sample(struct go_mprof_sample **by_pc0, size_t n,
						  const struct mt_stack *st, bool *taken,
						  const struct go_mprof_sample *base)
{
	uint32_t from;
	size_t lo, hi, mid, k;

	/* The BPF side may record runtime.mallocgc's own pc first. */
	for (from = 0; from < 2 && from < st->nr_frames; from++) {
		lo = 0;
		hi = n;
		while (lo < hi) {
			mid = (lo + hi) / 2;
			if (by_pc0[mid]->nstk && by_pc0[mid]->pcs[0] < st->ips[from])
				lo = mid + 1;
			else if (!by_pc0[mid]->nstk)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (k = lo; k < n && by_pc0[k]->nstk && by_pc0[k]->pcs[0] == st->ips[from]; k++)
			if (!taken[by_pc0[k] - base] && same_stack(by_pc0[k], st, from)) {
				taken[by_pc0[k] - base] = true;
				return by_pc0[k];
			}
	}
	return NULL;
}

static uint64_t pcs_id(const struct go_mprof_sample *g)
{
	uint64_t h = 1469598103934665603ULL;
	uint32_t i;

	for (i = 0; i < g->nstk; i++)
		h = (h ^ g->pcs[i]) * 1099511628211ULL;
	/* Apart from memtrace's own ids, which count up from 1. */
	return h | (1ULL << 63);
}

/*
 * The rows of a process: memtrace's stacks, and for a Go program whose
 * runtime keeps a heap profile, that profile's live figures on the same
 * stacks plus the stacks only the runtime saw.
 */
static int make_rows(const struct go_mprof_profile *gp, struct agg_entry **entries, size_t n,
		     struct loader *l, struct row **out, size_t *nr)
{
	bool sampled = gp != NULL;
	struct go_mprof_sample **by_pc0 = NULL;
	bool *taken = NULL;
	struct row *rows;
	size_t i, m = 0, ns = gp ? gp->nr : 0;

	rows = calloc(n + ns + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	if (ns) {
		by_pc0 = calloc(ns, sizeof(*by_pc0));
		taken = calloc(ns, sizeof(*taken));
		if (!by_pc0 || !taken) {
			free(by_pc0);
			free(taken);
			free(rows);
			return -ENOMEM;
		}
		for (i = 0; i < ns; i++)
			by_pc0[i] = &gp->samples[i];
		qsort(by_pc0, ns, sizeof(*by_pc0), cmp_sample_pc0);
	}
	for (i = 0; i < n; i++) {
		struct row *r = &rows[m++];
		struct mt_stack st;

		r->e = entries[i];
		r->id = entries[i]->stack_id;
		r->alloc_bytes = entries[i]->stat.alloc_bytes_total;
		if (!sampled) {
			r->live_bytes = entries[i]->live_bytes;
			r->live_allocs = entries[i]->live_allocs;
			continue;
		}
		if (ns && loader__read_stack(l, r->id, &st) == 0)
			r->g = find_sample(by_pc0, ns, &st, taken, gp->samples);
		if (r->g) {
			r->live_bytes = r->g->inuse_bytes;
			r->live_allocs = r->g->inuse_objects;
		}
	}
	for (i = 0; i < ns; i++) {
		struct row *r;

		/* What was allocated and is gone before memtrace saw it says nothing live. */
		if (taken[i] || gp->samples[i].inuse_bytes <= 0)
			continue;
		r = &rows[m++];
		r->g = &gp->samples[i];
		r->live_bytes = r->g->inuse_bytes;
		r->live_allocs = r->g->inuse_objects;
		r->id = pcs_id(r->g);
	}
	free(by_pc0);
	free(taken);
	qsort(rows, m, sizeof(*rows), cmp_rows);
	*out = rows;
	*nr = m;
	return 0;
}

static int cmp_stack_reports(const void *a, const void *b)
{
	const struct mt_stack_report *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->alloc_bytes_total != y->alloc_bytes_total)
		return x->alloc_bytes_total > y->alloc_bytes_total ? -1 : 1;
	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return 0;
}

/*
 * A Python process's stacks, each named: merged where they read the same
 * (the interpreter's C frames left out, two call paths inside it are one
 * line of Python), ranked, cut to top_n. A merged stack's id is a hash
 * of how it reads, the same from one look to the next.
 */
static void py_stacks_finish(struct mt_proc_report *pr, size_t top_n)
{
	size_t i, k, n = py_frames__merge(pr->stacks, pr->nr_stacks);

	for (i = 0; i < n; i++)
		pr->stacks[i].stack_id = py_frames__hash(&pr->stacks[i]) & ~(1ULL << 63);
	qsort(pr->stacks, n, sizeof(*pr->stacks), cmp_stack_reports);
	pr->nr_stacks_total = n;
	pr->nr_stacks = top_n && top_n < n ? top_n : n;
	for (i = pr->nr_stacks; i < n; i++)
		mt_stack_report__free_frames(&pr->stacks[i]);
	pr->unresolved_frames = 0;
	for (i = 0; i < pr->nr_stacks; i++)
		for (k = 0; k < pr->stacks[i].nr_frames; k++)
			pr->unresolved_frames += !pr->stacks[i].frames[k].function;
}

static int build_proc(struct mt_proc_report *pr, const struct target *t, struct agg_table *agg,
		      struct loader *l, struct symbolizer *sym, uint64_t now_ns, size_t top_n,
		      bool keep_interpreter, uint64_t native_rate)
{
	struct agg_entry **entries = NULL;
	const struct go_mprof_profile *gp;
	struct row *rows = NULL;
	size_t n, i, keep, nr_rows = 0;
	bool sampled, own = false, py;
	struct py_frames_ctx pyc;
	int err = 0;

	pr->pid = t->pid;
	snprintf(pr->comm, sizeof(pr->comm), "%s", t->comm);
	pr->exe = dup_or_null(t->exe);
	pr->cgroup = dup_or_null(t->cgroup);
	snprintf(pr->container_id, sizeof(pr->container_id), "%s", t->container_id);
		pr->runtime = t->alloc.is_go ? "go" : t->alloc.py ? "python" : "native";
	if (t->alloc.py) {
		const struct py_interp *py = t->alloc.py;

		pr->python.present = true;
		snprintf(pr->python.version, sizeof(pr->python.version), "%s", py->version);
		pr->python.frames = py->frames;
		pr->python.source = py->frames ? py->source : NULL;
		snprintf(pr->python.note, sizeof(pr->python.note), "%s", py->note);
		pr->python.inlined = t->py_probes.inlined;
		pr->python.inlined_sites = t->py_probes.sites;
		pr->python.unresolved_sites = t->py_probes.unresolved;
		pr->python.arenas = t->vmf.py_arenas;
		pr->python.arena_bytes = t->vmf.py_arena_bytes;
		pr->python.arena_resident_bytes = t->vmf.py_arena_resident;
		pr->python.arena_live_bytes = t->vmf.py_arena_live;
		pr->python.arena_live_blocks = t->vmf.py_arena_blocks;
	}
	gp = t->alloc.is_go ? target__go_profile(t, &own) : NULL;
	sampled = gp != NULL;
	pr->live_unknown = t->alloc.is_go && !sampled;
	pr->sampled = sampled;
	pr->sample_rate = sampled ? gp->rate : 0;
	pr->vm = (struct mt_vm_totals){
		.known = t->vmf.known,
		.mapped_bytes = t->vmf.mapped,
		.released_bytes = t->vmf.released,
		.retained_bytes = t->vmf.retained,
		.retained_known = t->vmf.retained_known,
		.retained_upper_bound = t->vmf.retained_upper_bound,
		.retained_estimate = t->vmf.retained_estimate,
		.heap_resident_bytes = t->vmf.heap_resident,
		.rss_anon_bytes = t->rss_anon_bytes,
		.reconciled_bytes = t->vm_reconciled_bytes,
	};
	if (t->alloc.is_go) {
		const struct go_heap_layout *lo = t->go_heap ? go_heap__layout(t->go_heap) : NULL;

		pr->go.present = true;
		pr->go.read = t->vmf.go_read;
		if (lo) {
			snprintf(pr->go.version, sizeof(pr->go.version), "%s", lo->version);
			pr->go.source = lo->source;
		}
		pr->go.heap_inuse_bytes = t->vmf.go.inuse;
		pr->go.heap_free_bytes = t->vmf.go.free;
		pr->go.heap_released_bytes = t->vmf.go.released;
		pr->go.live_read = t->vmf.go_read;
		pr->go.heap_live_bytes = t->vmf.go.live;
		snprintf(pr->go.note, sizeof(pr->go.note), "%s", t->go_note);
		pr->go.live_source = !gp ? NULL : own ? "memtrace" : "runtime";
		/* Why there are no live bytes per stack: the last source tried says. */
		snprintf(pr->go.profile_note, sizeof(pr->go.profile_note), "%s",
			 gp ? "" : t->go_live == GO_LIVE_RUNTIME || !t->go_own.note[0] ?
			 t->go_prof.note : t->go_own.note);
		pr->go.samples_unknown = own ? t->go_own_unknown : 0;
		pr->go.samples_unverified = own ? t->go_own_unverified : 0;
		pr->go.samples_young = own ? t->go_own_young : 0;
		pr->go.live_since_attach = own && !t->traced_from_start;
	}
	pr->heap.live_usable_bytes = !t->alloc.is_go && t->vmf.known &&
				     usable__kind(t->alloc.name) != USABLE_UNKNOWN ?
				     llround(t->live_usable) : -1;
	pr->allocator = dup_or_null(t->alloc.name);
	pr->allocator_path = dup_or_null(t->alloc.path);
	pr->rss_bytes = t->rss_bytes;
	pr->exited = t->exited;

	n = agg_table__entries(agg, t->pid, &entries);
	if (!entries)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct agg_entry *e = entries[i];

		/* Native blocks kept by sampling: live figures are estimates, frees unknown. */
		if (!t->alloc.is_go && (native_rate || e->sampled_blocks)) {
			pr->sampled = true;
			pr->sample_rate = (int64_t)native_rate;
		}

		pr->heap.alloc_bytes_total += e->stat.alloc_bytes_total;
		pr->heap.allocs_total += e->stat.allocs_total;
		pr->heap.frees_total += e->frees_total;
	}
	err = make_rows(gp, entries, n, l, &rows, &nr_rows);
	if (err) {
		free(entries);
		return err;
	}
	for (i = 0; i < nr_rows; i++) {
		pr->heap.live_bytes += rows[i].live_bytes;
		pr->heap.live_allocs += rows[i].live_allocs;
	}
	/* Go: the runtime's own live heap when read, whatever the stacks' figures are. */
	if (pr->go.live_read)
		pr->heap.live_bytes = (int64_t)pr->go.heap_live_bytes;
	/* A Python process's stacks are merged by how they read: every one is named first. */
	py = t->alloc.py != NULL;
	keep = top_n && top_n < nr_rows && !py ? top_n : nr_rows;
	pr->nr_stacks_total = nr_rows;
	if (py) {
		pyc = (struct py_frames_ctx){ .t = t, .sym = sym,
					      .keep_interpreter = keep_interpreter };
		loader__py_bias(l, t->pid, &pyc.bias);
	}
	pr->stacks = calloc(keep ? keep : 1, sizeof(*pr->stacks));
	if (!pr->stacks) {
		free(rows);
		free(entries);
		return -ENOMEM;
	}
	for (i = 0; i < keep; i++) {
		const struct row *r = &rows[i];
		const struct agg_entry *e = r->e;
		struct mt_stack_report *sr = &pr->stacks[i];
		struct mt_stack st = { 0 };

		sr->stack_id = r->id;
		sr->live_bytes = r->live_bytes;
		sr->live_allocs = r->live_allocs;
		sr->oldest_age_s = -1.0;
		if (e) {
			sr->alloc_bytes_total = e->stat.alloc_bytes_total;
			sr->allocs_total = e->stat.allocs_total;
			sr->frees_total = e->frees_total;
			if (!sampled)
				sr->oldest_age_s = e->oldest_ts_ns && e->live_allocs > 0 ?
						   (double)(now_ns - e->oldest_ts_ns) / 1e9 : -1.0;
		}
		pr->nr_stacks = i + 1;
		if (!e) {
			/* The runtime's PCs are return addresses, as memtrace's are. */
			st.nr_frames = r->g->nstk;
			memcpy(st.ips, r->g->pcs, sizeof(st.ips[0]) * r->g->nstk);
			if (r->g->nstk == GO_MPROF_MAX_STACK)
				st.flags = MT_STACK_F_TRUNCATED;
		} else if (loader__read_stack(l, e->stack_id, &st)) {
			st.nr_frames = 0;
			st.flags = MT_STACK_F_READ_FAILED;
		}
		if (py)
			err = py_frames__fill(sr, &st, &pyc, &pr->unresolved_frames);
		else
			err = fill_frames(sr, &st, t, sym, &pr->unresolved_frames, true);
		if (err)
			break;
	}
	if (py && !err)
		py_stacks_finish(pr, top_n);
	free(rows);
	free(entries);
	if (!err)
		err = build_map_stacks(pr, t, l, sym, top_n ? top_n : 20, py ? &pyc : NULL);
	return err;
}

static int copy_probe_sites(struct loader *l, struct mt_report *r)
{
	const struct mt_probe_site *sites;
	size_t i, nr;

	loader__probe_sites(l, &sites, &nr);
	if (!nr)
		return 0;
	r->probes = calloc(nr, sizeof(*r->probes));
	if (!r->probes)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		struct mt_probe_report *p = &r->probes[i];

		r->nr_probes = i + 1;
		p->path = strdup(sites[i].path);
		p->function = strdup(sites[i].function);
		if (!p->path || !p->function)
			return -ENOMEM;
		p->offset = sites[i].file_offset;
		p->site_offset = sites[i].site_offset;
		p->single_stepped = sites[i].single_stepped;
		p->why = sites[i].why;
		r->probes_single_stepped += p->single_stepped;
	}
	return 0;
}

int snapshot__read(struct loader *l, const struct snapshot_opts *o, snapshot_block_fn fn,
		   void *ctx, struct snapshot **out)
{
	struct walk stats_walk = {}, blocks_walk = { .fn = fn, .ctx = ctx };
	struct snapshot *s;
	struct mt_report *r;
	int err, c;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loader = l;
	s->now_ns = monotonic_ns();
	s->top_n = o->top_n;
	s->keep_interpreter = o->keep_interpreter;
	r = &s->head;
	r->duration_s = o->duration_s;
	r->min_age_s = (double)o->min_age_ns / 1e9;
	r->sample_rate = o->sample_rate;
	r->sampled_since_s = o->sampled_since_s;
	snprintf(r->sampling_why, sizeof(r->sampling_why), "%s", o->sampling_why ? o->sampling_why : "");
	r->kernel_bytes = o->kernel_bytes;
	err = loader__read_counters(l, r->counters);
	if (err)
		goto fail;
	for (c = 0; c < MT_CNT_MAX; c++)
		if (mt_counter_is_loss(c))
			r->lost_events += r->counters[c];

	err = loader__map_usage(l, r->maps);
	if (err)
		goto fail;
	r->maps[MT_MAP_UNWIND_ROWS].entries = o->unwind_rows_used;
	/* The BPF side never deletes a stack; memtrace's own pruning is subtracted. */
	/* Counted apart, and read one after the other: never below zero. */
	r->maps[MT_MAP_STACKS].entries = r->counters[MT_CNT_STACKS_STORED] > o->stacks_removed ?
		r->counters[MT_CNT_STACKS_STORED] - o->stacks_removed : 0;
	r->maps[MT_MAP_UNWIND_ROWS].max_entries = o->unwind_rows_max;

	s->agg = agg_table__new(s->now_ns, o->min_age_ns);
	if (!s->agg) {
		err = -ENOMEM;
		goto fail;
	}
	stats_walk.agg = blocks_walk.agg = s->agg;
	stats_walk.remap = blocks_walk.remap = o->remap;
	err = loader__for_each_stat(l, add_stat, &stats_walk);
	if (!err)
		err = loader__for_each_alloc(l, add_block, &blocks_walk);
	if (!err)
		agg_table__finish(s->agg);
	r->maps[MT_MAP_STATS].entries = stats_walk.entries;
	r->maps[MT_MAP_ALLOCS].entries = blocks_walk.entries;
	s->sampled_blocks = blocks_walk.sampled;
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	snapshot__free(s);
	return err;
}

int snapshot__build(const struct snapshot *s, const struct target *targets, size_t nr_targets,
		    struct symbolizer *sym, struct mt_report *r)
{
	size_t i;
	int err = 0;

	*r = s->head;
	r->nr_procs = 0;
	err = copy_probe_sites(s->loader, r);
	if (err) {
		mt_report__free(r);
		return err;
	}
	r->procs = calloc(nr_targets ? nr_targets : 1, sizeof(*r->procs));
	if (!r->procs)
		return -ENOMEM;
	for (i = 0; i < nr_targets && !err; i++) {
		r->nr_procs = i + 1;
		err = build_proc(&r->procs[i], &targets[i], s->agg, s->loader, sym, s->now_ns,
				 s->top_n, s->keep_interpreter, s->head.sample_rate);
	}
	if (err)
		mt_report__free(r);
	return err;
}

uint64_t snapshot__blocks(const struct snapshot *s)
{
	return s->head.maps[MT_MAP_ALLOCS].entries;
}

uint64_t snapshot__sampled_blocks(const struct snapshot *s)
{
	return s->sampled_blocks;
}

void snapshot__free(struct snapshot *s)
{
	if (!s)
		return;
	agg_table__free(s->agg);
	free(s);
}
