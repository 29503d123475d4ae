/* Readers of pieces of response JSON shared by provider_usage.c (bodies and
 * stream events) and provider_batch.c (batch result lines): counts, model,
 * error documents and the usage objects of each API, normalized to the
 * convention of record.h (input includes cache reads and writes, output
 * includes reasoning). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "provider_json.h"

/* A token count: a non-negative finite number small enough to be exact. */
bool provider_get_count(const cJSON *obj, const char *key, int64_t *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
	    it->valuedouble < 0 || it->valuedouble > 9007199254740992.0)
		return false;
	*v = (int64_t)it->valuedouble;
	return true;
}

const cJSON *provider_get_obj(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsObject(it) ? it : NULL;
}

void provider_take_model(struct llm_response_info *out, const cJSON *obj,
		       const char *key)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(m) && m->valuestring[0])
		snprintf(out->model, sizeof(out->model), "%s", m->valuestring);
}

/* Error names end up in the store and in logs: keep them to a safe charset. */
void provider_set_error(struct llm_response_info *out, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < sizeof(out->error) - 1; i++) {
		char c = s[i];

		out->error[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '_' || c == '-' ||
				c == '.' || c == ':' ? c : '_';
	}
	out->error[i] = '\0';
}

void provider_set_http_error(struct llm_response_info *out, int status)
{
	snprintf(out->error, sizeof(out->error), "http_%d", status);
}

static bool try_error_field(struct llm_response_info *out, const cJSON *obj,
			    const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(it) || !it->valuestring[0])
		return false;
	provider_set_error(out, it->valuestring);
	return true;
}

/* The provider's own name for an error object. OpenAI's "code" is the
 * specific one ("rate_limit_exceeded", "context_length_exceeded") while its
 * "type" is coarse and sometimes just "requests"; Anthropic's is "type";
 * Google's is "status" ("RESOURCE_EXHAUSTED"), its "code" being the HTTP
 * status again. */
bool provider_error_from_object(enum llm_api api, const cJSON *err,
				struct llm_response_info *out)
{
	static const char *const openai_keys[] = { "code", "type", "status" };
	static const char *const anthropic_keys[] = { "type", "code", "status" };
	static const char *const google_keys[] = { "status", "type", "code" };
	const char *const *keys = openai_keys;
	int i;

	if (api == LLM_API_MESSAGES)
		keys = anthropic_keys;
	else if (provider_is_gemini(api))
		keys = google_keys;
	for (i = 0; i < 3; i++)
		if (try_error_field(out, err, keys[i]))
			return true;
	return false;
}

/* Sets out->error when root is an error document. Returns whether it was. */
bool provider_check_error_doc(enum llm_api api, const cJSON *root,
			    struct llm_response_info *out)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");

	if (cJSON_IsObject(err)) {
		if (!provider_error_from_object(api, err, out))
			provider_set_error(out, "error");
		return true;
	}
	if (cJSON_IsString(err) && err->valuestring[0]) {
		provider_set_error(out, "error");
		return true;
	}
	/* Anthropic {"type":"error"} and Responses' stream "error" event carry
	 * the name at top level when there is no nested object. */
	if (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) {
		if (!try_error_field(out, root, "code"))
			provider_set_error(out, "error");
		return true;
	}
	return false;
}

/* OpenAI chat, legacy completions and embeddings usage, and the
 * compatible vendors' variants: DeepSeek's prompt_cache_hit/miss_tokens
 * (hit + miss = prompt), xAI's prompt_tokens_details.text_tokens (which
 * already include the cached ones, so never added to them), Perplexity's
 * top-level reasoning_tokens. */
bool provider_usage_chat(const cJSON *u, struct llm_usage *n)
{
	const cJSON *pd = provider_get_obj(u, "prompt_tokens_details");
	const cJSON *cd = provider_get_obj(u, "completion_tokens_details");
	int64_t total, hit = 0, miss = 0;
	bool any = false;

	any |= provider_get_count(u, "prompt_tokens", &n->input_tokens);
	any |= provider_get_count(u, "completion_tokens", &n->output_tokens);
	if (provider_get_count(u, "prompt_cache_hit_tokens", &hit) |
	    provider_get_count(u, "prompt_cache_miss_tokens", &miss)) {
		if (!provider_get_count(u, "prompt_tokens", &total)) {
			n->input_tokens = hit + miss;
			any = true;
		}
		n->cached_input_tokens = hit;
	}
	provider_get_count(pd, "cached_tokens", &n->cached_input_tokens);
	/* GPT-5.6+: cache writes, billed above input */
	provider_get_count(pd, "cache_write_tokens", &n->cache_write_tokens);
	if (!provider_get_count(cd, "reasoning_tokens", &n->reasoning_tokens))
		provider_get_count(u, "reasoning_tokens", &n->reasoning_tokens);
	/* xAI leaves reasoning out of completion_tokens; its total_tokens then
	 * adds up only with reasoning counted on top. */
	if (n->reasoning_tokens > 0 && provider_get_count(u, "total_tokens", &total) &&
	    total != n->input_tokens + n->output_tokens &&
	    total == n->input_tokens + n->output_tokens + n->reasoning_tokens)
		n->output_tokens += n->reasoning_tokens;
	return any;
}

bool provider_usage_responses(const cJSON *u, struct llm_usage *n)
{
	const cJSON *id = provider_get_obj(u, "input_tokens_details");
	const cJSON *od = provider_get_obj(u, "output_tokens_details");
	bool any = false;

	any |= provider_get_count(u, "input_tokens", &n->input_tokens);
	any |= provider_get_count(u, "output_tokens", &n->output_tokens);
	provider_get_count(id, "cached_tokens", &n->cached_input_tokens);
	provider_get_count(id, "cache_write_tokens", &n->cache_write_tokens);
	provider_get_count(od, "reasoning_tokens", &n->reasoning_tokens);
	return any;
}

/* Anthropic reports input without the cache; normalized input adds both
 * cache counts back. Streams repeat fields in message_delta, cumulatively:
 * each raw field takes its last value, so split n back into raw fields,
 * overwrite those present, and re-add. */
bool provider_usage_anthropic(const cJSON *u, struct llm_usage *n)
{
	const cJSON *cc = provider_get_obj(u, "cache_creation");
	const cJSON *od = provider_get_obj(u, "output_tokens_details");
	int64_t cr = n->cached_input_tokens, cw = n->cache_write_tokens;
	int64_t in = n->input_tokens - cr - cw;
	bool any = false;

	if (in < 0)
		in = 0;
	any |= provider_get_count(u, "input_tokens", &in);
	any |= provider_get_count(u, "cache_creation_input_tokens", &cw);
	any |= provider_get_count(u, "cache_read_input_tokens", &cr);
	any |= provider_get_count(u, "output_tokens", &n->output_tokens);
	provider_get_count(cc, "ephemeral_1h_input_tokens", &n->cache_write_1h_tokens);
	provider_get_count(od, "thinking_tokens", &n->reasoning_tokens);
	n->cached_input_tokens = cr;
	n->cache_write_tokens = cw;
	n->input_tokens = in + cw + cr;
	return any;
}
