/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "symbols/elf_file.h"
#include "probe/loader.h"
#include "util/log.h"
#include "unwind/unwind.h"
#include "unwind/unwind_internal.h"
#include "unwind/unwind_table.h"

int unwinder__new(struct loader *l, struct unwinder **out)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->loader = l;
	err = loader__unwind_rows(l, &u->rows, &u->rows_max);
	if (err) {
		free(u);
		return err;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->stats.rows_max = u->rows_max;
	*out = u;
	return 0;
}

static struct file_table *cached(struct unwinder *u, const struct vma *v)
{
	size_t i;

	for (i = 0; i < u->nr_files; i++) {
		struct file_table *f = &u->files[i];

		if (f->pgoff != v->pgoff)
			continue;
		if (v->inode ? (f->inode == v->inode && f->dev_major == v->dev_major &&
				f->dev_minor == v->dev_minor)
			     : (f->path && !strcmp(f->path, v->path)))
			return f;
	}
	return NULL;
}

/* Build the table of the file behind v (opened through the process's root) and place its rows. */
static struct file_table *load_file(struct unwinder *u, uint32_t pid, const struct vma *v)
{
	struct unwind_table t = { 0 };
	char path[PATH_MAX + 64];
	struct elf_file *ef = NULL;
	struct file_table *f;
	int err;

	if (u->nr_files == u->cap_files) {
		size_t cap = u->cap_files ? u->cap_files * 2 : 32;
		struct file_table *n = realloc(u->files, cap * sizeof(*n));

		if (!n)
			return NULL;
		u->files = n;
		u->cap_files = cap;
	}
	f = &u->files[u->nr_files++];
	memset(f, 0, sizeof(*f));
	f->dev_major = v->dev_major;
	f->dev_minor = v->dev_minor;
	f->inode = v->inode;
	f->path = v->inode ? NULL : strdup(v->path);
	f->pgoff = v->pgoff;

