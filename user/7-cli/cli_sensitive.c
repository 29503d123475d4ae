/* `llmobs report`'s secrets-and-personal-data section: the `sensitive`
 * column (per exchange, kinds and counts as a JSON object, detect.c) in,
 * one line per app, project and kind out, summed in SQL with json_each.
 * Only kinds and counts exist to show: the text was never kept. */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include "cli_sensitive.h"
#include "log.h"
#include "store.h"

/* Control bytes from observed processes never reach the terminal. */
static void put_safe(const unsigned char *s)
{
	for (; s && *s; s++)
		putchar(*s < 0x20 || *s == 0x7f ? '?' : *s);
}

int cli_report_sensitive(struct sqlite3 *db, int64_t since_ns)
{
	sqlite3_stmt *st;
	bool header = false, attributed;
	char sql[640];
	int rc;

	if (!store_has_column(db, "sensitive"))
		return 0;
	attributed = store_has_column(db, "app") && store_has_column(db, "project");
	snprintf(sql, sizeof(sql),
		 "SELECT %s, %s, j.key, count(*), total(j.value) FROM exchanges,"
		 " json_each(CASE WHEN json_valid(sensitive) THEN sensitive ELSE '{}' END) j"
		 " WHERE ts_start_ns >= ?1 GROUP BY 1, 2, 3 ORDER BY 5 DESC, 1, 2, 3",
		 attributed ? "COALESCE(NULLIF(app, ''), comm)" : "comm",
		 attributed ? "COALESCE(NULLIF(project, ''), '-')" : "'-'");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		p_err("report query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, since_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!header) {
			printf("\nSecrets and personal data sent (kinds and counts; the text is "
			       "never kept)\n  %9s %8s  %-13s %s\n", "EXCHANGES", "FOUND", "KIND",
			       "APP (PROJECT)");
			header = true;
		}
		printf("  %9lld %8.0f  %-13s ", (long long)sqlite3_column_int64(st, 3),
		       sqlite3_column_double(st, 4), (const char *)sqlite3_column_text(st, 2));
		put_safe(sqlite3_column_text(st, 0));
		fputs(" (", stdout);
		put_safe(sqlite3_column_text(st, 1));
		fputs(")\n", stdout);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		p_err("report query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}
