/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The SVG flame graph, read back with an independent XML parser (python3's
 * ElementTree): well-formedness, frame titles, merged prefixes, widths,
 * escaping, elision of tiny frames, the empty report, and the structure of
 * a fixed report against tests/unit/golden/svg_small.txt.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/report.h"
#include "unit.h"

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

static struct mt_proc_report *add_proc(struct mt_report *r, uint32_t pid, const char *comm)
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
	return p;
}

/* A stack from its frames outermost first, as a flame graph shows them:
 * "main;run;leak". A frame "mod@0x1234" is unresolved in module mod, "?"
 * has no module at all. */
static void add_stack(struct mt_proc_report *p, const char *folded, int64_t live,
		      uint64_t alloc)
{
	struct mt_stack_report *s;
	char *copy = xstrdup(folded), *save = NULL, *tok, *at;
	char *names[64];
	size_t n = 0, i;

	for (tok = strtok_r(copy, ";", &save); tok && n < 64; tok = strtok_r(NULL, ";", &save))
		names[n++] = tok;
	p->stacks = realloc(p->stacks, (p->nr_stacks + 1) * sizeof(*p->stacks));
	if (!p->stacks)
		abort();
	s = &p->stacks[p->nr_stacks++];
	memset(s, 0, sizeof(*s));
	s->live_bytes = live;
	s->alloc_bytes_total = alloc;
	s->nr_frames = n;
	s->frames = calloc(n ? n : 1, sizeof(*s->frames));
	if (!s->frames)
		abort();
	for (i = 0; i < n; i++) {
		struct mt_frame *fr = &s->frames[n - 1 - i];

		at = strchr(names[i], '@');
		if (!strcmp(names[i], "?"))
			continue;
		if (at) {
			*at = '\0';
			fr->module = xstrdup(names[i]);
			fr->offset = strtoull(at + 1, NULL, 16);
		} else {
			fr->function = xstrdup(names[i]);
		}
	}
	free(copy);
}

/* What the parser saw: one per <g class="f">, plus the other texts. */
struct frame {
	int depth;
	unsigned long long x, bytes;
	double rect_x, rect_w;
	char fill[32];
	char *title, *name, *label;
};

struct parsed {
	bool ok;		/* the document parsed */
	bool external;		/* some attribute points outside the document */
	size_t n;
	struct frame fr[256];
	char texts[4096];	/* every other <text>, joined with '|' */
};

static char tmpdir[] = "/tmp/test_svg.XXXXXX";

/* Prints one tab-separated line per frame, "T\t..." for the other texts,
 * "X" when an attribute references anything outside the document. */
static const char extract_py[] =
"import sys, xml.etree.ElementTree as ET\n"
"NS = '{http://www.w3.org/2000/svg}'\n"
"root = ET.parse(sys.argv[1]).getroot()\n"
"assert root.tag == NS + 'svg'\n"
"out, in_frames = [], set()\n"
"for g in root.iter(NS + 'g'):\n"
"    if g.get('class') != 'f':\n"
"        continue\n"
"    r, t = g.find(NS + 'rect'), g.find(NS + 'text')\n"
"    in_frames.add(t)\n"
"    out.append('F\\t' + '\\t'.join([g.get('data-d'), g.get('data-x'), g.get('data-w'),\n"
"               r.get('x'), r.get('width'), r.get('fill'), g.find(NS + 'title').text,\n"
"               t.text or '']))\n"
"for t in root.iter(NS + 'text'):\n"
"    if t not in in_frames:\n"
"        out.append('T\\t' + ''.join(t.itertext()))\n"
"for e in root.iter():\n"
"    for k, v in e.attrib.items():\n"
"        if 'href' in k or ('url(' in v and 'url(#' not in v):\n"
"            out.append('X')\n"
"sys.stdout.buffer.write(('\\n'.join(out) + '\\n').encode('utf-8'))\n";

static void free_parsed(struct parsed *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->fr[i].title);
		free(ps->fr[i].name);
		free(ps->fr[i].label);
	}
	ps->n = 0;
}

