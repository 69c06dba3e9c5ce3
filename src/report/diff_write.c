/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --diff's output: the text for people, and the folded diff for flame graphs. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "report/diff.h"
#include "report/format.h"

#define DEFAULT_TOP 10

/* ---------------------------------------------------------------- text */

/* A call path is its function names: the text shows those alone, module
 * and offset only for a frame without one. Folded output names frames as
 * --folded does, so that the two compare. */
#define TEXT_FRAME (MT_FRAME_UNKNOWN_OFFSET | MT_CLEAN_TERMINAL)
#define FOLDED_FRAME (MT_FRAME_BASENAME | MT_CLEAN_FOLDED)

static const char *delta_bytes(int64_t v, char *buf, size_t len)
{
	if (v <= 0)
		return mt_human_bytes((double)v, buf, len);
	buf[0] = '+';
	mt_human_bytes((double)v, buf + 1, len - 1);
	return buf;
}

static bool is_go(const struct diff_proc *dp)
{
	const struct mt_proc_report *p = dp->new ? dp->new : dp->old;

	return p->runtime && !strcmp(p->runtime, "go");
}

static const char *units(const struct diff_proc *dp, int64_t n)
{
	bool one = n == 1 || n == -1;

	if (dp->by_alloc)
		return one ? "call" : "calls";
	/* Go's live figures are objects the garbage collector has not freed. */
	if (is_go(dp))
		return one ? "object" : "objects";
	return one ? "allocation" : "allocations";
}

static bool estimated(const struct mt_proc_report *p)
{
	/* A sample of every allocation (rate 1: MemProfileRate = 1) is exact. */
	return p && p->sampled && p->sample_rate > 1;
}

/* Live figures scaled from a heap sample are estimates: say so, and at what rate. */
static void write_sampled_note(FILE *f, const struct diff_proc *dp)
{
	bool old = estimated(dp->old), new = estimated(dp->new);
	char b1[32], b2[32];

	if (dp->by_alloc || (!old && !new))
		return;
	if (old)
		mt_human_bytes((double)dp->old->sample_rate, b1, sizeof(b1));
	if (new)
		mt_human_bytes((double)dp->new->sample_rate, b2, sizeof(b2));
	if (old && new && dp->old->sample_rate == dp->new->sample_rate)
		fprintf(f, "; sampled estimates (1 sample per %s)", b2);
	else if (old && new)
		fprintf(f, "; sampled estimates (OLD 1 sample per %s, NEW 1 per %s)", b1, b2);
	else
		fprintf(f, "; %s's are sampled estimates (1 sample per %s)", old ? "OLD" : "NEW",
			old ? b1 : b2);
}

/* Live bytes and blocks, or bytes and calls allocated, of p (0 when NULL). */
static void proc_figures(const struct mt_proc_report *p, bool by_alloc, int64_t fig[2])
{
	fig[0] = !p ? 0 : by_alloc ? (int64_t)p->heap.alloc_bytes_total : p->heap.live_bytes;
	fig[1] = !p ? 0 : by_alloc ? (int64_t)p->heap.allocs_total : p->heap.live_allocs;
}

