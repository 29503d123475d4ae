/* Our corrections and additions (data/prices-overrides.json, embedded) ->
 * applied on top of the source's table. Three kinds, each with a source, a
 * date and a reason ("why"), which the loader requires:
 *   "rules": [{"provider": id, "match"?: rule on the model id, "batch"?: f,
 *              "long_context_opt_in"?: bool}]: what the source does not
 *     model, for all of a provider's models (batch discounts, Anthropic's
 *     1M-context tier that needs the beta header);
 *   "models": {name: entry} where name is an entry of the table: the fields
 *     given replace the source's (every period of its history);
 *   "models": {name: entry} where name is new: a whole entry of our format,
 *     found by its exact name, which beats every pattern of the source.
 * A rule or patch that names nothing in the table is an error: the source
 * renamed something and the override would silently stop working. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "price_table.h"

static int need_provenance(const cJSON *o, const char *what)
{
	static const char *const keys[] = { "source", "date", "why" };
	size_t i;

	for (i = 0; i < 3; i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);

		if (!cJSON_IsString(it) || !it->valuestring[0]) {
			p_err("prices overrides: %s: needs \"%s\"", what, keys[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* The source's id of an entry: its name without "<provider>/". */
static const char *entry_id(const struct price *p)
{
	size_t n = strlen(p->provider);

	if (!strncmp(p->model, p->provider, n) && p->model[n] == '/')
		return p->model + n + 1;
	return p->model;
}

static int apply_rule(struct price_table *t, const cJSON *r)
{
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(r, "provider");
	const cJSON *opt = cJSON_GetObjectItemCaseSensitive(r, "long_context_opt_in");
	struct price_match *match = NULL;
	double batch = 0;
	size_t i, j, hits = 0;
	int err;

	if (!cJSON_IsObject(r) || !cJSON_IsString(prov)) {
		p_err("prices overrides: a rule needs \"provider\"");
		return -EINVAL;
	}
	if ((err = need_provenance(r, prov->valuestring)))
		return err;
	if (opt && !cJSON_IsBool(opt)) {
		p_err("prices overrides: %s: \"long_context_opt_in\" must be true or false",
		      prov->valuestring);
		return -EINVAL;
	}
	if (cJSON_GetObjectItemCaseSensitive(r, "batch")) {
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "batch");

		if (!cJSON_IsNumber(b) || !(b->valuedouble > 0 && b->valuedouble <= 1)) {
			p_err("prices overrides: %s: \"batch\" must be in (0, 1]",
			      prov->valuestring);
			return -EINVAL;
		}
		batch = b->valuedouble;
	}
	if (cJSON_GetObjectItemCaseSensitive(r, "match") &&
	    (err = price_match_parse(cJSON_GetObjectItemCaseSensitive(r, "match"),
				     prov->valuestring, &match)))
		return err;
	for (i = 0; i < t->n; i++) {
		struct price *p = &t->prices[i];

		if (strcmp(p->provider, prov->valuestring) ||
		    (match && !price_match_test(match, entry_id(p))))
			continue;
		hits++;
		for (j = 0; j <= p->n_periods; j++) {
			struct price *q = j ? &p->periods[j - 1] : p;

			if (batch)
				q->batch_factor = batch;
			if (opt)
				q->long_context_opt_in = cJSON_IsTrue(opt);
		}
	}
	price_match_free(match);
	if (!hits) {
		p_err("prices overrides: the rule for %s applies to no model of the table",
		      prov->valuestring);
		return -EINVAL;
	}
	return 0;
}

static struct price *find_name(struct price_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcasecmp(t->prices[i].model, name) == 0)
			return &t->prices[i];
	return NULL;
}

/* The fields of o replace p's; an absent field keeps the source's. */
static int patch_one(const cJSON *o, const char *name, struct price *p)
{
	static const struct { const char *key; size_t off; } f[] = {
		{ "input", offsetof(struct price, input_usd) },
		{ "cached_input", offsetof(struct price, cached_input_usd) },
		{ "cache_write_5m", offsetof(struct price, cache_write_5m_usd) },
		{ "cache_write_1h", offsetof(struct price, cache_write_1h_usd) },
		{ "output", offsetof(struct price, output_usd) },
		{ "reasoning", offsetof(struct price, reasoning_usd) },
	};
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "batch");
	size_t i;
	int err;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		double *v = (double *)((char *)p + f[i].off);

		if ((err = price_read_usd(o, name, f[i].key, false, *v, v)))
			return err;
	}
	if (b) {
		if (!cJSON_IsNumber(b) || !(b->valuedouble > 0 && b->valuedouble <= 1)) {
			p_err("prices overrides: %s: \"batch\" must be in (0, 1]", name);
			return -EINVAL;
		}
		p->batch_factor = b->valuedouble;
	}
	if (cJSON_GetObjectItemCaseSensitive(o, "long_context") ||
	    cJSON_GetObjectItemCaseSensitive(o, "aliases") ||
	    cJSON_GetObjectItemCaseSensitive(o, "provider")) {
		p_err("prices overrides: %s: a correction of the source's entry may set "
		      "prices and batch only (add a new exact name instead)", name);
		return -EINVAL;
	}
	return 0;
}

static int apply_model(struct price_table *t, const cJSON *o)
{
	struct price *p = find_name(t, o->string);
	size_t j;
	int err;

	if (!cJSON_IsObject(o)) {
		p_err("prices overrides: %s: entry must be an object", o->string);
		return -EINVAL;
	}
	if ((err = need_provenance(o, o->string)))
		return err;
	if (!p)		/* a new exact name: our own format's entry */
		return price_table_add_entry_json(t, o);
	for (j = 0; j <= p->n_periods; j++)
		if ((err = patch_one(o, o->string, j ? &p->periods[j - 1] : p)))
			return err;
	return 0;
}

int prices_apply_overrides(struct price_table *t, const char *json, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *rules, *models, *it;
	int err = 0;

	if (!cJSON_IsObject(root)) {
		p_err("prices overrides: not a JSON object");
		cJSON_Delete(root);
		return -EINVAL;
	}
	rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
	models = cJSON_GetObjectItemCaseSensitive(root, "models");
	if ((rules && !cJSON_IsArray(rules)) || (models && !cJSON_IsObject(models))) {
		p_err("prices overrides: \"rules\" is a list, \"models\" an object");
		err = -EINVAL;
	}
	cJSON_ArrayForEach(it, rules)
		if (!err)
			err = apply_rule(t, it);
	cJSON_ArrayForEach(it, models)
		if (!err)
			err = apply_model(t, it);
	cJSON_Delete(root);
	return err;
}
