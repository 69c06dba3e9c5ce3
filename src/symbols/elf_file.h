/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What memtrace needs from an ELF object: its function symbols (from .symtab,
 * .dynsym and a separate debug file found by build-id or .gnu_debuglink), the
 * translation between file offsets and virtual addresses, and its build-id.
 * Everything read from the file is bounds-checked: files come from any
 * process on the machine, including containers.
 */
#ifndef MEMTRACE_ELF_FILE_H
#define MEMTRACE_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	uint64_t addr;		/* st_value (virtual address in the file's own layout) */
	uint64_t size;
	const char *name;	/* mangled, as in the symbol table */
	bool global;		/* STB_GLOBAL or STB_WEAK */
	bool dynamic;		/* came from .dynsym */
};

struct elf_file_opts {
	/* Root under which debug files are looked up first (e.g. /proc/PID/root);
	 * NULL or "" means only the host's /usr/lib/debug. */
	const char *sysroot;
	/* Do not look for separate debug files at all. */
	bool no_debug_files;
	/* The file's path as it is named where it lives, when it is opened by
	 * another name (/proc/PID/map_files/...): .gnu_debuglink files are looked
	 * for in its directory (under sysroot). NULL: the path opened. */
	const char *origin_path;
};

/* Open path and load its symbols. Returns 0 or -errno (-ENOEXEC: not a usable ELF). */
int elf_file__open(const char *path, const struct elf_file_opts *opts, struct elf_file **out);
void elf_file__free(struct elf_file *ef);

/* ET_EXEC or ET_DYN, and whether it has a PT_INTERP (dynamically linked). */
bool elf_file__is_dynamic(const struct elf_file *ef);
bool elf_file__is_pie_or_dso(const struct elf_file *ef);	/* ET_DYN */
/* A Go program: it has Go's build info or pclntab section (even when stripped). */
bool elf_file__is_go(const struct elf_file *ef);
/* Build-id as lowercase hex, "" when the file has none. */
const char *elf_file__build_id(const struct elf_file *ef);
/* Path of the separate debug file used, or NULL. */
const char *elf_file__debug_path(const struct elf_file *ef);
/* The same file as debug_file__open(*root, returned path) reaches it, or NULL. */
const char *elf_file__debug_location(const struct elf_file *ef, const char **root);
size_t elf_file__nr_syms(const struct elf_file *ef);
/* The i-th function symbol by address (i < elf_file__nr_syms), one per address. */
const struct elf_sym *elf_file__sym_at(const struct elf_file *ef, size_t i);

/* File offset -> virtual address through PT_LOAD headers; -ERANGE if no segment covers it. */
int elf_file__offset_to_vaddr(const struct elf_file *ef, uint64_t off, uint64_t *vaddr);
int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *off);
/*
 * The virtual address of an executable mapping's first byte, the mapping
 * made at file offset pgoff: through the executable PT_LOAD whose pages
 * hold it, else as elf_file__offset_to_vaddr.
 */
int elf_file__code_mapping_vaddr(const struct elf_file *ef, uint64_t pgoff, uint64_t *vaddr);

/* The function symbol covering vaddr (size 0 symbols cover up to the next one),
 * or NULL. *sym_off gets vaddr - sym->addr. O(log n). */
const struct elf_sym *elf_file__lookup(const struct elf_file *ef, uint64_t vaddr, uint64_t *sym_off);

/* A defined function symbol by exact name. When dynamic_only, only .dynsym is
 * searched (what the dynamic linker can bind to). NULL if absent. */
const struct elf_sym *elf_file__find_func(const struct elf_file *ef, const char *name, bool dynamic_only);

/* Copy len bytes of the file at offset off. Returns 0 or -errno (-ERANGE past the end). */
int elf_file__read(const struct elf_file *ef, uint64_t off, void *buf, size_t len);

#endif
