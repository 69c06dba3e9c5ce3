/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "symbols/demangle.h"

/* Longest name read, and longest name written (a longer one stays mangled). */
#define MAX_DEMANGLE_LEN	8192

struct capped_out {
	char buf[MAX_DEMANGLE_LEN];
	size_t len;
	bool full;
	jmp_buf stop;
};

static bool ascii_only(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * libiberty's v0 demangler follows back-references without bounding what
 * they expand to: a 250-byte symbol can stand for terabytes of name (a
 * tuple of two references to the tuple before it, forty times over), and it
 * has no way to stop early. Its work grows with what it prints (nesting
 * that prints nothing stops at 1024 levels), so the output is capped here
 * and a full buffer jumps out of the demangler, whose state is all on the
 * stack but for one piece: a punycode identifier, printed from a buffer it
 * then frees. That piece is the only one with non-ASCII bytes (its decoded
 * characters are all >= 0x80) and is never jumped out of; identifiers are
 * always followed by ASCII punctuation or the end, so the jump comes next.
 */
static void capped_append(const char *data, size_t len, void *opaque)
{
	struct capped_out *o = opaque;

	if (!len)	/* an empty identifier comes as (NULL, 0) */
		return;
	if (!o->full && len < sizeof(o->buf) - o->len) {
		memcpy(o->buf + o->len, data, len);
		o->len += len;
		return;
	}
	o->full = true;
	if (ascii_only(data, len))
		longjmp(o->stop, 1);
}

/*
 * Rust names, v0 (_R...) and legacy (_ZN...E, whose last component is
 * "h" and 16 hex digits), as rustfilt prints them: without the legacy
 * hash and v0's crate disambiguators (no DMGL_VERBOSE). NULL when the name
 * is not a Rust one, which for _ZN names means C++.
 */
static char *rust_demangle_bounded(const char *name)
{
	struct capped_out *o = malloc(sizeof(*o));
	char *res = NULL;

	if (!o)
		return NULL;
	o->len = 0;
	o->full = false;
	if (setjmp(o->stop))
		goto out;
	if (rust_demangle_callback(name, 0, capped_append, o) && !o->full)
		res = strndup(o->buf, o->len);
out:
	free(o);
	return res;
}

/*
 * C++ names as __cxa_demangle gives them (the same demangler, with its
 * options), but capped the same way: Itanium substitutions let a 300-byte
 * name stand for a gigabyte of template arguments, which __cxa_demangle
 * builds in memory (8 s and 850 MB for one symbol here). The callback form
 * keeps all its state on the stack, so jumping out of it leaks nothing.
 */
static char *cxx_demangle_bounded(const char *name)
{
	struct capped_out *o = malloc(sizeof(*o));
	char *res = NULL;

	if (!o)
		return NULL;
	o->len = 0;
	o->full = false;
	if (setjmp(o->stop))
		goto out;
	if (cplus_demangle_v3_callback(name, DMGL_PARAMS | DMGL_TYPES, capped_append, o) &&
	    !o->full)
		res = strndup(o->buf, o->len);
out:
	free(o);
	return res;
}

bool mt_maybe_mangled(const char *name)
{
	return name && name[0] == '_' && (name[1] == 'Z' || name[1] == 'R');
}

char *mt_demangle(const char *name)
{
	char *res;

	if (!mt_maybe_mangled(name))
		return NULL;
	/* Bound the demangler's work on names from untrusted files. */
	if (strnlen(name, MAX_DEMANGLE_LEN) >= MAX_DEMANGLE_LEN)
		return NULL;
	/*
	 * Legacy Rust names are Itanium nested names too, so Rust is tried
	 * first, as libiberty's cplus_demangle (and so c++filt and gdb) does:
	 * a _ZN name is Rust only if every component parses as Rust's and
	 * the last is "h" and 16 hex digits (5 of them distinct), with nothing
	 * after the closing "E" but a ".suffix". A C++ function always has
	 * its parameter types there, so only a C++ variable could look alike.
	 */
	if (name[1] == 'R' || name[2] == 'N') {
		res = rust_demangle_bounded(name);
		if (res || name[1] == 'R')
			return res;
	}
	return cxx_demangle_bounded(name);
}
