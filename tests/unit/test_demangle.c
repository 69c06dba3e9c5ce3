/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names as their programmers read them: Rust symbols of both manglings
 * (taken from a release build of a small crate with rustc 1.95, once with
 * the default legacy mangling and once with -C symbol-mangling-version=v0)
 * come out as rustfilt prints them, without the hash; C++ names exactly as
 * libstdc++'s __cxa_demangle gives them, every one of libstdc++'s own; names
 * that only look like Rust stay what they are; truncated, mutated and
 * exploding inputs neither crash nor run away; and DWARF linkage names in
 * either Rust scheme read the same as the symbol table's.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "symbols/demangle.h"
#include "symbols/dwarf_lines.h"
#include "symbols/elf_file.h"
#include "unit.h"

#define LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
/* The cap on names (demangle.c's MAX_DEMANGLE_LEN). */
#define NAME_CAP 8192
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

struct name_case {
	const char *mangled;
	const char *want;	/* NULL: not demangled */
};

/* From the crate's two builds (symbol tables and DWARF linkage names). */
static const struct name_case rust_names[] = {
	/* legacy: a function, a generic impl, closures, a trait method, $u20$ and friends */
	{ "_ZN9rust_leak12make_session17h1d6cd1b410e2478fE", "rust_leak::make_session" },
	{ "_ZN67_$LT$alloc..vec..Vec$LT$T$C$A$GT$$u20$as$u20$core..clone..Clone$GT$5clone"
	  "17h3eade4b4a57277f1E",
	  "<alloc::vec::Vec<T,A> as core::clone::Clone>::clone" },
	{ "_ZN9rust_leak4main28_$u7b$$u7b$closure$u7d$$u7d$28_$u7b$$u7b$closure$u7d$$u7d$"
	  "17h6c4fac2073debaccE",
	  "rust_leak::main::{{closure}}::{{closure}}" },
	{ "_ZN78_$LT$rust_leak..Pool$LT$rust_leak..Session$GT$$u20$as$u20$rust_leak..Store"
	  "$GT$4keep17h9d354fa1399da2dfE",
	  "<rust_leak::Pool<rust_leak::Session> as rust_leak::Store>::keep" },
	{ "_ZN9rust_leak13Pool$LT$T$GT$8snapshot17h4a1fa2630fbe57d7E",
	  "rust_leak::Pool<T>::snapshot" },
	{ "_ZN87_$LT$T$u20$as$u20$alloc..slice..$LT$impl$u20$$u5b$T$u5d$$GT$..to_vec_in.."
	  "ConvertVec$GT$6to_vec17h222a8f94a2d4ee30E",
	  "<T as alloc::slice::<impl [T]>::to_vec_in::ConvertVec>::to_vec" },
	{ "_ZN4core3ptr151drop_in_place$LT$alloc..vec..Vec$LT$alloc..boxed..Box$LT$dyn$u20$"
	  "core..ops..function..Fn$LT$$LP$u64$C$$RP$$GT$$u2b$Output$u20$$u3d$$u20$u64$GT$$GT$"
	  "$GT$17hb7d5d0354573328eE",
	  "core::ptr::drop_in_place<alloc::vec::Vec<alloc::boxed::Box<dyn "
	  "core::ops::function::Fn<(u64,)>+Output = u64>>>" },
	{ "_ZN4core3ops8function6FnOnce40call_once$u7b$$u7b$vtable.shim$u7d$$u7d$"
	  "17h31b233383cf80a96E",
	  "core::ops::function::FnOnce::call_once{{vtable.shim}}" },
	/* LLVM's local-symbol suffix goes too */
	{ "_ZN9hashbrown3raw21RawTable$LT$T$C$A$GT$14reserve_rehash17h7dbc51a60beadb2cE"
	  ".llvm.14893253603420891255",
	  "hashbrown::raw::RawTable<T,A>::reserve_rehash" },
	/* v0: the same, with crate disambiguators and instantiating crates hidden */
	{ "_RNvCsaDboZstmE7A_9rust_leak12make_session", "rust_leak::make_session" },
	{ "_RNvXsa_NtCslNYArtu3iFV_5alloc3vecINtB5_3VecNtCsaDboZstmE7A_9rust_leak7SessionENtNt"
	  "CsgEmfK2I1SDS_4core5clone5Clone5cloneBH_",
	  "<alloc::vec::Vec<rust_leak::Session> as core::clone::Clone>::clone" },
	{ "_RNCNCNvCsaDboZstmE7A_9rust_leak4main00B5_",
	  "rust_leak::main::{closure#0}::{closure#0}" },
	{ "_RNvXCsaDboZstmE7A_9rust_leakINtB2_4PoolNtB2_7SessionENtB2_5Store4keep",
	  "<rust_leak::Pool<rust_leak::Session> as rust_leak::Store>::keep" },
	{ "_RNvMs_CsaDboZstmE7A_9rust_leakINtB4_4PoolNtB4_7SessionE8snapshotB4_",
	  "<rust_leak::Pool<rust_leak::Session>>::snapshot" },
	{ "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtCslNYArtu3iFV_5alloc5boxed3BoxDINt"
	  "NtNtB4_3ops8function2FnTyEEp6OutputyEL_EECsaDboZstmE7A_9rust_leak",
	  "core::ptr::drop_in_place::<alloc::boxed::Box<dyn core::ops::function::Fn<(u64,), "
	  "Output = u64>>>" },
	{ "_RNSNvYNCNCNvCsaDboZstmE7A_9rust_leak4main00INtNtNtCsgEmfK2I1SDS_4core3ops8function6"
	  "FnOnceTyEE9call_once6vtableBa_",
	  "<rust_leak::main::{closure#0}::{closure#0} as "
	  "core::ops::function::FnOnce<(u64,)>>::call_once::{shim:vtable#0}" },
	{ "_RINvMs6_NtCsgvbsrvnw3yD_9hashbrown3rawINtB6_8RawTableTyNtNtCslNYArtu3iFV_5alloc6"
	  "string6StringEE14reserve_rehashNCINvNtB8_3map11make_hasheryBR_NtNtNtCsjrHSEGnQ3l9_3"
	  "std4hash6random11RandomStateE0ECsaDboZstmE7A_9rust_leak.llvm.17783498434756662863",
	  "<hashbrown::raw::RawTable<(u64, alloc::string::String)>>::reserve_rehash::<"
	  "hashbrown::map::make_hasher<u64, alloc::string::String, "
	  "std::hash::random::RandomState>::{closure#0}>" },
	/* a non-ASCII identifier: punycode */
	{ "_RNvCsaDboZstmE7A_9rust_leaku9gre_6ka8i", "rust_leak::gr\xc3\xb6\xc3\x9f" "e" },
	/* the examples */
	{ "_RNvCsgHQR4ESvMLt_9rust_leak12make_session", "rust_leak::make_session" },
	{ "_ZN9rust_leak12make_session17he3e9f687557fe6b2E", "rust_leak::make_session" },
};

