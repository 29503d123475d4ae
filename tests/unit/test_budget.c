/* budgets: the config's `budgets:` list (valid, and each error with its
 * line), UTC day and month bounds (December into January, leap years),
 * thresholds, projection, the anomaly rule; and `llmobs budget` on a DB
 * whose last hour is ten times the same hour of the three days before. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>
#include "budget.h"
#include "daemon_config.h"
#include "cli.h"
#include "store.h"

static void test_parse(void **state)
{
	static const char yaml[] =
		"db: /var/lib/x.db\n"
		"projects:\n  rules: []\n"
		"budgets:\n"
		"  - project: devtools\n    period: day\n    usd: 25\n"
		"  - name: sonnet\n    model: \"claude-sonnet-*\"\n    period: month\n    usd: 500.5\n"
		"  - period: month\n    usd: 1000\n";
	struct budget_set *s = calloc(1, sizeof(*s));
	char err[256];

	assert_non_null(s);
	assert_int_equal(budget_parse("t.yaml", yaml, strlen(yaml), s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 3);
	assert_int_equal(s->b[0].scope, BUDGET_PROJECT);
	assert_string_equal(s->b[0].match, "devtools");
	assert_string_equal(s->b[0].name, "project=devtools-day");
	assert_int_equal(s->b[0].period, BUDGET_DAY);
	assert_true(s->b[0].limit_usd == 25);
	assert_int_equal(s->b[0].line, 5);
	assert_string_equal(s->b[1].name, "sonnet");
	assert_int_equal(s->b[1].scope, BUDGET_MODEL);
	assert_true(s->b[1].limit_usd == 500.5);
	assert_int_equal(s->b[2].scope, BUDGET_ALL);
	assert_string_equal(s->b[2].name, "all-month");
	/* no budgets key: none */
	assert_int_equal(budget_parse("t.yaml", "db: x\n", 6, s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

static void test_parse_errors(void **state)
{
	static const struct { const char *yaml, *want; } bad[] = {
		{ "budgets: 3\n", "t.yaml:1: budgets: a list" },
		{ "budgets:\n  - usd: 5\n", "t.yaml:2: a budget needs usd and period" },
		{ "budgets:\n  - usd: -5\n    period: day\n", "t.yaml:2: usd: '-5' is not a positive" },
		{ "budgets:\n  - usd: 5\n    period: week\n", "t.yaml:3: period: 'week'" },
		{ "budgets:\n  - usd: 5\n    period: day\n    team: x\n", "t.yaml:4: unknown key 'team'" },
		{ "budgets:\n  - usd: 5\n    period: day\n    app: a\n    model: m\n",
		  "t.yaml:5: a budget has one scope" },
		{ "budgets:\n  - [1, 2]\n", "t.yaml:2: a budget is a mapping" },
		{ "budgets: [\n", "t.yaml:" },
	};
	struct budget_set *s = calloc(1, sizeof(*s));
	char err[256];

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(budget_parse("t.yaml", bad[i].yaml, strlen(bad[i].yaml), s, err,
					      sizeof(err)), -EINVAL);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)))
			fail_msg("%s: got \"%s\", want \"%s...\"", bad[i].yaml, err, bad[i].want);
		assert_int_equal(s->n, 0);
	}
	free(s);
}

