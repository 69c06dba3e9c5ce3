/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "memory/go_version.h"

static const char *digits(const char *s, unsigned *out)
{
	unsigned v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 6)
		v = v * 10 + (unsigned)(*p++ - '0');
	*out = v;
	return p > s ? p : NULL;
}

int go_version__parse(const char *s, struct go_version *v)
{
	const char *p;

	memset(v, 0, sizeof(*v));
	if (strncmp(s, "go1.", 4))
		return -EINVAL;
	p = digits(s + 4, &v->minor);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p = digits(p + 1, &v->patch);
		if (!p)
			return -EINVAL;
	}
	if ((p[0] == ' ' || p[0] == '-') && p[1] == 'X' && p[2] == ':' && p[3] &&
	    strlen(p + 3) < sizeof(v->exps)) {
		snprintf(v->exps, sizeof(v->exps), "%s", p + 3);
		p += 3 + strlen(p + 3);
	}
	if (*p) {
		v->minor = 0;
		return -EINVAL;
	}
	return 0;
}

bool go_version__has_exp(const struct go_version *v, const char *name)
{
	size_t n = strlen(name);
	const char *p = v->exps;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

bool go_version__table_ok(const struct go_version *v)
{
	const char *p = v->exps;

	if (!v->minor)
		return false;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (!((len == 10 && !strncmp(p, "greenteagc", 10)) ||
		      (len == 12 && !strncmp(p, "nogreenteagc", 12))))
			return false;
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

bool go_version__green_tea(const struct go_version *v)
{
	if (v->minor >= 26)
		return !go_version__has_exp(v, "nogreenteagc");
	return v->minor == 25 && go_version__has_exp(v, "greenteagc");
}
