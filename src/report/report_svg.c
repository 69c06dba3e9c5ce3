/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An interactive flame graph of live bytes (bytes allocated for processes
 * whose live bytes are unknown: Go), drawn as flamegraph.pl draws one: a
 * single SVG file with its style and script inline, so that it opens in any
 * browser with no network and can be mailed around as it is.
 *
 * Live bytes of Go processes are estimates scaled from a heap sample; the
 * subtitle says so, and at what rate.
 *
 * The root frame is "all"; above it one frame per process, named "comm" when
 * there is one process (as the folded output names it) and "comm (pid)" when
 * there are several; then the stack, outermost frame first. Stacks are
 * sorted frame by frame, so identical prefixes merge into one rectangle and
 * siblings appear in alphabetical order, as in flamegraph.pl. Frames under
 * 0.1 % of the total would be about a pixel wide: they are left out, and
 * their number and bytes are given in the subtitle.
 *
 * Every <g class="f"> carries its depth, its offset and its bytes
 * (data-d, data-x, data-w), so that the script zooms from exact figures,
 * and tests can read the graph back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report/format.h"
#include "report/report.h"
#include "util/utf8.h"

#define IMG_WIDTH	1200
#define XPAD		10
#define FRAME_H		16
#define FONT_SIZE	12
#define FONT_WIDTH	0.59	/* average glyph width in em, flamegraph.pl's guess */
#define YPAD_TOP	76	/* title, two subtitle lines, controls */
#define YPAD_BOTTOM	34	/* the details line */
#define MAX_PROCS_NAMED	8

struct path {
	size_t first;		/* index of its outermost name */
	size_t n;
	uint64_t bytes;
	const char *const *names;
};

struct graph {
	const struct mt_report *r;
	char *text;		/* every name, NUL-terminated, back to back */
	size_t text_len;
	size_t nr_names;
	const char **names;
	struct path *paths;
	size_t nr_paths;
	size_t max_len;		/* frames in the longest path */
	uint64_t total;
	uint64_t min_bytes;	/* narrowest frame drawn */
	size_t max_depth;	/* of the frames drawn */
	size_t nr_elided;
	uint64_t elided_bytes;
	int height;
	bool some_alloc, all_alloc;	/* processes shown by bytes allocated */
};

static size_t utf8_count(const char *s)
{
	size_t n = 0;
	uint32_t cp;

	while (*s) {
		s += mt_utf8_next((const unsigned char *)s, &cp);
		n++;
	}
	return n;
}

/* At most max code points of s as XML character data: markup characters
 * escaped, and whatever XML 1.0 cannot hold (bad UTF-8, control characters,
 * U+FFFE/U+FFFF) written as U+FFFD, so the document is always well-formed. */
static void put_xml(FILE *f, const char *s, size_t max)
{
	static const char *const entity[128] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&apos;",
	};
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t len;

	for (; *p && max; max--, p += len) {
		len = mt_utf8_next(p, &cp);
		if (cp < 128 && entity[cp])
			fputs(entity[cp], f);
		else if (cp == 0xfffd || cp < 0x20 || cp == 0xfffe || cp == 0xffff)
			fputs("\xef\xbf\xbd", f);
		else
			fwrite(p, 1, len, f);
	}
}

static uint64_t proc_bytes(const struct mt_proc_report *p, const struct mt_stack_report *s)
{
	if (p->live_unknown)
		return s->alloc_bytes_total;
	return s->live_bytes > 0 ? (uint64_t)s->live_bytes : 0;
}

/* NUL-terminated comm: the field is not when it is full. */
static void comm_str(const struct mt_proc_report *p, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)sizeof(p->comm), p->comm);
}

/* Names go to a memory stream, in path order; they are found again by
 * their NULs once the stream is closed and its buffer stops moving. */
static int __attribute__((format(printf, 3, 4)))
add_name(struct graph *g, FILE *names, const char *fmt, ...)
{
	va_list ap;

	g->nr_names++;
	va_start(ap, fmt);
	vfprintf(names, fmt, ap);
	va_end(ap);
	return fputc('\0', names) == EOF ? -ENOMEM : 0;
}

