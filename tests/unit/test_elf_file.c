/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ELF symbol loading: libc's dynamic symbols and offsets against nm, C++
 * demangling, separate debug files found by build-id and by debuglink (and
 * rejected when they do not match), and malformed files: truncated, random,
 * empty and randomly corrupted ones must fail cleanly or load, never crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "symbols/demangle.h"
#include "symbols/elf_file.h"
#include "unit.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char tmpdir[] = "/tmp/mt-elf-test-XXXXXX";

/* The address nm prints for a defined symbol, or 0. */
static uint64_t nm_addr(const char *flags, const char *file, const char *name)
{
	char cmd[1024], line[1024], sym[512], type;
	uint64_t addr, found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm %s --defined-only '%s' 2>/dev/null", flags, file);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		char *at;

		if (sscanf(line, "%" SCNx64 " %c %511s", &addr, &type, sym) != 3)
			continue;
		at = strchr(sym, '@');
		if (at)
			*at = '\0';
		if (!strcmp(sym, name))
			found = addr;
	}
	pclose(p);
	return found;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	size_t n;

	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	if (fclose(f) || n != len)
		return -EIO;
	return 0;
}

static void *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long sz;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (sz = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc((size_t)sz);
		if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)sz;
	}
	fclose(f);
	return buf;
}

static void test_libc(void)
{
	const struct elf_sym *m, *f, *ma, *aa, *s, *d;
	struct elf_file *ef = NULL;
	uint64_t off = 0, v = 0, so = 0;
	unsigned char magic[4];
	const char *bid;
	int err;

	err = elf_file__open(LIBC, NULL, &ef);
	check(err == 0 && ef, "open libc", "err %d", err);
	if (!ef)
		return;
	check(elf_file__is_pie_or_dso(ef) && elf_file__is_dynamic(ef),
	      "libc is ET_DYN with PT_INTERP", NULL);
	bid = elf_file__build_id(ef);
	check(strlen(bid) == 40 && strspn(bid, "0123456789abcdef") == 40,
	      "libc build-id is 40 lowercase hex digits", "'%s'", bid);
	check(elf_file__nr_syms(ef) > 1000, "libc has many function symbols", "%zu",
	      elf_file__nr_syms(ef));

	m = elf_file__find_func(ef, "malloc", false);
	f = elf_file__find_func(ef, "free", true);
	ma = elf_file__find_func(ef, "memalign", false);
	aa = elf_file__find_func(ef, "aligned_alloc", false);
	check(m && f && ma && aa, "find malloc, free, memalign, aligned_alloc", NULL);
	if (!m || !f || !ma || !aa)
		goto out;
	check(m->addr == nm_addr("-D", LIBC, "malloc") && f->addr == nm_addr("-D", LIBC, "free"),
	      "malloc and free addresses equal nm -D", "malloc %" PRIx64 " free %" PRIx64,
	      m->addr, f->addr);
	check(ma->addr == aa->addr && ma->addr == nm_addr("-D", LIBC, "memalign"),
	      "memalign and aligned_alloc share nm's address", "%" PRIx64 " %" PRIx64,
	      ma->addr, aa->addr);
	check(m->dynamic && m->global && m->size > 0, "malloc is a sized global dynamic symbol",
	      NULL);
	err = elf_file__vaddr_to_offset(ef, m->addr, &off);
	check(err == 0 && off == m->addr, "libc text: file offset equals vaddr",
	      "err %d off %" PRIx64, err, off);
	err = elf_file__offset_to_vaddr(ef, off + 16, &v);
	check(err == 0 && v == m->addr + 16, "offset_to_vaddr inverts vaddr_to_offset",
	      "err %d v %" PRIx64, err, v);
	check(elf_file__offset_to_vaddr(ef, UINT64_MAX - 1, &v) == -ERANGE &&
		      elf_file__vaddr_to_offset(ef, UINT64_MAX - 1, &off) == -ERANGE,
	      "translation outside any segment is -ERANGE", NULL);

	s = elf_file__lookup(ef, m->addr + 7, &so);
	check(s && !strcmp(s->name, "malloc") && so == 7,
	      "lookup inside malloc names malloc, not __libc_malloc", "%s +%" PRIu64,
	      s ? s->name : "(null)", so);
	s = elf_file__lookup(ef, nm_addr("-D", LIBC, "getpid"), NULL);
	check(s && (!strcmp(s->name, "getpid") || !strcmp(s->name, "__getpid")),
	      "lookup at getpid", "%s", s ? s->name : "(null)");
	check(elf_file__lookup(ef, 5, NULL) == NULL, "lookup below every symbol is NULL", NULL);
	check(elf_file__find_func(ef, "no_such_function_here", false) == NULL,
	      "unknown name is not found", NULL);
	d = elf_file__find_func(ef, "malloc", true);
	check(d && d->dynamic, "dynamic_only search finds .dynsym malloc", NULL);

	err = elf_file__read(ef, 0, magic, 4);
	check(err == 0 && !memcmp(magic, "\177ELF", 4), "read the ELF magic", "err %d", err);
	check(elf_file__read(ef, UINT64_MAX - 2, magic, 4) == -ERANGE,
	      "read past the end is -ERANGE", NULL);
out:
	elf_file__free(ef);
}

