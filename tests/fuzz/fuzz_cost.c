/* The price table parser (user/3-llm/cost.c): the one configuration file the
 * daemon reads (--prices FILE). Input: the JSON text, exactly as a file
 * would hold it (no NUL after it).
 * Checks: a table loads or fails with -EINVAL, never half-loaded; every
 * price in a loaded table is finite, non-negative and per token; lookups
 * (exact, alias, dated snapshot, "models/" prefix; the source's rules at a
 * provider) return entries of the table; every period of a price history
 * is as sane; a cost of any usage, however inconsistent, is finite and
 * >= 0. Both formats: ours ({"models": ...}) and @pydantic/genai-prices'
 * data (a JSON array of providers). */
#include <errno.h>
#include <math.h>
#include <cjson/cJSON.h>
#include "cost.h"
#include "fuzz.h"
#include "log.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_verbosity = -1;	/* a malformed table is logged: not noise here */
	devnull = fopen("/dev/null", "w");
	return 0;
}

static const char *const names[] = {
	"gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "models/gemini-2.5-pro",
	"claude-sonnet-4-5-20250929", "claude-opus-4-1@20250805", "gpt-5-latest",
	"a", "", "-2024-01-01", "models/", "o3-mini-20250131",
};

static void check_price(const struct price *p)
{
	const double v[] = { p->input_usd, p->cached_input_usd, p->cache_write_5m_usd,
			     p->cache_write_1h_usd, p->output_usd, p->reasoning_usd };
	size_t i;

	FUZZ_CHECK(strnlen(p->model, sizeof(p->model)) < sizeof(p->model) && p->model[0],
		   "model name");
	FUZZ_CHECK(strnlen(p->provider, sizeof(p->provider)) < sizeof(p->provider),
		   "provider name");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		FUZZ_CHECK(isfinite(v[i]) && v[i] >= 0 && v[i] < 0.01, "%s: price %zu is %g",
			   p->model, i, v[i]);
}

/* Every name and alias of a loaded table finds its own entry. */
static void check_names(const char *json, size_t len, const struct price_table *t)
{
	cJSON *root = cJSON_ParseWithLength(json, len), *m, *a;
	const struct price *p;

	FUZZ_CHECK(root != NULL, "loaded a table from invalid JSON");
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models")) {
		if (!strncmp(m->string, "models/", 7))
			continue;	/* lookups drop that prefix */
		p = price_lookup(t, m->string);
		FUZZ_CHECK(p && !strcmp(p->model, m->string), "%s not found", m->string);
		check_price(p);
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(m, "aliases")) {
			if (!strncmp(a->valuestring, "models/", 7))
				continue;
			FUZZ_CHECK(price_lookup(t, a->valuestring) == p, "alias %s of %s",
				   a->valuestring, m->string);
		}
	}
	cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct llm_usage usages[] = {
		{ 1000, 200, 100, 50, 500, 100 },
		{ -5, 10, 10, 10, -1, 7 },	/* inconsistent: clamped, never negative */
		{ INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX },
		{ 0, 0, 0, 0, 0, 0 },
	};
	struct price_table *t = (struct price_table *)1;
	char *buf = fuzz_dup(data, size);
	size_t i, j;
	int r;

	r = price_table_load_json(buf, size, &t);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM, "load returned %d", r);
	FUZZ_CHECK(r == 0 ? t != NULL : t == NULL, "table %p with result %d", (void *)t, r);
	for (i = 0; t && i < sizeof(names) / sizeof(names[0]); i++) {
		const struct price *p = price_lookup(t, names[i]);

		if (!p)
			continue;
		check_price(p);
		for (j = 0; j < sizeof(usages) / sizeof(usages[0]); j++) {
			double c = cost_usd(p, &usages[j]);

			FUZZ_CHECK(isfinite(c) && c >= 0, "%s: cost %g", p->model, c);
		}
	}
	/* Every entry and every period of its history (the source's format
	 * has them): sane prices, finite costs, lookups at its provider. */
	for (i = 0; t && i < price_table_size(t); i++) {
		static const int64_t times[] = { 0, 1735696800, 1796644800, INT64_MAX / 2 };
		const struct price *e = price_table_entry(t, i);

		for (j = 0; j < sizeof(times) / sizeof(times[0]); j++) {
			const struct price *p = price_at(e, times[j]);
			double c = cost_usd(p, &usages[0]);

			check_price(p);
			FUZZ_CHECK(isfinite(c) && c >= 0, "%s: cost %g", p->model, c);
		}
		/* Each lookup scans the table: a few providers are enough. */
		for (j = 0; i < 16 && j < sizeof(names) / sizeof(names[0]); j++) {
			const struct price *p = price_lookup_vendor(t, names[j], e->provider);

			FUZZ_CHECK(!p || (p >= price_table_entry(t, 0) &&
					  p <= price_table_entry(t, price_table_size(t) - 1)),
				   "lookup of %s at %s is no entry", names[j], e->provider);
		}
	}
	if (t) {
		check_names(buf, size, t);
		price_table_print(t, devnull);
		fflush(devnull);
	}
	price_table_free(t);
	free(buf);
	return 0;
}