static int add_frame_name(struct graph *g, FILE *names, const struct mt_frame *fr)
{
	/* Named as in the folded output; put_xml() makes any name safe. */
	g->nr_names++;
	mt_frame_fput(names, fr, MT_FRAME_BASENAME);
	return fputc('\0', names) == EOF ? -ENOMEM : 0;
}

static int cmp_path(const void *a, const void *b)
{
	const struct path *x = a, *y = b;
	size_t i;
	int d;

	for (i = 0; i < x->n && i < y->n; i++) {
		d = strcmp(x->names[i], y->names[i]);
		if (d)
			return d;
	}
	return (x->n > y->n) - (x->n < y->n);
}

static int build_paths(struct graph *g)
{
	const struct mt_report *r = g->r;
	size_t cap_paths = 0, i, j, k;
	char *t;
	FILE *names = open_memstream(&g->text, &g->text_len);
	struct path *np;
	char comm[sizeof(r->procs[0].comm) + 1];
	int err = 0;

	if (!names)
		return -ENOMEM;
	g->all_alloc = r->nr_procs > 0;
	for (i = 0; i < r->nr_procs && !err; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		g->some_alloc |= p->live_unknown;
		g->all_alloc &= p->live_unknown;
		comm_str(p, comm, sizeof(comm));
		for (j = 0; j < p->nr_stacks && !err; j++) {
			const struct mt_stack_report *s = &p->stacks[j];
			uint64_t bytes = proc_bytes(p, s);

			if (!bytes)
				continue;
			if (g->nr_paths == cap_paths) {
				cap_paths = cap_paths ? cap_paths * 2 : 64;
				np = realloc(g->paths, cap_paths * sizeof(*np));
				if (!np) {
					err = -ENOMEM;
					break;
				}
				g->paths = np;
			}
			np = &g->paths[g->nr_paths++];
			np->first = g->nr_names;
			np->n = s->nr_frames + 1;
			np->bytes = bytes;
			g->total += bytes;
			if (np->n > g->max_len)
				g->max_len = np->n;
			if (r->nr_procs > 1)
				err = add_name(g, names, "%s (%" PRIu32 ")", comm, p->pid);
			else
				err = add_name(g, names, "%s", comm);
			for (k = s->nr_frames; k > 0 && !err; k--)
				err = add_frame_name(g, names, &s->frames[k - 1]);
		}
	}
	if (fclose(names) && !err)
		err = -ENOMEM;
	if (err)
		return err;
	g->names = malloc((g->nr_names + 1) * sizeof(*g->names));
	if (!g->names)
		return -ENOMEM;
	for (i = 0, t = g->text; i < g->nr_names; i++, t += strlen(t) + 1)
		g->names[i] = t;
	for (i = 0; i < g->nr_paths; i++)
		g->paths[i].names = g->names + g->paths[i].first;
	if (g->nr_paths)
		qsort(g->paths, g->nr_paths, sizeof(*g->paths), cmp_path);
	g->min_bytes = (g->total + 999) / 1000;
	return 0;
}

/* flamegraph.pl's "mem" palette, keyed by a hash of the name so that a
 * function has the same colour wherever it appears, and in every graph. */
static void frame_colour(const char *name, char *buf, size_t len)
{
	uint32_t h = 2166136261u;
	double v1, v2;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	v1 = (h & 0xffff) / 65535.0;
	v2 = (h >> 16) / 65535.0;
	snprintf(buf, len, "rgb(0,%d,%d)", 190 + (int)(50 * v2), (int)(210 * v1));
}

static void put_title(FILE *f, const struct graph *g, const char *name, uint64_t bytes)
{
	char n[32], h[32];

	put_xml(f, name, SIZE_MAX);
	fprintf(f, " (%s bytes", mt_count_str(bytes, n, sizeof(n)));
	/* Past a mebibyte the exact count is hard to read at a glance. */
	if (bytes >= 1024 * 1024)
		fprintf(f, ", %s", mt_human_bytes((double)bytes, h, sizeof(h)));
	fprintf(f, ", %.2f%%)", 100.0 * (double)bytes / (double)g->total);
}

