/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A CPython interpreter as memtrace reads it: which file holds it (the
 * executable, or libpython), its version (Py_Version), and where its
 * runtime keeps the threads, frames and code objects memtrace reads, per
 * version (3.11, 3.12, 3.13: from their sources; 3.13's own
 * _Py_DebugOffsets where the runtime has them). Everything is found from
 * .dynsym: a stripped interpreter will do.
 */
#ifndef MEMTRACE_PY_LAYOUT_H
#define MEMTRACE_PY_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"

/* What userspace reads of a code object and of the strings and bytes it points to. */
struct py_code_layout {
	uint16_t ob_type;	/* PyObject */
	uint16_t co_filename, co_name, co_qualname, co_linetable;
	uint16_t co_firstlineno;	/* an int */
	uint16_t co_code_adaptive;	/* the bytecode, from the code object's start */
	uint16_t bytes_size, bytes_sval;	/* PyBytesObject: ob_size, ob_sval */
	uint16_t str_length, str_state;	/* PyASCIIObject */
	uint16_t str_ascii_size, str_compact_size;	/* where a compact string's characters start */
};

struct py_interp {
	uint32_t hexversion;	/* Py_Version (PY_VERSION_HEX); 0 when unknown */
	char version[24];	/* "3.11.2"; "" when unknown */
	bool frames;		/* its layout is known: Python frames are read */
	const char *source;	/* static: "table" or "debug offsets" (3.13+) */
	char note[200];		/* why Python frames are not read, "" when they are */
	struct mt_py_layout bpf;	/* runtime and usedpools: file addresses */
	struct py_code_layout code;
	uint64_t code_type;	/* PyCode_Type's file address: a code object's ob_type */
	uint64_t str_type;	/* PyUnicode_Type's; 0 when unknown */
};

/*
 * Whether the ELF file at path holds a CPython interpreter (it defines
 * PyObject_Malloc and _PyRuntime), and its layout. -ENOENT when it holds
 * none; an interpreter of a version memtrace cannot read frames of is
 * returned with frames false and note saying why.
 */
int py_interp__open(const char *path, struct py_interp *out);

/* The layout of a release by PY_VERSION_HEX, from the table: 0 or -ENOENT. */
int py_interp__table(uint32_t hexversion, struct py_interp *out);

/*
 * The 3.13+ runtime's _Py_DebugOffsets (the first bytes of _PyRuntime, len
 * of them at data) over the table's: 0, or -EINVAL when they are not
 * there or do not fit (a note says why).
 */
int py_interp__debug_offsets(const uint8_t *data, size_t len, struct py_interp *out);

#endif
