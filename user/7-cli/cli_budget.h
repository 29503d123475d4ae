/* `llmobs budget` (cli_budget.c): the config file's budgets against the
 * database: spend, thresholds, projection, anomalies. */
#ifndef LLMOBS_CLI_BUDGET_H
#define LLMOBS_CLI_BUDGET_H

/* argv[0] is "budget". Returns the exit code (0, 1, EXIT_USAGE). */
int cli_budget(int argc, char **argv);

#endif
