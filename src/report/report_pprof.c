/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as a pprof heap profile (google/pprof proto/profile.proto,
 * gzip-compressed), with the four sample types of Go's own heap profiles so
 * that `go tool pprof` and other pprof readers treat it as one.
 *
 * memtrace counts every allocation: the period is 1 and values are exact.
 * Go's live figures sampled at a rate are scaled as Go scales its own, and
 * the period is that rate, as in a Go heap profile (a comment names each
 * sampled process when the profile mixes rates). Frames are already
 * symbolized, so every mapping says has_functions (and filenames, line
 * numbers, inline frames) and pprof never tries to symbolize the addresses
 * again, from local binaries or a /symbol endpoint. Addresses are
 * module-relative: each mapping gets a range of its own, [id-1 << 40,
 * id << 40), and a location's address is that base plus the frame's offset,
 * which keeps addresses distinct between modules and readable within one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "report/protobuf.h"
#include "report/report.h"
#include "util/hash.h"

/* profile.proto field numbers. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3 };
enum {
	MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7, MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9, MAPPING_HAS_INLINE_FRAMES = 10,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4 };

#define MAPPING_SHIFT 40

/* ------------------------------------------------------------ string table */

struct pstr {
	const char *s;		/* not owned: the report's strings, or literals */
	size_t len;
};

struct owned_str {
	struct owned_str *next;
	char s[];
};

struct strtab {
	struct owned_str *owned;	/* copies strtab__add_copy made */
	struct pstr *strs;
	size_t n, cap;
	uint32_t *slots;	/* index + 1 into strs; 0 is free */
	size_t nslots;
};

static int strtab__grow_slots(struct strtab *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 256, i, j;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		j = hash_bytes(t->strs[i].s, t->strs[i].len) & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* The index of s in the table, added if new; -ENOMEM. NULL is "". */
static int64_t strtab__add_len(struct strtab *t, const char *s, size_t len)
{
	struct pstr *strs;
	size_t j;

	if (!s) {
		s = "";
		len = 0;
	}
	/* Half full at most: probes stay short. */
	if ((t->n + 1) * 2 > t->nslots && strtab__grow_slots(t))
		return -ENOMEM;
	j = hash_bytes(s, len) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
		const struct pstr *p = &t->strs[t->slots[j] - 1];

		if (p->len == len && !memcmp(p->s, s, len))
			return t->slots[j] - 1;
	}
	if (t->n >= UINT32_MAX - 1)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		strs = realloc(t->strs, cap * sizeof(*strs));
		if (!strs)
			return -ENOMEM;
		t->strs = strs;
		t->cap = cap;
	}
	t->strs[t->n].s = s;
	t->strs[t->n].len = len;
	t->slots[j] = ++t->n;
	return t->n - 1;
}

static int64_t strtab__add(struct strtab *t, const char *s)
{
	return strtab__add_len(t, s, s ? strlen(s) : 0);
}

/*
 * A string the table must keep a copy of (the table points into the
 * report's strings, which outlive it; a formatted one does not). Copies are
 * kept in a list freed with the table.
 */
static int64_t strtab__add_copy(struct strtab *t, const char *s)
{
	struct owned_str *o;
	size_t len = strlen(s);
	int64_t id;

	for (o = t->owned; o; o = o->next)
		if (!strcmp(o->s, s))
			return strtab__add_len(t, o->s, len);
	o = malloc(sizeof(*o) + len + 1);
	if (!o)
		return -ENOMEM;
	memcpy(o->s, s, len + 1);
	id = strtab__add_len(t, o->s, len);
	if (id < 0) {
		free(o);
		return id;
	}
	o->next = t->owned;
	t->owned = o;
	return id;
}

static void strtab__free(struct strtab *t)
{
	while (t->owned) {
		struct owned_str *o = t->owned;

		t->owned = o->next;
		free(o);
	}
	free(t->strs);
	free(t->slots);
}

/* ------------------------------------------------- ids of tuples of numbers */

enum key_kind { KEY_MAPPING = 1, KEY_FUNCTION, KEY_LOCATION };

