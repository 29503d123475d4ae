/* `llmobs cache`: the prompt-cache report (issue 9). In: the exchanges the
 * daemon analysed (store schema v5 columns: template, cacheable and missed
 * tokens and dollars, cause, breakers); out: per template and overall the
 * hit rate, what was missed and why, the breakers that cost the most, and
 * what to change, each with the dollars a day it would save at the rate
 * observed. --json prints schema llmobs.cache.v1 (README), which other
 * tools read: its shape only changes under a new schema name. */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cache_tokens.h"
#include "cli.h"
#include "cost.h"
#include "log.h"

#define NS_PER_DAY	(86400.0 * 1e9)

/* x rounded to 1/scale (money in the JSON), without libm. */
static double rnd(double x, double scale)
{
	return (double)(int64_t)(x * scale + (x < 0 ? -0.5 : 0.5)) / scale;
}

struct tmpl_row {
	char id[17], exe[256], provider[32], api[32], model[128];
	int64_t requests, input, cached, cacheable, missed;
	double missed_usd, per_day;	/* per_day: requests a day at the rate seen */
	int64_t first_ns, last_ns;
};

static const char *text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

/* Requests a day at the rate seen: n requests over [first, last] are n
 * gaps of the mean gap, and a burst counts as spread over an hour at least
 * (a test run or a one-off batch is not a daily rate). One request says
 * nothing about a rate. */
static double per_day(int64_t n, int64_t first_ns, int64_t last_ns)
{
	double span;

	if (n < 2 || last_ns <= first_ns)
		return 0;
	span = (double)(last_ns - first_ns) * (double)n / (double)(n - 1);
	if (span < 3600e9)
		span = 3600e9;
	return (double)n * NS_PER_DAY / span;
}

/* "an ISO-8601 timestamp", "a UUID v4", "an RFC 1123 timestamp" */
static const char *article(const char *phrase)
{
	return strchr("aeioAEIO", phrase[0]) || !strncmp(phrase, "RFC", 3) ? "an" : "a";
}

