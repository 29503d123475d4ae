/* `llmobs advise`: the database and the price table in, one list of
 * savings out, largest first, each with its evidence, its dollars a month
 * at the observed rate, and how sure the estimate is. All are estimates.
 *
 *  - prompt cache: `llmobs cache`'s advice per template, with what it saves
 *    a day; without any, what the analytics found missed (missed_cache_usd);
 *  - duplicate requests: deterministic calls repeated (cache_duplicate),
 *    what a response cache would have saved;
 *  - model switch: an expensive model used for short, uniform calls
 *    (classification, extraction, routing: mean output <= 200 tokens and
 *    input <= 4,000, both with a coefficient of variation <= 0.5), priced
 *    at a cheaper sibling of the same provider;
 *  - batch: an app that never streams and sends bursts (10+ calls in a
 *    minute): no user waits on it, the provider's batch price applies.
 *
 * Nothing is advised on fewer than ADVISE_MIN_CALLS calls: below that a
 * mean says little and a month's extrapolation even less. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "cli_advise.h"
#include "cost.h"
#include "store.h"

#define MONTH_S			(30.0 * 86400)

struct advise {
	sqlite3 *db;
	struct price_table *prices;
	int64_t since_ns;
	double window_s;	/* observed span, for the monthly rate */
	const char *app;	/* SQL: app, else comm */
	struct advice a[ADVISE_MAX];
	int n;
};