struct tkey {
	uint64_t k[4];		/* kind, then up to three values */
};

struct tslot {
	struct tkey key;
	uint64_t val;		/* 0: free slot */
};

struct idtab {
	struct tslot *slots;
	size_t n, cap;
};

static size_t tkey_slot(const struct tkey *key, size_t cap)
{
	return hash_bytes(key->k, sizeof(key->k)) & (cap - 1);
}

static int idtab__grow(struct idtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256, i, j;
	struct tslot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->slots[i].val)
			continue;
		for (j = tkey_slot(&t->slots[i].key, cap); slots[j].val; j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/*
 * The slot of key: *found tells whether it holds the key's value already;
 * if not, the caller stores the new value (non-zero) in it. NULL: no memory.
 */
static struct tslot *idtab__slot(struct idtab *t, const struct tkey *key, bool *found)
{
	size_t j;

	if ((t->n + 1) * 2 > t->cap && idtab__grow(t))
		return NULL;
	for (j = tkey_slot(key, t->cap); t->slots[j].val; j = (j + 1) & (t->cap - 1)) {
		if (!memcmp(&t->slots[j].key, key, sizeof(*key))) {
			*found = true;
			return &t->slots[j];
		}
	}
	*found = false;
	t->slots[j].key = *key;
	t->n++;
	return &t->slots[j];
}

/*
 * The id of key in t: 0 when it had one; 1 when it is new, numbered next
 * after *last (the caller then encodes its message). -ENOMEM: no memory.
 */
static int idtab__id(struct idtab *t, const struct tkey *key, uint64_t *last, uint64_t *id)
{
	struct tslot *slot;
	bool found;

	slot = idtab__slot(t, key, &found);
	if (!slot)
		return -ENOMEM;
	if (found) {
		*id = slot->val;
		return 0;
	}
	slot->val = *id = ++*last;
	return 1;
}

/* ------------------------------------------------------------------ builder */

struct pprof {
	struct strtab strs;
	struct idtab ids;
	struct pb_enc *samples;
	struct pb_enc *mappings;
	struct pb_enc *locations;
	struct pb_enc *functions;
	struct pb_enc *strtab;
	uint64_t nr_mappings, nr_locations, nr_functions;
	uint64_t *loc_ids;	/* one sample's locations */
	size_t loc_cap;
	const struct pprof_opts *o;
	/* Label keys (pid_key 0: samples carry no labels), and the values of the
	 * process whose samples are being added. */
	int64_t pid_key, comm_key, exe_key, cgroup_key, container_key;
	int64_t pid_val, comm_val, exe_val, cgroup_val, container_val;
};

/* The id of the mapping of module (1-based: 0 means none), added if new. */
static int mapping_id(struct pprof *pp, const struct mt_frame *fr, uint64_t *id)
{
	int64_t file = strtab__add(&pp->strs, fr->module);
	int64_t build_id = strtab__add(&pp->strs, fr->build_id);
	struct tkey key = { { KEY_MAPPING, file, build_id, 0 } };
	uint64_t base;
	size_t mark;
	int err;

	if (file < 0 || build_id < 0)
		return -ENOMEM;
	err = idtab__id(&pp->ids, &key, &pp->nr_mappings, id);
	if (err <= 0)
		return err;
	base = (*id - 1) << MAPPING_SHIFT;
	mark = pb_enc__begin(pp->mappings, PROFILE_MAPPING);
	pb_enc__uint64(pp->mappings, MAPPING_ID, *id);
	if (base)
		pb_enc__uint64(pp->mappings, MAPPING_MEMORY_START, base);
	pb_enc__uint64(pp->mappings, MAPPING_MEMORY_LIMIT, base + (1ULL << MAPPING_SHIFT));
	pb_enc__int64(pp->mappings, MAPPING_FILENAME, file);
	if (build_id)
		pb_enc__int64(pp->mappings, MAPPING_BUILD_ID, build_id);
	pb_enc__bool(pp->mappings, MAPPING_HAS_FUNCTIONS, true);
	pb_enc__bool(pp->mappings, MAPPING_HAS_FILENAMES, true);
	pb_enc__bool(pp->mappings, MAPPING_HAS_LINE_NUMBERS, true);
	pb_enc__bool(pp->mappings, MAPPING_HAS_INLINE_FRAMES, true);
	pb_enc__end(pp->mappings, mark);
	return 0;
}

static int function_id(struct pprof *pp, const struct mt_frame *fr, uint64_t *id)
{
	int64_t name = strtab__add(&pp->strs, fr->function);
	int64_t sys = strtab__add(&pp->strs, fr->mangled ? fr->mangled : fr->function);
	int64_t file = strtab__add(&pp->strs, fr->file);
	struct tkey key = { { KEY_FUNCTION, name, sys, file } };
	size_t mark;
	int err;

	if (name < 0 || sys < 0 || file < 0)
		return -ENOMEM;
	err = idtab__id(&pp->ids, &key, &pp->nr_functions, id);
	if (err <= 0)
		return err;
	mark = pb_enc__begin(pp->functions, PROFILE_FUNCTION);
	pb_enc__uint64(pp->functions, FUNCTION_ID, *id);
	pb_enc__int64(pp->functions, FUNCTION_NAME, name);
	pb_enc__int64(pp->functions, FUNCTION_SYSTEM_NAME, sys);
	if (file)
		pb_enc__int64(pp->functions, FUNCTION_FILENAME, file);
	pb_enc__end(pp->functions, mark);
	return 0;
}

/*
 * The location of frames[0..n): one pc, whose first n-1 frames were inlined
 * into the last (pprof's Line order: innermost first). A pc is one location
 * whatever stack it is in: its functions are the same in all. An unresolved
 * frame gets a location without lines, which pprof shows as its address.
 */
static int location_id(struct pprof *pp, const struct mt_frame *frames, size_t n, uint64_t *id)
{
	const struct mt_frame *fr = &frames[0];
	uint64_t map_id = 0, addr = fr->offset, fn_id;
	struct tkey key;
	size_t mark, lmark, i;
	int err;

	if (fr->module) {
		err = mapping_id(pp, fr, &map_id);
		if (err)
			return err;
		addr += (map_id - 1) << MAPPING_SHIFT;
	}
	key = (struct tkey){ { KEY_LOCATION, map_id, addr, 0 } };
	/* A Python frame is a line of a function: no mapping, no address of its own. */
	if (fr->python) {
		addr = 0;
		err = fr->function ? function_id(pp, fr, &fn_id) : 0;
		if (err)
			return err;
		key = (struct tkey){ { KEY_LOCATION, 0, fr->line,
				       fr->function ? (int64_t)fn_id : -1 } };
	}
	err = idtab__id(&pp->ids, &key, &pp->nr_locations, id);
	if (err <= 0)
		return err;
	/* The functions' own messages go to another buffer: this one is open. */
	mark = pb_enc__begin(pp->locations, PROFILE_LOCATION);
	pb_enc__uint64(pp->locations, LOCATION_ID, *id);
	if (map_id)
		pb_enc__uint64(pp->locations, LOCATION_MAPPING_ID, map_id);
	pb_enc__uint64(pp->locations, LOCATION_ADDRESS, addr);
	for (i = 0; i < n; i++) {
		if (!frames[i].function)
			continue;
		err = function_id(pp, &frames[i], &fn_id);
		if (err)
			return err;
		lmark = pb_enc__begin(pp->locations, LOCATION_LINE);
		pb_enc__uint64(pp->locations, LINE_FUNCTION_ID, fn_id);
		if (frames[i].line > 0)
			pb_enc__int64(pp->locations, LINE_LINE, frames[i].line);
		pb_enc__end(pp->locations, lmark);
	}
	pb_enc__end(pp->locations, mark);
	return 0;
}

/* A string label; none when the value is unknown (string 0, ""). */
static void add_label(struct pprof *pp, int64_t key, int64_t str)
{
	size_t mark;

	if (!key || !str)
		return;
	mark = pb_enc__begin(pp->samples, SAMPLE_LABEL);
	pb_enc__int64(pp->samples, LABEL_KEY, key);
	pb_enc__int64(pp->samples, LABEL_STR, str);
	pb_enc__end(pp->samples, mark);
}

static int add_sample(struct pprof *pp, const struct mt_proc_report *p,
		      const struct mt_stack_report *s)
{
	int64_t values[4] = {
		(int64_t)s->allocs_total, (int64_t)s->alloc_bytes_total,
		p->live_unknown ? 0 : s->live_allocs, p->live_unknown ? 0 : s->live_bytes,
	};
	size_t i, j, nloc = 0, mark;
	int err;

	if (s->nr_frames > pp->loc_cap) {
		uint64_t *ids = realloc(pp->loc_ids, s->nr_frames * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		pp->loc_ids = ids;
		pp->loc_cap = s->nr_frames;
	}
	for (i = 0; i < s->nr_frames; i = j + 1) {
		for (j = i; j + 1 < s->nr_frames && s->frames[j].inlined; j++)
			;
		err = location_id(pp, &s->frames[i], j - i + 1, &pp->loc_ids[nloc++]);
		if (err)
			return err;
	}
	mark = pb_enc__begin(pp->samples, PROFILE_SAMPLE);
	pb_enc__packed_uint64(pp->samples, SAMPLE_LOCATION_ID, pp->loc_ids, nloc);
	pb_enc__packed_int64(pp->samples, SAMPLE_VALUE, values, 4);
	if (pp->pid_key) {
		add_label(pp, pp->pid_key, pp->pid_val);
		add_label(pp, pp->comm_key, pp->comm_val);
		add_label(pp, pp->exe_key, pp->exe_val);
		add_label(pp, pp->cgroup_key, pp->cgroup_val);
		add_label(pp, pp->container_key, pp->container_val);
	}
	pb_enc__end(pp->samples, mark);
	return 0;
}

/*
 * The label values of p's samples: its pid (a string label, as Go's
 * runtime/pprof labels are, so that Parca and Pyroscope take it as one),
 * comm; with every label, exe, cgroup and container id where known.
 */
static int proc_labels(struct pprof *pp, const struct mt_proc_report *p)
{
	char pid[16];

	if (!pp->pid_key)
		return 0;
	snprintf(pid, sizeof(pid), "%u", p->pid);
	/* The table keeps pointers: the pid string must outlive the profile. */
	pp->pid_val = strtab__add_copy(&pp->strs, pid);
	pp->comm_val = strtab__add_len(&pp->strs, p->comm, strnlen(p->comm, sizeof(p->comm)));
	pp->exe_val = pp->exe_key ? strtab__add(&pp->strs, p->exe) : 0;
	pp->cgroup_val = pp->cgroup_key ? strtab__add(&pp->strs, p->cgroup) : 0;
	pp->container_val = pp->container_key && p->container_id[0] ?
			    strtab__add(&pp->strs, p->container_id) : 0;
	if (pp->pid_val < 0 || pp->comm_val < 0 || pp->exe_val < 0 || pp->cgroup_val < 0 ||
	    pp->container_val < 0)
		return -ENOMEM;
	return 0;
}

static void value_type(struct pb_enc *e, uint32_t field, int64_t type, int64_t unit)
{
	size_t mark = pb_enc__begin(e, field);

	pb_enc__int64(e, VALUE_TYPE_TYPE, type);
	pb_enc__int64(e, VALUE_TYPE_UNIT, unit);
	pb_enc__end(e, mark);
}

/* Go's heap profile sample types, in Go's order. */
static const char *const sample_types[4][2] = {
	{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
	{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
};

/* Sample types, then every sample (which fills the tables). */
static int build_samples(struct pprof *pp, const struct mt_report *r, struct pb_enc *head)
{
	size_t i, j;
	int err;

	/* String 0 must be "". */
	if (strtab__add(&pp->strs, "") != 0)
		return -ENOMEM;
	for (i = 0; i < 4; i++) {
		int64_t type = strtab__add(&pp->strs, sample_types[i][0]);
		int64_t unit = strtab__add(&pp->strs, sample_types[i][1]);

		if (type < 0 || unit < 0)
			return -ENOMEM;
		value_type(head, PROFILE_SAMPLE_TYPE, type, unit);
	}
	/* With one process the labels would only repeat it on every sample. */
	if (r->nr_procs > 1 || pp->o->all_labels) {
		pp->pid_key = strtab__add(&pp->strs, "pid");
		pp->comm_key = strtab__add(&pp->strs, "comm");
		if (pp->pid_key < 0 || pp->comm_key < 0)
			return -ENOMEM;
	}
	if (pp->o->all_labels) {
		pp->exe_key = strtab__add(&pp->strs, "exe");
		pp->cgroup_key = strtab__add(&pp->strs, "cgroup");
		pp->container_key = strtab__add(&pp->strs, "container_id");
		if (pp->exe_key < 0 || pp->cgroup_key < 0 || pp->container_key < 0)
			return -ENOMEM;
	}
	for (i = 0; i < r->nr_procs; i++) {
		err = proc_labels(pp, &r->procs[i]);
		if (err)
			return err;
		for (j = 0; j < r->procs[i].nr_stacks; j++) {
			err = add_sample(pp, &r->procs[i], &r->procs[i].stacks[j]);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * The period: the sample rate when every process with samples is sampled
 * at one rate (a Go heap profile's MemProfileRate), else 1. A comment names
 * each sampled process's rate when the profile mixes them.
 */
static int64_t period_of(const struct mt_report *r, bool *mixed)
{
	int64_t rate = 0;
	bool exact = false;
	size_t i;

	*mixed = false;
	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];

		if (!p->nr_stacks)
			continue;
		if (!p->sampled || p->sample_rate <= 0)
			exact = true;
		else if (rate && rate != p->sample_rate)
			*mixed = true;
		else
			rate = p->sample_rate;
	}
	*mixed |= rate && exact;
	return rate && !*mixed ? rate : 1;
}

static int64_t comment_for(struct pprof *pp, const struct mt_proc_report *p)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "pid %u (%.*s): live figures sampled, 1 sample per %" PRId64
		 " bytes", p->pid, (int)strnlen(p->comm, sizeof(p->comm)), p->comm, p->sample_rate);
	return strtab__add_copy(&pp->strs, buf);
}

static int build_tail(struct pprof *pp, const struct mt_report *r, struct pb_enc *tail)
{
	bool all_unknown = r->nr_procs > 0, mixed;
	int64_t space, bytes, dflt, period = period_of(r, &mixed);
	const char *dflt_name;
	struct timespec ts;
	size_t i;

	for (i = 0; i < r->nr_procs; i++)
		all_unknown &= r->procs[i].live_unknown;
	space = strtab__add(&pp->strs, "space");
	bytes = strtab__add(&pp->strs, "bytes");
	/* Go programs have no live figures: what they allocated is the profile. */
	dflt_name = pp->o->default_sample_type ? pp->o->default_sample_type :
		    all_unknown ? "alloc_space" : "inuse_space";
	dflt = strtab__add(&pp->strs, dflt_name);
	if (space < 0 || bytes < 0 || dflt < 0)
		return -ENOMEM;
	for (i = 0; mixed && i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];
		int64_t c;

		if (!p->sampled || !p->nr_stacks)
			continue;
		c = comment_for(pp, p);
		if (c < 0)
			return -ENOMEM;
		pb_enc__int64(tail, PROFILE_COMMENT, c);
	}
	for (i = 0; i < pp->strs.n; i++)
		pb_enc__bytes(pp->strtab, PROFILE_STRING_TABLE, pp->strs.strs[i].s,
			      pp->strs.strs[i].len);
	if (pp->o->time_ns) {
		pb_enc__int64(tail, PROFILE_TIME_NANOS, pp->o->time_ns);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		pb_enc__int64(tail, PROFILE_TIME_NANOS, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	}
	if (isfinite(r->duration_s) && r->duration_s > 0 && r->duration_s < 1e9)
		pb_enc__int64(tail, PROFILE_DURATION_NANOS, (int64_t)llround(r->duration_s * 1e9));
	value_type(tail, PROFILE_PERIOD_TYPE, space, bytes);
	pb_enc__int64(tail, PROFILE_PERIOD, period);
	pb_enc__int64(tail, PROFILE_DEFAULT_SAMPLE_TYPE, dflt);
	return pb_enc__error(tail);
}

/* ------------------------------------------------------------------- gzip */

static int gz_put(z_stream *zs, FILE *f, const uint8_t *data, size_t len, int flush)
{
	unsigned char out[16384];
	int ret;

	zs->next_in = (Bytef *)data;
	do {
		/* avail_in is 32 bits wide: feed a large buffer in pieces. */
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;
		int fl = chunk == len ? flush : Z_NO_FLUSH;

		zs->avail_in = (uInt)chunk;
		len -= chunk;
		do {
			zs->next_out = out;
			zs->avail_out = sizeof(out);
			ret = deflate(zs, fl);
			if (ret == Z_STREAM_ERROR)
				return -EIO;
			if (fwrite(out, 1, sizeof(out) - zs->avail_out, f) !=
			    sizeof(out) - zs->avail_out)
				return -EIO;
		} while (zs->avail_out == 0 || (fl == Z_FINISH && ret != Z_STREAM_END));
	} while (len);
	return 0;
}

/* The buffers, in order, as one gzip member. */
static int gz_write(FILE *f, struct pb_enc *const *parts, size_t n)
{
	const uint8_t *data;
	z_stream zs = { 0 };
	size_t i, len;
	int err = 0;

	/* windowBits 15 + 16: a gzip header and trailer rather than zlib's. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		data = pb_enc__data(parts[i], &len);
		err = gz_put(&zs, f, data, len, i + 1 == n ? Z_FINISH : Z_NO_FLUSH);
	}
	deflateEnd(&zs);
	return err;
}

static void pprof__free(struct pprof *pp)
{
	pb_enc__free(pp->strtab);
	strtab__free(&pp->strs);
	free(pp->ids.slots);
	pb_enc__free(pp->samples);
	pb_enc__free(pp->mappings);
	pb_enc__free(pp->locations);
	pb_enc__free(pp->functions);
	free(pp->loc_ids);
}

int report_pprof__write_opts(const struct mt_report *r, FILE *f, const struct pprof_opts *o)
{
	static const struct pprof_opts defaults;
	struct pprof pp = { .o = o ? o : &defaults };
	struct pb_enc *head = pb_enc__new(), *tail = pb_enc__new();
	struct pb_enc *parts[7];
	size_t i;
	int err = -ENOMEM;

	pp.samples = pb_enc__new();
	pp.mappings = pb_enc__new();
	pp.locations = pb_enc__new();
	pp.functions = pb_enc__new();
	pp.strtab = pb_enc__new();
	if (!head || !tail || !pp.samples || !pp.mappings || !pp.locations || !pp.functions ||
	    !pp.strtab)
		goto out;
	/* Field order as Go writes it: the string table after everything that
	 * adds to it. */
	err = build_samples(&pp, r, head);
	if (!err)
		err = build_tail(&pp, r, tail);
	parts[0] = head;
	parts[1] = pp.samples;
	parts[2] = pp.mappings;
	parts[3] = pp.locations;
	parts[4] = pp.functions;
	parts[5] = pp.strtab;
	parts[6] = tail;
	for (i = 0; !err && i < 7; i++)
		err = pb_enc__error(parts[i]);
	if (!err)
		err = gz_write(f, parts, 7);
	if (!err && (fflush(f) == EOF || ferror(f)))
		err = -EIO;
out:
	pb_enc__free(head);
	pb_enc__free(tail);
	pprof__free(&pp);
	return err;
}

int report_pprof__write(const struct mt_report *r, FILE *f)
{
	return report_pprof__write_opts(r, f, NULL);
}
