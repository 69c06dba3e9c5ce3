/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "probe/loader.h"
#include "symbols/elf_file.h"
#include "unwind/feeder.h"
#include "util/stack_remap.h"
#include "unwind/unwind.h"
#include "util/log.h"
#include "util/procmaps.h"

/* How long a poll waits, and how often gone processes' modules are dropped. */
#define POLL_MS 100
#define PRUNE_NS 2000000000ULL
#define STOP_NS 1000000000ULL
#define GO_CACHE 64

struct exe_kind {
	dev_t dev;
	ino_t ino;
	bool go;
};

struct feeder {
	pthread_t thread;
	int stop;		/* read and written with __atomic builtins */
	struct unwinder *u;
	struct loader *l;
	struct stack_remap *remap;
	/* What one poll delivered, handled after it (the callback runs in this thread). */
	uint32_t *pids;
	size_t nr_pids, cap_pids;
	struct mt_uev_deferred **defers;
	size_t nr_defers, cap_defers;
	/* Processes there before memtrace (system-wide), published a few at a time. */
	uint32_t *backlog;
	size_t nr_backlog, cap_backlog;
	/* Processes whose modules were published here: dropped once they are gone. */
	uint32_t *published;
	size_t nr_published, cap_published;
	struct exe_kind kinds[GO_CACHE];
	size_t next_kind;
	pthread_mutex_t stats_lock;
	struct feeder_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int push_pid(uint32_t **v, size_t *nr, size_t *cap, uint32_t pid)
{
	size_t i;

	for (i = 0; i < *nr; i++)
		if ((*v)[i] == pid)
			return 0;
	if (*nr == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		uint32_t *n = realloc(*v, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*v = n;
		*cap = c;
	}
	(*v)[(*nr)++] = pid;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct feeder *f = ctx;
	const struct mt_uev_modules *m = data;
	struct mt_uev_deferred *e;

	if (size < sizeof(*m))
		return 0;
	/* Out of memory, an event is dropped: the next refresh publishes the modules. */
	if (m->type == MT_UEV_MODULES) {
		push_pid(&f->pids, &f->nr_pids, &f->cap_pids, m->pid);
		return 0;
	}
	if (m->type != MT_UEV_DEFERRED || size < sizeof(*e))
		return 0;
	if (f->nr_defers == f->cap_defers) {
		size_t c = f->cap_defers ? f->cap_defers * 2 : 64;
		struct mt_uev_deferred **n = realloc(f->defers, c * sizeof(*n));

		if (!n)
			return 0;
		f->defers = n;
		f->cap_defers = c;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return 0;
	memcpy(e, data, sizeof(*e));
	f->defers[f->nr_defers++] = e;
	return 0;
}

/* A Go program's stacks are walked with frame pointers: its modules need no tables. */
static bool is_go(struct feeder *f, uint32_t pid)
{
	char path[64];
	struct elf_file *ef;
	struct stat st;
	size_t i;
	bool go;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	if (stat(path, &st))
		return false;
	for (i = 0; i < GO_CACHE; i++)
		if (f->kinds[i].ino == st.st_ino && f->kinds[i].dev == st.st_dev && st.st_ino)
			return f->kinds[i].go;
	go = !elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef) &&
	     elf_file__is_go(ef);
	elf_file__free(ef);
	f->kinds[f->next_kind] = (struct exe_kind){ st.st_dev, st.st_ino, go };
	f->next_kind = (f->next_kind + 1) % GO_CACHE;
	return go;
}

static int publish(struct feeder *f, uint32_t pid, const struct proc_maps *maps)
{
	/* Fast, and only what is known: the tables a walk needs are built when it needs them. */
	int err = unwinder__publish(f->u, pid, maps, is_go(f, pid), false);

	if (!err) {
		push_pid(&f->published, &f->nr_published, &f->cap_published, pid);
		pthread_mutex_lock(&f->stats_lock);
		f->stats.published++;
		pthread_mutex_unlock(&f->stats_lock);
	} else {
		mt_debug("pid %u: modules not published: %s\n", pid, strerror(-err));
	}
	return err;
}

static void finish(struct feeder *f, const struct mt_uev_deferred *e, const struct proc_maps *maps)
{
	struct mt_stack st;
	uint64_t id;
	int err;

	err = maps ? unwinder__finish(f->u, e->pid, maps, e, &st, &id) : -ESRCH;
	if (!err)
		err = loader__store_stack(f->l, id, &st);
	if (!err)
		err = stack_remap__put(f->remap, e->pid, e->prov_id, id);
	pthread_mutex_lock(&f->stats_lock);
	if (err)
		f->stats.unfinished++;
	else
		f->stats.finished++;
	pthread_mutex_unlock(&f->stats_lock);
	if (err)
		mt_debug("pid %u: a deferred stack kept as walked: %s\n", e->pid, strerror(-err));
}

/*
 * What one poll delivered: modules first; then the walks, each building the
 * tables it goes through, after which the process's modules are published
 * again with them. Past deadline (ns, 0: none), walks are left as walked.
 */
static void handle(struct feeder *f, uint64_t deadline)
{
	struct proc_maps *maps = NULL;
	uint32_t maps_pid = 0;
	size_t i;

	for (i = 0; i < f->nr_pids; i++) {
		if (deadline && now_ns() > deadline)
			break;
		if (proc_maps__read(f->pids[i], &maps))
			continue;
		publish(f, f->pids[i], maps);
		proc_maps__free(maps);
		maps = NULL;
	}
	for (i = 0; i < f->nr_defers; i++) {
		const struct mt_uev_deferred *e = f->defers[i];

		if (deadline && now_ns() > deadline) {
			pthread_mutex_lock(&f->stats_lock);
			f->stats.unfinished++;
			pthread_mutex_unlock(&f->stats_lock);
		} else {
			if (!maps || maps_pid != e->pid) {
				proc_maps__free(maps);
				maps_pid = e->pid;
				if (proc_maps__read(e->pid, &maps))
					maps = NULL;
			}
			finish(f, e, maps);
			/* The last of this process's walks in a row: its modules, tables and all. */
			if (maps && (i + 1 == f->nr_defers || f->defers[i + 1]->pid != e->pid))
				publish(f, e->pid, maps);
		}
		free(f->defers[i]);
	}
	proc_maps__free(maps);
	f->nr_pids = 0;
	f->nr_defers = 0;
}

/* A few of the processes that were there before memtrace, between events. */
#define BACKLOG_STEP 8

static void publish_backlog(struct feeder *f)
{
	struct proc_maps *maps;
	size_t k;

	for (k = 0; k < BACKLOG_STEP && f->nr_backlog; k++) {
		uint32_t pid = f->backlog[--f->nr_backlog];

		if (proc_maps__read(pid, &maps))
			continue;
		publish(f, pid, maps);
		proc_maps__free(maps);
	}
}

/* Every process there now, to publish in the background (system-wide). */
static int scan_processes(struct feeder *f)
{
	struct dirent *de;
	DIR *dir = opendir("/proc");
	uint32_t self = (uint32_t)getpid();

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid == self)
			continue;
		if (push_pid(&f->backlog, &f->nr_backlog, &f->cap_backlog, (uint32_t)pid))
			break;
	}
	closedir(dir);
	return 0;
}