/* "; saves ~$41.00/day at the current volume", or nothing when unpriced */
static const char *saves(double day, bool upto, char *buf, size_t size)
{
	if (day < 0.005)
		return "";
	snprintf(buf, size, "; saves %s~$%.2f/day at the current volume", upto ? "up to " : "", day);
	return buf;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		p_err("cache report query failed: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static void put_safe(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* 6100 -> "6,100" */
static const char *thousands(int64_t v, char *buf, size_t size)
{
	char raw[32];
	int n = snprintf(raw, sizeof(raw), "%lld", (long long)(v < 0 ? -v : v)), o = 0;

	if (v < 0 && o + 1 < (int)size)
		buf[o++] = '-';
	for (int i = 0; i < n && o + 2 < (int)size; i++) {
		buf[o++] = raw[i];
		if ((n - i - 1) % 3 == 0 && i != n - 1)
			buf[o++] = ',';
	}
	buf[o] = '\0';
	return buf;
}

static bool openai_like(const char *provider)
{
	return !strcmp(provider, "openai") || !strcmp(provider, "azure_openai") ||
	       !strcmp(provider, "openai_compatible");
}

static const char *kind_phrase(const char *kind, const char *shape)
{
	if (shape && *shape)
		return shape;
	if (!strcmp(kind, "reordered_tools"))
		return "tool order";
	if (!strcmp(kind, "reordered_keys"))
		return "JSON key order";
	if (!strcmp(kind, "reordered_blocks"))
		return "block order";
	return kind;
}

static void add_rec(cJSON *recs, const char *action, const char *txt, double saves)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddStringToObject(o, "text", txt);
	cJSON_AddNumberToObject(o, "saves_usd_per_day", rnd(saves, 100));
	cJSON_AddItemToArray(recs, o);
}

/* One template: its misses by cause, top breakers and advice, into t. */
static int template_detail(sqlite3 *db, int64_t since_ns, const struct tmpl_row *row, cJSON *t,
			   const struct price_table *prices)
{
	sqlite3_stmt *st;
	cJSON *misses = cJSON_AddObjectToObject(t, "misses");
	cJSON *brk = cJSON_AddArrayToObject(t, "breakers");
	cJSON *recs = cJSON_AddArrayToObject(t, "recommendations");
	int64_t hits = 0, provider_side = 0, no_bp = 0, ttl = 0;
	double no_bp_usd = 0, ps_usd = 0, ttl_input = 0;
	char buf[512], n1[32], sv[96];
	int rc;

	if (prep(db, "SELECT coalesce(nullif(cache_miss_cause, ''), 'hit'), count(*),"
		     " sum(missed_cache_usd), sum(input_tokens - cached_input_tokens)"
		     " FROM exchanges WHERE template = ?2 AND ts_start_ns >= ?1"
		     " AND cacheable_tokens IS NOT NULL GROUP BY 1 ORDER BY 2 DESC", &st))
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_text(st, 2, row->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cause = text(st, 0);
		int64_t n = sqlite3_column_int64(st, 1);

		if (!strcmp(cause, "hit")) {
			hits = n;
			continue;
		}
		cJSON_AddNumberToObject(misses, cause, (double)n);
		if (!strcmp(cause, "provider_side")) {
			provider_side = n;
			ps_usd = sqlite3_column_double(st, 2);
		} else if (!strcmp(cause, "no_breakpoint")) {
			no_bp = n;
			no_bp_usd = sqlite3_column_double(st, 2);
		} else if (!strcmp(cause, "ttl_expired")) {
			ttl = n;
			ttl_input = sqlite3_column_double(st, 3);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;

	if (prep(db, "SELECT json_extract(j.value, '$.kind'), json_extract(j.value, '$.segment'),"
		     " json_extract(j.value, '$.byte_offset'), max(json_extract(j.value, '$.token_offset')),"
		     " count(*), sum(json_extract(j.value, '$.missed_tokens')),"
		     " sum(json_extract(j.value, '$.missed_usd')), max(json_extract(j.value, '$.shape'))"
		     " FROM exchanges e, json_each(e.breakers) j"
		     " WHERE e.template = ?2 AND e.ts_start_ns >= ?1 AND json_valid(e.breakers)"
		     " GROUP BY 1, 2, 3 ORDER BY 7 DESC, 5 DESC LIMIT 5", &st))
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_text(st, 2, row->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *b = cJSON_CreateObject();
		const char *kind = text(st, 0), *seg = text(st, 1), *shape = text(st, 7);
		int64_t off = sqlite3_column_int64(st, 2), n = sqlite3_column_int64(st, 4);
		int64_t mt = sqlite3_column_int64(st, 5);
		double usd = sqlite3_column_double(st, 6), day;

		cJSON_AddStringToObject(b, "kind", kind);
		cJSON_AddStringToObject(b, "segment", seg);
		cJSON_AddNumberToObject(b, "byte_offset", (double)off);
		cJSON_AddNumberToObject(b, "token_offset", (double)sqlite3_column_int64(st, 3));
		cJSON_AddNumberToObject(b, "requests", (double)n);
		cJSON_AddNumberToObject(b, "missed_tokens", (double)mt);
		cJSON_AddNumberToObject(b, "missed_usd", rnd(usd, 1e6));
		cJSON_AddStringToObject(b, "shape", shape);
		cJSON_AddItemToArray(brk, b);
		/* advice for the breakers that cost something */
		if (mt <= 0)
			continue;
		day = row->per_day > 0 ? usd / (double)row->requests * row->per_day : 0;
		if (!strcmp(kind, "reordered_tools"))
			snprintf(buf, sizeof(buf),
				 "tools arrive in a different order on %lld of %lld calls (first at %s): "
				 "send them in one fixed order%s",
				 (long long)n, (long long)row->requests, seg, saves(day, false, sv, sizeof(sv)));
		else if (!strcmp(kind, "reordered_keys"))
			snprintf(buf, sizeof(buf),
				 "the JSON keys of %s change order between calls (%lld of %lld): "
				 "serialise with sorted keys%s",
				 seg, (long long)n, (long long)row->requests, saves(day, false, sv, sizeof(sv)));
		else if (!strcmp(kind, "reordered_blocks"))
			snprintf(buf, sizeof(buf),
				 "the blocks from %s on arrive in a different order on %lld of %lld calls: "
				 "send them in one fixed order%s",
				 seg, (long long)n, (long long)row->requests,
				 saves(day, false, sv, sizeof(sv)));
		else
			snprintf(buf, sizeof(buf),
				 "%s %s at %s+%lld breaks %s cacheable tokens on %s: move it after the "
				 "static part%s",
				 article(kind_phrase(kind, shape)), kind_phrase(kind, shape), seg,
				 (long long)off, thousands(mt / n, n1, sizeof(n1)),
				 n * 10 >= (row->requests - 1) * 9 ? "every call" : "some calls",
				 saves(day, false, sv, sizeof(sv)));
		add_rec(recs, !strncmp(kind, "reordered", 9) ? "fix_order" : "move_volatile", buf,
			day);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;

	if (no_bp) {
		double day = row->per_day > 0 ? no_bp_usd / (double)row->requests * row->per_day : 0;

		/* Anthropic's cache_control, or OpenAI's explicit mode (GPT-5.6 on) */
		if (openai_like(row->provider))
			snprintf(buf, sizeof(buf),
				 "%lld of %lld calls in explicit cache mode carry no "
				 "prompt_cache_breakpoint: mark the block that ends the static part "
				 "(tools, instructions), or use the implicit mode%s",
				 (long long)no_bp, (long long)row->requests,
				 saves(day, false, sv, sizeof(sv)));
		else
			snprintf(buf, sizeof(buf),
				 "%lld of %lld calls carry no cache_control breakpoint: add one after "
				 "the tools and the system prompt (and one on the last message in an "
				 "agent loop)%s",
				 (long long)no_bp, (long long)row->requests,
				 saves(day, false, sv, sizeof(sv)));
		add_rec(recs, "add_breakpoint", buf, day);
	}
	if (provider_side) {
		double day = row->per_day > 0 ? ps_usd / (double)row->requests * row->per_day : 0;
		int pct = (int)rnd(100.0 * (double)provider_side / (double)(provider_side + hits), 1);

		if (openai_like(row->provider))
			snprintf(buf, sizeof(buf),
				 "set prompt_cache_key: %d%% of identical prefixes missed at the provider "
				 "(routed to another machine or evicted)%s",
				 pct, saves(day, true, sv, sizeof(sv)));
		else
			snprintf(buf, sizeof(buf),
				 "%d%% of identical prefixes within the TTL missed at the provider "
				 "(eviction or a breakpoint past the 20-block lookback)%s",
				 pct, saves(day, true, sv, sizeof(sv)));
		add_rec(recs, "prompt_cache_key", buf, day);
	}
	if (ttl && row->requests > 1) {
		double gap_s = (double)(row->last_ns - row->first_ns) / (double)(row->requests - 1) / 1e9;
		char gap[32];
		/* What the expired calls paid for uncached input, less what
		 * reads would have cost: an upper bound (a longer TTL's writes
		 * cost more: Anthropic 1 h writes 2x against 1.25x for 5 min,
		 * reads 0.1x, so with n calls an hour 1 h wins when
		 * 2 + 0.1 (n - 1) < 1.25 n, n > 1.65). */
		const struct price *p = prices ? price_lookup(prices, row->model) : NULL;
		double day = p && row->per_day > 0 ?
			     ttl_input * (p->input_usd - p->cached_input_usd) /
			     (double)row->requests * row->per_day : 0;

		if (gap_s < 120)
			snprintf(gap, sizeof(gap), "%.0f s", gap_s);
		else
			snprintf(gap, sizeof(gap), "%.0f min", gap_s / 60);
		if (openai_like(row->provider))
			snprintf(buf, sizeof(buf),
				 "calls %s apart outlive the in-memory cache (%lld of %lld expired): "
				 "set prompt_cache_retention \"24h\" where the model offers it%s",
				 gap, (long long)ttl, (long long)row->requests, saves(day, true, sv, sizeof(sv)));
		else
			snprintf(buf, sizeof(buf),
				 "calls %s apart outlive the cache TTL (%lld of %lld expired): the 1 h "
				 "TTL (\"ttl\": \"1h\") pays for itself above 2 calls/hour%s",
				 gap, (long long)ttl, (long long)row->requests, saves(day, true, sv, sizeof(sv)));
		add_rec(recs, "longer_ttl", buf, day);
	}
	return 0;
}

static void add_totals(cJSON *o, int64_t requests, int64_t input, int64_t cached,
		       int64_t cacheable, int64_t missed, double usd)
{
	cJSON_AddNumberToObject(o, "requests", (double)requests);
	cJSON_AddNumberToObject(o, "input_tokens", (double)input);
	cJSON_AddNumberToObject(o, "cached_input_tokens", (double)cached);
	cJSON_AddNumberToObject(o, "cacheable_tokens", (double)cacheable);
	cJSON_AddNumberToObject(o, "missed_cache_tokens", (double)missed);
	cJSON_AddNumberToObject(o, "missed_cache_usd", rnd(usd, 1e6));
}

/* The whole report as one llmobs.cache.v1 object. NULL on a query error. */
static cJSON *build(sqlite3 *db, int64_t since_ns)
{
	cJSON *root = cJSON_CreateObject(), *totals, *templates, *dups;
	struct price_table *prices = NULL;
	sqlite3_stmt *st;
	int64_t n = 0, in = 0, ca = 0, cb = 0, mi = 0;
	double usd = 0;
	int rc;

	/* the TTL advice prices what expired; without a table it says $0 */
	if (price_table_load_default(&prices))
		prices = NULL;
	cJSON_AddStringToObject(root, "schema", "llmobs.cache.v1");
	totals = cJSON_AddObjectToObject(root, "totals");
	templates = cJSON_AddArrayToObject(root, "templates");
	dups = cJSON_AddArrayToObject(root, "duplicates");
	if (prep(db, "SELECT template, max(exe), max(provider), max(api), max(model), count(*),"
		     " sum(input_tokens), sum(cached_input_tokens), sum(cacheable_tokens),"
		     " sum(missed_cache_tokens), sum(missed_cache_usd), min(ts_start_ns), max(ts_start_ns)"
		     " FROM exchanges WHERE cacheable_tokens IS NOT NULL AND ts_start_ns >= ?1"
		     " GROUP BY template ORDER BY sum(missed_cache_usd) DESC, count(*) DESC", &st))
		goto fail;
	sqlite3_bind_int64(st, 1, since_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tmpl_row r = { 0 };
		cJSON *t = cJSON_CreateObject();

		snprintf(r.id, sizeof(r.id), "%s", text(st, 0));
		snprintf(r.exe, sizeof(r.exe), "%s", text(st, 1));
		snprintf(r.provider, sizeof(r.provider), "%s", text(st, 2));
		snprintf(r.api, sizeof(r.api), "%s", text(st, 3));
		snprintf(r.model, sizeof(r.model), "%s", text(st, 4));
		r.requests = sqlite3_column_int64(st, 5);
		r.input = sqlite3_column_int64(st, 6);
		r.cached = sqlite3_column_int64(st, 7);
		r.cacheable = sqlite3_column_int64(st, 8);
		r.missed = sqlite3_column_int64(st, 9);
		r.missed_usd = sqlite3_column_double(st, 10);
		r.first_ns = sqlite3_column_int64(st, 11);
		r.last_ns = sqlite3_column_int64(st, 12);
		r.per_day = per_day(r.requests, r.first_ns, r.last_ns);
		cJSON_AddStringToObject(t, "template", r.id);
		cJSON_AddStringToObject(t, "exe", r.exe);
		cJSON_AddStringToObject(t, "provider", r.provider);
		cJSON_AddStringToObject(t, "api", r.api);
		cJSON_AddStringToObject(t, "model", r.model);
		/* how its token offsets were counted (README: added to v1) */
		cJSON_AddStringToObject(t, "token_offsets", cache_tokens_method(r.provider, r.model));
		add_totals(t, r.requests, r.input, r.cached, r.cacheable, r.missed, r.missed_usd);
		cJSON_AddItemToArray(templates, t);
		if (template_detail(db, since_ns, &r, t, prices)) {
			sqlite3_finalize(st);
			goto fail;
		}
		n += r.requests;
		in += r.input;
		ca += r.cached;
		cb += r.cacheable;
		mi += r.missed;
		usd += r.missed_usd;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	add_totals(totals, n, in, ca, cb, mi, usd);
	if (prep(db, "SELECT template, count(*), sum(cost_usd), min(ts_start_ns), max(ts_start_ns)"
		     " FROM exchanges WHERE cache_duplicate = 1 AND ts_start_ns >= ?1"
		     " GROUP BY template ORDER BY 3 DESC", &st))
		goto fail;
	sqlite3_bind_int64(st, 1, since_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *d = cJSON_CreateObject();

		cJSON_AddStringToObject(d, "template", text(st, 0));
		cJSON_AddNumberToObject(d, "requests", (double)sqlite3_column_int64(st, 1));
		cJSON_AddNumberToObject(d, "usd", rnd(sqlite3_column_double(st, 2), 1e6));
		cJSON_AddItemToArray(dups, d);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	price_table_free(prices);
	return root;
fail:
	price_table_free(prices);
	cJSON_Delete(root);
	return NULL;
}

static double num(const cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	return s ? s : "";
}

static void print_counts(FILE *out, const cJSON *o)
{
	double in = num(o, "input_tokens"), ca = num(o, "cached_input_tokens");
	char a[32], b[32], c[32], d[32];

	fprintf(out, "  %s requests, %s input tokens, %s cached (hit rate %.0f%%), %s cacheable\n",
		thousands((int64_t)num(o, "requests"), a, sizeof(a)),
		thousands((int64_t)in, b, sizeof(b)), thousands((int64_t)ca, c, sizeof(c)),
		in > 0 ? 100.0 * ca / in : 0.0,
		thousands((int64_t)num(o, "cacheable_tokens"), d, sizeof(d)));
	fprintf(out, "  missed: %s tokens, $%.4f\n",
		thousands((int64_t)num(o, "missed_cache_tokens"), a, sizeof(a)),
		num(o, "missed_cache_usd"));
}

static void print_text(FILE *out, const cJSON *root, const char *since_label)
{
	const cJSON *t, *x;

	fprintf(out, "Prompt cache%s%s\n", since_label ? " in the last " : " (all time)",
		since_label ? since_label : "");
	print_counts(out, cJSON_GetObjectItem(root, "totals"));
	if (!num(cJSON_GetObjectItem(root, "totals"), "requests")) {
		fprintf(out, "  no analysed exchanges%s\n", since_label ? " in this window" : "");
		return;
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "templates")) {
		fprintf(out, "\nTemplate %s: ", str(t, "template"));
		put_safe(out, str(t, "exe"));
		fputs(" -> ", out);
		put_safe(out, str(t, "provider"));
		fputc(' ', out);
		put_safe(out, str(t, "api"));
		fputc(' ', out);
		put_safe(out, str(t, "model"));
		fputc('\n', out);
		print_counts(out, t);
		if (cJSON_GetObjectItem(cJSON_GetObjectItem(t, "misses"), "rule_unknown"))
			fputs("  caching rules unknown for this provider: nothing predicted, "
			      "only what it reported cached\n", out);
		if (cJSON_GetArraySize(cJSON_GetObjectItem(t, "misses"))) {
			fputs("  misses:", out);
			cJSON_ArrayForEach(x, cJSON_GetObjectItem(t, "misses"))
				fprintf(out, " %s %d", x->string, (int)x->valuedouble);
			fputc('\n', out);
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(t, "breakers")) {
			char a[32];

			fprintf(out, "  breaker: %s (%s) at %s+%d (token %d): %d calls, %s tokens, $%.4f\n",
				str(x, "kind"), str(x, "shape")[0] ? str(x, "shape") : "-",
				str(x, "segment"), (int)num(x, "byte_offset"), (int)num(x, "token_offset"),
				(int)num(x, "requests"),
				thousands((int64_t)num(x, "missed_tokens"), a, sizeof(a)),
				num(x, "missed_usd"));
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(t, "recommendations"))
			fprintf(out, "  -> %s\n", str(x, "text"));
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItem(root, "duplicates"))) {
		fputs("\nRepeated deterministic calls (a response cache would serve them):\n", out);
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(root, "duplicates"))
			fprintf(out, "  template %s: %d calls, $%.4f\n", str(x, "template"),
				(int)num(x, "requests"), num(x, "usd"));
	}
}

/* Whether db has the v5 columns (a reader cannot migrate an older file). */
static bool has_cache_columns(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool ok = sqlite3_prepare_v2(db, "SELECT cacheable_tokens, breakers FROM exchanges LIMIT 0",
				     -1, &st, NULL) == SQLITE_OK;

	sqlite3_finalize(st);
	return ok;
}

int cli_cache(struct sqlite3 *db, int64_t since_ns, const char *since_label, bool json)
{
	cJSON *root;
	char *s;

	if (!has_cache_columns(db)) {
		if (json)
			printf("{\"schema\":\"llmobs.cache.v1\",\"totals\":{\"requests\":0,"
			       "\"input_tokens\":0,\"cached_input_tokens\":0,\"cacheable_tokens\":0,"
			       "\"missed_cache_tokens\":0,\"missed_cache_usd\":0},\"templates\":[],"
			       "\"duplicates\":[]}\n");
		else
			printf("Prompt cache: this database predates prompt-cache analytics "
			       "(schema v5); run the daemon once to upgrade it\n");
		return 0;
	}
	root = build(db, since_ns);
	if (!root)
		return -EIO;
	if (json) {
		s = cJSON_PrintUnformatted(root);
		if (s)
			printf("%s\n", s);
		cJSON_free(s);
	} else {
		print_text(stdout, root, since_label);
	}
	cJSON_Delete(root);
	return 0;
}

struct cJSON *cli_cache_document(struct sqlite3 *db, int64_t since_ns)
{
	return has_cache_columns(db) ? build(db, since_ns) : NULL;
}

int cli_cache_summary(struct sqlite3 *db, int64_t since_ns)
{
	cJSON *root, *t, *x;
	int shown = 0;

	if (!has_cache_columns(db))
		return 0;
	root = build(db, since_ns);
	if (!root)
		return -EIO;
	if (num(cJSON_GetObjectItem(root, "totals"), "requests") > 0) {
		printf("\nPrompt cache (details: llmobs cache)\n");
		print_counts(stdout, cJSON_GetObjectItem(root, "totals"));
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "templates"))
			cJSON_ArrayForEach(x, cJSON_GetObjectItem(t, "recommendations"))
				if (shown++ < 3)
					printf("  -> %s\n", str(x, "text"));
	}
	cJSON_Delete(root);
	return 0;
}
