/* Model name -> the price table's entry -> the cost of one call's usage.
 * Names are found as @pydantic/genai-prices finds them (its rules, in its
 * order, within the call's provider, then its fallback providers; dated
 * snapshots written -YYYYMMDD tried again as -YYYY-MM-DD), after our own
 * exact names, which always win over a pattern. An exchange is priced with
 * the price in force at its time where the source has a history. The table
 * is built by prices_load.c (our format), prices_genai.c (the source's) and
 * prices_overrides.c (our corrections on top). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "log.h"
#include "price_table.h"
#include "provider.h"

#define NAME_MAX_BYTES	256	/* longer model names are no model of the table */

/* "-YYYY-MM-DD", "-YYYYMMDD" or "-latest": the rest of a snapshot name;
 * Vertex AI writes Claude snapshots "@YYYYMMDD". */
static bool is_snapshot_suffix(const char *s)
{
	size_t i, n = strlen(s);

	if (strcasecmp(s, "-latest") == 0)
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

/* Our exact names and aliases (entries without a rule); provider NULL: any. */
static const struct price *exact(const struct price_table *t, const char *name,
				 const char *provider)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct price *p = &t->prices[i];

		if (!p->match && (!provider || !strcmp(p->provider, provider)) &&
		    strcasecmp(p->model, name) == 0)
			return p;
	}
	for (i = 0; i < t->n_aliases; i++) {
		const struct price *p = &t->prices[t->aliases[i].idx];

		if ((!provider || !strcmp(p->provider, provider)) &&
		    strcasecmp(t->aliases[i].name, name) == 0)
			return p;
	}
	return NULL;
}

/* A dated snapshot of an exact name; the longest, so gpt-4o-mini-2024-07-18
 * is never gpt-4o. */
static const struct price *snapshot(const struct price_table *t, const char *name)
{
	const struct price *best = NULL;
	size_t i, n, best_len = 0;

	for (i = 0; i < t->n; i++) {
		if (t->prices[i].match)
			continue;
		n = strlen(t->prices[i].model);
		if (n > best_len && strncasecmp(name, t->prices[i].model, n) == 0 &&
		    is_snapshot_suffix(name + n)) {
			best = &t->prices[i];
			best_len = n;
		}
	}
	return best;
}

static const struct price_provider *provider_by_id(const struct price_table *t,
						   const char *id)
{
	size_t i;

	for (i = 0; id && i < t->n_providers; i++)
		if (strcmp(t->providers[i].id, id) == 0)
			return &t->providers[i];
	return NULL;
}

/* The provider's models are contiguous, in the source's order. */
static const struct price *rules_of(const struct price_table *t,
				    const struct price_provider *pv, const char *lname)
{
	size_t i;

	for (i = pv->first; i < pv->first + pv->n && i < t->n; i++) {
		const struct price *p = &t->prices[i];

		if (p->match && price_match_test(p->match, lname))
			return p;
	}
	return NULL;
}

/* The provider's rules, then its fallback providers' (theirs only). */
static const struct price *rules(const struct price_table *t,
				 const struct price_provider *pv, const char *lname)
{
	const struct price *p = rules_of(t, pv, lname);
	const struct price_provider *fb;
	size_t i;

	for (i = 0; !p && i < pv->n_fallback; i++)
		if ((fb = provider_by_id(t, pv->fallback[i])))
			p = rules_of(t, fb, lname);
	return p;
}

static bool valid_ymd(int y, int m, int d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return false;
	return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 || y % 400 == 0));
}

/* The source's second try: every "-20YYMMDD" (a real date, followed by
 * '-', ':' or the end) written "-20YY-MM-DD". Returns whether any was. */
