/* Prices and cost. The price table is one JSON file, data/prices.json,
 * embedded at build time and overridable with --prices FILE. */
#ifndef LLMOBS_COST_H
#define LLMOBS_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "record.h"

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
 * data/prices.json's "_doc" (cached input -> input, reasoning -> output,
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
};

struct price_table;

/* Return 0 or -errno (-EINVAL with a logged reason for a malformed table). */
int price_table_load_default(struct price_table **out);
int price_table_load_file(const char *path, struct price_table **out);
int price_table_load_json(const char *json, size_t len, struct price_table **out);
void price_table_free(struct price_table *t);

/* Exact name, then alias, then a dated snapshot of a known family
 * ("gpt-4o-2024-08-06", "claude-sonnet-4-5-20250929"). NULL if unknown. */
const struct price *price_lookup(const struct price_table *t, const char *model);

/* price_lookup() for a call served by vendor (provider_vendor(): NULL if
 * unknown), trying in turn "<vendor>/<model>", the model, and both again
 * with the model's last path segment ("openai/gpt-4o" from OpenRouter,
 * "accounts/fireworks/models/x"). A vendor-only entry ("groq/...") is
 * never used for another host: one open model has a price per vendor. */
const struct price *price_lookup_vendor(const struct price_table *t,
					const char *model, const char *vendor);

/* Cost of usage at price p (usage in the OTel convention of record.h), at
 * the long-context tier when the prompt is above it (and, for an opt-in
 * tier, as if the call had opted in: cost_price_record() knows better). */
double cost_usd(const struct price *p, const struct llm_usage *u);
/* The same usage submitted through a batch API. */
double cost_usd_batch(const struct price *p, const struct llm_usage *u);

/* Prices record r in place (r->priced, r->cost_usd) by its response's
 * model, else its request's, for the vendor of r->host; an opt-in tier
 * applies only when r->long_context_opt_in. Calls that are
 * never billed (count_tokens) cost 0 and count as priced. Returns the
 * price used, NULL when none was. */
const struct price *cost_price_record(const struct price_table *t,
				      struct exchange_record *r);

/* `llmobs prices`: the table in force, one model per line. */
void price_table_print(const struct price_table *t, FILE *out);

#endif
