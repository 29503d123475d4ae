/* `llmobs budget` (cli_budget.c): the config file's budgets against the
 * database: spend, thresholds, projection, anomalies; also a section of
 * `llmobs report` and the HTML report. */
#ifndef LLMOBS_CLI_BUDGET_H
#define LLMOBS_CLI_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "budget.h"

struct sqlite3;

struct budget_status {
	bool no_column;		/* the database lacks the scope's column */
	double spent, last_hour, projected, hour_mean;	/* USD */
	long long unpriced;	/* calls in scope whose cost is unknown */
	int threshold;		/* 0, 50, 80, 100 */
	int history_days;	/* for the anomaly rule */
	bool anomaly;
};

/* b's current period at now_s. Returns 0 or -EIO. */
int cli_budget_status(struct sqlite3 *db, const struct budget *b, int64_t now_s,
		      struct budget_status *s);
/* arg, else $LLMOBS_CONFIG, else llmobsd's default config file. */
const char *cli_budget_config(const char *arg);
void cli_budget_header(FILE *out);
void cli_budget_row(FILE *out, const struct budget *b, const struct budget_status *s);
/* `llmobs report`'s section (nothing without a config with budgets). */
int cli_report_budgets(struct sqlite3 *db);

/* argv[0] is "budget". Returns the exit code (0, 1, EXIT_USAGE). */
int cli_budget(int argc, char **argv);

#endif