static bool normalise_dates(const char *in, char *out, size_t size)
{
	size_t i = 0, o = 0, n = strlen(in), k;
	bool any = false;

	while (i < n && o + 12 < size) {
		const char *s = in + i;

		if (s[0] == '-' && i + 9 <= n && s[1] == '2' && s[2] == '0') {
			for (k = 1; k <= 8 && isdigit((unsigned char)s[k]); k++)
				;
			if (k == 9 && (s[9] == '-' || s[9] == ':' || !s[9]) &&
			    valid_ymd((s[1] - '0') * 1000 + (s[2] - '0') * 100 +
				      (s[3] - '0') * 10 + (s[4] - '0'),
				      (s[5] - '0') * 10 + (s[6] - '0'),
				      (s[7] - '0') * 10 + (s[8] - '0'))) {
				o += snprintf(out + o, size - o, "-%.4s-%.2s-%.2s",
					      s + 1, s + 5, s + 7);
				i += 9;
				any = true;
				continue;
			}
		}
		out[o++] = in[i++];
	}
	if (i < n)
		return false;	/* no room: no second try */
	out[o] = '\0';
	return any;
}

static const struct price *rules_dated(const struct price_table *t,
				       const struct price_provider *pv, const char *lname)
{
	char norm[NAME_MAX_BYTES + 32];
	const struct price *p = rules(t, pv, lname);

	if (!p && normalise_dates(lname, norm, sizeof(norm)))
		p = rules(t, pv, norm);
	return p;
}

/* The source compares lowercased, trimmed names. */
static bool lower_name(const char *name, char *out, size_t size)
{
	size_t n;

	while (isspace((unsigned char)*name))
		name++;
	n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		n--;
	if (n == 0 || n >= size)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
	return true;
}

/* Gemini's modelVersion is sometimes "models/gemini-2.5-pro". */
static const char *strip_models(const char *model)
{
	return strncmp(model, "models/", 7) == 0 ? model + 7 : model;
}

const struct price *price_lookup(const struct price_table *t, const char *model)
{
	char lname[NAME_MAX_BYTES];
	const struct price *p;
	size_t i;

	if (!t || !model)
		return NULL;
	model = strip_models(model);
	if (!lower_name(model, lname, sizeof(lname)))
		return NULL;
	if ((p = exact(t, lname, NULL)))
		return p;
	for (i = 0; i < t->n_providers; i++) {
		const struct price_provider *pv = &t->providers[i];

		/* The first provider whose model_match takes the name, only. */
		if (pv->model_match && price_match_test(pv->model_match, lname))
			return (p = rules_dated(t, pv, lname)) ? p : snapshot(t, lname);
	}
	return snapshot(t, lname);
}

/* One name at one provider: see price_lookup_vendor(). */
static const struct price *lookup_at(const struct price_table *t, const char *model,
				     const char *vendor)
{
	char lname[NAME_MAX_BYTES], prefixed[NAME_MAX_BYTES + 40];
	const struct price_provider *pv = provider_by_id(t, vendor);
	const struct price *p;

	if (!lower_name(model, lname, sizeof(lname)))
		return NULL;
	snprintf(prefixed, sizeof(prefixed), "%s/%s", vendor, lname);
	if ((p = exact(t, prefixed, NULL)) || (p = exact(t, lname, vendor)))
		return p;
	if (pv && (p = rules_dated(t, pv, lname)))
		return p;
	if ((p = snapshot(t, prefixed)))
		return p;
	/* A provider of the source prices its own models only (and its
	 * fallbacks'); beyond it, only our exact names. */
	if (pv)
		return (p = exact(t, lname, NULL)) ? p : snapshot(t, lname);
	return price_lookup(t, lname);
}

const struct price *price_lookup_vendor(const struct price_table *t,
					const char *model, const char *vendor)
{
	const struct price *p;
	const char *last;

	if (!t || !model || !model[0])
		return NULL;
	if (!vendor)
		return price_lookup(t, model);
	if (!strcmp(vendor, "xai"))	/* provider_vendor()'s name for the source's x-ai */
		vendor = "x-ai";
	model = strip_models(model);
	if ((p = lookup_at(t, model, vendor)))
		return p;
	/* "openai/gpt-oss-120b" at Groq, "accounts/fireworks/models/x": the
	 * last segment, for a known vendor only (a gateway's name proves less). */
	last = strrchr(model, '/');
	if (!last || !last[1])
		return NULL;
	return lookup_at(t, last + 1, vendor);
}