static char *field(char **line)
{
	char *s = *line, *tab;

	if (!s)
		return "";
	tab = strchr(s, '\t');
	if (tab)
		*tab = '\0';
	*line = tab ? tab + 1 : NULL;
	return s;
}

/* Write r as SVG and parse it back; *svg gets the text when asked for. */
static int render(const struct mt_report *r, struct parsed *ps, char **svg)
{
	char path[64], py[64], txt[64], cmd[256];
	char *line = NULL, *rest, *cut;
	size_t cap = 0, len;
	FILE *f;
	int ret;

	memset(ps, 0, sizeof(*ps));
	snprintf(path, sizeof(path), "%s/g.svg", tmpdir);
	snprintf(py, sizeof(py), "%s/extract.py", tmpdir);
	snprintf(txt, sizeof(txt), "%s/g.txt", tmpdir);
	f = fopen(path, "w");
	if (!f)
		abort();
	ret = report_svg__write(r, f);
	fclose(f);
	if (svg) {
		f = fopen(path, "r");
		*svg = NULL;
		if (f && getdelim(svg, &cap, '\0', f) < 0)
			(*svg)[0] = '\0';
		if (f)
			fclose(f);
		cap = 0;
	}
	f = fopen(py, "w");
	if (!f)
		abort();
	fputs(extract_py, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s %s > %s", py, path, txt);
	ps->ok = system(cmd) == 0;
	f = fopen(txt, "r");
	while (ps->ok && f && getline(&line, &cap, f) > 0) {
		struct frame *fr = &ps->fr[ps->n];

		line[strcspn(line, "\n")] = '\0';
		rest = line + 2;
		if (line[0] == 'X') {
			ps->external = true;
		} else if (line[0] == 'T') {
			len = strlen(ps->texts);
			snprintf(ps->texts + len, sizeof(ps->texts) - len, "%s|", rest);
		} else if (line[0] == 'F' && ps->n < 256) {
			fr->depth = atoi(field(&rest));
			fr->x = strtoull(field(&rest), NULL, 10);
			fr->bytes = strtoull(field(&rest), NULL, 10);
			fr->rect_x = strtod(field(&rest), NULL);
			fr->rect_w = strtod(field(&rest), NULL);
			snprintf(fr->fill, sizeof(fr->fill), "%s", field(&rest));
			fr->title = xstrdup(field(&rest));
			fr->label = xstrdup(field(&rest));
			fr->name = xstrdup(fr->title);
			cut = strstr(fr->name, " (");
			while (cut && strstr(cut + 1, " ("))
				cut = strstr(cut + 1, " (");
			if (cut)
				*cut = '\0';
			ps->n++;
		}
	}
	free(line);
	if (f)
		fclose(f);
	unlink(path);
	unlink(py);
	unlink(txt);
	return ret;
}

static size_t count_named(const struct parsed *ps, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < ps->n; i++)
		n += !strcmp(ps->fr[i].name, name);
	return n;
}

static const struct frame *named(const struct parsed *ps, const char *name, int depth)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->fr[i].name, name) && (depth < 0 || ps->fr[i].depth == depth))
			return &ps->fr[i];
	return NULL;
}

static bool has_title(const struct parsed *ps, const char *title)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->fr[i].title, title))
			return true;
	return false;
}

/* The golden file sits next to this source; the test runs from the build
 * directory, so look upwards from the binary too. */
static FILE *open_golden(const char *name)
{
	char exe[PATH_MAX], path[2 * PATH_MAX], *slash;
	const char *dir = getenv("MT_GOLDEN_DIR");
	ssize_t n;
	FILE *f;
	int up;

	if (dir) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		return fopen(path, "r");
	}
	snprintf(path, sizeof(path), "tests/unit/golden/%s", name);
	f = fopen(path, "r");
	if (f)
		return f;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (up = 0; up < 8 && (slash = strrchr(exe, '/')); up++) {
		*slash = '\0';
		snprintf(path, sizeof(path), "%s/tests/unit/golden/%s", exe, name);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	return NULL;
}

/* Exercised by the golden file: shared prefixes, identical stacks from two
 * call sites, an inner frame with bytes of its own, unresolved frames, stacks
 * that must not show (no live bytes). */
