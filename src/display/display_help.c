/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The live display's help: its keys, what the leak score means (the formula
 * is history.c's), and every column, from the column tables themselves.
 */
#include <stdio.h>
#include "display/display_view.h"

static const char *const help_keys[] = {
	"Keys",
	"  Up Down PgUp PgDn Home End   move the selection (also k j g G)",
	"  Enter, Right    open: a process's call stacks, a call stack's frames",
	"  Esc, Backspace, Left, q      back (q in the first view quits)",
	"  s               sort by the next column",
	"  < >             sort by the column to the left / right",
	"  r               reverse the order",
	"  /               filter: keep the call stacks (and processes) with a frame whose",
	"                  function name contains the text (case-sensitive); Enter applies,",
	"                  Esc cancels, an empty filter shows everything again",
	"  p               pause: keep this snapshot on the screen; p again resumes",
	"  + -             refresh less / more often (0.5 1 2 5 10 30 s)",
	"  f               write the current snapshot (JSON and folded)",
	"  Ctrl-L          redraw the screen",
	"  ? h F1          this help",
	"  q               quit",
	"",
	"The leak score",
	"  score = rising x aged x log2(1 + growth in KiB/min) x 10",
	"  rising: the share of refreshes in the last minute in which the stack's live bytes",
	"          went up (a leak rises every time; a cache that fills and churns does not)",
	"  aged:   the age of the stack's oldest live block over that window, at most 1 (a",
	"          leak's first blocks stay; a busy but balanced stack's oldest block is young)",
	"  A stack that does not grow scores 0; one that leaks 1 MiB a minute, steadily,",
	"  from blocks that stay, scores about 100. Stacks are sorted by it first.",
	"",
	"Columns",
};

static const char *const help_tables[NR_TABLES] = {
	[TABLE_PROCS] = "  Process list",
	[TABLE_STACKS] = "  Call stacks",
	[TABLE_GO_STACKS] = "  Call stacks of Go programs (live bytes are the garbage collector's)",
};

/* Line i of the help text into buf; false past the end. */
bool help__line(int i, char *buf, size_t len)
{
	int t;
	size_t c;

	if (i < (int)ARRAY_SIZE(help_keys)) {
		snprintf(buf, len, "%s", help_keys[i]);
		return true;
	}
	i -= ARRAY_SIZE(help_keys);
	for (t = 0; t < NR_TABLES; t++) {
		if (i == 0) {
			snprintf(buf, len, "%s", help_tables[t]);
			return true;
		}
		i--;
		for (c = 0; c < rows__nr_columns(t); c++, i--) {
			const struct column *col = rows__column(t, c);

			if (i == 0) {
				snprintf(buf, len, "    %-10s %s", col->title, col->description);
				return true;
			}
		}
	}
	return false;
}
