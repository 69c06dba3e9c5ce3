/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The JSON reader: values and their types, escapes, numbers at the int64
 * limits, what strict JSON rejects, the depth and size limits, every prefix
 * of a document, and random corruptions of one. Each input is copied into a
 * buffer of exactly its size, so that the sanitizers see any read past it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/json_read.h"
#include "unit.h"

/* Parse text[0..len) from a heap copy of exactly len bytes. */
static int parse_n(const char *text, size_t len, struct json_doc **doc, struct json_error *err)
{
	char *copy = malloc(len ? len : 1);
	int ret;

	if (!copy)
		abort();
	memcpy(copy, text, len);
	ret = json_doc__parse(copy, len, doc, err);
	free(copy);
	return ret;
}

static int parse(const char *text, struct json_doc **doc, struct json_error *err)
{
	return parse_n(text, strlen(text), doc, err);
}

/* A name for an input in the output: control bytes escaped, shortened. */
static const char *show(const char *s, size_t n)
{
	static char buf[80];
	size_t i, o = 0;

	for (i = 0; i < n && o < sizeof(buf) - 8; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f)
			o += snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
		else
			buf[o++] = c;
	}
	if (i < n)
		o += snprintf(buf + o, sizeof(buf) - o, "...");
	buf[o] = '\0';
	return buf;
}

static void expect_invalid_n(const char *text, size_t len, int code)
{
	struct json_error err;
	struct json_doc *doc = (struct json_doc *)1;
	int ret = parse_n(text, len, &doc, &err);

	CHECK(ret == code && !doc && err.msg[0], "rejected (%d, want %d): %s  [%s]", ret, code,
	      show(text, len), err.msg);
}

static void expect_invalid(const char *text)
{
	expect_invalid_n(text, strlen(text), -EINVAL);
}

static void test_scalars(void)
{
	struct json_doc *doc;
	const struct json_value *v;
	int64_t i = 0;
	double d = 0;
	bool b = false;

	CHECK(!parse(" \t\r\n true \n", &doc, NULL) && json_value__bool(json_doc__root(doc), &b) &&
	      b, "true, with whitespace around");
	json_doc__free(doc);
	CHECK(!parse("false", &doc, NULL) && json_value__bool(json_doc__root(doc), &b) && !b,
	      "false");
	json_doc__free(doc);
	CHECK(!parse("null", &doc, NULL) && json_value__type(json_doc__root(doc)) == JSON_NULL,
	      "null");
	json_doc__free(doc);

	static const struct {
		const char *text;
		enum json_type type;
		int64_t i;
		double d;
	} nums[] = {
		{ "0", JSON_INT, 0, 0 },
		{ "-0", JSON_INT, 0, 0 },
		{ "7", JSON_INT, 7, 7 },
		{ "-12", JSON_INT, -12, -12 },
		{ "9223372036854775807", JSON_INT, INT64_MAX, 9223372036854775807.0 },
		{ "-9223372036854775808", JSON_INT, INT64_MIN, -9223372036854775808.0 },
		{ "9223372036854775808", JSON_DOUBLE, 0, 9223372036854775808.0 },
		{ "18446744073709551616", JSON_DOUBLE, 0, 18446744073709551616.0 },
		{ "-9223372036854775809", JSON_DOUBLE, 0, -9223372036854775809.0 },
		{ "1.5", JSON_DOUBLE, 0, 1.5 },
		{ "3.0", JSON_DOUBLE, 0, 3.0 },
		{ "1e3", JSON_DOUBLE, 0, 1000 },
		{ "1E+2", JSON_DOUBLE, 0, 100 },
		{ "-0.25e-2", JSON_DOUBLE, 0, -0.0025 },
		{ "0.1", JSON_DOUBLE, 0, 0.1 },
		{ "1e-400", JSON_DOUBLE, 0, 0 },
	};
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		int ret = parse(nums[k].text, &doc, NULL);

		v = json_doc__root(doc);
		CHECK(!ret && json_value__type(v) == nums[k].type &&
		      (nums[k].type != JSON_INT || (json_value__int(v, &i) && i == nums[k].i)) &&
		      json_value__number(v, &d) && d == nums[k].d,
		      "number %s: type %d, value %.17g", nums[k].text, json_value__type(v), d);
		json_doc__free(doc);
	}
	CHECK(!parse("1.5", &doc, NULL) && !json_value__int(json_doc__root(doc), &i),
	      "a double is not an int");
	json_doc__free(doc);
}

