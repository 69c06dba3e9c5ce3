/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* memtrace's command line. */
#ifndef MEMTRACE_OPTIONS_H
#define MEMTRACE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace.h"
#include "target/target.h"

#define MT_DEFAULT_VM_BUFFER (1u << 20)

/* Native tracking: every block, sampled, or exact until it does not fit. */
enum sampling {
	SAMPLING_AUTO,		/* exact; sampled once the allocs map fills or for a large target */
	SAMPLING_EXACT,		/* --exact */
	SAMPLING_FIXED,		/* --sample-rate */
};

struct options {
	uint32_t pids[MT_MAX_PIDS];
	size_t nr_pids;
	char **cmd;
	double duration_s;	/* 0: until the targets exit or a signal */
	double interval_s;
	bool interval_given;
	bool batch;
	size_t top_n;		/* 0: not given */
	double min_age_s;
	uint64_t min_size;
	uint64_t max_size;
	const char *json_path;
	const char *folded_path;
	const char *pprof_path;
	const char *svg_path;
	const char *diff_old;
	const char *diff_new;
	long iterations;	/* -n: refreshes before exiting; 0 = no limit */
	const char *lib;
	uint32_t max_allocs;
	uint32_t max_stacks;
	uint32_t vm_buffer;	/* bytes; a power of 2 */
	int verbose;
	uint32_t max_procs;
	bool empty_probes;
	bool fp_only;		/* frame pointers only (the benchmark compares both) */
	bool interpreter_frames;	/* Python stacks keep the interpreter's C frames */
	bool display;		/* full-screen display: stdout is a terminal and no --batch */
	enum go_live go_live;
	uint64_t go_sample_rate;	/* bytes; 0: Go allocations are not sampled */
	const char *serve_addr;	/* --serve: NULL when not serving */
	size_t metrics_top;	/* stacks given as series on /metrics */
	bool quiet;		/* serving, no display and no --batch: no text reports */
	enum sampling sampling;
	unsigned int sample_shift;	/* SAMPLING_FIXED: log2 of the bytes per sample */
};

/* Parse argv into o. Prints one line and returns -EINVAL on bad input; exits on --help. */
int parse_options(int argc, char **argv, struct options *o);

#endif
