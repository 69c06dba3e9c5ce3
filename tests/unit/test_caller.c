/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who asked for the memory: frames of the allocator and of the C, C++ and
 * Rust runtimes are skipped (and CPython's own C code above Python frames),
 * the program's frames are not. Names as memtrace
 * prints them for a Rust release build (both manglings), for C++ built with
 * gcc, and for C.
 */
#include <stdio.h>
#include "report/caller.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct frame_case {
	const char *function;
	const char *module;
	bool runtime;
};

static const struct frame_case cases[] = {
	/* Rust: std's allocation path, legacy and v0 names */
	{ "alloc::alloc::alloc", "/t/rust_leak", true },
	{ "alloc::alloc::Global::alloc_impl", "/t/rust_leak", true },
	{ "<alloc::alloc::Global as core::alloc::Allocator>::allocate", "/t/rust_leak", true },
	{ "alloc::raw_vec::RawVec<T,A>::grow_one", "/t/rust_leak", true },
	{ "<alloc::raw_vec::RawVec<u64>>::grow_one", "/t/rust_leak_v0", true },
	{ "alloc::raw_vec::finish_grow", "/t/rust_leak", true },
	{ "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem", "/t/rust_leak", true },
	{ "<T as alloc::vec::spec_from_elem::SpecFromElem>::from_elem", "/t/rust_leak", true },
	{ "<alloc::vec::Vec<T,A> as core::clone::Clone>::clone", "/t/rust_leak", true },
	{ "std::collections::hash::map::HashMap<K,V,S>::insert", "/t/rust_leak", true },
	{ "hashbrown::raw::RawTable<T,A>::reserve_rehash", "/t/rust_leak", true },
	{ "__rust_alloc", "/t/rust_leak", true },
	{ "__rdl_alloc", "/t/rust_leak", true },
	{ "__rg_alloc", "/t/rust_leak", true },
	{ "_rjem_malloc", "/t/rust_leak_jemalloc", true },
	{ "mi_malloc_aligned", "/t/rust_leak_mimalloc", true },
	{ "_mi_heap_malloc_zero", "/t/rust_leak_mimalloc", true },
	/* Rust: the program's own */
	{ "rust_leak::make_session", "/t/rust_leak", false },
	{ "<rust_leak::Session as core::clone::Clone>::clone", "/t/rust_leak", false },
	{ "<rust_leak::Index>::grow", "/t/rust_leak_v0", false },
	{ "rust_leak::main::{{closure}}", "/t/rust_leak", false },
	/* C++ (gcc, libstdc++) */
	{ "operator new(unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", true },
	{ "operator new(unsigned long)", "/t/static_cxx", true },
	{ "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>"
	  "(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)",
	  "/t/cxx", true },
	{ "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::"
	  "_M_mutate(unsigned long, unsigned long, char const*, unsigned long)", "/t/cxx", true },
	{ "__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)", "/t/cxx", true },
	{ "std::vector<int, std::allocator<int> >::push_back(int const&)", "/t/cxx", false },
	{ "Cache::insert(std::__cxx11::basic_string<char, std::char_traits<char>, "
	  "std::allocator<char> > const&)", "/t/cxx", false },
	/* C */
	{ "malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6", true },
	{ "__libc_malloc", "/t/static", true },
	{ "_IO_file_doallocate", "/t/static", true },
	{ "je_malloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", true },
	{ "core_dump", "/t/c", false },
	{ "stdio_buffer", "/t/c", false },
	{ "main", "/t/c", false },
	{ NULL, "/t/c", false },
};

int main(void)
{
	struct mt_frame frames[4] = {
		{ .function = "malloc", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ .function = "__rust_alloc", .module = "/t/rust_leak" },
		{ .function = "alloc::raw_vec::finish_grow", .module = "/t/rust_leak" },
		{ .function = "rust_leak::make_session", .module = "/t/rust_leak" },
	};
	struct mt_stack_report st = { .frames = frames, .nr_frames = 4 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mt_frame f = { .function = (char *)cases[i].function,
				      .module = (char *)cases[i].module };
		bool got = frame_is_runtime(&f);

		CHECK(got == cases[i].runtime, "%s in %s: %s", cases[i].function ? cases[i].function :
		      "(unresolved)", cases[i].module, cases[i].runtime ? "runtime" : "the program's");
	}
	CHECK(stack_caller(&st) == &frames[3], "a Rust stack is named after rust_leak::make_session");
	st.nr_frames = 3;
	CHECK(stack_caller(&st) == &frames[0], "all the runtime's: the innermost frame");
	st.nr_frames = 0;
	CHECK(stack_caller(&st) == NULL, "no frames: none");
	{
		struct mt_frame py[4] = {
			{ .function = "_PyObject_GC_New", .module = "/usr/bin/python3.11" },
			{ .function = "PyList_New", .module = "/usr/lib/libpython3.12.so.1.0" },
			{ .function = "make_record", .file = "/srv/app.py", .line = 38, .python = true },
			{ .function = "main", .file = "/srv/app.py", .line = 110, .python = true },
		};
		struct mt_frame ext[2] = {
			{ .function = "native_block", .module = "/srv/_mtext.so" },
			{ .function = "use_native", .file = "/srv/app.py", .line = 20, .python = true },
		};
		struct mt_stack_report ps = { .frames = py, .nr_frames = 4 };
		struct mt_stack_report es = { .frames = ext, .nr_frames = 2 };

		CHECK(stack_caller(&ps) == &py[2],
		      "a Python stack is named after its innermost Python frame, not CPython's C code");
		ps.nr_frames = 2;
		CHECK(stack_caller(&ps) == &py[0], "CPython's C code without Python frames: its own");
		CHECK(stack_caller(&es) == &ext[0], "a C extension's frame is the program's");
	}
	return unit_exit();
}
