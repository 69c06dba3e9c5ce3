/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The page a person opens in a browser: what is traced, the processes,
 * the stacks holding the most live bytes (each opens onto its frames), and
 * the flame graph of live bytes (flamegraph.svg, from the same server).
 * One document, its style and script inline: the machine it runs on may
 * have no network, and nothing is fetched from anywhere else.
 *
 * The script reloads the page's own URL every interval and swaps the
 * tables in place, keeping open stacks open; the flame graph follows each
 * new report until the user clicks in it (to zoom), then holds until asked
 * to follow again.
 *
 * Every name from a traced program is escaped (and malformed UTF-8 shown as
 * U+FFFD): a C++ template or a crafted comm cannot become markup.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report/caller.h"
#include "report/format.h"
#include "serve/serve_internal.h"
#include "util/utf8.h"

#define PROCS_SHOWN	200

static void put_html(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	uint32_t cp;
	size_t len;

	for (; *p && max; max--, p += len) {
		len = mt_utf8_next(p, &cp);
		switch (cp) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (cp == 0xfffd || cp < 0x20)
				fputs("\xef\xbf\xbd", f);
			else
				fwrite(p, 1, len, f);
		}
	}
}

static void put_comm(FILE *f, const struct mt_proc_report *p)
{
	char comm[sizeof(p->comm) + 1];

	snprintf(comm, sizeof(comm), "%.*s", (int)strnlen(p->comm, sizeof(p->comm)), p->comm);
	put_html(f, comm, sizeof(comm));
}

static void put_bytes(FILE *f, double v)
{
	char b[32];

	fputs(mt_human_bytes(v, b, sizeof(b)), f);
}

static void put_count(FILE *f, uint64_t v)
{
	char b[32];

	fputs(mt_count_str(v, b, sizeof(b)), f);
}

