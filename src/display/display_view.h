/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The display's own state, shared by display.c (terminal, keys, life
 * cycle), display_rows.c (column tables, rows), display_draw.c (drawing)
 * and display_help.c. Not part of the API.
 */
#ifndef MEMTRACE_DISPLAY_VIEW_H
#define MEMTRACE_DISPLAY_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "display/display.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum view {
	VIEW_PROCS,		/* one row per process */
	VIEW_STACKS,		/* one row per call stack of one process */
	VIEW_FRAMES,		/* the frames of one call stack */
	VIEW_HELP,
	NR_VIEWS,
};

/* Column tables, one per kind of list. */
enum table {
	TABLE_PROCS,
	TABLE_STACKS,		/* native: live figures known */
	TABLE_GO_STACKS,	/* live_unknown: bytes allocated and rates */
	NR_TABLES,
};

/* One line of the process list or of a stack list. */
struct row {
	const struct mt_proc_report *p;
	const struct mt_stack_report *s;	/* NULL in the process list */
	const struct mt_frame *top;		/* the frame the stack is named by */
	bool has_stats;
	struct hist_stats st;
};

struct column {
	const char *name;	/* short name, lower case */
	const char *title;	/* header text */
	int width;		/* 0: the rest of the line (last column only) */
	bool left;		/* left-aligned (text) */
	int drop;		/* narrow terminals: dropped from the highest; 0: always shown */
	const char *description;
	/* Natural order, "more interesting" first; NULL: cannot sort on it. */
	int (*cmp)(const struct row *a, const struct row *b);
	void (*fmt)(const struct display *d, const struct row *r, char *buf, size_t len);
};

struct listpos {
	int sel;		/* index of the selected line */
	int top;		/* index of the first line shown */
};

/* What the frames view shows: copied, since the report it came from is
 * replaced by every refresh and the stack may leave it. */
struct frames_copy {
	uint32_t pid;
	char comm[32];
	bool live_unknown;
	int64_t sample_rate;	/* live figures estimated, 1 sample per so many bytes */
	bool gone;		/* no longer in the latest report */
	struct mt_stack_report s;
};

#define DISPLAY_FILTER_MAX 128
#define DISPLAY_MSG_MAX 256

struct display {
	struct display_opts opts;
	char *title;
	void *screen;		/* SCREEN * */
	bool utf8;
	bool colors;
	double interval_s;
	bool paused;
	bool snapshot_req;

	/* The latest snapshot; valid until the next display__update(). */
	const struct mt_report *r;
	const struct history *h;
	double uptime_s;
	double events_per_s;
	bool have_data;

	enum view view;
	enum view help_from;	/* the view help returns to */
	bool has_proc_view;	/* the process list is the top view */
	uint32_t pid;		/* process of the stack view */
	struct listpos pos[NR_VIEWS];
	/* The user moved the selection: it follows its process or stack when
	 * the order changes; until then it stays on the first line. */
	bool follow[NR_VIEWS];
	uint32_t sel_pid;	/* selection, kept across refreshes */
	uint64_t sel_stack;
	int sort[NR_TABLES];	/* index of the sort column */
	bool reverse[NR_TABLES];

	struct row *rows;	/* of the process or stack view */
	size_t nr_rows, cap_rows;
	bool rows_stale;
	const struct column *cols[16];	/* columns shown, after narrowing */
	size_t nr_cols;

	struct frames_copy fr;
	bool fr_valid;

	char filter[DISPLAY_FILTER_MAX];
	bool editing;
	char edit[DISPLAY_FILTER_MAX];
	size_t edit_len;

	char msg[DISPLAY_MSG_MAX];
	double msg_until;	/* monotonic seconds; 0: no message */
	bool dirty;
};

/* display_rows.c: columns and rows */
size_t rows__nr_columns(enum table t);
const struct column *rows__column(enum table t, size_t i);
int rows__default_sort(enum table t);
int rows__last_min_width(enum table t);
enum table rows__table_of(const struct display *d);
const struct mt_proc_report *rows__find_proc(const struct display *d, uint32_t pid);
int rows__rebuild(struct display *d);
void rows__remember_selection(struct display *d);
int rows__copy_frames(struct display *d, const struct mt_proc_report *p,
		      const struct mt_stack_report *s);
void rows__refresh_frames(struct display *d);
void rows__free_frames(struct display *d);
void rows__age(double s, char *buf, size_t len);
void rows__growth(const struct row *r, char *buf, size_t len);
void rows__count(double n, char *buf, size_t len);

/* display_help.c */
bool help__line(int i, char *buf, size_t len);

/* display_draw.c: the screen */
void draw__init_colors(struct display *d);
void draw__screen(struct display *d);
/* Lines of the current view, and how many fit on a page. */
int draw__nr_lines(const struct display *d);
int draw__page(const struct display *d);

#endif