/* The label drawn before the script fits it to the real font: as many
 * characters as the average glyph width allows, cut with "..". */
static void put_label(FILE *f, const char *name, double width)
{
	long fit = (long)((width - 6) / (FONT_SIZE * FONT_WIDTH));
	size_t len;

	if (fit < 3)
		return;
	len = utf8_count(name);
	if (len <= (size_t)fit) {
		put_xml(f, name, len);
	} else {
		put_xml(f, name, (size_t)fit - 2);
		fputs("..", f);
	}
}

static void put_frame(FILE *f, const struct graph *g, size_t depth, const char *name,
		      uint64_t start, uint64_t bytes)
{
	double scale = (IMG_WIDTH - 2 * XPAD) / (double)g->total;
	double x = XPAD + (double)start * scale, w = (double)bytes * scale;
	int y = g->height - YPAD_BOTTOM - (int)(depth + 1) * FRAME_H;
	char fill[32];

	frame_colour(name, fill, sizeof(fill));
	fprintf(f, "<g class=\"f\" data-d=\"%zu\" data-x=\"%" PRIu64 "\" data-w=\"%" PRIu64
		"\"><title>", depth, start, bytes);
	put_title(f, g, name, bytes);
	fprintf(f, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" "
		"fill=\"%s\"/><text x=\"%.2f\" y=\"%d\">", x, y, w, FRAME_H - 1, fill, x + 3,
		y + FRAME_H - 5);
	put_label(f, name, w);
	fputs("</text></g>\n", f);
}

struct open_frame {
	const char *name;
	uint64_t start;
	uint64_t elided;	/* bytes of the children left out */
};

/* A frame ends: draw it (f set) or count it (f NULL, the first pass, which
 * finds the height and what is left out before anything is written). */
static void close_frame(struct graph *g, FILE *f, struct open_frame *open, size_t depth,
			uint64_t end)
{
	uint64_t bytes = end - open[depth].start;

	if (bytes < g->min_bytes) {
		if (!f) {
			g->nr_elided++;
			open[depth - 1].elided += bytes;
		}
		return;
	}
	if (f) {
		put_frame(f, g, depth, open[depth].name, open[depth].start, bytes);
		return;
	}
	/* Only what a drawn frame lost counts: an elided frame's own
	 * children are inside its bytes already. */
	g->elided_bytes += open[depth].elided;
	if (depth > g->max_depth)
		g->max_depth = depth;
}

/* flamegraph.pl's flow(): stacks in sorted order, a frame opened where a
 * stack leaves the previous one's prefix and closed where it ends. */
static int walk(struct graph *g, FILE *f)
{
	struct open_frame *open = calloc(g->max_len + 1, sizeof(*open));
	const struct path *prev = NULL, *p;
	size_t depth = 0, common, i, k;
	uint64_t x = 0;

	if (!open)
		return -ENOMEM;
	open[0].name = "all";
	for (i = 0; i < g->nr_paths; i++, prev = p) {
		p = &g->paths[i];
		common = 0;
		while (prev && common < prev->n && common < p->n &&
		       !strcmp(prev->names[common], p->names[common]))
			common++;
		for (; depth > common; depth--)
			close_frame(g, f, open, depth, x);
		for (k = common; k < p->n; k++) {
			depth++;
			open[depth] = (struct open_frame){ p->names[k], x, 0 };
		}
		x += p->bytes;
	}
	for (; depth > 0; depth--)
		close_frame(g, f, open, depth, x);
	close_frame(g, f, open, 0, x);
	free(open);
	return 0;
}

/* Go's live bytes from a sample (the runtime's, or memtrace's) are scaled
 * estimates; a rate of 1 sampled every allocation, which is exact. */
static void put_sampled(FILE *f, const struct mt_report *r)
{
	int64_t rate = 0;
	bool mixed = false;
	char b[32];
	size_t i;

	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		if (!p->sampled || p->sample_rate <= 1)
			continue;
		mixed |= rate && rate != p->sample_rate;
		rate = p->sample_rate;
	}
	if (!rate)
		return;
	fputs("Go live bytes are sampled estimates", f);
	if (!mixed)
		fprintf(f, " (1 sample per %s)", mt_human_bytes((double)rate, b, sizeof(b)));
	fputs(". ", f);
}

