/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Source lines and inlined calls of an ELF file's code, read from its DWARF
 * (or from its separate debug file's). One address gives a chain of frames,
 * innermost first: the functions inlined at that address, then the function
 * that holds it. Files come from any process on the machine, so every size
 * and count read from them is bounded.
 */
#ifndef MEMTRACE_DWARF_LINES_H
#define MEMTRACE_DWARF_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Inlined calls kept for one address; deeper nests lose their middle levels. */
#define DWARF_LINES_MAX_INLINE	16

struct dwarf_lines;

struct dwarf_frame {
	const char *function;	/* C++ and Rust names demangled; NULL if DWARF names none */
	const char *mangled;	/* the linkage name, else the name; NULL when none */
	const char *file;	/* source file; NULL when unknown */
	int line;		/* 0 when unknown */
	bool inlined;		/* false for the last frame, the function holding the pc */
};

struct dwarf_lines_opts {
	/*
	 * A separate debug file already found for this file (elf_file's), or
	 * NULL: opened as debug_file__open(debug_root, debug_path) does, and
	 * named debug_shown.
	 */
	const char *debug_path;
	const char *debug_root;
	const char *debug_shown;
	/* Root under which debug files are looked up first (e.g. /proc/PID/root), or NULL. */
	const char *sysroot;
	/* Build-id (lowercase hex) the file must have; NULL or "" for no check. */
	const char *build_id;
};

/*
 * Open the DWARF of the ELF file at path: its own when it has .debug_info,
 * else that of its separate debug file (opts->debug_path, then by build-id
 * and .gnu_debuglink), which has the same address layout. Returns 0,
 * -ENODATA when neither has DWARF, -ESTALE when the build-id differs from
 * opts->build_id, or another -errno.
 */
int dwarf_lines__open(const char *path, const struct dwarf_lines_opts *opts,
		      struct dwarf_lines **out);
void dwarf_lines__free(struct dwarf_lines *dl);

/* The file whose DWARF is read: path itself or its debug file. */
const char *dwarf_lines__dwarf_path(const struct dwarf_lines *dl);

/*
 * The frames of ELF virtual address vaddr (for a return address, that of
 * the call: ip - 1). *frames stays valid until the next lookup on dl; the
 * strings in it until dwarf_lines__free. Returns 0 with *nr >= 1, or
 * -ENOENT when no DWARF covers vaddr.
 */
int dwarf_lines__lookup(struct dwarf_lines *dl, uint64_t vaddr, const struct dwarf_frame **frames,
			size_t *nr);

#endif
