/* Request recognition from the body's JSON shape (see provider_sniff.h).
 * Weaker than the path (provider.c): used only when no path was seen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "provider_sniff.h"

/* Fields only Anthropic's Messages API takes at the top level. */
static bool anthropic_shaped(const cJSON *root, const char *model)
{
	static const char *const only[] = {
		"anthropic_version", "anthropic_beta", "stop_sequences", "thinking",
	};

	if (!strncmp(model, "claude", 6) || !strncmp(model, "anthropic.", 10))
		return true;
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(root, only[i]))
			return true;
	/* "system" as a list of blocks is Messages; Chat puts it in messages. */
	return cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "system"));
}

int provider_sniff_request(const char *body, size_t len, struct llm_request_info *out)
{
	cJSON *root, *m;
	const char *model = "";
	int err = 0;

	memset(out, 0, sizeof(*out));
	root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -ENOENT;
	}
	m = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (cJSON_IsString(m))
		model = m->valuestring;
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "contents"))) {
		out->api = LLM_API_GENERATE_CONTENT;
		snprintf(out->provider, sizeof(out->provider), "google");
	} else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "messages"))) {
		bool claude = anthropic_shaped(root, model);

		out->api = claude ? LLM_API_MESSAGES : LLM_API_CHAT_COMPLETIONS;
		snprintf(out->provider, sizeof(out->provider), "%s", claude ? "anthropic" : "openai");
	} else if (model[0] && cJSON_GetObjectItemCaseSensitive(root, "input")) {
		out->api = LLM_API_RESPONSES;
		snprintf(out->provider, sizeof(out->provider), "openai");
	} else {
		err = -ENOENT;
	}
	if (!err) {
		if (out->api != LLM_API_GENERATE_CONTENT)
			snprintf(out->model, sizeof(out->model), "%s", model);
		out->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
	} else {
		memset(out, 0, sizeof(*out));
	}
	cJSON_Delete(root);
	return err;
}