/* C++, and names that look like Rust but are not. */
static const struct name_case other_names[] = {
	{ "_ZN2ns6Leaker4growEm", "ns::Leaker::grow(unsigned long)" },
	{ "_Z3foov.cold", "foo() [clone .cold]" },
	/* a C++ function whose last name looks like a hash: it has parameters */
	{ "_ZN3foo17h0123456789abcdefEv", "foo::h0123456789abcdef()" },
	/* a hash-like name with fewer than 5 distinct digits is no Rust hash */
	{ "_ZN3foo17h0000000000000000E", "foo::h0000000000000000" },
	/* ends like a hash, but a component does not parse as Rust's */
	{ "_ZN3fooIiE17h0123456789abcdefE", "foo<int>::h0123456789abcdef" },
	/* C functions that happen to start like mangled names */
	{ "_ZN_not_rust", NULL },
	{ "_Rust_is_fun", NULL },
	{ "_RNvC", NULL },
	{ "_R", NULL },
	{ "_ZN", NULL },
	{ "_ZN9rust_leak12make_session17he3e9f687557fe6b2", NULL },
	{ "_ZN9rust_leak12make_session17hXe9f687557fe6b2E", NULL },
	{ "malloc", NULL },
	{ "", NULL },
};

static const char *s_or_null(const char *s)
{
	return s ? s : "(null)";
}

static void expect_names(const struct name_case *cases, size_t n)
{
	size_t i;
	char *got;

	for (i = 0; i < n; i++) {
		got = mt_demangle(cases[i].mangled);
		CHECK(cases[i].want ? got && !strcmp(got, cases[i].want) : !got, "\"%s\" -> %s",
		      cases[i].mangled, s_or_null(got));
		free(got);
	}
	check(!mt_demangle(NULL), "NULL is not demangled", NULL);
}

