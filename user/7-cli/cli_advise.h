/* `llmobs advise` (cli_advise.c): every saving in one list, largest
 * first, with evidence, dollars a month and confidence; also a section of
 * `llmobs report` and the HTML report. */
#ifndef LLMOBS_CLI_ADVISE_H
#define LLMOBS_CLI_ADVISE_H

#include <stdint.h>

#define ADVISE_MIN_CALLS	50	/* no advice on fewer calls of an app and model */
#define ADVISE_MAX		64

struct sqlite3;

struct advice {
	double usd_month;	/* at the observed rate */
	const char *confidence;	/* "high", "medium", "low" */
	char what[320];		/* evidence and change; control bytes as '?' */
};

struct advice_list {
	struct advice a[ADVISE_MAX];
	int n;
	double window_s;	/* what the monthly rate was scaled from */
};

/* Exchanges since since_ns (INT64_MIN: all) in, advice largest first out.
 * Returns 0 or -errno. */
int cli_advise_collect(struct sqlite3 *db, int64_t since_ns, struct advice_list *out);

/* `llmobs report`'s section: the five largest. Returns 0 or -errno. */
int cli_report_advice(struct sqlite3 *db, int64_t since_ns);

/* argv[0] is "advise". Returns the exit code (0, 1, EXIT_USAGE). */
int cli_advise(int argc, char **argv);

#endif
