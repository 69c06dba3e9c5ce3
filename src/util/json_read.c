/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recursive descent, bounded by JSON_MAX_DEPTH. Values live inside their
 * parent's member array: while a container is being read its members collect
 * on one shared scratch stack, and once it is closed they are copied, at
 * their final count, into the document's arena with the decoded strings.
 * So a value costs no allocation of its own, and freeing the document is
 * freeing a list of chunks.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/utf8.h"
#include "util/json_read.h"

struct json_value {
	enum json_type type;
	size_t n;			/* string length, or number of members */
	union {
		bool b;
		int64_t i;
		double d;
		char *s;
		struct json_member *m;
	} u;
};

/* A member of an object, or an element of an array (key NULL). */
struct json_member {
	const char *key;
	size_t key_len;
	struct json_value v;
};

struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct json_doc {
	struct chunk *chunks;
	struct json_value root;
};

#define CHUNK_SIZE (64 * 1024)
/* Longer number tokens are not worth reading: no double needs them. */
#define MAX_NUMBER_LEN 400

static void *arena_alloc(struct json_doc *d, size_t n)
{
	struct chunk *c = d->chunks;
	size_t size;
	void *p;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->size - c->used < n) {
		size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		/* A big block goes behind the current chunk, whose room is kept. */
		if (d->chunks && size > CHUNK_SIZE) {
			c->next = d->chunks->next;
			d->chunks->next = c;
		} else {
			c->next = d->chunks;
			d->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

struct parser {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	struct json_doc *doc;
	struct json_member *scratch;
	size_t nscratch, cap;
	struct json_error *err;
};

static int fail(struct parser *ps, const unsigned char *at, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parser *ps, const unsigned char *at, int code, const char *fmt, ...)
{
	struct json_error *e = ps->err;
	const unsigned char *q;
	va_list ap;

	if (!e)
		return code;
	e->offset = at - ps->start;
	e->line = 1;
	e->column = 1;
	for (q = ps->start; q < at; q++) {
		if (*q == '\n') {
			e->line++;
			e->column = 1;
		} else {
			e->column++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

static int fail_nomem(struct parser *ps)
{
	return fail(ps, ps->p, -ENOMEM, "out of memory");
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int fail_at_p(struct parser *ps, const char *expected)
{
	if (ps->p >= ps->end)
		return fail(ps, ps->p, -EINVAL, "unexpected end of input, expected %s", expected);
	if (*ps->p >= 0x20 && *ps->p < 0x7f)
		return fail(ps, ps->p, -EINVAL, "unexpected '%c', expected %s", *ps->p, expected);
	return fail(ps, ps->p, -EINVAL, "unexpected byte 0x%02x, expected %s", *ps->p, expected);
}


static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The escape at i (a backslash, followed by at least one byte before q):
 * its code point in *cp, and the bytes it takes in *used. */
static int read_escape(struct parser *ps, const unsigned char *i, const unsigned char *q,
		       uint32_t *cp, size_t *used)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e = i[1] ? strchr(from, i[1]) : NULL;
	uint32_t lo;

	if (e) {
		*cp = (unsigned char)to[e - from];
		*used = 2;
		return 0;
	}
	if (i[1] != 'u')
		return fail(ps, i, -EINVAL, "invalid escape in string");
	if (q - i < 6 || hex4(i + 2, cp))
		return fail(ps, i, -EINVAL, "invalid \\u escape in string");
	*used = 6;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(ps, i, -EINVAL, "\\u escape of a lone low surrogate");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	/* A high surrogate: the low half must follow, as another \u escape. */
	if (q - i < 12 || i[6] != '\\' || i[7] != 'u' || hex4(i + 8, &lo) ||
	    lo < 0xdc00 || lo > 0xdfff)
		return fail(ps, i, -EINVAL, "\\u escape of a lone high surrogate");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	*used = 12;
	return 0;
}

/* The string at ps->p (its opening quote), decoded into the arena. */
static int parse_string(struct parser *ps, char **out, size_t *out_len)
{
	const unsigned char *open = ps->p, *q = ps->p + 1, *i;
	size_t raw, len = 0, n = 0;
	uint32_t cp;
	char *s;
	int err;

	/* Find the closing quote first: the decoded string is never longer. */
	while (q < ps->end && *q != '"') {
		if (*q == '\\' && ++q == ps->end)
			break;
		q++;
	}
	if (q >= ps->end)
		return fail(ps, open, -EINVAL, "unterminated string");
	raw = q - (open + 1);
	if (raw > 6 * JSON_MAX_STRING)
		return fail(ps, open, -E2BIG, "string longer than %lu bytes", JSON_MAX_STRING);
	s = arena_alloc(ps->doc, raw + 1);
	if (!s)
		return fail_nomem(ps);
	for (i = open + 1; i < q; i += n) {
		if (*i < 0x20)
			return fail(ps, i, -EINVAL, "control character 0x%02x in string", *i);
		if (*i == '\\') {
			err = read_escape(ps, i, q, &cp, &n);
			if (err)
				return err;
			len += put_utf8(s + len, cp);
		} else {
			n = mt_utf8_seq_len(i, q - i);
			if (!n)
				return fail(ps, i, -EINVAL, "invalid UTF-8 in string");
			memcpy(s + len, i, n);
			len += n;
		}
	}
	if (len > JSON_MAX_STRING)
		return fail(ps, open, -E2BIG, "string longer than %lu bytes", JSON_MAX_STRING);
	s[len] = '\0';
	*out = s;
	*out_len = len;
	ps->p = q + 1;
	return 0;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* Doubles are read in the C locale whatever LC_NUMERIC says. */
static int to_double(struct parser *ps, const unsigned char *s, size_t n, double *out)
{
	static locale_t c_locale;
	char buf[MAX_NUMBER_LEN + 1];

	if (!c_locale)
		c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!c_locale)
		return fail_nomem(ps);
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod_l(buf, NULL, c_locale);
	if (isinf(*out))
		return fail(ps, s, -EINVAL, "number out of range");
	return 0;
}

static int parse_number(struct parser *ps, struct json_value *v)
{
	const unsigned char *s = ps->p, *p = ps->p, *end = ps->end;
	bool neg = false, integral = true;
	uint64_t mag = 0;
	const unsigned char *d;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p < end && *p == '0') {
		p++;
	} else if (is_digit(p, end)) {
		while (is_digit(p, end))
			p++;
	} else {
		ps->p = p;
		return fail_at_p(ps, "a digit");
	}
	if (p < end && *p == '.') {
		integral = false;
		if (!is_digit(++p, end)) {
			ps->p = p;
			return fail_at_p(ps, "a digit after '.'");
		}
		while (is_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integral = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end)) {
			ps->p = p;
			return fail_at_p(ps, "a digit in the exponent");
		}
		while (is_digit(p, end))
			p++;
	}
	if ((size_t)(p - s) > MAX_NUMBER_LEN)
		return fail(ps, s, -E2BIG, "number longer than %d characters", MAX_NUMBER_LEN);
	ps->p = p;
	for (d = s + neg; integral && d < p; d++) {
		if (mag > (UINT64_MAX - (*d - '0')) / 10)
			integral = false;	/* too large for int64 in any case */
		else
			mag = mag * 10 + (*d - '0');
	}
	if (integral && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= INT64_MAX)) {
		v->type = JSON_INT;
		v->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		return 0;
	}
	v->type = JSON_DOUBLE;
	return to_double(ps, s, p - s, &v->u.d);
}

static int push_member(struct parser *ps, const char *key, size_t key_len,
		       const struct json_value *v)
{
	struct json_member *m;

	if (ps->nscratch == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 256;

		m = realloc(ps->scratch, cap * sizeof(*m));
		if (!m)
			return fail_nomem(ps);
		ps->scratch = m;
		ps->cap = cap;
	}
	m = &ps->scratch[ps->nscratch++];
	m->key = key;
	m->key_len = key_len;
	m->v = *v;
	return 0;
}

/* Move the members pushed since first into the arena, as v's. */
static int close_container(struct parser *ps, size_t first, struct json_value *v)
{
	size_t n = ps->nscratch - first;

	v->n = n;
	v->u.m = NULL;
	if (n) {
		v->u.m = arena_alloc(ps->doc, n * sizeof(*v->u.m));
		if (!v->u.m)
			return fail_nomem(ps);
		memcpy(v->u.m, ps->scratch + first, n * sizeof(*v->u.m));
	}
	ps->nscratch = first;
	return 0;
}

static int parse_value(struct parser *ps, struct json_value *v, unsigned int depth);

/* An array or an object (ps->p on its opening bracket). */
static int parse_container(struct parser *ps, struct json_value *v, unsigned int depth)
{
	bool is_obj = *ps->p == '{';
	char close = is_obj ? '}' : ']';
	size_t first = ps->nscratch, key_len = 0;
	struct json_value item;
	char *key = NULL;
	int err;

	if (depth >= JSON_MAX_DEPTH)
		return fail(ps, ps->p, -E2BIG, "nested deeper than %d levels", JSON_MAX_DEPTH);
	v->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return close_container(ps, first, v);
	}
	for (;;) {
		if (is_obj) {
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return fail_at_p(ps, "a string (member name)");
			err = parse_string(ps, &key, &key_len);
			if (err)
				return err;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail_at_p(ps, "':'");
			ps->p++;
		}
		err = parse_value(ps, &item, depth + 1);
		if (!err)
			err = push_member(ps, key, key_len, &item);
		if (err)
			return err;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return close_container(ps, first, v);
		}
		return fail_at_p(ps, is_obj ? "',' or '}'" : "',' or ']'");
	}
}

