/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "symbols/py_names.h"
#include "util/hash.h"

/* The most read of one string or line table: anything longer is not a code object's. */
#define MAX_NAME_CHARS 4096
#define MAX_LINETABLE (1u << 20)
/* A code object's fields, up to its bytecode. */
#define MAX_CODE_HEAD 512

struct code_entry {
	uint64_t addr;
	uint64_t fp;		/* what it held when first seen (fingerprint); 0: unknown */
	uint32_t pid;
	bool tried;		/* read once: an entry with a fingerprint is not read again */
	char *qualname;
	char *filename;
	int firstlineno;
	bool lines;		/* the line table is its own: lines can be told */
	uint8_t *linetable;
	size_t linetable_len;
	struct code_entry *next;
};

/* A stack's Python frames, as first seen: each frame's code fingerprint. */
struct stack_ent {
	uint64_t key;		/* hash of the frames */
	uint32_t pid;
	uint32_t nr;
	uint64_t frames[MT_MAX_PY_FRAMES];
	uint64_t fp[MT_MAX_PY_FRAMES];
	struct stack_ent *next;
};

struct table {
	void **buckets;
	size_t nr_buckets, nr;
};

struct py_names {
	pthread_mutex_t lock;
	struct table codes;	/* struct code_entry */
	struct table stacks;	/* struct stack_ent */
};

