/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <string.h>
#include "report/caller.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Frames of the allocator and of the C, C++ and Rust runtimes say how
 * memory was asked for, not who asked: a stack is named after the first
 * frame that belongs to the program. Rust links its std into the program,
 * so there it is the crate path that tells (alloc::raw_vec::..., <core::...>,
 * std's hash map's hashbrown), and the allocator shims rustc emits
 * (__rust_alloc, __rdl_alloc, __rg_alloc).
 */
static const char *const runtime_modules[] = {
	"libc.so", "libstdc++.so", "libjemalloc", "libtcmalloc", "libmimalloc", "ld-linux",
};
static const char *const runtime_functions[] = {
	"operator new", "__libc_", "_IO_", "std::__", "__gnu_cxx::", "std::allocator",
	"__rust_", "__rdl_", "__rg_", "_rjem_", "mi_malloc", "mi_heap_", "_mi_",
};
static const char *const rust_crates[] = {
	"alloc::", "core::", "std::", "hashbrown::",
};

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static bool has_prefix(const char *s, const char *const *prefixes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* A demangled template function carries its return type first
 * ("void std::vector<int>::_M_realloc_insert<...>(...)"): skip it. */
static const char *qualified_name(const char *fn)
{
	const char *p, *start = fn;
	int depth = 0;

	for (p = fn; *p && !(*p == '(' && p != fn && depth == 0); p++) {
		if (*p == '<')
			depth++;
		else if (*p == '>' && depth)
			depth--;
		else if (*p == ' ' && !depth && strncmp(start, "operator", 8))
			start = p + 1;
	}
	return start;
}

/*
 * A Rust path of the standard crates: alloc::raw_vec::finish_grow,
 * <alloc::raw_vec::RawVec<u64>>::grow_one, and their traits' impls for
 * their own types, primitives or generics (<T as alloc::vec::spec_from_elem::
 * SpecFromElem>::from_elem); the program's own impl of one of their traits
 * (<rust_leak::Session as core::clone::Clone>::clone) is the program's. A
 * C++ name in std:: that is not libstdc++'s internals (std::vector<int>::
 * push_back(int const&)) is the program's call, and C++ names carry a
 * parameter list: Rust names (rustc's demangling, without the hash) do not.
 */
static bool rust_runtime(const char *fn)
{
	const char *p, *as = NULL;
	int depth = 0;

	if (strchr(fn, '('))
		return false;
	if (*fn != '<')
		return has_prefix(fn, rust_crates, ARRAY_SIZE(rust_crates));
	if (has_prefix(fn + 1, rust_crates, ARRAY_SIZE(rust_crates)))
		return true;
	/* <Self as Trait>::method: the trait at the outermost level. */
	for (p = fn; *p && !as; p++) {
		if (*p == '<')
			depth++;
		else if (*p == '>' && --depth == 0)
			return false;
		else if (depth == 1 && !strncmp(p, " as ", 4))
			as = p + 4;
	}
	if (!as || !has_prefix(as, rust_crates, ARRAY_SIZE(rust_crates)))
		return false;
	/* Self a path of the program's crates: the program's impl. */
	for (p = fn + 1; p < as - 4; p++)
		if (p[0] == ':' && p[1] == ':')
			return false;
	return true;
}

bool frame_is_runtime(const struct mt_frame *f)
{
	const char *mod = base_name(f->module), *q;

	if (mod && has_prefix(mod, runtime_modules, ARRAY_SIZE(runtime_modules)))
		return true;
	if (!f->function)
		return false;
	q = qualified_name(f->function);
	if (has_prefix(f->function, runtime_functions, ARRAY_SIZE(runtime_functions)) ||
	    has_prefix(q, runtime_functions, ARRAY_SIZE(runtime_functions)))
		return true;
	/* libstdc++'s container internals: std::vector<...>::_M_realloc_insert */
	if (!strncmp(q, "std::", 5) && strstr(q, "::_M_"))
		return true;
	return rust_runtime(f->function);
}

/*
 * CPython's own C code (its executable, python3.11, or libpython): in a
 * stack with Python frames, how an object was made (PyList_New,
 * _PyObject_GC_New), not who made it: the Python frame below says that. A
 * C extension's frames stay the program's.
 */
static bool interpreter_frame(const struct mt_frame *f)
{
	const char *mod = base_name(f->module);

	return !f->python && mod && (!strncmp(mod, "libpython", 9) || !strncmp(mod, "python", 6));
}

const struct mt_frame *stack_caller(const struct mt_stack_report *s)
{
	bool py = false;
	size_t i;

	for (i = 0; i < s->nr_frames && !py; i++)
		py = s->frames[i].python;
	for (i = 0; i < s->nr_frames; i++)
		if (!frame_is_runtime(&s->frames[i]) && !(py && interpreter_frame(&s->frames[i])))
			return &s->frames[i];
	return s->nr_frames ? &s->frames[0] : NULL;
}