static int parse_literal(struct parser *ps, struct json_value *v)
{
	static const struct { const char *text; enum json_type type; bool b; } lits[] = {
		{ "true", JSON_BOOL, true }, { "false", JSON_BOOL, false },
		{ "null", JSON_NULL, false },
	};
	size_t i, n;

	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		n = strlen(lits[i].text);
		if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, lits[i].text, n)) {
			v->type = lits[i].type;
			v->u.b = lits[i].b;
			ps->p += n;
			return 0;
		}
	}
	return fail_at_p(ps, "a value");
}

static int parse_value(struct parser *ps, struct json_value *v, unsigned int depth)
{
	int err;

	memset(v, 0, sizeof(*v));
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail_at_p(ps, "a value");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v, depth);
	case '"':
		v->type = JSON_STRING;
		err = parse_string(ps, &v->u.s, &v->n);
		return err;
	case '-':
	case '0' ... '9':
		return parse_number(ps, v);
	default:
		return parse_literal(ps, v);
	}
}

int json_doc__parse(const char *text, size_t len, struct json_doc **out, struct json_error *err)
{
	struct parser ps = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.err = err,
	};
	int ret;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (len > JSON_MAX_INPUT) {
		ps.end = ps.start;
		return fail(&ps, ps.start, -E2BIG, "input larger than %lu bytes", JSON_MAX_INPUT);
	}
	ps.doc = calloc(1, sizeof(*ps.doc));
	if (!ps.doc)
		return fail_nomem(&ps);
	ret = parse_value(&ps, &ps.doc->root, 0);
	if (!ret) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			ret = fail_at_p(&ps, "the end of input after the value");
	}
	free(ps.scratch);
	if (ret) {
		json_doc__free(ps.doc);
		return ret;
	}
	*out = ps.doc;
	return 0;
}

