// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace: who holds the memory of a process, from outside it.
 * main() parses options and wires the pieces together.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "diff.h"
#include "launch.h"
#include "loader.h"
#include "log.h"
#include "output_file.h"
#include "report.h"
#include "snapshot.h"
#include "symbolize.h"
#include "target.h"
#include "vmstats.h"

#define MEMTRACE_VERSION "0.1.0"

/* Exit statuses of memtrace's own failures (a traced command's status is passed through). */
#define EXIT_OWN_FAILURE	1
#define EXIT_CMD_OWN_FAILURE	125
#define EXIT_CMD_NOT_EXEC	126
#define EXIT_CMD_NOT_FOUND	127

#define DEFAULT_TEXT_TOP 10
#define MAPS_REFRESH_S 1.0
#define VM_DRAIN_S 0.1

struct options {
	uint32_t pids[MT_MAX_PIDS];
	size_t nr_pids;
	char **cmd;
	double duration_s;	/* 0: until the targets exit or a signal */
	double interval_s;
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
	uint32_t vm_buffer;
	int verbose;
	bool empty_probes;
};

static const char usage_text[] =
"Usage: memtrace [OPTIONS] -p PID[,PID...]\n"
"       memtrace [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Trace the allocations of running processes (or of COMMAND from its first\n"
"allocation) and report the call stacks that hold the most memory.\n"
"\n"
"Examples:\n"
"  sudo memtrace -p 4242                      report every 5 s until Ctrl-C\n"
"  sudo memtrace -p 4242,4243 -d 30 --json out.json --folded out.folded\n"
"  sudo memtrace -- ./server --port 8080      trace a command; exits with its status\n"
"  sudo memtrace -p 4242 --batch -i 5 --min-age 60   only blocks alive for a minute\n"
"\n"
"Target:\n"
"  -p, --pid PID[,PID...]   processes to trace (only allocations made after\n"
"                           attaching are seen)\n"
"  -- COMMAND [ARGS...]     run COMMAND, held until the probes are attached\n"
"      --lib PATH           allocator object to probe (default: the object that\n"
"                           defines malloc in the target: the executable, a\n"
"                           jemalloc/tcmalloc, or libc)\n"
"Reporting:\n"
"  -d, --duration SEC       stop after SEC seconds (default: until Ctrl-C or exit)\n"
"  -i, --interval SEC       seconds between periodic text reports (default 5)\n"
"      --batch              plain-text periodic reports (the default for now)\n"
"      --top N              stacks per process in reports (text default 10;\n"
"                           JSON default all)\n"
"      --min-age SEC        only count blocks at least SEC seconds old\n"
"      --min-size BYTES     ignore allocations smaller than BYTES\n"
"      --max-size BYTES     ignore allocations larger than BYTES\n"
"      --json FILE          write the final report as JSON ('-': stdout)\n"
"      --folded FILE        write live bytes as folded stacks (flame graphs)\n"
"      --pprof FILE         write a gzipped pprof heap profile (go tool pprof)\n"
"      --svg FILE           write an interactive flame graph of live bytes\n"
"      --diff OLD NEW       compare two --json reports: what grew, per stack\n"
"  -n, --iterations N       stop after N refreshes\n"
"Limits:\n"
"      --max-allocs N       live blocks tracked at once (default 1048576)\n"
"      --max-stacks N       distinct call stacks tracked (default 32768)\n"
"  -v, --verbose            diagnostics; -vv adds libbpf's and the verifier's log\n"
"  -h, --help               this text\n"
"  -V, --version            version\n"
"\n"
"Exit status: 0 on success; with -- COMMAND, the command's own status (128+N\n"
"when killed by signal N). memtrace's own failures: 1, or with -- COMMAND 125;\n"
"126 when COMMAND cannot be executed, 127 when it is not found.\n"
"Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).\n";