static void put_subtitles(FILE *f, const struct graph *g)
{
	const struct mt_report *r = g->r;
	char comm[sizeof(r->procs[0].comm) + 1], b1[32], b2[32];
	size_t i;

	fprintf(f, "<text class=\"sub\" x=\"%d\" y=\"46\">", IMG_WIDTH / 2);
	for (i = 0; i < r->nr_procs && i < MAX_PROCS_NAMED; i++) {
		comm_str(&r->procs[i], comm, sizeof(comm));
		fputs(i ? ", " : "", f);
		put_xml(f, comm, SIZE_MAX);
		fprintf(f, " (%" PRIu32 ")", r->procs[i].pid);
	}
	if (r->nr_procs > MAX_PROCS_NAMED)
		fprintf(f, " and %zu more", r->nr_procs - MAX_PROCS_NAMED);
	fprintf(f, "%s%s (%s bytes) in %.1f s</text>\n", r->nr_procs ? ": " : "no process: ",
		mt_human_bytes((double)g->total, b1, sizeof(b1)),
		mt_count_str(g->total, b2, sizeof(b2)), r->duration_s);

	fprintf(f, "<text class=\"sub\" x=\"%d\" y=\"62\">", IMG_WIDTH / 2);
	if (r->min_age_s > 0)
		fprintf(f, "Blocks at least %g s old. ", r->min_age_s);
	if (g->nr_elided)
		fprintf(f, "%zu %s under 0.1%% not drawn (%s bytes). ", g->nr_elided,
			g->nr_elided == 1 ? "frame" : "frames",
			mt_count_str(g->elided_bytes, b1, sizeof(b1)));
	put_sampled(f, r);
	if (r->lost_events)
		fprintf(f, "Incomplete: %s events lost (see the text report). ",
			mt_count_str(r->lost_events, b1, sizeof(b1)));
	fputs("Click a frame to zoom, Ctrl-F to search.</text>\n", f);
}

static const char style[] =
"text { font-family: Verdana, \"DejaVu Sans\", sans-serif; font-size: 12px; fill: #000; }\n"
"#title { font-size: 17px; text-anchor: middle; }\n"
".sub { text-anchor: middle; fill: #333; }\n"
".ctl { cursor: pointer; fill: #1f3f9f; }\n"
".ctl:hover { text-decoration: underline; }\n"
".on { fill: rgb(180,0,180); font-weight: bold; }\n"
"g.f { cursor: pointer; }\n"
"g.f text { pointer-events: none; }\n"
"g.f:hover rect { stroke: #000; stroke-width: 0.5; }\n"
".parent { opacity: 0.5; }\n"
".hide { display: none; }\n";

/* Frames are read back from the document: name and figures from each
 * <g class="f">, so the script holds no copy of the data. */
