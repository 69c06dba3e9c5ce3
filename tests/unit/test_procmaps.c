/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/PID/maps parsing: exact fields of a fixed text with every kind of
 * line, malformed lines skipped, lookups at the edges of mappings, and the
 * live file of this process, of a zombie and of a reaped child.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/procmaps.h"
#include "unit.h"

static const char maps_text[] =
	"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
	"00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/dbus-daemon\n"
	"0e3d1000-0e3f2000 rw-p 00000000 00:00 0                                  [heap]\n"
	"this line is garbage\n"
	"\n"
	"7f0000003000-7f0000002000 r--p 00000000 00:00 0 /start/after/end\n"
	"7f0000010000-7f0000011000 r--p 00000000 08:02\n"
	"7f0000020000-7f0000021000 r--p zz000000 08:02 1 /bad/offset\n"
	"7f0000030000-7f0000031000 r-p 00000000 08:02 1 /short/perms\n"
	"17f00000400000000-7f0000041000 r--p 00000000 08:02 1 /overflow\n"
	"7f0000050000-7f0000051000 r--p 00000000 08:02 12x /bad/inode\n"
	"-7f0000051000 r--p 00000000 08:02 1 /no/start\n"
	"7f0000001000-7f0000002000 rw-p 00000000 00:00 0 \n"
	"7f0000000000-7f0000001000 r-xp 00002000 fd:01 42  /tmp/my lib.so (deleted)\n"
	"7f0000005000-7f0000006000 r--p 00000000 103:0a 99  /path/with  two  spaces \n"
	"7f0000006000-7f0000007000 r--p 00000000 103:0a 100 /only (deleted) inside\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

struct expect {
	uint64_t start, end, pgoff, inode;
	uint32_t maj, min;
	const char *perms, *path;
	bool deleted;
};

static const struct expect expected[] = {
	{ 0x400000, 0x452000, 0, 173521, 8, 2, "r-xp", "/usr/bin/dbus-daemon", false },
	{ 0x651000, 0x652000, 0x51000, 173521, 8, 2, "r--p", "/usr/bin/dbus-daemon", false },
	{ 0xe3d1000, 0xe3f2000, 0, 0, 0, 0, "rw-p", "[heap]", false },
	{ 0x7f0000000000, 0x7f0000001000, 0x2000, 42, 0xfd, 1, "r-xp", "/tmp/my lib.so", true },
	{ 0x7f0000001000, 0x7f0000002000, 0, 0, 0, 0, "rw-p", NULL, false },
	{ 0x7f0000005000, 0x7f0000006000, 0, 99, 0x103, 0xa, "r--p", "/path/with  two  spaces ",
	  false },
	{ 0x7f0000006000, 0x7f0000007000, 0, 100, 0x103, 0xa, "r--p", "/only (deleted) inside",
	  false },
	{ 0x7ffd00000000, 0x7ffd00021000, 0, 0, 0, 0, "rw-p", "[stack]", false },
	{ 0x7ffd00100000, 0x7ffd00102000, 0, 0, 0, 0, "r-xp", "[vdso]", false },
	{ 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "--xp", "[vsyscall]", false },
};

#define NR_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void test_fixed_text(void)
{
	struct proc_maps *m = NULL;
	const struct vma *v;
	char desc[128];
	size_t i;
	int err;

	err = proc_maps__parse(maps_text, strlen(maps_text), 1234, &m);
	check(err == 0 && m, "parse fixed maps text", "err %d", err);
	if (!m)
		return;
	check(m->pid == 1234, "pid kept", "pid %u", m->pid);
	check(m->nr == NR_EXPECTED, "malformed lines skipped, others kept", "nr %zu, want %zu",
	      m->nr, NR_EXPECTED);
	for (i = 0; i < NR_EXPECTED && i < m->nr; i++) {
		const struct expect *e = &expected[i];

		v = &m->vmas[i];
		snprintf(desc, sizeof(desc), "vma %zu fields (%s)", i, e->path ? e->path : "anon");
		check(v->start == e->start && v->end == e->end && v->pgoff == e->pgoff &&
			      v->inode == e->inode && v->dev_major == e->maj &&
			      v->dev_minor == e->min && !strcmp(v->perms, e->perms) &&
			      str_eq(v->path, e->path) && v->deleted == e->deleted,
		      desc,
		      "%" PRIx64 "-%" PRIx64 " %s %" PRIx64 " %x:%x %" PRIu64 " '%s' deleted=%d",
		      v->start, v->end, v->perms, v->pgoff, v->dev_major, v->dev_minor, v->inode,
		      v->path ? v->path : "(null)", v->deleted);
	}

	v = proc_maps__find(m, 0x400000);
	check(v == &m->vmas[0], "find: first byte of a mapping", NULL);
	v = proc_maps__find(m, 0x451fff);
	check(v == &m->vmas[0], "find: last byte of a mapping", NULL);
	v = proc_maps__find(m, 0x452000);
	check(v == NULL, "find: end is exclusive (gap follows)", NULL);
	v = proc_maps__find(m, 0x3fffff);
	check(v == NULL, "find: below the first mapping", NULL);
	v = proc_maps__find(m, 0x7f0000001000);
	check(v == &m->vmas[4], "find: adjacent mapping starts where the previous ends", NULL);
	v = proc_maps__find(m, 0xffffffffff600fff);
	check(v == &m->vmas[NR_EXPECTED - 1], "find: last mapping at the top", NULL);
	v = proc_maps__find(m, UINT64_MAX);
	check(v == NULL, "find: above the last mapping", NULL);

	check(vma__is_file(&m->vmas[0]) && vma__is_file(&m->vmas[3]) &&
		      !vma__is_file(&m->vmas[2]) && !vma__is_file(&m->vmas[4]) &&
		      !vma__is_file(&m->vmas[8]) && !vma__is_file(NULL),
	      "vma__is_file: files yes; heap, anon, vdso no", NULL);
	proc_maps__free(m);
}

