/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python code objects named as soon as a stack with them is first stored:
 * a thread of its own takes the BPF side's events (struct
 * mt_py_stack_event) and reads the code objects while they still exist
 * (symbolizer__py_seen). A module's top-level code is freed once the
 * module is imported: read later, its address may hold another.
 */
#ifndef MEMTRACE_PY_NAMER_H
#define MEMTRACE_PY_NAMER_H

#include <stdint.h>
#include "probe/loader.h"
#include "symbols/py_layout.h"
#include "symbols/symbolize.h"

struct py_namer;

/* Start taking the events of loader l (which must have its Python programs). */
int py_namer__start(struct loader *l, struct symbolizer *sym, struct py_namer **out);
/* Process pid runs interpreter py (owned by the caller, kept until removed). */
int py_namer__add(struct py_namer *n, uint32_t pid, const struct py_interp *py);
void py_namer__remove(struct py_namer *n, uint32_t pid);
/* Return once every event sent so far has been taken (a command about to exit). */
void py_namer__sync(struct py_namer *n);
/* Take what is left, stop the thread, free; NULL-safe. */
void py_namer__stop(struct py_namer *n);

#endif
