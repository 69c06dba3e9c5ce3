/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Return addresses to frames: functions of this program (plain, C++ and
 * Rust mangled), of libc, [vdso] and anonymous memory; a child program stripped
 * with a separate debug file, before and after it exits; a deleted
 * executable reached through map_files; files remembered as unreadable.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* dlfcn's RTLD_NOLOAD */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "symbols/elf_file.h"
#include "util/procmaps.h"
#include "symbols/symbolize.h"
#include "unit.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char tmpdir[] = "/tmp/mt-sym-test-XXXXXX";
static volatile unsigned long sink;

static const char *s_or_null(const char *s)
{
	return s ? s : "(null)";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && !strcmp(s + a - b, suffix);
}

int __attribute__((noinline)) target_function(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		sink += i * n;
	return (int)sink;
}

static int __attribute__((noinline)) static_target(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		sink ^= i + n;
	return (int)sink;
}

int leaker_grow(unsigned long n) __asm__("_ZN2ns6Leaker4growEm");

int __attribute__((noinline)) leaker_grow(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		sink -= i;
	return (int)sink;
}

/* Rust functions, legacy and v0 mangled (names from a rustc 1.95 release build). */
#define RUST_LEGACY "_ZN9rust_leak12make_session17h1d6cd1b410e2478fE"
#define RUST_V0 "_RNvXCsaDboZstmE7A_9rust_leakINtB2_4PoolNtB2_7SessionENtB2_5Store4keep"
int rust_make_session(unsigned long n) __asm__(RUST_LEGACY);
int rust_keep(unsigned long n) __asm__(RUST_V0);

int __attribute__((noinline)) rust_make_session(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		sink += i ^ n;
	return (int)sink;
}

int __attribute__((noinline)) rust_keep(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		sink += i | n;
	return (int)sink;
}

/* Resolve a return address 8 bytes into fn and check function, module and offset. */
static void expect_own(struct symbolizer *s, const struct proc_maps *m,
		       const struct elf_file *self, const char *exe, void *fn, const char *sym,
		       const char *want)
{
	const struct elf_sym *es = elf_file__find_func(self, sym, false);
	uint64_t ip = (uint64_t)(uintptr_t)fn + 8 + 1;
	struct sym_frame f;
	char desc[160];
	int err;

	err = symbolizer__resolve(s, m, ip, &f);
	snprintf(desc, sizeof(desc), "own function %s", want);
	check(err == 0 && es && es->size > 9 && f.function && !strcmp(f.function, want) &&
		      f.module && !strcmp(f.module, exe) && f.offset == es->addr + 8,
	      desc, "err %d function %s module %s offset %" PRIx64 " want %" PRIx64, err,
	      s_or_null(f.function), s_or_null(f.module), f.offset, es ? es->addr + 8 : 0);
}

