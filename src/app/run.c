/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The run loops: plain-text reports, and the refreshes behind the display. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include "display/display.h"
#include "snapshot/history.h"
#include "probe/loader.h"
#include "util/log.h"
#include "util/output_file.h"
#include "report/report.h"
#include "report/report_ref.h"
#include "app/run.h"
#include "serve/serve.h"
#include "target/go_sampled.h"
#include "snapshot/snapshot.h"
#include "probe/stack_gc.h"
#include "unwind/unwind.h"
#include "unwind/feeder.h"
#include "util/stack_remap.h"
#include "target/vmstats.h"
#include "app/tracking.h"
#include "report/format.h"
#include "target/sysview.h"
#include "target/py_namer.h"

#define DEFAULT_TEXT_TOP 10
#define MAPS_REFRESH_S 1.0
#define MAPS_FAST_S 2.0
#define MAPS_FAST_PERIOD_S 0.02
#define VM_DRAIN_S 0.1
/*
 * Go samples are checked more often than the maps are read: a check at
 * each sweep of a sample's span tells the sampled object from another one
 * in its slot, reused after a GC freed it.
 */
#define GO_CHECK_S 0.1
/* How long a command has to exit once the trace is over and it got SIGTERM. */
#define DURATION_GRACE_S 5.0
/* How often the loop asks the server whether it waits for a report. */
#define SERVE_POLL_S 0.1
/* A live view refreshes faster than periodic text reports. */
#define LIVE_DEFAULT_INTERVAL_S 2.0
/* How long the display waits for a key before the loop looks at the trace again. */
#define LIVE_TICK_S 0.1

volatile sig_atomic_t exiting;

double elapsed_s(const struct run *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
}

/* Memory-map events drained, the command's stops handled; true once it has exited. */
static bool poll_events(struct run *r)
{
	if (r->vm_enabled)
		loader__consume_vm(r->loader);
	if (r->cmd_mode && launch__poll(&r->child, &r->hooks)) {
		target_set__command(&r->set)->exited = true;
		return true;
	}
	return false;
}

/* Maps, RSS, the memory-map figures and (tables) the unwind tables of what the targets map now. */
static void refresh_maps(struct run *r, bool tables)
{
	size_t i;

	/* Events before the maps are read: the maps are then the newer view. */
	if (r->vm_enabled)
		loader__consume_vm(r->loader);
	for (i = 0; i < r->set.nr; i++) {
		refresh_target(&r->set.targets[i]);
		if (r->vm_enabled)
			vmstats__reconcile(&r->set.targets[i]);
		if (tables && r->unwinder && !r->set.targets[i].exited)
			unwinder__update(r->unwinder, &r->set.targets[i], !r->system_wide);
	}
}

/*
 * How often maps are read: often at first, while a new command's libraries
 * are being loaded (its stacks need their unwind tables), then once a second.
 */
static double maps_period(const struct run *r, double now)
{
	return now < MAPS_FAST_S ? MAPS_FAST_PERIOD_S : MAPS_REFRESH_S;
}

void refresh_target(struct target *t)
{
	if (t->exited)
		return;
	if (target__refresh(t) == -ESRCH)
		t->exited = true;
}

int on_vm_event(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;

	if (size >= sizeof(struct mt_vm_event))
		vmstats__apply(r->set.targets, r->set.nr, data);
	return 0;
}

/* Bring the memory figures up to date while the targets' memory can still be read. */
void update_vm(struct run *r)
{
	if (!r->vm_enabled)
		return;
	uint64_t blocks = 0, sampled = 0;

	loader__consume_vm(r->loader);
	if (!vmstats__update(r->set.targets, r->set.nr, r->loader, &blocks, &sampled))
		tracking__check(r, blocks, sampled);
}

/*
 * Between reports, the memory figures once a second (a walk of the whole
 * allocs map: a million buckets by default), not at each of the fast
 * first reads of the maps, and not when a report, which does it too, comes
 * before the next.
 */
static void update_vm_between(struct run *r, double now, double next_report)
{
	if (now < r->next_vm || next_report - now <= MAPS_REFRESH_S)
		return;
	update_vm(r);
	r->next_vm = now + MAPS_REFRESH_S;
}

