/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Source lines and inlined frames: a program built here with -O2 -g, where
 * always_inline helpers are inlined into noinline functions, read directly
 * and through the symbolizer; its copies stripped with a separate debug file
 * (found by .gnu_debuglink, with and without a .symtab left); and a build
 * without DWARF, which must give exactly what the symbol table gives.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbols/dwarf_lines.h"
#include "symbols/elf_file.h"
#include "util/procmaps.h"
#include "symbols/symbolize.h"
#include "unit.h"

#define MAP_BASE 0x10000000ULL

static char tmpdir[] = "/tmp/mt-dwarf-test-XXXXXX";

static const char prog_src[] =
	"volatile unsigned long sink;\n"
	"__attribute__((noinline)) void ext_call(unsigned long v) { sink += v; }\n"
	"static inline __attribute__((always_inline)) void helper(unsigned long n)\n"
	"{\n"
	"	sink += n;\n"
	"	ext_call(n * 3);	/* IN_HELPER */\n"
	"	sink ^= n;\n"
	"}\n"
	"static inline __attribute__((always_inline)) void helper2(unsigned long n)\n"
	"{\n"
	"	sink -= n;\n"
	"	helper(n + 7);	/* IN_HELPER2 */\n"
	"	sink -= 2;\n"
	"}\n"
	"__attribute__((noinline)) void outer(unsigned long n)\n"
	"{\n"
	"	sink += 1;\n"
	"	helper(n);	/* CALL_HELPER */\n"
	"	sink += 2;\n"
	"}\n"
	"__attribute__((noinline)) void outer2(unsigned long n)\n"
	"{\n"
	"	sink += 3;\n"
	"	helper2(n);	/* CALL_HELPER2 */\n"
	"	sink += 4;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	(void)argv;\n"
	"	outer((unsigned long)argc);	/* CALL_OUTER */\n"
	"	outer2((unsigned long)argc);\n"
	"	return 0;\n"
	"}\n";

/* Lines of the marked statements, and the vaddrs of the calls looked up. */
static int in_helper, in_helper2, call_helper, call_helper2, call_outer;
static uint64_t pc_outer, pc_outer2, pc_main;

static const char *s_or_null(const char *s)
{
	return s ? s : "(null)";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && !strcmp(s + a - b, suffix);
}

static int marker_line(const char *marker)
{
	const char *p = strstr(prog_src, marker), *q;
	int line = 1;

	if (!p)
		return -1;
	for (q = prog_src; q < p; q++)
		line += *q == '\n';
	return line;
}

/* The vaddr of the first direct call from function `from` to function `to`. */
static uint64_t find_call(const struct elf_file *ef, const char *from, const char *to)
{
	const struct elf_sym *f = elf_file__find_func(ef, from, false);
	const struct elf_sym *t = elf_file__find_func(ef, to, false);
	unsigned char buf[4096];
	uint64_t off, size, i;
	int32_t rel;

	if (!f || !t || elf_file__vaddr_to_offset(ef, f->addr, &off))
		return 0;
	size = f->size < sizeof(buf) ? f->size : sizeof(buf);
	if (size < 5 || elf_file__read(ef, off, buf, size))
		return 0;
	for (i = 0; i + 5 <= size; i++) {
		if (buf[i] != 0xe8)
			continue;
		memcpy(&rel, buf + i + 1, 4);
		if (f->addr + i + 5 + (uint64_t)(int64_t)rel == t->addr)
			return f->addr + i;
	}
	return 0;
}

static int build(void)
{
	char src[PATH_MAX], prog[PATH_MAX];
	struct elf_file *ef = NULL;
	uint64_t call;
	FILE *f;

	snprintf(src, sizeof(src), "%s/prog.c", tmpdir);
	snprintf(prog, sizeof(prog), "%s/prog", tmpdir);
	f = fopen(src, "w");
	if (!f)
		return -1;
	fputs(prog_src, f);
	fclose(f);
	if (run("cd %s && cc -O2 -g -o prog prog.c && cc -O2 -o prog_nodbg prog.c && "
		"objcopy --only-keep-debug prog prog.debug && "
		"strip -g -o prog_g prog && objcopy --add-gnu-debuglink=prog.debug prog_g && "
		"strip -o prog_s prog && objcopy --add-gnu-debuglink=prog.debug prog_s", tmpdir))
		return -1;
	in_helper = marker_line("IN_HELPER */");
	in_helper2 = marker_line("IN_HELPER2 */");
	call_helper = marker_line("CALL_HELPER */");
	call_helper2 = marker_line("CALL_HELPER2 */");
	call_outer = marker_line("CALL_OUTER */");
	if (elf_file__open(prog, NULL, &ef))
		return -1;
	/* A return address points after the call: the call's last byte is looked up. */
	call = find_call(ef, "outer", "ext_call");
	pc_outer = call ? call + 4 : 0;
	call = find_call(ef, "outer2", "ext_call");
	pc_outer2 = call ? call + 4 : 0;
	call = find_call(ef, "main", "outer");
	pc_main = call ? call + 4 : 0;
	elf_file__free(ef);
	return pc_outer && pc_outer2 && pc_main ? 0 : -1;
}

