/*
 * memtrace's demo: a small "server" that handles requests for a few
 * seconds. Most requests free what they allocate; the session cache
 * forgets to evict, so it leaks 512 bytes per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

struct session {
	char token[480];
	struct session *next;
	long id;
};

static struct session *cache;

static NOINLINE struct session *session_cache_insert(long id)
{
	struct session *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->token, sizeof(s->token), "session-%ld", id);
	s->id = id;
	s->next = cache;
	cache = s;	/* never evicted: the leak */
	return s;
}

static NOINLINE char *render_response(long id)
{
	char *body = malloc(4096);

	if (body)
		snprintf(body, 4096, "<html>request %ld</html>", id);
	return body;
}

static NOINLINE void handle_request(long id)
{
	char *body = render_response(id);

	if (id % 4 == 0)
		session_cache_insert(id);
	free(body);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 4;
	time_t end = time(NULL) + seconds;
	long id = 0;

	printf("demo: serving requests for %d s (pid %d)\n", seconds, getpid());
	fflush(stdout);
	while (time(NULL) < end) {
		for (int i = 0; i < 1000; i++)
			handle_request(id++);
		usleep(100 * 1000);
	}
	printf("demo: handled %ld requests\n", id);
	return 0;
}
