/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "app/options.h"

#define MEMTRACE_VERSION "0.1.0"

static const char usage_text[] =
"Usage: memtrace [OPTIONS] -p PID[,PID...]\n"
"       memtrace [OPTIONS] -- COMMAND [ARGS...]\n"
"       memtrace [OPTIONS]                  every process using the system's allocator\n"
"       memtrace --diff OLD.json NEW.json   what grew between two reports\n"
"\n"
"Trace the allocations of running processes (or of COMMAND from its first\n"
"allocation) and show the call stacks that hold the most memory: a live,\n"
"top-like display on a terminal, plain-text reports otherwise (or --batch).\n"
"\n"
"Examples:\n"
"  sudo memtrace -p 4242                      live display until q or Ctrl-C\n"
"  sudo memtrace                              all processes, live display\n"
"  sudo memtrace -p 4242,4243 -d 30 --json out.json --folded out.folded\n"
"  sudo memtrace -- ./server --port 8080      trace a command; exits with its status\n"
"  sudo memtrace -p 4242 --batch -i 5 --min-age 60   only blocks alive for a minute\n"
"  sudo memtrace --serve 6060                 every process, served on 127.0.0.1:6060\n"
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
"  -i, --interval SEC       seconds between refreshes (default 2 on the display,\n"
"                           5 for text reports)\n"
"      --batch              plain-text periodic reports, not the display (the\n"
"                           default when stdout is not a terminal)\n"
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
"Tracking (native allocators):\n"
"      --sample-rate BYTES  keep one allocation per BYTES allocated (a power of\n"
"                           2; mean of an exponential draw) instead of every\n"
"                           block: live bytes per stack are then estimates;\n"
"                           bytes and calls allocated stay exact\n"
"      --exact              keep every block, even when the allocation map\n"
"                           fills (by default memtrace then samples, and\n"
"                           starts sampling a process that is already large)\n"
"Serving (memtrace as a node agent):\n"
"      --serve ADDR         serve /metrics (Prometheus), /debug/pprof/heap and\n"
"                           /debug/pprof/allocs (go tool pprof, Parca) and a page\n"
"                           at / while tracing; ADDR is PORT or :PORT (loopback),\n"
"                           HOST:PORT or [IPV6]:PORT (0.0.0.0:PORT: every\n"
"                           interface). Without a terminal or --batch, no text\n"
"                           reports: reports are published every --interval\n"
"      --metrics-top N      stacks by live bytes given as series on /metrics\n"
"                           (default 10, over every process; 0: none)\n"
"Go programs:\n"
"      --go-live SOURCE     where live bytes per stack come from: auto (the\n"
"                           runtime's heap profile when the program keeps one,\n"
"                           else memtrace's own sampling), runtime, memtrace\n"
"      --go-sample-rate BYTES  mean bytes between allocations memtrace samples\n"
"                           (default 256k; 0: none)\n"
"Python programs:\n"
"      --interpreter-frames keep the interpreter's own C frames in Python stacks\n"
"                           (default: Python frames stand in their place)\n"
"Limits:\n"
"      --max-allocs N       live blocks tracked at once (default 1048576)\n"
"      --max-stacks N       distinct call stacks tracked (default 32768)\n"
"      --max-procs N        processes traced at once (default 1024)\n"
"      --vm-buffer BYTES    ring buffer for memory-map events, a power of 2\n"
"                           (default 1m)\n"
"Unwinding and benchmarks:\n"
"      --fp-only            frame pointers only: no unwind tables for code\n"
"                           built without them\n"
"      --empty-probes       probes that record nothing (the overhead floor)\n"
"  -v, --verbose            diagnostics; -vv adds libbpf's and the verifier's log\n"
"  -h, --help               this text\n"
"      --list-options       every long option, one a line\n"
"  -V, --version            version\n"
"\n"
"Exit status: 0 on success; with -- COMMAND, the command's own status (128+N\n"
"when killed by signal N). memtrace's own failures: 1, or with -- COMMAND 125;\n"
"126 when COMMAND cannot be executed, 127 when it is not found.\n"
"Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).\n";

