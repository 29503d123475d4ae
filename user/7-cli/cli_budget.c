/* `llmobs budget`: the budgets of the config file (budget.c) against the
 * database: per budget, the spend of its current period (UTC day or
 * month), the thresholds reached (50 / 80 / 100 %), the projection to the
 * period's end at the last hour's rate, and whether the last hour is an
 * anomaly for that scope (budget.h's rule). One indexed range query per
 * figure; nothing is kept between runs.
 *
 * The daemon's side of budgets (a structured warning and a webhook once
 * per threshold and period, and /metrics) is not here: see the README. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "budget.h"
#include "cli.h"
#include "cli_budget.h"
#include "store.h"

/* llmobsd's default config file (daemon_config.h, CONFIG_DEFAULT_PATH). */
#define BUDGET_CONFIG_DEFAULT	"/etc/llm-observer/llmobsd.yaml"

/* The SQL of a budget's scope, or NULL when the DB lacks its column. */
static const char *scope_sql(sqlite3 *db, enum budget_scope s)
{
	switch (s) {
	case BUDGET_ALL:	return "1";
	case BUDGET_PROJECT:	return store_has_column(db, "project") ?
				       "COALESCE(project, '') GLOB ?3" : NULL;
	case BUDGET_NAMESPACE:	return store_has_column(db, "k8s_namespace") ?
				       "COALESCE(k8s_namespace, '') GLOB ?3" : NULL;
	case BUDGET_APP:	return store_has_column(db, "app") ?
				       "COALESCE(NULLIF(app, ''), comm) GLOB ?3" : "comm GLOB ?3";
	case BUDGET_ACCOUNT:	return store_has_column(db, "account") ?
				       "COALESCE(account, '') GLOB ?3" : NULL;
	case BUDGET_MODEL:	return "model GLOB ?3";
	case BUDGET_SCOPE__MAX:	break;
	}
	return NULL;
}

