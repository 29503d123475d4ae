/* The `llmobs prices` commands that read the DB or compare tables:
 * --check: the models the DB has seen that the price table in force cannot
 *   price (each distinct host, model, request model, API priced again as the
 *   daemon would, so an edited table can be checked against the traffic
 *   already recorded);
 * --update FILE: a newer table (the source's data.json or our format),
 *   validated, refused if it would un-price a model seen in the last 7 days
 *   (unless forced), then installed beside the DB, where llmobsd and llmobs
 *   read it at start: prices change without a rebuild;
 * --diff OLD NEW: the prices that changed between two tables. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
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
		       "data/prices-overrides.json, or install a newer table with --update FILE\n", *missing, models);
	else
		printf("all %lld models seen are in the price table\n", models);
	return 0;
}

/* ---- prices --update: validate, check the last week, install ---- */

#define UPDATE_WINDOW_S	(7 * 86400)

/* The models priced in the last week that table t would leave unpriced. */
static int unpriced_by(struct sqlite3 *db, const struct price_table *t, int *lost)
{
	struct exchange_record r;
	sqlite3_stmt *st;
	int rc;

	*lost = 0;
	rc = sqlite3_prepare_v2(db,
		"SELECT host, min(path), provider, api, model, request_model, count(*),"
		" max(ts_start_ns) FROM exchanges WHERE priced AND ts_start_ns >= ?"
		" AND (model != '' OR request_model != '')"
		" GROUP BY host, provider, api, model, request_model ORDER BY count(*) DESC",
		-1, &st, NULL);
	if (rc != SQLITE_OK) {
		p_err("prices --update: query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, ((int64_t)time(NULL) - UPDATE_WINDOW_S) * 1000000000);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		copy_col(st, 0, r.host, sizeof(r.host));
		copy_col(st, 1, r.path, sizeof(r.path));
		copy_col(st, 2, r.provider, sizeof(r.provider));
		copy_col(st, 3, r.api, sizeof(r.api));
		copy_col(st, 4, r.model, sizeof(r.model));
		copy_col(st, 5, r.request_model, sizeof(r.request_model));
		r.ts_start_ns = sqlite3_column_int64(st, 7);
		cost_price_record(t, &r);
		if (r.priced)
			continue;
		if (!(*lost)++)
			printf("The new table cannot price models priced in the last 7 days:\n"
			       "%8s  %-36s %s\n", "CALLS", "HOST", "MODEL");
		printf("%8lld  ", (long long)sqlite3_column_int64(st, 6));
		put_safe(r.host);
		printf("%*s ", (int)(strlen(r.host) < 36 ? 36 - strlen(r.host) : 0), "");
		put_safe(r.model[0] ? r.model : r.request_model);
		putchar('\n');
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		p_err("prices --update: query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

/* Copies src to dst through a temporary file and a rename: a reader (the
 * daemon starting) sees the old file or the new one, never half of one. */
/* Writes the validated bytes beside dst, then renames: a reader sees the
 * old table or the new one, never half of either. */
static int install_bytes(const char *bytes, size_t len, const char *dst)
{
	char tmp[PATH_MAX + 8];
	FILE *out;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	out = fopen(tmp, "wb");
	if (!out)
		return -errno;
	if (fwrite(bytes, 1, len, out) != len)
		err = -EIO;
	if (fflush(out) || fsync(fileno(out)))
		err = err ? err : -errno;
	if (fclose(out))
		err = err ? err : -EIO;
	if (!err && rename(tmp, dst))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int cli_prices_update(struct sqlite3 *db, const char *file, const char *installed,
		      bool force)
{
	struct price_table *t = NULL;
	char *bytes = NULL;
	size_t nbytes = 0;
	int err, lost = 0;

	err = price_table_load_file_bytes(file, &t, &bytes, &nbytes);	/* logs why */
	if (err) {
		fprintf(stderr, "llmobs: prices --update: %s refused (%s); the table in force "
			"is unchanged\n", file, strerror(-err));
		return EXIT_FAILURE;
	}
	printf("%s: %zu models, valid\n", file, price_table_size(t));
	if (db && (err = unpriced_by(db, t, &lost))) {
		price_table_free(t);
		free(bytes);
		return EXIT_FAILURE;
	}
	price_table_free(t);
	if (!db)
		printf("no database: nothing seen to check the new table against\n");
	if (lost && !force) {
		fprintf(stderr, "llmobs: prices --update: refused: %d model%s seen in the last 7 days "
			"would be unpriced (--force installs it anyway); the table in force is "
			"unchanged\n", lost, lost == 1 ? "" : "s");
		free(bytes);
		return EXIT_FAILURE;
	}
	err = install_bytes(bytes, nbytes, installed);
	free(bytes);
	if (err) {
		fprintf(stderr, "llmobs: prices --update: cannot install %s: %s; the table in force "
			"is unchanged\n", installed, strerror(-err));
		return EXIT_FAILURE;
	}
	printf("installed as %s: llmobs uses it now, llmobsd from its next start "
	       "(systemctl restart llmobsd, or however it runs); remove the file to go "
	       "back to the built-in table\n", installed);
	return 0;
}

/* ---- prices --diff OLD NEW ---- */

static const struct price *by_name(const struct price_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < price_table_size(t); i++)
		if (!strcmp(price_table_entry(t, i)->model, name))
			return price_table_entry(t, i);
	return NULL;
}

/* What changed about one entry, appended to a line. */
struct change {
	char text[768];
	size_t len;
};

static __attribute__((format(printf, 2, 3)))
void add_change(struct change *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->len >= sizeof(c->text))
		return;
	if (c->len)
		c->len += snprintf(c->text + c->len, sizeof(c->text) - c->len, ", ");
	if (c->len >= sizeof(c->text))
		return;
	va_start(ap, fmt);
	n = vsnprintf(c->text + c->len, sizeof(c->text) - c->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->len += (size_t)n;
}

static void diff_rate(struct change *c, const char *what, double a, double b, double unit)
{
	if (fabs(a - b) > 1e-15 * (1 + fabs(a)))
		add_change(c, "%s %.6g -> %.6g", what, a * unit, b * unit);
}

static void print_rates(const struct price *p)
{
	printf(" in %.6g, cached %.6g, out %.6g", p->input_usd * 1e6,
	       p->cached_input_usd * 1e6, p->output_usd * 1e6);
}

int cli_prices_diff(const struct price_table *a, const struct price_table *b)
{
	int64_t now = (int64_t)time(NULL);
	size_t i, added = 0, removed = 0, changed = 0;

	printf("prices per million tokens, in force now; old: %s, new: %s\n",
	       price_table_origin(a), price_table_origin(b));
	for (i = 0; i < price_table_size(a); i++) {
		const struct price *e = price_table_entry(a, i), *n = by_name(b, e->model);
		const struct price *x, *y;
		struct change c;

		if (!n) {
			printf("- %s (%s)", e->model, e->provider);
			print_rates(price_at(e, now));
			putchar('\n');
			removed++;
			continue;
		}
		x = price_at(e, now);
		y = price_at(n, now);
		memset(&c, 0, sizeof(c));
		diff_rate(&c, "input", x->input_usd, y->input_usd, 1e6);
		diff_rate(&c, "cached", x->cached_input_usd, y->cached_input_usd, 1e6);
		diff_rate(&c, "write5m", x->cache_write_5m_usd, y->cache_write_5m_usd, 1e6);
		diff_rate(&c, "write1h", x->cache_write_1h_usd, y->cache_write_1h_usd, 1e6);
		diff_rate(&c, "output", x->output_usd, y->output_usd, 1e6);
		diff_rate(&c, "reasoning", x->reasoning_usd, y->reasoning_usd, 1e6);
		diff_rate(&c, "per call ($)", x->request_usd, y->request_usd, 1);
		if (x->batch_factor != y->batch_factor)
			add_change(&c, "batch x%g -> x%g", x->batch_factor, y->batch_factor);
		if (x->long_context_above != y->long_context_above ||
		    x->long_context.input_usd != y->long_context.input_usd ||
		    x->long_context.output_usd != y->long_context.output_usd)
			add_change(&c, "long-context tier above %lld (in %.6g, out %.6g) -> "
				   "above %lld (in %.6g, out %.6g)",
				   (long long)x->long_context_above, x->long_context.input_usd * 1e6,
				   x->long_context.output_usd * 1e6, (long long)y->long_context_above,
				   y->long_context.input_usd * 1e6, y->long_context.output_usd * 1e6);
		if (e->n_periods != n->n_periods)
			add_change(&c, "%zu -> %zu price periods", e->n_periods ? e->n_periods : 1,
				   n->n_periods ? n->n_periods : 1);
		if (c.len) {
			printf("~ %s: %s\n", e->model, c.text);
			changed++;
		}
	}
	for (i = 0; i < price_table_size(b); i++) {
		const struct price *n = price_table_entry(b, i);

		if (by_name(a, n->model))
			continue;
		printf("+ %s (%s)", n->model, n->provider);
		print_rates(price_at(n, now));
		putchar('\n');
		added++;
	}
	printf("%zu added, %zu removed, %zu changed\n", added, removed, changed);
	return (int)(added + removed + changed);
}
