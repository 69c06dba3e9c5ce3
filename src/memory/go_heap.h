/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Go program's own heap figures, read from its memory without stopping
 * it: runtime.ReadMemStats (Go 1.19-1.27) takes HeapInuse, HeapReleased and
 * HeapIdle - HeapReleased from three words of runtime.gcController
 * (heapInUse, heapReleased, heapFree), and runtime/metrics'
 * /gc/heap/live:bytes, the heap marked live by the last GC, is its
 * heapMarked. Their address comes from the symbol table, DWARF or the
 * code, their offsets from DWARF or a table per Go release. Nothing is
 * ever written into the process.
 */
#ifndef MEMTRACE_GO_HEAP_H
#define MEMTRACE_GO_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GO_HEAP_VERSION_MAX 48
#define GO_HEAP_NOTE_MAX 200

/* Where runtime.gcController's three words sit in the file's address space. */
struct go_heap_layout {
	char version[GO_HEAP_VERSION_MAX];	/* "go1.19.8", from .go.buildinfo */
	uint64_t addr;		/* of runtime.gcController, link-time address */
	uint32_t off_inuse;
	uint32_t off_released;
	uint32_t off_free;
	uint32_t off_marked;	/* heapMarked */
	const char *source;	/* "dwarf" or "table": where the offsets came from */
	const char *addr_source;	/* "symtab", "dwarf" or "code" (stripped: from
					 * runtime.readmemstats_m's operands) */
};

struct go_heap_figures {
	uint64_t inuse;		/* HeapInuse */
	uint64_t free;		/* HeapIdle - HeapReleased */
	uint64_t released;	/* HeapReleased */
	uint64_t live;		/* /gc/heap/live:bytes: marked by the last GC */
};

/* The pure parts, apart for tests. */

/*
 * The Go version recorded in a .go.buildinfo section (Go 1.18+: inline
 * strings, flag bit 2). Returns 0 or -ENOEXEC.
 */
int go_heap__parse_buildinfo(const uint8_t *data, size_t len, char *ver, size_t ver_len);
/*
 * Offsets of heapInUse, heapReleased, heapFree and heapMarked in
 * runtime.gcControllerState for a released version ("go1.19",
 * "go1.26.8"), into lo. -ENOENT for a version the table does not know (a
 * release candidate or a devel build included).
 */
int go_heap__table_offsets(const char *version, struct go_heap_layout *lo);
/*
 * Whether the figures can be Go's: page-aligned, together no more than the
 * heap arenas' mapped bytes, the live heap within the heap in use. 0 or
 * -ERANGE with why filled.
 */
int go_heap__check(const struct go_heap_figures *f, uint64_t arena_mapped,
		   char *why, size_t why_len);

/*
 * The one base B such that B + each of the layout's three offsets is among
 * the addresses a function's rip-relative operands name (what a binary
 * without symbols still says about runtime.gcController). 0, or -ENOENT
 * when none or more than one fits.
 */
int go_heap__find_base(const uint64_t *targets, size_t n, const struct go_heap_layout *lo,
		       uint64_t *base);

/* Reads len bytes of the target at addr into buf: 0 or -errno. */
typedef int (*go_heap_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
/* The go_heap_read_fn of a live process: ctx points to its pid_t (process_vm_readv). */
int go_heap__pid_read(void *ctx, uint64_t addr, void *buf, size_t len);
/*
 * The four words at base + the layout's offsets, read until two reads in a
 * row agree (the runtime updates them without a lock memtrace could take).
 * -EAGAIN when they kept changing, or what read returned.
 */
int go_heap__read_stable(go_heap_read_fn read, void *ctx, uint64_t base,
			 const struct go_heap_layout *lo, struct go_heap_figures *f);

/* The I/O parts. */

struct Elf;
/* A data object's address and size from the ELF's .symtab: 0 or -ENOENT. */
int go_heap__symtab_addr(struct Elf *elf, const char *want, uint64_t *addr, uint64_t *size);
/*
 * The addresses a function's rip-relative operands name, the function found
 * by name in .gopclntab (what a binary without symbols still says about the
 * runtime's variables). *targets is malloc'ed. 0, -ENOENT or -ENOMEM.
 */
int go_heap__func_targets(struct Elf *elf, const char *func, uint64_t **targets, size_t *n);
/*
 * Call fn (go_pclntab.h's go_func_fn) for each function in .gopclntab:
 * 0, -ENOENT without a table, or what fn returned if not 0.
 */
int go_heap__for_each_func(struct Elf *elf, int (*fn)(void *ctx, uint64_t addr, uint64_t size,
						       const char *name, size_t name_len),
			   void *ctx);
/* The Go version in the executable's .go.buildinfo: 0, -ENOENT or -ENOEXEC. */
int go_heap__version(struct Elf *elf, char *ver, size_t ver_len);
/* A section's bytes (decompressed): 0 or -ENOENT. */
int go_heap__section(struct Elf *elf, const char *name, const uint8_t **data, size_t *len);
struct elf_handle;
/*
 * Open a Go executable for a reader, and allocate the reader (size bytes,
 * zeroed) in *obj. On failure note says why and nothing is left open.
 */
int go_heap__open_exe(const char *path, struct elf_handle *h, size_t size, void **obj,
		      char *note, size_t note_len);

/* Where a Go executable sits: a PIE's link-time addresses move by a bias. */
struct go_exe_base {
	bool pie;
	uint64_t first_vaddr;	/* of the PT_LOAD at file offset 0, page-aligned */
};
void go_heap__exe_base(const struct elf_handle *h, struct go_exe_base *b);
struct proc_maps;
/*
 * What to add to the file's addresses in this process: 0 for a fixed-address
 * executable; for a PIE one, from where maps shows path's first segment.
 * 0 or -ENOENT.
 */
int go_heap__base_bias(const struct go_exe_base *b, const struct proc_maps *maps,
		       const char *path, uint64_t *bias);

struct go_heap;

/*
 * Find the layout in the executable at path. Returns 0, or -errno with note
 * saying why the figures cannot be read (no symbol, unknown version, ...).
 */
int go_heap__open(const char *path, struct go_heap **out, char *note, size_t note_len);
void go_heap__free(struct go_heap *gh);
const struct go_heap_layout *go_heap__layout(const struct go_heap *gh);
/* go_heap__base_bias for the executable gh was opened on. */
int go_heap__bias(const struct go_heap *gh, const struct proc_maps *maps, const char *path,
		  uint64_t *bias);
/*
 * Read pid's figures, bias added to the link-time address, and check them
 * against arena_mapped. 0 or -errno with note filled.
 */
int go_heap__read(const struct go_heap *gh, pid_t pid, uint64_t bias, uint64_t arena_mapped,
		  struct go_heap_figures *f, char *note, size_t note_len);

#endif
