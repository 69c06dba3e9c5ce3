/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The full-screen live display: owns the terminal, reads keys, and keeps
 * the state of the views. What the lists hold is in display_rows.c, how
 * they are drawn in display_draw.c.
 *
 * The terminal is given back on every way out: display__close() (q, the
 * end of a run, and Ctrl-C or SIGTERM, which main takes synchronously),
 * an exit() that skips it (atexit), and a crash (the fatal signals below).
 * cbreak(), not raw(): ^C must still raise SIGINT.
 */
#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "display/display_view.h"

/* The refresh intervals + and - step through. */
static const double intervals[] = { 0.5, 1, 2, 5, 10, 30 };

/* How long a message stays on the status line. */
#define MSG_S 5.0

#define KEY_ESC 27
#define KEY_CTRL_L 12
#define KEY_CTRL_U 21
#define KEY_DEL 127

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static struct sigaction old_fatal[ARRAY_SIZE(fatal_signals)];

/* Whether curses owns the terminal: read by the atexit and crash paths. */
static volatile sig_atomic_t curses_on;
static bool atexit_done;

static void restore_terminal(void)
{
	if (curses_on) {
		curses_on = 0;
		endwin();
	}
}

/*
 * A crash: give the terminal back, so the shell is usable and the
 * message the crash leaves can be read, then let the signal do what it
 * would have done (the handler this one replaced, usually the default).
 * A fault re-executes and faults again; a signal sent with kill is raised
 * anew.
 */
static void on_fatal(int sig, siginfo_t *info, void *uc)
{
	size_t i;

	(void)uc;
	restore_terminal();
	for (i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &old_fatal[i], NULL);
	if (info->si_code <= 0 || sig == SIGABRT)
		raise(sig);
}

/* Sanitizer builds end through their own exit on an error, past atexit. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void install_fatal_handlers(void)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &sa, &old_fatal[i]);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(restore_terminal);
}

static void remove_fatal_handlers(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &old_fatal[i], NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Block characters for sparklines only where the terminal's charset has them. */
static bool locale_is_utf8(void)
{
	const char *cs;

	setlocale(LC_ALL, "");
	/* Reports printed while the display runs (JSON) need '.' decimal points. */
	setlocale(LC_NUMERIC, "C");
	cs = nl_langinfo(CODESET);
	return cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

int display__open(const struct display_opts *o, struct display **out)
{
	struct display *d;
	SCREEN *s;
	int t;

	*out = NULL;
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))
		return -ENOTTY;
	if (curses_on)
		return -EBUSY;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->opts = *o;
	d->title = strdup(o->title ? o->title : "");
	if (!d->title) {
		free(d);
		return -ENOMEM;
	}
	d->interval_s = o->interval_s > 0 ? o->interval_s : 1.0;
	d->utf8 = locale_is_utf8();
	d->view = o->system_wide ? VIEW_PROCS : VIEW_STACKS;
	d->has_proc_view = o->system_wide;
	for (t = 0; t < NR_TABLES; t++)
		d->sort[t] = rows__default_sort(t);

	/* newterm, not initscr: an unknown TERM is an error to return, not an exit. */
	s = newterm(NULL, stdout, stdin);
	if (!s) {
		free(d->title);
		free(d);
		return -EINVAL;
	}
	d->screen = s;
	curses_on = 1;
	if (!atexit_done)
		atexit_done = !atexit(restore_terminal);
	install_fatal_handlers();

	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	/* Esc alone must go back at once, not after the usual second. */
	set_escdelay(25);
	curs_set(0);
	draw__init_colors(d);
	draw__screen(d);
	*out = d;
	return 0;
}

void display__close(struct display *d)
{
	if (!d)
		return;
	if (curses_on) {
		curs_set(1);
		restore_terminal();
	}
	remove_fatal_handlers();
	delscreen(d->screen);
	rows__free_frames(d);
	free(d->rows);
	free(d->title);
	free(d);
}

/* Once the first snapshot shows how many processes there are, choose the
 * first view: several processes get the process list even when not
 * system-wide; one gets its stacks directly. */
static void choose_first_view(struct display *d)
{
	if (d->has_proc_view || !d->r->nr_procs)
		return;
	if (d->r->nr_procs > 1) {
		d->has_proc_view = true;
		if (!d->have_data && d->view == VIEW_STACKS)
			d->view = VIEW_PROCS;
		if (!d->have_data && d->view == VIEW_HELP)
			d->help_from = VIEW_PROCS;
		return;
	}
	if (!d->have_data || !rows__find_proc(d, d->pid))
		d->pid = d->r->procs[0].pid;
}