static const char style[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
"header{background:#3b2e2a;color:#fff;padding:8px 16px}"
"header h1{font-size:18px;margin:0;display:inline}"
"header span{margin-left:16px;color:#ddd}"
"#status .lost{color:#ff8a80;font-weight:bold}"
"main{padding:0 16px 16px}"
"h2{font-size:16px;margin:18px 0 6px}"
"table{border-collapse:collapse;background:#fff;width:100%}"
"th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}"
"th{background:#eee;position:sticky;top:0}"
"td.l,th.l{text-align:left}"
"tr.sel{background:#fff3d6}"
"summary{cursor:pointer}"
"ol{margin:4px 0 4px 20px;padding:0;font-family:monospace;font-size:12px}"
"li span{color:#777}"
"a{color:#0b5cad}"
"object{width:100%;border:1px solid #ddd;background:#fff}"
"#hold{margin-left:8px;color:#a33}"
"footer{padding:8px 16px;color:#666;font-size:12px}";

static const char script[] =
"(function () {\n"
"  var body = document.body, flame = document.getElementById('flame');\n"
"  var hold = document.getElementById('hold'), held = false;\n"
"  function flameLoaded() {\n"
"    var d;\n"
"    try { d = flame.contentDocument; } catch (e) { return; }\n"
"    if (!d) return;\n"
"    body.setAttribute('data-flame-frames', d.querySelectorAll('g.f').length);\n"
"    d.addEventListener('click', function () { held = true; hold.hidden = false; });\n"
"  }\n"
"  function reloadFlame() {\n"
"    var u = flame.getAttribute('data').replace(/[?&]r=[^&]*/, '');\n"
"    flame.setAttribute('data', u + (u.indexOf('?') < 0 ? '?' : '&') + 'r=' + body.dataset.report);\n"
"  }\n"
"  flame.addEventListener('load', flameLoaded);\n"
"  if (flame.contentDocument && flame.contentDocument.readyState === 'complete') flameLoaded();\n"
"  document.getElementById('follow').addEventListener('click', function (e) {\n"
"    e.preventDefault(); held = false; hold.hidden = true; reloadFlame();\n"
"  });\n"
"  function refresh() {\n"
"    fetch(window.location.href, { cache: 'no-store' }).then(function (r) {\n"
"      if (!r.ok) throw new Error(r.status + ' ' + r.statusText);\n"
"      return r.text();\n"
"    }).then(function (text) {\n"
"      var doc = new DOMParser().parseFromString(text, 'text/html'), open = {};\n"
"      document.querySelectorAll('details[open]').forEach(function (d) { open[d.dataset.stack] = 1; });\n"
"      ['status', 'procs', 'stacks'].forEach(function (id) {\n"
"        var n = doc.getElementById(id), o = document.getElementById(id);\n"
"        if (n && o) o.replaceWith(document.adoptNode(n));\n"
"      });\n"
"      document.querySelectorAll('details').forEach(function (d) { if (open[d.dataset.stack]) d.open = true; });\n"
"      var rep = doc.body.dataset.report;\n"
"      if (rep !== body.dataset.report) {\n"
"        body.dataset.report = rep;\n"
"        if (!held) reloadFlame();\n"
"      }\n"
"      body.setAttribute('data-refreshed', Date.now());\n"
"    }).catch(function (e) {\n"
"      document.getElementById('status').textContent = 'memtrace does not answer: ' + e.message;\n"
"    });\n"
"  }\n"
"  setInterval(refresh, Math.max(1000, Number(body.dataset.interval) * 1000));\n"
"  body.setAttribute('data-ready', '1');\n"
"})();\n";

static int cmp_live_desc(const void *a, const void *b)
{
	const struct mt_proc_report *x = *(const struct mt_proc_report *const *)a;
	const struct mt_proc_report *y = *(const struct mt_proc_report *const *)b;
	int64_t lx = x->live_unknown ? -1 : x->heap.live_bytes;
	int64_t ly = y->live_unknown ? -1 : y->heap.live_bytes;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void put_status(FILE *f, const struct mt_report *r, const struct page_opts *o)
{
	time_t t = (time_t)o->time_real;
	struct tm tm;
	char when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(f, "<span id=\"status\">%s, traced %.0f s, %zu process%s, ", when, r->duration_s,
		r->nr_procs, r->nr_procs == 1 ? "" : "es");
	if (r->lost_events)
		fprintf(f, "<span class=\"lost\">%" PRIu64 " events lost</span>", r->lost_events);
	else
		fputs("no events lost", f);
	fputs("</span>", f);
}

static void put_proc_row(FILE *f, const struct mt_proc_report *p, const struct page_opts *o)
{
	fprintf(f, "<tr%s><td><a href=\"?pid=%" PRIu32 "\">%" PRIu32 "</a></td><td class=\"l\" title=\"",
		p->pid == o->pid ? " class=\"sel\"" : "", p->pid, p->pid);
	put_html(f, p->exe, 4096);
	fputs("\">", f);
	put_comm(f, p);
	if (p->exited)
		fputs(" (exited)", f);
	fputs("</td><td>", f);
	if (p->live_unknown)
		fputs("?", f);
	else
		put_bytes(f, (double)p->heap.live_bytes);
	if (p->sampled)
		fputs(" (sampled)", f);
	fputs("</td><td>", f);
	if (p->live_unknown)
		fputs("?", f);
	else
		put_count(f, p->heap.live_allocs > 0 ? (uint64_t)p->heap.live_allocs : 0);
	fputs("</td><td>", f);
	if (p->vm.known && p->vm.retained_known) {
		if (p->vm.retained_upper_bound)
			fputs("&le; ", f);
		put_bytes(f, (double)p->vm.retained_bytes);
	} else {
		fputs("?", f);
	}
	fputs("</td><td>", f);
	put_bytes(f, (double)p->rss_bytes);
	fputs("</td><td>", f);
	put_bytes(f, (double)p->heap.alloc_bytes_total);
	fputs("</td><td>", f);
	put_count(f, p->heap.allocs_total);
	fprintf(f, "</td><td>%zu</td><td class=\"l\">", p->nr_stacks_total);
	put_html(f, p->container_id[0] ? p->container_id : p->cgroup, 200);
	fputs("</td></tr>\n", f);
}

static int put_procs(FILE *f, const struct mt_report *r, const struct page_opts *o)
{
	const struct mt_proc_report **sorted;
	size_t i, n = r->nr_procs < PROCS_SHOWN ? r->nr_procs : PROCS_SHOWN;

	sorted = malloc((r->nr_procs + 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < r->nr_procs; i++)
		sorted[i] = &r->procs[i];
	qsort(sorted, r->nr_procs, sizeof(*sorted), cmp_live_desc);
	fputs("<section id=\"procs\"><h2>Processes", f);
	if (o->pid)
		fputs(" <a href=\"?\">(show all)</a>", f);
	fputs("</h2><table><tr><th>pid</th><th class=\"l\">command</th><th>live</th>"
	      "<th>live blocks</th><th>retained</th><th>RSS</th><th>allocated</th>"
	      "<th>allocations</th><th>stacks</th><th class=\"l\">container / cgroup</th></tr>\n", f);
	for (i = 0; i < n; i++)
		put_proc_row(f, sorted[i], o);
	if (n < r->nr_procs)
		fprintf(f, "<tr><td class=\"l\" colspan=\"10\">and %zu more (JSON: "
			"<a href=\"report.json\">report.json</a>)</td></tr>\n", r->nr_procs - n);
	fputs("</table></section>\n", f);
	free(sorted);
	return 0;
}

struct page_stack {
	const struct mt_proc_report *p;
	const struct mt_stack_report *s;
};

static int cmp_stack_live(const void *a, const void *b)
{
	const struct page_stack *x = a, *y = b;

	if (x->s->live_bytes != y->s->live_bytes)
		return x->s->live_bytes > y->s->live_bytes ? -1 : 1;
	return x->p->pid < y->p->pid ? -1 : x->p->pid > y->p->pid;
}

static void put_frames(FILE *f, const struct mt_stack_report *s)
{
	char label[512];
	size_t i;

	fputs("<ol>", f);
	for (i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *fr = &s->frames[i];

		fputs("<li>", f);
		mt_frame_label(label, sizeof(label), fr, 0);
		put_html(f, label, sizeof(label));
		fputs(" <span>", f);
		mt_frame_label(label, sizeof(label), fr, MT_FRAME_NO_FUNCTION | MT_FRAME_BASENAME);
		put_html(f, label, sizeof(label));
		if (fr->file) {
			fputs(" ", f);
			put_html(f, fr->file, 1024);
			if (fr->line > 0)
				fprintf(f, ":%d", fr->line);
		}
		if (fr->inlined)
			fputs(" (inlined)", f);
		fputs("</span></li>", f);
	}
	if (s->flags & MT_STACK_F_TRUNCATED)
		fputs("<li><span>(truncated)</span></li>", f);
	fputs("</ol>", f);
}

static void put_stack_row(FILE *f, const struct page_stack *ps)
{
	const struct mt_stack_report *s = ps->s;
	const struct mt_frame *top = stack_caller(s);
	char label[512], id[17];

	metrics__stack_id(s, id);
	fputs("<tr><td>", f);
	put_bytes(f, (double)s->live_bytes);
	fputs("</td><td>", f);
	put_count(f, s->live_allocs > 0 ? (uint64_t)s->live_allocs : 0);
	fputs("</td><td>", f);
	put_bytes(f, (double)s->alloc_bytes_total);
	fputs("</td><td>", f);
	if (s->oldest_age_s >= 0)
		fprintf(f, "%.0f s", s->oldest_age_s);
	fprintf(f, "</td><td><a href=\"?pid=%" PRIu32 "\">%" PRIu32 "</a> ", ps->p->pid, ps->p->pid);
	put_comm(f, ps->p);
	fprintf(f, "</td><td class=\"l\"><details data-stack=\"%" PRIu32 "-%s\"><summary>", ps->p->pid,
		id);
	if (top)
		mt_frame_label(label, sizeof(label), top, MT_FRAME_BASENAME);
	else
		snprintf(label, sizeof(label), "[no frames]");
	put_html(f, label, sizeof(label));
	fputs("</summary>", f);
	put_frames(f, s);
	fputs("</details></td></tr>\n", f);
}

static int put_stacks(FILE *f, const struct mt_report *r, const struct page_opts *o)
{
	struct page_stack *all;
	size_t i, j, n = 0, cap = 0, shown;

	for (i = 0; i < r->nr_procs; i++)
		if ((!o->pid || r->procs[i].pid == o->pid) && !r->procs[i].live_unknown)
			cap += r->procs[i].nr_stacks < o->top ? r->procs[i].nr_stacks : o->top;
	all = malloc((cap + 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	/* Each process's stacks are sorted by live bytes: its first `top` can be in. */
	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		if ((o->pid && p->pid != o->pid) || p->live_unknown)
			continue;
		for (j = 0; j < p->nr_stacks && j < o->top && p->stacks[j].live_bytes > 0; j++)
			all[n++] = (struct page_stack){ p, &p->stacks[j] };
	}
	qsort(all, n, sizeof(*all), cmp_stack_live);
	shown = n < o->top ? n : o->top;
	fputs("<section id=\"stacks\"><h2>Stacks holding the most live bytes", f);
	if (o->pid)
		fprintf(f, " in pid %" PRIu32, o->pid);
	fputs("</h2><table><tr><th>live</th><th>live blocks</th><th>allocated</th>"
	      "<th>oldest</th><th>pid</th><th class=\"l\">allocated by (click: its frames, "
	      "innermost first)</th></tr>\n", f);
	for (i = 0; i < shown; i++)
		put_stack_row(f, &all[i]);
	if (!shown)
		fputs("<tr><td class=\"l\" colspan=\"6\">no live bytes</td></tr>\n", f);
	fputs("</table></section>\n", f);
	free(all);
	return 0;
}

int page__write(const struct mt_report *r, FILE *f, const struct page_opts *o)
{
	char pidq[32] = "";
	int err;

	if (o->pid)
		snprintf(pidq, sizeof(pidq), "?pid=%" PRIu32, o->pid);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\"><title>memtrace: ", f);
	put_html(f, o->title, 256);
	fprintf(f, "</title><style>%s</style></head>\n", style);
	fprintf(f, "<body data-report=\"%.3f\" data-interval=\"%g\">\n<header><h1>memtrace: ",
		o->time_real, o->interval_s);
	put_html(f, o->title, 256);
	fputs("</h1> ", f);
	put_status(f, r, o);
	fputs("</header>\n<main>\n", f);
	err = put_procs(f, r, o);
	if (!err)
		err = put_stacks(f, r, o);
	if (err)
		return err;
	fprintf(f, "<section><h2>Flame graph of live bytes%s"
		"<span id=\"hold\" hidden>(held: you zoomed in; <a href=\"#\" id=\"follow\">"
		"follow the new reports</a>)</span></h2>\n"
		"<object id=\"flame\" type=\"image/svg+xml\" data=\"flamegraph.svg%s\">"
		"flame graph</object></section>\n</main>\n", o->pid ? " of this process" : "", pidq);
	fprintf(f, "<footer>The same figures: <a href=\"metrics\">metrics</a> (Prometheus), "
		"<a href=\"debug/pprof/heap%s\">debug/pprof/heap</a> and "
		"<a href=\"debug/pprof/allocs%s\">debug/pprof/allocs</a> (go tool pprof, Parca), "
		"<a href=\"report.json%s\">report.json</a>, "
		"<a href=\"flamegraph.svg%s\">flamegraph.svg</a>.</footer>\n", pidq, pidq, pidq, pidq);
	fprintf(f, "<script>%s</script>\n</body></html>\n", script);
	return ferror(f) ? -EIO : 0;
}
