/* Reading model, usage and errors out of LLM API responses: whole bodies
 * and SSE events. Counts are normalized to the OpenTelemetry GenAI
 * convention of record.h (input includes cache reads and writes, output
 * includes reasoning); the per-provider mapping is the table of the shared
 * corpus README. Recognising the request is provider.c's part. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "estimate.h"
#include "provider.h"
#include "provider_json.h"

/* Gemini: toolUsePromptTokenCount stays out of input (corpus convention). */
static bool usage_gemini(const cJSON *u, struct llm_usage *n)
{
	int64_t cand = 0, thoughts = 0, total = 0;
	bool any = false;

	any |= provider_get_count(u, "promptTokenCount", &n->input_tokens);
	any |= provider_get_count(u, "candidatesTokenCount", &cand);
	any |= provider_get_count(u, "thoughtsTokenCount", &thoughts);
	any |= provider_get_count(u, "cachedContentTokenCount", &n->cached_input_tokens);
	any |= provider_get_count(u, "totalTokenCount", &total);
	n->output_tokens = cand + thoughts;
	n->reasoning_tokens = thoughts;
	return any;
}

/* Ollama: the final object ("done": true) counts the prompt and the
 * generated tokens; earlier stream objects carry none. */
static void ollama_object(const cJSON *root, struct llm_response_info *out)
{
	struct llm_usage n = { 0 };
	bool any = false;

	provider_take_model(out, root, "model");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "done")))
		return;
	out->stream_done = true;
	any |= provider_get_count(root, "prompt_eval_count", &n.input_tokens);
	any |= provider_get_count(root, "eval_count", &n.output_tokens);
	if (any) {
		out->usage = n;
		out->usage_present = true;
	}
}

/* OpenRouter states what it charged, in USD, beside the counts. */
static void take_provider_cost(const cJSON *u, struct llm_response_info *out)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "cost");

	if (cJSON_IsNumber(c) && isfinite(c->valuedouble) && c->valuedouble >= 0 &&
	    c->valuedouble < 1e9) {
		out->provider_cost_usd = c->valuedouble;
		out->provider_cost_known = true;
	}
}

/* Replaces out->usage when u carries counts; a usage without counts (a null,
 * Gemini's early stream chunks) leaves what was seen before. */
static void take_usage(bool (*fn)(const cJSON *, struct llm_usage *),
		       const cJSON *u, struct llm_response_info *out)
{
	struct llm_usage n = { 0 };

	if (u && fn(u, &n)) {
		out->usage = n;
		out->usage_present = true;
		take_provider_cost(u, out);
	}
}

/* One Gemini response object, a whole body or one stream chunk. */
static void gemini_object(const cJSON *root, struct llm_response_info *out)
{
	const cJSON *c, *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates");
	const cJSON *pf = provider_get_obj(root, "promptFeedback");

	provider_take_model(out, root, "modelVersion");
	take_usage(usage_gemini, provider_get_obj(root, "usageMetadata"), out);
	estimate_response_text(LLM_API_GENERATE_CONTENT, NULL, root, out);
	/* No terminal event in Gemini SSE: the last chunk has a finishReason,
	 * and a blocked prompt ends the stream at once. */
	cJSON_ArrayForEach(c, cands)
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "finishReason")))
			out->stream_done = true;
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pf, "blockReason"))) {
		out->stream_done = true;
		out->no_estimate = true;	/* a blocked prompt is not billed */
	}
}

int provider_parse_body(enum llm_api api, int status, const char *body,
			size_t len, struct llm_response_info *out)
{
	bool ok_status = status >= 200 && status < 300;
	struct llm_usage n = { 0 };
	const cJSON *it;
	cJSON *root;
	int err = 0;

	if (api == LLM_API_BATCH_RESULTS)
		return provider_batch_results(status, body, len, out);

	root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (!root) {
		/* A gateway's HTML 502 is still an error we can name; only a
		 * successful body we cannot read is a parse failure. */
		if (!ok_status) {
			provider_set_http_error(out, status);
			return 0;
		}
		return -EINVAL;
	}

	/* streamGenerateContent without alt=sse answers a JSON array of chunks. */
	if (cJSON_IsArray(root) && provider_is_gemini(api)) {
		cJSON_ArrayForEach(it, root) {
			if (!cJSON_IsObject(it))
				continue;
			if (provider_check_error_doc(api, it, out))
				break;
			gemini_object(it, out);
			provider_tool_names(api, NULL, it, out);
		}
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		err = -EINVAL;
		goto done;
	}
	if (provider_check_error_doc(api, root, out) && !ok_status)
		goto done;

	switch (api) {
	case LLM_API_CHAT_COMPLETIONS:
	case LLM_API_COMPLETIONS:
	case LLM_API_EMBEDDINGS:
		provider_take_model(out, root, "model");
		take_usage(provider_usage_chat, provider_get_obj(root, "usage"), out);
		estimate_response_text(api, NULL, root, out);
		break;
	case LLM_API_COUNT_TOKENS:
		/* Counted, not consumed: the number is no usage. */
		break;
	case LLM_API_RESPONSES:
		provider_take_model(out, root, "model");
		take_usage(provider_usage_responses, provider_get_obj(root, "usage"), out);
		estimate_response_text(api, NULL, root, out);
		/* Background mode: the usage comes with a later GET. */
		it = cJSON_GetObjectItemCaseSensitive(root, "status");
		if (cJSON_IsString(it) && (!strcmp(it->valuestring, "queued") ||
					   !strcmp(it->valuestring, "in_progress")))
			out->no_estimate = true;
		break;
	case LLM_API_MESSAGES:
		provider_take_model(out, root, "model");
		estimate_response_text(api, NULL, root, out);
		it = provider_get_obj(root, "usage");
		if (it && provider_usage_anthropic(it, &n)) {
			out->usage = n;
			out->usage_present = true;
		}
		break;
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
	case LLM_API_GEMINI_EMBED:	/* usually no usage: estimated later */
		gemini_object(root, out);
		break;
	case LLM_API_OLLAMA_CHAT:
	case LLM_API_OLLAMA_GENERATE:
		ollama_object(root, out);
		break;
	default:
		err = -EINVAL;
		break;
	}
	if (!err && ok_status)
		provider_tool_names(api, NULL, root, out);
done:
	if (!ok_status && !out->error[0])
		provider_set_http_error(out, status);
	cJSON_Delete(root);
	return err;
}