void display__update(struct display *d, const struct mt_report *r, const struct history *h,
		     double uptime_s, double events_per_s)
{
	if (!d)
		return;
	d->r = r;
	d->h = h;
	d->uptime_s = uptime_s;
	d->events_per_s = events_per_s;
	if (r)
		choose_first_view(d);
	d->have_data = r != NULL;
	rows__refresh_frames(d);
	d->rows_stale = true;
	draw__screen(d);
}

double display__interval(const struct display *d)
{
	return d ? d->interval_s : 1.0;
}

bool display__paused(const struct display *d)
{
	return d && d->paused;
}

bool display__take_snapshot_request(struct display *d)
{
	bool r = d && d->snapshot_req;

	if (d)
		d->snapshot_req = false;
	return r;
}

static void show_message(struct display *d, const char *msg)
{
	snprintf(d->msg, sizeof(d->msg), "%s", msg);
	d->msg_until = now_s() + MSG_S;
	d->dirty = true;
}

void display__message(struct display *d, const char *msg)
{
	if (!d || !msg)
		return;
	show_message(d, msg);
	draw__screen(d);
}

/* ------------------------------------------------------------ keys */

static void set_view(struct display *d, enum view v)
{
	d->view = v;
	d->rows_stale = true;
	d->dirty = true;
}

static void open_selected(struct display *d)
{
	const struct row *r;

	if (d->rows_stale)
		rows__rebuild(d);
	if ((d->view != VIEW_PROCS && d->view != VIEW_STACKS) ||
	    d->pos[d->view].sel >= (int)d->nr_rows)
		return;
	r = &d->rows[d->pos[d->view].sel];
	if (d->view == VIEW_PROCS) {
		if (r->p->pid != d->pid) {
			d->pid = r->p->pid;
			d->sel_stack = 0;
			d->follow[VIEW_STACKS] = false;
			d->pos[VIEW_STACKS] = (struct listpos){ 0, 0 };
		}
		set_view(d, VIEW_STACKS);
		return;
	}
	if (rows__copy_frames(d, r->p, r->s)) {
		show_message(d, "out of memory");
		return;
	}
	d->pos[VIEW_FRAMES] = (struct listpos){ 0, 0 };
	set_view(d, VIEW_FRAMES);
}

/* Back one view; false when already in the first. */
static bool go_back(struct display *d)
{
	switch (d->view) {
	case VIEW_HELP:
		set_view(d, d->help_from);
		return true;
	case VIEW_FRAMES:
		set_view(d, VIEW_STACKS);
		return true;
	case VIEW_STACKS:
		if (!d->has_proc_view)
			return false;
		set_view(d, VIEW_PROCS);
		return true;
	default:
		return false;
	}
}

static void move_selection(struct display *d, int delta, bool absolute)
{
	struct listpos *pos = &d->pos[d->view];
	int n = draw__nr_lines(d), page = draw__page(d);

	if (d->view == VIEW_HELP) {
		/* Help has no selection: it scrolls. */
		pos->top = absolute ? delta : pos->top + delta;
		if (pos->top > n - page)
			pos->top = n - page;
		if (pos->top < 0)
			pos->top = 0;
	} else {
		pos->sel = absolute ? delta : pos->sel + delta;
		if (pos->sel >= n)
			pos->sel = n - 1;
		if (pos->sel < 0)
			pos->sel = 0;
		d->follow[d->view] = true;
		rows__remember_selection(d);
	}
	d->dirty = true;
}

/* Sort: s goes to the next column, < and > left and right; columns that
 * cannot be sorted on are stepped over. */
static void move_sort(struct display *d, int dir, bool wrap)
{
	enum table t = rows__table_of(d);
	int n = (int)rows__nr_columns(t), i = d->sort[t], k;

	if (d->view != VIEW_PROCS && d->view != VIEW_STACKS)
		return;
	for (k = 0; k < n; k++) {
		i += dir;
		if (i < 0 || i >= n) {
			if (!wrap)
				return;
			i = (i + n) % n;
		}
		if (rows__column(t, i)->cmp)
			break;
	}
	d->sort[t] = i;
	d->rows_stale = true;
	d->dirty = true;
}

static void change_interval(struct display *d, int dir)
{
	char b[64];
	int i, n = (int)ARRAY_SIZE(intervals);

	if (dir > 0) {
		for (i = 0; i < n - 1 && intervals[i] <= d->interval_s + 1e-9; i++)
			;
	} else {
		for (i = n - 1; i > 0 && intervals[i] >= d->interval_s - 1e-9; i--)
			;
	}
	d->interval_s = intervals[i];
	snprintf(b, sizeof(b), "refresh every %g s", d->interval_s);
	show_message(d, b);
}

