/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Folded stacks, the input of flamegraph.pl and its kin: one line per call
 * path, "comm;outermost;...;innermost BYTES", weighted by live bytes.
 *
 * The format has no quoting. ';' separates frames, so a ';' inside a name
 * (C++ operators, Rust closures) is written as ':', which is what the
 * stackcollapse tools do; a line ends at '\n', so control characters become
 * spaces. Spaces themselves are fine: readers take the count after the last
 * one. Different stacks can fold to the same text (two call sites in an
 * unresolved module, escaped names); their bytes are summed so that every
 * line is unique, as the tools expect.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"

struct buf {
	char *s;
	size_t len;
	size_t cap;
	bool failed;
};

static void buf_putn(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* A name with the characters the format gives a meaning to replaced. */
static void buf_put_name(struct buf *b, const char *s, size_t n)
{
	size_t start = b->len, i;

	buf_putn(b, s, n);
	if (b->failed)
		return;
	for (i = start; i < b->len; i++) {
		unsigned char c = b->s[i];

		if (c == ';')
			b->s[i] = ':';
		else if (c < 0x20 || c == 0x7f)
			b->s[i] = ' ';
	}
}

static void buf_put_frame(struct buf *b, const struct mt_frame *fr)
{
	const char *base;
	char off[32];

	if (fr->function) {
		buf_put_name(b, fr->function, strlen(fr->function));
	} else if (fr->module) {
		base = strrchr(fr->module, '/');
		base = base ? base + 1 : fr->module;
		buf_put_name(b, base, strlen(base));
		snprintf(off, sizeof(off), "+0x%" PRIx64, fr->offset);
		buf_putn(b, off, strlen(off));
	} else {
		buf_putn(b, "[unknown]", 9);
	}
}

struct folded_line {
	char *key;		/* everything before the count */
	uint64_t bytes;
	size_t order;		/* position in the report, kept in the output */
};

static int cmp_key(const void *a, const void *b)
{
	const struct folded_line *x = *(const struct folded_line *const *)a;
	const struct folded_line *y = *(const struct folded_line *const *)b;
	int d = strcmp(x->key, y->key);

	if (d)
		return d;
	return (x->order > y->order) - (x->order < y->order);
}

/* Sum the bytes of duplicate keys into the first one in report order and
 * drop the others (key set to NULL). */
static int merge_duplicates(struct folded_line *lines, size_t n)
{
	struct folded_line **sorted;
	size_t i, first = 0;

	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		sorted[i] = &lines[i];
	qsort(sorted, n, sizeof(*sorted), cmp_key);
	for (i = 1; i < n; i++) {
		if (strcmp(sorted[i]->key, sorted[first]->key)) {
			first = i;
			continue;
		}
		sorted[first]->bytes += sorted[i]->bytes;
		free(sorted[i]->key);
		sorted[i]->key = NULL;
	}
	free(sorted);
	return 0;
}

static void free_lines(struct folded_line *lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i].key);
	free(lines);
}

/* The folded text of one stack, without its count; NULL when out of memory. */
static char *stack_key(const struct mt_report *r, const struct mt_proc_report *p,
		       const struct mt_stack_report *s)
{
	struct buf b = { 0 };
	const char *nul;
	char pid[16];
	size_t k;

	nul = memchr(p->comm, '\0', sizeof(p->comm));
	buf_put_name(&b, p->comm, nul ? (size_t)(nul - p->comm) : sizeof(p->comm));
	/* With one process the pid adds nothing but noise to the root frame;
	 * with several it keeps same-named ones apart. */
	if (r->nr_procs > 1) {
		snprintf(pid, sizeof(pid), "/%" PRIu32, p->pid);
		buf_putn(&b, pid, strlen(pid));
	}
	for (k = s->nr_frames; k > 0; k--) {
		buf_putn(&b, ";", 1);
		buf_put_frame(&b, &s->frames[k - 1]);
	}
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	/* An empty comm and no frames still make a (nameless) line. */
	return b.s ? b.s : calloc(1, 1);
}

static int build_lines(const struct mt_report *r, struct folded_line **out, size_t *nr_out)
{
	struct folded_line *lines = NULL, *nl;
	size_t n = 0, cap = 0, i, j;
	char *key;

	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		for (j = 0; j < p->nr_stacks; j++) {
			const struct mt_stack_report *s = &p->stacks[j];
			/* Go's live bytes are unknown: its flame graph shows bytes allocated. */
			int64_t bytes = p->live_unknown ? (int64_t)s->alloc_bytes_total : s->live_bytes;

			if (bytes <= 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				nl = realloc(lines, cap * sizeof(*lines));
				if (!nl)
					goto nomem;
				lines = nl;
			}
			key = stack_key(r, p, s);
			if (!key)
				goto nomem;
			lines[n].key = key;
			lines[n].bytes = bytes;
			lines[n].order = n;
			n++;
		}
	}
	*out = lines;
	*nr_out = n;
	return 0;
nomem:
	free_lines(lines, n);
	return -ENOMEM;
}

int report_folded__write(const struct mt_report *r, FILE *f)
{
	struct folded_line *lines;
	size_t n, i;
	int err;

	err = build_lines(r, &lines, &n);
	if (err)
		return err;
	err = merge_duplicates(lines, n);
	for (i = 0; !err && i < n; i++)
		if (lines[i].key)
			fprintf(f, "%s %" PRIu64 "\n", lines[i].key, lines[i].bytes);
	free_lines(lines, n);
	if (err)
		return err;
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
