/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include "memtrace.h"
#include "util/stack_remap.h"

struct remap_ent {
	uint64_t prov;		/* 0: empty */
	uint64_t id;
	uint32_t pid;
	uint32_t dead;		/* deleted: probing goes on past it */
};

struct stack_remap {
	pthread_mutex_t lock;
	struct remap_ent *slots;
	size_t nr_slots;	/* a power of 2 */
	size_t used;		/* live and dead entries */
	size_t live;
};

static size_t slot_of(uint64_t prov, size_t nr_slots)
{
	return (size_t)((prov * 0x9e3779b97f4a7c15ULL) >> 20) & (nr_slots - 1);
}

struct stack_remap *stack_remap__new(void)
{
	struct stack_remap *r = calloc(1, sizeof(*r));

	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

static struct remap_ent *find(struct stack_remap *r, uint64_t prov)
{
	size_t i, k;

	if (!r->nr_slots)
		return NULL;
	for (i = slot_of(prov, r->nr_slots), k = 0; k < r->nr_slots; i = (i + 1) & (r->nr_slots - 1), k++) {
		if (!r->slots[i].prov)
			return NULL;
		if (r->slots[i].prov == prov && !r->slots[i].dead)
			return &r->slots[i];
	}
	return NULL;
}

static int insert(struct remap_ent *slots, size_t nr_slots, const struct remap_ent *e)
{
	size_t i = slot_of(e->prov, nr_slots), k;

	for (k = 0; k < nr_slots; i = (i + 1) & (nr_slots - 1), k++)
		if (!slots[i].prov) {
			slots[i] = *e;
			return 0;
		}
	return -ENOMEM;
}

/* Room for one more, keeping the table under half full; dead entries are dropped. */
static int make_room(struct stack_remap *r)
{
	struct remap_ent *slots;
	size_t n, i;

	if ((r->used + 1) * 2 <= r->nr_slots)
		return 0;
	n = r->nr_slots ? r->nr_slots : 256;
	while ((r->live + 1) * 2 > n)
		n *= 2;
	if ((r->live + 1) * 4 > n)
		n *= 2;
	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < r->nr_slots; i++)
		if (r->slots[i].prov && !r->slots[i].dead)
			insert(slots, n, &r->slots[i]);
	free(r->slots);
	r->slots = slots;
	r->nr_slots = n;
	r->used = r->live;
	return 0;
}

int stack_remap__put(struct stack_remap *r, uint32_t pid, uint64_t prov_id, uint64_t id)
{
	struct remap_ent e = { .prov = prov_id, .id = id, .pid = pid }, *old;
	int err = 0;

	if (!prov_id)
		return 0;
	pthread_mutex_lock(&r->lock);
	old = find(r, prov_id);
	if (old) {
		old->id = id;
	} else {
		err = make_room(r);
		if (!err)
			err = insert(r->slots, r->nr_slots, &e);
		if (!err) {
			r->used++;
			r->live++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

uint64_t stack_remap__get(struct stack_remap *r, uint64_t prov_id)
{
	const struct remap_ent *e;
	uint64_t id = prov_id;

	/* Most ids are not provisional: no lock for them. */
	if (!r || !(prov_id & MT_STACK_ID_DEFERRED_BIT))
		return prov_id;
	pthread_mutex_lock(&r->lock);
	e = find(r, prov_id);
	if (e)
		id = e->id;
	pthread_mutex_unlock(&r->lock);
	return id;
}

void stack_remap__forget_pid(struct stack_remap *r, uint32_t pid)
{
	size_t i;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nr_slots; i++)
		if (r->slots[i].prov && !r->slots[i].dead && r->slots[i].pid == pid) {
			r->slots[i].dead = 1;
			r->live--;
		}
	pthread_mutex_unlock(&r->lock);
}

int stack_remap__targets(struct stack_remap *r, uint64_t **ids, size_t *nr)
{
	uint64_t *n;
	size_t i, k = *nr;
	int err = 0;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	n = realloc(*ids, (k + r->live + 1) * sizeof(*n));
	if (!n) {
		err = -ENOMEM;
	} else {
		for (i = 0; i < r->nr_slots; i++)
			if (r->slots[i].prov && !r->slots[i].dead)
				n[k++] = r->slots[i].id;
		*ids = n;
		*nr = k;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

size_t stack_remap__size(struct stack_remap *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->live;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void stack_remap__free(struct stack_remap *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r);
}
