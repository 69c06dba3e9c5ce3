/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pymalloc inlined into its callers. A link-time optimized interpreter
 * (Debian's and Ubuntu's python3, --with-lto builds) turns each
 * PyObject_Malloc(n) into "if (_PyObject.malloc == _PyObject_Malloc)
 * { pymalloc's fast path, inline } else _PyObject.malloc(ctx, n)": the
 * exported PyObject_Malloc then sees a fraction of the allocations. Each
 * such place compares the allocator's function pointer with pymalloc's
 * own function (cmp $fn, %reg; jcc), and its other branch calls the
 * pointer with the allocation's arguments: the probe goes on the jcc
 * (emulated), and the arguments are where that call takes them from
 * (rsi, rdx: the function's ctx is rdi), found by following that branch.
 */
#ifndef MEMTRACE_PY_SITE_H
#define MEMTRACE_PY_SITE_H

#include <stddef.h>
#include <stdint.h>

/* The interpreter's code: its executable segment, as the file has it. */
struct py_code_image {
	const uint8_t *bytes;
	size_t len;
	uint64_t vaddr;		/* of bytes[0] */
};

/* pymalloc's own functions (file addresses; 0: not found). */
struct py_pymalloc {
	uint64_t alloc, calloc, realloc, free;	/* _PyObject_Malloc, ... (ctx first) */
	uint64_t refill;	/* allocate_from_new_pool(size class) */
	uint64_t usedpools;	/* usedpools[] */
};

struct py_inline_site {
	uint64_t vaddr;		/* the jcc */
	uint8_t kind;		/* MT_PY_SITE_ALLOC, _FREE, _REALLOC */
	uint8_t reg, reg2;	/* X86_* or MT_PY_REG_CONST */
	int64_t add;
};

/*
 * The function pointer an exported entry point (PyObject_Malloc at entry)
 * compares the allocator's with, when it inlines pymalloc: *fn, or 0 when
 * it calls the pointer without a comparison (nothing inlined there).
 */
int py_site__compared_fn(const struct py_code_image *img, uint64_t entry, uint64_t *fn);

/*
 * The slot an entry point calls through without a comparison (jmp or call
 * *slot(%rip), as PyObject_Calloc does when calloc is not inlined): *slot,
 * or 0. The slot's value in the file is the function when the file is not
 * relocated at load (a non-PIE executable).
 */
int py_site__called_slot(const struct py_code_image *img, uint64_t entry, uint64_t *slot);

/* usedpools and allocate_from_new_pool, from _PyObject_Malloc's code. 0 or -ENOENT. */
int py_site__pymalloc_internals(const struct py_code_image *img, struct py_pymalloc *pm);

/*
 * Every inlined allocation (cmp with pm->alloc), free (pm->free) and
 * reallocation (pm->realloc) in the code, with where its arguments are.
 * *unresolved counts the comparisons whose arguments were not found (no
 * probe there: those allocations go unseen). out is malloc'ed.
 */
int py_site__find(const struct py_code_image *img, const struct py_pymalloc *pm,
		  struct py_inline_site **out, size_t *nr, size_t *unresolved);

#endif