static void small_report(struct mt_report *r)
{
	struct mt_proc_report *p;

	memset(r, 0, sizeof(*r));
	r->duration_s = 2.5;
	p = add_proc(r, 100, "app");
	add_stack(p, "_start;main;run_all;leak_a", 3000, 3000);
	add_stack(p, "_start;main;run_all;leak_b", 1000, 1000);
	add_stack(p, "_start;main;setup", 500, 500);
	add_stack(p, "_start;main;run_all;leak_a", 500, 500);
	add_stack(p, "_start;main;run_all", 250, 250);
	add_stack(p, "_start;main;/usr/lib/libfoo.so@1a2b;?", 750, 750);
	add_stack(p, "_start;main;freed", 0, 9999);
	add_stack(p, "_start;main;negative", -5, 0);
}

static void test_small(void)
{
	struct mt_report r;
	struct parsed ps;
	const struct frame *ra, *la, *lb, *root, *m;
	char line[512], want[512], got[512];
	size_t i = 0;
	bool same = true;
	FILE *g;
	int ret;

	small_report(&r);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0, "small: write returns 0");
	CHECK(ps.ok, "small: the SVG is well-formed XML");
	CHECK(!ps.external, "small: no reference outside the document");
	CHECK(has_title(&ps, "all (6,000 bytes, 100.00%)"), "small: root title");
	CHECK(has_title(&ps, "app (6,000 bytes, 100.00%)"), "small: one process: its comm");
	CHECK(has_title(&ps, "run_all (4,750 bytes, 79.17%)"), "small: run_all title");
	CHECK(has_title(&ps, "leak_a (3,500 bytes, 58.33%)"), "small: two call sites summed");
	CHECK(has_title(&ps, "libfoo.so+0x1a2b (750 bytes, 12.50%)"),
	      "small: unresolved frame named module+offset");
	CHECK(has_title(&ps, "[unknown] (750 bytes, 12.50%)"), "small: frame with no module");
	CHECK(count_named(&ps, "run_all") == 1 && count_named(&ps, "leak_a") == 1 &&
	      count_named(&ps, "main") == 1, "small: identical prefixes merge into one frame");
	CHECK(!count_named(&ps, "freed") && !count_named(&ps, "negative"),
	      "small: stacks without live bytes left out");
	CHECK(strstr(ps.texts, "memtrace: live bytes|"), "small: title says live bytes");
	CHECK(strstr(ps.texts, "app (100): 5.9 KiB (6,000 bytes) in 2.5 s"),
	      "small: subtitle names the process, the total and the duration");

	root = named(&ps, "all", 0);
	ra = named(&ps, "run_all", 4);
	la = named(&ps, "leak_a", 5);
	lb = named(&ps, "leak_b", 5);
	m = named(&ps, "main", 3);
	if (CHECK(root && ra && la && lb && m, "small: frames at their depths")) {
		CHECK(fabs(root->rect_w - 1180) < 0.01 && fabs(root->rect_x - 10) < 0.01,
		      "small: root spans the width (%.2f at %.2f)", root->rect_w, root->rect_x);
		CHECK(fabs(la->rect_w / root->rect_w - 3500.0 / 6000) < 1e-3 &&
		      fabs(lb->rect_w / ra->rect_w - 1000.0 / 4750) < 1e-3,
		      "small: widths proportional to bytes");
		/* Children in name order from the parent's left edge, after the
		 * parent's own bytes (run_all's 250 lie before leak_a). */
		CHECK(la->x == ra->x + 250 && lb->x == la->x + 3500 && lb->rect_x > la->rect_x,
		      "small: children sorted and placed inside their parent");
		CHECK(fabs(la->rect_x - (10 + 1180.0 * la->x / 6000)) < 0.01,
		      "small: rectangle x from the byte offset");
		CHECK(!strcmp(la->label, "leak_a") && !strcmp(root->label, "all"),
		      "small: labels of wide frames are whole");
	}
	m = named(&ps, "main", -1);
	CHECK(m && named(&ps, "_start", 2) &&
	      !strcmp(m->fill, named(&ps, "main", -1)->fill), "small: colours by name");

	/* Golden structure: depth, name and bytes of every frame, in order. */
	g = open_golden("svg_small.txt");
	if (!CHECK(g, "small: golden file svg_small.txt found")) {
		free_parsed(&ps);
		mt_report__free(&r);
		return;
	}
	while (fgets(line, sizeof(line), g)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		snprintf(want, sizeof(want), "%s", line);
		if (i < ps.n)
			snprintf(got, sizeof(got), "%d %s %llu", ps.fr[i].depth, ps.fr[i].name,
				 ps.fr[i].bytes);
		if (i >= ps.n || strcmp(want, got)) {
			printf("# golden line %zu: expected '%s', got '%s'\n", i + 1, want,
			       i < ps.n ? got : "(nothing)");
			same = false;
		}
		i++;
	}
	fclose(g);
	CHECK(same && i == ps.n, "small: frames match golden/svg_small.txt (%zu frames, %zu "
	      "expected)", ps.n, i);
	if (!same || i != ps.n)
		for (i = 0; i < ps.n; i++)
			printf("# %d %s %llu\n", ps.fr[i].depth, ps.fr[i].name, ps.fr[i].bytes);
	free_parsed(&ps);
	mt_report__free(&r);
}

