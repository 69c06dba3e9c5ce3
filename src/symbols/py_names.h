/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python frames named: a code object, read from the process's memory
 * (process_vm_readv: never a write, never a stop), gives the function
 * (co_qualname), the file (co_filename) and, with the frame's instruction,
 * the line (co_linetable, the 3.11+ location table).
 *
 * A code object can be freed and its address taken by another (a
 * module's top-level code, once imported). So each is known by its
 * address and what it held when a stack with it was first stored (struct
 * mt_py_code_ref, sent by the BPF side while the frame still ran it): it
 * is read then, and a stack's frames are named from what was read for
 * them. Everything read is kept, so that a process that has exited still
 * has its frames named. Safe to use from two threads.
 */
#ifndef MEMTRACE_PY_NAMES_H
#define MEMTRACE_PY_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "symbols/py_layout.h"

struct py_names;

struct py_frame_name {
	const char *function;	/* co_qualname; NULL: no code object could be read there */
	const char *file;	/* co_filename; NULL when unknown */
	int line;		/* 0: unknown, or code that has no line */
};

struct py_names *py_names__new(void);
void py_names__free(struct py_names *n);

/*
 * A new stack's frames (refs[0..nr)) of process pid, whose interpreter in
 * is loaded with bias: each code object is read now, unless read before.
 * One whose address holds another code object already is named from the
 * strings it held, without a line.
 */
int py_names__seen(struct py_names *n, uint32_t pid, const struct py_interp *in, uint64_t bias,
		   const struct mt_py_code_ref *refs, uint32_t nr);

/*
 * Name frame idx of a stack's Python frames py[0..nr) of process pid: from
 * what was read when the stack was seen; or, for a stack never seen, from
 * what is at the code object's address now. The strings stay valid until
 * py_names__forget or py_names__free. 0, or -ENOENT (out->function NULL).
 */
int py_names__resolve(struct py_names *n, uint32_t pid, const struct py_interp *in,
		      uint64_t bias, const uint64_t *py, uint32_t nr, uint32_t idx,
		      struct py_frame_name *out);

/* Drop what was read of process pid (it is gone for good, or exec'd). */
void py_names__forget(struct py_names *n, uint32_t pid);

/*
 * The line of the instruction at byte offset addr of a code object's
 * bytecode, from its location table (3.11+, Objects/locations.md): 0 when
 * that instruction has none. Pure, for the tests.
 */
int py_names__addr2line(const uint8_t *table, size_t len, int firstlineno, int addr);

#endif
