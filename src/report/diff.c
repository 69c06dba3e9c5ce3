/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --diff: two reports written by --json (diff_read.c), compared call path
 * by call path, then written out (diff_write.c).
 *
 * A call path is named by its function names, not by memtrace's stack ids
 * or addresses: those change with every run and every build, names do not.
 * Only frames without a name fall back to module and offset; a Python
 * frame is its function, file and line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "report/diff.h"
#include "util/log.h"
#include "util/output_file.h"

/* Frames as one byte string: 'F' name NUL, or 'M' module NUL offset NUL.
 * Names hold no NUL, so different paths never give the same key. */
static int stack_key(const struct mt_stack_report *s, char **key, size_t *len)
{
	FILE *m = open_memstream(key, len);
	size_t i;

	if (!m)
		return -ENOMEM;
	for (i = 0; i < s->nr_frames; i++) {
		const struct mt_frame *fr = &s->frames[i];

		/* A Python frame is a line of its function: two lines of one function hold apart. */
		if (fr->python && fr->function)
			fprintf(m, "P%s%c%s%c%d%c", fr->function, 0, fr->file ? fr->file : "", 0,
				fr->line, 0);
		else if (fr->function)
			fprintf(m, "F%s%c", fr->function, 0);
		else
			fprintf(m, "M%s%c%" PRIx64 "%c", fr->module ? fr->module : "", 0,
				fr->offset, 0);
	}
	return fclose(m) ? -ENOMEM : 0;
}

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	return d ? d : (alen > blen) - (alen < blen);
}

/* A stack of either report, on its way to its diff_stack. */
struct entry {
	char *key;
	size_t len;
	const struct mt_stack_report *s;
	bool is_new;
	size_t order;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int d = cmp_key(x->key, x->len, y->key, y->len);

	if (d)
		return d;
	if (x->is_new != y->is_new)
		return x->is_new ? 1 : -1;
	return (x->order > y->order) - (x->order < y->order);
}

static int cmp_growth(const void *a, const void *b)
{
	const struct diff_stack *x = a, *y = b;
	int64_t dx = x->new_bytes - x->old_bytes, dy = y->new_bytes - y->old_bytes;

	if (dx != dy)
		return dx > dy ? -1 : 1;
	dx = x->new_allocs - x->old_allocs;
	dy = y->new_allocs - y->old_allocs;
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return cmp_key(x->key, x->key_len, y->key, y->key_len);
}

static void add_figures(struct diff_stack *ds, const struct entry *e, bool by_alloc)
{
	const struct mt_stack_report *s = e->s;
	int64_t bytes = by_alloc ? (int64_t)s->alloc_bytes_total : s->live_bytes;
	int64_t allocs = by_alloc ? (int64_t)s->allocs_total : s->live_allocs;

	/* Entries come in report order: the first is the largest. */
	if (e->is_new) {
		ds->new = ds->new ? ds->new : s;
		ds->new_bytes += bytes;
		ds->new_allocs += allocs;
	} else {
		ds->old = ds->old ? ds->old : s;
		ds->old_bytes += bytes;
		ds->old_allocs += allocs;
	}
}

/* Every stack of both processes sorted by key; one diff_stack per key. */
static int match_stacks(struct diff_proc *dp)
{
	const struct mt_proc_report *side[2] = { dp->old, dp->new };
	size_t n = 0, i, j, k = 0, sd;
	struct entry *e;
	int err = 0;

	for (sd = 0; sd < 2; sd++)
		n += side[sd] ? side[sd]->nr_stacks : 0;
	e = calloc(n + 1, sizeof(*e));
	dp->stacks = calloc(n + 1, sizeof(*dp->stacks));
	if (!e || !dp->stacks) {
		free(e);
		return -ENOMEM;
	}
	for (sd = 0, n = 0; sd < 2 && !err; sd++) {
		for (i = 0; side[sd] && i < side[sd]->nr_stacks && !err; i++, n++) {
			e[n] = (struct entry){ .s = &side[sd]->stacks[i], .is_new = sd, .order = i };
			err = stack_key(e[n].s, &e[n].key, &e[n].len);
		}
	}
	if (!err)
		qsort(e, n, sizeof(*e), cmp_entry);
	for (i = 0; !err && i < n; i = j, k++) {
		struct diff_stack *ds = &dp->stacks[k];

		for (j = i; j < n && !cmp_key(e[i].key, e[i].len, e[j].key, e[j].len); j++)
			add_figures(ds, &e[j], dp->by_alloc);
		ds->key = e[i].key;
		ds->key_len = e[i].len;
		e[i].key = NULL;
	}
	for (i = 0; i < n; i++)
		free(e[i].key);
	free(e);
	dp->nr_stacks = k;
	qsort(dp->stacks, k, sizeof(*dp->stacks), cmp_growth);
	return err;
}

