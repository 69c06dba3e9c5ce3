/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP server (libmicrohttpd): one polling thread of its own, answering
 * from the last report the main loop published. What keeps it safe to leave
 * running:
 *
 *  - It never reads the BPF maps or calls the symbolizer: reports are
 *    immutable and reference-counted, handed over by serve__publish().
 *  - One event-driven thread: a slow reader or a stuck client costs a
 *    socket, not the thread; idle connections are closed after
 *    CONN_TIMEOUT_S; at most MAX_CONNECTIONS at once (MAX_PER_IP from one
 *    address); a request line and headers must fit in CONN_MEMORY, or the
 *    client gets an error and the connection closes. Requests carry no body.
 *  - What a report renders to is rendered once per report and per
 *    endpoint, then served from that copy: a flood of scrapes costs sends.
 *    The thread runs at nice 10: rendering a big report never competes
 *    with the tracing on equal terms.
 *  - A profile of the change over N seconds waits suspended (no thread,
 *    no timer): the main loop publishes a report out of turn when one is
 *    due (at most DEMAND_GAP_S apart, however many ask), and at most
 *    MAX_DELTAS wait at once (the others get a 429): what they hold is two
 *    reports each, at most.
 *
 * Memory is therefore bounded by the reports alive (the latest, the one the
 * cache was made from, two per waiting delta) and the responses being sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "report/report_ref.h"
#include "serve/serve.h"
#include "serve/serve_internal.h"
#include "util/log.h"

#define MAX_CONNECTIONS	32
#define MAX_PER_IP	16
#define CONN_TIMEOUT_S	10
#define CONN_MEMORY	(32 * 1024)
#define LISTEN_BACKLOG	64
#define MAX_DELTAS	4
#define MAX_DELTA_S	3600
/* Out-of-turn reports at most this often. */
#define DEMAND_GAP_S	0.25
#define SERVER_NICE	10

static const unsigned int codes[] = { 200, 400, 404, 405, 429, 500, 503 };
#define NR_CODES (sizeof(codes) / sizeof(codes[0]))

/* Rendered bytes, shared by the cache and the responses sending them. */
struct blob {
	atomic_uint refs;
	size_t len;
	char *data;
};

enum wait_state { W_BASE, W_END, W_READY, W_CANCELLED };

/* A profile of the change over `seconds`, its connection suspended meanwhile. */
struct delta_wait {
	struct delta_wait *next;
	struct MHD_Connection *conn;
	const struct route *route;
	uint32_t pid;
	double seconds;
	double asked_at;	/* CLOCK_MONOTONIC s */
	double end_at;		/* the last look is due (W_END) */
	struct mt_report_ref *base, *end;
	enum wait_state state;
	bool suspended;
};

struct server {
	struct MHD_Daemon *d;
	char url[128];
	char *title;
	size_t metrics_top;
	double interval_s;
	double start_real;

	pthread_mutex_t lock;		/* guards what follows, up to the next comment */
	struct mt_report_ref *latest;
	struct delta_wait *waiters;
	size_t nr_waiters;
	double last_demand;
	bool stopping;

	/* The server thread's own. */
	struct mt_report_ref *cache_of;
	struct blob *cache[EP_MAX];
	bool niced;

