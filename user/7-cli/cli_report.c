/* `llmobs report`: the SQL and the tables it prints. Every figure comes
 * from one GROUP BY over `exchanges` filtered on ts_start_ns (indexed). */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cli.h"
#include "cli_advise.h"
#include "cli_budget.h"
#include "cli_sensitive.h"
#include "log.h"

/* Strings in the DB came from observed processes: a comm or model holding
 * ESC sequences must not drive the user's terminal. */
static void put_safe(const char *s)
{
	if (!s || !*s) {
		fputs("(unknown)", stdout);
		return;
	}
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* long long: what %lld takes on every ABI, unlike int64_t. */
static long long col64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

static int prepare(sqlite3 *db, const char *sql, int64_t since_ns, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		p_err("report query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(*st, 1, since_ns);
	return 0;
}

static int finish(sqlite3 *db, sqlite3_stmt *st, int rc)
{
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		p_err("report query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

#define SPEND_COLS \
	" count(*), sum(input_tokens), sum(cached_input_tokens)," \
	" sum(output_tokens), sum(CASE WHEN priced THEN cost_usd ELSE 0 END)," \
	" sum(priced = 0)"

/* One spend table. keys: 1 (label) or 2 (label, detail in parentheses).
 * A '*' marks a cost that leaves out unpriced exchanges: never a silent $0. */
static int report_spend(sqlite3 *db, const char *title, const char *keys,
			int nkeys, int64_t since_ns, int64_t *unpriced_total)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc, err;

	snprintf(sql, sizeof(sql),
		 "SELECT %s," SPEND_COLS " FROM exchanges WHERE ts_start_ns >= ?1"
		 " GROUP BY %s ORDER BY %d DESC, %d DESC",
		 keys, keys, nkeys + 5, nkeys + 1);
	if ((err = prepare(db, sql, since_ns, &st)))
		return err;
	printf("\n%s\n  %9s %12s %12s %12s %14s  %s\n", title, "EXCHANGES",
	       "INPUT", "CACHED", "OUTPUT", "COST_USD", "NAME");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t unpriced = col64(st, nkeys + 5);

		printf("  %9lld %12lld %12lld %12lld ", col64(st, nkeys),
		       col64(st, nkeys + 1), col64(st, nkeys + 2), col64(st, nkeys + 3));
		if (unpriced == col64(st, nkeys))
			printf("%14s  ", "unpriced");	/* not $0: unknown */
		else
			printf("%13.6f%c  ", sqlite3_column_double(st, nkeys + 4),
			       unpriced ? '*' : ' ');
		put_safe(col_text(st, 0));
		if (nkeys == 2) {
			fputs(" (", stdout);
			put_safe(col_text(st, 1));
			putchar(')');
		}
		putchar('\n');
		if (unpriced_total)
			*unpriced_total += unpriced;
	}
	return finish(db, st, rc);
}

/* Who spent it (issue 14): columns a file from before attribution lacks. */
static int report_attribution(sqlite3 *db, int64_t since_ns)
{
	sqlite3_stmt *st;
	bool has = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('exchanges') WHERE name = 'project'",
			       -1, &st, NULL) == SQLITE_OK) {
		has = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	if (!has)
		return 0;
	has = false;	/* pods: only on a node that has them */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM exchanges WHERE k8s_pod_uid IS NOT NULL LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		has = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return report_spend(db, "By project", "project", 1, since_ns, NULL) ?:
	       report_spend(db, "By app (project)", "app, project", 2, since_ns, NULL) ?:
	       (has ? report_spend(db, "By Kubernetes namespace (pod)", "k8s_namespace, k8s_pod", 2,
				   since_ns, NULL) : 0);
}

static int report_totals(sqlite3 *db, int64_t since_ns, int64_t *n)
{
	sqlite3_stmt *st;
	int rc, err;

	if ((err = prepare(db, "SELECT" SPEND_COLS " FROM exchanges WHERE ts_start_ns >= ?1",
			   since_ns, &st)))
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*n = col64(st, 0);
		printf("\nTotal\n  %9lld %12lld %12lld %12lld"
		       " %13.6f%c\n", (long long)*n, col64(st, 1),
		       col64(st, 2), col64(st, 3),
		       sqlite3_column_double(st, 4), col64(st, 5) ? '*' : ' ');
		if (col64(st, 5))
			printf("  * cost leaves out %lld unpriced exchanges (see below)\n",
			       col64(st, 5));
		rc = SQLITE_DONE;
	}
	if ((err = finish(db, st, rc)))
		return err;
	/* Estimated counts are not the provider's: say how much rests on them. */
	if ((err = prepare(db, "SELECT count(*), sum(CASE WHEN priced THEN cost_usd ELSE 0 END)"
			   " FROM exchanges WHERE ts_start_ns >= ?1 AND usage_source = 'estimated'",
			   since_ns, &st)))
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (col64(st, 0))
			printf("  ~ %lld exchanges with estimated usage ($%.6f of the cost): their "
			       "responses had none, the tokens were counted from the text\n",
			       col64(st, 0), sqlite3_column_double(st, 1));
		rc = SQLITE_DONE;
	}
	return finish(db, st, rc);
}