static const char script[] =
"\"use strict\";\n"
"var svg, frames = [], details, matched, resetBtn, searchBtn, total = 0, term = null;\n"
"\n"
"function frameOf(e) {\n"
"	var g = e.target.closest ? e.target.closest(\"g.f\") : null;\n"
"	return g ? frames[+g.getAttribute(\"data-i\")] : null;\n"
"}\n"
"\n"
"/* The longest prefix of the name that fits the rectangle, cut with \"..\". */\n"
"function label(f) {\n"
"	var w = +f.rect.getAttribute(\"width\") - 6, t = f.text, n;\n"
"	t.setAttribute(\"x\", +f.rect.getAttribute(\"x\") + 3);\n"
"	if (w < 2 * FONT_SIZE) { t.textContent = \"\"; return; }\n"
"	t.textContent = f.name;\n"
"	var full = t.getComputedTextLength();\n"
"	if (full <= w) return;\n"
"	for (n = Math.floor(f.name.length * w / full); n > 0; n--) {\n"
"		t.textContent = f.name.substring(0, n) + \"..\";\n"
"		if (t.getComputedTextLength() <= w) return;\n"
"	}\n"
"	t.textContent = \"\";\n"
"}\n"
"\n"
"function place(f, x, w, cls) {\n"
"	f.g.setAttribute(\"class\", cls);\n"
"	if (cls.indexOf(\"hide\") >= 0) return;\n"
"	f.rect.setAttribute(\"x\", x.toFixed(2));\n"
"	f.rect.setAttribute(\"width\", w.toFixed(2));\n"
"	label(f);\n"
"}\n"
"\n"
"/* The frame fills the width; its ancestors stay, dimmed; the rest of\n"
"   the graph outside its span is hidden. */\n"
"function zoom(z) {\n"
"	var cw = WIDTH - 2 * XPAD, scale = cw / z.w;\n"
"	frames.forEach(function (f) {\n"
"		if (f.d < z.d)\n"
"			place(f, XPAD, cw, f.x <= z.x && f.x + f.w >= z.x + z.w ? \"f parent\" : \"f hide\");\n"
"		else if (f.x >= z.x && f.x + f.w <= z.x + z.w)\n"
"			place(f, XPAD + (f.x - z.x) * scale, f.w * scale, \"f\");\n"
"		else\n"
"			place(f, 0, 0, \"f hide\");\n"
"	});\n"
"	resetBtn.setAttribute(\"class\", z.d ? \"ctl\" : \"ctl hide\");\n"
"	svg.setAttribute(\"data-zoom\", z.name);\n"
"}\n"
"\n"
"function unzoom() {\n"
"	if (frames.length) zoom(frames[frames.length - 1]);\n"
"	svg.removeAttribute(\"data-zoom\");\n"
"}\n"
"\n"
"/* Matched share: the union of the matching spans, nested ones counted once. */\n"
"function search(s) {\n"
"	var re, spans = [], sum = 0, end = -1;\n"
"	try { re = new RegExp(s); } catch (err) { matched.textContent = \"bad regex: \" + err.message; return; }\n"
"	term = s;\n"
"	frames.forEach(function (f) {\n"
"		var hit = re.test(f.name);\n"
"		f.rect.setAttribute(\"fill\", hit ? \"rgb(230,0,230)\" : f.fill);\n"
"		if (hit) spans.push([f.x, f.x + f.w]);\n"
"	});\n"
"	spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
"	spans.forEach(function (sp) {\n"
"		if (sp[1] > end) { sum += sp[1] - Math.max(sp[0], end); end = sp[1]; }\n"
"	});\n"
"	var pct = total ? (100 * sum / total).toFixed(1) : \"0.0\";\n"
"	matched.textContent = \"Matched: \" + pct + \"% of \" + total.toLocaleString(\"en-US\") + \" bytes\";\n"
"	svg.setAttribute(\"data-matched\", pct);\n"
"	searchBtn.textContent = \"Reset Search\";\n"
"	searchBtn.setAttribute(\"class\", \"ctl on\");\n"
"}\n"
"\n"
"function clearSearch() {\n"
"	term = null;\n"
"	frames.forEach(function (f) { f.rect.setAttribute(\"fill\", f.fill); });\n"
"	matched.textContent = \"\";\n"
"	svg.removeAttribute(\"data-matched\");\n"
"	searchBtn.textContent = \"Search\";\n"
"	searchBtn.setAttribute(\"class\", \"ctl\");\n"
"}\n"
"\n"
"function askSearch() {\n"
"	var s = prompt(\"Search frames (regular expression):\", term || \"\");\n"
"	if (s) search(s); else if (s === \"\") clearSearch();\n"
"}\n"
"\n"
"function init() {\n"
"	svg = document.documentElement;\n"
"	details = document.getElementById(\"details\");\n"
"	matched = document.getElementById(\"matched\");\n"
"	resetBtn = document.getElementById(\"reset\");\n"
"	searchBtn = document.getElementById(\"search\");\n"
"	document.querySelectorAll(\"g.f\").forEach(function (g, i) {\n"
"		var t = g.querySelector(\"title\").textContent, r = g.querySelector(\"rect\");\n"
"		g.setAttribute(\"data-i\", i);\n"
"		frames.push({ g: g, rect: r, text: g.querySelector(\"text\"), title: t,\n"
"			name: t.substring(0, t.lastIndexOf(\" (\")), fill: r.getAttribute(\"fill\"),\n"
"			d: +g.getAttribute(\"data-d\"), x: +g.getAttribute(\"data-x\"),\n"
"			w: +g.getAttribute(\"data-w\") });\n"
"	});\n"
"	/* The root closes last: it is the last frame of the document. */\n"
"	if (frames.length) total = frames[frames.length - 1].w;\n"
"	svg.addEventListener(\"click\", function (e) {\n"
"		var f = frameOf(e);\n"
"		if (f) zoom(f);\n"
"	});\n"
"	svg.addEventListener(\"mouseover\", function (e) {\n"
"		var f = frameOf(e);\n"
"		details.textContent = f ? f.title : \" \";\n"
"	});\n"
"	resetBtn.addEventListener(\"click\", unzoom);\n"
"	searchBtn.addEventListener(\"click\", function () { if (term) clearSearch(); else askSearch(); });\n"
"	document.addEventListener(\"keydown\", function (e) {\n"
"		if ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\")) {\n"
"			e.preventDefault();\n"
"			askSearch();\n"
"		} else if (e.key === \"Escape\") {\n"
"			clearSearch();\n"
"			unzoom();\n"
"		}\n"
"	});\n"
"	unzoom();\n"
"	/* ?s=REGEX searches on load, as flamegraph.pl's graphs do. */\n"
"	var s = new URLSearchParams(window.location.search).get(\"s\");\n"
"	if (s) search(s);\n"
"	svg.setAttribute(\"data-ready\", \"1\");\n"
"}\n"
"\n"
"window.addEventListener(\"load\", init);\n";

