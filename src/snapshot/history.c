/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The leak score ranks stacks by steady growth, not by size alone:
 *
 *   score = rising * aged * log2(1 + growth in KiB/min) * 10
 *
 * rising: the share of refresh intervals in the last minute in which the
 * stack's live bytes went up (a leak rises every interval; a cache that
 * fills and churns does not); aged: the age of its oldest live block over
 * the window, capped at 1 (a leak's first blocks stay alive; a busy but
 * balanced stack's oldest block is young); the logarithm keeps a fast leak
 * first without letting size alone decide. A stack that does not grow
 * scores 0.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot/history.h"
#include "util/hash.h"

#define WINDOW_S 60.0
/* Series not refreshed for this long belong to stacks or processes that are gone. */
#define STALE_S 180.0

struct sample {
	double t;
	int64_t live_bytes;
	uint64_t allocs_total;
	uint64_t alloc_bytes_total;
	double oldest_age_s;
};

struct series {
	uint32_t pid;
	uint64_t stack_id;	/* 0: the process itself */
	size_t head, nr;	/* ring of HISTORY_SAMPLES */
	struct sample s[HISTORY_SAMPLES];
	double last_t;
	bool used;
};

struct history {
	struct series *slots;	/* open addressing */
	size_t nr_slots;	/* power of two */
	size_t nr_used;
	double now;
};

struct history *history__new(void)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->nr_slots = 256;
	h->slots = calloc(h->nr_slots, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	return h;
}

void history__free(struct history *h)
{
	if (!h)
		return;
	free(h->slots);
	free(h);
}

static struct series *find(const struct history *h, uint32_t pid, uint64_t stack_id)
{
	size_t mask = h->nr_slots - 1, i;

	for (i = mix64_pair(stack_id, pid) & mask;; i = (i + 1) & mask) {
		struct series *s = &h->slots[i];

		if (!s->used)
			return s;
		if (s->pid == pid && s->stack_id == stack_id)
			return s;
	}
}

/* Rebuild the table at the given size, leaving stale series behind. */
static int rehash(struct history *h, size_t nr_slots)
{
	struct series *old = h->slots;
	size_t old_nr = h->nr_slots, i;

	h->slots = calloc(nr_slots, sizeof(*h->slots));
	if (!h->slots) {
		h->slots = old;
		return -ENOMEM;
	}
	h->nr_slots = nr_slots;
	h->nr_used = 0;
	for (i = 0; i < old_nr; i++) {
		if (!old[i].used || h->now - old[i].last_t > STALE_S)
			continue;
		*find(h, old[i].pid, old[i].stack_id) = old[i];
		h->nr_used++;
	}
	free(old);
	return 0;
}

static int add_sample(struct history *h, uint32_t pid, uint64_t stack_id, const struct sample *smp)
{
	struct series *s;

	/* Keep the load under one half; grow, or just sweep stale series out. */
	if ((h->nr_used + 1) * 2 > h->nr_slots) {
		if (rehash(h, h->nr_slots) || (h->nr_used + 1) * 2 > h->nr_slots)
			if (rehash(h, h->nr_slots * 2))
				return -ENOMEM;
	}
	s = find(h, pid, stack_id);
	if (!s->used) {
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->pid = pid;
		s->stack_id = stack_id;
		h->nr_used++;
	}
	s->s[(s->head + s->nr) % HISTORY_SAMPLES] = *smp;
	if (s->nr < HISTORY_SAMPLES)
		s->nr++;
	else
		s->head = (s->head + 1) % HISTORY_SAMPLES;
	s->last_t = smp->t;
	return 0;
}

int history__add(struct history *h, const struct mt_report *r, double t)
{
	size_t i, j;
	int err;

	h->now = t;
	for (i = 0; i < r->nr_procs; i++) {
		const struct mt_proc_report *p = &r->procs[i];
		struct sample ps = {
			.t = t,
			.live_bytes = p->heap.live_bytes,
			.allocs_total = p->heap.allocs_total,
			.alloc_bytes_total = p->heap.alloc_bytes_total,
			.oldest_age_s = -1,
		};

		for (j = 0; j < p->nr_stacks; j++) {
			const struct mt_stack_report *st = &p->stacks[j];
			struct sample ss = {
				.t = t,
				.live_bytes = st->live_bytes,
				.allocs_total = st->allocs_total,
				.alloc_bytes_total = st->alloc_bytes_total,
				.oldest_age_s = st->oldest_age_s,
			};

			if (st->oldest_age_s > ps.oldest_age_s)
				ps.oldest_age_s = st->oldest_age_s;
			err = add_sample(h, p->pid, st->stack_id, &ss);
			if (err)
				return err;
		}
		err = add_sample(h, p->pid, 0, &ps);
		if (err)
			return err;
	}
	return 0;
}

static const struct sample *at(const struct series *s, size_t i)
{
	return &s->s[(s->head + i) % HISTORY_SAMPLES];
}

static void stats_of(const struct series *s, struct hist_stats *out)
{
	const struct sample *last = at(s, s->nr - 1), *first = NULL, *prev;
	size_t i, start = 0, rising = 0, intervals = 0;
	double dt, growth_kib, aged;

	memset(out, 0, sizeof(*out));
	out->nr_samples = s->nr;
	/* The window: the samples of the last minute. */
	for (i = 0; i < s->nr; i++) {
		if (last->t - at(s, i)->t <= WINDOW_S) {
			start = i;
			break;
		}
	}
	first = at(s, start);
	out->window_s = last->t - first->t;
	if (out->window_s > 0)
		out->growth_per_min = (double)(last->live_bytes - first->live_bytes) /
				      out->window_s * 60.0;
	for (i = start + 1; i < s->nr; i++) {
		intervals++;
		if (at(s, i)->live_bytes > at(s, i - 1)->live_bytes)
			rising++;
	}
	out->rising_fraction = intervals ? (double)rising / (double)intervals : 0;
	if (s->nr >= 2) {
		prev = at(s, s->nr - 2);
		dt = last->t - prev->t;
		if (dt > 0) {
			out->alloc_rate = (double)(last->allocs_total - prev->allocs_total) / dt;
			out->alloc_bytes_rate =
				(double)(last->alloc_bytes_total - prev->alloc_bytes_total) / dt;
		}
	}
	if (out->growth_per_min > 0 && out->window_s > 0) {
		growth_kib = out->growth_per_min / 1024.0;
		aged = last->oldest_age_s > 0 ? last->oldest_age_s / out->window_s : 0;
		if (aged > 1)
			aged = 1;
		out->leak_score = out->rising_fraction * aged * log2(1 + growth_kib) * 10.0;
	}
	for (i = s->nr > HISTORY_SPARK ? s->nr - HISTORY_SPARK : 0; i < s->nr; i++)
		out->spark[out->nr_spark++] = at(s, i)->live_bytes;
}

int history__stack(const struct history *h, uint32_t pid, uint64_t stack_id,
		   struct hist_stats *out)
{
	const struct series *s;

	if (!stack_id)
		return -ENOENT;
	s = find(h, pid, stack_id);
	if (!s->used || !s->nr || h->now - s->last_t > STALE_S)
		return -ENOENT;
	stats_of(s, out);
	return 0;
}

int history__proc(const struct history *h, uint32_t pid, struct hist_stats *out)
{
	const struct series *s = find(h, pid, 0);

	if (!s->used || !s->nr || h->now - s->last_t > STALE_S)
		return -ENOENT;
	stats_of(s, out);
	return 0;
}

const char *history__sparkline(const struct hist_stats *s, bool utf8, char *buf, size_t len)
{
	static const char *const blocks[8] = { "\u2581", "\u2582", "\u2583", "\u2584",
					       "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[8] = { '_', '.', ',', '-', '=', '+', '*', '#' };
	int64_t lo, hi;
	size_t i, n = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (!s->nr_spark)
		return buf;
	lo = hi = s->spark[0];
	for (i = 1; i < s->nr_spark; i++) {
		if (s->spark[i] < lo)
			lo = s->spark[i];
		if (s->spark[i] > hi)
			hi = s->spark[i];
	}
	for (i = 0; i < s->nr_spark; i++) {
		/* A flat series sits on the bottom line. */
		int level = hi > lo ? (int)((double)(s->spark[i] - lo) * 7.0 / (double)(hi - lo) + 0.5)
				    : 0;
		const char *glyph = utf8 ? blocks[level] : NULL;
		size_t gl = utf8 ? strlen(glyph) : 1;

		if (n + gl + 1 > len)
			break;
		if (utf8)
			memcpy(buf + n, glyph, gl);
		else
			buf[n] = ascii[level];
		n += gl;
	}
	buf[n] = '\0';
	return buf;
}