	snprintf(path, sizeof(path), "/proc/%u/map_files/%llx-%llx", pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	err = elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (!err)
		err = elf_file__code_mapping_vaddr(ef, v->pgoff, &f->vaddr_at_pgoff);
	elf_file__free(ef);
	if (!err)
		err = unwind_table__build_from_file(path, &t);
	if (err) {
		f->status = err;
		u->stats.files_without_cfi++;
		mt_debug("no unwind table for %s: %s\n", v->path, strerror(-err));
		return f;
	}
	f->base = t.base;
	/*
	 * Rows even where most of the file keeps frame pointers: one function
	 * built without them (a Rust crate's code beside its std, a C file built
	 * -O2 beside -fno-omit-frame-pointer ones) breaks a frame-pointer walk.
	 */
	if (u->rows_used + t.nr > u->rows_max) {
		u->stats.rows_full++;
		mt_warn("unwind tables full: %s is walked with frame pointers only\n", v->path);
	} else {
		memcpy(&u->rows[u->rows_used], t.rows, t.nr * sizeof(*t.rows));
		f->row_first = (uint32_t)u->rows_used;
		f->row_count = (uint32_t)t.nr;
		f->fp_calls = t.fp_calls;
		memcpy(f->fp_slow_lo, t.fp_slow_lo, sizeof(f->fp_slow_lo));
		memcpy(f->fp_slow_hi, t.fp_slow_hi, sizeof(f->fp_slow_hi));
		u->rows_used += t.nr;
		u->stats.rows_used = u->rows_used;
		u->stats.files++;
		mt_debug("unwind table for %s: %zu rows%s%s\n", v->path, t.nr,
			 t.mostly_fp ? " (most of its code keeps frame pointers)" : "",
			 t.fp_calls ? "; its calls are on frame-pointer rows: walked by rbp" : "");
	}
	unwind_table__free(&t);
	return f;
}

static int cmp_modules(const void *a, const void *b)
{
	const struct mt_module *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

bool unwinder_is_code(const struct vma *v)
{
	return v->perms[2] == 'x' && !v->deleted && (!v->path || strcmp(v->path, "[vsyscall]"));
}

const struct file_table *unwinder_table_locked(struct unwinder *u, uint32_t pid, const struct vma *v)
{
	const struct file_table *f = cached(u, v);

	return f ? f : load_file(u, pid, v);
}

int unwinder__publish(struct unwinder *u, uint32_t pid, const struct proc_maps *maps, bool fp_only,
		      bool build)
{
	struct mt_proc_modules *mods;
	size_t i, skipped = 0;
	int err = 0;

	mods = calloc(1, sizeof(*mods));
	if (!mods)
		return -ENOMEM;
	/* A walk kept by a thread (mt_walk_memo) was made with the modules of one generation. */
	pthread_mutex_lock(&u->lock);
	if (!++u->gen)
		u->gen = 1;
	mods->gen = u->gen;
	pthread_mutex_unlock(&u->lock);
	if (fp_only) {
		/* Walked with frame pointers (Go keeps them everywhere): nothing to look up. */
		mods->flags = MT_MODS_F_FP_ONLY;
		err = loader__set_modules(u->loader, pid, mods);
		free(mods);
		return err;
	}
	pthread_mutex_lock(&u->lock);
	/*
	 * Every executable mapping is listed, with rows or without (walked with
	 * frame pointers): the walker takes a return address outside all of
	 * them for a step gone wrong, or for code mapped since.
	 */
	for (i = 0; i < maps->nr; i++) {
		const struct vma *v = &maps->vmas[i];
		const struct file_table *f = NULL;
		struct mt_module *m;

		if (v->path && !strcmp(v->path, "[uprobes]"))
			mods->tramp = v->start;
		if (!unwinder_is_code(v))
			continue;
		if (mods->nr == MT_MAX_MODULES) {
			skipped++;
			continue;
		}
		m = &mods->m[mods->nr++];
		*m = (struct mt_module){ .start = v->start, .end = v->end };
		if (vma__is_file(v)) {
			f = build ? unwinder_table_locked(u, pid, v) : cached(u, v);
			/* Not built yet: a walk reaching it goes to userspace, which builds it. */
			if (!f && !build) {
				m->row_count = MT_ROWS_PENDING;
				continue;
			}
			if (!f) {
				err = -ENOMEM;
				break;
			}
		}
		if (!f || f->status || !f->row_count)
			continue;
		/* address - start + pgoff is the file offset; vaddr_at_pgoff maps it. */
		m->bias = v->start - f->vaddr_at_pgoff + f->base;
		m->row_first = f->row_first;
		m->row_count = f->row_count;
		if (f->fp_calls) {
			m->flags = MT_MOD_F_FP_CALLS;
			memcpy(m->fp_slow_lo, f->fp_slow_lo, sizeof(m->fp_slow_lo));
			memcpy(m->fp_slow_hi, f->fp_slow_hi, sizeof(m->fp_slow_hi));
		}
	}
	pthread_mutex_unlock(&u->lock);
	if (skipped)
		mt_debug("pid %u: %zu executable mappings past the first %d: frames in them end "
			 "the walk\n", pid, skipped, MT_MAX_MODULES);
	if (!err) {
		qsort(mods->m, mods->nr, sizeof(mods->m[0]), cmp_modules);
		err = loader__set_modules(u->loader, pid, mods);
	}
	free(mods);
	return err;
}

int unwinder__preload(struct unwinder *u, uint32_t pid, const struct vma *v)
{
	const struct file_table *f;

	pthread_mutex_lock(&u->lock);
	f = unwinder_table_locked(u, pid, v);
	pthread_mutex_unlock(&u->lock);
	return f ? 0 : -ENOMEM;
}

int unwinder__update(struct unwinder *u, const struct target *t, bool build)
{
	if (!t->maps)
		return 0;
	return unwinder__publish(u, t->pid, t->maps, t->alloc.is_go, build);
}

void unwinder__stats(struct unwinder *u, struct unwinder_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}

void unwinder__free(struct unwinder *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->nr_files; i++)
		free(u->files[i].path);
	free(u->files);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
