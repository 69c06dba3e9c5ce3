/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The protobuf encoder against known byte vectors (the examples of the
 * protobuf encoding guide and hand-computed ones), and the pprof writer:
 * a small report whose gzip stream must inflate to exactly the expected
 * profile.proto bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "report/protobuf.h"
#include "report/report.h"
#include "unit.h"

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	printf("# %s (%zu):", what, n);
	for (i = 0; i < n; i++)
		printf(" %02x", p[i]);
	putchar('\n');
}

/* The encoder's bytes equal want[0..n); a dump of both when not. */
static void check_bytes(struct pb_enc *e, const uint8_t *want, size_t n, const char *what)
{
	size_t len;
	const uint8_t *got = pb_enc__data(e, &len);
	int ok = pb_enc__error(e) == 0 && len == n && (!n || !memcmp(got, want, n));

	checkf(ok, "%s", what);
	if (!ok) {
		hexdump("got", got, len);
		hexdump("want", want, n);
	}
	pb_enc__reset(e);
}

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ })
#define CHECK_BYTES(e, what, ...) \
	check_bytes(e, BYTES(__VA_ARGS__), sizeof(BYTES(__VA_ARGS__)), what)

static void test_varints(struct pb_enc *e)
{
	pb_enc__varint(e, 0);
	CHECK_BYTES(e, "varint 0", 0x00);
	pb_enc__varint(e, 1);
	CHECK_BYTES(e, "varint 1", 0x01);
	pb_enc__varint(e, 127);
	CHECK_BYTES(e, "varint 127", 0x7f);
	pb_enc__varint(e, 128);
	CHECK_BYTES(e, "varint 128", 0x80, 0x01);
	pb_enc__varint(e, 300);
	CHECK_BYTES(e, "varint 300", 0xac, 0x02);
	pb_enc__varint(e, 16384);
	CHECK_BYTES(e, "varint 16384", 0x80, 0x80, 0x01);
	pb_enc__varint(e, 1ULL << 40);
	CHECK_BYTES(e, "varint 1<<40", 0x80, 0x80, 0x80, 0x80, 0x80, 0x20);
	pb_enc__varint(e, UINT64_MAX);
	CHECK_BYTES(e, "varint UINT64_MAX",
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);

	CHECK(pb_varint_len(0) == 1 && pb_varint_len(127) == 1 && pb_varint_len(128) == 2 &&
	      pb_varint_len(16383) == 2 && pb_varint_len(16384) == 3 &&
	      pb_varint_len(UINT64_MAX) == 10, "pb_varint_len at the 7-bit boundaries");
}

