/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Drawing the live display: header, the process and stack lists, a stack's
 * frames, help, and the status line. One erase() and one doupdate() per
 * frame, so nothing flickers.
 */
#include <curses.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include "display/display_view.h"
#include "report/format.h"

enum role {
	R_NORMAL,
	R_TITLE,
	R_COLHDR,
	R_SORT,
	R_SEL,
	R_WARN,
	R_DIM,
	R_PAUSED,
};

enum {
	PAIR_TITLE = 1,
	PAIR_COLHDR,
	PAIR_SORT,
	PAIR_WARN,
	PAIR_PAUSED,
};

void draw__init_colors(struct display *d)
{
	d->colors = has_colors() && start_color() == OK;
	if (!d->colors)
		return;
	/* -1: the terminal's own background, where it has one. */
	if (use_default_colors() != OK)
		assume_default_colors(COLOR_WHITE, COLOR_BLACK);
	init_pair(PAIR_TITLE, COLOR_CYAN, -1);
	init_pair(PAIR_COLHDR, COLOR_BLACK, COLOR_GREEN);
	init_pair(PAIR_SORT, COLOR_BLACK, COLOR_CYAN);
	init_pair(PAIR_WARN, COLOR_RED, -1);
	init_pair(PAIR_PAUSED, COLOR_WHITE, COLOR_RED);
}

/* Without colours every role still reads: reverse video and bold. */
static chtype attr(const struct display *d, enum role r)
{
	bool c = d->colors;

	switch (r) {
	case R_TITLE:
		return A_BOLD | (c ? COLOR_PAIR(PAIR_TITLE) : 0);
	case R_COLHDR:
		return c ? COLOR_PAIR(PAIR_COLHDR) : A_REVERSE;
	case R_SORT:
		return c ? COLOR_PAIR(PAIR_SORT) | A_BOLD : A_BOLD | A_UNDERLINE;
	case R_SEL:
		return c ? COLOR_PAIR(PAIR_SORT) : A_REVERSE;
	case R_WARN:
		return A_BOLD | (c ? COLOR_PAIR(PAIR_WARN) : 0);
	case R_DIM:
		return A_DIM;
	case R_PAUSED:
		return A_BOLD | (c ? COLOR_PAIR(PAIR_PAUSED) : A_REVERSE);
	default:
		return A_NORMAL;
	}
}

/* The line being written: text that reaches the last column moves the
 * cursor to the next line, where nothing more may go. */
static int cur_line;

static void at(int y, int x)
{
	move(y, x);
	cur_line = y;
}

static bool wrapped(void)
{
	int y, x;

	getyx(stdscr, y, x);
	(void)x;
	return y != cur_line;
}

/*
 * Print s at the cursor in at most w columns. Names come from the traced
 * programs: control characters, and bytes the locale cannot show, become '?'.
 */
static int put_w(const struct display *d, const char *s, int w)
{
	size_t i = 0, n = strlen(s);
	int used = 0;

	while (i < n && used < w && !wrapped()) {
		unsigned char c = s[i];
		mbstate_t st;
		wchar_t wc;
		size_t k;
		int cw;

		if (c < 0x80 || !d->utf8) {
			addch(c < 0x20 || c >= 0x7f ? '?' : c);
			i++;
			used++;
			continue;
		}
		memset(&st, 0, sizeof(st));
		k = mbrtowc(&wc, s + i, n - i, &st);
		if (k == (size_t)-1 || k == (size_t)-2 || !k) {
			k = 1;
			cw = -1;
		} else {
			cw = wcwidth(wc);
		}
		if (cw < 0) {
			addch('?');
			i += k;
			used++;
			continue;
		}
		if (used + cw > w)
			break;
		addnstr(s + i, k);
		i += k;
		used += cw;
	}
	return used;
}

static int put(const struct display *d, const char *s)
{
	int y, x;

	getyx(stdscr, y, x);
	return y == cur_line && x < COLS ? put_w(d, s, COLS - x) : 0;
}

