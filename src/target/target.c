/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "symbols/elf_file.h"
#include "target/target.h"
#include "memory/go_span.h"
#include "util/log.h"

#define PF_KTHREAD 0x00200000

static int read_small_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	return (int)n;
}

/* /proc/PID/stat: comm is in parentheses and may itself contain ") ". */
static int read_stat_flags(uint32_t pid, unsigned long *flags, char *comm, size_t comm_len)
{
	char path[64], buf[1024], *open_paren, *close_paren, *p;
	int err, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	err = read_small_file(path, buf, sizeof(buf));
	if (err < 0)
		return err == -ENOENT ? -ESRCH : err;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EINVAL;
	if (comm) {
		size_t n = (size_t)(close_paren - open_paren - 1);

		if (n >= comm_len)
			n = comm_len - 1;
		memcpy(comm, open_paren + 1, n);
		comm[n] = '\0';
	}
	/* After ") " come state (field 3), ppid, ..., flags is field 9. */
	p = close_paren + 1;
	for (field = 3; field < 9 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p)
		return -EINVAL;
	*flags = strtoul(p + 1, NULL, 10);
	return 0;
}

int target__check(uint32_t pid)
{
	unsigned long flags = 0;
	int err;

	if (pid == 0)
		return -ESRCH;
	err = read_stat_flags(pid, &flags, NULL, 0);
	if (err)
		return err;
	if (flags & PF_KTHREAD)
		return -EINVAL;
	return 0;
}

/* RssAnon from /proc/PID/status, in bytes; 0 when unknown. */
static uint64_t read_rss_anon(uint32_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

static uint64_t read_rss(uint32_t pid)
{
	char path[64], buf[256];
	unsigned long long size, resident;

	snprintf(path, sizeof(path), "/proc/%u/statm", pid);
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return 0;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * A container runtime names a container's cgroup after its 64-hex-digit id
 * (docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope,
 * /docker/ID, /kubepods/.../ID): the last such run in the path.
 */
static void find_container_id(const char *cg, char *id, size_t len)
{
	const char *p, *found = NULL;
	size_t n = 0;

	id[0] = '\0';
	for (p = cg; *p; p++) {
		n = isxdigit((unsigned char)*p) && !isupper((unsigned char)*p) ? n + 1 : 0;
		if (n >= 64 && !isxdigit((unsigned char)p[1]))
			found = n == 64 ? p - 63 : NULL;
	}
	if (found && len > 64)
		snprintf(id, len, "%.64s", found);
}

/*
 * /proc/PID/cgroup: the unified hierarchy's line ("0::/path"), else the
 * memory controller's (cgroup v1). Read at each refresh: a process can be
 * moved, and systemd moves a service's first process right after fork.
 */
static void read_cgroup(struct target *t)
{
	char path[64], line[4096], *cg = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", t->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *p = ctl ? strchr(ctl + 1, ':') : NULL;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) || strstr(ctl, ":memory:") == ctl) {
			free(cg);
			cg = strdup(p + 1);
			if (!strncmp(line, "0::", 3))
				break;
		}
	}
	fclose(f);
	if (!cg || (t->cgroup && !strcmp(cg, t->cgroup))) {
		free(cg);
		return;
	}
	free(t->cgroup);
	t->cgroup = cg;
	find_container_id(cg, t->container_id, sizeof(t->container_id));
}