static void write_proc_header(FILE *f, const struct diff_proc *dp)
{
	const struct mt_proc_report *any = dp->new ? dp->new : dp->old;
	char b1[32], b2[32], b3[40];
	int64_t o[2], n[2];

	fputs("PID ", f);
	if (dp->old && dp->new && dp->old->pid != dp->new->pid)
		fprintf(f, "%" PRIu32 " -> ", dp->old->pid);
	fprintf(f, "%" PRIu32 " (", any->pid);
	mt_fput_clean(f, any->comm, sizeof(any->comm), MT_CLEAN_TERMINAL);
	fprintf(f, ")%s%s\n", is_go(dp) ? "  runtime: go" : "",
		!dp->old ? "  only in NEW" : !dp->new ? "  only in OLD: gone" : "");
	proc_figures(dp->old, dp->by_alloc, o);
	proc_figures(dp->new, dp->by_alloc, n);
	fprintf(f, "  %s %s -> %s (%s), %" PRId64 " -> %" PRId64 " %s (%+" PRId64 ")%s",
		dp->by_alloc ? "allocated" : "live", mt_human_bytes(o[0], b1, sizeof(b1)),
		mt_human_bytes(n[0], b2, sizeof(b2)), delta_bytes(n[0] - o[0], b3, sizeof(b3)),
		o[1], n[1], units(dp, n[1]), n[1] - o[1],
		dp->by_alloc ? "; live figures unknown, bytes allocated compared" : "");
	write_sampled_note(f, dp);
	fputc('\n', f);
}

static int64_t growth(const struct diff_stack *s)
{
	int64_t d = s->new_bytes - s->old_bytes;

	if (d)
		return d;
	return s->new_allocs - s->old_allocs;
}

/* "+1.0 KiB, +10 allocations (0 B in 0 -> 1.0 KiB in 10, new)" */
static void write_change(FILE *f, const struct diff_stack *s, const struct diff_proc *dp)
{
	char b1[40], b2[32], b3[32];
	int64_t da = s->new_allocs - s->old_allocs;

	fprintf(f, "%s, %+" PRId64 " %s (%s in %" PRId64 " -> %s in %" PRId64 "%s)",
		delta_bytes(s->new_bytes - s->old_bytes, b1, sizeof(b1)), da, units(dp, da),
		mt_human_bytes(s->old_bytes, b2, sizeof(b2)), s->old_allocs,
		mt_human_bytes(s->new_bytes, b3, sizeof(b3)), s->new_allocs,
		!s->old ? ", new" : !s->new ? ", gone" : "");
}

static void write_proc(FILE *f, const struct diff_proc *dp, size_t top_n)
{
	size_t grew = 0, shrank = 0, i, k, shown;
	const struct mt_stack_report *st;

	write_proc_header(f, dp);
	for (i = 0; i < dp->nr_stacks; i++) {
		grew += growth(&dp->stacks[i]) > 0;
		shrank += growth(&dp->stacks[i]) < 0;
	}
	if (!grew) {
		fputs("  no call path grew\n", f);
	} else {
		shown = grew < top_n ? grew : top_n;
		fprintf(f, "  grew: %zu call path%s, top %zu by %s:\n", grew, grew == 1 ? "" : "s",
			shown, dp->by_alloc ? "bytes allocated" : "live bytes");
	}
	/* Stacks are sorted by growth: those that grew first, shrank last. */
	for (i = 0; i < grew && i < top_n; i++) {
		fprintf(f, "  #%zu  ", i + 1);
		write_change(f, &dp->stacks[i], dp);
		fputc('\n', f);
		st = dp->stacks[i].new ? dp->stacks[i].new : dp->stacks[i].old;
		for (k = 0; k < st->nr_frames; k++) {
			fputs("        ", f);
			mt_frame_fput(f, &st->frames[k], TEXT_FRAME);
			fputc('\n', f);
		}
	}
	if (!shrank)
		return;
	fprintf(f, "  shrank or gone: %zu call path%s\n", shrank, shrank == 1 ? "" : "s");
	for (i = 0; i < shrank && i < top_n; i++) {
		const struct diff_stack *s = &dp->stacks[dp->nr_stacks - 1 - i];

		fputs("    ", f);
		write_change(f, s, dp);
		st = s->old ? s->old : s->new;
		/* The innermost frames say enough in a short list. */
		for (k = 0; k < st->nr_frames && k < 3; k++) {
			fputs(k ? " <- " : "  ", f);
			mt_frame_fput(f, &st->frames[k], TEXT_FRAME);
		}
		fputs(st->nr_frames > 3 ? " <- ...\n" : "\n", f);
	}
	if (shrank > top_n)
		fprintf(f, "    ... and %zu more\n", shrank - top_n);
}

