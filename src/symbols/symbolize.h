/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turns user-space return addresses into frames, through a process's
 * mappings captured while it lived. ELF files are cached by (dev, inode)
 * across processes, and opened through /proc/PID/root so that processes in
 * other mount namespaces (containers) resolve against their own files.
 */
#ifndef MEMTRACE_SYMBOLIZE_H
#define MEMTRACE_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include "util/procmaps.h"

struct symbolizer;

struct sym_frame {
	const char *function;	/* demangled; NULL when unresolved. Owned by the symbolizer. */
	const char *module;	/* path as mapped; NULL when no mapping covers the pc */
	uint64_t offset;	/* module-relative address: ELF vaddr of the pc looked up */
	const char *mangled;	/* the symbol as in the symbol table; NULL when unresolved */
	const char *build_id;	/* the module's build-id in hex; NULL when unknown */
	const char *file;	/* source file, from DWARF; NULL when unknown. Owned by the symbolizer. */
	int line;		/* 0 when unknown */
	bool inlined;		/* a function inlined into the next frame out */
	bool python;		/* a Python frame: function, file and line of its code object */
};

/* Frames one return address can expand to: inlined calls, then their holder. */
#define SYM_MAX_INLINE_FRAMES	17

struct symbolizer *symbolizer__new(void);
void symbolizer__free(struct symbolizer *s);

/* Resolve one return address ip of process maps->pid. A return address
 * points after the call, so ip - 1 is looked up (perf does the same); the
 * reported offset is that of ip - 1. Files are opened as
 * /proc/<pid>/root/<path> first, then <path> (for an exited process).
 * Returns 0 when a function was found, -ENOENT when not (frame still filled
 * with module/offset when a mapping covers it). */
int symbolizer__resolve(struct symbolizer *s, const struct proc_maps *maps, uint64_t ip,
			struct sym_frame *out);

/*
 * Resolve ip as symbolizer__resolve does, and expand it into the functions
 * inlined at that address, from the module's DWARF (or its separate debug
 * file's): out[0..*nr) innermost first, the inlined frames (inlined set,
 * named from DWARF), then the function holding them, as symbolizer__resolve
 * names it. Each has the source file and line reached in it: the pc's for
 * out[0], the call site of the frame before it for the others. Without DWARF
 * *nr is 1 and out[0] is what symbolizer__resolve gives. All frames share
 * module, offset and build_id. Deeper chains than max keep their innermost
 * max - 1 inlined frames. Returns what symbolizer__resolve returns for the
 * holding function (-EINVAL when max is 0).
 */
int symbolizer__resolve_inlines(struct symbolizer *s, const struct proc_maps *maps, uint64_t ip,
				struct sym_frame *out, size_t max, size_t *nr);

struct py_interp;
struct mt_py_code_ref;
/*
 * Name frame idx of a stack's Python frames (frames[0..nr), MT_PY_FRAME)
 * of process pid, whose interpreter py is loaded with bias: co_qualname,
 * co_filename and the line of its instruction, read from the process's
 * memory (py_names.h). -ENOENT when it cannot be named (out->function NULL).
 */
int symbolizer__resolve_py(struct symbolizer *s, uint32_t pid, const struct py_interp *py,
			   uint64_t bias, const uint64_t *frames, uint32_t nr, uint32_t idx,
			   struct sym_frame *out);
/*
 * A new stack's Python frames, with what their code objects were then
 * (bpf/python.bpf.h): read now. Safe to call from another thread than the
 * other calls of this file (only the Python names are shared).
 */
int symbolizer__py_seen(struct symbolizer *s, uint32_t pid, const struct py_interp *py,
			uint64_t bias, const struct mt_py_code_ref *refs, uint32_t nr);
/* Drop what was kept of process pid's memory (its Python code objects): it is gone. */
void symbolizer__forget_pid(struct symbolizer *s, uint32_t pid);

#endif
