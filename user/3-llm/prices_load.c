/* Price table JSON -> struct price_table. Two formats come in: the data of
 * @pydantic/genai-prices (a JSON array of providers, prices_genai.c) and our
 * own ({"models": {name: entry}}, documented in data/prices-overrides.json's
 * "_doc"), used for the overrides and for hand-written tables. The embedded
 * table is the source's data with the overrides applied. A table is
 * validated as a whole at load: a daemon that prices with a half-read table
 * would report wrong money silently. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "log.h"
#include "price_table.h"

extern const char llmobs_prices_json[];		/* the source's data, dumped */
extern const char llmobs_prices_overrides_json[];	/* data/prices-overrides.json */
extern const char llmobs_prices_origin[];	/* "@pydantic/genai-prices 0.1.8" */

#define PRICES_MAX_FILE_BYTES	(16u << 20)

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

const char *price_table_embedded_overrides(void)
{
	return llmobs_prices_overrides_json;
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

static int build_ours(const cJSON *root, struct price_table *t)
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

static int load_json(const char *json, size_t len, bool with_overrides,
		     const char *origin, struct price_table **out)
{
	struct price_table *t;
	bool genai;
	cJSON *root;
	int err;

	*out = NULL;
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		p_err("prices: not valid JSON (near byte %td)",
		      cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)-1);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	genai = cJSON_IsArray(root);
	if (genai) {
		/* The source's data: our corrections belong on top of it. */
		err = prices_genai_load(root, t);
		if (!err && with_overrides)
			err = prices_apply_overrides(t, llmobs_prices_overrides_json,
						     strlen(llmobs_prices_overrides_json));
	} else if (cJSON_IsObject(root)) {
		err = build_ours(root, t);
	} else {
		p_err("prices: the table must be a JSON object (ours) or array (genai-prices data)");
		err = -EINVAL;
	}
	cJSON_Delete(root);
	if (err) {
		price_table_free(t);
		return err;
	}
	snprintf(t->origin, sizeof(t->origin), "%s%s", origin,
		 with_overrides && genai && !strstr(origin, "overrides") ? " + overrides" : "");
	*out = t;
	return 0;
}

int price_table_load_json(const char *json, size_t len, struct price_table **out)
{
	return load_json(json, len, false, "(given)", out);
}

int price_table_load_default(struct price_table **out)
{
	char origin[128];

	snprintf(origin, sizeof(origin), "%s + overrides (embedded)", llmobs_prices_origin);
	return load_json(llmobs_prices_json, strlen(llmobs_prices_json), true, origin, out);
}

int price_table_apply_overrides(struct price_table *t, const char *json, size_t len)
{
	return prices_apply_overrides(t, json, len);
}

int price_table_load_file(const char *path, struct price_table **out)
{
	size_t len = 0, n;
	char *buf;
	FILE *f;
	int err;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		err = -errno;
		p_err("prices: cannot open %s: %s", path, strerror(errno));
		return err;
	}
	buf = malloc(PRICES_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	while ((n = fread(buf + len, 1, PRICES_MAX_FILE_BYTES + 1 - len, f)) > 0)
		len += n;
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && len > PRICES_MAX_FILE_BYTES) {
		p_err("prices: %s is larger than %u bytes", path, PRICES_MAX_FILE_BYTES);
		err = -EFBIG;
	}
	/* A genai-prices data file gets our overrides, as the embedded one
	 * does; a table of our own format is taken as it is. */
	if (!err)
		err = load_json(buf, len, true, path, out);
	else if (err == -EIO)
		p_err("prices: cannot read %s", path);
	free(buf);
	return err;
}

void price_table_installed_path(const char *db_path, char *buf, size_t size)
{
	const char *slash = db_path ? strrchr(db_path, '/') : NULL;

	if (slash)
		snprintf(buf, size, "%.*s/" PRICES_INSTALLED_NAME, (int)(slash - db_path), db_path);
	else
		snprintf(buf, size, PRICES_INSTALLED_NAME);
}

int price_table_load_in_force(const char *file, const char *db_path, struct price_table **out)
{
	char installed[4096];
	int err;

	if (file)
		return price_table_load_file(file, out);
	price_table_installed_path(db_path, installed, sizeof(installed));
	if (db_path && access(installed, F_OK) == 0) {
		err = price_table_load_file(installed, out);
		if (!err)
			return 0;
		/* `llmobs prices --update` validated it; a table broken since
		 * must not stop the daemon from recording. */
		p_err("prices: the installed table %s cannot be used (%s): using the embedded one",
		      installed, strerror(-err));
	}
	return price_table_load_default(out);
}
