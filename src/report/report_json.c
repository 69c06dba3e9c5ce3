/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The JSON report. Its shape is a contract other tools parse: keys are never
 * renamed or dropped, unknown values are null rather than missing, and the
 * output is valid JSON whatever bytes the traced programs put in their names.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "util/utf8.h"
#include "report/report.h"


static void json_strn(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;

	fputc('"', f);
	while (i < n) {
		if (p[i] == '"' || p[i] == '\\') {
			fputc('\\', f);
			fputc(p[i], f);
			i++;
		} else if (p[i] < 0x20) {
			fprintf(f, "\\u%04x", p[i]);
			i++;
		} else if ((len = mt_utf8_seq_len(p + i, n - i))) {
			fwrite(p + i, 1, len, f);
			i += len;
		} else {
			/* Names come from arbitrary binaries and /proc; a stray byte
			 * must not make the whole report unparsable. */
			fputs("\\ufffd", f);
			i++;
		}
	}
	fputc('"', f);
}

static void json_str(FILE *f, const char *s)
{
	if (!s)
		fputs("null", f);
	else
		json_strn(f, s, strlen(s));
}

/*
 * Shortest of %.15g and %.17g that reads back as the same value. printf
 * follows LC_NUMERIC, which may use another decimal separator (possibly
 * several bytes long): anything that is not part of a JSON number becomes
 * one '.'. Integral values get ".0" so that consumers see a float.
 */
