/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Go version strings as .go.buildinfo records them, and what memtrace reads from them. */
#include <errno.h>
#include <string.h>
#include "memory/go_version.h"
#include "unit.h"

static void test_parse(void)
{
	struct go_version v;

	CHECK(go_version__parse("go1.19.8", &v) == 0 && v.minor == 19 && v.patch == 8 && !v.exps[0],
	      "parse: go1.19.8");
	CHECK(go_version__parse("go1.24", &v) == 0 && v.minor == 24 && v.patch == 0, "parse: go1.24");
	CHECK(go_version__parse("go1.25.5 X:greenteagc", &v) == 0 && v.minor == 25 &&
	      !strcmp(v.exps, "greenteagc"), "parse: go1.25.5 X:greenteagc (a space before)");
	CHECK(go_version__parse("go1.26.8-X:nogreenteagc,fieldtrack", &v) == 0 && v.minor == 26 &&
	      go_version__has_exp(&v, "nogreenteagc") && go_version__has_exp(&v, "fieldtrack") &&
	      !go_version__has_exp(&v, "greenteagc"), "parse: go1.26.8-X:a,b (a dash before)");
	CHECK(go_version__parse("go1.27rc1", &v) == -EINVAL && !v.minor, "parse: rc refused");
	CHECK(go_version__parse("devel go1.27-abcdef Mon Jan 1", &v) == -EINVAL,
	      "parse: devel refused");
	CHECK(go_version__parse("go1.26.", &v) == -EINVAL, "parse: go1.26. refused");
	CHECK(go_version__parse("go1.26.8 X:", &v) == -EINVAL, "parse: no experiment refused");
	CHECK(go_version__parse("go2.0", &v) == -EINVAL, "parse: go2 refused");
}

static void test_rules(void)
{
	struct go_version v;

	go_version__parse("go1.26.8", &v);
	CHECK(go_version__table_ok(&v) && go_version__green_tea(&v), "rules: 1.26 Green Tea");
	go_version__parse("go1.26.8-X:nogreenteagc", &v);
	CHECK(go_version__table_ok(&v) && !go_version__green_tea(&v), "rules: 1.26 without");
	go_version__parse("go1.25.5", &v);
	CHECK(!go_version__green_tea(&v), "rules: 1.25 not by default");
	go_version__parse("go1.25.5 X:greenteagc", &v);
	CHECK(go_version__table_ok(&v) && go_version__green_tea(&v), "rules: 1.25 by experiment");
	go_version__parse("go1.27.3", &v);
	CHECK(go_version__green_tea(&v), "rules: 1.27 Green Tea");
	go_version__parse("go1.24.0 X:staticlockranking", &v);
	CHECK(!go_version__table_ok(&v), "rules: another experiment: no table");
	go_version__parse("go1.19.8", &v);
	CHECK(go_version__table_ok(&v) && !go_version__green_tea(&v), "rules: 1.19");
}

int main(void)
{
	test_parse();
	test_rules();
	return unit_exit();
}
