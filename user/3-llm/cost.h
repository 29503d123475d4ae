/* Prices and cost. The embedded price table is the data of the npm package
 * @pydantic/genai-prices (pinned, dumped at build time) with our corrections
 * and additions, data/prices-overrides.json, applied on top; --prices FILE
 * (or the file `llmobs prices --update` installs) replaces the base. */
#ifndef LLMOBS_COST_H
#define LLMOBS_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "record.h"

struct price_match;

/* Rates of a long-context tier: USD per token, fallbacks as the base's. */
struct price_tier {
	double input_usd;
	double cached_input_usd;
	double cache_write_5m_usd;
	double cache_write_1h_usd;
	double output_usd;
	double reasoning_usd;
};

/* USD per token. A price the table leaves out falls back as documented in
 * data/prices-overrides.json's "_doc" (cached input -> input, reasoning -> output,
 * cache writes -> input). */
struct price {
	char model[96];		/* canonical family name */
	char provider[32];
	double input_usd;
	double cached_input_usd;
	double cache_write_5m_usd;
	double cache_write_1h_usd;
	double output_usd;
	double reasoning_usd;
	/* A prompt of more than long_context_above input tokens (cache
	 * included) is billed wholly at long_context's rates (Gemini 2.5 Pro
	 * and Claude Sonnet 4 above 200k); 0: one tier. */
	int64_t long_context_above;
	bool long_context_opt_in;	/* tier only for calls that opted in */
	struct price_tier long_context;
	double batch_factor;	/* batch price / standard price; 1: no batch */
	double request_usd;	/* a fee per call, whatever its tokens (Perplexity) */
	/* How a call's model name finds this entry: NULL, by the name, its
	 * aliases and its dated snapshots; else by the source's rule, tried
	 * in the source's order within the call's provider. */
	struct price_match *match;
	/* Price history (the source's): periods[] in its order, tried last
	 * first at a call's time, each in force from a UTC date on (from_s),
	 * or daily between two UTC times (tod_start_s..tod_end_s, wrapping past
	 * midnight; -1: not daily), the first one else. The entry's own rates
	 * above are those in force when the table was loaded, for callers that
	 * price without a time; price_at() picks by time. */
	int64_t from_s;
	int32_t tod_start_s, tod_end_s;
	struct price *periods;
	size_t n_periods;	/* 0: one price, the entry's */
};

struct price_table;

/* Return 0 or -errno (-EINVAL with a logged reason for a malformed table). */
int price_table_load_default(struct price_table **out);
int price_table_load_file(const char *path, struct price_table **out);
/* The same, and on success hands over the bytes it validated (*bytes,
 * free()), so that what is installed is what was checked, not the file
 * read again. */
int price_table_load_file_bytes(const char *path, struct price_table **out, char **bytes,
				size_t *nbytes);
int price_table_load_json(const char *json, size_t len, struct price_table **out);
void price_table_free(struct price_table *t);

/* The table `llmobs prices --update` installs: "prices.json" beside the
 * database at db_path, which llmobsd and llmobs read at start. */
#define PRICES_INSTALLED_NAME "prices.json"
void price_table_installed_path(const char *db_path, char *buf, size_t size);
/* The table in force: file if given (--prices), else the installed one if
 * present (falling back to the embedded one, logged, if it no longer
 * loads), else the embedded one. 0 or -errno as the loaders. */
int price_table_load_in_force(const char *file, const char *db_path,
			      struct price_table **out);

/* Applies data/prices-overrides.json's format to t (our own corrections):
 * 0 or -EINVAL (logged). */
int price_table_apply_overrides(struct price_table *t, const char *json, size_t len);
/* The embedded overrides, for tests and for `llmobs prices --update`. */
const char *price_table_embedded_overrides(void);
/* Where the base table came from ("@pydantic/genai-prices 0.1.8", a file). */
const char *price_table_origin(const struct price_table *t);

/* A model name without a provider: an exact name or alias (names compare
 * case-insensitively, as the source's do), then the rules of the provider
 * whose model_match takes the name, then a dated snapshot of an exact name
 * ("gpt-4o-2024-08-06", "-20250929", Vertex "@20250929", "-latest"). */
const struct price *price_lookup(const struct price_table *t, const char *model);

/* A model served by provider (the source's id: "openai", "groq", "x-ai",
 * "azure"...; NULL if unknown): an exact name of that provider
 * ("<provider>/<model>" or its own entry), then the source's rules of that
 * provider in order (and of its fallback providers; again with -YYYYMMDD
 * written -YYYY-MM-DD, as the source does), then price_lookup(); for a
 * known provider, all this again with the model's last path segment
 * ("accounts/fireworks/models/x"). An entry of one vendor ("groq/...") is
 * never used for another host: one open model has a price per vendor. */
const struct price *price_lookup_vendor(const struct price_table *t,
					const char *model, const char *vendor);
/* The source's provider of a call: the first whose api_pattern takes
 * "https://<host><path>", else the vendor of a known host, else by the API
 * (openai, anthropic, google, azure_openai -> azure). NULL: unknown. */
const char *price_provider_of(const struct price_table *t, const char *host,
			      const char *path, const char *api_provider);
/* The rates of p in force at UTC time ts_s (its history); p if no other. */
const struct price *price_at(const struct price *p, int64_t ts_s);

/* Cost of usage at price p (usage in the OTel convention of record.h), at
 * the long-context tier when the prompt is above it (and, for an opt-in
 * tier, as if the call had opted in: cost_price_record() knows better). */
double cost_usd(const struct price *p, const struct llm_usage *u);
/* The same usage submitted through a batch API. */
double cost_usd_batch(const struct price *p, const struct llm_usage *u);

/* Prices record r in place (r->priced, r->cost_usd) by its response's
 * model, else its request's, for the provider of the call
 * (price_provider_of()), at the price in force at r->ts_start_ns (0: now);
 * an opt-in tier
 * applies only when r->long_context_opt_in. Calls that are
 * never billed (count_tokens) cost 0 and count as priced. Returns the
 * price used, NULL when none was. */
const struct price *cost_price_record(const struct price_table *t,
				      struct exchange_record *r);

/* The entries in order, for listing and comparing tables. */
size_t price_table_size(const struct price_table *t);
const struct price *price_table_entry(const struct price_table *t, size_t i);

/* `llmobs prices`: the table in force, one model per line. */
void price_table_print(const struct price_table *t, FILE *out);

#endif
