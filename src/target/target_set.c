/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "target/vmstats.h"
#include "target/target_set.h"

void target_set__init(struct target_set *s)
{
	memset(s, 0, sizeof(*s));
	s->command = TARGET_SET_NO_COMMAND;
}

/* A new target at the end, initialised for pid but not counted until the caller says so. */
static struct target *reserve(struct target_set *s, uint32_t pid)
{
	if (s->nr == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct target *n = realloc(s->targets, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->targets = n;
		s->cap = cap;
	}
	target__init(&s->targets[s->nr], pid);
	return &s->targets[s->nr];
}

int target_set__add_command(struct target_set *s, uint32_t pid, const char *path,
			    const char *program, struct allocator_obj *alloc)
{
	const char *base = strrchr(path, '/');
	struct target *t = reserve(s, pid);

	if (!t)
		return -ENOMEM;
	t->traced_from_start = true;
	t->alloc = *alloc;
	memset(alloc, 0, sizeof(*alloc));
	snprintf(t->comm, sizeof(t->comm), "%.15s", base ? base + 1 : path);
	t->exe = realpath(program, NULL);
	s->command = s->nr++;
	return 0;
}

int target_set__add_pid(struct target_set *s, uint32_t pid, const char *lib, bool *alloc_failed)
{
	struct target *t = reserve(s, pid);
	int err;

	*alloc_failed = false;
	if (!t)
		return -ENOMEM;
	err = target__check(pid);
	if (!err)
		err = target__refresh(t);
	if (err) {
		target__clear(t);
		return err == -ENOENT ? -ESRCH : err;
	}
	err = target__find_allocator(t, lib);
	if (err) {
		/* Kept, for the caller's message to name it; the set is not used further. */
		*alloc_failed = true;
		s->nr++;
		return err;
	}
	/* Mappings from before tracing began are known from /proc only. */
	vmstats__seed(t);
	s->nr++;
	return 0;
}

int target_set__add_seen(struct target_set *s, uint32_t pid, bool *added)
{
	struct target *t = reserve(s, pid);

	*added = false;
	if (!t)
		return -ENOMEM;
	/* Gone before we looked: nothing to show. */
	if (target__refresh(t)) {
		target__clear(t);
		return 0;
	}
	if (target__find_allocator(t, NULL))
		allocator_obj__clear(&t->alloc);
	vmstats__seed(t);
	s->nr++;
	*added = true;
	return 0;
}

void target_set__remove(struct target_set *s, size_t i)
{
	target__clear(&s->targets[i]);
	s->targets[i] = s->targets[--s->nr];
}

struct target *target_set__find(struct target_set *s, uint32_t pid)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (s->targets[i].pid == pid)
			return &s->targets[i];
	return NULL;
}

struct target *target_set__command(struct target_set *s)
{
	return s->command == TARGET_SET_NO_COMMAND ? NULL : &s->targets[s->command];
}

bool target_set__all_exited(const struct target_set *s)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (!s->targets[i].exited)
			return false;
	return true;
}

void target_set__clear(struct target_set *s)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		target__clear(&s->targets[i]);
	free(s->targets);
	free(s->gone);
	target_set__init(s);
}