/* Priced spend and unpriced calls of the scope in [from_s, to_s). */
static int spend(sqlite3 *db, const struct budget *b, const char *scope, int64_t from_s,
		 int64_t to_s, double *usd, long long *unpriced)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT total(CASE WHEN priced THEN cost_usd ELSE 0 END),"
		 " total(priced = 0) FROM exchanges WHERE ts_start_ns >= ?1 AND ts_start_ns < ?2"
		 " AND %s", scope);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "llmobs: budget query failed: %s\n", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, from_s * 1000000000LL);
	sqlite3_bind_int64(st, 2, to_s * 1000000000LL);
	if (b->scope != BUDGET_ALL)
		sqlite3_bind_text(st, 3, b->match, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*usd = sqlite3_column_double(st, 0);
		if (unpriced)
			*unpriced = (long long)sqlite3_column_double(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int evaluate(sqlite3 *db, const struct budget *b, const char *scope, int64_t now_s,
		    struct budget_status *s)
{
	int64_t start, end, elapsed;
	double day_usd, sum = 0;
	int err, d;

	memset(s, 0, sizeof(*s));
	budget_period_bounds(b->period, now_s, &start, &end);
	if ((err = spend(db, b, scope, start, now_s + 1, &s->spent, &s->unpriced)) ||
	    (err = spend(db, b, scope, now_s - 3600, now_s + 1, &s->last_hour, NULL)))
		return err;
	/* the current rate: the last hour's, or the period's so far if younger */
	elapsed = now_s - start;
	s->projected = budget_projection(s->spent, elapsed < 3600 ? s->spent / (elapsed ? elapsed : 1)
					 : s->last_hour / 3600.0, now_s, end);
	s->threshold = budget_threshold(s->spent, b->limit_usd);
	for (d = 1; d <= 7; d++) {	/* the same hour on the previous week's days */
		if ((err = spend(db, b, scope, now_s - d * 86400 - 3600, now_s - d * 86400, &day_usd,
				 NULL)))
			return err;
		if (day_usd > 0) {
			sum += day_usd;
			s->history_days++;
		}
	}
	s->hour_mean = s->history_days ? sum / s->history_days : 0;
	s->anomaly = budget_anomalous(s->last_hour, s->hour_mean, s->history_days);
	return 0;
}

int cli_budget_status(struct sqlite3 *db, const struct budget *b, int64_t now_s,
		      struct budget_status *s)
{
	const char *scope = scope_sql(db, b->scope);

	memset(s, 0, sizeof(*s));
	if (!scope) {
		s->no_column = true;
		return 0;
	}
	return evaluate(db, b, scope, now_s, s);
}

const char *cli_budget_config(const char *arg)
{
	const char *env = getenv("LLMOBS_CONFIG");

	return arg && arg[0] ? arg : env && env[0] ? env : BUDGET_CONFIG_DEFAULT;
}

void cli_budget_header(FILE *out)
{
	fprintf(out, "  %-24s %-6s %10s %10s %5s %10s %6s  %s\n", "BUDGET", "PERIOD", "LIMIT_USD",
		"SPENT_USD", "USED", "PROJECTED", "PROJ", "STATE");
}

void cli_budget_row(FILE *out, const struct budget *b, const struct budget_status *s)
{
	if (s->no_column) {
		fprintf(out, "  %-24.24s %-6s %10.2f %10s  (this database has no %s column)\n",
			b->name, budget_period_name(b->period), b->limit_usd, "-",
			budget_scope_name(b->scope));
		return;
	}
	fprintf(out, "  %-24.24s %-6s %10.2f %10.4f %4.0f%% %10.4f %5.0f%%  %s%s", b->name,
		budget_period_name(b->period), b->limit_usd, s->spent,
		100 * s->spent / b->limit_usd, s->projected, 100 * s->projected / b->limit_usd,
		s->threshold >= 100 ? "OVER" : s->threshold ? "reached " : "ok",
		s->threshold && s->threshold < 100 ? (s->threshold == 80 ? "80%" : "50%") : "");
	if (s->threshold < 100 && s->projected >= b->limit_usd)
		fputs(", projected over", out);
	if (s->anomaly)
		fprintf(out, ", ANOMALY: $%.2f in the last hour, %.1fx the usual $%.2f", s->last_hour,
			s->hour_mean > 0 ? s->last_hour / s->hour_mean : 0, s->hour_mean);
	if (s->unpriced)
		fprintf(out, " (leaves out %lld unpriced calls)", s->unpriced);
	fputc('\n', out);
}

int cli_report_budgets(struct sqlite3 *db)
{
	struct budget_set *set = calloc(1, sizeof(*set));
	const char *config = cli_budget_config(NULL);
	struct budget_status s;
	int64_t now_s = (int64_t)time(NULL);
	char err[512];
	int ret = 0;

	if (!set)
		return -ENOMEM;
	/* no config file, or no budgets in it: no section */
	if (access(config, R_OK) == 0 && budget_load(config, set, err, sizeof(err)) == 0 && set->n) {
		printf("\nBudgets (%s; llmobs budget)\n", config);
		cli_budget_header(stdout);
		for (size_t i = 0; i < set->n && !ret; i++)
			if (!(ret = cli_budget_status(db, &set->b[i], now_s, &s)))
				cli_budget_row(stdout, &set->b[i], &s);
	}
	free(set);
	return ret;
}

static void usage_budget(FILE *out)
{
	fprintf(out, "Usage: llmobs budget [--config FILE] [--db PATH]\n"
		"  The budgets of llmobsd's config file (--config, else $LLMOBS_CONFIG, else\n"
		"  " BUDGET_CONFIG_DEFAULT "): spend in the current UTC day or month,\n"
		"  thresholds reached, projection at the last hour's rate, anomalies.\n");
}

int cli_budget(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *db_arg = NULL;
	struct budget_set *set = calloc(1, sizeof(*set));
	struct store *store = NULL;
	char err[512], buf[PATH_MAX];
	int opt, ret = 0;
	int64_t now_s = (int64_t)time(NULL);

	if (!set)
		return EXIT_FAILURE;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'd': db_arg = optarg; break;
		case 'h': usage_budget(stdout); free(set); return 0;
		default: usage_budget(stderr); free(set); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage_budget(stderr);
		free(set);
		return EXIT_USAGE;
	}
	config = cli_budget_config(config);
	if (budget_load(config, set, err, sizeof(err))) {
		fprintf(stderr, "llmobs: %s\n", err);
		free(set);
		return EXIT_FAILURE;
	}
	if (!set->n) {
		printf("No budgets in %s (add a `budgets:` list; see the README).\n", config);
		free(set);
		return 0;
	}
	if (!db_arg)
		db_arg = store_default_path(buf, sizeof(buf));
	if (!db_arg[0] || store_open(db_arg, true, &store)) {
		fprintf(stderr, "llmobs: cannot open the database %s (--db PATH)\n", db_arg);
		free(set);
		return EXIT_FAILURE;
	}
	cli_budget_header(stdout);
	for (size_t i = 0; i < set->n && !ret; i++) {
		struct budget_status s;

		if (!(ret = cli_budget_status(store_db(store), &set->b[i], now_s, &s)))
			cli_budget_row(stdout, &set->b[i], &s);
	}
	store_close(store);
	free(set);
	return ret ? EXIT_FAILURE : 0;
}
