/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* C++ names as a programmer reads them, from the symbol tables and DWARF alike. */
#ifndef MEMTRACE_DEMANGLE_H
#define MEMTRACE_DEMANGLE_H

/* Demangle a C++ (Itanium ABI) name into a new string; returns NULL if name
 * is not mangled. The caller frees. */
char *mt_demangle(const char *name);

#endif
