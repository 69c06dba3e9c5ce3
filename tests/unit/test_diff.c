/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --diff's pieces: a report written by the JSON writer reads back the same,
 * malformed reports are refused with a reason, processes and call paths are
 * paired as documented, and the text and folded outputs are exact for two
 * small hand-written reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/diff.h"
#include "util/json_read.h"
#include "report/report.h"
#include "unit.h"

/* text -> report; the error code, with why filled in. */
static int load(const char *text, struct mt_report *r, char *why, size_t why_len)
{
	struct json_error jerr;
	struct json_doc *doc;
	int err;

	memset(r, 0, sizeof(*r));
	err = json_doc__parse(text, strlen(text), &doc, &jerr);
	if (err) {
		snprintf(why, why_len, "JSON: %s", jerr.msg);
		return err;
	}
	err = diff__report_from_json(json_doc__root(doc), r, why, why_len);
	json_doc__free(doc);
	return err;
}

static bool streq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* ------------------------------------------------------------ round trip */

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

static void set_frame(struct mt_frame *fr, const char *fn, const char *mod, uint64_t off,
		      const char *file, int line, bool inlined)
{
	memset(fr, 0, sizeof(*fr));
	fr->function = xstrdup(fn);
	fr->mangled = xstrdup(fn);
	fr->module = xstrdup(mod);
	fr->offset = off;
	fr->file = xstrdup(file);
	fr->line = line;
	fr->inlined = inlined;
}

static void build_report(struct mt_report *r)
{
	struct mt_proc_report *p;
	struct mt_stack_report *s;

	memset(r, 0, sizeof(*r));
	r->duration_s = 2.5;
	r->min_age_s = 1;
	r->lost_events = 3;
	r->counters[MT_CNT_ALLOCS_MAP_FULL] = 3;
	r->counters[MT_CNT_FAILED_ALLOCS] = 9;
	r->nr_procs = 2;
	r->procs = calloc(2, sizeof(*r->procs));
	if (!r->procs)
		abort();

	p = &r->procs[0];
	p->pid = 4242;
	strcpy(p->comm, "srv;\"x\"");
	p->exe = xstrdup("/bin/srv");
	p->runtime = "native";
	p->allocator = xstrdup("glibc");
	p->rss_bytes = 1 << 20;
	p->exited = true;
	p->heap = (struct mt_heap_totals){ 1500, 3, 9000, 30, 27 };
	p->unresolved_frames = 1;
	p->nr_stacks = 1;
	p->nr_stacks_total = 5;
	p->stacks = s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	*s = (struct mt_stack_report){ .live_bytes = 1500, .live_allocs = 3,
		.alloc_bytes_total = 9000, .allocs_total = 30, .frees_total = 27,
		.oldest_age_s = 1.25, .flags = MT_STACK_F_TRUNCATED, .nr_frames = 3 };
	s->frames = calloc(3, sizeof(*s->frames));
	if (!s->frames)
		abort();
	set_frame(&s->frames[0], "inl\xc3\xa9", "/bin/srv", 0x1234, "a.c", 7, true);
	set_frame(&s->frames[1], "caller", "/bin/srv", 0x1234, "a.c", 20, false);
	set_frame(&s->frames[2], NULL, NULL, 0x7f0000001000ULL, NULL, 0, false);

	p = &r->procs[1];
	p->pid = 7;
	strcpy(p->comm, "goprog");
	p->runtime = "go";
	p->live_unknown = true;
	p->heap.alloc_bytes_total = 1 << 30;
	p->heap.allocs_total = 1000;
}