	atomic_ulong answered[NR_CODES];
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ blobs */

static struct blob *blob__get(struct blob *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

static void blob__put(void *arg)
{
	struct blob *b = arg;

	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(b->data);
	free(b);
}

/* What fn writes to a memory stream, as a blob; -ENOMEM, or fn's error. */
static int render_blob(int (*fn)(void *ctx, FILE *f), void *ctx, struct blob **out)
{
	struct blob *b = calloc(1, sizeof(*b));
	FILE *f;
	int err;

	if (!b)
		return -ENOMEM;
	f = open_memstream(&b->data, &b->len);
	if (!f) {
		free(b);
		return -ENOMEM;
	}
	err = fn(ctx, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(b->data);
		free(b);
		return err;
	}
	atomic_init(&b->refs, 1);
	*out = b;
	return 0;
}

/* -------------------------------------------------------------- responses */

static void count_answer(struct server *s, unsigned int code)
{
	size_t i;

	for (i = 0; i < NR_CODES; i++)
		if (codes[i] == code)
			atomic_fetch_add_explicit(&s->answered[i], 1, memory_order_relaxed);
}

static void common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue(struct server *s, struct MHD_Connection *c, unsigned int code,
			     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;	/* no memory: MHD closes the connection */
	common_headers(resp);
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		count_answer(s, code);
	return ret;
}

/* A text/plain reason: 400 for bad parameters, 404, 429, 503, ... */
static enum MHD_Result __attribute__((format(printf, 4, 5)))
reply_error(struct server *s, struct MHD_Connection *c, unsigned int code, const char *fmt, ...)
{
	struct MHD_Response *resp;
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	resp = MHD_create_response_from_buffer((size_t)n, msg, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	if (code == 405)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	if (code == 429 || code == 503)
		MHD_add_response_header(resp, "Retry-After", "1");
	return queue(s, c, code, resp);
}

static enum MHD_Result reply_blob(struct server *s, struct MHD_Connection *c,
				  const struct route *rt, struct blob *b)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, blob__put,
								      blob__get(b));
	if (!resp) {
		blob__put(b);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", rt->type);
	if (rt->ep == EP_HEAP || rt->ep == EP_ALLOCS)
		/* As net/http/pprof answers: a file named after the profile. */
		MHD_add_response_header(resp, "Content-Disposition", rt->ep == EP_HEAP ?
					"attachment; filename=\"heap\"" :
					"attachment; filename=\"allocs\"");
	if (rt->ep == EP_PAGE || rt->ep == EP_SVG || rt->ep == EP_INDEX)
		/* Nothing from elsewhere: scripts and styles are inline, the rest ours. */
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'self'; script-src 'unsafe-inline'; "
					"style-src 'unsafe-inline'; object-src 'self'");
	return queue(s, c, 200, resp);
}

static int render_fn(void *ctx, FILE *f)
{
	return endpoint__write(ctx, f);
}

struct metrics_ctx {
	struct server *s;
	struct blob *report_part;
};

/* The report's part of /metrics, then the server's own figures, as of now. */
static int metrics_fn(void *ctx, FILE *f)
{
	const struct metrics_ctx *m = ctx;
	unsigned long answered[NR_CODES];
	struct self_figures sf = {
		.codes = codes, .answered = answered, .nr_codes = NR_CODES,
		.start_real = m->s->start_real,
	};
	size_t i;

	for (i = 0; i < NR_CODES; i++)
		answered[i] = atomic_load_explicit(&m->s->answered[i], memory_order_relaxed);
	fwrite(m->report_part->data, 1, m->report_part->len, f);
	endpoint__write_self(f, &sf);
	return ferror(f) ? -EIO : 0;
}

static struct endpoint_ctx endpoint_ctx(struct server *s, const struct route *rt,
					const struct mt_report *r, double time_real, uint32_t pid)
{
	return (struct endpoint_ctx){
		.rt = rt, .r = r, .view = r, .time_real = time_real, .pid = pid,
		.title = s->title, .interval_s = s->interval_s, .metrics_top = s->metrics_top,
	};
}

/* ---------------------------------------------------------------- requests */

/* The report requests are answered from, with a reference; NULL before the first. */
static struct mt_report_ref *latest(struct server *s)
{
	struct mt_report_ref *ref;

	pthread_mutex_lock(&s->lock);
	ref = mt_report_ref__get(s->latest);
	pthread_mutex_unlock(&s->lock);
	return ref;
}

/* The rendering of ref for rt (whole, no pid): from the cache, made once per report. */
static int cached(struct server *s, const struct route *rt, struct mt_report_ref *ref,
		  struct blob **out)
{
	struct endpoint_ctx x = endpoint_ctx(s, rt, mt_report_ref__report(ref),
					     mt_report_ref__real(ref), 0);
	int i, err;