enum {
	OPT_BATCH = 256, OPT_TOP, OPT_MIN_AGE, OPT_MIN_SIZE, OPT_MAX_SIZE, OPT_JSON, OPT_FOLDED,
	OPT_LIB, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_EMPTY_PROBES, OPT_VM_BUFFER, OPT_PPROF,
	OPT_SVG, OPT_DIFF, OPT_MAX_PROCS, OPT_FP_ONLY, OPT_LIST_OPTIONS, OPT_GO_LIVE,
	OPT_GO_SAMPLE_RATE, OPT_SAMPLE_RATE, OPT_EXACT, OPT_SERVE, OPT_METRICS_TOP,
	OPT_INTERPRETER_FRAMES,
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
	{ "go-live", required_argument, NULL, OPT_GO_LIVE },
	{ "go-sample-rate", required_argument, NULL, OPT_GO_SAMPLE_RATE },
	{ "sample-rate", required_argument, NULL, OPT_SAMPLE_RATE },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "serve", required_argument, NULL, OPT_SERVE },
	{ "metrics-top", required_argument, NULL, OPT_METRICS_TOP },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "vm-buffer", required_argument, NULL, OPT_VM_BUFFER },
	{ "max-procs", required_argument, NULL, OPT_MAX_PROCS },
	{ "fp-only", no_argument, NULL, OPT_FP_ONLY },
	{ "interpreter-frames", no_argument, NULL, OPT_INTERPRETER_FRAMES },
	{ "empty-probes", no_argument, NULL, OPT_EMPTY_PROBES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "list-options", no_argument, NULL, OPT_LIST_OPTIONS },
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

int parse_options(int argc, char **argv, struct options *o)
{
	uint64_t v;
	int c;

	o->interval_s = 5;
	o->max_size = UINT64_MAX;
	o->max_allocs = MT_DEFAULT_MAX_ALLOCS;
	o->max_stacks = MT_DEFAULT_MAX_STACKS;
	o->vm_buffer = MT_DEFAULT_VM_BUFFER;
	/*
	 * Half runtime.MemProfileRate's default: a stack of 64 objects of 1 MiB
	 * is then estimated within 1.7% (one sd), not 5% (README, Go programs).
	 */
	o->go_sample_rate = 256 * 1024;
	o->metrics_top = 10;
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
			o->interval_given = true;
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
		case OPT_GO_LIVE:
			if (!strcmp(optarg, "auto"))
				o->go_live = GO_LIVE_AUTO;
			else if (!strcmp(optarg, "runtime"))
				o->go_live = GO_LIVE_RUNTIME;
			else if (!strcmp(optarg, "memtrace"))
				o->go_live = GO_LIVE_MEMTRACE;
			else
				return bad_value("--go-live", optarg);
			break;
		case OPT_GO_SAMPLE_RATE:
			if (parse_size(optarg, 1ull << 40, &o->go_sample_rate))
				return bad_value("--go-sample-rate", optarg);
			break;
		case OPT_SERVE:
			if (!*optarg)
				return bad_value("--serve", optarg);
			o->serve_addr = optarg;
			break;
		case OPT_METRICS_TOP:
			if (parse_size(optarg, 10000, &v) || strpbrk(optarg, "kKmMgG"))
				return bad_value("--metrics-top", optarg);
			o->metrics_top = (size_t)v;
			break;
		case OPT_SAMPLE_RATE:
			/* The BPF side keeps the rate's log2 with each block. */
			if (parse_size(optarg, 1ull << MT_SAMPLE_SHIFT_MAX, &v) || v < 2 || (v & (v - 1)))
				return bad_value("--sample-rate", optarg);
			o->sample_shift = (unsigned int)__builtin_ctzll(v);
			o->sampling = SAMPLING_FIXED;
			break;
		case OPT_EXACT:
			o->sampling = SAMPLING_EXACT;
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
		case OPT_MAX_PROCS:
			if (parse_size(optarg, 1u << 20, &v) || v < 1)
				return bad_value("--max-procs", optarg);
			o->max_procs = (uint32_t)v;
			break;
		case OPT_FP_ONLY:
			o->fp_only = true;
			break;
		case OPT_INTERPRETER_FRAMES:
			o->interpreter_frames = true;
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
		case OPT_LIST_OPTIONS:
			/* What --help must list: tests compare the two. */
			for (const struct option *lo = long_opts; lo->name; lo++)
				printf("--%s\n", lo->name);
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
		if (o->serve_addr) {
			mt_err("--diff compares two JSON reports: it serves nothing\n");
			return -EINVAL;
		}
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
	/* No target: every process that uses the system's allocator. */
	if (o->min_size > o->max_size) {
		mt_err("--min-size is larger than --max-size\n");
		return -EINVAL;
	}
	return 0;
}