/* llmobsd's config parser accepts the key and refuses a bad budget. */
static void test_daemon_config(void **state)
{
	static const char good[] = "db: /tmp/x.db\nbudgets:\n  - app: a\n    period: day\n    usd: 1\n";
	static const char bad[] = "db: /tmp/x.db\nbudgets:\n  - app: a\n    period: year\n    usd: 1\n";
	struct daemon_config c;
	char err[256];

	assert_int_equal(config_parse("d.yaml", good, strlen(good), &c, err, sizeof(err)), 0);
	config_free(&c);
	assert_int_equal(config_parse("d.yaml", bad, strlen(bad), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "d.yaml:4: period: 'year' (day or month)");
}

static void test_periods(void **state)
{
	int64_t a, b;

	/* 2026-12-31 23:30 UTC */
	budget_period_bounds(BUDGET_DAY, 1798759800, &a, &b);
	assert_int_equal(a, 1798675200);	/* 2026-12-31 00:00 */
	assert_int_equal(b, 1798761600);	/* 2027-01-01 00:00 */
	budget_period_bounds(BUDGET_MONTH, 1798759800, &a, &b);
	assert_int_equal(a, 1796083200);	/* 2026-12-01 */
	assert_int_equal(b, 1798761600);	/* 2027-01-01 */
	/* 2028-02-15: a leap February has 29 days */
	budget_period_bounds(BUDGET_MONTH, 1834142400, &a, &b);
	assert_int_equal(b - a, 29 * 86400);
}

static void test_arithmetic(void **state)
{
	assert_int_equal(budget_threshold(0, 10), 0);
	assert_int_equal(budget_threshold(4.99, 10), 0);
	assert_int_equal(budget_threshold(5, 10), 50);
	assert_int_equal(budget_threshold(8, 10), 80);
	assert_int_equal(budget_threshold(10, 10), 100);
	assert_int_equal(budget_threshold(25, 10), 100);
	assert_true(budget_projection(10, 0.001, 1000, 4600) == 10 + 3.6);
	assert_true(budget_projection(10, 0.001, 5000, 4600) == 10);
	assert_true(budget_anomalous(10, 1, 3));
	assert_false(budget_anomalous(10, 1, 2));	/* too little history */
	assert_false(budget_anomalous(3, 1, 7));	/* not 4x */
	assert_false(budget_anomalous(0.5, 0.01, 7));	/* under $1 */
}

static char *run_cli(const char *const *args)
{
	char *argv[12], out[] = "/tmp/test_budget_out.XXXXXX", *buf;
	int argc = 0, fd = mkstemp(out), saved;
	long n;
	FILE *f;

	assert_true(fd >= 0);
	argv[argc++] = "llmobs";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	assert_int_equal(cli_main(argc, argv), 0);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	f = fopen(out, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(out);
	return buf;
}

/* $1 in the same hour of each of the three days before, $10 in the last
 * hour, all on one model: an anomaly, and a budget of $8 a day crossed. */
static void test_cli(void **state)
{
	char dir[] = "/tmp/test_budget.XXXXXX", db[64], cfg[64], cmd[96], *out;
	struct exchange_record r;
	struct store *s;
	int64_t now = (int64_t)time(NULL);
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	snprintf(cfg, sizeof(cfg), "%s/llmobsd.yaml", dir);
	assert_int_equal(store_open(db, false, &s), 0);
	for (int i = 0; i < 4; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.provider, sizeof(r.provider), "openai");
		snprintf(r.model, sizeof(r.model), "gpt-4o");
		snprintf(r.comm, sizeof(r.comm), "agent");
		r.priced = true;
		r.cost_usd = i ? 1.0 : 10.0;
		r.ts_start_ns = (now - 1200 - i * 86400LL) * 1000000000LL;
		r.ts_end_ns = r.ts_start_ns;
		r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
		r.uid = -1;
		assert_int_equal(store_add(s, &r), 0);
	}
	store_close(s);
	f = fopen(cfg, "w");
	assert_non_null(f);
	fputs("budgets:\n  - model: gpt-4o\n    period: day\n    usd: 8\n", f);
	fclose(f);
	out = run_cli((const char *const[]){ "budget", "--config", cfg, "--db", db, NULL });
	if (!strstr(out, "model=gpt-4o-day") || !strstr(out, "OVER") ||
	    !strstr(out, "ANOMALY: $10.00 in the last hour, 10.0x the usual $1.00"))
		fail_msg("llmobs budget said:\n%s", out);
	free(out);
	/* both reports show the budgets of $LLMOBS_CONFIG */
	setenv("LLMOBS_CONFIG", cfg, 1);
	out = run_cli((const char *const[]){ "report", "--db", db, NULL });
	if (!strstr(out, "\nBudgets (") || !strstr(out, "model=gpt-4o-day") || !strstr(out, "OVER"))
		fail_msg("llmobs report said:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s/r.html", dir);
	free(run_cli((const char *const[]){ "report", "--html", cmd, "--db", db, NULL }));
	{
		FILE *h = fopen(cmd, "r");
		char line[4096];
		bool found = false;

		assert_non_null(h);
		while (fgets(line, sizeof(line), h))
			found |= strstr(line, "<td>model=gpt-4o-day</td>") && strstr(line, ">over, spend rate anomaly<");
		fclose(h);
		assert_true(found);
	}
	unsetenv("LLMOBS_CONFIG");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_daemon_config),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