	if (s->cache_of != ref) {
		for (i = 0; i < EP_MAX; i++) {
			blob__put(s->cache[i]);
			s->cache[i] = NULL;
		}
		mt_report_ref__put(s->cache_of);
		s->cache_of = mt_report_ref__get(ref);
	}
	if (!s->cache[rt->ep]) {
		err = render_blob(render_fn, &x, &s->cache[rt->ep]);
		if (err)
			return err;
	}
	*out = blob__get(s->cache[rt->ep]);
	return 0;
}

static enum MHD_Result answer(struct server *s, struct MHD_Connection *c, const struct route *rt,
			      struct mt_report_ref *ref, uint32_t pid)
{
	const struct mt_report *r = mt_report_ref__report(ref);
	struct mt_report view;
	struct endpoint_ctx x = endpoint_ctx(s, rt, r, mt_report_ref__real(ref), pid);
	struct blob *b = NULL, *part;
	enum MHD_Result ret;
	int err;

	if (pid) {
		x.view = endpoint__one_process(r, pid, &view);
		if (!x.view)
			return reply_error(s, c, 404, "pid %" PRIu32 " is not traced", pid);
		err = render_blob(render_fn, &x, &b);
	} else if (rt->ep == EP_METRICS) {
		err = cached(s, rt, ref, &part);
		if (!err) {
			struct metrics_ctx m = { .s = s, .report_part = part };

			err = render_blob(metrics_fn, &m, &b);
			blob__put(part);
		}
	} else {
		err = cached(s, rt, ref, &b);
	}
	if (err)
		return reply_error(s, c, 500, "cannot render %s: %s", rt->path, strerror(-err));
	ret = reply_blob(s, c, rt, b);
	blob__put(b);
	return ret;
}

/*
 * A query parameter as a positive decimal integer up to max: 0 when absent,
 * -EINVAL when present and not one (*raw then says what was given).
 */
static int64_t param(struct MHD_Connection *c, const char *key, int64_t max, const char **raw)
{
	const char *v = NULL;
	size_t len = 0, i;
	int64_t n = 0;

	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
					  &len) != MHD_YES)
		return 0;
	*raw = v ? v : "";
	if (!v || !len || len > 10)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (v[i] - '0');
	}
	return n >= 1 && n <= max ? n : -EINVAL;
}

