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
#include "procmaps.h"

struct symbolizer;

struct sym_frame {
	const char *function;	/* demangled; NULL when unresolved. Owned by the symbolizer. */
	const char *module;	/* path as mapped; NULL when no mapping covers the pc */
	uint64_t offset;	/* module-relative address: ELF vaddr of the pc looked up */
	const char *mangled;	/* the symbol as in the symbol table; NULL when unresolved */
	const char *build_id;	/* the module's build-id in hex; NULL when unknown */
};

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

#endif
