/* The price table's insides, shared by the files that build it and the one
 * that reads it. They call one way: price_table.c (storage) <- prices_ours.c
 * (our format), prices_genai.c (@pydantic/genai-prices' data) <-
 * prices_overrides.c <- prices_load.c (the loaders of cost.h); cost.c
 * (lookup and cost) uses price_table.c only. Nothing outside user/3-llm
 * includes this: the rest of the tree sees cost.h. */
#ifndef LLMOBS_PRICE_TABLE_H
#define LLMOBS_PRICE_TABLE_H

#include <cjson/cJSON.h>
#include "cost.h"
#include "price_match.h"

#define PRICE_MAX_USD		0.01	/* per token: more is a per-million slip */
#define PRICE_MAX_REQUEST_USD	10.0	/* per call */
#define PRICES_MAX_ENTRIES	20000
#define PRICES_MAX_PROVIDERS	256
#define PRICES_MAX_FALLBACKS	8

struct price_alias {
	char *name;
	size_t idx;		/* into prices[] */
};

/* A provider of the source: which calls are its own (api_pattern on the
 * URL), which model names point to it when nothing else does (model_match),
 * and where to look when none of its models match (fallback). */
struct price_provider {
	char id[32];
	struct price_match *api;		/* ^(?:api_pattern) */
	struct price_match *model_match;	/* NULL: none */
	char fallback[PRICES_MAX_FALLBACKS][32];
	size_t n_fallback;
	size_t first, n;	/* its models: prices[first .. first + n), in order */
};

struct price_table {
	struct price *prices;	/* in the source's order: first match wins */
	size_t n, cap;
	struct price_alias *aliases;
	size_t n_aliases;
	struct price_provider *providers;
	size_t n_providers;
	char origin[128];	/* where the base came from, for `llmobs prices` */
};

/* price_table.c */
struct price *price_table_add(struct price_table *t, const char *name);
bool price_table_name_taken(const struct price_table *t, const char *name);
int price_table_add_alias(struct price_table *t, const char *name, size_t idx);
void price_free_entry(struct price *p);

/* prices_ours.c: one entry of our format (m->string is its name), a new
 * exact name; a whole table {"models": {...}}. */
int price_table_add_entry_json(struct price_table *t, const cJSON *m);
int prices_ours_load(const cJSON *root, struct price_table *t);
int price_read_usd(const cJSON *m, const char *what, const char *key, bool required,
		   double fallback, double *out);

/* prices_overrides.c: applies data/prices-overrides.json (or any file of its format) to t. */
int prices_apply_overrides(struct price_table *t, const char *json, size_t len);

/* prices_genai.c: root is the source's Provider[] (its data.json). */
int prices_genai_load(const cJSON *root, struct price_table *t);

#endif
