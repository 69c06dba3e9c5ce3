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
#include "probe/stack_gc.h"
#include "util/log.h"
#include "util/stack_remap.h"
#include "target/sysview.h"

struct seen_file {
	uint32_t dev_major, dev_minor;
	uint64_t inode;
};

static bool seen(struct seen_file *files, size_t nr, const struct vma *v)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (files[i].inode == v->inode && files[i].dev_major == v->dev_major &&
		    files[i].dev_minor == v->dev_minor)
			return true;
	return false;
}

int sysview__attach_all(struct loader *l)
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
			kind = target__lib_kind(v->path);
			if (kind != LIB_LIBC && kind != LIB_ALLOCATOR && kind != LIB_CXX)
				continue;
			files[nr_files++] = (struct seen_file){ v->dev_major, v->dev_minor, v->inode };
			/* The mapped file itself: a container's libc is its own file, and no
			 * path inside the container can redirect the lookup. */
			snprintf(path, sizeof(path), "/proc/%lu/map_files/%llx-%llx", pid,
				 (unsigned long long)v->start, (unsigned long long)v->end);
			if (kind != LIB_CXX) {
				if (!file_defines_allocator(path, true))
					continue;
				if (loader__attach(l, -1, v->path, path, false, NULL, &n)) {
					mt_warn("cannot attach to %s: skipped\n", v->path);
					continue;
				}
			} else if (loader__attach_cxx(l, -1, v->path, path, &n)) {
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

/* The stacks the targets' mapped regions name: the stack GC keeps them. */
static int region_stacks(const struct target_set *s, uint64_t **out, size_t *nr_out)
{
	size_t i, j, n = 0;
	uint64_t *ids;

	for (i = 0; i < s->nr; i++)
		n += s->targets[i].vm.nr;
	ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < s->nr; i++)
		for (j = 0; j < s->targets[i].vm.nr; j++)
			if (s->targets[i].vm.regions[j].stack_id)
				ids[n++] = s->targets[i].vm.regions[j].stack_id;
	*out = ids;
	*nr_out = n;
	return 0;
}

/*
 * Take out the stacks no target refers to any more, when a process was
 * forgotten. Those finished deferred walks were filed under are kept.
 */
static int collect_stacks(struct target_set *s, struct loader *l, struct stack_gc *gc,
			  struct stack_remap *remap)
{
	uint64_t *ids = NULL;
	size_t nr;
	int err;

	if (!stack_gc__due(gc))
		return 0;
	err = region_stacks(s, &ids, &nr);
	if (!err)
		err = stack_remap__targets(remap, &ids, &nr);
	if (!err)
		err = stack_gc__run(gc, l, ids, nr);
	free(ids);
	return err;
}

/*
 * Processes to forget, gathered: the BPF side forgets them in one walk of
 * each map (a walk reads every bucket of the allocs map, a million by
 * default). A process gone on a quiet machine is forgotten at once; where
 * processes come and go all the time, one walk every FORGET_EVERY refreshes
 * unless FORGET_MANY are waiting, not a walk a second.
 */
#define FORGET_EVERY 4
#define FORGET_MANY 256

static bool gone__has(const struct target_set *s, uint32_t pid)
{
	size_t i;

	for (i = 0; i < s->nr_gone; i++)
		if (s->gone[i] == pid)
			return true;
	return false;
}

static void gone__add(struct target_set *s, uint32_t pid)
{
	if (gone__has(s, pid))
		return;
	if (s->nr_gone == s->cap_gone) {
		size_t cap = s->cap_gone ? s->cap_gone * 2 : 64;
		uint32_t *n = realloc(s->gone, cap * sizeof(*n));

		if (!n)
			return;	/* forgotten when seen gone again */
		s->gone = n;
		s->cap_gone = cap;
	}
	s->gone[s->nr_gone++] = pid;
}

static void gone__forget(struct target_set *s, struct loader *l, struct stack_remap *remap,
			 struct stack_gc *gc)
{
	size_t i;

	if (s->forget_wait)
		s->forget_wait--;
	if (!s->nr_gone || (s->forget_wait && s->nr_gone < FORGET_MANY))
		return;
	s->forget_wait = FORGET_EVERY;
	loader__forget_pids(l, s->gone, s->nr_gone);
	for (i = 0; i < s->nr_gone; i++)
		stack_remap__forget_pid(remap, s->gone[i]);
	stack_gc__forgot(gc);
	s->nr_gone = 0;
}

int sysview__refresh(struct target_set *s, struct loader *l, struct stack_gc *gc,
		     struct stack_remap *remap)
{
	uint32_t *pids = NULL;
	size_t nr = 0, i;
	int err;

	/* Processes that have been shown as exited once are dropped, with their figures. */
	for (i = 0; i < s->nr;) {
		struct target *t = &s->targets[i];

		if (t->exited && t->shown_exited++ > 0) {
			gone__add(s, t->pid);
			target_set__remove(s, i);
			continue;
		}
		i++;
	}
	gone__forget(s, l, remap, gc);
	err = collect_stacks(s, l, gc, remap);
	if (err)
		mt_debug("cannot take unused stacks out: %s\n", strerror(-err));
	err = loader__traced_pids(l, &pids, &nr);
	if (err)
		return err;
	for (i = 0; i < nr && !err; i++) {
		bool added;

		if (target_set__find(s, pids[i]) || gone__has(s, pids[i]))
			continue;
		err = target_set__add_seen(s, pids[i], &added);
		/* Gone before we looked: nothing to show, let the BPF side forget it. */
		if (!err && !added)
			gone__add(s, pids[i]);
	}
	free(pids);
	return err;
}