static void filter_key(struct display *d, int ch)
{
	switch (ch) {
	case KEY_ESC:
		d->editing = false;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		d->editing = false;
		memcpy(d->filter, d->edit, d->edit_len + 1);
		d->rows_stale = true;
		d->pos[d->view].sel = 0;
		d->pos[d->view].top = 0;
		d->follow[d->view] = false;
		break;
	case KEY_BACKSPACE:
	case KEY_DEL:
	case '\b':
		if (d->edit_len)
			d->edit[--d->edit_len] = '\0';
		break;
	case KEY_CTRL_U:
		d->edit_len = 0;
		d->edit[0] = '\0';
		break;
	default:
		if (ch >= 0x20 && ch < 0x100 && ch != KEY_DEL &&
		    d->edit_len + 1 < sizeof(d->edit)) {
			d->edit[d->edit_len++] = (char)ch;
			d->edit[d->edit_len] = '\0';
		}
		break;
	}
	d->dirty = true;
}

static void start_filter(struct display *d)
{
	if (d->view != VIEW_PROCS && d->view != VIEW_STACKS)
		return;
	d->editing = true;
	d->edit_len = strlen(d->filter);
	memcpy(d->edit, d->filter, d->edit_len + 1);
	d->dirty = true;
}

/* One key; true when the user quits. */
static bool handle_key(struct display *d, int ch)
{
	int page = draw__page(d);

	if (d->editing && ch != KEY_RESIZE) {
		filter_key(d, ch);
		return false;
	}
	switch (ch) {
	case 'q':
		return !go_back(d);
	case KEY_ESC:
	case KEY_BACKSPACE:
	case KEY_DEL:
	case '\b':
	case KEY_LEFT:
		go_back(d);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
		open_selected(d);
		break;
	case KEY_UP:
	case 'k':
		move_selection(d, -1, false);
		break;
	case KEY_DOWN:
	case 'j':
		move_selection(d, 1, false);
		break;
	case KEY_PPAGE:
		move_selection(d, -page, false);
		break;
	case KEY_NPAGE:
	case ' ':
		move_selection(d, page, false);
		break;
	case KEY_HOME:
	case 'g':
		move_selection(d, 0, true);
		break;
	case KEY_END:
	case 'G':
		move_selection(d, 1 << 30, true);
		break;
	case 's':
		move_sort(d, 1, true);
		break;
	case '>':
	case '.':
		move_sort(d, 1, false);
		break;
	case '<':
	case ',':
		move_sort(d, -1, false);
		break;
	case 'r':
		if (d->view == VIEW_PROCS || d->view == VIEW_STACKS) {
			d->reverse[rows__table_of(d)] ^= true;
			d->rows_stale = true;
		}
		break;
	case 'p':
		d->paused = !d->paused;
		show_message(d, d->paused ? "paused: the snapshot shown stays until p" :
			     "resumed");
		break;
	case '+':
	case '=':
		change_interval(d, 1);
		break;
	case '-':
	case '_':
		change_interval(d, -1);
		break;
	case '/':
		start_filter(d);
		break;
	case 'f':
		d->snapshot_req = true;
		show_message(d, "writing a snapshot...");
		break;
	case '?':
	case 'h':
	case KEY_F(1):
		if (d->view == VIEW_HELP) {
			go_back(d);
		} else {
			d->help_from = d->view;
			d->pos[VIEW_HELP] = (struct listpos){ 0, 0 };
			set_view(d, VIEW_HELP);
		}
		break;
	case KEY_CTRL_L:
	case KEY_RESIZE:
		/* The terminal may have rewrapped what it showed: repaint it all. */
		clearok(curscr, TRUE);
		break;
	default:
		return false;
	}
	d->dirty = true;
	return false;
}

enum display_action display__poll(struct display *d, double timeout_s)
{
	bool quit = false, had_msg;
	int ch, ms;

	if (!d)
		return DISPLAY_NONE;
	if (timeout_s > 60)
		timeout_s = 60;
	ms = timeout_s > 0 ? (int)(timeout_s * 1000 + 0.5) : 0;
	had_msg = d->msg_until > 0;
	timeout(ms);
	ch = getch();
	/* Everything typed since: a held key must not queue up redraws. */
	timeout(0);
	while (ch != ERR && !quit) {
		quit = handle_key(d, ch);
		if (!quit)
			ch = getch();
	}
	if (had_msg && d->msg_until <= now_s()) {
		d->msg_until = 0;
		d->dirty = true;
	}
	if (quit)
		return DISPLAY_QUIT;
	if (d->dirty)
		draw__screen(d);
	return DISPLAY_NONE;
}
