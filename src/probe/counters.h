/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's counters and the maps that can fill up, as reports name
 * them. The names are part of the JSON contract: never rename.
 */
#ifndef MEMTRACE_COUNTERS_H
#define MEMTRACE_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include "memtrace.h"

/* The BPF maps that can fill up, as reported ("maps" in JSON). */
enum mt_map_id {
	MT_MAP_ALLOCS,		/* live blocks */
	MT_MAP_STATS,		/* (process, stack) figures */
	MT_MAP_STACKS,		/* call stacks */
	MT_MAP_PROCS,		/* traced processes */
	MT_MAP_UNWIND_ROWS,	/* unwind-table rows (0 of 0 with --fp-only) */
	MT_MAP_MAX
};

struct mt_map_usage {
	uint64_t entries;
	uint64_t max_entries;
};

/* Counter names as printed in JSON ("counters" object) and text. */
const char *mt_counter_name(enum mt_counter c);
/* The option that fixes a loss counted by c, or NULL when none does. */
const char *mt_counter_remedy(enum mt_counter c);
/* Map names as printed in JSON ("maps" object) and text; the option that sizes each. */
const char *mt_map_name(enum mt_map_id m);
const char *mt_map_option(enum mt_map_id m);
/* true when c counts lost information (it is then part of lost_events). */
bool mt_counter_is_loss(enum mt_counter c);

#endif
