/* Unit tests: per-stack figures from raw map contents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot/aggregate.h"
#include "unit.h"

static struct agg_entry *find(struct agg_table *t, uint32_t pid, uint64_t stack)
{
	struct agg_entry **list, *hit = NULL;
	size_t n = agg_table__entries(t, pid, &list), i;

	for (i = 0; i < n; i++)
		if (list[i]->stack_id == stack)
			hit = list[i];
	free(list);
	return hit;
}

static void test_plain(void)
{
	struct agg_table *t = agg_table__new(10000000000ULL, 0);
	struct mt_stat_key k1 = { .pid = 7, .stack_id = 0xabc }, k2 = { .pid = 8, .stack_id = 0xabc };
	/* 5 allocated, 1 of them not kept by the full map, 2 live below: 2 freed. */
	struct mt_stat s1 = { .alloc_bytes_total = 500, .allocs_total = 5, .not_recorded = 1 };
	struct mt_stat s2 = { .alloc_bytes_total = 10, .allocs_total = 1 };
	struct mt_alloc_key a = { .addr = 0x1000, .pid = 7 }, b = { .addr = 0x2000, .pid = 7 },
			    orphan = { .addr = 0x3000, .pid = 9 };
	struct mt_alloc_info ia = { .size = 100, .ts_ns = 4000000000ULL, .stack_id = 0xabc };
	struct mt_alloc_info ib = { .size = 200, .ts_ns = 2000000000ULL, .stack_id = 0xabc };
	struct mt_alloc_info io = { .size = 1, .ts_ns = 1, .stack_id = 0xdef };
	struct agg_entry *e;
	struct agg_entry **list;
	size_t n;

	CHECK(agg_table__add_stat(t, &k1, &s1) == 0, "add stat");
	CHECK(agg_table__add_stat(t, &k2, &s2) == 0, "add stat, same stack other pid");
	agg_table__add_block(t, &a, &ia);
	agg_table__add_block(t, &b, &ib);
	agg_table__add_block(t, &orphan, &io);
	agg_table__finish(t);
	e = find(t, 7, 0xabc);
	CHECK(e && e->live_bytes == 300 && e->live_allocs == 2, "live figures are the live blocks");
	CHECK(e && e->frees_total == 2, "frees: counted, kept, and no longer live (%llu)",
	      e ? (unsigned long long)e->frees_total : 0ULL);
	CHECK(e && e->oldest_ts_ns == 2000000000ULL, "oldest live block found");
	e = find(t, 8, 0xabc);
	CHECK(e && e->live_bytes == 0 && e->frees_total == 1 && e->oldest_ts_ns == 0,
	      "processes kept apart");
	CHECK(agg_table__orphans(t) == 1, "a block without a stat entry is an orphan");
	n = agg_table__entries(t, 0, &list);
	CHECK(n == 2, "all entries listed with pid 0 (%zu)", n);
	free(list);
	agg_table__free(t);
}

static void test_min_age(void)
{
	/* now = 10 s; min age 5 s: the block from t=4 s (6 s old) counts, t=6 s (4 s old) does not */
	struct agg_table *t = agg_table__new(10000000000ULL, 5000000000ULL);
	struct mt_stat_key k = { .pid = 1, .stack_id = 5 };
	struct mt_stat s = { .alloc_bytes_total = 300, .allocs_total = 2 };
	struct mt_alloc_key a = { .addr = 0x10, .pid = 1 }, b = { .addr = 0x20, .pid = 1 };
	struct mt_alloc_info old = { .size = 100, .ts_ns = 4000000000ULL, .stack_id = 5 };
	struct mt_alloc_info young = { .size = 200, .ts_ns = 6000000000ULL, .stack_id = 5 };
	struct agg_entry *e;

	agg_table__add_stat(t, &k, &s);
	agg_table__add_block(t, &a, &old);
	agg_table__add_block(t, &b, &young);
	agg_table__finish(t);
	e = find(t, 1, 5);
	CHECK(e && e->live_bytes == 100 && e->live_allocs == 1, "--min-age keeps only old blocks");
	CHECK(e && e->frees_total == 0, "a young block is live, not freed, under the filter");
	agg_table__free(t);
}

static void test_many(void)
{
	struct agg_table *t = agg_table__new(1, 0);
	struct mt_stat s = { .allocs_total = 1 };
	int bad = 0;
	uint32_t i;

	for (i = 0; i < 50000; i++) {
		struct mt_stat_key k = { .pid = i % 7 + 1, .stack_id = (uint64_t)i * 2654435761u };

		s.alloc_bytes_total = i;
		if (agg_table__add_stat(t, &k, &s))
			bad++;
	}
	for (i = 0; i < 50000; i += 997) {
		struct agg_entry *e = find(t, i % 7 + 1, (uint64_t)i * 2654435761u);

		if (!e || e->stat.alloc_bytes_total != i)
			bad++;
	}
	CHECK(bad == 0, "50000 entries through table growth, all found (%d bad)", bad);
	agg_table__free(t);
}

int main(void)
{
	test_plain();
	test_min_age();
	test_many();
	return unit_exit();
}
