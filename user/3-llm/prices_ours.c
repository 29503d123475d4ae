/* A price table of our own format ({"models": {name: entry}}, documented in
 * data/prices-overrides.json's "_doc") -> entries of struct price_table:
 * hand-written tables (--prices FILE) and the additions of the overrides.
 * Each entry is a new exact name, never a pattern. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "price_table.h"

/* "long_context": {"above": N, "input": ..., "output": ..., ...}: the rates
 * of prompts above N input tokens; input and output required. */
static int read_tier(const cJSON *m, const char *name, struct price *p)
{
	const cJSON *lc = cJSON_GetObjectItemCaseSensitive(m, "long_context"), *above, *it;
	struct price_tier *t = &p->long_context;
	int err;

	if (!lc)
		return 0;
	above = cJSON_GetObjectItemCaseSensitive(lc, "above");
	if (!cJSON_IsObject(lc) || !cJSON_IsNumber(above) || !isfinite(above->valuedouble) ||
	    above->valuedouble < 1 || above->valuedouble > 1e9 ||
	    above->valuedouble != (double)(int64_t)above->valuedouble) {
		p_err("prices: %s: \"long_context\" must be an object with \"above\": "
		      "a whole number of input tokens", name);
		return -EINVAL;
	}
	p->long_context_above = (int64_t)above->valuedouble;
	it = cJSON_GetObjectItemCaseSensitive(lc, "opt_in");
	if (it && !cJSON_IsBool(it)) {
		p_err("prices: %s: \"long_context\".\"opt_in\" must be true or false", name);
		return -EINVAL;
	}
	p->long_context_opt_in = cJSON_IsTrue(it);
	if ((err = price_read_usd(lc, name, "input", true, 0, &t->input_usd)) ||
	    (err = price_read_usd(lc, name, "output", true, 0, &t->output_usd)) ||
	    (err = price_read_usd(lc, name, "cached_input", false, t->input_usd,
				  &t->cached_input_usd)) ||
	    (err = price_read_usd(lc, name, "cache_write_5m", false, t->input_usd,
				  &t->cache_write_5m_usd)) ||
	    (err = price_read_usd(lc, name, "cache_write_1h", false,
				  t->cache_write_5m_usd, &t->cache_write_1h_usd)) ||
	    (err = price_read_usd(lc, name, "reasoning", false, t->output_usd,
				  &t->reasoning_usd)))
		return err;
	return 0;
}

/* "batch": the batch price as a fraction of the standard one (0.5). */
static int read_batch(const cJSON *m, const char *name, double *out)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "batch");

	if (!b)
		return 0;
	if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || b->valuedouble <= 0 ||
	    b->valuedouble > 1) {
		p_err("prices: %s: \"batch\" must be a fraction in (0, 1] of the "
		      "standard price", name);
		return -EINVAL;
	}
	*out = b->valuedouble;
	return 0;
}

/* "request": a fee per call, USD. */
static int read_request(const cJSON *m, const char *name, double *out)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "request");

	if (!r)
		return 0;
	if (!cJSON_IsNumber(r) || !isfinite(r->valuedouble) || r->valuedouble < 0 ||
	    r->valuedouble >= PRICE_MAX_REQUEST_USD) {
		p_err("prices: %s: \"request\" must be a fee per call in USD, below %g",
		      name, PRICE_MAX_REQUEST_USD);
		return -EINVAL;
	}
	*out = r->valuedouble;
	return 0;
}

static int read_provider(const cJSON *m, const char *name, struct price *p)
{
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(m, "provider");

	if (!cJSON_IsString(prov) || !prov->valuestring[0] ||
	    strlen(prov->valuestring) >= sizeof(p->provider)) {
		p_err("prices: %s: \"provider\" must be a short non-empty string", name);
		return -EINVAL;
	}
	snprintf(p->provider, sizeof(p->provider), "%s", prov->valuestring);
	return 0;
}