void json_doc__free(struct json_doc *d)
{
	struct chunk *c, *next;

	if (!d)
		return;
	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(d);
}

const struct json_value *json_doc__root(const struct json_doc *d)
{
	return d ? &d->root : NULL;
}

enum json_type json_value__type(const struct json_value *v)
{
	return v ? v->type : JSON_NULL;
}

size_t json_value__len(const struct json_value *v)
{
	return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}

const struct json_value *json_value__at(const struct json_value *v, size_t i)
{
	return i < json_value__len(v) ? &v->u.m[i].v : NULL;
}

const char *json_value__key(const struct json_value *v, size_t i, size_t *len)
{
	if (!v || v->type != JSON_OBJECT || i >= v->n)
		return NULL;
	if (len)
		*len = v->u.m[i].key_len;
	return v->u.m[i].key;
}

const struct json_value *json_value__get(const struct json_value *v, const char *key)
{
	size_t i, n = strlen(key);

	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (v->u.m[i].key_len == n && !memcmp(v->u.m[i].key, key, n))
			return &v->u.m[i].v;
	return NULL;
}

bool json_value__bool(const struct json_value *v, bool *out)
{
	if (!v || v->type != JSON_BOOL)
		return false;
	*out = v->u.b;
	return true;
}

bool json_value__int(const struct json_value *v, int64_t *out)
{
	if (!v || v->type != JSON_INT)
		return false;
	*out = v->u.i;
	return true;
}

