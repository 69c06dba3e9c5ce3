/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report/protobuf.h"

struct pb_enc {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
};

struct pb_enc *pb_enc__new(void)
{
	return calloc(1, sizeof(struct pb_enc));
}

void pb_enc__free(struct pb_enc *e)
{
	if (!e)
		return;
	free(e->data);
	free(e);
}

const uint8_t *pb_enc__data(const struct pb_enc *e, size_t *len)
{
	*len = e->len;
	return e->data;
}

int pb_enc__error(const struct pb_enc *e)
{
	return e->failed ? -ENOMEM : 0;
}

void pb_enc__reset(struct pb_enc *e)
{
	e->len = 0;
	e->failed = false;
}

/* Room for n more bytes; false (and the error set) when there is none. */
static bool reserve(struct pb_enc *e, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (e->failed)
		return false;
	if (n <= e->cap - e->len)
		return true;
	if (n > SIZE_MAX / 2 - e->len)
		goto fail;
	cap = e->cap ? e->cap : 256;
	while (cap - e->len < n)
		cap *= 2;
	p = realloc(e->data, cap);
	if (!p)
		goto fail;
	e->data = p;
	e->cap = cap;
	return true;
fail:
	e->failed = true;
	return false;
}

size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint_at(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

void pb_enc__varint(struct pb_enc *e, uint64_t v)
{
	if (reserve(e, 10))
		e->len += put_varint_at(e->data + e->len, v);
}

void pb_enc__tag(struct pb_enc *e, uint32_t field, enum pb_wire_type wt)
{
	pb_enc__varint(e, ((uint64_t)field << 3) | wt);
}

void pb_enc__uint64(struct pb_enc *e, uint32_t field, uint64_t v)
{
	pb_enc__tag(e, field, PB_WIRE_VARINT);
	pb_enc__varint(e, v);
}

void pb_enc__int64(struct pb_enc *e, uint32_t field, int64_t v)
{
	pb_enc__uint64(e, field, (uint64_t)v);
}

void pb_enc__bool(struct pb_enc *e, uint32_t field, bool v)
{
	pb_enc__uint64(e, field, v ? 1 : 0);
}

void pb_enc__bytes(struct pb_enc *e, uint32_t field, const void *data, size_t len)
{
	pb_enc__tag(e, field, PB_WIRE_LEN);
	pb_enc__varint(e, len);
	if (len && reserve(e, len)) {
		memcpy(e->data + e->len, data, len);
		e->len += len;
	}
}

void pb_enc__string(struct pb_enc *e, uint32_t field, const char *s)
{
	pb_enc__bytes(e, field, s ? s : "", s ? strlen(s) : 0);
}

void pb_enc__packed_uint64(struct pb_enc *e, uint32_t field, const uint64_t *v, size_t n)
{
	size_t i, len = 0;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		len += pb_varint_len(v[i]);
	pb_enc__tag(e, field, PB_WIRE_LEN);
	pb_enc__varint(e, len);
	if (!reserve(e, len))
		return;
	for (i = 0; i < n; i++)
		e->len += put_varint_at(e->data + e->len, v[i]);
}

void pb_enc__packed_int64(struct pb_enc *e, uint32_t field, const int64_t *v, size_t n)
{
	size_t i, len = 0;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		len += pb_varint_len((uint64_t)v[i]);
	pb_enc__tag(e, field, PB_WIRE_LEN);
	pb_enc__varint(e, len);
	if (!reserve(e, len))
		return;
	for (i = 0; i < n; i++)
		e->len += put_varint_at(e->data + e->len, (uint64_t)v[i]);
}

size_t pb_enc__begin(struct pb_enc *e, uint32_t field)
{
	pb_enc__tag(e, field, PB_WIRE_LEN);
	return e->len;
}

/*
 * The length's own size is known only now: move the message's bytes up by
 * that much. Messages here are small (one sample, one location), so the copy
 * costs less than encoding every message twice to measure it first.
 */
void pb_enc__end(struct pb_enc *e, size_t mark)
{
	size_t n, vlen;

	if (e->failed || mark > e->len)
		return;
	n = e->len - mark;
	vlen = pb_varint_len(n);
	if (!reserve(e, vlen))
		return;
	memmove(e->data + mark + vlen, e->data + mark, n);
	put_varint_at(e->data + mark, n);
	e->len += vlen;
}
