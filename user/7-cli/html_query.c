/* The HTML report's queries (cli_html.h): a template with {W} {APP}
 * {PROJ} {COST} in, a prepared statement with the filters bound out.
 * Below both cli_html.c and cli_html_tables.c, which each run queries
 * and call each other in one direction only. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include "cli_html.h"
#include "log.h"

#define COST_SQL	"CASE WHEN priced THEN cost_usd ELSE 0 END"

/* Appends s to buf (size n) at *at; false when it does not fit. */
static bool put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
	if (*at + len >= n)
		return false;
	memcpy(buf + *at, s, len);
	*at += len;
	buf[*at] = '\0';
	return true;
}

int html_prepare(struct html *h, const char *tmpl, sqlite3_stmt **st)
{
	static const char *const params[] = { ":since", ":app", ":project", ":provider",
					      ":t0", ":w" };
	char sql[4096];
	size_t at = 0;
	const char *p = tmpl;
	int i, rc;

	sql[0] = '\0';
	while (*p) {
		const char *rep = NULL;
		size_t skip = 0;

		if (!strncmp(p, "{W}", 3))
			rep = h->where, skip = 3;
		else if (!strncmp(p, "{APP}", 5))
			rep = h->app_expr, skip = 5;
		else if (!strncmp(p, "{PROJ}", 6))
			rep = h->project_expr, skip = 6;
		else if (!strncmp(p, "{COST}", 6))
			rep = COST_SQL, skip = 6;
		if (rep ? !put(sql, sizeof(sql), &at, rep, strlen(rep)) :
			  !put(sql, sizeof(sql), &at, p, 1)) {
			p_err("report: query too long");
			return -E2BIG;
		}
		p += rep ? skip : 1;
	}
	rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		p_err("report query failed: %s", sqlite3_errmsg(h->db));
		return -EIO;
	}
	for (i = 0; i < (int)(sizeof(params) / sizeof(params[0])); i++) {
		int idx = sqlite3_bind_parameter_index(*st, params[i]);
		const char *v = NULL;

		if (!idx)
			continue;
		switch (i) {
		case 0: sqlite3_bind_int64(*st, idx, h->o->since_ns); continue;
		case 1: v = h->o->app; break;
		case 2: v = h->o->project; break;
		case 3: v = h->o->provider; break;
		case 4: sqlite3_bind_int64(*st, idx, h->t0_s); continue;
		case 5: sqlite3_bind_int64(*st, idx, h->width_s > 0 ? h->width_s : 1); continue;
		}
		sqlite3_bind_text(*st, idx, v, -1, SQLITE_STATIC);
	}
	return 0;
}

int html_finish(struct html *h, sqlite3_stmt *st, int rc)
{
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		p_err("report query failed: %s", sqlite3_errmsg(h->db));
		return -EIO;
	}
	return 0;
}

const char *html_col(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