static void test_demangle(void)
{
	char *s;

	s = mt_demangle("_ZN2ns6Leaker4growEm");
	check(s && !strcmp(s, "ns::Leaker::grow(unsigned long)"), "demangle a method",
	      "%s", s ? s : "(null)");
	free(s);
	s = mt_demangle("_Z3foov.cold");
	check(s && !strcmp(s, "foo() [clone .cold]"), "demangle a clone suffix", "%s",
	      s ? s : "(null)");
	free(s);
	check(mt_demangle("malloc") == NULL && mt_demangle("_Z") == NULL &&
		      mt_demangle("_Zgarbage!") == NULL && mt_demangle("") == NULL &&
		      mt_demangle(NULL) == NULL,
	      "plain and invalid names are not demangled", NULL);
}

static const char prog_src[] =
	"#include <stdio.h>\n"
	"static int __attribute__((noinline)) helper_static(int x) { return x * 3 + VARIANT; }\n"
	"int __attribute__((noinline)) helper_global(int x) { return helper_static(x) + 2; }\n"
	"int main(int argc, char **argv) { (void)argv; printf(\"%d\\n\", helper_global(argc));"
	" return 0; }\n";

/* Build dir/name from prog_src; returns 0 when the toolchain succeeded. */
static int build(const char *name, int variant, const char *ldflags)
{
	char src[PATH_MAX];

	snprintf(src, sizeof(src), "%s/%s.c", tmpdir, name);
	if (write_file(src, prog_src, sizeof(prog_src) - 1))
		return -1;
	return run("cc -g -O1 -DVARIANT=%d %s -o %s/%s %s", variant, ldflags, tmpdir, name, src);
}

static void expect_debug(const char *desc, const char *file, const struct elf_file_opts *o,
			 const char *want_debug, uint64_t want_addr)
{
	struct elf_file *ef = NULL;
	const struct elf_sym *s = NULL;
	const char *dp = NULL;
	int err;

	err = elf_file__open(file, o, &ef);
	if (ef) {
		s = elf_file__find_func(ef, "helper_static", false);
		dp = elf_file__debug_path(ef);
	}
	if (want_debug)
		check(err == 0 && dp && !strcmp(dp, want_debug) && s && s->addr == want_addr &&
			      !s->dynamic,
		      desc, "err %d debug %s sym %s", err, dp ? dp : "(none)",
		      s ? "found" : "missing");
	else
		check(err == 0 && !dp && !s, desc, "err %d debug %s sym %s", err,
		      dp ? dp : "(none)", s ? "found" : "missing");
	elf_file__free(ef);
}