/* Events worth parsing, by SSE event name; a named event not listed (text
 * deltas, pings) is skipped without parsing, which is most of a stream. */
static bool event_wanted(enum llm_api api, const char *ev, size_t len)
{
	static const char *const responses[] = { "response.created",
		"response.in_progress", "response.completed",
		"response.incomplete", "response.failed", "error",
		/* the visible output, for an estimate if usage never comes */
		"response.output_text.delta", "response.refusal.delta",
		"response.function_call_arguments.delta", NULL };
	static const char *const messages[] = { "message_start",
		"message_delta", "message_stop", "error",
		"content_block_start", "content_block_delta", NULL };
	const char *const *list;

	if (!len)
		return true;
	if (api == LLM_API_RESPONSES)
		list = responses;
	else if (api == LLM_API_MESSAGES)
		list = messages;
	else
		return true;
	for (; *list; list++)
		if (strlen(*list) == len && memcmp(*list, ev, len) == 0)
			return true;
	return false;
}

static void stream_responses(const char *type, const cJSON *root,
			     struct llm_response_info *out)
{
	const cJSON *resp = provider_get_obj(root, "response");

	provider_take_model(out, resp, "model");
	if (strcmp(type, "response.completed") != 0 &&
	    strcmp(type, "response.incomplete") != 0 &&
	    strcmp(type, "response.failed") != 0)
		return;
	take_usage(provider_usage_responses, provider_get_obj(resp, "usage"), out);
	out->stream_done = true;
	if (strcmp(type, "response.failed") == 0 && !out->error[0]) {
		const cJSON *e = provider_get_obj(resp, "error");

		if (!e || !provider_error_from_object(LLM_API_RESPONSES, e, out))
			provider_set_error(out, "response_failed");
	}
}

static void stream_messages(const char *type, const cJSON *root,
			    struct llm_response_info *out)
{
	const cJSON *u = NULL;

	if (strcmp(type, "message_start") == 0) {
		const cJSON *msg = provider_get_obj(root, "message");

		provider_take_model(out, msg, "model");
		u = provider_get_obj(msg, "usage");
	} else if (strcmp(type, "message_delta") == 0) {
		u = provider_get_obj(root, "usage");
	} else if (strcmp(type, "message_stop") == 0) {
		out->stream_done = true;
	}
	if (u && provider_usage_anthropic(u, &out->usage)) {
		out->usage_present = true;
		/* message_start's output count is a placeholder until a
		 * message_delta brings the real one. */
		out->usage_partial = strcmp(type, "message_start") == 0;
	}
}

int provider_stream_event(enum llm_api api, const char *event, size_t event_len,
			  const char *data, size_t data_len,
			  struct llm_response_info *out)
{
	const cJSON *t;
	char type[64];
	cJSON *root;

	if (!event)
		event_len = 0;
	if (!event_wanted(api, event, event_len))
		return 0;
	if (!data)
		data_len = 0;
	while (data_len && (data[data_len - 1] == ' ' || data[data_len - 1] == '\n' ||
			    data[data_len - 1] == '\r'))
		data_len--;
	if (!data_len)
		return 0;
	if (data_len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		out->stream_done = true;
		return 0;
	}

	root = cJSON_ParseWithLength(data, data_len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	/* The JSON "type" names the event when the server omits "event:"
	 * lines (OpenRouter); else the SSE event name does. */
	t = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (cJSON_IsString(t))
		snprintf(type, sizeof(type), "%s", t->valuestring);
	else
		provider_copy_n(type, sizeof(type), event ? event : "", event_len);

	if (strcmp(type, "error") == 0 || (api != LLM_API_RESPONSES &&
					   provider_get_obj(root, "error"))) {
		if (!provider_check_error_doc(api, root, out))
			provider_set_error(out, "error");
		out->stream_done = true;	/* nothing follows an error event */
		goto out;
	}
	switch (api) {
	case LLM_API_CHAT_COMPLETIONS:
	case LLM_API_COMPLETIONS:
		provider_take_model(out, root, "model");
		take_usage(provider_usage_chat, provider_get_obj(root, "usage"), out);
		/* Groq streams put the final usage under x_groq. */
		take_usage(provider_usage_chat, provider_get_obj(provider_get_obj(root, "x_groq"), "usage"), out);
		estimate_response_text(api, type, root, out);
		break;
	case LLM_API_RESPONSES:
		stream_responses(type, root, out);
		estimate_response_text(api, type, root, out);
		break;
	case LLM_API_MESSAGES:
		stream_messages(type, root, out);
		estimate_response_text(api, type, root, out);
		break;
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
		gemini_object(root, out);
		break;
	case LLM_API_OLLAMA_CHAT:
	case LLM_API_OLLAMA_GENERATE:
		ollama_object(root, out);	/* one NDJSON line */
		break;
	default:
		break;
	}
	provider_tool_names(api, type, root, out);
out:
	cJSON_Delete(root);
	return 0;
}
