/* The price table (data/prices.json, embedded) and the cost of one usage.
 * The table is validated as a whole at load: a daemon that prices with a
 * half-read table would report wrong money silently. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cost.h"
#include "log.h"
#include "provider.h"

extern const char llmobs_prices_json[];

#define PRICES_MAX_FILE_BYTES	(4u << 20)
/* No list price is near a cent per token; a bigger number is a price
 * written per million tokens. */
#define PRICE_MAX_USD		0.01

struct alias {
	char *name;
	size_t idx;		/* into prices[] */
};

struct price_table {
	struct price *prices;
	size_t n;
	struct alias *aliases;
	size_t n_aliases;
};

void price_table_free(struct price_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_aliases; i++)
		free(t->aliases[i].name);
	free(t->aliases);
	free(t->prices);
	free(t);
}

/* Reads one price field: absent -> fallback, else a number in [0, max). */
static int read_price(const cJSON *m, const char *model, const char *key,
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
static int read_tier(const cJSON *m, struct price *p)
{
	const cJSON *lc = cJSON_GetObjectItemCaseSensitive(m, "long_context"), *above, *it;
	struct price_tier *t = &p->long_context;
	const char *name = m->string;
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
	if ((err = read_price(lc, name, "input", true, 0, &t->input_usd)) ||
	    (err = read_price(lc, name, "output", true, 0, &t->output_usd)) ||
	    (err = read_price(lc, name, "cached_input", false, t->input_usd,
			      &t->cached_input_usd)) ||
	    (err = read_price(lc, name, "cache_write_5m", false, t->input_usd,
			      &t->cache_write_5m_usd)) ||
	    (err = read_price(lc, name, "cache_write_1h", false,
			      t->cache_write_5m_usd, &t->cache_write_1h_usd)) ||
	    (err = read_price(lc, name, "reasoning", false, t->output_usd,
			      &t->reasoning_usd)))
		return err;
	return 0;
}

/* "batch": the batch price as a fraction of the standard one (0.5). */
static int read_batch(const cJSON *m, struct price *p)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "batch");

	p->batch_factor = 1;
	if (!b)
		return 0;
	if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || b->valuedouble <= 0 ||
	    b->valuedouble > 1) {
		p_err("prices: %s: \"batch\" must be a fraction in (0, 1] of the "
		      "standard price", m->string);
		return -EINVAL;
	}
	p->batch_factor = b->valuedouble;
	return 0;
}

static int read_entry(const cJSON *m, struct price *p)
{
	const char *name = m->string;
	const cJSON *prov;
	int err;

	if (!cJSON_IsObject(m)) {
		p_err("prices: %s: entry must be an object", name);
		return -EINVAL;
	}
	if (strlen(name) == 0 || strlen(name) >= sizeof(p->model)) {
		p_err("prices: model name \"%.40s\" is empty or longer than %zu bytes",
		      name, sizeof(p->model) - 1);
		return -EINVAL;
	}
	snprintf(p->model, sizeof(p->model), "%s", name);
	prov = cJSON_GetObjectItemCaseSensitive(m, "provider");
	if (!cJSON_IsString(prov) || !prov->valuestring[0] ||
	    strlen(prov->valuestring) >= sizeof(p->provider)) {
		p_err("prices: %s: \"provider\" must be a short non-empty string", name);
		return -EINVAL;
	}
	snprintf(p->provider, sizeof(p->provider), "%s", prov->valuestring);

	if ((err = read_price(m, name, "input", true, 0, &p->input_usd)) ||
	    (err = read_price(m, name, "output", true, 0, &p->output_usd)) ||
	    (err = read_price(m, name, "cached_input", false, p->input_usd,
			      &p->cached_input_usd)) ||
	    (err = read_price(m, name, "cache_write_5m", false, p->input_usd,
			      &p->cache_write_5m_usd)) ||
	    (err = read_price(m, name, "cache_write_1h", false,
			      p->cache_write_5m_usd, &p->cache_write_1h_usd)) ||
	    (err = read_price(m, name, "reasoning", false, p->output_usd,
			      &p->reasoning_usd)) ||
	    (err = read_tier(m, p)) || (err = read_batch(m, p)))
		return err;
	return 0;
}

/* Names and aliases share one namespace: one name, one price. */
static bool name_taken(const struct price_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->prices[i].model, name) == 0)
			return true;
	for (i = 0; i < t->n_aliases; i++)
		if (strcmp(t->aliases[i].name, name) == 0)
			return true;
	return false;
}

