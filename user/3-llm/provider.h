/* Recognising LLM API exchanges and extracting model and usage from them.
 * Recognition is by path and JSON shape, whatever the host, so gateways and
 * test servers work; the host only names the provider when it is known. */
#ifndef LLMOBS_PROVIDER_H
#define LLMOBS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include "bpe.h"
#include "record.h"

enum llm_api {
	LLM_API_NONE = 0,		/* not an LLM API call */
	LLM_API_CHAT_COMPLETIONS,	/* OpenAI /v1/chat/completions */
	LLM_API_RESPONSES,		/* OpenAI /v1/responses */
	LLM_API_MESSAGES,		/* Anthropic /v1/messages */
	LLM_API_GENERATE_CONTENT,	/* Gemini :generateContent */
	LLM_API_STREAM_GENERATE_CONTENT,/* Gemini :streamGenerateContent */
	LLM_API_EMBEDDINGS,		/* OpenAI-shaped /v1/embeddings */
	LLM_API_GEMINI_EMBED,		/* Gemini :embedContent, :batchEmbedContents */
	LLM_API_COMPLETIONS,		/* legacy /v1/completions */
	LLM_API_COUNT_TOKENS,		/* token counting: never billed */
	LLM_API_OLLAMA_CHAT,		/* Ollama native /api/chat (NDJSON stream) */
	LLM_API_OLLAMA_GENERATE,	/* Ollama native /api/generate */
	LLM_API_BATCH_RESULTS,		/* GET of batch results (JSONL): Anthropic
					 * /v1/messages/batches/<id>/results, an
					 * OpenAI batch's output /v1/files/<id>/content */
	LLM_API__MAX,
};

/* "chat.completions", "responses", "messages", ... (export contract). */
const char *llm_api_name(enum llm_api api);

/* Whether calls of api are billed at all (token counting is free). */
bool llm_api_billed(enum llm_api api);
bool llm_api_name_billed(const char *name);

/* Who serves a known API host: "openai", "anthropic", "google", "azure",
 * "openrouter", "groq", "deepseek", "xai", ...; NULL for any other host
 * (gateways, test servers). Prices of OpenAI-compatible vendors are keyed
 * "<vendor>/<model>", since one open model costs differently at each. */
const char *provider_vendor(const char *host, size_t host_len);

struct llm_request_info {
	enum llm_api api;
	char provider[32];	/* "openai", "anthropic", "google", ... */
	char model[128];	/* request's model ("" if none) */
	bool stream;		/* request asked for a streamed response */
	char deployment[128];	/* Azure /openai/deployments/<d>/: not a model */
	int64_t est_input_tokens; /* estimate.c's count, -1 when none */
};

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

/* What the response says; filled by the functions below. Zero-fill first. */
struct llm_response_info {
	char model[128];	/* last non-empty model seen */
	struct llm_usage usage;
	bool usage_present;	/* the provider reported usage */
	bool stream_done;	/* a stream's terminal event was seen */
	char error[48];		/* provider error type/code, "" if none */
	char ratelimit[512];	/* rate-limit headers, a JSON object ("" none) */
	double provider_cost_usd; /* the provider's own statement of cost */
	bool provider_cost_known;
	/* The visible output text, counted as it comes (estimate.c), for a
	 * response that turns out to carry no usage. */
	struct bpe_stream est_output;
	bool est_started, est_exact, est_failed;
	uint8_t est_enc;	/* enum bpe_encoding */
	bool no_estimate;	/* nothing billed yet: a background response */
	bool usage_partial;	/* only Anthropic's message_start usage came:
				 * its output count is a placeholder */
	bool not_llm;		/* a file download that held no batch results */
	int batch_results;	/* results (JSONL lines) with usage, summed */
	bool usage_estimated;	/* set by estimate_usage() */
};

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
