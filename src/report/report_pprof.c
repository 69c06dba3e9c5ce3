/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as a pprof heap profile (google/pprof proto/profile.proto,
 * gzip-compressed), with the four sample types of Go's own heap profiles so
 * that `go tool pprof` and other pprof readers treat it as one.
 *
 * memtrace counts every allocation: the period is 1 and values are exact.
 * Frames are already symbolized, so every mapping says has_functions and
 * pprof does not try to symbolize the addresses again. Addresses are
 * module-relative: each mapping gets a range of its own, [id-1 << 40,
 * id << 40), and a location's address is that base plus the frame's offset,
 * which keeps addresses distinct between modules and readable within one.
 */
#include <errno.h>
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
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3 };
enum {
	MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
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

struct strtab {
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

static void strtab__free(struct strtab *t)
{
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
	uint64_t nr_mappings, nr_locations, nr_functions;
	uint64_t *loc_ids;	/* one sample's locations */
	size_t loc_cap;
	int64_t pid_key, comm_key;	/* label keys; 0 when samples carry no labels */
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

static int add_sample(struct pprof *pp, const struct mt_proc_report *p,
		      const struct mt_stack_report *s)
{
	int64_t values[4] = {
		(int64_t)s->allocs_total, (int64_t)s->alloc_bytes_total,
		p->live_unknown ? 0 : s->live_allocs, p->live_unknown ? 0 : s->live_bytes,
	};
	size_t i, j, nloc = 0, mark, lmark;
	int64_t comm;
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
		comm = strtab__add_len(&pp->strs, p->comm, strnlen(p->comm, sizeof(p->comm)));
		if (comm < 0)
			return -ENOMEM;
		lmark = pb_enc__begin(pp->samples, SAMPLE_LABEL);
		pb_enc__int64(pp->samples, LABEL_KEY, pp->pid_key);
		pb_enc__int64(pp->samples, LABEL_NUM, p->pid);
		pb_enc__end(pp->samples, lmark);
		lmark = pb_enc__begin(pp->samples, SAMPLE_LABEL);
		pb_enc__int64(pp->samples, LABEL_KEY, pp->comm_key);
		pb_enc__int64(pp->samples, LABEL_STR, comm);
		pb_enc__end(pp->samples, lmark);
	}
	pb_enc__end(pp->samples, mark);
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
	if (r->nr_procs > 1) {
		pp->pid_key = strtab__add(&pp->strs, "pid");
		pp->comm_key = strtab__add(&pp->strs, "comm");
		if (pp->pid_key < 0 || pp->comm_key < 0)
			return -ENOMEM;
	}
	for (i = 0; i < r->nr_procs; i++) {
		for (j = 0; j < r->procs[i].nr_stacks; j++) {
			err = add_sample(pp, &r->procs[i], &r->procs[i].stacks[j]);
			if (err)
				return err;
		}
	}
	return 0;
}

static int build_tail(struct pprof *pp, const struct mt_report *r, struct pb_enc *tail)
{
	bool all_unknown = r->nr_procs > 0;
	int64_t space, bytes, dflt;
	struct timespec ts;
	size_t i;

	for (i = 0; i < r->nr_procs; i++)
		all_unknown &= r->procs[i].live_unknown;
	space = strtab__add(&pp->strs, "space");
	bytes = strtab__add(&pp->strs, "bytes");
	/* Go programs have no live figures: what they allocated is the profile. */
	dflt = strtab__add(&pp->strs, all_unknown ? "alloc_space" : "inuse_space");
	if (space < 0 || bytes < 0 || dflt < 0)
		return -ENOMEM;
	for (i = 0; i < pp->strs.n; i++)
		pb_enc__bytes(tail, PROFILE_STRING_TABLE, pp->strs.strs[i].s, pp->strs.strs[i].len);
	clock_gettime(CLOCK_REALTIME, &ts);
	pb_enc__int64(tail, PROFILE_TIME_NANOS, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	if (isfinite(r->duration_s) && r->duration_s > 0 && r->duration_s < 1e9)
		pb_enc__int64(tail, PROFILE_DURATION_NANOS, (int64_t)llround(r->duration_s * 1e9));
	value_type(tail, PROFILE_PERIOD_TYPE, space, bytes);
	pb_enc__int64(tail, PROFILE_PERIOD, 1);
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
	strtab__free(&pp->strs);
	free(pp->ids.slots);
	pb_enc__free(pp->samples);
	pb_enc__free(pp->mappings);
	pb_enc__free(pp->locations);
	pb_enc__free(pp->functions);
	free(pp->loc_ids);
}

int report_pprof__write(const struct mt_report *r, FILE *f)
{
	struct pprof pp = { 0 };
	struct pb_enc *head = pb_enc__new(), *tail = pb_enc__new();
	struct pb_enc *parts[6];
	size_t i;
	int err = -ENOMEM;

	pp.samples = pb_enc__new();
	pp.mappings = pb_enc__new();
	pp.locations = pb_enc__new();
	pp.functions = pb_enc__new();
	if (!head || !tail || !pp.samples || !pp.mappings || !pp.locations || !pp.functions)
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
	parts[5] = tail;
	for (i = 0; !err && i < 6; i++)
		err = pb_enc__error(parts[i]);
	if (!err)
		err = gz_write(f, parts, 6);
	if (!err && (fflush(f) == EOF || ferror(f)))
		err = -EIO;
out:
	pb_enc__free(head);
	pb_enc__free(tail);
	pprof__free(&pp);
	return err;
}