static int read_aliases(struct price_table *t, const cJSON *m, size_t idx)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(m, "aliases"), *a;
	struct alias *grown;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list)) {
		p_err("prices: %s: \"aliases\" must be an array of names", m->string);
		return -EINVAL;
	}
	cJSON_ArrayForEach(a, list) {
		if (!cJSON_IsString(a) || !a->valuestring[0] ||
		    strlen(a->valuestring) >= sizeof(t->prices[0].model)) {
			p_err("prices: %s: aliases must be non-empty short strings",
			      m->string);
			return -EINVAL;
		}
		if (name_taken(t, a->valuestring)) {
			p_err("prices: %s: alias \"%s\" is already a name or alias",
			      m->string, a->valuestring);
			return -EINVAL;
		}
		grown = realloc(t->aliases, (t->n_aliases + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->aliases = grown;
		grown[t->n_aliases].name = strdup(a->valuestring);
		if (!grown[t->n_aliases].name)
			return -ENOMEM;
		grown[t->n_aliases++].idx = idx;
	}
	return 0;
}

static int build_table(const cJSON *root, struct price_table *t)
{
	const cJSON *models, *m;
	int n, err;

	if (!cJSON_IsObject(root)) {
		p_err("prices: the table must be a JSON object");
		return -EINVAL;
	}
	models = cJSON_GetObjectItemCaseSensitive(root, "models");
	if (!cJSON_IsObject(models)) {
		p_err("prices: missing \"models\" object");
		return -EINVAL;
	}
	n = cJSON_GetArraySize(models);
	if (n == 0) {
		p_err("prices: \"models\" is empty");
		return -EINVAL;
	}
	t->prices = calloc(n, sizeof(*t->prices));
	if (!t->prices)
		return -ENOMEM;
	cJSON_ArrayForEach(m, models) {
		/* cJSON keeps duplicate keys; the second would never be found. */
		if (name_taken(t, m->string)) {
			p_err("prices: \"%s\" is listed twice (as a name or an alias)",
			      m->string);
			return -EINVAL;
		}
		err = read_entry(m, &t->prices[t->n]);
		if (err)
			return err;
		t->n++;
		err = read_aliases(t, m, t->n - 1);
		if (err)
			return err;
	}
	return 0;
}

int price_table_load_json(const char *json, size_t len, struct price_table **out)
{
	struct price_table *t;
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
	err = build_table(root, t);
	cJSON_Delete(root);
	if (err) {
		price_table_free(t);
		return err;
	}
	*out = t;
	return 0;
}

int price_table_load_default(struct price_table **out)
{
	return price_table_load_json(llmobs_prices_json, strlen(llmobs_prices_json),
				     out);
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
	if (!err)
		err = price_table_load_json(buf, len, out);
	else if (err == -EIO)
		p_err("prices: cannot read %s", path);
	free(buf);
	return err;
}

/* "-YYYY-MM-DD", "-YYYYMMDD" or "-latest": the rest of a snapshot name;
 * Vertex AI writes Claude snapshots "@YYYYMMDD". */
static bool is_snapshot_suffix(const char *s)
{
	size_t i, n = strlen(s);

	if (strcmp(s, "-latest") == 0)
		return true;
	if (n == 11 && s[0] == '-' && s[5] == '-' && s[8] == '-') {
		for (i = 1; i < n; i++)
			if (i != 5 && i != 8 && (s[i] < '0' || s[i] > '9'))
				return false;
		return true;
	}
	if (n == 9 && (s[0] == '-' || s[0] == '@')) {
		for (i = 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	return false;
}

const struct price *price_lookup(const struct price_table *t, const char *model)
{
	const struct price *best = NULL;
	size_t i, n, best_len = 0;

	if (!t || !model)
		return NULL;
	/* Gemini's modelVersion is sometimes "models/gemini-2.5-pro". */
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	if (!model[0])
		return NULL;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->prices[i].model, model) == 0)
			return &t->prices[i];
	for (i = 0; i < t->n_aliases; i++)
		if (strcmp(t->aliases[i].name, model) == 0)
			return &t->prices[t->aliases[i].idx];
	/* Longest family, so gpt-4o-mini-2024-07-18 is never gpt-4o. */
	for (i = 0; i < t->n; i++) {
		n = strlen(t->prices[i].model);
		if (n > best_len && strncmp(model, t->prices[i].model, n) == 0 &&
		    is_snapshot_suffix(model + n)) {
			best = &t->prices[i];
			best_len = n;
		}
	}
	return best;
}

static const struct price *lookup_prefixed(const struct price_table *t,
					   const char *vendor, const char *model)
{
	char name[sizeof(t->prices[0].model)];
	int n;

	if (!vendor)
		return NULL;
	n = snprintf(name, sizeof(name), "%s/%s", vendor, model);
	if (n < 0 || (size_t)n >= sizeof(name))
		return NULL;
	return price_lookup(t, name);
}

const struct price *price_lookup_vendor(const struct price_table *t,
					const char *model, const char *vendor)
{
	const struct price *p;
	const char *last;

	if (!t || !model || !model[0])
		return NULL;
	if ((p = lookup_prefixed(t, vendor, model)) || (p = price_lookup(t, model)))
		return p;
	last = strrchr(model, '/');
	if (!last || !last[1])
		return NULL;
	last++;
	if ((p = lookup_prefixed(t, vendor, last)))
		return p;
	/* "openai/gpt-4o" is OpenAI's model only through a known vendor that
	 * resells at list price (OpenRouter); a gateway's name proves less. */
	return vendor ? price_lookup(t, last) : NULL;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double cost_at(const struct price *p, const struct llm_usage *u, bool opted_in)
{
	int64_t input, cached, cw, cw1h, uncached, output, reasoning;
	struct price_tier r = {
		p ? p->input_usd : 0, p ? p->cached_input_usd : 0,
		p ? p->cache_write_5m_usd : 0, p ? p->cache_write_1h_usd : 0,
		p ? p->output_usd : 0, p ? p->reasoning_usd : 0,
	};

	if (!p || !u)
		return 0;
	if (p->long_context_above > 0 && u->input_tokens > p->long_context_above &&
	    (opted_in || !p->long_context_opt_in))
		r = p->long_context;
	/* Counts come off the wire: keep every part within its whole, so an
	 * inconsistent report never yields a negative cost. */
	input = clamp(u->input_tokens, 0, INT64_MAX);
	cached = clamp(u->cached_input_tokens, 0, input);
	cw = clamp(u->cache_write_tokens, 0, input - cached);
	cw1h = clamp(u->cache_write_1h_tokens, 0, cw);
	uncached = input - cached - cw;
	output = clamp(u->output_tokens, 0, INT64_MAX);
	reasoning = clamp(u->reasoning_tokens, 0, output);

	return (double)uncached * r.input_usd +
	       (double)cached * r.cached_input_usd +
	       (double)(cw - cw1h) * r.cache_write_5m_usd +
	       (double)cw1h * r.cache_write_1h_usd +
	       (double)(output - reasoning) * r.output_usd +
	       (double)reasoning * r.reasoning_usd;
}

double cost_usd(const struct price *p, const struct llm_usage *u)
{
	return cost_at(p, u, true);
}

double cost_usd_batch(const struct price *p, const struct llm_usage *u)
{
	return p ? cost_usd(p, u) * p->batch_factor : 0;
}

const struct price *cost_price_record(const struct price_table *t,
				      struct exchange_record *r)
{
	const char *vendor = provider_vendor(r->host, strnlen(r->host, sizeof(r->host)));
	const struct price *p;

	if (!llm_api_name_billed(r->api)) {
		r->priced = true;	/* free is a known price, whatever the model */
		r->cost_usd = 0;
		return NULL;
	}
	p = price_lookup_vendor(t, r->model, vendor);
	if (!p && r->request_model[0])
		p = price_lookup_vendor(t, r->request_model, vendor);
	r->priced = p != NULL;
	if (p && !strcmp(r->api, llm_api_name(LLM_API_BATCH_RESULTS))) {
		/* Many calls' usage, summed, at the batch price; a tier is
		 * per call, which the sum cannot tell: base rates. */
		struct price base = *p;

		base.long_context_above = 0;
		r->cost_usd = cost_at(&base, &r->usage, false) * p->batch_factor;
	} else {
		r->cost_usd = p ? cost_at(p, &r->usage, r->long_context_opt_in) : 0;
	}
	return p;
}

void price_table_print(const struct price_table *t, FILE *out)
{
	const double m = 1e6;
	size_t i, j;

	fprintf(out, "%-26s %-18s %9s %9s %9s %9s %9s %9s  ALIASES (prices: USD per million tokens)\n",
		"MODEL", "PROVIDER", "INPUT", "CACHED", "WRITE5M", "WRITE1H",
		"OUTPUT", "REASON");
	for (i = 0; t && i < t->n; i++) {
		const struct price *p = &t->prices[i];

		fprintf(out, "%-26s %-18s %9.5f %9.5f %9.5f %9.5f %9.5f %9.5f",
			p->model, p->provider, p->input_usd * m,
			p->cached_input_usd * m, p->cache_write_5m_usd * m,
			p->cache_write_1h_usd * m, p->output_usd * m,
			p->reasoning_usd * m);
		for (j = 0; j < t->n_aliases; j++)
			if (t->aliases[j].idx == i)
				fprintf(out, " %s", t->aliases[j].name);
		if (p->batch_factor != 1)
			fprintf(out, " [batch x%g]", p->batch_factor);
		if (p->long_context_above)
			fprintf(out, " [above %lld input%s: %.5f in, %.5f out]",
				(long long)p->long_context_above,
				p->long_context_opt_in ? ", opted in" : "",
				p->long_context.input_usd * m, p->long_context.output_usd * m);
		fputc('\n', out);
	}
}