static void test_round_trip(void)
{
	struct mt_report r, back;
	const struct mt_stack_report *s, *b;
	char *text = NULL, why[160] = "";
	size_t len = 0, i;
	FILE *m = open_memstream(&text, &len);
	int err;

	build_report(&r);
	if (!m || report_json__write(&r, m) || fclose(m))
		abort();
	err = load(text, &back, why, sizeof(why));
	CHECK(!err, "the JSON writer's output reads back (%s)", why);
	if (err)
		goto out;
	CHECK(back.duration_s == 2.5 && back.min_age_s == 1 && back.lost_events == 3 &&
	      back.counters[MT_CNT_ALLOCS_MAP_FULL] == 3 && back.counters[MT_CNT_FAILED_ALLOCS] == 9,
	      "report figures and counters");
	CHECK(back.nr_procs == 2, "two processes");
	if (back.nr_procs != 2)
		goto out;
	CHECK(back.procs[0].pid == 4242 && !strcmp(back.procs[0].comm, "srv;\"x\"") &&
	      streq(back.procs[0].exe, "/bin/srv") && !strcmp(back.procs[0].runtime, "native") &&
	      streq(back.procs[0].allocator, "glibc") && !back.procs[0].allocator_path &&
	      back.procs[0].rss_bytes == 1 << 20 && back.procs[0].exited &&
	      !back.procs[0].live_unknown && back.procs[0].unresolved_frames == 1 &&
	      back.procs[0].nr_stacks_total == 5,
	      "process fields");
	CHECK(!memcmp(&back.procs[0].heap, &r.procs[0].heap, sizeof(r.procs[0].heap)),
	      "heap totals");
	CHECK(back.procs[0].nr_stacks == 1, "one stack");
	s = &r.procs[0].stacks[0];
	b = &back.procs[0].stacks[0];
	CHECK(b->live_bytes == 1500 && b->live_allocs == 3 && b->alloc_bytes_total == 9000 &&
	      b->allocs_total == 30 && b->frees_total == 27 && b->oldest_age_s == 1.25 &&
	      b->flags == MT_STACK_F_TRUNCATED && b->nr_frames == 3, "stack figures");
	for (i = 0; i < 3 && b->nr_frames == 3; i++) {
		CHECK(streq(b->frames[i].function, s->frames[i].function) &&
		      streq(b->frames[i].module, s->frames[i].module) &&
		      streq(b->frames[i].file, s->frames[i].file) &&
		      b->frames[i].offset == s->frames[i].offset &&
		      b->frames[i].line == s->frames[i].line &&
		      b->frames[i].inlined == s->frames[i].inlined &&
		      !b->frames[i].mangled && !b->frames[i].build_id, "frame %zu", i);
	}
	CHECK(back.procs[1].live_unknown && !strcmp(back.procs[1].runtime, "go") &&
	      back.procs[1].heap.alloc_bytes_total == 1 << 30 && back.procs[1].nr_stacks == 0,
	      "Go process: live figures unknown");
	mt_report__free(&back);
out:
	mt_report__free(&r);
	free(text);
}

static void expect_refused(const char *text, int code, const char *why_want)
{
	struct mt_report r;
	char why[160] = "";
	int err = load(text, &r, why, sizeof(why));

	CHECK(err == code && !strcmp(why, why_want) && !r.nr_procs && !r.procs,
	      "refused (%d): %s -> \"%s\"", err, text, why);
	mt_report__free(&r);
}

static void test_refused(void)
{
	expect_refused("[]", -EINVAL, "not a JSON object");
	expect_refused("{\"processes\": []}", -EINVAL, "no \"version\"");
	expect_refused("{\"version\": 1}", -EINVAL, "no \"processes\"");
	expect_refused("{\"version\": null, \"processes\": []}", -EINVAL, "no \"version\"");
	expect_refused("{\"version\": 2, \"processes\": []}", -ENOTSUP,
		       "report version 2, this memtrace reads 1");
	expect_refused("{\"version\": \"1\", \"processes\": []}", -EINVAL,
		       "version is not an integer");
	expect_refused("{\"version\": 1, \"processes\": {}}", -EINVAL,
		       "processes is not an array");
	expect_refused("{\"version\": 1, \"processes\": [1]}", -EINVAL,
		       "processes[0] is not an object");
	expect_refused("{\"version\": 1, \"counters\": [], \"processes\": []}", -EINVAL,
		       "counters is not an object");
	expect_refused("{\"version\": 1, \"processes\": [{\"pid\": 4294967296}]}", -EINVAL,
		       "processes[0].pid is out of range");
	expect_refused("{\"version\": 1, \"processes\": [{\"heap\": {\"live_bytes\": 1.5}}]}",
		       -EINVAL, "processes[0].heap.live_bytes is not an integer");
	expect_refused("{\"version\": 1, \"processes\": [{\"stacks\": [{\"frames\": "
		       "[{\"function\": \"f\"}, {\"offset\": -1}]}]}]}", -EINVAL,
		       "processes[0].stacks[0].frames[1].offset is out of range");
	expect_refused("{\"version\": 1, \"processes\": [{\"stacks\": [{\"truncated\": 0}]}]}",
		       -EINVAL, "processes[0].stacks[0].truncated is not true or false");
}

