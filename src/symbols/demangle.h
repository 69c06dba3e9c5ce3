/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* C++ and Rust names as a programmer reads them, from the symbol tables and DWARF alike. */
#ifndef MEMTRACE_DEMANGLE_H
#define MEMTRACE_DEMANGLE_H

#include <stdbool.h>

/* The name could be a mangled C++ (_Z) or Rust (_R, _ZN) one: worth mt_demangle. */
bool mt_maybe_mangled(const char *name);

/* Demangle a C++ (Itanium ABI) or Rust (v0 or legacy) name into a new string,
 * Rust without its hash; returns NULL if name is not mangled. The caller frees. */
char *mt_demangle(const char *name);

#endif