static void json_double(FILE *f, double v)
{
	char tmp[64], out[64];
	bool has_point = false;
	size_t i, o = 0;

	if (!isfinite(v)) {
		fputs("null", f);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	for (i = 0; tmp[i] && o < sizeof(out) - 3; i++) {
		char c = tmp[i];

		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
			out[o++] = c;
			if (c == 'e' || c == 'E')
				has_point = true;
		} else if (!has_point) {
			out[o++] = '.';
			has_point = true;
		}
	}
	if (!has_point) {
		out[o++] = '.';
		out[o++] = '0';
	}
	out[o] = '\0';
	fputs(out, f);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

static void write_frame(FILE *f, const struct mt_frame *fr)
{
	fputs("{ \"function\": ", f);
	json_str(f, fr->function);
	fputs(", \"module\": ", f);
	json_str(f, fr->module);
	fprintf(f, ", \"offset\": %" PRIu64 ", \"file\": ", fr->offset);
	json_str(f, fr->file);
	if (fr->line > 0)
		fprintf(f, ", \"line\": %d", fr->line);
	else
		fputs(", \"line\": null", f);
	fprintf(f, ", \"inlined\": %s", json_bool(fr->inlined));
	/* Only in Python processes' stacks: the other frames read as they always have. */
	if (fr->python)
		fputs(", \"python\": true", f);
	fputs(" }", f);
}

static void write_stack(FILE *f, const struct mt_stack_report *s, bool live_unknown,
			bool frees_unknown)
{
	/* Both flags mean the frames stop before the outermost caller. */
	bool truncated = s->flags & (MT_STACK_F_TRUNCATED | MT_STACK_F_READ_FAILED | MT_STACK_F_CUT |
				    MT_STACK_F_DEFERRED);
	size_t i;

	fprintf(f, "        {\n");
	if (live_unknown) {
		fputs("          \"live_bytes\": null,\n          \"live_allocs\": null,\n", f);
	} else {
		fprintf(f, "          \"live_bytes\": %" PRId64 ",\n", s->live_bytes);
		fprintf(f, "          \"live_allocs\": %" PRId64 ",\n", s->live_allocs);
	}
	fprintf(f, "          \"alloc_bytes_total\": %" PRIu64 ",\n", s->alloc_bytes_total);
	fprintf(f, "          \"allocs_total\": %" PRIu64 ",\n", s->allocs_total);
	if (live_unknown || frees_unknown)
		fputs("          \"frees_total\": null,\n", f);
	else
		fprintf(f, "          \"frees_total\": %" PRIu64 ",\n", s->frees_total);
	fputs("          \"oldest_age_s\": ", f);
	if (s->oldest_age_s < 0 || live_unknown || frees_unknown)
		fputs("null", f);
	else
		json_double(f, s->oldest_age_s);
	fprintf(f, ",\n          \"truncated\": %s,\n", json_bool(truncated));
	if (s->allocator) {
		fputs("          \"allocator\": ", f);
		json_str(f, s->allocator);
		fputs(",\n", f);
	}
	if (!s->nr_frames) {
		fputs("          \"frames\": []\n", f);
	} else {
		fputs("          \"frames\": [\n", f);
		for (i = 0; i < s->nr_frames; i++) {
			fputs("            ", f);
			write_frame(f, &s->frames[i]);
			fputs(i + 1 < s->nr_frames ? ",\n" : "\n", f);
		}
		fputs("          ]\n", f);
	}
	fputs("        }", f);
}

static void write_u64_or_null(FILE *f, bool known, uint64_t v)
{
	if (known)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

static size_t comm_len(const struct mt_proc_report *p)
{
	const char *nul = memchr(p->comm, '\0', sizeof(p->comm));

	return nul ? (size_t)(nul - p->comm) : sizeof(p->comm);
}

/* Which call stacks mapped the memory that is still mapped (mmap, brk). */
static void write_map_stacks(FILE *f, const struct mt_proc_report *p)
{
	size_t i, k;

	if (!p->nr_map_stacks) {
		fputs("      \"vm_stacks\": [],\n", f);
		return;
	}
	fputs("      \"vm_stacks\": [\n", f);
	for (i = 0; i < p->nr_map_stacks; i++) {
		const struct mt_map_stack *m = &p->map_stacks[i];

		fprintf(f, "        { \"mapped_bytes\": %" PRIu64 ", \"resident_bytes\": %" PRIu64
			", \"regions\": %" PRIu64 ", \"before_tracing\": %s, \"frames\": [",
			m->mapped_bytes, m->resident_bytes, m->regions, json_bool(m->before_tracing));
		for (k = 0; k < m->stack.nr_frames; k++) {
			fputs(k ? ",\n            " : "\n            ", f);
			write_frame(f, &m->stack.frames[k]);
		}
		fputs(m->stack.nr_frames ? "\n          ] }" : "] }", f);
		fputs(i + 1 < p->nr_map_stacks ? ",\n" : "\n", f);
	}
	fputs("      ],\n", f);
}

/* "go": the runtime's own figures; null ones with a note when they could not be read. */
static void write_go(FILE *f, const struct mt_go_report *g)
{
	if (!g->present)
		return;
	fputs("      \"go\": { \"version\": ", f);
	json_str(f, *g->version ? g->version : NULL);
	fputs(", \"heap_inuse_bytes\": ", f);
	write_u64_or_null(f, g->read, g->heap_inuse_bytes);
	fputs(", \"heap_free_bytes\": ", f);
	write_u64_or_null(f, g->read, g->heap_free_bytes);
	fputs(", \"heap_released_bytes\": ", f);
	write_u64_or_null(f, g->read, g->heap_released_bytes);
	fputs(", \"heap_idle_bytes\": ", f);
	write_u64_or_null(f, g->read, g->heap_free_bytes + g->heap_released_bytes);
	fputs(", \"heap_live_bytes\": ", f);
	write_u64_or_null(f, g->live_read, g->heap_live_bytes);
	fputs(", \"source\": ", f);
	json_str(f, g->read ? g->source : NULL);
	fputs(", \"note\": ", f);
	json_str(f, *g->note ? g->note : NULL);
	fputs(", \"profile_note\": ", f);
	json_str(f, *g->profile_note ? g->profile_note : NULL);
	fputs(", \"live_source\": ", f);
	json_str(f, g->live_source);
	fprintf(f, ", \"samples_unknown\": %" PRIu64 ", \"samples_unverified\": %" PRIu64
		", \"samples_young\": %" PRIu64 ", \"live_since_attach\": %s },\n",
		g->samples_unknown, g->samples_unverified, g->samples_young,
		json_bool(g->live_since_attach));
}

/* "python": the interpreter as memtrace read it. */
static void write_python(FILE *f, const struct mt_py_report *py)
{
	if (!py->present)
		return;
	fputs("      \"python\": { \"version\": ", f);
	json_str(f, *py->version ? py->version : NULL);
	fprintf(f, ", \"frames\": %s, \"layout\": ", json_bool(py->frames));
	json_str(f, py->source);
	fputs(", \"note\": ", f);
	json_str(f, *py->note ? py->note : NULL);
	fprintf(f, ", \"pymalloc_inlined\": %s, \"inlined_sites\": %" PRIu64
		", \"unresolved_sites\": %" PRIu64 ", \"arenas\": %" PRIu64
		", \"arena_bytes\": %" PRIu64 ", \"arena_resident_bytes\": %" PRIu64
		", \"arena_live_bytes\": %" PRIu64 ", \"arena_live_blocks\": %" PRIu64 " },\n",
		json_bool(py->inlined), py->inlined_sites, py->unresolved_sites, py->arenas,
		py->arena_bytes, py->arena_resident_bytes, py->arena_live_bytes,
		py->arena_live_blocks);
}

static void write_proc(FILE *f, const struct mt_proc_report *p)
{
	size_t i;

	fprintf(f, "    {\n      \"pid\": %" PRIu32 ",\n      \"comm\": ", p->pid);
	/* comm is a fixed array filled from the kernel: do not trust a NUL. */
	json_strn(f, p->comm, comm_len(p));
	fputs(",\n      \"exe\": ", f);
	json_str(f, p->exe);
	fputs(",\n      \"cgroup\": ", f);
	json_str(f, p->cgroup);
	fputs(",\n      \"container_id\": ", f);
	json_str(f, p->container_id[0] ? p->container_id : NULL);
	fputs(",\n      \"runtime\": ", f);
	json_str(f, p->runtime);
	fputs(",\n      \"allocator\": ", f);
	json_str(f, p->allocator);
	fputs(",\n      \"allocator_path\": ", f);
	json_str(f, p->allocator_path);
	fprintf(f, ",\n      \"rss_bytes\": %" PRIu64 ",\n", p->rss_bytes);
	fprintf(f, "      \"exited\": %s,\n", json_bool(p->exited));
	fprintf(f, "      \"sampled\": %s,\n", json_bool(p->sampled));
	if (p->sampled)
		fprintf(f, "      \"sample_rate\": %" PRId64 ",\n", p->sample_rate);
	else
		fputs("      \"sample_rate\": null,\n", f);
	/* Sampled: live figures estimated, frees not seen. */
	if (p->sampled)
		fprintf(f, "      \"heap\": { \"live_bytes\": %" PRId64 ", \"live_allocs\": %" PRId64,
			p->heap.live_bytes, p->heap.live_allocs);
	else if (p->live_unknown) {
		/* No live bytes per stack; the Go runtime's total when it was read. */
		fputs("      \"heap\": { \"live_bytes\": ", f);
		write_u64_or_null(f, p->go.live_read, p->go.heap_live_bytes);
		fputs(", \"live_allocs\": null", f);
	}
	else
		fprintf(f, "      \"heap\": { \"live_bytes\": %" PRId64 ", \"live_allocs\": %" PRId64,
			p->heap.live_bytes, p->heap.live_allocs);
	fputs(", \"live_usable_bytes\": ", f);
	if (p->heap.live_usable_bytes >= 0 && !p->live_unknown)
		fprintf(f, "%" PRId64, p->heap.live_usable_bytes);
	else
		fputs("null", f);
	fprintf(f, ", \"alloc_bytes_total\": %" PRIu64 ", \"allocs_total\": %" PRIu64
		", \"frees_total\": ", p->heap.alloc_bytes_total, p->heap.allocs_total);
	if (p->sampled || p->live_unknown)
		fputs("null },\n", f);
	else
		fprintf(f, "%" PRIu64 " },\n", p->heap.frees_total);
	fputs("      \"vm\": { \"mapped_bytes\": ", f);
	write_u64_or_null(f, p->vm.known, p->vm.mapped_bytes);
	fputs(", \"released_bytes\": ", f);
	write_u64_or_null(f, p->vm.known, p->vm.released_bytes);
	fputs(", \"retained_bytes\": ", f);
	write_u64_or_null(f, p->vm.known && p->vm.retained_known, p->vm.retained_bytes);
	fputs(", \"retained_upper_bound\": ", f);
	fputs(json_bool(p->vm.known && p->vm.retained_upper_bound), f);
	fputs(", \"retained_estimate\": ", f);
	fputs(json_bool(p->vm.known && p->vm.retained_estimate), f);
	fputs(", \"heap_resident_bytes\": ", f);
	write_u64_or_null(f, p->vm.known, p->vm.heap_resident_bytes);
	fprintf(f, ", \"rss_bytes\": %" PRIu64 ", \"rss_anon_bytes\": %" PRIu64
		", \"reconciled_bytes\": %" PRIu64 " },\n",
		p->rss_bytes, p->vm.rss_anon_bytes, p->vm.reconciled_bytes);
	write_go(f, &p->go);
	write_python(f, &p->python);
	write_map_stacks(f, p);
	fprintf(f, "      \"unresolved_frames\": %" PRIu64 ",\n", p->unresolved_frames);
	fprintf(f, "      \"stacks_total\": %zu,\n", p->nr_stacks_total);
	if (!p->nr_stacks) {
		fputs("      \"stacks\": []\n", f);
	} else {
		fputs("      \"stacks\": [\n", f);
		for (i = 0; i < p->nr_stacks; i++) {
			write_stack(f, &p->stacks[i], p->live_unknown, p->sampled);
			fputs(i + 1 < p->nr_stacks ? ",\n" : "\n", f);
		}
		fputs("      ]\n", f);
	}
	fputs("    }", f);
}

/* Where each function's probe sits; a single-stepped one costs a trap more per call. */
static void write_probes(FILE *f, const struct mt_report *r)
{
	size_t i;

	fprintf(f, ",\n  \"probes_single_stepped\": %" PRIu64 ",\n  \"probes\": [",
		r->probes_single_stepped);
	for (i = 0; i < r->nr_probes; i++) {
		const struct mt_probe_report *p = &r->probes[i];

		fputs(i ? ",\n    { \"function\": " : "\n    { \"function\": ", f);
		json_str(f, p->function);
		fputs(", \"path\": ", f);
		json_str(f, p->path);
		fprintf(f, ", \"offset\": %" PRIu64 ", \"site_offset\": %" PRIu64
			", \"single_stepped\": %s, \"why\": ", p->offset, p->site_offset,
			json_bool(p->single_stepped));
		json_str(f, p->why);
		fputs(" }", f);
	}
	fputs(r->nr_probes ? "\n  ]" : "]", f);
}

int report_json__write(const struct mt_report *r, FILE *f)
{
	size_t i;
	int c;

	fputs("{\n  \"version\": 1,\n  \"duration_s\": ", f);
	json_double(f, r->duration_s);
	fprintf(f, ",\n  \"lost_events\": %" PRIu64 ",\n  \"counters\": {\n", r->lost_events);
	for (c = 0; c < MT_CNT_MAX; c++)
		fprintf(f, "    \"%s\": %" PRIu64 "%s\n", mt_counter_name(c), r->counters[c],
			c + 1 < MT_CNT_MAX ? "," : "");
	fputs("  },\n  \"maps\": {\n", f);
	for (c = 0; c < MT_MAP_MAX; c++)
		fprintf(f, "    \"%s\": { \"entries\": %" PRIu64 ", \"max_entries\": %" PRIu64 " }%s\n",
			mt_map_name(c), r->maps[c].entries, r->maps[c].max_entries,
			c + 1 < MT_MAP_MAX ? "," : "");
	fputs("  },\n  \"kernel_bytes\": ", f);
	if (r->kernel_bytes >= 0)
		fprintf(f, "%" PRId64, r->kernel_bytes);
	else
		fputs("null", f);
	fputs(",\n  \"tracking\": { \"mode\": ", f);
	json_str(f, r->sample_rate ? "sampled" : "exact");
	fputs(", \"sample_rate\": ", f);
	if (r->sample_rate)
		fprintf(f, "%" PRIu64 ", \"since_s\": ", r->sample_rate);
	else
		fputs("null, \"since_s\": ", f);
	if (r->sample_rate)
		json_double(f, r->sampled_since_s);
	else
		fputs("null", f);
	fputs(", \"why\": ", f);
	json_str(f, r->sample_rate ? r->sampling_why : NULL);
	fputs(" },\n  \"min_age_s\": ", f);
	json_double(f, r->min_age_s);
	write_probes(f, r);
	if (!r->nr_procs) {
		fputs(",\n  \"processes\": []\n}\n", f);
	} else {
		fputs(",\n  \"processes\": [\n", f);
		for (i = 0; i < r->nr_procs; i++) {
			write_proc(f, &r->procs[i]);
			fputs(i + 1 < r->nr_procs ? ",\n" : "\n", f);
		}
		fputs("  ]\n}\n", f);
	}
	/* Individual writes are not checked: the stream's error flag is sticky,
	 * and a flush here makes a full disk show up now rather than at close. */
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