/* The command is stopped with new mappings: its unwind tables go in before it runs on. */
void on_child_mapped(void *ctx)
{
	struct run *r = ctx;

	struct target *cmd = target_set__command(&r->set);

	if (target__refresh(cmd) == 0 && r->unwinder)
		unwinder__update(r->unwinder, cmd, true);
}

bool child_stop_is_ours(void *ctx)
{
	struct run *r = ctx;

	return loader__take_dl_stop(r->loader);
}

/* The command is stopped in its exit: its mappings can be read one last time. */
void on_child_exit_stop(void *ctx, bool whole_process)
{
	struct run *r = ctx;
	struct target *cmd = target_set__command(&r->set);

	target__refresh(cmd);
	update_vm(r);
	/* Its Python code objects named while its memory is there. */
	py_namer__sync(r->py_namer);
	/*
	 * Past this stop the address space is torn down while the process is
	 * not yet reaped: a later look would read it half gone. These are the
	 * last figures.
	 */
	if (whole_process)
		cmd->exited = true;
}

struct report_writer {
	const struct mt_report *rep;
	int (*write)(const struct mt_report *rep, FILE *f);
};

static int call_writer(const void *arg, FILE *f)
{
	const struct report_writer *w = arg;

	return w->write(w->rep, f);
}

static int write_report_file(const char *path, const struct mt_report *rep,
			     int (*writer)(const struct mt_report *, FILE *), const char *what)
{
	struct report_writer w = { rep, writer };
	int err;

	err = out_file__write(path, call_writer, &w);
	if (err)
		mt_err("cannot write %s report to %s: %s\n", what, path, strerror(-err));
	return err;
}

static struct snapshot_opts snapshot_opts(struct run *r, size_t top_n)
{
	struct snapshot_opts so = {
		.duration_s = elapsed_s(r),
		.min_age_ns = (uint64_t)(r->o->min_age_s * 1e9),
		.top_n = top_n,
		.stacks_removed = stack_gc__pruned(r->stack_gc),
		.keep_interpreter = r->o->interpreter_frames,
	};

	if (r->vm_enabled)
		loader__consume_vm(r->loader);
	if (r->unwinder) {
		struct unwinder_stats us;

		unwinder__stats(r->unwinder, &us);
		so.unwind_rows_used = us.rows_used;
		so.unwind_rows_max = us.rows_max;
	}
	so.remap = r->remap;
	so.sample_rate = tracking__rate(r);
	so.sampled_since_s = r->tracking.since_s;
	so.sampling_why = r->tracking.why;
	so.kernel_bytes = loader__kernel_memory(r->loader);
	return so;
}

static void feed_vm(void *ctx, const struct mt_alloc_key *k, const struct mt_alloc_info *info)
{
	struct run *r = ctx;

	vmstats__add_block(r->set.targets, r->set.nr, k, info);
}

/*
 * A report of the targets as they are now. Their memory figures are
 * brought up to date first, from the snapshot's own pass over the live
 * blocks (the allocs map is large: it is read once).
 */
static int build_report(struct run *r, size_t top_n, struct mt_report *rep)
{
	struct snapshot_opts so = snapshot_opts(r, top_n);
	struct snapshot *s;
	int err;

	if (r->vm_enabled)
		vmstats__begin(r->set.targets, r->set.nr);
	err = snapshot__read(r->loader, &so, r->vm_enabled ? feed_vm : NULL, r, &s);
	if (err)
		return err;
	tracking__check(r, snapshot__blocks(s), snapshot__sampled_blocks(s));
	if (r->vm_enabled)
		vmstats__finish(r->set.targets, r->set.nr, r->loader);
	err = snapshot__build(s, r->set.targets, r->set.nr, r->sym, rep);
	snapshot__free(s);
	return err;
}

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hand rep (every stack of every process) to the server; rep is left empty. */
static void publish(struct run *r, struct mt_report *rep, double t_mono, double t_real)
{
	struct mt_report_ref *ref = mt_report_ref__new(rep, t_mono, t_real);

	if (ref)
		serve__publish(r->server, ref);
}