static void test_escaping(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct parsed ps;
	char *svg = NULL;
	int ret;

	p = add_proc(&r, 1, "a<&>\"'");
	add_stack(p, "main;op<T>&\"'x", 100, 100);
	/* bad byte, overlong '/', surrogate, cut sequence, control character */
	add_stack(p, "main;bad\xff|\xc0\xaf|\xed\xa0\x80|\x01|caf\xc3\xa9|\xe2\x82", 100, 100);
	add_stack(p, "main;]]>", 100, 100);
	/* A comm that fills its array has no NUL. */
	p = add_proc(&r, 2, "");
	memset(p->comm, 'c', sizeof(p->comm));
	add_stack(p, "x", 100, 100);
	ret = render(&r, &ps, &svg);
	CHECK(ret == 0 && ps.ok, "escaping: hostile names still give well-formed XML");
	CHECK(named(&ps, "op<T>&\"'x", 3), "escaping: markup characters read back as they were");
	CHECK(named(&ps, "bad\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
		     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|caf\xc3\xa9|"
		     "\xef\xbf\xbd\xef\xbf\xbd", 3),
	      "escaping: invalid UTF-8 and control characters become U+FFFD, valid kept");
	CHECK(named(&ps, "]]>", 3), "escaping: ]]> in a name");
	CHECK(named(&ps, "a<&>\"' (1)", 1), "escaping: several processes: comm (pid)");
	CHECK(named(&ps, "cccccccccccccccccccccccccccccccc (2)", 1),
	      "escaping: a full comm stops at its array");
	CHECK(svg && strstr(svg, "op&lt;T&gt;&amp;&quot;&apos;x"), "escaping: entities written");
	CHECK(svg && strstr(ps.texts, "a<&>\"' (1), cccccccccccccccccccccccccccccccc (2)"),
	      "escaping: process list in the subtitle");
	free(svg);
	free_parsed(&ps);
	mt_report__free(&r);
}

static void test_elision(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct parsed ps;
	int ret;

	p = add_proc(&r, 1, "e");
	add_stack(p, "main;big", 997001, 0);
	add_stack(p, "main;edge", 1000, 0);		/* exactly 0.1 %: drawn */
	add_stack(p, "main;tiny", 999, 0);
	add_stack(p, "main;small;a", 500, 0);	/* small and its two children */
	add_stack(p, "main;small;b", 500, 0);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok, "elision: parses");
	CHECK(named(&ps, "edge", 3) && named(&ps, "small", 3),
	      "elision: frames of 0.1%% of the total drawn");
	CHECK(!named(&ps, "tiny", -1) && !named(&ps, "a", -1) && !named(&ps, "b", -1),
	      "elision: frames under 0.1%% left out");
	CHECK(strstr(ps.texts, "3 frames under 0.1% not drawn (1,999 bytes)"),
	      "elision: subtitle counts them and the bytes of the drawn frames they left");
	CHECK(has_title(&ps, "big (997,001 bytes, 99.70%)") &&
	      has_title(&ps, "all (1,000,000 bytes, 100.00%)"), "elision: titles");
	CHECK(named(&ps, "edge", 3) && !strcmp(named(&ps, "edge", 3)->label, ""),
	      "elision: no label on a thin frame");
	free_parsed(&ps);
	mt_report__free(&r);
}

