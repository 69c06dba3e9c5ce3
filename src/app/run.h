/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One tracing run: its targets, the BPF side, and the loops that report. */
#ifndef MEMTRACE_RUN_H
#define MEMTRACE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include "target/launch.h"
#include "app/options.h"
#include "symbols/symbolize.h"
#include "target/target.h"
#include "target/target_set.h"

struct feeder;
struct loader;
struct py_namer;
struct server;
struct stack_gc;
struct stack_remap;
struct unwinder;

extern volatile sig_atomic_t exiting;

struct run {
	struct options *o;
	struct target_set set;	/* set.command: the command in cmd_mode */
	struct loader *loader;
	struct unwinder *unwinder;	/* NULL: frame pointers only */
	struct feeder *feeder;		/* publishes modules as they change; finishes deferred walks */
	struct stack_remap *remap;	/* provisional stack ids and the stacks they stand for */
	struct symbolizer *sym;
	struct stack_gc *stack_gc;	/* system-wide: stacks of forgotten processes go */
	struct py_namer *py_namer;	/* names Python code objects as stacks appear; or NULL */
	struct server *server;		/* --serve: reports are published to it */
	struct child child;
	struct launch_hooks hooks;	/* for child */
	bool cmd_mode;
	bool system_wide;
	bool vm_enabled;
	struct timespec start;
	long refreshes;		/* reports or screens shown, for -n */
	double next_vm;		/* when the memory figures are next brought up to date */
	struct {		/* native tracking (app/tracking.c) */
		unsigned int shift;	/* 0: every block; else 2^shift bytes per sample */
		double since_s;
		uint64_t blocks_at_switch, sampled_at_switch;
		char why[160];
		bool told_unsupported;
	} tracking;
	struct {		/* start-up phases, ms on CLOCK_MONOTONIC (-v) */
		double main, targets_done, loaded, unwind_done, attached;
	} startup;
};

double mono_ms(void);

double elapsed_s(const struct run *r);
void on_signal(int sig);
int on_vm_event(void *ctx, void *data, size_t size);
/* Bring the memory figures up to date while the targets can still be read. */
void update_vm(struct run *r);
/* The command is stopped in its exit: read its mappings one last time. */
void on_child_exit_stop(void *ctx, bool whole_process);
void on_child_mapped(void *ctx);
bool child_stop_is_ours(void *ctx);
void refresh_target(struct target *t);
/* Periodic (final = false) or final report: text to stdout, files when final. */
int report(struct run *r, bool final);
/* Write the current snapshot as JSON and folded next to each other; *where gets the paths. */
int write_snapshot_files(struct run *r, char *where, size_t len);
/* Plain-text reports every interval until the trace ends. */
void main_loop(struct run *r);
/* The full-screen display until the user quits or the trace ends. -ENOTTY: no terminal. */
int live_loop(struct run *r);
/* End a command memtrace started that still runs (SIGTERM), and await its exit a while. */
void end_command(struct run *r);
/*
 * Everything between loading the BPF programs and running: unwind tables,
 * the probes on every target (cmd_cxx, cmd_ld_so: the command's libstdc++
 * and dynamic linker, or NULL), memory-map events. Prints what failed.
 */
int run__start(struct run *r, const char *cmd_cxx, const char *cmd_ld_so);
/* Run until the trace ends (-d, -n, signal, the targets exit), then the final report. */
int run__trace(struct run *r);

#endif
