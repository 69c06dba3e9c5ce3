// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace: who holds the memory of a process, from outside it.
 * main() parses options and wires the pieces together.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "report/diff.h"
#include "app/options.h"
#include "app/run.h"
#include "target/launch.h"
#include "probe/loader.h"
#include "util/log.h"
#include "util/output_file.h"
#include "report/report.h"
#include "snapshot/snapshot.h"
#include "probe/stack_gc.h"
#include "symbols/symbolize.h"
#include "target/target.h"
#include "unwind/unwind.h"
#include "memory/vmstats.h"

/* Exit statuses of memtrace's own failures (a traced command's status is passed through). */
#define EXIT_OWN_FAILURE	1
#define EXIT_CMD_OWN_FAILURE	125
#define EXIT_CMD_NOT_EXEC	126
#define EXIT_CMD_NOT_FOUND	127


/* Root, or the capabilities loading BPF and attaching uprobes need (from /proc: no libcap). */
static bool privileged(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	/* Capabilities, not the uid: root in a container may lack them. */
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	/* CAP_SYS_ADMIN is 21, CAP_PERFMON 38, CAP_BPF 39. */
	return (eff & (1ULL << 21)) || ((eff & (1ULL << 38)) && (eff & (1ULL << 39)));
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Go programs need the Go probes; each program loaded costs its verification. */
static bool any_go_target(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->nr_targets; i++)
		if (r->targets[i].alloc.is_go)
			return true;
	return false;
}

