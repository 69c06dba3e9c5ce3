/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the live display lists: the column tables of the process list and of
 * the stack lists, and the rows built from a snapshot, filtered and sorted.
 * No terminal I/O here; display_draw.c draws what this file builds.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "display/display_view.h"
#include "report/caller.h"
#include "report/format.h"

/* ------------------------------------------------------------ formatting */

/* "12", "12.3k", "4.5M": counts in a narrow column. */
static void short_count(double n, char *buf, size_t len)
{
	if (n < 100000)
		snprintf(buf, len, "%.0f", n);
	else if (n < 1e7)
		snprintf(buf, len, "%.1fk", n / 1e3);
	else if (n < 1e10)
		snprintf(buf, len, "%.1fM", n / 1e6);
	else
		snprintf(buf, len, "%.1fG", n / 1e9);
}

static void rate_str(double per_s, char *buf, size_t len)
{
	char c[24];

	if (!isfinite(per_s) || per_s <= 0) {
		snprintf(buf, len, "0/s");
		return;
	}
	if (per_s < 10)
		snprintf(c, sizeof(c), "%.1f", per_s);
	else
		short_count(per_s, c, sizeof(c));
	snprintf(buf, len, "%s/s", c);
}

static void growth_str(const struct row *r, char *buf, size_t len)
{
	char b[32];

	/* One sample measures nothing: say so rather than print 0. */
	if (!r->has_stats || r->st.window_s <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	mt_human_bytes(r->st.growth_per_min, b, sizeof(b));
	snprintf(buf, len, "%s%s/min", r->st.growth_per_min > 0 ? "+" : "", b);
}

static void age_str(double s, char *buf, size_t len)
{
	long v = s >= 0 && s < 1e15 ? (long)s : 0;

	if (s < 0 || !isfinite(s))
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (v < 3600)
		snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
	else if (v < 86400)
		snprintf(buf, len, "%ldh%02ldm", v / 3600, v / 60 % 60);
	else
		snprintf(buf, len, "%ldd%02ldh", v / 86400, v / 3600 % 24);
}

/* ------------------------------------------------------------ columns */

static int cmp_num(double a, double b)
{
	return a > b ? -1 : a < b ? 1 : 0;
}

static double stat_or(const struct row *r, double v, double none)
{
	return r->has_stats ? v : none;
}

static double proc_live(const struct mt_proc_report *p)
{
	return p->live_unknown ? -1 : (double)p->heap.live_bytes;
}

static double proc_retained(const struct mt_proc_report *p)
{
	return p->vm.known && p->vm.retained_known ? (double)p->vm.retained_bytes : -1;
}

static int c_pid(const struct row *a, const struct row *b)
{
	return a->p->pid < b->p->pid ? -1 : a->p->pid > b->p->pid;
}

static int c_comm(const struct row *a, const struct row *b)
{
	return strncmp(a->p->comm, b->p->comm, sizeof(a->p->comm));
}

static int c_rss(const struct row *a, const struct row *b)
{
	return cmp_num(a->p->rss_bytes, b->p->rss_bytes);
}

static int c_plive(const struct row *a, const struct row *b)
{
	return cmp_num(proc_live(a->p), proc_live(b->p));
}

static int c_retained(const struct row *a, const struct row *b)
{
	return cmp_num(proc_retained(a->p), proc_retained(b->p));
}

static int c_growth(const struct row *a, const struct row *b)
{
	return cmp_num(stat_or(a, a->st.growth_per_min, -INFINITY),
		       stat_or(b, b->st.growth_per_min, -INFINITY));
}

static int c_rate(const struct row *a, const struct row *b)
{
	return cmp_num(stat_or(a, a->st.alloc_rate, -1), stat_or(b, b->st.alloc_rate, -1));
}

static int c_brate(const struct row *a, const struct row *b)
{
	return cmp_num(stat_or(a, a->st.alloc_bytes_rate, -1),
		       stat_or(b, b->st.alloc_bytes_rate, -1));
}

static int c_allocator(const struct row *a, const struct row *b)
{
	const char *x = a->p->allocator ? a->p->allocator : "";
	const char *y = b->p->allocator ? b->p->allocator : "";

	return strcmp(x, y);
}

static int c_live(const struct row *a, const struct row *b)
{
	return cmp_num(a->s->live_bytes, b->s->live_bytes);
}

static int c_count(const struct row *a, const struct row *b)
{
	return cmp_num(a->s->live_allocs, b->s->live_allocs);
}

static int c_oldest(const struct row *a, const struct row *b)
{
	return cmp_num(a->s->oldest_age_s, b->s->oldest_age_s);
}

static int c_score(const struct row *a, const struct row *b)
{
	return cmp_num(stat_or(a, a->st.leak_score, -1), stat_or(b, b->st.leak_score, -1));
}

static int c_allocated(const struct row *a, const struct row *b)
{
	return cmp_num(a->s->alloc_bytes_total, b->s->alloc_bytes_total);
}

static int c_calls(const struct row *a, const struct row *b)
{
	return cmp_num(a->s->allocs_total, b->s->allocs_total);
}

static int c_function(const struct row *a, const struct row *b)
{
	const char *fa = a->top && a->top->function ? a->top->function : "\x7f";
	const char *fb = b->top && b->top->function ? b->top->function : "\x7f";

	return strcmp(fa, fb);
}

static void f_pid(const struct display *d, const struct row *r, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu32, r->p->pid);
}