enum {
	OPT_BATCH = 256, OPT_TOP, OPT_MIN_AGE, OPT_MIN_SIZE, OPT_MAX_SIZE, OPT_JSON, OPT_FOLDED,
	OPT_LIB, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_EMPTY_PROBES, OPT_VM_BUFFER, OPT_PPROF,
	OPT_SVG, OPT_DIFF,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "interval", required_argument, NULL, 'i' },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "min-age", required_argument, NULL, OPT_MIN_AGE },
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "folded", required_argument, NULL, OPT_FOLDED },
	{ "pprof", required_argument, NULL, OPT_PPROF },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "diff", required_argument, NULL, OPT_DIFF },
	{ "iterations", required_argument, NULL, 'n' },
	{ "lib", required_argument, NULL, OPT_LIB },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "vm-buffer", required_argument, NULL, OPT_VM_BUFFER },
	{ "empty-probes", no_argument, NULL, OPT_EMPTY_PROBES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

static int parse_seconds(const char *s, bool allow_zero, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || (!allow_zero && v == 0) ||
	    v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A count or byte size, with an optional k/m/g suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v = v > ULLONG_MAX >> 10 ? ULLONG_MAX : v << 10; end++; break;
	case 'm': case 'M': v = v > ULLONG_MAX >> 20 ? ULLONG_MAX : v << 20; end++; break;
	case 'g': case 'G': v = v > ULLONG_MAX >> 30 ? ULLONG_MAX : v << 30; end++; break;
	}
	if (*end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_pids(const char *s, struct options *o)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t pid;

		if (parse_size(tok, INT_MAX, &pid) || !pid || strpbrk(tok, "kKmMgG")) {
			err = -EINVAL;
			break;
		}
		if (o->nr_pids == MT_MAX_PIDS) {
			err = -E2BIG;
			break;
		}
		o->pids[o->nr_pids++] = (uint32_t)pid;
	}
	if (!err && !o->nr_pids)
		err = -EINVAL;
	free(copy);
	return err;
}

