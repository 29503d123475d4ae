/* The data of @pydantic/genai-prices (its Provider[] JSON: the dump of the
 * pinned package that the build embeds, or a newer data.json given to
 * `llmobs prices --update`) -> entries of our price table, in the source's
 * order, each with its match rule and price history. Only text-token prices
 * are read (input, cache read, cache write, 1-hour cache write, output,
 * reasoning output) and the fee per request; prices per image, audio or
 * search are not modelled: the daemon counts text tokens and calls only. Prices are USD per million
 * tokens in the source and per token in the table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "price_table.h"

/* The providers whose models keep their bare id as their name, as in our
 * hand-written tables; the others' are "<provider>/<id>". */
static const char *const home_providers[] = { "openai", "anthropic", "google" };

struct rate {
	bool present, tiered;
	double base_usd, tier_usd;
	int64_t start;
};

static int bad(const char *what, const char *why)
{
	p_err("prices: %s: %s", what, why);
	return -EINVAL;
}

static bool usd_ok(double per_mtok)
{
	return isfinite(per_mtok) && per_mtok >= 0 && per_mtok / 1e6 < PRICE_MAX_USD;
}

/* One price key: a number, or {"base": n, "tiers": [{"start": s, "price": n}]}. */
static int read_rate(const cJSON *prices, const char *key, const char *what, struct rate *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(prices, key), *base, *tiers, *t0, *s, *pr;

	memset(r, 0, sizeof(*r));
	if (!v)
		return 0;
	r->present = true;
	if (cJSON_IsNumber(v)) {
		if (!usd_ok(v->valuedouble))
			return bad(what, "a price is negative, not finite, or absurdly large");
		r->base_usd = v->valuedouble / 1e6;
		return 0;
	}
	base = cJSON_GetObjectItemCaseSensitive(v, "base");
	tiers = cJSON_GetObjectItemCaseSensitive(v, "tiers");
	if (!cJSON_IsObject(v) || !cJSON_IsNumber(base) || !usd_ok(base->valuedouble) ||
	    !cJSON_IsArray(tiers))
		return bad(what, "a tiered price needs \"base\" and \"tiers\"");
	r->base_usd = base->valuedouble / 1e6;
	if (cJSON_GetArraySize(tiers) == 0)
		return 0;
	if (cJSON_GetArraySize(tiers) > 1)
		return bad(what, "more than one price tier (only one long-context tier is modelled)");
	t0 = tiers->child;
	s = cJSON_GetObjectItemCaseSensitive(t0, "start");
	pr = cJSON_GetObjectItemCaseSensitive(t0, "price");
	if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 1e12 ||
	    s->valuedouble != floor(s->valuedouble) || !cJSON_IsNumber(pr) ||
	    !usd_ok(pr->valuedouble))
		return bad(what, "a tier needs a whole \"start\" and a \"price\"");
	r->tiered = true;
	r->start = (int64_t)s->valuedouble;
	r->tier_usd = pr->valuedouble / 1e6;
	return 0;
}

/* "requests_kcount": USD per thousand calls. */
static int read_request_fee(const cJSON *prices, const char *what, struct price *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(prices, "requests_kcount");

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble / 1e3 >= PRICE_MAX_REQUEST_USD)
		return bad(what, "\"requests_kcount\" must be a sane USD per thousand calls");
	p->request_usd = v->valuedouble / 1e3;
	return 0;
}

/* Base rate of r, else fallback (the source prices an absent key's tokens
 * as part of its parent: cache reads as input, reasoning as output). */
static double base_or(const struct rate *r, double fallback)
{
	return r->present ? r->base_usd : fallback;
}

static double tier_or(const struct rate *r, double fallback)
{
	return r->tiered ? r->tier_usd : r->present ? r->base_usd : fallback;
}

static int read_rates(const cJSON *prices, const char *what, struct price *p)
{
	struct rate in, cr, cw, cw1h, out, reas;
	const struct rate *all[] = { &in, &cr, &cw, &cw1h, &out, &reas };
	struct price_tier *lc = &p->long_context;
	int64_t start = -1;
	size_t i;
	int err;

	if (!cJSON_IsObject(prices))
		return bad(what, "\"prices\" must be an object");
	if ((err = read_rate(prices, "input_mtok", what, &in)) ||
	    (err = read_rate(prices, "cache_read_mtok", what, &cr)) ||
	    (err = read_rate(prices, "cache_write_mtok", what, &cw)) ||
	    (err = read_rate(prices, "cache_write_1h_mtok", what, &cw1h)) ||
	    (err = read_rate(prices, "output_mtok", what, &out)) ||
	    (err = read_rate(prices, "output_reasoning_mtok", what, &reas)))
		return err;
	if ((err = read_request_fee(prices, what, p)))
		return err;
	p->input_usd = base_or(&in, 0);
	p->cached_input_usd = base_or(&cr, p->input_usd);
	p->cache_write_5m_usd = base_or(&cw, p->input_usd);
	p->cache_write_1h_usd = base_or(&cw1h, p->cache_write_5m_usd);
	p->output_usd = base_or(&out, 0);
	p->reasoning_usd = base_or(&reas, p->output_usd);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!all[i]->tiered)
			continue;
		if (start >= 0 && all[i]->start != start)
			return bad(what, "tiers that start at different token counts");
		start = all[i]->start;
	}
	if (start < 0)
		return 0;
	lc->input_usd = tier_or(&in, 0);
	lc->cached_input_usd = tier_or(&cr, lc->input_usd);
	lc->cache_write_5m_usd = tier_or(&cw, lc->input_usd);
	lc->cache_write_1h_usd = tier_or(&cw1h, lc->cache_write_5m_usd);
	lc->output_usd = tier_or(&out, 0);
	lc->reasoning_usd = tier_or(&reas, lc->output_usd);
	if (start == 0) {	/* a "tier" from the first token is the price */
		p->input_usd = lc->input_usd;
		p->cached_input_usd = lc->cached_input_usd;
		p->cache_write_5m_usd = lc->cache_write_5m_usd;
		p->cache_write_1h_usd = lc->cache_write_1h_usd;
		p->output_usd = lc->output_usd;
		p->reasoning_usd = lc->reasoning_usd;
		return 0;
	}
	p->long_context_above = start;
	return 0;
}

