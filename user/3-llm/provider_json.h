/* Internal to the provider module: helpers shared by provider.c,
 * provider_usage.c and provider_batch.c, and readers of pieces of response
 * JSON in the usage convention of record.h (provider_json.c, below both
 * provider_usage.c and provider_batch.c). */
#ifndef LLMOBS_PROVIDER_JSON_H
#define LLMOBS_PROVIDER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "provider.h"

/* A Gemini API (generateContent, streamGenerateContent, embedContent). */
bool provider_is_gemini(enum llm_api api);
/* Copies at most n bytes of s into a dst of size sz, always terminated. */
void provider_copy_n(char *dst, size_t sz, const char *s, size_t n);
/* obj[key] into *v when it is a count: a non-negative finite number small
 * enough to be exact. */
bool provider_get_count(const cJSON *obj, const char *key, int64_t *v);
/* out->error = s, bounded, as the export contract's error field. */
void provider_set_error(struct llm_response_info *out, const char *s);
/* An error object of api's shape into out->error; false when it names none. */
bool provider_error_from_object(enum llm_api api, const cJSON *err,
				struct llm_response_info *out);
/* obj[key] when it is an object, else NULL. */
const cJSON *provider_get_obj(const cJSON *obj, const char *key);
/* out->model = obj[key] when it is a non-empty string. */
void provider_take_model(struct llm_response_info *out, const cJSON *obj, const char *key);
void provider_set_http_error(struct llm_response_info *out, int status);
/* The names of the tools a parsed response (type NULL) or stream event
 * (type: its event type) asks to run, into out (provider_tools.c). */
void provider_tool_names(enum llm_api api, const char *type, const cJSON *root,
			 struct llm_response_info *out);
/* Sets out->error when root is an error document; returns whether it was. */
bool provider_check_error_doc(enum llm_api api, const cJSON *root,
			      struct llm_response_info *out);
/* A usage object into *n, normalized; false when it holds no count.
 * Anthropic's updates *n field by field (stream deltas are cumulative). */
bool provider_usage_chat(const cJSON *u, struct llm_usage *n);
bool provider_usage_responses(const cJSON *u, struct llm_usage *n);
bool provider_usage_anthropic(const cJSON *u, struct llm_usage *n);

/* provider_parse_body() for LLM_API_BATCH_RESULTS (provider_batch.c). */
int provider_batch_results(int status, const char *body, size_t len,
			   struct llm_response_info *out);

#endif
