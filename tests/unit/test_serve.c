/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The server's pure parts: --serve's address, the delta of two reports
 * (?seconds=), the Prometheus writer (exact lines, escaping, the bound on
 * stack series, figures left out when unknown), the page's escaping, and the
 * pprof options the server uses (labels, default sample type, the period of
 * sampled figures).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "report/report.h"
#include "serve/serve_internal.h"
#include "unit.h"

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

/* ------------------------------------------------------------------ addresses */

static void check_addr(const char *addr, int family, const char *host, unsigned int port)
{
	struct serve_addr a;
	const char *why = NULL;
	char buf[64], want[64];
	int err = serve_addr__parse(addr, &a, &why);

	if (!CHECK(err == 0 && a.ss.ss_family == family, "'%s' parses (err %d, %s)", addr, err,
		   err ? why : "ok"))
		return;
	serve_addr__str((struct sockaddr *)&a.ss, buf, sizeof(buf));
	snprintf(want, sizeof(want), family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	CHECK(!strcmp(buf, want), "'%s' is %s (got %s)", addr, want, buf);
}

static void check_bad_addr(const char *addr, const char *why_want)
{
	struct serve_addr a;
	const char *why = NULL;
	int err = serve_addr__parse(addr, &a, &why);

	CHECK(err == -EINVAL && why && !strcmp(why, why_want), "'%s' is refused: %s (got %d, %s)",
	      addr, why_want, err, why ? why : "-");
}

static void test_addresses(void)
{
	check_addr("6060", AF_INET, "127.0.0.1", 6060);
	check_addr(":0", AF_INET, "127.0.0.1", 0);
	check_addr("0.0.0.0:9100", AF_INET, "0.0.0.0", 9100);
	check_addr("10.1.2.3:80", AF_INET, "10.1.2.3", 80);
	check_addr("[::1]:8080", AF_INET6, "::1", 8080);
	check_addr("[::]:65535", AF_INET6, "::", 65535);
	check_addr("localhost:7", AF_INET, "127.0.0.1", 7);
	check_bad_addr("", "expected PORT, HOST:PORT or [IPV6]:PORT");
	check_bad_addr("[::1]", "expected PORT, HOST:PORT or [IPV6]:PORT");
	check_bad_addr("[::1]8080", "expected PORT, HOST:PORT or [IPV6]:PORT");
	check_bad_addr("::1:80", "an IPv6 address goes in brackets: [::1]:PORT");
	check_bad_addr("127.0.0.1:65536", "invalid port (0-65535)");
	check_bad_addr("127.0.0.1:", "invalid port (0-65535)");
	check_bad_addr("127.0.0.1:-1", "invalid port (0-65535)");
	check_bad_addr("http", "invalid port (0-65535)");
	check_bad_addr("[]:80", "empty IPv6 address");
	check_bad_addr("[10.0.0.1]:80", "invalid address");
}

/* ------------------------------------------------------------------ reports */

static struct mt_proc_report *add_proc(struct mt_report *r, uint32_t pid, const char *comm)
{
	struct mt_proc_report *p;

	r->procs = realloc(r->procs, (r->nr_procs + 1) * sizeof(*r->procs));
	if (!r->procs)
		abort();
	p = &r->procs[r->nr_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->runtime = "native";
	p->exe = xstrdup("/bin/srv");
	p->cgroup = xstrdup("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef"
			    "0123456789abcdef.scope");
	snprintf(p->container_id, sizeof(p->container_id),
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	return p;
}

/* One frame per name, innermost first; a stack id; live and allocated figures. */
static struct mt_stack_report *add_stack(struct mt_proc_report *p, uint64_t id, const char *fn,
					 const char *caller, int64_t live, int64_t live_allocs,
					 uint64_t alloc, uint64_t allocs)
{
	struct mt_stack_report *s;

	p->stacks = realloc(p->stacks, (p->nr_stacks + 1) * sizeof(*p->stacks));
	if (!p->stacks)
		abort();
	s = &p->stacks[p->nr_stacks++];
	p->nr_stacks_total = p->nr_stacks;
	memset(s, 0, sizeof(*s));
	s->stack_id = id;
	s->live_bytes = live;
	s->live_allocs = live_allocs;
	s->alloc_bytes_total = alloc;
	s->allocs_total = allocs;
	s->frees_total = allocs - (uint64_t)live_allocs;
	s->oldest_age_s = -1;
	s->nr_frames = 2;
	s->frames = calloc(2, sizeof(*s->frames));
	if (!s->frames)
		abort();
	s->frames[0].function = xstrdup(fn);
	s->frames[0].module = xstrdup("/bin/srv");
	s->frames[0].offset = 0x1000 + id;
	s->frames[1].function = xstrdup(caller);
	s->frames[1].module = xstrdup("/bin/srv");
	s->frames[1].offset = 0x2000;
	p->heap.live_bytes += live;
	p->heap.live_allocs += live_allocs;
	p->heap.alloc_bytes_total += alloc;
	p->heap.allocs_total += allocs;
	p->heap.frees_total += s->frees_total;
	return s;
}

static const struct mt_stack_report *find_stack(const struct mt_proc_report *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < p->nr_stacks; i++)
		if (p->stacks[i].stack_id == id)
			return &p->stacks[i];
	return NULL;
}

static void test_delta(void)
{
	struct mt_report base = { 0 }, end = { 0 }, d;
	const struct mt_stack_report *s;
	struct mt_proc_report *p;
	int err;

	p = add_proc(&base, 10, "srv");
	add_stack(p, 1, "grow", "main", 1000, 1, 1000, 1);
	add_stack(p, 2, "same", "main", 500, 5, 800, 8);
	add_stack(p, 4, "gone", "main", 300, 3, 300, 3);
	add_proc(&base, 11, "exited");
	base.counters[MT_CNT_UNKNOWN_FREES] = 2;

	p = add_proc(&end, 10, "srv");
	add_stack(p, 2, "same", "main", 500, 5, 800, 8);
	add_stack(p, 1, "grow", "main", 4000, 4, 6000, 6);
	add_stack(p, 3, "new", "main", 70, 7, 70, 7);
	p = add_proc(&end, 12, "born");
	add_stack(p, 5, "all", "main", 9, 1, 9, 1);
	p = add_proc(&end, 10 + 100, "other");
	end.counters[MT_CNT_UNKNOWN_FREES] = 5;

	err = delta__build(&base, &end, 2.5, &d);
	if (!CHECK(err == 0, "delta__build returns 0 (%d)", err))
		return;
	CHECK(d.nr_procs == 3 && d.procs[0].pid == 10 && d.procs[1].pid == 12,
	      "delta: the later report's processes, the exited one left out (%zu)", d.nr_procs);
	CHECK(d.duration_s == 2.5 && d.counters[MT_CNT_UNKNOWN_FREES] == 3,
	      "delta: duration the window, counters the change");
	p = &d.procs[0];
	CHECK(p->nr_stacks == 3 && !find_stack(p, 2), "delta: an unchanged stack is left out (%zu)",
	      p->nr_stacks);
	s = find_stack(p, 1);
	CHECK(s && s->live_bytes == 3000 && s->live_allocs == 3 && s->alloc_bytes_total == 5000 &&
	      s->allocs_total == 5, "delta: a stack that grew is the growth");
	s = find_stack(p, 3);
	CHECK(s && s->live_bytes == 70 && s->allocs_total == 7, "delta: a new stack is all of it");
	s = find_stack(p, 4);
	CHECK(s && s->live_bytes == -300 && s->live_allocs == -3 &&
	      (int64_t)s->alloc_bytes_total == -300 && !strcmp(s->frames[0].function, "gone"),
	      "delta: a stack gone is negative, named as before");
	CHECK(p->heap.live_bytes == 4570 - 1800, "delta: the process's live bytes (%lld)",
	      (long long)p->heap.live_bytes);
	CHECK(d.procs[1].nr_stacks == 1 && d.procs[1].stacks[0].live_bytes == 9,
	      "delta: a process the first look did not have is all of it");
	delta__free(&d);
	mt_report__free(&base);
	mt_report__free(&end);
}

/* ------------------------------------------------------------------ metrics */

static char *write_to_string(int (*fn)(const struct mt_report *, FILE *, const void *),
			     const struct mt_report *r, const void *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		abort();
	err = fn(r, f, o);
	fclose(f);
	CHECK(err == 0, "writer returns 0 (%d)", err);
	return buf;
}

static int metrics_fn(const struct mt_report *r, FILE *f, const void *o)
{
	return metrics__write(r, f, o);
}

static int page_fn(const struct mt_report *r, FILE *f, const void *o)
{
	return page__write(r, f, o);
}

static int pprof_fn(const struct mt_report *r, FILE *f, const void *o)
{
	return report_pprof__write_opts(r, f, o);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_label_values(void)
{
	static const struct {
		const char *in;
		size_t max;
		const char *out;
	} cases[] = {
		{ "plain", 64, "plain" },
		{ "a\"b\\c\nd", 64, "a\\\"b\\\\c\\nd" },
		{ "bad\xff utf-8", 64, "bad\xef\xbf\xbd utf-8" },
		{ "\xc3\xa9t\xc3\xa9", 64, "\xc3\xa9t\xc3\xa9" },
		{ "0123456789", 4, "0123.." },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9", 5, "\xc3\xa9\xc3\xa9.." },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		metrics__put_label_value(f, cases[i].in, cases[i].max);
		fclose(f);
		CHECK(!strcmp(buf, cases[i].out), "label value %zu: '%s' (got '%s')", i, cases[i].out,
		      buf);
		free(buf);
	}
}

static void test_metrics(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p, *go;
	struct metrics_opts mo = { .top = 2, .time_real = 1700000000.5 };
	char id[17], line[256], *text;

	r.duration_s = 12;
	r.counters[MT_CNT_ALLOCS_MAP_FULL] = 3;
	r.lost_events = 3;
	p = add_proc(&r, 42, "srv \"x\"");
	add_stack(p, 1, "leak", "main", 5000, 5, 5000, 5);
	add_stack(p, 2, "cache", "main", 700, 7, 900, 9);
	add_stack(p, 3, "small", "main", 10, 1, 10, 1);
	p->rss_bytes = 1 << 20;
	p->vm.known = true;
	p->vm.mapped_bytes = 4096;
	go = add_proc(&r, 43, "gosrv");
	go->runtime = "go";
	go->live_unknown = true;
	add_stack(go, 9, "main.alloc", "main.main", 0, 0, 64, 1);
	p = &r.procs[0];	/* add_proc moved the array */

	text = write_to_string(metrics_fn, &r, &mo);
	CHECK(strstr(text, "memtrace_live_bytes{pid=\"42\",comm=\"srv \\\"x\\\"\"} 5710\n") != NULL,
	      "metrics: live bytes, comm escaped");
	CHECK(!strstr(text, "memtrace_live_bytes{pid=\"43\""), "metrics: Go without live "
	      "figures: no live bytes series");
	CHECK(strstr(text, "memtrace_alloc_bytes_total{pid=\"43\",comm=\"gosrv\"} 64\n") != NULL,
	      "metrics: Go's bytes allocated");
	CHECK(strstr(text, "memtrace_mapped_bytes{pid=\"42\",comm=\"srv \\\"x\\\"\"} 4096\n") &&
	      !strstr(text, "memtrace_retained_bytes{"), "metrics: mapped known, retained not");
	CHECK(count(text, "memtrace_stack_live_bytes{") == 2, "metrics: --metrics-top 2: two "
	      "stack series");
	metrics__stack_id(&p->stacks[0], id);
	snprintf(line, sizeof(line), "memtrace_stack_live_bytes{pid=\"42\",stack=\"%s\","
		 "top_frame=\"leak\"} 5000\n", id);
	CHECK(strstr(text, line) != NULL, "metrics: the top stack's series: %s", line);
	CHECK(!strstr(text, "top_frame=\"small\""), "metrics: the third stack is left out");
	CHECK(strstr(text, "memtrace_allocs_map_full_total 3\n") &&
	      strstr(text, "memtrace_lost_events_total 3\n"), "metrics: counters");
	CHECK(strstr(text, "container_id=\"0123456789abcdef0123456789abcdef0123456789abcdef"
		     "0123456789abcdef\"") != NULL, "metrics: container id on the info metric");
	CHECK(count(text, "# TYPE memtrace_live_bytes gauge\n") == 1 &&
	      count(text, "# TYPE memtrace_allocs_total counter\n") == 1,
	      "metrics: one TYPE line per family");
	CHECK(strstr(text, "memtrace_report_timestamp_seconds 1700000000.500\n") != NULL,
	      "metrics: the report's time");
	free(text);

	/* Two stacks whose frames read the same are one series (Prometheus takes no twins). */
	p->stacks[1].frames[0].offset = p->stacks[0].frames[0].offset;
	free(p->stacks[1].frames[0].function);
	p->stacks[1].frames[0].function = xstrdup("leak");
	text = write_to_string(metrics_fn, &r, &mo);
	snprintf(line, sizeof(line), "memtrace_stack_live_bytes{pid=\"42\",stack=\"%s\","
		 "top_frame=\"leak\"} 5700\n", id);
	CHECK(strstr(text, line) && count(text, "memtrace_stack_live_bytes{") == 2,
	      "metrics: stacks alike merged into one series");
	free(text);

	/* A pid reused while the exited process is still shown: the live one only. */
	r.procs[1].pid = 42;
	snprintf(r.procs[1].comm, sizeof(r.procs[1].comm), "%s", r.procs[0].comm);
	r.procs[0].exited = true;
	text = write_to_string(metrics_fn, &r, &mo);
	CHECK(count(text, "memtrace_process_info{pid=\"42\"") == 1 &&
	      strstr(text, "memtrace_process_exited{pid=\"42\",comm=\"srv \\\"x\\\"\"} 0\n") &&
	      count(text, "memtrace_stack_live_bytes{") == 0,
	      "metrics: a pid twice: the live process's series only");
	free(text);
	mt_report__free(&r);
}

static void test_page(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct page_opts po = { .title = "all <b>", .interval_s = 2, .time_real = 1e9, .top = 20 };
	char *html;

	p = add_proc(&r, 7, "<script>x");
	add_stack(p, 1, "std::vector<int, A<&>>::push", "bad\xff", 100, 1, 100, 1);
	html = write_to_string(page_fn, &r, &po);
	CHECK(strstr(html, "&lt;script&gt;x") && !strstr(html, "<script>x"),
	      "page: a comm is escaped");
	CHECK(strstr(html, "std::vector&lt;int, A&lt;&amp;&gt;&gt;::push") != NULL,
	      "page: a C++ name is escaped");
	CHECK(strstr(html, "bad\xef\xbf\xbd") != NULL, "page: malformed UTF-8 shown as U+FFFD");
	CHECK(strstr(html, "<title>memtrace: all &lt;b&gt;</title>") != NULL, "page: title");
	CHECK(count(html, "<script>") == 1 && !strstr(html, "http://") && !strstr(html, "https://"),
	      "page: one script, ours; nothing from elsewhere");
	CHECK(strstr(html, "data=\"flamegraph.svg\"") != NULL, "page: the flame graph");
	free(html);
	po.pid = 7;
	html = write_to_string(page_fn, &r, &po);
	CHECK(strstr(html, "data=\"flamegraph.svg?pid=7\"") && strstr(html, " class=\"sel\""),
	      "page ?pid=: that process's flame graph, its row marked");
	free(html);
	mt_report__free(&r);
}

/* ------------------------------------------------------------------ pprof options */

static uint8_t *inflate_all(const char *gz, size_t n, size_t *len)
{
	static uint8_t out[1 << 16];
	z_stream zs = { 0 };

	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		abort();
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	inflate(&zs, Z_FINISH);
	*len = sizeof(out) - zs.avail_out;
	inflateEnd(&zs);
	return out;
}

static bool contains(const uint8_t *p, size_t n, const void *what, size_t wn)
{
	size_t i;

	for (i = 0; i + wn <= n; i++)
		if (!memcmp(p + i, what, wn))
			return true;
	return false;
}

static void test_pprof_opts(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct pprof_opts o = { .default_sample_type = "alloc_space", .all_labels = true,
				.time_ns = 1 };
	char *gz = NULL;
	size_t gzlen = 0, len;
	const uint8_t *pb;
	FILE *f;

	p = add_proc(&r, 42, "srv");
	add_stack(p, 1, "leak", "main", 5000, 5, 5000, 5);
	p->sampled = true;
	p->sample_rate = 524288;
	f = open_memstream(&gz, &gzlen);
	CHECK(pprof_fn(&r, f, &o) == 0, "pprof with options");
	fclose(f);
	pb = inflate_all(gz, gzlen, &len);
	CHECK(contains(pb, len, "\x32\x03pid\x32\x04" "comm\x32\x03" "exe\x32\x06" "cgroup"
		       "\x32\x0c" "container_id", 38), "pprof: one process, every label key");
	CHECK(contains(pb, len, "\x32\x02" "42", 4), "pprof: pid as a string label");
	/* period 524288, then default_sample_type 3 (alloc_space) last */
	CHECK(contains(pb, len, "\x60\x80\x80\x20\x70\x03", 6) && pb[len - 2] == 0x70 &&
	      pb[len - 1] == 0x03, "pprof: a sampled process's rate is the period; "
	      "default alloc_space");
	CHECK(!contains(pb, len, "sampled, 1 sample per", 21), "pprof: one rate, no comment");
	free(gz);

	/* A native process beside it: period 1, and a comment names the sampled one. */
	p = add_proc(&r, 50, "native");
	add_stack(p, 7, "f", "main", 10, 1, 10, 1);
	gz = NULL;
	f = open_memstream(&gz, &gzlen);
	CHECK(pprof_fn(&r, f, &o) == 0, "pprof of a mixed report");
	fclose(f);
	pb = inflate_all(gz, gzlen, &len);
	CHECK(contains(pb, len, "pid 42 (srv): live figures sampled, 1 sample per 524288 bytes",
		       60) && contains(pb, len, "\x60\x01\x70\x03", 4),
	      "pprof: mixed rates: period 1, a comment per sampled process");
	free(gz);
	mt_report__free(&r);
}

int main(void)
{
	test_addresses();
	test_delta();
	test_label_values();
	test_metrics();
	test_page();
	test_pprof_opts();
	return unit_exit();
}