static int bad_value(const char *opt, const char *val)
{
	mt_err("invalid value for %s: '%s' (see --help)\n", opt, val);
	return -EINVAL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	uint64_t v;
	int c;

	o->interval_s = 5;
	o->max_size = UINT64_MAX;
	o->max_allocs = MT_DEFAULT_MAX_ALLOCS;
	o->max_stacks = MT_DEFAULT_MAX_STACKS;
	o->vm_buffer = 1u << 20;
	/* '+': stop at the first non-option, so COMMAND's own options are left alone. */
	while ((c = getopt_long(argc, argv, "+p:d:i:n:vhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pids(optarg, o))
				return bad_value("-p", optarg);
			break;
		case 'd':
			if (parse_seconds(optarg, false, &o->duration_s))
				return bad_value("--duration", optarg);
			break;
		case 'i':
			if (parse_seconds(optarg, false, &o->interval_s))
				return bad_value("--interval", optarg);
			break;
		case OPT_BATCH:
			o->batch = true;
			break;
		case OPT_TOP:
			if (parse_size(optarg, 1000000, &v) || !v)
				return bad_value("--top", optarg);
			o->top_n = (size_t)v;
			break;
		case OPT_MIN_AGE:
			if (parse_seconds(optarg, true, &o->min_age_s))
				return bad_value("--min-age", optarg);
			break;
		case OPT_MIN_SIZE:
			if (parse_size(optarg, UINT64_MAX, &o->min_size))
				return bad_value("--min-size", optarg);
			break;
		case OPT_MAX_SIZE:
			if (parse_size(optarg, UINT64_MAX, &o->max_size))
				return bad_value("--max-size", optarg);
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_FOLDED:
			o->folded_path = optarg;
			break;
		case OPT_PPROF:
			o->pprof_path = optarg;
			break;
		case OPT_SVG:
			o->svg_path = optarg;
			break;
		case OPT_DIFF:
			/* --diff OLD.json NEW.json: the second file is the next argument. */
			if (optind >= argc)
				return bad_value("--diff", "(needs OLD.json NEW.json)");
			o->diff_old = optarg;
			o->diff_new = argv[optind++];
			break;
		case 'n':
			if (parse_size(optarg, 1000000000, &v) || !v)
				return bad_value("--iterations", optarg);
			o->iterations = (long)v;
			break;
		case OPT_LIB:
			o->lib = optarg;
			break;
		case OPT_MAX_ALLOCS:
			if (parse_size(optarg, 1u << 28, &v) || v < 64)
				return bad_value("--max-allocs", optarg);
			o->max_allocs = (uint32_t)v;
			break;
		case OPT_MAX_STACKS:
			if (parse_size(optarg, 1u << 24, &v) || v < 16)
				return bad_value("--max-stacks", optarg);
			o->max_stacks = (uint32_t)v;
			break;
		case OPT_VM_BUFFER:
			/* A BPF ring buffer is a power-of-2 number of pages. */
			if (parse_size(optarg, 1u << 30, &v) || v < 4096 || (v & (v - 1)))
				return bad_value("--vm-buffer", optarg);
			o->vm_buffer = (uint32_t)v;
			break;
		case OPT_EMPTY_PROBES:
			o->empty_probes = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("memtrace %s\n", MEMTRACE_VERSION);
			exit(0);
		default:
			mt_err("invalid option (see --help)\n");
			return -EINVAL;
		}
	}
	if (optind < argc)
		o->cmd = &argv[optind];
	if (o->diff_old) {
		if (o->cmd || o->nr_pids) {
			mt_err("--diff compares two JSON reports: it traces nothing\n");
			return -EINVAL;
		}
		return 0;
	}
	if (o->cmd && o->nr_pids) {
		mt_err("give either -p PID or -- COMMAND, not both\n");
		return -EINVAL;
	}
	if (!o->cmd && !o->nr_pids) {
		mt_err("nothing to trace: give -p PID or -- COMMAND (see --help)\n");
		return -EINVAL;
	}
	if (o->min_size > o->max_size) {
		mt_err("--min-size is larger than --max-size\n");
		return -EINVAL;
	}
	return 0;
}

/* Root, or the capabilities loading BPF and attaching uprobes need (from /proc: no libcap). */
static bool privileged(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	if (geteuid() == 0)
		return true;
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

static volatile sig_atomic_t exiting;

struct run {
	struct options *o;
	struct target *targets;
	size_t nr_targets;
	struct loader *loader;
	struct symbolizer *sym;
	struct child child;
	bool cmd_mode;
	bool vm_enabled;
	struct timespec start;
};

static double elapsed_s(const struct run *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
}

static void refresh_target(struct target *t)
{
	if (t->exited)
		return;
	if (target__refresh(t) == -ESRCH)
		t->exited = true;
}

static int on_vm_event(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;

	if (size >= sizeof(struct mt_vm_event))
		vmstats__apply(r->targets, r->nr_targets, data);
	return 0;
}

/* Bring the memory figures up to date while the targets' memory can still be read. */
static void update_vm(struct run *r)
{
	if (!r->vm_enabled)
		return;
	loader__consume_vm(r->loader);
	vmstats__update(r->targets, r->nr_targets, r->loader);
}

/* The command is stopped in its exit: its mappings can be read one last time. */
static void on_child_exit_stop(void *ctx)
{
	struct run *r = ctx;

	target__refresh(&r->targets[0]);
	update_vm(r);
}

static int write_report_file(const char *path, const struct mt_report *rep,
			     int (*writer)(const struct mt_report *, FILE *), const char *what)
{
	struct out_file *of;
	int err;

	err = out_file__open(path, &of);
	if (!err) {
		err = writer(rep, out_file__stream(of));
		if (err)
			out_file__abort(of);
		else
			err = out_file__commit(of);
	}
	if (err)
		mt_err("cannot write %s report to %s: %s\n", what, path, strerror(-err));
	return err;
}

static int report(struct run *r, bool final)
{
	struct options *o = r->o;
	struct snapshot_opts so = {
		.duration_s = elapsed_s(r),
		.min_age_ns = (uint64_t)(o->min_age_s * 1e9),
		.top_n = o->top_n,
	};
	struct mt_report rep;
	int err, ret = 0;

	err = snapshot__build(r->loader, r->targets, r->nr_targets, r->sym, &so, &rep);
	if (err) {
		mt_err("cannot read the trace maps: %s\n", strerror(-err));
		return err;
	}
	if (!(o->json_path && !strcmp(o->json_path, "-") && final)) {
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
	mt_report__free(&rep);
	return ret;
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
			snprintf(buf, len, "/proc/%u/root%s", t->pid, v->path);
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

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static bool all_exited(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->nr_targets; i++)
		if (!r->targets[i].exited)
			return false;
	return true;
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

static void main_loop(struct run *r)
{
	struct options *o = r->o;
	double next_report = o->interval_s, next_maps = MAPS_REFRESH_S, now, wait;
	bool forwarded = false;
	size_t i;
	int sig;

	for (;;) {
		now = elapsed_s(r);
		if (o->duration_s && now >= o->duration_s)
			break;
		wait = next_maps < next_report ? next_maps : next_report;
		/* Memory-map events are drained often so the ring buffer never fills. */
		if (r->vm_enabled && wait > now + VM_DRAIN_S)
			wait = now + VM_DRAIN_S;
		if (o->duration_s && o->duration_s < wait)
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
		if (r->vm_enabled)
			loader__consume_vm(r->loader);
		if (r->cmd_mode && launch__poll(&r->child, on_child_exit_stop, r)) {
			r->targets[0].exited = true;
			break;
		}
		now = elapsed_s(r);
		if (now >= next_maps) {
			for (i = 0; i < r->nr_targets; i++)
				refresh_target(&r->targets[i]);
			update_vm(r);
			next_maps = now + MAPS_REFRESH_S;
			if (!r->cmd_mode && all_exited(r))
				break;
		}
		if (now >= next_report) {
			report(r, false);
			next_report = now + o->interval_s;
		}
	}
}

int main(int argc, char **argv)
{
	struct options o = {};
	struct run r = { .o = &o, .child = { .go_fd = -1, .err_fd = -1 } };
	struct loader_opts lo;
	struct allocator_obj cmd_alloc = {};
	char *cmd_path = NULL, *cmd_cxx = NULL;
	int err, own_fail = EXIT_OWN_FAILURE, exit_code = 0;
	sigset_t blocked;

	setvbuf(stderr, NULL, _IOLBF, 0);
	err = parse_options(argc, argv, &o);
	if (o.cmd)
		own_fail = EXIT_CMD_OWN_FAILURE;
	if (err)
		return own_fail;
	mt_verbose = o.verbose;
	r.cmd_mode = o.cmd != NULL;
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
		err = target__find_allocator_for_exec(cmd_path, o.lib, &cmd_alloc, &cmd_cxx);
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
	} else {
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
	};
	err = loader__new(&lo, &r.loader);
	if (err) {
		mt_err("cannot load the BPF programs: %s%s\n", strerror(-err),
		       o.verbose ? "" : " (run with -vv for the verifier's log)");
		goto cleanup;
	}
	r.sym = symbolizer__new();
	if (!r.sym) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = attach_all(&r, cmd_cxx);
	if (err)
		goto cleanup;
	err = loader__attach_vm(r.loader, on_vm_event, &r);
	if (err)
		mt_warn("cannot trace memory-map calls (%s): no mapped/retained figures\n",
			strerror(-err));
	r.vm_enabled = !err;
	err = 0;

	clock_gettime(CLOCK_MONOTONIC, &r.start);
	if (r.cmd_mode) {
		err = launch__release(&r.child);
		if (err) {
			mt_err("cannot run %s: %s\n", cmd_path, strerror(-err));
			exit_code = err == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_NOT_EXEC;
			launch__poll(&r.child, NULL, NULL);
			goto cleanup;
		}
	}
	if (!exiting)
		main_loop(&r);

	/* A target that exited since the last look is reported as such. */
	for (size_t i = 0; i < r.nr_targets; i++)
		refresh_target(&r.targets[i]);
	update_vm(&r);
	if (report(&r, true))
		err = -EIO;
	if (r.cmd_mode && r.child.done) {
		int st = r.child.status;

		exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
cleanup:
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
	if (err && !exit_code)
		return own_fail;
	return exit_code;
}
