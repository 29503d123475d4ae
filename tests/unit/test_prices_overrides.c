/* data/prices-overrides.json against the source it corrects: an override
 * that the source's own data (the embedded @pydantic/genai-prices dump,
 * without the overrides) already covers with the same prices is stale and
 * fails this test, which lists it so it gets removed; so is one that names
 * nothing. Also: the overrides' rules and entries take effect in the
 * embedded table, and a malformed overrides file is refused clearly. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cost.h"

extern const char llmobs_prices_json[];	/* the source's data alone */

static bool same_usd(double a, double b)
{
	return fabs(a - b) <= 1e-15;
}

static double field(const cJSON *o, const char *k, double fallback)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(it) ? it->valuedouble : fallback;
}

/* Does base price name (as a call to provider would find it) as o says? */
static bool covered(const struct price_table *base, const char *name, const cJSON *o,
		    const char **found)
{
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(o, "provider");
	const char *vendor = cJSON_IsString(prov) ? prov->valuestring : NULL;
	const char *model = name;
	const struct price *p = NULL;
	size_t i;
	double in;

	/* A correction names the source's entry; an addition, a model that
	 * calls to its provider would name. */
	for (i = 0; !p && i < price_table_size(base); i++)
		if (!strcasecmp(price_table_entry(base, i)->model, name))
			p = price_table_entry(base, i);
	if (vendor && !strncmp(name, vendor, strlen(vendor)) && name[strlen(vendor)] == '/')
		model = name + strlen(vendor) + 1;
	if (!p)
		p = price_lookup_vendor(base, model, vendor);
	*found = p ? p->model : NULL;
	if (!p)
		return false;
	in = field(o, "input", p->input_usd);
	return same_usd(p->input_usd, in) &&
	       same_usd(p->output_usd, field(o, "output", p->output_usd)) &&
	       same_usd(p->cached_input_usd, field(o, "cached_input", in)) &&
	       same_usd(p->cache_write_5m_usd, field(o, "cache_write_5m", in)) &&
	       same_usd(p->reasoning_usd, field(o, "reasoning", p->output_usd)) &&
	       same_usd(p->request_usd, field(o, "request", 0));
}

static void test_no_stale_overrides(void **state)
{
	struct price_table *base = NULL;
	cJSON *ov = cJSON_Parse(price_table_embedded_overrides()), *m;
	int stale = 0, n = 0;

	assert_non_null(ov);
	assert_int_equal(price_table_load_json(llmobs_prices_json, strlen(llmobs_prices_json),
					       &base), 0);
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(ov, "models")) {
		const char *found = NULL;

		n++;
		if (covered(base, m->string, m, &found)) {
			print_message("STALE override %s: the source's %s already has these prices: "
				      "remove it from data/prices-overrides.json\n", m->string, found);
			stale++;
		} else if (found) {
			print_message("override %s: corrects the source's %s\n", m->string, found);
		} else {
			print_message("override %s: adds a model the source lacks\n", m->string);
		}
	}
	print_message("%d overrides, %d already covered by the source\n", n, stale);
	assert_true(n > 0);
	assert_int_equal(stale, 0);
	price_table_free(base);
	cJSON_Delete(ov);
}

/* The check above can see a stale override: one restating the source's
 * gpt-4o, or Groq's llama as an addition, is covered; a changed price not. */
static void test_stale_detected(void **state)
{
	struct price_table *base = NULL;
	cJSON *o;
	const char *found;

	assert_int_equal(price_table_load_json(llmobs_prices_json, strlen(llmobs_prices_json),
					       &base), 0);
	o = cJSON_Parse("{\"input\":2.5e-6,\"cached_input\":1.25e-6,\"output\":1e-5}");
	assert_true(covered(base, "gpt-4o", o, &found));
	assert_string_equal(found, "gpt-4o");
	cJSON_Delete(o);
	o = cJSON_Parse("{\"provider\":\"groq\",\"input\":5.9e-7,\"output\":7.9e-7}");
	assert_true(covered(base, "groq/llama-3.3-70b-versatile", o, &found));
	cJSON_Delete(o);
	o = cJSON_Parse("{\"input\":2.6e-6,\"output\":1e-5}");
	assert_false(covered(base, "gpt-4o", o, &found));
	cJSON_Delete(o);
	price_table_free(base);
}