static void put_document(FILE *f, struct graph *g)
{
	const char *what = g->all_alloc ? "memtrace: bytes allocated (live bytes unknown)" :
			   g->some_alloc ? "memtrace: live bytes (bytes allocated for Go processes)" :
			   "memtrace: live bytes";

	g->height = YPAD_TOP + (int)(g->total ? g->max_depth + 1 : 3) * FRAME_H + YPAD_BOTTOM;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" data-total=\"%" PRIu64 "\">\n",
		IMG_WIDTH, g->height, IMG_WIDTH, g->height, g->total);
	fprintf(f, "<defs><linearGradient id=\"bg\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		"<stop stop-color=\"#eeeeee\" offset=\"5%%\"/>"
		"<stop stop-color=\"#e0e0ff\" offset=\"95%%\"/></linearGradient></defs>\n");
	fprintf(f, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", style);
	fprintf(f, "<script type=\"text/ecmascript\"><![CDATA[\n"
		"var WIDTH = %d, XPAD = %d, FONT_SIZE = %d;\n%s]]></script>\n",
		IMG_WIDTH, XPAD, FONT_SIZE, script);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#bg)\"/>\n",
		IMG_WIDTH, g->height);
	fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\">%s</text>\n", IMG_WIDTH / 2, what);
	put_subtitles(f, g);
	fprintf(f, "<text id=\"reset\" class=\"ctl hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"ctl\" x=\"%d\" y=\"24\" "
		"style=\"text-anchor: end\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\" style=\"text-anchor: end\"></text>\n",
		XPAD, IMG_WIDTH - XPAD, XPAD, g->height - 12, IMG_WIDTH - XPAD, g->height - 12);
	if (!g->total)
		fprintf(f, "<text x=\"%d\" y=\"%d\" style=\"text-anchor: middle; font-size: 17px\">"
			"%s</text>\n", IMG_WIDTH / 2, YPAD_TOP + FRAME_H * 2,
			g->all_alloc ? "no bytes allocated" : "no live bytes");
}

int report_svg__write(const struct mt_report *r, FILE *f)
{
	struct graph g = { .r = r };
	int err;

	err = build_paths(&g);
	if (!err && g.total)
		err = walk(&g, NULL);
	if (!err) {
		put_document(f, &g);
		if (g.total)
			err = walk(&g, f);
		fputs("</svg>\n", f);
	}
	free(g.text);
	free(g.names);
	free(g.paths);
	if (err)
		return err;
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