int target__refresh(struct target *t)
{
	struct proc_maps *maps = NULL;
	char path[64], exe[PATH_MAX];
	unsigned long flags;
	uint64_t rss;
	ssize_t n;
	int err;

	err = read_stat_flags(t->pid, &flags, t->comm, sizeof(t->comm));
	if (err)
		return err;
	if (!t->exe) {
		snprintf(path, sizeof(path), "/proc/%u/exe", t->pid);
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			t->exe = strdup(exe);
		}
	}
	err = proc_maps__read(t->pid, &maps);
	if (err)
		return err;
	/* A process that has exited but not been reaped has no mappings left: keep the old copy. */
	if (maps->nr == 0 && t->maps) {
		proc_maps__free(maps);
		return -ESRCH;
	}
	rss = read_rss(t->pid);
	read_cgroup(t);
	proc_maps__free(t->maps);
	t->maps = maps;
	if (rss) {
		t->rss_bytes = rss;
		t->rss_anon_bytes = read_rss_anon(t->pid);
	}
	return 0;
}

static const struct known_lib {
	const char *match;
	bool anywhere;		/* in the file name; else at its start */
	enum lib_kind kind;
	const char *name;	/* the allocator's name in reports */
} known_libs[] = {
	{ "libc.so", false, LIB_LIBC, "glibc" },
	{ "libc-", false, LIB_LIBC, "glibc" },
	{ "jemalloc", true, LIB_ALLOCATOR, "jemalloc" },
	{ "tcmalloc", true, LIB_ALLOCATOR, "tcmalloc" },
	{ "mimalloc", true, LIB_ALLOCATOR, "mimalloc" },
	{ "libstdc++.so", false, LIB_CXX, NULL },
	{ "ld-linux", false, LIB_LD_SO, NULL },
	{ "ld.so", false, LIB_LD_SO, NULL },
};

static const char *base_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return base ? base + 1 : path;
}

static const struct known_lib *known_lib(const char *path)
{
	const char *base = base_name(path);
	size_t i;

	for (i = 0; i < sizeof(known_libs) / sizeof(known_libs[0]); i++) {
		const struct known_lib *k = &known_libs[i];

		if (k->anywhere ? !!strstr(base, k->match) :
				  !strncmp(base, k->match, strlen(k->match)))
			return k;
	}
	return NULL;
}

enum lib_kind target__lib_kind(const char *path)
{
	const struct known_lib *k = known_lib(path);

	return k ? k->kind : LIB_OTHER;
}

char *allocator_name_for(const char *path)
{
	const struct known_lib *k = known_lib(path);

	return strdup(k && k->name ? k->name : base_name(path));
}

const char *target__find_libstdcxx(const struct target *t, char *buf, size_t len,
				   const char **path)
{
	size_t i;

	if (!t->maps)
		return NULL;
	for (i = 0; i < t->maps->nr; i++) {
		const struct vma *v = &t->maps->vmas[i];

		if (!vma__is_file(v) || v->deleted || target__lib_kind(v->path) != LIB_CXX)
			continue;
		snprintf(buf, len, "/proc/%u/map_files/%llx-%llx", t->pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		*path = v->path;
		return buf;
	}
	return NULL;
}

bool file_defines_allocator(const char *open_path, bool dynamic_only)
{
	struct elf_file *ef;
	bool yes;

	if (elf_file__open(open_path, &(struct elf_file_opts){ .no_debug_files = true }, &ef))
		return false;
	yes = elf_file__find_func(ef, "malloc", dynamic_only) &&
	      elf_file__find_func(ef, "free", dynamic_only);
	elf_file__free(ef);
	return yes;
}

/* A Go program carries its runtime: its allocator is the executable itself. */
static bool file_is_go(const char *open_path)
{
	struct elf_file *ef;
	bool go;

	if (elf_file__open(open_path, &(struct elf_file_opts){ .no_debug_files = true }, &ef))
		return false;
	go = elf_file__is_go(ef);
	elf_file__free(ef);
	return go;
}

static int allocator_set_go(struct allocator_obj *a, const char *path, const char *open_path)
{
	a->path = strdup(path);
	a->open_path = strdup(open_path);
	a->name = strdup("go");
	a->is_go = true;
	if (!a->path || !a->open_path || !a->name) {
		allocator_obj__clear(a);
		return -ENOMEM;
	}
	return 0;
}

/*
 * An allocator linked into an executable (static glibc, a static jemalloc)
 * is named by a symbol only it defines; NULL when none is found.
 */
static const char *allocator_from_symbols(const char *open_path)
{
	static const struct {
		const char *symbol, *name;
	} marks[] = {
		{ "__libc_malloc", "glibc" },
		{ "mallctl", "jemalloc" },
		{ "je_mallctl", "jemalloc" },
		{ "tc_malloc", "tcmalloc" },
		{ "mi_malloc", "mimalloc" },
	};
	const char *name = NULL;
	struct elf_file *ef;
	size_t i;

	if (elf_file__open(open_path, &(struct elf_file_opts){ .no_debug_files = true }, &ef))
		return NULL;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]) && !name; i++)
		if (elf_file__find_func(ef, marks[i].symbol, false))
			name = marks[i].name;
	elf_file__free(ef);
	return name;
}

