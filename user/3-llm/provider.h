/* Recognising LLM API exchanges and extracting model and usage from them.
 * Recognition is by path and JSON shape, whatever the host, so gateways and
 * test servers work; the host only names the provider when it is known. */
#ifndef LLMOBS_PROVIDER_H
#define LLMOBS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include "llm_api.h"

/* Who serves a known API host: "openai", "anthropic", "google", "azure",
 * "openrouter", "groq", "deepseek", "xai", ...; NULL for any other host
 * (gateways, test servers). Prices of OpenAI-compatible vendors are keyed
 * "<vendor>/<model>", since one open model costs differently at each. */
const char *provider_vendor(const char *host, size_t host_len);


/* Classify a request from its line, Host and (possibly capped) body.
 * Returns 0 and fills *out for an LLM call, -ENOENT for anything else. */
int provider_classify_request(const char *method, size_t method_len,
			      const char *path, size_t path_len,
			      const char *host, size_t host_len,
			      const char *body, size_t body_len,
			      struct llm_request_info *out);
/* The same without counting the prompt's tokens (est_input_tokens = -1),
 * which is most of the work: a BPE pass over the whole prompt, needed
 * only when the response brings no usage. A caller that keeps the body
 * counts then, with provider_count_request(). */
int provider_classify_request_uncounted(const char *method, size_t method_len,
					const char *path, size_t path_len,
					const char *host, size_t host_len,
					const char *body, size_t body_len,
					struct llm_request_info *out);
/* Sets req->est_input_tokens from the request body req was classified from. */
void provider_count_request(struct llm_request_info *req, const char *body, size_t body_len);


/* Whether request header name: value opts the call into a long-context
 * price tier (Anthropic's "anthropic-beta: context-1m-2025-08-07"). */
bool provider_long_context_opt_in(const char *name, size_t name_len,
				  const char *value, size_t value_len);

/* One response header. Keeps the rate-limit ones (x-ratelimit-*,
 * anthropic-ratelimit-*, retry-after, retry-after-ms) in out->ratelimit as
 * a compact JSON object, bounded; any other header, credentials included,
 * is never copied. */
void provider_response_header(struct llm_response_info *out,
			      const char *name, size_t name_len,
			      const char *value, size_t value_len);

/* A whole (decoded) non-streamed body. status is the HTTP status.
 * Returns 0, or -EINVAL when the body is not the JSON expected (counted by
 * the caller; *out keeps what could be read). */
int provider_parse_body(enum llm_api api, int status, const char *body,
			size_t len, struct llm_response_info *out);

/* One SSE event of a streamed response; accumulates into *out (Anthropic
 * message_delta usage is cumulative: last value per field wins, never a
 * sum). Returns 0 or -EINVAL for an unparseable event. */
int provider_stream_event(enum llm_api api, const char *event, size_t event_len,
			  const char *data, size_t data_len,
			  struct llm_response_info *out);

#endif