static void test_odd_inputs(void)
{
	struct proc_maps *m = NULL;
	const char *unsorted = "3000-4000 r--p 0 00:00 0\n1000-2000 r--p 0 00:00 0\n";
	char junk[4096];
	unsigned int seed = 12345;
	size_t i;
	int err;

	err = proc_maps__parse("", 0, 1, &m);
	check(err == 0 && m && m->nr == 0, "empty text gives no mappings", "err %d", err);
	proc_maps__free(m);

	for (i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245 + 12345;
		junk[i] = (char)(seed >> 16);
	}
	err = proc_maps__parse(junk, sizeof(junk), 1, &m);
	check(err == 0 && m, "random bytes parse without crashing", "err %d", err);
	proc_maps__free(m);

	/* Text not NUL-terminated: the parser must stop at len. */
	err = proc_maps__parse("1000-2000 r-xp 00000000 08:01 7 /a/b99999",
			       strlen("1000-2000 r-xp 00000000 08:01 7 /a"), 1, &m);
	check(err == 0 && m && m->nr == 1 && m->vmas[0].path && !strcmp(m->vmas[0].path, "/a"),
	      "parsing stops at len", "err %d path %s", err,
	      m && m->nr ? m->vmas[0].path : "(none)");
	proc_maps__free(m);

	/* Out of order input is sorted for the binary search. */
	err = proc_maps__parse(unsorted, strlen(unsorted), 1, &m);
	check(err == 0 && m && m->nr == 2 && m->vmas[0].start == 0x1000 &&
		      proc_maps__find(m, 0x3800) == &m->vmas[1],
	      "unsorted input is sorted", "err %d", err);
	proc_maps__free(m);
	proc_maps__free(NULL);
}

static void test_self(void)
{
	struct proc_maps *m = NULL;
	const struct vma *v;
	char exe[PATH_MAX];
	ssize_t n;
	int local = 0;
	int err;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	err = proc_maps__read((uint32_t)getpid(), &m);
	check(err == 0 && m && m->nr > 5, "read own maps", "err %d", err);
	if (!m)
		return;
	v = proc_maps__find(m, (uint64_t)(uintptr_t)test_self);
	check(v && v->path && !strcmp(v->path, exe) && v->perms[2] == 'x' && vma__is_file(v),
	      "own code lies in an executable mapping of the exe", "path %s perms %s",
	      v && v->path ? v->path : "(null)", v ? v->perms : "");
	v = proc_maps__find(m, (uint64_t)(uintptr_t)&local);
	check(v && v->path && !strcmp(v->path, "[stack]"), "a local variable lies in [stack]",
	      "path %s", v && v->path ? v->path : "(null)");
	proc_maps__free(m);
}

/* Thousands of mappings make the file larger than the first read buffer. */
static void test_large(void)
{
	enum { N = 3000 };
	long page = sysconf(_SC_PAGESIZE);
	struct proc_maps *m = NULL;
	char *base;
	size_t i, found = 0;
	int err;

	base = mmap(NULL, (size_t)page * N, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		check(0, "map many pages", "mmap: %s", strerror(errno));
		return;
	}
	/* Alternating protections keep the kernel from merging neighbours. */
	for (i = 0; i < N; i += 2)
		mprotect(base + i * (size_t)page, (size_t)page, PROT_READ | PROT_WRITE);
	err = proc_maps__read((uint32_t)getpid(), &m);
	check(err == 0 && m && m->nr >= N, "read maps with thousands of entries",
	      "err %d nr %zu", err, m ? m->nr : 0);
	for (i = 0; m && i < N; i++) {
		uint64_t a = (uint64_t)(uintptr_t)(base + i * (size_t)page);
		const struct vma *v = proc_maps__find(m, a + 5);

		if (v && v->start == a && v->end == a + (uint64_t)page &&
		    v->perms[1] == (i % 2 ? '-' : 'w'))
			found++;
	}
	check(found == N, "every page found as its own mapping", "%zu of %d", found, N);
	for (i = 1; m && i < m->nr; i++)
		if (m->vmas[i - 1].start >= m->vmas[i].start)
			break;
	check(m && i == m->nr, "mappings sorted by start", NULL);
	proc_maps__free(m);
	munmap(base, (size_t)page * N);
}

static void test_gone(void)
{
	struct proc_maps *m = NULL;
	pid_t pid;
	int err, st;

	pid = fork();
	if (pid == 0)
		_exit(0);
	/* Wait for the zombie without reaping it. */
	for (int i = 0; i < 500; i++) {
		siginfo_t si = { 0 };

		if (!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) && si.si_pid == pid)
			break;
	}
	err = proc_maps__read((uint32_t)pid, &m);
	check(err == -ESRCH && !m, "zombie gives -ESRCH", "err %d", err);
	proc_maps__free(m);
	waitpid(pid, &st, 0);
	err = proc_maps__read((uint32_t)pid, &m);
	check(err == -ENOENT && !m, "reaped process gives -ENOENT", "err %d", err);
	proc_maps__free(m);
}

int main(void)
{
	test_fixed_text();
	test_odd_inputs();
	test_self();
	test_large();
	test_gone();
	return unit_exit();
}
