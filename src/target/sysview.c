/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * System-wide tracing: probes on every allocator library found mapped in
 * any process (one uprobe per file, for all processes), and targets that
 * come and go as the BPF side takes processes in.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "probe/loader.h"
#include "util/log.h"
#include "app/run.h"
#include "probe/stack_gc.h"
#include "memory/vmstats.h"

struct seen_file {
	uint32_t dev_major, dev_minor;
	uint64_t inode;
};

enum lib_kind { LIB_NONE, LIB_ALLOCATOR, LIB_CXX };

static enum lib_kind lib_kind(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strncmp(base, "libc.so", 7) || strstr(base, "jemalloc") || strstr(base, "tcmalloc") ||
	    strstr(base, "mimalloc"))
		return LIB_ALLOCATOR;
	if (!strncmp(base, "libstdc++.so", 12))
		return LIB_CXX;
	return LIB_NONE;
}

static bool seen(struct seen_file *files, size_t nr, const struct vma *v)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (files[i].inode == v->inode && files[i].dev_major == v->dev_major &&
		    files[i].dev_minor == v->dev_minor)
			return true;
	return false;
}

int sysview__attach_all(struct run *r)
{
	struct seen_file files[256];
	size_t nr_files = 0, nr_objects = 0;
	int probes = 0;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && nr_files < sizeof(files) / sizeof(files[0])) {
		struct proc_maps *maps = NULL;
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		size_t i;

		if (*end || !pid || pid == (unsigned long)getpid())
			continue;
		if (proc_maps__read((uint32_t)pid, &maps))
			continue;
		for (i = 0; i < maps->nr && nr_files < sizeof(files) / sizeof(files[0]); i++) {
			const struct vma *v = &maps->vmas[i];
			char path[PATH_MAX + 64];
			enum lib_kind kind;
			int n = 0;

			if (!vma__is_file(v) || v->deleted || seen(files, nr_files, v))
				continue;
			kind = lib_kind(v->path);
			if (kind == LIB_NONE)
				continue;
			files[nr_files++] = (struct seen_file){ v->dev_major, v->dev_minor, v->inode };
			/* The mapped file itself: a container's libc is its own file, and no
			 * path inside the container can redirect the lookup. */
			snprintf(path, sizeof(path), "/proc/%lu/map_files/%llx-%llx", pid,
				 (unsigned long long)v->start, (unsigned long long)v->end);
			if (kind == LIB_ALLOCATOR) {
				struct allocator_obj a = { .path = v->path, .open_path = path };

				if (!file_defines_allocator(path, true))
					continue;
				if (loader__attach(r->loader, -1, &a, &n)) {
					mt_warn("cannot attach to %s: skipped\n", v->path);
					continue;
				}
			} else if (loader__attach_cxx(r->loader, -1, path, &n)) {
				continue;
			}
			mt_debug("%d probes on %s (dev %u:%u inode %llu)\n", n, v->path, v->dev_major,
				 v->dev_minor, (unsigned long long)v->inode);
			probes += n;
			nr_objects++;
		}
		proc_maps__free(maps);
	}
	closedir(dir);
	if (!probes) {
		mt_err("cannot trace system-wide: no process maps a known allocator library\n");
		return -ENOENT;
	}
	mt_info("attached to all processes: %d probes on %zu libraries\n", probes, nr_objects);
	return 0;
}

static struct target *find(struct run *r, uint32_t pid)
{
	size_t i;

	for (i = 0; i < r->nr_targets; i++)
		if (r->targets[i].pid == pid)
			return &r->targets[i];
	return NULL;
}

static int add_target(struct run *r, uint32_t pid)
{
	struct target *t;

	if (r->nr_targets == r->cap_targets) {
		size_t cap = r->cap_targets ? r->cap_targets * 2 : 64;
		struct target *n = realloc(r->targets, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->targets = n;
		r->cap_targets = cap;
	}
	t = &r->targets[r->nr_targets];
	target__init(t, pid);
	/* Gone before we looked: nothing to show, let the BPF side forget it. */
	if (target__refresh(t)) {
		target__clear(t);
		loader__forget_pid(r->loader, pid);
		stack_gc__forgot(r->stack_gc);
		return 0;
	}
	if (target__find_allocator(t, NULL))
		allocator_obj__clear(&t->alloc);
	vmstats__seed(t);
	r->nr_targets++;
	return 0;
}

int sysview__refresh_targets(struct run *r)
{
	uint32_t *pids = NULL;
	size_t nr = 0, i;
	int err;

	/* Processes that have been shown as exited once are dropped, with their figures. */
	for (i = 0; i < r->nr_targets;) {
		struct target *t = &r->targets[i];

		if (t->exited && t->shown_exited++ > 0) {
			loader__forget_pid(r->loader, t->pid);
			target__clear(t);
			r->targets[i] = r->targets[--r->nr_targets];
			stack_gc__forgot(r->stack_gc);
			continue;
		}
		i++;
	}
	err = stack_gc__run(r->stack_gc, r->loader, r->targets, r->nr_targets);
	if (err)
		mt_debug("cannot take unused stacks out: %s\n", strerror(-err));
	err = loader__traced_pids(r->loader, &pids, &nr);
	if (err)
		return err;
	for (i = 0; i < nr && !err; i++)
		if (!find(r, pids[i]))
			err = add_target(r, pids[i]);
	free(pids);
	return err;
}