static void expect_string(const char *text, const char *want, size_t want_len)
{
	struct json_doc *doc;
	struct json_error err;
	const char *s;
	size_t len = 0;
	int ret = parse(text, &doc, &err);

	s = json_value__str(json_doc__root(doc), &len);
	CHECK(!ret && s && len == want_len && !memcmp(s, want, len) && s[len] == '\0',
	      "string %s (%s)", show(text, strlen(text)), ret ? err.msg : "parsed");
	json_doc__free(doc);
}

static void test_strings(void)
{
	expect_string("\"\"", "", 0);
	expect_string("\"abc\"", "abc", 3);
	expect_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	expect_string("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
	expect_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
	expect_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
	expect_string("\"a\\u0000b\"", "a\0b", 3);
	expect_string("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"",
		      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f", 10);

	expect_invalid("\"abc");
	expect_invalid("\"abc\\\"");
	expect_invalid("\"\\");
	expect_invalid("\"\\x\"");
	expect_invalid("\"\\u12\"");
	expect_invalid("\"\\u12G4\"");
	expect_invalid("\"\\U0041\"");
	expect_invalid("\"\\ud800\"");
	expect_invalid("\"\\ud800x\"");
	expect_invalid("\"\\ud800\\u0041\"");
	expect_invalid("\"\\ud800\\ud800\"");
	expect_invalid("\"\\udc00\\ud800\"");
	expect_invalid("\"a\nb\"");
	expect_invalid("\"a\tb\"");
	expect_invalid_n("\"a\0b\"", 5, -EINVAL);
	expect_invalid("\"\xff\"");
	expect_invalid("\"\xc0\xaf\"");		/* overlong '/' */
	expect_invalid("\"\xe0\x80\xaf\"");	/* overlong */
	expect_invalid("\"\xed\xa0\x80\"");	/* a surrogate in UTF-8 */
	expect_invalid("\"\xf4\x90\x80\x80\"");	/* above U+10FFFF */
	expect_invalid("\"\xe2\x82\"");		/* cut short by the quote */
	expect_invalid_n("\"\xe2\x82", 3, -EINVAL);
	expect_invalid("\"\x80\"");
	expect_invalid("'a'");
}

static void test_containers(void)
{
	const char *text = "{ \"a\": [1, \"x\", {\"b\": null}, []], \"c\": {}, \"a\": 2,"
			   " \"k\\u00e9y\": true }";
	const struct json_value *root, *a, *v;
	struct json_doc *doc;
	struct json_error err;
	int64_t i = 0;
	size_t len = 0;
	const char *key;
	int ret = parse(text, &doc, &err);

	root = json_doc__root(doc);
	CHECK(!ret && json_value__type(root) == JSON_OBJECT && json_value__len(root) == 4,
	      "object with 4 members (%s)", ret ? err.msg : "parsed");
	a = json_value__get(root, "a");
	CHECK(json_value__type(a) == JSON_ARRAY && json_value__len(a) == 4,
	      "a duplicate key: lookup finds the first");
	CHECK(json_value__int(json_value__at(a, 0), &i) && i == 1 &&
	      !strcmp(json_value__str(json_value__at(a, 1), NULL), "x") &&
	      json_value__type(json_value__get(json_value__at(a, 2), "b")) == JSON_NULL &&
	      json_value__get(json_value__at(a, 2), "b") != NULL &&
	      json_value__type(json_value__at(a, 3)) == JSON_ARRAY &&
	      json_value__len(json_value__at(a, 3)) == 0, "array elements in order");
	CHECK(!json_value__at(a, 4) && !json_value__get(a, "x") && !json_value__get(root, "zz"),
	      "out of range and missing lookups give NULL");
	v = json_value__get(root, "c");
	CHECK(json_value__type(v) == JSON_OBJECT && json_value__len(v) == 0, "empty object");
	key = json_value__key(root, 3, &len);
	CHECK(key && len == 4 && !memcmp(key, "k\xc3\xa9y", 4), "escaped key");
	CHECK(json_value__int(json_value__at(root, 2), &i) && i == 2,
	      "the second \"a\" is member 2");
	CHECK(!json_value__key(a, 0, &len) && json_value__len(json_value__at(a, 0)) == 0,
	      "arrays have no keys, numbers no length");
	json_doc__free(doc);

	expect_invalid("");
	expect_invalid(" \n ");
	expect_invalid("{");
	expect_invalid("[");
	expect_invalid("[1,]");
	expect_invalid("[,1]");
	expect_invalid("[1 2]");
	expect_invalid("{\"a\":1,}");
	expect_invalid("{\"a\" 1}");
	expect_invalid("{\"a\":}");
	expect_invalid("{1:2}");
	expect_invalid("{\"a\":1 \"b\":2}");
	expect_invalid("[1]]");
	expect_invalid("{}}");
	expect_invalid("1 2");
	expect_invalid("[1] x");
	expect_invalid_n("[1]\0", 4, -EINVAL);
	expect_invalid("\xef\xbb\xbf[]");
	expect_invalid("tru");
	expect_invalid("nul");
	expect_invalid("True");
	expect_invalid("nan");
	expect_invalid("01");
	expect_invalid("-01");
	expect_invalid("1.");
	expect_invalid(".5");
	expect_invalid("-");
	expect_invalid("+1");
	expect_invalid("1e");
	expect_invalid("1e+");
	expect_invalid("0x10");
	expect_invalid("1e400");
	expect_invalid("-1e400");
	expect_invalid("[1,\n\t2,\n  x]");

	ret = parse("[1,\n\t2,\n  x]", &doc, &err);
	CHECK(ret == -EINVAL && err.line == 3 && err.column == 3 && err.offset == 10,
	      "error position: line %zu column %zu offset %zu", err.line, err.column, err.offset);
}

static void test_limits(void)
{
	char deep[2 * JSON_MAX_DEPTH + 4];
	struct json_doc *doc;
	char *big;
	size_t n;
	int ret;

	memset(deep, '[', JSON_MAX_DEPTH);
	memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	ret = parse_n(deep, 2 * JSON_MAX_DEPTH, &doc, NULL);
	CHECK(!ret, "%d nested arrays are fine", JSON_MAX_DEPTH);
	json_doc__free(doc);
	memset(deep, '[', JSON_MAX_DEPTH + 1);
	memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	expect_invalid_n(deep, 2 * JSON_MAX_DEPTH + 2, -E2BIG);
	/* Cut short: the depth limit comes first, whatever follows. */
	expect_invalid_n(deep, JSON_MAX_DEPTH + 1, -E2BIG);

	n = JSON_MAX_STRING + 3;
	big = malloc(n);
	if (!big)
		abort();
	memset(big, 'a', n);
	big[0] = '"';
	big[n - 1] = '"';
	expect_invalid_n(big, n, -E2BIG);
	big[1] = '"';
	ret = parse_n(big + 1, n - 1, &doc, NULL);
	CHECK(!ret, "a string of exactly %lu bytes is fine", JSON_MAX_STRING);
	json_doc__free(doc);
	free(big);

	big = malloc(600);
	if (!big)
		abort();
	memset(big, '1', 600);
	expect_invalid_n(big, 600, -E2BIG);
	free(big);

	ret = json_doc__parse("[]", JSON_MAX_INPUT + 1, &doc, NULL);
	CHECK(ret == -E2BIG && !doc, "input over JSON_MAX_INPUT is refused before reading it");
}

/* Something shaped like memtrace's report, with every kind of value. */
static const char sample[] =
	"{\n  \"version\": 1,\n  \"duration_s\": 3.25,\n  \"counters\": { \"a\": 0, \"b\": 12 },\n"
	"  \"processes\": [ { \"pid\": 42, \"comm\": \"x\\u00e9\\n\", \"exited\": false,\n"
	"    \"heap\": { \"live_bytes\": null },\n"
	"    \"stacks\": [ { \"live_bytes\": -5, \"oldest_age_s\": 1.5e-3, \"frames\": [\n"
	"      { \"function\": \"operator new(unsigned long)\", \"module\": \"/a b\", "
	"\"offset\": 4660, \"inlined\": true } ] } ] } ] }";

static void test_prefixes_and_corruption(void)
{
	size_t n = sizeof(sample) - 1, i, bad = 0, accepted = 0;
	struct json_doc *doc;
	struct json_error err;
	unsigned int seed = 12345;
	char buf[sizeof(sample)];
	int ret;

	ret = parse(sample, &doc, &err);
	CHECK(!ret, "the sample document parses (%s)", ret ? err.msg : "ok");
	json_doc__free(doc);

	for (i = 0; i < n; i++) {
		ret = parse_n(sample, i, &doc, &err);
		if (ret != -EINVAL || doc || !err.msg[0] || err.offset > i) {
			bad++;
			json_doc__free(doc);
		}
	}
	CHECK(!bad, "every proper prefix of the sample is rejected (%zu accepted or odd)", bad);

	/* Random corruptions: whatever the bytes, a clean answer. */
	for (i = 0; i < 20000; i++) {
		size_t k, flips = 1 + i % 4;

		memcpy(buf, sample, n);
		for (k = 0; k < flips; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % n] = (char)(seed >> 20);
		}
		ret = parse_n(buf, n, &doc, &err);
		if (!ret)
			accepted++;
		else if (doc || (ret != -EINVAL && ret != -E2BIG) || !err.msg[0])
			bad++;
		json_doc__free(doc);
	}
	CHECK(!bad, "20000 corrupted documents: each parsed or rejected cleanly (%zu accepted)",
	      accepted);
}

struct rec {
	int64_t i;
	uint64_t u;
	uint32_t u32;
	int n;
	double d;
	bool b;
	char *s;
	const struct json_value *a;
	size_t alen;		/* a's length: a dies with its document */
};

static const struct json_field rec_fields[] = {
	{ "i", JSON_F_I64, offsetof(struct rec, i) },
	{ "u", JSON_F_U64, offsetof(struct rec, u) },
	{ "u32", JSON_F_U32, offsetof(struct rec, u32) },
	{ "n", JSON_F_INT, offsetof(struct rec, n) },
	{ "d", JSON_F_DOUBLE, offsetof(struct rec, d) },
	{ "b", JSON_F_BOOL, offsetof(struct rec, b) },
	{ "s", JSON_F_STR, offsetof(struct rec, s) },
	{ "a", JSON_F_ARRAY, offsetof(struct rec, a) },
};

/* Read text's fields into a struct preset to 7s; the error, and why. */
static int read_rec(const char *text, struct rec *r, char *why, size_t why_len)
{
	struct json_read_err err = { "x[1].", why, why_len };
	struct json_doc *doc;
	int ret;

	memset(r, 0, sizeof(*r));
	r->i = r->u = r->u32 = r->n = 7;
	r->d = 7;
	why[0] = '\0';
	if (parse(text, &doc, NULL))
		abort();
	ret = json_value__read_fields(json_doc__root(doc), rec_fields,
				      sizeof(rec_fields) / sizeof(rec_fields[0]), r, &err);
	r->alen = json_value__len(r->a);
	r->a = NULL;
	json_doc__free(doc);
	return ret;
}

static void expect_read_error(const char *text, const char *want)
{
	struct rec r;
	char why[96];
	int ret = read_rec(text, &r, why, sizeof(why));

	CHECK(ret == -EINVAL && !strcmp(why, want), "typed read of %s: \"%s\"", text, why);
	free(r.s);
}

static void test_typed_reads(void)
{
	struct rec r;
	char why[96];
	int ret;

	ret = read_rec("{\"i\": -5, \"u\": 9, \"u32\": 4294967295, \"n\": 12, \"d\": 2,"
		       " \"b\": true, \"s\": \"a\\u0000b\", \"a\": [1, 2, 3], \"zz\": {}}",
		       &r, why, sizeof(why));
	CHECK(!ret && r.i == -5 && r.u == 9 && r.alen == 3 && r.u32 == UINT32_MAX && r.n == 12 &&
	      r.d == 2 &&
	      r.b && r.s && !strcmp(r.s, "a"), "typed read of every type (%s)", why);
	free(r.s);
	ret = read_rec("{\"i\": null, \"s\": null, \"a\": null}", &r, why, sizeof(why));
	CHECK(!ret && r.i == 7 && r.u == 7 && r.u32 == 7 && r.n == 7 && r.d == 7 && !r.s,
	      "missing and null members leave the defaults");
	expect_read_error("[]", "x[1] is not an object");
	expect_read_error("{\"i\": 1.5}", "x[1].i is not an integer");
	expect_read_error("{\"i\": \"1\"}", "x[1].i is not an integer");
	expect_read_error("{\"u\": -1}", "x[1].u is out of range");
	expect_read_error("{\"u32\": 4294967296}", "x[1].u32 is out of range");
	expect_read_error("{\"n\": 2147483648}", "x[1].n is out of range");
	expect_read_error("{\"d\": \"x\"}", "x[1].d is not a number");
	expect_read_error("{\"b\": 1}", "x[1].b is not true or false");
	expect_read_error("{\"s\": 1}", "x[1].s is not a string");
	expect_read_error("{\"a\": {}}", "x[1].a is not an array");
}

int main(void)
{
	test_scalars();
	test_strings();
	test_containers();
	test_limits();
	test_prefixes_and_corruption();
	test_typed_reads();
	return unit_exit();
}