/* ------------------------------------------------------------- matching */

#define PROC(pid, comm) "{\"pid\": " #pid ", \"comm\": \"" comm "\", \"heap\": " \
	"{\"live_bytes\": 0}, \"stacks\": []}"

static void test_process_pairing(void)
{
	static const char old_text[] = "{\"version\": 1, \"processes\": [" PROC(10, "a") ","
		PROC(11, "b") "," PROC(12, "c") "," PROC(13, "e") "]}";
	static const char new_text[] = "{\"version\": 1, \"processes\": [" PROC(20, "a") ","
		PROC(11, "x") "," PROC(12, "c") "," PROC(30, "d") "]}";
	/* The pid of a restarted server taken by another program. */
	static const char reuse_old[] = "{\"version\": 1, \"processes\": [" PROC(100, "server") "]}";
	static const char reuse_new[] = "{\"version\": 1, \"processes\": [" PROC(100, "bash") ","
		PROC(200, "server") "]}";
	static const int want[5][2] = { { 10, 20 }, { 11, 11 }, { 12, 12 }, { 0, 30 }, { 13, 0 } };
	struct mt_report old, new;
	struct diff_result d;
	char why[160];
	size_t i;
	bool ok;

	if (load(old_text, &old, why, sizeof(why)) || load(new_text, &new, why, sizeof(why)))
		abort();
	ok = !diff__match(&old, &new, &d) && d.nr_procs == 5;
	for (i = 0; ok && i < 5; i++) {
		const struct diff_proc *dp = &d.procs[i];

		ok = (dp->old ? (int)dp->old->pid : 0) == want[i][0] &&
		     (dp->new ? (int)dp->new->pid : 0) == want[i][1];
	}
	CHECK(ok, "pairing: same pid and comm, then same comm (restart), then same pid (exec); "
	      "new and gone processes last");
	diff_result__free(&d);
	mt_report__free(&old);
	mt_report__free(&new);

	if (load(reuse_old, &old, why, sizeof(why)) || load(reuse_new, &new, why, sizeof(why)))
		abort();
	CHECK(!diff__match(&old, &new, &d) && d.nr_procs == 2 && !d.procs[0].old &&
	      d.procs[0].new->pid == 100 && d.procs[1].old && d.procs[1].old->pid == 100 &&
	      d.procs[1].new->pid == 200, "a reused pid: the comm wins");
	diff_result__free(&d);
	mt_report__free(&old);
	mt_report__free(&new);
}

/* Two snapshots of one server, restarted in between (pid 100, then 200). */
static const char diff_old[] =
	"{\"version\": 1, \"duration_s\": 1.0, \"processes\": [{\"pid\": 100, \"comm\": \"srv\","
	" \"heap\": {\"live_bytes\": 3300, \"live_allocs\": 4}, \"stacks\": ["
	"{\"live_bytes\": 2000, \"live_allocs\": 2, \"frames\": [{\"function\": \"shrink\"},"
	" {\"function\": \"main\"}]},"
	"{\"live_bytes\": 1000, \"live_allocs\": 1, \"frames\": [{\"function\": \"grow\","
	" \"module\": \"/bin/srv\", \"offset\": 16}, {\"function\": \"main\"}]},"
	"{\"live_bytes\": 300, \"live_allocs\": 1, \"frames\": [{\"function\": \"leak_gone\"},"
	" {\"function\": \"main\"}]},"
	"{\"live_bytes\": 0, \"live_allocs\": 0, \"allocs_total\": 5, \"frames\": "
	"[{\"function\": \"freed\"}, {\"function\": \"main\"}]}]}]}";

/* grow's two call sites (other offsets) are one call path; so are the two
 * stacks through the same unresolved address. */
