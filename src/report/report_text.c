/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report meant for people: per process, its totals and the call stacks
 * holding the most memory, then every reason the figures may be incomplete.
 * Nothing here is meant to be parsed; the JSON report is.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "report/format.h"
#include "report/report.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define MAX_FRAMES_STR STR(MT_MAX_FRAMES)
#define MAX_PY_FRAMES_STR STR(MT_MAX_PY_FRAMES)

/* Width of the function column of a frame; longer names push the module. */
#define FUNC_COL 20

/* Room for a signed 64-bit count with separators. */
#define COUNT_LEN 32

/* buf holds COUNT_LEN bytes. */
static const char *count_str(uint64_t n, char *buf)
{
	return mt_count_str(n, buf, COUNT_LEN);
}

static const char *scount_str(int64_t n, char *buf)
{
	if (n >= 0)
		return count_str(n, buf);
	buf[0] = '-';
	mt_count_str(-(uint64_t)n, buf + 1, COUNT_LEN - 1);
	return buf;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Names from the traced program, with control characters made harmless
 * to a terminal; these return the number of bytes printed. */
static size_t put_clean(FILE *f, const char *s, size_t n)
{
	return mt_fput_clean(f, s, n, MT_CLEAN_TERMINAL);
}

static size_t put_clean_str(FILE *f, const char *s)
{
	return put_clean(f, s, SIZE_MAX);
}

static void write_frame(FILE *f, const struct mt_frame *fr)
{
	size_t w;

	fputs("        ", f);
	w = put_clean_str(f, fr->function ? fr->function : "??");
	fprintf(f, "%*s", w < FUNC_COL ? (int)(FUNC_COL - w) + 1 : 1, "");
	mt_frame_fput(f, fr, MT_FRAME_NO_FUNCTION | MT_FRAME_UNKNOWN_OFFSET | MT_FRAME_SOURCE |
		      MT_CLEAN_TERMINAL);
	fputc('\n', f);
}

static void write_stack(FILE *f, size_t rank, const struct mt_stack_report *s)
{
	char b1[32], b2[32], c1[COUNT_LEN], c2[COUNT_LEN];
	size_t i;

	fprintf(f, "  #%zu  %s live in %s %s", rank,
		mt_human_bytes(s->live_bytes, b1, sizeof(b1)), scount_str(s->live_allocs, c1),
		plural(s->live_allocs, "allocation", "allocations"));
	if (s->oldest_age_s >= 0)
		fprintf(f, " (oldest %.1f s)", s->oldest_age_s);
	fprintf(f, ", %s allocated in %s %s",
		mt_human_bytes(s->alloc_bytes_total, b2, sizeof(b2)),
		count_str(s->allocs_total, c2), plural(s->allocs_total, "call", "calls"));
	if (s->flags & MT_STACK_F_TRUNCATED)
		fputs("  [truncated]", f);
	if (s->flags & MT_STACK_F_READ_FAILED)
		fputs("  [partial: stack read failed]", f);
	if (s->flags & MT_STACK_F_CUT)
		fputs("  [partial: walk stopped]", f);
	if (s->flags & MT_STACK_F_DEFERRED)
		fputs("  [partial: the rest not unwound]", f);
	fputc('\n', f);
	if (!s->nr_frames)
		fputs("        (no frames)\n", f);
	for (i = 0; i < s->nr_frames; i++)
		write_frame(f, &s->frames[i]);
}

/* Who keeps freed memory, as the one-line answer names it. */
static bool is_go(const struct mt_proc_report *p)
{
	return p->runtime && !strcmp(p->runtime, "go");
}

static const char *keeper(const struct mt_proc_report *p)
{
	if (is_go(p))
		return "the Go runtime";
	/* pymalloc's arenas and malloc's heap (big objects, C extensions) alike. */
	if (p->python.present)
		return "pymalloc and malloc";
	if (p->allocator && !strcmp(p->allocator, "glibc"))
		return "glibc malloc";
	return p->allocator ? p->allocator : "the allocator";
}

/* The usual ways to make each allocator give memory back: hints, not certainties. */
static const char *remedies(const struct mt_proc_report *p)
{
	if (is_go(p))
		return "the Go runtime usually returns idle memory within minutes; to return it "
		       "sooner: debug.FreeOSMemory(), a GOMEMLIMIT the scavenger works towards, "
		       "GODEBUG=madvdontneed=1 (RSS then drops at once)";
	if (p->allocator && !strcmp(p->allocator, "glibc"))
		return "glibc keeps freed memory in its arenas; try malloc_trim(0) after "
		       "freeing bursts, MALLOC_ARENA_MAX=2 for many threads, or a lower "
		       "M_TRIM_THRESHOLD / M_MMAP_THRESHOLD (mallopt, or GLIBC_TUNABLES="
		       "glibc.malloc.trim_threshold=...)";
	if (p->python.present)
		return "pymalloc returns an arena (1 MiB) to the system only once every object in "
		       "it is freed: long-lived objects made among short-lived ones keep arenas "
		       "mostly empty; create what lives long together (at start, in batches), "
		       "or try PYTHONMALLOC=malloc to give objects to malloc (slower)";
	if (p->allocator && !strcmp(p->allocator, "jemalloc"))
		return "jemalloc returns dirty pages after dirty_decay_ms and muzzy_decay_ms; "
		       "lower them (MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0) or "
		       "call mallctl(\"arena.<i>.purge\")";
	return NULL;
}

/*
 * The question people come with, answered in one line:
 *   RSS 812 MiB = live heap 95 MiB + retained by glibc malloc 690 MiB + other 27 MiB
 */
static void write_rss_answer(FILE *f, const struct mt_proc_report *p)
{
	char b1[32], b2[32], b3[32], b4[32];
	uint64_t in_use, retained, other;
	const char *hint;

	/* Go's sampled live bytes estimate the objects; spans in use are what RSS holds. */
	in_use = is_go(p) ? (p->vm.heap_resident_bytes > p->vm.retained_bytes ?
				    p->vm.heap_resident_bytes - p->vm.retained_bytes : 0)
				 : (p->heap.live_bytes > 0 ? (uint64_t)p->heap.live_bytes : 0);
	retained = p->vm.retained_known ? p->vm.retained_bytes : 0;
	other = p->rss_bytes > in_use + retained ? p->rss_bytes - in_use - retained : 0;
	if (!p->vm.retained_known) {
		fprintf(f, "  RSS %s; mapped %s, released %s; retained unknown (%s)\n",
			mt_human_bytes(p->rss_bytes, b1, sizeof(b1)),
			mt_human_bytes(p->vm.mapped_bytes, b2, sizeof(b2)),
			mt_human_bytes(p->vm.released_bytes, b3, sizeof(b3)),
			is_go(p) ? "needs tracing from the start: memtrace -- COMMAND" :
			"blocks were not kept: the allocation map was full");
		return;
	}
	fprintf(f, "  RSS %s = %s %s + retained by %s %s%s + other %s\n",
		mt_human_bytes(p->rss_bytes, b1, sizeof(b1)),
		is_go(p) ? "Go heap in use" : "live heap",
		mt_human_bytes(in_use, b2, sizeof(b2)), keeper(p),
		p->vm.retained_upper_bound ? "at most " : p->vm.retained_estimate ? "about " : "",
		mt_human_bytes(retained, b3, sizeof(b3)), mt_human_bytes(other, b4, sizeof(b4)));
	fprintf(f, "  mapped %s, released %s%s\n",
		mt_human_bytes(p->vm.mapped_bytes, b1, sizeof(b1)),
		mt_human_bytes(p->vm.released_bytes, b2, sizeof(b2)),
		p->vm.retained_upper_bound ?
		"; blocks allocated before memtrace attached count as retained" : "");
	hint = remedies(p);
	/* Retention dominates: it is the larger part of what the heap holds, and not small. */
	if (hint && retained > in_use && retained >= p->rss_bytes / 4 && retained >= (16u << 20))
		fprintf(f, "  hint: %s\n", hint);
}

/* A Python process: its interpreter, and pymalloc's arenas. */
static void write_python(FILE *f, const struct mt_proc_report *p)
{
	const struct mt_py_report *py = &p->python;
	char b1[32], b2[32], b3[32];

	if (!py->present)
		return;
	fprintf(f, "  python: CPython %s", py->version[0] ? py->version : "(version unknown)");
	if (!py->frames) {
		fputs("; Python stacks not read: ", f);
		put_clean_str(f, py->note);
	}
	if (py->inlined)
		fprintf(f, "; pymalloc inlined, %" PRIu64 " copies probed", py->inlined_sites);
	if (py->unresolved_sites)
		fprintf(f, " (%" PRIu64 " not: their allocations unseen)", py->unresolved_sites);
	if (py->arenas)
		fprintf(f, "; %" PRIu64 " pymalloc %s (%s): %s resident, %s in live objects",
			py->arenas, plural(py->arenas, "arena", "arenas"),
			mt_human_bytes((double)py->arena_bytes, b1, sizeof(b1)),
			mt_human_bytes((double)py->arena_resident_bytes, b2, sizeof(b2)),
			mt_human_bytes((double)py->arena_live_bytes, b3, sizeof(b3)));
	fputc('\n', f);
}

/* The few call stacks that mapped most of what is mapped, innermost frames only. */
static void write_map_stacks(FILE *f, const struct mt_proc_report *p)
{
	char b1[32], b2[32];
	size_t i, k, n = p->nr_map_stacks < 3 ? p->nr_map_stacks : 3;

	if (n)
		fputs("  mapped by:\n", f);
	for (i = 0; i < n; i++) {
		const struct mt_map_stack *m = &p->map_stacks[i];

		fprintf(f, "    %s mapped (%s resident) ", mt_human_bytes((double)m->mapped_bytes, b1, sizeof(b1)),
			mt_human_bytes((double)m->resident_bytes, b2, sizeof(b2)));
		if (m->before_tracing || !m->stack.nr_frames)
			fputs(m->before_tracing ? "before tracing began" : "(no stack)", f);
		for (k = 0; k < m->stack.nr_frames && k < 4; k++) {
			const struct mt_frame *fr = &m->stack.frames[k];

			fputs(k ? " <- " : "by ", f);
			put_clean_str(f, fr->function ? fr->function : "?");
		}
		fputc('\n', f);
	}
}

/* Go: stacks by bytes allocated, since live bytes are not known. */
static void write_alloc_stacks(FILE *f, const struct mt_proc_report *p, size_t top_n)
{
	char b1[32], c1[COUNT_LEN], c2[COUNT_LEN];
	size_t i, n = p->nr_stacks, k;

	if (top_n && n > top_n)
		n = top_n;
	if (!n) {
		fputs("  no allocations\n", f);
		return;
	}
	fprintf(f, "  top %zu of %s call %s by bytes allocated:\n", n,
		count_str(p->nr_stacks_total, c1), plural(p->nr_stacks_total, "stack", "stacks"));
	for (i = 0; i < n; i++) {
		const struct mt_stack_report *s = &p->stacks[i];

		fprintf(f, "  #%zu  %s allocated in %s %s\n", i + 1,
			mt_human_bytes((double)s->alloc_bytes_total, b1, sizeof(b1)),
			count_str(s->allocs_total, c2), plural(s->allocs_total, "call", "calls"));
		for (k = 0; k < s->nr_frames; k++)
			write_frame(f, &s->frames[k]);
	}
}

static void write_proc(FILE *f, const struct mt_proc_report *p, size_t top_n)
{
	char b1[32], b2[32], b3[32], c1[COUNT_LEN], c2[COUNT_LEN], c3[COUNT_LEN];
	size_t i, shown = 0, live = 0;

	fprintf(f, "PID %" PRIu32 " (", p->pid);
	put_clean(f, p->comm, sizeof(p->comm));
	fputc(')', f);
	if (p->exe) {
		fputc(' ', f);
		put_clean_str(f, p->exe);
	}
	fputs("  allocator: ", f);
	put_clean_str(f, p->allocator ? p->allocator : "unknown");
	if (p->allocator_path) {
		fputs(" (", f);
		put_clean_str(f, p->allocator_path);
		fputc(')', f);
	}
	if (p->runtime && strcmp(p->runtime, "native"))
		fprintf(f, "  runtime: %s", p->runtime);
	if (p->exited)
		fputs("  [exited]", f);
	fputc('\n', f);

	if (p->live_unknown && p->go.live_read)
		fprintf(f, "  live %s (the Go runtime's, as of the last GC; per call stack not "
			"known); allocated %s in %s %s",
			mt_human_bytes(p->go.heap_live_bytes, b1, sizeof(b1)),
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"));
	else if (p->live_unknown)
		fprintf(f, "  allocated %s in %s %s (live objects are the garbage collector's: not known)",
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"));
	if (p->live_unknown && *p->go.profile_note)
		fprintf(f, " [%s]", p->go.profile_note);
	else if (p->sampled && p->go.live_read)
		fprintf(f, "  live %s (the Go runtime's, as of the last GC); per call stack: %s "
			"objects %s, 1 sample per %" PRId64 " B; allocated %s in %s %s",
			mt_human_bytes(p->go.heap_live_bytes, b1, sizeof(b1)),
			scount_str(p->heap.live_allocs, c1),
			p->go.live_source && !strcmp(p->go.live_source, "memtrace") ?
			"estimated from memtrace's sample of allocations since attaching" :
			"from the Go runtime's heap profile", p->sample_rate,
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"));
	else if (p->sampled && !is_go(p))
		fprintf(f, "  live about %s in %s %s (estimated from the blocks kept exactly and a "
			"sample of 1 per %" PRId64 " B allocated); allocated %s in %s %s",
			mt_human_bytes(p->heap.live_bytes, b1, sizeof(b1)),
			scount_str(p->heap.live_allocs, c1),
			plural(p->heap.live_allocs, "allocation", "allocations"), p->sample_rate,
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"));
	else if (p->sampled)
		fprintf(f, "  live %s in %s %s (%s, 1 sample per %" PRId64
			" B, as of the last GC); allocated %s in %s %s",
			mt_human_bytes(p->heap.live_bytes, b1, sizeof(b1)),
			scount_str(p->heap.live_allocs, c1),
			plural(p->heap.live_allocs, "object", "objects"),
			p->go.live_source && !strcmp(p->go.live_source, "memtrace") ?
			"estimated from memtrace's sample of allocations since attaching" :
			"the Go runtime's heap profile", p->sample_rate,
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"));
	else
		fprintf(f, "  live %s in %s %s; allocated %s in %s %s, freed %s",
			mt_human_bytes(p->heap.live_bytes, b1, sizeof(b1)),
			scount_str(p->heap.live_allocs, c1),
			plural(p->heap.live_allocs, "allocation", "allocations"),
			mt_human_bytes(p->heap.alloc_bytes_total, b2, sizeof(b2)),
			count_str(p->heap.allocs_total, c2),
			plural(p->heap.allocs_total, "call", "calls"),
			count_str(p->heap.frees_total, c3));
	/* A process always has resident pages: 0 means it was never read. */
	if (p->rss_bytes)
		fprintf(f, "; RSS %s\n", mt_human_bytes(p->rss_bytes, b3, sizeof(b3)));
	else
		fputs("; RSS unknown\n", f);
	if (p->go.live_since_attach && p->go.read)
		fprintf(f, "  only allocations made since memtrace attached are in the estimate; "
			"the Go heap in use is %s\n",
			mt_human_bytes(p->go.heap_inuse_bytes, b1, sizeof(b1)));
	else if (p->go.live_since_attach)
		fputs("  only allocations made since memtrace attached are in the estimate\n", f);
	if (p->vm.known) {
		write_rss_answer(f, p);
		write_python(f, p);
		write_map_stacks(f, p);
	}

	if (p->live_unknown) {
		write_alloc_stacks(f, p, top_n);
		return;
	}
	for (i = 0; i < p->nr_stacks; i++)
		if (p->stacks[i].live_bytes > 0)
			live++;
	if (!live) {
		fputs("  no live allocations\n", f);
		return;
	}
	if (top_n && live > top_n)
		live = top_n;
	fprintf(f, "  top %zu of %s call %s by live bytes:\n", live,
		count_str(p->nr_stacks_total, c1), plural(p->nr_stacks_total, "stack", "stacks"));
	for (i = 0; i < p->nr_stacks && shown < live; i++) {
		if (p->stacks[i].live_bytes <= 0)
			continue;
		write_stack(f, ++shown, &p->stacks[i]);
	}
}

/* What a loss counter's events mean for the figures, for n of them. */
static const char *loss_text(enum mt_counter c, uint64_t n)
{
	switch (c) {
	case MT_CNT_ALLOCS_MAP_FULL:
		return plural(n, "allocation not recorded: the allocation map was full",
			      "allocations not recorded: the allocation map was full");
	case MT_CNT_STACKS_MAP_FULL:
		return plural(n, "call stack not recorded: the stack map was full",
			      "call stacks not recorded: the stack map was full");
	case MT_CNT_MISSED_RETURNS:
		return plural(n, "allocator call whose return was never seen "
			      "(longjmp, thread exit); its result was not recorded",
			      "allocator calls whose return was never seen "
			      "(longjmp, thread exit); their results were not recorded");
	case MT_CNT_ADDR_REUSED:
		return plural(n, "allocation at an address still recorded as live (its free was "
			      "missed); live figures may be too high",
			      "allocations at an address still recorded as live (their free was "
			      "missed); live figures may be too high");
	case MT_CNT_VM_EVENTS_LOST:
		return plural(n, "memory-map event lost: the ring buffer was full; mapped and "
			      "retained figures may be off",
			      "memory-map events lost: the ring buffer was full; mapped and "
			      "retained figures may be off");
	case MT_CNT_PROCS_MAP_FULL:
		return plural(n, "allocation by a process left out: the process table was full",
			      "allocations by processes left out: the process table was full");
	case MT_CNT_GO_SAMPLES_MAP_FULL:
		return plural(n, "sampled Go allocation not kept: the sample map was full; live "
			      "estimates may be too low",
			      "sampled Go allocations not kept: the sample map was full; live "
			      "estimates may be too low");
	default:
		return "events lost";
	}
}

/* One "info:" line; text_one/text_many follow the count. */
static void info(FILE *f, uint64_t n, const char *text_one, const char *text_many)
{
	char c1[COUNT_LEN];

	if (n)
		fprintf(f, "info: %s %s\n", count_str(n, c1), plural(n, text_one, text_many));
}

static void write_warnings(const struct mt_report *r, FILE *f)
{
	const uint64_t *cnt = r->counters;
	uint64_t unresolved = 0;
	const char *remedy;
	bool any = false;
	char c1[COUNT_LEN];
	size_t i;
	int c;

	for (i = 0; i < r->nr_procs; i++)
		unresolved += r->procs[i].unresolved_frames;

	for (c = 0; c < MT_CNT_MAX; c++) {
		if (!mt_counter_is_loss(c) || !cnt[c])
			continue;
		if (!any)
			fputc('\n', f);
		any = true;
		fprintf(f, "WARNING: %s %s", count_str(cnt[c], c1), loss_text(c, cnt[c]));
		remedy = mt_counter_remedy(c);
		if (remedy)
			fprintf(f, "; increase %s", remedy);
		fputc('\n', f);
	}

	if (!any && (cnt[MT_CNT_STACK_TRUNCATED] || cnt[MT_CNT_STACK_READ_FAILED] ||
		     cnt[MT_CNT_STACK_CUT] || cnt[MT_CNT_STACK_DEFER_LOST] ||
		     cnt[MT_CNT_PY_STACK_TRUNCATED] || cnt[MT_CNT_PY_STACK_READ_FAILED] ||
		     cnt[MT_CNT_UNKNOWN_FREES] || cnt[MT_CNT_FAILED_ALLOCS] || unresolved))
		fputc('\n', f);
	info(f, cnt[MT_CNT_STACK_TRUNCATED],
	     "call stack deeper than " MAX_FRAMES_STR " frames was truncated",
	     "call stacks deeper than " MAX_FRAMES_STR " frames were truncated");
	info(f, cnt[MT_CNT_STACK_READ_FAILED], "call stack could only be read in part",
	     "call stacks could only be read in part");
	info(f, cnt[MT_CNT_STACK_DEFER_LOST],
	     "call stack through code not yet published was cut (its copy found no room)",
	     "call stacks through code not yet published were cut (their copies found no room)");
	info(f, cnt[MT_CNT_STACK_CUT],
	     "call stack's walk stopped before its outermost frame (no unwind rule to follow)",
	     "call stacks' walks stopped before their outermost frame (no unwind rule to follow)");
	info(f, cnt[MT_CNT_PY_STACK_TRUNCATED],
	     "Python stack deeper than " MAX_PY_FRAMES_STR " frames was truncated (the innermost kept)",
	     "Python stacks deeper than " MAX_PY_FRAMES_STR " frames were truncated (the innermost kept)");
	info(f, cnt[MT_CNT_PY_STACK_READ_FAILED], "Python stack could only be read in part",
	     "Python stacks could only be read in part");
	info(f, cnt[MT_CNT_UNKNOWN_FREES],
	     "free of a block allocated before tracing began (or never seen)",
	     "frees of blocks allocated before tracing began (or never seen)");
	info(f, cnt[MT_CNT_FAILED_ALLOCS], "allocation call failed (returned NULL)",
	     "allocation calls failed (returned NULL)");
	info(f, unresolved, "stack frame could not be symbolized (shown as module+offset)",
	     "stack frames could not be symbolized (shown as module+offset)");
}

/* How full the maps are, so a fill is seen coming before anything is lost. */
static void write_map_usage(const struct mt_report *r, FILE *f)
{
	char c1[COUNT_LEN], c2[COUNT_LEN];
	const char *opt;
	int m;

	for (m = 0; m < MT_MAP_MAX; m++) {
		const struct mt_map_usage *u = &r->maps[m];

		opt = mt_map_option(m);
		if (!opt || !u->max_entries || u->entries * 10 < u->max_entries * 9)
			continue;
		fprintf(f, "WARNING: the %s map is %s of %s entries full; increase %s\n",
			mt_map_name(m), count_str(u->entries, c1), count_str(u->max_entries, c2), opt);
	}
	fputs("maps:", f);
	for (m = 0; m < MT_MAP_MAX; m++)
		fprintf(f, "%s %s %s/%s", m ? "," : "", mt_map_name(m),
			count_str(r->maps[m].entries, c1), count_str(r->maps[m].max_entries, c2));
	fputc('\n', f);
}

int report_text__write(const struct mt_report *r, FILE *f, size_t top_n)
{
	size_t i;

	fprintf(f, "memtrace: traced for %.1f s", isfinite(r->duration_s) ? r->duration_s : 0.0);
	if (r->min_age_s > 0)
		fprintf(f, "; only allocations live for at least %.1f s", r->min_age_s);
	fputc('\n', f);
	if (!r->nr_procs)
		fputs("\nno process was traced\n", f);
	for (i = 0; i < r->nr_procs; i++) {
		fputc('\n', f);
		write_proc(f, &r->procs[i], top_n);
	}
	write_warnings(r, f);
	write_map_usage(r, f);
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
