/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as Prometheus metrics (text exposition format 0.0.4), in base
 * units: bytes, and counters ending in _total.
 *
 * Per process, labelled pid and comm: live, retained, RSS, mapped and
 * released bytes, live blocks, bytes and calls allocated, frees, distinct
 * stacks; memtrace_process_info carries the rest (exe, cgroup, container id,
 * runtime, allocator) once, as an info metric does. A figure memtrace does
 * not know (a Go program's frees, retained in -p mode for Go without the
 * runtime's figures) is left out, not written as 0.
 *
 * memtrace's counters are its own, not per process: every one is a
 * memtrace_<name>_total, and memtrace_lost_events_total their sum of losses.
 *
 * The stacks holding the most live bytes, over every process, are series
 * of their own (memtrace_stack_live_bytes{pid,stack,top_frame}): at most
 * `top` of them, so the number of series never grows with the number of
 * stacks. A stack's id is a hash of its frames (function, module, offset):
 * the same call site keeps its series across refreshes and restarts of
 * memtrace.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "report/caller.h"
#include "report/format.h"
#include "serve/serve_internal.h"
#include "util/hash.h"
#include "util/utf8.h"

/* Long C++ names make long labels: the start says which function it is. */
#define TOP_FRAME_MAX	200
#define PATH_LABEL_MAX	512

void metrics__put_label_value(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t used = 0, n;

	while (*p) {
		n = mt_utf8_seq_len(p, strlen((const char *)p));
		if (used + (n ? n : 3) > max) {
			fputs("..", f);
			return;
		}
		if (!n) {
			fputs("\xef\xbf\xbd", f);	/* U+FFFD */
			p++;
			used += 3;
			continue;
		}
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fwrite(p, 1, n, f);
		p += n;
		used += n;
	}
}

static void put_comm(FILE *f, const struct mt_proc_report *p)
{
	char comm[sizeof(p->comm) + 1];

	snprintf(comm, sizeof(comm), "%.*s", (int)strnlen(p->comm, sizeof(p->comm)), p->comm);
	metrics__put_label_value(f, comm, sizeof(comm));
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A per-process figure: pid and comm. */
static void proc_sample(FILE *f, const char *name, const struct mt_proc_report *p, uint64_t v)
{
	fprintf(f, "%s{pid=\"%" PRIu32 "\",comm=\"", name, p->pid);
	put_comm(f, p);
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

enum figure {
	FIG_LIVE_BYTES, FIG_LIVE_ALLOCS, FIG_ALLOC_BYTES, FIG_ALLOCS, FIG_FREES, FIG_RSS,
	FIG_RETAINED, FIG_MAPPED, FIG_RELEASED, FIG_STACKS, FIG_EXITED, FIG_SAMPLE_RATE, FIG_MAX
};

static const struct {
	const char *name, *type, *help;
} figures[FIG_MAX] = {
	[FIG_LIVE_BYTES] = { "memtrace_live_bytes", "gauge",
		"Bytes allocated since tracing began and not freed (Go: sampled estimates)." },
	[FIG_LIVE_ALLOCS] = { "memtrace_live_allocs", "gauge",
		"Blocks allocated since tracing began and not freed." },
	[FIG_ALLOC_BYTES] = { "memtrace_alloc_bytes_total", "counter",
		"Bytes allocated since tracing began." },
	[FIG_ALLOCS] = { "memtrace_allocs_total", "counter",
		"Allocations since tracing began." },
	[FIG_FREES] = { "memtrace_frees_total", "counter",
		"Frees of blocks allocated since tracing began." },
	[FIG_RSS] = { "memtrace_rss_bytes", "gauge", "Resident set size." },
	[FIG_RETAINED] = { "memtrace_retained_bytes", "gauge",
		"Memory freed by the program that its allocator still holds in memory "
		"(-p mode, native: an upper bound)." },
	[FIG_MAPPED] = { "memtrace_mapped_bytes", "gauge",
		"Anonymous private memory mapped and usable." },
	[FIG_RELEASED] = { "memtrace_released_bytes", "gauge",
		"Part of the mapped memory given back with madvise and not in memory." },
	[FIG_STACKS] = { "memtrace_stacks", "gauge", "Distinct call stacks that allocated." },
	[FIG_EXITED] = { "memtrace_process_exited", "gauge",
		"1 once the process has exited (its figures stay as they were at its exit)." },
	[FIG_SAMPLE_RATE] = { "memtrace_heap_sample_rate_bytes", "gauge",
		"Mean bytes between sampled allocations, for processes whose live figures "
		"are estimated from a sample (Go)." },
};

/* The figure of p, or false when memtrace does not know it. */
static bool figure_of(const struct mt_proc_report *p, enum figure fig, uint64_t *v)
{
	bool live = !p->live_unknown, vm = p->vm.known;

	switch (fig) {
	case FIG_LIVE_BYTES:
		*v = p->heap.live_bytes > 0 ? (uint64_t)p->heap.live_bytes : 0;
		return live;
	case FIG_LIVE_ALLOCS:
		*v = p->heap.live_allocs > 0 ? (uint64_t)p->heap.live_allocs : 0;
		return live;
	case FIG_ALLOC_BYTES:
		*v = p->heap.alloc_bytes_total;
		return true;
	case FIG_ALLOCS:
		*v = p->heap.allocs_total;
		return true;
	case FIG_FREES:
		*v = p->heap.frees_total;
		return live && !p->sampled;
	case FIG_RSS:
		*v = p->rss_bytes;
		return true;
	case FIG_RETAINED:
		*v = p->vm.retained_bytes;
		return vm && p->vm.retained_known;
	case FIG_MAPPED:
		*v = p->vm.mapped_bytes;
		return vm;
	case FIG_RELEASED:
		*v = p->vm.released_bytes;
		return vm;
	case FIG_STACKS:
		*v = p->nr_stacks_total;
		return true;
	case FIG_EXITED:
		*v = p->exited;
		return true;
	case FIG_SAMPLE_RATE:
		*v = p->sample_rate > 0 ? (uint64_t)p->sample_rate : 0;
		return p->sampled;
	default:
		return false;
	}
}

/*
 * A pid twice in one report (system-wide, a pid reused while its exited
 * process is still shown) would make two series with the same labels, and
 * Prometheus refuses a scrape with twins: the live process is written, or
 * the first of them.
 */
static int cmp_pid_live(const void *a, const void *b)
{
	const struct mt_proc_report *x = *(const struct mt_proc_report *const *)a;
	const struct mt_proc_report *y = *(const struct mt_proc_report *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->exited != y->exited)
		return x->exited ? 1 : -1;
	return x < y ? -1 : x > y;
}

static int skip_twins(const struct mt_report *r, bool **out)
{
	const struct mt_proc_report **by_pid;
	bool *skip;
	size_t i;

	skip = calloc(r->nr_procs + 1, sizeof(*skip));
	by_pid = malloc((r->nr_procs + 1) * sizeof(*by_pid));
	if (!skip || !by_pid) {
		free(skip);
		free(by_pid);
		return -ENOMEM;
	}
	for (i = 0; i < r->nr_procs; i++)
		by_pid[i] = &r->procs[i];
	if (r->nr_procs)
		qsort(by_pid, r->nr_procs, sizeof(*by_pid), cmp_pid_live);
	for (i = 1; i < r->nr_procs; i++)
		if (by_pid[i]->pid == by_pid[i - 1]->pid)
			skip[by_pid[i] - r->procs] = true;
	free(by_pid);
	*out = skip;
	return 0;
}

static void write_info(FILE *f, const struct mt_report *r, const bool *skip)
{
	size_t i;

	family(f, "memtrace_process_info", "gauge",
	       "A traced process: its executable, cgroup, container and allocator.");
	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		if (skip[i])
			continue;
		fprintf(f, "memtrace_process_info{pid=\"%" PRIu32 "\",comm=\"", p->pid);
		put_comm(f, p);
		fputs("\",exe=\"", f);
		metrics__put_label_value(f, p->exe, PATH_LABEL_MAX);
		fputs("\",cgroup=\"", f);
		metrics__put_label_value(f, p->cgroup, PATH_LABEL_MAX);
		fputs("\",container_id=\"", f);
		metrics__put_label_value(f, p->container_id, sizeof(p->container_id));
		fputs("\",runtime=\"", f);
		metrics__put_label_value(f, p->runtime, 16);
		fputs("\",allocator=\"", f);
		metrics__put_label_value(f, p->allocator, PATH_LABEL_MAX);
		fputs("\"} 1\n", f);
	}
}

static void write_procs(FILE *f, const struct mt_report *r, const bool *skip)
{
	enum figure fig;
	uint64_t v;
	size_t i;

	fputs("# HELP memtrace_processes Processes traced (exited ones while still shown).\n"
	      "# TYPE memtrace_processes gauge\n", f);
	fprintf(f, "memtrace_processes %zu\n", r->nr_procs);
	write_info(f, r, skip);
	for (fig = 0; fig < FIG_MAX; fig++) {
		family(f, figures[fig].name, figures[fig].type, figures[fig].help);
		for (i = 0; i < r->nr_procs; i++)
			if (!skip[i] && figure_of(&r->procs[i], fig, &v))
				proc_sample(f, figures[fig].name, &r->procs[i], v);
	}
}

static void write_counters(FILE *f, const struct mt_report *r)
{
	char name[96];
	int c, m;

	family(f, "memtrace_lost_events_total", "counter",
	       "Events lost in all: the sum of the counters that make figures incomplete.");
	fprintf(f, "memtrace_lost_events_total %" PRIu64 "\n", r->lost_events);
	for (c = 0; c < MT_CNT_MAX; c++) {
		const char *remedy = mt_counter_remedy(c);

		snprintf(name, sizeof(name), "memtrace_%s_total", mt_counter_name(c));
		fprintf(f, "# HELP %s memtrace's counter %s%s%s%s.\n# TYPE %s counter\n", name,
			mt_counter_name(c), mt_counter_is_loss(c) ? ": a loss" : " (not a loss)",
			remedy ? ", fixed by " : "", remedy ? remedy : "", name);
		fprintf(f, "%s %" PRIu64 "\n", name, r->counters[c]);
	}
	family(f, "memtrace_map_entries", "gauge", "Entries in each BPF map that can fill up.");
	for (m = 0; m < MT_MAP_MAX; m++)
		fprintf(f, "memtrace_map_entries{map=\"%s\"} %" PRIu64 "\n", mt_map_name(m),
			r->maps[m].entries);
	family(f, "memtrace_map_max_entries", "gauge",
	       "Size of each BPF map that can fill up (the option that sets it: README).");
	for (m = 0; m < MT_MAP_MAX; m++)
		fprintf(f, "memtrace_map_max_entries{map=\"%s\"} %" PRIu64 "\n", mt_map_name(m),
			r->maps[m].max_entries);
}

void metrics__stack_id(const struct mt_stack_report *s, char buf[17])
{
	uint64_t h = 0x6d656d7472616365ULL;	/* "memtrace" */
	size_t i;

	for (i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *fr = &s->frames[i];

		h = mix64_pair(h, fr->function ? hash_bytes(fr->function, strlen(fr->function)) : 0);
		h = mix64_pair(h, fr->module ? hash_bytes(fr->module, strlen(fr->module)) : 0);
		h = mix64_pair(h, fr->offset ^ ((uint64_t)fr->inlined << 63));
	}
	snprintf(buf, 17, "%016" PRIx64, h);
}

struct top_stack {
	const struct mt_proc_report *p;
	const struct mt_stack_report *s;
	char id[17];
	int64_t live_bytes, live_allocs;
};

static int cmp_top(const void *a, const void *b)
{
	const struct top_stack *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->p->pid != y->p->pid)
		return x->p->pid < y->p->pid ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * The `top` stacks by live bytes over every process. Each process's stacks
 * are sorted already: its first `top` are the only ones that can be in.
 * Two stacks of one process whose frames read the same (their walks
 * differed in what was not symbolized) are one series: Prometheus takes no
 * two series with the same labels.
 */
static int top_stacks(const struct mt_report *r, const bool *skip, size_t top,
		      struct top_stack **out, size_t *nr)
{
	struct top_stack *t;
	size_t i, j, n = 0, cap = 0;

	for (i = 0; i < r->nr_procs; i++)
		if (!r->procs[i].live_unknown && !skip[i])
			cap += r->procs[i].nr_stacks < top ? r->procs[i].nr_stacks : top;
	t = calloc(cap + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];
		size_t first = n;

		if (p->live_unknown || skip[i])
			continue;
		for (j = 0; j < p->nr_stacks && n - first < top; j++) {
			const struct mt_stack_report *s = &p->stacks[j];
			size_t k;

			if (s->live_bytes <= 0)
				break;
			t[n] = (struct top_stack){ .p = p, .s = s, .live_bytes = s->live_bytes,
						   .live_allocs = s->live_allocs };
			metrics__stack_id(s, t[n].id);
			for (k = first; k < n && strcmp(t[k].id, t[n].id); k++)
				;
			if (k < n) {
				t[k].live_bytes += s->live_bytes;
				t[k].live_allocs += s->live_allocs;
				continue;
			}
			n++;
		}
	}
	qsort(t, n, sizeof(*t), cmp_top);
	*out = t;
	*nr = n < top ? n : top;
	return 0;
}

static void stack_labels(FILE *f, const struct top_stack *t)
{
	const struct mt_frame *fr = stack_caller(t->s);
	char label[TOP_FRAME_MAX + 64];

	if (fr)
		mt_frame_label(label, sizeof(label), fr, MT_FRAME_BASENAME);
	else
		snprintf(label, sizeof(label), "[no frames]");
	fprintf(f, "{pid=\"%" PRIu32 "\",stack=\"%s\",top_frame=\"", t->p->pid, t->id);
	metrics__put_label_value(f, label, TOP_FRAME_MAX);
	fputs("\"}", f);
}

static int write_stacks(FILE *f, const struct mt_report *r, const bool *skip, size_t top)
{
	struct top_stack *t = NULL;
	size_t i, n = 0;
	int err;

	err = top_stacks(r, skip, top, &t, &n);
	if (err)
		return err;
	family(f, "memtrace_stack_live_bytes", "gauge",
	       "Live bytes of the call stacks holding the most (--metrics-top of them, over "
	       "every process); stack is a hash of the frames, top_frame the innermost frame "
	       "outside the allocator and the C/C++ runtime.");
	for (i = 0; i < n; i++) {
		fputs("memtrace_stack_live_bytes", f);
		stack_labels(f, &t[i]);
		fprintf(f, " %" PRId64 "\n", t[i].live_bytes);
	}
	family(f, "memtrace_stack_live_allocs", "gauge",
	       "Live blocks of the same call stacks.");
	for (i = 0; i < n; i++) {
		fputs("memtrace_stack_live_allocs", f);
		stack_labels(f, &t[i]);
		fprintf(f, " %" PRId64 "\n", t[i].live_allocs);
	}
	free(t);
	return 0;
}

int metrics__write(const struct mt_report *r, FILE *f, const struct metrics_opts *o)
{
	bool *skip;
	int err;

	err = skip_twins(r, &skip);
	if (err)
		return err;
	write_procs(f, r, skip);
	err = write_stacks(f, r, skip, o->top);
	free(skip);
	if (err)
		return err;
	write_counters(f, r);
	family(f, "memtrace_report_timestamp_seconds", "gauge",
	       "When the figures were read (they are refreshed every --interval).");
	fprintf(f, "memtrace_report_timestamp_seconds %.3f\n", o->time_real);
	family(f, "memtrace_trace_seconds", "gauge", "How long memtrace has been tracing.");
	fprintf(f, "memtrace_trace_seconds %.3f\n", r->duration_s);
	return ferror(f) ? -EIO : 0;
}