static int report_unpriced(sqlite3 *db, int64_t since_ns)
{
	sqlite3_stmt *st;
	int rc, err;

	if ((err = prepare(db,
			"SELECT provider, model, count(*), sum(usage_source != 'none')"
			" FROM exchanges WHERE ts_start_ns >= ?1 AND priced = 0"
			" GROUP BY 1, 2 ORDER BY 3 DESC", since_ns, &st)))
		return err;
	printf("\nUnpriced models (no price known: see `llmobs prices --update`, data/prices-overrides.json)\n"
	       "  %9s %12s  %s\n", "EXCHANGES", "WITH_USAGE", "MODEL (PROVIDER)");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		printf("  %9lld %12lld  ", col64(st, 2),
		       col64(st, 3));
		put_safe(col_text(st, 1));
		fputs(" (", stdout);
		put_safe(col_text(st, 0));
		fputs(")\n", stdout);
	}
	return finish(db, st, rc);
}

static int report_errors(sqlite3 *db, int64_t since_ns)
{
	sqlite3_stmt *st;
	int rc, err;

	if ((err = prepare(db,
			"SELECT sum(complete = 0), sum(status = 0), sum(status >= 400),"
			" sum(error IS NOT NULL) FROM exchanges WHERE ts_start_ns >= ?1",
			since_ns, &st)))
		return err;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		printf("\nIncomplete/errors\n"
		       "  %9lld  incomplete exchanges\n"
		       "  %9lld  no response seen\n"
		       "  %9lld  HTTP status >= 400\n"
		       "  %9lld  with an error\n",
		       col64(st, 0), col64(st, 1),
		       col64(st, 2), col64(st, 3));
		rc = SQLITE_DONE;
	}
	if ((err = finish(db, st, rc)))
		return err;

	/* The breakdown: which errors and statuses, most frequent first. */
	if ((err = prepare(db,
			"SELECT 'error ' || error, count(*) FROM exchanges"
			" WHERE ts_start_ns >= ?1 AND error IS NOT NULL GROUP BY error"
			" UNION ALL SELECT 'status ' || status, count(*) FROM exchanges"
			" WHERE ts_start_ns >= ?1 AND status >= 400 GROUP BY status"
			" ORDER BY 2 DESC", since_ns, &st)))
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		printf("  %9lld    ", col64(st, 1));
		put_safe(col_text(st, 0));
		putchar('\n');
	}
	return finish(db, st, rc);
}

static int report_counters(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool header = false;
	int rc, err;

	if ((err = prepare(db, "SELECT name, value FROM counters WHERE value != 0"
			   " ORDER BY name", 0, &st)))
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!header) {
			/* Counters are the daemon's totals, not windowed by --since. */
			printf("\nDaemon counters (since the daemon started; drops, parse errors...)\n");
			header = true;
		}
		printf("  %12lld  ", col64(st, 1));
		put_safe(col_text(st, 0));
		putchar('\n');
	}
	return finish(db, st, rc);
}

int cli_report(struct sqlite3 *db, int64_t since_ns, const char *since_label)
{
	int64_t n = 0, unpriced = 0;
	int ret;

	printf("LLM spend%s%s\n", since_label ? " in the last " : " (all time)",
	       since_label ? since_label : "");
	ret = report_totals(db, since_ns, &n);
	if (!ret && n == 0)
		printf("  no exchanges recorded%s\n", since_label ? " in this window" : "");
	if (!ret && n > 0)
		ret = report_spend(db, "By provider", "provider", 1, since_ns, &unpriced) ?:
		      report_spend(db, "By model", "model, provider", 2, since_ns, NULL) ?:
		      report_spend(db, "By process", "exe, comm", 2, since_ns, NULL) ?:
		      report_attribution(db, since_ns) ?:
		      (unpriced ? report_unpriced(db, since_ns) : 0) ?:
		      report_errors(db, since_ns) ?:
		      cli_report_sensitive(db, since_ns) ?:
		      cli_report_budgets(db) ?:
		      cli_report_advice(db, since_ns) ?:
		      cli_cache_summary(db, since_ns);
	if (!ret)
		ret = report_counters(db);
	return ret;
}