bool json_value__number(const struct json_value *v, double *out)
{
	if (!v || (v->type != JSON_INT && v->type != JSON_DOUBLE))
		return false;
	*out = v->type == JSON_INT ? (double)v->u.i : v->u.d;
	return true;
}

const char *json_value__str(const struct json_value *v, size_t *len)
{
	if (!v || v->type != JSON_STRING)
		return NULL;
	if (len)
		*len = v->n;
	return v->u.s;
}

/* ------------------------------------------------------------ typed reads */

static int read_fail(const struct json_read_err *err, int code, const char *key,
		     const char *what)
{
	if (err && err->why_len) {
		if (key)
			snprintf(err->why, err->why_len, "%s%s %s", err->where, key, what);
		else if (*err->where)	/* the object itself: its path without the '.' */
			snprintf(err->why, err->why_len, "%.*s %s",
				 (int)strlen(err->where) - 1, err->where, what);
		else
			snprintf(err->why, err->why_len, "%s", what);
	}
	return code;
}

int json_value__read(const struct json_value *obj, const char *key, enum json_field_type type,
		     void *out, const struct json_read_err *err)
{
	const struct json_value *v = json_value__get(obj, key);
	int64_t i;

	if (!v || v->type == JSON_NULL)
		return 0;
	switch (type) {
	case JSON_F_BOOL:
		return json_value__bool(v, out) ? 0 :
		       read_fail(err, -EINVAL, key, "is not true or false");
	case JSON_F_DOUBLE:
		return json_value__number(v, out) ? 0 :
		       read_fail(err, -EINVAL, key, "is not a number");
	case JSON_F_STR:
		if (v->type != JSON_STRING)
			return read_fail(err, -EINVAL, key, "is not a string");
		*(char **)out = strdup(v->u.s);
		return *(char **)out ? 0 : read_fail(err, -ENOMEM, key, "could not be copied");
	case JSON_F_ARRAY:
		*(const struct json_value **)out = v;
		return v->type == JSON_ARRAY ? 0 : read_fail(err, -EINVAL, key, "is not an array");
	default:
		break;
	}
	if (!json_value__int(v, &i))
		return read_fail(err, -EINVAL, key, "is not an integer");
	if (type != JSON_F_I64 && (i < 0 || (type == JSON_F_U32 && i > UINT32_MAX) ||
				   (type == JSON_F_INT && i > INT32_MAX)))
		return read_fail(err, -EINVAL, key, "is out of range");
	if (type == JSON_F_I64 || type == JSON_F_U64)
		*(int64_t *)out = i;
	else if (type == JSON_F_U32)
		*(uint32_t *)out = (uint32_t)i;
	else
		*(int *)out = (int)i;
	return 0;
}

int json_value__read_fields(const struct json_value *obj, const struct json_field *fields,
			    size_t n, void *base, const struct json_read_err *err)
{
	size_t i;
	int ret = 0;

	if (json_value__type(obj) != JSON_OBJECT)
		return read_fail(err, -EINVAL, NULL, "is not an object");
	for (i = 0; i < n && !ret; i++)
		ret = json_value__read(obj, fields[i].key, fields[i].type,
				       (char *)base + fields[i].offset, err);
	return ret;
}