static bool same_comm(const struct mt_proc_report *a, const struct mt_proc_report *b)
{
	return !strncmp(a->comm, b->comm, sizeof(a->comm));
}

int diff__match(const struct mt_report *old, const struct mt_report *new,
		struct diff_result *out)
{
	size_t i, j, pass, n = 0;
	size_t *pair = NULL;
	bool *taken = NULL;
	int err = -ENOMEM;

	memset(out, 0, sizeof(*out));
	pair = calloc(new->nr_procs + 1, sizeof(*pair));
	taken = calloc(old->nr_procs + 1, sizeof(*taken));
	out->procs = calloc(new->nr_procs + old->nr_procs + 1, sizeof(*out->procs));
	if (!pair || !taken || !out->procs)
		goto out;
	/* pair[i]: index + 1 in OLD of the process NEW's i continues; 0 when none. */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < new->nr_procs; i++) {
			const struct mt_proc_report *np = &new->procs[i];

			for (j = 0; !pair[i] && j < old->nr_procs; j++) {
				const struct mt_proc_report *op = &old->procs[j];
				bool pid = op->pid == np->pid, comm = same_comm(op, np);

				if (taken[j] || !(pass == 0 ? pid && comm : pass == 1 ? comm : pid))
					continue;
				pair[i] = j + 1;
				taken[j] = true;
			}
		}
	}
	for (i = 0; i < new->nr_procs; i++) {
		out->procs[n].new = &new->procs[i];
		out->procs[n++].old = pair[i] ? &old->procs[pair[i] - 1] : NULL;
	}
	for (j = 0; j < old->nr_procs; j++)
		if (!taken[j])
			out->procs[n++].old = &old->procs[j];
	out->nr_procs = n;
	err = 0;
	for (i = 0; i < n && !err; i++) {
		struct diff_proc *dp = &out->procs[i];

		dp->by_alloc = (dp->old && dp->old->live_unknown) ||
			       (dp->new && dp->new->live_unknown);
		err = match_stacks(dp);
	}
out:
	free(pair);
	free(taken);
	if (err)
		diff_result__free(out);
	return err;
}

void diff_result__free(struct diff_result *d)
{
	size_t i, j;

	for (i = 0; i < d->nr_procs; i++) {
		for (j = 0; j < d->procs[i].nr_stacks; j++)
			free(d->procs[i].stacks[j].key);
		free(d->procs[i].stacks);
	}
	free(d->procs);
	memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- the command */

static int write_folded(const void *d, FILE *f)
{
	return diff__write_folded(d, f);
}

static int write_pprof(const void *r, FILE *f)
{
	return report_pprof__write(r, f);
}

static int write_file(const char *path, const char *kind,
		      int (*write)(const void *arg, FILE *f), const void *arg)
{
	int err = out_file__write(path, write, arg);

	if (err)
		mt_err("cannot write %s to %s: %s\n", kind, path, strerror(-err));
	return err;
}

int diff__run(const struct diff_opts *o)
{
	struct mt_report old = { 0 }, new = { 0 };
	struct diff_result d = { 0 };
	const char *outs[3];
	char *base = NULL;
	int err;

	/* Two profiles, for `go tool pprof -diff_base F.base F`: pprof
	 * subtracts the base itself, and either file is a heap profile of its
	 * own. */
	if (o->pprof_path && asprintf(&base, "%s.base", o->pprof_path) < 0) {
		mt_err("cannot write pprof: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	outs[0] = o->folded_path;
	outs[1] = o->pprof_path;
	outs[2] = base;
	/* A path that cannot be written is an error before anything is printed. */
	err = out_file__check_paths(outs, 3) ?: diff__load_report(o->old_path, &old) ?:
	      diff__load_report(o->new_path, &new);
	if (!err && (err = diff__match(&old, &new, &d)))
		mt_err("cannot compare the reports: %s\n", strerror(-err));
	if (err)
		goto out;
	printf("memtrace diff: OLD %s (%.1f s) -> NEW %s (%.1f s)\n", o->old_path,
	       old.duration_s, o->new_path, new.duration_s);
	err = diff__write_text(&d, stdout, o->top_n);
	if (err)
		mt_err("cannot write the diff to stdout: %s\n", strerror(-err));
	if (!err && o->folded_path)
		err = write_file(o->folded_path, "folded diff", write_folded, &d);
	if (!err && base)
		err = write_file(base, "pprof (OLD)", write_pprof, &old) ?:
		      write_file(o->pprof_path, "pprof (NEW)", write_pprof, &new);
out:
	free(base);
	diff_result__free(&d);
	mt_report__free(&old);
	mt_report__free(&new);
	return err;
}