/* A report out of turn, for the server only (it waits for one). */
static void publish_now(struct run *r)
{
	double t_mono = mono_ms() / 1e3, t_real = real_s();
	struct mt_report rep;

	if (!build_report(r, 0, &rep))
		publish(r, &rep, t_mono, t_real);
}

int report(struct run *r, bool final)
{
	struct options *o = r->o;
	bool serving = r->server && !final;
	double t_mono = mono_ms() / 1e3, t_real = real_s();
	struct mt_report rep;
	int err, ret = 0;

	/* The server gets every stack; the text report shows --top of them. */
	err = build_report(r, serving ? 0 : o->top_n, &rep);
	if (err) {
		mt_err("cannot read the trace maps: %s\n", strerror(-err));
		return err;
	}
	/* After the display the terminal is left as it was: files only. */
	if (!(o->json_path && !strcmp(o->json_path, "-") && final) && !o->display && !o->quiet) {
		report_text__write(&rep, stdout, o->top_n ? o->top_n : DEFAULT_TEXT_TOP);
		fflush(stdout);
	}
	if (final) {
		if (o->json_path && write_report_file(o->json_path, &rep, report_json__write, "JSON"))
			ret = -EIO;
		if (o->folded_path &&
		    write_report_file(o->folded_path, &rep, report_folded__write, "folded"))
			ret = -EIO;
		if (o->pprof_path &&
		    write_report_file(o->pprof_path, &rep, report_pprof__write, "pprof"))
			ret = -EIO;
		if (o->svg_path && write_report_file(o->svg_path, &rep, report_svg__write, "SVG"))
			ret = -EIO;
	}
	if (serving)
		publish(r, &rep, t_mono, t_real);
	mt_report__free(&rep);
	return ret;
}

void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

/* Wait for a signal or the next tick; SIGCHLD, SIGINT and SIGTERM are blocked and taken here. */
static int wait_tick(double seconds)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sig = sigtimedwait(&set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

/*
 * The trace ended (-d, or the display closed) while the command memtrace
 * started still runs: it is ended as timeout(1) would, so that the report
 * covers its whole life and it does not run on behind the user's back.
 */
void end_command(struct run *r)
{
	double give_up = elapsed_s(r) + DURATION_GRACE_S;

	if (!r->cmd_mode || r->child.done || r->child.pid <= 0)
		return;
	kill(r->child.pid, SIGTERM);
	while (elapsed_s(r) < give_up) {
		int sig = wait_tick(0.05);

		if (sig == SIGINT || sig == SIGTERM)
			break;	/* asked again: stop waiting */
		if (launch__poll(&r->child, &r->hooks)) {
			target_set__command(&r->set)->exited = true;
			return;
		}
	}
	mt_warn("pid %d has not exited after SIGTERM: it runs on, untraced\n", (int)r->child.pid);
}

static void check_go_samples(struct run *r, double now, double *next)
{
	double cost = 0;
	size_t i;

	if (now < *next)
		return;
	for (i = 0; i < r->set.nr; i++) {
		struct target *t = &r->set.targets[i];
		uint64_t rate = t->alloc.is_go ? loader__go_sample_rate(r->loader, t->pid) : 0;

		if (!rate || t->exited || t->go_live == GO_LIVE_RUNTIME)
			continue;
		go_sampled__update(t, r->loader, rate);
		cost += t->go_check_cost_ns / 1e9;
	}
	/* About a microsecond per sample: at most a fifth of memtrace's time goes to checks. */
	*next = now + (GO_CHECK_S > 4 * cost ? GO_CHECK_S : 4 * cost);
}

void main_loop(struct run *r)
{
	struct options *o = r->o;
	double next_report = o->interval_s, next_maps = MAPS_FAST_PERIOD_S, next_go = 0, now, wait;
	bool forwarded = false;
	int sig;

	for (;;) {
		now = elapsed_s(r);
		/* A command still running is then ended by end_command(). */
		if (o->duration_s && now >= o->duration_s && !forwarded)
			break;
		wait = next_maps < next_report ? next_maps : next_report;
		/* Memory-map events are drained often so the ring buffer never fills. */
		if (r->vm_enabled && wait > now + VM_DRAIN_S)
			wait = now + VM_DRAIN_S;
		if (r->server && wait > now + SERVE_POLL_S)
			wait = now + SERVE_POLL_S;
		if (o->duration_s && !forwarded && o->duration_s < wait)
			wait = o->duration_s;
		wait -= now;
		if (wait < 0.001)
			wait = 0.001;
		sig = wait_tick(wait);
		if (sig == SIGINT || sig == SIGTERM || exiting) {
			/*
			 * With a command, the signal is passed on and its exit awaited, as
			 * time(1) does; a second signal stops waiting (the command then
			 * runs on, untraced).
			 */
			if (!r->cmd_mode || forwarded)
				break;
			kill(r->child.pid, sig ? sig : SIGTERM);
			forwarded = true;
			exiting = 0;
		}
		if (poll_events(r))
			break;
		now = elapsed_s(r);
		check_go_samples(r, now, &next_go);
		if (serve__wants_report(r->server))
			publish_now(r);
		if (now >= next_maps) {
			refresh_maps(r, true);
			update_vm_between(r, now, next_report);
			next_maps = now + maps_period(r, now);
			if (r->system_wide)
				sysview__refresh(&r->set, r->loader, r->stack_gc, r->remap);
			else if (!r->cmd_mode && target_set__all_exited(&r->set))
				break;
		}
		if (now >= next_report) {
			report(r, false);
			next_report = now + o->interval_s;
			if (o->iterations && ++r->refreshes >= o->iterations)
				break;
		}
	}
}

/* Every allocation and free counted so far, for the events/s figure. */
static uint64_t events_total(const struct mt_report *rep)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < rep->nr_procs; i++)
		n += rep->procs[i].heap.allocs_total + rep->procs[i].heap.frees_total;
	return n;
}

