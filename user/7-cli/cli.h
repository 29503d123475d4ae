/* The `llmobs` command line: report, export, prices, help. */
#ifndef LLMOBS_CLI_H
#define LLMOBS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define EXIT_USAGE	2	/* bad command or flags; 1 is a runtime failure */

/* Runs one command, argv[1] naming it. Returns the process exit code:
 * 0 ok, 1 failure (missing DB, I/O), EXIT_USAGE. Writes to stdout/stderr. */
int cli_main(int argc, char **argv);

/* "1h30m" -> seconds; units s m h d w, a bare number is seconds.
 * Returns 0 or -EINVAL. */
int cli_parse_duration(const char *s, int64_t *out_s);

struct sqlite3;

/* Prints the spend report of exchanges started at or after since_ns
 * (INT64_MIN: all); since_label names the window, NULL for all time.
 * Returns 0 or -errno. */
int cli_report(struct sqlite3 *db, int64_t since_ns, const char *since_label);

/* `llmobs cache`: the prompt-cache report of exchanges started at or
 * after since_ns, as text or as one llmobs.cache.v1 JSON object (README).
 * Returns 0 or -errno. */
int cli_cache(struct sqlite3 *db, int64_t since_ns, const char *since_label, bool json);
/* The short cache section of `llmobs report`: totals and the top advice
 * (nothing for a DB without prompt-cache columns). Returns 0 or -errno. */
int cli_cache_summary(struct sqlite3 *db, int64_t since_ns);
/* The llmobs.cache.v1 document (templates, their recommendations with
 * saves_usd_per_day), for llmobs advise; NULL without cache columns or on
 * a query error. The caller cJSON_Delete()s it. */
struct cJSON *cli_cache_document(struct sqlite3 *db, int64_t since_ns);

struct price_table;

/* `llmobs prices --check`: prints the models seen in db that table t
 * cannot price; *missing is their count. Returns 0 or -errno. */
int cli_prices_check(struct sqlite3 *db, const struct price_table *t, int *missing);

/* `llmobs prices --update FILE`: validates FILE, refuses it if it would
 * un-price a model priced in db (NULL: none) in the last 7 days unless
 * force, and installs it as installed. Returns the exit code. */
int cli_prices_update(struct sqlite3 *db, const char *file, const char *installed,
		      bool force);

/* `llmobs prices --diff OLD NEW`: prints the entries added, removed and
 * changed (prices in force now). Returns how many. */
int cli_prices_diff(const struct price_table *a, const struct price_table *b);

/* `llmobs reprice`: the rows since since_ns (priced = 0 ones, or all) whose
 * cost the table t gives differently; rewritten only if write. 0 or -errno. */
int cli_reprice(struct sqlite3 *db, const struct price_table *t, int64_t since_ns,
		bool all, bool write);

/* `llmobs telemetry status | --dry-run` (cli_telemetry.c, docs/telemetry.md).
 * Returns the exit code. */
int cli_telemetry(int argc, char **argv);

#endif