/* The rules and entries are in force in the embedded table. */
static void test_overrides_applied(void **state)
{
	struct price_table *t = NULL;
	struct exchange_record r = { 0 };
	const struct price *p;

	assert_int_equal(price_table_load_default(&t), 0);
	/* A batch discount on every OpenAI model (the source has none). */
	p = price_lookup_vendor(t, "gpt-5.4-mini", "openai");
	assert_non_null(p);
	assert_float_equal(p->batch_factor, 0.5, 0);
	/* A model the source prices at $0 gets our price. */
	p = price_lookup_vendor(t, "qwen-3-coder-480b", "cerebras");
	assert_non_null(p);
	assert_float_equal(p->input_usd, 2e-6, 1e-18);
	/* provider_vendor()'s "xai" is the source's "x-ai". */
	p = price_lookup_vendor(t, "grok-4-0709", "xai");
	assert_non_null(p);
	assert_ptr_equal(p, price_lookup_vendor(t, "grok-4-0709", "x-ai"));
	assert_string_equal(p->provider, "x-ai");
	/* An exact name the source lacks; at a vendor, by its last segment. */
	assert_non_null(price_lookup_vendor(t, "accounts/fireworks/models/deepseek-v3p1",
					    "fireworks"));
	/* Anthropic's tier needs the opt-in, on its API and on Vertex. */
	snprintf(r.host, sizeof(r.host), "us-east5-aiplatform.googleapis.com");
	snprintf(r.path, sizeof(r.path), "/v1/projects/p/locations/us-east5/publishers/"
		 "anthropic/models/claude-sonnet-4-5@20250929:rawPredict");
	snprintf(r.api, sizeof(r.api), "messages");
	snprintf(r.model, sizeof(r.model), "claude-sonnet-4-5@20250929");
	r.usage.input_tokens = 300000;
	p = cost_price_record(t, &r);
	assert_non_null(p);
	assert_string_equal(p->provider, "google");
	assert_float_equal(r.cost_usd, 300000 * 3e-6, 1e-9);
	r.long_context_opt_in = true;
	cost_price_record(t, &r);
	assert_float_equal(r.cost_usd, 300000 * 6e-6, 1e-9);
	price_table_free(t);
}

static void test_bad_overrides(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"rules\":[{\"provider\":\"openai\",\"batch\":0.5}]}",	/* no source */
		"{\"rules\":[{\"provider\":\"nobody\",\"batch\":0.5,\"source\":\"s\","
		"\"date\":\"2025-01-01\",\"why\":\"w\"}]}",		/* names nothing */
		"{\"models\":{\"gpt-4o\":{\"input\":2.5,\"source\":\"s\",\"date\":\"d\","
		"\"why\":\"w\"}}}",					/* per-million slip */
		"{\"models\":{\"gpt-4o\":{\"aliases\":[\"x\"],\"source\":\"s\",\"date\":\"d\","
		"\"why\":\"w\"}}}",					/* not a price */
		"{\"models\":{\"new-model\":{\"input\":1e-6,\"source\":\"s\",\"date\":\"d\","
		"\"why\":\"w\"}}}",					/* new: no provider */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct price_table *t = NULL;

		assert_int_equal(price_table_load_json(llmobs_prices_json,
						       strlen(llmobs_prices_json), &t), 0);
		if (price_table_apply_overrides(t, bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("overrides %zu accepted: %s", i, bad[i]);
		price_table_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_stale_overrides),
		cmocka_unit_test(test_stale_detected),
		cmocka_unit_test(test_overrides_applied),
		cmocka_unit_test(test_bad_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