static void test_debug_files(void)
{
	struct elf_file_opts o = { 0 };
	struct elf_file *ef = NULL;
	char full[PATH_MAX], p[PATH_MAX], dbg[PATH_MAX], root[1024], bid_dbg[PATH_MAX];
	char outside[PATH_MAX];
	uint64_t addr;
	const char *bid;
	int err;

	if (build("prog_bid", 1, "") || build("prog_nb", 1, "-Wl,--build-id=none") ||
	    build("prog_other", 2, "")) {
		check(0, "build test programs", "cc failed");
		return;
	}
	snprintf(full, sizeof(full), "%s/prog_bid", tmpdir);
	addr = nm_addr("", full, "helper_static");
	err = elf_file__open(full, NULL, &ef);
	check(err == 0 && ef && elf_file__find_func(ef, "helper_static", false) &&
		      elf_file__find_func(ef, "helper_static", false)->addr == addr && addr,
	      "unstripped program: static function from .symtab", "err %d nm %" PRIx64, err,
	      addr);
	check(ef && !elf_file__debug_path(ef), "no debug file looked up when .symtab exists",
	      NULL);
	check(ef && elf_file__find_func(ef, "helper_static", true) == NULL,
	      "static function is not in .dynsym", NULL);
	bid = ef ? elf_file__build_id(ef) : "";
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, bid,
		 bid + (bid[0] ? 2 : 0));
	run("mkdir -p $(dirname %s) && objcopy --only-keep-debug %s %s && strip %s", dbg, full,
	    dbg, full);
	elf_file__free(ef);

	o.sysroot = root;
	expect_debug("debug file by build-id under the sysroot", full, &o, dbg, addr);

	/* Links under the sysroot resolve inside it: none leads to a file outside. */
	snprintf(outside, sizeof(outside), "%s/outside.debug", tmpdir);
	run("mv %s %s && ln -s %s %s", dbg, outside, outside, dbg);
	expect_debug("an absolute link out of the sysroot is not followed out", full, &o, NULL, 0);
	run("rm %s && ln -s ../../../../../../../../../../../../..%s %s", dbg, outside, dbg);
	expect_debug("a ../ link out of the sysroot is not followed out", full, &o, NULL, 0);
	snprintf(bid_dbg, sizeof(bid_dbg), "%s/elsewhere/x.debug", root);
	run("mkdir -p %s/elsewhere && mv %s %s && rm %s && ln -s /elsewhere/x.debug %s", root,
	    outside, bid_dbg, dbg, dbg);
	expect_debug("an absolute link inside the sysroot resolves in it", full, &o, dbg, addr);
	o.no_debug_files = true;
	expect_debug("no_debug_files: stripped program lacks static names", full, &o, NULL, 0);
	o.no_debug_files = false;
	o.sysroot = NULL;
	expect_debug("no sysroot: build-id file not found", full, &o, NULL, 0);

	/* Debuglink, checked by CRC since the program has no build-id. */
	snprintf(full, sizeof(full), "%s/prog_nb", tmpdir);
	addr = nm_addr("", full, "helper_static");
	snprintf(dbg, sizeof(dbg), "%s/prog_nb.dbg", tmpdir);
	run("cd %s && objcopy --only-keep-debug prog_nb prog_nb.dbg && strip prog_nb && "
	    "objcopy --add-gnu-debuglink=prog_nb.dbg prog_nb", tmpdir);
	expect_debug("debuglink in the same directory", full, NULL, dbg, addr);
	snprintf(dbg, sizeof(dbg), "%s/.debug/prog_nb.dbg", tmpdir);
	run("mkdir -p %s/.debug && mv %s/prog_nb.dbg %s", tmpdir, tmpdir, dbg);
	expect_debug("debuglink in .debug/", full, NULL, dbg, addr);
	run("printf x >> %s", dbg);
	expect_debug("debuglink with a wrong CRC is rejected", full, NULL, NULL, 0);

	/* Debuglink whose target has another build-id. */
	snprintf(full, sizeof(full), "%s/prog_other", tmpdir);
	run("cd %s && objcopy --only-keep-debug prog_other po.dbg && strip prog_other && "
	    "objcopy --add-gnu-debuglink=po.dbg prog_other && cp %s po.dbg", tmpdir, bid_dbg);
	expect_debug("debuglink to a file with another build-id is rejected", full, NULL, NULL,
		     0);
	snprintf(p, sizeof(p), "%s/po.dbg", tmpdir);
	err = elf_file__open(p, NULL, &ef);
	check(err == 0 && ef && elf_file__find_func(ef, "helper_static", false),
	      "a debug file itself opens with its .symtab", "err %d", err);
	elf_file__free(ef);
}

