/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include "report/format.h"

#define CLEAN_MASK 3

/*
 * Where a label goes: a stream, or a buffer filled as snprintf() fills one.
 * Names are cleaned on their way in; the text added around them holds
 * nothing any cleaning would change.
 */
struct sink {
	FILE *f;		/* NULL: buf */
	char *buf;
	size_t len;
	size_t n;		/* bytes the whole text takes */
	enum mt_clean how;
};

static unsigned char clean_char(unsigned char c, enum mt_clean how)
{
	if (how == MT_CLEAN_NONE)
		return c;
	if (c < 0x20 || c == 0x7f)
		return how == MT_CLEAN_FOLDED ? ' ' : '?';
	if (c == ';' && how == MT_CLEAN_FOLDED)
		return ':';
	return c;
}

/* At most max bytes of s, up to its NUL. */
static void put(struct sink *k, const char *s, size_t max)
{
	size_t i, run = 0;

	for (i = 0; i < max && s[i]; i++, k->n++) {
		unsigned char c = clean_char(s[i], k->how);

		if (!k->f) {
			if (k->n + 1 < k->len)
				k->buf[k->n] = c;
			continue;
		}
		/* Streams take runs left as they are in one write: reports name many frames. */
		if (c == (unsigned char)s[i]) {
			run++;
			continue;
		}
		fwrite(s + i - run, 1, run, k->f);
		run = 0;
		fputc(c, k->f);
	}
	if (k->f && run)
		fwrite(s + i - run, 1, run, k->f);
	if (!k->f && k->len)
		k->buf[k->n < k->len ? k->n : k->len - 1] = '\0';
}

static void __attribute__((format(printf, 2, 3))) putf(struct sink *k, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(k, tmp, SIZE_MAX);
}

/*
 * A Python frame: "function (file:line)", as py-spy and tracebacks name
 * them; the file alone (the whole path) where the function has a column
 * of its own.
 */
static void python_label(struct sink *k, const struct mt_frame *fr, unsigned int flags)
{
	const char *file = fr->file, *slash;

	if (file && (flags & MT_FRAME_BASENAME)) {
		slash = strrchr(file, '/');
		file = slash ? slash + 1 : file;
	}
	if (!(flags & MT_FRAME_NO_FUNCTION)) {
		put(k, fr->function ? fr->function : "[unknown Python code]", SIZE_MAX);
		if (!file)
			return;
		put(k, " (", SIZE_MAX);
	} else {
		if (!file)
			return;
		put(k, "  ", SIZE_MAX);
	}
	put(k, file, SIZE_MAX);
	if (fr->line > 0)
		putf(k, ":%d", fr->line);
	if (!(flags & MT_FRAME_NO_FUNCTION))
		put(k, ")", SIZE_MAX);
}

static void frame_label(struct sink *k, const struct mt_frame *fr, unsigned int flags)
{
	const char *mod = fr->module, *slash;

	if (fr->python) {
		python_label(k, fr, flags);
		return;
	}

	if (mod && (flags & MT_FRAME_BASENAME)) {
		slash = strrchr(mod, '/');
		mod = slash ? slash + 1 : mod;
	}
	if (fr->function && !(flags & MT_FRAME_NO_FUNCTION)) {
		put(k, fr->function, SIZE_MAX);
		if (mod && (flags & MT_FRAME_FUNC_MODULE)) {
			put(k, " (", SIZE_MAX);
			put(k, mod, SIZE_MAX);
			put(k, ")", SIZE_MAX);
		}
	} else if (mod) {
		put(k, mod, SIZE_MAX);
		putf(k, "+0x%" PRIx64, fr->offset);
	} else if (flags & MT_FRAME_UNKNOWN_OFFSET) {
		/* No mapping: the offset is all there is to show. */
		putf(k, "[unknown] 0x%" PRIx64, fr->offset);
	} else {
		put(k, "[unknown]", SIZE_MAX);
	}
	if (!(flags & MT_FRAME_SOURCE))
		return;
	if (fr->file) {
		put(k, "  ", SIZE_MAX);
		put(k, fr->file, SIZE_MAX);
		if (fr->line > 0)
			putf(k, ":%d", fr->line);
	}
	if (fr->inlined)
		put(k, "  (inlined)", SIZE_MAX);
}

size_t mt_frame_label(char *buf, size_t len, const struct mt_frame *fr, unsigned int flags)
{
	struct sink k = { .buf = buf, .len = len, .how = flags & CLEAN_MASK };

	if (len)
		buf[0] = '\0';
	frame_label(&k, fr, flags);
	return k.n;
}

void mt_frame_fput(FILE *f, const struct mt_frame *fr, unsigned int flags)
{
	struct sink k = { .f = f, .how = flags & CLEAN_MASK };

	frame_label(&k, fr, flags);
}

size_t mt_fput_clean(FILE *f, const char *s, size_t max, enum mt_clean how)
{
	struct sink k = { .f = f, .how = how };

	put(&k, s, max);
	return k.n;
}

const char *mt_human_bytes(double bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	const char *sign = bytes < 0 ? "-" : "";
	double v = fabs(bytes);
	size_t u = 0;

	if (!len)
		return buf;
	if (!isfinite(bytes)) {
		snprintf(buf, len, "? B");
		return buf;
	}
	/* Step up before rounding would print "1024 B" or "1024.0 KiB". */
	if (v >= 1023.5) {
		for (u = 1, v /= 1024; v >= 1023.95 && u < 4; u++)
			v /= 1024;
	}
	if (u == 0)
		snprintf(buf, len, "%s%.0f B", sign, v);
	else
		snprintf(buf, len, "%s%.1f %s", sign, v, units[u]);
	return buf;
}

const char *mt_count_str(uint64_t n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, i, o = 0;

	if (!len)
		return buf;
	nd = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, n);
	for (i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
