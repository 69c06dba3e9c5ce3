/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace as a node agent (--serve ADDR): an HTTP server, on a thread of
 * its own, that answers from the last report the main loop published:
 * pprof heap profiles, Prometheus metrics, a page for people. It never
 * touches the BPF maps or the symbolizer: a slow, stuck or hostile client
 * costs the tracing nothing.
 */
#ifndef MEMTRACE_SERVE_H
#define MEMTRACE_SERVE_H

#include <stdbool.h>
#include <stddef.h>

struct mt_report_ref;
struct server;

struct serve_opts {
	const char *addr;	/* as given: PORT, :PORT, HOST:PORT, [V6]:PORT */
	size_t metrics_top;	/* stacks given as series on /metrics */
	double interval_s;	/* how often reports are published (the page's refresh) */
	const char *title;	/* what is traced, for the page */
};

/* Bind and start serving; one error line and -errno on failure. */
int serve__start(const struct serve_opts *o, struct server **out);
/* "http://127.0.0.1:6060/", the address bound. */
const char *serve__url(const struct server *s);
/* The report requests are answered from from now on; takes the caller's reference. */
void serve__publish(struct server *s, struct mt_report_ref *ref);
/*
 * Whether a report should be published now, out of turn: none was yet, or a
 * profile of the change over N seconds waits for its first or last look.
 * At most a few a second, however many requests ask.
 */
bool serve__wants_report(struct server *s);
/* Stop serving; requests still waiting get a 503. NULL-safe. */
void serve__stop(struct server *s);

#endif
