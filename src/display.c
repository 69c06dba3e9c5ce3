// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Placeholder until the ncurses display lands: reports it is unavailable. */
#include <errno.h>
#include "display.h"

int display__open(const struct display_opts *o, struct display **out)
{
	(void)o;
	*out = NULL;
	return -ENOTSUP;
}

void display__update(struct display *d, const struct mt_report *r, const struct history *h,
		     double uptime_s, double events_per_s)
{
	(void)d; (void)r; (void)h; (void)uptime_s; (void)events_per_s;
}

enum display_action display__poll(struct display *d, double timeout_s)
{
	(void)d; (void)timeout_s;
	return DISPLAY_NONE;
}

double display__interval(const struct display *d)
{
	(void)d;
	return 1.0;
}

bool display__paused(const struct display *d)
{
	(void)d;
	return false;
}

bool display__take_snapshot_request(struct display *d)
{
	(void)d;
	return false;
}

void display__message(struct display *d, const char *msg)
{
	(void)d; (void)msg;
}

void display__close(struct display *d)
{
	(void)d;
}