static int allocator_set(struct allocator_obj *a, const char *path, const char *open_path)
{
	const struct known_lib *k = known_lib(path);
	const char *name = k && k->name ? k->name : allocator_from_symbols(open_path);

	a->path = strdup(path);
	a->open_path = strdup(open_path);
	a->name = name ? strdup(name) : allocator_name_for(path);
	if (!a->path || !a->open_path || !a->name) {
		allocator_obj__clear(a);
		return -ENOMEM;
	}
	return 0;
}

static int find_allocator(struct target *t, const char *lib)
{
	char open_path[PATH_MAX + 64];
	const struct vma *libc_vma = NULL;
	const char *last = NULL;
	size_t i;
	int err;

	if (!t->maps) {
		err = target__refresh(t);
		if (err)
			return err;
	}
	if (lib) {
		if (access(lib, R_OK))
			return -errno;
		return allocator_set(&t->alloc, lib, lib);
	}
	if (t->exe) {
		snprintf(open_path, sizeof(open_path), "/proc/%u/exe", t->pid);
		if (file_is_go(open_path))
			return allocator_set_go(&t->alloc, t->exe, open_path);
	}
	/*
	 * The executable first: a static binary carries its own malloc. Then a
	 * preloaded or linked allocator wins over libc's, as it does for the
	 * dynamic linker's symbol lookup.
	 */
	for (i = 0; i < t->maps->nr; i++) {
		const struct vma *v = &t->maps->vmas[i];
		bool is_exe;

		if (!vma__is_file(v) || v->deleted || v->pgoff != 0 ||
		    target__lib_kind(v->path) == LIB_LD_SO)
			continue;
		if (last && !strcmp(last, v->path))
			continue;
		last = v->path;
		is_exe = t->exe && !strcmp(v->path, t->exe);
		/* The mapped file itself: a path inside a container could lead elsewhere. */
		snprintf(open_path, sizeof(open_path), "/proc/%u/map_files/%llx-%llx", t->pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		if (target__lib_kind(v->path) == LIB_LIBC) {
			if (!libc_vma && file_defines_allocator(open_path, true))
				libc_vma = v;
			continue;
		}
		/* A dynamic executable's own malloc binds only if exported. */
		if (file_defines_allocator(open_path, !is_exe))
			return allocator_set(&t->alloc, v->path, open_path);
		if (is_exe && file_defines_allocator(open_path, false))
			return allocator_set(&t->alloc, v->path, open_path);
	}
	if (libc_vma) {
		snprintf(open_path, sizeof(open_path), "/proc/%u/map_files/%llx-%llx", t->pid,
			 (unsigned long long)libc_vma->start, (unsigned long long)libc_vma->end);
		return allocator_set(&t->alloc, libc_vma->path, open_path);
	}
	return -ENOENT;
}

/* Whether a library's file name is libpython's (libpython3.11.so.1.0). */
static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strncmp(base ? base + 1 : path, "libpython", 9);
}

