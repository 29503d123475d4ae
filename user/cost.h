/* Prices and cost. The price table is one JSON file, data/prices.json,
 * embedded at build time and overridable with --prices FILE. */
#ifndef LLMOBS_COST_H
#define LLMOBS_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "record.h"

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

/* Cost of usage at price p (usage in the OTel convention of record.h). */
double cost_usd(const struct price *p, const struct llm_usage *u);

/* `llmobs prices`: the table in force, one model per line. */
void price_table_print(const struct price_table *t, FILE *out);

#endif
