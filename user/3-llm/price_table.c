/* The price table's storage: entries, aliases and providers in, lookups by
 * index and by time out. The building blocks both readers use
 * (prices_ours.c, prices_genai.c), kept below them and below cost.c so the
 * modules call one way. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "price_table.h"

void price_free_entry(struct price *p)
{
	size_t i;

	price_match_free(p->match);
	for (i = 0; i < p->n_periods; i++)
		price_free_entry(&p->periods[i]);
	free(p->periods);
}

void price_table_free(struct price_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_aliases; i++)
		free(t->aliases[i].name);
	for (i = 0; i < t->n; i++)
		price_free_entry(&t->prices[i]);
	for (i = 0; i < t->n_providers; i++) {
		price_match_free(t->providers[i].api);
		price_match_free(t->providers[i].model_match);
	}
	free(t->providers);
	free(t->aliases);
	free(t->prices);
	free(t);
}

const char *price_table_origin(const struct price_table *t)
{
	return t && t->origin[0] ? t->origin : "?";
}

/* Names and aliases share one namespace: one name, one price. */
bool price_table_name_taken(const struct price_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcasecmp(t->prices[i].model, name) == 0)
			return true;
	for (i = 0; i < t->n_aliases; i++)
		if (strcasecmp(t->aliases[i].name, name) == 0)
			return true;
	return false;
}

/* A new zeroed entry named name (unique: the caller checked), or NULL. */
struct price *price_table_add(struct price_table *t, const char *name)
{
	struct price *p;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;

		if (cap > PRICES_MAX_ENTRIES) {
			p_err("prices: more than %d models", PRICES_MAX_ENTRIES);
			return NULL;
		}
		p = realloc(t->prices, cap * sizeof(*p));
		if (!p)
			return NULL;
		t->prices = p;
		t->cap = cap;
	}
	p = &t->prices[t->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->model, sizeof(p->model), "%s", name);
	p->batch_factor = 1;
	p->tod_start_s = p->tod_end_s = -1;
	return p;
}

int price_table_add_alias(struct price_table *t, const char *name, size_t idx)
{
	struct price_alias *grown;

	grown = realloc(t->aliases, (t->n_aliases + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	t->aliases = grown;
	grown[t->n_aliases].name = strdup(name);
	if (!grown[t->n_aliases].name)
		return -ENOMEM;
	grown[t->n_aliases++].idx = idx;
	return 0;
}

/* Reads one price field: absent -> fallback, else a number in [0, max). */
int price_read_usd(const cJSON *m, const char *model, const char *key,
		   bool required, double fallback, double *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(m, key);

	if (!it) {
		if (required) {
			p_err("prices: %s: missing \"%s\"", model, key);
			return -EINVAL;
		}
		*out = fallback;
		return 0;
	}
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0) {
		p_err("prices: %s: \"%s\" must be a non-negative number (USD per token)",
		      model, key);
		return -EINVAL;
	}
	if (it->valuedouble >= PRICE_MAX_USD) {
		p_err("prices: %s: \"%s\" is %g, which looks like USD per million tokens; "
		      "the table is USD per token", model, key, it->valuedouble);
		return -EINVAL;
	}
	*out = it->valuedouble;
	return 0;
}

size_t price_table_size(const struct price_table *t)
{
	return t ? t->n : 0;
}

const struct price *price_table_entry(const struct price_table *t, size_t i)
{
	return t && i < t->n ? &t->prices[i] : NULL;
}

const struct price *price_at(const struct price *p, int64_t ts_s)
{
	int64_t sod = ((ts_s % 86400) + 86400) % 86400;
	size_t i;

	for (i = p ? p->n_periods : 0; i-- > 0;) {
		const struct price *q = &p->periods[i];

		if (q->tod_start_s >= 0) {
			if (q->tod_end_s < q->tod_start_s ?
			    (sod >= q->tod_start_s || sod < q->tod_end_s) :
			    (sod >= q->tod_start_s && sod < q->tod_end_s))
				return q;
		} else if (ts_s >= q->from_s) {
			return q;
		}
	}
	return p && p->n_periods ? &p->periods[0] : p;
}
