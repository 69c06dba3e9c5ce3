/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Report writers and output files: exact JSON and folded text for small
 * hand-built reports, escaping of hostile names, the human report's lines,
 * and the all-or-nothing behaviour of output files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "report/format.h"
#include "report/report.h"
#include "util/output_file.h"
#include "unit.h"

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		abort();
	return p;
}

static void set_frame(struct mt_frame *fr, const char *fn, const char *mod, uint64_t off,
		      const char *file, int line, bool inlined)
{
	fr->function = xstrdup(fn);
	fr->module = xstrdup(mod);
	fr->offset = off;
	fr->file = xstrdup(file);
	fr->line = line;
	fr->inlined = inlined;
}

static struct mt_proc_report *add_proc(struct mt_report *r, uint32_t pid, const char *comm,
				       size_t nr_stacks)
{
	struct mt_proc_report *p;

	r->procs = realloc(r->procs, (r->nr_procs + 1) * sizeof(*r->procs));
	if (!r->procs)
		abort();
	p = &r->procs[r->nr_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	strncpy(p->comm, comm, sizeof(p->comm) - 1);
	p->runtime = "native";
	p->allocator = xstrdup("glibc");
	p->nr_stacks = nr_stacks;
	p->nr_stacks_total = nr_stacks;
	p->stacks = nr_stacks ? xcalloc(nr_stacks, sizeof(*p->stacks)) : NULL;
	return p;
}

static struct mt_stack_report *set_stack(struct mt_proc_report *p, size_t i, int64_t live,
					 size_t nr_frames)
{
	struct mt_stack_report *s = &p->stacks[i];

	s->live_bytes = live;
	s->live_allocs = live > 0 ? 1 : 0;
	s->alloc_bytes_total = live > 0 ? live : 0;
	s->allocs_total = 1;
	s->oldest_age_s = live > 0 ? 1.0 : -1;
	s->nr_frames = nr_frames;
	s->frames = nr_frames ? xcalloc(nr_frames, sizeof(*s->frames)) : NULL;
	return s;
}

/* Run a writer into memory; returns the malloc'd text and the writer's result. */
enum fmt { FMT_JSON, FMT_TEXT, FMT_FOLDED };

static char *render(const struct mt_report *r, enum fmt fmt, size_t top_n, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	if (fmt == FMT_JSON)
		*ret = report_json__write(r, f);
	else if (fmt == FMT_TEXT)
		*ret = report_text__write(r, f, top_n);
	else
		*ret = report_folded__write(r, f);
	fclose(f);
	return buf;
}

static char tmpdir[] = "/tmp/test_report.XXXXXX";

/* Parse with an independent JSON parser when one is installed. */
static int json_parses(const char *text, const char *name)
{
	char path[256], cmd[512];
	FILE *f;
	int rc;

	if (system("python3 -c '' >/dev/null 2>&1") != 0) {
		printf("# python3 missing: not parsing %s\n", name);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s.json", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return 0;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; "
		 "json.load(open(sys.argv[1], encoding=\"utf-8\"))' %s",
		 path);
	rc = system(cmd);
	unlink(path);
	return rc == 0;
}

static const char expected_json[] =
"{\n"
"  \"version\": 1,\n"
"  \"duration_s\": 3.0,\n"
"  \"lost_events\": 5,\n"
"  \"counters\": {\n"
"    \"allocs_map_full\": 5,\n"
"    \"stacks_map_full\": 0,\n"
"    \"stack_truncated\": 1,\n"
"    \"stack_read_failed\": 0,\n"
"    \"missed_returns\": 0,\n"
"    \"unknown_frees\": 7,\n"
"    \"addr_reused\": 0,\n"
"    \"failed_allocs\": 18446744073709551615,\n"
"    \"vm_events_lost\": 0,\n"
"    \"procs_map_full\": 0,\n"
"    \"stacks_stored\": 0,\n"
"    \"go_samples_map_full\": 0,\n"
"    \"go_samples\": 0,\n"
"    \"stack_cut\": 0,\n"
"    \"stack_deferred\": 0,\n"
"    \"stack_defer_lost\": 0,\n"
"    \"py_stack_truncated\": 0,\n"
"    \"py_stack_read_failed\": 0,\n"
"    \"py_events_lost\": 0,\n"
"    \"walks_reused\": 0\n"
"  },\n"
"  \"maps\": {\n"
"    \"allocs\": { \"entries\": 12, \"max_entries\": 1048576 },\n"
"    \"stats\": { \"entries\": 0, \"max_entries\": 0 },\n"
"    \"stacks\": { \"entries\": 0, \"max_entries\": 0 },\n"
"    \"procs\": { \"entries\": 0, \"max_entries\": 0 },\n"
"    \"unwind_rows\": { \"entries\": 0, \"max_entries\": 0 }\n"
"  },\n"
"  \"kernel_bytes\": 0,\n"
"  \"tracking\": { \"mode\": \"exact\", \"sample_rate\": null, \"since_s\": null, \"why\": null },\n"
"  \"min_age_s\": 0.0,\n"
"  \"probes_single_stepped\": 1,\n"
"  \"probes\": [\n"
"    { \"function\": \"malloc\", \"path\": \"/lib/libjemalloc.so.2\", \"offset\": 145687, "
"\"site_offset\": 7, \"single_stepped\": false, \"why\": null },\n"
"    { \"function\": \"free\", \"path\": \"/lib/libjemalloc.so.2\", \"offset\": 162912, "
"\"site_offset\": 0, \"single_stepped\": true, \"why\": \"a \\\"reason\\\"\" }\n"
"  ],\n"
"  \"processes\": [\n"
"    {\n"
"      \"pid\": 1,\n"
"      \"comm\": \"x\",\n"
"      \"exe\": \"/path/x\",\n"
"      \"cgroup\": null,\n"
"      \"container_id\": null,\n"
"      \"runtime\": \"native\",\n"
"      \"allocator\": \"glibc\",\n"
"      \"allocator_path\": \"/usr/lib/x86_64-linux-gnu/libc.so.6\",\n"
"      \"rss_bytes\": 123,\n"
"      \"exited\": false,\n"
"      \"sampled\": false,\n"
"      \"sample_rate\": null,\n"
"      \"heap\": { \"live_bytes\": -9223372036854775807, \"live_allocs\": 2, "
"\"live_usable_bytes\": 0, "
"\"alloc_bytes_total\": 300, \"allocs_total\": 3, \"frees_total\": 1 },\n"
"      \"vm\": { \"mapped_bytes\": null, \"released_bytes\": null, \"retained_bytes\": null, "
"\"retained_upper_bound\": false, \"retained_estimate\": false, \"heap_resident_bytes\": null, "
"\"rss_bytes\": 123, "
"\"rss_anon_bytes\": 0, \"reconciled_bytes\": 0 },\n"
"      \"vm_stacks\": [],\n"
"      \"unresolved_frames\": 1,\n"
"      \"stacks_total\": 12,\n"
"      \"stacks\": [\n"
"        {\n"
"          \"live_bytes\": 100,\n"
"          \"live_allocs\": 1,\n"
"          \"alloc_bytes_total\": 100,\n"
"          \"allocs_total\": 1,\n"
"          \"frees_total\": 0,\n"
"          \"oldest_age_s\": 0.1,\n"
"          \"truncated\": true,\n"
"          \"frames\": [\n"
"            { \"function\": \"leak_here\", \"module\": \"/path/x\", \"offset\": 4660, "
"\"file\": \"leak.c\", \"line\": 42, \"inlined\": true },\n"
"            { \"function\": null, \"module\": null, \"offset\": 0, \"file\": null, "
"\"line\": null, \"inlined\": false }\n"
"          ]\n"
"        },\n"
"        {\n"
"          \"live_bytes\": 0,\n"
"          \"live_allocs\": 0,\n"
"          \"alloc_bytes_total\": 0,\n"
"          \"allocs_total\": 1,\n"
"          \"frees_total\": 0,\n"
"          \"oldest_age_s\": null,\n"
"          \"truncated\": false,\n"
"          \"frames\": []\n"
"        }\n"
"      ]\n"
"    }\n"
"  ]\n"
"}\n";

static void test_json_exact(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct mt_stack_report *s;
	char *out;
	int ret;

	r.duration_s = 3.0;
	r.lost_events = 5;
	r.counters[MT_CNT_ALLOCS_MAP_FULL] = 5;
	r.counters[MT_CNT_STACK_TRUNCATED] = 1;
	r.counters[MT_CNT_UNKNOWN_FREES] = 7;
	r.counters[MT_CNT_FAILED_ALLOCS] = UINT64_MAX;
	r.maps[MT_MAP_ALLOCS].entries = 12;
	r.maps[MT_MAP_ALLOCS].max_entries = 1048576;
	p = add_proc(&r, 1, "x", 2);
	p->exe = xstrdup("/path/x");
	p->allocator_path = xstrdup("/usr/lib/x86_64-linux-gnu/libc.so.6");
	p->rss_bytes = 123;
	p->heap = (struct mt_heap_totals){ -INT64_MAX, 2, 300, 3, 1 };
	p->vm.known = false;
	p->vm.mapped_bytes = 99;	/* must not show: not known */
	p->unresolved_frames = 1;
	p->nr_stacks_total = 12;
	s = set_stack(p, 0, 100, 2);
	s->oldest_age_s = 0.1;
	s->flags = MT_STACK_F_TRUNCATED;
	set_frame(&s->frames[0], "leak_here", "/path/x", 4660, "leak.c", 42, true);
	set_frame(&s->frames[1], NULL, NULL, 0, NULL, 0, false);
	set_stack(p, 1, 0, 0);
	r.probes = calloc(2, sizeof(*r.probes));
	r.nr_probes = 2;
	r.probes_single_stepped = 1;
	r.probes[0] = (struct mt_probe_report){ xstrdup("/lib/libjemalloc.so.2"), xstrdup("malloc"),
						0x23917, 7, false, NULL };
	r.probes[1] = (struct mt_probe_report){ xstrdup("/lib/libjemalloc.so.2"), xstrdup("free"),
						0x27c60, 0, true, "a \"reason\"" };

	out = render(&r, FMT_JSON, 0, &ret);
	CHECK(ret == 0, "json: write returns 0");
	CHECK(out && !strcmp(out, expected_json), "json: exact text of a small report");
	if (out && strcmp(out, expected_json))
		printf("# got:\n%s", out);
	CHECK(json_parses(out, "exact"), "json: small report parses");
	free(out);

	/* vm known, exe null, exited, nothing at all in the stack list. */
	mt_report__free(&r);
	CHECK(r.procs == NULL && r.nr_procs == 0, "free: leaves an empty report");
	mt_report__free(&r);
	p = add_proc(&r, 7, "y", 0);
	p->exited = true;
	p->vm = (struct mt_vm_totals){ .known = true, .mapped_bytes = 4096, .released_bytes = 1024,
				       .retained_bytes = 3072, .retained_known = true,
				       .heap_resident_bytes = 8192, .reconciled_bytes = 12288 };
	out = render(&r, FMT_JSON, 0, &ret);
	CHECK(ret == 0 && strstr(out, "\"exe\": null,"), "json: exe null");
	CHECK(strstr(out, "\"allocator_path\": null,"), "json: allocator_path null");
	CHECK(strstr(out, "\"exited\": true,"), "json: exited true");
	CHECK(strstr(out, "\"vm\": { \"mapped_bytes\": 4096, \"released_bytes\": 1024, "
		      "\"retained_bytes\": 3072, \"retained_upper_bound\": false, "
		      "\"retained_estimate\": false, \"heap_resident_bytes\": 8192, \"rss_bytes\": 0, \"rss_anon_bytes\": 0, "
		      "\"reconciled_bytes\": 12288 },"),
	      "json: known vm figures");
	CHECK(strstr(out, "\"stacks\": []\n"), "json: empty stack list");
	CHECK(json_parses(out, "nulls"), "json: report with nulls parses");
	free(out);
	mt_report__free(&r);

	out = render(&r, FMT_JSON, 0, &ret);
	CHECK(ret == 0 && strstr(out, "\"processes\": []\n}\n"), "json: no processes");
	CHECK(json_parses(out, "empty"), "json: empty report parses");
	free(out);
}

static void test_json_escaping(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct mt_stack_report *s;
	char *out;
	int ret;

	r.duration_s = NAN;
	r.min_age_s = 1e300;
	p = add_proc(&r, 2, "", 1);
	/* A comm that fills its array without a NUL. */
	memset(p->comm, 'c', sizeof(p->comm));
	p->exe = xstrdup("/a\"b\\c\x01\n\x1f\x7f");
	free(p->allocator);
	p->allocator = xstrdup("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	p->allocator_path = xstrdup("bad\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82");
	s = set_stack(p, 0, 1, 1);
	s->oldest_age_s = INFINITY;
	set_frame(&s->frames[0], "operator\"\"_x\t", "/m", 1, "f\r.c", 1, false);

	out = render(&r, FMT_JSON, 0, &ret);
	CHECK(ret == 0, "json escaping: write returns 0");
	CHECK(strstr(out, "\"duration_s\": null,"), "json: NaN printed as null");
	CHECK(strstr(out, "\"min_age_s\": 1e+300,"), "json: large double");
	CHECK(strstr(out, "\"oldest_age_s\": null,"), "json: infinite age printed as null");
	CHECK(strstr(out, "\"comm\": \"cccccccccccccccccccccccccccccccc\","),
	      "json: comm without NUL stops at its array");
	CHECK(strstr(out, "\"exe\": \"/a\\\"b\\\\c\\u0001\\u000a\\u001f\x7f\","),
	      "json: quote, backslash and control characters escaped");
	CHECK(strstr(out, "\"allocator\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","),
	      "json: valid UTF-8 kept as is");
	CHECK(strstr(out, "\"allocator_path\": \"bad\\ufffd|\\ufffd\\ufffd|"
		      "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\","),
	      "json: invalid, overlong, surrogate, too large and cut UTF-8 replaced");
	CHECK(strstr(out, "\"function\": \"operator\\\"\\\"_x\\u0009\""),
	      "json: function name escaped");
	CHECK(strstr(out, "\"file\": \"f\\u000d.c\""), "json: file name escaped");
	CHECK(json_parses(out, "escaping"), "json: hostile names still parse");
	free(out);
	mt_report__free(&r);
}

static void test_folded(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p, *q;
	struct mt_stack_report *s;
	const char *want;
	char *out;
	int ret;

	p = add_proc(&r, 42, "srv;x", 6);
	s = set_stack(p, 0, 100, 2);
	set_frame(&s->frames[0], "leak_here", "/bin/srv", 0x10, NULL, 0, false);
	set_frame(&s->frames[1], "main", "/bin/srv", 0x20, NULL, 0, false);
	set_stack(p, 1, 0, 1);	/* nothing live: no line */
	set_frame(&p->stacks[1].frames[0], "freed", NULL, 0, NULL, 0, false);
	s = set_stack(p, 2, 50, 3);
	set_frame(&s->frames[0], "ns::op;x\nnl", "/usr/lib/libfoo.so", 0x1A2B, NULL, 0, false);
	set_frame(&s->frames[1], NULL, "/usr/lib/libfoo.so", 0xBEEF, NULL, 0, false);
	set_frame(&s->frames[2], NULL, NULL, 0x1234, NULL, 0, false);
	/* Same text as the first stack from another site: bytes summed there. */
	s = set_stack(p, 3, 25, 2);
	set_frame(&s->frames[0], "leak_here", "/bin/srv", 0x14, NULL, 0, false);
	set_frame(&s->frames[1], "main", "/bin/srv", 0x20, NULL, 0, false);
	s = set_stack(p, 4, 10, 1);
	set_frame(&s->frames[0], NULL, "nodir.so", 0xff, NULL, 0, false);
	set_stack(p, 5, -3, 0);

	out = render(&r, FMT_FOLDED, 0, &ret);
	CHECK(ret == 0, "folded: write returns 0");
	want = "srv:x;main;leak_here 125\n"
	       "srv:x;[unknown];libfoo.so+0xbeef;ns::op:x nl 50\n"
	       "srv:x;nodir.so+0xff 10\n";
	CHECK(out && !strcmp(out, want),
	      "folded: one process, reversed, escaped, merged, fallbacks");
	if (out && strcmp(out, want))
		printf("# got:\n%s", out);
	free(out);

	q = add_proc(&r, 7, "srv;x", 1);
	s = set_stack(q, 0, 4096, 1);
	set_frame(&s->frames[0], "main", "/bin/srv", 0x20, NULL, 0, false);
	out = render(&r, FMT_FOLDED, 0, &ret);
	CHECK(ret == 0 && out && !strcmp(out,
			     "srv:x/42;main;leak_here 125\n"
			     "srv:x/42;[unknown];libfoo.so+0xbeef;ns::op:x nl 50\n"
			     "srv:x/42;nodir.so+0xff 10\n"
			     "srv:x/7;main 4096\n"),
	      "folded: several processes are told apart by pid");
	free(out);
	mt_report__free(&r);

	out = render(&r, FMT_FOLDED, 0, &ret);
	CHECK(ret == 0 && out && !*out, "folded: empty report writes nothing");
	free(out);
}

static void test_human_bytes(void)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{ 0, "0 B" }, { 512, "512 B" }, { 1023, "1023 B" }, { 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" }, { 12.3 * 1048576, "12.3 MiB" }, { 1048575, "1.0 MiB" },
		{ 1073741824.0 * 1.2, "1.2 GiB" }, { 1099511627776.0, "1.0 TiB" },
		{ 1099511627776.0 * 2048, "2048.0 TiB" }, { -2048, "-2.0 KiB" },
		{ NAN, "? B" },
	};
	char buf[32], small[4];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mt_human_bytes(cases[i].v, buf, sizeof(buf));
		CHECK(!strcmp(buf, cases[i].s), "human bytes: %s (got %s)", cases[i].s, buf);
	}
	CHECK(mt_human_bytes(123456, small, sizeof(small)) == small && strlen(small) == 3,
	      "human bytes: truncated to the buffer");
}

static void test_counters(void)
{
	static const char *const names[MT_CNT_MAX] = {
		"allocs_map_full", "stacks_map_full", "stack_truncated", "stack_read_failed",
		"missed_returns", "unknown_frees", "addr_reused", "failed_allocs", "vm_events_lost",
		"procs_map_full", "stacks_stored", "go_samples_map_full", "go_samples", "stack_cut",
		"stack_deferred", "stack_defer_lost", "py_stack_truncated", "py_stack_read_failed",
		"py_events_lost", "walks_reused",
	};
	/* Python's: the bytes are counted all the same (frames cut short, or left unnamed). */
	static const bool loss[MT_CNT_MAX] = { true, true, false, false, true, false, true, false,
					       true, true, false, true, false, false, false, false,
					       false, false, false, false };
	int c, ok = 1;

	for (c = 0; c < MT_CNT_MAX; c++)
		ok &= !strcmp(mt_counter_name(c), names[c]) && mt_counter_is_loss(c) == loss[c];
	CHECK(ok, "counters: names and loss flags");
	CHECK(!strcmp(mt_counter_remedy(MT_CNT_ALLOCS_MAP_FULL), "--max-allocs") &&
	      !strcmp(mt_counter_remedy(MT_CNT_STACKS_MAP_FULL), "--max-stacks") &&
	      !strcmp(mt_counter_remedy(MT_CNT_VM_EVENTS_LOST), "--vm-buffer") &&
	      !strcmp(mt_counter_remedy(MT_CNT_GO_SAMPLES_MAP_FULL), "--go-sample-rate") &&
	      !mt_counter_remedy(MT_CNT_MISSED_RETURNS) && !mt_counter_remedy(MT_CNT_ADDR_REUSED),
	      "counters: remedies");
}

static void test_text(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct mt_stack_report *s;
	char *out;
	int ret;

	r.duration_s = 3;
	r.counters[MT_CNT_ALLOCS_MAP_FULL] = 1234;
	r.counters[MT_CNT_MISSED_RETURNS] = 2;
	r.counters[MT_CNT_UNKNOWN_FREES] = 56789;
	p = add_proc(&r, 4242, "server", 3);
	p->exe = xstrdup("/usr/bin/server");
	p->allocator_path = xstrdup("/usr/lib/x86_64-linux-gnu/libc.so.6");
	p->exited = true;
	p->heap = (struct mt_heap_totals){ (int64_t)(12.3 * 1048576), 1204,
					   (uint64_t)(1.2 * 1073741824), 3400112, 3398908 };
	p->rss_bytes = 40.1 * 1048576;
	p->unresolved_frames = 3;
	p->nr_stacks_total = 1000;
	s = set_stack(p, 0, 4 << 20, 2);
	s->live_allocs = 400;
	s->alloc_bytes_total = 8 << 20;
	s->allocs_total = 800;
	s->oldest_age_s = 12.5;
	s->flags = MT_STACK_F_TRUNCATED;
	set_frame(&s->frames[0], "leak_here", "/path/x", 0x1234, NULL, 0, false);
	set_frame(&s->frames[1], "main", "/path/x", 0x1300, "main.c", 9, false);
	s = set_stack(p, 1, 0, 0);
	s = set_stack(p, 2, 512, 1);
	set_frame(&s->frames[0], NULL, NULL, 0xdead, NULL, 0, false);
	p = add_proc(&r, 7, "idle", 1);
	set_stack(p, 0, 0, 0);

	out = render(&r, FMT_TEXT, 0, &ret);
	CHECK(ret == 0, "text: write returns 0");
	CHECK(strstr(out, "PID 4242 (server) /usr/bin/server  allocator: glibc "
		      "(/usr/lib/x86_64-linux-gnu/libc.so.6)  [exited]\n"), "text: process header");
	CHECK(strstr(out, "  live 12.3 MiB in 1,204 allocations; allocated 1.2 GiB in 3,400,112 "
		      "calls, freed 3,398,908; RSS 40.1 MiB\n"), "text: process totals");
	CHECK(strstr(out, "  #1  4.0 MiB live in 400 allocations (oldest 12.5 s), "
		      "8.0 MiB allocated in 800 calls  [truncated]\n"), "text: first stack");
	CHECK(strstr(out, "\n        leak_here            /path/x+0x1234\n"
		      "        main                 /path/x+0x1300  main.c:9\n"), "text: frames");
	CHECK(strstr(out, "  #2  512 B live in 1 allocation (oldest 1.0 s), 512 B allocated "
		      "in 1 call\n        ??                   [unknown] 0xdead\n"),
	      "text: second stack skips the one with nothing live");
	CHECK(!strstr(out, "#3"), "text: stacks with nothing live are not listed");
	CHECK(strstr(out, "PID 7 (idle)  allocator: glibc\n") &&
	      strstr(out, "\n  no live allocations\n"), "text: process with nothing live");
	CHECK(strstr(out, "\nWARNING: 1,234 allocations not recorded: the allocation map was "
		      "full; increase --max-allocs\n"), "text: map-full warning with remedy");
	CHECK(strstr(out, "\nWARNING: 2 allocator calls whose return was never seen") &&
	      !strstr(out, "recorded; increase"), "text: missed returns, no remedy");
	CHECK(strstr(out, "\ninfo: 56,789 frees of blocks allocated before tracing began "
		      "(or never seen)\n"), "text: unknown frees explained");
	CHECK(strstr(out, "\ninfo: 3 stack frames could not be symbolized"),
	      "text: unresolved frames");
	CHECK(!strstr(out, "addr") && !strstr(out, "--max-stacks"),
	      "text: no line for counters at zero");
	free(out);

	out = render(&r, FMT_TEXT, 1, &ret);
	CHECK(ret == 0 && strstr(out, "#1 ") && !strstr(out, "#2"), "text: top_n limits stacks");
	free(out);
	mt_report__free(&r);
	memset(&r, 0, sizeof(r));

	out = render(&r, FMT_TEXT, 0, &ret);
	CHECK(ret == 0 && !strstr(out, "WARNING") && !strstr(out, "info:"),
	      "text: clean empty report has no warnings");
	free(out);
}

static char *read_all(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int write_whole(const char *path, const char *text)
{
	struct out_file *of;
	int err = out_file__open(path, &of);

	if (err)
		return err;
	fputs(text, out_file__stream(of));
	return out_file__commit(of);
}

static void test_out_file(void)
{
	char path[300], sub[300], link[300], bad[320];
	struct out_file *of, *of2;
	struct stat st;
	char *s;
	int err;

	snprintf(path, sizeof(path), "%s/out/report.json", tmpdir);
	snprintf(sub, sizeof(sub), "%s/out", tmpdir);
	if (mkdir(sub, 0755) < 0)
		abort();

	CHECK(out_file__check_writable(path) == 0 && count_entries(sub) == 0,
	      "out_file: check_writable leaves nothing behind");
	CHECK(write_whole(path, "old\n") == 0 && (s = read_all(path)) && !strcmp(s, "old\n"),
	      "out_file: commit creates the file");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "out_file: mode 0644");

	err = out_file__open(path, &of);
	CHECK(err == 0 && count_entries(sub) == 2, "out_file: open makes a temporary file");
	if (err)
		return;
	fputs("new\n", out_file__stream(of));
	fflush(out_file__stream(of));
	CHECK((s = read_all(path)) && !strcmp(s, "old\n"),
	      "out_file: old file intact while writing");
	out_file__abort(of);
	CHECK((s = read_all(path)) && !strcmp(s, "old\n") && count_entries(sub) == 1,
	      "out_file: abort keeps the old file and removes the temporary one");

	CHECK(write_whole(path, "new\n") == 0 && (s = read_all(path)) && !strcmp(s, "new\n") &&
	      count_entries(sub) == 1, "out_file: commit replaces");
	CHECK(write_whole(path, "third\n") == 0 && (s = read_all(path)) && !strcmp(s, "third\n"),
	      "out_file: same path written again (periodic reports)");

	/* Two writers at once get their own temporary files. */
	err = out_file__open(path, &of);
	err = err ? err : out_file__open(path, &of2);
	CHECK(!err && count_entries(sub) == 3, "out_file: two opens of one path");
	if (err)
		return;
	fputs("a\n", out_file__stream(of));
	fputs("b\n", out_file__stream(of2));
	CHECK(out_file__commit(of) == 0 && out_file__commit(of2) == 0 &&
	      (s = read_all(path)) && !strcmp(s, "b\n") && count_entries(sub) == 1,
	      "out_file: last commit wins, no temporary file left");

	/* The rename fails when a non-empty directory took the file's place. */
	err = out_file__open(path, &of);
	CHECK(!err, "out_file: open again after commits");
	if (err)
		return;
	fputs("lost\n", out_file__stream(of));
	unlink(path);
	snprintf(bad, sizeof(bad), "%s/keep", path);
	mkdir(path, 0755);
	close(open(bad, O_CREAT | O_WRONLY, 0644));
	err = out_file__commit(of);
	CHECK(err == -EISDIR || err == -ENOTEMPTY || err == -EEXIST,
	      "out_file: failed rename returns -errno (%d)", err);
	CHECK(count_entries(sub) == 1 && count_entries(path) == 1,
	      "out_file: failed commit removes the temporary file");
	CHECK(out_file__open(path, &of) == -EISDIR && out_file__check_writable(path) == -EISDIR,
	      "out_file: a directory is refused at open");
	unlink(bad);
	rmdir(path);

	snprintf(bad, sizeof(bad), "%s/missing/report.json", tmpdir);
	CHECK(out_file__open(bad, &of) == -ENOENT && of == NULL,
	      "out_file: missing directory is -ENOENT at open");
	CHECK(out_file__check_writable(bad) == -ENOENT, "out_file: check_writable -ENOENT");
	CHECK(out_file__open("", &of) == -EINVAL, "out_file: empty path refused");

	/* A symlink stays a symlink; its target gets the report. */
	snprintf(link, sizeof(link), "%s/link.json", tmpdir);
	CHECK(write_whole(path, "target\n") == 0 && symlink(path, link) == 0 &&
	      write_whole(link, "via link\n") == 0 && lstat(link, &st) == 0 &&
	      S_ISLNK(st.st_mode) && (s = read_all(path)) && !strcmp(s, "via link\n") &&
	      count_entries(tmpdir) == 2, "out_file: writing through a symlink");
	unlink(link);
	unlink(path);
	rmdir(sub);

	/* Device nodes are written in place, never replaced; errors still surface. */
	CHECK(out_file__check_writable("/dev/null") == 0, "out_file: /dev/null is writable");
	CHECK(write_whole("/dev/null", "x\n") == 0 && stat("/dev/null", &st) == 0 &&
	      S_ISCHR(st.st_mode), "out_file: /dev/null written, still a device");
	if (stat("/dev/full", &st) == 0) {
		err = out_file__open("/dev/full", &of);
		if (!err)
			fputs("x\n", out_file__stream(of));
		CHECK(!err && out_file__commit(of) == -ENOSPC,
		      "out_file: write error (ENOSPC) reported by commit");
	}

	CHECK(out_file__open("-", &of) == 0 && out_file__stream(of) == stdout,
	      "out_file: - is stdout");
	CHECK(out_file__commit(of) == 0, "out_file: committing stdout keeps it open");
	CHECK(fflush(stdout) == 0 && fileno(stdout) == 1, "out_file: stdout still usable");
}

static void test_write_error(void)
{
	struct mt_report r = { 0 };
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		return;
	add_proc(&r, 1, "x", 0);
	CHECK(report_json__write(&r, f) == -EIO, "json: write error returns -EIO");
	clearerr(f);
	CHECK(report_text__write(&r, f, 0) == -EIO, "text: write error returns -EIO");
	fclose(f);
	mt_report__free(&r);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_counters();
	test_json_exact();
	test_json_escaping();
	test_folded();
	test_human_bytes();
	test_text();
	test_out_file();
	test_write_error();
	CHECK(count_entries(tmpdir) == 0, "no files left in the test directory");
	rmdir(tmpdir);
	return unit_exit_summary();
}
