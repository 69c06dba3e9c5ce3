/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/procmaps.h"

#define DELETED_SUFFIX " (deleted)"

/*
 * The number parsers below work on [*p, end) because the text handed to
 * proc_maps__parse() need not be NUL-terminated, and because strtoull()
 * would accept signs, "0x" prefixes and leading blanks that never appear in
 * a well-formed maps line.
 */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_num(const char **p, const char *end, unsigned int base, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (s >= end)
		return -EINVAL;
	while (s < end && (d = hexval(*s)) >= 0 && (unsigned int)d < base) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -ERANGE;
		v = v * base + (uint64_t)d;
		s++;
	}
	if (s == *p)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* Returns 0 and fills v, or -EINVAL for a line that is to be skipped. */
static int parse_line(const char *s, const char *end, struct vma *v)
{
	uint64_t major, minor;
	size_t plen, slen = strlen(DELETED_SUFFIX);
	int i;

	memset(v, 0, sizeof(*v));
	if (parse_num(&s, end, 16, &v->start) || expect(&s, end, '-') ||
	    parse_num(&s, end, 16, &v->end) || expect(&s, end, ' '))
		return -EINVAL;
	if (v->start >= v->end)
		return -EINVAL;
	/*
	 * Only what the kernel prints ("r-xp"): perms is used as a C string,
	 * and a NUL or a stray byte in it would read as other permissions.
	 */
	for (i = 0; i < 4; i++) {
		if (s >= end || (*s != "rwxp"[i] && *s != (i == 3 ? 's' : '-')))
			return -EINVAL;
		v->perms[i] = *s++;
	}
	v->perms[4] = '\0';
	if (expect(&s, end, ' ') || parse_num(&s, end, 16, &v->pgoff) || expect(&s, end, ' ') ||
	    parse_num(&s, end, 16, &major) || expect(&s, end, ':') ||
	    parse_num(&s, end, 16, &minor) || expect(&s, end, ' ') ||
	    parse_num(&s, end, 10, &v->inode))
		return -EINVAL;
	if (major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	v->dev_major = (uint32_t)major;
	v->dev_minor = (uint32_t)minor;

	if (s < end && *s != ' ' && *s != '\t')
		return -EINVAL;
	skip_blanks(&s, end);
	/* Everything up to the end of the line is the path: it may hold blanks. */
	plen = (size_t)(end - s);
	if (plen == 0)
		return 0;
	if (plen > slen && !memcmp(s + plen - slen, DELETED_SUFFIX, slen)) {
		plen -= slen;
		v->deleted = true;
	}
	v->path = strndup(s, plen);
	if (!v->path)
		return -ENOMEM;
	return 0;
}

static int vma_cmp(const void *a, const void *b)
{
	const struct vma *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int proc_maps__parse(const char *text, size_t len, uint32_t pid, struct proc_maps **out)
{
	const char *p = text, *end = text + len, *eol;
	struct proc_maps *m;
	size_t cap = 0;
	int err;

	*out = NULL;
	if (!text && len)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pid = pid;

	while (p < end) {
		struct vma v;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		err = parse_line(p, eol, &v);
		p = eol + 1;
		if (err == -ENOMEM)
			goto err_out;
		if (err)
			continue;
		if (m->nr == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct vma *nv = realloc(m->vmas, ncap * sizeof(*nv));

			if (!nv) {
				free(v.path);
				err = -ENOMEM;
				goto err_out;
			}
			m->vmas = nv;
			cap = ncap;
		}
		m->vmas[m->nr++] = v;
	}
	/* The kernel already lists them in order; sorting guards the binary search. */
	if (m->nr > 1)
		qsort(m->vmas, m->nr, sizeof(*m->vmas), vma_cmp);
	*out = m;
	return 0;

err_out:
	proc_maps__free(m);
	return err;
}

int proc_maps__read(uint32_t pid, struct proc_maps **out)
{
	char fname[64], *buf = NULL, *nbuf;
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd, err;

	*out = NULL;
	snprintf(fname, sizeof(fname), "/proc/%u/maps", pid);
	fd = open(fname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/*
	 * A user process always has mappings; an empty file means it has
	 * exited and is a zombie whose memory is already gone.
	 */
	if (len == 0) {
		err = -ESRCH;
		goto out;
	}
	err = proc_maps__parse(buf, len, pid, out);
out:
	free(buf);
	close(fd);
	return err;
}

const struct vma *proc_maps__find(const struct proc_maps *m, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!m || !m->nr)
		return NULL;
	hi = m->nr;
	/* Find the last mapping whose start is <= addr. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->vmas[mid].start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (addr >= m->vmas[lo].start && addr < m->vmas[lo].end)
		return &m->vmas[lo];
	return NULL;
}

bool vma__is_file(const struct vma *v)
{
	return v && v->path && v->path[0] == '/';
}

void proc_maps__free(struct proc_maps *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr; i++)
		free(m->vmas[i].path);
	free(m->vmas);
	free(m);
}
