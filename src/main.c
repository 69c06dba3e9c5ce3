/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace: who holds the memory of a process, from outside it.
 * main() parses options and wires the pieces together.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "app/options.h"
#include "app/run.h"
#include "probe/loader.h"
#include "probe/stack_gc.h"
#include "report/diff.h"
#include "serve/serve.h"
#include "symbols/symbolize.h"
#include "target/launch.h"
#include "target/py_namer.h"
#include "target/target_set.h"
#include "unwind/unwind.h"
#include "unwind/feeder.h"
#include "util/stack_remap.h"
#include "util/log.h"
#include "util/output_file.h"

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

/* Python interpreters need the Python programs. */
static bool any_python_target(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->set.nr; i++)
		if (r->set.targets[i].alloc.py)
			return true;
	return false;
}

/* Go programs need the Go probes; each program loaded costs its verification. */
static bool any_go_target(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->set.nr; i++)
		if (r->set.targets[i].alloc.is_go)
			return true;
	return false;
}

static int check_outputs(const struct options *o)
{
	const char *paths[] = { o->json_path, o->folded_path, o->pprof_path, o->svg_path };

	return out_file__check_paths(paths, sizeof(paths) / sizeof(paths[0]));
}

/* -p: every process named, read and with its allocator found, before anything is loaded. */
static int add_pid_targets(struct target_set *set, const struct options *o)
{
	size_t i;
	int err;

	for (i = 0; i < o->nr_pids; i++) {
		uint32_t pid = o->pids[i];
		bool alloc_failed;

		err = target_set__add_pid(set, pid, o->lib, &alloc_failed);
		if (!err)
			continue;
		if (!alloc_failed && err == -EINVAL)
			mt_err("cannot trace pid %u: it is a kernel thread\n", pid);
		else if (!alloc_failed)
			mt_err("cannot trace pid %u: %s\n", pid,
			       err == -ESRCH ? "no such process" : strerror(-err));
		else if (err == -ENOENT && !o->lib)
			mt_err("cannot find malloc in pid %u (%s): no allocator mapped; use --lib PATH\n",
			       pid, target_set__find(set, pid)->comm);
		else
			mt_err("cannot use allocator %s for pid %u: %s\n", o->lib ? o->lib : "?",
			       pid, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * -- COMMAND: its allocator is found before it runs, then it is started,
 * held until the probes are in place. Returns memtrace's exit status on failure.
 */
static int add_command_target(struct run *r, char **cmd_path, char **cmd_cxx, char **cmd_ld_so)
{
	const struct options *o = r->o;
	struct allocator_obj alloc = {};
	char *program = NULL;
	int err;

	err = launch__resolve(o->cmd[0], cmd_path);
	if (err) {
		mt_err("cannot run %s: %s\n", o->cmd[0],
		       err == -ENOENT ? "command not found" : strerror(-err));
		return err == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_EXEC;
	}
	/* A script: the allocator is its interpreter's. */
	err = launch__program(*cmd_path, &program);
	if (err) {
		mt_err("cannot run %s: its \"#!\" line names no program memtrace can follow (%s)\n",
		       *cmd_path, strerror(-err));
		return EXIT_CMD_NOT_EXEC;
	}
	err = target__find_allocator_for_exec(program, o->lib, &alloc, cmd_cxx, cmd_ld_so);
	if (err) {
		if (err == -ENOENT && !o->lib)
			mt_err("cannot find malloc for %s: no allocator in it or its libraries; use --lib PATH\n",
			       program);
		else
			mt_err("cannot use allocator for %s: %s\n", program, strerror(-err));
		free(program);
		return EXIT_CMD_OWN_FAILURE;
	}
	err = launch__spawn(*cmd_path, o->cmd, &r->child);
	if (err) {
		mt_err("cannot start %s: %s\n", *cmd_path, strerror(-err));
		allocator_obj__clear(&alloc);
		free(program);
		return EXIT_CMD_OWN_FAILURE;
	}
	launch__seize(&r->child);
	err = target_set__add_command(&r->set, (uint32_t)r->child.pid, *cmd_path, program, &alloc);
	allocator_obj__clear(&alloc);
	free(program);
	if (err) {
		mt_err("cannot start %s: %s\n", *cmd_path, strerror(-err));
		return EXIT_CMD_OWN_FAILURE;
	}
	return 0;
}

/* What the server's page says is traced, from the command line: the targets come later. */
static void serve_title(const struct options *o, char *buf, size_t len)
{
	char host[64] = "";
	size_t n;

	gethostname(host, sizeof(host) - 1);
	if (o->cmd) {
		snprintf(buf, len, "%s on %s", o->cmd[0], host);
	} else if (o->nr_pids) {
		n = (size_t)snprintf(buf, len, "pid");
		for (size_t i = 0; i < o->nr_pids && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : " ", o->pids[i]);
		if (n < len)
			snprintf(buf + n, len - n, " on %s", host);
	} else {
		snprintf(buf, len, "all processes on %s", host);
	}
}

static int start_server(struct run *r)
{
	const struct options *o = r->o;
	char title[512];
	struct serve_opts so = {
		.addr = o->serve_addr,
		.metrics_top = o->metrics_top,
		/* The page reloads as often as reports come (the display's default: 2 s). */
		.interval_s = o->display && !o->interval_given ? 2.0 : o->interval_s,
		.title = title,
	};
	int err;

	serve_title(o, title, sizeof(title));
	err = serve__start(&so, &r->server);
	if (!err)
		mt_info("serving on %s\n", serve__url(r->server));
	return err;
}

int main(int argc, char **argv)
{
	struct options o = {};
	struct run r = { .o = &o, .child = { .go_fd = -1, .err_fd = -1 },
			 .startup = { .main = mono_ms() } };
	struct loader_opts lo;
	char *cmd_path = NULL, *cmd_cxx = NULL, *cmd_ld_so = NULL;
	int err, own_fail = EXIT_OWN_FAILURE, exit_code = 0;
	sigset_t blocked;

	setvbuf(stderr, NULL, _IOLBF, 0);
	target_set__init(&r.set);
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
	/* An agent's output is its server: no text reports unless asked (--batch). */
	o.quiet = o.serve_addr && !o.display && !o.batch;
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

	/* Before anything is loaded: a taken port fails at once. Its thread inherits the mask. */
	if (o.serve_addr && start_server(&r))
		return own_fail;

	/* System-wide, targets come as the BPF side takes processes in. */
	if (r.cmd_mode) {
		exit_code = add_command_target(&r, &cmd_path, &cmd_cxx, &cmd_ld_so);
		if (exit_code)
			goto cleanup;
	} else if (!r.system_wide) {
		err = add_pid_targets(&r.set, &o);
		if (err)
			goto cleanup;
	}

	for (size_t i = 0; i < r.set.nr; i++)
		r.set.targets[i].go_live = o.go_live;
	lo = (struct loader_opts){
		.verbose = o.verbose,
		.empty_probes = o.empty_probes,
		.min_size = o.min_size,
		.max_size = o.max_size,
		.max_allocs = o.max_allocs,
		.max_stacks = o.max_stacks,
		.vm_buffer = o.vm_buffer,
		.trace_all = r.system_wide,
		/* Only a command memtrace follows may be stopped: memtrace then resumes it. */
		.stop_pid = r.cmd_mode && !o.fp_only && r.child.traced ?
			    (uint32_t)r.child.pid : 0,
		.max_procs = o.max_procs,
		.go = any_go_target(&r),
		.go_sample_rate = o.go_live == GO_LIVE_RUNTIME ? 0 : o.go_sample_rate,
		.max_go_samples = MT_DEFAULT_MAX_GO_SAMPLES,
		/* Walks through code not yet published finish in userspace: tables are in use. */
		.defer_stacks = !o.fp_only,
		.python = any_python_target(&r),
	};
	r.startup.targets_done = mono_ms();
	err = loader__new(&lo, &r.loader);
	if (err) {
		mt_err("cannot load the BPF programs: %s%s\n", strerror(-err),
		       o.verbose ? "" : " (run with -vv for the verifier's log)");
		goto cleanup;
	}
	r.startup.loaded = mono_ms();
	err = run__start(&r, cmd_cxx, cmd_ld_so);
	if (err)
		goto cleanup;

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
	err = run__trace(&r);
	if (r.cmd_mode && r.child.done) {
		int st = r.child.status;

		exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
cleanup:
	serve__stop(r.server);
	feeder__stop(r.feeder);
	py_namer__stop(r.py_namer);
	unwinder__free(r.unwinder);
	stack_remap__free(r.remap);
	stack_gc__free(r.stack_gc);
	loader__free(r.loader);
	symbolizer__free(r.sym);
	if (r.cmd_mode && r.child.pid > 0 && r.child.go_fd >= 0)
		launch__abort(&r.child);
	target_set__clear(&r.set);
	free(cmd_path);
	free(cmd_cxx);
	free(cmd_ld_so);
	if (err && !exit_code)
		return own_fail;
	return exit_code;
}
