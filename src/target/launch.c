/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include "target/launch.h"
#include "util/log.h"

int launch__resolve(const char *argv0, char **path_out)
{
	const char *path_env, *p;
	char buf[PATH_MAX];
	int err = -ENOENT;
	struct stat st;

	if (strchr(argv0, '/')) {
		if (stat(argv0, &st))
			return -errno;
		if (!S_ISREG(st.st_mode) || access(argv0, X_OK))
			return -EACCES;
		/*
		 * Absolute, so reports name the file wherever they are read, but
		 * not through symbolic links: the kernel names the process (comm)
		 * after the file executed, and programs read argv[0] and
		 * /proc/self/exe to choose what they are (redis-server is a link
		 * to redis-check-rdb).
		 */
		if (argv0[0] == '/') {
			*path_out = strdup(argv0);
		} else {
			if (!getcwd(buf, sizeof(buf)))
				return -errno;
			if (asprintf(path_out, "%s/%s", buf, argv0) < 0)
				*path_out = NULL;
		}
		return *path_out ? 0 : -ENOMEM;
	}
	path_env = getenv("PATH");
	if (!path_env)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	for (p = path_env; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, len ? p : ".", argv0) <
		    (int)sizeof(buf) && !stat(buf, &st) && S_ISREG(st.st_mode)) {
			if (!access(buf, X_OK)) {
				*path_out = strdup(buf);
				return *path_out ? 0 : -ENOMEM;
			}
			err = -EACCES;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return err;
}

/* The kernel follows at most this many "#!" lines (BINPRM_MAX_RECURSION). */
#define MAX_SCRIPT_DEPTH 4

/*
 * A "#!" line's interpreter: the path, or for "/usr/bin/env NAME" NAME along
 * PATH as env finds it. 0 with *out NULL when path is not a script.
 */
static int script_interpreter(const char *path, char **out)
{
	char line[256], *p, *interp, *arg;
	ssize_t n;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	line[n] = '\0';
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return 0;
	p = strchr(line, '\n');
	if (!p)
		return -ENOEXEC;	/* longer than the kernel reads: it refuses it too */
	*p = '\0';
	interp = line + 2 + strspn(line + 2, " \t");
	p = interp + strcspn(interp, " \t");
	arg = p + strspn(p, " \t");
	*p = '\0';
	if (!*interp)
		return -ENOEXEC;
	p = strrchr(interp, '/');
	if (strcmp(p ? p + 1 : interp, "env"))
		return (*out = strdup(interp)) ? 0 : -ENOMEM;
	/* env NAME: one name, as the kernel passes the rest as one argument. */
	if (!*arg || *arg == '-' || strpbrk(arg, " \t="))
		return -ENOEXEC;
	return launch__resolve(arg, out);
}

int launch__program(const char *path, char **elf_out)
{
	char *cur = strdup(path), *next;
	int depth, err;

	if (!cur)
		return -ENOMEM;
	for (depth = 0; depth <= MAX_SCRIPT_DEPTH; depth++) {
		err = script_interpreter(cur, &next);
		if (err || !next) {
			if (err)
				free(cur);
			else
				*elf_out = cur;
			return err;
		}
		free(cur);
		cur = next;
	}
	free(cur);
	return -ELOOP;
}

int launch__spawn(const char *path, char *const argv[], struct child *c)
{
	int go[2], errp[2];
	pid_t pid;

	memset(c, 0, sizeof(*c));
	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(errp, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (pid == 0) {
		sigset_t none;
		char byte;
		int e;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		close(go[1]);
		close(errp[0]);
		/* EOF instead of the byte: memtrace gave up, do not run the command. */
		if (read(go[0], &byte, 1) != 1)
			_exit(125);
		execv(path, argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(go[0]);
	close(errp[1]);
	c->pid = pid;
	c->go_fd = go[1];
	c->err_fd = errp[0];
	return 0;
}

bool launch__seize(struct child *c)
{
	/* Before exec, so the exec and exit stops are armed for the command's whole life. */
	if (!ptrace(PTRACE_SEIZE, c->pid, NULL,
		    (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC)))
		c->traced = true;
	else
		mt_debug("cannot follow pid %d with ptrace (%s): mappings are read while it runs\n",
			 c->pid, strerror(errno));
	return c->traced;
}

int launch__release(struct child *c)
{
	ssize_t n;
	int e = 0;

	if (write(c->go_fd, "g", 1) != 1)
		return -errno;
	close(c->go_fd);
	c->go_fd = -1;
	do {
		n = read(c->err_fd, &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	close(c->err_fd);
	c->err_fd = -1;
	if (n == sizeof(e))
		return -e;
	return 0;
}

bool launch__poll(struct child *c, const struct launch_hooks *h)
{
	int status;
	pid_t r;

	while (!c->done) {
		r = waitpid(c->pid, &status, WNOHANG | __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			c->done = true;
			c->status = status;
			break;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			struct user_regs_struct regs;
			bool whole = true;

			/* exit(2) ends one thread (the first may leave the others running);
			 * exit_group(2) or a fatal signal the process. */
			if (!ptrace(PTRACE_GETREGS, c->pid, NULL, &regs) && regs.orig_rax == SYS_exit)
				whole = false;
			if (h && h->on_exit)
				h->on_exit(h->ctx, whole);
			ptrace(PTRACE_DETACH, c->pid, NULL, NULL);
			c->traced = false;
		} else if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			/* The new image and its dynamic linker are mapped: the executable's
			 * unwind table can be loaded before any of its code runs. */
			if (h && h->on_mapped)
				h->on_mapped(h->ctx);
			ptrace(PTRACE_CONT, c->pid, NULL, NULL);
		} else if (WSTOPSIG(status) == SIGSTOP && status >> 16 == 0 && h && h->stop_is_ours &&
			   h->stop_is_ours(h->ctx)) {
			/* memtrace's own stop, once the dynamic linker has mapped libraries. */
			if (h->on_mapped)
				h->on_mapped(h->ctx);
			ptrace(PTRACE_CONT, c->pid, NULL, NULL);
		} else if (status >> 16 == PTRACE_EVENT_STOP) {
			/* Group stop (SIGSTOP, SIGTSTP): stay stopped, as without us. */
			ptrace(PTRACE_LISTEN, c->pid, NULL, NULL);
		} else {
			/* A signal for the command: pass it on untouched. */
			ptrace(PTRACE_CONT, c->pid, NULL, (void *)(long)WSTOPSIG(status));
		}
	}
	return c->done;
}

void launch__abort(struct child *c)
{
	int status;

	if (c->go_fd >= 0)
		close(c->go_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->go_fd = c->err_fd = -1;
	if (c->pid > 0 && !c->done) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &status, __WALL) < 0 && errno == EINTR)
			;
		c->done = true;
	}
}
