/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "target/py_namer.h"
#include "util/log.h"

/* How long the thread waits for events before it looks at its requests. */
#define POLL_MS 50

struct proc {
	uint32_t pid;
	const struct py_interp *py;
};

struct py_namer {
	struct loader *l;
	struct symbolizer *sym;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct proc *procs;
	size_t nr_procs;
	bool stop;
	uint64_t sync_asked, sync_done;
};

static const struct py_interp *find_py(struct py_namer *n, uint32_t pid)
{
	const struct py_interp *py = NULL;
	size_t i;

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->nr_procs; i++)
		if (n->procs[i].pid == pid)
			py = n->procs[i].py;
	pthread_mutex_unlock(&n->lock);
	return py;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct mt_py_stack_event *e = data;
	struct py_namer *n = ctx;
	const struct py_interp *py;
	uint64_t bias = 0;

	if (size < sizeof(*e))
		return 0;
	py = find_py(n, e->pid);
	if (!py || loader__py_bias(n->l, e->pid, &bias))
		return 0;
	symbolizer__py_seen(n->sym, e->pid, py, bias, e->f, e->nr);
	return 0;
}

static void *run(void *arg)
{
	struct py_namer *n = arg;
	uint64_t asked;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&n->lock);
		stop = n->stop;
		asked = n->sync_asked;
		pthread_mutex_unlock(&n->lock);
		/* Asked to stop or to catch up: what is there now is taken before answering. */
		loader__poll_py(n->l, stop || asked != n->sync_done ? 0 : POLL_MS);
		pthread_mutex_lock(&n->lock);
		n->sync_done = asked;
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->lock);
		if (stop)
			return NULL;
	}
}

int py_namer__start(struct loader *l, struct symbolizer *sym, struct py_namer **out)
{
	struct py_namer *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return -ENOMEM;
	n->l = l;
	n->sym = sym;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	err = loader__attach_py_events(l, on_event, n);
	if (!err)
		err = -pthread_create(&n->thread, NULL, run, n);
	if (err) {
		pthread_mutex_destroy(&n->lock);
		pthread_cond_destroy(&n->cond);
		free(n);
		return err;
	}
	*out = n;
	return 0;
}

int py_namer__add(struct py_namer *n, uint32_t pid, const struct py_interp *py)
{
	struct proc *p;

	if (!n)
		return 0;
	pthread_mutex_lock(&n->lock);
	p = realloc(n->procs, (n->nr_procs + 1) * sizeof(*p));
	if (p) {
		n->procs = p;
		n->procs[n->nr_procs++] = (struct proc){ pid, py };
	}
	pthread_mutex_unlock(&n->lock);
	return p ? 0 : -ENOMEM;
}

void py_namer__remove(struct py_namer *n, uint32_t pid)
{
	size_t i;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->nr_procs; i++)
		if (n->procs[i].pid == pid)
			n->procs[i--] = n->procs[--n->nr_procs];
	pthread_mutex_unlock(&n->lock);
}

void py_namer__sync(struct py_namer *n)
{
	uint64_t want;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	want = ++n->sync_asked;
	while (n->sync_done < want)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
}

void py_namer__stop(struct py_namer *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n->procs);
	free(n);
}
