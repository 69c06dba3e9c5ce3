/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A strict JSON reader (RFC 8259) into a read-only tree, for reading back
 * memtrace's own reports. Input is untrusted: every byte is checked (UTF-8
 * included), nesting and sizes are bounded, and nothing is read past the
 * given length (no NUL terminator is needed).
 *
 * Numbers without a fraction or exponent that fit in int64 are JSON_INT;
 * every other number is JSON_DOUBLE. Strings are UTF-8, NUL-terminated, with
 * their length given apart since "\u0000" may put a NUL inside. Objects keep
 * their members in order; a key given twice is kept twice, and lookup finds
 * the first.
 */
#ifndef MEMTRACE_JSON_READ_H
#define MEMTRACE_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting of arrays and objects. */
#define JSON_MAX_DEPTH 64
/* Whole input, and one string once decoded. */
#define JSON_MAX_INPUT (1UL << 30)
#define JSON_MAX_STRING (1UL << 20)

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,
	JSON_DOUBLE,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_doc;
struct json_value;

/* Where parsing stopped, and why. line and column count from 1; column
 * counts bytes. */
struct json_error {
	size_t offset;
	size_t line;
	size_t column;
	char msg[96];
};

/*
 * Parse text[0..len). Returns 0, -EINVAL for text that is not JSON, -E2BIG
 * when a limit above is exceeded, or -ENOMEM; err (may be NULL) says where
 * and why when not 0.
 */
int json_doc__parse(const char *text, size_t len, struct json_doc **out, struct json_error *err);
void json_doc__free(struct json_doc *d);
const struct json_value *json_doc__root(const struct json_doc *d);

/* Accessors take NULL (a missing value) and then fail or return NULL/0. */
enum json_type json_value__type(const struct json_value *v);
/* Members of an object, elements of an array; 0 for anything else. */
size_t json_value__len(const struct json_value *v);
/* Element i of an array, or the value of member i of an object. */
const struct json_value *json_value__at(const struct json_value *v, size_t i);
/* Key of member i of an object; NULL for anything else. */
const char *json_value__key(const struct json_value *v, size_t i, size_t *len);
/* The value of the first member named key; NULL when v is not an object or has none. */
const struct json_value *json_value__get(const struct json_value *v, const char *key);

bool json_value__bool(const struct json_value *v, bool *out);
/* JSON_INT only. */
bool json_value__int(const struct json_value *v, int64_t *out);
/* JSON_INT or JSON_DOUBLE. */
bool json_value__number(const struct json_value *v, double *out);
/* The string and its length (len may be NULL); NULL when v is not a string. */
const char *json_value__str(const struct json_value *v, size_t *len);

/*
 * Typed reading of an object's members into a C struct, as a table says. A
 * member that is missing or null leaves its struct member as it was (the
 * caller's default); a member of another type, or an integer out of the
 * field's range, is -EINVAL with the reason in err.
 */
enum json_field_type {
	JSON_F_I64,		/* int64_t */
	JSON_F_U64,		/* uint64_t, at most INT64_MAX */
	JSON_F_U32,		/* uint32_t */
	JSON_F_INT,		/* int, 0 to INT32_MAX */
	JSON_F_DOUBLE,		/* double, from any number */
	JSON_F_BOOL,		/* bool */
	JSON_F_STR,		/* char *: a malloc'd copy, which a "\u0000" ends */
	JSON_F_ARRAY,		/* const struct json_value *: an array */
};

struct json_field {
	const char *key;
	enum json_field_type type;
	size_t offset;		/* of the struct member written */
};

struct json_read_err {
	const char *where;	/* path to the object ending in '.', "a[2].b."; "" for the root */
	char *why;		/* receives e.g. "a[2].b.size is not an integer" */
	size_t why_len;
};

/* obj.key into *out. Returns 0, -EINVAL or -ENOMEM. */
int json_value__read(const struct json_value *obj, const char *key, enum json_field_type type,
		     void *out, const struct json_read_err *err);
/* Every field of the table, into the struct at base; -EINVAL too when obj is
 * not an object. */
int json_value__read_fields(const struct json_value *obj, const struct json_field *fields,
			    size_t n, void *base, const struct json_read_err *err);

#endif /* MEMTRACE_JSON_READ_H */