/* Gone processes' module lists out of the BPF map, making room for new ones. */
static void prune(struct feeder *f)
{
	size_t i = 0;

	while (i < f->nr_published) {
		uint32_t pid = f->published[i];

		if (kill((pid_t)pid, 0) && errno == ESRCH) {
			loader__drop_modules(f->l, pid);
			f->published[i] = f->published[--f->nr_published];
		} else {
			i++;
		}
	}
}

static void *run(void *arg)
{
	struct feeder *f = arg;
	uint64_t next_prune = now_ns() + PRUNE_NS;
	sigset_t all;

	/* Signals are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		bool stopping = __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE);
		int err = loader__poll_unwind(f->l, stopping || f->nr_backlog ? 0 : POLL_MS);

		if (err) {
			mt_warn("unwinding events cannot be read: %s\n", strerror(-err));
			break;
		}
		/* Stopping: the walks waiting get a second at most, then stay as walked. */
		handle(f, stopping ? now_ns() + STOP_NS : 0);
		if (stopping)
			break;
		publish_backlog(f);
		if (now_ns() >= next_prune) {
			prune(f);
			next_prune = now_ns() + PRUNE_NS;
		}
	}
	return NULL;
}

int feeder__start(struct unwinder *u, struct loader *l, struct stack_remap *remap,
		  bool publish_all, struct feeder **out)
{
	struct feeder *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->u = u;
	f->l = l;
	f->remap = remap;
	pthread_mutex_init(&f->stats_lock, NULL);
	err = publish_all ? scan_processes(f) : 0;
	if (!err)
		err = loader__attach_unwind_events(l, on_event, f);
	if (!err)
		err = -pthread_create(&f->thread, NULL, run, f);
	if (err) {
		pthread_mutex_destroy(&f->stats_lock);
		free(f->backlog);
		free(f);
		return err;
	}
	*out = f;
	return 0;
}

void feeder__stats(struct feeder *f, struct feeder_stats *out)
{
	pthread_mutex_lock(&f->stats_lock);
	*out = f->stats;
	pthread_mutex_unlock(&f->stats_lock);
}

void feeder__stop(struct feeder *f)
{
	size_t i;

	if (!f)
		return;
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->thread, NULL);
	mt_debug("unwinding in the background: %llu module lists published, %llu walks finished, "
		 "%llu kept as walked\n", (unsigned long long)f->stats.published,
		 (unsigned long long)f->stats.finished, (unsigned long long)f->stats.unfinished);
	for (i = 0; i < f->nr_defers; i++)
		free(f->defers[i]);
	free(f->defers);
	free(f->pids);
	free(f->published);
	free(f->backlog);
	pthread_mutex_destroy(&f->stats_lock);
	free(f);
}