static int check_outputs(const struct options *o)
{
	const char *paths[] = { o->json_path, o->folded_path, o->pprof_path, o->svg_path };
	size_t i;
	int err;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!paths[i] || !strcmp(paths[i], "-"))
			continue;
		err = out_file__check_writable(paths[i]);
		if (err) {
			mt_err("cannot write %s: %s\n", paths[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* libstdc++ mapped by the target, for operator new. */
static const char *find_libstdcxx(const struct target *t, char *buf, size_t len)
{
	size_t i;

	if (!t->maps)
		return NULL;
	for (i = 0; i < t->maps->nr; i++) {
		const struct vma *v = &t->maps->vmas[i];
		const char *base;

		if (!vma__is_file(v) || v->deleted)
			continue;
		base = strrchr(v->path, '/');
		if (base && !strncmp(base + 1, "libstdc++.so", 12)) {
			snprintf(buf, len, "/proc/%u/map_files/%llx-%llx", t->pid,
				 (unsigned long long)v->start, (unsigned long long)v->end);
			return buf;
		}
	}
	return NULL;
}

static int setup_pid_targets(struct run *r)
{
	struct options *o = r->o;
	size_t i;
	int err;

	r->targets = calloc(o->nr_pids, sizeof(*r->targets));
	if (!r->targets)
		return -ENOMEM;
	r->nr_targets = o->nr_pids;
	for (i = 0; i < o->nr_pids; i++)
		target__init(&r->targets[i], o->pids[i]);
	for (i = 0; i < o->nr_pids; i++) {
		struct target *t = &r->targets[i];

		err = target__check(t->pid);
		if (err == -EINVAL) {
			mt_err("cannot trace pid %u: it is a kernel thread\n", t->pid);
			return err;
		}
		if (!err)
			err = target__refresh(t);
		if (err) {
			mt_err("cannot trace pid %u: %s\n", t->pid,
			       err == -ESRCH || err == -ENOENT ? "no such process" : strerror(-err));
			return err;
		}
		err = target__find_allocator(t, o->lib);
		if (err == -ENOENT && !o->lib) {
			mt_err("cannot find malloc in pid %u (%s): no allocator mapped; use --lib PATH\n",
			       t->pid, t->comm);
			return err;
		}
		if (err) {
			mt_err("cannot use allocator %s for pid %u: %s\n", o->lib ? o->lib : "?",
			       t->pid, strerror(-err));
			return err;
		}
		vmstats__seed(t);
	}
	return 0;
}

static int attach_all(struct run *r, const char *cmd_libstdcxx)
{
	size_t i;
	int err;

	for (i = 0; i < r->nr_targets; i++) {
		struct target *t = &r->targets[i];
		char buf[PATH_MAX + 64];
		const char *cxx;
		int n = 0, ncxx = 0;

		err = loader__add_pid(r->loader, t->pid);
		if (!err)
			err = loader__attach(r->loader, (int)t->pid, &t->alloc, &n);
		if (err) {
			mt_err("cannot attach to pid %u (%s): %s\n", t->pid, t->alloc.path,
			       err == -ESRCH ? "no such process" : strerror(-err));
			return err;
		}
		cxx = r->cmd_mode ? cmd_libstdcxx : find_libstdcxx(t, buf, sizeof(buf));
		if (cxx && loader__attach_cxx(r->loader, (int)t->pid, cxx, &ncxx))
			mt_warn("cannot probe operator new in %s: C++ stacks start in libstdc++\n", cxx);
		mt_info("attached to pid %u: %d probes on %s (%s)%s\n", t->pid, n + ncxx, t->alloc.path,
			t->alloc.name, ncxx ? " and libstdc++" : "");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {};
	struct run r = { .o = &o, .child = { .go_fd = -1, .err_fd = -1 } };
	struct loader_opts lo;
	struct allocator_obj cmd_alloc = {};
	char *cmd_path = NULL, *cmd_cxx = NULL, *cmd_ld_so = NULL;
	int err, own_fail = EXIT_OWN_FAILURE, exit_code = 0;
	double t_main = mono_ms(), t_setup, t_load, t_unwind, t_attach, open_ms, load_ms;
	sigset_t blocked;

	setvbuf(stderr, NULL, _IOLBF, 0);
	err = parse_options(argc, argv, &o);
	if (o.cmd)
		own_fail = EXIT_CMD_OWN_FAILURE;
	if (err)
		return own_fail;
	mt_verbose = o.verbose;
	r.cmd_mode = o.cmd != NULL;
	r.system_wide = !o.cmd && !o.nr_pids;
	/* The display when a person watches; text when stdout goes to a file or pipe. */
	o.display = !o.batch && isatty(STDOUT_FILENO) && !(o.json_path && !strcmp(o.json_path, "-"));
	if (!o.interval_given && !o.display)
		o.interval_s = 5;
	if (o.diff_old) {
		struct diff_opts dopts = {
			.old_path = o.diff_old,
			.new_path = o.diff_new,
			.folded_path = o.folded_path,
			.pprof_path = o.pprof_path,
			.top_n = o.top_n,
		};

		return diff__run(&dopts) ? EXIT_OWN_FAILURE : 0;
	}

	if (!privileged()) {
		mt_err("needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs and attach uprobes\n");
		return own_fail;
	}
	if (check_outputs(&o))
		return own_fail;

	/* Signals are taken synchronously in the main loop; the handler covers the set-up. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigprocmask(SIG_BLOCK, &blocked, NULL);

	if (r.cmd_mode) {
		err = launch__resolve(o.cmd[0], &cmd_path);
		if (err) {
			mt_err("cannot run %s: %s\n", o.cmd[0],
			       err == -ENOENT ? "command not found" : strerror(-err));
			return err == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_EXEC;
		}
		err = target__find_allocator_for_exec(cmd_path, o.lib, &cmd_alloc, &cmd_cxx, &cmd_ld_so);
		if (err) {
			if (err == -ENOENT && !o.lib)
				mt_err("cannot find malloc for %s: no allocator in it or its libraries; use --lib PATH\n",
				       cmd_path);
			else
				mt_err("cannot use allocator for %s: %s\n", cmd_path, strerror(-err));
			free(cmd_path);
			return own_fail;
		}
		err = launch__spawn(cmd_path, o.cmd, &r.child);
		if (err) {
			mt_err("cannot start %s: %s\n", cmd_path, strerror(-err));
			goto cleanup;
		}
		launch__seize(&r.child);
		r.targets = calloc(1, sizeof(*r.targets));
		if (!r.targets) {
			err = -ENOMEM;
			goto cleanup;
		}
		r.nr_targets = 1;
		target__init(&r.targets[0], (uint32_t)r.child.pid);
		r.targets[0].traced_from_start = true;
		r.targets[0].alloc = cmd_alloc;
		memset(&cmd_alloc, 0, sizeof(cmd_alloc));
		snprintf(r.targets[0].comm, sizeof(r.targets[0].comm), "%.15s",
			 strrchr(cmd_path, '/') ? strrchr(cmd_path, '/') + 1 : cmd_path);
		r.targets[0].exe = realpath(cmd_path, NULL);
	} else if (!r.system_wide) {
		err = setup_pid_targets(&r);
		if (err)
			goto cleanup;
	}

	lo = (struct loader_opts){
		.verbose = o.verbose,
		.empty_probes = o.empty_probes,
		.min_size = o.min_size,
		.max_size = o.max_size,
		.max_allocs = o.max_allocs,
		.max_stacks = o.max_stacks,
		.vm_buffer_bytes = o.vm_buffer,
		.trace_all = r.system_wide,
		/* Only a command memtrace follows may be stopped: memtrace then resumes it. */
		.stop_pid = r.cmd_mode && !o.no_dwarf_unwind && r.child.traced ?
			    (uint32_t)r.child.pid : 0,
		.max_procs = o.max_procs,
		.go = any_go_target(&r),
	};
	t_setup = mono_ms();
	err = loader__new(&lo, &r.loader);
	if (err) {
		mt_err("cannot load the BPF programs: %s%s\n", strerror(-err),
		       o.verbose ? "" : " (run with -vv for the verifier's log)");
		goto cleanup;
	}
	t_load = mono_ms();
	r.sym = symbolizer__new();
	if (!r.sym) {
		err = -ENOMEM;
		goto cleanup;
	}
	/*
	 * Unwind tables for code without frame pointers (without them, frame
	 * pointers only), in place before the probes: every stack is then taken
	 * the same way from the first one.
	 */
	if (!o.no_dwarf_unwind && unwinder__new(r.loader, &r.unwinder) == 0) {
		for (size_t i = 0; i < r.nr_targets; i++)
			unwinder__update(r.unwinder, &r.targets[i]);
	}
	t_unwind = mono_ms();
	err = r.system_wide ? sysview__attach_all(&r) : attach_all(&r, cmd_cxx);
	if (!err && r.system_wide) {
		err = stack_gc__new(&r.stack_gc);
		if (err)
			mt_err("%s\n", strerror(-err));
	}
	if (err)
		goto cleanup;
	r.hooks = (struct launch_hooks){
		.on_exit = on_child_exit_stop,
		.on_mapped = on_child_mapped,
		.stop_is_ours = child_stop_is_ours,
		.ctx = &r,
	};
	/* A command is stopped once its libraries are mapped, to load their tables first. */
	if (r.cmd_mode && r.unwinder && cmd_ld_so &&
	    loader__attach_dl_state(r.loader, r.child.pid, cmd_ld_so))
		mt_debug("no stop at the dynamic linker: first stacks may use frame pointers only\n");
	err = loader__attach_vm(r.loader, on_vm_event, &r);
	if (err)
		mt_warn("cannot trace memory-map calls (%s): no mapped/retained figures\n",
			strerror(-err));
	r.vm_enabled = !err;
	err = 0;
	t_attach = mono_ms();
	if (mt_verbose) {
		loader__load_times(r.loader, &open_ms, &load_ms);
		mt_info("start-up: targets %.0f ms, open %.0f ms, load %.0f ms, unwind tables %.0f ms, attach %.0f ms; probes live %.0f ms after start\n",
			t_setup - t_main, open_ms, load_ms, t_unwind - t_load, t_attach - t_unwind,
			t_attach - t_main);
	}

	clock_gettime(CLOCK_MONOTONIC, &r.start);
	if (r.cmd_mode) {
		err = launch__release(&r.child);
		if (err) {
			mt_err("cannot run %s: %s\n", cmd_path, strerror(-err));
			exit_code = err == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_EXEC;
			launch__poll(&r.child, NULL);
			goto cleanup;
		}
	}
	if (!exiting && o.display) {
		err = live_loop(&r);
		if (!err)
			end_command(&r);	/* else main_loop follows, and then it */
		if (err) {
			mt_warn("cannot open the display (%s): plain-text reports instead\n",
				strerror(-err));
			o.display = false;
			err = 0;
		}
	}
	if (!exiting && !o.display) {
		main_loop(&r);
		end_command(&r);
	}

	/* A target that exited since the last look is reported as such. */
	for (size_t i = 0; i < r.nr_targets; i++)
		refresh_target(&r.targets[i]);
	if (report(&r, true))
		err = -EIO;
	if (r.cmd_mode && r.child.done) {
		int st = r.child.status;

		exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
cleanup:
	unwinder__free(r.unwinder);
	stack_gc__free(r.stack_gc);
	loader__free(r.loader);
	symbolizer__free(r.sym);
	if (r.cmd_mode && r.child.pid > 0 && r.child.go_fd >= 0)
		launch__abort(&r.child);
	for (size_t i = 0; i < r.nr_targets; i++)
		target__clear(&r.targets[i]);
	free(r.targets);
	allocator_obj__clear(&cmd_alloc);
	free(cmd_path);
	free(cmd_cxx);
	free(cmd_ld_so);
	if (err && !exit_code)
		return own_fail;
	return exit_code;
}