const char *price_provider_of(const struct price_table *t, const char *host,
			      const char *path, const char *api_provider)
{
	static const struct { const char *ours, *theirs; } names[] = {
		{ "azure_openai", "azure" },
		{ "openai", "openai" }, { "anthropic", "anthropic" }, { "google", "google" },
	};
	char url[640];
	const char *v;
	size_t i;

	if (!t)
		return NULL;
	if (host && host[0]) {
		snprintf(url, sizeof(url), "https://%s%s", host, path ? path : "");
		for (i = 0; i < t->n_providers; i++)
			if (price_match_test(t->providers[i].api, url))
				return t->providers[i].id;
	}
	v = host ? provider_vendor(host, strlen(host)) : NULL;
	if (v)
		return strcmp(v, "xai") == 0 ? "x-ai" : v;
	for (i = 0; api_provider && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(api_provider, names[i].ours) == 0)
			return names[i].theirs;
	return NULL;
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
	       (double)reasoning * r.reasoning_usd + p->request_usd;
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
	const char *vendor = price_provider_of(t, r->host, r->path, r->provider);
	int64_t ts_s = r->ts_start_ns > 0 ? r->ts_start_ns / 1000000000 : (int64_t)time(NULL);
	const struct price *p, *at;

	if (!llm_api_name_billed(r->api)) {
		r->priced = true;	/* free is a known price, whatever the model */
		r->cost_usd = 0;
		return NULL;
	}
	p = price_lookup_vendor(t, r->model, vendor);
	if (!p && r->request_model[0])
		p = price_lookup_vendor(t, r->request_model, vendor);
	r->priced = p != NULL;
	at = price_at(p, ts_s);
	if (p && !strcmp(r->api, llm_api_name(LLM_API_BATCH_RESULTS))) {
		/* Many calls' usage, summed, at the batch price; a tier is
		 * per call, which the sum cannot tell: base rates. */
		struct price base = *at;

		base.long_context_above = 0;
		base.request_usd = 0;	/* how many calls the sum holds is unknown */
		r->cost_usd = cost_at(&base, &r->usage, false) * at->batch_factor;
	} else {
		r->cost_usd = p ? cost_at(at, &r->usage, r->long_context_opt_in) : 0;
	}
	return p && p->n_periods ? &p->periods[0] : p;
}

void price_table_print(const struct price_table *t, FILE *out)
{
	const double m = 1e6;
	int64_t now = (int64_t)time(NULL);
	size_t i, j;

	fprintf(out, "%-40s %-12s %9s %9s %9s %9s %9s %9s  ALIASES (prices in force now: "
		"USD per million tokens; table: %s)\n", "MODEL", "PROVIDER", "INPUT", "CACHED",
		"WRITE5M", "WRITE1H", "OUTPUT", "REASON", price_table_origin(t));
	for (i = 0; t && i < t->n; i++) {
		const struct price *p = price_at(&t->prices[i], now);

		fprintf(out, "%-40s %-12s %9.5f %9.5f %9.5f %9.5f %9.5f %9.5f",
			t->prices[i].model, p->provider, p->input_usd * m,
			p->cached_input_usd * m, p->cache_write_5m_usd * m,
			p->cache_write_1h_usd * m, p->output_usd * m,
			p->reasoning_usd * m);
		for (j = 0; j < t->n_aliases; j++)
			if (t->aliases[j].idx == i)
				fprintf(out, " %s", t->aliases[j].name);
		if (!t->prices[i].match)
			fputs(" [exact name]", out);
		if (p->batch_factor != 1)
			fprintf(out, " [batch x%g]", p->batch_factor);
		if (p->long_context_above)
			fprintf(out, " [above %lld input%s: %.5f in, %.5f out]",
				(long long)p->long_context_above,
				p->long_context_opt_in ? ", opted in" : "",
				p->long_context.input_usd * m, p->long_context.output_usd * m);
		if (t->prices[i].n_periods)
			fprintf(out, " [%zu price periods]", t->prices[i].n_periods);
		fputc('\n', out);
	}
}