/* A whole entry of our format: provider, input and output required. */
static int read_entry(const cJSON *m, struct price *p)
{
	const char *name = m->string;
	int err;

	if ((err = read_provider(m, name, p)) ||
	    (err = price_read_usd(m, name, "input", true, 0, &p->input_usd)) ||
	    (err = price_read_usd(m, name, "output", true, 0, &p->output_usd)) ||
	    (err = price_read_usd(m, name, "cached_input", false, p->input_usd,
				  &p->cached_input_usd)) ||
	    (err = price_read_usd(m, name, "cache_write_5m", false, p->input_usd,
				  &p->cache_write_5m_usd)) ||
	    (err = price_read_usd(m, name, "cache_write_1h", false,
				  p->cache_write_5m_usd, &p->cache_write_1h_usd)) ||
	    (err = price_read_usd(m, name, "reasoning", false, p->output_usd,
				  &p->reasoning_usd)) ||
	    (err = read_tier(m, name, p)) || (err = read_batch(m, name, &p->batch_factor)) ||
	    (err = read_request(m, name, &p->request_usd)))
		return err;
	return 0;
}

static int read_aliases(struct price_table *t, const cJSON *m, size_t idx)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "aliases"), *a;
	int err;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list)) {
		p_err("prices: %s: \"aliases\" must be an array of names", m->string);
		return -EINVAL;
	}
	cJSON_ArrayForEach(a, list) {
		if (!cJSON_IsString(a) || !a->valuestring[0] ||
		    strlen(a->valuestring) >= sizeof(t->prices[0].model) ||
		    isspace((unsigned char)a->valuestring[0]) ||
		    isspace((unsigned char)a->valuestring[strlen(a->valuestring) - 1])) {
			p_err("prices: %s: aliases must be non-empty short strings, not space-padded",
			      m->string);
			return -EINVAL;
		}
		if (price_table_name_taken(t, a->valuestring)) {
			p_err("prices: %s: alias \"%s\" is already a name or alias",
			      m->string, a->valuestring);
			return -EINVAL;
		}
		if ((err = price_table_add_alias(t, a->valuestring, idx)))
			return err;
	}
	return 0;
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(((struct price *)0)->model)) {
		p_err("prices: model name \"%.40s\" is empty or longer than %zu bytes",
		      name, sizeof(((struct price *)0)->model) - 1);
		return false;
	}
	/* Names are looked up trimmed, as the source trims them. */
	if (isspace((unsigned char)name[0]) || isspace((unsigned char)name[n - 1])) {
		p_err("prices: model name \"%.40s\" begins or ends with a space", name);
		return false;
	}
	return true;
}

/* One entry of our format added to t: a new exact name (never a pattern). */
int price_table_add_entry_json(struct price_table *t, const cJSON *m)
{
	struct price *p;
	int err;

	if (!cJSON_IsObject(m)) {
		p_err("prices: %s: entry must be an object", m->string);
		return -EINVAL;
	}
	if (!valid_name(m->string))
		return -EINVAL;
	/* cJSON keeps duplicate keys; the second would never be found. */
	if (price_table_name_taken(t, m->string)) {
		p_err("prices: \"%s\" is listed twice (as a name or an alias)", m->string);
		return -EINVAL;
	}
	p = price_table_add(t, m->string);
	if (!p)
		return -ENOMEM;
	if ((err = read_entry(m, p)))
		return err;
	return read_aliases(t, m, t->n - 1);
}

int prices_ours_load(const cJSON *root, struct price_table *t)
{
	const cJSON *models, *m;
	int err;

	models = cJSON_GetObjectItemCaseSensitive(root, "models");
	if (!cJSON_IsObject(models)) {
		p_err("prices: missing \"models\" object");
		return -EINVAL;
	}
	if (cJSON_GetArraySize(models) == 0) {
		p_err("prices: \"models\" is empty");
		return -EINVAL;
	}
	cJSON_ArrayForEach(m, models)
		if ((err = price_table_add_entry_json(t, m)))
			return err;
	return 0;
}