/* Printable for an error message: a parameter may hold anything. */
static void printable(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

static enum MHD_Result start_delta(struct server *s, struct MHD_Connection *c,
				   const struct route *rt, uint32_t pid, double seconds,
				   void **con_cls)
{
	struct delta_wait *w;
	double now = mono_s();

	w = calloc(1, sizeof(*w));
	if (!w)
		return reply_error(s, c, 500, "out of memory");
	*w = (struct delta_wait){ .conn = c, .route = rt, .pid = pid, .seconds = seconds,
				  .asked_at = now };
	pthread_mutex_lock(&s->lock);
	if (s->stopping || s->nr_waiters >= MAX_DELTAS) {
		bool stopping = s->stopping;

		pthread_mutex_unlock(&s->lock);
		free(w);
		if (stopping)
			return reply_error(s, c, 503, "memtrace is stopping");
		return reply_error(s, c, 429, "%d profiles over time are being taken already; "
				   "try again later", MAX_DELTAS);
	}
	/* Both looks are new reports: the change is over the next N seconds, not before. */
	w->next = s->waiters;
	s->waiters = w;
	s->nr_waiters++;
	*con_cls = w;
	/* Under the lock: serve__publish() resumes only what is suspended. */
	MHD_suspend_connection(c);
	w->suspended = true;
	pthread_mutex_unlock(&s->lock);
	return MHD_YES;
}

/* The delta's connection was resumed: its two reports are there, or memtrace stops. */
static enum MHD_Result finish_delta(struct server *s, struct MHD_Connection *c,
				    struct delta_wait *w)
{
	const struct mt_report *r, *base;
	struct mt_report view_end, view_base, delta;
	struct endpoint_ctx x;
	enum wait_state state;
	struct blob *b = NULL;
	enum MHD_Result ret;
	int err;

	pthread_mutex_lock(&s->lock);
	state = w->state;
	pthread_mutex_unlock(&s->lock);
	if (state != W_READY)
		return reply_error(s, c, 503, "memtrace is stopping");
	r = mt_report_ref__report(w->end);
	base = mt_report_ref__report(w->base);
	if (w->pid) {
		r = endpoint__one_process(r, w->pid, &view_end);
		if (!r)
			return reply_error(s, c, 404, "pid %" PRIu32 " is not traced", w->pid);
		/* A process the first look did not have: all of it is the change. */
		base = endpoint__one_process(base, w->pid, &view_base);
		if (!base) {
			view_base = (struct mt_report){ 0 };
			base = &view_base;
		}
	}
	err = delta__build(base, r, mt_report_ref__mono(w->end) - mt_report_ref__mono(w->base),
			   &delta);
	if (err)
		return reply_error(s, c, 500, "cannot compute the change: %s", strerror(-err));
	x = endpoint_ctx(s, w->route, &delta, mt_report_ref__real(w->base), w->pid);
	err = render_blob(render_fn, &x, &b);
	delta__free(&delta);
	if (err)
		return reply_error(s, c, 500, "cannot render %s: %s", w->route->path, strerror(-err));
	ret = reply_blob(s, c, w->route, b);
	blob__put(b);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	const struct route *rt;
	struct mt_report_ref *ref;
	const char *raw = "";
	char shown[64];
	int64_t pid = 0, seconds = 0, debug;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	(void)upload_size;
	if (*con_cls)
		return finish_delta(s, c, *con_cls);
	if (!s->niced) {
		/* This thread only: the tracing keeps its priority. */
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SERVER_NICE);
		s->niced = true;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_error(s, c, 405, "%s is not supported: the server is read-only", method);
	rt = endpoint__route(url);
	if (!rt) {
		printable(url, shown, sizeof(shown));
		return reply_error(s, c, 404, "no such page: %s (see /)", shown);
	}
	if (rt->takes_pid) {
		pid = param(c, "pid", INT32_MAX, &raw);
		if (pid < 0) {
			printable(raw, shown, sizeof(shown));
			return reply_error(s, c, 400, "invalid pid '%s': a process id", shown);
		}
	}
	if (rt->ep == EP_HEAP || rt->ep == EP_ALLOCS) {
		seconds = param(c, "seconds", MAX_DELTA_S, &raw);
		if (seconds < 0) {
			printable(raw, shown, sizeof(shown));
			return reply_error(s, c, 400, "invalid value for \"seconds\" '%s', must be a "
					   "positive integer up to %d", shown, MAX_DELTA_S);
		}
		/* debug=1 asks Go for a text profile: this one is protobuf only. */
		raw = "";
		debug = param(c, "debug", 1000, &raw);
		if (debug != 0) {
			printable(raw, shown, sizeof(shown));
			return reply_error(s, c, 400, "debug=%s is not supported: profiles are "
					   "protobuf only (debug=0)", shown);
		}
	}
	if (seconds)
		return start_delta(s, c, rt, (uint32_t)pid, (double)seconds, con_cls);
	ref = latest(s);
	if (!ref)
		return reply_error(s, c, 503, "no report yet: the first comes once tracing starts");
	ret = answer(s, c, rt, ref, (uint32_t)pid);
	mt_report_ref__put(ref);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct server *s = cls;
	struct delta_wait *w = *con_cls, **pp;

	(void)c;
	(void)why;
	if (!w)
		return;
	pthread_mutex_lock(&s->lock);
	for (pp = &s->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			s->nr_waiters--;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	mt_report_ref__put(w->base);
	mt_report_ref__put(w->end);
	free(w);
	*con_cls = NULL;
}

/* ------------------------------------------------------ the main loop's side */

void serve__publish(struct server *s, struct mt_report_ref *ref)
{
	struct delta_wait *w;
	double t;

	if (!s) {
		mt_report_ref__put(ref);
		return;
	}
	t = mt_report_ref__mono(ref);
	pthread_mutex_lock(&s->lock);
	mt_report_ref__put(s->latest);
	s->latest = ref;
	for (w = s->waiters; w; w = w->next) {
		if (w->state == W_BASE && t >= w->asked_at) {
			w->base = mt_report_ref__get(ref);
			w->end_at = t + w->seconds;
			w->state = W_END;
		} else if (w->state == W_END && t >= w->end_at) {
			w->end = mt_report_ref__get(ref);
			w->state = W_READY;
			if (w->suspended) {
				w->suspended = false;
				MHD_resume_connection(w->conn);
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
}

bool serve__wants_report(struct server *s)
{
	struct delta_wait *w;
	double now;
	bool want;

	if (!s)
		return false;
	now = mono_s();
	pthread_mutex_lock(&s->lock);
	want = !s->latest;
	for (w = s->waiters; w && !want; w = w->next)
		want = w->state == W_BASE || (w->state == W_END && now >= w->end_at);
	if (want && now - s->last_demand < DEMAND_GAP_S)
		want = false;
	if (want)
		s->last_demand = now;
	pthread_mutex_unlock(&s->lock);
	return want;
}

const char *serve__url(const struct server *s)
{
	return s->url;
}

static int listen_on(const struct serve_addr *a)
{
	int fd, one = 1, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A restarted memtrace gets its port back at once (TIME_WAIT). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) || listen(fd, LISTEN_BACKLOG)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void server__free(struct server *s)
{
	int i;

	for (i = 0; i < EP_MAX; i++)
		blob__put(s->cache[i]);
	mt_report_ref__put(s->cache_of);
	mt_report_ref__put(s->latest);
	pthread_mutex_destroy(&s->lock);
	free(s->title);
	free(s);
}

int serve__start(const struct serve_opts *o, struct server **out)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	struct serve_addr a;
	const char *why;
	struct server *s;
	char where[96];
	int fd, err;

	err = serve_addr__parse(o->addr, &a, &why);
	if (err) {
		mt_err("cannot serve on %s: %s\n", o->addr, why);
		return err;
	}
	fd = listen_on(&a);
	if (fd < 0) {
		mt_err("cannot serve on %s: %s\n", o->addr, strerror(-fd));
		return fd;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->title = strdup(o->title ? o->title : "memtrace"))) {
		free(s);
		close(fd);
		mt_err("cannot serve on %s: %s\n", o->addr, strerror(ENOMEM));
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->metrics_top = o->metrics_top;
	s->interval_s = o->interval_s;
	s->start_real = real_s();
	s->last_demand = -1e9;
	/*
	 * No MHD_USE_ERROR_LOG: the library's own messages would land on the
	 * display or between report lines; what it refuses, the client is told.
	 */
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, s,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)MAX_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		server__free(s);
		mt_err("cannot serve on %s: the HTTP server did not start\n", o->addr);
		return -EIO;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		serve_addr__str((struct sockaddr *)&bound, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "%s", o->addr);
	snprintf(s->url, sizeof(s->url), "http://%s/", where);
	*out = s;
	return 0;
}

void serve__stop(struct server *s)
{
	struct delta_wait *w;
	int i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (w = s->waiters; w; w = w->next) {
		w->state = W_CANCELLED;
		if (w->suspended) {
			w->suspended = false;
			MHD_resume_connection(w->conn);
		}
	}
	pthread_mutex_unlock(&s->lock);
	/* The waiting clients are told (503) before the connections close: 0.5 s at most. */
	for (i = 0; i < 50; i++) {
		size_t n;

		pthread_mutex_lock(&s->lock);
		n = s->nr_waiters;
		pthread_mutex_unlock(&s->lock);
		if (!n)
			break;
		usleep(10000);
	}
	MHD_stop_daemon(s->d);
	server__free(s);
}