/* Every C++ name libstdc++ exports demangles exactly as __cxa_demangle has it. */
static void test_cxx_unchanged(void)
{
	char line[4096], sym[4096], *mine, *theirs, type;
	size_t total = 0, differ = 0;
	unsigned long long addr;
	int status;
	FILE *p;

	p = popen("nm -D --defined-only " LIBSTDCXX " 2>/dev/null", "r");
	if (!p) {
		check(0, "list libstdc++'s symbols", NULL);
		return;
	}
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %c %4095s", &addr, &type, sym) != 3 || strncmp(sym, "_Z", 2))
			continue;
		*strchrnul(sym, '@') = '\0';
		mine = mt_demangle(sym);
		theirs = __cxa_demangle(sym, NULL, NULL, &status);
		if (status) {
			free(theirs);
			theirs = NULL;
		}
		total++;
		if ((!mine != !theirs || (mine && strcmp(mine, theirs))) && differ++ < 5)
			printf("#   %s: %s, was %s\n", sym, s_or_null(mine), s_or_null(theirs));
		free(mine);
		free(theirs);
	}
	pclose(p);
	CHECK(total > 1000 && !differ, "%zu C++ names of libstdc++ as __cxa_demangle gives them "
	      "(%zu differ)", total, differ);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whatever comes out is a bounded C string (sanitizers watch the rest). */
static bool sane(const char *got)
{
	return !got || strnlen(got, NAME_CAP) < NAME_CAP;
}

/* Every prefix of every real name, and 200,000 random edits of them. */
static void test_hostile(void)
{
	static const char alphabet[] = "_0123456789abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ$.:@E_B";
	size_t i, k, len, prefixes = 0, bad = 0, edits = 200000;
	char buf[1024], *got;
	double t0 = now();

	for (i = 0; i < ARRAY_SIZE(rust_names); i++) {
		len = strlen(rust_names[i].mangled);
		for (k = 0; k < len; k++, prefixes++) {
			memcpy(buf, rust_names[i].mangled, k);
			buf[k] = '\0';
			got = mt_demangle(buf);
			bad += !sane(got);
			free(got);
		}
	}
	CHECK(!bad, "%zu truncated names give bounded results", prefixes);

	for (i = 0; i < edits; i++) {
		const char *src = rust_names[next_rand() % ARRAY_SIZE(rust_names)].mangled;
		size_t n = next_rand() % 4 + 1;

		len = strlen(src);
		memcpy(buf, src, len + 1);
		while (n--) {
			size_t at = next_rand() % len;
			uint64_t r = next_rand();
			char c = r & 0x100 ? (char)(r >> 16)
					   : alphabet[(r >> 16) % (sizeof(alphabet) - 1)];

			if (r % 3 == 0 && len + 2 < sizeof(buf)) {	/* insert */
				memmove(buf + at + 1, buf + at, len - at + 1);
				buf[at] = c ? c : 'B';
				len++;
			} else if (r % 3 == 1 && len > 3) {		/* delete */
				memmove(buf + at, buf + at + 1, len - at);
				len--;
			} else {					/* replace */
				buf[at] = c ? c : '_';
			}
		}
		got = mt_demangle(buf);
		bad += !sane(got);
		free(got);
	}
	CHECK(!bad, "%zu edited names give bounded results (%.1f s)", edits, now() - t0);
}

/* base-62 as v0 back-references write it: "_" is 0, "0_" 1, "z_" 36, ... */
static int put_b62(char *out, uint64_t n)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char tmp[16];
	int i = 0, len = 0;

	if (n--) {
		do {
			tmp[i++] = digits[n % 62];
			n /= 62;
		} while (n);
	}
	while (i)
		out[len++] = tmp[--i];
	out[len++] = '_';
	return len;
}

/*
 * The v0 name of a::b::<pp..p, T>, where T doubles at each of `levels`
 * levels (a tuple of the level below and a back-reference to it) with the
 * type `leaf` at the bottom; the `pad` bytes of pp..p shift where output
 * limits fall.
 */
static char *bomb(int levels, const char *leaf, int pad)
{
	size_t cap = 64 + pad + strlen(leaf) + levels * 12, at[128];
	char *s = malloc(cap), *p = s;
	int k;

	if (!s || levels > 127)
		abort();
	p += sprintf(p, "_RINvC1a1bC%d", pad);
	memset(p, 'p', pad);
	p += pad;
	for (k = levels; k > 0; k--)
		*p++ = 'T';
	at[0] = p - (s + 2);	/* positions count from after "_R" */
	p += sprintf(p, "%s", leaf);
	for (k = 1; k <= levels; k++) {
		*p++ = 'B';
		p += put_b62(p, at[k - 1]);
		*p++ = 'E';
		at[k] = at[0] - k;
	}
	*p++ = 'E';
	*p = '\0';
	return s;
}