/* Columns s takes (ASCII and UTF-8 text; anything else counts one a byte). */
static int text_width(const struct display *d, const char *s)
{
	int w = 0;

	for (; *s; s++)
		if (!d->utf8 || ((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void cell(const struct display *d, int y, int x, int w, bool left, const char *s)
{
	int tw = text_width(d, s);

	if (w > COLS - x)
		w = COLS - x;
	if (w <= 0)
		return;
	at(y, left || tw >= w ? x : x + w - tw);
	put_w(d, s, w);
}

static void fill_line(const struct display *d, int y, enum role r)
{
	mvhline(y, 0, ' ' | attr(d, r), COLS);
}

/* "label value" pairs of the header: the value bold. */
static void pair(const struct display *d, const char *label, const char *value)
{
	put(d, "  ");
	put(d, label);
	put(d, " ");
	attron(A_BOLD);
	put(d, value);
	attroff(A_BOLD);
}

/* ------------------------------------------------------------ header */

static bool any_loss(const struct display *d)
{
	return d->r && d->r->lost_events;
}

static int body_y(const struct display *d)
{
	/* title, figures, [losses], what the view shows, [column titles] */
	return 3 + any_loss(d) + (d->view != VIEW_HELP);
}

int draw__page(const struct display *d)
{
	int h = LINES - 1 - body_y(d);

	return h > 1 ? h : 1;
}

static void draw_title(const struct display *d)
{
	char b[64];
	long up = d->uptime_s > 0 && d->uptime_s < 1e15 ? (long)d->uptime_s : 0;

	at(0, 0);
	attron(attr(d, R_TITLE));
	put(d, "memtrace");
	attroff(attr(d, R_TITLE));
	put(d, ": ");
	attron(A_BOLD);
	put(d, d->title);
	attroff(A_BOLD);
	snprintf(b, sizeof(b), "%ld:%02ld:%02ld", up / 3600, up / 60 % 60, up % 60);
	pair(d, "up", b);
	snprintf(b, sizeof(b), "%g s", d->interval_s);
	pair(d, "every", b);
	put(d, "  ");
	rows__count(d->events_per_s, b, sizeof(b));
	attron(A_BOLD);
	put(d, b);
	attroff(A_BOLD);
	put(d, " events/s  lost ");
	snprintf(b, sizeof(b), "%" PRIu64, d->r ? d->r->lost_events : 0);
	attron(any_loss(d) ? attr(d, R_WARN) : A_BOLD);
	put(d, b);
	attrset(A_NORMAL);
	if (d->paused && COLS > 8) {
		attron(attr(d, R_PAUSED));
		at(0, COLS - 8);
		put(d, " PAUSED ");
		attrset(A_NORMAL);
	}
}

/* The loss counters, each with the option that fixes it. */
static void draw_losses(const struct display *d, int y)
{
	char b[160];
	bool first = true;
	int c;

	at(y, 0);
	attron(attr(d, R_WARN));
	put(d, "lost events:");
	for (c = 0; c < MT_CNT_MAX; c++) {
		const char *remedy = mt_counter_remedy(c);

		if (!mt_counter_is_loss(c) || !d->r->counters[c])
			continue;
		snprintf(b, sizeof(b), "%s %s %" PRIu64 "%s%s%s", first ? "" : ",",
			 mt_counter_name(c), d->r->counters[c], remedy ? " (increase " : "",
			 remedy ? remedy : "", remedy ? ")" : "");
		put(d, b);
		first = false;
	}
	attrset(A_NORMAL);
}

static void vm_pairs(const struct display *d, uint64_t rss, bool vm_known, bool ret_known,
		     bool upper, uint64_t retained, uint64_t mapped, uint64_t released)
{
	char b[48], h[32];

	pair(d, "RSS", rss ? mt_human_bytes(rss, b, sizeof(b)) : "-");
	if (vm_known && ret_known) {
		snprintf(b, sizeof(b), "%s%s", upper ? "at most " : "",
			 mt_human_bytes(retained, h, sizeof(h)));
		pair(d, "retained", b);
	} else {
		pair(d, "retained", "unknown");
	}
	pair(d, "mapped", vm_known ? mt_human_bytes(mapped, b, sizeof(b)) : "-");
	pair(d, "released", vm_known ? mt_human_bytes(released, b, sizeof(b)) : "-");
}

static void draw_proc_figures(const struct display *d, const struct mt_proc_report *p)
{
	struct hist_stats st;
	char b[96], c[32], rate[32];
	struct row r = { .p = p };

	at(1, 0);
	snprintf(b, sizeof(b), "PID %" PRIu32 " %.*s", p->pid, (int)sizeof(p->comm), p->comm);
	attron(A_BOLD);
	put(d, b);
	attroff(A_BOLD);
	if (p->exited)
		put(d, " (exited)");
	if (p->live_unknown) {
		mt_human_bytes(p->heap.alloc_bytes_total, c, sizeof(c));
		pair(d, "allocated", c);
	} else if (p->sampled) {
		/* Go: the runtime's or memtrace's sample, scaled: an estimate. */
		mt_human_bytes(p->heap.live_bytes, c, sizeof(c));
		mt_human_bytes((double)p->sample_rate, rate, sizeof(rate));
		snprintf(b, sizeof(b), "%s (%" PRId64 " objects, sampled 1 per %s)", c,
			 p->heap.live_allocs, rate);
		pair(d, "live", b);
	} else {
		mt_human_bytes(p->heap.live_bytes, c, sizeof(c));
		snprintf(b, sizeof(b), "%s (%" PRId64 " blocks)", c, p->heap.live_allocs);
		pair(d, "live", b);
	}
	if (!p->live_unknown && d->h && !history__proc(d->h, p->pid, &st)) {
		r.has_stats = true;
		r.st = st;
		rows__growth(&r, b, sizeof(b));
		pair(d, "growth", b);
	}
	vm_pairs(d, p->rss_bytes, p->vm.known, p->vm.retained_known, p->vm.retained_upper_bound,
		 p->vm.retained_bytes, p->vm.mapped_bytes, p->vm.released_bytes);
}

static void draw_totals(const struct display *d)
{
	uint64_t rss = 0, retained = 0, mapped = 0, released = 0;
	bool vm = false, ret = false, upper = false;
	int64_t live = 0;
	char b[48];
	size_t i;

	for (i = 0; i < d->r->nr_procs; i++) {
		const struct mt_proc_report *p = &d->r->procs[i];

		rss += p->rss_bytes;
		if (!p->live_unknown)
			live += p->heap.live_bytes;
		if (p->vm.known) {
			vm = true;
			mapped += p->vm.mapped_bytes;
			released += p->vm.released_bytes;
			if (p->vm.retained_known) {
				ret = true;
				retained += p->vm.retained_bytes;
				upper |= p->vm.retained_upper_bound;
			}
		}
	}
	at(1, 0);
	attron(A_BOLD);
	snprintf(b, sizeof(b), "%zu process%s", d->r->nr_procs, d->r->nr_procs == 1 ? "" : "es");
	put(d, b);
	attroff(A_BOLD);
	pair(d, "live", mt_human_bytes(live, b, sizeof(b)));
	vm_pairs(d, rss, vm, ret, upper, retained, mapped, released);
}

static void draw_header(const struct display *d)
{
	const struct mt_proc_report *p;

	draw_title(d);
	if (!d->r)
		return;
	p = d->view == VIEW_PROCS || (d->view == VIEW_HELP && d->help_from == VIEW_PROCS) ?
	    NULL : rows__find_proc(d, d->view == VIEW_FRAMES ? d->fr.pid : d->pid);
	if (p)
		draw_proc_figures(d, p);
	else
		draw_totals(d);
	if (any_loss(d))
		draw_losses(d, 2);
}

/* ------------------------------------------------------------ lists */

static void scroll_into_view(struct listpos *pos, int n, int page)
{
	if (pos->sel >= n)
		pos->sel = n - 1;
	if (pos->sel < 0)
		pos->sel = 0;
	if (pos->top > pos->sel)
		pos->top = pos->sel;
	if (pos->sel >= pos->top + page)
		pos->top = pos->sel - page + 1;
	if (pos->top > n - page)
		pos->top = n - page;
	if (pos->top < 0)
		pos->top = 0;
}

/* The columns that fit: the least needed are dropped first, so the last
 * column keeps room. */
static void choose_columns(struct display *d, enum table t)
{
	size_t i, n = rows__nr_columns(t), k;
	int need = -1;	/* no space after the last column */

	d->nr_cols = 0;
	for (i = 0; i < n && i < ARRAY_SIZE(d->cols); i++) {
		d->cols[d->nr_cols++] = rows__column(t, i);
		need += rows__column(t, i)->width + 1;
	}
	while (COLS - need < rows__last_min_width(t)) {
		for (i = 0, k = 0; i < d->nr_cols; i++)
			if (d->cols[i]->drop > d->cols[k]->drop)
				k = i;
		if (!d->cols[k]->drop)
			break;
		need -= d->cols[k]->width + 1;
		memmove(&d->cols[k], &d->cols[k + 1], (d->nr_cols - k - 1) * sizeof(d->cols[0]));
		d->nr_cols--;
	}
}

static void draw_info(const struct display *d, int y, const char *what, size_t shown,
		      size_t total, const char *sorted_by)
{
	char b[DISPLAY_FILTER_MAX + 160];

	at(y, 0);
	attron(A_BOLD);
	put(d, what);
	attroff(A_BOLD);
	if (d->filter[0])
		snprintf(b, sizeof(b), ": %zu of %zu match filter \"%s\"", shown, total, d->filter);
	else
		snprintf(b, sizeof(b), ": %zu", shown);
	put(d, b);
	snprintf(b, sizeof(b), ", sorted by %s%s", sorted_by, d->reverse[rows__table_of(d)] ?
		 " (reversed)" : "");
	put(d, b);
}

static bool row_dim(const struct row *r)
{
	if (r->p->live_unknown)
		return r->s ? !r->s->alloc_bytes_total : !r->p->heap.alloc_bytes_total;
	return r->s ? r->s->live_bytes <= 0 : r->p->heap.live_bytes <= 0;
}

static void draw_list(struct display *d, int y)
{
	enum table t = rows__table_of(d);
	const struct column *sort = rows__column(t, d->sort[t]);
	struct listpos *pos = &d->pos[d->view];
	int page = draw__page(d), i, x;
	char what[96], buf[512];
	size_t c, total;

	if (d->view == VIEW_PROCS) {
		total = d->r->nr_procs;
		snprintf(what, sizeof(what), "Processes");
	} else {
		const struct mt_proc_report *p = rows__find_proc(d, d->pid);

		total = p ? p->nr_stacks : 0;
		snprintf(what, sizeof(what), "Call stacks of PID %" PRIu32 " (%.*s)", d->pid,
			 p ? (int)sizeof(p->comm) : 4, p ? p->comm : "gone");
	}
	draw_info(d, y, what, d->nr_rows, total, sort->title);

	choose_columns(d, t);
	y++;
	fill_line(d, y, R_COLHDR);
	for (c = 0, x = 0; c < d->nr_cols && x < COLS; c++) {
		const struct column *col = d->cols[c];
		int w = col->width ? col->width : COLS - x;

		if (col == sort) {
			attrset(attr(d, R_SORT));
			mvhline(y, x, ' ' | attr(d, R_SORT), w < COLS - x ? w : COLS - x);
		} else {
			attrset(attr(d, R_COLHDR));
		}
		cell(d, y, x, w, col->left, col->title);
		x += w + 1;
	}
	attrset(A_NORMAL);
	y++;

	if (!d->nr_rows) {
		at(y, 1);
		put(d, d->filter[0] ? "nothing matches the filter (/ to change it)" :
		       d->view == VIEW_PROCS ? "no process traced" :
		       rows__find_proc(d, d->pid) ? "no call stacks yet" :
		       "this process is no longer in the report");
		return;
	}
	scroll_into_view(pos, (int)d->nr_rows, page);
	for (i = 0; i < page && pos->top + i < (int)d->nr_rows; i++) {
		const struct row *r = &d->rows[pos->top + i];
		bool sel = pos->top + i == pos->sel;
		chtype a = sel ? attr(d, R_SEL) : row_dim(r) ? attr(d, R_DIM) : A_NORMAL;

		if (sel)
			fill_line(d, y + i, R_SEL);
		attrset(a);
		for (c = 0, x = 0; c < d->nr_cols && x < COLS; c++) {
			const struct column *col = d->cols[c];

			col->fmt(d, r, buf, sizeof(buf));
			cell(d, y + i, x, col->width ? col->width : COLS - x, col->left, buf);
			x += col->width + 1;
		}
		attrset(A_NORMAL);
	}
}

/* ------------------------------------------------------------ frames */

static void draw_frames_info(const struct display *d, int y)
{
	const struct mt_stack_report *s = &d->fr.s;
	char b[256], c1[32], c2[32], age[32], rate[32];

	at(y, 0);
	attron(A_BOLD);
	snprintf(b, sizeof(b), "Stack of PID %" PRIu32 " (%.*s)", d->fr.pid,
		 (int)sizeof(d->fr.comm), d->fr.comm);
	put(d, b);
	attroff(A_BOLD);
	mt_human_bytes(s->alloc_bytes_total, c2, sizeof(c2));
	if (d->fr.live_unknown) {
		snprintf(b, sizeof(b), ": allocated %s in %" PRIu64 " calls", c2, s->allocs_total);
	} else if (d->fr.sample_rate) {
		/* No frees are seen, so no ages: the sample says what is live. */
		mt_human_bytes(s->live_bytes, c1, sizeof(c1));
		mt_human_bytes((double)d->fr.sample_rate, rate, sizeof(rate));
		snprintf(b, sizeof(b), ": live %s in %" PRId64 " objects (sampled 1 per %s); "
			 "allocated %s in %" PRIu64 " calls", c1, s->live_allocs, rate, c2,
			 s->allocs_total);
	} else {
		mt_human_bytes(s->live_bytes, c1, sizeof(c1));
		rows__age(s->oldest_age_s, age, sizeof(age));
		snprintf(b, sizeof(b), ": live %s in %" PRId64 " blocks, oldest %s; allocated %s "
			 "in %" PRIu64 " calls, %" PRIu64 " frees", c1, s->live_allocs, age, c2,
			 s->allocs_total, s->frees_total);
	}
	put(d, b);
	if (s->flags & MT_STACK_F_TRUNCATED)
		put(d, " [truncated]");
	if (s->flags & (MT_STACK_F_READ_FAILED | MT_STACK_F_CUT | MT_STACK_F_DEFERRED))
		put(d, " [partial]");
	if (d->fr.gone) {
		attron(attr(d, R_WARN));
		put(d, "  (no longer in the report)");
		attrset(A_NORMAL);
	}
}

static int clamp_w(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void draw_frames(struct display *d, int y)
{
	const struct mt_stack_report *s = &d->fr.s;
	struct listpos *pos = &d->pos[VIEW_FRAMES];
	int page = draw__page(d), fw = 8, mw = 6, x[5], i;
	char b[64];
	size_t k;

	if (!d->fr_valid)
		return;
	draw_frames_info(d, y++);
	for (k = 0; k < s->nr_frames; k++) {
		const struct mt_frame *f = &s->frames[k];

		if (f->function && text_width(d, f->function) > fw)
			fw = text_width(d, f->function);
		if (f->module && text_width(d, f->module) > mw)
			mw = text_width(d, f->module);
	}
	fw = clamp_w(fw, 8, COLS * 45 / 100);
	mw = clamp_w(mw, 6, COLS * 30 / 100);
	x[0] = 0;
	x[1] = 5;
	x[2] = x[1] + fw + 2;
	x[3] = x[2] + mw + 2;
	x[4] = x[3] + 12;

	fill_line(d, y, R_COLHDR);
	attrset(attr(d, R_COLHDR));
	cell(d, y, x[0], 3, false, "#");
	cell(d, y, x[1], fw, true, "FUNCTION");
	cell(d, y, x[2], mw, true, "MODULE");
	cell(d, y, x[3], 10, true, "OFFSET");
	cell(d, y, x[4], COLS - x[4], true, "SOURCE");
	attrset(A_NORMAL);
	y++;
	if (!s->nr_frames) {
		at(y, 1);
		put(d, "(no frames)");
		return;
	}
	scroll_into_view(pos, (int)s->nr_frames, page);
	for (i = 0; i < page && pos->top + i < (int)s->nr_frames; i++) {
		const struct mt_frame *f = &s->frames[pos->top + i];
		bool sel = pos->top + i == pos->sel;

		if (sel)
			fill_line(d, y + i, R_SEL);
		attrset(sel ? attr(d, R_SEL) : A_NORMAL);
		snprintf(b, sizeof(b), "%d", pos->top + i);
		cell(d, y + i, x[0], 3, false, b);
		cell(d, y + i, x[1], fw, true, f->function ? f->function : "??");
		cell(d, y + i, x[2], mw, true, f->module ? f->module : "[unknown]");
		snprintf(b, sizeof(b), "0x%" PRIx64, f->offset);
		cell(d, y + i, x[3], 10, true, b);
		if (f->file && x[4] < COLS) {
			at(y + i, x[4]);
			put(d, f->file);
			if (f->line > 0) {
				snprintf(b, sizeof(b), ":%d", f->line);
				put(d, b);
			}
		}
		if (f->inlined && x[4] < COLS) {
			if (!f->file)
				at(y + i, x[4]);
			put(d, " (inlined)");
		}
		attrset(A_NORMAL);
	}
}

/* ------------------------------------------------------------ help */

static void draw_help(struct display *d, int y)
{
	struct listpos *pos = &d->pos[VIEW_HELP];
	int page = draw__page(d), n = draw__nr_lines(d), i;
	char b[256];

	if (pos->top > n - page)
		pos->top = n - page;
	if (pos->top < 0)
		pos->top = 0;
	at(y++, 0);
	attron(A_BOLD);
	put(d, "Help");
	attrset(A_NORMAL);
	for (i = 0; i < page && help__line(pos->top + i, b, sizeof(b)); i++) {
		at(y + i, 0);
		if (b[0] != ' ' && b[0])
			attron(A_BOLD);
		put(d, b);
		attrset(A_NORMAL);
	}
}

int draw__nr_lines(const struct display *d)
{
	char b[256];
	int n = 0;

	switch (d->view) {
	case VIEW_PROCS:
	case VIEW_STACKS:
		return (int)d->nr_rows;
	case VIEW_FRAMES:
		return d->fr_valid ? (int)d->fr.s.nr_frames : 0;
	case VIEW_HELP:
		while (help__line(n, b, sizeof(b)))
			n++;
		return n;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------ status line */

static void key_hint(const struct display *d, const char *key, const char *label)
{
	attrset(A_BOLD);
	put(d, key);
	attrset(A_NORMAL);
	put(d, label);
}

static void draw_status(const struct display *d, double now)
{
	int y = LINES - 1;

	at(y, 0);
	if (d->editing) {
		attrset(A_BOLD);
		put(d, "Filter (function name): ");
		attrset(A_NORMAL);
		put_w(d, d->edit, COLS - 24 > 1 ? COLS - 24 - 1 : 0);
		return;
	}
	if (d->msg_until > now) {
		attrset(A_BOLD);
		put(d, d->msg);
		attrset(A_NORMAL);
		return;
	}
	if (d->view == VIEW_HELP) {
		key_hint(d, "Up Down PgUp PgDn", " scroll  ");
		key_hint(d, "Esc q", " back");
		return;
	}
	key_hint(d, "?", " help  ");
	if (d->view != VIEW_FRAMES)
		key_hint(d, "Enter", " open  ");
	if (d->view == VIEW_FRAMES || (d->view == VIEW_STACKS && d->has_proc_view))
		key_hint(d, "Esc", " back  ");
	key_hint(d, "s < >", " sort  ");
	key_hint(d, "/", " filter  ");
	key_hint(d, "p", d->paused ? " resume  " : " pause  ");
	key_hint(d, "+ -", " interval  ");
	key_hint(d, "f", " snapshot  ");
	key_hint(d, "q", d->view == VIEW_FRAMES || (d->view == VIEW_STACKS && d->has_proc_view) ?
		  " back" : " quit");
}

/* ------------------------------------------------------------ screen */

void draw__screen(struct display *d)
{
	struct timespec ts;
	double now;
	int y;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	if (d->rows_stale)
		rows__rebuild(d);
	erase();
	draw_header(d);
	y = 2 + any_loss(d);
	if (d->view == VIEW_HELP) {
		draw_help(d, y);
	} else if (!d->have_data) {
		at(y, 0);
		put(d, "waiting for the first refresh...");
	} else if (d->view == VIEW_FRAMES) {
		draw_frames(d, y);
	} else {
		draw_list(d, y);
	}
	draw_status(d, now);
	curs_set(d->editing ? 1 : 0);
	wnoutrefresh(stdscr);
	doupdate();
	d->dirty = false;
}
