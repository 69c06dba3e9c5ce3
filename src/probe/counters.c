/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What each BPF-side counter is called in reports, and whether it means figures are missing. */
#include <stddef.h>
#include "probe/counters.h"

static const char *const counter_names[MT_CNT_MAX] = {
	[MT_CNT_ALLOCS_MAP_FULL]	= "allocs_map_full",
	[MT_CNT_STACKS_MAP_FULL]	= "stacks_map_full",
	[MT_CNT_STACK_TRUNCATED]	= "stack_truncated",
	[MT_CNT_STACK_READ_FAILED]	= "stack_read_failed",
	[MT_CNT_MISSED_RETURNS]		= "missed_returns",
	[MT_CNT_UNKNOWN_FREES]		= "unknown_frees",
	[MT_CNT_ADDR_REUSED]		= "addr_reused",
	[MT_CNT_FAILED_ALLOCS]		= "failed_allocs",
	[MT_CNT_VM_EVENTS_LOST]		= "vm_events_lost",
	[MT_CNT_PROCS_MAP_FULL]		= "procs_map_full",
	[MT_CNT_STACKS_STORED]		= "stacks_stored",
	[MT_CNT_GO_SAMPLES_MAP_FULL]	= "go_samples_map_full",
	[MT_CNT_GO_SAMPLES]		= "go_samples",
	[MT_CNT_STACK_CUT]		= "stack_cut",
	[MT_CNT_STACK_DEFERRED]		= "stack_deferred",
	[MT_CNT_STACK_DEFER_LOST]	= "stack_defer_lost",
	[MT_CNT_PY_STACK_TRUNCATED]	= "py_stack_truncated",
	[MT_CNT_PY_STACK_READ_FAILED]	= "py_stack_read_failed",
	[MT_CNT_PY_EVENTS_LOST]		= "py_events_lost",
	[MT_CNT_WALKS_REUSED]		= "walks_reused",
};

const char *mt_counter_name(enum mt_counter c)
{
	if ((unsigned int)c >= MT_CNT_MAX || !counter_names[c])
		return "unknown";
	return counter_names[c];
}

const char *mt_counter_remedy(enum mt_counter c)
{
	switch (c) {
	case MT_CNT_ALLOCS_MAP_FULL:
		return "--max-allocs";
	case MT_CNT_STACKS_MAP_FULL:
		return "--max-stacks";
	case MT_CNT_VM_EVENTS_LOST:
		return "--vm-buffer";
	case MT_CNT_PROCS_MAP_FULL:
		return "--max-procs";
	case MT_CNT_GO_SAMPLES_MAP_FULL:
		return "--go-sample-rate";
	default:
		/* Missed returns and reused addresses come from the traced program's
		 * own behaviour (longjmp, thread cancellation, frees we never saw):
		 * no option makes them go away. */
		return NULL;
	}
}

bool mt_counter_is_loss(enum mt_counter c)
{
	switch (c) {
	case MT_CNT_ALLOCS_MAP_FULL:
	case MT_CNT_STACKS_MAP_FULL:
	case MT_CNT_MISSED_RETURNS:
	case MT_CNT_ADDR_REUSED:
	case MT_CNT_VM_EVENTS_LOST:
	case MT_CNT_PROCS_MAP_FULL:
	case MT_CNT_GO_SAMPLES_MAP_FULL:
		return true;
	default:
		/* A truncated or partly read stack still has its bytes counted, a
		 * failed allocation has nothing to count, and an unknown free is a
		 * block from before tracing began: the figures stay complete. */
		return false;
	}
}

static const char *const map_names[MT_MAP_MAX] = {
	[MT_MAP_ALLOCS]		= "allocs",
	[MT_MAP_STATS]		= "stats",
	[MT_MAP_STACKS]		= "stacks",
	[MT_MAP_PROCS]		= "procs",
	[MT_MAP_UNWIND_ROWS]	= "unwind_rows",
};

const char *mt_map_name(enum mt_map_id m)
{
	if ((unsigned int)m >= MT_MAP_MAX || !map_names[m])
		return "unknown";
	return map_names[m];
}

const char *mt_map_option(enum mt_map_id m)
{
	switch (m) {
	case MT_MAP_ALLOCS:
		return "--max-allocs";
	case MT_MAP_STATS:
	case MT_MAP_STACKS:
		return "--max-stacks";
	case MT_MAP_PROCS:
		return "--max-procs";
	default:
		return NULL;
	}
}
