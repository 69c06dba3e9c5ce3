/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: the JSON reader --diff uses on reports, which may come
 * from anywhere. The input is not NUL-terminated; a parsed document is
 * walked whole through the accessors, and the error position of a refused
 * one must lie inside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_read.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void walk(const struct json_value *v, unsigned int depth)
{
	const char *s, *key;
	size_t i, n, len;
	int64_t iv;
	double d;
	bool b;

	CHECK(depth <= JSON_MAX_DEPTH + 1);
	switch (json_value__type(v)) {
	case JSON_NULL:
		CHECK(json_value__len(v) == 0);
		break;
	case JSON_BOOL:
		CHECK(json_value__bool(v, &b));
		break;
	case JSON_INT:
		CHECK(json_value__int(v, &iv) && json_value__number(v, &d));
		break;
	case JSON_DOUBLE:
		CHECK(!json_value__int(v, &iv) && json_value__number(v, &d));
		break;
	case JSON_STRING:
		s = json_value__str(v, &len);
		CHECK(s && len <= JSON_MAX_STRING && s[len] == '\0');
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		n = json_value__len(v);
		for (i = 0; i < n; i++) {
			key = json_value__key(v, i, &len);
			if (json_value__type(v) == JSON_OBJECT) {
				CHECK(key && key[len] == '\0');
				/* The first member of that name, which may come
				 * before i (a few only: get() is a linear scan). */
				if (i < 64 && strlen(key) == len)
					CHECK(json_value__get(v, key));
			} else {
				CHECK(!key);
			}
			walk(json_value__at(v, i), depth + 1);
		}
		CHECK(!json_value__at(v, n));
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error err;
	struct json_doc *doc = NULL;
	int rc;

	rc = json_doc__parse((const char *)data, size, &doc, &err);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
		CHECK(err.offset <= size && err.line >= 1 && err.column >= 1);
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)));
		return 0;
	}
	walk(json_doc__root(doc), 0);
	json_doc__free(doc);
	return 0;
}