/*
 * Back-references can make a short name stand for an exponentially long one:
 * 40 levels would be a terabyte. Such names stay mangled, at once, and so do
 * long ones that are honest; short ones demangle. The punycode leaf ("größe")
 * has the demangler print from a buffer of its own when the cap is reached.
 */
static void test_backref_bombs(void)
{
	char *name, *got;
	double t0;
	size_t len;
	int pad, fails = 0;

	name = bomb(3, "h", 1);
	got = mt_demangle(name);
	CHECK(got && !strcmp(got, "a::b::<p, (((u8, u8), (u8, u8)), ((u8, u8), (u8, u8)))>"),
	      "a small doubling name demangles: %s", s_or_null(got));
	free(got);
	free(name);

	name = bomb(10, "h", 1);
	got = mt_demangle(name);
	len = got ? strlen(got) : 0;
	CHECK(got && len > 4000 && len < NAME_CAP, "%zu bytes of name from %zu: demangled", len,
	      strlen(name));
	free(got);
	free(name);

	t0 = now();
	for (pad = 1; pad <= 16; pad++) {
		name = bomb(11, "h", pad);
		got = mt_demangle(name);
		fails += got != NULL;
		free(got);
		free(name);
		name = bomb(40, "Cu9gre_6ka8i", pad);
		got = mt_demangle(name);
		fails += got != NULL;
		free(got);
		free(name);
	}
	CHECK(!fails && now() - t0 < 2.0,
	      "names over %d bytes, and a 2^40-fold one, stay mangled (%d demangled, %.2f s)",
	      NAME_CAP, fails, now() - t0);
}

/*
 * Itanium's substitutions double a C++ name the same way: each template
 * argument of f names the one before twice (void f<A, B<f, f>, A<B<f, f>,
 * B<f, f> >, ...>()). 4 levels are 395 bytes of name, 9 over 13 KB, 24 are
 * 872 MB, which __cxa_demangle builds in memory (8 s and 850 MB here).
 * Capped, they stay mangled at once.
 */
static char *cxx_bomb(int levels)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char *s = malloc(64 + 16 * (size_t)levels), *p = s;
	int k;

	p += sprintf(p, "_Z1fI1A1BIS_S_E");
	for (k = 2; k < levels + 2; k++)
		p += sprintf(p, "S0_IS%c_S%c_E", digits[k], digits[k]);
	sprintf(p, "Evv");
	return s;
}

static void test_cxx_bombs(void)
{
	char *name, *got;
	double t0;
	int fails = 0, levels;

	name = cxx_bomb(4);
	got = mt_demangle(name);
	CHECK(got && strlen(got) == 395 && !strncmp(got, "void f<A, B<f, f>, A<B<f, f>, B<f, f> >", 39),
	      "a small doubling C++ name demangles (%zu bytes)", got ? strlen(got) : 0);
	free(got);
	free(name);
	t0 = now();
	for (levels = 9; levels <= 24; levels++) {
		name = cxx_bomb(levels);
		got = mt_demangle(name);
		fails += got != NULL;
		free(got);
		free(name);
	}
	CHECK(!fails && now() - t0 < 2.0,
	      "C++ names over %d bytes demangled, up to an 872 MB one, stay mangled "
	      "(%d demangled, %.2f s)", NAME_CAP, fails, now() - t0);
}

/* ------------------------------------------------------------------ DWARF */

static char tmpdir[] = "/tmp/mt-demangle-test-XXXXXX";

/*
 * C++ with an inlined helper, whose linkage names are then replaced in the
 * file (symbol table and .debug_str alike) by Rust ones, NUL-padded: rustc's
 * DWARF carries its mangled names in DW_AT_linkage_name the same way.
 */
#define NS "padpadpadpadpadpadpadpadpadpadpadpad"
static const char prog_src[] =
	"extern \"C\" __attribute__((noinline)) void ext_call(unsigned long v)\n"
	"{ asm volatile(\"\" :: \"r\"(v)); }\n"
	"namespace " NS " {\n"
	"inline __attribute__((always_inline)) void inner(unsigned long n)\n"
	"{ ext_call(n * 3); ext_call(n); }\n"
	"__attribute__((noinline)) void outer(unsigned long n) { inner(n + 1); ext_call(n); }\n"
	"}\n"
	"int main(int argc, char **) { " NS "::outer(argc); return 0; }\n";