static void test_labels_and_units(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	const struct frame *fr;
	struct parsed ps;
	int ret;

	p = add_proc(&r, 1, "go");
	p->live_unknown = true;
	add_stack(p, "main.main;main.fill_the_buffer_with_a_very_long_name_indeed", -1, 4000000);
	add_stack(p, "main.main;main.other", 0, 96000000);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok, "go: parses");
	CHECK(strstr(ps.texts, "memtrace: bytes allocated (live bytes unknown)|"),
	      "go: title says bytes allocated");
	CHECK(has_title(&ps, "main.other (96,000,000 bytes, 91.6 MiB, 96.00%)"),
	      "go: bytes allocated, with a human size past a MiB");
	fr = named(&ps, "main.fill_the_buffer_with_a_very_long_name_indeed", 3);
	CHECK(fr && strlen(fr->label) > 2 && strlen(fr->label) < strlen(fr->name) &&
	      !strcmp(fr->label + strlen(fr->label) - 2, "..") &&
	      !strncmp(fr->label, fr->name, strlen(fr->label) - 2),
	      "labels: a long name cut with '..' (%s)", fr ? fr->label : "");
	mt_report__free(&r);
	free_parsed(&ps);

	p = add_proc(&r, 1, "n");
	add_stack(p, "a", 10, 0);
	p = add_proc(&r, 2, "g");
	p->live_unknown = true;
	add_stack(p, "b", 0, 30);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok && has_title(&ps, "b (30 bytes, 75.00%)") &&
	      strstr(ps.texts, "memtrace: live bytes (bytes allocated for Go processes)|"),
	      "mixed: live bytes and Go's bytes allocated");
	mt_report__free(&r);
	free_parsed(&ps);

	p = add_proc(&r, 1, "go");
	p->sampled = true;
	p->sample_rate = 16384;
	add_stack(p, "main.main;main.keep", 3 << 20, 4 << 20);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok &&
	      has_title(&ps, "main.keep (3,145,728 bytes, 3.0 MiB, 100.00%)") &&
	      strstr(ps.texts, "memtrace: live bytes|") &&
	      strstr(ps.texts, "Go live bytes are sampled estimates (1 sample per 16.0 KiB)."),
	      "go, sampled: live bytes, called estimates");
	mt_report__free(&r);
	free_parsed(&ps);
}

static void test_empty_and_errors(void)
{
	struct mt_report r = { 0 };
	struct mt_proc_report *p;
	struct parsed ps;
	FILE *f;
	int ret;

	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok && ps.n == 0 && strstr(ps.texts, "no live bytes|"),
	      "empty: no process: valid SVG saying no live bytes");
	p = add_proc(&r, 3, "idle");
	add_stack(p, "main;freed", 0, 100);
	ret = render(&r, &ps, NULL);
	CHECK(ret == 0 && ps.ok && ps.n == 0 && strstr(ps.texts, "no live bytes|"),
	      "empty: nothing live: valid SVG saying no live bytes");

	add_stack(p, "main;held", 100, 100);
	f = fopen("/dev/full", "w");
	if (f) {
		ret = report_svg__write(&r, f);
		CHECK(ret == -EIO, "write error: -EIO (got %d)", ret);
		fclose(f);
	}
	mt_report__free(&r);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (system("python3 -c 'import xml.etree.ElementTree' 2>/dev/null") != 0) {
		printf("not ok - python3 with xml.etree is needed to read the SVG back\n");
		rmdir(tmpdir);
		return 1;
	}
	test_small();
	test_escaping();
	test_elision();
	test_labels_and_units();
	test_empty_and_errors();
	rmdir(tmpdir);
	return unit_exit_summary();
}