static bool frame_is(const struct dwarf_frame *f, const char *fn, int line, bool inlined)
{
	return f->function && !strcmp(f->function, fn) && ends_with(f->file, "/prog.c") &&
	       f->line == line && f->inlined == inlined;
}

static void print_frames(const struct dwarf_frame *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("#   [%zu] %s %s:%d%s\n", i, s_or_null(f[i].function), s_or_null(f[i].file),
		       f[i].line, f[i].inlined ? " (inlined)" : "");
}

/* The frames of the three call sites, read straight from the DWARF of name. */
static void expect_direct(const char *name, const char *dwarf_file)
{
	const struct dwarf_frame *f, *again;
	struct dwarf_lines *dl = NULL;
	char path[PATH_MAX], desc[160];
	size_t n = 0, n2 = 0;
	int err;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	err = dwarf_lines__open(path, NULL, &dl);
	snprintf(desc, sizeof(desc), "%s: DWARF read from %s", name, dwarf_file);
	check(!err && ends_with(dwarf_lines__dwarf_path(dl), dwarf_file), desc, "err %d path %s",
	      err, dl ? dwarf_lines__dwarf_path(dl) : "(none)");
	if (err)
		return;

	err = dwarf_lines__lookup(dl, pc_outer, &f, &n);
	snprintf(desc, sizeof(desc), "%s: call in an inlined helper = [helper, outer]", name);
	check(!err && n == 2 && frame_is(&f[0], "helper", in_helper, true) &&
		      frame_is(&f[1], "outer", call_helper, false),
	      desc, "err %d, %zu frames (want helper:%d, outer:%d)", err, n, in_helper,
	      call_helper);
	if (!err && n != 2)
		print_frames(f, n);
	err = dwarf_lines__lookup(dl, pc_outer, &again, &n2);
	snprintf(desc, sizeof(desc), "%s: a second lookup comes from the cache", name);
	check(!err && again == f && n2 == n, desc, NULL);

	err = dwarf_lines__lookup(dl, pc_outer2, &f, &n);
	snprintf(desc, sizeof(desc), "%s: two inlined levels = [helper, helper2, outer2]", name);
	check(!err && n == 3 && frame_is(&f[0], "helper", in_helper, true) &&
		      frame_is(&f[1], "helper2", in_helper2, true) &&
		      frame_is(&f[2], "outer2", call_helper2, false),
	      desc, "err %d, %zu frames", err, n);
	if (!err && n != 3)
		print_frames(f, n);

	err = dwarf_lines__lookup(dl, pc_main, &f, &n);
	snprintf(desc, sizeof(desc), "%s: a plain call = [main at its line]", name);
	check(!err && n == 1 && frame_is(&f[0], "main", call_outer, false), desc,
	      "err %d, %zu frames, %s:%d", err, n, n ? s_or_null(f[0].file) : "", n ? f[0].line : 0);

	err = dwarf_lines__lookup(dl, 0x10, &f, &n);
	snprintf(desc, sizeof(desc), "%s: an address no unit covers", name);
	check(err == -ENOENT, desc, "err %d", err);
	dwarf_lines__free(dl);
}

/* tmpdir/name as if mapped whole at MAP_BASE. */
static struct proc_maps *fake_maps(const char *name, uint64_t inode)
{
	struct proc_maps *m = NULL;
	char text[PATH_MAX + 128], path[PATH_MAX];
	struct stat st;