/* Both entry types start with their chain's link at the same place: next is looked up by offset. */
static int table_init(struct table *t)
{
	t->nr_buckets = 1024;
	t->buckets = calloc(t->nr_buckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -ENOMEM;
}

struct py_names *py_names__new(void)
{
	struct py_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (table_init(&n->codes) || table_init(&n->stacks)) {
		free(n->codes.buckets);
		free(n);
		return NULL;
	}
	pthread_mutex_init(&n->lock, NULL);
	return n;
}

static void code_free(struct code_entry *e)
{
	free(e->qualname);
	free(e->filename);
	free(e->linetable);
	free(e);
}

void py_names__free(struct py_names *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->codes.nr_buckets; i++) {
		struct code_entry *e = n->codes.buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			code_free(e);
		}
	}
	for (i = 0; i < n->stacks.nr_buckets; i++) {
		struct stack_ent *e = n->stacks.buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(n->codes.buckets);
	free(n->stacks.buckets);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void py_names__forget(struct py_names *n, uint32_t pid)
{
	size_t i;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->codes.nr_buckets; i++) {
		struct code_entry **pp = (struct code_entry **)&n->codes.buckets[i], *e;

		while ((e = *pp)) {
			if (e->pid == pid) {
				*pp = e->next;
				code_free(e);
				n->codes.nr--;
			} else {
				pp = &e->next;
			}
		}
	}
	for (i = 0; i < n->stacks.nr_buckets; i++) {
		struct stack_ent **pp = (struct stack_ent **)&n->stacks.buckets[i], *e;

		while ((e = *pp)) {
			if (e->pid == pid) {
				*pp = e->next;
				free(e);
				n->stacks.nr--;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&n->lock);
}

static int read_mem(uint32_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t got;

	if (!addr)
		return -EFAULT;
	got = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == len ? 0 : -EFAULT;
}

static uint64_t word_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* UTF-8 of one code point into out (room for 4 bytes); returns the bytes written. */
static size_t put_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c > 0x10ffff)
		c = 0xfffd;
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * A str object as UTF-8 (compact strings only: what code objects hold).
 * PyASCIIObject.state: interned:2, kind:3, compact:1, ascii:1 from bit 0
 * (3.11-3.13 alike). str_type: its type's address, 0 when not checked.
 */
static char *read_str(uint32_t pid, const struct py_code_layout *cl, uint64_t addr,
		      uint64_t str_type)
{
	uint8_t head[128];
	uint64_t len, data;
	uint32_t state, kind, i;
	uint8_t *raw;
	char *out, *o;
	size_t head_len = cl->str_compact_size;

	if (head_len > sizeof(head) || (size_t)cl->str_state + 4 > head_len ||
	    (size_t)cl->str_length + 8 > head_len || (size_t)cl->ob_type + 8 > head_len ||
	    read_mem(pid, addr, head, head_len))
		return NULL;
	if (str_type && word_at(head, cl->ob_type) != str_type)
		return NULL;
	len = word_at(head, cl->str_length);
	memcpy(&state, head + cl->str_state, sizeof(state));
	kind = (state >> 2) & 7;
	if (len > MAX_NAME_CHARS || !((state >> 5) & 1) || (kind != 1 && kind != 2 && kind != 4))
		return NULL;
	data = addr + (((state >> 6) & 1) ? cl->str_ascii_size : cl->str_compact_size);
	raw = malloc(len * kind + 1);
	out = malloc(len * 4 + 1);
	if (!raw || !out || read_mem(pid, data, raw, len * kind)) {
		free(raw);
		free(out);
		return NULL;
	}
	for (i = 0, o = out; i < len; i++) {
		uint32_t c;

		if (kind == 1) {
			c = raw[i];
		} else if (kind == 2) {
			uint16_t c16;

			memcpy(&c16, raw + 2 * i, 2);
			c = c16;
		} else {
			memcpy(&c, raw + 4 * i, 4);
		}
		/* A NUL would cut the name short in every output. */
		o += put_utf8(c ? c : 0xfffd, o);
	}
	*o = '\0';
	free(raw);
	return out;
}

/* A bytes object's contents (a line table), at most MAX_LINETABLE bytes. */
static uint8_t *read_bytes(uint32_t pid, const struct py_code_layout *cl, uint64_t addr,
			   size_t *len)
{
	uint8_t head[64], *buf;
	uint64_t n;

	*len = 0;
	if (cl->bytes_sval > sizeof(head) || (size_t)cl->bytes_size + 8 > cl->bytes_sval ||
	    read_mem(pid, addr, head, cl->bytes_sval))
		return NULL;
	n = word_at(head, cl->bytes_size);
	if (!n || n > MAX_LINETABLE)
		return NULL;
	buf = malloc(n);
	if (!buf || read_mem(pid, addr + cl->bytes_sval, buf, n)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* What identifies a code object: the objects it points to and its first line. */
static uint64_t fingerprint(uint64_t filename, uint64_t qualname, uint64_t linetable, int32_t first)
{
	return mix64_pair(mix64_pair(filename, qualname), mix64_pair(linetable, (uint32_t)first)) |
	       1;
}

/*
 * Read the code object at e->addr: all of it when it is the one the
 * fingerprint describes (or, without one, any code object); else (another
 * took its address: ref says what was there) the names its strings hold.
 */
static void read_code(uint32_t pid, const struct py_interp *in, uint64_t bias,
		      const struct mt_py_code_ref *ref, struct code_entry *e)
{
	const struct py_code_layout *cl = &in->code;
	uint64_t str_type = in->str_type ? in->str_type + bias : 0, fn, qn, lt;
	uint8_t head[MAX_CODE_HEAD];
	int32_t first;

	e->tried = true;
	if (cl->co_code_adaptive <= sizeof(head) &&
	    !read_mem(pid, e->addr, head, cl->co_code_adaptive) &&
	    word_at(head, cl->ob_type) == in->code_type + bias) {
		memcpy(&first, head + cl->co_firstlineno, sizeof(first));
		fn = word_at(head, cl->co_filename);
		qn = word_at(head, cl->co_qualname);
		lt = word_at(head, cl->co_linetable);
		if (!ref || fingerprint(fn, qn, lt, first) == e->fp) {
			e->qualname = read_str(pid, cl, qn, str_type);
			if (!e->qualname)
				e->qualname = read_str(pid, cl, word_at(head, cl->co_name), str_type);
			e->filename = read_str(pid, cl, fn, str_type);
			e->firstlineno = first;
			e->linetable = read_bytes(pid, cl, lt, &e->linetable_len);
			e->lines = e->qualname != NULL;
			return;
		}
	}
	if (!ref)
		return;
	/* Gone since: its strings may live on (a module's name and file outlive its code). */
	e->qualname = read_str(pid, cl, ref->qualname, str_type);
	e->filename = read_str(pid, cl, ref->filename, str_type);
	e->firstlineno = ref->firstlineno;
	if (!e->qualname) {
		free(e->filename);
		e->filename = NULL;
	}
}

static uint64_t code_hash(uint32_t pid, uint64_t addr, uint64_t fp)
{
	return mix64_pair(mix64_pair(addr, pid), fp);
}

static uint64_t stack_hash(uint32_t pid, const uint64_t *py, uint32_t nr)
{
	uint64_t h = mix64_pair(pid, nr);
	uint32_t i;

	for (i = 0; i < nr; i++)
		h = mix64_pair(h, py[i]);
	return h;
}

/* Double t's buckets when it holds twice as many entries; next is at offset link. */
static void grow(struct table *t, size_t link, uint64_t (*hash)(const void *))
{
	size_t nb = t->nr_buckets * 2, i;
	void **b;

	if (t->nr <= 2 * t->nr_buckets)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;		/* longer chains, still correct */
	for (i = 0; i < t->nr_buckets; i++) {
		void *e = t->buckets[i], *next;

		for (; e; e = next) {
			void **lp = (void **)((char *)e + link);
			size_t h = hash(e) & (nb - 1);

			next = *lp;
			*lp = b[h];
			b[h] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nr_buckets = nb;
}

static uint64_t code_ent_hash(const void *p)
{
	const struct code_entry *e = p;

	return code_hash(e->pid, e->addr, e->fp);
}

static uint64_t stack_ent_hash(const void *p)
{
	const struct stack_ent *e = p;

	return e->key;
}

static struct code_entry *code_get(struct py_names *n, uint32_t pid, uint64_t addr, uint64_t fp)
{
	struct code_entry *e;
	size_t h;

	grow(&n->codes, offsetof(struct code_entry, next), code_ent_hash);
	h = code_hash(pid, addr, fp) & (n->codes.nr_buckets - 1);
	for (e = n->codes.buckets[h]; e; e = e->next)
		if (e->addr == addr && e->pid == pid && e->fp == fp)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->addr = addr;
	e->pid = pid;
	e->fp = fp;
	e->next = n->codes.buckets[h];
	n->codes.buckets[h] = e;
	n->codes.nr++;
	return e;
}

static struct stack_ent *stack_find(struct py_names *n, uint32_t pid, const uint64_t *py,
				    uint32_t nr)
{
	uint64_t key = stack_hash(pid, py, nr);
	struct stack_ent *e;

	for (e = n->stacks.buckets[key & (n->stacks.nr_buckets - 1)]; e; e = e->next)
		if (e->key == key && e->pid == pid && e->nr == nr &&
		    !memcmp(e->frames, py, nr * sizeof(*py)))
			return e;
	return NULL;
}

int py_names__seen(struct py_names *n, uint32_t pid, const struct py_interp *in, uint64_t bias,
		   const struct mt_py_code_ref *refs, uint32_t nr)
{
	uint64_t py[MT_MAX_PY_FRAMES];
	struct stack_ent *se;
	uint32_t i;
	int err = 0;

	if (nr > MT_MAX_PY_FRAMES)
		nr = MT_MAX_PY_FRAMES;
	for (i = 0; i < nr; i++)
		py[i] = refs[i].frame;
	pthread_mutex_lock(&n->lock);
	se = stack_find(n, pid, py, nr);
	if (se)
		goto out;
	grow(&n->stacks, offsetof(struct stack_ent, next), stack_ent_hash);
	se = calloc(1, sizeof(*se));
	if (!se) {
		err = -ENOMEM;
		goto out;
	}
	se->key = stack_hash(pid, py, nr);
	se->pid = pid;
	se->nr = nr;
	memcpy(se->frames, py, nr * sizeof(*py));
	for (i = 0; i < nr; i++) {
		const struct mt_py_code_ref *r = &refs[i];
		struct code_entry *e;

		/* A frame whose code could not be read then is named from what is there later. */
		se->fp[i] = r->qualname ? fingerprint(r->filename, r->qualname, r->linetable,
						      r->firstlineno) : 0;
		if (!se->fp[i])
			continue;
		e = code_get(n, pid, MT_PY_FRAME_CODE(r->frame), se->fp[i]);
		if (e && !e->tried)
			read_code(pid, in, bias, r, e);
	}
	se->next = n->stacks.buckets[se->key & (n->stacks.nr_buckets - 1)];
	n->stacks.buckets[se->key & (n->stacks.nr_buckets - 1)] = se;
	n->stacks.nr++;
out:
	pthread_mutex_unlock(&n->lock);
	return err;
}

/* Objects/locations.md: 6-bit chunks, least significant first, bit 6 set when more follow. */
static unsigned varint(const uint8_t *t, size_t len, size_t *i)
{
	unsigned v = 0, shift = 0, b;

	do {
		if (*i >= len || shift > 28)
			return v;
		b = t[(*i)++];
		v |= (b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return v;
}

static int svarint(const uint8_t *t, size_t len, size_t *i)
{
	unsigned v = varint(t, len, i);

	return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

int py_names__addr2line(const uint8_t *table, size_t len, int firstlineno, int addr)
{
	int line = firstlineno, end = 0, entry_line;
	size_t i = 0;

	if (addr < 0)
		return firstlineno;
	while (i < len) {
		uint8_t first = table[i++];
		unsigned code = (first >> 3) & 15, units = (first & 7) + 1;
		size_t next;

		if (!(first & 0x80))
			break;		/* not at an entry's start: a table memtrace cannot read */
		switch (code) {
		case 15:	/* no location */
			entry_line = 0;
			break;
		case 14:	/* long form: line delta, end line delta, columns */
		case 13:	/* no columns: line delta */
			line += svarint(table, len, &i);
			entry_line = line;
			break;
		case 10: case 11: case 12:	/* one line: delta code - 10, columns */
			line += (int)code - 10;
			entry_line = line;
			break;
		default:	/* short forms: the same line */
			entry_line = line;
			break;
		}
		end += 2 * (int)units;
		if (addr < end)
			return entry_line;
		/* The rest of the entry (its columns) up to the next entry's first byte. */
		for (next = i; next < len && !(table[next] & 0x80); next++)
			;
		i = next;
	}
	return 0;
}

int py_names__resolve(struct py_names *n, uint32_t pid, const struct py_interp *in,
		      uint64_t bias, const uint64_t *py, uint32_t nr, uint32_t idx,
		      struct py_frame_name *out)
{
	const struct stack_ent *se;
	struct code_entry *e;
	uint64_t addr, fp = 0;
	uint32_t off;

	memset(out, 0, sizeof(*out));
	if (!n || !in || idx >= nr || nr > MT_MAX_PY_FRAMES)
		return -ENOENT;
	addr = MT_PY_FRAME_CODE(py[idx]);
	off = MT_PY_FRAME_OFF(py[idx]);
	if (!addr)
		return -ENOENT;
	pthread_mutex_lock(&n->lock);
	se = stack_find(n, pid, py, nr);
	if (se)
		fp = se->fp[idx];
	e = code_get(n, pid, addr, fp);
	/* Never seen with a fingerprint: what is at the address now, read until it can be. */
	if (e && !fp && !e->qualname)
		read_code(pid, in, bias, NULL, e);
	if (!e || !e->qualname) {
		pthread_mutex_unlock(&n->lock);
		return -ENOENT;
	}
	out->function = e->qualname;
	out->file = e->filename;
	/* The instruction's offset in the bytecode; before it (a frame not started): the first line. */
	if (!e->lines)
		out->line = 0;
	else if (!off)
		out->line = e->firstlineno;
	else
		out->line = py_names__addr2line(e->linetable, e->linetable_len, e->firstlineno,
						(int)off - (int)in->code.co_code_adaptive);
	pthread_mutex_unlock(&n->lock);
	return 0;
}
