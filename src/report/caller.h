/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who asked for the memory: the first frame of a stack that belongs to the
 * program rather than to the allocator or a language runtime.
 */
#ifndef MEMTRACE_CALLER_H
#define MEMTRACE_CALLER_H

#include <stdbool.h>
#include "report/report.h"

/* A frame of the allocator or of the C, C++ or Rust runtime. */
bool frame_is_runtime(const struct mt_frame *f);

/*
 * The innermost frame that is not the runtime's (nor, in a stack with Python
 * frames, the interpreter's own C code); the innermost one when all are;
 * NULL when none.
 */
const struct mt_frame *stack_caller(const struct mt_stack_report *s);

#endif
