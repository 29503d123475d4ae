/* Which tools a response asked the caller to run, by name only (the agent
 * timeline shows them): a parsed response body or stream event in, names
 * appended to llm_response_info.tool_calls out ("get_weather,search").
 * Arguments are never read: they hold the model's text.
 *
 *   chat.completions   choices[].message.tool_calls[].function.name; in a
 *                      stream choices[].delta.tool_calls[], where a call's
 *                      name comes once, in its first delta
 *   responses          output[] items of type function_call (the body, or
 *                      response.completed's response in a stream)
 *   messages           content[] blocks of type tool_use; in a stream each
 *                      content_block_start's content_block
 *   Gemini             candidates[].content.parts[].functionCall.name
 *   Ollama chat        message.tool_calls[].function.name
 *
 * The list is bounded by the field: a name that does not fit whole is
 * left out and counted in tool_call_count all the same. */
#include <string.h>
#include "provider.h"
#include "provider_json.h"

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_name(struct llm_response_info *out, const char *name)
{
	size_t have = strlen(out->tool_calls), n;

	if (!name || !name[0])
		return;
	out->tool_call_count++;
	n = strlen(name);
	for (size_t i = 0; i < n; i++)	/* names are identifiers: no list syntax */
		if (name[i] == ',' || (unsigned char)name[i] < 0x20)
			return;
	if (have + (have ? 1 : 0) + n >= sizeof(out->tool_calls))
		return;
	if (have)
		out->tool_calls[have++] = ',';
	memcpy(out->tool_calls + have, name, n + 1);
}

/* Each element of arr[]: its obj_key object's (or its own) name_key. */
static void names_in(struct llm_response_info *out, const cJSON *arr, const char *obj_key,
		     const char *name_key)
{
	const cJSON *it, *list = cJSON_IsArray(arr) ? arr : NULL;

	cJSON_ArrayForEach(it, list)
		add_name(out, str(obj_key ? provider_get_obj(it, obj_key) : it, name_key));
}

static void chat(const cJSON *root, const char *part, struct llm_response_info *out)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "choices")) {
		const cJSON *m = provider_get_obj(c, part);

		names_in(out, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), "function", "name");
	}
}

static void responses_output(const cJSON *resp, struct llm_response_info *out)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(resp, "output")) {
		const char *t = str(it, "type");

		if (t && (!strcmp(t, "function_call") || !strcmp(t, "custom_tool_call")))
			add_name(out, str(it, "name"));
	}
}

static void tool_use(const cJSON *block, struct llm_response_info *out)
{
	const char *t = str(block, "type");

	if (t && !strcmp(t, "tool_use"))
		add_name(out, str(block, "name"));
}

static void gemini(const cJSON *root, struct llm_response_info *out)
{
	const cJSON *c, *p;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "candidates"))
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(
					      provider_get_obj(c, "content"), "parts"))
			add_name(out, str(provider_get_obj(p, "functionCall"), "name"));
}

void provider_tool_names(enum llm_api api, const char *type, const cJSON *root,
			 struct llm_response_info *out)
{
	const cJSON *it;

	if (!cJSON_IsObject(root))
		return;
	switch (api) {
	case LLM_API_CHAT_COMPLETIONS:
		chat(root, type ? "delta" : "message", out);
		break;
	case LLM_API_RESPONSES:
		if (!type)
			responses_output(root, out);
		else if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete"))
			responses_output(provider_get_obj(root, "response"), out);
		break;
	case LLM_API_MESSAGES:
		if (!type)
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "content"))
				tool_use(it, out);
		else if (!strcmp(type, "content_block_start"))
			tool_use(provider_get_obj(root, "content_block"), out);
		break;
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
		gemini(root, out);
		break;
	case LLM_API_OLLAMA_CHAT:
		names_in(out, cJSON_GetObjectItemCaseSensitive(provider_get_obj(root, "message"),
							       "tool_calls"), "function", "name");
		break;
	default:
		break;
	}
}