/* Run the dynamic linker in list mode on exe, under our own environment. */
static int list_loaded_objects(const char *exe, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (!buf)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC)) {
		free(buf);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		free(buf);
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pipefd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
		execl(exe, exe, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	return 0;
}

/*
 * Whether the executable asks for a dynamic linker (PT_INTERP), from its
 * program headers alone: what the kernel and ld.so read. A file whose
 * section headers are gone or garbage (sstrip, packers, damage) still runs.
 */
static int exec_is_dynamic(const char *path, bool *dynamic)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, err = 0;
	uint16_t i;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	*dynamic = false;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 4096) {
		err = -ENOEXEC;
		goto out;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph)) {
			err = -ENOEXEC;
			goto out;
		}
		if (ph.p_type == PT_INTERP)
			*dynamic = true;
	}
out:
	close(fd);
	return err;
}

static int find_allocator_for_exec(const char *exe_path, const char *lib, struct allocator_obj *out,
				   char **libstdcxx, char **ld_so, char **libpython)
{
	char *listing = NULL, *line, *save = NULL;
	char libc_path[PATH_MAX] = "";
	struct elf_file *ef;
	bool dynamic = false, found = false;
	int err;

	if (lib) {
		if (access(lib, R_OK))
			return -errno;
		return allocator_set(out, lib, lib);
	}
	err = elf_file__open(exe_path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err) {
		/*
		 * No usable sections: no symbols of its own either. A dynamic
		 * executable's allocator is then in the libraries ld.so loads.
		 */
		if (exec_is_dynamic(exe_path, &dynamic) || !dynamic)
			return err;
		mt_debug("%s: no usable section headers (%s): its allocator is looked for in the "
			 "libraries it loads\n", exe_path, strerror(-err));
		goto libraries;
	}
	if (elf_file__is_go(ef)) {
		elf_file__free(ef);
		return allocator_set_go(out, exe_path, exe_path);
	}
	dynamic = elf_file__is_dynamic(ef);
	if (!dynamic) {
		bool has = elf_file__find_func(ef, "malloc", false) && elf_file__find_func(ef, "free", false);

		elf_file__free(ef);
		return has ? allocator_set(out, exe_path, exe_path) : -ENOENT;
	}
	if (elf_file__find_func(ef, "malloc", true) && elf_file__find_func(ef, "free", true)) {
		elf_file__free(ef);
		return allocator_set(out, exe_path, exe_path);
	}
	elf_file__free(ef);
libraries:
	err = list_loaded_objects(exe_path, &listing);
	if (err)
		return err;
	/* Lines: "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "\t/lib64/ld-linux... (0x...)" */
	for (line = strtok_r(listing, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *arrow = strstr(line, "=> "), *path, *end;

		path = arrow ? arrow + 3 : line;
		while (*path == ' ' || *path == '\t')
			path++;
		if (*path != '/')
			continue;
		end = strstr(path, " (0x");
		if (end)
			*end = '\0';
		if (target__lib_kind(path) == LIB_LD_SO) {
			if (!*ld_so)
				*ld_so = strdup(path);
			continue;
		}
		if (target__lib_kind(path) == LIB_CXX && !*libstdcxx)
			*libstdcxx = strdup(path);
		if (is_libpython(path) && !*libpython)
			*libpython = strdup(path);
		if (target__lib_kind(path) == LIB_LIBC) {
			if (!libc_path[0] && file_defines_allocator(path, true))
				snprintf(libc_path, sizeof(libc_path), "%s", path);
			continue;
		}
		if (found)
			continue;
		if (file_defines_allocator(path, true)) {
			err = allocator_set(out, path, path);
			if (err)
				break;
			found = true;
		}
	}
	free(listing);
	if (found || err)
		return err;
	if (libc_path[0])
		return allocator_set(out, libc_path, libc_path);
	return -ENOENT;
}

void allocator_obj__clear(struct allocator_obj *a)
{
	free(a->py);
	free(a->path);
	free(a->open_path);
	free(a->name);
	free(a->prefix);
	if (a->also) {
		allocator_obj__clear(a->also);
		free(a->also);
	}
	memset(a, 0, sizeof(*a));
}

/*
 * Allocators an executable links privately, under their own names, beside
 * the libc malloc its C code (and the C library itself) still calls: Rust's
 * tikv-jemallocator (`_rjem_` names), a prefixed jemalloc built into a C
 * program (`je_`, as redis bundles it), the mimalloc crate (`mi_` API
 * without its malloc overrides). Each is known by two functions it defines.
 */
static const struct private_allocator {
	const char *mark, *mark2;
	enum alloc_api api;
	const char *prefix, *name;
} private_allocators[] = {
	{ "_rjem_malloc", "_rjem_sdallocx", ALLOC_API_JEMALLOC, "_rjem_", "jemalloc" },
	{ "_rjem_malloc", "_rjem_free", ALLOC_API_JEMALLOC, "_rjem_", "jemalloc" },
	{ "je_malloc", "je_free", ALLOC_API_JEMALLOC, "je_", "jemalloc" },
	{ "mi_malloc_aligned", "mi_free", ALLOC_API_MIMALLOC, "mi_", "mimalloc" },
	{ "mi_malloc", "mi_free", ALLOC_API_MIMALLOC, "mi_", "mimalloc" },
};

/*
 * When the executable at open_path (path as the process names it) links
 * an allocator privately, make it a's allocator and keep what a was (the
 * library allocator) as a->also. 0 when there is none, or -ENOMEM.
 */
static int add_private_allocator(struct allocator_obj *a, const char *path, const char *open_path)
{
	const struct private_allocator *p = NULL;
	struct allocator_obj *also;
	struct elf_file *ef;
	size_t i;

	if (a->is_go || (a->path && !strcmp(a->path, path)))
		return 0;
	if (elf_file__open(open_path, &(struct elf_file_opts){ .no_debug_files = true }, &ef))
		return 0;
	for (i = 0; i < sizeof(private_allocators) / sizeof(private_allocators[0]) && !p; i++)
		if (elf_file__find_func(ef, private_allocators[i].mark, false) &&
		    elf_file__find_func(ef, private_allocators[i].mark2, false))
			p = &private_allocators[i];
	elf_file__free(ef);
	if (!p)
		return 0;
	also = malloc(sizeof(*also));
	if (!also)
		return -ENOMEM;
	*also = *a;
	memset(a, 0, sizeof(*a));
	a->also = also->path ? also : NULL;
	if (!a->also)
		free(also);
	a->path = strdup(path);
	a->open_path = strdup(open_path);
	a->name = strdup(p->name);
	a->prefix = strdup(p->prefix);
	a->api = p->api;
	if (!a->path || !a->open_path || !a->name || !a->prefix) {
		allocator_obj__clear(a);
		return -ENOMEM;
	}
	return 0;
}

/*
 * A CPython interpreter in the file at open_path (path as the process names
 * it: the executable, or libpython): its API allocates every Python object
 * (pymalloc's blocks, and the larger ones it takes from malloc), so it
 * becomes a's allocator, and what a was (libc's malloc, which C extensions
 * and the raw domain call) a->also. 0 when it holds none, or -ENOMEM.
 */
static int add_python_allocator(struct allocator_obj *a, const char *path, const char *open_path)
{
	struct allocator_obj *also;
	struct py_interp *py;

	if (a->is_go || a->py)
		return 0;
	py = malloc(sizeof(*py));
	if (!py)
		return -ENOMEM;
	if (py_interp__open(open_path, py)) {
		free(py);
		return 0;
	}
	also = malloc(sizeof(*also));
	if (!also) {
		free(py);
		return -ENOMEM;
	}
	*also = *a;
	memset(a, 0, sizeof(*a));
	a->also = also->path ? also : NULL;
	if (!a->also)
		free(also);
	a->py = py;
	a->api = ALLOC_API_PYTHON;
	a->path = strdup(path);
	a->open_path = strdup(open_path);
	a->name = strdup("pymalloc");
	if (!a->path || !a->open_path || !a->name) {
		allocator_obj__clear(a);
		return -ENOMEM;
	}
	return 0;
}

/* The interpreter among t's mappings: the executable, or a libpython it maps. */
static int find_python(struct target *t)
{
	char open_path[PATH_MAX + 64];
	const char *last = NULL;
	size_t i;
	int err;

	if (!t->maps)
		return 0;
	for (i = 0; i < t->maps->nr && !t->alloc.py; i++) {
		const struct vma *v = &t->maps->vmas[i];

		if (!vma__is_file(v) || v->deleted || v->pgoff != 0 || (last && !strcmp(last, v->path)))
			continue;
		last = v->path;
		if (!(t->exe && !strcmp(v->path, t->exe)) && !is_libpython(v->path))
			continue;
		snprintf(open_path, sizeof(open_path), "/proc/%u/map_files/%llx-%llx", t->pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		err = add_python_allocator(&t->alloc, v->path, open_path);
		if (err)
			return err;
	}
	return 0;
}

void target__init(struct target *t, uint32_t pid)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pagemap_fd = -1;
	vm_proc__init(&t->vm);
}

void target__clear(struct target *t)
{
	allocator_obj__clear(&t->alloc);
	free(t->exe);
	t->exe = NULL;
	free(t->cgroup);
	t->cgroup = NULL;
	proc_maps__free(t->maps);
	t->maps = NULL;
	vm_proc__clear(&t->vm);
	go_heap__free(t->go_heap);
	t->go_heap = NULL;
	go_mprof__free(t->go_mprof);
	t->go_mprof = NULL;
	go_mprof__profile_clear(&t->go_prof);
	go_span__free(t->go_span);
	t->go_span = NULL;
	go_mprof__profile_clear(&t->go_own);
	free(t->go_gens);
	t->go_gens = NULL;
	t->nr_go_gens = 0;
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	t->pagemap_fd = -1;
}

const struct go_mprof_profile *target__go_profile(const struct target *t, bool *own)
{
	*own = false;
	if (t->go_live != GO_LIVE_MEMTRACE && t->go_prof.read && t->go_prof.rate > 0)
		return &t->go_prof;
	if (t->go_live != GO_LIVE_RUNTIME && t->go_own.read) {
		*own = true;
		return &t->go_own;
	}
	return NULL;
}

int target__find_allocator(struct target *t, const char *lib)
{
	char exe_open[64];
	int err = find_allocator(t, lib);

	if (lib || !t->exe || (err && err != -ENOENT))
		return err;
	snprintf(exe_open, sizeof(exe_open), "/proc/%u/exe", t->pid);
	if (add_private_allocator(&t->alloc, t->exe, exe_open))
		return -ENOMEM;
	if (find_python(t))
		return -ENOMEM;
	return t->alloc.path ? 0 : err;
}

int target__find_allocator_for_exec(const char *exe_path, const char *lib, struct allocator_obj *out,
				    char **libstdcxx, char **ld_so)
{
	char *libpython = NULL;
	int err = find_allocator_for_exec(exe_path, lib, out, libstdcxx, ld_so, &libpython);

	if (lib || (err && err != -ENOENT)) {
		free(libpython);
		return err;
	}
	/* The interpreter: the executable, else a libpython among its libraries. */
	if (add_private_allocator(out, exe_path, exe_path) ||
	    add_python_allocator(out, exe_path, exe_path) ||
	    (!out->py && libpython && add_python_allocator(out, libpython, libpython))) {
		free(libpython);
		return -ENOMEM;
	}
	free(libpython);
	return out->path ? 0 : err;
}
