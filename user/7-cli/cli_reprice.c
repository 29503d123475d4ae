/* `llmobs reprice`: stored rows -> their cost with the price table in force
 * -> a report of what would change, and with --apply the rows rewritten.
 * Stored costs are never rewritten silently: without --apply nothing is
 * written, and each run says what it did. It is for the rows of models that
 * were unpriced when seen (the default: priced = 0 only); --all recomputes
 * priced rows too, each at the price in force at its own time. The DB does
 * not keep whether a call opted into Anthropic's long-context tier, so a
 * priced row whose cost is either reading's is left as it is. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cost.h"
#include "log.h"

#define SAME_USD 1e-12

struct change_row {
	int64_t id;
	double cost_usd;
	bool priced;
};

struct group {
	char model[128];
	bool was_priced, now_priced;
	long long rows;
	double old_usd, new_usd;
};

struct plan {
	struct change_row *rows;
	size_t n, cap;
	struct group *groups;
	size_t n_groups, cap_groups;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *g;

	if (n < *cap)
		return 0;
	g = realloc(*v, (*cap ? 2 * *cap : 64) * size);
	if (!g)
		return -ENOMEM;
	*v = g;
	*cap = *cap ? 2 * *cap : 64;
	return 0;
}

static int note(struct plan *pl, const struct exchange_record *r, bool was_priced,
		double old_usd)
{
	const char *model = r->model[0] ? r->model : r->request_model;
	struct group *g = NULL;
	size_t i;

	if (grow((void **)&pl->rows, &pl->cap, pl->n, sizeof(*pl->rows)))
		return -ENOMEM;
	pl->rows[pl->n++] = (struct change_row){ r->id, r->cost_usd, r->priced };
	for (i = 0; i < pl->n_groups && !g; i++)
		if (!strcmp(pl->groups[i].model, model) && pl->groups[i].was_priced == was_priced &&
		    pl->groups[i].now_priced == r->priced)
			g = &pl->groups[i];
	if (!g) {
		if (grow((void **)&pl->groups, &pl->cap_groups, pl->n_groups, sizeof(*g)))
			return -ENOMEM;
		g = &pl->groups[pl->n_groups++];
		memset(g, 0, sizeof(*g));
		snprintf(g->model, sizeof(g->model), "%s", model);
		g->was_priced = was_priced;
		g->now_priced = r->priced;
	}
	g->rows++;
	g->old_usd += old_usd;
	g->new_usd += r->cost_usd;
	return 0;
}

static void col(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", v ? v : "");
}

static int plan_rows(struct sqlite3 *db, const struct price_table *t, int64_t since_ns,
		     bool all, struct plan *pl, long long *seen)
{
	struct exchange_record r;
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(db,
		"SELECT id, ts_start_ns, host, path, provider, api, model, request_model,"
		" input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,"
		" output_tokens, reasoning_tokens, cost_usd, priced FROM exchanges"
		" WHERE ts_start_ns >= ? AND (? OR NOT priced) ORDER BY id", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		p_err("reprice: query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_int(st, 2, all);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		double old_usd = sqlite3_column_double(st, 14), opted;
		bool was_priced = sqlite3_column_int(st, 15) != 0;

		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(st, 0);
		r.ts_start_ns = sqlite3_column_int64(st, 1);
		col(st, 2, r.host, sizeof(r.host));
		col(st, 3, r.path, sizeof(r.path));
		col(st, 4, r.provider, sizeof(r.provider));
		col(st, 5, r.api, sizeof(r.api));
		col(st, 6, r.model, sizeof(r.model));
		col(st, 7, r.request_model, sizeof(r.request_model));
		r.usage.input_tokens = sqlite3_column_int64(st, 8);
		r.usage.cached_input_tokens = sqlite3_column_int64(st, 9);
		r.usage.cache_write_tokens = sqlite3_column_int64(st, 10);
		r.usage.cache_write_1h_tokens = sqlite3_column_int64(st, 11);
		r.usage.output_tokens = sqlite3_column_int64(st, 12);
		r.usage.reasoning_tokens = sqlite3_column_int64(st, 13);
		(*seen)++;
		r.long_context_opt_in = true;
		cost_price_record(t, &r);
		opted = r.cost_usd;
		r.long_context_opt_in = false;
		cost_price_record(t, &r);
		if (r.priced == was_priced && (fabs(r.cost_usd - old_usd) <= SAME_USD ||
					       fabs(opted - old_usd) <= SAME_USD))
			continue;
		err = note(pl, &r, was_priced, old_usd);
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE) {
		p_err("reprice: query failed: %s", sqlite3_errmsg(db));
		err = -EIO;
	}
	return err;
}

static int apply(struct sqlite3 *db, const struct plan *pl)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "UPDATE exchanges SET cost_usd = ?, priced = ?"
					" WHERE id = ?", -1, &st, NULL);
	for (i = 0; rc == SQLITE_OK && i < pl->n; i++) {
		sqlite3_bind_double(st, 1, pl->rows[i].cost_usd);
		sqlite3_bind_int(st, 2, pl->rows[i].priced);
		sqlite3_bind_int64(st, 3, pl->rows[i].id);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		p_err("reprice: writing failed: %s (nothing was changed)", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

int cli_reprice(struct sqlite3 *db, const struct price_table *t, int64_t since_ns,
		bool all, bool write)
{
	struct plan pl = { 0 };
	double old_usd = 0, new_usd = 0;
	long long seen = 0;
	size_t i;
	int err;

	err = plan_rows(db, t, since_ns, all, &pl, &seen);
	if (err)
		goto out;
	printf("table: %s; %lld %srows examined\n", price_table_origin(t), seen,
	       all ? "" : "unpriced ");
	if (pl.n_groups)
		printf("%8s  %-44s %-22s %12s %12s\n", "ROWS", "MODEL", "PRICED", "STORED $",
		       "NOW $");
	for (i = 0; i < pl.n_groups; i++) {
		const struct group *g = &pl.groups[i];
		char priced[24];

		snprintf(priced, sizeof(priced), "%s -> %s", g->was_priced ? "yes" : "no",
			 g->now_priced ? "yes" : "no");
		printf("%8lld  %-44.44s %-22s %12.6f %12.6f\n", g->rows, g->model, priced,
		       g->old_usd, g->new_usd);
		old_usd += g->old_usd;
		new_usd += g->new_usd;
	}
	if (!pl.n) {
		printf("nothing to change\n");
	} else if (!write) {
		printf("%zu rows would change ($%.6f -> $%.6f); nothing was written: run "
		       "`llmobs reprice --apply` with the same options to rewrite them\n",
		       pl.n, old_usd, new_usd);
	} else if ((err = apply(db, &pl)) == 0) {
		printf("%zu rows rewritten ($%.6f -> $%.6f)\n", pl.n, old_usd, new_usd);
	}
out:
	free(pl.rows);
	free(pl.groups);
	return err;
}
