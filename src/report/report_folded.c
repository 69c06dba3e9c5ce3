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
#include "report/format.h"
#include "report/report.h"

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
	char *key = NULL;
	size_t len, k;
	bool failed;
	FILE *m;

	m = open_memstream(&key, &len);
	if (!m)
		return NULL;
	mt_fput_clean(m, p->comm, sizeof(p->comm), MT_CLEAN_FOLDED);
	/* With one process the pid adds nothing but noise to the root frame;
	 * with several it keeps same-named ones apart. */
	if (r->nr_procs > 1)
		fprintf(m, "/%" PRIu32, p->pid);
	for (k = s->nr_frames; k > 0; k--) {
		fputc(';', m);
		mt_frame_fput(m, &s->frames[k - 1], MT_FRAME_BASENAME | MT_CLEAN_FOLDED);
	}
	failed = ferror(m);
	if (fclose(m) || failed) {
		free(key);
		return NULL;
	}
	/* Nothing written is "": an empty comm and no frames still make a
	 * (nameless) line. */
	return key;
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
