/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Python process's call stacks as a Python developer reads them: the
 * Python frames the BPF side read (bpf/python.bpf.h) stand in place of the
 * interpreter's C frames, and native frames of other code (a C
 * extension's, libc's) stay where they are.
 */
#ifndef MEMTRACE_PY_FRAMES_H
#define MEMTRACE_PY_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "report/report.h"
#include "symbols/symbolize.h"
#include "target/target.h"

struct py_frames_ctx {
	const struct target *t;
	struct symbolizer *sym;
	uint64_t bias;		/* the interpreter file's load bias in the process */
	bool keep_interpreter;	/* keep the interpreter's own C frames too */
};

/*
 * sr's frames from st: each _PyEval_EvalFrameDefault frame becomes the
 * Python frames its call ran (innermost first, up to the frame that call
 * entered with); the interpreter's other C frames are left out when st
 * has Python frames (unless keep_interpreter); Python frames the native
 * walk did not reach go after the interpreter's last frame. unresolved
 * counts frames without a name. 0 or -ENOMEM.
 */
int py_frames__fill(struct mt_stack_report *sr, const struct mt_stack *st,
		    const struct py_frames_ctx *c, uint64_t *unresolved);

/* Whether two stacks read the same: the same frames, the same allocator. */
bool py_frames__same(const struct mt_stack_report *a, const struct mt_stack_report *b);

/* A hash of what py_frames__same compares. */
uint64_t py_frames__hash(const struct mt_stack_report *s);

/*
 * Stacks that read the same, one: the figures summed (the oldest block's
 * age the oldest), frames kept once, the others' freed. Returns how many
 * stacks are left, in stacks[0..n) in their first order.
 */
size_t py_frames__merge(struct mt_stack_report *stacks, size_t n);

#endif