int diff__write_text(const struct diff_result *d, FILE *f, size_t top_n)
{
	size_t i;

	if (!top_n)
		top_n = DEFAULT_TOP;
	if (!d->nr_procs)
		fputs("no processes in either report\n", f);
	for (i = 0; i < d->nr_procs; i++) {
		fputc('\n', f);
		write_proc(f, &d->procs[i], top_n);
	}
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}

/* ---------------------------------------------------------------- folded */

struct fline {
	char *key;
	size_t len;
	uint64_t old, new;
};

static int cmp_fline(const void *a, const void *b)
{
	const struct fline *x = a, *y = b;

	/* Folded text holds no NUL (names end at theirs): strcmp() orders
	 * it as the byte keys of the matching are ordered. */
	return strcmp(x->key, y->key);
}

/* The root frame: comm, with the pid when another process has that comm. */
static void put_folded_root(FILE *f, const struct diff_result *d, const struct diff_proc *dp)
{
	const struct mt_proc_report *p = dp->new ? dp->new : dp->old, *q;
	size_t i;

	mt_fput_clean(f, p->comm, sizeof(p->comm), MT_CLEAN_FOLDED);
	for (i = 0; i < d->nr_procs; i++) {
		q = d->procs[i].new ? d->procs[i].new : d->procs[i].old;
		if (&d->procs[i] != dp && !strncmp(p->comm, q->comm, sizeof(p->comm))) {
			fprintf(f, "/%" PRIu32, p->pid);
			return;
		}
	}
}

static int build_flines(const struct diff_result *d, struct fline *lines, size_t *nr)
{
	size_t i, j, k, n = 0;
	FILE *m;

	for (i = 0; i < d->nr_procs; i++) {
		const struct diff_proc *dp = &d->procs[i];

		for (j = 0; j < dp->nr_stacks; j++) {
			const struct diff_stack *s = &dp->stacks[j];
			const struct mt_stack_report *st = s->new ? s->new : s->old;
			struct fline *l = &lines[n];

			/* Flame graphs have no negative widths. */
			l->old = s->old_bytes > 0 ? s->old_bytes : 0;
			l->new = s->new_bytes > 0 ? s->new_bytes : 0;
			if (!l->old && !l->new)
				continue;
			m = open_memstream(&l->key, &l->len);
			if (!m)
				return -ENOMEM;
			n++;
			put_folded_root(m, d, dp);
			for (k = st->nr_frames; k > 0; k--) {
				fputc(';', m);
				mt_frame_fput(m, &st->frames[k - 1], FOLDED_FRAME);
			}
			if (fclose(m))
				return -ENOMEM;
		}
	}
	*nr = n;
	return 0;
}

int diff__write_folded(const struct diff_result *d, FILE *f)
{
	size_t i, j, n = 0, total = 0;
	uint64_t old, new;
	struct fline *lines;
	int err;

	for (i = 0; i < d->nr_procs; i++)
		total += d->procs[i].nr_stacks;
	lines = calloc(total + 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	err = build_flines(d, lines, &n);
	if (!err)
		qsort(lines, n, sizeof(*lines), cmp_fline);
	/* Paths that fold to the same text are one line, summed. */
	for (i = 0; !err && i < n; i = j) {
		for (j = i, old = new = 0; j < n && !cmp_fline(&lines[i], &lines[j]); j++) {
			old += lines[j].old;
			new += lines[j].new;
		}
		fwrite(lines[i].key, 1, lines[i].len, f);
		fprintf(f, " %" PRIu64 " %" PRIu64 "\n", old, new);
	}
	for (i = 0; i < n; i++)
		free(lines[i].key);
	free(lines);
	if (!err && (fflush(f) == EOF || ferror(f)))
		err = -EIO;
	return err;
}
