/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdlib.h>
#include <string.h>

#include "symbols/demangle.h"

#define MAX_DEMANGLE_LEN	8192

/* Provided by the C++ runtime; declared here so this file stays plain C. */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

char *mt_demangle(const char *name)
{
	char *res;
	int status = 0;

	if (!name || name[0] != '_' || name[1] != 'Z')
		return NULL;
	/* Bound the demangler's work on names from untrusted files. */
	if (strnlen(name, MAX_DEMANGLE_LEN) >= MAX_DEMANGLE_LEN)
		return NULL;
	res = __cxa_demangle(name, NULL, NULL, &status);
	if (status) {
		free(res);
		return NULL;
	}
	return res;
}
