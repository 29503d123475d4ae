/* `llmobs prices --check`: the models the DB has seen that the price table
 * in force cannot price. Each distinct (host, model, request model, api) is
 * priced again with the current table, as the daemon would, so an edited
 * table can be checked against the traffic already recorded. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "cost.h"
#include "log.h"

static void put_safe(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void copy_col(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", v ? v : "");
}

int cli_prices_check(struct sqlite3 *db, const struct price_table *t, int *missing)
{
	struct exchange_record r;
	long long models = 0;
	sqlite3_stmt *st;
	int rc;

	*missing = 0;
	rc = sqlite3_prepare_v2(db,
		"SELECT host, model, request_model, api, count(*) FROM exchanges"
		" WHERE model != '' OR request_model != ''"
		" GROUP BY host, model, request_model, api"
		" ORDER BY count(*) DESC, model", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		p_err("prices --check: query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		copy_col(st, 0, r.host, sizeof(r.host));
		copy_col(st, 1, r.model, sizeof(r.model));
		copy_col(st, 2, r.request_model, sizeof(r.request_model));
		copy_col(st, 3, r.api, sizeof(r.api));
		models++;
		cost_price_record(t, &r);
		if (r.priced)
			continue;
		if (!*missing)
			printf("%8s  %-36s %-30s %s\n", "CALLS", "HOST", "MODEL",
			       "(REQUEST MODEL)");
		(*missing)++;
		printf("%8lld  ", (long long)sqlite3_column_int64(st, 4));
		put_safe(r.host);
		printf("%*s ", (int)(strlen(r.host) < 36 ? 36 - strlen(r.host) : 0), "");
		put_safe(r.model[0] ? r.model : "?");
		if (strcmp(r.model, r.request_model)) {
			printf("%*s (", (int)(strlen(r.model) < 30 ? 30 - strlen(r.model) : 0), "");
			put_safe(r.request_model);
			putchar(')');
		}
		putchar('\n');
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		p_err("prices --check: query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (*missing)
		printf("%d of %lld models seen are missing from the price table: add them to "
		       "data/prices.json or a --prices FILE\n", *missing, models);
	else
		printf("all %lld models seen are in the price table\n", models);
	return 0;
}
