/* llmobs report --html, in-process under the sanitizers: hostile strings
 * from observed processes come out escaped; the totals and filters hold
 * on a small DB; a DB without the attribution columns (older schema) still
 * gives a report, apps being command names; an empty window says so; bad
 * flags are usage errors. The browser test (tests/e2e/html_report.sh)
 * checks the rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "cli.h"
#include "store.h"

#include "record_fixture.h"

#define NREC 10

static char dir[64], db[128], page[128];

static int setup(void **state)
{
	struct exchange_record r;
	struct timespec now;
	struct store *s;

	snprintf(dir, sizeof(dir), "/tmp/test_cli_html.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	snprintf(page, sizeof(page), "%s/report.html", dir);
	if (store_open(db, false, &s))
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < NREC; i++) {
		fixture_record(&r, i);
		r.ts_start_ns = ((int64_t)now.tv_sec - 600 - i * 1800) * 1000000000LL;
		r.ts_end_ns = r.ts_start_ns + 2000000000LL;
		if (i == 1) {	/* what a hostile process could name itself */
			snprintf(r.model, sizeof(r.model), "<script>alert(1)</script>");
			snprintf(r.comm, sizeof(r.comm), "x\"><img src=y>");
		}
		if (i >= 5)
			snprintf(r.provider, sizeof(r.provider), "openai");
		if (store_add(s, &r))
			return -1;
	}
	store_close(s);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int cli(const char *const *args)
{
	char *argv[20];
	int argc = 0;

	argv[argc++] = "llmobs";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return cli_main(argc, argv);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The data-value of the element with id="total-<name>". */
static double total(const char *html, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "id=\"total-%s\" data-value=\"", name);
	p = strstr(html, key);
	assert_non_null(p);
	return strtod(p + strlen(key), NULL);
}

static void test_escaped_and_totals(void **state)
{
	char *html;
	double cost = 0;

	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db)), 0);
	html = slurp(page);
	assert_null(strstr(html, "<script>alert"));
	assert_null(strstr(html, "<img src=y>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "default-src 'none'"));
	assert_int_equal((int)total(html, "exchanges"), NREC);
	for (int i = 0; i < NREC; i++)
		cost += 0.0123456789 * (i + 1);
	assert_true(total(html, "cost") > cost - 1e-6 && total(html, "cost") < cost + 1e-6);
	assert_non_null(strstr(html, "id=\"spend-model\""));
	assert_non_null(strstr(html, "id=\"timeline\""));
	assert_non_null(strstr(html, "class=\"call"));
	free(html);
	assert_int_equal(access(page, F_OK), 0);
}

static void test_filters(void **state)
{
	char *html;

	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db, "--provider", "openai")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), NREC - 5);
	free(html);
	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db, "--app", "agent-3")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), 1);
	free(html);
	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db, "--project", "project-1",
				  "--provider", "anthropic")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), 2);	/* i = 1, 4 */
	free(html);
	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db, "--since", "1s")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), 0);
	assert_non_null(strstr(html, "No exchanges recorded"));
	free(html);
	assert_int_equal(cli(ARGS("report", "--html", page, "--db", db, "--project", "nope")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), 0);
	free(html);
}

/* A database from before attribution: no app or project columns. */
static void test_older_schema(void **state)
{
	char old[160], *html;
	sqlite3 *h;

	snprintf(old, sizeof(old), "%s/old.db", dir);
	snprintf(page, sizeof(page), "%s/old.html", dir);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", db, old);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(sqlite3_open(old, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "ALTER TABLE exchanges DROP COLUMN app;"
				      "ALTER TABLE exchanges DROP COLUMN project;", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(cli(ARGS("report", "--html", page, "--db", old, "--app", "python2")), 0);
	html = slurp(page);
	assert_int_equal((int)total(html, "exchanges"), 1);
	assert_non_null(strstr(html, "no app or project attribution"));
	assert_null(strstr(html, "id=\"spend-project\""));
	free(html);
	snprintf(page, sizeof(page), "%s/report.html", dir);
}

static void test_usage_errors(void **state)
{
	assert_int_equal(cli(ARGS("report", "--db", db, "--app", "x")), EXIT_USAGE);
	assert_int_equal(cli(ARGS("report", "--html")), EXIT_USAGE);
	/* an unwritable destination fails, and leaves no temporary behind */
	assert_int_equal(cli(ARGS("report", "--html", "/nonexistent-dir/r.html", "--db", db)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaped_and_totals),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_older_schema),
		cmocka_unit_test(test_usage_errors),
	};

	return cmocka_run_group_tests_name("cli_html", tests, setup, teardown);
}
