/*
 * vmchurn: maps and unmaps anonymous memory while memtrace starts, then
 * holds still and says how much anonymous memory it has mapped, as the
 * kernel lists it (/proc/self/maps: private, nameless or [heap], not
 * PROT_NONE), which is what memtrace's vm.mapped_bytes must read.
 *
 *   vmchurn --wait   "ready <pid>", churn until SIGUSR1, settle, print
 *                    "anon_mapped <bytes>" and "done", wait for SIGTERM
 *   vmchurn          churn for 300 ms, settle, print the same, stay 1.5 s, exit
 *
 * Churn: 1 MiB regions mapped, touched and unmapped in turn, 32 at a time.
 * Settled: 8 of them kept, touched. Nothing here calls malloc (stdio
 * neither): the count is not moved by the printing.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wl_common.h"

#define REGION (1 << 20)
#define SLOTS 32
#define KEEP 8

static char *slots[SLOTS];
static char maps_buf[1 << 20];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void churn_once(unsigned i)
{
	char **s = &slots[i % SLOTS];

	if (*s)
		munmap(*s, REGION);
	*s = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*s == MAP_FAILED)
		*s = NULL;
	else
		memset(*s, 1, REGION);
}

static uint64_t hex(const char **p)
{
	uint64_t v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

/* The sum over /proc/self/maps lines: start-end perms offset dev inode [path]. */
static uint64_t anon_mapped(void)
{
	size_t len = 0;
	ssize_t n;
	uint64_t sum = 0;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return 0;
	while (len < sizeof(maps_buf) - 1 &&
	       (n = read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	maps_buf[len] = '\0';
	for (char *line = maps_buf; *line;) {
		char *end = strchr(line, '\n');
		const char *p = line, *path;
		uint64_t start, stop;
		char perms[5];
		int field;

		if (end)
			*end = '\0';
		start = hex(&p);
		p++;
		stop = hex(&p);
		p++;
		memcpy(perms, p, 4);
		perms[4] = '\0';
		/* The path is the sixth field. */
		for (field = 0, path = p; *path && field < 4; path++)
			if (*path == ' ') {
				field++;
				while (path[1] == ' ' && field == 4)
					path++;
			}
		while (*path == ' ')
			path++;
		if (perms[3] == 'p' && strcmp(perms, "---p") &&
		    (!*path || !strcmp(path, "[heap]")))
			sum += stop - start;
		line = end ? end + 1 : line + strlen(line);
	}
	return sum;
}

int main(int argc, char **argv)
{
	unsigned i = 0;
	double until;

	/* In wait mode, churn until SIGUSR1: memtrace attaches meanwhile. */
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = wl_on_signal;
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		wl_wait_mode = 1;
		wl_say("ready %d", (int)getpid());
		while (!wl_got_usr1 && !wl_got_stop)
			churn_once(i++);
	} else {
		for (until = now_s() + 0.3; now_s() < until;)
			churn_once(i++);
	}
	for (i = KEEP; i < SLOTS; i++)
		if (slots[i]) {
			munmap(slots[i], REGION);
			slots[i] = NULL;
		}
	for (i = 0; i < KEEP; i++)
		if (!slots[i])
			churn_once(i);
	wl_say("anon_mapped %llu", (unsigned long long)anon_mapped());
	wl_say("done");
	if (wl_wait_mode) {
		while (!wl_got_stop)
			usleep(10000);
	} else {
		usleep(1500000);
	}
	return 0;
}
