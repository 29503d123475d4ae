/* `llmobs report --html FILE`: one self-contained HTML file (no network,
 * no external file) with charts and tables, aggregated in SQL so that a
 * day of a busy host stays a small file. cli_html.c: the page, totals,
 * time series; cli_html_tables.c: reliability, unpriced models, blind
 * spots, sensitive data, the agent timeline; html_query.c: the queries
 * both run, below them. */
#ifndef LLMOBS_CLI_HTML_H
#define LLMOBS_CLI_HTML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3;
struct sqlite3_stmt;

struct cli_html_opts {
	int64_t since_ns;		/* INT64_MIN: all time */
	const char *since_label;	/* "24h", NULL for all time */
	const char *app;		/* filters; NULL: any */
	const char *project;
	const char *provider;
};

/* Writes the report to out. Returns 0 or -errno (a query failed, logged). */
int cli_html_report(struct sqlite3 *db, FILE *out, const struct cli_html_opts *o);

/* ---- shared by cli_html.c and cli_html_tables.c ---- */

struct html {
	struct sqlite3 *db;
	FILE *out;
	const struct cli_html_opts *o;
	bool has_app, has_project, has_sensitive, has_cache, has_breakers, has_tools;
	const char *app_expr;		/* SQL: the app, else the comm */
	const char *project_expr;	/* SQL: the project, else '(none)' */
	char where[512];		/* the filters, as SQL */
	int64_t t0_s, width_s;		/* time buckets */
	int nbuckets;
};

/* Prepares tmpl with {W} (the filters), {APP}, {PROJ} and {COST} (the
 * priced cost) expanded, and binds :since :app :project :provider :t0 :w
 * where they appear. Returns 0 or -EIO (logged). */
int html_prepare(struct html *h, const char *tmpl, struct sqlite3_stmt **st);
/* Finalizes st; -EIO (logged) unless rc is SQLITE_DONE. */
int html_finish(struct html *h, struct sqlite3_stmt *st, int rc);
/* Column i as text, "" for NULL. */
const char *html_col(struct sqlite3_stmt *st, int i);

int html_reliability(struct html *h);
int html_unpriced_and_blind_spots(struct html *h);
int html_sensitive(struct html *h);
int html_advice(struct html *h);
int html_budgets(struct html *h);
int html_timeline(struct html *h);

#endif