/* The address nm -D prints for a defined symbol, or 0. */
static uint64_t nm_addr(const char *file, const char *name)
{
	char cmd[1024], line[1024], sym[512], type;
	uint64_t addr, found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>/dev/null", file);
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

static void test_self(void)
{
	struct symbolizer *s = symbolizer__new();
	struct proc_maps *m = NULL;
	struct elf_file *self = NULL;
	const char *first_fn, *first_mod;
	char exe[PATH_MAX];
	struct sym_frame f;
	void *libc, *getpid_fn;
	uint64_t want, vdso;
	ssize_t n;
	int err;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	err = proc_maps__read((uint32_t)getpid(), &m);
	check(err == 0 && s, "read own maps", "err %d", err);
	err = elf_file__open(exe, NULL, &self);
	check(err == 0, "open own executable", "err %d", err);
	if (!m || !s || !self)
		goto out;

	expect_own(s, m, self, exe, (void *)target_function, "target_function", "target_function");
	expect_own(s, m, self, exe, (void *)static_target, "static_target", "static_target");
	expect_own(s, m, self, exe, (void *)leaker_grow, "_ZN2ns6Leaker4growEm",
		   "ns::Leaker::grow(unsigned long)");
	expect_own(s, m, self, exe, (void *)rust_make_session, RUST_LEGACY,
		   "rust_leak::make_session");
	expect_own(s, m, self, exe, (void *)rust_keep, RUST_V0,
		   "<rust_leak::Pool<rust_leak::Session> as rust_leak::Store>::keep");
	symbolizer__resolve(s, m, (uint64_t)(uintptr_t)rust_keep + 3, &f);
	check(f.mangled && !strcmp(f.mangled, RUST_V0), "a Rust frame keeps its mangled name",
	      "%s", s_or_null(f.mangled));
	symbolizer__resolve(s, m, (uint64_t)(uintptr_t)leaker_grow + 3, &f);
	first_fn = f.function;
	first_mod = f.module;
	symbolizer__resolve(s, m, (uint64_t)(uintptr_t)target_function + 3, &f);
	symbolizer__resolve(s, m, (uint64_t)(uintptr_t)leaker_grow + 5, &f);
	check(f.function == first_fn && f.module == first_mod,
	      "demangled name and module are cached strings", NULL);

	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	getpid_fn = libc ? dlsym(libc, "getpid") : NULL;
	want = nm_addr(LIBC, "getpid");
	err = symbolizer__resolve(s, m, (uint64_t)(uintptr_t)getpid_fn + 1, &f);
	check(getpid_fn && err == 0 && ends_with(f.module, "libc.so.6") && f.function &&
		      (!strcmp(f.function, "getpid") || !strcmp(f.function, "__getpid")) &&
		      f.offset == want,
	      "libc getpid", "err %d function %s module %s offset %" PRIx64 " want %" PRIx64,
	      err, s_or_null(f.function), s_or_null(f.module), f.offset, want);
	if (libc)
		dlclose(libc);

	vdso = getauxval(AT_SYSINFO_EHDR);
	err = symbolizer__resolve(s, m, vdso + 0x101, &f);
	check(vdso && err == -ENOENT && f.module && !strcmp(f.module, "[vdso]") && !f.function &&
		      f.offset == 0x100,
	      "[vdso]: module named, no function", "err %d module %s offset %" PRIx64, err,
	      s_or_null(f.module), f.offset);
	err = symbolizer__resolve(s, m, 0x11, &f);
	check(err == -ENOENT && !f.module && !f.function && f.offset == 0x10,
	      "unmapped address: no module", "err %d module %s", err, s_or_null(f.module));
	err = symbolizer__resolve(s, m, 0, &f);
	check(err == -ENOENT && !f.module && !f.function, "zero return address", "err %d", err);

	/* The module string must outlive the maps it came from. */
	symbolizer__resolve(s, m, (uint64_t)(uintptr_t)target_function + 3, &f);
	proc_maps__free(m);
	m = NULL;
	check(f.module && !strcmp(f.module, exe), "module string outlives proc_maps", NULL);
out:
	proc_maps__free(m);
	elf_file__free(self);
	symbolizer__free(s);
}

static void test_anon(void)
{
	struct symbolizer *s = symbolizer__new();
	struct proc_maps *m = NULL;
	struct sym_frame f;
	char *p;
	int err;

	p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	err = proc_maps__read((uint32_t)getpid(), &m);
	if (p == MAP_FAILED || err) {
		check(0, "anonymous mapping", "setup failed");
		goto out;
	}
	err = symbolizer__resolve(s, m, (uint64_t)(uintptr_t)p + 101, &f);
	check(err == -ENOENT && !f.module && !f.function && f.offset == (uint64_t)(uintptr_t)p + 100,
	      "anonymous mapping: no module, absolute offset", "err %d module %s", err,
	      s_or_null(f.module));
	munmap(p, 8192);
out:
	proc_maps__free(m);
	symbolizer__free(s);
}

static const char child_src[] =
	"#include <stdio.h>\n"
	"#include <unistd.h>\n"
	"static volatile unsigned long sink;\n"
	"static void __attribute__((noinline)) helper_static(unsigned long n)\n"
	"{ for (unsigned long i = 0; i < n; i++) sink += i * n; }\n"
	"int main(void)\n"
	"{\n"
	"	char c;\n"
	"	printf(\"%p\\n\", (void *)helper_static);\n"
	"	fflush(stdout);\n"
	"	while (read(0, &c, 1) > 0)\n"
	"		;\n"
	"	helper_static(3);\n"
	"	return 0;\n"
	"}\n";

struct child {
	pid_t pid;
	int in;			/* closing it lets the child exit */
	uint64_t helper;
};

static int child_start(const char *path, struct child *c)
{
	int to[2], from[2];
	char line[64] = "";
	FILE *f;

	if (pipe(to) || pipe(from))
		return -1;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->in = to[1];
	f = fdopen(from[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%" SCNx64, &c->helper) != 1)
		c->helper = 0;
	if (f)
		fclose(f);
	return c->helper ? 0 : -1;
}

static void child_stop(struct child *c)
{
	int st;

	close(c->in);
	waitpid(c->pid, &st, 0);
}

static void expect_helper(const char *desc, const struct proc_maps *m, uint64_t helper,
			  const char *module)
{
	struct symbolizer *s = symbolizer__new();
	struct sym_frame f = { 0 };
	int err;

	err = symbolizer__resolve(s, m, helper + 5, &f);
	check(err == 0 && f.function && !strcmp(f.function, "helper_static") && f.module &&
		      !strcmp(f.module, module),
	      desc, "err %d function %s module %s", err, s_or_null(f.function),
	      s_or_null(f.module));
	symbolizer__free(s);
}

static void test_child(void)
{
	char prog[PATH_MAX], src[PATH_MAX], del[PATH_MAX];
	struct proc_maps *m = NULL;
	const struct vma *v;
	struct child c;
	FILE *f;

	snprintf(src, sizeof(src), "%s/child.c", tmpdir);
	snprintf(prog, sizeof(prog), "%s/child", tmpdir);
	snprintf(del, sizeof(del), "%s/child_del", tmpdir);
	f = fopen(src, "w");
	if (f) {
		fputs(child_src, f);
		fclose(f);
	}
	if (!f || run("cc -g -O1 -o %s %s && cp %s %s && cd %s && "
		      "objcopy --only-keep-debug child child.debug && strip child && "
		      "objcopy --add-gnu-debuglink=child.debug child", prog, src, prog, del, tmpdir)) {
		check(0, "build the child program", "toolchain failed");
		return;
	}

	if (child_start(prog, &c)) {
		check(0, "start the stripped child", NULL);
		return;
	}
	if (proc_maps__read((uint32_t)c.pid, &m) == 0)
		expect_helper("stripped child: static function from its debug file", m, c.helper,
			      prog);
	child_stop(&c);
	if (m)
		expect_helper("exited child: file opened by its path", m, c.helper, prog);
	proc_maps__free(m);
	m = NULL;

	if (child_start(del, &c)) {
		check(0, "start the child to delete", NULL);
		return;
	}
	unlink(del);
	if (proc_maps__read((uint32_t)c.pid, &m) == 0) {
		v = proc_maps__find(m, c.helper);
		check(v && v->deleted && v->path && !strcmp(v->path, del),
		      "deleted executable flagged in maps", "path %s",
		      v ? s_or_null(v->path) : "(no vma)");
		if (geteuid() == 0)
			expect_helper("deleted executable read through map_files", m, c.helper, del);
		else
			printf("ok - deleted executable read through map_files # skip: not root\n");
	}
	child_stop(&c);
	proc_maps__free(m);
}

/* A crafted mapping of tmpdir/name as if the file were mapped at 0x10000000. */
static struct proc_maps *fake_maps(const char *name, uint64_t inode)
{
	struct proc_maps *m = NULL;
	char text[PATH_MAX + 128], path[PATH_MAX];
	struct stat st;
	unsigned int maj = 0, min = 0x63;

	/* A file found by path must be the mapped one: real device and inode when it exists. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (inode && !stat(path, &st)) {
		inode = st.st_ino;
		maj = major(st.st_dev);
		min = minor(st.st_dev);
	}
	snprintf(text, sizeof(text), "10000000-10400000 r-xp 00000000 %02x:%02x %" PRIu64 " %s\n",
		 maj, min, inode, path);
	if (proc_maps__parse(text, strlen(text), (uint32_t)getpid(), &m))
		return NULL;
	return m;
}

static void test_unreadable(void)
{
	struct symbolizer *s = symbolizer__new(), *s2 = symbolizer__new();
	uint64_t malloc_off = nm_addr(LIBC, "malloc");
	struct proc_maps *m = fake_maps("late.so", 777777);
	struct proc_maps *m0 = fake_maps("late0.so", 0), *m1 = fake_maps("missing0.so", 0);
	uint64_t ip = 0x10000000 + malloc_off + 4;
	struct sym_frame f;
	int err;

	if (!s || !s2 || !m || !m0 || !m1 || !malloc_off) {
		check(0, "unreadable file setup", NULL);
		goto out;
	}
	err = symbolizer__resolve(s, m, ip, &f);
	check(err == -ENOENT && ends_with(f.module, "/late.so") && !f.function &&
		      f.offset == malloc_off + 3,
	      "missing file: module and file offset, no function", "err %d offset %" PRIx64,
	      err, f.offset);
	run("cp %s %s/late.so && cp %s %s/late0.so", LIBC, tmpdir, LIBC, tmpdir);
	err = symbolizer__resolve(s, m, ip, &f);
	check(err == -ENOENT && !f.function, "a file found unreadable is not retried",
	      "err %d function %s", err, s_or_null(f.function));
	/* The file that appeared is not the one mapped (another inode): never read. */
	err = symbolizer__resolve(s2, m, ip, &f);
	check(err == -ENOENT && !f.function, "a file with another inode than mapped is not read",
	      "err %d function %s", err, s_or_null(f.function));
	/* Mapped as that file (its inode): a new symbolizer reads it. */
	proc_maps__free(m);
	m = fake_maps("late.so", 777777);
	err = m ? symbolizer__resolve(s2, m, ip, &f) : -ENOMEM;
	check(err == 0 && f.function && !strcmp(f.function, "malloc") && f.offset == malloc_off + 3,
	      "a new symbolizer reads the file", "err %d function %s", err,
	      s_or_null(f.function));
	/* Inode 0: the path tells files apart. */
	err = symbolizer__resolve(s, m0, ip, &f);
	check(err == 0 && f.function && !strcmp(f.function, "malloc"),
	      "inode 0: file keyed by path", "err %d", err);
	err = symbolizer__resolve(s, m1, ip, &f);
	check(err == -ENOENT && !f.function && ends_with(f.module, "/missing0.so"),
	      "inode 0: another path is another file", "err %d", err);
out:
	proc_maps__free(m);
	proc_maps__free(m0);
	proc_maps__free(m1);
	symbolizer__free(s);
	symbolizer__free(s2);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_self();
	test_anon();
	test_child();
	test_unreadable();
	run("rm -rf %s", tmpdir);
	return unit_exit();
}