static const char diff_new[] =
	"{\"version\": 1, \"duration_s\": 2.0, \"processes\": [{\"pid\": 200, \"comm\": \"srv\","
	" \"heap\": {\"live_bytes\": 5000, \"live_allocs\": 6}, \"stacks\": ["
	"{\"live_bytes\": 3000, \"live_allocs\": 3, \"frames\": [{\"function\": \"grow\","
	" \"module\": \"/bin/srv\", \"offset\": 32}, {\"function\": \"main\"}]},"
	"{\"live_bytes\": 1000, \"live_allocs\": 1, \"frames\": [{\"function\": \"grow\","
	" \"module\": \"/bin/srv\", \"offset\": 48}, {\"function\": \"main\"}]},"
	"{\"live_bytes\": 500, \"live_allocs\": 1, \"frames\": [{\"function\": \"shrink\"},"
	" {\"function\": \"main\"}]},"
	"{\"live_bytes\": 300, \"live_allocs\": 0, \"frames\": [{\"function\": null,"
	" \"module\": \"/lib/libx.so\", \"offset\": 153}, {\"function\": \"main\"}]},"
	"{\"live_bytes\": 200, \"live_allocs\": 1, \"frames\": [{\"function\": null,"
	" \"module\": \"/lib/libx.so\", \"offset\": 153}, {\"function\": \"main\"}]}]}]}";

static const char want_text[] =
	"\n"
	"PID 100 -> 200 (srv)\n"
	"  live 3.2 KiB -> 4.9 KiB (+1.7 KiB), 4 -> 6 allocations (+2)\n"
	"  grew: 2 call paths, top 2 by live bytes:\n"
	"  #1  +2.9 KiB, +3 allocations (1000 B in 1 -> 3.9 KiB in 4)\n"
	"        grow\n"
	"        main\n"
	"  #2  +500 B, +1 allocation (0 B in 0 -> 500 B in 1, new)\n"
	"        /lib/libx.so+0x99\n"
	"        main\n"
	"  shrank or gone: 2 call paths\n"
	"    -1.5 KiB, -1 allocation (2.0 KiB in 2 -> 500 B in 1)  shrink <- main\n"
	"    -300 B, -1 allocation (300 B in 1 -> 0 B in 0, gone)  leak_gone <- main\n";

static const char want_text_top1[] =
	"\n"
	"PID 100 -> 200 (srv)\n"
	"  live 3.2 KiB -> 4.9 KiB (+1.7 KiB), 4 -> 6 allocations (+2)\n"
	"  grew: 2 call paths, top 1 by live bytes:\n"
	"  #1  +2.9 KiB, +3 allocations (1000 B in 1 -> 3.9 KiB in 4)\n"
	"        grow\n"
	"        main\n"
	"  shrank or gone: 2 call paths\n"
	"    -1.5 KiB, -1 allocation (2.0 KiB in 2 -> 500 B in 1)  shrink <- main\n"
	"    ... and 1 more\n";

static const char want_folded[] =
	"srv;main;grow 1000 4000\n"
	"srv;main;leak_gone 300 0\n"
	"srv;main;libx.so+0x99 0 500\n"
	"srv;main;shrink 2000 500\n";

static char *capture(const struct diff_result *d, size_t top_n, bool folded)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int err;

	if (!m)
		abort();
	err = folded ? diff__write_folded(d, m) : diff__write_text(d, m, top_n);
	if (fclose(m) || err)
		CHECK(0, "writing the diff failed: %d", err);
	return text;
}

static void test_stacks_and_output(void)
{
	struct mt_report old, new;
	struct diff_result d;
	const struct diff_stack *s;
	char why[160], *text;

	if (load(diff_old, &old, why, sizeof(why)) || load(diff_new, &new, why, sizeof(why))) {
		CHECK(0, "the two test reports load: %s", why);
		return;
	}
	if (diff__match(&old, &new, &d)) {
		CHECK(0, "diff__match");
		goto out;
	}
	CHECK(d.nr_procs == 1 && d.procs[0].nr_stacks == 5, "one process, five call paths");
	s = d.procs[0].stacks;
	CHECK(s[0].old_bytes == 1000 && s[0].new_bytes == 4000 && s[0].new_allocs == 4 &&
	      s[0].new == &new.procs[0].stacks[0] && s[0].old == &old.procs[0].stacks[1],
	      "grow: both call sites summed, its largest stack kept");
	CHECK(s[1].old_bytes == 0 && !s[1].old && s[1].new_bytes == 500 && s[1].new_allocs == 1,
	      "unresolved frames matched by module and offset");
	CHECK(s[2].old && s[2].old_bytes == 0 && !s[2].new, "an unchanged empty path in the middle");

	text = capture(&d, 0, false);
	CHECK(text && !strcmp(text, want_text), "text output");
	if (text && strcmp(text, want_text))
		printf("# got:\n%s# want:\n%s", text, want_text);
	free(text);
	text = capture(&d, 1, false);
	CHECK(text && !strcmp(text, want_text_top1), "text output, top 1");
	if (text && strcmp(text, want_text_top1))
		printf("# got:\n%s", text);
	free(text);
	text = capture(&d, 0, true);
	CHECK(text && !strcmp(text, want_folded), "folded output: OLD and NEW columns");
	if (text && strcmp(text, want_folded))
		printf("# got:\n%s", text);
	free(text);
	diff_result__free(&d);
out:
	mt_report__free(&old);
	mt_report__free(&new);
}