static const struct {
	const char *cxx, *rust, *want;
} renames[] = {
	{ "_ZN36" NS "5innerEm", "_ZN9rust_leak5inner17h1d6cd1b410e2478fE", "rust_leak::inner" },
	{ "_ZN36" NS "5outerEm", "_RNvCsaDboZstmE7A_9rust_leak5outer", "rust_leak::outer" },
};

static int rename_in_file(const char *path)
{
	size_t i, n, len, hits[ARRAY_SIZE(renames)] = { 0 };
	char *buf, *p;
	FILE *f = fopen(path, "r+b");
	long size;
	int err = -1;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
		goto out_close;
	buf = malloc(size);
	if (!buf || fread(buf, 1, size, f) != (size_t)size)
		goto out;
	for (i = 0; i < ARRAY_SIZE(renames); i++) {
		len = strlen(renames[i].cxx) + 1;	/* with the NUL: whole strings only */
		n = strlen(renames[i].rust);
		for (p = buf; (p = memmem(p, buf + size - p, renames[i].cxx, len)); p += len) {
			memset(p, 0, len);
			memcpy(p, renames[i].rust, n);
			hits[i]++;
		}
	}
	if (hits[0] < 1 || hits[1] < 2 || fseek(f, 0, SEEK_SET) ||
	    fwrite(buf, 1, size, f) != (size_t)size)
		goto out;
	err = 0;
out:
	free(buf);
out_close:
	if (f)
		fclose(f);
	return err;
}

/* The vaddr of the last byte of the first call from `from` to `to`. */
static uint64_t find_call(const struct elf_file *ef, const char *from, const char *to)
{
	const struct elf_sym *f = elf_file__find_func(ef, from, false);
	const struct elf_sym *t = elf_file__find_func(ef, to, false);
	unsigned char code[4096];
	uint64_t off, size, i;
	int32_t rel;

	if (!f || !t || elf_file__vaddr_to_offset(ef, f->addr, &off))
		return 0;
	size = f->size < sizeof(code) ? f->size : sizeof(code);
	if (size < 5 || elf_file__read(ef, off, code, size))
		return 0;
	for (i = 0; i + 5 <= size; i++) {
		memcpy(&rel, code + i + 1, 4);
		if (code[i] == 0xe8 && f->addr + i + 5 + (uint64_t)(int64_t)rel == t->addr)
			return f->addr + i + 4;
	}
	return 0;
}

static void test_dwarf_names(void)
{
	const struct dwarf_frame *f = NULL;
	struct dwarf_lines *dl = NULL;
	struct elf_file *ef = NULL;
	char path[PATH_MAX];
	uint64_t pc = 0;
	size_t n = 0;
	FILE *src;
	int err;

	if (!mkdtemp(tmpdir)) {
		check(0, "make a temporary directory", NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s/prog.cc", tmpdir);
	src = fopen(path, "w");
	if (src) {
		fputs(prog_src, src);
		fclose(src);
	}
	snprintf(path, sizeof(path), "%s/prog", tmpdir);
	err = !src || run("cd %s && g++ -O2 -g -o prog prog.cc", tmpdir) || rename_in_file(path);
	check(!err, "a program with Rust linkage names in its DWARF", NULL);
	if (err)
		goto out;
	if (!elf_file__open(path, NULL, &ef))
		pc = find_call(ef, renames[1].rust, "ext_call");
	elf_file__free(ef);
	err = dwarf_lines__open(path, NULL, &dl) || !pc || dwarf_lines__lookup(dl, pc, &f, &n);
	CHECK(!err && n == 2 && f[0].inlined && f[0].function && f[1].function &&
		      !strcmp(f[0].function, renames[0].want) &&
		      !strcmp(f[0].mangled, renames[0].rust) &&
		      !strcmp(f[1].function, renames[1].want) &&
		      !strcmp(f[1].mangled, renames[1].rust),
	      "DWARF: legacy and v0 linkage names read %s (inlined) <- %s: got %s <- %s",
	      renames[0].want, renames[1].want, n ? s_or_null(f[0].function) : "-",
	      n > 1 ? s_or_null(f[1].function) : "-");
	dwarf_lines__free(dl);
out:
	run("rm -rf %s", tmpdir);
}

int main(void)
{
	expect_names(rust_names, ARRAY_SIZE(rust_names));
	expect_names(other_names, ARRAY_SIZE(other_names));
	test_cxx_unchanged();
	test_hostile();
	test_backref_bombs();
	test_cxx_bombs();
	test_dwarf_names();
	return unit_exit_summary();
}
