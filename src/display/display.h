/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The full-screen live display (ncurses), a consumer of the same snapshot
 * the text and JSON reports are written from. It owns the terminal and
 * restores it on every way out: q, Ctrl-C, SIGTERM, a crash.
 */
#ifndef MEMTRACE_DISPLAY_H
#define MEMTRACE_DISPLAY_H

#include <stdbool.h>
#include "snapshot/history.h"
#include "report/report.h"

struct display;

struct display_opts {
	bool system_wide;	/* opens on the process list */
	double interval_s;	/* refresh interval; the user may change it with + and - */
	const char *title;	/* what is traced, e.g. "pid 4242 (server)" or "all processes" */
};

enum display_action {
	DISPLAY_NONE = 0,	/* nothing to do: keep going */
	DISPLAY_QUIT,		/* the user pressed q */
};

/* Set the terminal up. -ENOTTY when stdout is not a terminal. */
int display__open(const struct display_opts *o, struct display **out);

/* Show a new snapshot (r and h stay valid until the next call). */
void display__update(struct display *d, const struct mt_report *r, const struct history *h,
		     double uptime_s, double events_per_s);

/*
 * Wait up to timeout_s for keys and handle them (redrawing as needed).
 * Returns DISPLAY_QUIT when the user quits.
 */
enum display_action display__poll(struct display *d, double timeout_s);

/* The interval the user chose (+/-), and whether refreshes are paused (p). */
double display__interval(const struct display *d);
bool display__paused(const struct display *d);

/*
 * Set by the display when the user pressed f: main writes the current
 * snapshot (JSON and folded) and reports where with display__message().
 */
bool display__take_snapshot_request(struct display *d);
void display__message(struct display *d, const char *msg);

/* Restore the terminal; NULL-safe. */
void display__close(struct display *d);

#endif
