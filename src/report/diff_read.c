/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --diff's input: a report written by --json, read back into struct
 * mt_report so that the pprof writer (and anything else that writes a
 * report) serves here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/diff.h"
#include "util/json_read.h"
#include "util/log.h"

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
	FR(inlined, BOOL), FR(python, BOOL),
};
static const struct json_field stack_fields[] = {
	ST(live_bytes, I64), ST(live_allocs, I64), ST(alloc_bytes_total, U64),
	ST(allocs_total, U64), ST(frees_total, U64), ST(oldest_age_s, DOUBLE),
};
static const struct json_field proc_fields[] = {
	PR(pid, U32), PR(exe, STR), PR(allocator, STR), PR(allocator_path, STR),
	PR(rss_bytes, U64), PR(exited, BOOL), PR(unresolved_frames, U64), PR(sampled, BOOL),
	PR(sample_rate, I64),
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
	/* Rounded-up live bytes: null where the allocator's classes are not known (and in older reports). */
	p->heap.live_usable_bytes = -1;
	if (!err && json_value__type(json_value__get(heap, "live_usable_bytes")) == JSON_INT)
		err = json_value__read(heap, "live_usable_bytes", JSON_F_I64,
				       &p->heap.live_usable_bytes, &se);
	if (err)
		return err;
	/* Go's live figures are null, unknown, unless a heap sample estimated them. */
	p->live_unknown = json_value__type(json_value__get(heap, "live_bytes")) == JSON_NULL ||
			  (!strcmp(p->runtime, "go") && !p->sampled);
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

int diff__load_report(const char *path, struct mt_report *r)
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