/* "HH:MM:SS[.f](Z|+HH:MM|-HH:MM)" -> UTC second of the day, or -1. */
static int32_t time_of_day(const char *s)
{
	int h, m, sec, n = 0, oh = 0, om = 0, sign = 0;

	if (!s || sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3 || n != 8 ||
	    h > 23 || m > 59 || sec > 59)
		return -1;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;	/* fractions of a second: the source keeps them, we need not */
	if (*s == 'Z' && !s[1])
		return h * 3600 + m * 60 + sec;
	if ((*s != '+' && *s != '-') || sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 ||
	    n != 5 || s[6] || oh > 23 || om > 59)
		return -1;
	sign = *s == '+' ? 1 : -1;
	return ((h * 3600 + m * 60 + sec - sign * (oh * 3600 + om * 60)) % 86400 + 86400) % 86400;
}

/* "YYYY-MM-DD" -> UTC seconds at its midnight, or -1 (not a real date). */
static int64_t date_s(const char *s)
{
	struct tm tm = { 0 };
	int y, mo, d, n = 0;
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || s[10] ||
	    y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)	/* normalised: Feb 30 is no date */
		return -1;
	return (int64_t)t;
}

static int read_constraint(const cJSON *c, const char *what, struct price *p)
{
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(c, "start_date");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "start_time");
	const cJSON *et = cJSON_GetObjectItemCaseSensitive(c, "end_time");

	if (!c)
		return 0;	/* no constraint: always in force from here */
	if (cJSON_IsString(sd) && !st && !et) {
		p->from_s = date_s(sd->valuestring);
		if (p->from_s < 0)
			return bad(what, "\"start_date\" is not a YYYY-MM-DD date");
		return 0;
	}
	if (cJSON_IsString(st) && cJSON_IsString(et) && !sd) {
		p->tod_start_s = time_of_day(st->valuestring);
		p->tod_end_s = time_of_day(et->valuestring);
		if (p->tod_start_s < 0 || p->tod_end_s < 0)
			return bad(what, "\"start_time\"/\"end_time\" are not HH:MM:SS with a zone");
		return 0;
	}
	return bad(what, "a price constraint is a start_date or a start_time/end_time pair");
}

/* The rates of src (not its name, constraint or history) into dst. */
static void copy_rates(struct price *dst, const struct price *src)
{
	dst->input_usd = src->input_usd;
	dst->cached_input_usd = src->cached_input_usd;
	dst->cache_write_5m_usd = src->cache_write_5m_usd;
	dst->cache_write_1h_usd = src->cache_write_1h_usd;
	dst->output_usd = src->output_usd;
	dst->reasoning_usd = src->reasoning_usd;
	dst->long_context_above = src->long_context_above;
	dst->long_context = src->long_context;
	dst->request_usd = src->request_usd;
}

/* A price, or a history: every period kept in the source's order (the first
 * is the fallback whatever its constraint, as in the source), the entry's
 * own rates those in force now. */
static int read_prices(const cJSON *prices, const char *what, struct price *p)
{
	const cJSON *it;
	size_t n;
	int err;

	if (!cJSON_IsArray(prices))
		return read_rates(prices, what, p);
	n = cJSON_GetArraySize(prices);
	if (n < 1 || n > 64)
		return bad(what, "a price history needs 1 to 64 periods");
	p->periods = calloc(n, sizeof(*p->periods));
	if (!p->periods)
		return -ENOMEM;
	cJSON_ArrayForEach(it, prices) {
		struct price *q = &p->periods[p->n_periods++];

		memcpy(q->model, p->model, sizeof(q->model));
		memcpy(q->provider, p->provider, sizeof(q->provider));
		q->batch_factor = 1;
		q->tod_start_s = q->tod_end_s = -1;
		if ((err = read_rates(cJSON_GetObjectItemCaseSensitive(it, "prices"), what, q)) ||
		    (err = read_constraint(cJSON_GetObjectItemCaseSensitive(it, "constraint"),
					   what, q)))
			return err;
	}
	copy_rates(p, price_at(p, (int64_t)time(NULL)));
	return 0;
}

