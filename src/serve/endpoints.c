/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What each path serves, from a report: the page, the metrics, the heap
 * profiles, the flame graph, the JSON report, pprof's index; and the
 * server's own figures. No HTTP here: serve.c answers with what this writes.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "serve/serve_internal.h"

/* Stacks the page lists. */
#define PAGE_TOP	20

static const struct route routes[] = {
	{ "/", EP_PAGE, "text/html; charset=utf-8", true },
	{ "/metrics", EP_METRICS, "text/plain; version=0.0.4; charset=utf-8", false },
	{ "/debug/pprof/heap", EP_HEAP, "application/octet-stream", true },
	{ "/debug/pprof/allocs", EP_ALLOCS, "application/octet-stream", true },
	{ "/flamegraph.svg", EP_SVG, "image/svg+xml", true },
	{ "/report.json", EP_JSON, "application/json", true },
	{ "/debug/pprof/", EP_INDEX, "text/html; charset=utf-8", false },
	{ "/debug/pprof", EP_INDEX, "text/html; charset=utf-8", false },
};

const struct route *endpoint__route(const char *url)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(url, routes[i].path))
			return &routes[i];
	return NULL;
}

static int write_pprof(const struct endpoint_ctx *x, FILE *f)
{
	struct pprof_opts po = {
		/* allocs is the same profile, read by default for what was allocated. */
		.default_sample_type = x->rt->ep == EP_ALLOCS ? "alloc_space" : NULL,
		.all_labels = true,
		.time_ns = (int64_t)llround(x->time_real * 1e9),
	};

	return report_pprof__write_opts(x->view, f, &po);
}

static int write_index(FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>/debug/pprof/</title></head><body>\n<p>Profiles (memtrace: the heap of "
	      "every traced process; <code>?pid=N</code> for one, <code>?seconds=N</code> for "
	      "the change over the next N seconds):</p>\n<ul>\n"
	      "<li><a href=\"allocs\">allocs</a>: the heap profile, bytes allocated by "
	      "default</li>\n"
	      "<li><a href=\"heap\">heap</a>: the heap profile, live bytes by default</li>\n"
	      "</ul>\n<p><a href=\"/\">memtrace</a></p>\n</body></html>\n", f);
	return ferror(f) ? -EIO : 0;
}

int endpoint__write(const struct endpoint_ctx *x, FILE *f)
{
	switch (x->rt->ep) {
	case EP_PAGE: {
		struct page_opts po = {
			.title = x->title, .interval_s = x->interval_s,
			.time_real = x->time_real, .pid = x->pid, .top = PAGE_TOP,
		};

		return page__write(x->r, f, &po);
	}
	case EP_METRICS: {
		struct metrics_opts mo = { .top = x->metrics_top, .time_real = x->time_real };

		return metrics__write(x->r, f, &mo);
	}
	case EP_HEAP:
	case EP_ALLOCS:
		return write_pprof(x, f);
	case EP_SVG:
		return report_svg__write(x->view, f);
	case EP_JSON:
		return report_json__write(x->view, f);
	case EP_INDEX:
		return write_index(f);
	default:
		return -EINVAL;
	}
}

const struct mt_report *endpoint__one_process(const struct mt_report *r, uint32_t pid,
					      struct mt_report *view)
{
	size_t i;

	for (i = 0; i < r->nr_procs; i++) {
		if (r->procs[i].pid != pid)
			continue;
		*view = *r;
		view->procs = &r->procs[i];
		view->nr_procs = 1;
		return view;
	}
	return NULL;
}

void endpoint__write_self(FILE *f, const struct self_figures *sf)
{
	unsigned long long size = 0, resident = 0;
	struct rusage ru;
	size_t i;
	FILE *statm;

	fputs("# HELP memtrace_http_requests_total Requests memtrace's server answered, by "
	      "status code.\n# TYPE memtrace_http_requests_total counter\n", f);
	for (i = 0; i < sf->nr_codes; i++)
		fprintf(f, "memtrace_http_requests_total{code=\"%u\"} %lu\n", sf->codes[i],
			sf->answered[i]);
	statm = fopen("/proc/self/statm", "re");
	if (statm) {
		if (fscanf(statm, "%llu %llu", &size, &resident) != 2)
			resident = 0;
		fclose(statm);
	}
	fprintf(f, "# HELP process_resident_memory_bytes memtrace's resident memory.\n"
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
		resident * (unsigned long long)sysconf(_SC_PAGESIZE));
	if (!getrusage(RUSAGE_SELF, &ru))
		fprintf(f, "# HELP process_cpu_seconds_total memtrace's CPU time, user and system.\n"
			"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
			(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	fprintf(f, "# HELP process_start_time_seconds When memtrace started, s since the epoch.\n"
		"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
		sf->start_real);
}

