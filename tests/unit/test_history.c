/* Unit tests: growth, rates, leak score and sparklines over refreshes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot/history.h"
#include "unit.h"

/* One process (pid 10) with two stacks: 1 leaks 1 KiB per second, 2 churns. */
static void fill(struct mt_report *r, struct mt_stack_report st[2], struct mt_proc_report *p, int sec)
{
	memset(r, 0, sizeof(*r));
	memset(p, 0, sizeof(*p));
	memset(st, 0, 2 * sizeof(*st));
	st[0].stack_id = 1;
	st[0].live_bytes = 1024LL * sec;
	st[0].live_allocs = sec;
	st[0].allocs_total = (uint64_t)sec;
	st[0].alloc_bytes_total = 1024ULL * (uint64_t)sec;
	st[0].oldest_age_s = sec;
	st[1].stack_id = 2;
	st[1].live_bytes = (sec % 2) * 4096;	/* up, down, up, down */
	st[1].allocs_total = 100ULL * (uint64_t)sec;
	st[1].alloc_bytes_total = 409600ULL * (uint64_t)sec;
	st[1].oldest_age_s = 0.5;
	p->pid = 10;
	p->stacks = st;
	p->nr_stacks = 2;
	p->heap.live_bytes = st[0].live_bytes + st[1].live_bytes;
	p->heap.allocs_total = st[0].allocs_total + st[1].allocs_total;
	r->procs = p;
	r->nr_procs = 1;
}

int main(void)
{
	struct history *h = history__new();
	struct mt_stack_report st[2];
	struct mt_proc_report p;
	struct mt_report r;
	struct hist_stats s, churn;
	char buf[128];
	int sec;

	for (sec = 1; sec <= 90; sec++) {
		fill(&r, st, &p, sec);
		if (history__add(h, &r, sec))
			CHECK(0, "history__add at %d", sec);
	}
	CHECK(history__stack(h, 10, 1, &s) == 0, "leaking stack found");
	CHECK(fabs(s.growth_per_min - 61440.0) < 1, "growth 60 KiB/min over the last minute (%.1f)",
	      s.growth_per_min);
	CHECK(fabs(s.window_s - 60) < 1e-9, "window is 60 s (%.1f)", s.window_s);
	CHECK(s.rising_fraction == 1.0, "leak rises every interval (%.2f)", s.rising_fraction);
	CHECK(fabs(s.alloc_rate - 1) < 1e-9, "1 allocation per second (%.2f)", s.alloc_rate);
	CHECK(fabs(s.leak_score - log2(1 + 60.0) * 10) < 1e-6, "leak score (%.3f)", s.leak_score);
	CHECK(s.nr_spark == HISTORY_SPARK, "sparkline has %d values", HISTORY_SPARK);
	CHECK(history__stack(h, 10, 2, &churn) == 0, "churning stack found");
	CHECK(churn.leak_score == 0, "churn without growth scores 0 (%.3f)", churn.leak_score);
	CHECK(fabs(churn.alloc_rate - 100) < 1e-9, "churn: 100 allocations/s (%.1f)", churn.alloc_rate);
	CHECK(churn.rising_fraction > 0.45 && churn.rising_fraction < 0.55,
	      "churn rises half the time (%.2f)", churn.rising_fraction);
	CHECK(history__proc(h, 10, &s) == 0 && fabs(s.growth_per_min - 61440.0) < 1,
	      "process growth (%.1f)", s.growth_per_min);
	CHECK(history__stack(h, 11, 1, &s) == -ENOENT, "unknown pid: -ENOENT");
	CHECK(history__stack(h, 10, 0, &s) == -ENOENT, "stack id 0 is not a stack");

	history__stack(h, 10, 1, &s);
	CHECK(!strcmp(history__sparkline(&s, false, buf, sizeof(buf)), "__..,,--==++**##"),
	      "ascii sparkline of a steady rise '%s'", buf);
	history__sparkline(&s, true, buf, sizeof(buf));
	CHECK(strlen(buf) == 3 * HISTORY_SPARK && !strncmp(buf, "\u2581", 3),
	      "utf-8 sparkline, 3 bytes a block");
	history__sparkline(&s, false, buf, 5);
	CHECK(strlen(buf) == 4, "sparkline cut to the buffer");

	/* A stack that stops being reported is forgotten after a while. */
	for (sec = 91; sec <= 400; sec += 10) {
		fill(&r, st, &p, sec);
		p.nr_stacks = 1;
		history__add(h, &r, sec);
	}
	CHECK(history__stack(h, 10, 2, &s) == -ENOENT, "a stack gone for minutes is forgotten");
	CHECK(history__stack(h, 10, 1, &s) == 0, "a stack still reported is kept");
	history__free(h);
	return unit_exit();
}
