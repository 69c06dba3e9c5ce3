/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function names and addresses from a Go binary's .gopclntab, which stays
 * when the binary is stripped (go build -ldflags=-s, strip): what lets
 * memtrace find runtime.mallocgc and name frames without a symbol table.
 * Formats of Go 1.18 and later (magic 0xfffffff0 and 0xfffffff1). From Go
 * 1.26 the table's header no longer holds the text's start (it would need a
 * relocation): the module's moduledata, in .go.module, does.
 */
#ifndef MEMTRACE_GO_PCLNTAB_H
#define MEMTRACE_GO_PCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int (*go_func_fn)(void *ctx, uint64_t addr, uint64_t size, const char *name, size_t name_len);

/* Whether a section of that name holds the table: ".gopclntab", or in a PIE,
 * whose linker puts it among the relocated read-only data,
 * ".data.rel.ro.gopclntab" (the only one a stripped PIE has). */
bool go_pclntab__section_name(const char *name);

/* Calls fn for each function. Returns 0, -ENOEXEC for data it does not
 * understand (every offset is checked), or what fn returned if not 0. */
int go_pclntab__parse(const uint8_t *data, size_t len, go_func_fn fn, void *ctx);
/*
 * The same, text being the module's text start (go_pclntab__module_text)
 * for a table whose header holds none (Go 1.26+); 0 when not known: such a
 * table is then -ENOEXEC.
 */
int go_pclntab__parse_at(const uint8_t *data, size_t len, uint64_t text, go_func_fn fn,
			 void *ctx);
/*
 * The text start in a .go.module section (runtime.firstmoduledata), which
 * must name the table at pclntab_vaddr. 0 or -ENOEXEC.
 */
int go_pclntab__module_text(const uint8_t *module, size_t len, uint64_t pclntab_vaddr,
			    uint64_t *text);

#endif