static void f_comm(const struct display *d, const struct row *r, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s%s", (int)sizeof(r->p->comm), r->p->comm,
		 r->p->exited ? " (exited)" : "");
}

static void f_rss(const struct display *d, const struct row *r, char *buf, size_t len)
{
	/* A process always has resident pages: 0 means it was never read. */
	if (!r->p->rss_bytes)
		snprintf(buf, len, "-");
	else
		mt_human_bytes(r->p->rss_bytes, buf, len);
}

static void f_plive(const struct display *d, const struct row *r, char *buf, size_t len)
{
	if (r->p->live_unknown)
		snprintf(buf, len, "-");
	else
		mt_human_bytes(r->p->heap.live_bytes, buf, len);
}

static void f_retained(const struct display *d, const struct row *r, char *buf, size_t len)
{
	char b[32];

	if (proc_retained(r->p) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	mt_human_bytes(r->p->vm.retained_bytes, b, sizeof(b));
	snprintf(buf, len, "%s%s", r->p->vm.retained_upper_bound ? "<" : "", b);
}

static void f_growth(const struct display *d, const struct row *r, char *buf, size_t len)
{
	if (r->p->live_unknown)
		snprintf(buf, len, "-");
	else
		growth_str(r, buf, len);
}

static void f_rate(const struct display *d, const struct row *r, char *buf, size_t len)
{
	rate_str(r->has_stats ? r->st.alloc_rate : 0, buf, len);
}

static void f_brate(const struct display *d, const struct row *r, char *buf, size_t len)
{
	char b[32];

	mt_human_bytes(r->has_stats ? r->st.alloc_bytes_rate : 0, b, sizeof(b));
	snprintf(buf, len, "%s/s", b);
}

static void f_allocator(const struct display *d, const struct row *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s", r->p->allocator ? r->p->allocator : "?");
}

static void f_live(const struct display *d, const struct row *r, char *buf, size_t len)
{
	mt_human_bytes(r->s->live_bytes, buf, len);
}

static void f_count(const struct display *d, const struct row *r, char *buf, size_t len)
{
	short_count(r->s->live_allocs, buf, len);
}

static void f_oldest(const struct display *d, const struct row *r, char *buf, size_t len)
{
	age_str(r->s->oldest_age_s, buf, len);
}

static void f_score(const struct display *d, const struct row *r, char *buf, size_t len)
{
	if (!r->has_stats)
		snprintf(buf, len, "-");
	else if (r->st.leak_score <= 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%.1f", r->st.leak_score);
}

static void f_trend(const struct display *d, const struct row *r, char *buf, size_t len)
{
	if (!r->has_stats)
		buf[0] = '\0';
	else
		history__sparkline(&r->st, d->utf8, buf, len);
}

static void f_allocated(const struct display *d, const struct row *r, char *buf, size_t len)
{
	mt_human_bytes(r->s->alloc_bytes_total, buf, len);
}

static void f_calls(const struct display *d, const struct row *r, char *buf, size_t len)
{
	short_count(r->s->allocs_total, buf, len);
}

static void f_function(const struct display *d, const struct row *r, char *buf, size_t len)
{
	if (!r->top)
		snprintf(buf, len, "(no frames)");
	else
		mt_frame_label(buf, len, r->top,
			       MT_FRAME_FUNC_MODULE | MT_FRAME_BASENAME | MT_FRAME_UNKNOWN_OFFSET);
}

#define BYTES_W 10
#define GROWTH_W 15
#define RATE_W 9

static const struct column proc_columns[] = {
	{ "pid", "PID", 7, false, 0, "process id", c_pid, f_pid },
	{ "command", "COMMAND", 24, true, 0, "command name", c_comm, f_comm },
	{ "rss", "RSS", BYTES_W, false, 2, "resident memory", c_rss, f_rss },
	{ "live", "LIVE", BYTES_W, false, 0,
	  "heap bytes allocated since tracing began and not freed", c_plive, f_plive },
	{ "retained", "RETAINED", BYTES_W, false, 3,
	  "freed memory the allocator keeps in memory (<: at most)", c_retained, f_retained },
	{ "growth", "GROWTH", GROWTH_W, false, 1,
	  "change of live bytes per minute, over the last minute", c_growth, f_growth },
	{ "rate", "ALLOCS/S", RATE_W, false, 4, "allocations per second", c_rate, f_rate },
	{ "allocator", "ALLOCATOR", 0, true, 0, "the allocator traced", c_allocator,
	  f_allocator },
};

static const struct column stack_columns[] = {
	{ "live", "LIVE", BYTES_W, false, 0, "bytes allocated here and not freed",
	  c_live, f_live },
	{ "count", "COUNT", 8, false, 2, "blocks allocated here and not freed",
	  c_count, f_count },
	{ "growth", "GROWTH", GROWTH_W, false, 0,
	  "change of live bytes per minute, over the last minute", c_growth, f_growth },
	{ "oldest", "OLDEST", 7, false, 4, "age of the oldest live block", c_oldest,
	  f_oldest },
	{ "rate", "ALLOCS/S", RATE_W, false, 3, "allocations per second", c_rate, f_rate },
	{ "score", "SCORE", 6, false, 1, "leak score (see above)", c_score, f_score },
	{ "trend", "TREND", HISTORY_SPARK, true, 5, "live bytes over the last refreshes",
	  NULL, f_trend },
	{ "function", "FUNCTION", 0, true, 0,
	  "innermost frame outside the allocator and the C/C++ runtime", c_function,
	  f_function },
};

static const struct column go_stack_columns[] = {
	{ "allocated", "ALLOCATED", BYTES_W, false, 0, "bytes allocated here in all",
	  c_allocated, f_allocated },
	{ "calls", "CALLS", 8, false, 2, "allocations made here in all", c_calls, f_calls },
	{ "bytes/s", "BYTES/S", 12, false, 1, "bytes allocated per second", c_brate,
	  f_brate },
	{ "rate", "ALLOCS/S", RATE_W, false, 3, "allocations per second", c_rate, f_rate },
	{ "function", "FUNCTION", 0, true, 0,
	  "innermost frame outside the allocator and the C/C++ runtime", c_function,
	  f_function },
};

static const struct {
	const struct column *cols;
	size_t nr;
	int default_sort;
	int last_min_w;		/* room the last column needs before others are dropped */
} tables[NR_TABLES] = {
	[TABLE_PROCS] = { proc_columns, ARRAY_SIZE(proc_columns), 3, 9 },	/* live */
	[TABLE_STACKS] = { stack_columns, ARRAY_SIZE(stack_columns), 5, 18 },	/* score */
	[TABLE_GO_STACKS] = { go_stack_columns, ARRAY_SIZE(go_stack_columns), 0, 18 },
};

size_t rows__nr_columns(enum table t)
{
	return tables[t].nr;
}

const struct column *rows__column(enum table t, size_t i)
{
	return i < tables[t].nr ? &tables[t].cols[i] : NULL;
}

int rows__default_sort(enum table t)
{
	return tables[t].default_sort;
}

int rows__last_min_width(enum table t)
{
	return tables[t].last_min_w;
}

void rows__age(double s, char *buf, size_t len)
{
	age_str(s, buf, len);
}

void rows__growth(const struct row *r, char *buf, size_t len)
{
	growth_str(r, buf, len);
}

void rows__count(double n, char *buf, size_t len)
{
	short_count(n, buf, len);
}

/* ------------------------------------------------------------ rows */

const struct mt_proc_report *rows__find_proc(const struct display *d, uint32_t pid)
{
	size_t i;

	if (!d->r)
		return NULL;
	for (i = 0; i < d->r->nr_procs; i++)
		if (d->r->procs[i].pid == pid)
			return &d->r->procs[i];
	return NULL;
}

enum table rows__table_of(const struct display *d)
{
	const struct mt_proc_report *p;

	if (d->view == VIEW_PROCS)
		return TABLE_PROCS;
	p = rows__find_proc(d, d->pid);
	return p && p->live_unknown ? TABLE_GO_STACKS : TABLE_STACKS;
}

static bool stack_matches(const struct mt_stack_report *s, const char *filter)
{
	size_t i;

	for (i = 0; i < s->nr_frames; i++)
		if (s->frames[i].function && strstr(s->frames[i].function, filter))
			return true;
	return false;
}

static bool proc_matches(const struct mt_proc_report *p, const char *filter)
{
	size_t i;

	for (i = 0; i < p->nr_stacks; i++)
		if (stack_matches(&p->stacks[i], filter))
			return true;
	return false;
}

static int add_row(struct display *d, const struct row *r)
{
	if (d->nr_rows == d->cap_rows) {
		size_t cap = d->cap_rows ? d->cap_rows * 2 : 64;
		struct row *n = realloc(d->rows, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->rows = n;
		d->cap_rows = cap;
	}
	d->rows[d->nr_rows++] = *r;
	return 0;
}

struct sort_ctx {
	const struct column *col;
	bool reverse;
};

/* Ties go to live bytes, then to the id, so equal rows keep their places
 * from one refresh to the next. */
static int row_cmp(const void *va, const void *vb, void *arg)
{
	const struct row *a = va, *b = vb;
	const struct sort_ctx *c = arg;
	int v = c->col->cmp ? c->col->cmp(a, b) : 0;

	if (!v && a->s)
		v = cmp_num(a->s->live_bytes, b->s->live_bytes);
	if (!v && a->s)
		v = a->s->stack_id < b->s->stack_id ? -1 : a->s->stack_id > b->s->stack_id;
	if (!v && !a->s)
		v = cmp_num(proc_live(a->p), proc_live(b->p));
	if (!v && !a->s)
		v = c_pid(a, b);
	return c->reverse ? -v : v;
}

static int build_procs(struct display *d)
{
	size_t i;
	int err;

	for (i = 0; i < d->r->nr_procs; i++) {
		struct row r = { .p = &d->r->procs[i] };

		if (d->filter[0] && !proc_matches(r.p, d->filter))
			continue;
		r.has_stats = d->h && !history__proc(d->h, r.p->pid, &r.st);
		err = add_row(d, &r);
		if (err)
			return err;
	}
	return 0;
}

static int build_stacks(struct display *d)
{
	const struct mt_proc_report *p = rows__find_proc(d, d->pid);
	size_t i;
	int err;

	for (i = 0; p && i < p->nr_stacks; i++) {
		struct row r = { .p = p, .s = &p->stacks[i] };

		if (d->filter[0] && !stack_matches(r.s, d->filter))
			continue;
		r.top = stack_caller(r.s);
		r.has_stats = d->h && !history__stack(d->h, p->pid, r.s->stack_id, &r.st);
		err = add_row(d, &r);
		if (err)
			return err;
	}
	return 0;
}

/* Rebuild the rows of the process or stack view from the latest snapshot,
 * keeping the selection on the same process or stack. */
int rows__rebuild(struct display *d)
{
	struct listpos *pos = &d->pos[d->view];
	enum table t = rows__table_of(d);
	struct sort_ctx ctx = { &tables[t].cols[d->sort[t]], d->reverse[t] };
	size_t i;
	int err = 0;

	d->nr_rows = 0;
	d->rows_stale = false;
	if (!d->r || (d->view != VIEW_PROCS && d->view != VIEW_STACKS))
		return 0;
	err = d->view == VIEW_PROCS ? build_procs(d) : build_stacks(d);
	if (d->nr_rows > 1)
		qsort_r(d->rows, d->nr_rows, sizeof(*d->rows), row_cmp, &ctx);

	for (i = 0; d->follow[d->view] && i < d->nr_rows; i++) {
		if (d->view == VIEW_PROCS ? d->rows[i].p->pid == d->sel_pid
					  : d->rows[i].s->stack_id == d->sel_stack) {
			pos->sel = i;
			break;
		}
	}
	if (pos->sel >= (int)d->nr_rows)
		pos->sel = d->nr_rows ? (int)d->nr_rows - 1 : 0;
	if (pos->sel < 0)
		pos->sel = 0;
	rows__remember_selection(d);
	return err;
}

void rows__remember_selection(struct display *d)
{
	const struct row *r;

	if (d->view != VIEW_PROCS && d->view != VIEW_STACKS)
		return;
	if (d->pos[d->view].sel >= (int)d->nr_rows)
		return;
	r = &d->rows[d->pos[d->view].sel];
	if (d->view == VIEW_PROCS)
		d->sel_pid = r->p->pid;
	else
		d->sel_stack = r->s->stack_id;
}

/* ------------------------------------------------------------ frames view */

static void free_stack_copy(struct mt_stack_report *s)
{
	size_t i;

	for (i = 0; i < s->nr_frames; i++) {
		free(s->frames[i].function);
		free(s->frames[i].module);
		free(s->frames[i].file);
	}
	free(s->frames);
	memset(s, 0, sizeof(*s));
}

void rows__free_frames(struct display *d)
{
	free_stack_copy(&d->fr.s);
	d->fr_valid = false;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	if (!c)
		*failed = true;
	return c;
}

/* Copy what the frames view shows of stack s of process p. */
int rows__copy_frames(struct display *d, const struct mt_proc_report *p,
		      const struct mt_stack_report *s)
{
	struct mt_stack_report c = *s;
	bool failed = false;
	size_t i;

	c.frames = s->nr_frames ? calloc(s->nr_frames, sizeof(*c.frames)) : NULL;
	if (s->nr_frames && !c.frames)
		return -ENOMEM;
	for (i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *f = &s->frames[i];

		c.frames[i] = (struct mt_frame){
			.function = dup_or_null(f->function, &failed),
			.module = dup_or_null(f->module, &failed),
			.file = dup_or_null(f->file, &failed),
			.offset = f->offset,
			.line = f->line,
			.inlined = f->inlined,
		};
	}
	if (failed) {
		free_stack_copy(&c);
		return -ENOMEM;
	}
	rows__free_frames(d);
	d->fr.s = c;
	d->fr.pid = p->pid;
	memcpy(d->fr.comm, p->comm, sizeof(d->fr.comm));
	d->fr.live_unknown = p->live_unknown;
	d->fr.sample_rate = p->sampled ? p->sample_rate : 0;
	d->fr.gone = false;
	d->fr_valid = true;
	return 0;
}

/* After a refresh: the frames view follows its stack's new figures. */
void rows__refresh_frames(struct display *d)
{
	const struct mt_proc_report *p;
	size_t i;

	if (!d->fr_valid)
		return;
	p = rows__find_proc(d, d->fr.pid);
	for (i = 0; p && i < p->nr_stacks; i++) {
		if (p->stacks[i].stack_id == d->fr.s.stack_id) {
			if (rows__copy_frames(d, p, &p->stacks[i]))
				break;
			return;
		}
	}
	d->fr.gone = true;
}