static bool is_home(const char *provider)
{
	size_t i;

	for (i = 0; i < sizeof(home_providers) / sizeof(home_providers[0]); i++)
		if (strcmp(provider, home_providers[i]) == 0)
			return true;
	return false;
}

/* The entry's name: "<id>" for a home provider, else "<provider>/<id>";
 * made unique (the source may list an id twice: the first match wins). */
static void entry_name(const struct price_table *t, const char *prov, const char *id,
		       char *name, size_t size)
{
	int k;

	if (is_home(prov) && strlen(id) < size && !price_table_name_taken(t, id)) {
		snprintf(name, size, "%s", id);
		return;
	}
	snprintf(name, size, "%s/%s", prov, id);
	for (k = 2; price_table_name_taken(t, name) && k < 1000; k++)
		snprintf(name, size, "%s/%.*s~%d", prov, (int)(size - strlen(prov) - 8), id, k);
}

static int read_model(struct price_table *t, const cJSON *m, const char *prov)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	char name[sizeof(t->prices[0].model)], what[160];
	struct price *p;
	int err;

	if (!cJSON_IsObject(m) || !cJSON_IsString(id) || !id->valuestring[0])
		return bad(prov, "a model needs an \"id\"");
	snprintf(what, sizeof(what), "%s model %.100s", prov, id->valuestring);
	entry_name(t, prov, id->valuestring, name, sizeof(name));
	p = price_table_add(t, name);
	if (!p)
		return -ENOMEM;
	snprintf(p->provider, sizeof(p->provider), "%s", prov);
	if ((err = price_match_parse(cJSON_GetObjectItemCaseSensitive(m, "match"), what,
				     &p->match)))
		return err;
	return read_prices(cJSON_GetObjectItemCaseSensitive(m, "prices"), what, p);
}

static int read_provider(struct price_table *t, const cJSON *pj)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(pj, "id");
	const cJSON *api = cJSON_GetObjectItemCaseSensitive(pj, "api_pattern");
	const cJSON *mm = cJSON_GetObjectItemCaseSensitive(pj, "model_match");
	const cJSON *fb = cJSON_GetObjectItemCaseSensitive(pj, "fallback_model_providers");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(pj, "models"), *it;
	struct price_provider *pv = &t->providers[t->n_providers];
	cJSON *re;
	char *pat;
	int err;

	if (!cJSON_IsObject(pj) || !cJSON_IsString(id) || !id->valuestring[0] ||
	    strlen(id->valuestring) >= sizeof(pv->id))
		return bad("genai-prices data", "a provider needs a short \"id\"");
	if (!cJSON_IsString(api) || !cJSON_IsArray(models))
		return bad(id->valuestring, "a provider needs \"api_pattern\" and \"models\"");
	memset(pv, 0, sizeof(*pv));
	t->n_providers++;
	snprintf(pv->id, sizeof(pv->id), "%s", id->valuestring);
	/* The source anchors api_pattern at the start of the URL. */
	if (asprintf(&pat, "^(?:%s)", api->valuestring) < 0)
		return -ENOMEM;
	re = cJSON_CreateObject();
	if (!re || !cJSON_AddStringToObject(re, "regex", pat)) {
		cJSON_Delete(re);
		free(pat);
		return -ENOMEM;
	}
	free(pat);
	err = price_match_parse(re, pv->id, &pv->api);
	cJSON_Delete(re);
	if (err || (mm && (err = price_match_parse(mm, pv->id, &pv->model_match))))
		return err ? err : -EINVAL;
	if (fb && !cJSON_IsArray(fb))
		return bad(pv->id, "\"fallback_model_providers\" must be a list");
	cJSON_ArrayForEach(it, fb) {
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof(pv->fallback[0]) ||
		    pv->n_fallback == PRICES_MAX_FALLBACKS)
			return bad(pv->id, "bad or too many fallback providers");
		snprintf(pv->fallback[pv->n_fallback++], sizeof(pv->fallback[0]), "%s",
			 it->valuestring);
	}
	pv->first = t->n;
	cJSON_ArrayForEach(it, models) {
		if ((err = read_model(t, it, pv->id)))
			return err;
		pv->n++;
	}
	return 0;
}

int prices_genai_load(const cJSON *root, struct price_table *t)
{
	const cJSON *pj;
	int n = cJSON_GetArraySize(root), err;

	if (n < 1 || n > PRICES_MAX_PROVIDERS)
		return bad("genai-prices data", "needs 1 to 256 providers");
	t->providers = calloc(n, sizeof(*t->providers));
	if (!t->providers)
		return -ENOMEM;
	cJSON_ArrayForEach(pj, root)
		if ((err = read_provider(t, pj)))
			return err;
	if (t->n == 0)
		return bad("genai-prices data", "no models");
	return 0;
}