static void vadd(struct advise *x, double usd_month, const char *confidence, const char *fmt,
		 va_list ap)
{
	struct advice *a;

	if (x->n == ADVISE_MAX || !(usd_month > 0))
		return;
	a = &x->a[x->n++];
	a->usd_month = usd_month;
	a->confidence = x->window_s < 86400 ? "low" : confidence;	/* under a day: low */
	vsnprintf(a->what, sizeof(a->what), fmt, ap);
	for (char *p = a->what; *p; p++)	/* names from observed processes */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* usd_window: spent over the observed window, scaled to a month. */
__attribute__((format(printf, 4, 5)))
static void add(struct advise *x, double usd_window, const char *confidence, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(x, usd_window * MONTH_S / x->window_s, confidence, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void add_month(struct advise *x, double usd_month, const char *confidence,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(x, usd_month, confidence, fmt, ap);
	va_end(ap);
}

static int prepare(struct advise *x, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(x->db, sql, -1, st, NULL) != SQLITE_OK) {
		fprintf(stderr, "llmobs: advise query failed: %s\n", sqlite3_errmsg(x->db));
		return -EIO;
	}
	sqlite3_bind_int64(*st, 1, x->since_ns);
	sqlite3_bind_int(*st, 2, ADVISE_MIN_CALLS);
	return 0;
}

static const char *text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

static int cache_misses(struct advise *x)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc;

	if (!store_has_column(x->db, "missed_cache_usd"))
		return 0;
	snprintf(sql, sizeof(sql), "SELECT %s, model, count(*), total(missed_cache_usd),"
		 " total(cached_input_tokens) / max(total(input_tokens), 1) FROM exchanges"
		 " WHERE ts_start_ns >= ?1 AND missed_cache_usd IS NOT NULL GROUP BY 1, 2"
		 " HAVING count(*) >= ?2 AND total(missed_cache_usd) > 0", x->app);
	if (prepare(x, sql, &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		add(x, sqlite3_column_double(st, 3), "medium",
		    "prompt cache: %s on %s missed $%.4f over %lld calls (hit rate %.0f%%); "
		    "`llmobs cache` names the breakers", text(st, 0), text(st, 1),
		    sqlite3_column_double(st, 3), (long long)sqlite3_column_int64(st, 2),
		    100 * sqlite3_column_double(st, 4));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The prompt-cache advice of `llmobs cache` (issue 7/9: per template, what
 * breaks the cache and what fixing it saves a day), when the database has
 * the analytics; else the coarse missed dollars per app and model. */
static int cache_advice(struct advise *x)
{
	cJSON *doc = cli_cache_document(x->db, x->since_ns), *t, *r;
	cJSON *templates = doc ? cJSON_GetObjectItem(doc, "templates") : NULL;
	int n = 0;

	cJSON_ArrayForEach(t, templates) {
		const cJSON *req = cJSON_GetObjectItem(t, "requests");
		const cJSON *exe = cJSON_GetObjectItem(t, "exe"), *model = cJSON_GetObjectItem(t, "model");

		if (!cJSON_IsNumber(req) || req->valuedouble < ADVISE_MIN_CALLS)
			continue;
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(t, "recommendations")) {
			const cJSON *day = cJSON_GetObjectItem(r, "saves_usd_per_day");
			const cJSON *txt = cJSON_GetObjectItem(r, "text");

			if (!cJSON_IsNumber(day) || !cJSON_IsString(txt))
				continue;
			add_month(x, day->valuedouble * 30, "medium", "prompt cache (%s, %s): %s",
				  cJSON_IsString(exe) && exe->valuestring[0] ?
				  (strrchr(exe->valuestring, '/') ? strrchr(exe->valuestring, '/') + 1 :
				   exe->valuestring) : "?",
				  cJSON_IsString(model) ? model->valuestring : "?", txt->valuestring);
			n++;
		}
	}
	cJSON_Delete(doc);
	return n ? 0 : cache_misses(x);
}

static int duplicates(struct advise *x)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc;

	if (!store_has_column(x->db, "cache_duplicate"))
		return 0;
	snprintf(sql, sizeof(sql), "SELECT %s, model, count(*), sum(cache_duplicate = 1),"
		 " total(CASE WHEN cache_duplicate = 1 AND priced THEN cost_usd ELSE 0 END)"
		 " FROM exchanges WHERE ts_start_ns >= ?1 GROUP BY 1, 2 HAVING count(*) >= ?2",
		 x->app);
	if (prepare(x, sql, &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_int64(st, 3) > 0)
			add(x, sqlite3_column_double(st, 4), "high",
			    "duplicate requests: %s repeated %lld of %lld deterministic calls to %s; "
			    "a response cache would serve them", text(st, 0),
			    (long long)sqlite3_column_int64(st, 3),
			    (long long)sqlite3_column_int64(st, 2), text(st, 1));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* A cheaper sibling of the same provider, for families whose smaller
 * model does classification and extraction as well. */
static const char *sibling(const char *model)
{
	static const struct { const char *glob, *to; } s[] = {
		{ "gpt-4o-mini*", NULL }, { "gpt-4o", "gpt-4o-mini" }, { "gpt-4o-20*", "gpt-4o-mini" },
		{ "gpt-4.1-nano*", NULL }, { "gpt-4.1-mini*", "gpt-4.1-nano" },
		{ "gpt-4.1", "gpt-4.1-mini" }, { "gpt-4.1-20*", "gpt-4.1-mini" },
		{ "gpt-5-nano*", NULL }, { "gpt-5-mini*", "gpt-5-nano" }, { "gpt-5", "gpt-5-mini" },
		{ "gpt-5-20*", "gpt-5-mini" }, { "o3", "o4-mini" }, { "o3-20*", "o4-mini" },
		{ "claude-opus-4*", "claude-sonnet-4-5" }, { "claude-sonnet-4*", "claude-haiku-4-5" },
		{ "claude-3-7-sonnet*", "claude-haiku-4-5" },
		{ "gemini-2.5-pro*", "gemini-2.5-flash" },
		{ "gemini-2.5-flash-lite*", NULL }, { "gemini-2.5-flash*", "gemini-2.5-flash-lite" },
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!fnmatch(s[i].glob, model, 0))
			return s[i].to;
	return NULL;
}

/* Coefficient of variation from E[x] and E[x^2] (sqrt by Newton: the
 * CLI links no libm for one call). */
static double cv(double mean, double mean_sq)
{
	double var = mean_sq - mean * mean, r;

	if (!(mean > 0))
		return 1e9;
	if (!(var > 0))
		return 0;
	r = var > 1 ? var : 1;
	for (int i = 0; i < 64; i++)
		r = 0.5 * (r + var / r);
	return r / mean;
}

static int model_switch(struct advise *x)
{
	char sql[640];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s, model, count(*), avg(input_tokens),"
		 " avg(input_tokens * input_tokens), avg(output_tokens),"
		 " avg(output_tokens * output_tokens), total(input_tokens),"
		 " total(cached_input_tokens), total(output_tokens), total(reasoning_tokens),"
		 " total(CASE WHEN priced THEN cost_usd ELSE 0 END) FROM exchanges"
		 " WHERE ts_start_ns >= ?1 AND priced AND usage_source != 'none'"
		 " GROUP BY 1, 2 HAVING count(*) >= ?2", x->app);
	if (prepare(x, sql, &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *to = sibling(text(st, 1));
		const struct price *p = to ? price_lookup(x->prices, to) : NULL;
		double in = sqlite3_column_double(st, 3), out = sqlite3_column_double(st, 5);
		struct llm_usage u = {
			.input_tokens = (int64_t)sqlite3_column_double(st, 7),
			.cached_input_tokens = (int64_t)sqlite3_column_double(st, 8),
			.output_tokens = (int64_t)sqlite3_column_double(st, 9),
			.reasoning_tokens = (int64_t)sqlite3_column_double(st, 10),
		};
		double now_usd = sqlite3_column_double(st, 11), then_usd;

		if (!p || out > 200 || in > 4000 || cv(in, sqlite3_column_double(st, 4)) > 0.5 ||
		    cv(out, sqlite3_column_double(st, 6)) > 0.5)
			continue;
		then_usd = cost_usd(p, &u);
		add(x, now_usd - then_usd, "low",
		    "model switch: %s sends %s short, uniform calls (%lld, ~%.0f tokens in, ~%.0f out: "
		    "classification-like); %s would cost $%.4f instead of $%.4f. Check quality first",
		    text(st, 0), text(st, 1), (long long)sqlite3_column_int64(st, 2), in, out, to,
		    then_usd, now_usd);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int batch(struct advise *x)
{
	char sql[900];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "WITH a AS (SELECT %s AS app, model, stream, priced, cost_usd,"
		 " ts_start_ns FROM exchanges WHERE ts_start_ns >= ?1), bursty AS (SELECT app FROM"
		 " (SELECT app, ts_start_ns / 60000000000 AS m, count(*) AS n FROM a GROUP BY 1, 2)"
		 " GROUP BY app HAVING max(n) >= 10) SELECT app, model, count(*),"
		 " total(CASE WHEN priced THEN cost_usd ELSE 0 END) FROM a WHERE app IN bursty AND"
		 " app NOT IN (SELECT app FROM a WHERE stream) GROUP BY 1, 2 HAVING count(*) >= ?2",
		 x->app);
	if (prepare(x, sql, &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const struct price *p = price_lookup(x->prices, text(st, 1));
		double usd = sqlite3_column_double(st, 3);

		if (!p || !(p->batch_factor < 1))
			continue;
		add(x, usd * (1 - p->batch_factor), "low",
		    "batch API: %s sends %s in bursts and never streams (%lld calls, $%.4f): no user "
		    "waits on it; the batch price is %.0f%% of the standard one", text(st, 0),
		    text(st, 1), (long long)sqlite3_column_int64(st, 2), usd, 100 * p->batch_factor);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int by_usd(const void *a, const void *b)
{
	double d = ((const struct advice *)b)->usd_month - ((const struct advice *)a)->usd_month;

	return d > 0 ? 1 : d < 0 ? -1 : 0;
}

/* The observed span: from the window's (or the data's) start to now. */
static void window(struct advise *x)
{
	sqlite3_stmt *st;
	int64_t now = (int64_t)time(NULL), first = now;

	if (sqlite3_prepare_v2(x->db, "SELECT min(ts_start_ns) FROM exchanges WHERE ts_start_ns >= ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, x->since_ns);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			first = sqlite3_column_int64(st, 0) / 1000000000;
		sqlite3_finalize(st);
	}
	x->window_s = now - first > 3600 ? (double)(now - first) : 3600;
}

int cli_advise_collect(struct sqlite3 *db, int64_t since_ns, struct advice_list *out)
{
	struct advise *x = calloc(1, sizeof(*x));
	int err;

	out->n = 0;
	out->window_s = 0;
	if (!x)
		return -ENOMEM;
	/* the table in force: one `llmobs prices --update` installed beside
	 * the database, else the embedded one (as the daemon does) */
	if ((err = price_table_load_in_force(NULL, sqlite3_db_filename(db, "main"), &x->prices))) {
		free(x);
		return err;
	}
	x->db = db;
	x->since_ns = since_ns;
	x->app = store_has_column(db, "app") ? "COALESCE(NULLIF(app, ''), comm)" : "comm";
	window(x);
	err = cache_advice(x) ?: duplicates(x) ?: model_switch(x) ?: batch(x);
	if (!err) {
		qsort(x->a, (size_t)x->n, sizeof(x->a[0]), by_usd);
		memcpy(out->a, x->a, sizeof(x->a[0]) * (size_t)x->n);
		out->n = x->n;
		out->window_s = x->window_s;
	}
	price_table_free(x->prices);
	free(x);
	return err;
}

int cli_report_advice(struct sqlite3 *db, int64_t since_ns)
{
	struct advice_list *l = calloc(1, sizeof(*l));
	int err, i;

	if (!l)
		return -ENOMEM;
	err = cli_advise_collect(db, since_ns, l);
	if (!err && l->n) {
		printf("\nSavings (estimates at the observed rate; all of them: llmobs advise)\n"
		       "  %10s  %-10s  %s\n", "$/MONTH", "CONFIDENCE", "WHAT");
		for (i = 0; i < l->n && i < 5; i++)
			printf("  %10.2f  %-10s  %s\n", l->a[i].usd_month, l->a[i].confidence,
			       l->a[i].what);
	}
	free(l);
	return err;
}

int cli_advise(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct advice_list *l = calloc(1, sizeof(*l));
	struct store *store = NULL;
	const char *db_arg = NULL;
	int64_t since_ns = INT64_MIN, since_s;
	char buf[PATH_MAX];
	int opt, err;

	if (!l)
		return EXIT_FAILURE;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db_arg = optarg; break;
		case 's':
			if (cli_parse_duration(optarg, &since_s)) {
				fprintf(stderr, "llmobs: bad --since '%s'\n", optarg);
				free(l);
				return EXIT_USAGE;
			}
			since_ns = ((int64_t)time(NULL) - since_s) * 1000000000LL;
			break;
		case 'h':
			printf("Usage: llmobs advise [--db PATH] [--since DURATION]\n");
			free(l);
			return 0;
		default:
			free(l);
			return EXIT_USAGE;
		}
	}
	if (!db_arg)
		db_arg = store_default_path(buf, sizeof(buf));
	if (!db_arg[0] || store_open(db_arg, true, &store)) {
		fprintf(stderr, "llmobs: cannot open the database %s (--db PATH)\n", db_arg);
		free(l);
		return EXIT_FAILURE;
	}
	err = cli_advise_collect(store_db(store), since_ns, l);
	if (!err) {
		printf("Savings, largest first: estimates at the rate observed over %.1f days,\n"
		       "each on at least %d calls. Confidence: high (measured), medium (modelled),\n"
		       "low (a change whose effect on quality must be checked, or under a day seen).\n"
		       "  %10s  %-10s  %s\n", l->window_s / 86400, ADVISE_MIN_CALLS, "$/MONTH",
		       "CONFIDENCE", "WHAT");
		for (int i = 0; i < l->n; i++)
			printf("  %10.2f  %-10s  %s\n", l->a[i].usd_month, l->a[i].confidence,
			       l->a[i].what);
		if (!l->n)
			printf("  (nothing to advise on what was observed)\n");
	}
	store_close(store);
	free(l);
	return err ? EXIT_FAILURE : 0;
}