int write_snapshot_files(struct run *r, char *where, size_t len)
{
	char base[PATH_MAX], json[PATH_MAX + 8], folded[PATH_MAX + 8];
	struct mt_report rep;
	struct tm tm;
	time_t now = time(NULL);
	int err;

	localtime_r(&now, &tm);
	/* In the working directory, where the user started memtrace; else /tmp. */
	snprintf(base, sizeof(base), "%smemtrace-%04d%02d%02d-%02d%02d%02d",
		 access(".", W_OK) ? "/tmp/" : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(json, sizeof(json), "%s.json", base);
	snprintf(folded, sizeof(folded), "%s.folded", base);
	err = build_report(r, 0, &rep);
	if (err) {
		snprintf(where, len, "cannot read the trace: %s", strerror(-err));
		return err;
	}
	err = write_report_file(json, &rep, report_json__write, "JSON");
	if (!err)
		err = write_report_file(folded, &rep, report_folded__write, "folded");
	mt_report__free(&rep);
	if (err)
		snprintf(where, len, "cannot write %s: %s", base, strerror(-err));
	else
		snprintf(where, len, "snapshot written to %s and %s", json, folded);
	return err;
}

/* A pending SIGINT, SIGTERM or SIGCHLD, without waiting. */
static int pending_signal(void)
{
	return wait_tick(0);
}

static void display_title(const struct run *r, char *buf, size_t len)
{
	if (r->system_wide)
		snprintf(buf, len, "all processes");
	else if (r->set.nr == 1)
		snprintf(buf, len, "pid %u (%s)", r->set.targets[0].pid, r->set.targets[0].comm);
	else
		snprintf(buf, len, "%zu processes", r->set.nr);
}

int live_loop(struct run *r)
{
	struct options *o = r->o;
	struct display_opts dopts = {
		.system_wide = r->system_wide,
		.interval_s = o->interval_given ? o->interval_s : LIVE_DEFAULT_INTERVAL_S,
	};
	struct mt_report_ref *shown = NULL;
	struct mt_report next;
	double next_refresh = 0, next_maps = MAPS_FAST_PERIOD_S, next_go = 0, now, last_t = 0;
	uint64_t last_events = 0;
	struct history *h;
	struct display *d;
	char title[128], msg[PATH_MAX * 2 + 64];
	int err, sig;

	display_title(r, title, sizeof(title));
	dopts.title = title;
	h = history__new();
	if (!h)
		return -ENOMEM;
	err = display__open(&dopts, &d);
	if (err) {
		history__free(h);
		return err;
	}
	/* Messages would land on the screen: they wait until it is closed. */
	mt_log_hold(true);
	for (;;) {
		sig = pending_signal();
		if (sig == SIGINT || sig == SIGTERM || exiting)
			break;
		if (poll_events(r))
			break;
		now = elapsed_s(r);
		if (o->duration_s && now >= o->duration_s)
			break;
		check_go_samples(r, now, &next_go);
		if (serve__wants_report(r->server))
			publish_now(r);
		if (now >= next_maps) {
			refresh_maps(r, true);
			/* A refresh of the display does it; paused, nothing else does. */
			update_vm_between(r, now, display__paused(d) ? now + 2 * MAPS_REFRESH_S :
					  next_refresh);
			if (r->system_wide)
				sysview__refresh(&r->set, r->loader, r->stack_gc, r->remap);
			next_maps = now + maps_period(r, now);
		}
		if (!display__paused(d) && now >= next_refresh) {
			double t_mono = mono_ms() / 1e3, t_real = real_s();
			struct mt_report_ref *ref = NULL;
			uint64_t ev = 0;
			double rate = 0;

			if (!build_report(r, 0, &next)) {
				ev = events_total(&next);
				rate = now > last_t && last_t > 0 ?
				       (double)(ev - last_events) / (now - last_t) : 0;
				history__add(h, &next, now);
				ref = mt_report_ref__new(&next, t_mono, t_real);
			}
			if (ref) {
				/* The display keeps pointers into the report it was given. */
				display__update(d, mt_report_ref__report(ref), h, now, rate);
				mt_report_ref__put(shown);
				shown = ref;
				if (r->server)
					serve__publish(r->server, mt_report_ref__get(ref));
				last_events = ev;
				last_t = now;
				if (o->iterations && ++r->refreshes >= o->iterations)
					break;
			}
			next_refresh = now + display__interval(d);
		} else if (display__paused(d) && r->server && now >= next_refresh) {
			/* The screen holds still; the server's figures go on. */
			publish_now(r);
			next_refresh = now + display__interval(d);
		}
		if (display__take_snapshot_request(d)) {
			write_snapshot_files(r, msg, sizeof(msg));
			display__message(d, msg);
		}
		if (display__poll(d, LIVE_TICK_S) == DISPLAY_QUIT)
			break;
	}
	display__close(d);
	mt_log_hold(false);
	mt_report_ref__put(shown);
	history__free(h);
	return 0;
}


/* A Python interpreter's probes; what they are is said once, under -v when all is well. */
static int python_attach(struct run *r, struct target *t, int *n)
{
	const struct py_interp *py = t->alloc.py;
	int err;

	err = loader__attach_python(r->loader, (int)t->pid, t->alloc.path, t->alloc.open_path, py,
				    &t->py_probes);
	*n = t->py_probes.probes;
	if (err)
		return err;
	if (!py->frames)
		mt_warn("pid %u: %s: Python stacks are not read (%s): C stacks only\n", t->pid,
			t->alloc.path, py->note);
	if (t->py_probes.unresolved)
		mt_warn("pid %u: %s inlines pymalloc in %zu places memtrace could not read: "
			"allocations there are not seen\n", t->pid, t->alloc.path,
			t->py_probes.unresolved);
	mt_debug("pid %u: CPython %s (layout: %s)%s\n", t->pid, py->version[0] ? py->version : "?",
		 py->frames ? py->source : "none",
		 t->py_probes.inlined ? ", pymalloc inlined: each inlined copy probed" : "");
	return 0;
}

static int attach_targets(struct run *r, const char *cmd_cxx)
{
	size_t i;
	int err;

	for (i = 0; i < r->set.nr; i++) {
		struct target *t = &r->set.targets[i];
		char buf[PATH_MAX + 64];
		const char *cxx, *cxx_path = NULL;
		int n = 0, ncxx = 0, nalso = 0;
		char also[PATH_MAX + 64];

		struct loader_go_layout go_layout;
		bool go_known = false;

		err = loader__add_pid(r->loader, t->pid);
		/* Go: where mspan keeps what the sampling probe reads. */
		if (!err && t->alloc.is_go && loader__go_sampling(r->loader))
			go_known = go_sampled__layout(t, &go_layout) == 0;
		if (!err && t->alloc.is_go)
			err = loader__attach(r->loader, (int)t->pid, t->alloc.path, t->alloc.open_path,
					     true, go_known ? &go_layout : NULL, &n);
		else if (!err && t->alloc.api == ALLOC_API_PYTHON)
			err = python_attach(r, t, &n);
		else if (!err)
			err = loader__attach_allocator(r->loader, (int)t->pid, t->alloc.path,
						       t->alloc.open_path, t->alloc.api,
						       t->alloc.prefix, &n);
		if (err) {
			mt_err("cannot attach to pid %u (%s): %s\n", t->pid, t->alloc.path,
			       err == -ESRCH ? "no such process" : strerror(-err));
			return err;
		}
		if (t->alloc.also) {
			const struct allocator_obj *a = t->alloc.also;

			err = loader__attach_allocator(r->loader, (int)t->pid, a->path, a->open_path,
						       a->api, a->prefix, &nalso);
			if (err) {
				mt_err("cannot attach to pid %u (%s): %s\n", t->pid, a->path,
				       err == -ESRCH ? "no such process" : strerror(-err));
				return err;
			}
		}
		/* The command's libstdc++ is known before it maps it. */
		if (i == r->set.command)
			cxx = cxx_path = cmd_cxx;
		else
			cxx = target__find_libstdcxx(t, buf, sizeof(buf), &cxx_path);
		if (cxx && loader__attach_cxx(r->loader, (int)t->pid, cxx_path, cxx, &ncxx))
			mt_warn("cannot probe operator new in %s: C++ stacks start in libstdc++\n",
				cxx_path);
		also[0] = '\0';
		if (t->alloc.also)
			snprintf(also, sizeof(also), " and %s (%s)", t->alloc.also->path,
				 t->alloc.also->name);
		mt_info("attached to pid %u: %d probes on %s (%s%s%s%s)%s%s\n", t->pid,
			n + nalso + ncxx, t->alloc.path, t->alloc.name,
			t->alloc.prefix ? ", its " : "", t->alloc.prefix ? t->alloc.prefix : "",
			t->alloc.prefix ? "* functions" : "", also, ncxx ? " and libstdc++" : "");
	}
	return 0;
}

double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_startup(const struct run *r)
{
	double open_ms, load_ms;

	loader__load_times(r->loader, &open_ms, &load_ms);
	mt_info("start-up: targets %.0f ms, open %.0f ms, load %.0f ms, unwind tables %.0f ms, "
		"attach %.0f ms; probes live %.0f ms after start\n",
		r->startup.targets_done - r->startup.main, open_ms, load_ms,
		r->startup.unwind_done - r->startup.loaded,
		r->startup.attached - r->startup.unwind_done, r->startup.attached - r->startup.main);
}

/*
 * System-wide: the tables of what nearly every process maps (libc, the
 * dynamic linker, libstdc++, libgcc, the allocators), built before the
 * probes go live, so that a process started later needs only its own.
 */
static void preload_common_tables(struct unwinder *u)
{
	uint32_t self = (uint32_t)getpid();
	struct dirent *de;
	DIR *dir = opendir("/proc");

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct proc_maps *maps = NULL;
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		size_t i;

		if (*end || !pid || pid == self || proc_maps__read((uint32_t)pid, &maps))
			continue;
		for (i = 0; i < maps->nr; i++) {
			const struct vma *v = &maps->vmas[i];
			const char *base = v->path ? strrchr(v->path, '/') : NULL;
			enum lib_kind k;

			if (!vma__is_file(v) || v->perms[2] != 'x')
				continue;
			k = target__lib_kind(v->path);
			if (k != LIB_OTHER || (base && !strncmp(base + 1, "libgcc_s.so", 11)))
				unwinder__preload(u, (uint32_t)pid, v);
		}
		proc_maps__free(maps);
	}
	closedir(dir);
}

