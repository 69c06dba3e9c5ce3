/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A protocol-buffers encoder for the few wire types profile.proto needs:
 * varints, length-delimited fields (strings, bytes, embedded messages) and
 * packed repeated integers. Output is built in memory.
 *
 * Errors are sticky: once an allocation failed every later call does
 * nothing and pb_enc__error() reports it, so a writer checks once at the end.
 */
#ifndef MEMTRACE_PROTOBUF_H
#define MEMTRACE_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire_type {
	PB_WIRE_VARINT = 0,
	PB_WIRE_I64 = 1,
	PB_WIRE_LEN = 2,
	PB_WIRE_I32 = 5,
};

struct pb_enc;

struct pb_enc *pb_enc__new(void);
void pb_enc__free(struct pb_enc *e);
/* The bytes written so far; valid until the next call on e. */
const uint8_t *pb_enc__data(const struct pb_enc *e, size_t *len);
/* 0, or -ENOMEM when a write could not be done. */
int pb_enc__error(const struct pb_enc *e);
/* Forget the bytes written (and a sticky error): reuse the buffer. */
void pb_enc__reset(struct pb_enc *e);

/* Bytes a varint of v takes (1 to 10). */
size_t pb_varint_len(uint64_t v);
/* Raw varint, no tag. */
void pb_enc__varint(struct pb_enc *e, uint64_t v);
void pb_enc__tag(struct pb_enc *e, uint32_t field, enum pb_wire_type wt);

/* Scalar fields: written even when 0 (the caller skips proto3 defaults). */
void pb_enc__uint64(struct pb_enc *e, uint32_t field, uint64_t v);
/* int64 is two's complement: a negative value takes 10 bytes. */
void pb_enc__int64(struct pb_enc *e, uint32_t field, int64_t v);
void pb_enc__bool(struct pb_enc *e, uint32_t field, bool v);

void pb_enc__bytes(struct pb_enc *e, uint32_t field, const void *data, size_t len);
/* NULL is written as "" (a repeated string keeps its position). */
void pb_enc__string(struct pb_enc *e, uint32_t field, const char *s);

/* Packed repeated fields; nothing at all is written for n == 0. */
void pb_enc__packed_uint64(struct pb_enc *e, uint32_t field, const uint64_t *v, size_t n);
void pb_enc__packed_int64(struct pb_enc *e, uint32_t field, const int64_t *v, size_t n);

/*
 * An embedded message: begin writes the tag and returns a mark; the fields
 * of the message follow; end puts the length in front of them. Messages nest.
 */
size_t pb_enc__begin(struct pb_enc *e, uint32_t field);
void pb_enc__end(struct pb_enc *e, size_t mark);

#endif /* MEMTRACE_PROTOBUF_H */
