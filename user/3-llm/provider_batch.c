/* Batch results: the usage of calls made through a batch API, visible
 * only when the results are fetched (JSONL, one result per line): Anthropic
 * Message Batches' results and an OpenAI batch's output file. */
#include <string.h>
#include <cjson/cJSON.h>
#include "provider.h"
#include "provider_json.h"

static void usage_add(struct llm_usage *sum, const struct llm_usage *u)
{
	sum->input_tokens += u->input_tokens;
	sum->cached_input_tokens += u->cached_input_tokens;
	sum->cache_write_tokens += u->cache_write_tokens;
	sum->cache_write_1h_tokens += u->cache_write_1h_tokens;
	sum->output_tokens += u->output_tokens;
	sum->reasoning_tokens += u->reasoning_tokens;
}

/* One line of batch results: Anthropic {"result": {"type": "succeeded",
 * "message": {...}}}, OpenAI {"response": {"status_code": 200, "body":
 * {...}}} whose body is a chat completion, a Responses object or an
 * embeddings list. Adds its usage; returns whether it was such a line. */
static bool batch_line(const cJSON *line, struct llm_response_info *out)
{
	const cJSON *res = provider_get_obj(line, "result"), *resp = provider_get_obj(line, "response");
	const cJSON *msg, *body, *u, *t;
	struct llm_usage n = { 0 };
	bool any = false;

	if (res) {
		t = cJSON_GetObjectItemCaseSensitive(res, "type");
		msg = provider_get_obj(res, "message");
		if (!cJSON_IsString(t) || strcmp(t->valuestring, "succeeded") || !msg)
			return cJSON_IsString(t);	/* errored, canceled, expired: free */
		if (!out->model[0])
			provider_take_model(out, msg, "model");
		any = (u = provider_get_obj(msg, "usage")) && provider_usage_anthropic(u, &n);
	} else if (resp && (body = provider_get_obj(resp, "body"))) {
		u = provider_get_obj(body, "usage");
		if (!out->model[0])
			provider_take_model(out, body, "model");
		if (u && cJSON_GetObjectItemCaseSensitive(u, "input_tokens"))
			any = provider_usage_responses(u, &n);
		else if (u)
			any = provider_usage_chat(u, &n);
	} else {
		return false;
	}
	if (any) {
		usage_add(&out->usage, &n);
		out->usage_present = true;
		out->batch_results++;
	}
	return true;
}

/* JSONL, one result per line; a body cut at the cap loses only its last
 * line. A download with no result line was not batch output at all. */
int provider_batch_results(int status, const char *body, size_t len,
			 struct llm_response_info *out)
{
	const char *p = body, *end = body + len, *nl;
	bool seen = false;

	if (status < 200 || status > 299) {
		cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;

		if (!root || !provider_check_error_doc(LLM_API_BATCH_RESULTS, root, out))
			provider_set_http_error(out, status);
		cJSON_Delete(root);
		return 0;
	}
	while (body && p < end) {
		cJSON *line;

		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		line = nl > p ? cJSON_ParseWithLength(p, nl - p) : NULL;
		if (cJSON_IsObject(line))
			seen |= batch_line(line, out);
		cJSON_Delete(line);
		p = nl + 1;
	}
	if (!seen)
		out->not_llm = true;
	return 0;
}
