/* data/cache_rules.json -> struct cache_rule entries -> the rule for a call.
 * Loaded once at start (cJSON), looked up per exchange by string compare:
 * the table is a few dozen entries, so a linear scan is cheaper than any
 * index would be to keep right. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cache_rules.h"
#include "log.h"

extern const char llmobs_cache_rules_json[];

struct cache_rules {
	size_t n;
	struct cache_rule *rules;
};

static int64_t num(const cJSON *o, const char *k, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static bool flag(const cJSON *o, const char *k, bool dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int load_rule(struct cache_rule *r, const cJSON *prov, const cJSON *rule)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(prov, "provider");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(rule, "model");
	const cJSON *bp = cJSON_GetObjectItemCaseSensitive(rule, "breakpoints");
	const cJSON *np = cJSON_GetObjectItemCaseSensitive(prov, "non_prompt");
	const cJSON *npt = cJSON_GetObjectItemCaseSensitive(prov, "non_prompt_text");
	const cJSON *it;

	if (!cJSON_IsString(name) || !cJSON_IsString(model) ||
	    strlen(name->valuestring) >= sizeof(r->provider) ||
	    strlen(model->valuestring) >= sizeof(r->model_prefix))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	strcpy(r->provider, name->valuestring);
	strcpy(r->model_prefix, model->valuestring);
	r->model_known = model->valuestring[0] != '\0';
	r->min_tokens = num(rule, "min_tokens", -1);
	r->granularity_tokens = num(rule, "granularity_tokens", 1);
	r->ttl_s = num(rule, "ttl_s", -1);
	r->max_ttl_s = num(rule, "max_ttl_s", 0);
	r->lookback_blocks = (int)num(rule, "lookback_blocks", 20);
	r->max_breakpoints = (int)num(rule, "max_breakpoints", 4);
	r->implicit = flag(rule, "implicit", true);
	r->write_premium = flag(rule, "write_premium", false);
	r->units_overestimate = flag(rule, "prefix_units_overestimate", false);
	if (r->min_tokens < 0 || r->granularity_tokens < 1 || r->ttl_s < 0 ||
	    !cJSON_IsString(bp))
		return -EINVAL;
	if (!strcmp(bp->valuestring, "auto"))
		r->breakpoints = CACHE_BP_AUTO;
	else if (!strcmp(bp->valuestring, "anthropic"))
		r->breakpoints = CACHE_BP_ANTHROPIC;
	else if (!strcmp(bp->valuestring, "explicit"))
		r->breakpoints = CACHE_BP_EXPLICIT;
	else
		return -EINVAL;
	cJSON_ArrayForEach(it, np) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(it, "where");

		if (!cJSON_IsString(k) || r->n_non_prompt >= CACHE_RULES_MAX_NON_PROMPT ||
		    strlen(k->valuestring) >= sizeof(r->non_prompt[0]))
			return -EINVAL;
		r->non_prompt_item[r->n_non_prompt] = cJSON_IsString(w) &&
			!strncmp(w->valuestring, "responses input", 15);
		r->non_prompt_len[r->n_non_prompt] = (uint8_t)strlen(k->valuestring);
		strcpy(r->non_prompt[r->n_non_prompt++], k->valuestring);
	}
	cJSON_ArrayForEach(it, npt) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "prefix");

		if (!cJSON_IsString(p) || r->n_non_prompt_text >= 4 ||
		    strlen(p->valuestring) >= sizeof(r->non_prompt_text[0]))
			return -EINVAL;
		strcpy(r->non_prompt_text[r->n_non_prompt_text++], p->valuestring);
	}
	return 0;
}

int cache_rules_load_json(const char *json, size_t len, struct cache_rules **out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *provs = cJSON_GetObjectItemCaseSensitive(root, "providers");
	const cJSON *p, *r;
	struct cache_rules *t = NULL;
	size_t n = 0;
	int err = -EINVAL;

	if (!cJSON_IsArray(provs)) {
		p_err("cache rules: not a JSON object with a \"providers\" array");
		goto out;
	}
	cJSON_ArrayForEach(p, provs)
		n += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "rules"));
	t = calloc(1, sizeof(*t));
	if (!t || !(t->rules = calloc(n ? n : 1, sizeof(*t->rules)))) {
		err = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(p, provs) {
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(p, "rules")) {
			if (load_rule(&t->rules[t->n], p, r) < 0) {
				p_err("cache rules: provider entry %zu: bad rule (needs provider, model, min_tokens, ttl_s, breakpoints auto|anthropic|explicit)",
				      t->n);
				goto out;
			}
			t->n++;
		}
	}
	*out = t;
	t = NULL;
	err = 0;
out:
	cache_rules_free(t);
	cJSON_Delete(root);
	return err;
}

int cache_rules_load_default(struct cache_rules **out)
{
	return cache_rules_load_json(llmobs_cache_rules_json,
				     strlen(llmobs_cache_rules_json), out);
}

int cache_rules_load_file(const char *path, struct cache_rules **out)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long len;
	int err;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || len > (16 << 20) ||
	    fseek(f, 0, SEEK_SET)) {
		err = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)len + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		err = -EIO;
		goto out;
	}
	buf[len] = '\0';
	err = cache_rules_load_json(buf, (size_t)len, out);
out:
	free(buf);
	fclose(f);
	return err;
}

void cache_rules_free(struct cache_rules *t)
{
	if (!t)
		return;
	free(t->rules);
	free(t);
}

const struct cache_rule *cache_rules_lookup(const struct cache_rules *t,
					    const char *provider, const char *vendor,
					    const char *model)
{
	const char *names[2] = { vendor, provider };

	if (!t || !model)
		return NULL;
	for (int k = 0; k < 2; k++) {
		const struct cache_rule *best = NULL;
		size_t best_len = 0;

		if (!names[k] || !names[k][0])
			continue;
		for (size_t i = 0; i < t->n; i++) {
			const struct cache_rule *r = &t->rules[i];
			size_t l = strlen(r->model_prefix);

			if (strcmp(r->provider, names[k]) || strncmp(model, r->model_prefix, l))
				continue;
			if (!best || l > best_len) {
				best = r;
				best_len = l;
			}
		}
		if (best)
			return best;
	}
	return NULL;
}

bool cache_rule_non_prompt(const struct cache_rule *rule, const char *key, size_t len,
			   bool item)
{
	if (!rule)
		return false;
	for (int i = 0; i < rule->n_non_prompt; i++)
		if ((item || !rule->non_prompt_item[i]) && rule->non_prompt_len[i] == len &&
		    !memcmp(rule->non_prompt[i], key, len))
			return true;
	return false;
}

int64_t cache_rule_round(const struct cache_rule *rule, int64_t tokens)
{
	int64_t g;

	if (!rule || tokens <= 0 || tokens < rule->min_tokens)
		return 0;
	g = rule->granularity_tokens > 0 ? rule->granularity_tokens : 1;
	if (g == 1)
		return tokens;
	return rule->min_tokens + (tokens - rule->min_tokens) / g * g;
}