	/* The symbolizer checks a file it finds by path is the mapped one: real device and inode. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (!stat(path, &st))
		inode = st.st_ino;
	snprintf(text, sizeof(text), "%llx-%llx r-xp 00000000 %02x:%02x %" PRIu64 " %s\n",
		 MAP_BASE, MAP_BASE + 0x400000, major(st.st_dev), minor(st.st_dev), inode, path);
	if (proc_maps__parse(text, strlen(text), (uint32_t)getpid(), &m))
		return NULL;
	return m;
}

static bool sym_is(const struct sym_frame *f, const char *fn, int line, bool inlined,
		   uint64_t offset)
{
	return f->function && !strcmp(f->function, fn) && ends_with(f->file, "/prog.c") &&
	       f->line == line && f->inlined == inlined && f->offset == offset && f->module;
}

/* The same through the symbolizer, for a copy of the program mapped at MAP_BASE. */
static void expect_symbolizer(const char *name, uint64_t inode)
{
	struct symbolizer *s = symbolizer__new();
	struct proc_maps *m = fake_maps(name, inode);
	struct sym_frame f[SYM_MAX_INLINE_FRAMES], one;
	struct elf_file *ef = NULL;
	char path[PATH_MAX], desc[160];
	uint64_t off, off2;
	size_t n = 0;
	int err;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (!s || !m || elf_file__open(path, NULL, &ef) ||
	    elf_file__vaddr_to_offset(ef, pc_outer, &off) ||
	    elf_file__vaddr_to_offset(ef, pc_outer2, &off2)) {
		check(0, "symbolizer setup", "%s", name);
		goto out;
	}
	err = symbolizer__resolve_inlines(s, m, MAP_BASE + off + 1, f, SYM_MAX_INLINE_FRAMES, &n);
	snprintf(desc, sizeof(desc), "%s: symbolizer expands the inlined helper", name);
	check(!err && n == 2 && sym_is(&f[0], "helper", in_helper, true, pc_outer) &&
		      sym_is(&f[1], "outer", call_helper, false, pc_outer) &&
		      f[0].module == f[1].module,
	      desc, "err %d, %zu frames: %s %s:%d, %s %s:%d", err, n, s_or_null(f[0].function),
	      s_or_null(f[0].file), f[0].line, n > 1 ? s_or_null(f[1].function) : "",
	      n > 1 ? s_or_null(f[1].file) : "", n > 1 ? f[1].line : 0);

	err = symbolizer__resolve_inlines(s, m, MAP_BASE + off2 + 1, f, SYM_MAX_INLINE_FRAMES, &n);
	snprintf(desc, sizeof(desc), "%s: symbolizer, two levels", name);
	check(!err && n == 3 && sym_is(&f[0], "helper", in_helper, true, pc_outer2) &&
		      sym_is(&f[1], "helper2", in_helper2, true, pc_outer2) &&
		      sym_is(&f[2], "outer2", call_helper2, false, pc_outer2),
	      desc, "err %d, %zu frames", err, n);

	err = symbolizer__resolve_inlines(s, m, MAP_BASE + off2 + 1, f, 2, &n);
	snprintf(desc, sizeof(desc), "%s: a short array keeps the innermost and the holder", name);
	check(!err && n == 2 && sym_is(&f[0], "helper", in_helper, true, pc_outer2) &&
		      sym_is(&f[1], "outer2", call_helper2, false, pc_outer2),
	      desc, "err %d, %zu frames", err, n);

	err = symbolizer__resolve(s, m, MAP_BASE + off + 1, &one);
	snprintf(desc, sizeof(desc), "%s: symbolizer__resolve is unchanged", name);
	check(!err && one.function && !strcmp(one.function, "outer") && !one.file && !one.line &&
		      !one.inlined && one.offset == pc_outer,
	      desc, "err %d function %s file %s", err, s_or_null(one.function),
	      s_or_null(one.file));
out:
	elf_file__free(ef);
	proc_maps__free(m);
	symbolizer__free(s);
}

static void test_no_dwarf(void)
{
	struct symbolizer *s = symbolizer__new();
	struct proc_maps *m = fake_maps("prog_nodbg", 9100009);
	struct sym_frame f[SYM_MAX_INLINE_FRAMES];
	struct dwarf_lines *dl = NULL;
	struct elf_file *ef = NULL;
	const struct elf_sym *outer;
	char path[PATH_MAX];
	uint64_t off = 0;
	size_t n = 0;
	int err;

	snprintf(path, sizeof(path), "%s/prog_nodbg", tmpdir);
	err = dwarf_lines__open(path, NULL, &dl);
	check(err == -ENODATA && !dl, "no DWARF: dwarf_lines__open says so", "err %d", err);
	dwarf_lines__free(dl);

	if (!s || !m || elf_file__open(path, NULL, &ef) ||
	    !(outer = elf_file__find_func(ef, "outer", false)) ||
	    elf_file__vaddr_to_offset(ef, outer->addr, &off)) {
		check(0, "no DWARF: setup", NULL);
		goto out;
	}
	err = symbolizer__resolve_inlines(s, m, MAP_BASE + off + 9, f, SYM_MAX_INLINE_FRAMES, &n);
	check(!err && n == 1 && f[0].function && !strcmp(f[0].function, "outer") && !f[0].file &&
		      !f[0].line && !f[0].inlined && f[0].offset == outer->addr + 8,
	      "no DWARF: one frame, as the symbol table gives it", "err %d, %zu frames, %s %s",
	      err, n, s_or_null(f[0].function), s_or_null(f[0].file));
	/* Remembered: the second time must not look again, and say the same. */
	err = symbolizer__resolve_inlines(s, m, MAP_BASE + off + 9, f, SYM_MAX_INLINE_FRAMES, &n);
	check(!err && n == 1 && !f[0].file, "no DWARF: the same the second time", NULL);
out:
	elf_file__free(ef);
	proc_maps__free(m);
	symbolizer__free(s);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("not ok - mkdtemp\n");
		return 1;
	}
	if (build()) {
		check(0, "build the test program", "toolchain failed or calls not found");
		run("rm -rf %s", tmpdir);
		return 1;
	}
	expect_direct("prog", "/prog");
	expect_direct("prog_g", "/prog.debug");
	expect_direct("prog_s", "/prog.debug");
	expect_symbolizer("prog", 9100001);
	expect_symbolizer("prog_g", 9100002);
	expect_symbolizer("prog_s", 9100003);
	test_no_dwarf();
	run("rm -rf %s", tmpdir);
	return unit_exit();
}