static void expect_noexec(const char *desc, const void *buf, size_t len)
{
	struct elf_file *ef = NULL;
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/bad", tmpdir);
	if (write_file(path, buf, len)) {
		check(0, desc, "cannot write %s", path);
		return;
	}
	err = elf_file__open(path, NULL, &ef);
	check(err == -ENOEXEC && !ef, desc, "err %d", err);
	elf_file__free(ef);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void test_malformed(void)
{
	static const size_t cuts[] = { 1, 4, 16, 52, 64, 100, 1000, 4096, 100000, 1000000 };
	struct elf_file *ef = NULL;
	unsigned char *libc, *prog, *copy;
	unsigned int seed = 4242;
	size_t libc_len = 0, prog_len = 0, i, j, loaded = 0;
	char desc[128], path[PATH_MAX];
	int err;

	expect_noexec("empty file is -ENOEXEC", "", 0);
	libc = read_whole(LIBC, &libc_len);
	if (!libc) {
		check(0, "read libc", NULL);
		return;
	}
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(desc, sizeof(desc), "libc truncated to %zu bytes is -ENOEXEC", cuts[i]);
		expect_noexec(desc, libc, cuts[i]);
	}
	copy = malloc(libc_len);
	for (i = 0; i < 4096; i++) {
		seed = seed * 1103515245 + 12345;
		copy[i] = (unsigned char)(seed >> 16);
	}
	expect_noexec("random bytes are -ENOEXEC", copy, 4096);
	memcpy(copy, libc, 4096);
	copy[1] = 'X';
	expect_noexec("bad magic is -ENOEXEC", copy, 4096);

	memcpy(copy, libc, libc_len);
	put64(copy + 0x28, UINT64_MAX - 8);	/* e_shoff */
	expect_noexec("section headers past the end are -ENOEXEC", copy, libc_len);
	memcpy(copy, libc, libc_len);
	put64(copy + 0x20, libc_len - 8);	/* e_phoff */
	expect_noexec("program headers past the end are -ENOEXEC", copy, libc_len);
	memcpy(copy, libc, libc_len);
	copy[0x10] = 1;			/* e_type = ET_REL */
	expect_noexec("relocatable object is -ENOEXEC", copy, libc_len);
	free(copy);
	free(libc);

	err = elf_file__open(tmpdir, NULL, &ef);
	check(err == -ENOEXEC && !ef, "a directory is -ENOEXEC", "err %d", err);
	err = elf_file__open("/nonexistent/file.so", NULL, &ef);
	check(err == -ENOENT && !ef, "a missing file is -ENOENT", "err %d", err);

	/* Random corruption of a small program: any result but a crash is fine. */
	snprintf(path, sizeof(path), "%s/prog_bid", tmpdir);
	prog = read_whole(path, &prog_len);
	if (!prog) {
		check(0, "read test program", NULL);
		return;
	}
	copy = malloc(prog_len);
	snprintf(path, sizeof(path), "%s/fuzz", tmpdir);
	for (i = 0; i < 400; i++) {
		size_t len = prog_len;

		memcpy(copy, prog, prog_len);
		for (j = 0; j < 1 + i % 16; j++) {
			seed = seed * 1103515245 + 12345;
			size_t at = (seed >> 8) % (i % 2 ? 256 : prog_len);

			seed = seed * 1103515245 + 12345;
			copy[at] = (unsigned char)(seed >> 16);
		}
		if (i % 5 == 0)
			len = (seed >> 4) % prog_len;
		write_file(path, copy, len);
		if (!elf_file__open(path, NULL, &ef)) {
			uint64_t v;

			loaded++;
			elf_file__lookup(ef, 0x1139, NULL);
			elf_file__find_func(ef, "main", false);
			elf_file__offset_to_vaddr(ef, 0x1000, &v);
			elf_file__free(ef);
		}
		ef = NULL;
	}
	check(1, "400 corrupted programs opened without a crash", NULL);
	printf("# %zu of them loaded\n", loaded);
	free(copy);
	free(prog);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_libc();
	test_demangle();
	test_debug_files();
	test_malformed();
	run("rm -rf %s", tmpdir);
	return unit_exit();
}