/* A Go program's report: live figures from a heap sample, or (live null) none. */
#define GO_REPORT(sampled, rate, live, objs, alloc, calls)				\
	"{\"version\": 1, \"processes\": [{\"pid\": 5, \"comm\": \"gosrv\","		\
	" \"runtime\": \"go\", \"sampled\": " sampled ", \"sample_rate\": " rate ","	\
	" \"heap\": {\"live_bytes\": " live ", \"live_allocs\": " objs ","		\
	" \"alloc_bytes_total\": " alloc ", \"allocs_total\": " calls "},"		\
	" \"stacks\": [{\"live_bytes\": " live ", \"live_allocs\": " objs ","		\
	" \"alloc_bytes_total\": " alloc ", \"allocs_total\": " calls ","		\
	" \"frames\": [{\"function\": \"main.allocBig\"}]}]}]}"

static const char want_go_sampled[] =
	"\n"
	"PID 5 (gosrv)  runtime: go\n"
	"  live 1.0 MiB -> 3.0 MiB (+2.0 MiB), 1 -> 3 objects (+2); "
	"sampled estimates (1 sample per 16.0 KiB)\n"
	"  grew: 1 call path, top 1 by live bytes:\n"
	"  #1  +2.0 MiB, +2 objects (1.0 MiB in 1 -> 3.0 MiB in 3)\n"
	"        main.allocBig\n";

static const char want_go_unknown[] =
	"\n"
	"PID 5 (gosrv)  runtime: go\n"
	"  allocated 4.0 MiB -> 6.0 MiB (+2.0 MiB), 4 -> 6 calls (+2); "
	"live figures unknown, bytes allocated compared\n"
	"  grew: 1 call path, top 1 by bytes allocated:\n"
	"  #1  +2.0 MiB, +2 calls (4.0 MiB in 4 -> 6.0 MiB in 6)\n"
	"        main.allocBig\n";

/* Go: a sampled report's live figures are compared, and called estimates;
 * without them, bytes allocated are. */
static void test_go(void)
{
	static const char *const reports[2][2] = {
		{ GO_REPORT("true", "16384", "1048576", "1", "4194304", "4"),
		  GO_REPORT("true", "16384", "3145728", "3", "6291456", "6") },
		{ GO_REPORT("false", "null", "null", "null", "4194304", "4"),
		  GO_REPORT("false", "null", "null", "null", "6291456", "6") },
	};
	static const char *const want[2] = { want_go_sampled, want_go_unknown };
	struct mt_report old, new;
	struct diff_result d;
	char why[160], *text;
	int i;

	for (i = 0; i < 2; i++) {
		if (load(reports[i][0], &old, why, sizeof(why)) ||
		    load(reports[i][1], &new, why, sizeof(why))) {
			CHECK(0, "the Go reports load: %s", why);
			return;
		}
		CHECK(old.procs[0].sampled == !i && old.procs[0].sample_rate == (i ? 0 : 16384) &&
		      old.procs[0].live_unknown == !!i,
		      "Go report %d: sampled, rate, live known", i);
		if (diff__match(&old, &new, &d)) {
			CHECK(0, "diff__match");
		} else {
			CHECK(d.procs[0].by_alloc == !!i,
			      "Go report %d: compared by bytes allocated", i);
			text = capture(&d, 0, false);
			CHECK(text && !strcmp(text, want[i]), "Go report %d: text output", i);
			if (text && strcmp(text, want[i]))
				printf("# got:\n%s# want:\n%s", text, want[i]);
			free(text);
			diff_result__free(&d);
		}
		mt_report__free(&old);
		mt_report__free(&new);
	}
}

int main(void)
{
	test_round_trip();
	test_refused();
	test_process_pairing();
	test_stacks_and_output();
	test_go();
	return unit_exit();
}
