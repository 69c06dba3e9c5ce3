/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --diff: two reports written by --json, read back into struct mt_report so
 * that the pprof writer (and anything else that writes a report) serves
 * here too, then compared call path by call path.
 *
 * A call path is named by its function names, not by memtrace's stack ids
 * or addresses: those change with every run and every build, names do not.
 * Only frames without a name fall back to module and offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/diff.h"
#include "report/format.h"
#include "util/json_read.h"
#include "util/log.h"
#include "util/output_file.h"

#define DEFAULT_TOP 10

/* ------------------------------------------------- the report, back from JSON */

static int __attribute__((format(printf, 3, 4)))
bad(const struct json_read_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e->why_len) {
		va_start(ap, fmt);
		vsnprintf(e->why, e->why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

#define NR(a) (sizeof(a) / sizeof((a)[0]))
#define FR(m, t) { #m, JSON_F_##t, offsetof(struct mt_frame, m) }
#define ST(m, t) { #m, JSON_F_##t, offsetof(struct mt_stack_report, m) }
#define PR(m, t) { #m, JSON_F_##t, offsetof(struct mt_proc_report, m) }
#define HP(m, t) { #m, JSON_F_##t, offsetof(struct mt_heap_totals, m) }
#define RP(m, t) { #m, JSON_F_##t, offsetof(struct mt_report, m) }

static const struct json_field frame_fields[] = {
	FR(function, STR), FR(module, STR), FR(offset, U64), FR(file, STR), FR(line, INT),
	FR(inlined, BOOL),
};
static const struct json_field stack_fields[] = {
	ST(live_bytes, I64), ST(live_allocs, I64), ST(alloc_bytes_total, U64),
	ST(allocs_total, U64), ST(frees_total, U64), ST(oldest_age_s, DOUBLE),
};
static const struct json_field proc_fields[] = {
	PR(pid, U32), PR(exe, STR), PR(allocator, STR), PR(allocator_path, STR),
	PR(rss_bytes, U64), PR(exited, BOOL), PR(unresolved_frames, U64),
};
static const struct json_field heap_fields[] = {
	HP(live_bytes, I64), HP(live_allocs, I64), HP(alloc_bytes_total, U64),
	HP(allocs_total, U64), HP(frees_total, U64),
};
static const struct json_field report_fields[] = {
	RP(duration_s, DOUBLE), RP(lost_events, U64), RP(min_age_s, DOUBLE),
};

static int stack_from_json(const struct json_read_err *e, const struct json_value *v,
			   struct mt_stack_report *s)
{
	const struct json_value *frames = NULL;
	struct json_read_err fe = *e;
	bool truncated = false;
	char w[160];
	size_t i, n;
	int err;

	s->oldest_age_s = -1;
	err = json_value__read_fields(v, stack_fields, NR(stack_fields), s, e) ?:
	      json_value__read(v, "truncated", JSON_F_BOOL, &truncated, e) ?:
	      json_value__read(v, "frames", JSON_F_ARRAY, &frames, e);
	if (err)
		return err;
	s->flags = truncated ? MT_STACK_F_TRUNCATED : 0;
	n = json_value__len(frames);
	if (n && !(s->frames = calloc(n, sizeof(*s->frames))))
		return bad(e, -ENOMEM, "out of memory");
	s->nr_frames = n;
	fe.where = w;
	for (i = 0; i < n && !err; i++) {
		snprintf(w, sizeof(w), "%sframes[%zu].", e->where, i);
		err = json_value__read_fields(json_value__at(frames, i), frame_fields,
					      NR(frame_fields), &s->frames[i], &fe);
	}
	return err;
}

static int proc_from_json(const struct json_read_err *e, const struct json_value *v,
			  struct mt_proc_report *p)
{
	const struct json_value *heap = NULL, *stacks = NULL;
	char *comm = NULL, *runtime = NULL, w[96];
	struct json_read_err se = *e;
	uint64_t total = 0;
	size_t i, n;
	int err;

	se.where = w;
	snprintf(w, sizeof(w), "%sheap.", e->where);
	err = json_value__read_fields(v, proc_fields, NR(proc_fields), p, e) ?:
	      json_value__read(v, "comm", JSON_F_STR, &comm, e) ?:
	      json_value__read(v, "runtime", JSON_F_STR, &runtime, e) ?:
	      json_value__read(v, "stacks_total", JSON_F_U64, &total, e) ?:
	      json_value__read(v, "stacks", JSON_F_ARRAY, &stacks, e);
	if (comm)
		strncpy(p->comm, comm, sizeof(p->comm) - 1);
	/* The report's runtime is a static string. */
	if (runtime && !strcmp(runtime, "go"))
		p->runtime = "go";
	free(comm);
	free(runtime);
	heap = json_value__get(v, "heap");
	if (!err && json_value__type(heap) != JSON_NULL)
		err = json_value__read_fields(heap, heap_fields, NR(heap_fields), &p->heap, &se);
	if (err)
		return err;
	/* Go's live figures are null: unknown. */
	p->live_unknown = json_value__type(json_value__get(heap, "live_bytes")) == JSON_NULL ||
			  !strcmp(p->runtime, "go");
	n = json_value__len(stacks);
	if (n && !(p->stacks = calloc(n, sizeof(*p->stacks))))
		return bad(e, -ENOMEM, "out of memory");
	p->nr_stacks = n;
	p->nr_stacks_total = total > n ? total : n;
	for (i = 0; i < n && !err; i++) {
		snprintf(w, sizeof(w), "%sstacks[%zu].", e->where, i);
		err = stack_from_json(&se, json_value__at(stacks, i), &p->stacks[i]);
	}
	return err;
}

int diff__report_from_json(const struct json_value *root, struct mt_report *r,
			   char *why, size_t why_len)
{
	struct json_read_err e = { "", why, why_len }, pe = e;
	const struct json_value *procs = NULL, *counters;
	int64_t version = 0;
	char w[48];
	size_t i, n;
	int k, err;

	memset(r, 0, sizeof(*r));
	if (json_value__type(root) != JSON_OBJECT)
		return bad(&e, -EINVAL, "not a JSON object");
	if (json_value__type(json_value__get(root, "version")) == JSON_NULL)
		return bad(&e, -EINVAL, "no \"version\"");
	if (json_value__type(json_value__get(root, "processes")) == JSON_NULL)
		return bad(&e, -EINVAL, "no \"processes\"");
	err = json_value__read(root, "version", JSON_F_I64, &version, &e);
	if (!err && version != 1)
		return bad(&e, -ENOTSUP, "report version %" PRId64 ", this memtrace reads 1",
			   version);
	counters = json_value__get(root, "counters");
	pe.where = "counters.";
	err = err ?:
	      json_value__read_fields(root, report_fields, NR(report_fields), r, &e) ?:
	      json_value__read(root, "processes", JSON_F_ARRAY, &procs, &e) ?:
	      (json_value__type(counters) == JSON_NULL ? 0 :
	       json_value__read_fields(counters, NULL, 0, NULL, &pe));
	for (k = 0; !err && k < MT_CNT_MAX; k++)
		err = json_value__read(counters, mt_counter_name(k), JSON_F_U64, &r->counters[k],
				       &pe);
	if (err)
		return err;
	n = json_value__len(procs);
	if (n && !(r->procs = calloc(n, sizeof(*r->procs))))
		return bad(&e, -ENOMEM, "out of memory");
	/* Set now: a report filled in part is freed whole by mt_report__free(). */
	r->nr_procs = n;
	for (i = 0; i < n; i++)
		r->procs[i].runtime = "native";
	pe.where = w;
	for (i = 0; i < n && !err; i++) {
		snprintf(w, sizeof(w), "processes[%zu].", i);
		err = proc_from_json(&pe, json_value__at(procs, i), &r->procs[i]);
	}
	if (err)
		mt_report__free(r);
	return err;
}

/* ------------------------------------------------------------------ matching */

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

		if (fr->function)
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

static const char *units(bool by_alloc, int64_t n)
{
	if (by_alloc)
		return n == 1 || n == -1 ? "call" : "calls";
	return n == 1 || n == -1 ? "allocation" : "allocations";
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
	fprintf(f, ")%s%s\n", dp->by_alloc ? "  runtime: go" : "",
		!dp->old ? "  only in NEW" : !dp->new ? "  only in OLD: gone" : "");
	proc_figures(dp->old, dp->by_alloc, o);
	proc_figures(dp->new, dp->by_alloc, n);
	fprintf(f, "  %s %s -> %s (%s), %" PRId64 " -> %" PRId64 " %s (%+" PRId64 ")%s\n",
		dp->by_alloc ? "allocated" : "live", mt_human_bytes(o[0], b1, sizeof(b1)),
		mt_human_bytes(n[0], b2, sizeof(b2)), delta_bytes(n[0] - o[0], b3, sizeof(b3)),
		o[1], n[1], units(dp->by_alloc, n[1]), n[1] - o[1],
		dp->by_alloc ? "; live figures unknown, bytes allocated compared" : "");
}

static int64_t growth(const struct diff_stack *s)
{
	int64_t d = s->new_bytes - s->old_bytes;

	if (d)
		return d;
	return s->new_allocs - s->old_allocs;
}

/* "+1.0 KiB, +10 allocations (0 B in 0 -> 1.0 KiB in 10, new)" */
static void write_change(FILE *f, const struct diff_stack *s, bool by_alloc)
{
	char b1[40], b2[32], b3[32];
	int64_t da = s->new_allocs - s->old_allocs;

	fprintf(f, "%s, %+" PRId64 " %s (%s in %" PRId64 " -> %s in %" PRId64 "%s)",
		delta_bytes(s->new_bytes - s->old_bytes, b1, sizeof(b1)), da, units(by_alloc, da),
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
		write_change(f, &dp->stacks[i], dp->by_alloc);
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
		write_change(f, s, dp->by_alloc);
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

	return cmp_key(x->key, x->len, y->key, y->len);
}

/* The root frame: comm, with the pid when another process has that comm. */
static void put_folded_root(FILE *f, const struct diff_result *d, const struct diff_proc *dp)
{
	const struct mt_proc_report *p = dp->new ? dp->new : dp->old, *q;
	size_t i;

	mt_fput_clean(f, p->comm, sizeof(p->comm), MT_CLEAN_FOLDED);
	for (i = 0; i < d->nr_procs; i++) {
		q = d->procs[i].new ? d->procs[i].new : d->procs[i].old;
		if (&d->procs[i] != dp && same_comm(p, q)) {
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

/* ---------------------------------------------------------------- the command */

/* The whole file: a pipe (<(...)) will do as well as a file. */
static int read_all(const char *path, char **out, size_t *len)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap), *nb;
	int fd, err = 0;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	while ((r = read(fd, buf + n, cap - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		n += r;
		if (n < cap)
			continue;
		/* One byte past the limit is enough to know it is too large. */
		if (cap > JSON_MAX_INPUT) {
			err = -EFBIG;
			break;
		}
		nb = realloc(buf, cap * 2);
		if (!nb) {
			err = -ENOMEM;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	close(fd);
	if (err)
		free(buf);
	*out = err ? NULL : buf;
	*len = n;
	return err;
}

static int load_report(const char *path, struct mt_report *r)
{
	struct json_error jerr;
	struct json_doc *doc;
	char *text = NULL, why[160];
	size_t len = 0;
	int err;

	err = read_all(path, &text, &len);
	if (err) {
		mt_err("cannot read %s: %s\n", path, strerror(-err));
		return err;
	}
	err = json_doc__parse(text, len, &doc, &jerr);
	free(text);
	if (err) {
		mt_err("%s: not JSON: line %zu, column %zu: %s\n", path, jerr.line, jerr.column,
		       jerr.msg);
		return err;
	}
	err = diff__report_from_json(json_doc__root(doc), r, why, sizeof(why));
	json_doc__free(doc);
	if (err == -ENOTSUP)
		mt_err("%s: %s\n", path, why);
	else if (err)
		mt_err("%s: not a memtrace report: %s\n", path, why);
	return err;
}

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
	err = out_file__check_paths(outs, 3) ?: load_report(o->old_path, &old) ?:
	      load_report(o->new_path, &new);
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
