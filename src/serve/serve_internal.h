/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the server's files share: the writers its endpoints are made of. */
#ifndef MEMTRACE_SERVE_INTERNAL_H
#define MEMTRACE_SERVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "report/report.h"

/* ----------------------------------------------------------- endpoints.c */

enum endpoint { EP_PAGE, EP_METRICS, EP_HEAP, EP_ALLOCS, EP_SVG, EP_JSON, EP_INDEX, EP_MAX };

struct route {
	const char *path;
	enum endpoint ep;
	const char *type;	/* Content-Type */
	bool takes_pid;		/* ?pid= narrows it to one process */
};

/* The route of a path, or NULL. */
const struct route *endpoint__route(const char *path);

struct endpoint_ctx {
	const struct route *rt;
	const struct mt_report *r;	/* the whole report */
	const struct mt_report *view;	/* what the endpoint shows: r, or one process */
	double time_real;		/* when the report was read, s since the epoch */
	uint32_t pid;			/* ?pid=, 0 when none */
	const char *title;		/* what is traced */
	double interval_s;		/* reports are published this often */
	size_t metrics_top;
};

/* What rt serves, from x's report. */
int endpoint__write(const struct endpoint_ctx *x, FILE *f);
/* One process of r as a report of its own (view), or NULL when pid is not traced. */
const struct mt_report *endpoint__one_process(const struct mt_report *r, uint32_t pid,
					      struct mt_report *view);

/* The server's own figures, at the end of /metrics. */
struct self_figures {
	const unsigned int *codes;	/* status codes answered ... */
	const unsigned long *answered;	/* ... and how often */
	size_t nr_codes;
	double start_real;		/* when memtrace started */
};

void endpoint__write_self(FILE *f, const struct self_figures *sf);

/* ---------------------------------------------------------------- addr.c */

struct serve_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * ADDR as --serve takes it: "PORT" and ":PORT" are loopback (127.0.0.1),
 * "HOST:PORT" and "[V6]:PORT" that address (a name is resolved; 0.0.0.0 and
 * [::] are every interface). Port 0 picks a free one. -EINVAL with *why set
 * when ADDR cannot be one.
 */
int serve_addr__parse(const char *addr, struct serve_addr *out, const char **why);
/* "127.0.0.1:6060" or "[::1]:6060" of a bound address. */
void serve_addr__str(const struct sockaddr *sa, char *buf, size_t len);

/* --------------------------------------------------------------- delta.c */

/*
 * end - base, per process (by pid; a process whose comm changed is another
 * one) and per stack (by id): every figure is the change between the two
 * reports, stacks with no change are left out, a process only base had is
 * left out (it is gone). The result borrows every string of end and base:
 * free it with delta__free() before either, never with mt_report__free().
 */
int delta__build(const struct mt_report *base, const struct mt_report *end, double seconds,
		 struct mt_report *out);
void delta__free(struct mt_report *r);

/* ------------------------------------------------------------- metrics.c */

struct metrics_opts {
	size_t top;		/* stacks by live bytes given as series */
	double time_real;	/* when the report was read, s since the epoch */
};

/* The report as Prometheus text exposition (format 0.0.4). */
int metrics__write(const struct mt_report *r, FILE *f, const struct metrics_opts *o);
/* A stack's id on /metrics and the page: 16 hex digits, from its frames. */
void metrics__stack_id(const struct mt_stack_report *s, char buf[17]);
/*
 * A label value: UTF-8 (a malformed byte becomes U+FFFD), at most max
 * bytes then "..", with \, " and newline escaped as the format wants.
 */
void metrics__put_label_value(FILE *f, const char *s, size_t max);

/* ---------------------------------------------------------------- page.c */

struct page_opts {
	const char *title;	/* what is traced */
	double interval_s;	/* the page reloads its tables this often */
	double time_real;	/* when the report was read */
	uint32_t pid;		/* the process shown; 0: all */
	size_t top;		/* stacks listed */
};

/* The page for people: processes, top stacks, the flame graph. */
int page__write(const struct mt_report *r, FILE *f, const struct page_opts *o);

#endif