static void test_fields(struct pb_enc *e)
{
	static const uint64_t packed[] = { 3, 270, 86942 };
	static const int64_t neg[] = { -1, 2 };
	uint8_t big[200];
	size_t mark, mark2, len, i;
	const uint8_t *d;

	pb_enc__uint64(e, 1, 150);
	CHECK_BYTES(e, "uint64 field 1 = 150", 0x08, 0x96, 0x01);
	pb_enc__uint64(e, 3, 0);
	CHECK_BYTES(e, "uint64 field 3 = 0 is written", 0x18, 0x00);
	pb_enc__uint64(e, 16, 1);
	CHECK_BYTES(e, "field 16: two-byte tag", 0x80, 0x01, 0x01);
	pb_enc__int64(e, 2, -1);
	CHECK_BYTES(e, "int64 field 2 = -1: ten bytes",
		    0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	pb_enc__bool(e, 7, true);
	CHECK_BYTES(e, "bool field 7 = true", 0x38, 0x01);
	pb_enc__string(e, 2, "testing");
	CHECK_BYTES(e, "string field 2 = \"testing\"",
		    0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
	pb_enc__string(e, 6, "");
	pb_enc__string(e, 6, NULL);
	CHECK_BYTES(e, "empty and NULL strings are written", 0x32, 0x00, 0x32, 0x00);
	pb_enc__bytes(e, 4, "\0\xff", 2);
	CHECK_BYTES(e, "bytes field 4", 0x22, 0x02, 0x00, 0xff);
	pb_enc__packed_uint64(e, 4, packed, 3);
	CHECK_BYTES(e, "packed field 4 = [3, 270, 86942]",
		    0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
	pb_enc__packed_int64(e, 2, neg, 2);
	CHECK_BYTES(e, "packed int64 [-1, 2]", 0x12, 0x0b,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02);
	pb_enc__packed_uint64(e, 1, packed, 0);
	pb_enc__uint64(e, 1, 1);
	CHECK_BYTES(e, "empty packed field writes nothing", 0x08, 0x01);

	mark = pb_enc__begin(e, 3);
	pb_enc__uint64(e, 1, 150);
	pb_enc__end(e, mark);
	CHECK_BYTES(e, "message field 3 { 1: 150 }", 0x1a, 0x03, 0x08, 0x96, 0x01);

	mark = pb_enc__begin(e, 1);
	pb_enc__end(e, mark);
	CHECK_BYTES(e, "empty message", 0x0a, 0x00);

	mark = pb_enc__begin(e, 2);
	pb_enc__uint64(e, 1, 1);
	mark2 = pb_enc__begin(e, 3);
	pb_enc__uint64(e, 1, 2);
	pb_enc__end(e, mark2);
	pb_enc__uint64(e, 4, 3);
	pb_enc__end(e, mark);
	CHECK_BYTES(e, "nested messages", 0x12, 0x08, 0x08, 0x01, 0x1a, 0x02, 0x08, 0x02,
		    0x20, 0x03);

	/* A length of two bytes moves the message's bytes by two. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	mark = pb_enc__begin(e, 5);
	pb_enc__bytes(e, 1, big, sizeof(big));
	pb_enc__end(e, mark);
	d = pb_enc__data(e, &len);
	CHECK(len == 6 + sizeof(big) && d[0] == 0x2a && d[1] == 0xcb && d[2] == 0x01 &&
	      d[3] == 0x0a && d[4] == 0xc8 && d[5] == 0x01 && !memcmp(d + 6, big, sizeof(big)),
	      "message of 203 bytes: two-byte length, content intact");
	pb_enc__reset(e);
}

/* ------------------------------------------------------------------ pprof */

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

static void set_frame(struct mt_frame *fr, const char *fn, const char *mangled,
		      const char *mod, const char *build_id, uint64_t off, const char *file,
		      int line)
{
	memset(fr, 0, sizeof(*fr));
	fr->function = xstrdup(fn);
	fr->mangled = xstrdup(mangled);
	fr->module = xstrdup(mod);
	fr->build_id = xstrdup(build_id);
	fr->offset = off;
	fr->file = xstrdup(file);
	fr->line = line;
}

/* One process, one stack: f (resolved, with a line) called from an
 * unresolved frame in the same module. */
static void small_report(struct mt_report *r, size_t nr_procs)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->duration_s = 1.5;
	r->nr_procs = nr_procs;
	r->procs = calloc(nr_procs, sizeof(*r->procs));
	if (!r->procs)
		abort();
	for (i = 0; i < nr_procs; i++) {
		struct mt_proc_report *p = &r->procs[i];
		struct mt_stack_report *s;

		p->pid = 40 + i;
		strcpy(p->comm, "x");
		p->runtime = "native";
		p->nr_stacks = p->nr_stacks_total = 1;
		p->stacks = calloc(1, sizeof(*p->stacks));
		if (!p->stacks)
			abort();
		s = &p->stacks[0];
		s->live_bytes = 100;
		s->live_allocs = 2;
		s->alloc_bytes_total = 300;
		s->allocs_total = 5;
		s->nr_frames = 2;
		s->frames = calloc(2, sizeof(*s->frames));
		if (!s->frames)
			abort();
		set_frame(&s->frames[0], "f", "_Z1fv", "/m", "ab", 0x10, "a.c", 7);
		set_frame(&s->frames[1], NULL, NULL, "/m", "ab", 0x20, NULL, 0);
	}
}

/* The profile r gives, inflated; NULL (and a failed check) on error. */
static uint8_t *pprof_bytes(const struct mt_report *r, size_t *len)
{
	static uint8_t out[1 << 16];
	uint8_t in[1 << 16];
	z_stream zs = { 0 };
	size_t n;
	FILE *f = tmpfile();
	int err, zret;

	if (!f)
		abort();
	err = report_pprof__write(r, f);
	CHECK(err == 0, "report_pprof__write returns 0 (got %d)", err);
	rewind(f);
	n = fread(in, 1, sizeof(in), f);
	fclose(f);
	CHECK(n > 18 && in[0] == 0x1f && in[1] == 0x8b, "output is gzip (%zu bytes)", n);
	if (n <= 18 || inflateInit2(&zs, 15 + 16) != Z_OK)
		return NULL;
	zs.next_in = in;
	zs.avail_in = n;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	zret = inflate(&zs, Z_FINISH);
	*len = sizeof(out) - zs.avail_out;
	CHECK(zret == Z_STREAM_END && zs.avail_in == 0,
	      "one whole gzip member, nothing after it (inflate %d, %u bytes left)",
	      zret, zs.avail_in);
	inflateEnd(&zs);
	return zret == Z_STREAM_END ? out : NULL;
}

/* Everything before time_nanos, then everything after it. */
static const uint8_t want_head[] = {
	/* sample_type: alloc_objects/count, alloc_space/bytes, inuse_objects/count,
	 * inuse_space/bytes */
	0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,
	0x0a, 0x04, 0x08, 0x03, 0x10, 0x04,
	0x0a, 0x04, 0x08, 0x05, 0x10, 0x02,
	0x0a, 0x04, 0x08, 0x06, 0x10, 0x04,
	/* sample { location_id [1 2], value [5 300 2 100] } */
	0x12, 0x0b, 0x0a, 0x02, 0x01, 0x02, 0x12, 0x05, 0x05, 0xac, 0x02, 0x02, 0x64,
	/* mapping { id 1, limit 1<<40, filename "/m", build_id "ab", has_functions,
	 * has_filenames, has_line_numbers, has_inline_frames } */
	0x1a, 0x15, 0x08, 0x01, 0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
	0x28, 0x07, 0x30, 0x08, 0x38, 0x01, 0x40, 0x01, 0x48, 0x01, 0x50, 0x01,
	/* location { id 1, mapping 1, address 0x10, line { function 1, line 7 } } */
	0x22, 0x0c, 0x08, 0x01, 0x10, 0x01, 0x18, 0x10, 0x22, 0x04, 0x08, 0x01, 0x10, 0x07,
	/* location { id 2, mapping 1, address 0x20 }: unresolved, no line */
	0x22, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x20,
	/* function { id 1, name "f", system_name "_Z1fv", filename "a.c" } */
	0x2a, 0x08, 0x08, 0x01, 0x10, 0x09, 0x18, 0x0a, 0x20, 0x0b,
};

static const char want_strings[] =
	"\x32\x00"
	"\x32\x0d" "alloc_objects"
	"\x32\x05" "count"
	"\x32\x0b" "alloc_space"
	"\x32\x05" "bytes"
	"\x32\x0d" "inuse_objects"
	"\x32\x0b" "inuse_space"
	"\x32\x02" "/m"
	"\x32\x02" "ab"
	"\x32\x01" "f"
	"\x32\x05" "_Z1fv"
	"\x32\x03" "a.c"
	"\x32\x05" "space";

static const uint8_t want_tail[] = {
	/* duration_nanos 1.5e9 */
	0x50, 0x80, 0xde, 0xa0, 0xcb, 0x05,
	/* period_type space/bytes, period 1, default_sample_type inuse_space */
	0x5a, 0x04, 0x08, 0x0c, 0x10, 0x04,
	0x60, 0x01,
	0x70, 0x06,
};

static bool contains(const uint8_t *p, size_t n, const uint8_t *what, size_t wn)
{
	size_t i;

	for (i = 0; i + wn <= n; i++)
		if (!memcmp(p + i, what, wn))
			return true;
	return false;
}

static void test_pprof_exact(void)
{
	size_t hn = sizeof(want_head), sn = sizeof(want_strings) - 1, len = 0, pos, vlen = 0;
	struct timespec ts;
	int64_t before, after;
	uint64_t t = 0;
	struct mt_report r;
	const uint8_t *p;

	small_report(&r, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	before = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	p = pprof_bytes(&r, &len);
	clock_gettime(CLOCK_REALTIME, &ts);
	after = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	mt_report__free(&r);
	if (!p)
		return;

	CHECK(len > hn + sn && !memcmp(p, want_head, hn), "sample types, sample, mapping, "
	      "locations and function are the expected bytes");
	CHECK(len > hn + sn && !memcmp(p + hn, want_strings, sn),
	      "string table is the expected bytes");
	pos = hn + sn;
	if (pos < len && p[pos] == 0x48) {
		for (pos++; pos < len && vlen < 10; pos++, vlen++) {
			t |= (uint64_t)(p[pos] & 0x7f) << (7 * vlen);
			if (!(p[pos] & 0x80)) {
				pos++;
				break;
			}
		}
	}
	CHECK((int64_t)t >= before && (int64_t)t <= after,
	      "time_nanos is now (%" PRIu64 " in [%" PRId64 ", %" PRId64 "])", t, before, after);
	CHECK(len - pos == sizeof(want_tail) && !memcmp(p + pos, want_tail, sizeof(want_tail)),
	      "duration, period type, period and default sample type are the expected bytes");
	if (len - pos != sizeof(want_tail) || memcmp(p + pos, want_tail, sizeof(want_tail)))
		hexdump("profile", p, len);
}

static void test_pprof_go_and_labels(void)
{
	/* value [5 300 0 0]; default_sample_type alloc_space */
	static const uint8_t go_values[] = { 0x12, 0x05, 0x05, 0xac, 0x02, 0x00, 0x00 };
	/* label { key "pid", str "40" }, label { key "comm", str "x" } */
	static const uint8_t labels[] = { 0x1a, 0x04, 0x08, 0x07, 0x10, 0x09,
					  0x1a, 0x04, 0x08, 0x08, 0x10, 0x0a };
	static const char strs[] = "\x32\x03pid\x32\x04" "comm";
	struct mt_report r;
	const uint8_t *p;
	size_t len = 0;

	small_report(&r, 1);
	r.procs[0].live_unknown = true;
	r.procs[0].runtime = "go";
	p = pprof_bytes(&r, &len);
	mt_report__free(&r);
	if (p) {
		CHECK(contains(p, len, go_values, sizeof(go_values)),
		      "Go: inuse values are 0");
		CHECK(len >= 2 && p[len - 2] == 0x70 && p[len - 1] == 0x03,
		      "Go: default sample type is alloc_space");
		CHECK(!contains(p, len, (const uint8_t *)"\x03pid", 4), "one process: no labels");
	}

	small_report(&r, 2);
	p = pprof_bytes(&r, &len);
	mt_report__free(&r);
	if (p) {
		/* "pid" and "comm" come right after the sample types. */
		CHECK(contains(p, len, (const uint8_t *)strs, sizeof(strs) - 1),
		      "two processes: \"pid\" and \"comm\" are strings 7 and 8");
		CHECK(contains(p, len, labels, sizeof(labels)),
		      "two processes: pid and comm labels");
		CHECK(len >= 2 && p[len - 2] == 0x70 && p[len - 1] == 0x06,
		      "native: default sample type is inuse_space");
	}
}

static void test_pprof_write_error(void)
{
	struct mt_report r;
	FILE *f = fopen("/dev/full", "w");
	int err;

	if (!f) {
		checkf(1, "# SKIP /dev/full missing");
		return;
	}
	small_report(&r, 1);
	err = report_pprof__write(&r, f);
	fclose(f);
	mt_report__free(&r);
	CHECK(err == -EIO, "a full disk is -EIO (got %d)", err);
}

int main(void)
{
	struct pb_enc *e = pb_enc__new();

	if (!e)
		abort();
	test_varints(e);
	test_fields(e);
	pb_enc__free(e);
	test_pprof_exact();
	test_pprof_go_and_labels();
	test_pprof_write_error();
	return unit_exit();
}