/* Python targets: their code objects named as their stacks appear. */
static void start_py_namer(struct run *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->set.nr && !r->set.targets[i].alloc.py; i++)
		;
	if (i == r->set.nr)
		return;
	err = py_namer__start(r->loader, r->sym, &r->py_namer);
	if (err) {
		mt_warn("cannot follow Python stacks as they appear (%s): their frames are named "
			"at each report\n", strerror(-err));
		return;
	}
	for (i = 0; i < r->set.nr; i++)
		if (r->set.targets[i].alloc.py)
			py_namer__add(r->py_namer, r->set.targets[i].pid, r->set.targets[i].alloc.py);
}

int run__start(struct run *r, const char *cmd_cxx, const char *cmd_ld_so)
{
	size_t i;
	int err;

	r->sym = symbolizer__new();
	if (!r->sym) {
		mt_err("cannot start: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	/*
	 * Unwind tables for code without frame pointers (without them, frame
	 * pointers only), in place before the probes: every stack is then taken
	 * the same way from the first one.
	 */
	if (!r->o->fp_only && unwinder__new(r->loader, &r->unwinder) == 0) {
		for (i = 0; i < r->set.nr; i++)
			unwinder__update(r->unwinder, &r->set.targets[i], !r->system_wide);
		/* System-wide, what every process maps is ready before anything runs. */
		if (r->system_wide)
			preload_common_tables(r->unwinder);
		r->remap = stack_remap__new();
		err = r->remap ? feeder__start(r->unwinder, r->loader, r->remap, r->system_wide,
					       &r->feeder) : -ENOMEM;
		if (err)
			mt_warn("cannot follow code as it is mapped (%s): stacks through code mapped "
				"later wait for the next refresh\n", strerror(-err));
	}
	r->startup.unwind_done = mono_ms();
	err = r->system_wide ? sysview__attach_all(r->loader) : attach_targets(r, cmd_cxx);
	if (!err)
		start_py_namer(r);
	if (!err && r->system_wide) {
		err = stack_gc__new(&r->stack_gc);
		if (err)
			mt_err("cannot start the stack collector: %s\n", strerror(-err));
	}
	if (err)
		return err;
	r->hooks = (struct launch_hooks){
		.on_exit = on_child_exit_stop,
		.on_mapped = on_child_mapped,
		.stop_is_ours = child_stop_is_ours,
		.ctx = r,
	};
	/* A command is stopped once its libraries are mapped, to load their tables first. */
	if (r->cmd_mode && r->unwinder && cmd_ld_so &&
	    loader__attach_dl_state(r->loader, r->child.pid, cmd_ld_so))
		mt_debug("no stop at the dynamic linker: first stacks may use frame pointers only\n");
	err = loader__attach_vm(r->loader, on_vm_event, r);
	if (err)
		mt_warn("cannot trace memory-map calls (%s): no mapped/retained figures\n",
			strerror(-err));
	r->vm_enabled = !err;
	tracking__start(r);
	r->startup.attached = mono_ms();
	if (mt_verbose) {
		int64_t kb = loader__kernel_memory(r->loader);
		char b[32];

		if (kb >= 0)
			mt_info("BPF maps: %s of kernel memory\n", mt_human_bytes((double)kb, b, sizeof(b)));
	}
	if (mt_verbose)
		print_startup(r);
	return 0;
}

int run__trace(struct run *r)
{
	struct options *o = r->o;
	int err;

	if (!exiting && o->display) {
		err = live_loop(r);
		if (!err)
			end_command(r);	/* else main_loop follows, and then it */
		if (err) {
			mt_warn("cannot open the display (%s): plain-text reports instead\n",
				strerror(-err));
			o->display = false;
		}
	}
	if (!exiting && !o->display) {
		main_loop(r);
		end_command(r);
	}
	/* The walks handed over so far are finished before the final figures. */
	feeder__stop(r->feeder);
	r->feeder = NULL;
	py_namer__stop(r->py_namer);
	r->py_namer = NULL;
	/*
	 * A target that exited since the last look is reported as such; the
	 * others' maps are read once more, so the final figures are as of now.
	 */
	refresh_maps(r, false);
	return report(r, true) ? -EIO : 0;
}
