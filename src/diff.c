// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include "diff.h"
#include "log.h"

int diff__run(const struct diff_opts *o)
{
	(void)o;
	mt_err("--diff is not available yet\n");
	return -ENOTSUP;
}
